/* Network namespaces made ahead of time: one is created by unsharing on the
 * calling thread only and held by an fd (no bind mount), and a pool keeps a
 * few ready (some carrying a veth pair already on a bridge), refilled from
 * a timer after the loop's pending work so no start waits for one. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../runtime/start-trace.h"
#include "netns.h"

int skiff_netns_new(struct skiff_netns *out, struct skiff_error *err)
{
	*out = (struct skiff_netns){ .fd = -1, .nl = { .fd = -1 } };
	_cleanup_close_ int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening the current network namespace");
	/* unshare(2) switches only the calling thread: other threads of the
	 * daemon keep the host namespace throughout */
	if (unshare(CLONE_NEWNET) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "creating a network namespace");
	int e = 0;
	const char *what = NULL;
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		what = "opening the new network namespace";
	} else if ((e = skiff_nl_open(&out->nl)) < 0) {
		what = "opening rtnetlink in the new network namespace";
	} else if ((e = skiff_nl_link_up(&out->nl, 1)) < 0) { /* lo is ifindex 1 in every new netns */
		what = "bringing up lo";
	} else {
		/* skiff's networks are IPv4: links made in here later (eth0...)
		 * get no IPv6, as Docker leaves eth0 on networks without IPv6 (no
		 * link-local address, DAD or MLD traffic); lo keeps ::1 */
		int f = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
		if (f >= 0) { /* absent without IPv6: nothing to turn off then */
			if (write(f, "1", 1) < 0) {
				/* best effort: IPv6 on eth0 is harmless, only noisy */
			}
			close(f);
		}
	}
	if (setns(orig, CLONE_NEWNET) < 0) {
		/* the thread would stay in the wrong namespace: nothing sane
		 * can continue on it */
		int se = errno;
		skiff_nl_close(&out->nl);
		if (fd >= 0)
			close(fd);
		return skiff_error_sys(err, SKIFF_EINTERNAL, se, "returning to the host network namespace");
	}
	if (what) {
		skiff_nl_close(&out->nl);
		if (fd >= 0)
			close(fd);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -e, "%s", what);
	}
	out->fd = fd;
	return 0;
}

void skiff_netns_close(struct skiff_netns *ns)
{
	if (!ns)
		return;
	skiff_nl_close(&ns->nl);
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
	ns->link = ns->host_ifindex = 0;
	ns->host_name[0] = '\0';
}

void skiff_netns_path(const struct skiff_netns *ns, char *out, size_t outlen)
{
	snprintf(out, outlen, "/proc/%d/fd/%d", (int)getpid(), ns->fd);
}

int skiff_netns_veth_new(struct skiff_netns *ns, struct skiff_nl *host, int bridge_ifindex, const char *host_name)
{
	struct skiff_nl_batch b = { 0 };
	int r;

	if (!host_name || !*host_name || strlen(host_name) >= IFNAMSIZ)
		return -EINVAL;
	/* both ends down: a down host end can still be renamed at start */
	skiff_nl_batch_veth(&b, host, host_name, "eth0", ns->fd, bridge_ifindex, NULL, 0, false);
	if ((r = skiff_nl_batch_run(host, &b)) < 0)
		return r;
	{
		/* skiff's networks are IPv4: without this, setting the host end
		 * up at start would also start IPv6 autoconf on it (link-local
		 * address, DAD, MLD) on the start path. The calling thread is in
		 * host's namespace, as /proc/sys/net follows it. */
		char path[80];
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", host_name);
		int f = open(path, O_WRONLY | O_CLOEXEC);
		if (f >= 0) {
			if (write(f, "1", 1) < 0) {
				/* best effort: IPv6 on the host end only costs time */
			}
			close(f);
		}
	}
	if ((r = skiff_nl_link_index(host, host_name)) < 0 || (ns->host_ifindex = r, r = skiff_nl_link_index(&ns->nl, "eth0")) < 0) {
		ns->host_ifindex = 0;
		return r; /* the pair goes with the namespace */
	}
	ns->link = r;
	snprintf(ns->host_name, sizeof(ns->host_name), "%s", host_name);
	return 0;
}

