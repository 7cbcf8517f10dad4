/* IPv4 address management for skiff's networks: address/CIDR helpers, the
 * subnet picker for --default-address-pool, and per-network leases kept in
 * one small JSON file (see ipam.h for the persistence rules). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "ipam.h"

int skiff_ip_parse(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

void skiff_ip_format(uint32_t ip, char *out, size_t outlen)
{
	snprintf(out, outlen, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

uint32_t skiff_cidr_mask(int len) { return len <= 0 ? 0 : len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1); }

int skiff_cidr_parse(const char *s, bool strict, struct skiff_cidr *out)
{
	char buf[32];
	const char *slash = s ? strchr(s, '/') : NULL;
	int len = 32;
	if (!s)
		return -EINVAL;
	if (slash) {
		const char *p = slash + 1;
		char *end;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		long l = strtol(p, &end, 10);
		if (*end || l < 0 || l > 32 || end - p > 2)
			return -EINVAL;
		len = (int)l;
		if ((size_t)(slash - s) >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, s, slash - s);
		buf[slash - s] = 0;
	} else {
		if (strlen(s) >= sizeof(buf))
			return -EINVAL;
		strcpy(buf, s);
	}
	uint32_t ip;
	if (skiff_ip_parse(buf, &ip) < 0)
		return -EINVAL;
	if (strict && (ip & ~skiff_cidr_mask(len)))
		return -EINVAL;
	out->addr = ip & skiff_cidr_mask(len);
	out->len = len;
	return 0;
}

void skiff_cidr_format(const struct skiff_cidr *c, char *out, size_t outlen)
{
	char ip[16];
	skiff_ip_format(c->addr, ip, sizeof(ip));
	snprintf(out, outlen, "%s/%d", ip, c->len);
}

bool skiff_cidr_contains(const struct skiff_cidr *c, uint32_t ip)
{
	return ((ip ^ c->addr) & skiff_cidr_mask(c->len)) == 0;
}

bool skiff_cidr_overlap(const struct skiff_cidr *a, const struct skiff_cidr *b)
{
	/* two prefixes overlap iff one contains the other's network address */
	return skiff_cidr_contains(a, b->addr) || skiff_cidr_contains(b, a->addr);
}

/* Last address of c (its broadcast). */
static uint32_t cidr_last(const struct skiff_cidr *c) { return c->addr | ~skiff_cidr_mask(c->len); }

int skiff_subnet_pick(const struct skiff_cidr *pool, int size, const struct skiff_cidr *used, size_t nused,
		      struct skiff_cidr *out, struct skiff_error *err)
{
	if (size < pool->len || size > 32)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid pool size %d for %u-bit base", size,
				       pool->len);
	uint64_t step = 1ull << (32 - size), end = (uint64_t)cidr_last(pool) + 1;
	uint64_t cand = pool->addr & skiff_cidr_mask(pool->len);
	while (cand < end) {
		struct skiff_cidr c = {.addr = (uint32_t)cand, .len = size};
		uint64_t next = cand + step;
		bool clash = false;
		for (size_t i = 0; i < nused; i++) {
			if (!skiff_cidr_overlap(&c, &used[i]))
				continue;
			clash = true;
			/* jump past a used prefix larger than one candidate */
			uint64_t past = (uint64_t)cidr_last(&used[i]) + 1;
			past = (past + step - 1) & ~(step - 1);
			if (past > next)
				next = past;
		}
		if (!clash) {
			*out = c;
			return 0;
		}
		cand = next;
	}
	return skiff_error_set(err, SKIFF_EINTERNAL, ENOSPC,
			       "could not find an available, non-overlapping IPv4 address pool among the defaults "
			       "to assign to the network");
}

struct lease {
	uint32_t ip;
	char *owner;
};

struct skiff_ipam {
	char *path;
	struct skiff_cidr subnet, range;
	uint32_t gateway;
	uint32_t last; /* the address handed out last (round-robin cursor), 0 = none */
	struct lease *leases;
	size_t n, cap;
	bool write_behind, dirty;
};

static struct lease *lease_find(struct skiff_ipam *ipam, uint32_t ip)
{
	for (size_t i = 0; i < ipam->n; i++)
		if (ipam->leases[i].ip == ip)
			return &ipam->leases[i];
	return NULL;
}

