/* Unit tests for userspace/lib: error chaining, atomic writes, rm -rf,
 * timestamps as Docker formats and parses them. */
#include "kselftest_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/error.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/lib/json.h"

TEST(error_wrap_chains_context)
{
	struct skiff_error err = { 0 };
	int r = skiff_error_set(&err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", "busybox");
	ASSERT_EQ(-ENOENT, r);
	r = skiff_error_wrap(&err, "creating container '%s'", "web");
	ASSERT_EQ(-ENOENT, r);
	EXPECT_STREQ("creating container 'web': No such image: busybox", err.msg);
	EXPECT_EQ(SKIFF_ENOTFOUND, err.status);
}

TEST(error_sys_appends_strerror)
{
	struct skiff_error err = { 0 };
	skiff_error_sys(&err, SKIFF_EINTERNAL, ENOSPC, "mounting rootfs");
	EXPECT_STREQ("mounting rootfs: No space left on device", err.msg);
	EXPECT_EQ(-EIO, skiff_error_set(NULL, SKIFF_EINTERNAL, 0, "x"));
}

FIXTURE(tmpdir)
{
	char dir[64];
};

FIXTURE_SETUP(tmpdir)
{
	strcpy(self->dir, "/tmp/skiff-unit-lib-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(tmpdir)
{
	skiff_rm_rf(self->dir);
}

TEST_F(tmpdir, atomic_write_replaces_whole_file)
{
	_cleanup_free_ char *path = skiff_path_join(self->dir, "state.json");
	_cleanup_free_ char *got = NULL;
	size_t len;

	ASSERT_EQ(0, skiff_write_atomic(path, "old", 3, 0600));
	ASSERT_EQ(0, skiff_write_atomic(path, "new-content", 11, 0600));
	ASSERT_EQ(0, skiff_read_file(path, &got, &len));
	EXPECT_EQ(11, len);
	EXPECT_STREQ("new-content", got);
	/* no temp file left beside it */
	_cleanup_closedir_ DIR *d = opendir(self->dir);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	EXPECT_EQ(1, n);
}

TEST_F(tmpdir, mkdir_p_and_rm_rf_do_not_follow_symlinks)
{
	_cleanup_free_ char *deep = skiff_path_join(self->dir, "a/b/c");
	_cleanup_free_ char *outside = skiff_path_join(self->dir, "keep");
	_cleanup_free_ char *keepfile = skiff_path_join(self->dir, "keep/file");
	_cleanup_free_ char *link = skiff_path_join(self->dir, "a/b/link");
	_cleanup_free_ char *a = skiff_path_join(self->dir, "a");
	struct stat st;

	ASSERT_EQ(0, skiff_mkdir_p(deep, 0755));
	ASSERT_EQ(0, skiff_mkdir_p(outside, 0755));
	ASSERT_EQ(0, skiff_write_atomic(keepfile, "x", 1, 0600));
	ASSERT_EQ(0, symlink(outside, link));
	ASSERT_EQ(0, skiff_rm_rf(a));
	EXPECT_NE(0, lstat(a, &st));
	EXPECT_EQ(0, stat(keepfile, &st)); /* the symlink target survived */
}

TEST(time_format_is_rfc3339nano)
{
	struct timespec ts = { .tv_sec = 1795811435, .tv_nsec = 123 };
	struct timespec zero = { 0 };
	char out[40];
	skiff_time_format(&ts, out);
	EXPECT_STREQ("2026-11-27T20:30:35.000000123Z", out);
	skiff_time_format(&zero, out);
	EXPECT_STREQ("0001-01-01T00:00:00Z", out);
}

TEST(time_parse_accepts_docker_forms)
{
	static const struct {
		const char *in;
		long long sec;
		long nsec;
	} ok[] = {
		{ "1795811435", 1795811435, 0 },
		{ "1795811435.5", 1795811435, 500000000 },
		{ "2026-11-27T20:30:35Z", 1795811435, 0 },
		{ "2026-11-27T20:30:35.000000123Z", 1795811435, 123 },
		{ "2026-11-27T21:30:35+01:00", 1795811435, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct timespec ts;
		ASSERT_EQ(0, skiff_time_parse(ok[i].in, &ts)) TH_LOG("%s", ok[i].in);
		EXPECT_EQ(ok[i].sec, ts.tv_sec) TH_LOG("%s", ok[i].in);
		EXPECT_EQ(ok[i].nsec, ts.tv_nsec) TH_LOG("%s", ok[i].in);
	}
	struct timespec ts;
	EXPECT_EQ(-EINVAL, skiff_time_parse("yesterday", &ts));
	EXPECT_EQ(-EINVAL, skiff_time_parse("", &ts));
	EXPECT_EQ(-EINVAL, skiff_time_parse("12abc", &ts));
}

TEST(json_helpers_default_on_wrong_type)
{
	_cleanup_json_ json_t *j = json_pack("{s:s, s:i, s:b, s:[s,s]}", "s", "v", "i", 7, "b", 1, "a", "x", "y");
	_cleanup_strv_ char **v = skiff_json_strv(json_object_get(j, "a"));
	EXPECT_STREQ("v", skiff_json_str(j, "s", "d"));
	EXPECT_STREQ("d", skiff_json_str(j, "i", "d"));
	EXPECT_EQ(7, skiff_json_int(j, "i", -1));
	EXPECT_EQ(-1, skiff_json_int(j, "s", -1));
	EXPECT_TRUE(skiff_json_bool(j, "b", false));
	ASSERT_NE(NULL, v);
	EXPECT_STREQ("y", v[1]);
	EXPECT_EQ(NULL, v[2]);
}

TEST_HARNESS_MAIN
