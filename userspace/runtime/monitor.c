/* skiff-monitor's event loop: the control socket, one record per container
 * (pid, pidfd, stdio fds, log writer, attach subscribers), reaping through
 * SIGCHLD (it is a subreaper, so orphaned grandchildren land here too) and
 * exit records written before anyone is told. Kept small on purpose: one
 * shared read buffer, no per-container buffers unless a line is partial or
 * a subscriber is slow. */
#include "monitor.h"
#include "cgroup.h"
#include "logfile.h"
#include "monitor-proto.h"
#include "spawn.h"
#include "exec.h"
#include "start-trace.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../lib/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* How long output may keep flowing after the init exited before the
 * container's cgroup is torn down (which kills whoever still holds the pipes). */
#define DRAIN_TIMEOUT_MS 2000
/* Exit events kept while no skiffd listens; exit.json is the durable record. */
#define MAX_QUEUED_EVENTS 4096

struct ctr;

struct sub {
	struct sub *next;
	struct ctr *c;
	int fd;
	struct event *ev_read;  /* hangup detection */
	struct event *ev_write; /* only while a packet is pending */
	char *pending;          /* one packet the peer had no room for */
	size_t pendlen;
	bool want_stdin, got_stdin, ending;
};

struct stream {
	int fd;
	struct event *ev;
};

struct ctr {
	struct ctr *next;
	struct monitord *m;
	char id[72];
	pid_t pid;
	int pidfd, stdin_fd, tty_fd;
	bool running, exited, tty, stdin_once;
	int status; /* wait status */
	int nopen;  /* output streams not yet at EOF */
	int blocked; /* subscribers with a pending packet: output paused */
	int busy;    /* > 0 while a caller up the stack still uses the record */
	struct stream out[2];
	struct skiff_logwriter log;
	char *exit_path;
	struct timespec started, finished;
	struct event *drain_timer;
	struct sub *subs;
	/* exec'd processes (docker exec, health probes) are records too: same
	 * stdio, subscribers and reaping, but no log, exit.json or cgroup */
	bool is_exec;
	char ctr_id[72];
	int end_code;   /* exit code sent with END to exec subscribers, -1 none */
	char *capture;  /* first capmax bytes of output, returned in the exit event */
	size_t caplen, capmax;
};

struct conn {
	struct conn *next;
	struct monitord *m;
	int fd;
	struct event *ev;
	struct event *ev_write; /* exit events waiting for room */
	bool events; /* subscribed to exit events */
};

struct monitord {
	const struct skiff_monitord_opts *o;
	struct event_base *base;
	struct skiff_cgroup_layout cg;
	bool have_cg;
	int lfd;
	struct event *ev_listen, *ev_chld, *ev_term, *ev_int;
	struct ctr *ctrs;
	struct conn *conns;
	json_t *queue; /* exit events nobody has heard yet */
	char sock_path[4096];
};

/* One read buffer for all containers: the loop is single-threaded. */
static char iobuf[SKIFF_MPROTO_CHUNK];

static void ctr_maybe_free(struct ctr *c);
static void ctr_finalize(struct ctr *c);
static void ctr_resume(struct ctr *c);

/* ---- container records ---- */

