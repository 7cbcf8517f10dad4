/* Routes for docker cp: GET/HEAD/PUT /containers/{id}/archive. The work
 * runs in a child (userspace/daemon/archive.c) that answers through a
 * pipe: this file turns its first record into the status line and the
 * X-Docker-Container-Path-Stat header and streams the tar that follows
 * from the event loop, pausing the pipe while the client is slow. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../userspace/daemon/archive.h"
#include "../userspace/daemon/container-config.h"
#include "../userspace/daemon/container.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/log.h"
#include "http.h"
#include "routes.h"

#define PENDING_HIGH (4u << 20) /* stop reading the child above this many queued bytes */
#define PENDING_LOW (1u << 20)

struct cp {
	struct skiff_http_req *req; /* NULL once answered or the client left */
	struct skiff_daemon *d;
	int op;
	char id[65];
	pid_t pid;
	int pidfd, rfd;
	struct event *ev_read, *ev_pid, *ev_wait;
	bool streaming, got_record, pipe_done, reaped;
	size_t have;
	char buf[SKIFF_ARCHIVE_RECORD_MAX];
};

static const char *const events_of[] = {
	[SKIFF_ARCHIVE_STAT] = NULL,
	[SKIFF_ARCHIVE_GET] = "archive-path",
	[SKIFF_ARCHIVE_PUT] = "extract-to-dir",
};

static void cp_maybe_free(struct cp *j)
{
	if (!j->pipe_done || !j->reaped)
		return;
	if (j->req) {
		j->req->on_close = NULL;
		if (j->streaming)
			skiff_http_stream_end(j->req);
		else
			skiff_http_reply_error(j->req, 500, "copying with container %s: the worker exited early",
					       j->id);
	}
	if (j->ev_read)
		event_free(j->ev_read);
	if (j->ev_pid)
		event_free(j->ev_pid);
	if (j->ev_wait)
		event_free(j->ev_wait);
	if (j->rfd >= 0)
		close(j->rfd);
	if (j->pidfd >= 0)
		close(j->pidfd);
	free(j);
}

static void cp_kill(struct cp *j)
{
	if (j->reaped)
		return;
	if (j->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, j->pidfd, SIGKILL, NULL, 0);
	else
		kill(j->pid, SIGKILL);
}

static void cp_client_gone(struct skiff_http_req *req, void *data)
{
	struct cp *j = data;
	(void)req;
	j->req = NULL;
	cp_kill(j);
}

static void cp_emit_event(struct cp *j)
{
	const char *action = events_of[j->op];
	struct skiff_ctr *c;
	if (!action || !(c = skiff_container_find(j->d, j->id, NULL)))
		return; /* removed meanwhile */
	skiff_container_event(j->d, c, action, NULL);
}

/* The first record: status and stat header, or an error reply. */
static void cp_record(struct cp *j, int status, const char *payload, size_t len)
{
	struct skiff_http_req *req = j->req;
	j->got_record = true;
	if (!req)
		return;
	if (status != 0) {
		req->on_close = NULL;
		j->req = NULL;
		skiff_http_reply_error(req, status, "%.*s", (int)len, payload);
		return;
	}
	cp_emit_event(j);
	if (j->op == SKIFF_ARCHIVE_PUT) {
		req->on_close = NULL;
		j->req = NULL;
		skiff_http_reply_empty(req, 200);
		return;
	}
	_cleanup_free_ char *b64 = skiff_base64_encode(payload, len);
	if (b64)
		skiff_http_add_header(req, "X-Docker-Container-Path-Stat", b64);
	if (j->op == SKIFF_ARCHIVE_STAT) {
		req->on_close = NULL;
		j->req = NULL;
		skiff_http_reply_empty(req, 200);
		return;
	}
	skiff_http_stream_start(req, 200, "application/x-tar");
	j->streaming = true;
}

static void cp_on_read(evutil_socket_t fd, short what, void *data);

/* Back-pressure: the pipe is read again once the client drained. */
static void cp_on_wait(evutil_socket_t fd, short what, void *data)
{
	struct cp *j = data;
	struct timeval tv = { 0, 20000 };
	(void)fd;
	(void)what;
	if (j->req && skiff_http_stream_pending(j->req) > PENDING_LOW)
		evtimer_add(j->ev_wait, &tv);
	else
		event_add(j->ev_read, NULL);
}

