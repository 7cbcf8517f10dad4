/* Routes for docker cp: GET/HEAD/PUT /containers/{id}/archive.
 * Rows are added here as the handlers land; until then the unsupported
 * table answers these paths with 501. */
#include "routes.h"

const struct skiff_route skiff_archive_routes[] = {
};
const size_t skiff_archive_nroutes = 0;
