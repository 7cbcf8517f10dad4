/* What the container init (spawn.c) and exec'd processes (exec.c) do in the
 * child before execve, and the parent-side halves that pair with it. */
#ifndef SKIFF_CHILD_H
#define SKIFF_CHILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "../lib/error.h"
#include "spawn.h"
#include "user.h"

#define SKIFF_CHILD_MAX_RLIMITS 16

struct sock_fprog;

/* The fds between the parent and a child it clones. */
struct skiff_child_io {
	int stdio[3];        /* child ends; -1 with a tty (made inside the container) */
	int console_sock[2]; /* tty: the child sends the pty master back over [1] */
	int errpipe[2];      /* CLOEXEC: a struct skiff_child_error, or EOF once exec worked */
};
#define SKIFF_CHILD_IO_INIT { .stdio = { -1, -1, -1 }, .console_sock = { -1, -1 }, .errpipe = { -1, -1 } }

/* Who the child becomes: parsed in the parent, applied in the child. */
struct skiff_child_privs {
	bool privileged, nnp;
	uint64_t caps;
	struct sock_fprog *seccomp; /* NULL: unconfined */
};

struct skiff_child_rlimit {
	int res;
	struct rlimit rl;
};

/* --- parent side ---------------------------------------------------------- */

/* "args" and "env" of a spec; env gets `spare` free NULL slots (HOME). `what`
 * names the spec in errors ("spec", "exec spec"). */
int skiff_child_parse_cmd(const json_t *spec, const char *what, size_t spare, char ***args, char ***env,
			  struct skiff_error *err);
/* "privileged", "no_new_privileges", "caps" and "seccomp"; the compiled
 * seccomp program is cached (per profile text and caps) and owned here. */
int skiff_child_parse_privs(const json_t *spec, struct skiff_child_privs *out, struct skiff_error *err);
/* "rlimits"; strict also refuses soft > hard. */
int skiff_child_parse_rlimits(const json_t *rls, bool strict, struct skiff_child_rlimit rl[SKIFF_CHILD_MAX_RLIMITS],
			      int *nrl, struct skiff_error *err);
/* Pipes (or, with a tty, the console socketpair) for the child's stdio. */
int skiff_child_setup_stdio(struct skiff_child_io *io, bool tty, bool want_stdin, struct skiff_proc *out,
			    struct skiff_error *err);
/* Closes the child's ends and reads its error: 0 when it exec'd. */
int skiff_child_collect(struct skiff_child_io *io, struct skiff_error *err);
/* The pty master the child sent; `what` names it in errors. */
int skiff_child_recv_console(struct skiff_child_io *io, bool want_stdin, const char *what, struct skiff_proc *out,
			     struct skiff_error *err);
void skiff_child_close_fd(int *fd);
void skiff_child_io_close(struct skiff_child_io *io);

/* --- child side: raw syscalls where glibc would touch shared state; the
 * functions return <0 with e filled, the caller reports with skiff_child_fail */

__attribute__((noreturn)) void skiff_child_fail(int errfd, struct skiff_error *e);
#define SKIFF_CHILD_SYS(errfd, e, errn, ...)                                                                       \
	do {                                                                                                       \
		skiff_error_sys(e, SKIFF_EINTERNAL, errn, __VA_ARGS__);                                           \
		skiff_child_fail(errfd, e);                                                                        \
	} while (0)

/* Every handler back to SIG_DFL (SIG_IGN too, exec keeps it), mask emptied. */
void skiff_child_reset_signals(void);
/* setsid, and without a tty io->stdio as 0, 1, 2. */
int skiff_child_stdio(const struct skiff_child_io *io, bool tty, struct skiff_error *e);
const char *skiff_child_env_get(char **env, const char *name);
/* HOME=<u->home> into env's spare slot unless env has HOME. */
int skiff_child_set_home(char **env, const struct skiff_user *u, struct skiff_error *e);
/* A pty in the container's devpts as stdio and controlling terminal, sized
 * by spec's "console"; the master goes back over io->console_sock[1]. */
int skiff_child_console(const json_t *spec, const struct skiff_child_io *io, const struct skiff_user *u,
			struct skiff_error *e);
int skiff_child_set_rlimits(const struct skiff_child_rlimit *rl, int nrl, struct skiff_error *e);
/* Go's exec.LookPath in the child's root, with runc's error wording. */
int skiff_child_find_exec(char **args, char **env, char *out, size_t outlen, struct skiff_error *e);
/* Bounding set, PR_SET_KEEPCAPS, then setgroups/setresgid/setresuid. */
int skiff_child_set_identity(const struct skiff_child_privs *p, const struct skiff_user *u, struct skiff_error *e);
/* no_new_privs, seccomp and the final capability set, in the order that
 * lets the filter be installed with or without no_new_privs. */
int skiff_child_apply_privs(const struct skiff_child_privs *p, const struct skiff_user *u, struct skiff_error *e);
/* execve; on return e holds runc's wording of the failure. */
int skiff_child_execve(const char *exe, char **args, char **env, struct skiff_error *e);

#endif
