/* Routes for GET /containers/{id}/stats.
 * Rows are added here as the handlers land; until then the unsupported
 * table answers these paths with 501. */
#include "routes.h"

const struct skiff_route skiff_stats_routes[] = {
};
const size_t skiff_stats_nroutes = 0;
