/* The volume store (Docker's "local" driver): create/inspect/list/remove/
 * prune, usage refs persisted next to each volume, host mounts for tmpfs
 * and bind-style volumes, and the copy-up of image content into new volumes.
 * Creates build the volume in a hidden temp dir and rename it into place, so
 * a crash never leaves half a volume; removes rename it away first. */
#include "volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "events.h"
#include "filters.h"

#define TMP_PREFIX ".tmp-"
#define TRASH_PREFIX ".trash-"

struct vol {
	char *name;
	char *dir;	  /* <volumes>/<name> */
	char *mountpoint; /* <dir>/_data */
	char created_at[40];
	json_t *labels;	 /* object of strings */
	json_t *options; /* object of strings: type, device, o */
	json_t *refs;	 /* array of container ids */
	json_t *active;	 /* array of container ids that have it mounted */
};

struct skiff_volumes {
	char *root; /* <data-root>/volumes */
	struct skiff_events *events;
	struct vol **v;
	size_t n, cap;
};

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

static int random_hex(char *out, size_t nbytes)
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

static void vol_free(struct vol *v)
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

static struct vol *find(struct skiff_volumes *vs, const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < vs->n; i++)
		if (!strcmp(vs->v[i]->name, name))
			return vs->v[i];
	return NULL;
}

static int add(struct skiff_volumes *vs, struct vol *v)
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

static struct vol *vol_new(struct skiff_volumes *vs, const char *name)
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

static void emit(struct skiff_volumes *vs, const char *action, const char *name)
{
	if (vs->events)
		skiff_events_emit(vs->events, "volume", action, name, json_pack("{s:s}", "driver", "local"));
}

/* ---- JSON shapes and persistence ---- */

static json_t *vol_json(const struct vol *v)
{
	return json_pack("{s:s,s:s,s:O,s:s,s:s,s:O,s:s}", "CreatedAt", v->created_at, "Driver", "local", "Labels",
			 v->labels, "Mountpoint", v->mountpoint, "Name", v->name, "Options", v->options, "Scope",
			 "local");
}

static int strv_index(const json_t *arr, const char *s)
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

/* Only string values survive: labels and options are map[string]string. */
static json_t *string_map(const json_t *in)
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

static int save_refs(const struct vol *v)
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
	v->labels = string_map(json_object_get(j, "Labels"));
	v->options = string_map(json_object_get(j, "Options"));
	if (skiff_json_read_file(refs_path, &refs) == 0) {
		json_t *c = json_object_get(refs, "Containers"), *a = json_object_get(refs, "Active");
		if (json_is_array(c))
			json_array_extend(v->refs, c);
		if (json_is_array(a))
			json_array_extend(v->active, a);
	}
	if ((r = add(vs, v)) < 0)
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

/* ---- mount points and mount options ---- */

static bool is_mountpoint(const char *path)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
	/* old kernels: a different device than the parent */
	_cleanup_free_ char *parent = NULL;
	struct stat a, b;
	if (asprintf(&parent, "%s/..", path) < 0 || stat(path, &a) < 0 || stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
	char *o = s;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* Is anything mounted at or below dir? rm -rf must never go there (a bind
 * volume's device is the user's data). */
static bool has_mounts_under(const char *dir)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, dl = strlen(dir);
	if (!f)
		return true; /* be safe */
	while (getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX + 1];
		if (sscanf(line, "%*s %*s %*s %*s %4096s", mp) != 1)
			continue;
		unescape_octal(mp);
		if (!strncmp(mp, dir, dl) && (mp[dl] == '\0' || mp[dl] == '/'))
			return true;
	}
	return false;
}

struct mount_flag {
	const char *name;
	bool clear;
	unsigned long flag;
};

/* Docker's mount.ParseOptions table; anything else goes to the fs as data. */
static const struct mount_flag mount_flags[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
};

/* Splits "o" into mount flags and fs data (malloc'd, may be ""). */
static int parse_mount_o(const char *o, unsigned long *flags, char **data)
{
	_cleanup_free_ char *copy = strdup(o ? o : "");
	char *save = NULL, *tok, *out;
	size_t used = 0;

	if (!copy || !(out = calloc(1, strlen(copy) + 1)))
		return -ENOMEM;
	*flags = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < ARRAY_SIZE(mount_flags); i++)
			if (!strcmp(tok, mount_flags[i].name))
				break;
		if (i < ARRAY_SIZE(mount_flags)) {
			if (mount_flags[i].clear)
				*flags &= ~mount_flags[i].flag;
			else
				*flags |= mount_flags[i].flag;
			continue;
		}
		used += (size_t)sprintf(out + used, "%s%s", used ? "," : "", tok);
	}
	*data = out;
	return 0;
}

