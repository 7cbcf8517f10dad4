/* What the container init (spawn.c) and exec'd processes (exec.c) do in the
 * child before execve, and the parent-side halves that pair with it.
 * The child runs on the parent's memory (CLONE_VM|CLONE_VFORK): only
 * syscalls and libc calls that touch no lock another thread could hold. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "caps.h"
#include "seccomp.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct skiff_child_error {
	int status, errnum;
	char msg[900];
};

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

/* --- parent side ---------------------------------------------------------- */

int skiff_child_parse_cmd(const json_t *spec, const char *what, size_t spare, char ***args, char ***envp,
			  struct skiff_error *err)
{
	*args = skiff_json_strv(json_object_get(spec, "args"));
	if (!*args || !(*args)[0] || !*(*args)[0])
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s: no command specified", what);
	const json_t *env = json_object_get(spec, "env");
	size_t nenv = json_is_array(env) ? json_array_size(env) : 0;
	*envp = calloc(nenv + 1 + spare, sizeof(char *));
	if (!*envp)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (size_t i = 0; i < nenv; i++) {
		const char *s = json_string_value(json_array_get(env, i));
		if (!s || !((*envp)[i] = strdup(s)))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s: env entries must be strings", what);
	}
	return 0;
}

int skiff_child_parse_privs(const json_t *spec, struct skiff_child_privs *out, struct skiff_error *err)
{
	int r;
	out->privileged = skiff_json_bool(spec, "privileged", false);
	out->nnp = skiff_json_bool(spec, "no_new_privileges", false);
	out->seccomp = NULL;
	if (out->privileged) {
		out->caps = skiff_caps_all() & skiff_caps_permitted();
	} else if (json_is_array(json_object_get(spec, "caps"))) {
		_cleanup_strv_ char **names = skiff_json_strv(json_object_get(spec, "caps"));
		if ((r = skiff_caps_from_names((const char *const *)names, &out->caps, err)) < 0)
			return r;
	} else {
		out->caps = skiff_caps_default();
	}
	const json_t *sc = json_object_get(spec, "seccomp");
	bool unconfined = out->privileged || json_is_null(sc) ||
			  (json_is_string(sc) && !strcmp(json_string_value(sc), "unconfined"));
	if (!unconfined && (r = seccomp_cached(json_is_object(sc) ? sc : NULL, out->caps, &out->seccomp, err)) < 0)
		return r;
	return 0;
}

int skiff_child_parse_rlimits(const json_t *rls, bool strict, struct skiff_child_rlimit rl[SKIFF_CHILD_MAX_RLIMITS],
			      int *nrl, struct skiff_error *err)
{
	size_t i;
	json_t *j;
	json_array_foreach(rls, i, j) {
		const char *name = skiff_json_str(j, "name", "");
		size_t k;
		if (!strncasecmp(name, "RLIMIT_", 7))
			name += 7;
		for (k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (!strcasecmp(rlimit_names[k].name, name))
				break;
		if (k == ARRAY_SIZE(rlimit_names) || *nrl >= SKIFF_CHILD_MAX_RLIMITS)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid ulimit: unknown name \"%s\"", name);
		struct skiff_child_rlimit *r = &rl[*nrl];
		r->res = rlimit_names[k].resource;
		r->rl.rlim_cur = (rlim_t)skiff_json_int(j, "soft", 0);
		r->rl.rlim_max = (rlim_t)skiff_json_int(j, "hard", 0);
		if (strict && r->rl.rlim_cur > r->rl.rlim_max)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid ulimit: soft limit is greater than hard limit for \"%s\"", name);
		(*nrl)++;
	}
	return 0;
}

