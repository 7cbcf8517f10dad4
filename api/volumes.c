/* Routes for the volume API: /volumes, /volumes/create, /volumes/{name},
 * /volumes/prune. A thin shell over the volume store (userspace/daemon/
 * volume.h); PUT /volumes/{name} (swarm cluster volumes) stays with the
 * unsupported table. */
#include <string.h>

#include "../userspace/daemon/daemon.h"
#include "../userspace/daemon/volume.h"
#include "../userspace/lib/cleanup.h"
#include "../userspace/lib/json.h"
#include "http.h"
#include "routes.h"

static struct skiff_volumes *volumes_of(struct skiff_http_req *req)
{
	if (!req->daemon || !req->daemon->volumes) {
		skiff_http_reply_error(req, 503, "the volume store is not available");
		return NULL;
	}
	return req->daemon->volumes;
}

/* A string field or null/absent; anything else is a 400 like Go's decoder. */
static bool string_field(struct skiff_http_req *req, const json_t *body, const char *key, const char **out)
{
	json_t *v = json_object_get(body, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		skiff_http_reply_error(req, 400,
				       "json: cannot unmarshal %s into Go struct field CreateOptions.%s of type string",
				       json_is_number(v)    ? "number"
				       : json_is_boolean(v) ? "bool"
				       : json_is_array(v)   ? "array"
							    : "object",
				       key);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

static void volumes_create(struct skiff_http_req *req)
{
	struct skiff_volumes *vs = volumes_of(req);
	_cleanup_json_ json_t *body = NULL;
	struct skiff_error err = {0};
	const char *name, *driver;
	json_t *out = NULL, *opts, *labels;

	if (!vs || !(body = skiff_http_body_json(req, true)))
		return;
	if (!json_is_object(body)) {
		skiff_http_reply_error(req, 400, "json: cannot unmarshal %s into Go value of type volume.CreateOptions",
				       json_is_array(body) ? "array" : "value");
		return;
	}
	if (!string_field(req, body, "Name", &name) || !string_field(req, body, "Driver", &driver))
		return;
	opts = json_object_get(body, "DriverOpts");
	labels = json_object_get(body, "Labels");
	if (json_is_null(opts))
		opts = NULL;
	if (json_is_null(labels))
		labels = NULL;
	if (skiff_volume_create(vs, name, driver, opts, labels, &out, &err) < 0) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	skiff_http_reply_json(req, 201, out);
}

static void volumes_list(struct skiff_http_req *req)
{
	struct skiff_volumes *vs = volumes_of(req);
	_cleanup_json_ json_t *filters = NULL;
	struct skiff_error err = {0};
	json_t *out;

	if (!vs || !(filters = skiff_http_query_filters(req)))
		return;
	if (!(out = skiff_volume_list_json(vs, filters, &err))) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	skiff_http_reply_json(req, 200, out);
}

static void volumes_inspect(struct skiff_http_req *req)
{
	struct skiff_volumes *vs = volumes_of(req);
	struct skiff_error err = {0};
	json_t *out;

	if (!vs)
		return;
	if (!(out = skiff_volume_inspect_json(vs, req->params[0], &err))) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	skiff_http_reply_json(req, 200, out);
}

static void volumes_remove(struct skiff_http_req *req)
{
	struct skiff_volumes *vs = volumes_of(req);
	struct skiff_error err = {0};

	if (!vs)
		return;
	if (skiff_volume_remove(vs, req->params[0], skiff_http_query_bool(req, "force", false), &err) < 0) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	skiff_http_reply_empty(req, 204);
}

static void volumes_prune(struct skiff_http_req *req)
{
	struct skiff_volumes *vs = volumes_of(req);
	_cleanup_json_ json_t *filters = NULL;
	struct skiff_error err = {0};
	json_t *report = NULL;

	if (!vs || !(filters = skiff_http_query_filters(req)))
		return;
	/* API 1.42 made prune default to anonymous volumes only; older clients
	 * expect every unused volume to go */
	if (skiff_volume_prune(vs, filters, req->api_minor < 42, &report, &err) < 0) {
		skiff_http_reply_skiff_error(req, &err);
		return;
	}
	skiff_http_reply_json(req, 200, report);
}

const struct skiff_route skiff_volumes_routes[] = {
    {.methods = HTTP_GET, .pattern = "/volumes", .handler = volumes_list},
    {.methods = HTTP_POST, .pattern = "/volumes/create", .handler = volumes_create},
    {.methods = HTTP_POST, .pattern = "/volumes/prune", .handler = volumes_prune},
    {.methods = HTTP_GET, .pattern = "/volumes/{name}", .handler = volumes_inspect},
    {.methods = HTTP_DELETE, .pattern = "/volumes/{name}", .handler = volumes_remove},
};
const size_t skiff_volumes_nroutes = ARRAY_SIZE(skiff_volumes_routes);
