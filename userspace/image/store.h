/* The image store: content-addressed blobs (sha256) under
 * <data-root>/image/, layers extracted once into overlay-ready dirs
 * (whiteouts as 0/0 char devices, opaque dirs as trusted.overlay.opaque)
 * and shared by every image and container that uses them, and a
 * repositories index (name:tag -> image id). Metadata writes are atomic.
 * Image ids are "sha256:<hex of the config blob>". */
#ifndef SKIFF_IMAGE_STORE_H
#define SKIFF_IMAGE_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "../lib/error.h"

struct skiff_store;

/* Tells the store whether any container uses an image (409 on rmi). */
typedef bool (*skiff_image_in_use_fn)(const char *image_id, void *data);
/* Store events: action "tag", "untag", "delete", "import", "load", "save". */
typedef void (*skiff_image_event_fn)(const char *action, const char *image_id, const char *ref, void *data);

int skiff_store_open(const char *data_root, struct skiff_store **out, struct skiff_error *err);
void skiff_store_close(struct skiff_store *s);
void skiff_store_set_hooks(struct skiff_store *s, skiff_image_in_use_fn in_use, skiff_image_event_fn event,
			   void *data);

/* Reference parsing/normalising: "busybox" -> "busybox:latest",
 * "docker.io/library/busybox:1" -> "busybox:1", digests "name@sha256:..."
 * kept. Returns -EINVAL (400 "invalid reference format") when malformed. */
int skiff_ref_normalize(const char *ref, char *out, size_t outlen, struct skiff_error *err);

/* Resolves a name:tag, a full or short (>= 1 char prefix, unambiguous) id,
 * or "sha256:..." to the full image id. 404 "No such image: REF". */
int skiff_image_resolve(struct skiff_store *s, const char *ref, char id[72], struct skiff_error *err);
int skiff_image_count(struct skiff_store *s);

/* Runtime view of an image: its OCI config ("config" object of the image
 * config blob: Cmd, Entrypoint, Env, WorkingDir, User, Volumes, ExposedPorts,
 * Labels, StopSignal, Healthcheck...) and its extracted layer dirs, top
 * layer first, as overlay lowerdir entries. Caller frees with json_decref /
 * skiff_strvfree. */
int skiff_image_runtime(struct skiff_store *s, const char *id, json_t **config, char ***lower_dirs,
			struct skiff_error *err);

/* POST /images/create?fromSrc=- : tar (plain or gzip) of a rootfs on fd.
 * repo_tag may be NULL (untagged). changes: Dockerfile-style lines "CMD [..]",
 * "ENV K=V", "WORKDIR /x", "ENTRYPOINT [...]", "USER u", "LABEL k=v",
 * "EXPOSE 80", "VOLUME /x", "STOPSIGNAL s" (NULL-terminated, may be NULL).
 * *id_out is malloc'd. */
int skiff_image_import(struct skiff_store *s, int tar_fd, const char *repo_tag, char *const *changes,
		       const char *message, char **id_out, struct skiff_error *err);
/* POST /images/load: docker-archive (manifest.json) or OCI archive
 * (index.json + oci-layout), plain or gzip. *loaded: array of strings
 * "Loaded image: busybox:latest" / "Loaded image ID: sha256:..." */
int skiff_image_load(struct skiff_store *s, int tar_fd, json_t **loaded, struct skiff_error *err);
/* GET /images/get?names=a&names=b : writes a docker-archive that also carries
 * the OCI layout (index.json, oci-layout, blobs/sha256/...), as Docker 25+ does. */
int skiff_image_save(struct skiff_store *s, char *const *names, int out_fd, struct skiff_error *err);

int skiff_image_tag(struct skiff_store *s, const char *name, const char *repo, const char *tag,
		    struct skiff_error *err);
/* DELETE /images/{name}: *report is Docker's array of {"Untagged": ref} /
 * {"Deleted": id}. 409 when a container uses it (unless force) or when the
 * id has several tags and was named by id (unless force). */
int skiff_image_remove(struct skiff_store *s, const char *name, bool force, bool noprune, json_t **report,
		       struct skiff_error *err);

/* POST /images/prune: removes dangling (untagged) images no container uses
 * (all unused images when all is set); *report is Docker's
 * {"ImagesDeleted": [...], "SpaceReclaimed": n}. filters: label, until. */
int skiff_image_prune(struct skiff_store *s, bool all, const json_t *filters, json_t **report,
		      struct skiff_error *err);

/* Hooks only run on the thread that opened the store; events raised by
 * import/load on a worker thread are queued and delivered by the next
 * store call on the owner thread, or by this call. */
void skiff_store_flush_events(struct skiff_store *s);

/* API shapes */
json_t *skiff_image_list_json(struct skiff_store *s, bool all, const json_t *filters, struct skiff_error *err);
json_t *skiff_image_inspect_json(struct skiff_store *s, const char *name, struct skiff_error *err);
json_t *skiff_image_history_json(struct skiff_store *s, const char *name, struct skiff_error *err);

/* ---- builds (userspace/image/commit.c) ---- */

/* A scratch directory on the store's filesystem (malloc'd path), so a
 * build step's overlay upper dir can later be renamed into the store as a
 * layer without copying. */
int skiff_store_scratch_dir(struct skiff_store *s, char **path, struct skiff_error *err);
/* Commits a new image on top of parent_id (NULL or "" for scratch).
 * upper_dir (may be NULL) is a directory in overlay upper format (0/0 char
 * devices for whiteouts, trusted.overlay.opaque dirs): when it holds any
 * change it is moved into the store as the new top layer (no copy), its tar
 * blob (whiteouts as .wh. entries, entries sorted) is written, and its
 * diff_id appended to config's rootfs.diff_ids; an empty upper adds no layer
 * (*empty_layer true), as Docker. config is the full image config (history
 * included; the caller appends the history row, whose "empty_layer" this
 * function sets) and is updated in place. The image is untagged and marked
 * as a build intermediate (hidden from the list unless all). upper_dir is
 * consumed (moved or removed). id: "sha256:...". */
int skiff_image_commit(struct skiff_store *s, const char *parent_id, const char *upper_dir, json_t *config,
		       char id[72], struct skiff_error *err);
/* The full image config blob of an image (caller json_decref's). */
int skiff_image_config(struct skiff_store *s, const char *ref, json_t **config, struct skiff_error *err);
/* {id: parent id ("" for scratch)} of every image made by commit. */
json_t *skiff_image_parents(struct skiff_store *s);
/* Removes an image by id when no tag and no container uses it and no other
 * image names it as parent; *freed += bytes. 0 when removed, -EBUSY when
 * kept. */
int skiff_image_remove_unused(struct skiff_store *s, const char *id, int64_t *freed);

#endif
