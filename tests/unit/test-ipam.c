/* Unit tests for userspace/net/ipam.c: address/CIDR parsing and overlap,
 * the subnet picker, and leases (dynamic round-robin, static, conflicts,
 * persistence across reopen, reconcile, write-behind and claiming back
 * from a stale file as a restarted skiffd does). */
#include "kselftest_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/net/ipam.h"

static uint32_t ip(const char *s)
{
	uint32_t v = 0;
	skiff_ip_parse(s, &v);
	return v;
}

static struct skiff_cidr cidr(const char *s)
{
	struct skiff_cidr c = {0};
	skiff_cidr_parse(s, false, &c);
	return c;
}

static const char *fmt(uint32_t v)
{
	static char buf[4][16];
	static int i;
	i = (i + 1) % 4;
	skiff_ip_format(v, buf[i], sizeof(buf[i]));
	return buf[i];
}

TEST(ip_parse_format)
{
	uint32_t v;
	ASSERT_EQ(0, skiff_ip_parse("10.1.2.3", &v));
	EXPECT_EQ(0x0a010203u, v);
	EXPECT_STREQ("10.1.2.3", fmt(v));
	EXPECT_STREQ("255.255.255.255", fmt(0xffffffffu));
	const char *bad[] = {"", "10.1.2", "10.1.2.256", "a.b.c.d", "10.1.2.3 ", "10.1.2.3/8", "::1"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, skiff_ip_parse(bad[i], &v)) TH_LOG("%s", bad[i]);
	}
	EXPECT_EQ(-EINVAL, skiff_ip_parse(NULL, &v));
}

TEST(cidr_parse_format)
{
	struct skiff_cidr c;
	char buf[20];
	ASSERT_EQ(0, skiff_cidr_parse("10.1.2.3/16", false, &c));
	EXPECT_EQ(ip("10.1.0.0"), c.addr);
	EXPECT_EQ(16, c.len);
	skiff_cidr_format(&c, buf, sizeof(buf));
	EXPECT_STREQ("10.1.0.0/16", buf);
	EXPECT_EQ(-EINVAL, skiff_cidr_parse("10.1.2.3/16", true, &c));
	ASSERT_EQ(0, skiff_cidr_parse("10.1.0.0/16", true, &c));
	ASSERT_EQ(0, skiff_cidr_parse("192.168.1.7", true, &c));
	EXPECT_EQ(32, c.len);
	ASSERT_EQ(0, skiff_cidr_parse("0.0.0.0/0", true, &c));
	EXPECT_EQ(0, c.len);
	const char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0/8", "10.0.0.0/8x", "x"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, skiff_cidr_parse(bad[i], false, &c)) TH_LOG("%s", bad[i]);
	}
	EXPECT_EQ(0xffffff00u, skiff_cidr_mask(24));
	EXPECT_EQ(0u, skiff_cidr_mask(0));
	EXPECT_EQ(0xffffffffu, skiff_cidr_mask(32));
}

TEST(cidr_contains_overlap)
{
	struct skiff_cidr a = cidr("10.1.0.0/16"), b = cidr("10.1.5.0/24"), c = cidr("10.2.0.0/16"),
			  all = cidr("0.0.0.0/0");
	EXPECT_TRUE(skiff_cidr_contains(&a, ip("10.1.255.255")));
	EXPECT_FALSE(skiff_cidr_contains(&a, ip("10.2.0.0")));
	EXPECT_TRUE(skiff_cidr_overlap(&a, &b));
	EXPECT_TRUE(skiff_cidr_overlap(&b, &a));
	EXPECT_FALSE(skiff_cidr_overlap(&a, &c));
	EXPECT_TRUE(skiff_cidr_overlap(&all, &c));
}

