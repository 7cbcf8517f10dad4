/* docker cp, engine side (archive.h). A forked child enters the container's
 * root (chroot into /proc/PID/root when running; a private mount namespace
 * with the overlay and the container's binds mounted when stopped, so
 * nothing is mounted in skiffd's namespace and nothing outlives the child),
 * resolves every path with openat2(RESOLVE_IN_ROOT) and extracts with the
 * tar extractor's RESOLVE_BENEATH walks: two fences, each enough alone. */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../image/store.h"
#include "../image/tar.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../runtime/user.h"
#include "container-config.h"

/* ---- pure helpers ------------------------------------------------------ */

#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)
#define GO_MODE_DEVICE (1u << 26)
#define GO_MODE_PIPE (1u << 25)
#define GO_MODE_SOCKET (1u << 24)
#define GO_MODE_SETUID (1u << 23)
#define GO_MODE_SETGID (1u << 22)
#define GO_MODE_CHARDEV (1u << 21)
#define GO_MODE_STICKY (1u << 20)

static const struct {
	mode_t type;
	uint32_t go;
} go_types[] = {
	{ S_IFDIR, GO_MODE_DIR },
	{ S_IFLNK, GO_MODE_SYMLINK },
	{ S_IFBLK, GO_MODE_DEVICE },
	{ S_IFCHR, GO_MODE_DEVICE | GO_MODE_CHARDEV },
	{ S_IFIFO, GO_MODE_PIPE },
	{ S_IFSOCK, GO_MODE_SOCKET },
};

uint32_t skiff_archive_go_mode(mode_t mode)
{
	uint32_t m = mode & 0777;
	for (size_t i = 0; i < ARRAY_SIZE(go_types); i++)
		if ((mode & S_IFMT) == go_types[i].type)
			m |= go_types[i].go;
	if (mode & S_ISUID)
		m |= GO_MODE_SETUID;
	if (mode & S_ISGID)
		m |= GO_MODE_SETGID;
	if (mode & S_ISVTX)
		m |= GO_MODE_STICKY;
	return m;
}

json_t *skiff_archive_stat_json(const char *name, const struct stat *st, const char *link_target)
{
	char mtime[40], *dot, *z;
	skiff_time_format(&st->st_mtim, mtime);
	/* Go marshals time.Time as RFC3339Nano: fraction without trailing zeros */
	if ((dot = strchr(mtime, '.')) && (z = strchr(dot, 'Z'))) {
		char *e = z;
		while (e > dot + 1 && e[-1] == '0')
			e--;
		if (e == dot + 1)
			e = dot;
		memmove(e, z, strlen(z) + 1);
	}
	return json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", name, "size", (json_int_t)st->st_size, "mode",
			 (json_int_t)skiff_archive_go_mode(st->st_mode), "mtime", mtime, "linkTarget",
			 link_target ? link_target : "");
}

