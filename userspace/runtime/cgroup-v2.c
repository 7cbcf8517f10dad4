/* cgroup v2 specifics: enabling controllers down the tree (pure v2 only; a
 * hybrid host's cgroup2 mount just holds the container's cgroup for eBPF),
 * and cgroup.freeze with its "frozen" event. */
#include "cgroup-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"

static const char *const delegated[] = { "+cpu", "+memory", "+pids", "+cpuset", "+io", "+hugetlb" };

/* Enable what the parent offers; one at a time so a missing one (io on some
 * VMs) does not stop the others. */
static void enable_controllers(const char *dir)
{
	char path[600];
	_cleanup_free_ char *avail = NULL;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	if (skiff_read_file(path, &avail, NULL) < 0)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	for (size_t i = 0; i < ARRAY_SIZE(delegated); i++) {
		const char *name = delegated[i] + 1;
		char *p = strstr(avail, name);
		size_t n = strlen(name);
		if (!p || (p != avail && p[-1] != ' ') || (p[n] && p[n] != ' ' && p[n] != '\n'))
			continue;
		skiff_write_file(path, delegated[i]);
	}
}

/* Delegating controllers down to skiff's parent is a read and up to six
 * writes: done once per process, and again when the parent had to be made. */
static char parent_ready[512];

static int prepare_parent(const struct skiff_cgroup_layout *l, const char *parent, struct skiff_error *err)
{
	bool ctl = l->mode == SKIFF_CGROUP_V2 || l->v2_has_controllers;
	if (ctl)
		enable_controllers(l->v2_root);
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mkdir %s", parent);
	if (ctl)
		enable_controllers(parent);
	snprintf(parent_ready, sizeof(parent_ready), "%s", parent);
	return 0;
}

int skiff_cgroup_v2_create(const struct skiff_cgroup_layout *l, const char *id, struct skiff_error *err)
{
	char parent[512], dir[600];
	int r;

	snprintf(parent, sizeof(parent), "%s/%s", l->v2_root, l->parent);
	snprintf(dir, sizeof(dir), "%s/%s", parent, id);
	if (strcmp(parent_ready, parent) && (r = prepare_parent(l, parent, err)) < 0)
		return r;
	r = mkdir(dir, 0755) < 0 ? -errno : 0;
	if (r == -ENOENT) {
		if ((r = prepare_parent(l, parent, err)) < 0)
			return r;
		r = mkdir(dir, 0755) < 0 ? -errno : 0;
	}
	if (r < 0 && r != -EEXIST)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "mkdir %s", dir);
	return 0;
}

int skiff_cgroup_v2_freeze(const struct skiff_cgroup_layout *l, const char *id, bool frozen, struct skiff_error *err)
{
	char dir[512], path[600];
	if (skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) < 0)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOENT, "no cgroup2 hierarchy on this host");
	snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
	int r = skiff_write_file(path, frozen ? "1" : "0");
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing %s", path);
	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	for (int attempt = 0; attempt < 2000; attempt++) {
		_cleanup_free_ char *ev = NULL;
		if (skiff_read_file(path, &ev, NULL) < 0)
			break;
		if (strstr(ev, frozen ? "frozen 1" : "frozen 0"))
			return 0;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return skiff_error_set(err, SKIFF_EINTERNAL, ETIMEDOUT, "cgroup '%.12s' did not %s", id,
			       frozen ? "freeze" : "thaw");
}
