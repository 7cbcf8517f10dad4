/* Container verbs: run/create (flags → the create body docker sends), the
 * attach/wait/start dance of an attached run, the lifecycle verbs that loop
 * over names, ps, logs, inspect, top, wait, exec. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/lib/json.h"

#define PATH_FMT(buf, ...) snprintf(buf, sizeof(buf), __VA_ARGS__)

/* ---- create body ------------------------------------------------------ */

static void add_env(json_t *env, const char *e)
{
	if (!strchr(e, '=')) {
		const char *v = getenv(e);
		if (v) {
			_cleanup_free_ char *kv = NULL;
			if (asprintf(&kv, "%s=%s", e, v) > 0)
				json_array_append_new(env, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(e));
}

static int read_env_file(struct cli *cli, const char *path, json_t *env)
{
	_cleanup_free_ char *data = NULL;
	int r = skiff_read_file(path, &data, NULL);
	if (r < 0)
		return skiff_error_sys(&cli->err, 400, -r, "open %s", path);
	char *save = NULL;
	for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (isspace((unsigned char)*l))
			l++;
		size_t n = strlen(l);
		while (n && isspace((unsigned char)l[n - 1]))
			l[--n] = 0;
		if (!*l || *l == '#')
			continue;
		add_env(env, l);
	}
	return 0;
}

static int parse_ulimit(struct cli *cli, const char *s, json_t *arr)
{
	const char *eq = strchr(s, '=');
	if (!eq)
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid ulimit argument: %s", s);
	char *end;
	long long soft = strtoll(eq + 1, &end, 10), hard = soft;
	if (*end == ':')
		hard = strtoll(end + 1, &end, 10);
	if (*end)
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid ulimit argument: %s", s);
	json_array_append_new(arr, json_pack("{s:s%, s:I, s:I}", "Name", s, (size_t)(eq - s), "Soft", soft, "Hard", hard));
	return 0;
}

static int parse_restart(struct cli *cli, const char *s, json_t *hc)
{
	const char *colon = strchr(s, ':');
	size_t nl = colon ? (size_t)(colon - s) : strlen(s);
	static const char *const names[] = { "no", "always", "unless-stopped", "on-failure" };
	bool ok = false;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == nl && !strncmp(names[i], s, nl))
			ok = true;
	if (!ok || (colon && strncmp(s, "on-failure", nl)))
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid restart policy format: %s", s);
	long long max = colon ? strtoll(colon + 1, NULL, 10) : 0;
	json_object_set_new(hc, "RestartPolicy", json_pack("{s:s%, s:I}", "Name", s, nl, "MaximumRetryCount", max));
	return 0;
}

/* "80" or "8080-8081" → first, last */
static int port_range(const char *s, unsigned *first, unsigned *last)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10), b = a;
	if (end == s)
		return -EINVAL;
	if (*end == '-') {
		const char *t = end + 1;
		b = strtoul(t, &end, 10);
		if (end == t)
			return -EINVAL;
	}
	if (*end || a == 0 || a > 65535 || b < a || b > 65535)
		return -EINVAL;
	*first = a, *last = b;
	return 0;
}

/* --expose 80, 7000-7001/udp → ExposedPorts keys */
static int parse_expose(struct cli *cli, const char *s, json_t *exposed)
{
	_cleanup_free_ char *copy = strdup(s);
	char *proto = strrchr(copy, '/');
	if (proto)
		*proto++ = 0;
	unsigned a, b;
	if (port_range(copy, &a, &b) < 0)
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid range format for --expose: %s", s);
	for (unsigned p = a; p <= b; p++) {
		char key[64];
		snprintf(key, sizeof(key), "%u/%s", p, proto && *proto ? proto : "tcp");
		json_object_set_new(exposed, key, json_object());
	}
	return 0;
}

/* -p [ip:][hostPort[-end]:]containerPort[-end][/proto], docker's
 * nat.ParsePortSpec: equal ranges map one to one, one container port takes
 * a host range as is ("8000-8010"), [v6] addresses in brackets. */
static int parse_publish(struct cli *cli, const char *s, json_t *exposed, json_t *bindings)
{
	_cleanup_free_ char *copy = strdup(s);
	char *proto = NULL, *slash = strrchr(copy, '/');
	if (slash && !strchr(slash, ']') && !strchr(slash, ':'))
		*slash = 0, proto = slash + 1;
	/* the last ':' ends hostPort, the one before it ends the address */
	char *ip = "", *hport = "", *cport = copy, *rest = copy;
	if (copy[0] == '[') {
		char *close = strchr(copy, ']');
		if (!close || close[1] != ':')
			return skiff_error_set(&cli->err, 400, EINVAL, "invalid publish spec: %s", s);
		*close = 0;
		ip = copy + 1;
		rest = close + 2;
	}
	char *last = strrchr(rest, ':');
	if (last) {
		*last = 0;
		cport = last + 1;
		char *prev = copy[0] == '[' ? NULL : strrchr(rest, ':');
		if (prev) {
			*prev = 0;
			ip = rest, hport = prev + 1;
		} else {
			hport = rest;
		}
	} else if (copy[0] == '[') {
		cport = rest;
	}
	unsigned ca, cb, ha = 0, hb = 0;
	if (port_range(cport, &ca, &cb) < 0)
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid containerPort: %s", cport);
	if (*hport && port_range(hport, &ha, &hb) < 0)
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid hostPort: %s", hport);
	if (*hport && cb - ca != 0 && cb - ca != hb - ha)
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid ranges specified for container and host Ports: %s and %s",
				       cport, hport);
	const char *pr = proto && *proto ? proto : "tcp";
	if (strcmp(pr, "tcp") && strcmp(pr, "udp") && strcmp(pr, "sctp"))
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid proto: %s", pr);
	for (unsigned p = ca; p <= cb; p++) {
		char key[64], host[32] = "";
		snprintf(key, sizeof(key), "%u/%s", p, pr);
		if (*hport && cb == ca)
			snprintf(host, sizeof(host), "%s", hport);
		else if (*hport)
			snprintf(host, sizeof(host), "%u", ha + (p - ca));
		json_object_set_new(exposed, key, json_object());
		json_t *arr = json_object_get(bindings, key);
		if (!arr) {
			arr = json_array();
			json_object_set_new(bindings, key, arr);
		}
		json_array_append_new(arr, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", host));
	}
	return 0;
}

static int security_opt(struct cli *cli, const char *s, json_t *arr)
{
	if (!strncmp(s, "seccomp=", 8) && strcmp(s + 8, "unconfined")) {
		/* docker reads the profile and sends its (compacted) contents */
		_cleanup_json_ json_t *prof = NULL;
		json_error_t je;
		prof = json_load_file(s + 8, 0, &je);
		if (!prof)
			return skiff_error_set(&cli->err, 400, EINVAL, "opening seccomp profile (%s) failed: %s", s + 8,
					       je.text);
		_cleanup_free_ char *txt = json_dumps(prof, JSON_COMPACT);
		_cleanup_free_ char *opt = NULL;
		if (asprintf(&opt, "seccomp=%s", txt) < 0)
			return -ENOMEM;
		json_array_append_new(arr, json_string(opt));
		return 0;
	}
	if (!strncmp(s, "seccomp:", 8) || !strncmp(s, "apparmor:", 9) || !strncmp(s, "label:", 6)) {
		/* old colon spelling */
		_cleanup_free_ char *c = strdup(s);
		c[strcspn(c, ":")] = '=';
		return security_opt(cli, c, arr);
	}
	json_array_append_new(arr, json_string(s));
	return 0;
}

static json_t *strv_json(const char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* docker normalises capability names to CAP_X (upper case), except ALL */
static json_t *caps_json(const char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *c = NULL;
		bool all = !strcasecmp(v[i], "ALL"), pre = !strncasecmp(v[i], "CAP_", 4);
		if (asprintf(&c, "%s%s", all || pre ? "" : "CAP_", v[i]) < 0)
			continue;
		for (char *p = c; *p; p++)
			*p = toupper((unsigned char)*p);
		json_array_append_new(a, json_string(c));
	}
	return a;
}

