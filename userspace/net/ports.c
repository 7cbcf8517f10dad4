/* Published ports the way dockerd reads and shows them: PortBindings and
 * -P parsed with dockerd's checks and words, host ports reserved by bound
 * sockets (the kernel is the allocator), the API's two Ports shapes, the
 * docker CLI's PORTS column and the ps publish/expose filters. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "ipam.h"
#include "ports.h"

static const struct {
	const char *name;
	uint8_t proto;
} protos[] = {
    {"tcp", IPPROTO_TCP},
    {"udp", IPPROTO_UDP},
    {"sctp", IPPROTO_SCTP},
};

const char *skiff_port_proto_name(uint8_t proto)
{
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return "tcp";
}

static int proto_parse(const char *s, uint8_t *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (!strcasecmp(protos[i].name, s)) {
			*out = protos[i].proto;
			return 0;
		}
	return -EINVAL;
}

/* Go's strconv.ParseUint(s, 10, 16): digits only, leading zeros fine. */
static int u16_parse(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;
	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
		if (v > 65535)
			return -ERANGE;
	}
	*out = (uint16_t)v;
	return 0;
}

/* "8000" or "8000-8010" (nat.ParsePortRange) */
static int range_parse(const char *s, size_t len, uint16_t *lo, uint16_t *hi)
{
	const char *dash = memchr(s, '-', len);
	int r;
	if (!dash) {
		r = u16_parse(s, len, lo);
		*hi = *lo;
		return r;
	}
	if ((r = u16_parse(s, dash - s, lo)) < 0 || (r = u16_parse(dash + 1, s + len - dash - 1, hi)) < 0)
		return r;
	return *hi < *lo ? -EDOM : 0;
}

/* A port set key "80/tcp" ("80" means tcp). -EINVAL for the port, -EPROTO
 * for the protocol. */
static int key_parse(const char *k, uint16_t *port, uint8_t *proto)
{
	const char *slash = strchr(k, '/');
	size_t len = slash ? (size_t)(slash - k) : strlen(k);
	if (u16_parse(k, len, port) < 0 || *port == 0)
		return -EINVAL;
	*proto = IPPROTO_TCP;
	if (slash && slash[1] && proto_parse(slash + 1, proto) < 0)
		return -EPROTO;
	return 0;
}

static int key_error(int r, const char *k, struct skiff_error *err)
{
	const char *slash = strchr(k, '/');
	if (r == -EPROTO)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid proto: %s", slash + 1);
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid port specification: \"%.*s\"",
			       (int)(slash ? slash - k : (int)strlen(k)), k);
}

/* A port being parsed: the port and the end of its HostPort range. */
struct want {
	struct skiff_port p;
	uint16_t last;
};

static int port_cmp(const void *a, const void *b)
{
	const struct skiff_port *x = &((const struct want *)a)->p, *y = &((const struct want *)b)->p;
	if (x->ctr_port != y->ctr_port)
		return x->ctr_port < y->ctr_port ? -1 : 1;
	if (x->proto != y->proto)
		return strcmp(skiff_port_proto_name(x->proto), skiff_port_proto_name(y->proto));
	if (x->host_ip != y->host_ip)
		return x->host_ip < y->host_ip ? -1 : 1;
	return (int)x->host_port - (int)y->host_port;
}

struct pvec {
	struct want *v;
	size_t n, cap;
};

static int pvec_add(struct pvec *pv, const struct skiff_port *p, uint16_t last)
{
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 8;
		struct want *v = realloc(pv->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pv->v = v;
		pv->cap = cap;
	}
	pv->v[pv->n++] = (struct want){*p, last ? last : p->host_port};
	return 0;
}

