/* Unit tests for userspace/build/dockerfile.c and expand.c: a table of
 * Dockerfiles and the instructions (line, args, flags, JSON form, heredocs)
 * or errors they give, and a table of words and their expansions. */
#include "kselftest_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/build/dockerfile.h"

/* One line per instruction: "L<line> NAME[ json] --flag=v [arg] HD(name,expand,chomp,<content>)" */
static char *dump(const struct skiff_dockerfile *df)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; i < df->ninstrs; i++) {
		const struct skiff_df_instr *in = &df->instrs[i];
		fprintf(f, "L%d %s%s", in->line, in->name, in->json ? " json" : "");
		for (size_t j = 0; j < in->nflags; j++)
			fprintf(f, " --%s=%s", in->flags[j].name, in->flags[j].value);
		for (char **a = in->args; a && *a; a++)
			fprintf(f, " [%s]", *a);
		for (size_t j = 0; j < in->nheredocs; j++)
			fprintf(f, " HD(%s,%d,%d,<%s>)", in->heredocs[j].name, in->heredocs[j].expand,
				in->heredocs[j].chomp, in->heredocs[j].content);
		if (in->onbuild)
			fprintf(f, " ->%s", in->onbuild->name);
		fprintf(f, "\n");
	}
	fclose(f);
	return buf;
}

