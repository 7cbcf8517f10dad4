/* Health checks the way dockerd runs them (daemon/health.go): one probe at a
 * time per container, the next one an Interval (StartInterval during the
 * start period) after the previous ended; a probe over Timeout is killed
 * and counts as a failure (-1); failures inside StartPeriod do not count
 * while the container has never been healthy; Retries failures in a row
 * make it unhealthy; one success makes it healthy. Probes are exec'd by
 * the monitor (userspace/daemon/exec.h), with their output captured there. */
#include "health.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "container-config.h"
#include "container.h"
#include "exec.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
#define DEFAULT_INTERVAL (30 * NS_PER_S)
#define DEFAULT_TIMEOUT (30 * NS_PER_S)
#define DEFAULT_START_INTERVAL (5 * NS_PER_S)
#define DEFAULT_RETRIES 3
#define MAX_LOG 5
#define MAX_OUTPUT 4096

struct hc {
	struct hc *next;
	struct skiff_daemon *d;
	char id[65];
	json_t *args; /* the probe command */
	int64_t interval, timeout, start_period, start_interval;
	int retries;
	struct timespec started_at; /* of the container run */
	bool active;
	struct event *timer, *tmo;
	char probe_id[65];
	bool probing;
	struct timespec probe_start;
	/* State.Health */
	const char *status; /* "starting", "healthy", "unhealthy" */
	int streak;
	json_t *log;
};

/* One daemon per process: the table lives with this file. */
static struct hc *hcs;

static struct hc *hc_find(const char *id)
{
	for (struct hc *h = hcs; h; h = h->next)
		if (!strcmp(h->id, id))
			return h;
	return NULL;
}

static void probe_end(struct hc *h)
{
	if (h->tmo)
		evtimer_del(h->tmo);
	if (h->probing)
		skiff_exec_probe_kill(h->d, h->probe_id);
	h->probing = false;
}

static void hc_free(struct hc *h)
{
	probe_end(h);
	if (h->timer)
		event_free(h->timer);
	if (h->tmo)
		event_free(h->tmo);
	json_decref(h->args);
	json_decref(h->log);
	free(h);
}

/* Entries of removed containers go (their probes ended when they stopped). */
static void gc(struct skiff_daemon *d)
{
	struct skiff_error err = { 0 };
	for (struct hc **p = &hcs; *p;) {
		struct hc *h = *p;
		if (!skiff_container_find(d, h->id, &err)) {
			*p = h->next;
			hc_free(h);
			continue;
		}
		p = &h->next;
	}
}

static int64_t dur(const json_t *hc, const char *key, int64_t def)
{
	int64_t v = skiff_json_int(hc, key, 0);
	return v > 0 ? v : def;
}

/* The probe command from Test: CMD args as given, CMD-SHELL through the
 * container's Shell (default /bin/sh -c). NULL: no (or a NONE) check. */
static json_t *probe_args(const json_t *cfg)
{
	const json_t *hc = json_object_get(cfg, "Healthcheck"), *test = json_object_get(hc, "Test");
	const char *kind = json_string_value(json_array_get(test, 0));
	json_t *args;
	size_t i;

	if (!kind || json_array_size(test) < 2)
		return NULL;
	if (!strcmp(kind, "CMD")) {
		args = json_array();
		for (i = 1; i < json_array_size(test); i++)
			json_array_append(args, json_array_get(test, i));
		return args;
	}
	if (!strcmp(kind, "CMD-SHELL")) {
		const json_t *shell = json_object_get(cfg, "Shell");
		args = json_array_size(shell) ? json_deep_copy(shell) : json_pack("[s, s]", "/bin/sh", "-c");
		json_array_append(args, json_array_get(test, 1));
		return args;
	}
	return NULL;
}

/* Go's time.Duration.String() for the timeout message. */
static void go_duration(int64_t ns, char *out, size_t len)
{
	if (ns % NS_PER_S == 0 && ns < 60 * NS_PER_S)
		snprintf(out, len, "%llds", (long long)(ns / NS_PER_S));
	else if (ns < NS_PER_S && ns % NS_PER_MS == 0)
		snprintf(out, len, "%lldms", (long long)(ns / NS_PER_MS));
	else if (ns < 60 * NS_PER_S)
		snprintf(out, len, "%gs", (double)ns / NS_PER_S);
	else if (ns < 3600 * NS_PER_S)
		snprintf(out, len, "%lldm%gs", (long long)(ns / (60 * NS_PER_S)),
			 (double)(ns % (60 * NS_PER_S)) / NS_PER_S);
	else
		snprintf(out, len, "%lldh%lldm%gs", (long long)(ns / (3600 * NS_PER_S)),
			 (long long)(ns % (3600 * NS_PER_S) / (60 * NS_PER_S)), (double)(ns % (60 * NS_PER_S)) / NS_PER_S);
}

