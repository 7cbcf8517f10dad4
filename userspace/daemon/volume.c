/* The volume store (Docker's "local" driver): the in-memory set, its
 * persistence (volume.json, refs.json), lookups and removal. Removes rename
 * the volume away first, so a crash never leaves half a volume. */
#include "volume-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "events.h"

int vol_random_hex(char *out, size_t nbytes)
{
	unsigned char b[64];
	size_t got = 0;
	if (nbytes > sizeof(b))
		return -EINVAL;
	while (got < nbytes) {
		ssize_t n = getrandom(b + got, nbytes - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	return 0;
}

/* ---- the in-memory set ---- */

void vol_free(struct vol *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->dir);
	free(v->mountpoint);
	json_decref(v->labels);
	json_decref(v->options);
	json_decref(v->refs);
	json_decref(v->active);
	free(v);
}

struct vol *vol_find(struct skiff_volumes *vs, const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < vs->n; i++)
		if (!strcmp(vs->v[i]->name, name))
			return vs->v[i];
	return NULL;
}

int vol_add(struct skiff_volumes *vs, struct vol *v)
{
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 16;
		struct vol **nv = realloc(vs->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		vs->v = nv;
		vs->cap = cap;
	}
	vs->v[vs->n++] = v;
	return 0;
}

static void drop(struct skiff_volumes *vs, struct vol *v)
{
	for (size_t i = 0; i < vs->n; i++) {
		if (vs->v[i] == v) {
			memmove(&vs->v[i], &vs->v[i + 1], (vs->n - i - 1) * sizeof(*vs->v));
			vs->n--;
			break;
		}
	}
	vol_free(v);
}

struct vol *vol_new(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->name = strdup(name);
	v->dir = skiff_path_join(vs->root, name);
	v->mountpoint = v->dir ? skiff_path_join(v->dir, "_data") : NULL;
	v->labels = json_object();
	v->options = json_object();
	v->refs = json_array();
	v->active = json_array();
	if (!v->name || !v->dir || !v->mountpoint || !v->labels || !v->options || !v->refs || !v->active) {
		vol_free(v);
		return NULL;
	}
	return v;
}

void vol_emit(struct skiff_volumes *vs, const char *action, const char *name)
{
	if (vs->events)
		skiff_events_emit(vs->events, "volume", action, name, json_pack("{s:s}", "driver", "local"));
}

/* ---- JSON shapes and persistence ---- */

json_t *vol_json(const struct vol *v)
{
	return json_pack("{s:s,s:s,s:O,s:s,s:s,s:O,s:s}", "CreatedAt", v->created_at, "Driver", "local", "Labels",
			 v->labels, "Mountpoint", v->mountpoint, "Name", v->name, "Options", v->options, "Scope",
			 "local");
}

int vol_strv_index(const json_t *arr, const char *s)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		if (json_is_string(e) && !strcmp(json_string_value(e), s))
			return (int)i;
	}
	return -1;
}

json_t *vol_string_map(const json_t *in)
{
	json_t *out = json_object(), *val;
	const char *k;
	if (!json_is_object(in))
		return out;
	json_object_foreach((json_t *)in, k, val)
	{
		if (json_is_string(val))
			json_object_set(out, k, val);
	}
	return out;
}

int vol_save_refs(const struct vol *v)
{
	_cleanup_free_ char *path = skiff_path_join(v->dir, "refs.json");
	_cleanup_json_ json_t *j = json_pack("{s:O,s:O}", "Containers", v->refs, "Active", v->active);
	if (!path || !j)
		return -ENOMEM;
	return skiff_json_write_file(path, j);
}

static int load_one(struct skiff_volumes *vs, const char *name)
{
	_cleanup_free_ char *meta = NULL, *refs_path = NULL;
	_cleanup_json_ json_t *j = NULL, *refs = NULL;
	struct vol *v;
	int r;

	if (!skiff_volume_name_valid(name))
		return 0;
	v = vol_new(vs, name);
	if (!v)
		return -ENOMEM;
	meta = skiff_path_join(v->dir, "volume.json");
	refs_path = skiff_path_join(v->dir, "refs.json");
	if (!meta || !refs_path) {
		vol_free(v);
		return -ENOMEM;
	}
	r = skiff_json_read_file(meta, &j);
	if (r < 0) {
		/* not ours (or unreadable): leave it alone rather than guess */
		vol_free(v);
		return 0;
	}
	snprintf(v->created_at, sizeof(v->created_at), "%s", skiff_json_str(j, "CreatedAt", "0001-01-01T00:00:00Z"));
	json_decref(v->labels);
	json_decref(v->options);
	v->labels = vol_string_map(json_object_get(j, "Labels"));
	v->options = vol_string_map(json_object_get(j, "Options"));
	if (skiff_json_read_file(refs_path, &refs) == 0) {
		json_t *c = json_object_get(refs, "Containers"), *a = json_object_get(refs, "Active");
		if (json_is_array(c))
			json_array_extend(v->refs, c);
		if (json_is_array(a))
			json_array_extend(v->active, a);
	}
	if ((r = vol_add(vs, v)) < 0)
		vol_free(v);
	return r;
}

