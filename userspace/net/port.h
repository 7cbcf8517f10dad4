/* A published port as every layer sees it (API parsing, nftables DNAT,
 * the BPF port map, the port allocator). Addresses and ports in HOST
 * byte order. */
#ifndef SKIFF_NET_PORT_H
#define SKIFF_NET_PORT_H

#include <stdint.h>

struct skiff_port {
	uint8_t proto;      /* IPPROTO_TCP or IPPROTO_UDP */
	uint32_t host_ip;   /* 0 = every host address (0.0.0.0) */
	uint16_t host_port;
	uint32_t ctr_ip;    /* the container's address on the network that carries the port */
	uint16_t ctr_port;
};

#endif
