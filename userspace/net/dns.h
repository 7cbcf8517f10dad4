/* The resolver skiffd serves to containers on user-defined networks
 * (Docker's embedded DNS at 127.0.0.11). skiff listens on each such
 * network's gateway address, port 53, UDP and TCP, in the host's network
 * namespace; containers get "nameserver <gateway>" in resolv.conf.
 *  - A queries for a name the lookup callback knows (container name,
 *    alias, hostname, short id on the client's network): answered from it,
 *    TTL 0 (answers change when containers come and go);
 *  - AAAA for such a name: NOERROR with no answers;
 *  - an unknown name without a dot: NXDOMAIN at once;
 *  - anything else: forwarded to the upstream resolvers (UDP, then TCP if
 *    truncated), the reply relayed unchanged; SERVFAIL after 5 s without
 *    an answer. Runs on skiffd's event loop; never blocks. */
#ifndef SKIFF_NET_DNS_H
#define SKIFF_NET_DNS_H

#include <event2/event.h>
#include <stdint.h>

#include "../lib/error.h"

/* Fills up to max addresses (HOST byte order) for name as seen by a client
 * at client_ip (its network decides what it can see); returns the count,
 * 0 when the name is not a container's. name is lower-case without the
 * trailing dot. */
typedef int (*skiff_dns_lookup_fn)(void *data, uint32_t client_ip, const char *name, uint32_t *addrs, int max);

struct skiff_dns;

int skiff_dns_new(struct event_base *base, skiff_dns_lookup_fn lookup, void *data, struct skiff_dns **out);
void skiff_dns_free(struct skiff_dns *dns);
/* Starts answering on addr:port (UDP and TCP). 409 when already listening
 * there; the error names the address when bind fails. */
int skiff_dns_listen(struct skiff_dns *dns, uint32_t addr, uint16_t port, struct skiff_error *err);
void skiff_dns_unlisten(struct skiff_dns *dns, uint32_t addr);
/* Upstream servers as "IP" or "IP:PORT" strings (NULL-terminated). The
 * default is the host's /etc/resolv.conf nameservers (loopback ones
 * included: skiffd runs in the host's namespace). */
int skiff_dns_set_upstreams(struct skiff_dns *dns, const char *const *servers, struct skiff_error *err);
/* How long a forwarded query waits for the upstreams before SERVFAIL
 * (default 5000 ms; shared between the upstreams in turn). For tests. */
void skiff_dns_set_timeout_ms(struct skiff_dns *dns, int ms);

#endif
