/* The image store: blobs, shared extracted layers, the repositories index
 * and per-image metadata under <data-root>/image/, plus the Docker API
 * shapes (list, inspect, history) and tag/remove/prune. */
#include "store-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "ref.h"

struct store_event {
	struct store_event *next;
	char action[16];
	char id[SKIFF_DIGEST_LEN];
	char ref[512];
};

char *store_path(struct skiff_store *s, const char *fmt, ...)
{
	_cleanup_free_ char *rel = NULL;
	char *out = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		rel = NULL;
	va_end(ap);
	if (!rel || asprintf(&out, "%s/%s", s->root, rel) < 0)
		return NULL;
	return out;
}

char *store_blob_path(struct skiff_store *s, const char *digest)
{
	return store_path(s, "blobs/sha256/%s", skiff_digest_hex(digest));
}

int store_tmpfile(struct skiff_store *s, char **path)
{
	char *p = store_path(s, "tmp/blob-XXXXXX");
	int fd;
	if (!p)
		return -ENOMEM;
	fd = mkostemp(p, O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		free(p);
		return r;
	}
	*path = p;
	return fd;
}

int store_tmpdir(struct skiff_store *s, char **path)
{
	char *p = store_path(s, "tmp/layer-XXXXXX");
	if (!p)
		return -ENOMEM;
	if (!mkdtemp(p)) {
		int r = -errno;
		free(p);
		return r;
	}
	*path = p;
	return 0;
}

int store_blob_put(struct skiff_store *s, const void *data, size_t len, char digest[SKIFF_DIGEST_LEN],
		   struct skiff_error *err)
{
	_cleanup_free_ char *p = NULL;
	int r;
	skiff_sha256_digest(data, len, digest);
	p = store_blob_path(s, digest);
	if (!p)
		return -ENOMEM;
	if (access(p, F_OK) == 0)
		return 0;
	r = skiff_write_atomic(p, data, len, 0644);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing blob %s", digest);
	return 0;
}

void store_chain_id(const char *parent, const char *diffid, char chain[SKIFF_DIGEST_LEN])
{
	char buf[2 * SKIFF_DIGEST_LEN + 2];
	if (!parent || !parent[0]) {
		snprintf(chain, SKIFF_DIGEST_LEN, "%s", diffid);
		return;
	}
	snprintf(buf, sizeof(buf), "%s %s", parent, diffid);
	skiff_sha256_digest(buf, strlen(buf), chain);
}

bool store_layer_exists(struct skiff_store *s, const char *chain)
{
	_cleanup_free_ char *p = store_path(s, "layers/%s/meta.json", skiff_digest_hex(chain));
	return p && access(p, F_OK) == 0;
}

static json_t *layer_meta(struct skiff_store *s, const char *chain)
{
	_cleanup_free_ char *p = store_path(s, "layers/%s/meta.json", skiff_digest_hex(chain));
	json_t *j = NULL;
	if (p)
		skiff_json_read_file(p, &j);
	return j;
}

int store_layer_install(struct skiff_store *s, const char *tmpdir, char **tmpblob, int bfd, const char *parent_chain,
			const char *diffid, int64_t size, const char *chain, struct skiff_error *err)
{
	_cleanup_free_ char *meta = skiff_path_join(tmpdir, "meta.json"), *blob = store_blob_path(s, diffid),
			    *final = store_path(s, "layers/%s", skiff_digest_hex(chain));
	_cleanup_json_ json_t *mj = json_pack("{s:s, s:s, s:I}", "DiffID", diffid, "Parent",
					      parent_chain ? parent_chain : "", "Size", (json_int_t)size);
	int k;

	if (!mj || !meta || !blob || !final)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if ((k = skiff_json_write_file(meta, mj)) < 0 || (fsync(bfd) < 0 && (k = -errno)) ||
	    (rename(*tmpblob, blob) < 0 && (k = -errno)))
		return skiff_error_sys(err, SKIFF_EINTERNAL, -k, "storing layer %s", diffid);
	free(TAKE_PTR(*tmpblob));
	/* The final name appears only once the layer is complete; a racing
	 * extraction of the same layer just loses and cleans up. */
	if (rename(tmpdir, final) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "storing layer %s", chain);
		skiff_rm_rf(tmpdir);
	}
	return 0;
}

int store_layer_create(struct skiff_store *s, struct skiff_tar_reader *r, const char *parent_chain,
		       const char *expect, char chain[SKIFF_DIGEST_LEN], char diffid[SKIFF_DIGEST_LEN],
		       struct skiff_error *err)
{
	_cleanup_free_ char *tmpdir = NULL, *tmpblob = NULL, *diff = NULL;
	_cleanup_close_ int bfd = -1, dfd = -1;
	int64_t size = 0;
	int k;

