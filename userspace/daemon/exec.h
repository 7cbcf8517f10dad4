/* Exec instances (docker exec) and the probe runs the health checker makes:
 * records kept in memory, spawned through the monitor (which parents the
 * process), dropped when their container is removed. The API layer
 * (api/exec.c) handles the HTTP side and the hijacked stream. */
#ifndef SKIFF_DAEMON_EXEC_H
#define SKIFF_DAEMON_EXEC_H

#include <jansson.h>
#include <stdbool.h>

#include "../lib/error.h"
#include "../runtime/monitor-client.h"
#include "daemon.h"

struct skiff_ctr;
struct skiff_exec;

/* POST /containers/{id}/exec: validates the body (400 "No exec command
 * specified"), 409 when the container is not running or paused (Docker's
 * messages), emits exec_create. id gets the new exec id. */
int skiff_exec_create(struct skiff_daemon *d, struct skiff_ctr *c, const json_t *body, char id[65],
		      struct skiff_error *err);
/* 404 "No such exec instance: ID" */
struct skiff_exec *skiff_exec_find(struct skiff_daemon *d, const char *id, struct skiff_error *err);
bool skiff_exec_tty(const struct skiff_exec *e);
bool skiff_exec_open_stdin(const struct skiff_exec *e);
const char *skiff_exec_id(const struct skiff_exec *e);
/* Starts it. With ops (not detached) the output subscription is made
 * first, *att gets it (the caller closes it), and ops->on_exit_code /
 * on_end report the end. console (rows, cols, 0 = the create's size).
 * A failed exec is 400 with runc's message; the record then holds exit
 * code 126/127. 409 when already started or the container stopped. */
int skiff_exec_start(struct skiff_daemon *d, struct skiff_exec *e, int rows, int cols,
		     const struct skiff_attach_ops *ops, struct skiff_attach **att, struct skiff_error *err);
/* The exit code seen on the exec's own stream (ops->on_exit_code): the
 * record is finished at once so an inspect right after the stream sees it. */
void skiff_exec_exited(struct skiff_daemon *d, const char *id, int exit_code);
int skiff_exec_resize(struct skiff_daemon *d, struct skiff_exec *e, int rows, int cols, struct skiff_error *err);
/* GET /exec/{id}/json */
json_t *skiff_exec_inspect_json(struct skiff_daemon *d, struct skiff_exec *e);
/* Exec ids of a container for its inspect (json null when none, like Docker). */
json_t *skiff_exec_ids(struct skiff_daemon *d, const char *ctr_id);

/* Probes (health checks): run args in c without a client, output
 * captured (first max_output bytes); done runs once with the exit code
 * (-1 and a message when it could not run). Returns the probe's exec id
 * in id; skiff_exec_probe_kill() ends a hanging one (done is not called). */
typedef void (*skiff_probe_done_fn)(int exit_code, const char *output, void *data);
int skiff_exec_probe(struct skiff_daemon *d, struct skiff_ctr *c, const json_t *args, size_t max_output,
		     skiff_probe_done_fn done, void *data, char id[65], struct skiff_error *err);
void skiff_exec_probe_kill(struct skiff_daemon *d, const char *id);

#endif
