/* Building a container's mount tree inside its own mount namespace. Order
 * follows runc: rootfs, then kernel filesystems, then user mounts (which may
 * cover defaults), pivot_root, then masks and read-only paths. Targets are
 * resolved with RESOLVE_IN_ROOT so a symlink in an image never leads a mount
 * out of the rootfs. Privileged containers get no masks and a rw /sys;
 * host devices are NOT added to /dev for them (yet). */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "spawn.h"
#include "spawn-trace.h"

const char *const skiff_masked_paths[] = {
	"/proc/asound",	       "/proc/acpi",	   "/proc/interrupts", "/proc/kcore",
	"/proc/keys",	       "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug",   "/proc/scsi",	   "/sys/firmware",    "/sys/devices/virtual/powercap",
	NULL,
};

const char *const skiff_readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static const struct {
	const char *name;
	unsigned maj, min;
} dev_nodes[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct {
	const char *link, *to;
} dev_links[] = {
	{ "fd", "/proc/self/fd" },	   { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
	{ "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },	    { "core", "/proc/kcore" },
};

static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const struct {
	const char *name;
	unsigned long flag;
} propagations[] = {
	{ "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC }, { "shared", MS_SHARED },
	{ "rshared", MS_SHARED | MS_REC }, { "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC },
};

static unsigned long propagation_flag(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
		if (!strcmp(propagations[i].name, name))
			return propagations[i].flag;
	return 0;
}

/* Words of a tmpfs option string that are mount flags rather than tmpfs
 * data (Docker's --tmpfs accepts both: "rw,exec,size=64m"). */
static const struct {
	const char *name;
	unsigned long set, clear;
} tmpfs_flags[] = {
	{ "ro", MS_RDONLY, 0 },	     { "rw", 0, MS_RDONLY },	 { "exec", 0, MS_NOEXEC },
	{ "noexec", MS_NOEXEC, 0 },  { "suid", 0, MS_NOSUID },	 { "nosuid", MS_NOSUID, 0 },
	{ "dev", 0, MS_NODEV },	     { "nodev", MS_NODEV, 0 },	 { "sync", MS_SYNCHRONOUS, 0 },
	{ "async", 0, MS_SYNCHRONOUS }, { "atime", 0, MS_NOATIME }, { "noatime", MS_NOATIME, 0 },
	{ "diratime", 0, MS_NODIRATIME }, { "nodiratime", MS_NODIRATIME, 0 }, { "relatime", MS_RELATIME, 0 },
	{ "strictatime", MS_STRICTATIME, 0 }, { "tmpcopyup", 0, 0 }, { "notmpcopyup", 0, 0 },
};

/* Splits opts into flags (applied to *flags) and the data left for tmpfs
 * (malloc'd into *data, NULL when none). */
static int tmpfs_split(const char *opts, unsigned long *flags, char **data)
{
	_cleanup_free_ char *copy = strdup(opts ? opts : "");
	char *out = calloc(1, strlen(opts ? opts : "") + 1), *save = NULL;

	if (!copy || !out) {
		free(out);
		return -ENOMEM;
	}
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool flag = false;
		for (size_t i = 0; i < ARRAY_SIZE(tmpfs_flags); i++)
			if (!strcmp(tmpfs_flags[i].name, t)) {
				*flags = (*flags & ~tmpfs_flags[i].clear) | tmpfs_flags[i].set;
				flag = true;
			}
		if (flag)
			continue;
		if (*out)
			strcat(out, ",");
		strcat(out, t);
	}
	if (!*out) {
		free(out);
		out = NULL;
	}
	*data = out;
	return 0;
}

int skiff_rootfs_from_spec(const json_t *spec, struct skiff_rootfs *out, struct skiff_error *err)
{
	const json_t *rfs = json_object_get(spec, "rootfs");
	const json_t *mounts = json_object_get(spec, "mounts");
	const json_t *etc = json_object_get(spec, "etc_files");
	size_t i;
	json_t *m;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(rfs))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "spec: rootfs missing");
	out->lower = skiff_json_strv(json_object_get(rfs, "lower"));
	out->upper = dupstr(skiff_json_str(rfs, "upper", NULL));
	out->work = dupstr(skiff_json_str(rfs, "work", NULL));
	out->target = dupstr(skiff_json_str(rfs, "target", NULL));
	out->readonly = skiff_json_bool(spec, "readonly_rootfs", false) || skiff_json_bool(rfs, "readonly", false);
	out->privileged = skiff_json_bool(spec, "privileged", false);
	if (!out->lower || !out->lower[0] || !out->target || out->target[0] != '/')
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "spec: rootfs needs lower layers and a target");
	if (!out->upper != !out->work)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "spec: rootfs upper and work go together");
	if (json_is_array(mounts)) {
		out->mounts = calloc(json_array_size(mounts) + 1, sizeof(*out->mounts));
		if (!out->mounts)
			return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		json_array_foreach(mounts, i, m) {
			struct skiff_rootfs_mount *mm = &out->mounts[out->nmounts++];
			mm->type = dupstr(skiff_json_str(m, "type", "bind"));
			mm->source = dupstr(skiff_json_str(m, "source", ""));
			mm->target = dupstr(skiff_json_str(m, "target", NULL));
			mm->options = dupstr(skiff_json_str(m, "options", NULL));
			mm->readonly = skiff_json_bool(m, "readonly", false);
			mm->propagation = dupstr(skiff_json_str(m, "propagation", NULL));
			if (mm->propagation && *mm->propagation && !propagation_flag(mm->propagation))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "invalid mount config: propagation \"%s\"", mm->propagation);
			if (!mm->target || mm->target[0] != '/')
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "invalid mount config: mount path must be absolute");
			if (strcmp(mm->type, "bind") && strcmp(mm->type, "tmpfs"))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid mount config: type \"%s\"",
						       mm->type);
			if (!strcmp(mm->type, "bind") && mm->source[0] != '/')
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "invalid mount config: bind source \"%s\" must be absolute",
						       mm->source);
		}
	}
	out->etc_hostname = dupstr(skiff_json_str(etc, "hostname", NULL));
	out->etc_hosts = dupstr(skiff_json_str(etc, "hosts", NULL));
	out->etc_resolv = dupstr(skiff_json_str(etc, "resolv.conf", NULL));
	return 0;
}