static const struct {
	const char *text;
	const char *want; /* dump, or "ERR <message>" */
} parse_cases[] = {
	{ "FROM busybox\n", "L1 FROM [busybox]\n" },
	{ "from busybox AS Base\n", "ERR Dockerfile parse error line 1: invalid name for build stage: \"Base\", name can't start with a number or contain symbols" },
	{ "ARG V=1\nFROM busybox:${V} as b\n", "L1 ARG [V=1]\nL2 FROM [busybox:${V}] [as] [b]\n" },
	{ "FROM --platform=linux/amd64 a\n", "L1 FROM --platform=linux/amd64 [a]\n" },
	/* comments, blank lines, continuations with comments inside, CRLF */
	{ "# c\n\nFROM a\r\nRUN echo a \\\n # inside\n   && echo b\n", "L3 FROM [a]\nL4 RUN [echo a    && echo b]\n" },
	{ "FROM a\nRUN echo \\\n\n  x\n", "L1 FROM [a]\nL2 RUN [echo   x]\n" },
	{ "  FROM a  \n\tRUN  x  \n", "L1 FROM [a]\nL2 RUN [x]\n" },
	/* directives */
	{ "# escape=`\nFROM a\nRUN echo \\ `\n  b\n", "L2 FROM [a]\nL3 RUN [echo \\   b]\n" },
	{ "# syntax=docker/dockerfile:1\n# escape=\\\nFROM a\n", "L3 FROM [a]\n" },
	{ "FROM a\n# escape=`\nRUN a `\nb\n", "ERR dockerfile parse error on line 4: unknown instruction: B" },
	{ "# escape=x\nFROM a\n", "ERR Dockerfile parse error line 1: invalid escape token 'x' does not match ` or \\" },
	{ "# escape=`\n# escape=`\nFROM a\n", "ERR Dockerfile parse error line 2: only one escape parser directive can be used" },
	/* JSON detection */
	{ "CMD [\"a\", \"b c\"]\n", "L1 CMD json [a] [b c]\n" },
	{ "CMD [\"a\", 1]\n", "L1 CMD [[\"a\", 1]]\n" },
	{ "ENTRYPOINT [bad\n", "L1 ENTRYPOINT [[bad]\n" },
	{ "CMD []\n", "L1 CMD json\n" },
	{ "SHELL [\"/bin/bash\", \"-c\"]\n", "L1 SHELL json [/bin/bash] [-c]\n" },
	{ "SHELL /bin/bash -c\n", "ERR Dockerfile parse error line 1: SHELL requires the arguments to be in JSON form" },
	/* COPY/ADD */
	{ "COPY --chown=1:2 --chmod=755 --link a b /d/\n", "L1 COPY --chown=1:2 --chmod=755 --link= [a] [b] [/d/]\n" },
	{ "COPY --from=build /out /app\n", "L1 COPY --from=build [/out] [/app]\n" },
	{ "COPY [\"a b\", \"/d\"]\n", "L1 COPY json [a b] [/d]\n" },
	{ "ADD x.tar.gz /\n", "L1 ADD [x.tar.gz] [/]\n" },
	{ "COPY a\n", "ERR Dockerfile parse error line 1: COPY requires at least two arguments, but only one was provided. Destination could not be determined" },
	{ "COPY --bogus=1 a b\n", "ERR Dockerfile parse error line 1: Unknown flag: bogus" },
	{ "COPY --from a b\n", "ERR Dockerfile parse error line 1: Missing a value on flag: from" },
	{ "COPY --from=a --from=b a b\n", "ERR Dockerfile parse error line 1: Duplicate flag specified: from" },
	{ "RUN --foo x\n", "ERR Dockerfile parse error line 1: Unknown flag: foo" },
	/* ENV / LABEL / ARG */
	{ "ENV A=1 B=\"x y\" C=a\\ b\n", "L1 ENV [A=1] [B=\"x y\"] [C=a\\ b]\n" },
	{ "ENV legacy  hello  world\n", "L1 ENV [legacy=hello  world]\n" },
	{ "ENV x\n", "ERR Dockerfile parse error line 1: ENV must have two arguments" },
	{ "ENV =x\n", "ERR Dockerfile parse error line 1: ENV names can not be blank" },
	{ "ENV a=1 b\n", "ERR Dockerfile parse error line 1: Syntax error - can't find = in \"b\". Must be of the form: name=value" },
	{ "LABEL \"a b\"=c d=\"e f\"\n", "L1 LABEL [\"a b\"=c] [d=\"e f\"]\n" },
	{ "ARG A B=2\n", "L1 ARG [A] [B=2]\n" },
	{ "ENV\n", "ERR Dockerfile parse error line 1: ENV requires at least one argument" },
	/* the rest */
	{ "WORKDIR /a b\nUSER 1:1\nSTOPSIGNAL SIGKILL\nMAINTAINER me <m@x>\n",
	  "L1 WORKDIR [/a b]\nL2 USER [1:1]\nL3 STOPSIGNAL [SIGKILL]\nL4 MAINTAINER [me <m@x>]\n" },
	{ "EXPOSE 80/tcp 53/udp\nVOLUME /a /b\nVOLUME [\"/c\"]\n", "L1 EXPOSE [80/tcp] [53/udp]\nL2 VOLUME [/a] [/b]\nL3 VOLUME json [/c]\n" },
	{ "HEALTHCHECK --interval=5s --retries=3 CMD curl -f x\n", "L1 HEALTHCHECK --interval=5s --retries=3 [CMD-SHELL] [curl -f x]\n" },
	{ "HEALTHCHECK CMD [\"a\", \"b\"]\nHEALTHCHECK NONE\n", "L1 HEALTHCHECK json [CMD] [a] [b]\nL2 HEALTHCHECK [NONE]\n" },
	{ "HEALTHCHECK FOO x\n", "ERR Dockerfile parse error line 1: Unknown type \"FOO\" in HEALTHCHECK (try CMD)" },
	{ "HEALTHCHECK --bogus=1 CMD x\n", "ERR Dockerfile parse error line 1: Unknown flag: bogus" },
	{ "ONBUILD RUN echo hi\n", "L1 ONBUILD [RUN echo hi] ->RUN\n" },
	{ "FROM a\nONBUILD ONBUILD RUN x\n", "ERR Dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed" },
	{ "ONBUILD FROM x\n", "ERR Dockerfile parse error line 1: FROM isn't allowed as an ONBUILD trigger" },
	{ "ONBUILD MAINTAINER x\n", "ERR Dockerfile parse error line 1: MAINTAINER isn't allowed as an ONBUILD trigger" },
	{ "ONBUILD FOO x\n", "ERR dockerfile parse error on line 1: unknown instruction: FOO" },
	{ "FROM a\n\nfoo bar\n", "ERR dockerfile parse error on line 3: unknown instruction: FOO" },
	{ "# only a comment\n\n", "ERR file with no instructions" },
	{ "", "ERR file with no instructions" },
	/* heredocs */
	{ "RUN <<EOF\necho $A\nEOF\nCMD x\n", "L1 RUN [<<EOF] HD(EOF,1,0,<echo $A\n>)\nL4 CMD [x]\n" },
	{ "RUN <<-\"X\" cat <<'Y'\n\tline\n\tX\ny\nY\n", "L1 RUN [<<-\"X\" cat <<'Y'] HD(X,0,1,<line\n>) HD(Y,0,0,<y\n>)\n" },
	{ "RUN python3 <<EOF\nprint(1)\nEOF\n", "L1 RUN [python3 <<EOF] HD(EOF,1,0,<print(1)\n>)\n" },
	{ "COPY <<EOF /etc/f\nhello\nEOF\n", "L1 COPY [<<EOF] [/etc/f] HD(EOF,1,0,<hello\n>)\n" },
	{ "COPY <<A <<B /d/\na\nA\nb\nB\n", "L1 COPY [<<A] [<<B] [/d/] HD(A,1,0,<a\n>) HD(B,1,0,<b\n>)\n" },
	{ "RUN <<EOF\nno end\n", "ERR Dockerfile parse error line 1: unterminated heredoc" },
	{ "RUN echo a<<b\n", "L1 RUN [echo a<<b]\n" },
	{ "RUN cat <<<x\n", "L1 RUN [cat <<<x]\n" },
	{ "CMD <<EOF\n", "L1 CMD [<<EOF]\n" },
};

