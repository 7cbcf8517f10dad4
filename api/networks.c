/* /networks: list, inspect, create, connect, disconnect, remove, prune.
 * Thin shell over userspace/net/network.h. */
#include "../userspace/lib/cleanup.h"
#include "routes.h"

#define ANY (HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE)

static void h_not_yet(struct skiff_http_req *req)
{
	skiff_http_reply_error(req, 501, "skiff does not implement networks yet (not supported)");
}

const struct skiff_route skiff_networks_routes[] = {
	{ .methods = ANY, .pattern = "/networks", .handler = h_not_yet },
	{ .methods = ANY, .pattern = "/networks/{rest*}", .handler = h_not_yet },
};
const size_t skiff_networks_nroutes = ARRAY_SIZE(skiff_networks_routes);
