/* The daemon's shared context: one per skiffd, passed to every API handler
 * as req->daemon. Subsystems hang off it; nothing here is global. */
#ifndef SKIFF_DAEMON_H
#define SKIFF_DAEMON_H

#include <event2/event.h>
#include <jansson.h>
#include <time.h>

#include "../runtime/cgroup.h"

struct skiff_store;       /* userspace/image/store.h */
struct skiff_containers;  /* userspace/daemon/container.h */
struct skiff_events;      /* userspace/daemon/events.h */
struct skiff_monitor;     /* userspace/runtime/monitor-client.h */
struct skiff_volumes;     /* userspace/daemon/volume.h */
struct skiff_net;         /* userspace/net/network.h: networks, endpoints, data path */

struct skiff_daemon {
	struct event_base *base;
	char *data_root;  /* --data-root, default /var/lib/skiff */
	char *exec_root;  /* --exec-root, default /run/skiff: monitor socket, pid files */
	char *monitor_bin; /* path of skiff-monitor (next to skiffd) */
	struct skiff_store *images;
	struct skiff_containers *containers;
	struct skiff_events *events;
	struct skiff_monitor *monitor;
	struct skiff_volumes *volumes;
	struct skiff_net *net; /* NULL when networking could not start */
	struct skiff_cgroup_layout cgroups; /* detected at start */
	json_t *warnings; /* array of strings for /info: anything degraded */
	struct timespec started;
	int ncpu;
	long long mem_total;
};

#endif
