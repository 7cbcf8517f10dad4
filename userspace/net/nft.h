/* skiff's one nftables table, driven through libnftables. Every change is
 * one nft transaction (a script run with nft_run_cmd_from_buffer), nothing
 * outside the table is touched, and opening an existing table keeps its
 * port maps so a restarted skiffd loses no traffic.
 *
 * What the table does (family ip):
 *  - postrouting: masquerade traffic from each non-internal network's
 *    subnet leaving through another interface; masquerade hairpin traffic
 *    (a DNATed connection that goes back out the bridge it came from).
 *  - prerouting: DNAT of published ports for clients that arrive from
 *    outside the host's stack (other hosts, other network namespaces),
 *    matched on (fib daddr type local) for host_ip 0, on daddr otherwise,
 *    through maps so adding a port is adding map elements.
 *  - forward: internal networks reach only their own bridge; traffic of
 *    skiff's bridges is accepted (policy accept; other tables may still drop).
 *  - output (only in "local DNAT" fallback mode, when the BPF port
 *    programs are missing): the same DNAT for host-local clients, with
 *    route_localnet set on skiff's bridges and masquerade of 127.0.0.0/8
 *    sources towards them. */
#ifndef SKIFF_NET_NFT_H
#define SKIFF_NET_NFT_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"
#include "ipam.h"
#include "port.h"

struct skiff_nft;

/* Creates the table and its base chains/maps if missing (table name e.g.
 * "skiff"); an existing table's map elements are kept. Errors say what
 * nft said. */
int skiff_nft_open(const char *table, struct skiff_nft **out, struct skiff_error *err);
void skiff_nft_close(struct skiff_nft *n); /* keeps the table */

/* Per-network rules (masquerade unless internal; internal isolation),
 * replaced as a whole when called again for the same bridge. */
int skiff_nft_network_set(struct skiff_nft *n, const char *bridge, const struct skiff_cidr *subnet, bool internal,
			  struct skiff_error *err);
int skiff_nft_network_del(struct skiff_nft *n, const char *bridge, struct skiff_error *err);

/* All of one container's ports in one transaction. Deleting ports that are
 * not there is not an error. */
int skiff_nft_ports_add(struct skiff_nft *n, const struct skiff_port *p, size_t np, struct skiff_error *err);
int skiff_nft_ports_del(struct skiff_nft *n, const struct skiff_port *p, size_t np, struct skiff_error *err);

/* Fallback for host-local clients when the BPF port programs cannot load. */
int skiff_nft_local_dnat(struct skiff_nft *n, bool on, struct skiff_error *err);

/* Deletes the table (skiffd --cleanup); 0 when it did not exist. */
int skiff_nft_destroy(const char *table, struct skiff_error *err);

#endif
