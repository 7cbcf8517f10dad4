/* The container manager: every container's record in memory (built from
 * <data-root>/containers/<id>/ at start), its lifecycle through the
 * monitor, exit handling with restart policies, waiters for /wait and
 * /stop, and the JSON shapes of ps and inspect built from memory. */
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../image/store.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../runtime/cgroup.h"
#include "../runtime/monitor-client.h"
#include "../runtime/start-trace.h"
#include "container-config.h"
#include "container-volumes.h"
#include "events.h"
#include "exec.h"
#include "filters.h"
#include "health.h"
#include "names.h"
#include "../net/network.h"

struct waiter {
	struct waiter *next;
	char id[65];
	int cond;            /* enum skiff_wait_cond */
	bool restart;        /* restart: start again when the exit arrives */
	skiff_ctr_done_fn cb; /* NULL once cancelled (restart waiters) */
	void *data;
};

struct skiff_ctr_rt {
	struct skiff_daemon *d;
	struct event *kill_timer;    /* stop: SIGKILL after the timeout */
	struct event *restart_timer; /* restart policy back-off */
	struct skiff_restart_state rs;
	int attaches;
	bool remove_pending;         /* AutoRemove once attaches ended */
	bool remove_volumes;         /* rm -v: its anonymous volumes go too */
	char *ps_cache;              /* ps fields that change only on rename */
};

/* One thread does the disk work that would otherwise stall the event loop
 * (and every request behind it): deleting removed containers' directories
 * (moved into <root>/.trash first, so removal itself is one rename) and the
 * state.json writes whose durability nobody waits for. Jobs run in order,
 * so a later write of a file never loses to an earlier one. */
struct disk_job {
	struct disk_job *next;
	char *path;
	char *data; /* NULL: rm -rf path */
	size_t len;
};

struct disk_worker {
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct disk_job *head, **tail;
	const char *busy_path; /* the job being run (owned by the job) */
	bool running, stop;
	pthread_t thread;
};

struct skiff_containers {
	struct skiff_daemon *d;
	char *root;              /* <data-root>/containers */
	char *trash;             /* <root>/.trash: removed, not yet deleted */
	struct skiff_ctr **v;    /* in creation order */
	size_t n, cap;
	struct waiter *waiters;
	struct disk_worker dw;
};

static void ctr_free(struct skiff_ctr *c)
{
	if (!c)
		return;
	if (c->rt) {
		if (c->rt->kill_timer)
			event_free(c->rt->kill_timer);
		if (c->rt->restart_timer)
			event_free(c->rt->restart_timer);
		free(c->rt->ps_cache);
		free(c->rt);
	}
	skiff_ctr_free_fields(c);
	free(c);
}

static int table_add(struct skiff_containers *cs, struct skiff_ctr *c)
{
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 64;
		struct skiff_ctr **v = realloc(cs->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		cs->v = v;
		cs->cap = cap;
	}
	/* keep creation order so ps can walk newest first */
	size_t i = cs->n;
	while (i > 0 && (cs->v[i - 1]->created.tv_sec > c->created.tv_sec ||
			 (cs->v[i - 1]->created.tv_sec == c->created.tv_sec &&
			  cs->v[i - 1]->created.tv_nsec > c->created.tv_nsec))) {
		cs->v[i] = cs->v[i - 1];
		i--;
	}
	cs->v[i] = c;
	cs->n++;
	return 0;
}

static void table_del(struct skiff_containers *cs, struct skiff_ctr *c)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i] == c) {
			memmove(cs->v + i, cs->v + i + 1, (cs->n - i - 1) * sizeof(*cs->v));
			cs->n--;
			return;
		}
}

static struct skiff_ctr *find_by_name(struct skiff_containers *cs, const char *name)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i]->name, name))
			return cs->v[i];
	return NULL;
}

static struct skiff_ctr *find_by_id(struct skiff_containers *cs, const char *id)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i]->id, id))
			return cs->v[i];
	return NULL;
}

struct skiff_ctr *skiff_container_find(struct skiff_daemon *d, const char *key, struct skiff_error *err)
{
	struct skiff_containers *cs = d->containers;
	_cleanup_free_ const char **ids = NULL, **names = NULL;
	int r;

	if (!cs || !cs->n) {
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such container: %s", key);
		return NULL;
	}
	ids = calloc(cs->n, sizeof(*ids));
	names = calloc(cs->n, sizeof(*names));
	if (!ids || !names) {
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < cs->n; i++) {
		ids[i] = cs->v[i]->id;
		names[i] = cs->v[i]->name;
	}
	r = skiff_ids_lookup(key, ids, names, cs->n);
	if (r == -ENOTUNIQ) {
		skiff_error_set(err, SKIFF_EINVAL, ENOTUNIQ, "multiple IDs found with provided prefix: %s", key);
		return NULL;
	}
	if (r < 0) {
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such container: %s", key);
		return NULL;
	}
	return cs->v[r];
}

/* ---- the disk worker ----------------------------------------------------- */

static void disk_job_run(struct disk_job *j)
{
	int r;
	if (!j->data) {
		r = skiff_rm_rf(j->path);
		if (r < 0)
			log_warn("deleting '%s': %s", j->path, strerror(-r));
		return;
	}
	r = skiff_write_atomic(j->path, j->data, j->len, 0600);
	if (r < 0)
		log_warn("writing '%s': %s", j->path, strerror(-r));
}

static void disk_job_free(struct disk_job *j)
{
	free(j->path);
	free(j->data);
	free(j);
}

