/* The builder's main loop, as Docker's classic builder runs a Dockerfile:
 * ARGs before FROM, stages (FROM image|stage|scratch AS name, --target),
 * one committed image per step (metadata steps commit a config-only image),
 * RUN in a container, COPY/ADD through the context helpers in a private
 * mount namespace, ONBUILD triggers, the build cache and the final tags. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../image/store.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "builder-internal.h"
#include "builder.h"
#include "../daemon/container-config.h"
#include "context.h"
#include "dockerfile.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const proxy_args[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
					  "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
					  "ALL_PROXY",  "all_proxy" };

struct stage {
	char *name;          /* AS name, lower-case; NULL */
	char image_id[72];   /* "" until the stage has an image (scratch) */
	json_t *ic;          /* the image config being built */
	json_t *args;        /* ARGs in scope: name -> string | null */
	bool cmd_set;
};

struct build {
	const struct skiff_build_opts *o;
	struct skiff_build_context *ctx;
	struct skiff_dockerfile *df;
	json_t *meta_args;   /* ARG before the first FROM */
	json_t *used;        /* build args consumed: name -> true */
	struct stage *stages;
	size_t nstages;
	int step, total;
	char escape;
	char *tmp;           /* <store tmp> for this build's steps */
};

/* ---- output ---- */

static void emit_stream(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_stream(struct build *b, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s && b->o->emit)
		b->o->emit(b->o->emit_data, json_pack("{s:s}", "stream", s));
}

static void emit_raw(void *data, const char *buf, size_t len)
{
	struct build *b = data;
	if (b->o->emit)
		b->o->emit(b->o->emit_data, json_pack("{s:s%}", "stream", buf, len));
}

static const char *short_id(const char *id, char out[13])
{
	snprintf(out, 13, "%s", id[0] ? skiff_digest_hex(id) : "");
	return out;
}

static bool cancelled(struct build *b)
{
	return b->o->cancel && *b->o->cancel;
}

/* ---- variables ---- */

static const char *var_get(const char *name, void *data)
{
	return json_string_value(json_object_get((const json_t *)data, name));
}

/* Expansion scope of a stage: its ARGs with values, then ENV (ENV wins). */
static json_t *stage_vars(const struct stage *st)
{
	json_t *v = json_object(), *e;
	const char *k;
	size_t i;
	json_object_foreach(st->args, k, e) if (json_is_string(e)) json_object_set(v, k, e);
	json_array_foreach(json_object_get(json_object_get(st->ic, "config"), "Env"), i, e)
	{
		const char *s = json_string_value(e), *eq = s ? strchr(s, '=') : NULL;
		if (eq) {
			_cleanup_free_ char *key = strndup(s, (size_t)(eq - s));
			if (key)
				json_object_set_new(v, key, json_string(eq + 1));
		}
	}
	return v;
}

static const json_t *buildarg(struct build *b, const char *name)
{
	json_t *v = b->o->buildargs ? json_object_get(b->o->buildargs, name) : NULL;
	return json_is_string(v) ? v : NULL;
}

/* ---- steps ---- */

static void random_id(char out[65])
{
	unsigned char r[32];
	_cleanup_close_ int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)((ts.tv_nsec >> (i % 8)) ^ (i * 131) ^ getpid());
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static void history_add(json_t *ic, const char *created_by)
{
	json_t *h = json_object_get(ic, "history");
	char now[40];
	struct timespec ts = skiff_now();
	skiff_time_format(&ts, now);
	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(ic, "history", h);
	}
	json_array_append_new(h, json_pack("{s:s, s:s}", "created", now, "created_by", created_by));
	json_object_set_new(ic, "created", json_string(now));
}

/* Cache probe: on a hit the stage moves to the cached image. */
static bool cache_hit(struct build *b, struct stage *st, const char *key)
{
	char id[72], full[72], s12[13];
	json_t *ic = NULL;
	if (b->o->nocache || build_cache_get(b->o->data_root, key, id) < 0 ||
	    skiff_image_resolve(b->o->store, id, full, NULL) < 0 || skiff_image_config(b->o->store, full, &ic, NULL) < 0)
		return false;
	json_decref(st->ic);
	st->ic = ic;
	snprintf(st->image_id, sizeof(st->image_id), "%s", full);
	emit_stream(b, " ---> Using cache\n");
	emit_stream(b, " ---> %s\n", short_id(full, s12));
	return true;
}

/* Commits ic (history row already added) with upper (may be NULL) as the
 * stage's next image, records the cache entry and prints Docker's lines. */
static int commit_step(struct build *b, struct stage *st, json_t *ic, const char *upper, const char *key,
		       const char *ctr_id, struct skiff_error *err)
{
	char id[72], s12[13];
	int r = skiff_image_commit(b->o->store, st->image_id, upper, ic, id, err);
	if (r < 0) {
		json_decref(ic);
		return r;
	}
	json_decref(st->ic);
	st->ic = ic;
	snprintf(st->image_id, sizeof(st->image_id), "%s", id);
	if (key)
		build_cache_put(b->o->data_root, key, id);
	emit_stream(b, " ---> Removed intermediate container %.12s\n", ctr_id);
	emit_stream(b, " ---> %s\n", short_id(id, s12));
	return 0;
}

/* The first half of a step that changes metadata (and WORKDIR): *ic gets
 * the stage's config with in applied, *comment its history line, key its
 * cache key. 1: the cache had the step (the stage moved on, nothing to
 * do); 0: go on, the "Running in" line printed for ctr. */
static int meta_begin(struct build *b, struct stage *st, const struct skiff_df_instr *in, json_t **ic,
		      char **comment, char key[72], char ctr[65], struct skiff_error *err)
{
	_cleanup_json_ json_t *vars = stage_vars(st);
	_cleanup_json_ json_t *c = json_deep_copy(st->ic);
	int r;

	if (!c)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if ((r = skiff_build_apply_meta(c, in, b->escape, vars, &st->cmd_set, comment, err)) < 0)
		return r;
	skiff_build_cache_key(st->image_id, *comment, NULL, key);
	if (cache_hit(b, st, key))
		return 1;
	random_id(ctr);
	emit_stream(b, " ---> Running in %.12s\n", ctr);
	*ic = TAKE_PTR(c);
	return 0;
}

