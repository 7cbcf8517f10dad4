/* docker import: one layer from a rootfs tarball plus a config built from
 * Dockerfile-style `changes` (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL,
 * EXPOSE, VOLUME, STOPSIGNAL), as POST /images/create?fromSrc=- does. */
#include "store-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"

/* JSON array form, or shell form wrapped in /bin/sh -c (when shell). */
static json_t *cmd_value(const char *v, bool shell)
{
	json_error_t jerr;
	json_t *j;
	if (v[0] == '[' && (j = json_loads(v, 0, &jerr))) {
		size_t i;
		json_t *e;
		bool ok = json_is_array(j);
		json_array_foreach(j, i, e) ok = ok && json_is_string(e);
		if (ok)
			return j;
		json_decref(j);
	}
	if (!shell) {
		return json_pack("[s]", v);
	}
	return json_pack("[s, s, s]", "/bin/sh", "-c", v);
}

/* Splits "a=b c=\"d e\"" into key/value pairs; quotes are removed. */
static int each_kv(const char *v, json_t *obj, bool env)
{
	const char *p = v;
	while (*p) {
		char key[1024], val[4096];
		size_t kl = 0, vl = 0;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		while (*p && *p != '=' && !isspace((unsigned char)*p) && kl < sizeof(key) - 1)
			key[kl++] = *p++;
		key[kl] = '\0';
		if (*p != '=')
			return -EINVAL;
		p++;
		char q = 0;
		while (*p && (q || !isspace((unsigned char)*p)) && vl < sizeof(val) - 1) {
			if (!q && (*p == '"' || *p == '\'')) {
				q = *p++;
				continue;
			}
			if (q && *p == q) {
				q = 0;
				p++;
				continue;
			}
			if (*p == '\\' && p[1] && q != '\'')
				p++;
			val[vl++] = *p++;
		}
		val[vl] = '\0';
		if (env) {
			/* Env is an array "K=V"; a later K replaces an earlier one */
			json_t *e;
			size_t i;
			char kv[5200];
			snprintf(kv, sizeof(kv), "%s=%s", key, val);
			json_array_foreach(obj, i, e)
			{
				const char *s = json_string_value(e);
				if (!strncmp(s, key, kl) && s[kl] == '=')
					break;
			}
			if (i < json_array_size(obj))
				json_array_set_new(obj, i, json_string(kv));
			else
				json_array_append_new(obj, json_string(kv));
		} else
			json_object_set_new(obj, key, json_string(val));
	}
	return 0;
}

