/* Unit tests for skiff's nftables table (userspace/net/nft.c). Each test
 * runs in a private network namespace (the harness forks every test), so
 * the host's ruleset is never touched; the last tests push real TCP through
 * the DNAT between namespaces made by forked children. */
#include "kselftest_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/net/nft.h"

#define TBL "skiff-unit"

#define PRIVATE_NETNS()                                                                                                \
	do {                                                                                                           \
		if (unshare(CLONE_NEWNET) < 0)                                                                         \
			SKIP(return, "cannot unshare a network namespace: %s", strerror(errno));                       \
	} while (0)

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* `nft list table ip TBL` as text, NULL when it does not exist. */
static char *list_table(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char *out = NULL;

	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, "list table ip " TBL) == 0)
		out = strdup(nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	return out;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(open_twice_keeps_one_set_of_base_chains)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;

	PRIVATE_NETNS();
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err)) TH_LOG("%s", err.msg);
	skiff_nft_close(n);
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err)) TH_LOG("%s", err.msg);
	skiff_nft_close(n);
	_cleanup_free_ char *t = list_table();
	ASSERT_NE(NULL, t);
	TH_LOG("ruleset after two opens:\n%s", t);
	EXPECT_EQ(1, count(t, "hook prerouting"));
	EXPECT_EQ(1, count(t, "hook postrouting"));
	EXPECT_EQ(1, count(t, "hook forward"));
	EXPECT_EQ(1, count(t, "hook output"));
	EXPECT_EQ(1, count(t, "jump ports"));
	EXPECT_EQ(1, count(t, "tcp dport map @pub_tcp\n"));
	EXPECT_EQ(1, count(t, "udp dport map @pub_udp_ip"));
	EXPECT_EQ(1, count(t, "iifname vmap @post_nets"));
	EXPECT_EQ(1, count(t, "ct state established,related accept"));
}

TEST(bad_names_are_refused)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;
	struct skiff_cidr c = {IP(10, 1, 0, 0), 16};

	PRIVATE_NETNS();
	EXPECT_EQ(-EINVAL, skiff_nft_open("x; flush ruleset", &n, &err));
	EXPECT_NE(NULL, strstr(err.msg, "invalid table name"));
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err));
	EXPECT_EQ(-EINVAL, skiff_nft_network_set(n, "br\"0", &c, false, &err));
	EXPECT_EQ(-EINVAL, skiff_nft_network_set(n, "a-very-long-bridge-name", &c, false, &err));
	skiff_nft_close(n);
}

