/* The build context: safe extraction of the client's tar with a size limit
 * and .dockerignore applied, the Dockerfile read, and COPY/ADD's source
 * resolution, cache checksum and copy into a rootfs. All rootfs writes go
 * through openat2 so symlinks in an image cannot redirect them. */
#include "context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../image/tar.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"

#define DOCKERFILE_MAX (16 * 1024 * 1024)

static int open_in(int root, const char *rel, int flags, uint64_t resolve)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = resolve | RESOLVE_NO_MAGICLINKS,
	};
	long r = syscall(SYS_openat2, root, rel && *rel ? rel : ".", &how, sizeof(how));
	return r < 0 ? -errno : (int)r;
}

static uint64_t resolve_mode(unsigned int flags)
{
	return (flags & SKIFF_BUILD_SRC_ROOTFS) ? RESOLVE_IN_ROOT : RESOLVE_BENEATH;
}

/* ---- context extraction ---- */

/* Copies tar_fd into a socket for the extractor, counting bytes so an
 * oversized context stops at the limit instead of filling the disk. */
struct pump {
	int in, out;
	int64_t max, count;
	bool over;
};

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	char buf[65536];
	bool sending = true;

	for (;;) {
		ssize_t n = read(p->in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) { /* a non-blocking socket: wait for more */
			struct pollfd pfd = { .fd = p->in, .events = POLLIN };
			poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0)
			break;
		p->count += n;
		if (p->max > 0 && p->count > p->max) {
			p->over = true;
			break;
		}
		for (ssize_t off = 0; sending && off < n;) {
			ssize_t w = send(p->out, buf + off, n - off, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				/* the extractor stopped (end of archive or error):
				 * drain the rest so the client is not left hanging */
				sending = false;
				break;
			}
			off += w;
		}
	}
	shutdown(p->out, SHUT_WR);
	return NULL;
}

static int read_small_at(int dirfd, const char *rel, char **out, size_t *len)
{
	_cleanup_close_ int fd = open_in(dirfd, rel, O_RDONLY, RESOLVE_BENEATH);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	if (st.st_size > DOCKERFILE_MAX)
		return -EFBIG;
	if (!(buf = malloc(st.st_size + 1)))
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return 0;
}

/* Deletes what .dockerignore excludes below rel (a dir of the context). */
static int apply_ignore(struct skiff_build_context *ctx, const char *rel)
{
	_cleanup_close_ int dfd = open_in(ctx->dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, RESOLVE_BENEATH);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	if (dfd < 0)
		return dfd;
	if (!(d = fdopendir(dfd)))
		return -errno;
	dfd = -1;
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL;
		struct stat st;
		bool isdir;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&path, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0)
			return -ENOMEM;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		isdir = S_ISDIR(st.st_mode);
		if (!skiff_ignore_match(ctx->ignore, path)) {
			if (isdir && (r = apply_ignore(ctx, path)) < 0)
				return r;
			continue;
		}
		if (isdir && skiff_ignore_may_include(ctx->ignore, path)) {
			if ((r = apply_ignore(ctx, path)) < 0)
				return r;
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR); /* gone when nothing was re-included */
			continue;
		}
		if (isdir) {
			_cleanup_free_ char *full = skiff_path_join(ctx->dir, path);
			if (!full)
				return -ENOMEM;
			if ((r = skiff_rm_rf(full)) < 0)
				return r;
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			return -errno;
		}
	}
	return 0;
}

void skiff_build_context_free(struct skiff_build_context *ctx)
{
	if (!ctx)
		return;
	if (ctx->dirfd >= 0)
		close(ctx->dirfd);
	if (ctx->dir)
		skiff_rm_rf(ctx->dir);
	free(ctx->dir);
	free(ctx->dockerfile);
	free(ctx->dockerfile_path);
	skiff_ignore_free(ctx->ignore);
	free(ctx);
}

