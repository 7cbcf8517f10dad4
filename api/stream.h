/* The hijacked-stream bridge shared by attach and exec start: client bytes
 * to the process's stdin, its output back (multiplexed without a tty). */
#ifndef SKIFF_API_STREAM_H
#define SKIFF_API_STREAM_H

#include <stdbool.h>
#include <stddef.h>

struct bufferevent;
struct skiff_attach;
struct skiff_attach_ops;
struct skiff_http_req;
struct skiff_stream;

struct skiff_stream_opts {
	const char *what;      /* "attach" or "exec", for the log */
	const char *id;        /* the container's or exec's id (64 hex) */
	bool tty;              /* raw output; else 8-byte multiplexing headers */
	bool stdin;            /* forward the client's bytes to the process */
	bool eof_closes_stdin; /* the client's half-close closes the process's stdin */
	bool out_on, err_on;   /* which of the process's streams reach the client */
	const char *end_trace; /* START_TRACE phase when the process ends, or NULL */
};

/* Hijacks req (101 or 200 with the docker stream content type). On failure
 * the reply is sent (or the client is gone) and NULL is returned. */
struct skiff_stream *skiff_stream_hijack(struct skiff_http_req *req, const struct skiff_stream_opts *o);
/* on_stdin, on_output, on_end and data for the monitor; callers may add on_exit_code */
void skiff_stream_fill_ops(struct skiff_stream *s, struct skiff_attach_ops *ops);
/* the monitor attachment, closed when the stream is freed */
void skiff_stream_set_attach(struct skiff_stream *s, struct skiff_attach *a);
/* writes one chunk to the client (framed unless tty), whatever out_on/err_on say */
void skiff_stream_write(struct skiff_stream *s, int stream, const void *buf, size_t len);
/* no more output: closes the stream once the client has it all */
void skiff_stream_end(struct skiff_stream *s);
/* forwards bytes the client already sent (with the request) */
void skiff_stream_pump(struct skiff_stream *s);
/* on_free(data, id) runs last when the stream is freed */
void skiff_stream_set_owner(struct skiff_stream *s, void (*on_free)(void *data, const char *id), void *data);
struct bufferevent *skiff_stream_bev(struct skiff_stream *s);
bool skiff_stream_closing(struct skiff_stream *s);
void *skiff_stream_data(struct skiff_stream *s);

#endif
