/* Wire format between skiffd and skiff-monitor: one SOCK_SEQPACKET message
 * per request, reply, event or output chunk; fds travel with SCM_RIGHTS.
 * Shared by monitor.c (server) and monitor-client.c (skiffd side). */
#ifndef SKIFF_MONITOR_PROTO_H
#define SKIFF_MONITOR_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* Attach connections carry packets "[1 byte type][payload]" after the
 * {"op":"attach"} request: */
enum skiff_mproto_type {
	SKIFF_MPROTO_STDIN = 0,  /* process exists: stdin fd attached (or no fd: no stdin) */
	SKIFF_MPROTO_STDOUT = 1, /* payload: output bytes */
	SKIFF_MPROTO_STDERR = 2,
	SKIFF_MPROTO_END = 3,    /* process exited, output drained; connection closes next */
	SKIFF_MPROTO_ACK = 4,    /* subscription registered (first packet of an attach) */
};

/* Largest output chunk the monitor sends in one packet. */
#define SKIFF_MPROTO_CHUNK 32768
/* Largest JSON message (a spawn spec with a seccomp profile is ~30 KiB). */
#define SKIFF_MPROTO_MAX_MSG (1024 * 1024)

/* Sends one packet, with passfd (>= 0) as SCM_RIGHTS. flags: MSG_DONTWAIT...
 * Returns 0 or -errno (-EAGAIN when the peer is slow and flags say so). */
int skiff_mproto_send(int fd, const void *buf, size_t len, int passfd, int flags);
/* Sends a typed attach packet: [type][data]. */
int skiff_mproto_send_typed(int fd, int type, const void *data, size_t len, int passfd, int flags);
/* Receives one packet into a malloc'd buffer sized to fit (*out, *len,
 * NUL-terminated for convenience). *passfd gets a received fd or -1 (may be
 * NULL: received fds are closed). Returns 0, -ECONNRESET on EOF, or -errno. */
int skiff_mproto_recv(int fd, char **out, size_t *len, int *passfd, int flags);
/* Like recv into a caller buffer (output chunks): returns the length. */
ssize_t skiff_mproto_recv_buf(int fd, void *buf, size_t cap, int *passfd, int flags);

int skiff_mproto_send_json(int fd, const json_t *j, int passfd, int flags);
/* Receives and parses one JSON message: -EBADMSG if it is not a JSON object. */
int skiff_mproto_recv_json(int fd, json_t **out, int *passfd, int flags);

/* Exit code Docker reports for a failed start: 127 command not found, 126
 * not executable, 128 anything else (status/errnum from the spawn error). */
int skiff_mproto_spawn_exit_code(int status, int errnum);

/* Connects a SOCK_SEQPACKET|SOCK_CLOEXEC socket to path. Returns fd or -errno. */
int skiff_mproto_connect(const char *path);

#endif
