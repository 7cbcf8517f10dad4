/* Unit tests for the networking eBPF programs and their loader (bpf-net.h)
 * with real traffic on loopback: port redirects at connect/sendmsg time,
 * per-container counters, the egress policy, restart with pinned links and
 * destroy. Uses a private pin dir and a private cgroup v2 subtree; the
 * verdict logic and the per-packet cost come from BPF_PROG_TEST_RUN. */
#include "kselftest_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/magic.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/net/bpf-net.h"

#define LOCALHOST 0x7f000001u
#define ENOTSUPP 524 /* the kernel's "operation not supported" */
#define CTR_ID "c0ffee"

static pid_t harness_pid;
static char pin_dir[128], cg_root[128], keep_cg[160];

/* Names carry the harness's pid (tests run one at a time in forked children). */
__attribute__((constructor)) static void names(void)
{
	const char *v2 = "/sys/fs/cgroup/unified";
	struct statfs sf;
	harness_pid = getpid();
	if (statfs(v2, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
		v2 = "/sys/fs/cgroup";
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/skiff-test-%d", harness_pid);
	snprintf(cg_root, sizeof(cg_root), "%s/skiff-test-%d", v2, harness_pid);
	snprintf(keep_cg, sizeof(keep_cg), "%s/skiff-test-%d.bpf-keep", v2, harness_pid);
}

static void cg_remove(const char *dir)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/cgroup.kill", dir);
	skiff_write_file(p, "1");
	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
}

static void cleanup_all(void)
{
	char p[256];
	static const char *const subs[] = {"ports", "ctr/nested", "ctr", "other"};
	skiff_bpf_net_destroy(pin_dir, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		snprintf(p, sizeof(p), "%s/%s", cg_root, subs[i]);
		cg_remove(p);
	}
	cg_remove(cg_root);
}

/* The safety net for a test killed by its timeout (no teardown ran then). */
__attribute__((destructor)) static void leftovers(void)
{
	if (getpid() == harness_pid)
		cleanup_all();
}

static int prog_count(const char *cgroup, enum bpf_attach_type type)
{
	_cleanup_close_ int fd = open(cgroup, O_RDONLY | O_DIRECTORY);
	__u32 cnt = 0;
	if (fd < 0 || bpf_prog_query(fd, type, 0, NULL, NULL, &cnt) < 0)
		return -errno;
	return cnt;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip)};
	return a;
}

static int bound_socket(int type, uint32_t ip, uint16_t *port)
{
	struct sockaddr_in a = sin_of(ip, 0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	if (type == SOCK_STREAM && listen(fd, 8) < 0)
		return -1;
	return fd;
}

/* A port nobody listens on (bound for a moment, then released). */
static uint16_t free_port(int type)
{
	uint16_t p = 0;
	int fd = bound_socket(type == SOCK_STREAM ? SOCK_DGRAM : type, LOCALHOST, &p);
	if (type == SOCK_STREAM) { /* same number free for TCP too */
		close(fd);
		fd = bound_socket(SOCK_STREAM, LOCALHOST, &p);
		shutdown(fd, SHUT_RDWR);
	}
	close(fd);
	return p;
}

static int wait_readable(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, ms) == 1 ? 0 : -ETIMEDOUT;
}

/* Runs fn(arg) in a child placed in cgroup (NULL: stays where it is). */
static pid_t spawn_in(const char *cgroup, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		char p[256];
		if (cgroup) {
			snprintf(p, sizeof(p), "%s/cgroup.procs", cgroup);
			if (skiff_write_file(p, "0") < 0)
				_exit(99);
		}
		_exit(fn(arg));
	}
	return pid;
}

static int exit_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct client {
	uint32_t ip;
	uint16_t port;
	size_t nbytes; /* acct: how much to send */
};

