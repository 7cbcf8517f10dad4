/* docker ps / container prune filters, evaluated over the in-memory
 * container records: no disk access per container. */
#include "filters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "../net/ports.h"
#include "health.h"

static const char *const ps_filters[] = { "id", "name", "label", "label!", "status", "ancestor", "exited",
					  "before", "since", "until", "health", "volume", "network", "publish",
					  "expose", "is-task" };

int skiff_ps_filters_check(const json_t *filters, bool prune, struct skiff_error *err)
{
	const char *k;
	json_t *v, *e;
	size_t i;

	json_object_foreach((json_t *)filters, k, v)
	{
		bool ok = false;
		if (prune)
			ok = !strcmp(k, "until") || !strcmp(k, "label") || !strcmp(k, "label!");
		else
			for (i = 0; i < ARRAY_SIZE(ps_filters); i++)
				ok |= !strcmp(ps_filters[i], k);
		if (!ok)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter '%s'", k);
		json_array_foreach(v, i, e)
		{
			const char *s = json_string_value(e);
			if (!s)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter '%s'", k);
			if (!strcmp(k, "health") && strcmp(s, "starting") && strcmp(s, "healthy") &&
			    strcmp(s, "unhealthy") && strcmp(s, "none"))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "Unrecognised filter value for health: %s", s);
			if ((!strcmp(k, "publish") || !strcmp(k, "expose")) && skiff_ports_filter_check(k, s, err) < 0)
				return -EINVAL;
			if (!strcmp(k, "status") && skiff_ctr_status_parse(s) < 0)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter 'status=%s'", s);
			if (!strcmp(k, "exited")) {
				char *end;
				strtol(s, &end, 10);
				if (!*s || *end)
					return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter 'exited=%s'", s);
			}
			if (!strcmp(k, "until")) {
				struct timespec ts;
				char *end;
				strtod(s, &end);
				bool dur = end != s && (*end == 's' || *end == 'm' || *end == 'h') && !end[1];
				if (!dur && skiff_time_parse(s, &ts) < 0)
					return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
							       "invalid filter 'until=%s'", s);
			}
		}
	}
	return 0;
}

bool skiff_labels_match(const json_t *labels, const char *expr)
{
	const char *eq = strchr(expr, '=');
	if (!eq)
		return json_object_get(labels, expr) != NULL;
	_cleanup_free_ char *key = strndup(expr, (size_t)(eq - expr));
	const char *v = key ? skiff_json_str(labels, key, NULL) : NULL;
	return v && !strcmp(v, eq + 1);
}

/* Every filter name is an OR over its values; names AND together. */
typedef bool (*match_fn)(const struct skiff_ctr *c, const char *v);

static bool m_id(const struct skiff_ctr *c, const char *v)
{
	return !strncmp(c->id, v, strlen(v));
}

static bool m_name(const struct skiff_ctr *c, const char *v)
{
	/* Docker: a substring/regexp over the name; substring covers the common use */
	return strstr(c->name, v) != NULL;
}

static bool m_label(const struct skiff_ctr *c, const char *v)
{
	return skiff_labels_match(json_object_get(c->config, "Labels"), v);
}

static bool m_status(const struct skiff_ctr *c, const char *v)
{
	return !strcmp(skiff_ctr_status_name(c->status), v);
}

static bool m_ancestor(const struct skiff_ctr *c, const char *v)
{
	size_t n = strlen(v);
	const char *hex = !strncmp(c->image_id, "sha256:", 7) ? c->image_id + 7 : c->image_id;
	if (!strcmp(c->image, v) || !strcmp(c->image_id, v))
		return true;
	/* "busybox" names "busybox:latest" */
	if (!strchr(v, ':') && !strncmp(c->image, v, n) && !strcmp(c->image + n, ":latest"))
		return true;
	if (!strncmp(c->image, v, strlen(c->image)) && !strcmp(v + strlen(c->image), ":latest"))
		return true;
	if (!strncmp(v, "sha256:", 7))
		v += 7, n -= 7;
	return n >= 4 && !strncmp(hex, v, n);
}

static bool m_exited(const struct skiff_ctr *c, const char *v)
{
	return c->status == SKIFF_CTR_EXITED && c->exit_code == atoi(v);
}

