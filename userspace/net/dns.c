/* The embedded resolver for containers on user-defined networks (dns.h):
 * UDP and TCP listeners on skiffd's event loop, answers for container
 * names from the lookup callback, everything else relayed to upstreams.
 * Packets come from containers: every read is bounded by the length. */
#include "dns.h"
#include "dns-internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define DNS_HDR 12
#define DNS_UDP_MAX 512 /* our own answers stay within plain DNS */
#define DNS_MAX_MSG 65535
#define MAX_UPSTREAMS 8
#define MAX_FORWARDS 1024 /* concurrent forwarded queries, REFUSED beyond */
#define MAX_TCP_CONNS 256
#define TCP_IDLE_SEC 10
#define TCP_OUT_MAX (256 * 1024) /* a client that does not read gets closed */
#define MAX_ADDRS 16

enum { T_A = 1, T_AAAA = 28, T_ANY = 255, C_IN = 1 };
enum { RC_OK = 0, RC_FORMERR = 1, RC_SERVFAIL = 2, RC_NXDOMAIN = 3, RC_NOTIMP = 4, RC_REFUSED = 5 };

struct listener {
	struct listener *next;
	struct skiff_dns *dns;
	uint32_t addr;
	uint16_t port;
	int udp_fd;
	struct event *udp_ev;
	struct evconnlistener *tcp;
};

/* A client's TCP connection: length-prefixed messages both ways. */
struct tconn {
	struct tconn *next, **pprev;
	struct skiff_dns *dns;
	struct listener *l;
	struct bufferevent *bev;
};

/* One forwarded query, relayed back to a UDP client (l + client) or a
 * TCP one (conn); either is set to NULL when it goes away first. */
struct fwd {
	struct fwd *next, **pprev;
	struct skiff_dns *dns;
	struct listener *l;
	struct sockaddr_in client;
	struct tconn *conn;
	uint16_t client_id, up_id;
	unsigned char *query;
	size_t qlen;
	int up; /* index of the upstream being tried */
	int tries_left;
	int fd; /* UDP upstream socket */
	struct event *ev;
	struct bufferevent *bev; /* TCP upstream */
	struct event *timer;
};

struct skiff_dns {
	struct event_base *base;
	skiff_dns_lookup_fn lookup;
	void *data;
	struct listener *listeners;
	struct tconn *conns;
	size_t nconns;
	struct fwd *fwds;
	size_t nfwds;
	struct sockaddr_in upstreams[MAX_UPSTREAMS];
	int nupstreams;
	int timeout_ms;
	/* Receive buffer for datagrams (queries and upstream replies); per
	 * instance rather than static so instances on other threads are safe. */
	unsigned char rx[DNS_MAX_MSG];
};

/* ---- wire format ---- */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void wr16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* The one question of a query, as parsed. name keeps the client's case;
 * wire is the name as sent (uncompressed), echoed in replies so that the
 * question there is byte for byte the one asked. */
struct question {
	char name[256];
	unsigned char wire[256];
	size_t wirelen;
	bool dotted_label; /* a label holds a '.': name is ambiguous, never a container's */
	uint16_t type, cls;
};

/* Reads the name at off into q (dotted, no trailing dot, and its wire
 * form). Compression pointers may only point backwards, which rules out
 * loops; labels with a NUL byte or a name over 255 bytes are malformed.
 * *next is where the field after the name starts. */
static int parse_name(const unsigned char *pkt, size_t len, size_t off, struct question *q, size_t *next)
{
	size_t pos = off, o = 0, wire = 0;
	bool jumped = false;

	q->dotted_label = false;
	for (;;) {
		if (pos >= len)
			return -EBADMSG;
		unsigned c = pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -EBADMSG;
			size_t ptr = (size_t)(c & 0x3f) << 8 | pkt[pos + 1];
			if (ptr >= pos || ptr < DNS_HDR)
				return -EBADMSG;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = ptr;
			continue;
		}
		if (c & 0xc0)
			return -EBADMSG;
		if (c == 0) {
			if (!jumped)
				*next = pos + 1;
			break;
		}
		if (pos + 1 + c > len)
			return -EBADMSG;
		if (wire + c + 1 > 254)
			return -EBADMSG;
		memcpy(q->wire + wire, pkt + pos, c + 1);
		wire += c + 1;
		if (o)
			q->name[o++] = '.';
		for (unsigned i = 0; i < c; i++) {
			if (!pkt[pos + 1 + i])
				return -EBADMSG;
			q->dotted_label |= pkt[pos + 1 + i] == '.';
			q->name[o++] = (char)pkt[pos + 1 + i];
		}
		pos += 1 + c;
	}
	q->name[o] = '\0';
	q->wire[wire++] = 0;
	q->wirelen = wire;
	return 0;
}

