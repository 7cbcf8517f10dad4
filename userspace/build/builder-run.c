/* Running build steps outside the daemon's threads: skiff_spawn needs a
 * single-threaded caller, so RUN forks a child of the build thread that
 * spawns the step's container, relays its output and reaps it; COPY, ADD
 * and WORKDIR fork a child with a private mount namespace that mounts the
 * step's overlay, so no mount can outlive the step. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../runtime/spawn.h"
#include "builder-internal.h"

struct child_status {
	int kind; /* 0: error in err, 1: exited with code */
	int code;
	struct skiff_error err;
};

static void child_setup(void)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void child_report(int fd, const struct child_status *st)
{
	ssize_t k;
	do
		k = write(fd, st, sizeof(*st));
	while (k < 0 && errno == EINTR);
}

static void relay(int from, int to, bool *open)
{
	char buf[16384];
	ssize_t k = read(from, buf, sizeof(buf));
	if (k > 0) {
		if (skiff_write_all(to, buf, (size_t)k) < 0) {
			/* the build went away: keep draining so the step can finish */
		}
		return;
	}
	if (k == 0 || (errno != EINTR && errno != EAGAIN))
		*open = false;
}

static volatile sig_atomic_t parent_gone;

static void on_parent_death(int sig)
{
	(void)sig;
	parent_gone = 1;
}

/* The forked child: spawn, relay, reap, clean up. Never returns. If skiffd
 * dies meanwhile (SIGUSR2 as the parent-death signal), the step's
 * container is killed rather than orphaned. */
static void run_child(const struct skiff_cgroup_layout *cg, const json_t *spec, int outfd, int stfd, pid_t daemon)
{
	struct child_status st = { 0 };
	struct skiff_proc p;
	struct sigaction sa = { .sa_handler = on_parent_death };
	bool o1 = true, o2 = true, killed = false;
	int ws = 0;
	const char *id = skiff_json_str(spec, "id", "");

	child_setup();
	sigaction(SIGUSR2, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	if (getppid() != daemon)
		_exit(1);
	if (skiff_spawn(cg, spec, &p, &st.err) < 0) {
		st.kind = 0;
		child_report(stfd, &st);
		_exit(0);
	}
	if (p.stdin_fd >= 0)
		close(p.stdin_fd);
	o2 = p.stderr_fd >= 0;
	while (o1 || o2) {
		struct pollfd pf[2] = { { o1 ? p.stdout_fd : -1, POLLIN, 0 }, { o2 ? p.stderr_fd : -1, POLLIN, 0 } };
		int k = poll(pf, 2, 500); /* also notices a parent death that raced the spawn */
		if (parent_gone && !killed) {
			skiff_cgroup_destroy(cg, id);
			killed = true;
		}
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents)
			relay(p.stdout_fd, outfd, &o1);
		if (pf[1].revents)
			relay(p.stderr_fd, outfd, &o2);
	}
	while (waitpid(p.pid, &ws, 0) < 0 && errno == EINTR)
		;
	skiff_cgroup_destroy(cg, id);
	st.kind = 1;
	st.code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	child_report(stfd, &st);
	_exit(0);
}

static int read_status(int fd, struct child_status *st)
{
	size_t got = 0;
	while (got < sizeof(*st)) {
		ssize_t k = read(fd, (char *)st + got, sizeof(*st) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EIO;
		got += (size_t)k;
	}
	return 0;
}

int build_run_container(const struct skiff_cgroup_layout *cg, const json_t *spec, volatile int *cancel,
			build_out_fn out, void *out_data, int *exit_code, struct skiff_error *err)
{
	int outp[2] = { -1, -1 }, stp[2] = { -1, -1 };
	struct child_status st = { 0 };
	bool killed = false;
	pid_t pid, self = getpid();
	int ws, r = 0;

	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(stp, O_CLOEXEC) < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating pipes for the build step");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "forking the build step");
		goto out;
	}
	if (pid == 0) {
		close(outp[0]);
		close(stp[0]);
		run_child(cg, spec, outp[1], stp[1], self);
	}
	close(outp[1]);
	close(stp[1]);
	outp[1] = stp[1] = -1;
	for (;;) {
		struct pollfd pf = { outp[0], POLLIN, 0 };
		int k = poll(&pf, 1, 100);
		if (cancel && *cancel && !killed) {
			/* kills every process of the step; the child then reaps and cleans */
			skiff_cgroup_destroy(cg, skiff_json_str(spec, "id", ""));
			killed = true;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			continue;
		char buf[16384];
		ssize_t n = read(outp[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out)
			out(out_data, buf, (size_t)n);
	}
	if (read_status(stp[0], &st) < 0)
		r = skiff_error_set(err, SKIFF_EINTERNAL, EIO, "the build step's process died");
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && st.kind == 0) {
		if (err)
			*err = st.err;
		r = -(st.err.errnum ? st.err.errnum : EIO);
	} else if (r == 0)
		*exit_code = st.code;
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (stp[i] >= 0)
			close(stp[i]);
	}
	return r;
}

