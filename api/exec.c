/* The exec API: POST /containers/{id}/exec, POST /exec/{id}/start (the
 * hijacked stream: raw with a tty, multiplexed without; stdin forwarded
 * until the client half-closes), POST /exec/{id}/resize and GET
 * /exec/{id}/json, over the exec store (userspace/daemon/exec.h). The
 * stream bridge follows attach's in api/containers.c, for an exec's one
 * client: its half-close is the process's EOF. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

struct xstream {
	struct skiff_daemon *d;
	char id[65];
	struct bufferevent *bev;
	struct skiff_attach *a;
	bool tty, client_eof, ended, closing;
	int stdin_fd;
	struct event *stdin_ev;
	struct evbuffer *inbuf;
	struct event *wait_ev; /* until the client has read the 101 */
	int waits, rows, cols;
};

static void xs_free(struct xstream *x)
{
	if (x->a)
		skiff_attach_close(x->a);
	if (x->stdin_ev)
		event_free(x->stdin_ev);
	if (x->stdin_fd >= 0)
		close(x->stdin_fd);
	if (x->bev)
		bufferevent_free(x->bev);
	if (x->inbuf)
		evbuffer_free(x->inbuf);
	if (x->wait_ev)
		event_free(x->wait_ev);
	free(x);
}

static void xs_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	xs_free(arg);
}

/* Out of the current callback stack: the monitor client or libevent may
 * still touch what we would free. */
static void xs_finish(struct xstream *x)
{
	if (x->closing)
		return;
	x->closing = true;
	if (x->bev)
		bufferevent_disable(x->bev, EV_READ);
	if (event_base_once(x->d->base, -1, EV_TIMEOUT, xs_free_cb, x, NULL) < 0)
		log_warn("exec %.12s: cannot schedule teardown", x->id);
}

static void stdin_close(struct xstream *x)
{
	if (x->stdin_ev)
		event_free(x->stdin_ev);
	x->stdin_ev = NULL;
	if (x->stdin_fd >= 0)
		close(x->stdin_fd);
	x->stdin_fd = -1;
}

static void stdin_flush(struct xstream *x)
{
	while (x->stdin_fd >= 0 && x->inbuf && evbuffer_get_length(x->inbuf)) {
		int n = evbuffer_write(x->inbuf, x->stdin_fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				if (x->stdin_ev)
					event_add(x->stdin_ev, NULL);
				return;
			}
			evbuffer_drain(x->inbuf, evbuffer_get_length(x->inbuf));
			stdin_close(x);
			return;
		}
	}
	/* the client's half-close is the process's EOF (docker exec -i < file) */
	if (x->client_eof && x->stdin_fd >= 0 && (!x->inbuf || !evbuffer_get_length(x->inbuf)))
		stdin_close(x);
}

static void stdin_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	stdin_flush(arg);
}

static void x_on_stdin(int fd, void *data)
{
	struct xstream *x = data;
	if (fd < 0 || x->closing) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (x->stdin_fd >= 0)
		close(x->stdin_fd);
	x->stdin_fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	x->stdin_ev = event_new(x->d->base, fd, EV_WRITE, stdin_writable, x);
	stdin_flush(x);
}

static void xs_write(struct xstream *x, int stream, const void *buf, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(x->bev);
	unsigned char hdr[8];
	if (!x->tty) {
		skiff_http_mux_header(hdr, stream, len);
		evbuffer_add(out, hdr, 8);
	}
	evbuffer_add(out, buf, len);
}

static void x_on_output(int stream, const void *buf, size_t len, void *data)
{
	struct xstream *x = data;
	if (!x->closing && x->bev)
		xs_write(x, stream, buf, len);
}

static void x_on_exit_code(int code, void *data)
{
	struct xstream *x = data;
	skiff_exec_exited(x->d, x->id, code);
}

static void x_flushed(struct bufferevent *bev, void *arg)
{
	struct xstream *x = arg;
	if (x->ended && !evbuffer_get_length(bufferevent_get_output(bev)))
		xs_finish(x);
}

static void x_on_end(void *data)
{
	struct xstream *x = data;
	x->ended = true;
	if (!x->bev || !evbuffer_get_length(bufferevent_get_output(x->bev)))
		xs_finish(x);
}

static void x_client_read(struct bufferevent *bev, void *arg)
{
	struct xstream *x = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (!x->inbuf) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	evbuffer_add_buffer(x->inbuf, in);
	stdin_flush(x);
}

static void x_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct xstream *x = arg;
	(void)bev;
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) && !(what & BEV_EVENT_ERROR)) {
		/* half-close: the client is done sending stdin, output still flows */
		x->client_eof = true;
		stdin_flush(x);
		if (x->ended)
			xs_finish(x);
		return;
	}
	/* the client went away: the process keeps running (Docker does the same) */
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		xs_finish(x);
}

static void xs_start(struct xstream *x)
{
	struct skiff_error err = { 0 };
	struct skiff_exec *e = skiff_exec_find(x->d, x->id, &err);
	struct skiff_attach_ops ops = {
		.on_stdin = x_on_stdin,
		.on_output = x_on_output,
		.on_end = x_on_end,
		.on_exit_code = x_on_exit_code,
		.data = x,
	};
	if (!e || skiff_exec_start(x->d, e, x->rows, x->cols, &ops, &x->a, &err) < 0) {
		/* Docker writes the failure on the stream; the exit code is in inspect */
		char line[sizeof(err.msg) + 4];
		int n = snprintf(line, sizeof(line), "%s\r\n", err.msg);
		x->a = NULL;
		xs_write(x, 1, line, (size_t)n);
		x->ended = true;
		x_flushed(x->bev, x);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(x->bev)))
		x_client_read(x->bev, x);
}

/* A client that reads the response head through a buffered reader and then
 * takes the raw socket (docker-py) loses output that arrived in the same
 * read: the process starts once the client has read the 101 (nothing left
 * in the socket's send queue), or after 50 ms. */
static void xs_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xstream *x = arg;
	int outq = 0;
	(void)fd, (void)what;
	if (x->closing)
		return;
	if (x->wait_ev && x->waits++ < 50 && ioctl(bufferevent_getfd(x->bev), SIOCOUTQ, &outq) == 0 && outq > 0) {
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
	struct xstream *x;
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
	x->stdin_fd = -1;
	memcpy(x->id, skiff_exec_id(e), 65);
	x->tty = skiff_exec_tty(e);
	if (skiff_exec_open_stdin(e) && !(x->inbuf = evbuffer_new())) {
		free(x);
		return skiff_http_reply_error(req, 500, "out of memory");
	}
	x->bev = skiff_http_hijack(req, x->tty ? "application/vnd.docker.raw-stream"
					       : "application/vnd.docker.multiplexed-stream");
	if (!x->bev) {
		xs_free(x);
		return;
	}
	bufferevent_setcb(x->bev, x_client_read, x_flushed, x_client_event, x);
	bufferevent_enable(x->bev, EV_READ | EV_WRITE);
	x->rows = rows;
	x->cols = cols;
	/* the 101 goes out before the process exists */
	{
		/* a socket bufferevent keeps the start of its output frozen
		 * outside its own write callback */
		struct evbuffer *out = bufferevent_get_output(x->bev);
		evbuffer_unfreeze(out, 1);
		evbuffer_write(out, bufferevent_getfd(x->bev));
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
