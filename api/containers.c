/* The containers API: thin handlers over the container manager
 * (userspace/daemon/container.h). Asynchronous replies (wait, stop,
 * restart, logs -f) watch req->on_close so a client that goes away
 * leaves nothing behind; attach hijacks the connection. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../userspace/daemon/container-config.h"
#include "../userspace/daemon/container.h"
#include "../userspace/daemon/daemon.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/json.h"
#include "../userspace/lib/log.h"
#include "../userspace/runtime/logfile.h"
#include "../userspace/runtime/monitor-client.h"
#include "../userspace/runtime/start-trace.h"
#include "http.h"
#include "routes.h"
#include "stream.h"

static struct skiff_ctr *lookup(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = skiff_container_find(req->daemon, req->params[0], &err);
	if (!c)
		skiff_http_reply_skiff_error(req, &err);
	return c;
}

static void reply_err(struct skiff_http_req *req, struct skiff_error *err)
{
	if (!err->status)
		err->status = SKIFF_EINTERNAL;
	skiff_http_reply_skiff_error(req, err);
}

/* ---- create, list, inspect, prune ---------------------------------------- */

static void h_create(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	json_t *reply = NULL;
	_cleanup_json_ json_t *body = skiff_http_body_json(req, true);

	START_TRACE(NULL, "api:create");
	if (!body)
		return;
	if (skiff_container_create(req->daemon, skiff_http_query(req, "name"), body, &reply, &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_json(req, 201, reply);
}

static void h_list(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	_cleanup_json_ json_t *filters = skiff_http_query_filters(req);
	const char *limit = skiff_http_query(req, "limit");
	_cleanup_free_ char *out = NULL;

	if (!filters)
		return;
	out = skiff_container_list_dump(req->daemon, skiff_http_query_bool(req, "all", false),
					limit ? atoi(limit) : -1, skiff_http_query_bool(req, "size", false), filters,
					&err);
	if (!out)
		return reply_err(req, &err);
	skiff_http_reply_data(req, 200, "application/json", out, strlen(out));
}

static void h_inspect(struct skiff_http_req *req)
{
	struct skiff_ctr *c = lookup(req);
	json_t *o;
	if (!c)
		return;
	o = skiff_container_inspect_json(req->daemon, c, skiff_http_query_bool(req, "size", false));
	if (!o)
		return skiff_http_reply_error(req, 500, "building the inspect reply of %s failed", c->name + 1);
	skiff_http_reply_json(req, 200, o);
}

static void h_prune(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	_cleanup_json_ json_t *filters = skiff_http_query_filters(req);
	json_t *out;
	if (!filters)
		return;
	out = skiff_container_prune(req->daemon, filters, &err);
	if (!out)
		return reply_err(req, &err);
	skiff_http_reply_json(req, 200, out);
}

/* ---- simple state changes ------------------------------------------------ */

static void h_start(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	int r;
	if (!c)
		return;
	if (skiff_http_query(req, "checkpoint"))
		return skiff_http_reply_error(req, 501, "checkpoints are not implemented yet");
	START_TRACE(c->id, "api:start");
	r = skiff_container_start(req->daemon, c, &err);
	if (r < 0)
		return reply_err(req, &err);
	skiff_http_reply_empty(req, r == 1 ? 304 : 204);
	START_TRACE(c->id, "api:start-replied");
}

static void h_kill(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	if (!c)
		return;
	if (skiff_container_kill(req->daemon, c, skiff_http_query(req, "signal"), &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_empty(req, 204);
}

static void h_rename(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	if (!c)
		return;
	if (skiff_container_rename(req->daemon, c, skiff_http_query(req, "name"), &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_empty(req, 204);
}

static void pause_common(struct skiff_http_req *req, bool pause)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	if (!c)
		return;
	if (skiff_container_pause(req->daemon, c, pause, &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_empty(req, 204);
}

static void h_pause(struct skiff_http_req *req)
{
	pause_common(req, true);
}

static void h_unpause(struct skiff_http_req *req)
{
	pause_common(req, false);
}

static void h_resize(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	const char *h = skiff_http_query(req, "h"), *w = skiff_http_query(req, "w");
	if (!c)
		return;
	if (!h || !w || atoi(h) < 0 || atoi(w) < 0)
		return skiff_http_reply_error(req, 400, "invalid resize parameters: h=%s w=%s", h ? h : "",
					      w ? w : "");
	if (!skiff_ctr_is_running(c))
		return skiff_http_reply_error(req, 409, "Container %s is not running", c->id);
	if (skiff_monitor_resize(req->daemon->monitor, c->id, atoi(h), atoi(w), &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_data(req, 200, "text/plain", "", 0);
}

static void h_top(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	json_t *out = NULL;
	if (!c)
		return;
	if (skiff_container_top(req->daemon, c, skiff_http_query(req, "ps_args"), &out, &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_json(req, 200, out);
}

/* ---- asynchronous: wait, stop, restart ----------------------------------- */

struct pending {
	struct skiff_http_req *req;
	struct skiff_daemon *d;
	void *handle;
	bool streaming; /* wait: headers already sent */
};

static void pending_closed(struct skiff_http_req *req, void *data)
{
	struct pending *p = data;
	(void)req;
	skiff_container_cancel(p->d, p->handle);
	free(p);
}

static void wait_write(struct skiff_http_req *req, int code, const char *error)
{
	json_t *j = json_pack("{s:i, s:n}", "StatusCode", code, "Error");
	if (error && *error)
		json_object_set_new(j, "Error", json_pack("{s:s}", "Message", error));
	skiff_http_stream_json(req, j);
	skiff_http_stream_end(req);
}

static void wait_done(int status, int exit_code, const char *error, void *data)
{
	struct pending *p = data;
	(void)status;
	p->req->on_close = NULL;
	wait_write(p->req, exit_code, error);
	START_TRACE(NULL, "api:wait-replied");
	free(p);
}

static const char *const wait_conds[] = {
	[SKIFF_WAIT_NOT_RUNNING] = "not-running",
	[SKIFF_WAIT_NEXT_EXIT] = "next-exit",
	[SKIFF_WAIT_REMOVED] = "removed",
};

static void h_wait(struct skiff_http_req *req)
{
	const char *cond = skiff_http_query(req, "condition");
	struct skiff_ctr *c;
	struct pending *p;
	int ci = -1, code = 0, r;

	if (!cond || !*cond)
		cond = "not-running";
	for (size_t i = 0; i < ARRAY_SIZE(wait_conds); i++)
		if (!strcmp(wait_conds[i], cond))
			ci = (int)i;
	if (ci < 0)
		return skiff_http_reply_error(req, 400, "invalid condition: \"%s\"", cond);
	if (!(c = lookup(req)))
		return;
	START_TRACE(c->id, "api:wait");
	p = calloc(1, sizeof(*p));
	if (!p)
		return skiff_http_reply_error(req, 500, "out of memory");
	p->req = req;
	p->d = req->daemon;
	r = skiff_container_wait(req->daemon, c, ci, wait_done, p, &p->handle, &code);
	if (r < 0) {
		free(p);
		return skiff_http_reply_error(req, 500, "waiting for %s: %s", c->name + 1, strerror(-r));
	}
	/* headers now: docker run waits for them before it starts the container */
	skiff_http_stream_start(req, 200, "application/json");
	if (r == 1) {
		free(p);
		return wait_write(req, code, NULL);
	}
	req->on_close = pending_closed;
	req->on_close_data = p;
}

static void stop_done(int status, int exit_code, const char *error, void *data)
{
	struct pending *p = data;
	(void)exit_code;
	p->req->on_close = NULL;
	if (status)
		skiff_http_reply_error(p->req, status, "%s", error ? error : "failed");
	else
		skiff_http_reply_empty(p->req, 204);
	free(p);
}

/* Docker's rm -f answers once the container is gone: a running one is
 * killed first and removed when its exit arrives, so wait for that. */
static void h_delete(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	struct pending *p;
	char id[80];
	int code = 0;

	if (!c)
		return;
	if (skiff_http_query_bool(req, "link", false))
		return skiff_http_reply_error(req, 400, "links are not supported");
	snprintf(id, sizeof(id), "%s", c->id);
	if (skiff_container_remove_ex(req->daemon, c, skiff_http_query_bool(req, "force", false),
				      skiff_http_query_bool(req, "v", false), &err) < 0)
		return reply_err(req, &err);
	c = skiff_container_find(req->daemon, id, NULL);
	if (!c || !(p = calloc(1, sizeof(*p))))
		return skiff_http_reply_empty(req, 204);
	p->req = req;
	p->d = req->daemon;
	if (skiff_container_wait(req->daemon, c, SKIFF_WAIT_REMOVED, stop_done, p, &p->handle, &code) != 0) {
		free(p);
		return skiff_http_reply_empty(req, 204);
	}
	req->on_close = pending_closed;
	req->on_close_data = p;
}

static void stop_common(struct skiff_http_req *req, bool restart)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	const char *t = skiff_http_query(req, "t");
	struct pending *p;
	int r;

	if (!c)
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		return skiff_http_reply_error(req, 500, "out of memory");
	p->req = req;
	p->d = req->daemon;
	if (restart)
		r = skiff_container_restart(req->daemon, c, skiff_http_query(req, "signal"), t && *t ? atoi(t) : -1,
					    stop_done, p, &p->handle, &err);
	else
		r = skiff_container_stop(req->daemon, c, skiff_http_query(req, "signal"), t && *t ? atoi(t) : -1,
					 stop_done, p, &p->handle, &err);
	if (r != 0) {
		free(p);
		if (r < 0)
			return reply_err(req, &err);
		return skiff_http_reply_empty(req, restart ? 204 : 304);
	}
	req->on_close = pending_closed;
	req->on_close_data = p;
}

static void h_stop(struct skiff_http_req *req)
{
	stop_common(req, false);
}

static void h_restart(struct skiff_http_req *req)
{
	stop_common(req, true);
}

/* ---- logs ---------------------------------------------------------------- */

struct logs_ctx {
	struct skiff_http_req *req;
	struct skiff_daemon *d;
	char id[65];
	char *path;
	struct skiff_logread_opts o;
	bool tty, timestamps;
	struct event *timer;
	struct bufferevent *bev; /* attach logs=1 writes here instead */
	int fd;                  /* follow: the log file held open */
	char fdpath[40];         /* /proc/self/fd/<fd> */
};

static void emit_frame(struct logs_ctx *l, int stream, const char *data, size_t len, const struct timespec *ts)
{
	char stamp[48];
	size_t slen = 0;
	unsigned char hdr[8];

	if (l->timestamps) {
		skiff_time_format(ts, stamp);
		strcat(stamp, " ");
		slen = strlen(stamp);
	}
	if (l->bev) {
		struct evbuffer *out = bufferevent_get_output(l->bev);
		if (!l->tty) {
			skiff_http_mux_header(hdr, stream, slen + len);
			evbuffer_add(out, hdr, 8);
		}
		evbuffer_add(out, stamp, slen);
		evbuffer_add(out, data, len);
		return;
	}
	if (!l->tty) {
		skiff_http_mux_header(hdr, stream, slen + len);
		skiff_http_stream_write(l->req, hdr, 8);
	}
	if (slen)
		skiff_http_stream_write(l->req, stamp, slen);
	skiff_http_stream_write(l->req, data, len);
}

static int log_cb(int stream, const char *data, size_t len, const struct timespec *ts, void *ud)
{
	emit_frame(ud, stream, data, len, ts);
	return 0;
}

static void logs_free(struct logs_ctx *l)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->timer)
		event_free(l->timer);
	free(l->path);
	free(l);
}

static void logs_closed(struct skiff_http_req *req, void *data)
{
	(void)req;
	logs_free(data);
}

static void logs_poll(evutil_socket_t fd, short what, void *arg)
{
	struct logs_ctx *l = arg;
	struct skiff_ctr *c = skiff_container_find(l->d, l->id, NULL);
	bool alive = c && (skiff_ctr_is_running(c) || c->status == SKIFF_CTR_RESTARTING);
	off_t next = l->o.offset;
	struct timeval tv = { 0, 100000 };
	(void)fd, (void)what;

	/* the container may be gone (removed, its directory deleted) before
	 * the client read its last lines: read the file we hold open */
	if (l->fd < 0 && l->path && (l->fd = open(l->path, O_RDONLY | O_CLOEXEC)) >= 0)
		snprintf(l->fdpath, sizeof(l->fdpath), "/proc/self/fd/%d", l->fd);
	/* back-pressure: let a slow client drain before reading more */
	if (skiff_http_stream_pending(l->req) < (4u << 20)) {
		skiff_logfile_read(l->fd >= 0 ? l->fdpath : l->path, &l->o, log_cb, l, &next, NULL);
		bool progressed = next != l->o.offset;
		l->o.offset = next;
		if (!alive && !progressed) {
			l->req->on_close = NULL;
			skiff_http_stream_end(l->req);
			logs_free(l);
			return;
		}
	}
	evtimer_add(l->timer, &tv);
}

static int parse_since(const char *s, struct timespec *ts)
{
	ts->tv_sec = ts->tv_nsec = 0;
	if (!s || !*s || !strcmp(s, "0"))
		return 0;
	return skiff_time_parse(s, ts);
}

static int logs_opts(struct skiff_http_req *req, struct skiff_logread_opts *o)
{
	const char *tail = skiff_http_query(req, "tail");
	memset(o, 0, sizeof(*o));
	o->stdout_on = skiff_http_query_bool(req, "stdout", false);
	o->stderr_on = skiff_http_query_bool(req, "stderr", false);
	o->tail = -1;
	if (tail && *tail && strcmp(tail, "all")) {
		char *end;
		long n = strtol(tail, &end, 10);
		if (!*end && n >= 0)
			o->tail = n;
	}
	if (parse_since(skiff_http_query(req, "since"), &o->since) < 0 ||
	    parse_since(skiff_http_query(req, "until"), &o->until) < 0)
		return -EINVAL;
	return 0;
}

static void h_logs(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = lookup(req);
	struct logs_ctx *l;
	off_t next = 0;

	if (!c)
		return;
	l = calloc(1, sizeof(*l));
	if (!l)
		return skiff_http_reply_error(req, 500, "out of memory");
	if (logs_opts(req, &l->o) < 0) {
		free(l);
		return skiff_http_reply_error(req, 400, "invalid value for \"since\" or \"until\"");
	}
	if (!l->o.stdout_on && !l->o.stderr_on) {
		free(l);
		return skiff_http_reply_error(req, 400, "You must choose at least one stream");
	}
	l->req = req;
	l->d = req->daemon;
	l->fd = -1;
	memcpy(l->id, c->id, 65);
	l->path = skiff_container_log_path(c);
	l->tty = skiff_json_bool(c->config, "Tty", false);
	l->timestamps = skiff_http_query_bool(req, "timestamps", false);
	skiff_http_stream_start(req, 200,
				l->tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
	if (l->path && skiff_logfile_read(l->path, &l->o, log_cb, l, &next, &err) < 0)
		log_debug("logs of %.12s: %s", l->id, err.msg);
	if (!skiff_http_query_bool(req, "follow", false) ||
	    (!skiff_ctr_is_running(c) && c->status != SKIFF_CTR_RESTARTING)) {
		skiff_http_stream_end(req);
		logs_free(l);
		return;
	}
	/* follow: poll the file from where we stopped (100 ms is below what a
	 * person notices and costs nothing when idle) */
	l->o.offset = next;
	l->o.tail = -1;
	if (l->path && (l->fd = open(l->path, O_RDONLY | O_CLOEXEC)) >= 0)
		snprintf(l->fdpath, sizeof(l->fdpath), "/proc/self/fd/%d", l->fd);
	l->timer = evtimer_new(req->daemon->base, logs_poll, l);
	if (!l->timer) {
		skiff_http_stream_end(req);
		logs_free(l);
		return;
	}
	struct timeval tv = { 0, 100000 };
	evtimer_add(l->timer, &tv);
	req->on_close = logs_closed;
	req->on_close_data = l;
}

/* ---- attach --------------------------------------------------------------- */

static void attach_unref(void *data, const char *id)
{
	skiff_container_attach_unref(data, id);
}

static void h_attach(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_daemon *d = req->daemon;
	struct skiff_ctr *c = lookup(req);
	struct skiff_stream *s;
	struct skiff_attach *a = NULL;
	bool stream, logs;
	struct skiff_stream_opts o = { .what = "attach", .end_trace = "api:attach-end" };

	if (!c)
		return;
	START_TRACE(c->id, "api:attach");
	o.stdin = skiff_http_query_bool(req, "stdin", false) && skiff_json_bool(c->config, "OpenStdin", false);
	stream = skiff_http_query_bool(req, "stream", false);
	logs = skiff_http_query_bool(req, "logs", false);
	if (!d->monitor && stream)
		return skiff_http_reply_error(req, 500, "the container monitor is not connected");
	o.id = c->id;
	o.tty = skiff_json_bool(c->config, "Tty", false);
	o.out_on = skiff_http_query_bool(req, "stdout", false);
	o.err_on = skiff_http_query_bool(req, "stderr", false);
	o.eof_closes_stdin = skiff_json_bool(c->config, "StdinOnce", false);
	if (!(s = skiff_stream_hijack(req, &o)))
		return;

	if (logs && (o.out_on || o.err_on)) {
		struct logs_ctx l = { .bev = skiff_stream_bev(s), .tty = o.tty, .fd = -1 };
		_cleanup_free_ char *path = skiff_container_log_path(c);
		l.o.stdout_on = o.out_on;
		l.o.stderr_on = o.err_on;
		l.o.tail = -1;
		if (path)
			skiff_logfile_read(path, &l.o, log_cb, &l, NULL, NULL);
	}
	if (!stream)
		return skiff_stream_end(s);
	struct skiff_attach_ops ops = { 0 };
	skiff_stream_fill_ops(s, &ops);
	if (skiff_monitor_attach(d->monitor, c->id, o.stdin, &ops, &a, &err) < 0) {
		log_warn("attach %.12s: %s", c->id, err.msg);
		return skiff_stream_end(s);
	}
	skiff_stream_set_attach(s, a);
	skiff_container_attach_ref(c);
	skiff_stream_set_owner(s, attach_unref, d);
	skiff_container_event(d, c, "attach", NULL);
	/* bytes the client sent with the request are already buffered */
	skiff_stream_pump(s);
}

/* ---- routes ---------------------------------------------------------------- */

const struct skiff_route skiff_containers_routes[] = {
	{ .methods = HTTP_POST, .pattern = "/containers/create", .handler = h_create },
	{ .methods = HTTP_GET, .pattern = "/containers/json", .handler = h_list },
	{ .methods = HTTP_POST, .pattern = "/containers/prune", .handler = h_prune },
	{ .methods = HTTP_GET, .pattern = "/containers/{id}/json", .handler = h_inspect },
	{ .methods = HTTP_GET, .pattern = "/containers/{id}/logs", .handler = h_logs },
	{ .methods = HTTP_GET, .pattern = "/containers/{id}/top", .handler = h_top },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/start", .handler = h_start },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/stop", .handler = h_stop },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/restart", .handler = h_restart },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/kill", .handler = h_kill },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/wait", .handler = h_wait },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/attach", .handler = h_attach },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/resize", .handler = h_resize },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/rename", .handler = h_rename },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/pause", .handler = h_pause },
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/unpause", .handler = h_unpause },
	{ .methods = HTTP_DELETE, .pattern = "/containers/{id}", .handler = h_delete },
};
const size_t skiff_containers_nroutes = ARRAY_SIZE(skiff_containers_routes);
