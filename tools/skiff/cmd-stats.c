/* `skiff stats`: docker 28's stats table. One collector thread per container
 * reads GET /containers/{id}/stats (a stream, or one sample with
 * --no-stream) and keeps the latest figures, computed as the docker CLI does
 * (CPU % from cpu_stats against precpu_stats, memory without inactive file
 * pages); the main thread redraws the table every 500 ms. Without names an
 * events thread follows containers starting and dying, as docker does. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

/* docker: a container without a sample for this long shows "--" */
#define STATS_STALE_NS (2 * 1000000000LL)
#define STATS_TICK_NS (500 * 1000000LL)

struct entry {
	char *container; /* as the user named it, or the full ID */
	char id[80];
	char name[256];
	double cpu, mem, mem_limit, mem_perc, net_rx, net_tx, blk_read, blk_write;
	uint64_t pids;
	bool have;      /* at least one sample */
	bool done;      /* the first wait is over: sample, error or timeout */
	bool removed;   /* dropped from the table; the collector ends */
	char *error;    /* the last request error */
	int64_t started, last; /* monotonic ns */
	int fd;         /* the stats connection, for shutdown on removal */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct entry **v;
	size_t n;
	struct cli *cli;
	bool stream, all, show_all;
} S = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double num(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (double)(uint64_t)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : 0;
}

/* calculateCPUPercentUnix */
static double cpu_percent(const json_t *s)
{
	json_t *cpu = json_object_get(s, "cpu_stats"), *pre = json_object_get(s, "precpu_stats");
	double cpu_delta = num(json_object_get(cpu, "cpu_usage"), "total_usage") -
			   num(json_object_get(pre, "cpu_usage"), "total_usage");
	double sys_delta = num(cpu, "system_cpu_usage") - num(pre, "system_cpu_usage");
	double online = num(cpu, "online_cpus");
	if (online == 0)
		online = (double)json_array_size(json_object_get(json_object_get(cpu, "cpu_usage"), "percpu_usage"));
	if (sys_delta > 0 && cpu_delta > 0)
		return cpu_delta / sys_delta * online * 100.0;
	return 0;
}

/* calculateMemUsageUnixNoCache: usage less inactive file pages (v1: total_) */
static double mem_usage(const json_t *m)
{
	double usage = num(m, "usage");
	json_t *st = json_object_get(m, "stats");
	if (json_object_get(st, "total_inactive_file") && num(st, "total_inactive_file") < usage)
		return usage - num(st, "total_inactive_file");
	if (num(st, "inactive_file") < usage)
		return usage - num(st, "inactive_file");
	return usage;
}

static void sample(struct entry *e, const json_t *s)
{
	json_t *m = json_object_get(s, "memory_stats");
	double blk_r = 0, blk_w = 0, rx = 0, tx = 0;
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(json_object_get(s, "blkio_stats"), "io_service_bytes_recursive"), i, b)
	{
		const char *op = skiff_json_str(b, "op", "");
		if (*op == 'r' || *op == 'R')
			blk_r += num(b, "value");
		else if (*op == 'w' || *op == 'W')
			blk_w += num(b, "value");
	}
	const char *k;
	json_object_foreach(json_object_get(s, "networks"), k, b)
	{
		rx += num(b, "rx_bytes");
		tx += num(b, "tx_bytes");
	}
	pthread_mutex_lock(&S.mu);
	snprintf(e->id, sizeof(e->id), "%s", skiff_json_str(s, "id", ""));
	snprintf(e->name, sizeof(e->name), "%s", skiff_json_str(s, "name", ""));
	e->cpu = cpu_percent(s);
	e->mem = mem_usage(m);
	e->mem_limit = num(m, "limit");
	e->mem_perc = e->mem_limit != 0 ? e->mem / e->mem_limit * 100.0 : 0;
	e->blk_read = blk_r, e->blk_write = blk_w, e->net_rx = rx, e->net_tx = tx;
	e->pids = (uint64_t)num(json_object_get(s, "pids_stats"), "current");
	e->have = e->done = true;
	e->last = now_ns();
	free(e->error);
	e->error = NULL;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
}

