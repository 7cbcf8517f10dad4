/* The Dockerfile parser: lines to instructions, the way Docker's classic
 * builder and BuildKit read them (parser directives, comments, line
 * continuations, JSON form detection, builder flags, heredocs). Expansion
 * of variables is left to the builder (expand.c), which knows the env. */
#include "dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/cleanup.h"
#include "lex-internal.h"

/* ---- the instruction table ---- */

enum arg_kind {
	K_STRING,     /* the rest of the line as one argument */
	K_WORDS,      /* split on whitespace (FROM, EXPOSE) */
	K_MAYBE_JSON, /* exec form or the raw shell form (RUN, CMD, ENTRYPOINT, SHELL) */
	K_JSON_LIST,  /* exec form or split on whitespace (COPY, ADD, VOLUME) */
	K_KV,         /* k=v pairs or the legacy "k v" (ENV, LABEL) */
	K_ARG,        /* names or name=value pairs */
	K_HEALTH,
	K_ONBUILD,
};

enum { F_STR = 0, F_BOOL = 1, F_MULTI = 2 };

struct flag_spec {
	const char *name;
	int type;
};

struct instr_spec {
	const char *name;
	int cmd;
	enum arg_kind kind;
	bool heredocs;
	const struct flag_spec *flags;
};

static const struct flag_spec from_flags[] = { { "platform", F_STR }, { 0 } };
static const struct flag_spec run_flags[] = {
	{ "mount", F_STR | F_MULTI }, { "network", F_STR }, { "security", F_STR }, { 0 },
};
static const struct flag_spec copy_flags[] = {
	{ "from", F_STR },    { "chown", F_STR },	 { "chmod", F_STR },
	{ "link", F_BOOL },   { "parents", F_BOOL },	 { "exclude", F_STR | F_MULTI },
	{ 0 },
};
static const struct flag_spec add_flags[] = {
	{ "chown", F_STR },	     { "chmod", F_STR },  { "link", F_BOOL },
	{ "checksum", F_STR },	     { "keep-git-dir", F_BOOL }, { "exclude", F_STR | F_MULTI },
	{ 0 },
};
static const struct flag_spec health_flags[] = {
	{ "interval", F_STR }, { "timeout", F_STR }, { "start-period", F_STR },
	{ "start-interval", F_STR }, { "retries", F_STR }, { 0 },
};
static const struct flag_spec no_flags[] = { { 0 } };

static const struct instr_spec instr_specs[] = {
	{ "FROM", SKIFF_DF_FROM, K_WORDS, false, from_flags },
	{ "RUN", SKIFF_DF_RUN, K_MAYBE_JSON, true, run_flags },
	{ "CMD", SKIFF_DF_CMD, K_MAYBE_JSON, false, no_flags },
	{ "ENTRYPOINT", SKIFF_DF_ENTRYPOINT, K_MAYBE_JSON, false, no_flags },
	{ "COPY", SKIFF_DF_COPY, K_JSON_LIST, true, copy_flags },
	{ "ADD", SKIFF_DF_ADD, K_JSON_LIST, true, add_flags },
	{ "ENV", SKIFF_DF_ENV, K_KV, false, no_flags },
	{ "ARG", SKIFF_DF_ARG, K_ARG, false, no_flags },
	{ "WORKDIR", SKIFF_DF_WORKDIR, K_STRING, false, no_flags },
	{ "USER", SKIFF_DF_USER, K_STRING, false, no_flags },
	{ "EXPOSE", SKIFF_DF_EXPOSE, K_WORDS, false, no_flags },
	{ "VOLUME", SKIFF_DF_VOLUME, K_JSON_LIST, false, no_flags },
	{ "LABEL", SKIFF_DF_LABEL, K_KV, false, no_flags },
	{ "STOPSIGNAL", SKIFF_DF_STOPSIGNAL, K_STRING, false, no_flags },
	{ "HEALTHCHECK", SKIFF_DF_HEALTHCHECK, K_HEALTH, false, health_flags },
	{ "SHELL", SKIFF_DF_SHELL, K_MAYBE_JSON, false, no_flags },
	{ "ONBUILD", SKIFF_DF_ONBUILD, K_ONBUILD, false, no_flags },
	{ "MAINTAINER", SKIFF_DF_MAINTAINER, K_STRING, false, no_flags },
};

