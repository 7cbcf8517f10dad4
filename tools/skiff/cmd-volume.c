/* Volume verbs (`skiff volume create|ls|inspect|rm|prune`): the requests and
 * the output of the docker CLI 28, over /volumes. Reached only through the
 * `volume` group, since ls/rm/inspect/prune also name container verbs. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

#define PATH_FMT(buf, ...) snprintf(buf, sizeof(buf), __VA_ARGS__)

/* "k=v" list → object; a bare "k" maps to "" (docker's ConvertKVStringsToMap) */
static json_t *kv_map(const char **v, size_t n)
{
	json_t *m = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(v[i], '=');
		_cleanup_free_ char *k = eq ? strndup(v[i], eq - v[i]) : strdup(v[i]);
		json_object_set_new(m, k, json_string(eq ? eq + 1 : ""));
	}
	return m;
}

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
		json_object_set_new(body, "DriverOpts", kv_map(v, n));
	v = opt_list(o, "label", &n);
	if (n)
		json_object_set_new(body, "Labels", kv_map(v, n));
	if (*name)
		json_object_set_new(body, "Name", json_string(name));
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "POST", "/volumes/create", body, &res) < 0)
		return cli_fail(cli, 1);
	puts(skiff_json_str(res, "Name", ""));
	return 0;
}

/* sortorder.NaturalLess: runs of digits compare as numbers */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *sa = a, *sb = b;
			while (*sa == '0')
				sa++;
			while (*sb == '0')
				sb++;
			const char *ea = sa, *eb = sb;
			while (isdigit((unsigned char)*ea))
				ea++;
			while (isdigit((unsigned char)*eb))
				eb++;
			if (ea - sa != eb - sb)
				return ea - sa < eb - sb ? -1 : 1;
			int c = strncmp(sa, sb, ea - sa);
			if (c)
				return c;
			/* equal values: fewer leading zeros first */
			const char *za = a, *zb = b;
			while (isdigit((unsigned char)*za))
				za++;
			while (isdigit((unsigned char)*zb))
				zb++;
			if (za - a != zb - b)
				return za - a < zb - b ? -1 : 1;
			a = ea, b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++, b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int cmp_volume(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	return natural_cmp(skiff_json_str(a, "Name", ""), skiff_json_str(b, "Name", ""));
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
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
	/* Go ranges over the map in random order; sorted is one of its orders */
	size_t nl = json_object_size(labels), i = 0;
	_cleanup_free_ const char **keys = calloc(nl + 1, sizeof(*keys));
	const char *k;
	json_t *val;
	json_object_foreach(labels, k, val) keys[i++] = k;
	qsort(keys, nl, sizeof(*keys), cmp_strp);
	size_t cap = 1, len = 0;
	for (i = 0; i < nl; i++)
		cap += strlen(keys[i]) + strlen(skiff_json_str(labels, keys[i], "")) + 2;
	_cleanup_free_ char *joined = calloc(1, cap);
	for (i = 0; i < nl; i++)
		len += sprintf(joined + len, "%s%s=%s", i ? "," : "", keys[i], skiff_json_str(labels, keys[i], ""));
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
	char path[4096] = "/volumes";
	size_t nf;
	const char **f = opt_list(o, "filter", &nf);
	_cleanup_free_ char *filters = cli_filters_query(f, nf);
	if (filters)
		PATH_FMT(path, "/volumes?filters=%s", filters);
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "GET", path, NULL, &res) < 0)
		return cli_fail(cli, 1);
	json_t *vols = json_object_get(res, "Volumes");
	size_t n = json_array_size(vols);
	_cleanup_free_ json_t **sorted = calloc(n + 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(vols, i);
	qsort(sorted, n, sizeof(*sorted), cmp_volume);
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
	_cleanup_json_ json_t *headers = json_object();
	for (const char *const *h = hdr; *h; h += 2)
		json_object_set_new(headers, h[0], json_string(h[1]));
	return cli_print_rows(cli, fmt, "table {{.Driver}}\t{{.Name}}", rows, headers);
}

static int cmd_volume_inspect(struct cli *cli, struct cli_opts *o)
{
	const char *fmt = opt_str(o, "format", NULL);
	_cleanup_json_ json_t *all = json_array(), *errs = json_array();
	char path[2048];
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
		PATH_FMT(path, "/volumes/%s", en);
		json_t *v = NULL;
		if (cli_call(cli, "GET", path, NULL, &v) < 0) {
			json_array_append_new(errs, json_string(cli->err.msg));
			continue;
		}
		if (fmt && *fmt) {
			int r = cli_print_formatted(cli, fmt, v);
			json_decref(v);
			if (r)
				return r;
		} else {
			json_array_append_new(all, v);
		}
	}
	if (!fmt || !*fmt) {
		/* Go marshals the struct in field order (alphabetical here) and maps sorted */
		_cleanup_free_ char *s = json_dumps(all, JSON_INDENT(4) | JSON_SORT_KEYS);
		puts(s ? s : "[]");
	}
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e) cli_failf(cli, 1, "%s", json_string_value(e));
	return json_array_size(errs) ? 1 : 0;
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
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e) cli_failf(cli, 1, "%s", json_string_value(e));
	return json_array_size(errs) ? 1 : 0;
}

/* docker's prompt.Confirm: a line starting with y or Y */
static bool confirm(const char *warning)
{
	printf("%s [y/N] ", warning);
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return false;
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	return (*p == 'y' || *p == 'Y') && (p[1] == '\n' || p[1] == '\r' || p[1] == 0 || p[1] == ' ');
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
	    !confirm(all ? "WARNING! This will remove all local volumes not used by at least one container.\n"
			   "Are you sure you want to continue?"
			 : "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
			   "Are you sure you want to continue?"))
		return 0;
	char path[4096] = "/volumes/prune";
	_cleanup_free_ char *filters = cli_filters_query(list, nf);
	if (filters)
		PATH_FMT(path, "/volumes/prune?filters=%s", filters);
	_cleanup_json_ json_t *res = NULL;
	if (cli_call(cli, "POST", path, NULL, &res) < 0)
		return cli_fail(cli, 1);
	json_t *del = json_object_get(res, "VolumesDeleted");
	int64_t reclaimed = 0;
	if (json_array_size(del)) {
		size_t i;
		json_t *v;
		printf("Deleted Volumes:\n");
		json_array_foreach(del, i, v) printf("%s\n", json_string_value(v) ? json_string_value(v) : "");
		printf("\n");
		reclaimed = skiff_json_int(res, "SpaceReclaimed", 0);
	}
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
