/* skiff build: `docker build` over the classic builder's protocol. The
 * context (a directory, or a tar or a lone Dockerfile on stdin) goes to
 * POST /build as an uncompressed tar with .dockerignore applied here, as the
 * docker CLI does; the daemon's JSON messages are printed as the classic
 * builder prints them (step headers highlighted on a terminal). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/build/dockerfile.h"
#include "../../userspace/image/tar.h"
#include "../../userspace/lib/json.h"

struct ctx {
	struct skiff_tar_writer *w;
	struct skiff_ignore *ig;
	const char *df_rel; /* the Dockerfile's path in the context: always sent */
	bool df_sent, ign_sent;
	struct skiff_error *err;
};

/* Where the tar is staged before it is streamed: an unnamed file, so the
 * daemon gets the whole context or nothing and errors (an unreadable file)
 * are reported before any byte is sent. */
static int stage_fd(void)
{
	const char *dir = getenv("TMPDIR");
	int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = memfd_create("skiff-build-context", MFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool always_sent(const struct ctx *c, const char *rel)
{
	return !strcmp(rel, ".dockerignore") || (c->df_rel && !strcmp(rel, c->df_rel));
}

static int add_file(struct ctx *c, int dirfd, const char *name, const char *rel, const struct stat *st)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return skiff_error_sys(c->err, 400, errno, "error checking context: can't open '%s'", rel);
	int r = skiff_tar_write_fd(c->w, rel, fd, st->st_size, st->st_mode & 07777, st->st_mtime);
	if (r < 0)
		return skiff_error_sys(c->err, 500, -r, "error archiving context: '%s'", rel);
	if (c->df_rel && !strcmp(rel, c->df_rel))
		c->df_sent = true;
	if (!strcmp(rel, ".dockerignore"))
		c->ign_sent = true;
	return 0;
}

static int add_entry(struct ctx *c, int dirfd, const char *name, const char *rel, const struct stat *st);

/* rel: "" for the context root, else "a/b" */
static int add_dir(struct ctx *c, int fd, const char *rel)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return skiff_error_sys(c->err, 400, errno, "error checking context: can't read '%s'", *rel ? rel : ".");
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n++] = strdup(de->d_name);
	}
	if (r == 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *child = NULL;
		if (asprintf(&child, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		struct stat st;
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = skiff_error_sys(c->err, 400, errno, "error checking context: can't stat '%s'", child);
			break;
		}
		r = add_entry(c, dirfd(d), names[i], child, &st);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int add_entry(struct ctx *c, int dirfd, const char *name, const char *rel, const struct stat *st)
{
	bool excluded = c->ig && skiff_ignore_match(c->ig, rel) && !always_sent(c, rel);
	if (S_ISDIR(st->st_mode)) {
		/* an excluded directory is still walked when a `!` pattern may
		 * bring back something below it (docker's CLI does the same) */
		if (excluded && !skiff_ignore_may_include(c->ig, rel) && !(c->df_rel && !strncmp(c->df_rel, rel, strlen(rel)) &&
									      c->df_rel[strlen(rel)] == '/'))
			return 0;
		if (!excluded) {
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s/", rel) < 0)
				return -ENOMEM;
			struct skiff_tar_entry e = { .path = p, .type = SKIFF_TAR_DIR, .mode = st->st_mode & 07777,
						     .mtime = { .tv_sec = st->st_mtime } };
			int r = skiff_tar_write_header(c->w, &e);
			if (r < 0)
				return skiff_error_sys(c->err, 500, -r, "error archiving context: '%s'", rel);
		}
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return skiff_error_sys(c->err, 400, errno, "error checking context: can't open '%s'", rel);
		return add_dir(c, fd, rel);
	}
	if (excluded)
		return 0;
	if (S_ISREG(st->st_mode))
		return add_file(c, dirfd, name, rel, st);
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t l = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (l < 0)
			return skiff_error_sys(c->err, 400, errno, "error checking context: can't readlink '%s'", rel);
		target[l] = 0;
		struct skiff_tar_entry e = { .path = (char *)rel, .linkname = target, .type = SKIFF_TAR_SYMLINK,
					     .mode = 0777, .mtime = { .tv_sec = st->st_mtime } };
		int r = skiff_tar_write_header(c->w, &e);
		return r < 0 ? skiff_error_sys(c->err, 500, -r, "error archiving context: '%s'", rel) : 0;
	}
	return 0; /* sockets, fifos, devices: nothing a build can COPY */
}

static char *read_file(int dirfd, const char *path, size_t *len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, l = 0;
	char *b = malloc(cap + 1);
	for (ssize_t n; b; l += n) {
		if (l == cap) {
			char *nb = realloc(b, (cap *= 2) + 1);
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
		}
		n = read(fd, b + l, cap - l);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	if (b) {
		b[l] = 0;
		if (len)
			*len = l;
	}
	return b;
}

/* "-" on stdin: a tar (any compression the daemon detects) is the context;
 * anything else is a Dockerfile and the context is empty. */
static bool looks_like_archive(const unsigned char *b, size_t n)
{
	if (n >= 262 && !memcmp(b + 257, "ustar", 5))
		return true;
	return (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) ||	       /* gzip */
	       (n >= 3 && !memcmp(b, "BZh", 3)) ||		       /* bzip2 */
	       (n >= 6 && !memcmp(b, "\xfd" "7zXZ\0", 6)) ||	       /* xz */
	       (n >= 4 && !memcmp(b, "\x28\xb5\x2f\xfd", 4));	       /* zstd */
}

/* Copies stdin into a staging file; returns its fd (at offset 0). */
static int slurp_stdin(struct cli *cli, size_t *size)
{
	int fd = stage_fd();
	if (fd < 0)
		return skiff_error_sys(&cli->err, 500, -fd, "staging stdin");
	char buf[65536];
	ssize_t n;
	*size = 0;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(fd, buf, n) != n) {
			int e = errno;
			close(fd);
			return skiff_error_sys(&cli->err, 500, e, "reading stdin");
		}
		*size += n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* A tar of the directory ctxdir for the daemon; *dfname gets the name the
 * daemon must read the Dockerfile under. A Dockerfile from outside the
 * context (or from stdin: df_text) is added under a random name, like the
 * docker CLI's ".dockerfile.<hex>". */
static int make_context(struct cli *cli, const char *ctxdir, const char *dfpath, const char *df_text,
			char **dfname, int *out_fd, int64_t *size)
{
	_cleanup_free_ char *absctx = realpath(ctxdir, NULL);
	struct stat st;
	if (!absctx || stat(absctx, &st) < 0)
		return skiff_error_set(&cli->err, 400, ENOENT, "unable to prepare context: path \"%s\" not found", ctxdir);
	if (!S_ISDIR(st.st_mode))
		return skiff_error_set(&cli->err, 400, ENOTDIR, "unable to prepare context: context must be a directory: %s",
				       ctxdir);

	_cleanup_free_ char *df_rel = NULL, *df_outside = NULL;
	if (df_text) {
		df_outside = strdup(df_text);
	} else {
		_cleanup_free_ char *given = NULL;
		if (dfpath)
			given = strdup(dfpath);
		else if (asprintf(&given, "%s/Dockerfile", absctx) < 0)
			return -ENOMEM;
		_cleanup_free_ char *absdf = realpath(given, NULL);
		if (!absdf || stat(absdf, &st) < 0 || !S_ISREG(st.st_mode))
			return skiff_error_set(&cli->err, 400, ENOENT, "Cannot locate specified Dockerfile: %s",
					       dfpath ? dfpath : "Dockerfile");
		size_t cl = strlen(absctx);
		/* the symlink-resolved path decides, as filepath.EvalSymlinks does in docker's CLI */
		if (!strncmp(absdf, absctx, cl) && absdf[cl] == '/')
			df_rel = strdup(absdf + cl + 1);
		else if (!(df_outside = read_file(AT_FDCWD, absdf, NULL)))
			return skiff_error_sys(&cli->err, 400, errno, "reading Dockerfile %s", given);
	}
	char rnd[32];
	if (df_outside) {
		unsigned char b[8];
		int ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (ufd < 0 || read(ufd, b, sizeof(b)) != sizeof(b))
			memset(b, 0x5a, sizeof(b));
		if (ufd >= 0)
			close(ufd);
		snprintf(rnd, sizeof(rnd), ".dockerfile.%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
			 b[5], b[6], b[7]);
	}

	struct ctx c = { .df_rel = df_rel, .err = &cli->err };
	_cleanup_close_ int rootfd = open(absctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return skiff_error_sys(&cli->err, 400, errno, "unable to prepare context: %s", ctxdir);
	_cleanup_free_ char *ign = read_file(rootfd, ".dockerignore", NULL);
	if (ign && skiff_ignore_parse(ign, &c.ig, &cli->err) < 0)
		return skiff_error_wrap(&cli->err, "reading .dockerignore");

	int fd = stage_fd();
	int r = fd < 0 ? skiff_error_sys(&cli->err, 500, -fd, "staging the build context") : 0;
	if (r == 0)
		r = skiff_tar_writer_new(fd, &c.w);
	int dfd = r == 0 ? dup(rootfd) : -1;
	if (r == 0 && dfd < 0)
		r = -errno;
	if (r == 0)
		r = add_dir(&c, dfd, "");
	/* the Dockerfile and .dockerignore go even from an excluded directory */
	if (r == 0 && df_rel && !c.df_sent && !fstatat(rootfd, df_rel, &st, 0))
		r = add_file(&c, rootfd, df_rel, df_rel, &st);
	if (r == 0 && ign && !c.ign_sent && !fstatat(rootfd, ".dockerignore", &st, 0))
		r = add_file(&c, rootfd, ".dockerignore", ".dockerignore", &st);
	if (r == 0 && df_outside)
		r = skiff_tar_write_buffer(c.w, rnd, df_outside, strlen(df_outside), 0600, 0);
	if (c.w) {
		int f = skiff_tar_writer_finish(c.w);
		if (r == 0 && f < 0)
			r = skiff_error_sys(&cli->err, 500, -f, "writing the build context");
	}
	skiff_ignore_free(c.ig);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		if (!cli->err.msg[0])
			skiff_error_sys(&cli->err, 500, -r, "archiving the build context");
		return r;
	}
	*size = lseek(fd, 0, SEEK_CUR);
	lseek(fd, 0, SEEK_SET);
	*out_fd = fd;
	*dfname = strdup(df_outside ? rnd : df_rel);
	return 0;
}

/* A tar holding only a Dockerfile (stdin was a Dockerfile, not a context). */
static int context_of_dockerfile(struct cli *cli, const char *text, size_t len, int *out_fd, int64_t *size)
{
	int fd = stage_fd();
	if (fd < 0)
		return skiff_error_sys(&cli->err, 500, -fd, "staging the build context");
	struct skiff_tar_writer *w = NULL;
	int r = skiff_tar_writer_new(fd, &w);
	if (r == 0)
		r = skiff_tar_write_buffer(w, "Dockerfile", text, len, 0600, 0);
	int f = w ? skiff_tar_writer_finish(w) : 0;
	if (r == 0)
		r = f;
	if (r < 0) {
		close(fd);
		return skiff_error_sys(&cli->err, 500, -r, "writing the build context");
	}
	*size = lseek(fd, 0, SEEK_CUR);
	lseek(fd, 0, SEEK_SET);
	*out_fd = fd;
	return 0;
}

/* ---- the request ----------------------------------------------------- */

struct query {
	char *buf;
	size_t len;
	FILE *f;
	const char *sep;
};

static void q_add(struct query *q, const char *key, const char *val)
{
	_cleanup_free_ char *e = cli_urlencode(val);
	fprintf(q->f, "%s%s=%s", q->sep, key, e);
	q->sep = "&";
}

/* KEY=VALUE list → {"KEY":"VALUE"}; a bare KEY takes its value from the
 * environment (docker's --build-arg FOO), or is sent as null when unset. */
/* --build-arg k=v; a bare k takes its value from the environment, null
 * when unset (docker's ValidateEnv, then ConvertKVStringsToMapWithNil) */
static json_t *build_args(const char **list, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(list[i], '=');
		_cleanup_free_ char *k = eq ? strndup(list[i], eq - list[i]) : strdup(list[i]);
		const char *v = eq ? eq + 1 : getenv(k);
		json_object_set_new(o, k, v ? json_string(v) : json_null());
	}
	return o;
}

static void q_json(struct query *q, const char *key, json_t *j)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	q_add(q, key, s);
}