static void *disk_thread(void *arg)
{
	struct disk_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct disk_job *j = w->head;
		if (!j) {
			pthread_cond_broadcast(&w->idle);
			if (w->stop)
				break;
			pthread_cond_wait(&w->work, &w->lock);
			continue;
		}
		w->head = j->next;
		if (!w->head)
			w->tail = &w->head;
		w->busy_path = j->path;
		pthread_mutex_unlock(&w->lock);
		disk_job_run(j);
		pthread_mutex_lock(&w->lock);
		w->busy_path = NULL;
		pthread_cond_broadcast(&w->idle);
		disk_job_free(j);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void disk_worker_init(struct disk_worker *w)
{
	sigset_t all, old;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	w->tail = &w->head;
	/* signals stay with the event loop's thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	w->running = pthread_create(&w->thread, NULL, disk_thread, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!w->running)
		log_warn("no disk worker thread: container removal and state writes stay on the event loop");
}

/* Takes path and data (data NULL: rm -rf). Without a worker the job runs now. */
static void disk_submit(struct disk_worker *w, char *path, char *data, size_t len)
{
	struct disk_job *j = calloc(1, sizeof(*j));

	if (!j || !w->running) {
		struct disk_job tmp = { .path = path, .data = data, .len = len };
		disk_job_run(&tmp);
		free(path);
		free(data);
		free(j);
		return;
	}
	j->path = path;
	j->data = data;
	j->len = len;
	pthread_mutex_lock(&w->lock);
	*w->tail = j;
	w->tail = &j->next;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

/* Waits until no queued or running job touches path (NULL: until idle). */
static void disk_wait(struct disk_worker *w, const char *path)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		bool pending = w->busy_path && (!path || !strcmp(w->busy_path, path));
		for (struct disk_job *j = w->head; j && !pending; j = j->next)
			pending = !path || !strcmp(j->path, path);
		if (!pending)
			break;
		pthread_cond_wait(&w->idle, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
}

static void disk_worker_stop(struct disk_worker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL); /* runs what is queued first */
	w->running = false;
}

/* ---- persistence and events -------------------------------------------- */

static char *ctr_file(const struct skiff_ctr *c, const char *name)
{
	return skiff_path_join(c->dir, name);
}

char *skiff_container_log_path(const struct skiff_ctr *c)
{
	char *p;
	if (asprintf(&p, "%s/%s-json.log", c->dir, c->id) < 0)
		return NULL;
	return p;
}

static int save_config(const struct skiff_ctr *c)
{
	_cleanup_json_ json_t *j = skiff_ctr_config_json(c);
	_cleanup_free_ char *p = ctr_file(c, "config.v2.json");
	if (!j || !p)
		return -ENOMEM;
	return skiff_json_write_file(p, j);
}

/* One state.json write per state change, temp + fsync + rename like every
 * metadata write; it returns once the file is durable. */
static void save_state(const struct skiff_ctr *c)
{
	_cleanup_json_ json_t *j = skiff_ctr_state_json(c);
	_cleanup_free_ char *p = ctr_file(c, "state.json");
	int r = -ENOMEM;

	if (j && p) {
		/* an earlier write of the same file still queued must land first */
		disk_wait(&c->rt->d->containers->dw, p);
		r = skiff_json_write_file(p, j);
	}
	if (r < 0)
		log_warn("container %.12s: saving state: %s", c->id, strerror(-r));
}

/* The same write done by the disk worker: for states already recoverable
 * from a durable record (an exit: the monitor fsyncs exit.json before it
 * tells us, and a skiffd that finds "running" on disk but no process reads
 * it), so a reply need not wait for the fsync. */
static void save_state_async(const struct skiff_ctr *c)
{
	_cleanup_json_ json_t *j = skiff_ctr_state_json(c);
	char *p = ctr_file(c, "state.json");
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (!p || !s) {
		free(p);
		free(s);
		log_warn("container %.12s: saving state: out of memory", c->id);
		return;
	}
	disk_submit(&c->rt->d->containers->dw, p, s, strlen(s));
}

void skiff_container_event(struct skiff_daemon *d, struct skiff_ctr *c, const char *action, json_t *extra)
{
	json_t *attrs, *labels = json_object_get(c->config, "Labels"), *v;
	const char *k;

	if (!d->events) {
		json_decref(extra);
		return;
	}
	attrs = json_object();
	json_object_foreach(labels, k, v) json_object_set(attrs, k, v);
	json_object_set_new(attrs, "image", json_string(c->image));
	json_object_set_new(attrs, "name", json_string(c->name + 1));
	if (extra)
		json_object_update(attrs, extra);
	json_decref(extra);
	skiff_events_emit(d->events, "container", action, c->id, attrs);
}

static int do_start(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err);
static void do_remove(struct skiff_daemon *d, struct skiff_ctr *c);

/* ---- waiters ----------------------------------------------------------- */

static void fire_waiters(struct skiff_daemon *d, struct skiff_ctr *c, bool exited, bool removed)
{
	struct skiff_containers *cs = d->containers;
	struct waiter **pp = &cs->waiters, *fired = NULL, **tail = &fired;

	/* unlink first: callbacks may add waiters or remove containers */
	while (*pp) {
		struct waiter *w = *pp;
		bool hit = !strcmp(w->id, c->id) &&
			   (removed || (exited && w->cond != SKIFF_WAIT_REMOVED));
		if (hit) {
			*pp = w->next;
			w->next = NULL;
			*tail = w;
			tail = &w->next;
		} else {
			pp = &w->next;
		}
	}
	while (fired) {
		struct waiter *w = fired;
		fired = w->next;
		if (w->restart && !removed) {
			struct skiff_error err = { 0 };
			int r = do_start(d, c, &err);
			skiff_container_event(d, c, "restart", NULL);
			if (w->cb)
				w->cb(r < 0 ? (err.status ? err.status : 500) : 0, c->exit_code, r < 0 ? err.msg : NULL,
				      w->data);
		} else if (w->cb) {
			w->cb(0, c->exit_code, NULL, w->data);
		}
		free(w);
	}
}

static struct waiter *waiter_add(struct skiff_daemon *d, struct skiff_ctr *c, int cond, skiff_ctr_done_fn cb,
				 void *data)
{
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	memcpy(w->id, c->id, 65);
	w->cond = cond;
	w->cb = cb;
	w->data = data;
	w->next = d->containers->waiters;
	d->containers->waiters = w;
	return w;
}

void skiff_container_cancel(struct skiff_daemon *d, void *handle)
{
	struct waiter **pp;
	if (!handle || !d->containers)
		return;
	for (pp = &d->containers->waiters; *pp; pp = &(*pp)->next) {
		if (*pp != handle)
			continue;
		if ((*pp)->restart) {
			(*pp)->cb = NULL; /* the restart still happens */
			return;
		}
		struct waiter *w = *pp;
		*pp = w->next;
		free(w);
		return;
	}
}

int skiff_container_wait(struct skiff_daemon *d, struct skiff_ctr *c, int cond, skiff_ctr_done_fn cb, void *data,
			 void **handle, int *exit_code)
{
	bool running = skiff_ctr_is_running(c) || c->status == SKIFF_CTR_RESTARTING;
	struct waiter *w;

	if (cond == SKIFF_WAIT_NOT_RUNNING && !running) {
		*exit_code = c->exit_code;
		return 1;
	}
	w = waiter_add(d, c, cond, cb, data);
	if (!w)
		return -ENOMEM;
	*handle = w;
	return 0;
}

/* ---- create -------------------------------------------------------------- */

static int reserve_name(struct skiff_containers *cs, const char *want, char *out, size_t outlen,
			struct skiff_error *err)
{
	struct skiff_ctr *other;

	if (want && *want) {
		if (!skiff_name_valid(want))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
					       want);
		snprintf(out, outlen, "%s%s", want[0] == '/' ? "" : "/", want);
		other = find_by_name(cs, out);
		if (other)
			return skiff_error_set(err, SKIFF_ECONFLICT, EEXIST,
					       "Conflict. The container name \"%s\" is already in use by container \"%s\". "
					       "You have to remove (or rename) that container to be able to reuse that name.",
					       out, other->id);
		return 0;
	}
	for (int i = 0; i < 20; i++) {
		skiff_name_generate(out, outlen, i > 5);
		if (!find_by_name(cs, out))
			return 0;
	}
	return skiff_error_set(err, SKIFF_EINTERNAL, EEXIST, "could not generate a unique container name");
}

static int resolve_image(struct skiff_daemon *d, const char *ref, char id[72], json_t **img_cfg,
			 struct skiff_error *err)
{
	_cleanup_strv_ char **lower = NULL;
	int r;

	if (!d->images)
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", ref);
	r = skiff_image_resolve(d->images, ref, id, err);
	if (r < 0) {
		if (err && err->status == SKIFF_ENOTFOUND) {
			char norm[512];
			struct skiff_error e2 = { 0 };
			if (skiff_ref_normalize(ref, norm, sizeof(norm), &e2) == 0)
				skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", norm);
		}
		return r;
	}
	return skiff_image_runtime(d->images, id, img_cfg, &lower, err);
}

int skiff_container_create(struct skiff_daemon *d, const char *name, json_t *body, json_t **reply,
			   struct skiff_error *err)
{
	struct skiff_containers *cs = d->containers;
	_cleanup_json_ json_t *warnings = json_array(), *img_cfg = NULL;
	struct skiff_ctr *c = NULL;
	char fullname[300];
	const char *target;
	int r;

	r = skiff_ctr_config_validate(body, d->ncpu > 0 ? d->ncpu : 1, warnings, err);
	if (r == 0)
		r = skiff_health_validate(body, err);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->rt = calloc(1, sizeof(*c->rt))))
		goto oom;
	c->rt->d = d;
	START_TRACE(NULL, "create");
	r = resolve_image(d, skiff_json_str(body, "Image", ""), c->image_id, &img_cfg, err);
	if (r < 0)
		goto fail;
	START_TRACE(NULL, "create:image");
	c->image = strdup(skiff_json_str(body, "Image", ""));
	c->config = skiff_ctr_config_merge(body, img_cfg);
	c->host_config = skiff_ctr_hostconfig_normalize(json_object_get(body, "HostConfig"));
	c->net_config = json_incref(json_object_get(body, "NetworkingConfig"));
	if (!c->image || !c->config || !c->host_config)
		goto oom;
	r = skiff_ctr_path_args(c->config, &c->path, &c->args, err);
	if (r < 0)
		goto fail;
	c->command = skiff_ctr_command_string(c->path, c->args);
	r = skiff_net_ctr_create(d, c, err);
	if (r < 0)
		goto fail;
	if (skiff_ctr_netmode(c->host_config, &target) == SKIFF_NET_CONTAINER &&
	    !skiff_container_find(d, target, err)) {
		r = -ENOENT;
		goto fail;
	}
	r = reserve_name(cs, name, fullname, sizeof(fullname), err);
	if (r < 0)
		goto fail;
	c->name = strdup(fullname);
	r = skiff_id_generate(c->id);
	if (r < 0) {
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "generating a container id");
		goto fail;
	}
	if (!c->name || asprintf(&c->dir, "%s/%s", cs->root, c->id) < 0)
		goto oom;
	c->created = skiff_now();
	c->status = SKIFF_CTR_CREATED;

	/* from here on a failure removes the dir; the containers dir exists
	 * (init made it), so no component walk */
	static const char *const subdirs[] = { "upper", "work", "merged" };
	r = mkdir(c->dir, 0710) < 0 ? -errno : 0;
	if (r == 0) {
		_cleanup_close_ int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = dfd < 0 ? -errno : 0;
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(subdirs); i++)
			r = mkdirat(dfd, subdirs[i], 0755) < 0 ? -errno : 0;
	}
	if (r < 0) {
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating the directory of container '%s'", c->name);
		goto fail_dir;
	}
	START_TRACE(c->id, "create:mkdirs");
	r = skiff_ctr_mounts(c->host_config, true, &c->mounts, err);
	if (r < 0)
		goto fail_dir;
	r = skiff_ctr_volumes_setup(d, c, err);
	if (r < 0)
		goto fail_dir;
	/* no state.json yet: a container without one loads as created (the
	 * defaults), so the first state write is the first start's */
	r = save_config(c);
	START_TRACE(c->id, "create:config");
	if (r < 0) {
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "saving container '%s'", c->name);
		goto fail_dir;
	}
	if (table_add(cs, c) < 0) {
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		r = -ENOMEM;
		goto fail_dir;
	}
	skiff_container_event(d, c, "create", NULL);
	*reply = json_pack("{s:s, s:O}", "Id", c->id, "Warnings", warnings);
	START_TRACE(c->id, "create:done");
	return 0;