/* Build the POST /containers/create body from run/create flags. */
static json_t *build_create(struct cli *cli, struct cli_opts *o, bool run)
{
	_cleanup_json_ json_t *c = json_object();
	json_t *hc = json_object();
	json_object_set_new(c, "HostConfig", hc);
	size_t n;
	const char **v;
	bool tty = opt_bool(o, "tty"), in = opt_bool(o, "interactive");
	bool detach = run && opt_bool(o, "detach");

	json_object_set_new(c, "Hostname", json_string(opt_str(o, "hostname", "")));
	json_object_set_new(c, "User", json_string(opt_str(o, "user", "")));
	bool a_in = in, a_out = true, a_err = true;
	v = opt_list(o, "attach", &n);
	if (n) {
		a_in = a_out = a_err = false;
		for (size_t i = 0; i < n; i++) {
			if (!strcasecmp(v[i], "stdin"))
				a_in = true;
			else if (!strcasecmp(v[i], "stdout"))
				a_out = true;
			else if (!strcasecmp(v[i], "stderr"))
				a_err = true;
			else
				return skiff_error_set(&cli->err, 400, EINVAL,
						       "invalid argument \"%s\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR",
						       v[i]),
				       NULL;
		}
	}
	if (detach || !run)
		a_in = a_out = a_err = false;
	if (!run) /* docker create attaches stdout/stderr in the config and stdin with -i */
		a_in = in, a_out = a_err = true;
	json_object_set_new(c, "AttachStdin", json_boolean(a_in));
	json_object_set_new(c, "AttachStdout", json_boolean(a_out));
	json_object_set_new(c, "AttachStderr", json_boolean(a_err));
	json_object_set_new(c, "Tty", json_boolean(tty));
	json_object_set_new(c, "OpenStdin", json_boolean(in));
	json_object_set_new(c, "StdinOnce", json_boolean(in && a_in));

	json_t *env = json_array();
	json_object_set_new(c, "Env", env);
	v = opt_list(o, "env-file", &n);
	for (size_t i = 0; i < n; i++)
		if (read_env_file(cli, v[i], env) < 0)
			return NULL;
	v = opt_list(o, "env", &n);
	for (size_t i = 0; i < n; i++)
		add_env(env, v[i]);

	json_object_set_new(c, "Image", json_string(o->argv[0]));
	if (o->argc > 1)
		json_object_set_new(c, "Cmd", strv_json((const char **)o->argv + 1, o->argc - 1));
	json_object_set_new(c, "WorkingDir", json_string(opt_str(o, "workdir", "")));
	if (opt_set(o, "entrypoint")) {
		json_t *ep = json_array();
		json_array_append_new(ep, json_string(opt_str(o, "entrypoint", "")));
		json_object_set_new(c, "Entrypoint", ep);
	}
	json_t *labels = json_object();
	json_object_set_new(c, "Labels", labels);
	v = opt_list(o, "label", &n);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(v[i], '=');
		_cleanup_free_ char *k = eq ? strndup(v[i], eq - v[i]) : strdup(v[i]);
		json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
	}
	if (opt_set(o, "stop-signal"))
		json_object_set_new(c, "StopSignal", json_string(opt_str(o, "stop-signal", "")));
	if (opt_set(o, "stop-timeout"))
		json_object_set_new(c, "StopTimeout", json_integer(atoi(opt_str(o, "stop-timeout", "0"))));

	/* HostConfig */
	v = opt_list(o, "volume", &n);
	json_object_set_new(hc, "Binds", n ? strv_json(v, n) : json_null());
	const char *net = opt_str(o, "network", "default");
	json_object_set_new(hc, "NetworkMode", json_string(net));
	json_t *exposed = json_object(), *bindings = json_object();
	v = opt_list(o, "publish", &n);
	for (size_t i = 0; i < n; i++)
		if (parse_publish(cli, v[i], exposed, bindings) < 0) {
			json_decref(exposed);
			json_decref(bindings);
			return NULL;
		}
	v = opt_list(o, "expose", &n);
	for (size_t i = 0; i < n; i++)
		if (parse_expose(cli, v[i], exposed) < 0) {
			json_decref(exposed);
			json_decref(bindings);
			return NULL;
		}
	if (opt_bool(o, "publish-all"))
		json_object_set_new(hc, "PublishAllPorts", json_true());
	if (json_object_size(exposed))
		json_object_set_new(c, "ExposedPorts", exposed);
	else
		json_decref(exposed);
	json_object_set_new(hc, "PortBindings", bindings);
	if (opt_set(o, "restart")) {
		if (parse_restart(cli, opt_str(o, "restart", "no"), hc) < 0)
			return NULL;
	} else {
		json_object_set_new(hc, "RestartPolicy", json_pack("{s:s, s:i}", "Name", "no", "MaximumRetryCount", 0));
	}
	bool rm = opt_bool(o, "rm");
	const char *rp = skiff_json_str(json_object_get(hc, "RestartPolicy"), "Name", "no");
	if (rm && strcmp(rp, "no") && *rp)
		return skiff_error_set(&cli->err, 400, EINVAL, "conflicting options: cannot specify both --restart and --rm"), NULL;
	json_object_set_new(hc, "AutoRemove", json_boolean(rm));
	v = opt_list(o, "cap-add", &n);
	json_object_set_new(hc, "CapAdd", n ? caps_json(v, n) : json_null());
	v = opt_list(o, "cap-drop", &n);
	json_object_set_new(hc, "CapDrop", n ? caps_json(v, n) : json_null());
	json_object_set_new(hc, "MemorySwappiness", json_integer(-1)); /* docker's "unset" */
	json_object_set_new(hc, "Privileged", json_boolean(opt_bool(o, "privileged")));
	json_object_set_new(hc, "ReadonlyRootfs", json_boolean(opt_bool(o, "read-only")));
	json_t *sec = json_array();
	json_object_set_new(hc, "SecurityOpt", sec);
	v = opt_list(o, "security-opt", &n);
	for (size_t i = 0; i < n; i++)
		if (security_opt(cli, v[i], sec) < 0)
			return NULL;
	if (!json_array_size(sec))
		json_object_set_new(hc, "SecurityOpt", json_null());

	static const struct {
		const char *flag, *key;
	} byte_flags[] = { { "memory", "Memory" }, { "memory-swap", "MemorySwap" }, { "memory-reservation", "MemoryReservation" },
			   { "shm-size", "ShmSize" } };
	for (size_t i = 0; i < ARRAY_SIZE(byte_flags); i++) {
		const char *s = opt_str(o, byte_flags[i].flag, NULL);
		int64_t b = 0;
		if (!s)
			continue;
		if (!strcmp(s, "-1"))
			b = -1;
		else if (cli_parse_bytes(s, &b) < 0)
			return skiff_error_set(&cli->err, 400, EINVAL, "invalid argument \"%s\" for \"--%s\" flag: invalid size: '%s'",
					       s, byte_flags[i].flag, s),
			       NULL;
		json_object_set_new(hc, byte_flags[i].key, json_integer(b));
	}
	if (opt_set(o, "cpus")) {
		const char *s = opt_str(o, "cpus", "0");
		char *end;
		double d = strtod(s, &end);
		if (*end || d < 0)
			return skiff_error_set(&cli->err, 400, EINVAL, "invalid argument \"%s\" for \"--cpus\" flag", s), NULL;
		json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(d * 1e9 + 0.5)));
	}
	/* integer flags: a value that is not a number is refused like Go's ParseInt */
	static const struct {
		const char *flag, *shown, *key;
	} int_flags[] = { { "cpu-shares", "-c, --cpu-shares", "CpuShares" }, { "pids-limit", "--pids-limit", "PidsLimit" } };
	for (size_t i = 0; i < ARRAY_SIZE(int_flags); i++) {
		const char *s = opt_str(o, int_flags[i].flag, NULL);
		char *end;
		if (!s)
			continue;
		errno = 0;
		long long val = strtoll(s, &end, 10);
		if (!*s || *end || errno)
			return skiff_error_set(&cli->err, 400, EINVAL,
					       "invalid argument \"%s\" for \"%s\" flag: strconv.ParseInt: parsing \"%s\": %s", s,
					       int_flags[i].shown, s, errno ? "value out of range" : "invalid syntax"),
			       NULL;
		json_object_set_new(hc, int_flags[i].key, json_integer(val));
	}
	if (opt_set(o, "cpuset-cpus"))
		json_object_set_new(hc, "CpusetCpus", json_string(opt_str(o, "cpuset-cpus", "")));
	json_t *ul = json_array();
	json_object_set_new(hc, "Ulimits", ul);
	v = opt_list(o, "ulimit", &n);
	for (size_t i = 0; i < n; i++)
		if (parse_ulimit(cli, v[i], ul) < 0)
			return NULL;
	if (opt_set(o, "init"))
		json_object_set_new(hc, "Init", json_boolean(opt_bool(o, "init")));
	unsigned h = 0, w = 0;
	if (tty && isatty(STDOUT_FILENO))
		cli_tty_size(STDOUT_FILENO, &h, &w);
	json_object_set_new(hc, "ConsoleSize", json_pack("[i, i]", h, w));

	/* docker puts --ip/--network-alias on the endpoint of --network and lets
	 * the daemon refuse them where they do not apply */
	json_t *ep = json_object();
	size_t nalias;
	const char **alias = opt_list(o, "network-alias", &nalias);
	if (opt_set(o, "ip") || nalias) {
		json_t *e = json_object();
		if (opt_set(o, "ip"))
			json_object_set_new(e, "IPAMConfig", json_pack("{s:s}", "IPv4Address", opt_str(o, "ip", "")));
		if (nalias)
			json_object_set_new(e, "Aliases", strv_json(alias, nalias));
		json_object_set_new(ep, net, e);
	} else if (strcmp(net, "default") && strcmp(net, "host") && strcmp(net, "none") && strcmp(net, "bridge") &&
		   strncmp(net, "container:", 10)) {
		json_object_set_new(ep, net, json_object());
	}
	json_object_set_new(c, "NetworkingConfig", json_pack("{s:o}", "EndpointsConfig", ep));
	return TAKE_PTR(c);
}

