/* The hijacked-stream bridge shared by attach and exec start: client bytes
 * to the process's stdin, its output back (multiplexed without a tty). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../userspace/daemon/daemon.h"
#include "../userspace/lib/log.h"
#include "../userspace/runtime/monitor-client.h"
#include "../userspace/runtime/start-trace.h"
#include "http.h"
#include "stream.h"

struct skiff_stream {
	struct skiff_daemon *d;
	char id[65];
	struct skiff_stream_opts o;
	struct bufferevent *bev;
	struct skiff_attach *a;
	bool client_eof, ended, closing;
	int stdin_fd;
	struct event *stdin_ev;
	struct evbuffer *inbuf; /* client bytes until the process takes them */
	void (*on_free)(void *data, const char *id);
	void *data;
};

static void stream_free(struct skiff_stream *s)
{
	if (s->a)
		skiff_attach_close(s->a);
	if (s->stdin_ev)
		event_free(s->stdin_ev);
	if (s->stdin_fd >= 0)
		close(s->stdin_fd);
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->inbuf)
		evbuffer_free(s->inbuf);
	if (s->on_free)
		s->on_free(s->data, s->id);
	free(s);
}

static void free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	stream_free(arg);
}

/* Out of the current callback stack: the monitor client or libevent may
 * still touch what we would free. */
static void finish(struct skiff_stream *s)
{
	if (s->closing)
		return;
	s->closing = true;
	if (s->bev)
		bufferevent_disable(s->bev, EV_READ);
	if (event_base_once(s->d->base, -1, EV_TIMEOUT, free_cb, s, NULL) < 0)
		log_warn("%s %.12s: cannot schedule teardown", s->o.what, s->id);
}

static void stdin_close(struct skiff_stream *s)
{
	if (s->stdin_ev)
		event_free(s->stdin_ev);
	s->stdin_ev = NULL;
	if (s->stdin_fd >= 0)
		close(s->stdin_fd);
	s->stdin_fd = -1;
}

static void stdin_flush(struct skiff_stream *s)
{
	while (s->stdin_fd >= 0 && s->inbuf && evbuffer_get_length(s->inbuf)) {
		int n = evbuffer_write(s->inbuf, s->stdin_fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				if (s->stdin_ev)
					event_add(s->stdin_ev, NULL);
				return;
			}
			/* the process closed its stdin: drop what the client sends */
			evbuffer_drain(s->inbuf, evbuffer_get_length(s->inbuf));
			stdin_close(s);
			return;
		}
	}
	/* the client's half-close is the process's EOF (docker exec -i < file,
	 * StdinOnce containers) */
	if (s->client_eof && s->o.eof_closes_stdin && s->stdin_fd >= 0 &&
	    (!s->inbuf || !evbuffer_get_length(s->inbuf)))
		stdin_close(s);
}

static void stdin_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	stdin_flush(arg);
}

static void on_stdin(int fd, void *data)
{
	struct skiff_stream *s = data;
	if (fd < 0 || s->closing) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (s->stdin_fd >= 0)
		close(s->stdin_fd);
	s->stdin_fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	s->stdin_ev = event_new(s->d->base, fd, EV_WRITE, stdin_writable, s);
	stdin_flush(s);
}

void skiff_stream_write(struct skiff_stream *s, int stream, const void *buf, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	unsigned char hdr[8];
	if (!s->o.tty) {
		skiff_http_mux_header(hdr, stream, len);
		evbuffer_add(out, hdr, 8);
	}
	evbuffer_add(out, buf, len);
}

static void on_output(int stream, const void *buf, size_t len, void *data)
{
	struct skiff_stream *s = data;
	if (s->closing || !s->bev)
		return;
	if ((stream == 1 && !s->o.out_on) || (stream == 2 && !s->o.err_on))
		return;
	skiff_stream_write(s, stream, buf, len);
}

static void client_flushed(struct bufferevent *bev, void *arg)
{
	struct skiff_stream *s = arg;
	if (s->ended && !evbuffer_get_length(bufferevent_get_output(bev)))
		finish(s);
}

void skiff_stream_end(struct skiff_stream *s)
{
	s->ended = true;
	if (!s->bev || !evbuffer_get_length(bufferevent_get_output(s->bev)))
		finish(s);
	/* else client_flushed finishes once the output is out */
}

static void on_end(void *data)
{
	struct skiff_stream *s = data;
	if (s->o.end_trace)
		START_TRACE(s->id, s->o.end_trace);
	skiff_stream_end(s);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct skiff_stream *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (!s->inbuf) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	evbuffer_add_buffer(s->inbuf, in);
	stdin_flush(s);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct skiff_stream *s = arg;
	(void)bev;
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) && !(what & BEV_EVENT_ERROR)) {
		/* half-close: the client finished sending stdin, output still flows */
		s->client_eof = true;
		stdin_flush(s);
		if (s->ended)
			finish(s);
		return;
	}
	/* the client went away: the process keeps running (Docker does the same) */
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		finish(s);
}

struct skiff_stream *skiff_stream_hijack(struct skiff_http_req *req, const struct skiff_stream_opts *o)
{
	struct skiff_stream *s = calloc(1, sizeof(*s));

	if (!s) {
		skiff_http_reply_error(req, 500, "out of memory");
		return NULL;
	}
	s->d = req->daemon;
	s->stdin_fd = -1;
	s->o = *o;
	memcpy(s->id, o->id, 64);
	if (o->stdin && !(s->inbuf = evbuffer_new())) {
		free(s);
		skiff_http_reply_error(req, 500, "out of memory");
		return NULL;
	}
	s->bev = skiff_http_hijack(req, o->tty ? "application/vnd.docker.raw-stream"
					       : "application/vnd.docker.multiplexed-stream");
	if (!s->bev) {
		stream_free(s);
		return NULL;
	}
	bufferevent_setcb(s->bev, client_read, client_flushed, client_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return s;
}

void skiff_stream_fill_ops(struct skiff_stream *s, struct skiff_attach_ops *ops)
{
	ops->on_stdin = on_stdin;
	ops->on_output = on_output;
	ops->on_end = on_end;
	ops->data = s;
}

void skiff_stream_set_attach(struct skiff_stream *s, struct skiff_attach *a)
{
	s->a = a;
}

void skiff_stream_pump(struct skiff_stream *s)
{
	if (evbuffer_get_length(bufferevent_get_input(s->bev)))
		client_read(s->bev, s);
}

void skiff_stream_set_owner(struct skiff_stream *s, void (*on_free)(void *data, const char *id), void *data)
{
	s->on_free = on_free;
	s->data = data;
}

struct bufferevent *skiff_stream_bev(struct skiff_stream *s)
{
	return s->bev;
}

bool skiff_stream_closing(struct skiff_stream *s)
{
	return s->closing;
}

void *skiff_stream_data(struct skiff_stream *s)
{
	return s->data;
}
