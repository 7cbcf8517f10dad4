/* Routes for the volume API: /volumes, /volumes/{name}, /volumes/prune.
 * Rows are added here as the handlers land; until then the unsupported
 * table answers these paths with 501. */
#include "routes.h"

const struct skiff_route skiff_volumes_routes[] = {
};
const size_t skiff_volumes_nroutes = 0;
