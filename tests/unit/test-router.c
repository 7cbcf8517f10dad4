/* Tests for api/router.c and api/unsupported.c: table order (real routes
 * before the unsupported ones), "{name}" / "{name*}" matching, and the
 * swarm 503 / plugins [] / 501 answers over a real socket. */
#include "kselftest_harness.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../api/http.c"
#include "../../api/router.c"
#include "../../api/unsupported.c"

static void h_sys(struct skiff_http_req *req)
{
	skiff_http_reply_data(req, 200, "text/plain", "sys", 3);
}

static void h_real_stats(struct skiff_http_req *req)
{
	skiff_http_reply_data(req, 200, "text/plain", "stats", 5);
}

static void h_img(struct skiff_http_req *req)
{
	skiff_http_reply_data(req, 200, "text/plain", req->params[0], strlen(req->params[0]));
}

/* stand-ins for api/system.c, containers.c and images.c */
const struct skiff_route skiff_system_routes[] = {
	{ .methods = HTTP_GET | HTTP_HEAD, .pattern = "/_ping", .handler = h_sys },
};
const size_t skiff_system_nroutes = 1;
const struct skiff_route skiff_containers_routes[] = {
	{ .methods = HTTP_GET, .pattern = "/containers/{id}/stats", .handler = h_real_stats },
};
const size_t skiff_containers_nroutes = 1;
const struct skiff_route skiff_images_routes[] = {
	{ .methods = HTTP_GET, .pattern = "/images/{name*}/json", .handler = h_img },
	{ .methods = HTTP_POST, .pattern = "/images/{name*}/tag", .handler = h_img },
	{ .methods = HTTP_DELETE, .pattern = "/images/{name*}", .handler = h_img },
};
const size_t skiff_images_nroutes = 3;
/* tables of routes this test does not exercise */
const struct skiff_route skiff_volumes_routes[1], skiff_exec_routes[1], skiff_archive_routes[1],
	skiff_stats_routes[1], skiff_networks_routes[1], skiff_build_routes[1];
const size_t skiff_volumes_nroutes, skiff_exec_nroutes, skiff_archive_nroutes, skiff_stats_nroutes,
	skiff_networks_nroutes, skiff_build_nroutes;

static const struct skiff_route *find(int method, const char *path, const char **p0)
{
	static char *buf;
	static const char *params[SKIFF_HTTP_MAX_PARAMS];
	bool mm;
	size_t n;
	const struct skiff_route *all = skiff_api_routes(&n), *r;

	free(buf);
	r = skiff_route_find(all, n, method, path, &buf, params, &mm);
	if (p0)
		*p0 = params[0];
	return r;
}

TEST(table_order)
{
	size_t n;
	const struct skiff_route *all = skiff_api_routes(&n);
	ASSERT_EQ(1 + 1 + 3 + skiff_unsupported_nroutes, n);
	EXPECT_STREQ("/_ping", all[0].pattern);
	EXPECT_STREQ("/containers/{id}/stats", all[1].pattern);
	EXPECT_STREQ("/images/{name*}/json", all[2].pattern);
	EXPECT_TRUE(skiff_unsupported_routes[0].handler == all[5].handler);
	EXPECT_EQ(all, skiff_api_routes(&n)); /* built once */
}

TEST(real_routes_win_and_params)
{
	const char *p0 = NULL;
	EXPECT_TRUE(h_real_stats == find(HTTP_GET, "/containers/abc/stats", NULL)->handler);
	EXPECT_TRUE(h_exec == find(HTTP_POST, "/containers/abc/exec", NULL)->handler);
	EXPECT_TRUE(h_img == find(HTTP_GET, "/images/127.0.0.1:5000/busybox/json", &p0)->handler);
	EXPECT_STREQ("127.0.0.1:5000/busybox", p0);
	EXPECT_TRUE(h_img == find(HTTP_DELETE, "/images/a/b", &p0)->handler);
	EXPECT_STREQ("a/b", p0);
	EXPECT_TRUE(h_swarm == find(HTTP_POST, "/swarm/init", NULL)->handler);
	EXPECT_TRUE(h_swarm == find(HTTP_GET, "/services", NULL)->handler);
	EXPECT_TRUE(h_plugins == find(HTTP_GET, "/plugins", NULL)->handler);
	EXPECT_TRUE(h_volumes == find(HTTP_GET, "/volumes/myvol", NULL)->handler);
	EXPECT_TRUE(h_commit == find(HTTP_POST, "/commit", NULL)->handler);
	EXPECT_EQ(NULL, find(HTTP_POST, "/networks/create", NULL)); /* api/networks.c now */
	EXPECT_TRUE(h_checkpoints == find(HTTP_DELETE, "/containers/x/checkpoints/cp1", NULL)->handler);
	EXPECT_EQ(NULL, find(HTTP_GET, "/containers/x/nothing", NULL));
	EXPECT_EQ(NULL, find(HTTP_POST, "/plugins", NULL));
}

static char *ask(struct event_base *base, const char *sock, const char *request)
{
	static char buf[8192];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return NULL;
	dprintf(fd, "%s", request);
	buf[0] = '\0';
	for (int i = 0; i < 2000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 1) == 1) {
			ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = '\0';
		}
	}
	close(fd);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return buf;
}

TEST(unsupported_answers)
{
	char dir[] = "/tmp/skiff-test-router-XXXXXX", sock[128], addr[160];
	struct skiff_error err = { 0 };
	struct skiff_http_server *srv = NULL;
	struct event_base *base = event_base_new();
	size_t n;
	const struct skiff_route *all = skiff_api_routes(&n);
	char *r;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s", dir);
	snprintf(addr, sizeof(addr), "unix://%s", sock);
	ASSERT_EQ(0, skiff_http_server_new(base, NULL, all, n, &srv, &err));
	ASSERT_EQ(0, skiff_http_server_listen(srv, addr, &err));

	r = ask(base, sock, "GET /v1.50/swarm HTTP/1.1\r\nConnection: close\r\n\r\n");
	EXPECT_NE(NULL, strstr(r, "503 Service Unavailable"));
	EXPECT_NE(NULL, strstr(r, "{\"message\":\"This node is not a swarm manager. Use \\\"docker swarm init\\\" or "
				  "\\\"docker swarm join\\\" to connect this node to swarm and try again.\"}"));
	r = ask(base, sock, "GET /v1.50/plugins HTTP/1.1\r\nConnection: close\r\n\r\n");
	EXPECT_NE(NULL, strstr(r, "200 OK"));
	EXPECT_NE(NULL, strstr(r, "\r\n\r\n[]\n"));
	r = ask(base, sock, "GET /v1.50/volumes HTTP/1.1\r\nConnection: close\r\n\r\n");
	EXPECT_NE(NULL, strstr(r, "501 Not Implemented"));
	EXPECT_NE(NULL, strstr(r, "skiff does not implement volumes yet"));
	r = ask(base, sock, "GET /v1.50/images/127.0.0.1:5000/busybox/json HTTP/1.1\r\nConnection: close\r\n\r\n");
	EXPECT_NE(NULL, strstr(r, "\r\n\r\n127.0.0.1:5000/busybox"));

	skiff_http_server_free(srv);
	event_base_free(base);
	rmdir(dir);
}

TEST_HARNESS_MAIN
