/* /networks: list, inspect, create, connect, disconnect, remove, prune.
 * Thin shell over userspace/net/network.h. */
#include <string.h>

#include "../userspace/daemon/daemon.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/json.h"
#include "../userspace/net/network.h"
#include "http.h"
#include "routes.h"

static bool net_ready(struct skiff_http_req *req)
{
	if (!req->daemon || !req->daemon->net) {
		skiff_http_reply_error(req, 503, "networking is not available on this daemon (see skiffd's log)");
		return false;
	}
	return true;
}

static json_t *object_body(struct skiff_http_req *req, const char *type)
{
	json_t *body = skiff_http_body_json(req, true);
	if (body && !json_is_object(body)) {
		skiff_http_reply_error(req, 400, "json: cannot unmarshal %s into Go value of type %s",
				       json_is_array(body) ? "array" : "value", type);
		json_decref(body);
		return NULL;
	}
	return body;
}

static void networks_list(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *filters = NULL;
	struct skiff_error err = { 0 };
	json_t *out;

	if (!net_ready(req) || !(filters = skiff_http_query_filters(req)))
		return;
	out = skiff_network_list_json(req->daemon, filters, &err);
	if (!out)
		return skiff_http_reply_skiff_error(req, &err);
	skiff_http_reply_json(req, 200, out);
}

static void networks_inspect(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	json_t *out;

	if (!net_ready(req))
		return;
	out = skiff_network_inspect_json(req->daemon, req->params[0], skiff_http_query_bool(req, "verbose", false),
					 skiff_http_query(req, "scope"), &err);
	if (!out)
		return skiff_http_reply_skiff_error(req, &err);
	skiff_http_reply_json(req, 200, out);
}

static void networks_create(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *body = NULL;
	struct skiff_error err = { 0 };
	json_t *out = NULL;

	if (!net_ready(req) || !(body = object_body(req, "network.CreateRequest")))
		return;
	if (skiff_network_create(req->daemon, body, &out, &err) < 0)
		return skiff_http_reply_skiff_error(req, &err);
	skiff_http_reply_json(req, 201, out);
}

static void networks_delete(struct skiff_http_req *req)
{
	struct skiff_error err = { 0 };
	if (!net_ready(req))
		return;
	if (skiff_network_remove(req->daemon, req->params[0], &err) < 0)
		return skiff_http_reply_skiff_error(req, &err);
	skiff_http_reply_empty(req, 204);
}

static void networks_connect(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *body = NULL;
	struct skiff_error err = { 0 };

	if (!net_ready(req) || !(body = object_body(req, "network.ConnectOptions")))
		return;
	if (skiff_network_connect(req->daemon, req->params[0], body, &err) < 0)
		return skiff_http_reply_skiff_error(req, &err);
	skiff_http_reply_empty(req, 200);
}

static void networks_disconnect(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *body = NULL;
	struct skiff_error err = { 0 };

	if (!net_ready(req) || !(body = object_body(req, "network.DisconnectOptions")))
		return;
	if (skiff_network_disconnect(req->daemon, req->params[0], body, &err) < 0)
		return skiff_http_reply_skiff_error(req, &err);
	skiff_http_reply_empty(req, 200);
}

static void networks_prune(struct skiff_http_req *req)
{
	_cleanup_json_ json_t *filters = NULL;
	struct skiff_error err = { 0 };
	json_t *out;

	if (!net_ready(req) || !(filters = skiff_http_query_filters(req)))
		return;
	out = skiff_network_prune(req->daemon, filters, &err);
	if (!out)
		return skiff_http_reply_skiff_error(req, &err);
	skiff_http_reply_json(req, 200, out);
}

const struct skiff_route skiff_networks_routes[] = {
	{ .methods = HTTP_GET, .pattern = "/networks", .handler = networks_list },
	{ .methods = HTTP_POST, .pattern = "/networks/create", .handler = networks_create },
	{ .methods = HTTP_POST, .pattern = "/networks/prune", .handler = networks_prune },
	{ .methods = HTTP_GET, .pattern = "/networks/{id}", .handler = networks_inspect },
	{ .methods = HTTP_DELETE, .pattern = "/networks/{id}", .handler = networks_delete },
	{ .methods = HTTP_POST, .pattern = "/networks/{id}/connect", .handler = networks_connect },
	{ .methods = HTTP_POST, .pattern = "/networks/{id}/disconnect", .handler = networks_disconnect },
};
const size_t skiff_networks_nroutes = ARRAY_SIZE(skiff_networks_routes);
