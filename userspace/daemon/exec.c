/* Exec instances: Docker's exec store kept in memory. A record is made by
 * POST /containers/{id}/exec, started once through the monitor (which
 * parents and reaps the process, so a skiffd restart does not end it) and
 * finished by the monitor's exec exit report or the END of its output
 * stream, whichever comes first. Health probes are records too, invisible
 * to the API and dropped when they finish. */
#include "exec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "container-config.h"
#include "container.h"

/* finished records kept per container (Docker keeps all until removal;
 * a loop of `docker exec` must not grow skiffd without bound) */
#define MAX_DONE_PER_CONTAINER 256

struct exec_rec {
	struct exec_rec *next;
	char id[65], ctr_id[65];
	json_t *cmd, *env; /* arrays */
	char *user, *workdir, *detach_keys;
	bool tty, privileged, open_stdin, open_stdout, open_stderr;
	int rows, cols;
	bool started, running;
	int exit_code; /* valid once started && !running */
	int pid;
	bool probe;
	size_t capture;
	skiff_probe_done_fn done;
	void *data;
};

/* One daemon per process: the store lives with this file. */
static struct exec_rec *execs;
static bool handler_set;

static void rec_free(struct exec_rec *e)
{
	json_decref(e->cmd);
	json_decref(e->env);
	free(e->user);
	free(e->workdir);
	free(e->detach_keys);
	free(e);
}

static void rec_unlink(struct exec_rec *e)
{
	for (struct exec_rec **p = &execs; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			return;
		}
}

static struct exec_rec *rec_find(const char *id)
{
	for (struct exec_rec *e = execs; e; e = e->next)
		if (!strcmp(e->id, id))
			return e;
	return NULL;
}

static struct skiff_ctr *ctr_of(struct skiff_daemon *d, const char *ctr_id)
{
	struct skiff_error err = { 0 };
	return skiff_container_find(d, ctr_id, &err);
}

/* Records whose container is gone go with it; finished ones beyond the
 * bound go oldest first (the list is newest first). */
static void gc(struct skiff_daemon *d)
{
	for (struct exec_rec **p = &execs; *p;) {
		struct exec_rec *e = *p;
		int done = 0;
		bool drop = !ctr_of(d, e->ctr_id);
		if (!drop && !e->probe && e->started && !e->running)
			for (struct exec_rec *o = execs; o != e; o = o->next)
				done += !strcmp(o->ctr_id, e->ctr_id) && o->started && !o->running && !o->probe;
		drop = drop || done >= MAX_DONE_PER_CONTAINER;
		if (drop && !e->probe) {
			*p = e->next;
			rec_free(e);
			continue;
		}
		p = &e->next;
	}
}

static char *cmd_string(const struct exec_rec *e)
{
	size_t len = 2, i;
	json_t *a;
	json_array_foreach(e->cmd, i, a) len += strlen(json_string_value(a)) + 1;
	char *s = calloc(1, len), *p = s;
	if (!s)
		return NULL;
	json_array_foreach(e->cmd, i, a)
	{
		/* Docker: Entrypoint + " " + strings.Join(Args, " ") */
		p = stpcpy(p, json_string_value(a));
		if (i == 0 || i + 1 < json_array_size(e->cmd))
			*p++ = ' ';
	}
	return s;
}

static void exec_event(struct skiff_daemon *d, struct exec_rec *e, const char *what, json_t *attrs)
{
	struct skiff_ctr *c = ctr_of(d, e->ctr_id);
	char action[600];
	_cleanup_free_ char *cmd = NULL;

	if (!attrs)
		attrs = json_object();
	json_object_set_new(attrs, "execID", json_string(e->id));
	if (!c) {
		json_decref(attrs);
		return;
	}
	if (strcmp(what, "exec_die") != 0 && (cmd = cmd_string(e))) {
		snprintf(action, sizeof(action), "%s: %s", what, cmd);
		skiff_container_event(d, c, action, attrs);
	} else {
		skiff_container_event(d, c, what, attrs);
	}
}

/* Docker's event attributes are strings, numbers included */
static json_t *die_attrs(int code)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", code);
	return json_pack("{s:s}", "exitCode", buf);
}

static void rec_finish(struct skiff_daemon *d, struct exec_rec *e, int code, const char *output)
{
	if (!e->running)
		return;
	e->running = false;
	e->exit_code = code;
	if (e->probe) {
		skiff_probe_done_fn fn = e->done;
		void *data = e->data;
		rec_unlink(e);
		rec_free(e);
		if (fn)
			fn(code, output ? output : "", data);
		return;
	}
	exec_event(d, e, "exec_die", die_attrs(code));
}

static struct skiff_daemon *handler_daemon;

