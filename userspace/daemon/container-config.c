/* Create-request validation, image/request merge and runtime-spec
 * derivation for containers, plus Docker's status strings. Pure functions
 * over jansson values so the unit tests can drive them without a daemon. */
#include "container-config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "health.h"
#include "names.h"
#include "volume.h"

/* ---- statuses ---------------------------------------------------------- */

static const char *const status_names[] = {
	[SKIFF_CTR_CREATED] = "created",   [SKIFF_CTR_RUNNING] = "running",
	[SKIFF_CTR_PAUSED] = "paused",     [SKIFF_CTR_RESTARTING] = "restarting",
	[SKIFF_CTR_REMOVING] = "removing", [SKIFF_CTR_EXITED] = "exited",
	[SKIFF_CTR_DEAD] = "dead",
};

const char *skiff_ctr_status_name(int status)
{
	if (status < 0 || (size_t)status >= ARRAY_SIZE(status_names))
		return "dead";
	return status_names[status];
}

int skiff_ctr_status_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
		if (!strcmp(status_names[i], name))
			return (int)i;
	return -EINVAL;
}

bool skiff_ctr_is_running(const struct skiff_ctr *c)
{
	return c->status == SKIFF_CTR_RUNNING || c->status == SKIFF_CTR_PAUSED;
}

void skiff_human_duration(double seconds, char *out, size_t outlen)
{
	long s = (long)seconds, minutes = s / 60;
	long hours = (long)(seconds / 3600.0 + 0.5);

	if (seconds < 1)
		snprintf(out, outlen, "Less than a second");
	else if (s == 1)
		snprintf(out, outlen, "1 second");
	else if (s < 60)
		snprintf(out, outlen, "%ld seconds", s);
	else if (minutes == 1)
		snprintf(out, outlen, "About a minute");
	else if (minutes < 60)
		snprintf(out, outlen, "%ld minutes", minutes);
	else if (hours == 1)
		snprintf(out, outlen, "About an hour");
	else if (hours < 48)
		snprintf(out, outlen, "%ld hours", hours);
	else if (hours < 24 * 7 * 2)
		snprintf(out, outlen, "%ld days", hours / 24);
	else if (hours < 24 * 30 * 2)
		snprintf(out, outlen, "%ld weeks", hours / 24 / 7);
	else if (hours < 24 * 365 * 2)
		snprintf(out, outlen, "%ld months", hours / 24 / 30);
	else
		snprintf(out, outlen, "%ld years", hours / 24 / 365);
}

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) + (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

void skiff_ctr_status_string(const struct skiff_ctr *c, const struct timespec *now, char *out, size_t outlen)
{
	char d[64];

	switch (c->status) {
	case SKIFF_CTR_RUNNING:
	case SKIFF_CTR_PAUSED:
		skiff_human_duration(ts_diff(now, &c->started_at), d, sizeof(d));
		snprintf(out, outlen, "Up %s%s", d, c->status == SKIFF_CTR_PAUSED ? " (Paused)" : "");
		return;
	case SKIFF_CTR_RESTARTING:
		skiff_human_duration(ts_diff(now, &c->finished_at), d, sizeof(d));
		snprintf(out, outlen, "Restarting (%d) %s ago", c->exit_code, d);
		return;
	case SKIFF_CTR_REMOVING:
		snprintf(out, outlen, "Removal In Progress");
		return;
	case SKIFF_CTR_DEAD:
		snprintf(out, outlen, "Dead");
		return;
	}
	if (c->started_at.tv_sec == 0) {
		snprintf(out, outlen, "Created");
		return;
	}
	if (c->finished_at.tv_sec == 0) {
		out[0] = '\0';
		return;
	}
	skiff_human_duration(ts_diff(now, &c->finished_at), d, sizeof(d));
	snprintf(out, outlen, "Exited (%d) %s ago", c->exit_code, d);
}

/* ---- type checking of the create body ---------------------------------- */

enum ftype { T_STR, T_INT, T_BOOL, T_STRV, T_STRSLICE, T_OBJ, T_STRMAP, T_ARR, T_INTARR };

struct field {
	const char *name;
	enum ftype type;
};

static const struct field config_fields[] = {
	{ "Hostname", T_STR },     { "Domainname", T_STR },   { "User", T_STR },
	{ "AttachStdin", T_BOOL }, { "AttachStdout", T_BOOL }, { "AttachStderr", T_BOOL },
	{ "ExposedPorts", T_OBJ }, { "Tty", T_BOOL },          { "OpenStdin", T_BOOL },
	{ "StdinOnce", T_BOOL },   { "Env", T_STRV },          { "Cmd", T_STRSLICE },
	{ "Entrypoint", T_STRSLICE }, { "Image", T_STR },      { "Volumes", T_OBJ },
	{ "WorkingDir", T_STR },   { "NetworkDisabled", T_BOOL }, { "MacAddress", T_STR },
	{ "OnBuild", T_STRV },     { "Labels", T_STRMAP },     { "StopSignal", T_STR },
	{ "StopTimeout", T_INT },  { "Shell", T_STRSLICE },    { "Healthcheck", T_OBJ },
	{ "ArgsEscaped", T_BOOL },
};

static const struct field host_fields[] = {
	{ "Binds", T_STRV },           { "ContainerIDFile", T_STR },  { "LogConfig", T_OBJ },
	{ "NetworkMode", T_STR },      { "PortBindings", T_OBJ },     { "RestartPolicy", T_OBJ },
	{ "AutoRemove", T_BOOL },      { "VolumeDriver", T_STR },     { "VolumesFrom", T_STRV },
	{ "ConsoleSize", T_INTARR },   { "Annotations", T_STRMAP },   { "CapAdd", T_STRV },
	{ "CapDrop", T_STRV },         { "CgroupnsMode", T_STR },     { "Dns", T_STRV },
	{ "DnsOptions", T_STRV },      { "DnsSearch", T_STRV },       { "ExtraHosts", T_STRV },
	{ "GroupAdd", T_STRV },        { "IpcMode", T_STR },          { "Cgroup", T_STR },
	{ "Links", T_STRV },           { "OomScoreAdj", T_INT },      { "PidMode", T_STR },
	{ "Privileged", T_BOOL },      { "PublishAllPorts", T_BOOL }, { "ReadonlyRootfs", T_BOOL },
	{ "SecurityOpt", T_STRV },     { "StorageOpt", T_STRMAP },    { "Tmpfs", T_STRMAP },
	{ "UTSMode", T_STR },          { "UsernsMode", T_STR },       { "ShmSize", T_INT },
	{ "Sysctls", T_STRMAP },       { "Runtime", T_STR },          { "Isolation", T_STR },
	{ "CpuShares", T_INT },        { "Memory", T_INT },           { "NanoCpus", T_INT },
	{ "CgroupParent", T_STR },     { "BlkioWeight", T_INT },      { "BlkioWeightDevice", T_ARR },
	{ "BlkioDeviceReadBps", T_ARR }, { "BlkioDeviceWriteBps", T_ARR }, { "BlkioDeviceReadIOps", T_ARR },
	{ "BlkioDeviceWriteIOps", T_ARR }, { "CpuPeriod", T_INT },    { "CpuQuota", T_INT },
	{ "CpuRealtimePeriod", T_INT }, { "CpuRealtimeRuntime", T_INT }, { "CpusetCpus", T_STR },
	{ "CpusetMems", T_STR },       { "Devices", T_ARR },          { "DeviceCgroupRules", T_STRV },
	{ "DeviceRequests", T_ARR },   { "KernelMemoryTCP", T_INT },  { "MemoryReservation", T_INT },
	{ "MemorySwap", T_INT },       { "MemorySwappiness", T_INT }, { "OomKillDisable", T_BOOL },
	{ "PidsLimit", T_INT },        { "Ulimits", T_ARR },          { "CpuCount", T_INT },
	{ "CpuPercent", T_INT },       { "IOMaximumIOps", T_INT },    { "IOMaximumBandwidth", T_INT },
	{ "Mounts", T_ARR },           { "MaskedPaths", T_STRV },     { "ReadonlyPaths", T_STRV },
	{ "Init", T_BOOL },
};

static const char *go_type(enum ftype t)
{
	static const char *const names[] = {
		[T_STR] = "string",        [T_INT] = "int64",
		[T_BOOL] = "bool",         [T_STRV] = "[]string",
		[T_STRSLICE] = "strslice.StrSlice", [T_OBJ] = "struct",
		[T_STRMAP] = "map[string]string", [T_ARR] = "[]struct",
		[T_INTARR] = "[2]uint",
	};
	return names[t];
}

static const char *json_kind(const json_t *v)
{
	if (json_is_string(v))
		return "string";
	if (json_is_number(v))
		return "number";
	if (json_is_boolean(v))
		return "bool";
	if (json_is_array(v))
		return "array";
	return "object";
}

static bool all_strings(const json_t *arr)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) if (!json_is_string(e)) return false;
	return true;
}

