/* Containers' endpoints and the data path: the host side made at skiffd
 * start (netns pool, nft table, BPF programs, DNS, the default bridge),
 * each network's bridge made on first use, and per container at start a
 * pooled netns with one veth per network, addresses, routes, published
 * ports, BPF accounting/policy and DNS names; undone at stop. What a
 * running container holds is kept in <ctr dir>/net.json so a restarted
 * skiffd re-adopts it. */
#include <arpa/inet.h>
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <signal.h>
#include <unistd.h>

#include "../daemon/container-config.h"
#include "../daemon/container.h"
#include "../daemon/daemon.h"
#include "../daemon/events.h"
#include "../daemon/names.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../runtime/cgroup.h"
#include "../runtime/start-trace.h"
#include "net-internal.h"
#include "ports.h"

#define BPF_FS_MAGIC_ 0xcafe4a11
#define NETNS_POOL_SIZE 4

/* ---- host side ---- */

/* ifindex by name: if_nametoindex in skiffd's namespace; in another one
 * (ns_fd >= 0) by entering it on this thread for the lookup. */
static int ifindex_in(int ns_fd, const char *name)
{
	_cleanup_close_ int self = -1;
	unsigned idx;
	int e;

	if (ns_fd < 0) {
		idx = if_nametoindex(name);
		return idx ? (int)idx : -ENODEV;
	}
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(ns_fd, CLONE_NEWNET) < 0)
		return -errno;
	idx = if_nametoindex(name);
	e = errno;
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* skiffd left in a container's namespace would be worse */
	return idx ? (int)idx : -(e ? e : ENODEV);
}

static int ensure_bpffs(void)
{
	struct statfs st;
	if (statfs("/sys/fs/bpf", &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC_)
		return 0;
	mkdir("/sys/fs/bpf", 0755);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	log_info("mounted bpffs on /sys/fs/bpf");
	return 0;
}

static void set_ip_forward(struct skiff_net *m)
{
	_cleanup_free_ char *cur = NULL;
	if (m->forward_set)
		return;
	m->forward_set = true;
	if (skiff_read_file("/proc/sys/net/ipv4/ip_forward", &cur, NULL) == 0 && cur[0] == '1')
		return;
	if (skiff_write_file("/proc/sys/net/ipv4/ip_forward", "1") < 0)
		log_warn("cannot set net.ipv4.ip_forward=1: containers cannot reach other hosts");
}

static void warn(struct skiff_net *m, const char *fmt, const char *what)
{
	char line[600];
	snprintf(line, sizeof(line), fmt, what);
	log_warn("%s", line);
	json_array_append_new(m->d->warnings, json_sprintf("WARNING: %s", line));
}

/* A host_ip 0 published port answers on every local address. */
static void refresh_local_addrs(struct skiff_net *m)
{
	_cleanup_free_ uint32_t *addrs = NULL;
	size_t n = 0;
	if (!m->bpf || !skiff_bpf_net_has_ports(m->bpf))
		return;
	if (skiff_nl_local_addrs(&m->nl, &addrs, &n) == 0)
		skiff_bpf_local_addrs_set(m->bpf, addrs, n);
}

static int dns_lookup(void *data, uint32_t client_ip, const char *name, uint32_t *addrs, int max);

/* ---- lease files: written behind ----
 * A start or stop changes the leases in memory and the file is written
 * after the loop's next poll (the reply to the request goes first), once
 * for however many changes came meanwhile. Why a crash cannot hand an
 * address out twice: the record of a running container's addresses is its
 * net.json, written before the spawn request (the container cannot run
 * without it; connect writes it before making the veth) and removed only
 * after the container has stopped. A restarted skiffd adopts the running
 * containers the monitor reports, claims each address of their net.json
 * back (skiff_ipam_claim: the record wins over a stale file), and only then
 * releases the leases of owners that are not running. So a stale
 * leases.json (a lease not yet written, a release not yet written) costs
 * nothing: a missing lease of a running container is claimed back, an
 * extra one of a stopped owner is released. One skiff_net per process. */
static struct event *lease_flush_ev;

static void lease_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_net *m = arg;
	(void)fd;
	(void)what;
	for (size_t i = 0; i < m->n; i++) {
		struct skiff_ipam *ipam = m->v[i]->ipam;
		int r = ipam ? skiff_ipam_flush(ipam) : 0;
		if (r < 0)
			log_warn("network %s: writing its IP leases: %s", m->v[i]->name, strerror(-r));
	}
}

static void leases_changed(void)
{
	static const struct timeval now = { 0, 0 };
	if (lease_flush_ev && !evtimer_pending(lease_flush_ev, NULL))
		evtimer_add(lease_flush_ev, &now);
}

/* Every lease change in this file goes through here: write-behind on
 * (network.c may have opened the ipam since), a flush due. */
static struct skiff_ipam *ipam_of(struct skiff_network *n)
{
	if (!n->ipam)
		return NULL;
	if (lease_flush_ev) {
		skiff_ipam_set_write_behind(n->ipam, true);
		leases_changed();
	}
	return n->ipam;
}

