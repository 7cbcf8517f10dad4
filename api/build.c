/* POST /build (the classic builder's protocol: a tar context as the body,
 * JSON progress messages streamed back) and POST /build/prune. The build
 * runs on its own thread; its messages are queued and a pipe wakes the
 * event loop, which writes them to the client as they come. A client that
 * goes away cancels the build (the running step is killed). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../userspace/build/builder.h"
#include "../userspace/daemon/daemon.h"
#include "../userspace/image/store.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/json.h"
#include "../userspace/net/network.h"
#include "routes.h"

struct bjob {
	struct skiff_http_req *req; /* NULL once the client left */
	struct skiff_daemon *d;
	struct event *ev;
	int pipe[2];
	pthread_mutex_t lock;
	json_t *queue;   /* messages not yet written */
	bool finished;   /* the thread is done (under lock) */
	/* a RUN step's network, made on the loop thread (the network manager
	 * is single-threaded): the build thread posts, the loop answers */
	pthread_cond_t net_done;
	struct {
		bool pending, attach;
		const char *step;
		char *path;
		size_t len;
		struct skiff_error *err;
		int r;
	} net;
	volatile int cancel;
	bool quiet;
	struct skiff_build_opts o;
	/* owned inputs */
	int body_fd;
	char *dockerfile, *target, *networkmode, *platform;
	char **tags, **cachefrom, **extrahosts;
	json_t *buildargs, *labels;
	/* result */
	int r;
	struct skiff_error err;
	char id[72];
};

static void bjob_free(struct bjob *j)
{
	if (j->ev)
		event_free(j->ev);
	for (int i = 0; i < 2; i++)
		if (j->pipe[i] >= 0)
			close(j->pipe[i]);
	if (j->body_fd >= 0)
		close(j->body_fd);
	json_decref(j->queue);
	free(j->dockerfile);
	free(j->target);
	free(j->networkmode);
	free(j->platform);
	skiff_strvfree(j->tags);
	skiff_strvfree(j->cachefrom);
	skiff_strvfree(j->extrahosts);
	json_decref(j->buildargs);
	json_decref(j->labels);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->net_done);
	free(j);
}

static void wake(struct bjob *j)
{
	char c = 1;
	/* a full pipe already means "wake up" */
	while (write(j->pipe[1], &c, 1) < 0 && errno == EINTR)
		;
}

/* build thread */
static void emit(void *data, json_t *msg)
{
	struct bjob *j = data;
	if (!msg)
		return;
	pthread_mutex_lock(&j->lock);
	json_array_append_new(j->queue, msg);
	pthread_mutex_unlock(&j->lock);
	wake(j);
}

/* build thread: asks the loop and waits for the answer */
static int net_call(struct bjob *j, bool attach, const char *step, char *path, size_t len, struct skiff_error *err)
{
	int r;
	pthread_mutex_lock(&j->lock);
	j->net.pending = true;
	j->net.attach = attach;
	j->net.step = step;
	j->net.path = path;
	j->net.len = len;
	j->net.err = err;
	pthread_mutex_unlock(&j->lock);
	wake(j);
	pthread_mutex_lock(&j->lock);
	while (j->net.pending)
		pthread_cond_wait(&j->net_done, &j->lock);
	r = j->net.r;
	pthread_mutex_unlock(&j->lock);
	return r;
}

static int netns_get(void *data, const char *step_id, char *path, size_t len, struct skiff_error *err)
{
	return net_call(data, true, step_id, path, len, err);
}

static void netns_release(void *data, const char *step_id)
{
	net_call(data, false, step_id, NULL, 0, NULL);
}

/* loop thread */
static void net_answer(struct bjob *j)
{
	pthread_mutex_lock(&j->lock);
	if (j->net.pending) {
		if (j->net.attach)
			j->net.r = skiff_net_build_attach(j->d, j->net.step, j->net.path, j->net.len, j->net.err);
		else
			skiff_net_build_detach(j->d, j->net.step);
		j->net.pending = false;
		pthread_cond_signal(&j->net_done);
	}
	pthread_mutex_unlock(&j->lock);
}

static void *build_thread(void *data)
{
	struct bjob *j = data;
	j->r = skiff_build(&j->o, j->id, &j->err);
	pthread_mutex_lock(&j->lock);
	j->finished = true;
	pthread_mutex_unlock(&j->lock);
	wake(j);
	return NULL;
}

