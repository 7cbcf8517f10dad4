/* skiffd: parses dockerd-style flags, sets up the data and exec roots, the
 * image store, events and the container manager (which reconnects to the
 * monitor), then serves the Engine API on a single-threaded libevent loop.
 * Containers outlive skiffd: SIGTERM and kill -9 both leave them running. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../api/http.h"
#include "../../api/routes.h"
#include "../image/store.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "container.h"
#include "daemon.h"
#include "events.h"
#include "../net/network.h"
#include "../runtime/cgroup.h"
#include "volume.h"

#define MAX_HOSTS 8

struct opts {
	const char *hosts[MAX_HOSTS];
	int nhosts;
	const char *data_root;
	const char *exec_root;
	const char *log_level;
	const char *log_file;
	const char *pidfile;
	bool debug;
	bool cleanup;
	struct skiff_net_opts net;
	int npools, ndns;
};

static const char usage[] =
	"Usage: skiffd [OPTIONS]\n"
	"\n"
	"A Docker-compatible container engine\n"
	"\n"
	"Options:\n"
	"  -H, --host list          Daemon socket to listen on (default unix:///run/skiff/skiff.sock)\n"
	"      --data-root string   Root of persistent state (default \"/var/lib/skiff\")\n"
	"      --exec-root string   Root of runtime state (default \"/run/skiff\")\n"
	"  -l, --log-level string   debug, info, warn or error (default \"info\")\n"
	"      --log-file string    Write logs to this file instead of stderr\n"
	"  -p, --pidfile string     Path of the pid file (default <exec-root>/skiffd.pid)\n"
	"  -D, --debug              Enable debug logging\n"
	"  -b, --bridge string      Name of the default bridge (default \"skiff0\")\n"
	"      --bip string         The default bridge's address and prefix (default \"10.123.0.1/16\")\n"
	"      --default-address-pool base=CIDR,size=N\n"
	"                           Subnets for user-defined networks (default base=10.124.0.0/14,size=24)\n"
	"      --dns list           Upstream DNS servers (IP[:PORT]) for the containers' resolver\n"
	"      --cleanup            Delete this daemon's bridges, nftables table and eBPF pins, then exit\n"
	"  -v, --version            Print version information and quit\n"
	"  -h, --help               Print this help\n";

enum { OPT_DATA_ROOT = 256, OPT_EXEC_ROOT, OPT_LOG_FILE, OPT_BIP, OPT_POOL, OPT_DNS, OPT_CLEANUP, OPT_NO_BPF_PORTS };

static const struct option long_opts[] = {
	{ "host", required_argument, NULL, 'H' },
	{ "data-root", required_argument, NULL, OPT_DATA_ROOT },
	{ "exec-root", required_argument, NULL, OPT_EXEC_ROOT },
	{ "log-level", required_argument, NULL, 'l' },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "pidfile", required_argument, NULL, 'p' },
	{ "debug", no_argument, NULL, 'D' },
	{ "bridge", required_argument, NULL, 'b' },
	{ "bip", required_argument, NULL, OPT_BIP },
	{ "default-address-pool", required_argument, NULL, OPT_POOL },
	{ "dns", required_argument, NULL, OPT_DNS },
	{ "cleanup", no_argument, NULL, OPT_CLEANUP },
	{ "no-bpf-ports", no_argument, NULL, OPT_NO_BPF_PORTS }, /* hidden: tests the nftables fallback */
	{ "version", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* Returns 0 to run, 1 to exit 0 (help/version), -1 on a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .data_root = "/var/lib/skiff", .exec_root = "/run/skiff", .log_level = "info" };
	while ((c = getopt_long(argc, argv, "H:l:p:Db:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (o->nhosts == MAX_HOSTS) {
				fprintf(stderr, "skiffd: at most %d -H addresses\n", MAX_HOSTS);
				return -1;
			}
			o->hosts[o->nhosts++] = optarg;
			break;
		case OPT_DATA_ROOT:
			o->data_root = optarg;
			break;
		case OPT_EXEC_ROOT:
			o->exec_root = optarg;
			break;
		case 'l':
			o->log_level = optarg;
			break;
		case OPT_LOG_FILE:
			o->log_file = optarg;
			break;
		case 'p':
			o->pidfile = optarg;
			break;
		case 'D':
			o->debug = true;
			break;
		case 'b':
			o->net.bridge = optarg;
			break;
		case OPT_BIP:
			o->net.bip = optarg;
			break;
		case OPT_POOL:
			if (o->npools == 7) {
				fprintf(stderr, "skiffd: at most 7 --default-address-pool flags\n");
				return -1;
			}
			o->net.pools[o->npools++] = optarg;
			break;
		case OPT_DNS:
			if (o->ndns == 7) {
				fprintf(stderr, "skiffd: at most 7 --dns flags\n");
				return -1;
			}
			o->net.dns[o->ndns++] = optarg;
			break;
		case OPT_CLEANUP:
			o->cleanup = true;
			break;
		case OPT_NO_BPF_PORTS:
			o->net.no_bpf_ports = true;
			break;
		case 'v':
			printf("skiffd version %s, API %s (minimum %s)\n", SKIFF_ENGINE_VERSION, SKIFF_API_VERSION,
			       SKIFF_API_MIN_VERSION);
			return 1;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "skiffd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->nhosts)
		o->hosts[o->nhosts++] = "unix:///run/skiff/skiff.sock";
	return 0;
}

/* Logs go to stderr; with --log-file, stderr itself is pointed at the file
 * so SIGHUP can reopen it (logrotate) and stray stderr output lands there too. */
static int open_log_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (dup2(fd, STDERR_FILENO) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/* A kill -9'd daemon stays a zombie until its parent reaps it. */
static bool is_zombie(long pid)
{
	_cleanup_free_ char *stat = NULL;
	char path[64];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (skiff_read_file(path, &stat, NULL) < 0)
		return true;
	p = strrchr(stat, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Refuses to start when the pid file names a live skiffd (two daemons on
 * one data root would corrupt it); a stale file from kill -9 is replaced. */
static int write_pidfile(const char *path)
{
	_cleanup_free_ char *old = NULL;
	char buf[32];

	if (skiff_read_file(path, &old, NULL) == 0) {
		long pid = strtol(old, NULL, 10);
		char comm_path[64];
		_cleanup_free_ char *comm = NULL;
		snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", pid);
		if (pid > 0 && pid != getpid() && skiff_read_file(comm_path, &comm, NULL) == 0 &&
		    !strncmp(comm, "skiffd", 6) && !is_zombie(pid)) {
			log_error("pid file %s names a running skiffd (pid %ld): is skiffd already running?", path,
				  pid);
			return -EEXIST;
		}
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	return skiff_write_atomic(path, buf, strlen(buf), 0644);
}

/* skiffd --cleanup: a container whose cgroup exists still runs. */
static int count_running(const char *data_root)
{
	struct skiff_cgroup_layout l;
	_cleanup_free_ char *root = skiff_path_join(data_root, "containers");
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;
	int n = 0;

	if (!root || skiff_cgroup_detect(&l, NULL) < 0 || !(dir = opendir(root)))
		return 0;
	while ((de = readdir(dir))) {
		char path[600];
		const char *ctl = l.mode == SKIFF_CGROUP_V1 || (l.mode == SKIFF_CGROUP_HYBRID && l.nv1) ? "pids" : NULL;
		if (strlen(de->d_name) != 64)
			continue;
		if (skiff_cgroup_path(&l, ctl, de->d_name, path, sizeof(path)) == 0 && access(path, F_OK) == 0)
			n++;
	}
	return n;
}

static int do_cleanup(const struct opts *o)
{
	struct skiff_error err = { 0 };
	_cleanup_free_ char *root = realpath(o->data_root, NULL);
	int n = count_running(root ? root : o->data_root);

	if (n > 0) {
		fprintf(stderr, "skiffd: --cleanup refused: %d container%s of %s still run%s; stop them first\n", n,
			n == 1 ? "" : "s", o->data_root, n == 1 ? "s" : "");
		return 1;
	}
	if (skiff_net_cleanup(root ? root : o->data_root, &o->net, &err) < 0) {
		fprintf(stderr, "skiffd: --cleanup: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static char *monitor_path(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *p;

	if (n <= 0)
		return strdup("skiff-monitor");
	exe[n] = '\0';
	if (asprintf(&p, "%s/skiff-monitor", dirname(exe)) < 0)
		return NULL;
	return p;
}

struct ctx {
	struct skiff_daemon d;
	struct skiff_http_server *srv;
	const char *log_file;
	int exit_code;
};

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct ctx *x = arg;
	(void)what;
	log_info("received %s, shutting down (containers keep running)", strsignal((int)sig));
	skiff_http_server_stop_listening(x->srv);
	event_base_loopbreak(x->d.base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct ctx *x = arg;
	(void)sig;
	(void)what;
	if (x->log_file) {
		int r = open_log_file(x->log_file);
		if (r < 0)
			log_error("reopening log file %s: %s", x->log_file, strerror(-r));
		else
			log_info("log file reopened");
	}
}

static bool image_in_use(const char *image_id, void *data)
{
	return skiff_containers_use_image(data, image_id);
}

static void image_event(const char *action, const char *image_id, const char *ref, void *data)
{
	struct skiff_daemon *d = data;
	json_t *attrs = json_object();
	if (ref && *ref)
		json_object_set_new(attrs, "name", json_string(ref));
	skiff_events_emit(d->events, "image", action, image_id, attrs);
}

static void detect_host(struct skiff_daemon *d)
{
	struct skiff_error err = { 0 };
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	d->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	d->mem_total = pages > 0 && psz > 0 ? (long long)pages * psz : 0;
	if (skiff_cgroup_detect(&d->cgroups, &err) < 0) {
		log_warn("cgroup detection failed: %s", err.msg);
		json_array_append_new(d->warnings,
				      json_sprintf("WARNING: cgroups are unavailable: %s; resource limits will not work",
						   err.msg));
	} else {
		log_info("cgroups: %s layout", skiff_cgroup_mode_name(d->cgroups.mode));
		if (d->cgroups.mode == SKIFF_CGROUP_V2 && !d->cgroups.v2_has_controllers)
			json_array_append_new(d->warnings,
					      json_string("WARNING: the cgroup v2 hierarchy has no cpu/memory/pids "
							  "controllers enabled: resource limits will not work"));
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct ctx x = { 0 };
	struct skiff_daemon *d = &x.d;
	struct skiff_error err = { 0 };
	_cleanup_free_ char *pidfile = NULL;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	const struct skiff_route *routes;
	size_t nroutes;
	int level, r;

	r = parse_args(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	level = o.debug ? SKIFF_LOG_DEBUG : skiff_log_parse_level(o.log_level);
	if (level < 0) {
		fprintf(stderr, "skiffd: unknown log level '%s' (debug, info, warn, error)\n", o.log_level);
		return 2;
	}
	if (o.log_file && (r = open_log_file(o.log_file)) < 0) {
		fprintf(stderr, "skiffd: cannot open log file %s: %s\n", o.log_file, strerror(-r));
		return 1;
	}
	skiff_log_init("skiffd", level, NULL);
	x.log_file = o.log_file;
	signal(SIGPIPE, SIG_IGN);
	if (o.cleanup)
		return do_cleanup(&o);

	d->data_root = realpath(o.data_root, NULL);
	if (!d->data_root) {
		if ((r = skiff_mkdir_p(o.data_root, 0700)) < 0) {
			log_error("creating data root %s: %s", o.data_root, strerror(-r));
			return 1;
		}
		d->data_root = realpath(o.data_root, NULL);
	}
	if ((r = skiff_mkdir_p(o.exec_root, 0700)) < 0) {
		log_error("creating exec root %s: %s", o.exec_root, strerror(-r));
		return 1;
	}
	d->exec_root = realpath(o.exec_root, NULL);
	if (!d->data_root || !d->exec_root) {
		log_error("resolving data or exec root: %s", strerror(errno));
		return 1;
	}
	chmod(d->data_root, 0700);
	{
		_cleanup_free_ char *tmp = skiff_path_join(d->data_root, "tmp");
		if (tmp)
			skiff_mkdir_p(tmp, 0700); /* spooled request bodies live here */
	}
	pidfile = o.pidfile ? strdup(o.pidfile) : skiff_path_join(d->exec_root, "skiffd.pid");
	r = pidfile ? write_pidfile(pidfile) : -ENOMEM;
	if (r < 0) {
		if (r != -EEXIST)
			log_error("writing pid file %s: %s", pidfile ? pidfile : "", strerror(-r));
		free(d->data_root);
		free(d->exec_root);
		return 1;
	}

	d->base = event_base_new();
	d->warnings = json_array();
	d->monitor_bin = monitor_path();
	d->started = skiff_now();
	d->events = skiff_events_new();
	if (!d->base || !d->warnings || !d->monitor_bin || !d->events) {
		log_error("out of memory");
		goto fail;
	}
	detect_host(d);

	if (skiff_store_open(d->data_root, &d->images, &err) < 0) {
		log_error("opening the image store: %s", err.msg);
		goto fail;
	}
	skiff_store_set_hooks(d->images, image_in_use, image_event, d);
	if (skiff_volumes_open(d->data_root, d->events, &d->volumes, &err) < 0) {
		log_error("opening the volume store: %s", err.msg);
		goto fail;
	}
	if (skiff_net_init(d, &o.net, &err) < 0) {
		log_error("starting networking: %s", err.msg);
		goto fail;
	}
	if (skiff_containers_init(d, &err) < 0) {
		log_error("starting the container manager: %s", err.msg);
		goto fail;
	}

	routes = skiff_api_routes(&nroutes);
	if (!routes || skiff_http_server_new(d->base, d, routes, nroutes, &x.srv, &err) < 0) {
		log_error("creating the API server: %s", routes ? err.msg : "out of memory");
		goto fail;
	}
	for (int i = 0; i < o.nhosts; i++) {
		if (skiff_http_server_listen(x.srv, o.hosts[i], &err) < 0) {
			log_error("listening on %s: %s", o.hosts[i], err.msg);
			goto fail;
		}
		log_info("API listening on %s", o.hosts[i]);
	}

	ev_term = evsignal_new(d->base, SIGTERM, on_stop, &x);
	ev_int = evsignal_new(d->base, SIGINT, on_stop, &x);
	ev_hup = evsignal_new(d->base, SIGHUP, on_hup, &x);
	if (!ev_term || !ev_int || !ev_hup || evsignal_add(ev_term, NULL) < 0 || evsignal_add(ev_int, NULL) < 0 ||
	    evsignal_add(ev_hup, NULL) < 0) {
		log_error("installing signal handlers failed");
		goto fail;
	}
	log_info("skiffd %s started (data root %s, exec root %s, pid %d)", SKIFF_ENGINE_VERSION, d->data_root,
		 d->exec_root, (int)getpid());
	event_base_dispatch(d->base);
	goto out;

fail:
	x.exit_code = 1;
out:
	/* in-flight requests hear on_close while the container manager they
	 * point into still exists */
	skiff_http_server_free(x.srv);
	if (d->containers)
		skiff_containers_shutdown(d);
	skiff_net_shutdown(d);
	if (d->images)
		skiff_store_close(d->images);
	skiff_volumes_close(d->volumes);
	skiff_events_free(d->events);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (ev_hup)
		event_free(ev_hup);
	json_decref(d->warnings);
	if (d->base)
		event_base_free(d->base);
	unlink(pidfile);
	free(d->monitor_bin);
	free(d->data_root);
	free(d->exec_root);
	if (!x.exit_code)
		log_info("skiffd stopped");
	return x.exit_code;
}