static int step_meta(struct build *b, struct stage *st, const struct skiff_df_instr *in, struct skiff_error *err)
{
	_cleanup_free_ char *comment = NULL;
	json_t *ic = NULL;
	char key[72], ctr[65];
	int r = meta_begin(b, st, in, &ic, &comment, key, ctr, err);

	if (r != 0)
		return r < 0 ? r : 0;
	history_add(ic, comment);
	return commit_step(b, st, ic, NULL, key, ctr, err);
}

/* ---- a step's scratch dirs ---- */

struct scratch {
	char *dir, *upper, *work, *empty;
	char **lower;
};

static void scratch_free(struct scratch *s)
{
	if (s->dir)
		skiff_rm_rf(s->dir);
	free(s->dir);
	free(s->upper);
	free(s->work);
	free(s->empty);
	skiff_strvfree(s->lower);
	memset(s, 0, sizeof(*s));
}

static int scratch_new(struct build *b, struct stage *st, struct scratch *s, struct skiff_error *err)
{
	json_t *cfg = NULL;
	int r;
	memset(s, 0, sizeof(*s));
	if ((r = skiff_store_scratch_dir(b->o->store, &s->dir, err)) < 0)
		return r;
	s->upper = skiff_path_join(s->dir, "upper");
	s->work = skiff_path_join(s->dir, "work");
	s->empty = skiff_path_join(s->dir, "empty");
	if (!s->upper || !s->work || !s->empty || mkdir(s->upper, 0755) < 0 || mkdir(s->work, 0700) < 0 ||
	    mkdir(s->empty, 0755) < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno ? errno : ENOMEM, "creating the build step's directories");
		scratch_free(s);
		return r;
	}
	if (st->image_id[0]) {
		if ((r = skiff_image_runtime(b->o->store, st->image_id, &cfg, &s->lower, err)) < 0) {
			scratch_free(s);
			return r;
		}
		json_decref(cfg);
	}
	return 0;
}

/* ---- RUN ---- */

/* Mount points the runtime creates when the image lacks them: they are not
 * the step's changes (Docker keeps them in an init layer). */
static bool exists_in_lower(char *const *lower, const char *rel)
{
	for (char *const *l = lower; l && *l; l++) {
		_cleanup_free_ char *p = skiff_path_join(*l, rel);
		struct stat sb;
		if (p && lstat(p, &sb) == 0)
			return !(S_ISCHR(sb.st_mode) && sb.st_rdev == 0);
	}
	return false;
}

static void drop_runtime_artifacts(const struct scratch *s, const bool existed[])
{
	static const char *const paths[] = { "etc/hostname", "etc/hosts", "etc/resolv.conf", "dev", "proc", "sys", "etc" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		_cleanup_free_ char *p = skiff_path_join(s->upper, paths[i]);
		struct stat sb;
		if (!p || lstat(p, &sb) < 0)
			continue;
		if (S_ISREG(sb.st_mode) && sb.st_size == 0 && !existed[i])
			unlink(p);
		else if (S_ISDIR(sb.st_mode)) {
			char v[4];
			/* empty and not opaque: only a copy-up or a mount point */
			if (getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0 || !existed[i])
				rmdir(p);
		}
	}
}

static int write_etc(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *p = skiff_path_join(dir, name);
	return p ? skiff_write_replace(p, text, strlen(text), 0644) : -ENOMEM;
}

/* host_net: the host's resolv.conf as it is; otherwise without loopback
 * resolvers, which mean nothing in the step's own namespace (as for containers) */
static int prepare_etc(struct build *b, const struct scratch *s, const char *hostname, bool host_net, json_t *spec)
{
	_cleanup_free_ char *resolv = NULL, *hosts = NULL;
	char *h = NULL;
	size_t hl = 0;
	FILE *f = open_memstream(&h, &hl);
	if (!f)
		return -ENOMEM;
	fprintf(f, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	for (char **e = b->o->extrahosts; e && *e; e++) {
		const char *c = strchr(*e, ':');
		if (c)
			fprintf(f, "%s\t%.*s\n", c + 1, (int)(c - *e), *e);
	}
	fclose(f);
	hosts = h;
	if (skiff_read_file("/etc/resolv.conf", &resolv, NULL) < 0)
		resolv = strdup("");
	if (!host_net && resolv) {
		char *filtered = skiff_resolv_conf_filter(resolv);
		free(resolv);
		resolv = filtered;
	}
	char hn[80];
	snprintf(hn, sizeof(hn), "%s\n", hostname);
	if (write_etc(s->dir, "hostname", hn) < 0 || write_etc(s->dir, "hosts", hosts ? hosts : "") < 0 ||
	    write_etc(s->dir, "resolv.conf", resolv ? resolv : "") < 0)
		return -EIO;
	_cleanup_free_ char *p1 = skiff_path_join(s->dir, "hostname"), *p2 = skiff_path_join(s->dir, "hosts"),
			    *p3 = skiff_path_join(s->dir, "resolv.conf");
	json_object_set_new(spec, "etc_files", json_pack("{s:s, s:s, s:s}", "hostname", p1, "hosts", p2, "resolv.conf", p3));
	return 0;
}

/* Build args in effect for RUN (declared and valued, not shadowed by ENV),
 * sorted: they go into the env and, as Docker's "|N a=b" prefix, into the
 * history and the cache key. */
static json_t *run_buildargs(struct stage *st)
{
	json_t *out = json_array(), *e, *env = json_object_get(json_object_get(st->ic, "config"), "Env");
	const char *k;
	json_object_foreach(st->args, k, e)
	{
		bool shadow = false;
		size_t i, kl = strlen(k);
		json_t *x;
		if (!json_is_string(e))
			continue;
		json_array_foreach(env, i, x)
		{
			const char *s = json_string_value(x);
			shadow = shadow || (s && !strncmp(s, k, kl) && s[kl] == '=');
		}
		if (!shadow)
			json_array_append_new(out, json_sprintf("%s=%s", k, json_string_value(e)));
	}
	/* sort */
	size_t n = json_array_size(out);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(json_string_value(json_array_get(out, j - 1)),
						  json_string_value(json_array_get(out, j))) > 0; j--) {
			json_t *a = json_incref(json_array_get(out, j - 1));
			json_array_set(out, j - 1, json_array_get(out, j));
			json_array_set_new(out, j, a);
		}
	return out;
}

