/* What builder.c shares with builder-run.c and builder-cache.c. Not a
 * public surface. */
#ifndef SKIFF_BUILD_BUILDER_INTERNAL_H
#define SKIFF_BUILD_BUILDER_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "../lib/error.h"
#include "../runtime/cgroup.h"

typedef void (*build_out_fn)(void *data, const char *buf, size_t len);

/* Runs spec (skiff_spawn's format) to completion from a forked,
 * single-threaded child; output (stdout and stderr merged, as it comes) goes
 * to out. *cancel set: the container's cgroup is killed. Nothing stays
 * behind: no process, cgroup or mount. *exit_code gets the exit status
 * (128+signal when killed). */
int build_run_container(const struct skiff_cgroup_layout *cg, const json_t *spec, volatile int *cancel,
			build_out_fn out, void *out_data, int *exit_code, struct skiff_error *err);

/* Calls fn in a forked child that has its own mount namespace with the
 * overlay of lower (top first; NULL/empty: empty_dir) + upper/work mounted
 * at root_path, and, when src_lower is set, a read-only overlay of those
 * layers (COPY --from's source) at src_path. fds are O_PATH|O_DIRECTORY.
 * The mounts die with the child. fn's error comes back in err. */
typedef int (*build_rootfs_fn)(const char *root_path, int rootfd, int srcfd, void *data, struct skiff_error *err);
int build_in_rootfs(char *const *lower, const char *upper, const char *work, const char *empty_dir,
		    char *const *src_lower, build_rootfs_fn fn, void *data, struct skiff_error *err);

/* mkdir -p of path inside rootfd (RESOLVE_IN_ROOT), owned by uid:gid for the
 * components it creates. */
int build_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid, struct skiff_error *err);

/* Cache: <data_root>/build/cache.json {key: image id}. */
int build_cache_get(const char *data_root, const char *key, char id[72]);
int build_cache_put(const char *data_root, const char *key, const char *id);

#endif