static void set_error(struct entry *e, const char *msg)
{
	pthread_mutex_lock(&S.mu);
	free(e->error);
	e->error = strdup(msg);
	e->done = true;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
}

static void *collect(void *arg)
{
	struct entry *e = arg;
	struct cli cli = *S.cli; /* own error buffer */
	char path[1024];
	_cleanup_free_ char *en = cli_urlencode(e->container);
	snprintf(path, sizeof(path), "/containers/%s/stats?stream=%d", en, S.stream);
	struct cli_resp *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	int ret = cli_http_send(&cli, "GET", path, NULL, r);
	if (ret == 0) {
		pthread_mutex_lock(&S.mu);
		e->fd = r->fd;
		if (e->removed)
			shutdown(r->fd, SHUT_RDWR);
		pthread_mutex_unlock(&S.mu);
		ret = cli_http_recv(&cli, r, false);
	}
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(&cli, r);
	if (ret < 0) {
		set_error(e, cli.err.msg);
	} else {
		char *line = NULL;
		size_t cap = 0;
		while (cli_resp_getline(r, &line, &cap) >= 0) {
			_cleanup_json_ json_t *s = json_loads(line, 0, NULL);
			if (!s)
				continue;
			sample(e, s);
			if (!S.stream)
				break;
		}
		free(line);
		set_error(e, "EOF");
	}
	pthread_mutex_lock(&S.mu);
	e->fd = -1;
	pthread_mutex_unlock(&S.mu);
	cli_resp_close(r);
	free(r);
	return NULL;
}

/* cStats.add: a container already shown is not added twice */
static void add(const char *container)
{
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; i < S.n; i++)
		if (!strcmp(S.v[i]->container, container)) {
			pthread_mutex_unlock(&S.mu);
			return;
		}
	struct entry **nv = realloc(S.v, (S.n + 1) * sizeof(*nv));
	struct entry *e = calloc(1, sizeof(*e));
	if (!nv || !e || !(e->container = strdup(container))) {
		free(e);
		if (nv)
			S.v = nv;
		pthread_mutex_unlock(&S.mu);
		return;
	}
	S.v = nv;
	e->fd = -1;
	e->started = now_ns();
	S.v[S.n++] = e;
	pthread_mutex_unlock(&S.mu);
	pthread_t th;
	if (pthread_create(&th, NULL, collect, e) == 0)
		pthread_detach(th);
	else
		set_error(e, "cannot start a collector thread");
}

/* Entries stay allocated (their thread may still hold them); they leave the table. */
static void drop(const char *id)
{
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; i < S.n; i++) {
		if (strcmp(S.v[i]->container, id))
			continue;
		S.v[i]->removed = true;
		if (S.v[i]->fd >= 0)
			shutdown(S.v[i]->fd, SHUT_RDWR);
		memmove(S.v + i, S.v + i + 1, (S.n - i - 1) * sizeof(*S.v));
		S.n--;
		break;
	}
	pthread_mutex_unlock(&S.mu);
}

struct events_ctx {
	struct cli_resp r;
	bool ready, failed;
};