static struct ctr *ctr_find(struct monitord *m, const char *id)
{
	for (struct ctr *c = m->ctrs; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

static struct ctr *ctr_get(struct monitord *m, const char *id)
{
	struct ctr *c = ctr_find(m, id);
	if (c)
		return c;
	if (strlen(id) >= sizeof(c->id))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->m = m;
	strcpy(c->id, id);
	c->pidfd = c->stdin_fd = c->tty_fd = -1;
	c->end_code = -1;
	c->out[0].fd = c->out[1].fd = -1;
	c->log.fd = -1;
	c->next = m->ctrs;
	m->ctrs = c;
	return c;
}

static void ctr_unlink(struct ctr *c)
{
	for (struct ctr **p = &c->m->ctrs; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			return;
		}
}

static void stream_close(struct stream *s)
{
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Drops the process side (after exit or a failed spawn): fds, events, log. */
static void ctr_release_proc(struct ctr *c)
{
	for (int i = 0; i < 2; i++)
		stream_close(&c->out[i]);
	c->nopen = 0;
	if (c->drain_timer)
		event_free(c->drain_timer);
	c->drain_timer = NULL;
	if (c->stdin_fd >= 0)
		close(c->stdin_fd);
	if (c->tty_fd >= 0)
		close(c->tty_fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->stdin_fd = c->tty_fd = c->pidfd = -1;
	skiff_logwriter_close(&c->log);
	free(c->exit_path);
	c->exit_path = NULL;
	free(c->capture);
	c->capture = NULL;
	c->caplen = c->capmax = 0;
}

/* ---- attach subscribers ---- */

static void sub_free(struct sub *s)
{
	struct ctr *c = s->c;
	for (struct sub **p = &c->subs; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	if (s->pending) {
		free(s->pending);
		c->blocked--;
	}
	if (s->ev_read)
		event_free(s->ev_read);
	if (s->ev_write)
		event_free(s->ev_write);
	close(s->fd);
	free(s);
	ctr_resume(c);
	ctr_maybe_free(c);
}

static void sub_end(struct sub *s)
{
	int32_t code = s->c->end_code;
	/* exec subscribers learn the exit code with the end of the output, so
	 * the API can answer an inspect right after the stream closed */
	if (s->c->is_exec && code >= 0)
		skiff_mproto_send_typed(s->fd, SKIFF_MPROTO_END, &code, sizeof(code), -1, MSG_DONTWAIT);
	else
		skiff_mproto_send_typed(s->fd, SKIFF_MPROTO_END, NULL, 0, -1, MSG_DONTWAIT);
	sub_free(s);
}

static void sub_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct sub *s = arg;
	(void)what;
	int r = skiff_mproto_send(fd, s->pending, s->pendlen, -1, MSG_DONTWAIT);
	if (r == -EAGAIN)
		return;
	free(s->pending);
	s->pending = NULL;
	s->c->blocked--;
	event_del(s->ev_write);
	if (r < 0) {
		sub_free(s);
		return;
	}
	if (s->ending) {
		sub_end(s);
		return;
	}
	ctr_resume(s->c);
}

static void sub_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sub *s = arg;
	char b[64];
	(void)what;
	/* subscribers say nothing after attaching: data is ignored, EOF drops them */
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		sub_free(s);
}

/* Sends one output packet; a full socket keeps it and pauses the container. */
static void sub_send(struct sub *s, int type, const void *data, size_t len)
{
	if (s->pending || s->ending)
		return;
	int r = skiff_mproto_send_typed(s->fd, type, data, len, -1, MSG_DONTWAIT);
	if (r == 0)
		return;
	if (r != -EAGAIN) {
		sub_free(s);
		return;
	}
	s->pending = malloc(len + 1);
	if (!s->pending) {
		sub_free(s);
		return;
	}
	s->pending[0] = (char)type;
	memcpy(s->pending + 1, data, len);
	s->pendlen = len + 1;
	s->c->blocked++;
	if (!s->ev_write)
		s->ev_write = event_new(s->c->m->base, s->fd, EV_WRITE | EV_PERSIST, sub_on_write, s);
	event_add(s->ev_write, NULL);
}

/* The stdin packet: a dup of the write end travels with it. StdinOnce hands
 * the only copy to the first attacher so its close is the container's EOF. */
static void sub_give_stdin(struct sub *s)
{
	struct ctr *c = s->c;
	int fd = -1;

	if (s->got_stdin || s->ending)
		return;
	s->got_stdin = true;
	if (s->want_stdin && c->stdin_fd >= 0)
		fd = c->stdin_fd;
	if (skiff_mproto_send_typed(s->fd, SKIFF_MPROTO_STDIN, NULL, 0, fd, 0) < 0) {
		sub_free(s);
		return;
	}
	if (fd >= 0 && c->stdin_once) {
		/* tty: the master stays open through tty_fd for output and resize */
		close(c->stdin_fd);
		c->stdin_fd = -1;
	}
}

/* ---- output ---- */

static void ctr_pause(struct ctr *c)
{
	for (int i = 0; i < 2; i++)
		if (c->out[i].ev)
			event_del(c->out[i].ev);
}

static void ctr_resume(struct ctr *c)
{
	if (c->blocked)
		return;
	for (int i = 0; i < 2; i++)
		if (c->out[i].ev)
			event_add(c->out[i].ev, NULL);
}

static void stream_eof(struct ctr *c, int i)
{
	struct timespec now = skiff_now();
	START_TRACE(c->id, i ? "mon:eof2" : "mon:eof1");
	skiff_logwriter_flush(&c->log, i + 1, &now);
	stream_close(&c->out[i]);
	c->nopen--;
	if (c->exited && c->nopen == 0)
		ctr_finalize(c);
}

/* Returns bytes read, 0 at EOF, -EAGAIN when drained. */
static ssize_t stream_read_once(struct ctr *c, int i)
{
	struct timespec now;
	ssize_t n = read(c->out[i].fd, iobuf, sizeof(iobuf));

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return -EAGAIN;
		n = 0; /* EIO: pty slave gone */
	}
	if (n == 0) {
		stream_eof(c, i);
		return 0;
	}
	now = skiff_now();
	if (c->caplen < c->capmax) {
		size_t take = (size_t)n < c->capmax - c->caplen ? (size_t)n : c->capmax - c->caplen;
		memcpy(c->capture + c->caplen, iobuf, take);
		c->caplen += take;
	}
	if (skiff_logwriter_feed(&c->log, i + 1, iobuf, (size_t)n, &now) < 0)
		log_warn("container %.12s: writing log: %s", c->id, strerror(errno));
	for (struct sub *s = c->subs, *next; s; s = next) {
		next = s->next;
		sub_send(s, i + 1, iobuf, (size_t)n);
	}
	if (c->blocked)
		ctr_pause(c);
	return n;
}

static void stream_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct ctr *c = arg;
	(void)what;
	int i = c->out[0].fd == fd ? 0 : 1;
	/* one read per wakeup keeps a chatty container from starving the rest */
	stream_read_once(c, i);
}

/* ---- exit ---- */

static void flush_queue(struct monitord *m, struct conn *k);

/* Every exit goes through the queue, so order holds and a slow or absent
 * skiffd only delays delivery. */
static void emit_exit_event(struct monitord *m, json_t *ev)
{
	if (json_array_size(m->queue) >= MAX_QUEUED_EVENTS)
		json_array_remove(m->queue, 0);
	json_array_append(m->queue, ev);
	for (struct conn *k = m->conns; k; k = k->next)
		if (k->events)
			flush_queue(m, k);
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* exit.json the way every metadata file is written (temp, fsync, rename),
 * except that the fsync of the directory, which makes the rename itself
 * durable, is left to the caller: it runs after the exit is announced, off
 * the path of whoever waits for it. Until then a power loss can leave no
 * record, the same as losing power a moment before the exit; never a torn
 * one. *dirfd: the directory, to fsync (-1 if it could not be opened). */
static int write_exit_record(const char *path, const json_t *rec, int *dirfd)
{
	_cleanup_free_ char *s = json_dumps(rec, JSON_COMPACT), *tmp = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1;
	char *slash;

	if (!s || !(dir = strdup(path)))
		return -ENOMEM;
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (skiff_write_all(fd, s, strlen(s)) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		int r = -errno;
		unlink(tmp);
		return r;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	*dirfd = open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return 0;
}

/* Captured output as valid UTF-8 (JSON strings must be): bad bytes become U+FFFD. */
static char *utf8_clean(const char *in, size_t len)
{
	char *out = malloc(len * 3 + 1), *o = out;
	size_t i = 0;
	if (!out)
		return NULL;
	while (i < len) {
		unsigned char b = (unsigned char)in[i];
		size_t n = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = n > 0 && i + n <= len && b != 0;
		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)in[i + k] & 0xc0) == 0x80;
		if (ok && n == 2)
			ok = b >= 0xc2;
		if (ok) {
			memcpy(o, in + i, n);
			o += n;
			i += n;
		} else {
			o = stpcpy(o, "\xef\xbf\xbd");
			i++;
		}
	}
	*o = '\0';
	return out;
}

static void ctr_finalize(struct ctr *c)
{
	struct monitord *m = c->m;
	_cleanup_json_ json_t *rec = NULL, *ev = NULL;
	_cleanup_close_ int dirfd = -1;
	char when[40];
	int code = exit_code_of(c->status);
	bool oom = !c->is_exec && m->have_cg && skiff_cgroup_oom_killed(&m->cg, c->id);

	START_TRACE(c->id, "mon:finalize");
	c->busy++;
	skiff_time_format(&c->finished, when);
	rec = json_pack("{s:i, s:b, s:s, s:i}", "ExitCode", code, "OOMKilled", oom, "FinishedAt", when, "Pid",
			(int)c->pid);
	if (c->exit_path && rec) {
		int r = write_exit_record(c->exit_path, rec, &dirfd);
		if (r < 0)
			log_warn("container %.12s: writing '%s': %s", c->id, c->exit_path, strerror(-r));
	}
	START_TRACE(c->id, "mon:exit.json");
	if (m->have_cg && !c->is_exec)
		skiff_cgroup_destroy(&m->cg, c->id);
	START_TRACE(c->id, "mon:cg-destroy");
	if (c->is_exec) {
		_cleanup_free_ char *out = utf8_clean(c->capture, c->caplen);
		ev = json_pack("{s:s, s:s, s:s, s:i, s:s}", "event", "exec_exit", "id", c->id, "container", c->ctr_id,
			       "exit_code", code, "output", out ? out : "");
		if (!ev) /* bytes jansson still refuses: the code matters more than the text */
			ev = json_pack("{s:s, s:s, s:s, s:i, s:s}", "event", "exec_exit", "id", c->id, "container",
				       c->ctr_id, "exit_code", code, "output", "");
		c->end_code = code;
	} else {
		log_info("container %.12s: exited with %d%s", c->id, code, oom ? " (OOM killed)" : "");
	}
	ctr_release_proc(c);
	c->exited = false;
	c->pid = 0;
	for (struct sub *s = c->subs, *next; s; s = next) {
		next = s->next;
		s->ending = true;
		if (!s->pending)
			sub_end(s);
	}
	if (!c->is_exec)
		ev = json_pack("{s:s, s:s, s:i, s:b, s:s}", "event", "exit", "id", c->id, "exit_code", code,
			       "oom_killed", oom, "finished_at", when);
	START_TRACE(c->id, "mon:subs-ended");
	if (ev)
		emit_exit_event(m, ev);
	START_TRACE(c->id, "mon:event");
	if (dirfd >= 0)
		fsync(dirfd);
	c->busy--;
	ctr_maybe_free(c);
}

static void drain_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ctr *c = arg;
	(void)fd, (void)what;
	/* something outside the init still holds the pipes: end it, read what is left */
	c->busy++;
	if (c->m->have_cg && !c->is_exec)
		skiff_cgroup_destroy(&c->m->cg, c->id);
	for (int i = 0; i < 2; i++) {
		if (c->out[i].fd < 0)
			continue;
		int guard = 64; /* bounded: a writer outside the cgroup must not keep us here */
		while (c->out[i].fd >= 0 && guard-- > 0 && stream_read_once(c, i) > 0)
			;
		if (c->out[i].fd >= 0)
			stream_eof(c, i);
	}
	c->busy--;
	ctr_maybe_free(c);
}