static void on_exec_exit(const struct skiff_monitor_exec_exit *ex, void *data)
{
	struct skiff_daemon *d = data;
	struct exec_rec *e = rec_find(ex->id);
	if (e)
		rec_finish(d, e, ex->exit_code, ex->output);
}

static void ensure_handler(struct skiff_daemon *d)
{
	if (handler_set && handler_daemon == d)
		return;
	skiff_monitor_set_exec_handler(d->monitor, on_exec_exit, d);
	handler_set = true;
	handler_daemon = d;
}

static int new_id(char id[65])
{
	unsigned char b[32];
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static int check_running(struct skiff_ctr *c, struct skiff_error *err)
{
	if (c->status == SKIFF_CTR_PAUSED)
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
				       "Container %s is paused, unpause the container before exec", c->id);
	if (c->status == SKIFF_CTR_RESTARTING)
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY,
				       "Container %s is restarting, wait until the container is running", c->id);
	if (c->status != SKIFF_CTR_RUNNING || c->pid <= 0)
		return skiff_error_set(err, SKIFF_ECONFLICT, ESRCH, "container %s is not running", c->id);
	return 0;
}

static bool all_strings(const json_t *a)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
	return true;
}

int skiff_exec_create(struct skiff_daemon *d, struct skiff_ctr *c, const json_t *body, char id[65],
		      struct skiff_error *err)
{
	const json_t *cmd = json_object_get(body, "Cmd"), *env = json_object_get(body, "Env");
	const json_t *cs = json_object_get(body, "ConsoleSize");
	struct exec_rec *e;
	int r;

