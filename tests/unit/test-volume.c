/* Unit tests for the volume store in a temp data root: Docker's name rule,
 * create/inspect/list/remove/prune with filters, option checks, usage refs
 * (persisted, reconciled), tmpfs and bind host mounts, events, and the
 * copy-up keeping modes, owners, xattrs, links and times. */
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../userspace/daemon/events.h"
#include "../../userspace/daemon/volume.h"
#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/lib/json.h"

static const struct {
	const char *name;
	bool ok;
} names[] = {
    {"ab", true},    {"myvol", true},	   {"My.Vol_1-x", true},   {"0a", true},   {"a", false},
    {"", false},     {"..", false},	   {".", false},	   {"a/b", false}, {"../etc", false},
    {"-a", false},   {"_a", false},	   {".hidden", false},	   {"a b", false}, {"a:b", false},
    {"a\nb", false}, {"/abs/path", false}, {"caf\xc3\xa9", false},
};

TEST(name_rule)
{
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		EXPECT_EQ(names[i].ok, skiff_volume_name_valid(names[i].name)) { TH_LOG("name '%s'", names[i].name); }
	}
	EXPECT_FALSE(skiff_volume_name_valid(NULL));
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	EXPECT_FALSE(skiff_volume_name_valid(long_name));
}

FIXTURE(vol)
{
	char root[64];
	char host[64];
	struct skiff_volumes *vs;
	struct skiff_events *ev;
};

FIXTURE_SETUP(vol)
{
	struct skiff_error err = {0};
	strcpy(self->root, "/tmp/skiff-test-volume-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->root));
	strcpy(self->host, "/tmp/skiff-test-volume-host-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->host));
	self->ev = skiff_events_new();
	ASSERT_NE(NULL, self->ev);
	ASSERT_EQ(0, skiff_volumes_open(self->root, self->ev, &self->vs, &err)) TH_LOG("%s", err.msg);
}

/* Lazily unmounts anything left under dir (a failed test must not leak mounts). */
static void unmount_under(const char *dir)
{
	for (int pass = 0; pass < 8; pass++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char line[4096], mp[4096];
		bool any = false;
		if (!f)
			return;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strncmp(mp, dir, strlen(dir))) {
				umount2(mp, MNT_DETACH);
				any = true;
			}
		}
		fclose(f);
		if (!any)
			return;
	}
}

FIXTURE_TEARDOWN(vol)
{
	skiff_volumes_close(self->vs);
	skiff_events_free(self->ev);
	unmount_under(self->root);
	skiff_rm_rf(self->root);
	skiff_rm_rf(self->host);
}

static json_t *opts2(const char *k1, const char *v1, const char *k2, const char *v2, const char *k3, const char *v3)
{
	json_t *o = json_object();
	if (k1)
		json_object_set_new(o, k1, json_string(v1));
	if (k2)
		json_object_set_new(o, k2, json_string(v2));
	if (k3)
		json_object_set_new(o, k3, json_string(v3));
	return o;
}

static bool path_exists(const char *root, const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

static bool is_mounted(const char *path)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
}

static int list_count(struct skiff_volumes *vs, const char *filters_json)
{
	struct skiff_error err = {0};
	_cleanup_json_ json_t *f = filters_json ? json_loads(filters_json, 0, NULL) : NULL;
	_cleanup_json_ json_t *l = skiff_volume_list_json(vs, f, &err);
	if (!l)
		return -err.status;
	return (int)json_array_size(json_object_get(l, "Volumes"));
}

