/* Unit tests for cgroup layout detection, path building and Docker's limit
 * conversions on made-up mountinfo; one test creates a real cgroup with
 * limits on this host, reads the knobs back and removes it. */
#include "kselftest_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/runtime/cgroup-internal.h"

static const char mi_v2[] = "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
			    "30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
			    "rw,nsdelegate,memory_recursiveprot\n";

static const char mi_hybrid[] =
	"30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char mi_v1[] =
	"30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
	"31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
	"34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	"35 30 0:31 / /mnt/again\\040x rw - cgroup cgroup rw,memory\n"
	"36 30 0:32 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";

TEST(detect_v2)
{
	struct skiff_cgroup_layout l;
	char p[512];
	ASSERT_EQ(0, skiff_cgroup_detect_from(mi_v2, &l, NULL));
	EXPECT_EQ(SKIFF_CGROUP_V2, l.mode);
	EXPECT_STREQ("/sys/fs/cgroup", l.v2_root);
	EXPECT_TRUE(l.v2_has_controllers);
	EXPECT_EQ(0, l.nv1);
	ASSERT_EQ(0, skiff_cgroup_path(&l, NULL, "abc", p, sizeof(p)));
	EXPECT_STREQ("/sys/fs/cgroup/skiff/abc", p);
	EXPECT_EQ(-ENOENT, skiff_cgroup_path(&l, "memory", "abc", p, sizeof(p)));
	EXPECT_STREQ("v2", skiff_cgroup_mode_name(l.mode));
}

TEST(detect_hybrid)
{
	struct skiff_cgroup_layout l;
	char p[512];
	ASSERT_EQ(0, skiff_cgroup_detect_from(mi_hybrid, &l, NULL));
	EXPECT_EQ(SKIFF_CGROUP_HYBRID, l.mode);
	EXPECT_STREQ("/sys/fs/cgroup/unified", l.v2_root);
	EXPECT_FALSE(l.v2_has_controllers);
	EXPECT_EQ(5, l.nv1); /* name=systemd is not ours */
	ASSERT_EQ(0, skiff_cgroup_path(&l, "cpuacct", "abc", p, sizeof(p)));
	EXPECT_STREQ("/sys/fs/cgroup/cpuacct/skiff/abc", p);
	ASSERT_EQ(0, skiff_cgroup_path(&l, NULL, "abc", p, sizeof(p)));
	EXPECT_STREQ("/sys/fs/cgroup/unified/skiff/abc", p);
	EXPECT_EQ(-ENOENT, skiff_cgroup_path(&l, "blkio", "abc", p, sizeof(p)));
}

TEST(detect_v1_combined_and_escaped)
{
	struct skiff_cgroup_layout l;
	char p[512];
	ASSERT_EQ(0, skiff_cgroup_detect_from(mi_v1, &l, NULL));
	EXPECT_EQ(SKIFF_CGROUP_V1, l.mode);
	EXPECT_EQ(3, l.nv1); /* the second memory mount is the same hierarchy */
	EXPECT_STREQ("cpu,cpuacct", l.v1[0].controllers);
	ASSERT_EQ(0, skiff_cgroup_path(&l, "cpu", "x", p, sizeof(p)));
	EXPECT_STREQ("/sys/fs/cgroup/cpu,cpuacct/skiff/x", p);
	ASSERT_EQ(0, skiff_cgroup_path(&l, "cpuacct", "x", p, sizeof(p)));
	EXPECT_STREQ("/sys/fs/cgroup/cpu,cpuacct/skiff/x", p);
	EXPECT_EQ(-ENOENT, skiff_cgroup_path(&l, NULL, "x", p, sizeof(p)));
	EXPECT_STREQ("v1", skiff_cgroup_mode_name(l.mode));

	EXPECT_NE(0, skiff_cgroup_detect_from("1 2 0:1 / / rw - ext4 /dev/vda rw\n", &l, NULL));
}

static const struct skiff_cgroup_write *find(const struct skiff_cgroup_write *w, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w[i].file, file))
			return &w[i];
	return NULL;
}