static void set_status(struct hc *h, const char *status)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c;
	char action[64];

	if (h->status == status)
		return;
	h->status = status;
	if (!(c = skiff_container_find(h->d, h->id, &err)))
		return;
	snprintf(action, sizeof(action), "health_status: %s", status);
	skiff_container_event(h->d, c, action, NULL);
}

static bool in_start_period(struct hc *h, const struct timespec *at)
{
	int64_t since = (at->tv_sec - h->started_at.tv_sec) * NS_PER_S + (at->tv_nsec - h->started_at.tv_nsec);
	return since < h->start_period;
}

static void schedule(struct hc *h)
{
	struct timespec now = skiff_now();
	/* Docker 25+: StartInterval while starting inside the start period */
	int64_t ns = h->status && !strcmp(h->status, "starting") && h->start_period && in_start_period(h, &now)
			     ? h->start_interval
			     : h->interval;
	struct timeval tv = { .tv_sec = ns / NS_PER_S, .tv_usec = (ns % NS_PER_S) / 1000 };
	if (h->active && h->timer)
		evtimer_add(h->timer, &tv);
}

static void record(struct hc *h, int code, const char *output)
{
	char start[40], end[40];
	struct timespec now = skiff_now();
	size_t olen = strlen(output);

	skiff_time_format(&h->probe_start, start);
	skiff_time_format(&now, end);
	json_array_append_new(h->log, json_pack("{s:s, s:s, s:i, s:s%}", "Start", start, "End", end, "ExitCode", code,
						"Output", output, olen > MAX_OUTPUT ? (size_t)MAX_OUTPUT : olen));
	while (json_array_size(h->log) > MAX_LOG)
		json_array_remove(h->log, 0);
	if (code == 0) {
		h->streak = 0;
		set_status(h, "healthy");
		return;
	}
	/* a container that was never healthy may fail freely in its start period */
	if (!strcmp(h->status, "starting") && in_start_period(h, &h->probe_start))
		return;
	if (++h->streak >= h->retries)
		set_status(h, "unhealthy");
}

static void on_probe_done(int code, const char *output, void *data)
{
	struct hc *h = data;
	if (!h->probing)
		return;
	h->probing = false;
	if (h->tmo)
		evtimer_del(h->tmo);
	record(h, code, output);
	schedule(h);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hc *h = arg;
	char msg[96], d[32];
	(void)fd, (void)what;
	if (!h->probing)
		return;
	probe_end(h); /* kills it; its done callback will not run */
	go_duration(h->timeout, d, sizeof(d));
	snprintf(msg, sizeof(msg), "Health check exceeded timeout (%s)", d);
	record(h, -1, msg);
	schedule(h);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct hc *h = arg;
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = skiff_container_find(h->d, h->id, &err);
	(void)fd, (void)what;

	if (!c || !h->active || h->probing)
		return;
	if (c->status == SKIFF_CTR_PAUSED) {
		schedule(h); /* Docker's probe fails on a paused container; we just wait */
		return;
	}
	if (c->status != SKIFF_CTR_RUNNING) {
		h->active = false;
		return;
	}
	h->probe_start = skiff_now();
	if (skiff_exec_probe(h->d, c, h->args, MAX_OUTPUT, on_probe_done, h, h->probe_id, &err) < 0) {
		record(h, -1, err.msg);
		schedule(h);
		return;
	}
	h->probing = true;
	struct timeval tv = { .tv_sec = h->timeout / NS_PER_S, .tv_usec = (h->timeout % NS_PER_S) / 1000 };
	evtimer_add(h->tmo, &tv);
}