/* 0: read the listener's greeting and getpeername() said c->port. */
static int tcp_client(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in a = sin_of(c->ip, c->port), peer;
	socklen_t len = sizeof(peer);
	char buf[64] = "";
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return errno == ECONNREFUSED ? 10 : 1;
	if (wait_readable(fd, 5000) < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 || strcmp(buf, "skiff-hello") != 0)
		return 2;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0 || peer.sin_port != a.sin_port ||
	    peer.sin_addr.s_addr != a.sin_addr.s_addr)
		return 3;
	return 0;
}

/* 0: the reply came back from the address the client sent to. */
static int udp_client(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in a = sin_of(c->ip, c->port), from;
	socklen_t len = sizeof(from);
	char buf[64] = "";
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (sendto(fd, "ping", 4, 0, (struct sockaddr *)&a, sizeof(a)) != 4)
		return 1;
	if (wait_readable(fd, 5000) < 0)
		return 2;
	if (recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &len) != 4 || strcmp(buf, "pong") != 0)
		return 3;
	if (from.sin_port != a.sin_port || from.sin_addr.s_addr != a.sin_addr.s_addr)
		return 4;
	return 0;
}

/* In a network namespace of its own, with the container's port listening
 * there too: 10 when the published port was NOT redirected (refused). */
static int netns_client(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in a = sin_of(c->ip, c->port), l = sin_of(LOCALHOST, (uint16_t)c->nbytes);
	struct ifreq ifr;
	if (unshare(CLONE_NEWNET) < 0)
		return 1;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_flags = IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return 2;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&l, sizeof(l)) < 0 || listen(lfd, 1) < 0)
		return 3;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return 5;
	return errno == ECONNREFUSED ? 10 : 4;
}

/* Sends c->nbytes over TCP (accounting). */
static int bulk_client(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in a = sin_of(c->ip, c->port);
	static char chunk[65536];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return 1;
	for (size_t left = c->nbytes; left;) {
		ssize_t n = write(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk));
		if (n <= 0)
			return 2;
		left -= n;
	}
	shutdown(fd, SHUT_WR);
	wait_readable(fd, 5000);
	return 0;
}

/* 0 when sendto() succeeded; 20 when the egress program refused it (EPERM). */
static int udp_send_only(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in a = sin_of(c->ip, c->port);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1)
		return 0;
	return errno == EPERM ? 20 : 1;
}

FIXTURE(bpfnet)
{
	char ports_cg[200], ctr_cg[200], other_cg[200];
	struct skiff_bpf_net *b;
};

static int open_net(FIXTURE_DATA(bpfnet) * self, struct skiff_error *err)
{
	struct skiff_bpf_net_opts o = {.pin_dir = pin_dir, .v2_root = self->ports_cg};
	return skiff_bpf_net_open(&o, &self->b, err);
}

FIXTURE_SETUP(bpfnet)
{
	struct skiff_error err = {0};
	char st[512];
	if (getuid() != 0)
		SKIP(return, "needs root");
	snprintf(self->ports_cg, sizeof(self->ports_cg), "%s/ports", cg_root);
	snprintf(self->ctr_cg, sizeof(self->ctr_cg), "%s/ctr", cg_root);
	snprintf(self->other_cg, sizeof(self->other_cg), "%s/other", cg_root);
	ASSERT_EQ(0, skiff_mkdir_p(self->ports_cg, 0755));
	ASSERT_EQ(0, skiff_mkdir_p(self->ctr_cg, 0755));
	ASSERT_EQ(0, skiff_mkdir_p(self->other_cg, 0755));
	ASSERT_EQ(0, open_net(self, &err)) TH_LOG("%s", err.msg);
	skiff_bpf_net_status(self->b, st, sizeof(st));
	ASSERT_TRUE(skiff_bpf_net_has_ports(self->b)) TH_LOG("%s", st);
	ASSERT_TRUE(skiff_bpf_net_has_acct(self->b)) TH_LOG("%s", st);
}

FIXTURE_TEARDOWN(bpfnet)
{
	skiff_bpf_net_close(self->b);
	cleanup_all();
	struct stat st;
	EXPECT_NE(0, stat(pin_dir, &st));
	EXPECT_NE(0, stat(cg_root, &st));
	EXPECT_NE(0, stat(keep_cg, &st));
}

