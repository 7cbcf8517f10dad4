/* Unit tests for cgroup-stats: made-up cgroup files in a temp dir for the
 * hybrid/v1 layout (separate cpu and cpuacct hierarchies, as on our build
 * machines) and for pure v2, a made-up /proc/stat, and the JSON shape
 * (Docker's zero sample, omitempty fields, null vs [] blkio lists). */
#include "kselftest_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/runtime/cgroup-stats.h"

#define ID "c0ffee"

static void put(const char *dir, const char *file, const char *text)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

/* <base>/<hier>/skiff/<ID>, made; returns its path in out */
static void ctr_dir(const char *base, const char *hier, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/skiff/" ID, base, hier);
	if (skiff_mkdir_p(out, 0755) < 0)
		abort();
}

static uint64_t hz_ns(void)
{
	return 1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK);
}

FIXTURE(cg)
{
	char base[64];
	struct skiff_cgroup_layout l;
};

FIXTURE_SETUP(cg)
{
	snprintf(self->base, sizeof(self->base), "/tmp/skiff-test-cgstats-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	memset(&self->l, 0, sizeof(self->l));
	snprintf(self->l.parent, sizeof(self->l.parent), "skiff");
}

FIXTURE_TEARDOWN(cg)
{
	skiff_rm_rf(self->base);
}

static void add_v1(struct skiff_cgroup_layout *l, const char *base, const char *ctrl)
{
	char root[256]; /* own buffer: base lives in the same fixture as l */
	snprintf(root, sizeof(root), "%s/%s", base, ctrl);
	snprintf(l->v1[l->nv1].controllers, sizeof(l->v1[0].controllers), "%s", ctrl);
	memcpy(l->v1[l->nv1].root, root, sizeof(root));
	l->nv1++;
}

static void make_hybrid(struct skiff_cgroup_layout *l, const char *base)
{
	char d[512];

	l->mode = SKIFF_CGROUP_HYBRID;
	snprintf(l->v2_root, sizeof(l->v2_root), "%s/unified", base);
	l->v2_has_controllers = false;
	add_v1(l, base, "cpu");
	add_v1(l, base, "cpuacct");
	add_v1(l, base, "memory");
	add_v1(l, base, "pids");
	add_v1(l, base, "blkio");

	ctr_dir(base, "cpuacct", d, sizeof(d));
	put(d, "cpuacct.usage", "3000000000\n");
	put(d, "cpuacct.usage_percpu", "1000000000 2000000000 \n");
	put(d, "cpuacct.stat", "user 250\nsystem 50\n");
	ctr_dir(base, "cpu", d, sizeof(d));
	put(d, "cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 123456\nnr_bursts 0\n");
	ctr_dir(base, "memory", d, sizeof(d));
	put(d, "memory.usage_in_bytes", "104857600\n");
	put(d, "memory.max_usage_in_bytes", "209715200\n");
	put(d, "memory.limit_in_bytes", "9223372036854771712\n");
	put(d, "memory.failcnt", "7\n");
	put(d, "memory.stat", "cache 1000\nrss 2000\nshmem 67108864\ninactive_file 300\n"
			      "total_cache 1000\ntotal_rss 2000\ntotal_inactive_file 4096\n");
	ctr_dir(base, "pids", d, sizeof(d));
	put(d, "pids.current", "6\n");
	put(d, "pids.max", "max\n");
	ctr_dir(base, "blkio", d, sizeof(d));
	put(d, "blkio.throttle.io_service_bytes_recursive",
	    "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n");
	put(d, "blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\nTotal 3\n");
	/* the v2 side of a hybrid host has a cpu.stat too: it must not be used */
	ctr_dir(base, "unified", d, sizeof(d));
	put(d, "cpu.stat", "usage_usec 999\nuser_usec 999\nsystem_usec 0\n");
}

static void make_v2(struct skiff_cgroup_layout *l, const char *base)
{
	char d[512];

	l->mode = SKIFF_CGROUP_V2;
	snprintf(l->v2_root, sizeof(l->v2_root), "%s/unified", base);
	l->v2_has_controllers = true;
	ctr_dir(base, "unified", d, sizeof(d));
	put(d, "cpu.stat", "usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\n"
			   "nr_periods 20\nnr_throttled 5\nthrottled_usec 700\n");
	put(d, "memory.current", "52428800\n");
	put(d, "memory.max", "100663296\n");
	put(d, "memory.stat", "anon 1000\nfile 2000\ninactive_file 4096\nshmem 0\n");
	put(d, "pids.current", "3\n");
	put(d, "pids.max", "20\n");
	put(d, "io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
			  "253:1 rbytes=10 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
}

static uint64_t mem_key(const struct skiff_cgroup_stats *s, const char *k)
{
	for (uint32_t i = 0; i < s->nmem; i++)
		if (!strcmp(s->mem[i].key, k))
			return s->mem[i].value;
	return (uint64_t)-1;
}

TEST_F(cg, hybrid_sample)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));

	make_hybrid(&self->l, self->base);
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 1ULL << 33, s, NULL));
	EXPECT_TRUE(s->cpu.valid);
	EXPECT_EQ(3000000000ULL, s->cpu.total);
	ASSERT_EQ(2, s->cpu.npercpu);
	EXPECT_EQ(1000000000ULL, s->cpu.percpu[0]);
	EXPECT_EQ(2000000000ULL, s->cpu.percpu[1]);
	EXPECT_EQ(250 * hz_ns(), s->cpu.user);
	EXPECT_EQ(50 * hz_ns(), s->cpu.kernel);
	EXPECT_EQ(10, s->cpu.periods);
	EXPECT_EQ(3, s->cpu.throttled_periods);
	EXPECT_EQ(123456, s->cpu.throttled_time);
	EXPECT_GT(s->cpu.system, 0);
	EXPECT_EQ((uint32_t)sysconf(_SC_NPROCESSORS_ONLN), s->cpu.online_cpus);
	EXPECT_NE(0, s->read.tv_sec);

	EXPECT_TRUE(s->mem_v1);
	EXPECT_EQ(104857600ULL, s->mem_usage);
	EXPECT_EQ(209715200ULL, s->mem_max_usage);
	EXPECT_EQ(1ULL << 33, s->mem_limit); /* "unlimited" -> host RAM */
	EXPECT_EQ(7, s->mem_failcnt);
	EXPECT_EQ(7, s->nmem);
	EXPECT_EQ(4096, mem_key(s, "total_inactive_file"));
	EXPECT_EQ(67108864, mem_key(s, "shmem"));

	EXPECT_EQ(6, s->pids_current);
	EXPECT_EQ(0, s->pids_limit); /* "max" */

	EXPECT_TRUE(s->blkio_v1);
	ASSERT_EQ(6, s->nio_bytes); /* the device-less Total line is skipped */
	EXPECT_EQ(8, s->io_bytes[0].major);
	EXPECT_STREQ("Read", s->io_bytes[0].op);
	EXPECT_EQ(4096, s->io_bytes[0].value);
	EXPECT_STREQ("Total", s->io_bytes[5].op);
	ASSERT_EQ(2, s->nio_ops);
	EXPECT_EQ(2, s->io_ops[1].value);
}

