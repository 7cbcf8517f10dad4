/* Unit tests for userspace/net/netns.c: a namespace made on the calling
 * thread (which stays in its own), its /proc path, and the pool with and
 * without an event base: distinct namespaces, background refill, no fd
 * leaks. Each test runs in its own netns so nothing reaches the host. */
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

TEST_HARNESS_MAIN
