/* Loaders for skiff's networking eBPF programs (bpf/ports, bpf/netacct):
 *  - ports: cgroup_sock_addr connect4/sendmsg4/recvmsg4/getpeername4
 *    attached (BPF_F_ALLOW_MULTI, bpf_link) at the ROOT of the cgroup v2
 *    hierarchy. A client in the host's network namespace that connects or
 *    sends to a published host address:port is redirected to the
 *    container's address:port at connect()/sendmsg() time, and sees the
 *    original address back in getpeername()/recvmsg(). Clients in other
 *    namespaces are left alone (they go through nftables DNAT).
 *  - netacct: cgroup_skb ingress/egress on each container's own v2 cgroup:
 *    per-container byte/packet counters and the egress policy (an LPM trie
 *    of allowed/denied CIDRs and a default verdict), drops counted.
 * Maps and links are pinned under pin_dir (bpffs), so a restarted skiffd
 * re-finds them and running containers lose no traffic. Every program
 * type is probed at open; a missing one turns its feature off (has_*()
 * false, one log line, status() says why), never an error.
 * Addresses and ports in HOST byte order. */
#ifndef SKIFF_NET_BPF_NET_H
#define SKIFF_NET_BPF_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "ipam.h"
#include "port.h"

struct skiff_bpf_net;

struct skiff_bpf_net_opts {
	const char *pin_dir; /* e.g. /sys/fs/bpf/skiff (bpffs is mounted on /sys/fs/bpf if it is not) */
	const char *v2_root; /* cgroup2 mount point (where the port programs attach) */
	bool no_ports;       /* do not load the port programs (tests the nftables fallback) */
};

int skiff_bpf_net_open(const struct skiff_bpf_net_opts *o, struct skiff_bpf_net **out, struct skiff_error *err);
/* Closes fds; pins (and so the attachments) stay. NULL-safe. */
void skiff_bpf_net_close(struct skiff_bpf_net *b);
/* Detaches everything and removes pin_dir (skiffd --cleanup). */
int skiff_bpf_net_destroy(const char *pin_dir, struct skiff_error *err);

bool skiff_bpf_net_has_ports(const struct skiff_bpf_net *b);
bool skiff_bpf_net_has_acct(const struct skiff_bpf_net *b);
/* One line per feature for /info, e.g. "published ports: cgroup_sock_addr
 * (no proxy)" or "published ports: nftables DNAT fallback: cgroup_sock_addr
 * refused: Operation not permitted". */
const char *skiff_bpf_net_status(const struct skiff_bpf_net *b, char *out, size_t outlen);

/* ---- ports ---- */
int skiff_bpf_ports_add(struct skiff_bpf_net *b, const struct skiff_port *p, size_t np, struct skiff_error *err);
int skiff_bpf_ports_del(struct skiff_bpf_net *b, const struct skiff_port *p, size_t np);
/* The host's local IPv4 addresses: a host_ip 0 port matches a destination
 * in this set or in 127.0.0.0/8. Replaces the set. */
int skiff_bpf_local_addrs_set(struct skiff_bpf_net *b, const uint32_t *addrs, size_t n);

/* ---- per-container accounting and egress policy ---- */
struct skiff_bpf_rule {
	struct skiff_cidr cidr;
	bool allow;
};
struct skiff_bpf_policy {
	bool default_deny;                  /* egress not matched by a rule is dropped */
	const struct skiff_bpf_rule *rules; /* longest prefix wins */
	size_t nrules;
};
/* Attaches ingress+egress to the container's v2 cgroup dir (it must exist:
 * skiffd makes it before the spawn so the first packet is already seen)
 * and installs its policy; pins the links under pin_dir/ctr/<id>-*.
 * Calling it again for a running container (skiffd restart) re-finds the
 * pinned links and only replaces the policy. */
int skiff_bpf_ctr_attach(struct skiff_bpf_net *b, const char *id, const char *cgroup_dir,
			 const struct skiff_bpf_policy *pol, struct skiff_error *err);
/* Detaches, unpins, deletes the counters and rules. 0 if not attached. */
int skiff_bpf_ctr_detach(struct skiff_bpf_net *b, const char *id);

struct skiff_net_counters {
	uint64_t rx_bytes, rx_packets, rx_dropped, tx_bytes, tx_packets, tx_dropped;
};
/* One map lookup: no netlink, no /proc. -ENOENT when not attached. */
int skiff_bpf_ctr_counters(struct skiff_bpf_net *b, const char *id, struct skiff_net_counters *out);

#endif