int skiff_volumes_open(const char *data_root, struct skiff_events *events, struct skiff_volumes **out,
		       struct skiff_error *err)
{
	struct skiff_volumes *vs = calloc(1, sizeof(*vs));
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (!vs)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "opening the volume store: out of memory");
	vs->events = events;
	vs->root = skiff_path_join(data_root, "volumes");
	if (!vs->root) {
		skiff_volumes_close(vs);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "opening the volume store: out of memory");
	}
	if ((r = skiff_mkdir_p(vs->root, 0701)) < 0) {
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating %s", vs->root);
		skiff_volumes_close(vs);
		return r;
	}
	d = opendir(vs->root);
	if (!d) {
		r = -errno;
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "reading %s", vs->root);
		skiff_volumes_close(vs);
		return r;
	}
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) ||
		    !strncmp(de->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX))) {
			/* an interrupted create or remove */
			_cleanup_free_ char *p = skiff_path_join(vs->root, de->d_name);
			if (p)
				skiff_rm_rf(p);
			continue;
		}
		if (de->d_name[0] == '.')
			continue;
		if ((r = load_one(vs, de->d_name)) < 0) {
			skiff_error_sys(err, SKIFF_EINTERNAL, -r, "loading volume \"%s\"", de->d_name);
			skiff_volumes_close(vs);
			return r;
		}
	}
	*out = vs;
	return 0;
}

void skiff_volumes_close(struct skiff_volumes *vs)
{
	if (!vs)
		return;
	for (size_t i = 0; i < vs->n; i++)
		vol_free(vs->v[i]);
	free(vs->v);
	free(vs->root);
	free(vs);
}

int skiff_volume_count(struct skiff_volumes *vs) { return (int)vs->n; }

/* ---- lookups ---- */

json_t *skiff_volume_inspect_json(struct skiff_volumes *vs, const char *name, struct skiff_error *err)
{
	struct vol *v = vol_find(vs, name);
	if (!v) {
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "get %s: no such volume", name);
		return NULL;
	}
	return vol_json(v);
}

const char *skiff_volume_mountpoint(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = vol_find(vs, name);
	return v ? v->mountpoint : NULL;
}

const json_t *skiff_volume_options(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = vol_find(vs, name);
	return v ? v->options : NULL;
}

bool skiff_volume_is_anonymous(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = vol_find(vs, name);
	return v && json_object_get(v->labels, SKIFF_VOLUME_ANON_LABEL);
}

bool skiff_volume_in_use(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = vol_find(vs, name);
	return v && (json_array_size(v->refs) || json_array_size(v->active));
}

json_t *skiff_volume_users(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = vol_find(vs, name);
	return v ? json_deep_copy(v->refs) : json_array();
}

struct vol *vol_need(struct skiff_volumes *vs, const char *name, struct skiff_error *err)
{
	struct vol *v = vol_find(vs, name);
	if (!v)
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "get %s: no such volume", name ? name : "");
	return v;
}

/* ---- remove ---- */

static int in_use_error(const struct vol *v, struct skiff_error *err)
{
	char ids[768] = "";
	size_t i, used = 0;
	json_t *e;
	json_t *all = json_deep_copy(v->refs);
	json_array_foreach(v->active, i, e)
	{
		if (vol_strv_index(all, json_string_value(e)) < 0)
			json_array_append(all, e);
	}
	json_array_foreach(all, i, e)
	{
		int n = snprintf(ids + used, sizeof(ids) - used, "%s%s", i ? " " : "", json_string_value(e));
		if (n < 0 || (size_t)n >= sizeof(ids) - used)
			break;
		used += (size_t)n;
	}
	json_decref(all);
	return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY, "remove %s: volume is in use - [%s]", v->name, ids);
}

int vol_destroy(struct skiff_volumes *vs, struct vol *v, int64_t *size, struct skiff_error *err)
{
	_cleanup_free_ char *trash = NULL;
	char rnd[17];
	int r;

	if ((r = vol_host_unmount(v, err)) < 0)
		return skiff_error_wrap(err, "remove %s", v->name);
	if (vol_has_mounts_under(v->dir))
		return skiff_error_set(err, SKIFF_EINTERNAL, EBUSY, "remove %s: something is still mounted under %s",
				       v->name, v->dir);
	if (size)
		*size = skiff_dir_size(v->mountpoint);
	if ((r = vol_random_hex(rnd, 8)) < 0 || asprintf(&trash, "%s/" TRASH_PREFIX "%s-%s", vs->root, v->name, rnd) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, r < 0 ? -r : ENOMEM, "remove %s: out of memory", v->name);
	if (rename(v->dir, trash) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "remove %s", v->name);
	/* the volume is gone now; leftovers are cleaned at the next open */
	skiff_rm_rf(trash);
	vol_emit(vs, "destroy", v->name);
	drop(vs, v);
	return 0;
}

int skiff_volume_remove(struct skiff_volumes *vs, const char *name, bool force, struct skiff_error *err)
{
	struct vol *v = vol_find(vs, name);
	if (!v) {
		if (force)
			return 0;
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "get %s: no such volume", name);
	}
	if (json_array_size(v->refs) || json_array_size(v->active))
		return in_use_error(v, err);
	return vol_destroy(vs, v, NULL, err);
}