static void ctr_exited(struct ctr *c, int status)
{
	static const struct timeval drain = { DRAIN_TIMEOUT_MS / 1000, (DRAIN_TIMEOUT_MS % 1000) * 1000 };

	START_TRACE(c->id, "mon:reaped");
	c->running = false;
	c->exited = true;
	c->status = status;
	c->finished = skiff_now();
	if (c->nopen == 0) {
		ctr_finalize(c);
		return;
	}
	c->drain_timer = evtimer_new(c->m->base, drain_on_timeout, c);
	if (c->drain_timer)
		evtimer_add(c->drain_timer, &drain);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct monitord *m = arg;
	(void)sig, (void)what;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		for (struct ctr *c = m->ctrs; c; c = c->next)
			if (c->running && c->pid == pid) {
				ctr_exited(c, status);
				break;
			}
		/* anything else is a reparented grandchild: reaped, nothing to record */
	}
}

static void ctr_maybe_free(struct ctr *c)
{
	if (c->running || c->exited || c->subs || c->busy)
		return;
	ctr_release_proc(c);
	ctr_unlink(c);
	free(c);
}

/* ---- requests ---- */

static json_t *reply_err(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *reply_err(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:i, s:s}", "ok", 0, "status", status, "message", msg);
}

static json_t *reply_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static const char *req_id(const json_t *req)
{
	const char *id = skiff_json_str(req, "id", NULL);
	return id && *id && !strchr(id, '/') && strlen(id) < 72 ? id : NULL;
}

