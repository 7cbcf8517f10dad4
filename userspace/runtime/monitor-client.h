/* skiffd's side of the monitor protocol. skiff-monitor is one small
 * process per host: it spawns every container's init (it is their parent and
 * a subreaper), holds their stdio, writes their json-file logs, reaps them
 * and records exit codes in <data-root>/containers/<id>/exit.json. It
 * outlives skiffd: a new skiffd reconnects and asks what is running.
 *
 * Transport: SOCK_SEQPACKET unix socket <exec-root>/monitor.sock; each
 * request and reply is one JSON message, fds travel with SCM_RIGHTS. */
#ifndef SKIFF_MONITOR_CLIENT_H
#define SKIFF_MONITOR_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../lib/error.h"

struct skiff_monitor;

struct skiff_monitor_exit {
	const char *id;
	int exit_code;           /* 128+signal when killed by a signal */
	bool oom_killed;
	const char *finished_at; /* RFC3339 */
};

struct skiff_monitor_ops {
	/* a container's init exited (live, or found exited on reconnect) */
	void (*on_exit)(const struct skiff_monitor_exit *ex, void *data);
	void *data;
};

/* Connects to <exec_root>/monitor.sock, starting monitor_bin detached
 * (setsid, own process, not our child) when nothing answers.
 *
 * Reconnect (live-restore): exits that happened while no skiffd listened
 * are queued in the monitor (bounded) and delivered through ops->on_exit
 * once the event loop runs after connect. The durable record is
 * <data-root>/containers/<id>/exit.json (written before any event), so the
 * container manager should also compare skiff_monitor_list() with what it
 * thinks runs and read skiff_monitor_read_exit() for the missing ones (a
 * restarted monitor has no queue). A lost monitor ends every attach; the
 * next request reconnects, starting a new monitor if needed.
 *
 * Paths: the monitor writes <data-root>/containers/<id>/<id>-json.log and
 * .../exit.json unless the spec carries "log_path" / "exit_path" (strings;
 * "log_path": "" turns logging off, for --log-driver none). The directory
 * must exist (the container manager makes it). */
int skiff_monitor_connect(struct event_base *base, const char *monitor_bin, const char *exec_root,
			  const char *data_root, const struct skiff_monitor_ops *ops, struct skiff_monitor **out,
			  struct skiff_error *err);
void skiff_monitor_free(struct skiff_monitor *m);

/* Synchronous requests (the monitor answers in well under a millisecond,
 * except spawn which returns after the exec). */
int skiff_monitor_spawn(struct skiff_monitor *m, const json_t *spec, pid_t *pid, struct skiff_error *err);
/* The same in two halves, so the caller can do its own slow work (write the
 * container's state) while the monitor sets the container up. Between them
 * nothing else may be sent to this monitor; finish must follow a send that
 * returned 0. */
int skiff_monitor_spawn_send(struct skiff_monitor *m, const json_t *spec, struct skiff_error *err);
int skiff_monitor_spawn_finish(struct skiff_monitor *m, pid_t *pid, struct skiff_error *err);
/* After a failed spawn: the exit code Docker records (127 not found, 126 not
 * executable, 128 otherwise). */
int skiff_monitor_spawn_exit_code(const struct skiff_error *err);
/* Reads <data_root>/containers/<id>/exit.json; -ENOENT if there is none.
 * Any out pointer may be NULL. */
int skiff_monitor_read_exit(const char *data_root, const char *id, int *exit_code, bool *oom_killed,
			    char finished_at[40]);
int skiff_monitor_kill(struct skiff_monitor *m, const char *id, int sig, struct skiff_error *err);
int skiff_monitor_resize(struct skiff_monitor *m, const char *id, int rows, int cols, struct skiff_error *err);
/* Running containers: object id -> {"pid": N, "started_at": "..."} */
int skiff_monitor_list(struct skiff_monitor *m, json_t **out, struct skiff_error *err);
/* Forget a container (it exited and was removed): drops queued output and
 * subscribers. Returns once the request is sent; the monitor handles it in
 * order with the exits it reports. */
int skiff_monitor_forget(struct skiff_monitor *m, const char *id, struct skiff_error *err);

/* Exec (exec.h): starts a process in running container spec["container"]
 * as record spec["id"]; attach to that id first to see its output from the
 * first byte. Returns after the exec; a failed exec sets *exit_code (127
 * not found, 126 not executable; may be NULL) and err (status 400 with
 * runc's words), a stopped container is 409. spec["capture"] = N keeps the
 * first N bytes of output for the exit report (health probes). Kill and
 * resize take the exec id. */
int skiff_monitor_exec(struct skiff_monitor *m, const json_t *spec, pid_t *pid, int *exit_code,
		       struct skiff_error *err);
struct skiff_monitor_exec_exit {
	const char *id, *container;
	int exit_code;
	const char *output; /* captured output ("" without capture) */
};
/* One handler for every exec exit (set once by the exec manager). */
void skiff_monitor_set_exec_handler(struct skiff_monitor *m,
				    void (*fn)(const struct skiff_monitor_exec_exit *ex, void *data), void *data);

/* Attach: a new connection that receives the container's output live.
 * Registered before start, it sees output from the first byte. Callbacks
 * run on the event loop. stdin_fd (given once the process exists, -1 if no
 * stdin) is a dup the caller owns and writes to; closing it is EOF for
 * StdinOnce containers. on_end fires once after the last output when the
 * process exited (or the monitor went away). */
struct skiff_attach_ops {
	void (*on_stdin)(int stdin_fd, void *data);
	void (*on_output)(int stream, const void *buf, size_t len, void *data); /* 1 stdout, 2 stderr */
	void (*on_end)(void *data);
	void *data;
	/* exec records only: the exit code, right before on_end */
	void (*on_exit_code)(int exit_code, void *data);
};
struct skiff_attach;
int skiff_monitor_attach(struct skiff_monitor *m, const char *id, bool want_stdin, const struct skiff_attach_ops *ops,
			 struct skiff_attach **out, struct skiff_error *err);
void skiff_attach_close(struct skiff_attach *a);

#endif