fail_dir:
	skiff_ctr_volumes_release(d, c, true);
	skiff_rm_rf(c->dir);
	goto fail;
oom:
	r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
fail:
	ctr_free(c);
	return r;
}

static void cancel_restart_timer(struct skiff_ctr *c);

/* ---- start ------------------------------------------------------------- */

static void set_error(struct skiff_ctr *c, const char *msg)
{
	free(c->error);
	c->error = msg && *msg ? strdup(msg) : NULL;
}

/* ps shows each network's address: it changes with every start and stop */
static void drop_ps_cache(struct skiff_ctr *c)
{
	free(c->rt->ps_cache);
	c->rt->ps_cache = NULL;
}

static int do_start(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err)
{
	_cleanup_strv_ char **lower = NULL;
	_cleanup_json_ json_t *img_cfg = NULL, *spec = NULL;
	char netns[64] = "new";
	const char *target;
	pid_t pid = 0;
	int r;

	if (c->status == SKIFF_CTR_PAUSED)
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
				       "cannot start a paused container, try unpause instead");
	if (skiff_ctr_is_running(c))
		return 1;
	if (c->status == SKIFF_CTR_REMOVING || c->status == SKIFF_CTR_DEAD)
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY, "container is marked for removal and cannot be started");
	if (!d->monitor)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOTCONN, "the container monitor is not connected");

	switch (skiff_ctr_netmode(c->host_config, &target)) {
	case SKIFF_NET_HOST:
		strcpy(netns, "host");
		break;
	case SKIFF_NET_CONTAINER: {
		struct skiff_ctr *o = skiff_container_find(d, target, err);
		if (!o)
			return -ENOENT;
		if (!skiff_ctr_is_running(o) || o->pid <= 0)
			return skiff_error_set(err, SKIFF_ECONFLICT, ESRCH,
					       "cannot join network namespace of a non running container: %s", o->id);
		snprintf(netns, sizeof(netns), "/proc/%d/ns/net", o->pid);
		break;
	}
	default:
		break;
	}
	if (!d->images)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOENT, "no image store");
	START_TRACE(c->id, "start");
	r = skiff_image_runtime(d->images, c->image_id, &img_cfg, &lower, err);
	if (r < 0)
		return skiff_error_wrap(err, "starting container '%s'", c->name + 1);
	START_TRACE(c->id, "start:image");
	r = skiff_net_ctr_start(d, c, netns, sizeof(netns), err);
	if (r < 0)
		return r;
	START_TRACE(c->id, "start:net");
	{
		char ip[16], nameserver[16];
		skiff_net_ctr_etc(d, c, ip, nameserver);
		r = skiff_ctr_write_etc_files_net(c, ip, nameserver, err);
	}
	if (r < 0) {
		skiff_net_ctr_spawned(d, c, 0);
		return r;
	}
	START_TRACE(c->id, "start:etc");
	r = skiff_ctr_volumes_mount(d, c, err);
	if (r < 0) {
		skiff_net_ctr_spawned(d, c, 0);
		return r;
	}
	spec = skiff_ctr_build_spec(c, lower, netns, err);
	if (!spec) {
		skiff_ctr_volumes_unmount(d, c);
		skiff_net_ctr_spawned(d, c, 0);
		return -ENOMEM;
	}
	START_TRACE(c->id, "start:spec");
	{
		_cleanup_free_ char *log = skiff_container_log_path(c);
		_cleanup_free_ char *ex = ctr_file(c, "exit.json");
		json_object_set_new(spec, "log_path", json_string(log ? log : ""));
		json_object_set_new(spec, "exit_path", json_string(ex ? ex : ""));
		if (ex)
			unlink(ex);
	}
	/* the running state is written while the monitor builds the container
	 * (that takes longer than the fsync): durable before the reply, off the
	 * critical path. A failed spawn overwrites it below. The pid is not
	 * persisted: a restarted skiffd takes it from the monitor. */
	struct skiff_ctr next = *c;
	next.status = SKIFF_CTR_RUNNING;
	next.pid = 0;
	next.exit_code = 0;
	next.oom_killed = false;
	next.has_been_started = true;
	next.manual_stop = false;
	next.started_at = skiff_now();
	next.error = NULL;
	START_TRACE(c->id, "start:spawn-req");
	r = skiff_monitor_spawn_send(d->monitor, spec, err);
	if (r == 0) {
		save_state(&next);
		START_TRACE(c->id, "start:state");
		r = skiff_monitor_spawn_finish(d->monitor, &pid, err);
	}
	START_TRACE(c->id, "start:spawn-rep");
	skiff_net_ctr_spawned(d, c, r < 0 ? 0 : pid);
	drop_ps_cache(c);
	if (r < 0) {
		/* Docker: the exec failure is a 400, ExitCode 127 (126 when not executable) */
		if (err->status == SKIFF_EINVAL || err->status == 0) {
			char msg[sizeof(err->msg)];
			snprintf(msg, sizeof(msg), "failed to create task for container: %s: unknown", err->msg);
			c->exit_code = strstr(err->msg, "permission denied") ? 126 : 127;
			skiff_error_set(err, SKIFF_EINVAL, -r, "%s", msg);
		} else {
			c->exit_code = 128;
		}
		set_error(c, err->msg);
		skiff_ctr_volumes_unmount(d, c);
		if (c->has_been_started)
			c->status = SKIFF_CTR_EXITED;
		save_state(c);
		return r;
	}
	c->status = SKIFF_CTR_RUNNING;
	c->pid = pid;
	c->exit_code = 0;
	c->oom_killed = false;
	c->has_been_started = true;
	c->manual_stop = false;
	c->started_at = next.started_at;
	set_error(c, NULL);
	skiff_container_event(d, c, "start", NULL);
	skiff_health_start(d, c);
	START_TRACE(c->id, "start:done");
	return 0;
}

