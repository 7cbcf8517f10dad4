/* Network namespaces made ahead of time: one is created by unsharing on the
 * calling thread only and held by an fd (no bind mount), and a pool keeps a
 * few ready, refilled from a low-priority event so no start waits for one. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "netns.h"

int skiff_netns_new(struct skiff_netns *out, struct skiff_error *err)
{
	out->fd = -1;
	out->nl.fd = -1;
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
}

void skiff_netns_path(const struct skiff_netns *ns, char *out, size_t outlen)
{
	snprintf(out, outlen, "/proc/%d/fd/%d", (int)getpid(), ns->fd);
}

struct skiff_netns_pool {
	struct event *refill; /* NULL without a base */
	int size, n;
	struct skiff_netns *ready;
};

/* One namespace per callback: each costs a millisecond or more, and the
 * loop should get back to requests between them. */
static void refill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_netns_pool *p = arg;
	(void)fd;
	(void)what;
	if (p->n >= p->size)
		return;
	if (skiff_netns_new(&p->ready[p->n], NULL) < 0)
		return; /* take() makes one itself (and reports why) when the pool is empty */
	if (++p->n < p->size)
		event_active(p->refill, 0, 0);
}

int skiff_netns_pool_new(struct event_base *base, int size, struct skiff_netns_pool **out)
{
	struct skiff_netns_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->size = size > 0 ? size : 0;
	if (p->size && !(p->ready = calloc(p->size, sizeof(*p->ready)))) {
		free(p);
		return -ENOMEM;
	}
	if (base && p->size) {
		p->refill = event_new(base, -1, 0, refill_cb, p);
		if (!p->refill) {
			skiff_netns_pool_free(p);
			return -ENOMEM;
		}
		/* behind every request the loop has to serve */
		int prios = event_base_get_npriorities(base);
		if (prios > 1)
			event_priority_set(p->refill, prios - 1);
		event_active(p->refill, 0, 0);
	} else {
		/* no loop to refill from: fill once now, take() makes more on demand */
		while (p->n < p->size && skiff_netns_new(&p->ready[p->n], NULL) == 0)
			p->n++;
	}
	*out = p;
	return 0;
}

int skiff_netns_pool_take(struct skiff_netns_pool *p, struct skiff_netns *out, struct skiff_error *err)
{
	if (p->n > 0) {
		*out = p->ready[--p->n];
		p->ready[p->n] = (struct skiff_netns){.fd = -1, .nl = {.fd = -1}};
	} else {
		int r = skiff_netns_new(out, err);
		if (r < 0)
			return r;
	}
	if (p->refill) /* a no-op when the refill is already due */
		event_active(p->refill, 0, 0);
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
	free(p->ready);
	free(p);
}