static char *default_path(struct monitord *m, const char *id, const char *suffix)
{
	char *p;
	if (asprintf(&p, "%s/containers/%s/%s%s", m->o->data_root, id, *suffix == '-' ? id : "", suffix) < 0)
		return NULL;
	return p;
}

/* log_path/exit_path: from the request, else from the spec, else the
 * defaults under <data-root>/containers/<id>/. "" turns the log off. */
static char *pick_path(struct monitord *m, const json_t *req, const json_t *spec, const char *key, const char *id,
		       const char *suffix)
{
	const char *v = skiff_json_str(req, key, skiff_json_str(spec, key, NULL));
	return v ? strdup(v) : default_path(m, id, suffix);
}

/* A started process's output is read as it comes (init or exec alike), and
 * subscribers waiting for stdin get it now. A StdinOnce container that
 * nobody attached stdin to keeps its copy here (docker run -d -i); the
 * first stdin attacher takes it. */
static void ctr_watch_output(struct monitord *m, struct ctr *c, const struct skiff_proc *p)
{
	int fds[2] = { p->stdout_fd, p->stderr_fd };
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
		c->out[i].fd = fds[i];
		c->out[i].ev = event_new(m->base, fds[i], EV_READ | EV_PERSIST, stream_on_read, c);
		if (c->out[i].ev)
			event_add(c->out[i].ev, NULL);
		c->nopen++;
	}
	if (c->tty)
		c->tty_fd = p->stdout_fd >= 0 ? fcntl(p->stdout_fd, F_DUPFD_CLOEXEC, 0) : -1;
	for (struct sub *s = c->subs, *next; s; s = next) {
		next = s->next;
		sub_give_stdin(s);
	}
}

