/* Image verbs: images, import, load, save, tag, rmi, history. import and
 * load stream a tar (file or stdin) as a chunked request body; save
 * streams the daemon's tar to a file or stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

static char *short_id(const char *id, bool trunc)
{
	if (!trunc)
		return strdup(id);
	if (!strncmp(id, "sha256:", 7))
		id += 7;
	return strndup(id, 12);
}

static void add_image_row(json_t *rows, json_t *img, const char *repo, const char *tag, const char *digest, bool trunc)
{
	json_t *row = json_object();
	_cleanup_free_ char *id = short_id(skiff_json_str(img, "Id", ""), trunc);
	char buf[128];
	int64_t created = skiff_json_int(img, "Created", 0);
	json_object_set_new(row, "ID", json_string(id));
	json_object_set_new(row, "Repository", json_string(repo));
	json_object_set_new(row, "Tag", json_string(tag));
	json_object_set_new(row, "Digest", json_string(digest));
	cli_since(created, buf, sizeof(buf));
	json_object_set_new(row, "CreatedSince", json_string(buf));
	cli_time_string(created, buf, sizeof(buf));
	json_object_set_new(row, "CreatedAt", json_string(buf));
	cli_human_size(skiff_json_int(img, "Size", 0), 3, buf, sizeof(buf));
	json_object_set_new(row, "Size", json_string(buf));
	/* docker: VirtualSize goes through units.HumanSize (4 digits) */
	cli_human_size(skiff_json_int(img, "Size", 0), 4, buf, sizeof(buf));
	json_object_set_new(row, "VirtualSize", json_string(buf));
	json_object_set_new(row, "UniqueSize", json_string("N/A"));
	int64_t sh = skiff_json_int(img, "SharedSize", -1);
	if (sh >= 0)
		cli_human_size(sh, 3, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "N/A");
	json_object_set_new(row, "SharedSize", json_string(buf));
	int64_t cn = skiff_json_int(img, "Containers", -1);
	if (cn >= 0)
		snprintf(buf, sizeof(buf), "%lld", (long long)cn);
	else
		snprintf(buf, sizeof(buf), "N/A");
	json_object_set_new(row, "Containers", json_string(buf));
	json_array_append_new(rows, cli_row_sorted(row));
}

static int cmd_images(struct cli *cli, struct cli_opts *o)
{
	char path[2048] = "/images/json";
	char *p = path + strlen(path);
	const char *sep = "?";
	if (opt_bool(o, "all"))
		p += sprintf(p, "%sall=1", sep), sep = "&";
	size_t nf;
	const char **fl = opt_list(o, "filter", &nf);
	const char **all = calloc(nf + 2, sizeof(char *));
	memcpy(all, fl, nf * sizeof(char *));
	_cleanup_free_ char *ref = NULL;
	if (o->argc == 1 && asprintf(&ref, "reference=%s", o->argv[0]) > 0)
		all[nf++] = ref;
	_cleanup_free_ char *filters = cli_filters_query(all, nf);
	free(all);
	if (filters)
		snprintf(p, sizeof(path) - (p - path), "%sfilters=%s", sep, filters);

	_cleanup_json_ json_t *list = NULL;
	if (cli_call(cli, "GET", path, NULL, &list) < 0)
		return cli_fail(cli, 1);
	bool trunc = !opt_bool(o, "no-trunc"), digests = opt_bool(o, "digests");
	_cleanup_json_ json_t *rows = json_array();
	size_t i, j;
	json_t *img, *t;
	json_array_foreach(list, i, img)
	{
		json_t *tags = json_object_get(img, "RepoTags");
		json_t *dg = json_object_get(img, "RepoDigests");
		const char *digest = "<none>";
		if (json_array_size(dg)) {
			const char *d = json_string_value(json_array_get(dg, 0));
			const char *at = d ? strchr(d, '@') : NULL;
			if (at)
				digest = at + 1;
		}
		bool any = false;
		json_array_foreach(tags, j, t)
		{
			const char *rt = json_string_value(t);
			if (!rt || !strcmp(rt, "<none>:<none>"))
				continue;
			const char *slash = strrchr(rt, '/');
			const char *colon = strrchr(slash ? slash : rt, ':');
			_cleanup_free_ char *repo = colon ? strndup(rt, colon - rt) : strdup(rt);
			add_image_row(rows, img, repo, colon ? colon + 1 : "<none>", digest, trunc);
			any = true;
		}
		if (!any)
			add_image_row(rows, img, "<none>", "<none>", digest, trunc);
	}
	const char *fmt = opt_str(o, "format", NULL);
	/* -q prints one id per row, so an image with two tags shows twice (docker does) */
	if (opt_bool(o, "quiet"))
		return cli_print_rows(cli, "{{.ID}}", NULL, rows, NULL);
	static const char *const hdr[] = { "ID", "IMAGE ID", "Repository", "REPOSITORY", "Tag", "TAG", "Digest", "DIGEST",
					   "CreatedSince", "CREATED", "CreatedAt", "CREATED AT", "Size", "SIZE",
					   "VirtualSize", "SIZE", "UniqueSize", "UNIQUE SIZE", "SharedSize", "SHARED SIZE", "Containers",
					   "CONTAINERS", NULL };
	_cleanup_json_ json_t *headers = cli_header_map(hdr);
	const char *def = digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
				  : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
	return cli_print_rows(cli, fmt, def, rows, headers);
}

