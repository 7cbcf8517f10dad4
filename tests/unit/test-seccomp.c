/* Unit tests for seccomp: Docker's default profile compiled and installed in
 * a forked child (what is denied, what still works), capability-gated
 * rules, and Docker's JSON profile format including malformed input. */
#include "kselftest_harness.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../userspace/runtime/caps.h"
#include "../../userspace/runtime/seccomp.h"

/* Runs fn in a child under prog; returns the child's exit code. */
static int run_filtered(const struct sock_fprog *prog, int (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		if (skiff_seccomp_apply(prog) < 0)
			_exit(200);
		_exit(fn());
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define DENIED(call) ((call) == -1 && errno == EPERM)

static int default_denies(void)
{
	if (!DENIED(mount("none", "/tmp", "tmpfs", 0, NULL)))
		return 1;
	if (!DENIED(unshare(CLONE_NEWNS)))
		return 2;
	if (!DENIED(syscall(SYS_keyctl, 0, 0, 0, 0, 0)) || !DENIED(syscall(SYS_add_key, 0, 0, 0, 0, 0)) ||
	    !DENIED(syscall(SYS_request_key, 0, 0, 0, 0)))
		return 3;
	if (!DENIED(syscall(SYS_ptrace, 0, 0, 0, 0)))
		return 4;
	if (!DENIED(syscall(SYS_bpf, 0, 0, 0)) || !DENIED(syscall(SYS_perf_event_open, 0, 0, 0, 0, 0)))
		return 5;
	if (!DENIED(syscall(SYS_reboot, 0, 0, 0, 0)) || !DENIED(syscall(SYS_swapon, 0, 0)) ||
	    !DENIED(syscall(SYS_kexec_load, 0, 0, 0, 0)) || !DENIED(syscall(SYS_open_by_handle_at, 0, 0, 0)) ||
	    !DENIED(syscall(SYS_init_module, 0, 0, 0)) || !DENIED(syscall(SYS_clock_settime, 0, 0)) ||
	    !DENIED(syscall(SYS_settimeofday, 0, 0)) || !DENIED(syscall(SYS_acct, 0)))
		return 6;
	if (!DENIED(personality(0x1234)))
		return 7;
	if (personality(0xffffffff) < 0)
		return 8;
	if (!DENIED(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0)))
		return 9;
	if (!(syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS))
		return 10;
	if (!DENIED(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0)))
		return 11;
	/* and what a shell needs still works */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return 12;
	close(fd);
	pid_t p = fork();
	if (p == 0)
		_exit(7);
	int st;
	if (p < 0 || waitpid(p, &st, 0) != p || WEXITSTATUS(st) != 7)
		return 13;
	if (getpid() <= 0 || access("/", R_OK) < 0)
		return 14;
	return 0;
}

static int admin_allows(void)
{
	if (unshare(CLONE_NEWUTS) < 0)
		return 1;
	if (!DENIED(syscall(SYS_keyctl, 0, 0, 0, 0, 0)))
		return 2;
	return 0;
}

TEST(default_profile_denies_and_allows)
{
	struct sock_fprog prog;
	struct skiff_error err = { 0 };
	ASSERT_EQ(0, skiff_seccomp_compile(NULL, skiff_caps_default(), &prog, &err)) TH_LOG("%s", err.msg);
	EXPECT_GT(prog.len, 100);
	EXPECT_EQ(0, run_filtered(&prog, default_denies));
	skiff_seccomp_free(&prog);
}

TEST(cap_sys_admin_opens_the_gated_group)
{
	struct sock_fprog prog;
	struct skiff_error err = { 0 };
	ASSERT_EQ(0, skiff_seccomp_compile(NULL, skiff_caps_default() | (1ULL << 21), &prog, &err));
	EXPECT_EQ(0, run_filtered(&prog, admin_allows));
	skiff_seccomp_free(&prog);
}

static int json_profile_effects(void)
{
	long r = syscall(SYS_getppid);
	if (!(r == -1 && errno == 42)) {
		fprintf(stderr, "getppid: %ld %d\n", r, errno);
		return 1;
	}
	if (!(syscall(SYS_getpgid, 0) == -1 && errno == EPERM)) /* arg 0 == 0 matched */
		return 2;
	if (syscall(SYS_getpgid, getpid()) < 0)
		return 3;
	return 0;
}

TEST(docker_json_profile)
{
	struct sock_fprog prog;
	struct skiff_error err = { 0 };
	json_error_t je;
	json_t *p = json_loads("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
			       " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\","
			       "   \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]}],"
			       " \"syscalls\": ["
			       "  {\"names\": [\"getppid\", \"no_such_syscall\"], \"action\": \"SCMP_ACT_ERRNO\","
			       "   \"errnoRet\": 42},"
			       "  {\"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_ERRNO\","
			       "   \"args\": [{\"index\": 0, \"value\": 0, \"valueTwo\": 0, \"op\": \"SCMP_CMP_EQ\"}]},"
			       "  {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ERRNO\","
			       "   \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},"
			       "  {\"names\": [\"gettid\"], \"action\": \"SCMP_ACT_ERRNO\","
			       "   \"excludes\": {\"arches\": [\"amd64\", \"arm64\"]}}"
			       "]}",
			       0, &je);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, skiff_seccomp_compile(p, skiff_caps_default(), &prog, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(0, run_filtered(&prog, json_profile_effects));
	skiff_seccomp_free(&prog);
	json_decref(p);
}

TEST(malformed_profiles_are_400)
{
	struct sock_fprog prog;
	struct skiff_error err = { 0 };
	json_t *p = json_pack("{s:s}", "defaultAction", "SCMP_ACT_NOPE");
	EXPECT_GT(0, skiff_seccomp_compile(p, 0, &prog, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_NE(NULL, strstr(err.msg, "SCMP_ACT_NOPE"));
	json_decref(p);
	p = json_pack("{s:s, s:[{s:[s], s:s, s:[{s:i, s:i, s:s}]}]}", "defaultAction", "SCMP_ACT_ERRNO", "syscalls",
		      "names", "read", "action", "SCMP_ACT_ALLOW", "args", "index", 0, "value", 1, "op", "SCMP_CMP_BOGUS");
	ASSERT_NE(NULL, p);
	EXPECT_GT(0, skiff_seccomp_compile(p, 0, &prog, &err));
	EXPECT_NE(NULL, strstr(err.msg, "unknown operator")) TH_LOG("%s", err.msg);
	json_decref(p);
	p = json_pack("{s:s, s:s}", "defaultAction", "SCMP_ACT_ERRNO", "syscalls", "x");
	EXPECT_GT(0, skiff_seccomp_compile(p, 0, &prog, &err));
	json_decref(p);
}

TEST_HARNESS_MAIN
