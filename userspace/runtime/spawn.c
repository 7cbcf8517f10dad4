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
#include "caps.h"
#include "rootfs.h"
#include "seccomp.h"
#include "spawn-trace.h"
#include "user.h"

const char *const skiff_default_caps[] = {
	"CAP_CHOWN",	  "CAP_DAC_OVERRIDE", "CAP_FSETID",	     "CAP_FOWNER",     "CAP_MKNOD",
	"CAP_NET_RAW",	  "CAP_SETGID",	      "CAP_SETUID",	     "CAP_SETFCAP",    "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",	     "CAP_AUDIT_WRITE", NULL,
};

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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

struct spawn_ctx {
	const json_t *spec;
	const struct skiff_cgroup_layout *cg;
	const char *id;
	char **args, **env; /* env has room for HOME */
	const char *cwd, *user, *hostname, *domainname;
	bool tty, want_stdin, new_net, new_pid, new_uts, new_ipc, new_cgroupns, nnp, privileged;
	int netns_fd;
	uint64_t caps;
	struct sock_fprog *seccomp; /* NULL: unconfined */
	int nrl;
	struct {
		int res;
		struct rlimit rl;
	} rl[ARRAY_SIZE(rlimit_names)];
	struct skiff_rootfs rootfs;
	char cg_procs[SKIFF_CGROUP_MAX_V1 + 1][600]; /* cgroup.procs files the child joins itself */
	int ncg_procs;
	bool unshare_cgroupns; /* could not be done by clone3 (v1 joins come first) */
	bool into_cgroup;      /* clone3 put the child in its v2 cgroup */
	int stdio[3];          /* child ends; -1 with a tty (made inside the container) */
	int console_sock[2];   /* tty: the child sends the pty master back over [1] */
	int errpipe[2];
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

/* --- seccomp program cache: compiling is ms, applying is µs ------------- */

struct prog_cache_entry {
	char *key;
	uint64_t caps;
	struct sock_fprog prog;
};
static struct prog_cache_entry prog_cache[8];
static unsigned prog_cache_next;
static pthread_mutex_t prog_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int seccomp_cached(const json_t *profile, uint64_t caps, struct sock_fprog **out, struct skiff_error *err)
{
	_cleanup_free_ char *key = profile ? json_dumps(profile, JSON_COMPACT | JSON_SORT_KEYS) : strdup("default");
	int r = 0;
	if (!key)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	pthread_mutex_lock(&prog_cache_lock);
	for (unsigned i = 0; i < ARRAY_SIZE(prog_cache); i++) {
		if (prog_cache[i].key && prog_cache[i].caps == caps && !strcmp(prog_cache[i].key, key)) {
			*out = &prog_cache[i].prog;
			goto out;
		}
	}
	struct prog_cache_entry *e = &prog_cache[prog_cache_next++ % ARRAY_SIZE(prog_cache)];
	free(e->key);
	e->key = NULL;
	skiff_seccomp_free(&e->prog);
	r = skiff_seccomp_compile(profile, caps, &e->prog, err);
	if (r == 0) {
		e->key = TAKE_PTR(key);
		e->caps = caps;
		*out = &e->prog;
	}
out:
	pthread_mutex_unlock(&prog_cache_lock);
	return r;
}

/* --- the child ------------------------------------------------------------ */

static __attribute__((noreturn)) void child_fail(struct spawn_ctx *c, struct skiff_error *e)
{
	struct child_error ce = { .status = e->status ? e->status : SKIFF_EINTERNAL, .errnum = e->errnum };
	snprintf(ce.msg, sizeof(ce.msg), "%s", e->msg);
	if (write(c->errpipe[1], &ce, sizeof(ce)) < 0) {
		/* the parent is gone; nothing left to tell */
	}
	_exit(127);
}

#define CHILD_SYS(c, e, errn, ...)                                                                                 \
	do {                                                                                                       \
		skiff_error_sys(e, SKIFF_EINTERNAL, errn, __VA_ARGS__);                                           \
		child_fail(c, e);                                                                                  \
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

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* With a tty the pty is made in the container's own devpts instance (as
 * runc does), so `tty` says /dev/pts/0 and the pty counts against the
 * container, not the host. The slave becomes stdio and the controlling
 * terminal; the master goes back to the parent over console_sock. */
static void setup_console(struct spawn_ctx *c, const struct skiff_user *u, struct skiff_error *e)
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

static int recv_console(struct spawn_ctx *c, struct skiff_proc *out, struct skiff_error *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	int master = -1;

	if (recvmsg(c->console_sock[0], &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "receiving the container's pty");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return skiff_error_set(err, SKIFF_EINTERNAL, EPROTO, "receiving the container's pty: no fd");
	memcpy(&master, CMSG_DATA(cm), sizeof(int));
	out->stdout_fd = master;
	if (c->want_stdin) {
		out->stdin_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		if (out->stdin_fd < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "dup of the pty");
	}
	return 0;
}

/* Docker's exec.LookPath inside the container; reports like runc does. */
static int find_exec(struct spawn_ctx *c, char *out, size_t outlen, struct skiff_error *e)
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

/* rt_sigaction directly: glibc refuses its internal signals 32 and 33, and
 * an ignored one inherited from whoever started the monitor would reach the
 * container (exec keeps SIG_IGN). */
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

static __attribute__((noreturn)) void child_main(struct spawn_ctx *c)
{
	struct skiff_error e = { 0 };
	struct skiff_user u;
	char exe[4096];
	sigset_t all;

	SPAWN_TRACE("child: running");
	/* the parent blocked every signal around clone3: reset our handlers
	 * (and SIG_IGN, which exec keeps) before anything can be delivered */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			reset_signal(s);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	umask(0);
	SPAWN_TRACE("child: signals reset");

	if (setsid() < 0)
		CHILD_SYS(c, &e, errno, "setsid");
	for (int i = 0; i < 3 && !c->tty; i++)
		if (dup2(c->stdio[i], i) < 0)
			CHILD_SYS(c, &e, errno, "setting up stdio");
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
	/* Docker creates a missing working dir */
	const char *cwd = c->cwd && *c->cwd ? c->cwd : "/";
	int r = skiff_mkdir_p(cwd, 0755);
	if (r < 0 || chdir(cwd) < 0)
		CHILD_SYS(c, &e, r < 0 ? -r : errno, "chdir to cwd (\"%s\") set in config.json failed", cwd);
	SPAWN_TRACE("child: rlimits+cwd");
	if (find_exec(c, exe, sizeof(exe), &e) < 0)
		child_fail(c, &e);
	SPAWN_TRACE("child: find exec");
	if (skiff_rootfs_finish(&c->rootfs, &e) < 0)
		child_fail(c, &e);

	/* identity: bounding set first (needs CAP_SETPCAP), keep the permitted
	 * set across setuid so seccomp can still be installed, then settle. */
	if (!c->privileged && (r = skiff_caps_bound(c->caps)) < 0)
		CHILD_SYS(c, &e, -r, "dropping bounding capabilities");
	SPAWN_TRACE("child: caps bounding");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		CHILD_SYS(c, &e, errno, "PR_SET_KEEPCAPS");
	/* raw syscalls: glibc's set*id would signal the threads it believes it
	 * has, and with CLONE_VM its thread list is the parent's */
	if (syscall(SYS_setgroups, (size_t)u.ngroups, u.groups) < 0)
		CHILD_SYS(c, &e, errno, "setgroups");
	if (syscall(SYS_setresgid, u.gid, u.gid, u.gid) < 0)
		CHILD_SYS(c, &e, errno, "setgid %u", u.gid);
	if (syscall(SYS_setresuid, u.uid, u.uid, u.uid) < 0)
		CHILD_SYS(c, &e, errno, "setuid %u", u.uid);
	SPAWN_TRACE("child: setgroups/gid/uid");
	/* Docker: a non-root user starts with no effective/permitted caps */
	uint64_t final = u.uid == 0 ? c->caps : 0;
	if (c->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		CHILD_SYS(c, &e, errno, "no_new_privileges");
	if (c->seccomp && !c->nnp) {
		/* without no_new_privs the filter needs CAP_SYS_ADMIN: install it
		 * before the final capset (which the default profile allows) */
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
	SPAWN_TRACE("child: seccomp+capset");

	umask(022);
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	SPAWN_TRACE("child: execve");
	execve(exe, c->args, c->env);
	if (errno == EACCES)
		skiff_error_set(&e, SKIFF_EINVAL, EACCES, "exec: \"%s\": permission denied", c->args[0]);
	else if (errno == ENOENT)
		skiff_error_set(&e, SKIFF_EINVAL, ENOENT, "exec: \"%s\": no such file or directory", c->args[0]);
	else
		skiff_error_sys(&e, SKIFF_EINVAL, errno, "exec: \"%s\"", c->args[0]);
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
	c->args = skiff_json_strv(json_object_get(spec, "args"));
	if (!c->args || !c->args[0] || !*c->args[0])
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "spec: no command specified");
	const json_t *env = json_object_get(spec, "env");
	size_t nenv = json_is_array(env) ? json_array_size(env) : 0;
	c->env = calloc(nenv + 3, sizeof(char *));
	if (!c->env)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (size_t i = 0; i < nenv; i++) {
		const char *s = json_string_value(json_array_get(env, i));
		if (!s || !(c->env[i] = strdup(s)))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "spec: env entries must be strings");
	}
	c->cwd = skiff_json_str(spec, "cwd", "/");
	c->user = skiff_json_str(spec, "user", "");
	c->hostname = skiff_json_str(spec, "hostname", NULL);
	c->domainname = skiff_json_str(spec, "domainname", NULL);
	c->tty = skiff_json_bool(spec, "tty", false);
	c->want_stdin = skiff_json_bool(spec, "stdin", false);
	c->privileged = skiff_json_bool(spec, "privileged", false);
	c->nnp = skiff_json_bool(spec, "no_new_privileges", false);

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
	if (!unconfined) {
		if ((r = seccomp_cached(json_is_object(sc) ? sc : NULL, c->caps, &c->seccomp, err)) < 0)
			return r;
	}

	const json_t *rls = json_object_get(spec, "rlimits");
	size_t i;
	json_t *rl;
	json_array_foreach(rls, i, rl) {
		const char *name = skiff_json_str(rl, "name", "");
		size_t k;
		if (!strncasecmp(name, "RLIMIT_", 7))
			name += 7;
		for (k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (!strcasecmp(rlimit_names[k].name, name))
				break;
		if (k == ARRAY_SIZE(rlimit_names) || c->nrl >= (int)ARRAY_SIZE(c->rl))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid ulimit: unknown name \"%s\"", name);
		c->rl[c->nrl].res = rlimit_names[k].resource;
		c->rl[c->nrl].rl.rlim_cur = (rlim_t)skiff_json_int(rl, "soft", 0);
		c->rl[c->nrl].rl.rlim_max = (rlim_t)skiff_json_int(rl, "hard", 0);
		if (c->rl[c->nrl].rl.rlim_cur > c->rl[c->nrl].rl.rlim_max)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid ulimit: soft limit is greater than hard limit for \"%s\"", name);
		c->nrl++;
	}

	if ((r = skiff_rootfs_from_spec(spec, &c->rootfs, err)) < 0)
		return r;
	c->rootfs.new_net = c->new_net || c->netns_fd >= 0;
	c->rootfs.new_cgroupns = c->new_cgroupns;
	c->rootfs.cg = c->cg;
	return 0;
}

static int setup_stdio(struct spawn_ctx *c, struct skiff_proc *out, struct skiff_error *err)
{
	int p[2];
	out->stdin_fd = out->stdout_fd = out->stderr_fd = -1;
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
	} else {
		c->stdio[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (c->stdio[0] < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening /dev/null");
	}
	for (int i = 1; i <= 2; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
		c->stdio[i] = p[1];
		if (i == 1)
			out->stdout_fd = p[0];
		else
			out->stderr_fd = p[0];
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void ctx_free(struct spawn_ctx *c)
{
	skiff_strvfree(c->args);
	skiff_strvfree(c->env);
	skiff_rootfs_free(&c->rootfs);
	close_fd(&c->netns_fd);
	for (int i = 0; i < 3; i++)
		close_fd(&c->stdio[i]);
	close_fd(&c->errpipe[0]);
	close_fd(&c->errpipe[1]);
	close_fd(&c->console_sock[0]);
	close_fd(&c->console_sock[1]);
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
	close(c->errpipe[0]);
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
			       .stdio = { -1, -1, -1 },
			       .console_sock = { -1, -1 },
			       .errpipe = { -1, -1 } };
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
	if ((r = setup_stdio(&c, out, err)) < 0)
		goto fail;
	if (pipe2(c.errpipe, O_CLOEXEC) < 0) {
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
	if (c.tty && (r = recv_console(&c, out, err)) < 0)
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
	close_fd(&out->stdin_fd);
	close_fd(&out->stdout_fd);
	close_fd(&out->stderr_fd);
	out->pid = -1;
	ctx_free(&c);
	return r;
}
