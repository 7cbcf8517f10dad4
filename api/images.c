/* The /images routes: list, inspect, history, tag, remove, prune, import
 * (create?fromSrc=-), load and save (get). Import, load and save run on a
 * pthread each so extraction never blocks the event loop: the thread writes
 * one byte to a pipe whose read end is a libevent event, and the reply is
 * finished on the loop. A client that leaves early only loses the reply. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../userspace/daemon/daemon.h"
#include "../userspace/image/store.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/json.h"
#include "http.h"
#include "routes.h"

struct job;
typedef void (*job_work_fn)(struct job *j);
typedef void (*job_done_fn)(struct job *j, struct skiff_http_req *req);

struct job {
	struct skiff_http_req *req; /* NULL once the client left */
	struct skiff_store *store;
	struct event *ev;
	int pipe[2];
	job_work_fn work;
	job_done_fn done;
	/* inputs */
	int fd;
	char *repo;
	char **strv;
	char *message;
	/* outputs */
	int r;
	struct skiff_error err;
	char *id;
	json_t *result;
	int out_fd;
};

static void job_free(struct job *j)
{
	if (j->ev)
		event_free(j->ev);
	if (j->pipe[0] >= 0)
		close(j->pipe[0]);
	if (j->pipe[1] >= 0)
		close(j->pipe[1]);
	if (j->fd >= 0)
		close(j->fd);
	if (j->out_fd >= 0)
		close(j->out_fd);
	free(j->repo);
	free(j->message);
	free(j->id);
	skiff_strvfree(j->strv);
	json_decref(j->result);
	free(j);
}

static void job_client_gone(struct skiff_http_req *req, void *data)
{
	(void)req;
	((struct job *)data)->req = NULL;
}

static void job_finished(evutil_socket_t fd, short what, void *data)
{
	struct job *j = data;
	char c;
	(void)what;
	if (read(fd, &c, 1) < 0 && errno == EAGAIN)
		return;
	skiff_store_flush_events(j->store);
	if (j->req) {
		j->req->on_close = NULL;
		j->done(j, j->req);
	}
	job_free(j);
}