static void client_gone(struct skiff_http_req *req, void *data)
{
	struct bjob *j = data;
	(void)req;
	j->req = NULL;
	j->cancel = 1;
}

static void error_message(struct skiff_http_req *req, const struct skiff_error *err)
{
	int code = skiff_build_exit_code(err);
	const char *msg = err->msg[0] ? err->msg : "build failed";
	json_t *m = json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg);
	if (code)
		json_object_set_new(json_object_get(m, "errorDetail"), "code", json_integer(code));
	skiff_http_stream_json(req, m);
}

/* loop: writes what the thread queued; finishes the reply at the end */
static void bjob_wakeup(evutil_socket_t fd, short what, void *data)
{
	struct bjob *j = data;
	char buf[256];
	json_t *q, *m;
	bool finished;
	size_t i;
	(void)what;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	net_answer(j);
	pthread_mutex_lock(&j->lock);
	q = j->queue;
	j->queue = json_array();
	finished = j->finished;
	pthread_mutex_unlock(&j->lock);
	if (j->req)
		json_array_foreach(q, i, m)
		{
			/* q=1: only the final id (and errors) */
			if (j->quiet && json_object_get(m, "stream"))
				continue;
			skiff_http_stream_json(j->req, json_incref(m));
		}
	json_decref(q);
	if (!finished)
		return;
	skiff_store_flush_events(j->d->images);
	if (j->req) {
		j->req->on_close = NULL;
		if (j->r < 0)
			error_message(j->req, &j->err);
		else if (j->quiet)
			skiff_http_stream_json(j->req, json_pack("{s:s+}", "stream", j->id, "\n"));
		skiff_http_stream_end(j->req);
	}
	bjob_free(j);
}

static int64_t query_int(struct skiff_http_req *req, const char *name, bool *bad)
{
	const char *v = skiff_http_query(req, name);
	char *end;
	long long n;
	if (!v || !*v)
		return 0;
	n = strtoll(v, &end, 10);
	if (*end)
		*bad = true;
	return n;
}

/* buildargs={"a":"b"}, labels={...}: JSON objects; NULL on a bad value */
static json_t *query_object(struct skiff_http_req *req, const char *name, bool *bad)
{
	const char *v = skiff_http_query(req, name);
	json_error_t jerr;
	json_t *j;
	if (!v || !*v)
		return json_object();
	j = json_loads(v, JSON_DECODE_ANY, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		*bad = true;
		return NULL;
	}
	return j;
}

