/* The network store and the network API: every network in memory, each
 * persisted in <data-root>/network/<id>/network.json (atomically) with its
 * IPAM leases beside it; the predefined bridge/host/none; create, remove,
 * prune, filters and Docker's list/inspect shapes. The containers' side
 * (endpoints, connect/disconnect, the data path) is in endpoint.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../daemon/container-config.h"
#include "../daemon/container.h"
#include "../daemon/daemon.h"
#include "../daemon/events.h"
#include "../daemon/names.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "net-internal.h"

/* ---- lookup ---- */

struct skiff_network *net_find(struct skiff_net *m, const char *key, struct skiff_error *err)
{
	struct skiff_network *hit = NULL;
	size_t klen = strlen(key);

	if (!*key)
		goto nf;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i]->id, key))
			return m->v[i];
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i]->name, key))
			return m->v[i];
	for (size_t i = 0; i < m->n; i++)
		if (!strncmp(m->v[i]->id, key, klen)) {
			if (hit) {
				skiff_error_set(err, SKIFF_EINVAL, ENOTUNIQ,
						"network %s is ambiguous (%zu matches found on name)", key, (size_t)2);
				return NULL;
			}
			hit = m->v[i];
		}
	if (hit)
		return hit;
nf:
	skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "network %s not found", key);
	return NULL;
}

struct net_ctr *net_ctr_find(struct skiff_net *m, const char *id)
{
	for (size_t i = 0; i < m->nctrs; i++)
		if (!strcmp(m->ctrs[i]->id, id))
			return m->ctrs[i];
	return NULL;
}

bool net_has_endpoints(struct skiff_net *m, const struct skiff_network *n)
{
	for (size_t i = 0; i < m->nctrs; i++)
		for (int j = 0; j < m->ctrs[i]->neps; j++)
			if (m->ctrs[i]->eps[j].net == n)
				return true;
	return false;
}

/* ---- persistence ---- */

static json_t *ipam_json(const struct skiff_network *n)
{
	json_t *cfg = json_array();
	if (!strcmp(n->driver, "bridge")) {
		char sub[20], gw[16], rng[20];
		skiff_cidr_format(&n->subnet, sub, sizeof(sub));
		skiff_ip_format(n->gateway, gw, sizeof(gw));
		json_t *e = json_pack("{s:s, s:s}", "Subnet", sub, "Gateway", gw);
		if (n->has_range) {
			skiff_cidr_format(&n->range, rng, sizeof(rng));
			json_object_set_new(e, "IPRange", json_string(rng));
		}
		json_array_append_new(cfg, e);
	}
	return json_pack("{s:s, s:o, s:o}", "Driver", "default", "Options",
			 n->predefined ? json_null() : json_object(), "Config", cfg);
}

/* Docker's inspect shape without Containers (the caller adds it). */
static json_t *net_json(const struct skiff_network *n)
{
	char created[40];
	skiff_time_format(&n->created, created);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:b, s:b, s:b, s:{s:s}, s:b, s:O, s:O}", "Name",
			 n->name, "Id", n->id, "Created", created, "Scope", "local", "Driver", n->driver,
			 "EnableIPv4", true, "EnableIPv6", false, "IPAM", ipam_json(n), "Internal", n->internal,
			 "Attachable", false, "Ingress", false, "ConfigFrom", "Network", "", "ConfigOnly", false,
			 "Options", n->options ? n->options : json_object(), "Labels",
			 n->labels ? n->labels : json_object());
}

int net_save(struct skiff_net *m, struct skiff_network *n)
{
	_cleanup_json_ json_t *j = net_json(n);
	_cleanup_free_ char *p = skiff_path_join(n->dir, "network.json");
	int r;
	(void)m;
	if (!j || !p)
		return -ENOMEM;
	json_object_set_new(j, "SkiffBridge", json_string(n->bridge));
	json_object_set_new(j, "SkiffPredefined", json_boolean(n->predefined));
	json_object_set_new(j, "SkiffDefault", json_boolean(n->is_default));
	json_object_set_new(j, "SkiffUserSubnet", json_boolean(n->user_subnet));
	r = skiff_mkdir_p(n->dir, 0700);
	return r < 0 ? r : skiff_json_write_file(p, j);
}

