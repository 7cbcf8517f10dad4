/* Spawning a container's init (and, later, exec'd processes) from a runtime
 * spec. The spec is JSON so skiffd can build it and hand it to the monitor
 * over its socket unchanged. Called in the monitor; on x86_64 the child is
 * made with clone3(CLONE_VM|CLONE_VFORK|CLONE_INTO_CGROUP) on its own stack,
 * posix_spawn style, so no address space is copied at all.
 *
 * Runtime spec (every key optional unless marked):
 * {
 *   "id": "<64 hex>",                                   (required)
 *   "args": ["/bin/sh", "-c", "..."],                   (required, non-empty)
 *   "env": ["PATH=...", "HOSTNAME=..."],
 *   "cwd": "/",
 *   "user": "1000:1000" | "nobody" | "",               resolved inside the rootfs
 *   "hostname": "abc123", "domainname": "",
 *   "tty": false, "stdin": false, "stdin_once": false,
 *   "console": [rows, cols],
 *   "rootfs": { "lower": ["/abs/layer/top", ..., "/abs/layer/bottom"],
 *               "upper": "/abs/upper", "work": "/abs/work",
 *               "target": "/abs/merged", "readonly": false },
 *   "namespaces": { "net": "new"|"host"|"/proc/PID/ns/net", "pid": "new"|"host",
 *                   "ipc": "new"|"host", "uts": "new"|"host", "cgroup": "new"|"host" },
 *   "mounts": [ { "source": "/host/path", "target": "/in/container",
 *                 "type": "bind"|"tmpfs", "readonly": false, "options": "size=64m" } ],
 *   "etc_files": { "hostname": "/abs/path", "hosts": "/abs/path", "resolv.conf": "/abs/path" },
 *   "privileged": false,
 *   "caps": ["CAP_CHOWN", ...],        the full effective set (default 14 + add - drop)
 *   "no_new_privileges": false,
 *   "seccomp": null (unconfined) | { Docker-format profile },
 *   "rlimits": [ { "name": "nofile", "soft": 1024, "hard": 1024 } ],
 *   "cgroup": { HostConfig resource fields: "Memory", "MemorySwap", "NanoCpus",
 *               "CpuShares", "CpuQuota", "CpuPeriod", "CpusetCpus", "PidsLimit" },
 *   "readonly_rootfs": false
 * }
 * Notes (implementation, additive): "seccomp" absent = Docker's default
 * profile, null or "unconfined" = none, privileged = none. Compiled seccomp
 * programs are cached inside skiff_spawn (per profile text + caps), so the
 * monitor passes the profile every time. Exec failures come back with
 * status 400 and errnum ENOENT (exit code 127) or EACCES (126). The caller
 * must be single-threaded (the child shares its memory until exec), and removes
 * the cgroups with skiff_cgroup_destroy() after the init exited.
 */
#ifndef SKIFF_SPAWN_H
#define SKIFF_SPAWN_H

#include <jansson.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "cgroup.h"

struct skiff_proc {
	pid_t pid;
	int pidfd;      /* CLONE_PIDFD */
	int stdin_fd;   /* write end of stdin pipe, or pty master when tty; -1 if no stdin */
	int stdout_fd;  /* read end; the pty master (dup) when tty */
	int stderr_fd;  /* read end; -1 when tty */
};

/* Creates the cgroups, clones the init into its namespaces and cgroup, builds
 * the rootfs inside the new mount namespace, drops privileges and execs.
 * Returns only after the exec succeeded (or with the child's error, e.g.
 * "exec: \"nosuch\": executable file not found in $PATH" with status 400
 * mapped to exit code 127 by the caller). On failure nothing is left behind:
 * no cgroup, no mount, no process. */
int skiff_spawn(const struct skiff_cgroup_layout *cg, const json_t *spec, struct skiff_proc *out,
		struct skiff_error *err);

/* Default seccomp/caps/paths tables (Docker's defaults), for inspection and tests. */
extern const char *const skiff_default_caps[];
extern const char *const skiff_masked_paths[];
extern const char *const skiff_readonly_paths[];

#endif
