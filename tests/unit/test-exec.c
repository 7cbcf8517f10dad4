/* skiff_exec_spawn on this host: a busybox container made with skiff_spawn,
 * then processes exec'd into it: same namespaces and cgroups, exit codes,
 * user and cwd, the runc-worded 126/127 errors, and nothing left behind. */
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
#include "../../userspace/runtime/exec.h"
#include "../../userspace/runtime/spawn.h"

FIXTURE(ctr)
{
	char dir[64];
	char *mountinfo_before;
	struct skiff_cgroup_layout cg;
};

static void put(const char *dir, const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

FIXTURE_SETUP(ctr)
{
	char p[256], cmd[512];
	if (getuid() != 0)
		SKIP(return, "needs root");
	if (access("/bin/busybox", X_OK) < 0)
		SKIP(return, "needs busybox-static");
	ASSERT_EQ(0, skiff_read_file("/proc/self/mountinfo", &self->mountinfo_before, NULL));
	strcpy(self->dir, "/tmp/skiff-unit-exec-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	static const char *const sub[] = { "lower/bin", "lower/etc", "upper", "work", "merged" };
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		snprintf(p, sizeof(p), "%s/%s", self->dir, sub[i]);
		ASSERT_EQ(0, skiff_mkdir_p(p, 0755));
	}
	snprintf(cmd, sizeof(cmd),
		 "cp /bin/busybox %s/lower/bin/ && for a in $(/bin/busybox --list | grep -vx busybox); do "
		 "ln -sf busybox %s/lower/bin/$a; done",
		 self->dir, self->dir);
	ASSERT_EQ(0, system(cmd));
	put(self->dir, "lower/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/home/nobody:/bin/false\n");
	put(self->dir, "lower/etc/group", "root:x:0:\nnogroup:x:65534:\n");
	put(self->dir, "hostname", "box\n");
	struct skiff_error err = { 0 };
	ASSERT_EQ(0, skiff_cgroup_detect(&self->cg, &err));
	snprintf(self->cg.parent, sizeof(self->cg.parent), "skiff-unit-exec-%d", getpid());
}

FIXTURE_TEARDOWN(ctr)
{
	char p[600];
	if (!self->dir[0])
		return;
	for (int i = 0; i < self->cg.nv1; i++) {
		snprintf(p, sizeof(p), "%s/%s", self->cg.v1[i].root, self->cg.parent);
		rmdir(p);
	}
	if (self->cg.v2_root[0]) {
		snprintf(p, sizeof(p), "%s/%s", self->cg.v2_root, self->cg.parent);
		rmdir(p);
	}
	skiff_rm_rf(self->dir);
	free(self->mountinfo_before);
}

static json_t *make_spec(const char *dir, const char *script)
{
	char lower[128], upper[128], work[128], merged[128], hn[128];
	snprintf(lower, sizeof(lower), "%s/lower", dir);
	snprintf(upper, sizeof(upper), "%s/upper", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	snprintf(merged, sizeof(merged), "%s/merged", dir);
	snprintf(hn, sizeof(hn), "%s/hostname", dir);
	return json_pack("{s:s, s:[s,s,s], s:[s], s:s, s:{s:[s], s:s, s:s, s:s}, s:{s:s},"
			 " s:{s:I, s:I}}",
			 "id", "c0ffee", "args", "/bin/sh", "-c", script, "env", "PATH=/bin", "hostname", "box",
			 "rootfs", "lower", lower, "upper", upper, "work", work, "target", merged, "etc_files",
			 "hostname", hn, "cgroup", "Memory", (json_int_t)(64 << 20), "PidsLimit", (json_int_t)33);
}

/* Reads a process's stdout to EOF and reaps it. */
static char *drain(struct skiff_proc *p, int *status)
{
	size_t cap = 65536, n = 0;
	char *buf = calloc(1, cap);
	ssize_t k;
	while ((k = read(p->stdout_fd, buf + n, cap - n - 1)) > 0)
		n += (size_t)k;
	waitpid(p->pid, status, 0);
	close(p->stdout_fd);
	if (p->stderr_fd >= 0)
		close(p->stderr_fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	return buf;
}

static json_t *exec_spec(const char *script)
{
	return json_pack("{s:s, s:s, s:[s,s,s], s:[s]}", "id", "e0", "container", "c0ffee", "args", "/bin/sh", "-c",
			 script, "env", "PATH=/bin");
}

TEST_F(ctr, exec_joins_the_container)
{
	struct skiff_error err = { 0 };
	struct skiff_proc init, p;
	char ns[2][64];
	int st = -1;
	json_t *spec = make_spec(self->dir, "echo up; sleep 100");

	ASSERT_EQ(0, skiff_spawn(&self->cg, spec, &init, &err)) TH_LOG("%s", err.msg);
	json_decref(spec);
	char c;
	ASSERT_EQ(1, read(init.stdout_fd, &c, 1)); /* the init runs */

	spec = exec_spec("echo pid=$$; hostname; readlink /proc/self/ns/mnt; readlink /proc/1/ns/mnt; pwd; "
			 "grep -E '^Seccomp:' /proc/self/status; exit 4");
	json_object_set_new(spec, "cwd", json_string("/etc"));
	ASSERT_EQ(0, skiff_exec_spawn(&self->cg, init.pidfd, spec, &p, &err)) TH_LOG("%s", err.msg);
	json_decref(spec);
	_cleanup_free_ char *out = drain(&p, &st);
	TH_LOG("output:\n%s", out);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(4, WEXITSTATUS(st));
	EXPECT_EQ(0, strncmp(out, "pid=", 4));
	EXPECT_NE(0, strncmp(out, "pid=1\n", 6)); /* not the init, but in its pid namespace */
	EXPECT_NE(NULL, strstr(out, "\nbox\n"));
	EXPECT_EQ(2, sscanf(strstr(out, "mnt:"), "%63s %63s", ns[0], ns[1]));
	EXPECT_STREQ(ns[0], ns[1]);
	EXPECT_NE(NULL, strstr(out, "/etc\nSeccomp:\t2\n"));

	/* in the container's cgroup */
	spec = exec_spec("sleep 100");
	ASSERT_EQ(0, skiff_exec_spawn(&self->cg, init.pidfd, spec, &p, &err)) TH_LOG("%s", err.msg);
	json_decref(spec);
	int *pids = NULL;
	size_t n = 0, found = 0;
	ASSERT_EQ(0, skiff_cgroup_pids(&self->cg, "c0ffee", &pids, &n));
	for (size_t i = 0; i < n; i++)
		found += pids[i] == p.pid;
	free(pids);
	EXPECT_EQ(1, found);
	kill(p.pid, SIGKILL);
	free(drain(&p, &st));

	/* user, and errors worded like runc; the container survives them */
	spec = exec_spec("id -u");
	json_object_set_new(spec, "user", json_string("nobody"));
	ASSERT_EQ(0, skiff_exec_spawn(&self->cg, init.pidfd, spec, &p, &err)) TH_LOG("%s", err.msg);
	_cleanup_free_ char *id = drain(&p, &st);
	EXPECT_STREQ("65534\n", id);
	json_array_set_new(json_object_get(spec, "args"), 0, json_string("nosuch"));
	EXPECT_GT(0, skiff_exec_spawn(&self->cg, init.pidfd, spec, &p, &err));
	EXPECT_STREQ("exec: \"nosuch\": executable file not found in $PATH", err.msg);
	EXPECT_EQ(ENOENT, err.errnum);
	EXPECT_EQ(400, err.status);
	json_array_set_new(json_object_get(spec, "args"), 0, json_string("/etc/passwd"));
	EXPECT_GT(0, skiff_exec_spawn(&self->cg, init.pidfd, spec, &p, &err));
	EXPECT_EQ(EACCES, err.errnum);
	json_object_set_new(spec, "cwd", json_string("/nonexistent"));
	EXPECT_GT(0, skiff_exec_spawn(&self->cg, init.pidfd, spec, &p, &err));
	EXPECT_NE(NULL, strstr(err.msg, "chdir to cwd"));
	json_decref(spec);
	EXPECT_EQ(0, kill(init.pid, 0));

	kill(init.pid, SIGKILL);
	free(drain(&init, &st));
	skiff_cgroup_destroy(&self->cg, "c0ffee");
}

TEST_HARNESS_MAIN
