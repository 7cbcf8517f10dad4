/* Unit tests for capability names and Docker's CapAdd/CapDrop arithmetic. */
#include "kselftest_harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../userspace/runtime/caps.h"

TEST(default_set_is_dockers)
{
	EXPECT_EQ(0xa80425fbULL, skiff_caps_default());
}

TEST(names)
{
	EXPECT_EQ(0, skiff_cap_from_name("CAP_CHOWN"));
	EXPECT_EQ(0, skiff_cap_from_name("chown"));
	EXPECT_EQ(21, skiff_cap_from_name("Sys_Admin"));
	EXPECT_EQ(40, skiff_cap_from_name("checkpoint_restore"));
	EXPECT_EQ(-EINVAL, skiff_cap_from_name("CAP_NOPE"));
	EXPECT_STREQ("CAP_NET_RAW", skiff_cap_name(13));
	EXPECT_EQ(NULL, skiff_cap_name(99));
}

TEST(compute_like_docker)
{
	uint64_t m;
	struct skiff_error err = { 0 };
	const char *add[] = { "NET_ADMIN", NULL }, *drop[] = { "cap_chown", NULL };
	ASSERT_EQ(0, skiff_caps_compute(add, drop, false, &m, &err));
	EXPECT_EQ((0xa80425fbULL & ~1ULL) | (1ULL << 12), m);

	const char *all[] = { "ALL", NULL }, *none[] = { NULL };
	ASSERT_EQ(0, skiff_caps_compute(add, all, false, &m, &err));
	EXPECT_EQ(1ULL << 12, m);
	ASSERT_EQ(0, skiff_caps_compute(all, drop, false, &m, &err));
	EXPECT_EQ(skiff_caps_all() & ~1ULL, m);
	ASSERT_EQ(0, skiff_caps_compute(none, none, true, &m, &err));
	EXPECT_EQ(skiff_caps_all(), m);
	ASSERT_EQ(0, skiff_caps_compute(NULL, NULL, false, &m, &err));
	EXPECT_EQ(0xa80425fbULL, m);

	const char *bad[] = { "foo", NULL };
	EXPECT_EQ(-EINVAL, skiff_caps_compute(bad, NULL, false, &m, &err));
	EXPECT_STREQ("unknown capability: \"CAP_FOO\"", err.msg);
	EXPECT_EQ(400, err.status);
}

TEST(apply_in_child)
{
	pid_t pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (skiff_caps_bound(skiff_caps_default()) < 0 || skiff_caps_set(skiff_caps_default()) < 0)
			_exit(1);
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		int ok = 0;
		while (f && fgets(line, sizeof(line), f)) {
			if (!strcmp(line, "CapEff:\t00000000a80425fb\n") || !strcmp(line, "CapBnd:\t00000000a80425fb\n") ||
			    !strcmp(line, "CapInh:\t0000000000000000\n"))
				ok++;
		}
		_exit(ok == 3 ? 0 : 2);
	}
	int st;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

TEST_HARNESS_MAIN