/* A user's start: Docker resets the restart count and back-off. */
int skiff_container_start(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err)
{
	if (!skiff_ctr_is_running(c) && c->status != SKIFF_CTR_PAUSED) {
		if (c->status == SKIFF_CTR_RESTARTING) {
			cancel_restart_timer(c);
			c->status = SKIFF_CTR_EXITED;
		}
		c->restart_count = 0;
		c->rt->rs.delay_ms = 0;
	}
	int r = do_start(d, c, err);
	/* Docker removes an AutoRemove container whose start failed: docker
	 * run --rm waits for that (wait?condition=removed) */
	if (r < 0 && skiff_json_bool(c->host_config, "AutoRemove", false) && !skiff_ctr_is_running(c))
		do_remove(d, c);
	return r;
}

/* ---- signals, stop, kill ----------------------------------------------- */

/* Docker's event attributes are strings, numbers included. */
static json_t *json_sprintf_attr(const char *key, int v)
{
	json_t *o = json_object();
	json_object_set_new(o, key, json_sprintf("%d", v));
	return o;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },       { "QUIT", SIGQUIT },     { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT },     { "IOT", SIGIOT },       { "BUS", SIGBUS },
	{ "FPE", SIGFPE },   { "KILL", SIGKILL },     { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },     { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },     { "URG", SIGURG },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },     { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO },       { "POLL", SIGPOLL },     { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int skiff_signal_parse(const char *s)
{
	char *end;
	long n;

	if (!s || !*s)
		return -EINVAL;
	n = strtol(s, &end, 10);
	if (!*end)
		return n > 0 && n < 65 ? (int)n : -EINVAL;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (!strcasecmp(signals[i].name, s))
			return signals[i].sig;
	if (!strncasecmp(s, "RTMIN", 5)) {
		n = s[5] == '+' ? strtol(s + 6, &end, 10) : 0;
		return SIGRTMIN + (int)n <= SIGRTMAX ? SIGRTMIN + (int)n : -EINVAL;
	}
	return -EINVAL;
}

static int send_signal(struct skiff_daemon *d, struct skiff_ctr *c, int sig, struct skiff_error *err)
{
	if (!d->monitor)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOTCONN, "the container monitor is not connected");
	return skiff_monitor_kill(d->monitor, c->id, sig, err);
}

int skiff_container_kill(struct skiff_daemon *d, struct skiff_ctr *c, const char *signal, struct skiff_error *err)
{
	int sig = signal && *signal ? skiff_signal_parse(signal) : SIGKILL;
	int r;

	if (sig < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Invalid signal: %s", signal);
	if (!skiff_ctr_is_running(c))
		return skiff_error_set(err, SKIFF_ECONFLICT, ESRCH, "Container %s is not running", c->id);
	if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
		/* Docker: an explicit kill counts as a user stop for restart policies */
		c->manual_stop = true;
		save_state(c);
	}
	r = send_signal(d, c, sig, err);
	if (r < 0)
		return r;
	if (c->status == SKIFF_CTR_PAUSED && sig == SIGKILL)
		skiff_cgroup_freeze(&d->cgroups, c->id, false, NULL);
	skiff_container_event(d, c, "kill", json_sprintf_attr("signal", sig));
	return 0;
}

static void kill_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_ctr *c = arg;
	struct skiff_error err = { 0 };
	(void)fd, (void)what;
	if (skiff_ctr_is_running(c)) {
		log_info("container %.12s: did not stop in time, killing", c->id);
		if (send_signal(c->rt->d, c, SIGKILL, &err) < 0)
			log_warn("container %.12s: SIGKILL: %s", c->id, err.msg);
		skiff_container_event(c->rt->d, c, "kill", json_pack("{s:s}", "signal", "9"));
	}
}

static void cancel_restart_timer(struct skiff_ctr *c)
{
	if (c->rt->restart_timer) {
		event_free(c->rt->restart_timer);
		c->rt->restart_timer = NULL;
	}
}

int skiff_container_stop(struct skiff_daemon *d, struct skiff_ctr *c, const char *signal, int timeout,
			 skiff_ctr_done_fn cb, void *data, void **handle, struct skiff_error *err)
{
	const char *sname = signal && *signal ? signal : skiff_json_str(c->config, "StopSignal", "");
	int sig = *sname ? skiff_signal_parse(sname) : SIGTERM;
	struct waiter *w;
	int r;

	if (sig < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Invalid signal: %s", sname);
	if (c->status == SKIFF_CTR_RESTARTING) {
		/* waiting for its back-off: stopping just cancels the restart */
		cancel_restart_timer(c);
		c->manual_stop = true;
		c->status = SKIFF_CTR_EXITED;
		save_state(c);
		skiff_container_event(d, c, "stop", NULL);
		return 1;
	}
	if (!skiff_ctr_is_running(c))
		return 1;
	if (timeout < 0)
		timeout = (int)skiff_json_int(c->config, "StopTimeout", 10);
	c->manual_stop = true;
	save_state(c);
	w = waiter_add(d, c, SKIFF_WAIT_NEXT_EXIT, cb, data);
	if (!w)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	*handle = w;
	r = send_signal(d, c, sig, err);
	if (r < 0 && timeout != 0)
		log_warn("container %.12s: stop signal: %s", c->id, err->msg);
	if (c->status == SKIFF_CTR_PAUSED)
		skiff_cgroup_freeze(&d->cgroups, c->id, false, NULL);
	if (!c->rt->kill_timer)
		c->rt->kill_timer = evtimer_new(d->base, kill_timeout, c);
	if (c->rt->kill_timer) {
		struct timeval tv = { .tv_sec = timeout > 0 ? timeout : 0 };
		evtimer_add(c->rt->kill_timer, &tv);
	}
	return 0;
}

int skiff_container_restart(struct skiff_daemon *d, struct skiff_ctr *c, const char *signal, int timeout,
			    skiff_ctr_done_fn cb, void *data, void **handle, struct skiff_error *err)
{
	int r = skiff_container_stop(d, c, signal, timeout, NULL, NULL, handle, err);
	if (r < 0)
		return r;
	if (r == 1) {
		r = skiff_container_start(d, c, err);
		if (r < 0)
			return r;
		skiff_container_event(d, c, "restart", NULL);
		return 1;
	}
	/* turn the stop waiter into a restart waiter */
	struct waiter *w = *handle;
	w->restart = true;
	w->cb = cb;
	w->data = data;
	return 0;
}

/* ---- remove, rename, pause ----------------------------------------------- */

/* The container's directory leaves <root> with one rename (a restarted
 * skiffd no longer sees it); deleting the upper dir, logs and the rest is
 * the disk worker's job. */
static void discard_dir(struct skiff_containers *cs, struct skiff_ctr *c)
{
	char *to = cs->trash ? skiff_path_join(cs->trash, c->id) : NULL;

	if (to && rename(c->dir, to) == 0) {
		disk_submit(&cs->dw, to, NULL, 0);
		return;
	}
	free(to);
	disk_wait(&cs->dw, NULL);
	skiff_rm_rf(c->dir);
}

static void do_remove(struct skiff_daemon *d, struct skiff_ctr *c)
{
	struct skiff_error err = { 0 };

	START_TRACE(c->id, "remove");
	c->status = SKIFF_CTR_REMOVING;
	cancel_restart_timer(c);
	if (d->monitor && skiff_monitor_forget(d->monitor, c->id, &err) < 0)
		log_debug("container %.12s: forget: %s", c->id, err.msg);
	START_TRACE(c->id, "remove:forget");
	skiff_net_ctr_remove(d, c);
	skiff_ctr_volumes_release(d, c,
				  c->rt->remove_volumes || skiff_json_bool(c->host_config, "AutoRemove", false));
	discard_dir(d->containers, c);
	START_TRACE(c->id, "remove:rmrf");
	table_del(d->containers, c);
	skiff_container_event(d, c, "destroy", NULL);
	fire_waiters(d, c, true, true);
	START_TRACE(c->id, "remove:done");
	ctr_free(c);
}

int skiff_container_remove(struct skiff_daemon *d, struct skiff_ctr *c, bool force, struct skiff_error *err)
{
	return skiff_container_remove_ex(d, c, force, false, err);
}

int skiff_container_remove_ex(struct skiff_daemon *d, struct skiff_ctr *c, bool force, bool volumes,
			      struct skiff_error *err)
{
	if (c->status == SKIFF_CTR_REMOVING)
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY, "removal of container %s is already in progress",
				       c->name + 1);
	c->rt->remove_volumes = volumes;
	if (skiff_ctr_is_running(c)) {
		if (!force)
			return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
					       "cannot remove container \"%s\": container is %s: stop the container before "
					       "removing or force remove",
					       c->name, c->status == SKIFF_CTR_PAUSED ? "paused" : "running");
		/* the exit arrives later: remove once it does */
		c->manual_stop = true;
		c->rt->remove_pending = true;
		c->rt->attaches = 0;
		int r = send_signal(d, c, SIGKILL, err);
		if (c->status == SKIFF_CTR_PAUSED)
			skiff_cgroup_freeze(&d->cgroups, c->id, false, NULL);
		if (r == 0) {
			c->status = SKIFF_CTR_REMOVING;
			save_state(c);
			return 0;
		}
		/* the monitor does not know it: treat it as exited */
	}
	do_remove(d, c);
	return 0;
}