/* docker's reference normalisation for the pull fallback */
static void split_ref(const char *ref, char *repo, size_t rl, char *tag, size_t tl)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	const char *at = strchr(ref, '@');
	size_t nlen = at ? (size_t)(at - ref) : colon ? (size_t)(colon - ref) : strlen(ref);
	snprintf(tag, tl, "%s", at ? at + 1 : colon ? colon + 1 : "latest");
	const char *first_slash = strchr(ref, '/');
	bool has_registry = first_slash && (memchr(ref, '.', first_slash - ref) || memchr(ref, ':', first_slash - ref) ||
					    !strncmp(ref, "localhost/", 10));
	if (has_registry)
		snprintf(repo, rl, "%.*s", (int)nlen, ref);
	else if (first_slash && first_slash < ref + nlen)
		snprintf(repo, rl, "docker.io/%.*s", (int)nlen, ref);
	else
		snprintf(repo, rl, "docker.io/library/%.*s", (int)nlen, ref);
}

static int pull_image(struct cli *cli, const char *ref)
{
	char repo[512], tag[256], path[1200];
	split_ref(ref, repo, sizeof(repo), tag, sizeof(tag));
	_cleanup_free_ char *er = cli_urlencode(repo), *et = cli_urlencode(tag);
	PATH_FMT(path, "/images/create?fromImage=%s&tag=%s", er, et);
	struct cli_body b = { .fd = -1, .extra_headers = "X-Registry-Auth: e30=\r\n" };
	struct cli_resp *r = malloc(sizeof(*r));
	int ret = cli_http(cli, "POST", path, &b, r);
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(cli, r);
	char *line = NULL;
	size_t cap = 0;
	while (ret == 0 && cli_resp_getline(r, &line, &cap) >= 0) {
		_cleanup_json_ json_t *j = json_loads(line, 0, NULL);
		const char *e = skiff_json_str(j, "error", NULL);
		if (e)
			ret = skiff_error_set(&cli->err, 500, EIO, "%s", e);
		else if (skiff_json_str(j, "status", NULL) && !json_object_get(j, "progressDetail"))
			fprintf(stderr, "%s%s%s\n", skiff_json_str(j, "id", ""), json_object_get(j, "id") ? ": " : "",
				skiff_json_str(j, "status", ""));
	}
	free(line);
	cli_resp_close(r);
	free(r);
	return ret;
}

static int create_container(struct cli *cli, struct cli_opts *o, bool run, json_t **body_out, char *id, size_t idlen)
{
	_cleanup_json_ json_t *body = build_create(cli, o, run);
	if (!body)
		return -EINVAL;
	char path[512] = "/containers/create";
	const char *name = opt_str(o, "name", NULL);
	if (name) {
		_cleanup_free_ char *en = cli_urlencode(name);
		PATH_FMT(path, "/containers/create?name=%s", en);
	}
	json_t *res = NULL;
	int r = cli_call(cli, "POST", path, body, &res);
	if (r < 0 && cli->err.status == 404 && strstr(cli->err.msg, "image")) {
		const char *img = o->argv[0], *sl = strrchr(img, '/');
		bool tagged = strchr(sl ? sl : img, ':') || strchr(img, '@');
		fprintf(stderr, "Unable to find image '%s%s' locally\n", img, tagged ? "" : ":latest");
		if (pull_image(cli, o->argv[0]) < 0)
			return -ENOENT;
		r = cli_call(cli, "POST", path, body, &res);
	}
	if (r < 0)
		return r;
	snprintf(id, idlen, "%s", skiff_json_str(res, "Id", ""));
	json_t *warn = json_object_get(res, "Warnings");
	size_t i;
	json_t *w;
	json_array_foreach(warn, i, w) fprintf(stderr, "WARNING: %s\n", json_string_value(w) ? json_string_value(w) : "");
	json_decref(res);
	if (body_out)
		*body_out = json_incref(body);
	return 0;
}

static int cmd_create(struct cli *cli, struct cli_opts *o)
{
	char id[128];
	if (create_container(cli, o, false, NULL, id, sizeof(id)) < 0)
		return cli_fail(cli, 125);
	puts(id);
	return 0;
}

/* Read the answer of a wait sent earlier: the container's exit code. */
static int wait_result(struct cli *cli, struct cli_resp *w)
{
	int r = cli_http_recv(cli, w, false);
	if (r < 0)
		return -1;
	if (w->status >= 400) {
		cli_resp_error(cli, w);
		return -1;
	}
	_cleanup_free_ char *text = NULL;
	if (cli_resp_read_all(w, &text, NULL) < 0)
		return -1;
	_cleanup_json_ json_t *j = json_loads(text, 0, NULL);
	const char *msg = skiff_json_str(json_object_get(j, "Error"), "Message", NULL);
	if (msg && *msg) {
		skiff_error_set(&cli->err, 500, EIO, "%s", msg);
		return -1;
	}
	return (int)skiff_json_int(j, "StatusCode", -1);
}

/* A start failure's exit code: 126/127 like docker for exec problems. */
static int start_failure_code(const char *msg)
{
	if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory") ||
	    strstr(msg, "No such file or directory"))
		return 127;
	if (strstr(msg, "permission denied") || strstr(msg, "Permission denied"))
		return 126;
	return 125;
}

/* Attach (hijack), wait, start, pump I/O, collect the exit code. Used by
 * run and start -a. */
static int attached_start(struct cli *cli, const char *id, bool tty, bool in, bool out, bool err_, bool autoremove,
			  bool do_start, int fail_code)
{
	char path[512];
	struct cli_resp *att = malloc(sizeof(*att)), *w = malloc(sizeof(*w));
	int code = fail_code;
	bool raw = false;

	char q[64] = "";
	if (err_)
		strcat(q, "stderr=1&");
	if (in)
		strcat(q, "stdin=1&");
	if (out)
		strcat(q, "stdout=1&");
	PATH_FMT(path, "/containers/%s/attach?%sstream=1", id, q);
	struct cli_body ab = { .fd = -1, .upgrade = true, .content_type = "text/plain" };
	if (cli_http(cli, "POST", path, &ab, att) < 0)
		goto out_att;
	if (att->status >= 400) {
		cli_resp_error(cli, att);
		goto out_att;
	}
	PATH_FMT(path, "/containers/%s/wait?condition=%s", id, autoremove ? "removed" : "next-exit");
	if (cli_http_send(cli, "POST", path, NULL, w) < 0)
		goto out_att;
	if (do_start) {
		PATH_FMT(path, "/containers/%s/start", id);
		if (cli_call(cli, "POST", path, NULL, NULL) < 0) {
			if (fail_code == 125)
				code = start_failure_code(cli->err.msg);
			goto out_w;
		}
	}
	struct cli_resize_ctx rc = { cli, "containers", id };
	if (tty && in && isatty(STDIN_FILENO))
		raw = cli_tty_raw(STDIN_FILENO) == 0;
	if (tty) {
		cli_tty_watch_winch();
		cli_tty_resize(cli, "containers", id);
	}
	cli_hijack_io(att, in ? STDIN_FILENO : -1, !tty, tty ? cli_tty_winch_cb : NULL, &rc);
	if (raw)
		cli_tty_restore();
	cli_resp_close(att);
	int st = wait_result(cli, w);
	if (st < 0)
		goto out_w;
	code = st;
	cli_resp_close(w);
	free(att);
	free(w);
	return code;
out_w:
	cli_resp_close(w);
out_att:
	cli_resp_close(att);
	free(att);
	free(w);
	cli_fail(cli, code);
	return code;
}

