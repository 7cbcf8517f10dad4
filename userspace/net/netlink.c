/* A hand-written rtnetlink client (no libnl): bridges, veth pairs, IPv4
 * addresses and routes, and the dumps the subnet picker and cleanup need.
 * One builder makes every request: a batch of messages sent in one
 * datagram (a single request is a batch of one); the veth pair is made
 * with everything the kernel takes at creation in that one message. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "netlink.h"

/* ---- the request builder: one or more messages in one buffer ---- */

static void *msg_start(struct skiff_nl_batch *b, struct skiff_nl *nl, uint16_t type, uint16_t flags, size_t famlen)
{
	if (b->len + NLMSG_SPACE(famlen) > sizeof(b->buf)) {
		b->overflow = true;
		return NULL;
	}
	struct nlmsghdr *h = (struct nlmsghdr *)(b->buf + b->len);
	memset(h, 0, NLMSG_SPACE(famlen));
	h->nlmsg_len = NLMSG_LENGTH(famlen);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++nl->seq;
	b->cur = h;
	b->len += NLMSG_SPACE(famlen);
	b->nmsg++;
	return NLMSG_DATA(h);
}

void *skiff_nl_batch_msg(struct skiff_nl_batch *b, struct skiff_nl *nl, uint16_t type, uint16_t flags, size_t famlen)
{
	return msg_start(b, nl, type, NLM_F_ACK | flags, famlen);
}

/* Grows the current message by len aligned bytes at its end (NULL when
 * there is no message or no room). */
static void *msg_grow(struct skiff_nl_batch *b, size_t len)
{
	if (!b->cur || b->len + len > sizeof(b->buf)) {
		b->overflow = true;
		return NULL;
	}
	char *p = b->buf + b->len;
	b->len += len;
	((struct nlmsghdr *)b->cur)->nlmsg_len = b->buf + b->len - (char *)b->cur;
	return p;
}

static struct nlattr *attr_put(struct skiff_nl_batch *b, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = msg_grow(b, NLA_ALIGN(NLA_HDRLEN + len));
	if (!a)
		return NULL;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	return a;
}

void skiff_nl_batch_attr(struct skiff_nl_batch *b, uint16_t type, const void *data, size_t len)
{
	attr_put(b, type, data, len);
}

void skiff_nl_batch_u32(struct skiff_nl_batch *b, uint16_t type, uint32_t v) { attr_put(b, type, &v, sizeof(v)); }

void skiff_nl_batch_str(struct skiff_nl_batch *b, uint16_t type, const char *s) { attr_put(b, type, s, strlen(s) + 1); }

void skiff_nl_batch_nest_begin(struct skiff_nl_batch *b, uint16_t type)
{
	struct nlattr *a = attr_put(b, type, NULL, 0);
	if (b->depth < (int)ARRAY_SIZE(b->nest))
		b->nest[b->depth++] = a;
	else
		b->overflow = true;
}

void skiff_nl_batch_nest_end(struct skiff_nl_batch *b)
{
	struct nlattr *a = b->depth > 0 ? b->nest[--b->depth] : NULL;
	if (a)
		a->nla_len = b->buf + b->len - (char *)a;
}

void *skiff_nl_batch_reserve(struct skiff_nl_batch *b, size_t len)
{
	void *p = msg_grow(b, NLMSG_ALIGN(len));
	if (p)
		memset(p, 0, NLMSG_ALIGN(len));
	return p;
}

int skiff_nl_open(struct skiff_nl *nl)
{
	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	/* acks without the echoed request keep every reply small */
	int one = 1;
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(nl->fd);
		nl->fd = -1;
		return -e;
	}
	return 0;
}

void skiff_nl_close(struct skiff_nl *nl)
{
	if (nl && nl->fd >= 0) {
		close(nl->fd);
		nl->fd = -1;
	}
}