static void net_free(struct skiff_network *n)
{
	if (!n)
		return;
	skiff_ipam_close(n->ipam);
	free(n->name);
	free(n->dir);
	json_decref(n->labels);
	json_decref(n->options);
	free(n);
}

static int net_open_ipam(struct skiff_network *n, struct skiff_error *err)
{
	_cleanup_free_ char *p = NULL;
	if (strcmp(n->driver, "bridge") || n->ipam)
		return 0;
	p = skiff_path_join(n->dir, "leases.json");
	if (!p)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return skiff_ipam_open(p, &n->subnet, n->gateway, n->has_range ? &n->range : NULL, &n->ipam, err);
}

static struct skiff_network *net_load(struct skiff_net *m, const char *id)
{
	_cleanup_json_ json_t *j = NULL;
	_cleanup_free_ char *dir = skiff_path_join(m->root, id), *p = NULL;
	struct skiff_error err = { 0 };
	struct skiff_network *n;
	json_t *cfg;

	if (!dir || !(p = skiff_path_join(dir, "network.json")) || skiff_json_read_file(p, &j) < 0)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->id, sizeof(n->id), "%s", skiff_json_str(j, "Id", ""));
	n->name = strdup(skiff_json_str(j, "Name", ""));
	snprintf(n->driver, sizeof(n->driver), "%s", skiff_json_str(j, "Driver", "bridge"));
	snprintf(n->bridge, sizeof(n->bridge), "%s", skiff_json_str(j, "SkiffBridge", ""));
	n->predefined = skiff_json_bool(j, "SkiffPredefined", false);
	n->is_default = skiff_json_bool(j, "SkiffDefault", false);
	n->user_subnet = skiff_json_bool(j, "SkiffUserSubnet", false);
	n->internal = skiff_json_bool(j, "Internal", false);
	n->labels = json_incref(json_object_get(j, "Labels"));
	n->options = json_incref(json_object_get(j, "Options"));
	n->dir = TAKE_PTR(dir);
	skiff_time_parse(skiff_json_str(j, "Created", ""), &n->created);
	cfg = json_array_get(json_object_get(json_object_get(j, "IPAM"), "Config"), 0);
	if (cfg) {
		skiff_cidr_parse(skiff_json_str(cfg, "Subnet", ""), false, &n->subnet);
		skiff_ip_parse(skiff_json_str(cfg, "Gateway", ""), &n->gateway);
		if (skiff_json_str(cfg, "IPRange", NULL))
			n->has_range = skiff_cidr_parse(skiff_json_str(cfg, "IPRange", ""), false, &n->range) == 0;
	}
	if (!n->name || strcmp(n->id, id) || (!n->is_default && net_open_ipam(n, &err) < 0)) {
		log_warn("network %.12s: %s: skipped", id, err.msg[0] ? err.msg : "unreadable network.json");
		net_free(n);
		return NULL;
	}
	return n;
}

static int net_add(struct skiff_net *m, struct skiff_network *n)
{
	struct skiff_network **v = realloc(m->v, (m->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->v = v;
	m->v[m->n++] = n;
	return 0;
}

static void net_del(struct skiff_net *m, struct skiff_network *n)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i] == n) {
			memmove(m->v + i, m->v + i + 1, (m->n - i - 1) * sizeof(*m->v));
			m->n--;
			return;
		}
}

static struct skiff_network *net_new(struct skiff_net *m, const char *name, const char *driver)
{
	struct skiff_network *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (skiff_id_generate(n->id) < 0 || !(n->name = strdup(name)) || !(n->dir = skiff_path_join(m->root, n->id))) {
		net_free(n);
		return NULL;
	}
	snprintf(n->driver, sizeof(n->driver), "%s", driver);
	n->created = skiff_now();
	return n;
}

/* ---- subnets ---- */

/* Subnets in use: every bridge network's and the host's routes. */
static size_t used_subnets(struct skiff_net *m, struct skiff_cidr **out, const struct skiff_network *skip)
{
	_cleanup_free_ uint32_t *dst = NULL;
	_cleanup_free_ int *len = NULL;
	size_t nr = 0, k = 0;
	struct skiff_cidr *v;

	if (m->nl.fd >= 0 && skiff_nl_routes(&m->nl, &dst, &len, &nr) < 0)
		nr = 0;
	v = calloc(m->n + nr + 1, sizeof(*v));
	if (!v)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i] != skip && !strcmp(m->v[i]->driver, "bridge"))
			v[k++] = m->v[i]->subnet;
	for (size_t i = 0; i < nr; i++)
		if (len[i] > 0) { /* the default route overlaps everything */
			v[k].addr = dst[i] & skiff_cidr_mask(len[i]);
			v[k++].len = len[i];
		}
	*out = v;
	return k;
}

