/* The container record shared by the manager, the filters and the API, and
 * the pure parts of container handling: validating Docker's create JSON,
 * merging it with the image config, deriving the runtime spec (spawn.h),
 * Docker's human status strings, restart-policy decisions and the
 * per-container /etc files. Nothing here touches the event loop. */
#ifndef SKIFF_CONTAINER_CONFIG_H
#define SKIFF_CONTAINER_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../lib/error.h"

enum skiff_ctr_status {
	SKIFF_CTR_CREATED,
	SKIFF_CTR_RUNNING,
	SKIFF_CTR_PAUSED,
	SKIFF_CTR_RESTARTING,
	SKIFF_CTR_REMOVING,
	SKIFF_CTR_EXITED,
	SKIFF_CTR_DEAD,
};

struct skiff_ctr_rt; /* event-loop side state, private to container.c */

struct skiff_ctr {
	char id[65];
	char *name;           /* "/x" */
	char *image;          /* as the user gave it */
	char image_id[72];    /* "sha256:..." */
	json_t *config;       /* merged Config */
	json_t *host_config;  /* HostConfig with Docker's defaults */
	json_t *net_config;   /* NetworkingConfig as given (may be NULL) */
	json_t *mounts;       /* inspect Mounts array */
	char *path;           /* Path */
	json_t *args;         /* Args */
	char *command;        /* "Path args..." as docker ps prints it */
	char *dir;            /* <data-root>/containers/<id> */
	struct timespec created;
	/* state */
	int status;           /* enum skiff_ctr_status */
	int pid, exit_code, restart_count;
	bool oom_killed, has_been_started, manual_stop;
	struct timespec started_at, finished_at;
	char *error;
	struct skiff_ctr_rt *rt;
};

const char *skiff_ctr_status_name(int status);
int skiff_ctr_status_parse(const char *name); /* -EINVAL if unknown */
bool skiff_ctr_is_running(const struct skiff_ctr *c); /* running, paused or restarting */

/* Docker's units.HumanDuration: "Less than a second", "3 seconds", "About a minute" ... */
void skiff_human_duration(double seconds, char *out, size_t outlen);
/* docker ps Status: "Up 3 seconds", "Exited (0) 2 hours ago", "Created", "Up 2 minutes (Paused)" */
void skiff_ctr_status_string(const struct skiff_ctr *c, const struct timespec *now, char *out, size_t outlen);

/* Validates a create body: field types as Go's decoder checks them and
 * values as dockerd does (memory, cpus, restart policy, caps, security
 * options, binds). seccomp=PATH in SecurityOpt is replaced by the file's
 * content (the CLI sends content). ncpu bounds NanoCpus. warnings (may be
 * NULL) gets Docker-style warnings appended. */
int skiff_ctr_config_validate(json_t *body, int ncpu, json_t *warnings, struct skiff_error *err);
/* New HostConfig with Docker's defaults for missing fields. */
json_t *skiff_ctr_hostconfig_normalize(const json_t *hc);
/* New Config: the request's Config merged with the image's (Docker rules:
 * Entrypoint given -> image Cmd dropped unless Cmd given; Env merged with
 * the request winning; User, WorkingDir, StopSignal, Labels, ExposedPorts,
 * Volumes, Healthcheck filled from the image). */
json_t *skiff_ctr_config_merge(const json_t *req_config, const json_t *image_config);
/* Path and Args from Entrypoint + Cmd; 400 "no command specified". */
int skiff_ctr_path_args(const json_t *config, char **path, json_t **args, struct skiff_error *err);
/* "Path args..." joined for docker ps. */
char *skiff_ctr_command_string(const char *path, const json_t *args);
/* Binds, Mounts and Tmpfs -> the container's mount list [{Type, Source,
 * Destination, Mode, RW, Propagation}] (+ Name, Driver for volumes, whose
 * Name is "" for an anonymous one and whose Source the manager fills when
 * it resolves them). Private keys: Options (tmpfs data), NoCopy,
 * DriverOpts, VolumeLabels, Hidden (--tmpfs: not shown in .Mounts). With
 * create_missing, missing bind sources of Binds are made as dirs. 400 on
 * a bad spec, a bad volume name or a destination used twice. */
