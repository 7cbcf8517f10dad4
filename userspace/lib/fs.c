/* Filesystem helpers shared by the daemon, the monitor and the image store. */
#include "fs.h"
#include "cleanup.h"

#include <errno.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int skiff_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_via_temp(const char *path, const void *data, size_t len, mode_t mode, bool durable)
{
	_cleanup_free_ char *tmp = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	int r;

	static _Atomic unsigned long seq;
	/* unique per thread and call: the store writes from worker threads too */
	if (asprintf(&tmp, "%s.tmp.%d.%d.%lu", path, getpid(), gettid(), seq++) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	r = skiff_write_all(fd, data, len);
	if (r == 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if (!durable)
		return 0;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

int skiff_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_via_temp(path, data, len, mode, true);
}

int skiff_write_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_via_temp(path, data, len, mode, false);
}

int skiff_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_rf_at(int dfd, const char *name, dev_t dev)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		if (st.st_dev != dev)
			return -EBUSY; /* a mount point: never descend */
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		_cleanup_closedir_ DIR *d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		struct dirent *de;
		int r = 0;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			int q = rm_rf_at(dirfd(d), de->d_name, dev);
			if (q < 0 && r == 0)
				r = q;
		}
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && r == 0 && errno != ENOENT)
			r = -errno;
		return r;
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int skiff_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return rm_rf_at(AT_FDCWD, path, st.st_dev);
}

int skiff_read_file(const char *path, char **out, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t cap = 4096, n = 0;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = TAKE_PTR(buf);
	return 0;
}

int skiff_write_file(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return skiff_write_all(fd, s, strlen(s));
}

int skiff_path_clean(const char *in, char *out, size_t outlen, bool clamp_at_root)
{
	size_t len = 0;
	const char *p = in;

	while (*p) {
		const char *s = p;
		size_t n;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		while (*p == '/')
			p++;
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (len == 0) {
				if (clamp_at_root)
					continue;
				return -EXDEV;
			}
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the slash */
			continue;
		}
		if (len + (len ? 1 : 0) + n + 1 > outlen)
			return -ENAMETOOLONG;
		if (len)
			out[len++] = '/';
		memcpy(out + len, s, n);
		len += n;
	}
	if (outlen < 1)
		return -ENAMETOOLONG;
	out[len] = '\0';
	return 0;
}

char *skiff_path_join(const char *a, const char *b)
{
	char *out;
	size_t la = strlen(a);
	while (*b == '/')
		b++;
	if (asprintf(&out, "%s%s%s", a, (la && a[la - 1] == '/') ? "" : "/", b) < 0)
		return NULL;
	return out;
}

int skiff_openat_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT };
	while (*path == '/')
		path++;
	int fd = (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}
