/* `skiff cp`: the docker CLI's client half of docker cp. Copying in stats
 * the destination (HEAD .../archive), works out the directory to extract
 * into and the name the top entry must take (moby's PrepareArchiveCopy),
 * tars the source under that name and PUTs it; copying out GETs the tar and
 * extracts it with libskiff's extractor, renaming the top entry the same
 * way. Paths are handled lexically like Go's path/filepath. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/image/tar.h"
#include "../../userspace/lib/json.h"

/* Go's os.FileMode type bits, as the daemon reports them */
#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)
#define GO_MODE_DEVICE (1u << 26)
#define GO_MODE_IRREGULAR (1u << 19)

struct path_stat {
	char name[256];
	int64_t size;
	uint32_t mode;
	char link_target[PATH_MAX];
};

/* ---- Go's path/filepath, lexically ---------------------------------- */

/* filepath.Clean (Go's algorithm); malloc'd */
static char *go_clean(const char *p)
{
	bool rooted = p[0] == '/';
	char *out = malloc(strlen(p) + 2);
	size_t o = 0, dotdot = 0; /* dotdot: where backtracking must stop */
	if (!out)
		return NULL;
	if (rooted)
		out[o++] = '/', dotdot = 1;
	for (const char *s = p; *s;) {
		if (*s == '/') {
			s++;
			continue;
		}
		size_t l = strcspn(s, "/");
		if (l == 1 && s[0] == '.') {
			s += l;
			continue;
		}
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			s += l;
			if (o > dotdot) {
				o--;
				while (o > dotdot && out[o] != '/')
					o--;
			} else if (!rooted) {
				if (o > 0)
					out[o++] = '/';
				out[o++] = '.', out[o++] = '.';
				dotdot = o;
			}
			continue;
		}
		if (o != (rooted ? 1u : 0u))
			out[o++] = '/';
		memcpy(out + o, s, l);
		o += l;
		s += l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = 0;
	return out;
}

static bool trailing_sep(const char *p)
{
	size_t n = strlen(p);
	return n && p[n - 1] == '/';
}

/* filepath.Base; malloc'd */
static char *go_base(const char *p)
{
	if (!*p)
		return strdup(".");
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	if (n == 1 && p[0] == '/')
		return strdup("/");
	const char *s = p + n;
	while (s > p && s[-1] != '/')
		s--;
	return strndup(s, (size_t)(p + n - s));
}

/* filepath.Dir; malloc'd */
static char *go_dir(const char *p)
{
	const char *slash = strrchr(p, '/');
	_cleanup_free_ char *d = slash ? strndup(p, (size_t)(slash - p + 1)) : strdup("");
	return go_clean(d);
}

static char *go_join(const char *a, const char *b)
{
	_cleanup_free_ char *j = NULL;
	if (!*a)
		return go_clean(b);
	if (asprintf(&j, "%s/%s", a, b) < 0)
		return NULL;
	return go_clean(j);
}

static bool current_dir(const char *p)
{
	_cleanup_free_ char *b = go_base(p);
	return !strcmp(b, ".");
}

/* archive.SplitPathDirEntry: a trailing "." survives the cleaning */
static void split_dir_entry(const char *p, char **dir, char **base)
{
	_cleanup_free_ char *c = go_clean(p);
	if (current_dir(p)) {
		char *x = NULL;
		if (asprintf(&x, "%s/.", c) < 0)
			x = NULL;
		free(c);
		c = x;
	}
	*dir = go_dir(c);
	*base = go_base(c);
}

/* resolveLocalPath: absolute, keeping a trailing "/." or "/" */
static char *local_abs(const char *p)
{
	char cwd[PATH_MAX];
	_cleanup_free_ char *abs = NULL;
	if (p[0] == '/')
		abs = go_clean(p);
	else if (getcwd(cwd, sizeof(cwd)))
		abs = go_join(cwd, p);
	if (!abs)
		return NULL;
	char *out = NULL;
	bool add_dot = !current_dir(abs) && current_dir(p);
	bool add_sep = trailing_sep(p);
	if (asprintf(&out, "%s%s%s", abs, add_dot ? "/." : "", add_sep && !add_dot ? "/" : "") < 0)
		return NULL;
	return out;
}