static int binding_parse(const json_t *b, struct skiff_port *p, uint16_t *last, struct skiff_error *err)
{
	const char *ip = json_string_value(json_object_get(b, "HostIp"));
	const char *hp = json_string_value(json_object_get(b, "HostPort"));
	p->host_ip = 0;
	if (ip && *ip) {
		if (strchr(ip, ':'))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "IPv6 port bindings are not supported by skiff (HostIp %s)", ip);
		if (skiff_ip_parse(ip, &p->host_ip) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid IP address: %s", ip);
	}
	p->host_port = *last = 0;
	if (hp && *hp) {
		uint16_t lo, hi;
		if (range_parse(hp, strlen(hp), &lo, &hi) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid port specification: \"%s\"", hp);
		p->host_port = lo;
		*last = lo ? hi : 0;
	}
	return 0;
}

int skiff_ports_parse(const json_t *port_bindings, bool publish_all, const json_t *exposed_ports,
		      struct skiff_port **out, uint16_t **last, size_t *n, struct skiff_error *err)
{
	struct pvec pv = {0};
	_cleanup_free_ struct skiff_port *o = NULL;
	_cleanup_free_ uint16_t *l = NULL;
	const char *k;
	json_t *v;
	int r = 0;
	*out = NULL;
	*n = 0;
	if (last)
		*last = NULL;
	json_object_foreach((json_t *)port_bindings, k, v)
	{
		struct skiff_port p = {0};
		uint16_t hi = 0;
		size_t i;
		json_t *b;
		if ((r = key_parse(k, &p.ctr_port, &p.proto)) < 0) {
			r = key_error(r, k, err);
			goto fail;
		}
		json_array_foreach(v, i, b)
		{
			if ((r = binding_parse(b, &p, &hi, err)) < 0)
				goto fail;
			if (p.proto == IPPROTO_SCTP) {
				r = skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						    "SCTP port bindings are not supported by skiff");
				goto fail;
			}
			if ((r = pvec_add(&pv, &p, hi)) < 0)
				goto oom;
		}
	}
	/* -P: exposed ports nobody bound get an ephemeral host port */
	json_object_foreach(publish_all ? (json_t *)exposed_ports : NULL, k, v)
	{
		struct skiff_port p = {0};
		if ((r = key_parse(k, &p.ctr_port, &p.proto)) < 0) {
			r = key_error(r, k, err);
			goto fail;
		}
		bool bound = false;
		for (size_t i = 0; i < pv.n && !bound; i++)
			bound = pv.v[i].p.ctr_port == p.ctr_port && pv.v[i].p.proto == p.proto;
		if (bound)
			continue;
		if (p.proto == IPPROTO_SCTP) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "SCTP port bindings are not supported by skiff");
			goto fail;
		}
		if ((r = pvec_add(&pv, &p, 0)) < 0)
			goto oom;
	}
	if (!pv.n)
		return 0;
	qsort(pv.v, pv.n, sizeof(*pv.v), port_cmp);
	o = malloc(pv.n * sizeof(*o));
	l = malloc(pv.n * sizeof(*l));
	if (!o || !l)
		goto oom;
	for (size_t i = 0; i < pv.n; i++) {
		o[i] = pv.v[i].p;
		l[i] = pv.v[i].last;
	}
	free(pv.v);
	*out = TAKE_PTR(o);
	if (last)
		*last = TAKE_PTR(l);
	*n = pv.n;
	return 0;
oom:
	r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
fail:
	free(pv.v);
	return r;
}

/* One bound socket; *got = the port the kernel gave. */
static int bind_one(uint8_t proto, uint32_t ip, uint16_t port, uint16_t *got)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (proto == IPPROTO_UDP) {
		/* datagrams that reach the placeholder (none should: DNAT and
		 * the BPF hooks steer them first) must not pile up */
		int zero = 0;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero));
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*got = ntohs(sa.sin_port);
	return fd;
}

