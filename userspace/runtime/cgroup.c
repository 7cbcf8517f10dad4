/* cgroup layout detection (v2 / hybrid / v1 from mountinfo), container cgroup
 * paths, Docker's limit conversions, and the operations that span all
 * hierarchies (create, enter, destroy, pids, oom). Per-version details live
 * in cgroup-v1.c and cgroup-v2.c. */
#include "cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "spawn-trace.h"

/* v1 controllers we manage; named hierarchies (name=systemd) are left alone */
static const char *const known_controllers[] = {
	"cpu",	 "cpuacct", "cpuset",	"memory", "devices", "freezer",	 "net_cls",
	"net_prio", "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc",
};

bool skiff_cgroup_has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && !strncmp(p, tok, n))
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *d = s;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static void parse_line(char *line, struct skiff_cgroup_layout *out)
{
	char *fields[12] = { 0 }, *save = NULL, *sep;
	int n = 0;

	sep = strstr(line, " - ");
	if (!sep)
		return;
	*sep = '\0';
	for (char *t = strtok_r(line, " ", &save); t && n < 6; t = strtok_r(NULL, " ", &save))
		fields[n++] = t;
	if (n < 5)
		return;
	char *mnt = fields[4];
	save = NULL;
	char *fstype = strtok_r(sep + 3, " ", &save);
	char *source = strtok_r(NULL, " ", &save);
	char *opts = strtok_r(NULL, " ", &save);
	(void)source;
	if (!fstype || !opts)
		return;
	unescape(mnt);

	if (!strcmp(fstype, "cgroup2")) {
		/* prefer the canonical location when several are mounted */
		if (!out->v2_root[0] || !strcmp(mnt, "/sys/fs/cgroup"))
			snprintf(out->v2_root, sizeof(out->v2_root), "%s", mnt);
		return;
	}
	if (strcmp(fstype, "cgroup") != 0 || out->nv1 >= SKIFF_CGROUP_MAX_V1)
		return;
	char ctrls[64] = "";
	for (size_t i = 0; i < ARRAY_SIZE(known_controllers); i++) {
		if (!skiff_cgroup_has_token(opts, known_controllers[i]))
			continue;
		size_t l = strlen(ctrls);
		snprintf(ctrls + l, sizeof(ctrls) - l, "%s%s", l ? "," : "", known_controllers[i]);
	}
	if (!ctrls[0])
		return;
	for (int i = 0; i < out->nv1; i++)
		if (!strcmp(out->v1[i].controllers, ctrls))
			return; /* same hierarchy mounted twice: first wins */
	snprintf(out->v1[out->nv1].controllers, sizeof(out->v1[0].controllers), "%s", ctrls);
	snprintf(out->v1[out->nv1].root, sizeof(out->v1[0].root), "%s", mnt);
	out->nv1++;
}

int skiff_cgroup_detect_from(const char *mountinfo, struct skiff_cgroup_layout *out, struct skiff_error *err)
{
	_cleanup_free_ char *copy = strdup(mountinfo ? mountinfo : "");
	char *save = NULL;

	if (!copy)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "detecting cgroups: out of memory");
	memset(out, 0, sizeof(*out));
	snprintf(out->parent, sizeof(out->parent), "skiff");
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		parse_line(line, out);

	if (out->nv1 == 0 && out->v2_root[0]) {
		out->mode = SKIFF_CGROUP_V2;
		out->v2_has_controllers = true;
	} else if (out->nv1 > 0 && out->v2_root[0]) {
		out->mode = SKIFF_CGROUP_HYBRID;
	} else if (out->nv1 > 0) {
		out->mode = SKIFF_CGROUP_V1;
	} else {
		return skiff_error_set(err, SKIFF_EUNAVAIL, ENOENT, "detecting cgroups: no cgroup filesystem mounted");
	}
	return 0;
}