int skiff_container_rename(struct skiff_daemon *d, struct skiff_ctr *c, const char *name, struct skiff_error *err)
{
	char full[300];
	struct skiff_ctr *o;
	char *old;

	if (!name || !*name)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Neither old nor new names may be empty");
	if (!skiff_name_valid(name))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
	snprintf(full, sizeof(full), "%s%s", name[0] == '/' ? "" : "/", name);
	if (!strcmp(full, c->name))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Renaming a container with the same name as its current name");
	o = find_by_name(d->containers, full);
	if (o)
		return skiff_error_set(err, SKIFF_ECONFLICT, EEXIST,
				       "Error when allocating new name: Conflict. The container name \"%s\" is already in use "
				       "by container \"%s\". You have to remove (or rename) that container to be able to "
				       "reuse that name.",
				       full, o->id);
	old = c->name;
	c->name = strdup(full);
	if (!c->name) {
		c->name = old;
		return -ENOMEM;
	}
	if (save_config(c) < 0) {
		free(c->name);
		c->name = old;
		return skiff_error_set(err, SKIFF_EINTERNAL, EIO, "saving container '%s'", full);
	}
	free(c->rt->ps_cache);
	c->rt->ps_cache = NULL;
	skiff_container_event(d, c, "rename", json_pack("{s:s}", "oldName", old));
	free(old);
	return 0;
}

int skiff_container_pause(struct skiff_daemon *d, struct skiff_ctr *c, bool pause, struct skiff_error *err)
{
	int r;
	if (pause) {
		if (c->status == SKIFF_CTR_PAUSED)
			return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY, "Container %s is already paused", c->id);
		if (c->status != SKIFF_CTR_RUNNING)
			return skiff_error_set(err, SKIFF_ECONFLICT, ESRCH, "Container %s is not running", c->id);
	} else if (c->status != SKIFF_CTR_PAUSED) {
		return skiff_error_set(err, SKIFF_ECONFLICT, EINVAL, "Container %s is not paused", c->id);
	}
	r = skiff_cgroup_freeze(&d->cgroups, c->id, pause, err);
	if (r < 0)
		return r;
	c->status = pause ? SKIFF_CTR_PAUSED : SKIFF_CTR_RUNNING;
	save_state(c);
	skiff_container_event(d, c, pause ? "pause" : "unpause", NULL);
	return 0;
}

/* ---- exits and restart policies ------------------------------------------ */

static void restart_fire(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_ctr *c = arg;
	struct skiff_daemon *d = c->rt->d;
	struct skiff_error err = { 0 };
	(void)fd, (void)what;

	cancel_restart_timer(c);
	if (c->status != SKIFF_CTR_RESTARTING)
		return;
	c->status = SKIFF_CTR_EXITED;
	if (do_start(d, c, &err) < 0) {
		log_warn("container %.12s: restart failed: %s", c->id, err.msg);
		save_state(c);
		return;
	}
	skiff_container_event(d, c, "restart", NULL);
}

static void schedule_restart(struct skiff_daemon *d, struct skiff_ctr *c, double ran)
{
	int64_t ms = skiff_restart_next_delay(&c->rt->rs, ran);
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	c->status = SKIFF_CTR_RESTARTING;
	c->restart_count++;
	save_state(c);
	cancel_restart_timer(c);
	c->rt->restart_timer = evtimer_new(d->base, restart_fire, c);
	if (c->rt->restart_timer)
		evtimer_add(c->rt->restart_timer, &tv);
}

static void maybe_auto_remove(struct skiff_daemon *d, struct skiff_ctr *c)
{
	if (c->rt->attaches > 0)
		return; /* the last attach session ending removes it */
	do_remove(d, c);
}

static void handle_exit(struct skiff_daemon *d, struct skiff_ctr *c, int code, bool oom, const char *finished,
			bool daemon_start)
{
	double ran;

	START_TRACE(c->id, "exit");
	skiff_health_stop(d, c->id);
	if (c->rt->kill_timer)
		evtimer_del(c->rt->kill_timer);
	c->exit_code = code;
	c->oom_killed = oom;
	c->pid = 0;
	if (!finished || skiff_time_parse(finished, &c->finished_at) < 0)
		c->finished_at = skiff_now();
	ran = (double)(c->finished_at.tv_sec - c->started_at.tv_sec);
	c->status = SKIFF_CTR_EXITED;
	skiff_ctr_volumes_unmount(d, c);
	skiff_net_ctr_stop(d, c);
	drop_ps_cache(c);
	/* state.json is written below, once what follows the exit is known:
	 * one write per transition, none for a container about to go */
	if (oom)
		skiff_container_event(d, c, "oom", NULL);
	{
		json_t *a = json_sprintf_attr("exitCode", code);
		json_object_set_new(a, "execDuration", json_sprintf("%.0f", ran > 0 ? ran : 0));
		skiff_container_event(d, c, "die", a);
	}
	if (c->rt->remove_pending) {
		do_remove(d, c);
		return;
	}
	if (skiff_restart_should(c->host_config, code, c->restart_count, c->manual_stop, daemon_start)) {
		fire_waiters(d, c, true, false);
		schedule_restart(d, c, ran);
		return;
	}
	fire_waiters(d, c, true, false);
	/* a waiter may have removed or restarted it */
	if (find_by_id(d->containers, c->id) != c || c->status != SKIFF_CTR_EXITED)
		return;
	if (skiff_json_bool(c->host_config, "AutoRemove", false)) {
		/* until the attach sessions end, disk says running: a skiffd
		 * restarted meanwhile reads exit.json and removes it then */
		c->rt->remove_pending = true;
		maybe_auto_remove(d, c);
		return;
	}
	save_state_async(c);
	START_TRACE(c->id, "exit:state");
}

