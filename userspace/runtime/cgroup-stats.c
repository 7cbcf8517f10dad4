/* Reads a container's resource figures from its cgroups (v1 controller
 * files or the v2 hierarchy, per controller, whichever the layout binds)
 * and renders them as Docker's stats JSON. Polled once a second per
 * container by `docker stats`, so a sample is a handful of small reads into
 * a stack buffer: no allocation, no directory walk. */
#include "cgroup-stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/json.h"

#define UNLIMITED UINT64_MAX

/* Reads a small file into buf (NUL-terminated); length or -errno. */
static int read_path(const char *path, char *buf, size_t size)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)total < size - 1) {
		n = read(fd, buf + total, size - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return (int)total;
}

static int read_small(const char *dir, const char *file, char *buf, size_t size)
{
	char path[512];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	return read_path(path, buf, size);
}

/* "123\n" or "max\n" (v2) -> value; the file missing leaves *v alone. */
static int read_u64(const char *dir, const char *file, uint64_t *v)
{
	char buf[64];
	int r = read_small(dir, file, buf, sizeof(buf));
	if (r < 0)
		return r;
	if (!strncmp(buf, "max", 3)) {
		*v = UNLIMITED;
		return 0;
	}
	*v = strtoull(buf, NULL, 10);
	return 0;
}

/* Calls fn for each "key value" line of a flat-keyed file. */
static void each_kv(char *text, void (*fn)(const char *key, uint64_t v, void *ud), void *ud)
{
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		fn(line, strtoull(sp + 1, NULL, 10), ud);
	}
}

/* ---- host ------------------------------------------------------------------ */

int skiff_cgroup_stats_host_cpu(const char *proc_stat, uint64_t *system_ns, uint32_t *online_cpus)
{
	char buf[16384];
	uint64_t jiffies = 0;
	uint32_t online = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int r;

	r = read_path(proc_stat, buf, sizeof(buf));
	if (r < 0)
		return r;
	if (hz <= 0)
		hz = 100;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, "cpu ", 4)) {
			/* user nice system idle iowait irq softirq: what dockerd sums */
			char *p = line + 4;
			for (int i = 0; i < 7; i++) {
				char *end;
				unsigned long long x = strtoull(p, &end, 10);
				if (end == p)
					break;
				jiffies += x;
				p = end;
			}
		} else if (!strncmp(line, "cpu", 3) && line[3] >= '0' && line[3] <= '9') {
			online++;
		} else if (strncmp(line, "cpu", 3) != 0) {
			break; /* cpu lines come first; the rest (intr...) is long */
		}
		line = nl ? nl + 1 : NULL;
	}
	*system_ns = jiffies * (1000000000ULL / (uint64_t)hz);
	*online_cpus = online;
	return 0;
}

/* ---- where each controller lives -------------------------------------------- */

/* The container's dir for a v1 controller if the layout binds it to v1,
 * else its v2 dir on a layout whose v2 hierarchy has the controllers.
 * Returns 1 for v1, 2 for v2, 0 when neither has it. */
static int source(const struct skiff_cgroup_layout *l, const char *v1ctrl, const char *id, char *out, size_t len)
{
	if (skiff_cgroup_path(l, v1ctrl, id, out, len) == 0)
		return 1;
	if (l->v2_has_controllers && skiff_cgroup_path(l, NULL, id, out, len) == 0)
		return 2;
	return 0;
}

/* ---- cpu --------------------------------------------------------------------- */

struct cpu_kv {
	struct skiff_cgroup_cpu *c;
	uint64_t tick_ns;
};

static void v1_cpuacct_stat(const char *k, uint64_t v, void *ud)
{
	struct cpu_kv *x = ud;
	if (!strcmp(k, "user"))
		x->c->user = v * x->tick_ns;
	else if (!strcmp(k, "system"))
		x->c->kernel = v * x->tick_ns;
}

static void v1_cpu_stat(const char *k, uint64_t v, void *ud)
{
	struct skiff_cgroup_cpu *c = ud;
	if (!strcmp(k, "nr_periods"))
		c->periods = v;
	else if (!strcmp(k, "nr_throttled"))
		c->throttled_periods = v;
	else if (!strcmp(k, "throttled_time"))
		c->throttled_time = v;
}