TEST_F(bpfnet, status_and_pins)
{
	char st[512], p[256];
	struct stat sb;
	skiff_bpf_net_status(self->b, st, sizeof(st));
	EXPECT_NE(NULL, strstr(st, "published ports: cgroup_sock_addr (no proxy)")) TH_LOG("%s", st);
	EXPECT_NE(NULL, strstr(st, "network accounting: cgroup_skb")) TH_LOG("%s", st);
	static const char *const pins[] = {"maps/skiff_ports",	      "maps/skiff_local_addrs", "maps/skiff_orig_dst",
					   "maps/skiff_acct",	      "maps/skiff_acct_cfg",	"maps/skiff_egress",
					   "ports/skiff_connect4",    "ports/skiff_sendmsg4",	"ports/skiff_recvmsg4",
					   "ports/skiff_getpeername4"};
	for (size_t i = 0; i < ARRAY_SIZE(pins); i++) {
		snprintf(p, sizeof(p), "%s/%s", pin_dir, pins[i]);
		EXPECT_EQ(0, stat(p, &sb)) TH_LOG("%s missing", p);
	}
}

TEST_F(bpfnet, reopen_does_not_attach_twice)
{
	struct skiff_error err = {0};
	struct skiff_net_counters c, c0;
	uint16_t port;
	_cleanup_close_ int sfd = bound_socket(SOCK_DGRAM, LOCALHOST, &port);
	struct client cl = {LOCALHOST, port, 0};
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, NULL, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(0, exit_code(spawn_in(self->ctr_cg, udp_send_only, &cl)));
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &c0));
	EXPECT_EQ(1, c0.tx_packets);
	EXPECT_EQ(1, prog_count(self->ports_cg, BPF_CGROUP_INET4_CONNECT));
	EXPECT_EQ(1, prog_count(self->ports_cg, BPF_CGROUP_UDP4_RECVMSG));
	EXPECT_EQ(1, prog_count(self->ctr_cg, BPF_CGROUP_INET_INGRESS));
	EXPECT_EQ(1, prog_count(self->ctr_cg, BPF_CGROUP_INET_EGRESS));
	skiff_bpf_net_close(self->b);
	self->b = NULL;
	/* skiffd is gone: the pinned links keep the programs attached */
	EXPECT_EQ(1, prog_count(self->ports_cg, BPF_CGROUP_INET4_CONNECT));
	EXPECT_EQ(1, prog_count(self->ctr_cg, BPF_CGROUP_INET_EGRESS));
	ASSERT_EQ(0, open_net(self, &err)) TH_LOG("%s", err.msg);
	EXPECT_TRUE(skiff_bpf_net_has_ports(self->b));
	/* stats before the container is re-attached: found through its pinned link */
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &c));
	EXPECT_EQ(c0.tx_bytes, c.tx_bytes); /* kept in the pinned map */
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, NULL, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(1, prog_count(self->ports_cg, BPF_CGROUP_INET4_CONNECT));
	EXPECT_EQ(1, prog_count(self->ports_cg, BPF_CGROUP_INET4_GETPEERNAME));
	EXPECT_EQ(1, prog_count(self->ctr_cg, BPF_CGROUP_INET_INGRESS));
	EXPECT_EQ(1, prog_count(self->ctr_cg, BPF_CGROUP_INET_EGRESS));
	EXPECT_EQ(0, exit_code(spawn_in(self->ctr_cg, udp_send_only, &cl))); /* counted by the new program */
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &c));
	EXPECT_EQ(2, c.tx_packets);
	/* the same container started again in a new cgroup: the old links go */
	char again[256];
	snprintf(again, sizeof(again), "%s/nested", self->ctr_cg);
	ASSERT_EQ(0, skiff_mkdir_p(again, 0755));
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, again, NULL, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(0, prog_count(self->ctr_cg, BPF_CGROUP_INET_EGRESS));
	EXPECT_EQ(1, prog_count(again, BPF_CGROUP_INET_EGRESS));
	EXPECT_EQ(0, skiff_bpf_ctr_detach(self->b, CTR_ID));
	EXPECT_EQ(0, prog_count(again, BPF_CGROUP_INET_EGRESS));
	EXPECT_EQ(-ENOENT, skiff_bpf_ctr_counters(self->b, CTR_ID, &c));
	EXPECT_EQ(0, skiff_bpf_ctr_detach(self->b, CTR_ID)); /* not attached: fine */
}