static bool m_health(const struct skiff_ctr *c, const char *v)
{
	return !strcmp(skiff_health_status(c), v);
}

/* By network name or id, through the network manager (several networks per container). */
static bool m_network(const struct skiff_ctr *c, const char *v)
{
	json_t *eps = json_object_get(c->net_config, "EndpointsConfig");
	const char *k;
	json_t *e;
	if (json_object_size(eps)) {
		json_object_foreach(eps, k, e) if (!strcmp(k, v) || !strcmp(skiff_json_str(e, "NetworkID", ""), v) ||
						   (strlen(v) >= 12 && !strncmp(skiff_json_str(e, "NetworkID", ""), v, strlen(v)))) return true;
		return false;
	}
	const char *mode = skiff_json_str(c->host_config, "NetworkMode", "default");
	if (!strcmp(mode, "default"))
		mode = "bridge";
	return !strcmp(mode, v);
}

/* Docker matches a mount's volume name or its destination */
static bool m_volume(const struct skiff_ctr *c, const char *v)
{
	json_t *m;
	size_t i;
	json_array_foreach(c->mounts, i, m) if (!strcmp(skiff_json_str(m, "Name", ""), v) ||
						!strcmp(skiff_json_str(m, "Destination", ""), v)) return true;
	return false;
}

/* publish=80, 80/tcp, 8000-8080/udp: Docker matches the container side,
 * publish against PortBindings' keys, expose against ExposedPorts' (ports.c). */
static bool m_publish(const struct skiff_ctr *c, const char *v)
{
	return skiff_ports_filter_match(json_object_get(c->host_config, "PortBindings"), v);
}

static bool m_expose(const struct skiff_ctr *c, const char *v)
{
	/* an API client may publish without listing the port in ExposedPorts */
	return skiff_ports_filter_match(json_object_get(c->config, "ExposedPorts"), v) || m_publish(c, v);
}

/* skiff has no swarm tasks */
static bool m_is_task(const struct skiff_ctr *c, const char *v)
{
	(void)c;
	return !strcmp(v, "false");
}

static const struct {
	const char *name;
	match_fn fn;
} matchers[] = {
	{ "id", m_id },	      { "name", m_name },	  { "label", m_label },	     { "status", m_status },
	{ "ancestor", m_ancestor }, { "exited", m_exited },	  { "health", m_health },    { "network", m_network },
	{ "volume", m_volume },     { "publish", m_publish }, { "expose", m_expose }, { "is-task", m_is_task },
};

static bool until_ok(const struct skiff_ctr *c, const char *v, const struct timespec *now)
{
	struct timespec ts;
	char *end;
	double d = strtod(v, &end);
	if (end != v && (*end == 's' || *end == 'm' || *end == 'h') && !end[1]) {
		double mul = *end == 's' ? 1 : *end == 'm' ? 60 : 3600;
		ts.tv_sec = now->tv_sec - (time_t)(d * mul);
		ts.tv_nsec = now->tv_nsec;
	} else if (skiff_time_parse(v, &ts) < 0) {
		return false;
	}
	return c->created.tv_sec < ts.tv_sec || (c->created.tv_sec == ts.tv_sec && c->created.tv_nsec < ts.tv_nsec);
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

bool skiff_ps_filters_match(const json_t *filters, const struct skiff_ctr *c, const struct timespec *before,
			    const struct timespec *since, const struct timespec *now)
{
	json_t *vals, *e;
	size_t i;

	for (size_t m = 0; m < ARRAY_SIZE(matchers); m++) {
		bool any = false;
		vals = json_object_get(filters, matchers[m].name);
		if (!json_array_size(vals))
			continue;
		json_array_foreach(vals, i, e) any |= matchers[m].fn(c, json_string_value(e));
		if (!any)
			return false;
	}
	/* label! : none of the given labels may match */
	json_array_foreach(json_object_get(filters, "label!"), i, e) if (m_label(c, json_string_value(e))) return false;
	json_array_foreach(json_object_get(filters, "until"), i, e) if (!until_ok(c, json_string_value(e), now)) return false;
	if (before && ts_cmp(&c->created, before) >= 0)
		return false;
	if (since && ts_cmp(&c->created, since) <= 0)
		return false;
	return true;
}