/* ---- predefined networks ---- */

static struct skiff_network *find_predefined(struct skiff_net *m, const char *driver, bool dflt)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i]->predefined && !strcmp(m->v[i]->driver, driver) && m->v[i]->is_default == dflt)
			return m->v[i];
	return NULL;
}

static int ensure_predefined(struct skiff_net *m, struct skiff_error *err)
{
	static const struct {
		const char *name, *driver;
		bool dflt;
	} pre[] = { { "bridge", "bridge", true }, { "host", "host", false }, { "none", "null", false } };
	char mtu[8] = "1500";

	for (size_t i = 0; i < ARRAY_SIZE(pre); i++) {
		struct skiff_network *n = find_predefined(m, pre[i].driver, pre[i].dflt);
		bool fresh = !n;
		if (!n) {
			n = net_new(m, pre[i].name, pre[i].driver);
			if (!n || net_add(m, n) < 0) {
				net_free(n);
				return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
			}
			n->predefined = true;
			n->is_default = pre[i].dflt;
		}
		if (pre[i].dflt) {
			/* --bip and --bridge may change between runs: the flags win */
			bool changed = fresh || n->subnet.addr != m->bip_net.addr || n->subnet.len != m->bip_net.len ||
				       n->gateway != m->bip_gw || strcmp(n->bridge, m->bridge);
			n->subnet = m->bip_net;
			n->gateway = m->bip_gw;
			snprintf(n->bridge, sizeof(n->bridge), "%s", m->bridge);
			json_decref(n->options);
			n->options = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "com.docker.network.bridge.default_bridge",
					       "true", "com.docker.network.bridge.enable_icc", "true",
					       "com.docker.network.bridge.enable_ip_masquerade", "true",
					       "com.docker.network.bridge.host_binding_ipv4", "0.0.0.0",
					       "com.docker.network.bridge.name", m->bridge, "com.docker.network.driver.mtu",
					       mtu);
			if (changed && n->ipam) {
				skiff_ipam_close(n->ipam);
				n->ipam = NULL;
			}
			if (changed) {
				_cleanup_free_ char *p = skiff_path_join(n->dir, "leases.json");
				if (p && fresh == false)
					unlink(p); /* leases of another subnet mean nothing */
			}
			int r = net_open_ipam(n, err);
			if (r < 0)
				return r;
			if (changed && net_save(m, n) < 0)
				return skiff_error_set(err, SKIFF_EINTERNAL, EIO, "saving the default network");
		} else if (fresh && net_save(m, n) < 0) {
			return skiff_error_set(err, SKIFF_EINTERNAL, EIO, "saving network %s", n->name);
		}
	}
	return 0;
}

/* ---- flags ---- */

static int parse_pool(const char *s, struct skiff_cidr *base, int *size, struct skiff_error *err)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;
	bool have_base = false;
	*size = 24;
	if (!copy)
		return -ENOMEM;
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (!strncmp(kv, "base=", 5) && skiff_cidr_parse(kv + 5, false, base) == 0)
			have_base = true;
		else if (!strncmp(kv, "size=", 5) && atoi(kv + 5) > 0 && atoi(kv + 5) <= 30)
			*size = atoi(kv + 5);
		else
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid --default-address-pool '%s'", s);
	}
	if (!have_base || *size < base->len)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid --default-address-pool '%s'", s);
	return 0;
}

/* The daemon's names: bridge skiff0 -> table skiff, pins /sys/fs/bpf/skiff;
 * bridge X -> skiff-X (so test daemons with their own bridge never collide). */
void net_daemon_names(const char *bridge, char *table, size_t tlen, char *pin, size_t plen)
{
	if (!strcmp(bridge, "skiff0")) {
		snprintf(table, tlen, "skiff");
		snprintf(pin, plen, "/sys/fs/bpf/skiff");
	} else {
		snprintf(table, tlen, "skiff-%s", bridge);
		snprintf(pin, plen, "/sys/fs/bpf/skiff-%s", bridge);
	}
}