TEST_F(bpfnet, no_ports_option_turns_ports_off)
{
	struct skiff_bpf_net_opts o = {.pin_dir = pin_dir, .v2_root = self->ports_cg, .no_ports = true};
	struct skiff_error err = {0};
	char st[512];
	skiff_bpf_net_close(self->b);
	self->b = NULL;
	ASSERT_EQ(0, skiff_bpf_net_open(&o, &self->b, &err));
	EXPECT_FALSE(skiff_bpf_net_has_ports(self->b));
	EXPECT_TRUE(skiff_bpf_net_has_acct(self->b));
	EXPECT_EQ(0, prog_count(self->ports_cg, BPF_CGROUP_INET4_CONNECT));
	skiff_bpf_net_status(self->b, st, sizeof(st));
	EXPECT_NE(NULL, strstr(st, "published ports: nftables DNAT fallback")) TH_LOG("%s", st);
	struct skiff_port p = {
	    .proto = IPPROTO_TCP, .host_ip = 0, .host_port = 1234, .ctr_ip = LOCALHOST, .ctr_port = 80};
	EXPECT_EQ(-EOPNOTSUPP, skiff_bpf_ports_add(self->b, &p, 1, &err));
	EXPECT_EQ(503, err.status);
}

TEST_F(bpfnet, incompatible_pinned_map_is_recreated)
{
	struct skiff_error err = {0};
	char p[256];
	skiff_bpf_net_close(self->b);
	self->b = NULL;
	ASSERT_EQ(0, skiff_bpf_net_destroy(pin_dir, &err));
	snprintf(p, sizeof(p), "%s/maps", pin_dir);
	ASSERT_EQ(0, skiff_mkdir_p(p, 0700));
	/* an older skiff's skiff_acct_cfg with another value size */
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "skiff_acct_cfg", 8, 4, 16, NULL);
	ASSERT_LE(0, fd);
	snprintf(p, sizeof(p), "%s/maps/skiff_acct_cfg", pin_dir);
	ASSERT_EQ(0, bpf_obj_pin(fd, p));
	close(fd);
	ASSERT_EQ(0, open_net(self, &err)) TH_LOG("%s", err.msg);
	EXPECT_TRUE(skiff_bpf_net_has_acct(self->b));
	EXPECT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, NULL, &err)) TH_LOG("%s", err.msg);
}

/* Accepts one connection on lfd and greets it. */
static int greet_one(int lfd)
{
	if (wait_readable(lfd, 5000) < 0)
		return -ETIMEDOUT;
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return -errno;
	int r = write(fd, "skiff-hello", 11) == 11 ? 0 : -EIO;
	wait_readable(fd, 5000); /* the client closes after reading */
	close(fd);
	return r;
}