char *skiff_base64_encode(const void *data, size_t len)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = tbl[(v >> 18) & 63];
		*o++ = tbl[(v >> 12) & 63];
		*o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? tbl[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* Go's filepath.Clean of an absolute path: ".." stops at the root. */
static int clean_abs(const char *in, char *out, size_t outlen)
{
	if (outlen < 2)
		return -ENAMETOOLONG;
	out[0] = '/';
	return skiff_path_clean(in, out + 1, outlen - 1, true);
}

/* filepath.Base(p) == "." for the original path: "." or ending in "/."
 * (Base drops trailing slashes first, so "/etc/./" counts too) */
static bool names_current_dir(const char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	return (n == 1 && p[0] == '.') || (n >= 2 && p[n - 1] == '.' && p[n - 2] == '/');
}

int skiff_archive_path_split(const char *path, struct skiff_archive_path *out)
{
	char clean[4096];
	size_t len;
	int r = clean_abs(path, clean, sizeof(clean) - 3);
	if (r < 0)
		return r;
	/* archive.PreserveTrailingDotOrSeparator */
	len = strlen(clean);
	if (names_current_dir(path)) {
		if (clean[len - 1] != '/')
			clean[len++] = '/';
		clean[len++] = '.';
		clean[len] = '\0';
	}
	if (path[0] && path[strlen(path) - 1] == '/' && clean[len - 1] != '/') {
		clean[len++] = '/';
		clean[len] = '\0';
	}
	strcpy(out->abs, clean);
	/* filepath.Split: dir keeps its trailing slash */
	const char *slash = strrchr(clean, '/');
	size_t dlen = (size_t)(slash - clean) + 1;
	if (strlen(slash + 1) >= sizeof(out->base))
		return -ENAMETOOLONG;
	memcpy(out->dir, clean, dlen);
	out->dir[dlen] = '\0';
	strcpy(out->base, slash + 1);
	/* filepath.Base: trailing slashes dropped, "/" for the root */
	while (len > 1 && clean[len - 1] == '/')
		clean[--len] = '\0';
	slash = strrchr(clean, '/');
	snprintf(out->name, sizeof(out->name), "%s", len == 1 ? "/" : slash + 1);
	return 0;
}

ssize_t skiff_archive_record_parse(const void *buf, size_t len, int *status, const char **payload,
				   size_t *payload_len)
{
	const unsigned char *b = buf;
	uint32_t st, n;
	if (len < SKIFF_ARCHIVE_RECORD_HDR)
		return 0;
	st = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	n = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	if (st > 599 || (st != 0 && st < 100) || n > SKIFF_ARCHIVE_RECORD_MAX - SKIFF_ARCHIVE_RECORD_HDR)
		return -EBADMSG;
	if (len < SKIFF_ARCHIVE_RECORD_HDR + n)
		return 0;
	*status = (int)st;
	*payload = (const char *)b + SKIFF_ARCHIVE_RECORD_HDR;
	*payload_len = n;
	return (ssize_t)(SKIFF_ARCHIVE_RECORD_HDR + n);
}

/* ---- the job, prepared in skiffd, run in the child -------------------- */

struct cp_mount {
	const char *src, *dst;
	bool rw, bind; /* bind: bind or volume (tmpfs is not reproduced) */
};

struct cp_job {
	const struct skiff_archive_req *ar;
	struct skiff_archive_path p;
	const char *ctr_id;
	pid_t ctr_pid; /* > 0: running, use /proc/PID/root */
	char **lower;  /* stopped: image layers, top first */
	char *upper, *work, *target;
	struct cp_mount *mounts;
	size_t nmounts;
	bool readonly_rootfs;
	const char *user;
	int wfd;
};

static int send_record(int fd, int status, const char *payload, size_t len)
{
	unsigned char hdr[SKIFF_ARCHIVE_RECORD_HDR];
	uint32_t st = (uint32_t)status, n;
	if (len > SKIFF_ARCHIVE_RECORD_MAX - SKIFF_ARCHIVE_RECORD_HDR)
		len = SKIFF_ARCHIVE_RECORD_MAX - SKIFF_ARCHIVE_RECORD_HDR;
	n = (uint32_t)len;
	for (int i = 0; i < 4; i++) {
		hdr[i] = (unsigned char)(st >> (8 * i));
		hdr[4 + i] = (unsigned char)(n >> (8 * i));
	}
	int r = skiff_write_all(fd, hdr, sizeof(hdr));
	return r < 0 ? r : skiff_write_all(fd, payload, len);
}

static int in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, rootfd, path[0] ? path : ".", &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : fd;
}

static int beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : fd;
}

/* The path of fd as seen from our (chrooted) root: the container path. */
static int fd_path(int procfd, int fd, char *out, size_t outlen)
{
	char link[64];
	snprintf(link, sizeof(link), "self/fd/%d", fd);
	ssize_t n = readlinkat(procfd, link, out, outlen - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return out[0] == '/' ? 0 : -EXDEV;
}

static int not_found(struct cp_job *j, struct skiff_error *err)
{
	return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "Could not find the file %s in container %s", j->ar->path,
			       j->ar->name);
}

