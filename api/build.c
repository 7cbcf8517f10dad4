/* POST /build (the classic builder's protocol) and POST /build/prune.
 * Thin shell over userspace/build/builder.h. */
#include "../userspace/lib/cleanup.h"
#include "routes.h"

#define ANY (HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE)

static void h_not_yet(struct skiff_http_req *req)
{
	skiff_http_reply_error(req, 501, "skiff does not implement image builds yet (not supported)");
}

const struct skiff_route skiff_build_routes[] = {
	{ .methods = ANY, .pattern = "/build", .handler = h_not_yet },
	{ .methods = ANY, .pattern = "/build/{rest*}", .handler = h_not_yet },
};
const size_t skiff_build_nroutes = ARRAY_SIZE(skiff_build_routes);