int net_datapath_init(struct skiff_net *m, const struct skiff_net_opts *o, struct skiff_error *err)
{
	struct skiff_daemon *d = m->d;
	struct skiff_error e = { 0 };
	int r;

	r = skiff_netns_pool_new(d->base, NETNS_POOL_SIZE, &m->pool);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating the network namespace pool");
	if (d->base && !(lease_flush_ev = evtimer_new(d->base, lease_flush_cb, m)))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	r = skiff_nft_open(m->table, &m->nft, &e);
	if (r < 0) {
		warn(m, "nftables table unavailable (%s): no masquerade, no published ports from other hosts", e.msg);
		m->nft = NULL;
	}
	r = ensure_bpffs();
	if (r < 0)
		log_warn("mounting bpffs on /sys/fs/bpf: %s", strerror(-r));
	if (d->cgroups.v2_root[0]) {
		struct skiff_bpf_net_opts bo = { .pin_dir = m->pin_dir, .v2_root = d->cgroups.v2_root,
						 .no_ports = o->no_bpf_ports };
		skiff_error_clear(&e);
		if (skiff_bpf_net_open(&bo, &m->bpf, &e) < 0) {
			warn(m, "eBPF networking programs unavailable: %s", e.msg);
			m->bpf = NULL;
		}
	} else {
		warn(m, "%s", "no cgroup2 hierarchy: no eBPF port redirection, accounting or egress policy");
	}
	if (!m->bpf || !skiff_bpf_net_has_ports(m->bpf)) {
		char st[256] = "";
		if (m->bpf)
			skiff_bpf_net_status(m->bpf, st, sizeof(st));
		if (m->nft) {
			skiff_error_clear(&e);
			if (skiff_nft_local_dnat(m->nft, true, &e) < 0)
				warn(m, "published ports: no host-local path: %s", e.msg);
		}
		snprintf(m->status, sizeof(m->status),
			 "published ports for host-local clients use the nftables DNAT fallback (route_localnet)%s%s",
			 st[0] ? ": " : "", st);
		warn(m, "%s", m->status);
	} else if (m->nft) {
		skiff_nft_local_dnat(m->nft, false, NULL);
	}
	r = skiff_dns_new(d->base, dns_lookup, m, &m->dns);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating the DNS resolver");
	if (o->dns[0]) {
		r = skiff_dns_set_upstreams(m->dns, o->dns, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < m->n; i++) {
		r = net_up(m, m->v[i], err);
		if (r < 0 && m->v[i]->is_default)
			return r;
		if (r < 0) {
			log_warn("network %s: %s", m->v[i]->name, err->msg);
			skiff_error_clear(err);
		}
	}
	/* starts on the default bridge take a namespace whose veth pair is
	 * already there, its host end enslaved (renamed and set up at start) */
	for (size_t i = 0; i < m->n; i++) {
		if (!m->v[i]->is_default || !m->v[i]->up)
			continue;
		skiff_error_clear(&e);
		if (skiff_netns_pool_set_bridge(m->pool, m->v[i]->bridge, &e) < 0)
			log_warn("no pooled veth pairs: %s", e.msg);
	}
	refresh_local_addrs(m);
	return 0;
}

void net_datapath_close(struct skiff_net *m)
{
	for (size_t i = 0; i < m->nctrs; i++) {
		struct net_ctr *nc = m->ctrs[i];
		skiff_netns_close(&nc->ns);
		for (size_t j = 0; nc->port_fds && j < nc->nports; j++)
			if (nc->port_fds[j] >= 0)
				close(nc->port_fds[j]);
		for (int j = 0; j < nc->neps; j++)
			json_decref(nc->eps[j].aliases);
		free(nc->port_fds);
		free(nc->ports);
		free(nc->name);
		free(nc->hostname);
		free(nc);
	}
	free(m->ctrs);
	m->ctrs = NULL;
	m->nctrs = 0;
	if (lease_flush_ev) {
		lease_flush_cb(-1, 0, m); /* what is still due */
		event_free(lease_flush_ev);
		lease_flush_ev = NULL;
	}
	skiff_dns_free(m->dns);
	m->dns = NULL;
	skiff_bpf_net_close(m->bpf);
	m->bpf = NULL;
	skiff_nft_close(m->nft);
	m->nft = NULL;
	skiff_netns_pool_free(m->pool);
	m->pool = NULL;
}

int net_up(struct skiff_net *m, struct skiff_network *n, struct skiff_error *err)
{
	int idx, r;

	if (n->up || strcmp(n->driver, "bridge"))
		return 0;
	r = skiff_nl_bridge_add(&m->nl, n->bridge, 0);
	if (r < 0 && r != -EEXIST)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating bridge %s of network %s", n->bridge, n->name);
	idx = ifindex_in(-1, n->bridge);
	if (idx < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -idx, "bridge %s of network %s", n->bridge, n->name);
	r = skiff_nl_addr_add(&m->nl, idx, n->gateway, n->subnet.len);
	if (r < 0 && r != -EEXIST)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "adding the gateway address to bridge %s", n->bridge);
	r = skiff_nl_link_up(&m->nl, idx);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "setting bridge %s up", n->bridge);
	set_ip_forward(m);
	if (m->nft && (r = skiff_nft_network_set(m->nft, n->bridge, &n->subnet, n->internal, err)) < 0)
		return r;
	if (!n->is_default && m->dns && !n->dns) {
		struct skiff_error e = { 0 };
		if (skiff_dns_listen(m->dns, n->gateway, 53, &e) < 0)
			log_warn("network %s: no DNS for its containers: %s", n->name, e.msg);
		else
			n->dns = true;
	}
	n->up = true;
	refresh_local_addrs(m);
	return 0;
}

void net_down(struct skiff_net *m, struct skiff_network *n)
{
	if (strcmp(n->driver, "bridge"))
		return;
	if (n->dns && m->dns)
		skiff_dns_unlisten(m->dns, n->gateway);
	n->dns = false;
	if (m->nft)
		skiff_nft_network_del(m->nft, n->bridge, NULL);
	skiff_nl_link_del(&m->nl, n->bridge);
	n->up = false;
}

const char *skiff_net_status(struct skiff_daemon *d, char *out, size_t outlen)
{
	if (!d->net || !d->net->status[0])
		return NULL;
	snprintf(out, outlen, "%s", d->net->status);
	return out;
}

/* ---- which networks a container is on ---- */

static json_t *eps_config(const struct skiff_ctr *c)
{
	return json_object_get(c->net_config, "EndpointsConfig");
}

static bool is_ip_field_set(const json_t *epc)
{
	return *skiff_json_str(json_object_get(epc, "IPAMConfig"), "IPv4Address", "");
}

int skiff_net_ctr_create(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	const char *mode = skiff_json_str(c->host_config, "NetworkMode", "bridge"), *target;
	json_t *in = eps_config(c), *out, *epc;
	const char *key;
	int nm = skiff_ctr_netmode(c->host_config, &target);

	if (!strcmp(mode, "default"))
		mode = "bridge";
	if (nm == SKIFF_NET_CONTAINER) {
		json_decref(c->net_config);
		c->net_config = json_pack("{s:{}}", "EndpointsConfig");
		return 0;
	}
	if (!m)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOTCONN, "networking is not available");
	{ /* bad port specs (IPv6 host addresses included) fail the create, not a later start */
		struct skiff_port *p = NULL;
		size_t np = 0;
		int r = skiff_ports_parse(json_object_get(c->host_config, "PortBindings"),
					  skiff_json_bool(c->host_config, "PublishAllPorts", false),
					  json_object_get(c->config, "ExposedPorts"), &p, NULL, &np, err);
		free(p);
		if (r < 0)
			return r;
	}
	if (in && !json_is_object(in) && !json_is_null(in))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "NetworkingConfig.EndpointsConfig must be an object");
	if (json_object_size(in) > 1 && (nm == SKIFF_NET_HOST || nm == SKIFF_NET_NONE))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Container cannot be connected to network endpoints: a %s container has only that network",
				       mode);
	out = json_object();
	/* the NetworkMode network first: it is eth0 and carries the default route */
	{
		struct skiff_network *n = net_find(m, mode, err);
		json_t *given;
		if (!n) {
			json_decref(out);
			return -ENOENT;
		}
		given = json_object_get(in, mode);
		if (!given && !strcmp(mode, "bridge"))
			given = json_object_get(in, "default");
		if (!given)
			given = json_object_get(in, n->name);
		if (!given)
			given = json_object_get(in, n->id);
		json_object_set_new(out, n->name, json_is_object(given) ? json_deep_copy(given) : json_object());
	}
	json_object_foreach(in, key, epc)
	{
		struct skiff_network *n = net_find(m, !strcmp(key, "default") ? "bridge" : key, err);
		if (!n) {
			json_decref(out);
			return -ENOENT;
		}
		if (!json_object_get(out, n->name))
			json_object_set_new(out, n->name, json_is_object(epc) ? json_deep_copy(epc) : json_object());
	}
	skiff_error_clear(err);
	json_object_foreach(out, key, epc)
	{
		struct skiff_network *n = net_find(m, key, NULL);
		const char *ip = skiff_json_str(json_object_get(epc, "IPAMConfig"), "IPv4Address", "");
		uint32_t a;
		if (n->predefined && is_ip_field_set(epc)) {
			json_decref(out);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "user specified IP address is supported on user defined networks only");
		}
		if (n->predefined && json_array_size(json_object_get(epc, "Aliases"))) {
			json_decref(out);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "network-scoped alias is supported only for containers in user defined networks");
		}
		if (*ip && !n->user_subnet) {
			json_decref(out);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "user specified IP address is supported only when connecting to networks with user configured subnets");
		}
		if (*ip && (skiff_ip_parse(ip, &a) < 0 || !skiff_cidr_contains(&n->subnet, a))) {
			json_decref(out);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid IPv4 address %s: it is not in the subnet of network %s", ip,
					       n->name);
		}
		json_object_set_new(epc, "NetworkID", json_string(n->id));
	}
	json_decref(c->net_config);
	c->net_config = json_pack("{s:o}", "EndpointsConfig", out);
	return 0;
}

