/* Helpers the command files share: filter and timestamp query values the
 * way the docker CLI builds them, and printing rows through --format. */
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