static bool needs_mount(const struct vol *v) { return json_object_get(v->options, "type") != NULL; }

static bool is_tmpfs(const struct vol *v)
{
	const char *t = skiff_json_str(v->options, "type", "");
	return !strcmp(t, "tmpfs");
}

static int host_mount(const struct vol *v, struct skiff_error *err)
{
	const char *type = skiff_json_str(v->options, "type", ""), *device = skiff_json_str(v->options, "device", "");
	_cleanup_free_ char *data = NULL;
	unsigned long flags;
	int r;

	if ((r = parse_mount_o(skiff_json_str(v->options, "o", ""), &flags, &data)) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, -r, "mounting volume \"%s\": out of memory", v->name);
	if (!strcmp(type, "tmpfs")) {
		if (mount(device[0] ? device : "tmpfs", v->mountpoint, "tmpfs", flags & ~(MS_BIND | MS_REC),
			  data[0] ? data : NULL) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno,
					       "error while mounting volume '%s': mount tmpfs:%s, data: %s",
					       v->mountpoint, v->mountpoint, data);
		return 0;
	}
	/* type=none,o=bind: the only other kind create accepts */
	if (mount(device, v->mountpoint, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "error while mounting volume '%s': mount %s:%s",
				       v->mountpoint, device, v->mountpoint);
	if (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) {
		unsigned long keep = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
		if (mount(NULL, v->mountpoint, NULL, MS_BIND | MS_REMOUNT | keep, NULL) < 0) {
			int e = errno;
			umount2(v->mountpoint, MNT_DETACH);
			return skiff_error_sys(err, SKIFF_EINTERNAL, e, "error while mounting volume '%s': remount %s",
					       v->mountpoint, v->mountpoint);
		}
	}
	return 0;
}

static int host_unmount(const struct vol *v, struct skiff_error *err)
{
	/* lazily: containers still holding it keep their own copy of the mount */
	while (is_mountpoint(v->mountpoint)) {
		if (umount2(v->mountpoint, MNT_DETACH) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "unmounting volume \"%s\"", v->name);
	}
	return 0;
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
		if (parse_mount_o(o, &flags, &data) < 0)
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
	v->labels = string_map(labels);
	v->options = string_map(opts);
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
	if ((r = add(vs, v)) < 0) {
		skiff_rm_rf(v->dir);
		vol_free(v);
		return skiff_error_set(err, SKIFF_EINTERNAL, -r, "create %s: out of memory", name);
	}
	*out = v;
	emit(vs, "create", name);
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
			if ((r = random_hex(anon, 32)) < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "create: generating a volume name");
		} while (find(vs, anon));
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
	if ((v = find(vs, name))) {
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

/* ---- lookups ---- */

json_t *skiff_volume_inspect_json(struct skiff_volumes *vs, const char *name, struct skiff_error *err)
{
	struct vol *v = find(vs, name);
	if (!v) {
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "get %s: no such volume", name);
		return NULL;
	}
	return vol_json(v);
}

const char *skiff_volume_mountpoint(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = find(vs, name);
	return v ? v->mountpoint : NULL;
}

const json_t *skiff_volume_options(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = find(vs, name);
	return v ? v->options : NULL;
}

bool skiff_volume_is_anonymous(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = find(vs, name);
	return v && json_object_get(v->labels, SKIFF_VOLUME_ANON_LABEL);
}

bool skiff_volume_in_use(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = find(vs, name);
	return v && (json_array_size(v->refs) || json_array_size(v->active));
}

json_t *skiff_volume_users(struct skiff_volumes *vs, const char *name)
{
	struct vol *v = find(vs, name);
	return v ? json_deep_copy(v->refs) : json_array();
}

/* ---- list and filters ---- */

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

/* ---- remove and prune ---- */

static int in_use_error(const struct vol *v, struct skiff_error *err)
{
	char ids[768] = "";
	size_t i, used = 0;
	json_t *e;
	json_t *all = json_deep_copy(v->refs);
	json_array_foreach(v->active, i, e)
	{
		if (strv_index(all, json_string_value(e)) < 0)
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

/* Removes an unused volume from disk and memory; *size (may be NULL) gets
 * the bytes it held. */
static int destroy(struct skiff_volumes *vs, struct vol *v, int64_t *size, struct skiff_error *err)
{
	_cleanup_free_ char *trash = NULL;
	char rnd[17];
	int r;

	if ((r = host_unmount(v, err)) < 0)
		return skiff_error_wrap(err, "remove %s", v->name);
	if (has_mounts_under(v->dir))
		return skiff_error_set(err, SKIFF_EINTERNAL, EBUSY, "remove %s: something is still mounted under %s",
				       v->name, v->dir);
	if (size)
		*size = skiff_dir_size(v->mountpoint);
	if ((r = random_hex(rnd, 8)) < 0 || asprintf(&trash, "%s/" TRASH_PREFIX "%s-%s", vs->root, v->name, rnd) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, r < 0 ? -r : ENOMEM, "remove %s: out of memory", v->name);
	if (rename(v->dir, trash) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "remove %s", v->name);
	/* the volume is gone now; leftovers are cleaned at the next open */
	skiff_rm_rf(trash);
	emit(vs, "destroy", v->name);
	drop(vs, v);
	return 0;
}

int skiff_volume_remove(struct skiff_volumes *vs, const char *name, bool force, struct skiff_error *err)
{
	struct vol *v = find(vs, name);
	if (!v) {
		if (force)
			return 0;
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "get %s: no such volume", name);
	}
	if (json_array_size(v->refs) || json_array_size(v->active))
		return in_use_error(v, err);
	return destroy(vs, v, NULL, err);
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
		if (destroy(vs, v, &size, &e2) < 0)
			continue; /* Docker skips volumes it cannot remove */
		json_array_append_new(deleted, json_string(name));
		total += size;
	}
	*report = json_pack("{s:o,s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", (json_int_t)total);
	return 0;
}

/* ---- usage ---- */

static struct vol *need(struct skiff_volumes *vs, const char *name, struct skiff_error *err)
{
	struct vol *v = find(vs, name);
	if (!v)
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "get %s: no such volume", name ? name : "");
	return v;
}

