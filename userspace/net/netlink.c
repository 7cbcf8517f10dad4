/* A hand-written rtnetlink client (no libnl): bridges, veth pairs, IPv4
 * addresses and routes, and the dumps the subnet picker and cleanup need.
 * Each request is one message and one ack; the veth pair is made with
 * everything the kernel takes at creation in that one message. */
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

/* A request under construction: header + family struct + attributes. */
struct req {
	union {
		struct nlmsghdr nh;
		char buf[1024];
	};
	struct nlattr *nest[4];
	int depth;
	bool overflow;
};

static void *req_init(struct req *r, uint16_t type, uint16_t flags, size_t famlen)
{
	memset(r, 0, offsetof(struct req, buf) + NLMSG_SPACE(famlen));
	r->depth = 0;
	r->overflow = false;
	r->nh.nlmsg_len = NLMSG_LENGTH(famlen);
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&r->nh);
}

static struct nlattr *attr_put(struct req *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->nh.nlmsg_len);
	if (off + NLA_ALIGN(NLA_HDRLEN + len) > sizeof(r->buf)) {
		r->overflow = true;
		return NULL;
	}
	struct nlattr *a = (struct nlattr *)(r->buf + off);
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	r->nh.nlmsg_len = off + NLA_ALIGN(a->nla_len);
	return a;
}

static void attr_u32(struct req *r, uint16_t type, uint32_t v) { attr_put(r, type, &v, sizeof(v)); }

static void attr_str(struct req *r, uint16_t type, const char *s) { attr_put(r, type, s, strlen(s) + 1); }

/* Raw bytes inside the message (the veth peer's ifinfomsg). */
static void *req_reserve(struct req *r, size_t len)
{
	size_t off = NLMSG_ALIGN(r->nh.nlmsg_len);
	if (off + NLMSG_ALIGN(len) > sizeof(r->buf)) {
		r->overflow = true;
		return NULL;
	}
	r->nh.nlmsg_len = off + NLMSG_ALIGN(len);
	return r->buf + off;
}

static void nest_begin(struct req *r, uint16_t type)
{
	struct nlattr *a = attr_put(r, type, NULL, 0);
	if (r->depth < (int)ARRAY_SIZE(r->nest))
		r->nest[r->depth++] = a;
	else
		r->overflow = true;
}

static void nest_end(struct req *r)
{
	struct nlattr *a = r->nest[--r->depth];
	if (a)
		a->nla_len = r->buf + r->nh.nlmsg_len - (char *)a;
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

static int nl_send(struct skiff_nl *nl, struct req *r)
{
	if (nl->fd < 0)
		return -EBADF;
	if (r->overflow)
		return -EMSGSIZE;
	r->nh.nlmsg_seq = ++nl->seq;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	ssize_t n;
	do
		n = sendto(nl->fd, r->buf, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Reads replies to the last request until its ack / NLMSG_DONE. each()
 * (may be NULL) sees every data message of a dump. */
static int nl_recv(struct skiff_nl *nl, int (*each)(struct nlmsghdr *h, void *data), void *data)
{
	/* the kernel never puts more than 32 KiB in one dump datagram */
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	int result = 0;
	for (;;) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != nl->seq)
				continue; /* a late reply to an abandoned request */
			if (h->nlmsg_type == NLMSG_DONE)
				return result;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error ? e->error : result;
			}
			if (each && !result) {
				int r = each(h, data);
				if (r < 0)
					result = r; /* keep reading to the end of the dump */
			}
		}
	}
}

static int nl_do(struct skiff_nl *nl, struct req *r)
{
	r->nh.nlmsg_flags |= NLM_F_ACK;
	int e = nl_send(nl, r);
	return e < 0 ? e : nl_recv(nl, NULL, NULL);
}