bool skiff_net_ctr_on_network(struct skiff_daemon *d, const struct skiff_ctr *c, const char *key)
{
	const char *k;
	json_t *epc;
	json_object_foreach(eps_config(c), k, epc)
	{
		if (!strcmp(k, key) || !strcmp(skiff_json_str(epc, "NetworkID", ""), key))
			return true;
		if (d->net) {
			struct skiff_network *n = net_find(d->net, key, NULL);
			if (n && !strcmp(n->name, k))
				return true;
		}
	}
	return false;
}

/* ---- per-container runtime state ---- */

static struct net_ctr *ctr_new(struct skiff_net *m, const struct skiff_ctr *c)
{
	struct net_ctr *nc = calloc(1, sizeof(*nc));
	struct net_ctr **v;
	char hb[13];
	if (!nc)
		return NULL;
	v = realloc(m->ctrs, (m->nctrs + 1) * sizeof(*v));
	if (!v) {
		free(nc);
		return NULL;
	}
	m->ctrs = v;
	snprintf(nc->id, sizeof(nc->id), "%s", c->id);
	nc->name = strdup(c->name + 1);
	nc->hostname = strdup(skiff_ctr_hostname(c, hb));
	nc->ns.fd = -1;
	nc->ns.nl.fd = -1;
	m->ctrs[m->nctrs++] = nc;
	return nc;
}

static void ctr_ports_release(struct skiff_net *m, struct net_ctr *nc)
{
	if (nc->bpf_ports && m->bpf)
		skiff_bpf_ports_del(m->bpf, nc->ports, nc->nports);
	if (nc->nft_ports && m->nft)
		skiff_nft_ports_del(m->nft, nc->ports, nc->nports, NULL);
	nc->bpf_ports = nc->nft_ports = false;
	for (size_t j = 0; nc->port_fds && j < nc->nports; j++)
		if (nc->port_fds[j] >= 0)
			close(nc->port_fds[j]);
	free(nc->port_fds);
	free(nc->ports);
	nc->port_fds = NULL;
	nc->ports = NULL;
	nc->nports = 0;
}

/* Undoes everything of nc (the veths die with the netns) and frees it. */
static void ctr_free(struct skiff_net *m, struct net_ctr *nc)
{
	ctr_ports_release(m, nc);
	if (nc->bpf && m->bpf)
		skiff_bpf_ctr_detach(m->bpf, nc->id);
	for (int j = 0; j < nc->neps; j++) {
		if (nc->eps[j].net && nc->eps[j].net->ipam)
			skiff_ipam_release(ipam_of(nc->eps[j].net), nc->id);
		json_decref(nc->eps[j].aliases);
	}
	skiff_netns_close(&nc->ns);
	for (size_t i = 0; i < m->nctrs; i++)
		if (m->ctrs[i] == nc) {
			memmove(m->ctrs + i, m->ctrs + i + 1, (m->nctrs - i - 1) * sizeof(*m->ctrs));
			m->nctrs--;
			break;
		}
	free(nc->name);
	free(nc->hostname);
	free(nc);
}

