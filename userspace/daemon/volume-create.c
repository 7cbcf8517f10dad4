/* Creating volumes (POST /volumes/create and the container manager's
 * get-or-create): Docker's name, option and label checks, then the volume
 * is built in a hidden temp dir and renamed into place. */
#include "volume-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"

/* ---- names ---- */

static bool name_first(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool skiff_volume_name_valid(const char *name)
{
	size_t i;
	if (!name || !name_first(name[0]) || !name[1])
		return false;
	for (i = 1; name[i]; i++)
		if (!name_first(name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
			return false;
	return i <= NAME_MAX - strlen(TRASH_PREFIX) - 17; /* room for the trash name */
}

static int name_check(const char *name, struct skiff_error *err)
{
	if (skiff_volume_name_valid(name))
		return 0;
	if (name && strlen(name) > NAME_MAX - strlen(TRASH_PREFIX) - 17)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "create %s: volume name is too long", name);
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
			       "create %s: \"%s\" includes invalid characters for a local volume name, only "
			       "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
			       "use absolute path",
			       name ? name : "", name ? name : "");
}

/* ---- create ---- */

static const char *const valid_opts[] = {"type", "device", "o", "size"};

/* Docker's local driver checks (volume/local): known keys, the options
 * that need each other, then what skiff can mount. */
static int check_opts(const char *name, const json_t *opts, struct skiff_error *err)
{
	static const struct {
		const char *opt, *needs[2];
	} mandatory[] = {
	    {"device", {"type", NULL}},
	    {"type", {"device", NULL}},
	    {"o", {"device", "type"}},
	};
	const char *k, *type, *o;
	json_t *val;

	if (opts && !json_is_object(opts))
		return skiff_error_set(
		    err, SKIFF_EINVAL, EINVAL,
		    "json: cannot unmarshal %s into Go struct field CreateOptions.DriverOpts of type "
		    "map[string]string",
		    json_is_array(opts) ? "array" : "value");
	if (!opts || !json_object_size(opts))
		return 0;
	json_object_foreach((json_t *)opts, k, val)
	{
		size_t i;
		if (!json_is_string(val))
			return skiff_error_set(
			    err, SKIFF_EINVAL, EINVAL,
			    "json: cannot unmarshal value into Go struct field CreateOptions.DriverOpts "
			    "of type string");
		for (i = 0; i < ARRAY_SIZE(valid_opts); i++)
			if (!strcmp(k, valid_opts[i]))
				break;
		if (i == ARRAY_SIZE(valid_opts))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "create %s: invalid option key: \"%s\"", name,
					       k);
	}
	if (json_object_get(opts, "size"))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "create %s: quota size requested but no quota support", name);
	for (size_t i = 0; i < ARRAY_SIZE(mandatory); i++) {
		if (!json_object_get(opts, mandatory[i].opt))
			continue;
		for (size_t j = 0; j < 2 && mandatory[i].needs[j]; j++)
			if (!json_object_get(opts, mandatory[i].needs[j]))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "create %s: missing required option: \"%s\"", name,
						       mandatory[i].needs[j]);
	}
	type = skiff_json_str(opts, "type", "");
	o = skiff_json_str(opts, "o", "");
	if (!strcmp(type, "tmpfs"))
		return 0;
	if (!strcmp(type, "none")) {
		unsigned long flags;
		_cleanup_free_ char *data = NULL;
		const char *dev = skiff_json_str(opts, "device", "");
		if (vol_parse_mount_o(o, &flags, &data) < 0)
			return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "create %s: out of memory", name);
		if (!(flags & MS_BIND))
			return skiff_error_set(
			    err, SKIFF_ENOTIMPL, ENOTSUP,
			    "create %s: type \"none\" needs o=bind (skiff's local driver mounts only "
			    "tmpfs and bind volumes)",
			    name);
		if (dev[0] != '/')
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "create %s: device \"%s\" of a bind volume must be an absolute path",
					       name, dev);
		return 0;
	}
	return skiff_error_set(err, SKIFF_ENOTIMPL, ENOTSUP,
			       "create %s: volume type \"%s\" is not supported by skiff's local driver (only tmpfs and "
			       "bind: type=none,o=bind)",
			       name, type);
}