static int q_bytes(struct cli *cli, struct query *q, struct cli_opts *o, const char *flag, const char *key)
{
	const char *v = opt_str(o, flag, NULL);
	if (!v)
		return 0;
	int64_t b;
	if (cli_parse_bytes(v, &b) < 0)
		return skiff_error_set(&cli->err, 400, EINVAL, "invalid argument \"%s\" for \"--%s\" flag", v, flag);
	char s[32];
	snprintf(s, sizeof(s), "%lld", (long long)b);
	q_add(q, key, s);
	return 0;
}

/* docker's reference check, the part users hit: lower-case repository */
static int check_tag(struct cli *cli, const char *t)
{
	const char *slash = strrchr(t, '/');
	const char *colon = strrchr(slash ? slash : t, ':');
	size_t rl = colon ? (size_t)(colon - t) : strlen(t);
	if (!rl)
		return skiff_error_set(&cli->err, 400, EINVAL,
				       "invalid argument \"%s\" for \"-t, --tag\" flag: invalid reference format", t);
	for (size_t i = 0; i < rl; i++)
		if (t[i] >= 'A' && t[i] <= 'Z')
			return skiff_error_set(&cli->err, 400, EINVAL,
					       "invalid argument \"%s\" for \"-t, --tag\" flag: invalid reference format: "
					       "repository name (library/%.*s) must be lowercase", t, (int)rl, t);
	return 0;
}

