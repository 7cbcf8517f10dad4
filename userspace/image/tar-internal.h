/* What the tar reader (tar.c), writer (tar-write.c), tree archiver
 * (tar-tree.c) and image commit (commit.c) share: the block and buffer
 * sizes, the entry xattr list and the tree walk's flags.
 * Not a public surface; tar.h is the contract. */
#ifndef SKIFF_IMAGE_TAR_INTERNAL_H
#define SKIFF_IMAGE_TAR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tar.h"

#define TAR_BLOCK 512
#define TAR_IOBUF (128 * 1024)

/* Appends a copy of name and of the len bytes at val (NUL-terminated for
 * convenience) to e's xattrs; -ENOMEM leaves e as it was. */
int tar_entry_add_xattr(struct skiff_tar_entry *e, const char *name, const char *val, size_t len);

/* skiff_tar_write_tree with flags. TAR_TREE_OVERLAY_UPPER: dir is a build
 * step's overlay upper dir: 0/0 character devices become .wh.NAME entries,
 * an opaque dir adds a .wh..wh..opq entry, and overlay's copy-up xattrs are
 * removed from the files as they are read (the dir becomes a lower layer).
 * *size (may be NULL) gets the sum of the regular file sizes archived. */
#define TAR_TREE_OVERLAY_UPPER 1u
int tar_write_tree_flags(struct skiff_tar_writer *w, int dirfd, const char *prefix, unsigned int flags,
			 int64_t *size, struct skiff_error *err);

#endif
