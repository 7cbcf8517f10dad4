/* System endpoints: _ping (version negotiation), /version, /info with real
 * host and engine values, the /events stream, /system/df, and /auth (not
 * built yet). Shapes follow dockerd 28 so the docker CLI prints them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../userspace/daemon/container.h"
#include "../userspace/daemon/daemon.h"
#include "../userspace/daemon/events.h"
#include "../userspace/image/store.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/fs.h"
#include "../userspace/lib/json.h"
#include "routes.h"

static void ping_headers(struct skiff_http_req *req)
{
	skiff_http_add_header(req, "Builder-Version", "1");
	skiff_http_add_header(req, "Swarm", "inactive");
	skiff_http_add_header(req, "Cache-Control", "no-cache, no-store, must-revalidate");
	skiff_http_add_header(req, "Pragma", "no-cache");
}

static void h_ping(struct skiff_http_req *req)
{
	ping_headers(req);
	/* HEAD: the server drops the body and keeps Content-Length */
	skiff_http_reply_data(req, 200, "text/plain; charset=utf-8", req->method == HTTP_HEAD ? "" : "OK",
			      req->method == HTTP_HEAD ? 0 : 2);
}

static const char *kernel_version(void)
{
	static struct utsname u;
	if (!u.release[0] && uname(&u) < 0)
		return "";
	return u.release;
}

static const char *build_time(void)
{
	return __DATE__ " " __TIME__;
}

static void h_version(struct skiff_http_req *req)
{
	json_t *details = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ApiVersion", SKIFF_API_VERSION,
				    "MinAPIVersion", SKIFF_API_MIN_VERSION, "GitCommit", "unknown", "GoVersion", "n/a",
				    "Os", "linux", "Arch", "amd64", "KernelVersion", kernel_version(), "BuildTime",
				    build_time(), "Experimental", "false");
	json_t *j = json_pack("{s:{s:s},s:[{s:s,s:s,s:o}],s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Platform", "Name",
			      "skiff", "Components", "Name", "Engine", "Version", SKIFF_ENGINE_VERSION, "Details",
			      details, "Version", SKIFF_ENGINE_VERSION, "ApiVersion", SKIFF_API_VERSION,
			      "MinAPIVersion", SKIFF_API_MIN_VERSION, "GitCommit", "unknown", "GoVersion", "n/a", "Os",
			      "linux", "Arch", "amd64", "KernelVersion", kernel_version(), "BuildTime", build_time());
	skiff_http_reply_json(req, 200, j);
}

/* ---- /info ---- */

static char *os_pretty_name(void)
{
	_cleanup_free_ char *text = NULL;
	char *p, *e;

	if (skiff_read_file("/etc/os-release", &text, NULL) < 0 &&
	    skiff_read_file("/usr/lib/os-release", &text, NULL) < 0)
		return strdup("Linux");
	p = strstr(text, "PRETTY_NAME=");
	if (!p)
		return strdup("Linux");
	p += strlen("PRETTY_NAME=");
	if (*p == '"' || *p == '\'')
		p++;
	e = p + strcspn(p, "\"'\n");
	*e = '\0';
	return strdup(p);
}

/* A persistent engine ID, like dockerd's engine-id file. */
static char *engine_id(const struct skiff_daemon *d)
{
	_cleanup_free_ char *path = NULL;
	char *id = NULL;
	unsigned char b[16];
	char buf[40];
	int fd;

	if (!d || !d->data_root)
		return strdup("00000000-0000-0000-0000-000000000000");
	path = skiff_path_join(d->data_root, "engine-id");
	if (path && skiff_read_file(path, &id, NULL) == 0) {
		id[strcspn(id, "\n")] = '\0';
		if (*id)
			return id;
		free(id);
	}
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		memset(b, 0, sizeof(b));
	if (fd >= 0)
		close(fd);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, sizeof(buf), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	if (path)
		skiff_write_atomic(path, buf, strlen(buf), 0600);
	return strdup(buf);
}

