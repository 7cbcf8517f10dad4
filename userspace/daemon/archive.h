/* docker cp, engine side: stat, archive and extract paths inside a
 * container's root, running or stopped, without ever resolving outside it.
 * The work runs in a forked child (chrooted into the container's root, and
 * for a stopped container in a private mount namespace with the overlay
 * mounted) that reports through a pipe; api/archive.c drives it from the
 * event loop. */
#ifndef SKIFF_DAEMON_ARCHIVE_H
#define SKIFF_DAEMON_ARCHIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "daemon.h"

struct skiff_ctr;

enum skiff_archive_op {
	SKIFF_ARCHIVE_STAT, /* HEAD: the path-stat record only */
	SKIFF_ARCHIVE_GET,  /* the path-stat record, then the tar stream */
	SKIFF_ARCHIVE_PUT,  /* extract body_fd into path; one result record */
};

struct skiff_archive_req {
	int op;              /* enum skiff_archive_op */
	const char *path;    /* as the client gave it */
	const char *name;    /* the container as the client named it (messages) */
	int body_fd;         /* PUT: the spooled tar (offset 0); -1 otherwise */
	bool no_overwrite_dir_non_dir;
	bool copy_uid_gid;
};

/* Forks the worker for container c. *rfd (O_NONBLOCK, O_CLOEXEC) carries
 * one record (skiff_archive_record_parse) and, for GET with status 0, the
 * tar until EOF. *pid is the caller's to reap. Errors before the fork
 * (bad path, image gone) fill err and return <0. */
int skiff_archive_spawn(struct skiff_daemon *d, const struct skiff_ctr *c, const struct skiff_archive_req *ar,
			pid_t *pid, int *rfd, struct skiff_error *err);

/* The record at the head of the pipe: 8 bytes (status as HTTP code, 0 for
 * success; payload length, both little-endian uint32) then the payload:
 * the path-stat JSON on success, the error message otherwise. Returns the
 * record's total size when buf holds all of it, 0 when more bytes are
 * needed, -EBADMSG on garbage. */
#define SKIFF_ARCHIVE_RECORD_HDR 8
#define SKIFF_ARCHIVE_RECORD_MAX 16384
ssize_t skiff_archive_record_parse(const void *buf, size_t len, int *status, const char **payload,
				   size_t *payload_len);

/* Go's os.FileMode of a st_mode: type bits (dir 1<<31, symlink 1<<27,
 * device 1<<26, pipe 1<<25, socket 1<<24, char device 1<<21 with 1<<26),
 * setuid 1<<23, setgid 1<<22, sticky 1<<20, plus the permission bits. */
uint32_t skiff_archive_go_mode(mode_t mode);
/* {"name","size","mode","mtime","linkTarget"} as Docker's ContainerPathStat. */
json_t *skiff_archive_stat_json(const char *name, const struct stat *st, const char *link_target);
/* Standard base64 (with padding) of len bytes; malloc'd. */
char *skiff_base64_encode(const void *data, size_t len);

/* Docker's path split for a container path: the absolute path (leading "/"
 * added, cleaned, a trailing "/" or "/." kept), its dir part (resolved with
 * symlinks followed) and its last element ("" after a trailing slash, "."
 * for "/."), and the name entries of an archive take (Go's filepath.Base
 * of the absolute path: "/" for the root). Returns -ENAMETOOLONG or 0. */
struct skiff_archive_path {
	char abs[4096];
	char dir[4096];
	char base[256];
	char name[256];
};
int skiff_archive_path_split(const char *path, struct skiff_archive_path *out);

#endif