void skiff_rootfs_free(struct skiff_rootfs *r)
{
	skiff_strvfree(r->lower);
	free(r->upper);
	free(r->work);
	free(r->target);
	for (size_t i = 0; i < r->nmounts; i++) {
		free(r->mounts[i].source);
		free(r->mounts[i].target);
		free(r->mounts[i].type);
		free(r->mounts[i].options);
		free(r->mounts[i].propagation);
	}
	free(r->mounts);
	free(r->etc_hostname);
	free(r->etc_hosts);
	free(r->etc_resolv);
	memset(r, 0, sizeof(*r));
}


/* An empty file or a directory named name in dir; there already is fine. */
static int create_at(int dir, const char *name, bool as_file)
{
	if (as_file) {
		int f = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (f < 0)
			return errno == EEXIST ? 0 : -errno;
		close(f);
		return 0;
	}
	return mkdirat(dir, name, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* Opens (O_PATH) path inside the root, creating missing directories and,
 * when as_file, an empty file as the last component. */
static int mkpath_in_root(int rootfd, const char *path, bool as_file)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	int fd = skiff_openat_in_root(rootfd, buf, O_PATH);
	if (fd >= 0 || fd != -ENOENT)
		return fd;
	/* usually only the last component is missing */
	char *slash = strrchr(buf, '/');
	if (slash && slash[1]) {
		*slash = '\0';
		_cleanup_close_ int parent = skiff_openat_in_root(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
		*slash = '/';
		if (parent >= 0) {
			int r = create_at(parent, slash + 1, as_file);
			if (r < 0)
				return r;
			return skiff_openat_in_root(rootfd, buf, O_PATH);
		}
	}
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		*p = '\0';
		fd = skiff_openat_in_root(rootfd, buf, O_PATH);
		if (fd == -ENOENT) {
			char *slash = strrchr(buf, '/');
			*slash = '\0';
			_cleanup_close_ int parent = skiff_openat_in_root(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
			*slash = '/';
			if (parent < 0)
				return parent;
			int r = create_at(parent, slash + 1, last && as_file);
			if (r < 0)
				return r;
			fd = skiff_openat_in_root(rootfd, buf, O_PATH);
		}
		if (last)
			return fd;
		if (fd < 0)
			return fd;
		close(fd);
		*p = '/';
	}
}

static int mount_at(int rootfd, const char *src, const char *dst, const char *type, unsigned long flags,
		    const char *data, bool as_file, struct skiff_error *err)
{
	char proc[64];
	_cleanup_close_ int fd = mkpath_in_root(rootfd, dst, as_file);
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "creating mount point %s", dst);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (mount(src, proc, type, flags, data) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mounting %s on %s", src ? src : type, dst);
	return 0;
}

/* Remount a bind read-only, keeping the flags the kernel may have locked. */
static int remount_ro(const char *path, unsigned long extra)
{
	return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | extra, NULL) < 0 ? -errno : 0;
}

static int mount_overlay(const struct skiff_rootfs *r, struct skiff_error *err)
{
	size_t n = 0, len = 0;
	for (; r->lower[n]; n++)
		len += strlen(r->lower[n]) + 1;
	if (!r->upper && n == 1) {
		if (mount(r->lower[0], r->target, NULL, MS_BIND | MS_REC, NULL) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "bind-mounting rootfs %s", r->lower[0]);
		return 0;
	}
	size_t cap = len + (r->upper ? strlen(r->upper) + strlen(r->work) : 0) + 64;
	_cleanup_free_ char *opts = malloc(cap);
	if (!opts)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	bool relative = cap > 3900; /* one page of mount data: use fd-relative lower names */
	int fds[512];
	size_t nfd = 0;
	_cleanup_close_ int cwd = -1;
	size_t o = (size_t)snprintf(opts, cap, "lowerdir=");
	for (size_t i = 0; i < n; i++) {
		if (relative && nfd < ARRAY_SIZE(fds)) {
			fds[nfd] = open(r->lower[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fds[nfd] < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening layer %s", r->lower[i]);
			o += (size_t)snprintf(opts + o, cap - o, "%s%d", i ? ":" : "", fds[nfd++]);
		} else {
			o += (size_t)snprintf(opts + o, cap - o, "%s%s", i ? ":" : "", r->lower[i]);
		}
	}
	if (r->upper)
		snprintf(opts + o, cap - o, ",upperdir=%s,workdir=%s", r->upper, r->work);
	if (relative) {
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (chdir("/proc/self/fd") < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "chdir /proc/self/fd");
	}
	int rc = mount("overlay", r->target, "overlay", 0, opts);
	int saved = errno;
	if (relative) {
		if (fchdir(cwd) < 0) {
			/* nothing sane to do: the next chdir(target) fixes cwd */
		}
		for (size_t i = 0; i < nfd; i++)
			close(fds[i]);
	}
	if (rc < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, saved, "mounting overlay rootfs at %s", r->target);
	return 0;
}

/* Opens the root of a tmpfs we just mounted at path and makes it the cwd:
 * what we create in it can be named relatively, with no walk from the
 * rootfs and nothing in the image to redirect us. */
static int enter_fresh_tmpfs(int rootfd, const char *path, struct skiff_error *err)
{
	int fd = skiff_openat_in_root(rootfd, path, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "opening %s", path);
	if (fchdir(fd) < 0) {
		int e = errno;
		close(fd);
		return skiff_error_sys(err, SKIFF_EINTERNAL, e, "entering %s", path);
	}
	return fd;
}

/* Mounts onto name inside the cwd (a fresh tmpfs), creating it first. */
static int mount_here(int dirfd, const char *src, const char *name, const char *type, unsigned long flags,
		      const char *data, bool as_file, const char *shown, struct skiff_error *err)
{
	int r = create_at(dirfd, name, as_file);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating mount point %s", shown);
	if (mount(src, name, type, flags, data) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mounting %s on %s", src ? src : type, shown);
	return 0;
}

static int setup_dev(int rootfd, const struct skiff_rootfs *r, struct skiff_error *err)
{
	int rc = mount_at(rootfd, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", false,
			  err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int dev = enter_fresh_tmpfs(rootfd, "/dev", err);
	if (dev < 0)
		return dev;
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		if (mknodat(dev, dev_nodes[i].name, S_IFCHR | 0666, makedev(dev_nodes[i].maj, dev_nodes[i].min)) < 0) {
			/* mknod refused (device cgroup, LSM): bind the host's node */
			char host[64];
			snprintf(host, sizeof(host), "/dev/%s", dev_nodes[i].name);
			rc = mount_here(dev, host, dev_nodes[i].name, NULL, MS_BIND, NULL, true, host, err);
			if (rc < 0)
				return rc;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
		if (symlinkat(dev_links[i].to, dev, dev_links[i].link) < 0 && errno != EEXIST)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating /dev/%s", dev_links[i].link);
	rc = mount_here(dev, "devpts", "pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5",
			false, "/dev/pts", err);
	if (rc == 0)
		rc = mount_here(dev, "shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
				false, "/dev/shm", err);
	if (rc == 0)
		rc = mount_here(dev, "mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false,
				"/dev/mqueue", err);
	if (rc == 0 && r->console[0])
		rc = mount_here(dev, r->console, "console", NULL, MS_BIND, NULL, true, "/dev/console", err);
	return rc;
}

/* /sys/fs/cgroup as the container sees it: its own cgroup (cgroup namespace)
 * read-only. v2: one cgroup2 mount. hybrid/v1: a tmpfs with one mount per
 * v1 hierarchy (and "unified" for the hybrid cgroup2), like Docker shows. */
static int setup_cgroupfs(int rootfd, const struct skiff_rootfs *r, struct skiff_error *err)
{
	unsigned long ro = r->privileged ? 0 : MS_RDONLY;
	unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
	const struct skiff_cgroup_layout *l = r->cg;
	char shown[128];

	if (!l || !r->new_cgroupns)
		return 0;
	if (l->mode == SKIFF_CGROUP_V2)
		return mount_at(rootfd, "cgroup", "/sys/fs/cgroup", "cgroup2", fl | ro, NULL, false, err);
	int rc = mount_at(rootfd, "tmpfs", "/sys/fs/cgroup", "tmpfs", fl, "mode=755", false, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int cg = enter_fresh_tmpfs(rootfd, "/sys/fs/cgroup", err);
	if (cg < 0)
		return cg;
	for (int i = 0; rc == 0 && i < l->nv1; i++) {
		snprintf(shown, sizeof(shown), "/sys/fs/cgroup/%s", l->v1[i].controllers);
		rc = mount_here(cg, "cgroup", l->v1[i].controllers, "cgroup", fl | ro, l->v1[i].controllers, false,
				shown, err);
		/* "cpu,cpuacct" is also reachable as cpu and cpuacct */
		if (rc == 0 && strchr(l->v1[i].controllers, ',')) {
			char names[64];
			snprintf(names, sizeof(names), "%s", l->v1[i].controllers);
			char *save = NULL;
			for (char *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save))
				symlinkat(l->v1[i].controllers, cg, t);
		}
	}
	if (rc == 0 && l->v2_root[0])
		rc = mount_here(cg, "cgroup2", "unified", "cgroup2", fl | ro, NULL, false, "/sys/fs/cgroup/unified", err);
	/* "." is the tmpfs root itself, as remount wants */
	if (rc == 0 && ro && mount(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | fl, NULL) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "remounting /sys/fs/cgroup read-only");
	return rc;
}

static int setup_user_mounts(int rootfd, const struct skiff_rootfs *r, struct skiff_error *err)
{
	for (size_t i = 0; i < r->nmounts; i++) {
		const struct skiff_rootfs_mount *m = &r->mounts[i];
		int rc;
		if (!strcmp(m->type, "tmpfs")) {
			/* Docker's defaults, which the options may relax ("exec") */
			unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC | (m->readonly ? MS_RDONLY : 0);
			_cleanup_free_ char *data = NULL;
			if (tmpfs_split(m->options, &fl, &data) < 0)
				return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
			rc = mount_at(rootfd, "tmpfs", m->target, "tmpfs", fl, data, false, err);
		} else {
			struct stat st;
			if (stat(m->source, &st) < 0)
				return skiff_error_sys(err, SKIFF_EINVAL, errno, "invalid mount config: bind source path %s",
						       m->source);
			rc = mount_at(rootfd, m->source, m->target, NULL, MS_BIND | MS_REC, NULL, !S_ISDIR(st.st_mode),
				      err);
			unsigned long prop = m->propagation && *m->propagation ? propagation_flag(m->propagation) : 0;
			if (rc == 0 && (m->readonly || (prop && prop != (MS_PRIVATE | MS_REC)))) {
				/* the fd from before the mount names the covered dir: reopen */
				_cleanup_close_ int fd = skiff_openat_in_root(rootfd, m->target, O_PATH);
				char p[64];
				snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
				if (fd < 0)
					return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "opening %s", m->target);
				if (prop && prop != (MS_PRIVATE | MS_REC) && mount(NULL, p, NULL, prop, NULL) < 0)
					return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "setting propagation of %s",
							       m->target);
				if (m->readonly) {
					/* recursively, like Docker >= 25 where the kernel can */
					struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
					if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
						    sizeof(attr)) < 0 &&
					    remount_ro(p, 0) < 0)
						return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "making %s read-only",
								       m->target);
				}
			}
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int skiff_rootfs_setup(const struct skiff_rootfs *r, struct skiff_error *err)
{
	int rc;

	/* nothing we mount may propagate back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "making / rprivate");
	SPAWN_TRACE("rootfs: make / rprivate");
	if ((rc = mount_overlay(r, err)) < 0)
		return rc;
	SPAWN_TRACE("rootfs: overlay");
	_cleanup_close_ int rootfd = open(r->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening rootfs %s", r->target);

	rc = mount_at(rootfd, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false, err);
	if (rc < 0)
		return rc;
	SPAWN_TRACE("rootfs: proc");
	unsigned long sysro = r->privileged ? 0 : MS_RDONLY;
	if (r->new_net) {
		rc = mount_at(rootfd, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | sysro, NULL, false, err);
	} else {
		/* sysfs shows the mounter's net namespace: with the host's, bind it */
		rc = mount_at(rootfd, "/sys", "/sys", NULL, MS_BIND | MS_REC, NULL, false, err);
		if (rc == 0 && sysro) {
			_cleanup_close_ int fd = skiff_openat_in_root(rootfd, "/sys", O_PATH);
			char p[64];
			snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
			if (fd < 0 || remount_ro(p, MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "making /sys read-only");
		}
	}
	SPAWN_TRACE("rootfs: sys");
	if (rc == 0)
		rc = setup_cgroupfs(rootfd, r, err);
	SPAWN_TRACE("rootfs: cgroupfs");
	if (rc == 0)
		rc = setup_dev(rootfd, r, err);
	SPAWN_TRACE("rootfs: dev+pts+shm+mqueue");
	if (rc == 0)
		rc = setup_user_mounts(rootfd, r, err);
	SPAWN_TRACE("rootfs: user mounts");
	const struct {
		const char *path;
		const char *src;
	} etc[] = { { "/etc/hostname", r->etc_hostname }, { "/etc/hosts", r->etc_hosts },
		    { "/etc/resolv.conf", r->etc_resolv } };
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(etc); i++)
		if (etc[i].src)
			rc = mount_at(rootfd, etc[i].src, etc[i].path, NULL, MS_BIND, NULL, true, err);
	if (rc < 0)
		return rc;
	SPAWN_TRACE("rootfs: etc files");

	if (chdir(r->target) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "chdir %s", r->target);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pivot_root");
	SPAWN_TRACE("rootfs: pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "detaching the old root");
	if (chdir("/") < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "chdir /");
	SPAWN_TRACE("rootfs: umount old root");

	if (r->privileged)
		return 0;
	/* no lstat first: a file takes /dev/null, and the kernel answers
	 * ENOTDIR when the target is a directory, which takes an empty tmpfs */
	for (const char *const *p = skiff_masked_paths; *p; p++) {
		rc = mount("/dev/null", *p, NULL, MS_BIND, NULL);
		if (rc < 0 && errno == ENOTDIR)
			rc = mount("tmpfs", *p, "tmpfs", MS_RDONLY, NULL);
		if (rc < 0 && errno == ENOENT)
			continue;
		if (rc < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "masking %s", *p);
	}
	SPAWN_TRACE("rootfs: masked paths");
	for (const char *const *p = skiff_readonly_paths; *p; p++) {
		if (mount(*p, *p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "binding %s", *p);
		}
		if (remount_ro(*p, MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "making %s read-only", *p);
	}
	SPAWN_TRACE("rootfs: readonly paths");
	return 0;
}

int skiff_rootfs_finish(const struct skiff_rootfs *r, struct skiff_error *err)
{
	if (r->readonly && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "remounting / read-only");
	return 0;
}
