/* System verbs: version, info, events — the daemon's identity, a
 * docker-like summary of /info, and the live event stream. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

static const char *arch(void)
{
	static struct utsname u;
	uname(&u);
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	return u.machine;
}

/* The members and order of the docker CLI's client version JSON. */
static json_t *client_version(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Version", SKIFF_CLI_VERSION, "ApiVersion",
			 SKIFF_CLI_API, "DefaultAPIVersion", SKIFF_CLI_API, "GitCommit", "", "GoVersion", "n/a (C)", "Os",
			 "linux", "Arch", arch() ? arch() : "", "BuildTime", __DATE__ " " __TIME__, "Context", "default");
}

static int cmd_version(struct cli *cli, struct cli_opts *o)
{
	_cleanup_json_ json_t *client = client_version();
	json_t *server = NULL;
	int r = cli_call(cli, "GET", "/version", NULL, &server);
	const char *fmt = opt_str(o, "format", NULL);
	if (fmt) {
		_cleanup_json_ json_t *all = json_pack("{s:O, s:o?}", "Client", client, "Server", server);
		int ret = cli_print_formatted(cli, fmt, all);
		return r < 0 ? cli_fail(cli, 1) : ret;
	}
	printf("Client:\n");
	printf(" Version:           %s\n", SKIFF_CLI_VERSION);
	printf(" API version:       %s\n", SKIFF_CLI_API);
	printf(" Go version:        n/a (C)\n");
	printf(" Git commit:        \n");
	printf(" Built:             %s\n", __DATE__ " " __TIME__);
	printf(" OS/Arch:           linux/%s\n", arch());
	printf(" Context:           default\n");
	if (r < 0) {
		putchar('\n');
		return cli_fail(cli, 1);
	}
	const char *plat = json_string_value(json_object_get(json_object_get(server, "Platform"), "Name"));
	printf("\nServer:%s%s\n", plat && *plat ? " " : "", plat ? plat : "");
	printf(" Engine:\n");
	printf("  Version:          %s\n", skiff_json_str(server, "Version", ""));
	printf("  API version:      %s (minimum version %s)\n", skiff_json_str(server, "ApiVersion", ""),
	       skiff_json_str(server, "MinAPIVersion", ""));
	printf("  Go version:       %s\n", skiff_json_str(server, "GoVersion", ""));
	printf("  Git commit:       %s\n", skiff_json_str(server, "GitCommit", ""));
	printf("  Built:            %s\n", skiff_json_str(server, "BuildTime", ""));
	printf("  OS/Arch:          %s/%s\n", skiff_json_str(server, "Os", ""), skiff_json_str(server, "Arch", ""));
	printf("  Experimental:     %s\n", skiff_json_bool(server, "Experimental", false) ? "true" : "false");
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(server, "Components"), i, c)
	{
		const char *name = skiff_json_str(c, "Name", "");
		if (!strcmp(name, "Engine"))
			continue;
		printf(" %s:\n", name);
		printf("  Version:          %s\n", skiff_json_str(c, "Version", ""));
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(c, "Details"), k, v)
		{
			int pad = 17 - (int)strlen(k);
			printf("  %s:%*s%s\n", k, pad > 0 ? pad : 1, "", json_is_string(v) ? json_string_value(v) : "");
		}
	}
	json_decref(server);
	return 0;
}

static void print_bytes_binary(const char *label, int64_t n)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = n;
	size_t i = 0;
	while (d >= 1024 && i + 1 < ARRAY_SIZE(u)) {
		d /= 1024;
		i++;
	}
	printf(" %s: %.4g%s\n", label, d, u[i]);
}

