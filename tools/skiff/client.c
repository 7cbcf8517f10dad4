/* A small blocking HTTP/1.1 client for the Docker Engine API over a unix
 * socket (or plain tcp://): JSON or streamed (chunked) request bodies,
 * identity/chunked/streamed responses, hijacked attach with the 8-byte
 * multiplexed stream. The CLI does one thing at a time, so blocking is fine. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= w;
	}
	return 0;
}

static int connect_host(struct cli *cli)
{
	const char *h = cli->host;
	if (!strncmp(h, "unix://", 7)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		const char *path = h + 7;
		if (strlen(path) >= sizeof(sa.sun_path))
			return skiff_error_set(&cli->err, 400, ENAMETOOLONG, "socket path too long: %s", path);
		strcpy(sa.sun_path, path);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = errno;
			close(fd);
			if (e == EACCES)
				return skiff_error_set(&cli->err, 500, e,
						       "permission denied while trying to connect to the skiff daemon socket at %s",
						       h);
			return skiff_error_set(&cli->err, 500, e,
					       "Cannot connect to the skiff daemon at %s. Is the skiff daemon running?", h);
		}
		return fd;
	}
	if (!strncmp(h, "tcp://", 6) || !strncmp(h, "http://", 7)) {
		char hostbuf[256];
		snprintf(hostbuf, sizeof(hostbuf), "%s", strstr(h, "://") + 3);
		char *slash = strchr(hostbuf, '/');
		if (slash)
			*slash = 0;
		char *colon = strrchr(hostbuf, ':');
		const char *port = "2375";
		if (colon) {
			*colon = 0;
			port = colon + 1;
		}
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
		if (getaddrinfo(hostbuf, port, &hints, &ai))
			return skiff_error_set(&cli->err, 400, EINVAL, "cannot resolve %s", h);
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			freeaddrinfo(ai);
			return skiff_error_set(&cli->err, 500, e,
					       "Cannot connect to the skiff daemon at %s. Is the skiff daemon running?", h);
		}
		freeaddrinfo(ai);
		return fd;
	}
	return skiff_error_set(&cli->err, 400, EINVAL, "unable to parse docker host `%s`", h);
}

char *cli_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = *s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-_.~", c)) {
			*o++ = c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = 0;
	return out;
}

static int send_chunked_fd(int sock, int fd, int64_t *sent)
{
	static char buf[65536];
	char hdr[32];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		if (sent)
			*sent += n;
		int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", (size_t)n);
		int r = write_all(sock, hdr, hl);
		if (!r)
			r = write_all(sock, buf, n);
		if (!r)
			r = write_all(sock, "\r\n", 2);
		if (r < 0)
			return r;
	}
	return write_all(sock, "0\r\n\r\n", 5);
}

/* Fill the buffer when empty. Returns bytes available, 0 at EOF, -errno. */
static ssize_t fill(struct cli_resp *r)
{
	if (r->off < r->len)
		return r->len - r->off;
	for (;;) {
		ssize_t n = read(r->fd, r->buf, sizeof(r->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		r->off = 0;
		r->len = n;
		return n;
	}
}

static ssize_t raw_read(struct cli_resp *r, void *dst, size_t n)
{
	ssize_t avail = fill(r);
	if (avail <= 0)
		return avail;
	if ((size_t)avail < n)
		n = avail;
	memcpy(dst, r->buf + r->off, n);
	r->off += n;
	return n;
}

static int raw_line(struct cli_resp *r, char *line, size_t cap)
{
	size_t l = 0;
	for (;;) {
		ssize_t a = fill(r);
		if (a <= 0)
			return a < 0 ? (int)a : -EPROTO;
		char c = r->buf[r->off++];
		if (c == '\n') {
			if (l && line[l - 1] == '\r')
				l--;
			line[l] = 0;
			return (int)l;
		}
		if (l + 1 < cap)
			line[l++] = c;
	}
}

static int read_headers(struct cli *cli, struct cli_resp *r, bool head)
{
	char line[8192 + 64];
	int l = raw_line(r, line, sizeof(line));
	if (l < 0 || strncmp(line, "HTTP/1.", 7) || strlen(line) < 12)
		return skiff_error_set(&cli->err, 500, EPROTO, "malformed HTTP response from daemon");
	r->status = atoi(line + 9);
	r->remaining = -1;
	while ((l = raw_line(r, line, sizeof(line))) > 0) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		if (!strcasecmp(line, "Content-Length"))
			r->remaining = strtoll(v, NULL, 10);
		else if (!strcasecmp(line, "Transfer-Encoding") && strcasestr(v, "chunked"))
			r->chunked = true;
		else if (!strcasecmp(line, "Content-Type"))
			snprintf(r->content_type, sizeof(r->content_type), "%s", v);
		else if (!strcasecmp(line, "Api-Version"))
			snprintf(r->api_version, sizeof(r->api_version), "%s", v);
		else if (!strcasecmp(line, "X-Docker-Container-Path-Stat"))
			snprintf(r->path_stat, sizeof(r->path_stat), "%s", v);
	}
	if (l < 0)
		return skiff_error_set(&cli->err, 500, EPROTO, "truncated HTTP response from daemon");
	if (r->status == 101) {
		r->chunked = false;
		r->remaining = -1;
	} else if (head || r->status == 204 || r->status == 304) {
		r->chunked = false;
		r->remaining = 0;
	}
	if (r->chunked)
		r->remaining = -1;
	return 0;
}

int cli_http_send(struct cli *cli, const char *method, const char *path, const struct cli_body *body,
		  struct cli_resp *resp)
{
	memset(resp, 0, offsetof(struct cli_resp, buf));
	resp->off = resp->len = 0;
	resp->fd = -1;
	int fd = connect_host(cli);
	if (fd < 0)
		return fd;
	resp->fd = fd;

	char hdr[4096];
	const char *prefix = path[0] == '/' && path[1] == '_' ? "" : "/v" SKIFF_CLI_API;
	int n = snprintf(hdr, sizeof(hdr), "%s %s%s HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: skiff/%s\r\n",
			 method, prefix, path, SKIFF_CLI_VERSION);
	if (body && body->content_type)
		n += snprintf(hdr + n, sizeof(hdr) - n, "Content-Type: %s\r\n", body->content_type);
	if (body && body->extra_headers)
		n += snprintf(hdr + n, sizeof(hdr) - n, "%s", body->extra_headers);
	if (body && body->upgrade)
		n += snprintf(hdr + n, sizeof(hdr) - n, "Connection: Upgrade\r\nUpgrade: tcp\r\n");
	if (body && body->fd >= 0)
		n += snprintf(hdr + n, sizeof(hdr) - n, "Transfer-Encoding: chunked\r\n");
	else if (body && body->data)
		n += snprintf(hdr + n, sizeof(hdr) - n, "Content-Length: %zu\r\n", body->len);
	else if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		n += snprintf(hdr + n, sizeof(hdr) - n, "Content-Length: 0\r\n");
	n += snprintf(hdr + n, sizeof(hdr) - n, "\r\n");
	if (cli->debug)
		fprintf(stderr, "DEBU[0000] %s %s%s\n", method, prefix, path);

	int r = write_all(fd, hdr, n);
	if (!r && body && body->fd >= 0)
		r = send_chunked_fd(fd, body->fd, body->sent);
	else if (!r && body && body->data)
		r = write_all(fd, body->data, body->len);
	/* EPIPE: the daemon answered early (an error); read that answer */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		return skiff_error_sys(&cli->err, 500, -r, "sending request to the daemon");
	return 0;
}

int cli_http_recv(struct cli *cli, struct cli_resp *resp, bool head)
{
	return read_headers(cli, resp, head);
}

int cli_http(struct cli *cli, const char *method, const char *path, const struct cli_body *body,
	     struct cli_resp *resp)
{
	int r = cli_http_send(cli, method, path, body, resp);
	if (r < 0)
		return r;
	return cli_http_recv(cli, resp, !strcmp(method, "HEAD"));
}

ssize_t cli_resp_read(struct cli_resp *r, void *buf, size_t n)
{
	if (r->eof || n == 0)
		return 0;
	if (!r->chunked) {
		if (r->remaining == 0) {
			r->eof = true;
			return 0;
		}
		if (r->remaining > 0 && (int64_t)n > r->remaining)
			n = r->remaining;
		ssize_t got = raw_read(r, buf, n);
		if (got <= 0)
			r->eof = true;
		else if (r->remaining > 0)
			r->remaining -= got;
		return got;
	}
	while (r->chunk_left == 0) {
		char line[64];
		int l = raw_line(r, line, sizeof(line));
		if (l < 0) {
			r->eof = true;
			return 0;
		}
		if (l == 0)
			continue; /* CRLF after the previous chunk */
		r->chunk_left = strtoll(line, NULL, 16);
		if (r->chunk_left == 0) {
			raw_line(r, line, sizeof(line));
			r->eof = true;
			return 0;
		}
	}
	if ((int64_t)n > r->chunk_left)
		n = r->chunk_left;
	ssize_t got = raw_read(r, buf, n);
	if (got <= 0) {
		r->eof = true;
		return got;
	}
	r->chunk_left -= got;
	return got;
}

int cli_resp_read_all(struct cli_resp *r, char **out, size_t *len)
{
	size_t cap = 4096, l = 0;
	char *b = malloc(cap);
	if (!b)
		return -ENOMEM;
	for (;;) {
		if (cap - l < 4096) {
			char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		ssize_t n = cli_resp_read(r, b + l, cap - l - 1);
		if (n < 0) {
			free(b);
			return (int)n;
		}
		if (n == 0)
			break;
		l += n;
	}
	b[l] = 0;
	*out = b;
	if (len)
		*len = l;
	return 0;
}

ssize_t cli_resp_getline(struct cli_resp *r, char **line, size_t *cap)
{
	size_t l = 0;
	for (;;) {
		char c;
		ssize_t n = cli_resp_read(r, &c, 1);
		if (n <= 0)
			return l ? (ssize_t)l : -1;
		if (l + 2 > *cap) {
			size_t nc = *cap ? *cap * 2 : 256;
			char *nl = realloc(*line, nc);
			if (!nl)
				return -1;
			*line = nl;
			*cap = nc;
		}
		if (c == '\n') {
			(*line)[l] = 0;
			return l;
		}
		(*line)[l++] = c;
		(*line)[l] = 0;
	}
}

void cli_resp_close(struct cli_resp *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* Error bodies are {"message": "..."}; fall back to the raw text. */
static void set_api_error(struct cli *cli, int status, const char *body)
{
	json_error_t je;
	json_t *j = body ? json_loads(body, 0, &je) : NULL;
	const char *msg = j ? skiff_json_str(j, "message", NULL) : NULL;
	if (msg)
		skiff_error_set(&cli->err, status, EIO, "%s", msg);
	else if (body && *body)
		skiff_error_set(&cli->err, status, EIO, "%.*s", (int)strcspn(body, "\n"), body);
	else
		skiff_error_set(&cli->err, status, EIO, "request returned %d with no message", status);
	json_decref(j);
}

int cli_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out)
{
	struct cli_body b = { .fd = -1 };
	_cleanup_free_ char *data = NULL;
	if (body) {
		data = json_dumps(body, JSON_COMPACT);
		if (!data)
			return -ENOMEM;
		b.content_type = "application/json";
		b.data = data;
		b.len = strlen(data);
	}
	struct cli_resp *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	int ret = cli_http(cli, method, path, &b, r);
	if (ret < 0) {
		cli_resp_close(r);
		free(r);
		return ret;
	}
	_cleanup_free_ char *text = NULL;
	ret = cli_resp_read_all(r, &text, NULL);
	int status = r->status;
	cli_resp_close(r);
	free(r);
	if (ret < 0)
		return skiff_error_sys(&cli->err, 500, -ret, "reading the daemon's answer");
	if (status >= 400) {
		set_api_error(cli, status, text);
		return -EIO;
	}
	if (out) {
		*out = NULL;
		if (text && *text) {
			json_error_t je;
			*out = json_loads(text, JSON_DECODE_ANY, &je);
			if (!*out)
				return skiff_error_set(&cli->err, 500, EPROTO, "invalid JSON from daemon: %s",
						       je.text);
		}
	}
	return 0;
}

int cli_resp_error(struct cli *cli, struct cli_resp *r)
{
	_cleanup_free_ char *text = NULL;
	cli_resp_read_all(r, &text, NULL);
	set_api_error(cli, r->status, text);
	return -EIO;
}

/* Demultiplexer state for the 8-byte framed stream: [type 0 0 0 size32be]. */
struct demux {
	bool mux;
	unsigned char hdr[8];
	size_t have;
	uint32_t left;
	int out;
};

static void demux_feed(struct demux *d, const char *p, size_t n)
{
	if (!d->mux) {
		write_all(STDOUT_FILENO, p, n);
		return;
	}
	while (n) {
		if (d->left == 0) {
			size_t take = 8 - d->have < n ? 8 - d->have : n;
			memcpy(d->hdr + d->have, p, take);
			d->have += take;
			p += take;
			n -= take;
			if (d->have < 8)
				return;
			d->have = 0;
			d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 | (uint32_t)d->hdr[6] << 8 |
				  d->hdr[7];
			d->out = d->hdr[0] == 2 ? STDERR_FILENO : STDOUT_FILENO;
			continue;
		}
		size_t take = d->left < n ? d->left : n;
		write_all(d->out, p, take);
		d->left -= take;
		p += take;
		n -= take;
	}
}

int cli_copy_stream(struct cli_resp *r, bool multiplexed)
{
	struct demux d = { .mux = multiplexed };
	char buf[32768];
	for (;;) {
		ssize_t n = cli_resp_read(r, buf, sizeof(buf));
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		demux_feed(&d, buf, n);
	}
}

int cli_hijack_io(struct cli_resp *r, int in_fd, bool multiplexed, void (*winch)(void *), void *arg)
{
	struct demux d = { .mux = multiplexed };
	char buf[32768];

	/* bytes that arrived with the 101 headers belong to the stream */
	if (r->off < r->len) {
		demux_feed(&d, r->buf + r->off, r->len - r->off);
		r->off = r->len;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd p[2] = { { .fd = r->fd, .events = POLLIN }, { .fd = in_fd, .events = POLLIN } };
		int np = in_fd >= 0 ? 2 : 1;
		int pr = poll(p, np, -1);
		if (pr < 0) {
			if (errno == EINTR) {
				if (cli_winch_pending && winch) {
					cli_winch_pending = 0;
					winch(arg);
				}
				continue;
			}
			return -errno;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(r->fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 0;
			demux_feed(&d, buf, n);
		}
		if (np == 2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(in_fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				shutdown(r->fd, SHUT_WR);
				in_fd = -1;
				continue;
			}
			if (write_all(r->fd, buf, n) < 0)
				in_fd = -1;
		}
	}
}