	if ((k = store_tmpdir(s, &tmpdir)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -k, "creating layer directory");
	if ((bfd = store_tmpfile(s, &tmpblob)) < 0) {
		k = skiff_error_sys(err, SKIFF_EINTERNAL, -bfd, "creating layer blob");
		goto fail;
	}
	if (asprintf(&diff, "%s/diff", tmpdir) < 0 || mkdir(diff, 0755) < 0 ||
	    (dfd = open(diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		k = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating layer directory");
		goto fail;
	}
	skiff_tar_reader_set_tee(r, bfd);
	k = skiff_tar_extract(r, dfd, SKIFF_TAR_X_WHITEOUTS, &size, err);
	if (k < 0)
		goto fail;
	k = skiff_tar_reader_finish(r, diffid);
	skiff_tar_reader_set_tee(r, -1);
	if (k < 0) {
		skiff_error_sys(err, SKIFF_EINVAL, -k, "reading layer");
		goto fail;
	}
	if (expect && strcmp(expect, diffid)) {
		k = skiff_error_set(err, SKIFF_EINVAL, EBADMSG, "layer digest mismatch: expected %s, got %s", expect,
				    diffid);
		goto fail;
	}
	store_chain_id(parent_chain, diffid, chain);
	if ((k = store_layer_install(s, tmpdir, &tmpblob, bfd, parent_chain, diffid, size, chain, err)) < 0)
		goto fail;
	return 0;
fail:
	if (tmpblob)
		unlink(tmpblob);
	if (tmpdir)
		skiff_rm_rf(tmpdir);
	return k;
}

/* ---- events ---- */

void store_event(struct skiff_store *s, const char *action, const char *id, const char *ref)
{
	struct store_event *e;
	if (!s->event)
		return;
	if (pthread_equal(pthread_self(), s->owner)) {
		skiff_store_flush_events(s);
		s->event(action, id, ref, s->hook_data);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	snprintf(e->action, sizeof(e->action), "%s", action);
	snprintf(e->id, sizeof(e->id), "%s", id ? id : "");
	snprintf(e->ref, sizeof(e->ref), "%s", ref ? ref : "");
	pthread_mutex_lock(&s->lock);
	*s->pending_tail = e;
	s->pending_tail = &e->next;
	pthread_mutex_unlock(&s->lock);
}

void skiff_store_flush_events(struct skiff_store *s)
{
	struct store_event *list;
	if (!pthread_equal(pthread_self(), s->owner))
		return;
	pthread_mutex_lock(&s->lock);
	list = s->pending;
	s->pending = NULL;
	s->pending_tail = &s->pending;
	pthread_mutex_unlock(&s->lock);
	while (list) {
		struct store_event *n = list->next;
		if (s->event)
			s->event(list->action, list->id, list->ref[0] ? list->ref : NULL, s->hook_data);
		free(list);
		list = n;
	}
}

/* ---- open/close ---- */

static int load_images(struct skiff_store *s, struct skiff_error *err)
{
	_cleanup_free_ char *dir = store_path(s, "images");
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (!dir)
		return -ENOMEM;
	d = opendir(dir);
	if (!d)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening %s", dir);
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL, *cp = NULL;
		json_t *meta = NULL, *config = NULL;
		size_t n = strlen(de->d_name);
		if (n != 69 || strcmp(de->d_name + 64, ".json"))
			continue; /* temp files of an interrupted write */
		p = skiff_path_join(dir, de->d_name);
		if (!p || skiff_json_read_file(p, &meta) < 0)
			continue;
		cp = store_blob_path(s, skiff_json_str(meta, "Id", ""));
		if (!cp || skiff_json_read_file(cp, &config) < 0) {
			json_decref(meta);
			continue; /* config blob lost: the image is unusable */
		}
		json_object_set_new(s->images, skiff_json_str(meta, "Id", ""),
				    json_pack("{s:o, s:o}", "meta", meta, "config", config));
	}
	return 0;
}

int skiff_store_open(const char *data_root, struct skiff_store **out, struct skiff_error *err)
{
	static const char *const dirs[] = { "blobs/sha256", "layers", "images", "tmp" };
	struct skiff_store *s = calloc(1, sizeof(*s));
	_cleanup_free_ char *repos = NULL, *tmp = NULL;
	int r;

	if (!s)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	s->owner = pthread_self();
	s->pending_tail = &s->pending;
	s->images = json_object();
	if (asprintf(&s->root, "%s/image", data_root) < 0) {
		free(s);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = store_path(s, "%s", dirs[i]);
		if (!p || (r = skiff_mkdir_p(p, 0700)) < 0) {
			r = skiff_error_sys(err, SKIFF_EINTERNAL, p ? -r : ENOMEM, "creating %s/%s", s->root, dirs[i]);
			skiff_store_close(s);
			return r;
		}
	}
	/* Leftovers of a crash mid-extraction never got their final name. */
	tmp = store_path(s, "tmp");
	if (tmp) {
		skiff_rm_rf(tmp);
		skiff_mkdir_p(tmp, 0700);
	}
	repos = store_path(s, "repositories.json");
	if (!repos || skiff_json_read_file(repos, &s->repos) < 0 || !json_is_object(s->repos)) {
		json_decref(s->repos);
		s->repos = json_object();
	}
	if ((r = load_images(s, err)) < 0) {
		skiff_store_close(s);
		return r;
	}
	/* Tags whose image vanished are dropped. */
	const char *k;
	json_t *v;
	void *tmpit;
	json_object_foreach_safe(s->repos, tmpit, k, v)
	{
		if (!json_object_get(s->images, json_string_value(v)))
			json_object_del(s->repos, k);
	}
	*out = s;
	return 0;
}

void skiff_store_close(struct skiff_store *s)
{
	if (!s)
		return;
	while (s->pending) {
		struct store_event *n = s->pending->next;
		free(s->pending);
		s->pending = n;
	}
	json_decref(s->repos);
	json_decref(s->images);
	pthread_mutex_destroy(&s->lock);
	free(s->root);
	free(s);
}

void skiff_store_set_hooks(struct skiff_store *s, skiff_image_in_use_fn in_use, skiff_image_event_fn event,
			   void *data)
{
	s->in_use = in_use;
	s->event = event;
	s->hook_data = data;
}

static int save_repos(struct skiff_store *s)
{
	_cleanup_free_ char *p = store_path(s, "repositories.json");
	if (!p)
		return -ENOMEM;
	return skiff_json_write_file(p, s->repos);
}

static int save_meta(struct skiff_store *s, json_t *meta)
{
	_cleanup_free_ char *p =
		store_path(s, "images/%s.json", skiff_digest_hex(skiff_json_str(meta, "Id", "")));
	if (!p)
		return -ENOMEM;
	return skiff_json_write_file(p, meta);
}

/* ---- lookups (lock held) ---- */

static json_t *image_get(struct skiff_store *s, const char *id)
{
	return json_object_get(s->images, id);
}

static int resolve_locked(struct skiff_store *s, const char *ref, char id[72], struct skiff_error *err)
{
	char norm[512];
	const char *found = NULL, *k;
	const char *hex = ref;
	json_t *v;
	size_t n;
	bool all_hex = true;

	if (!ref || !ref[0])
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", ref ? ref : "");
	if (!strncmp(ref, "sha256:", 7))
		hex = ref + 7;
	else if (skiff_ref_normalize(ref, norm, sizeof(norm), NULL) == 0 && (v = json_object_get(s->repos, norm))) {
		snprintf(id, 72, "%s", json_string_value(v));
		return 0;
	}
	n = strlen(hex);
	for (const char *p = hex; *p; p++)
		all_hex = all_hex && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
	if (n > 0 && n <= 64 && all_hex) {
		json_object_foreach(s->images, k, v)
		{
			if (strncmp(k + 7, hex, n))
				continue;
			if (found)
				return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", ref);
			found = k;
		}
	}
	if (!found)
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", ref);
	snprintf(id, 72, "%s", found);
	return 0;
}

int skiff_image_resolve(struct skiff_store *s, const char *ref, char id[72], struct skiff_error *err)
{
	int r;
	pthread_mutex_lock(&s->lock);
	r = resolve_locked(s, ref, id, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int skiff_image_count(struct skiff_store *s)
{
	int n;
	pthread_mutex_lock(&s->lock);
	n = (int)json_object_size(s->images);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Sorted array of the refs pointing at id (lock held). */
static json_t *tags_of(struct skiff_store *s, const char *id)
{
	json_t *a = json_array(), *v;
	const char *k;
	json_object_foreach(s->repos, k, v)
	{
		if (!strcmp(json_string_value(v), id) && !strchr(k, '@'))
			json_array_append_new(a, json_string(k));
	}
	return a;
}

static json_t *digests_of(struct skiff_store *s, const char *id)
{
	json_t *a = json_array(), *v;
	const char *k;
	json_object_foreach(s->repos, k, v)
	{
		if (!strcmp(json_string_value(v), id) && strchr(k, '@'))
			json_array_append_new(a, json_string(k));
	}
	return a;
}

int store_image_add(struct skiff_store *s, const char *config, size_t len, char id[SKIFF_DIGEST_LEN],
		    struct skiff_error *err)
{
	json_error_t jerr;
	_cleanup_json_ json_t *cj = json_loadb(config, len, 0, &jerr);
	json_t *diffs, *d, *layers, *meta;
	char chain[SKIFF_DIGEST_LEN] = "";
	json_int_t size = 0;
	size_t i;
	int r;

	if (!cj || !json_is_object(cj))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid image config: %s", cj ? "not an object" : jerr.text);
	diffs = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
	if (!json_is_array(diffs))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid image config: no rootfs.diff_ids");
	layers = json_array();
	json_array_foreach(diffs, i, d)
	{
		char next[SKIFF_DIGEST_LEN];
		json_t *lm;
		if (!skiff_digest_valid(json_string_value(d))) {
			json_decref(layers);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid image config: bad diff id");
		}
		store_chain_id(chain, json_string_value(d), next);
		memcpy(chain, next, sizeof(chain));
		if (!(lm = layer_meta(s, chain))) {
			json_decref(layers);
			return skiff_error_set(err, SKIFF_EINTERNAL, ENOENT, "layer %s is missing", chain);
		}
		size += skiff_json_int(lm, "Size", 0);
		json_decref(lm);
		json_array_append_new(layers, json_string(chain));
	}
	if ((r = store_blob_put(s, config, len, id, err)) < 0) {
		json_decref(layers);
		return r;
	}
	pthread_mutex_lock(&s->lock);
	if (image_get(s, id)) {
		pthread_mutex_unlock(&s->lock);
		json_decref(layers);
		return 0;
	}
	char now[40];
	struct timespec ts = skiff_now();
	skiff_time_format(&ts, now);
	meta = json_pack("{s:s, s:o, s:I, s:s, s:s}", "Id", id, "Layers", layers, "Size", size, "Added", now,
			 "LastTagTime", "");
	r = meta ? save_meta(s, meta) : -ENOMEM;
	if (r < 0) {
		pthread_mutex_unlock(&s->lock);
		json_decref(meta);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing image metadata");
	}
	json_object_set_new(s->images, id, json_pack("{s:o, s:O}", "meta", meta, "config", cj));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int tag_locked(struct skiff_store *s, const char *id, const char *ref, struct skiff_error *err)
{
	json_t *img = image_get(s, id), *old;
	char now[40];
	struct timespec ts = skiff_now();
	int r;

	if (!img)
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", id);
	old = json_object_get(s->repos, ref);
	if (old && !strcmp(json_string_value(old), id))
		return 0;
	json_object_set_new(s->repos, ref, json_string(id));
	if ((r = save_repos(s)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing repositories.json");
	skiff_time_format(&ts, now);
	json_object_set_new(json_object_get(img, "meta"), "LastTagTime", json_string(now));
	save_meta(s, json_object_get(img, "meta"));
	return 0;
}

int store_tag(struct skiff_store *s, const char *id, const char *ref, struct skiff_error *err)
{
	int r;
	pthread_mutex_lock(&s->lock);
	r = tag_locked(s, id, ref, err);
	pthread_mutex_unlock(&s->lock);
	if (r == 0)
		store_event(s, "tag", id, ref);
	return r;
}

int skiff_image_tag(struct skiff_store *s, const char *name, const char *repo, const char *tag,
		    struct skiff_error *err)
{
	char id[72], norm[512], full[600];
	int r;

	skiff_store_flush_events(s);
	if (!repo || !repo[0])
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "repository name must have at least one component");
	if (tag && tag[0])
		snprintf(full, sizeof(full), "%s:%s", repo, tag);
	else
		snprintf(full, sizeof(full), "%s", repo);
	if ((r = skiff_ref_normalize(full, norm, sizeof(norm), err)) < 0)
		return r;
	if (strchr(norm, '@'))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "refusing to create a tag with a digest reference");
	if ((r = skiff_image_resolve(s, name, id, err)) < 0)
		return r;
	return store_tag(s, id, norm, err);
}

/* ---- removal ---- */

/* Deletes image id (lock held): metadata, config blob, and every layer no
 * other image still uses. */
static int delete_locked(struct skiff_store *s, const char *id, json_int_t *freed)
{
	json_t *img = json_incref(image_get(s, id)), *layers, *l, *other;
	_cleanup_free_ char *meta = store_path(s, "images/%s.json", skiff_digest_hex(id));
	_cleanup_free_ char *cfg = store_blob_path(s, id);
	const char *k;
	size_t i;

	if (!img)
		return -ENOENT;
	json_object_del(s->images, id);
	if (meta && unlink(meta) < 0 && errno != ENOENT) {
		json_object_set_new(s->images, id, img);
		return -errno;
	}
	if (cfg)
		unlink(cfg);
	layers = json_object_get(json_object_get(img, "meta"), "Layers");
	json_array_foreach(layers, i, l)
	{
		bool used = false;
		json_object_foreach(s->images, k, other)
		{
			json_t *ol = json_object_get(json_object_get(other, "meta"), "Layers"), *c;
			size_t j;
			json_array_foreach(ol, j, c) used = used || json_equal(c, l);
		}
		if (used)
			continue;
		json_t *lm = layer_meta(s, json_string_value(l));
		const char *diff = skiff_json_str(lm, "DiffID", NULL);
		_cleanup_free_ char *dir = store_path(s, "layers/%s", skiff_digest_hex(json_string_value(l)));
		if (freed)
			*freed += skiff_json_int(lm, "Size", 0);
		/* meta.json first: a half-removed layer is then "absent" and
		 * would be extracted again rather than used */
		if (dir) {
			_cleanup_free_ char *mp = skiff_path_join(dir, "meta.json");
			if (mp)
				unlink(mp);
			skiff_rm_rf(dir);
		}
		if (diff) {
			/* the same diff may sit on another parent in another image */
			bool blob_used = false;
			json_object_foreach(s->images, k, other)
			{
				json_t *ds = json_object_get(json_object_get(json_object_get(other, "config"), "rootfs"),
							     "diff_ids"),
				       *d;
				size_t j;
				json_array_foreach(ds, j, d) blob_used = blob_used || !strcmp(json_string_value(d), diff);
			}
			if (!blob_used) {
				_cleanup_free_ char *bp = store_blob_path(s, diff);
				if (bp)
					unlink(bp);
			}
		}
		json_decref(lm);
	}
	json_decref(img);
	return 0;
}

static void short_id(const char *id, char out[13])
{
	snprintf(out, 13, "%s", skiff_digest_hex(id));
}

int skiff_image_remove(struct skiff_store *s, const char *name, bool force, bool noprune, json_t **report,
		       struct skiff_error *err)
{
	char id[72], norm[512], sid[13];
	json_t *rep, *v;
	bool by_ref = false, in_use;
	json_t *untagged = json_array();
	const char *k;
	void *tmp;
	int r;

	(void)noprune; /* no parent chains: nothing else to prune */
	skiff_store_flush_events(s);
	pthread_mutex_lock(&s->lock);
	r = resolve_locked(s, name, id, err);
	if (r < 0)
		goto out;
	short_id(id, sid);
	if (strncmp(name, "sha256:", 7) && skiff_ref_normalize(name, norm, sizeof(norm), NULL) == 0 &&
	    (v = json_object_get(s->repos, norm)) && !strcmp(json_string_value(v), id))
		by_ref = true;
	in_use = s->in_use && s->in_use(id, s->hook_data);
	rep = json_array();

	if (by_ref) {
		json_t *tags = tags_of(s, id), *digs = digests_of(s, id);
		size_t ntags = json_array_size(tags) + json_array_size(digs);
		json_decref(tags);
		json_decref(digs);
		if (ntags <= 1 && in_use && !force) {
			json_decref(rep);
			r = skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
					    "conflict: unable to remove repository reference \"%s\" (must force) - container is using its referenced image %s",
					    name, sid);
			goto out;
		}
		json_object_del(s->repos, norm);
		json_array_append_new(untagged, json_string(norm));
		json_array_append_new(rep, json_pack("{s:s}", "Untagged", norm));
		tags = tags_of(s, id);
		bool last = json_array_size(tags) == 0;
		json_decref(tags);
		if (!last || in_use)
			goto save;
	} else {
		/* named by id: refuse when the tags span several repositories */
		json_t *tags = tags_of(s, id), *t;
		size_t i;
		char repo0[512] = "", repo[512], tag[160];
		bool multi = false;
		json_array_foreach(tags, i, t)
		{
			skiff_ref_split(json_string_value(t), repo, sizeof(repo), tag, sizeof(tag));
			if (i == 0)
				strcpy(repo0, repo);
			else if (strcmp(repo, repo0))
				multi = true;
		}
		json_decref(tags);
		if (multi && !force) {
			json_decref(rep);
			r = skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
					    "conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories",
					    sid);
			goto out;
		}
		if (in_use && !force) {
			json_decref(rep);
			r = skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
					    "conflict: unable to delete %s (must be forced) - image is being used by a container",
					    sid);
			goto out;
		}
		json_object_foreach_safe(s->repos, tmp, k, v)
		{
			if (strcmp(json_string_value(v), id))
				continue;
			json_array_append_new(untagged, json_string(k));
			json_array_append_new(rep, json_pack("{s:s}", "Untagged", k));
			json_object_del(s->repos, k);
		}
		if (in_use)
			goto save; /* forced: untagged, kept for its containers */
	}
	if (delete_locked(s, id, NULL) == 0)
		json_array_append_new(rep, json_pack("{s:s}", "Deleted", id));
save:
	if (json_array_size(untagged))
		save_repos(s);
	*report = rep;
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	if (r == 0) {
		size_t i;
		json_array_foreach(*report, i, v)
		{
			if (json_object_get(v, "Untagged"))
				store_event(s, "untag", id, skiff_json_str(v, "Untagged", ""));
			else
				store_event(s, "delete", id, NULL);
		}
	}
	json_decref(untagged);
	return r;
}

/* ---- API shapes ---- */

static int64_t created_unix(json_t *config)
{
	struct timespec ts = { 0 };
	const char *c = skiff_json_str(config, "created", NULL);
	if (c)
		skiff_time_parse(c, &ts);
	return ts.tv_sec;
}

static bool labels_match(json_t *config, json_t *want)
{
	json_t *labels = json_object_get(json_object_get(config, "config"), "Labels"), *f;
	size_t i;
	json_array_foreach(want, i, f)
	{
		const char *kv = json_string_value(f), *eq = strchr(kv, '=');
		char key[256];
		json_t *have;
		bool neg = eq && eq > kv && eq[-1] == '!';
		size_t klen = eq ? (size_t)(eq - kv - (neg ? 1 : 0)) : strlen(kv);
		snprintf(key, sizeof(key), "%.*s", (int)klen, kv);
		have = json_object_get(labels, key);
		if (!eq) {
			if (!have)
				return false;
		} else if (neg) {
			if (have && !strcmp(json_string_value(have), eq + 1))
				return false;
		} else if (!have || strcmp(json_string_value(have), eq + 1))
			return false;
	}
	return true;
}

/* reference filter: glob on "repo:tag" or on "repo" alone */
static bool ref_matches(const char *ref, json_t *patterns)
{
	char repo[512], tag[160];
	json_t *p;
	size_t i;
	skiff_ref_split(ref, repo, sizeof(repo), tag, sizeof(tag));
	json_array_foreach(patterns, i, p)
	{
		const char *pat = json_string_value(p);
		if (!fnmatch(pat, ref, FNM_PATHNAME) || !fnmatch(pat, repo, FNM_PATHNAME))
			return true;
	}
	return false;
}

static int filter_time(struct skiff_store *s, json_t *filters, const char *key, int64_t *out,
		       struct skiff_error *err)
{
	json_t *a = json_object_get(filters, key);
	char id[72];
	if (!json_array_size(a))
		return 0;
	if (resolve_locked(s, json_string_value(json_array_get(a, 0)), id, err) < 0)
		return -ENOENT;
	*out = created_unix(json_object_get(image_get(s, id), "config"));
	return 1;
}

static json_t *labels_or_null(json_t *config)
{
	json_t *l = json_object_get(json_object_get(config, "config"), "Labels");
	return json_is_object(l) ? json_incref(l) : json_null();
}

/* Does any image name id as its parent (builds record it; lock held)? */
static bool has_children(struct skiff_store *s, const char *id)
{
	const char *k;
	json_t *v;
	json_object_foreach(s->images, k, v)
	{
		if (!strcmp(skiff_json_str(json_object_get(v, "meta"), "Parent", ""), id))
			return true;
	}
	return false;
}

json_t *skiff_image_list_json(struct skiff_store *s, bool all, const json_t *filters, struct skiff_error *err)
{
	static const char *const known[] = { "dangling", "label", "reference", "before", "since", "until" };
	json_t *out, *img, *dang = json_object_get(filters, "dangling"), *refs = json_object_get(filters, "reference");
	json_t *labels = json_object_get(filters, "label");
	int64_t before = 0, since = 0;
	int has_before, has_since, dangling = -1;
	const char *id, *fk;
	json_t *fv;

	skiff_store_flush_events(s);
	json_object_foreach((json_t *)filters, fk, fv)
	{
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(known); i++)
			ok = ok || !strcmp(fk, known[i]);
		if (!ok) {
			skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter '%s'", fk);
			return NULL;
		}
	}
	if (json_array_size(dang)) {
		const char *d = json_string_value(json_array_get(dang, 0));
		if (!strcmp(d, "true") || !strcmp(d, "1"))
			dangling = 1;
		else if (!strcmp(d, "false") || !strcmp(d, "0"))
			dangling = 0;
		else {
			skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter 'dangling=%s'", d);
			return NULL;
		}
	}
	pthread_mutex_lock(&s->lock);
	if ((has_before = filter_time(s, (json_t *)filters, "before", &before, err)) < 0 ||
	    (has_since = filter_time(s, (json_t *)filters, "since", &since, err)) < 0) {
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	out = json_array();
	json_object_foreach(s->images, id, img)
	{
		json_t *config = json_object_get(img, "config"), *meta = json_object_get(img, "meta");
		json_t *tags = tags_of(s, id);
		int64_t created = created_unix(config);
		bool is_dangling = json_array_size(tags) == 0;

		/* a build's intermediate images (untagged parents of other
		 * images) only show with all=1, as Docker's */
		if (!all && is_dangling && has_children(s, id)) {
			json_decref(tags);
			continue;
		}

		if ((dangling == 1 && !is_dangling) || (dangling == 0 && is_dangling) ||
		    (has_before && created >= before) || (has_since && created <= since) ||
		    (labels && !labels_match(config, labels))) {
			json_decref(tags);
			continue;
		}
		if (refs) {
			json_t *kept = json_array(), *t;
			size_t i;
			json_array_foreach(tags, i, t) if (ref_matches(json_string_value(t), refs))
				json_array_append(kept, t);
			json_decref(tags);
			tags = kept;
			if (!json_array_size(tags)) {
				json_decref(tags);
				continue;
			}
		}
		json_array_append_new(out,
				      json_pack("{s:i, s:I, s:s, s:o, s:s, s:o, s:o, s:I, s:I}", "Containers", -1,
						"Created", (json_int_t)created, "Id", id, "Labels",
						labels_or_null(config), "ParentId", skiff_json_str(meta, "Parent", ""), "RepoDigests",
						digests_of(s, id), "RepoTags", tags, "SharedSize", (json_int_t)-1,
						"Size", (json_int_t)skiff_json_int(meta, "Size", 0)));
	}
	pthread_mutex_unlock(&s->lock);
	/* newest first, like Docker */
	size_t n = json_array_size(out);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0; j--) {
			json_t *a = json_array_get(out, j - 1), *b = json_array_get(out, j);
			if (skiff_json_int(a, "Created", 0) >= skiff_json_int(b, "Created", 0))
				break;
			json_incref(a);
			json_array_set(out, j - 1, b);
			json_array_set_new(out, j, a);
		}
	return out;
}

static json_t *lower_dirs_json(struct skiff_store *s, json_t *layers, bool skip_top)
{
	_cleanup_free_ char *joined = NULL;
	size_t n = json_array_size(layers);
	for (size_t i = n - (skip_top ? 1 : 0); i-- > 0;) {
		_cleanup_free_ char *p =
			store_path(s, "layers/%s/diff", skiff_digest_hex(json_string_value(json_array_get(layers, i))));
		char *nj = NULL;
		if (!p || asprintf(&nj, "%s%s%s", joined ? joined : "", joined ? ":" : "", p) < 0)
			return json_string("");
		free(joined);
		joined = nj;
	}
	return json_string(joined ? joined : "");
}

json_t *skiff_image_inspect_json(struct skiff_store *s, const char *name, struct skiff_error *err)
{
	char id[72];
	json_t *img, *config, *meta, *out, *layers, *gd, *cc;
	const char *top;
	_cleanup_free_ char *upper = NULL, *work = NULL, *merged = NULL;

	skiff_store_flush_events(s);
	pthread_mutex_lock(&s->lock);
	if (resolve_locked(s, name, id, err) < 0) {
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	img = image_get(s, id);
	config = json_object_get(img, "config");
	meta = json_object_get(img, "meta");
	layers = json_object_get(meta, "Layers");
	top = json_string_value(json_array_get(layers, json_array_size(layers) - 1));
	gd = json_object();
	if (top) {
		upper = store_path(s, "layers/%s/diff", skiff_digest_hex(top));
		work = store_path(s, "layers/%s/work", skiff_digest_hex(top));
		merged = store_path(s, "layers/%s/merged", skiff_digest_hex(top));
		if (json_array_size(layers) > 1)
			json_object_set_new(gd, "LowerDir", lower_dirs_json(s, layers, true));
		json_object_set_new(gd, "MergedDir", json_string(merged ? merged : ""));
		json_object_set_new(gd, "UpperDir", json_string(upper ? upper : ""));
		json_object_set_new(gd, "WorkDir", json_string(work ? work : ""));
	}
	cc = json_object_get(config, "config");
	out = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:{s:s, s:o}, s:{s:s, s:O}, s:{s:s}}",
			"Id", id, "RepoTags", tags_of(s, id), "RepoDigests", digests_of(s, id), "Parent",
			skiff_json_str(meta, "Parent", ""),
			"Comment", skiff_json_str(config, "comment", ""), "Created",
			skiff_json_str(config, "created", "0001-01-01T00:00:00Z"), "DockerVersion",
			skiff_json_str(config, "docker_version", ""), "Author", skiff_json_str(config, "author", ""),
			"Config", json_is_object(cc) ? json_incref(cc) : json_object(), "Architecture",
			skiff_json_str(config, "architecture", "amd64"), "Os", skiff_json_str(config, "os", "linux"),
			"Size", (json_int_t)skiff_json_int(meta, "Size", 0), "GraphDriver", "Name", "overlay2", "Data",
			gd, "RootFS", "Type", "layers", "Layers",
			json_object_get(json_object_get(config, "rootfs"), "diff_ids"), "Metadata", "LastTagTime",
			skiff_json_str(meta, "LastTagTime", "") [0] ? skiff_json_str(meta, "LastTagTime", "")
								      : "0001-01-01T00:00:00Z");
	if (out && skiff_json_str(config, "variant", NULL))
		json_object_set_new(out, "Variant", json_string(skiff_json_str(config, "variant", "")));
	pthread_mutex_unlock(&s->lock);
	if (!out)
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "building inspect of %s", name);
	return out;
}

json_t *skiff_image_history_json(struct skiff_store *s, const char *name, struct skiff_error *err)
{
	char id[72];
	json_t *img, *config, *meta, *hist, *h, *out, *layers;
	size_t i, li = 0;

	skiff_store_flush_events(s);
	pthread_mutex_lock(&s->lock);
	if (resolve_locked(s, name, id, err) < 0) {
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	img = image_get(s, id);
	config = json_object_get(img, "config");
	meta = json_object_get(img, "meta");
	layers = json_object_get(meta, "Layers");
	hist = json_object_get(config, "history");
	out = json_array();
	json_array_foreach(hist, i, h)
	{
		json_int_t size = 0;
		struct timespec ts = { 0 };
		if (!json_is_true(json_object_get(h, "empty_layer")) && li < json_array_size(layers)) {
			json_t *lm = layer_meta(s, json_string_value(json_array_get(layers, li++)));
			size = skiff_json_int(lm, "Size", 0);
			json_decref(lm);
		}
		skiff_time_parse(skiff_json_str(h, "created", "0"), &ts);
		/* newest first */
		json_array_insert_new(out, 0,
				      json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>", "Created",
						(json_int_t)ts.tv_sec, "CreatedBy", skiff_json_str(h, "created_by", ""),
						"Tags", "Size", size, "Comment", skiff_json_str(h, "comment", "")));
	}
	/* no history in the config: one row per layer */
	for (; json_array_size(out) == 0 && li < json_array_size(layers); li++) {
		json_t *lm = layer_meta(s, json_string_value(json_array_get(layers, li)));
		json_array_insert_new(out, 0,
				      json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>", "Created",
						(json_int_t)created_unix(config), "CreatedBy", "", "Tags", "Size",
						(json_int_t)skiff_json_int(lm, "Size", 0), "Comment", ""));
		json_decref(lm);
	}
	if (json_array_size(out)) {
		json_t *top = json_array_get(out, 0);
		json_t *tags = tags_of(s, id);
		json_object_set_new(top, "Id", json_string(id));
		json_object_set_new(top, "Tags", json_array_size(tags) ? tags : json_null());
		if (!json_array_size(tags))
			json_decref(tags);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int skiff_image_runtime(struct skiff_store *s, const char *id, json_t **config, char ***lower_dirs,
			struct skiff_error *err)
{
	char full[72];
	json_t *img, *layers, *cc;
	char **dirs;
	size_t n;
	int r;

	skiff_store_flush_events(s);
	pthread_mutex_lock(&s->lock);
	if ((r = resolve_locked(s, id, full, err)) < 0) {
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	img = image_get(s, full);
	layers = json_object_get(json_object_get(img, "meta"), "Layers");
	n = json_array_size(layers);
	dirs = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; dirs && i < n; i++) {
		dirs[i] = store_path(s, "layers/%s/diff",
				     skiff_digest_hex(json_string_value(json_array_get(layers, n - 1 - i))));
		if (!dirs[i]) {
			skiff_strvfree(dirs);
			dirs = NULL;
		}
	}
	cc = json_object_get(json_object_get(img, "config"), "config");
	*config = json_is_object(cc) ? json_deep_copy(cc) : json_object();
	pthread_mutex_unlock(&s->lock);
	if (!dirs || !*config) {
		skiff_strvfree(dirs);
		json_decref(*config);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	*lower_dirs = dirs;
	return 0;
}

int skiff_image_prune(struct skiff_store *s, bool all, const json_t *filters, json_t **report,
		      struct skiff_error *err)
{
	json_t *deleted = json_array(), *img, *labels = json_object_get(filters, "label");
	json_t *until = json_object_get(filters, "until");
	json_t *ids = json_array(), *v;
	json_int_t freed = 0;
	int64_t until_ts = 0;
	const char *id;
	size_t i;

	skiff_store_flush_events(s);
	if (json_array_size(until)) {
		struct timespec ts;
		if (skiff_time_parse(json_string_value(json_array_get(until, 0)), &ts) < 0) {
			json_decref(deleted);
			json_decref(ids);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter 'until'");
		}
		until_ts = ts.tv_sec;
	}
	pthread_mutex_lock(&s->lock);
	json_object_foreach(s->images, id, img)
	{
		json_t *tags = tags_of(s, id);
		bool tagged = json_array_size(tags) > 0;
		json_decref(tags);
		if ((tagged && !all) || (s->in_use && s->in_use(id, s->hook_data)))
			continue;
		if (labels && !labels_match(json_object_get(img, "config"), labels))
			continue;
		if (until_ts && created_unix(json_object_get(img, "config")) >= until_ts)
			continue;
		json_array_append_new(ids, json_string(id));
	}
	json_array_foreach(ids, i, v)
	{
		const char *k;
		json_t *r;
		void *tmp;
		json_object_foreach_safe(s->repos, tmp, k, r)
		{
			if (!strcmp(json_string_value(r), json_string_value(v))) {
				json_array_append_new(deleted, json_pack("{s:s}", "Untagged", k));
				json_object_del(s->repos, k);
			}
		}
		if (delete_locked(s, json_string_value(v), &freed) == 0)
			json_array_append_new(deleted, json_pack("{s:s}", "Deleted", json_string_value(v)));
	}
	if (all)
		save_repos(s);
	pthread_mutex_unlock(&s->lock);
	json_array_foreach(deleted, i, v)
	{
		if (json_object_get(v, "Deleted"))
			store_event(s, "delete", skiff_json_str(v, "Deleted", ""), NULL);
	}
	json_decref(ids);
	*report = json_pack("{s:o, s:I}", "ImagesDeleted", json_array_size(deleted) ? deleted : json_null(),
			    "SpaceReclaimed", freed);
	if (!json_array_size(deleted))
		json_decref(deleted);
	return 0;
}
