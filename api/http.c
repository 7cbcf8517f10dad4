/* skiffd's HTTP/1.1 server on libevent bufferevents: a small request parser
 * (request line, headers, Content-Length and chunked bodies, spooling to a
 * temp file), keep-alive with pipelined requests handled one at a time per
 * connection, streaming replies and connection hijack. evhttp is not used
 * because it cannot hand a connection over cleanly for attach/exec. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/listener.h>

#include "../userspace/daemon/daemon.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/json.h"

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_MEMORY_BODY (16 * 1024 * 1024)

enum conn_state { C_HEAD, C_BODY, C_HANDLING };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct http_conn;

/* The public request is the first member so handlers' pointers convert back. */
struct http_req {
	struct skiff_http_req pub;
	struct http_conn *conn;
	const struct skiff_route *route;
	bool method_mismatch;
	char *param_buf;
	json_t *query_all; /* name -> array of every value */
	struct evbuffer *extra_headers;
	char *version_error;
	int http_minor;
	bool keep_alive;
	bool head; /* HEAD: headers only */
	/* request body */
	bool chunked;
	uint64_t remaining;
	int chunk_state;
	/* response */
	bool started;      /* status line sent (stream) */
	bool chunked_resp; /* stream framing is chunked (HTTP/1.1) */
};

struct http_conn {
	struct skiff_http_server *srv;
	struct bufferevent *bev; /* NULL once the client is gone or hijacked */
	struct http_conn *prev, *next;
	struct http_req *req;
	int state;
	size_t header_bytes;
	bool close_after; /* close once the output drained */
	int busy;         /* inside process_input: defer freeing */
	bool free_pending;
};

struct http_listener {
	struct evconnlistener *l;
	char *unix_path;
	struct http_listener *next;
};

struct skiff_http_server {
	struct event_base *base;
	struct skiff_daemon *daemon;
	const struct skiff_route *routes;
	size_t nroutes;
	struct http_listener *listeners;
	struct http_conn *conns;
};

static void process_input(struct http_conn *c);
static void conn_maybe_free(struct http_conn *c);

static const struct {
	int code;
	const char *text;
} status_texts[] = {
	{ 100, "Continue" },
	{ 101, "UPGRADED" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 204, "No Content" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 409, "Conflict" },
	{ 411, "Length Required" },
	{ 413, "Request Entity Too Large" },
	{ 416, "Requested Range Not Satisfiable" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
};

static const struct {
	const char *name;
	int method;
} methods[] = {
	{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST }, { "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE },
};

static const char *status_text(int code)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_texts); i++)
		if (status_texts[i].code == code)
			return status_texts[i].text;
	return "Unknown";
}

static struct http_req *priv(struct skiff_http_req *req)
{
	return (struct http_req *)req;
}