/* archive.GetRebaseName */
static char *rebase_name(const char *path, char **resolved)
{
	char *r = *resolved, *x = NULL;
	if (current_dir(path) && !current_dir(r)) {
		if (asprintf(&x, "%s/.", r) >= 0)
			free(r), r = x;
	}
	if (trailing_sep(path) && !trailing_sep(r)) {
		if (asprintf(&x, "%s/", r) >= 0)
			free(r), r = x;
	}
	*resolved = r;
	_cleanup_free_ char *bp = go_base(path), *br = go_base(r);
	return strcmp(bp, br) ? strdup(bp) : NULL;
}

/* strings.Replace(s, old, new, 1), as RebaseArchiveEntries does */
static char *replace_first(const char *s, const char *old, const char *new)
{
	const char *at = strstr(s, old);
	char *out = NULL;
	if (!at || asprintf(&out, "%.*s%s%s", (int)(at - s), s, new, at + strlen(old)) < 0)
		return strdup(s);
	return out;
}

static const char *go_errno(int e)
{
	/* Go's syscall error strings are strerror's, lower-cased */
	static __thread char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && buf[1] >= 'a')
		buf[0] += 'a' - 'A';
	return buf;
}

/* ---- the daemon's side ---------------------------------------------- */

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int parse_path_stat(const char *b64, struct path_stat *st)
{
	size_t n = strlen(b64), o = 0;
	_cleanup_free_ char *raw = malloc(n + 1);
	unsigned acc = 0;
	int bits = 0;
	if (!raw)
		return -ENOMEM;
	for (size_t i = 0; i < n && b64[i] != '='; i++) {
		int v = b64_val(b64[i]);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[o++] = (char)(acc >> bits & 0xff);
		}
	}
	raw[o] = 0;
	_cleanup_json_ json_t *j = json_loads(raw, 0, NULL);
	if (!j)
		return -EINVAL;
	snprintf(st->name, sizeof(st->name), "%s", skiff_json_str(j, "name", ""));
	st->size = skiff_json_int(j, "size", 0);
	st->mode = (uint32_t)skiff_json_int(j, "mode", 0);
	snprintf(st->link_target, sizeof(st->link_target), "%s", skiff_json_str(j, "linkTarget", ""));
	return 0;
}

static void archive_path(char *buf, size_t len, const char *ctr, const char *query, const char *path)
{
	_cleanup_free_ char *ec = cli_urlencode(ctr), *ep = cli_urlencode(path);
	snprintf(buf, len, "/containers/%s/archive?%spath=%s", ec, query, ep);
}

/* ContainerStatPath: HEAD answers carry the stat in a header, errors only a status */
static int stat_path(struct cli *cli, const char *ctr, const char *path, struct path_stat *st)
{
	char url[PATH_MAX + 512];
	struct cli_resp *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	archive_path(url, sizeof(url), ctr, "", path);
	int ret = cli_http(cli, "HEAD", url, NULL, r);
	if (ret == 0 && r->status >= 400)
		ret = skiff_error_set(&cli->err, r->status, ENOENT, "Error: request returned %d for HEAD %s", r->status,
				      url);
	if (ret == 0)
		ret = parse_path_stat(r->path_stat, st);
	cli_resp_close(r);
	free(r);
	return ret;
}

/* ValidateOutputPathFileMode */
static const char *bad_mode(uint32_t mode)
{
	if (mode & GO_MODE_DEVICE)
		return "got a device";
	if (mode & GO_MODE_IRREGULAR)
		return "got an irregular file";
	return NULL;
}

/* ---- copy in ---------------------------------------------------------- */

struct tar_job {
	const char *src;   /* local path to archive */
	const char *top;   /* the name its entry takes in the archive */
	int fd;            /* pipe write end, closed by the job */
	struct skiff_error err;
};

