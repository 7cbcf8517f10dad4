/* File and path helpers: atomic metadata writes, recursive mkdir/rm, small
 * file reads. All return 0 or a negative errno. */
#ifndef SKIFF_FS_H
#define SKIFF_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* write(2) until done, retrying EINTR and short writes. */
int skiff_write_all(int fd, const void *data, size_t len);
/* Write data to path atomically: temp file in the same dir, fsync, rename,
 * fsync of the dir. A crash leaves the old or the new file, never a torn one. */
int skiff_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Like skiff_write_atomic without the fsyncs: readers see the old or the new
 * file, but a power loss may leave neither. For derived files that are
 * regenerated on every start (a container's hostname, hosts, resolv.conf),
 * where two fsyncs would cost ~0.6 ms of every start. */
int skiff_write_replace(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p with mode for every created component. */
int skiff_mkdir_p(const char *path, mode_t mode);
/* rm -rf that does not cross mount points and does not follow symlinks. */
int skiff_rm_rf(const char *path);
/* Read a whole (small) file, NUL-terminated; *len may be NULL. */
int skiff_read_file(const char *path, char **out, size_t *len);
/* Write a string to an existing file (cgroup knobs, /proc files). */
int skiff_write_file(const char *path, const char *s);
/* Go's filepath.Clean of a path, made relative ("a/../b/./c" -> "b/c",
 * "" for the root). A ".." above the start is -EXDEV, or dropped when
 * clamp_at_root (an absolute path: ".." of "/" is "/"). */
int skiff_path_clean(const char *in, char *out, size_t outlen, bool clamp_at_root);
/* Join with a slash; returns malloc'd string or NULL on ENOMEM. */
char *skiff_path_join(const char *a, const char *b);
/* openat2(rootfd, path, flags|O_CLOEXEC) with RESOLVE_IN_ROOT: path (leading
 * "/" allowed, "" or "/" = the root itself) is resolved as if rootfd were
 * "/", so symlinks in an image never lead outside it. fd or -errno. Safe in
 * a vfork-style child (no allocation). */
int skiff_openat_in_root(int rootfd, const char *path, int flags);

#endif