/* Stream a tar to the daemon; print the JSON progress stream it answers with. */
static int post_stream(struct cli *cli, const char *path, int fd, const char *ctype, bool quiet)
{
	struct cli_body b = { .fd = fd, .content_type = ctype };
	struct cli_resp *r = malloc(sizeof(*r));
	int ret = cli_http(cli, "POST", path, &b, r);
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(cli, r);
	char *line = NULL;
	size_t cap = 0;
	while (ret == 0 && cli_resp_getline(r, &line, &cap) >= 0) {
		_cleanup_json_ json_t *j = json_loads(line, 0, NULL);
		if (!j)
			continue;
		const char *e = skiff_json_str(j, "error", NULL);
		if (!e)
			e = skiff_json_str(json_object_get(j, "errorDetail"), "message", NULL);
		if (e) {
			ret = skiff_error_set(&cli->err, 500, EIO, "%s", e);
			break;
		}
		const char *s = skiff_json_str(j, "stream", NULL);
		const char *st = skiff_json_str(j, "status", NULL);
		if (s && !quiet)
			fputs(s, stdout);
		else if (st && !quiet && !json_object_get(j, "progressDetail"))
			printf("%s\n", st);
		else if (st && quiet && !strncmp(st, "sha256:", 7))
			printf("%s\n", st);
	}
	free(line);
	cli_resp_close(r);
	free(r);
	return ret;
}

static int cmd_import(struct cli *cli, struct cli_opts *o)
{
	const char *src = o->argv[0];
	int fd = STDIN_FILENO;
	if (strcmp(src, "-")) {
		if (strstr(src, "://"))
			return cli_failf(cli, 1, "importing from a URL is not supported: %s", src);
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_failf(cli, 1, "open %s: %s", src, strerror(errno));
	}
	char path[4096];
	char *p = path + snprintf(path, sizeof(path), "/images/create?");
	size_t n;
	const char **ch = opt_list(o, "change", &n);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *e = cli_urlencode(ch[i]);
		p += snprintf(p, sizeof(path) - (p - path), "changes=%s&", e);
	}
	p += snprintf(p, sizeof(path) - (p - path), "fromSrc=-");
	const char *msg = opt_str(o, "message", NULL);
	if (msg) {
		_cleanup_free_ char *e = cli_urlencode(msg);
		p += snprintf(p, sizeof(path) - (p - path), "&message=%s", e);
	}
	if (o->argc > 1) {
		_cleanup_free_ char *e = cli_urlencode(o->argv[1]);
		p += snprintf(p, sizeof(path) - (p - path), "&repo=%s", e);
	}
	int r = post_stream(cli, path, fd, "text/plain", true);
	if (fd != STDIN_FILENO)
		close(fd);
	return r < 0 ? cli_fail(cli, 1) : 0;
}

static int cmd_load(struct cli *cli, struct cli_opts *o)
{
	const char *in = opt_str(o, "input", NULL);
	int fd = STDIN_FILENO;
	if (in) {
		fd = open(in, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_failf(cli, 1, "open %s: %s", in, strerror(errno));
	} else if (isatty(STDIN_FILENO)) {
		return cli_failf(cli, 1, "requested load from stdin, but stdin is empty");
	}
	/* docker always asks quiet=1 and prints the "Loaded image" lines */
	int r = post_stream(cli, "/images/load?quiet=1", fd, "application/x-tar", false);
	if (fd != STDIN_FILENO)
		close(fd);
	return r < 0 ? cli_fail(cli, 1) : 0;
}

static int cmd_save(struct cli *cli, struct cli_opts *o)
{
	const char *out = opt_str(o, "output", NULL);
	if (!out && isatty(STDOUT_FILENO))
		return cli_failf(cli, 1, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
	char path[4096];
	char *p = path + snprintf(path, sizeof(path), "/images/get?");
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *e = cli_urlencode(o->argv[i]);
		p += snprintf(p, sizeof(path) - (p - path), "%snames=%s", i ? "&" : "", e);
	}
	struct cli_resp *r = malloc(sizeof(*r));
	int ret = cli_http(cli, "GET", path, NULL, r);
	if (ret == 0 && r->status >= 400)
		ret = cli_resp_error(cli, r);
	if (ret < 0) {
		cli_resp_close(r);
		free(r);
		return cli_fail(cli, 1);
	}
	int fd = STDOUT_FILENO;
	_cleanup_free_ char *tmp = NULL;
	if (out) {
		/* write next to the target and rename, so a failed save leaves nothing half-written */
		if (asprintf(&tmp, "%s.skiff-tmp", out) < 0)
			return 1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			cli_resp_close(r);
			free(r);
			return cli_failf(cli, 1, "failed to save image: open %s: %s", out, strerror(errno));
		}
	}
	char buf[65536];
	ssize_t n;
	int werr = 0;
	while ((n = cli_resp_read(r, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w < 0) {
				werr = errno;
				break;
			}
			off += w;
		}
		if (werr)
			break;
	}
	cli_resp_close(r);
	free(r);
	if (out) {
		close(fd);
		if (werr || n < 0 || rename(tmp, out) < 0) {
			unlink(tmp);
			return cli_failf(cli, 1, "failed to save image: %s", strerror(werr ? werr : EIO));
		}
	}
	return 0;
}