static int mount_overlay(struct cp_job *j, struct skiff_error *err)
{
	size_t n = 0, len = 0;
	for (; j->lower[n]; n++)
		len += strlen(j->lower[n]) + 1;
	size_t cap = len + strlen(j->upper) + strlen(j->work) + 64;
	_cleanup_free_ char *opts = malloc(cap);
	if (!opts)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	/* More than a page of options: name the layers by fd (chdir
	 * /proc/self/fd) as the container start does; the fds die with us. */
	bool relative = cap > 3900;
	size_t o = (size_t)snprintf(opts, cap, "lowerdir=");
	for (size_t i = 0; i < n; i++) {
		if (relative) {
			int fd = open(j->lower[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening layer %s", j->lower[i]);
			o += (size_t)snprintf(opts + o, cap - o, "%s%d", i ? ":" : "", fd);
		} else {
			o += (size_t)snprintf(opts + o, cap - o, "%s%s", i ? ":" : "", j->lower[i]);
		}
	}
	snprintf(opts + o, cap - o, ",upperdir=%s,workdir=%s", j->upper, j->work);
	if (relative && chdir("/proc/self/fd") < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "chdir /proc/self/fd");
	if (mount("overlay", j->target, "overlay", 0, opts) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mounting the rootfs of container %s", j->ar->name);
	return 0;
}

/* The container's binds and volumes on the mounted rootfs, as Docker mounts
 * them for a copy from or into a stopped container. Mount points that do
 * not exist (never started) are skipped rather than created. */
static int mount_binds(struct cp_job *j, int rootfd, struct skiff_error *err)
{
	for (size_t i = 0; i < j->nmounts; i++) {
		struct cp_mount *m = &j->mounts[i];
		char proc[64];
		if (!m->bind || !m->src || m->src[0] != '/')
			continue;
		_cleanup_close_ int fd = in_root(rootfd, m->dst, O_PATH);
		if (fd < 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (mount(m->src, proc, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue; /* volume never populated */
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mounting %s on %s", m->src, m->dst);
		}
		if (!m->rw) {
			/* fd is the directory under the new mount: reopen */
			_cleanup_close_ int top = in_root(rootfd, m->dst, O_PATH);
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", top);
			if (top < 0 || mount(NULL, proc, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, top < 0 ? -top : errno,
						       "making %s read-only", m->dst);
		}
	}
	return 0;
}

/* Still the container's process (pids are reused): its cgroup names the id. */
static bool pid_is_container(int procdir, const char *id)
{
	char buf[8192];
	_cleanup_close_ int fd = openat(procdir, "cgroup", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, id) != NULL;
}

/* chroot into the container's root; returns a dir fd of the host's /proc. */
static int enter_root(struct cp_job *j, struct skiff_error *err)
{
	_cleanup_close_ int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int rootfd = -1;

	if (procfd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening /proc");
	if (j->ctr_pid > 0) {
		char p[32];
		snprintf(p, sizeof(p), "%d", j->ctr_pid);
		_cleanup_close_ int procdir = openat(procfd, p, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (procdir >= 0 && pid_is_container(procdir, j->ctr_id))
			rootfd = openat(procdir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
		/* exited under us: fall through to the stopped path */
	}
	if (rootfd < 0) {
		if (unshare(CLONE_NEWNS) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "unshare(CLONE_NEWNS)");
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "making / private");
		int r = mount_overlay(j, err);
		if (r < 0)
			return r;
		rootfd = open(j->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening %s", j->target);
		if ((r = mount_binds(j, rootfd, err)) < 0)
			return r;
	}
	if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "entering the root of container %s", j->ar->name);
	return TAKE_FD(procfd);
}

/* Docker's StatPath: lstat of the last element, the link target fully
 * resolved in the container. *dirfd gets the resolved parent. */
static int stat_path(struct cp_job *j, int rootfd, int procfd, int *dirfd, struct stat *st, char *link,
		     size_t linklen, struct skiff_error *err)
{
	*dirfd = in_root(rootfd, j->p.dir, O_PATH | O_DIRECTORY);
	link[0] = '\0';
	if (*dirfd < 0) {
		if (*dirfd == -ENOENT || *dirfd == -ENOTDIR)
			return not_found(j, err);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -*dirfd, "resolving %s", j->ar->path);
	}
	int r = j->p.base[0] && strcmp(j->p.base, ".") ? fstatat(*dirfd, j->p.base, st, AT_SYMLINK_NOFOLLOW)
						       : fstat(*dirfd, st);
	if (r < 0)
		return errno == ENOENT || errno == ENOTDIR ? not_found(j, err)
							   : skiff_error_sys(err, SKIFF_EINTERNAL, errno, "lstat %s",
									     j->ar->path);
	if (!S_ISLNK(st->st_mode))
		return 0;
	_cleanup_close_ int fd = in_root(rootfd, j->p.abs, O_PATH);
	if (fd >= 0 && fd_path(procfd, fd, link, linklen) == 0)
		return 0;
	/* dangling: resolve lexically against the resolved parent, as
	 * Docker's FollowSymlinkInScope does for missing components */
	char target[4096], dir[4096], joined[8300];
	ssize_t n = readlinkat(*dirfd, j->p.base, target, sizeof(target) - 1);
	if (n < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "readlink %s", j->ar->path);
	target[n] = '\0';
	if (fd_path(procfd, *dirfd, dir, sizeof(dir)) < 0)
		snprintf(dir, sizeof(dir), "%s", j->p.dir);
	snprintf(joined, sizeof(joined), "%s/%s", target[0] == '/' ? "" : dir, target);
	if (clean_abs(joined, link, linklen) < 0)
		link[0] = '\0';
	return 0;
}

static int write_stat_record(struct cp_job *j, const struct stat *st, const char *link)
{
	_cleanup_json_ json_t *js = skiff_archive_stat_json(j->p.name, st, link);
	_cleanup_free_ char *s = js ? json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (!s)
		return -ENOMEM;
	return send_record(j->wfd, 0, s, strlen(s));
}

static void entry_from_stat(struct skiff_tar_entry *e, const char *path, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->path = (char *)path;
	e->linkname = "";
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime = st->st_mtim;
}

/* The data of a dir or a regular file, opened before the stat record is
 * sent so that a failure can still be an HTTP status. Never follows the
 * last element (dirfd is its resolved parent). */
static int open_target(struct cp_job *j, int rootfd, int dirfd, const struct stat *st, int *out,
		       struct skiff_error *err)
{
	bool self = !j->p.base[0] || !strcmp(j->p.base, ".");
	int fd;
	*out = -1;
	if (S_ISDIR(st->st_mode))
		fd = self ? in_root(rootfd, j->p.dir, O_RDONLY | O_DIRECTORY)
			  : openat(dirfd, j->p.base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	else if (S_ISREG(st->st_mode))
		fd = openat(dirfd, j->p.base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	else
		return 0;
	if (fd == -1)
		fd = -errno;
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "opening %s", j->ar->path);
	*out = fd;
	return 0;
}

static int write_archive(struct cp_job *j, int fd, int dirfd, const struct stat *st, struct skiff_error *err)
{
	struct skiff_tar_writer *w = NULL;
	struct skiff_tar_entry e;
	char link[4096];
	int r;

	if ((r = skiff_tar_writer_new(j->wfd, &w)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "tar writer");

	if (S_ISDIR(st->st_mode)) {
		/* Docker's names: "NAME/..." , "./..." for "DIR/.", "/..." for "/" */
		char prefix[300];
		struct stat dst;
		if (!strcmp(j->p.name, "/"))
			snprintf(prefix, sizeof(prefix), "/");
		else
			snprintf(prefix, sizeof(prefix), "%s/", j->p.name);
		if (strcmp(prefix, "/") && fstat(fd, &dst) == 0) {
			entry_from_stat(&e, prefix, &dst);
			e.type = SKIFF_TAR_DIR;
			r = skiff_tar_write_header(w, &e);
		}
		if (r == 0)
			r = skiff_tar_write_tree(w, fd, prefix, err);
	} else if (S_ISREG(st->st_mode)) {
		struct stat fst;
		char buf[65536];
		if (fstat(fd, &fst) < 0)
			fst = *st;
		entry_from_stat(&e, j->p.name, &fst);
		e.type = SKIFF_TAR_REG;
		e.size = fst.st_size;
		r = skiff_tar_write_header(w, &e);
		for (int64_t left = e.size; r == 0 && left > 0;) {
			ssize_t n = read(fd, buf, left > (int64_t)sizeof(buf) ? sizeof(buf) : (size_t)left);
			if (n <= 0) { /* shrank: pad, the header is out */
				memset(buf, 0, sizeof(buf));
				n = left > (int64_t)sizeof(buf) ? (ssize_t)sizeof(buf) : (ssize_t)left;
			}
			r = skiff_tar_write_data(w, buf, (size_t)n);
			left -= n;
		}
	} else {
		entry_from_stat(&e, j->p.name, st);
		if (S_ISLNK(st->st_mode)) {
			ssize_t n = readlinkat(dirfd, j->p.base, link, sizeof(link) - 1);
			link[n < 0 ? 0 : n] = '\0';
			e.type = SKIFF_TAR_SYMLINK;
			e.linkname = link;
		} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
			e.type = S_ISCHR(st->st_mode) ? SKIFF_TAR_CHR : SKIFF_TAR_BLK;
			e.devmajor = major(st->st_rdev);
			e.devminor = minor(st->st_rdev);
		} else {
			e.type = SKIFF_TAR_FIFO; /* sockets are archived as nothing better */
		}
		r = skiff_tar_write_header(w, &e);
	}
	if (r == 0)
		return skiff_tar_writer_finish(w);
	skiff_tar_writer_free(w);
	return r;
}

/* Longest mount destination containing path (Docker's HasResource). */
static const struct cp_mount *mount_of(struct cp_job *j, const char *path)
{
	const struct cp_mount *best = NULL;
	size_t bestlen = 0;
	for (size_t i = 0; i < j->nmounts; i++) {
		char d[4096];
		if (clean_abs(j->mounts[i].dst, d, sizeof(d)) < 0)
			continue;
		size_t n = strlen(d);
		bool in = !strcmp(d, "/") || (!strncmp(path, d, n) && (path[n] == '\0' || path[n] == '/'));
		if (in && n >= bestlen) {
			best = &j->mounts[i];
			bestlen = n;
		}
	}
	return best;
}

/* noOverwriteDirNonDir: checked over the whole archive before anything is
 * written (the body is a spooled file, so a second pass is cheap). */
static int check_overwrite(struct cp_job *j, int dfd, const char *dest, struct skiff_error *err)
{
	struct skiff_tar_reader *rd = NULL;
	const struct skiff_tar_entry *e;
	int k;
	if (lseek(j->ar->body_fd, 0, SEEK_SET) < 0 || skiff_tar_reader_new(j->ar->body_fd, &rd) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "reading the archive");
	while ((k = skiff_tar_next(rd, &e)) > 0) {
		char path[4096];
		struct stat st;
		if (skiff_tar_clean_path(e->path, path, sizeof(path)) < 0 || !path[0])
			continue; /* the extractor refuses or merges these */
		_cleanup_close_ int fd = beneath(dfd, path, O_PATH | O_NOFOLLOW);
		if (fd < 0 || fstat(fd, &st) < 0)
			continue;
		bool dir = e->type == SKIFF_TAR_DIR;
		if (S_ISDIR(st.st_mode) != dir) {
			skiff_tar_reader_free(rd);
			return skiff_error_set(err, SKIFF_EINVAL, EEXIST,
					       dir ? "cannot overwrite non-directory \"%s/%s\" with directory \"%s\""
						   : "cannot overwrite directory \"%s/%s\" with non-directory \"%s\"",
					       strcmp(dest, "/") ? dest : "", path, dest);
		}
	}
	skiff_tar_reader_free(rd);
	if (k < 0)
		return skiff_error_sys(err, SKIFF_EINVAL, -k, "reading tar archive");
	return lseek(j->ar->body_fd, 0, SEEK_SET) < 0 ? -errno : 0;
}

/* copyUIDGID with a container User: every extracted entry gets its ids
 * (Docker's ChownOpts); the mode is put back since chown drops set-id bits. */
static int chown_entries(struct cp_job *j, int dfd, int procfd, const struct skiff_user *u,
			 struct skiff_error *err)
{
	struct skiff_tar_reader *rd = NULL;
	const struct skiff_tar_entry *e;
	int k;
	if (lseek(j->ar->body_fd, 0, SEEK_SET) < 0 || skiff_tar_reader_new(j->ar->body_fd, &rd) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "reading the archive");
	while ((k = skiff_tar_next(rd, &e)) > 0) {
		char path[4096], proc[64];
		if (skiff_tar_clean_path(e->path, path, sizeof(path)) < 0)
			continue;
		_cleanup_close_ int fd = beneath(dfd, path, O_PATH | O_NOFOLLOW);
		if (fd < 0)
			continue;
		fchownat(fd, "", u->uid, u->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (e->type != SKIFF_TAR_SYMLINK && e->type != SKIFF_TAR_LINK) {
			snprintf(proc, sizeof(proc), "self/fd/%d", fd);
			fchmodat(procfd, proc, e->mode & 07777, 0);
		}
	}
	skiff_tar_reader_free(rd);
	return k < 0 ? skiff_error_sys(err, SKIFF_EINVAL, -k, "reading tar archive") : 0;
}

static int do_put(struct cp_job *j, int rootfd, int procfd, struct skiff_error *err)
{
	_cleanup_close_ int pfd = in_root(rootfd, j->p.abs, O_PATH);
	_cleanup_close_ int dfd = -1;
	struct skiff_user u;
	struct stat st;
	char dest[4096];
	int r;

	if (pfd < 0) {
		if (pfd == -ENOENT || pfd == -ENOTDIR)
			return not_found(j, err);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -pfd, "resolving %s", j->ar->path);
	}
	if (fstat(pfd, &st) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "stat %s", j->ar->path);
	if (!S_ISDIR(st.st_mode))
		return skiff_error_set(err, SKIFF_EINVAL, ENOTDIR, "extraction point is not a directory");
	if (fd_path(procfd, pfd, dest, sizeof(dest)) < 0)
		snprintf(dest, sizeof(dest), "%s", j->p.abs);
	/* Docker's order: a read-only volume refuses, a writable one
	 * accepts even on a read-only rootfs */
	const struct cp_mount *m = mount_of(j, dest);
	if (m && !m->rw)
		return skiff_error_set(err, SKIFF_EINVAL, EROFS, "mounted volume is marked read-only");
	if (!m && j->readonly_rootfs)
		return skiff_error_set(err, SKIFF_EINVAL, EROFS, "container rootfs is marked read-only");
	dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening %s", j->ar->path);
	if (j->ar->no_overwrite_dir_non_dir && (r = check_overwrite(j, dfd, dest, err)) < 0)
		return r;
	bool chown_user = j->ar->copy_uid_gid && j->user && j->user[0];
	if (chown_user && (r = skiff_user_resolve(rootfd, j->user, &u, err)) < 0)
		return r;

	struct skiff_tar_reader *rd = NULL;
	if (lseek(j->ar->body_fd, 0, SEEK_SET) < 0 || (r = skiff_tar_reader_new(j->ar->body_fd, &rd)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "reading the archive");
	r = skiff_tar_extract(rd, dfd, chown_user ? SKIFF_TAR_X_NO_CHOWN : 0, NULL, err);
	skiff_tar_reader_free(rd);
	if (r < 0)
		return r; /* an entry that escapes, EROFS from a mount skiff did not make, ENOSPC */
	if (chown_user && (r = chown_entries(j, dfd, procfd, &u, err)) < 0)
		return r;
	return 0;
}

static void keep_fds_only(int a, int b)
{
	if (a > b) {
		int t = a;
		a = b;
		b = t;
	}
	/* a may be -1 (no body) */
	unsigned int next = 3;
	int keep[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)next)
			continue;
		if ((unsigned int)keep[i] > next)
			syscall(SYS_close_range, next, (unsigned int)keep[i] - 1, 0);
		next = (unsigned int)keep[i] + 1;
	}
	syscall(SYS_close_range, next, ~0U, 0);
}

static __attribute__((noreturn)) void child_main(struct cp_job *j)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2 };
	struct skiff_error err = { 0 };
	_cleanup_close_ int procfd = -1, rootfd = -1, dirfd = -1, fd = -1;
	struct stat st;
	char link[4096];
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_DFL);
	keep_fds_only(j->wfd, j->ar->body_fd);

	r = procfd = enter_root(j, &err);
	if (r >= 0) {
		rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			r = skiff_error_sys(&err, SKIFF_EINTERNAL, errno, "opening the container root");
	}
	if (r >= 0) {
		switch (j->ar->op) {
		case SKIFF_ARCHIVE_STAT:
			r = stat_path(j, rootfd, procfd, &dirfd, &st, link, sizeof(link), &err);
			if (r == 0)
				_exit(write_stat_record(j, &st, link) < 0 ? 1 : 0);
			break;
		case SKIFF_ARCHIVE_GET:
			r = stat_path(j, rootfd, procfd, &dirfd, &st, link, sizeof(link), &err);
			if (r == 0)
				r = open_target(j, rootfd, dirfd, &st, &fd, &err);
			if (r >= 0) {
				if (write_stat_record(j, &st, link) < 0)
					_exit(1);
				/* the status is out: a failure now can only cut the stream */
				_exit(write_archive(j, fd, dirfd, &st, &err) < 0 ? 1 : 0);
			}
			break;
		case SKIFF_ARCHIVE_PUT:
			r = do_put(j, rootfd, procfd, &err);
			if (r == 0)
				_exit(send_record(j->wfd, 0, "", 0) < 0 ? 1 : 0);
			break;
		}
	}
	send_record(j->wfd, err.status ? err.status : 500, err.msg, strlen(err.msg));
	_exit(1);
}

int skiff_archive_spawn(struct skiff_daemon *d, const struct skiff_ctr *c, const struct skiff_archive_req *ar,
			pid_t *pid, int *rfd, struct skiff_error *err)
{
	struct cp_job j = { .ar = ar, .ctr_id = c->id, .wfd = -1 };
	_cleanup_json_ json_t *imgcfg = NULL;
	_cleanup_strv_ char **lower = NULL;
	_cleanup_free_ char *upper = NULL, *work = NULL, *target = NULL;
	_cleanup_free_ struct cp_mount *mounts = NULL;
	int p[2], r;

	if (skiff_archive_path_split(ar->path, &j.p) < 0)
		return skiff_error_set(err, SKIFF_EINVAL, ENAMETOOLONG, "path too long: %s", ar->path);
	if (ar->op == SKIFF_ARCHIVE_PUT && ar->body_fd < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "missing tar archive in the request body");
	/* the stopped path is also the fallback when a running container
	 * exits under us, so it is always prepared */
	if (!d->images)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENODEV, "the image store is not available");
	r = skiff_image_runtime(d->images, c->image_id, &imgcfg, &lower, err);
	if (r < 0)
		return skiff_error_wrap(err, "container %s", ar->name);
	upper = skiff_path_join(c->dir, "upper");
	work = skiff_path_join(c->dir, "work");
	target = skiff_path_join(c->dir, "merged");
	size_t nm = json_array_size(c->mounts);
	mounts = calloc(nm + 1, sizeof(*mounts));
	if (!upper || !work || !target || !mounts)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (size_t i = 0; i < nm; i++) {
		json_t *m = json_array_get(c->mounts, i);
		const char *type = skiff_json_str(m, "Type", "");
		mounts[i].src = skiff_json_str(m, "Source", NULL);
		mounts[i].dst = skiff_json_str(m, "Destination", "/");
		mounts[i].rw = skiff_json_bool(m, "RW", true);
		mounts[i].bind = !strcmp(type, "bind") || !strcmp(type, "volume");
	}
	j.lower = lower;
	j.upper = upper;
	j.work = work;
	j.target = target;
	j.mounts = mounts;
	j.nmounts = nm;
	j.ctr_pid = skiff_ctr_is_running(c) && c->pid > 0 ? c->pid : 0;
	j.readonly_rootfs = skiff_json_bool(c->host_config, "ReadonlyRootfs", false);
	j.user = skiff_json_str(c->config, "User", "");

	if (pipe2(p, O_CLOEXEC) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
	j.wfd = p[1];
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return skiff_error_sys(err, SKIFF_EINTERNAL, e, "fork");
	}
	if (child == 0)
		child_main(&j);
	close(p[1]);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	*pid = child;
	*rfd = p[0];
	return 0;
}