static int apply_change(json_t *cc, const char *line, struct skiff_error *err)
{
	char ins[32];
	size_t n = 0;
	const char *v = line;

	while (isspace((unsigned char)*v))
		v++;
	while (*v && !isspace((unsigned char)*v) && n < sizeof(ins) - 1)
		ins[n++] = (char)toupper((unsigned char)*v++);
	ins[n] = '\0';
	while (isspace((unsigned char)*v))
		v++;
	if (!n)
		return 0;
	if (!*v)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s requires at least one argument", ins);

	if (!strcmp(ins, "CMD"))
		json_object_set_new(cc, "Cmd", cmd_value(v, true));
	else if (!strcmp(ins, "ENTRYPOINT"))
		json_object_set_new(cc, "Entrypoint", cmd_value(v, true));
	else if (!strcmp(ins, "WORKDIR"))
		json_object_set_new(cc, "WorkingDir", json_string(v));
	else if (!strcmp(ins, "USER"))
		json_object_set_new(cc, "User", json_string(v));
	else if (!strcmp(ins, "STOPSIGNAL"))
		json_object_set_new(cc, "StopSignal", json_string(v));
	else if (!strcmp(ins, "ENV")) {
		json_t *env = json_object_get(cc, "Env");
		if (!json_is_array(env)) {
			env = json_array();
			json_object_set_new(cc, "Env", env);
		}
		if (strchr(v, '=') && (!strchr(v, ' ') || strchr(v, '=') < strchr(v, ' '))) {
			if (each_kv(v, env, true) < 0)
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "ENV names can not be blank");
		} else {
			/* legacy "ENV KEY value with spaces" */
			char key[1024], kv[5200];
			const char *sp = v;
			size_t kl = 0;
			while (*sp && !isspace((unsigned char)*sp) && kl < sizeof(key) - 1)
				key[kl++] = *sp++;
			key[kl] = '\0';
			while (isspace((unsigned char)*sp))
				sp++;
			snprintf(kv, sizeof(kv), "%s=\"%s\"", key, sp);
			each_kv(kv, env, true);
		}
	} else if (!strcmp(ins, "LABEL")) {
		json_t *labels = json_object_get(cc, "Labels");
		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(cc, "Labels", labels);
		}
		if (each_kv(v, labels, false) < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "LABEL must have the form key=value");
	} else if (!strcmp(ins, "EXPOSE")) {
		json_t *ports = json_object_get(cc, "ExposedPorts");
		_cleanup_free_ char *copy = strdup(v);
		char *save = NULL;
		if (!json_is_object(ports)) {
			ports = json_object();
			json_object_set_new(cc, "ExposedPorts", ports);
		}
		for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
			char key[64];
			char *end;
			long port = strtol(t, &end, 10);
			if (end == t || port <= 0 || port > 65535 || (*end && *end != '/' && *end != '-'))
				return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid containerPort: %s", t);
			snprintf(key, sizeof(key), "%s%s", t, strchr(t, '/') ? "" : "/tcp");
			json_object_set_new(ports, key, json_object());
		}
	} else if (!strcmp(ins, "VOLUME")) {
		json_t *vols = json_object_get(cc, "Volumes"), *arr = NULL, *e;
		json_error_t jerr;
		size_t i;
		if (!json_is_object(vols)) {
			vols = json_object();
			json_object_set_new(cc, "Volumes", vols);
		}
		if (v[0] == '[' && (arr = json_loads(v, 0, &jerr)) && json_is_array(arr)) {
			json_array_foreach(arr, i, e) if (json_is_string(e))
				json_object_set_new(vols, json_string_value(e), json_object());
		} else {
			_cleanup_free_ char *copy = strdup(v);
			char *save = NULL;
			for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
				json_object_set_new(vols, t, json_object());
		}
		json_decref(arr);
	} else
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "%s is not a valid change command", ins);
	return 0;
}

int skiff_image_import(struct skiff_store *s, int tar_fd, const char *repo_tag, char *const *changes,
		       const char *message, char **id_out, struct skiff_error *err)
{
	struct skiff_tar_reader *r = NULL;
	char norm[512] = "", chain[SKIFF_DIGEST_LEN], diffid[SKIFF_DIGEST_LEN], id[SKIFF_DIGEST_LEN], now[40];
	_cleanup_json_ json_t *cc = json_object(), *config = NULL;
	_cleanup_free_ char *text = NULL;
	struct timespec ts = skiff_now();
	int k;

	if (repo_tag && repo_tag[0] && (k = skiff_ref_normalize(repo_tag, norm, sizeof(norm), err)) < 0)
		return k;
	for (char *const *c = changes; c && *c; c++)
		if ((k = apply_change(cc, *c, err)) < 0)
			return k;
	if ((k = skiff_tar_reader_new(tar_fd, &r)) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, -k, "out of memory");
	k = store_layer_create(s, r, "", NULL, chain, diffid, err);
	skiff_tar_reader_free(r);
	if (k < 0)
		return skiff_error_wrap(err, "importing image");

	skiff_time_format(&ts, now);
	config = json_pack("{s:s, s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s, s:s}]}", "architecture", "amd64",
			   "comment", message ? message : "", "created", now, "os", "linux", "config", cc, "rootfs",
			   "type", "layers", "diff_ids", diffid, "history", "created", now, "created_by", "",
			   "comment", message && message[0] ? message : "Imported from -");
	if (!config || !(text = json_dumps(config, JSON_COMPACT)))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if ((k = store_image_add(s, text, strlen(text), id, err)) < 0)
		return k;
	store_event(s, "import", id, norm[0] ? norm : NULL);
	if (norm[0] && (k = store_tag(s, id, norm, err)) < 0)
		return k;
	if (id_out && !(*id_out = strdup(id)))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return 0;
}