static const struct instr_spec *spec_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(instr_specs); i++)
		if (strlen(instr_specs[i].name) == len && !strncasecmp(instr_specs[i].name, name, len))
			return &instr_specs[i];
	return NULL;
}

/* ---- parse state ---- */

struct line {
	const char *s;
	size_t len;
};

struct parser {
	struct line *lines;
	size_t nlines, cur; /* cur: index of the next unread line */
	char escape;
	struct df_strv warnings;
	struct skiff_error *err;
};

static int perr(struct parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return skiff_error_set(p->err, SKIFF_EINVAL, EINVAL, "Dockerfile parse error line %d: %s", line, msg);
}

static int oom(struct parser *p)
{
	return skiff_error_set(p->err, SKIFF_EINTERNAL, ENOMEM, "parsing Dockerfile: out of memory");
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	return s;
}

static bool line_blank(const struct line *l)
{
	return skip_ws(l->s, l->s + l->len) == l->s + l->len;
}

static bool line_comment(const struct line *l)
{
	const char *s = skip_ws(l->s, l->s + l->len);
	return s < l->s + l->len && *s == '#';
}

/* Docker's continuation test: the escape char followed only by blanks at
 * the end of the line; *keep gets the length before it. */
static bool continues(const struct parser *p, const char *s, size_t len, size_t *keep)
{
	size_t e = len;
	while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	if (e > 0 && s[e - 1] == p->escape) {
		*keep = e - 1;
		return true;
	}
	*keep = len;
	return false;
}

/* ---- directives ---- */

/* `# name = value` at the very top, before any instruction, comment or
 * blank line. 1 when the line was a directive, 0 when directives end. */
static int directive(struct parser *p, struct skiff_dockerfile *df, const struct line *l, bool *seen_escape, int lineno)
{
	const char *s = l->s, *end = l->s + l->len, *n0, *n1, *v0, *v1;

	if (s == end || *s != '#')
		return 0;
	s = skip_ws(s + 1, end);
	n0 = s;
	if (s == end || !isalpha((unsigned char)*s))
		return 0;
	while (s < end && isalnum((unsigned char)*s))
		s++;
	n1 = s;
	s = skip_ws(s, end);
	if (s == end || *s != '=')
		return 0;
	v0 = skip_ws(s + 1, end);
	v1 = end;
	while (v1 > v0 && isspace((unsigned char)v1[-1]))
		v1--;
	if (v1 == v0)
		return 0;
	if (n1 - n0 == 6 && !strncasecmp(n0, "escape", 6)) {
		if (*seen_escape)
			return perr(p, lineno, "only one escape parser directive can be used");
		if (v1 - v0 != 1 || (*v0 != '\\' && *v0 != '`'))
			return perr(p, lineno, "invalid escape token '%.*s' does not match ` or \\", (int)(v1 - v0), v0);
		p->escape = df->escape = *v0;
		*seen_escape = true;
	} else if (n1 - n0 == 6 && !strncasecmp(n0, "syntax", 6)) {
		free(df->syntax);
		if (!(df->syntax = strndup(v0, v1 - v0)))
			return oom(p);
	}
	/* other names (check=...) are accepted and ignored, as BuildKit does */
	return 1;
}

/* ---- word splitting helpers (Docker's parseWords and friends) ---- */