static int build_query(struct cli *cli, struct cli_opts *o, const char *dfname, struct query *q)
{
	q->f = open_memstream(&q->buf, &q->len);
	if (!q->f)
		return -ENOMEM;
	q->sep = "?";
	fputs("/build", q->f);
	size_t n;
	const char **l;
	if (dfname)
		q_add(q, "dockerfile", dfname);
	l = opt_list(o, "tag", &n);
	for (size_t i = 0; i < n; i++) {
		if (check_tag(cli, l[i]) < 0)
			return -EINVAL;
		q_add(q, "t", l[i]);
	}
	static const struct { const char *flag, *key; } bools[] = {
		{ "quiet", "q" }, { "no-cache", "nocache" }, { "pull", "pull" }, { "force-rm", "forcerm" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bools); i++)
		if (opt_bool(o, bools[i].flag))
			q_add(q, bools[i].key, "1");
	if (!opt_bool(o, "rm"))
		q_add(q, "rm", "0");
	static const struct { const char *flag, *key; } strs[] = {
		{ "target", "target" }, { "network", "networkmode" }, { "platform", "platform" },
		{ "cpu-shares", "cpushares" }, { "cpu-period", "cpuperiod" }, { "cpu-quota", "cpuquota" },
		{ "cpuset-cpus", "cpusetcpus" }, { "cpuset-mems", "cpusetmems" }, { "isolation", "isolation" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		const char *v = opt_str(o, strs[i].flag, NULL);
		if (v && *v)
			q_add(q, strs[i].key, v);
	}
	if (q_bytes(cli, q, o, "memory", "memory") < 0 || q_bytes(cli, q, o, "memory-swap", "memswap") < 0 ||
	    q_bytes(cli, q, o, "shm-size", "shmsize") < 0)
		return -EINVAL;
	l = opt_list(o, "build-arg", &n);
	if (n)
		q_json(q, "buildargs", build_args(l, n));
	l = opt_list(o, "label", &n);
	if (n)
		q_json(q, "labels", cli_kv_map(l, n));
	l = opt_list(o, "cache-from", &n);
	if (n) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_string(l[i]));
		q_json(q, "cachefrom", a);
	}
	l = opt_list(o, "add-host", &n);
	for (size_t i = 0; i < n; i++)
		q_add(q, "extrahosts", l[i]);
	q_add(q, "version", "1");
	fclose(q->f);
	q->f = NULL;
	return 0;
}

