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
};

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

#endif
