/* What store.c shares with import.c and archive.c: paths, blobs, layer
 * creation and image registration. Not a public surface. */
#ifndef SKIFF_IMAGE_STORE_INTERNAL_H
#define SKIFF_IMAGE_STORE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "../lib/digest.h"
#include "store.h"
#include "tar.h"

struct store_event;

struct skiff_store {
	char *root; /* <data-root>/image */
	pthread_mutex_t lock;
	pthread_t owner; /* thread that opened the store: hooks run there only */
	json_t *repos;   /* normalised ref -> image id */
	json_t *images;  /* image id -> {"meta": {...}, "config": {...}} */
	skiff_image_in_use_fn in_use;
	skiff_image_event_fn event;
	void *hook_data;
	struct store_event *pending, **pending_tail;
};

/* malloc'd "<root>/<fmt...>" */
char *store_path(struct skiff_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *store_blob_path(struct skiff_store *s, const char *digest);
/* Writes a small blob (config, manifest); digest out. */
int store_blob_put(struct skiff_store *s, const void *data, size_t len, char digest[SKIFF_DIGEST_LEN],
		   struct skiff_error *err);
/* A temp file or dir under <root>/tmp (same filesystem, so rename works). */
int store_tmpfile(struct skiff_store *s, char **path);
int store_tmpdir(struct skiff_store *s, char **path);

bool store_layer_exists(struct skiff_store *s, const char *chain);
/* chain of diff on top of parent ("" for the base layer) */
void store_chain_id(const char *parent, const char *diffid, char chain[SKIFF_DIGEST_LEN]);
/* Extracts r as a new layer on top of parent_chain (may be ""); checks the
 * diffID against expect (may be NULL); keeps the uncompressed tar as a blob. */
int store_layer_create(struct skiff_store *s, struct skiff_tar_reader *r, const char *parent_chain,
		       const char *expect, char chain[SKIFF_DIGEST_LEN], char diffid[SKIFF_DIGEST_LEN],
		       struct skiff_error *err);
/* Moves a layer made in tmpdir (its diff/ complete) into the store as
 * chain: meta.json written, the tar blob (*tmpblob, open as bfd) renamed to
 * its digest (*tmpblob freed and NULL once it is), tmpdir renamed to
 * layers/<chain> (dropped if another copy won the race). On failure the
 * caller removes what is left of tmpdir and *tmpblob. */
int store_layer_install(struct skiff_store *s, const char *tmpdir, char **tmpblob, int bfd, const char *parent_chain,
			const char *diffid, int64_t size, const char *chain, struct skiff_error *err);
/* Registers an image whose layers exist: the config blob bytes are stored
 * as they are (the id is their digest). Takes the lock. */
int store_image_add(struct skiff_store *s, const char *config, size_t len, char id[SKIFF_DIGEST_LEN],
		    struct skiff_error *err);
/* ref must be normalised; takes the lock. */
int store_tag(struct skiff_store *s, const char *id, const char *ref, struct skiff_error *err);
/* Queues or fires a hook event (see skiff_store_flush_events). */
void store_event(struct skiff_store *s, const char *action, const char *id, const char *ref);

#endif
