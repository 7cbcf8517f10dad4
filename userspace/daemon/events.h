/* Docker-style events: emitted by the container manager and the image
 * store glue, kept in a bounded in-memory ring for since/until, and fanned
 * out to GET /events subscribers. */
#ifndef SKIFF_EVENTS_H
#define SKIFF_EVENTS_H

#include <jansson.h>
#include <time.h>

struct skiff_events;

typedef void (*skiff_event_cb)(json_t *event, void *data); /* event is borrowed */

struct skiff_events *skiff_events_new(void);
void skiff_events_free(struct skiff_events *ev);
/* type "container" | "image" | ...; action "create", "start", "die", "destroy",
 * "tag", "untag", "delete", "import", "load", ...; attrs (may be NULL, stolen)
 * become Actor.Attributes (name, image, exitCode ...). Builds the Docker event
 * JSON {Type, Action, Actor{ID, Attributes}, scope, time, timeNano, status, id, from}. */
void skiff_events_emit(struct skiff_events *ev, const char *type, const char *action, const char *id,
		       json_t *attrs);
/* Replays ring events with time in [since, until] (until 0 = no bound), then
 * calls cb for each new event until unsubscribed. Returns a handle. */
void *skiff_events_subscribe(struct skiff_events *ev, const struct timespec *since, skiff_event_cb cb,
			     void *data);
void skiff_events_unsubscribe(struct skiff_events *ev, void *handle);
/* Docker's event filters (type, event/action, container, image, label) */
int skiff_events_match(const json_t *event, const json_t *filters);

#endif