int skiff_net_init(struct skiff_daemon *d, const struct skiff_net_opts *o, struct skiff_error *err)
{
	struct skiff_net *m = calloc(1, sizeof(*m));
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;
	int r;

	if (!m)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	d->net = m;
	m->d = d;
	m->nl.fd = -1;
	snprintf(m->bridge, sizeof(m->bridge), "%s", o->bridge && *o->bridge ? o->bridge : "skiff0");
	if (strlen(o->bridge ? o->bridge : "") > 15)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "bridge name '%s' is longer than 15 characters",
				       o->bridge);
	{
		const char *bip = o->bip && *o->bip ? o->bip : "10.123.0.1/16";
		char ip[32];
		const char *slash = strchr(bip, '/');
		if (!slash || (size_t)(slash - bip) >= sizeof(ip) || skiff_cidr_parse(bip, false, &m->bip_net) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid --bip '%s': want CIDR like 10.123.0.1/16",
					       bip);
		snprintf(ip, sizeof(ip), "%.*s", (int)(slash - bip), bip);
		if (skiff_ip_parse(ip, &m->bip_gw) < 0 || m->bip_gw == m->bip_net.addr)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid --bip '%s': the address is the bridge's gateway, not the subnet",
					       bip);
	}
	for (int i = 0; i < 8 && o->pools[i]; i++) {
		r = parse_pool(o->pools[i], &m->pools[m->npools], &m->pool_size[m->npools], err);
		if (r < 0)
			return r;
		m->npools++;
	}
	if (!m->npools) {
		skiff_cidr_parse("10.124.0.0/14", false, &m->pools[0]);
		m->pool_size[0] = 24;
		m->npools = 1;
	}
	net_daemon_names(m->bridge, m->table, sizeof(m->table), m->pin_dir, sizeof(m->pin_dir));
	if (asprintf(&m->root, "%s/network", d->data_root) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	r = skiff_mkdir_p(m->root, 0700);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating '%s'", m->root);
	r = skiff_nl_open(&m->nl);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "opening rtnetlink");

	dir = opendir(m->root);
	while (dir && (de = readdir(dir))) {
		struct skiff_network *n;
		if (strlen(de->d_name) != 64)
			continue;
		n = net_load(m, de->d_name);
		if (n && net_add(m, n) < 0)
			net_free(n);
	}
	r = ensure_predefined(m, err);
	if (r < 0)
		return r;
	return net_datapath_init(m, o, err);
}

void skiff_net_shutdown(struct skiff_daemon *d)
{
	struct skiff_net *m = d->net;
	if (!m)
		return;
	net_datapath_close(m);
	for (size_t i = 0; i < m->n; i++)
		net_free(m->v[i]);
	free(m->v);
	free(m->root);
	skiff_nl_close(&m->nl);
	free(m);
	d->net = NULL;
}

/* ---- API: list, inspect ---- */

static json_t *containers_json(struct skiff_net *m, const struct skiff_network *n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < m->nctrs; i++) {
		struct net_ctr *nc = m->ctrs[i];
		for (int j = 0; j < nc->neps; j++) {
			const struct net_ep *e = &nc->eps[j];
			char ip[16], mac[18], addr[24];
			if (e->net != n)
				continue;
			skiff_ip_format(e->ip, ip, sizeof(ip));
			snprintf(addr, sizeof(addr), "%s/%d", ip, n->subnet.len);
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0], e->mac[1], e->mac[2],
				 e->mac[3], e->mac[4], e->mac[5]);
			json_object_set_new(o, nc->id,
					    json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name", nc->name, "EndpointID",
						      e->ep_id, "MacAddress", mac, "IPv4Address", addr, "IPv6Address",
						      ""));
		}
	}
	return o;
}

static json_t *inspect(struct skiff_net *m, const struct skiff_network *n, bool with_ctrs)
{
	json_t *j = net_json(n);
	if (j)
		json_object_set_new(j, "Containers", with_ctrs ? containers_json(m, n) : json_object());
	return j;
}

static bool label_match(const json_t *labels, const char *f)
{
	const char *eq = strchr(f, '=');
	if (!eq)
		return json_object_get(labels, f) != NULL;
	_cleanup_free_ char *k = strndup(f, (size_t)(eq - f));
	const char *v = k ? skiff_json_str(labels, k, NULL) : NULL;
	return v && !strcmp(v, eq + 1);
}