static void on_exit_cb(const struct skiff_monitor_exit *ex, void *data)
{
	struct skiff_daemon *d = data;
	struct skiff_ctr *c = d->containers ? find_by_id(d->containers, ex->id) : NULL;
	struct timespec fin;

	if (!c)
		return;
	if (!skiff_ctr_is_running(c) && c->status != SKIFF_CTR_REMOVING)
		return; /* already accounted for (reconcile read exit.json) */
	/* an exit of an earlier run replayed on reconnect */
	if (ex->finished_at && skiff_time_parse(ex->finished_at, &fin) == 0 && fin.tv_sec &&
	    (fin.tv_sec < c->started_at.tv_sec ||
	     (fin.tv_sec == c->started_at.tv_sec && fin.tv_nsec < c->started_at.tv_nsec)))
		return;
	handle_exit(d, c, ex->exit_code, ex->oom_killed, ex->finished_at, false);
}

void skiff_container_config_changed(struct skiff_daemon *d, struct skiff_ctr *c)
{
	(void)d;
	drop_ps_cache(c);
	if (save_config(c) < 0)
		log_warn("container %.12s: saving its config failed", c->id);
}

void skiff_container_attach_ref(struct skiff_ctr *c)
{
	c->rt->attaches++;
}

void skiff_container_attach_unref(struct skiff_daemon *d, const char *id)
{
	struct skiff_ctr *c = d->containers ? find_by_id(d->containers, id) : NULL;
	if (!c)
		return;
	START_TRACE(c->id, "attach:end");
	if (c->rt->attaches > 0)
		c->rt->attaches--;
	if (!c->rt->attaches && c->rt->remove_pending && c->status == SKIFF_CTR_EXITED)
		do_remove(d, c);
}

/* ---- ps and inspect -------------------------------------------------------- */

static const char *net_name(const struct skiff_ctr *c)
{
	const char *m = skiff_json_str(c->host_config, "NetworkMode", "bridge");
	return !strcmp(m, "default") ? "bridge" : m;
}

static json_t *networks_json(struct skiff_daemon *d, const struct skiff_ctr *c)
{
	return skiff_net_ctr_networks_json(d, c);
}

static _Thread_local uint64_t du_total;
static int du_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		du_total += (uint64_t)st->st_size;
	return 0;
}

static int64_t dir_size(const char *dir)
{
	du_total = 0;
	if (nftw(dir, du_cb, 32, FTW_PHYS | FTW_MOUNT) < 0)
		return 0;
	return (int64_t)du_total;
}

static void add_sizes(struct skiff_daemon *d, const struct skiff_ctr *c, json_t *o)
{
	_cleanup_free_ char *upper = ctr_file(c, "upper");
	_cleanup_strv_ char **lower = NULL;
	_cleanup_json_ json_t *cfg = NULL;
	int64_t rw = upper ? dir_size(upper) : 0, ro = 0;

	if (d->images && skiff_image_runtime(d->images, c->image_id, &cfg, &lower, NULL) == 0)
		for (char **l = lower; l && *l; l++)
			ro += dir_size(*l);
	json_object_set_new(o, "SizeRw", json_integer(rw));
	json_object_set_new(o, "SizeRootFs", json_integer(rw + ro));
}

static json_t *ps_entry(struct skiff_daemon *d, const struct skiff_ctr *c, const struct timespec *now, bool size)
{
	char status[128];
	json_t *labels = json_object_get(c->config, "Labels");
	json_t *o;

	skiff_ctr_status_string(c, now, status, sizeof(status));
	skiff_health_status_suffix(c, status, sizeof(status));
	o = json_pack("{s:s, s:[s], s:s, s:s, s:s, s:I, s:o, s:O, s:s, s:s, s:{s:s}, s:{s:o}, s:o}", "Id", c->id,
		      "Names", c->name, "Image", c->image, "ImageID", c->image_id, "Command", c->command, "Created",
		      (json_int_t)c->created.tv_sec, "Ports", skiff_net_ctr_ports_ps(d, c), "Labels", json_is_object(labels) ? labels : json_null(),
		      "State", skiff_ctr_status_name(c->status), "Status", status, "HostConfig", "NetworkMode",
		      net_name(c), "NetworkSettings", "Networks", networks_json(d, c), "Mounts", skiff_ctr_mounts_public(c->mounts));
	if (o && size && d)
		add_sizes(d, c, o);
	return o;
}

static int created_of(struct skiff_daemon *d, const json_t *filters, const char *key, struct timespec *out,
		      struct skiff_error *err)
{
	json_t *v = json_object_get(filters, key);
	struct skiff_ctr *c;
	if (!json_array_size(v))
		return 0;
	c = skiff_container_find(d, json_string_value(json_array_get(v, 0)), err);
	if (!c)
		return -ENOENT;
	*out = c->created;
	return 1;
}

/* ps at hundreds of containers must stay well under a few ms: the fields
 * that never change are serialised once per container and reused; only
 * State and Status are formatted per request. */
static const char *ps_cached(struct skiff_ctr *c)
{
	struct timespec zero = { 0, 0 };
	json_t *o;
	char *s;

	if (c->rt->ps_cache)
		return c->rt->ps_cache;
	o = ps_entry(c->rt->d, c, &zero, false);
	json_object_del(o, "State");
	json_object_del(o, "Status");
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return NULL;
	s[strlen(s) - 1] = '\0'; /* drop the closing brace: State/Status follow */
	c->rt->ps_cache = s;
	return s;
}

char *skiff_container_list_dump(struct skiff_daemon *d, bool all, int limit, bool size, const json_t *filters,
				struct skiff_error *err)
{
	struct skiff_containers *cs = d->containers;
	struct timespec now = skiff_now(), before, since;
	char *buf = NULL;
	size_t len = 0, cap = 16;
	int hb, hs, count = 0;

	if (filters && skiff_ps_filters_check(filters, false, err) < 0)
		return NULL;
	hb = created_of(d, filters, "before", &before, err);
	if (hb < 0)
		return NULL;
	hs = created_of(d, filters, "since", &since, err);
	if (hs < 0)
		return NULL;
	if (limit > 0)
		all = true;
	/* Docker: a status filter other than running implies all */
	if (json_array_size(json_object_get(filters, "status")) || json_array_size(json_object_get(filters, "exited")))
		all = true;
	/* one allocation sized up front: no realloc copies of a 100+ KiB reply */
	for (size_t i = 0; cs && i < cs->n; i++) {
		const char *pre = ps_cached(cs->v[i]);
		cap += (pre ? strlen(pre) : 0) + 256;
	}
	buf = malloc(cap);
	if (!buf) {
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		return NULL;
	}
	buf[len++] = '[';
	for (size_t i = cs ? cs->n : 0; i-- > 0;) {
		struct skiff_ctr *c = cs->v[i];
		char status[128];
		const char *pre;
		size_t plen;
		if (!all && !skiff_ctr_is_running(c) && c->status != SKIFF_CTR_RESTARTING)
			continue;
		if (filters && !skiff_ps_filters_match(filters, c, hb ? &before : NULL, hs ? &since : NULL, &now))
			continue;
		pre = ps_cached(c);
		if (!pre)
			continue;
		plen = strlen(pre);
		skiff_ctr_status_string(c, &now, status, sizeof(status));
		skiff_health_status_suffix(c, status, sizeof(status));
		if (count)
			buf[len++] = ',';
		memcpy(buf + len, pre, plen);
		len += plen;
		len += (size_t)snprintf(buf + len, cap - len, ",\"State\":\"%s\",\"Status\":\"%s\"",
					skiff_ctr_status_name(c->status), status);
		if (size) {
			_cleanup_json_ json_t *o = json_object();
			add_sizes(d, c, o);
			len += (size_t)snprintf(buf + len, cap - len, ",\"SizeRw\":%lld,\"SizeRootFs\":%lld",
						(long long)skiff_json_int(o, "SizeRw", 0),
						(long long)skiff_json_int(o, "SizeRootFs", 0));
		}
		buf[len++] = '}';
		count++;
		if (limit > 0 && count >= limit)
			break;
	}
	buf[len++] = ']';
	buf[len] = '\0';
	return buf;
}

