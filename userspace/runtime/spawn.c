/* skiff_spawn: from a runtime spec to an exec'd container init. Everything
 * that can be checked or computed (spec parsing, caps, the seccomp program,
 * cgroup paths) happens in the parent before clone3; the child only makes
 * syscalls: cgroups, namespaces, rootfs, identity, caps, seccomp, execve.
 * The child reports failures over a CLOEXEC pipe; EOF means exec worked.
 * Call from a single-threaded process (the monitor): the child shares its
 * memory (CLONE_VM|CLONE_VFORK, see clone_once) and may use malloc while the
 * parent sleeps. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "child.h"
#include "rootfs.h"
#include "spawn-trace.h"
#include "user.h"

const char *const skiff_default_caps[] = {
	"CAP_CHOWN",	  "CAP_DAC_OVERRIDE", "CAP_FSETID",	     "CAP_FOWNER",     "CAP_MKNOD",
	"CAP_NET_RAW",	  "CAP_SETGID",	      "CAP_SETUID",	     "CAP_SETFCAP",    "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",	     "CAP_AUDIT_WRITE", NULL,
};

struct spawn_ctx {
	const json_t *spec;
	const struct skiff_cgroup_layout *cg;
	const char *id;
	char **args, **env; /* env has room for HOME */
	const char *cwd, *user, *hostname, *domainname;
	bool tty, want_stdin, new_net, new_pid, new_uts, new_ipc, new_cgroupns;
	int netns_fd;
	struct skiff_child_privs privs;
	int nrl;
	struct skiff_child_rlimit rl[SKIFF_CHILD_MAX_RLIMITS];
	struct skiff_rootfs rootfs;
	char cg_procs[SKIFF_CGROUP_MAX_V1 + 1][600]; /* cgroup.procs files the child joins itself */
	int ncg_procs;
	bool unshare_cgroupns; /* could not be done by clone3 (v1 joins come first) */
	bool into_cgroup;      /* clone3 put the child in its v2 cgroup */
	struct skiff_child_io io;
};

/* --- SKIFF_SPAWN_TRACE=1: per-step timings on stderr (spawn-trace.h) ---- */

int skiff_spawn_trace_fd = -1;
static struct timespec trace_t0, trace_prev;

static long long trace_us(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000LL + (b->tv_nsec - a->tv_nsec) / 1000;
}

void skiff_spawn_trace_mark(const char *step)
{
	struct timespec now;
	char line[160];
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	int n = snprintf(line, sizeof(line), "spawn-trace: %d %s +%lld =%lld minflt=%ld\n", (int)getpid(), step,
			 trace_us(&trace_prev, &now), trace_us(&trace_t0, &now), ru.ru_minflt);
	if (write(skiff_spawn_trace_fd, line, (size_t)n) < 0) {
		/* tracing is best effort */
	}
	trace_prev = now;
}

static void trace_begin(void)
{
	static bool checked;
	if (!checked) {
		const char *e = getenv("SKIFF_SPAWN_TRACE");
		checked = true;
		if (e && *e && strcmp(e, "0"))
			skiff_spawn_trace_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	}
	if (skiff_spawn_trace_fd >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &trace_t0);
		trace_prev = trace_t0;
	}
}

/* --- the child ------------------------------------------------------------ */

#define child_fail(c, e) skiff_child_fail((c)->io.errpipe[1], e)
#define CHILD_SYS(c, e, errn, ...) SKIFF_CHILD_SYS((c)->io.errpipe[1], e, errn, __VA_ARGS__)
#define CHILD_TRY(c, e, call)                                                                                      \
	do {                                                                                                       \
		if ((call) < 0)                                                                                    \
			child_fail(c, e);                                                                          \
	} while (0)