static int nl_dump(struct skiff_nl *nl, struct req *r, int (*each)(struct nlmsghdr *h, void *data), void *data)
{
	r->nh.nlmsg_flags |= NLM_F_DUMP;
	int e = nl_send(nl, r);
	return e < 0 ? e : nl_recv(nl, each, data);
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
	struct req r;
	if (check_name(name))
		return -EINVAL;
	/* the ack after the reply ends the exchange like a dump's DONE */
	struct ifinfomsg *ifi = req_init(&r, RTM_GETLINK, NLM_F_ACK, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	attr_str(&r, IFLA_IFNAME, name);
	attr_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	int idx = 0, e = nl_send(nl, &r);
	if (e < 0 || (e = nl_recv(nl, link_index_cb, &idx)) < 0)
		return e;
	return idx > 0 ? idx : -ENODEV;
}

int skiff_nl_bridge_add(struct skiff_nl *nl, const char *name, int mtu)
{
	struct req r;
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
	struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	attr_str(&r, IFLA_IFNAME, name);
	attr_put(&r, IFLA_ADDRESS, mac, sizeof(mac));
	if (mtu > 0)
		attr_u32(&r, IFLA_MTU, mtu);
	nest_begin(&r, IFLA_LINKINFO);
	attr_str(&r, IFLA_INFO_KIND, "bridge");
	nest_end(&r);
	return nl_do(nl, &r);
}

int skiff_nl_link_up(struct skiff_nl *nl, int ifindex)
{
	struct req r;
	struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_do(nl, &r);
}

int skiff_nl_link_del(struct skiff_nl *nl, const char *name)
{
	struct req r;
	if (check_name(name))
		return -EINVAL;
	struct ifinfomsg *ifi = req_init(&r, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	attr_str(&r, IFLA_IFNAME, name);
	return nl_do(nl, &r);
}

int skiff_nl_link_set_mac(struct skiff_nl *nl, int ifindex, const uint8_t mac[6])
{
	struct req r;
	struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	attr_put(&r, IFLA_ADDRESS, mac, 6);
	return nl_do(nl, &r);
}

static int addr_msg(struct skiff_nl *nl, uint16_t type, uint16_t flags, int ifindex, uint32_t addr, int prefixlen)
{
	struct req r;
	if (prefixlen < 0 || prefixlen > 32)
		return -EINVAL;
	struct ifaddrmsg *ifa = req_init(&r, type, flags, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_index = ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	uint32_t a = htonl(addr);
	attr_put(&r, IFA_LOCAL, &a, 4);
	attr_put(&r, IFA_ADDRESS, &a, 4);
	if (type == RTM_NEWADDR && prefixlen < 31) {
		uint32_t mask = prefixlen ? ~((1u << (32 - prefixlen)) - 1) : 0;
		uint32_t b = htonl(addr | ~mask);
		attr_put(&r, IFA_BROADCAST, &b, 4);
	}
	return nl_do(nl, &r);
}

int skiff_nl_addr_add(struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen)
{
	return addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, addr, prefixlen);
}

int skiff_nl_addr_del(struct skiff_nl *nl, int ifindex, uint32_t addr, int prefixlen)
{
	return addr_msg(nl, RTM_DELADDR, 0, ifindex, addr, prefixlen);
}

int skiff_nl_veth_add(struct skiff_nl *nl, const char *host_name, const char *peer_name, int peer_netns_fd,
		      int master_ifindex, const uint8_t peer_mac[6], int mtu)
{
	struct req r;
	if (check_name(host_name) || check_name(peer_name))
		return -EINVAL;
	/* the kernel applies IFLA_MASTER and the up flag after registering
	 * the new link, so enslaving and bringing up cost no extra trips */
	struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	attr_str(&r, IFLA_IFNAME, host_name);
	if (mtu > 0)
		attr_u32(&r, IFLA_MTU, mtu);
	if (master_ifindex > 0)
		attr_u32(&r, IFLA_MASTER, master_ifindex);
	nest_begin(&r, IFLA_LINKINFO);
	attr_str(&r, IFLA_INFO_KIND, "veth");
	nest_begin(&r, IFLA_INFO_DATA);
	nest_begin(&r, VETH_INFO_PEER);
	struct ifinfomsg *peer = req_reserve(&r, sizeof(*peer));
	if (peer) {
		memset(peer, 0, sizeof(*peer));
		peer->ifi_family = AF_UNSPEC;
	}
	attr_str(&r, IFLA_IFNAME, peer_name);
	if (peer_netns_fd >= 0)
		attr_u32(&r, IFLA_NET_NS_FD, peer_netns_fd);
	if (peer_mac)
		attr_put(&r, IFLA_ADDRESS, peer_mac, 6);
	if (mtu > 0)
		attr_u32(&r, IFLA_MTU, mtu);
	nest_end(&r);
	nest_end(&r);
	nest_end(&r);
	return nl_do(nl, &r);
}

int skiff_nl_route_add_default(struct skiff_nl *nl, uint32_t gw, int ifindex)
{
	struct req r;
	struct rtmsg *rt = req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	uint32_t g = htonl(gw);
	attr_put(&r, RTA_GATEWAY, &g, 4);
	attr_u32(&r, RTA_OIF, ifindex);
	return nl_do(nl, &r);
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
	struct req r;
	struct prefix_ctx c = {.prefix = prefix, .names = {.size = sizeof(char *)}};
	struct ifinfomsg *ifi = req_init(&r, RTM_GETLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	attr_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	int e = nl_dump(nl, &r, prefix_cb, &c);
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
	struct req r;
	struct vec v = {.size = sizeof(uint32_t)};
	struct ifaddrmsg *ifa = req_init(&r, RTM_GETADDR, 0, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	int e = nl_dump(nl, &r, addr_cb, &v);
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
	struct req r;
	struct vec v = {.size = sizeof(struct route)};
	struct rtmsg *rt = req_init(&r, RTM_GETROUTE, 0, sizeof(*rt));
	rt->rtm_family = AF_INET;
	int e = nl_dump(nl, &r, route_cb, &v);
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
