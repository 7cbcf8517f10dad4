/* skiff: the Docker-compatible CLI. Global flags pick the daemon (-H, then
 * SKIFF_HOST, then DOCKER_HOST, then the default socket); verbs come from the
 * command tables in cmd-*.c, so adding a verb is adding a row there. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* group: the management command that lists the table's verbs; top: also
 * reachable as `skiff VERB` (volume's ls/rm/inspect would shadow others). */
static const struct table {
	const struct cli_cmd *cmds;
	const size_t *n;
	const char *group;
	bool top;
} tables[] = {
	{ cli_container_cmds, &cli_container_ncmds, "container", true },
	{ cli_image_cmds, &cli_image_ncmds, "image", true },
	{ cli_system_cmds, &cli_system_ncmds, "system", true },
	{ cli_volume_cmds, &cli_volume_ncmds, "volume", false },
	{ cli_network_cmds, &cli_network_ncmds, "network", false },
};

/* `skiff container ls` → `ps`, `skiff image rm` → `rmi`, ... Sub-commands not
 * listed keep their name (container run → run). */
static const struct group {
	const char *group;
	const char *summary;
	const char *const *renames; /* pairs: sub, cmd; NULL-terminated */
	const char *fixed_type;
} groups[] = {
	{ "container", "Manage containers",
	  (const char *const[]){ "ls", "ps", "list", "ps", "remove", "rm", NULL }, "container" },
	{ "image", "Manage images",
	  (const char *const[]){ "ls", "images", "list", "images", "rm", "rmi", "remove", "rmi", NULL }, "image" },
	{ "system", "Manage skiff", (const char *const[]){ NULL }, NULL },
	{ "volume", "Manage volumes", (const char *const[]){ NULL }, NULL },
	{ "network", "Manage networks", (const char *const[]){ NULL }, NULL },
};

