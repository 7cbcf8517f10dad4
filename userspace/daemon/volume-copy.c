/* Docker's copy-up of an image's content into a new volume
 * (skiff_volume_copy_up, skiff_copy_tree_into) and the size walk behind
 * df and prune (skiff_dir_size). */
#include "volume-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"

/* ---- copy-up ---- */

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *dst;
};

struct copy {
	struct hardlink *links;
	size_t nlinks, cap;
	struct skiff_error *err;
};

/* overlay's own attributes describe the layer, not the content */
static bool skip_xattr(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13);
}

static int copy_xattrs(const char *src, const char *dst, struct copy *c)
{
	_cleanup_free_ char *names = NULL, *val = NULL;
	ssize_t n = llistxattr(src, NULL, 0);
	size_t vcap = 0;

	if (n < 0)
		return errno == ENOTSUP || errno == ENODATA
			   ? 0
			   : skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "listing xattrs of %s", src);
	if (n == 0)
		return 0;
	if (!(names = malloc((size_t)n)))
		return -ENOMEM;
	n = llistxattr(src, names, (size_t)n);
	if (n < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "listing xattrs of %s", src);
	for (char *k = names; k < names + n; k += strlen(k) + 1) {
		ssize_t vl;
		if (skip_xattr(k))
			continue;
		vl = lgetxattr(src, k, NULL, 0);
		if (vl < 0)
			continue;
		if ((size_t)vl + 1 > vcap) {
			char *nv = realloc(val, (size_t)vl + 1);
			if (!nv)
				return -ENOMEM;
			val = nv;
			vcap = (size_t)vl + 1;
		}
		vl = lgetxattr(src, k, val, vcap);
		if (vl < 0)
			continue;
		if (lsetxattr(dst, k, val, (size_t)vl, 0) < 0 && errno != ENOTSUP)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "setting xattr %s on %s", k, dst);
	}
	return 0;
}

/* Owner, mode, xattrs and times, in the order that keeps setuid bits
 * (chown clears them) and the mtime (xattrs and writes touch ctime only). */
static int copy_meta(const char *src, const char *dst, const struct stat *st, struct copy *c)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	int r;
	if (lchown(dst, st->st_uid, st->st_gid) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "chown %s", dst);
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "chmod %s", dst);
	if ((r = copy_xattrs(src, dst, c)) < 0)
		return r;
	if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "setting times of %s", dst);
	return 0;
}

static int copy_data(const char *src, const char *dst, const struct stat *st, struct copy *c)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[65536];

	if (in < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "opening %s", src);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "creating %s", dst);
	for (off_t left = st->st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EXDEV, ENOSYS, a file that shrank: plain copy from here */
		left -= n;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "reading %s", src);
		if (n == 0)
			break;
		int r = skiff_write_all(out, buf, (size_t)n);
		if (r < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, -r, "writing %s", dst);
	}
	return 0;
}

static int copy_entry(const char *src, const char *dst, dev_t root_dev, struct copy *c);

static int copy_dir_contents(const char *src, const char *dst, dev_t root_dev, struct copy *c)
{
	_cleanup_closedir_ DIR *d = opendir(src);
	struct dirent *de;
	if (!d)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "reading %s", src);
	while ((de = readdir(d))) {
		_cleanup_free_ char *s = NULL, *t = NULL;
		int r;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&s, "%s/%s", src, de->d_name) < 0 || asprintf(&t, "%s/%s", dst, de->d_name) < 0)
			return -ENOMEM;
		if ((r = copy_entry(s, t, root_dev, c)) < 0)
			return r;
	}
	return 0;
}

