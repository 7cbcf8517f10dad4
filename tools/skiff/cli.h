/* Internal surface of the skiff CLI: the command table, the flag parser,
 * the blocking HTTP client, the --format engine and terminal helpers.
 * Everything here lives only in build/bin/skiff. */
#ifndef SKIFF_CLI_H
#define SKIFF_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/error.h"

#define SKIFF_CLI_VERSION "28.2.2-skiff"
#define SKIFF_CLI_API "1.50"
#define SKIFF_DEFAULT_HOST "unix:///run/skiff/skiff.sock"

/* ---- flags.c ---------------------------------------------------------- */

enum cli_flag_type {
	FLAG_BOOL,   /* --detach, -d; also accepts --detach=false */
	FLAG_STRING, /* last one wins */
	FLAG_LIST,   /* repeatable: -e A -e B */
};

struct cli_flag {
	const char *name;  /* long name without dashes */
	char shrt;         /* short letter or 0 */
	enum cli_flag_type type;
	const char *help;
	const char *alias; /* a second long name ("net" for "network") */
	const char *def;   /* default shown in help */
	bool hidden;
};

struct cli_flag_value {
	bool set;
	const char *str; /* FLAG_STRING: last value; FLAG_BOOL: "true"/"false" */
	const char **list;
	size_t n;
};

struct cli_opts {
	const struct cli_flag *flags;
	size_t nflags;
	struct cli_flag_value *v;
	int argc;     /* positional arguments */
	char **argv;
};

/* Parses argv (argv[0] is the command name) into o. Unknown flags fill err.
 * stop_at_positional: everything after the first positional is positional
 * (run/create/exec: the container command keeps its own flags). */
int cli_flags_parse(const struct cli_flag *flags, int argc, char **argv, bool stop_at_positional,
		    struct cli_opts *o, struct skiff_error *err);
void cli_opts_free(struct cli_opts *o);
bool opt_set(const struct cli_opts *o, const char *name);
bool opt_bool(const struct cli_opts *o, const char *name);
const char *opt_str(const struct cli_opts *o, const char *name, const char *def);
const char **opt_list(const struct cli_opts *o, const char *name, size_t *n);
/* Print "  -d, --detach   Run container in background..." for every flag. */
void cli_flags_help(FILE *f, const struct cli_flag *flags);

/* ---- main.c ----------------------------------------------------------- */

struct cli;

struct cli_cmd {
	const char *name;
	const char *aliases; /* space separated, may be NULL */
	const char *summary;
	const char *usage; /* after "skiff NAME " */
	const struct cli_flag *flags;
	int min_args, max_args; /* max -1: unlimited */
	bool stop_at_positional;
	int (*run)(struct cli *cli, struct cli_opts *o);
};

struct cli {
	const char *host;    /* unix:///path */
	const char *sockpath;
	bool debug;
	const struct cli_cmd *cmd;
	const char *fixed_type; /* "image" when reached as `skiff image inspect` */
	struct skiff_error err;
};

