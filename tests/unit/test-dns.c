/* Unit tests for the embedded DNS server (userspace/net/dns.c): a server on
 * 127.0.0.1:<free port> with a fake container table, a fake upstream on
 * another loopback port, queries built by hand over real sockets. The test
 * is single-threaded: it turns the server's event loop while it waits. */
#include "kselftest_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../userspace/net/dns-internal.h"
#include "../../userspace/net/dns.h"

#define LO 0x7f000001u

static int lookups;
static uint32_t last_client;

static int fake_lookup(void *data, uint32_t client_ip, const char *name, uint32_t *addrs, int max)
{
	static const struct {
		const char *name;
		uint32_t a[2];
		int n;
	} table[] = {
	    {"web", {0x0a000005}, 1},
	    {"db", {0x0a000006, 0x0a000007}, 2},
	    {"web.alias", {0x0a000005}, 1},
	};
	(void)data;
	lookups++;
	last_client = client_ip;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name)) {
			int n = table[i].n < max ? table[i].n : max;
			memcpy(addrs, table[i].a, sizeof(uint32_t) * (size_t)n);
			return n;
		}
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port free for both UDP and TCP on 127.0.0.1 right now. */
static int free_port(void)
{
	for (int i = 0; i < 50; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(LO)};
		socklen_t al = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), ok;
		bind(u, (struct sockaddr *)&a, sizeof(a));
		getsockname(u, (struct sockaddr *)&a, &al);
		ok = bind(t, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(u);
		close(t);
		if (ok)
			return ntohs(a.sin_port);
	}
	return -1;
}

static int query(unsigned char *b, uint16_t id, const char *name, uint16_t type)
{
	int o = 12;
	memset(b, 0, 12);
	b[0] = id >> 8;
	b[1] = id & 0xff;
	b[2] = 0x01; /* RD */
	b[5] = 1;
	for (const char *p = name; *p;) {
		const char *d = strchr(p, '.');
		int n = d ? (int)(d - p) : (int)strlen(p);
		b[o++] = (unsigned char)n;
		memcpy(b + o, p, (size_t)n);
		o += n;
		p += n + (d ? 1 : 0);
	}
	b[o++] = 0;
	b[o++] = type >> 8;
	b[o++] = type & 0xff;
	b[o++] = 0;
	b[o++] = 1;
	return o;
}

enum up_mode { UP_ANSWER, UP_SILENT, UP_TRUNCATED };

FIXTURE(dns)
{
	struct event_base *base;
	struct skiff_dns *dns;
	int port, up_port;
	int up_udp, up_tcp;
	int client;
	enum up_mode mode;
	int up_queries;
	uint16_t up_seen_id;
	unsigned char up_reply[512];
	int up_reply_len;
};

