/* Unit tests for userspace/net/netlink.c. Every test runs in its own forked
 * process that first unshares a network and a mount namespace (with a
 * fresh sysfs), so nothing touches the host's links and everything dies
 * with the test. Prints the cost of a namespace and of a container's link
 * setup as TAP comments. */
#include "kselftest_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/net/netlink.h"
#include "../../userspace/net/netns.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return ntohl(a.s_addr);
}

/* The test process gets its own netns, and a mount ns whose /sys shows it. */
static int isolate(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -errno;
	return 0;
}

static char *sysfs(const char *dev, const char *file)
{
	char path[256];
	char *s = NULL;
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", dev, file);
	if (skiff_read_file(path, &s, NULL) < 0)
		return NULL;
	s[strcspn(s, "\n")] = 0;
	return s;
}

static bool sysfs_exists(const char *dev, const char *file)
{
	char path[256];
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", dev, file);
	return access(path, F_OK) == 0;
}

static bool has_addr(struct skiff_nl *nl, uint32_t a)
{
	_cleanup_free_ uint32_t *addrs = NULL;
	size_t n = 0;
	if (skiff_nl_local_addrs(nl, &addrs, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (addrs[i] == a)
			return true;
	return false;
}

static bool has_route(struct skiff_nl *nl, uint32_t dst, int len)
{
	_cleanup_free_ uint32_t *d = NULL;
	_cleanup_free_ int *l = NULL;
	size_t n = 0;
	if (skiff_nl_routes(nl, &d, &l, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (d[i] == dst && l[i] == len)
			return true;
	return false;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Runs fn inside the namespace held by nsfd and returns to ours. */
static int in_ns(int nsfd, int (*fn)(void *), void *arg)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return -errno;
	int r = fn(arg);
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
	return r;
}

struct ifq {
	const char *name;
	uint8_t mac[6];
	short flags;
};

static int query_if(void *arg)
{
	struct ifq *q = arg;
	struct ifreq ifr = {0};
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strncpy(ifr.ifr_name, q->name, IFNAMSIZ - 1);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(q->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	q->flags = ifr.ifr_flags;
	return 0;
}

FIXTURE(nl) { struct skiff_nl nl; };

FIXTURE_SETUP(nl)
{
	if (geteuid() != 0)
		SKIP(return, "needs root");
	ASSERT_EQ(0, isolate());
	ASSERT_EQ(0, skiff_nl_open(&self->nl));
}

FIXTURE_TEARDOWN(nl) { skiff_nl_close(&self->nl); }

TEST_F(nl, bridge_add_up_mac_del)
{
	const uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x37, 0x00, 0x01};
	ASSERT_EQ(0, skiff_nl_bridge_add(&self->nl, "sktbr0", 0));
	EXPECT_EQ(-EEXIST, skiff_nl_bridge_add(&self->nl, "sktbr0", 0));
	EXPECT_EQ(-EINVAL, skiff_nl_bridge_add(&self->nl, "a-name-too-long-x", 0));
	int idx = skiff_nl_link_index(&self->nl, "sktbr0");
	ASSERT_GT(idx, 1);
	EXPECT_EQ(-ENODEV, skiff_nl_link_index(&self->nl, "nosuchlink"));
	EXPECT_TRUE(sysfs_exists("sktbr0", "bridge"));
	_cleanup_free_ char *ifindex = sysfs("sktbr0", "ifindex");
	ASSERT_NE(NULL, ifindex);
	EXPECT_EQ(idx, atoi(ifindex));

	ASSERT_EQ(0, skiff_nl_link_set_mac(&self->nl, idx, mac));
	_cleanup_free_ char *addr = sysfs("sktbr0", "address");
	EXPECT_STREQ("02:42:0a:37:00:01", addr);
	ASSERT_EQ(0, skiff_nl_link_up(&self->nl, idx));
	_cleanup_free_ char *flags = sysfs("sktbr0", "flags");
	ASSERT_NE(NULL, flags);
	EXPECT_TRUE(strtol(flags, NULL, 16) & IFF_UP);

	ASSERT_EQ(0, skiff_nl_bridge_add(&self->nl, "sktbr1", 1400));
	_cleanup_free_ char *mtu = sysfs("sktbr1", "mtu");
	EXPECT_STREQ("1400", mtu);

	ASSERT_EQ(0, skiff_nl_link_del(&self->nl, "sktbr0"));
	EXPECT_EQ(-ENODEV, skiff_nl_link_del(&self->nl, "sktbr0"));
	EXPECT_FALSE(sysfs_exists("sktbr0", "bridge"));
}

TEST_F(nl, bridge_keeps_its_mac_as_ports_come_and_go)
{
	ASSERT_EQ(0, skiff_nl_bridge_add(&self->nl, "sktbr0", 0));
	int br = skiff_nl_link_index(&self->nl, "sktbr0");
	ASSERT_GT(br, 0);
	_cleanup_free_ char *type = sysfs("sktbr0", "addr_assign_type");
	EXPECT_STREQ("3", type); /* NET_ADDR_SET */
	_cleanup_free_ char *before = sysfs("sktbr0", "address");
	ASSERT_NE(NULL, before);
	EXPECT_EQ(0x02, strtol(before, NULL, 16) & 0x03); /* unicast, locally administered */
	/* a port with a lower MAC than any random one would take over an
	 * unset bridge address, and its removal would change it again */
	ASSERT_EQ(0, skiff_nl_veth_add(&self->nl, "skvlow", "plow", -1, br, NULL, 0));
	const uint8_t low[6] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
	ASSERT_EQ(0, skiff_nl_link_set_mac(&self->nl, skiff_nl_link_index(&self->nl, "skvlow"), low));
	_cleanup_free_ char *with = sysfs("sktbr0", "address");
	EXPECT_STREQ(before, with);
	ASSERT_EQ(0, skiff_nl_link_del(&self->nl, "skvlow"));
	_cleanup_free_ char *after = sysfs("sktbr0", "address");
	EXPECT_STREQ(before, after);
}

TEST_F(nl, addresses_and_routes)
{
	ASSERT_EQ(0, skiff_nl_bridge_add(&self->nl, "sktbr0", 0));
	int idx = skiff_nl_link_index(&self->nl, "sktbr0");
	ASSERT_GT(idx, 0);
	ASSERT_EQ(0, skiff_nl_addr_add(&self->nl, idx, ip("10.55.0.1"), 24));
	EXPECT_EQ(-EEXIST, skiff_nl_addr_add(&self->nl, idx, ip("10.55.0.1"), 24));
	EXPECT_TRUE(has_addr(&self->nl, ip("10.55.0.1")));
	/* the connected route appears once the link is up */
	ASSERT_EQ(0, skiff_nl_link_up(&self->nl, idx));
	EXPECT_TRUE(has_route(&self->nl, ip("10.55.0.0"), 24));
	ASSERT_EQ(0, skiff_nl_addr_del(&self->nl, idx, ip("10.55.0.1"), 24));
	EXPECT_FALSE(has_addr(&self->nl, ip("10.55.0.1")));
	EXPECT_FALSE(has_route(&self->nl, ip("10.55.0.0"), 24));
	EXPECT_EQ(-EADDRNOTAVAIL, skiff_nl_addr_del(&self->nl, idx, ip("10.55.0.1"), 24));
	EXPECT_EQ(-EINVAL, skiff_nl_addr_add(&self->nl, idx, ip("10.55.0.1"), 33));
}

/* The batch API: several requests in one datagram, one ack each, the
 * first error wins and the later messages still run; an oversized batch
 * sends nothing. */
TEST_F(nl, batch)
{
	struct skiff_nl_batch b = {0};
	struct ifinfomsg *ifi = skiff_nl_batch_msg(&b, &self->nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ASSERT_NE(NULL, ifi);
	ifi->ifi_family = AF_UNSPEC;
	skiff_nl_batch_str(&b, IFLA_IFNAME, "sktbr0");
	skiff_nl_batch_nest_begin(&b, IFLA_LINKINFO);
	skiff_nl_batch_str(&b, IFLA_INFO_KIND, "bridge");
	skiff_nl_batch_nest_end(&b);
	ifi = skiff_nl_batch_msg(&b, &self->nl, RTM_DELLINK, 0, sizeof(*ifi));
	ASSERT_NE(NULL, ifi);
	skiff_nl_batch_str(&b, IFLA_IFNAME, "nosuchlink");
	ifi = skiff_nl_batch_msg(&b, &self->nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ASSERT_NE(NULL, ifi);
	skiff_nl_batch_str(&b, IFLA_IFNAME, "sktbr1");
	skiff_nl_batch_nest_begin(&b, IFLA_LINKINFO);
	skiff_nl_batch_str(&b, IFLA_INFO_KIND, "bridge");
	skiff_nl_batch_nest_end(&b);
	EXPECT_EQ(3, b.nmsg);
	EXPECT_EQ(-ENODEV, skiff_nl_batch_run(&self->nl, &b));
	EXPECT_TRUE(sysfs_exists("sktbr0", "bridge"));
	EXPECT_TRUE(sysfs_exists("sktbr1", "bridge"));
	/* the socket is in step afterwards: the next request gets its own ack */
	EXPECT_GT(skiff_nl_link_index(&self->nl, "sktbr1"), 0);

	/* more than fits: -EMSGSIZE at run, nothing sent */
	struct skiff_nl_batch big = {0};
	for (int i = 0; i < 64; i++) {
		char name[IFNAMSIZ];
		snprintf(name, sizeof(name), "skbig%d", i);
		ifi = skiff_nl_batch_msg(&big, &self->nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
		skiff_nl_batch_str(&big, IFLA_IFNAME, name);
		skiff_nl_batch_nest_begin(&big, IFLA_LINKINFO);
		skiff_nl_batch_str(&big, IFLA_INFO_KIND, "bridge");
		skiff_nl_batch_nest_end(&big);
	}
	EXPECT_TRUE(big.overflow);
	EXPECT_EQ(-EMSGSIZE, skiff_nl_batch_run(&self->nl, &big));
	EXPECT_FALSE(sysfs_exists("skbig0", "bridge"));
	EXPECT_EQ(-ENODEV, skiff_nl_link_index(&self->nl, "skbig0"));

	/* an empty batch is a no-op */
	struct skiff_nl_batch none = {0};
	EXPECT_EQ(0, skiff_nl_batch_run(&self->nl, &none));
}

TEST_F(nl, veth_into_netns_with_default_route)
{
	const uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x37, 0x00, 0x02};
	struct skiff_netns ns;
	struct skiff_error err = {0};
	ASSERT_EQ(0, skiff_nl_bridge_add(&self->nl, "sktbr0", 0));
	int br = skiff_nl_link_index(&self->nl, "sktbr0");
	ASSERT_GT(br, 0);
	ASSERT_EQ(0, skiff_nl_addr_add(&self->nl, br, ip("10.55.0.1"), 24));
	ASSERT_EQ(0, skiff_nl_link_up(&self->nl, br));
	ASSERT_EQ(0, skiff_netns_new(&ns, &err)) TH_LOG("%s", err.msg);

	ASSERT_EQ(0, skiff_nl_veth_add(&self->nl, "skvtest0", "eth0", ns.fd, br, mac, 0));
	EXPECT_EQ(-EEXIST, skiff_nl_veth_add(&self->nl, "skvtest0", "eth0", ns.fd, br, mac, 0));
	/* the host end: enslaved and up in the one request */
	_cleanup_free_ char *master = NULL;
	char link[256] = "";
	ssize_t n = readlink("/sys/class/net/skvtest0/master", link, sizeof(link) - 1);
	ASSERT_GT(n, 0);
	link[n] = 0;
	EXPECT_STREQ("sktbr0", strrchr(link, '/') + 1);
	_cleanup_free_ char *flags = sysfs("skvtest0", "flags");
	ASSERT_NE(NULL, flags);
	EXPECT_TRUE(strtol(flags, NULL, 16) & IFF_UP);
	/* the peer is not here but in ns, with the MAC asked for, down */
	EXPECT_FALSE(sysfs_exists("eth0", "ifindex"));
	int eth0 = skiff_nl_link_index(&ns.nl, "eth0");
	ASSERT_GT(eth0, 0);
	struct ifq q = {.name = "eth0"};
	ASSERT_EQ(0, in_ns(ns.fd, query_if, &q));
	EXPECT_EQ(0, memcmp(mac, q.mac, 6));
	EXPECT_FALSE(q.flags & IFF_UP);

	ASSERT_EQ(0, skiff_nl_addr_add(&ns.nl, eth0, ip("10.55.0.2"), 24));
	ASSERT_EQ(0, skiff_nl_link_up(&ns.nl, eth0));
	ASSERT_EQ(0, skiff_nl_route_add_default(&ns.nl, ip("10.55.0.1"), eth0));
	EXPECT_EQ(-EEXIST, skiff_nl_route_add_default(&ns.nl, ip("10.55.0.1"), eth0));
	ASSERT_EQ(0, in_ns(ns.fd, query_if, &q));
	EXPECT_TRUE(q.flags & IFF_UP);
	EXPECT_TRUE(has_addr(&ns.nl, ip("10.55.0.2")));
	EXPECT_FALSE(has_addr(&self->nl, ip("10.55.0.2")));
	EXPECT_TRUE(has_route(&ns.nl, ip("10.55.0.0"), 24));
	/* loopback came up with the namespace */
	EXPECT_TRUE(has_addr(&ns.nl, ip("127.0.0.1")));

	/* closing the namespace's last fd takes the pair with it */
	skiff_netns_close(&ns);
	for (int i = 0; i < 200 && sysfs_exists("skvtest0", "ifindex"); i++)
		usleep(10000);
	EXPECT_FALSE(sysfs_exists("skvtest0", "ifindex"));
}

TEST_F(nl, links_with_prefix)
{
	char **names = NULL;
	ASSERT_EQ(0, skiff_nl_veth_add(&self->nl, "skvtA", "pA", -1, 0, NULL, 0));
	ASSERT_EQ(0, skiff_nl_veth_add(&self->nl, "skvtB", "pB", -1, 0, NULL, 1280));
	ASSERT_EQ(0, skiff_nl_bridge_add(&self->nl, "other0", 0));
	_cleanup_free_ char *mtu = sysfs("pB", "mtu");
	EXPECT_STREQ("1280", mtu);
	ASSERT_EQ(0, skiff_nl_links_with_prefix(&self->nl, "skvt", &names));
	ASSERT_NE(NULL, names);
	ASSERT_NE(NULL, names[0]);
	ASSERT_NE(NULL, names[1]);
	EXPECT_EQ(NULL, names[2]);
	EXPECT_TRUE((!strcmp(names[0], "skvtA") && !strcmp(names[1], "skvtB")) ||
		    (!strcmp(names[1], "skvtA") && !strcmp(names[0], "skvtB")));
	skiff_strvfree(names);
	ASSERT_EQ(0, skiff_nl_links_with_prefix(&self->nl, "none", &names));
	EXPECT_EQ(NULL, names[0]);
	skiff_strvfree(names);
}

TEST_F(nl, many_links_dump)
{
	/* more links than one dump datagram holds */
	char name[16], peer[16], **names = NULL;
	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof(name), "skvm%d", i);
		snprintf(peer, sizeof(peer), "pm%d", i);
		ASSERT_EQ(0, skiff_nl_veth_add(&self->nl, name, peer, -1, 0, NULL, 0));
	}
	ASSERT_EQ(0, skiff_nl_links_with_prefix(&self->nl, "skvm", &names));
	int n = 0;
	while (names[n])
		n++;
	EXPECT_EQ(120, n);
	skiff_strvfree(names);
	/* the socket stays usable after a dump */
	EXPECT_GT(skiff_nl_link_index(&self->nl, "lo"), 0);
}

TEST_F(nl, timing)
{
	struct skiff_error err = {0};
	const uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x37, 0x00, 0x00};
	enum { N = 20 };
	struct skiff_netns ns[N];
	ASSERT_EQ(0, skiff_nl_bridge_add(&self->nl, "sktbr0", 0));
	int br = skiff_nl_link_index(&self->nl, "sktbr0");
	ASSERT_EQ(0, skiff_nl_addr_add(&self->nl, br, ip("10.55.0.1"), 24));
	ASSERT_EQ(0, skiff_nl_link_up(&self->nl, br));
	double t0 = now_us();
	for (int i = 0; i < N; i++)
		ASSERT_EQ(0, skiff_netns_new(&ns[i], &err)) TH_LOG("%s", err.msg);
	double t1 = now_us();
	for (int i = 0; i < N; i++) {
		char host[16];
		uint8_t m[6];
		memcpy(m, mac, 6);
		m[5] = 2 + i;
		snprintf(host, sizeof(host), "skvt%d", i);
		ASSERT_EQ(0, skiff_nl_veth_add(&self->nl, host, "eth0", ns[i].fd, br, m, 0));
		int eth0 = skiff_nl_link_index(&ns[i].nl, "eth0");
		ASSERT_GT(eth0, 0);
		ASSERT_EQ(0, skiff_nl_addr_add(&ns[i].nl, eth0, ip("10.55.0.2") + i, 24));
		ASSERT_EQ(0, skiff_nl_link_up(&ns[i].nl, eth0));
		ASSERT_EQ(0, skiff_nl_route_add_default(&ns[i].nl, ip("10.55.0.1"), eth0));
	}
	double t2 = now_us();
	printf("# skiff_netns_new: %.0f us each; veth_add+link_index+addr+up+default route: %.0f us each (%d runs)\n",
	       (t1 - t0) / N, (t2 - t1) / N, N);
	fflush(stdout);
	for (int i = 0; i < N; i++)
		skiff_netns_close(&ns[i]);
}

TEST_HARNESS_MAIN