/* ---- decoding ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* In place; '+' means space only in query strings. */
static void url_decode(char *s, bool plus_space)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else if (*s == '+' && plus_space) {
			*o++ = ' ';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static void parse_query(struct http_req *r, char *qs)
{
	char *save = NULL;
	for (char *kv = strtok_r(qs, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		char *val = kv + strlen(kv);
		json_t *all;
		if (eq) {
			*eq = '\0';
			val = eq + 1;
		}
		url_decode(kv, true);
		url_decode(val, true);
		if (!*kv)
			continue;
		json_object_set_new(r->pub.query, kv, json_string(val));
		all = json_object_get(r->query_all, kv);
		if (!all) {
			all = json_array();
			json_object_set_new(r->query_all, kv, all);
		}
		json_array_append_new(all, json_string(val));
	}
}

/* "/v1.50/containers/json" -> api_minor 50, path "/containers/json".
 * Docker answers versions outside [min, current] with 400. */
static void strip_version(struct http_req *r, char *path)
{
	unsigned major, minor;
	int n = 0;
	char *rest;

	r->pub.api_minor = 50;
	if (strncmp(path, "/v", 2) || !isdigit((unsigned char)path[2]))
		goto plain;
	if (sscanf(path + 2, "%u.%u%n", &major, &minor, &n) != 2 || (path[2 + n] != '/' && path[2 + n] != '\0'))
		goto plain;
	rest = path + 2 + n;
	if (major < 1 || (major == 1 && minor < 24)) {
		if (asprintf(&r->version_error,
			     "client version %u.%u is too old. Minimum supported API version is %s, please upgrade "
			     "your client to a newer version",
			     major, minor, SKIFF_API_MIN_VERSION) < 0)
			r->version_error = NULL;
	} else if (major > 1 || minor > 50) {
		if (asprintf(&r->version_error, "client version %u.%u is too new. Maximum supported API version is %s",
			     major, minor, SKIFF_API_VERSION) < 0)
			r->version_error = NULL;
	}
	r->pub.api_minor = major == 1 ? (int)minor : 50;
	r->pub.path = strdup(*rest ? rest : "/");
	return;
plain:
	r->pub.path = strdup(path);
}

/* ---- request objects ---- */

static struct http_req *req_new(struct http_conn *c)
{
	struct http_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->conn = c;
	r->pub.conn = c;
	r->pub.daemon = c->srv->daemon;
	r->pub.body_fd = -1;
	r->pub.query = json_object();
	r->pub.headers = json_object();
	r->pub.body = evbuffer_new();
	r->query_all = json_object();
	r->extra_headers = evbuffer_new();
	if (!r->pub.query || !r->pub.headers || !r->pub.body || !r->query_all || !r->extra_headers) {
		json_decref(r->pub.query);
		json_decref(r->pub.headers);
		json_decref(r->query_all);
		if (r->pub.body)
			evbuffer_free(r->pub.body);
		if (r->extra_headers)
			evbuffer_free(r->extra_headers);
		free(r);
		return NULL;
	}
	return r;
}

static void req_free(struct http_req *r)
{
	if (!r)
		return;
	free(r->pub.path);
	json_decref(r->pub.query);
	json_decref(r->pub.headers);
	json_decref(r->query_all);
	evbuffer_free(r->pub.body);
	evbuffer_free(r->extra_headers);
	if (r->pub.body_fd >= 0)
		close(r->pub.body_fd);
	free(r->param_buf);
	free(r->version_error);
	free(r);
}

/* ---- connections ---- */

static void conn_unlink(struct http_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (c->srv->conns == c)
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void conn_free(struct http_conn *c)
{
	if (c->busy) {
		c->free_pending = true;
		return;
	}
	conn_unlink(c);
	if (c->bev)
		bufferevent_free(c->bev);
	req_free(c->req);
	free(c);
}

/* Called when the client is gone: a handler still holding the request
 * either hears it through on_close (and must drop it) or, without on_close,
 * keeps a zombie request whose replies go nowhere until it finishes. */
static void conn_gone(struct http_conn *c)
{
	struct http_req *r = c->req;

	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (r && c->state == C_HANDLING) {
		if (r->pub.on_close) {
			void (*cb)(struct skiff_http_req *, void *) = r->pub.on_close;
			r->pub.on_close = NULL;
			c->req = NULL;
			cb(&r->pub, r->pub.on_close_data);
			req_free(r);
		} else {
			return; /* freed when the handler finishes */
		}
	}
	conn_free(c);
}

static void conn_maybe_free(struct http_conn *c)
{
	if (c->free_pending && !c->busy) {
		c->free_pending = false;
		conn_free(c);
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	(void)bev;
	if (c->close_after && !c->req)
		conn_free(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	if (what & BEV_EVENT_EOF && !(what & BEV_EVENT_ERROR) && c->state != C_HANDLING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* half-closed client still waiting for the replies we queued */
		req_free(c->req);
		c->req = NULL;
		c->state = C_HEAD;
		c->close_after = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_gone(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process_input(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct skiff_http_server *srv = arg;
	struct http_conn *c;
	(void)l;
	(void)sa;
	(void)salen;

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- response framing ---- */

static bool want_close(struct http_req *r)
{
	return !r->keep_alive || r->conn->close_after;
}

/* len >= 0: Content-Length; -1: chunked stream (or close-delimited on
 * HTTP/1.0); -2: no length at all (204/304). */
static void write_head(struct http_req *r, int status, const char *ctype, long long len)
{
	struct http_conn *c = r->conn;
	struct evbuffer *out;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	if (!c->bev)
		return;
	out = bufferevent_get_output(c->bev);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nApi-Version: %s\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
			    "Server: Docker/%s (linux)\r\nDate: %s\r\n",
			    status, status_text(status), SKIFF_API_VERSION, SKIFF_ENGINE_VERSION, date);
	if (ctype)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
	evbuffer_add_buffer(out, r->extra_headers);
	if (len >= 0) {
		evbuffer_add_printf(out, "Content-Length: %lld\r\n", len);
	} else if (len == -1) {
		if (r->http_minor >= 1) {
			r->chunked_resp = true;
			evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
		} else {
			r->keep_alive = false; /* the end of the body is the end of the connection */
		}
	}
	if (want_close(r))
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add(out, "\r\n", 2);
}

/* The request is answered: free it and move on to the next pipelined one. */
static void finish(struct http_req *r)
{
	struct http_conn *c = r->conn;

	if (c->req == r)
		c->req = NULL;
	if (!r->keep_alive)
		c->close_after = true;
	req_free(r);
	c->state = C_HEAD;
	c->header_bytes = 0;
	if (!c->bev) { /* client gone while a handler without on_close ran */
		conn_free(c);
		return;
	}
	if (c->close_after) {
		bufferevent_disable(c->bev, EV_READ);
		if (!evbuffer_get_length(bufferevent_get_output(c->bev)))
			conn_free(c);
		return;
	}
	if (!c->busy && evbuffer_get_length(bufferevent_get_input(c->bev)))
		process_input(c);
}

static void reply_raw(struct http_req *r, int status, const char *ctype, const void *data, size_t len)
{
	struct http_conn *c = r->conn;
	bool nobody = status == 204 || status == 304 || (status < 200);

	write_head(r, status, nobody ? NULL : ctype, nobody ? -2 : (long long)len);
	if (c->bev && !r->head && !nobody && len)
		evbuffer_add(bufferevent_get_output(c->bev), data, len);
	finish(r);
}

/* ---- request parsing ---- */

static void early_error(struct http_conn *c, int status, const char *msg)
{
	struct http_req *r = c->req;
	char *body = NULL;
	json_t *j = json_pack("{s:s}", "message", msg);

	r->keep_alive = false;
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	c->state = C_HANDLING;
	if (body) {
		size_t n = strlen(body);
		body[n] = '\n';
		reply_raw(r, status, "application/json", body, n + 1);
	} else {
		reply_raw(r, status, "application/json", "", 0);
	}
	free(body);
}

static int lookup_method(const char *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (!strcmp(methods[i].name, m))
			return methods[i].method;
	return 0;
}

static int spool_open(struct http_conn *c)
{
	struct skiff_daemon *d = c->srv->daemon;
	char dir[4096];
	int fd = -1;

	if (d && d->data_root) {
		snprintf(dir, sizeof(dir), "%s/tmp", d->data_root);
		mkdir(dir, 0700);
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		char tmpl[] = "/var/tmp/skiff-body-XXXXXX";
		fd = mkostemp(tmpl, O_CLOEXEC);
		if (fd >= 0)
			unlink(tmpl);
	}
	return fd;
}

/* Headers are complete: decide routing and body framing. Returns false
 * when an error reply was sent. */
static bool headers_done(struct http_conn *c)
{
	struct http_req *r = c->req;
	const char *te = skiff_json_str(r->pub.headers, "transfer-encoding", NULL);
	const char *cl = skiff_json_str(r->pub.headers, "content-length", NULL);
	const char *conn = skiff_json_str(r->pub.headers, "connection", NULL);
	const char *expect = skiff_json_str(r->pub.headers, "expect", NULL);

	if (conn && strcasestr(conn, "close"))
		r->keep_alive = false;
	else if (conn && strcasestr(conn, "keep-alive"))
		r->keep_alive = true;

	r->route = skiff_route_find(c->srv->routes, c->srv->nroutes, r->head ? HTTP_HEAD : r->pub.method, r->pub.path,
				    &r->param_buf, r->pub.params, &r->method_mismatch);

	if (te && strcasestr(te, "chunked")) {
		r->chunked = true;
		r->chunk_state = CH_SIZE;
	} else if (cl) {
		char *end;
		unsigned long long n;
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno || *end || end == cl) {
			early_error(c, 400, "invalid Content-Length");
			return false;
		}
		r->remaining = n;
	}
	if (r->route && r->route->spool_body && !r->version_error) {
		r->pub.body_fd = spool_open(c);
		if (r->pub.body_fd < 0) {
			early_error(c, 500, "cannot create a temporary file for the request body");
			return false;
		}
	} else if (!r->chunked && r->remaining > MAX_MEMORY_BODY) {
		early_error(c, 413, "request body too large");
		return false;
	}
	if (expect && !strcasecmp(expect, "100-continue") && (r->chunked || r->remaining))
		evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
	c->state = C_BODY;
	return true;
}

/* Returns 1 when headers are complete, 0 when more input is needed, -1 on
 * an error reply. */
static int parse_head(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n;
	char *line;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
		c->header_bytes += n + 2;
		if (!c->req) {
			char method[16], target[8192], proto[16];
			char *q;
			if (n == 0) { /* tolerate blank lines between requests */
				free(line);
				continue;
			}
			c->req = req_new(c);
			if (!c->req) {
				free(line);
				return -1;
			}
			if (n >= sizeof(target) ||
			    sscanf(line, "%15s %8191s %15s", method, target, proto) != 3 ||
			    strncmp(proto, "HTTP/1.", 7)) {
				free(line);
				early_error(c, 400, "malformed request line");
				return -1;
			}
			free(line);
			c->req->pub.method = lookup_method(method);
			c->req->head = c->req->pub.method == HTTP_HEAD;
			c->req->http_minor = proto[7] == '0' ? 0 : 1;
			c->req->keep_alive = c->req->http_minor >= 1;
			q = strchr(target, '?');
			if (q) {
				*q++ = '\0';
				parse_query(c->req, q);
			}
			url_decode(target, false);
			strip_version(c->req, target);
			if (!c->req->pub.path) {
				early_error(c, 500, "out of memory");
				return -1;
			}
			continue;
		}
		if (n == 0) {
			free(line);
			return headers_done(c) ? 1 : -1;
		}
		if (c->header_bytes > MAX_HEADER_BYTES) {
			free(line);
			early_error(c, 431, "request headers too large");
			return -1;
		}
		char *colon = strchr(line, ':');
		if (colon) {
			char *v = colon + 1;
			json_t *old;
			*colon = '\0';
			for (char *p = line; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			while (*v == ' ' || *v == '\t')
				v++;
			for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
				e[-1] = '\0';
			old = json_object_get(c->req->pub.headers, line);
			if (json_is_string(old)) {
				char *joined;
				if (asprintf(&joined, "%s, %s", json_string_value(old), v) >= 0) {
					json_object_set_new(c->req->pub.headers, line, json_string(joined));
					free(joined);
				}
			} else {
				json_object_set_new(c->req->pub.headers, line, json_string(v));
			}
		}
		free(line);
	}
	if (c->header_bytes + evbuffer_get_length(in) > MAX_HEADER_BYTES) {
		if (!c->req)
			c->req = req_new(c);
		if (c->req)
			early_error(c, 431, "request headers too large");
		return -1;
	}
	return 0;
}

/* Moves up to len bytes of body to memory or the spool file. */
static int body_take(struct http_conn *c, size_t len)
{
	struct http_req *r = c->req;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (r->pub.body_fd >= 0) {
		while (len) {
			/* writev straight from the buffer's chains, no pullup copy */
			int w = evbuffer_write_atmost(in, r->pub.body_fd, (ev_ssize_t)len);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				early_error(c, 500, "writing the request body to disk failed");
				return -1;
			}
			len -= (size_t)w;
		}
		return 0;
	}
	if (evbuffer_get_length(r->pub.body) + len > MAX_MEMORY_BODY) {
		early_error(c, 413, "request body too large");
		return -1;
	}
	evbuffer_remove_buffer(in, r->pub.body, len);
	return 0;
}

/* Returns 1 when the body is complete, 0 for more input, -1 on error reply. */
static int parse_body(struct http_conn *c)
{
	struct http_req *r = c->req;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (!r->chunked) {
		size_t avail = evbuffer_get_length(in);
		size_t take = r->remaining < avail ? (size_t)r->remaining : avail;
		if (take && body_take(c, take) < 0)
			return -1;
		r->remaining -= take;
		return r->remaining == 0;
	}
	for (;;) {
		char *line;
		size_t n;
		switch (r->chunk_state) {
		case CH_SIZE:
			line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
			if (!line)
				return evbuffer_get_length(in) > 1024 ? (early_error(c, 400, "malformed chunk"), -1) : 0;
			{
				char *end;
				errno = 0;
				r->remaining = strtoull(line, &end, 16);
				bool bad = errno || end == line || (*end && *end != ';' && *end != ' ');
				free(line);
				if (bad) {
					early_error(c, 400, "malformed chunk size");
					return -1;
				}
			}
			r->chunk_state = r->remaining ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t avail = evbuffer_get_length(in);
			size_t take = r->remaining < avail ? (size_t)r->remaining : avail;
			if (!take)
				return 0;
			if (body_take(c, take) < 0)
				return -1;
			r->remaining -= take;
			if (r->remaining)
				return 0;
			r->chunk_state = CH_DATA_END;
			break;
		}
		case CH_DATA_END:
			line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
			if (!line)
				return 0;
			free(line);
			r->chunk_state = CH_SIZE;
			break;
		case CH_TRAILER:
			line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
			if (!line)
				return 0;
			free(line);
			if (n == 0)
				return 1;
			break;
		}
	}
}

static void dispatch(struct http_conn *c)
{
	struct http_req *r = c->req;

	c->state = C_HANDLING;
	if (r->pub.body_fd >= 0 && lseek(r->pub.body_fd, 0, SEEK_SET) < 0) {
		skiff_http_reply_error(&r->pub, 500, "rewinding the request body failed");
		return;
	}
	if (r->version_error) {
		skiff_http_reply_error(&r->pub, 400, "%s", r->version_error);
		return;
	}
	if (!r->route) {
		/* dockerd answers a wrong method like an unknown path */
		skiff_http_reply_error(&r->pub, 404, "page not found");
		return;
	}
	if (r->head && !(r->route->methods & HTTP_HEAD))
		r->pub.method = HTTP_GET; /* HEAD on a GET route: same handler, body dropped */
	r->route->handler(&r->pub);
}

static void process_input(struct http_conn *c)
{
	c->busy++;
	while (c->bev && !c->close_after && c->state != C_HANDLING) {
		int rc;
		if (c->state == C_HEAD) {
			rc = parse_head(c);
			if (rc <= 0)
				break;
		}
		if (c->state == C_BODY) {
			rc = parse_body(c);
			if (rc <= 0)
				break;
			dispatch(c);
		}
	}
	c->busy--;
	conn_maybe_free(c);
}

/* ---- server ---- */

int skiff_http_server_new(struct event_base *base, struct skiff_daemon *d, const struct skiff_route *routes,
			  size_t nroutes, struct skiff_http_server **out, struct skiff_error *err)
{
	struct skiff_http_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "creating the HTTP server: out of memory");
	srv->base = base;
	srv->daemon = d;
	srv->routes = routes;
	srv->nroutes = nroutes;
	*out = srv;
	return 0;
}

static void listener_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and friends: libevent keeps the listener; the next accept retries */
}

static int listen_unix(struct skiff_http_server *srv, const char *path, struct skiff_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct http_listener *hl;
	struct evconnlistener *l;
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path))
		return skiff_error_set(err, SKIFF_EINVAL, ENAMETOOLONG, "socket path '%s' is too long", path);
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		int probe;
		if (!S_ISSOCK(st.st_mode))
			return skiff_error_set(err, SKIFF_EINVAL, EEXIST, "'%s' exists and is not a socket", path);
		/* a live daemon answers: do not steal its socket */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			return skiff_error_set(err, SKIFF_ECONFLICT, EADDRINUSE,
					       "another daemon is listening on '%s'", path);
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating socket '%s'", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "binding '%s'", path);
	if (chmod(path, 0660) < 0 || listen(fd, 512) < 0) {
		int e = errno;
		unlink(path);
		return skiff_error_sys(err, SKIFF_EINTERNAL, e, "listening on '%s'", path);
	}
	l = evconnlistener_new(srv->base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	hl = calloc(1, sizeof(*hl));
	if (!l || !hl) {
		if (l)
			evconnlistener_free(l);
		else
			close(fd);
		fd = -1;
		free(hl);
		unlink(path);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "listening on '%s': out of memory", path);
	}
	fd = -1;
	evconnlistener_set_error_cb(l, listener_error_cb);
	hl->l = l;
	hl->unix_path = strdup(path);
	hl->next = srv->listeners;
	srv->listeners = hl;
	return 0;
}

/* tcp://host:port without TLS: for local tools and tests only. */
static int listen_tcp(struct skiff_http_server *srv, const char *hostport, struct skiff_error *err)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct http_listener *hl;
	struct evconnlistener *l;

	if (evutil_parse_sockaddr_port(hostport, (struct sockaddr *)&ss, &sslen) < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid listen address 'tcp://%s'", hostport);
	l = evconnlistener_new_bind(srv->base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
				    512, (struct sockaddr *)&ss, sslen);
	if (!l)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "listening on 'tcp://%s'", hostport);
	hl = calloc(1, sizeof(*hl));
	if (!hl) {
		evconnlistener_free(l);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	evconnlistener_set_error_cb(l, listener_error_cb);
	hl->l = l;
	hl->next = srv->listeners;
	srv->listeners = hl;
	return 0;
}

int skiff_http_server_listen(struct skiff_http_server *srv, const char *addr, struct skiff_error *err)
{
	if (!strncmp(addr, "unix://", 7))
		return listen_unix(srv, addr + 7, err);
	if (addr[0] == '/')
		return listen_unix(srv, addr, err);
	if (!strncmp(addr, "tcp://", 6))
		return listen_tcp(srv, addr + 6, err);
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "unsupported listen address '%s'", addr);
}