TEST(network_set_replaces_and_del_removes)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;
	struct skiff_cidr c = {IP(10, 1, 0, 0), 16};

	PRIVATE_NETNS();
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err));
	ASSERT_EQ(0, skiff_nft_network_set(n, "br-a", &c, false, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_network_set(n, "br-a", &c, false, &err)) TH_LOG("%s", err.msg);
	_cleanup_free_ char *t1 = list_table();
	EXPECT_EQ(1, count(t1, "ip saddr 10.1.0.0/16 oifname != \"br-a\" masquerade"));
	EXPECT_EQ(1, count(t1, "oifname \"br-a\" ct status dnat masquerade"));
	EXPECT_EQ(1, count(t1, "\"br-a\" : jump nat-br-a"));
	/* the only drop: isolation from the other skiff networks */
	EXPECT_EQ(1, count(t1, "drop"));
	EXPECT_EQ(1, count(t1, "iifname \"br-a\" oifname != \"br-a\" oifname @bridges ct status != dnat drop"))
	TH_LOG("%s", t1);

	/* Becoming internal: no masquerade, isolation both ways. */
	ASSERT_EQ(0, skiff_nft_network_set(n, "br-a", &c, true, &err)) TH_LOG("%s", err.msg);
	struct skiff_cidr c2 = {IP(10, 2, 3, 0), 24};
	ASSERT_EQ(0, skiff_nft_network_set(n, "br-b", &c2, false, &err)) TH_LOG("%s", err.msg);
	_cleanup_free_ char *t2 = list_table();
	EXPECT_EQ(0, count(t2, "10.1.0.0/16"));
	EXPECT_EQ(1, count(t2, "iifname \"br-a\" oifname != \"br-a\" drop"));
	EXPECT_EQ(1, count(t2, "oifname \"br-a\" iifname != \"br-a\" drop"));
	EXPECT_EQ(1, count(t2, "ip saddr 10.2.3.0/24 oifname != \"br-b\" masquerade"));

	ASSERT_EQ(0, skiff_nft_network_del(n, "br-a", &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_network_del(n, "br-a", &err)) TH_LOG("deleting twice: %s", err.msg);
	ASSERT_EQ(0, skiff_nft_network_del(n, "br-never", &err)) TH_LOG("%s", err.msg);
	_cleanup_free_ char *t3 = list_table();
	EXPECT_EQ(0, count(t3, "br-a"));
	EXPECT_EQ(0, count(t3, "br-never"));
	EXPECT_EQ(1, count(t3, "chain nat-br-b"));
	skiff_nft_close(n);
}

TEST(ports_add_del_in_one_call_and_survive_reopen)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;
	struct skiff_port p[] = {
	    {IPPROTO_TCP, 0, 8080, IP(10, 1, 0, 2), 80},
	    {IPPROTO_TCP, 0, 8443, IP(10, 1, 0, 2), 443},
	    {IPPROTO_UDP, 0, 5353, IP(10, 1, 0, 2), 53},
	    {IPPROTO_TCP, IP(127, 0, 0, 1), 9000, IP(10, 1, 0, 2), 9000},
	};

	PRIVATE_NETNS();
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err));
	ASSERT_EQ(0, skiff_nft_ports_add(n, p, ARRAY_SIZE(p), &err)) TH_LOG("%s", err.msg);
	skiff_nft_close(n);
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err));
	_cleanup_free_ char *t1 = list_table();
	EXPECT_EQ(1, count(t1, "8080 : 10.1.0.2 . 80"));
	EXPECT_EQ(1, count(t1, "8443 : 10.1.0.2 . 443"));
	EXPECT_EQ(1, count(t1, "5353 : 10.1.0.2 . 53"));
	EXPECT_EQ(1, count(t1, "127.0.0.1 . 9000 : 10.1.0.2 . 9000"));

	/* A stale mapping of the same host port is replaced. */
	struct skiff_port q = {IPPROTO_TCP, 0, 8080, IP(10, 1, 0, 7), 8000};
	ASSERT_EQ(0, skiff_nft_ports_add(n, &q, 1, &err)) TH_LOG("%s", err.msg);
	_cleanup_free_ char *t2 = list_table();
	EXPECT_EQ(1, count(t2, "8080 : 10.1.0.7 . 8000"));
	EXPECT_EQ(0, count(t2, "8080 : 10.1.0.2 . 80"));

	/* Deleting: the replaced one is not ours any more and stays; absent
	 * ones are no error; the rest go in one call. */
	struct skiff_port absent = {IPPROTO_UDP, 0, 1234, IP(10, 1, 0, 9), 1};
	ASSERT_EQ(0, skiff_nft_ports_del(n, &p[1], 3, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_ports_del(n, &absent, 1, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_ports_del(n, &q, 1, &err)) TH_LOG("%s", err.msg);
	_cleanup_free_ char *t3 = list_table();
	EXPECT_EQ(0, count(t3, "elements"));

	struct skiff_port bad = {99, 0, 1, IP(10, 1, 0, 2), 1};
	EXPECT_EQ(-EINVAL, skiff_nft_ports_add(n, &bad, 1, &err));
	skiff_nft_close(n);
}

TEST(errors_carry_nft_text)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;
	struct skiff_port p = {IPPROTO_TCP, 0, 8080, IP(10, 1, 0, 2), 80};

	PRIVATE_NETNS();
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err));
	/* Someone deleted the table under us. */
	ASSERT_EQ(0, skiff_nft_destroy(TBL, &err));
	EXPECT_GT(0, skiff_nft_ports_add(n, &p, 1, &err));
	TH_LOG("%s", err.msg);
	EXPECT_NE(NULL, strstr(err.msg, "nftables: adding ports: "));
	EXPECT_NE(NULL, strstr(err.msg, "No such file or directory"));
	EXPECT_EQ(NULL, strchr(err.msg, '\n'));
	skiff_nft_close(n);
}

