/* Spawning a process inside a running container (docker exec, health
 * probes). Called in the monitor, which becomes the process's parent: it
 * holds its stdio and reaps it exactly like an init, so a skiffd crash does
 * not end an exec session.
 *
 * Exec spec (JSON, built by skiffd from the container's runtime spec and the
 * exec request):
 * {
 *   "id": "<exec id>", "container": "<container id>",   (required)
 *   "args": ["sh", "-c", "..."],                         (required, non-empty)
 *   "env": [...], "cwd": "/", "user": "",               user resolved inside the container
 *   "tty": false, "stdin": false, "console": [rows, cols],
 *   "privileged": false, "caps": [...], "no_new_privileges": false,
 *   "seccomp": as in spawn.h (absent: Docker's default; null: none),
 *   "rlimits": [...]                                    as in spawn.h
 * }
 * Failures to exec come back like skiff_spawn's: status 400 with errnum
 * ENOENT (exit code 127) or EACCES (126) and runc's wording. */
#ifndef SKIFF_EXEC_H
#define SKIFF_EXEC_H

#include <jansson.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "cgroup.h"
#include "spawn.h"

/* Joins every namespace of the container's init (init_pidfd, a pidfd of it)
 * and its cgroup in every hierarchy, then resolves the user, makes the pty
 * in the container's devpts when tty, applies rlimits, capabilities,
 * no_new_privs and seccomp, and execs. Returns once the exec happened (out
 * filled as skiff_spawn does) or with the child's error; nothing is left
 * behind on failure. The caller must be single-threaded. */
int skiff_exec_spawn(const struct skiff_cgroup_layout *cg, int init_pidfd, const json_t *spec,
		     struct skiff_proc *out, struct skiff_error *err);

#endif
