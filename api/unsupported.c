/* Endpoints skiff does not offer (yet), answered the way clients expect:
 * swarm as on a node that is not a manager (503), an empty plugin list, and
 * 501 with a message naming what is missing. Last in the route table, so a
 * real route added elsewhere wins. The 501 text contains "not supported" on
 * purpose: the docker CLI's `inspect` skips object kinds whose lookup says so. */
#include "../userspace/lib/cleanup.h"
#include "routes.h"

#define ANY (HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE)

static void h_swarm(struct skiff_http_req *req)
{
	skiff_http_reply_error(req, 503,
			       "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to "
			       "connect this node to swarm and try again.");
}

static void h_plugins(struct skiff_http_req *req)
{
	skiff_http_reply_json(req, 200, json_array());
}

#define NOT_YET(fn, what)                                                                                  \
	static void fn(struct skiff_http_req *req)                                                         \
	{                                                                                                  \
		skiff_http_reply_error(req, 501, "skiff does not implement %s yet (not supported)", what); \
	}

NOT_YET(h_plugin_ops, "plugins")
NOT_YET(h_distribution, "registry distribution inspect")
NOT_YET(h_session, "build sessions")
NOT_YET(h_commit, "commit")
NOT_YET(h_volumes, "volumes")
NOT_YET(h_exec, "exec")
NOT_YET(h_archive, "copying files to or from containers")
NOT_YET(h_stats, "container stats")
NOT_YET(h_update, "container update")
NOT_YET(h_export, "container export")
NOT_YET(h_changes, "container diff")
NOT_YET(h_checkpoints, "checkpoints")

const struct skiff_route skiff_unsupported_routes[] = {
	{ .methods = ANY, .pattern = "/swarm", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/swarm/{rest*}", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/nodes", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/nodes/{rest*}", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/services", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/services/{rest*}", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/tasks", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/tasks/{rest*}", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/secrets", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/secrets/{rest*}", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/configs", .handler = h_swarm },
	{ .methods = ANY, .pattern = "/configs/{rest*}", .handler = h_swarm },
	{ .methods = HTTP_GET, .pattern = "/plugins", .handler = h_plugins },
	{ .methods = ANY, .pattern = "/plugins/{rest*}", .handler = h_plugin_ops },
	{ .methods = ANY, .pattern = "/distribution/{rest*}", .handler = h_distribution },
	{ .methods = ANY, .pattern = "/session", .handler = h_session },
	{ .methods = ANY, .pattern = "/grpc", .handler = h_session },
	{ .methods = ANY, .pattern = "/commit", .handler = h_commit },
	{ .methods = ANY, .pattern = "/volumes", .handler = h_volumes },
	{ .methods = ANY, .pattern = "/volumes/{rest*}", .handler = h_volumes },
	{ .methods = ANY, .pattern = "/exec/{rest*}", .handler = h_exec },
	{ .methods = ANY, .pattern = "/containers/{id}/exec", .handler = h_exec },
	{ .methods = ANY, .pattern = "/containers/{id}/archive", .handler = h_archive },
	{ .methods = ANY, .pattern = "/containers/{id}/stats", .handler = h_stats },
	{ .methods = ANY, .pattern = "/containers/{id}/update", .handler = h_update },
	{ .methods = ANY, .pattern = "/containers/{id}/export", .handler = h_export },
	{ .methods = ANY, .pattern = "/containers/{id}/changes", .handler = h_changes },
	{ .methods = ANY, .pattern = "/containers/{id}/checkpoints", .handler = h_checkpoints },
	{ .methods = ANY, .pattern = "/containers/{id}/checkpoints/{rest*}", .handler = h_checkpoints },
};
const size_t skiff_unsupported_nroutes = ARRAY_SIZE(skiff_unsupported_routes);
