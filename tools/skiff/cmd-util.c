/* Helpers the command files share: filter and timestamp query values the
 * way the docker CLI builds them, printing rows through --format, and the
 * pieces of the create/ls/inspect/rm/prune verbs that are the same for
 * every object kind. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "../../userspace/lib/json.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *cli_filters_query(const char **list, size_t n)
{
	if (!n)
		return NULL;
	_cleanup_json_ json_t *f = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(list[i], '=');
		_cleanup_free_ char *k = eq ? strndup(list[i], eq - list[i]) : strdup(list[i]);
		json_t *set = json_object_get(f, k);
		if (!set) {
			set = json_object();
			json_object_set_new(f, k, set);
		}
		json_object_set_new(set, eq ? eq + 1 : "", json_true());
	}
	_cleanup_free_ char *s = json_dumps(f, JSON_COMPACT);
	return s ? cli_urlencode(s) : NULL;
}

int cli_timestamp(const char *v, char *out, size_t len)
{
	const char *p = v;
	bool numeric = *p != 0;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			numeric = false;
	if (numeric) {
		snprintf(out, len, "%s", v);
		return 0;
	}
	/* a Go duration: 10m, 1h30m, 45s → that long ago */
	double total = 0;
	p = v;
	bool dur = true;
	while (*p) {
		char *end;
		double n = strtod(p, &end);
		if (end == p) {
			dur = false;
			break;
		}
		double mul = 0;
		if (!strncmp(end, "ms", 2))
			mul = 1e-3, end += 2;
		else if (*end == 'h')
			mul = 3600, end++;
		else if (*end == 'm')
			mul = 60, end++;
		else if (*end == 's')
			mul = 1, end++;
		if (!mul) {
			dur = false;
			break;
		}
		total += n * mul;
		p = end;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (dur) {
		double t = now.tv_sec + now.tv_nsec / 1e9 - total;
		long long s = (long long)t;
		snprintf(out, len, "%lld.%09ld", s, (long)((t - s) * 1e9));
		return 0;
	}
	struct timespec ts;
	if (skiff_time_parse(v, &ts) < 0)
		return -EINVAL;
	snprintf(out, len, "%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
	return 0;
}

void cli_time_string(int64_t secs, char *out, size_t len)
{
	time_t t = secs;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
}

void cli_time_rfc3339(int64_t secs, char *out, size_t len)
{
	time_t t = secs;
	struct tm tm;
	char z[8];
	localtime_r(&t, &tm);
	size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(z, sizeof(z), "%z", &tm);
	if (!strcmp(z, "+0000"))
		snprintf(out + n, len - n, "Z");
	else
		snprintf(out + n, len - n, "%.3s:%.2s", z, z + 3);
}

json_t *cli_row_sorted(json_t *row)
{
	size_t n = json_object_size(row), i = 0;
	const char **keys = calloc(n + 1, sizeof(*keys));
	const char *k;
	json_t *v;
	json_object_foreach(row, k, v) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	json_t *out = json_object();
	for (i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(row, keys[i]));
	free(keys);
	json_decref(row);
	return out;
}

void cli_since(int64_t secs, char *out, size_t len)
{
	char d[64];
	int64_t now = time(NULL);
	cli_human_duration(now - secs, d, sizeof(d));
	snprintf(out, len, "%s ago", d);
}

int64_t cli_parse_rfc3339(const char *s)
{
	struct timespec ts;
	if (!s || skiff_time_parse(s, &ts) < 0)
		return 0;
	return ts.tv_sec;
}

int cli_print_rows_to(struct cli *cli, FILE *out, const char *format, const char *def, json_t *rows, json_t *headers)
{
	if (!format || !*format || !strcmp(format, "table"))
		format = def;
	size_t i;
	json_t *row;
	if (!strcmp(format, "json")) {
		json_array_foreach(rows, i, row)
		{
			_cleanup_free_ char *s = cli_row_json(row);
			fprintf(out, "%s\n", s);
		}
		return 0;
	}
	bool table = false;
	struct cli_tmpl *t = cli_tmpl_parse(format, &table, &cli->err);
	if (!t)
		return cli_fail(cli, 1);
	struct cli_table *tab = cli_table_new();
	char *line;
	if (table && headers) {
		if (cli_tmpl_exec(t, headers, &line, &cli->err) == 0) {
			cli_table_add(tab, line);
			free(line);
		}
	}
	json_array_foreach(rows, i, row)
	{
		if (cli_tmpl_exec_row(t, row, &line, &cli->err) < 0) {
			cli_table_flush(tab, out);
			cli_tmpl_free(t);
			return cli_fail(cli, 1);
		}
		/* only "table ..." templates go through the tabwriter; docker
		 * writes any other template's rows as rendered */
		if (table)
			cli_table_add(tab, line);
		else
			fprintf(out, "%s\n", line);
		free(line);
	}
	cli_table_flush(tab, out);
	cli_tmpl_free(t);
	return 0;
}

int cli_print_rows(struct cli *cli, const char *format, const char *def, json_t *rows, json_t *headers)
{
	return cli_print_rows_to(cli, stdout, format, def, rows, headers);
}

int cli_print_formatted(struct cli *cli, const char *format, json_t *obj)
{
	if (!format || !*format || !strcmp(format, "json")) {
		_cleanup_free_ char *s = json_dumps(obj, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
		puts(s ? s : "null");
		return 0;
	}
	struct cli_tmpl *t = cli_tmpl_parse(format, NULL, &cli->err);
	if (!t)
		return cli_fail(cli, 1);
	char *out = NULL;
	int r = cli_tmpl_exec(t, obj, &out, &cli->err);
	cli_tmpl_free(t);
	if (r < 0)
		return cli_fail(cli, 1);
	puts(out);
	free(out);
	return 0;
}

json_t *cli_header_map(const char *const *pairs)
{
	json_t *h = json_object();
	for (; *pairs; pairs += 2)
		json_object_set_new(h, pairs[0], json_string(pairs[1]));
	return h;
}

void cli_filters_path(char *path, size_t len, const char *base, const char **list, size_t n)
{
	_cleanup_free_ char *filters = cli_filters_query(list, n);
	if (filters)
		snprintf(path, len, "%s?filters=%s", base, filters);
	else
		snprintf(path, len, "%s", base);
}

json_t *cli_kv_map(const char **v, size_t n)
{
	json_t *m = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(v[i], '=');
		_cleanup_free_ char *k = eq ? strndup(v[i], eq - v[i]) : strdup(v[i]);
		json_object_set_new(m, k, json_string(eq ? eq + 1 : ""));
	}
	return m;
}

int cli_natural_cmp(const char *a, const char *b)
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
			if (sa - a != sb - b)
				return sa - a < sb - b ? -1 : 1;
			a = ea, b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++, b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int cmp_by_name(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	return cli_natural_cmp(skiff_json_str(a, "Name", ""), skiff_json_str(b, "Name", ""));
}

json_t **cli_sorted_by_name(json_t *arr, size_t *n)
{
	json_t **v;
	*n = json_array_size(arr);
	v = calloc(*n + 1, sizeof(*v));
	if (!v) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, *n, sizeof(*v), cmp_by_name);
	return v;
}

