/* Word and variable expansion for Dockerfile instructions, with the
 * semantics of Docker's shell lexer (buildkit frontend/dockerfile/shell):
 * quotes, the escape character, $V, ${V}, ${V:-w} ${V-w} ${V:+w} ${V+w}
 * ${V:?msg} ${V?msg}, and word splitting of unquoted variable values. */
#include "dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "lex-internal.h"

/* Docker's wordsStruct: unquoted variable values split on whitespace,
 * quoted text and escaped characters never do; empty words are dropped. */
struct words {
	struct df_strv out;
	struct df_buf cur;
	bool in_word;
};

static int words_flush(struct words *w)
{
	if (w->cur.len == 0)
		return 0;
	if (df_strv_add(&w->out, w->cur.p) < 0)
		return -ENOMEM;
	w->cur = (struct df_buf){ 0 };
	w->in_word = false;
	return 0;
}

static int words_raw(struct words *w, const char *s, size_t n)
{
	if (!w)
		return 0;
	w->in_word = true;
	return df_buf_put(&w->cur, s, n);
}

static int words_split(struct words *w, const char *s, size_t n)
{
	if (!w)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int r;
		if (isspace((unsigned char)s[i])) {
			if (w->in_word && (r = words_flush(w)) < 0)
				return r;
		} else if ((r = words_raw(w, s + i, 1)) < 0) {
			return r;
		}
	}
	return 0;
}

static void words_free(struct words *w)
{
	skiff_strvfree(w->out.v);
	free(w->cur.p);
}

struct lex {
	const char *s;
	size_t i, n;
	char esc;
	skiff_df_getenv_fn get;
	void *data;
	struct skiff_error *err;
};

static int peek(const struct lex *lx)
{
	return lx->i < lx->n ? (unsigned char)lx->s[lx->i] : -1;
}

static int next(struct lex *lx)
{
	return lx->i < lx->n ? (unsigned char)lx->s[lx->i++] : -1;
}

static int fail(struct lex *lx, const char *fmt, const char *arg)
{
	return skiff_error_set(lx->err, SKIFF_EINVAL, EINVAL, fmt, arg);
}

static int dollar(struct lex *lx, struct df_buf *out);

static int stop_on(struct lex *lx, int stop, struct df_buf *out, struct words *w);

static int single_quote(struct lex *lx, struct df_buf *out)
{
	next(lx); /* the quote */
	for (;;) {
		int c = next(lx);
		if (c < 0)
			return fail(lx, "unexpected end of statement while looking for matching single-quote%s", "");
		if (c == '\'')
			return 0;
		if (df_buf_putc(out, (char)c) < 0)
			return -ENOMEM;
	}
}

static int double_quote(struct lex *lx, struct df_buf *out)
{
	next(lx);
	for (;;) {
		int c = peek(lx);
		if (c < 0)
			return fail(lx, "unexpected end of statement while looking for matching double-quote%s", "");
		if (c == '"') {
			next(lx);
			return 0;
		}
		if (c == '$') {
			int r = dollar(lx, out);
			if (r < 0)
				return r;
			continue;
		}
		next(lx);
		if (c == lx->esc) {
			int p = peek(lx);
			if (p < 0)
				continue; /* an escape at the end of the word is dropped */
			/* only these can be escaped inside double quotes; every
			 * other escape stays as written, as in sh */
			if (p == '"' || p == '$' || p == lx->esc)
				c = next(lx);
		}
		if (df_buf_putc(out, (char)c) < 0)
			return -ENOMEM;
	}
}

static bool special_param(int c)
{
	return c >= 0 && strchr("*#@!?-$", c);
}

static int read_name(struct lex *lx, struct df_buf *name)
{
	int c = peek(lx);
	if (c >= 0 && isdigit(c)) {
		while ((c = peek(lx)) >= 0 && isdigit(c))
			if (df_buf_putc(name, (char)next(lx)) < 0)
				return -ENOMEM;
		return 0;
	}
	if (special_param(c))
		return df_buf_putc(name, (char)next(lx));
	while ((c = peek(lx)) >= 0 && (isalnum(c) || c == '_'))
		if (df_buf_putc(name, (char)next(lx)) < 0)
			return -ENOMEM;
	return 0;
}

static const char *lookup(struct lex *lx, const char *name)
{
	return lx->get ? lx->get(name, lx->data) : NULL;
}

/* ${name<mod>word}: mod is "-", ":-", "+", ":+", "?", ":?" */
static int modifier(struct lex *lx, const char *name, bool colon, int mod, struct df_buf *out)
{
	struct df_buf word = { 0 };
	const char *val = lookup(lx, name);
	bool use_val = val && (!colon || *val);
	int r = stop_on(lx, '}', &word, NULL);
	const char *w = word.p ? word.p : "";

	if (r < 0)
		goto out;
	switch (mod) {
	case '-':
		r = use_val ? df_buf_put(out, val, strlen(val)) : df_buf_put(out, w, strlen(w));
		break;
	case '+':
		r = use_val ? df_buf_put(out, w, strlen(w)) : 0;
		break;
	case '?':
		if (use_val) {
			r = df_buf_put(out, val, strlen(val));
		} else {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s: %s", name, *w ? w : "is not set");
			r = fail(lx, "%s", msg);
		}
		break;
	default: {
		char m[3] = { (char)mod, 0, 0 };
		if (colon) {
			m[0] = ':';
			m[1] = (char)mod;
		}
		r = fail(lx, "unsupported modifier (%s) in substitution", m);
	}
	}
out:
	free(word.p);
	return r;
}

