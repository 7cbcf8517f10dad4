/* The network manager's side of published ports: a starting container's
 * PortBindings/-P parsed and its host ports reserved by ports.c (Docker's
 * words and checks live there, once), then handed to the BPF port map
 * (host-local clients) and skiff's nftables table (everyone else); and the
 * Ports shapes of inspect and ps from the container's live ports. */
#include <errno.h>
#include <stdlib.h>

#include "../daemon/container-config.h"
#include "../daemon/daemon.h"
#include "../lib/json.h"
#include "net-internal.h"
#include "ports.h"

int net_ports_setup(struct skiff_net *m, const struct skiff_ctr *c, struct net_ctr *nc, struct skiff_error *err)
{
	json_t *pb = json_object_get(c->host_config, "PortBindings");
	json_t *exposed = json_object_get(c->config, "ExposedPorts");
	bool all = skiff_json_bool(c->host_config, "PublishAllPorts", false);
	struct skiff_port *p = NULL;
	uint16_t *last = NULL;
	size_t n = 0;
	int *fds = NULL, r;

	/* host and none networks have no endpoint to carry a port (Docker ignores them too) */
	if (!nc->neps)
		return 0;
	r = skiff_ports_parse(pb, all, exposed, &p, &last, &n, err);
	if (r < 0 || !n)
		return r;
	/* the ports reach the container on its first network (eth0) */
	for (size_t i = 0; i < n; i++)
		p[i].ctr_ip = nc->eps[0].ip;
	r = skiff_ports_reserve(p, last, n, nc->name, nc->id, &fds, err);
	free(last);
	if (r < 0) {
		free(p);
		return r;
	}
	/* nc owns them from here: a failure below is undone by ctr_free */
	nc->ports = p;
	nc->port_fds = fds;
	nc->nports = n;
	if (m->bpf && skiff_bpf_net_has_ports(m->bpf)) {
		r = skiff_bpf_ports_add(m->bpf, nc->ports, nc->nports, err);
		if (r < 0)
			return r;
		nc->bpf_ports = true;
	}
	if (m->nft) {
		r = skiff_nft_ports_add(m->nft, nc->ports, nc->nports, err);
		if (r < 0)
			return r;
		nc->nft_ports = true;
	}
	return 0;
}

int net_ports_readopt(struct skiff_net *m, struct net_ctr *nc)
{
	nc->port_fds = calloc(nc->nports + 1, sizeof(*nc->port_fds));
	if (!nc->port_fds)
		return -ENOMEM;
	/* port by port, not all or nothing: one taken meanwhile must not cost the others */
	for (size_t i = 0; i < nc->nports; i++) {
		struct skiff_port p = nc->ports[i];
		int *fd = NULL;
		nc->port_fds[i] = -1;
		if (skiff_ports_reserve(&p, NULL, 1, nc->name, nc->id, &fd, NULL) == 0) {
			nc->port_fds[i] = fd[0];
			free(fd);
		}
	}
	/* the map elements and the nft set entries outlived skiffd */
	nc->bpf_ports = m->bpf && skiff_bpf_net_has_ports(m->bpf);
	nc->nft_ports = m->nft != NULL;
	return 0;
}

/* {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": null} */
json_t *net_ports_inspect(struct skiff_net *m, const struct skiff_ctr *c)
{
	struct net_ctr *nc = m ? net_ctr_find(m, c->id) : NULL;
	json_t *o;

	if (!nc)
		return json_object();
	o = skiff_ports_settings_json(nc->ports, nc->nports, json_object_get(c->config, "ExposedPorts"));
	return o ? o : json_object();
}

/* [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}, {"PrivatePort": 81, "Type": "tcp"}] */
json_t *skiff_net_ctr_ports_ps(struct skiff_daemon *d, const struct skiff_ctr *c)
{
	struct net_ctr *nc = d && d->net ? net_ctr_find(d->net, c->id) : NULL;
	json_t *a;

	if (!nc)
		return json_array();
	a = skiff_ports_list_json(nc->ports, nc->nports, json_object_get(c->config, "ExposedPorts"));
	return a ? a : json_array();
}