TEST(plan_v1_docker_semantics)
{
	struct skiff_cgroup_layout l;
	struct skiff_cgroup_write w[SKIFF_CGROUP_MAX_WRITES];
	struct skiff_cgroup_limits lim = { .memory = 64 << 20, .memory_swap = -1, .nano_cpus = 1500000000,
					   .cpu_shares = 512, .pids_limit = 10 };
	ASSERT_EQ(0, skiff_cgroup_detect_from(mi_hybrid, &l, NULL));
	size_t n = skiff_cgroup_plan(&l, &lim, w);
	ASSERT_NE(NULL, find(w, n, "memory.limit_in_bytes"));
	EXPECT_STREQ("67108864", find(w, n, "memory.limit_in_bytes")->value);
	EXPECT_STREQ("-1", find(w, n, "memory.memsw.limit_in_bytes")->value);
	EXPECT_TRUE(find(w, n, "memory.memsw.limit_in_bytes")->optional);
	EXPECT_STREQ("150000", find(w, n, "cpu.cfs_quota_us")->value);
	EXPECT_STREQ("100000", find(w, n, "cpu.cfs_period_us")->value);
	EXPECT_STREQ("512", find(w, n, "cpu.shares")->value);
	EXPECT_STREQ("10", find(w, n, "pids.max")->value);

	/* MemorySwap is memory+swap on v1; unset means twice the memory */
	lim = (struct skiff_cgroup_limits){ .memory = 100, .memory_swap = 300 };
	n = skiff_cgroup_plan(&l, &lim, w);
	EXPECT_STREQ("300", find(w, n, "memory.memsw.limit_in_bytes")->value);
	lim.memory_swap = 0;
	n = skiff_cgroup_plan(&l, &lim, w);
	EXPECT_STREQ("200", find(w, n, "memory.memsw.limit_in_bytes")->value);
	/* PidsLimit <= 0: unlimited, nothing written */
	lim = (struct skiff_cgroup_limits){ .pids_limit = -1 };
	EXPECT_EQ(0, skiff_cgroup_plan(&l, &lim, w));
}

TEST(plan_v2_docker_semantics)
{
	struct skiff_cgroup_layout l;
	struct skiff_cgroup_write w[SKIFF_CGROUP_MAX_WRITES];
	struct skiff_cgroup_limits lim = { .memory = 100, .memory_swap = 300, .cpu_quota = 50000,
					   .cpu_shares = 1024, .pids_limit = 5 };
	ASSERT_EQ(0, skiff_cgroup_detect_from(mi_v2, &l, NULL));
	size_t n = skiff_cgroup_plan(&l, &lim, w);
	EXPECT_STREQ("100", find(w, n, "memory.max")->value);
	EXPECT_STREQ("200", find(w, n, "memory.swap.max")->value); /* swap only */
	EXPECT_STREQ("50000 100000", find(w, n, "cpu.max")->value);
	EXPECT_STREQ("39", find(w, n, "cpu.weight")->value);
	EXPECT_STREQ("5", find(w, n, "pids.max")->value);
	EXPECT_EQ(NULL, find(w, n, "memory.limit_in_bytes"));
	lim.memory_swap = -1;
	n = skiff_cgroup_plan(&l, &lim, w);
	EXPECT_STREQ("max", find(w, n, "memory.swap.max")->value);

	EXPECT_EQ(1, skiff_cgroup_shares_to_weight(2));
	EXPECT_EQ(10000, skiff_cgroup_shares_to_weight(262144));
	EXPECT_EQ(39, skiff_cgroup_shares_to_weight(1024));
}

TEST(limits_from_json_validates)
{
	struct skiff_cgroup_limits lim;
	struct skiff_error err = { 0 };
	json_t *hc = json_pack("{s:I, s:I, s:s}", "Memory", (json_int_t)(64 << 20), "PidsLimit", (json_int_t)7,
			       "CpusetCpus", "0");
	ASSERT_EQ(0, skiff_cgroup_limits_from_json(hc, &lim, &err));
	EXPECT_EQ(64 << 20, lim.memory);
	EXPECT_EQ(7, lim.pids_limit);
	EXPECT_STREQ("0", lim.cpuset_cpus);
	json_decref(hc);
	hc = json_pack("{s:I}", "Memory", (json_int_t)1024);
	EXPECT_EQ(-EINVAL, skiff_cgroup_limits_from_json(hc, &lim, &err));
	EXPECT_EQ(400, err.status);
	json_decref(hc);
}

static long long read_num(const char *path)
{
	_cleanup_free_ char *s = NULL;
	if (skiff_read_file(path, &s, NULL) < 0)
		return -12345;
	return atoll(s);
}