static int lease_add(struct skiff_ipam *ipam, uint32_t ip, const char *owner)
{
	if (ipam->n == ipam->cap) {
		size_t cap = ipam->cap ? ipam->cap * 2 : 16;
		struct lease *l = realloc(ipam->leases, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		ipam->leases = l;
		ipam->cap = cap;
	}
	char *o = strdup(owner);
	if (!o)
		return -ENOMEM;
	ipam->leases[ipam->n++] = (struct lease){.ip = ip, .owner = o};
	return 0;
}

/* Addresses never leased: the subnet's network and broadcast addresses
 * (except on /31 and /32 where there are none) and the gateway. */
static bool reserved(const struct skiff_ipam *ipam, uint32_t ip)
{
	if (ip == ipam->gateway)
		return true;
	if (ipam->subnet.len < 31 && (ip == ipam->subnet.addr || ip == cidr_last(&ipam->subnet)))
		return true;
	return false;
}

static int write_file(struct skiff_ipam *ipam)
{
	char buf[20];
	_cleanup_json_ json_t *root = json_object(), *leases = json_object();
	if (!root || !leases)
		return -ENOMEM;
	skiff_cidr_format(&ipam->subnet, buf, sizeof(buf));
	json_object_set_new(root, "Subnet", json_string(buf));
	skiff_ip_format(ipam->last, buf, sizeof(buf));
	json_object_set_new(root, "Last", json_string(buf));
	for (size_t i = 0; i < ipam->n; i++) {
		skiff_ip_format(ipam->leases[i].ip, buf, sizeof(buf));
		json_object_set_new(leases, buf, json_string(ipam->leases[i].owner));
	}
	json_object_set(root, "Leases", leases);
	_cleanup_free_ char *s = json_dumps(root, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	return skiff_write_replace(ipam->path, s, strlen(s), 0600);
}

static int persist(struct skiff_ipam *ipam)
{
	if (ipam->write_behind) {
		ipam->dirty = true;
		return 0;
	}
	return write_file(ipam);
}

/* Leases from an existing file; entries outside the subnet (the network
 * was re-created with another subnet) or unreadable ones are dropped. */
static int load(struct skiff_ipam *ipam)
{
	_cleanup_free_ char *data = NULL;
	int r = skiff_read_file(ipam->path, &data, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	_cleanup_json_ json_t *root = json_loads(data, 0, NULL);
	if (!json_is_object(root))
		return 0; /* torn or foreign: start empty, the reconcile re-leases nothing wrongly */
	uint32_t last;
	if (skiff_ip_parse(json_string_value(json_object_get(root, "Last")), &last) == 0 &&
	    skiff_cidr_contains(&ipam->subnet, last))
		ipam->last = last;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(root, "Leases"), k, v)
	{
		uint32_t ip;
		if (!json_is_string(v) || skiff_ip_parse(k, &ip) < 0 || !skiff_cidr_contains(&ipam->subnet, ip) ||
		    reserved(ipam, ip) || lease_find(ipam, ip))
			continue;
		if ((r = lease_add(ipam, ip, json_string_value(v))) < 0)
			return r;
	}
	return 0;
}

int skiff_ipam_open(const char *path, const struct skiff_cidr *subnet, uint32_t gateway, const struct skiff_cidr *range,
		    struct skiff_ipam **out, struct skiff_error *err)
{
	char sub[20], buf[20];
	struct skiff_cidr s = {.addr = subnet->addr & skiff_cidr_mask(subnet->len), .len = subnet->len};
	skiff_cidr_format(&s, sub, sizeof(sub));
	if (gateway && !skiff_cidr_contains(&s, gateway)) {
		skiff_ip_format(gateway, buf, sizeof(buf));
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid gateway %s: not in subnet %s", buf, sub);
	}
	if (range && (range->len < s.len || !skiff_cidr_contains(&s, range->addr))) {
		skiff_cidr_format(range, buf, sizeof(buf));
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid ip-range %s: not in subnet %s", buf, sub);
	}
	struct skiff_ipam *ipam = calloc(1, sizeof(*ipam));
	if (!ipam || !(ipam->path = strdup(path))) {
		free(ipam);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	ipam->subnet = s;
	ipam->range = range ? (struct skiff_cidr){range->addr & skiff_cidr_mask(range->len), range->len} : s;
	ipam->gateway = gateway;
	int r = load(ipam);
	if (r < 0) {
		skiff_ipam_close(ipam);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "reading IP leases %s", path);
	}
	*out = ipam;
	return 0;
}

void skiff_ipam_close(struct skiff_ipam *ipam)
{
	if (!ipam)
		return;
	for (size_t i = 0; i < ipam->n; i++)
		free(ipam->leases[i].owner);
	free(ipam->leases);
	free(ipam->path);
	free(ipam);
}

/* The next free address of the range after the cursor, wrapping once. */
static uint32_t next_free(struct skiff_ipam *ipam)
{
	uint64_t first = ipam->range.addr, last = cidr_last(&ipam->range), span = last - first + 1;
	uint64_t start = (ipam->last >= first && ipam->last <= last) ? ipam->last - first + 1 : 0;
	for (uint64_t i = 0; i < span; i++) {
		uint32_t ip = (uint32_t)(first + (start + i) % span);
		if (!reserved(ipam, ip) && !lease_find(ipam, ip))
			return ip;
	}
	return 0;
}

int skiff_ipam_alloc(struct skiff_ipam *ipam, const char *owner, uint32_t want, uint32_t *out, struct skiff_error *err)
{
	char buf[20];
	uint32_t ip = want;
	if (want) {
		skiff_ip_format(want, buf, sizeof(buf));
		if (!skiff_cidr_contains(&ipam->subnet, want) || (want != ipam->gateway && reserved(ipam, want)))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid address %s: not in subnet", buf);
		struct lease *l = lease_find(ipam, want);
		if (want == ipam->gateway)
			return skiff_error_set(err, SKIFF_ECONFLICT, EADDRINUSE, "Address already in use");
		if (l) {
			if (strcmp(l->owner, owner))
				return skiff_error_set(err, SKIFF_ECONFLICT, EADDRINUSE, "Address already in use");
			*out = want;
			return 0;
		}
	} else if (!(ip = next_free(ipam))) {
		skiff_cidr_format(&ipam->range, buf, sizeof(buf));
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOSPC, "no available IPv4 addresses in %s", buf);
	}
	int r = lease_add(ipam, ip, owner);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "leasing an address");
	uint32_t old_last = ipam->last;
	if (!want)
		ipam->last = ip;
	if ((r = persist(ipam)) < 0) {
		free(ipam->leases[--ipam->n].owner);
		ipam->last = old_last;
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing IP leases %s", ipam->path);
	}
	*out = ip;
	return 0;
}