static const char *const filter_keys[] = { "driver", "id", "label", "name", "scope", "type", "dangling", "until" };

static int filters_check(const json_t *filters, bool prune, struct skiff_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)filters, k, v)
	{
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(filter_keys); i++)
			ok |= !strcmp(k, filter_keys[i]);
		if (prune)
			ok = !strcmp(k, "label") || !strcmp(k, "label!") || !strcmp(k, "until");
		else if (!strcmp(k, "until"))
			ok = false;
		if (!ok)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid filter '%s'", k);
		if (!strcmp(k, "type")) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) if (strcmp(json_string_value(e), "custom") &&
							strcmp(json_string_value(e), "builtin")) return skiff_error_set(
				err, SKIFF_EINVAL, EINVAL, "invalid filter: 'type'='%s'", json_string_value(e));
		}
		if (!strcmp(k, "dangling")) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
			{
				const char *s = json_string_value(e);
				if (strcmp(s, "true") && strcmp(s, "false") && strcmp(s, "1") && strcmp(s, "0"))
					return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
							       "invalid filter 'dangling=%s'", s);
			}
		}
	}
	return 0;
}

/* Docker: every key must match; within a key any value. */
static bool filters_match(struct skiff_net *m, const json_t *filters, const struct skiff_network *n)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)filters, k, v)
	{
		bool any = false;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			const char *s = json_string_value(e);
			if (!s)
				continue;
			if (!strcmp(k, "driver"))
				any |= !strcmp(n->driver, s);
			else if (!strcmp(k, "id"))
				any |= !strncmp(n->id, s, strlen(s));
			else if (!strcmp(k, "name"))
				any |= strstr(n->name, s) != NULL;
			else if (!strcmp(k, "label"))
				any |= label_match(n->labels, s);
			else if (!strcmp(k, "label!"))
				any |= !label_match(n->labels, s);
			else if (!strcmp(k, "scope"))
				any |= !strcmp(s, "local");
			else if (!strcmp(k, "type"))
				any |= !strcmp(s, n->predefined ? "builtin" : "custom");
			else if (!strcmp(k, "dangling")) {
				bool want = !strcmp(s, "true") || !strcmp(s, "1");
				bool dangling = !n->predefined && !net_has_endpoints(m, n);
				any |= want == dangling;
			} else if (!strcmp(k, "until")) {
				struct timespec t;
				any |= skiff_time_parse(s, &t) == 0 && n->created.tv_sec < t.tv_sec;
			}
		}
		if (!any)
			return false;
	}
	return true;
}

json_t *skiff_network_list_json(struct skiff_daemon *d, const json_t *filters, struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	json_t *a;
	if (filters && filters_check(filters, false, err) < 0)
		return NULL;
	a = json_array();
	for (size_t i = 0; m && i < m->n; i++)
		if (!filters || filters_match(m, filters, m->v[i]))
			json_array_append_new(a, inspect(m, m->v[i], false));
	return a;
}

json_t *skiff_network_inspect_json(struct skiff_daemon *d, const char *key, bool verbose, const char *scope,
				   struct skiff_error *err)
{
	struct skiff_network *n;
	(void)verbose;
	if (!d->net) {
		skiff_error_set(err, SKIFF_EUNAVAIL, ENOTCONN, "networking is not available");
		return NULL;
	}
	n = net_find(d->net, key, err);
	if (!n)
		return NULL;
	if (scope && *scope && strcmp(scope, "local")) {
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "network %s not found", key);
		return NULL;
	}
	return inspect(d->net, n, true);
}

/* ---- API: create ---- */

static const char *const other_drivers[] = { "overlay", "macvlan", "ipvlan" };

static int create_check_driver(struct skiff_net *m, const char *driver, struct skiff_error *err)
{
	(void)m;
	if (!*driver || !strcmp(driver, "bridge"))
		return 0;
	if (!strcmp(driver, "host") || !strcmp(driver, "null"))
		return skiff_error_set(err, 403, EPERM, "only one instance of \"%s\" network is allowed", driver);
	for (size_t i = 0; i < ARRAY_SIZE(other_drivers); i++)
		if (!strcmp(driver, other_drivers[i]))
			return skiff_error_set(err, SKIFF_ENOTIMPL, ENOTSUP,
					       "skiff supports only the bridge network driver, not \"%s\" (not supported)",
					       driver);
	return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "plugin \"%s\" not found", driver);
}