static bool type_ok(const json_t *v, enum ftype t)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_null(v))
		return true;
	switch (t) {
	case T_STR:
		return json_is_string(v);
	case T_INT:
		return json_is_integer(v);
	case T_BOOL:
		return json_is_boolean(v);
	case T_STRV:
		return json_is_array(v) && all_strings(v);
	case T_STRSLICE:
		return json_is_string(v) || (json_is_array(v) && all_strings(v));
	case T_OBJ:
		return json_is_object(v);
	case T_STRMAP:
		if (!json_is_object(v))
			return false;
		json_object_foreach((json_t *)v, k, e) if (!json_is_string(e) && !json_is_null(e)) return false;
		return true;
	case T_ARR:
		return json_is_array(v);
	case T_INTARR:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e) if (!json_is_integer(e) || json_integer_value(e) < 0) return false;
		return true;
	}
	return false;
}

static int check_fields(const json_t *obj, const char *sname, const struct field *f, size_t n,
			struct skiff_error *err)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(obj, f[i].name);
		if (v && !type_ok(v, f[i].type))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
					       json_kind(v), sname, f[i].name, go_type(f[i].type));
	}
	return 0;
}

/* ---- capabilities ------------------------------------------------------ */

static const char *const all_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

/* Docker's default set (kept here too so this file links without the runtime). */
static const char *const default_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

/* "net_admin" / "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "all" -> "ALL" */
static void cap_normalize(const char *in, char *out, size_t outlen)
{
	char up[64];
	size_t i;
	for (i = 0; in[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)in[i]);
	up[i] = '\0';
	if (!strcmp(up, "ALL") || !strncmp(up, "CAP_", 4))
		snprintf(out, outlen, "%s", up);
	else
		snprintf(out, outlen, "CAP_%s", up);
}

static bool cap_known(const char *cap)
{
	for (size_t i = 0; i < ARRAY_SIZE(all_caps); i++)
		if (!strcmp(all_caps[i], cap))
			return true;
	return false;
}

static int check_caps(const json_t *hc, const char *key, struct skiff_error *err)
{
	json_t *arr = json_object_get(hc, key), *e;
	size_t i;
	char cap[80];

	json_array_foreach(arr, i, e)
	{
		cap_normalize(json_string_value(e), cap, sizeof(cap));
		if (strcmp(cap, "ALL") && !cap_known(cap))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid %s: unknown capability: \"%s\"",
					       key, cap);
	}
	return 0;
}

static bool strv_has_cap(const json_t *arr, const char *cap)
{
	json_t *e;
	size_t i;
	char c[80];
	json_array_foreach(arr, i, e)
	{
		cap_normalize(json_string_value(e), c, sizeof(c));
		if (!strcmp(c, cap))
			return true;
	}
	return false;
}

json_t *skiff_ctr_caps(const json_t *hc)
{
	json_t *out = json_array(), *add = json_object_get(hc, "CapAdd"), *drop = json_object_get(hc, "CapDrop");
	bool all = skiff_json_bool(hc, "Privileged", false) || strv_has_cap(add, "ALL");
	bool drop_all = strv_has_cap(drop, "ALL");

	for (size_t i = 0; i < ARRAY_SIZE(all_caps); i++) {
		const char *cap = all_caps[i];
		bool in = all || strv_has_cap(add, cap);
		if (!in && !drop_all) {
			for (size_t j = 0; j < ARRAY_SIZE(default_caps); j++)
				if (!strcmp(default_caps[j], cap))
					in = true;
		}
		if (in && !skiff_json_bool(hc, "Privileged", false) && strv_has_cap(drop, cap))
			in = false;
		if (in)
			json_array_append_new(out, json_string(cap));
	}
	return out;
}

/* ---- security options --------------------------------------------------- */

/* Splits "key=value" or the legacy "key:value". */
static bool secopt_split(const char *opt, char *key, size_t klen, const char **val)
{
	const char *sep = strchr(opt, '=');
	const char *colon = strchr(opt, ':');
	if (!sep || (colon && colon < sep))
		sep = colon;
	if (!sep)
		return false;
	snprintf(key, klen, "%.*s", (int)(sep - opt), opt);
	*val = sep + 1;
	return true;
}

static int check_secopts(json_t *hc, json_t *warnings, struct skiff_error *err)
{
	json_t *arr = json_object_get(hc, "SecurityOpt"), *e;
	size_t i;

	json_array_foreach(arr, i, e)
	{
		const char *opt = json_string_value(e), *val;
		char key[64];

		if (!strcmp(opt, "no-new-privileges"))
			continue;
		if (!secopt_split(opt, key, sizeof(key), &val))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid --security-opt 1: \"%s\"", opt);
		if (!strcmp(key, "no-new-privileges")) {
			if (strcmp(val, "true") && strcmp(val, "false"))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "invalid --security-opt 2: \"%s\"", opt);
		} else if (!strcmp(key, "seccomp")) {
			if (!strcmp(val, "unconfined") || *val == '{') {
				if (*val == '{') {
					json_error_t jerr;
					_cleanup_json_ json_t *p = json_loads(val, 0, &jerr);
					if (!json_is_object(p))
						return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
								       "decoding seccomp profile failed: %s",
								       jerr.text);
				}
				continue;
			}
			/* a path: the CLI reads it itself; an API client may send the path */
			_cleanup_free_ char *buf = NULL;
			_cleanup_free_ char *path = strdup(val);
			json_error_t jerr;
			if (skiff_read_file(path, &buf, NULL) < 0)
				return skiff_error_set(err, SKIFF_EINVAL, ENOENT,
						       "opening seccomp profile (%s) failed: no such file", path);
			_cleanup_json_ json_t *p = json_loads(buf, 0, &jerr);
			if (!json_is_object(p))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
						       "decoding seccomp profile failed: %s", jerr.text);
			_cleanup_free_ char *s = NULL;
			_cleanup_free_ char *compact = json_dumps(p, JSON_COMPACT);
			if (!compact || asprintf(&s, "seccomp=%s", compact) < 0)
				return -ENOMEM;
			json_array_set_new(arr, i, json_string(s));
		} else if (!strcmp(key, "label") || !strcmp(key, "apparmor")) {
			if (warnings)
				json_array_append_new(warnings,
						      json_string(!strcmp(key, "label")
									  ? "SELinux labels are not supported; ignored"
									  : "AppArmor is not supported; ignored"));
		} else if (!strcmp(key, "systempaths") || !strcmp(key, "writable-cgroups")) {
			continue;
		} else {
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid --security-opt 2: \"%s\"", opt);
		}
	}
	return 0;
}

