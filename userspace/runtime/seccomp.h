/* seccomp: Docker's default profile (a C table, seccomp-default.c) and
 * Docker's JSON profile format, compiled with libseccomp into a classic BPF
 * program once (in the monitor, which caches it per profile) and installed
 * in the container init with one seccomp(2) call right before execve. */
#ifndef SKIFF_SECCOMP_H
#define SKIFF_SECCOMP_H

#include <jansson.h>
#include <linux/filter.h>
#include <stdint.h>

#include "../lib/error.h"

/* One entry of a profile, shared by the default table and parsed JSON. */
struct skiff_seccomp_arg {
	unsigned index;
	uint64_t value, value2;
	int op; /* enum scmp_compare */
};

struct skiff_seccomp_rule {
	const char *const *names; /* NULL-terminated */
	uint32_t action;          /* SCMP_ACT_*; SCMP_ACT_ERRNO(n) already carries errno */
	unsigned nargs;
	struct skiff_seccomp_arg args[6];
	uint64_t caps_include;    /* rule applies only with all these caps (0 = always) */
	uint64_t caps_exclude;    /* rule applies only without any of these caps */
	const char *arches;       /* comma-separated Go arch names ("amd64,x32,x86"), NULL = any */
	const char *min_kernel;   /* "4.8", NULL = any */
};

extern const struct skiff_seccomp_rule skiff_seccomp_default_rules[];
extern const unsigned skiff_seccomp_default_nrules;

/* profile NULL: Docker's default; else a Docker-format JSON profile.
 * caps is the container's capability mask (gates includes/excludes.caps).
 * out->filter is malloc'd: free it with skiff_seccomp_free. Malformed
 * profiles are 400 errors naming the problem; unknown syscall names are
 * skipped like Docker does. */
int skiff_seccomp_compile(const json_t *profile, uint64_t caps, struct sock_fprog *out, struct skiff_error *err);
void skiff_seccomp_free(struct sock_fprog *prog);
/* In the child: seccomp(SECCOMP_SET_MODE_FILTER). Needs no_new_privs or
 * CAP_SYS_ADMIN. Returns 0 or -errno. */
int skiff_seccomp_apply(const struct sock_fprog *prog);

#endif
