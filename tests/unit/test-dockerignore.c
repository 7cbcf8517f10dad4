/* Unit tests for the .dockerignore matcher (userspace/build/dockerignore.c):
 * the examples of Docker's documentation, `**`, `!` exceptions with the
 * last match winning, and exclusion of everything below a matched dir. */
#include "kselftest_harness.h"

#include <stdlib.h>
#include <string.h>

#include "../../userspace/build/dockerfile.h"

static const struct {
	const char *patterns;
	const char *path;
	bool excluded;
} cases[] = {
	/* Docker's docs */
	{ "*/temp*", "somedir/temporary.txt", true },
	{ "*/temp*", "somedir/temp", true },
	{ "*/temp*", "temp", false },
	{ "*/temp*", "a/b/temp", false }, /* one level only */
	{ "*/*/temp*", "somedir/subdir/temporary.txt", true },
	{ "*/*/temp*", "somedir/temporary.txt", false },
	{ "temp?", "tempa", true },
	{ "temp?", "temp", false },
	{ "temp?", "tempab", false },
	{ "temp?", "tempa/inside", true },
	{ "**/*.go", "main.go", true },
	{ "**/*.go", "a/b/c.go", true },
	{ "**/*.go", "a/b/c.got", false },
	{ "*.md\n!README.md", "README.md", false },
	{ "*.md\n!README.md", "CHANGES.md", true },
	{ "*.md\n!README*.md\nREADME-secret.md", "README-secret.md", true },
	{ "*.md\n!README*.md\nREADME-secret.md", "README-public.md", false },
	{ "*.md\n!README*.md\nREADME-secret.md", "other.md", true },
	{ "*.md\nREADME-secret.md\n!README*.md", "README-secret.md", false },
	/* directories exclude what is below them */
	{ "node_modules", "node_modules/x/y.js", true },
	{ "node_modules", "src/node_modules", false },
	{ "**/node_modules", "src/node_modules/a", true },
	{ "build/", "build/out.o", true },
	{ "/abs/path", "abs/path/x", true },
	{ "./rel", "rel", true },
	/* comments, blanks, whitespace */
	{ "# comment\n\n  x  \n", "x", true },
	{ "# comment", "# comment", false },
	{ "a/**", "a/b/c", true },
	{ "a/**", "a", false },
	{ "a/**/b", "a/b", true },
	{ "a/**/b", "a/x/y/b", true },
	{ "[a-c].txt", "b.txt", true },
	{ "[!a-c].txt", "b.txt", false },
	{ "[!a-c].txt", "d.txt", true },
	{ "\\*.txt", "*.txt", true },
	{ "\\*.txt", "a.txt", false },
	{ "a.b", "axb", false },
	{ "f(1)+", "f(1)+", true },
	{ "*", "anything/at/all", true },
	{ "*\n!keep", "keep", false },
	{ "*\n!keep", "keep/sub", false },
	{ "../x", "x", false },
};

TEST(match_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct skiff_ignore *ig = NULL;
		struct skiff_error err = { 0 };

		ASSERT_EQ(0, skiff_ignore_parse(cases[i].patterns, &ig, &err))
		{
			TH_LOG("case %zu: %s", i, err.msg);
		}
		EXPECT_EQ(cases[i].excluded, skiff_ignore_match(ig, cases[i].path))
		{
			TH_LOG("case %zu: patterns \"%s\" path %s", i, cases[i].patterns, cases[i].path);
		}
		skiff_ignore_free(ig);
	}
}

TEST(may_include)
{
	struct skiff_ignore *ig = NULL;
	struct skiff_error err = { 0 };

	ASSERT_EQ(0, skiff_ignore_parse("docs\n!docs/keep.md\nvendor\n", &ig, &err));
	EXPECT_TRUE(skiff_ignore_match(ig, "docs"));
	EXPECT_TRUE(skiff_ignore_may_include(ig, "docs"));
	EXPECT_FALSE(skiff_ignore_may_include(ig, "vendor"));
	EXPECT_FALSE(skiff_ignore_match(ig, "docs/keep.md"));
	EXPECT_TRUE(skiff_ignore_match(ig, "docs/other.md"));
	skiff_ignore_free(ig);

	ASSERT_EQ(0, skiff_ignore_parse("*\n!**/*.py\n", &ig, &err));
	EXPECT_TRUE(skiff_ignore_may_include(ig, "a/b"));
	skiff_ignore_free(ig);

	EXPECT_FALSE(skiff_ignore_match(NULL, "x"));
}

TEST(bad_pattern)
{
	struct skiff_ignore *ig = NULL;
	struct skiff_error err = { 0 };

	EXPECT_GT(0, skiff_ignore_parse("[abc\n", &ig, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_NE(NULL, strstr(err.msg, "[abc"));
}

TEST_HARNESS_MAIN