int skiff_child_setup_stdio(struct skiff_child_io *io, bool tty, bool want_stdin, struct skiff_proc *out,
			    struct skiff_error *err)
{
	int p[2];
	out->stdin_fd = out->stdout_fd = out->stderr_fd = -1;
	if (tty) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, io->console_sock) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "socketpair for the pty");
		return 0;
	}
	if (want_stdin) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
		io->stdio[0] = p[0];
		out->stdin_fd = p[1];
	} else if ((io->stdio[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening /dev/null");
	}
	for (int i = 1; i <= 2; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "pipe");
		io->stdio[i] = p[1];
		*(i == 1 ? &out->stdout_fd : &out->stderr_fd) = p[0];
	}
	return 0;
}

void skiff_child_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void skiff_child_io_close(struct skiff_child_io *io)
{
	for (int i = 0; i < 3; i++)
		skiff_child_close_fd(&io->stdio[i]);
	skiff_child_close_fd(&io->errpipe[0]);
	skiff_child_close_fd(&io->errpipe[1]);
	skiff_child_close_fd(&io->console_sock[0]);
	skiff_child_close_fd(&io->console_sock[1]);
}

int skiff_child_collect(struct skiff_child_io *io, struct skiff_error *err)
{
	struct skiff_child_error ce;
	ssize_t n;

	skiff_child_close_fd(&io->errpipe[1]);
	for (int i = 0; i < 3; i++)
		skiff_child_close_fd(&io->stdio[i]);
	do
		n = read(io->errpipe[0], &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		ce.msg[sizeof(ce.msg) - 1] = '\0';
		return skiff_error_set(err, ce.status, ce.errnum, "%s", ce.msg);
	}
	return 0;
}

