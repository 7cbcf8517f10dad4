/* skiff-monitor end to end through skiffd's client: a real monitor from
 * build/bin (SKIFF_MONITOR_BIN overrides), containers from a temp busybox
 * rootfs, attach before spawn, logs, exit records and events, stdin once,
 * and a "skiffd" that dies and reconnects while containers run. */
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/lib/json.h"
#include "../../userspace/runtime/monitor-client.h"
#include "../../userspace/runtime/monitor-proto.h"

struct seen {
	char out[8192];
	size_t outlen;
	char err[1024];
	size_t errlen;
	int stdin_fd;
	bool got_stdin, ended;
	int nexits;
	char exit_id[80];
	int exit_code;
};

static void on_exit_cb(const struct skiff_monitor_exit *ex, void *data)
{
	struct seen *s = data;
	s->nexits++;
	snprintf(s->exit_id, sizeof(s->exit_id), "%s", ex->id);
	s->exit_code = ex->exit_code;
}

static void on_stdin_cb(int fd, void *data)
{
	struct seen *s = data;
	s->got_stdin = true;
	s->stdin_fd = fd;
}

static void on_output_cb(int stream, const void *buf, size_t len, void *data)
{
	struct seen *s = data;
	char *dst = stream == 1 ? s->out : s->err;
	size_t *l = stream == 1 ? &s->outlen : &s->errlen;
	size_t cap = stream == 1 ? sizeof(s->out) : sizeof(s->err);
	if (*l + len >= cap)
		len = cap - *l - 1;
	memcpy(dst + *l, buf, len);
	*l += len;
	dst[*l] = '\0';
}

static void on_end_cb(void *data)
{
	((struct seen *)data)->ended = true;
}