int skiff_ports_reserve(struct skiff_port *p, const uint16_t *last, size_t n, const char *ctr_name, const char *ctr_id,
			int **fds, struct skiff_error *err)
{
	_cleanup_free_ int *v = malloc((n ? n : 1) * sizeof(*v));
	_cleanup_free_ uint16_t *got = malloc((n ? n : 1) * sizeof(*got));
	size_t i;
	int fd = 0;
	if (!v || !got)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		uint32_t lo = p[i].host_port, hi = last && lo && last[i] > lo ? last[i] : lo;
		fd = -EADDRINUSE;
		for (uint32_t port = lo; port <= hi && fd == -EADDRINUSE; port++)
			fd = bind_one(p[i].proto, p[i].host_ip, (uint16_t)port, &got[i]);
		if (fd < 0)
			break;
		v[i] = fd;
	}
	if (i < n) {
		/* all or nothing: give back what this call bound */
		for (size_t j = 0; j < i; j++)
			close(v[j]);
		char ip[16], hp[16];
		uint16_t lo = p[i].host_port, hi = last && lo ? last[i] : 0;
		skiff_ip_format(p[i].host_ip, ip, sizeof(ip));
		if (hi > lo)
			snprintf(hp, sizeof(hp), "%u-%u", lo, hi);
		else
			snprintf(hp, sizeof(hp), "%u", lo);
		if (ctr_name && *ctr_name == '/')
			ctr_name++;
		if (fd == -EADDRINUSE)
			return skiff_error_set(
			    err, SKIFF_EINTERNAL, EADDRINUSE,
			    "driver failed programming external connectivity on endpoint %s (%s): Bind "
			    "for %s:%s failed: port is already allocated",
			    ctr_name ? ctr_name : "", ctr_id ? ctr_id : "", ip, hp);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -fd,
				       "driver failed programming external connectivity on endpoint %s (%s): failed to "
				       "bind host port %s:%s/%s",
				       ctr_name ? ctr_name : "", ctr_id ? ctr_id : "", ip, hp,
				       skiff_port_proto_name(p[i].proto));
	}
	for (i = 0; i < n; i++)
		p[i].host_port = got[i];
	*fds = TAKE_PTR(v);
	return 0;
}

void skiff_ports_release(int *fds, size_t n)
{
	for (size_t i = 0; fds && i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

/* "80/tcp" for an exposed key however it was written ("80" -> "80/tcp");
 * an unparsable key is kept as it is. */
static void key_norm(const char *k, char *out, size_t outlen)
{
	uint16_t port;
	uint8_t proto;
	if (key_parse(k, &port, &proto) == 0)
		snprintf(out, outlen, "%u/%s", port, skiff_port_proto_name(proto));
	else
		snprintf(out, outlen, "%s", k);
}

json_t *skiff_ports_settings_json(const struct skiff_port *p, size_t n, const json_t *exposed_ports)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	if (!o)
		return NULL;
	json_object_foreach((json_t *)exposed_ports, k, v)
	{
		char key[64];
		key_norm(k, key, sizeof(key));
		json_object_set_new(o, key, json_null());
	}
	for (size_t i = 0; i < n; i++) {
		char key[32], ip[16], hp[8];
		snprintf(key, sizeof(key), "%u/%s", p[i].ctr_port, skiff_port_proto_name(p[i].proto));
		skiff_ip_format(p[i].host_ip, ip, sizeof(ip));
		snprintf(hp, sizeof(hp), "%u", p[i].host_port);
		json_t *a = json_object_get(o, key);
		if (!json_is_array(a)) {
			a = json_array();
			json_object_set_new(o, key, a);
		}
		json_array_append_new(a, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", hp));
	}
	return o;
}

json_t *skiff_ports_list_json(const struct skiff_port *p, size_t n, const json_t *exposed_ports)
{
	struct pvec all = {0};
	const char *k;
	json_t *v;
	for (size_t i = 0; i < n; i++)
		if (pvec_add(&all, &p[i], 0) < 0)
			goto oom;
	/* exposed-only ports: no host side (marked by host_port 0) */
	json_object_foreach((json_t *)exposed_ports, k, v)
	{
		struct skiff_port e = {0};
		bool published = false;
		if (key_parse(k, &e.ctr_port, &e.proto) < 0)
			continue;
		for (size_t i = 0; i < n && !published; i++)
			published = p[i].ctr_port == e.ctr_port && p[i].proto == e.proto;
		if (!published && pvec_add(&all, &e, 0) < 0)
			goto oom;
	}
	if (all.n)
		qsort(all.v, all.n, sizeof(*all.v), port_cmp);
	json_t *a = json_array();
	for (size_t i = 0; a && i < all.n; i++) {
		const struct skiff_port *q = &all.v[i].p;
		const char *type = skiff_port_proto_name(q->proto);
		char ip[16];
		if (!q->host_port) {
			json_array_append_new(a, json_pack("{s:i, s:s}", "PrivatePort", q->ctr_port, "Type", type));
			continue;
		}
		skiff_ip_format(q->host_ip, ip, sizeof(ip));
		json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:s}", "IP", ip, "PrivatePort", q->ctr_port,
						   "PublicPort", q->host_port, "Type", type));
	}
	free(all.v);
	return a;