FIXTURE_SETUP(dns)
{
	struct skiff_error err = {0};
	char up[32];
	const char *ups[] = {up, NULL};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(LO)};
	int one = 1;

	lookups = 0;
	self->base = event_base_new();
	ASSERT_NE(NULL, self->base);
	ASSERT_EQ(0, skiff_dns_new(self->base, fake_lookup, NULL, &self->dns));
	self->up_port = free_port();
	ASSERT_LT(0, self->up_port);
	a.sin_port = htons(self->up_port);
	self->up_udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ASSERT_EQ(0, bind(self->up_udp, (struct sockaddr *)&a, sizeof(a)));
	self->up_tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(self->up_tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT_EQ(0, bind(self->up_tcp, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(self->up_tcp, 8));
	snprintf(up, sizeof(up), "127.0.0.1:%d", self->up_port);
	ASSERT_EQ(0, skiff_dns_set_upstreams(self->dns, ups, &err)) TH_LOG("%s", err.msg);
	self->port = free_port();
	ASSERT_LT(0, self->port);
	ASSERT_EQ(0, skiff_dns_listen(self->dns, LO, (uint16_t)self->port, &err)) TH_LOG("%s", err.msg);
	self->client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	a.sin_port = htons(self->port);
	ASSERT_EQ(0, connect(self->client, (struct sockaddr *)&a, sizeof(a)));
}

FIXTURE_TEARDOWN(dns)
{
	skiff_dns_free(self->dns);
	event_base_free(self->base);
	close(self->client);
	close(self->up_udp);
	close(self->up_tcp);
}

/* The fake upstream's answer: the query with QR/RA, one A 1.2.3.4 TTL 60. */
static int up_answer(FIXTURE_DATA(dns) * self, const unsigned char *q, int n, unsigned char *out)
{
	memcpy(out, q, (size_t)n);
	out[2] |= 0x80;
	out[3] = 0x80;
	if (self->mode == UP_TRUNCATED)
		out[2] |= 0x02;
	out[7] = 1;
	static const unsigned char rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
	memcpy(out + n, rr, sizeof(rr));
	self->up_seen_id = (uint16_t)(q[0] << 8 | q[1]);
	self->up_queries++;
	memcpy(self->up_reply, out, (size_t)n + sizeof(rr));
	self->up_reply_len = n + (int)sizeof(rr);
	return n + (int)sizeof(rr);
}

/* Turns the server's loop and serves the fake upstream until fd is
 * readable or ms pass. */
static int pump(FIXTURE_DATA(dns) * self, int fd, int ms)
{
	long end = now_ms() + ms;
	unsigned char q[1024], r[1200];

	while (now_ms() < end) {
		event_base_loop(self->base, EVLOOP_NONBLOCK);
		struct pollfd p[3] = {{fd, POLLIN, 0}, {self->up_udp, POLLIN, 0}, {self->up_tcp, POLLIN, 0}};
		if (poll(p, 3, 2) <= 0)
			continue;
		if (p[1].revents) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			int n = (int)recvfrom(self->up_udp, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
			if (n >= 12 && self->mode != UP_SILENT)
				sendto(self->up_udp, r, (size_t)up_answer(self, q, n, r), 0, (struct sockaddr *)&from,
				       fl);
			else if (n >= 12)
				self->up_queries++;
		}
		if (p[2].revents) {
			int c = accept(self->up_tcp, NULL, NULL);
			unsigned char pf[2];
			/* The server writes the whole message at once; let it. */
			for (int i = 0; i < 200 && recv(c, pf, 2, MSG_PEEK | MSG_DONTWAIT) < 2; i++) {
				event_base_loop(self->base, EVLOOP_NONBLOCK);
				usleep(1000);
			}
			if (recv(c, pf, 2, MSG_WAITALL) == 2) {
				int n = pf[0] << 8 | pf[1];
				if (n <= (int)sizeof(q) && recv(c, q, (size_t)n, MSG_WAITALL) == n) {
					int m = up_answer(self, q, n, r + 2);
					r[0] = (unsigned char)(m >> 8);
					r[1] = (unsigned char)m;
					send(c, r, (size_t)m + 2, 0);
				}
			}
			close(c);
		}
		if (p[0].revents)
			return 0;
	}
	return -1;
}

/* Sends a datagram and waits for the reply (its length, -1 on timeout). */
static int ask(FIXTURE_DATA(dns) * self, const unsigned char *q, int n, unsigned char *r, int ms)
{
	if (send(self->client, q, (size_t)n, 0) != n)
		return -1;
	if (pump(self, self->client, ms) < 0)
		return -1;
	return (int)recv(self->client, r, 4096, 0);
}

#define RCODE(r) ((r)[3] & 0xf)
#define ANCOUNT(r) ((r)[6] << 8 | (r)[7])
#define ID(r) ((r)[0] << 8 | (r)[1])

TEST_F(dns, a_for_a_container_name_ttl_0_case_insensitive)
{
	unsigned char q[512], r[4096];
	int n = query(q, 0x1234, "web", 1);
	int m = ask(self, q, n, r, 2000);
	ASSERT_LT(0, m);
	EXPECT_EQ(0x1234, ID(r));
	EXPECT_EQ(0x80, r[2] & 0x80);
	EXPECT_EQ(0, RCODE(r));
	EXPECT_EQ(1, ANCOUNT(r));
	EXPECT_EQ(LO, last_client);
	ASSERT_EQ(n + 16, m);
	/* the question echoed, then the answer: ptr, A, IN, TTL 0, 10.0.0.5 */
	EXPECT_EQ(0, memcmp(q + 12, r + 12, (size_t)n - 12));
	static const unsigned char rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, 5};
	EXPECT_EQ(0, memcmp(rr, r + n, sizeof(rr)));

	n = query(q, 0x4321, "WeB.AliaS", 1);
	m = ask(self, q, n, r, 2000);
	ASSERT_EQ(n + 16, m);
	EXPECT_EQ(0, RCODE(r));
	EXPECT_EQ(0, memcmp("\x03WeB\x05"
			    "AliaS",
			    r + 12, 10))
	TH_LOG("the client's case is kept");

	n = query(q, 7, "db", 1);
	m = ask(self, q, n, r, 2000);
	EXPECT_EQ(n + 32, m);
	EXPECT_EQ(2, ANCOUNT(r));
	EXPECT_EQ(0, self->up_queries);
}

