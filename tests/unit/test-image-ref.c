/* Unit tests for image reference normalisation (skiff_ref_normalize): the
 * familiar forms Docker stores and the inputs it rejects. */
#include "kselftest_harness.h"

#include <string.h>

#include "../../userspace/image/ref.h"
#include "../../userspace/image/store.h"
#include "../../userspace/lib/cleanup.h"

static const char *const table[][2] = {
	{ "busybox", "busybox:latest" },
	{ "busybox:1.36", "busybox:1.36" },
	{ "docker.io/library/busybox", "busybox:latest" },
	{ "docker.io/library/busybox:1", "busybox:1" },
	{ "index.docker.io/library/alpine:3.10", "alpine:3.10" },
	{ "docker.io/foo/bar", "foo/bar:latest" },
	{ "foo/bar:v1", "foo/bar:v1" },
	{ "127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest" },
	{ "localhost:5000/a/b:c", "localhost:5000/a/b:c" },
	{ "localhost/x", "localhost/x:latest" },
	{ "my.registry/Team/x", NULL },
	{ "Busybox", NULL },
	{ "busybox:", NULL },
	{ "busybox::1", NULL },
	{ "-busybox", NULL },
	{ "bus--box", "bus--box:latest" },
	{ "a__b", "a__b:latest" },
	{ "a___b", NULL },
	{ "", NULL },
	{ "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	  "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "busybox@sha256:short", NULL },
	{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL },
};

TEST(normalize_table)
{
	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		char out[512];
		struct skiff_error err = { 0 };
		int r = skiff_ref_normalize(table[i][0], out, sizeof(out), &err);
		if (table[i][1]) {
			EXPECT_EQ(0, r) TH_LOG("%s: %s", table[i][0], err.msg);
			if (r == 0)
				EXPECT_STREQ(table[i][1], out);
		} else {
			EXPECT_EQ(-EINVAL, r) TH_LOG("%s accepted as %s", table[i][0], r ? "" : out);
			EXPECT_EQ(400, err.status);
		}
	}
}

TEST(uppercase_message)
{
	char out[64];
	struct skiff_error err = { 0 };
	ASSERT_EQ(-EINVAL, skiff_ref_normalize("UPPER", out, sizeof(out), &err));
	EXPECT_STREQ("invalid reference format", err.msg);
}

TEST(split_and_qualify)
{
	char repo[128], tag[64], fq[256];
	skiff_ref_split("127.0.0.1:5000/busybox:latest", repo, sizeof(repo), tag, sizeof(tag));
	EXPECT_STREQ("127.0.0.1:5000/busybox", repo);
	EXPECT_STREQ("latest", tag);
	skiff_ref_split("127.0.0.1:5000/busybox", repo, sizeof(repo), tag, sizeof(tag));
	EXPECT_STREQ("127.0.0.1:5000/busybox", repo);
	EXPECT_STREQ("", tag);
	skiff_ref_fully_qualified("busybox:latest", fq, sizeof(fq));
	EXPECT_STREQ("docker.io/library/busybox:latest", fq);
	skiff_ref_fully_qualified("foo/bar:1", fq, sizeof(fq));
	EXPECT_STREQ("docker.io/foo/bar:1", fq);
	skiff_ref_fully_qualified("localhost:5000/x:1", fq, sizeof(fq));
	EXPECT_STREQ("localhost:5000/x:1", fq);
}

TEST_HARNESS_MAIN
