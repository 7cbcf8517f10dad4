/* The volume store: Docker's "local" volume driver. Each volume is
 * <data-root>/volumes/<name>/_data (the data) plus volume.json (metadata)
 * and refs.json (which containers use it); the API layer (api/volumes.c)
 * and the container manager (mounting volumes into containers) share it. */
#ifndef SKIFF_VOLUME_H
#define SKIFF_VOLUME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"

struct skiff_volumes;
struct skiff_events; /* events.h */

/* Label Docker (>= 23) puts on anonymous volumes; prune without all=true
 * only removes volumes that carry it. */
#define SKIFF_VOLUME_ANON_LABEL "com.docker.volume.anonymous"

/* Loads every volume under <data_root>/volumes (created if missing) and
 * removes leftovers of interrupted creates/removes. events may be NULL (no
 * create/destroy events). */
int skiff_volumes_open(const char *data_root, struct skiff_events *events, struct skiff_volumes **out,
		       struct skiff_error *err);
/* Leaves host mounts of tmpfs/bind volumes in place (running containers use them). */
void skiff_volumes_close(struct skiff_volumes *vs);

/* Docker's rule for local volume names: ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ */
bool skiff_volume_name_valid(const char *name);

/* POST /volumes/create. name NULL or "" -> an anonymous volume with a
 * 64-hex name and the anonymous label. driver NULL/"" means "local";
 * driver_opts and labels are objects of strings (may be NULL). An existing
 * name returns that volume (Docker does). *out (may be NULL) gets the
 * Volume JSON. 400 bad name/options, 404 unknown driver, 501 for local
 * volume types other than tmpfs and bind. */
int skiff_volume_create(struct skiff_volumes *vs, const char *name, const char *driver, const json_t *driver_opts,
			const json_t *labels, json_t **out, struct skiff_error *err);
/* GET /volumes/{name}: the Volume JSON or NULL with 404 "get NAME: no such volume". */
json_t *skiff_volume_inspect_json(struct skiff_volumes *vs, const char *name, struct skiff_error *err);
/* GET /volumes: {"Volumes":[...],"Warnings":[]} sorted by name; filters
 * (skiff_http_query_filters' shape) dangling, driver, label, name. NULL
 * with 400 on a bad filter. */
json_t *skiff_volume_list_json(struct skiff_volumes *vs, const json_t *filters, struct skiff_error *err);
/* GET /system/df: every volume with UsageData {Size, RefCount}. */
json_t *skiff_volume_df_json(struct skiff_volumes *vs);
/* DELETE /volumes/{name}: 404 when missing (0 with force), 409 "remove
 * NAME: volume is in use - [ID ...]" while a container references it
 * (also with force, as in Docker). Unmounts a stale host mount first. */
int skiff_volume_remove(struct skiff_volumes *vs, const char *name, bool force, struct skiff_error *err);
/* POST /volumes/prune: removes unreferenced volumes; only anonymous ones
 * unless all (or filter all=true). filters: label, label!, all.
 * *report = {"VolumesDeleted":[...],"SpaceReclaimed":n}. */
int skiff_volume_prune(struct skiff_volumes *vs, const json_t *filters, bool all, json_t **report,
		       struct skiff_error *err);
int skiff_volume_count(struct skiff_volumes *vs);

/* ---- for the container manager (mounting volumes into containers) ----
 *
 * Usage is persisted in <name>/refs.json, so a restarted skiffd knows it:
 *   refs   containers that reference the volume (created, running or
 *          stopped; Docker's "in use": blocks rm and prune);
 *   active containers that currently have it mounted (running); a
 *          tmpfs/bind volume is mounted on its host Mountpoint while this
 *          set is non-empty, and unmounted when it empties.
 * Calls are idempotent per (volume, container). After loading its
 * containers at start the manager calls skiff_volumes_reconcile() to drop
 * entries of containers that vanished while skiffd was away.
 *
 * Typical use:
 *   create:  skiff_volume_get_or_create(...) -> skiff_volume_ref(name, id)
 *            -> skiff_volume_copy_up(name, <image content at the mount path>)
 *   start:   skiff_volume_mount(name, id, &path) -> bind path into the rootfs
 *   exit:    skiff_volume_unmount(name, id)
 *   rm:      skiff_volume_unref(name, id); with rm -v also
 *            skiff_volume_remove(name) for the anonymous ones no one else uses */

