/* skiff-monitor: the per-host parent of every container init. skiffd
 * starts it detached; it outlives skiffd. Usage:
 *   skiff-monitor --exec-root DIR --data-root DIR [--force] [--log-level L]
 *                 [--cgroup-parent NAME]   (default $SKIFF_CGROUP_PARENT, else "skiff";
 *                                           tests use their own so cleanup is theirs) */
#include "monitor.h"
#include "../lib/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "exec-root", required_argument, NULL, 'e' },
		{ "data-root", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "force", no_argument, NULL, 'f' },
		{ "cgroup-parent", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct skiff_monitord_opts o = { .exec_root = "/run/skiff",
					 .data_root = "/var/lib/skiff",
					 .cgroup_parent = getenv("SKIFF_CGROUP_PARENT") };
	struct skiff_error err = { 0 };
	int level = SKIFF_LOG_INFO, c, r;

	while ((c = getopt_long(argc, argv, "e:d:l:c:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': o.exec_root = optarg; break;
		case 'd': o.data_root = optarg; break;
		case 'f': o.force = true; break;
		case 'c': o.cgroup_parent = optarg; break;
		case 'l':
			level = skiff_log_parse_level(optarg);
			if (level < 0) {
				fprintf(stderr, "skiff-monitor: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: skiff-monitor --exec-root DIR --data-root DIR [--force] [--log-level L]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	skiff_log_init("skiff-monitor", level, NULL);
	r = skiff_monitord_run(&o, &err);
	if (r == -EEXIST) {
		log_info("%s", err.msg);
		return 0;
	}
	if (r < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	return 0;
}