static void mac_of(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x42;
	mac[2] = (uint8_t)(ip >> 24);
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

static void host_veth_name(const char *id, int index, char out[16])
{
	snprintf(out, 16, "skv%.10s%d", id, index);
}

static void ctr_persist(const struct skiff_ctr *c, const struct net_ctr *nc);

/* One endpoint: lease, veth into the netns, address, up, default route.
 * The first endpoint of a namespace from take_veth() on the default bridge
 * uses the pooled pair: its host end gets the endpoint's name and goes up,
 * eth0 its MAC, address and route, two netlink round trips in all. record:
 * a running container (connect) whose net.json must name the address
 * before its veth exists (see "lease files" above). */
static int ep_make(struct skiff_net *m, struct net_ctr *nc, struct skiff_network *n, const json_t *epc,
		   bool default_route, const struct skiff_ctr *record, struct skiff_error *err)
{
	struct net_ep *e = &nc->eps[nc->neps];
	const char *want_s = skiff_json_str(json_object_get(epc, "IPAMConfig"), "IPv4Address", "");
	const uint8_t *set_mac = NULL;
	char host[16], peer[16];
	uint32_t want = 0;
	int br, idx, r;

	if (nc->neps >= NET_MAX_EPS)
		return skiff_error_set(err, SKIFF_EINVAL, E2BIG, "a container can be on at most %d networks",
				       NET_MAX_EPS);
	r = net_up(m, n, err);
	if (r < 0)
		return r;
	if (*want_s)
		skiff_ip_parse(want_s, &want);
	START_TRACE(nc->id, "net:ep:up");
	r = skiff_ipam_alloc(ipam_of(n), nc->id, want, &e->ip, err);
	START_TRACE(nc->id, "net:ep:ipam");
	if (r < 0) {
		if (r == -ENOSPC)
			skiff_error_set(err, SKIFF_EUNAVAIL, ENOSPC,
					"no available IPv4 addresses on this network's address pools: %s (%s)", n->name,
					n->id);
		return r;
	}
	e->net = n;
	e->index = nc->neps;
	nc->neps++; /* from here on ctr_free releases the lease */
	e->aliases = json_deep_copy(json_object_get(epc, "Aliases"));
	skiff_id_generate(e->ep_id);
	mac_of(e->ip, e->mac);
	if (record)
		ctr_persist(record, nc);
	host_veth_name(nc->id, e->index, host);
	snprintf(peer, sizeof(peer), "eth%d", e->index);
	if (e->index == 0 && nc->ns.link > 0 && n->is_default) {
		r = skiff_netns_veth_claim(&nc->ns, &m->nl, host);
		if (r == -EEXIST) { /* left by a crash, or a stopped run's pair the kernel is still tearing down */
			skiff_nl_link_del(&m->nl, host);
			r = skiff_netns_veth_claim(&nc->ns, &m->nl, host);
		}
		if (r < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "setting up veth %s for network %s", host,
					       n->name);
		idx = nc->ns.link;
		set_mac = e->mac;
	} else {
		br = ifindex_in(-1, n->bridge);
		if (br < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -br, "bridge %s of network %s", n->bridge, n->name);
		/* a veth left by a crash between create and spawn: the name is ours */
		r = skiff_nl_veth_add(&m->nl, host, peer, nc->ns.fd, br, e->mac, 0);
		if (r == -EEXIST) {
			skiff_nl_link_del(&m->nl, host);
			r = skiff_nl_veth_add(&m->nl, host, peer, nc->ns.fd, br, e->mac, 0);
		}
		if (r < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating veth %s for network %s", host, n->name);
		idx = skiff_nl_link_index(&nc->ns.nl, peer);
		if (idx < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -idx, "finding %s in the container's namespace",
					       peer);
	}
	START_TRACE(nc->id, "net:ep:veth");
	r = skiff_netns_link_setup(&nc->ns, idx, set_mac, e->ip, n->subnet.len, default_route ? n->gateway : 0);
	START_TRACE(nc->id, "net:ep:addr");
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "configuring %s of the container%s", peer,
				       default_route ? " (address, default route)" : "");
	return 0;
}

/* <ctr dir>/net.json: what a restarted skiffd needs to re-adopt the container. */
static void ctr_persist(const struct skiff_ctr *c, const struct net_ctr *nc)
{
	_cleanup_free_ char *p = skiff_path_join(c->dir, "net.json");
	_cleanup_json_ json_t *j = json_object(), *eps = json_array(), *ports = json_array();
	_cleanup_free_ char *s = NULL;

	for (int i = 0; i < nc->neps; i++)
		json_array_append_new(eps, json_pack("{s:s, s:s, s:I, s:i}", "Network", nc->eps[i].net->id,
						     "EndpointID", nc->eps[i].ep_id, "IP", (json_int_t)nc->eps[i].ip,
						     "Index", nc->eps[i].index));
	for (size_t i = 0; i < nc->nports; i++) {
		const struct skiff_port *pt = &nc->ports[i];
		json_array_append_new(ports, json_pack("{s:i, s:I, s:i, s:I, s:i}", "Proto", pt->proto, "HostIP",
						       (json_int_t)pt->host_ip, "HostPort", pt->host_port, "CtrIP",
						       (json_int_t)pt->ctr_ip, "CtrPort", pt->ctr_port));
	}
	json_object_set(j, "Endpoints", eps);
	json_object_set(j, "Ports", ports);
	json_object_set_new(j, "BPF", json_boolean(nc->bpf));
	s = json_dumps(j, JSON_COMPACT);
	if (p && s)
		skiff_write_replace(p, s, strlen(s), 0600);
}

/* ---- egress policy ---- */

static int parse_cidrs(const char *list, bool allow, struct skiff_bpf_rule *rules, size_t *n, size_t max,
		       struct skiff_error *err)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (*n >= max)
			return skiff_error_set(err, SKIFF_EINVAL, E2BIG, "too many egress CIDRs (at most %zu)", max);
		if (skiff_cidr_parse(t, false, &rules[*n].cidr) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid CIDR '%s' in an io.skiff.egress label", t);
		rules[(*n)++].allow = allow;
	}
	return 0;
}

#define MAX_RULES 64

/* labels io.skiff.egress.deny / .allow; a container only on internal
 * networks gets default deny plus its subnets. */
static int ctr_policy(const struct skiff_ctr *c, const struct net_ctr *nc, struct skiff_bpf_rule *rules,
		      struct skiff_bpf_policy *pol, struct skiff_error *err)
{
	json_t *labels = json_object_get(c->config, "Labels");
	const char *deny = skiff_json_str(labels, "io.skiff.egress.deny", NULL);
	const char *allow = skiff_json_str(labels, "io.skiff.egress.allow", NULL);
	bool all_internal = nc->neps > 0;
	size_t n = 0;
	int r;

	for (int i = 0; i < nc->neps; i++)
		all_internal &= nc->eps[i].net->internal;
	pol->default_deny = all_internal || allow;
	if (allow && (r = parse_cidrs(allow, true, rules, &n, MAX_RULES, err)) < 0)
		return r;
	if (deny && (r = parse_cidrs(deny, false, rules, &n, MAX_RULES, err)) < 0)
		return r;
	if (pol->default_deny)
		for (int i = 0; i < nc->neps && n < MAX_RULES; i++) {
			rules[n].cidr = nc->eps[i].net->subnet;
			rules[n++].allow = true;
		}
	pol->rules = rules;
	pol->nrules = n;
	return 0;
}

/* The container's v2 cgroup, made before the spawn so its cgroup_skb
 * programs see the first packet (spawn accepts an existing dir). */
static int ctr_cgroup_v2(struct skiff_daemon *d, const char *id, char *dir, size_t len, struct skiff_error *err)
{
	char parent[512];
	if (skiff_cgroup_path(&d->cgroups, NULL, id, dir, len) < 0)
		return -ENOENT;
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	/* the parent first, once per host boot or after the monitor removed it */
	snprintf(parent, sizeof(parent), "%s/%s", d->cgroups.v2_root, d->cgroups.parent);
	if (errno != ENOENT || (mkdir(parent, 0755) < 0 && errno != EEXIST))
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mkdir %s", errno == ENOENT ? parent : dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "mkdir %s", dir);
	return 0;
}

