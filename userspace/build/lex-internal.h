/* The growable string and string vector that the Dockerfile parser
 * (dockerfile.c), the word expander (expand.c) and the .dockerignore
 * compiler (dockerignore.c) build their output in. Not a public surface. */
#ifndef SKIFF_BUILD_LEX_INTERNAL_H
#define SKIFF_BUILD_LEX_INTERNAL_H

#include <stddef.h>

/* p is NULL until something is put, NUL-terminated after. */
struct df_buf {
	char *p;
	size_t len, cap;
};

/* 0 or -ENOMEM (b unchanged) */
int df_buf_put(struct df_buf *b, const char *s, size_t n);
int df_buf_puts(struct df_buf *b, const char *s);
int df_buf_putc(struct df_buf *b, char c);

/* NULL-terminated once anything was added (skiff_strvfree frees v). */
struct df_strv {
	char **v;
	size_t n, cap;
};

/* Appends p, which the vector owns from then on; -ENOMEM leaves it the
 * caller's. */
int df_strv_add(struct df_strv *s, char *p);

/* Appends a copy of the len bytes at p. */
int df_strv_push_n(struct df_strv *s, const char *p, size_t len);
int df_strv_push(struct df_strv *s, const char *p);

/* The vector, NULL-terminated even when empty (NULL: out of memory); s is
 * left empty. */
char **df_strv_take(struct df_strv *s);

#endif
