/* Tests for api/http.c and the matcher in api/router.c: a server on a temp
 * unix socket with a test route table, driven by a plain socket client on
 * the same (single-threaded) event loop. */
#include "kselftest_harness.h"

#include <dirent.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../api/http.c"
#include "../../api/router.c"

/* router.c's skiff_api_routes() wants the real tables; these tests do not use it. */
const struct skiff_route skiff_system_routes[1], skiff_containers_routes[1], skiff_images_routes[1],
	skiff_volumes_routes[1], skiff_exec_routes[1], skiff_archive_routes[1], skiff_stats_routes[1],
	skiff_networks_routes[1], skiff_build_routes[1], skiff_unsupported_routes[1];
const size_t skiff_system_nroutes, skiff_containers_nroutes, skiff_images_nroutes, skiff_volumes_nroutes,
	skiff_exec_nroutes, skiff_archive_nroutes, skiff_stats_nroutes, skiff_networks_nroutes, skiff_build_nroutes,
	skiff_unsupported_nroutes;

static struct skiff_http_req *held;
static int closed_calls;
static struct bufferevent *hijacked;

static void h_echo(struct skiff_http_req *req)
{
	json_t *j = json_pack("{s:s,s:i,s:o,s:o,s:o,s:[bbbb]}", "path", req->path, "minor", req->api_minor, "query",
			      json_incref(req->query), "names", skiff_http_query_all(req, "names"), "params",
			      json_array(), "bools", skiff_http_query_bool(req, "a", false),
			      skiff_http_query_bool(req, "b", false), skiff_http_query_bool(req, "zz", true), skiff_http_query_bool(req, "c", true));
	for (int i = 0; i < SKIFF_HTTP_MAX_PARAMS && req->params[i]; i++)
		json_array_append_new(json_object_get(j, "params"), json_string(req->params[i]));
	skiff_http_reply_json(req, 200, j);
}

static void h_body(struct skiff_http_req *req)
{
	size_t n = evbuffer_get_length(req->body);
	json_t *j = json_pack("{s:i,s:s%}", "len", (int)n, "text", (const char *)evbuffer_pullup(req->body, -1), n);
	skiff_http_reply_json(req, 200, j);
}

static void h_json(struct skiff_http_req *req)
{
	json_t *j = skiff_http_body_json(req, false);
	if (j)
		skiff_http_reply_json(req, 201, j);
}

