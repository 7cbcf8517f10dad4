/* Docker-style events: a ring of the last SKIFF_EVENTS_RING events for
 * since/until replays, fan-out to live subscribers (GET /events), and
 * Docker's event filter semantics (moby daemon/events/filter.go). */
#include "events.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/json.h"

#define SKIFF_EVENTS_RING 1024

struct sub {
	skiff_event_cb cb;
	void *data;
	bool dead; /* unsubscribed during a fan-out; swept afterwards */
	struct sub *next;
};

struct skiff_events {
	json_t *ring[SKIFF_EVENTS_RING];
	size_t head, count; /* oldest at (head - count) mod size */
	struct sub *subs;
	int emitting;
	long long last_nano; /* keeps timeNano strictly increasing */
};

struct skiff_events *skiff_events_new(void)
{
	return calloc(1, sizeof(struct skiff_events));
}

void skiff_events_free(struct skiff_events *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < SKIFF_EVENTS_RING; i++)
		json_decref(ev->ring[i]);
	while (ev->subs) {
		struct sub *s = ev->subs;
		ev->subs = s->next;
		free(s);
	}
	free(ev);
}

static void sweep(struct skiff_events *ev)
{
	struct sub **pp = &ev->subs;
	while (*pp) {
		struct sub *s = *pp;
		if (s->dead) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

void skiff_events_emit(struct skiff_events *ev, const char *type, const char *action, const char *id,
		       json_t *attrs)
{
	struct timespec now = skiff_now();
	long long nano = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
	json_t *e, *actor;

	if (!attrs)
		attrs = json_object();
	if (!ev) {
		json_decref(attrs);
		return;
	}
	/* subscribers and replays order by timeNano: never let two collide */
	if (nano <= ev->last_nano)
		nano = ev->last_nano + 1;
	ev->last_nano = nano;
	actor = json_pack("{s:s,s:o}", "ID", id ? id : "", "Attributes", attrs);
	e = json_pack("{s:s,s:s,s:o,s:s,s:I,s:I}", "Type", type, "Action", action, "Actor", actor, "scope", "local",
		      "time", (json_int_t)(nano / 1000000000LL), "timeNano", (json_int_t)nano);
	if (!e)
		return;
	/* the pre-1.22 fields Docker still sends for containers and images */
	if (!strcmp(type, "container") || !strcmp(type, "image")) {
		json_object_set_new(e, "status", json_string(action));
		json_object_set_new(e, "id", json_string(id ? id : ""));
		if (!strcmp(type, "container") && json_is_string(json_object_get(attrs, "image")))
			json_object_set(e, "from", json_object_get(attrs, "image"));
	}
	json_decref(ev->ring[ev->head]);
	ev->ring[ev->head] = e;
	ev->head = (ev->head + 1) % SKIFF_EVENTS_RING;
	if (ev->count < SKIFF_EVENTS_RING)
		ev->count++;

	ev->emitting++;
	for (struct sub *s = ev->subs; s; s = s->next)
		if (!s->dead)
			s->cb(e, s->data);
	if (--ev->emitting == 0)
		sweep(ev);
}

void *skiff_events_subscribe(struct skiff_events *ev, const struct timespec *since, skiff_event_cb cb, void *data)
{
	struct sub *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cb = cb;
	s->data = data;
	if (since) {
		long long from = (long long)since->tv_sec * 1000000000LL + since->tv_nsec;
		size_t start = (ev->head + SKIFF_EVENTS_RING - ev->count) % SKIFF_EVENTS_RING;
		ev->emitting++;
		for (size_t i = 0; i < ev->count; i++) {
			json_t *e = ev->ring[(start + i) % SKIFF_EVENTS_RING];
			if (skiff_json_int(e, "timeNano", 0) >= from)
				cb(e, data);
		}
		ev->emitting--;
	}
	/* linked after the replay: an event emitted from inside a replay
	 * callback is in the ring already and must not be delivered twice */
	s->next = ev->subs;
	ev->subs = s;
	return s;
}

void skiff_events_unsubscribe(struct skiff_events *ev, void *handle)
{
	struct sub *s;

	if (!ev || !handle)
		return;
	for (s = ev->subs; s; s = s->next)
		if (s == handle)
			break;
	if (!s)
		return;
	s->dead = true;
	if (!ev->emitting)
		sweep(ev);
}

/* ---- filters ---- */

static bool has_key(const json_t *filters, const char *key)
{
	return json_array_size(json_object_get(filters, key)) > 0;
}

static bool exact(const json_t *filters, const char *key, const char *src)
{
	size_t i;
	json_t *v;

	if (!has_key(filters, key))
		return true;
	json_array_foreach(json_object_get(filters, key), i, v)
		if (src && !strcmp(json_string_value(v) ?: "", src))
			return true;
	return false;
}

/* Docker's FuzzyMatch: exact, or the filter value is a prefix of src */
static bool fuzzy(const json_t *filters, const char *key, const char *src)
{
	size_t i;
	json_t *v;

	if (!has_key(filters, key))
		return true;
	json_array_foreach(json_object_get(filters, key), i, v) {
		const char *f = json_string_value(v) ?: "";
		if (src && !strncmp(src, f, strlen(f)))
			return true;
	}
	return false;
}

static const char *attr(const json_t *event, const char *name)
{
	return skiff_json_str(json_object_get(json_object_get(event, "Actor"), "Attributes"), name, NULL);
}

static const char *actor_id(const json_t *event)
{
	return skiff_json_str(json_object_get(event, "Actor"), "ID", "");
}

static bool name_match(const json_t *f, const json_t *e, const char *key)
{
	return fuzzy(f, key, actor_id(e)) || fuzzy(f, key, attr(e, "name"));
}

static bool m_type(const json_t *f, const json_t *e)
{
	return exact(f, "type", skiff_json_str(e, "Type", ""));
}

static bool m_event(const json_t *f, const json_t *e)
{
	const char *action = skiff_json_str(e, "Action", "");
	size_t i;
	json_t *v;

	/* "exec_start" also matches "exec_start: sh -c ..." (moby #25798) */
	json_array_foreach(json_object_get(f, "event"), i, v) {
		const char *s = json_string_value(v) ?: "";
		if (!strcmp(s, "health_status") || !strcmp(s, "exec_create") || !strcmp(s, "exec_start"))
			return fuzzy(f, "event", action);
	}
	return exact(f, "event", action);
}

static bool m_container(const json_t *f, const json_t *e)
{
	return name_match(f, e, "container");
}

static bool m_volume(const json_t *f, const json_t *e)
{
	return name_match(f, e, "volume");
}

static bool m_network(const json_t *f, const json_t *e)
{
	return name_match(f, e, "network");
}

static bool m_scope(const json_t *f, const json_t *e)
{
	return exact(f, "scope", skiff_json_str(e, "scope", "local"));
}

static char *strip_tag(const char *ref)
{
	char *s = strdup(ref ? ref : "");
	char *slash, *colon;
	if (!s)
		return NULL;
	if (!strncmp(s, "sha256:", 7))
		return s;
	slash = strrchr(s, '/');
	colon = strrchr(slash ? slash : s, ':');
	if (colon)
		*colon = '\0';
	return s;
}

static bool m_image(const json_t *f, const json_t *e)
{
	const char *id = actor_id(e);
	const char *name = attr(e, !strcmp(skiff_json_str(e, "Type", ""), "image") ? "name" : "image");
	char *id_s, *name_s;
	bool ok;

	if (!has_key(f, "image"))
		return true;
	if (exact(f, "image", id) || (name && exact(f, "image", name)))
		return true;
	id_s = strip_tag(id);
	name_s = strip_tag(name);
	ok = exact(f, "image", id_s) || (name && exact(f, "image", name_s));
	free(id_s);
	free(name_s);
	return ok;
}

/* Every "k" or "k=v" must hold (Docker's MatchKVList). */
static bool m_label(const json_t *f, const json_t *e)
{
	const json_t *attrs = json_object_get(json_object_get(e, "Actor"), "Attributes");
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(f, "label"), i, v) {
		const char *want = json_string_value(v) ?: "";
		const char *eq = strchr(want, '=');
		char key[256];
		const char *have;
		size_t klen = eq ? (size_t)(eq - want) : strlen(want);

		if (klen >= sizeof(key))
			return false;
		memcpy(key, want, klen);
		key[klen] = '\0';
		have = skiff_json_str(attrs, key, NULL);
		if (!have || (eq && strcmp(have, eq + 1)))
			return false;
	}
	return true;
}

static bool (*const matchers[])(const json_t *, const json_t *) = {
	m_type, m_event, m_container, m_image, m_volume, m_network, m_scope, m_label,
};

int skiff_events_match(const json_t *event, const json_t *filters)
{
	if (!filters)
		return 1;
	for (size_t i = 0; i < sizeof(matchers) / sizeof(matchers[0]); i++)
		if (!matchers[i](filters, event))
			return 0;
	return 1;
}