/* Adds id to arr; 1 when it was added, 0 when present. */
static int set_add(json_t *arr, const char *id)
{
	if (strv_index(arr, id) >= 0)
		return 0;
	json_array_append_new(arr, json_string(id));
	return 1;
}

static int set_del(json_t *arr, const char *id)
{
	int i = strv_index(arr, id);
	if (i < 0)
		return 0;
	json_array_remove(arr, (size_t)i);
	return 1;
}

static int persist(struct vol *v, struct skiff_error *err)
{
	int r = save_refs(v);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "saving the users of volume \"%s\"", v->name);
	return 0;
}

int skiff_volume_ref(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err)
{
	struct vol *v = need(vs, name, err);
	if (!v)
		return -ENOENT;
	if (!set_add(v->refs, container_id))
		return 0;
	return persist(v, err);
}

int skiff_volume_unref(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err)
{
	struct vol *v = find(vs, name);
	bool was_active, changed;
	int r = 0, q;

	if (!v)
		return 0;
	was_active = set_del(v->active, container_id);
	changed = set_del(v->refs, container_id) | was_active;
	if (was_active && !json_array_size(v->active) && needs_mount(v))
		r = host_unmount(v, err);
	if (changed && (q = persist(v, r < 0 ? NULL : err)) < 0 && r == 0)
		r = q;
	return r;
}

int skiff_volume_mount(struct skiff_volumes *vs, const char *name, const char *container_id, const char **path,
		       struct skiff_error *err)
{
	struct vol *v = need(vs, name, err);
	bool changed;
	int r;

	if (!v)
		return -ENOENT;
	if (needs_mount(v) && !is_mountpoint(v->mountpoint) && (r = host_mount(v, err)) < 0)
		return r;
	changed = set_add(v->active, container_id);
	changed |= set_add(v->refs, container_id);
	if (changed && (r = persist(v, err)) < 0)
		return r;
	if (path)
		*path = v->mountpoint;
	return 0;
}

int skiff_volume_unmount(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err)
{
	struct vol *v = find(vs, name);
	int r = 0, q;
	if (!v || !set_del(v->active, container_id))
		return 0;
	if (!json_array_size(v->active) && needs_mount(v))
		r = host_unmount(v, err);
	if ((q = persist(v, r < 0 ? NULL : err)) < 0 && r == 0)
		r = q;
	return r;
}