TEST_F(bpfnet, tcp_redirect)
{
	struct skiff_error err = {0};
	uint16_t p1, p2 = free_port(SOCK_STREAM), p3 = free_port(SOCK_STREAM);
	_cleanup_close_ int lfd = bound_socket(SOCK_STREAM, LOCALHOST, &p1);
	ASSERT_LE(0, lfd);
	struct skiff_port ports[] = {
	    {.proto = IPPROTO_TCP, .host_ip = LOCALHOST, .host_port = p2, .ctr_ip = LOCALHOST, .ctr_port = p1},
	    {.proto = IPPROTO_TCP,
	     .host_ip = 0,
	     .host_port = p3,
	     .ctr_ip = LOCALHOST,
	     .ctr_port = p1}, /* every host address */
	};
	ASSERT_EQ(0, skiff_bpf_ports_add(self->b, ports, 2, &err)) TH_LOG("%s", err.msg);

	struct client c = {LOCALHOST, p2, 0};
	pid_t pid = spawn_in(self->ports_cg, tcp_client, &c);
	EXPECT_EQ(0, greet_one(lfd));
	EXPECT_EQ(0, exit_code(pid)) TH_LOG("client in the cgroup: 1 connect, 2 data, 3 getpeername");

	struct client c3 = {0x7f000002, p3, 0}; /* 127.0.0.2 is local: matches host_ip 0 */
	pid = spawn_in(self->ports_cg, tcp_client, &c3);
	EXPECT_EQ(0, greet_one(lfd));
	EXPECT_EQ(0, exit_code(pid));

	/* the same connect from outside the cgroup is not redirected */
	pid = spawn_in(self->other_cg, tcp_client, &c);
	EXPECT_EQ(10, exit_code(pid)) TH_LOG("expected ECONNREFUSED outside the cgroup");

	/* nor from another network namespace (those clients go through DNAT) */
	struct client cn = {LOCALHOST, p2, p1};
	pid = spawn_in(self->ports_cg, netns_client, &cn);
	EXPECT_EQ(10, exit_code(pid)) TH_LOG("expected no redirect in another netns");

	/* a deleted port is no longer redirected */
	EXPECT_EQ(0, skiff_bpf_ports_del(self->b, ports, 2));
	pid = spawn_in(self->ports_cg, tcp_client, &c);
	EXPECT_EQ(10, exit_code(pid));
}

TEST_F(bpfnet, udp_redirect)
{
	struct skiff_error err = {0};
	uint16_t p1, p2 = free_port(SOCK_DGRAM);
	_cleanup_close_ int sfd = bound_socket(SOCK_DGRAM, LOCALHOST, &p1);
	ASSERT_LE(0, sfd);
	struct skiff_port port = {
	    .proto = IPPROTO_UDP, .host_ip = LOCALHOST, .host_port = p2, .ctr_ip = LOCALHOST, .ctr_port = p1};
	ASSERT_EQ(0, skiff_bpf_ports_add(self->b, &port, 1, &err)) TH_LOG("%s", err.msg);

	struct client c = {LOCALHOST, p2, 0};
	pid_t pid = spawn_in(self->ports_cg, udp_client, &c);
	char buf[16] = "";
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	ASSERT_EQ(0, wait_readable(sfd, 5000));
	ASSERT_EQ(4, recvfrom(sfd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &len));
	EXPECT_STREQ("ping", buf);
	EXPECT_EQ(4, sendto(sfd, "pong", 4, 0, (struct sockaddr *)&from, len));
	EXPECT_EQ(0, exit_code(pid)) TH_LOG("1 sendto, 2 no reply, 3 data, 4 recvmsg source not restored");
}

TEST_F(bpfnet, local_addrs)
{
	uint32_t a[] = {0x0a0b0c0d, 0x0a0b0c0e};
	_cleanup_close_ int fd = -1;
	char p[256];
	EXPECT_EQ(0, skiff_bpf_local_addrs_set(self->b, a, 2));
	EXPECT_EQ(0, skiff_bpf_local_addrs_set(self->b, a + 1, 1));
	snprintf(p, sizeof(p), "%s/maps/skiff_local_addrs", pin_dir);
	fd = bpf_obj_get(p);
	ASSERT_LE(0, fd);
	uint32_t k = htonl(a[0]);
	uint8_t v;
	EXPECT_NE(0, bpf_map_lookup_elem(fd, &k, &v)); /* replaced, not added */
	k = htonl(a[1]);
	EXPECT_EQ(0, bpf_map_lookup_elem(fd, &k, &v));
}