/* Root of the hierarchy that has controller, or NULL. */
static const char *controller_root(const struct skiff_cgroup_layout *l, const char *ctl)
{
	if (l->mode == SKIFF_CGROUP_V2) {
		static char found[512];
		_cleanup_free_ char *path = skiff_path_join(l->v2_root, "cgroup.controllers");
		_cleanup_free_ char *text = NULL;
		if (!path || skiff_read_file(path, &text, NULL) < 0)
			return NULL;
		for (char *save = NULL, *w = strtok_r(text, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
			if (!strcmp(w, ctl)) {
				snprintf(found, sizeof(found), "%s", l->v2_root);
				return found;
			}
		return NULL;
	}
	for (int i = 0; i < l->nv1; i++) {
		char list[64];
		snprintf(list, sizeof(list), "%s", l->v1[i].controllers);
		for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save))
			if (!strcmp(w, ctl))
				return l->v1[i].root;
	}
	return NULL;
}

static bool root_has_file(const struct skiff_cgroup_layout *l, const char *ctl, const char *file)
{
	const char *root = controller_root(l, ctl);
	char path[768];
	if (!root)
		return false;
	snprintf(path, sizeof(path), "%s/%s", root, file);
	return access(path, F_OK) == 0;
}

static bool swap_limit(const struct skiff_cgroup_layout *l)
{
	if (l->mode == SKIFF_CGROUP_V2) {
		/* the root has no memory.swap.max; any child cgroup shows whether swap accounting exists */
		char path[512];
		snprintf(path, sizeof(path), "%s/init.scope/memory.swap.max", l->v2_root);
		if (access(path, F_OK) == 0)
			return true;
		snprintf(path, sizeof(path), "%s/system.slice/memory.swap.max", l->v2_root);
		return access(path, F_OK) == 0;
	}
	return root_has_file(l, "memory", "memory.memsw.limit_in_bytes");
}

/* "Backing Filesystem" as dockerd names it (graphdriver FsNames). */
static const char *backing_fs(const char *path)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} names[] = {
		{ 0xEF53, "extfs" },      { 0x58465342, "xfs" },   { 0x9123683E, "btrfs" }, { 0x01021994, "tmpfs" },
		{ 0x794c7630, "overlayfs" }, { 0x2FC12FC1, "zfs" }, { 0x6969, "nfs" },      { 0x65735546, "fuse" },
	};
	struct statfs st;

	if (!path || statfs(path, &st) < 0)
		return "unknown";
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if ((unsigned long)st.f_type == names[i].magic)
			return names[i].name;
	return "unknown";
}

static bool ipv4_forwarding(void)
{
	_cleanup_free_ char *v = NULL;
	return skiff_read_file("/proc/sys/net/ipv4/ip_forward", &v, NULL) == 0 && v[0] == '1';
}