static int ctr_bpf(struct skiff_net *m, const struct skiff_ctr *c, struct net_ctr *nc, struct skiff_error *err)
{
	struct skiff_bpf_rule rules[MAX_RULES];
	struct skiff_bpf_policy pol = { 0 };
	char dir[600];
	int r;

	if (!m->bpf || !skiff_bpf_net_has_acct(m->bpf))
		return 0;
	r = ctr_policy(c, nc, rules, &pol, err);
	if (r < 0)
		return r;
	/* No interface but lo and nothing to enforce (--network none): no
	 * programs, and no network stats, as with Docker. */
	if (!nc->neps && !pol.default_deny && !pol.nrules && !nc->bpf)
		return 0;
	r = ctr_cgroup_v2(m->d, c->id, dir, sizeof(dir), err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = skiff_bpf_ctr_attach(m->bpf, c->id, dir, &pol, err);
	if (r < 0)
		return r;
	nc->bpf = true;
	return 0;
}

/* ---- start / stop ---- */

int skiff_net_ctr_start(struct skiff_daemon *d, struct skiff_ctr *c, char *netns, size_t netns_len,
			struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	struct net_ctr *nc;
	const char *key;
	json_t *epc;
	bool routed = false;
	int nm = skiff_ctr_netmode(c->host_config, NULL), r;

	if (nm == SKIFF_NET_HOST || nm == SKIFF_NET_CONTAINER)
		return 0;
	if (!m) {
		snprintf(netns, netns_len, "new");
		return 0;
	}
	if ((nc = net_ctr_find(m, c->id)))
		ctr_free(m, nc); /* left from a start whose spawn never reported */
	nc = ctr_new(m, c);
	if (!nc || !nc->name || !nc->hostname)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	{
		/* the first bridge endpoint on the default network: a namespace
		 * with its veth pair made ahead of time */
		struct skiff_network *first = NULL;
		json_object_foreach(eps_config(c), key, epc)
		{
			struct skiff_network *n = net_find(m, key, NULL);
			if (n && !strcmp(n->driver, "bridge")) {
				first = n;
				break;
			}
		}
		r = first && first->is_default ? skiff_netns_pool_take_veth(m->pool, &nc->ns, err)
					       : skiff_netns_pool_take(m->pool, &nc->ns, err);
	}
	if (r < 0)
		goto fail;
	START_TRACE(c->id, "net:netns");
	json_object_foreach(eps_config(c), key, epc)
	{
		struct skiff_network *n = net_find(m, key, err);
		if (!n) {
			r = skiff_error_wrap(err, "starting container '%s'", c->name + 1);
			goto fail;
		}
		if (strcmp(n->driver, "bridge"))
			continue;
		r = ep_make(m, nc, n, epc, !routed && !n->internal, NULL, err);
		if (r < 0)
			goto fail;
		routed |= !n->internal;
		START_TRACE(c->id, "net:endpoint");
	}
	r = net_ports_setup(m, c, nc, err);
	if (r < 0)
		goto fail;
	START_TRACE(c->id, "net:ports");
	r = ctr_bpf(m, c, nc, err);
	if (r < 0)
		goto fail;
	START_TRACE(c->id, "net:bpf");
	ctr_persist(c, nc);
	skiff_netns_path(&nc->ns, netns, netns_len);
	return 0;
fail:
	ctr_free(m, nc);
	return r;
}

int skiff_net_build_attach(struct skiff_daemon *d, const char *step_id, char *netns, size_t netns_len,
			   struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	struct skiff_network *n = NULL;
	struct net_ctr *nc, **v;
	int r;

	for (size_t i = 0; m && i < m->n; i++)
		if (m->v[i]->is_default)
			n = m->v[i];
	if (!n)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENODEV, "the default bridge network is not available");
	if ((nc = net_ctr_find(m, step_id)))
		ctr_free(m, nc);
	if (!(nc = calloc(1, sizeof(*nc))) || !(v = realloc(m->ctrs, (m->nctrs + 1) * sizeof(*v)))) {
		free(nc);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	m->ctrs = v;
	snprintf(nc->id, sizeof(nc->id), "%s", step_id);
	nc->name = strdup("build");
	nc->hostname = strdup("build");
	nc->ns.fd = nc->ns.nl.fd = -1;
	m->ctrs[m->nctrs++] = nc;
	if ((r = skiff_netns_pool_take_veth(m->pool, &nc->ns, err)) < 0 ||
	    (r = ep_make(m, nc, n, NULL, true, NULL, err)) < 0) {
		ctr_free(m, nc);
		return skiff_error_wrap(err, "networking for a build step");
	}
	skiff_netns_path(&nc->ns, netns, netns_len);
	return 0;
}

void skiff_net_build_detach(struct skiff_daemon *d, const char *step_id)
{
	struct net_ctr *nc = d->net ? net_ctr_find(d->net, step_id) : NULL;
	if (nc)
		ctr_free(d->net, nc);
}

void skiff_net_ctr_spawned(struct skiff_daemon *d, struct skiff_ctr *c, int pid)
{
	struct net_ctr *nc = d->net ? net_ctr_find(d->net, c->id) : NULL;
	if (!nc)
		return;
	if (pid <= 0) {
		char dir[600];
		bool bpf = nc->bpf;
		ctr_free(d->net, nc);
		/* the cgroup we made for the programs: the spawn did not take it */
		if (bpf && skiff_cgroup_path(&d->cgroups, NULL, c->id, dir, sizeof(dir)) == 0)
			rmdir(dir);
		return;
	}
	nc->pid = pid;
	skiff_netns_close(&nc->ns); /* the init holds the namespace now */
}

static void ports_from_json(const json_t *a, struct skiff_port **out, size_t *n)
{
	json_t *e;
	size_t i;
	*out = calloc(json_array_size(a) + 1, sizeof(**out));
	*n = 0;
	if (!*out)
		return;
	json_array_foreach(a, i, e)
	{
		struct skiff_port *p = &(*out)[(*n)++];
		p->proto = (uint8_t)skiff_json_int(e, "Proto", 6);
		p->host_ip = (uint32_t)skiff_json_int(e, "HostIP", 0);
		p->host_port = (uint16_t)skiff_json_int(e, "HostPort", 0);
		p->ctr_ip = (uint32_t)skiff_json_int(e, "CtrIP", 0);
		p->ctr_port = (uint16_t)skiff_json_int(e, "CtrPort", 0);
	}
}

void skiff_net_ctr_stop(struct skiff_daemon *d, struct skiff_ctr *c)
{
	struct skiff_net *m = d->net;
	struct net_ctr *nc = m ? net_ctr_find(m, c->id) : NULL;
	_cleanup_free_ char *p = skiff_path_join(c->dir, "net.json");
	_cleanup_json_ json_t *j = NULL;

	if (nc) {
		ctr_free(m, nc);
	} else if (m && p && skiff_json_read_file(p, &j) == 0) {
		/* it exited while skiffd was away: its kernel entries are still there */
		_cleanup_free_ struct skiff_port *ports = NULL;
		size_t np = 0;
		ports_from_json(json_object_get(j, "Ports"), &ports, &np);
		if (np && m->bpf && skiff_bpf_net_has_ports(m->bpf))
			skiff_bpf_ports_del(m->bpf, ports, np);
		if (np && m->nft)
			skiff_nft_ports_del(m->nft, ports, np, NULL);
		if (m->bpf)
			skiff_bpf_ctr_detach(m->bpf, c->id);
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i]->ipam)
				skiff_ipam_release(ipam_of(m->v[i]), c->id);
	}
	/* after the releases: the record goes last (see "lease files") */
	if (p)
		unlink(p);
}