json_t *skiff_container_list_json(struct skiff_daemon *d, bool all, int limit, bool size, const json_t *filters,
				  struct skiff_error *err)
{
	_cleanup_free_ char *s = skiff_container_list_dump(d, all, limit, size, filters, err);
	return s ? json_loads(s, 0, NULL) : NULL;
}

static json_t *inspect_mounts(const struct skiff_ctr *c)
{
	return skiff_ctr_mounts_public(c->mounts);
}

json_t *skiff_container_inspect_json(struct skiff_daemon *d, struct skiff_ctr *c, bool size)
{
	char created[40], started[40], finished[40];
	_cleanup_free_ char *resolv = ctr_file(c, "resolv.conf"), *hostname = ctr_file(c, "hostname");
	_cleanup_free_ char *hosts = ctr_file(c, "hosts"), *log = skiff_container_log_path(c);
	_cleanup_free_ char *upper = ctr_file(c, "upper"), *work = ctr_file(c, "work");
	_cleanup_free_ char *merged = ctr_file(c, "merged"), *lowerdir = NULL;
	_cleanup_strv_ char **lower = NULL;
	_cleanup_json_ json_t *imgcfg = NULL;
	bool running = skiff_ctr_is_running(c);
	const char *health = NULL;
	json_t *o, *state, *ns;
	(void)health;

	skiff_time_format(&c->created, created);
	skiff_time_format(&c->started_at, started);
	skiff_time_format(&c->finished_at, finished);
	if (d->images && skiff_image_runtime(d->images, c->image_id, &imgcfg, &lower, NULL) == 0) {
		size_t len = 1;
		for (char **l = lower; l && *l; l++)
			len += strlen(*l) + 1;
		lowerdir = calloc(1, len);
		for (char **l = lower; lowerdir && l && *l; l++) {
			if (l != lower)
				strcat(lowerdir, ":");
			strcat(lowerdir, *l);
		}
	}
	state = json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status",
			  skiff_ctr_status_name(c->status), "Running", running || c->status == SKIFF_CTR_RESTARTING,
			  "Paused", c->status == SKIFF_CTR_PAUSED, "Restarting", c->status == SKIFF_CTR_RESTARTING,
			  "OOMKilled", c->oom_killed, "Dead", c->status == SKIFF_CTR_DEAD, "Pid", running ? c->pid : 0,
			  "ExitCode", c->exit_code, "Error", c->error ? c->error : "", "StartedAt", started,
			  "FinishedAt", finished);
	if (state && (o = skiff_health_json(d, c)))
		json_object_set_new(state, "Health", o);
	ns = json_pack("{s:s, s:s, s:s, s:{}, s:b, s:n, s:n, s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:o}", "Bridge",
		       "", "SandboxID", running ? c->id : "", "SandboxKey",
		       "", "Ports", "HairpinMode", 0, "SecondaryIPAddresses", "SecondaryIPv6Addresses",
		       "EndpointID", "", "Gateway", "", "GlobalIPv6PrefixLen", 0, "GlobalIPv6Address", "", "IPAddress",
		       "", "IPPrefixLen", 0, "IPv6Gateway", "", "MacAddress", "", "Networks", json_object());
	if (ns)
		skiff_net_ctr_settings(d, c, ns);
	if (running && c->pid > 0)
		json_object_set_new(ns, "SandboxKey", json_sprintf("/proc/%d/ns/net", c->pid));
	o = json_pack("{s:s, s:s, s:s, s:O, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:n,"
		      " s:O, s:{s:{s:s*, s:s, s:s, s:s}, s:s}, s:o, s:O, s:o}",
		      "Id", c->id, "Created", created, "Path", c->path, "Args", c->args, "State", state, "Image",
		      c->image_id, "ResolvConfPath", resolv, "HostnamePath", hostname, "HostsPath", hosts, "LogPath",
		      log, "Name", c->name, "RestartCount", c->restart_count, "Driver", "overlay2", "Platform",
		      "linux", "MountLabel", "", "ProcessLabel", "", "AppArmorProfile", "", "ExecIDs", "HostConfig",
		      c->host_config, "GraphDriver", "Data", "LowerDir", lowerdir, "MergedDir", merged, "UpperDir",
		      upper, "WorkDir", work, "Name", "overlay2", "Mounts", inspect_mounts(c), "Config", c->config,
		      "NetworkSettings", ns);
	if (o)
		json_object_set_new(o, "ExecIDs", skiff_exec_ids(d, c->id));
	if (o && size)
		add_sizes(d, c, o);
	return o;
}

json_t *skiff_container_prune(struct skiff_daemon *d, const json_t *filters, struct skiff_error *err)
{
	struct skiff_containers *cs = d->containers;
	struct timespec now = skiff_now();
	json_t *deleted = json_array();
	int64_t reclaimed = 0;

	if (filters && skiff_ps_filters_check(filters, true, err) < 0) {
		json_decref(deleted);
		return NULL;
	}
	for (size_t i = cs ? cs->n : 0; i-- > 0;) {
		struct skiff_ctr *c = cs->v[i];
		if (i >= cs->n)
			continue;
		if (c->status != SKIFF_CTR_CREATED && c->status != SKIFF_CTR_EXITED && c->status != SKIFF_CTR_DEAD)
			continue;
		if (filters && !skiff_ps_filters_match(filters, c, NULL, NULL, &now))
			continue;
		_cleanup_free_ char *upper = ctr_file(c, "upper");
		reclaimed += upper ? dir_size(upper) : 0;
		json_array_append_new(deleted, json_string(c->id));
		do_remove(d, c);
	}
	return json_pack("{s:o, s:I}", "ContainersDeleted", deleted, "SpaceReclaimed", (json_int_t)reclaimed);
}

/* ---- top -------------------------------------------------------------------- */

static json_t *split_fields(char *line, int nfields)
{
	json_t *row = json_array();
	char *p = line;
	for (int i = 0; *p; i++) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (nfields > 0 && i == nfields - 1) {
			json_array_append_new(row, json_string(p)); /* the command keeps its spaces */
			break;
		}
		char *s = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
		json_array_append_new(row, json_string(s));
	}
	return row;
}

int skiff_container_top(struct skiff_daemon *d, struct skiff_ctr *c, const char *ps_args, json_t **out,
			struct skiff_error *err)
{
	_cleanup_free_ int *pids = NULL;
	_cleanup_free_ char *cmd = NULL, *line = NULL;
	_cleanup_json_ json_t *titles = NULL, *procs = json_array();
	size_t npids = 0, cap = 0;
	int pid_col = -1, r;
	FILE *f;

	if (!skiff_ctr_is_running(c))
		return skiff_error_set(err, SKIFF_ECONFLICT, ESRCH, "Container %s is not running", c->id);
	if (!ps_args || !*ps_args)
		ps_args = "-ef";
	/* the args go through a shell: allow only what ps flags are made of */
	if (strspn(ps_args, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_,=% ") != strlen(ps_args))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid ps arguments: %s", ps_args);
	r = skiff_cgroup_pids(&d->cgroups, c->id, &pids, &npids);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "listing the processes of container '%s'", c->name + 1);
	if (asprintf(&cmd, "ps %s 2>&1", ps_args) < 0)
		return -ENOMEM;
	f = popen(cmd, "r");
	if (!f)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "running ps");
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (!titles) {
			titles = split_fields(line, 0);
			for (size_t i = 0; i < json_array_size(titles); i++)
				if (!strcmp(json_string_value(json_array_get(titles, i)), "PID"))
					pid_col = (int)i;
			if (pid_col < 0) {
				pclose(f);
				return skiff_error_set(err, SKIFF_EINTERNAL, EINVAL,
						       "Couldn't find PID field in ps output");
			}
			continue;
		}
		json_t *row = split_fields(line, (int)json_array_size(titles));
		int pid = atoi(json_string_value(json_array_get(row, (size_t)pid_col)) ?: "0");
		bool mine = false;
		for (size_t i = 0; i < npids; i++)
			mine |= pids[i] == pid;
		if (mine)
			json_array_append_new(procs, row);
		else
			json_decref(row);
	}
	r = pclose(f);
	if (!titles || (WIFEXITED(r) && WEXITSTATUS(r) != 0 && !json_array_size(procs)))
		return skiff_error_set(err, SKIFF_EINTERNAL, EINVAL, "ps failed: %s", titles ? "" : "no output");
	*out = json_pack("{s:O, s:O}", "Titles", titles, "Processes", procs);
	return 0;
}