static int count_fds(void)
{
	_cleanup_closedir_ DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	while (dir && (e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	return n > 0 ? n - 1 : 0; /* minus the one opendir holds */
}

static void h_info(struct skiff_http_req *req)
{
	struct skiff_daemon *d = req->daemon;
	const struct skiff_cgroup_layout *l = &d->cgroups;
	int total = 0, running = 0, paused = 0, stopped = 0;
	_cleanup_free_ char *os = os_pretty_name();
	_cleanup_free_ char *id = engine_id(d);
	char host[256] = "";
	char now[40];
	struct timespec ts = skiff_now();
	json_t *j, *warnings;
	bool v2 = l->mode == SKIFF_CGROUP_V2;

	if (d->containers)
		skiff_containers_count(d, &total, &running, &paused, &stopped);
	gethostname(host, sizeof(host) - 1);
	skiff_time_format(&ts, now);
	warnings = d->warnings ? json_deep_copy(d->warnings) : json_array();

	j = json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:s,s:[[s,s],[s,s],[s,s]],s:s}", "ID", id, "Containers", total,
		      "ContainersRunning", running, "ContainersPaused", paused, "ContainersStopped", stopped, "Images",
		      d->images ? skiff_image_count(d->images) : 0, "Driver", "overlay2", "DriverStatus",
		      "Backing Filesystem", backing_fs(d->data_root), "Supports d_type", "true", "Using metacopy", "false",
		      "DockerRootDir", d->data_root ? d->data_root : "/var/lib/skiff");
	json_object_set_new(j, "Plugins",
			    json_pack("{s:[s],s:[s,s,s],s:n,s:[s]}", "Volume", "local", "Network", "bridge", "host",
				      "none", "Authorization", "Log", "json-file"));
	json_object_set_new(j, "MemoryLimit", json_boolean(controller_root(l, "memory") != NULL));
	json_object_set_new(j, "SwapLimit", json_boolean(swap_limit(l)));
	json_object_set_new(j, "KernelMemory", json_false());
	json_object_set_new(j, "KernelMemoryTCP", json_false());
	json_object_set_new(j, "CpuCfsPeriod", json_boolean(v2 ? controller_root(l, "cpu") != NULL :
							       root_has_file(l, "cpu", "cpu.cfs_period_us")));
	json_object_set_new(j, "CpuCfsQuota", json_boolean(v2 ? controller_root(l, "cpu") != NULL :
							      root_has_file(l, "cpu", "cpu.cfs_quota_us")));
	json_object_set_new(j, "CPUShares", json_boolean(controller_root(l, "cpu") != NULL));
	json_object_set_new(j, "CPUSet", json_boolean(controller_root(l, "cpuset") != NULL));
	json_object_set_new(j, "PidsLimit", json_boolean(controller_root(l, "pids") != NULL));
	json_object_set_new(j, "OomKillDisable", json_boolean(!v2 && root_has_file(l, "memory", "memory.oom_control")));
	json_object_set_new(j, "IPv4Forwarding", json_boolean(ipv4_forwarding()));
	json_object_set_new(j, "Debug", json_false());
	json_object_set_new(j, "NFd", json_integer(count_fds()));
	json_object_set_new(j, "NGoroutines", json_integer(1));
	json_object_set_new(j, "SystemTime", json_string(now));
	json_object_set_new(j, "LoggingDriver", json_string("json-file"));
	json_object_set_new(j, "CgroupDriver", json_string("cgroupfs"));
	json_object_set_new(j, "CgroupVersion", json_string(v2 ? "2" : "1"));
	json_object_set_new(j, "NEventsListener", json_integer(0));
	json_object_set_new(j, "KernelVersion", json_string(kernel_version()));
	json_object_set_new(j, "OperatingSystem", json_string(os));
	json_object_set_new(j, "OSVersion", json_string(""));
	json_object_set_new(j, "OSType", json_string("linux"));
	json_object_set_new(j, "Architecture", json_string("x86_64"));
	json_object_set_new(j, "IndexServerAddress", json_string("https://index.docker.io/v1/"));
	json_object_set_new(j, "RegistryConfig",
			    json_pack("{s:[s,s],s:{s:{s:s,s:[],s:b,s:b}},s:[]}", "InsecureRegistryCIDRs", "::1/128",
				      "127.0.0.0/8", "IndexConfigs", "docker.io", "Name", "docker.io", "Mirrors",
				      "Secure", 1, "Official", 1, "Mirrors"));
	json_object_set_new(j, "NCPU", json_integer(d->ncpu));
	json_object_set_new(j, "MemTotal", json_integer(d->mem_total));
	json_object_set_new(j, "GenericResources", json_null());
	json_object_set_new(j, "HttpProxy", json_string(""));
	json_object_set_new(j, "HttpsProxy", json_string(""));
	json_object_set_new(j, "NoProxy", json_string(""));
	json_object_set_new(j, "Name", json_string(host));
	json_object_set_new(j, "Labels", json_array());
	json_object_set_new(j, "ExperimentalBuild", json_false());
	json_object_set_new(j, "ServerVersion", json_string(SKIFF_ENGINE_VERSION));
	json_object_set_new(j, "Runtimes", json_pack("{s:{s:s}}", "skiff", "path", "skiff-monitor"));
	json_object_set_new(j, "DefaultRuntime", json_string("skiff"));
	json_object_set_new(j, "Swarm", json_pack("{s:s,s:s,s:s,s:s,s:b,s:n}", "NodeID", "", "NodeAddr", "",
						  "LocalNodeState", "inactive", "Error", "", "ControlAvailable", 0,
						  "RemoteManagers"));
	json_object_set_new(j, "LiveRestoreEnabled", json_true());
	json_object_set_new(j, "Isolation", json_string(""));
	json_object_set_new(j, "InitBinary", json_string(""));
	json_object_set_new(j, "ContainerdCommit", json_pack("{s:s}", "ID", "n/a"));
	json_object_set_new(j, "RuncCommit", json_pack("{s:s}", "ID", "n/a"));
	json_object_set_new(j, "InitCommit", json_pack("{s:s}", "ID", "n/a"));
	json_object_set_new(j, "SecurityOptions", json_pack("[s,s]", "name=seccomp,profile=builtin", "name=cgroupns"));
	json_object_set_new(j, "CDISpecDirs", json_array());
	json_object_set_new(j, "Warnings", warnings);
	skiff_http_reply_json(req, 200, j);
}

