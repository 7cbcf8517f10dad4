/* skiff_exec_spawn: a process inside a running container. A process cannot
 * move itself into another pid namespace (setns(CLONE_NEWPID) only applies
 * to its children), so the monitor clones a short-lived helper that joins
 * the container's cgroups and namespaces, and the helper clones the real
 * process with CLONE_PARENT: it lands in the container's pid namespace as
 * the monitor's child. Both clones share the monitor's memory and block it
 * (CLONE_VM|CLONE_VFORK, like spawn.c), so nothing is copied; the helper is
 * gone by the time this returns. */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "child.h"
#include "user.h"

#define STACK_SIZE (256 * 1024)
struct exec_ctx {
	const json_t *spec;
	const char *ctr_id;
	char **args, **env; /* env has room for HOME */
	const char *cwd, *user;
	bool tty, want_stdin;
	struct skiff_child_privs privs;
	int nrl;
	struct skiff_child_rlimit rl[SKIFF_CHILD_MAX_RLIMITS];
	int init_pidfd;
	int cg_fds[SKIFF_CGROUP_MAX_V1 + 1]; /* cgroup.procs of every hierarchy, opened before setns */
	int ncg;
	struct skiff_child_io io;
	pid_t pid; /* written by the helper */
};

/* --- the helper and the child ------------------------------------------- */

#define child_fail(c, e) skiff_child_fail((c)->io.errpipe[1], e)
#define CHILD_SYS(c, e, errn, ...) SKIFF_CHILD_SYS((c)->io.errpipe[1], e, errn, __VA_ARGS__)
#define CHILD_TRY(c, e, call)                                                                                      \
	do {                                                                                                       \
		if ((call) < 0)                                                                                    \
			child_fail(c, e);                                                                          \
	} while (0)


static int child_main(void *arg)
{
	struct exec_ctx *c = arg;
	struct skiff_error e = { 0 };
	struct skiff_user u;
	char exe[4096];

	skiff_child_reset_signals();
	umask(022);
	CHILD_TRY(c, &e, skiff_child_stdio(&c->io, c->tty, &e));

	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHILD_TRY(c, &e, skiff_user_resolve(rootfd, c->user, &u, &e));
	CHILD_TRY(c, &e, skiff_child_set_home(c->env, &u, &e));
	if (c->tty)
		CHILD_TRY(c, &e, skiff_child_console(c->spec, &c->io, &u, &e));
	CHILD_TRY(c, &e, skiff_child_set_rlimits(c->rl, c->nrl, &e));
	const char *cwd = c->cwd && *c->cwd ? c->cwd : "/";
	if (chdir(cwd) < 0) {
		skiff_error_set(&e, SKIFF_EINVAL, errno, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd,
				errno == ENOENT ? "no such file or directory" : strerror(errno));
		child_fail(c, &e);
	}
	CHILD_TRY(c, &e, skiff_child_find_exec(c->args, c->env, exe, sizeof(exe), &e));

	CHILD_TRY(c, &e, skiff_child_set_identity(&c->privs, &u, &e));
	CHILD_TRY(c, &e, skiff_child_apply_privs(&c->privs, &u, &e));

	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	skiff_child_execve(exe, c->args, c->env, &e);
	child_fail(c, &e);
}

static void *stack_top(int which)
{
	static void *stacks[2];
	if (!stacks[which]) {
		void *p = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		mprotect(p, 4096, PROT_NONE); /* guard page */
		stacks[which] = p;
	}
	return (char *)stacks[which] + STACK_SIZE;
}

/* The helper: cgroups first (their paths are only ours before setns), then
 * every namespace of the init at once through its pidfd, then the child. */
static int helper_main(void *arg)
{
	struct exec_ctx *c = arg;
	struct skiff_error e = { 0 };

	for (int i = 0; i < c->ncg; i++)
		if (write(c->cg_fds[i], "0", 1) < 0)
			CHILD_SYS(c, &e, errno, "joining the container's cgroup");
	if (setns(c->init_pidfd, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
					 CLONE_NEWCGROUP) < 0)
		CHILD_SYS(c, &e, errno, "joining the container's namespaces");
	void *stack = stack_top(1);
	if (!stack)
		CHILD_SYS(c, &e, ENOMEM, "exec stack");
	/* CLONE_PARENT: the monitor, not this helper, is the parent and reaper */
	pid_t pid = clone(child_main, stack, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, c);
	if (pid < 0)
		CHILD_SYS(c, &e, errno, "clone");
	c->pid = pid;
	_exit(0);
}