/* ---- a step's rootfs in a private mount namespace ---- */

static char *join_lowers(char *const *lower, const char *empty_dir)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (char *const *l = lower; l && *l; l++)
		fprintf(f, "%s%s", l == lower ? "" : ":", *l);
	if (!lower || !lower[0])
		fputs(empty_dir, f);
	fclose(f);
	return out;
}

/* The child side of build_in_rootfs; fills st. */
static void rootfs_child(char *const *lower, const char *upper, const char *work, const char *empty_dir,
			 char *const *src_lower, build_rootfs_fn fn, void *data, struct child_status *st)
{
	_cleanup_free_ char *opts = NULL, *lowers = join_lowers(lower, empty_dir), *target = NULL, *src = NULL;
	_cleanup_close_ int rootfd = -1, srcfd = -1;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		skiff_error_sys(&st->err, SKIFF_EINTERNAL, errno, "making a mount namespace for the build step");
		return;
	}
	if (!lowers || asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lowers, upper, work) < 0 ||
	    asprintf(&target, "%s.root", work) < 0 || asprintf(&src, "%s.src", work) < 0 ||
	    (mkdir(target, 0755) < 0 && errno != EEXIST)) {
		skiff_error_sys(&st->err, SKIFF_EINTERNAL, errno ? errno : ENOMEM, "preparing the build step");
		return;
	}
	if (mount("overlay", target, "overlay", 0, opts) < 0) {
		skiff_error_sys(&st->err, SKIFF_EINTERNAL, errno, "mounting the build step's rootfs");
		return;
	}
	if (src_lower) {
		_cleanup_free_ char *sl = join_lowers(src_lower, empty_dir), *sopts = NULL;
		/* overlay wants two lowers without an upper; one layer is a bind */
		bool one = !src_lower[0] || !src_lower[1];
		if (!sl || (mkdir(src, 0755) < 0 && errno != EEXIST) ||
		    (one ? mount(sl, src, NULL, MS_BIND, NULL)
			 : (asprintf(&sopts, "lowerdir=%s", sl) < 0 ? -1 : mount("overlay", src, "overlay", MS_RDONLY, sopts))) < 0) {
			skiff_error_sys(&st->err, SKIFF_EINTERNAL, errno, "mounting the COPY --from source");
			return;
		}
		srcfd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	rootfd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || (src_lower && srcfd < 0)) {
		skiff_error_sys(&st->err, SKIFF_EINTERNAL, errno, "opening the build step's rootfs");
		return;
	}
	if (fn(target, rootfd, srcfd, data, &st->err) == 0)
		st->kind = 1;
}

int build_in_rootfs(char *const *lower, const char *upper, const char *work, const char *empty_dir,
		    char *const *src_lower, build_rootfs_fn fn, void *data, struct skiff_error *err)
{
	int stp[2];
	struct child_status st = { 0 };
	_cleanup_free_ char *target = NULL, *src = NULL;
	pid_t pid;
	int ws, r = 0;

	if (pipe2(stp, O_CLOEXEC) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating a pipe for the build step");
	pid = fork();
	if (pid < 0) {
		close(stp[0]);
		close(stp[1]);
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "forking the build step");
	}
	if (pid == 0) {
		close(stp[0]);
		child_setup();
		rootfs_child(lower, upper, work, empty_dir, src_lower, fn, data, &st);
		child_report(stp[1], &st);
		_exit(0);
	}
	close(stp[1]);
	if (read_status(stp[0], &st) < 0)
		r = skiff_error_set(err, SKIFF_EINTERNAL, EIO, "the build step's process died");
	close(stp[0]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	/* the mount points (empty once the child's namespace is gone) */
	if (asprintf(&target, "%s.root", work) >= 0)
		rmdir(target);
	if (asprintf(&src, "%s.src", work) >= 0)
		rmdir(src);
	if (r == 0 && st.kind == 0) {
		if (err)
			*err = st.err;
		r = -(st.err.errnum ? st.err.errnum : EIO);
	}
	return r;
}


int build_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid, struct skiff_error *err)
{
	char buf[4096];
	size_t n;
	snprintf(buf, sizeof(buf), "%s", path);
	n = strlen(buf);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		int fd = skiff_openat_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT) {
			char *slash = strrchr(buf, '/');
			*slash = '\0';
			_cleanup_close_ int parent = skiff_openat_in_root(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
			*slash = '/';
			if (parent < 0 || (mkdirat(parent, slash + 1, 0755) < 0 && errno != EEXIST))
				return skiff_error_sys(err, SKIFF_EINVAL, parent < 0 ? -parent : errno,
						       "mkdir %s", buf);
			if (fchownat(parent, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
				/* keep root's ownership; the dir exists */
			}
			fd = skiff_openat_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
		}
		if (fd < 0)
			return skiff_error_sys(err, SKIFF_EINVAL, -fd, "mkdir %s", buf);
		close(fd);
		buf[i] = c;
	}
	return 0;
}