/* ---- binds and mounts -------------------------------------------------- */

static const char *const bind_opts[] = { "ro", "rw", "z", "Z", "private", "rprivate", "shared", "rshared",
					 "slave", "rslave", "nocopy", "consistent", "cached", "delegated" };

static bool bind_opt_ok(const char *o)
{
	for (size_t i = 0; i < ARRAY_SIZE(bind_opts); i++)
		if (!strcmp(bind_opts[i], o))
			return true;
	return false;
}

static const char *propagation_of(const char *mode)
{
	static const char *const props[] = { "private", "rprivate", "shared", "rshared", "slave", "rslave" };
	_cleanup_free_ char *m = strdup(mode ? mode : "");
	char *save = NULL;
	for (char *t = m ? strtok_r(m, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < ARRAY_SIZE(props); i++)
			if (!strcmp(props[i], t))
				return props[i];
	return "rprivate";
}

static json_t *mount_entry(const char *type, const char *src, const char *dst, const char *mode, bool rw,
			   const char *prop)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", type, "Source", src, "Destination", dst, "Mode",
			 mode, "RW", rw, "Propagation", prop);
}

/* A volume mount as inspect shows it (Type, Name, Source, Destination,
 * Driver, Mode, RW, Propagation, in Docker's order); Name "" is an
 * anonymous volume and Source is filled when the volume is resolved. The
 * private keys (NoCopy, DriverOpts, VolumeLabels) only serve create. */
static json_t *volume_entry(const char *name, const char *dst, const char *mode, bool rw, bool nocopy,
			    const json_t *driver_opts, const json_t *labels)
{
	json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "volume", "Name", name, "Source",
			      "", "Destination", dst, "Driver", "local", "Mode", mode, "RW", rw, "Propagation", "");
	if (e && nocopy)
		json_object_set_new(e, "NoCopy", json_true());
	if (e && json_is_object(driver_opts) && json_object_size(driver_opts))
		json_object_set_new(e, "DriverOpts", json_deep_copy(driver_opts));
	if (e && json_is_object(labels) && json_object_size(labels))
		json_object_set_new(e, "VolumeLabels", json_deep_copy(labels));
	return e;
}

static int volume_name_check(const char *name, struct skiff_error *err)
{
	if (skiff_volume_name_valid(name))
		return 0;
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
			       "create %s: \"%s\" includes invalid characters for a local volume name, only "
			       "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
			       "use absolute path",
			       name, name);
}

/* "/a/b/" -> "/a/b": Docker compares destinations cleaned */
static void clean_dest(char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

static int parse_bind(const char *spec, bool create_missing, json_t *out, struct skiff_error *err)
{
	_cleanup_free_ char *s = strdup(spec);
	char *src, *dst, *mode = NULL;
	bool rw = true, nocopy = false;

	if (!s)
		return -ENOMEM;
	src = s;
	dst = strchr(s, ':');
	if (!dst) {
		/* a lone path: an anonymous volume there (Docker's one-part spec) */
		if (src[0] != '/' || !strcmp(src, "/"))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid volume specification: '%s'", spec);
		clean_dest(src);
		json_array_append_new(out, volume_entry("", src, "", true, false, NULL, NULL));
		return 0;
	}
	if (!dst[1] || dst == src)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid volume specification: '%s'", spec);
	*dst++ = '\0';
	mode = strchr(dst, ':');
	if (mode)
		*mode++ = '\0';
	if (dst[0] != '/')
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid volume specification: '%s': invalid mount config: invalid mount path: "
				       "'%s' mount path must be absolute",
				       spec, dst);
	if (!strcmp(dst, "/"))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid volume specification: '%s'", spec);
	clean_dest(dst);
	if (mode) {
		_cleanup_free_ char *m = strdup(mode);
		char *save = NULL;
		if (!m)
			return -ENOMEM;
		for (char *t = strtok_r(m, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!bind_opt_ok(t))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid mode: %s", mode);
			if (!strcmp(t, "ro"))
				rw = false;
			if (!strcmp(t, "nocopy"))
				nocopy = true;
		}
	}
	if (src[0] != '/') {
		int r = volume_name_check(src, err);
		if (r < 0)
			return r;
		json_array_append_new(out, volume_entry(src, dst, mode ? mode : "z", rw, nocopy, NULL, NULL));
		return 0;
	}
	if (create_missing) {
		struct stat st;
		if (stat(src, &st) < 0) {
			int r = skiff_mkdir_p(src, 0755);
			if (r < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "error while creating mount source path '%s'",
						       src);
		}
	}
	json_array_append_new(out, mount_entry("bind", src, dst, mode ? mode : "", rw, propagation_of(mode)));
	return 0;
}

static bool propagation_ok(const char *p)
{
	static const char *const props[] = { "", "private", "rprivate", "shared", "rshared", "slave", "rslave" };
	for (size_t i = 0; i < ARRAY_SIZE(props); i++)
		if (!strcmp(props[i], p))
			return true;
	return false;
}

/* TmpfsOptions -> mount data as Docker writes it: size with the largest
 * unit that divides it, mode in octal. */
static json_t *tmpfs_data(const json_t *topt)
{
	int64_t size = skiff_json_int(topt, "SizeBytes", 0), mode = skiff_json_int(topt, "Mode", 0);
	char buf[128] = "";
	size_t o = 0;

	if (size > 0) {
		static const struct {
			const char *suffix;
			int64_t unit;
		} units[] = { { "g", 1LL << 30 }, { "m", 1LL << 20 }, { "k", 1LL << 10 } };
		const char *sfx = "";
		int64_t v = size;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (size % units[i].unit == 0) {
				sfx = units[i].suffix;
				v = size / units[i].unit;
				break;
			}
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "size=%lld%s", (long long)v, sfx);
	}
	if (mode > 0)
		snprintf(buf + o, sizeof(buf) - o, "%smode=%llo", o ? "," : "", (unsigned long long)mode);
	return buf[0] ? json_string(buf) : NULL;
}