void skiff_volumes_reconcile(struct skiff_volumes *vs, skiff_volume_ctr_pred exists, skiff_volume_ctr_pred running,
			     void *data)
{
	for (size_t i = 0; i < vs->n; i++) {
		struct vol *v = vs->v[i];
		bool changed = false;
		for (size_t j = json_array_size(v->refs); j-- > 0;) {
			const char *id = json_string_value(json_array_get(v->refs, j));
			if (!id || (exists && !exists(id, data))) {
				json_array_remove(v->refs, j);
				changed = true;
			}
		}
		for (size_t j = json_array_size(v->active); j-- > 0;) {
			const char *id = json_string_value(json_array_get(v->active, j));
			if (!id || (running && !running(id, data))) {
				json_array_remove(v->active, j);
				changed = true;
			}
		}
		if (!json_array_size(v->active) && needs_mount(v))
			host_unmount(v, NULL);
		if (changed)
			save_refs(v);
	}
}

/* ---- copy-up ---- */

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *dst;
};

struct copy {
	struct hardlink *links;
	size_t nlinks, cap;
	struct skiff_error *err;
};

/* overlay's own attributes describe the layer, not the content */
static bool skip_xattr(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13);
}

static int copy_xattrs(const char *src, const char *dst, struct copy *c)
{
	_cleanup_free_ char *names = NULL, *val = NULL;
	ssize_t n = llistxattr(src, NULL, 0);
	size_t vcap = 0;

	if (n < 0)
		return errno == ENOTSUP || errno == ENODATA
			   ? 0
			   : skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "listing xattrs of %s", src);
	if (n == 0)
		return 0;
	if (!(names = malloc((size_t)n)))
		return -ENOMEM;
	n = llistxattr(src, names, (size_t)n);
	if (n < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "listing xattrs of %s", src);
	for (char *k = names; k < names + n; k += strlen(k) + 1) {
		ssize_t vl;
		if (skip_xattr(k))
			continue;
		vl = lgetxattr(src, k, NULL, 0);
		if (vl < 0)
			continue;
		if ((size_t)vl + 1 > vcap) {
			char *nv = realloc(val, (size_t)vl + 1);
			if (!nv)
				return -ENOMEM;
			val = nv;
			vcap = (size_t)vl + 1;
		}
		vl = lgetxattr(src, k, val, vcap);
		if (vl < 0)
			continue;
		if (lsetxattr(dst, k, val, (size_t)vl, 0) < 0 && errno != ENOTSUP)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "setting xattr %s on %s", k, dst);
	}
	return 0;
}

/* Owner, mode, xattrs and times, in the order that keeps setuid bits
 * (chown clears them) and the mtime (xattrs and writes touch ctime only). */
static int copy_meta(const char *src, const char *dst, const struct stat *st, struct copy *c)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	int r;
	if (lchown(dst, st->st_uid, st->st_gid) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "chown %s", dst);
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "chmod %s", dst);
	if ((r = copy_xattrs(src, dst, c)) < 0)
		return r;
	if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "setting times of %s", dst);
	return 0;
}

static int copy_data(const char *src, const char *dst, const struct stat *st, struct copy *c)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[65536];

	if (in < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "opening %s", src);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "creating %s", dst);
	for (off_t left = st->st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EXDEV, ENOSYS, a file that shrank: plain copy from here */
		left -= n;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "reading %s", src);
		if (n == 0)
			break;
		int r = skiff_write_all(out, buf, (size_t)n);
		if (r < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, -r, "writing %s", dst);
	}
	return 0;
}

static int copy_entry(const char *src, const char *dst, dev_t root_dev, struct copy *c);

static int copy_dir_contents(const char *src, const char *dst, dev_t root_dev, struct copy *c)
{
	_cleanup_closedir_ DIR *d = opendir(src);
	struct dirent *de;
	if (!d)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "reading %s", src);
	while ((de = readdir(d))) {
		_cleanup_free_ char *s = NULL, *t = NULL;
		int r;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&s, "%s/%s", src, de->d_name) < 0 || asprintf(&t, "%s/%s", dst, de->d_name) < 0)
			return -ENOMEM;
		if ((r = copy_entry(s, t, root_dev, c)) < 0)
			return r;
	}
	return 0;
}

