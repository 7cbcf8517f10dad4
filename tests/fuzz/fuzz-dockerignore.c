/* libFuzzer harness for the .dockerignore matcher (userspace/build/
 * dockerignore.c): the patterns come from the build context. Input: the
 * patterns, then optionally a NUL byte and more paths to match, one a line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/build/dockerfile.h"

static const char *const paths[] = {
	"Dockerfile", "a", "a/b", "a/b/c.txt", ".git/HEAD", "node_modules/x/y.js", "src/main.go", "dir/sub/file",
	"x.tmp", "deep/a/b/c/d/e/f", "[", "*", "\\",
};

static void match(const struct skiff_ignore *ig, const char *p)
{
	skiff_ignore_match(ig, p);
	skiff_ignore_may_include(ig, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct skiff_error err = { 0 };
	struct skiff_ignore *ig = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (skiff_ignore_parse(text, &ig, &err) == 0) {
		size_t plen = strlen(text);
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			match(ig, paths[i]);
		if (plen < size) { /* extra paths after the NUL */
			char *save = NULL;
			int n = 0;
			for (char *p = strtok_r(text + plen + 1, "\n", &save); p && n < 32;
			     p = strtok_r(NULL, "\n", &save), n++)
				match(ig, p);
		}
		skiff_ignore_free(ig);
	}
	free(text);
	return 0;
}