TEST_F(cg, hybrid_limit_kept_and_raw_without_mem_total)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	char d[512];

	make_hybrid(&self->l, self->base);
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 0, s, NULL));
	EXPECT_EQ(9223372036854771712ULL, s->mem_limit);
	ctr_dir(self->base, "memory", d, sizeof(d));
	put(d, "memory.limit_in_bytes", "100663296\n");
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 1ULL << 33, s, NULL));
	EXPECT_EQ(100663296ULL, s->mem_limit);
}

TEST_F(cg, combined_cpu_cpuacct_hierarchy)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	char d[512];

	/* pure v1 with "cpu,cpuacct" in one hierarchy, no memory/pids/blkio */
	self->l.mode = SKIFF_CGROUP_V1;
	add_v1(&self->l, self->base, "cpu,cpuacct");
	ctr_dir(self->base, "cpu,cpuacct", d, sizeof(d));
	put(d, "cpuacct.usage", "42\n");
	put(d, "cpu.stat", "nr_periods 1\nnr_throttled 1\nthrottled_time 9\n");
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 0, s, NULL));
	EXPECT_EQ(42, s->cpu.total);
	EXPECT_EQ(0, s->cpu.npercpu);
	EXPECT_EQ(9, s->cpu.throttled_time);
	EXPECT_EQ(0, s->mem_usage);
	EXPECT_EQ(0, s->nmem);
	EXPECT_FALSE(s->blkio_v1);
}