static int dollar(struct lex *lx, struct df_buf *out)
{
	struct df_buf name = { 0 };
	int r, c;

	next(lx); /* '$' */
	if (peek(lx) != '{') {
		const char *val;
		if ((r = read_name(lx, &name)) < 0)
			goto out;
		if (!name.len) {
			r = df_buf_putc(out, '$');
			goto out;
		}
		val = lookup(lx, name.p);
		r = val ? df_buf_put(out, val, strlen(val)) : 0;
		goto out;
	}
	next(lx); /* '{' */
	if ((r = read_name(lx, &name)) < 0)
		goto out;
	c = next(lx);
	if (!name.len) {
		r = fail(lx, "bad substitution%s", "");
		goto out;
	}
	if (c == '}') {
		const char *val = lookup(lx, name.p);
		r = val ? df_buf_put(out, val, strlen(val)) : 0;
	} else if (c == ':') {
		r = modifier(lx, name.p, true, next(lx), out);
	} else if (c == '-' || c == '+' || c == '?') {
		r = modifier(lx, name.p, false, c, out);
	} else if (c < 0) {
		r = fail(lx, "unexpected end of statement while looking for matching }%s", "");
	} else {
		char m[2] = { (char)c, 0 };
		r = fail(lx, "unsupported modifier (%s) in substitution", m);
	}
out:
	free(name.p);
	return r;
}

/* Docker's processStopOn: out gets the word as one string, w (may be NULL)
 * the same text split into words. */
static int stop_on(struct lex *lx, int stop, struct df_buf *out, struct words *w)
{
	int r;

	while (peek(lx) >= 0) {
		int c = peek(lx);
		if (stop >= 0 && c == stop) {
			next(lx);
			return 0;
		}
		if (c == '\'' || c == '"' || c == '$') {
			struct df_buf tmp = { 0 };
			if (c == '\'')
				r = single_quote(lx, &tmp);
			else if (c == '"')
				r = double_quote(lx, &tmp);
			else
				r = dollar(lx, &tmp);
			if (r >= 0 && tmp.len)
				r = df_buf_put(out, tmp.p, tmp.len);
			if (r >= 0)
				r = c == '$' ? words_split(w, tmp.p, tmp.len)
					     : words_raw(w, tmp.p ? tmp.p : "", tmp.len);
			free(tmp.p);
			if (r < 0)
				return r;
			continue;
		}
		next(lx);
		if (c == lx->esc) {
			c = next(lx);
			if (c < 0)
				break;
			r = words_raw(w, (char[]){ (char)c }, 1);
		} else {
			r = words_split(w, (char[]){ (char)c }, 1);
		}
		if (r >= 0)
			r = df_buf_putc(out, (char)c);
		if (r < 0)
			return r;
	}
	if (stop >= 0)
		return fail(lx, "unexpected end of statement while looking for matching %s",
			    stop == '}' ? "}" : "quote");
	return 0;
}

static int wrap(struct skiff_error *err, const char *word, int r)
{
	if (r == -ENOMEM)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "failed to process \"%s\": out of memory", word);
	return skiff_error_wrap(err, "failed to process \"%s\"", word);
}

char *skiff_df_expand(const char *word, char escape, skiff_df_getenv_fn get, void *data, struct skiff_error *err)
{
	struct lex lx = { .s = word, .n = strlen(word), .esc = escape, .get = get, .data = data, .err = err };
	struct df_buf out = { 0 };
	int r = stop_on(&lx, -1, &out, NULL);

	if (r < 0) {
		free(out.p);
		wrap(err, word, r);
		return NULL;
	}
	if (!out.p)
		out.p = strdup("");
	if (!out.p)
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return out.p;
}

char **skiff_df_expand_words(const char *text, char escape, skiff_df_getenv_fn get, void *data,
			     struct skiff_error *err)
{
	struct lex lx = { .s = text, .n = strlen(text), .esc = escape, .get = get, .data = data, .err = err };
	struct df_buf out = { 0 };
	struct words w = { 0 };
	int r = stop_on(&lx, -1, &out, &w);
	char **v;

	free(out.p);
	if (r >= 0)
		r = words_flush(&w);
	v = r >= 0 ? df_strv_take(&w.out) : NULL;
	if (!v) {
		words_free(&w);
		wrap(err, text, r < 0 ? r : -ENOMEM);
		return NULL;
	}
	free(w.cur.p);
	return v;
}
