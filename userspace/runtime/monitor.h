/* skiff-monitor's logic: one process per host that spawns every container's
 * init (as its parent and subreaper), holds their stdio, writes json-file
 * logs, forwards output to attach subscribers and records exit codes.
 * monitor-main.c parses flags and calls skiff_monitord_run(). */
#ifndef SKIFF_MONITOR_H
#define SKIFF_MONITOR_H

#include <stdbool.h>

#include "../lib/error.h"

struct skiff_monitord_opts {
	const char *exec_root; /* monitor.sock, monitor.pid, monitor.lock */
	const char *data_root; /* containers/<id>/{<id>-json.log,exit.json} */
	bool force;            /* SIGTERM exits even while containers run */
	const char *cgroup_parent; /* NULL: the layout's default ("skiff") */
};

/* Runs until SIGTERM (with no container running, or force). Returns 0,
 * -EEXIST when another monitor holds the lock, or -errno. */
int skiff_monitord_run(const struct skiff_monitord_opts *o, struct skiff_error *err);

#endif
