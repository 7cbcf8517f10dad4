/* The escape-proof tar extractor: every path walk goes through openat2
 * RESOLVE_BENEATH, so no entry (nor a symlink an earlier entry planted) can
 * write outside the target; optionally turns OCI whiteouts into overlayfs ones. */
#include "tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"

int skiff_tar_clean_path(const char *in, char *out, size_t outlen)
{
	return skiff_path_clean(in, out, outlen, false);
}

static int openat2_beneath(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	if (!path[0])
		path = ".";
	do
		fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : fd;
}

/* Opens directory rel (relative, cleaned) beneath root, creating missing
 * components with mode 0755 when create is set. Every open re-resolves the
 * whole prefix from root with RESOLVE_BENEATH, so a symlink planted by an
 * earlier entry cannot lead outside. */
static int open_dir(int root, const char *rel, bool create)
{
	char buf[4096];
	int fd = openat2_beneath(root, rel, O_RDONLY | O_DIRECTORY);
	int prev;

	if (fd >= 0 || fd != -ENOENT || !create)
		return fd;
	if (strlen(rel) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, rel);
	prev = fcntl(root, F_DUPFD_CLOEXEC, 3);
	if (prev < 0)
		return -errno;
	for (char *s = buf;;) {
		char *slash = strchr(s, '/');
		char save = 0;
		if (slash) {
			save = *slash;
			*slash = '\0';
		}
		fd = openat2_beneath(root, buf, O_RDONLY | O_DIRECTORY);
		if (fd == -ENOENT) {
			if (mkdirat(prev, s, 0755) < 0 && errno != EEXIST) {
				fd = -errno;
			} else
				fd = openat2_beneath(root, buf, O_RDONLY | O_DIRECTORY);
		}
		close(prev);
		if (fd < 0)
			return fd;
		prev = fd;
		if (!slash)
			return prev;
		*slash = save;
		s = slash + 1;
	}
}

/* rm -rf of name inside dfd, never following symlinks. */
static int remove_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d;
		struct dirent *de;
		if (fd < 0)
			return -errno;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				remove_at(dirfd(d), de->d_name);
		closedir(d);
		return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
	}
	return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
}

struct dir_time {
	char *path;
	struct timespec mtime;
};

struct xctx {
	struct skiff_tar_reader *r;
	int root;
	unsigned int flags;
	int64_t size;
	struct dir_time *dirs;
	size_t ndirs;
	struct skiff_error *err;
	bool chown;
};

static void set_xattrs(int fd, const struct skiff_tar_entry *e)
{
	for (size_t i = 0; i < e->nxattrs; i++) {
		/* A layer must not smuggle overlayfs control attributes
		 * (redirect, metacopy, ...) into the lower dirs. */
		if (strncmp(e->xattrs[i].name, "trusted.overlay.", 16) == 0)
			continue;
		fsetxattr(fd, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].len, 0);
	}
}

static int fail_path(struct xctx *c, int r, const char *path, const char *what)
{
	if (r == -EXDEV || r == -ELOOP)
		return skiff_error_set(c->err, SKIFF_EINVAL, EXDEV,
				       "invalid tar entry '%s': %s escapes the target directory", path, what);
	return skiff_error_sys(c->err, r == -ENOSPC ? SKIFF_EINTERNAL : SKIFF_EINVAL, -r, "extracting '%s'", path);
}

