/* The container manager: the set of containers, their persisted config and
 * state under <data-root>/containers/<id>/, and their lifecycle driven
 * through the monitor. The API layer (api/containers.c) is a thin shell
 * over it. */
#ifndef SKIFF_CONTAINER_H
#define SKIFF_CONTAINER_H

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

#endif
