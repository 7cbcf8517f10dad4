/* A getopt_long-like parser driven by each command's flag table: docker's
 * spellings (--flag=value, --flag value, -dit, -eFOO=1), repeatable flags,
 * and stopping at the first positional for run/create/exec. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static size_t nflags_of(const struct cli_flag *flags)
{
	size_t n = 0;
	while (flags && flags[n].name)
		n++;
	return n;
}

static int find_long(const struct cli_flag *flags, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(flags[i].name) == len && !strncmp(flags[i].name, name, len))
			return (int)i;
		if (flags[i].alias && strlen(flags[i].alias) == len && !strncmp(flags[i].alias, name, len))
			return (int)i;
	}
	return -1;
}

static int find_short(const struct cli_flag *flags, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (flags[i].shrt == c)
			return (int)i;
	return -1;
}

static int set_value(struct cli_opts *o, int i, const char *val, struct skiff_error *err)
{
	struct cli_flag_value *v = &o->v[i];
	const struct cli_flag *f = &o->flags[i];

	v->set = true;
	switch (f->type) {
	case FLAG_BOOL:
		if (!val || !strcmp(val, "true") || !strcmp(val, "1"))
			v->str = "true";
		else if (!strcmp(val, "false") || !strcmp(val, "0"))
			v->str = "false";
		else
			return skiff_error_set(err, 400, EINVAL,
					       "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax",
					       val, f->name, val);
		break;
	case FLAG_STRING:
		v->str = val;
		break;
	case FLAG_LIST: {
		const char **nl = realloc(v->list, (v->n + 2) * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		nl[v->n++] = val;
		nl[v->n] = NULL;
		v->list = nl;
		v->str = val;
		break;
	}
	}
	return 0;
}

int cli_flags_parse(const struct cli_flag *flags, int argc, char **argv, bool stop_at_positional,
		    struct cli_opts *o, struct skiff_error *err)
{
	memset(o, 0, sizeof(*o));
	o->flags = flags;
	o->nflags = nflags_of(flags);
	o->v = calloc(o->nflags + 1, sizeof(*o->v));
	o->argv = calloc(argc + 1, sizeof(char *));
	if (!o->v || !o->argv)
		return -ENOMEM;

	bool only_pos = false;
	for (int a = 1; a < argc; a++) {
		char *arg = argv[a];
		if (only_pos || arg[0] != '-' || !arg[1]) {
			o->argv[o->argc++] = arg;
			if (stop_at_positional)
				only_pos = true;
			continue;
		}
		if (!strcmp(arg, "--")) {
			only_pos = true;
			continue;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			int i = find_long(flags, o->nflags, name, len);
			if (i < 0) {
				if (len == 4 && !strncmp(name, "help", 4))
					return 1;
				return skiff_error_set(err, 400, EINVAL, "unknown flag: --%.*s", (int)len, name);
			}
			const char *val = eq ? eq + 1 : NULL;
			if (!val && flags[i].type != FLAG_BOOL) {
				if (a + 1 >= argc)
					return skiff_error_set(err, 400, EINVAL, "flag needs an argument: --%s",
							       flags[i].name);
				val = argv[++a];
			}
			int r = set_value(o, i, val, err);
			if (r < 0)
				return r;
			continue;
		}
		/* short cluster: -dit, -eA=1, -e A */
		for (char *c = arg + 1; *c; c++) {
			int i = find_short(flags, o->nflags, *c);
			if (i < 0) {
				if (*c == 'h') /* cobra's -h when no flag claims it */
					return 1;
				return skiff_error_set(err, 400, EINVAL, "unknown shorthand flag: '%c' in %s", *c,
						       arg);
			}
			if (flags[i].type == FLAG_BOOL) {
				const char *val = NULL;
				if (c[1] == '=') {
					val = c + 2;
					c += strlen(c) - 1;
				}
				int r = set_value(o, i, val, err);
				if (r < 0)
					return r;
				continue;
			}
			const char *val;
			if (c[1])
				val = c[1] == '=' ? c + 2 : c + 1;
			else if (a + 1 < argc)
				val = argv[++a];
			else
				return skiff_error_set(err, 400, EINVAL, "flag needs an argument: '%c' in -%c", *c, *c);
			int r = set_value(o, i, val, err);
			if (r < 0)
				return r;
			break;
		}
	}
	return 0;
}

void cli_opts_free(struct cli_opts *o)
{
	if (o->v)
		for (size_t i = 0; i < o->nflags; i++)
			free(o->v[i].list);
	free(o->v);
	free(o->argv);
	o->v = NULL;
	o->argv = NULL;
}

static const struct cli_flag_value *lookup(const struct cli_opts *o, const char *name)
{
	int i = find_long(o->flags, o->nflags, name, strlen(name));
	if (i < 0)
		return NULL;
	return &o->v[i];
}

bool opt_set(const struct cli_opts *o, const char *name)
{
	const struct cli_flag_value *v = lookup(o, name);
	return v && v->set;
}

bool opt_bool(const struct cli_opts *o, const char *name)
{
	const struct cli_flag_value *v = lookup(o, name);
	if (!v || !v->set) {
		int i = find_long(o->flags, o->nflags, name, strlen(name));
		return i >= 0 && o->flags[i].def && !strcmp(o->flags[i].def, "true");
	}
	return !strcmp(v->str, "true");
}

const char *opt_str(const struct cli_opts *o, const char *name, const char *def)
{
	const struct cli_flag_value *v = lookup(o, name);
	return v && v->set ? v->str : def;
}

const char **opt_list(const struct cli_opts *o, const char *name, size_t *n)
{
	const struct cli_flag_value *v = lookup(o, name);
	if (n)
		*n = v ? v->n : 0;
	return v ? v->list : NULL;
}

void cli_flags_help(FILE *f, const struct cli_flag *flags)
{
	size_t n = nflags_of(flags);
	char left[128];
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (flags[i].hidden)
			continue;
		const char *arg = flags[i].type == FLAG_LIST ? " list" : flags[i].type == FLAG_STRING ? " string" : "";
		int l = snprintf(left, sizeof(left), "%s%c%s--%s%s", flags[i].shrt ? "-" : "   ",
				 flags[i].shrt ? flags[i].shrt : ' ', flags[i].shrt ? ", " : "", flags[i].name, arg);
		if ((size_t)l > w)
			w = l;
	}
	fprintf(f, "Options:\n");
	for (size_t i = 0; i < n; i++) {
		if (flags[i].hidden)
			continue;
		const char *arg = flags[i].type == FLAG_LIST ? " list" : flags[i].type == FLAG_STRING ? " string" : "";
		snprintf(left, sizeof(left), "%s%c%s--%s%s", flags[i].shrt ? "-" : "   ",
			 flags[i].shrt ? flags[i].shrt : ' ', flags[i].shrt ? ", " : "", flags[i].name, arg);
		fprintf(f, "  %-*s   %s", (int)w, left, flags[i].help ? flags[i].help : "");
		if (flags[i].def && flags[i].type != FLAG_BOOL)
			fprintf(f, " (default %s)", flags[i].def);
		fputc('\n', f);
	}
	fprintf(f, "  %-*s   %s\n", (int)w, "    --help", "Print usage");
}
