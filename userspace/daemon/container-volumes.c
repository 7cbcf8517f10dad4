/* Volumes of containers (container-volumes.h): resolution at create with
 * Docker's copy-up, mount/unmount around runs, release at removal and the
 * reconcile at skiffd start. The copy-up reads the image through a
 * read-only overlay of its layers mounted in a forked child's private
 * mount namespace, so whiteouts and opaque dirs hide what they hide and
 * nothing is ever mounted in skiffd's own namespace. */
#include "container-volumes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../image/store.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "container-config.h"
#include "container.h"
#include "volume.h"

static bool is_volume(const json_t *m)
{
	return !strcmp(skiff_json_str(m, "Type", ""), "volume");
}

static int find_dest(const json_t *mounts, const char *dst)
{
	json_t *e;
	size_t i;
	json_array_foreach(mounts, i, e) if (!strcmp(skiff_json_str(e, "Destination", ""), dst)) return (int)i;
	return -1;
}

/* Docker's --volumes-from: the source's mounts, except where this
 * container mounts something itself; ":ro" makes them read-only, ":rw"
 * keeps the source's mode. Never copied up. */
static int add_volumes_from(struct skiff_daemon *d, struct skiff_ctr *c, json_t *from_marks,
			    struct skiff_error *err)
{
	json_t *e, *m;
	size_t i, j;
	int r;

	json_array_foreach(json_object_get(c->host_config, "VolumesFrom"), i, e)
	{
		_cleanup_free_ char *name = NULL;
		int rw;
		if ((r = skiff_ctr_volumes_from_parse(json_string_value(e), &name, &rw, err)) < 0)
			return r;
		struct skiff_ctr *src = skiff_container_find(d, name, err);
		if (!src)
			return -ENOENT;
		if (src == c)
			continue;
		json_array_foreach(src->mounts, j, m)
		{
			const char *dst = skiff_json_str(m, "Destination", "");
			if (skiff_json_bool(m, "Hidden", false) || find_dest(c->mounts, dst) >= 0)
				continue;
			json_t *cp = json_deep_copy(m);
			if (!cp)
				return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
			json_object_del(cp, "NoCopy");
			json_object_set_new(cp, "Mode", json_string(""));
			if (rw == 0)
				json_object_set_new(cp, "RW", json_false());
			json_array_append_new(c->mounts, cp);
			json_array_append_new(from_marks, json_string(dst));
		}
	}
	return 0;
}

