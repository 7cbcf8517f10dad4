/* libFuzzer harness for skiffd's HTTP/1.1 request parser (api/http.c and
 * the route matcher, api/router.c). The parser only reads from accepted
 * connections, so each input is written to a fresh connection to a unix
 * socket in $TMPDIR (the run script gives each run its own) and the event
 * loop runs until the server has answered and closed. The routes' handlers
 * exercise the request helpers: query, filters, JSON bodies, spooled
 * bodies, streams and hijack. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "../../api/http.h"

static void h_inspect(struct skiff_http_req *req)
{
	json_t *all = skiff_http_query_all(req, "names");
	json_t *j = json_pack("{s:s?,s:s?,s:O,s:o,s:b,s:i}", "id", req->params[0], "path", req->path, "query",
			      req->query, "all", all, "size", skiff_http_query_bool(req, "size", false), "minor",
			      req->api_minor);
	skiff_http_reply_json(req, 200, j);
}

static void h_list(struct skiff_http_req *req)
{
	json_t *f = skiff_http_query_filters(req);
	if (f)
		skiff_http_reply_json(req, 200, f);
}

static void h_create(struct skiff_http_req *req)
{
	json_t *body = skiff_http_body_json(req, true);
	if (!body)
		return;
	skiff_http_add_header(req, "Location", req->path);
	skiff_http_reply_json(req, 201, body);
}

static void h_spool(struct skiff_http_req *req)
{
	char buf[4096];
	ssize_t n;
	long long total = 0;

	while (req->body_fd >= 0 && (n = read(req->body_fd, buf, sizeof(buf))) > 0)
		total += n;
	skiff_http_reply_json(req, 200, json_pack("{s:I}", "bytes", total));
}

static void h_events(struct skiff_http_req *req)
{
	skiff_http_stream_start(req, 200, "application/json");
	skiff_http_stream_json(req, json_pack("{s:s}", "status", "start"));
	skiff_http_stream_write(req, "x", 1);
	skiff_http_stream_end(req);
}

static void h_attach(struct skiff_http_req *req)
{
	struct bufferevent *bev = skiff_http_hijack(req, "application/vnd.docker.raw-stream");
	if (bev)
		bufferevent_free(bev);
}

static void h_delete(struct skiff_http_req *req)
{
	skiff_http_reply_empty(req, 204);
}

static const struct skiff_route routes[] = {
	{ HTTP_GET, "/containers/json", h_list, false },
	{ HTTP_POST, "/containers/create", h_create, false },
	{ HTTP_GET, "/containers/{id}/json", h_inspect, false },
	{ HTTP_POST, "/containers/{id}/attach", h_attach, false },
	{ HTTP_DELETE, "/containers/{id}", h_delete, false },
	{ HTTP_GET | HTTP_HEAD, "/images/{name*}/json", h_inspect, false },
	{ HTTP_POST, "/build", h_spool, true },
	{ HTTP_GET, "/events", h_events, false },
};

static struct event_base *base;
static struct skiff_http_server *srv;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static char sock_dir[256];

static void cleanup(void)
{
	skiff_http_server_free(srv); /* unlinks the socket */
	rmdir(sock_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct skiff_error err = { 0 };
	const char *tmp = getenv("TMPDIR");
	(void)argc;
	(void)argv;

	snprintf(sock_dir, sizeof(sock_dir), "%s/fuzz-http.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(sock_dir))
		abort();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/api.sock", sock_dir);
	base = event_base_new();
	if (!base || skiff_http_server_new(base, NULL, routes, sizeof(routes) / sizeof(routes[0]), &srv, &err) < 0)
		abort();
	char where[300];
	snprintf(where, sizeof(where), "unix://%s", addr.sun_path);
	if (skiff_http_server_listen(srv, where, &err) < 0) {
		fprintf(stderr, "fuzz-http: %s\n", err.msg);
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	size_t off = 0;
	bool shut = false;
	char buf[65536];

	if (fd < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		abort(); /* the listener's backlog is 512 and we accept each connection before the next */
	/* Feed the input and read replies until the server closes. A bounded
	 * loop: a server that neither answers nor closes is a hang (a bug). */
	for (int round = 0; round < 20000; round++) {
		if (off < size) {
			ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				off = size; /* the server closed early: fine */
		}
		if (off >= size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (r < 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (round > 10000)
				abort();
			poll(&p, 1, 1);
		}
	}
	close(fd);
	event_base_loop(base, EVLOOP_NONBLOCK); /* let the server see the close */
	return 0;
}

/* router.c also stitches the daemon's route table together from every API
 * file; the fuzzer has its own routes, so those tables are empty here. */
#define EMPTY_ROUTES(name)                                            \
	const struct skiff_route skiff_##name##_routes[1];             \
	const size_t skiff_##name##_nroutes = 0;
EMPTY_ROUTES(system)
EMPTY_ROUTES(containers)
EMPTY_ROUTES(images)
EMPTY_ROUTES(volumes)
EMPTY_ROUTES(exec)
EMPTY_ROUTES(archive)
EMPTY_ROUTES(stats)
EMPTY_ROUTES(networks)
EMPTY_ROUTES(build)
EMPTY_ROUTES(unsupported)