static void print_info_value(const char *label, json_t *v)
{
	if (!v)
		return;
	if (json_is_string(v))
		printf(" %s: %s\n", label, json_string_value(v));
	else if (json_is_integer(v))
		printf(" %s: %lld\n", label, (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		printf(" %s: %s\n", label, json_is_true(v) ? "true" : "false");
}

/* "name=seccomp,profile=builtin" → "  seccomp" + "   Profile: builtin" like docker */
static void print_security_options(json_t *sec)
{
	if (!json_array_size(sec))
		return;
	printf(" Security Options:\n");
	size_t i;
	json_t *s;
	json_array_foreach(sec, i, s)
	{
		_cleanup_free_ char *copy = strdup(json_string_value(s) ? json_string_value(s) : "");
		char *save = NULL;
		for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');
			if (!eq) {
				printf("  %s\n", kv);
			} else if (!strncmp(kv, "name=", 5)) {
				printf("  %s\n", eq + 1);
			} else {
				*eq = 0;
				kv[0] = toupper((unsigned char)kv[0]);
				printf("   %s: %s\n", kv, eq + 1);
			}
		}
	}
}

static void print_strv_inline(const char *label, json_t *arr)
{
	printf("  %s:", label);
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) printf(" %s", json_string_value(v) ? json_string_value(v) : "");
	putchar('\n');
}

static void info_driver_status(json_t *info, const char *key)
{
	size_t i;
	json_t *pair;
	json_array_foreach(json_object_get(info, key), i, pair)
		printf("  %s: %s\n", json_string_value(json_array_get(pair, 0)) ?: "",
		       json_string_value(json_array_get(pair, 1)) ?: "");
}

static void info_plugins(json_t *info, const char *key)
{
	json_t *p = json_object_get(info, key);
	printf(" Plugins:\n");
	print_strv_inline("Volume", json_object_get(p, "Volume"));
	print_strv_inline("Network", json_object_get(p, "Network"));
	print_strv_inline("Log", json_object_get(p, "Log"));
}

static void info_swarm(json_t *info, const char *key)
{
	printf(" Swarm: %s\n", skiff_json_str(json_object_get(info, key), "LocalNodeState", ""));
}

static void info_runtimes(json_t *info, const char *key)
{
	printf(" Runtimes:");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(info, key), k, v) printf(" %s", k);
	putchar('\n');
}

static void info_commits(json_t *info, const char *key)
{
	(void)key;
	printf(" containerd version: %s\n", skiff_json_str(json_object_get(info, "ContainerdCommit"), "ID", ""));
	printf(" runc version: %s\n", skiff_json_str(json_object_get(info, "RuncCommit"), "ID", ""));
	printf(" init version: %s\n", skiff_json_str(json_object_get(info, "InitCommit"), "ID", ""));
}

static void info_security(json_t *info, const char *key)
{
	print_security_options(json_object_get(info, key));
}

static void info_memory(json_t *info, const char *key)
{
	print_bytes_binary("Total Memory", skiff_json_int(info, key, 0));
}

static void info_insecure(json_t *info, const char *key)
{
	json_t *cidrs = json_object_get(json_object_get(info, key), "InsecureRegistryCIDRs");
	if (!json_array_size(cidrs))
		return;
	printf(" Insecure Registries:\n");
	size_t i;
	json_t *v;
	json_array_foreach(cidrs, i, v) printf("  %s\n", json_string_value(v) ?: "");
}

/* The Server section in docker's order: a plain "label: value" row, or a
 * printer for the structured ones. */
static const struct {
	const char *label, *key;
	void (*print)(json_t *info, const char *key);
	bool always; /* print false when the daemon leaves it out */
} info_rows[] = {
	{ "Server Version", "ServerVersion", NULL, false },
	{ "Storage Driver", "Driver", NULL, false },
	{ NULL, "DriverStatus", info_driver_status, false },
	{ "Logging Driver", "LoggingDriver", NULL, false },
	{ "Cgroup Driver", "CgroupDriver", NULL, false },
	{ "Cgroup Version", "CgroupVersion", NULL, false },
	{ NULL, "Plugins", info_plugins, false },
	{ NULL, "Swarm", info_swarm, false },
	{ NULL, "Runtimes", info_runtimes, false },
	{ "Default Runtime", "DefaultRuntime", NULL, false },
	{ "Init Binary", "InitBinary", NULL, false },
	{ NULL, "ContainerdCommit", info_commits, false },
	{ NULL, "SecurityOptions", info_security, false },
	{ "Kernel Version", "KernelVersion", NULL, false },
	{ "Operating System", "OperatingSystem", NULL, false },
	{ "OSType", "OSType", NULL, false },
	{ "Architecture", "Architecture", NULL, false },
	{ "CPUs", "NCPU", NULL, false },
	{ NULL, "MemTotal", info_memory, false },
	{ "Name", "Name", NULL, false },
	{ "ID", "ID", NULL, false },
	{ "Docker Root Dir", "DockerRootDir", NULL, false },
	{ "Debug Mode", "Debug", NULL, true },
	{ "Experimental", "ExperimentalBuild", NULL, true },
	{ NULL, "RegistryConfig", info_insecure, false },
	{ "Live Restore Enabled", "LiveRestoreEnabled", NULL, true },
};

