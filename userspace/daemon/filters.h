/* docker ps filters (GET /containers/json, POST /containers/prune): id,
 * name, label, status, ancestor, exited, before, since, until. */
#ifndef SKIFF_FILTERS_H
#define SKIFF_FILTERS_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "../lib/error.h"
#include "container-config.h"

/* Checks filter names and values (400 "invalid filter 'x'"). prune: only
 * until and label/label! are allowed. */
int skiff_ps_filters_check(const json_t *filters, bool prune, struct skiff_error *err);
/* filters: name -> array of strings (skiff_http_query_filters' shape).
 * before/since: Created of the named containers (NULL when not given);
 * now for until=<duration>. */
bool skiff_ps_filters_match(const json_t *filters, const struct skiff_ctr *c, const struct timespec *before,
			    const struct timespec *since, const struct timespec *now);
/* "label" / "label!" match against a labels object: "key" or "key=value". */
bool skiff_labels_match(const json_t *labels, const char *expr);

#endif