/* The command RUN executes: exec form as given; shell form (heredocs
 * appended as the shell's own here-documents) after the stage's shell. */
static json_t *run_argv(const struct stage *st, const struct skiff_df_instr *in)
{
	json_t *a, *sh = json_object_get(json_object_get(st->ic, "config"), "Shell");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (in->json) {
		a = json_array();
		for (char **p = in->args; p && *p; p++)
			json_array_append_new(a, json_string(*p));
		return a;
	}
	if (!(f = open_memstream(&text, &len)))
		return NULL;
	const char *line = in->args && in->args[0] ? in->args[0] : "";
	if (in->nheredocs == 1 && line[0] == '<' && line[1] == '<' && !strchr(line, ' ')) {
		/* `RUN <<EOF` alone: the body is the script (BuildKit) */
		fputs(in->heredocs[0].content, f);
	} else {
		fputs(line, f);
		for (size_t i = 0; i < in->nheredocs; i++)
			fprintf(f, "\n%s%s", in->heredocs[i].content, in->heredocs[i].name);
	}
	fclose(f);
	a = json_array_size(sh) ? json_deep_copy(sh) : json_pack("[s, s]", "/bin/sh", "-c");
	json_array_append_new(a, json_string(text ? text : ""));
	return a;
}

static char *join_argv(const json_t *argv)
{
	char *out = NULL;
	size_t len = 0, i;
	json_t *e;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	json_array_foreach(argv, i, e) fprintf(f, "%s%s", i ? " " : "", json_string_value(e));
	fclose(f);
	return out;
}

static int step_run(struct build *b, struct stage *st, const struct skiff_df_instr *in, struct skiff_error *err)
{
	_cleanup_json_ json_t *argv = run_argv(st, in), *bargs = run_buildargs(st), *spec = NULL;
	_cleanup_free_ char *cmdline = join_argv(argv), *created_by = NULL;
	static const char *const art[] = { "etc/hostname", "etc/hosts", "etc/resolv.conf", "dev", "proc", "sys", "etc" };
	bool existed[ARRAY_SIZE(art)];
	struct scratch s;
	char key[72], ctr[65], netns[256] = "host";
	const char *nm = b->o->networkmode;
	json_t *cfg = json_object_get(st->ic, "config"), *env, *e, *ic;
	bool hooked = false;
	int r, code = 0;
	size_t i;

	if (!argv || !bargs || !cmdline)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if (json_array_size(bargs)) {
		_cleanup_free_ char *joined = join_argv(bargs);
		if (asprintf(&created_by, "|%zu %s %s", json_array_size(bargs), joined ? joined : "", cmdline) < 0)
			created_by = NULL;
	} else
		created_by = strdup(cmdline);
	if (!created_by)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	skiff_build_cache_key(st->image_id, created_by, NULL, key);
	if (cache_hit(b, st, key))
		return 0;

	if ((r = scratch_new(b, st, &s, err)) < 0)
		return r;
	random_id(ctr);
	for (i = 0; i < ARRAY_SIZE(art); i++)
		existed[i] = exists_in_lower(s.lower, art[i]);

	/* env: the image's, PATH by default, then the build args */
	env = json_array();
	json_array_foreach(json_object_get(cfg, "Env"), i, e) json_array_append(env, e);
	bool has_path = false;
	json_array_foreach(env, i, e) has_path = has_path || !strncmp(json_string_value(e), "PATH=", 5);
	if (!has_path)
		json_array_insert_new(env, 0, json_string("PATH=" DEFAULT_PATH));
	char hn[13];
	snprintf(hn, sizeof(hn), "%.12s", ctr);
	json_array_insert_new(env, 1, json_sprintf("HOSTNAME=%s", hn));
	json_array_extend(env, bargs);
	for (i = 0; i < ARRAY_SIZE(proxy_args); i++) {
		const json_t *v = buildarg(b, proxy_args[i]);
		if (v && !json_object_get(st->args, proxy_args[i])) {
			json_array_append_new(env, json_sprintf("%s=%s", proxy_args[i], json_string_value(v)));
			json_object_set_new(b->used, proxy_args[i], json_true());
		}
	}
	if (!*skiff_json_str(cfg, "User", "") || !strcmp(skiff_json_str(cfg, "User", ""), "root") ||
	    !strncmp(skiff_json_str(cfg, "User", ""), "0:", 2) || !strcmp(skiff_json_str(cfg, "User", ""), "0")) {
		bool has_home = false;
		json_array_foreach(env, i, e) has_home = has_home || !strncmp(json_string_value(e), "HOME=", 5);
		if (!has_home)
			json_array_append_new(env, json_string("HOME=/root"));
	}

	if (nm && !strcmp(nm, "host"))
		snprintf(netns, sizeof(netns), "host");
	else if (nm && !strcmp(nm, "none"))
		snprintf(netns, sizeof(netns), "new");
	else if (nm && *nm && strcmp(nm, "default") && strcmp(nm, "bridge")) {
		json_decref(env);
		scratch_free(&s);
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "network mode \"%s\" is not supported for builds "
				       "(use default, bridge, host or none)", nm);
	} else if (b->o->netns_get) {
		if ((r = b->o->netns_get(b->o->netns_data, ctr, netns, sizeof(netns), err)) < 0) {
			json_decref(env);
			scratch_free(&s);
			return r;
		}
		hooked = true;
	}

	spec = json_pack("{s:s, s:O, s:o, s:s, s:s, s:s, s:{s:o, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}}", "id", ctr,
			 "args", argv, "env", env, "cwd",
			 *skiff_json_str(cfg, "WorkingDir", "") ? skiff_json_str(cfg, "WorkingDir", "") : "/", "user",
			 skiff_json_str(cfg, "User", ""), "hostname", hn, "rootfs", "lower",
			 s.lower && s.lower[0] ? skiff_json_from_strv(s.lower) : json_pack("[s]", s.empty), "upper",
			 s.upper, "work", s.work, "target", s.empty, "namespaces", "net", netns, "pid", "new", "ipc",
			 "new", "uts", "new", "cgroup", "new");
	if (!spec) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		goto out;
	}
	{
		/* the rootfs target: a dir of its own (the runtime mounts there) */
		_cleanup_free_ char *merged = skiff_path_join(s.dir, "merged");
		if (!merged || mkdir(merged, 0755) < 0) {
			r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating the build step's directories");
			goto out;
		}
		json_object_set_new(json_object_get(spec, "rootfs"), "target", json_string(merged));
	}
	const struct skiff_cgroup_limits *l = &b->o->limits;
	json_object_set_new(spec, "cgroup",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "Memory", (json_int_t)l->memory, "MemorySwap",
				      (json_int_t)l->memory_swap, "CpuShares", (json_int_t)l->cpu_shares, "CpuQuota",
				      (json_int_t)l->cpu_quota, "CpuPeriod", (json_int_t)l->cpu_period, "CpusetCpus",
				      l->cpuset_cpus));
	if (b->o->shmsize > 0) {
		char opt[64];
		snprintf(opt, sizeof(opt), "mode=1777,size=%lld", (long long)b->o->shmsize);
		json_object_set_new(spec, "mounts", json_pack("[{s:s, s:s, s:s, s:s}]", "type", "tmpfs", "source", "shm",
							      "target", "/dev/shm", "options", opt));
	}
	if (prepare_etc(b, &s, hn, !strcmp(netns, "host"), spec) < 0) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, EIO, "writing the build step's /etc files");
		goto out;
	}
	emit_stream(b, " ---> Running in %.12s\n", ctr);
	r = build_run_container(b->o->cg, spec, b->o->cancel, emit_raw, b, &code, err);
	if (r < 0) {
		skiff_error_wrap(err, "The command '%s' could not be started", cmdline);
		goto out;
	}
	if (cancelled(b)) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ECANCELED, "the build was cancelled");
		goto out;
	}
	if (code != 0) {
		r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "The command '%s' returned a non-zero code: %d", cmdline,
				    code);
		err->errnum = 1000 + code; /* skiff_build_exit_code reads it back */
		goto out;
	}
	drop_runtime_artifacts(&s, existed);
	ic = json_deep_copy(st->ic);
	history_add(ic, created_by);
	r = commit_step(b, st, ic, s.upper, key, ctr, err);
