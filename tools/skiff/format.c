/* Output formatting like docker's: a Go-template subset for --format
 * ({{.A.B}}, {{json .X}}, {{index .M "k"}}, {{range}}/{{if}}, a `table`
 * prefix), Go's text/tabwriter with docker's settings, and go-units' human
 * sizes and durations. Templates evaluate against jansson values. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum node_kind { N_TEXT, N_ACTION, N_RANGE, N_IF };

struct node {
	enum node_kind kind;
	char *text;         /* N_TEXT: literal; others: the pipeline source */
	struct node *body;  /* N_RANGE/N_IF */
	struct node *elseb; /* N_RANGE/N_IF */
	struct node *next;
};

struct cli_tmpl {
	struct node *root;
};

static void nodes_free(struct node *n)
{
	while (n) {
		struct node *next = n->next;
		free(n->text);
		nodes_free(n->body);
		nodes_free(n->elseb);
		free(n);
		n = next;
	}
}

void cli_tmpl_free(struct cli_tmpl *t)
{
	if (!t)
		return;
	nodes_free(t->root);
	free(t);
}

/* ---- parsing ---------------------------------------------------------- */

struct parser {
	const char *p;
	struct skiff_error *err;
	bool trim_next; /* the previous action ended with "-}}" */
};

/* Parses nodes until {{end}}/{{else}} (returned in *stop) or the end. */
static struct node *parse_list(struct parser *ps, char *stop, int *r)
{
	struct node *head = NULL, **tail = &head;
	*stop = 0;
	while (*ps->p && !*r) {
		const char *open = strstr(ps->p, "{{");
		size_t tl = open ? (size_t)(open - ps->p) : strlen(ps->p);
		const char *ts = ps->p;
		if (ps->trim_next)
			while (tl && isspace((unsigned char)*ts))
				ts++, tl--;
		ps->trim_next = false;
		bool trim_prev = open && open[2] == '-' && isspace((unsigned char)open[3]);
		if (trim_prev)
			while (tl && isspace((unsigned char)ts[tl - 1]))
				tl--;
		if (tl) {
			struct node *n = calloc(1, sizeof(*n));
			n->kind = N_TEXT;
			n->text = strndup(ts, tl);
			*tail = n;
			tail = &n->next;
		}
		if (!open) {
			ps->p += strlen(ps->p);
			break;
		}
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			*r = skiff_error_set(ps->err, 400, EINVAL, "template: unclosed action");
			break;
		}
		const char *a = open + 2, *e = close;
		if (trim_prev)
			a++;
		if (e > a && e[-1] == '-' && isspace((unsigned char)e[-2])) {
			e--;
			ps->trim_next = true;
		}
		while (a < e && isspace((unsigned char)*a))
			a++;
		while (e > a && isspace((unsigned char)e[-1]))
			e--;
		ps->p = close + 2;
		char *act = strndup(a, e - a);
		if (!strcmp(act, "end") || !strcmp(act, "else")) {
			*stop = act[1] == 'n' ? 'e' : 'E';
			free(act);
			return head;
		}
		struct node *n = calloc(1, sizeof(*n));
		*tail = n;
		tail = &n->next;
		if (!strncmp(act, "range ", 6) || !strncmp(act, "if ", 3)) {
			n->kind = act[0] == 'r' ? N_RANGE : N_IF;
			n->text = strdup(act + (act[0] == 'r' ? 6 : 3));
			free(act);
			char st;
			n->body = parse_list(ps, &st, r);
			if (!*r && st == 0)
				*r = skiff_error_set(ps->err, 400, EINVAL, "template: unexpected EOF");
			if (!*r && st == 'E') {
				char st2;
				n->elseb = parse_list(ps, &st2, r);
				if (!*r && st2 != 'e')
					*r = skiff_error_set(ps->err, 400, EINVAL, "template: unexpected EOF");
			}
			continue;
		}
		n->kind = N_ACTION;
		n->text = act;
	}
	return head;
}