static int cmd_tag(struct cli *cli, struct cli_opts *o)
{
	const char *target = o->argv[1];
	const char *slash = strrchr(target, '/');
	const char *colon = strrchr(slash ? slash : target, ':');
	_cleanup_free_ char *repo = colon ? strndup(target, colon - target) : strdup(target);
	_cleanup_free_ char *src = cli_urlencode(o->argv[0]), *erepo = cli_urlencode(repo),
			    *etag = cli_urlencode(colon ? colon + 1 : "latest");
	char path[2048];
	snprintf(path, sizeof(path), "/images/%s/tag?repo=%s&tag=%s", src, erepo, etag);
	if (cli_call(cli, "POST", path, NULL, NULL) < 0)
		return cli_fail(cli, 1);
	return 0;
}

static int cmd_rmi(struct cli *cli, struct cli_opts *o)
{
	int ret = 0;
	char q[64] = "";
	bool f = opt_bool(o, "force"), np = opt_bool(o, "no-prune");
	if (f || np)
		snprintf(q, sizeof(q), "?%s%s", f ? "force=1" : "", np ? (f ? "&noprune=1" : "noprune=1") : "");
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *e = cli_urlencode(o->argv[i]);
		char path[2048];
		snprintf(path, sizeof(path), "/images/%s%s", e, q);
		_cleanup_json_ json_t *res = NULL;
		if (cli_call(cli, "DELETE", path, NULL, &res) < 0) {
			cli_fail(cli, 1);
			ret = 1;
			continue;
		}
		size_t j;
		json_t *it;
		json_array_foreach(res, j, it)
		{
			if (json_object_get(it, "Untagged"))
				printf("Untagged: %s\n", skiff_json_str(it, "Untagged", ""));
			if (json_object_get(it, "Deleted"))
				printf("Deleted: %s\n", skiff_json_str(it, "Deleted", ""));
		}
	}
	return ret;
}

static int cmd_history(struct cli *cli, struct cli_opts *o)
{
	_cleanup_free_ char *e = cli_urlencode(o->argv[0]);
	char path[2048];
	snprintf(path, sizeof(path), "/images/%s/history", e);
	_cleanup_json_ json_t *list = NULL;
	if (cli_call(cli, "GET", path, NULL, &list) < 0)
		return cli_fail(cli, 1);
	bool trunc = !opt_bool(o, "no-trunc"), human = opt_bool(o, "human");
	_cleanup_json_ json_t *rows = json_array();
	size_t i;
	json_t *h;
	json_array_foreach(list, i, h)
	{
		json_t *row = json_object();
		const char *id = skiff_json_str(h, "Id", "<missing>");
		_cleanup_free_ char *sid = strcmp(id, "<missing>") ? short_id(id, trunc) : strdup(id);
		json_object_set_new(row, "ID", json_string(sid));
		char buf[128];
		int64_t created = skiff_json_int(h, "Created", 0);
		/* docker: CreatedAt is RFC 3339; CreatedSince is CreatedAt unless human */
		cli_time_rfc3339(created, buf, sizeof(buf));
		json_object_set_new(row, "CreatedAt", json_string(buf));
		if (human)
			cli_since(created, buf, sizeof(buf));
		json_object_set_new(row, "CreatedSince", json_string(buf));
		const char *by = skiff_json_str(h, "CreatedBy", "");
		_cleanup_free_ char *cb = trunc ? cli_ellipsis(by, 45) : strdup(by);
		json_object_set_new(row, "CreatedBy", json_string(cb));
		if (human)
			cli_human_size(skiff_json_int(h, "Size", 0), 3, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)skiff_json_int(h, "Size", 0));
		json_object_set_new(row, "Size", json_string(buf));
		json_object_set_new(row, "Comment", json_string(skiff_json_str(h, "Comment", "")));
		json_array_append_new(rows, cli_row_sorted(row));
	}
	static const char *const hdr[] = { "ID", "IMAGE", "CreatedSince", "CREATED", "CreatedAt", "CREATED AT",
					   "CreatedBy", "CREATED BY", "Size", "SIZE", "Comment", "COMMENT", NULL };
	_cleanup_json_ json_t *headers = cli_header_map(hdr);
	const char *fmt = opt_bool(o, "quiet") ? "{{.ID}}" : opt_str(o, "format", NULL);
	return cli_print_rows(cli, fmt,
			      human ? "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
				    : "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
			      rows, headers);
}

