/* The HTTP/1.1 server skiffd speaks the Docker Engine API with: unix socket
 * (and later TCP+TLS) listeners on libevent, keep-alive, chunked request and
 * response bodies, and connection hijack for attach/exec (101 UPGRADED).
 * Handlers reply now or later (wait, worker-pool completions) through the
 * request object; one request is in flight per connection. */
#ifndef SKIFF_API_HTTP_H
#define SKIFF_API_HTTP_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../userspace/lib/error.h"

enum skiff_http_method { HTTP_GET = 1, HTTP_HEAD = 2, HTTP_POST = 4, HTTP_PUT = 8, HTTP_DELETE = 16 };

#define SKIFF_API_VERSION "1.50"
#define SKIFF_API_MIN_VERSION "1.24"
#define SKIFF_HTTP_MAX_PARAMS 4
#define SKIFF_ENGINE_VERSION "0.1.0" /* /version, /info ServerVersion, Server: header */

struct skiff_http_req;
struct skiff_daemon;

typedef void (*skiff_http_handler)(struct skiff_http_req *req);

/* One row of the route table (api/router.c). The pattern matches the path
 * after the optional "/v1.xx" prefix; "{name}" segments capture into
 * req->params[i] in order. A "{name*}" final segment captures the rest of
 * the path including slashes (image names like 127.0.0.1:5000/busybox). */
struct skiff_route {
	int methods; /* bitmask of enum skiff_http_method */
	const char *pattern;
	skiff_http_handler handler;
	bool spool_body; /* big bodies (tarballs): spooled to req->body_fd, not held in memory */
};

struct skiff_http_req {
	int method;
	char *path;        /* decoded path without the version prefix and query */
	int api_minor;     /* 50 for /v1.50/..., SKIFF default when unversioned */
	json_t *query;     /* object: name -> string (last value wins); never NULL */
	json_t *headers;   /* object: lower-case name -> string; never NULL */
	struct evbuffer *body; /* whole body, when the route does not spool */
	int body_fd;       /* spooled body (unlinked temp file, offset 0) or -1 */
	const char *params[SKIFF_HTTP_MAX_PARAMS];
	struct skiff_daemon *daemon;
	void *conn;        /* owned by http.c */
	/* Called once if the client goes away before the handler finished
	 * (streams, waits). After it the request must not be used. */
	void (*on_close)(struct skiff_http_req *req, void *data);
	void *on_close_data;
};

struct skiff_http_server;

int skiff_http_server_new(struct event_base *base, struct skiff_daemon *d, const struct skiff_route *routes,
			  size_t nroutes, struct skiff_http_server **out, struct skiff_error *err);
/* addr: "unix:///run/skiff/skiff.sock" (mode 0660, stale socket replaced). */
int skiff_http_server_listen(struct skiff_http_server *srv, const char *addr, struct skiff_error *err);
void skiff_http_server_free(struct skiff_http_server *srv);
/* Closes the listeners (and unlinks unix sockets); open connections stay. */
void skiff_http_server_stop_listening(struct skiff_http_server *srv);

/* Route matching (api/router.c): first row whose pattern matches path and
 * whose methods include method (HEAD also matches GET rows). Captured
 * params point into *param_buf (malloc'd, caller frees). Returns NULL on a
 * miss; *method_mismatch tells whether some pattern matched with another
 * method. */
const struct skiff_route *skiff_route_find(const struct skiff_route *routes, size_t n, int method, const char *path,
					   char **param_buf, const char *params[SKIFF_HTTP_MAX_PARAMS],
					   bool *method_mismatch);

/* Query helpers */
const char *skiff_http_query(const struct skiff_http_req *req, const char *name); /* NULL if absent */
/* Every value of a repeated key (names=a&names=b) as a new JSON array of
 * strings (empty when absent); the caller json_decref()s it. */
json_t *skiff_http_query_all(const struct skiff_http_req *req, const char *name);
/* dockerd's rule: absent -> def; "", "0", "no", "false", "none" -> false; else true */
bool skiff_http_query_bool(const struct skiff_http_req *req, const char *name, bool def);
/* Parses the body as JSON. Empty body -> {} when allow_empty. On failure
 * replies 400 itself and returns NULL. */
json_t *skiff_http_body_json(struct skiff_http_req *req, bool allow_empty);
/* Parses a JSON query value like filters={"label":{"a=b":true}} into an
 * object name -> array of strings (also accepts the old {"k":["v"]} form).
 * On malformed input replies 400 itself and returns NULL. */
json_t *skiff_http_query_filters(struct skiff_http_req *req);
/* The parser behind it: NULL or "" -> {}; NULL on error with errbuf set. */
json_t *skiff_http_filters_parse(const char *s, char *errbuf, size_t errlen);

/* Complete replies: each ends the request. */
void skiff_http_reply_json(struct skiff_http_req *req, int status, json_t *body); /* steals body */
void skiff_http_reply_error(struct skiff_http_req *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void skiff_http_reply_skiff_error(struct skiff_http_req *req, const struct skiff_error *err);
void skiff_http_reply_empty(struct skiff_http_req *req, int status); /* 204, 304, 201 ... */
void skiff_http_reply_data(struct skiff_http_req *req, int status, const char *content_type, const void *data,
			   size_t len);
/* Sends a file (fd is taken and closed) as the whole body. */
void skiff_http_reply_fd(struct skiff_http_req *req, int status, const char *content_type, int fd);
/* Extra response header for the next reply/stream start. */
void skiff_http_add_header(struct skiff_http_req *req, const char *name, const char *value);

/* Streaming replies (chunked): start sends the status line and headers at
 * once (Docker clients wait for them, e.g. /wait before /start). */
void skiff_http_stream_start(struct skiff_http_req *req, int status, const char *content_type);
void skiff_http_stream_write(struct skiff_http_req *req, const void *data, size_t len);
void skiff_http_stream_json(struct skiff_http_req *req, json_t *j); /* steals; writes j + "\n" */
void skiff_http_stream_end(struct skiff_http_req *req);
/* Bytes queued to the client and not yet sent (for back-pressure). */
size_t skiff_http_stream_pending(struct skiff_http_req *req);

/* Hijack: answers "101 UPGRADED" (Connection: Upgrade, Upgrade: tcp) when
 * the client asked for an upgrade, else "200 OK" with content_type and no
 * length, then hands the raw connection to the caller. Bytes the client sent
 * after the request are already in the returned bufferevent's input. The
 * request object is freed; the caller owns the bufferevent (BEV_OPT_CLOSE_ON_FREE). */
struct bufferevent *skiff_http_hijack(struct skiff_http_req *req, const char *content_type);

/* Docker's multiplexed stream header: stream 0 stdin, 1 stdout, 2 stderr. */
void skiff_http_mux_header(unsigned char hdr[8], int stream, size_t len);

#endif
