/* Published ports as Docker's API spells them: parsing HostConfig.PortBindings
 * (and -P's ExposedPorts), reserving each host port with a bound socket in
 * skiffd's namespace, the JSON shapes of inspect and /containers/json, the
 * `ps` PORTS column and the ps publish=/expose= filters. Pure except for
 * skiff_ports_reserve. IPv4 only. */
#ifndef SKIFF_NET_PORTS_H
#define SKIFF_NET_PORTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"
#include "port.h"

/* HostConfig.PortBindings ({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort":
 * "8080"}], ...}, may be NULL) plus, when publish_all, an ephemeral binding
 * for every Config.ExposedPorts key without bindings -> *out (malloc'd, *n
 * entries, sorted by container port, proto, host ip, host port; NULL when
 * n is 0). HostPort "" or "0" = ephemeral (host_port 0); "8000-8010" = the
 * first free port of the range: host_port 8000 and, when last is not NULL,
 * (*last)[i] 8010 (malloc'd, parallel to *out; == host_port when no range).
 * ctr_ip is left 0 for the caller. 400 with dockerd's words: "invalid port specification:
 * \"abc\"" (container port or HostPort), "invalid IP address: x", and
 * "IPv6 port bindings are not supported by skiff" / "SCTP port bindings are
 * not supported by skiff". */
int skiff_ports_parse(const json_t *port_bindings, bool publish_all, const json_t *exposed_ports,
		      struct skiff_port **out, uint16_t **last, size_t *n, struct skiff_error *err);

/* Reserves every port by bind() (no listen, no SO_REUSEADDR, CLOEXEC) of a
 * socket of its protocol on host_ip:host_port in the caller's namespace;
 * host_port 0 takes the kernel's ephemeral choice and a range
 * (host_port..last[i], last may be NULL) its first free port, written back
 * into p[i].host_port.
 * All or nothing: on failure every socket bound so far is closed and p is
 * unchanged. *fds = malloc'd array of n fds (release with
 * skiff_ports_release). ctr_name (a leading "/" is dropped) and ctr_id name
 * the endpoint in the error: 500 "driver failed programming external
 * connectivity on endpoint NAME (ID): Bind for 0.0.0.0:5000 failed: port is
 * already allocated" (Docker's text; for a range "...0.0.0.0:8000-8010
 * failed..."). */
int skiff_ports_reserve(struct skiff_port *p, const uint16_t *last, size_t n, const char *ctr_name, const char *ctr_id,
			int **fds, struct skiff_error *err);
/* Closes the n fds and frees the array (NULL-safe). */
void skiff_ports_release(int *fds, size_t n);

/* "tcp" / "udp" */
const char *skiff_port_proto_name(uint8_t proto);

/* NetworkSettings.Ports: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort":
 * "18080"}], "443/tcp": null} from the reserved ports and the exposed ones
 * (Config.ExposedPorts, may be NULL). New reference. */
json_t *skiff_ports_settings_json(const struct skiff_port *p, size_t n, const json_t *exposed_ports);
/* /containers/json "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80,
 * "PublicPort": 18080, "Type": "tcp"}, {"PrivatePort": 443, "Type":
 * "tcp"}], sorted like skiff_ports_parse. New reference. */
json_t *skiff_ports_list_json(const struct skiff_port *p, size_t n, const json_t *exposed_ports);

/* The PORTS column of `docker ps` from a /containers/json "Ports" array,
 * as the docker 28 CLI formats it: sorted, ports published on the same
 * number and ip grouped into ranges ("0.0.0.0:8000-8001->8000-8001/tcp"),
 * exposed-only ones as "443/tcp", other mappings one by one
 * ("0.0.0.0:18080->80/tcp"), joined by ", ". malloc'd ("" for none). */
char *skiff_ports_display(const json_t *ports);

/* ps --filter publish=VALUE / expose=VALUE: VALUE is "80", "80/udp" or
 * "8000-8080[/proto]" (proto defaults to tcp). check: 400 "filter for
 * 'publish' should not contain ':': 8080:80" or "error while looking up for
 * publish VALUE: ..." (dockerd's). match: Docker matches container ports,
 * publish against the keys of HostConfig.PortBindings, expose against the
 * keys of Config.ExposedPorts; pass that object. */
int skiff_ports_filter_check(const char *filter, const char *value, struct skiff_error *err);
bool skiff_ports_filter_match(const json_t *port_set, const char *value);

#endif