/* Runs the loop until *flag or ms pass. */
static bool loop_until(struct event_base *b, volatile bool *flag, int ms)
{
	for (int i = 0; i < ms / 10 && !*flag; i++) {
		struct timeval tv = { 0, 10000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	return *flag;
}

static bool loop_until_exits(struct event_base *b, struct seen *s, int n, int ms)
{
	for (int i = 0; i < ms / 10 && s->nexits < n; i++) {
		struct timeval tv = { 0, 10000 };
		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	return s->nexits >= n;
}

static pid_t read_pidfile(const char *exec_root)
{
	char p[PATH_MAX];
	_cleanup_free_ char *s = NULL;
	snprintf(p, sizeof(p), "%s/monitor.pid", exec_root);
	if (skiff_read_file(p, &s, NULL) < 0)
		return -1;
	return (pid_t)atoi(s);
}

static pid_t ppid_of(pid_t pid)
{
	char p[64];
	_cleanup_free_ char *s = NULL;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (skiff_read_file(p, &s, NULL) < 0)
		return -1;
	char *rp = strrchr(s, ')');
	int ppid = -1;
	char st;
	if (rp)
		sscanf(rp + 2, "%c %d", &st, &ppid);
	return ppid;
}

static int make_rootfs(const char *dir)
{
	static const char *const applets[] = { "sh", "echo", "cat", "sleep", "true", "ls", "kill", "stty" };
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/bin", dir);
	if (skiff_mkdir_p(p, 0755) < 0)
		return -1;
	snprintf(p, sizeof(p), "cp /bin/busybox %s/bin/busybox", dir);
	if (system(p) != 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
		snprintf(p, sizeof(p), "%s/bin/%s", dir, applets[i]);
		if (symlink("busybox", p) < 0)
			return -1;
	}
	static const char *const dirs[] = { "proc", "sys", "dev", "etc", "tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, dirs[i]);
		mkdir(p, 0755);
	}
	return 0;
}

FIXTURE(mon)
{
	char tmp[64];
	char exec_root[128], data_root[128], rootfs[128];
	char bin[PATH_MAX];
	char cgparent[64];
	struct event_base *base;
	struct skiff_monitor *m;
	struct seen s;
	int nctr;
};

FIXTURE_SETUP(mon)
{
	const char *bin = getenv("SKIFF_MONITOR_BIN");
	char cwd[PATH_MAX];

	if (geteuid() != 0)
		SKIP(return, "needs root");
	if (bin)
		snprintf(self->bin, sizeof(self->bin), "%s", bin);
	else
		snprintf(self->bin, sizeof(self->bin), "%s/build/bin/skiff-monitor", getcwd(cwd, sizeof(cwd)));
	if (access(self->bin, X_OK) < 0)
		SKIP(return, "no %s (make build/bin/skiff-monitor)", self->bin);
	if (access("/bin/busybox", X_OK) < 0)
		SKIP(return, "no /bin/busybox");
	strcpy(self->tmp, "/tmp/skiff-test-monitor.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->tmp));
	snprintf(self->exec_root, sizeof(self->exec_root), "%s/run", self->tmp);
	snprintf(self->data_root, sizeof(self->data_root), "%s/lib", self->tmp);
	snprintf(self->rootfs, sizeof(self->rootfs), "%s/rootfs", self->tmp);
	ASSERT_EQ(0, make_rootfs(self->rootfs));
	/* our own cgroup parent, inherited by the monitor the client starts */
	snprintf(self->cgparent, sizeof(self->cgparent), "skiff-test-monitor-%d", (int)getpid());
	setenv("SKIFF_CGROUP_PARENT", self->cgparent, 1);
	self->base = event_base_new();
	ASSERT_NE(NULL, self->base);
	self->s.stdin_fd = -1;
	struct skiff_monitor_ops ops = { .on_exit = on_exit_cb, .data = &self->s };
	struct skiff_error err = { 0 };
	int r = skiff_monitor_connect(self->base, self->bin, self->exec_root, self->data_root, &ops, &self->m, &err);
	ASSERT_EQ(0, r) TH_LOG("%s", err.msg);
}

FIXTURE_TEARDOWN(mon)
{
	if (!self->base)
		return;
	pid_t pid = read_pidfile(self->exec_root);
	skiff_monitor_free(self->m);
	if (pid > 0) {
		/* containers are gone by now, so SIGTERM is a clean exit */
		kill(pid, SIGTERM);
		for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
			usleep(10000);
		if (kill(pid, 0) == 0) {
			kill(pid, SIGKILL);
			usleep(100000);
		}
	}
	event_base_free(self->base);
	/* overlay dirs may hold a mount if spawn failed half-way */
	char p[PATH_MAX];
	for (int i = 0; i < self->nctr; i++) {
		snprintf(p, sizeof(p), "%s/c%d/merged", self->tmp, i);
		umount2(p, MNT_DETACH);
	}
	skiff_rm_rf(self->tmp);
	/* the per-test cgroup parents (container cgroups are gone with their monitor records) */
	glob_t g;
	snprintf(p, sizeof(p), "/sys/fs/cgroup/*/%s", self->cgparent);
	if (glob(p, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			rmdir(g.gl_pathv[i]);
		globfree(&g);
	}
	snprintf(p, sizeof(p), "/sys/fs/cgroup/%s", self->cgparent);
	rmdir(p);
}

/* A runtime spec for the temp rootfs; makes containers/<id>/ like skiffd. */
static json_t *make_spec(struct _test_data_mon *self, char id[65], const char *cmd, bool stdin_on, bool stdin_once)
{
	char p[PATH_MAX], up[PATH_MAX], wk[PATH_MAX], tg[PATH_MAX];
	int n = self->nctr++;

	snprintf(id, 65, "%064x", (unsigned)(getpid() * 100 + n));
	memset(id, 'a', 8);
	snprintf(p, sizeof(p), "%s/containers/%s", self->data_root, id);
	skiff_mkdir_p(p, 0700);
	snprintf(up, sizeof(up), "%s/c%d/upper", self->tmp, n);
	snprintf(wk, sizeof(wk), "%s/c%d/work", self->tmp, n);
	snprintf(tg, sizeof(tg), "%s/c%d/merged", self->tmp, n);
	skiff_mkdir_p(up, 0755);
	skiff_mkdir_p(wk, 0755);
	skiff_mkdir_p(tg, 0755);
	return json_pack("{s:s, s:[s,s,s], s:[s], s:s, s:b, s:b, s:{s:[s], s:s, s:s, s:s}, s:{}}", "id", id, "args",
			 "/bin/sh", "-c", cmd, "env", "PATH=/bin", "cwd", "/", "stdin", stdin_on, "stdin_once",
			 stdin_once, "rootfs", "lower", self->rootfs, "upper", up, "work", wk, "target", tg,
			 "cgroup");
}

static int read_exit_json(const char *data_root, const char *id, int *code)
{
	return skiff_monitor_read_exit(data_root, id, code, NULL, NULL);
}

TEST_F(mon, detached_and_private)
{
	struct stat st;
	char p[PATH_MAX];
	json_t *list = NULL;
	struct skiff_error err = { 0 };
	pid_t pid = read_pidfile(self->exec_root);

	ASSERT_GT(pid, 0);
	EXPECT_NE(getpid(), ppid_of(pid)); /* not our child: survives skiffd */
	EXPECT_NE(getpgid(0), getpgid(pid));
	snprintf(p, sizeof(p), "%s/monitor.sock", self->exec_root);
	ASSERT_EQ(0, stat(p, &st));
	EXPECT_EQ(0600, st.st_mode & 0777);
	ASSERT_EQ(0, skiff_monitor_list(self->m, &list, &err));
	EXPECT_EQ(0, json_object_size(list));
	json_decref(list);
	EXPECT_GT(0, skiff_monitor_kill(self->m, "nosuch", SIGTERM, &err));
	EXPECT_EQ(409, err.status);
	/* a second monitor for the same exec-root steps aside */
	snprintf(p, sizeof(p), "%s --exec-root %s --data-root %s 2>/dev/null", self->bin, self->exec_root,
		 self->data_root);
	EXPECT_EQ(0, system(p));
	EXPECT_EQ(0, kill(pid, 0));
}

TEST_F(mon, attach_before_spawn_logs_and_exit)
{
	char id[65], p[PATH_MAX];
	struct skiff_error err = { 0 };
	struct skiff_attach *a = NULL;
	struct skiff_attach_ops aops = { .on_stdin = on_stdin_cb, .on_output = on_output_cb, .on_end = on_end_cb, .data = &self->s };
	_cleanup_json_ json_t *spec = make_spec(self, id, "echo hi; echo oops >&2; printf part; exit 3", false, false);
	pid_t pid = 0;
	int code = -1;

	ASSERT_EQ(0, skiff_monitor_attach(self->m, id, false, &aops, &a, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_monitor_spawn(self->m, spec, &pid, &err)) TH_LOG("%s", err.msg);
	EXPECT_GT(pid, 0);
	ASSERT_TRUE(loop_until(self->base, &self->s.ended, 5000));
	EXPECT_STREQ("hi\npart", self->s.out);
	EXPECT_STREQ("oops\n", self->s.err);
	EXPECT_TRUE(self->s.got_stdin);
	EXPECT_EQ(-1, self->s.stdin_fd);
	ASSERT_TRUE(loop_until_exits(self->base, &self->s, 1, 5000));
	EXPECT_STREQ(id, self->s.exit_id);
	EXPECT_EQ(3, self->s.exit_code);
	skiff_attach_close(a);

	ASSERT_EQ(0, read_exit_json(self->data_root, id, &code));
	EXPECT_EQ(3, code);
	/* json-file log: three entries, the partial one without \n */
	_cleanup_free_ char *log = NULL;
	snprintf(p, sizeof(p), "%s/containers/%s/%s-json.log", self->data_root, id, id);
	ASSERT_EQ(0, skiff_read_file(p, &log, NULL));
	EXPECT_NE(NULL, strstr(log, "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\""));
	EXPECT_NE(NULL, strstr(log, "{\"log\":\"oops\\n\",\"stream\":\"stderr\""));
	EXPECT_NE(NULL, strstr(log, "{\"log\":\"part\",\"stream\":\"stdout\""));
	/* its cgroups went with it */
	glob_t g = { 0 };
	snprintf(p, sizeof(p), "/sys/fs/cgroup/*/%s/%s", self->cgparent, id);
	EXPECT_EQ(GLOB_NOMATCH, glob(p, 0, NULL, &g));
	globfree(&g);
	/* a forgotten container leaves nothing in the monitor */
	EXPECT_EQ(0, skiff_monitor_forget(self->m, id, &err));
}

TEST_F(mon, stdin_once_eof_ends_container)
{
	char id[65];
	struct skiff_error err = { 0 };
	struct skiff_attach *a = NULL;
	struct skiff_attach_ops aops = { .on_stdin = on_stdin_cb, .on_output = on_output_cb, .on_end = on_end_cb, .data = &self->s };
	_cleanup_json_ json_t *spec = make_spec(self, id, "cat; echo done", true, true);

	ASSERT_EQ(0, skiff_monitor_attach(self->m, id, true, &aops, &a, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_monitor_spawn(self->m, spec, NULL, &err)) TH_LOG("%s", err.msg);
	ASSERT_TRUE(loop_until(self->base, &self->s.got_stdin, 5000));
	ASSERT_LE(0, self->s.stdin_fd);
	ASSERT_EQ(2, write(self->s.stdin_fd, "x\n", 2));
	close(self->s.stdin_fd); /* the only copy: cat sees EOF */
	ASSERT_TRUE(loop_until(self->base, &self->s.ended, 5000));
	EXPECT_STREQ("x\ndone\n", self->s.out);
	ASSERT_TRUE(loop_until_exits(self->base, &self->s, 1, 5000));
	EXPECT_EQ(0, self->s.exit_code);
	skiff_attach_close(a);
}

TEST_F(mon, kill_gives_128_plus_signal)
{
	char id[65];
	struct skiff_error err = { 0 };
	_cleanup_json_ json_t *spec = make_spec(self, id, "while true; do sleep 0.1; done", false, false);
	int code = -1;

	ASSERT_EQ(0, skiff_monitor_spawn(self->m, spec, NULL, &err)) TH_LOG("%s", err.msg);
	EXPECT_GT(0, skiff_monitor_spawn(self->m, spec, NULL, &err)); /* already running */
	EXPECT_EQ(409, err.status);
	ASSERT_EQ(0, skiff_monitor_kill(self->m, id, SIGKILL, &err)) TH_LOG("%s", err.msg);
	ASSERT_TRUE(loop_until_exits(self->base, &self->s, 1, 5000));
	EXPECT_EQ(137, self->s.exit_code);
	ASSERT_EQ(0, read_exit_json(self->data_root, id, &code));
	EXPECT_EQ(137, code);
}

TEST_F(mon, spawn_failure_reports_exit_code)
{
	char id[65];
	struct skiff_error err = { 0 };
	_cleanup_json_ json_t *spec = make_spec(self, id, "x", false, false);

	struct skiff_attach *a = NULL;
	struct skiff_attach_ops aops = { .on_stdin = on_stdin_cb, .on_output = on_output_cb, .on_end = on_end_cb, .data = &self->s };

	ASSERT_EQ(0, skiff_monitor_attach(self->m, id, true, &aops, &a, &err)) TH_LOG("%s", err.msg);
	json_object_set_new(spec, "args", json_pack("[s]", "/nosuch-binary"));
	EXPECT_GT(0, skiff_monitor_spawn(self->m, spec, NULL, &err));
	/* the attacher of the failed run is ended, as Docker closes its streams */
	EXPECT_TRUE(loop_until(self->base, &self->s.ended, 3000));
	EXPECT_FALSE(self->s.got_stdin);
	skiff_attach_close(a);
	TH_LOG("spawn error: %s", err.msg);
	EXPECT_EQ(400, err.status);
	EXPECT_EQ(127, skiff_monitor_spawn_exit_code(&err));
}

TEST_F(mon, tty_resize_and_output)
{
	char id[65];
	struct skiff_error err = { 0 };
	struct skiff_attach *a = NULL;
	struct skiff_attach_ops aops = { .on_stdin = on_stdin_cb, .on_output = on_output_cb, .on_end = on_end_cb, .data = &self->s };
	_cleanup_json_ json_t *spec = make_spec(self, id, "read x; stty size; exit 5", true, false);

	json_object_set_new(spec, "tty", json_true());
	ASSERT_EQ(0, skiff_monitor_attach(self->m, id, true, &aops, &a, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_monitor_spawn(self->m, spec, NULL, &err)) TH_LOG("%s", err.msg);
	ASSERT_TRUE(loop_until(self->base, &self->s.got_stdin, 5000));
	ASSERT_LE(0, self->s.stdin_fd);
	ASSERT_EQ(0, skiff_monitor_resize(self->m, id, 31, 101, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(1, write(self->s.stdin_fd, "\n", 1));
	ASSERT_TRUE(loop_until(self->base, &self->s.ended, 5000));
	EXPECT_NE(NULL, strstr(self->s.out, "31 101\r\n")) TH_LOG("out: %s", self->s.out);
	EXPECT_EQ(0, self->s.errlen); /* a tty has one stream */
	close(self->s.stdin_fd);
	ASSERT_TRUE(loop_until_exits(self->base, &self->s, 1, 5000));
	EXPECT_EQ(5, self->s.exit_code);
	EXPECT_GT(0, skiff_monitor_resize(self->m, id, 1, 1, &err)); /* gone */
	skiff_attach_close(a);
}

TEST_F(mon, skiffd_dies_and_reconnects)
{
	char a_id[65], b_id[65];
	struct skiff_error err = { 0 };
	/* pid 1 ignores signals it has no handler for */
	_cleanup_json_ json_t *a = make_spec(self, a_id, "trap 'exit 143' TERM; while true; do sleep 0.1; done", false, false);
	_cleanup_json_ json_t *b = make_spec(self, b_id, "sleep 0.3; exit 7", false, false);
	struct skiff_monitor_ops ops = { .on_exit = on_exit_cb, .data = &self->s };
	pid_t mpid = read_pidfile(self->exec_root);
	json_t *list = NULL;
	pid_t apid = 0;
	int code = -1;

	ASSERT_EQ(0, skiff_monitor_spawn(self->m, a, &apid, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, skiff_monitor_spawn(self->m, b, NULL, &err)) TH_LOG("%s", err.msg);
	/* skiffd goes away; b exits while nobody listens */
	skiff_monitor_free(self->m);
	self->m = NULL;
	usleep(800000);
	EXPECT_EQ(0, kill(mpid, 0));
	EXPECT_EQ(0, read_exit_json(self->data_root, b_id, &code));
	EXPECT_EQ(7, code);

	ASSERT_EQ(0, skiff_monitor_connect(self->base, self->bin, self->exec_root, self->data_root, &ops, &self->m,
					   &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(mpid, read_pidfile(self->exec_root)); /* same monitor, not a new one */
	ASSERT_EQ(0, skiff_monitor_list(self->m, &list, &err));
	EXPECT_EQ(1, json_object_size(list));
	EXPECT_EQ(apid, skiff_json_int(json_object_get(list, a_id), "pid", 0));
	EXPECT_NE(NULL, skiff_json_str(json_object_get(list, a_id), "started_at", NULL));
	json_decref(list);
	/* the exit that happened while away is delivered */
	ASSERT_TRUE(loop_until_exits(self->base, &self->s, 1, 3000));
	EXPECT_STREQ(b_id, self->s.exit_id);
	EXPECT_EQ(7, self->s.exit_code);
	/* and a later exit of the survivor too */
	ASSERT_EQ(0, skiff_monitor_kill(self->m, a_id, SIGTERM, &err));
	ASSERT_TRUE(loop_until_exits(self->base, &self->s, 2, 5000));
	EXPECT_STREQ(a_id, self->s.exit_id);
	EXPECT_EQ(143, self->s.exit_code);
	ASSERT_EQ(0, read_exit_json(self->data_root, a_id, &code));
	EXPECT_EQ(143, code);
}

TEST_F(mon, monitor_death_ends_attaches_and_restarts)
{
	char id[65];
	struct skiff_error err = { 0 };
	struct skiff_attach *a = NULL;
	struct skiff_attach_ops aops = { .on_stdin = on_stdin_cb, .on_output = on_output_cb, .on_end = on_end_cb, .data = &self->s };
	pid_t mpid = read_pidfile(self->exec_root);
	json_t *list = NULL;

	snprintf(id, sizeof(id), "%s", "idle");
	ASSERT_EQ(0, skiff_monitor_attach(self->m, id, false, &aops, &a, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, kill(mpid, SIGKILL));
	ASSERT_TRUE(loop_until(self->base, &self->s.ended, 3000));
	skiff_attach_close(a);
	/* the next request starts a new monitor */
	ASSERT_EQ(0, skiff_monitor_list(self->m, &list, &err)) TH_LOG("%s", err.msg);
	json_decref(list);
	EXPECT_NE(mpid, read_pidfile(self->exec_root));
}

TEST_HARNESS_MAIN