out:
	if (hooked && b->o->netns_release)
		b->o->netns_release(b->o->netns_data, ctr);
	scratch_free(&s);
	return r;
}

int skiff_build_exit_code(const struct skiff_error *err)
{
	return err && err->errnum > 1000 ? err->errnum - 1000 : 0;
}

/* ---- WORKDIR, COPY, ADD: a child with the step's overlay mounted ---- */

static int mkdir_fn(const char *root_path, int rootfd, int srcfd, void *data, struct skiff_error *err)
{
	(void)root_path;
	(void)srcfd;
	return build_mkdir_in_root(rootfd, data, 0, 0, err);
}

static int step_workdir(struct build *b, struct stage *st, const struct skiff_df_instr *in, struct skiff_error *err)
{
	_cleanup_free_ char *comment = NULL;
	json_t *ic = NULL;
	struct scratch s;
	char key[72], ctr[65];
	int r = meta_begin(b, st, in, &ic, &comment, key, ctr, err);

	if (r != 0)
		return r < 0 ? r : 0;
	if ((r = scratch_new(b, st, &s, err)) < 0) {
		json_decref(ic);
		return r;
	}
	r = build_in_rootfs(s.lower, s.upper, s.work, s.empty, NULL, mkdir_fn,
			    (void *)skiff_json_str(json_object_get(ic, "config"), "WorkingDir", "/"), err);
	if (r < 0) {
		json_decref(ic);
		scratch_free(&s);
		return r;
	}
	history_add(ic, comment);
	r = commit_step(b, st, ic, s.upper, key, ctr, err);
	scratch_free(&s);
	return r;
}

struct copy_job {
	struct skiff_build_srcs *srcs;
	const struct skiff_df_instr *in;
	unsigned int flags;
	int ctxfd;
	const char *dest;
	const char *chown;
	int chmod;
};

static const char *flag_of(const struct skiff_df_instr *in, const char *name)
{
	for (size_t i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, name))
			return in->flags[i].value;
	return NULL;
}

/* uid[:gid] with names looked up in the rootfs' /etc/passwd and /etc/group. */
static int lookup_id(int rootfd, const char *file, const char *name, int *out)
{
	char *end;
	long v = strtol(name, &end, 10);
	if (end != name && !*end) {
		*out = (int)v;
		return 0;
	}
	_cleanup_free_ char *path = NULL;
	char line[1024];
	FILE *f;
	if (asprintf(&path, "/proc/self/fd/%d/etc/%s", rootfd, file) < 0 || !(f = fopen(path, "re")))
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || (size_t)(c1 - line) != strlen(name) || strncmp(line, name, strlen(name)))
			continue;
		*out = atoi(c2 + 1);
		fclose(f);
		return 0;
	}
	fclose(f);
	return -ENOENT;
}

static int parse_chown(int rootfd, const char *spec, int *uid, int *gid, struct skiff_error *err)
{
	_cleanup_free_ char *u = strdup(spec);
	char *g;
	if (!u)
		return -ENOMEM;
	g = strchr(u, ':');
	if (g)
		*g++ = '\0';
	if (lookup_id(rootfd, "passwd", u, uid) < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "unable to find user %s: no matching entries in passwd file", u);
	if (g && lookup_id(rootfd, "group", g, gid) < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "unable to find group %s: no matching entries in group file", g);
	if (!g)
		*gid = *uid;
	return 0;
}