static int parse_mount(const json_t *m, bool create_missing, json_t *out, struct skiff_error *err)
{
	const char *type = skiff_json_str(m, "Type", "");
	const char *src = skiff_json_str(m, "Source", "");
	const char *dst0 = skiff_json_str(m, "Target", "");
	bool ro = skiff_json_bool(m, "ReadOnly", false);
	_cleanup_free_ char *dst = NULL;
	struct stat st;

	if (!json_is_object(m))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid mount config: expected an object");
	if (!*dst0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid mount config for type \"%s\": field Target must not be empty", type);
	if (dst0[0] != '/')
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid mount config for type \"%s\": invalid mount path: '%s' mount path must be absolute",
				       type, dst0);
	if (!(dst = strdup(dst0)))
		return -ENOMEM;
	clean_dest(dst);
	if (strcmp(type, "bind") && json_is_object(json_object_get(m, "BindOptions")))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid mount config for type \"%s\": BindOptions must not be specified", type);
	if (strcmp(type, "volume") && json_is_object(json_object_get(m, "VolumeOptions")))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid mount config for type \"%s\": VolumeOptions must not be specified", type);
	if (strcmp(type, "tmpfs") && json_is_object(json_object_get(m, "TmpfsOptions")))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid mount config for type \"%s\": TmpfsOptions must not be specified", type);
	if (!strcmp(type, "bind")) {
		if (!*src)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid mount config for type \"bind\": field Source must not be empty");
		if (src[0] != '/')
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute",
					       src);
		if (create_missing && stat(src, &st) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, ENOENT,
					       "invalid mount config for type \"bind\": bind source path does not exist: %s",
					       src);
		const char *prop = skiff_json_str(json_object_get(m, "BindOptions"), "Propagation", "");
		if (!propagation_ok(prop))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid mount config for type \"bind\": invalid propagation mode: %s", prop);
		json_array_append_new(out, mount_entry("bind", src, dst, "", !ro, *prop ? prop : "rprivate"));
		return 0;
	}
	if (!strcmp(type, "tmpfs")) {
		if (*src)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid mount config for type \"tmpfs\": field Source must not be specified");
		const json_t *topt = json_object_get(m, "TmpfsOptions");
		if (skiff_json_int(topt, "SizeBytes", 0) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid mount config for type \"tmpfs\": invalid tmpfs size");
		json_t *e = mount_entry("tmpfs", "", dst, "", !ro, "");
		json_t *data = tmpfs_data(topt);
		if (data)
			json_object_set_new(e, "Options", data);
		json_array_append_new(out, e);
		return 0;
	}
	if (!strcmp(type, "volume")) {
		const json_t *vo = json_object_get(m, "VolumeOptions");
		const json_t *dc = json_object_get(vo, "DriverConfig");
		const char *driver = skiff_json_str(dc, "Name", "");
		int r;
		if (*src && (r = volume_name_check(src, err)) < 0)
			return r;
		if (*driver && strcmp(driver, "local"))
			return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT,
					       "error looking up volume plugin %s: plugin \"%s\" not found", driver, driver);
		json_array_append_new(out, volume_entry(src, dst, "z", !ro, skiff_json_bool(vo, "NoCopy", false),
							json_object_get(dc, "Options"), json_object_get(vo, "Labels")));
		return 0;
	}
	if (!strcmp(type, "npipe") || !strcmp(type, "cluster") || !strcmp(type, "image"))
		return skiff_error_set(err, SKIFF_ENOTIMPL, ENOSYS, "mounts of type \"%s\" are not supported", type);
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid mount config: mount type unknown: \"%s\"", type);
}

static int find_dest(const json_t *mounts, const char *dst)
{
	json_t *e;
	size_t i;
	json_array_foreach(mounts, i, e) if (!strcmp(skiff_json_str(e, "Destination", ""), dst)) return (int)i;
	return -1;
}

int skiff_ctr_mounts(const json_t *hc, bool create_missing, json_t **out, struct skiff_error *err)
{
	_cleanup_json_ json_t *m = json_array();
	json_t *e, *tmpfs = json_object_get(hc, "Tmpfs");
	const char *k;
	size_t i;
	int r;

	json_array_foreach(json_object_get(hc, "Binds"), i, e)
	{
		r = parse_bind(json_string_value(e), create_missing, m, err);
		if (r < 0)
			return r;
	}
	json_array_foreach(json_object_get(hc, "Mounts"), i, e)
	{
		r = parse_mount(e, create_missing, m, err);
		if (r < 0)
			return r;
	}
	json_object_foreach(tmpfs, k, e)
	{
		if (k[0] != '/' || !strcmp(k, "/"))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid tmpfs mount path: '%s'", k);
		_cleanup_free_ char *dst = strdup(k);
		if (!dst)
			return -ENOMEM;
		clean_dest(dst);
		/* Docker lists --tmpfs mounts in HostConfig only, not in .Mounts */
		json_t *ent = mount_entry("tmpfs", "", dst, "", true, "");
		json_object_set_new(ent, "Hidden", json_true());
		if (json_string_length(e))
			json_object_set(ent, "Options", e);
		json_array_append_new(m, ent);
	}
	/* no two mounts on one destination (Docker: "Duplicate mount point") */
	json_array_foreach(m, i, e)
	{
		int j = find_dest(m, skiff_json_str(e, "Destination", ""));
		if (j >= 0 && (size_t)j < i)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Duplicate mount point: %s",
					       skiff_json_str(e, "Destination", ""));
	}
	*out = TAKE_PTR(m);
	return 0;
}

int skiff_ctr_config_volumes(const json_t *config, json_t *mounts, struct skiff_error *err)
{
	const json_t *vols = json_object_get(config, "Volumes");
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)vols, k, v)
	{
		_cleanup_free_ char *dst = strdup(k);
		if (!dst)
			return -ENOMEM;
		if (dst[0] != '/' || !strcmp(dst, "/"))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid volume specification: '%s': invalid mount config for type "
					       "\"volume\": invalid mount path: '%s' mount path must be absolute",
					       k, k);
		clean_dest(dst);
		if (find_dest(mounts, dst) >= 0)
			continue; /* a bind, volume or tmpfs is there already */
		json_array_append_new(mounts, volume_entry("", dst, "", true, false, NULL, NULL));
	}
	return 0;
}

int skiff_ctr_volumes_from_parse(const char *spec, char **name, int *rw, struct skiff_error *err)
{
	const char *colon = strchr(spec, ':');

	*rw = -1;
	if (!*spec || colon == spec)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid volumes-from: '%s'", spec);
	if (colon) {
		if (!strcmp(colon + 1, "ro"))
			*rw = 0;
		else if (!strcmp(colon + 1, "rw"))
			*rw = 1;
		else
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid mode: %s", colon + 1);
	}
	*name = colon ? strndup(spec, (size_t)(colon - spec)) : strdup(spec);
	return *name ? 0 : -ENOMEM;
}

json_t *skiff_ctr_mounts_public(const json_t *mounts)
{
	static const char *const private_keys[] = { "Options", "NoCopy", "DriverOpts", "VolumeLabels", "Hidden" };
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(mounts, i, e)
	{
		if (skiff_json_bool(e, "Hidden", false))
			continue;
		json_t *c = json_copy(e);
		for (size_t j = 0; c && j < ARRAY_SIZE(private_keys); j++)
			json_object_del(c, private_keys[j]);
		if (c)
			json_array_append_new(out, c);
	}
	return out;
}

/* ---- value validation -------------------------------------------------- */

static const char *const ulimit_names[] = { "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
					    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack" };

static int check_ulimits(const json_t *hc, struct skiff_error *err)
{
	json_t *e;
	size_t i;
	json_array_foreach(json_object_get(hc, "Ulimits"), i, e)
	{
		const char *n = skiff_json_str(e, "Name", NULL);
		bool ok = false;
		if (!json_is_object(e) || !n)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid ulimit: missing Name");
		for (size_t j = 0; j < ARRAY_SIZE(ulimit_names); j++)
			ok |= !strcmp(ulimit_names[j], n);
		if (!ok)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid ulimit type: %s", n);
		if (skiff_json_int(e, "Soft", 0) > skiff_json_int(e, "Hard", 0))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
					       (long long)skiff_json_int(e, "Soft", 0),
					       (long long)skiff_json_int(e, "Hard", 0));
	}
	return 0;
}