static int extract(struct skiff_build_context *ctx, int tar_fd, int64_t max_bytes, struct skiff_error *err)
{
	struct pump p = { .in = tar_fd, .max = max_bytes };
	struct skiff_tar_reader *rd = NULL;
	pthread_t th;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "reading build context");
	p.out = sv[1];
	if ((r = pthread_create(&th, NULL, pump_main, &p)) != 0) {
		close(sv[0]);
		close(sv[1]);
		return skiff_error_sys(err, SKIFF_EINTERNAL, r, "reading build context");
	}
	r = skiff_tar_reader_new(sv[0], &rd);
	if (r >= 0)
		r = skiff_tar_extract(rd, ctx->dirfd, SKIFF_TAR_X_NO_CHOWN, &ctx->size, err);
	else
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "reading build context");
	skiff_tar_reader_free(rd);
	/* closing our end makes the pump's sends fail: it drains and ends */
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	if (p.over || (max_bytes > 0 && ctx->size > max_bytes))
		return skiff_error_set(err, SKIFF_EINVAL, EFBIG, "build context is larger than the limit of %lld MiB",
				       (long long)(max_bytes >> 20));
	if (r < 0) {
		if (err && err->status == SKIFF_EINTERNAL)
			err->status = SKIFF_EINVAL; /* a malformed archive is the client's */
		return skiff_error_wrap(err, "extracting build context");
	}
	return 0;
}

int skiff_build_context_open(int tar_fd, int64_t max_bytes, const char *tmp_parent, const char *dockerfile_path,
			     struct skiff_build_context **out, struct skiff_error *err)
{
	struct skiff_build_context *ctx = calloc(1, sizeof(*ctx));
	const char *want = dockerfile_path && *dockerfile_path ? dockerfile_path : "Dockerfile";
	_cleanup_free_ char *ign_text = NULL, *ign_name = NULL;
	char clean[4096];
	int r;

	if (!ctx)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "reading build context: out of memory");
	ctx->dirfd = -1;
	if (asprintf(&ctx->dir, "%s/ctx-XXXXXX", tmp_parent) < 0) {
		ctx->dir = NULL;
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "reading build context: out of memory");
		goto fail;
	}
	if (!mkdtemp(ctx->dir)) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating build context dir in %s", tmp_parent);
		free(ctx->dir);
		ctx->dir = NULL;
		goto fail;
	}
	if ((ctx->dirfd = open(ctx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening %s", ctx->dir);
		goto fail;
	}
	if ((r = extract(ctx, tar_fd, max_bytes, err)) < 0)
		goto fail;

	r = skiff_path_clean(want, clean, sizeof(clean), false);
	if (r >= 0 && *clean)
		r = read_small_at(ctx->dirfd, clean, &ctx->dockerfile, &ctx->dockerfile_len);
	else
		r = -ENOENT;
	if (r == -ENOENT && (!dockerfile_path || !*dockerfile_path)) {
		strcpy(clean, "dockerfile");
		r = read_small_at(ctx->dirfd, clean, &ctx->dockerfile, &ctx->dockerfile_len);
	}
	if (r == -EFBIG) {
		r = skiff_error_set(err, SKIFF_EINVAL, EFBIG, "Dockerfile %s is larger than %d MiB", want,
				    DOCKERFILE_MAX >> 20);
		goto fail;
	}
	if (r < 0) {
		r = skiff_error_set(err, SKIFF_EINVAL, ENOENT, "Cannot locate specified Dockerfile: %s", want);
		goto fail;
	}
	if (!(ctx->dockerfile_path = strdup(clean))) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "reading build context: out of memory");
		goto fail;
	}

	/* BuildKit's per-Dockerfile ignore file wins over the context's */
	if (asprintf(&ign_name, "%s.dockerignore", clean) < 0) {
		ign_name = NULL;
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "reading build context: out of memory");
		goto fail;
	}
	r = read_small_at(ctx->dirfd, ign_name, &ign_text, NULL);
	if (r == -ENOENT)
		r = read_small_at(ctx->dirfd, ".dockerignore", &ign_text, NULL);
	if (r >= 0) {
		if ((r = skiff_ignore_parse(ign_text, &ctx->ignore, err)) < 0)
			goto fail;
		if ((r = apply_ignore(ctx, "")) < 0) {
			r = skiff_error_sys(err, SKIFF_EINTERNAL, -r, "applying .dockerignore");
			goto fail;
		}
	} else if (r != -ENOENT) {
		r = skiff_error_sys(err, SKIFF_EINVAL, -r, "reading .dockerignore");
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	skiff_build_context_free(ctx);
	return r;
}