/* Builds a reply to a query with id/flags from q (q may be NULL: header
 * only, for a question we could not parse). Returns its length. */
static size_t build_reply(unsigned char *buf, size_t cap, uint16_t id, uint16_t qflags, const struct question *q,
			  int rcode, const uint32_t *addrs, int naddrs)
{
	size_t off;
	/* QR, opcode 0, RD copied, RA */
	uint16_t flags = 0x8000 | (qflags & 0x0100) | 0x0080 | (rcode & 0xf);

	memset(buf, 0, DNS_HDR);
	wr16(buf, id);
	wr16(buf + 2, flags);
	off = DNS_HDR;
	if (!q)
		return off;
	if (off + q->wirelen + 4 > cap)
		return DNS_HDR; /* cannot happen for a parsed name; header-only is still a reply */
	memcpy(buf + off, q->wire, q->wirelen);
	off += q->wirelen;
	wr16(buf + off, q->type);
	wr16(buf + off + 2, q->cls);
	off += 4;
	wr16(buf + 4, 1);
	int an = 0;
	for (int i = 0; i < naddrs && off + 16 <= cap; i++, an++) {
		wr16(buf + off, 0xc000 | DNS_HDR); /* the question's name */
		wr16(buf + off + 2, T_A);
		wr16(buf + off + 4, C_IN);
		memset(buf + off + 6, 0, 4); /* TTL 0: answers change as containers come and go */
		wr16(buf + off + 10, 4);
		uint32_t be = htonl(addrs[i]);
		memcpy(buf + off + 12, &be, 4);
		off += 16;
	}
	wr16(buf + 6, (uint16_t)an);
	return off;
}

/* ---- replies to clients ---- */

static void tconn_free(struct tconn *c);

static void tcp_send(struct tconn *c, const unsigned char *msg, size_t len)
{
	unsigned char pfx[2];
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (evbuffer_get_length(out) > TCP_OUT_MAX) {
		tconn_free(c);
		return;
	}
	wr16(pfx, (uint16_t)len);
	bufferevent_write(c->bev, pfx, 2);
	bufferevent_write(c->bev, msg, len);
}

static void reply_to(struct listener *l, const struct sockaddr_in *client, struct tconn *conn, const unsigned char *msg,
		     size_t len)
{
	if (conn)
		tcp_send(conn, msg, len);
	else if (l)
		/* Non-blocking: when the socket buffer is full the client retries. */
		sendto(l->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)client,
		       sizeof(*client));
}

/* ---- forwarding ---- */

static void fwd_free(struct fwd *f)
{
	if (f->ev)
		event_free(f->ev);
	if (f->timer)
		event_free(f->timer);
	if (f->bev)
		bufferevent_free(f->bev);
	if (f->fd >= 0)
		close(f->fd);
	*f->pprev = f->next;
	if (f->next)
		f->next->pprev = f->pprev;
	f->dns->nfwds--;
	free(f->query);
	free(f);
}

static void fwd_answer(struct fwd *f, unsigned char *msg, size_t len)
{
	wr16(msg, f->client_id);
	reply_to(f->l, &f->client, f->conn, msg, len);
	fwd_free(f);
}

/* An error reply with id to the query msg (parsed before, so its question
 * normally parses again; header-only when it does not). Parsing again keeps
 * struct fwd small and is cheap. */
static size_t build_error_reply(unsigned char *buf, size_t cap, uint16_t id, const unsigned char *msg, size_t len,
				int rcode)
{
	struct question q;
	size_t next;

	if (parse_name(msg, len, DNS_HDR, &q, &next) == 0 && next + 4 <= len) {
		q.type = rd16(msg + next);
		q.cls = rd16(msg + next + 2);
		return build_reply(buf, cap, id, rd16(msg + 2), &q, rcode, NULL, 0);
	}
	return build_reply(buf, cap, id, rd16(msg + 2), NULL, rcode, NULL, 0);
}