static int batch_send(struct skiff_nl *nl, struct skiff_nl_batch *b)
{
	if (nl->fd < 0)
		return -EBADF;
	if (b->overflow)
		return -EMSGSIZE;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	ssize_t n;
	do
		n = sendto(nl->fd, b->buf, b->len, 0, (struct sockaddr *)&sa, sizeof(sa));
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Reads the replies to the last n requests (sequence numbers up to
 * nl->seq) until each has ended with its ack or, for a dump, its
 * NLMSG_DONE. each() (may be NULL) sees every data message. The first
 * error wins; the replies are read to the end regardless. */
static int nl_recv(struct skiff_nl *nl, uint32_t n, int (*each)(struct nlmsghdr *h, void *data), void *data)
{
	/* the kernel never puts more than 32 KiB in one dump datagram */
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	uint32_t first = nl->seq - n + 1, ended = 0;
	int result = 0;
	while (ended < n) {
		ssize_t len = recv(nl->fd, buf, sizeof(buf), 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			int r = 0;
			if (h->nlmsg_seq - first >= n)
				continue; /* a late reply to an abandoned request */
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				if (h->nlmsg_type == NLMSG_ERROR)
					r = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				ended++;
			} else if (each && !result) {
				r = each(h, data);
			}
			if (r < 0 && !result)
				result = r;
		}
	}
	return result;
}

int skiff_nl_batch_run(struct skiff_nl *nl, struct skiff_nl_batch *b)
{
	int e = b->nmsg || b->overflow ? batch_send(nl, b) : 0;
	return e < 0 ? e : nl_recv(nl, (uint32_t)b->nmsg, NULL, NULL);
}

/* A dump of one message started with msg_start(..., NLM_F_DUMP, ...). */
static int nl_dump(struct skiff_nl *nl, struct skiff_nl_batch *b, int (*each)(struct nlmsghdr *h, void *data),
		   void *data)
{
	int e = batch_send(nl, b);
	return e < 0 ? e : nl_recv(nl, 1, each, data);
}