static json_t *op_spawn(struct monitord *m, struct conn *k, const json_t *req)
{
	const json_t *spec = json_object_get(req, "spec");
	const char *id = req_id(spec);
	struct skiff_error err = { 0 };
	struct skiff_proc p = { .pid = 0, .pidfd = -1, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	_cleanup_free_ char *log_path = NULL;
	struct ctr *c;
	(void)k;

	if (!json_is_object(spec) || !id)
		return reply_err(400, "spawn: spec with an id required");
	START_TRACE(id, "mon:spawn");
	if (!m->have_cg)
		return reply_err(500, "spawn: no cgroup layout detected on this host");
	c = ctr_get(m, id);
	if (!c)
		return reply_err(500, "spawn: out of memory");
	if (c->running || c->exited)
		return reply_err(409, "container %s is already running", id);
	log_path = pick_path(m, req, spec, "log_path", id, "-json.log");
	c->exit_path = pick_path(m, req, spec, "exit_path", id, "exit.json");
	if (!log_path || !c->exit_path || skiff_logwriter_open(&c->log, log_path, &err) < 0) {
		ctr_release_proc(c);
		ctr_maybe_free(c);
		return reply_err(500, "%s", err.msg[0] ? err.msg : "out of memory");
	}
	START_TRACE(id, "mon:spawn-call");
	if (skiff_spawn(&m->cg, spec, &p, &err) < 0) {
		int code = skiff_mproto_spawn_exit_code(err.status, err.errnum);
		log_info("container %.12s: spawn failed: %s", id, err.msg);
		ctr_release_proc(c);
		/* Docker closes the streams of a start that failed: attachers
		 * waiting for this run end now (docker run --rm nosuch exits) */
		c->busy++;
		while (c->subs)
			sub_end(c->subs);
		c->busy--;
		ctr_maybe_free(c);
		return json_pack("{s:b, s:i, s:s, s:i, s:i}", "ok", 0, "status", err.status ? err.status : 500,
				 "message", err.msg, "exit_code", code, "errno", err.errnum);
	}
	/* none of these may leak into the next container (a stray stdin write
	 * end would keep a StdinOnce container from ever seeing EOF) */
	int own[2] = { p.pidfd, p.stdin_fd };
	for (int i = 0; i < 2; i++)
		if (own[i] >= 0)
			fcntl(own[i], F_SETFD, FD_CLOEXEC);
	c->pid = p.pid;
	c->pidfd = p.pidfd;
	c->stdin_fd = p.stdin_fd;
	c->tty = skiff_json_bool(spec, "tty", false);
	c->stdin_once = skiff_json_bool(spec, "stdin_once", false);
	c->running = true;
	c->started = skiff_now();
	ctr_watch_output(m, c, &p);
	log_info("container %.12s: started pid %d", id, (int)p.pid);
	START_TRACE(id, "mon:spawned");
	return json_pack("{s:b, s:i}", "ok", 1, "pid", (int)p.pid);
}

/* A process in a running container (docker exec, health probes): the
 * record is keyed by the exec id; its output goes to its subscribers only
 * (and, with "capture", into the exit event), never to the container's log. */
static json_t *op_exec(struct monitord *m, struct conn *k, const json_t *req)
{
	const json_t *spec = json_object_get(req, "spec");
	const char *id = req_id(spec), *cid = skiff_json_str(spec, "container", "");
	struct ctr *owner = ctr_find(m, cid), *c;
	struct skiff_error err = { 0 };
	struct skiff_proc p;
	(void)k;

	if (!json_is_object(spec) || !id)
		return reply_err(400, "exec: spec with an id required");
	if (!owner || owner->is_exec || !owner->running || owner->pidfd < 0)
		return reply_err(409, "container %s is not running", cid);
	if (!m->have_cg)
		return reply_err(500, "exec: no cgroup layout detected on this host");
	c = ctr_get(m, id);
	if (!c)
		return reply_err(500, "exec: out of memory");
	if (c->running || c->exited)
		return reply_err(409, "exec %s is already running", id);
	c->is_exec = true;
	snprintf(c->ctr_id, sizeof(c->ctr_id), "%s", cid);
	if (skiff_exec_spawn(&m->cg, owner->pidfd, spec, &p, &err) < 0) {
		int code = skiff_mproto_spawn_exit_code(err.status, err.errnum);
		ctr_release_proc(c);
		c->busy++;
		while (c->subs)
			sub_end(c->subs);
		c->busy--;
		ctr_maybe_free(c);
		return json_pack("{s:b, s:i, s:s, s:i, s:i}", "ok", 0, "status", err.status ? err.status : 500,
				 "message", err.msg, "exit_code", code, "errno", err.errnum);
	}
	int64_t cap = skiff_json_int(spec, "capture", 0);
	if (cap > 0 && cap <= (1 << 20) && (c->capture = malloc((size_t)cap)))
		c->capmax = (size_t)cap;
	c->pid = p.pid;
	c->pidfd = p.pidfd;
	c->stdin_fd = p.stdin_fd;
	c->tty = skiff_json_bool(spec, "tty", false);
	c->stdin_once = true; /* the exec's stdin ends when its one client half-closes */
	c->running = true;
	c->started = skiff_now();
	ctr_watch_output(m, c, &p);
	return json_pack("{s:b, s:i}", "ok", 1, "pid", (int)p.pid);
}

static json_t *op_kill(struct monitord *m, struct conn *k, const json_t *req)
{
	const char *id = req_id(req);
	struct ctr *c = id ? ctr_find(m, id) : NULL;
	int sig = (int)skiff_json_int(req, "signal", SIGKILL);
	(void)k;

	if (!c || !c->running)
		return reply_err(409, "container %s is not running", id ? id : "");
	if (sig <= 0 || sig >= 65)
		return reply_err(400, "invalid signal %d", sig);
	int r = c->pidfd >= 0 ? (int)syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) : kill(c->pid, sig);
	if (r < 0) {
		if (errno == ESRCH)
			return reply_err(409, "container %s is not running", id);
		return reply_err(500, "signalling container %s: %s", id, strerror(errno));
	}
	return reply_ok();
}