/* ---- init, shutdown, counts -------------------------------------------------- */

static struct skiff_ctr *load_one(struct skiff_containers *cs, const char *id)
{
	_cleanup_json_ json_t *cfg = NULL, *st = NULL;
	_cleanup_free_ char *dir = NULL, *cfgp = NULL, *stp = NULL;
	struct skiff_error err = { 0 };
	struct skiff_ctr *c;

	if (asprintf(&dir, "%s/%s", cs->root, id) < 0)
		return NULL;
	cfgp = skiff_path_join(dir, "config.v2.json");
	stp = skiff_path_join(dir, "state.json");
	if (!cfgp || !stp)
		return NULL;
	if (skiff_json_read_file(cfgp, &cfg) < 0) {
		/* half-made by a create that crashed: nothing to keep */
		log_warn("container dir %s has no config: removing it", id);
		skiff_rm_rf(dir);
		return NULL;
	}
	skiff_json_read_file(stp, &st);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->rt = calloc(1, sizeof(*c->rt)))) {
		free(c);
		return NULL;
	}
	c->rt->d = cs->d;
	c->dir = TAKE_PTR(dir);
	if (skiff_ctr_from_json(c, cfg, st, &err) < 0 || strcmp(c->id, id)) {
		log_warn("container %.12s: %s: skipped", id, err.msg[0] ? err.msg : "id mismatch");
		ctr_free(c);
		return NULL;
	}
	return c;
}

static void reconcile(struct skiff_daemon *d, json_t *running)
{
	struct skiff_containers *cs = d->containers;
	/* copy: restarts may reorder nothing, but removals would */
	size_t n = cs->n;
	_cleanup_free_ struct skiff_ctr **v = malloc(n * sizeof(*v) + 1);
	if (!v)
		return;
	memcpy(v, cs->v, n * sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		struct skiff_ctr *c = v[i];
		json_t *r = json_object_get(running, c->id);
		if (r) {
			c->pid = (int)skiff_json_int(r, "pid", c->pid);
			if (c->status != SKIFF_CTR_PAUSED)
				c->status = SKIFF_CTR_RUNNING;
			skiff_net_ctr_adopt(d, c);
			skiff_health_start(d, c);
			continue;
		}
		bool was_running = skiff_ctr_is_running(c) || c->status == SKIFF_CTR_RESTARTING ||
				   c->status == SKIFF_CTR_REMOVING;
		if (was_running) {
			_cleanup_json_ json_t *ex = NULL;
			_cleanup_free_ char *p = ctr_file(c, "exit.json");
			int code = 255;
			const char *fin = NULL;
			bool oom = false;
			if (p && skiff_json_read_file(p, &ex) == 0) {
				code = (int)skiff_json_int(ex, "ExitCode", 255);
				fin = skiff_json_str(ex, "FinishedAt", NULL);
				oom = skiff_json_bool(ex, "OOMKilled", false);
			}
			c->status = SKIFF_CTR_RUNNING; /* so handle_exit accounts it */
			handle_exit(d, c, code, oom, fin, true);
			continue;
		}
		if (c->status == SKIFF_CTR_EXITED && c->has_been_started &&
		    skiff_restart_should(c->host_config, c->exit_code, c->restart_count, c->manual_stop, true)) {
			struct skiff_error err = { 0 };
			if (do_start(d, c, &err) < 0)
				log_warn("container %.12s: restart at daemon start: %s", c->id, err.msg);
		}
	}
}

int skiff_containers_init(struct skiff_daemon *d, struct skiff_error *err)
{
	struct skiff_containers *cs = calloc(1, sizeof(*cs));
	_cleanup_closedir_ DIR *dir = NULL;
	_cleanup_json_ json_t *running = NULL;
	struct dirent *de;
	static struct skiff_monitor_ops ops = { .on_exit = on_exit_cb };
	int r;

	if (!cs)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	cs->d = d;
	d->containers = cs;
	if (asprintf(&cs->root, "%s/containers", d->data_root) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	r = skiff_mkdir_p(cs->root, 0710);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating '%s'", cs->root);
	disk_worker_init(&cs->dw);
	cs->trash = skiff_path_join(cs->root, ".trash");
	if (cs->trash && mkdir(cs->trash, 0700) < 0 && errno != EEXIST) {
		log_warn("creating '%s': %s: removing containers deletes in line", cs->trash, strerror(errno));
		free(cs->trash);
		cs->trash = NULL;
	}
	if (cs->trash) {
		/* what a previous skiffd removed but had not deleted yet */
		_cleanup_closedir_ DIR *t = opendir(cs->trash);
		while (t && (de = readdir(t))) {
			char *p = de->d_name[0] != '.' ? skiff_path_join(cs->trash, de->d_name) : NULL;
			if (p)
				disk_submit(&cs->dw, p, NULL, 0);
		}
	}
	dir = opendir(cs->root);
	if (!dir)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening '%s'", cs->root);
	while ((de = readdir(dir))) {
		struct skiff_ctr *c;
		if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
			continue;
		c = load_one(cs, de->d_name);
		if (c && table_add(cs, c) < 0)
			ctr_free(c);
	}
	ops.data = d;
	r = skiff_monitor_connect(d->base, d->monitor_bin, d->exec_root, d->data_root, &ops, &d->monitor, err);
	if (r < 0)
		return skiff_error_wrap(err, "connecting to the monitor");
	r = skiff_monitor_list(d->monitor, &running, err);
	if (r < 0)
		return skiff_error_wrap(err, "listing running containers");
	reconcile(d, running);
	skiff_net_reconcile(d);
	skiff_ctr_volumes_reconcile(d);
	return 0;
}

void skiff_containers_shutdown(struct skiff_daemon *d)
{
	struct skiff_containers *cs = d->containers;
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		save_state(cs->v[i]);
		ctr_free(cs->v[i]);
	}
	while (cs->waiters) {
		struct waiter *w = cs->waiters;
		cs->waiters = w->next;
		free(w);
	}
	if (d->monitor) {
		skiff_monitor_free(d->monitor);
		d->monitor = NULL;
	}
	disk_worker_stop(&cs->dw);
	free(cs->v);
	free(cs->root);
	free(cs->trash);
	free(cs);
	d->containers = NULL;
}

bool skiff_containers_use_image(struct skiff_daemon *d, const char *image_id)
{
	struct skiff_containers *cs = d->containers;
	for (size_t i = 0; cs && i < cs->n; i++)
		if (!strcmp(cs->v[i]->image_id, image_id))
			return true;
	return false;
}

void skiff_containers_count(struct skiff_daemon *d, int *total, int *running, int *paused, int *stopped)
{
	struct skiff_containers *cs = d->containers;
	int t = 0, r = 0, p = 0, s = 0;
	for (size_t i = 0; cs && i < cs->n; i++) {
		t++;
		if (cs->v[i]->status == SKIFF_CTR_PAUSED)
			p++;
		else if (cs->v[i]->status == SKIFF_CTR_RUNNING || cs->v[i]->status == SKIFF_CTR_RESTARTING)
			r++;
		else
			s++;
	}
	if (total)
		*total = t;
	if (running)
		*running = r;
	if (paused)
		*paused = p;
	if (stopped)
		*stopped = s;
}