static int cmd_info(struct cli *cli, struct cli_opts *o)
{
	json_t *info = NULL;
	int r = cli_call(cli, "GET", "/info", NULL, &info);
	const char *fmt = opt_str(o, "format", NULL);
	if (fmt) {
		if (r < 0)
			return cli_fail(cli, 1);
		_cleanup_json_ json_t *j = info;
		return cli_print_formatted(cli, fmt, info);
	}
	printf("Client:\n Version:    %s\n Context:    default\n Debug Mode: %s\n\nServer:\n", SKIFF_CLI_VERSION,
	       cli->debug ? "true" : "false");
	if (r < 0) {
		printf("ERROR: %s\n", cli->err.msg);
		return 1;
	}
	printf(" Containers: %lld\n  Running: %lld\n  Paused: %lld\n  Stopped: %lld\n",
	       (long long)skiff_json_int(info, "Containers", 0), (long long)skiff_json_int(info, "ContainersRunning", 0),
	       (long long)skiff_json_int(info, "ContainersPaused", 0),
	       (long long)skiff_json_int(info, "ContainersStopped", 0));
	printf(" Images: %lld\n", (long long)skiff_json_int(info, "Images", 0));
	for (size_t i = 0; i < ARRAY_SIZE(info_rows); i++) {
		json_t *v = json_object_get(info, info_rows[i].key);
		if (info_rows[i].print) {
			if (v)
				info_rows[i].print(info, info_rows[i].key);
		} else if (v || info_rows[i].always) {
			print_info_value(info_rows[i].label, v ? v : json_false());
		}
	}
	json_t *warn = json_object_get(info, "Warnings");
	size_t i;
	json_t *w;
	putchar('\n');
	fflush(stdout);
	json_array_foreach(warn, i, w) fprintf(stderr, "%s\n", json_string_value(w) ? json_string_value(w) : "");
	json_decref(info);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_event(json_t *ev)
{
	int64_t nano = skiff_json_int(ev, "timeNano", 0);
	if (!nano)
		nano = skiff_json_int(ev, "time", 0) * 1000000000LL;
	time_t secs = nano / 1000000000LL;
	struct tm tm;
	localtime_r(&secs, &tm);
	char tbuf[64], zone[16];
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (tm.tm_gmtoff == 0)
		strcpy(zone, "Z");
	else
		snprintf(zone, sizeof(zone), "%c%02ld:%02ld", tm.tm_gmtoff < 0 ? '-' : '+', labs(tm.tm_gmtoff) / 3600,
			 labs(tm.tm_gmtoff) % 3600 / 60);
	json_t *actor = json_object_get(ev, "Actor");
	const char *type = skiff_json_str(ev, "Type", skiff_json_str(ev, "type", ""));
	const char *action = skiff_json_str(ev, "Action", skiff_json_str(ev, "status", ""));
	const char *id = skiff_json_str(actor, "ID", skiff_json_str(ev, "id", ""));
	printf("%s.%09lld%s %s %s %s", tbuf, (long long)(nano % 1000000000LL), zone, type, action, id);
	json_t *attrs = json_object_get(actor, "Attributes");
	size_t n = json_object_size(attrs);
	if (n) {
		const char **keys = calloc(n, sizeof(*keys));
		size_t i = 0;
		const char *k;
		json_t *v;
		json_object_foreach(attrs, k, v) keys[i++] = k;
		qsort(keys, n, sizeof(*keys), cmp_str);
		printf(" (");
		for (i = 0; i < n; i++)
			printf("%s%s=%s", i ? ", " : "", keys[i], skiff_json_str(attrs, keys[i], ""));
		printf(")");
		free(keys);
	}
	putchar('\n');
	fflush(stdout);
}

static int cmd_events(struct cli *cli, struct cli_opts *o)
{
	char path[2048] = "/events", ts[64];
	const char *sep = "?";
	const char *since = opt_str(o, "since", NULL), *until = opt_str(o, "until", NULL);
	if (since) {
		if (cli_timestamp(since, ts, sizeof(ts)) < 0)
			return cli_failf(cli, 1, "invalid value for \"since\": %s", since);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%ssince=%s", sep, ts);
		sep = "&";
	}
	if (until) {
		if (cli_timestamp(until, ts, sizeof(ts)) < 0)
			return cli_failf(cli, 1, "invalid value for \"until\": %s", until);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%suntil=%s", sep, ts);
		sep = "&";
	}
	size_t nf;
	const char **f = opt_list(o, "filter", &nf);
	_cleanup_free_ char *filters = cli_filters_query(f, nf);
	if (filters)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%sfilters=%s", sep, filters);

	const char *fmt = opt_str(o, "format", NULL);
	struct cli_tmpl *t = NULL;
	if (fmt && strcmp(fmt, "json")) {
		t = cli_tmpl_parse(fmt, NULL, &cli->err);
		if (!t)
			return cli_fail(cli, 1);
	}
	struct cli_resp *r = malloc(sizeof(*r));
	int ret = cli_http(cli, "GET", path, NULL, r);
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(cli, r);
	if (ret < 0) {
		cli_resp_close(r);
		free(r);
		cli_tmpl_free(t);
		return cli_fail(cli, 1);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t l;
	while ((l = cli_resp_getline(r, &line, &cap)) >= 0) {
		if (l == 0)
			continue;
		json_error_t je;
		json_t *ev = json_loads(line, 0, &je);
		if (!ev)
			continue;
		if (fmt && !t) {
			puts(line);
		} else if (t) {
			char *out = NULL;
			if (cli_tmpl_exec(t, ev, &out, &cli->err) == 0)
				puts(out);
			free(out);
		} else {
			print_event(ev);
		}
		fflush(stdout);
		json_decref(ev);
	}
	free(line);
	cli_tmpl_free(t);
	cli_resp_close(r);
	free(r);
	return 0;
}

static const struct cli_flag format_flags[] = {
	{ .name = "format", .shrt = 'f', .type = FLAG_STRING, .help = "Format output using a custom template" },
	{ 0 },
};

static const struct cli_flag events_flags[] = {
	{ .name = "filter", .shrt = 'f', .type = FLAG_LIST, .help = "Filter output based on conditions provided" },
	{ .name = "format", .type = FLAG_STRING, .help = "Format output using a custom template" },
	{ .name = "since", .type = FLAG_STRING, .help = "Show all events created since timestamp" },
	{ .name = "until", .type = FLAG_STRING, .help = "Stream events until this timestamp" },
	{ 0 },
};

const struct cli_cmd cli_system_cmds[] = {
	{ .name = "version", .summary = "Show the skiff version information", .usage = "[OPTIONS]",
	  .flags = format_flags, .max_args = 0, .run = cmd_version },
	{ .name = "info", .summary = "Display system-wide information", .usage = "[OPTIONS]",
	  .flags = format_flags, .max_args = 0, .run = cmd_info },
	{ .name = "events", .summary = "Get real time events from the server", .usage = "[OPTIONS]",
	  .flags = events_flags, .max_args = 0, .run = cmd_events },
};
const size_t cli_system_ncmds = ARRAY_SIZE(cli_system_cmds);