static void v2_cpu_stat(const char *k, uint64_t v, void *ud)
{
	struct skiff_cgroup_cpu *c = ud;
	static const struct {
		const char *key;
		size_t off;
		uint64_t mul;
	} map[] = {
		{ "usage_usec", offsetof(struct skiff_cgroup_cpu, total), 1000 },
		{ "user_usec", offsetof(struct skiff_cgroup_cpu, user), 1000 },
		{ "system_usec", offsetof(struct skiff_cgroup_cpu, kernel), 1000 },
		{ "nr_periods", offsetof(struct skiff_cgroup_cpu, periods), 1 },
		{ "nr_throttled", offsetof(struct skiff_cgroup_cpu, throttled_periods), 1 },
		{ "throttled_usec", offsetof(struct skiff_cgroup_cpu, throttled_time), 1000 },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(k, map[i].key)) {
			*(uint64_t *)((char *)c + map[i].off) = v * map[i].mul;
			return;
		}
}

static int read_cpu(const struct skiff_cgroup_layout *l, const char *id, struct skiff_cgroup_cpu *c, char *buf,
		    size_t size)
{
	char dir[512];
	int src = source(l, "cpuacct", id, dir, sizeof(dir));

	if (src == 1) {
		long hz = sysconf(_SC_CLK_TCK);
		struct cpu_kv kv = { c, 1000000000ULL / (uint64_t)(hz > 0 ? hz : 100) };
		if (read_u64(dir, "cpuacct.usage", &c->total) < 0)
			return -ENOENT; /* no cgroup: not running */
		if (read_small(dir, "cpuacct.usage_percpu", buf, size) >= 0) {
			char *p = buf, *end;
			while (c->npercpu < SKIFF_STATS_MAX_CPUS) {
				unsigned long long x = strtoull(p, &end, 10);
				if (end == p)
					break;
				c->percpu[c->npercpu++] = x;
				p = end;
			}
		}
		if (read_small(dir, "cpuacct.stat", buf, size) >= 0)
			each_kv(buf, v1_cpuacct_stat, &kv);
		/* throttling lives with the cpu controller (maybe its own hierarchy) */
		if (source(l, "cpu", id, dir, sizeof(dir)) == 1 && read_small(dir, "cpu.stat", buf, size) >= 0)
			each_kv(buf, v1_cpu_stat, c);
		return 0;
	}
	/* v2 (cpu.stat exists in every v2 cgroup, with or without the cpu controller) */
	if (skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) < 0 || read_small(dir, "cpu.stat", buf, size) < 0)
		return -ENOENT;
	each_kv(buf, v2_cpu_stat, c);
	return 0;
}

/* ---- memory ------------------------------------------------------------------ */

static void mem_kv(const char *k, uint64_t v, void *ud)
{
	struct skiff_cgroup_stats *s = ud;
	if (s->nmem >= SKIFF_STATS_MAX_MEM_KEYS)
		return;
	snprintf(s->mem[s->nmem].key, sizeof(s->mem[0].key), "%s", k);
	s->mem[s->nmem++].value = v;
}

static void read_memory(const struct skiff_cgroup_layout *l, const char *id, uint64_t mem_total,
			struct skiff_cgroup_stats *s, char *buf, size_t size)
{
	char dir[512];
	int src = source(l, "memory", id, dir, sizeof(dir));

	if (src == 1) {
		s->mem_v1 = true;
		read_u64(dir, "memory.usage_in_bytes", &s->mem_usage);
		read_u64(dir, "memory.max_usage_in_bytes", &s->mem_max_usage);
		read_u64(dir, "memory.limit_in_bytes", &s->mem_limit);
		read_u64(dir, "memory.failcnt", &s->mem_failcnt);
	} else if (src == 2) {
		read_u64(dir, "memory.current", &s->mem_usage);
		read_u64(dir, "memory.max", &s->mem_limit);
	} else {
		return;
	}
	if (read_small(dir, "memory.stat", buf, size) >= 0)
		each_kv(buf, mem_kv, s);
	/* v1's "unlimited" is PAGE_COUNTER_MAX pages; dockerd shows host RAM */
	if (mem_total && s->mem_limit > mem_total)
		s->mem_limit = mem_total;
}

/* ---- pids, blkio ------------------------------------------------------------- */

