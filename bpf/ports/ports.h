/* Map layouts of bpf/ports (published ports redirected at connect/sendmsg
 * time), shared by the eBPF program and its loader (userspace/net/bpf-net.c).
 * Addresses and ports in NETWORK byte order, as struct bpf_sock_addr has them. */
#ifndef SKIFF_BPF_PORTS_H
#define SKIFF_BPF_PORTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SKIFF_PORTS_MAX 65536
#define SKIFF_LOCAL_ADDRS_MAX 1024

/* skiff_ports key: addr 0 is a port published on every host address. */
struct skiff_port_key {
	__u32 addr;
	__u16 port;
	__u8 proto; /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;
};

struct skiff_port_val {
	__u32 addr; /* the container's address */
	__u16 port;
	__u16 pad;
};

/* skiff_orig_dst (socket storage): the last redirect done for a socket, so
 * getpeername()/recvmsg() can give back the address the client asked for. */
struct skiff_orig_dst {
	__u32 backend_addr;
	__u32 orig_addr;
	__u16 backend_port;
	__u16 orig_port;
};

#endif
