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
#include "caps.h"
#include "seccomp.h"
#include "user.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define STACK_SIZE (256 * 1024)
#define MAX_RLIMITS 16

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "as", RLIMIT_AS },	       { "core", RLIMIT_CORE },		{ "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA },       { "fsize", RLIMIT_FSIZE },	{ "locks", RLIMIT_LOCKS },
	{ "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
	{ "nofile", RLIMIT_NOFILE },   { "nproc", RLIMIT_NPROC },	{ "rss", RLIMIT_RSS },
	{ "rtprio", RLIMIT_RTPRIO },   { "rttime", RLIMIT_RTTIME },	{ "sigpending", RLIMIT_SIGPENDING },
	{ "stack", RLIMIT_STACK },
};

struct child_error {
	int status, errnum;
	char msg[900];
};

struct exec_ctx {
	const json_t *spec;
	const char *ctr_id;
	char **args, **env; /* env has room for HOME */
	const char *cwd, *user;
	bool tty, want_stdin, nnp, privileged;
	uint64_t caps;
	struct sock_fprog *seccomp; /* NULL: unconfined */
	int nrl;
	struct {
		int res;
		struct rlimit rl;
	} rl[MAX_RLIMITS];
	int init_pidfd;
	int cg_fds[SKIFF_CGROUP_MAX_V1 + 1]; /* cgroup.procs of every hierarchy, opened before setns */
	int ncg;
	int stdio[3];
	int console_sock[2];
	int errpipe[2];
	pid_t pid; /* written by the helper */
};

/* --- seccomp programs, cached per profile and caps (compiling takes ms) --- */

static struct {
	char *key;
	uint64_t caps;
	struct sock_fprog prog;
} prog_cache[4];
static unsigned prog_cache_next;

static int seccomp_cached(const json_t *profile, uint64_t caps, struct sock_fprog **out, struct skiff_error *err)
{
	_cleanup_free_ char *key = profile ? json_dumps(profile, JSON_COMPACT | JSON_SORT_KEYS) : strdup("default");
	if (!key)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (unsigned i = 0; i < ARRAY_SIZE(prog_cache); i++)
		if (prog_cache[i].key && prog_cache[i].caps == caps && !strcmp(prog_cache[i].key, key)) {
			*out = &prog_cache[i].prog;
			return 0;
		}
	unsigned slot = prog_cache_next++ % ARRAY_SIZE(prog_cache);
	free(prog_cache[slot].key);
	prog_cache[slot].key = NULL;
	skiff_seccomp_free(&prog_cache[slot].prog);
	int r = skiff_seccomp_compile(profile, caps, &prog_cache[slot].prog, err);
	if (r < 0)
		return r;
	prog_cache[slot].key = TAKE_PTR(key);
	prog_cache[slot].caps = caps;
	*out = &prog_cache[slot].prog;
	return 0;
}

/* --- the helper and the child ------------------------------------------- */

static __attribute__((noreturn)) void child_fail(struct exec_ctx *c, struct skiff_error *e)
{
	struct child_error ce = { .status = e->status ? e->status : SKIFF_EINTERNAL, .errnum = e->errnum };
	snprintf(ce.msg, sizeof(ce.msg), "%s", e->msg);
	if (write(c->errpipe[1], &ce, sizeof(ce)) < 0) {
		/* the monitor is gone; nothing left to tell */
	}
	_exit(127);
}

#define CHILD_SYS(c, e, errn, ...)                                                                                 \
	do {                                                                                                       \
		skiff_error_sys(e, SKIFF_EINTERNAL, errn, __VA_ARGS__);                                           \
		child_fail(c, e);                                                                                  \
	} while (0)

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* rt_sigaction directly: glibc refuses its internal signals 32 and 33 */
static void reset_signal(int sig)
{
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} ksa = { .handler = SIG_DFL };
	syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
}