/* Whitespace split keeping quotes and escapes in the words (parseWords). */
static int parse_words(const char *s, char esc, struct df_strv *out)
{
	struct df_buf w = { 0 };
	size_t n = strlen(s), i = 0;
	bool in_word = false, blank_ok = false;
	char quote = 0;
	int r = 0;

	for (;;) {
		if (i >= n) {
			if (in_word && (blank_ok || w.len))
				r = df_strv_push_n(out, w.p ? w.p : "", w.len);
			break;
		}
		char c = s[i];
		if (!in_word && !quote) {
			if (isspace((unsigned char)c)) {
				i++;
				continue;
			}
			in_word = true;
		}
		if (!quote) {
			if (isspace((unsigned char)c)) {
				if (blank_ok || w.len)
					if ((r = df_strv_push_n(out, w.p ? w.p : "", w.len)) < 0)
						break;
				w.len = 0;
				in_word = blank_ok = false;
				i++;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
			}
		} else if (c == quote) {
			quote = 0;
		}
		/* the escape is kept with what it escapes (not in single quotes,
		 * and never a quote char: the escape directive allows \ or `); a
		 * trailing one is dropped and ends an open quote */
		if (c == esc && quote != '\'') {
			if (i + 1 == n) {
				quote = 0;
				i++;
				continue;
			}
			if ((r = df_buf_putc(&w, c)) < 0)
				break;
			c = s[++i];
		}
		if ((r = df_buf_putc(&w, c)) < 0)
			break;
		i++;
	}
	free(w.p);
	return r;
}

static int split_ws(const char *s, struct df_strv *out)
{
	while (*s) {
		const char *e;
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		e = s;
		while (*e && !isspace((unsigned char)*e))
			e++;
		if (df_strv_push_n(out, s, e - s) < 0)
			return -ENOMEM;
		s = e;
	}
	return 0;
}

/* A JSON array of strings: 1 and the strings in out, 0 when s is not one
 * (then it is shell form). */
static int parse_json_array(const char *s, struct df_strv *out)
{
	json_t *j, *v;
	size_t i;

	if (*s != '[')
		return 0;
	if (!(j = json_loads(s, 0, NULL)))
		return 0;
	if (!json_is_array(j)) {
		json_decref(j);
		return 0;
	}
	json_array_foreach(j, i, v)
	{
		if (!json_is_string(v)) {
			json_decref(j);
			return 0;
		}
	}
	json_array_foreach(j, i, v)
	{
		if (df_strv_push_n(out, json_string_value(v), json_string_length(v)) < 0) {
			json_decref(j);
			return -ENOMEM;
		}
	}
	json_decref(j);
	if (!out->v && !(out->v = calloc(1, sizeof(char *))))
		return -ENOMEM;
	return 1;
}

/* ---- builder flags (extractBuilderFlags) ---- */

/* Leading --name[=value] words; quotes and backslashes in them are
 * processed, "--" ends the flags. *rest points after them. */
static int extract_flags(struct parser *p, const char *s, const char **rest, struct df_strv *words, int lineno)
{
	for (;;) {
		struct df_buf w = { 0 };
		bool blank_ok = false;
		char quote = 0;

		while (*s && isspace((unsigned char)*s))
			s++;
		if (s[0] != '-' || s[1] != '-')
			break;
		while (*s && (quote || !isspace((unsigned char)*s))) {
			char c = *s++;
			if (quote && c == quote) {
				quote = 0;
				continue;
			}
			if (!quote && (c == '\'' || c == '"')) {
				quote = c;
				blank_ok = true;
				continue;
			}
			if (c == '\\') {
				if (!*s)
					continue;
				c = *s++;
			}
			if (df_buf_put(&w, &c, 1) < 0) {
				free(w.p);
				return oom(p);
			}
		}
		if (w.len == 2 && !memcmp(w.p, "--", 2)) {
			free(w.p);
			while (*s && isspace((unsigned char)*s))
				s++;
			break;
		}
		if ((blank_ok || w.len) && df_strv_push_n(words, w.p ? w.p : "", w.len) < 0) {
			free(w.p);
			return oom(p);
		}
		free(w.p);
	}
	(void)lineno;
	*rest = s;
	return 0;
}

