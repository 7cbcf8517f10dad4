/* Map layouts of bpf/netacct (per-container traffic counters and egress
 * policy), shared by the eBPF program and its loader (userspace/net/bpf-net.c).
 * Containers are keyed by the id of their cgroup v2 directory (its inode). */
#ifndef SKIFF_BPF_NETACCT_H
#define SKIFF_BPF_NETACCT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SKIFF_ACCT_MAX 16384
#define SKIFF_EGRESS_MAX 65536
#define SKIFF_CGROUP_MAX_DEPTH 16 /* ancestor levels searched for a nested cgroup */

/* skiff_acct: per-CPU values, summed by userspace. An entry exists only for
 * containers (the loader creates it), so other cgroups are never counted. */
struct skiff_acct_counters {
	__u64 rx_bytes, rx_packets, rx_dropped;
	__u64 tx_bytes, tx_packets, tx_dropped;
};

/* skiff_acct_cfg: the container's egress policy header. */
struct skiff_acct_cfg {
	__u32 default_deny; /* egress matching no rule is dropped */
	__u32 nrules;	    /* 0: skip the LPM lookup */
};

/* skiff_egress (LPM trie): prefixlen = 64 (the cgroup id, always whole) +
 * the CIDR's length; addr in network byte order so prefix bits line up.
 * The cgroup id is split in two u32 because the stack must stay aligned. */
struct skiff_egress_key {
	__u32 prefixlen;
	__u32 cgid_lo;
	__u32 cgid_hi;
	__u32 addr;
};
#define SKIFF_EGRESS_CGID_BITS 64

struct skiff_egress_val {
	__u32 allow;
};

#endif