/* ---- /events ---- */

#define EVENTS_MAX_PENDING (16 * 1024 * 1024)

struct ev_stream {
	struct skiff_http_req *req;
	struct skiff_daemon *d;
	void *sub;
	json_t *filters;
	long long until; /* ns, 0: none */
	struct event *timer;
};

static const char *const event_filter_names[] = {
	"config", "container", "daemon", "event", "image", "label", "network",
	"node",   "plugin",    "scope",  "secret", "service", "type", "volume",
};

static void ev_stream_free(struct ev_stream *s)
{
	if (s->sub)
		skiff_events_unsubscribe(s->d->events, s->sub);
	if (s->timer)
		event_free(s->timer);
	json_decref(s->filters);
	free(s);
}

static void ev_end(struct ev_stream *s)
{
	skiff_http_stream_end(s->req);
	ev_stream_free(s);
}

static void ev_on_close(struct skiff_http_req *req, void *data)
{
	(void)req;
	ev_stream_free(data);
}

static void ev_timer(evutil_socket_t fd, short what, void *data)
{
	(void)fd;
	(void)what;
	ev_end(data);
}

static void ev_cb(json_t *event, void *data)
{
	struct ev_stream *s = data;

	if (s->until && skiff_json_int(event, "timeNano", 0) > s->until)
		return; /* the timer ends the stream */
	if (!skiff_events_match(event, s->filters))
		return;
	if (s->sub && skiff_http_stream_pending(s->req) > EVENTS_MAX_PENDING) {
		/* the client stopped reading: end its stream rather than buffer without
		 * bound (live only: during the replay s->sub is not set yet) */
		ev_end(s);
		return;
	}
	skiff_http_stream_json(s->req, json_incref(event));
}