/* The pty comes from the container's own devpts (we are in its mount
 * namespace), as for the init: the exec'd shell sees /dev/pts/N of the
 * container. The master goes back to the monitor over console_sock. */
static void setup_console(struct exec_ctx *c, const struct skiff_user *u, struct skiff_error *e)
{
	_cleanup_close_ int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0, ptn = -1;
	char path[64];

	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0)
		CHILD_SYS(c, e, errno, "allocating a pty in the container");
	const json_t *con = json_object_get(c->spec, "console");
	if (json_is_array(con) && json_array_size(con) == 2) {
		struct winsize ws = { .ws_row = (unsigned short)json_integer_value(json_array_get(con, 0)),
				      .ws_col = (unsigned short)json_integer_value(json_array_get(con, 1)) };
		if (ws.ws_row && ws.ws_col)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	snprintf(path, sizeof(path), "/dev/pts/%d", ptn);
	_cleanup_close_ int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		CHILD_SYS(c, e, errno, "opening %s", path);
	if (u->uid != 0 && fchown(slave, u->uid, (gid_t)-1) < 0)
		CHILD_SYS(c, e, errno, "chown %s", path);
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			CHILD_SYS(c, e, errno, "setting up stdio");
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		CHILD_SYS(c, e, errno, "setting the controlling terminal");

	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'm';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(c->console_sock[1], &msg, MSG_NOSIGNAL) != 1)
		CHILD_SYS(c, e, errno, "handing the pty to the monitor");
}

/* Go's exec.LookPath inside the container, reported in runc's words. */
static int find_exec(struct exec_ctx *c, char *out, size_t outlen, struct skiff_error *e)
{
	const char *a0 = c->args[0];
	struct stat st;
	if (strchr(a0, '/')) {
		if (stat(a0, &st) < 0)
			return skiff_error_set(e, SKIFF_EINVAL, errno, "exec: \"%s\": stat %s: %s", a0, a0,
					       errno == ENOENT ? "no such file or directory" : strerror(errno));
		snprintf(out, outlen, "%s", a0);
		return 0;
	}
	const char *path = env_get(c->env, "PATH");
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path ? path : DEFAULT_PATH);
	char *save = NULL;
	for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, outlen, "%s/%s", *dir ? dir : ".", a0);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return 0;
	}
	return skiff_error_set(e, SKIFF_EINVAL, ENOENT, "exec: \"%s\": executable file not found in $PATH", a0);
}

