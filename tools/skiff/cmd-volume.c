/* Volume verbs (`skiff volume create|ls|inspect|rm|prune`): the requests and
 * the output of the docker CLI 28, over /volumes. Reached only through the
 * `volume` group, since ls/rm/inspect/prune also name container verbs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

#define PATH_FMT(buf, ...) snprintf(buf, sizeof(buf), __VA_ARGS__)

static int cmd_volume_create(struct cli *cli, struct cli_opts *o)
{
	const char *name = opt_str(o, "name", "");
	if (o->argc == 1) {
		if (*name)
			return cli_failf(cli, 1, "conflicting options: cannot specify a volume-name through both --name and as a positional arg");
		name = o->argv[0];
	}
	/* field order and omitempty of docker's volume.CreateOptions */
	_cleanup_json_ json_t *body = json_object();
	json_object_set_new(body, "Driver", json_string(opt_str(o, "driver", "local")));
	size_t n;
	const char **v = opt_list(o, "opt", &n);
	if (n)
		json_object_set_new(body, "DriverOpts", cli_kv_map(v, n));
	v = opt_list(o, "label", &n);
	if (n)
		json_object_set_new(body, "Labels", cli_kv_map(v, n));
	if (*name)
		json_object_set_new(body, "Name", json_string(name));
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "POST", "/volumes/create", body, &res) < 0)
		return cli_fail(cli, 1);
	puts(skiff_json_str(res, "Name", ""));
	return 0;
}

/* docker's volumeContext: everything a --format template can name */
static json_t *volume_row(json_t *v)
{
	json_t *row = json_object();
	json_object_set_new(row, "Name", json_string(skiff_json_str(v, "Name", "")));
	json_object_set_new(row, "Driver", json_string(skiff_json_str(v, "Driver", "")));
	json_object_set_new(row, "Scope", json_string(skiff_json_str(v, "Scope", "")));
	json_object_set_new(row, "Mountpoint", json_string(skiff_json_str(v, "Mountpoint", "")));
	json_t *labels = json_object_get(v, "Labels");
	_cleanup_free_ char *joined = cli_join_labels(labels);
	json_object_set_new(row, "Labels", json_string(joined));
	json_t *usage = json_object_get(v, "UsageData");
	char buf[64];
	if (json_is_object(usage)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)skiff_json_int(usage, "RefCount", 0));
		json_object_set_new(row, "Links", json_string(buf));
		int64_t sz = skiff_json_int(usage, "Size", -1);
		if (sz >= 0)
			cli_human_size((double)sz, 4, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "N/A");
		json_object_set_new(row, "Size", json_string(buf));
	} else {
		json_object_set_new(row, "Links", json_string("N/A"));
		json_object_set_new(row, "Size", json_string("N/A"));
	}
	/* cluster volumes only */
	json_object_set_new(row, "Group", json_string("N/A"));
	json_object_set_new(row, "Availability", json_string("N/A"));
	json_object_set_new(row, "Status", json_string("N/A"));
	json_object_set_new(row, "LabelsMap", json_is_object(labels) ? json_incref(labels) : json_object());
	return cli_row_sorted(row);
}

static int cmd_volume_ls(struct cli *cli, struct cli_opts *o)
{
	char path[4096];
	size_t nf;
	const char **f = opt_list(o, "filter", &nf);
	cli_filters_path(path, sizeof(path), "/volumes", f, nf);
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "GET", path, NULL, &res) < 0)
		return cli_fail(cli, 1);
	size_t n;
	_cleanup_free_ json_t **sorted = cli_sorted_by_name(json_object_get(res, "Volumes"), &n);
	_cleanup_json_ json_t *rows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, volume_row(sorted[i]));

	const char *fmt = opt_str(o, "format", NULL);
	bool quiet = opt_bool(o, "quiet");
	if (quiet && (!fmt || !*fmt || !strcmp(fmt, "table")))
		fmt = "{{.Name}}";
	static const char *const hdr[] = { "Name",  "VOLUME NAME", "Driver", "DRIVER", "Scope",	       "SCOPE",
					   "Mountpoint", "MOUNTPOINT", "Labels", "LABELS", "Links",	       "LINKS",
					   "Size",  "SIZE",	   "Group",  "GROUP",  "Availability", "AVAILABILITY",
					   "Status", "STATUS",	   NULL };
	_cleanup_json_ json_t *headers = cli_header_map(hdr);
	return cli_print_rows(cli, fmt, "table {{.Driver}}\t{{.Name}}", rows, headers);
}

static int cmd_volume_inspect(struct cli *cli, struct cli_opts *o)
{
	/* Go marshals the struct in field order (alphabetical here) and maps sorted */
	return cli_inspect_each(cli, o, "/volumes", "", JSON_SORT_KEYS);
}