static int host_entry(struct skiff_tar_writer *w, int dirfd, const char *base, const char *name,
		      const struct stat *st, struct skiff_error *err)
{
	struct skiff_tar_entry e = {
		.path = (char *)name, .linkname = "", .mode = st->st_mode & 07777, .uid = st->st_uid,
		.gid = st->st_gid, .mtime = st->st_mtim,
	};
	char link[PATH_MAX];
	_cleanup_close_ int fd = -1;
	e.mtime.tv_nsec = 0;
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		e.type = SKIFF_TAR_REG;
		e.size = st->st_size;
		fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return skiff_error_sys(err, 400, errno, "open %s", name);
		break;
	case S_IFDIR:
		e.type = SKIFF_TAR_DIR;
		break;
	case S_IFLNK: {
		ssize_t k = readlinkat(dirfd, base, link, sizeof(link) - 1);
		link[k < 0 ? 0 : k] = 0;
		e.type = SKIFF_TAR_SYMLINK;
		e.linkname = link;
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
		e.type = S_ISCHR(st->st_mode) ? SKIFF_TAR_CHR : SKIFF_TAR_BLK;
		e.devmajor = major(st->st_rdev);
		e.devminor = minor(st->st_rdev);
		break;
	case S_IFIFO:
		e.type = SKIFF_TAR_FIFO;
		break;
	default:
		return 0;
	}
	int r = skiff_tar_write_header(w, &e);
	char buf[65536];
	for (int64_t left = e.size; r == 0 && left > 0;) {
		ssize_t n = read(fd, buf, left > (int64_t)sizeof(buf) ? sizeof(buf) : (size_t)left);
		if (n <= 0) /* the file shrank: pad so the archive stays whole */
			n = left > (int64_t)sizeof(buf) ? (ssize_t)sizeof(buf) : (ssize_t)left, memset(buf, 0, n);
		r = skiff_tar_write_data(w, buf, (size_t)n);
		left -= n;
	}
	if (r < 0)
		return skiff_error_sys(err, 500, -r, "archiving %s", name);
	return 0;
}

static void *tar_source(void *arg)
{
	struct tar_job *j = arg;
	struct skiff_tar_writer *w = NULL;
	_cleanup_free_ char *dir = NULL, *base = NULL;
	split_dir_entry(j->src, &dir, &base);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int r = dfd < 0 ? -errno : 0;
	if (r == 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r < 0) {
		skiff_error_sys(&j->err, 400, -r, "lstat %s", j->src);
		goto out;
	}
	if ((r = skiff_tar_writer_new(j->fd, &w)) < 0) {
		skiff_error_sys(&j->err, 500, -r, "archiving %s", j->src);
		goto out;
	}
	if (host_entry(w, dfd, base, j->top, &st, &j->err) < 0)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int sub = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_free_ char *prefix = NULL;
		if (sub < 0) {
			skiff_error_sys(&j->err, 400, errno, "open %s", j->src);
			goto out;
		}
		if (asprintf(&prefix, "%s/", j->top) < 0 || skiff_tar_write_tree(w, sub, prefix, &j->err) < 0)
			goto out;
	}
	r = skiff_tar_writer_finish(w);
	w = NULL;
	if (r < 0)
		skiff_error_sys(&j->err, 500, -r, "archiving %s", j->src);
out:
	skiff_tar_writer_free(w);
	close(j->fd);
	return NULL;
}

static void copied(int64_t n, const char *to)
{
	char sz[32];
	cli_human_size((double)n, 3, sz, sizeof(sz));
	fprintf(stderr, "Successfully copied %s to %s\n", sz, to);
}