static int create_ipam(struct skiff_net *m, struct skiff_network *n, const json_t *ipam, struct skiff_error *err)
{
	json_t *cfgs = json_object_get(ipam, "Config");
	const char *drv = skiff_json_str(ipam, "Driver", "");
	_cleanup_free_ struct skiff_cidr *used = NULL;
	size_t nused;
	int r;

	if (*drv && strcmp(drv, "default"))
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "plugin \"%s\" not found", drv);
	if (cfgs && !json_is_array(cfgs) && !json_is_null(cfgs))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal %s into Go struct field IPAM.IPAM.Config of type []network.IPAMConfig",
				       json_is_object(cfgs) ? "object" : "value");
	if (json_array_size(cfgs) > 1)
		return skiff_error_set(err, SKIFF_ENOTIMPL, ENOTSUP,
				       "skiff networks have one IPv4 subnet; got %zu IPAM configs (not supported)",
				       json_array_size(cfgs));
	nused = used_subnets(m, &used, NULL);
	if (json_array_size(cfgs) == 1) {
		json_t *c = json_array_get(cfgs, 0);
		const char *sub = skiff_json_str(c, "Subnet", ""), *gw = skiff_json_str(c, "Gateway", "");
		const char *rng = skiff_json_str(c, "IPRange", "");
		if (strchr(sub, ':'))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "IPv6 networks are not supported by skiff yet");
		if (!*sub && (*gw || *rng))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid pool request: a gateway or ip-range needs a subnet");
		if (*sub) {
			if (skiff_cidr_parse(sub, false, &n->subnet) < 0 || n->subnet.len > 30)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid subnet %s : invalid CIDR address: %s",
						       sub, sub);
			for (size_t i = 0; i < nused; i++)
				if (skiff_cidr_overlap(&n->subnet, &used[i]))
					return skiff_error_set(err, 403, EEXIST,
							       "invalid pool request: Pool overlaps with other one on this address space");
			n->user_subnet = true;
		}
		if (*rng) {
			if (skiff_cidr_parse(rng, false, &n->range) < 0 || !skiff_cidr_contains(&n->subnet, n->range.addr) ||
			    n->range.len < n->subnet.len)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "invalid ip-range %s: it must be inside subnet %s", rng, sub);
			n->has_range = true;
		}
		if (*gw) {
			if (skiff_ip_parse(gw, &n->gateway) < 0)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid gateway %s", gw);
			if (!skiff_cidr_contains(&n->subnet, n->gateway))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "invalid gateway %s: it is not in subnet %s", gw, sub);
		}
	}
	if (!n->user_subnet) {
		r = -ENOSPC;
		for (int i = 0; i < m->npools && r < 0; i++)
			r = skiff_subnet_pick(&m->pools[i], m->pool_size[i], used, nused, &n->subnet, err);
		if (r < 0)
			return r;
		skiff_error_clear(err);
	}
	if (!n->gateway)
		n->gateway = n->subnet.addr + 1;
	return 0;
}

