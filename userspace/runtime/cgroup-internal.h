/* Shared between cgroup.c, cgroup-v1.c and cgroup-v2.c (and the unit
 * tests): the limit "plan" — which knob gets which value — is computed by a
 * pure function so the Docker conversions can be tested without a cgroupfs. */
#ifndef SKIFF_CGROUP_INTERNAL_H
#define SKIFF_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

struct skiff_cgroup_write {
	const char *controller; /* v1 controller owning the file; NULL = the v2 hierarchy */
	char file[48];
	char value[160];
	bool optional;          /* absent file (no swap accounting) is skipped, not an error */
};

#define SKIFF_CGROUP_MAX_WRITES 16

/* Fills w[] with the knob writes for lim on layout l; returns the count. */
size_t skiff_cgroup_plan(const struct skiff_cgroup_layout *l, const struct skiff_cgroup_limits *lim,
			 struct skiff_cgroup_write *w);
/* Docker's CpuShares -> cgroup v2 cpu.weight. */
unsigned long skiff_cgroup_shares_to_weight(unsigned long shares);
/* Is tok one of the comma-separated names in list? */
bool skiff_cgroup_has_token(const char *list, const char *tok);

/* per-version backends */
int skiff_cgroup_v1_create(const struct skiff_cgroup_layout *l, const char *id, struct skiff_error *err);
int skiff_cgroup_v2_create(const struct skiff_cgroup_layout *l, const char *id, struct skiff_error *err);
int skiff_cgroup_v1_freeze(const struct skiff_cgroup_layout *l, const char *id, bool frozen, struct skiff_error *err);
int skiff_cgroup_v2_freeze(const struct skiff_cgroup_layout *l, const char *id, bool frozen, struct skiff_error *err);
/* Kill every task left in dir (cgroup.kill where it exists) and rmdir it. */
int skiff_cgroup_kill_and_remove(const char *dir, bool v2);

#endif