/* Returns the volume called name, creating it (with driver/driver_opts/
 * labels as for skiff_volume_create) when missing; name NULL or "" makes
 * a new anonymous volume. *name_out (may be NULL) gets a malloc'd copy of
 * the name, *created whether this call made it. */
int skiff_volume_get_or_create(struct skiff_volumes *vs, const char *name, const char *driver,
			       const json_t *driver_opts, const json_t *labels, char **name_out, bool *created,
			       struct skiff_error *err);
/* Host path of the volume's data (<data-root>/volumes/<name>/_data); NULL
 * if there is no such volume. Valid until the volume is removed. */
const char *skiff_volume_mountpoint(struct skiff_volumes *vs, const char *name);
/* Options given at create (borrowed; {} when none). */
const json_t *skiff_volume_options(struct skiff_volumes *vs, const char *name);
bool skiff_volume_is_anonymous(struct skiff_volumes *vs, const char *name);

int skiff_volume_ref(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err);
/* Also drops the container from the active set (unmounting if it was last).
 * A missing volume or an unknown container is not an error. */
int skiff_volume_unref(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err);
bool skiff_volume_in_use(struct skiff_volumes *vs, const char *name);
/* Ids of the referencing containers, a new JSON array. */
json_t *skiff_volume_users(struct skiff_volumes *vs, const char *name);

/* Makes the volume's data available for container_id and returns (in
 * *path, borrowed) the host directory to bind-mount into the container.
 * For type=tmpfs / type=none,o=bind volumes the first mount mounts the
 * tmpfs or the device on Mountpoint. Implies skiff_volume_ref. */
int skiff_volume_mount(struct skiff_volumes *vs, const char *name, const char *container_id, const char **path,
		       struct skiff_error *err);
int skiff_volume_unmount(struct skiff_volumes *vs, const char *name, const char *container_id, struct skiff_error *err);

/* Drops refs of containers for which exists(id) is false and active
 * entries for which running(id) is false, then unmounts tmpfs/bind
 * volumes that no running container has mounted. */
typedef bool (*skiff_volume_ctr_pred)(const char *container_id, void *data);
void skiff_volumes_reconcile(struct skiff_volumes *vs, skiff_volume_ctr_pred exists, skiff_volume_ctr_pred running,
			     void *data);

/* Docker's copy-up, for a volume a container is being created with: when
 * the volume's data dir is empty (Docker's test for "new"; a volume whose
 * files were all deleted is filled again, as in Docker), copies the tree
 * at src_dir (the image's content at the mount path) into it: files, dirs,
 * symlinks, hard links, devices, fifos; modes, owners, xattrs (not
 * overlay's own), timestamps; overlay whiteouts are skipped. The data dir
 * gets src_dir's owner and mode. Returns 1 when it copied, 0 when the
 * volume was not empty, src_dir does not exist or the volume is a tmpfs
 * (its content starts empty at each first mount). A bind-style volume is
 * mounted for the copy. Call on the event loop thread; for big trees,
 * skiff_copy_tree_into(src, skiff_volume_mountpoint(...)) may run on a
 * worker with the volume mounted (skiff_volume_mount) or plain. */
int skiff_volume_copy_up(struct skiff_volumes *vs, const char *name, const char *src_dir, struct skiff_error *err);
/* The copy itself, for a known destination directory. */
int skiff_copy_tree_into(const char *src_dir, const char *dst_dir, struct skiff_error *err);
/* Bytes used by regular files under dir (hard links once, not crossing mounts). */
int64_t skiff_dir_size(const char *dir);

#endif
