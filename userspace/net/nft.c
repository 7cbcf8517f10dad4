/* skiff's nftables table (nft.h) through libnftables: every call builds one
 * nft script and runs it once, so each change is one kernel transaction.
 * Ports and networks are map elements, so no rule is rewritten per port. */
#include "nft.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"

struct skiff_nft {
	struct nft_ctx *ctx;
	char table[64];
	bool local_dnat;
};

/* A growing script; the first allocation failure sticks and is reported
 * once when the script is run. */
struct script {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void sc_add(struct script *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->buf ? s->buf + s->len : NULL, s->buf ? s->cap - s->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			s->oom = true;
			return;
		}
		if (s->buf && s->len + (size_t)n < s->cap) {
			s->len += (size_t)n;
			return;
		}
		size_t cap = s->cap ? s->cap : 1024;
		while (cap <= s->len + (size_t)n)
			cap *= 2;
		char *b = realloc(s->buf, cap);
		if (!b) {
			s->oom = true;
			return;
		}
		s->buf = b;
		s->cap = cap;
	}
}

/* Keeps the "Error: ..." lines of nft's report (it also echoes the script
 * line and a caret marker, which mean nothing to an API client). */
static void nft_error_text(const char *raw, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (const char *l = raw; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		if (n > 7 && !strncmp(l, "Error: ", 7)) {
			l += 7;
			n -= 7;
			while (n && isspace((unsigned char)l[n - 1]))
				n--;
			if (o && o + 2 < outlen)
				o += (size_t)snprintf(out + o, outlen - o, "; ");
			if (o + 1 < outlen)
				o += (size_t)snprintf(out + o, outlen - o, "%.*s", (int)n, l);
			if (o >= outlen)
				o = outlen - 1;
		}
		l = e ? e + 1 : NULL;
	}
	if (!o && raw) {
		snprintf(out, outlen, "%s", raw);
		for (size_t n = strlen(out); n && isspace((unsigned char)out[n - 1]); n--)
			out[n - 1] = '\0';
	}
	if (!out[0])
		snprintf(out, outlen, "nft failed without a message");
}

/* Runs the script as one transaction. what names the operation for the
 * error ("adding ports"). */
static int nft_run(struct nft_ctx *ctx, struct script *s, const char *what, struct skiff_error *err)
{
	if (s->oom)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "nftables: %s: out of memory", what);
	if (!s->buf)
		return 0;
	if (nft_run_cmd_from_buffer(ctx, s->buf) != 0) {
		char msg[768];
		nft_error_text(nft_ctx_get_error_buffer(ctx), msg, sizeof(msg));
		/* Reset the buffers for the next command. */
		nft_ctx_unbuffer_error(ctx);
		nft_ctx_buffer_error(ctx);
		return skiff_error_set(err, SKIFF_EINTERNAL, EIO, "nftables: %s: %s", what, msg);
	}
	return 0;
}