static int cmd_volume_rm(struct cli *cli, struct cli_opts *o)
{
	char path[2048];
	_cleanup_json_ json_t *errs = json_array();
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
		PATH_FMT(path, "/volumes/%s%s", en, opt_bool(o, "force") ? "?force=1" : "");
		if (cli_call(cli, "DELETE", path, NULL, NULL) < 0) {
			json_array_append_new(errs, json_string(cli->err.msg));
			continue;
		}
		puts(o->argv[i]);
	}
	/* like docker: the names removed first, then every error */
	return cli_fail_all(cli, errs);
}

static int cmd_volume_prune(struct cli *cli, struct cli_opts *o)
{
	size_t nf;
	const char **f = opt_list(o, "filter", &nf);
	bool all = opt_bool(o, "all");
	_cleanup_free_ const char **list = calloc(nf + 2, sizeof(*list));
	for (size_t i = 0; i < nf; i++) {
		if (all && !strncmp(f[i], "all=", 4))
			return cli_failf(cli, 1, "conflicting options: cannot specify both --all and --filter all=1");
		list[i] = f[i];
	}
	if (all)
		list[nf++] = "all=true";
	if (!opt_bool(o, "force") &&
	    !cli_confirm(all ? "WARNING! This will remove all local volumes not used by at least one container.\n"
			   "Are you sure you want to continue?"
			 : "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
			   "Are you sure you want to continue?"))
		return 0;
	char path[4096];
	cli_filters_path(path, sizeof(path), "/volumes/prune", list, nf);
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "POST", path, NULL, &res) < 0)
		return cli_fail(cli, 1);
	json_t *del = json_object_get(res, "VolumesDeleted");
	int64_t reclaimed = json_array_size(del) ? skiff_json_int(res, "SpaceReclaimed", 0) : 0;
	cli_print_deleted("Deleted Volumes", del);
	char sz[32];
	cli_human_size((double)reclaimed, 4, sz, sizeof(sz));
	printf("Total reclaimed space: %s\n", sz);
	return 0;
}

static const struct cli_flag create_flags[] = {
	{ .name = "driver", .shrt = 'd', .type = FLAG_STRING, .def = "\"local\"", .help = "Specify volume driver name" },
	{ .name = "label", .type = FLAG_LIST, .help = "Set metadata for a volume" },
	{ .name = "name", .type = FLAG_STRING, .help = "Specify volume name", .hidden = true },
	{ .name = "opt", .shrt = 'o', .type = FLAG_LIST, .help = "Set driver specific options" },
	{ 0 },
};
static const struct cli_flag ls_flags[] = {
	{ .name = "filter", .shrt = 'f', .type = FLAG_LIST, .help = "Provide filter values (e.g. \"dangling=true\")" },
	{ .name = "format", .type = FLAG_STRING,
	  .help = "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL, .help = "Only display volume names" },
	{ 0 },
};
static const struct cli_flag inspect_flags[] = {
	{ .name = "format", .shrt = 'f', .type = FLAG_STRING, .help = "Format output using a custom template" },
	{ 0 },
};
static const struct cli_flag rm_flags[] = {
	{ .name = "force", .shrt = 'f', .type = FLAG_BOOL, .help = "Force the removal of one or more volumes" },
	{ 0 },
};
static const struct cli_flag prune_flags[] = {
	{ .name = "all", .shrt = 'a', .type = FLAG_BOOL, .help = "Remove all unused volumes, not just anonymous ones" },
	{ .name = "filter", .type = FLAG_LIST, .help = "Provide filter values (e.g. \"label=<label>\")" },
	{ .name = "force", .shrt = 'f', .type = FLAG_BOOL, .help = "Do not prompt for confirmation" },
	{ 0 },
};

const struct cli_cmd cli_volume_cmds[] = {
	{ .name = "create", .summary = "Create a volume", .usage = "[OPTIONS] [VOLUME]", .flags = create_flags,
	  .max_args = 1, .run = cmd_volume_create },
	{ .name = "inspect", .summary = "Display detailed information on one or more volumes",
	  .usage = "[OPTIONS] VOLUME [VOLUME...]", .flags = inspect_flags, .min_args = 1, .max_args = -1,
	  .run = cmd_volume_inspect },
	{ .name = "ls", .aliases = "list", .summary = "List volumes", .usage = "[OPTIONS]", .flags = ls_flags,
	  .max_args = 0, .run = cmd_volume_ls },
	{ .name = "prune", .summary = "Remove unused local volumes", .usage = "[OPTIONS]", .flags = prune_flags,
	  .max_args = 0, .run = cmd_volume_prune },
	{ .name = "rm", .aliases = "remove", .summary = "Remove one or more volumes",
	  .usage = "[OPTIONS] VOLUME [VOLUME...]", .flags = rm_flags, .min_args = 1, .max_args = -1,
	  .run = cmd_volume_rm },
};
const size_t cli_volume_ncmds = ARRAY_SIZE(cli_volume_cmds);
