/* The builder's metadata instructions: what ENV, LABEL, CMD, ENTRYPOINT,
 * USER, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER
 * and WORKDIR do to the image config, and the "#(nop)" history text
 * Docker's classic builder records for each. Pure: no I/O. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"
#include "builder.h"
#include "dockerfile.h"

static const char *var_get(const char *name, void *data)
{
	return json_string_value(json_object_get((const json_t *)data, name));
}

static json_t *cfg_of(json_t *ic)
{
	json_t *c = json_object_get(ic, "config");
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(ic, "config", c);
	}
	return c;
}

/* Go's %q of a string (enough of it: quotes, backslashes, control chars). */
static void goq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Go's %q of a []string: ["a" "b"] */
static void goq_list(FILE *f, const json_t *a)
{
	size_t i;
	json_t *e;
	fputc('[', f);
	json_array_foreach(a, i, e)
	{
		if (i)
			fputc(' ', f);
		goq(f, json_string_value(e));
	}
	fputc(']', f);
}

/* Go's %v of a []string: [a b] */
static void gov_list(FILE *f, const json_t *a)
{
	size_t i;
	json_t *e;
	fputc('[', f);
	json_array_foreach(a, i, e) fprintf(f, "%s%s", i ? " " : "", json_string_value(e));
	fputc(']', f);
}

static const json_t *shell_of(const json_t *ic)
{
	const json_t *sh = json_object_get(json_object_get(ic, "config"), "Shell");
	return json_array_size(sh) ? sh : NULL;
}

char *skiff_build_nop_comment(const json_t *ic, const char *text, bool two_arg)
{
	const json_t *sh = shell_of(ic);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	if (sh) {
		size_t i;
		json_t *e;
		json_array_foreach(sh, i, e) fprintf(f, "%s ", json_string_value(e));
	} else
		fputs("/bin/sh -c ", f);
	fprintf(f, "#(nop) %s%s", two_arg ? " " : "", text);
	fclose(f);
	return out;
}

/* Shell form: the stage's shell + the text as one argument. */
static json_t *shell_form(const json_t *ic, const char *text)
{
	const json_t *sh = shell_of(ic);
	json_t *a = sh ? json_deep_copy(sh) : json_pack("[s, s]", "/bin/sh", "-c");
	json_array_append_new(a, json_string(text));
	return a;
}