oom:
	free(all.v);
	return NULL;
}

/* A port of the API's Ports array, for the display. */
struct aport {
	const char *ip, *type;
	int priv, pub;
};

/* The docker CLI's order: private port, ip, public port, type. */
static int aport_cmp(const void *a, const void *b)
{
	const struct aport *x = a, *y = b;
	int c;
	if (x->priv != y->priv)
		return x->priv - y->priv;
	if ((c = strcmp(x->ip, y->ip)))
		return c;
	if (x->pub != y->pub)
		return x->pub - y->pub;
	return strcmp(x->type, y->type);
}

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int l = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (l < 0 || b->oom)
		return;
	if (b->len + l + 3 > b->cap) {
		size_t cap = (b->len + l + 3) * 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	if (b->len) {
		memcpy(b->s + b->len, ", ", 2);
		b->len += 2;
	}
	va_start(ap, fmt);
	b->len += vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
}

/* "0.0.0.0:8000-8001->8000-8001/tcp" or "443-444/tcp" (formGroup) */
static void sb_group(struct sbuf *b, const char *ip, const char *type, int first, int last)
{
	char g[16];
	if (first == last)
		snprintf(g, sizeof(g), "%d", first);
	else
		snprintf(g, sizeof(g), "%d-%d", first, last);
	if (!*ip)
		sb_add(b, "%s/%s", g, type);
	else if (strchr(ip, ':'))
		sb_add(b, "[%s]:%s->%s/%s", ip, g, g, type);
	else
		sb_add(b, "%s:%s->%s/%s", ip, g, g, type);
}