int skiff_netns_veth_claim(struct skiff_netns *ns, struct skiff_nl *host, const char *name)
{
	struct skiff_nl_batch b = { 0 };
	int r;

	if (ns->link <= 0 || ns->host_ifindex <= 0)
		return -ENODEV;
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	/* the kernel renames before it changes flags: one request */
	skiff_nl_batch_link_set(&b, host, ns->host_ifindex, strcmp(name, ns->host_name) ? name : NULL, NULL, true);
	if ((r = skiff_nl_batch_run(host, &b)) < 0)
		return r;
	snprintf(ns->host_name, sizeof(ns->host_name), "%s", name);
	return 0;
}

int skiff_netns_link_setup(struct skiff_netns *ns, int ifindex, const uint8_t mac[6], uint32_t addr, int prefixlen,
			   uint32_t gw)
{
	struct skiff_nl_batch b = { 0 };

	if (prefixlen < 0 || prefixlen > 32 || ifindex <= 0)
		return -EINVAL;
	/* the MAC is set before the flags in one request: still down then */
	skiff_nl_batch_link_set(&b, &ns->nl, ifindex, NULL, mac, true);
	skiff_nl_batch_addr_add(&b, &ns->nl, ifindex, addr, prefixlen);
	/* after the address: the gateway is on-link through its subnet route */
	if (gw)
		skiff_nl_batch_route_default(&b, &ns->nl, gw, ifindex);
	return skiff_nl_batch_run(&ns->nl, &b);
}

/* ---- the pool ---- */

struct skiff_netns_pool {
	struct event *refill; /* NULL without a base */
	int size, n;
	struct skiff_netns *ready;
	/* namespaces with a veth pair on bridge (vsize 0 until set_bridge) */
	int vsize, vn;
	struct skiff_netns *vready;
	char bridge[IFNAMSIZ];
	struct skiff_nl host; /* in the namespace the pool was made in */
	unsigned counter;
};

/* One pooled pair: a fresh namespace and a veth whose host end is named
 * skp<pid><counter> (a name left by an earlier process is skipped). */
static int make_veth_ns(struct skiff_netns_pool *p, struct skiff_netns *out, struct skiff_error *err)
{
	int br, r;

	if ((br = skiff_nl_link_index(&p->host, p->bridge)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -br, "bridge %s", p->bridge);
	if ((r = skiff_netns_new(out, err)) < 0)
		return r;
	for (int tries = 0; tries < 4; tries++) {
		char name[IFNAMSIZ];
		snprintf(name, sizeof(name), SKIFF_NETNS_POOL_PREFIX "%06x%06x", (unsigned)getpid() & 0xffffff,
			 p->counter++ & 0xffffff);
		r = skiff_netns_veth_new(out, &p->host, br, name);
		if (r != -EEXIST)
			break;
	}
	if (r < 0) {
		skiff_netns_close(out);
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating a veth pair on %s", p->bridge);
	}
	return 0;
}

static void refill_arm(struct skiff_netns_pool *p)
{
	/* a zero timer, not event_active(): it fires after the loop's next
	 * poll, so replies queued by the current callbacks are written first */
	static const struct timeval now = { 0, 0 };
	if (p->refill && !evtimer_pending(p->refill, NULL))
		evtimer_add(p->refill, &now);
}

/* SKIFF_START_TRACE marks around one refill: its wall time on the loop
 * and the thread's CPU time (the difference is waiting in the kernel: rtnl,
 * RCU), to tell whether a refill delays the requests behind it. */
static void refill_trace(bool veth, const struct timespec *c0)
{
	struct timespec c1;
	char m[64];

	if (skiff_start_trace_fd() < 0)
		return;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	snprintf(m, sizeof(m), "pool:refilled%s cpu=%ldus", veth ? "-veth" : "",
		 (long)((c1.tv_sec - c0->tv_sec) * 1000000 + (c1.tv_nsec - c0->tv_nsec) / 1000));
	skiff_start_trace_write(NULL, m);
}

/* One namespace per callback: each costs a millisecond or more, and the
 * loop should get back to requests between them. Plain ones first (they
 * are cheaper; a veth one falls back to a plain one when short). */
static void refill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_netns_pool *p = arg;
	struct timespec c0 = { 0, 0 };
	(void)fd;
	(void)what;
	if (skiff_start_trace_fd() >= 0) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		skiff_start_trace_write(NULL, "pool:refill");
	}
	if (p->n < p->size) {
		if (skiff_netns_new(&p->ready[p->n], NULL) < 0)
			return; /* take() makes one itself (and reports why) when the pool is empty */
		p->n++;
		refill_trace(false, &c0);
	} else if (p->vn < p->vsize) {
		if (make_veth_ns(p, &p->vready[p->vn], NULL) < 0)
			return; /* take_veth() falls back to a plain one and a veth of its own */
		p->vn++;
		refill_trace(true, &c0);
	}
	if (p->n < p->size || p->vn < p->vsize)
		refill_arm(p);
}