static void fwd_servfail(struct fwd *f)
{
	unsigned char buf[DNS_UDP_MAX];
	size_t n = build_error_reply(buf, sizeof(buf), f->client_id, f->query, f->qlen, RC_SERVFAIL);

	reply_to(f->l, &f->client, f->conn, buf, n);
	fwd_free(f);
}

static int fwd_try(struct fwd *f);

/* The current upstream failed or timed out: the next one, or SERVFAIL. */
static void fwd_next(struct fwd *f)
{
	if (f->ev) {
		event_free(f->ev);
		f->ev = NULL;
	}
	if (f->bev) {
		bufferevent_free(f->bev);
		f->bev = NULL;
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	while (--f->tries_left > 0) {
		f->up = (f->up + 1) % f->dns->nupstreams;
		if (fwd_try(f) == 0)
			return;
	}
	fwd_servfail(f);
}

static void fwd_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fwd_next(arg);
}

static void fwd_udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwd *f = arg;
	unsigned char *buf = f->dns->rx;
	(void)what;

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, buf, DNS_MAX_MSG, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			fwd_next(f); /* ECONNREFUSED: nobody at that upstream */
			return;
		}
		/* The socket is connected to the upstream on a random port; a
		 * reply must also carry our ID and be a response. */
		if (n < DNS_HDR || rd16(buf) != f->up_id || !(buf[2] & 0x80))
			continue;
		fwd_answer(f, buf, (size_t)n);
		return;
	}
}

static void fwd_tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct fwd *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char pfx[2];

	if (evbuffer_copyout(in, pfx, 2) != 2)
		return;
	size_t n = rd16(pfx);
	if (evbuffer_get_length(in) < 2 + n)
		return;
	if (n < DNS_HDR) {
		fwd_next(f);
		return;
	}
	unsigned char *msg = malloc(n);
	if (!msg) {
		fwd_servfail(f);
		return;
	}
	evbuffer_drain(in, 2);
	evbuffer_remove(in, msg, n);
	if (rd16(msg) != f->up_id)
		fwd_next(f);
	else
		fwd_answer(f, msg, n);
	free(msg);
}

static void fwd_tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		fwd_next(arg);
}