static json_t *op_resize(struct monitord *m, struct conn *k, const json_t *req)
{
	const char *id = req_id(req);
	struct ctr *c = id ? ctr_find(m, id) : NULL;
	struct winsize ws = { .ws_row = (unsigned short)skiff_json_int(req, "rows", 24),
			      .ws_col = (unsigned short)skiff_json_int(req, "cols", 80) };
	(void)k;

	if (!c || !c->running)
		return reply_err(409, "container %s is not running", id ? id : "");
	if (c->tty_fd < 0)
		return reply_err(400, "container %s has no tty", id);
	if (ioctl(c->tty_fd, TIOCSWINSZ, &ws) < 0)
		return reply_err(500, "resizing tty of %s: %s", id, strerror(errno));
	return reply_ok();
}

static json_t *op_list(struct monitord *m, struct conn *k, const json_t *req)
{
	json_t *all = json_object();
	(void)k, (void)req;
	for (struct ctr *c = m->ctrs; c; c = c->next) {
		char when[40];
		if (!c->running || c->is_exec)
			continue;
		skiff_time_format(&c->started, when);
		json_object_set_new(all, c->id, json_pack("{s:i, s:s}", "pid", (int)c->pid, "started_at", when));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "containers", all);
}

static json_t *op_forget(struct monitord *m, struct conn *k, const json_t *req)
{
	const char *id = req_id(req);
	struct ctr *c = id ? ctr_find(m, id) : NULL;
	size_t i;
	json_t *ev;
	(void)k;

	START_TRACE(id, "mon:forget");
	if (c && (c->running || c->exited))
		return reply_err(409, "container %s is running", id);
	if (c) {
		c->busy++;
		while (c->subs)
			sub_end(c->subs);
		c->busy--;
		ctr_maybe_free(c);
	}
	json_array_foreach(m->queue, i, ev)
	{
		if (id && !strcmp(skiff_json_str(ev, "id", ""), id)) {
			json_array_remove(m->queue, i);
			i--;
		}
	}
	return reply_ok();
}

static json_t *op_ping(struct monitord *m, struct conn *k, const json_t *req)
{
	(void)m, (void)k, (void)req;
	return json_pack("{s:b, s:i}", "ok", 1, "pid", (int)getpid());
}

/* The events connection: queued exits go out right after the reply. */
static json_t *op_subscribe(struct monitord *m, struct conn *k, const json_t *req)
{
	(void)m, (void)req;
	k->events = true;
	return reply_ok();
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *k = arg;
	(void)fd, (void)what;
	flush_queue(k->m, k);
}

