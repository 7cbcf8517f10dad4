/* What the volume store's files share (volume.c: the set and its
 * persistence, volume-create.c, volume-mount.c, volume-list.c,
 * volume-copy.c). Not a public surface; volume.h is the contract. */
#ifndef SKIFF_DAEMON_VOLUME_INTERNAL_H
#define SKIFF_DAEMON_VOLUME_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "volume.h"

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

/* ---- volume.c: the set, persistence, lookups, removal ---- */

/* nbytes random bytes as 2*nbytes hex digits and a NUL: anonymous volume
 * names, trash dirs. */
int vol_random_hex(char *out, size_t nbytes);
struct vol *vol_new(struct skiff_volumes *vs, const char *name);
void vol_free(struct vol *v);
struct vol *vol_find(struct skiff_volumes *vs, const char *name);
/* vol_find, or NULL with 404 "get NAME: no such volume". */
struct vol *vol_need(struct skiff_volumes *vs, const char *name, struct skiff_error *err);
int vol_add(struct skiff_volumes *vs, struct vol *v);
void vol_emit(struct skiff_volumes *vs, const char *action, const char *name);
json_t *vol_json(const struct vol *v);
int vol_strv_index(const json_t *arr, const char *s);
/* Only string values survive: labels and options are map[string]string. */
json_t *vol_string_map(const json_t *in);
int vol_save_refs(const struct vol *v);
/* Removes an unused volume from disk and memory; *size (may be NULL) gets
 * the bytes it held. */
int vol_destroy(struct skiff_volumes *vs, struct vol *v, int64_t *size, struct skiff_error *err);

/* ---- volume-mount.c: host mounts of tmpfs and bind volumes ---- */

bool vol_is_mountpoint(const char *path);
/* Is anything mounted at or below dir? rm -rf must never go there (a bind
 * volume's device is the user's data). */
bool vol_has_mounts_under(const char *dir);
/* Splits "o" into mount flags and fs data (malloc'd, may be ""). */
int vol_parse_mount_o(const char *o, unsigned long *flags, char **data);
bool vol_needs_mount(const struct vol *v);
bool vol_is_tmpfs(const struct vol *v);
int vol_host_mount(const struct vol *v, struct skiff_error *err);
int vol_host_unmount(const struct vol *v, struct skiff_error *err);

#endif
