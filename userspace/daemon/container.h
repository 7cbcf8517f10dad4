/* The container manager: the set of containers, their persisted config and
 * state under <data-root>/containers/<id>/, and their lifecycle driven
 * through the monitor. The API layer (api/containers.c) is a thin shell
 * over it. */
#ifndef SKIFF_CONTAINER_H
#define SKIFF_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>

#include "../lib/error.h"
#include "daemon.h"

/* Loads every container from disk, connects to (or starts) the monitor and
 * reconciles: running ones stay running, ones that exited while skiffd was
 * away get their exit code; restart policies are honoured. */
int skiff_containers_init(struct skiff_daemon *d, struct skiff_error *err);
/* SIGTERM path: persists state, leaves containers running, closes the monitor connection. */
void skiff_containers_shutdown(struct skiff_daemon *d);
/* Used by the image store hook: does any container use this image id? */
bool skiff_containers_use_image(struct skiff_daemon *d, const char *image_id);
/* Counts for /info. */
void skiff_containers_count(struct skiff_daemon *d, int *total, int *running, int *paused, int *stopped);

/* ---- used by api/containers.c ------------------------------------------ */
struct skiff_ctr; /* container-config.h */

/* By full id, name ("/x" or "x") or unambiguous id prefix.
 * 404 "No such container: KEY"; 400 on an ambiguous prefix. */
struct skiff_ctr *skiff_container_find(struct skiff_daemon *d, const char *key, struct skiff_error *err);
/* POST /containers/create: body is the request JSON (may be modified);
 * name may be NULL. *reply = {"Id":..., "Warnings":[...]}. */
int skiff_container_create(struct skiff_daemon *d, const char *name, json_t *body, json_t **reply,
			   struct skiff_error *err);
/* Returns 1 when already running (304), 0 started, <0 with err. */
int skiff_container_start(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err);
/* "KILL", "SIGKILL", "9" -> 9; -EINVAL if unknown. */
int skiff_signal_parse(const char *s);
int skiff_container_kill(struct skiff_daemon *d, struct skiff_ctr *c, const char *signal, struct skiff_error *err);

/* Asynchronous operations report through a callback once: status 0 (or an
 * HTTP status with error set), exit_code of the run that ended. The
 * returned handle can be cancelled while the callback has not run (client
 * gone); the operation itself still completes. */
typedef void (*skiff_ctr_done_fn)(int status, int exit_code, const char *error, void *data);
enum skiff_wait_cond { SKIFF_WAIT_NOT_RUNNING, SKIFF_WAIT_NEXT_EXIT, SKIFF_WAIT_REMOVED };
/* Returns 1 when the condition already holds (cb not called; *exit_code
 * set), 0 when cb will run later. */
int skiff_container_wait(struct skiff_daemon *d, struct skiff_ctr *c, int cond, skiff_ctr_done_fn cb, void *data,
			 void **handle, int *exit_code);
void skiff_container_cancel(struct skiff_daemon *d, void *handle);
/* signal NULL: StopSignal or SIGTERM; timeout < 0: StopTimeout or 10.
 * Returns 1 when not running (304), 0 when cb will run. */
int skiff_container_stop(struct skiff_daemon *d, struct skiff_ctr *c, const char *signal, int timeout,
			 skiff_ctr_done_fn cb, void *data, void **handle, struct skiff_error *err);
/* Stop (if running) then start; cb runs after the start. */
int skiff_container_restart(struct skiff_daemon *d, struct skiff_ctr *c, const char *signal, int timeout,
			    skiff_ctr_done_fn cb, void *data, void **handle, struct skiff_error *err);
int skiff_container_remove(struct skiff_daemon *d, struct skiff_ctr *c, bool force, struct skiff_error *err);
/* The same; volumes (DELETE ?v=1) also removes the container's anonymous
 * volumes that no other container uses. */
int skiff_container_remove_ex(struct skiff_daemon *d, struct skiff_ctr *c, bool force, bool volumes,
			      struct skiff_error *err);
int skiff_container_rename(struct skiff_daemon *d, struct skiff_ctr *c, const char *name, struct skiff_error *err);
int skiff_container_pause(struct skiff_daemon *d, struct skiff_ctr *c, bool pause, struct skiff_error *err);
/* GET /containers/json */
json_t *skiff_container_list_json(struct skiff_daemon *d, bool all, int limit, bool size, const json_t *filters,
				  struct skiff_error *err);
/* The same as JSON text (what the endpoint sends; built from cached pieces). */
char *skiff_container_list_dump(struct skiff_daemon *d, bool all, int limit, bool size, const json_t *filters,
				struct skiff_error *err);
/* GET /containers/{id}/json */
json_t *skiff_container_inspect_json(struct skiff_daemon *d, struct skiff_ctr *c, bool size);
/* POST /containers/prune */
json_t *skiff_container_prune(struct skiff_daemon *d, const json_t *filters, struct skiff_error *err);
/* GET /containers/{id}/top: {"Titles":[...],"Processes":[[...]]} */
int skiff_container_top(struct skiff_daemon *d, struct skiff_ctr *c, const char *ps_args, json_t **out,
			struct skiff_error *err);
/* Attach sessions hold a container: AutoRemove waits until they ended. */
void skiff_container_attach_ref(struct skiff_ctr *c);
void skiff_container_attach_unref(struct skiff_daemon *d, const char *id);
/* The container's config changed outside this file (network connect and
 * disconnect): persists config.v2.json and refreshes what ps caches. */
void skiff_container_config_changed(struct skiff_daemon *d, struct skiff_ctr *c);
/* Emits a container event with the usual attributes (name, image, labels) plus extra. */
void skiff_container_event(struct skiff_daemon *d, struct skiff_ctr *c, const char *action, json_t *extra);
/* <dir>/<id>-json.log */
char *skiff_container_log_path(const struct skiff_ctr *c);

#endif