static int copy_entry(const char *src, const char *dst, dev_t root_dev, struct copy *c)
{
	struct stat st;
	int r;

	if (lstat(src, &st) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "stat %s", src);
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0700) < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "mkdir %s", dst);
		/* an image's content never spans mounts; do not copy what is mounted below */
		if (st.st_dev == root_dev && (r = copy_dir_contents(src, dst, root_dev, c)) < 0)
			return r;
		return copy_meta(src, dst, &st, c);
	}
	if (!S_ISLNK(st.st_mode) && st.st_nlink > 1) {
		for (size_t i = 0; i < c->nlinks; i++) {
			if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino) {
				if (link(c->links[i].dst, dst) < 0)
					return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "link %s", dst);
				return 0;
			}
		}
	}
	if (S_ISREG(st.st_mode)) {
		if ((r = copy_data(src, dst, &st, c)) < 0)
			return r;
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlink(src, target, PATH_MAX);
		if (n < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "readlink %s", src);
		target[n] = '\0';
		if (symlink(target, dst) < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "symlink %s", dst);
	} else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		return 0; /* an overlay whiteout: the file is deleted in this view */
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
		if (mknod(dst, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "mknod %s", dst);
	} else {
		return 0; /* sockets belong to a process that is not there */
	}
	if ((r = copy_meta(src, dst, &st, c)) < 0)
		return r;
	if (!S_ISLNK(st.st_mode) && st.st_nlink > 1) {
		if (c->nlinks == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 64;
			struct hardlink *nl = realloc(c->links, cap * sizeof(*nl));
			if (!nl)
				return -ENOMEM;
			c->links = nl;
			c->cap = cap;
		}
		if (!(c->links[c->nlinks].dst = strdup(dst)))
			return -ENOMEM;
		c->links[c->nlinks].dev = st.st_dev;
		c->links[c->nlinks].ino = st.st_ino;
		c->nlinks++;
	}
	return 0;
}

static bool dir_empty(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

int skiff_copy_tree_into(const char *src_dir, const char *dst_dir, struct skiff_error *err)
{
	struct copy c = {.err = err};
	struct stat st;
	int r;

	if (lstat(src_dir, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "stat %s", src_dir);
	}
	if (!S_ISDIR(st.st_mode) || !dir_empty(dst_dir))
		return 0;
	r = copy_dir_contents(src_dir, dst_dir, st.st_dev, &c);
	if (r == -ENOMEM)
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "copying %s: out of memory", src_dir);
	/* Docker gives the volume root the owner and mode of the image's directory */
	if (r >= 0 && (chown(dst_dir, st.st_uid, st.st_gid) < 0 || chmod(dst_dir, st.st_mode & 07777) < 0))
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "setting owner and mode of %s", dst_dir);
	for (size_t i = 0; i < c.nlinks; i++)
		free(c.links[i].dst);
	free(c.links);
	return r < 0 ? r : 1;
}

int skiff_volume_copy_up(struct skiff_volumes *vs, const char *name, const char *src_dir, struct skiff_error *err)
{
	struct vol *v = vol_need(vs, name, err);
	bool temp = false;
	int r, q;

	if (!v)
		return -ENOENT;
	if (vol_needs_mount(v) && !vol_is_mountpoint(v->mountpoint)) {
		/* a tmpfs is empty again at its first real mount: nothing to keep */
		if (vol_is_tmpfs(v))
			return 0;
		if ((r = vol_host_mount(v, err)) < 0)
			return r;
		temp = true;
	}
	r = skiff_copy_tree_into(src_dir, v->mountpoint, err);
	if (r < 0)
		skiff_error_wrap(err, "copying the image's content into volume \"%s\"", name);
	if (temp && (q = vol_host_unmount(v, r < 0 ? NULL : err)) < 0 && r >= 0)
		r = q;
	return r;
}

/* ---- sizes ---- */

struct size_walk {
	struct hardlink *seen;
	size_t n, cap;
};

static int64_t size_at(int dfd, dev_t dev, struct size_walk *w)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;
	int64_t total = 0;
	if (!d) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				total += size_at(fd, dev, w);
			continue;
		}
		if (st.st_nlink > 1) {
			bool dup = false;
			for (size_t i = 0; i < w->n && !dup; i++)
				dup = w->seen[i].ino == st.st_ino;
			if (dup)
				continue;
			if (w->n == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 64;
				struct hardlink *ns = realloc(w->seen, cap * sizeof(*ns));
				if (ns) {
					w->seen = ns;
					w->cap = cap;
				}
			}
			if (w->n < w->cap)
				w->seen[w->n++] = (struct hardlink){.dev = st.st_dev, .ino = st.st_ino};
		}
		total += st.st_size;
	}
	return total;
}

int64_t skiff_dir_size(const char *dir)
{
	struct size_walk w = {0};
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int64_t total;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	total = size_at(fd, st.st_dev, &w);
	free(w.seen);
	return total;
}