static void h_spool(struct skiff_http_req *req)
{
	char buf[65536];
	long long total = 0;
	unsigned sum = 0;
	ssize_t n;
	off_t at = lseek(req->body_fd, 0, SEEK_CUR);

	while ((n = read(req->body_fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum += (unsigned char)buf[i];
		total += n;
	}
	skiff_http_reply_json(req, 200, json_pack("{s:I,s:I,s:I,s:b}", "len", total, "sum", (json_int_t)sum, "at",
						  (json_int_t)at, "inmem", evbuffer_get_length(req->body) > 0));
}

static void on_close(struct skiff_http_req *req, void *data)
{
	(void)req;
	(void)data;
	closed_calls++;
	held = NULL;
}

static void h_stream(struct skiff_http_req *req)
{
	skiff_http_stream_start(req, 200, "application/json");
	req->on_close = on_close;
	held = req;
}

static void h_hijack(struct skiff_http_req *req)
{
	hijacked = skiff_http_hijack(req, "application/vnd.docker.raw-stream");
}

static void h_filters(struct skiff_http_req *req)
{
	json_t *f = skiff_http_query_filters(req);
	if (f)
		skiff_http_reply_json(req, 200, f);
}

static void h_ping(struct skiff_http_req *req)
{
	skiff_http_add_header(req, "Cache-Control", "no-cache");
	skiff_http_reply_data(req, 200, "text/plain; charset=utf-8", "OK", 2);
}

static const struct skiff_route test_routes[] = {
	{ .methods = HTTP_GET | HTTP_HEAD, .pattern = "/_ping", .handler = h_ping },
	{ .methods = HTTP_GET, .pattern = "/echo/{a}/x/{b*}", .handler = h_echo },
	{ .methods = HTTP_GET, .pattern = "/echo/{a}", .handler = h_echo },
	{ .methods = HTTP_POST, .pattern = "/body", .handler = h_body },
	{ .methods = HTTP_POST, .pattern = "/json", .handler = h_json },
	{ .methods = HTTP_POST, .pattern = "/spool", .handler = h_spool, .spool_body = true },
	{ .methods = HTTP_GET, .pattern = "/stream", .handler = h_stream },
	{ .methods = HTTP_POST, .pattern = "/hijack", .handler = h_hijack },
	{ .methods = HTTP_GET, .pattern = "/filters", .handler = h_filters },
};

FIXTURE(srv)
{
	struct event_base *base;
	struct skiff_http_server *srv;
	char dir[64];
	char sock[128];
};

FIXTURE_SETUP(srv)
{
	struct skiff_error err = { 0 };

	strcpy(self->dir, "/tmp/skiff-test-http-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->sock, sizeof(self->sock), "%s/s.sock", self->dir);
	self->base = event_base_new();
	ASSERT_NE(NULL, self->base);
	ASSERT_EQ(0, skiff_http_server_new(self->base, NULL, test_routes, ARRAY_SIZE(test_routes), &self->srv, &err));
	char addr[160];
	snprintf(addr, sizeof(addr), "unix://%s", self->sock);
	ASSERT_EQ(0, skiff_http_server_listen(self->srv, addr, &err)) TH_LOG("%s", err.msg);
	held = NULL;
	closed_calls = 0;
	hijacked = NULL;
}

FIXTURE_TEARDOWN(srv)
{
	if (hijacked)
		bufferevent_free(hijacked);
	skiff_http_server_free(self->srv);
	event_base_free(self->base);
	unlink(self->sock);
	rmdir(self->dir);
}

static int client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void spin(struct event_base *base, int ms)
{
	for (int i = 0; i < ms; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* Send everything while running the server's loop (big bodies). */
static void send_all(struct event_base *base, int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		} else {
			event_base_loop(base, EVLOOP_NONBLOCK);
		}
	}
}

/* Runs the loop until the text read from fd contains needle (or 3 s). */
static char *read_until(struct event_base *base, int fd, const char *needle, size_t *total)
{
	static char buf[1 << 20];
	size_t n = 0;

	for (int i = 0; i < 3000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 1) == 1) {
			ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = '\0';
		}
		buf[n] = '\0';
		if (needle && strstr(buf, needle))
			break;
	}
	buf[n] = '\0';
	if (total)
		*total = n;
	return buf;
}

static json_t *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	return b ? json_loads(b + 4, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
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

TEST_F(srv, ping_headers_and_head)
{
	int fd = client(self->sock);
	ASSERT_GE(fd, 0);
	dprintf(fd, "HEAD /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
	char *r = read_until(self->base, fd, "\r\n\r\n", NULL);
	EXPECT_NE(NULL, strstr(r, "HTTP/1.1 200 OK\r\n"));
	EXPECT_NE(NULL, strstr(r, "Api-Version: 1.50\r\n"));
	EXPECT_NE(NULL, strstr(r, "Ostype: linux\r\n"));
	EXPECT_NE(NULL, strstr(r, "Docker-Experimental: false\r\n"));
	EXPECT_NE(NULL, strstr(r, "Cache-Control: no-cache\r\n"));
	EXPECT_NE(NULL, strstr(r, "Content-Length: 2\r\n"));
	EXPECT_NE(NULL, strstr(r, "Server: Docker/"));
	EXPECT_EQ(NULL, strstr(r, "\r\n\r\nOK"));
	/* same connection, GET has the body */
	dprintf(fd, "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
	r = read_until(self->base, fd, "\r\n\r\nOK", NULL);
	EXPECT_NE(NULL, strstr(r, "\r\n\r\nOK"));
	close(fd);
	spin(self->base, 5);
}

TEST_F(srv, versioned_paths_params_and_query)
{
	int fd = client(self->sock);
	dprintf(fd, "GET /v1.41/echo/abc/x/127.0.0.1:5000/bu%%73ybox?a=1&b=x+y%%26z&names=n1&names=n%%3A2&c=No HTTP/1.1\r\n\r\n");
	char *r = read_until(self->base, fd, "}\n", NULL);
	json_t *j = body_of(r);
	ASSERT_NE(NULL, j) TH_LOG("%s", r);
	EXPECT_STREQ("/echo/abc/x/127.0.0.1:5000/busybox", json_string_value(json_object_get(j, "path")));
	EXPECT_EQ(41, json_integer_value(json_object_get(j, "minor")));
	EXPECT_STREQ("abc", json_string_value(json_array_get(json_object_get(j, "params"), 0)));
	EXPECT_STREQ("127.0.0.1:5000/busybox", json_string_value(json_array_get(json_object_get(j, "params"), 1)));
	EXPECT_STREQ("x y&z", skiff_json_str(json_object_get(j, "query"), "b", ""));
	EXPECT_STREQ("n:2", skiff_json_str(json_object_get(j, "query"), "names", ""));
	EXPECT_EQ(2, json_array_size(json_object_get(j, "names")));
	EXPECT_EQ(4, json_array_size(json_object_get(j, "bools")));
	EXPECT_TRUE(json_is_false(json_array_get(json_object_get(j, "bools"), 3)));
	EXPECT_STREQ("n1", json_string_value(json_array_get(json_object_get(j, "names"), 0)));
	/* a=1 true, b="x y&z" true (dockerd: anything not falsy), zz absent -> default */
	EXPECT_TRUE(json_is_true(json_array_get(json_object_get(j, "bools"), 0)));
	EXPECT_TRUE(json_is_true(json_array_get(json_object_get(j, "bools"), 1)));
	EXPECT_TRUE(json_is_true(json_array_get(json_object_get(j, "bools"), 2)));
	json_decref(j);

	dprintf(fd, "GET /echo/zz HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "}\n", NULL);
	j = body_of(r);
	ASSERT_NE(NULL, j);
	EXPECT_EQ(50, json_integer_value(json_object_get(j, "minor")));
	json_decref(j);
	close(fd);
}

TEST_F(srv, version_too_old_too_new_and_404)
{
	int fd = client(self->sock);
	dprintf(fd, "GET /v1.12/echo/a HTTP/1.1\r\n\r\n");
	char *r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "HTTP/1.1 400 Bad Request"));
	EXPECT_NE(NULL, strstr(r, "{\"message\":\"client version 1.12 is too old. Minimum supported API version is "
				  "1.24, please upgrade your client to a newer version\"}"));
	dprintf(fd, "GET /v1.51/echo/a HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "client version 1.51 is too new. Maximum supported API version is 1.50"));
	dprintf(fd, "GET /v1.50/nope HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "HTTP/1.1 404 Not Found"));
	EXPECT_NE(NULL, strstr(r, "{\"message\":\"page not found\"}"));
	dprintf(fd, "DELETE /echo/a HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "404 Not Found"));
	close(fd);
}

TEST_F(srv, keepalive_pipelined_requests)
{
	int fd = client(self->sock);
	/* two requests in one write: answered in order on one connection */
	dprintf(fd, "POST /body HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /body HTTP/1.1\r\n"
		    "Content-Length: 3\r\n\r\nbye");
	char *r = read_until(self->base, fd, "\"bye\"", NULL);
	char *first = strstr(r, "\"hello\"");
	char *second = strstr(r, "\"bye\"");
	ASSERT_NE(NULL, first) TH_LOG("%s", r);
	ASSERT_NE(NULL, second);
	EXPECT_LT(first, second);
	EXPECT_EQ(NULL, strstr(r, "Connection: close"));
	close(fd);
}

TEST_F(srv, chunked_body_and_json)
{
	int fd = client(self->sock);
	dprintf(fd, "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
		    "X-Trailer: 1\r\n\r\n");
	char *r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "\"text\":\"hello world\"")) TH_LOG("%s", r);
	dprintf(fd, "POST /json HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n");
	r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "201 Created"));
	EXPECT_NE(NULL, strstr(r, "{\"a\":1}"));
	dprintf(fd, "POST /json HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}");
	r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "400 Bad Request"));
	EXPECT_NE(NULL, strstr(r, "invalid JSON"));
	close(fd);
}

