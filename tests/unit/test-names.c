/* Unit tests for container names and ids: Docker's name rule, generated
 * names, id format, and lookup order with ambiguous prefixes. */
#include "kselftest_harness.h"

#include <errno.h>
#include <string.h>

#include "../../userspace/daemon/names.h"

TEST(name_validation)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{ "web", true },   { "/web", true },  { "a1", true },     { "a_b.c-d", true }, { "a", false },
		{ "", false },     { "_ab", false },  { "-ab", false },   { "a b", false },    { "a/b", false },
		{ "//ab", false }, { "ab$", false },  { "0abc", true },   { ".ab", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *nm = cases[i].name;
		bool want = cases[i].ok;
		EXPECT_EQ(want, skiff_name_valid(nm)) TH_LOG("name '%s'", nm);
	}
	EXPECT_FALSE(skiff_name_valid(NULL));
}

TEST(generated_names_are_valid)
{
	char n[128];
	for (int i = 0; i < 200; i++) {
		skiff_name_generate(n, sizeof(n), i % 3);
		ASSERT_EQ('/', n[0]);
		ASSERT_TRUE(skiff_name_valid(n)) TH_LOG("%s", n);
		ASSERT_NE(NULL, strchr(n, '_'));
		ASSERT_NE(0, strcmp(n, "/boring_wozniak"));
	}
}

TEST(ids)
{
	char a[65], b[65], s[13];
	ASSERT_EQ(0, skiff_id_generate(a));
	ASSERT_EQ(0, skiff_id_generate(b));
	EXPECT_EQ(64, strlen(a));
	EXPECT_EQ(64, strspn(a, "0123456789abcdef"));
	EXPECT_NE(0, strcmp(a, b));
	EXPECT_LT(strspn(a, "0123456789"), 12);
	skiff_id_short(a, s);
	EXPECT_EQ(12, strlen(s));
	EXPECT_EQ(0, strncmp(a, s, 12));
}

TEST(lookup_order_and_ambiguity)
{
	const char *ids[] = {
		"abc1000000000000000000000000000000000000000000000000000000000000",
		"abc2000000000000000000000000000000000000000000000000000000000000",
		"def0000000000000000000000000000000000000000000000000000000000000",
	};
	/* a container named like another's id prefix: the name wins */
	const char *names[] = { "/web", "/db", "/abc1" };

	EXPECT_EQ(0, skiff_ids_lookup(ids[0], ids, names, 3));
	EXPECT_EQ(0, skiff_ids_lookup("web", ids, names, 3));
	EXPECT_EQ(0, skiff_ids_lookup("/web", ids, names, 3));
	EXPECT_EQ(1, skiff_ids_lookup("db", ids, names, 3));
	EXPECT_EQ(2, skiff_ids_lookup("abc1", ids, names, 3));
	EXPECT_EQ(1, skiff_ids_lookup("abc2", ids, names, 3));
	EXPECT_EQ(2, skiff_ids_lookup("d", ids, names, 3));
	EXPECT_EQ(-ENOTUNIQ, skiff_ids_lookup("abc", ids, names, 3));
	EXPECT_EQ(-ENOTUNIQ, skiff_ids_lookup("a", ids, names, 3));
	EXPECT_EQ(-ENOENT, skiff_ids_lookup("nosuch", ids, names, 3));
	EXPECT_EQ(-ENOENT, skiff_ids_lookup("", ids, names, 3));
	EXPECT_EQ(-ENOENT, skiff_ids_lookup("fff", ids, names, 3));
}

TEST_HARNESS_MAIN