int skiff_child_recv_console(struct skiff_child_io *io, bool want_stdin, const char *what, struct skiff_proc *out,
			     struct skiff_error *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	int master = -1;

	if (recvmsg(io->console_sock[0], &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "receiving %s", what);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return skiff_error_set(err, SKIFF_EINTERNAL, EPROTO, "receiving %s: no fd", what);
	memcpy(&master, CMSG_DATA(cm), sizeof(int));
	out->stdout_fd = master;
	if (want_stdin && (out->stdin_fd = fcntl(master, F_DUPFD_CLOEXEC, 3)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "dup of the pty");
	return 0;
}

/* --- child side ----------------------------------------------------------- */

void skiff_child_fail(int errfd, struct skiff_error *e)
{
	struct skiff_child_error ce = { .status = e->status ? e->status : SKIFF_EINTERNAL, .errnum = e->errnum };
	snprintf(ce.msg, sizeof(ce.msg), "%s", e->msg);
	if (write(errfd, &ce, sizeof(ce)) < 0) {
		/* the parent is gone; nothing left to tell */
	}
	_exit(127);
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

void skiff_child_reset_signals(void)
{
	sigset_t none;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			reset_signal(s);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int skiff_child_stdio(const struct skiff_child_io *io, bool tty, struct skiff_error *e)
{
	if (setsid() < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setsid");
	for (int i = 0; i < 3 && !tty; i++)
		if (dup2(io->stdio[i], i) < 0)
			return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setting up stdio");
	return 0;
}

const char *skiff_child_env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

int skiff_child_set_home(char **env, const struct skiff_user *u, struct skiff_error *e)
{
	if (skiff_child_env_get(env, "HOME"))
		return 0;
	while (*env)
		env++;
	if (asprintf(env, "HOME=%s", u->home) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, ENOMEM, "setting HOME");
	return 0;
}

/* The pty is made in the container's own devpts instance (as runc does), so
 * `tty` says /dev/pts/N of the container and the pty counts against the
 * container, not the host. */
int skiff_child_console(const json_t *spec, const struct skiff_child_io *io, const struct skiff_user *u,
			struct skiff_error *e)
{
	_cleanup_close_ int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0, ptn = -1;
	char path[64];

	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "allocating a pty in the container");
	const json_t *con = json_object_get(spec, "console");
	if (json_is_array(con) && json_array_size(con) == 2) {
		struct winsize ws = { .ws_row = (unsigned short)json_integer_value(json_array_get(con, 0)),
				      .ws_col = (unsigned short)json_integer_value(json_array_get(con, 1)) };
		if (ws.ws_row && ws.ws_col)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	snprintf(path, sizeof(path), "/dev/pts/%d", ptn);
	_cleanup_close_ int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "opening %s", path);
	if (u->uid != 0 && fchown(slave, u->uid, (gid_t)-1) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "chown %s", path);
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setting up stdio");
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setting the controlling terminal");

	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'm';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(io->console_sock[1], &msg, MSG_NOSIGNAL) != 1)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "handing the pty to the monitor");
	return 0;
}

int skiff_child_set_rlimits(const struct skiff_child_rlimit *rl, int nrl, struct skiff_error *e)
{
	for (int i = 0; i < nrl; i++)
		if (setrlimit(rl[i].res, &rl[i].rl) < 0)
			return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setting rlimit");
	return 0;
}

int skiff_child_find_exec(char **args, char **env, char *out, size_t outlen, struct skiff_error *e)
{
	const char *a0 = args[0];
	struct stat st;
	if (strchr(a0, '/')) {
		if (stat(a0, &st) < 0)
			return skiff_error_set(e, SKIFF_EINVAL, errno, "exec: \"%s\": stat %s: %s", a0, a0,
					       errno == ENOENT ? "no such file or directory" : strerror(errno));
		snprintf(out, outlen, "%s", a0);
		return 0;
	}
	const char *path = skiff_child_env_get(env, "PATH");
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

/* Bounding set first (needs CAP_SETPCAP), keep the permitted set across
 * setuid so seccomp can still be installed. */
int skiff_child_set_identity(const struct skiff_child_privs *p, const struct skiff_user *u, struct skiff_error *e)
{
	int r;
	if (!p->privileged && (r = skiff_caps_bound(p->caps)) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, -r, "dropping bounding capabilities");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "PR_SET_KEEPCAPS");
	/* raw syscalls: glibc's set*id would signal the threads it believes it
	 * has, and with CLONE_VM its thread list is the parent's */
	if (syscall(SYS_setgroups, (size_t)u->ngroups, u->groups) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setgroups");
	if (syscall(SYS_setresgid, u->gid, u->gid, u->gid) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setgid %u", u->gid);
	if (syscall(SYS_setresuid, u->uid, u->uid, u->uid) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "setuid %u", u->uid);
	return 0;
}

int skiff_child_apply_privs(const struct skiff_child_privs *p, const struct skiff_user *u, struct skiff_error *e)
{
	int r;
	/* Docker: a non-root user starts with no effective/permitted caps */
	uint64_t final = u->uid == 0 ? p->caps : 0;
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, errno, "no_new_privileges");
	if (p->seccomp && !p->nnp) {
		/* without no_new_privs the filter needs CAP_SYS_ADMIN: install it
		 * before the final capset (which the default profile allows) */
		if ((r = skiff_caps_raise()) < 0)
			return skiff_error_sys(e, SKIFF_EINTERNAL, -r, "capset before seccomp");
		if ((r = skiff_seccomp_apply(p->seccomp)) < 0)
			return skiff_error_sys(e, SKIFF_EINTERNAL, -r, "installing seccomp filter");
	}
	if ((r = skiff_caps_set(final)) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, -r, "capset");
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (p->seccomp && p->nnp && (r = skiff_seccomp_apply(p->seccomp)) < 0)
		return skiff_error_sys(e, SKIFF_EINTERNAL, -r, "installing seccomp filter");
	return 0;
}

int skiff_child_execve(const char *exe, char **args, char **env, struct skiff_error *e)
{
	execve(exe, args, env);
	if (errno == EACCES)
		return skiff_error_set(e, SKIFF_EINVAL, EACCES, "exec: \"%s\": permission denied", args[0]);
	if (errno == ENOENT)
		return skiff_error_set(e, SKIFF_EINVAL, ENOENT, "exec: \"%s\": no such file or directory", args[0]);
	return skiff_error_sys(e, SKIFF_EINVAL, errno, "exec: \"%s\"", args[0]);
}