static void read_pids(const struct skiff_cgroup_layout *l, const char *id, struct skiff_cgroup_stats *s)
{
	char dir[512];
	if (!source(l, "pids", id, dir, sizeof(dir)))
		return;
	read_u64(dir, "pids.current", &s->pids_current);
	read_u64(dir, "pids.max", &s->pids_limit);
	if (s->pids_limit == UNLIMITED)
		s->pids_limit = 0;
}

static void add_io(struct skiff_blkio_entry *e, uint32_t *n, uint32_t major, uint32_t minor, const char *op,
		   uint64_t v)
{
	if (*n >= SKIFF_STATS_MAX_BLKIO)
		return;
	e[*n].major = major;
	e[*n].minor = minor;
	snprintf(e[*n].op, sizeof(e[0].op), "%s", op);
	e[*n].value = v;
	(*n)++;
}

/* v1: "8:0 Read 4096" lines (and a "Total N" line without a device, skipped
 * like containerd does). */
static void v1_blkio(char *text, struct skiff_blkio_entry *e, uint32_t *n)
{
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned major, minor;
		char op[16];
		unsigned long long v;
		if (sscanf(line, "%u:%u %15s %llu", &major, &minor, op, &v) == 4)
			add_io(e, n, major, minor, op, v);
	}
}

/* v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" */
static void v2_iostat(char *text, struct skiff_cgroup_stats *s)
{
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned major, minor;
		uint64_t rb = 0, wb = 0;
		char *p;
		if (sscanf(line, "%u:%u", &major, &minor) != 2)
			continue;
		if ((p = strstr(line, "rbytes=")))
			rb = strtoull(p + 7, NULL, 10);
		if ((p = strstr(line, "wbytes=")))
			wb = strtoull(p + 7, NULL, 10);
		add_io(s->io_bytes, &s->nio_bytes, major, minor, "read", rb);
		add_io(s->io_bytes, &s->nio_bytes, major, minor, "write", wb);
	}
}

static void read_blkio(const struct skiff_cgroup_layout *l, const char *id, struct skiff_cgroup_stats *s, char *buf,
		       size_t size)
{
	char dir[512];
	int src = source(l, "blkio", id, dir, sizeof(dir));

	if (src == 1) {
		s->blkio_v1 = true;
		if (read_small(dir, "blkio.throttle.io_service_bytes_recursive", buf, size) >= 0)
			v1_blkio(buf, s->io_bytes, &s->nio_bytes);
		if (read_small(dir, "blkio.throttle.io_serviced_recursive", buf, size) >= 0)
			v1_blkio(buf, s->io_ops, &s->nio_ops);
	} else if (src == 2 && read_small(dir, "io.stat", buf, size) >= 0) {
		v2_iostat(buf, s);
	}
}

int skiff_cgroup_stats_read(const struct skiff_cgroup_layout *l, const char *id, uint64_t mem_total,
			    struct skiff_cgroup_stats *out, struct skiff_error *err)
{
	char buf[16384];
	int r;

	memset(out, 0, offsetof(struct skiff_cgroup_stats, mem));
	out->nio_bytes = out->nio_ops = 0;
	out->pids_current = out->pids_limit = 0;
	out->blkio_v1 = false;
	r = read_cpu(l, id, &out->cpu, buf, sizeof(buf));
	if (r < 0)
		return skiff_error_set(err, SKIFF_ENOTFOUND, -r, "no cgroup for container %.12s", id);
	/* host figures right after the cgroup's: the CLI divides one delta by the other */
	if (skiff_cgroup_stats_host_cpu("/proc/stat", &out->cpu.system, &out->cpu.online_cpus) < 0)
		out->cpu.system = 0;
	clock_gettime(CLOCK_REALTIME, &out->read);
	out->cpu.valid = true;
	read_memory(l, id, mem_total, out, buf, sizeof(buf));
	read_pids(l, id, out);
	read_blkio(l, id, out, buf, sizeof(buf));
	return 0;
}

/* ---- JSON ---------------------------------------------------------------------- */

static json_t *u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Go's omitempty: zero values are left out */
static void set_nz(json_t *o, const char *k, uint64_t v)
{
	if (v)
		json_object_set_new(o, k, u64(v));
}