static int copy_entry(const char *src, const char *dst, dev_t root_dev, struct copy *c)
{
	struct stat st;
	int r;

	if (lstat(src, &st) < 0)
		return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "stat %s", src);
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0700) < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "mkdir %s", dst);
		/* an image's content never spans mounts; do not copy what is mounted below */
		if (st.st_dev == root_dev && (r = copy_dir_contents(src, dst, root_dev, c)) < 0)
			return r;
		return copy_meta(src, dst, &st, c);
	}
	if (!S_ISLNK(st.st_mode) && st.st_nlink > 1) {
		for (size_t i = 0; i < c->nlinks; i++) {
			if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino) {
				if (link(c->links[i].dst, dst) < 0)
					return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "link %s", dst);
				return 0;
			}
		}
	}
	if (S_ISREG(st.st_mode)) {
		if ((r = copy_data(src, dst, &st, c)) < 0)
			return r;
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlink(src, target, PATH_MAX);
		if (n < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "readlink %s", src);
		target[n] = '\0';
		if (symlink(target, dst) < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "symlink %s", dst);
	} else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		return 0; /* an overlay whiteout: the file is deleted in this view */
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
		if (mknod(dst, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
			return skiff_error_sys(c->err, SKIFF_EINTERNAL, errno, "mknod %s", dst);
	} else {
		return 0; /* sockets belong to a process that is not there */
	}
	if ((r = copy_meta(src, dst, &st, c)) < 0)
		return r;
	if (!S_ISLNK(st.st_mode) && st.st_nlink > 1) {
		if (c->nlinks == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 64;
			struct hardlink *nl = realloc(c->links, cap * sizeof(*nl));
			if (!nl)
				return -ENOMEM;
			c->links = nl;
			c->cap = cap;
		}
		if (!(c->links[c->nlinks].dst = strdup(dst)))
			return -ENOMEM;
		c->links[c->nlinks].dev = st.st_dev;
		c->links[c->nlinks].ino = st.st_ino;
		c->nlinks++;
	}
	return 0;
}

static bool dir_empty(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

int skiff_copy_tree_into(const char *src_dir, const char *dst_dir, struct skiff_error *err)
{
	struct copy c = {.err = err};
	struct stat st;
	int r;

	if (lstat(src_dir, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "stat %s", src_dir);
	}
	if (!S_ISDIR(st.st_mode) || !dir_empty(dst_dir))
		return 0;
	r = copy_dir_contents(src_dir, dst_dir, st.st_dev, &c);
	if (r == -ENOMEM)
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "copying %s: out of memory", src_dir);
	/* Docker gives the volume root the owner and mode of the image's directory */
	if (r >= 0 && (chown(dst_dir, st.st_uid, st.st_gid) < 0 || chmod(dst_dir, st.st_mode & 07777) < 0))
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "setting owner and mode of %s", dst_dir);
	for (size_t i = 0; i < c.nlinks; i++)
		free(c.links[i].dst);
	free(c.links);
	return r < 0 ? r : 1;
}

int skiff_volume_copy_up(struct skiff_volumes *vs, const char *name, const char *src_dir, struct skiff_error *err)
{
	struct vol *v = need(vs, name, err);
	bool temp = false;
	int r, q;

	if (!v)
		return -ENOENT;
	if (needs_mount(v) && !is_mountpoint(v->mountpoint)) {
		/* a tmpfs is empty again at its first real mount: nothing to keep */
		if (is_tmpfs(v))
			return 0;
		if ((r = host_mount(v, err)) < 0)
			return r;
		temp = true;
	}
	r = skiff_copy_tree_into(src_dir, v->mountpoint, err);
	if (r < 0)
		skiff_error_wrap(err, "copying the image's content into volume \"%s\"", name);
	if (temp && (q = host_unmount(v, r < 0 ? NULL : err)) < 0 && r >= 0)
		r = q;
	return r;
}

/* ---- sizes ---- */

struct size_walk {
	struct hardlink *seen;
	size_t n, cap;
};

static int64_t size_at(int dfd, dev_t dev, struct size_walk *w)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;
	int64_t total = 0;
	if (!d) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				total += size_at(fd, dev, w);
			continue;
		}
		if (st.st_nlink > 1) {
			bool dup = false;
			for (size_t i = 0; i < w->n && !dup; i++)
				dup = w->seen[i].ino == st.st_ino;
			if (dup)
				continue;
			if (w->n == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 64;
				struct hardlink *ns = realloc(w->seen, cap * sizeof(*ns));
				if (ns) {
					w->seen = ns;
					w->cap = cap;
				}
			}
			if (w->n < w->cap)
				w->seen[w->n++] = (struct hardlink){.dev = st.st_dev, .ino = st.st_ino};
		}
		total += st.st_size;
	}
	return total;
}

int64_t skiff_dir_size(const char *dir)
{
	struct size_walk w = {0};
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int64_t total;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	total = size_at(fd, st.st_dev, &w);
	free(w.seen);
	return total;
}
