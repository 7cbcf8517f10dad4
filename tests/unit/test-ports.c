/* Unit tests for userspace/net/ports.c: PortBindings/-P parsing with
 * dockerd's errors, reservation by bound sockets (Docker's conflict text,
 * ephemeral write-back, ranges, all or nothing), the API's Ports shapes,
 * the docker CLI's PORTS column and the publish/expose filters. Sockets
 * are bound in a private network namespace per test. */
#include "kselftest_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/net/netlink.h"
#include "../../userspace/net/ports.h"

#define LOCALHOST 0x7f000001u

static uint16_t *last; /* the range ends of the last parse */

static int parse(const char *bindings, bool all, const char *exposed, struct skiff_port **p, size_t *n,
		 struct skiff_error *err)
{
	free(last);
	last = NULL;
	_cleanup_json_ json_t *b = bindings ? json_loads(bindings, 0, NULL) : NULL;
	_cleanup_json_ json_t *e = exposed ? json_loads(exposed, 0, NULL) : NULL;
	return skiff_ports_parse(b, all, e, p, &last, n, err);
}

static char *dumps(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* Binds like a foreign program would; returns the fd (port in *port). */
static int squat(int type, uint32_t ip, uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(*port), .sin_addr.s_addr = htonl(ip)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	return getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ? 0 : ntohs(sa.sin_port);
}

TEST(parse_bindings)
{
	struct skiff_port *p = NULL;
	size_t n = 0;
	struct skiff_error err = {0};
	ASSERT_EQ(
	    0,
	    parse("{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"18080\"}],"
		  "\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}],"
		  "\"81\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"0\"},{\"HostIp\":\"\",\"HostPort\":\"8000-8010\"}],"
		  "\"443/tcp\":[], \"444/tcp\":null}",
		  false, NULL, &p, &n, &err))
	TH_LOG("%s", err.msg);
	ASSERT_EQ(4, n);
	EXPECT_EQ(IPPROTO_UDP, p[0].proto);
	EXPECT_EQ(53, p[0].ctr_port);
	EXPECT_EQ(0, p[0].host_ip);
	EXPECT_EQ(0, p[0].host_port);
	EXPECT_EQ(IPPROTO_TCP, p[1].proto);
	EXPECT_EQ(80, p[1].ctr_port);
	EXPECT_EQ(LOCALHOST, p[1].host_ip);
	EXPECT_EQ(18080, p[1].host_port);
	EXPECT_EQ(18080, last[1]);
	EXPECT_EQ(0, p[1].ctr_ip);
	/* 81: two bindings, sorted by host port: ephemeral first */
	EXPECT_EQ(81, p[2].ctr_port);
	EXPECT_EQ(0, p[2].host_port);
	EXPECT_EQ(0, last[2]);
	EXPECT_EQ(81, p[3].ctr_port);
	EXPECT_EQ(8000, p[3].host_port);
	EXPECT_EQ(8010, last[3]);
	free(p);

	ASSERT_EQ(0, parse(NULL, false, NULL, &p, &n, &err));
	EXPECT_EQ(0, n);
	EXPECT_EQ(NULL, p);
	ASSERT_EQ(0, parse("{\"80/TCP\":[{\"HostPort\":\"8080-8080\"}]}", false, NULL, &p, &n, &err));
	ASSERT_EQ(1, n);
	EXPECT_EQ(IPPROTO_TCP, p[0].proto);
	EXPECT_EQ(8080, p[0].host_port);
	EXPECT_EQ(8080, last[0]);
	free(p);
	/* last is optional */
	_cleanup_json_ json_t *b = json_loads("{\"80/tcp\":[{\"HostPort\":\"1-2\"}]}", 0, NULL);
	ASSERT_EQ(0, skiff_ports_parse(b, false, NULL, &p, NULL, &n, &err));
	EXPECT_EQ(1, p[0].host_port);
	free(p);
}

TEST(parse_publish_all)
{
	struct skiff_port *p = NULL;
	size_t n = 0;
	struct skiff_error err = {0};
	const char *exposed = "{\"80/tcp\":{},\"443/tcp\":{},\"53/udp\":{}}";
	ASSERT_EQ(0, parse("{\"80/tcp\":[{\"HostPort\":\"18080\"}]}", true, exposed, &p, &n, &err));
	ASSERT_EQ(3, n);
	EXPECT_EQ(53, p[0].ctr_port);
	EXPECT_EQ(0, p[0].host_port);
	EXPECT_EQ(80, p[1].ctr_port);
	EXPECT_EQ(18080, p[1].host_port);
	EXPECT_EQ(443, p[2].ctr_port);
	EXPECT_EQ(0, p[2].host_port);
	free(p);
	/* without -P exposed ports are not published */
	ASSERT_EQ(0, parse(NULL, false, exposed, &p, &n, &err));
	EXPECT_EQ(0, n);
	/* an exposed sctp port without -P is fine */
	ASSERT_EQ(0, parse(NULL, false, "{\"9/sctp\":{}}", &p, &n, &err));
	EXPECT_EQ(-EINVAL, parse(NULL, true, "{\"9/sctp\":{}}", &p, &n, &err));
	EXPECT_STREQ("SCTP port bindings are not supported by skiff", err.msg);
}

TEST(parse_errors)
{
	static const struct {
		const char *bindings, *msg;
	} cases[] = {
	    {"{\"abc/tcp\":[]}", "invalid port specification: \"abc\""},
	    {"{\"80-81/tcp\":[]}", "invalid port specification: \"80-81\""},
	    {"{\"0/tcp\":[]}", "invalid port specification: \"0\""},
	    {"{\"70000\":[]}", "invalid port specification: \"70000\""},
	    {"{\"/tcp\":[]}", "invalid port specification: \"\""},
	    {"{\"80/foo\":[]}", "invalid proto: foo"},
	    {"{\"80/tcp\":[{\"HostPort\":\"abc\"}]}", "invalid port specification: \"abc\""},
	    {"{\"80/tcp\":[{\"HostPort\":\"8001-8000\"}]}", "invalid port specification: \"8001-8000\""},
	    {"{\"80/tcp\":[{\"HostPort\":\"65536\"}]}", "invalid port specification: \"65536\""},
	    {"{\"80/tcp\":[{\"HostPort\":\"-1\"}]}", "invalid port specification: \"-1\""},
	    {"{\"80/tcp\":[{\"HostIp\":\"1.2.3\",\"HostPort\":\"80\"}]}", "invalid IP address: 1.2.3"},
	    {"{\"80/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":\"80\"}]}",
	     "IPv6 port bindings are not supported by skiff (HostIp ::1)"},
	    {"{\"80/tcp\":[{\"HostIp\":\"[::]\",\"HostPort\":\"80\"}]}",
	     "IPv6 port bindings are not supported by skiff (HostIp [::])"},
	    {"{\"80/sctp\":[{\"HostPort\":\"80\"}]}", "SCTP port bindings are not supported by skiff"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct skiff_port *p = (void *)1;
		size_t n = 9;
		struct skiff_error err = {0};
		EXPECT_EQ(-EINVAL, parse(cases[i].bindings, false, NULL, &p, &n, &err)) TH_LOG("%s", cases[i].bindings);
		EXPECT_EQ(400, err.status);
		EXPECT_STREQ(cases[i].msg, err.msg);
		EXPECT_EQ(NULL, p);
		EXPECT_EQ(0, n);
	}
}

FIXTURE(res) { int fds_before; };

FIXTURE_SETUP(res)
{
	struct skiff_nl nl;
	if (geteuid() != 0)
		SKIP(return, "needs root");
	/* a private namespace: fixed port numbers are ours alone */
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, skiff_nl_open(&nl));
	ASSERT_EQ(0, skiff_nl_link_up(&nl, 1));
	skiff_nl_close(&nl);
	self->fds_before = count_fds();
}

FIXTURE_TEARDOWN(res) { EXPECT_EQ(self->fds_before, count_fds()); }

TEST_F(res, conflict_has_dockers_words)
{
	struct skiff_error err = {0};
	int *fds = NULL;
	uint16_t port = 5000;
	int sq = squat(SOCK_STREAM, LOCALHOST, &port);
	ASSERT_GE(sq, 0);
	struct skiff_port p = {.proto = IPPROTO_TCP, .host_ip = LOCALHOST, .host_port = 5000, .ctr_port = 80};
	EXPECT_EQ(-EADDRINUSE, skiff_ports_reserve(&p, NULL, 1, "/web", "0123abcd", &fds, &err));
	EXPECT_EQ(500, err.status);
	EXPECT_STREQ("driver failed programming external connectivity on endpoint web (0123abcd): Bind for "
		     "127.0.0.1:5000 failed: port is already allocated",
		     err.msg);
	EXPECT_EQ(NULL, fds);
	/* 0.0.0.0 collides with a specific address too */
	p.host_ip = 0;
	EXPECT_EQ(-EADDRINUSE, skiff_ports_reserve(&p, NULL, 1, "web", "0123abcd", &fds, &err));
	EXPECT_STREQ("driver failed programming external connectivity on endpoint web (0123abcd): Bind for "
		     "0.0.0.0:5000 failed: port is already allocated",
		     err.msg);
	/* no error wanted (re-adopting after a restart): the code alone */
	EXPECT_EQ(-EADDRINUSE, skiff_ports_reserve(&p, NULL, 1, "web", "0123abcd", &fds, NULL));
	EXPECT_EQ(NULL, fds);
	/* another protocol is another port */
	p.proto = IPPROTO_UDP;
	ASSERT_EQ(0, skiff_ports_reserve(&p, NULL, 1, "web", "0123abcd", &fds, &err)) TH_LOG("%s", err.msg);
	skiff_ports_release(fds, 1);
	close(sq);
	/* a range all taken */
	uint16_t a = 6000, b = 6001;
	int s1 = squat(SOCK_STREAM, 0, &a), s2 = squat(SOCK_STREAM, 0, &b);
	struct skiff_port r = {.proto = IPPROTO_TCP, .host_port = 6000, .ctr_port = 80};
	uint16_t r_last = 6001;
	EXPECT_EQ(-EADDRINUSE, skiff_ports_reserve(&r, &r_last, 1, "web", "id", &fds, &err));
	EXPECT_STREQ("driver failed programming external connectivity on endpoint web (id): Bind for "
		     "0.0.0.0:6000-6001 failed: port is already allocated",
		     err.msg);
	close(s1);
	close(s2);
	/* an address the host does not have */
	struct skiff_port x = {.proto = IPPROTO_TCP, .host_ip = 0x0a636363, .host_port = 80, .ctr_port = 80};
	EXPECT_EQ(-EADDRNOTAVAIL, skiff_ports_reserve(&x, NULL, 1, "web", "id", &fds, &err));
	EXPECT_STREQ("driver failed programming external connectivity on endpoint web (id): failed to bind host "
		     "port 10.99.99.99:80/tcp: Cannot assign requested address",
		     err.msg);
}

TEST_F(res, ephemeral_and_ranges_written_back)
{
	struct skiff_error err = {0};
	int *fds = NULL;
	uint16_t taken = 7000;
	int sq = squat(SOCK_STREAM, 0, &taken);
	ASSERT_GE(sq, 0);
	struct skiff_port p[] = {
	    {.proto = IPPROTO_TCP, .host_port = 0, .ctr_port = 80},
	    {.proto = IPPROTO_UDP, .host_port = 0, .ctr_port = 53},
	    {.proto = IPPROTO_TCP, .host_port = 7000, .ctr_port = 81},
	    {.proto = IPPROTO_TCP, .host_ip = LOCALHOST, .host_port = 18080, .ctr_port = 82},
	};
	const uint16_t p_last[] = {0, 0, 7005, 18080};
	ASSERT_EQ(0, skiff_ports_reserve(p, p_last, ARRAY_SIZE(p), "web", "id", &fds, &err)) TH_LOG("%s", err.msg);
	EXPECT_GE(p[0].host_port, 1024);
	EXPECT_EQ(bound_port(fds[0]), p[0].host_port);
	EXPECT_GE(p[1].host_port, 1024);
	EXPECT_EQ(bound_port(fds[1]), p[1].host_port);
	EXPECT_EQ(7001, p[2].host_port);
	EXPECT_EQ(18080, p[3].host_port);
	/* reserved: nobody else gets them, not listening: no connection */
	uint16_t again = p[0].host_port;
	EXPECT_LT(squat(SOCK_STREAM, 0, &again), 0);
	EXPECT_EQ(EADDRINUSE, errno);
	again = p[1].host_port;
	EXPECT_LT(squat(SOCK_DGRAM, 0, &again), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(18080), .sin_addr.s_addr = htonl(LOCALHOST)};
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT_LT(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	EXPECT_EQ(ECONNREFUSED, errno);
	close(c);
	EXPECT_TRUE(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	skiff_ports_release(fds, ARRAY_SIZE(p));
	/* released: free again */
	uint16_t free_again = 18080;
	int s = squat(SOCK_STREAM, LOCALHOST, &free_again);
	EXPECT_GE(s, 0);
	close(s);
	close(sq);
	skiff_ports_release(NULL, 0);
}

TEST_F(res, all_or_nothing)
{
	struct skiff_error err = {0};
	int *fds = NULL;
	uint16_t taken = 9000;
	int sq = squat(SOCK_STREAM, 0, &taken);
	ASSERT_GE(sq, 0);
	int before = count_fds();
	struct skiff_port p[] = {
	    {.proto = IPPROTO_TCP, .host_port = 0, .ctr_port = 80},
	    {.proto = IPPROTO_TCP, .host_port = 8999, .ctr_port = 81},
	    {.proto = IPPROTO_TCP, .host_port = 9000, .ctr_port = 82},
	    {.proto = IPPROTO_TCP, .host_port = 9001, .ctr_port = 83},
	};
	EXPECT_EQ(-EADDRINUSE, skiff_ports_reserve(p, NULL, ARRAY_SIZE(p), "web", "id", &fds, &err));
	EXPECT_EQ(before, count_fds());
	EXPECT_EQ(0, p[0].host_port); /* not written back */
	uint16_t a = 8999, b = 9001;
	int s1 = squat(SOCK_STREAM, 0, &a), s2 = squat(SOCK_STREAM, 0, &b);
	EXPECT_GE(s1, 0);
	EXPECT_GE(s2, 0);
	close(s1);
	close(s2);
	close(sq);
	/* two bindings of one request on the same host port conflict with each other */
	struct skiff_port dup[] = {
	    {.proto = IPPROTO_TCP, .host_port = 9100, .ctr_port = 80},
	    {.proto = IPPROTO_TCP, .host_port = 9100, .ctr_port = 81},
	};
	EXPECT_EQ(-EADDRINUSE, skiff_ports_reserve(dup, NULL, 2, "web", "id", &fds, &err));
	EXPECT_EQ(before - 1, count_fds());
	/* nothing to reserve */
	ASSERT_EQ(0, skiff_ports_reserve(NULL, NULL, 0, "web", "id", &fds, &err));
	skiff_ports_release(fds, 0);
}

TEST(json_shapes)
{
	struct skiff_port p[] = {
	    {.proto = IPPROTO_TCP, .host_ip = 0, .host_port = 18080, .ctr_ip = 0x0a7b0002, .ctr_port = 80},
	    {.proto = IPPROTO_UDP, .host_ip = LOCALHOST, .host_port = 5353, .ctr_ip = 0x0a7b0002, .ctr_port = 53},
	    {.proto = IPPROTO_TCP, .host_ip = LOCALHOST, .host_port = 18081, .ctr_ip = 0x0a7b0002, .ctr_port = 80},
	};
	_cleanup_json_ json_t *exposed = json_loads("{\"80/tcp\":{},\"443/tcp\":{},\"53/udp\":{},\"9\":{}}", 0, NULL);
	_cleanup_free_ char *s = dumps(skiff_ports_settings_json(p, ARRAY_SIZE(p), exposed));
	EXPECT_STREQ(
	    "{\"443/tcp\":null,\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"5353\"}],"
	    "\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"18080\"},{\"HostIp\":\"127.0.0.1\",\"HostPort\":"
	    "\"18081\"}],\"9/tcp\":null}",
	    s);
	_cleanup_free_ char *l = dumps(skiff_ports_list_json(p, ARRAY_SIZE(p), exposed));
	EXPECT_STREQ("[{\"PrivatePort\":9,\"Type\":\"tcp\"},"
		     "{\"IP\":\"127.0.0.1\",\"PrivatePort\":53,\"PublicPort\":5353,\"Type\":\"udp\"},"
		     "{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":18080,\"Type\":\"tcp\"},"
		     "{\"IP\":\"127.0.0.1\",\"PrivatePort\":80,\"PublicPort\":18081,\"Type\":\"tcp\"},"
		     "{\"PrivatePort\":443,\"Type\":\"tcp\"}]",
		     l);
	_cleanup_free_ char *e = dumps(skiff_ports_settings_json(NULL, 0, NULL));
	EXPECT_STREQ("{}", e);
	_cleanup_free_ char *el = dumps(skiff_ports_list_json(NULL, 0, NULL));
	EXPECT_STREQ("[]", el);
}

TEST(display_like_docker_cli)
{
	static const struct {
		const char *ports, *want;
	} cases[] = {
	    {"[]", ""},
	    {"[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":18080,\"Type\":\"tcp\"},"
	     "{\"PrivatePort\":443,\"Type\":\"tcp\"}]",
	     "443/tcp, 0.0.0.0:18080->80/tcp"},
	    {"[{\"IP\":\"0.0.0.0\",\"PrivatePort\":8001,\"PublicPort\":8001,\"Type\":\"tcp\"},"
	     "{\"IP\":\"0.0.0.0\",\"PrivatePort\":8000,\"PublicPort\":8000,\"Type\":\"tcp\"}]",
	     "0.0.0.0:8000-8001->8000-8001/tcp"},
	    {"[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":8000,\"Type\":\"tcp\"},"
	     "{\"IP\":\"0.0.0.0\",\"PrivatePort\":81,\"PublicPort\":8001,\"Type\":\"tcp\"}]",
	     "0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/tcp"},
	    {"[{\"PrivatePort\":90,\"Type\":\"tcp\"},{\"PrivatePort\":80,\"Type\":\"tcp\"},"
	     "{\"PrivatePort\":81,\"Type\":\"tcp\"},{\"PrivatePort\":82,\"Type\":\"tcp\"},"
	     "{\"PrivatePort\":53,\"Type\":\"udp\"}]",
	     "80-82/tcp, 53/udp, 90/tcp"},
	    {"[{\"IP\":\"127.0.0.1\",\"PrivatePort\":5000,\"PublicPort\":5000,\"Type\":\"udp\"},"
	     "{\"IP\":\"::\",\"PrivatePort\":5000,\"PublicPort\":5001,\"Type\":\"udp\"}]",
	     "127.0.0.1:5000->5000/udp, [::]:5001->5000/udp"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_json_ json_t *a = json_loads(cases[i].ports, 0, NULL);
		_cleanup_free_ char *s = skiff_ports_display(a);
		EXPECT_STREQ(cases[i].want, s);
	}
	_cleanup_free_ char *none = skiff_ports_display(NULL);
	EXPECT_STREQ("", none);
}

TEST(filters)
{
	struct skiff_error err = {0};
	EXPECT_EQ(0, skiff_ports_filter_check("publish", "80", &err));
	EXPECT_EQ(0, skiff_ports_filter_check("publish", "8000-8080/udp", &err));
	EXPECT_EQ(-EINVAL, skiff_ports_filter_check("publish", "8080:80", &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("filter for 'publish' should not contain ':': 8080:80", err.msg);
	EXPECT_EQ(-EINVAL, skiff_ports_filter_check("expose", "abc", &err));
	EXPECT_STREQ("error while looking up for expose abc: strconv.ParseUint: parsing \"abc\": invalid syntax",
		     err.msg);
	EXPECT_EQ(-EINVAL, skiff_ports_filter_check("publish", "90-80", &err));
	EXPECT_STREQ("error while looking up for publish 90-80: invalid range specified for port: 90-80", err.msg);
	EXPECT_EQ(-EINVAL, skiff_ports_filter_check("publish", "/tcp", &err));
	EXPECT_STREQ("error while looking up for publish /tcp: empty string specified for ports", err.msg);

	_cleanup_json_ json_t *set = json_loads("{\"80/tcp\":[],\"53/udp\":null,\"9000\":{}}", 0, NULL);
	EXPECT_TRUE(skiff_ports_filter_match(set, "80"));
	EXPECT_TRUE(skiff_ports_filter_match(set, "80/tcp"));
	EXPECT_FALSE(skiff_ports_filter_match(set, "80/udp"));
	EXPECT_TRUE(skiff_ports_filter_match(set, "79-81"));
	EXPECT_FALSE(skiff_ports_filter_match(set, "81"));
	EXPECT_TRUE(skiff_ports_filter_match(set, "53/udp"));
	EXPECT_FALSE(skiff_ports_filter_match(set, "53"));
	EXPECT_TRUE(skiff_ports_filter_match(set, "9000/tcp"));
	EXPECT_FALSE(skiff_ports_filter_match(set, "8080:80"));
	EXPECT_FALSE(skiff_ports_filter_match(NULL, "80"));
}

TEST_HARNESS_MAIN