struct cli_tmpl *cli_tmpl_parse(const char *src, bool *is_table, struct skiff_error *err)
{
	/* docker turns the two-character escapes \t and \n into real ones */
	_cleanup_free_ char *s = malloc(strlen(src) + 1);
	if (!s)
		return NULL;
	char *o = s;
	for (const char *p = src; *p; p++) {
		if (p[0] == '\\' && p[1] == 't') {
			*o++ = '\t';
			p++;
		} else if (p[0] == '\\' && p[1] == 'n') {
			*o++ = '\n';
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	const char *start = s;
	bool table = false;
	if (!strncmp(start, "table", 5) && (!start[5] || isspace((unsigned char)start[5]))) {
		table = true;
		start += 5;
		while (*start == ' ')
			start++;
	}
	if (is_table)
		*is_table = table;

	struct cli_tmpl *t = calloc(1, sizeof(*t));
	struct parser ps = { .p = start, .err = err };
	int r = 0;
	char stop;
	t->root = parse_list(&ps, &stop, &r);
	if (!r && stop)
		r = skiff_error_set(err, 400, EINVAL, "template: unexpected {{%s}}", stop == 'e' ? "end" : "else");
	if (r) {
		cli_tmpl_free(t);
		return NULL;
	}
	return t;
}

/* ---- evaluation ------------------------------------------------------- */

struct buf {
	char *s;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = (b->cap ? b->cap : 256);
		while (nc < b->len + n + 1)
			nc *= 2;
		b->s = realloc(b->s, nc);
		b->cap = nc;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Print like Go's fmt %v of the decoded value. */
static void print_value(struct buf *b, const json_t *v)
{
	char tmp[64];
	if (!v) {
		buf_str(b, "<no value>");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		buf_add(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
		buf_str(b, tmp);
		break;
	case JSON_REAL: {
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 1e21)
			snprintf(tmp, sizeof(tmp), "%.0f", d);
		else
			snprintf(tmp, sizeof(tmp), "%g", d);
		buf_str(b, tmp);
		break;
	}
	case JSON_TRUE:
		buf_str(b, "true");
		break;
	case JSON_FALSE:
		buf_str(b, "false");
		break;
	case JSON_NULL:
		buf_str(b, "<nil>");
		break;
	case JSON_ARRAY: {
		buf_str(b, "[");
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (i)
				buf_str(b, " ");
			print_value(b, e);
		}
		buf_str(b, "]");
		break;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = calloc(n + 1, sizeof(*keys));
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)v, k, e) keys[i++] = k;
		qsort(keys, n, sizeof(*keys), cmp_keys);
		buf_str(b, "map[");
		for (i = 0; i < n; i++) {
			if (i)
				buf_str(b, " ");
			buf_str(b, keys[i]);
			buf_str(b, ":");
			print_value(b, json_object_get(v, keys[i]));
		}
		buf_str(b, "]");
		free(keys);
		break;
	}
	}
}

/* A missing field prints "<no value>" like Go's map lookup, and is false. */
static json_t *no_value_ptr(void)
{
	static json_t *nv;
	if (!nv)
		nv = json_string("<no value>");
	return nv;
}

static json_t *no_value(void)
{
	return json_incref(no_value_ptr());
}

static bool truthy(const json_t *v)
{
	if (!v)
		return false;
	if (v == no_value_ptr())
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return true;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	default:
		return false;
	}
}

static char *value_string(const json_t *v)
{
	struct buf b = { 0 };
	print_value(&b, v);
	if (!b.s)
		return strdup("");
	return b.s;
}

typedef json_t *(*tmpl_fn)(json_t **args, size_t n, struct skiff_error *err);

/* The row cli_tmpl_exec_row is rendering: {{json .}} of it is docker's
 * json.Marshal of a formatter context, not of a plain value. */
static const json_t *current_row;

char *cli_row_json(const json_t *row)
{
	/* Go marshals the context's map: sorted keys, HTML escaped; members
	 * holding objects are ours (LabelsMap for .Label), not docker's. */
	_cleanup_json_ json_t *copy = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)row, k, v)
		if (!json_is_object(v))
			json_object_set(copy, k, v);
	_cleanup_free_ char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		return strdup("{}");
	struct buf b = { 0 };
	buf_str(&b, "");
	for (const char *p = s; *p; p++) {
		static const char *const esc[] = { ['<'] = "\\u003c", ['>'] = "\\u003e", ['&'] = "\\u0026" };
		unsigned char c = *p;
		if (c < ARRAY_SIZE(esc) && esc[c])
			buf_str(&b, esc[c]);
		else
			buf_add(&b, p, 1);
	}
	return b.s;
}