static bool dir_is_empty(const char *dir)
{
	_cleanup_closedir_ DIR *dp = opendir(dir);
	struct dirent *de;
	if (!dp)
		return false;
	while ((de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

/* Could copy-up put anything in this volume? (copy_up decides for good.) */
static bool may_copy(struct skiff_volumes *vs, const char *name)
{
	const json_t *opts = skiff_volume_options(vs, name);
	const char *type = skiff_json_str(opts, "type", NULL);
	const char *mp = skiff_volume_mountpoint(vs, name);

	if (type)
		return strcmp(type, "tmpfs") != 0; /* bind-style: copy_up mounts it to look */
	return mp && dir_is_empty(mp);
}

static int mount_lowers(char *const *lower, const char *target, struct skiff_error *err)
{
	size_t n = 0, len = 0;
	for (; lower[n]; n++)
		len += strlen(lower[n]) + 1;
	size_t cap = len + 64;
	_cleanup_free_ char *opts = malloc(cap);
	if (!opts)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	/* over a page of options: name the layers by fd (they die with the child) */
	bool relative = cap > 3900;
	size_t o = (size_t)snprintf(opts, cap, "lowerdir=");
	for (size_t i = 0; i < n; i++) {
		if (relative) {
			int fd = open(lower[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening layer %s", lower[i]);
			o += (size_t)snprintf(opts + o, cap - o, "%s%d", i ? ":" : "", fd);
		} else {
			o += (size_t)snprintf(opts + o, cap - o, "%s%s", i ? ":" : "", lower[i]);
		}
	}
	if (relative && chdir("/proc/self/fd") < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "chdir /proc/self/fd");
	if (mount("overlay", target, "overlay", MS_RDONLY, opts) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mounting the image's layers");
	return 0;
}


/* The child: the image's root, then each volume's copy. */
static int copy_up_child(struct skiff_volumes *vs, char *const *lower, const char *target, const json_t *todo,
			 struct skiff_error *err)
{
	_cleanup_close_ int rootfd = -1;
	json_t *e;
	size_t i;
	int r;

	if (unshare(CLONE_NEWNS) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "making / private");
	if (lower[0] && !lower[1]) {
		rootfd = open(lower[0], O_PATH | O_DIRECTORY | O_CLOEXEC); /* one layer: nothing to merge */
	} else {
		if ((r = mount_lowers(lower, target, err)) < 0)
			return r;
		rootfd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (rootfd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening the image's root");
	json_array_foreach(todo, i, e)
	{
		const char *name = skiff_json_str(e, "Name", ""), *dst = skiff_json_str(e, "Destination", "/");
		char src[64];
		_cleanup_close_ int fd = skiff_openat_in_root(rootfd, dst, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT || fd == -ENOTDIR)
			continue; /* nothing in the image there */
		if (fd < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "resolving %s in the image", dst);
		/* "/." so the walk starts at the directory, not at the magic link */
		snprintf(src, sizeof(src), "/proc/self/fd/%d/.", fd);
		if ((r = skiff_volume_copy_up(vs, name, src, err)) < 0)
			return r;
	}
	return 0;
}

static int copy_up(struct skiff_daemon *d, struct skiff_ctr *c, const json_t *todo, struct skiff_error *err)
{
	_cleanup_strv_ char **lower = NULL;
	_cleanup_json_ json_t *imgcfg = NULL;
	_cleanup_free_ char *target = skiff_path_join(c->dir, "merged");
	struct skiff_error cerr = { 0 };
	int pfd[2], status, r;
	pid_t pid;

	if (!target)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if (!d->images || skiff_image_runtime(d->images, c->image_id, &imgcfg, &lower, err) < 0 || !lower || !lower[0])
		return err && err->status ? -EIO : skiff_error_set(err, SKIFF_EINTERNAL, ENOENT, "no image layers");
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
	/* the copy blocks this request only as long as the image's directory
	 * takes to copy (Docker's behaviour too); it runs in a child so its
	 * mounts live and die in a namespace of its own */
	pid = fork();
	if (pid < 0) {
		r = errno;
		close(pfd[0]);
		close(pfd[1]);
		return skiff_error_sys(err, SKIFF_EINTERNAL, r, "fork");
	}
	if (pid == 0) {
		close(pfd[0]);
		r = copy_up_child(d->volumes, lower, target, todo, &cerr);
		if (r < 0) {
			if (!cerr.status)
				skiff_error_sys(&cerr, SKIFF_EINTERNAL, -r, "copying up");
			if (skiff_write_all(pfd[1], &cerr, sizeof(cerr)) < 0) {
				/* the exit status still says it failed */
			}
			_exit(1);
		}
		_exit(0);
	}
	close(pfd[1]);
	ssize_t n;
	do
		n = read(pfd[0], &cerr, sizeof(cerr));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(cerr) && cerr.status) {
		cerr.msg[sizeof(cerr.msg) - 1] = '\0';
		return skiff_error_set(err, cerr.status, cerr.errnum ? cerr.errnum : EIO, "%s", cerr.msg);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, EIO, "copying the image's content into volumes failed");
	return 0;
}

int skiff_ctr_volumes_setup(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err)
{
	_cleanup_json_ json_t *from = json_array(), *todo = json_array();
	json_t *m;
	size_t i;
	int r;

	if (!from || !todo)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if ((r = add_volumes_from(d, c, from, err)) < 0)
		return r;
	if ((r = skiff_ctr_config_volumes(c->config, c->mounts, err)) < 0)
		return r;
	json_array_foreach(c->mounts, i, m)
	{
		_cleanup_free_ char *name = NULL;
		const char *want = skiff_json_str(m, "Name", "");
		bool created = false;
		if (!is_volume(m))
			continue;
		if (!d->volumes)
			return skiff_error_set(err, SKIFF_EINTERNAL, ENOTSUP, "the volume store is not available");
		r = skiff_volume_get_or_create(d->volumes, *want ? want : NULL, "local",
					       json_object_get(m, "DriverOpts"), json_object_get(m, "VolumeLabels"),
					       &name, &created, err);
		if (r < 0)
			return r;
		json_object_set_new(m, "Name", json_string(name));
		json_object_set_new(m, "Source", json_string(skiff_volume_mountpoint(d->volumes, name) ?: ""));
		if ((r = skiff_volume_ref(d->volumes, name, c->id, err)) < 0)
			return r;
		bool inherited = false;
		json_t *f;
		size_t j;
		json_array_foreach(from, j, f)
			inherited |= !strcmp(json_string_value(f), skiff_json_str(m, "Destination", ""));
		if (!inherited && !skiff_json_bool(m, "NoCopy", false) && may_copy(d->volumes, name))
			json_array_append(todo, m);
	}
	if (json_array_size(todo) && (r = copy_up(d, c, todo, err)) < 0)
		return r;
	return 0;
}

int skiff_ctr_volumes_mount(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err)
{
	json_t *m;
	size_t i;
	int r;

	json_array_foreach(c->mounts, i, m)
	{
		const char *path = NULL, *name = skiff_json_str(m, "Name", "");
		if (!is_volume(m))
			continue;
		if (!d->volumes)
			r = skiff_error_set(err, SKIFF_EINTERNAL, ENOTSUP, "the volume store is not available");
		else
			r = skiff_volume_mount(d->volumes, name, c->id, &path, err);
		if (r < 0) {
			skiff_ctr_volumes_unmount(d, c);
			return skiff_error_wrap(err, "mounting volume \"%s\"", name);
		}
		if (path && strcmp(path, skiff_json_str(m, "Source", "")))
			json_object_set_new(m, "Source", json_string(path));
	}
	return 0;
}

void skiff_ctr_volumes_unmount(struct skiff_daemon *d, struct skiff_ctr *c)
{
	json_t *m;
	size_t i;

	if (!d->volumes)
		return;
	json_array_foreach(c->mounts, i, m)
	{
		struct skiff_error err = { 0 };
		if (is_volume(m) && skiff_volume_unmount(d->volumes, skiff_json_str(m, "Name", ""), c->id, &err) < 0)
			log_warn("container %.12s: %s", c->id, err.msg);
	}
}

void skiff_ctr_volumes_release(struct skiff_daemon *d, struct skiff_ctr *c, bool remove_anon)
{
	json_t *m;
	size_t i;

	if (!d->volumes)
		return;
	json_array_foreach(c->mounts, i, m)
	{
		struct skiff_error err = { 0 };
		const char *name = skiff_json_str(m, "Name", "");
		if (!is_volume(m) || !*name)
			continue;
		if (skiff_volume_unref(d->volumes, name, c->id, &err) < 0)
			log_warn("container %.12s: %s", c->id, err.msg);
		if (remove_anon && skiff_volume_is_anonymous(d->volumes, name) && !skiff_volume_in_use(d->volumes, name) &&
		    skiff_volume_remove(d->volumes, name, false, &err) < 0)
			log_warn("container %.12s: removing volume %s: %s", c->id, name, err.msg);
	}
}

static bool ctr_exists(const char *id, void *data)
{
	struct skiff_ctr *c = skiff_container_find(data, id, NULL);
	return c && !strcmp(c->id, id);
}

static bool ctr_running(const char *id, void *data)
{
	struct skiff_ctr *c = skiff_container_find(data, id, NULL);
	return c && !strcmp(c->id, id) && (skiff_ctr_is_running(c) || c->status == SKIFF_CTR_RESTARTING);
}

void skiff_ctr_volumes_reconcile(struct skiff_daemon *d)
{
	if (d->volumes)
		skiff_volumes_reconcile(d->volumes, ctr_exists, ctr_running, d);
}