static void flush_queue(struct monitord *m, struct conn *k)
{
	while (json_array_size(m->queue)) {
		int r = skiff_mproto_send_json(k->fd, json_array_get(m->queue, 0), -1, MSG_DONTWAIT);
		if (r == -EAGAIN) {
			if (!k->ev_write)
				k->ev_write = event_new(m->base, k->fd, EV_WRITE, conn_on_write, k);
			if (k->ev_write)
				event_add(k->ev_write, NULL);
			return;
		}
		if (r < 0)
			return; /* the read side sees the hangup and frees k */
		json_array_remove(m->queue, 0);
	}
}

static const struct {
	const char *op;
	json_t *(*fn)(struct monitord *m, struct conn *k, const json_t *req);
} ops[] = {
	{ .op = "spawn", .fn = op_spawn },   { .op = "kill", .fn = op_kill },
	{ .op = "resize", .fn = op_resize }, { .op = "list", .fn = op_list },
	{ .op = "forget", .fn = op_forget }, { .op = "ping", .fn = op_ping },
	{ .op = "subscribe", .fn = op_subscribe }, { .op = "exec", .fn = op_exec },
};

static void conn_free(struct conn *k, bool close_fd)
{
	for (struct conn **p = &k->m->conns; *p; p = &(*p)->next)
		if (*p == k) {
			*p = k->next;
			break;
		}
	event_free(k->ev);
	if (k->ev_write)
		event_free(k->ev_write);
	if (close_fd)
		close(k->fd);
	free(k);
}

/* Turns a connection into an attach subscriber for id. */
static void conn_to_sub(struct conn *k, const json_t *req)
{
	struct monitord *m = k->m;
	const char *id = req_id(req);
	int fd = k->fd;
	struct ctr *c = id ? ctr_get(m, id) : NULL;
	struct sub *s = c ? calloc(1, sizeof(*s)) : NULL;

	if (!s) {
		_cleanup_json_ json_t *r = reply_err(400, "attach: bad id");
		skiff_mproto_send_json(fd, r, -1, MSG_DONTWAIT);
		conn_free(k, true);
		if (c)
			ctr_maybe_free(c);
		return;
	}
	conn_free(k, false);
	s->fd = fd;
	s->c = c;
	s->want_stdin = skiff_json_bool(req, "stdin", false);
	s->ev_read = event_new(m->base, fd, EV_READ | EV_PERSIST, sub_on_read, s);
	event_add(s->ev_read, NULL);
	s->next = c->subs;
	c->subs = s;
	/* output buffered by the kernel for a slow reader, not by us */
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (skiff_mproto_send_typed(fd, SKIFF_MPROTO_ACK, NULL, 0, -1, MSG_DONTWAIT) < 0) {
		sub_free(s);
		return;
	}
	if (c->running)
		sub_give_stdin(s);
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *k = arg;
	struct monitord *m = k->m;
	_cleanup_json_ json_t *req = NULL, *rep = NULL;
	const char *op;
	(void)what;

	int r = skiff_mproto_recv_json(fd, &req, NULL, MSG_DONTWAIT);
	if (r == -EAGAIN || r == -EINTR)
		return;
	if (r == -EBADMSG || r == -EMSGSIZE) {
		rep = reply_err(400, "malformed request");
		skiff_mproto_send_json(fd, rep, -1, MSG_DONTWAIT);
		return;
	}
	if (r < 0) {
		conn_free(k, true);
		return;
	}
	op = skiff_json_str(req, "op", "");
	if (!strcmp(op, "attach")) {
		conn_to_sub(k, req);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (!strcmp(op, ops[i].op)) {
			rep = ops[i].fn(m, k, req);
			break;
		}
	if (!rep)
		rep = reply_err(400, "unknown op '%s'", op);
	/* the client waits for its reply; one that lets replies pile up is dropped
	 * rather than allowed to stall every container's output */
	if (skiff_mproto_send_json(fd, rep, -1, MSG_DONTWAIT) < 0) {
		conn_free(k, true);
		return;
	}
	if (k->events)
		flush_queue(m, k);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct monitord *m = arg;
	(void)what;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct conn *k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return;
	}
	k->m = m;
	k->fd = fd;
	k->ev = event_new(m->base, fd, EV_READ | EV_PERSIST, conn_on_read, k);
	event_add(k->ev, NULL);
	k->next = m->conns;
	m->conns = k;
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct monitord *m = arg;
	int n = 0;
	(void)what;
	for (struct ctr *c = m->ctrs; c; c = c->next)
		n += c->running || c->exited;
	if (n && !m->o->force) {
		log_warn("signal %d: %d container(s) still running, not exiting (use --force)", (int)sig, n);
		return;
	}
	log_info("signal %d: exiting", (int)sig);
	event_base_loopexit(m->base, NULL);
}

