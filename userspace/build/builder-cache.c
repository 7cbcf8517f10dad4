/* The build cache: one JSON file <data-root>/build/cache.json mapping a
 * step's key (parent image, instruction, inputs) to the image it made, and
 * /build/prune, which drops entries and the intermediate images that nothing
 * uses any more. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../image/store.h"
#include "../lib/cleanup.h"
#include "../lib/digest.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "builder-internal.h"
#include "builder.h"

/* One lock for the file: builds run on several threads. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

void skiff_build_cache_key(const char *parent_id, const char *instr, const char *extra, char out[72])
{
	struct skiff_sha256 *c = skiff_sha256_new();
	if (!c) {
		out[0] = '\0';
		return;
	}
	/* NUL separators: no two different triples hash the same text */
	skiff_sha256_update(c, parent_id ? parent_id : "", strlen(parent_id ? parent_id : "") + 1);
	skiff_sha256_update(c, instr ? instr : "", strlen(instr ? instr : "") + 1);
	skiff_sha256_update(c, extra ? extra : "", strlen(extra ? extra : "") + 1);
	skiff_sha256_final(c, out, NULL);
	skiff_sha256_free(c);
}

static char *cache_path(const char *data_root)
{
	char *p = NULL;
	if (asprintf(&p, "%s/build/cache.json", data_root) < 0)
		return NULL;
	return p;
}

static json_t *cache_load(const char *data_root)
{
	_cleanup_free_ char *p = cache_path(data_root);
	json_t *j = NULL;
	if (!p || skiff_json_read_file(p, &j) < 0 || !json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	return j;
}

static int cache_save(const char *data_root, json_t *j)
{
	_cleanup_free_ char *p = cache_path(data_root), *dir = NULL;
	if (!p || asprintf(&dir, "%s/build", data_root) < 0)
		return -ENOMEM;
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
	skiff_mkdir_p(dir, 0700);
	/* no fsync: a cache entry lost in a crash only costs a rebuild */
	return text ? skiff_write_replace(p, text, strlen(text), 0600) : -ENOMEM;
}

int build_cache_get(const char *data_root, const char *key, char id[72])
{
	json_t *j;
	int r = -ENOENT;
	pthread_mutex_lock(&cache_lock);
	j = cache_load(data_root);
	if (json_is_string(json_object_get(j, key))) {
		snprintf(id, 72, "%s", json_string_value(json_object_get(j, key)));
		r = 0;
	}
	json_decref(j);
	pthread_mutex_unlock(&cache_lock);
	return r;
}

int build_cache_put(const char *data_root, const char *key, const char *id)
{
	json_t *j;
	int r;
	pthread_mutex_lock(&cache_lock);
	j = cache_load(data_root);
	json_object_set_new(j, key, json_string(id));
	r = cache_save(data_root, j);
	json_decref(j);
	pthread_mutex_unlock(&cache_lock);
	return r;
}

int skiff_build_prune(struct skiff_store *store, const char *data_root, bool all, const json_t *filters,
		      int64_t keep_storage, json_t **report, struct skiff_error *err)
{
	json_t *cache, *parents, *deleted = json_array(), *v;
	const char *k;
	void *tmp;
	int64_t freed = 0;
	bool progress = true;

	(void)filters;
	(void)keep_storage;
	if (!deleted)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	pthread_mutex_lock(&cache_lock);
	cache = cache_load(data_root);
	/* the intermediates: leaves first, then their parents as they free up */
	while (progress) {
		progress = false;
		parents = skiff_image_parents(store);
		json_object_foreach(parents, k, v)
		{
			if (skiff_image_remove_unused(store, k, &freed) == 0) {
				json_array_append_new(deleted, json_string(k));
				progress = true;
			}
		}
		json_decref(parents);
	}
	/* entries whose image is gone, or every entry with all */
	json_object_foreach_safe(cache, tmp, k, v)
	{
		char id[72];
		if (all || skiff_image_resolve(store, json_string_value(v), id, NULL) < 0)
			json_object_del(cache, k);
	}
	cache_save(data_root, cache);
	json_decref(cache);
	pthread_mutex_unlock(&cache_lock);
	*report = json_pack("{s:o, s:I}", "CachesDeleted", json_array_size(deleted) ? deleted : json_null(),
			    "SpaceReclaimed", (json_int_t)freed);
	if (!json_array_size(deleted))
		json_decref(deleted);
	return 0;
}