/* Report err as "skiff: <msg>" and return code. */
int cli_fail(struct cli *cli, int code);
int cli_failf(struct cli *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

extern const struct cli_cmd cli_container_cmds[];
extern const size_t cli_container_ncmds;
extern const struct cli_cmd cli_image_cmds[];
extern const size_t cli_image_ncmds;
extern const struct cli_cmd cli_system_cmds[];
extern const size_t cli_system_ncmds;
extern const struct cli_cmd cli_volume_cmds[];
extern const size_t cli_volume_ncmds;
extern const struct cli_cmd cli_network_cmds[];
extern const size_t cli_network_ncmds;

/* Verbs with a file of their own, listed in the container table. */
int cli_cmd_stats(struct cli *cli, struct cli_opts *o);
extern const struct cli_flag cli_stats_flags[];
int cli_cmd_cp(struct cli *cli, struct cli_opts *o);
extern const struct cli_flag cli_cp_flags[];
int cli_cmd_port(struct cli *cli, struct cli_opts *o); /* cmd-network.c */
/* cmd-build.c, listed in the image table (`skiff build`, `skiff image build`) */
int cli_cmd_build(struct cli *cli, struct cli_opts *o);
extern const struct cli_flag cli_build_flags[];

/* ---- client.c --------------------------------------------------------- */

struct cli_resp {
	int fd;
	int status;
	bool chunked;
	bool eof;
	int64_t remaining; /* identity with Content-Length; -1: until EOF */
	int64_t chunk_left;
	char content_type[128];
	char api_version[32];
	char path_stat[8192]; /* X-Docker-Container-Path-Stat (base64 JSON) */
	char buf[65536];
	size_t off, len;
};

/* Request body sources. */
struct cli_body {
	const char *content_type;
	const char *data; /* in-memory body (JSON); NULL: none */
	size_t len;
	int fd;           /* >= 0: stream this fd as a chunked body */
	bool upgrade;     /* hijack: Connection: Upgrade, Upgrade: tcp */
	const char *extra_headers; /* "X-Registry-Auth: e30=\r\n" */
	int64_t *sent;    /* fd bodies: bytes read from fd are added here */
};

/* path is unversioned ("/containers/json?all=1"); the client adds /v1.50.
 * On return resp holds status and headers; body is unread. Returns 0 or
 * -errno (connection failure, message in cli->err). */
int cli_http(struct cli *cli, const char *method, const char *path, const struct cli_body *body,
	     struct cli_resp *resp);
/* The two halves of cli_http, for requests whose answer comes later (wait). */
int cli_http_send(struct cli *cli, const char *method, const char *path, const struct cli_body *body,
		  struct cli_resp *resp);
int cli_http_recv(struct cli *cli, struct cli_resp *resp, bool head);
/* Read an error body and put its message into cli->err; returns -EIO. */
int cli_resp_error(struct cli *cli, struct cli_resp *r);
ssize_t cli_resp_read(struct cli_resp *r, void *buf, size_t n);
int cli_resp_read_all(struct cli_resp *r, char **out, size_t *len);
void cli_resp_close(struct cli_resp *r);
/* Reads one line (without \n) of a streamed body; returns length or -1 at end. */
ssize_t cli_resp_getline(struct cli_resp *r, char **line, size_t *cap);

/* Do a request and collect a JSON answer. Status >= 400 becomes an error
 * with the daemon's message (in cli->err, status kept). out may be NULL. */
int cli_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out);
/* urlencode into a malloc'd string */
char *cli_urlencode(const char *s);

/* Copy a (possibly multiplexed) stream to stdout/stderr. */
int cli_copy_stream(struct cli_resp *r, bool multiplexed);
/* Hijacked attach: stdin (if in_fd >= 0) to the socket, the socket to
 * stdout/stderr. Returns when the output side ends. */
int cli_hijack_io(struct cli_resp *r, int in_fd, bool multiplexed, void (*winch)(void *), void *arg);

/* ---- format.c --------------------------------------------------------- */

struct cli_tmpl;
/* Parse a Go-template subset; a leading "table" sets *is_table. */
struct cli_tmpl *cli_tmpl_parse(const char *src, bool *is_table, struct skiff_error *err);
/* Render for one object; appends to out (malloc'd, caller frees). */
int cli_tmpl_exec(const struct cli_tmpl *t, const json_t *obj, char **out, struct skiff_error *err);
void cli_tmpl_free(struct cli_tmpl *t);
/* cli_tmpl_exec for a ps/images/history row: {{json .}} prints cli_row_json. */
int cli_tmpl_exec_row(const struct cli_tmpl *t, const json_t *row, char **out, struct skiff_error *err);
/* A row as docker's formatter marshals it: sorted keys, <>& escaped,
 * object members (ours, e.g. LabelsMap) left out. malloc'd. */
char *cli_row_json(const json_t *row);
/* Table headers: execute the template against an object mapping each field
 * to its column title, as docker does. */

/* Go's text/tabwriter with docker's settings (minwidth 10, padding 3). */
struct cli_table;
struct cli_table *cli_table_new(void);
struct cli_table *cli_table_new_min(size_t minwidth); /* top uses 20 */
void cli_table_add(struct cli_table *t, const char *tab_separated_line);
void cli_table_flush(struct cli_table *t, FILE *f);

/* go-units: "4.27MB" (precision 3, 1000-based), "3 seconds", "About a minute". */
void cli_human_size(double size, int precision, char *out, size_t len);
void cli_human_duration(int64_t seconds, char *out, size_t len);
/* "123m" "1.5g" "512k" → bytes (1024-based like docker's RAMInBytes). */
int cli_parse_bytes(const char *s, int64_t *out);
/* docker's ellipsis: keep n-1 runes and add "…" */
char *cli_ellipsis(const char *s, size_t n);
size_t cli_utf8_width(const char *s);