TEST(subnet_pick)
{
	struct skiff_cidr pool = cidr("10.124.0.0/14"), out;
	struct skiff_error err = {0};
	ASSERT_EQ(0, skiff_subnet_pick(&pool, 24, NULL, 0, &out, &err));
	EXPECT_EQ(ip("10.124.0.0"), out.addr);
	EXPECT_EQ(24, out.len);
	/* a used /16 is skipped in one jump; a host route inside it too */
	struct skiff_cidr used[] = {cidr("10.124.0.0/24"), cidr("10.124.1.128/25"), cidr("10.124.2.0/23"),
				    cidr("10.124.4.7/32")};
	ASSERT_EQ(0, skiff_subnet_pick(&pool, 24, used, ARRAY_SIZE(used), &out, &err));
	EXPECT_STREQ("10.124.5.0", fmt(out.addr));
	struct skiff_cidr big[] = {cidr("10.124.0.0/15"), cidr("10.126.0.0/16")};
	ASSERT_EQ(0, skiff_subnet_pick(&pool, 24, big, ARRAY_SIZE(big), &out, &err));
	EXPECT_STREQ("10.127.0.0", fmt(out.addr));
	/* exhausted */
	struct skiff_cidr small = cidr("10.200.0.0/23"), taken[] = {cidr("10.200.0.0/24"), cidr("10.200.1.0/24")};
	EXPECT_EQ(-ENOSPC, skiff_subnet_pick(&small, 24, taken, 2, &out, &err));
	EXPECT_STREQ("could not find an available, non-overlapping IPv4 address pool among the defaults to "
		     "assign to the network",
		     err.msg);
	/* a used supernet of the whole pool */
	struct skiff_cidr sup = cidr("10.0.0.0/8");
	EXPECT_EQ(-ENOSPC, skiff_subnet_pick(&small, 24, &sup, 1, &out, &err));
	EXPECT_EQ(-EINVAL, skiff_subnet_pick(&pool, 12, NULL, 0, &out, &err));
}

FIXTURE(ipam)
{
	char dir[64];
	char path[128];
};

FIXTURE_SETUP(ipam)
{
	strcpy(self->dir, "/tmp/skiff-test-ipam-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/leases.json", self->dir);
}

FIXTURE_TEARDOWN(ipam) { skiff_rm_rf(self->dir); }

TEST_F(ipam, open_rejects_outside)
{
	struct skiff_ipam *ipam = NULL;
	struct skiff_error err = {0};
	struct skiff_cidr sub = cidr("10.9.0.0/24"), range = cidr("10.9.1.0/28");
	EXPECT_EQ(-EINVAL, skiff_ipam_open(self->path, &sub, ip("10.9.1.1"), NULL, &ipam, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("invalid gateway 10.9.1.1: not in subnet 10.9.0.0/24", err.msg);
	EXPECT_EQ(-EINVAL, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), &range, &ipam, &err));
	EXPECT_EQ(400, err.status);
	struct skiff_cidr wide = cidr("10.9.0.0/23");
	EXPECT_EQ(-EINVAL, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), &wide, &ipam, &err));
}

TEST_F(ipam, alloc_release_round_robin)
{
	struct skiff_ipam *ipam = NULL;
	struct skiff_error err = {0};
	struct skiff_cidr sub = cidr("10.9.0.0/29"); /* .1 gw, .2-.6 usable, .7 broadcast */
	uint32_t a;
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "c1", 0, &a, &err));
	EXPECT_STREQ("10.9.0.2", fmt(a));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "c2", 0, &a, &err));
	EXPECT_STREQ("10.9.0.3", fmt(a));
	/* a just-released address is not handed out again at once */
	ASSERT_EQ(0, skiff_ipam_release(ipam, "c1"));
	EXPECT_EQ(0, skiff_ipam_release(ipam, "nobody"));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "c3", 0, &a, &err));
	EXPECT_STREQ("10.9.0.4", fmt(a));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "c4", 0, &a, &err));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "c5", 0, &a, &err));
	EXPECT_STREQ("10.9.0.6", fmt(a));
	/* wraps around, skipping broadcast, network and gateway */
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "c6", 0, &a, &err));
	EXPECT_STREQ("10.9.0.2", fmt(a));
	EXPECT_EQ(-ENOSPC, skiff_ipam_alloc(ipam, "c7", 0, &a, &err));
	EXPECT_STREQ("no available IPv4 addresses in 10.9.0.0/29", err.msg);
	EXPECT_EQ(5u, skiff_ipam_foreach(ipam, NULL, NULL));
	skiff_ipam_close(ipam);
}