static int fwd_try(struct fwd *f)
{
	struct skiff_dns *dns = f->dns;
	const struct sockaddr_in *up = &dns->upstreams[f->up];
	int per_try = dns->timeout_ms / (dns->nupstreams ? dns->nupstreams : 1);
	struct timeval tv;

	/* The last try gets what is left of the budget. */
	if (f->tries_left == 1)
		per_try = dns->timeout_ms - per_try * (dns->nupstreams - 1);
	tv.tv_sec = per_try / 1000;
	tv.tv_usec = (per_try % 1000) * 1000;

	if (getrandom(&f->up_id, sizeof(f->up_id), 0) != sizeof(f->up_id))
		f->up_id = (uint16_t)random();
	wr16(f->query, f->up_id);

	if (!f->conn) {
		/* A fresh socket per query: the kernel picks a random source
		 * port, and connect() makes it accept only the upstream. */
		f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (f->fd < 0)
			return -errno;
		if (connect(f->fd, (const struct sockaddr *)up, sizeof(*up)) < 0 ||
		    send(f->fd, f->query, f->qlen, MSG_DONTWAIT) < 0) {
			close(f->fd);
			f->fd = -1;
			return -errno;
		}
		f->ev = event_new(dns->base, f->fd, EV_READ | EV_PERSIST, fwd_udp_cb, f);
		if (!f->ev || event_add(f->ev, NULL) < 0)
			return -ENOMEM;
	} else {
		unsigned char pfx[2];
		f->bev = bufferevent_socket_new(dns->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (!f->bev)
			return -ENOMEM;
		bufferevent_setcb(f->bev, fwd_tcp_read_cb, NULL, fwd_tcp_event_cb, f);
		if (bufferevent_socket_connect(f->bev, (const struct sockaddr *)up, sizeof(*up)) < 0) {
			bufferevent_free(f->bev);
			f->bev = NULL;
			return -ECONNREFUSED;
		}
		wr16(pfx, (uint16_t)f->qlen);
		bufferevent_write(f->bev, pfx, 2);
		bufferevent_write(f->bev, f->query, f->qlen);
		bufferevent_enable(f->bev, EV_READ);
	}
	if (!f->timer) {
		f->timer = evtimer_new(dns->base, fwd_timeout_cb, f);
		if (!f->timer)
			return -ENOMEM;
	}
	evtimer_add(f->timer, &tv);
	return 0;
}

/* Takes a copy of the query; replies REFUSED when too many are in flight
 * and SERVFAIL when there is no upstream to ask. */
static void forward(struct skiff_dns *dns, struct listener *l, const struct sockaddr_in *client, struct tconn *conn,
		    const unsigned char *msg, size_t len)
{
	unsigned char buf[DNS_UDP_MAX];
	int rcode = RC_SERVFAIL;

	if (dns->nfwds >= MAX_FORWARDS)
		rcode = RC_REFUSED;
	if (dns->nfwds < MAX_FORWARDS && dns->nupstreams > 0) {
		struct fwd *f = calloc(1, sizeof(*f));
		if (f)
			f->query = malloc(len);
		if (f && f->query) {
			memcpy(f->query, msg, len);
			f->qlen = len;
			f->dns = dns;
			f->l = l;
			if (client)
				f->client = *client;
			f->conn = conn;
			f->client_id = rd16(msg);
			f->fd = -1;
			f->tries_left = dns->nupstreams;
			f->next = dns->fwds;
			f->pprev = &dns->fwds;
			if (dns->fwds)
				dns->fwds->pprev = &f->next;
			dns->fwds = f;
			dns->nfwds++;
			while (fwd_try(f) < 0) {
				if (--f->tries_left <= 0) {
					fwd_servfail(f);
					return;
				}
				f->up = (f->up + 1) % dns->nupstreams;
			}
			return;
		}
		if (f)
			free(f->query);
		free(f);
	}
	size_t n = build_error_reply(buf, sizeof(buf), rd16(msg), msg, len, rcode);
	reply_to(l, client, conn, buf, n);
}

/* ---- queries ---- */

enum skiff_dns_verdict skiff_dns_answer(skiff_dns_lookup_fn lookup, void *data, uint32_t client_ip,
				       const unsigned char *msg, size_t len, unsigned char *buf, size_t cap, size_t *n)
{
	struct question q;
	size_t next;

	*n = 0;
	if (len < DNS_HDR || cap < DNS_UDP_MAX)
		return SKIFF_DNS_DROP; /* not even a header to answer to */
	uint16_t id = rd16(msg), flags = rd16(msg + 2);
	if (flags & 0x8000)
		return SKIFF_DNS_DROP; /* a response: never answer those (reflection loops) */
	if (((flags >> 11) & 0xf) != 0) {
		*n = build_reply(buf, cap, id, flags, NULL, RC_NOTIMP, NULL, 0);
		return SKIFF_DNS_REPLY;
	}
	if (rd16(msg + 4) != 1 || parse_name(msg, len, DNS_HDR, &q, &next) < 0 || next + 4 > len) {
		*n = build_reply(buf, cap, id, flags, NULL, RC_FORMERR, NULL, 0);
		return SKIFF_DNS_REPLY;
	}
	q.type = rd16(msg + next);
	q.cls = rd16(msg + next + 2);

	char lower[256];
	size_t i;
	for (i = 0; q.name[i]; i++)
		lower[i] = (char)tolower((unsigned char)q.name[i]);
	lower[i] = '\0';

	uint32_t addrs[MAX_ADDRS];
	int na = 0;
	/* A '.' inside a label would make "web.net" (one label) look like
	 * web on net: such names are not ours to answer. */
	if (q.dotted_label)
		return SKIFF_DNS_FORWARD;
	if (lower[0] && q.cls == C_IN && lookup) {
		na = lookup(data, client_ip, lower, addrs, MAX_ADDRS);
		if (na > MAX_ADDRS)
			na = MAX_ADDRS;
		if (na < 0)
			na = 0;
	}
	if (na > 0) {
		/* A container's name: A records; AAAA and the rest: no data. */
		bool a = q.type == T_A || q.type == T_ANY;
		*n = build_reply(buf, cap, id, flags, &q, RC_OK, addrs, a ? na : 0);
		return SKIFF_DNS_REPLY;
	}
	if (lower[0] && !strchr(lower, '.')) {
		*n = build_reply(buf, cap, id, flags, &q, RC_NXDOMAIN, NULL, 0);
		return SKIFF_DNS_REPLY;
	}
	return SKIFF_DNS_FORWARD;
}

static void handle_query(struct skiff_dns *dns, struct listener *l, const struct sockaddr_in *client,
			 struct tconn *conn, const unsigned char *msg, size_t len)
{
	unsigned char buf[DNS_UDP_MAX];
	size_t n;
	uint32_t cip = client ? ntohl(client->sin_addr.s_addr) : 0;

	switch (skiff_dns_answer(dns->lookup, dns->data, cip, msg, len, buf, sizeof(buf), &n)) {
	case SKIFF_DNS_DROP:
		return;
	case SKIFF_DNS_REPLY:
		reply_to(l, client, conn, buf, n);
		return;
	case SKIFF_DNS_FORWARD:
		forward(dns, l, client, conn, msg, len);
		return;
	}
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	unsigned char *buf = l->dns->rx;
	const size_t cap = 4096; /* a query bigger than this is not one */
	(void)what;

	/* Bounded batch: one busy client cannot starve the rest of skiffd. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if ((size_t)n > cap || fl != sizeof(from) || from.sin_family != AF_INET)
			continue;
		handle_query(l->dns, l, &from, NULL, buf, (size_t)n);
	}
}

/* ---- TCP clients ---- */

static void tconn_free(struct tconn *c)
{
	/* Forwards still pending for this client answer nobody. */
	for (struct fwd *f = c->dns->fwds; f; f = f->next)
		if (f->conn == c) {
			f->conn = NULL;
			f->l = NULL;
		}
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	c->dns->nconns--;
	bufferevent_free(c->bev);
	free(c);
}

static void tconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct tconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char pfx[2];

	while (evbuffer_copyout(in, pfx, 2) == 2) {
		size_t n = rd16(pfx);
		if (evbuffer_get_length(in) < 2 + n)
			return;
		unsigned char *msg = malloc(n ? n : 1);
		if (!msg) {
			tconn_free(c);
			return;
		}
		evbuffer_drain(in, 2);
		evbuffer_remove(in, msg, n);
		struct sockaddr_in peer = {0};
		socklen_t pl = sizeof(peer);
		getpeername(bufferevent_getfd(bev), (struct sockaddr *)&peer, &pl);
		/* handle_query may free c (output over its cap): look at the
		 * list afterwards instead of touching c. */
		struct skiff_dns *dns = c->dns;
		handle_query(dns, c->l, &peer, c, msg, n);
		free(msg);
		bool alive = false;
		for (struct tconn *t = dns->conns; t; t = t->next)
			alive |= t == c;
		if (!alive)
			return;
	}
}

static void tconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		tconn_free(arg);
}