int skiff_net_ctr_adopt(struct skiff_daemon *d, struct skiff_ctr *c)
{
	struct skiff_net *m = d->net;
	_cleanup_free_ char *p = skiff_path_join(c->dir, "net.json");
	_cleanup_json_ json_t *j = NULL;
	struct skiff_error err = { 0 };
	struct net_ctr *nc;
	json_t *e;
	size_t i;

	if (!m || !p || skiff_json_read_file(p, &j) < 0)
		return 0;
	nc = ctr_new(m, c);
	if (!nc)
		return -ENOMEM;
	nc->pid = c->pid;
	json_array_foreach(json_object_get(j, "Endpoints"), i, e)
	{
		struct skiff_network *n = net_find(m, skiff_json_str(e, "Network", ""), NULL);
		struct net_ep *ep;
		const char *k;
		json_t *epc;
		if (!n || nc->neps >= NET_MAX_EPS)
			continue;
		ep = &nc->eps[nc->neps++];
		ep->net = n;
		ep->ip = (uint32_t)skiff_json_int(e, "IP", 0);
		ep->index = (int)skiff_json_int(e, "Index", 0);
		snprintf(ep->ep_id, sizeof(ep->ep_id), "%s", skiff_json_str(e, "EndpointID", ""));
		mac_of(ep->ip, ep->mac);
		json_object_foreach(eps_config(c), k, epc) if (!strcmp(skiff_json_str(epc, "NetworkID", ""), n->id))
			ep->aliases = json_deep_copy(json_object_get(epc, "Aliases"));
		/* net.json is the record: it wins over a stale lease file */
		if (n->ipam && skiff_ipam_claim(ipam_of(n), c->id, ep->ip, &err) < 0)
			log_warn("container %.12s: its address on %s: %s", c->id, n->name, err.msg);
		if (net_up(m, n, &err) < 0)
			log_warn("network %s: %s", n->name, err.msg);
	}
	ports_from_json(json_object_get(j, "Ports"), &nc->ports, &nc->nports);
	if (nc->nports)
		net_ports_readopt(m, nc);
	/* set first: its pins are ours to remove at stop even if this fails */
	nc->bpf = skiff_json_bool(j, "BPF", false);
	if (nc->bpf && ctr_bpf(m, c, nc, &err) < 0)
		log_warn("container %.12s: re-attaching its eBPF programs: %s", c->id, err.msg);
	return 0;
}

static bool lease_keep(const char *owner, void *data)
{
	return net_ctr_find(data, owner) != NULL;
}

void skiff_net_reconcile(struct skiff_daemon *d)
{
	struct skiff_net *m = d->net;
	for (size_t i = 0; m && i < m->n; i++)
		if (m->v[i]->ipam)
			skiff_ipam_reconcile(ipam_of(m->v[i]), lease_keep, m);
}

void skiff_net_ctr_remove(struct skiff_daemon *d, struct skiff_ctr *c)
{
	skiff_net_ctr_stop(d, c);
	/* static leases (--ip) go with the container; dynamic ones went at stop */
	for (size_t i = 0; d->net && i < d->net->n; i++)
		if (d->net->v[i]->ipam)
			skiff_ipam_release(ipam_of(d->net->v[i]), c->id);
}

/* ---- what the container sees and shows ---- */

static const struct net_ep *ep_of(struct skiff_net *m, const char *id, const struct skiff_network *n)
{
	struct net_ctr *nc = m ? net_ctr_find(m, id) : NULL;
	for (int i = 0; nc && i < nc->neps; i++)
		if (!n || nc->eps[i].net == n)
			return &nc->eps[i];
	return NULL;
}

void skiff_net_ctr_etc(struct skiff_daemon *d, const struct skiff_ctr *c, char ip[16], char nameserver[16])
{
	const struct net_ctr *nc = d->net ? net_ctr_find(d->net, c->id) : NULL;
	ip[0] = nameserver[0] = '\0';
	if (!nc || !nc->neps)
		return;
	skiff_ip_format(nc->eps[0].ip, ip, 16);
	for (int i = 0; i < nc->neps; i++)
		if (!nc->eps[i].net->predefined && nc->eps[i].net->dns) {
			skiff_ip_format(nc->eps[i].net->gateway, nameserver, 16);
			break;
		}
}

static json_t *endpoint_json(struct skiff_net *m, const struct skiff_ctr *c, const char *name, const json_t *epc)
{
	struct skiff_network *n = m ? net_find(m, name, NULL) : NULL;
	const struct net_ep *e = n ? ep_of(m, c->id, n) : NULL;
	json_t *ipam = json_object_get(epc, "IPAMConfig"), *aliases = json_object_get(epc, "Aliases");
	json_t *dnsnames = json_null();
	char ip[16] = "", gw[16] = "", mac[18] = "";
	int plen = 0;

	if (e) {
		skiff_ip_format(e->ip, ip, sizeof(ip));
		skiff_ip_format(n->gateway, gw, sizeof(gw));
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0], e->mac[1], e->mac[2], e->mac[3],
			 e->mac[4], e->mac[5]);
		plen = n->subnet.len;
	}
	if (n && !n->predefined) {
		char hb[13], sid[13];
		json_t *v;
		size_t i;
		dnsnames = json_array();
		json_array_append_new(dnsnames, json_string(c->name + 1));
		json_array_foreach(aliases, i, v) json_array_append(dnsnames, v);
		skiff_id_short(c->id, sid);
		json_array_append_new(dnsnames, json_string(sid));
		if (strcmp(skiff_ctr_hostname(c, hb), sid))
			json_array_append_new(dnsnames, json_string(skiff_ctr_hostname(c, hb)));
	}
	return json_pack("{s:O, s:n, s:O, s:s, s:O, s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:o}", "IPAMConfig",
			 json_is_object(ipam) && json_object_size(ipam) ? ipam : json_null(), "Links", "Aliases",
			 json_array_size(aliases) ? aliases : json_null(), "MacAddress", mac, "DriverOpts",
			 json_is_object(json_object_get(epc, "DriverOpts")) ? json_object_get(epc, "DriverOpts")
									     : json_null(),
			 "GwPriority", 0, "NetworkID", n ? n->id : skiff_json_str(epc, "NetworkID", ""), "EndpointID",
			 e ? e->ep_id : "", "Gateway", gw, "IPAddress", ip, "IPPrefixLen", plen, "IPv6Gateway", "",
			 "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "DNSNames", dnsnames);
}

json_t *skiff_net_ctr_networks_json(struct skiff_daemon *d, const struct skiff_ctr *c)
{
	json_t *o = json_object();
	const char *k;
	json_t *epc;
	json_object_foreach(eps_config(c), k, epc) json_object_set_new(o, k, endpoint_json(d->net, c, k, epc));
	return o;
}

void skiff_net_ctr_settings(struct skiff_daemon *d, const struct skiff_ctr *c, json_t *ns)
{
	json_t *nets = skiff_net_ctr_networks_json(d, c);
	json_t *def = json_object_get(nets, "bridge");
	struct net_ctr *nc = d->net ? net_ctr_find(d->net, c->id) : NULL;

	json_object_set_new(ns, "Networks", nets);
	if (def && nc) {
		static const char *const copy[] = { "EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress" };
		for (size_t i = 0; i < ARRAY_SIZE(copy); i++)
			json_object_set(ns, copy[i], json_object_get(def, copy[i]));
		json_object_set_new(ns, "Bridge", json_string(""));
	}
	json_object_set_new(ns, "Ports", net_ports_inspect(d->net, c));
}