TEST_F(cg, v2_sample)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));

	make_v2(&self->l, self->base);
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 1ULL << 33, s, NULL));
	EXPECT_EQ(5000000000ULL, s->cpu.total);
	EXPECT_EQ(4000000000ULL, s->cpu.user);
	EXPECT_EQ(1000000000ULL, s->cpu.kernel);
	EXPECT_EQ(0, s->cpu.npercpu);
	EXPECT_EQ(20, s->cpu.periods);
	EXPECT_EQ(5, s->cpu.throttled_periods);
	EXPECT_EQ(700000, s->cpu.throttled_time);
	EXPECT_FALSE(s->mem_v1);
	EXPECT_EQ(52428800ULL, s->mem_usage);
	EXPECT_EQ(100663296ULL, s->mem_limit);
	EXPECT_EQ(4096, mem_key(s, "inactive_file"));
	EXPECT_EQ(3, s->pids_current);
	EXPECT_EQ(20, s->pids_limit);
	EXPECT_FALSE(s->blkio_v1);
	ASSERT_EQ(4, s->nio_bytes);
	EXPECT_STREQ("read", s->io_bytes[0].op);
	EXPECT_EQ(4096, s->io_bytes[0].value);
	EXPECT_STREQ("write", s->io_bytes[1].op);
	EXPECT_EQ(8192, s->io_bytes[1].value);
	EXPECT_EQ(253, s->io_bytes[2].major);
	EXPECT_EQ(1, s->io_bytes[2].minor);
	EXPECT_EQ(0, s->nio_ops);
}

TEST_F(cg, v2_memory_max_is_host_ram)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	char d[512];

	make_v2(&self->l, self->base);
	ctr_dir(self->base, "unified", d, sizeof(d));
	put(d, "memory.max", "max\n");
	put(d, "pids.max", "max\n");
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 123456789, s, NULL));
	EXPECT_EQ(123456789, s->mem_limit);
	EXPECT_EQ(0, s->pids_limit);
}

TEST_F(cg, missing_cgroup_is_enoent)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	struct skiff_error err = { 0 };

	make_hybrid(&self->l, self->base);
	EXPECT_EQ(-ENOENT, skiff_cgroup_stats_read(&self->l, "nope", 0, s, &err));
	EXPECT_EQ(SKIFF_ENOTFOUND, err.status);
	make_v2(&self->l, self->base);
	EXPECT_EQ(-ENOENT, skiff_cgroup_stats_read(&self->l, "nope", 0, s, NULL));
}

TEST_F(cg, proc_stat)
{
	char d[512];
	uint64_t sys = 0;
	uint32_t online = 0;

	snprintf(d, sizeof(d), "%s/stat", self->base);
	put(self->base, "stat",
	    "cpu  100 1 200 3000 4 5 6 7 8 9\n"
	    "cpu0 50 1 100 1500 2 2 3 3 4 4\n"
	    "cpu2 50 0 100 1500 2 3 3 4 4 5\n"
	    "intr 1 2 3\nctxt 99\ncpu9 1 1 1 1 1 1 1\n");
	ASSERT_EQ(0, skiff_cgroup_stats_host_cpu(d, &sys, &online));
	/* user..softirq; steal and guest are not counted, as in dockerd */
	EXPECT_EQ((100 + 1 + 200 + 3000 + 4 + 5 + 6) * hz_ns(), sys);
	EXPECT_EQ(2, online);
	EXPECT_EQ(-ENOENT, skiff_cgroup_stats_host_cpu("/nonexistent/stat", &sys, &online));
}

static json_t *at(json_t *o, const char *path)
{
	char buf[128], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = json_object_get(o, k);
	return o;
}

