/* GET /containers/{id}/stats: Docker's stats samples read from the
 * container's cgroups (userspace/runtime/cgroup-stats.c). stream=true sends
 * one object a second until the client goes away or the container is
 * removed; stream=false takes two samples a second apart so precpu_stats is
 * real, unless one-shot=true. A stopped container gets dockerd's zero sample. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "../userspace/daemon/container-config.h"
#include "../userspace/daemon/container.h"
#include "../userspace/daemon/daemon.h"
#include "../userspace/lib/json.h"
#include "../userspace/net/network.h"
#include "../userspace/runtime/cgroup-stats.h"
#include "http.h"
#include "routes.h"

/* Above this much unsent, a slow reader skips samples instead of queueing them. */
#define STATS_MAX_PENDING (1u << 20)
/* Open stats files of containers polled lately (~4x cheaper than opening
 * them per sample), closed after this long without a poll: they pin the
 * memory of removed cgroups. */
#define STATS_IDLE_SECONDS 5
#define STATS_MAX_HANDLES 512
#define STATS_FDS_PER_HANDLE 15

/* One skiffd per process: the handle cache is process state, like the fds it holds. */
static struct {
	struct skiff_cgroup_stats_cache *cache;
	struct event *sweep;
	bool tried, armed;
} fdcache;

static void sweep(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { STATS_IDLE_SECONDS, 0 };
	(void)fd, (void)what, (void)arg;
	fdcache.armed = skiff_cgroup_stats_cache_sweep(fdcache.cache, STATS_IDLE_SECONDS) > 0;
	if (fdcache.armed)
		evtimer_add(fdcache.sweep, &tv);
}

static struct skiff_cgroup_stats_cache *cache_of(struct skiff_daemon *d)
{
	if (!fdcache.tried) {
		/* at most a quarter of the fd budget; none at all beats EMFILE elsewhere */
		struct rlimit rl = { 1024, 1024 };
		size_t max;
		fdcache.tried = true;
		getrlimit(RLIMIT_NOFILE, &rl);
		max = rl.rlim_cur == RLIM_INFINITY ? STATS_MAX_HANDLES : rl.rlim_cur / 4 / STATS_FDS_PER_HANDLE;
		if (max > STATS_MAX_HANDLES)
			max = STATS_MAX_HANDLES;
		fdcache.sweep = evtimer_new(d->base, sweep, NULL);
		if (fdcache.sweep)
			fdcache.cache = skiff_cgroup_stats_cache_new(max);
	}
	if (fdcache.cache && !fdcache.armed) {
		struct timeval tv = { STATS_IDLE_SECONDS, 0 };
		fdcache.armed = evtimer_add(fdcache.sweep, &tv) == 0;
	}
	return fdcache.cache; /* NULL: plain reads */
}

struct stats_ctx {
	struct skiff_http_req *req;
	struct skiff_daemon *d;
	char id[65];
	struct event *timer;
	bool stream;
	bool have_pre;
	struct skiff_cgroup_cpu pre;
	struct timespec preread;
	struct skiff_cgroup_stats cur;
};

static bool has_stats(const struct skiff_ctr *c)
{
	/* dockerd samples paused containers too; restarting ones get zeros */
	return c->status == SKIFF_CTR_RUNNING || c->status == SKIFF_CTR_PAUSED;
}

/* One sample of c into x->cur; false when there is none (stopped, or its
 * cgroup went away between the status check and the read). */
static bool sample(struct stats_ctx *x, const struct skiff_ctr *c)
{
	struct skiff_daemon *d = x->d;
	return has_stats(c) && skiff_cgroup_stats_cache_read(cache_of(d), &d->cgroups, c->id,
							     d->mem_total > 0 ? (uint64_t)d->mem_total : 0, &x->cur,
							     NULL) == 0;
}

/* The object to send: the sample (or zeros) with precpu from the previous
 * one, then remembers this sample's cpu as the next precpu. */