static int child_main(void *arg)
{
	struct exec_ctx *c = arg;
	struct skiff_error e = { 0 };
	struct skiff_user u;
	char exe[4096];
	sigset_t none;
	int r;

	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			reset_signal(s);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	umask(022);
	if (setsid() < 0)
		CHILD_SYS(c, &e, errno, "setsid");
	for (int i = 0; i < 3 && !c->tty; i++)
		if (dup2(c->stdio[i], i) < 0)
			CHILD_SYS(c, &e, errno, "setting up stdio");

	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (skiff_user_resolve(rootfd, c->user, &u, &e) < 0)
		child_fail(c, &e);
	if (!env_get(c->env, "HOME")) {
		char **p = c->env;
		while (*p)
			p++;
		if (asprintf(p, "HOME=%s", u.home) < 0)
			CHILD_SYS(c, &e, ENOMEM, "setting HOME");
	}
	if (c->tty)
		setup_console(c, &u, &e);
	for (int i = 0; i < c->nrl; i++)
		if (setrlimit(c->rl[i].res, &c->rl[i].rl) < 0)
			CHILD_SYS(c, &e, errno, "setting rlimit");
	const char *cwd = c->cwd && *c->cwd ? c->cwd : "/";
	if (chdir(cwd) < 0) {
		skiff_error_set(&e, SKIFF_EINVAL, errno, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd,
				errno == ENOENT ? "no such file or directory" : strerror(errno));
		child_fail(c, &e);
	}
	if (find_exec(c, exe, sizeof(exe), &e) < 0)
		child_fail(c, &e);

	if (!c->privileged && (r = skiff_caps_bound(c->caps)) < 0)
		CHILD_SYS(c, &e, -r, "dropping bounding capabilities");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		CHILD_SYS(c, &e, errno, "PR_SET_KEEPCAPS");
	/* raw syscalls: glibc's set*id would signal the monitor's threads */
	if (syscall(SYS_setgroups, (size_t)u.ngroups, u.groups) < 0)
		CHILD_SYS(c, &e, errno, "setgroups");
	if (syscall(SYS_setresgid, u.gid, u.gid, u.gid) < 0)
		CHILD_SYS(c, &e, errno, "setgid %u", u.gid);
	if (syscall(SYS_setresuid, u.uid, u.uid, u.uid) < 0)
		CHILD_SYS(c, &e, errno, "setuid %u", u.uid);
	uint64_t final = u.uid == 0 ? c->caps : 0;
	if (c->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		CHILD_SYS(c, &e, errno, "no_new_privileges");
	if (c->seccomp && !c->nnp) {
		if ((r = skiff_caps_raise()) < 0)
			CHILD_SYS(c, &e, -r, "capset before seccomp");
		if ((r = skiff_seccomp_apply(c->seccomp)) < 0)
			CHILD_SYS(c, &e, -r, "installing seccomp filter");
	}
	if ((r = skiff_caps_set(final)) < 0)
		CHILD_SYS(c, &e, -r, "capset");
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (c->seccomp && c->nnp && (r = skiff_seccomp_apply(c->seccomp)) < 0)
		CHILD_SYS(c, &e, -r, "installing seccomp filter");

	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	execve(exe, c->args, c->env);
	if (errno == EACCES)
		skiff_error_set(&e, SKIFF_EINVAL, EACCES, "exec: \"%s\": permission denied", c->args[0]);
	else if (errno == ENOENT)
		skiff_error_set(&e, SKIFF_EINVAL, ENOENT, "exec: \"%s\": no such file or directory", c->args[0]);
	else
		skiff_error_sys(&e, SKIFF_EINVAL, errno, "exec: \"%s\"", c->args[0]);
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
	c->args = skiff_json_strv(json_object_get(spec, "args"));
	if (!c->args || !c->args[0] || !*c->args[0])
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "exec spec: no command specified");
	const json_t *env = json_object_get(spec, "env");
	size_t nenv = json_is_array(env) ? json_array_size(env) : 0;
	c->env = calloc(nenv + 2, sizeof(char *));
	if (!c->env)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (size_t i = 0; i < nenv; i++) {
		const char *s = json_string_value(json_array_get(env, i));
		if (!s || !(c->env[i] = strdup(s)))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "exec spec: env entries must be strings");
	}
	c->cwd = skiff_json_str(spec, "cwd", "/");
	c->user = skiff_json_str(spec, "user", "");
	c->tty = skiff_json_bool(spec, "tty", false);
	c->want_stdin = skiff_json_bool(spec, "stdin", false);
	c->privileged = skiff_json_bool(spec, "privileged", false);
	c->nnp = skiff_json_bool(spec, "no_new_privileges", false);

	if (c->privileged) {
		c->caps = skiff_caps_all() & skiff_caps_permitted();
	} else if (json_is_array(json_object_get(spec, "caps"))) {
		_cleanup_strv_ char **names = skiff_json_strv(json_object_get(spec, "caps"));
		if ((r = skiff_caps_from_names((const char *const *)names, &c->caps, err)) < 0)
			return r;
	} else {
		c->caps = skiff_caps_default();
	}
	const json_t *sc = json_object_get(spec, "seccomp");
	bool unconfined = c->privileged || json_is_null(sc) ||
			  (json_is_string(sc) && !strcmp(json_string_value(sc), "unconfined"));
	if (!unconfined && (r = seccomp_cached(json_is_object(sc) ? sc : NULL, c->caps, &c->seccomp, err)) < 0)
		return r;

	size_t i;
	json_t *rl;
	json_array_foreach(json_object_get(spec, "rlimits"), i, rl)
	{
		const char *name = skiff_json_str(rl, "name", "");
		size_t k;
		if (!strncasecmp(name, "RLIMIT_", 7))
			name += 7;
		for (k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (!strcasecmp(rlimit_names[k].name, name))
				break;
		if (k == ARRAY_SIZE(rlimit_names) || c->nrl >= MAX_RLIMITS)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid ulimit: unknown name \"%s\"", name);
		c->rl[c->nrl].res = rlimit_names[k].resource;
		c->rl[c->nrl].rl.rlim_cur = (rlim_t)skiff_json_int(rl, "soft", 0);
		c->rl[c->nrl].rl.rlim_max = (rlim_t)skiff_json_int(rl, "hard", 0);
		c->nrl++;
	}
	return 0;
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