TEST(parse_table)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		struct skiff_dockerfile *df = NULL;
		struct skiff_error err = { 0 };
		const char *t = parse_cases[i].text;
		char *got;
		int r = skiff_dockerfile_parse(t, strlen(t), &df, &err);

		if (r < 0) {
			EXPECT_EQ(400, err.status);
			if (asprintf(&got, "ERR %s", err.msg) < 0)
				got = NULL;
		} else {
			got = dump(df);
		}
		ASSERT_NE(NULL, got);
		EXPECT_STREQ(parse_cases[i].want, got)
		{
			TH_LOG("case %zu: %s", i, t);
		}
		free(got);
		skiff_dockerfile_free(df);
	}
}

TEST(directives_and_warnings)
{
	const char *t = "# syntax = docker/dockerfile:1.4\n# escape=`\nFROM a\nRUN a `\n\n b\n";
	struct skiff_dockerfile *df = NULL;
	struct skiff_error err = { 0 };

	ASSERT_EQ(0, skiff_dockerfile_parse(t, strlen(t), &df, &err));
	EXPECT_STREQ("docker/dockerfile:1.4", df->syntax);
	EXPECT_EQ('`', df->escape);
	ASSERT_NE(NULL, df->warnings);
	ASSERT_NE(NULL, df->warnings[0]);
	EXPECT_NE(NULL, strstr(df->warnings[0], "empty continuation line"));
	EXPECT_STREQ("RUN a  b", df->instrs[1].original);
	skiff_dockerfile_free(df);

	/* a directive after a blank line is a comment */
	t = "\n# escape=`\nFROM a\n";
	ASSERT_EQ(0, skiff_dockerfile_parse(t, strlen(t), &df, &err));
	EXPECT_EQ('\\', df->escape);
	EXPECT_EQ(3, df->instrs[0].line);
	skiff_dockerfile_free(df);
}

static const char *env(const char *name, void *data)
{
	(void)data;
	static const char *const vars[][2] = { { "A", "a" }, { "E", "" }, { "S", "x  y" }, { "P", "/usr/bin" } };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (!strcmp(vars[i][0], name))
			return vars[i][1];
	return NULL;
}