static int cmd_run(struct cli *cli, struct cli_opts *o)
{
	char id[128], path[512];
	bool detach = opt_bool(o, "detach");
	if (detach && opt_set(o, "attach"))
		return cli_failf(cli, 125, "Conflicting options: -a and -d");
	_cleanup_json_ json_t *body = NULL;
	if (create_container(cli, o, true, &body, id, sizeof(id)) < 0)
		return cli_fail(cli, 125);
	bool tty = skiff_json_bool(body, "Tty", false);
	bool in = skiff_json_bool(body, "AttachStdin", false), out = skiff_json_bool(body, "AttachStdout", false),
	     err = skiff_json_bool(body, "AttachStderr", false);
	bool autoremove = opt_bool(o, "rm");

	if (detach) {
		struct cli_resp *w = malloc(sizeof(*w));
		PATH_FMT(path, "/containers/%s/wait?condition=%s", id, autoremove ? "removed" : "next-exit");
		int r = cli_http_send(cli, "POST", path, NULL, w);
		PATH_FMT(path, "/containers/%s/start", id);
		if (r == 0)
			r = cli_call(cli, "POST", path, NULL, NULL);
		cli_resp_close(w);
		free(w);
		if (r < 0)
			return cli_fail(cli, start_failure_code(cli->err.msg));
		puts(id);
		return 0;
	}
	return attached_start(cli, id, tty, in, out, err, autoremove, true, 125);
}

/* ---- lifecycle verbs over names -------------------------------------- */

struct each {
	const char *method;
	const char *fmt; /* "/containers/%s/stop%s" with the query */
};

static int for_each_name(struct cli *cli, struct cli_opts *o, const char *method, const char *fmt, const char *query)
{
	int ret = 0;
	char path[1024];
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
		snprintf(path, sizeof(path), fmt, en, query);
		if (cli_call(cli, method, path, NULL, NULL) < 0) {
			cli_fail(cli, 1);
			ret = 1;
			continue;
		}
		puts(o->argv[i]);
	}
	return ret;
}

static int cmd_stop_restart(struct cli *cli, struct cli_opts *o, const char *verb)
{
	char q[128] = "", fmt[64];
	const char *sig = opt_str(o, "signal", NULL), *t = opt_str(o, "time", opt_str(o, "timeout", NULL));
	if (sig || t) {
		_cleanup_free_ char *es = sig ? cli_urlencode(sig) : NULL;
		snprintf(q, sizeof(q), "?%s%s%s%s%s", sig ? "signal=" : "", sig ? es : "", sig && t ? "&" : "",
			 t ? "t=" : "", t ? t : "");
	}
	snprintf(fmt, sizeof(fmt), "/containers/%%s/%s%%s", verb);
	return for_each_name(cli, o, "POST", fmt, q);
}

static int cmd_stop(struct cli *cli, struct cli_opts *o)
{
	return cmd_stop_restart(cli, o, "stop");
}

static int cmd_restart(struct cli *cli, struct cli_opts *o)
{
	return cmd_stop_restart(cli, o, "restart");
}

static int cmd_kill(struct cli *cli, struct cli_opts *o)
{
	char q[64] = "";
	const char *sig = opt_str(o, "signal", NULL);
	if (sig) {
		_cleanup_free_ char *es = cli_urlencode(sig);
		snprintf(q, sizeof(q), "?signal=%s", es);
	}
	return for_each_name(cli, o, "POST", "/containers/%s/kill%s", q);
}

static int cmd_rm(struct cli *cli, struct cli_opts *o)
{
	char q[64] = "";
	bool f = opt_bool(o, "force"), v = opt_bool(o, "volumes"), l = opt_bool(o, "link");
	if (f || v || l)
		snprintf(q, sizeof(q), "?%s%s%s", f ? "force=1" : "", l ? (f ? "&link=1" : "link=1") : "",
			 v ? (f || l ? "&v=1" : "v=1") : "");
	return for_each_name(cli, o, "DELETE", "/containers/%s%s", q);
}

static int cmd_pause(struct cli *cli, struct cli_opts *o)
{
	return for_each_name(cli, o, "POST", "/containers/%s/pause%s", "");
}

static int cmd_unpause(struct cli *cli, struct cli_opts *o)
{
	return for_each_name(cli, o, "POST", "/containers/%s/unpause%s", "");
}

static int cmd_rename(struct cli *cli, struct cli_opts *o)
{
	char path[1024];
	_cleanup_free_ char *a = cli_urlencode(o->argv[0]), *b = cli_urlencode(o->argv[1]);
	PATH_FMT(path, "/containers/%s/rename?name=%s", a, b);
	if (cli_call(cli, "POST", path, NULL, NULL) < 0)
		return cli_fail(cli, 1);
	return 0;
}

static int cmd_wait(struct cli *cli, struct cli_opts *o)
{
	int ret = 0;
	char path[1024];
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
		PATH_FMT(path, "/containers/%s/wait", en);
		json_t *res = NULL;
		if (cli_call(cli, "POST", path, NULL, &res) < 0) {
			cli_fail(cli, 1);
			ret = 1;
			continue;
		}
		const char *msg = skiff_json_str(json_object_get(res, "Error"), "Message", NULL);
		if (msg && *msg) {
			cli_failf(cli, 1, "%s", msg);
			ret = 1;
		} else {
			printf("%lld\n", (long long)skiff_json_int(res, "StatusCode", -1));
		}
		json_decref(res);
	}
	return ret;
}

static int inspect_container(struct cli *cli, const char *name, json_t **out)
{
	char path[1024];
	_cleanup_free_ char *en = cli_urlencode(name);
	PATH_FMT(path, "/containers/%s/json", en);
	return cli_call(cli, "GET", path, NULL, out);
}

static int cmd_start(struct cli *cli, struct cli_opts *o)
{
	bool attach = opt_bool(o, "attach"), in = opt_bool(o, "interactive");
	if (!attach && !in)
		return for_each_name(cli, o, "POST", "/containers/%s/start%s", "");
	if (o->argc > 1)
		return cli_failf(cli, 1, "you cannot start and attach multiple containers at once");
	json_t *c = NULL;
	if (inspect_container(cli, o->argv[0], &c) < 0)
		return cli_fail(cli, 1);
	_cleanup_free_ char *id = strdup(skiff_json_str(c, "Id", o->argv[0]));
	json_t *cfg = json_object_get(c, "Config");
	bool tty = skiff_json_bool(cfg, "Tty", false), open_in = skiff_json_bool(cfg, "OpenStdin", false);
	bool autoremove = skiff_json_bool(json_object_get(c, "HostConfig"), "AutoRemove", false);
	json_decref(c);
	return attached_start(cli, id, tty, in && open_in, true, true, autoremove, true, 1);
}

static int cmd_attach(struct cli *cli, struct cli_opts *o)
{
	json_t *c = NULL;
	if (inspect_container(cli, o->argv[0], &c) < 0)
		return cli_fail(cli, 1);
	json_t *st = json_object_get(c, "State");
	bool running = skiff_json_bool(st, "Running", false), paused = skiff_json_bool(st, "Paused", false);
	_cleanup_free_ char *id = strdup(skiff_json_str(c, "Id", o->argv[0]));
	json_t *cfg = json_object_get(c, "Config");
	bool tty = skiff_json_bool(cfg, "Tty", false), open_in = skiff_json_bool(cfg, "OpenStdin", false);
	json_decref(c);
	if (!running)
		return cli_failf(cli, 1, "You cannot attach to a stopped container, start it first");
	if (paused)
		return cli_failf(cli, 1, "You cannot attach to a paused container, unpause it first");
	bool in = open_in && !opt_bool(o, "no-stdin");
	return attached_start(cli, id, tty, in, true, true, false, false, 1);
}

/* ---- ps ----------------------------------------------------------------- */

static char *go_quote(const char *s)
{
	size_t l = strlen(s);
	char *out = malloc(l * 4 + 3), *p = out;
	*p++ = '"';
	for (; *s; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
		} else if (c == '\n') {
			*p++ = '\\', *p++ = 'n';
		} else if (c == '\t') {
			*p++ = '\\', *p++ = 't';
		} else if (c < 0x20) {
			p += sprintf(p, "\\x%02x", c);
		} else {
			*p++ = c;
		}
	}
	*p++ = '"';
	*p = 0;
	return out;
}

/* docker's formatter.DisplayablePorts: sorted by private port, IP, public
 * port, type; ports published on the same number (or only exposed) are
 * grouped into ranges per IP and type, the other mappings listed after. */
struct ps_port {
	const char *ip, *type;
	long long priv, pub;
};

static int cmp_ps_port(const void *x, const void *y)
{
	const struct ps_port *a = x, *b = y;
	int c;
	if (a->priv != b->priv)
		return a->priv < b->priv ? -1 : 1;
	if ((c = strcmp(a->ip, b->ip)))
		return c;
	if (a->pub != b->pub)
		return a->pub < b->pub ? -1 : 1;
	return strcmp(a->type, b->type);
}