static const struct cli_flag images_flags[] = {
	{ .name = "all", .shrt = 'a', .type = FLAG_BOOL, .help = "Show all images (default hides intermediate images)" },
	{ .name = "digests", .type = FLAG_BOOL, .help = "Show digests" },
	{ .name = "filter", .shrt = 'f', .type = FLAG_LIST, .help = "Filter output based on conditions provided" },
	{ .name = "format", .type = FLAG_STRING, .help = "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')" },
	{ .name = "no-trunc", .type = FLAG_BOOL, .help = "Don't truncate output" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL, .help = "Only show image IDs" },
	{ 0 },
};
static const struct cli_flag import_flags[] = {
	{ .name = "change", .shrt = 'c', .type = FLAG_LIST, .help = "Apply Dockerfile instruction to the created image" },
	{ .name = "message", .shrt = 'm', .type = FLAG_STRING, .help = "Set commit message for imported image" },
	{ 0 },
};
static const struct cli_flag load_flags[] = {
	{ .name = "input", .shrt = 'i', .type = FLAG_STRING, .help = "Read from tar archive file, instead of STDIN" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL, .help = "Suppress the load output" },
	{ 0 },
};
static const struct cli_flag save_flags[] = {
	{ .name = "output", .shrt = 'o', .type = FLAG_STRING, .help = "Write to a file, instead of STDOUT" },
	{ 0 },
};
static const struct cli_flag rmi_flags[] = {
	{ .name = "force", .shrt = 'f', .type = FLAG_BOOL, .help = "Force removal of the image" },
	{ .name = "no-prune", .type = FLAG_BOOL, .help = "Do not delete untagged parents" },
	{ 0 },
};
static const struct cli_flag history_flags[] = {
	{ .name = "format", .type = FLAG_STRING, .help = "Format output using a custom template" },
	{ .name = "human", .shrt = 'H', .type = FLAG_BOOL, .def = "true", .help = "Print sizes and dates in human readable format" },
	{ .name = "no-trunc", .type = FLAG_BOOL, .help = "Don't truncate output" },
	{ .name = "quiet", .shrt = 'q', .type = FLAG_BOOL, .help = "Only show image IDs" },
	{ 0 },
};

const struct cli_cmd cli_image_cmds[] = {
	{ .name = "images", .summary = "List images", .usage = "[OPTIONS] [REPOSITORY[:TAG]]", .flags = images_flags,
	  .max_args = 1, .run = cmd_images },
	{ .name = "import", .summary = "Import the contents from a tarball to create a filesystem image",
	  .usage = "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", .flags = import_flags, .min_args = 1, .max_args = 2,
	  .run = cmd_import },
	{ .name = "load", .summary = "Load an image from a tar archive or STDIN", .usage = "[OPTIONS]", .flags = load_flags,
	  .max_args = 0, .run = cmd_load },
	{ .name = "save", .summary = "Save one or more images to a tar archive (streamed to STDOUT by default)",
	  .usage = "[OPTIONS] IMAGE [IMAGE...]", .flags = save_flags, .min_args = 1, .max_args = -1, .run = cmd_save },
	{ .name = "tag", .summary = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
	  .usage = "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", .min_args = 2, .max_args = 2, .run = cmd_tag },
	{ .name = "rmi", .summary = "Remove one or more images", .usage = "[OPTIONS] IMAGE [IMAGE...]", .flags = rmi_flags,
	  .min_args = 1, .max_args = -1, .run = cmd_rmi },
	{ .name = "history", .summary = "Show the history of an image", .usage = "[OPTIONS] IMAGE", .flags = history_flags,
	  .min_args = 1, .max_args = 1, .run = cmd_history },
	{ .name = "build", .summary = "Build an image from a Dockerfile", .usage = "[OPTIONS] PATH | URL | -",
	  .flags = cli_build_flags, .min_args = 1, .max_args = 1, .run = cli_cmd_build },
};
const size_t cli_image_ncmds = ARRAY_SIZE(cli_image_cmds);
