/* skiffd's side of skiff-monitor: starts it detached when nothing answers,
 * keeps two connections (a synchronous request/reply one and an event one
 * watched by libevent, so replies and exit events never interleave) and one
 * connection per attach. A dead monitor ends every attach; the next request
 * reconnects (starting a new monitor if needed). */
#include "monitor-client.h"
#include "monitor-proto.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 2000
#define REPLY_TIMEOUT_MS 60000
#define ACK_TIMEOUT_MS 5000

struct skiff_monitor {
	struct event_base *base;
	char *monitor_bin, *exec_root, *data_root, *sock_path;
	struct skiff_monitor_ops ops;
	int req_fd, ev_fd;
	struct event *ev;
	struct skiff_attach *attaches;
	void (*exec_fn)(const struct skiff_monitor_exec_exit *ex, void *data);
	void *exec_data;
};

struct skiff_attach {
	struct skiff_attach *next;
	struct skiff_monitor *m;
	int fd;
	struct event *ev;
	struct skiff_attach_ops ops;
	bool ended, closed;
	int busy;
};

static int status_errno(int status)
{
	static const struct {
		int status, errnum;
	} map[] = {
		{ SKIFF_EINVAL, EINVAL }, { SKIFF_ENOTFOUND, ENOENT }, { SKIFF_ECONFLICT, EBUSY },
		{ SKIFF_ENOTIMPL, ENOSYS }, { SKIFF_EUNAVAIL, EOPNOTSUPP },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (map[i].status == status)
			return map[i].errnum;
	return EIO;
}

/* Waits for fd to become readable; -ETIMEDOUT after ms. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* ---- attach ---- */

static void attach_unlink(struct skiff_attach *a)
{
	if (!a->m)
		return;
	for (struct skiff_attach **p = &a->m->attaches; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	a->m = NULL;
}

static void attach_teardown(struct skiff_attach *a)
{
	if (a->ev)
		event_free(a->ev);
	a->ev = NULL;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	attach_unlink(a);
}

static void attach_end(struct skiff_attach *a)
{
	if (a->ended)
		return;
	a->ended = true;
	attach_teardown(a);
	if (a->ops.on_end && !a->closed) {
		a->busy++;
		a->ops.on_end(a->ops.data);
		a->busy--;
		if (a->closed && !a->busy)
			free(a); /* closed from inside on_end */
	}
}

static void attach_on_read(evutil_socket_t fd, short what, void *arg)
{
	static char buf[SKIFF_MPROTO_CHUNK + 1];
	struct skiff_attach *a = arg;
	(void)what;

	a->busy++;
	/* a few packets per wakeup: fair to other connections on the loop */
	for (int i = 0; i < 16 && !a->ended && !a->closed; i++) {
		int passfd = -1;
		ssize_t n = skiff_mproto_recv_buf(fd, buf, sizeof(buf), &passfd, MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n <= 0) {
			attach_end(a);
			break;
		}
		switch (buf[0]) {
		case SKIFF_MPROTO_STDIN:
			if (a->ops.on_stdin)
				a->ops.on_stdin(passfd, a->ops.data);
			else if (passfd >= 0)
				close(passfd);
			passfd = -1;
			break;
		case SKIFF_MPROTO_STDOUT:
		case SKIFF_MPROTO_STDERR:
			if (a->ops.on_output)
				a->ops.on_output(buf[0], buf + 1, (size_t)n - 1, a->ops.data);
			break;
		case SKIFF_MPROTO_END:
			if (n >= 5 && a->ops.on_exit_code) {
				int32_t code;
				memcpy(&code, buf + 1, sizeof(code));
				a->ops.on_exit_code(code, a->ops.data);
			}
			attach_end(a);
			break;
		default:
			break;
		}
		if (passfd >= 0)
			close(passfd);
	}
	a->busy--;
	if (a->closed && !a->busy) {
		attach_teardown(a);
		free(a);
	}
}

void skiff_attach_close(struct skiff_attach *a)
{
	if (!a)
		return;
	a->closed = true;
	if (a->busy)
		return; /* attach_on_read frees it when the callback returns */
	attach_teardown(a);
	free(a);
}

/* ---- connection management ---- */

/* The monitor went away: every attach ends; requests reconnect lazily. */
static void mon_lost(struct skiff_monitor *m)
{
	if (m->ev)
		event_free(m->ev);
	m->ev = NULL;
	if (m->ev_fd >= 0)
		close(m->ev_fd);
	if (m->req_fd >= 0)
		close(m->req_fd);
	m->ev_fd = m->req_fd = -1;
	while (m->attaches)
		attach_end(m->attaches);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_monitor *m = arg;
	(void)what;

	for (int i = 0; i < 64; i++) {
		_cleanup_json_ json_t *ev = NULL;
		int r = skiff_mproto_recv_json(fd, &ev, NULL, MSG_DONTWAIT);
		if (r == -EAGAIN || r == -EINTR)
			return;
		if (r == -EBADMSG)
			continue;
		if (r < 0) {
			mon_lost(m);
			return;
		}
		if (!strcmp(skiff_json_str(ev, "event", ""), "exec_exit") && m->exec_fn) {
			struct skiff_monitor_exec_exit ex = {
				.id = skiff_json_str(ev, "id", ""),
				.container = skiff_json_str(ev, "container", ""),
				.exit_code = (int)skiff_json_int(ev, "exit_code", 255),
				.output = skiff_json_str(ev, "output", ""),
			};
			m->exec_fn(&ex, m->exec_data);
			continue;
		}
		if (strcmp(skiff_json_str(ev, "event", ""), "exit") != 0 || !m->ops.on_exit)
			continue;
		struct skiff_monitor_exit ex = {
			.id = skiff_json_str(ev, "id", ""),
			.exit_code = (int)skiff_json_int(ev, "exit_code", 255),
			.oom_killed = skiff_json_bool(ev, "oom_killed", false),
			.finished_at = skiff_json_str(ev, "finished_at", "0001-01-01T00:00:00Z"),
		};
		m->ops.on_exit(&ex, m->ops.data);
	}
}

/* fork, setsid, fork: the monitor is nobody's child but init's (or our
 * subreaper's), so skiffd dying — or being killed with its process group —
 * does not take it along. */
static int start_monitor(struct skiff_monitor *m, struct skiff_error *err)
{
	pid_t pid;
	int status;

	if (access(m->monitor_bin, X_OK) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "starting skiff-monitor '%s'", m->monitor_bin);
	pid = fork();
	if (pid < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "starting skiff-monitor: fork");
	if (pid == 0) {
		static const int sigs[] = { SIGCHLD, SIGPIPE, SIGTERM, SIGINT, SIGHUP };
		char logp[4096];
		sigset_t all;

		setsid();
		if (fork() != 0)
			_exit(0);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
			signal(sigs[i], SIG_DFL);
		skiff_mkdir_p(m->exec_root, 0700);
		snprintf(logp, sizeof(logp), "%s/monitor.log", m->exec_root);
		int nul = open("/dev/null", O_RDWR);
		int lg = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (nul >= 0)
			dup2(nul, 0);
		if (lg < 0)
			lg = nul;
		if (lg >= 0) {
			dup2(lg, 1);
			dup2(lg, 2);
		}
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execl(m->monitor_bin, m->monitor_bin, "--exec-root", m->exec_root, "--data-root", m->data_root,
		      (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static int connect_or_start(struct skiff_monitor *m, struct skiff_error *err)
{
	struct timespec t0, now;
	bool started = false;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		fd = skiff_mproto_connect(m->sock_path);
		if (fd >= 0)
			return fd;
		if (fd != -ENOENT && fd != -ECONNREFUSED)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "connecting to skiff-monitor at '%s'",
					       m->sock_path);
		if (!started) {
			int r = start_monitor(m, err);
			if (r < 0)
				return r;
			started = true;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > START_TIMEOUT_MS)
			return skiff_error_set(err, SKIFF_EINTERNAL, ETIMEDOUT,
					       "skiff-monitor did not come up on '%s' (see %s/monitor.log)",
					       m->sock_path, m->exec_root);
		usleep(10000);
	}
}

/* Sends req on fd and waits for its reply. */
static int roundtrip(int fd, const json_t *req, json_t **rep)
{
	int r = skiff_mproto_send_json(fd, req, -1, 0);
	if (r < 0)
		return r;
	r = wait_readable(fd, REPLY_TIMEOUT_MS);
	if (r < 0)
		return r;
	return skiff_mproto_recv_json(fd, rep, NULL, 0);
}

static int mon_connect(struct skiff_monitor *m, struct skiff_error *err)
{
	_cleanup_json_ json_t *sub = json_pack("{s:s}", "op", "subscribe"), *rep = NULL;
	int r;

	if (m->req_fd >= 0)
		return 0;
	r = connect_or_start(m, err);
	if (r < 0)
		return r;
	m->req_fd = r;
	r = skiff_mproto_connect(m->sock_path);
	if (r < 0)
		goto fail;
	m->ev_fd = r;
	r = roundtrip(m->ev_fd, sub, &rep);
	if (r < 0 || !skiff_json_bool(rep, "ok", false)) {
		r = r < 0 ? r : -EPROTO;
		goto fail;
	}
	fcntl(m->ev_fd, F_SETFL, fcntl(m->ev_fd, F_GETFL) | O_NONBLOCK);
	m->ev = event_new(m->base, m->ev_fd, EV_READ | EV_PERSIST, on_event, m);
	if (!m->ev || event_add(m->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	mon_lost(m);
	return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "connecting to skiff-monitor at '%s'", m->sock_path);
}

/* Sends one request; a connection that breaks is dropped so the next call
 * reconnects. A request that never reached the monitor is retried once. */
static int request_send(struct skiff_monitor *m, const json_t *req, struct skiff_error *err)
{
	const char *what = skiff_json_str(req, "op", "?");
	int r;

	for (int attempt = 0;; attempt++) {
		r = mon_connect(m, err);
		if (r < 0)
			return skiff_error_wrap(err, "monitor %s", what);
		r = skiff_mproto_send_json(m->req_fd, req, -1, 0);
		if (r == 0)
			return 0;
		mon_lost(m);
		if (attempt || (r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN))
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "monitor %s", what);
	}
}

/* Waits for the reply of the request just sent. */
static int request_recv(struct skiff_monitor *m, const char *what, json_t **out, struct skiff_error *err)
{
	_cleanup_json_ json_t *rep = NULL;
	int r;

	if (m->req_fd < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOTCONN, "monitor %s: connection to skiff-monitor lost",
				       what);
	r = wait_readable(m->req_fd, REPLY_TIMEOUT_MS);
	if (r == 0)
		r = skiff_mproto_recv_json(m->req_fd, &rep, NULL, 0);
	if (r < 0) {
		mon_lost(m);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "monitor %s: connection to skiff-monitor lost", what);
	}
	if (!skiff_json_bool(rep, "ok", false)) {
		int status = (int)skiff_json_int(rep, "status", SKIFF_EINTERNAL);
		int errnum = (int)skiff_json_int(rep, "errno", 0);
		return skiff_error_set(err, status, errnum ? errnum : status_errno(status), "%s",
				       skiff_json_str(rep, "message", "skiff-monitor failed"));
	}
	if (out)
		*out = TAKE_PTR(rep);
	return 0;
}

static int request(struct skiff_monitor *m, const json_t *req, json_t **out, struct skiff_error *err)
{
	int r = request_send(m, req, err);
	return r < 0 ? r : request_recv(m, skiff_json_str(req, "op", "?"), out, err);
}

/* ---- public ---- */

int skiff_monitor_connect(struct event_base *base, const char *monitor_bin, const char *exec_root,
			  const char *data_root, const struct skiff_monitor_ops *ops, struct skiff_monitor **out,
			  struct skiff_error *err)
{
	struct skiff_monitor *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	m->base = base;
	m->req_fd = m->ev_fd = -1;
	if (ops)
		m->ops = *ops;
	m->monitor_bin = strdup(monitor_bin);
	m->exec_root = strdup(exec_root);
	m->data_root = strdup(data_root);
	m->sock_path = skiff_path_join(exec_root, "monitor.sock");
	if (!m->monitor_bin || !m->exec_root || !m->data_root || !m->sock_path) {
		skiff_monitor_free(m);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	r = mon_connect(m, err);
	if (r < 0) {
		skiff_monitor_free(m);
		return r;
	}
	*out = m;
	return 0;
}

void skiff_monitor_free(struct skiff_monitor *m)
{
	if (!m)
		return;
	mon_lost(m);
	free(m->monitor_bin);
	free(m->exec_root);
	free(m->data_root);
	free(m->sock_path);
	free(m);
}

int skiff_monitor_spawn_send(struct skiff_monitor *m, const json_t *spec, struct skiff_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s, s:O}", "op", "spawn", "spec", spec);

	if (!req)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return request_send(m, req, err);
}

int skiff_monitor_spawn_finish(struct skiff_monitor *m, pid_t *pid, struct skiff_error *err)
{
	_cleanup_json_ json_t *rep = NULL;
	int r = request_recv(m, "spawn", &rep, err);

	if (r < 0)
		return r;
	if (pid)
		*pid = (pid_t)skiff_json_int(rep, "pid", 0);
	return 0;
}

int skiff_monitor_spawn(struct skiff_monitor *m, const json_t *spec, pid_t *pid, struct skiff_error *err)
{
	int r = skiff_monitor_spawn_send(m, spec, err);
	return r < 0 ? r : skiff_monitor_spawn_finish(m, pid, err);
}

int skiff_monitor_spawn_exit_code(const struct skiff_error *err)
{
	return skiff_mproto_spawn_exit_code(err->status, err->errnum);
}

int skiff_monitor_kill(struct skiff_monitor *m, const char *id, int sig, struct skiff_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s, s:s, s:i}", "op", "kill", "id", id, "signal", sig);
	if (!req)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return request(m, req, NULL, err);
}

int skiff_monitor_resize(struct skiff_monitor *m, const char *id, int rows, int cols, struct skiff_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s, s:s, s:i, s:i}", "op", "resize", "id", id, "rows", rows,
					       "cols", cols);
	if (!req)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return request(m, req, NULL, err);
}