TEST_F(bpfnet, accounting_counts_traffic)
{
	struct skiff_error err = {0};
	struct skiff_net_counters before, after;
	const size_t n = 1 << 20;
	uint16_t port;
	_cleanup_close_ int lfd = bound_socket(SOCK_STREAM, LOCALHOST, &port);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, NULL, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &before));

	struct client c = {LOCALHOST, port, n};
	pid_t pid = spawn_in(self->ctr_cg, bulk_client, &c);
	ASSERT_EQ(0, wait_readable(lfd, 5000));
	_cleanup_close_ int fd = accept(lfd, NULL, NULL);
	static char buf[65536];
	size_t got = 0;
	ssize_t r;
	while (wait_readable(fd, 5000) == 0 && (r = read(fd, buf, sizeof(buf))) > 0)
		got += r;
	close(TAKE_FD(fd));
	EXPECT_EQ(0, exit_code(pid));
	EXPECT_EQ(n, got);
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &after));
	TH_LOG("tx %llu bytes %llu packets, rx %llu bytes %llu packets",
	       (unsigned long long)(after.tx_bytes - before.tx_bytes),
	       (unsigned long long)(after.tx_packets - before.tx_packets),
	       (unsigned long long)(after.rx_bytes - before.rx_bytes),
	       (unsigned long long)(after.rx_packets - before.rx_packets));
	EXPECT_LE(before.tx_bytes + n, after.tx_bytes);
	EXPECT_LT(before.tx_packets, after.tx_packets);
	EXPECT_LT(before.rx_packets, after.rx_packets); /* the ACKs */
	EXPECT_EQ(0, after.tx_dropped);

	/* a sub-cgroup of the container counts for the container */
	char nested[256];
	snprintf(nested, sizeof(nested), "%s/nested", self->ctr_cg);
	ASSERT_EQ(0, skiff_mkdir_p(nested, 0755));
	c.nbytes = 100000;
	pid = spawn_in(nested, bulk_client, &c);
	ASSERT_EQ(0, wait_readable(lfd, 5000));
	fd = accept(lfd, NULL, NULL);
	while (wait_readable(fd, 5000) == 0 && read(fd, buf, sizeof(buf)) > 0)
		;
	EXPECT_EQ(0, exit_code(pid));
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &before));
	EXPECT_LE(after.tx_bytes + c.nbytes, before.tx_bytes);
}

TEST_F(bpfnet, egress_policy_drops_and_counts)
{
	struct skiff_error err = {0};
	struct skiff_net_counters c0, c1;
	uint16_t port;
	_cleanup_close_ int sfd = bound_socket(SOCK_DGRAM, LOCALHOST, &port);
	struct skiff_bpf_rule deny_lo = {{0x7f000000, 8}, false};
	struct skiff_bpf_policy pol = {.default_deny = false, .rules = &deny_lo, .nrules = 1};
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, &pol, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &c0));
	struct client c = {LOCALHOST, port, 0};
	EXPECT_EQ(20, exit_code(spawn_in(self->ctr_cg, udp_send_only, &c))) TH_LOG("expected EPERM");
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &c1));
	EXPECT_EQ(c0.tx_dropped + 1, c1.tx_dropped);
	EXPECT_EQ(c0.tx_packets, c1.tx_packets);
	/* outside the container nothing is filtered */
	EXPECT_EQ(0, exit_code(spawn_in(self->other_cg, udp_send_only, &c)));
	/* re-attach replaces the policy (skiffd restart, or a policy change) */
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, NULL, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(0, exit_code(spawn_in(self->ctr_cg, udp_send_only, &c)));
	ASSERT_EQ(0, skiff_bpf_ctr_counters(self->b, CTR_ID, &c0));
	EXPECT_EQ(c1.tx_packets + 1, c0.tx_packets);
	EXPECT_EQ(1, prog_count(self->ctr_cg, BPF_CGROUP_INET_EGRESS));
}

/* ---- BPF_PROG_TEST_RUN: verdicts and per-packet cost ---- */

struct run_result {
	int verdict[4];
	double ns_egress_plain, ns_egress_lpm, ns_ingress, ns_empty;
	uint64_t tx_bytes;
	int err;
};

static int prog_fd_of_link(const char *path)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = bpf_obj_get(path);
	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -1;
	return bpf_prog_get_fd_by_id(info.prog_id);
}

struct pkt {
	unsigned char eth[14];
	unsigned char ip[20];
	unsigned char udp[8];
	unsigned char payload[64];
} __attribute__((packed));

