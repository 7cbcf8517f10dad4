/* Routes for exec: POST /containers/{id}/exec, /exec/{id}/start, /exec/{id}/resize, GET /exec/{id}/json.
 * Rows are added here as the handlers land; until then the unsupported
 * table answers these paths with 501. */
#include "routes.h"

const struct skiff_route skiff_exec_routes[] = {
};
const size_t skiff_exec_nroutes = 0;
