/* The volume API's listings: GET /volumes with its filters, the volumes
 * part of GET /system/df, and POST /volumes/prune (label filters, anonymous
 * volumes only unless all). */
#include "volume-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "filters.h"

static int cmp_vol(const void *a, const void *b)
{
	return strcmp((*(struct vol *const *)a)->name, (*(struct vol *const *)b)->name);
}

/* "true"/"1" -> 1, "false"/"0" -> 0, else -1 (Docker's strconv.ParseBool subset) */
static int parse_bool(const char *s)
{
	static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!strcmp(s, t[i]))
			return 1;
		if (!strcmp(s, f[i]))
			return 0;
	}
	return -1;
}

static int check_filters(const json_t *filters, const char *const *allowed, size_t nallowed, struct skiff_error *err)
{
	const char *k;
	json_t *vals;
	json_object_foreach((json_t *)filters, k, vals)
	{
		size_t i;
		for (i = 0; i < nallowed; i++)
			if (!strcmp(k, allowed[i]))
				break;
		if (i == nallowed)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter '%s'", k);
		if (!strcmp(k, "dangling") || !strcmp(k, "all")) {
			size_t j;
			json_t *e;
			json_array_foreach(vals, j, e)
			{
				if (!json_is_string(e) || parse_bool(json_string_value(e)) < 0)
					return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter '%s=%s'", k,
							       json_is_string(e) ? json_string_value(e) : "");
			}
		}
	}
	return 0;
}

/* Labels: every label value must match (Docker's MatchKVList); label!: none may. */
static bool labels_ok(const struct vol *v, const json_t *filters)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(filters, "label"), i, e)
	{
		if (json_is_string(e) && !skiff_labels_match(v->labels, json_string_value(e)))
			return false;
	}
	json_array_foreach(json_object_get(filters, "label!"), i, e)
	{
		if (json_is_string(e) && skiff_labels_match(v->labels, json_string_value(e)))
			return false;
	}
	return true;
}

/* One of the values of a filter matches (names OR together). */
static bool any_value(const json_t *vals, bool (*match)(const struct vol *, const char *), const struct vol *v)
{
	size_t i;
	json_t *e;
	if (!json_array_size(vals))
		return true;
	json_array_foreach(vals, i, e)
	{
		if (json_is_string(e) && match(v, json_string_value(e)))
			return true;
	}
	return false;
}

static bool m_name(const struct vol *v, const char *s) { return strstr(v->name, s) != NULL; }

static bool m_driver(const struct vol *v, const char *s)
{
	(void)v;
	return !strcmp(s, "local");
}

static bool m_dangling(const struct vol *v, const char *s)
{
	bool unused = !json_array_size(v->refs) && !json_array_size(v->active);
	return parse_bool(s) == (int)unused;
}

static struct vol **sorted(struct skiff_volumes *vs)
{
	struct vol **arr = malloc((vs->n ? vs->n : 1) * sizeof(*arr));
	if (!arr)
		return NULL;
	if (vs->n)
		memcpy(arr, vs->v, vs->n * sizeof(*arr));
	qsort(arr, vs->n, sizeof(*arr), cmp_vol);
	return arr;
}

json_t *skiff_volume_list_json(struct skiff_volumes *vs, const json_t *filters, struct skiff_error *err)
{
	static const char *const allowed[] = {"dangling", "driver", "label", "name"};
	_cleanup_free_ struct vol **arr = NULL;
	json_t *list;

	if (filters && check_filters(filters, allowed, ARRAY_SIZE(allowed), err) < 0)
		return NULL;
	if (!(arr = sorted(vs)) || !(list = json_array())) {
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "listing volumes: out of memory");
		return NULL;
	}
	for (size_t i = 0; i < vs->n; i++) {
		struct vol *v = arr[i];
		if (filters &&
		    (!any_value(json_object_get(filters, "name"), m_name, v) ||
		     !any_value(json_object_get(filters, "driver"), m_driver, v) ||
		     !any_value(json_object_get(filters, "dangling"), m_dangling, v) || !labels_ok(v, filters)))
			continue;
		json_array_append_new(list, vol_json(v));
	}
	return json_pack("{s:o,s:[]}", "Volumes", list, "Warnings");
}

json_t *skiff_volume_df_json(struct skiff_volumes *vs)
{
	_cleanup_free_ struct vol **arr = sorted(vs);
	json_t *list = json_array();
	if (!arr || !list)
		return list;
	for (size_t i = 0; i < vs->n; i++) {
		json_t *j = vol_json(arr[i]);
		json_object_set_new(j, "UsageData",
				    json_pack("{s:I,s:I}", "Size", (json_int_t)skiff_dir_size(arr[i]->mountpoint),
					      "RefCount", (json_int_t)json_array_size(arr[i]->refs)));
		json_array_append_new(list, j);
	}
	return list;
}

int skiff_volume_prune(struct skiff_volumes *vs, const json_t *filters, bool all, json_t **report,
		       struct skiff_error *err)
{
	static const char *const allowed[] = {"label", "label!", "all"};
	_cleanup_free_ struct vol **arr = NULL;
	json_t *deleted, *e;
	int64_t total = 0;
	size_t i, n;

	if (filters && check_filters(filters, allowed, ARRAY_SIZE(allowed), err) < 0)
		return -EINVAL;
	json_array_foreach(json_object_get(filters, "all"), i, e) { all = parse_bool(json_string_value(e)) == 1; }
	if (!(arr = sorted(vs)) || !(deleted = json_array()))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "pruning volumes: out of memory");
	n = vs->n;
	for (i = 0; i < n; i++) {
		struct vol *v = arr[i];
		_cleanup_free_ char *name = NULL;
		struct skiff_error e2 = {0};
		int64_t size = 0;
		if (json_array_size(v->refs) || json_array_size(v->active))
			continue;
		if (!all && !json_object_get(v->labels, SKIFF_VOLUME_ANON_LABEL))
			continue;
		if (filters && !labels_ok(v, filters))
			continue;
		if (!(name = strdup(v->name)))
			continue;
		if (vol_destroy(vs, v, &size, &e2) < 0)
			continue; /* Docker skips volumes it cannot remove */
		json_array_append_new(deleted, json_string(name));
		total += size;
	}
	*report = json_pack("{s:o,s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", (json_int_t)total);
	return 0;
}