static bool cpuset_ok(const char *s)
{
	/* "0-3,5" */
	if (!*s)
		return true;
	for (const char *p = s; *p;) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return false;
			while (isdigit((unsigned char)*p))
				p++;
		}
		if (*p == ',') {
			p++;
			if (!*p)
				return false;
		} else if (*p) {
			return false;
		}
	}
	return true;
}

static int check_resources(const json_t *hc, int ncpu, struct skiff_error *err)
{
	int64_t mem = skiff_json_int(hc, "Memory", 0), swap = skiff_json_int(hc, "MemorySwap", 0);
	int64_t nano = skiff_json_int(hc, "NanoCpus", 0), quota = skiff_json_int(hc, "CpuQuota", 0);
	int64_t period = skiff_json_int(hc, "CpuPeriod", 0), shares = skiff_json_int(hc, "CpuShares", 0);
	const char *cpuset = skiff_json_str(hc, "CpusetCpus", "");

	if (mem != 0 && mem < 6 * 1024 * 1024)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Minimum memory limit allowed is 6MB");
	if (mem > 0 && swap > 0 && swap < mem)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Minimum memoryswap limit should be larger than memory limit, see usage");
	if (mem == 0 && swap > 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "You should always set the Memory limit when using Memoryswap limit, see usage");
	if (nano > 0 && (period > 0 || quota > 0))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Conflicting options: Nano CPUs and CPU Period cannot both be set");
	if (nano < 0 || nano > (int64_t)ncpu * 1000000000LL)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu,
				       ncpu);
	if (period != 0 && (period < 1000 || period > 1000000))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
	if (quota > 0 && quota < 1000)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
	if (shares < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid CPU shares (%lld): value must be a positive integer",
				       (long long)shares);
	if (!cpuset_ok(cpuset))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Invalid value %s for cpuset cpus", cpuset);
	return 0;
}

static const char *const known_netmodes[] = { "none", "host", "bridge", "default", "" };

int skiff_ctr_netmode(const json_t *hc, const char **target)
{
	const char *m = skiff_json_str(hc, "NetworkMode", "");
	if (target)
		*target = NULL;
	if (!strncmp(m, "container:", 10)) {
		if (target)
			*target = m + 10;
		return SKIFF_NET_CONTAINER;
	}
	if (!strcmp(m, "none"))
		return SKIFF_NET_NONE;
	if (!strcmp(m, "host"))
		return SKIFF_NET_HOST;
	for (size_t i = 0; i < ARRAY_SIZE(known_netmodes); i++)
		if (!strcmp(m, known_netmodes[i]))
			return SKIFF_NET_BRIDGE;
	if (target)
		*target = m;
	return SKIFF_NET_OTHER;
}

int skiff_ctr_config_validate(json_t *body, int ncpu, json_t *warnings, struct skiff_error *err)
{
	json_t *hc = json_object_get(body, "HostConfig");
	json_t *nc = json_object_get(body, "NetworkingConfig");
	const char *target;
	int r;

	if (!json_is_object(body))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Config cannot be empty in order to create a container");
	r = check_fields(body, "CreateRequest", config_fields, ARRAY_SIZE(config_fields), err);
	if (r < 0)
		return r;
	if (hc && !json_is_null(hc) && !json_is_object(hc))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal %s into Go struct field CreateRequest.HostConfig of type container.HostConfig",
				       json_kind(hc));
	if (nc && !json_is_null(nc) && !json_is_object(nc))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal %s into Go struct field CreateRequest.NetworkingConfig of type network.NetworkingConfig",
				       json_kind(nc));
	if (json_is_object(hc)) {
		r = check_fields(hc, "CreateRequest.HostConfig", host_fields, ARRAY_SIZE(host_fields), err);
		if (r < 0)
			return r;
	}
	if (!skiff_json_str(body, "Image", NULL) || !*skiff_json_str(body, "Image", ""))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid reference format");
	if (skiff_json_int(body, "StopTimeout", 0) < -1)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid stop timeout");
	if (!json_is_object(hc)) {
		_cleanup_json_ json_t *m = json_array();
		return skiff_ctr_config_volumes(body, m, err);
	}
	if ((r = check_resources(hc, ncpu, err)) < 0 || (r = skiff_restart_policy_validate(hc, err)) < 0 ||
	    (r = check_caps(hc, "CapAdd", err)) < 0 || (r = check_caps(hc, "CapDrop", err)) < 0 ||
	    (r = check_secopts(hc, warnings, err)) < 0 || (r = check_ulimits(hc, err)) < 0)
		return r;
	{
		_cleanup_json_ json_t *m = NULL;
		r = skiff_ctr_mounts(hc, false, &m, err);
		if (r == 0)
			r = skiff_ctr_config_volumes(body, m, err);
		if (r < 0)
			return r;
		json_t *e;
		size_t i;
		json_array_foreach(json_object_get(hc, "VolumesFrom"), i, e)
		{
			_cleanup_free_ char *name = NULL;
			int rw;
			if ((r = skiff_ctr_volumes_from_parse(json_string_value(e), &name, &rw, err)) < 0)
				return r;
		}
	}
	/* NetworkMode naming a network: the network manager checks it exists */
	if (skiff_ctr_netmode(hc, &target) == SKIFF_NET_CONTAINER && !*target)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid network mode: container:");
	return 0;
}

/* ---- defaults and merge ------------------------------------------------ */