char *skiff_ports_display(const json_t *ports)
{
	size_t n = json_array_size(ports), i, ngroups = 0;
	_cleanup_free_ struct aport *v = calloc(n ? n : 1, sizeof(*v));
	/* groups of consecutive ports, keyed by ip and type, in the order the
	 * keys first appeared (DisplayablePorts' groupMapKeys) */
	struct group {
		const char *ip, *type;
		int first, last;
	};
	_cleanup_free_ struct group *g = calloc(n ? n : 1, sizeof(*g));
	struct sbuf out = {0}, maps = {0};
	json_t *p;
	if (!v || !g)
		return NULL;
	json_array_foreach((json_t *)ports, i, p)
	{
		v[i].ip = json_string_value(json_object_get(p, "IP")) ?: "";
		v[i].type = json_string_value(json_object_get(p, "Type")) ?: "";
		v[i].priv = (int)json_integer_value(json_object_get(p, "PrivatePort"));
		v[i].pub = (int)json_integer_value(json_object_get(p, "PublicPort"));
	}
	qsort(v, n, sizeof(*v), aport_cmp);
	for (i = 0; i < n; i++) {
		const struct aport *a = &v[i];
		if (*a->ip && a->pub != a->priv) {
			if (strchr(a->ip, ':'))
				sb_add(&maps, "[%s]:%d->%d/%s", a->ip, a->pub, a->priv, a->type);
			else
				sb_add(&maps, "%s:%d->%d/%s", a->ip, a->pub, a->priv, a->type);
			continue;
		}
		struct group *grp = NULL;
		for (size_t j = 0; j < ngroups && !grp; j++)
			if (!strcmp(g[j].ip, a->ip) && !strcmp(g[j].type, a->type))
				grp = &g[j];
		if (!grp) {
			g[ngroups++] = (struct group){a->ip, a->type, a->priv, a->priv};
			continue;
		}
		if (a->priv == grp->last + 1) {
			grp->last = a->priv;
			continue;
		}
		sb_group(&out, grp->ip, grp->type, grp->first, grp->last);
		grp->first = grp->last = a->priv;
	}
	for (size_t j = 0; j < ngroups; j++)
		sb_group(&out, g[j].ip, g[j].type, g[j].first, g[j].last);
	if (maps.len)
		sb_add(&out, "%s", maps.s);
	out.oom |= maps.oom;
	free(maps.s);
	if (out.oom) {
		free(out.s);
		return NULL;
	}
	return out.s ? out.s : strdup("");
}

/* Go's error texts for nat.ParsePortRange failures, as dockerd echoes them. */
static void range_error(const char *port, int r, char *out, size_t outlen)
{
	if (!*port)
		snprintf(out, outlen, "empty string specified for ports");
	else if (r == -EDOM)
		snprintf(out, outlen, "invalid range specified for port: %s", port);
	else
		snprintf(out, outlen, "strconv.ParseUint: parsing \"%s\": %s", port,
			 r == -ERANGE ? "value out of range" : "invalid syntax");
}

/* nat.SplitProtoPort + ParsePortRange over a filter value */
static int filter_parse(const char *value, char *proto, size_t protolen, uint16_t *lo, uint16_t *hi, int *perr,
			char *port, size_t portlen)
{
	const char *slash = strchr(value, '/');
	size_t len = slash ? (size_t)(slash - value) : strlen(value);
	snprintf(port, portlen, "%.*s", (int)len, value);
	snprintf(proto, protolen, "%s", slash && slash[1] ? slash + 1 : "tcp");
	if (slash && strchr(slash + 1, '/'))
		*strchr(proto, '/') = 0;
	*perr = range_parse(value, len, lo, hi);
	return *perr;
}

int skiff_ports_filter_check(const char *filter, const char *value, struct skiff_error *err)
{
	char proto[16], port[32], why[96];
	uint16_t lo, hi;
	int r;
	if (strchr(value, ':'))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "filter for '%s' should not contain ':': %s", filter,
				       value);
	if (filter_parse(value, proto, sizeof(proto), &lo, &hi, &r, port, sizeof(port)) < 0) {
		range_error(port, r, why, sizeof(why));
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "error while looking up for %s %s: %s", filter, value,
				       why);
	}
	return 0;
}

bool skiff_ports_filter_match(const json_t *port_set, const char *value)
{
	char proto[16], port[32];
	uint16_t lo, hi;
	int r;
	const char *k;
	json_t *v;
	if (strchr(value, ':') || filter_parse(value, proto, sizeof(proto), &lo, &hi, &r, port, sizeof(port)) < 0)
		return false;
	json_object_foreach((json_t *)port_set, k, v)
	{
		const char *slash = strchr(k, '/');
		uint16_t p;
		if (u16_parse(k, slash ? (size_t)(slash - k) : strlen(k), &p) < 0)
			continue;
		if (p >= lo && p <= hi && !strcasecmp(slash && slash[1] ? slash + 1 : "tcp", proto))
			return true;
	}
	return false;
}