static int copy_in(struct cli *cli, const char *ctr, const char *src, const char *dst, bool follow, bool uidgid,
		   bool quiet)
{
	_cleanup_free_ char *srcabs = strcmp(src, "-") ? local_abs(src) : strdup("-");
	_cleanup_free_ char *dst_path = strdup(dst);
	struct path_stat st = { 0 };
	bool exists = false, is_dir = false;

	int r = stat_path(cli, ctr, dst, &st);
	if (r == 0 && (st.mode & GO_MODE_SYMLINK)) {
		char *target;
		if (st.link_target[0] == '/') {
			target = strdup(st.link_target);
		} else {
			_cleanup_free_ char *pdir = NULL, *pbase = NULL;
			split_dir_entry(dst, &pdir, &pbase);
			target = go_join(pdir, st.link_target);
		}
		free(dst_path);
		dst_path = target;
		memset(&st, 0, sizeof(st));
		r = stat_path(cli, ctr, dst_path, &st);
	}
	const char *why = bad_mode(r == 0 ? st.mode : 0);
	if (why)
		return cli_failf(cli, 1, "destination \"%s:%s\" must be a directory or a regular file: %s", ctr, dst, why);
	if (r == 0)
		exists = true, is_dir = st.mode & GO_MODE_DIR;
	skiff_error_clear(&cli->err);

	_cleanup_free_ char *extract_dir = NULL, *top = NULL;
	int in_fd = STDIN_FILENO;
	struct tar_job job = { .fd = -1 };
	pthread_t th;
	if (!strcmp(srcabs, "-")) {
		if (!is_dir)
			return cli_failf(cli, 1, "destination \"%s:%s\" must be a directory", ctr, dst);
		extract_dir = strdup(dst_path);
	} else {
		/* CopyInfoSourcePath: the parent's symlinks always resolve, the entry's only with -L */
		_cleanup_free_ char *resolved = NULL, *rebase = NULL;
		char real[PATH_MAX];
		if (follow) {
			if (!realpath(srcabs, real))
				return cli_failf(cli, 1, "lstat %s: %s", srcabs, go_errno(errno));
			resolved = strdup(real);
			rebase = rebase_name(srcabs, &resolved);
		} else {
			const char *slash = strrchr(srcabs, '/');
			_cleanup_free_ char *dirpart = strndup(srcabs, (size_t)(slash - srcabs + 1));
			if (!realpath(dirpart, real))
				return cli_failf(cli, 1, "lstat %s: %s", dirpart, go_errno(errno));
			if (asprintf(&resolved, "%s%s%s", real, strcmp(real, "/") ? "/" : "", slash + 1) < 0)
				return cli_failf(cli, 1, "out of memory");
			_cleanup_free_ char *b1 = go_base(srcabs), *b2 = go_base(resolved);
			if (trailing_sep(srcabs) && strcmp(b1, b2))
				rebase = strdup(b1);
		}
		struct stat lst;
		_cleanup_free_ char *clean = go_clean(resolved);
		if (lstat(clean, &lst) < 0)
			return cli_failf(cli, 1, "lstat %s: %s", clean, go_errno(errno));
		bool src_dir = S_ISDIR(lst.st_mode);

		/* PrepareArchiveCopy */
		_cleanup_free_ char *ddir = NULL, *dbase = NULL, *sdir = NULL, *sbase = NULL;
		split_dir_entry(dst_path, &ddir, &dbase);
		split_dir_entry(resolved, &sdir, &sbase);
		if (exists && is_dir) {
			extract_dir = strdup(dst_path);
			top = strdup(rebase ? rebase : sbase);
		} else if (exists && src_dir) {
			return cli_failf(cli, 1, "cannot copy directory");
		} else if (!exists && !src_dir && (trailing_sep(dst_path) || current_dir(dst_path))) {
			return cli_failf(cli, 1, "no such directory");
		} else {
			extract_dir = strdup(ddir);
			top = strdup(dbase);
		}
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return cli_failf(cli, 1, "pipe: %s", go_errno(errno));
		job.src = resolved;
		job.top = top;
		job.fd = p[1];
		if (pthread_create(&th, NULL, tar_source, &job) != 0) {
			close(p[0]);
			close(p[1]);
			return cli_failf(cli, 1, "cannot start the archiving thread");
		}
		in_fd = p[0];
		int ret = 0;
		char url[PATH_MAX + 512];
		int64_t sent = 0;
		archive_path(url, sizeof(url), ctr, uidgid ? "copyUIDGID=true&noOverwriteDirNonDir=true&" : "noOverwriteDirNonDir=true&",
			     extract_dir);
		struct cli_body b = { .fd = in_fd, .content_type = "text/plain", .sent = &sent };
		struct cli_resp *resp = malloc(sizeof(*resp));
		signal(SIGPIPE, SIG_IGN);
		ret = cli_http(cli, "PUT", url, &b, resp);
		if (ret == 0 && resp->status >= 400)
			ret = cli_resp_error(cli, resp);
		else if (ret == 0 && resp->status != 200)
			ret = skiff_error_set(&cli->err, 500, EIO, "unexpected status code from daemon: %d", resp->status);
		cli_resp_close(resp);
		free(resp);
		close(in_fd); /* a writer still going gets EPIPE */
		pthread_join(th, NULL);
		if (!quiet) {
			_cleanup_free_ char *to = NULL;
			if (asprintf(&to, "%s:%s", ctr, dst_path) > 0)
				copied(sent, to);
		}
		if (job.err.msg[0])
			return cli_failf(cli, 1, "%s", job.err.msg);
		return ret < 0 ? cli_fail(cli, 1) : 0;
	}

	/* a tar on stdin goes as it is */
	char url[PATH_MAX + 512];
	int64_t sent = 0;
	archive_path(url, sizeof(url), ctr, uidgid ? "copyUIDGID=true&noOverwriteDirNonDir=true&" : "noOverwriteDirNonDir=true&",
		     extract_dir);
	struct cli_body b = { .fd = in_fd, .content_type = "text/plain" };
	struct cli_resp *resp = malloc(sizeof(*resp));
	r = cli_http(cli, "PUT", url, &b, resp);
	if (r == 0 && resp->status >= 400)
		r = cli_resp_error(cli, resp);
	cli_resp_close(resp);
	free(resp);
	if (!quiet) {
		_cleanup_free_ char *to = NULL;
		if (asprintf(&to, "%s:%s", ctr, dst_path) > 0)
			copied(sent, to);
	}
	return r < 0 ? cli_fail(cli, 1) : 0;
}