json_t *skiff_ctr_hostconfig_normalize(const json_t *in)
{
	json_t *hc = json_is_object(in) ? json_deep_copy(in) : json_object();
	const char *nm = skiff_json_str(hc, "NetworkMode", "");
	json_t *rp = json_object_get(hc, "RestartPolicy");

	static const struct {
		const char *key;
		const char *json;
	} defaults[] = {
		{ "Binds", "null" }, { "ContainerIDFile", "\"\"" },
		{ "LogConfig", "{\"Type\":\"json-file\",\"Config\":{}}" },
		{ "PortBindings", "{}" }, { "AutoRemove", "false" }, { "VolumeDriver", "\"\"" },
		{ "VolumesFrom", "null" }, { "ConsoleSize", "[0,0]" }, { "CapAdd", "null" }, { "CapDrop", "null" },
		{ "CgroupnsMode", "\"private\"" }, { "Dns", "[]" }, { "DnsOptions", "[]" }, { "DnsSearch", "[]" },
		{ "ExtraHosts", "null" }, { "GroupAdd", "null" }, { "IpcMode", "\"private\"" }, { "Cgroup", "\"\"" },
		{ "Links", "null" }, { "OomScoreAdj", "0" }, { "PidMode", "\"\"" }, { "Privileged", "false" },
		{ "PublishAllPorts", "false" }, { "ReadonlyRootfs", "false" }, { "SecurityOpt", "null" },
		{ "UTSMode", "\"\"" }, { "UsernsMode", "\"\"" }, { "ShmSize", "67108864" }, { "Runtime", "\"runc\"" },
		{ "Isolation", "\"\"" }, { "CpuShares", "0" }, { "Memory", "0" }, { "NanoCpus", "0" },
		{ "CgroupParent", "\"\"" }, { "BlkioWeight", "0" }, { "BlkioWeightDevice", "[]" },
		{ "BlkioDeviceReadBps", "[]" }, { "BlkioDeviceWriteBps", "[]" }, { "BlkioDeviceReadIOps", "[]" },
		{ "BlkioDeviceWriteIOps", "[]" }, { "CpuPeriod", "0" }, { "CpuQuota", "0" },
		{ "CpuRealtimePeriod", "0" }, { "CpuRealtimeRuntime", "0" }, { "CpusetCpus", "\"\"" },
		{ "CpusetMems", "\"\"" }, { "Devices", "[]" }, { "DeviceCgroupRules", "null" },
		{ "DeviceRequests", "null" }, { "MemoryReservation", "0" }, { "MemorySwap", "0" },
		{ "MemorySwappiness", "null" }, { "OomKillDisable", "null" }, { "PidsLimit", "null" },
		{ "Ulimits", "[]" }, { "CpuCount", "0" }, { "CpuPercent", "0" }, { "IOMaximumIOps", "0" },
		{ "IOMaximumBandwidth", "0" },
		{ "MaskedPaths", "[\"/proc/asound\",\"/proc/acpi\",\"/proc/interrupts\",\"/proc/kcore\","
				 "\"/proc/keys\",\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\","
				 "\"/proc/sched_debug\",\"/proc/scsi\",\"/sys/firmware\",\"/sys/devices/virtual/powercap\"]" },
		{ "ReadonlyPaths", "[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		if (!json_object_get(hc, defaults[i].key))
			json_object_set_new(hc, defaults[i].key, json_loads(defaults[i].json, JSON_DECODE_ANY, NULL));
	if (!*nm || !strcmp(nm, "default"))
		json_object_set_new(hc, "NetworkMode", json_string("bridge"));
	if (!json_is_object(rp)) {
		json_object_set_new(hc, "RestartPolicy", json_pack("{s:s, s:i}", "Name", "no", "MaximumRetryCount", 0));
	} else {
		if (!*skiff_json_str(rp, "Name", ""))
			json_object_set_new(rp, "Name", json_string("no"));
		if (!json_object_get(rp, "MaximumRetryCount"))
			json_object_set_new(rp, "MaximumRetryCount", json_integer(0));
	}
	if (skiff_json_bool(hc, "Privileged", false)) {
		/* privileged containers see everything (Docker empties these) */
		json_object_set_new(hc, "MaskedPaths", json_null());
		json_object_set_new(hc, "ReadonlyPaths", json_null());
	}
	return hc;
}

static json_t *strslice(const json_t *v)
{
	if (json_is_string(v))
		return json_pack("[s]", json_string_value(v));
	if (json_is_array(v))
		return json_deep_copy(v);
	return json_null();
}

static bool nonempty_arr(const json_t *v)
{
	return json_is_array(v) && json_array_size(v) > 0;
}

static void merge_env(json_t *cfg, const json_t *img_env)
{
	json_t *env = json_object_get(cfg, "Env"), *e;
	size_t i;

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cfg, "Env", env);
	}
	json_array_foreach(img_env, i, e)
	{
		const char *ie = json_string_value(e);
		size_t klen;
		bool found = false;
		json_t *u;
		size_t j;
		if (!ie)
			continue;
		klen = strcspn(ie, "=");
		json_array_foreach(env, j, u)
		{
			const char *ue = json_string_value(u);
			if (ue && strcspn(ue, "=") == klen && !strncmp(ue, ie, klen))
				found = true;
		}
		if (!found)
			json_array_append(env, e);
	}
}

static void merge_map(json_t *cfg, const char *key, const json_t *img)
{
	json_t *m = json_object_get(cfg, key);
	const char *k;
	json_t *v;

	if (!json_is_object(img) || !json_object_size(img))
		return;
	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(cfg, key, m);
	}
	json_object_foreach((json_t *)img, k, v) if (!json_object_get(m, k)) json_object_set(m, k, v);
}

json_t *skiff_ctr_config_merge(const json_t *req, const json_t *img)
{
	json_t *cfg = json_object();
	static const char *const copied[] = { "Hostname",  "Domainname", "User",   "AttachStdin", "AttachStdout",
					      "AttachStderr", "ExposedPorts", "Tty", "OpenStdin", "StdinOnce",
					      "Env",       "Image",      "Volumes", "WorkingDir", "Labels",
					      "StopSignal", "StopTimeout", "Healthcheck", "OnBuild", "Shell",
					      "MacAddress", "NetworkDisabled", "ArgsEscaped" };
	static const struct {
		const char *key, *def;
	} defaults[] = {
		{ "Hostname", "\"\"" }, { "Domainname", "\"\"" }, { "User", "\"\"" }, { "AttachStdin", "false" },
		{ "AttachStdout", "false" }, { "AttachStderr", "false" }, { "Tty", "false" },
		{ "OpenStdin", "false" }, { "StdinOnce", "false" }, { "Env", "[]" }, { "Cmd", "null" },
		{ "Image", "\"\"" }, { "Volumes", "null" }, { "WorkingDir", "\"\"" }, { "Entrypoint", "null" },
		{ "OnBuild", "null" }, { "Labels", "{}" },
	};
	json_t *v;

	for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
		v = json_object_get(req, copied[i]);
		if (v && !json_is_null(v))
			json_object_set_new(cfg, copied[i], json_deep_copy(v));
	}
	json_object_set_new(cfg, "Cmd", strslice(json_object_get(req, "Cmd")));
	json_object_set_new(cfg, "Entrypoint", strslice(json_object_get(req, "Entrypoint")));

	if (json_is_object(img)) {
		if (!*skiff_json_str(cfg, "User", ""))
			if ((v = json_object_get(img, "User")) && json_is_string(v))
				json_object_set(cfg, "User", v);
		if (!*skiff_json_str(cfg, "WorkingDir", ""))
			if ((v = json_object_get(img, "WorkingDir")) && json_is_string(v))
				json_object_set(cfg, "WorkingDir", v);
		if (!*skiff_json_str(cfg, "StopSignal", ""))
			if ((v = json_object_get(img, "StopSignal")) && json_is_string(v) && *json_string_value(v))
				json_object_set(cfg, "StopSignal", v);
		skiff_health_merge(cfg, json_object_get(req, "Healthcheck"), json_object_get(img, "Healthcheck"));
		merge_env(cfg, json_object_get(img, "Env"));
		merge_map(cfg, "Labels", json_object_get(img, "Labels"));
		merge_map(cfg, "ExposedPorts", json_object_get(img, "ExposedPorts"));
		merge_map(cfg, "Volumes", json_object_get(img, "Volumes"));
		/* Docker: an Entrypoint in the request hides the image's Cmd */
		if (!nonempty_arr(json_object_get(cfg, "Entrypoint"))) {
			if (!nonempty_arr(json_object_get(cfg, "Cmd")))
				json_object_set_new(cfg, "Cmd", strslice(json_object_get(img, "Cmd")));
			if (json_is_null(json_object_get(cfg, "Entrypoint")))
				json_object_set_new(cfg, "Entrypoint", strslice(json_object_get(img, "Entrypoint")));
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		if (!json_object_get(cfg, defaults[i].key))
			json_object_set_new(cfg, defaults[i].key, json_loads(defaults[i].def, JSON_DECODE_ANY, NULL));
	return cfg;
}

int skiff_ctr_path_args(const json_t *config, char **path, json_t **args, struct skiff_error *err)
{
	_cleanup_json_ json_t *all = json_array();
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(config, "Entrypoint"), i, e) json_array_append(all, e);
	json_array_foreach(json_object_get(config, "Cmd"), i, e) json_array_append(all, e);
	/* Docker drops a lone empty entrypoint ("--entrypoint ''") */
	while (json_array_size(all) && !*json_string_value(json_array_get(all, 0)))
		json_array_remove(all, 0);
	if (!json_array_size(all))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "no command specified");
	*path = strdup(json_string_value(json_array_get(all, 0)));
	if (!*path)
		return -ENOMEM;
	json_array_remove(all, 0);
	*args = TAKE_PTR(all);
	return 0;
}

