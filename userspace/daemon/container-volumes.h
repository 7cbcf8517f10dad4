/* The container manager's side of volumes: resolving a new container's
 * volume mounts (named, anonymous, --volumes-from, the image's VOLUMEs)
 * against the volume store with copy-up of the image's content, mounting
 * them around each run, and letting go of them at removal. container.c
 * calls these hooks; the mount list itself is container-config.c's. */
#ifndef SKIFF_CONTAINER_VOLUMES_H
#define SKIFF_CONTAINER_VOLUMES_H

#include <stdbool.h>

#include "../lib/error.h"
#include "daemon.h"

struct skiff_ctr;

/* create, once c->mounts holds the parsed Binds/Mounts/Tmpfs and c->dir
 * exists: adds the --volumes-from mounts (404 for a missing container)
 * and anonymous volumes for Config.Volumes, creates missing volumes,
 * references each for c, fills Name and Source, and copies the image's
 * content into new (empty) volumes unless nocopy. On failure the caller
 * calls skiff_ctr_volumes_release(d, c, true). */
int skiff_ctr_volumes_setup(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err);
/* start: makes every volume of c available (mounting tmpfs/bind-style
 * local volumes on first use); undoes itself on failure. */
int skiff_ctr_volumes_mount(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err);
/* exit (and a failed start). */
void skiff_ctr_volumes_unmount(struct skiff_daemon *d, struct skiff_ctr *c);
/* remove: drops c's references; remove_anon (rm -v, AutoRemove) also
 * removes its anonymous volumes that no other container uses. */
void skiff_ctr_volumes_release(struct skiff_daemon *d, struct skiff_ctr *c, bool remove_anon);
/* skiffd start, after the containers are loaded: forget references of
 * containers that are gone and mounts of ones that no longer run. */
void skiff_ctr_volumes_reconcile(struct skiff_daemon *d);

#endif