TEST_F(ipam, static_and_conflicts)
{
	struct skiff_ipam *ipam = NULL;
	struct skiff_error err = {0};
	struct skiff_cidr sub = cidr("10.9.0.0/24"), range = cidr("10.9.0.128/25");
	uint32_t a;
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), &range, &ipam, &err));
	/* static requests may lie outside the range but not outside the subnet */
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "s1", ip("10.9.0.10"), &a, &err));
	EXPECT_STREQ("10.9.0.10", fmt(a));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "s1", ip("10.9.0.10"), &a, &err)); /* again: same owner */
	EXPECT_EQ(-EADDRINUSE, skiff_ipam_alloc(ipam, "s2", ip("10.9.0.10"), &a, &err));
	EXPECT_EQ(409, err.status);
	EXPECT_STREQ("Address already in use", err.msg);
	EXPECT_EQ(-EADDRINUSE, skiff_ipam_alloc(ipam, "s2", ip("10.9.0.1"), &a, &err));
	EXPECT_EQ(-EINVAL, skiff_ipam_alloc(ipam, "s2", ip("10.9.1.10"), &a, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("invalid address 10.9.1.10: not in subnet", err.msg);
	EXPECT_EQ(-EINVAL, skiff_ipam_alloc(ipam, "s2", ip("10.9.0.255"), &a, &err));
	EXPECT_EQ(-EINVAL, skiff_ipam_alloc(ipam, "s2", ip("10.9.0.0"), &a, &err));
	/* dynamic ones come from the range and skip static ones in it */
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "s3", ip("10.9.0.128"), &a, &err));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "d1", 0, &a, &err));
	EXPECT_STREQ("10.9.0.129", fmt(a));
	skiff_ipam_close(ipam);
}

struct seen {
	char buf[256];
};

static void collect(uint32_t v, const char *owner, void *data)
{
	struct seen *s = data;
	snprintf(s->buf + strlen(s->buf), sizeof(s->buf) - strlen(s->buf), "%s=%s ", fmt(v), owner);
}

static bool keep_c(const char *owner, void *data) { return !strcmp(owner, data); }

TEST_F(ipam, persists_and_reconciles)
{
	struct skiff_ipam *ipam = NULL;
	struct skiff_error err = {0};
	struct skiff_cidr sub = cidr("10.9.0.0/24");
	uint32_t a;
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "a", 0, &a, &err));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "b", 0, &a, &err));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "c", ip("10.9.0.50"), &a, &err));
	ASSERT_EQ(0, skiff_ipam_release(ipam, "b"));
	skiff_ipam_close(ipam);

	/* reopened (a restarted skiffd): same leases, cursor kept */
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	struct seen s = {""};
	EXPECT_EQ(2u, skiff_ipam_foreach(ipam, collect, &s));
	EXPECT_STREQ("10.9.0.2=a 10.9.0.50=c ", s.buf);
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "d", 0, &a, &err));
	EXPECT_STREQ("10.9.0.4", fmt(a));
	/* reconcile: only c is still running */
	EXPECT_EQ(2, skiff_ipam_reconcile(ipam, keep_c, "c"));
	EXPECT_EQ(0, skiff_ipam_reconcile(ipam, keep_c, "c"));
	skiff_ipam_close(ipam);
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	s.buf[0] = 0;
	EXPECT_EQ(1u, skiff_ipam_foreach(ipam, collect, &s));
	EXPECT_STREQ("10.9.0.50=c ", s.buf);
	skiff_ipam_close(ipam);

	/* a torn or foreign file starts empty rather than failing the network */
	ASSERT_EQ(0, skiff_write_replace(self->path, "{\"Leases\":", 10, 0600));
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	EXPECT_EQ(0u, skiff_ipam_foreach(ipam, NULL, NULL));
	skiff_ipam_close(ipam);
}