static long long ts_nano(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void h_events(struct skiff_http_req *req)
{
	struct skiff_daemon *d = req->daemon;
	const char *since_s = skiff_http_query(req, "since");
	const char *until_s = skiff_http_query(req, "until");
	struct timespec since = { 0 }, until = { 0 }, now = skiff_now();
	struct ev_stream *s;
	json_t *filters;
	const char *k;
	json_t *v;

	if (since_s && *since_s && skiff_time_parse(since_s, &since) < 0) {
		skiff_http_reply_error(req, 400, "invalid value for since: '%s'", since_s);
		return;
	}
	if (until_s && *until_s && skiff_time_parse(until_s, &until) < 0) {
		skiff_http_reply_error(req, 400, "invalid value for until: '%s'", until_s);
		return;
	}
	filters = skiff_http_query_filters(req);
	if (!filters)
		return;
	json_object_foreach(filters, k, v) {
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(event_filter_names); i++)
			known |= !strcmp(k, event_filter_names[i]);
		if (!known) {
			json_decref(filters);
			skiff_http_reply_error(req, 400, "invalid filter '%s'", k);
			return;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		json_decref(filters);
		skiff_http_reply_error(req, 500, "out of memory");
		return;
	}
	s->req = req;
	s->d = d;
	s->filters = filters;
	s->until = ts_nano(&until);
	skiff_http_stream_start(req, 200, "application/json");
	if (!d->events) {
		ev_end(s);
		return;
	}
	/* Docker replays the ring when since or until is given */
	bool replay = (since_s && *since_s) || (until_s && *until_s);
	s->sub = skiff_events_subscribe(d->events, replay ? &since : NULL, ev_cb, s);
	if (s->until && s->until <= ts_nano(&now)) {
		ev_end(s); /* everything asked for is in the past */
		return;
	}
	if (s->until) {
		long long left = s->until - ts_nano(&now);
		struct timeval tv = { .tv_sec = left / 1000000000LL, .tv_usec = (left % 1000000000LL) / 1000 };
		s->timer = evtimer_new(d->base, ev_timer, s);
		if (s->timer)
			evtimer_add(s->timer, &tv);
	}
	req->on_close = ev_on_close;
	req->on_close_data = s;
}

/* ---- /system/df ---- */

static void h_df(struct skiff_http_req *req)
{
	struct skiff_daemon *d = req->daemon;
	struct skiff_error err = { 0 };
	json_t *images = NULL, *containers = NULL, *img, *c;
	json_int_t layers = 0;
	size_t i, k;

	if (d->images) {
		images = skiff_image_list_json(d->images, true, NULL, &err);
		if (!images) {
			skiff_http_reply_skiff_error(req, &err);
			return;
		}
	}
	if (d->containers) {
		containers = skiff_container_list_json(d, true, -1, true, NULL, &err);
		if (!containers) {
			json_decref(images);
			skiff_http_reply_skiff_error(req, &err);
			return;
		}
	}
	if (!images)
		images = json_array();
	if (!containers)
		containers = json_array();
	/* Containers per image decides "active" in docker system df */
	json_array_foreach(images, i, img) {
		const char *id = skiff_json_str(img, "Id", "");
		json_int_t n = 0;
		json_array_foreach(containers, k, c)
			n += !strcmp(skiff_json_str(c, "ImageID", ""), id);
		json_object_set_new(img, "Containers", json_integer(n));
		/* the CLI skips -1 ("not computed") when it sums what is in use;
		 * layers shared between images are not counted yet, so 0 */
		if (skiff_json_int(img, "SharedSize", -1) < 0)
			json_object_set_new(img, "SharedSize", json_integer(0));
		layers += skiff_json_int(img, "Size", 0);
	}
	skiff_http_reply_json(req, 200,
			      json_pack("{s:I,s:o,s:o,s:[],s:[]}", "LayersSize", layers, "Images", images,
					"Containers", containers, "Volumes", "BuildCache"));
}

static void h_auth(struct skiff_http_req *req)
{
	skiff_http_reply_error(req, 501, "registry login is not implemented yet");
}

const struct skiff_route skiff_system_routes[] = {
	{ .methods = HTTP_GET | HTTP_HEAD, .pattern = "/_ping", .handler = h_ping },
	{ .methods = HTTP_GET, .pattern = "/version", .handler = h_version },
	{ .methods = HTTP_GET, .pattern = "/info", .handler = h_info },
	{ .methods = HTTP_GET, .pattern = "/events", .handler = h_events },
	{ .methods = HTTP_GET, .pattern = "/system/df", .handler = h_df },
	{ .methods = HTTP_POST, .pattern = "/auth", .handler = h_auth },
};
const size_t skiff_system_nroutes = ARRAY_SIZE(skiff_system_routes);
