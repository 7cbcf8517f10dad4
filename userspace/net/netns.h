/* Network namespaces for containers, made ahead of time. Creating a netns
 * costs ~0.7-3.8 ms (PERFORMANCE-NOTES.md); skiffd keeps a small pool of
 * ready ones (loopback up, an rtnetlink socket open inside) and refills it
 * off the start path. A namespace lives as long as an fd or a process holds
 * it: no bind mounts, so nothing is left on the host when skiffd dies. The
 * spawn spec joins one through "/proc/<skiffd pid>/fd/<fd>". */
#ifndef SKIFF_NET_NETNS_H
#define SKIFF_NET_NETNS_H

#include <event2/event.h>

#include "../lib/error.h"
#include "netlink.h"

struct skiff_netns {
	int fd;            /* the namespace (open /proc/thread-self/ns/net), -1 if none */
	struct skiff_nl nl; /* rtnetlink socket living in that namespace */
	/* A namespace from skiff_netns_pool_take_veth() may carry a veth pair
	 * made ahead of time: eth0 inside (down, random MAC, no address) and
	 * its peer on the host, enslaved to the pool's bridge and down, named
	 * SKIFF_NETNS_POOL_PREFIX... until skiff_netns_veth_claim() renames it.
	 * link is 0 when there is none. The pair dies with the namespace. */
	int link;            /* ifindex of eth0 inside */
	int host_ifindex;    /* ifindex of the host end */
	char host_name[16];  /* its current name on the host */
};

/* Host ends of pooled veth pairs while they wait in a pool: "skp" + 6 hex
 * of the pid + 6 hex of a counter (skiffd --cleanup and the test leak check
 * know the prefix). They never outlive the pool's process. */
#define SKIFF_NETNS_POOL_PREFIX "skp"

/* Makes one now: unshare(CLONE_NEWNET) on the calling thread, open the ns
 * and a netlink socket in it, bring lo up, setns back. Safe in a
 * multi-threaded process (only the calling thread switches). */
int skiff_netns_new(struct skiff_netns *out, struct skiff_error *err);
/* Closes both fds (the namespace dies with its last holder). NULL-safe. */
void skiff_netns_close(struct skiff_netns *ns);
/* "/proc/<getpid()>/fd/<fd>" for a spawn spec's namespaces.net. */
void skiff_netns_path(const struct skiff_netns *ns, char *out, size_t outlen);

struct skiff_netns_pool;
/* size 0 disables pooling (take() makes one each time). base may be NULL
 * (no background refill); with a base the pool refills itself from an
 * event after each take, never on the caller's path. */
int skiff_netns_pool_new(struct event_base *base, int size, struct skiff_netns_pool **out);
int skiff_netns_pool_take(struct skiff_netns_pool *p, struct skiff_netns *out, struct skiff_error *err);
void skiff_netns_pool_free(struct skiff_netns_pool *p);

/* Makes the pool also keep namespaces that carry a veth pair whose host end
 * is enslaved to bridge (an existing link of the caller's namespace), so a
 * start on that bridge only renames, addresses and brings up links (a veth
 * pair costs ~0.5-1.3 ms to create). Refilled like the plain ones. */
int skiff_netns_pool_set_bridge(struct skiff_netns_pool *p, const char *bridge, struct skiff_error *err);
/* A namespace carrying a pooled veth pair when one is ready (out->link > 0),
 * else a plain one as take() gives (the caller makes its veth itself). */
int skiff_netns_pool_take_veth(struct skiff_netns_pool *p, struct skiff_netns *out, struct skiff_error *err);
/* Makes the pair of a pool entry now: eth0 in ns, the host end host_name in
 * host's namespace, enslaved to bridge_ifindex, both down. */
int skiff_netns_veth_new(struct skiff_netns *ns, struct skiff_nl *host, int bridge_ifindex, const char *host_name);
/* Renames the pooled host end to name and sets it up, in one request
 * (-EEXIST when a link of that name exists; nothing changed then). */
int skiff_netns_veth_claim(struct skiff_netns *ns, struct skiff_nl *host, const char *name);
/* Configures link ifindex inside ns in one netlink round trip: MAC (NULL:
 * keep) and up, then addr/prefixlen, then the default route via gw (0:
 * none). Host byte order. */
int skiff_netns_link_setup(struct skiff_netns *ns, int ifindex, const uint8_t mac[6], uint32_t addr, int prefixlen,
			   uint32_t gw);

#endif