TEST_F(ipam, write_failure_leaves_no_lease)
{
	struct skiff_ipam *ipam = NULL;
	struct skiff_error err = {0};
	struct skiff_cidr sub = cidr("10.9.0.0/24");
	uint32_t a;
	char path[160];
	snprintf(path, sizeof(path), "%s/missing-dir/leases.json", self->dir);
	ASSERT_EQ(0, skiff_ipam_open(path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	EXPECT_EQ(-ENOENT, skiff_ipam_alloc(ipam, "a", 0, &a, &err));
	EXPECT_EQ(500, err.status);
	EXPECT_EQ(0u, skiff_ipam_foreach(ipam, NULL, NULL));
	skiff_ipam_close(ipam);
}

static bool keep_ab(const char *owner, void *data)
{
	(void)data;
	return !strcmp(owner, "a") || !strcmp(owner, "b");
}

TEST_F(ipam, write_behind_and_claim)
{
	struct skiff_ipam *ipam = NULL;
	struct skiff_error err = {0};
	struct skiff_cidr sub = cidr("10.9.0.0/24");
	struct seen s = {""};
	uint32_t a;
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "old", 0, &a, &err)); /* .2, written at once */
	EXPECT_FALSE(skiff_ipam_dirty(ipam));
	skiff_ipam_set_write_behind(ipam, true);
	ASSERT_EQ(0, skiff_ipam_release(ipam, "old"));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "a", 0, &a, &err));
	EXPECT_STREQ("10.9.0.3", fmt(a));
	EXPECT_TRUE(skiff_ipam_dirty(ipam));
	/* nothing written yet: the file still says .2=old */
	_cleanup_free_ char *data = NULL;
	ASSERT_EQ(0, skiff_read_file(self->path, &data, NULL));
	EXPECT_NE(NULL, strstr(data, "\"10.9.0.2\":\"old\""));
	EXPECT_EQ(NULL, strstr(data, "10.9.0.3"));
	ASSERT_EQ(0, skiff_ipam_alloc(ipam, "b", 0, &a, &err)); /* .4 */
	/* a crash now: the file is stale (old holds .2, a and b are missing) */
	skiff_ipam_close(ipam);

	/* the restarted daemon claims from its own records, then reconciles */
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	skiff_ipam_set_write_behind(ipam, true);
	ASSERT_EQ(0, skiff_ipam_claim(ipam, "a", ip("10.9.0.3"), &err));
	/* b's record says .2: taken from the stale holder */
	ASSERT_EQ(0, skiff_ipam_claim(ipam, "b", ip("10.9.0.2"), &err));
	EXPECT_EQ(0, skiff_ipam_reconcile(ipam, keep_ab, NULL));
	EXPECT_EQ(2u, skiff_ipam_foreach(ipam, collect, &s));
	EXPECT_STREQ("10.9.0.3=a 10.9.0.2=b ", s.buf);
	/* one address per owner here: a claim moves the owner */
	ASSERT_EQ(0, skiff_ipam_claim(ipam, "a", ip("10.9.0.9"), &err));
	ASSERT_EQ(0, skiff_ipam_claim(ipam, "a", ip("10.9.0.9"), &err));
	s.buf[0] = 0;
	EXPECT_EQ(2u, skiff_ipam_foreach(ipam, collect, &s));
	EXPECT_STREQ("10.9.0.2=b 10.9.0.9=a ", s.buf);
	/* never the gateway, the network/broadcast address, or outside */
	EXPECT_EQ(-EINVAL, skiff_ipam_claim(ipam, "c", ip("10.9.0.1"), &err));
	EXPECT_EQ(400, err.status);
	EXPECT_EQ(-EINVAL, skiff_ipam_claim(ipam, "c", ip("10.9.0.255"), &err));
	EXPECT_EQ(-EINVAL, skiff_ipam_claim(ipam, "c", ip("10.9.1.5"), &err));
	/* a claimed address is not handed out again */
	EXPECT_EQ(-EADDRINUSE, skiff_ipam_alloc(ipam, "d", ip("10.9.0.9"), &a, &err));
	EXPECT_EQ(409, err.status);
	/* flushed: what a reopen sees */
	EXPECT_TRUE(skiff_ipam_dirty(ipam));
	ASSERT_EQ(0, skiff_ipam_flush(ipam));
	EXPECT_FALSE(skiff_ipam_dirty(ipam));
	EXPECT_EQ(0, skiff_ipam_flush(ipam));
	skiff_ipam_close(ipam);
	ASSERT_EQ(0, skiff_ipam_open(self->path, &sub, ip("10.9.0.1"), NULL, &ipam, &err));
	s.buf[0] = 0;
	EXPECT_EQ(2u, skiff_ipam_foreach(ipam, collect, &s));
	EXPECT_STREQ("10.9.0.2=b 10.9.0.9=a ", s.buf);
	/* without write-behind a claim is written at once */
	ASSERT_EQ(0, skiff_ipam_claim(ipam, "e", ip("10.9.0.20"), &err));
	EXPECT_FALSE(skiff_ipam_dirty(ipam));
	skiff_ipam_close(ipam);
	free(data);
	data = NULL;
	ASSERT_EQ(0, skiff_read_file(self->path, &data, NULL));
	EXPECT_NE(NULL, strstr(data, "\"10.9.0.20\":\"e\""));
}

TEST_HARNESS_MAIN
