/* libFuzzer harness for the Dockerfile front end (userspace/build/
 * dockerfile.c, expand.c): a build context's Dockerfile is whatever the
 * client sends. Parses the input as skiffd does (NUL-terminated text and its
 * length), then expands every argument, flag and heredoc as the builder
 * would, with a few variables set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/build/dockerfile.h"

static const char *const vars[][2] = {
	{ "A", "x y" }, { "EMPTY", "" }, { "HOME", "/root" }, { "Q", "'\"$A\\" }, { "PATH", "/bin:/usr/bin" },
};

static const char *get(const char *name, void *data)
{
	(void)data;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (!strcmp(vars[i][0], name))
			return vars[i][1];
	return NULL;
}

static void expand(const char *s, char esc)
{
	struct skiff_error err = { 0 };
	char *one = skiff_df_expand(s, esc, get, NULL, &err);
	char **words = skiff_df_expand_words(s, esc, get, NULL, &err);

	free(one);
	for (size_t i = 0; words && words[i]; i++)
		free(words[i]);
	free(words);
}

static void expand_instr(const struct skiff_df_instr *in, char esc, int depth)
{
	if (depth > 4)
		abort(); /* ONBUILD ONBUILD is refused by the parser */
	for (size_t i = 0; in->args && in->args[i]; i++)
		expand(in->args[i], esc);
	for (size_t i = 0; i < in->nflags; i++)
		expand(in->flags[i].value, esc);
	for (size_t i = 0; i < in->nheredocs; i++)
		if (in->heredocs[i].expand)
			expand(in->heredocs[i].content, esc);
	if (in->onbuild)
		expand_instr(in->onbuild, esc, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct skiff_error err = { 0 };
	struct skiff_dockerfile *df = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (skiff_dockerfile_parse(text, size, &df, &err) == 0) {
		if (!df || !df->ninstrs || (df->escape != '\\' && df->escape != '`'))
			abort();
		for (size_t i = 0; i < df->ninstrs; i++)
			expand_instr(&df->instrs[i], df->escape, 0);
		skiff_dockerfile_free(df);
	}
	free(text);
	return 0;
}