static json_t *render(struct stats_ctx *x, const struct skiff_ctr *c, bool ok)
{
	json_t *j = skiff_cgroup_stats_json(ok ? &x->cur : NULL, x->have_pre ? &x->pre : NULL,
					    x->have_pre ? &x->preread : NULL);
	json_object_set_new(j, "name", json_string(c->name ? c->name : ""));
	json_object_set_new(j, "id", json_string(c->id));
	if (ok) {
		/* one BPF map lookup per sample: no netlink dump, no /proc read */
		json_t *nets = skiff_net_ctr_stats(x->d, c);
		if (nets)
			json_object_set_new(j, "networks", nets);
	}
	x->have_pre = ok;
	if (ok) {
		x->pre = x->cur.cpu;
		x->preread = x->cur.read;
	}
	return j;
}

static void ctx_free(struct stats_ctx *x)
{
	if (x->timer)
		event_free(x->timer);
	free(x);
}

static void client_gone(struct skiff_http_req *req, void *data)
{
	(void)req;
	ctx_free(data);
}

static void finish(struct stats_ctx *x)
{
	x->req->on_close = NULL;
	if (x->stream)
		skiff_http_stream_end(x->req);
	ctx_free(x);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct stats_ctx *x = arg;
	struct skiff_ctr *c = skiff_container_find(x->d, x->id, NULL);
	(void)fd, (void)what;

	if (!x->stream) {
		/* second sample of stream=false */
		if (!c) {
			x->req->on_close = NULL;
			skiff_http_reply_error(x->req, 404, "No such container: %s", x->id);
			ctx_free(x);
			return;
		}
		bool ok = sample(x, c);
		if (!ok)
			x->have_pre = false;
		x->req->on_close = NULL;
		skiff_http_reply_json(x->req, 200, render(x, c, ok));
		ctx_free(x);
		return;
	}
	if (!c)
		return finish(x); /* removed: dockerd closes the stream too */
	if (skiff_http_stream_pending(x->req) > STATS_MAX_PENDING)
		return;
	bool ok = sample(x, c);
	skiff_http_stream_json(x->req, render(x, c, ok));
}

static void h_stats(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	struct skiff_ctr *c = skiff_container_find(req->daemon, req->params[0], &err);
	bool stream = skiff_http_query_bool(req, "stream", true);
	bool one_shot = skiff_http_query_bool(req, "one-shot", false);
	struct stats_ctx *x;

	if (!c)
		return skiff_http_reply_skiff_error(req, &err);
	if (stream && one_shot)
		return skiff_http_reply_error(req, 400, "cannot have stream=true and one-shot=true");
	x = calloc(1, sizeof(*x));
	if (!x)
		return skiff_http_reply_error(req, 500, "out of memory");
	x->req = req;
	x->d = req->daemon;
	x->stream = stream;
	memcpy(x->id, c->id, sizeof(x->id));

	bool ok = sample(x, c);
	if (!stream && (one_shot || !ok)) {
		skiff_http_reply_json(req, 200, render(x, c, ok));
		ctx_free(x);
		return;
	}
	if (stream) {
		skiff_http_stream_start(req, 200, "application/json");
		skiff_http_stream_json(req, render(x, c, ok));
	} else {
		/* prime precpu with the first sample, answer with the second */
		x->have_pre = true;
		x->pre = x->cur.cpu;
		x->preread = x->cur.read;
	}
	x->timer = event_new(req->daemon->base, -1, stream ? EV_PERSIST : 0, tick, x);
	if (!x->timer) {
		if (stream)
			skiff_http_stream_end(req);
		else
			skiff_http_reply_error(req, 500, "out of memory");
		ctx_free(x);
		return;
	}
	struct timeval tv = { 1, 0 };
	event_add(x->timer, &tv);
	req->on_close = client_gone;
	req->on_close_data = x;
}

const struct skiff_route skiff_stats_routes[] = {
	{ .methods = HTTP_GET, .pattern = "/containers/{id}/stats", .handler = h_stats },
};
const size_t skiff_stats_nroutes = sizeof(skiff_stats_routes) / sizeof(skiff_stats_routes[0]);