char *skiff_ctr_command_string(const char *path, const json_t *args)
{
	size_t len = strlen(path) + 1, i;
	json_t *e;
	char *s, *p;

	json_array_foreach(args, i, e) len += json_string_length(e) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	p = stpcpy(s, path);
	json_array_foreach(args, i, e)
	{
		*p++ = ' ';
		p = stpcpy(p, json_string_value(e));
	}
	return s;
}

const char *skiff_ctr_hostname(const struct skiff_ctr *c, char buf[13])
{
	const char *h = skiff_json_str(c->config, "Hostname", "");
	if (*h)
		return h;
	skiff_id_short(c->id, buf);
	return buf;
}

/* ---- the runtime spec -------------------------------------------------- */

static void env_set_default(json_t *env, const char *key, const char *value)
{
	size_t klen = strlen(key), i;
	json_t *e;
	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);
		if (s && !strncmp(s, key, klen) && s[klen] == '=')
			return;
	}
	json_array_append_new(env, json_sprintf("%s=%s", key, value));
}

static bool is_root_user(const char *u)
{
	return !*u || !strcmp(u, "root") || !strcmp(u, "0") || !strncmp(u, "0:", 2) || !strncmp(u, "root:", 5);
}

static json_t *seccomp_of(const json_t *hc, bool *set)
{
	json_t *e;
	size_t i;

	*set = false;
	if (skiff_json_bool(hc, "Privileged", false)) {
		*set = true;
		return json_null();
	}
	json_array_foreach(json_object_get(hc, "SecurityOpt"), i, e)
	{
		const char *opt = json_string_value(e), *val;
		char key[64];
		if (!secopt_split(opt, key, sizeof(key), &val) || strcmp(key, "seccomp"))
			continue;
		*set = true;
		if (!strcmp(val, "unconfined"))
			return json_null();
		return json_loads(val, 0, NULL);
	}
	return NULL;
}

static bool no_new_privs(const json_t *hc)
{
	json_t *e;
	size_t i;
	bool on = false;
	json_array_foreach(json_object_get(hc, "SecurityOpt"), i, e)
	{
		const char *o = json_string_value(e);
		if (!strcmp(o, "no-new-privileges") || !strcmp(o, "no-new-privileges:true") ||
		    !strcmp(o, "no-new-privileges=true"))
			on = true;
		else if (!strcmp(o, "no-new-privileges:false") || !strcmp(o, "no-new-privileges=false"))
			on = false;
	}
	return on;
}

static const char *ns_mode(const json_t *hc, const char *key)
{
	return !strcmp(skiff_json_str(hc, key, ""), "host") ? "host" : "new";
}

json_t *skiff_ctr_build_spec(const struct skiff_ctr *c, char *const *lower, const char *netns,
			     struct skiff_error *err)
{
	const json_t *cfg = c->config, *hc = c->host_config;
	_cleanup_json_ json_t *spec = json_object();
	_cleanup_json_ json_t *args = json_array();
	json_t *env, *e, *mounts, *rl, *cg, *console;
	char hbuf[13], hostname[256];
	bool tty = skiff_json_bool(cfg, "Tty", false), sc_set;
	size_t i;
	_cleanup_free_ char *upper = skiff_path_join(c->dir, "upper");
	_cleanup_free_ char *work = skiff_path_join(c->dir, "work");
	_cleanup_free_ char *merged = skiff_path_join(c->dir, "merged");
	_cleanup_free_ char *p_hostname = skiff_path_join(c->dir, "hostname");
	_cleanup_free_ char *p_hosts = skiff_path_join(c->dir, "hosts");
	_cleanup_free_ char *p_resolv = skiff_path_join(c->dir, "resolv.conf");

	if (!upper || !work || !merged || !p_hostname || !p_hosts || !p_resolv || !spec || !args)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory"), NULL;

	snprintf(hostname, sizeof(hostname), "%s", skiff_ctr_hostname(c, hbuf));
	if (!strcmp(netns, "host") && !*skiff_json_str(cfg, "Hostname", ""))
		gethostname(hostname, sizeof(hostname) - 1);

	json_array_append_new(args, json_string(c->path));
	json_array_foreach(c->args, i, e) json_array_append(args, e);
	json_object_set_new(spec, "id", json_string(c->id));
	json_object_set(spec, "args", args);

