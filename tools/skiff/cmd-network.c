/* Network verbs (`skiff network create|ls|inspect|rm|prune|connect|disconnect`)
 * and `skiff port`: the requests and output of the docker CLI 28 over
 * /networks and a container's NetworkSettings.Ports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

#define PATH_FMT(buf, ...) snprintf(buf, sizeof(buf), __VA_ARGS__)

/* ---- create ------------------------------------------------------------- */

/* docker's consolidateIpam: one Config entry per --subnet, with the
 * --ip-range and --gateway that fall in it (in flag order here). */
static int ipam_config(struct cli *cli, struct cli_opts *o, json_t **out)
{
	size_t ns, ng, nr;
	const char **sub = opt_list(o, "subnet", &ns), **gw = opt_list(o, "gateway", &ng),
		   **rng = opt_list(o, "ip-range", &nr);
	if (ns < ng)
		return skiff_error_set(&cli->err, 400, EINVAL, "every ip-range or gateway must have a corresponding subnet");
	if (ns < nr)
		return skiff_error_set(&cli->err, 400, EINVAL, "every ip-range or gateway must have a corresponding subnet");
	json_t *arr = json_array();
	for (size_t i = 0; i < ns; i++) {
		json_t *c = json_pack("{s:s}", "Subnet", sub[i]);
		if (i < nr)
			json_object_set_new(c, "IPRange", json_string(rng[i]));
		if (i < ng)
			json_object_set_new(c, "Gateway", json_string(gw[i]));
		json_array_append_new(arr, c);
	}
	*out = arr;
	return 0;
}

static int cmd_network_create(struct cli *cli, struct cli_opts *o)
{
	json_t *cfg = NULL;
	if (ipam_config(cli, o, &cfg) < 0)
		return cli_fail(cli, 1);
	size_t n;
	const char **v;
	/* field order of docker's network.CreateRequest */
	_cleanup_json_ json_t *body = json_object();
	json_object_set_new(body, "Name", json_string(o->argv[0]));
	json_object_set_new(body, "Driver", json_string(opt_str(o, "driver", "bridge")));
	json_object_set_new(body, "Scope", json_string(opt_str(o, "scope", "")));
	if (opt_set(o, "ipv4"))
		json_object_set_new(body, "EnableIPv4", json_boolean(opt_bool(o, "ipv4")));
	if (opt_set(o, "ipv6"))
		json_object_set_new(body, "EnableIPv6", json_boolean(opt_bool(o, "ipv6")));
	v = opt_list(o, "ipam-opt", &n);
	json_object_set_new(body, "IPAM", json_pack("{s:s, s:o, s:o}", "Driver", opt_str(o, "ipam-driver", "default"),
						    "Options", cli_kv_map(v, n), "Config", cfg));
	json_object_set_new(body, "Internal", json_boolean(opt_bool(o, "internal")));
	json_object_set_new(body, "Attachable", json_boolean(opt_bool(o, "attachable")));
	json_object_set_new(body, "Ingress", json_boolean(opt_bool(o, "ingress")));
	json_object_set_new(body, "ConfigOnly", json_boolean(opt_bool(o, "config-only")));
	if (opt_set(o, "config-from"))
		json_object_set_new(body, "ConfigFrom", json_pack("{s:s}", "Network", opt_str(o, "config-from", "")));
	v = opt_list(o, "opt", &n);
	json_object_set_new(body, "Options", cli_kv_map(v, n));
	v = opt_list(o, "label", &n);
	json_object_set_new(body, "Labels", cli_kv_map(v, n));
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "POST", "/networks/create", body, &res) < 0)
		return cli_fail(cli, 1);
	puts(skiff_json_str(res, "Id", ""));
	return 0;
}

/* ---- ls ----------------------------------------------------------------- */