static json_t *json_form(const struct skiff_df_instr *in)
{
	json_t *a = json_array();
	for (char **p = in->args; p && *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

/* "k=v" expanded on each side (Docker expands key and value separately). */
static int expand_kv(const char *kv, char escape, const json_t *vars, char **k, char **v, struct skiff_error *err)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *key = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
	if (!key)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	*k = skiff_df_expand(key, escape, var_get, (void *)vars, err);
	if (!*k)
		return -EINVAL;
	*v = skiff_df_expand(eq ? eq + 1 : "", escape, var_get, (void *)vars, err);
	if (!*v) {
		free(*k);
		*k = NULL;
		return -EINVAL;
	}
	return 0;
}

static void env_set(json_t *env, const char *k, const char *v)
{
	size_t i, kl = strlen(k);
	json_t *e;
	_cleanup_free_ char *kv = NULL;
	if (asprintf(&kv, "%s=%s", k, v) < 0)
		return;
	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);
		if (s && !strncmp(s, k, kl) && s[kl] == '=') {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

static int do_kv(json_t *ic, const struct skiff_df_instr *in, char escape, const json_t *vars, FILE *cm,
		 struct skiff_error *err)
{
	json_t *c = cfg_of(ic);
	bool env = in->cmd == SKIFF_DF_ENV;
	json_t *dst = json_object_get(c, env ? "Env" : "Labels");
	if (!in->args || !in->args[0])
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s requires at least one argument", in->name);
	if (env ? !json_is_array(dst) : !json_is_object(dst)) {
		dst = env ? json_array() : json_object();
		json_object_set_new(c, env ? "Env" : "Labels", dst);
	}
	fputs(env ? "ENV" : "LABEL", cm);
	for (char **p = in->args; *p; p++) {
		_cleanup_free_ char *k = NULL, *v = NULL;
		if (expand_kv(*p, escape, vars, &k, &v, err) < 0)
			return -EINVAL;
		if (!k[0])
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s names can not be blank", in->name);
		if (env)
			env_set(dst, k, v);
		else
			json_object_set_new(dst, k, json_string(v));
		fprintf(cm, " %s=%s", k, v);
	}
	return 0;
}

static int do_cmd(json_t *ic, const struct skiff_df_instr *in, bool *cmd_set, FILE *cm, struct skiff_error *err)
{
	json_t *c = cfg_of(ic), *v;
	bool ep = in->cmd == SKIFF_DF_ENTRYPOINT;
	if (in->json)
		v = json_form(in);
	else if (in->args && in->args[0])
		v = shell_form(ic, in->args[0]);
	else
		v = json_array();
	if (!v)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	fputs(ep ? "ENTRYPOINT " : "CMD ", cm);
	goq_list(cm, v);
	if (ep) {
		json_object_set_new(c, "Entrypoint", json_array_size(v) ? v : json_null());
		if (!json_array_size(v))
			json_decref(v);
		/* an ENTRYPOINT resets a CMD inherited from the base image */
		if (!cmd_set || !*cmd_set)
			json_object_set_new(c, "Cmd", json_null());
	} else {
		json_object_set_new(c, "Cmd", v);
		if (cmd_set)
			*cmd_set = true;
	}
	return 0;
}

static int do_words(json_t *ic, const struct skiff_df_instr *in, char escape, const json_t *vars, FILE *cm,
		    struct skiff_error *err)
{
	json_t *c = cfg_of(ic), *list = json_array();
	bool vol = in->cmd == SKIFF_DF_VOLUME;
	json_t *dst = json_object_get(c, vol ? "Volumes" : "ExposedPorts"), *e;
	size_t i;
	int r = 0;

	for (char **p = in->args; p && *p; p++) {
		_cleanup_strv_ char **w = NULL;
		if (in->json) {
			json_array_append_new(list, json_string(*p));
			continue;
		}
		if (!(w = skiff_df_expand_words(*p, escape, var_get, (void *)vars, err))) {
			json_decref(list);
			return -EINVAL;
		}
		for (char **q = w; *q; q++)
			json_array_append_new(list, json_string(*q));
	}
	if (!json_is_object(dst)) {
		dst = json_object();
		json_object_set_new(c, vol ? "Volumes" : "ExposedPorts", dst);
	}
	if (!json_array_size(list) && !vol)
		r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "EXPOSE requires at least one argument");
	json_array_foreach(list, i, e)
	{
		const char *s = json_string_value(e);
		if (vol) {
			if (!s[0] || strspn(s, " \t") == strlen(s)) {
				r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "VOLUME specified can not be an empty string");
				break;
			}
			json_object_set_new(dst, s, json_object());
			continue;
		}
		char key[80], *end;
		const char *proto = strchr(s, '/');
		long port = strtol(s, &end, 10);
		if (end == s || port <= 0 || port > 65535 || (*end && *end != '/' && *end != '-') ||
		    (proto && strcmp(proto, "/tcp") && strcmp(proto, "/udp") && strcmp(proto, "/sctp"))) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid containerPort: %s", s);
			break;
		}
		snprintf(key, sizeof(key), "%s%s", s, proto ? "" : "/tcp");
		json_object_set_new(dst, key, json_object());
	}
	if (r == 0) {
		if (vol) {
			fputs("VOLUME ", cm);
			gov_list(cm, list);
		} else {
			fputs("EXPOSE", cm);
			json_array_foreach(list, i, e) fprintf(cm, " %s", json_string_value(e));
		}
	}
	json_decref(list);
	return r;
}

static bool valid_signal(const char *s)
{
	static const char *const names[] = { "HUP",  "INT",    "QUIT", "ILL",  "TRAP", "ABRT", "IOT",  "BUS",
					     "FPE",  "KILL",   "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
					     "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
					     "XCPU", "XFSZ",   "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR",
					     "SYS",  "RTMIN",  "RTMAX" };
	char *end;
	long n = strtol(s, &end, 10);
	if (end != s && !*end)
		return n > 0 && n <= 64;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(s, names[i]))
			return true;
	return !strncasecmp(s, "RTMIN+", 6) || !strncasecmp(s, "RTMAX-", 6);
}