json_t *skiff_net_ctr_stats(struct skiff_daemon *d, const struct skiff_ctr *c)
{
	struct skiff_net_counters k;
	struct net_ctr *nc = d->net ? net_ctr_find(d->net, c->id) : NULL;
	if (!nc || !nc->bpf || skiff_bpf_ctr_counters(d->net->bpf, c->id, &k) < 0)
		return NULL;
	return json_pack("{s:{s:I, s:I, s:i, s:I, s:I, s:I, s:i, s:I}}", "eth0", "rx_bytes", (json_int_t)k.rx_bytes,
			 "rx_packets", (json_int_t)k.rx_packets, "rx_errors", 0, "rx_dropped",
			 (json_int_t)k.rx_dropped, "tx_bytes", (json_int_t)k.tx_bytes, "tx_packets",
			 (json_int_t)k.tx_packets, "tx_errors", 0, "tx_dropped", (json_int_t)k.tx_dropped);
}

/* ---- DNS ---- */

static bool name_is(const struct net_ctr *nc, const struct net_ep *e, const char *name)
{
	size_t i;
	json_t *a;
	if (!strcasecmp(nc->name, name) || (nc->hostname && !strcasecmp(nc->hostname, name)) ||
	    (strlen(name) == 12 && !strncmp(nc->id, name, 12)))
		return true;
	json_array_foreach(e->aliases, i, a) if (json_string_value(a) && !strcasecmp(json_string_value(a), name)) return true;
	return false;
}

/* The client sees the names of every user network it is on (found by its
 * address), as with Docker's resolver; an unknown client its subnet's. */
static bool client_on(struct skiff_net *m, uint32_t client_ip, const struct skiff_network *n)
{
	bool known = false;
	for (size_t j = 0; j < m->nctrs; j++) {
		const struct net_ctr *nc = m->ctrs[j];
		bool mine = false, on = false;
		for (int x = 0; x < nc->neps; x++) {
			mine |= nc->eps[x].ip == client_ip && skiff_cidr_contains(&nc->eps[x].net->subnet, client_ip);
			on |= nc->eps[x].net == n;
		}
		if (mine && on)
			return true;
		known |= mine;
	}
	return !known && skiff_cidr_contains(&n->subnet, client_ip);
}

static int dns_lookup(void *data, uint32_t client_ip, const char *name, uint32_t *addrs, int max)
{
	struct skiff_net *m = data;
	int k = 0;
	for (size_t i = 0; i < m->n && k < max; i++) {
		struct skiff_network *n = m->v[i];
		if (n->predefined || strcmp(n->driver, "bridge") || !client_on(m, client_ip, n))
			continue;
		for (size_t j = 0; j < m->nctrs && k < max; j++)
			for (int x = 0; x < m->ctrs[j]->neps && k < max; x++) {
				const struct net_ep *e = &m->ctrs[j]->eps[x];
				if (e->net == n && name_is(m->ctrs[j], e, name))
					addrs[k++] = e->ip;
			}
	}
	return k;
}

/* ---- connect / disconnect ---- */

/* An rtnetlink socket inside a running container's namespace: enter it on
 * this thread, open, come back (skiffd's loop thread; nothing else runs). */
static int nl_in_pid(int pid, struct skiff_netns *ns)
{
	char path[64];
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	ns->fd = open(path, O_RDONLY | O_CLOEXEC);
	ns->nl.fd = -1;
	if (ns->fd < 0 || self < 0)
		return -errno;
	if (setns(ns->fd, CLONE_NEWNET) < 0)
		return -errno;
	r = skiff_nl_open(&ns->nl);
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* skiffd in a container's namespace would be worse */
	return r;
}

/* A running container connected to its first user network gets skiffd's
 * resolver, as Docker rebuilds resolv.conf then. Rewritten in place: the
 * container sees the file through a bind mount of this inode. */
static void resolv_use(const struct skiff_ctr *c, uint32_t gw)
{
	_cleanup_free_ char *p = skiff_path_join(c->dir, "resolv.conf"), *old = NULL, *out = NULL;
	char ip[16], *save = NULL;
	size_t len = 0;
	FILE *f;
	int fd;

	if (!p || skiff_read_file(p, &old, NULL) < 0)
		return;
	skiff_ip_format(gw, ip, sizeof(ip));
	if (strstr(old, "nameserver ") && !strncmp(old, "nameserver ", 11) && strstr(old, ip))
		return;
	f = open_memstream(&out, &len);
	if (!f)
		return;
	fprintf(f, "nameserver %s\n", ip);
	for (char *l = strtok_r(old, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, "nameserver", 10))
			fprintf(f, "%s\n", l);
	fclose(f);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd >= 0) {
		skiff_write_all(fd, out, len);
		close(fd);
	}
}

static json_t *ep_config_of(const json_t *body)
{
	json_t *epc = json_object_get(body, "EndpointConfig");
	return json_is_object(epc) ? json_deep_copy(epc) : json_object();
}