int skiff_ctr_mounts(const json_t *hc, bool create_missing, json_t **out, struct skiff_error *err);
/* Appends an anonymous volume for each Config.Volumes path no mount covers. */
int skiff_ctr_config_volumes(const json_t *config, json_t *mounts, struct skiff_error *err);
/* "ctr[:ro|rw]" -> *name (malloc'd), *rw: -1 keep the source's, 0, 1. */
int skiff_ctr_volumes_from_parse(const char *spec, char **name, int *rw, struct skiff_error *err);
/* The mount list as inspect and ps show it (private keys and --tmpfs dropped). */
json_t *skiff_ctr_mounts_public(const json_t *mounts);
/* The effective capability list (default 14 + CapAdd - CapDrop, all if privileged). */
json_t *skiff_ctr_caps(const json_t *hc);
/* Network mode classes; for "container:X" *target gets X. */
enum skiff_netmode { SKIFF_NET_NONE, SKIFF_NET_BRIDGE, SKIFF_NET_HOST, SKIFF_NET_CONTAINER, SKIFF_NET_OTHER };
int skiff_ctr_netmode(const json_t *hc, const char **target);
/* Hostname used inside: Config.Hostname or the first 12 chars of the id. */
const char *skiff_ctr_hostname(const struct skiff_ctr *c, char buf[13]);

/* Everything spawn needs (spawn.h) for container c. netns: "new", "host"
 * or "/proc/PID/ns/net"; lower: image layer dirs, top first. */
json_t *skiff_ctr_build_spec(const struct skiff_ctr *c, char *const *lower, const char *netns,
			     struct skiff_error *err);

/* Persisted shapes: config.v2.json and state.json. */
json_t *skiff_ctr_config_json(const struct skiff_ctr *c);
json_t *skiff_ctr_state_json(const struct skiff_ctr *c);
/* Fills c from config.v2.json (+ state.json if given); c->dir must be set by the caller. */
int skiff_ctr_from_json(struct skiff_ctr *c, const json_t *cfg, const json_t *state, struct skiff_error *err);
void skiff_ctr_free_fields(struct skiff_ctr *c);

/* restart.c: should an exited container be restarted (Docker's policy
 * rules), and the back-off before doing so. */
struct skiff_restart_state {
	int64_t delay_ms; /* 0 before the first restart */
};
bool skiff_restart_should(const json_t *host_config, int exit_code, int restart_count, bool manual_stop,
			  bool daemon_start);
/* Next delay: 100 ms doubling; reset when the container ran >= 10 s. */
int64_t skiff_restart_next_delay(struct skiff_restart_state *st, double ran_seconds);
/* Validates HostConfig.RestartPolicy (+ AutoRemove conflict) -> 400 messages. */
int skiff_restart_policy_validate(const json_t *host_config, struct skiff_error *err);

/* etcfiles.c: writes <dir>/hostname, hosts and resolv.conf for c. */
int skiff_ctr_write_etc_files(const struct skiff_ctr *c, struct skiff_error *err);
/* The same with the network's view: ip (may be NULL/"") gets an /etc/hosts
 * line for the hostname; nameserver (user networks: skiffd's resolver on
 * the gateway) replaces the host's nameservers unless --dns was given. */
int skiff_ctr_write_etc_files_net(const struct skiff_ctr *c, const char *ip, const char *nameserver,
				  struct skiff_error *err);
/* host_resolv: content of the host's resolv.conf; returns malloc'd content
 * for the container (127.x nameservers dropped, Docker's fallbacks). */
char *skiff_resolv_conf_filter(const char *host_resolv);

#endif