/* Go time.ParseDuration subset: 1h2m3.5s, 500ms, 10us, 0 */
static int parse_duration(const char *s, int64_t *ns)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "µs", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
	double total = 0;
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		size_t best = 0, bi = 0;
		if (end == s || *s == '-' || *s == '+')
			return -EINVAL;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].u);
			if (!strncmp(end, units[i].u, l) && l > best) {
				best = l;
				bi = i;
			}
		}
		if (!best)
			return -EINVAL;
		total += v * units[bi].mul;
		s = end + best;
	}
	*ns = (int64_t)total;
	return 0;
}

/* Go's Duration.String() for the history text. */
static void go_duration(FILE *f, int64_t ns)
{
	if (ns == 0) {
		fputs("\"0s\"", f);
		return;
	}
	if (ns < 1000000000) {
		if (ns % 1000000 == 0)
			fprintf(f, "\"%lldms\"", (long long)(ns / 1000000));
		else
			fprintf(f, "\"%lldns\"", (long long)ns);
		return;
	}
	int64_t h = ns / 3600000000000LL, m = ns / 60000000000LL % 60;
	double sec = (double)(ns % 60000000000LL) / 1e9;
	fputc('"', f);
	if (h)
		fprintf(f, "%lldh", (long long)h);
	if (h || m)
		fprintf(f, "%lldm", (long long)m);
	fprintf(f, "%gs\"", sec);
}

static const char *flag_value(const struct skiff_df_instr *in, const char *name)
{
	for (size_t i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, name))
			return in->flags[i].value;
	return NULL;
}

static int do_healthcheck(json_t *ic, const struct skiff_df_instr *in, FILE *cm, struct skiff_error *err)
{
	static const char *const dur_flags[] = { "interval", "timeout", "start-period", "start-interval" };
	static const char *const dur_keys[] = { "Interval", "Timeout", "StartPeriod", "StartInterval" };
	json_t *c = cfg_of(ic), *hc, *test;
	int64_t durs[4] = { 0 }, retries = 0;

	/* the parser gives the Test array: ["NONE"], ["CMD", ...], ["CMD-SHELL", "cmd"] */
	test = json_form(in);
	if (!json_array_size(test)) {
		json_decref(test);
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Missing command after HEALTHCHECK CMD");
	}
	if (!strcmp(json_string_value(json_array_get(test, 0)), "NONE"))
		goto none;
	for (size_t i = 0; i < ARRAY_SIZE(dur_flags); i++) {
		const char *v = flag_value(in, dur_flags[i]);
		if (v && parse_duration(v, &durs[i]) < 0) {
			json_decref(test);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "time: invalid duration \"%s\"", v);
		}
		if (durs[i] != 0 && durs[i] < 1000000) {
			json_decref(test);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Interval \"%s\" cannot be less than 1ms",
					       dur_flags[i]);
		}
	}
	if (flag_value(in, "retries")) {
		char *end;
		retries = strtoll(flag_value(in, "retries"), &end, 10);
		if (*end || retries < 0) {
			json_decref(test);
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "--retries cannot be negative (%s)",
					       flag_value(in, "retries"));
		}
	}
	hc = json_pack("{s:o}", "Test", test);
	for (size_t i = 0; i < ARRAY_SIZE(dur_keys); i++)
		if (durs[i])
			json_object_set_new(hc, dur_keys[i], json_integer(durs[i]));
	if (retries)
		json_object_set_new(hc, "Retries", json_integer(retries));
	json_object_set_new(c, "Healthcheck", hc);
	fputs("HEALTHCHECK &{", cm);
	goq_list(cm, test);
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
		fputc(' ', cm);
		go_duration(cm, durs[i]);
	}
	fprintf(cm, " '\\x%02llx'}", (unsigned long long)retries);
	return 0;
none:
	json_decref(test);
	json_object_set_new(c, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
	fputs("HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}", cm);
	return 0;
}

static int do_workdir(json_t *ic, const char *arg, char escape, const json_t *vars, FILE *cm,
		      struct skiff_error *err)
{
	json_t *c = cfg_of(ic);
	_cleanup_free_ char *v = skiff_df_expand(arg, escape, var_get, (void *)vars, err), *joined = NULL;
	char clean[4096];
	const char *cur = skiff_json_str(c, "WorkingDir", "");
	if (!v)
		return -EINVAL;
	if (!v[0])
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "WORKDIR requires exactly one argument");
	if (v[0] != '/' && asprintf(&joined, "%s/%s", cur[0] ? cur : "/", v) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if (skiff_path_clean(joined ? joined : v, clean, sizeof(clean), true) < 0)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid WORKDIR %s", v);
	char abs[4100];
	snprintf(abs, sizeof(abs), "/%s", clean);
	json_object_set_new(c, "WorkingDir", json_string(abs));
	fprintf(cm, "WORKDIR %s", abs);
	return 0;
}

