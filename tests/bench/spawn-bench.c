/* Start-path micro-benchmark of skiff_spawn against its floor, in one
 * process: bare fork+exec of /bin/true, `unshare -fpmnuic --mount-proc true`,
 * and skiff_spawn of busybox `true` (one lower layer, like test-spawn.c) with
 * the host network and with a new netns. Not part of `make`; build by hand:
 *   make build/libskiff.a
 *   gcc -O2 -D_GNU_SOURCE -o build/spawn-bench tests/bench/spawn-bench.c build/libskiff.a \
 *       $(pkg-config --libs jansson libseccomp libevent zlib libcrypto) -lpthread
 *   build/spawn-bench -n 50         (BENCH_ONLY=host|new for one variant)
 * SKIFF_SPAWN_TRACE=1 adds one stderr line per step of skiff_spawn (see
 * userspace/runtime/spawn-trace.h); take per-step medians of the "+µs" field.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../userspace/lib/fs.h"
#include "../../userspace/runtime/spawn.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%-44s median %8.0f us   p10 %8.0f   p90 %8.0f\n", what, v[n / 2], v[n / 10], v[n * 9 / 10]);
}

static double run_argv(char *const argv[])
{
	double t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "%s failed: %#x\n", argv[0], st);
	return now_us() - t0;
}

static void put(const char *dir, const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static json_t *make_spec(const char *dir, const char *net, bool limits)
{
	char lower[128], upper[128], work[128], merged[128], hn[128], hosts[128], resolv[128];
	snprintf(lower, sizeof(lower), "%s/lower", dir);
	snprintf(upper, sizeof(upper), "%s/upper", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	snprintf(merged, sizeof(merged), "%s/merged", dir);
	snprintf(hn, sizeof(hn), "%s/hostname", dir);
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	snprintf(resolv, sizeof(resolv), "%s/resolv.conf", dir);
	json_t *cg = limits ? json_pack("{s:I, s:I}", "Memory", (json_int_t)(64 << 20), "PidsLimit", (json_int_t)33)
			    : json_object();
	return json_pack("{s:s, s:[s], s:[s,s], s:s, s:s, s:{s:[s], s:s, s:s, s:s}, s:{s:s, s:s, s:s},"
			 " s:{s:s, s:s, s:s, s:s, s:s}, s:o, s:[], s:[]}",
			 "id", "bench0", "args", "/bin/true", "env", "PATH=/bin", "HOSTNAME=box", "hostname", "box",
			 "cwd", "/", "rootfs", "lower", lower, "upper", upper, "work", work, "target", merged,
			 "etc_files", "hostname", hn, "hosts", hosts, "resolv.conf", resolv, "namespaces", "net", net,
			 "pid", "new", "ipc", "new", "uts", "new", "cgroup", "new", "cgroup", cg, "mounts", "rlimits");
}

static void bench_spawn(struct skiff_cgroup_layout *cg, const char *dir, const char *net, bool limits, int n)
{
	double *t_exec = calloc((size_t)n, sizeof(double)), *t_exit = calloc((size_t)n, sizeof(double));
	double *t_destroy = calloc((size_t)n, sizeof(double)), *t_all = calloc((size_t)n, sizeof(double));
	json_t *spec = make_spec(dir, net, limits);
	char label[96];

	for (int i = 0; i < n; i++) {
		struct skiff_error err = { 0 };
		struct skiff_proc p;
		char d[128];
		/* a fresh container: empty upper and work, like the daemon makes */
		static const char *const fresh[] = { "upper", "work" };
		for (size_t k = 0; k < 2; k++) {
			snprintf(d, sizeof(d), "%s/%s", dir, fresh[k]);
			skiff_rm_rf(d);
			mkdir(d, 0755);
		}
		double t0 = now_us();
		if (skiff_spawn(cg, spec, &p, &err) < 0) {
			fprintf(stderr, "spawn: %s\n", err.msg);
			exit(1);
		}
		double t1 = now_us();
		char buf[256];
		while (read(p.stdout_fd, buf, sizeof(buf)) > 0)
			;
		int st;
		waitpid(p.pid, &st, 0);
		double t2 = now_us();
		skiff_cgroup_destroy(cg, "bench0");
		double t3 = now_us();
		close(p.stdout_fd);
		close(p.stderr_fd);
		close(p.pidfd);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fprintf(stderr, "container failed: %#x\n", st);
		t_exec[i] = t1 - t0;
		t_exit[i] = t2 - t1;
		t_destroy[i] = t3 - t2;
		t_all[i] = t3 - t0;
	}
	snprintf(label, sizeof(label), "skiff_spawn net=%s%s: to exec", net, limits ? " +limits" : "");
	report(label, t_exec, n);
	report("    exec -> exit reaped", t_exit, n);
	report("    cgroup destroy", t_destroy, n);
	report("    total", t_all, n);
	json_decref(spec);
	free(t_exec);
	free(t_exit);
	free(t_destroy);
	free(t_all);
}