/* ---- copy out --------------------------------------------------------- */

struct pump {
	struct cli_resp *r;
	int fd;
	int64_t n;
};

static void *pump_body(void *arg)
{
	struct pump *p = arg;
	char buf[65536];
	for (;;) {
		ssize_t n = cli_resp_read(p->r, buf, sizeof(buf));
		if (n <= 0)
			break;
		p->n += n;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(p->fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto out;
			off += w;
		}
	}
out:
	close(p->fd);
	return NULL;
}

struct rebase {
	int in, out;
	const char *from[2], *to[2];
	int err;
};

/* RebaseArchiveEntries (twice when -L renamed the source first) */
static void *rebase_entries(void *arg)
{
	struct rebase *rb = arg;
	struct skiff_tar_reader *rd = NULL;
	struct skiff_tar_writer *w = NULL;
	const struct skiff_tar_entry *e;
	char buf[65536];
	int r = skiff_tar_reader_new(rb->in, &rd);
	if (r == 0)
		r = skiff_tar_writer_new(rb->out, &w);
	while (r == 0 && (r = skiff_tar_next(rd, &e)) > 0) {
		struct skiff_tar_entry ne = *e;
		_cleanup_free_ char *p0 = NULL, *p1 = NULL, *l0 = NULL, *l1 = NULL;
		p0 = replace_first(e->path, rb->from[0], rb->to[0]);
		ne.path = p0;
		if (e->type == SKIFF_TAR_LINK) {
			l0 = replace_first(e->linkname, rb->from[0], rb->to[0]);
			ne.linkname = l0;
		}
		if (rb->from[1]) {
			p1 = replace_first(ne.path, rb->from[1], rb->to[1]);
			ne.path = p1;
			if (e->type == SKIFF_TAR_LINK) {
				l1 = replace_first(ne.linkname, rb->from[1], rb->to[1]);
				ne.linkname = l1;
			}
		}
		r = skiff_tar_write_header(w, &ne);
		if (ne.type != SKIFF_TAR_REG)
			continue;
		ssize_t n;
		while (r == 0 && (n = skiff_tar_read(rd, buf, sizeof(buf))) > 0)
			r = skiff_tar_write_data(w, buf, (size_t)n);
	}
	if (r == 0) {
		r = skiff_tar_writer_finish(w);
		w = NULL;
	}
	rb->err = r;
	skiff_tar_writer_free(w);
	skiff_tar_reader_free(rd);
	close(rb->out);
	return NULL;
}