static void *watch_events(void *arg)
{
	struct events_ctx *ev = arg;
	struct cli cli = *S.cli;
	_cleanup_free_ char *f = cli_urlencode("{\"type\":{\"container\":true}}");
	char path[256];
	snprintf(path, sizeof(path), "/events?filters=%s", f);
	int ret = cli_http(&cli, "GET", path, NULL, &ev->r);
	pthread_mutex_lock(&S.mu);
	ev->ready = true;
	ev->failed = ret < 0 || ev->r.status >= 400;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	if (ev->failed)
		return NULL;
	char *line = NULL;
	size_t cap = 0;
	while (cli_resp_getline(&ev->r, &line, &cap) >= 0) {
		_cleanup_json_ json_t *m = json_loads(line, 0, NULL);
		const char *action = skiff_json_str(m, "Action", skiff_json_str(m, "status", ""));
		const char *id = skiff_json_str(json_object_get(m, "Actor"), "ID", skiff_json_str(m, "id", ""));
		if (!*id)
			continue;
		if (!strcmp(action, "start") || (S.all && !strcmp(action, "create")))
			add(id);
		else if (!S.all && !strcmp(action, "die"))
			drop(id);
	}
	free(line);
	return NULL;
}

/* units.BytesSize: "%.4g" with binary units */
static void bytes_size(double size, char *out, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB" };
	size_t i = 0;
	while (size >= 1024 && i < ARRAY_SIZE(u) - 1)
		size /= 1024, i++;
	snprintf(out, len, "%.4g%s", size, u[i]);
}

static json_t *row_of(const struct entry *e, bool trunc, int64_t now)
{
	bool invalid = !e->have || (S.stream && now - e->last > STATS_STALE_NS);
	char a[64], b[64], buf[160];
	json_t *row = json_object();
	json_object_set_new(row, "Container", json_string(e->container));
	json_object_set_new(row, "Name", json_string(strlen(e->name) > 1 ? e->name + 1 : "--"));
	json_object_set_new(row, "ID", json_stringn(e->id, trunc && strlen(e->id) > 12 ? 12 : strlen(e->id)));
	if (invalid) {
		json_object_set_new(row, "CPUPerc", json_string("--"));
		json_object_set_new(row, "MemUsage", json_string("-- / --"));
		json_object_set_new(row, "MemPerc", json_string("--"));
		json_object_set_new(row, "NetIO", json_string("--"));
		json_object_set_new(row, "BlockIO", json_string("--"));
		json_object_set_new(row, "PIDs", json_string("--"));
		return cli_row_sorted(row);
	}
	snprintf(buf, sizeof(buf), "%.2f%%", e->cpu);
	json_object_set_new(row, "CPUPerc", json_string(buf));
	bytes_size(e->mem, a, sizeof(a));
	bytes_size(e->mem_limit, b, sizeof(b));
	snprintf(buf, sizeof(buf), "%s / %s", a, b);
	json_object_set_new(row, "MemUsage", json_string(buf));
	snprintf(buf, sizeof(buf), "%.2f%%", e->mem_perc);
	json_object_set_new(row, "MemPerc", json_string(buf));
	cli_human_size(e->net_rx, 3, a, sizeof(a));
	cli_human_size(e->net_tx, 3, b, sizeof(b));
	snprintf(buf, sizeof(buf), "%s / %s", a, b);
	json_object_set_new(row, "NetIO", json_string(buf));
	cli_human_size(e->blk_read, 3, a, sizeof(a));
	cli_human_size(e->blk_write, 3, b, sizeof(b));
	snprintf(buf, sizeof(buf), "%s / %s", a, b);
	json_object_set_new(row, "BlockIO", json_string(buf));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)e->pids);
	json_object_set_new(row, "PIDs", json_string(buf));
	return cli_row_sorted(row);
}

/* The table for the current entries, as text. */
static char *render(struct cli *cli, const char *fmt, bool trunc)
{
	int64_t now = now_ns();
	_cleanup_json_ json_t *rows = json_array();
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; i < S.n; i++)
		json_array_append_new(rows, row_of(S.v[i], trunc, now));
	pthread_mutex_unlock(&S.mu);

	static const char *const hdr[] = { "Container", "CONTAINER", "Name",	 "NAME",      "ID",	"CONTAINER ID",
					   "CPUPerc",   "CPU %",     "MemUsage", "MEM USAGE / LIMIT", "MemPerc", "MEM %",
					   "NetIO",     "NET I/O",   "BlockIO",  "BLOCK I/O", "PIDs",	"PIDS",
					   NULL };
	_cleanup_json_ json_t *headers = cli_header_map(hdr);
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem)
		return NULL;
	cli_print_rows_to(cli, mem, fmt,
			  "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
			  rows, headers);
	fclose(mem);
	return text;
}

