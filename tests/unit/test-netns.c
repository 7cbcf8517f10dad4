/* Unit tests for userspace/net/netns.c: a namespace made on the calling
 * thread (which stays in its own), its /proc path, and the pool with and
 * without an event base: distinct namespaces, background refill, no fd
 * leaks; pooled veth pairs on a bridge (claimed: renamed and up; eth0 set
 * up with MAC, address and route in one batch; gone with the namespace).
 * Each test runs in its own netns so nothing reaches the host. */
#include "kselftest_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/net/netns.h"

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static ino_t ns_ino(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 ? 0 : st.st_ino;
}

static ino_t fd_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) < 0 ? 0 : st.st_ino;
}

static bool lo_up_in(int nsfd)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	char v6[8] = "";
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return false;
	struct ifreq ifr = {.ifr_name = "lo"};
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	/* and links made later get no IPv6 */
	_cleanup_close_ int f = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_RDONLY | O_CLOEXEC);
	if (f >= 0 && read(f, v6, sizeof(v6) - 1) > 0 && v6[0] != '1')
		up = false;
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
	return up;
}

FIXTURE(netns) { int fds_before; };

FIXTURE_SETUP(netns)
{
	if (geteuid() != 0)
		SKIP(return, "needs root");
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	self->fds_before = count_fds();
}

FIXTURE_TEARDOWN(netns)
{
	/* every test gives back what it took */
	EXPECT_EQ(self->fds_before, count_fds());
}

