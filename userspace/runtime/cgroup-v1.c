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

/* A new cpuset cgroup starts with empty cpus/mems: no task may join until
 * they are filled. Copy them from the parent when empty. */
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

static int make_dir(const char *dir, bool cpuset, struct skiff_error *err)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mkdir %s", dir);
	if (cpuset) {
		int r = cpuset_copy_down(dir);
		if (r < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "initialising cpuset of %s", dir);
	}
	return 0;
}

int skiff_cgroup_v1_create(const struct skiff_cgroup_layout *l, const char *id, struct skiff_error *err)
{
	char dir[512];
	for (int i = 0; i < l->nv1; i++) {
		bool cpuset = skiff_cgroup_has_token(l->v1[i].controllers, "cpuset");
		snprintf(dir, sizeof(dir), "%s/%s", l->v1[i].root, l->parent);
		int r = make_dir(dir, cpuset, err);
		if (r < 0)
			return r;
		snprintf(dir, sizeof(dir), "%s/%s/%s", l->v1[i].root, l->parent, id);
		r = make_dir(dir, cpuset, err);
		if (r < 0)
			return r;
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