json_t *skiff_cgroup_cpu_json(const struct skiff_cgroup_cpu *c)
{
	static const struct skiff_cgroup_cpu zero;
	json_t *usage, *thr, *o;

	if (!c || !c->valid)
		c = &zero;
	usage = json_pack("{s:o}", "total_usage", u64(c->total));
	if (c->npercpu) {
		json_t *a = json_array();
		for (uint32_t i = 0; i < c->npercpu; i++)
			json_array_append_new(a, u64(c->percpu[i]));
		json_object_set_new(usage, "percpu_usage", a);
	}
	json_object_set_new(usage, "usage_in_kernelmode", u64(c->kernel));
	json_object_set_new(usage, "usage_in_usermode", u64(c->user));
	o = json_pack("{s:o}", "cpu_usage", usage);
	set_nz(o, "system_cpu_usage", c->system);
	set_nz(o, "online_cpus", c->online_cpus);
	thr = json_pack("{s:o,s:o,s:o}", "periods", u64(c->periods), "throttled_periods", u64(c->throttled_periods),
			"throttled_time", u64(c->throttled_time));
	json_object_set_new(o, "throttling_data", thr);
	return o;
}

/* Go marshals a nil slice as null: dockerd's zero sample and v2's unset
 * fields are null, v1's copied (maybe empty) lists are arrays. */
static json_t *blkio_json(const struct skiff_blkio_entry *e, uint32_t n, bool present)
{
	if (!present)
		return json_null();
	json_t *a = json_array();
	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I,s:I,s:s,s:o}", "major", (json_int_t)e[i].major, "minor",
						   (json_int_t)e[i].minor, "op", e[i].op, "value", u64(e[i].value)));
	return a;
}

json_t *skiff_cgroup_stats_json(const struct skiff_cgroup_stats *s, const struct skiff_cgroup_cpu *pre,
				const struct timespec *preread)
{
	static const struct timespec zero_ts;
	static const char *const blk_rest[] = {
		"io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
		"io_merged_recursive", "io_time_recursive",	 "sectors_recursive",
	};
	char t[40];
	json_t *o = json_object(), *pids = json_object(), *blk = json_object(), *mem = json_object();

	skiff_time_format(s ? &s->read : &zero_ts, t);
	json_object_set_new(o, "read", json_string(t));
	skiff_time_format(preread ? preread : &zero_ts, t);
	json_object_set_new(o, "preread", json_string(t));
	if (s) {
		set_nz(pids, "current", s->pids_current);
		set_nz(pids, "limit", s->pids_limit);
	}
	json_object_set_new(o, "pids_stats", pids);
	bool v1 = s && s->blkio_v1;
	json_object_set_new(blk, "io_service_bytes_recursive",
			    blkio_json(s ? s->io_bytes : NULL, s ? s->nio_bytes : 0, v1 || (s && s->nio_bytes)));
	json_object_set_new(blk, "io_serviced_recursive", blkio_json(s ? s->io_ops : NULL, s ? s->nio_ops : 0, v1));
	for (size_t i = 0; i < sizeof(blk_rest) / sizeof(blk_rest[0]); i++)
		json_object_set_new(blk, blk_rest[i], v1 ? json_array() : json_null());
	json_object_set_new(o, "blkio_stats", blk);
	json_object_set_new(o, "num_procs", json_integer(0));
	json_object_set_new(o, "storage_stats", json_object());
	json_object_set_new(o, "cpu_stats", skiff_cgroup_cpu_json(s ? &s->cpu : NULL));
	json_object_set_new(o, "precpu_stats", skiff_cgroup_cpu_json(pre));
	if (s) {
		set_nz(mem, "usage", s->mem_usage);
		if (s->mem_v1)
			set_nz(mem, "max_usage", s->mem_max_usage);
		if (s->nmem) {
			json_t *st = json_object();
			for (uint32_t i = 0; i < s->nmem; i++)
				json_object_set_new(st, s->mem[i].key, u64(s->mem[i].value));
			json_object_set_new(mem, "stats", st);
		}
		if (s->mem_v1)
			set_nz(mem, "failcnt", s->mem_failcnt);
		set_nz(mem, "limit", s->mem_limit);
	}
	json_object_set_new(o, "memory_stats", mem);
	return o;
}
