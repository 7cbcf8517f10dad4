/* A small rtnetlink client: just what skiff's networks need (bridges, veth
 * pairs, addresses, routes, link and address dumps). One socket per
 * network namespace: a socket acts on the namespace it was created in.
 * Synchronous request/ack; every call returns 0 or -errno (the kernel's
 * NLMSG_ERROR code). IPv4 addresses are in HOST byte order. */
#ifndef SKIFF_NET_NETLINK_H
#define SKIFF_NET_NETLINK_H

#include <stddef.h>
#include <stdint.h>

struct skiff_nl {
	int fd; /* -1 when closed */
	uint32_t seq;
};

/* Opens a NETLINK_ROUTE socket in the caller thread's current netns. */
int skiff_nl_open(struct skiff_nl *nl);
void skiff_nl_close(struct skiff_nl *nl);

/* ifindex of name, or -ENODEV. */
int skiff_nl_link_index(struct skiff_nl *nl, const char *name);
/* Creates a bridge (-EEXIST if a link of that name exists). mtu 0 = default. */
int skiff_nl_bridge_add(struct skiff_nl *nl, const char *name, int mtu);
int skiff_nl_link_up(struct skiff_nl *nl, int ifindex);
int skiff_nl_link_del(struct skiff_nl *nl, const char *name);
/* Sets the link's MAC address (6 bytes). */
int skiff_nl_link_set_mac(struct skiff_nl *nl, int ifindex, const uint8_t mac[6]);
/* Adds addr/prefixlen (with the broadcast address) to ifindex; -EEXIST if present. */
int skiff_nl_addr_add(struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen);
int skiff_nl_addr_del(struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen);

/* Creates a veth pair in nl's namespace: host_name stays here, enslaved to
 * master_ifindex (0 = none) and set up; peer_name is created directly in
 * the namespace of peer_netns_fd (-1 = here) with MAC peer_mac (NULL =
 * random) and left down. mtu 0 = default. */
int skiff_nl_veth_add(struct skiff_nl *nl, const char *host_name, const char *peer_name, int peer_netns_fd,
		      int master_ifindex, const uint8_t peer_mac[6], int mtu);

/* default via gw dev ifindex (in nl's namespace). */
int skiff_nl_route_add_default(struct skiff_nl *nl, uint32_t gw, int ifindex);

/* Names of the links whose name starts with prefix (malloc'd NULL-terminated
 * vector, free with skiff_strvfree from lib/fs.h or json.h). */
int skiff_nl_links_with_prefix(struct skiff_nl *nl, const char *prefix, char ***names);
/* Every IPv4 address configured on any link in nl's namespace (malloc'd). */
int skiff_nl_local_addrs(struct skiff_nl *nl, uint32_t **addrs, size_t *n);
/* IPv4 routes of the main table as (dst, prefixlen) pairs, for subnet
 * collision checks (malloc'd arrays). */
int skiff_nl_routes(struct skiff_nl *nl, uint32_t **dst, int **len, size_t *n);

#endif