int skiff_network_create(struct skiff_daemon *d, json_t *body, json_t **reply, struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	struct skiff_network *n = NULL;
	const char *name = skiff_json_str(body, "Name", ""), *driver = skiff_json_str(body, "Driver", "");
	json_t *labels = json_object_get(body, "Labels"), *opts = json_object_get(body, "Options");
	const char *brname;
	int r;

	if (!m)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOTCONN, "networking is not available");
	if (!*name)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "network name must not be empty");
	if (!skiff_name_valid(name) || name[0] == '/')
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i]->name, name))
			return skiff_error_set(err, SKIFF_ECONFLICT, EEXIST, "network with name %s already exists", name);
	if ((r = create_check_driver(m, driver, err)) < 0)
		return r;
	if (skiff_json_bool(body, "EnableIPv6", false))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "IPv6 networks are not supported by skiff yet (EnableIPv6 must be false)");
	if (json_object_get(body, "EnableIPv4") && !skiff_json_bool(body, "EnableIPv4", true))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "skiff networks need IPv4 (EnableIPv4 must be true)");
	if (skiff_json_bool(body, "Attachable", false) || skiff_json_bool(body, "Ingress", false) ||
	    skiff_json_bool(body, "ConfigOnly", false) ||
	    *skiff_json_str(json_object_get(body, "ConfigFrom"), "Network", ""))
		return skiff_error_set(err, SKIFF_ENOTIMPL, ENOTSUP,
				       "swarm network options (Attachable, Ingress, ConfigOnly, ConfigFrom) are not supported by skiff");
	if ((labels && !json_is_object(labels) && !json_is_null(labels)) ||
	    (opts && !json_is_object(opts) && !json_is_null(opts)))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Labels and Options must be objects of strings");
	n = net_new(m, name, "bridge");
	if (!n)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	n->internal = skiff_json_bool(body, "Internal", false);
	n->labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
	n->options = json_is_object(opts) ? json_deep_copy(opts) : json_object();
	brname = skiff_json_str(n->options, "com.docker.network.bridge.name", "");
	if (*brname) {
		if (strlen(brname) > 15) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "bridge name '%s' is longer than 15 characters",
					    brname);
			goto fail;
		}
		for (size_t i = 0; i < m->n; i++)
			if (!strcmp(m->v[i]->bridge, brname)) {
				r = skiff_error_set(err, SKIFF_ECONFLICT, EEXIST,
						    "bridge name %s is already used by network %s", brname, m->v[i]->name);
				goto fail;
			}
		snprintf(n->bridge, sizeof(n->bridge), "%s", brname);
	} else {
		snprintf(n->bridge, sizeof(n->bridge), "br-%.12s", n->id);
	}
	r = create_ipam(m, n, json_object_get(body, "IPAM"), err);
	if (r < 0)
		goto fail;
	r = net_save(m, n);
	if (r < 0) {
		skiff_error_sys(err, SKIFF_EINTERNAL, -r, "saving network %s", name);
		goto fail_dir;
	}
	r = net_open_ipam(n, err);
	if (r < 0)
		goto fail_dir;
	r = net_up(m, n, err); /* Docker makes the bridge at create */
	if (r < 0) {
		net_down(m, n);
		goto fail_dir;
	}
	if (net_add(m, n) < 0) {
		net_down(m, n);
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		goto fail_dir;
	}
	skiff_events_emit(d->events, "network", "create", n->id,
			  json_pack("{s:s, s:s}", "name", n->name, "type", n->driver));
	*reply = json_pack("{s:s, s:s}", "Id", n->id, "Warning", "");
	return 0;
fail_dir:
	skiff_rm_rf(n->dir);
fail:
	net_free(n);
	return r;
}

/* ---- API: remove, prune ---- */

static void net_destroy(struct skiff_net *m, struct skiff_network *n)
{
	net_down(m, n);
	skiff_events_emit(m->d->events, "network", "destroy", n->id,
			  json_pack("{s:s, s:s}", "name", n->name, "type", n->driver));
	net_del(m, n);
	skiff_rm_rf(n->dir);
	net_free(n);
}

int skiff_network_remove(struct skiff_daemon *d, const char *key, struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	struct skiff_network *n;

	if (!m)
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOTCONN, "networking is not available");
	n = net_find(m, key, err);
	if (!n)
		return -ENOENT;
	if (n->predefined)
		return skiff_error_set(err, 403, EPERM, "%s is a pre-defined network and cannot be removed", n->name);
	if (net_has_endpoints(m, n))
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
				       "error while removing network: network %s id %s has active endpoints", n->name,
				       n->id);
	net_destroy(m, n);
	return 0;
}

json_t *skiff_network_prune(struct skiff_daemon *d, const json_t *filters, struct skiff_error *err)
{
	struct skiff_net *m = d->net;
	json_t *del;
	if (!m) {
		skiff_error_set(err, SKIFF_EUNAVAIL, ENOTCONN, "networking is not available");
		return NULL;
	}
	if (filters && filters_check(filters, true, err) < 0)
		return NULL;
	del = json_array();
	for (size_t i = m->n; i-- > 0;) {
		struct skiff_network *n = m->v[i];
		if (n->predefined || net_has_endpoints(m, n))
			continue;
		if (filters && !filters_match(m, filters, n))
			continue;
		json_array_append_new(del, json_string(n->name));
		net_destroy(m, n);
	}
	return json_pack("{s:o}", "NetworksDeleted", del);
}