TEST_F(vol, create_inspect_remove)
{
	struct skiff_error err = {0};
	_cleanup_json_ json_t *labels = opts2("a", "b", "c", "", NULL, NULL);
	json_t *out = NULL;
	char meta[256];

	ASSERT_EQ(0, skiff_volume_create(self->vs, "data1", NULL, NULL, labels, &out, &err)) TH_LOG("%s", err.msg);
	EXPECT_STREQ("data1", skiff_json_str(out, "Name", ""));
	EXPECT_STREQ("local", skiff_json_str(out, "Driver", ""));
	EXPECT_STREQ("local", skiff_json_str(out, "Scope", ""));
	EXPECT_STREQ("b", skiff_json_str(json_object_get(out, "Labels"), "a", ""));
	EXPECT_EQ(0, json_object_size(json_object_get(out, "Options")));
	EXPECT_EQ(20, strlen(skiff_json_str(out, "CreatedAt", ""))); /* 2026-01-02T03:04:05Z */
	char want[256];
	snprintf(want, sizeof(want), "%s/volumes/data1/_data", self->root);
	EXPECT_STREQ(want, skiff_json_str(out, "Mountpoint", ""));
	EXPECT_STREQ(want, skiff_volume_mountpoint(self->vs, "data1"));
	json_decref(out);
	EXPECT_TRUE(path_exists(self->root, "volumes/data1/_data"));
	snprintf(meta, sizeof(meta), "%s/volumes/data1/volume.json", self->root);
	do {
		_cleanup_json_ json_t *j = NULL;
		ASSERT_EQ(0, skiff_json_read_file(meta, &j));
		EXPECT_STREQ("data1", skiff_json_str(j, "Name", ""));
		EXPECT_STREQ("", skiff_json_str(json_object_get(j, "Labels"), "c", "x"));
	} while (0);

	/* the same name again: the existing volume, labels unchanged */
	ASSERT_EQ(0, skiff_volume_create(self->vs, "data1", "local", NULL, NULL, &out, &err));
	EXPECT_STREQ("b", skiff_json_str(json_object_get(out, "Labels"), "a", ""));
	json_decref(out);
	EXPECT_EQ(1, skiff_volume_count(self->vs));

	out = skiff_volume_inspect_json(self->vs, "data1", &err);
	ASSERT_NE(NULL, out);
	json_decref(out);
	EXPECT_EQ(NULL, skiff_volume_inspect_json(self->vs, "nope", &err));
	EXPECT_EQ(404, err.status);
	EXPECT_STREQ("get nope: no such volume", err.msg);

	ASSERT_EQ(0, skiff_volume_remove(self->vs, "data1", false, &err));
	EXPECT_FALSE(path_exists(self->root, "volumes/data1"));
	EXPECT_EQ(0, skiff_volume_count(self->vs));
	EXPECT_GT(0, skiff_volume_remove(self->vs, "data1", false, &err));
	EXPECT_EQ(404, err.status);
	EXPECT_STREQ("get data1: no such volume", err.msg);
	EXPECT_EQ(0, skiff_volume_remove(self->vs, "data1", true, &err));
}