static void build_post(struct skiff_http_req *req)
{
	struct bjob *j;
	bool bad = false;
	const char *v;
	pthread_t t;
	pthread_attr_t attr;

	if (!req->daemon || !req->daemon->images) {
		skiff_http_reply_error(req, 503, "the image store is not available");
		return;
	}
	if ((v = skiff_http_query(req, "remote")) && *v) {
		skiff_http_reply_error(req, 400, "remote build contexts (%s) are not supported: send the context as the request body", v);
		return;
	}
	if ((v = skiff_http_query(req, "version")) && !strcmp(v, "2")) {
		skiff_http_reply_error(req, 400, "BuildKit (version=2) is not supported: use the classic builder (DOCKER_BUILDKIT=0)");
		return;
	}
	if (req->body_fd < 0) {
		skiff_http_reply_error(req, 400, "build needs the context tar as the request body");
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		skiff_http_reply_error(req, 500, "out of memory");
		return;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->net_done, NULL);
	j->pipe[0] = j->pipe[1] = -1;
	j->req = req;
	j->d = req->daemon;
	j->queue = json_array();
	j->body_fd = req->body_fd;
	req->body_fd = -1;
	j->quiet = skiff_http_query_bool(req, "q", false);

	json_t *a = skiff_http_query_all(req, "t");
	j->tags = skiff_json_strv(a);
	json_decref(a);
	j->buildargs = query_object(req, "buildargs", &bad);
	j->labels = query_object(req, "labels", &bad);
	if ((v = skiff_http_query(req, "cachefrom")) && *v) {
		json_error_t jerr;
		json_t *cf = json_loads(v, 0, &jerr);
		if (!json_is_array(cf))
			bad = true;
		else
			j->cachefrom = skiff_json_strv(cf);
		json_decref(cf);
	}
	if ((v = skiff_http_query(req, "extrahosts")) && *v) {
		_cleanup_free_ char *copy = strdup(v);
		json_t *list = json_array();
		char *save = NULL;
		for (char *tok = copy ? strtok_r(copy, ", ", &save) : NULL; tok; tok = strtok_r(NULL, ", ", &save))
			json_array_append_new(list, json_string(tok));
		j->extrahosts = skiff_json_strv(list);
		json_decref(list);
	}
#define DUP_Q(field, name) j->field = skiff_http_query(req, name) ? strdup(skiff_http_query(req, name)) : NULL
	DUP_Q(dockerfile, "dockerfile");
	DUP_Q(target, "target");
	DUP_Q(networkmode, "networkmode");
	DUP_Q(platform, "platform");
#undef DUP_Q
	j->o.limits.memory = query_int(req, "memory", &bad);
	j->o.limits.memory_swap = query_int(req, "memswap", &bad);
	j->o.limits.cpu_shares = query_int(req, "cpushares", &bad);
	j->o.limits.cpu_period = query_int(req, "cpuperiod", &bad);
	j->o.limits.cpu_quota = query_int(req, "cpuquota", &bad);
	snprintf(j->o.limits.cpuset_cpus, sizeof(j->o.limits.cpuset_cpus), "%s",
		 skiff_http_query(req, "cpusetcpus") ? skiff_http_query(req, "cpusetcpus") : "");
	j->o.shmsize = query_int(req, "shmsize", &bad);
	if (bad) {
		skiff_http_reply_error(req, 400, "invalid build option: buildargs and labels must be JSON objects, "
						 "cachefrom a JSON array, the limits integers");
		bjob_free(j);
		return;
	}
	j->o.store = req->daemon->images;
	j->o.data_root = req->daemon->data_root;
	j->o.cg = &req->daemon->cgroups;
	j->o.context_fd = j->body_fd;
	j->o.dockerfile = j->dockerfile;
	j->o.tags = j->tags;
	j->o.buildargs = j->buildargs;
	j->o.labels = j->labels;
	j->o.target = j->target;
	j->o.nocache = skiff_http_query_bool(req, "nocache", false);
	j->o.pull = skiff_http_query_bool(req, "pull", false);
	j->o.cachefrom = j->cachefrom;
	j->o.networkmode = j->networkmode;
	j->o.platform = j->platform;
	j->o.extrahosts = j->extrahosts;
	if (req->daemon->net) { /* else RUN uses the host's network (Documentation/build.md) */
		j->o.netns_get = netns_get;
		j->o.netns_release = netns_release;
		j->o.netns_data = j;
	}
	j->o.emit = emit;
	j->o.emit_data = j;
	j->o.cancel = &j->cancel;

	if (pipe2(j->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    !(j->ev = event_new(req->daemon->base, j->pipe[0], EV_READ | EV_PERSIST, bjob_wakeup, j)) ||
	    event_add(j->ev, NULL) < 0) {
		skiff_http_reply_error(req, 500, "starting the build: %s", strerror(errno ? errno : ENOMEM));
		bjob_free(j);
		return;
	}
	/* Docker answers 200 at once and reports failures in the stream */
	skiff_http_stream_start(req, 200, "application/json");
	req->on_close = client_gone;
	req->on_close_data = j;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, build_thread, j) != 0) {
		j->r = skiff_error_set(&j->err, SKIFF_EINTERNAL, EAGAIN, "starting the build thread failed");
		j->finished = true;
		wake(j);
	}
	pthread_attr_destroy(&attr);
}

static void build_prune(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *filters = skiff_http_query_filters(req);
	struct skiff_error err = { 0 };
	json_t *report = NULL;
	bool bad = false;
	int64_t keep;

	if (!filters)
		return;
	if (!req->daemon || !req->daemon->images) {
		skiff_http_reply_error(req, 503, "the image store is not available");
		return;
	}
	keep = query_int(req, "keep-storage", &bad);
	if (bad) {
		skiff_http_reply_error(req, 400, "invalid keep-storage: %s", skiff_http_query(req, "keep-storage"));
		return;
	}
	if (skiff_build_prune(req->daemon->images, req->daemon->data_root, skiff_http_query_bool(req, "all", false),
			      filters, keep, &report, &err) < 0) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	skiff_store_flush_events(req->daemon->images);
	skiff_http_reply_json(req, 200, report);
}

const struct skiff_route skiff_build_routes[] = {
	{ .methods = HTTP_POST, .pattern = "/build", .handler = build_post, .spool_body = true },
	{ .methods = HTTP_POST, .pattern = "/build/prune", .handler = build_prune },
};
const size_t skiff_build_nroutes = ARRAY_SIZE(skiff_build_routes);