	if (json_is_string(cmd) && *json_string_value(cmd)) {
		/* strslice: a string is one element */
	} else if (cmd && !json_is_null(cmd) && !all_strings(cmd)) {
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal %s into Go struct field ExecConfig.Cmd of type string",
				       json_is_object(cmd) ? "object" : json_is_number(cmd) ? "number" : "value");
	}
	if (!cmd || json_is_null(cmd) || (json_is_array(cmd) && !json_array_size(cmd)) ||
	    (json_is_string(cmd) && !*json_string_value(cmd)))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "No exec command specified");
	if (env && !json_is_null(env) && !all_strings(env))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal value into Go struct field ExecConfig.Env of type string");
	static const char *const strs[] = { "User", "WorkingDir", "DetachKeys" };
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		const json_t *v = json_object_get(body, strs[i]);
		if (v && !json_is_null(v) && !json_is_string(v))
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "json: cannot unmarshal value into Go struct field ExecConfig.%s of type string",
					       strs[i]);
	}
	const char *wd = skiff_json_str(body, "WorkingDir", "");
	if (*wd && wd[0] != '/')
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "the working directory '%s' is invalid, it needs to be an absolute path", wd);
	if ((r = check_running(c, err)) < 0)
		return r;
	if (!d->monitor)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOTCONN, "the container monitor is not connected");
	gc(d);
	e = calloc(1, sizeof(*e));
	if (!e || new_id(e->id) < 0) {
		free(e);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	memcpy(e->ctr_id, c->id, 65);
	e->cmd = json_is_string(cmd) ? json_pack("[O]", cmd) : json_deep_copy(cmd);
	e->env = json_is_array(env) ? json_deep_copy(env) : json_array();
	e->user = strdup(skiff_json_str(body, "User", ""));
	e->workdir = strdup(wd);
	e->detach_keys = strdup(skiff_json_str(body, "DetachKeys", ""));
	e->tty = skiff_json_bool(body, "Tty", false);
	e->privileged = skiff_json_bool(body, "Privileged", false);
	e->open_stdin = skiff_json_bool(body, "AttachStdin", false);
	e->open_stdout = skiff_json_bool(body, "AttachStdout", false);
	e->open_stderr = skiff_json_bool(body, "AttachStderr", false);
	if (json_array_size(cs) == 2) {
		e->rows = (int)json_integer_value(json_array_get(cs, 0));
		e->cols = (int)json_integer_value(json_array_get(cs, 1));
	}
	if (!e->cmd || !e->env || !e->user || !e->workdir || !e->detach_keys) {
		rec_free(e);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	e->next = execs;
	execs = e;
	memcpy(id, e->id, 65);
	exec_event(d, e, "exec_create", NULL);
	return 0;
}

struct skiff_exec *skiff_exec_find(struct skiff_daemon *d, const char *id, struct skiff_error *err)
{
	gc(d);
	struct exec_rec *e = rec_find(id);
	if (!e || e->probe) {
		skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such exec instance: %s", id);
		return NULL;
	}
	return (struct skiff_exec *)e;
}

bool skiff_exec_tty(const struct skiff_exec *x)
{
	return ((const struct exec_rec *)x)->tty;
}

bool skiff_exec_open_stdin(const struct skiff_exec *x)
{
	return ((const struct exec_rec *)x)->open_stdin;
}

const char *skiff_exec_id(const struct skiff_exec *x)
{
	return ((const struct exec_rec *)x)->id;
}

/* Go's ReplaceOrAppendEnvValues: same key replaces, "KEY" alone unsets. */
static void env_merge(json_t *env, const json_t *add)
{
	size_t i, j;
	json_t *a;
	json_array_foreach(add, i, a)
	{
		const char *s = json_string_value(a), *eq = strchr(s, '=');
		size_t klen = eq ? (size_t)(eq - s) : strlen(s);
		bool found = false;
		for (j = 0; j < json_array_size(env); j++) {
			const char *o = json_string_value(json_array_get(env, j));
			if (!strncmp(o, s, klen) && (o[klen] == '=' || o[klen] == '\0')) {
				found = true;
				if (eq) {
					json_array_set(env, j, a);
				} else {
					json_array_remove(env, j);
					j--;
				}
			}
		}
		if (!found && eq)
			json_array_append(env, a);
	}
}

static json_t *build_spec(struct skiff_ctr *c, struct exec_rec *e, int rows, int cols, struct skiff_error *err)
{
	char *none[] = { NULL };
	_cleanup_json_ json_t *base = skiff_ctr_build_spec(c, none, "new", err);
	json_t *spec, *env, *v;

	if (!base)
		return NULL;
	env = json_array();
	json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	json_array_append_new(env, json_sprintf("HOSTNAME=%s", skiff_json_str(base, "hostname", "")));
	if (e->tty)
		json_array_append_new(env, json_string("TERM=xterm"));
	env_merge(env, json_object_get(c->config, "Env"));
	env_merge(env, e->env);
	spec = json_pack("{s:s, s:s, s:O, s:o, s:s, s:s, s:b, s:b, s:b, s:O, s:b, s:O}", "id", e->id, "container",
			 c->id, "args", e->cmd, "env", env, "cwd",
			 *e->workdir ? e->workdir : skiff_json_str(base, "cwd", "/"), "user",
			 *e->user ? e->user : skiff_json_str(base, "user", ""), "tty", e->tty, "stdin", e->open_stdin,
			 "privileged", e->privileged || skiff_json_bool(base, "privileged", false), "caps",
			 json_object_get(base, "caps"), "no_new_privileges",
			 skiff_json_bool(base, "no_new_privileges", false), "rlimits", json_object_get(base, "rlimits"));
	if (!spec) {
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		return NULL;
	}
	if ((v = json_object_get(base, "seccomp")))
		json_object_set(spec, "seccomp", v);
	if (rows > 0 && cols > 0)
		json_object_set_new(spec, "console", json_pack("[i, i]", rows, cols));
	if (e->capture)
		json_object_set_new(spec, "capture", json_integer((json_int_t)e->capture));
	return spec;
}

static int run(struct skiff_daemon *d, struct exec_rec *e, int rows, int cols, const struct skiff_attach_ops *ops,
	       struct skiff_attach **att, struct skiff_error *err)
{
	struct skiff_ctr *c = ctr_of(d, e->ctr_id);
	_cleanup_json_ json_t *spec = NULL;
	pid_t pid = 0;
	int r, code = 126;

	if (!c)
		return skiff_error_set(err, SKIFF_ECONFLICT, ESRCH, "container %s is not running", e->ctr_id);
	if ((r = check_running(c, err)) < 0)
		return r;
	if (!d->monitor)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOTCONN, "the container monitor is not connected");
	ensure_handler(d);
	if (!(spec = build_spec(c, e, rows, cols, err)))
		return -ENOMEM;
	if (ops && (r = skiff_monitor_attach(d->monitor, e->id, e->open_stdin, ops, att, err)) < 0)
		return r;
	e->started = true;
	r = skiff_monitor_exec(d->monitor, spec, &pid, &code, err);
	if (r < 0) {
		if (ops) {
			skiff_attach_close(*att);
			*att = NULL;
		}
		e->exit_code = code;
		if (err->status == SKIFF_EINVAL) {
			char msg[sizeof(err->msg)];
			snprintf(msg, sizeof(msg), "OCI runtime exec failed: exec failed: unable to start container process: %s: unknown",
				 err->msg);
			skiff_error_set(err, SKIFF_EINVAL, err->errnum, "%s", msg);
		} else if (err->status == SKIFF_ECONFLICT) {
			e->started = false; /* the container stopped meanwhile: never ran */
		}
		return r;
	}
	e->running = true;
	e->pid = pid;
	return 0;
}