static json_t *fn_json(json_t **a, size_t n, struct skiff_error *err)
{
	if (n != 1)
		return skiff_error_set(err, 400, EINVAL, "template: json takes one argument"), NULL;
	if (a[0] && a[0] == current_row) {
		char *rs = cli_row_json(a[0]);
		json_t *r = json_string(rs);
		free(rs);
		return r;
	}
	/* a missing field is Go's nil: json prints null */
	char *s = a[0] && a[0] != no_value_ptr() ? json_dumps(a[0], JSON_ENCODE_ANY | JSON_COMPACT) : strdup("null");
	json_t *r = json_string(s ? s : "");
	free(s);
	return r;
}

static json_t *fn_index(json_t **a, size_t n, struct skiff_error *err)
{
	if (n < 2)
		return skiff_error_set(err, 400, EINVAL, "template: index needs two arguments"), NULL;
	json_t *v = a[0];
	for (size_t i = 1; i < n && v; i++) {
		if (json_is_object(v) && json_is_string(a[i]))
			v = json_object_get(v, json_string_value(a[i]));
		else if (json_is_array(v) && json_is_integer(a[i]))
			v = json_array_get(v, json_integer_value(a[i]));
		else
			v = NULL;
	}
	return v ? json_incref(v) : no_value();
}

static json_t *case_map(json_t **a, size_t n, struct skiff_error *err, int (*f)(int))
{
	if (n != 1)
		return skiff_error_set(err, 400, EINVAL, "template: wrong number of arguments"), NULL;
	char *s = value_string(a[0]);
	for (char *p = s; *p; p++)
		*p = f((unsigned char)*p);
	json_t *r = json_string(s);
	free(s);
	return r;
}

static json_t *fn_upper(json_t **a, size_t n, struct skiff_error *err)
{
	return case_map(a, n, err, toupper);
}

static json_t *fn_lower(json_t **a, size_t n, struct skiff_error *err)
{
	return case_map(a, n, err, tolower);
}

static json_t *fn_join(json_t **a, size_t n, struct skiff_error *err)
{
	if (n != 2 || !json_is_string(a[1]))
		return skiff_error_set(err, 400, EINVAL, "template: join takes a list and a separator"), NULL;
	struct buf b = { 0 };
	buf_str(&b, "");
	size_t i;
	json_t *e;
	if (json_is_array(a[0])) {
		json_array_foreach(a[0], i, e)
		{
			if (i)
				buf_str(&b, json_string_value(a[1]));
			print_value(&b, e);
		}
	}
	json_t *r = json_string(b.s);
	free(b.s);
	return r;
}

static json_t *fn_len(json_t **a, size_t n, struct skiff_error *err)
{
	if (n != 1)
		return skiff_error_set(err, 400, EINVAL, "template: len takes one argument"), NULL;
	size_t l = json_is_array(a[0]) ? json_array_size(a[0]) : json_is_object(a[0]) ? json_object_size(a[0])
					: json_is_string(a[0]) ? json_string_length(a[0]) : 0;
	return json_integer(l);
}

static json_t *fn_truncate(json_t **a, size_t n, struct skiff_error *err)
{
	if (n != 2 || !json_is_integer(a[1]))
		return skiff_error_set(err, 400, EINVAL, "template: truncate takes a string and a length"), NULL;
	char *s = value_string(a[0]);
	size_t l = json_integer_value(a[1]);
	if (strlen(s) > l)
		s[l] = 0;
	json_t *r = json_string(s);
	free(s);
	return r;
}

static json_t *fn_split(json_t **a, size_t n, struct skiff_error *err)
{
	if (n != 2 || !json_is_string(a[1]))
		return skiff_error_set(err, 400, EINVAL, "template: split takes a string and a separator"), NULL;
	char *s = value_string(a[0]);
	const char *sep = json_string_value(a[1]);
	json_t *arr = json_array();
	char *p = s;
	for (;;) {
		char *q = *sep ? strstr(p, sep) : NULL;
		if (!q) {
			json_array_append_new(arr, json_string(p));
			break;
		}
		json_array_append_new(arr, json_stringn(p, q - p));
		p = q + strlen(sep);
	}
	free(s);
	return arr;
}

static json_t *fn_println(json_t **a, size_t n, struct skiff_error *err)
{
	(void)err;
	struct buf b = { 0 };
	buf_str(&b, "");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_str(&b, " ");
		print_value(&b, a[i]);
	}
	buf_str(&b, "\n");
	json_t *r = json_string(b.s);
	free(b.s);
	return r;
}

