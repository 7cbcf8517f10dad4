/* Container names and ids: Docker's name rule, random adjective_surname
 * names, 64-hex ids from getrandom(2), short ids and the lookup order
 * Docker uses (full id, then name, then unambiguous id prefix). */
#ifndef SKIFF_NAMES_H
#define SKIFF_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* ^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$ */
bool skiff_name_valid(const char *name);
/* "/" + a random "adjective_surname" (never "boring_wozniak"). retry > 0
 * appends a digit as Docker does after collisions. */
void skiff_name_generate(char *out, size_t outlen, int retry);
/* 64 lower-case hex chars + NUL; never all digits in the first 12. */
int skiff_id_generate(char out[65]);
/* first 12 chars */
void skiff_id_short(const char *id, char out[13]);

/* Finds key among n ids (each 64 hex) and names (each "/x"): exact id,
 * then name (with or without "/"), then id prefix. Returns the index,
 * -ENOENT, or -ENOTUNIQ when a prefix matches several ids. */
int skiff_ids_lookup(const char *key, const char *const *ids, const char *const *names, size_t n);

#endif
