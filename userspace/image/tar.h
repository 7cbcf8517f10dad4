/* Streaming tar (ustar, GNU long names, PAX path/linkpath/size/xattrs)
 * reader and writer, gzip autodetected on read, and an extractor that
 * cannot write outside its target directory (every path walk goes through
 * openat2 RESOLVE_BENEATH) and optionally turns OCI whiteouts into overlayfs
 * ones. Nothing here holds a whole archive in memory. */
#ifndef SKIFF_IMAGE_TAR_H
#define SKIFF_IMAGE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../lib/digest.h"
#include "../lib/error.h"

enum skiff_tar_type {
	SKIFF_TAR_REG = '0',
	SKIFF_TAR_LINK = '1',
	SKIFF_TAR_SYMLINK = '2',
	SKIFF_TAR_CHR = '3',
	SKIFF_TAR_BLK = '4',
	SKIFF_TAR_DIR = '5',
	SKIFF_TAR_FIFO = '6',
};

struct skiff_tar_xattr {
	char *name;
	char *value;
	size_t len;
};

struct skiff_tar_entry {
	char *path;     /* as named in the archive (PAX/GNU long names applied) */
	char *linkname; /* symlink target or hardlink source; "" otherwise */
	char type;      /* enum skiff_tar_type */
	mode_t mode;    /* permission bits (07777) */
	uid_t uid;
	gid_t gid;
	int64_t size;
	struct timespec mtime;
	unsigned int devmajor, devminor;
	struct skiff_tar_xattr *xattrs;
	size_t nxattrs;
};

struct skiff_tar_reader;

/* Reads fd from its current offset with read(2); the fd stays the caller's. */
int skiff_tar_reader_new(int fd, struct skiff_tar_reader **out);
/* Reads the byte range [off, off+len) of a seekable fd with pread(2): the
 * nested layer tars of an image archive. */
int skiff_tar_reader_new_range(int fd, off_t off, off_t len, struct skiff_tar_reader **out);
/* Every uncompressed byte read is also written to tee_fd (the layer blob). */
void skiff_tar_reader_set_tee(struct skiff_tar_reader *r, int tee_fd);
void skiff_tar_reader_free(struct skiff_tar_reader *r);
bool skiff_tar_reader_gzipped(struct skiff_tar_reader *r);
/* 1 and *e (valid until the next call) for an entry, 0 at the end of the
 * archive, -errno on a malformed or truncated archive. */
int skiff_tar_next(struct skiff_tar_reader *r, const struct skiff_tar_entry **e);
/* Data of the current entry: bytes read, 0 at its end, -errno. */
ssize_t skiff_tar_read(struct skiff_tar_reader *r, void *buf, size_t len);
/* Offset of the current entry's data in the uncompressed stream. */
off_t skiff_tar_data_offset(struct skiff_tar_reader *r);
/* Reads the stream to its end and gives the sha256 of every uncompressed
 * byte (the layer's diffID). */
int skiff_tar_reader_finish(struct skiff_tar_reader *r, char diffid[SKIFF_DIGEST_LEN]);

struct skiff_tar_writer;

int skiff_tar_writer_new(int fd, struct skiff_tar_writer **out);
/* Writes the end-of-archive blocks and flushes; frees w. Pass NULL-safe. */
int skiff_tar_writer_finish(struct skiff_tar_writer *w);
void skiff_tar_writer_free(struct skiff_tar_writer *w);
/* Header for e (PAX records when a name, link or size does not fit ustar,
 * and for xattrs); then exactly e->size bytes through skiff_tar_write_data
 * for regular files. */
int skiff_tar_write_header(struct skiff_tar_writer *w, const struct skiff_tar_entry *e);
int skiff_tar_write_data(struct skiff_tar_writer *w, const void *data, size_t len);
/* Convenience: a regular file from memory or from (the rest of) an fd. */
int skiff_tar_write_buffer(struct skiff_tar_writer *w, const char *path, const void *data, size_t len,
			   mode_t mode, time_t mtime);
int skiff_tar_write_fd(struct skiff_tar_writer *w, const char *path, int fd, int64_t size, mode_t mode,
		       time_t mtime);
/* Archives the tree under dirfd (sorted, hardlinks detected, xattrs kept)
 * with names prefixed by prefix ("" or "./" or "dir/"). */
int skiff_tar_write_tree(struct skiff_tar_writer *w, int dirfd, const char *prefix, struct skiff_error *err);

enum skiff_tar_extract_flags {
	SKIFF_TAR_X_WHITEOUTS = 1, /* .wh.NAME -> 0/0 char device, .wh..wh..opq -> trusted.overlay.opaque */
	SKIFF_TAR_X_NO_CHOWN = 2,  /* keep the extracting user's ownership */
};

/* Extracts the archive into the directory destfd. Fails cleanly (and writes
 * nothing outside destfd) on entries that would escape it. *size (may be
 * NULL) gets the sum of regular file sizes. The reader is left after the
 * last entry; call skiff_tar_reader_finish for the diffID. */
int skiff_tar_extract(struct skiff_tar_reader *r, int destfd, unsigned int flags, int64_t *size,
		      struct skiff_error *err);

/* Lexically cleans an archive path relative to a root: leading "/" and "."
 * components dropped, ".." resolved; -EXDEV when it climbs above the root.
 * "" is the root itself. */
int skiff_tar_clean_path(const char *in, char *out, size_t outlen);

#endif