/* CopyInfoDestinationPath: follows a symlink destination; a missing one needs its parent */
static int local_dest(struct cli *cli, const char *path, char **out, bool *exists, bool *is_dir)
{
	_cleanup_free_ char *p = go_clean(path);
	char *orig = strdup(path);
	struct stat st;
	int n = 0, r;
	/* Go's normalizePath keeps a trailing separator or "." */
	if (trailing_sep(path) || current_dir(path)) {
		free(p);
		p = strdup(path);
	}
	while ((r = lstat(p, &st)) == 0 && S_ISLNK(st.st_mode)) {
		char link[PATH_MAX];
		if (n++ > 10) {
			free(orig);
			return cli_failf(cli, 1, "too many symlinks in %s", path);
		}
		ssize_t k = readlink(p, link, sizeof(link) - 1);
		if (k < 0)
			break;
		link[k] = 0;
		char *next;
		if (link[0] == '/') {
			next = strdup(link);
		} else {
			_cleanup_free_ char *pd = NULL, *pb = NULL;
			split_dir_entry(p, &pd, &pb);
			next = go_join(pd, link);
		}
		free(p);
		p = next;
	}
	free(orig);
	if (r == 0) {
		*exists = true;
		*is_dir = S_ISDIR(st.st_mode);
		*out = TAKE_PTR(p);
		return 0;
	}
	if (errno != ENOENT)
		return cli_failf(cli, 1, "lstat %s: %s", p, go_errno(errno));
	_cleanup_free_ char *pd = NULL, *pb = NULL;
	split_dir_entry(p, &pd, &pb);
	if (stat(pd, &st) < 0)
		return cli_failf(cli, 1, "stat %s: %s", pd, go_errno(errno));
	if (!S_ISDIR(st.st_mode))
		return cli_failf(cli, 1, "not a directory");
	*exists = *is_dir = false;
	*out = TAKE_PTR(p);
	return 0;
}

static int copy_out(struct cli *cli, const char *ctr, const char *src, const char *dst, bool follow, bool quiet)
{
	_cleanup_free_ char *dstabs = strcmp(dst, "-") ? local_abs(dst) : strdup("-");
	_cleanup_free_ char *src_path = strdup(src), *rebase = NULL;
	struct stat lst;

	/* ValidateOutputPath */
	{
		_cleanup_free_ char *c = go_clean(dstabs), *d = go_dir(c);
		if (strcmp(d, ".") && stat(d, &lst) < 0 && errno == ENOENT)
			return cli_failf(cli, 1, "invalid output path: directory \"%s\" does not exist", d);
		if (stat(dstabs, &lst) == 0 && !S_ISDIR(lst.st_mode) && !S_ISREG(lst.st_mode) &&
		    (S_ISBLK(lst.st_mode) || S_ISCHR(lst.st_mode)))
			return cli_failf(cli, 1, "invalid output path: \"%s\" must be a directory or a regular file: got a device",
					 dstabs);
	}
	if (follow) {
		struct path_stat st = { 0 };
		if (stat_path(cli, ctr, src, &st) == 0 && (st.mode & GO_MODE_SYMLINK)) {
			char *target;
			if (st.link_target[0] == '/') {
				target = strdup(st.link_target);
			} else {
				_cleanup_free_ char *pd = NULL, *pb = NULL;
				split_dir_entry(src, &pd, &pb);
				target = go_join(pd, st.link_target);
			}
			rebase = rebase_name(src, &target);
			free(src_path);
			src_path = target;
		}
		skiff_error_clear(&cli->err);
	}

	char url[PATH_MAX + 512];
	archive_path(url, sizeof(url), ctr, "", src_path);
	struct cli_resp *r = malloc(sizeof(*r));
	int ret = cli_http(cli, "GET", url, NULL, r);
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(cli, r);
	if (ret < 0) {
		cli_resp_close(r);
		free(r);
		return cli_fail(cli, 1);
	}
	if (!strcmp(dstabs, "-")) {
		ret = cli_copy_stream(r, false);
		cli_resp_close(r);
		free(r);
		return ret < 0 ? cli_failf(cli, 1, "%s", go_errno(-ret)) : 0;
	}
	struct path_stat st = { 0 };
	parse_path_stat(r->path_stat, &st);
	bool src_dir = st.mode & GO_MODE_DIR;

	/* CopyTo → PrepareArchiveCopy */
	_cleanup_free_ char *dpath = NULL;
	bool exists, is_dir;
	if (local_dest(cli, dstabs, &dpath, &exists, &is_dir) != 0) {
		cli_resp_close(r);
		free(r);
		return 1;
	}
	_cleanup_free_ char *ddir = NULL, *dbase = NULL, *sdir = NULL, *sbase = NULL;
	split_dir_entry(dpath, &ddir, &dbase);
	split_dir_entry(src_path, &sdir, &sbase);
	const char *extract_dir = ddir;
	struct rebase rb = { .in = -1, .out = -1 };
	int nrb = 0;
	if (rebase) {
		rb.from[nrb] = strcmp(sbase, "/") ? sbase : "", rb.to[nrb++] = rebase;
	}
	const char *cur = rebase ? rebase : sbase;
	if (exists && is_dir) {
		extract_dir = dpath;
	} else if (exists && src_dir) {
		cli_resp_close(r);
		free(r);
		return cli_failf(cli, 1, "cannot copy directory");
	} else if (!exists && !src_dir && (trailing_sep(dpath) || current_dir(dpath))) {
		cli_resp_close(r);
		free(r);
		return cli_failf(cli, 1, "no such directory");
	} else {
		rb.from[nrb] = strcmp(cur, "/") ? cur : "", rb.to[nrb++] = dbase;
	}

	_cleanup_close_ int dirfd = open(extract_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		cli_resp_close(r);
		free(r);
		return cli_failf(cli, 1, "open %s: %s", extract_dir, go_errno(errno));
	}
	int p1[2], p2[2] = { -1, -1 };
	if (pipe2(p1, O_CLOEXEC) < 0 || (nrb && pipe2(p2, O_CLOEXEC) < 0)) {
		cli_resp_close(r);
		free(r);
		return cli_failf(cli, 1, "pipe: %s", go_errno(errno));
	}
	signal(SIGPIPE, SIG_IGN);
	struct pump pump = { .r = r, .fd = p1[1] };
	pthread_t tp, tr;
	pthread_create(&tp, NULL, pump_body, &pump);
	int in = p1[0];
	if (nrb) {
		rb.in = p1[0];
		rb.out = p2[1];
		pthread_create(&tr, NULL, rebase_entries, &rb);
		in = p2[0];
	}
	struct skiff_tar_reader *rd = NULL;
	struct skiff_error err = { 0 };
	ret = skiff_tar_reader_new(in, &rd);
	if (ret == 0)
		ret = skiff_tar_extract(rd, dirfd, SKIFF_TAR_X_NO_CHOWN, NULL, &err);
	skiff_tar_reader_free(rd);
	/* unblock the stages behind us, then wait for them */
	close(in);
	if (nrb) {
		pthread_join(tr, NULL);
		close(p1[0]);
	}
	pthread_join(tp, NULL);
	cli_resp_close(r);
	free(r);
	if (!quiet)
		copied(pump.n, dstabs);
	if (ret < 0)
		return cli_failf(cli, 1, "%s", err.msg[0] ? err.msg : go_errno(-ret));
	if (nrb && rb.err < 0)
		return cli_failf(cli, 1, "%s", go_errno(-rb.err));
	return 0;
}

