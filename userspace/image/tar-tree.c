/* Archives a directory tree through the tar writer (skiff_tar_write_tree):
 * sorted names, hard links detected, xattrs kept, sockets skipped; used for
 * layer diffs, commit, export and docker cp, and (tar_write_tree_flags) for
 * a build step's overlay upper dir, whose whiteouts become .wh. entries. */
#include "tar-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../lib/cleanup.h"

struct hardlink_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct tree_ctx {
	struct skiff_tar_writer *w;
	unsigned int flags; /* TAR_TREE_* */
	struct hardlink_seen *links;
	size_t nlinks;
	int64_t size;
	struct skiff_error *err;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_xattrs(int fd, struct skiff_tar_entry *e)
{
	char names[4096];
	ssize_t n = flistxattr(fd, names, sizeof(names));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		char val[4096];
		const char *nm = names + i;
		ssize_t vl;
		if (strncmp(nm, "trusted.overlay.", 16) == 0)
			continue;
		vl = fgetxattr(fd, nm, val, sizeof(val));
		if (vl >= 0)
			tar_entry_add_xattr(e, nm, val, (size_t)vl);
	}
}

static bool is_opaque(int fd)
{
	char v[4];
	ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

/* Copy-up bookkeeping of a step's overlay (origin, impure, nlink) would
 * confuse overlay once the dir is a lower layer: only opaque stays. */
static void strip_overlay_xattrs(int fd)
{
	static const char *const names[] = { "trusted.overlay.origin", "trusted.overlay.impure",
					     "trusted.overlay.nlink", "trusted.overlay.upper" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		fremovexattr(fd, names[i]);
}

/* Non-overlay xattrs (security.capability, user.*) go into the tar. */
static void take_xattrs(struct tree_ctx *c, int fd, struct skiff_tar_entry *e)
{
	read_xattrs(fd, e);
	if (c->flags & TAR_TREE_OVERLAY_UPPER)
		strip_overlay_xattrs(fd);
}

static int put_whiteout(struct tree_ctx *c, const char *dir, const char *name, time_t mtime)
{
	_cleanup_free_ char *p = NULL;
	struct skiff_tar_entry e = { .linkname = "", .type = SKIFF_TAR_REG, .mode = 0 };
	if (asprintf(&p, "%s.wh.%s", dir, name) < 0)
		return -ENOMEM;
	e.path = p;
	e.mtime.tv_sec = mtime;
	return skiff_tar_write_header(c->w, &e);
}

static int tree_walk(struct tree_ctx *c, int dfd, const char *prefix)
{
	_cleanup_closedir_ DIR *d = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0, dup_fd;

	dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0 || !(d = fdopendir(dup_fd))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "reading directory '%s'", prefix);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(char *));
			if (!nn) {
				r = -ENOMEM;
				goto out;
			}
			names = nn;
		}
		if (!(names[n++] = strdup(de->d_name))) {
			r = -ENOMEM;
			goto out;
		}
	}
	qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct skiff_tar_entry e = { 0 };
		struct stat st;
		_cleanup_free_ char *path = NULL;
		_cleanup_close_ int fd = -1;
		char link[4096];

		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* vanished */
		if ((c->flags & TAR_TREE_OVERLAY_UPPER) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
			r = put_whiteout(c, prefix, names[i], st.st_mtim.tv_sec);
			continue;
		}
		if (asprintf(&path, "%s%s", prefix, names[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		e.path = path;
		e.linkname = "";
		e.mode = st.st_mode & 07777;
		e.uid = st.st_uid;
		e.gid = st.st_gid;
		e.mtime.tv_sec = st.st_mtim.tv_sec;
		switch (st.st_mode & S_IFMT) {
		case S_IFREG:
			e.type = SKIFF_TAR_REG;
			e.size = st.st_size;
			if (st.st_nlink > 1) {
				for (size_t k = 0; k < c->nlinks; k++)
					if (c->links[k].dev == st.st_dev && c->links[k].ino == st.st_ino) {
						e.type = SKIFF_TAR_LINK;
						e.linkname = c->links[k].path;
						e.size = 0;
					}
				if (e.type == SKIFF_TAR_REG) {
					struct hardlink_seen *nl = realloc(c->links, (c->nlinks + 1) * sizeof(*nl));
					if (!nl) {
						r = -ENOMEM;
						break;
					}
					c->links = nl;
					nl[c->nlinks++] = (struct hardlink_seen){ st.st_dev, st.st_ino, strdup(path) };
				}
			}
			if (e.type == SKIFF_TAR_REG) {
				fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
				if (fd < 0) {
					r = skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "opening '%s'", path);
					break;
				}
				take_xattrs(c, fd, &e);
				c->size += e.size;
			}
			break;
		case S_IFDIR:
			e.type = SKIFF_TAR_DIR;
			fd = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				r = skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "opening '%s'", path);
				break;
			}
			take_xattrs(c, fd, &e);
			break;
		case S_IFLNK: {
			ssize_t k = readlinkat(dfd, names[i], link, sizeof(link) - 1);
			if (k < 0)
				k = 0;
			link[k] = '\0';
			e.type = SKIFF_TAR_SYMLINK;
			e.linkname = link;
			break;
		}
		case S_IFCHR:
		case S_IFBLK:
			e.type = S_ISCHR(st.st_mode) ? SKIFF_TAR_CHR : SKIFF_TAR_BLK;
			e.devmajor = major(st.st_rdev);
			e.devminor = minor(st.st_rdev);
			break;
		case S_IFIFO:
			e.type = SKIFF_TAR_FIFO;
			break;
		default:
			continue; /* sockets are not archived */
		}
		if (r < 0)
			break;
		r = skiff_tar_write_header(c->w, &e);
		if (r == 0 && e.type == SKIFF_TAR_REG) {
			char buf[65536];
			int64_t left = e.size;
			while (r == 0 && left > 0) {
				ssize_t k = read(fd, buf, left > (int64_t)sizeof(buf) ? sizeof(buf) : (size_t)left);
				if (k <= 0) {
					/* file shrank: pad with zeros to keep the archive valid */
					memset(buf, 0, sizeof(buf));
					k = left > (int64_t)sizeof(buf) ? (ssize_t)sizeof(buf) : (ssize_t)left;
				}
				r = skiff_tar_write_data(c->w, buf, (size_t)k);
				left -= k;
			}
		}
		for (size_t k = 0; k < e.nxattrs; k++) {
			free(e.xattrs[k].name);
			free(e.xattrs[k].value);
		}
		free(e.xattrs);
		if (r < 0) {
			skiff_error_sys(c->err, SKIFF_EINTERNAL, -r, "archiving '%s'", path);
			break;
		}
		if (e.type == SKIFF_TAR_DIR) {
			_cleanup_free_ char *sub = NULL;
			if (asprintf(&sub, "%s/", path) < 0) {
				r = -ENOMEM;
				break;
			}
			/* an opaque dir hides everything below it in the lower layers */
			if ((c->flags & TAR_TREE_OVERLAY_UPPER) && is_opaque(fd) &&
			    (r = put_whiteout(c, sub, ".wh..opq", st.st_mtim.tv_sec)) < 0)
				break;
			r = tree_walk(c, fd, sub);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int tar_write_tree_flags(struct skiff_tar_writer *w, int dirfd, const char *prefix, unsigned int flags,
			 int64_t *size, struct skiff_error *err)
{
	struct tree_ctx c = { .w = w, .flags = flags, .err = err };
	int r = tree_walk(&c, dirfd, prefix ? prefix : "");
	for (size_t i = 0; i < c.nlinks; i++)
		free(c.links[i].path);
	free(c.links);
	if (size)
		*size = c.size;
	return r;
}

int skiff_tar_write_tree(struct skiff_tar_writer *w, int dirfd, const char *prefix, struct skiff_error *err)
{
	return tar_write_tree_flags(w, dirfd, prefix, 0, NULL, err);
}
