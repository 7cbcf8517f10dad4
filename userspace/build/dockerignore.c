/* The .dockerignore matcher, as Docker's patternmatcher reads the file:
 * Go filepath.Match patterns (`*`, `?`, `[...]`, `\` escapes) plus `**`
 * for any number of directories, `!` exceptions, the last matching pattern
 * wins, and a pattern that matches a directory excludes all below it. */
#include "dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "lex-internal.h"

struct pattern {
	regex_t re;
	bool exclusion; /* a `!` line: re-includes */
	char *text;     /* cleaned, without the `!` */
};

struct skiff_ignore {
	struct pattern *v;
	size_t n;
};

/* Docker's pattern-to-regexp translation, for POSIX extended regexps. */
static int to_regex(const char *pat, char **out)
{
	struct df_buf b = { 0 };
	int r = df_buf_puts(&b, "^");

	for (const char *s = pat; *s && r >= 0; s++) {
		char one[3] = { *s, 0, 0 };
		if (*s == '*') {
			if (s[1] == '*') {
				s++;
				if (s[1] == '/')
					s++;
				/* "**" at the end takes everything, like .gitignore;
				 * elsewhere it is any number of directories, even none */
				r = df_buf_puts(&b, s[1] ? "(.*/)?" : ".*");
			} else {
				r = df_buf_puts(&b, "[^/]*");
			}
		} else if (*s == '?') {
			r = df_buf_puts(&b, "[^/]");
		} else if (*s == '[') {
			/* a character class: copied through; Go's `\x` inside
			 * means x, POSIX has no escapes in brackets */
			const char *e = s + 1;
			if (*e == '^' || *e == '!')
				e++;
			if (*e == ']')
				e++;
			while (*e && *e != ']')
				e++;
			if (!*e) {
				free(b.p);
				return -EINVAL;
			}
			r = df_buf_puts(&b, "[");
			s++;
			if (*s == '!' || *s == '^') {
				r = df_buf_puts(&b, "^");
				s++;
			}
			for (; s < e && r >= 0; s++) {
				if (*s == '\\' && s + 1 < e)
					s++;
				one[0] = *s;
				r = df_buf_puts(&b, one);
			}
			if (r >= 0)
				r = df_buf_puts(&b, "]");
		} else if (*s == '\\') {
			if (s[1]) {
				s++;
				if (isalnum((unsigned char)*s)) {
					one[0] = *s;
				} else {
					one[0] = '\\';
					one[1] = *s;
				}
			} else {
				one[0] = '\\';
				one[1] = '\\';
			}
			r = df_buf_puts(&b, one);
		} else if (strchr(".+()|{}$^]", *s)) {
			one[0] = '\\';
			one[1] = *s;
			r = df_buf_puts(&b, one);
		} else {
			r = df_buf_puts(&b, one);
		}
	}
	if (r >= 0)
		r = df_buf_puts(&b, "$");
	if (r < 0) {
		free(b.p);
		return r;
	}
	*out = b.p;
	return 0;
}

void skiff_ignore_free(struct skiff_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++) {
		regfree(&ig->v[i].re);
		free(ig->v[i].text);
	}
	free(ig->v);
	free(ig);
}

static char *trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int skiff_ignore_parse(const char *text, struct skiff_ignore **out, struct skiff_error *err)
{
	_cleanup_free_ char *copy = strdup(text ? text : "");
	struct skiff_ignore *ig = calloc(1, sizeof(*ig));
	size_t cap = 0;
	char *save = NULL;

	if (!copy || !ig) {
		free(ig);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "reading .dockerignore: out of memory");
	}
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *re = NULL;
		char clean[4096];
		bool excl = false;
		char *p;
		int r;

		/* a comment only when # is the very first character, as Docker reads it */
		if (line[0] == '#')
			continue;
		p = trim(line);
		if (!*p)
			continue;
		if (*p == '!') {
			excl = true;
			p = trim(p + 1);
		}
		r = skiff_path_clean(p, clean, sizeof(clean), false);
		if (r == -EXDEV || (r >= 0 && !*clean))
			continue; /* "../x" or "/": nothing in the context can match */
		if (r < 0)
			goto bad;
		if ((r = to_regex(clean, &re)) == -ENOMEM)
			goto nomem;
		if (r < 0)
			goto bad;
		if (ig->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct pattern *v = realloc(ig->v, nc * sizeof(*v));
			if (!v)
				goto nomem;
			ig->v = v;
			cap = nc;
		}
		if (regcomp(&ig->v[ig->n].re, re, REG_EXTENDED | REG_NOSUB) != 0)
			goto bad;
		ig->v[ig->n].exclusion = excl;
		if (!(ig->v[ig->n].text = strdup(clean))) {
			regfree(&ig->v[ig->n].re);
			goto nomem;
		}
		ig->n++;
		continue;
	bad:
		skiff_ignore_free(ig);
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "error reading .dockerignore: syntax error in pattern: %s",
				       p);
	nomem:
		skiff_ignore_free(ig);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "reading .dockerignore: out of memory");
	}
	*out = ig;
	return 0;
}

/* The pattern matches path or one of its parent directories. */
static bool pattern_match(const struct pattern *p, const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (regexec(&p->re, path, 0, NULL, 0) == 0)
		return true;
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, path, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		bool m = regexec(&p->re, buf, 0, NULL, 0) == 0;
		buf[i] = '/';
		if (m)
			return true;
	}
	return false;
}

bool skiff_ignore_match(const struct skiff_ignore *ig, const char *path)
{
	bool matched = false;

	if (!ig)
		return false;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	for (size_t i = 0; i < ig->n; i++) {
		const struct pattern *p = &ig->v[i];
		/* an exclusion can only undo a match, a pattern only make one */
		if (p->exclusion != matched)
			continue;
		if (pattern_match(p, path))
			matched = !p->exclusion;
	}
	return matched;
}

/* Could an exception pattern match something below dir? Compared
 * component by component; anything unsure (a `**`) says yes. */
bool skiff_ignore_may_include(const struct skiff_ignore *ig, const char *dir)
{
	if (!ig)
		return false;
	for (size_t i = 0; i < ig->n; i++) {
		const char *pp = ig->v[i].text, *dp = dir;
		bool possible = true;

		if (!ig->v[i].exclusion)
			continue;
		while (*dp) {
			const char *pe = strchr(pp, '/'), *de = strchr(dp, '/');
			size_t pl = pe ? (size_t)(pe - pp) : strlen(pp), dl = de ? (size_t)(de - dp) : strlen(dp);
			char pc[1024], dc[1024];

			if (!*pp || strstr(pp, "**") == pp || pl >= sizeof(pc) || dl >= sizeof(dc))
				break;
			memcpy(pc, pp, pl);
			pc[pl] = '\0';
			memcpy(dc, dp, dl);
			dc[dl] = '\0';
			if (strstr(pc, "**"))
				break;
			if (fnmatch(pc, dc, 0) != 0) {
				possible = false;
				break;
			}
			pp += pl + (pe ? 1 : 0);
			dp += dl + (de ? 1 : 0);
		}
		if (possible)
			return true;
	}
	return false;
}
