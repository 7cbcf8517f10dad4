/* The growable string and string vector the Dockerfile parser, the word
 * expander and the .dockerignore compiler build their output in (see
 * lex-internal.h). */
#include "lex-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int df_buf_put(struct df_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int df_buf_puts(struct df_buf *b, const char *s)
{
	return df_buf_put(b, s, strlen(s));
}

int df_buf_putc(struct df_buf *b, char c)
{
	return df_buf_put(b, &c, 1);
}

int df_strv_add(struct df_strv *s, char *p)
{
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = p;
	s->v[s->n] = NULL;
	return 0;
}

int df_strv_push_n(struct df_strv *s, const char *p, size_t len)
{
	char *c = strndup(p, len);
	if (!c || df_strv_add(s, c) < 0) {
		free(c);
		return -ENOMEM;
	}
	return 0;
}

int df_strv_push(struct df_strv *s, const char *p)
{
	return df_strv_push_n(s, p, strlen(p));
}

char **df_strv_take(struct df_strv *s)
{
	char **v = s->v;
	if (!v)
		v = calloc(1, sizeof(char *));
	*s = (struct df_strv){ 0 };
	return v;
}