int skiff_cgroup_detect(struct skiff_cgroup_layout *out, struct skiff_error *err)
{
	_cleanup_free_ char *text = NULL;
	int r = skiff_read_file("/proc/self/mountinfo", &text, NULL);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "reading /proc/self/mountinfo");
	r = skiff_cgroup_detect_from(text, out, err);
	if (r < 0)
		return r;
	if (out->mode == SKIFF_CGROUP_HYBRID) {
		/* a hybrid v2 mount normally has no resource controllers (hugetlb at
		 * most); if it does have memory, still keep limits on v1 where the
		 * controllers are bound — a controller lives in only one hierarchy. */
		out->v2_has_controllers = false;
	}
	return 0;
}

const char *skiff_cgroup_mode_name(int mode)
{
	switch (mode) {
	case SKIFF_CGROUP_V2:
		return "v2";
	case SKIFF_CGROUP_HYBRID:
		return "hybrid";
	case SKIFF_CGROUP_V1:
		return "v1";
	}
	return "unknown";
}

int skiff_cgroup_path(const struct skiff_cgroup_layout *l, const char *controller, const char *id, char *out,
		      size_t outlen)
{
	const char *root = NULL;
	int n;

	if (!controller) {
		root = l->v2_root[0] ? l->v2_root : NULL;
	} else {
		for (int i = 0; i < l->nv1 && !root; i++)
			if (skiff_cgroup_has_token(l->v1[i].controllers, controller))
				root = l->v1[i].root;
	}
	if (!root)
		return -ENOENT;
	if (id && *id)
		n = snprintf(out, outlen, "%s/%s/%s", root, l->parent, id);
	else
		n = snprintf(out, outlen, "%s/%s", root, l->parent);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int skiff_cgroup_limits_from_json(const json_t *hc, struct skiff_cgroup_limits *out, struct skiff_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!hc || json_is_null(hc))
		return 0;
	if (!json_is_object(hc))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "cgroup limits: expected an object");
	out->memory = skiff_json_int(hc, "Memory", 0);
	out->memory_swap = skiff_json_int(hc, "MemorySwap", 0);
	out->nano_cpus = skiff_json_int(hc, "NanoCpus", 0);
	out->cpu_shares = skiff_json_int(hc, "CpuShares", 0);
	out->cpu_quota = skiff_json_int(hc, "CpuQuota", 0);
	out->cpu_period = skiff_json_int(hc, "CpuPeriod", 0);
	out->pids_limit = skiff_json_int(hc, "PidsLimit", 0);
	snprintf(out->cpuset_cpus, sizeof(out->cpuset_cpus), "%s", skiff_json_str(hc, "CpusetCpus", ""));

	/* Docker's own validation, same words */
	if (out->memory < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid memory limit: %lld", (long long)out->memory);
	if (out->memory && out->memory < 6 * 1024 * 1024)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Minimum memory limit allowed is 6MB");
	if (out->memory_swap > 0 && out->memory && out->memory_swap < out->memory)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Minimum memoryswap limit should be larger than memory limit, see usage");
	if (out->memory_swap > 0 && !out->memory)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "You should always set the Memory limit when using Memoryswap limit, see usage");
	if (out->nano_cpus && (out->cpu_quota || out->cpu_period))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "Conflicting options: Nano CPUs and CPU Period cannot both be set");
	if (out->nano_cpus < 0 || out->cpu_shares < 0 || out->cpu_quota < -1 || out->cpu_period < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid CPU limit");
	if (out->cpu_period && (out->cpu_period < 1000 || out->cpu_period > 1000000))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
	if (out->cpu_quota > 0 && out->cpu_quota < 1000)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "CPU cfs quota can not be less than 1ms (i.e. 1000)");
	return 0;
}