static struct nft_ctx *ctx_new(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return NULL;
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		nft_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Names go into scripts unquoted (chains) or quoted (ifnames): allow only
 * what needs no escaping. */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n > max || !isalpha((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 15)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static void ip_str(uint32_t ip, char *out, size_t len)
{
	snprintf(out, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

int skiff_nft_open(const char *table, struct skiff_nft **out, struct skiff_error *err)
{
	struct script s = {0};
	const char *t = table;
	int r;

	if (!name_ok(table, 48))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "nftables: invalid table name '%s'", table);
	_cleanup_free_ struct skiff_nft *n = calloc(1, sizeof(*n));
	if (!n)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "nftables: out of memory");
	snprintf(n->table, sizeof(n->table), "%s", table);
	n->ctx = ctx_new();
	if (!n->ctx)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "nftables: cannot create a libnftables context");

	/* "add" keeps what exists (map elements survive a restart); the base
	 * chains are flushed and refilled in the same transaction, so opening
	 * twice never duplicates a rule and there is no moment without them. */
	sc_add(&s, "add table ip %s\n", t);
	static const char *const port_maps[] = {"pub_tcp", "pub_udp"};
	for (size_t i = 0; i < ARRAY_SIZE(port_maps); i++) {
		sc_add(&s, "add map ip %s %s { type inet_service : ipv4_addr . inet_service; }\n", t, port_maps[i]);
		sc_add(&s, "add map ip %s %s_ip { type ipv4_addr . inet_service : ipv4_addr . inet_service; }\n", t,
		       port_maps[i]);
	}
	sc_add(&s, "add set ip %s bridges { type ifname; }\n", t);
	sc_add(&s, "add map ip %s post_nets { type ifname : verdict; }\n", t);
	sc_add(&s, "add map ip %s fwd_nets { type ifname : verdict; }\n", t);
	/* Regular chains: ports holds the DNAT lookups shared by prerouting
	 * and the fallback output path; local-* hold the fallback (filled by
	 * skiff_nft_local_dnat, kept across opens). */
	sc_add(&s, "add chain ip %s ports\n", t);
	sc_add(&s, "add chain ip %s local-out\n", t);
	sc_add(&s, "add chain ip %s local-post\n", t);
	sc_add(&s, "add chain ip %s prerouting { type nat hook prerouting priority -100; policy accept; }\n", t);
	sc_add(&s, "add chain ip %s output { type nat hook output priority -100; policy accept; }\n", t);
	sc_add(&s, "add chain ip %s postrouting { type nat hook postrouting priority 100; policy accept; }\n", t);
	sc_add(&s, "add chain ip %s forward { type filter hook forward priority 0; policy accept; }\n", t);
	static const char *const base[] = {"ports", "prerouting", "output", "postrouting", "forward"};
	for (size_t i = 0; i < ARRAY_SIZE(base); i++)
		sc_add(&s, "flush chain ip %s %s\n", t, base[i]);
	/* Specific host addresses first, then "every local address". */
	sc_add(&s, "add rule ip %s ports dnat ip to ip daddr . tcp dport map @pub_tcp_ip\n", t);
	sc_add(&s, "add rule ip %s ports dnat ip to ip daddr . udp dport map @pub_udp_ip\n", t);
	sc_add(&s, "add rule ip %s ports fib daddr type local dnat ip to tcp dport map @pub_tcp\n", t);
	sc_add(&s, "add rule ip %s ports fib daddr type local dnat ip to udp dport map @pub_udp\n", t);
	sc_add(&s, "add rule ip %s prerouting jump ports\n", t);
	sc_add(&s, "add rule ip %s output jump local-out\n", t);
	sc_add(&s, "add rule ip %s postrouting iifname vmap @post_nets\n", t);
	sc_add(&s, "add rule ip %s postrouting jump local-post\n", t);
	sc_add(&s, "add rule ip %s forward ct state established,related accept\n", t);
	sc_add(&s, "add rule ip %s forward iifname vmap @fwd_nets\n", t);
	sc_add(&s, "add rule ip %s forward oifname vmap @fwd_nets\n", t);
	sc_add(&s, "add rule ip %s forward iifname @bridges accept\n", t);
	sc_add(&s, "add rule ip %s forward oifname @bridges accept\n", t);

	r = nft_run(n->ctx, &s, "creating table", err);
	free(s.buf);
	if (r < 0) {
		nft_ctx_free(n->ctx);
		return skiff_error_wrap(err, "opening table '%s'", table);
	}
	*out = TAKE_PTR(n);
	return 0;
}

void skiff_nft_close(struct skiff_nft *n)
{
	if (!n)
		return;
	nft_ctx_free(n->ctx);
	free(n);
}

/* route_localnet lets DNATed 127.0.0.0/8 traffic leave through a bridge
 * (the fallback's output DNAT keeps the loopback source until masquerade). */
static int set_route_localnet(const char *bridge, bool on, struct skiff_error *err)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", bridge);
	int r = skiff_write_file(path, on ? "1" : "0");
	/* The set may name a bridge a crashed daemon left behind and someone
	 * removed since: nothing to set there. */
	if (r < 0 && r != -ENOENT)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "setting route_localnet on '%s'", bridge);
	return 0;
}