static bool all_done(int64_t now)
{
	for (size_t i = 0; i < S.n; i++)
		if (!S.v[i]->done && now - S.v[i]->started < STATS_STALE_NS)
			return false;
	return true;
}

/* waitFirst: every entry has a sample, an error, or has waited 2 s */
static void wait_first(void)
{
	pthread_mutex_lock(&S.mu);
	for (;;) {
		int64_t now = now_ns();
		if (all_done(now))
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&S.cond, &S.mu, &ts);
	}
	pthread_mutex_unlock(&S.mu);
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cli_cmd_stats(struct cli *cli, struct cli_opts *o)
{
	S.cli = cli;
	S.stream = !opt_bool(o, "no-stream");
	S.all = opt_bool(o, "all");
	S.show_all = o->argc == 0;
	bool trunc = !opt_bool(o, "no-trunc");
	const char *fmt = opt_str(o, "format", NULL);
	signal(SIGPIPE, SIG_IGN);

	if (S.show_all) {
		/* subscribed before listing, so no start falls between the two */
		static struct events_ctx ev;
		pthread_t th;
		if (S.stream && pthread_create(&th, NULL, watch_events, &ev) == 0) {
			pthread_detach(th);
			pthread_mutex_lock(&S.mu);
			while (!ev.ready)
				pthread_cond_wait(&S.cond, &S.mu);
			pthread_mutex_unlock(&S.mu);
		}
		_cleanup_json_ json_t *list = NULL;
		if (cli_call(cli, "GET", S.all ? "/containers/json?all=1" : "/containers/json", NULL, &list) < 0)
			return cli_fail(cli, 1);
		size_t i;
		json_t *c;
		json_array_foreach(list, i, c) add(skiff_json_str(c, "Id", ""));
		wait_first();
	} else {
		for (int i = 0; i < o->argc; i++)
			add(o->argv[i]);
		wait_first();
		bool failed = false;
		pthread_mutex_lock(&S.mu);
		for (size_t i = 0; i < S.n; i++)
			if (S.v[i]->error && !S.v[i]->have) {
				cli_failf(cli, 1, "%s", S.v[i]->error);
				failed = true;
			}
		pthread_mutex_unlock(&S.mu);
		if (failed)
			return 1;
	}

	if (!S.stream) {
		_cleanup_free_ char *text = render(cli, fmt, trunc);
		fputs(text ? text : "", stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	for (;;) {
		sleep_ns(STATS_TICK_NS);
		_cleanup_free_ char *text = render(cli, fmt, trunc);
		/* docker 28: home the cursor, erase the rest of each line and,
		 * after the table, everything below it (fewer rows than before) */
		fputs("\033[H", stdout);
		for (char *l = text ? text : "", *nl; l; l = nl ? nl + 1 : NULL) {
			nl = strchr(l, '\n');
			printf("%.*s \033[K\n", nl ? (int)(nl - l) : (int)strlen(l), l);
		}
		fputs("\033[J", stdout);
		if (fflush(stdout) != 0)
			return 1;
	}
}

const struct cli_flag cli_stats_flags[] = {
	{ .name = "all", .shrt = 'a', .type = FLAG_BOOL, .help = "Show all containers (default shows just running)" },
	{ .name = "format", .type = FLAG_STRING,
	  .help = "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')" },
	{ .name = "no-stream", .type = FLAG_BOOL, .help = "Disable streaming stats and only pull the first result" },
	{ .name = "no-trunc", .type = FLAG_BOOL, .help = "Do not truncate output" },
	{ 0 },
};