static int parse_flags(struct parser *p, const struct instr_spec *spec, char **words, struct skiff_df_instr *in)
{
	size_t n = 0;
	for (char **w = words; w && *w; w++)
		n++;
	if (!n)
		return 0;
	if (!(in->flags = calloc(n, sizeof(*in->flags))))
		return oom(p);
	for (char **w = words; *w; w++) {
		const char *arg = *w + 2, *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct flag_spec *f;

		for (f = spec->flags; f->name; f++)
			if (strlen(f->name) == nlen && !strncmp(f->name, arg, nlen))
				break;
		if (!f->name)
			return perr(p, in->line, "Unknown flag: %.*s", (int)nlen, arg);
		if (!(f->type & F_MULTI))
			for (size_t i = 0; i < in->nflags; i++)
				if (!strcmp(in->flags[i].name, f->name))
					return perr(p, in->line, "Duplicate flag specified: %s", f->name);
		if (f->type & F_BOOL) {
			if (eq && strcasecmp(eq + 1, "true") && strcasecmp(eq + 1, "false"))
				return perr(p, in->line, "expecting boolean value for flag %s, not: %s", f->name,
					    eq + 1);
		} else if (!eq) {
			return perr(p, in->line, "Missing a value on flag: %s", f->name);
		}
		in->flags[in->nflags].name = strdup(f->name);
		in->flags[in->nflags].value = strdup(eq ? eq + 1 : "");
		in->nflags++;
		if (!in->flags[in->nflags - 1].name || !in->flags[in->nflags - 1].value)
			return oom(p);
	}
	return 0;
}

/* ---- heredocs ---- */

/* BuildKit's heredoc word: [digits]<<[-]NAME with NAME free of '<';
 * quotes anywhere in NAME turn expansion off. 1 when w is one. */
static int heredoc_word(const char *w, size_t len, char **name, bool *chomp, bool *expand)
{
	size_t i = 0;
	struct df_buf b = { 0 };
	bool quoted = false;

	while (i < len && isdigit((unsigned char)w[i]))
		i++;
	if (len - i < 3 || w[i] != '<' || w[i + 1] != '<')
		return 0;
	i += 2;
	*chomp = i < len && w[i] == '-';
	if (*chomp)
		i++;
	if (i == len || memchr(w + i, '<', len - i))
		return 0;
	for (char q = 0; i < len; i++) {
		char c = w[i];
		if (q && c == q) {
			q = 0;
			continue;
		}
		if (!q && (c == '\'' || c == '"')) {
			q = c;
			quoted = true;
			continue;
		}
		if (c == '\\' && q != '\'' && i + 1 < len) {
			quoted = true;
			c = w[++i];
		}
		if (df_buf_put(&b, &c, 1) < 0) {
			free(b.p);
			return -ENOMEM;
		}
	}
	if (!b.len) {
		free(b.p);
		return 0;
	}
	*name = b.p;
	*expand = !quoted;
	return 1;
}

/* Splits on whitespace outside quotes: the words heredocs are looked for in. */
static int shell_words(const char *s, struct df_strv *out)
{
	while (*s) {
		const char *e;
		char q = 0;
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		for (e = s; *e && (q || !isspace((unsigned char)*e)); e++) {
			if (q && *e == q)
				q = 0;
			else if (!q && (*e == '\'' || *e == '"'))
				q = *e;
			else if (*e == '\\' && e[1])
				e++;
		}
		if (df_strv_push_n(out, s, e - s) < 0)
			return -ENOMEM;
		s = e;
	}
	return 0;
}