TEST(destroy_removes_the_table)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;

	PRIVATE_NETNS();
	ASSERT_EQ(0, skiff_nft_destroy(TBL, &err)) TH_LOG("absent: %s", err.msg);
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err));
	skiff_nft_close(n);
	ASSERT_EQ(0, sh("nft add table ip other"));
	ASSERT_EQ(0, skiff_nft_destroy(TBL, &err)) TH_LOG("%s", err.msg);
	char *t = list_table();
	EXPECT_EQ(NULL, t);
	free(t);
	EXPECT_EQ(0, sh("nft list table ip other >/dev/null"));
}

/* A forked child in a new netns that waits for the parent, runs setup
 * commands in its namespace, then fn. */
struct child {
	pid_t pid;
	int to_child, from_child;
};

static int wait_byte(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	char c;
	if (poll(&p, 1, 10000) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

static int child_start(struct child *c, const char *setup, int (*fn)(void *), void *arg)
{
	int a[2], b[2];
	if (pipe(a) < 0 || pipe(b) < 0)
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(a[1]);
		close(b[0]);
		/* A failed ASSERT ends the test process: take the child along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(90);
		if (write(b[1], "n", 1) != 1 || wait_byte(a[0]) != 'g')
			_exit(91);
		if (sh("%s", setup) != 0)
			_exit(92);
		_exit(fn(arg) ? 93 : 0);
		(void)b;
	}
	close(a[0]);
	close(b[1]);
	c->to_child = a[1];
	c->from_child = b[0];
	return wait_byte(c->from_child) == 'n' ? 0 : -1;
}

static int child_go(struct child *c) { return write(c->to_child, "g", 1) == 1 ? 0 : -1; }

static int child_wait(struct child *c)
{
	int st;
	for (int i = 0; i < 100; i++) {
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = 0;
			close(c->to_child);
			close(c->from_child);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(100000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &st, 0);
	c->pid = 0;
	return -1;
}

/* The "container": answers *(int *)arg connections (1 if NULL) on :80
 * with a greeting naming the peer. */
static int serve_once(void *arg)
{
	int nconn = arg ? *(int *)arg : 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0)
		return -1;
	/* The parent retries its connect until this listens. */
	alarm(15);
	while (nconn-- > 0) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		int c = accept(s, (struct sockaddr *)&peer, &pl);
		if (c < 0)
			return -1;
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "hello from the container to %s\n", inet_ntoa(peer.sin_addr));
		if (write(c, msg, n) != n)
			return -1;
		close(c);
	}
	return 0;
}

/* Connects to ip:port (retrying while the listener comes up) and reads
 * what is sent back into buf. */
static int fetch(const char *ip, int port, char *buf, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	for (int i = 0; i < 50; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = {3, 0};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
			ssize_t n = read(s, buf, len - 1);
			close(s);
			if (n < 0)
				return -1;
			buf[n] = '\0';
			return 0;
		}
		close(s);
		usleep(100000);
	}
	return -1;
}

struct remote_arg {
	char got[128];
};

static int remote_fetch(void *arg)
{
	struct remote_arg *r = arg;
	if (fetch("192.168.77.1", 8080, r->got, sizeof(r->got)) < 0)
		return -1;
	/* The child's memory is its own: report through the exit status. */
	return strstr(r->got, "hello from the container to 192.168.77.2") ? 0 : -1;
}

/* The test's namespace plays the host: bridge skt0 10.99.0.1/24 with the
 * "container" behind a veth, and (optionally) a "remote host" on a
 * second veth 192.168.77.0/24. */
static int host_setup(struct child *ctr, struct child *remote)
{
	if (sh("ip link set lo up && ip link add skt0 type bridge && ip addr add 10.99.0.1/24 dev skt0 &&"
	       " ip link set skt0 up && echo 1 > /proc/sys/net/ipv4/ip_forward"))
		return -1;
	if (sh("ip link add skv0 type veth peer name eth0 netns %d && ip link set skv0 master skt0 up", ctr->pid))
		return -1;
	if (remote && sh("ip link add vr0 type veth peer name eth0 netns %d && ip addr add 192.168.77.1/24 dev vr0 &&"
			 " ip link set vr0 up",
			 remote->pid))
		return -1;
	return 0;
}

static const char ctr_setup[] = "ip link set lo up && ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up &&"
				" ip route add default via 10.99.0.1";