/* ---- setup ---- */

static int listen_on(struct monitord *m, struct skiff_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (strlen(m->sock_path) >= sizeof(sa.sun_path))
		return skiff_error_set(err, SKIFF_EINVAL, ENAMETOOLONG, "socket path '%s' too long", m->sock_path);
	strcpy(sa.sun_path, m->sock_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating socket");
	unlink(m->sock_path); /* stale: we hold the lock, so no monitor owns it */
	old = umask(0077);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(m->sock_path, 0600) < 0 || listen(fd, 128) < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "listening on '%s'", m->sock_path);
		close(fd);
		return r;
	}
	m->lfd = fd;
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void monitord_cleanup(struct monitord *m)
{
	while (m->conns)
		conn_free(m->conns, true);
	while (m->ctrs) {
		struct ctr *c = m->ctrs;
		c->running = c->exited = false;
		c->busy++;
		while (c->subs)
			sub_free(c->subs);
		c->busy--;
		ctr_maybe_free(c);
	}
	if (m->ev_listen)
		event_free(m->ev_listen);
	if (m->ev_chld)
		event_free(m->ev_chld);
	if (m->ev_term)
		event_free(m->ev_term);
	if (m->ev_int)
		event_free(m->ev_int);
	if (m->lfd >= 0) {
		close(m->lfd);
		unlink(m->sock_path);
	}
	json_decref(m->queue);
	if (m->base)
		event_base_free(m->base);
}

int skiff_monitord_run(const struct skiff_monitord_opts *o, struct skiff_error *err)
{
	struct monitord m = { .o = o, .lfd = -1 };
	_cleanup_free_ char *lock_path = NULL, *pid_path = NULL;
	_cleanup_close_ int lockfd = -1;
	char pidbuf[32];
	int r;

	r = skiff_mkdir_p(o->exec_root, 0700);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating '%s'", o->exec_root);
	lock_path = skiff_path_join(o->exec_root, "monitor.lock");
	pid_path = skiff_path_join(o->exec_root, "monitor.pid");
	if (!lock_path || !pid_path)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	lockfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening '%s'", lock_path);
	if (flock(lockfd, LOCK_EX | LOCK_NB) < 0)
		return skiff_error_set(err, SKIFF_ECONFLICT, EEXIST, "another skiff-monitor runs for '%s'",
				       o->exec_root);
	snprintf(m.sock_path, sizeof(m.sock_path), "%s/monitor.sock", o->exec_root);

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "becoming a subreaper");
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	r = skiff_cgroup_detect(&m.cg, err);
	if (r < 0)
		log_warn("no cgroup layout: %s (spawn will fail)", err->msg);
	else
		m.have_cg = true;
	if (o->cgroup_parent && *o->cgroup_parent)
		snprintf(m.cg.parent, sizeof(m.cg.parent), "%s", o->cgroup_parent);
	skiff_error_clear(err);

	m.queue = json_array();
	m.base = event_base_new();
	if (!m.base || !m.queue) {
		monitord_cleanup(&m);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "creating the event loop");
	}
	r = listen_on(&m, err);
	if (r < 0) {
		monitord_cleanup(&m);
		return r;
	}
	m.ev_listen = event_new(m.base, m.lfd, EV_READ | EV_PERSIST, on_accept, &m);
	m.ev_chld = evsignal_new(m.base, SIGCHLD, on_sigchld, &m);
	m.ev_term = evsignal_new(m.base, SIGTERM, on_term, &m);
	m.ev_int = evsignal_new(m.base, SIGINT, on_term, &m);
	event_add(m.ev_listen, NULL);
	event_add(m.ev_chld, NULL);
	event_add(m.ev_term, NULL);
	event_add(m.ev_int, NULL);
	snprintf(pidbuf, sizeof(pidbuf), "%d\n", (int)getpid());
	skiff_write_atomic(pid_path, pidbuf, strlen(pidbuf), 0644);
	/* zombies that arrived before the handler was installed */
	on_sigchld(SIGCHLD, 0, &m);
	log_info("listening on %s (cgroups: %s)", m.sock_path, m.have_cg ? skiff_cgroup_mode_name(m.cg.mode) : "none");

	event_base_dispatch(m.base);

	/* leave the host as we found it when no container is left */
	if (m.have_cg)
		skiff_cgroup_remove_parent(&m.cg);
	monitord_cleanup(&m);
	unlink(pid_path);
	return 0;
}