struct ps_group {
	char key[96]; /* "tcp" or "IP/tcp" */
	long long first, last;
};

static void ps_append(char **s, size_t *len, size_t *cap, const char *one)
{
	size_t l = strlen(one);
	if (*len + l + 3 > *cap)
		*s = realloc(*s, *cap = *cap * 2 + l + 3);
	*len += sprintf(*s + *len, "%s%s", *len ? ", " : "", one);
}

static void ps_form_group(const struct ps_group *g, char *out, size_t outlen)
{
	char range[32];
	const char *slash = strrchr(g->key, '/');
	if (g->first != g->last)
		snprintf(range, sizeof(range), "%lld-%lld", g->first, g->last);
	else
		snprintf(range, sizeof(range), "%lld", g->first);
	if (slash)
		snprintf(out, outlen, "%.*s:%s->%s/%s", (int)(slash - g->key), g->key, range, range, slash + 1);
	else
		snprintf(out, outlen, "%s/%s", range, g->key);
}

static char *format_ports(json_t *ports)
{
	size_t n = json_array_size(ports), cap = 256, len = 0, ng = 0, hcap = 64, hlen = 0;
	char *s = calloc(1, cap);
	_cleanup_free_ char *hosts = calloc(1, hcap);
	_cleanup_free_ struct ps_port *pp = calloc(n + 1, sizeof(*pp));
	_cleanup_free_ struct ps_group *groups = calloc(n + 1, sizeof(*groups));
	_cleanup_free_ char **done = calloc(n + 1, sizeof(*done));
	size_t ndone = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(ports, i);
		pp[i] = (struct ps_port){ skiff_json_str(p, "IP", ""), skiff_json_str(p, "Type", "tcp"),
					  skiff_json_int(p, "PrivatePort", 0), skiff_json_int(p, "PublicPort", 0) };
	}
	qsort(pp, n, sizeof(*pp), cmp_ps_port);
	char one[160];
	for (size_t i = 0; i < n; i++) {
		char key[96];
		if (*pp[i].ip) {
			if (pp[i].pub != pp[i].priv) {
				bool v6 = strchr(pp[i].ip, ':');
				snprintf(one, sizeof(one), "%s%s%s:%lld->%lld/%s", v6 ? "[" : "", pp[i].ip, v6 ? "]" : "", pp[i].pub,
					 pp[i].priv, pp[i].type);
				ps_append(&hosts, &hlen, &hcap, one);
				continue;
			}
			snprintf(key, sizeof(key), "%s/%s", pp[i].ip, pp[i].type);
		} else {
			snprintf(key, sizeof(key), "%s", pp[i].type);
		}
		struct ps_group *g = NULL;
		for (size_t j = 0; j < ng; j++)
			if (!strcmp(groups[j].key, key))
				g = &groups[j];
		if (!g) {
			g = &groups[ng++];
			snprintf(g->key, sizeof(g->key), "%s", key);
			g->first = g->last = pp[i].priv;
			continue;
		}
		if (pp[i].priv == g->last + 1) {
			g->last = pp[i].priv;
			continue;
		}
		/* a gap: the finished range goes out now, the key's group restarts */
		ps_form_group(g, one, sizeof(one));
		done[ndone++] = strdup(one);
		g->first = g->last = pp[i].priv;
	}
	for (size_t i = 0; i < ndone; i++) {
		ps_append(&s, &len, &cap, done[i]);
		free(done[i]);
	}
	for (size_t j = 0; j < ng; j++) {
		ps_form_group(&groups[j], one, sizeof(one));
		ps_append(&s, &len, &cap, one);
	}
	if (hlen)
		ps_append(&s, &len, &cap, hosts);
	return s;
}

static char *join_keys_or_vals(json_t *obj, bool labels)
{
	size_t cap = 64, len = 0;
	char *s = calloc(1, cap);
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		const char *val = labels ? json_string_value(v) : NULL;
		size_t need = strlen(k) + (val ? strlen(val) + 1 : 0) + 2;
		if (len + need + 1 > cap)
			s = realloc(s, cap = cap * 2 + need);
		len += sprintf(s + len, "%s%s%s%s", len ? "," : "", k, val ? "=" : "", val ? val : "");
	}
	return s;
}

static json_t *ps_row(json_t *c, bool trunc)
{
	json_t *row = json_object();
	const char *id = skiff_json_str(c, "Id", "");
	json_object_set_new(row, "ID", trunc ? json_stringn(id, strlen(id) < 12 ? strlen(id) : 12) : json_string(id));
	const char *image = skiff_json_str(c, "Image", "");
	if (trunc && !strncmp(image, "sha256:", 7))
		json_object_set_new(row, "Image", json_stringn(image + 7, 12));
	else
		json_object_set_new(row, "Image", json_string(image));
	const char *cmd = skiff_json_str(c, "Command", "");
	_cleanup_free_ char *el = trunc ? cli_ellipsis(cmd, 20) : strdup(cmd);
	_cleanup_free_ char *q = go_quote(el);
	json_object_set_new(row, "Command", json_string(q));
	int64_t created = skiff_json_int(c, "Created", 0);
	char buf[128];
	cli_time_string(created, buf, sizeof(buf));
	json_object_set_new(row, "CreatedAt", json_string(buf));
	cli_since(created, buf, sizeof(buf));
	json_object_set_new(row, "RunningFor", json_string(buf));
	_cleanup_free_ char *ports = format_ports(json_object_get(c, "Ports"));
	json_object_set_new(row, "Ports", json_string(ports));
	json_object_set_new(row, "State", json_string(skiff_json_str(c, "State", "")));
	json_object_set_new(row, "Status", json_string(skiff_json_str(c, "Status", "")));
	char srw[32], sv[32], size[80];
	cli_human_size(skiff_json_int(c, "SizeRw", 0), 3, srw, sizeof(srw));
	cli_human_size(skiff_json_int(c, "SizeRootFs", 0), 3, sv, sizeof(sv));
	if (skiff_json_int(c, "SizeRootFs", 0) > 0)
		snprintf(size, sizeof(size), "%s (virtual %s)", srw, sv);
	else
		snprintf(size, sizeof(size), "%s", srw);
	json_object_set_new(row, "Size", json_string(size));
	/* names: drop the leading "/" and, truncated, link names ("/a/b") */
	char names[1024] = "";
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(c, "Names"), i, n)
	{
		const char *nm = json_string_value(n);
		if (!nm)
			continue;
		if (*nm == '/')
			nm++;
		if (trunc && strchr(nm, '/'))
			continue;
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", names[0] ? "," : "", nm);
	}
	json_object_set_new(row, "Names", json_string(names));
	_cleanup_free_ char *labels = join_keys_or_vals(json_object_get(c, "Labels"), true);
	json_object_set_new(row, "Labels", json_string(labels));
	_cleanup_free_ char *nets = join_keys_or_vals(json_object_get(json_object_get(c, "NetworkSettings"), "Networks"), false);
	json_object_set_new(row, "Networks", json_string(nets));
	char mounts[1024] = "";
	json_t *m;
	json_array_foreach(json_object_get(c, "Mounts"), i, m)
	{
		const char *nm = skiff_json_str(m, "Name", "");
		if (!*nm)
			nm = skiff_json_str(m, "Source", "");
		snprintf(mounts + strlen(mounts), sizeof(mounts) - strlen(mounts), "%s%s", mounts[0] ? "," : "", nm);
	}
	json_object_set_new(row, "Mounts", json_string(mounts));
	size_t nvol = 0;
	json_array_foreach(json_object_get(c, "Mounts"), i, m) nvol += !strcmp(skiff_json_str(m, "Type", ""), "volume");
	snprintf(buf, sizeof(buf), "%zu", nvol);
	json_object_set_new(row, "LocalVolumes", json_string(buf));
	json_object_set_new(row, "Platform", json_null());
	/* for {{.Label "k"}}; object members stay out of the row's JSON */
	json_t *lm = json_object_get(c, "Labels");
	json_object_set_new(row, "LabelsMap", json_is_object(lm) ? json_incref(lm) : json_object());
	return cli_row_sorted(row);
}