int skiff_exec_start(struct skiff_daemon *d, struct skiff_exec *x, int rows, int cols,
		     const struct skiff_attach_ops *ops, struct skiff_attach **att, struct skiff_error *err)
{
	struct exec_rec *e = (struct exec_rec *)x;
	int r;

	if (e->running)
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY, "Error: Exec command %s is already running", e->id);
	if (e->started)
		return skiff_error_set(err, SKIFF_ECONFLICT, EBUSY, "Error: Exec command %s has already run", e->id);
	if (rows <= 0 || cols <= 0 || e->rows > 0) {
		rows = e->rows;
		cols = e->cols;
	}
	r = run(d, e, rows, cols, ops, att, err);
	if (r == 0 || e->started)
		exec_event(d, e, "exec_start", NULL);
	if (r < 0 && e->started)
		exec_event(d, e, "exec_die", die_attrs(e->exit_code));
	return r;
}

void skiff_exec_exited(struct skiff_daemon *d, const char *id, int exit_code)
{
	struct exec_rec *e = rec_find(id);
	if (e)
		rec_finish(d, e, exit_code, NULL);
}

int skiff_exec_resize(struct skiff_daemon *d, struct skiff_exec *x, int rows, int cols, struct skiff_error *err)
{
	struct exec_rec *e = (struct exec_rec *)x;
	/* a resize racing the end of a short exec is not the client's error
	 * (the docker CLI would print "failed to resize tty") */
	if (!e->started && rows > 0 && cols > 0) {
		/* before the process exists (its start waits for the client): its first size */
		e->rows = rows;
		e->cols = cols;
	}
	if (!e->running || !e->tty || !d->monitor)
		return 0;
	int r = skiff_monitor_resize(d->monitor, e->id, rows, cols, err);
	if (r < 0 && err->status == SKIFF_ECONFLICT) {
		skiff_error_clear(err);
		return 0;
	}
	return r;
}

json_t *skiff_exec_inspect_json(struct skiff_daemon *d, struct skiff_exec *x)
{
	struct exec_rec *e = (struct exec_rec *)x;
	(void)d;
	json_t *args = json_array();
	for (size_t i = 1; i < json_array_size(e->cmd); i++)
		json_array_append(args, json_array_get(e->cmd, i));
	json_t *j = json_pack("{s:b, s:s, s:o, s:s, s:b, s:b, s:b, s:b, s:s, s:i}", "CanRemove", 0, "ContainerID",
			      e->ctr_id, "ExitCode", e->started && !e->running ? json_integer(e->exit_code) : json_null(),
			      "DetachKeys", e->detach_keys, "OpenStderr", e->open_stderr, "OpenStdin", e->open_stdin,
			      "OpenStdout", e->open_stdout, "Running", e->running, "ID", e->id, "Pid", e->pid);
	json_object_set_new(j, "ProcessConfig",
			    json_pack("{s:b, s:s, s:o, s:b, s:s}", "tty", e->tty, "entrypoint",
				      json_string_value(json_array_get(e->cmd, 0)), "arguments", args, "privileged",
				      e->privileged, "user", e->user));
	return j;
}

json_t *skiff_exec_ids(struct skiff_daemon *d, const char *ctr_id)
{
	json_t *ids = NULL;
	(void)d;
	for (struct exec_rec *e = execs; e; e = e->next) {
		if (e->probe || strcmp(e->ctr_id, ctr_id))
			continue;
		if (!ids)
			ids = json_array();
		json_array_insert_new(ids, 0, json_string(e->id));
	}
	return ids ? ids : json_null();
}

/* ---- probes ---- */

int skiff_exec_probe(struct skiff_daemon *d, struct skiff_ctr *c, const json_t *args, size_t max_output,
		     skiff_probe_done_fn done, void *data, char id[65], struct skiff_error *err)
{
	struct exec_rec *e = calloc(1, sizeof(*e));
	int r;

	if (!e || new_id(e->id) < 0) {
		free(e);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	memcpy(e->ctr_id, c->id, 65);
	e->cmd = json_deep_copy(args);
	e->env = json_array();
	e->user = strdup("");
	e->workdir = strdup("");
	e->detach_keys = strdup("");
	e->probe = true;
	e->capture = max_output;
	e->done = done;
	e->data = data;
	e->open_stdout = e->open_stderr = true;
	if (!e->cmd || !e->env || !e->user || !e->workdir || !e->detach_keys) {
		rec_free(e);
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	}
	r = run(d, e, 0, 0, NULL, NULL, err);
	if (r < 0) {
		rec_free(e);
		return r;
	}
	e->next = execs;
	execs = e;
	memcpy(id, e->id, 65);
	return 0;
}

void skiff_exec_probe_kill(struct skiff_daemon *d, const char *id)
{
	struct exec_rec *e = rec_find(id);
	struct skiff_error err = { 0 };

	if (!e || !e->probe)
		return;
	if (d->monitor && e->running && skiff_monitor_kill(d->monitor, id, 9, &err) < 0)
		log_debug("probe %.12s: kill: %s", id, err.msg);
	rec_unlink(e);
	rec_free(e);
}