/* ---- cmd-util.c: pieces shared by the cmd-*.c files ------------------- */

/* --filter k=v (repeated) → urlencoded {"k":{"v":true}}; NULL when none. */
char *cli_filters_query(const char **list, size_t n);
/* docker's GetTimestamp: "10m" (ago), RFC3339, or unix seconds → "secs[.nanos]". */
int cli_timestamp(const char *value, char *out, size_t len);
/* Print rows (array of objects) through --format (or the default table);
 * headers maps field names to column titles; format "json" prints each row. */
int cli_print_rows(struct cli *cli, const char *format, const char *def, json_t *rows, json_t *headers);
int cli_print_rows_to(struct cli *cli, FILE *out, const char *format, const char *def, json_t *rows, json_t *headers);
/* Go's time.Time.String() of a unix time: "2026-11-27 22:41:50 +0000 UTC" */
void cli_time_string(int64_t secs, char *out, size_t len);
/* Go's time.RFC3339 in local time: "2024-01-01T00:00:00Z" */
void cli_time_rfc3339(int64_t secs, char *out, size_t len);
/* Takes row, returns it rebuilt with its keys in sorted order. */
json_t *cli_row_sorted(json_t *row);
/* "3 seconds ago" for a unix time */
void cli_since(int64_t secs, char *out, size_t len);
/* RFC3339 string → unix seconds (0 if unparsable) */
int64_t cli_parse_rfc3339(const char *s);
/* Print one object through a non-table template, or as indented JSON. */
int cli_print_formatted(struct cli *cli, const char *format, json_t *obj);
/* Column titles for cli_print_rows from a NULL-terminated list of
 * field, title pairs. */
json_t *cli_header_map(const char *const *pairs);
/* path = base, plus "?filters=..." when the --filter list has any. */
void cli_filters_path(char *path, size_t len, const char *base, const char **list, size_t n);
/* "k=v" list → object; a bare "k" maps to "" (docker's ConvertKVStringsToMap) */
json_t *cli_kv_map(const char **v, size_t n);
/* docker's sortorder.NaturalLess as a comparison: runs of digits compare
 * as numbers, equal numbers with fewer leading zeros first. */
int cli_natural_cmp(const char *a, const char *b);
/* The objects of arr in cli_natural_cmp order of their "Name" (docker's ls
 * order for networks and volumes); malloc'd, *n entries. */
json_t **cli_sorted_by_name(json_t *arr, size_t *n);
/* "k=v,k2=v2" of a label map, keys sorted (Go ranges in random order, and
 * sorted is one of its orders); malloc'd. */
char *cli_join_labels(json_t *labels);
/* docker's prompt.Confirm: prints warning and " [y/N] ", true for a line
 * starting with y or Y. */
bool cli_confirm(const char *warning);
/* GET base/<name>query for each argument, printed through --format or as
 * one indented JSON array (dump_flags: jansson's, e.g. key order); the
 * errors after, as docker does. Returns the exit status. */
int cli_inspect_each(struct cli *cli, struct cli_opts *o, const char *base, const char *query, size_t dump_flags);
/* Reports each message of errs (a JSON array of strings) as cli_failf
 * does; 1 when there was any, else 0. */
int cli_fail_all(struct cli *cli, json_t *errs);
/* A prune's "Deleted Networks:" list and its blank line; nothing when
 * list is empty. */
void cli_print_deleted(const char *title, json_t *list);

/* ---- tty.c ------------------------------------------------------------ */

int cli_tty_raw(int fd);
void cli_tty_restore(void);
int cli_tty_size(int fd, unsigned *h, unsigned *w);
/* Send a resize now and on each SIGWINCH (handled from the I/O loop). */
void cli_tty_resize(struct cli *cli, const char *what, const char *id);
struct cli_resize_ctx {
	struct cli *cli;
	const char *what; /* "containers" or "exec" */
	const char *id;
};
void cli_tty_winch_cb(void *ctx); /* arg: struct cli_resize_ctx */
extern volatile int cli_winch_pending;
void cli_tty_watch_winch(void);

#endif
