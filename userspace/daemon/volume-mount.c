/* Who uses a volume (refs.json: referencing and running containers) and
 * the host mounts of tmpfs and bind-style volumes that follow from it:
 * mounted at the first running user, unmounted after the last. */
#include "volume-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"

/* ---- mount points and mount options ---- */

bool vol_is_mountpoint(const char *path)
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

bool vol_has_mounts_under(const char *dir)
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

int vol_parse_mount_o(const char *o, unsigned long *flags, char **data)
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

bool vol_needs_mount(const struct vol *v) { return json_object_get(v->options, "type") != NULL; }

bool vol_is_tmpfs(const struct vol *v)
{
	const char *t = skiff_json_str(v->options, "type", "");
	return !strcmp(t, "tmpfs");
}

int vol_host_mount(const struct vol *v, struct skiff_error *err)
{
	const char *type = skiff_json_str(v->options, "type", ""), *device = skiff_json_str(v->options, "device", "");
	_cleanup_free_ char *data = NULL;
	unsigned long flags;
	int r;

	if ((r = vol_parse_mount_o(skiff_json_str(v->options, "o", ""), &flags, &data)) < 0)
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

int vol_host_unmount(const struct vol *v, struct skiff_error *err)
{
	/* lazily: containers still holding it keep their own copy of the mount */
	while (vol_is_mountpoint(v->mountpoint)) {
		if (umount2(v->mountpoint, MNT_DETACH) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "unmounting volume \"%s\"", v->name);
	}
	return 0;
}

/* ---- usage ---- */

/* Adds id to arr; 1 when it was added, 0 when present. */
static int set_add(json_t *arr, const char *id)
{
	if (vol_strv_index(arr, id) >= 0)
		return 0;
	json_array_append_new(arr, json_string(id));
	return 1;
}

static int set_del(json_t *arr, const char *id)
{
	int i = vol_strv_index(arr, id);
	if (i < 0)
		return 0;
	json_array_remove(arr, (size_t)i);
	return 1;
}

static int persist(struct vol *v, struct skiff_error *err)
{
	int r = vol_save_refs(v);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "saving the users of volume \"%s\"", v->name);
	return 0;
}

int skiff_volume_ref(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err)
{
	struct vol *v = vol_need(vs, name, err);
	if (!v)
		return -ENOENT;
	if (!set_add(v->refs, container_id))
		return 0;
	return persist(v, err);
}

int skiff_volume_unref(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err)
{
	struct vol *v = vol_find(vs, name);
	bool was_active, changed;
	int r = 0, q;

	if (!v)
		return 0;
	was_active = set_del(v->active, container_id);
	changed = set_del(v->refs, container_id) | was_active;
	if (was_active && !json_array_size(v->active) && vol_needs_mount(v))
		r = vol_host_unmount(v, err);
	if (changed && (q = persist(v, r < 0 ? NULL : err)) < 0 && r == 0)
		r = q;
	return r;
}

int skiff_volume_mount(struct skiff_volumes *vs, const char *name, const char *container_id, const char **path,
		       struct skiff_error *err)
{
	struct vol *v = vol_need(vs, name, err);
	bool changed;
	int r;

	if (!v)
		return -ENOENT;
	if (vol_needs_mount(v) && !vol_is_mountpoint(v->mountpoint) && (r = vol_host_mount(v, err)) < 0)
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
	struct vol *v = vol_find(vs, name);
	int r = 0, q;
	if (!v || !set_del(v->active, container_id))
		return 0;
	if (!json_array_size(v->active) && vol_needs_mount(v))
		r = vol_host_unmount(v, err);
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
		if (!json_array_size(v->active) && vol_needs_mount(v))
			vol_host_unmount(v, NULL);
		if (changed)
			vol_save_refs(v);
	}
}
