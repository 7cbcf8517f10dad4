/* End-to-end test of skiff_spawn on this host: a busybox rootfs (one lower
 * layer built from /bin/busybox) run as a container; checks isolation,
 * Docker's defaults (caps, seccomp, masks) and that nothing is left behind. */
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/runtime/spawn.h"

#define RUNTIME_FIXTURE_TAG "spawn"
#include "runtime-fixture.h"

/* Runs the spec, returns its output (malloc'd) and exit status. */
static char *run(struct skiff_cgroup_layout *cg, json_t *spec, int *status, struct skiff_error *err)
{
	struct skiff_proc p;
	if (skiff_spawn(cg, spec, &p, err) < 0)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = calloc(1, cap);
	ssize_t k;
	while ((k = read(p.stdout_fd, buf + n, cap - n - 1)) > 0)
		n += (size_t)k;
	char errbuf[4096];
	ssize_t e = read(p.stderr_fd, errbuf, sizeof(errbuf) - 1);
	if (e > 0) {
		errbuf[e] = '\0';
		fprintf(stderr, "container stderr: %s", errbuf);
	}
	waitpid(p.pid, status, 0);
	close(p.stdout_fd);
	close(p.stderr_fd);
	close(p.pidfd);
	skiff_cgroup_destroy(cg, "c0ffee");
	return buf;
}

static void assert_clean(struct __test_metadata *_metadata, FIXTURE_DATA(ctr) * self)
{
	_cleanup_free_ char *now = NULL;
	char p[600];
	ASSERT_EQ(0, skiff_read_file("/proc/self/mountinfo", &now, NULL));
	EXPECT_STREQ(self->mountinfo_before, now);
	for (int i = 0; i < self->cg.nv1; i++) {
		snprintf(p, sizeof(p), "%s/%s/c0ffee", self->cg.v1[i].root, self->cg.parent);
		EXPECT_NE(0, access(p, F_OK)) TH_LOG("left behind: %s", p);
	}
}

TEST_F(ctr, runs_isolated_with_docker_defaults)
{
	struct skiff_error err = { 0 };
	int st = -1;
	json_t *spec = make_spec(self->dir,
				 "echo hi; echo pid=$$; hostname; cat /etc/hostname; grep -E '^(CapEff|Seccomp):' "
				 "/proc/self/status; echo masked=$(cat /proc/interrupts /proc/keys 2>/dev/null | wc -c):$(ls /sys/firmware | wc -l);"
				 " grep ' /proc/sys ' /proc/self/mounts; echo x > /proc/sys/kernel/hostname || echo rofail;"
				 " cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
				 " /sys/fs/cgroup/memory.max 2>/dev/null;"
				 " unshare -m true 2>/dev/null || echo unshare-denied; echo home=$HOME; ls /dev; exit 3");
	_cleanup_free_ char *out = run(&self->cg, spec, &st, &err);
	json_decref(spec);
	ASSERT_NE(NULL, out) TH_LOG("%s", err.msg);
	TH_LOG("output:\n%s", out);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(3, WEXITSTATUS(st));
	EXPECT_EQ(0, strncmp(out, "hi\npid=1\nbox\nbox\n", 17));
	EXPECT_NE(NULL, strstr(out, "CapEff:\t00000000a80425fb\n"));
	EXPECT_NE(NULL, strstr(out, "Seccomp:\t2\n"));
	EXPECT_NE(NULL, strstr(out, "masked=0:0\n"));
	EXPECT_NE(NULL, strstr(out, "proc /proc/sys proc ro,"));
	EXPECT_NE(NULL, strstr(out, "rofail\n"));
	EXPECT_NE(NULL, strstr(out, "67108864\n33\n"));
	EXPECT_NE(NULL, strstr(out, "unshare-denied\n"));
	EXPECT_NE(NULL, strstr(out, "home=/root\n"));
	EXPECT_NE(NULL, strstr(out, "urandom"));
	assert_clean(_metadata, self);
}

TEST_F(ctr, non_root_user_has_no_caps)
{
	struct skiff_error err = { 0 };
	int st = -1;
	json_t *spec = make_spec(self->dir, "id -u; id -g; grep -E '^Cap(Eff|Bnd):' /proc/self/status");
	json_object_set_new(spec, "user", json_string("nobody"));
	_cleanup_free_ char *out = run(&self->cg, spec, &st, &err);
	json_decref(spec);
	ASSERT_NE(NULL, out) TH_LOG("%s", err.msg);
	EXPECT_STREQ("65534\n65534\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n", out);
	assert_clean(_metadata, self);
}

TEST_F(ctr, exec_errors_like_docker_and_nothing_left)
{
	struct skiff_error err = { 0 };
	int st;
	json_t *spec = make_spec(self->dir, "true");
	json_array_set_new(json_object_get(spec, "args"), 0, json_string("nosuch"));
	EXPECT_EQ(NULL, run(&self->cg, spec, &st, &err));
	EXPECT_STREQ("exec: \"nosuch\": executable file not found in $PATH", err.msg);
	EXPECT_EQ(ENOENT, err.errnum);
	EXPECT_EQ(400, err.status);
	json_array_set_new(json_object_get(spec, "args"), 0, json_string("/etc/passwd"));
	EXPECT_EQ(NULL, run(&self->cg, spec, &st, &err));
	EXPECT_STREQ("exec: \"/etc/passwd\": permission denied", err.msg);
	EXPECT_EQ(EACCES, err.errnum);
	json_object_set_new(spec, "user", json_string("ghost"));
	EXPECT_EQ(NULL, run(&self->cg, spec, &st, &err));
	EXPECT_STREQ("unable to find user ghost: no matching entries in passwd file", err.msg);
	json_decref(spec);
	assert_clean(_metadata, self);
}

/* The monitor ignores SIGPIPE and SIGHUP and has libevent handlers: none of
 * that may reach the container, and the spawner's own state must survive. */
TEST_F(ctr, signals_start_default_and_spawner_keeps_its_own)
{
	struct skiff_error err = { 0 };
	struct sigaction sa = { .sa_handler = SIG_IGN }, got;
	sigset_t blocked, now;
	int st = -1;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	/* exec: busybox sh -c ignores SIGQUIT around a lone command */
	json_t *spec = make_spec(self->dir, "exec grep -E '^Sig(Blk|Ign):' /proc/self/status");
	_cleanup_free_ char *out = run(&self->cg, spec, &st, &err);
	json_decref(spec);
	ASSERT_NE(NULL, out) TH_LOG("%s", err.msg);
	EXPECT_STREQ("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", out);
	sigaction(SIGPIPE, NULL, &got);
	EXPECT_EQ(SIG_IGN, got.sa_handler);
	sigprocmask(SIG_SETMASK, NULL, &now);
	EXPECT_TRUE(sigismember(&now, SIGUSR1));
	EXPECT_FALSE(sigismember(&now, SIGTERM));
	assert_clean(_metadata, self);
}

TEST_HARNESS_MAIN