TEST(remote_client_reaches_published_port_through_dnat)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;
	struct skiff_cidr c = {IP(10, 99, 0, 0), 24};
	struct skiff_port p = {IPPROTO_TCP, 0, 8080, IP(10, 99, 0, 2), 80};
	struct child ctr = {0}, remote = {0};
	struct remote_arg ra = {0};

	PRIVATE_NETNS();
	ASSERT_EQ(0, child_start(&ctr, ctr_setup, serve_once, NULL));
	ASSERT_EQ(0, child_start(&remote,
				 "ip link set lo up && ip addr add 192.168.77.2/24 dev eth0 && ip link set eth0 up &&"
				 " ip route add default via 192.168.77.1",
				 remote_fetch, &ra));
	ASSERT_EQ(0, host_setup(&ctr, &remote));
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_network_set(n, "skt0", &c, false, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_ports_add(n, &p, 1, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, child_go(&ctr));
	ASSERT_EQ(0, child_go(&remote));
	/* The remote saw the container's greeting addressed to its own
	 * address: DNAT, and no masquerade on the way in. */
	EXPECT_EQ(0, child_wait(&remote));
	EXPECT_EQ(0, child_wait(&ctr));
	_cleanup_free_ char *t = list_table();
	TH_LOG("table after the transfer:\n%s", t);
	skiff_nft_close(n);
}

TEST(local_dnat_fallback_reaches_container_from_loopback)
{
	struct skiff_error err = {0};
	struct skiff_nft *n = NULL;
	struct skiff_cidr c = {IP(10, 99, 0, 0), 24};
	struct skiff_port p[] = {
	    {IPPROTO_TCP, IP(127, 0, 0, 1), 8080, IP(10, 99, 0, 2), 80},
	    {IPPROTO_TCP, 0, 8081, IP(10, 99, 0, 2), 80},
	};
	struct child ctr = {0};
	char got[128] = "";
	int conns = 3;

	PRIVATE_NETNS();
	ASSERT_EQ(0, child_start(&ctr, ctr_setup, serve_once, &conns));
	ASSERT_EQ(0, host_setup(&ctr, NULL));
	ASSERT_EQ(0, skiff_nft_open(TBL, &n, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_network_set(n, "skt0", &c, false, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_ports_add(n, p, 2, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_local_dnat(n, true, &err)) TH_LOG("%s", err.msg);
	_cleanup_free_ char *rl = NULL;
	size_t len;
	ASSERT_EQ(0, skiff_read_file("/proc/sys/net/ipv4/conf/skt0/route_localnet", &rl, &len));
	EXPECT_EQ('1', rl[0]);
	ASSERT_EQ(0, child_go(&ctr));
	ASSERT_EQ(0, fetch("127.0.0.1", 8080, got, sizeof(got)));
	/* masqueraded to the bridge's address: 127.0.0.1 cannot be answered */
	EXPECT_STREQ("hello from the container to 10.99.0.1\n", got);
	/* host_ip 0: any local address, loopback or the bridge's */
	ASSERT_EQ(0, fetch("127.0.0.1", 8081, got, sizeof(got)));
	EXPECT_STREQ("hello from the container to 10.99.0.1\n", got);
	ASSERT_EQ(0, fetch("10.99.0.1", 8081, got, sizeof(got)));
	EXPECT_STREQ("hello from the container to 10.99.0.1\n", got);
	EXPECT_EQ(0, child_wait(&ctr));

	/* A bridge in the set that no longer exists does not stop the switch. */
	struct skiff_cidr c2 = {IP(10, 98, 0, 0), 24};
	ASSERT_EQ(0, skiff_nft_network_set(n, "gone0", &c2, false, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_local_dnat(n, true, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_nft_local_dnat(n, false, &err)) TH_LOG("%s", err.msg);
	free(rl);
	rl = NULL;
	ASSERT_EQ(0, skiff_read_file("/proc/sys/net/ipv4/conf/skt0/route_localnet", &rl, &len));
	EXPECT_EQ('0', rl[0]);
	_cleanup_free_ char *t = list_table();
	EXPECT_EQ(0, count(t, "127.0.0.0/8"));
	skiff_nft_close(n);
}

TEST_HARNESS_MAIN