static void make_pkt(struct pkt *p, uint32_t dst)
{
	memset(p, 0, sizeof(*p));
	p->eth[12] = 0x08; /* ETH_P_IP */
	p->ip[0] = 0x45;
	uint16_t tot = htons(sizeof(p->ip) + sizeof(p->udp) + sizeof(p->payload));
	memcpy(&p->ip[2], &tot, 2);
	p->ip[8] = 64;
	p->ip[9] = IPPROTO_UDP;
	uint32_t s = htonl(0x0a7b0002), d = htonl(dst);
	memcpy(&p->ip[12], &s, 4);
	memcpy(&p->ip[16], &d, 4);
}

static int test_run(int prog, uint32_t dst, int repeat, double *ns)
{
	struct pkt p;
	make_pkt(&p, dst);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = &p, .data_size_in = sizeof(p), .repeat = repeat);
	if (bpf_prog_test_run_opts(prog, &o) < 0)
		return -errno;
	if (ns)
		*ns = o.duration; /* the kernel's average per run */
	return o.retval;
}

static struct skiff_bpf_net *run_b;
static struct run_result *run_res;

/* In the container's cgroup: the test run's socket belongs to it. */
static int runner(void *arg)
{
	char p[256];
	struct skiff_error err = {0};
	struct skiff_net_counters c;
	(void)arg;
	snprintf(p, sizeof(p), "%s/ctr/%s-egress", pin_dir, CTR_ID);
	int eg = prog_fd_of_link(p);
	snprintf(p, sizeof(p), "%s/ctr/%s-ingress", pin_dir, CTR_ID);
	int in = prog_fd_of_link(p);
	if (eg < 0 || in < 0)
		return 1;
	static const uint32_t dst[4] = {0x0a010304, 0x0a010203, 0x0a090909, LOCALHOST};
	for (int i = 0; i < 4; i++)
		run_res->verdict[i] = test_run(eg, dst[i], 1, NULL);
	if (skiff_bpf_ctr_counters(run_b, CTR_ID, &c) == 0)
		run_res->tx_bytes = c.tx_bytes;
	if (test_run(eg, dst[0], 1000000, &run_res->ns_egress_lpm) < 0)
		return 2;
	if (test_run(in, dst[0], 1000000, &run_res->ns_ingress) < 0)
		return 3;
	char cg[256];
	snprintf(cg, sizeof(cg), "%s/ctr", cg_root);
	if (skiff_bpf_ctr_attach(run_b, CTR_ID, cg, NULL, &err) < 0)
		return 4;
	if (test_run(eg, dst[0], 1000000, &run_res->ns_egress_plain) < 0)
		return 5;
	/* the floor: an empty cgroup_skb program ("return 1") through the same harness */
	struct bpf_insn ret1[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	_cleanup_close_ int empty = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, "skiff_empty", "GPL", ret1, 2, NULL);
	if (empty < 0 || test_run(empty, dst[0], 1000000, &run_res->ns_empty) < 0)
		return 6;
	return 0;
}