TEST_F(dns, aaaa_for_a_container_name_is_empty_noerror)
{
	unsigned char q[512], r[4096];
	int n = query(q, 9, "web", 28);
	int m = ask(self, q, n, r, 2000);
	ASSERT_EQ(n, m);
	EXPECT_EQ(0, RCODE(r));
	EXPECT_EQ(0, ANCOUNT(r));
	EXPECT_EQ(0, self->up_queries);
}

TEST_F(dns, unknown_single_label_is_nxdomain_at_once)
{
	unsigned char q[512], r[4096];
	int n = query(q, 10, "nosuchcontainer", 1);
	long t0 = now_ms();
	int m = ask(self, q, n, r, 2000);
	ASSERT_EQ(n, m);
	EXPECT_EQ(3, RCODE(r));
	EXPECT_GT(500, now_ms() - t0);
	EXPECT_EQ(0, self->up_queries);
}

TEST_F(dns, dotted_names_are_forwarded_and_relayed_with_the_clients_id)
{
	unsigned char q[512], r[4096];
	int n = query(q, 0xbeef, "example.com", 1);
	int m = ask(self, q, n, r, 3000);
	ASSERT_EQ(n + 16, m);
	EXPECT_EQ(1, self->up_queries);
	EXPECT_EQ(0xbeef, ID(r));
	/* unchanged but for the ID */
	ASSERT_EQ(self->up_reply_len, m);
	EXPECT_EQ(0, memcmp(self->up_reply + 2, r + 2, (size_t)m - 2));
	TH_LOG("upstream saw id %#x for client id 0xbeef", self->up_seen_id);

	/* A truncated reply is relayed with TC so the client retries on TCP. */
	self->mode = UP_TRUNCATED;
	n = query(q, 0xbef0, "big.example.com", 16);
	m = ask(self, q, n, r, 3000);
	ASSERT_LT(0, m);
	EXPECT_EQ(0x02, r[2] & 0x02);
	EXPECT_EQ(0xbef0, ID(r));
}

TEST_F(dns, silent_upstream_gives_servfail_within_the_timeout)
{
	unsigned char q[512], r[4096];
	skiff_dns_set_timeout_ms(self->dns, 300);
	self->mode = UP_SILENT;
	int n = query(q, 0xabcd, "example.org", 1);
	long t0 = now_ms();
	int m = ask(self, q, n, r, 3000);
	long dt = now_ms() - t0;
	ASSERT_EQ(n, m);
	EXPECT_EQ(2, RCODE(r));
	EXPECT_EQ(0xabcd, ID(r));
	EXPECT_EQ(1, self->up_queries);
	EXPECT_LE(250, dt);
	EXPECT_GT(1500, dt);
}