TEST(zero_sample_json)
{
	_cleanup_json_ json_t *j = skiff_cgroup_stats_json(NULL, NULL, NULL);
	_cleanup_free_ char *cpu = NULL;

	ASSERT_NE(NULL, j);
	EXPECT_STREQ("0001-01-01T00:00:00Z", json_string_value(at(j, "read")));
	EXPECT_STREQ("0001-01-01T00:00:00Z", json_string_value(at(j, "preread")));
	EXPECT_EQ(0, json_object_size(at(j, "pids_stats")));
	EXPECT_EQ(0, json_object_size(at(j, "memory_stats")));
	EXPECT_EQ(0, json_object_size(at(j, "storage_stats")));
	EXPECT_EQ(0, json_integer_value(at(j, "num_procs")));
	EXPECT_TRUE(json_is_null(at(j, "blkio_stats.io_service_bytes_recursive")));
	EXPECT_TRUE(json_is_null(at(j, "blkio_stats.sectors_recursive")));
	EXPECT_EQ(8, json_object_size(at(j, "blkio_stats")));
	cpu = json_dumps(at(j, "cpu_stats"), JSON_COMPACT | JSON_SORT_KEYS);
	EXPECT_STREQ("{\"cpu_usage\":{\"total_usage\":0,\"usage_in_kernelmode\":0,\"usage_in_usermode\":0},"
		     "\"throttling_data\":{\"periods\":0,\"throttled_periods\":0,\"throttled_time\":0}}",
		     cpu);
	EXPECT_TRUE(json_equal(at(j, "cpu_stats"), at(j, "precpu_stats")));
	EXPECT_EQ(NULL, at(j, "networks"));
}

TEST_F(cg, hybrid_json)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	struct skiff_cgroup_cpu pre = { .valid = true, .total = 1000, .system = 5000, .online_cpus = 2 };
	struct timespec preread = { 1795811435, 5 };

	make_hybrid(&self->l, self->base);
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 1ULL << 33, s, NULL));
	_cleanup_json_ json_t *j = skiff_cgroup_stats_json(s, &pre, &preread);
	EXPECT_EQ(3000000000LL, json_integer_value(at(j, "cpu_stats.cpu_usage.total_usage")));
	EXPECT_EQ(2, json_array_size(at(j, "cpu_stats.cpu_usage.percpu_usage")));
	EXPECT_EQ(10, json_integer_value(at(j, "cpu_stats.throttling_data.periods")));
	EXPECT_TRUE(json_integer_value(at(j, "cpu_stats.system_cpu_usage")) > 0);
	EXPECT_EQ(1000, json_integer_value(at(j, "precpu_stats.cpu_usage.total_usage")));
	EXPECT_EQ(NULL, at(j, "precpu_stats.cpu_usage.percpu_usage"));
	EXPECT_EQ(2, json_integer_value(at(j, "precpu_stats.online_cpus")));
	EXPECT_STREQ("2026-11-27T20:30:35.000000005Z", json_string_value(at(j, "preread")));
	EXPECT_EQ(104857600, json_integer_value(at(j, "memory_stats.usage")));
	EXPECT_EQ(209715200, json_integer_value(at(j, "memory_stats.max_usage")));
	EXPECT_EQ(7, json_integer_value(at(j, "memory_stats.failcnt")));
	EXPECT_EQ(1LL << 33, json_integer_value(at(j, "memory_stats.limit")));
	EXPECT_EQ(4096, json_integer_value(at(j, "memory_stats.stats.total_inactive_file")));
	EXPECT_EQ(6, json_integer_value(at(j, "pids_stats.current")));
	EXPECT_EQ(NULL, at(j, "pids_stats.limit"));
	json_t *b = at(j, "blkio_stats.io_service_bytes_recursive");
	ASSERT_EQ(6, json_array_size(b));
	EXPECT_STREQ("Write", json_string_value(json_object_get(json_array_get(b, 1), "op")));
	EXPECT_EQ(8192, json_integer_value(json_object_get(json_array_get(b, 1), "value")));
	EXPECT_EQ(2, json_array_size(at(j, "blkio_stats.io_serviced_recursive")));
	/* v1 copies every list, even empty ones */
	EXPECT_TRUE(json_is_array(at(j, "blkio_stats.io_queue_recursive")));
}