static int copy_fn(const char *root_path, int rootfd, int srcfd, void *data, struct skiff_error *err)
{
	struct copy_job *j = data;
	int uid = 0, gid = 0, r;
	if (j->chown && *j->chown && (r = parse_chown(rootfd, j->chown, &uid, &gid, err)) < 0)
		return r;
	if (srcfd >= 0) {
		/* --from: resolve inside the mounted source rootfs */
		struct skiff_build_srcs srcs = { 0 };
		_cleanup_free_ const char **v = calloc(j->srcs->n + 1, sizeof(char *));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < j->srcs->n; i++)
			v[i] = j->srcs->v[i].path;
		_cleanup_close_ int sfd = openat(srcfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening the COPY --from source");
		r = skiff_build_context_resolve(sfd, v, j->flags, j->in->name, &srcs, err);
		if (r == 0)
			r = skiff_build_context_copy(sfd, &srcs, j->flags, root_path, j->dest, uid, gid, j->chmod, err);
		skiff_build_srcs_free(&srcs);
		return r;
	}
	for (size_t i = 0; i < j->in->nheredocs; i++) {
		const struct skiff_df_heredoc *h = &j->in->heredocs[i];
		if ((r = skiff_build_context_copy_data(root_path, j->dest, h->name, h->content, strlen(h->content), uid,
						       gid, j->chmod, err)) < 0)
			return r;
	}
	if (j->srcs->n)
		return skiff_build_context_copy(j->ctxfd, j->srcs, j->flags, root_path, j->dest, uid, gid, j->chmod, err);
	return 0;
}

static struct stage *stage_by_ref(struct build *b, size_t upto, const char *ref)
{
	char *end;
	long idx = strtol(ref, &end, 10);
	if (end != ref && !*end)
		return idx >= 0 && (size_t)idx < upto ? &b->stages[idx] : NULL;
	for (size_t i = 0; i < upto; i++)
		if (b->stages[i].name && !strcasecmp(b->stages[i].name, ref))
			return &b->stages[i];
	return NULL;
}

static int step_copy(struct build *b, struct stage *st, size_t stage_ix, const struct skiff_df_instr *in,
		     struct skiff_error *err)
{
	bool add = in->cmd == SKIFF_DF_ADD;
	_cleanup_json_ json_t *vars = stage_vars(st);
	_cleanup_free_ char *dest = NULL, *comment = NULL, *text = NULL, *from_lower_id = NULL;
	_cleanup_strv_ char **from_lower = NULL;
	struct skiff_build_srcs srcs = { 0 };
	const char *from = flag_of(in, "from"), *chown = flag_of(in, "chown"), *chmod_s = flag_of(in, "chmod");
	unsigned int flags = SKIFF_BUILD_SRC_WILDCARDS | (add ? SKIFF_BUILD_SRC_ADD : 0);
	char key[72], sum[SKIFF_DIGEST_LEN] = "", ctr[65], src_image[72] = "";
	size_t nargs = 0, nsrc, i;
	int chmod = -1, r;
	struct scratch s;
	json_t *ic;

	while (in->args && in->args[nargs])
		nargs++;
	nsrc = nargs ? nargs - 1 : 0;
	if (chmod_s && *chmod_s) {
		char *end;
		long m = strtol(chmod_s, &end, 8);
		if (*end || m < 0 || m > 07777)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid chmod parameter: %s", chmod_s);
		chmod = (int)m;
	}
	/* expanded sources and dest */
	_cleanup_free_ const char **sv = calloc(nsrc + 1, sizeof(char *));
	_cleanup_strv_ char **owned = calloc(nsrc + 1, sizeof(char *));
	if (!sv || !owned)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	size_t nsv = 0;
	for (i = 0; i < nsrc; i++) {
		bool is_heredoc = false;
		for (size_t h = 0; h < in->nheredocs; h++)
			if (in->args[i][0] == '<' && in->args[i][1] == '<')
				is_heredoc = true;
		if (is_heredoc)
			continue;
		char *v = in->json ? strdup(in->args[i]) : skiff_df_expand(in->args[i], b->escape, var_get, vars, err);
		if (!v)
			return -EINVAL;
		owned[nsv] = v;
		sv[nsv++] = v;
	}
	if (!(dest = in->json ? strdup(in->args[nsrc]) : skiff_df_expand(in->args[nsrc], b->escape, var_get, vars, err)))
		return -EINVAL;
	if (dest[0] != '/') {
		const char *wd = skiff_json_str(json_object_get(st->ic, "config"), "WorkingDir", "");
		char *j = NULL;
		if (asprintf(&j, "%s/%s", wd[0] ? wd : "", dest) < 0)
			return -ENOMEM;
		free(dest);
		dest = j;
	}
	if (from && *from) {
		_cleanup_free_ char *fx = skiff_df_expand(from, b->escape, var_get, b->meta_args, err);
		struct stage *fs;
		if (!fx)
			return -EINVAL;
		fs = stage_by_ref(b, stage_ix, fx);
		if (fs)
			snprintf(src_image, sizeof(src_image), "%s", fs->image_id);
		else if ((r = skiff_image_resolve(b->o->store, fx, src_image, err)) < 0)
			return skiff_error_wrap(err, "%s --from=%s", in->name, fx);
		json_t *cfg = NULL;
		if (src_image[0] && (r = skiff_image_runtime(b->o->store, src_image, &cfg, &from_lower, err)) < 0)
			return r;
		json_decref(cfg);
		if (!from_lower)
			from_lower = calloc(1, sizeof(char *));
		/* the source is a whole image: its id stands for its content */
		for (i = 0; i < nsv; i++) {
			srcs.v = realloc(srcs.v, (srcs.n + 1) * sizeof(*srcs.v));
			srcs.v[srcs.n].path = strdup(sv[i]);
			srcs.v[srcs.n].name = NULL;
			srcs.v[srcs.n].dir = false;
			srcs.v[srcs.n].archive = false;
			srcs.n++;
		}
		flags |= SKIFF_BUILD_SRC_ROOTFS;
		snprintf(sum, sizeof(sum), "%s", src_image);
	} else if (nsv) {
		if ((r = skiff_build_context_resolve(b->ctx->dirfd, sv, flags, in->name, &srcs, err)) < 0)
			return r;
		if ((r = skiff_build_context_checksum(b->ctx->dirfd, &srcs, flags, 0, 0, chmod, sum, err)) < 0) {
			skiff_build_srcs_free(&srcs);
			return r;
		}
	}
	{
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		if (!f) {
			skiff_build_srcs_free(&srcs);
			return -ENOMEM;
		}
		/* Docker: "COPY file:<sum> in /dest " (dir:/multi: for others) */
		const char *kind = nsv + in->nheredocs > 1 ? "multi" : (srcs.n == 1 && srcs.v[0].dir ? "dir" : "file");
		fprintf(f, "%s %s:%s in %s ", in->name, kind, skiff_digest_hex(sum[0] ? sum : "sha256:"), dest);
		fclose(f);
	}
	comment = skiff_build_nop_comment(st->ic, text, false);
	{
		_cleanup_free_ char *extra = NULL;
		size_t hl = 0;
		FILE *f = open_memstream(&extra, &hl);
		if (f) {
			fprintf(f, "chown=%s chmod=%d from=%s", chown ? chown : "", chmod, src_image);
			for (size_t h = 0; h < in->nheredocs; h++)
				fprintf(f, "\n<<%s\n%s", in->heredocs[h].name, in->heredocs[h].content);
			fclose(f);
		}
		skiff_build_cache_key(st->image_id, comment, extra, key);
	}
	if (cache_hit(b, st, key)) {
		skiff_build_srcs_free(&srcs);
		return 0;
	}
	random_id(ctr);
	emit_stream(b, " ---> Running in %.12s\n", ctr);
	if ((r = scratch_new(b, st, &s, err)) < 0) {
		skiff_build_srcs_free(&srcs);
		return r;
	}
	struct copy_job job = { .srcs = &srcs, .in = in, .flags = flags, .ctxfd = b->ctx ? b->ctx->dirfd : -1,
				.dest = dest, .chown = chown, .chmod = chmod };
	r = build_in_rootfs(s.lower, s.upper, s.work, s.empty, from && *from ? from_lower : NULL, copy_fn, &job, err);
	skiff_build_srcs_free(&srcs);
	if (r < 0) {
		scratch_free(&s);
		return r;
	}
	ic = json_deep_copy(st->ic);
	history_add(ic, comment);
	r = commit_step(b, st, ic, s.upper, key, ctr, err);
	scratch_free(&s);
	return r;
}