/* docker's networkContext: everything a --format template can name */
static json_t *network_row(json_t *nw, bool trunc)
{
	json_t *row = json_object();
	const char *id = skiff_json_str(nw, "Id", "");
	json_object_set_new(row, "ID", trunc ? json_stringn(id, strlen(id) < 12 ? strlen(id) : 12) : json_string(id));
	json_object_set_new(row, "Name", json_string(skiff_json_str(nw, "Name", "")));
	json_object_set_new(row, "Driver", json_string(skiff_json_str(nw, "Driver", "")));
	json_object_set_new(row, "Scope", json_string(skiff_json_str(nw, "Scope", "")));
	json_t *v4 = json_object_get(nw, "EnableIPv4");
	json_object_set_new(row, "IPv4", json_string(!v4 || json_is_true(v4) ? "true" : "false"));
	json_object_set_new(row, "IPv6", json_string(json_is_true(json_object_get(nw, "EnableIPv6")) ? "true" : "false"));
	json_object_set_new(row, "Internal", json_string(json_is_true(json_object_get(nw, "Internal")) ? "true" : "false"));
	json_t *labels = json_object_get(nw, "Labels");
	_cleanup_free_ char *joined = cli_join_labels(labels);
	json_object_set_new(row, "Labels", json_string(joined));
	char ts[96];
	const char *created = skiff_json_str(nw, "Created", "");
	cli_time_string(cli_parse_rfc3339(created), ts, sizeof(ts));
	/* Go's Time.String keeps the fraction, trailing zeros trimmed */
	const char *dot = strchr(created, '.');
	if (dot && strlen(ts) > 19 && ts[19] == ' ') {
		size_t nd = strspn(dot + 1, "0123456789");
		while (nd && dot[nd] == '0')
			nd--;
		if (nd) {
			char tail[64];
			snprintf(tail, sizeof(tail), "%s", ts + 19);
			snprintf(ts + 19, sizeof(ts) - 19, ".%.*s%s", (int)nd, dot + 1, tail);
		}
	}
	json_object_set_new(row, "CreatedAt", json_string(ts));
	json_object_set_new(row, "LabelsMap", json_is_object(labels) ? json_incref(labels) : json_object());
	return cli_row_sorted(row);
}

static int cmd_network_ls(struct cli *cli, struct cli_opts *o)
{
	char path[4096];
	size_t nf;
	const char **f = opt_list(o, "filter", &nf);
	cli_filters_path(path, sizeof(path), "/networks", f, nf);
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "GET", path, NULL, &res) < 0)
		return cli_fail(cli, 1);
	size_t n;
	_cleanup_free_ json_t **sorted = cli_sorted_by_name(res, &n);
	bool trunc = !opt_bool(o, "no-trunc");
	_cleanup_json_ json_t *rows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, network_row(sorted[i], trunc));
	const char *fmt = opt_str(o, "format", NULL);
	if (opt_bool(o, "quiet") && (!fmt || !*fmt || !strcmp(fmt, "table")))
		fmt = "{{.ID}}";
	static const char *const hdr[] = { "ID",	"NETWORK ID", "Name",	"NAME",	    "Driver",	 "DRIVER",
					   "Scope",	"SCOPE",      "IPv4",	"IPV4",	    "IPv6",	 "IPV6",
					   "Internal", "INTERNAL",  "Labels", "LABELS",    "CreatedAt", "CREATED AT",
					   NULL };
	_cleanup_json_ json_t *headers = cli_header_map(hdr);
	return cli_print_rows(cli, fmt, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", rows, headers);
}

/* ---- inspect, rm -------------------------------------------------------- */

static int cmd_network_inspect(struct cli *cli, struct cli_opts *o)
{
	/* docker indents the daemon's bytes: its key order is kept */
	return cli_inspect_each(cli, o, "/networks", opt_bool(o, "verbose") ? "?verbose=true" : "",
				JSON_PRESERVE_ORDER);
}