int skiff_build_apply_meta(json_t *ic, const struct skiff_df_instr *in, char escape, const json_t *vars,
			   bool *cmd_set, char **comment, struct skiff_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *cm = open_memstream(&text, &len);
	const char *arg0 = in->args && in->args[0] ? in->args[0] : "";
	bool two_arg = true;
	int r = 0;

	if (!cm)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	switch (in->cmd) {
	case SKIFF_DF_ENV:
	case SKIFF_DF_LABEL:
		r = do_kv(ic, in, escape, vars, cm, err);
		break;
	case SKIFF_DF_CMD:
	case SKIFF_DF_ENTRYPOINT:
		r = do_cmd(ic, in, cmd_set, cm, err);
		break;
	case SKIFF_DF_EXPOSE:
	case SKIFF_DF_VOLUME:
		r = do_words(ic, in, escape, vars, cm, err);
		break;
	case SKIFF_DF_HEALTHCHECK:
		r = do_healthcheck(ic, in, cm, err);
		break;
	case SKIFF_DF_WORKDIR:
		two_arg = false;
		r = do_workdir(ic, arg0, escape, vars, cm, err);
		break;
	case SKIFF_DF_USER:
	case SKIFF_DF_STOPSIGNAL: {
		bool user = in->cmd == SKIFF_DF_USER;
		_cleanup_free_ char *v = skiff_df_expand(arg0, escape, var_get, (void *)vars, err);
		if (!v) {
			r = -EINVAL;
			break;
		}
		if (!v[0]) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s requires exactly one argument", in->name);
			break;
		}
		if (!user && !valid_signal(v)) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Invalid signal: %s", v);
			break;
		}
		json_object_set_new(cfg_of(ic), user ? "User" : "StopSignal", json_string(v));
		fprintf(cm, "%s %s", user ? "USER" : "STOPSIGNAL", v);
		break;
	}
	case SKIFF_DF_SHELL: {
		json_t *sh;
		if (!in->json) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "SHELL requires the arguments to be in JSON form");
			break;
		}
		sh = json_form(in);
		if (!json_array_size(sh)) {
			json_decref(sh);
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "SHELL requires at least one argument");
			break;
		}
		fputs("SHELL ", cm);
		gov_list(cm, sh);
		json_object_set_new(cfg_of(ic), "Shell", sh);
		break;
	}
	case SKIFF_DF_MAINTAINER:
		json_object_set_new(ic, "author", json_string(arg0));
		fprintf(cm, "MAINTAINER %s", arg0);
		break;
	case SKIFF_DF_ONBUILD: {
		const char *o = in->original ? in->original : "";
		json_t *ob;
		while (isspace((unsigned char)*o))
			o++;
		if (!strncasecmp(o, "ONBUILD", 7))
			o += 7;
		while (isspace((unsigned char)*o))
			o++;
		if (in->onbuild && in->onbuild->cmd == SKIFF_DF_ONBUILD) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
			break;
		}
		if (in->onbuild && (in->onbuild->cmd == SKIFF_DF_FROM || in->onbuild->cmd == SKIFF_DF_MAINTAINER)) {
			r = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s isn't allowed as an ONBUILD trigger",
					    in->onbuild->name);
			break;
		}
		ob = json_object_get(cfg_of(ic), "OnBuild");
		if (!json_is_array(ob)) {
			ob = json_array();
			json_object_set_new(cfg_of(ic), "OnBuild", ob);
		}
		json_array_append_new(ob, json_string(o));
		fprintf(cm, "ONBUILD %s", o);
		break;
	}
	default:
		r = skiff_error_set(err, SKIFF_EINTERNAL, EINVAL, "%s is not a metadata instruction", in->name);
	}
	fclose(cm);
	if (r < 0)
		return r;
	if (comment && !(*comment = skiff_build_nop_comment(ic, text ? text : "", two_arg)))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return 0;
}
