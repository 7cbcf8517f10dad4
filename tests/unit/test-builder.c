/* The builder's pure parts: cache keys, each metadata instruction's effect
 * on the image config and the history text Docker's classic builder
 * records, parsed from real Dockerfile lines. */
#include "kselftest_harness.h"

#include <string.h>

#include "../../userspace/build/builder.h"
#include "../../userspace/build/dockerfile.h"
#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/json.h"

/* Applies every instruction of text (no FROM) to ic; returns the last comment. */
static char *apply(json_t *ic, const char *text, json_t *vars, struct skiff_error *err)
{
	struct skiff_dockerfile *df = NULL;
	char *comment = NULL;
	bool cmd_set = false;
	if (skiff_dockerfile_parse(text, strlen(text), &df, err) < 0)
		return NULL;
	for (size_t i = 0; i < df->ninstrs; i++) {
		free(comment);
		comment = NULL;
		if (skiff_build_apply_meta(ic, &df->instrs[i], df->escape, vars, &cmd_set, &comment, err) < 0) {
			skiff_dockerfile_free(df);
			return NULL;
		}
	}
	skiff_dockerfile_free(df);
	return comment;
}

TEST(cache_key_depends_on_every_part)
{
	char a[72], b[72], c[72], d[72], e[72];
	skiff_build_cache_key("sha256:1", "RUN x", NULL, a);
	skiff_build_cache_key("sha256:1", "RUN x", "", b);
	skiff_build_cache_key("sha256:2", "RUN x", NULL, c);
	skiff_build_cache_key("sha256:1", "RUN y", NULL, d);
	skiff_build_cache_key("sha256:1", "RUN x", "sum", e);
	EXPECT_STREQ(a, b);
	EXPECT_STRNE(a, c);
	EXPECT_STRNE(a, d);
	EXPECT_STRNE(a, e);
	EXPECT_EQ(0, strncmp(a, "sha256:", 7));
	/* no ambiguity between the parts */
	skiff_build_cache_key("sha256:1", "RUN xsum", NULL, c);
	EXPECT_STRNE(c, e);
}

TEST(env_label_and_history)
{
	struct skiff_error err = { 0 };
	json_t *ic = json_pack("{s:{s:[s]}}", "config", "Env", "PATH=/bin");
	json_t *vars = json_pack("{s:s}", "V", "val");
	_cleanup_free_ char *c1 = apply(ic, "ENV A=1 B=\"two words\" C=${V}\n", vars, &err);
	ASSERT_NE(NULL, c1) TH_LOG("%s", err.msg);
	EXPECT_STREQ("/bin/sh -c #(nop)  ENV A=1 B=two words C=val", c1);
	json_t *env = json_object_get(json_object_get(ic, "config"), "Env");
	EXPECT_EQ(4, json_array_size(env));
	EXPECT_STREQ("B=two words", json_string_value(json_array_get(env, 2)));
	_cleanup_free_ char *c2 = apply(ic, "ENV PATH /usr/bin:/bin\n", vars, &err);
	EXPECT_STREQ("PATH=/usr/bin:/bin", json_string_value(json_array_get(env, 0)));
	_cleanup_free_ char *c3 = apply(ic, "LABEL a=b \"c d\"=e\n", vars, &err);
	EXPECT_STREQ("/bin/sh -c #(nop)  LABEL a=b c d=e", c3);
	EXPECT_STREQ("e", skiff_json_str(json_object_get(json_object_get(ic, "config"), "Labels"), "c d", ""));
	json_decref(ic);
	json_decref(vars);
}

TEST(cmd_entrypoint_shell)
{
	struct skiff_error err = { 0 };
	json_t *ic = json_pack("{s:{s:[s]}}", "config", "Cmd", "sh");
	json_t *vars = json_object();
	_cleanup_free_ char *c1 = apply(ic, "ENTRYPOINT [\"/bin/echo\"]\n", vars, &err);
	json_t *cfg = json_object_get(ic, "config");
	/* an ENTRYPOINT resets the base image's CMD */
	EXPECT_TRUE(json_is_null(json_object_get(cfg, "Cmd")));
	EXPECT_STREQ("/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/echo\"]", c1);
	_cleanup_free_ char *c2 = apply(ic, "SHELL [\"/bin/bash\", \"-c\"]\nCMD echo \"hi\"\n", vars, &err);
	ASSERT_NE(NULL, c2) TH_LOG("%s", err.msg);
	EXPECT_STREQ("/bin/bash -c #(nop)  CMD [\"/bin/bash\" \"-c\" \"echo \\\"hi\\\"\"]", c2);
	EXPECT_EQ(3, json_array_size(json_object_get(cfg, "Cmd")));
	_cleanup_free_ char *c3 = apply(ic, "CMD [\"a\"]\nENTRYPOINT [\"b\"]\n", vars, &err);
	/* CMD in the same stage survives the ENTRYPOINT */
	EXPECT_STREQ("a", json_string_value(json_array_get(json_object_get(cfg, "Cmd"), 0)));
	json_decref(ic);
	json_decref(vars);
}