static void loopback_up(struct spawn_ctx *c, struct skiff_error *e)
{
	struct ifreq ifr = { 0 };
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		CHILD_SYS(c, e, errno, "bringing up lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		CHILD_SYS(c, e, errno, "bringing up lo");
}

static __attribute__((noreturn)) void child_main(struct spawn_ctx *c)
{
	struct skiff_error e = { 0 };
	struct skiff_user u;
	char exe[4096];

	SPAWN_TRACE("child: running");
	/* the parent blocked every signal around clone3: reset our handlers
	 * (and SIG_IGN, which exec keeps) before anything can be delivered */
	skiff_child_reset_signals();
	umask(0);
	SPAWN_TRACE("child: signals reset");

	CHILD_TRY(c, &e, skiff_child_stdio(&c->io, c->tty, &e));
	SPAWN_TRACE("child: setsid+stdio");

	if (c->netns_fd >= 0 && setns(c->netns_fd, CLONE_NEWNET) < 0)
		CHILD_SYS(c, &e, errno, "joining network namespace");
	SPAWN_TRACE("child: setns net");
	for (int i = 0; i < c->ncg_procs - (c->into_cgroup && c->cg->v2_root[0]); i++) {
		int r = skiff_write_file(c->cg_procs[i], "0");
		if (r < 0)
			CHILD_SYS(c, &e, -r, "joining cgroup %s", c->cg_procs[i]);
	}
	SPAWN_TRACE("child: join cgroups");
	if (c->unshare_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		CHILD_SYS(c, &e, errno, "creating cgroup namespace");
	SPAWN_TRACE("child: unshare cgroupns");
	if (c->new_net)
		loopback_up(c, &e);
	SPAWN_TRACE("child: lo up");
	if (c->new_uts) {
		if (c->hostname && *c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
			CHILD_SYS(c, &e, errno, "sethostname");
		if (c->domainname && *c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
			CHILD_SYS(c, &e, errno, "setdomainname");
	}

	SPAWN_TRACE("child: hostname");
	if (skiff_rootfs_setup(&c->rootfs, &e) < 0)
		child_fail(c, &e);

	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (skiff_user_resolve(rootfd, c->user, &u, &e) < 0)
		child_fail(c, &e);
	SPAWN_TRACE("child: user resolve");
	CHILD_TRY(c, &e, skiff_child_set_home(c->env, &u, &e));
	if (c->tty)
		CHILD_TRY(c, &e, skiff_child_console(c->spec, &c->io, &u, &e));
	CHILD_TRY(c, &e, skiff_child_set_rlimits(c->rl, c->nrl, &e));
	/* Docker creates a missing working dir */
	const char *cwd = c->cwd && *c->cwd ? c->cwd : "/";
	int r = skiff_mkdir_p(cwd, 0755);
	if (r < 0 || chdir(cwd) < 0)
		CHILD_SYS(c, &e, r < 0 ? -r : errno, "chdir to cwd (\"%s\") set in config.json failed", cwd);
	SPAWN_TRACE("child: rlimits+cwd");
	CHILD_TRY(c, &e, skiff_child_find_exec(c->args, c->env, exe, sizeof(exe), &e));
	SPAWN_TRACE("child: find exec");
	if (skiff_rootfs_finish(&c->rootfs, &e) < 0)
		child_fail(c, &e);

	CHILD_TRY(c, &e, skiff_child_set_identity(&c->privs, &u, &e));
	SPAWN_TRACE("child: caps bounding+setgroups/gid/uid");
	CHILD_TRY(c, &e, skiff_child_apply_privs(&c->privs, &u, &e));
	SPAWN_TRACE("child: seccomp+capset");

	umask(022);
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	SPAWN_TRACE("child: execve");
	skiff_child_execve(exe, c->args, c->env, &e);
	child_fail(c, &e);
}

/* --- the parent ----------------------------------------------------------- */

static const char *ns_mode(const json_t *spec, const char *ns)
{
	return skiff_json_str(json_object_get(spec, "namespaces"), ns, "new");
}

static int parse_spec(struct spawn_ctx *c, struct skiff_error *err)
{
	const json_t *spec = c->spec;
	int r;

	c->id = skiff_json_str(spec, "id", NULL);
	if (!c->id || !*c->id || strchr(c->id, '/') || strlen(c->id) > 128)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "spec: invalid container id");
	if ((r = skiff_child_parse_cmd(spec, "spec", 2, &c->args, &c->env, err)) < 0)
		return r;
	c->cwd = skiff_json_str(spec, "cwd", "/");
	c->user = skiff_json_str(spec, "user", "");
	c->hostname = skiff_json_str(spec, "hostname", NULL);
	c->domainname = skiff_json_str(spec, "domainname", NULL);
	c->tty = skiff_json_bool(spec, "tty", false);
	c->want_stdin = skiff_json_bool(spec, "stdin", false);

	const char *net = ns_mode(spec, "net");
	c->netns_fd = -1;
	c->new_net = !strcmp(net, "new");
	if (net[0] == '/') {
		c->netns_fd = open(net, O_RDONLY | O_CLOEXEC);
		if (c->netns_fd < 0)
			return skiff_error_sys(err, SKIFF_EINVAL, errno, "opening network namespace %s", net);
	} else if (!c->new_net && strcmp(net, "host") != 0) {
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "spec: unknown network namespace mode \"%s\"", net);
	}
	c->new_pid = strcmp(ns_mode(spec, "pid"), "host") != 0;
	c->new_ipc = strcmp(ns_mode(spec, "ipc"), "host") != 0;
	c->new_uts = strcmp(ns_mode(spec, "uts"), "host") != 0;
	c->new_cgroupns = strcmp(ns_mode(spec, "cgroup"), "host") != 0;

	if ((r = skiff_child_parse_privs(spec, &c->privs, err)) < 0 ||
	    (r = skiff_child_parse_rlimits(json_object_get(spec, "rlimits"), true, c->rl, &c->nrl, err)) < 0)
		return r;

	if ((r = skiff_rootfs_from_spec(spec, &c->rootfs, err)) < 0)
		return r;
	c->rootfs.new_net = c->new_net || c->netns_fd >= 0;
	c->rootfs.new_cgroupns = c->new_cgroupns;
	c->rootfs.cg = c->cg;
	return 0;
}

static void ctx_free(struct spawn_ctx *c)
{
	skiff_strvfree(c->args);
	skiff_strvfree(c->env);
	skiff_rootfs_free(&c->rootfs);
	skiff_child_close_fd(&c->netns_fd);
	skiff_child_io_close(&c->io);
}

/* The child shares the parent's memory (CLONE_VM) and the parent sleeps
 * until the child has exec'd or exited (CLONE_VFORK), like posix_spawn: no
 * page tables are copied and nothing is copied on write. A fork-style child
 * costs ~1.3 ms more per start on our VMs (mm copy and teardown), more than
 * any mount we make. The child runs child_main on its own stack; the parent
 * is single-threaded and blocked, so the child may use libc (malloc, stdio)
 * on the shared heap. Raw clone3 returns twice on one instruction, so the
 * child's first steps are assembly. Other architectures fork. */
#if defined(__x86_64__)
#define SPAWN_CLONE_VM 1
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#define CHILD_STACK_SIZE (512 * 1024)

static void child_entry(void *arg);

static long clone3_on_stack(struct clone_args *args, void *arg)
{
	long ret;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 /* child: rsp is the top of its stack (16-byte aligned);
			  * fn and arg may sit in any register but rax/rdi/rsi */
			 "mov %[arg], %%rdi\n\t"
			 "call *%[fn]\n\t"
			 "mov $127, %%edi\n\t"
			 "mov %[exit], %%eax\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:\n\t"
			 : "=a"(ret)
			 : "0"((long)SYS_clone3), "D"(args), "S"(sizeof(*args)), [fn] "r"(child_entry),
			   [arg] "r"(arg), [exit] "i"(SYS_exit_group)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

/* One stack, reused: with CLONE_VFORK no child uses it once clone3 returns. */
static void *child_stack(void)
{
	static void *stack;
	if (!stack) {
		void *p = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
			       -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		mprotect(p, 4096, PROT_NONE); /* guard page */
		stack = p;
	}
#if defined(__SANITIZE_ADDRESS__)
	/* the last child never returned from its frames: ASan's shadow of this
	 * stack still holds their redzones */
	ASAN_UNPOISON_MEMORY_REGION((char *)stack + 4096, CHILD_STACK_SIZE - 4096);
#endif
	return stack;
}
#else
#define SPAWN_CLONE_VM 0
#endif

static void child_entry(void *arg)
{
	struct spawn_ctx *c = arg;
	close(c->io.errpipe[0]);
	child_main(c);
}

static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;

static long clone_once(struct spawn_ctx *c, struct clone_args *args)
{
	c->into_cgroup = args->flags & CLONE_INTO_CGROUP;
	c->unshare_cgroupns = c->new_cgroupns && !(args->flags & CLONE_NEWCGROUP);
#if SPAWN_CLONE_VM
	void *stack = child_stack();
	if (stack) {
		struct clone_args a = *args;
		a.flags |= CLONE_VM | CLONE_VFORK;
		a.stack = (uint64_t)(uintptr_t)stack;
		a.stack_size = CHILD_STACK_SIZE;
		return clone3_on_stack(&a, c);
	}
#endif
	long pid = syscall(SYS_clone3, args, sizeof(*args));
	if (pid == 0)
		child_entry(c);
	return pid;
}

/* Returns the child's pid in the parent once it has exec'd or failed (with
 * CLONE_VM) or right away (fork-style); the child never returns. */
static pid_t do_clone(struct spawn_ctx *c, int cgfd, int *pidfd)
{
	uint64_t flags = CLONE_NEWNS | CLONE_PIDFD;
	sigset_t all, old;
	if (c->new_pid)
		flags |= CLONE_NEWPID;
	if (c->new_uts)
		flags |= CLONE_NEWUTS;
	if (c->new_ipc)
		flags |= CLONE_NEWIPC;
	if (c->new_net)
		flags |= CLONE_NEWNET;
	/* the cgroup namespace root is the cgroup at unshare time: only when
	 * every hierarchy is joined by clone3 itself can it be a clone flag */
	if (c->new_cgroupns && cgfd >= 0 && c->cg->nv1 == 0)
		flags |= CLONE_NEWCGROUP;
	struct clone_args args = { .flags = flags, .pidfd = (uint64_t)(uintptr_t)pidfd, .exit_signal = SIGCHLD };
	if (cgfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgfd;
	}
	/* no handler of ours may run in the child before it reset them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&spawn_lock);
	long pid = clone_once(c, &args);
	if (pid < 0 && cgfd >= 0 && (errno == EINVAL || errno == E2BIG || errno == EOPNOTSUPP)) {
		args.flags &= ~(uint64_t)(CLONE_INTO_CGROUP | CLONE_NEWCGROUP);
		args.cgroup = 0;
		pid = clone_once(c, &args);
	}
	int saved = errno;
	pthread_mutex_unlock(&spawn_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return (pid_t)pid;
}

int skiff_spawn(const struct skiff_cgroup_layout *cg, const json_t *spec, struct skiff_proc *out,
		struct skiff_error *err)
{
	struct spawn_ctx c = { .spec = spec,
			       .cg = cg,
			       .netns_fd = -1,
			       .io = SKIFF_CHILD_IO_INIT };
	struct skiff_cgroup_limits lim;
	bool cg_made = false;
	int r, pidfd = -1;
	_cleanup_close_ int cgfd = -1;
	pid_t pid = -1;

	trace_begin();
	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->pidfd = out->stdin_fd = out->stdout_fd = out->stderr_fd = -1;

	if ((r = parse_spec(&c, err)) < 0)
		goto fail;
	SPAWN_TRACE("parent: parse spec+seccomp");
	if ((r = skiff_cgroup_limits_from_json(json_object_get(spec, "cgroup"), &lim, err)) < 0)
		goto fail;
	if ((r = skiff_cgroup_create(cg, c.id, &lim, err)) < 0)
		goto fail;
	cg_made = true;
	SPAWN_TRACE("parent: cgroup create");
	cgfd = skiff_cgroup_open_v2(cg, c.id);
	if ((r = skiff_child_setup_stdio(&c.io, c.tty, c.want_stdin, out, err)) < 0)
		goto fail;
	if (pipe2(c.io.errpipe, O_CLOEXEC) < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
		goto fail;
	}
	SPAWN_TRACE("parent: stdio+pipes");

	/* which cgroup.procs files the child writes "0" into itself; the v2 one
	 * (last) only when clone3 could not put it there */
	for (int i = 0; i < cg->nv1; i++)
		snprintf(c.cg_procs[c.ncg_procs++], sizeof(c.cg_procs[0]), "%s/%s/%s/cgroup.procs", cg->v1[i].root,
			 cg->parent, c.id);
	char v2dir[512];
	if (skiff_cgroup_path(cg, NULL, c.id, v2dir, sizeof(v2dir)) == 0)
		snprintf(c.cg_procs[c.ncg_procs++], sizeof(c.cg_procs[0]), "%s/cgroup.procs", v2dir);

	pid = do_clone(&c, cgfd, &pidfd);
	if (pid < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "clone3");
		goto fail;
	}

	SPAWN_TRACE("parent: clone3 returned");
	if ((r = skiff_child_collect(&c.io, err)) < 0)
		goto fail;
	if (c.tty && (r = skiff_child_recv_console(&c.io, c.want_stdin, "the container's pty", out, err)) < 0)
		goto fail;
	out->pid = pid;
	out->pidfd = pidfd;
	ctx_free(&c);
	SPAWN_TRACE("parent: exec seen");
	return 0;

fail:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (cg_made)
		skiff_cgroup_destroy(cg, c.id);
	skiff_child_close_fd(&out->stdin_fd);
	skiff_child_close_fd(&out->stdout_fd);
	skiff_child_close_fd(&out->stderr_fd);
	out->pid = -1;
	ctx_free(&c);
	return r;
}