static int check_labels(const json_t *labels, struct skiff_error *err)
{
	const char *k;
	json_t *val;
	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal %s into Go struct field CreateOptions.Labels of type "
				       "map[string]string",
				       json_is_array(labels) ? "array" : "value");
	json_object_foreach((json_t *)labels, k, val)
	{
		if (!json_is_string(val))
			return skiff_error_set(
			    err, SKIFF_EINVAL, EINVAL,
			    "json: cannot unmarshal value into Go struct field CreateOptions.Labels of "
			    "type string");
	}
	return 0;
}

static void rfc3339_now(char out[40])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Builds the volume in <root>/.tmp-XXXXXX and renames it into place. */
static int make_volume(struct skiff_volumes *vs, const char *name, const json_t *opts, const json_t *labels,
		       bool anonymous, struct vol **out, struct skiff_error *err)
{
	_cleanup_free_ char *tmp = NULL, *data = NULL, *meta = NULL;
	_cleanup_json_ json_t *j = NULL;
	struct vol *v = vol_new(vs, name);
	int r;

	if (!v || asprintf(&tmp, "%s/" TMP_PREFIX "XXXXXX", vs->root) < 0) {
		vol_free(v);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "create %s: out of memory", name);
	}
	json_decref(v->labels);
	json_decref(v->options);
	v->labels = vol_string_map(labels);
	v->options = vol_string_map(opts);
	if (anonymous)
		json_object_set_new(v->labels, SKIFF_VOLUME_ANON_LABEL, json_string(""));
	rfc3339_now(v->created_at);
	if (!mkdtemp(tmp)) {
		r = -errno;
		vol_free(v);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "create %s: making its directory", name);
	}
	chmod(tmp, 0701);
	data = skiff_path_join(tmp, "_data");
	meta = skiff_path_join(tmp, "volume.json");
	j = vol_json(v);
	if (!data || !meta || !j) {
		r = -ENOMEM;
		goto fail;
	}
	if (mkdir(data, 0755) < 0) {
		r = -errno;
		goto fail;
	}
	chmod(data, 0755); /* umask */
	if ((r = skiff_json_write_file(meta, j)) < 0)
		goto fail;
	if (rename(tmp, v->dir) < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = vol_add(vs, v)) < 0) {
		skiff_rm_rf(v->dir);
		vol_free(v);
		return skiff_error_set(err, SKIFF_EINTERNAL, -r, "create %s: out of memory", name);
	}
	*out = v;
	vol_emit(vs, "create", name);
	return 0;
fail:
	skiff_rm_rf(tmp);
	vol_free(v);
	return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "create %s", name);
}

static int create(struct skiff_volumes *vs, const char *name, const char *driver, const json_t *driver_opts,
		  const json_t *labels, struct vol **out, bool *created, struct skiff_error *err)
{
	char anon[65];
	bool anonymous = !name || !name[0];
	struct vol *v;
	int r;

	if (created)
		*created = false;
	if (anonymous) {
		do {
			if ((r = vol_random_hex(anon, 32)) < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "create: generating a volume name");
		} while (vol_find(vs, anon));
		name = anon;
	}
	if (driver && driver[0] && strcmp(driver, "local"))
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT,
				       "create %s: error looking up volume plugin %s: plugin \"%s\" not found", name,
				       driver, driver);
	if ((r = name_check(name, err)) < 0)
		return r;
	if ((r = check_labels(labels, err)) < 0)
		return r;
	if ((v = vol_find(vs, name))) {
		*out = v;
		return 0;
	}
	if ((r = check_opts(name, driver_opts, err)) < 0)
		return r;
	if ((r = make_volume(vs, name, driver_opts, labels, anonymous, out, err)) < 0)
		return r;
	if (created)
		*created = true;
	return 0;
}

int skiff_volume_create(struct skiff_volumes *vs, const char *name, const char *driver, const json_t *driver_opts,
			const json_t *labels, json_t **out, struct skiff_error *err)
{
	struct vol *v;
	int r = create(vs, name, driver, driver_opts, labels, &v, NULL, err);
	if (r < 0)
		return r;
	if (out)
		*out = vol_json(v);
	return 0;
}

int skiff_volume_get_or_create(struct skiff_volumes *vs, const char *name, const char *driver,
			       const json_t *driver_opts, const json_t *labels, char **name_out, bool *created,
			       struct skiff_error *err)
{
	struct vol *v;
	int r = create(vs, name, driver, driver_opts, labels, &v, created, err);
	if (r < 0)
		return r;
	if (name_out && !(*name_out = strdup(v->name)))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "create %s: out of memory", v->name);
	return 0;
}