int main(int argc, char **argv)
{
	int n = 50;
	char dir[64] = "/tmp/skiff-bench-XXXXXX", p[600], cmd[512];
	struct skiff_cgroup_layout cg;
	struct skiff_error err = { 0 };

	if (argc > 2 && !strcmp(argv[1], "-n"))
		n = atoi(argv[2]);
	if (n < 10)
		n = 10;
	if (!mkdtemp(dir))
		return 1;
	/* the layout of tools/mkimage-busybox's image */
	static const char *const sub[] = { "lower/bin",	 "lower/etc", "lower/tmp", "lower/root", "lower/home",
					   "lower/proc", "lower/sys", "lower/dev", "upper",	 "work",
					   "merged" };
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
		skiff_mkdir_p(p, 0755);
	}
	snprintf(cmd, sizeof(cmd),
		 "cp /bin/busybox %s/lower/bin/ && for a in $(/bin/busybox --list | grep -vx busybox); do "
		 "ln -sf busybox %s/lower/bin/$a; done",
		 dir, dir);
	if (system(cmd))
		return 1;
	put(dir, "lower/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
	put(dir, "lower/etc/group", "root:x:0:\n");
	put(dir, "hostname", "box\n");
	put(dir, "hosts", "127.0.0.1 localhost\n");
	put(dir, "resolv.conf", "nameserver 127.0.0.53\n");
	if (skiff_cgroup_detect(&cg, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	snprintf(cg.parent, sizeof(cg.parent), "skiff-bench-%d", getpid());

	double *v = calloc((size_t)n, sizeof(double));
	char *const tru[] = { "/bin/true", NULL };
	char *const unsh[] = { "/usr/bin/unshare", "-fpmnuic", "--mount-proc", "true", NULL };
	char *const unsh_nonet[] = { "/usr/bin/unshare", "-fpmuic", "--mount-proc", "true", NULL };
	printf("%d runs, mode %s, %d v1 hierarchies\n", n, skiff_cgroup_mode_name(cg.mode), cg.nv1);
	for (int i = 0; i < n; i++)
		v[i] = run_argv(tru);
	report("fork+exec /bin/true", v, n);
	for (int i = 0; i < n; i++)
		v[i] = run_argv(unsh);
	report("unshare -fpmnuic --mount-proc true", v, n);
	for (int i = 0; i < n; i++)
		v[i] = run_argv(unsh_nonet);
	report("unshare -fpmuic --mount-proc true (no net)", v, n);
	const char *only = getenv("BENCH_ONLY");
	if (!only || !strcmp(only, "host"))
		bench_spawn(&cg, dir, "host", false, n);
	if (!only || !strcmp(only, "new"))
		bench_spawn(&cg, dir, "new", false, n);
	if (!only)
		bench_spawn(&cg, dir, "new", true, n);

	for (int i = 0; i < cg.nv1; i++) {
		snprintf(p, sizeof(p), "%s/%s", cg.v1[i].root, cg.parent);
		rmdir(p);
	}
	if (cg.v2_root[0]) {
		snprintf(p, sizeof(p), "%s/%s", cg.v2_root, cg.parent);
		rmdir(p);
	}
	skiff_rm_rf(dir);
	free(v);
	return 0;
}