unsigned long skiff_cgroup_shares_to_weight(unsigned long shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static struct skiff_cgroup_write *add(struct skiff_cgroup_write *w, size_t *n, const char *ctrl, const char *file,
				      bool optional, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static struct skiff_cgroup_write *add(struct skiff_cgroup_write *w, size_t *n, const char *ctrl, const char *file,
				      bool optional, const char *fmt, ...)
{
	va_list ap;
	if (*n >= SKIFF_CGROUP_MAX_WRITES)
		return NULL;
	struct skiff_cgroup_write *e = &w[(*n)++];
	e->controller = ctrl;
	e->optional = optional;
	snprintf(e->file, sizeof(e->file), "%s", file);
	va_start(ap, fmt);
	vsnprintf(e->value, sizeof(e->value), fmt, ap);
	va_end(ap);
	return e;
}

#define DEFAULT_CFS_PERIOD 100000LL

size_t skiff_cgroup_plan(const struct skiff_cgroup_layout *l, const struct skiff_cgroup_limits *lim,
			 struct skiff_cgroup_write *w)
{
	size_t n = 0;
	long long quota = 0, period = 0;

	if (lim->nano_cpus > 0) {
		period = DEFAULT_CFS_PERIOD;
		quota = lim->nano_cpus * DEFAULT_CFS_PERIOD / 1000000000LL;
		if (quota < 1000)
			quota = 1000; /* the kernel refuses less than 1ms */
	} else {
		quota = lim->cpu_quota;
		period = lim->cpu_period;
	}

	if (l->mode == SKIFF_CGROUP_V2 || l->v2_has_controllers) {
		if (lim->memory > 0) {
			add(w, &n, NULL, "memory.max", false, "%lld", (long long)lim->memory);
			if (lim->memory_swap == -1)
				add(w, &n, NULL, "memory.swap.max", true, "max");
			else if (lim->memory_swap > 0)
				add(w, &n, NULL, "memory.swap.max", true, "%lld",
				    (long long)(lim->memory_swap - lim->memory));
			else /* Docker: unset swap = as much swap as memory */
				add(w, &n, NULL, "memory.swap.max", true, "%lld", (long long)lim->memory);
		}
		if (lim->cpu_shares > 0)
			add(w, &n, NULL, "cpu.weight", false, "%lu",
			    skiff_cgroup_shares_to_weight((unsigned long)lim->cpu_shares));
		if (quota > 0 || period > 0) {
			char q[32];
			if (quota > 0)
				snprintf(q, sizeof(q), "%lld", quota);
			else
				snprintf(q, sizeof(q), "max");
			add(w, &n, NULL, "cpu.max", false, "%s %lld", q, period > 0 ? period : DEFAULT_CFS_PERIOD);
		}
		if (lim->cpuset_cpus[0])
			add(w, &n, NULL, "cpuset.cpus", false, "%s", lim->cpuset_cpus);
		if (lim->pids_limit > 0)
			add(w, &n, NULL, "pids.max", false, "%lld", (long long)lim->pids_limit);
		return n;
	}

	if (lim->memory > 0) {
		add(w, &n, "memory", "memory.limit_in_bytes", false, "%lld", (long long)lim->memory);
		if (lim->memory_swap == -1)
			add(w, &n, "memory", "memory.memsw.limit_in_bytes", true, "-1");
		else if (lim->memory_swap > 0)
			add(w, &n, "memory", "memory.memsw.limit_in_bytes", true, "%lld", (long long)lim->memory_swap);
		else
			add(w, &n, "memory", "memory.memsw.limit_in_bytes", true, "%lld", (long long)lim->memory * 2);
	}
	if (lim->cpu_shares > 0)
		add(w, &n, "cpu", "cpu.shares", false, "%lld", (long long)lim->cpu_shares);
	if (period > 0)
		add(w, &n, "cpu", "cpu.cfs_period_us", false, "%lld", period);
	if (quota > 0)
		add(w, &n, "cpu", "cpu.cfs_quota_us", false, "%lld", quota);
	if (lim->cpuset_cpus[0])
		add(w, &n, "cpuset", "cpuset.cpus", false, "%s", lim->cpuset_cpus);
	if (lim->pids_limit > 0)
		add(w, &n, "pids", "pids.max", false, "%lld", (long long)lim->pids_limit);
	return n;
}

static int apply_limits(const struct skiff_cgroup_layout *l, const char *id, const struct skiff_cgroup_limits *lim,
			struct skiff_error *err)
{
	struct skiff_cgroup_write w[SKIFF_CGROUP_MAX_WRITES];
	size_t n = skiff_cgroup_plan(l, lim, w);
	char dir[512], path[600];

	for (size_t i = 0; i < n; i++) {
		if (skiff_cgroup_path(l, w[i].controller, id, dir, sizeof(dir)) < 0) {
			if (w[i].optional)
				continue;
			return skiff_error_set(err, SKIFF_EUNAVAIL, ENOENT,
					       "setting %s: controller %s is not available on this host", w[i].file,
					       w[i].controller ? w[i].controller : "(v2)");
		}
		snprintf(path, sizeof(path), "%s/%s", dir, w[i].file);
		int r = skiff_write_file(path, w[i].value);
		/* no swap accounting (memsw / swap.max absent): Docker warns and
		 * goes on; we skip silently and the daemon can warn from Info. */
		if (r == -ENOENT && w[i].optional)
			continue;
		if (r < 0)
			return skiff_error_sys(err, r == -EINVAL || r == -EBUSY ? SKIFF_EINVAL : SKIFF_EINTERNAL, -r,
					       "setting %s to %s", w[i].file, w[i].value);
	}
	return 0;
}

int skiff_cgroup_create(const struct skiff_cgroup_layout *l, const char *id, const struct skiff_cgroup_limits *lim,
			struct skiff_error *err)
{
	int r = 0;
	if (l->nv1 > 0)
		r = skiff_cgroup_v1_create(l, id, err);
	if (r == 0 && l->v2_root[0])
		r = skiff_cgroup_v2_create(l, id, err);
	SPAWN_TRACE("cgroup: v2 mkdir");
	if (r == 0 && lim)
		r = apply_limits(l, id, lim, err);
	SPAWN_TRACE("cgroup: limits");
	if (r < 0) {
		skiff_cgroup_destroy(l, id);
		return skiff_error_wrap(err, "creating cgroup for '%.12s'", id);
	}
	return 0;
}

int skiff_cgroup_open_v2(const struct skiff_cgroup_layout *l, const char *id)
{
	char dir[512];
	if (skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) < 0)
		return -ENOENT;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int skiff_cgroup_enter(const struct skiff_cgroup_layout *l, const char *id, int pid, bool skip_v2,
		       struct skiff_error *err)
{
	char dir[512], path[600], val[32];
	snprintf(val, sizeof(val), "%d", pid);
	for (int i = 0; i < l->nv1; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s/cgroup.procs", l->v1[i].root, l->parent, id);
		int r = skiff_write_file(path, val);
		if (r < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "moving %d into %s", pid, path);
	}
	if (!skip_v2 && skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) == 0) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		int r = skiff_write_file(path, val);
		if (r < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "moving %d into %s", pid, path);
	}
	return 0;
}

