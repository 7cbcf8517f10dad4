/* cgroups on whatever layout the host has: pure v2 (controllers on
 * /sys/fs/cgroup), hybrid (v1 controllers plus a cgroup2 mount, often
 * /sys/fs/cgroup/unified with only hugetlb), or pure v1. Detected once at
 * start by reading /proc/self/mountinfo; never assumed. Every container gets
 * its own cgroup "<parent>/<id>" in every hierarchy (the v2 one too, where
 * eBPF cgroup programs attach). */
#ifndef SKIFF_CGROUP_H
#define SKIFF_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"

enum skiff_cgroup_mode { SKIFF_CGROUP_V2 = 2, SKIFF_CGROUP_HYBRID = 3, SKIFF_CGROUP_V1 = 1 };

#define SKIFF_CGROUP_MAX_V1 16

struct skiff_cgroup_layout {
	int mode;                 /* enum skiff_cgroup_mode */
	char v2_root[256];        /* mount point of the cgroup2 hierarchy, "" if none */
	bool v2_has_controllers;  /* cgroup.controllers lists cpu/memory/pids (pure v2) */
	int nv1;
	struct {
		char controllers[64]; /* "cpu,cpuacct", "memory", "pids", ... */
		char root[256];       /* its mount point */
	} v1[SKIFF_CGROUP_MAX_V1];
	char parent[64];          /* "skiff": containers live in <root>/<parent>/<id> */
};

/* Parses mountinfo text (so tests can feed made-up layouts). */
int skiff_cgroup_detect_from(const char *mountinfo, struct skiff_cgroup_layout *out, struct skiff_error *err);
int skiff_cgroup_detect(struct skiff_cgroup_layout *out, struct skiff_error *err);
/* "v2", "hybrid" or "v1"; Docker's CgroupVersion is "2" for v2, else "1". */
const char *skiff_cgroup_mode_name(int mode);

/* Path of a container's cgroup for a v1 controller ("memory") or, with
 * controller NULL, in the v2 hierarchy. Returns -ENOENT when the layout has
 * no such hierarchy. */
int skiff_cgroup_path(const struct skiff_cgroup_layout *l, const char *controller, const char *id, char *out,
		      size_t outlen);

/* Resource limits, from HostConfig (Memory, MemorySwap, NanoCpus, CpuShares,
 * CpuQuota, CpuPeriod, CpusetCpus, PidsLimit). 0 / "" means unset. */
struct skiff_cgroup_limits {
	int64_t memory, memory_swap, nano_cpus, cpu_shares, cpu_quota, cpu_period, pids_limit;
	char cpuset_cpus[128];
};
int skiff_cgroup_limits_from_json(const json_t *host_config, struct skiff_cgroup_limits *out,
				  struct skiff_error *err);

/* Creates the container's cgroups in every hierarchy and writes the limits
 * (v1 files: memory.limit_in_bytes, memory.memsw.limit_in_bytes, cpu.shares,
 * cpu.cfs_quota_us, cpuset.cpus, pids.max ...; v2: memory.max, memory.swap.max,
 * cpu.weight, cpu.max, cpuset.cpus, pids.max). */
int skiff_cgroup_create(const struct skiff_cgroup_layout *l, const char *id, const struct skiff_cgroup_limits *lim,
			struct skiff_error *err);
/* Opens the v2 cgroup dir (for clone3 CLONE_INTO_CGROUP), -ENOENT if no v2. */
int skiff_cgroup_open_v2(const struct skiff_cgroup_layout *l, const char *id);
/* Moves pid into the container's cgroup in every hierarchy it is not yet in. */
int skiff_cgroup_enter(const struct skiff_cgroup_layout *l, const char *id, int pid, bool skip_v2,
		       struct skiff_error *err);
/* Kills what is left (cgroup.kill / SIGKILL each pid) and removes the dirs. */
int skiff_cgroup_destroy(const struct skiff_cgroup_layout *l, const char *id);
/* Removes the empty "<root>/<parent>" dir in every hierarchy (the monitor
 * does this when it exits with no container left); busy ones stay. */
void skiff_cgroup_remove_parent(const struct skiff_cgroup_layout *l);
/* Freezer: v1 freezer.state FROZEN/THAWED or v2 cgroup.freeze. */
int skiff_cgroup_freeze(const struct skiff_cgroup_layout *l, const char *id, bool frozen, struct skiff_error *err);
/* PIDs in the container's cgroup (from any hierarchy), malloc'd array. */
int skiff_cgroup_pids(const struct skiff_cgroup_layout *l, const char *id, int **pids, size_t *n);
/* Was the container OOM-killed (memory.oom_control oom_kill / memory.events oom_kill)? */
bool skiff_cgroup_oom_killed(const struct skiff_cgroup_layout *l, const char *id);

#endif
