/* The Dockerfile builder (Docker's classic builder semantics): stages,
 * every instruction's effect on the image config and history, RUN in a
 * container on an overlay of the parent's layers, one image per step
 * committed into the store, a build cache and /build/prune. Runs on a
 * worker thread; progress goes out through the emit callback as Docker's
 * JSON messages ({"stream": ...}, {"aux": {"ID": ...}}). */
#ifndef SKIFF_BUILD_BUILDER_H
#define SKIFF_BUILD_BUILDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"
#include "../runtime/cgroup.h"

struct skiff_store;

#define SKIFF_BUILD_CONTEXT_LIMIT_DEFAULT (1024LL * 1024 * 1024) /* 1 GiB of uncompressed context */

struct skiff_build_opts {
	struct skiff_store *store;
	const char *data_root;               /* cache at <data_root>/build/ */
	const struct skiff_cgroup_layout *cg;
	int context_fd;                      /* the context tar (plain or gzip), read once */
	int64_t context_limit;               /* 0: SKIFF_BUILD_CONTEXT_LIMIT_DEFAULT */
	const char *dockerfile;              /* path in the context; NULL: "Dockerfile" */
	char **tags;                         /* NULL-terminated, may be NULL; applied only on success */
	const json_t *buildargs;             /* {"name": "value"|null} or NULL */
	const json_t *labels;                /* {"k": "v"} or NULL: set on the final image */
	const char *target;                  /* stage name or NULL */
	bool nocache;
	bool pull;                           /* no registry: a missing base is a clear 404 */
	char **cachefrom;                    /* images trusted as cache sources */
	const char *networkmode;             /* NULL/"default"/"bridge": the default network; "host"; "none" */
	struct skiff_cgroup_limits limits;   /* RUN steps' memory/cpu limits */
	int64_t shmsize;                     /* bytes, 0: 64 MiB */
	const char *platform;                /* only "linux/<host arch>" (or "linux") */
	char **extrahosts;                   /* "name:ip" lines added to RUN's /etc/hosts */
	/* The default (bridge) network for RUN: the daemon wires this to the
	 * network manager. While NULL, the default is the host's network. */
	int (*netns_get)(void *data, const char *step_id, char *path, size_t len, struct skiff_error *err);
	void (*netns_release)(void *data, const char *step_id);
	void *netns_data;
	/* Progress: called on the build thread with one message (stolen). */
	void (*emit)(void *data, json_t *msg);
	void *emit_data;
	/* Set (to non-zero) by another thread to stop the build: the running
	 * step's processes are killed and everything is cleaned up. */
	volatile int *cancel;
};

/* Runs a build and emits every message Docker's classic builder prints
 * ("Step 1/3 : ...", " ---> id", RUN output, {"aux":{"ID":...}},
 * "Successfully built/tagged"). On success id gets the final image id
 * ("sha256:...") and the tags are applied; on failure nothing is tagged and
 * err says why: 400 for a bad Dockerfile/context or a failing RUN (see
 * skiff_build_exit_code), 404 for a missing base image. */
int skiff_build(const struct skiff_build_opts *o, char id[72], struct skiff_error *err);

/* For a failing RUN, err->status is SKIFF_EINVAL and this returns the
 * command's exit code (Docker's errorDetail.code); 0 otherwise. */
int skiff_build_exit_code(const struct skiff_error *err);

/* POST /build/prune: drops cache entries and the build's intermediate
 * images that no tag, container or other image uses. all: also entries
 * whose image is tagged (the entries only). keep_storage: stop once the
 * remaining intermediates are below this many bytes (0: no limit).
 * *report is {"CachesDeleted": [...ids] | null, "SpaceReclaimed": n}. */
int skiff_build_prune(struct skiff_store *store, const char *data_root, bool all, const json_t *filters,
		      int64_t keep_storage, json_t **report, struct skiff_error *err);

/* ---- pieces exposed for unit tests ---- */

/* The cache key of a step: sha256 over parent id, the normalised
 * instruction text and extra (build args in effect, source checksum,
 * --chown/--chmod): "sha256:...". */
void skiff_build_cache_key(const char *parent_id, const char *instr, const char *extra, char out[72]);

struct skiff_df_instr;
/* Applies a metadata instruction (ENV, LABEL, USER, EXPOSE, VOLUME, CMD,
 * ENTRYPOINT, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER, WORKDIR's
 * config part; cmd_set: a CMD was seen in this stage, so ENTRYPOINT keeps
 * it) to image config ic (the whole image config: "config" object,
 * "author") with vars for expansion (json object name -> string); *comment
 * gets Docker's history text ("/bin/sh -c #(nop)  ENV A=b", malloc'd). */
int skiff_build_apply_meta(json_t *ic, const struct skiff_df_instr *in, char escape, const json_t *vars,
			   bool *cmd_set, char **comment, struct skiff_error *err);
/* Docker's "#(nop)" history text: shell of ic's config joined, then
 * "#(nop) " and text (two_arg: the two-argument form with two spaces that
 * most instructions use; WORKDIR/COPY/ADD use one). malloc'd. */
char *skiff_build_nop_comment(const json_t *ic, const char *text, bool two_arg);

#endif
