/* Linux capabilities: names <-> numbers, Docker's default set and its
 * CapAdd/CapDrop arithmetic (computed in the daemon or monitor), and
 * applying a set in a container's init before exec. Sets are bitmasks
 * (bit N = capability N). */
#ifndef SKIFF_CAPS_H
#define SKIFF_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/error.h"

/* Docker's 14 default capabilities: 0x00000000a80425fb */
uint64_t skiff_caps_default(void);
/* Every capability this build knows (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE). */
uint64_t skiff_caps_all(void);
/* "CAP_CHOWN", "chown", "Chown" -> 0; -EINVAL if unknown. "ALL" is not a cap. */
int skiff_cap_from_name(const char *name);
/* 0 -> "CAP_CHOWN"; NULL if unknown */
const char *skiff_cap_name(int cap);

/* Docker's TweakCapabilities: add ALL = everything but drops; drop ALL =
 * exactly the adds; otherwise default - drop + add. Privileged = all.
 * Unknown names are a 400: "unknown capability: \"CAP_FOO\"". */
int skiff_caps_compute(const char *const *add, const char *const *drop, bool privileged, uint64_t *out,
		       struct skiff_error *err);
/* Names (with or without CAP_, any case) -> mask; 400 on unknown names. */
int skiff_caps_from_names(const char *const *names, uint64_t *out, struct skiff_error *err);

/* Child side, in order: drop the bounding set to `keep` (needs CAP_SETPCAP),
 * then after the uid switch set effective = permitted = `eff` with
 * inheritable and ambient empty (Docker since CVE-2022-24769). */
int skiff_caps_bound(uint64_t keep);
int skiff_caps_set(uint64_t eff);
/* The caller's permitted set: what a child can be given at most. A
 * privileged container gets all of it (a sandboxed host may lack some caps;
 * asking for them would make capset fail with EPERM). */
uint64_t skiff_caps_permitted(void);
/* effective = permitted (after a setuid with PR_SET_KEEPCAPS cleared it) */
int skiff_caps_raise(void);

#endif