/* ---- ARG ---- */

static int step_arg(struct build *b, struct stage *st, const struct skiff_df_instr *in, bool meta,
		    struct skiff_error *err)
{
	_cleanup_json_ json_t *vars = st ? stage_vars(st) : json_deep_copy(b->meta_args);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *scope = st ? st->args : b->meta_args;

	if (!f)
		return -ENOMEM;
	fputs("ARG", f);
	for (char **p = in->args; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		_cleanup_free_ char *name = eq ? strndup(*p, (size_t)(eq - *p)) : strdup(*p), *def = NULL;
		const json_t *ba;
		json_t *val = NULL;
		if (!name) {
			fclose(f);
			return -ENOMEM;
		}
		if (eq && !(def = skiff_df_expand(eq + 1, b->escape, var_get, vars, err))) {
			fclose(f);
			return -EINVAL;
		}
		ba = buildarg(b, name);
		if (ba)
			val = json_copy((json_t *)ba);
		else if (def)
			val = json_string(def);
		else if (!meta && json_is_string(json_object_get(b->meta_args, name)))
			val = json_copy(json_object_get(b->meta_args, name));
		else
			val = json_null();
		json_object_set_new(scope, name, val);
		if (b->o->buildargs && json_object_get(b->o->buildargs, name))
			json_object_set_new(b->used, name, json_true());
		fprintf(f, " %s%s%s", name, def ? "=" : "", def ? def : "");
	}
	fclose(f);
	if (meta || !st)
		return 0;
	/* Docker commits a config-only image for ARG inside a stage */
	_cleanup_free_ char *comment = skiff_build_nop_comment(st->ic, text, true);
	char key[72], ctr[65];
	_cleanup_free_ char *extra = NULL;
	{
		_cleanup_json_ json_t *ba = run_buildargs(st);
		extra = join_argv(ba);
	}
	skiff_build_cache_key(st->image_id, comment, extra, key);
	if (cache_hit(b, st, key))
		return 0;
	random_id(ctr);
	emit_stream(b, " ---> Running in %.12s\n", ctr);
	json_t *ic = json_deep_copy(st->ic);
	history_add(ic, comment);
	return commit_step(b, st, ic, NULL, key, ctr, err);
}

/* ---- FROM ---- */

static int dispatch(struct build *b, struct stage *st, size_t stage_ix, const struct skiff_df_instr *in,
		    struct skiff_error *err);

static int run_onbuild(struct build *b, struct stage *st, size_t stage_ix, struct skiff_error *err)
{
	json_t *cfg = json_object_get(st->ic, "config"), *ob = json_object_get(cfg, "OnBuild"), *t;
	_cleanup_json_ json_t *triggers = NULL;
	size_t i, n = json_array_size(ob);
	int r;
	if (!n)
		return 0;
	triggers = json_incref(ob);
	/* triggers run once: the new image does not inherit them */
	json_object_set_new(cfg, "OnBuild", json_null());
	emit_stream(b, "# Executing %zu build trigger%s\n", n, n == 1 ? "" : "s");
	json_array_foreach(triggers, i, t)
	{
		struct skiff_dockerfile *df = NULL;
		const char *text = json_string_value(t);
		if ((r = skiff_dockerfile_parse(text, strlen(text), &df, err)) < 0)
			return skiff_error_wrap(err, "parsing ONBUILD trigger \"%s\"", text);
		for (size_t k = 0; k < df->ninstrs && r == 0; k++)
			r = dispatch(b, st, stage_ix, &df->instrs[k], err);
		skiff_dockerfile_free(df);
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *host_arch(void)
{
	static const struct {
		const char *uname, *go;
	} map[] = { { "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm" }, { "i686", "386" },
		    { "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" } };
	static struct utsname u;
	if (uname(&u) < 0)
		return "amd64";
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(u.machine, map[i].uname))
			return map[i].go;
	return u.machine;
}

static int check_platform(const char *p, struct skiff_error *err)
{
	char want[64];
	if (!p || !*p)
		return 0;
	snprintf(want, sizeof(want), "linux/%s", host_arch());
	if (!strcmp(p, "linux") || !strcmp(p, want) || (!strncmp(p, want, strlen(want)) && p[strlen(want)] == '/'))
		return 0;
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
			       "platform \"%s\" is not supported: skiff builds only for this host's platform (%s)", p, want);
}