	/* Docker: PATH and HOSTNAME first, TERM for ttys, then the user's Env replacing them */
	env = json_array();
	json_array_foreach(json_object_get(cfg, "Env"), i, e) json_array_append(env, e);
	env_set_default(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_set_default(env, "HOSTNAME", hostname);
	if (tty)
		env_set_default(env, "TERM", "xterm");
	if (is_root_user(skiff_json_str(cfg, "User", "")))
		env_set_default(env, "HOME", "/root");
	json_object_set_new(spec, "env", env);
	json_object_set_new(spec, "cwd", json_string(*skiff_json_str(cfg, "WorkingDir", "") ?
							     skiff_json_str(cfg, "WorkingDir", "") : "/"));
	json_object_set_new(spec, "user", json_string(skiff_json_str(cfg, "User", "")));
	json_object_set_new(spec, "hostname", json_string(hostname));
	json_object_set_new(spec, "domainname", json_string(skiff_json_str(cfg, "Domainname", "")));
	json_object_set_new(spec, "tty", json_boolean(tty));
	json_object_set_new(spec, "stdin", json_boolean(skiff_json_bool(cfg, "OpenStdin", false)));
	json_object_set_new(spec, "stdin_once", json_boolean(skiff_json_bool(cfg, "StdinOnce", false)));
	console = json_object_get(hc, "ConsoleSize");
	if (json_array_size(console) == 2 && json_integer_value(json_array_get(console, 0)) > 0)
		json_object_set(spec, "console", console);

	json_object_set_new(spec, "rootfs",
			    json_pack("{s:o, s:s, s:s, s:s, s:b}", "lower", skiff_json_from_strv(lower), "upper",
				      upper, "work", work, "target", merged, "readonly",
				      skiff_json_bool(hc, "ReadonlyRootfs", false)));
	json_object_set_new(spec, "namespaces",
			    json_pack("{s:s, s:s, s:s, s:s, s:s}", "net", netns, "pid", ns_mode(hc, "PidMode"), "ipc",
				      ns_mode(hc, "IpcMode"), "uts", ns_mode(hc, "UTSMode"), "cgroup",
				      !strcmp(skiff_json_str(hc, "CgroupnsMode", ""), "host") ? "host" : "new"));

	mounts = json_array();
	/* parents before children (/a before /a/b), as Docker sorts them;
	 * stable for equal depths */
	size_t nm = json_array_size(c->mounts), *order = calloc(nm + 1, sizeof(*order)), *depth = calloc(nm + 1, sizeof(*depth));
	if (!order || !depth) {
		free(order);
		free(depth);
		json_decref(mounts);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory"), NULL;
	}
	for (i = 0; i < nm; i++) {
		const char *dst = skiff_json_str(json_array_get(c->mounts, i), "Destination", "");
		order[i] = i;
		for (const char *p = dst; *p; p++)
			depth[i] += *p == '/' && p[1];
	}
	for (i = 1; i < nm; i++)
		for (size_t j = i; j > 0 && depth[order[j - 1]] > depth[order[j]]; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t k = 0; k < nm; k++)
	{
		e = json_array_get(c->mounts, order[k]);
		const char *type = skiff_json_str(e, "Type", "bind");
		/* a volume is a bind of its host directory */
		if (!strcmp(type, "volume"))
			type = "bind";
		json_t *m = json_pack("{s:s, s:s, s:s, s:b}", "source", skiff_json_str(e, "Source", ""), "target",
				      skiff_json_str(e, "Destination", ""), "type", type, "readonly",
				      !skiff_json_bool(e, "RW", true));
		if (json_object_get(e, "Options"))
			json_object_set(m, "options", json_object_get(e, "Options"));
		if (!strcmp(type, "bind"))
			json_object_set_new(m, "propagation", json_string(skiff_json_str(e, "Propagation", "rprivate")));
		json_array_append_new(mounts, m);
	}
	free(order);
	free(depth);
	json_object_set_new(spec, "mounts", mounts);
	json_object_set_new(spec, "etc_files", json_pack("{s:s, s:s, s:s}", "hostname", p_hostname, "hosts", p_hosts,
							 "resolv.conf", p_resolv));
	json_object_set_new(spec, "privileged", json_boolean(skiff_json_bool(hc, "Privileged", false)));
	json_object_set_new(spec, "caps", skiff_ctr_caps(hc));
	json_object_set_new(spec, "no_new_privileges", json_boolean(no_new_privs(hc)));
	e = seccomp_of(hc, &sc_set);
	if (sc_set)
		json_object_set_new(spec, "seccomp", e ? e : json_null());

	rl = json_array();
	json_array_foreach(json_object_get(hc, "Ulimits"), i, e)
		json_array_append_new(rl, json_pack("{s:s, s:I, s:I}", "name", skiff_json_str(e, "Name", ""), "soft",
						    (json_int_t)skiff_json_int(e, "Soft", 0), "hard",
						    (json_int_t)skiff_json_int(e, "Hard", 0)));
	json_object_set_new(spec, "rlimits", rl);

	cg = json_object();
	static const char *const cg_keys[] = { "Memory", "MemorySwap", "NanoCpus", "CpuShares",
					       "CpuQuota", "CpuPeriod", "CpusetCpus", "PidsLimit" };
	for (i = 0; i < ARRAY_SIZE(cg_keys); i++)
		if ((e = json_object_get(hc, cg_keys[i])) && !json_is_null(e))
			json_object_set(cg, cg_keys[i], e);
	json_object_set_new(spec, "cgroup", cg);
	json_object_set_new(spec, "readonly_rootfs", json_boolean(skiff_json_bool(hc, "ReadonlyRootfs", false)));
	if (json_is_array(json_object_get(hc, "MaskedPaths")))
		json_object_set(spec, "masked_paths", json_object_get(hc, "MaskedPaths"));
	if (json_is_array(json_object_get(hc, "ReadonlyPaths")))
		json_object_set(spec, "readonly_paths", json_object_get(hc, "ReadonlyPaths"));
	if (json_is_object(json_object_get(hc, "Sysctls")))
		json_object_set(spec, "sysctls", json_object_get(hc, "Sysctls"));
	return TAKE_PTR(spec);
}

/* ---- persistence ------------------------------------------------------- */

json_t *skiff_ctr_config_json(const struct skiff_ctr *c)
{
	char created[40];
	skiff_time_format(&c->created, created);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:O, s:O, s:O*, s:O}", "ID", c->id, "Name", c->name,
			 "Image", c->image_id, "ImageName", c->image, "Path", c->path, "Args", c->args, "Created",
			 created, "Config", c->config, "HostConfig", c->host_config, "NetworkingConfig",
			 c->net_config, "MountPoints", c->mounts);
}

json_t *skiff_ctr_state_json(const struct skiff_ctr *c)
{
	char started[40], finished[40];
	skiff_time_format(&c->started_at, started);
	skiff_time_format(&c->finished_at, finished);
	return json_pack("{s:s, s:i, s:i, s:b, s:s, s:s, s:s, s:i, s:b, s:b}", "Status",
			 skiff_ctr_status_name(c->status), "Pid", c->pid, "ExitCode", c->exit_code, "OOMKilled",
			 c->oom_killed, "StartedAt", started, "FinishedAt", finished, "Error",
			 c->error ? c->error : "", "RestartCount", c->restart_count, "HasBeenStarted",
			 c->has_been_started, "ManualStop", c->manual_stop);
}

static char *dup_str(const json_t *o, const char *k)
{
	const char *s = skiff_json_str(o, k, NULL);
	return s ? strdup(s) : NULL;
}

int skiff_ctr_from_json(struct skiff_ctr *c, const json_t *cfg, const json_t *st, struct skiff_error *err)
{
	const char *id = skiff_json_str(cfg, "ID", ""), *s;

	if (strlen(id) != 64 || !json_is_object(json_object_get(cfg, "Config")))
		return skiff_error_set(err, SKIFF_EINTERNAL, EBADMSG, "malformed container config");
	memcpy(c->id, id, 65);
	c->name = dup_str(cfg, "Name");
	c->image = dup_str(cfg, "ImageName");
	snprintf(c->image_id, sizeof(c->image_id), "%s", skiff_json_str(cfg, "Image", ""));
	c->path = dup_str(cfg, "Path");
	c->args = json_incref(json_object_get(cfg, "Args"));
	c->config = json_incref(json_object_get(cfg, "Config"));
	c->host_config = json_incref(json_object_get(cfg, "HostConfig"));
	c->net_config = json_incref(json_object_get(cfg, "NetworkingConfig"));
	c->mounts = json_incref(json_object_get(cfg, "MountPoints"));
	if (!c->name || !c->image || !c->path || !json_is_array(c->args) || !json_is_object(c->host_config))
		return skiff_error_set(err, SKIFF_EINTERNAL, EBADMSG, "malformed container config");
	if (!c->mounts)
		c->mounts = json_array();
	skiff_time_parse(skiff_json_str(cfg, "Created", ""), &c->created);
	c->command = skiff_ctr_command_string(c->path, c->args);
	c->status = SKIFF_CTR_CREATED;
	if (st) {
		int status = skiff_ctr_status_parse(skiff_json_str(st, "Status", "created"));
		c->status = status < 0 ? SKIFF_CTR_CREATED : status;
		c->pid = (int)skiff_json_int(st, "Pid", 0);
		c->exit_code = (int)skiff_json_int(st, "ExitCode", 0);
		c->oom_killed = skiff_json_bool(st, "OOMKilled", false);
		c->restart_count = (int)skiff_json_int(st, "RestartCount", 0);
		c->has_been_started = skiff_json_bool(st, "HasBeenStarted", false);
		c->manual_stop = skiff_json_bool(st, "ManualStop", false);
		if ((s = skiff_json_str(st, "StartedAt", NULL)) && strncmp(s, "0001-", 5))
			skiff_time_parse(s, &c->started_at);
		if ((s = skiff_json_str(st, "FinishedAt", NULL)) && strncmp(s, "0001-", 5))
			skiff_time_parse(s, &c->finished_at);
		if ((s = skiff_json_str(st, "Error", NULL)) && *s)
			c->error = strdup(s);
	}
	return 0;
}

void skiff_ctr_free_fields(struct skiff_ctr *c)
{
	free(c->name);
	free(c->image);
	free(c->path);
	free(c->command);
	free(c->dir);
	free(c->error);
	json_decref(c->config);
	json_decref(c->host_config);
	json_decref(c->net_config);
	json_decref(c->mounts);
	json_decref(c->args);
}
