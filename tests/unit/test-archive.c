/* Unit tests for userspace/daemon/archive (docker cp): Go FileMode bits,
 * the X-Docker-Container-Path-Stat JSON and its base64, Docker's split of
 * a container path (trailing "/" and "/." kept), and the worker's record. */
#include "kselftest_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../userspace/daemon/archive.h"
#include "../../userspace/lib/cleanup.h"

TEST(go_mode_bits)
{
	/* values as Go prints uint32(os.FileMode) */
	EXPECT_EQ(0644u, skiff_archive_go_mode(S_IFREG | 0644));
	EXPECT_EQ((1u << 31) | 0755u, skiff_archive_go_mode(S_IFDIR | 0755));
	EXPECT_EQ(2147484141u, skiff_archive_go_mode(S_IFDIR | 0755));
	EXPECT_EQ((1u << 27) | 0777u, skiff_archive_go_mode(S_IFLNK | 0777));
	EXPECT_EQ((1u << 26) | (1u << 21) | 0666u, skiff_archive_go_mode(S_IFCHR | 0666));
	EXPECT_EQ((1u << 26) | 0660u, skiff_archive_go_mode(S_IFBLK | 0660));
	EXPECT_EQ((1u << 25) | 0600u, skiff_archive_go_mode(S_IFIFO | 0600));
	EXPECT_EQ((1u << 24) | 0755u, skiff_archive_go_mode(S_IFSOCK | 0755));
	EXPECT_EQ((1u << 23) | 0755u, skiff_archive_go_mode(S_IFREG | S_ISUID | 0755));
	EXPECT_EQ((1u << 22) | 0755u, skiff_archive_go_mode(S_IFREG | S_ISGID | 0755));
	EXPECT_EQ((1u << 31) | (1u << 20) | 0777u, skiff_archive_go_mode(S_IFDIR | S_ISVTX | 0777));
}

TEST(stat_json_shape)
{
	struct stat st = { 0 };
	st.st_mode = S_IFLNK | 0777;
	st.st_size = 7;
	st.st_mtim.tv_sec = 1700000000;
	st.st_mtim.tv_nsec = 500000000;
	_cleanup_json_ json_t *j = skiff_archive_stat_json("evil", &st, "/");
	ASSERT_NE(NULL, j);
	_cleanup_free_ char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	EXPECT_STREQ("{\"name\":\"evil\",\"size\":7,\"mode\":134218239,\"mtime\":\"2023-11-14T22:13:20.5Z\","
		     "\"linkTarget\":\"/\"}",
		     s);
	st.st_mtim.tv_nsec = 0;
	_cleanup_json_ json_t *k = skiff_archive_stat_json("f", &st, NULL);
	EXPECT_STREQ("", json_string_value(json_object_get(k, "linkTarget")));
	EXPECT_STREQ("2023-11-14T22:13:20Z", json_string_value(json_object_get(k, "mtime")));
	st.st_mtim.tv_nsec = 120;
	_cleanup_json_ json_t *l = skiff_archive_stat_json("f", &st, NULL);
	EXPECT_STREQ("2023-11-14T22:13:20.00000012Z", json_string_value(json_object_get(l, "mtime")));
}

TEST(base64)
{
	struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "{\"name\":\"passwd\"}", "eyJuYW1lIjoicGFzc3dkIn0=" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *o = skiff_base64_encode(cases[i].in, strlen(cases[i].in));
		EXPECT_STREQ(cases[i].out, o);
	}
	unsigned char bin[] = { 0xff, 0xfe, 0x00, 0x3e, 0x3f };
	_cleanup_free_ char *o = skiff_base64_encode(bin, sizeof(bin));
	EXPECT_STREQ("//4APj8=", o);
}

TEST(path_split)
{
	struct {
		const char *in, *abs, *dir, *base, *name;
	} cases[] = {
		{ "/etc/passwd", "/etc/passwd", "/etc/", "passwd", "passwd" },
		{ "etc/passwd", "/etc/passwd", "/etc/", "passwd", "passwd" },
		{ "/etc/", "/etc/", "/etc/", "", "etc" },
		{ "/etc/.", "/etc/.", "/etc/", ".", "." },
		{ "/etc/./", "/etc/./", "/etc/./", "", "." }, /* filepath.Base drops the slash: "." */
		{ "/", "/", "/", "", "/" },
		{ ".", "/.", "/", ".", "." },
		{ "/..", "/", "/", "", "/" },
		{ "/../../etc//x/../hosts", "/etc/hosts", "/etc/", "hosts", "hosts" },
		{ "/tmp/up/../../..", "/", "/", "", "/" },
		{ "/a/b/..", "/a", "/", "a", "a" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct skiff_archive_path p;
		ASSERT_EQ(0, skiff_archive_path_split(cases[i].in, &p));
		EXPECT_STREQ(cases[i].abs, p.abs) TH_LOG("in %s", cases[i].in);
		EXPECT_STREQ(cases[i].dir, p.dir) TH_LOG("in %s", cases[i].in);
		EXPECT_STREQ(cases[i].base, p.base) TH_LOG("in %s", cases[i].in);
		EXPECT_STREQ(cases[i].name, p.name) TH_LOG("in %s", cases[i].in);
	}
	char longp[6000];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	struct skiff_archive_path p;
	EXPECT_EQ(-ENAMETOOLONG, skiff_archive_path_split(longp, &p));
}

TEST(record_parse)
{
	unsigned char buf[64] = { 0x94, 0x01, 0, 0, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o', 'X' };
	int status = -1;
	const char *payload = NULL;
	size_t len = 0;
	/* 0x194 = 404 */
	EXPECT_EQ(0, skiff_archive_record_parse(buf, 7, &status, &payload, &len));
	EXPECT_EQ(0, skiff_archive_record_parse(buf, 12, &status, &payload, &len));
	EXPECT_EQ(13, skiff_archive_record_parse(buf, 14, &status, &payload, &len));
	EXPECT_EQ(404, status);
	EXPECT_EQ(5u, len);
	EXPECT_EQ(0, memcmp(payload, "hello", 5));
	unsigned char ok[8] = { 0 };
	EXPECT_EQ(8, skiff_archive_record_parse(ok, 8, &status, &payload, &len));
	EXPECT_EQ(0, status);
	unsigned char bad[8] = { 7, 0, 0, 0, 0, 0, 0, 0 }; /* status 7 */
	EXPECT_EQ(-EBADMSG, skiff_archive_record_parse(bad, 8, &status, &payload, &len));
	unsigned char huge[8] = { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f };
	EXPECT_EQ(-EBADMSG, skiff_archive_record_parse(huge, 8, &status, &payload, &len));
}

TEST_HARNESS_MAIN