static const struct {
	const char *in;
	char esc;
	const char *want;  /* single word, or "ERR <msg>" */
	const char *words; /* "|"-joined words, NULL: not checked */
} expand_cases[] = {
	{ "$A", '\\', "a", "a" },
	{ "${A}b", '\\', "ab", "ab" },
	{ "$Ab", '\\', "", "" },
	{ "${U}", '\\', "", "" },
	{ "${U:-d}", '\\', "d", "d" },
	{ "${E:-d}", '\\', "d", "d" },
	{ "${E-d}", '\\', "", "" },
	{ "${U-d}", '\\', "d", "d" },
	{ "${A:+alt}", '\\', "alt", "alt" },
	{ "${E:+alt}", '\\', "", "" },
	{ "${E+alt}", '\\', "alt", "alt" },
	{ "${U+alt}", '\\', "", "" },
	{ "${A:?}", '\\', "a", "a" },
	{ "${U:?}", '\\', "ERR failed to process \"${U:?}\": U: is not set", NULL },
	{ "${E:?must be set}", '\\', "ERR failed to process \"${E:?must be set}\": E: must be set", NULL },
	{ "${E?x}", '\\', "", "" },
	{ "${U?x}", '\\', "ERR failed to process \"${U?x}\": U: x", NULL },
	{ "${A:x}", '\\', "ERR failed to process \"${A:x}\": unsupported modifier (:x) in substitution", NULL },
	{ "${A%x}", '\\', "ERR failed to process \"${A%x}\": unsupported modifier (%) in substitution", NULL },
	{ "${}", '\\', "ERR failed to process \"${}\": bad substitution", NULL },
	{ "${A", '\\', "ERR failed to process \"${A\": unexpected end of statement while looking for matching }", NULL },
	{ "${U:-${A}x}", '\\', "ax", "ax" },
	{ "'$A'", '\\', "$A", "$A" },
	{ "\"$A b\"", '\\', "a b", "a b" },
	{ "\\$A", '\\', "$A", "$A" },
	{ "a\\ b", '\\', "a b", "a b" },
	{ "\"a\\b\\\"c\\$\"", '\\', "a\\b\"c$", "a\\b\"c$" },
	{ "$S", '\\', "x  y", "x|y" },
	{ "\"$S\"", '\\', "x  y", "x  y" },
	{ "a b  c", '\\', "a b  c", "a|b|c" },
	{ "\"\" x ''", '\\', " x ", "x" },
	{ "$", '\\', "$", "$" },
	{ "$P:/bin", '\\', "/usr/bin:/bin", "/usr/bin:/bin" },
	{ "`$A", '`', "$A", "$A" },
	{ "C:\\dir", '`', "C:\\dir", "C:\\dir" },
	{ "\"a\"", '`', "a", "a" },
	{ "'unterminated", '\\', "ERR failed to process \"'unterminated\": unexpected end of statement while looking for matching single-quote", NULL },
	{ "\"unterminated", '\\', "ERR failed to process \"\"unterminated\": unexpected end of statement while looking for matching double-quote", NULL },
};

TEST(expand_table)
{
	for (size_t i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
		struct skiff_error err = { 0 };
		char *got = skiff_df_expand(expand_cases[i].in, expand_cases[i].esc, env, NULL, &err);
		char *cmp = got;

		if (!got) {
			EXPECT_EQ(400, err.status);
			if (asprintf(&cmp, "ERR %s", err.msg) < 0)
				cmp = NULL;
		}
		ASSERT_NE(NULL, cmp);
		EXPECT_STREQ(expand_cases[i].want, cmp)
		{
			TH_LOG("case %zu: %s", i, expand_cases[i].in);
		}
		free(cmp);

		if (expand_cases[i].words) {
			char **w = skiff_df_expand_words(expand_cases[i].in, expand_cases[i].esc, env, NULL, &err);
			char joined[256] = "";
			ASSERT_NE(NULL, w);
			for (char **p = w; *p; p++) {
				if (p != w)
					strcat(joined, "|");
				strcat(joined, *p);
			}
			EXPECT_STREQ(expand_cases[i].words, joined)
			{
				TH_LOG("words case %zu: %s", i, expand_cases[i].in);
			}
			for (char **p = w; *p; p++)
				free(*p);
			free(w);
		}
	}
}

TEST_HARNESS_MAIN