static int remember_dir(struct xctx *c, const char *path, const struct timespec *mtime)
{
	struct dir_time *d = realloc(c->dirs, (c->ndirs + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	c->dirs = d;
	d[c->ndirs].path = strdup(path);
	d[c->ndirs].mtime = *mtime;
	if (!d[c->ndirs].path)
		return -ENOMEM;
	c->ndirs++;
	return 0;
}

static int extract_one(struct xctx *c, const struct skiff_tar_entry *e)
{
	char path[4096], link[4096];
	_cleanup_close_ int pfd = -1, fd = -1;
	const char *base;
	char *slash;
	struct stat st;
	int r;
	struct timespec times[2];

	r = skiff_tar_clean_path(e->path, path, sizeof(path));
	if (r < 0)
		return fail_path(c, r, e->path, "path");

	if (!path[0]) { /* the root itself ("./") */
		if (e->type != SKIFF_TAR_DIR)
			return 0;
		if (c->chown)
			fchown(c->root, e->uid, e->gid);
		fchmod(c->root, e->mode);
		return remember_dir(c, "", &e->mtime);
	}

	slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		pfd = open_dir(c->root, path, true);
		if (pfd < 0)
			return fail_path(c, pfd, e->path, "parent directory");
		*slash = '/';
	} else {
		base = path;
		pfd = open_dir(c->root, "", false);
		if (pfd < 0)
			return fail_path(c, pfd, e->path, "parent directory");
	}

	if ((c->flags & SKIFF_TAR_X_WHITEOUTS) && strncmp(base, ".wh.", 4) == 0) {
		if (strcmp(base, ".wh..wh..opq") == 0) {
			if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
				return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno,
						       "marking '%s' opaque (overlay needs trusted xattrs)", e->path);
			return 0;
		}
		if (strncmp(base, ".wh..wh.", 8) == 0)
			return 0; /* aufs bookkeeping (.wh..wh.plnk ...) */
		const char *victim = base + 4;
		if (!victim[0] || !strcmp(victim, ".") || !strcmp(victim, ".."))
			return fail_path(c, -EINVAL, e->path, "whiteout");
		remove_at(pfd, victim);
		if (mknodat(pfd, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "creating whiteout for '%s'", e->path);
		return 0;
	}

	/* A later entry replaces an earlier one, except dir over dir. */
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !(S_ISDIR(st.st_mode) && e->type == SKIFF_TAR_DIR)) {
		r = remove_at(pfd, base);
		if (r < 0)
			return fail_path(c, r, e->path, "replacing");
	}

	switch (e->type) {
	case SKIFF_TAR_DIR:
		if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
			return fail_path(c, -errno, e->path, "mkdir");
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail_path(c, -errno, e->path, "directory");
		if (c->chown && fchown(fd, e->uid, e->gid) < 0 && errno != EPERM)
			return fail_path(c, -errno, e->path, "chown");
		fchmod(fd, e->mode);
		set_xattrs(fd, e);
		return remember_dir(c, path, &e->mtime);
	case SKIFF_TAR_REG: {
		char buf[65536];
		ssize_t n;
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return fail_path(c, -errno, e->path, "create");
		while ((n = skiff_tar_read(c->r, buf, sizeof(buf))) > 0) {
			const char *p = buf;
			while (n > 0) {
				ssize_t w = write(fd, p, (size_t)n);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0)
					return fail_path(c, -errno, e->path, "write");
				p += w;
				n -= w;
			}
		}
		if (n < 0)
			return skiff_error_sys(c->err, SKIFF_EINVAL, (int)-n, "reading '%s' from the archive", e->path);
		c->size += e->size;
		if (c->chown && fchown(fd, e->uid, e->gid) < 0 && errno != EPERM)
			return fail_path(c, -errno, e->path, "chown");
		fchmod(fd, e->mode); /* after chown, which drops setuid */
		set_xattrs(fd, e);
		times[0] = times[1] = e->mtime;
		futimens(fd, times);
		return 0;
	}
	case SKIFF_TAR_SYMLINK:
		if (symlinkat(e->linkname, pfd, base) < 0)
			return fail_path(c, -errno, e->path, "symlink");
		break;
	case SKIFF_TAR_LINK: {
		_cleanup_close_ int tpfd = -1;
		const char *tbase;
		char *ts;
		r = skiff_tar_clean_path(e->linkname, link, sizeof(link));
		if (r < 0 || !link[0])
			return fail_path(c, r < 0 ? r : -EXDEV, e->path, "hardlink target");
		ts = strrchr(link, '/');
		if (ts) {
			*ts = '\0';
			tbase = ts + 1;
			tpfd = open_dir(c->root, link, false);
		} else {
			tbase = link;
			tpfd = open_dir(c->root, "", false);
		}
		if (tpfd < 0)
			return fail_path(c, tpfd, e->path, "hardlink target");
		if (linkat(tpfd, tbase, pfd, base, 0) < 0)
			return fail_path(c, -errno, e->path, "hardlink");
		return 0; /* shares the target's inode and metadata */
	}
	case SKIFF_TAR_CHR:
	case SKIFF_TAR_BLK:
	case SKIFF_TAR_FIFO: {
		mode_t t = e->type == SKIFF_TAR_CHR ? S_IFCHR : e->type == SKIFF_TAR_BLK ? S_IFBLK : S_IFIFO;
		if (mknodat(pfd, base, t | (e->mode & 07777), makedev(e->devmajor, e->devminor)) < 0) {
			if (errno == EPERM)
				return 0; /* unprivileged: devices are skipped, as Docker does in userns */
			return fail_path(c, -errno, e->path, "mknod");
		}
		fchmodat(pfd, base, e->mode & 07777, 0);
		break;
	}
	default:
		return 0; /* unknown types (sparse, volume labels) are skipped */
	}
	if (c->chown && fchownat(pfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
		return fail_path(c, -errno, e->path, "chown");
	times[0] = times[1] = e->mtime;
	utimensat(pfd, base, times, AT_SYMLINK_NOFOLLOW);
	return 0;
}

int skiff_tar_extract(struct skiff_tar_reader *r, int destfd, unsigned int flags, int64_t *size,
		      struct skiff_error *err)
{
	struct xctx c = { .r = r, .root = destfd, .flags = flags, .err = err };
	const struct skiff_tar_entry *e;
	int k;

	c.chown = !(flags & SKIFF_TAR_X_NO_CHOWN) && geteuid() == 0;
	while ((k = skiff_tar_next(r, &e)) > 0) {
		k = extract_one(&c, e);
		if (k < 0)
			break;
	}
	if (k < 0 && err && !err->status)
		skiff_error_sys(err, SKIFF_EINVAL, -k, "reading tar archive");
	/* Directory mtimes last: creating entries inside changed them. */
	for (size_t i = c.ndirs; i-- > 0;) {
		if (k == 0) {
			int fd = openat2_beneath(destfd, c.dirs[i].path, O_RDONLY | O_DIRECTORY);
			if (fd >= 0) {
				struct timespec t[2] = { c.dirs[i].mtime, c.dirs[i].mtime };
				futimens(fd, t);
				close(fd);
			}
		}
		free(c.dirs[i].path);
	}
	free(c.dirs);
	if (size)
		*size = c.size;
	return k;
}