/* Attributes of a message after its family header, indexed by type. */
static void parse_attrs(struct nlmsghdr *h, size_t famlen, struct rtattr **tb, int max)
{
	memset(tb, 0, sizeof(*tb) * (max + 1));
	int len = h->nlmsg_len - NLMSG_LENGTH(famlen);
	for (struct rtattr *a = (struct rtattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(famlen)); RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if (a->rta_type <= max && !tb[a->rta_type])
			tb[a->rta_type] = a;
}

static int check_name(const char *name) { return !name || !*name || strlen(name) >= IFNAMSIZ ? -EINVAL : 0; }

static int link_index_cb(struct nlmsghdr *h, void *data)
{
	if (h->nlmsg_type == RTM_NEWLINK)
		*(int *)data = ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
	return 0;
}

int skiff_nl_link_index(struct skiff_nl *nl, const char *name)
{
	struct skiff_nl_batch req = {0};
	if (check_name(name))
		return -EINVAL;
	/* the ack after the reply ends the exchange like a dump's DONE */
	struct ifinfomsg *ifi = msg_start(&req, nl, RTM_GETLINK, NLM_F_ACK, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	skiff_nl_batch_str(&req, IFLA_IFNAME, name);
	skiff_nl_batch_u32(&req, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	int idx = 0, e = batch_send(nl, &req);
	if (e < 0 || (e = nl_recv(nl, 1, link_index_cb, &idx)) < 0)
		return e;
	return idx > 0 ? idx : -ENODEV;
}

int skiff_nl_bridge_add(struct skiff_nl *nl, const char *name, int mtu)
{
	struct skiff_nl_batch req = {0};
	if (check_name(name))
		return -EINVAL;
	/* A bridge without a MAC of its own takes the lowest of its ports'
	 * and changes it when that port goes: every container's ARP entry
	 * for the gateway then points nowhere until it expires (~20-30 s
	 * without traffic to the gateway). Docker sets one; so does skiff. */
	uint8_t mac[6];
	if (getrandom(mac, sizeof(mac), 0) != sizeof(mac))
		return -EIO;
	mac[0] = (mac[0] & 0xfe) | 0x02; /* unicast, locally administered */
	struct ifinfomsg *ifi = skiff_nl_batch_msg(&req, nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	skiff_nl_batch_str(&req, IFLA_IFNAME, name);
	attr_put(&req, IFLA_ADDRESS, mac, sizeof(mac));
	if (mtu > 0)
		skiff_nl_batch_u32(&req, IFLA_MTU, mtu);
	skiff_nl_batch_nest_begin(&req, IFLA_LINKINFO);
	skiff_nl_batch_str(&req, IFLA_INFO_KIND, "bridge");
	skiff_nl_batch_nest_end(&req);
	return skiff_nl_batch_run(nl, &req);
}

void skiff_nl_batch_link_set(struct skiff_nl_batch *b, struct skiff_nl *nl, int ifindex, const char *name,
			     const uint8_t mac[6], bool up)
{
	struct ifinfomsg *ifi = skiff_nl_batch_msg(b, nl, RTM_SETLINK, 0, sizeof(*ifi));
	if (ifi) {
		ifi->ifi_family = AF_UNSPEC;
		ifi->ifi_index = ifindex;
		ifi->ifi_flags = up ? IFF_UP : 0;
		ifi->ifi_change = up ? IFF_UP : 0;
	}
	if (name)
		skiff_nl_batch_str(b, IFLA_IFNAME, name);
	if (mac)
		attr_put(b, IFLA_ADDRESS, mac, 6);
}

int skiff_nl_link_up(struct skiff_nl *nl, int ifindex)
{
	struct skiff_nl_batch req = {0};
	skiff_nl_batch_link_set(&req, nl, ifindex, NULL, NULL, true);
	return skiff_nl_batch_run(nl, &req);
}

int skiff_nl_link_del(struct skiff_nl *nl, const char *name)
{
	struct skiff_nl_batch req = {0};
	if (check_name(name))
		return -EINVAL;
	struct ifinfomsg *ifi = skiff_nl_batch_msg(&req, nl, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	skiff_nl_batch_str(&req, IFLA_IFNAME, name);
	return skiff_nl_batch_run(nl, &req);
}

int skiff_nl_link_set_mac(struct skiff_nl *nl, int ifindex, const uint8_t mac[6])
{
	struct skiff_nl_batch req = {0};
	skiff_nl_batch_link_set(&req, nl, ifindex, NULL, mac, false);
	return skiff_nl_batch_run(nl, &req);
}

static void addr_put(struct skiff_nl_batch *b, struct skiff_nl *nl, uint16_t type, uint16_t flags, int ifindex,
		     uint32_t addr, int prefixlen)
{
	struct ifaddrmsg *ifa = skiff_nl_batch_msg(b, nl, type, flags, sizeof(*ifa));
	if (ifa) {
		ifa->ifa_family = AF_INET;
		ifa->ifa_prefixlen = (unsigned char)prefixlen;
		ifa->ifa_index = (unsigned)ifindex;
		ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	}
	uint32_t a = htonl(addr);
	attr_put(b, IFA_LOCAL, &a, 4);
	attr_put(b, IFA_ADDRESS, &a, 4);
	if (type == RTM_NEWADDR && prefixlen < 31) {
		uint32_t mask = prefixlen ? ~((1u << (32 - prefixlen)) - 1) : 0;
		uint32_t bc = htonl(addr | ~mask);
		attr_put(b, IFA_BROADCAST, &bc, 4);
	}
}

void skiff_nl_batch_addr_add(struct skiff_nl_batch *b, struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen)
{
	addr_put(b, nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, addr, prefixlen);
}

static int addr_msg(struct skiff_nl *nl, uint16_t type, uint16_t flags, int ifindex, uint32_t addr, int prefixlen)
{
	struct skiff_nl_batch req = {0};
	if (prefixlen < 0 || prefixlen > 32)
		return -EINVAL;
	addr_put(&req, nl, type, flags, ifindex, addr, prefixlen);
	return skiff_nl_batch_run(nl, &req);
}

int skiff_nl_addr_add(struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen)
{
	return addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, addr, prefixlen);
}

int skiff_nl_addr_del(struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen)
{
	return addr_msg(nl, RTM_DELADDR, 0, ifindex, addr, prefixlen);
}

void skiff_nl_batch_veth(struct skiff_nl_batch *b, struct skiff_nl *nl, const char *host_name, const char *peer_name,
			 int peer_netns_fd, int master_ifindex, const uint8_t peer_mac[6], int mtu, bool host_up)
{
	/* the kernel applies IFLA_MASTER and the up flag after registering
	 * the new link, so enslaving and bringing up cost no extra trips */
	struct ifinfomsg *ifi = skiff_nl_batch_msg(b, nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	if (ifi) {
		ifi->ifi_family = AF_UNSPEC;
		ifi->ifi_flags = host_up ? IFF_UP : 0;
		ifi->ifi_change = host_up ? IFF_UP : 0;
	}
	skiff_nl_batch_str(b, IFLA_IFNAME, host_name);
	if (mtu > 0)
		skiff_nl_batch_u32(b, IFLA_MTU, mtu);
	if (master_ifindex > 0)
		skiff_nl_batch_u32(b, IFLA_MASTER, master_ifindex);
	skiff_nl_batch_nest_begin(b, IFLA_LINKINFO);
	skiff_nl_batch_str(b, IFLA_INFO_KIND, "veth");
	skiff_nl_batch_nest_begin(b, IFLA_INFO_DATA);
	skiff_nl_batch_nest_begin(b, VETH_INFO_PEER);
	struct ifinfomsg *peer = skiff_nl_batch_reserve(b, sizeof(*peer));
	if (peer)
		peer->ifi_family = AF_UNSPEC;
	skiff_nl_batch_str(b, IFLA_IFNAME, peer_name);
	if (peer_netns_fd >= 0)
		skiff_nl_batch_u32(b, IFLA_NET_NS_FD, peer_netns_fd);
	if (peer_mac)
		attr_put(b, IFLA_ADDRESS, peer_mac, 6);
	if (mtu > 0)
		skiff_nl_batch_u32(b, IFLA_MTU, mtu);
	skiff_nl_batch_nest_end(b);
	skiff_nl_batch_nest_end(b);
	skiff_nl_batch_nest_end(b);
}

int skiff_nl_veth_add(struct skiff_nl *nl, const char *host_name, const char *peer_name, int peer_netns_fd,
		      int master_ifindex, const uint8_t peer_mac[6], int mtu)
{
	struct skiff_nl_batch req = {0};
	if (check_name(host_name) || check_name(peer_name))
		return -EINVAL;
	skiff_nl_batch_veth(&req, nl, host_name, peer_name, peer_netns_fd, master_ifindex, peer_mac, mtu, true);
	return skiff_nl_batch_run(nl, &req);
}

void skiff_nl_batch_route_default(struct skiff_nl_batch *b, struct skiff_nl *nl, uint32_t gw, int ifindex)
{
	struct rtmsg *rt = skiff_nl_batch_msg(b, nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
	if (rt) {
		rt->rtm_family = AF_INET;
		rt->rtm_table = RT_TABLE_MAIN;
		rt->rtm_protocol = RTPROT_BOOT;
		rt->rtm_scope = RT_SCOPE_UNIVERSE;
		rt->rtm_type = RTN_UNICAST;
	}
	uint32_t g = htonl(gw);
	attr_put(b, RTA_GATEWAY, &g, 4);
	skiff_nl_batch_u32(b, RTA_OIF, (uint32_t)ifindex);
}

int skiff_nl_route_add_default(struct skiff_nl *nl, uint32_t gw, int ifindex)
{
	struct skiff_nl_batch req = {0};
	skiff_nl_batch_route_default(&req, nl, gw, ifindex);
	return skiff_nl_batch_run(nl, &req);
}

/* A growing vector for the dumps. */
struct vec {
	void *items;
	size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void *p = realloc(v->items, cap * v->size);
		if (!p)
			return NULL;
		v->items = p;
		v->cap = cap;
	}
	return (char *)v->items + v->size * v->n++;
}

struct prefix_ctx {
	const char *prefix;
	struct vec names; /* char * */
};

static int prefix_cb(struct nlmsghdr *h, void *data)
{
	struct prefix_ctx *c = data;
	struct rtattr *tb[IFLA_MAX + 1];
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	parse_attrs(h, sizeof(struct ifinfomsg), tb, IFLA_MAX);
	if (!tb[IFLA_IFNAME])
		return 0;
	const char *name = RTA_DATA(tb[IFLA_IFNAME]);
	if (strncmp(name, c->prefix, strlen(c->prefix)))
		return 0;
	char **slot = vec_push(&c->names);
	if (!slot || !(*slot = strndup(name, RTA_PAYLOAD(tb[IFLA_IFNAME])))) {
		if (slot)
			c->names.n--;
		return -ENOMEM;
	}
	return 0;
}

int skiff_nl_links_with_prefix(struct skiff_nl *nl, const char *prefix, char ***names)
{
	struct skiff_nl_batch req = {0};
	struct prefix_ctx c = {.prefix = prefix, .names = {.size = sizeof(char *)}};
	struct ifinfomsg *ifi = msg_start(&req, nl, RTM_GETLINK, NLM_F_DUMP, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	skiff_nl_batch_u32(&req, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	int e = nl_dump(nl, &req, prefix_cb, &c);
	char **slot = e < 0 ? NULL : vec_push(&c.names);
	if (!slot) {
		for (size_t i = 0; i < c.names.n; i++)
			free(((char **)c.names.items)[i]);
		free(c.names.items);
		return e < 0 ? e : -ENOMEM;
	}
	*slot = NULL;
	*names = c.names.items;
	return 0;
}

static int addr_cb(struct nlmsghdr *h, void *data)
{
	struct vec *v = data;
	struct rtattr *tb[IFA_MAX + 1];
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET)
		return 0;
	parse_attrs(h, sizeof(*ifa), tb, IFA_MAX);
	struct rtattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || RTA_PAYLOAD(a) < 4)
		return 0;
	uint32_t *slot = vec_push(v), ip;
	if (!slot)
		return -ENOMEM;
	memcpy(&ip, RTA_DATA(a), 4);
	*slot = ntohl(ip);
	return 0;
}

int skiff_nl_local_addrs(struct skiff_nl *nl, uint32_t **addrs, size_t *n)
{
	struct skiff_nl_batch req = {0};
	struct vec v = {.size = sizeof(uint32_t)};
	struct ifaddrmsg *ifa = msg_start(&req, nl, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	int e = nl_dump(nl, &req, addr_cb, &v);
	if (e < 0) {
		free(v.items);
		return e;
	}
	*addrs = v.items;
	*n = v.n;
	return 0;
}

struct route {
	uint32_t dst;
	int len;
};

static int route_cb(struct nlmsghdr *h, void *data)
{
	struct vec *v = data;
	struct rtattr *tb[RTA_MAX + 1];
	struct rtmsg *rt = NLMSG_DATA(h);
	if (h->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != AF_INET)
		return 0;
	parse_attrs(h, sizeof(*rt), tb, RTA_MAX);
	uint32_t table = tb[RTA_TABLE] ? *(uint32_t *)RTA_DATA(tb[RTA_TABLE]) : rt->rtm_table;
	/* a default route overlaps every subnet; Docker's overlap check
	 * skips it too, so it is not reported */
	if (table != RT_TABLE_MAIN || rt->rtm_dst_len == 0)
		return 0;
	struct route *slot = vec_push(v);
	if (!slot)
		return -ENOMEM;
	uint32_t dst = 0;
	if (tb[RTA_DST] && RTA_PAYLOAD(tb[RTA_DST]) >= 4)
		memcpy(&dst, RTA_DATA(tb[RTA_DST]), 4);
	slot->dst = ntohl(dst);
	slot->len = rt->rtm_dst_len;
	return 0;
}

int skiff_nl_routes(struct skiff_nl *nl, uint32_t **dst, int **len, size_t *n)
{
	struct skiff_nl_batch req = {0};
	struct vec v = {.size = sizeof(struct route)};
	struct rtmsg *rt = msg_start(&req, nl, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rt));
	rt->rtm_family = AF_INET;
	int e = nl_dump(nl, &req, route_cb, &v);
	if (e < 0) {
		free(v.items);
		return e;
	}
	uint32_t *d = malloc((v.n ? v.n : 1) * sizeof(*d));
	int *l = malloc((v.n ? v.n : 1) * sizeof(*l));
	if (!d || !l) {
		free(d);
		free(l);
		free(v.items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < v.n; i++) {
		d[i] = ((struct route *)v.items)[i].dst;
		l[i] = ((struct route *)v.items)[i].len;
	}
	free(v.items);
	*dst = d;
	*len = l;
	*n = v.n;
	return 0;
}