static const struct {
	const char *name;
	tmpl_fn fn;
} tmpl_fns[] = {
	{ "json", fn_json },   { "index", fn_index }, { "upper", fn_upper },       { "lower", fn_lower },
	{ "join", fn_join },   { "len", fn_len },     { "truncate", fn_truncate }, { "split", fn_split },
	{ "println", fn_println }, { "title", fn_upper },
};

/* Split a pipeline stage into tokens: .A.B  "str"  123  ident */
static int tokenize(const char *s, char ***out, size_t *n)
{
	char **v = NULL;
	size_t c = 0;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		const char *st = s;
		if (*s == '"') {
			s++;
			while (*s && *s != '"') {
				if (*s == '\\' && s[1])
					s++;
				s++;
			}
			if (*s)
				s++;
		} else {
			while (*s && !isspace((unsigned char)*s))
				s++;
		}
		v = realloc(v, (c + 2) * sizeof(*v));
		v[c++] = strndup(st, s - st);
		v[c] = NULL;
	}
	*out = v;
	*n = c;
	return 0;
}

static json_t *eval_arg(const char *tok, const json_t *dot, struct skiff_error *err);

/* Go field names and the API's JSON names differ only in case at times
 * (.Client.APIVersion is "ApiVersion"): an exact match first, then any case. */
static json_t *field(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	const char *k;
	json_t *e;
	if (v)
		return v;
	json_object_foreach((json_t *)obj, k, e)
		if (!strcasecmp(k, key))
			return e;
	return NULL;
}

/* Methods of docker's formatter contexts that take an argument, as
 * {{index .MEMBER ARG}} on the row: .Label "k" on ps rows. */
static const struct {
	const char *method, *member;
} tmpl_methods[] = {
	{ ".Label", "LabelsMap" },
};

static json_t *eval_method(char **tok, const json_t *dot, struct skiff_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(tmpl_methods); i++) {
		json_t *m = json_is_object(dot) ? json_object_get(dot, tmpl_methods[i].member) : NULL;
		if (strcmp(tok[0], tmpl_methods[i].method) || !m)
			continue;
		json_t *k = eval_arg(tok[1], dot, err);
		if (!k)
			return NULL;
		json_t *v = json_is_string(k) ? json_object_get(m, json_string_value(k)) : NULL;
		json_decref(k);
		return v ? json_incref(v) : json_string("");
	}
	skiff_error_set(err, 400, EINVAL, "template: can't give argument to non-function %s", tok[0]);
	return NULL;
}

static json_t *eval_arg(const char *tok, const json_t *dot, struct skiff_error *err)
{
	if (tok[0] == '"') {
		size_t l = strlen(tok);
		char *s = strndup(tok + 1, l >= 2 ? l - 2 : 0), *o = s;
		for (char *p = s; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				*o++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			} else {
				*o++ = *p;
			}
		}
		*o = 0;
		json_t *r = json_string(s);
		free(s);
		return r;
	}
	if (isdigit((unsigned char)tok[0]) || (tok[0] == '-' && isdigit((unsigned char)tok[1])))
		return json_integer(strtoll(tok, NULL, 10));
	if (!strcmp(tok, "true") || !strcmp(tok, "false"))
		return json_boolean(tok[0] == 't');
	if (tok[0] != '.') {
		skiff_error_set(err, 400, EINVAL, "template: function \"%s\" not defined", tok);
		return NULL;
	}
	const json_t *v = dot;
	const char *p = tok + 1;
	while (*p && v) {
		const char *e = strchr(p, '.');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)l, p);
		v = json_is_object(v) ? field(v, key) : NULL;
		p += l + (e ? 1 : 0);
	}
	if (!v)
		return no_value();
	return json_incref((json_t *)v);
}