static int setup_stdio(struct exec_ctx *c, struct skiff_proc *out, struct skiff_error *err)
{
	int p[2];
	if (c->tty) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->console_sock) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "socketpair for the pty");
		return 0;
	}
	if (c->want_stdin) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
		c->stdio[0] = p[0];
		out->stdin_fd = p[1];
	} else if ((c->stdio[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening /dev/null");
	}
	for (int i = 1; i <= 2; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
		c->stdio[i] = p[1];
		*(i == 1 ? &out->stdout_fd : &out->stderr_fd) = p[0];
	}
	return 0;
}

static int recv_console(struct exec_ctx *c, struct skiff_proc *out, struct skiff_error *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	int master = -1;

	if (recvmsg(c->console_sock[0], &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "receiving the exec's pty");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return skiff_error_set(err, SKIFF_EINTERNAL, EPROTO, "receiving the exec's pty: no fd");
	memcpy(&master, CMSG_DATA(cm), sizeof(int));
	out->stdout_fd = master;
	if (c->want_stdin && (out->stdin_fd = fcntl(master, F_DUPFD_CLOEXEC, 3)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "dup of the pty");
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void ctx_free(struct exec_ctx *c)
{
	skiff_strvfree(c->args);
	skiff_strvfree(c->env);
	for (int i = 0; i < c->ncg; i++)
		close_fd(&c->cg_fds[i]);
	for (int i = 0; i < 3; i++)
		close_fd(&c->stdio[i]);
	close_fd(&c->errpipe[0]);
	close_fd(&c->errpipe[1]);
	close_fd(&c->console_sock[0]);
	close_fd(&c->console_sock[1]);
}

int skiff_exec_spawn(const struct skiff_cgroup_layout *cg, int init_pidfd, const json_t *spec,
		     struct skiff_proc *out, struct skiff_error *err)
{
	struct exec_ctx c = { .spec = spec,
			      .init_pidfd = init_pidfd,
			      .stdio = { -1, -1, -1 },
			      .console_sock = { -1, -1 },
			      .errpipe = { -1, -1 },
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
	    (r = setup_stdio(&c, out, err)) < 0)
		goto fail;
	if (pipe2(c.errpipe, O_CLOEXEC) < 0) {
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
	close_fd(&c.errpipe[1]);
	for (int i = 0; i < 3; i++)
		close_fd(&c.stdio[i]);
	struct child_error ce;
	ssize_t n;
	do
		n = read(c.errpipe[0], &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		ce.msg[sizeof(ce.msg) - 1] = '\0';
		r = skiff_error_set(err, ce.status, ce.errnum, "%s", ce.msg);
		goto fail;
	}
	if (c.pid <= 0) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ECHILD, "exec helper died");
		goto fail;
	}
	if (c.tty && (r = recv_console(&c, out, err)) < 0)
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
	close_fd(&out->stdin_fd);
	close_fd(&out->stdout_fd);
	close_fd(&out->stderr_fd);
	out->pid = -1;
	ctx_free(&c);
	return r;
}