static void cp_on_read(evutil_socket_t fd, short what, void *data)
{
	struct cp *j = data;
	(void)what;
	for (int rounds = 0; rounds < 16; rounds++) {
		char chunk[65536];
		char *dst = j->got_record ? chunk : j->buf + j->have;
		size_t room = j->got_record ? sizeof(chunk) : sizeof(j->buf) - j->have;
		ssize_t n = read(fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			event_del(j->ev_read);
			j->pipe_done = true;
			cp_maybe_free(j);
			return;
		}
		if (!j->got_record) {
			int status = 0;
			const char *payload;
			size_t plen;
			j->have += (size_t)n;
			ssize_t used = skiff_archive_record_parse(j->buf, j->have, &status, &payload, &plen);
			if (used == 0 && j->have < sizeof(j->buf))
				continue;
			if (used <= 0) {
				/* garbage: answer once, then drain to EOF */
				j->got_record = true;
				if (j->req) {
					j->req->on_close = NULL;
					skiff_http_reply_error(j->req, 500, "copying with container %s: bad worker reply",
							       j->id);
					j->req = NULL;
				}
				cp_kill(j);
				continue;
			}
			cp_record(j, status, payload, plen);
			if (j->streaming && j->have > (size_t)used)
				skiff_http_stream_write(j->req, j->buf + used, j->have - (size_t)used);
			continue;
		}
		if (j->streaming && j->req) {
			skiff_http_stream_write(j->req, chunk, (size_t)n);
			if (skiff_http_stream_pending(j->req) > PENDING_HIGH) {
				struct timeval tv = { 0, 20000 };
				event_del(j->ev_read);
				evtimer_add(j->ev_wait, &tv);
				return;
			}
		}
	}
}

static void cp_on_exit(evutil_socket_t fd, short what, void *data)
{
	struct cp *j = data;
	int st;
	(void)fd;
	(void)what;
	if (waitpid(j->pid, &st, WNOHANG) == 0)
		return;
	if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0))
		log_debug("archive worker %d for container %.12s exited with status %d", (int)j->pid, j->id, st);
	j->reaped = true;
	event_del(j->ev_pid);
	cp_maybe_free(j);
}

static void archive_run(struct skiff_http_req *req, int op)
{
	struct skiff_error err = { 0 };
	const char *path = skiff_http_query(req, "path");
	struct skiff_ctr *c;
	struct cp *j;

	if (!path || !path[0]) {
		skiff_http_reply_error(req, 400, "bad parameter: path cannot be empty");
		return;
	}
	if (!(c = skiff_container_find(req->daemon, req->params[0], &err))) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	struct skiff_archive_req ar = {
		.op = op,
		.path = path,
		.name = req->params[0],
		.body_fd = op == SKIFF_ARCHIVE_PUT ? req->body_fd : -1,
		.no_overwrite_dir_non_dir = skiff_http_query_bool(req, "noOverwriteDirNonDir", false),
		.copy_uid_gid = skiff_http_query_bool(req, "copyUIDGID", false),
	};
	if (!(j = calloc(1, sizeof(*j)))) {
		skiff_http_reply_error(req, 500, "out of memory");
		return;
	}
	j->d = req->daemon;
	j->op = op;
	j->rfd = j->pidfd = -1;
	snprintf(j->id, sizeof(j->id), "%s", c->id);
	if (skiff_archive_spawn(req->daemon, c, &ar, &j->pid, &j->rfd, &err) < 0) {
		free(j);
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	j->ev_read = event_new(req->daemon->base, j->rfd, EV_READ | EV_PERSIST, cp_on_read, j);
	j->ev_wait = evtimer_new(req->daemon->base, cp_on_wait, j);
	j->ev_pid = j->pidfd >= 0 ? event_new(req->daemon->base, j->pidfd, EV_READ | EV_PERSIST, cp_on_exit, j) : NULL;
	if (!j->ev_read || !j->ev_wait || !j->ev_pid || event_add(j->ev_read, NULL) < 0 ||
	    event_add(j->ev_pid, NULL) < 0) {
		/* cannot watch it: finish synchronously rather than leak it */
		int st;
		kill(j->pid, SIGKILL);
		waitpid(j->pid, &st, 0);
		j->reaped = j->pipe_done = true;
		j->req = NULL;
		cp_maybe_free(j);
		skiff_http_reply_error(req, 500, "copying with container %s: %s", c->id, strerror(errno ? errno : ENOMEM));
		return;
	}
	j->req = req;
	req->on_close = cp_client_gone;
	req->on_close_data = j;
}

static void archive_head(struct skiff_http_req *req)
{
	archive_run(req, SKIFF_ARCHIVE_STAT);
}

static void archive_get(struct skiff_http_req *req)
{
	archive_run(req, SKIFF_ARCHIVE_GET);
}

static void archive_put(struct skiff_http_req *req)
{
	archive_run(req, SKIFF_ARCHIVE_PUT);
}

const struct skiff_route skiff_archive_routes[] = {
	/* HEAD first: a GET row would also take HEAD */
	{ .methods = HTTP_HEAD, .pattern = "/containers/{id}/archive", .handler = archive_head },
	{ .methods = HTTP_GET, .pattern = "/containers/{id}/archive", .handler = archive_get },
	{ .methods = HTTP_PUT, .pattern = "/containers/{id}/archive", .handler = archive_put, .spool_body = true },
};
const size_t skiff_archive_nroutes = ARRAY_SIZE(skiff_archive_routes);