static json_t *eval_pipeline(const char *src, const json_t *dot, struct skiff_error *err)
{
	_cleanup_free_ char *copy = strdup(src);
	json_t *prev = NULL;
	char *save = NULL;
	for (char *stage = strtok_r(copy, "|", &save); stage; stage = strtok_r(NULL, "|", &save)) {
		char **tok;
		size_t nt;
		tokenize(stage, &tok, &nt);
		json_t *res = NULL;
		if (nt == 0) {
			skiff_error_set(err, 400, EINVAL, "template: missing value for command");
		} else if (tok[0][0] == '.' || tok[0][0] == '"' || isdigit((unsigned char)tok[0][0])) {
			if (nt == 2 && !prev && tok[0][0] == '.')
				res = eval_method(tok, dot, err);
			else if (nt > 1 || prev)
				skiff_error_set(err, 400, EINVAL, "template: can't give argument to non-function %s",
						tok[0]);
			else
				res = eval_arg(tok[0], dot, err);
		} else {
			tmpl_fn fn = NULL;
			for (size_t i = 0; i < ARRAY_SIZE(tmpl_fns); i++)
				if (!strcmp(tmpl_fns[i].name, tok[0]))
					fn = tmpl_fns[i].fn;
			if (!fn) {
				skiff_error_set(err, 400, EINVAL, "template: function \"%s\" not defined", tok[0]);
			} else {
				json_t *args[16];
				size_t na = 0;
				bool ok = true;
				for (size_t i = 1; i < nt && na < 15; i++) {
					args[na] = eval_arg(tok[i], dot, err);
					if (!args[na]) {
						ok = false;
						break;
					}
					na++;
				}
				if (prev && na < 16)
					args[na++] = json_incref(prev);
				if (ok)
					res = fn(args, na, err);
				for (size_t i = 0; i < na; i++)
					json_decref(args[i]);
			}
		}
		for (size_t i = 0; i < nt; i++)
			free(tok[i]);
		free(tok);
		json_decref(prev);
		prev = res;
		if (!res)
			return NULL;
	}
	return prev;
}

