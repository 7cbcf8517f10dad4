/* Message framing for the monitor socket: SEQPACKET keeps message
 * boundaries, so a message is exactly one sendmsg/recvmsg; the only work is
 * sizing the receive buffer and moving fds with SCM_RIGHTS. */
#include "monitor-proto.h"
#include "../lib/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int skiff_mproto_send(int fd, const void *buf, size_t len, int passfd, int flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (passfd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.b;
		msg.msg_controllen = sizeof(cbuf.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int skiff_mproto_send_typed(int fd, int type, const void *data, size_t len, int passfd, int flags)
{
	char stackbuf[1 + 4096];
	_cleanup_free_ char *heap = NULL;
	char *p = stackbuf;

	if (len + 1 > sizeof(stackbuf)) {
		heap = malloc(len + 1);
		if (!heap)
			return -ENOMEM;
		p = heap;
	}
	p[0] = (char)type;
	if (len)
		memcpy(p + 1, data, len);
	return skiff_mproto_send(fd, p, len + 1, passfd, flags);
}

static void take_fds(struct msghdr *msg, int *passfd)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			/* keep the first, close extras a confused peer might send */
			if (passfd && *passfd < 0)
				*passfd = f;
			else
				close(f);
		}
	}
}

ssize_t skiff_mproto_recv_buf(int fd, void *buf, size_t cap, int *passfd, int flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
			      .msg_controllen = sizeof(cbuf.b) };
	ssize_t n;

	if (passfd)
		*passfd = -1;
	do
		n = recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	take_fds(&msg, passfd);
	if (n == 0 && !(msg.msg_flags & MSG_TRUNC))
		return -ECONNRESET; /* SEQPACKET: a zero read is EOF (we never send empty packets) */
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return n;
}

int skiff_mproto_recv(int fd, char **out, size_t *len, int *passfd, int flags)
{
	_cleanup_free_ char *buf = NULL;
	ssize_t n;
	char one;

	/* MSG_PEEK|MSG_TRUNC reports the real packet size without consuming it */
	do
		n = recv(fd, &one, 1, MSG_PEEK | MSG_TRUNC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	if (n > SKIFF_MPROTO_MAX_MSG) {
		/* consume it (truncated) so a level-triggered reader moves on */
		int dropped = -1;
		skiff_mproto_recv_buf(fd, &one, 1, &dropped, flags);
		if (dropped >= 0)
			close(dropped);
		return -EMSGSIZE;
	}
	buf = malloc((size_t)n + 1);
	if (!buf)
		return -ENOMEM;
	n = skiff_mproto_recv_buf(fd, buf, (size_t)n, passfd, flags);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	*out = TAKE_PTR(buf);
	return 0;
}

int skiff_mproto_send_json(int fd, const json_t *j, int passfd, int flags)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	return skiff_mproto_send(fd, s, strlen(s), passfd, flags);
}

int skiff_mproto_recv_json(int fd, json_t **out, int *passfd, int flags)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	json_t *j;
	int r = skiff_mproto_recv(fd, &buf, &len, passfd, flags);
	if (r < 0)
		return r;
	j = json_loadb(buf, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		if (passfd && *passfd >= 0) {
			close(*passfd);
			*passfd = -1;
		}
		return -EBADMSG;
	}
	*out = j;
	return 0;
}

int skiff_mproto_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int skiff_mproto_spawn_exit_code(int status, int errnum)
{
	static const int not_executable[] = { EACCES, EPERM, ENOEXEC, EISDIR };
	if (status != 400)
		return 128;
	for (size_t i = 0; i < ARRAY_SIZE(not_executable); i++)
		if (errnum == not_executable[i])
			return 126;
	return 127;
}
