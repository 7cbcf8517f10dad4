/* Published ports of a container: each host port reserved by a bound
 * socket in skiffd (no listen: the kernel then refuses the port to anyone
 * else, as Docker's allocator does), then handed to the BPF port map
 * (host-local clients) and to skiff's nftables table (everyone else), all
 * of a container's ports in one transaction; and the Ports shapes of
 * inspect and ps. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../daemon/container-config.h"
#include "../daemon/daemon.h"
#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "net-internal.h"

/* "80/tcp" -> port, proto; -EINVAL otherwise */
static int parse_key(const char *k, uint16_t *port, uint8_t *proto)
{
	char *end;
	long p = strtol(k, &end, 10);
	if (end == k || p < 1 || p > 65535)
		return -EINVAL;
	if (!*end || !strcmp(end, "/tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(end, "/udp"))
		*proto = IPPROTO_UDP;
	else
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

/* HostPort "", "8080" or "8000-8010" (any free one of the range) */
static int parse_host_port(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	long a, b;
	if (!s || !*s) {
		*lo = *hi = 0;
		return 0;
	}
	a = strtol(s, &end, 10);
	b = a;
	if (*end == '-')
		b = strtol(end + 1, &end, 10);
	if (*end || a < 0 || a > 65535 || b < a || b > 65535)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static int reserve(const struct skiff_port *p, uint16_t port, int *fd_out, uint16_t *got)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(p->host_ip) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, (p->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*fd_out = fd;
	*got = ntohs(sa.sin_port);
	return 0;
}

struct want {
	struct skiff_port p;
	uint16_t lo, hi;
};

static int add_want(struct want **v, size_t *n, const struct want *w)
{
	struct want *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	(*v)[(*n)++] = *w;
	return 0;
}

int net_ports_setup(struct skiff_net *m, const struct skiff_ctr *c, struct net_ctr *nc, struct skiff_error *err)
{
	json_t *pb = json_object_get(c->host_config, "PortBindings");
	json_t *exposed = json_object_get(c->config, "ExposedPorts");
	bool all = skiff_json_bool(c->host_config, "PublishAllPorts", false);
	_cleanup_free_ struct want *w = NULL;
	size_t nw = 0;
	const char *k;
	json_t *v;
	int r;

	if (!nc->neps || (!json_object_size(pb) && !(all && json_object_size(exposed))))
		return 0;
	json_object_foreach(pb, k, v)
	{
		struct want x = { 0 };
		size_t i;
		json_t *b;
		if (parse_key(k, &x.p.ctr_port, &x.p.proto) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid port specification: \"%s\"", k);
		x.p.ctr_ip = nc->eps[0].ip;
		if (!json_array_size(v)) {
			if ((r = add_want(&w, &nw, &x)) < 0)
				return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
			continue;
		}
		json_array_foreach(v, i, b)
		{
			const char *hip = skiff_json_str(b, "HostIp", "");
			x.p.host_ip = 0;
			if (strchr(hip, ':'))
				continue; /* IPv6 host addresses: skiff networks are IPv4 */
			if (*hip && skiff_ip_parse(hip, &x.p.host_ip) < 0)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid IP address: %s", hip);
			if (parse_host_port(skiff_json_str(b, "HostPort", ""), &x.lo, &x.hi) < 0)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid hostPort: %s",
						       skiff_json_str(b, "HostPort", ""));
			if ((r = add_want(&w, &nw, &x)) < 0)
				return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		}
	}
	if (all)
		json_object_foreach(exposed, k, v)
		{
			struct want x = { 0 };
			if (json_object_get(pb, k) || parse_key(k, &x.p.ctr_port, &x.p.proto) < 0)
				continue;
			x.p.ctr_ip = nc->eps[0].ip;
			if ((r = add_want(&w, &nw, &x)) < 0)
				return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		}
	nc->ports = calloc(nw + 1, sizeof(*nc->ports));
	nc->port_fds = calloc(nw + 1, sizeof(*nc->port_fds));
	if (!nc->ports || !nc->port_fds)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (size_t i = 0; i < nw; i++) {
		struct skiff_port *p = &nc->ports[nc->nports];
		uint16_t got = 0;
		int fd = -1;
		*p = w[i].p;
		r = -EADDRINUSE;
		for (uint32_t port = w[i].lo; port <= w[i].hi && r == -EADDRINUSE; port++)
			r = reserve(p, (uint16_t)port, &fd, &got);
		if (r < 0) {
			char ip[16], hp[16];
			skiff_ip_format(p->host_ip, ip, sizeof(ip));
			if (w[i].lo == w[i].hi)
				snprintf(hp, sizeof(hp), "%u", w[i].lo);
			else
				snprintf(hp, sizeof(hp), "%u-%u", w[i].lo, w[i].hi);
			if (r == -EADDRINUSE)
				return skiff_error_set(err, SKIFF_EINTERNAL, EADDRINUSE,
						       "driver failed programming external connectivity on endpoint %s (%s): Bind for %s:%s failed: port is already allocated",
						       nc->name, nc->id, ip, hp);
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r,
					       "driver failed programming external connectivity on endpoint %s (%s): Bind for %s:%s failed",
					       nc->name, nc->id, ip, hp);
		}
		p->host_port = got;
		nc->port_fds[nc->nports++] = fd;
	}
	if (m->bpf && skiff_bpf_net_has_ports(m->bpf)) {
		r = skiff_bpf_ports_add(m->bpf, nc->ports, nc->nports, err);
		if (r < 0)
			return r;
		nc->bpf_ports = true;
	}
	if (m->nft) {
		r = skiff_nft_ports_add(m->nft, nc->ports, nc->nports, err);
		if (r < 0)
			return r;
		nc->nft_ports = true;
	}
	return 0;
}

int net_ports_readopt(struct skiff_net *m, struct net_ctr *nc)
{
	nc->port_fds = calloc(nc->nports + 1, sizeof(*nc->port_fds));
	if (!nc->port_fds)
		return -ENOMEM;
	for (size_t i = 0; i < nc->nports; i++) {
		uint16_t got;
		if (reserve(&nc->ports[i], nc->ports[i].host_port, &nc->port_fds[i], &got) < 0)
			nc->port_fds[i] = -1;
	}
	/* the map elements and the nft set entries outlived skiffd */
	nc->bpf_ports = m->bpf && skiff_bpf_net_has_ports(m->bpf);
	nc->nft_ports = m->nft != NULL;
	return 0;
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "udp" : "tcp";
}

/* {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": null} */
json_t *net_ports_inspect(struct skiff_net *m, const struct skiff_ctr *c)
{
	struct net_ctr *nc = m ? net_ctr_find(m, c->id) : NULL;
	json_t *o = json_object();
	const char *k;
	json_t *v;

	if (!nc)
		return o;
	json_object_foreach(json_object_get(c->config, "ExposedPorts"), k, v)
	{
		char key[32];
		uint16_t port;
		uint8_t proto;
		if (parse_key(k, &port, &proto) == 0) {
			snprintf(key, sizeof(key), "%u/%s", port, proto_name(proto));
			json_object_set_new(o, key, json_null());
		}
	}
	for (size_t i = 0; i < nc->nports; i++) {
		const struct skiff_port *p = &nc->ports[i];
		char key[32], ip[16], hp[8];
		json_t *a;
		snprintf(key, sizeof(key), "%u/%s", p->ctr_port, proto_name(p->proto));
		skiff_ip_format(p->host_ip, ip, sizeof(ip));
		snprintf(hp, sizeof(hp), "%u", p->host_port);
		a = json_object_get(o, key);
		if (!json_is_array(a)) {
			a = json_array();
			json_object_set_new(o, key, a);
		}
		json_array_append_new(a, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", hp));
	}
	return o;
}

/* [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}, {"PrivatePort": 81, "Type": "tcp"}] */
json_t *skiff_net_ctr_ports_ps(struct skiff_daemon *d, const struct skiff_ctr *c)
{
	struct net_ctr *nc = d && d->net ? net_ctr_find(d->net, c->id) : NULL;
	json_t *a = json_array();
	const char *k;
	json_t *v;

	if (!nc)
		return a;
	for (size_t i = 0; i < nc->nports; i++) {
		char ip[16];
		skiff_ip_format(nc->ports[i].host_ip, ip, sizeof(ip));
		json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:s}", "IP", ip, "PrivatePort", nc->ports[i].ctr_port,
						   "PublicPort", nc->ports[i].host_port, "Type",
						   proto_name(nc->ports[i].proto)));
	}
	json_object_foreach(json_object_get(c->config, "ExposedPorts"), k, v)
	{
		uint16_t port;
		uint8_t proto;
		bool published = false;
		if (parse_key(k, &port, &proto) < 0)
			continue;
		for (size_t i = 0; i < nc->nports; i++)
			published |= nc->ports[i].ctr_port == port && nc->ports[i].proto == proto;
		if (!published)
			json_array_append_new(a, json_pack("{s:i, s:s}", "PrivatePort", port, "Type", proto_name(proto)));
	}
	return a;
}
