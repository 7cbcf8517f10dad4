/* The exec API: POST /containers/{id}/exec, POST /exec/{id}/start (the
 * hijacked stream: raw with a tty, multiplexed without; stdin forwarded
 * until the client half-closes), POST /exec/{id}/resize and GET
 * /exec/{id}/json, over the exec store (userspace/daemon/exec.h). The
 * stream bridge is api/stream.c (shared with attach); for an exec's one
 * client its half-close is the process's EOF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../userspace/daemon/container.h"
#include "../userspace/daemon/daemon.h"
#include "../userspace/daemon/exec.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/json.h"
#include "../userspace/lib/log.h"
#include "../userspace/runtime/monitor-client.h"
#include "http.h"
#include "routes.h"
#include "stream.h"

static void reply_err(struct skiff_http_req *req, struct skiff_error *err)
{
	if (!err->status)
		err->status = SKIFF_EINTERNAL;
	skiff_http_reply_skiff_error(req, err);
}

static struct skiff_exec *lookup(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_exec *e = skiff_exec_find(req->daemon, req->params[0], &err);
	if (!e)
		reply_err(req, &err);
	return e;
}

static void h_create(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	_cleanup_json_ json_t *body = NULL;
	struct skiff_ctr *c = skiff_container_find(req->daemon, req->params[0], &err);
	char id[65];

	if (!c)
		return reply_err(req, &err);
	if (!(body = skiff_http_body_json(req, true)))
		return;
	if (skiff_exec_create(req->daemon, c, body, id, &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_json(req, 201, json_pack("{s:s}", "Id", id));
}

static void h_inspect(struct skiff_http_req *req)
{
	struct skiff_exec *e = lookup(req);
	if (e)
		skiff_http_reply_json(req, 200, skiff_exec_inspect_json(req->daemon, e));
}

static void h_resize(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_exec *e = lookup(req);
	const char *h = skiff_http_query(req, "h"), *w = skiff_http_query(req, "w");
	if (!e)
		return;
	if (!h || !w || atoi(h) < 0 || atoi(w) < 0)
		return skiff_http_reply_error(req, 400, "invalid resize parameters: h=%s w=%s", h ? h : "", w ? w : "");
	if (skiff_exec_resize(req->daemon, e, atoi(h), atoi(w), &err) < 0)
		return reply_err(req, &err);
	skiff_http_reply_data(req, 200, "text/plain", "", 0);
}

/* ---- start: the hijacked stream ------------------------------------------ */

struct xstart {
	struct skiff_daemon *d;
	struct skiff_stream *s;
	char id[65];
	struct event *wait_ev; /* until the client has read the 101 */
	int waits, rows, cols;
};

static void xs_free(void *data, const char *id)
{
	struct xstart *x = data;
	(void)id;
	if (x->wait_ev)
		event_free(x->wait_ev);
	free(x);
}

static void x_on_exit_code(int code, void *data)
{
	struct skiff_stream *s = data;
	struct xstart *x = skiff_stream_data(s);
	skiff_exec_exited(x->d, x->id, code);
}

static void xs_start(struct xstart *x)
{
	struct skiff_error err = { 0 };
	struct skiff_exec *e = skiff_exec_find(x->d, x->id, &err);
	struct skiff_attach *a = NULL;
	struct skiff_attach_ops ops = { .on_exit_code = x_on_exit_code };

	skiff_stream_fill_ops(x->s, &ops);
	if (!e || skiff_exec_start(x->d, e, x->rows, x->cols, &ops, &a, &err) < 0) {
		/* Docker writes the failure on the stream; the exit code is in inspect */
		char line[sizeof(err.msg) + 4];
		int n = snprintf(line, sizeof(line), "%s\r\n", err.msg);
		skiff_stream_write(x->s, 1, line, (size_t)n);
		skiff_stream_end(x->s);
		return;
	}
	skiff_stream_set_attach(x->s, a);
	skiff_stream_pump(x->s);
}

/* A client that reads the response head through a buffered reader and then
 * takes the raw socket (docker-py) loses output that arrived in the same
 * read: the process starts once the client has read the 101 (nothing left
 * in the socket's send queue), or after 50 ms. */
static void xs_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xstart *x = arg;
	int outq = 0;
	(void)fd, (void)what;
	if (skiff_stream_closing(x->s))
		return;
	if (x->wait_ev && x->waits++ < 50 &&
	    ioctl(bufferevent_getfd(skiff_stream_bev(x->s)), SIOCOUTQ, &outq) == 0 && outq > 0) {
		struct timeval tv = { 0, 1000 };
		evtimer_add(x->wait_ev, &tv);
		return;
	}
	xs_start(x);
}

static void h_start(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_daemon *d = req->daemon;
	_cleanup_json_ json_t *body = NULL;
	struct skiff_exec *e = lookup(req);
	struct xstart *x;
	int rows = 0, cols = 0;

	if (!e)
		return;
	if (!(body = skiff_http_body_json(req, true)))
		return;
	const json_t *cs = json_object_get(body, "ConsoleSize");
	if (json_array_size(cs) == 2) {
		rows = (int)json_integer_value(json_array_get(cs, 0));
		cols = (int)json_integer_value(json_array_get(cs, 1));
	}
	if (skiff_json_bool(body, "Detach", false)) {
		if (skiff_exec_start(d, e, rows, cols, NULL, NULL, &err) < 0)
			return reply_err(req, &err);
		return skiff_http_reply_data(req, 200, "text/plain", "", 0);
	}
	/* what Docker refuses before hijacking */
	if (!d->monitor)
		return skiff_http_reply_error(req, 500, "the container monitor is not connected");
	x = calloc(1, sizeof(*x));
	if (!x)
		return skiff_http_reply_error(req, 500, "out of memory");
	x->d = d;
	memcpy(x->id, skiff_exec_id(e), 65);
	struct skiff_stream_opts o = {
		.what = "exec",
		.id = x->id,
		.tty = skiff_exec_tty(e),
		.stdin = skiff_exec_open_stdin(e),
		.eof_closes_stdin = true,
		.out_on = true,
		.err_on = true,
	};
	if (!(x->s = skiff_stream_hijack(req, &o))) {
		free(x);
		return;
	}
	skiff_stream_set_owner(x->s, xs_free, x);
	x->rows = rows;
	x->cols = cols;
	/* the 101 goes out before the process exists */
	{
		/* a socket bufferevent keeps the start of its output frozen
		 * outside its own write callback */
		struct bufferevent *bev = skiff_stream_bev(x->s);
		struct evbuffer *out = bufferevent_get_output(bev);
		evbuffer_unfreeze(out, 1);
		evbuffer_write(out, bufferevent_getfd(bev));
		evbuffer_freeze(out, 1);
	}
	x->wait_ev = evtimer_new(d->base, xs_start_cb, x);
	xs_start_cb(-1, 0, x);
}

const struct skiff_route skiff_exec_routes[] = {
	{ .methods = HTTP_POST, .pattern = "/containers/{id}/exec", .handler = h_create },
	{ .methods = HTTP_POST, .pattern = "/exec/{id}/start", .handler = h_start },
	{ .methods = HTTP_POST, .pattern = "/exec/{id}/resize", .handler = h_resize },
	{ .methods = HTTP_GET, .pattern = "/exec/{id}/json", .handler = h_inspect },
};
const size_t skiff_exec_nroutes = ARRAY_SIZE(skiff_exec_routes);