static int step_from(struct build *b, size_t ix, const struct skiff_df_instr *in, struct skiff_error *err)
{
	struct stage *st = &b->stages[ix];
	_cleanup_free_ char *base = skiff_df_expand(in->args[0], b->escape, var_get, b->meta_args, err);
	const char *platform = flag_of(in, "platform");
	char s12[13];
	int r;

	if (!base)
		return -EINVAL;
	if (platform) {
		_cleanup_free_ char *px = skiff_df_expand(platform, b->escape, var_get, b->meta_args, err);
		if (!px || (r = check_platform(px, err)) < 0)
			return px ? r : -EINVAL;
	}
	if (!base[0])
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "base name (%s) should not be blank", in->args[0]);
	st->args = json_object();
	st->name = in->args[1] && in->args[2] ? strdup(in->args[2]) : NULL;
	for (char *p = st->name; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	struct stage *prev = NULL;
	for (size_t i = 0; i < ix; i++)
		if (b->stages[i].name && !strcasecmp(b->stages[i].name, base))
			prev = &b->stages[i];
	if (prev) {
		snprintf(st->image_id, sizeof(st->image_id), "%s", prev->image_id);
		st->ic = json_deep_copy(prev->ic);
	} else if (!strcmp(base, "scratch")) {
		st->image_id[0] = '\0';
		st->ic = json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:[]}, s:[]}", "architecture", host_arch(), "os", "linux",
				   "config", "Env", "PATH=" DEFAULT_PATH, "rootfs", "type", "layers", "diff_ids", "history");
	} else {
		char id[72];
		if (skiff_image_resolve(b->o->store, base, id, NULL) < 0)
			return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT,
					       "pull access denied for %s: No such image: %s (skiff has no registry to pull "
					       "from here; load or build the base image first)",
					       base, base);
		snprintf(st->image_id, sizeof(st->image_id), "%s", id);
		if ((r = skiff_image_config(b->o->store, id, &st->ic, err)) < 0)
			return r;
	}
	if (!st->ic)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	/* the config starts from the base's: drop its container-only fields */
	json_object_del(st->ic, "container");
	json_object_del(st->ic, "container_config");
	emit_stream(b, " ---> %s\n", short_id(st->image_id, s12));
	return prev ? 0 : run_onbuild(b, st, ix, err);
}

static int dispatch(struct build *b, struct stage *st, size_t stage_ix, const struct skiff_df_instr *in,
		    struct skiff_error *err)
{
	if (cancelled(b))
		return skiff_error_set(err, SKIFF_EINTERNAL, ECANCELED, "the build was cancelled");
	switch (in->cmd) {
	case SKIFF_DF_RUN:
		return step_run(b, st, in, err);
	case SKIFF_DF_COPY:
	case SKIFF_DF_ADD:
		return step_copy(b, st, stage_ix, in, err);
	case SKIFF_DF_WORKDIR:
		return step_workdir(b, st, in, err);
	case SKIFF_DF_ARG:
		return step_arg(b, st, in, false, err);
	case SKIFF_DF_FROM:
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "FROM isn't allowed here");
	default:
		return step_meta(b, st, in, err);
	}
}

/* ---- the build ---- */

static void build_free(struct build *b)
{
	for (size_t i = 0; i < b->nstages; i++) {
		free(b->stages[i].name);
		json_decref(b->stages[i].ic);
		json_decref(b->stages[i].args);
	}
	free(b->stages);
	skiff_dockerfile_free(b->df);
	skiff_build_context_free(b->ctx);
	json_decref(b->meta_args);
	json_decref(b->used);
	if (b->tmp)
		skiff_rm_rf(b->tmp);
	free(b->tmp);
}

static int line_err(struct skiff_error *err, int line, const char *msg)
{
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "dockerfile parse error on line %d: %s", line, msg);
}

/* Final labels (the API's labels=) as one more config-only step. */
static int apply_labels(struct build *b, struct stage *st, struct skiff_error *err)
{
	json_t *cfg, *labels, *v;
	const char *k;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	if (!json_object_size((json_t *)b->o->labels))
		return 0;
	json_t *ic = json_deep_copy(st->ic);
	cfg = json_object_get(ic, "config");
	if (!json_is_object(cfg)) {
		cfg = json_object();
		json_object_set_new(ic, "config", cfg);
	}
	labels = json_object_get(cfg, "Labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(cfg, "Labels", labels);
	}
	if (!(f = open_memstream(&text, &len))) {
		json_decref(ic);
		return -ENOMEM;
	}
	fputs("LABEL", f);
	json_object_foreach((json_t *)b->o->labels, k, v)
	{
		json_object_set(labels, k, v);
		fprintf(f, " %s=%s", k, json_string_value(v) ? json_string_value(v) : "");
	}
	fclose(f);
	_cleanup_free_ char *comment = skiff_build_nop_comment(ic, text, true);
	free(text);
	char ctr[65], key[72];
	/* cached like any LABEL step, so a rebuild with the same labels gives the same id */
	skiff_build_cache_key(st->image_id, comment, NULL, key);
	if (cache_hit(b, st, key)) {
		json_decref(ic);
		return 0;
	}
	random_id(ctr);
	history_add(ic, comment);
	emit_stream(b, " ---> Running in %.12s\n", ctr);
	return commit_step(b, st, ic, NULL, key, ctr, err);
}