/* ---- the answer ------------------------------------------------------ */

struct render {
	bool tty, quiet, line_start;
	char *held; /* quiet: what the daemon said, shown only on failure */
	size_t held_len;
	FILE *held_f;
	char id[160];
};

static void show_stream(struct render *rd, const char *s)
{
	if (rd->quiet) {
		fputs(s, rd->held_f);
		return;
	}
	/* the classic builder sends "Step 2/6 : COPY . /app\n" as one message */
	if (rd->tty && rd->line_start && !strncmp(s, "Step ", 5)) {
		size_t l = strcspn(s, "\n");
		printf("\033[1;36m%.*s\033[0m", (int)l, s);
		s += l;
	}
	fputs(s, stdout);
	size_t l = strlen(s);
	if (l)
		rd->line_start = s[l - 1] == '\n';
	fflush(stdout);
}

static void show_status(struct render *rd, const json_t *j)
{
	const char *st = skiff_json_str(j, "status", "");
	const char *id = skiff_json_str(j, "id", NULL);
	const char *prog = skiff_json_str(j, "progress", NULL);
	/* pulls during FROM --pull: one line per state change, no bars */
	if (prog && !rd->tty)
		return;
	FILE *f = rd->quiet ? rd->held_f : stdout;
	if (id)
		fprintf(f, "%s: ", id);
	fprintf(f, "%s%s%s\n", st, prog ? " " : "", prog ? prog : "");
	rd->line_start = true;
}

