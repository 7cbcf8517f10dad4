/* Container resource figures read from cgroups, in the units and shape of
 * Docker's stats API: one sample = CPU (cgroup + host), memory, pids, blkio,
 * read from v1 controller files where the layout binds them to v1 (hybrid,
 * v1) and from the v2 hierarchy on pure v2. Files stay open between samples
 * (a handle, or a bounded cache of them); no allocation per sample. */
#ifndef SKIFF_CGROUP_STATS_H
#define SKIFF_CGROUP_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/error.h"
#include "cgroup.h"

#define SKIFF_STATS_MAX_CPUS 256
#define SKIFF_STATS_MAX_MEM_KEYS 96
#define SKIFF_STATS_MAX_BLKIO 64

/* Docker's cpu_stats (what precpu_stats repeats from the previous sample). */
struct skiff_cgroup_cpu {
	bool valid;              /* false: Docker's zero shape */
	uint64_t total, kernel, user; /* ns */
	uint32_t npercpu;        /* v1 only (cpuacct.usage_percpu); 0 on v2 */
	uint64_t percpu[SKIFF_STATS_MAX_CPUS];
	uint64_t system;         /* host jiffies of /proc/stat's cpu line, in ns */
	uint32_t online_cpus;
	uint64_t periods, throttled_periods, throttled_time; /* time in ns */
};

struct skiff_blkio_entry {
	uint32_t major, minor;
	char op[12];             /* v1: "Read" "Write" "Sync" "Async" "Discard" "Total"; v2: "read" "write" */
	uint64_t value;
};

struct skiff_cgroup_stats {
	struct timespec read;
	struct skiff_cgroup_cpu cpu;
	bool mem_v1;             /* v1 adds max_usage and failcnt */
	uint64_t mem_usage, mem_max_usage, mem_limit, mem_failcnt;
	uint32_t nmem;
	struct {
		char key[48];
		uint64_t value;
	} mem[SKIFF_STATS_MAX_MEM_KEYS];
	uint64_t pids_current, pids_limit; /* limit 0: unlimited */
	bool blkio_v1;           /* v1 also has io_serviced_recursive */
	uint32_t nio_bytes, nio_ops;
	struct skiff_blkio_entry io_bytes[SKIFF_STATS_MAX_BLKIO], io_ops[SKIFF_STATS_MAX_BLKIO];
};

/* The container's stats files, kept open: a sample is then one pread per
 * file. -ENOENT (err 404) when the container has no cgroup. */
struct skiff_cgroup_statfd;
int skiff_cgroup_stats_open(const struct skiff_cgroup_layout *l, const char *id, struct skiff_cgroup_statfd **out,
			    struct skiff_error *err);
/* A sample through h; -ENODEV once the cgroup was removed (close and open
 * again: a restarted container has a new cgroup at the same path). */
int skiff_cgroup_stats_sample(struct skiff_cgroup_statfd *h, uint64_t mem_total, struct skiff_cgroup_stats *out,
			      struct skiff_error *err);
void skiff_cgroup_stats_close(struct skiff_cgroup_statfd *h);

/* Up to max open handles by container id, least recently used dropped
 * first; max 0 reads without keeping anything open. */
struct skiff_cgroup_stats_cache;
struct skiff_cgroup_stats_cache *skiff_cgroup_stats_cache_new(size_t max);
void skiff_cgroup_stats_cache_free(struct skiff_cgroup_stats_cache *c);
/* Like skiff_cgroup_stats_read, through (and filling) the cache. */
int skiff_cgroup_stats_cache_read(struct skiff_cgroup_stats_cache *c, const struct skiff_cgroup_layout *l,
				  const char *id, uint64_t mem_total, struct skiff_cgroup_stats *out,
				  struct skiff_error *err);
/* Closes handles unused for idle_seconds (they pin removed cgroups);
 * returns how many stay open. */
size_t skiff_cgroup_stats_cache_sweep(struct skiff_cgroup_stats_cache *c, double idle_seconds);
size_t skiff_cgroup_stats_cache_size(const struct skiff_cgroup_stats_cache *c);

/* One sample of container id (open, sample, close). mem_total (host RAM, bytes) replaces an
 * "unlimited" memory limit, as dockerd does; 0 keeps the raw value.
 * -ENOENT (404-ish err) when the container has no cgroup (not running). */
int skiff_cgroup_stats_read(const struct skiff_cgroup_layout *l, const char *id, uint64_t mem_total,
			    struct skiff_cgroup_stats *out, struct skiff_error *err);
/* Host side of a sample from a /proc/stat file: the cpu line's first seven
 * fields (user..softirq, as Docker sums them) in ns, and the cpuN lines. */
int skiff_cgroup_stats_host_cpu(const char *proc_stat, uint64_t *system_ns, uint32_t *online_cpus);

/* Docker's StatsResponse without name/id/networks. s NULL: the zeroed
 * object dockerd sends for a stopped container. pre/preread may be NULL
 * (one-shot, first streamed object): zero precpu_stats and preread. */
json_t *skiff_cgroup_stats_json(const struct skiff_cgroup_stats *s, const struct skiff_cgroup_cpu *pre,
				const struct timespec *preread);
/* cpu_stats / precpu_stats alone. */
json_t *skiff_cgroup_cpu_json(const struct skiff_cgroup_cpu *c);

#endif