int skiff_nft_network_set(struct skiff_nft *n, const char *bridge, const struct skiff_cidr *subnet, bool internal,
			  struct skiff_error *err)
{
	struct script s = {0};
	const char *t = n->table, *b = bridge;
	char net[24];
	int r;

	if (!ifname_ok(bridge) || !isalpha((unsigned char)bridge[0]))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "nftables: invalid bridge name '%s'", bridge);
	if (subnet->len < 0 || subnet->len > 32)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "nftables: invalid prefix length %d", subnet->len);
	/* Masked here rather than with ipam.c's helper: nft refuses host bits. */
	ip_str(subnet->len ? subnet->addr & (0xffffffffu << (32 - subnet->len)) : 0, net, sizeof(net));

	/* nat-<br> is reached for traffic that entered from the bridge;
	 * fwd-<br> for forwarded traffic entering or leaving through it. Both
	 * are (re)created, flushed and refilled in one go: a second call
	 * replaces the rules instead of adding to them. */
	sc_add(&s, "add chain ip %s nat-%s\nflush chain ip %s nat-%s\n", t, b, t, b);
	sc_add(&s, "add chain ip %s fwd-%s\nflush chain ip %s fwd-%s\n", t, b, t, b);
	if (!internal)
		sc_add(&s, "add rule ip %s nat-%s ip saddr %s/%d oifname != \"%s\" masquerade\n", t, b, net,
		       subnet->len, b);
	/* Hairpin: a container reaching a published port of its own bridge
	 * (itself or a neighbour) must see the reply come from the host. */
	sc_add(&s, "add rule ip %s nat-%s oifname \"%s\" ct status dnat masquerade\n", t, b, b);
	/* Networks are isolated from each other, as Docker's isolation chains
	 * do; a published port (DNATed) stays reachable from any network. */
	sc_add(&s, "add rule ip %s fwd-%s iifname \"%s\" oifname != \"%s\" oifname @bridges ct status != dnat drop\n",
	       t, b, b, b);
	if (internal) {
		sc_add(&s, "add rule ip %s fwd-%s iifname \"%s\" oifname != \"%s\" drop\n", t, b, b, b);
		sc_add(&s, "add rule ip %s fwd-%s oifname \"%s\" iifname != \"%s\" drop\n", t, b, b, b);
	}
	sc_add(&s, "add element ip %s bridges { \"%s\" }\n", t, b);
	sc_add(&s, "add element ip %s post_nets { \"%s\" : jump nat-%s }\n", t, b, b);
	sc_add(&s, "add element ip %s fwd_nets { \"%s\" : jump fwd-%s }\n", t, b, b);
	r = nft_run(n->ctx, &s, "setting network rules", err);
	free(s.buf);
	if (r < 0)
		return skiff_error_wrap(err, "bridge '%s'", bridge);
	if (n->local_dnat)
		return set_route_localnet(bridge, true, err);
	return 0;
}

