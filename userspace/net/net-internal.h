/* Private to the network manager (network.c: store and API; endpoint.c:
 * containers' endpoints and the data path). Not a contract: nothing
 * outside userspace/net/network.c and endpoint.c includes it. */
#ifndef SKIFF_NET_INTERNAL_H
#define SKIFF_NET_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bpf-net.h"
#include "dns.h"
#include "ipam.h"
#include "netlink.h"
#include "netns.h"
#include "network.h"
#include "nft.h"
#include "port.h"

#define NET_MAX_EPS 10 /* eth0..eth9: the host veth name has one digit for it */

struct skiff_network {
	char id[65];
	char *name;
	char driver[8]; /* "bridge", "host", "null" */
	bool predefined, is_default, internal, user_subnet;
	struct skiff_cidr subnet, range;
	bool has_range;
	uint32_t gateway;
	char bridge[16];
	json_t *labels, *options;
	struct timespec created;
	char *dir;
	struct skiff_ipam *ipam; /* bridge networks */
	bool up;                 /* bridge link, address, nft rules made this run */
	bool dns;                /* the resolver listens on gateway:53 */
};

struct net_ep {
	struct skiff_network *net;
	char ep_id[65];
	uint32_t ip;
	uint8_t mac[6];
	int index; /* ethN */
	json_t *aliases; /* the user's aliases (strings) */
};

/* A container whose network is up (started, running). */
struct net_ctr {
	char id[65];
	char *name;     /* without the "/" */
	char *hostname;
	struct skiff_netns ns; /* until the init runs */
	int pid;
	struct net_ep eps[NET_MAX_EPS];
	int neps;
	struct skiff_port *ports;
	size_t nports;
	int *port_fds;
	bool bpf;
	bool nft_ports, bpf_ports;
};

struct skiff_net {
	struct skiff_daemon *d;
	char *root; /* <data-root>/network */
	struct skiff_network **v;
	size_t n;
	struct net_ctr **ctrs;
	size_t nctrs;
	struct skiff_cidr pools[8];
	int pool_size[8];
	int npools;
	char bridge[16];
	struct skiff_cidr bip_net;
	uint32_t bip_gw;
	struct skiff_nl nl;
	struct skiff_netns_pool *pool;
	struct skiff_nft *nft;
	char table[32];
	struct skiff_bpf_net *bpf;
	char pin_dir[128];
	struct skiff_dns *dns;
	bool forward_set;
	char status[512];
};

struct skiff_network *net_find(struct skiff_net *m, const char *key, struct skiff_error *err);
struct net_ctr *net_ctr_find(struct skiff_net *m, const char *id);
/* Creates the network's bridge, address, nft rules and DNS listener if not done this run. */
int net_up(struct skiff_net *m, struct skiff_network *n, struct skiff_error *err);
/* bridge skiff0 -> table "skiff", pins /sys/fs/bpf/skiff; X -> skiff-X */
void net_daemon_names(const char *bridge, char *table, size_t tlen, char *pin, size_t plen);
int net_save(struct skiff_net *m, struct skiff_network *n);
bool net_has_endpoints(struct skiff_net *m, const struct skiff_network *n);
/* endpoint.c: the host side made at init (bpffs, nft table, BPF, DNS,
 * netns pool, the default bridge) and undone at shutdown (fds only). */
int net_datapath_init(struct skiff_net *m, const struct skiff_net_opts *o, struct skiff_error *err);
void net_datapath_close(struct skiff_net *m);
/* Deletes the network's bridge, nft rules, DNS listener (network removed). */
void net_down(struct skiff_net *m, struct skiff_network *n);

/* endpoint-ports.c: published ports of a starting container (reserve,
 * BPF, nft); the inspect and ps shapes. */
int net_ports_setup(struct skiff_net *m, const struct skiff_ctr *c, struct net_ctr *nc, struct skiff_error *err);
/* Re-reserves nc->ports after a skiffd restart (fds only). */
int net_ports_readopt(struct skiff_net *m, struct net_ctr *nc);
json_t *net_ports_inspect(struct skiff_net *m, const struct skiff_ctr *c);

#endif
