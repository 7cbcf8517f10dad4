/* What the tar reader (tar.c), writer (tar-write.c) and tree archiver
 * (tar-tree.c) share: the block and buffer sizes and the entry xattr list.
 * Not a public surface; tar.h is the contract. */
#ifndef SKIFF_IMAGE_TAR_INTERNAL_H
#define SKIFF_IMAGE_TAR_INTERNAL_H

#include <stddef.h>

#include "tar.h"

#define TAR_BLOCK 512
#define TAR_IOBUF (128 * 1024)

/* Appends a copy of name and of the len bytes at val (NUL-terminated for
 * convenience) to e's xattrs; -ENOMEM leaves e as it was. */
int tar_entry_add_xattr(struct skiff_tar_entry *e, const char *name, const char *val, size_t len);

#endif