int skiff_nft_network_del(struct skiff_nft *n, const char *bridge, struct skiff_error *err)
{
	struct script s = {0};
	const char *t = n->table, *b = bridge;
	int r;

	if (!ifname_ok(bridge) || !isalpha((unsigned char)bridge[0]))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "nftables: invalid bridge name '%s'", bridge);
	/* nft 1.0.6 has no "destroy": adding first makes every delete valid
	 * whether or not the network was there. Elements go before the chains
	 * they jump to. */
	sc_add(&s, "add chain ip %s nat-%s\nadd chain ip %s fwd-%s\n", t, b, t, b);
	sc_add(&s, "add element ip %s bridges { \"%s\" }\n", t, b);
	sc_add(&s, "add element ip %s post_nets { \"%s\" : jump nat-%s }\n", t, b, b);
	sc_add(&s, "add element ip %s fwd_nets { \"%s\" : jump fwd-%s }\n", t, b, b);
	sc_add(&s, "delete element ip %s bridges { \"%s\" }\n", t, b);
	sc_add(&s, "delete element ip %s post_nets { \"%s\" }\n", t, b);
	sc_add(&s, "delete element ip %s fwd_nets { \"%s\" }\n", t, b);
	sc_add(&s, "flush chain ip %s nat-%s\ndelete chain ip %s nat-%s\n", t, b, t, b);
	sc_add(&s, "flush chain ip %s fwd-%s\ndelete chain ip %s fwd-%s\n", t, b, t, b);
	r = nft_run(n->ctx, &s, "removing network rules", err);
	free(s.buf);
	if (r < 0)
		return skiff_error_wrap(err, "bridge '%s'", bridge);
	return 0;
}

static const char *proto_name(uint8_t proto) { return proto == IPPROTO_UDP ? "udp" : "tcp"; }

static int ports_check(const struct skiff_port *p, size_t np, struct skiff_error *err)
{
	for (size_t i = 0; i < np; i++)
		if ((p[i].proto != IPPROTO_TCP && p[i].proto != IPPROTO_UDP) || !p[i].host_port || !p[i].ctr_port ||
		    !p[i].ctr_ip)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "nftables: invalid port mapping %u/%u -> %u",
					       p[i].host_port, p[i].proto, p[i].ctr_port);
	return 0;
}

/* "add element" or "delete element" for each port; with_data adds the
 * target (deleting with the target checks it is ours: the kernel refuses
 * an add whose data differs, so add+delete never removes another
 * container's mapping). */
static void ports_script(struct script *s, const char *t, const char *verb, const struct skiff_port *p, size_t np,
			 bool with_data)
{
	for (size_t i = 0; i < np; i++) {
		char hip[16], cip[16];
		ip_str(p[i].host_ip, hip, sizeof(hip));
		ip_str(p[i].ctr_ip, cip, sizeof(cip));
		if (p[i].host_ip)
			sc_add(s, "%s element ip %s pub_%s_ip { %s . %u", verb, t, proto_name(p[i].proto), hip,
			       p[i].host_port);
		else
			sc_add(s, "%s element ip %s pub_%s { %u", verb, t, proto_name(p[i].proto), p[i].host_port);
		if (with_data)
			sc_add(s, " : %s . %u", cip, p[i].ctr_port);
		sc_add(s, " }\n");
	}
}

int skiff_nft_ports_add(struct skiff_nft *n, const struct skiff_port *p, size_t np, struct skiff_error *err)
{
	struct script s = {0};
	int r = ports_check(p, np, err);

	if (r < 0 || !np)
		return r;
	ports_script(&s, n->table, "add", p, np, true);
	r = nft_run(n->ctx, &s, "adding ports", err);
	if (r < 0) {
		/* A key mapped elsewhere is stale (the daemon reserved the host
		 * port by bind() before calling): drop those keys one by one,
		 * errors ignored, then run the whole add once more. */
		struct script d = {0};
		for (size_t i = 0; i < np && !d.oom; i++) {
			ports_script(&d, n->table, "delete", &p[i], 1, false);
			if (!d.oom)
				nft_run_cmd_from_buffer(n->ctx, d.buf);
			d.len = 0;
		}
		free(d.buf);
		nft_ctx_unbuffer_error(n->ctx);
		nft_ctx_buffer_error(n->ctx);
		skiff_error_clear(err);
		r = nft_run(n->ctx, &s, "adding ports", err);
	}
	free(s.buf);
	return r;
}