static int read_pids(const char *dir, int **pids, size_t *n)
{
	char path[600];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int r = skiff_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	size_t cap = 16, cnt = 0;
	int *v = malloc(cap * sizeof(int));
	if (!v)
		return -ENOMEM;
	for (char *p = text; *p;) {
		char *end;
		long x = strtol(p, &end, 10);
		if (end == p)
			break;
		if (cnt == cap) {
			int *nv = realloc(v, (cap *= 2) * sizeof(int));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = (int)x;
		p = end;
		while (*p == '\n')
			p++;
	}
	*pids = v;
	*n = cnt;
	return 0;
}

int skiff_cgroup_kill_and_remove(const char *dir, bool v2)
{
	char path[600];
	struct stat st;

	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (v2) {
		snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
		skiff_write_file(path, "1");
	}
	for (int attempt = 0; attempt < 200; attempt++) {
		int *pids = NULL;
		size_t n = 0;
		if (read_pids(dir, &pids, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				kill(pids[i], SIGKILL);
			free(pids);
		}
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		/* dying tasks leave the cgroup asynchronously */
		struct timespec ts = { 0, attempt < 20 ? 500000 : 10000000 };
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

int skiff_cgroup_destroy(const struct skiff_cgroup_layout *l, const char *id)
{
	char dir[512];
	int ret = 0, r;

	if (!id || !*id)
		return -EINVAL;
	/* the usual case: the init has exited and been reaped, every cgroup is
	 * empty and one rmdir each is all it takes */
	bool busy = false;
	if (skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) == 0 && rmdir(dir) < 0 && errno != ENOENT)
		busy = true;
	for (int i = 0; i < l->nv1; i++) {
		snprintf(dir, sizeof(dir), "%s/%s/%s", l->v1[i].root, l->parent, id);
		if (rmdir(dir) < 0 && errno != ENOENT)
			busy = true;
	}
	if (!busy)
		return 0;
	/* frozen tasks never die from SIGKILL on v1: thaw first */
	if (skiff_cgroup_path(l, "freezer", id, dir, sizeof(dir)) == 0 && access(dir, F_OK) == 0)
		skiff_cgroup_v1_freeze(l, id, false, NULL);
	if (skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) == 0) {
		r = skiff_cgroup_kill_and_remove(dir, true);
		if (r < 0 && !ret)
			ret = r;
	}
	for (int i = 0; i < l->nv1; i++) {
		snprintf(dir, sizeof(dir), "%s/%s/%s", l->v1[i].root, l->parent, id);
		r = skiff_cgroup_kill_and_remove(dir, false);
		if (r < 0 && !ret)
			ret = r;
	}
	return ret;
}

void skiff_cgroup_remove_parent(const struct skiff_cgroup_layout *l)
{
	char dir[512];
	for (int i = 0; i < l->nv1; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", l->v1[i].root, l->parent);
		rmdir(dir);
	}
	if (l->v2_root[0]) {
		snprintf(dir, sizeof(dir), "%s/%s", l->v2_root, l->parent);
		rmdir(dir);
	}
}

int skiff_cgroup_freeze(const struct skiff_cgroup_layout *l, const char *id, bool frozen, struct skiff_error *err)
{
	char dir[512];
	if (skiff_cgroup_path(l, "freezer", id, dir, sizeof(dir)) == 0)
		return skiff_cgroup_v1_freeze(l, id, frozen, err);
	if (l->v2_root[0])
		return skiff_cgroup_v2_freeze(l, id, frozen, err);
	return skiff_error_set(err, SKIFF_EUNAVAIL, ENOENT, "no freezer cgroup on this host");
}

int skiff_cgroup_pids(const struct skiff_cgroup_layout *l, const char *id, int **pids, size_t *n)
{
	static const char *const prefer[] = { "pids", "memory", "cpu", "freezer" };
	char dir[512];

	*pids = NULL;
	*n = 0;
	if (l->mode == SKIFF_CGROUP_V2 && skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) == 0)
		return read_pids(dir, pids, n);
	for (size_t i = 0; i < ARRAY_SIZE(prefer); i++)
		if (skiff_cgroup_path(l, prefer[i], id, dir, sizeof(dir)) == 0)
			return read_pids(dir, pids, n);
	if (skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) == 0)
		return read_pids(dir, pids, n);
	return -ENOENT;
}

static long long key_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return atoll(p + kl + 1);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

bool skiff_cgroup_oom_killed(const struct skiff_cgroup_layout *l, const char *id)
{
	char dir[512], path[600];
	_cleanup_free_ char *text = NULL;

	if (l->mode == SKIFF_CGROUP_V2) {
		if (skiff_cgroup_path(l, NULL, id, dir, sizeof(dir)) < 0)
			return false;
		snprintf(path, sizeof(path), "%s/memory.events", dir);
	} else {
		if (skiff_cgroup_path(l, "memory", id, dir, sizeof(dir)) < 0)
			return false;
		snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
	}
	if (skiff_read_file(path, &text, NULL) < 0)
		return false;
	return key_value(text, "oom_kill") > 0;
}