char *cli_join_labels(json_t *labels)
{
	size_t nl = json_object_size(labels), i = 0, cap = 1, len = 0;
	_cleanup_free_ const char **keys = calloc(nl + 1, sizeof(*keys));
	const char *k;
	json_t *val;
	json_object_foreach(labels, k, val) keys[i++] = k;
	qsort(keys, nl, sizeof(*keys), cmp_str);
	for (i = 0; i < nl; i++)
		cap += strlen(keys[i]) + strlen(skiff_json_str(labels, keys[i], "")) + 2;
	char *s = calloc(1, cap);
	for (i = 0; i < nl; i++)
		len += sprintf(s + len, "%s%s=%s", i ? "," : "", keys[i], skiff_json_str(labels, keys[i], ""));
	return s;
}

bool cli_confirm(const char *warning)
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

int cli_fail_all(struct cli *cli, json_t *errs)
{
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e) cli_failf(cli, 1, "%s", json_string_value(e));
	return json_array_size(errs) ? 1 : 0;
}

int cli_inspect_each(struct cli *cli, struct cli_opts *o, const char *base, const char *query, size_t dump_flags)
{
	const char *fmt = opt_str(o, "format", NULL);
	_cleanup_json_ json_t *all = json_array(), *errs = json_array();
	char path[2048];
	for (int i = 0; i < o->argc; i++) {
		_cleanup_free_ char *en = cli_urlencode(o->argv[i]);
		snprintf(path, sizeof(path), "%s/%s%s", base, en, query);
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
		_cleanup_free_ char *s = json_dumps(all, JSON_INDENT(4) | dump_flags);
		puts(s ? s : "[]");
	}
	return cli_fail_all(cli, errs);
}

void cli_print_deleted(const char *title, json_t *list)
{
	size_t i;
	json_t *v;
	if (!json_array_size(list))
		return;
	printf("%s:\n", title);
	json_array_foreach(list, i, v) printf("%s\n", json_string_value(v) ? json_string_value(v) : "");
	printf("\n");
}