static int cmd_ps(struct cli *cli, struct cli_opts *o)
{
	char path[2048] = "/containers/json", *p = path + strlen(path);
	const char *sep = "?";
	bool all = opt_bool(o, "all");
	int limit = -1;
	if (opt_set(o, "last"))
		limit = atoi(opt_str(o, "last", "-1"));
	if (opt_bool(o, "latest"))
		limit = 1;
	if (limit > 0)
		all = true;
	if (all)
		p += sprintf(p, "%sall=1", sep), sep = "&";
	size_t nf;
	const char **f = opt_list(o, "filter", &nf);
	_cleanup_free_ char *filters = cli_filters_query(f, nf);
	if (filters)
		p += snprintf(p, sizeof(path) - (p - path), "%sfilters=%s", sep, filters), sep = "&";
	if (limit > 0)
		p += sprintf(p, "%slimit=%d", sep, limit), sep = "&";
	bool size = opt_bool(o, "size");
	const char *fmt = opt_str(o, "format", NULL);
	/* docker asks for sizes when the template uses .Size, {{json .}} included */
	if (fmt && (strstr(fmt, ".Size") || strstr(fmt, "json .}}") || strstr(fmt, "json . }}")))
		size = true;
	if (size && !opt_bool(o, "quiet"))
		p += sprintf(p, "%ssize=1", sep);

	_cleanup_json_ json_t *list = NULL;
	if (cli_call(cli, "GET", path, NULL, &list) < 0)
		return cli_fail(cli, 1);
	bool trunc = !opt_bool(o, "no-trunc");
	_cleanup_json_ json_t *rows = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c) json_array_append_new(rows, ps_row(c, trunc));
	if (opt_bool(o, "quiet")) {
		if (fmt && *fmt) {
			fflush(stdout);
			fputs("WARNING: Ignoring custom format, because both --format and --quiet are set.\n", stderr);
		}
		fmt = "{{.ID}}";
	}
	static const char *const hdr[] = { "ID",	   "CONTAINER ID", "Image",    "IMAGE",	      "Command", "COMMAND",
					   "CreatedAt",    "CREATED AT",   "RunningFor", "CREATED",   "Ports",   "PORTS",
					   "State",	   "STATE",	   "Status",   "STATUS",      "Size",    "SIZE",
					   "Names",	   "NAMES",	   "Labels",   "LABELS",      "Mounts",  "MOUNTS",
					   "Networks",     "NETWORKS",     NULL };
	_cleanup_json_ json_t *headers = json_object();
	for (const char *const *h = hdr; *h; h += 2)
		json_object_set_new(headers, h[0], json_string(h[1]));
	const char *def = size ? "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
			       : "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
	return cli_print_rows(cli, fmt, def, rows, headers);
}

/* ---- logs, inspect, top ---------------------------------------------- */

static int cmd_logs(struct cli *cli, struct cli_opts *o)
{
	json_t *c = NULL;
	if (inspect_container(cli, o->argv[0], &c) < 0)
		return cli_fail(cli, 1);
	_cleanup_free_ char *id = strdup(skiff_json_str(c, "Id", o->argv[0]));
	bool tty = skiff_json_bool(json_object_get(c, "Config"), "Tty", false);
	json_decref(c);

	char path[1024], ts[64];
	char *p = path + PATH_FMT(path, "/containers/%s/logs?", id);
	if (opt_bool(o, "follow"))
		p += sprintf(p, "follow=1&");
	const char *since = opt_str(o, "since", NULL), *until = opt_str(o, "until", NULL);
	if (since) {
		if (cli_timestamp(since, ts, sizeof(ts)) < 0)
			return cli_failf(cli, 1, "invalid value for \"since\": %s", since);
		p += sprintf(p, "since=%s&", ts);
	}
	p += sprintf(p, "stderr=1&stdout=1&tail=");
	_cleanup_free_ char *tail = cli_urlencode(opt_str(o, "tail", "all"));
	p += snprintf(p, 64, "%s", tail);
	if (opt_bool(o, "timestamps"))
		p += sprintf(p, "&timestamps=1");
	if (until) {
		if (cli_timestamp(until, ts, sizeof(ts)) < 0)
			return cli_failf(cli, 1, "invalid value for \"until\": %s", until);
		p += sprintf(p, "&until=%s", ts);
	}
	struct cli_resp *r = malloc(sizeof(*r));
	int ret = cli_http(cli, "GET", path, NULL, r);
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(cli, r);
	if (ret == 0)
		cli_copy_stream(r, !tty);
	cli_resp_close(r);
	free(r);
	return ret < 0 ? cli_fail(cli, 1) : 0;
}

static int cmd_inspect(struct cli *cli, struct cli_opts *o)
{
	const char *type = opt_str(o, "type", cli->fixed_type);
	if (type && strcmp(type, "container") && strcmp(type, "image"))
		return cli_failf(cli, 1, "\"%s\" is not a valid value for --type", type);
	const char *fmt = opt_str(o, "format", NULL);
	_cleanup_json_ json_t *all = json_array();
	_cleanup_json_ json_t *errs = json_array();
	char path[1024];
	for (int i = 0; i < o->argc; i++) {
		json_t *obj = NULL;
		int r = -ENOENT;
		if (!type || !strcmp(type, "container")) {
			_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
			PATH_FMT(path, "/containers/%s/json%s", en, opt_bool(o, "size") ? "?size=1" : "");
			r = cli_call(cli, "GET", path, NULL, &obj);
			if (r < 0 && cli->err.status != 404) {
				json_array_append_new(errs, json_string(cli->err.msg));
				continue;
			}
		}
		if (r < 0 && (!type || !strcmp(type, "image"))) {
			_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
			PATH_FMT(path, "/images/%s/json", en);
			r = cli_call(cli, "GET", path, NULL, &obj);
		}
		if (r < 0) {
			if (!type)
				snprintf(cli->err.msg, sizeof(cli->err.msg), "No such object: %s", o->argv[i]);
			json_array_append_new(errs, json_string(cli->err.msg));
			continue;
		}
		if (fmt) {
			if (cli_print_formatted(cli, fmt, obj) != 0) {
				json_decref(obj);
				return 1;
			}
			json_decref(obj);
		} else {
			json_array_append_new(all, obj);
		}
	}
	if (!fmt)
		cli_print_formatted(cli, NULL, all);
	/* like docker: the objects found first, then what was not */
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e) cli_failf(cli, 1, "%s", json_string_value(e));
	return json_array_size(errs) ? 1 : 0;
}

static int cmd_top(struct cli *cli, struct cli_opts *o)
{
	char path[1024];
	_cleanup_free_ char *en = cli_urlencode(o->argv[0]);
	int n = PATH_FMT(path, "/containers/%s/top", en);
	if (o->argc > 1) {
		char args[512] = "";
		for (int i = 1; i < o->argc; i++)
			snprintf(args + strlen(args), sizeof(args) - strlen(args), "%s%s", i > 1 ? " " : "", o->argv[i]);
		_cleanup_free_ char *ea = cli_urlencode(args);
		snprintf(path + n, sizeof(path) - n, "?ps_args=%s", ea);
	}
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "GET", path, NULL, &res) < 0)
		return cli_fail(cli, 1);
	struct cli_table *t = cli_table_new_min(20);
	char line[8192];
	size_t i, j;
	json_t *v, *row;
	line[0] = 0;
	json_array_foreach(json_object_get(res, "Titles"), i, v)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", i ? "\t" : "", json_string_value(v));
	cli_table_add(t, line);
	json_array_foreach(json_object_get(res, "Processes"), i, row)
	{
		line[0] = 0;
		json_array_foreach(row, j, v)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", j ? "\t" : "",
				 json_string_value(v) ? json_string_value(v) : "");
		cli_table_add(t, line);
	}
	cli_table_flush(t, stdout);
	return 0;
}

/* ---- exec --------------------------------------------------------------- */

/* docker 28's RunExec: the create body (ConsoleSize only with -t, Env null
 * without -e), a plain start with -d, else a hijacked start, the resize
 * when stdin is a terminal, and the exec's own exit code at the end. */