TEST_F(vol, bad_input)
{
	struct skiff_error err = {0};
	static const struct {
		const char *k1, *v1, *k2, *v2, *k3, *v3;
		int status;
		const char *msg;
	} cases[] = {
	    {"type", "nfs", "device", ":/x", "o", "addr=1.2.3.4", 501, "volume type \"nfs\" is not supported"},
	    {"type", "ext4", "device", "/dev/sda1", NULL, NULL, 501, "volume type \"ext4\" is not supported"},
	    {"type", "none", "device", "/tmp", NULL, NULL, 501, "needs o=bind"},
	    {"type", "none", "device", "rel", "o", "bind", 400, "must be an absolute path"},
	    {"type", "tmpfs", NULL, NULL, NULL, NULL, 400, "missing required option: \"device\""},
	    {"device", "tmpfs", NULL, NULL, NULL, NULL, 400, "missing required option: \"type\""},
	    {"o", "size=1m", "device", "tmpfs", NULL, NULL, 400, "missing required option: \"type\""},
	    {"foo", "bar", NULL, NULL, NULL, NULL, 400, "invalid option key: \"foo\""},
	    {"size", "1g", NULL, NULL, NULL, NULL, 400, "no quota support"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_json_ json_t *o =
		    opts2(cases[i].k1, cases[i].v1, cases[i].k2, cases[i].v2, cases[i].k3, cases[i].v3);
		skiff_error_clear(&err);
		EXPECT_GT(0, skiff_volume_create(self->vs, "optvol", NULL, o, NULL, NULL, &err));
		EXPECT_EQ(cases[i].status, err.status) TH_LOG("case %zu: %s", i, err.msg);
		EXPECT_NE(NULL, strstr(err.msg, cases[i].msg)) TH_LOG("case %zu: %s", i, err.msg);
	}
	EXPECT_GT(0, skiff_volume_create(self->vs, "a/b", NULL, NULL, NULL, NULL, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("create a/b: \"a/b\" includes invalid characters for a local volume name, only "
		     "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use "
		     "absolute path",
		     err.msg);
	EXPECT_GT(0, skiff_volume_create(self->vs, "..", NULL, NULL, NULL, NULL, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_GT(0, skiff_volume_create(self->vs, "okname", "nfs-plugin", NULL, NULL, NULL, &err));
	EXPECT_EQ(404, err.status);
	EXPECT_NE(NULL, strstr(err.msg, "plugin \"nfs-plugin\" not found")) TH_LOG("%s", err.msg);
	do {
		_cleanup_json_ json_t *bad_labels = json_pack("{s:i}", "a", 1);
		EXPECT_GT(0, skiff_volume_create(self->vs, "okname", NULL, NULL, bad_labels, NULL, &err));
		EXPECT_EQ(400, err.status);
	} while (0);
	EXPECT_EQ(0, skiff_volume_count(self->vs));
	/* nothing but the store's own dir was made */
	_cleanup_closedir_ DIR *d = NULL;
	char p[256];
	snprintf(p, sizeof(p), "%s/volumes", self->root);
	d = opendir(p);
	ASSERT_NE(NULL, d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	EXPECT_EQ(0, n);
	EXPECT_EQ(-400, list_count(self->vs, "{\"bogus\":[\"1\"]}"));
	EXPECT_EQ(-400, list_count(self->vs, "{\"dangling\":[\"maybe\"]}"));
}

TEST_F(vol, anonymous_list_filters_prune)
{
	struct skiff_error err = {0};
	_cleanup_free_ char *anon = NULL;
	_cleanup_json_ json_t *l1 = opts2("tier", "web", "flag", "", NULL, NULL);
	_cleanup_json_ json_t *l2 = opts2("tier", "db", NULL, NULL, NULL, NULL);
	json_t *report = NULL;
	bool created;

	ASSERT_EQ(0, skiff_volume_get_or_create(self->vs, NULL, NULL, NULL, NULL, &anon, &created, &err));
	EXPECT_TRUE(created);
	EXPECT_EQ(64, strlen(anon));
	EXPECT_EQ(strspn(anon, "0123456789abcdef"), 64);
	EXPECT_TRUE(skiff_volume_is_anonymous(self->vs, anon));
	ASSERT_EQ(0, skiff_volume_create(self->vs, "web1", NULL, NULL, l1, NULL, &err));
	ASSERT_EQ(0, skiff_volume_create(self->vs, "qdb1", NULL, NULL, l2, NULL, &err));
	ASSERT_EQ(0, skiff_volume_get_or_create(self->vs, "web1", NULL, NULL, NULL, NULL, &created, &err));
	EXPECT_FALSE(created);
	EXPECT_FALSE(skiff_volume_is_anonymous(self->vs, "web1"));

	EXPECT_EQ(3, list_count(self->vs, NULL));
	EXPECT_EQ(1, list_count(self->vs, "{\"label\":[\"tier=web\"]}"));
	EXPECT_EQ(2, list_count(self->vs, "{\"label\":[\"tier\"]}"));
	EXPECT_EQ(1, list_count(self->vs, "{\"label\":[\"tier\",\"flag\"]}"));
	EXPECT_EQ(1, list_count(self->vs, "{\"name\":[\"web\"]}"));
	EXPECT_EQ(2, list_count(self->vs, "{\"name\":[\"web\",\"qdb\"]}"));
	EXPECT_EQ(3, list_count(self->vs, "{\"driver\":[\"local\"]}"));
	EXPECT_EQ(0, list_count(self->vs, "{\"driver\":[\"nfs\"]}"));
	EXPECT_EQ(3, list_count(self->vs, "{\"dangling\":[\"true\"]}"));
	EXPECT_EQ(0, list_count(self->vs, "{\"dangling\":[\"false\"]}"));

	/* sorted by name */
	do {
		_cleanup_json_ json_t *l = skiff_volume_list_json(self->vs, NULL, &err);
		json_t *v = json_object_get(l, "Volumes");
		EXPECT_STREQ(anon, skiff_json_str(json_array_get(v, 0), "Name", ""));
		EXPECT_STREQ("qdb1", skiff_json_str(json_array_get(v, 1), "Name", ""));
		EXPECT_EQ(0, json_array_size(json_object_get(l, "Warnings")));
	} while (0);

	/* a used volume is not dangling and survives prune --all */
	ASSERT_EQ(0, skiff_volume_ref(self->vs, "qdb1", "c1", &err));
	EXPECT_EQ(1, list_count(self->vs, "{\"dangling\":[\"false\"]}"));

	/* write something in the anonymous one: SpaceReclaimed counts it */
	do {
		char p[512];
		snprintf(p, sizeof(p), "%s/blob", skiff_volume_mountpoint(self->vs, anon));
		ASSERT_EQ(0, skiff_write_atomic(p, "0123456789", 10, 0644));
	} while (0);
	/* default prune: anonymous only */
	ASSERT_EQ(0, skiff_volume_prune(self->vs, NULL, false, &report, &err));
	EXPECT_EQ(1, json_array_size(json_object_get(report, "VolumesDeleted")));
	EXPECT_STREQ(anon, json_string_value(json_array_get(json_object_get(report, "VolumesDeleted"), 0)));
	EXPECT_EQ(10, skiff_json_int(report, "SpaceReclaimed", -1));
	json_decref(report);
	/* all=true with label! spares web1 */
	do {
		_cleanup_json_ json_t *f = json_loads("{\"all\":[\"true\"],\"label!\":[\"tier=web\"]}", 0, NULL);
		ASSERT_EQ(0, skiff_volume_prune(self->vs, f, false, &report, &err));
		EXPECT_EQ(0, json_array_size(json_object_get(report, "VolumesDeleted")));
		json_decref(report);
		_cleanup_json_ json_t *bad = json_loads("{\"dangling\":[\"true\"]}", 0, NULL);
		EXPECT_GT(0, skiff_volume_prune(self->vs, bad, false, &report, &err));
		EXPECT_EQ(400, err.status);
		EXPECT_STREQ("invalid filter 'dangling'", err.msg);
	} while (0);
	ASSERT_EQ(0, skiff_volume_prune(self->vs, NULL, true, &report, &err));
	EXPECT_EQ(1, json_array_size(json_object_get(report, "VolumesDeleted")));
	EXPECT_STREQ("web1", json_string_value(json_array_get(json_object_get(report, "VolumesDeleted"), 0)));
	json_decref(report);
	EXPECT_EQ(1, skiff_volume_count(self->vs));
}

static bool known(const char *id, void *data)
{
	(void)data;
	return !strcmp(id, "c1");
}

static bool never(const char *id, void *data)
{
	(void)id, (void)data;
	return false;
}

TEST_F(vol, refs_block_remove_and_persist)
{
	struct skiff_error err = {0};
	ASSERT_EQ(0, skiff_volume_create(self->vs, "shared", NULL, NULL, NULL, NULL, &err));
	EXPECT_GT(0, skiff_volume_ref(self->vs, "nope", "c1", &err));
	EXPECT_EQ(404, err.status);
	ASSERT_EQ(0, skiff_volume_ref(self->vs, "shared", "c1", &err));
	ASSERT_EQ(0, skiff_volume_ref(self->vs, "shared", "c2", &err));
	ASSERT_EQ(0, skiff_volume_ref(self->vs, "shared", "c2", &err)); /* idempotent */
	EXPECT_TRUE(skiff_volume_in_use(self->vs, "shared"));
	do {
		_cleanup_json_ json_t *u = skiff_volume_users(self->vs, "shared");
		EXPECT_EQ(2, json_array_size(u));
	} while (0);
	EXPECT_GT(0, skiff_volume_remove(self->vs, "shared", false, &err));
	EXPECT_EQ(409, err.status);
	EXPECT_STREQ("remove shared: volume is in use - [c1 c2]", err.msg);
	EXPECT_GT(0, skiff_volume_remove(self->vs, "shared", true, &err));
	EXPECT_EQ(409, err.status);

	/* a restarted store knows the users */
	skiff_volumes_close(self->vs);
	self->vs = NULL;
	ASSERT_EQ(0, skiff_volumes_open(self->root, NULL, &self->vs, &err));
	EXPECT_TRUE(skiff_volume_in_use(self->vs, "shared"));
	/* c2 vanished while skiffd was away */
	skiff_volumes_reconcile(self->vs, known, NULL, NULL);
	do {
		_cleanup_json_ json_t *u = skiff_volume_users(self->vs, "shared");
		EXPECT_EQ(1, json_array_size(u));
	} while (0);
	ASSERT_EQ(0, skiff_volume_unref(self->vs, "shared", "c1", &err));
	ASSERT_EQ(0, skiff_volume_unref(self->vs, "shared", "c1", &err));
	ASSERT_EQ(0, skiff_volume_unref(self->vs, "gone", "c1", &err));
	EXPECT_FALSE(skiff_volume_in_use(self->vs, "shared"));
	ASSERT_EQ(0, skiff_volume_remove(self->vs, "shared", false, &err)) TH_LOG("%s", err.msg);
}

TEST_F(vol, leftovers_cleaned_at_open)
{
	struct skiff_error err = {0};
	char p[256];
	snprintf(p, sizeof(p), "%s/volumes/.tmp-abc123/_data", self->root);
	ASSERT_EQ(0, skiff_mkdir_p(p, 0755));
	snprintf(p, sizeof(p), "%s/volumes/.trash-old-0011/_data/x", self->root);
	ASSERT_EQ(0, skiff_mkdir_p(p, 0755));
	snprintf(p, sizeof(p), "%s/volumes/notavolume", self->root); /* no volume.json: left alone */
	ASSERT_EQ(0, skiff_mkdir_p(p, 0755));
	skiff_volumes_close(self->vs);
	self->vs = NULL;
	ASSERT_EQ(0, skiff_volumes_open(self->root, NULL, &self->vs, &err));
	EXPECT_FALSE(path_exists(self->root, "volumes/.tmp-abc123"));
	EXPECT_FALSE(path_exists(self->root, "volumes/.trash-old-0011"));
	EXPECT_TRUE(path_exists(self->root, "volumes/notavolume"));
	EXPECT_EQ(0, skiff_volume_count(self->vs));
}

struct seen {
	int create, destroy;
};

static void on_event(json_t *e, void *data)
{
	struct seen *s = data;
	if (strcmp(skiff_json_str(e, "Type", ""), "volume"))
		return;
	if (!strcmp(skiff_json_str(e, "Action", ""), "create"))
		s->create++;
	if (!strcmp(skiff_json_str(e, "Action", ""), "destroy"))
		s->destroy++;
}

TEST_F(vol, events)
{
	struct skiff_error err = {0};
	struct seen s = {0};
	struct timespec now = skiff_now();
	void *h = skiff_events_subscribe(self->ev, &now, on_event, &s);
	ASSERT_EQ(0, skiff_volume_create(self->vs, "ev1", NULL, NULL, NULL, NULL, &err));
	ASSERT_EQ(0, skiff_volume_create(self->vs, "ev1", NULL, NULL, NULL, NULL, &err));
	ASSERT_EQ(0, skiff_volume_remove(self->vs, "ev1", false, &err));
	skiff_events_unsubscribe(self->ev, h);
	EXPECT_EQ(1, s.create);
	EXPECT_EQ(1, s.destroy);
}

TEST_F(vol, tmpfs_volume_mounts_while_used)
{
	struct skiff_error err = {0};
	_cleanup_json_ json_t *o = opts2("type", "tmpfs", "device", "tmpfs", "o", "size=4m,mode=0710");
	const char *path = NULL;
	struct stat st;

	ASSERT_EQ(0, skiff_volume_create(self->vs, "scratch", NULL, o, NULL, NULL, &err)) TH_LOG("%s", err.msg);
	if (skiff_volume_mount(self->vs, "scratch", "c1", &path, &err) < 0 && err.errnum == EPERM)
		SKIP(return, "cannot mount here: %s", err.msg);
	ASSERT_NE(NULL, path) TH_LOG("%s", err.msg);
	EXPECT_TRUE(is_mounted(path));
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0710, st.st_mode & 07777);
	ASSERT_EQ(0, skiff_volume_mount(self->vs, "scratch", "c2", &path, &err));
	EXPECT_TRUE(skiff_volume_in_use(self->vs, "scratch"));
	ASSERT_EQ(0, skiff_volume_unmount(self->vs, "scratch", "c1", &err));
	EXPECT_TRUE(is_mounted(path)); /* c2 still has it */
	ASSERT_EQ(0, skiff_volume_unmount(self->vs, "scratch", "c2", &err));
	EXPECT_FALSE(is_mounted(path));
	/* still referenced (stopped containers) until unref */
	EXPECT_GT(0, skiff_volume_remove(self->vs, "scratch", false, &err));
	EXPECT_EQ(409, err.status);
	ASSERT_EQ(0, skiff_volume_unref(self->vs, "scratch", "c1", &err));
	ASSERT_EQ(0, skiff_volume_unref(self->vs, "scratch", "c2", &err));
	ASSERT_EQ(0, skiff_volume_remove(self->vs, "scratch", false, &err)) TH_LOG("%s", err.msg);
}

TEST_F(vol, bind_volume_never_loses_host_data)
{
	struct skiff_error err = {0};
	_cleanup_json_ json_t *o = opts2("type", "none", "device", self->host, "o", "bind");
	const char *path = NULL;
	char p[256];

	snprintf(p, sizeof(p), "%s/precious", self->host);
	ASSERT_EQ(0, skiff_write_atomic(p, "keep", 4, 0644));
	ASSERT_EQ(0, skiff_volume_create(self->vs, "hostdir", NULL, o, NULL, NULL, &err)) TH_LOG("%s", err.msg);
	if (skiff_volume_mount(self->vs, "hostdir", "c1", &path, &err) < 0 && err.errnum == EPERM)
		SKIP(return, "cannot mount here: %s", err.msg);
	ASSERT_NE(NULL, path) TH_LOG("%s", err.msg);
	EXPECT_TRUE(path_exists(path, "precious"));

	/* a restarted skiffd whose container vanished: reconcile unmounts */
	skiff_volumes_close(self->vs);
	self->vs = NULL;
	ASSERT_EQ(0, skiff_volumes_open(self->root, NULL, &self->vs, &err));
	path = skiff_volume_mountpoint(self->vs, "hostdir");
	EXPECT_TRUE(is_mounted(path));
	/* the restarted store still has c1 as a user; c1 is running: kept */
	skiff_volumes_reconcile(self->vs, known, known, NULL);
	EXPECT_TRUE(is_mounted(path));
	/* c1 exited while skiffd was away: unmounted, still referenced */
	skiff_volumes_reconcile(self->vs, known, never, NULL);
	EXPECT_FALSE(is_mounted(path));
	EXPECT_TRUE(skiff_volume_in_use(self->vs, "hostdir"));
	ASSERT_EQ(0, skiff_volume_mount(self->vs, "hostdir", "c1", &path, &err)) TH_LOG("%s", err.msg);
	EXPECT_TRUE(is_mounted(path));
	ASSERT_EQ(0, skiff_volume_unref(self->vs, "hostdir", "c1", &err));
	EXPECT_FALSE(is_mounted(path));

	/* a stale mount (left by a crash) is taken down by remove, never deleted through */
	ASSERT_EQ(0, mount(self->host, path, NULL, MS_BIND, NULL));
	ASSERT_EQ(0, skiff_volume_remove(self->vs, "hostdir", false, &err)) TH_LOG("%s", err.msg);
	EXPECT_TRUE(path_exists(self->host, "precious"));
	EXPECT_FALSE(path_exists(self->root, "volumes/hostdir"));
}

TEST_F(vol, copy_up_keeps_metadata)
{
	struct skiff_error err = {0};
	char src[128], p[512], q[512], buf[64];
	const char *mp;
	struct stat st, st2;
	struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
	ssize_t n;

	snprintf(src, sizeof(src), "%s/src", self->host);
	snprintf(p, sizeof(p), "%s/etc/sub", src);
	ASSERT_EQ(0, skiff_mkdir_p(p, 0755));
	snprintf(p, sizeof(p), "%s/etc/conf", src);
	ASSERT_EQ(0, skiff_write_atomic(p, "hello", 5, 0640));
	ASSERT_EQ(0, chown(p, 1234, 5678));
	if (setxattr(p, "trusted.skiff", "v1", 2, 0) < 0 && errno != ENOTSUP)
		ASSERT_EQ(0, errno);
	ASSERT_EQ(0, utimensat(AT_FDCWD, p, old, 0));
	snprintf(q, sizeof(q), "%s/etc/conf-link", src);
	ASSERT_EQ(0, link(p, q));
	snprintf(p, sizeof(p), "%s/etc/suid", src);
	ASSERT_EQ(0, skiff_write_atomic(p, "x", 1, 0755));
	ASSERT_EQ(0, chown(p, 1, 1));
	ASSERT_EQ(0, chmod(p, 04755));
	snprintf(p, sizeof(p), "%s/etc/sym", src);
	ASSERT_EQ(0, symlink("/etc/conf-does-not-resolve-on-the-host", p));
	ASSERT_EQ(0, lchown(p, 42, 43));
	snprintf(p, sizeof(p), "%s/etc/fifo", src);
	ASSERT_EQ(0, mkfifo(p, 0620));
	ASSERT_EQ(0, chmod(p, 0620)); /* umask */
	snprintf(p, sizeof(p), "%s/etc/wh", src);
	ASSERT_EQ(0, mknod(p, S_IFCHR | 0600, makedev(0, 0))); /* overlay whiteout: skipped */
	snprintf(p, sizeof(p), "%s/etc/sub", src);
	ASSERT_EQ(0, chmod(p, 0500)); /* filled before it is made read-only */
	ASSERT_EQ(0, chown(src, 33, 33));
	ASSERT_EQ(0, chmod(src, 0750));

	ASSERT_EQ(0, skiff_volume_create(self->vs, "cu", NULL, NULL, NULL, NULL, &err));
	mp = skiff_volume_mountpoint(self->vs, "cu");
	ASSERT_EQ(1, skiff_volume_copy_up(self->vs, "cu", src, &err)) TH_LOG("%s", err.msg);

	ASSERT_EQ(0, stat(mp, &st));
	EXPECT_EQ(33, st.st_uid);
	EXPECT_EQ(0750, st.st_mode & 07777);
	snprintf(p, sizeof(p), "%s/etc/conf", mp);
	ASSERT_EQ(0, lstat(p, &st));
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(5678, st.st_gid);
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_EQ(1000000000, st.st_mtim.tv_sec);
	EXPECT_EQ(2, st.st_nlink);
	n = getxattr(p, "trusted.skiff", buf, sizeof(buf));
	if (n >= 0 || errno != ENOTSUP) {
		EXPECT_EQ(2, n);
		EXPECT_EQ(0, memcmp(buf, "v1", 2));
	}
	snprintf(q, sizeof(q), "%s/etc/conf-link", mp);
	ASSERT_EQ(0, lstat(q, &st2));
	EXPECT_EQ(st.st_ino, st2.st_ino);
	snprintf(p, sizeof(p), "%s/etc/suid", mp);
	ASSERT_EQ(0, lstat(p, &st));
	EXPECT_EQ(04755, st.st_mode & 07777);
	EXPECT_EQ(1, st.st_uid);
	snprintf(p, sizeof(p), "%s/etc/sym", mp);
	ASSERT_EQ(0, lstat(p, &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	EXPECT_EQ(42, st.st_uid);
	n = readlink(p, buf, sizeof(buf) - 1);
	ASSERT_GT(n, 0);
	buf[n] = '\0';
	EXPECT_STREQ("/etc/conf-does-not-resolve-on-the-host", buf);
	snprintf(p, sizeof(p), "%s/etc/fifo", mp);
	ASSERT_EQ(0, lstat(p, &st));
	EXPECT_TRUE(S_ISFIFO(st.st_mode));
	EXPECT_EQ(0620, st.st_mode & 07777);
	EXPECT_FALSE(path_exists(mp, "etc/wh"));
	snprintf(p, sizeof(p), "%s/etc/sub", mp);
	ASSERT_EQ(0, lstat(p, &st));
	EXPECT_EQ(0500, st.st_mode & 07777);

	/* not empty any more: a second copy-up does nothing */
	EXPECT_EQ(0, skiff_volume_copy_up(self->vs, "cu", src, &err));
	/* a missing source is not an error */
	ASSERT_EQ(0, skiff_volume_create(self->vs, "cu2", NULL, NULL, NULL, NULL, &err));
	EXPECT_EQ(0, skiff_volume_copy_up(self->vs, "cu2", "/nonexistent/skiff", &err));
	EXPECT_GT(0, skiff_volume_copy_up(self->vs, "nope", src, &err));
	EXPECT_EQ(404, err.status);
	/* conf once (hard link), suid, the symlink's target length; dirs and the fifo add nothing */
	EXPECT_EQ(5 + 1 + strlen("/etc/conf-does-not-resolve-on-the-host"), skiff_dir_size(mp));
}

TEST_HARNESS_MAIN
