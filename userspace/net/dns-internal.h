/* The embedded resolver's query handling without sockets (dns.c): what
 * skiffd does with one query packet from a container. Not a public
 * surface (dns.h is the contract); the fuzzer and unit tests call it. */
#ifndef SKIFF_NET_DNS_INTERNAL_H
#define SKIFF_NET_DNS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"

enum skiff_dns_verdict {
	SKIFF_DNS_DROP,    /* no reply at all (too short, or a response) */
	SKIFF_DNS_REPLY,   /* buf[0..*n) is the reply to send back */
	SKIFF_DNS_FORWARD, /* not ours: relay the query to the upstreams */
};

/* Parses the query msg[0..len) from client_ip (host byte order), asks
 * lookup (may be NULL) about its name, and builds the answer into buf
 * (cap must be at least 512, the plain-DNS limit our answers keep to). */
enum skiff_dns_verdict skiff_dns_answer(skiff_dns_lookup_fn lookup, void *data, uint32_t client_ip,
				       const unsigned char *msg, size_t len, unsigned char *buf, size_t cap, size_t *n);

#endif