TEST(real_cgroup_on_this_host)
{
	struct skiff_cgroup_layout l;
	struct skiff_error err = { 0 };
	struct skiff_cgroup_limits lim = { .memory = 64 << 20, .nano_cpus = 500000000, .cpu_shares = 256,
					   .pids_limit = 42 };
	char id[64], dir[512], path[700];

	if (getuid() != 0)
		SKIP(return, "needs root");
	ASSERT_EQ(0, skiff_cgroup_detect(&l, &err)) TH_LOG("%s", err.msg);
	/* a private parent so the daemon's "skiff" dir is never touched */
	snprintf(l.parent, sizeof(l.parent), "skiff-unit-%d", getpid());
	snprintf(id, sizeof(id), "c1");
	ASSERT_EQ(0, skiff_cgroup_create(&l, id, &lim, &err)) TH_LOG("%s", err.msg);

	if (l.mode == SKIFF_CGROUP_V2) {
		ASSERT_EQ(0, skiff_cgroup_path(&l, NULL, id, dir, sizeof(dir)));
		snprintf(path, sizeof(path), "%s/memory.max", dir);
		EXPECT_EQ(64 << 20, read_num(path));
		snprintf(path, sizeof(path), "%s/pids.max", dir);
		EXPECT_EQ(42, read_num(path));
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		EXPECT_EQ(50000, read_num(path));
	} else {
		ASSERT_EQ(0, skiff_cgroup_path(&l, "memory", id, dir, sizeof(dir)));
		snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
		EXPECT_EQ(64 << 20, read_num(path));
		ASSERT_EQ(0, skiff_cgroup_path(&l, "pids", id, dir, sizeof(dir)));
		snprintf(path, sizeof(path), "%s/pids.max", dir);
		EXPECT_EQ(42, read_num(path));
		ASSERT_EQ(0, skiff_cgroup_path(&l, "cpu", id, dir, sizeof(dir)));
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
		EXPECT_EQ(50000, read_num(path));
		snprintf(path, sizeof(path), "%s/cpu.shares", dir);
		EXPECT_EQ(256, read_num(path));
		if (skiff_cgroup_path(&l, "cpuset", id, dir, sizeof(dir)) == 0) {
			_cleanup_free_ char *cpus = NULL;
			snprintf(path, sizeof(path), "%s/cpuset.cpus", dir);
			ASSERT_EQ(0, skiff_read_file(path, &cpus, NULL));
			EXPECT_NE('\n', cpus[0]);
		}
	}
	if (l.v2_root[0]) {
		ASSERT_EQ(0, skiff_cgroup_path(&l, NULL, id, dir, sizeof(dir)));
		EXPECT_EQ(0, access(dir, F_OK));
	}

	/* a process in it is killed by destroy, freeze works on it */
	pid_t pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	ASSERT_EQ(0, skiff_cgroup_enter(&l, id, pid, false, &err)) TH_LOG("%s", err.msg);
	int *pids = NULL;
	size_t n = 0;
	ASSERT_EQ(0, skiff_cgroup_pids(&l, id, &pids, &n));
	ASSERT_EQ(1, n);
	EXPECT_EQ(pid, pids[0]);
	free(pids);
	EXPECT_EQ(0, skiff_cgroup_freeze(&l, id, true, &err)) TH_LOG("%s", err.msg);
	EXPECT_FALSE(skiff_cgroup_oom_killed(&l, id));

	EXPECT_EQ(0, skiff_cgroup_destroy(&l, id));
	int status;
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	for (int i = 0; i < l.nv1; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", l.v1[i].root, l.parent, id);
		EXPECT_NE(0, access(path, F_OK)) TH_LOG("left behind: %s", path);
		snprintf(path, sizeof(path), "%s/%s", l.v1[i].root, l.parent);
		EXPECT_EQ(0, rmdir(path));
	}
	if (l.v2_root[0]) {
		snprintf(path, sizeof(path), "%s/%s/%s", l.v2_root, l.parent, id);
		EXPECT_NE(0, access(path, F_OK));
		snprintf(path, sizeof(path), "%s/%s", l.v2_root, l.parent);
		EXPECT_EQ(0, rmdir(path));
	}
}

TEST_HARNESS_MAIN