int skiff_build(const struct skiff_build_opts *o, char id[72], struct skiff_error *err)
{
	struct build b = { .o = o };
	size_t first_from, nstages = 0, target_ix = (size_t)-1;
	_cleanup_free_ char *tmp_parent = NULL;
	int r = 0;
	char s12[13];

	id[0] = '\0';
	b.meta_args = json_object();
	b.used = json_object();
	if (!b.meta_args || !b.used)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if ((r = check_platform(o->platform, err)) < 0)
		goto out;
	/* normalise the tags first: a bad one fails before any work */
	for (char **t = o->tags; t && *t; t++) {
		char norm[512];
		if ((r = skiff_ref_normalize(*t, norm, sizeof(norm), err)) < 0) {
			skiff_error_wrap(err, "invalid tag \"%s\"", *t);
			goto out;
		}
	}
	if ((r = skiff_store_scratch_dir(o->store, &b.tmp, err)) < 0)
		goto out;
	if ((r = skiff_build_context_open(o->context_fd, o->context_limit > 0 ? o->context_limit
									   : SKIFF_BUILD_CONTEXT_LIMIT_DEFAULT,
					  b.tmp, o->dockerfile, &b.ctx, err)) < 0)
		goto out;
	if ((r = skiff_dockerfile_parse(b.ctx->dockerfile, b.ctx->dockerfile_len, &b.df, err)) < 0)
		goto out;
	b.escape = b.df->escape ? b.df->escape : '\\';
	if (b.df->syntax)
		emit_stream(&b, "[Notice] # syntax=%s is ignored: skiff runs the classic builder\n", b.df->syntax);

	/* structure: ARGs, then stages */
	for (first_from = 0; first_from < b.df->ninstrs && b.df->instrs[first_from].cmd != SKIFF_DF_FROM; first_from++)
		if (b.df->instrs[first_from].cmd != SKIFF_DF_ARG) {
			r = line_err(err, b.df->instrs[first_from].line, "no build stage in current context");
			goto out;
		}
	if (first_from == b.df->ninstrs) {
		r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "No image was generated. Is your Dockerfile empty?");
		goto out;
	}
	for (size_t i = first_from; i < b.df->ninstrs; i++)
		if (b.df->instrs[i].cmd == SKIFF_DF_FROM) {
			const struct skiff_df_instr *in = &b.df->instrs[i];
			if (o->target && *o->target && in->args[1] && in->args[2] && !strcasecmp(in->args[2], o->target) &&
			    target_ix == (size_t)-1)
				target_ix = nstages;
			nstages++;
		}
	if (o->target && *o->target && target_ix == (size_t)-1) {
		r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "failed to reach build target %s in Dockerfile", o->target);
		goto out;
	}
	if (target_ix != (size_t)-1)
		nstages = target_ix + 1;
	b.stages = calloc(nstages, sizeof(*b.stages));
	if (!b.stages) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		goto out;
	}
	/* Docker's step count: meta ARGs plus every instruction of the stages built */
	b.total = (int)first_from;
	{
		size_t s = 0;
		for (size_t i = first_from; i < b.df->ninstrs; i++) {
			if (b.df->instrs[i].cmd == SKIFF_DF_FROM && s++ == nstages)
				break;
			b.total++;
		}
	}
	for (size_t i = 0; i < first_from; i++) {
		const struct skiff_df_instr *in = &b.df->instrs[i];
		emit_stream(&b, "Step %d/%d : %s\n", ++b.step, b.total, in->original);
		if ((r = step_arg(&b, NULL, in, true, err)) < 0)
			goto out;
	}
	{
		ssize_t cur = -1;
		for (size_t i = first_from; i < b.df->ninstrs; i++) {
			const struct skiff_df_instr *in = &b.df->instrs[i];
			if (in->cmd == SKIFF_DF_FROM) {
				if ((size_t)(cur + 1) == nstages)
					break;
				cur++;
				b.nstages = (size_t)cur + 1;
			}
			emit_stream(&b, "Step %d/%d : %s\n", ++b.step, b.total, in->original);
			if (in->cmd == SKIFF_DF_FROM)
				r = step_from(&b, (size_t)cur, in, err);
			else
				r = dispatch(&b, &b.stages[cur], (size_t)cur, in, err);
			if (r < 0)
				goto out;
		}
	}
	struct stage *last = &b.stages[b.nstages - 1];
	if ((r = apply_labels(&b, last, err)) < 0)
		goto out;
	if (!last->image_id[0]) {
		/* FROM scratch and nothing else: an image with no layers */
		json_t *ic = json_deep_copy(last->ic);
		json_object_set_new(ic, "created", json_string(""));
		{
			char now[40];
			struct timespec ts = skiff_now();
			skiff_time_format(&ts, now);
			json_object_set_new(ic, "created", json_string(now));
		}
		if ((r = skiff_image_commit(o->store, NULL, NULL, ic, last->image_id, err)) < 0) {
			json_decref(ic);
			goto out;
		}
		json_decref(ic);
	}
	/* unused build args (Docker's warning) */
	{
		const char *k;
		json_t *v;
		_cleanup_free_ char *list = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&list, &len);
		bool any = false;
		json_object_foreach((json_t *)o->buildargs, k, v)
		{
			bool proxy = false;
			for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++)
				proxy = proxy || !strcmp(k, proxy_args[i]);
			if (proxy || json_object_get(b.used, k) || json_object_get(b.meta_args, k))
				continue;
			if (f)
				fprintf(f, "%s%s", any ? " " : "", k);
			any = true;
		}
		if (f)
			fclose(f);
		if (any)
			emit_stream(&b, "[Warning] One or more build-args [%s] were not consumed\n", list ? list : "");
	}
	snprintf(id, 72, "%s", last->image_id);
	if (o->emit)
		o->emit(o->emit_data, json_pack("{s:{s:s}}", "aux", "ID", id));
	emit_stream(&b, "Successfully built %s\n", short_id(id, s12));
	for (char **t = o->tags; t && *t; t++) {
		char norm[512];
		skiff_ref_normalize(*t, norm, sizeof(norm), NULL);
		/* skiff_image_tag splits repo and tag itself when tag is NULL */
		if ((r = skiff_image_tag(o->store, id, norm, NULL, err)) < 0)
			goto out;
		emit_stream(&b, "Successfully tagged %s\n", norm);
	}
out:
	(void)tmp_parent;
	build_free(&b);
	return r;
}