int skiff_netns_pool_new(struct event_base *base, int size, struct skiff_netns_pool **out)
{
	struct skiff_netns_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->host.fd = -1;
	p->size = size > 0 ? size : 0;
	if (p->size && !(p->ready = calloc(p->size, sizeof(*p->ready)))) {
		free(p);
		return -ENOMEM;
	}
	if (base && p->size) {
		p->refill = evtimer_new(base, refill_cb, p);
		if (!p->refill) {
			skiff_netns_pool_free(p);
			return -ENOMEM;
		}
		refill_arm(p);
	} else {
		/* no loop to refill from: fill once now, take() makes more on demand */
		while (p->n < p->size && skiff_netns_new(&p->ready[p->n], NULL) == 0)
			p->n++;
	}
	*out = p;
	return 0;
}

int skiff_netns_pool_set_bridge(struct skiff_netns_pool *p, const char *bridge, struct skiff_error *err)
{
	int r;
	if (!p->size || p->vsize)
		return 0; /* pooling off, or already set */
	if (!bridge || !*bridge || strlen(bridge) >= IFNAMSIZ)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid bridge name");
	if ((r = skiff_nl_open(&p->host)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "opening rtnetlink");
	if (!(p->vready = calloc(p->size, sizeof(*p->vready)))) {
		skiff_nl_close(&p->host);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	snprintf(p->bridge, sizeof(p->bridge), "%s", bridge);
	p->vsize = p->size;
	if (p->refill) {
		refill_arm(p);
	} else {
		while (p->vn < p->vsize && make_veth_ns(p, &p->vready[p->vn], NULL) == 0)
			p->vn++;
	}
	return 0;
}

int skiff_netns_pool_take(struct skiff_netns_pool *p, struct skiff_netns *out, struct skiff_error *err)
{
	if (p->n > 0) {
		*out = p->ready[--p->n];
		p->ready[p->n] = (struct skiff_netns){ .fd = -1, .nl = { .fd = -1 } };
	} else {
		if (p->size)
			START_TRACE(NULL, "pool:empty"); /* made on the start's path */
		int r = skiff_netns_new(out, err);
		if (r < 0)
			return r;
	}
	refill_arm(p); /* a no-op when the refill is already due */
	return 0;
}

int skiff_netns_pool_take_veth(struct skiff_netns_pool *p, struct skiff_netns *out, struct skiff_error *err)
{
	if (p->vn <= 0)
		return skiff_netns_pool_take(p, out, err);
	*out = p->vready[--p->vn];
	p->vready[p->vn] = (struct skiff_netns){ .fd = -1, .nl = { .fd = -1 } };
	refill_arm(p);
	return 0;
}

void skiff_netns_pool_free(struct skiff_netns_pool *p)
{
	if (!p)
		return;
	if (p->refill)
		event_free(p->refill);
	for (int i = 0; i < p->n; i++)
		skiff_netns_close(&p->ready[i]);
	for (int i = 0; i < p->vn; i++)
		skiff_netns_close(&p->vready[i]); /* their veth pairs go with them */
	skiff_nl_close(&p->host);
	free(p->ready);
	free(p->vready);
	free(p);
}
