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

#define RUNTIME_FIXTURE_TAG "exec"
#include "runtime-fixture.h"

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