TEST_F(srv, spooled_body)
{
	size_t len = 3 * 1024 * 1024 + 17;
	char *data = malloc(len);
	unsigned sum = 0;
	char hdr[128], want[64];
	int fd = client(self->sock);

	for (size_t i = 0; i < len; i++) {
		data[i] = (char)(i * 7);
		sum += (unsigned char)data[i];
	}
	snprintf(hdr, sizeof(hdr), "POST /spool HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n", len);
	send_all(self->base, fd, hdr, strlen(hdr));
	send_all(self->base, fd, data, len);
	send_all(self->base, fd, "\r\n0\r\n\r\n", 7);
	char *r = read_until(self->base, fd, "}\n", NULL);
	snprintf(want, sizeof(want), "\"len\":%zu,\"sum\":%u,\"at\":0,\"inmem\":false", len, sum);
	EXPECT_NE(NULL, strstr(r, want)) TH_LOG("%s", r);
	free(data);
	close(fd);
}

TEST_F(srv, body_too_large_is_413)
{
	int fd = client(self->sock);
	dprintf(fd, "POST /body HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n");
	char *r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "413 "));
	EXPECT_NE(NULL, strstr(r, "Connection: close"));
	close(fd);
}

TEST_F(srv, stream_start_write_end)
{
	int fd = client(self->sock);
	dprintf(fd, "GET /stream HTTP/1.1\r\n\r\n");
	/* headers go out before any body */
	char *r = read_until(self->base, fd, "\r\n\r\n", NULL);
	EXPECT_NE(NULL, strstr(r, "Transfer-Encoding: chunked"));
	ASSERT_NE(NULL, held);
	skiff_http_stream_json(held, json_pack("{s:i}", "n", 1));
	r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "8\r\n{\"n\":1}\n\r\n")) TH_LOG("%s", r);
	skiff_http_stream_end(held);
	held = NULL;
	r = read_until(self->base, fd, "0\r\n\r\n", NULL);
	EXPECT_NE(NULL, strstr(r, "0\r\n\r\n"));
	/* connection still usable */
	dprintf(fd, "GET /_ping HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "OK", NULL);
	EXPECT_NE(NULL, strstr(r, "\r\n\r\nOK"));
	EXPECT_EQ(0, closed_calls);
	close(fd);
}

