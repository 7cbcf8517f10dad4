/* The network manager: skiffd's networks (the predefined bridge, host and
 * none, and user-defined bridges) persisted under <data-root>/network/<id>/,
 * the Docker shapes of the network API, and each container's endpoints:
 * netns, veth, addresses, routes, published ports, BPF accounting and
 * policy, nftables and DNS names, made at start and undone at stop. It ties
 * the leaves (ipam, netlink, netns, nft, dns, bpf-net) to the daemon. */
#ifndef SKIFF_NET_NETWORK_H
#define SKIFF_NET_NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

struct skiff_daemon;
struct skiff_ctr;

/* skiffd's networking flags. */
struct skiff_net_opts {
	const char *bridge;     /* --bridge/-b: default bridge name ("skiff0") */
	const char *bip;        /* --bip CIDR: the default bridge's gateway/prefix ("10.123.0.1/16") */
	const char *pools[8];   /* --default-address-pool base=CIDR,size=N (NULL-terminated) */
	const char *dns[8];     /* --dns IP[:PORT] upstreams (NULL-terminated; none = host's resolv.conf) */
	bool no_bpf_ports;      /* --no-bpf-ports: test the nftables fallback */
};

/* Opens the store, makes the predefined networks, the default bridge,
 * ip_forward, bpffs, the nft table and the BPF programs. Sets d->net.
 * Degraded features go to d->warnings, never an error. */
int skiff_net_init(struct skiff_daemon *d, const struct skiff_net_opts *o, struct skiff_error *err);
/* skiffd start, for each container the monitor says runs: re-adopts its
 * endpoints, ports (re-reserved), BPF links (re-found) and DNS names. */
int skiff_net_ctr_adopt(struct skiff_daemon *d, struct skiff_ctr *c);
/* After the containers' reconcile: leases of containers not running go. */
void skiff_net_reconcile(struct skiff_daemon *d);
/* SIGTERM path: closes fds; kernel state stays for running containers. */
void skiff_net_shutdown(struct skiff_daemon *d);
/* skiffd --cleanup: deletes the daemon's bridges, nft table, BPF pins.
 * Refuses (-EBUSY) while containers run (the caller checks that). */
int skiff_net_cleanup(const char *data_root, const struct skiff_net_opts *o, struct skiff_error *err);
/* One line per degraded feature for /info (may be NULL). */
const char *skiff_net_status(struct skiff_daemon *d, char *out, size_t outlen);

/* ---- the network API (api/networks.c) ---- */
json_t *skiff_network_list_json(struct skiff_daemon *d, const json_t *filters, struct skiff_error *err);
json_t *skiff_network_inspect_json(struct skiff_daemon *d, const char *key, bool verbose, const char *scope,
				   struct skiff_error *err);
/* *reply = {"Id":..., "Warning":""} */
int skiff_network_create(struct skiff_daemon *d, json_t *body, json_t **reply, struct skiff_error *err);
int skiff_network_remove(struct skiff_daemon *d, const char *key, struct skiff_error *err);
int skiff_network_connect(struct skiff_daemon *d, const char *key, const json_t *body, struct skiff_error *err);
int skiff_network_disconnect(struct skiff_daemon *d, const char *key, const json_t *body, struct skiff_error *err);
json_t *skiff_network_prune(struct skiff_daemon *d, const json_t *filters, struct skiff_error *err);

/* ---- containers (userspace/daemon/container*.c) ---- */
/* At create: the networks named by NetworkMode and EndpointsConfig exist,
 * --ip/aliases are allowed there, PortBindings parse. Normalises
 * c->net_config so EndpointsConfig lists every network the container is
 * on (keyed by network name). */
int skiff_net_ctr_create(struct skiff_daemon *d, struct skiff_ctr *c, struct skiff_error *err);
/* At start, before etc files and spawn: everything the container's network
 * needs; netns gets the spawn spec's namespaces.net ("new" when the
 * container needs no namespace of ours). Undone on failure. */
int skiff_net_ctr_start(struct skiff_daemon *d, struct skiff_ctr *c, char *netns, size_t netns_len,
			struct skiff_error *err);
/* The init runs (pid > 0) or the spawn failed (pid 0, everything undone). */
void skiff_net_ctr_spawned(struct skiff_daemon *d, struct skiff_ctr *c, int pid);
/* The container stopped: leases, port fds, nft/BPF port entries, BPF links, DNS names. */
void skiff_net_ctr_stop(struct skiff_daemon *d, struct skiff_ctr *c);
/* The container is removed. */
void skiff_net_ctr_remove(struct skiff_daemon *d, struct skiff_ctr *c);
/* /etc/hosts and resolv.conf inputs: the container's first address ("" if
 * none) and its nameserver when on a user network ("" otherwise). */
void skiff_net_ctr_etc(struct skiff_daemon *d, const struct skiff_ctr *c, char ip[16], char nameserver[16]);
/* inspect NetworkSettings (replaces the keys it knows in ns) and ps fields. */
void skiff_net_ctr_settings(struct skiff_daemon *d, const struct skiff_ctr *c, json_t *ns);
json_t *skiff_net_ctr_networks_json(struct skiff_daemon *d, const struct skiff_ctr *c);
json_t *skiff_net_ctr_ports_ps(struct skiff_daemon *d, const struct skiff_ctr *c);
/* stats "networks": {"eth0": {...}}; NULL when not available. */
json_t *skiff_net_ctr_stats(struct skiff_daemon *d, const struct skiff_ctr *c);
/* A build's RUN step on the default bridge: a pooled netns with one
 * endpoint (lease owned by step_id, default route, masquerade), no ports,
 * DNS or BPF. netns gets the spawn spec's namespaces.net. Main thread only. */
int skiff_net_build_attach(struct skiff_daemon *d, const char *step_id, char *netns, size_t netns_len,
			   struct skiff_error *err);
/* The step ended: the lease goes, the netns fd closes (the veth dies with it). */
void skiff_net_build_detach(struct skiff_daemon *d, const char *step_id);
/* filters: is the container on network key (name or id)? */
bool skiff_net_ctr_on_network(struct skiff_daemon *d, const struct skiff_ctr *c, const char *key);

#endif