static int cmd_exec(struct cli *cli, struct cli_opts *o)
{
	char path[1024];
	bool tty = opt_bool(o, "tty"), in = opt_bool(o, "interactive"), detach = opt_bool(o, "detach");
	json_t *c = NULL;
	if (inspect_container(cli, o->argv[0], &c) < 0)
		return cli_fail(cli, 1);
	json_decref(c);
	if (!detach && tty && in && !isatty(STDIN_FILENO))
		return cli_failf(cli, 1, "the input device is not a TTY");
	unsigned h = 0, w = 0;
	if (tty && isatty(STDOUT_FILENO))
		cli_tty_size(STDOUT_FILENO, &h, &w);
	size_t ne, nf;
	const char **env = opt_list(o, "env", &ne), **files = opt_list(o, "env-file", &nf);
	json_t *envj = json_array();
	for (size_t i = 0; i < nf; i++)
		if (read_env_file(cli, files[i], envj) < 0) {
			json_decref(envj);
			return cli_fail(cli, 1);
		}
	for (size_t i = 0; i < ne; i++)
		add_env(envj, env[i]);
	if (!json_array_size(envj)) {
		json_decref(envj);
		envj = json_null();
	}
	/* container.ExecOptions in its field order */
	_cleanup_json_ json_t *body = json_object();
	json_object_set_new(body, "User", json_string(opt_str(o, "user", "")));
	json_object_set_new(body, "Privileged", json_boolean(opt_bool(o, "privileged")));
	json_object_set_new(body, "Tty", json_boolean(tty));
	if (tty)
		json_object_set_new(body, "ConsoleSize", json_pack("[i,i]", h, w));
	json_object_set_new(body, "AttachStdin", json_boolean(in && !detach));
	json_object_set_new(body, "AttachStderr", json_boolean(!detach));
	json_object_set_new(body, "AttachStdout", json_boolean(!detach));
	json_object_set_new(body, "Detach", json_boolean(detach));
	json_object_set_new(body, "DetachKeys", json_string(opt_str(o, "detach-keys", "")));
	json_object_set_new(body, "Env", envj);
	json_object_set_new(body, "WorkingDir", json_string(opt_str(o, "workdir", "")));
	json_object_set_new(body, "Cmd", strv_json((const char **)o->argv + 1, o->argc - 1));
	_cleanup_free_ char *en = cli_urlencode(o->argv[0]);
	PATH_FMT(path, "/containers/%s/exec", en);
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "POST", path, body, &res) < 0)
		return cli_fail(cli, 1);
	const char *eid = skiff_json_str(res, "Id", "");
	if (!*eid)
		return cli_failf(cli, 1, "exec ID empty");
	_cleanup_free_ char *id = strdup(eid);
	_cleanup_json_ json_t *sb = json_pack("{s:b, s:b}", "Detach", detach, "Tty", tty);
	if (tty)
		json_object_set_new(sb, "ConsoleSize", json_pack("[i,i]", h, w));
	PATH_FMT(path, "/exec/%s/start", id);
	if (detach)
		return cli_call(cli, "POST", path, sb, NULL) < 0 ? cli_fail(cli, 1) : 0;
	_cleanup_free_ char *data = json_dumps(sb, JSON_COMPACT);
	struct cli_body b = { .fd = -1, .upgrade = true, .content_type = "application/json", .data = data, .len = strlen(data) };
	struct cli_resp *r = malloc(sizeof(*r));
	int ret = cli_http(cli, "POST", path, &b, r);
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(cli, r);
	if (ret < 0) {
		cli_resp_close(r);
		free(r);
		return cli_fail(cli, 1);
	}
	bool raw = tty && in && isatty(STDIN_FILENO) && cli_tty_raw(STDIN_FILENO) == 0;
	struct cli_resize_ctx rc = { cli, "exec", id };
	bool resize = tty && isatty(STDIN_FILENO);
	if (resize) {
		cli_tty_watch_winch();
		cli_tty_resize(cli, "exec", id);
	}
	cli_hijack_io(r, in ? STDIN_FILENO : -1, !tty, resize ? cli_tty_winch_cb : NULL, &rc);
	if (raw)
		cli_tty_restore();
	cli_resp_close(r);
	free(r);
	PATH_FMT(path, "/exec/%s/json", id);
	_cleanup_json_ json_t *ins = NULL;
	if (cli_call(cli, "GET", path, NULL, &ins) < 0)
		/* docker: -1 when the daemon went away, the error otherwise */
		return cli->err.status >= 400 ? cli_fail(cli, 1) : 255;
	return (int)skiff_json_int(ins, "ExitCode", 0);
}

/* ---- the table ---------------------------------------------------------- */

#define RUN_FLAGS                                                                                                     \
	{ .name = "attach", .shrt = 'a', .type = FLAG_LIST, .help = "Attach to STDIN, STDOUT or STDERR" },                \
	{ .name = "cap-add", .type = FLAG_LIST, .help = "Add Linux capabilities" },                                   \
	{ .name = "cap-drop", .type = FLAG_LIST, .help = "Drop Linux capabilities" },                                 \
	{ .name = "cpu-shares", .shrt = 'c', .type = FLAG_STRING, .help = "CPU shares (relative weight)" },           \
	{ .name = "cpus", .type = FLAG_STRING, .help = "Number of CPUs" },                                            \
	{ .name = "cpuset-cpus", .type = FLAG_STRING, .help = "CPUs in which to allow execution (0-3, 0,1)" },        \
	{ .name = "entrypoint", .type = FLAG_STRING, .help = "Overwrite the default ENTRYPOINT of the image" },        \
	{ .name = "env", .shrt = 'e', .type = FLAG_LIST, .help = "Set environment variables" },                       \
	{ .name = "env-file", .type = FLAG_LIST, .help = "Read in a file of environment variables" },                 \
	{ .name = "expose", .type = FLAG_LIST, .help = "Expose a port or a range of ports" },                         \
	{ .name = "hostname", .shrt = 'h', .type = FLAG_STRING, .help = "Container host name" },                      \
	{ .name = "ip", .type = FLAG_STRING, .help = "IPv4 address (e.g., 172.30.100.104)" },                          \
	{ .name = "init", .type = FLAG_BOOL, .help = "Run an init inside the container" },                            \
	{ .name = "interactive", .shrt = 'i', .type = FLAG_BOOL, .help = "Keep STDIN open even if not attached" },    \
	{ .name = "label", .shrt = 'l', .type = FLAG_LIST, .help = "Set meta data on a container" },                  \
	{ .name = "memory", .shrt = 'm', .type = FLAG_STRING, .help = "Memory limit (e.g. 512m, 1g)" },               \
	{ .name = "memory-reservation", .type = FLAG_STRING, .help = "Memory soft limit" },                           \
	{ .name = "memory-swap", .type = FLAG_STRING,                                                                 \
	  .help = "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },                            \
	{ .name = "name", .type = FLAG_STRING, .help = "Assign a name to the container" },                            \
	{ .name = "network", .type = FLAG_STRING, .alias = "net",                                                     \
	  .help = "Connect a container to a network (none, host, bridge, container:NAME)" },                          \
	{ .name = "network-alias", .type = FLAG_LIST, .help = "Add network-scoped alias for the container" },        \
	{ .name = "pids-limit", .type = FLAG_STRING, .help = "Tune container pids limit (set -1 for unlimited)" },     \
	{ .name = "privileged", .type = FLAG_BOOL, .help = "Give extended privileges to this container" },            \
	{ .name = "publish", .shrt = 'p', .type = FLAG_LIST, .help = "Publish a container's port(s) to the host" },    \
	{ .name = "publish-all", .shrt = 'P', .type = FLAG_BOOL, .help = "Publish all exposed ports to random ports" }, \
	{ .name = "read-only", .type = FLAG_BOOL, .help = "Mount the container's root filesystem as read only" },     \
	{ .name = "restart", .type = FLAG_STRING, .def = "\"no\"",                                                    \
	  .help = "Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])" },    \
	{ .name = "rm", .type = FLAG_BOOL, .help = "Automatically remove the container and its volumes when it exits" }, \
	{ .name = "security-opt", .type = FLAG_LIST, .help = "Security Options (seccomp=PATH|unconfined, no-new-privileges)" }, \
	{ .name = "shm-size", .type = FLAG_STRING, .help = "Size of /dev/shm" },                                      \
	{ .name = "stop-signal", .type = FLAG_STRING, .help = "Signal to stop the container" },                       \
	{ .name = "stop-timeout", .type = FLAG_STRING, .help = "Timeout (in seconds) to stop a container" },          \
	{ .name = "tty", .shrt = 't', .type = FLAG_BOOL, .help = "Allocate a pseudo-TTY" },                           \
	{ .name = "ulimit", .type = FLAG_LIST, .help = "Ulimit options (name=soft[:hard])" },                         \
	{ .name = "user", .shrt = 'u', .type = FLAG_STRING, .help = "Username or UID (format: <name|uid>[:<group|gid>])" }, \
	{ .name = "volume", .shrt = 'v', .type = FLAG_LIST, .help = "Bind mount a volume" },                          \
	{ .name = "workdir", .shrt = 'w', .type = FLAG_STRING, .help = "Working directory inside the container" }

