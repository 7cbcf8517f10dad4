/* jansson helpers: typed getters with defaults, atomic JSON files, and
 * RFC3339 timestamps as Docker prints them. */
#ifndef SKIFF_JSON_H
#define SKIFF_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

const char *skiff_json_str(const json_t *obj, const char *key, const char *def);
int64_t skiff_json_int(const json_t *obj, const char *key, int64_t def);
bool skiff_json_bool(const json_t *obj, const char *key, bool def);
/* NULL-terminated malloc'd copy of a JSON array of strings (NULL if not an array). */
char **skiff_json_strv(const json_t *arr);
json_t *skiff_json_from_strv(char *const *v);

int skiff_json_write_file(const char *path, const json_t *j); /* atomic */
int skiff_json_read_file(const char *path, json_t **out);

/* "2026-11-27T22:41:50.123456789Z"; zero time prints "0001-01-01T00:00:00Z". */
void skiff_time_format(const struct timespec *ts, char out[40]);
/* Parses RFC3339 (with fraction and Z or offset) or a unix timestamp with
 * optional fraction ("1795811435.5"), as Docker's since/until do. */
int skiff_time_parse(const char *s, struct timespec *out);
struct timespec skiff_now(void);

#endif