static int cmd_network_rm(struct cli *cli, struct cli_opts *o)
{
	char path[2048];
	int status = 0;
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
		PATH_FMT(path, "/networks/%s", en);
		/* like docker: errors as they come, names removed on stdout */
		if (cli_call(cli, "DELETE", path, NULL, NULL) < 0) {
			if (opt_bool(o, "force") && cli->err.status == 404)
				continue;
			cli_fail(cli, 1);
			status = 1;
			continue;
		}
		puts(o->argv[i]);
		fflush(stdout);
	}
	return status;
}

static int cmd_network_prune(struct cli *cli, struct cli_opts *o)
{
	if (!opt_bool(o, "force") &&
	    !cli_confirm("WARNING! This will remove all custom networks not used by at least one container.\n"
		     "Are you sure you want to continue?"))
		return 0;
	size_t nf;
	const char **f = opt_list(o, "filter", &nf);
	char path[4096];
	cli_filters_path(path, sizeof(path), "/networks/prune", f, nf);
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "POST", path, NULL, &res) < 0)
		return cli_fail(cli, 1);
	cli_print_deleted("Deleted Networks", json_object_get(res, "NetworksDeleted"));
	return 0;
}

/* ---- connect, disconnect ------------------------------------------------ */

/* POST /networks/<name>/<verb>: the exit status */
static int network_post(struct cli *cli, const char *name, const char *verb, json_t *body)
{
	char path[2048];
	_cleanup_free_ char *en = cli_urlencode(name);
	PATH_FMT(path, "/networks/%s/%s", en, verb);
	if (cli_call(cli, "POST", path, body, NULL) < 0)
		return cli_fail(cli, 1);
	return 0;
}

static int cmd_network_connect(struct cli *cli, struct cli_opts *o)
{
	size_t n;
	const char **v;
	json_t *ipam = json_object();
	if (opt_set(o, "ip"))
		json_object_set_new(ipam, "IPv4Address", json_string(opt_str(o, "ip", "")));
	if (opt_set(o, "ip6"))
		json_object_set_new(ipam, "IPv6Address", json_string(opt_str(o, "ip6", "")));
	v = opt_list(o, "link-local-ip", &n);
	if (n) {
		json_t *ll = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(ll, json_string(v[i]));
		json_object_set_new(ipam, "LinkLocalIPs", ll);
	}
	json_t *ep = json_object();
	json_object_set_new(ep, "IPAMConfig", ipam);
	v = opt_list(o, "link", &n);
	json_t *links = n ? json_array() : json_null();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(links, json_string(v[i]));
	json_object_set_new(ep, "Links", links);
	v = opt_list(o, "alias", &n);
	json_t *aliases = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(aliases, json_string(v[i]));
	json_object_set_new(ep, "Aliases", aliases);
	json_object_set_new(ep, "MacAddress", json_string(""));
	v = opt_list(o, "driver-opt", &n);
	json_object_set_new(ep, "DriverOpts", cli_kv_map(v, n));
	json_object_set_new(ep, "GwPriority", json_integer(atoi(opt_str(o, "gw-priority", "0"))));
	_cleanup_json_ json_t *body = json_pack("{s:s, s:o}", "Container", o->argv[1], "EndpointConfig", ep);
	return network_post(cli, o->argv[0], "connect", body);
}

static int cmd_network_disconnect(struct cli *cli, struct cli_opts *o)
{
	_cleanup_json_ json_t *body = json_pack("{s:s, s:b}", "Container", o->argv[1], "Force", opt_bool(o, "force"));
	return network_post(cli, o->argv[0], "disconnect", body);
}

/* ---- port --------------------------------------------------------------- */

/* net.JoinHostPort */
static void host_port(json_t *b, char *out, size_t len)
{
	const char *ip = skiff_json_str(b, "HostIp", "");
	const char *p = skiff_json_str(b, "HostPort", "");
	if (strchr(ip, ':'))
		snprintf(out, len, "[%s]:%s", ip, p);
	else
		snprintf(out, len, "%s:%s", ip, p);
}

static int cmp_line(const void *a, const void *b)
{
	return cli_natural_cmp(*(const char *const *)a, *(const char *const *)b);
}