static void *job_thread(void *data)
{
	struct job *j = data;
	char c = 1;
	j->work(j);
	while (write(j->pipe[1], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static struct job *job_new(struct skiff_http_req *req)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->req = req;
	j->store = req->daemon->images;
	j->fd = j->out_fd = -1;
	j->pipe[0] = j->pipe[1] = -1;
	return j;
}

/* Runs work on a detached thread; done runs on the loop afterwards. */
static void job_start(struct job *j, job_work_fn work, job_done_fn done)
{
	pthread_t t;
	pthread_attr_t attr;

	j->work = work;
	j->done = done;
	if (pipe2(j->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    !(j->ev = event_new(j->req->daemon->base, j->pipe[0], EV_READ, job_finished, j)) ||
	    event_add(j->ev, NULL) < 0) {
		skiff_http_reply_error(j->req, 500, "starting image job: %s", strerror(errno ? errno : ENOMEM));
		job_free(j);
		return;
	}
	j->req->on_close = job_client_gone;
	j->req->on_close_data = j;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, job_thread, j) != 0) {
		/* no thread: do it here rather than fail */
		job_thread(j);
	}
	pthread_attr_destroy(&attr);
}

static struct skiff_store *store_of(struct skiff_http_req *req)
{
	if (!req->daemon || !req->daemon->images) {
		skiff_http_reply_error(req, 503, "the image store is not available");
		return NULL;
	}
	return req->daemon->images;
}

/* ---- import / pull ---- */

static void import_work(struct job *j)
{
	j->r = skiff_image_import(j->store, j->fd, j->repo, j->strv, j->message, &j->id, &j->err);
}

static void import_done(struct job *j, struct skiff_http_req *req)
{
	if (j->r < 0) {
		skiff_http_reply_skiff_error(req, &j->err);
		return;
	}
	skiff_http_stream_start(req, 200, "application/json");
	skiff_http_stream_json(req, json_pack("{s:s}", "status", j->id));
	skiff_http_stream_end(req);
}

static char *join_repo_tag(const char *repo, const char *tag)
{
	char *out = NULL;
	if (!repo || !repo[0])
		return NULL;
	if (tag && tag[0]) {
		if (asprintf(&out, "%s:%s", repo, tag) < 0)
			return NULL;
		return out;
	}
	return strdup(repo);
}

static void images_create(struct skiff_http_req *req)
{
	struct skiff_store *s = store_of(req);
	const char *src = skiff_http_query(req, "fromSrc"), *image = skiff_http_query(req, "fromImage");
	const char *tag = skiff_http_query(req, "tag");

	if (!s)
		return;
	if (src) {
		struct job *j;
		json_t *changes;
		if (strcmp(src, "-")) {
			skiff_http_reply_error(req, 501, "importing from a URL is not implemented yet");
			return;
		}
		if (req->body_fd < 0) {
			skiff_http_reply_error(req, 400, "import needs the tarball as the request body");
			return;
		}
		if (!(j = job_new(req))) {
			skiff_http_reply_error(req, 500, "out of memory");
			return;
		}
		j->fd = req->body_fd;
		req->body_fd = -1;
		j->repo = join_repo_tag(skiff_http_query(req, "repo"), tag);
		j->message = strdup(skiff_http_query(req, "message") ? skiff_http_query(req, "message") : "");
		changes = skiff_http_query_all(req, "changes");
		j->strv = skiff_json_strv(changes);
		json_decref(changes);
		job_start(j, import_work, import_done);
		return;
	}
	if (image) {
		/* registries come later; an image we already have is "pulled" */
		_cleanup_free_ char *ref = join_repo_tag(image, tag);
		char id[72], norm[512];
		struct skiff_error err = { 0 };
		if (skiff_ref_normalize(ref ? ref : image, norm, sizeof(norm), &err) < 0) {
			skiff_http_reply_skiff_error(req, &err);
			return;
		}
		if (skiff_image_resolve(s, norm, id, &err) == 0) {
			char line[600];
			skiff_http_stream_start(req, 200, "application/json");
			snprintf(line, sizeof(line), "Status: Image is up to date for %s", norm);
			skiff_http_stream_json(req, json_pack("{s:s}", "status", line));
			skiff_http_stream_end(req);
			return;
		}
		skiff_http_reply_error(req, 501, "pulling from a registry is not implemented yet");
		return;
	}
	skiff_http_reply_error(req, 400, "fromImage or fromSrc is required");
}

/* ---- load ---- */

static void load_work(struct job *j)
{
	j->r = skiff_image_load(j->store, j->fd, &j->result, &j->err);
}

static void load_done(struct job *j, struct skiff_http_req *req)
{
	json_t *line;
	size_t i;
	if (j->r < 0) {
		skiff_http_reply_skiff_error(req, &j->err);
		return;
	}
	skiff_http_stream_start(req, 200, "application/json");
	json_array_foreach(j->result, i, line)
	{
		char buf[700];
		snprintf(buf, sizeof(buf), "%s\n", json_string_value(line));
		skiff_http_stream_json(req, json_pack("{s:s}", "stream", buf));
	}
	skiff_http_stream_end(req);
}

static void images_load(struct skiff_http_req *req)
{
	struct job *j;
	if (!store_of(req))
		return;
	if (req->body_fd < 0) {
		skiff_http_reply_error(req, 400, "load needs the image archive as the request body");
		return;
	}
	if (!(j = job_new(req))) {
		skiff_http_reply_error(req, 500, "out of memory");
		return;
	}
	j->fd = req->body_fd;
	req->body_fd = -1;
	job_start(j, load_work, load_done);
}

/* ---- save ---- */

static void save_work(struct job *j)
{
	j->r = skiff_image_save(j->store, j->strv, j->out_fd, &j->err);
	if (j->r == 0 && lseek(j->out_fd, 0, SEEK_SET) < 0)
		j->r = skiff_error_sys(&j->err, SKIFF_EINTERNAL, errno, "rewinding the archive");
}

static void save_done(struct job *j, struct skiff_http_req *req)
{
	if (j->r < 0) {
		skiff_http_reply_skiff_error(req, &j->err);
		return;
	}
	skiff_http_reply_fd(req, 200, "application/x-tar", j->out_fd);
	j->out_fd = -1;
}

static void start_save(struct skiff_http_req *req, json_t *names)
{
	struct skiff_error err = { 0 };
	_cleanup_free_ char *tmp = NULL;
	struct job *j;
	char id[72];
	size_t i;
	json_t *n;

	if (!json_array_size(names)) {
		skiff_http_reply_error(req, 400, "no images specified");
		return;
	}
	/* 404 before any byte is sent: the CLI shows the message */
	json_array_foreach(names, i, n)
	{
		if (skiff_image_resolve(req->daemon->images, json_string_value(n), id, &err) < 0) {
			skiff_http_reply_skiff_error(req, &err);
			return;
		}
	}
	if (!(j = job_new(req)) || asprintf(&tmp, "%s/image/tmp/save-XXXXXX", req->daemon->data_root) < 0) {
		if (j)
			job_free(j);
		skiff_http_reply_error(req, 500, "out of memory");
		return;
	}
	j->out_fd = mkostemp(tmp, O_CLOEXEC);
	if (j->out_fd < 0) {
		skiff_http_reply_error(req, 500, "creating the archive: %s", strerror(errno));
		job_free(j);
		return;
	}
	unlink(tmp);
	j->strv = skiff_json_strv(names);
	job_start(j, save_work, save_done);
}

static void images_get(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *names = NULL;
	if (!store_of(req))
		return;
	names = skiff_http_query_all(req, "names");
	/* a single comma-less "names" works too; the CLI repeats the key */
	start_save(req, names);
}

static void image_get(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *names = json_pack("[s]", req->params[0]);
	if (!store_of(req))
		return;
	start_save(req, names);
}

/* ---- list / inspect / history ---- */

static void images_list(struct skiff_http_req *req)
{
	struct skiff_store *s = store_of(req);
	struct skiff_error err = { 0 };
	_cleanup_json_ json_t *filters = NULL;
	json_t *out, *img;
	const char *legacy;
	size_t i;

	if (!s || !(filters = skiff_http_query_filters(req)))
		return;
	/* old clients send ?filter=name */
	legacy = skiff_http_query(req, "filter");
	if (legacy && legacy[0]) {
		json_t *a = json_object_get(filters, "reference");
		if (!a)
			json_object_set_new(filters, "reference", a = json_array());
		json_array_append_new(a, json_string(legacy));
	}
	out = skiff_image_list_json(s, skiff_http_query_bool(req, "all", false), filters, &err);
	if (!out) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	json_array_foreach(out, i, img)
	{
		if (req->api_minor < 44)
			json_object_set(img, "VirtualSize", json_object_get(img, "Size"));
		if (req->api_minor < 40 && !json_array_size(json_object_get(img, "RepoTags"))) {
			json_object_set_new(img, "RepoTags", json_pack("[s]", "<none>:<none>"));
			json_object_set_new(img, "RepoDigests", json_pack("[s]", "<none>@<none>"));
		}
	}
	skiff_http_reply_json(req, 200, out);
}

static void image_inspect(struct skiff_http_req *req)
{
	struct skiff_store *s = store_of(req);
	struct skiff_error err = { 0 };
	json_t *out;
	if (!s)
		return;
	out = skiff_image_inspect_json(s, req->params[0], &err);
	if (!out) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	if (req->api_minor < 44)
		json_object_set(out, "VirtualSize", json_object_get(out, "Size"));
	skiff_http_reply_json(req, 200, out);
}

static void image_history(struct skiff_http_req *req)
{
	struct skiff_store *s = store_of(req);
	struct skiff_error err = { 0 };
	json_t *out;
	if (!s)
		return;
	out = skiff_image_history_json(s, req->params[0], &err);
	if (!out)
		skiff_http_reply_skiff_error(req, &err);
	else
		skiff_http_reply_json(req, 200, out);
}

/* ---- tag / remove / prune ---- */

static void image_tag(struct skiff_http_req *req)
{
	struct skiff_store *s = store_of(req);
	struct skiff_error err = { 0 };
	if (!s)
		return;
	if (skiff_image_tag(s, req->params[0], skiff_http_query(req, "repo"), skiff_http_query(req, "tag"), &err) < 0)
		skiff_http_reply_skiff_error(req, &err);
	else
		skiff_http_reply_empty(req, 201);
}

static void image_remove(struct skiff_http_req *req)
{
	struct skiff_store *s = store_of(req);
	struct skiff_error err = { 0 };
	json_t *report = NULL;
	if (!s)
		return;
	if (skiff_image_remove(s, req->params[0], skiff_http_query_bool(req, "force", false),
			       skiff_http_query_bool(req, "noprune", false), &report, &err) < 0)
		skiff_http_reply_skiff_error(req, &err);
	else
		skiff_http_reply_json(req, 200, report);
}

static void images_prune(struct skiff_http_req *req)
{
	struct skiff_store *s = store_of(req);
	struct skiff_error err = { 0 };
	_cleanup_json_ json_t *filters = NULL;
	json_t *report = NULL, *dang;
	bool all = false;
	if (!s || !(filters = skiff_http_query_filters(req)))
		return;
	/* dangling=false means "all unused images" (docker image prune -a) */
	dang = json_object_get(filters, "dangling");
	if (json_array_size(dang)) {
		const char *v = json_string_value(json_array_get(dang, 0));
		all = !strcmp(v, "false") || !strcmp(v, "0");
		json_object_del(filters, "dangling");
	}
	if (skiff_image_prune(s, all, filters, &report, &err) < 0)
		skiff_http_reply_skiff_error(req, &err);
	else
		skiff_http_reply_json(req, 200, report);
}

const struct skiff_route skiff_images_routes[] = {
	{ .methods = HTTP_POST, .pattern = "/images/create", .handler = images_create, .spool_body = true },
	{ .methods = HTTP_POST, .pattern = "/images/load", .handler = images_load, .spool_body = true },
	{ .methods = HTTP_GET, .pattern = "/images/get", .handler = images_get },
	{ .methods = HTTP_GET, .pattern = "/images/json", .handler = images_list },
	{ .methods = HTTP_POST, .pattern = "/images/prune", .handler = images_prune },
	{ .methods = HTTP_GET, .pattern = "/images/{name*}/get", .handler = image_get },
	{ .methods = HTTP_GET, .pattern = "/images/{name*}/json", .handler = image_inspect },
	{ .methods = HTTP_GET, .pattern = "/images/{name*}/history", .handler = image_history },
	{ .methods = HTTP_POST, .pattern = "/images/{name*}/tag", .handler = image_tag },
	{ .methods = HTTP_DELETE, .pattern = "/images/{name*}", .handler = image_remove },
};
const size_t skiff_images_nroutes = ARRAY_SIZE(skiff_images_routes);