TEST_F(cg, v2_json)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));

	make_v2(&self->l, self->base);
	ASSERT_EQ(0, skiff_cgroup_stats_read(&self->l, ID, 1ULL << 33, s, NULL));
	_cleanup_json_ json_t *j = skiff_cgroup_stats_json(s, NULL, NULL);
	EXPECT_EQ(NULL, at(j, "cpu_stats.cpu_usage.percpu_usage"));
	EXPECT_EQ(NULL, at(j, "memory_stats.max_usage"));
	EXPECT_EQ(NULL, at(j, "memory_stats.failcnt"));
	EXPECT_EQ(100663296, json_integer_value(at(j, "memory_stats.limit")));
	EXPECT_EQ(20, json_integer_value(at(j, "pids_stats.limit")));
	EXPECT_EQ(4, json_array_size(at(j, "blkio_stats.io_service_bytes_recursive")));
	EXPECT_TRUE(json_is_null(at(j, "blkio_stats.io_serviced_recursive")));
	EXPECT_STREQ("0001-01-01T00:00:00Z", json_string_value(at(j, "preread")));
	EXPECT_EQ(0, json_integer_value(at(j, "precpu_stats.cpu_usage.total_usage")));
	EXPECT_EQ(NULL, at(j, "precpu_stats.system_cpu_usage"));
}

TEST_F(cg, handle_rereads_open_files)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	struct skiff_cgroup_statfd *h = NULL;
	char d[512];

	make_v2(&self->l, self->base);
	ASSERT_EQ(0, skiff_cgroup_stats_open(&self->l, ID, &h, NULL));
	ASSERT_EQ(0, skiff_cgroup_stats_sample(h, 0, s, NULL));
	EXPECT_EQ(3, s->pids_current);
	ctr_dir(self->base, "unified", d, sizeof(d));
	put(d, "pids.current", "11\n"); /* rewritten in place: same inode, as a cgroup file */
	ASSERT_EQ(0, skiff_cgroup_stats_sample(h, 0, s, NULL));
	EXPECT_EQ(11, s->pids_current);
	EXPECT_EQ(4, s->nio_bytes); /* counts reset per sample, not accumulated */
	EXPECT_EQ(4, s->nmem);
	skiff_cgroup_stats_close(h);
	EXPECT_EQ(-ENOENT, skiff_cgroup_stats_open(&self->l, "nope", &h, NULL));
}

static void add_ctr_v2(const char *base, const char *id, const char *pids)
{
	char d[512];
	snprintf(d, sizeof(d), "%s/unified/skiff/%s", base, id);
	if (skiff_mkdir_p(d, 0755) < 0)
		abort();
	put(d, "cpu.stat", "usage_usec 1\n");
	put(d, "pids.current", pids);
}

TEST_F(cg, cache_lru_and_sweep)
{
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	struct skiff_cgroup_stats_cache *c = skiff_cgroup_stats_cache_new(2);
	struct skiff_error err = { 0 };

	ASSERT_NE(NULL, c);
	make_v2(&self->l, self->base);
	add_ctr_v2(self->base, "a", "1\n");
	add_ctr_v2(self->base, "b", "2\n");
	add_ctr_v2(self->base, "c", "3\n");
	ASSERT_EQ(0, skiff_cgroup_stats_cache_read(c, &self->l, "a", 0, s, NULL));
	EXPECT_EQ(1, s->pids_current);
	ASSERT_EQ(0, skiff_cgroup_stats_cache_read(c, &self->l, "b", 0, s, NULL));
	EXPECT_EQ(2, s->pids_current);
	ASSERT_EQ(0, skiff_cgroup_stats_cache_read(c, &self->l, "a", 0, s, NULL));
	EXPECT_EQ(2, skiff_cgroup_stats_cache_size(c));
	/* full: b is the least recently used and goes */
	ASSERT_EQ(0, skiff_cgroup_stats_cache_read(c, &self->l, "c", 0, s, NULL));
	EXPECT_EQ(3, s->pids_current);
	EXPECT_EQ(2, skiff_cgroup_stats_cache_size(c));
	ASSERT_EQ(0, skiff_cgroup_stats_cache_read(c, &self->l, "a", 0, s, NULL));
	EXPECT_EQ(1, s->pids_current);
	EXPECT_EQ(-ENOENT, skiff_cgroup_stats_cache_read(c, &self->l, "gone", 0, s, &err));
	EXPECT_EQ(SKIFF_ENOTFOUND, err.status);
	EXPECT_EQ(2, skiff_cgroup_stats_cache_size(c));
	EXPECT_EQ(2, skiff_cgroup_stats_cache_sweep(c, 60));
	EXPECT_EQ(0, skiff_cgroup_stats_cache_sweep(c, 0));
	skiff_cgroup_stats_cache_free(c);
}