TEST(ports_volumes_user_signal_workdir)
{
	struct skiff_error err = { 0 };
	json_t *ic = json_object();
	json_t *vars = json_pack("{s:s}", "P", "8080");
	_cleanup_free_ char *c1 = apply(ic, "EXPOSE 80 ${P}/udp\n", vars, &err);
	ASSERT_NE(NULL, c1) TH_LOG("%s", err.msg);
	EXPECT_STREQ("/bin/sh -c #(nop)  EXPOSE 80 8080/udp", c1);
	json_t *cfg = json_object_get(ic, "config");
	EXPECT_NE(NULL, json_object_get(json_object_get(cfg, "ExposedPorts"), "80/tcp"));
	EXPECT_NE(NULL, json_object_get(json_object_get(cfg, "ExposedPorts"), "8080/udp"));
	_cleanup_free_ char *c2 = apply(ic, "VOLUME /a /b\n", vars, &err);
	EXPECT_STREQ("/bin/sh -c #(nop)  VOLUME [/a /b]", c2);
	_cleanup_free_ char *c3 = apply(ic, "USER app:app\nSTOPSIGNAL SIGQUIT\n", vars, &err);
	EXPECT_STREQ("/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT", c3);
	EXPECT_STREQ("app:app", skiff_json_str(cfg, "User", ""));
	_cleanup_free_ char *c4 = apply(ic, "WORKDIR /srv\nWORKDIR app/../web\n", vars, &err);
	EXPECT_STREQ("/bin/sh -c #(nop) WORKDIR /srv/web", c4);
	EXPECT_STREQ("/srv/web", skiff_json_str(cfg, "WorkingDir", ""));
	EXPECT_EQ(NULL, apply(ic, "EXPOSE 99999\n", vars, &err));
	EXPECT_NE(NULL, strstr(err.msg, "invalid containerPort"));
	EXPECT_EQ(NULL, apply(ic, "STOPSIGNAL SIGNOPE\n", vars, &err));
	EXPECT_NE(NULL, strstr(err.msg, "Invalid signal"));
	json_decref(ic);
	json_decref(vars);
}

TEST(healthcheck_onbuild_maintainer)
{
	struct skiff_error err = { 0 };
	json_t *ic = json_object();
	json_t *vars = json_object();
	_cleanup_free_ char *c1 = apply(ic, "HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f x\n", vars, &err);
	ASSERT_NE(NULL, c1) TH_LOG("%s", err.msg);
	EXPECT_STREQ("/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"curl -f x\"] \"30s\" \"1m30s\" \"0s\" \"0s\" '\\x03'}", c1);
	json_t *hc = json_object_get(json_object_get(ic, "config"), "Healthcheck");
	EXPECT_EQ(30000000000LL, skiff_json_int(hc, "Interval", 0));
	EXPECT_EQ(90000000000LL, skiff_json_int(hc, "Timeout", 0));
	EXPECT_EQ(3, skiff_json_int(hc, "Retries", 0));
	_cleanup_free_ char *c2 = apply(ic, "HEALTHCHECK NONE\n", vars, &err);
	hc = json_object_get(json_object_get(ic, "config"), "Healthcheck");
	EXPECT_STREQ("NONE", json_string_value(json_array_get(json_object_get(hc, "Test"), 0)));
	_cleanup_free_ char *c3 = apply(ic, "ONBUILD RUN echo hi\n", vars, &err);
	EXPECT_STREQ("/bin/sh -c #(nop)  ONBUILD RUN echo hi", c3);
	EXPECT_STREQ("RUN echo hi",
		     json_string_value(json_array_get(json_object_get(json_object_get(ic, "config"), "OnBuild"), 0)));
	_cleanup_free_ char *c4 = apply(ic, "MAINTAINER Jane <j@x>\n", vars, &err);
	EXPECT_STREQ("Jane <j@x>", skiff_json_str(ic, "author", ""));
	json_decref(ic);
	json_decref(vars);
}

TEST(nop_comment_forms)
{
	json_t *ic = json_pack("{s:{s:[s, s]}}", "config", "Shell", "/bin/bash", "-o");
	_cleanup_free_ char *a = skiff_build_nop_comment(ic, "COPY file:abc in /x ", false);
	_cleanup_free_ char *b = skiff_build_nop_comment(NULL, "ARG V", true);
	EXPECT_STREQ("/bin/bash -o #(nop) COPY file:abc in /x ", a);
	EXPECT_STREQ("/bin/sh -c #(nop)  ARG V", b);
	json_decref(ic);
}

TEST_HARNESS_MAIN