TEST_F(dns, no_upstream_answers_servfail_and_refused_does_not_happen_below_cap)
{
	unsigned char q[512], r[4096];
	struct skiff_error err = {0};
	const char *none[] = {NULL};
	const char *bad[] = {"300.1.1.1", NULL};
	const char *badport[] = {"1.1.1.1:99999", NULL};
	EXPECT_EQ(-EINVAL, skiff_dns_set_upstreams(self->dns, bad, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_EQ(-EINVAL, skiff_dns_set_upstreams(self->dns, badport, &err));
	ASSERT_EQ(0, skiff_dns_set_upstreams(self->dns, none, &err));
	int n = query(q, 5, "example.net", 1);
	ASSERT_EQ(n, ask(self, q, n, r, 2000));
	EXPECT_EQ(2, RCODE(r));
}

TEST_F(dns, forwarded_queries_beyond_the_cap_are_refused)
{
	unsigned char q[512], r[4096];
	struct rlimit rl = {4096, 4096};
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		SKIP(return, "cannot raise RLIMIT_NOFILE: %s", strerror(errno));
	int big = 1 << 20;
	setsockopt(self->client, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(self->up_udp, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	skiff_dns_set_timeout_ms(self->dns, 3000);
	self->mode = UP_SILENT;
	int refused = 0, total = 1100;
	for (int i = 0; i < total; i++) {
		int n = query(q, (uint16_t)i, "example.org", 1);
		ASSERT_EQ(n, send(self->client, q, (size_t)n, 0));
		/* let the server read it before the socket buffer fills */
		if (i % 32 == 31)
			for (int k = 0; k < 5; k++)
				event_base_loop(self->base, EVLOOP_NONBLOCK);
	}
	for (int k = 0; k < 20; k++)
		event_base_loop(self->base, EVLOOP_NONBLOCK);
	while (pump(self, self->client, 200) == 0) {
		int m = (int)recv(self->client, r, sizeof(r), 0);
		if (m >= 12 && RCODE(r) == 5)
			refused++;
		if (refused == total - 1024)
			break;
	}
	EXPECT_EQ(total - 1024, refused);
}

/* One length-prefixed query over TCP; returns the reply length. */
static int ask_tcp(FIXTURE_DATA(dns) * self, int s, const unsigned char *q, int n, unsigned char *r)
{
	unsigned char pf[2] = {(unsigned char)(n >> 8), (unsigned char)n};
	if (send(s, pf, 2, 0) != 2 || send(s, q, (size_t)n, 0) != n)
		return -1;
	int got = 0, want = -1;
	long end = now_ms() + 3000;
	while (now_ms() < end && (want < 0 || got < want + 2)) {
		if (pump(self, s, 100) < 0)
			continue;
		int k = (int)recv(s, r + got, 4096 - (size_t)got, MSG_DONTWAIT);
		if (k <= 0)
			return -1;
		got += k;
		if (got >= 2)
			want = r[0] << 8 | r[1];
	}
	if (want < 0 || got != want + 2)
		return -1;
	memmove(r, r + 2, (size_t)want);
	return want;
}

TEST_F(dns, tcp_queries_local_and_forwarded)
{
	unsigned char q[512], r[4096];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(self->port), .sin_addr.s_addr = htonl(LO)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(s, (struct sockaddr *)&a, sizeof(a)));
	int n = query(q, 0x0102, "db", 1);
	int m = ask_tcp(self, s, q, n, r);
	ASSERT_EQ(n + 32, m);
	EXPECT_EQ(0x0102, ID(r));
	EXPECT_EQ(2, ANCOUNT(r));
	/* the same connection again, now forwarded (over TCP upstream) */
	n = query(q, 0x0103, "www.example.com", 1);
	m = ask_tcp(self, s, q, n, r);
	ASSERT_EQ(n + 16, m);
	EXPECT_EQ(0x0103, ID(r));
	EXPECT_EQ(1, self->up_queries);
	EXPECT_EQ(0, memcmp(self->up_reply + 2, r + 2, (size_t)m - 2));
	close(s);
}

TEST_F(dns, malformed_packets_get_formerr_or_nothing)
{
	unsigned char q[512], r[4096];
	int n;

	/* shorter than a header: dropped */
	EXPECT_EQ(-1, ask(self, (const unsigned char *)"\x12\x34\x01\x00\x00", 5, r, 200));
	/* a label running past the end */
	n = query(q, 0x2222, "web", 1);
	q[12] = 60;
	ASSERT_LT(0, ask(self, q, n, r, 1000));
	EXPECT_EQ(0x2222, ID(r));
	EXPECT_EQ(1, RCODE(r));
	/* a compression pointer to itself, and one pointing forward */
	n = query(q, 0x3333, "web", 1);
	q[12] = 0xc0;
	q[13] = 12;
	ASSERT_LT(0, ask(self, q, n, r, 1000));
	EXPECT_EQ(1, RCODE(r));
	q[13] = 40;
	ASSERT_LT(0, ask(self, q, n, r, 1000));
	EXPECT_EQ(1, RCODE(r));
	/* a name that ends without its type/class */
	n = query(q, 0x4444, "web", 1);
	ASSERT_LT(0, ask(self, q, n - 3, r, 1000));
	EXPECT_EQ(1, RCODE(r));
	/* no question; two questions */
	n = query(q, 0x5555, "web", 1);
	q[5] = 0;
	ASSERT_LT(0, ask(self, q, n, r, 1000));
	EXPECT_EQ(1, RCODE(r));
	q[5] = 2;
	ASSERT_LT(0, ask(self, q, n, r, 1000));
	EXPECT_EQ(1, RCODE(r));
	/* a response is never answered; a reserved label type is malformed */
	n = query(q, 0x6666, "web", 1);
	q[2] |= 0x80;
	EXPECT_EQ(-1, ask(self, q, n, r, 200));
	n = query(q, 0x6667, "web", 1);
	q[12] = 0x43;
	ASSERT_LT(0, ask(self, q, n, r, 1000));
	EXPECT_EQ(1, RCODE(r));
	/* a label with a NUL byte cannot match a container by its prefix */
	n = query(q, 0x6668, "webx", 1);
	q[16] = 0;
	ASSERT_LT(0, ask(self, q, n, r, 1000));
	EXPECT_EQ(1, RCODE(r));
	/* random garbage */
	srand(42);
	for (int i = 0; i < 2000; i++) {
		int len = 12 + rand() % 60;
		for (int k = 0; k < len; k++)
			q[k] = (unsigned char)rand();
		q[2] &= 0x7f;
		send(self->client, q, (size_t)len, 0);
		event_base_loop(self->base, EVLOOP_NONBLOCK);
		while (recv(self->client, r, sizeof(r), MSG_DONTWAIT) > 0)
			;
	}
	/* still alive and correct */
	n = query(q, 0x7777, "web", 1);
	ASSERT_EQ(n + 16, ask(self, q, n, r, 1000));
	EXPECT_EQ(0x7777, ID(r));
}

TEST_F(dns, clients_going_away_mid_forward)
{
	unsigned char q[512], r[4096];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(self->port), .sin_addr.s_addr = htonl(LO)};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	skiff_dns_set_timeout_ms(self->dns, 200);
	self->mode = UP_SILENT;
	ASSERT_EQ(0, connect(s, (struct sockaddr *)&a, sizeof(a)));
	int n = query(q, 1, "gone.example", 1);
	unsigned char pf[2] = {0, (unsigned char)n};
	ASSERT_EQ(2, send(s, pf, 2, 0));
	ASSERT_EQ(n, send(s, q, (size_t)n, 0));
	/* a zero-length message and a half one before leaving */
	ASSERT_EQ(4, send(s, "\0\0\0\x30", 4, 0));
	pump(self, -1, 100);
	close(s);
	/* a UDP forward in flight when the listener goes */
	ASSERT_EQ(n, send(self->client, q, (size_t)n, 0));
	pump(self, -1, 50);
	skiff_dns_unlisten(self->dns, LO);
	EXPECT_EQ(-1, pump(self, self->client, 400));
	(void)r;
}

TEST_F(dns, listen_twice_conflicts_and_unlisten_frees_the_port)
{
	struct skiff_error err = {0};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(self->port), .sin_addr.s_addr = htonl(LO)};

	EXPECT_GT(0, skiff_dns_listen(self->dns, LO, (uint16_t)self->port, &err));
	EXPECT_EQ(409, err.status);
	TH_LOG("%s", err.msg);
	/* someone else on the port: the error names the address */
	int other = free_port();
	struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(other), .sin_addr.s_addr = htonl(0x7f000002)};
	int blocker = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(0, bind(blocker, (struct sockaddr *)&b, sizeof(b)));
	EXPECT_GT(0, skiff_dns_listen(self->dns, 0x7f000002, (uint16_t)other, &err));
	EXPECT_NE(NULL, strstr(err.msg, "127.0.0.2:")) TH_LOG("%s", err.msg);
	close(blocker);

	skiff_dns_unlisten(self->dns, LO);
	int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_EQ(0, bind(u, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_EQ(0, bind(t, (struct sockaddr *)&a, sizeof(a)));
	close(u);
	close(t);
	EXPECT_EQ(0, skiff_dns_listen(self->dns, LO, (uint16_t)self->port, &err)) TH_LOG("%s", err.msg);
}

/* Found by tests/fuzz/fuzz-dns: one label "web.alias" was answered as the
 * two-label name web.alias and the reply's question re-encoded as two
 * labels, so it no longer matched the query. Such names are forwarded now,
 * and a reply's question is the query's, byte for byte (case kept). */
TEST(answer_echoes_the_question_and_forwards_dotted_labels)
{
	static const unsigned char dotted[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
						9, 'w', 'e', 'b', '.', 'a', 'l', 'i', 'a', 's', 0, 0, 1, 0, 1 };
	static const unsigned char two[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
					     3, 'W', 'e', 'B', 5, 'a', 'l', 'i', 'a', 's', 0, 0, 1, 0, 1 };
	unsigned char buf[512];
	size_t n = 0;

	ASSERT_EQ(SKIFF_DNS_FORWARD, skiff_dns_answer(fake_lookup, NULL, LO, dotted, sizeof(dotted), buf, sizeof(buf), &n));
	ASSERT_EQ(SKIFF_DNS_REPLY, skiff_dns_answer(fake_lookup, NULL, LO, two, sizeof(two), buf, sizeof(buf), &n));
	ASSERT_EQ(sizeof(two) + 16, n); /* the question and one A record */
	EXPECT_EQ(0, memcmp(buf + 12, two + 12, sizeof(two) - 12));
	EXPECT_EQ(1, buf[7]);
}

TEST_HARNESS_MAIN
