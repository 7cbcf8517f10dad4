/* IPv4 addresses, subnets and address management for skiff's networks.
 * One skiff_ipam per network: its subnet, gateway and optional ip-range, and
 * the leases (address -> owner, the container id) persisted in one small
 * JSON file, replaced atomically (temp + rename, no fsync: after a power
 * loss no container runs and skiffd's start-up reconcile releases leases
 * whose owner is not running). Pure userspace; no kernel state. */
#ifndef SKIFF_NET_IPAM_H
#define SKIFF_NET_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

/* All addresses in this header are in HOST byte order. */
struct skiff_cidr {
	uint32_t addr; /* network address (host bits cleared by parse) */
	int len;       /* prefix length 0..32 */
};

/* "10.1.2.3" -> 0x0a010203; -EINVAL when malformed. */
int skiff_ip_parse(const char *s, uint32_t *out);
/* out needs 16 bytes. */
void skiff_ip_format(uint32_t ip, char *out, size_t outlen);
/* "10.1.0.0/16"; "10.1.2.3/16" is accepted and masked to 10.1.0.0/16
 * unless strict (then -EINVAL). A bare address is /32. */
int skiff_cidr_parse(const char *s, bool strict, struct skiff_cidr *out);
/* "10.1.0.0/16"; out needs 19 bytes. */
void skiff_cidr_format(const struct skiff_cidr *c, char *out, size_t outlen);
uint32_t skiff_cidr_mask(int len);
bool skiff_cidr_contains(const struct skiff_cidr *c, uint32_t ip);
bool skiff_cidr_overlap(const struct skiff_cidr *a, const struct skiff_cidr *b);

/* Picks the first /size subnet of pool (e.g. 10.124.0.0/14 split in /24s)
 * that overlaps none of used[]. -ENOSPC when the pool is exhausted
 * (message: "could not find an available, non-overlapping IPv4 address
 * pool among the defaults to assign to the network", Docker's). */
int skiff_subnet_pick(const struct skiff_cidr *pool, int size, const struct skiff_cidr *used, size_t nused,
		      struct skiff_cidr *out, struct skiff_error *err);

struct skiff_ipam;

/* Opens (or creates) the lease file at path. gateway is reserved (never
 * leased); so are the network and broadcast addresses. range (may be NULL:
 * the whole subnet) limits dynamic allocation, not static requests inside
 * the subnet. 400 when gateway/range lie outside subnet. */
int skiff_ipam_open(const char *path, const struct skiff_cidr *subnet, uint32_t gateway,
		    const struct skiff_cidr *range, struct skiff_ipam **out, struct skiff_error *err);
void skiff_ipam_close(struct skiff_ipam *ipam);

/* Leases an address to owner and persists it before returning. want 0 =
 * the next free address of the range (round-robin after the last one
 * handed out, so a just-released address is not reused at once, as Docker
 * does); want != 0 = exactly that address: 400 "invalid address: not in
 * subnet" outside the subnet, 409 "Address already in use" when leased to
 * someone else. Asking again for an address owner already holds returns it.
 * 503-free: -ENOSPC "no available IPv4 addresses on this network's address
 * pools: NAME (ID)" is the caller's to word; here "no available IPv4
 * addresses in SUBNET". */
int skiff_ipam_alloc(struct skiff_ipam *ipam, const char *owner, uint32_t want, uint32_t *out,
		     struct skiff_error *err);
/* Releases every lease of owner (0 when it had none); persisted. */
int skiff_ipam_release(struct skiff_ipam *ipam, const char *owner);
/* Calls fn for each lease; returns the number of leases. */
size_t skiff_ipam_foreach(struct skiff_ipam *ipam, void (*fn)(uint32_t ip, const char *owner, void *data),
			  void *data);
/* Releases every lease whose owner keep() says is gone (start-up reconcile). */
int skiff_ipam_reconcile(struct skiff_ipam *ipam, bool (*keep)(const char *owner, void *data), void *data);

/* Write-behind (off by default). On, alloc/release/reconcile/claim change
 * the leases in memory and only mark the file dirty; skiff_ipam_flush()
 * writes it (temp + rename) when dirty. The file is then a cache: whoever
 * turns this on must keep its own record of each running container's
 * addresses, written before the container can run, and skiff_ipam_claim()
 * them back at start-up before reconciling (skiff: the container's net.json). */
void skiff_ipam_set_write_behind(struct skiff_ipam *ipam, bool on);
bool skiff_ipam_dirty(const struct skiff_ipam *ipam);
int skiff_ipam_flush(struct skiff_ipam *ipam);
/* Start-up adoption from that record: owner holds exactly ip from now on
 * (one address per owner and network: owner's other leases here go), taken
 * from a stale holder if the file says so. 400 for an address that cannot
 * be leased (outside the subnet, gateway, network/broadcast). Persisted
 * (or marked dirty). */
int skiff_ipam_claim(struct skiff_ipam *ipam, const char *owner, uint32_t ip, struct skiff_error *err);

#endif