int skiff_monitor_list(struct skiff_monitor *m, json_t **out, struct skiff_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s}", "op", "list"), *rep = NULL;
	int r = request(m, req, &rep, err);
	if (r < 0)
		return r;
	json_t *c = json_object_get(rep, "containers");
	*out = json_is_object(c) ? json_incref(c) : json_object();
	return 0;
}

int skiff_monitor_forget(struct skiff_monitor *m, const char *id, struct skiff_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s, s:s}", "op", "forget", "id", id);
	if (!req)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	/* nothing waits for the answer (removal is on the path of wait
	 * ?condition=removed and the monitor may be busy finishing the exit):
	 * sent on the event connection, whose reader skips what is not an exit */
	if (m->ev_fd >= 0 && skiff_mproto_send_json(m->ev_fd, req, -1, MSG_DONTWAIT) == 0)
		return 0;
	return request(m, req, NULL, err);
}

int skiff_monitor_attach(struct skiff_monitor *m, const char *id, bool want_stdin, const struct skiff_attach_ops *ops,
			 struct skiff_attach **out, struct skiff_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s, s:s, s:b}", "op", "attach", "id", id, "stdin", want_stdin);
	_cleanup_close_ int fd = -1;
	char ack[512];
	struct skiff_attach *a;
	ssize_t n;
	int r;

	r = mon_connect(m, err);
	if (r < 0)
		return skiff_error_wrap(err, "attaching to %s", id);
	fd = skiff_mproto_connect(m->sock_path);
	if (fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "attaching to %s", id);
	r = skiff_mproto_send_json(fd, req, -1, 0);
	if (r == 0)
		r = wait_readable(fd, ACK_TIMEOUT_MS);
	/* the ack means the subscription is registered: a spawn sent after
	 * this returns cannot lose the first bytes */
	n = r < 0 ? r : skiff_mproto_recv_buf(fd, ack, sizeof(ack) - 1, NULL, 0);
	if (n < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, (int)-n, "attaching to %s", id);
	if (n != 1 || ack[0] != SKIFF_MPROTO_ACK) {
		_cleanup_json_ json_t *rep = NULL;
		ack[n] = '\0';
		rep = json_loads(ack, 0, NULL);
		return skiff_error_set(err, (int)skiff_json_int(rep, "status", SKIFF_EINTERNAL), EPROTO,
				       "attaching to %s: %s", id, skiff_json_str(rep, "message", "bad reply"));
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	a->fd = TAKE_FD(fd);
	a->m = m;
	if (ops)
		a->ops = *ops;
	a->ev = event_new(m->base, a->fd, EV_READ | EV_PERSIST, attach_on_read, a);
	if (!a->ev || event_add(a->ev, NULL) < 0) {
		attach_teardown(a);
		free(a);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	a->next = m->attaches;
	m->attaches = a;
	*out = a;
	return 0;
}

int skiff_monitor_read_exit(const char *data_root, const char *id, int *exit_code, bool *oom_killed,
			    char finished_at[40])
{
	_cleanup_free_ char *path = NULL;
	_cleanup_json_ json_t *j = NULL;
	int r;

	if (asprintf(&path, "%s/containers/%s/exit.json", data_root, id) < 0)
		return -ENOMEM;
	r = skiff_json_read_file(path, &j);
	if (r < 0)
		return r;
	if (exit_code)
		*exit_code = (int)skiff_json_int(j, "ExitCode", 255);
	if (oom_killed)
		*oom_killed = skiff_json_bool(j, "OOMKilled", false);
	if (finished_at)
		snprintf(finished_at, 40, "%s", skiff_json_str(j, "FinishedAt", "0001-01-01T00:00:00Z"));
	return 0;
}

int skiff_monitor_exec(struct skiff_monitor *m, const json_t *spec, pid_t *pid, int *exit_code,
		       struct skiff_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s, s:O}", "op", "exec", "spec", spec), *rep = NULL;
	int r;

	if (!req)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	r = request_send(m, req, err);
	if (r < 0)
		return r;
	/* the failure reply carries the exit code: read it here, not in request_recv */
	if (m->req_fd < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOTCONN, "monitor exec: connection to skiff-monitor lost");
	r = wait_readable(m->req_fd, REPLY_TIMEOUT_MS);
	if (r == 0)
		r = skiff_mproto_recv_json(m->req_fd, &rep, NULL, 0);
	if (r < 0) {
		mon_lost(m);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "monitor exec: connection to skiff-monitor lost");
	}
	if (!skiff_json_bool(rep, "ok", false)) {
		int status = (int)skiff_json_int(rep, "status", SKIFF_EINTERNAL);
		int errnum = (int)skiff_json_int(rep, "errno", 0);
		if (exit_code)
			*exit_code = (int)skiff_json_int(rep, "exit_code", 126);
		return skiff_error_set(err, status, errnum ? errnum : status_errno(status), "%s",
				       skiff_json_str(rep, "message", "skiff-monitor failed"));
	}
	if (pid)
		*pid = (pid_t)skiff_json_int(rep, "pid", 0);
	return 0;
}

void skiff_monitor_set_exec_handler(struct skiff_monitor *m,
				    void (*fn)(const struct skiff_monitor_exec_exit *ex, void *data), void *data)
{
	m->exec_fn = fn;
	m->exec_data = data;
}