static const struct cli_flag run_flags[] = {
	{ .name = "detach", .shrt = 'd', .type = FLAG_BOOL, .help = "Run container in background and print container ID" },
	RUN_FLAGS,
	{ 0 },
};
static const struct cli_flag create_flags[] = { RUN_FLAGS, { 0 } };
static const struct cli_flag start_flags[] = {
	{ .name = "attach", .shrt = 'a', .type = FLAG_BOOL, .help = "Attach STDOUT/STDERR and forward signals" },
	{ .name = "interactive", .shrt = 'i', .type = FLAG_BOOL, .help = "Attach container's STDIN" },
	{ 0 },
};
static const struct cli_flag stop_flags[] = {
	{ .name = "signal", .shrt = 's', .type = FLAG_STRING, .help = "Signal to send to the container" },
	{ .name = "timeout", .shrt = 't', .type = FLAG_STRING, .alias = "time", .help = "Seconds to wait before killing the container" },
	{ 0 },
};
static const struct cli_flag kill_flags[] = {
	{ .name = "signal", .shrt = 's', .type = FLAG_STRING, .help = "Signal to send to the container" },
	{ 0 },
};
static const struct cli_flag rm_flags[] = {
	{ .name = "force", .shrt = 'f', .type = FLAG_BOOL, .help = "Force the removal of a running container (uses SIGKILL)" },
	{ .name = "link", .shrt = 'l', .type = FLAG_BOOL, .help = "Remove the specified link" },
	{ .name = "volumes", .shrt = 'v', .type = FLAG_BOOL, .help = "Remove anonymous volumes associated with the container" },
	{ 0 },
};
static const struct cli_flag ps_flags[] = {
	{ .name = "all", .shrt = 'a', .type = FLAG_BOOL, .help = "Show all containers (default shows just running)" },
	{ .name = "filter", .shrt = 'f', .type = FLAG_LIST, .help = "Filter output based on conditions provided" },
	{ .name = "format", .type = FLAG_STRING, .help = "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')" },
	{ .name = "last", .shrt = 'n', .type = FLAG_STRING, .def = "-1", .help = "Show n last created containers (includes all states)" },
	{ .name = "latest", .shrt = 'l', .type = FLAG_BOOL, .help = "Show the latest created container (includes all states)" },
	{ .name = "no-trunc", .type = FLAG_BOOL, .help = "Don't truncate output" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL, .help = "Only display container IDs" },
	{ .name = "size", .shrt = 's', .type = FLAG_BOOL, .help = "Display total file sizes" },
	{ 0 },
};
static const struct cli_flag logs_flags[] = {
	{ .name = "details", .type = FLAG_BOOL, .help = "Show extra details provided to logs" },
	{ .name = "follow", .shrt = 'f', .type = FLAG_BOOL, .help = "Follow log output" },
	{ .name = "since", .type = FLAG_STRING, .help = "Show logs since timestamp or relative (e.g. 42m)" },
	{ .name = "tail", .shrt = 'n', .type = FLAG_STRING, .def = "\"all\"", .help = "Number of lines to show from the end of the logs" },
	{ .name = "timestamps", .shrt = 't', .type = FLAG_BOOL, .help = "Show timestamps" },
	{ .name = "until", .type = FLAG_STRING, .help = "Show logs before a timestamp or relative (e.g. 42m)" },
	{ 0 },
};
static const struct cli_flag attach_flags[] = {
	{ .name = "detach-keys", .type = FLAG_STRING, .help = "Override the key sequence for detaching a container (ignored)" },
	{ .name = "no-stdin", .type = FLAG_BOOL, .help = "Do not attach STDIN" },
	{ .name = "sig-proxy", .type = FLAG_BOOL, .def = "true", .help = "Proxy all received signals to the process (ignored)" },
	{ 0 },
};
static const struct cli_flag inspect_flags[] = {
	{ .name = "format", .shrt = 'f', .type = FLAG_STRING, .help = "Format output using a custom template" },
	{ .name = "size", .shrt = 's', .type = FLAG_BOOL, .help = "Display total file sizes if the type is container" },
	{ .name = "type", .type = FLAG_STRING, .help = "Only inspect objects of the given type (container, image)" },
	{ 0 },
};
static const struct cli_flag exec_flags[] = {
	{ .name = "detach", .shrt = 'd', .type = FLAG_BOOL, .help = "Detached mode: run command in the background" },
	{ .name = "detach-keys", .type = FLAG_STRING, .help = "Override the key sequence for detaching a container" },
	{ .name = "env", .shrt = 'e', .type = FLAG_LIST, .help = "Set environment variables" },
	{ .name = "env-file", .type = FLAG_LIST, .help = "Read in a file of environment variables" },
	{ .name = "interactive", .shrt = 'i', .type = FLAG_BOOL, .help = "Keep STDIN open even if not attached" },
	{ .name = "privileged", .type = FLAG_BOOL, .help = "Give extended privileges to the command" },
	{ .name = "tty", .shrt = 't', .type = FLAG_BOOL, .help = "Allocate a pseudo-TTY" },
	{ .name = "user", .shrt = 'u', .type = FLAG_STRING, .help = "Username or UID (format: \"<name|uid>[:<group|gid>]\")" },
	{ .name = "workdir", .shrt = 'w', .type = FLAG_STRING, .help = "Working directory inside the container" },
	{ 0 },
};

const struct cli_cmd cli_container_cmds[] = {
	{ .name = "run", .summary = "Create and run a new container from an image", .usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
	  .flags = run_flags, .min_args = 1, .max_args = -1, .stop_at_positional = true, .run = cmd_run },
	{ .name = "create", .summary = "Create a new container", .usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
	  .flags = create_flags, .min_args = 1, .max_args = -1, .stop_at_positional = true, .run = cmd_create },
	{ .name = "exec", .summary = "Execute a command in a running container", .usage = "[OPTIONS] CONTAINER COMMAND [ARG...]",
	  .flags = exec_flags, .min_args = 2, .max_args = -1, .stop_at_positional = true, .run = cmd_exec },
	{ .name = "ps", .summary = "List containers", .usage = "[OPTIONS]", .flags = ps_flags, .max_args = 0, .run = cmd_ps },
	{ .name = "start", .summary = "Start one or more stopped containers", .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
	  .flags = start_flags, .min_args = 1, .max_args = -1, .run = cmd_start },
	{ .name = "stop", .summary = "Stop one or more running containers", .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
	  .flags = stop_flags, .min_args = 1, .max_args = -1, .run = cmd_stop },
	{ .name = "restart", .summary = "Restart one or more containers", .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
	  .flags = stop_flags, .min_args = 1, .max_args = -1, .run = cmd_restart },
	{ .name = "kill", .summary = "Kill one or more running containers", .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
	  .flags = kill_flags, .min_args = 1, .max_args = -1, .run = cmd_kill },
	{ .name = "rm", .summary = "Remove one or more containers", .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
	  .flags = rm_flags, .min_args = 1, .max_args = -1, .run = cmd_rm },
	{ .name = "pause", .summary = "Pause all processes within one or more containers", .usage = "CONTAINER [CONTAINER...]",
	  .min_args = 1, .max_args = -1, .run = cmd_pause },
	{ .name = "unpause", .summary = "Unpause all processes within one or more containers", .usage = "CONTAINER [CONTAINER...]",
	  .min_args = 1, .max_args = -1, .run = cmd_unpause },
	{ .name = "rename", .summary = "Rename a container", .usage = "CONTAINER NEW_NAME", .min_args = 2, .max_args = 2,
	  .run = cmd_rename },
	{ .name = "wait", .summary = "Block until one or more containers stop, then print their exit codes",
	  .usage = "CONTAINER [CONTAINER...]", .min_args = 1, .max_args = -1, .run = cmd_wait },
	{ .name = "logs", .summary = "Fetch the logs of a container", .usage = "[OPTIONS] CONTAINER", .flags = logs_flags,
	  .min_args = 1, .max_args = 1, .run = cmd_logs },
	{ .name = "attach", .summary = "Attach local standard input, output, and error streams to a running container",
	  .usage = "[OPTIONS] CONTAINER", .flags = attach_flags, .min_args = 1, .max_args = 1, .run = cmd_attach },
	{ .name = "inspect", .summary = "Return low-level information on skiff objects", .usage = "[OPTIONS] NAME|ID [NAME|ID...]",
	  .flags = inspect_flags, .min_args = 1, .max_args = -1, .run = cmd_inspect },
	{ .name = "top", .summary = "Display the running processes of a container", .usage = "CONTAINER [ps OPTIONS]",
	  .min_args = 1, .max_args = -1, .stop_at_positional = true, .run = cmd_top },
	{ .name = "stats", .summary = "Display a live stream of container(s) resource usage statistics",
	  .usage = "[OPTIONS] [CONTAINER...]", .flags = cli_stats_flags, .max_args = -1, .run = cli_cmd_stats },
	{ .name = "port", .summary = "List port mappings or a specific mapping for the container",
	  .usage = "CONTAINER [PRIVATE_PORT[/PROTO]]", .min_args = 1, .max_args = 2, .run = cli_cmd_port },
	{ .name = "cp", .summary = "Copy files/folders between a container and the local filesystem",
	  .usage = "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tskiff cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
	  .flags = cli_cp_flags, .min_args = 2, .max_args = 2, .run = cli_cmd_cp },
};
const size_t cli_container_ncmds = ARRAY_SIZE(cli_container_cmds);