static int read_heredoc(struct parser *p, struct skiff_df_heredoc *h, int lineno)
{
	struct df_buf b = { 0 };
	size_t nlen = strlen(h->name);

	while (p->cur < p->nlines) {
		const struct line *l = &p->lines[p->cur++];
		const char *s = l->s;
		size_t len = l->len;

		if (h->chomp)
			while (len && *s == '\t')
				s++, len--;
		if (len == nlen && !memcmp(s, h->name, nlen)) {
			h->content = b.p ? b.p : strdup("");
			return h->content ? 0 : oom(p);
		}
		if (df_buf_put(&b, s, len) < 0 || df_buf_put(&b, "\n", 1) < 0) {
			free(b.p);
			return oom(p);
		}
	}
	free(b.p);
	return perr(p, lineno, "unterminated heredoc");
}

static int parse_heredocs(struct parser *p, const char *rest, struct skiff_df_instr *in)
{
	struct df_strv words = { 0 };
	int r = 0;

	if (shell_words(rest, &words) < 0)
		return oom(p);
	for (size_t i = 0; i < words.n; i++) {
		struct skiff_df_heredoc h = { 0 }, *nh;
		r = heredoc_word(words.v[i], strlen(words.v[i]), &h.name, &h.chomp, &h.expand);
		if (r < 0) {
			r = oom(p);
			break;
		}
		if (!r)
			continue;
		if (!(nh = realloc(in->heredocs, (in->nheredocs + 1) * sizeof(*nh)))) {
			free(h.name);
			r = oom(p);
			break;
		}
		in->heredocs = nh;
		in->heredocs[in->nheredocs++] = h;
		r = 0;
	}
	skiff_strvfree(words.v);
	for (size_t i = 0; r >= 0 && i < in->nheredocs; i++)
		r = read_heredoc(p, &in->heredocs[i], in->line);
	return r < 0 ? r : 0;
}

/* COPY/ADD sources that are heredocs become "<<NAME". */
static int heredoc_sources(struct parser *p, struct skiff_df_instr *in)
{
	for (char **a = in->args; a && *a; a++) {
		char *name;
		bool chomp, expand;
		int r = heredoc_word(*a, strlen(*a), &name, &chomp, &expand);
		if (r < 0)
			return oom(p);
		if (r) {
			char *n;
			if (asprintf(&n, "<<%s", name) < 0) {
				free(name);
				return oom(p);
			}
			free(name);
			free(*a);
			*a = n;
		}
	}
	return 0;
}

/* ---- arguments per kind ---- */

static int parse_kv(struct parser *p, const struct instr_spec *spec, const char *rest, struct df_strv *out, int line)
{
	struct df_strv words = { 0 };
	int r = 0;

	if (parse_words(rest, p->escape, &words) < 0)
		return oom(p);
	if (!words.n) {
		r = perr(p, line, "%s requires at least one argument", spec->name);
		goto out;
	}
	if (!strchr(words.v[0], '=')) {
		/* legacy `ENV name value...`: the value is the rest of the line */
		const char *s = rest, *k;
		size_t klen;
		while (*s && isspace((unsigned char)*s))
			s++;
		k = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		klen = s - k;
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s) {
			r = perr(p, line, "%s must have two arguments", spec->name);
			goto out;
		}
		char *kv;
		if (asprintf(&kv, "%.*s=%s", (int)klen, k, s) < 0 || df_strv_push(out, kv) < 0) {
			r = oom(p);
			goto out;
		}
		free(kv);
		goto out;
	}
	for (size_t i = 0; i < words.n; i++) {
		if (!strchr(words.v[i], '=')) {
			r = perr(p, line, "Syntax error - can't find = in \"%s\". Must be of the form: name=value",
				 words.v[i]);
			goto out;
		}
		if (words.v[i][0] == '=') {
			r = perr(p, line, "%s names can not be blank", spec->name);
			goto out;
		}
		if (df_strv_push(out, words.v[i]) < 0) {
			r = oom(p);
			goto out;
		}
	}
out:
	skiff_strvfree(words.v);
	return r;
}