/* On the real cgroupfs: a handle reads a live cgroup, says -ENODEV once it
 * is removed, and the cache then reopens (a restart) or reports -ENOENT. */
TEST(real_cgroup_handle)
{
	struct skiff_cgroup_layout l;
	struct skiff_cgroup_limits lim = { .memory = 64 << 20, .pids_limit = 42 };
	struct skiff_error err = { 0 };
	struct skiff_cgroup_statfd *h = NULL;
	_cleanup_free_ struct skiff_cgroup_stats *s = calloc(1, sizeof(*s));
	struct skiff_cgroup_stats_cache *c = skiff_cgroup_stats_cache_new(4);
	char path[700];

	if (getuid() != 0)
		SKIP(return, "needs root");
	ASSERT_EQ(0, skiff_cgroup_detect(&l, &err)) TH_LOG("%s", err.msg);
	snprintf(l.parent, sizeof(l.parent), "skiff-unit-stats-%d", getpid());
	ASSERT_EQ(0, skiff_cgroup_create(&l, "s1", &lim, &err)) TH_LOG("%s", err.msg);

	int go[2];
	ASSERT_EQ(0, pipe(go));
	pid_t pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char b;
		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		/* charged to the new cgroup only once inside it */
		char *m = malloc(8 << 20);
		for (size_t i = 0; m && i < (8u << 20); i += 4096)
			m[i] = 1;
		for (volatile unsigned long i = 0; i < 50000000UL; i++)
			;
		pause();
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(0, skiff_cgroup_enter(&l, "s1", pid, false, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(1, write(go[1], "x", 1));
	close(go[1]);
	usleep(300000);
	ASSERT_EQ(0, skiff_cgroup_stats_open(&l, "s1", &h, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_cgroup_stats_sample(h, 1ULL << 40, s, &err));
	EXPECT_GT(s->cpu.total, 0);
	EXPECT_GT(s->cpu.system, 0);
	EXPECT_GE(s->cpu.online_cpus, 1);
	EXPECT_EQ(1, s->pids_current);
	EXPECT_EQ(42, s->pids_limit);
	EXPECT_EQ(64 << 20, s->mem_limit);
	EXPECT_GE(s->mem_usage, 8 << 20);
	EXPECT_GT(s->nmem, 5);
	ASSERT_EQ(0, skiff_cgroup_stats_cache_read(c, &l, "s1", 0, s, &err));
	EXPECT_EQ(1, skiff_cgroup_stats_cache_size(c));

	EXPECT_EQ(0, skiff_cgroup_destroy(&l, "s1"));
	waitpid(pid, NULL, 0);
	EXPECT_EQ(-ENODEV, skiff_cgroup_stats_sample(h, 0, s, NULL));
	skiff_cgroup_stats_close(h);
	EXPECT_EQ(-ENOENT, skiff_cgroup_stats_cache_read(c, &l, "s1", 0, s, NULL));
	EXPECT_EQ(0, skiff_cgroup_stats_cache_size(c));
	/* "restarted": a new cgroup at the same path is found again */
	ASSERT_EQ(0, skiff_cgroup_create(&l, "s1", &lim, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(0, skiff_cgroup_stats_cache_read(c, &l, "s1", 0, s, NULL));
	EXPECT_EQ(0, s->pids_current);
	skiff_cgroup_stats_cache_free(c);
	EXPECT_EQ(0, skiff_cgroup_destroy(&l, "s1"));
	for (int i = 0; i < l.nv1; i++) {
		snprintf(path, sizeof(path), "%s/%s", l.v1[i].root, l.parent);
		EXPECT_EQ(0, rmdir(path)) TH_LOG("%s", path);
	}
	if (l.v2_root[0]) {
		snprintf(path, sizeof(path), "%s/%s", l.v2_root, l.parent);
		EXPECT_EQ(0, rmdir(path)) TH_LOG("%s", path);
	}
}

TEST_HARNESS_MAIN