void skiff_http_server_stop_listening(struct skiff_http_server *srv)
{
	while (srv && srv->listeners) {
		struct http_listener *hl = srv->listeners;
		srv->listeners = hl->next;
		evconnlistener_free(hl->l);
		if (hl->unix_path)
			unlink(hl->unix_path);
		free(hl->unix_path);
		free(hl);
	}
}

void skiff_http_server_free(struct skiff_http_server *srv)
{
	if (!srv)
		return;
	skiff_http_server_stop_listening(srv);
	while (srv->conns) {
		struct http_conn *c = srv->conns;
		struct http_req *r = c->req;
		conn_unlink(c);
		if (c->bev)
			bufferevent_free(c->bev);
		c->bev = NULL;
		if (r && c->state == C_HANDLING && r->pub.on_close) {
			void (*cb)(struct skiff_http_req *, void *) = r->pub.on_close;
			r->pub.on_close = NULL;
			cb(&r->pub, r->pub.on_close_data);
		}
		/* a handler without on_close may still hold r: leak it rather
		 * than free it under the handler at shutdown */
		if (!(r && c->state == C_HANDLING && !r->pub.on_close))
			req_free(r);
		free(c);
	}
	free(srv);
}

/* ---- helpers for handlers ---- */

const char *skiff_http_query(const struct skiff_http_req *req, const char *name)
{
	json_t *v = json_object_get(req->query, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *skiff_http_query_all(const struct skiff_http_req *req, const char *name)
{
	json_t *v = json_object_get(((const struct http_req *)req)->query_all, name);
	return v ? json_copy(v) : json_array();
}

bool skiff_http_query_bool(const struct skiff_http_req *req, const char *name, bool def)
{
	const char *v = skiff_http_query(req, name);
	static const char *const falsy[] = { "", "0", "no", "false", "none" };

	if (!v)
		return def;
	/* dockerd's httputils.BoolValue: anything but these is true ("yes", "True", "1") */
	for (size_t i = 0; i < ARRAY_SIZE(falsy); i++)
		if (!strcasecmp(v, falsy[i]))
			return false;
	return true;
}

json_t *skiff_http_body_json(struct skiff_http_req *req, bool allow_empty)
{
	size_t len = evbuffer_get_length(req->body);
	json_error_t jerr;
	json_t *j;

	if (!len) {
		if (allow_empty)
			return json_object();
		skiff_http_reply_error(req, 400, "invalid JSON: request body is empty");
		return NULL;
	}
	j = json_loadb((const char *)evbuffer_pullup(req->body, -1), len, JSON_DECODE_ANY, &jerr);
	if (!j) {
		skiff_http_reply_error(req, 400, "invalid JSON: %s", jerr.text);
		return NULL;
	}
	return j;
}

json_t *skiff_http_filters_parse(const char *s, char *errbuf, size_t errlen)
{
	json_error_t jerr;
	json_t *in, *out, *v;
	const char *k;

	out = json_object();
	if (!s || !*s)
		return out;
	in = json_loads(s, 0, &jerr);
	if (!json_is_object(in)) {
		snprintf(errbuf, errlen, "invalid filter: %s", in ? "not a JSON object" : jerr.text);
		json_decref(in);
		json_decref(out);
		return NULL;
	}
	json_object_foreach(in, k, v) {
		json_t *arr = json_array();
		if (json_is_object(v)) {
			const char *vk;
			json_t *vv;
			json_object_foreach(v, vk, vv)
				if (json_is_true(vv))
					json_array_append_new(arr, json_string(vk));
		} else if (json_is_array(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) {
				if (!json_is_string(e))
					goto bad;
				json_array_append(arr, e);
			}
		} else {
			goto bad;
		}
		json_object_set_new(out, k, arr);
		continue;
	bad:
		json_decref(arr);
		snprintf(errbuf, errlen, "invalid filter '%s'", k);
		json_decref(in);
		json_decref(out);
		return NULL;
	}
	json_decref(in);
	return out;
}

json_t *skiff_http_query_filters(struct skiff_http_req *req)
{
	char msg[256];
	json_t *f = skiff_http_filters_parse(skiff_http_query(req, "filters"), msg, sizeof(msg));
	if (!f)
		skiff_http_reply_error(req, 400, "%s", msg);
	return f;
}

/* ---- replies ---- */

void skiff_http_reply_json(struct skiff_http_req *req, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(body);
	if (!s) {
		reply_raw(priv(req), status, "application/json", "null\n", 5);
		return;
	}
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (t) {
		s = t;
		s[n++] = '\n';
	}
	reply_raw(priv(req), status, "application/json", s, n);
	free(s);
}

void skiff_http_reply_error(struct skiff_http_req *req, int status, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	skiff_http_reply_json(req, status, json_pack("{s:s}", "message", msg));
}

void skiff_http_reply_skiff_error(struct skiff_http_req *req, const struct skiff_error *err)
{
	int status = err && err->status >= 400 && err->status < 600 ? err->status : 500;
	skiff_http_reply_error(req, status, "%s", err && err->msg[0] ? err->msg : "internal error");
}

void skiff_http_reply_empty(struct skiff_http_req *req, int status)
{
	reply_raw(priv(req), status, NULL, "", 0);
}

void skiff_http_reply_data(struct skiff_http_req *req, int status, const char *content_type, const void *data,
			   size_t len)
{
	reply_raw(priv(req), status, content_type, data, len);
}

void skiff_http_reply_fd(struct skiff_http_req *req, int status, const char *content_type, int fd)
{
	struct http_req *r = priv(req);
	struct http_conn *c = r->conn;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		skiff_http_reply_error(req, 500, "cannot send a non-regular file");
		return;
	}
	write_head(r, status, content_type, (long long)st.st_size);
	if (c->bev && !r->head && st.st_size > 0) {
		if (evbuffer_add_file(bufferevent_get_output(c->bev), fd, 0, st.st_size) < 0)
			close(fd); /* the length is already promised: drop the connection after this */
	} else {
		close(fd);
	}
	finish(r);
}

void skiff_http_add_header(struct skiff_http_req *req, const char *name, const char *value)
{
	evbuffer_add_printf(priv(req)->extra_headers, "%s: %s\r\n", name, value);
}

void skiff_http_stream_start(struct skiff_http_req *req, int status, const char *content_type)
{
	struct http_req *r = priv(req);
	if (r->started)
		return;
	r->started = true;
	write_head(r, status, content_type, -1);
}

void skiff_http_stream_write(struct skiff_http_req *req, const void *data, size_t len)
{
	struct http_req *r = priv(req);
	struct evbuffer *out;

	if (!r->started)
		skiff_http_stream_start(req, 200, "application/octet-stream");
	if (!r->conn->bev || r->head || !len)
		return;
	out = bufferevent_get_output(r->conn->bev);
	if (r->chunked_resp)
		evbuffer_add_printf(out, "%zx\r\n", len);
	evbuffer_add(out, data, len);
	if (r->chunked_resp)
		evbuffer_add(out, "\r\n", 2);
}

void skiff_http_stream_json(struct skiff_http_req *req, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	if (!s)
		return;
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (t) {
		s = t;
		s[n++] = '\n';
	}
	skiff_http_stream_write(req, s, n);
	free(s);
}

void skiff_http_stream_end(struct skiff_http_req *req)
{
	struct http_req *r = priv(req);

	if (!r->started)
		skiff_http_stream_start(req, 200, "application/octet-stream");
	if (r->conn->bev && r->chunked_resp && !r->head)
		evbuffer_add(bufferevent_get_output(r->conn->bev), "0\r\n\r\n", 5);
	finish(r);
}

size_t skiff_http_stream_pending(struct skiff_http_req *req)
{
	struct http_conn *c = priv(req)->conn;
	return c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

struct bufferevent *skiff_http_hijack(struct skiff_http_req *req, const char *content_type)
{
	struct http_req *r = priv(req);
	struct http_conn *c = r->conn;
	struct bufferevent *bev = c->bev;
	const char *upgrade = skiff_json_str(req->headers, "upgrade", NULL);
	struct evbuffer *out;

	if (!bev) {
		c->req = NULL;
		req_free(r);
		conn_free(c);
		return NULL;
	}
	out = bufferevent_get_output(bev);
	if (upgrade && !strcasecmp(upgrade, "tcp"))
		evbuffer_add_printf(out,
				    "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n",
				    content_type);
	else
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n", content_type);
	evbuffer_add_printf(out, "Api-Version: %s\r\nDocker-Experimental: false\r\nOstype: linux\r\n",
			    SKIFF_API_VERSION);
	evbuffer_add_buffer(out, r->extra_headers);
	evbuffer_add(out, "\r\n", 2);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	c->bev = NULL;
	c->req = NULL;
	req_free(r);
	conn_free(c);
	return bev;
}

void skiff_http_mux_header(unsigned char hdr[8], int stream, size_t len)
{
	hdr[0] = (unsigned char)stream;
	hdr[1] = hdr[2] = hdr[3] = 0;
	hdr[4] = (unsigned char)(len >> 24);
	hdr[5] = (unsigned char)(len >> 16);
	hdr[6] = (unsigned char)(len >> 8);
	hdr[7] = (unsigned char)len;
}