/* splitCpArg: an absolute path or ./x:y is local; otherwise CONTAINER:PATH */
static void split_arg(const char *arg, char **ctr, const char **path)
{
	const char *colon = strchr(arg, ':');
	*ctr = NULL;
	*path = arg;
	if (arg[0] == '/' || !colon || arg[0] == '.')
		return;
	*ctr = strndup(arg, (size_t)(colon - arg));
	*path = colon + 1;
}

int cli_cmd_cp(struct cli *cli, struct cli_opts *o)
{
	const char *src = o->argv[0], *dst = o->argv[1];
	if (!*src)
		return cli_failf(cli, 1, "source can not be empty");
	if (!*dst)
		return cli_failf(cli, 1, "destination can not be empty");
	_cleanup_free_ char *sc = NULL, *dc = NULL;
	const char *sp, *dp;
	split_arg(src, &sc, &sp);
	split_arg(dst, &dc, &dp);
	/* docker is quiet when stdout is not a terminal */
	bool quiet = opt_bool(o, "quiet") || !isatty(STDOUT_FILENO);
	bool follow = opt_bool(o, "follow-link");
	if (sc && dc)
		return cli_failf(cli, 1, "copying between containers is not supported");
	if (sc)
		return copy_out(cli, sc, sp, dp, follow, quiet);
	if (dc)
		return copy_in(cli, dc, sp, dp, follow, opt_bool(o, "archive"), quiet);
	return cli_failf(cli, 1, "must specify at least one container source");
}

const struct cli_flag cli_cp_flags[] = {
	{ .name = "archive", .shrt = 'a', .type = FLAG_BOOL, .help = "Archive mode (copy all uid/gid information)" },
	{ .name = "follow-link", .shrt = 'L', .type = FLAG_BOOL, .help = "Always follow symbol link in SRC_PATH" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL,
	  .help = "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached" },
	{ 0 },
};