int cli_cmd_port(struct cli *cli, struct cli_opts *o)
{
	char path[2048];
	_cleanup_free_ char *en = cli_urlencode(o->argv[0]);
	PATH_FMT(path, "/containers/%s/json", en);
	_cleanup_json_ json_t *c = NULL;
	if (cli_call(cli, "GET", path, NULL, &c) < 0)
		return cli_fail(cli, 1);
	json_t *ports = json_object_get(json_object_get(c, "NetworkSettings"), "Ports");
	char hp[128];
	size_t i;
	json_t *b;
	if (o->argc == 2) {
		char key[64];
		const char *arg = o->argv[1];
		snprintf(key, sizeof(key), "%s%s", arg, strchr(arg, '/') ? "" : "/tcp");
		json_t *arr = json_object_get(ports, key);
		if (!json_array_size(arr)) /* docker names the port as it was given */
			return cli_failf(cli, 1, "No public port '%s' published for %s", arg, o->argv[0]);
		json_array_foreach(arr, i, b)
		{
			host_port(b, hp, sizeof(hp));
			puts(hp);
		}
		return 0;
	}
	size_t cap = 16, n = 0;
	_cleanup_free_ char **lines = calloc(cap, sizeof(*lines));
	const char *key;
	json_t *arr;
	json_object_foreach(ports, key, arr)
	{
		json_array_foreach(arr, i, b)
		{
			host_port(b, hp, sizeof(hp));
			if (n == cap)
				lines = realloc(lines, (cap *= 2) * sizeof(*lines));
			if (asprintf(&lines[n], "%s -> %s", key, hp) >= 0)
				n++;
		}
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	for (i = 0; i < n; i++) {
		puts(lines[i]);
		free(lines[i]);
	}
	return 0;
}

/* ---- the table ---------------------------------------------------------- */

static const struct cli_flag create_flags[] = {
	{ .name = "attachable", .type = FLAG_BOOL, .help = "Enable manual container attachment" },
	{ .name = "aux-address", .type = FLAG_LIST, .help = "Auxiliary IPv4 or IPv6 addresses used by Network driver" },
	{ .name = "config-from", .type = FLAG_STRING, .help = "The network from which to copy the configuration" },
	{ .name = "config-only", .type = FLAG_BOOL, .help = "Create a configuration only network" },
	{ .name = "driver", .shrt = 'd', .type = FLAG_STRING, .def = "\"bridge\"", .help = "Driver to manage the Network" },
	{ .name = "gateway", .type = FLAG_LIST, .help = "IPv4 or IPv6 Gateway for the master subnet" },
	{ .name = "ingress", .type = FLAG_BOOL, .help = "Create swarm routing-mesh network" },
	{ .name = "internal", .type = FLAG_BOOL, .help = "Restrict external access to the network" },
	{ .name = "ip-range", .type = FLAG_LIST, .help = "Allocate container ip from a sub-range" },
	{ .name = "ipam-driver", .type = FLAG_STRING, .def = "\"default\"", .help = "IP Address Management Driver" },
	{ .name = "ipam-opt", .type = FLAG_LIST, .help = "Set IPAM driver specific options" },
	{ .name = "ipv4", .type = FLAG_BOOL, .def = "true", .help = "Enable or disable IPv4 address assignment" },
	{ .name = "ipv6", .type = FLAG_BOOL, .help = "Enable or disable IPv6 address assignment" },
	{ .name = "label", .type = FLAG_LIST, .help = "Set metadata on a network" },
	{ .name = "opt", .shrt = 'o', .type = FLAG_LIST, .help = "Set driver specific options" },
	{ .name = "scope", .type = FLAG_STRING, .help = "Control the network's scope" },
	{ .name = "subnet", .type = FLAG_LIST, .help = "Subnet in CIDR format that represents a network segment" },
	{ 0 },
};
static const struct cli_flag ls_flags[] = {
	{ .name = "filter", .shrt = 'f', .type = FLAG_LIST, .help = "Provide filter values (e.g. \"driver=bridge\")" },
	{ .name = "format", .type = FLAG_STRING,
	  .help = "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')" },
	{ .name = "no-trunc", .type = FLAG_BOOL, .help = "Do not truncate the output" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL, .help = "Only display network IDs" },
	{ 0 },
};
static const struct cli_flag inspect_flags[] = {
	{ .name = "format", .shrt = 'f', .type = FLAG_STRING, .help = "Format output using a custom template" },
	{ .name = "verbose", .shrt = 'v', .type = FLAG_BOOL, .help = "Verbose output for diagnostics" },
	{ 0 },
};
static const struct cli_flag rm_flags[] = {
	{ .name = "force", .shrt = 'f', .type = FLAG_BOOL, .help = "Do not error if the network does not exist" },
	{ 0 },
};
static const struct cli_flag prune_flags[] = {
	{ .name = "filter", .type = FLAG_LIST, .help = "Provide filter values (e.g. \"until=<timestamp>\")" },
	{ .name = "force", .shrt = 'f', .type = FLAG_BOOL, .help = "Do not prompt for confirmation" },
	{ 0 },
};
static const struct cli_flag connect_flags[] = {
	{ .name = "alias", .type = FLAG_LIST, .help = "Add network-scoped alias for the container" },
	{ .name = "driver-opt", .type = FLAG_LIST, .help = "driver options for the network" },
	{ .name = "gw-priority", .type = FLAG_STRING, .help = "Highest gw-priority provides the default gateway." },
	{ .name = "ip", .type = FLAG_STRING, .help = "IPv4 address (e.g., \"172.30.100.104\")" },
	{ .name = "ip6", .type = FLAG_STRING, .help = "IPv6 address (e.g., \"2001:db8::33\")" },
	{ .name = "link", .type = FLAG_LIST, .help = "Add link to another container" },
	{ .name = "link-local-ip", .type = FLAG_LIST, .help = "Add a link-local address for the container" },
	{ 0 },
};
static const struct cli_flag disconnect_flags[] = {
	{ .name = "force", .shrt = 'f', .type = FLAG_BOOL, .help = "Force the container to disconnect from a network" },
	{ 0 },
};

const struct cli_cmd cli_network_cmds[] = {
	{ .name = "connect", .summary = "Connect a container to a network", .usage = "[OPTIONS] NETWORK CONTAINER",
	  .flags = connect_flags, .min_args = 2, .max_args = 2, .run = cmd_network_connect },
	{ .name = "create", .summary = "Create a network", .usage = "[OPTIONS] NETWORK", .flags = create_flags,
	  .min_args = 1, .max_args = 1, .run = cmd_network_create },
	{ .name = "disconnect", .summary = "Disconnect a container from a network",
	  .usage = "[OPTIONS] NETWORK CONTAINER", .flags = disconnect_flags, .min_args = 2, .max_args = 2,
	  .run = cmd_network_disconnect },
	{ .name = "inspect", .summary = "Display detailed information on one or more networks",
	  .usage = "[OPTIONS] NETWORK [NETWORK...]", .flags = inspect_flags, .min_args = 1, .max_args = -1,
	  .run = cmd_network_inspect },
	{ .name = "ls", .aliases = "list", .summary = "List networks", .usage = "[OPTIONS]", .flags = ls_flags,
	  .max_args = 0, .run = cmd_network_ls },
	{ .name = "prune", .summary = "Remove all unused networks", .usage = "[OPTIONS]", .flags = prune_flags,
	  .max_args = 0, .run = cmd_network_prune },
	{ .name = "rm", .aliases = "remove", .summary = "Remove one or more networks",
	  .usage = "NETWORK [NETWORK...]", .flags = rm_flags, .min_args = 1, .max_args = -1, .run = cmd_network_rm },
};
const size_t cli_network_ncmds = ARRAY_SIZE(cli_network_cmds);
