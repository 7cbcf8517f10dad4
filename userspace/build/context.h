/* The build context as the builder needs it: the client's tar extracted
 * safely into a private temp dir with .dockerignore applied, the
 * Dockerfile read, and COPY/ADD's source resolution, cache checksum and
 * copy into a rootfs (also for COPY --from, whose source root is another
 * stage's or image's rootfs). */
#ifndef SKIFF_BUILD_CONTEXT_H
#define SKIFF_BUILD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/digest.h"
#include "../lib/error.h"
#include "dockerfile.h"

struct skiff_build_context {
	char *dir;              /* the extracted context, ignored files already deleted */
	int dirfd;              /* O_DIRECTORY fd of dir: the source root for COPY/ADD */
	char *dockerfile;       /* the Dockerfile's text, NUL-terminated (kept even when .dockerignore lists it) */
	size_t dockerfile_len;
	char *dockerfile_path;  /* cleaned, relative to the context: "Dockerfile", "sub/Dockerfile.dev" */
	struct skiff_ignore *ignore; /* the parsed .dockerignore, NULL when there is none */
	int64_t size;           /* bytes of regular files in the tar */
};

/* Extracts the tar (plain or gzip) read from tar_fd into a fresh temp dir
 * "<tmp_parent>/ctx-XXXXXX" (tmp_parent must exist) with tar.h's safe
 * extraction. max_bytes > 0 limits both the bytes read from tar_fd and the
 * extracted size: 400 "build context is larger than the limit of N MiB".
 * dockerfile_path (NULL or "": "Dockerfile", falling back to "dockerfile"
 * like Docker) is read: 400 "Cannot locate specified Dockerfile: X".
 * .dockerignore (or "<dockerfile_path>.dockerignore", which wins, as in
 * BuildKit) is applied by deleting what it excludes. On failure nothing is
 * left behind. */
int skiff_build_context_open(int tar_fd, int64_t max_bytes, const char *tmp_parent, const char *dockerfile_path,
			     struct skiff_build_context **out, struct skiff_error *err);
/* Closes and removes the temp dir. NULL-safe. */
void skiff_build_context_free(struct skiff_build_context *ctx);

/* One resolved COPY/ADD source. */
struct skiff_build_src {
	char *path;  /* relative to the source root with the top-level symlinks resolved ("" = the root) */
	char *name;  /* the name it gets at a directory dest: the base name of what matched */
	bool dir;    /* a directory: its CONTENTS are copied */
	bool archive; /* (ADD only) a local tar/tar.gz that is extracted into dest */
};

struct skiff_build_srcs {
	struct skiff_build_src *v;
	size_t n;
};

void skiff_build_srcs_free(struct skiff_build_srcs *s);

enum skiff_build_resolve_flags {
	/* the source root is a rootfs (COPY --from): symlinks resolve as in a
	 * chroot (RESOLVE_IN_ROOT). Without it (the context), a source or a
	 * symlink that leads outside the root is a 400. */
	SKIFF_BUILD_SRC_ROOTFS = 1,
	SKIFF_BUILD_SRC_WILDCARDS = 2, /* `*`, `?`, `[...]` are globs (filepath.Match, one component each) */
	SKIFF_BUILD_SRC_ADD = 4,       /* ADD: local archives are marked, URLs are a clear 400 */
};

/* Expands srcs (as written after expansion of variables, e.g. "app/x*.py",
 * "./", "/abs" which means the root of the source) to existing entries of
 * the tree under rootfd, in order, globs sorted. instr ("COPY" / "ADD")
 * names the step in errors:
 *   400 "forbidden path outside the build context: ../x ()"
 *   400 "COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist"
 *   400 "COPY failed: no source files were specified" (a glob that matched nothing)
 *   400 "ADD from a URL is not supported: the host has no route to fetch http://..." */
int skiff_build_context_resolve(int rootfd, const char *const *srcs, unsigned int flags, const char *instr,
			struct skiff_build_srcs *out, struct skiff_error *err);

/* sha256 ("sha256:<hex>") for the build cache key over what COPY would
 * write: per source its dest name, then each entry below it (sorted walk):
 * relative path, type, permission bits after chmod (-1: as is), uid/gid as
 * COPY sets them, file size and content, symlink target, device numbers.
 * Mtimes, inode numbers and hardlink identity are NOT included, so the sum is
 * stable across re-extraction of the same context. flags as for resolve. */
int skiff_build_context_checksum(int rootfd, const struct skiff_build_srcs *srcs, unsigned int flags, int uid, int gid,
			 int chmod, char out[SKIFF_DIGEST_LEN], struct skiff_error *err);

/* Copies the sources into the rootfs at dest_root (a directory, e.g. the
 * step's overlay upper/merged dir) at dest, an absolute path inside it
 * (WORKDIR already applied by the caller; a trailing "/" kept). Docker's
 * rules: dest is a directory when it ends in "/", there are several
 * sources, or it already exists as a directory; a directory source copies
 * its contents; missing parents are created 0755 (owned by uid/gid when
 * chown is set, else root); files keep their mode unless chmod >= 0 (then
 * files and copied directories get chmod); everything copied gets uid/gid
 * (pass 0/0 without --chown); symlinks are copied as symlinks, hardlinks
 * become copies, mtimes are kept. Every write is made through fds opened
 * with openat2 RESOLVE_IN_ROOT below dest_root, so a symlink in the rootfs
 * cannot redirect the copy outside it. Archive sources (ADD) are extracted
 * into dest (a directory). flags as for resolve (ROOTFS for --from). */
int skiff_build_context_copy(int rootfd, const struct skiff_build_srcs *srcs, unsigned int flags, const char *dest_root,
		     const char *dest, int uid, int gid, int chmod, struct skiff_error *err);

/* Writes data as a file at dest (COPY <<EOF /dest, a heredoc source named
 * name): same dest rules and safety as skiff_build_context_copy, mode 0644 unless
 * chmod >= 0. */
int skiff_build_context_copy_data(const char *dest_root, const char *dest, const char *name, const void *data, size_t len,
			  int uid, int gid, int chmod, struct skiff_error *err);

#endif