/* ---- source resolution ---- */

void skiff_build_srcs_free(struct skiff_build_srcs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].name);
	}
	free(s->v);
	*s = (struct skiff_build_srcs){ 0 };
}

static int fd_path(int fd, char *buf, size_t len)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

/* A tar or tar.gz: the reader recognises a header. */
static bool is_archive(int rootfd, const char *path, uint64_t resolve)
{
	_cleanup_close_ int fd = open_in(rootfd, path, O_RDONLY | O_NOFOLLOW, resolve);
	struct skiff_tar_reader *r = NULL;
	const struct skiff_tar_entry *e;
	bool ok = false;

	if (fd < 0 || skiff_tar_reader_new(fd, &r) < 0)
		return false;
	ok = skiff_tar_next(r, &e) == 1;
	skiff_tar_reader_free(r);
	return ok;
}

static int srcs_add(struct skiff_build_srcs *out, int rootfd, const char *written, const char *clean,
		    unsigned int flags, const char *instr, struct skiff_error *err)
{
	uint64_t res = resolve_mode(flags);
	_cleanup_close_ int fd = open_in(rootfd, clean, O_PATH, res);
	char rootp[4096], objp[4096];
	const char *rel, *base;
	struct skiff_build_src *v, *s;
	struct stat st;
	int r;

	if (fd == -EXDEV || fd == -ELOOP)
		return skiff_error_set(err, SKIFF_EINVAL, EXDEV, "forbidden path outside the build context: %s ()",
				       written);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return skiff_error_set(err, SKIFF_EINVAL, ENOENT,
				       "%s failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist",
				       instr, clean);
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "%s failed: stat %s", instr, written);
	if (fstat(fd, &st) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "%s failed: stat %s", instr, written);
	if ((r = fd_path(rootfd, rootp, sizeof(rootp))) < 0 || (r = fd_path(fd, objp, sizeof(objp))) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "%s failed: resolving %s", instr, written);
	rel = objp;
	if (strcmp(rootp, "/")) {
		size_t n = strlen(rootp);
		if (strncmp(objp, rootp, n) || (objp[n] && objp[n] != '/'))
			return skiff_error_set(err, SKIFF_EINVAL, EXDEV,
					       "forbidden path outside the build context: %s ()", written);
		rel = objp + n;
	}
	while (*rel == '/')
		rel++;
	base = strrchr(clean, '/');
	base = base ? base + 1 : clean;

	if (!(v = realloc(out->v, (out->n + 1) * sizeof(*v))))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	out->v = v;
	s = &v[out->n];
	*s = (struct skiff_build_src){ .path = strdup(rel), .name = strdup(base), .dir = S_ISDIR(st.st_mode) };
	if (!s->path || !s->name) {
		free(s->path);
		free(s->name);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	if ((flags & SKIFF_BUILD_SRC_ADD) && S_ISREG(st.st_mode))
		s->archive = is_archive(rootfd, s->path, res);
	out->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in d but . and .. (only those matching the fnmatch pattern
 * pat, when set), sorted; *names is NULL when there are none. The caller
 * frees each and *names. */
static int read_sorted(DIR *d, const char *pat, char ***names, size_t *n)
{
	struct dirent *de;
	char **v = NULL;
	size_t nn = 0;

	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (pat && fnmatch(pat, de->d_name, 0) != 0)
			continue;
		char **nv = realloc(v, (nn + 1) * sizeof(*nv));
		if (!nv || !(nv[nn] = strdup(de->d_name))) {
			v = nv ? nv : v;
			for (size_t i = 0; i < nn; i++)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
		v = nv;
		nn++;
	}
	if (v)
		qsort(v, nn, sizeof(*v), cmp_str);
	*names = v;
	*n = nn;
	return 0;
}

/* Expands the glob components of pat (cleaned) below prefix. */
struct strv_acc {
	char **v;
	size_t n;
};

static int glob_walk(int rootfd, uint64_t res, const char *prefix, const char *pat, struct strv_acc *acc)
{
	const char *slash = strchr(pat, '/');
	size_t clen = slash ? (size_t)(slash - pat) : strlen(pat);
	_cleanup_free_ char *comp = strndup(pat, clen);
	int r = 0;

	if (!comp)
		return -ENOMEM;
	if (!strpbrk(comp, "*?[")) {
		_cleanup_free_ char *np = NULL;
		if (asprintf(&np, "%s%s%s", prefix, *prefix ? "/" : "", comp) < 0)
			return -ENOMEM;
		if (slash)
			return glob_walk(rootfd, res, np, slash + 1, acc);
		char **v = realloc(acc->v, (acc->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		acc->v = v;
		acc->v[acc->n++] = TAKE_PTR(np);
		return 0;
	}

	int dfd = open_in(rootfd, prefix, O_RDONLY | O_DIRECTORY, res);
	_cleanup_closedir_ DIR *d = NULL;
	char **names = NULL;
	size_t nn = 0;

	if (dfd < 0)
		return dfd == -ENOENT || dfd == -ENOTDIR ? 0 : dfd;
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return -errno;
	}
	r = read_sorted(d, comp, &names, &nn);
	for (size_t i = 0; r >= 0 && i < nn; i++) {
		_cleanup_free_ char *np = NULL;
		if (asprintf(&np, "%s%s%s", prefix, *prefix ? "/" : "", names[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		if (slash) {
			r = glob_walk(rootfd, res, np, slash + 1, acc);
		} else {
			char **v = realloc(acc->v, (acc->n + 1) * sizeof(*v));
			if (!v) {
				r = -ENOMEM;
				break;
			}
			acc->v = v;
			acc->v[acc->n++] = TAKE_PTR(np);
		}
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return r;
}

int skiff_build_context_resolve(int rootfd, const char *const *srcs, unsigned int flags, const char *instr,
				struct skiff_build_srcs *out, struct skiff_error *err)
{
	uint64_t res = resolve_mode(flags);
	int r = 0;

	*out = (struct skiff_build_srcs){ 0 };
	for (const char *const *sp = srcs; sp && *sp; sp++) {
		const char *src = *sp;
		char clean[4096];

		if (!strncmp(src, "http://", 7) || !strncmp(src, "https://", 8) || !strncmp(src, "git@", 4)) {
			if (flags & SKIFF_BUILD_SRC_ADD)
				r = skiff_error_set(err, SKIFF_EINVAL, ENETUNREACH,
						    "ADD from a URL is not supported: the host has no route to fetch %s", src);
			else
				r = skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						    "%s failed: source can't be a URL for COPY: %s", instr, src);
			goto fail;
		}
		r = skiff_path_clean(src, clean, sizeof(clean), (flags & SKIFF_BUILD_SRC_ROOTFS) != 0);
		if (r == -EXDEV) {
			r = skiff_error_set(err, SKIFF_EINVAL, EXDEV, "forbidden path outside the build context: %s ()",
					    src);
			goto fail;
		}
		if (r < 0) {
			r = skiff_error_sys(err, SKIFF_EINVAL, -r, "%s failed: bad source path %s", instr, src);
			goto fail;
		}
		if ((flags & SKIFF_BUILD_SRC_WILDCARDS) && strpbrk(clean, "*?[")) {
			struct strv_acc acc = { 0 };
			r = glob_walk(rootfd, res, "", clean, &acc);
			for (size_t i = 0; r >= 0 && i < acc.n; i++)
				r = srcs_add(out, rootfd, acc.v[i], acc.v[i], flags, instr, err);
			if (r == -ENOMEM || (r < 0 && !err))
				skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
			else if (r >= 0 && !acc.n)
				r = skiff_error_set(err, SKIFF_EINVAL, ENOENT, "%s failed: no source files were specified",
						    instr);
			for (size_t i = 0; i < acc.n; i++)
				free(acc.v[i]);
			free(acc.v);
			if (r < 0)
				goto fail;
			continue;
		}
		if ((r = srcs_add(out, rootfd, src, clean, flags, instr, err)) < 0)
			goto fail;
	}
	return 0;
fail:
	skiff_build_srcs_free(out);
	return r;
}

/* ---- checksum ---- */

static void hash_str(struct skiff_sha256 *c, const char *s)
{
	skiff_sha256_update(c, s, strlen(s) + 1);
}

/* One entry (dirfd + name, not followed) and, for a dir, all below it. */
static int hash_entry(struct skiff_sha256 *c, int pdir, const char *name, const char *rel, int uid, int gid,
		      int chmod)
{
	struct stat st;
	char line[256];
	int r = 0;

	if (fstatat(pdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	hash_str(c, rel);
	snprintf(line, sizeof(line), "%o %o %d:%d", (unsigned)(st.st_mode & S_IFMT),
		 !S_ISLNK(st.st_mode) && chmod >= 0 ? (unsigned)chmod : (unsigned)(st.st_mode & 07777), uid, gid);
	hash_str(c, line);
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = openat(pdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		char buf[65536];
		ssize_t n;
		if (fd < 0)
			return -errno;
		snprintf(line, sizeof(line), "%lld", (long long)st.st_size);
		hash_str(c, line);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			skiff_sha256_update(c, buf, n);
		if (n < 0)
			return -errno;
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(pdir, name, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		hash_str(c, target);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		snprintf(line, sizeof(line), "%u,%u", major(st.st_rdev), minor(st.st_rdev));
		hash_str(c, line);
	} else if (S_ISDIR(st.st_mode)) {
		int dfd = openat(pdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_closedir_ DIR *d = NULL;
		char **names = NULL;
		size_t nn = 0;

		if (dfd < 0)
			return -errno;
		if (!(d = fdopendir(dfd))) {
			close(dfd);
			return -errno;
		}
		r = read_sorted(d, NULL, &names, &nn);
		for (size_t i = 0; r >= 0 && i < nn; i++) {
			_cleanup_free_ char *sub = NULL;
			if (asprintf(&sub, "%s/%s", rel, names[i]) < 0)
				r = -ENOMEM;
			else
				r = hash_entry(c, dirfd(d), names[i], sub, uid, gid, chmod);
		}
		for (size_t i = 0; i < nn; i++)
			free(names[i]);
		free(names);
	}
	return r;
}

/* Opens the parent of a resolved source path and gives its last name. */
static int open_parent(int rootfd, const char *path, uint64_t res, const char **name)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *parent = slash ? strndup(path, slash - path) : strdup("");

	if (!parent)
		return -ENOMEM;
	*name = slash ? slash + 1 : path;
	return open_in(rootfd, parent, O_RDONLY | O_DIRECTORY, res);
}

int skiff_build_context_checksum(int rootfd, const struct skiff_build_srcs *srcs, unsigned int flags, int uid,
				 int gid, int chmod, char out[SKIFF_DIGEST_LEN], struct skiff_error *err)
{
	struct skiff_sha256 *c = skiff_sha256_new();
	uint64_t res = resolve_mode(flags);
	int r = 0;

	if (!c)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < srcs->n; i++) {
		const struct skiff_build_src *s = &srcs->v[i];
		const char *name;
		int pfd;

		hash_str(c, s->archive ? "archive" : "src");
		hash_str(c, s->name);
		if (!*s->path) {
			pfd = open_in(rootfd, "", O_RDONLY | O_DIRECTORY, res);
			name = ".";
		} else {
			pfd = open_parent(rootfd, s->path, res, &name);
		}
		if (pfd < 0) {
			r = pfd;
			break;
		}
		r = hash_entry(c, pfd, name, ".", uid, gid, chmod);
		close(pfd);
		if (r < 0)
			skiff_error_sys(err, SKIFF_EINTERNAL, -r, "checksum of %s", *s->path ? s->path : ".");
	}
	if (r >= 0)
		skiff_sha256_final(c, out, NULL);
	skiff_sha256_free(c);
	if (r < 0 && err && !err->status)
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "checksum of COPY sources");
	return r;
}

/* ---- copy ---- */

struct copy_opts {
	int uid, gid, chmod;
	const char *dest; /* for messages */
	struct skiff_error *err;
};

static int set_meta(int fd, const struct stat *st, const struct copy_opts *o)
{
	mode_t mode = o->chmod >= 0 ? (mode_t)o->chmod : (st->st_mode & 07777);
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchown(fd, o->uid, o->gid) < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) /* after fchown, which clears setuid bits */
		return -errno;
	if (futimens(fd, ts) < 0)
		return -errno;
	return 0;
}

static int copy_data_fd(int in, int out)
{
	char buf[65536];

	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (skiff_write_all(out, buf, n) < 0)
			return -errno;
	}
}

static int copy_entry(int sdir, const char *sname, int ddir, const char *dname, const struct copy_opts *o);

static int copy_dir_contents(int sfd, int dfd, const struct copy_opts *o)
{
	int fd = dup(sfd);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while (r >= 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = copy_entry(sfd, de->d_name, dfd, de->d_name, o);
	}
	return r;
}

static int copy_entry(int sdir, const char *sname, int ddir, const char *dname, const struct copy_opts *o)
{
	struct stat st, dst;
	bool exists;
	int r;

	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	exists = fstatat(ddir, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists) {
		if (S_ISDIR(dst.st_mode) && !S_ISDIR(st.st_mode))
			return skiff_error_set(o->err, SKIFF_EINVAL, EISDIR,
					       "cannot overwrite directory \"%s\" with non-directory", dname);
		if (!S_ISDIR(dst.st_mode) && unlinkat(ddir, dname, 0) < 0)
			return -errno;
		if (!S_ISDIR(dst.st_mode))
			exists = false;
	}

	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int sfd = -1, dfd = -1;
		if (!exists && mkdirat(ddir, dname, 0700) < 0)
			return -errno;
		sfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0)
			return -errno;
		if ((r = copy_dir_contents(sfd, dfd, o)) < 0)
			return r;
		return set_meta(dfd, &st, o);
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int sfd = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int dfd = -1;
		if (sfd < 0)
			return -errno;
		dfd = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dfd < 0)
			return -errno;
		if ((r = copy_data_fd(sfd, dfd)) < 0)
			return r;
		return set_meta(dfd, &st, o);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		struct timespec ts[2] = { st.st_atim, st.st_mtim };
		ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, ddir, dname) < 0)
			return -errno;
		if (fchownat(ddir, dname, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		utimensat(ddir, dname, ts, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
		mode_t mode = o->chmod >= 0 ? (mode_t)o->chmod : (st.st_mode & 07777);
		if (mknodat(ddir, dname, (st.st_mode & S_IFMT) | mode, st.st_rdev) < 0)
			return -errno;
		if (fchownat(ddir, dname, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return 0;
	}
	return 0; /* sockets are not copied */
}

/* mkdir -p of rel below the rootfs, every component resolved in the root
 * (an image's /app -> /srv/app symlink is followed inside it); new dirs
 * get 0755 and uid/gid. Returns an O_DIRECTORY fd. */
static int mkdir_in_root(int rootd, const char *rel, int uid, int gid)
{
	char path[4096];
	size_t len = strlen(rel);
	int fd = open_in(rootd, "", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);

	if (len >= sizeof(path)) {
		if (fd >= 0)
			close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(path, rel, len + 1);
	for (size_t i = 0; fd >= 0 && i < len;) {
		size_t e = i;
		while (e < len && path[e] != '/')
			e++;
		char saved = path[e];
		path[e] = '\0';
		int next = open_in(rootd, path, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
		if (next == -ENOENT) {
			const char *comp = path + i;
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				next = -errno;
			} else {
				fchownat(fd, comp, uid, gid, AT_SYMLINK_NOFOLLOW);
				next = open_in(rootd, path, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
			}
		}
		path[e] = saved;
		close(fd);
		fd = next;
		i = e + 1;
	}
	return fd;
}

static int extract_archive(int rootfd, const char *path, uint64_t res, int dfd, struct skiff_error *err)
{
	_cleanup_close_ int fd = open_in(rootfd, path, O_RDONLY | O_NOFOLLOW, res);
	struct skiff_tar_reader *r = NULL;
	int ret;

	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "ADD failed: opening %s", path);
	if ((ret = skiff_tar_reader_new(fd, &r)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -ret, "ADD failed: reading %s", path);
	ret = skiff_tar_extract(r, dfd, 0, NULL, err);
	skiff_tar_reader_free(r);
	if (ret < 0)
		return skiff_error_wrap(err, "ADD failed: extracting %s", path);
	return 0;
}

static int dest_split(const char *dest, char *rel, size_t len, bool *dir_syntax)
{
	size_t n = strlen(dest);
	*dir_syntax = n == 0 || dest[n - 1] == '/' || (n >= 2 && !strcmp(dest + n - 2, "/.")) || !strcmp(dest, ".");
	return skiff_path_clean(dest, rel, len, true);
}

/* Opens (creating it, owned by uid:gid) the directory under rootd that a
 * COPY destination lands in. *fname (in rel): the file name dest gives in
 * it; NULL when dest is that directory itself (as_dir, a trailing "/" or
 * "/.", or an existing directory). */
static int dest_open(int rootd, const char *dest_root, const char *dest, bool as_dir, int uid, int gid,
		     char rel[4096], const char **fname, struct skiff_error *err)
{
	char parent[4096];
	bool dir_syntax;
	int r;

	*fname = NULL;
	if (rootd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening %s", dest_root);
	if ((r = dest_split(dest, rel, 4096, &dir_syntax)) < 0)
		return skiff_error_sys(err, SKIFF_EINVAL, -r, "bad destination %s", dest);
	as_dir = as_dir || dir_syntax;
	if (!as_dir) {
		int fd = open_in(rootd, rel, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
		if (fd >= 0) {
			as_dir = true;
			close(fd);
		}
	}
	if (as_dir) {
		snprintf(parent, sizeof(parent), "%s", rel);
	} else {
		const char *slash = strrchr(rel, '/');
		snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - rel) : 0, rel);
		*fname = slash ? slash + 1 : rel;
	}
	if ((r = mkdir_in_root(rootd, parent, uid, gid)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating destination %s", dest);
	return r;
}

int skiff_build_context_copy(int rootfd, const struct skiff_build_srcs *srcs, unsigned int flags,
			     const char *dest_root, const char *dest, int uid, int gid, int chmod,
			     struct skiff_error *err)
{
	struct copy_opts o = { .uid = uid, .gid = gid, .chmod = chmod, .dest = dest, .err = err };
	uint64_t res = resolve_mode(flags);
	_cleanup_close_ int rootd = open(dest_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dfd = -1;
	char rel[4096];
	const char *fname = NULL;
	int r;

	skiff_error_clear(err);
	dfd = dest_open(rootd, dest_root, dest, srcs->n != 1 || srcs->v[0].dir || srcs->v[0].archive, uid, gid, rel,
			&fname, err);
	if (dfd < 0)
		return dfd;

	for (size_t i = 0; i < srcs->n; i++) {
		const struct skiff_build_src *s = &srcs->v[i];
		const char *name;
		_cleanup_close_ int pfd = -1;

		if (s->archive) {
			if ((r = extract_archive(rootfd, s->path, res, dfd, err)) < 0)
				return r;
			continue;
		}
		if (s->dir) {
			_cleanup_close_ int sfd = open_in(rootfd, s->path, O_RDONLY | O_DIRECTORY, res);
			if (sfd < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, -sfd, "copying %s", s->path);
			r = copy_dir_contents(sfd, dfd, &o);
		} else {
			pfd = open_parent(rootfd, s->path, res, &name);
			if (pfd < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, -pfd, "copying %s", s->path);
			r = copy_entry(pfd, name, dfd, fname ? fname : s->name, &o);
		}
		if (r < 0) {
			if (err && err->status)
				return r;
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "copying %s to %s", *s->path ? s->path : ".",
					       dest);
		}
	}
	return 0;
}

int skiff_build_context_copy_data(const char *dest_root, const char *dest, const char *name, const void *data,
				  size_t len, int uid, int gid, int chmod, struct skiff_error *err)
{
	_cleanup_close_ int rootd = open(dest_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dfd = -1, fd = -1;
	char rel[4096];
	const char *fname;
	int r;

	if ((dfd = dest_open(rootd, dest_root, dest, false, uid, gid, rel, &fname, err)) < 0)
		return dfd;
	if (!fname)
		fname = name;
	if (unlinkat(dfd, fname, 0) < 0 && errno != ENOENT)
		return skiff_error_sys(err, SKIFF_EINVAL, errno, "replacing %s", dest);
	fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating %s", dest);
	if ((r = skiff_write_all(fd, data, len)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing %s", dest);
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, chmod >= 0 ? (mode_t)chmod : 0644) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "setting owner of %s", dest);
	return 0;
}