TEST_F(bpfnet, prog_test_run_verdicts_and_cost)
{
	struct skiff_error err = {0};
	struct skiff_bpf_rule rules[] = {
	    {{0x0a010000, 16}, true},  /* allow 10.1.0.0/16 */
	    {{0x0a010200, 24}, false}, /* but not 10.1.2.0/24 */
	};
	struct skiff_bpf_policy pol = {.default_deny = true, .rules = rules, .nrules = 2};
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, &pol, &err)) TH_LOG("%s", err.msg);
	run_res = mmap(NULL, sizeof(*run_res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, run_res);
	run_b = self->b;
	int rc = exit_code(spawn_in(self->ctr_cg, runner, NULL));
	if (run_res->verdict[0] == -ENOTSUPP || run_res->verdict[0] == -EOPNOTSUPP)
		SKIP(return, "BPF_PROG_TEST_RUN refused for cgroup_skb");
	ASSERT_EQ(0, rc);
	EXPECT_EQ(1, run_res->verdict[0]);			   /* 10.1.3.4: allowed by /16 */
	EXPECT_EQ(0, run_res->verdict[1]);			   /* 10.1.2.3: denied by the longer /24 */
	EXPECT_EQ(0, run_res->verdict[2]);			   /* 10.9.9.9: default deny */
	EXPECT_EQ(1, run_res->verdict[3]);			   /* loopback passes default deny */
	EXPECT_LE(2 * sizeof(struct pkt) - 28, run_res->tx_bytes); /* two allowed runs counted */
	ksft_print_msg("netacct per-packet cost (BPF_PROG_TEST_RUN, 1e6 runs): egress %.0f ns, "
		       "egress with LPM policy %.0f ns, ingress %.0f ns; empty program %.0f ns\n",
		       run_res->ns_egress_plain, run_res->ns_egress_lpm, run_res->ns_ingress, run_res->ns_empty);
	fflush(stdout); /* the harness's child leaves with _exit */
	munmap(run_res, sizeof(*run_res));
}

/* The keeper cgroup holds one program per direction so that the kernel's
 * cgroup_skb static keys stay on between containers (turning them on costs
 * ~0.3 ms of text patching per attach); once, also across a re-open. */
TEST_F(bpfnet, keeper_cgroup_holds_both_programs)
{
	struct skiff_error err = {0};
	struct timespec t0, t1;
	char p[256];
	struct stat sb;
	EXPECT_EQ(1, prog_count(keep_cg, BPF_CGROUP_INET_INGRESS));
	EXPECT_EQ(1, prog_count(keep_cg, BPF_CGROUP_INET_EGRESS));
	snprintf(p, sizeof(p), "%s/keep/ingress", pin_dir);
	EXPECT_EQ(0, stat(p, &sb));
	skiff_bpf_net_close(self->b);
	ASSERT_EQ(0, open_net(self, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(1, prog_count(keep_cg, BPF_CGROUP_INET_INGRESS));
	EXPECT_EQ(1, prog_count(keep_cg, BPF_CGROUP_INET_EGRESS));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, NULL, &err)) TH_LOG("%s", err.msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("attach with the keeper: %ld us",
	       (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	EXPECT_EQ(0, skiff_bpf_ctr_detach(self->b, CTR_ID));
	EXPECT_EQ(1, prog_count(keep_cg, BPF_CGROUP_INET_EGRESS)); /* a container going leaves it */
	skiff_bpf_net_close(self->b);
	self->b = NULL;
	ASSERT_EQ(0, skiff_bpf_net_destroy(pin_dir, &err)) TH_LOG("%s", err.msg);
	EXPECT_NE(0, stat(keep_cg, &sb));
}

TEST_F(bpfnet, destroy_detaches_and_unpins)
{
	struct skiff_error err = {0};
	struct stat st;
	ASSERT_EQ(0, skiff_bpf_ctr_attach(self->b, CTR_ID, self->ctr_cg, NULL, &err)) TH_LOG("%s", err.msg);
	skiff_bpf_net_close(self->b);
	self->b = NULL;
	EXPECT_EQ(1, prog_count(self->ctr_cg, BPF_CGROUP_INET_INGRESS));
	ASSERT_EQ(0, skiff_bpf_net_destroy(pin_dir, &err)) TH_LOG("%s", err.msg);
	EXPECT_NE(0, stat(pin_dir, &st));
	EXPECT_EQ(0, prog_count(self->ports_cg, BPF_CGROUP_INET4_CONNECT));
	EXPECT_EQ(0, prog_count(self->ports_cg, BPF_CGROUP_UDP4_SENDMSG));
	EXPECT_EQ(0, prog_count(self->ctr_cg, BPF_CGROUP_INET_INGRESS));
	EXPECT_EQ(0, prog_count(self->ctr_cg, BPF_CGROUP_INET_EGRESS));
	EXPECT_EQ(0, skiff_bpf_net_destroy(pin_dir, &err)); /* nothing left: fine */
}

TEST_HARNESS_MAIN