int skiff_nft_ports_del(struct skiff_nft *n, const struct skiff_port *p, size_t np, struct skiff_error *err)
{
	struct script s = {0};
	int r = ports_check(p, np, err);

	if (r < 0 || !np)
		return r;
	ports_script(&s, n->table, "add", p, np, true);
	ports_script(&s, n->table, "delete", p, np, false);
	r = nft_run(n->ctx, &s, "removing ports", err);
	free(s.buf);
	return r;
}

/* Calls fn for each member of the bridges set, read as nft's JSON. */
static int bridges_foreach(struct skiff_nft *n, int (*fn)(const char *, bool, struct skiff_error *), bool on,
			   struct skiff_error *err)
{
	char cmd[128];
	unsigned int flags = nft_ctx_output_get_flags(n->ctx);
	int r;

	snprintf(cmd, sizeof(cmd), "list set ip %s bridges", n->table);
	nft_ctx_output_set_flags(n->ctx, flags | NFT_CTX_OUTPUT_JSON);
	r = nft_run_cmd_from_buffer(n->ctx, cmd);
	nft_ctx_output_set_flags(n->ctx, flags);
	if (r != 0) {
		char msg[768];
		nft_error_text(nft_ctx_get_error_buffer(n->ctx), msg, sizeof(msg));
		nft_ctx_unbuffer_error(n->ctx);
		nft_ctx_buffer_error(n->ctx);
		return skiff_error_set(err, SKIFF_EINTERNAL, EIO, "nftables: listing bridges: %s", msg);
	}
	json_t *root = json_loads(nft_ctx_get_output_buffer(n->ctx), 0, NULL);
	json_t *items = json_object_get(root, "nftables"), *it, *e;
	size_t i, j;
	r = 0;
	json_array_foreach(items, i, it)
	{
		json_t *elems = json_object_get(json_object_get(it, "set"), "elem");
		json_array_foreach(elems, j, e)
		{
			if (json_is_string(e) && r == 0)
				r = fn(json_string_value(e), on, err);
		}
	}
	json_decref(root);
	return r;
}

int skiff_nft_local_dnat(struct skiff_nft *n, bool on, struct skiff_error *err)
{
	struct script s = {0};
	const char *t = n->table;
	int r;

	/* Turning on: route_localnet first, so no DNATed loopback packet is
	 * dropped between the rule and the sysctl. */
	if (on) {
		r = bridges_foreach(n, set_route_localnet, true, err);
		if (r < 0)
			return skiff_error_wrap(err, "enabling local DNAT");
	}
	sc_add(&s, "flush chain ip %s local-out\nflush chain ip %s local-post\n", t, t);
	if (on) {
		sc_add(&s, "add rule ip %s local-out fib daddr type local jump ports\n", t);
		sc_add(&s, "add rule ip %s local-post ip saddr 127.0.0.0/8 oifname @bridges masquerade\n", t);
	}
	r = nft_run(n->ctx, &s, on ? "enabling local DNAT" : "disabling local DNAT", err);
	free(s.buf);
	if (r < 0)
		return r;
	n->local_dnat = on;
	if (!on) {
		r = bridges_foreach(n, set_route_localnet, false, err);
		if (r < 0)
			return skiff_error_wrap(err, "disabling local DNAT");
	}
	return 0;
}

int skiff_nft_destroy(const char *table, struct skiff_error *err)
{
	struct script s = {0};
	int r;

	if (!name_ok(table, 48))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "nftables: invalid table name '%s'", table);
	struct nft_ctx *ctx = ctx_new();
	if (!ctx)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "nftables: cannot create a libnftables context");
	/* add+delete: one transaction that succeeds whether or not it exists. */
	sc_add(&s, "add table ip %s\ndelete table ip %s\n", table, table);
	r = nft_run(ctx, &s, "deleting table", err);
	free(s.buf);
	nft_ctx_free(ctx);
	if (r < 0)
		return skiff_error_wrap(err, "table '%s'", table);
	return 0;
}