/* Drops the leases for which drop() says so; persists when any went. */
static int release_if(struct skiff_ipam *ipam, bool (*drop)(const struct lease *l, void *data), void *data)
{
	size_t j = 0, before = ipam->n;
	for (size_t i = 0; i < ipam->n; i++) {
		if (drop(&ipam->leases[i], data))
			free(ipam->leases[i].owner);
		else
			ipam->leases[j++] = ipam->leases[i];
	}
	ipam->n = j;
	if (j == before)
		return 0;
	int r = persist(ipam);
	return r < 0 ? r : (int)(before - j);
}

static bool owned_by(const struct lease *l, void *owner) { return !strcmp(l->owner, owner); }

int skiff_ipam_release(struct skiff_ipam *ipam, const char *owner)
{
	int r = release_if(ipam, owned_by, (void *)owner);
	return r < 0 ? r : 0;
}

size_t skiff_ipam_foreach(struct skiff_ipam *ipam, void (*fn)(uint32_t ip, const char *owner, void *data), void *data)
{
	for (size_t i = 0; fn && i < ipam->n; i++)
		fn(ipam->leases[i].ip, ipam->leases[i].owner, data);
	return ipam->n;
}

struct keep_ctx {
	bool (*keep)(const char *owner, void *data);
	void *data;
};

static bool gone(const struct lease *l, void *data)
{
	struct keep_ctx *k = data;
	return !k->keep(l->owner, k->data);
}

/* Returns the number of leases released (or -errno when persisting failed). */
int skiff_ipam_reconcile(struct skiff_ipam *ipam, bool (*keep)(const char *owner, void *data), void *data)
{
	struct keep_ctx k = {keep, data};
	return release_if(ipam, gone, &k);
}

void skiff_ipam_set_write_behind(struct skiff_ipam *ipam, bool on)
{
	ipam->write_behind = on;
}

bool skiff_ipam_dirty(const struct skiff_ipam *ipam)
{
	return ipam->dirty;
}

int skiff_ipam_flush(struct skiff_ipam *ipam)
{
	if (!ipam->dirty)
		return 0;
	int r = write_file(ipam);
	if (r == 0)
		ipam->dirty = false;
	return r;
}

struct claim_ctx {
	const char *owner;
	uint32_t ip;
};

/* owner's other addresses, and whoever else holds ip */
static bool claimed_away(const struct lease *l, void *data)
{
	const struct claim_ctx *k = data;
	return (l->ip == k->ip) != !strcmp(l->owner, k->owner);
}

int skiff_ipam_claim(struct skiff_ipam *ipam, const char *owner, uint32_t ip, struct skiff_error *err)
{
	char buf[20];
	struct lease *l = lease_find(ipam, ip);
	if (!skiff_cidr_contains(&ipam->subnet, ip) || reserved(ipam, ip)) {
		skiff_ip_format(ip, buf, sizeof(buf));
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid address %s: not in subnet", buf);
	}
	if (l && !strcmp(l->owner, owner)) {
		/* already right: only stale other addresses of owner may go */
		struct claim_ctx k = { owner, ip };
		int r = release_if(ipam, claimed_away, &k);
		return r < 0 ? skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing IP leases %s", ipam->path) : 0;
	}
	struct claim_ctx k = { owner, ip };
	bool w = ipam->write_behind;
	ipam->write_behind = true; /* one write for both changes */
	release_if(ipam, claimed_away, &k);
	int r = lease_add(ipam, ip, owner);
	ipam->write_behind = w;
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "leasing an address");
	r = persist(ipam);
	if (r == 0 && !w)
		ipam->dirty = false;
	return r < 0 ? skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing IP leases %s", ipam->path) : 0;
}