/* Returns 0 when the build succeeded, else the exit code (the error's
 * code, as docker's CLI does: a failed RUN's exit status, or 1). */
static int render_stream(struct cli *cli, struct cli_resp *r, struct render *rd)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;
	bool any = false;
	while (cli_resp_getline(r, &line, &cap) >= 0) {
		_cleanup_json_ json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
		if (!j || !json_is_object(j))
			continue;
		any = true;
		const json_t *ed = json_object_get(j, "errorDetail");
		const char *e = skiff_json_str(ed, "message", NULL);
		if (!e)
			e = skiff_json_str(j, "error", NULL);
		if (e) {
			skiff_error_set(&cli->err, 500, EIO, "%s", e);
			int64_t code = skiff_json_int(ed, "code", 0);
			ret = code > 0 && code < 256 ? (int)code : 1;
			break;
		}
		const char *aux_id = skiff_json_str(json_object_get(j, "aux"), "ID", NULL);
		if (aux_id)
			snprintf(rd->id, sizeof(rd->id), "%s", aux_id);
		const char *s = skiff_json_str(j, "stream", NULL);
		if (s)
			show_stream(rd, s);
		else if (json_object_get(j, "status"))
			show_status(rd, j);
	}
	free(line);
	if (!ret && !any) {
		skiff_error_set(&cli->err, 500, EPROTO, "the daemon closed the build stream without a result");
		ret = 1;
	}
	return ret;
}