static void tcp_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct skiff_dns *dns = l->dns;
	struct timeval idle = {TCP_IDLE_SEC, 0};
	(void)lev;
	(void)sa;
	(void)salen;

	if (dns->nconns >= MAX_TCP_CONNS) {
		close(fd);
		return;
	}
	struct tconn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->bev = bufferevent_socket_new(dns->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	c->dns = dns;
	c->l = l;
	c->next = dns->conns;
	c->pprev = &dns->conns;
	if (dns->conns)
		dns->conns->pprev = &c->next;
	dns->conns = c;
	dns->nconns++;
	bufferevent_setcb(c->bev, tconn_read_cb, NULL, tconn_event_cb, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- the public surface ---- */

static int parse_server(const char *s, struct sockaddr_in *out)
{
	char ip[64];
	const char *colon = strchr(s, ':');
	unsigned long port = 53;

	if (colon) {
		char *end;
		if ((size_t)(colon - s) >= sizeof(ip))
			return -EINVAL;
		memcpy(ip, s, (size_t)(colon - s));
		ip[colon - s] = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
			return -EINVAL;
	} else {
		snprintf(ip, sizeof(ip), "%s", s);
	}
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &out->sin_addr) == 1 ? 0 : -EINVAL;
}

/* The host's IPv4 nameservers (IPv6 ones are skipped: the forwarder
 * speaks IPv4). */
static void load_resolv_conf(struct skiff_dns *dns)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256];

	dns->nupstreams = 0;
	while (f && fgets(line, sizeof(line), f) && dns->nupstreams < MAX_UPSTREAMS) {
		char ns[64];
		if (sscanf(line, " nameserver %63s", ns) == 1 && !strchr(ns, ':') &&
		    parse_server(ns, &dns->upstreams[dns->nupstreams]) == 0)
			dns->nupstreams++;
	}
}

int skiff_dns_new(struct event_base *base, skiff_dns_lookup_fn lookup, void *data, struct skiff_dns **out)
{
	struct skiff_dns *dns = calloc(1, sizeof(*dns));
	if (!dns)
		return -ENOMEM;
	dns->base = base;
	dns->lookup = lookup;
	dns->data = data;
	dns->timeout_ms = 5000;
	load_resolv_conf(dns);
	*out = dns;
	return 0;
}

