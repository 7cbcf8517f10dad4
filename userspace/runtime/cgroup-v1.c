/* cgroup v1 specifics: one directory per hierarchy, cpuset's inherited-but-
 * empty cpus/mems that must be copied down before a task can join, and the
 * freezer.state protocol. */
#include "cgroup-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "spawn-trace.h"

/* A new cpuset cgroup under a parent without clone_children starts with
 * empty cpus/mems: no task may join until they are filled. Copy them from
 * the parent when empty. */
static int cpuset_copy_down(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char path[600], ppath[600];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *cur = NULL, *parent = NULL;
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		snprintf(ppath, sizeof(ppath), "%s/../%s", dir, files[i]);
		int r = skiff_read_file(path, &cur, NULL);
		if (r < 0)
			return r;
		if (cur[0] && cur[0] != '\n')
			continue;
		r = skiff_read_file(ppath, &parent, NULL);
		if (r < 0)
			return r;
		r = skiff_write_file(path, parent);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A container's cpuset cgroup must have cpus/mems before its init joins.
 * With cgroup.clone_children on skiff's parent the kernel copies them at
 * mkdir, so a container's cpuset costs one mkdir like every other
 * hierarchy instead of four reads and two writes. The parent is checked once
 * per process (and again whenever it had to be created). */
static char cpuset_parent_ready[512];

static int prepare_parent(const char *parent, bool cpuset, struct skiff_error *err)
{
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mkdir %s", parent);
	if (!cpuset)
		return 0;
	char path[600];
	int r = cpuset_copy_down(parent);
	snprintf(path, sizeof(path), "%s/cgroup.clone_children", parent);
	if (r == 0)
		r = skiff_write_file(path, "1");
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "initialising cpuset of %s", parent);
	snprintf(cpuset_parent_ready, sizeof(cpuset_parent_ready), "%s", parent);
	return 0;
}

int skiff_cgroup_v1_create(const struct skiff_cgroup_layout *l, const char *id, struct skiff_error *err)
{
	char parent[512], dir[600];
	for (int i = 0; i < l->nv1; i++) {
		bool cpuset = skiff_cgroup_has_token(l->v1[i].controllers, "cpuset");
		int r;
		snprintf(parent, sizeof(parent), "%s/%s", l->v1[i].root, l->parent);
		snprintf(dir, sizeof(dir), "%s/%s", parent, id);
		if (cpuset && strcmp(cpuset_parent_ready, parent) && (r = prepare_parent(parent, true, err)) < 0)
			return r;
		r = mkdir(dir, 0755) < 0 ? -errno : 0;
		if (r == -ENOENT) {
			/* first container under this parent (or someone removed it) */
			if ((r = prepare_parent(parent, cpuset, err)) < 0)
				return r;
			r = mkdir(dir, 0755) < 0 ? -errno : 0;
		}
		if (r == -EEXIST && cpuset) /* left from before: may predate clone_children */
			r = cpuset_copy_down(dir);
		if (r < 0 && r != -EEXIST)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "mkdir %s", dir);
		if (skiff_spawn_trace_fd >= 0) {
			char step[96];
			snprintf(step, sizeof(step), "cgroup: v1 %s", l->v1[i].controllers);
			skiff_spawn_trace_mark(step);
		}
	}
	return 0;
}

int skiff_cgroup_v1_freeze(const struct skiff_cgroup_layout *l, const char *id, bool frozen, struct skiff_error *err)
{
	char dir[512], path[600];
	const char *want = frozen ? "FROZEN" : "THAWED";

	if (skiff_cgroup_path(l, "freezer", id, dir, sizeof(dir)) < 0)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOENT, "no freezer cgroup on this host");
	snprintf(path, sizeof(path), "%s/freezer.state", dir);
	/* FREEZING can stall on tasks in uninterruptible sleep: rewrite and poll */
	for (int attempt = 0; attempt < 1000; attempt++) {
		_cleanup_free_ char *state = NULL;
		if (attempt % 50 == 0) {
			int r = skiff_write_file(path, want);
			if (r < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing %s to %s", want, path);
		}
		int r = skiff_read_file(path, &state, NULL);
		if (r < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "reading %s", path);
		if (!strncmp(state, want, strlen(want)))
			return 0;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return skiff_error_set(err, SKIFF_EINTERNAL, ETIMEDOUT, "cgroup '%.12s' did not become %s", id, want);
}