int skiff_network_connect(struct skiff_daemon *d, const char *key, const json_t *body, struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	struct skiff_network *n;
	struct skiff_ctr *c;
	struct net_ctr *nc;
	json_t *eps, *epc;
	const char *k;
	int nm, r;

	if (!m)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOTCONN, "networking is not available");
	if (!(n = net_find(m, key, err)))
		return -ENOENT;
	if (!(c = skiff_container_find(d, skiff_json_str(body, "Container", ""), err)))
		return -ENOENT;
	nm = skiff_ctr_netmode(c->host_config, NULL);
	if (!strcmp(n->driver, "host") || nm == SKIFF_NET_HOST)
		return skiff_error_set(err, 403, EPERM,
				       "container cannot be disconnected from host network or connected to host network");
	if (!strcmp(n->driver, "null") || nm == SKIFF_NET_NONE || nm == SKIFF_NET_CONTAINER)
		return skiff_error_set(err, 403, EPERM,
				       "container sharing network namespace with another container or host cannot be connected to any other network");
	if (!json_is_object(c->net_config))
		c->net_config = json_pack("{s:{}}", "EndpointsConfig");
	eps = json_object_get(c->net_config, "EndpointsConfig");
	if (!json_is_object(eps)) {
		json_object_set_new(c->net_config, "EndpointsConfig", json_object());
		eps = json_object_get(c->net_config, "EndpointsConfig");
	}
	json_object_foreach(eps, k, epc) if (!strcmp(k, n->name)) return skiff_error_set(
		err, 403, EEXIST, "endpoint with name %s already exists in network %s", c->name + 1, n->name);
	epc = ep_config_of(body);
	{
		const char *ip = skiff_json_str(json_object_get(epc, "IPAMConfig"), "IPv4Address", "");
		uint32_t a;
		if (*ip && n->predefined)
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					    "user specified IP address is supported on user defined networks only");
		else if (*ip && !n->user_subnet)
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					    "user specified IP address is supported only when connecting to networks with user configured subnets");
		else if (*ip && (skiff_ip_parse(ip, &a) < 0 || !skiff_cidr_contains(&n->subnet, a)))
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					    "invalid IPv4 address %s: it is not in the subnet of network %s", ip, n->name);
		else if (n->predefined && json_array_size(json_object_get(epc, "Aliases")))
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					    "network-scoped alias is supported only for containers in user defined networks");
		else
			r = 0;
		if (r < 0) {
			json_decref(epc);
			return r;
		}
	}
	json_object_set_new(epc, "NetworkID", json_string(n->id));
	nc = net_ctr_find(m, c->id);
	if (skiff_ctr_is_running(c) && nc && c->pid > 0) {
		bool routed = false;
		int slot = 0;
		for (int i = 0; i < nc->neps; i++) {
			routed |= !nc->eps[i].net->internal;
			if (nc->eps[i].index >= slot)
				slot = nc->eps[i].index + 1;
		}
		r = nl_in_pid(c->pid, &nc->ns);
		if (r < 0) {
			skiff_netns_close(&nc->ns);
			json_decref(epc);
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "entering the network namespace of %s",
					       c->name + 1);
		}
		int before = nc->neps;
		r = ep_make(m, nc, n, epc, !routed && !n->internal, c, err);
		if (r == 0 && nc->neps > before)
			nc->eps[nc->neps - 1].index = slot > nc->neps - 1 ? slot : nc->neps - 1;
		skiff_netns_close(&nc->ns);
		if (r < 0) {
			if (nc->neps > before) { /* the lease and the veth of the half-made endpoint */
				char host[16];
				struct net_ep *e = &nc->eps[--nc->neps];
				host_veth_name(nc->id, e->index, host);
				skiff_nl_link_del(&m->nl, host);
				skiff_ipam_release(ipam_of(n), nc->id);
				json_decref(e->aliases);
				memset(e, 0, sizeof(*e));
				ctr_persist(c, nc);
			}
			json_decref(epc);
			return r;
		}
		ctr_persist(c, nc);
		if (n->dns && !json_array_size(json_object_get(c->host_config, "Dns")))
			resolv_use(c, n->gateway);
		{
			/* also a container that had no endpoint and so no programs yet */
			struct skiff_error e2 = { 0 };
			bool had = nc->bpf;
			if (ctr_bpf(m, c, nc, &e2) < 0)
				log_warn("container %.12s: egress policy after connect: %s", c->id, e2.msg);
			if (nc->bpf != had)
				ctr_persist(c, nc);
		}
	}
	json_object_set_new(eps, n->name, epc);
	skiff_container_config_changed(d, c);
	skiff_events_emit(d->events, "network", "connect", n->id,
			  json_pack("{s:s, s:s, s:s}", "container", c->id, "name", n->name, "type", n->driver));
	return 0;
}

int skiff_network_disconnect(struct skiff_daemon *d, const char *key, const json_t *body, struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	struct skiff_network *n;
	struct skiff_ctr *c;
	struct net_ctr *nc;
	json_t *eps;

	if (!m)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOTCONN, "networking is not available");
	if (!(n = net_find(m, key, err)))
		return -ENOENT;
	if (!(c = skiff_container_find(d, skiff_json_str(body, "Container", ""), err)))
		return -ENOENT;
	eps = json_object_get(c->net_config, "EndpointsConfig");
	if (!json_object_get(eps, n->name))
		return skiff_error_set(err, 403, ENOENT, "container %s is not connected to network %s", c->id, n->name);
	if (!strcmp(n->driver, "host"))
		return skiff_error_set(err, 403, EPERM,
				       "container cannot be disconnected from host network or connected to host network");
	nc = net_ctr_find(m, c->id);
	for (int i = 0; nc && i < nc->neps; i++) {
		struct net_ep *e = &nc->eps[i];
		char host[16];
		if (e->net != n)
			continue;
		/* deleting the host end takes the container's end with it */
		host_veth_name(nc->id, e->index, host);
		skiff_nl_link_del(&m->nl, host);
		skiff_ipam_release(ipam_of(n), nc->id);
		json_decref(e->aliases);
		memmove(nc->eps + i, nc->eps + i + 1, (size_t)(nc->neps - i - 1) * sizeof(*e));
		nc->neps--;
		memset(&nc->eps[nc->neps], 0, sizeof(*e));
		ctr_persist(c, nc);
		break;
	}
	json_object_del(eps, n->name);
	skiff_container_config_changed(d, c);
	skiff_events_emit(d->events, "network", "disconnect", n->id,
			  json_pack("{s:s, s:s, s:s}", "container", c->id, "name", n->name, "type", n->driver));
	return 0;
}

/* ---- skiffd --cleanup ---- */

int skiff_net_cleanup(const char *data_root, const struct skiff_net_opts *o, struct skiff_error *err)
{
	char table[32], pin[128];
	const char *bridge = o->bridge && *o->bridge ? o->bridge : "skiff0";
	_cleanup_free_ char *root = skiff_path_join(data_root, "network");
	_cleanup_closedir_ DIR *dir = root ? opendir(root) : NULL;
	struct skiff_nl nl = { .fd = -1 };
	struct dirent *de;
	int r, ret = 0;

	net_daemon_names(bridge, table, sizeof(table), pin, sizeof(pin));
	r = skiff_nl_open(&nl);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "opening rtnetlink");
	skiff_nl_link_del(&nl, bridge);
	{
		/* pooled pairs die with their skiffd's fds; one whose process is
		 * gone (skp<pid hex><n>) can only be a kernel still tearing it down */
		char **names = NULL;
		if (skiff_nl_links_with_prefix(&nl, SKIFF_NETNS_POOL_PREFIX, &names) == 0) {
			for (char **v = names; *v; v++) {
				char pid[7];
				snprintf(pid, sizeof(pid), "%.6s", *v + strlen(SKIFF_NETNS_POOL_PREFIX));
				if (strlen(*v) == 15 && kill((pid_t)strtol(pid, NULL, 16), 0) < 0 && errno == ESRCH)
					skiff_nl_link_del(&nl, *v);
			}
			skiff_strvfree(names);
		}
	}
	while (dir && (de = readdir(dir))) {
		_cleanup_free_ char *p = NULL;
		_cleanup_json_ json_t *j = NULL;
		if (strlen(de->d_name) != 64 || asprintf(&p, "%s/%s/network.json", root, de->d_name) < 0)
			continue;
		if (skiff_json_read_file(p, &j) == 0 && *skiff_json_str(j, "SkiffBridge", ""))
			skiff_nl_link_del(&nl, skiff_json_str(j, "SkiffBridge", ""));
	}
	skiff_nl_close(&nl);
	r = skiff_nft_destroy(table, err);
	if (r < 0)
		ret = r;
	r = skiff_bpf_net_destroy(pin, ret < 0 ? NULL : err);
	if (r < 0 && ret == 0)
		ret = r;
	return ret;
}