int cli_failf(struct cli *cli, int code, const char *fmt, ...)
{
	(void)cli;
	va_list ap;
	/* keep stdout and stderr in order when both go to one pipe */
	fflush(stdout);
	va_start(ap, fmt);
	fputs("skiff: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

int cli_fail(struct cli *cli, int code)
{
	return cli_failf(cli, code, "%s", cli->err.msg[0] ? cli->err.msg : "unknown error");
}

static bool name_matches(const struct cli_cmd *c, const char *name)
{
	if (!strcmp(c->name, name))
		return true;
	if (!c->aliases)
		return false;
	size_t l = strlen(name);
	for (const char *p = c->aliases; *p;) {
		size_t wl = strcspn(p, " ");
		if (wl == l && !strncmp(p, name, l))
			return true;
		p += wl;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* group NULL: the top-level verbs. A group looks in its own tables first;
 * a group with a private table looks nowhere else. */
static const struct cli_cmd *find_cmd(const char *name, const char *group)
{
	bool private = false;
	for (size_t t = 0; group && t < ARRAY_SIZE(tables); t++) {
		if (strcmp(tables[t].group, group))
			continue;
		private |= !tables[t].top;
		for (size_t i = 0; i < *tables[t].n; i++)
			if (name_matches(&tables[t].cmds[i], name))
				return &tables[t].cmds[i];
	}
	if (private)
		return NULL;
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (size_t i = 0; tables[t].top && i < *tables[t].n; i++)
			if (name_matches(&tables[t].cmds[i], name))
				return &tables[t].cmds[i];
	return NULL;
}

static bool group_is_private(const char *group)
{
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		if (!strcmp(tables[t].group, group) && !tables[t].top)
			return true;
	return false;
}

static void main_help(FILE *f)
{
	fprintf(f, "\nUsage:  skiff [OPTIONS] COMMAND\n\nA Docker-compatible container engine\n\n");
	fprintf(f, "Commands:\n");
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (size_t i = 0; tables[t].top && i < *tables[t].n; i++)
			fprintf(f, "  %-10s  %s\n", tables[t].cmds[i].name, tables[t].cmds[i].summary);
	fprintf(f, "\nManagement Commands:\n");
	for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
		fprintf(f, "  %-10s  %s\n", groups[g].group, groups[g].summary);
	fprintf(f, "\nGlobal Options:\n"
		   "  -D, --debug          Enable debug mode\n"
		   "  -H, --host string    Daemon socket to connect to (default: $SKIFF_HOST, $DOCKER_HOST,\n"
		   "                       " SKIFF_DEFAULT_HOST ")\n"
		   "  -v, --version        Print version information and quit\n"
		   "  -h, --help           Print usage\n"
		   "\nRun 'skiff COMMAND --help' for more information on a command.\n");
}

static void group_help(FILE *f, const struct group *g)
{
	fprintf(f, "\nUsage:  skiff %s COMMAND\n\n%s\n\nCommands:\n", g->group, g->summary);
	for (const char *const *r = g->renames; *r; r += 2) {
		const struct cli_cmd *c = find_cmd(r[1], g->group);
		if (c)
			fprintf(f, "  %-10s  %s\n", r[0], c->summary);
	}
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		if (strcmp(g->group, tables[t].group))
			continue;
		for (size_t i = 0; i < *tables[t].n; i++)
			fprintf(f, "  %-10s  %s\n", tables[t].cmds[i].name, tables[t].cmds[i].summary);
	}
	fprintf(f, "\nRun 'skiff %s COMMAND --help' for more information on a command.\n", g->group);
}

static void cmd_help(FILE *f, const struct cli_cmd *c, const char *shown)
{
	fprintf(f, "\nUsage:  skiff %s %s\n\n%s\n", shown, c->usage ? c->usage : "", c->summary);
	if (c->aliases)
		fprintf(f, "\nAliases:\n  skiff %s, skiff %.*s%s\n", shown, (int)(strlen(shown) - strlen(c->name)), shown,
			c->aliases);
	fputc('\n', f);
	cli_flags_help(f, c->flags);
}

static const char *resolve_host(const char *flag)
{
	const char *h = flag;
	if (!h || !*h)
		h = getenv("SKIFF_HOST");
	if (!h || !*h)
		h = getenv("DOCKER_HOST");
	if (!h || !*h)
		h = SKIFF_DEFAULT_HOST;
	if (h[0] == '/') {
		char *u;
		if (asprintf(&u, "unix://%s", h) > 0)
			return u;
	}
	return h;
}

/* shown: "rm" or, for a private group's verb, "volume rm" */
static int run_cmd(struct cli *cli, const struct cli_cmd *c, const char *shown, int argc, char **argv)
{
	struct cli_opts o;
	static const struct cli_flag none[] = { { 0 } };
	int r = cli_flags_parse(c->flags ? c->flags : none, argc, argv, c->stop_at_positional, &o, &cli->err);
	if (r == 1) {
		cmd_help(stdout, c, shown);
		cli_opts_free(&o);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "%s\n\nUsage:  skiff %s %s\n\nRun 'skiff %s --help' for more information\n", cli->err.msg,
			shown, c->usage ? c->usage : "", shown);
		cli_opts_free(&o);
		return 125;
	}
	if (o.argc < c->min_args || (c->max_args >= 0 && o.argc > c->max_args)) {
		/* cobra's wording: exact, at least, no arguments */
		bool exact = c->max_args == c->min_args;
		if (c->max_args == 0)
			fprintf(stderr, "skiff: 'skiff %s' accepts no arguments\n", shown);
		else if (exact)
			fprintf(stderr, "skiff: 'skiff %s' requires %d argument%s\n", shown, c->min_args,
				c->min_args == 1 ? "" : "s");
		else if (o.argc < c->min_args)
			fprintf(stderr, "skiff: 'skiff %s' requires at least %d argument%s\n", shown, c->min_args,
				c->min_args == 1 ? "" : "s");
		else
			fprintf(stderr, "skiff: 'skiff %s' requires at most %d argument%s\n", shown, c->max_args,
				c->max_args == 1 ? "" : "s");
		fprintf(stderr, "\nUsage:  skiff %s %s\n\n%s 'skiff %s --help' for more information\n", shown,
			c->usage ? c->usage : "", exact || c->max_args == 0 ? "Run" : "See", shown);
		cli_opts_free(&o);
		return 1;
	}
	cli->cmd = c;
	r = c->run(cli, &o);
	cli_opts_free(&o);
	return r;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const char *host = NULL;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-H") || !strcmp(a, "--host")) {
			if (++i >= argc)
				return cli_failf(&cli, 125, "flag needs an argument: %s", a);
			host = argv[i];
		} else if (!strncmp(a, "--host=", 7)) {
			host = a + 7;
		} else if (!strncmp(a, "-H", 2) && a[2]) {
			host = a + 2;
		} else if (!strcmp(a, "-D") || !strcmp(a, "--debug")) {
			cli.debug = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--version")) {
			printf("Skiff version %s, API %s\n", SKIFF_CLI_VERSION, SKIFF_CLI_API);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			main_help(stdout);
			return 0;
		} else if (!strcmp(a, "-l") || !strcmp(a, "--log-level") || !strcmp(a, "--config") ||
			   !strcmp(a, "-c") || !strcmp(a, "--context")) {
			i++; /* accepted for docker compatibility, no effect */
		} else if (!strncmp(a, "--log-level=", 12) || !strncmp(a, "--config=", 9) ||
			   !strncmp(a, "--context=", 10)) {
			;
		} else {
			fprintf(stderr, "unknown flag: %s\n\nUsage:  skiff [OPTIONS] COMMAND [ARG...]\n\n"
					"Run 'skiff --help' for more information\n", a);
			return 125;
		}
	}
	cli.host = resolve_host(host);
	if (i >= argc) {
		main_help(stdout);
		return 0;
	}

	const char *name = argv[i];
	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		if (strcmp(name, groups[g].group))
			continue;
		if (i + 1 >= argc || !strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h")) {
			group_help(stdout, &groups[g]);
			return 0;
		}
		const char *sub = argv[i + 1];
		for (const char *const *r = groups[g].renames; *r; r += 2)
			if (!strcmp(*r, sub))
				sub = r[1];
		const struct cli_cmd *c = find_cmd(sub, groups[g].group);
		if (!c) {
			fprintf(stderr, "skiff: unknown command: skiff %s %s\n\nUsage:  skiff %s\n\n"
					"Run 'skiff %s --help' for more information\n", name, argv[i + 1], name, name);
			return 1;
		}
		cli.fixed_type = groups[g].fixed_type;
		char shown[64];
		snprintf(shown, sizeof(shown), "%s%s%s", group_is_private(name) ? name : "",
			 group_is_private(name) ? " " : "", c->name);
		return run_cmd(&cli, c, shown, argc - i - 1, argv + i + 1);
	}
	const struct cli_cmd *c = find_cmd(name, NULL);
	if (!c) {
		fprintf(stderr, "skiff: unknown command: skiff %s\n\nRun 'skiff --help' for more information\n", name);
		return 1;
	}
	return run_cmd(&cli, c, c->name, argc - i, argv + i);
}
