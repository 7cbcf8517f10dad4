// SPDX-License-Identifier: GPL-2.0
/* Per-container traffic accounting and egress policy: cgroup_skb ingress and
 * egress programs attached (one bpf_link each) to every container's own v2
 * cgroup.
 *
 * Details:
 * - The container is the cgroup id of the socket (bpf_skb_cgroup_id); when a
 *   container made sub-cgroups, the outermost ancestor that has an entry in
 *   skiff_acct is the container (searched only on a miss). Cgroups without an
 *   entry pass uncounted: the loader creates the entry before attaching.
 * - Counters are per-CPU (no atomics on the packet path); bytes are IP
 *   packet lengths (skb->len), packets count GSO segments. All of the
 *   container's sockets count, its loopback traffic included.
 * - Egress policy: skiff_egress is an LPM trie keyed by (cgroup id, IPv4
 *   prefix); the longest matching rule decides. Without a match, loopback
 *   destinations (127.0.0.0/8) pass and the rest gets the container's default
 *   verdict (skiff_acct_cfg). Denied packets are dropped (return 0: the
 *   sender sees EPERM) and counted as tx_dropped, not as tx bytes. IPv6 is
 *   counted, and dropped only under default deny. A container without rules
 *   and with default allow costs no trie lookup. */
#include "skiff_bpf.h"

#include "netacct.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SKIFF_ACCT_MAX);
	__type(key, __u64);
	__type(value, struct skiff_acct_counters);
} skiff_acct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_ACCT_MAX);
	__type(key, __u64);
	__type(value, struct skiff_acct_cfg);
} skiff_acct_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SKIFF_EGRESS_MAX);
	__type(key, struct skiff_egress_key);
	__type(value, struct skiff_egress_val);
} skiff_egress SEC(".maps");

static __always_inline struct skiff_acct_counters *container_of_skb(struct __sk_buff *skb, __u64 *cgid)
{
	*cgid = bpf_skb_cgroup_id(skb);
	struct skiff_acct_counters *c = bpf_map_lookup_elem(&skiff_acct, cgid);
	if (c)
		return c;
	for (int level = 1; level < SKIFF_CGROUP_MAX_DEPTH; level++) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, level);
		if (!id)
			break;
		c = bpf_map_lookup_elem(&skiff_acct, &id);
		if (c) {
			*cgid = id;
			return c;
		}
	}
	return NULL;
}

static __always_inline __u32 segments(struct __sk_buff *skb) { return skb->gso_segs ? skb->gso_segs : 1; }

static __always_inline int egress_allowed(struct __sk_buff *skb, __u64 cgid)
{
	struct skiff_acct_cfg *cfg = bpf_map_lookup_elem(&skiff_acct_cfg, &cgid);
	if (!cfg || (!cfg->default_deny && !cfg->nrules))
		return 1;
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return !cfg->default_deny;
	__u32 daddr;
	if (bpf_skb_load_bytes(skb, offsetof(struct iphdr, daddr), &daddr, sizeof(daddr)) < 0)
		return !cfg->default_deny;
	if (cfg->nrules) {
		struct skiff_egress_key k = {
		    .prefixlen = SKIFF_EGRESS_CGID_BITS + 32,
		    .cgid_lo = (__u32)cgid,
		    .cgid_hi = (__u32)(cgid >> 32),
		    .addr = daddr,
		};
		struct skiff_egress_val *v = bpf_map_lookup_elem(&skiff_egress, &k);
		if (v)
			return v->allow;
	}
	if (skiff_is_loopback(daddr))
		return 1;
	return !cfg->default_deny;
}

SEC("cgroup_skb/ingress")
int skiff_acct_ingress(struct __sk_buff *skb)
{
	__u64 cgid;
	struct skiff_acct_counters *c = container_of_skb(skb, &cgid);
	if (c) {
		c->rx_bytes += skb->len;
		c->rx_packets += segments(skb);
	}
	return 1;
}

SEC("cgroup_skb/egress")
int skiff_acct_egress(struct __sk_buff *skb)
{
	__u64 cgid;
	struct skiff_acct_counters *c = container_of_skb(skb, &cgid);
	if (!c)
		return 1;
	if (!egress_allowed(skb, cgid)) {
		c->tx_dropped += segments(skb);
		return 0;
	}
	c->tx_bytes += skb->len;
	c->tx_packets += segments(skb);
	return 1;
}

/* GPL: the verifier refuses GPL-only helpers (bpf_trace_printk when debugging,
 * bpf_probe_read_kernel, ...) to other licenses; the helpers used here do not
 * need it today, the datapath code is GPL anyway (SPDX line). */
char LICENSE[] SEC("license") = "GPL";