void skiff_health_start(struct skiff_daemon *d, struct skiff_ctr *c)
{
	const json_t *hc = json_object_get(c->config, "Healthcheck");
	_cleanup_json_ json_t *args = probe_args(c->config);
	struct hc *h;

	gc(d);
	h = hc_find(c->id);
	if (!args) {
		if (h) /* config changed (cannot happen today): forget the old state */
			h->active = false;
		return;
	}
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return;
		h->d = d;
		memcpy(h->id, c->id, 65);
		h->timer = evtimer_new(d->base, on_tick, h);
		h->tmo = evtimer_new(d->base, on_timeout, h);
		h->log = json_array();
		if (!h->timer || !h->tmo || !h->log) {
			hc_free(h);
			return;
		}
		h->next = hcs;
		hcs = h;
	}
	probe_end(h);
	json_decref(h->args);
	h->args = TAKE_PTR(args);
	h->interval = dur(hc, "Interval", DEFAULT_INTERVAL);
	h->timeout = dur(hc, "Timeout", DEFAULT_TIMEOUT);
	h->start_period = skiff_json_int(hc, "StartPeriod", 0);
	h->start_interval = dur(hc, "StartInterval", DEFAULT_START_INTERVAL);
	h->retries = (int)skiff_json_int(hc, "Retries", 0);
	if (h->retries <= 0)
		h->retries = DEFAULT_RETRIES;
	h->started_at = c->started_at;
	h->status = "starting";
	h->streak = 0;
	h->active = true;
	evtimer_del(h->timer);
	schedule(h);
}

void skiff_health_stop(struct skiff_daemon *d, const char *ctr_id)
{
	struct hc *h = hc_find(ctr_id);
	(void)d;
	if (!h)
		return;
	h->active = false;
	evtimer_del(h->timer);
	probe_end(h);
}

static struct hc *hc_of(const struct skiff_ctr *c)
{
	struct hc *h = hc_find(c->id);
	return h && h->args ? h : NULL;
}

json_t *skiff_health_json(struct skiff_daemon *d, const struct skiff_ctr *c)
{
	struct hc *h = hc_of(c);
	(void)d;
	if (!h) {
		/* configured but never started in this skiffd: Docker shows it once started */
		return NULL;
	}
	return json_pack("{s:s, s:i, s:O}", "Status", h->status, "FailingStreak", h->streak, "Log", h->log);
}

const char *skiff_health_status(const struct skiff_ctr *c)
{
	struct hc *h = hc_of(c);
	return h ? h->status : "none";
}

void skiff_health_status_suffix(const struct skiff_ctr *c, char *status, size_t len)
{
	struct hc *h = hc_of(c);
	size_t n = strlen(status);
	if (!h || c->status != SKIFF_CTR_RUNNING || n >= len)
		return;
	if (!strcmp(h->status, "starting"))
		snprintf(status + n, len - n, " (health: starting)");
	else
		snprintf(status + n, len - n, " (%s)", h->status);
}

void skiff_health_merge(json_t *cfg, const json_t *req_hc, const json_t *img_hc)
{
	static const char *const durs[] = { "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries" };
	json_t *hc;

	if (!json_is_object(req_hc)) {
		if (json_is_object(img_hc))
			json_object_set_new(cfg, "Healthcheck", json_deep_copy(img_hc));
		return;
	}
	hc = json_deep_copy(req_hc);
	if (json_is_object(img_hc)) {
		if (!json_array_size(json_object_get(hc, "Test")) && json_object_get(img_hc, "Test"))
			json_object_set(hc, "Test", json_object_get(img_hc, "Test"));
		for (size_t i = 0; i < ARRAY_SIZE(durs); i++)
			if (!skiff_json_int(hc, durs[i], 0) && json_object_get(img_hc, durs[i]))
				json_object_set(hc, durs[i], json_object_get(img_hc, durs[i]));
	}
	json_object_set_new(cfg, "Healthcheck", hc);
}

int skiff_health_validate(const json_t *config, struct skiff_error *err)
{
	static const char *const durs[] = { "Interval", "Timeout", "StartPeriod", "StartInterval" };
	const json_t *hc = json_object_get(config, "Healthcheck");

	if (!json_is_object(hc))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
		int64_t v = skiff_json_int(hc, durs[i], 0);
		if (v != 0 && v < NS_PER_MS)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s in Healthcheck cannot be less than 1ms",
					       durs[i]);
	}
	if (skiff_json_int(hc, "Retries", 0) < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Retries in Healthcheck cannot be negative");
	return 0;
}
