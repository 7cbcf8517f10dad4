/* Each api/<resource>.c exports its rows of the route table; router.c
 * stitches them together in this order (first match wins). */
#ifndef SKIFF_API_ROUTES_H
#define SKIFF_API_ROUTES_H

#include <stddef.h>

#include "http.h"

#define SKIFF_ROUTE_TABLE(name)                                                                    \
	extern const struct skiff_route skiff_##name##_routes[];                                   \
	extern const size_t skiff_##name##_nroutes;

SKIFF_ROUTE_TABLE(system)      /* api/system.c: _ping, version, info, events, system/df */
SKIFF_ROUTE_TABLE(containers)  /* api/containers.c */
SKIFF_ROUTE_TABLE(images)      /* api/images.c */
SKIFF_ROUTE_TABLE(volumes)     /* api/volumes.c */
SKIFF_ROUTE_TABLE(exec)        /* api/exec.c */
SKIFF_ROUTE_TABLE(archive)     /* api/archive.c: docker cp */
SKIFF_ROUTE_TABLE(stats)       /* api/stats.c */
SKIFF_ROUTE_TABLE(networks)    /* api/networks.c */
SKIFF_ROUTE_TABLE(build)       /* api/build.c: POST /build, /build/prune */
SKIFF_ROUTE_TABLE(unsupported) /* api/unsupported.c: swarm 503, plugins [], the rest 501 */

/* Builds the full table (the tables above, in that order; unsupported last). */
const struct skiff_route *skiff_api_routes(size_t *n);

#endif
