/* Unit tests for userspace/lib/digest: sha256 against the FIPS 180-2 test
 * vectors, streaming vs one-shot, and digest string validation. */
#include "kselftest_harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../userspace/lib/digest.h"

TEST(known_vectors)
{
	char out[SKIFF_DIGEST_LEN];
	skiff_sha256_digest("", 0, out);
	EXPECT_STREQ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", out);
	skiff_sha256_digest("abc", 3, out);
	EXPECT_STREQ("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", out);
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	skiff_sha256_digest(m, strlen(m), out);
	EXPECT_STREQ("sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", out);
}

TEST(streaming_matches_one_shot)
{
	char a[SKIFF_DIGEST_LEN], b[SKIFF_DIGEST_LEN], hex[SKIFF_DIGEST_HEX_LEN + 1];
	struct skiff_sha256 *c = skiff_sha256_new();
	ASSERT_NE(NULL, c);
	/* one million 'a': the third FIPS vector, fed in odd-sized pieces */
	char *buf = malloc(1000000);
	ASSERT_NE(NULL, buf);
	memset(buf, 'a', 1000000);
	for (size_t off = 0; off < 1000000;) {
		size_t n = 1000000 - off < 7919 ? 1000000 - off : 7919;
		skiff_sha256_update(c, buf + off, n);
		off += n;
	}
	skiff_sha256_final(c, a, hex);
	skiff_sha256_free(c);
	skiff_sha256_digest(buf, 1000000, b);
	free(buf);
	EXPECT_STREQ("sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", a);
	EXPECT_STREQ(a, b);
	EXPECT_STREQ(a + 7, hex);
}

TEST(fd_digest)
{
	char path[] = "/tmp/skiff-unit-digest-XXXXXX", out[SKIFF_DIGEST_LEN];
	int fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(3, write(fd, "abc", 3));
	lseek(fd, 0, SEEK_SET);
	ASSERT_EQ(0, skiff_sha256_fd(fd, out));
	close(fd);
	EXPECT_STREQ("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", out);
}

TEST(validation)
{
	EXPECT_TRUE(skiff_digest_valid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	EXPECT_FALSE(skiff_digest_valid("sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	EXPECT_FALSE(skiff_digest_valid("sha256:ba7816bf"));
	EXPECT_FALSE(skiff_digest_valid("md5:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	EXPECT_FALSE(skiff_digest_valid("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	EXPECT_FALSE(skiff_digest_valid(NULL));
	EXPECT_TRUE(skiff_digest_hex_valid("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	EXPECT_STREQ("abc", skiff_digest_hex("sha256:abc"));
}

TEST_HARNESS_MAIN