void skiff_dns_set_timeout_ms(struct skiff_dns *dns, int ms) { dns->timeout_ms = ms > 0 ? ms : 5000; }

int skiff_dns_set_upstreams(struct skiff_dns *dns, const char *const *servers, struct skiff_error *err)
{
	struct sockaddr_in ups[MAX_UPSTREAMS];
	int n = 0;

	for (; servers && servers[n]; n++) {
		if (n >= MAX_UPSTREAMS)
			return skiff_error_set(err, SKIFF_EINVAL, E2BIG, "too many DNS servers (at most %d)",
					       MAX_UPSTREAMS);
		if (parse_server(servers[n], &ups[n]) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid DNS server '%s'", servers[n]);
	}
	memcpy(dns->upstreams, ups, sizeof(ups[0]) * (size_t)n);
	dns->nupstreams = n;
	return 0;
}

static void listener_free(struct skiff_dns *dns, struct listener *l)
{
	/* Its clients go with it: TCP connections close, pending forwards
	 * are dropped (the client retries elsewhere). */
	for (struct fwd *f = dns->fwds, *nx; f; f = nx) {
		nx = f->next;
		if (f->l == l || (f->conn && f->conn->l == l))
			fwd_free(f);
	}
	for (struct tconn *c = dns->conns, *nx; c; c = nx) {
		nx = c->next;
		if (c->l == l)
			tconn_free(c);
	}
	if (l->udp_ev)
		event_free(l->udp_ev);
	if (l->udp_fd >= 0)
		close(l->udp_fd);
	if (l->tcp)
		evconnlistener_free(l->tcp);
	free(l);
}

int skiff_dns_listen(struct skiff_dns *dns, uint32_t addr, uint16_t port, struct skiff_error *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(addr)};
	char ip[INET_ADDRSTRLEN];
	int one = 1;

	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	for (struct listener *l = dns->listeners; l; l = l->next)
		if (l->addr == addr)
			return skiff_error_set(err, SKIFF_ECONFLICT, EEXIST, "DNS already listening on %s:%u", ip,
					       l->port);
	struct listener *l = calloc(1, sizeof(*l));
	if (!l)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "DNS on %s:%u: out of memory", ip, port);
	l->dns = dns;
	l->addr = addr;
	l->port = port;
	l->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->udp_fd < 0 || bind(l->udp_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		listener_free(dns, l);
		return skiff_error_sys(err, e == EADDRINUSE ? SKIFF_ECONFLICT : SKIFF_EINTERNAL, e,
				       "DNS: binding udp %s:%u", ip, port);
	}
	int tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (tfd >= 0)
		setsockopt(tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (tfd < 0 || bind(tfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(tfd, 64) < 0) {
		int e = errno;
		if (tfd >= 0)
			close(tfd);
		listener_free(dns, l);
		return skiff_error_sys(err, e == EADDRINUSE ? SKIFF_ECONFLICT : SKIFF_EINTERNAL, e,
				       "DNS: binding tcp %s:%u", ip, port);
	}
	l->tcp = evconnlistener_new(dns->base, tcp_accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, tfd);
	if (!l->tcp)
		close(tfd);
	l->udp_ev = event_new(dns->base, l->udp_fd, EV_READ | EV_PERSIST, udp_read_cb, l);
	if (!l->tcp || !l->udp_ev || event_add(l->udp_ev, NULL) < 0) {
		listener_free(dns, l);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "DNS on %s:%u: cannot add events", ip, port);
	}
	l->next = dns->listeners;
	dns->listeners = l;
	return 0;
}

void skiff_dns_unlisten(struct skiff_dns *dns, uint32_t addr)
{
	for (struct listener **pl = &dns->listeners; *pl; pl = &(*pl)->next)
		if ((*pl)->addr == addr) {
			struct listener *l = *pl;
			*pl = l->next;
			listener_free(dns, l);
			return;
		}
}

void skiff_dns_free(struct skiff_dns *dns)
{
	if (!dns)
		return;
	while (dns->listeners)
		skiff_dns_unlisten(dns, dns->listeners->addr);
	while (dns->fwds)
		fwd_free(dns->fwds);
	while (dns->conns)
		tconn_free(dns->conns);
	free(dns);
}