TEST_F(netns, new_close_path)
{
	struct skiff_netns ns;
	struct skiff_error err = {0};
	ino_t mine = ns_ino("/proc/thread-self/ns/net");
	ASSERT_EQ(0, skiff_netns_new(&ns, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(mine, ns_ino("/proc/thread-self/ns/net"));
	ASSERT_GE(ns.fd, 0);
	ASSERT_GE(ns.nl.fd, 0);
	EXPECT_NE(mine, fd_ino(ns.fd));
	EXPECT_TRUE(lo_up_in(ns.fd));
	/* the socket acts inside the new namespace */
	EXPECT_EQ(1, skiff_nl_link_index(&ns.nl, "lo"));

	char path[64], want[64];
	skiff_netns_path(&ns, path, sizeof(path));
	snprintf(want, sizeof(want), "/proc/%d/fd/%d", getpid(), ns.fd);
	EXPECT_STREQ(want, path);
	EXPECT_EQ(fd_ino(ns.fd), ns_ino(path));
	EXPECT_TRUE(fcntl(ns.fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_TRUE(fcntl(ns.nl.fd, F_GETFD) & FD_CLOEXEC);

	skiff_netns_close(&ns);
	EXPECT_EQ(-1, ns.fd);
	EXPECT_EQ(-1, ns.nl.fd);
	skiff_netns_close(&ns);
	skiff_netns_close(NULL);
}

TEST_F(netns, pool_without_base)
{
	struct skiff_netns_pool *p = NULL;
	struct skiff_netns ns[3];
	struct skiff_error err = {0};
	ASSERT_EQ(0, skiff_netns_pool_new(NULL, 2, &p));
	/* filled at once: two namespaces with their sockets */
	EXPECT_EQ(self->fds_before + 4, count_fds());
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, skiff_netns_pool_take(p, &ns[i], &err)) TH_LOG("%s", err.msg);
	/* the third was made on demand, nothing refilled without a loop */
	EXPECT_EQ(self->fds_before + 6, count_fds());
	EXPECT_NE(fd_ino(ns[0].fd), fd_ino(ns[1].fd));
	EXPECT_NE(fd_ino(ns[1].fd), fd_ino(ns[2].fd));
	EXPECT_NE(fd_ino(ns[0].fd), fd_ino(ns[2].fd));
	for (int i = 0; i < 3; i++) {
		EXPECT_TRUE(lo_up_in(ns[i].fd));
		skiff_netns_close(&ns[i]);
	}
	skiff_netns_pool_free(p);
}

TEST_F(netns, pool_size_zero)
{
	struct skiff_netns_pool *p = NULL;
	struct skiff_netns a, b;
	struct skiff_error err = {0};
	ASSERT_EQ(0, skiff_netns_pool_new(NULL, 0, &p));
	EXPECT_EQ(self->fds_before, count_fds());
	ASSERT_EQ(0, skiff_netns_pool_take(p, &a, &err));
	ASSERT_EQ(0, skiff_netns_pool_take(p, &b, &err));
	EXPECT_NE(fd_ino(a.fd), fd_ino(b.fd));
	skiff_netns_close(&a);
	skiff_netns_close(&b);
	skiff_netns_pool_free(p);
}

TEST_F(netns, pool_with_base_refills_from_the_loop)
{
	struct event_base *base = event_base_new();
	struct skiff_netns_pool *p = NULL;
	struct skiff_netns a, b;
	struct skiff_error err = {0};
	ASSERT_NE(NULL, base);
	int with_base = count_fds();
	ASSERT_EQ(0, skiff_netns_pool_new(base, 3, &p));
	/* nothing made on the caller's path */
	EXPECT_EQ(with_base, count_fds());
	/* the loop fills it, one namespace per round */
	for (int i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	EXPECT_EQ(with_base + 6, count_fds());
	ASSERT_EQ(0, skiff_netns_pool_take(p, &a, &err));
	ASSERT_EQ(0, skiff_netns_pool_take(p, &b, &err));
	EXPECT_NE(fd_ino(a.fd), fd_ino(b.fd));
	EXPECT_EQ(with_base + 6, count_fds()); /* taken from the pool, not made */
	for (int i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	EXPECT_EQ(with_base + 10, count_fds()); /* refilled to 3 */
	skiff_netns_close(&a);
	skiff_netns_close(&b);
	skiff_netns_pool_free(p);
	EXPECT_EQ(with_base, count_fds());
	/* a refill pending when the pool goes must not fire afterwards */
	ASSERT_EQ(0, skiff_netns_pool_new(base, 2, &p));
	skiff_netns_pool_free(p);
	event_base_loop(base, EVLOOP_NONBLOCK);
	EXPECT_EQ(with_base, count_fds());
	event_base_free(base);
}

/* `ip -o link show dev NAME` in this test's namespace (sysfs shows the
 * host's links: it belongs to the namespace that mounted it). */
static void ip_link(const char *dev, char *out, size_t len)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "ip -o link show dev %s 2>/dev/null", dev);
	FILE *f = popen(cmd, "r");
	out[0] = 0;
	if (!f)
		return;
	size_t n = fread(out, 1, len - 1, f);
	out[n] = 0;
	pclose(f);
}

static bool link_gone(struct skiff_nl *nl, const char *name)
{
	for (int i = 0; i < 300; i++) {
		if (skiff_nl_link_index(nl, name) == -ENODEV)
			return true;
		usleep(10000);
	}
	return false;
}

TEST_F(netns, pooled_veth_pairs)
{
	struct skiff_netns_pool *p = NULL;
	struct skiff_netns a, b, c;
	struct skiff_error err = {0};
	struct skiff_nl nl;
	char buf[512], pooled[16];
	char **names = NULL;
	ASSERT_EQ(0, skiff_nl_open(&nl));
	ASSERT_EQ(0, skiff_nl_bridge_add(&nl, "skt0", 0));
	int br = skiff_nl_link_index(&nl, "skt0");
	ASSERT_GT(br, 0);
	ASSERT_EQ(0, skiff_nl_link_up(&nl, br));
	ASSERT_EQ(0, skiff_nl_addr_add(&nl, br, 0x0a170001, 24));

	ASSERT_EQ(0, skiff_netns_pool_new(NULL, 2, &p));
	EXPECT_EQ(-EINVAL, skiff_netns_pool_set_bridge(p, "", &err));
	ASSERT_EQ(0, skiff_netns_pool_set_bridge(p, "skt0", &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_netns_pool_take_veth(p, &a, &err)) TH_LOG("%s", err.msg);
	ASSERT_GT(a.link, 0);
	ASSERT_GT(a.host_ifindex, 0);
	/* waiting in the pool: skp<pid><n>, down, enslaved, no IPv6 */
	snprintf(pooled, sizeof(pooled), "%s", a.host_name);
	EXPECT_EQ(0, strncmp(pooled, SKIFF_NETNS_POOL_PREFIX, 3)) TH_LOG("%s", pooled);
	EXPECT_EQ(15u, strlen(pooled));
	ip_link(pooled, buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, " master skt0 ")) TH_LOG("%s", buf);
	EXPECT_EQ(NULL, strstr(buf, ",UP")) TH_LOG("%s", buf);
	snprintf(buf, sizeof(buf), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", pooled);
	{
		_cleanup_close_ int f = open(buf, O_RDONLY | O_CLOEXEC);
		char v = 0;
		if (f >= 0) /* absent without IPv6 */
			EXPECT_TRUE(read(f, &v, 1) == 1 && v == '1');
	}
	EXPECT_EQ(a.link, skiff_nl_link_index(&a.nl, "eth0"));

	/* a start: the host end takes the endpoint's name and goes up */
	ASSERT_EQ(0, skiff_netns_veth_claim(&a, &nl, "skvtest00"));
	EXPECT_STREQ("skvtest00", a.host_name);
	EXPECT_EQ(a.host_ifindex, skiff_nl_link_index(&nl, "skvtest00"));
	EXPECT_EQ(-ENODEV, skiff_nl_link_index(&nl, pooled));
	ip_link("skvtest00", buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, ",UP")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, " master skt0 ")) TH_LOG("%s", buf);
	uint8_t mac[6] = {0x02, 0x42, 10, 23, 0, 2};
	ASSERT_EQ(0, skiff_netns_link_setup(&a, a.link, mac, 0x0a170002, 24, 0x0a170001));
	/* inside: the MAC, the address, the default route via the gateway */
	uint32_t *addrs = NULL;
	size_t na = 0;
	ASSERT_EQ(0, skiff_nl_local_addrs(&a.nl, &addrs, &na));
	bool have = false;
	for (size_t i = 0; i < na; i++)
		have |= addrs[i] == 0x0a170002;
	EXPECT_TRUE(have);
	free(addrs);
	{
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "nsenter --net=/proc/%d/fd/%d sh -c 'ip -o link show dev eth0; ip route'", getpid(),
			 a.fd);
		FILE *f = popen(cmd, "r");
		size_t k = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		buf[k] = 0;
		if (f)
			pclose(f);
		EXPECT_NE(NULL, strstr(buf, "link/ether 02:42:0a:17:00:02")) TH_LOG("%s", buf);
		EXPECT_NE(NULL, strstr(buf, ",UP")) TH_LOG("%s", buf);
		EXPECT_NE(NULL, strstr(buf, "default via 10.23.0.1 dev eth0")) TH_LOG("%s", buf);
	}
	/* errors come back from the batch: the address is there already */
	EXPECT_EQ(-EEXIST, skiff_netns_link_setup(&a, a.link, NULL, 0x0a170002, 24, 0));
	EXPECT_EQ(-EINVAL, skiff_netns_link_setup(&a, a.link, NULL, 0x0a170002, 33, 0));
	/* the name is taken: another pair cannot claim it */
	ASSERT_EQ(0, skiff_netns_pool_take_veth(p, &b, &err)) TH_LOG("%s", err.msg);
	ASSERT_GT(b.link, 0);
	EXPECT_EQ(-EEXIST, skiff_netns_veth_claim(&b, &nl, "skvtest00"));
	snprintf(pooled, sizeof(pooled), "%s", b.host_name);
	EXPECT_EQ(0, strncmp(pooled, SKIFF_NETNS_POOL_PREFIX, 3));
	/* empty (no loop refills it): a plain one, as take() gives */
	ASSERT_EQ(0, skiff_netns_pool_take_veth(p, &c, &err));
	EXPECT_EQ(0, c.link);
	skiff_netns_close(&c);
	/* a plain take carries no pair; claiming one without a pair fails */
	ASSERT_EQ(0, skiff_netns_pool_take(p, &c, &err));
	EXPECT_EQ(0, c.link);
	EXPECT_EQ(-ENODEV, skiff_netns_veth_claim(&c, &nl, "skvtest01"));
	skiff_netns_close(&c);

	/* the pairs die with their namespaces: nothing left on the host */
	skiff_netns_close(&a);
	EXPECT_EQ(0, a.link);
	skiff_netns_close(&b);
	EXPECT_TRUE(link_gone(&nl, "skvtest00"));
	EXPECT_TRUE(link_gone(&nl, pooled));
	skiff_netns_pool_free(p);
	ASSERT_EQ(0, skiff_nl_links_with_prefix(&nl, SKIFF_NETNS_POOL_PREFIX, &names));
	for (int i = 0; i < 300 && names[0]; i++) {
		for (char **v = names; *v; v++)
			free(*v);
		free(names);
		usleep(10000);
		ASSERT_EQ(0, skiff_nl_links_with_prefix(&nl, SKIFF_NETNS_POOL_PREFIX, &names));
	}
	EXPECT_EQ(NULL, names[0]);
	free(names);
	skiff_nl_link_del(&nl, "skt0");
	skiff_nl_close(&nl);
}

TEST_HARNESS_MAIN
