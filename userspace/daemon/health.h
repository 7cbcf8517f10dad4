/* Health checks (HEALTHCHECK / --health-*): probes run by skiffd on libevent
 * timers through the monitor's exec path (no client round trip), Docker's
 * rules for State.Health {Status, FailingStreak, Log (last 5)},
 * health_status events and the "(healthy)" suffix of docker ps. State is
 * kept in memory per container; a restarted skiffd starts again at
 * "starting". */
#ifndef SKIFF_HEALTH_H
#define SKIFF_HEALTH_H

#include <jansson.h>
#include <stddef.h>

#include "../lib/error.h"
#include "daemon.h"

struct skiff_ctr;

/* Container started (or found running by a new skiffd): Health resets to
 * "starting" and probes are scheduled, if the config has a healthcheck. */
void skiff_health_start(struct skiff_daemon *d, struct skiff_ctr *c);
/* Container stopped: no more probes, a running one is killed. The last
 * Health stays for inspect. */
void skiff_health_stop(struct skiff_daemon *d, const char *ctr_id);
/* State.Health for inspect, or NULL when the container has no healthcheck. */
json_t *skiff_health_json(struct skiff_daemon *d, const struct skiff_ctr *c);
/* Appends " (healthy)", " (unhealthy)" or " (health: starting)" to a
 * running container's ps Status. */
void skiff_health_status_suffix(const struct skiff_ctr *c, char *status, size_t len);
/* "healthy", "unhealthy", "starting" or "none" (for the health= ps filter). */
const char *skiff_health_status(const struct skiff_ctr *c);
/* Docker's merge of the request's Healthcheck with the image's: a missing
 * one is the image's, otherwise empty Test and zero durations/retries
 * come from the image. cfg is the merged Config (modified in place). */
void skiff_health_merge(json_t *cfg, const json_t *req_hc, const json_t *img_hc);
/* Create-time checks: durations 0 or >= 1ms, Retries >= 0 (Docker's words). */
int skiff_health_validate(const json_t *config, struct skiff_error *err);

#endif