/* --- the monitor side ----------------------------------------------------- */

static int parse_spec(struct exec_ctx *c, struct skiff_error *err)
{
	const json_t *spec = c->spec;
	int r;

	c->ctr_id = skiff_json_str(spec, "container", NULL);
	if (!c->ctr_id || !*c->ctr_id || strchr(c->ctr_id, '/') || strlen(c->ctr_id) > 128)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "exec spec: invalid container id");
	if ((r = skiff_child_parse_cmd(spec, "exec spec", 1, &c->args, &c->env, err)) < 0)
		return r;
	c->cwd = skiff_json_str(spec, "cwd", "/");
	c->user = skiff_json_str(spec, "user", "");
	c->tty = skiff_json_bool(spec, "tty", false);
	c->want_stdin = skiff_json_bool(spec, "stdin", false);
	if ((r = skiff_child_parse_privs(spec, &c->privs, err)) < 0)
		return r;
	return skiff_child_parse_rlimits(json_object_get(spec, "rlimits"), false, c->rl, &c->nrl, err);
}

static int open_cgroups(struct exec_ctx *c, const struct skiff_cgroup_layout *cg, struct skiff_error *err)
{
	char p[700];
	for (int i = 0; i <= cg->nv1; i++) {
		if (i < cg->nv1)
			snprintf(p, sizeof(p), "%s/%s/%s/cgroup.procs", cg->v1[i].root, cg->parent, c->ctr_id);
		else if (skiff_cgroup_path(cg, NULL, c->ctr_id, p, sizeof(p) - 16) == 0)
			strcat(p, "/cgroup.procs");
		else
			break;
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening %s", p);
		c->cg_fds[c->ncg++] = fd;
	}
	return 0;
}

static void ctx_free(struct exec_ctx *c)
{
	skiff_strvfree(c->args);
	skiff_strvfree(c->env);
	for (int i = 0; i < c->ncg; i++)
		skiff_child_close_fd(&c->cg_fds[i]);
	skiff_child_io_close(&c->io);
}

int skiff_exec_spawn(const struct skiff_cgroup_layout *cg, int init_pidfd, const json_t *spec,
		     struct skiff_proc *out, struct skiff_error *err)
{
	struct exec_ctx c = { .spec = spec,
			      .init_pidfd = init_pidfd,
			      .io = SKIFF_CHILD_IO_INIT,
			      .pid = -1 };
	sigset_t all, old;
	int r, status;

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->pidfd = out->stdin_fd = out->stdout_fd = out->stderr_fd = -1;
	if (init_pidfd < 0) {
		r = skiff_error_set(err, SKIFF_ECONFLICT, ESRCH, "container is not running");
		goto fail;
	}
	if ((r = parse_spec(&c, err)) < 0 || (r = open_cgroups(&c, cg, err)) < 0 ||
	    (r = skiff_child_setup_stdio(&c.io, c.tty, c.want_stdin, out, err)) < 0)
		goto fail;
	if (pipe2(c.io.errpipe, O_CLOEXEC) < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
		goto fail;
	}
	void *stack = stack_top(0);
	if (!stack || !stack_top(1)) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "exec stacks");
		goto fail;
	}
	/* no handler of ours may run in the helper or child before they reset them */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t helper = clone(helper_main, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
	int saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (helper < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, saved, "clone");
		goto fail;
	}
	while (waitpid(helper, &status, __WALL) < 0 && errno == EINTR)
		;
	if ((r = skiff_child_collect(&c.io, err)) < 0)
		goto fail;
	if (c.pid <= 0) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ECHILD, "exec helper died");
		goto fail;
	}
	if (c.tty && (r = skiff_child_recv_console(&c.io, c.want_stdin, "the exec's pty", out, err)) < 0)
		goto fail;
	out->pid = c.pid;
	out->pidfd = (int)syscall(SYS_pidfd_open, c.pid, 0);
	ctx_free(&c);
	return 0;

fail:
	if (c.pid > 0) {
		kill(c.pid, SIGKILL);
		waitpid(c.pid, NULL, 0);
	}
	skiff_child_close_fd(&out->stdin_fd);
	skiff_child_close_fd(&out->stdout_fd);
	skiff_child_close_fd(&out->stderr_fd);
	out->pid = -1;
	ctx_free(&c);
	return r;
}
