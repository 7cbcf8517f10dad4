/* Unit tests for the skiff CLI's output helpers: the Go-template subset,
 * docker's tabwriter layout, go-units sizes/durations, byte suffixes and
 * the flag parser. The CLI is not in libskiff, so its sources are built in. */
#include "kselftest_harness.h"

#include <stdlib.h>
#include <string.h>

#include "../../tools/skiff/flags.c"
#include "../../tools/skiff/format.c"

static char *render(const char *tmpl, const char *json)
{
	struct skiff_error err = { 0 };
	json_t *obj = json_loads(json, 0, NULL);
	struct cli_tmpl *t = cli_tmpl_parse(tmpl, NULL, &err);
	char *out = NULL;
	if (!t || cli_tmpl_exec(t, obj, &out, &err) < 0)
		out = strdup(err.msg);
	cli_tmpl_free(t);
	json_decref(obj);
	return out;
}

TEST(template_fields_json_index)
{
	const char *obj = "{\"Name\":\"/web\",\"Config\":{\"Env\":[\"A=1\",\"B=2\"],\"Labels\":{\"k\":\"v\"}},\"N\":3}";
	char *s = render("{{.Name}} {{.Config.Env}} {{json .Config.Labels}} {{index .Config.Labels \"k\"}} {{.N}}", obj);
	EXPECT_STREQ("/web [A=1 B=2] {\"k\":\"v\"} v 3", s);
	free(s);
	s = render("{{range .Config.Env}}<{{.}}>{{end}}|{{if .Missing}}yes{{else}}no{{end}}", obj);
	EXPECT_STREQ("<A=1><B=2>|no", s);
	free(s);
	s = render("{{.Nope}}", obj);
	EXPECT_STREQ("<no value>", s);
	free(s);
	s = render("{{upper .Name}} {{join .Config.Env \",\"}} {{len .Config.Env}}", obj);
	EXPECT_STREQ("/WEB A=1,B=2 2", s);
	free(s);
	s = render("{{bogus .Name}}", obj);
	EXPECT_NE(NULL, strstr(s, "not defined"));
	free(s);
}

TEST(template_table_prefix_and_escapes)
{
	bool table = false;
	struct skiff_error err = { 0 };
	struct cli_tmpl *t = cli_tmpl_parse("table {{.ID}}\\t{{.Names}}", &table, &err);
	ASSERT_NE(NULL, t);
	EXPECT_TRUE(table);
	json_t *hdr = json_pack("{s:s, s:s}", "ID", "CONTAINER ID", "Names", "NAMES");
	char *out = NULL;
	ASSERT_EQ(0, cli_tmpl_exec(t, hdr, &out, &err));
	EXPECT_STREQ("CONTAINER ID\tNAMES", out);
	free(out);
	json_decref(hdr);
	cli_tmpl_free(t);
}

TEST(tabwriter_docker_widths)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct cli_table *t = cli_table_new();
	cli_table_add(t, "CONTAINER ID\tIMAGE\tNAMES");
	cli_table_add(t, "4f3c2b1a0d9e\tbusybox\tweb");
	cli_table_flush(t, f);
	fclose(f);
	EXPECT_STREQ("CONTAINER ID   IMAGE     NAMES\n4f3c2b1a0d9e   busybox   web\n", buf);
	free(buf);
}

TEST(units_like_go_units)
{
	char b[64];
	cli_human_size(4268000, 3, b, sizeof(b));
	EXPECT_STREQ("4.27MB", b);
	cli_human_size(0, 3, b, sizeof(b));
	EXPECT_STREQ("0B", b);
	cli_human_size(1234, 3, b, sizeof(b));
	EXPECT_STREQ("1.23kB", b);
	cli_human_duration(0, b, sizeof(b));
	EXPECT_STREQ("Less than a second", b);
	cli_human_duration(3, b, sizeof(b));
	EXPECT_STREQ("3 seconds", b);
	cli_human_duration(90, b, sizeof(b));
	EXPECT_STREQ("About a minute", b);
	cli_human_duration(3600 * 5, b, sizeof(b));
	EXPECT_STREQ("5 hours", b);
	cli_human_duration(86400 * 3, b, sizeof(b));
	EXPECT_STREQ("3 days", b);
	int64_t n;
	ASSERT_EQ(0, cli_parse_bytes("64m", &n));
	EXPECT_EQ(64LL << 20, n);
	ASSERT_EQ(0, cli_parse_bytes("1.5g", &n));
	EXPECT_EQ(3LL << 29, n);
	EXPECT_NE(0, cli_parse_bytes("12x", &n));
	char *e = cli_ellipsis("sleep 1000000000000000", 20);
	EXPECT_STREQ("sleep 1000000000000\xe2\x80\xa6", e);
	free(e);
}

static const struct cli_flag test_flags[] = {
	{ .name = "detach", .shrt = 'd', .type = FLAG_BOOL },
	{ .name = "interactive", .shrt = 'i', .type = FLAG_BOOL },
	{ .name = "tty", .shrt = 't', .type = FLAG_BOOL },
	{ .name = "env", .shrt = 'e', .type = FLAG_LIST },
	{ .name = "name", .type = FLAG_STRING },
	{ .name = "network", .type = FLAG_STRING, .alias = "net" },
	{ 0 },
};

TEST(flags_docker_spellings)
{
	char *argv[] = { "run", "-dit", "-eA=1", "--env", "B=2", "--name=web", "--net", "none", "busybox", "ls", "-l", NULL };
	struct cli_opts o;
	struct skiff_error err = { 0 };
	ASSERT_EQ(0, cli_flags_parse(test_flags, 11, argv, true, &o, &err));
	EXPECT_TRUE(opt_bool(&o, "detach"));
	EXPECT_TRUE(opt_bool(&o, "tty"));
	size_t n;
	const char **env = opt_list(&o, "env", &n);
	ASSERT_EQ(2, n);
	EXPECT_STREQ("A=1", env[0]);
	EXPECT_STREQ("B=2", env[1]);
	EXPECT_STREQ("web", opt_str(&o, "name", NULL));
	EXPECT_STREQ("none", opt_str(&o, "network", NULL));
	ASSERT_EQ(3, o.argc);
	EXPECT_STREQ("-l", o.argv[2]);
	cli_opts_free(&o);

	char *bad[] = { "ps", "--bogus", NULL };
	EXPECT_GT(0, cli_flags_parse(test_flags, 2, bad, false, &o, &err));
	EXPECT_STREQ("unknown flag: --bogus", err.msg);
	cli_opts_free(&o);
}

TEST_HARNESS_MAIN