static bool stage_name_ok(const char *s)
{
	if (!islower((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static int parse_health(struct parser *p, const char *rest, struct skiff_df_instr *in, struct df_strv *out)
{
	const char *s = rest, *t = s;
	size_t tlen;

	while (*s && !isspace((unsigned char)*s))
		s++;
	tlen = s - t;
	while (*s && isspace((unsigned char)*s))
		s++;
	if (tlen == 4 && !strncasecmp(t, "NONE", 4)) {
		if (*s)
			return perr(p, in->line, "HEALTHCHECK NONE takes no arguments");
		if (in->nflags)
			return perr(p, in->line, "HEALTHCHECK NONE takes no flags");
		return df_strv_push(out, "NONE") < 0 ? oom(p) : 0;
	}
	if (tlen != 3 || strncasecmp(t, "CMD", 3))
		return perr(p, in->line, "Unknown type \"%.*s\" in HEALTHCHECK (try CMD)", (int)tlen, t);
	if (!*s)
		return perr(p, in->line, "Missing command after HEALTHCHECK CMD");
	/* Test in the image config's form: ["CMD", args...] or ["CMD-SHELL", "cmd"] */
	if (df_strv_push(out, "CMD") < 0)
		return oom(p);
	int r = parse_json_array(s, out);
	if (r < 0)
		return oom(p);
	if (r) {
		in->json = true;
		return 0;
	}
	free(out->v[0]);
	if (!(out->v[0] = strdup("CMD-SHELL")) || df_strv_push(out, s) < 0)
		return oom(p);
	return 0;
}

static int parse_instr(struct parser *p, const char *text, int line, bool onbuild, struct skiff_df_instr *in);

static int parse_args(struct parser *p, const struct instr_spec *spec, const char *rest, struct skiff_df_instr *in)
{
	struct df_strv out = { 0 };
	int r = 0;

	if (!*rest) {
		r = perr(p, in->line, "%s requires at least one argument", spec->name);
		goto out;
	}
	switch (spec->kind) {
	case K_STRING:
		r = df_strv_push(&out, rest);
		break;
	case K_WORDS:
		r = split_ws(rest, &out);
		break;
	case K_MAYBE_JSON:
		r = parse_json_array(rest, &out);
		if (r > 0) {
			in->json = true;
			r = 0;
		} else if (r == 0) {
			if (spec->cmd == SKIFF_DF_SHELL) {
				r = perr(p, in->line, "SHELL requires the arguments to be in JSON form");
				goto out;
			}
			r = df_strv_push(&out, rest);
		}
		break;
	case K_JSON_LIST:
		r = parse_json_array(rest, &out);
		if (r > 0) {
			in->json = true;
			r = 0;
		} else if (r == 0) {
			r = split_ws(rest, &out);
		}
		break;
	case K_KV:
		if ((r = parse_kv(p, spec, rest, &out, in->line)) < 0)
			goto out;
		break;
	case K_ARG:
		r = parse_words(rest, p->escape, &out);
		break;
	case K_HEALTH:
		if ((r = parse_health(p, rest, in, &out)) < 0)
			goto out;
		break;
	case K_ONBUILD: {
		const char *w = rest;
		size_t wl;
		while (*w && !isspace((unsigned char)*w))
			w++;
		wl = w - rest;
		if (wl == 7 && !strncasecmp(rest, "ONBUILD", 7)) {
			r = perr(p, in->line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
			goto out;
		}
		if ((wl == 4 && !strncasecmp(rest, "FROM", 4)) || (wl == 10 && !strncasecmp(rest, "MAINTAINER", 10))) {
			r = perr(p, in->line, "%.*s isn't allowed as an ONBUILD trigger", (int)wl, rest);
			goto out;
		}
		if (!(in->onbuild = calloc(1, sizeof(*in->onbuild)))) {
			r = oom(p);
			goto out;
		}
		if ((r = parse_instr(p, rest, in->line, true, in->onbuild)) < 0)
			goto out;
		r = df_strv_push(&out, rest);
		break;
	}
	}
	if (r < 0) {
		r = oom(p);
		goto out;
	}
	in->args = df_strv_take(&out);
	if (!in->args) {
		r = oom(p);
		goto out;
	}

	size_t n = 0;
	while (in->args[n])
		n++;
	switch (spec->cmd) {
	case SKIFF_DF_FROM:
		if (n != 1 && !(n == 3 && !strcasecmp(in->args[1], "AS")))
			r = perr(p, in->line, "FROM requires either one or three arguments");
		else if (n == 3 && !stage_name_ok(in->args[2]))
			r = perr(p, in->line,
				 "invalid name for build stage: \"%s\", name can't start with a number or contain symbols",
				 in->args[2]);
		break;
	case SKIFF_DF_COPY:
	case SKIFF_DF_ADD:
		if (n < 2)
			r = perr(p, in->line,
				 "%s requires at least two arguments, but only one was provided. Destination could not be determined",
				 spec->name);
		break;
	case SKIFF_DF_VOLUME:
		for (size_t i = 0; i < n && r == 0; i++)
			if (!*in->args[i])
				r = perr(p, in->line, "VOLUME specified can not be an empty string");
		break;
	case SKIFF_DF_SHELL:
		if (!n)
			r = perr(p, in->line, "SHELL requires at least one argument");
		break;
	case SKIFF_DF_ARG:
		for (size_t i = 0; i < n && r == 0; i++)
			if (in->args[i][0] == '=')
				r = perr(p, in->line, "ARG names can not be blank");
		break;
	}
out:
	skiff_strvfree(out.v);
	return r;
}

/* text: one instruction, continuations joined. */
static int parse_instr(struct parser *p, const char *text, int line, bool onbuild, struct skiff_df_instr *in)
{
	const char *s = text, *w, *rest = "";
	const struct instr_spec *spec;
	struct df_strv flagw = { 0 };
	size_t end;
	int r;

	while (*s && isspace((unsigned char)*s))
		s++;
	w = s;
	while (*s && !isspace((unsigned char)*s))
		s++;
	in->line = line;
	spec = spec_find(w, s - w);
	if (!spec) {
		char up[64];
		size_t n = 0;
		for (; w + n < s && n < sizeof(up) - 1; n++)
			up[n] = (char)toupper((unsigned char)w[n]);
		up[n] = '\0';
		return skiff_error_set(p->err, SKIFF_EINVAL, EINVAL,
				       "dockerfile parse error on line %d: unknown instruction: %s", line, up);
	}
	in->cmd = spec->cmd;
	if (!(in->name = strdup(spec->name)))
		return oom(p);
	end = strlen(w);
	while (end && isspace((unsigned char)w[end - 1]))
		end--;
	if (!(in->original = strndup(w, end)))
		return oom(p);

	if ((r = extract_flags(p, s, &rest, &flagw, line)) < 0)
		return r;
	r = parse_flags(p, spec, flagw.v, in);
	skiff_strvfree(flagw.v);
	if (r < 0)
		return r;

	_cleanup_free_ char *args = strdup(rest);
	if (!args)
		return oom(p);
	end = strlen(args);
	while (end && isspace((unsigned char)args[end - 1]))
		args[--end] = '\0';

	if ((r = parse_args(p, spec, args, in)) < 0)
		return r;
	if (spec->heredocs && !in->json && !onbuild) {
		if ((r = parse_heredocs(p, args, in)) < 0)
			return r;
		if (in->nheredocs && spec->cmd != SKIFF_DF_RUN && (r = heredoc_sources(p, in)) < 0)
			return r;
	}
	return 0;
}

/* ---- public ---- */

static void instr_clear(struct skiff_df_instr *in)
{
	if (!in)
		return;
	free(in->name);
	free(in->original);
	skiff_strvfree(in->args);
	for (size_t i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	for (size_t i = 0; i < in->nheredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].content);
	}
	free(in->heredocs);
	if (in->onbuild) {
		instr_clear(in->onbuild);
		free(in->onbuild);
	}
}

void skiff_dockerfile_free(struct skiff_dockerfile *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->ninstrs; i++)
		instr_clear(&df->instrs[i]);
	free(df->instrs);
	free(df->syntax);
	skiff_strvfree(df->warnings);
	free(df);
}

static int split_lines(const char *text, size_t len, struct line **out, size_t *n)
{
	size_t cap = 64, cnt = 0;
	struct line *v = malloc(cap * sizeof(*v));
	const char *s = text, *end = text + len;

	if (!v)
		return -ENOMEM;
	if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	while (s < end) {
		const char *nl = memchr(s, '\n', end - s);
		const char *e = nl ? nl : end;
		if (cnt == cap) {
			struct line *nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt].s = s;
		v[cnt].len = e - s;
		if (v[cnt].len && s[v[cnt].len - 1] == '\r')
			v[cnt].len--;
		cnt++;
		s = nl ? nl + 1 : end;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int add_instr(struct skiff_dockerfile *df, size_t *cap, struct skiff_df_instr **slot)
{
	if (df->ninstrs == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct skiff_df_instr *v = realloc(df->instrs, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		df->instrs = v;
		*cap = nc;
	}
	*slot = &df->instrs[df->ninstrs++];
	memset(*slot, 0, sizeof(**slot));
	return 0;
}

int skiff_dockerfile_parse(const char *text, size_t len, struct skiff_dockerfile **out, struct skiff_error *err)
{
	struct parser p = { .escape = '\\', .err = err };
	struct skiff_dockerfile *df = calloc(1, sizeof(*df));
	bool directives = true, seen_escape = false;
	size_t cap = 0;
	int r = 0;

	if (!df || split_lines(text, len, &p.lines, &p.nlines) < 0) {
		free(df);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "parsing Dockerfile: out of memory");
	}
	df->escape = '\\';

	while (p.cur < p.nlines) {
		const struct line *l = &p.lines[p.cur++];
		int lineno = (int)p.cur;
		struct df_buf joined = { 0 };
		size_t keep;
		bool empty_cont = false;

		if (directives) {
			r = directive(&p, df, l, &seen_escape, lineno);
			if (r < 0)
				goto fail;
			if (r > 0)
				continue;
			directives = false;
		}
		if (line_blank(l) || line_comment(l))
			continue;

		const char *s = skip_ws(l->s, l->s + l->len);
		size_t slen = l->s + l->len - s;
		bool more = continues(&p, s, slen, &keep);
		if (df_buf_put(&joined, s, keep) < 0)
			goto nomem;
		while (more && p.cur < p.nlines) {
			const struct line *c = &p.lines[p.cur++];
			if (line_comment(c))
				continue;
			if (line_blank(c)) {
				empty_cont = true;
				continue;
			}
			more = continues(&p, c->s, c->len, &keep);
			if (df_buf_put(&joined, c->s, keep) < 0) {
				free(joined.p);
				goto nomem;
			}
		}
		if (empty_cont) {
			char *msg;
			if (asprintf(&msg, "line %d: empty continuation line", lineno) < 0 || df_strv_push(&p.warnings, msg) < 0) {
				free(joined.p);
				goto nomem;
			}
			free(msg);
		}
		if (!joined.p || line_blank(&(struct line){ joined.p, joined.len })) {
			free(joined.p);
			continue;
		}

		struct skiff_df_instr *in;
		if (add_instr(df, &cap, &in) < 0) {
			free(joined.p);
			goto nomem;
		}
		r = parse_instr(&p, joined.p, lineno, false, in);
		free(joined.p);
		if (r < 0)
			goto fail;
	}
	if (!df->ninstrs) {
		r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "file with no instructions");
		goto fail;
	}
	df->warnings = p.warnings.v;
	free(p.lines);
	*out = df;
	return 0;
nomem:
	r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "parsing Dockerfile: out of memory");
fail:
	skiff_strvfree(p.warnings.v);
	free(p.lines);
	skiff_dockerfile_free(df);
	return r;
}