int cli_cmd_build(struct cli *cli, struct cli_opts *o)
{
	const char *path = o->argv[0];
	const char *dfflag = opt_str(o, "file", NULL);
	const char *progress = opt_str(o, "progress", "auto");
	static const char *const modes[] = { "auto", "plain", "tty", "quiet", "rawjson" };
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		known |= !strcmp(progress, modes[i]);
	if (!known)
		return cli_failf(cli, 125, "invalid argument \"%s\" for \"--progress\" flag: use auto, plain or tty",
				 progress);
	if (!strcmp(path, "-") && dfflag && !strcmp(dfflag, "-"))
		return cli_failf(cli, 1, "invalid argument: can't use stdin for both build context and dockerfile");

	int ctxfd = -1;
	int64_t size = 0;
	_cleanup_free_ char *dfname = NULL;
	if (!strcmp(path, "-")) {
		size_t n;
		int fd = slurp_stdin(cli, &n);
		if (fd < 0)
			return cli_fail(cli, 1);
		unsigned char head[512];
		ssize_t got = pread(fd, head, sizeof(head), 0);
		if (got < 0)
			got = 0;
		if (looks_like_archive(head, (size_t)got)) {
			ctxfd = fd;
			size = (int64_t)n;
			dfname = dfflag ? strdup(dfflag) : NULL;
		} else {
			_cleanup_free_ char *text = malloc(n + 1);
			if (!text || pread(fd, text, n, 0) != (ssize_t)n) {
				close(fd);
				return cli_failf(cli, 1, "reading the Dockerfile from stdin: %s", strerror(errno ? errno : EIO));
			}
			close(fd);
			if (context_of_dockerfile(cli, text, n, &ctxfd, &size) < 0)
				return cli_fail(cli, 1);
			dfname = strdup("Dockerfile");
		}
	} else {
		if (strstr(path, "://") || !strncmp(path, "git@", 4))
			return cli_failf(cli, 1, "unable to prepare context: remote contexts (%s) are not supported: "
						 "no registry or remote is reachable from skiff hosts", path);
		_cleanup_free_ char *df_text = NULL;
		if (dfflag && !strcmp(dfflag, "-")) {
			size_t n;
			int fd = slurp_stdin(cli, &n);
			if (fd < 0)
				return cli_fail(cli, 1);
			df_text = malloc(n + 1);
			if (df_text && pread(fd, df_text, n, 0) == (ssize_t)n)
				df_text[n] = 0;
			close(fd);
		}
		if (make_context(cli, path, df_text ? NULL : dfflag, df_text, &dfname, &ctxfd, &size) < 0)
			return cli_fail(cli, 1);
	}

	struct query q = { 0 };
	int r = build_query(cli, o, dfname, &q);
	if (q.f)
		fclose(q.f);
	if (r < 0) {
		free(q.buf);
		close(ctxfd);
		return cli_fail(cli, 125);
	}

	struct render rd = { .quiet = opt_bool(o, "quiet"), .line_start = true };
	rd.tty = !strcmp(progress, "tty") || (!strcmp(progress, "auto") && isatty(STDOUT_FILENO));
	if (rd.quiet)
		rd.held_f = open_memstream(&rd.held, &rd.held_len);
	else {
		char hs[32];
		cli_human_size((double)size, 4, hs, sizeof(hs));
		printf("Sending build context to Docker daemon  %s\n", hs);
		fflush(stdout);
	}

	/* X-Registry-Config: the auth configs for FROM pulls; no registry here */
	struct cli_body b = { .fd = ctxfd, .content_type = "application/x-tar",
			      .extra_headers = "X-Registry-Config: e30=\r\n" };
	struct cli_resp *resp = malloc(sizeof(*resp));
	int code = 0;
	r = resp ? cli_http(cli, "POST", q.buf, &b, resp) : -ENOMEM;
	free(q.buf);
	close(ctxfd);
	if (r == 0 && resp->status >= 400)
		r = cli_resp_error(cli, resp);
	if (r < 0)
		code = 1;
	else
		code = render_stream(cli, resp, &rd);
	if (resp) {
		cli_resp_close(resp);
		free(resp);
	}
	if (rd.held_f)
		fclose(rd.held_f);
	if (code) {
		if (rd.quiet && rd.held_len)
			fwrite(rd.held, 1, rd.held_len, stderr);
		free(rd.held);
		return cli_fail(cli, code);
	}
	if (rd.quiet) {
		/* the image id alone, whatever else the daemon said */
		if (rd.id[0])
			printf("%s\n", rd.id);
		else if (rd.held)
			fputs(rd.held, stdout);
	}
	free(rd.held);
	const char *iidfile = opt_str(o, "iidfile", NULL);
	if (iidfile) {
		_cleanup_fclose_ FILE *f = fopen(iidfile, "we");
		if (!f || !rd.id[0] || fputs(rd.id, f) < 0)
			return cli_failf(cli, 1, "failed to write image ID to file %s: %s", iidfile,
					 rd.id[0] ? strerror(errno) : "the daemon sent no image ID");
	}
	return 0;
}