static int exec_nodes(const struct node *n, const json_t *dot, struct buf *b, struct skiff_error *err)
{
	for (; n; n = n->next) {
		if (n->kind == N_TEXT) {
			buf_str(b, n->text);
			continue;
		}
		json_t *v = eval_pipeline(n->text, dot, err);
		if (!v)
			return -EINVAL;
		int r = 0;
		if (n->kind == N_ACTION) {
			print_value(b, v);
		} else if (n->kind == N_IF) {
			r = exec_nodes(truthy(v) ? n->body : n->elseb, dot, b, err);
		} else if (!truthy(v)) {
			r = exec_nodes(n->elseb, dot, b, err);
		} else if (json_is_array(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
			{
				if ((r = exec_nodes(n->body, e, b, err)) < 0)
					break;
			}
		} else if (json_is_object(v)) {
			size_t cnt = json_object_size(v), i = 0;
			const char **keys = calloc(cnt + 1, sizeof(*keys));
			const char *k;
			json_t *e;
			json_object_foreach(v, k, e) keys[i++] = k;
			qsort(keys, cnt, sizeof(*keys), cmp_keys);
			for (i = 0; i < cnt && r == 0; i++)
				r = exec_nodes(n->body, json_object_get(v, keys[i]), b, err);
			free(keys);
		}
		json_decref(v);
		if (r < 0)
			return r;
	}
	return 0;
}

int cli_tmpl_exec_row(const struct cli_tmpl *t, const json_t *row, char **out, struct skiff_error *err)
{
	current_row = row;
	int r = cli_tmpl_exec(t, row, out, err);
	current_row = NULL;
	return r;
}

int cli_tmpl_exec(const struct cli_tmpl *t, const json_t *obj, char **out, struct skiff_error *err)
{
	struct buf b = { 0 };
	buf_str(&b, "");
	int r = exec_nodes(t->root, obj, &b, err);
	if (r < 0) {
		free(b.s);
		return r;
	}
	*out = b.s;
	return 0;
}

/* ---- tabwriter -------------------------------------------------------- */

struct cli_table {
	char **lines;
	size_t n;
	size_t minwidth;
};

struct cli_table *cli_table_new_min(size_t minwidth)
{
	struct cli_table *t = calloc(1, sizeof(struct cli_table));
	if (t)
		t->minwidth = minwidth;
	return t;
}

struct cli_table *cli_table_new(void)
{
	return cli_table_new_min(10);
}

void cli_table_add(struct cli_table *t, const char *line)
{
	/* a rendered row may hold several lines */
	const char *p = line;
	do {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (nl && !nl[1] && l == 0)
			break;
		t->lines = realloc(t->lines, (t->n + 1) * sizeof(char *));
		t->lines[t->n++] = strndup(p, l);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
}

size_t cli_utf8_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static size_t cell_width(const char *s, size_t bytes)
{
	size_t w = 0;
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	return w;
}

void cli_table_flush(struct cli_table *t, FILE *f)
{
	enum { PADDING = 3 };
	size_t MINWIDTH = t->minwidth;
	size_t *widths = NULL, ncols = 0;

	/* only tab-terminated cells form columns, as in Go's tabwriter */
	for (size_t i = 0; i < t->n; i++) {
		size_t col = 0;
		const char *p = t->lines[i], *tab;
		while ((tab = strchr(p, '\t'))) {
			if (col >= ncols) {
				widths = realloc(widths, (col + 1) * sizeof(*widths));
				widths[col] = 0;
				ncols = col + 1;
			}
			size_t w = cell_width(p, tab - p) + PADDING;
			if (w < MINWIDTH)
				w = MINWIDTH;
			if (w > widths[col])
				widths[col] = w;
			col++;
			p = tab + 1;
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t col = 0;
		const char *p = t->lines[i], *tab;
		while ((tab = strchr(p, '\t'))) {
			size_t w = cell_width(p, tab - p);
			fwrite(p, 1, tab - p, f);
			for (; w < widths[col]; w++)
				fputc(' ', f);
			col++;
			p = tab + 1;
		}
		fputs(p, f);
		fputc('\n', f);
		free(t->lines[i]);
	}
	free(t->lines);
	free(widths);
	free(t);
}

/* ---- units ------------------------------------------------------------ */

void cli_human_size(double size, int precision, char *out, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
	size_t i = 0;
	while (size >= 1000 && i + 1 < ARRAY_SIZE(units)) {
		size /= 1000;
		i++;
	}
	snprintf(out, len, "%.*g%s", precision, size, units[i]);
}

void cli_human_duration(int64_t s, char *out, size_t len)
{
	int64_t minutes = s / 60, hours = (s + 1800) / 3600;
	if (s < 1)
		snprintf(out, len, "Less than a second");
	else if (s == 1)
		snprintf(out, len, "1 second");
	else if (s < 60)
		snprintf(out, len, "%lld seconds", (long long)s);
	else if (minutes == 1)
		snprintf(out, len, "About a minute");
	else if (minutes < 60)
		snprintf(out, len, "%lld minutes", (long long)minutes);
	else if (hours == 1)
		snprintf(out, len, "About an hour");
	else if (hours < 48)
		snprintf(out, len, "%lld hours", (long long)hours);
	else if (hours < 24 * 7 * 2)
		snprintf(out, len, "%lld days", (long long)(hours / 24));
	else if (hours < 24 * 30 * 2)
		snprintf(out, len, "%lld weeks", (long long)(hours / 24 / 7));
	else if (hours < 24 * 365 * 2)
		snprintf(out, len, "%lld months", (long long)(hours / 24 / 30));
	else
		snprintf(out, len, "%lld years", (long long)(s / 3600 / 24 / 365));
}

int cli_parse_bytes(const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -EINVAL;
	static const struct {
		char c;
		int64_t mul;
	} sfx[] = { { 'b', 1 }, { 'k', 1LL << 10 }, { 'm', 1LL << 20 }, { 'g', 1LL << 30 }, { 't', 1LL << 40 }, { 'p', 1LL << 50 } };
	int64_t mul = 1;
	if (*end) {
		bool found = false;
		for (size_t i = 0; i < ARRAY_SIZE(sfx); i++)
			if (tolower((unsigned char)*end) == sfx[i].c) {
				mul = sfx[i].mul;
				found = true;
			}
		if (!found)
			return -EINVAL;
		end++;
		if (tolower((unsigned char)*end) == 'b' && mul > 1)
			end++;
		if (tolower((unsigned char)*end) == 'i' && mul > 1)
			end++;
		if (*end)
			return -EINVAL;
	}
	*out = (int64_t)(v * mul);
	return 0;
}

char *cli_ellipsis(const char *s, size_t n)
{
	if (cli_utf8_width(s) <= n)
		return strdup(s);
	if (n == 0)
		return strdup("");
	size_t runes = 0, i = 0;
	while (s[i] && runes < n - 1) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		runes++;
	}
	char *r = malloc(i + 4);
	memcpy(r, s, i);
	memcpy(r + i, "\xe2\x80\xa6", 4);
	return r;
}
