/* A small rtnetlink client: just what skiff's networks need (bridges, veth
 * pairs, addresses, routes, link and address dumps). One socket per
 * network namespace: a socket acts on the namespace it was created in.
 * Synchronous request/ack; every call returns 0 or -errno (the kernel's
 * NLMSG_ERROR code). IPv4 addresses are in HOST byte order. */
#ifndef SKIFF_NET_NETLINK_H
#define SKIFF_NET_NETLINK_H

#include <stdbool.h>
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

/* Several requests sent in one datagram and acked together: the kernel
 * runs them in order and acks each, so a link setup of three steps costs
 * one round trip. Every request of skiff_nl goes through one of these (a
 * single request is a batch of one). Build with skiff_nl_batch_msg() and
 * the attribute calls, then skiff_nl_batch_run(); a batch that outgrew
 * its buffer fails there with -EMSGSIZE, so the builders need no checks.
 * Zero-initialise before use. */
struct skiff_nl_batch {
	char buf[1024] __attribute__((aligned(4)));
	size_t len;
	void *cur;     /* the message being built (struct nlmsghdr *) */
	void *nest[4]; /* open nested attributes (struct nlattr *) */
	int depth, nmsg;
	bool overflow;
};

/* Starts a message (NLM_F_REQUEST | NLM_F_ACK | flags, numbered from nl's
 * sequence) and returns its zeroed family header of famlen bytes (NULL
 * when full). */
void *skiff_nl_batch_msg(struct skiff_nl_batch *b, struct skiff_nl *nl, uint16_t type, uint16_t flags, size_t famlen);
/* Attributes of the current message. */
void skiff_nl_batch_attr(struct skiff_nl_batch *b, uint16_t type, const void *data, size_t len);
void skiff_nl_batch_u32(struct skiff_nl_batch *b, uint16_t type, uint32_t v);
void skiff_nl_batch_str(struct skiff_nl_batch *b, uint16_t type, const char *s);
void skiff_nl_batch_nest_begin(struct skiff_nl_batch *b, uint16_t type);
void skiff_nl_batch_nest_end(struct skiff_nl_batch *b);
/* Zeroed raw bytes inside the current message (a veth peer's ifinfomsg). */
void *skiff_nl_batch_reserve(struct skiff_nl_batch *b, size_t len);
/* The messages of the one-request calls above, appended to a batch
 * (arguments as there, unchecked). link_set: name (NULL: keep) and mac
 * (NULL: keep) are applied before up (false: flags untouched). veth:
 * host_up false leaves the host end down too. */
void skiff_nl_batch_link_set(struct skiff_nl_batch *b, struct skiff_nl *nl, int ifindex, const char *name,
			     const uint8_t mac[6], bool up);
void skiff_nl_batch_addr_add(struct skiff_nl_batch *b, struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen);
void skiff_nl_batch_veth(struct skiff_nl_batch *b, struct skiff_nl *nl, const char *host_name, const char *peer_name,
			 int peer_netns_fd, int master_ifindex, const uint8_t peer_mac[6], int mtu, bool host_up);
void skiff_nl_batch_route_default(struct skiff_nl_batch *b, struct skiff_nl *nl, uint32_t gw, int ifindex);
/* Sends the batch and reads one ack per message: 0, or the first error. */
int skiff_nl_batch_run(struct skiff_nl *nl, struct skiff_nl_batch *b);

#endif
