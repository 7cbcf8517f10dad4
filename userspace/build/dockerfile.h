/* The Dockerfile front end: parsing (parser directives `# syntax` and
 * `# escape`, comments, line continuations, JSON (exec) form detection,
 * heredocs `<<EOF` / `<<-EOF` / `<<"EOF"`), word and variable expansion
 * (`$V`, `${V}`, `${V:-default}`, `${V:+alt}`, `${V-d}`, `${V+a}`, escapes),
 * and the `.dockerignore` matcher (Go filepath.Match patterns, `**`, `!`
 * exceptions, last match wins). Pure: no I/O but what the caller passes in. */
#ifndef SKIFF_BUILD_DOCKERFILE_H
#define SKIFF_BUILD_DOCKERFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"

enum skiff_df_cmd {
	SKIFF_DF_FROM, SKIFF_DF_RUN, SKIFF_DF_CMD, SKIFF_DF_ENTRYPOINT, SKIFF_DF_COPY, SKIFF_DF_ADD,
	SKIFF_DF_ENV, SKIFF_DF_ARG, SKIFF_DF_WORKDIR, SKIFF_DF_USER, SKIFF_DF_EXPOSE, SKIFF_DF_VOLUME,
	SKIFF_DF_LABEL, SKIFF_DF_STOPSIGNAL, SKIFF_DF_HEALTHCHECK, SKIFF_DF_SHELL, SKIFF_DF_ONBUILD,
	SKIFF_DF_MAINTAINER,
};

struct skiff_df_flag {       /* --from=stage, --chown=1:1, --chmod=755, --platform=..., --interval=30s ... */
	char *name;          /* "from" */
	char *value;         /* "stage" ("" for a bare --flag) */
};

struct skiff_df_heredoc {
	char *name;          /* "EOF" */
	char *content;       /* body with the final newline; variables expanded later unless quoted */
	bool expand;         /* false for <<"EOF" / <<'EOF' */
	bool chomp;          /* <<- : leading tabs stripped */
};

struct skiff_df_instr {
	int cmd;             /* enum skiff_df_cmd */
	char *name;          /* as written, upper-cased: "RUN" */
	int line;            /* 1-based line of the instruction's first line */
	char *original;      /* the instruction as written, continuations joined
	                      * (what `docker build` prints after "Step N/M : ") */
	bool json;           /* exec form: args is the JSON array as given */
	char **args;         /* NULL-terminated. Shell form: one element, the rest
	                      * of the line, NOT yet expanded (RUN/CMD/ENTRYPOINT keep
	                      * it raw for the shell); key/value instructions (ENV,
	                      * LABEL, ARG) give "k=v" pairs, the legacy `ENV k v`
	                      * form normalised to one "k=v"; COPY/ADD give sources
	                      * then dest; EXPOSE/VOLUME one word each. */
	struct skiff_df_flag *flags; size_t nflags;
	struct skiff_df_heredoc *heredocs; size_t nheredocs;
	struct skiff_df_instr *onbuild; /* ONBUILD: the wrapped instruction (parsed) */
};

struct skiff_dockerfile {
	struct skiff_df_instr *instrs;
	size_t ninstrs;
	char escape;         /* '\\' or '`' */
	char *syntax;        /* `# syntax=` value or NULL (the builder prints a notice and ignores it) */
	char **warnings;     /* NULL-terminated, e.g. "empty continuation line" (may be NULL) */
};

/* Parses text. 400 errors name the line: "dockerfile parse error on line 3:
 * unknown instruction: FOO", "file with no instructions", "Dockerfile
 * parse error line 5: ENV names can not be blank". It does not check stage
 * structure (FROM first, ARG before FROM): the builder does, with the same
 * line-naming style. */
int skiff_dockerfile_parse(const char *text, size_t len, struct skiff_dockerfile **out, struct skiff_error *err);
void skiff_dockerfile_free(struct skiff_dockerfile *df);

/* Variable lookup for expansion: returns the value or NULL when unset. */
typedef const char *(*skiff_df_getenv_fn)(const char *name, void *data);
/* Expands one word as Docker's shell-lexer does for the instruction kinds
 * that expand (FROM, COPY/ADD, ENV, ARG, WORKDIR, USER, EXPOSE, VOLUME,
 * LABEL, STOPSIGNAL, ONBUILD's not): quotes removed, escapes processed,
 * variables substituted. Returns malloc'd text or NULL with err set
 * (400 e.g. "failed to process \"${X:?}\": X: is not set" or a bad
 * substitution). */
char *skiff_df_expand(const char *word, char escape, skiff_df_getenv_fn get, void *data, struct skiff_error *err);
/* The same but splits into words on unquoted whitespace (for COPY/ADD
 * sources, EXPOSE, VOLUME lists): NULL-terminated malloc'd vector. */
char **skiff_df_expand_words(const char *text, char escape, skiff_df_getenv_fn get, void *data,
			     struct skiff_error *err);

/* .dockerignore */
struct skiff_ignore;
/* Parses the file's text (comments, blank lines, leading "/" and "./"
 * dropped, patterns cleaned as Go's filepath.Clean). 400 on a bad pattern. */
int skiff_ignore_parse(const char *text, struct skiff_ignore **out, struct skiff_error *err);
void skiff_ignore_free(struct skiff_ignore *ig);
/* path is relative to the context root, "/"-separated, no leading "./".
 * True when excluded. A directory that is excluded may still have
 * re-included children (a `!` pattern below it): skiff_ignore_may_include
 * says whether walking into an excluded dir can find any. */
bool skiff_ignore_match(const struct skiff_ignore *ig, const char *path);
bool skiff_ignore_may_include(const struct skiff_ignore *ig, const char *dir);

#endif
