// SPDX-License-Identifier: GPL-2.0
/* Published ports without a proxy: cgroup_sock_addr programs attached at the
 * root of the cgroup v2 hierarchy rewrite the destination of connect() and
 * sendmsg() from a published host address:port to the container's, and put
 * the original back in getpeername() and recvmsg().
 *
 * Details:
 * - Only sockets in the HOST network namespace are redirected (their netns
 *   cookie equals host_netns_cookie, set in rodata at load); clients in other
 *   namespaces reach the container through skiff's nftables DNAT.
 * - skiff_ports is looked up by (destination, port, protocol) first; a miss
 *   whose destination is local (127.0.0.0/8, 0.0.0.0 or an address in
 *   skiff_local_addrs) is looked up again with address 0 (ports published on
 *   every host address). The common case of a connect() to nothing published
 *   costs one hash lookup.
 * - The original destination is kept in socket storage (freed with the
 *   socket): one entry per socket, the last redirect. A UDP socket that sends
 *   to several published ports sees only the last one restored in recvmsg().
 * - Every program returns 1 (allow): they never refuse a connection. */
#include "skiff_bpf.h"

#include "ports.h"

const volatile __u64 host_netns_cookie = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_PORTS_MAX);
	__type(key, struct skiff_port_key);
	__type(value, struct skiff_port_val);
} skiff_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_LOCAL_ADDRS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} skiff_local_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct skiff_orig_dst);
} skiff_orig_dst SEC(".maps");

static __always_inline int is_local(__u32 addr)
{
	return addr == 0 || skiff_is_loopback(addr) || bpf_map_lookup_elem(&skiff_local_addrs, &addr);
}

static __always_inline void redirect(struct bpf_sock_addr *ctx)
{
	struct skiff_port_key k = {
	    .addr = ctx->user_ip4,
	    .port = (__u16)ctx->user_port,
	    .proto = (__u8)ctx->protocol,
	};
	struct skiff_port_val *v = bpf_map_lookup_elem(&skiff_ports, &k);
	if (!v) {
		if (!is_local(k.addr))
			return;
		k.addr = 0;
		v = bpf_map_lookup_elem(&skiff_ports, &k);
		if (!v)
			return;
	}
	/* Checked after the lookup: a hit is rare, the cookie costs a helper call. */
	if (bpf_get_netns_cookie(ctx) != host_netns_cookie)
		return;
	struct bpf_sock *sk = ctx->sk;
	if (sk) {
		struct skiff_orig_dst *o = bpf_sk_storage_get(&skiff_orig_dst, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (o) {
			o->orig_addr = ctx->user_ip4;
			o->orig_port = (__u16)ctx->user_port;
			o->backend_addr = v->addr;
			o->backend_port = v->port;
		}
	}
	ctx->user_ip4 = v->addr;
	ctx->user_port = v->port;
}

static __always_inline void restore(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return;
	struct skiff_orig_dst *o = bpf_sk_storage_get(&skiff_orig_dst, sk, 0, 0);
	if (o && o->backend_addr == ctx->user_ip4 && o->backend_port == (__u16)ctx->user_port) {
		ctx->user_ip4 = o->orig_addr;
		ctx->user_port = o->orig_port;
	}
}

SEC("cgroup/connect4")
int skiff_connect4(struct bpf_sock_addr *ctx)
{
	redirect(ctx);
	return 1;
}

SEC("cgroup/sendmsg4")
int skiff_sendmsg4(struct bpf_sock_addr *ctx)
{
	redirect(ctx);
	return 1;
}

SEC("cgroup/recvmsg4")
int skiff_recvmsg4(struct bpf_sock_addr *ctx)
{
	restore(ctx);
	return 1;
}

SEC("cgroup/getpeername4")
int skiff_getpeername4(struct bpf_sock_addr *ctx)
{
	restore(ctx);
	return 1;
}

/* GPL: the verifier refuses GPL-only helpers (bpf_trace_printk when debugging,
 * bpf_probe_read_kernel, ...) to other licenses; the helpers used here do not
 * need it today, the datapath code is GPL anyway (SPDX line). */
char LICENSE[] SEC("license") = "GPL";