const struct cli_flag cli_build_flags[] = {
	{ .name = "add-host", .type = FLAG_LIST, .help = "Add a custom host-to-IP mapping (\"host:ip\")" },
	{ .name = "build-arg", .type = FLAG_LIST, .help = "Set build-time variables" },
	{ .name = "cache-from", .type = FLAG_LIST, .help = "Images to consider as cache sources" },
	{ .name = "cpu-period", .type = FLAG_STRING, .help = "Limit the CPU CFS (Completely Fair Scheduler) period" },
	{ .name = "cpu-quota", .type = FLAG_STRING, .help = "Limit the CPU CFS (Completely Fair Scheduler) quota" },
	{ .name = "cpu-shares", .shrt = 'c', .type = FLAG_STRING, .help = "CPU shares (relative weight)" },
	{ .name = "cpuset-cpus", .type = FLAG_STRING, .help = "CPUs in which to allow execution (0-3, 0,1)" },
	{ .name = "cpuset-mems", .type = FLAG_STRING, .help = "MEMs in which to allow execution (0-3, 0,1)" },
	{ .name = "file", .shrt = 'f', .type = FLAG_STRING, .help = "Name of the Dockerfile (Default is \"PATH/Dockerfile\")" },
	{ .name = "force-rm", .type = FLAG_BOOL, .help = "Always remove intermediate containers" },
	{ .name = "iidfile", .type = FLAG_STRING, .help = "Write the image ID to the file" },
	{ .name = "isolation", .type = FLAG_STRING, .help = "Container isolation technology", .hidden = true },
	{ .name = "label", .type = FLAG_LIST, .help = "Set metadata for an image" },
	{ .name = "memory", .shrt = 'm', .type = FLAG_STRING, .help = "Memory limit" },
	{ .name = "memory-swap", .type = FLAG_STRING, .help = "Swap limit equal to memory plus swap: -1 to enable unlimited swap" },
	{ .name = "network", .type = FLAG_STRING, .def = "default", .help = "Set the networking mode for the RUN instructions during build" },
	{ .name = "no-cache", .type = FLAG_BOOL, .help = "Do not use cache when building the image" },
	{ .name = "platform", .type = FLAG_STRING, .help = "Set platform if server is multi-platform capable" },
	{ .name = "progress", .type = FLAG_STRING, .def = "auto", .help = "Set type of progress output (auto, plain, tty)" },
	{ .name = "pull", .type = FLAG_BOOL, .help = "Always attempt to pull a newer version of the image" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL, .help = "Suppress the build output and print image ID on success" },
	{ .name = "rm", .type = FLAG_BOOL, .def = "true", .help = "Remove intermediate containers after a successful build" },
	{ .name = "shm-size", .type = FLAG_STRING, .help = "Size of \"/dev/shm\"" },
	{ .name = "tag", .shrt = 't', .type = FLAG_LIST, .help = "Name and optionally a tag in the \"name:tag\" format" },
	{ .name = "target", .type = FLAG_STRING, .help = "Set the target build stage to build" },
	{ 0 },
};