TEST_F(srv, disconnect_during_stream_calls_on_close)
{
	int fd = client(self->sock);
	dprintf(fd, "GET /stream HTTP/1.1\r\n\r\n");
	read_until(self->base, fd, "\r\n\r\n", NULL);
	ASSERT_NE(NULL, held);
	close(fd);
	spin(self->base, 20);
	EXPECT_EQ(1, closed_calls);
	EXPECT_EQ(NULL, held);
	EXPECT_EQ(NULL, self->srv->conns);
}

TEST_F(srv, hijack_keeps_buffered_bytes)
{
	int fd = client(self->sock);
	dprintf(fd, "POST /hijack HTTP/1.1\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\n{}"
		    "raw-bytes");
	char *r = read_until(self->base, fd, "\r\n\r\n", NULL);
	EXPECT_NE(NULL, strstr(r, "HTTP/1.1 101 UPGRADED\r\n"));
	EXPECT_NE(NULL, strstr(r, "Content-Type: application/vnd.docker.raw-stream\r\n"));
	EXPECT_NE(NULL, strstr(r, "Upgrade: tcp\r\n"));
	ASSERT_NE(NULL, hijacked);
	spin(self->base, 5);
	struct evbuffer *in = bufferevent_get_input(hijacked);
	ASSERT_EQ(9, evbuffer_get_length(in));
	EXPECT_EQ(0, memcmp(evbuffer_pullup(in, -1), "raw-bytes", 9));
	bufferevent_write(hijacked, "back", 4);
	r = read_until(self->base, fd, "back", NULL);
	EXPECT_NE(NULL, strstr(r, "back"));
	EXPECT_EQ(NULL, self->srv->conns);
	close(fd);

	/* without Upgrade: plain 200 and raw bytes */
	fd = client(self->sock);
	bufferevent_free(hijacked);
	hijacked = NULL;
	dprintf(fd, "POST /hijack HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "\r\n\r\n", NULL);
	EXPECT_NE(NULL, strstr(r, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n"));
	EXPECT_EQ(NULL, strstr(r, "Content-Length"));
	close(fd);
}

TEST_F(srv, filters_parsing)
{
	int fd = client(self->sock);
	dprintf(fd, "GET /filters?filters=%%7B%%22label%%22%%3A%%7B%%22a%%3Db%%22%%3Atrue%%7D%%2C%%22status%%22%%3A%%5B%%22"
		    "exited%%22%%5D%%7D HTTP/1.1\r\n\r\n");
	char *r = read_until(self->base, fd, "}\n", NULL);
	json_t *j = body_of(r);
	ASSERT_NE(NULL, j) TH_LOG("%s", r);
	EXPECT_STREQ("a=b", json_string_value(json_array_get(json_object_get(j, "label"), 0)));
	EXPECT_STREQ("exited", json_string_value(json_array_get(json_object_get(j, "status"), 0)));
	json_decref(j);
	dprintf(fd, "GET /filters?filters=notjson HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "400 Bad Request"));
	dprintf(fd, "GET /filters HTTP/1.1\r\n\r\n");
	r = read_until(self->base, fd, "{}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "\r\n\r\n{}\n"));
	close(fd);
}

TEST_F(srv, thousand_requests_no_fd_or_conn_leak)
{
	int before = count_fds();
	for (int i = 0; i < 1000; i++) {
		int fd = client(self->sock);
		ASSERT_GE(fd, 0);
		dprintf(fd, "GET /echo/%d HTTP/1.1\r\n\r\n", i);
		char *r = read_until(self->base, fd, "}\n", NULL);
		ASSERT_NE(NULL, strstr(r, "200 OK"));
		close(fd);
		event_base_loop(self->base, EVLOOP_NONBLOCK);
	}
	spin(self->base, 20);
	EXPECT_EQ(before, count_fds());
	EXPECT_EQ(NULL, self->srv->conns);
}

TEST_F(srv, connection_close_and_http10)
{
	int fd = client(self->sock);
	dprintf(fd, "GET /echo/a HTTP/1.0\r\n\r\n");
	size_t n;
	char *r = read_until(self->base, fd, NULL, &n); /* reads until the server closes */
	EXPECT_NE(NULL, strstr(r, "Connection: close"));
	EXPECT_NE(NULL, strstr(r, "\"path\":\"/echo/a\""));
	close(fd);
	spin(self->base, 5);
	EXPECT_EQ(NULL, self->srv->conns);
}

TEST_F(srv, concurrent_connections_while_streaming)
{
	int a = client(self->sock), b = client(self->sock), c = client(self->sock);
	dprintf(a, "GET /stream HTTP/1.1\r\n\r\n");
	char *r = read_until(self->base, a, "\r\n\r\n", NULL);
	EXPECT_NE(NULL, strstr(r, "200 OK"));
	ASSERT_NE(NULL, held);
	dprintf(b, "GET /echo/b HTTP/1.1\r\n\r\n");
	r = read_until(self->base, b, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "\"path\":\"/echo/b\""));
	/* HEAD on a GET-only route: headers with the length, no body */
	dprintf(c, "HEAD /echo/c HTTP/1.1\r\n\r\n");
	r = read_until(self->base, c, "\r\n\r\n", NULL);
	EXPECT_NE(NULL, strstr(r, "200 OK"));
	EXPECT_NE(NULL, strstr(r, "Content-Length: "));
	EXPECT_EQ(NULL, strstr(r, "path"));
	skiff_http_stream_write(held, "tail", 4);
	r = read_until(self->base, a, "tail", NULL);
	EXPECT_NE(NULL, strstr(r, "4\r\ntail\r\n"));
	close(a);
	close(b);
	close(c);
	spin(self->base, 10);
	EXPECT_EQ(1, closed_calls);
	EXPECT_EQ(NULL, self->srv->conns);
}

TEST_F(srv, headers_too_large_is_431)
{
	int fd = client(self->sock);
	char big[4096];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	dprintf(fd, "GET /echo/a HTTP/1.1\r\n");
	for (int i = 0; i < 20; i++)
		dprintf(fd, "X-Big-%d: %s\r\n", i, big);
	char *r = read_until(self->base, fd, "}\n", NULL);
	EXPECT_NE(NULL, strstr(r, "431 Request Header Fields Too Large"));
	close(fd);
	spin(self->base, 5);
	EXPECT_EQ(NULL, self->srv->conns);
}

TEST(route_matcher)
{
	char *buf;
	const char *p[SKIFF_HTTP_MAX_PARAMS];
	bool mm;
	static const struct skiff_route rt[] = {
		{ .methods = HTTP_GET, .pattern = "/images/{name*}/json" },
		{ .methods = HTTP_DELETE, .pattern = "/images/{name*}" },
		{ .methods = HTTP_POST, .pattern = "/containers/{id}/start" },
	};
	const struct skiff_route *r;

	r = skiff_route_find(rt, 3, HTTP_GET, "/images/a/b/c/json", &buf, p, &mm);
	ASSERT_EQ(&rt[0], r);
	EXPECT_STREQ("a/b/c", p[0]);
	free(buf);
	r = skiff_route_find(rt, 3, HTTP_DELETE, "/images/127.0.0.1:5000/x/json", &buf, p, &mm);
	ASSERT_EQ(&rt[1], r);
	EXPECT_STREQ("127.0.0.1:5000/x/json", p[0]);
	free(buf);
	r = skiff_route_find(rt, 3, HTTP_GET, "/containers/x/start", &buf, p, &mm);
	EXPECT_EQ(NULL, r);
	EXPECT_TRUE(mm);
	r = skiff_route_find(rt, 3, HTTP_POST, "/containers//start", &buf, p, &mm);
	EXPECT_EQ(NULL, r);
	r = skiff_route_find(rt, 3, HTTP_HEAD, "/images/x/json", &buf, p, &mm);
	EXPECT_EQ(&rt[0], r);
	free(buf);
}

TEST_HARNESS_MAIN
