/* Image reference helpers shared by the store files (the normaliser itself
 * is skiff_ref_normalize in store.h). */
#ifndef SKIFF_IMAGE_REF_H
#define SKIFF_IMAGE_REF_H

#include <stddef.h>

/* Splits a normalised "repo:tag" / "repo@digest" / "repo:tag@digest" into
 * repo and tag (tag "" when only a digest). */
void skiff_ref_split(const char *ref, char *repo, size_t repolen, char *tag, size_t taglen);
/* "busybox:latest" -> "docker.io/library/busybox:latest" (containerd's
 * io.containerd.image.name form); other domains kept. */
void skiff_ref_fully_qualified(const char *ref, char *out, size_t outlen);

#endif
