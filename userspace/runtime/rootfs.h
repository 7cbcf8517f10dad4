/* A container's filesystem view, built by its init inside its own new mount
 * namespace: overlay rootfs, /proc, /sys, /dev, cgroupfs, user mounts,
 * /etc/{hostname,hosts,resolv.conf}, pivot_root, Docker's masked and
 * read-only paths. The config is parsed in the parent (so bad input is a 400
 * before anything is cloned) and only used by the child. */
#ifndef SKIFF_ROOTFS_H
#define SKIFF_ROOTFS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"
#include "cgroup.h"

struct skiff_rootfs_mount {
	char *source, *target, *type, *options; /* type "bind" or "tmpfs" */
	char *propagation; /* bind: "rprivate" (default), "shared", "rslave", ... */
	bool readonly;
};

struct skiff_rootfs {
	char **lower; /* top first; NULL-terminated */
	char *upper, *work, *target;
	bool readonly; /* readonly_rootfs */
	struct skiff_rootfs_mount *mounts;
	size_t nmounts;
	char *etc_hostname, *etc_hosts, *etc_resolv;
	bool privileged;
	bool new_net;      /* fresh sysfs instead of a bind of the host's */
	bool new_cgroupns; /* mount the container's own cgroups on /sys/fs/cgroup */
	const struct skiff_cgroup_layout *cg;
	char console[64];  /* pty slave to bind on /dev/console, "" if no tty */
};

int skiff_rootfs_from_spec(const json_t *spec, struct skiff_rootfs *out, struct skiff_error *err);
void skiff_rootfs_free(struct skiff_rootfs *r);
/* Child side, in the new mount (and pid) namespace; leaves cwd at "/" of the
 * new root. */
int skiff_rootfs_setup(const struct skiff_rootfs *r, struct skiff_error *err);
/* Docker's last step: remount / read-only (ReadonlyRootfs). */
int skiff_rootfs_finish(const struct skiff_rootfs *r, struct skiff_error *err);

#endif
