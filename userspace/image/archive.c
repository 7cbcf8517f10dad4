/* docker load / docker save: docker-archive (manifest.json) and OCI image
 * layout archives in, a docker-archive that also carries the OCI layout
 * (as Docker 25+ writes) out. The outer archive is indexed once and each
 * nested layer tar is streamed from its byte range. */
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/json.h"
#include "ref.h"

#define MAX_META (16 * 1024 * 1024)

struct archive {
	int fd;          /* seekable, uncompressed */
	json_t *entries; /* cleaned path -> [offset, size] or {"link": target} */
};

static int index_archive(struct skiff_store *s, int in_fd, struct archive *a, struct skiff_error *err)
{
	struct skiff_tar_reader *r = NULL;
	const struct skiff_tar_entry *e;
	bool copy;
	int k;

	a->fd = -1;
	a->entries = json_object();
	/* Compressed or unseekable input is spooled uncompressed first so
	 * layers can be read by offset. */
	off_t base = lseek(in_fd, 0, SEEK_CUR);
	struct stat st;
	if (base >= 0 && fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
		k = skiff_tar_reader_new_range(in_fd, base, st.st_size - base, &r);
	else {
		base = -1;
		k = skiff_tar_reader_new(in_fd, &r);
	}
	if (k < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, -k, "out of memory");
	copy = base < 0 || skiff_tar_reader_gzipped(r);
	if (copy) {
		_cleanup_free_ char *tmp = NULL;
		char ignored[SKIFF_DIGEST_LEN];
		int fd = store_tmpfile(s, &tmp);
		if (fd < 0) {
			skiff_tar_reader_free(r);
			return skiff_error_sys(err, SKIFF_EINTERNAL, -fd, "spooling archive");
		}
		unlink(tmp);
		skiff_tar_reader_set_tee(r, fd);
		k = skiff_tar_reader_finish(r, ignored);
		skiff_tar_reader_free(r);
		if (k < 0) {
			close(fd);
			return skiff_error_sys(err, SKIFF_EINVAL, -k, "reading archive");
		}
		a->fd = fd;
		base = 0;
	} else {
		skiff_tar_reader_free(r);
		a->fd = fcntl(in_fd, F_DUPFD_CLOEXEC, 3);
	}
	fstat(a->fd, &st);
	if ((k = skiff_tar_reader_new_range(a->fd, base, st.st_size - base, &r)) < 0)
		return skiff_error_set(err, SKIFF_EINTERNAL, -k, "out of memory");
	while ((k = skiff_tar_next(r, &e)) > 0) {
		char path[4096];
		if (skiff_tar_clean_path(e->path, path, sizeof(path)) < 0)
			continue;
		if (e->type == SKIFF_TAR_REG)
			json_object_set_new(a->entries, path,
					    json_pack("[I, I]", (json_int_t)(base + skiff_tar_data_offset(r)),
						      (json_int_t)e->size));
		else if (e->type == SKIFF_TAR_SYMLINK || e->type == SKIFF_TAR_LINK) {
			/* old docker-archives link duplicate layers to each other */
			char target[4096], joined[8200];
			const char *slash = strrchr(path, '/');
			if (e->type == SKIFF_TAR_SYMLINK && e->linkname[0] != '/' && slash)
				snprintf(joined, sizeof(joined), "%.*s/%s", (int)(slash - path), path, e->linkname);
			else
				snprintf(joined, sizeof(joined), "%s", e->linkname);
			if (skiff_tar_clean_path(joined, target, sizeof(target)) == 0)
				json_object_set_new(a->entries, path, json_pack("{s:s}", "link", target));
		}
	}
	skiff_tar_reader_free(r);
	if (k < 0)
		return skiff_error_sys(err, SKIFF_EINVAL, -k, "reading archive");
	return 0;
}

static json_t *lookup(struct archive *a, const char *name)
{
	char path[4096];
	json_t *e;
	if (skiff_tar_clean_path(name, path, sizeof(path)) < 0)
		return NULL;
	e = json_object_get(a->entries, path);
	for (int depth = 0; depth < 8 && json_is_object(e); depth++)
		e = json_object_get(a->entries, skiff_json_str(e, "link", ""));
	return json_is_array(e) ? e : NULL;
}

static int read_member(struct archive *a, const char *name, char **out, size_t *len, struct skiff_error *err)
{
	json_t *e = lookup(a, name);
	off_t off, size;
	char *buf;
	if (!e)
		return skiff_error_set(err, SKIFF_EINVAL, ENOENT, "invalid archive: %s not found", name);
	off = (off_t)json_integer_value(json_array_get(e, 0));
	size = (off_t)json_integer_value(json_array_get(e, 1));
	if (size > MAX_META)
		return skiff_error_set(err, SKIFF_EINVAL, EFBIG, "invalid archive: %s too large", name);
	buf = malloc((size_t)size + 1);
	if (!buf)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if (pread(a->fd, buf, (size_t)size, off) != size) {
		free(buf);
		return skiff_error_set(err, SKIFF_EINVAL, EIO, "invalid archive: short read of %s", name);
	}
	buf[size] = '\0';
	*out = buf;
	*len = (size_t)size;
	return 0;
}

static json_t *read_json(struct archive *a, const char *name, struct skiff_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	json_error_t jerr;
	json_t *j;
	if (read_member(a, name, &buf, &len, err) < 0)
		return NULL;
	j = json_loadb(buf, len, 0, &jerr);
	if (!j)
		skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid archive: %s: %s", name, jerr.text);
	return j;
}

/* Imports one image: config bytes from config_name, layers (archive member
 * names, in order), then tags. */
static int load_image(struct skiff_store *s, struct archive *a, const char *config_name, json_t *layer_names,
		      json_t *tags, json_t *loaded, struct skiff_error *err)
{
	_cleanup_free_ char *config = NULL;
	_cleanup_json_ json_t *cj = NULL;
	json_error_t jerr;
	char chain[SKIFF_DIGEST_LEN] = "", id[SKIFF_DIGEST_LEN];
	json_t *diffs, *t;
	size_t len, i;
	int k;

	if ((k = read_member(a, config_name, &config, &len, err)) < 0)
		return k;
	if (!(cj = json_loadb(config, len, 0, &jerr)))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid image config %s: %s", config_name, jerr.text);
	diffs = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
	if (json_array_size(diffs) != json_array_size(layer_names))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid archive: %zu layers but the config lists %zu diff ids",
				       json_array_size(layer_names), json_array_size(diffs));
	for (i = 0; i < json_array_size(diffs); i++) {
		const char *diff = json_string_value(json_array_get(diffs, i));
		const char *lname = json_string_value(json_array_get(layer_names, i));
		char next[SKIFF_DIGEST_LEN], got[SKIFF_DIGEST_LEN];
		struct skiff_tar_reader *r;
		json_t *e;
		if (!skiff_digest_valid(diff) || !lname)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid image config: bad diff id");
		store_chain_id(chain, diff, next);
		if (!store_layer_exists(s, next)) {
			if (!(e = lookup(a, lname)))
				return skiff_error_set(err, SKIFF_EINVAL, ENOENT, "invalid archive: layer %s not found",
						       lname);
			k = skiff_tar_reader_new_range(a->fd, (off_t)json_integer_value(json_array_get(e, 0)),
						       (off_t)json_integer_value(json_array_get(e, 1)), &r);
			if (k < 0)
				return skiff_error_set(err, SKIFF_EINTERNAL, -k, "out of memory");
			k = store_layer_create(s, r, chain, diff, next, got, err);
			skiff_tar_reader_free(r);
			if (k < 0)
				return skiff_error_wrap(err, "loading layer %s", lname);
		}
		memcpy(chain, next, sizeof(chain));
	}
	if ((k = store_image_add(s, config, len, id, err)) < 0)
		return k;
	store_event(s, "load", id, NULL);
	json_array_foreach(tags, i, t)
	{
		char norm[512], line[600];
		if (!json_is_string(t) || skiff_ref_normalize(json_string_value(t), norm, sizeof(norm), NULL) < 0)
			continue;
		if ((k = store_tag(s, id, norm, err)) < 0)
			return k;
		snprintf(line, sizeof(line), "Loaded image: %s", norm);
		json_array_append_new(loaded, json_string(line));
	}
	if (!json_array_size(tags)) {
		char line[128];
		snprintf(line, sizeof(line), "Loaded image ID: %s", id);
		json_array_append_new(loaded, json_string(line));
	}
	return 0;
}

static char *blob_name(const char *digest)
{
	char *p = NULL;
	const char *c = strchr(digest ? digest : "", ':');
	if (!c || asprintf(&p, "blobs/%.*s/%s", (int)(c - digest), digest, c + 1) < 0)
		return NULL;
	return p;
}

static int load_oci_manifest(struct skiff_store *s, struct archive *a, json_t *desc, json_t *loaded,
			     struct skiff_error *err)
{
	_cleanup_free_ char *mname = blob_name(skiff_json_str(desc, "digest", NULL)), *cname = NULL;
	_cleanup_json_ json_t *m = NULL, *layers = json_array(), *tags = json_array();
	json_t *ann = json_object_get(desc, "annotations"), *l;
	const char *name;
	size_t i;

	if (!mname)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid archive: bad manifest descriptor");
	if (!(m = read_json(a, mname, err)))
		return -EINVAL;
	/* a nested index (multi-platform): take linux/amd64 or the first */
	if (json_is_array(json_object_get(m, "manifests"))) {
		json_t *pick = NULL, *d;
		json_array_foreach(json_object_get(m, "manifests"), i, d)
		{
			json_t *p = json_object_get(d, "platform");
			if (!pick || (!strcmp(skiff_json_str(p, "architecture", ""), "amd64") &&
				      !strcmp(skiff_json_str(p, "os", ""), "linux")))
				pick = d;
		}
		if (!pick)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid archive: empty index");
		json_t *copy = json_deep_copy(pick);
		if (ann)
			json_object_set(copy, "annotations", ann);
		int k = load_oci_manifest(s, a, copy, loaded, err);
		json_decref(copy);
		return k;
	}
	cname = blob_name(skiff_json_str(json_object_get(m, "config"), "digest", NULL));
	if (!cname)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid archive: manifest without config");
	json_array_foreach(json_object_get(m, "layers"), i, l)
	{
		char *ln = blob_name(skiff_json_str(l, "digest", NULL));
		if (!ln)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid archive: bad layer descriptor");
		json_array_append_new(layers, json_string(ln));
		free(ln);
	}
	name = skiff_json_str(ann, "io.containerd.image.name", NULL);
	if (!name) {
		/* ref.name may be a full reference or (per the OCI spec) only a tag */
		name = skiff_json_str(ann, "org.opencontainers.image.ref.name", NULL);
		if (name && !strchr(name, '/') && !strchr(name, ':'))
			name = NULL;
	}
	if (name)
		json_array_append_new(tags, json_string(name));
	return load_image(s, a, cname, layers, tags, loaded, err);
}

int skiff_image_load(struct skiff_store *s, int tar_fd, json_t **loaded, struct skiff_error *err)
{
	struct archive a;
	_cleanup_json_ json_t *manifest = NULL, *index = NULL;
	json_t *out = json_array(), *m;
	size_t i;
	int k;

	k = index_archive(s, tar_fd, &a, err);
	if (k < 0)
		goto out;
	if (lookup(&a, "manifest.json")) {
		if (!(manifest = read_json(&a, "manifest.json", err)) || !json_is_array(manifest)) {
			k = manifest ? skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid manifest.json") : -EINVAL;
			goto out;
		}
		json_array_foreach(manifest, i, m)
		{
			const char *cfg = skiff_json_str(m, "Config", NULL);
			if (!cfg) {
				k = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid manifest.json: no Config");
				goto out;
			}
			k = load_image(s, &a, cfg, json_object_get(m, "Layers"), json_object_get(m, "RepoTags"), out,
				       err);
			if (k < 0)
				goto out;
		}
	} else if (lookup(&a, "index.json") && lookup(&a, "oci-layout")) {
		if (!(index = read_json(&a, "index.json", err))) {
			k = -EINVAL;
			goto out;
		}
		json_array_foreach(json_object_get(index, "manifests"), i, m)
		{
			if ((k = load_oci_manifest(s, &a, m, out, err)) < 0)
				goto out;
		}
	} else {
		k = skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				    "invalid archive: no manifest.json (docker-archive) or index.json (OCI layout)");
		goto out;
	}
	k = 0;
out:
	if (a.fd >= 0)
		close(a.fd);
	json_decref(a.entries);
	if (k < 0) {
		json_decref(out);
		return k;
	}
	*loaded = out;
	return 0;
}

/* ---- save ---- */

struct saved {
	char id[SKIFF_DIGEST_LEN];
	json_t *tags;   /* refs asked for */
	json_t *config; /* parsed */
	json_t *diffs;
};

static int write_blob_file(struct skiff_tar_writer *w, struct skiff_store *s, const char *digest,
			   struct skiff_error *err)
{
	_cleanup_free_ char *p = store_blob_path(s, digest), *name = blob_name(digest);
	_cleanup_close_ int fd = -1;
	struct stat st;
	int k;
	if (!p || !name)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening blob %s", digest);
	k = skiff_tar_write_fd(w, name, fd, st.st_size, 0644, 0);
	if (k < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -k, "writing blob %s", digest);
	return 0;
}

static int write_json_member(struct skiff_tar_writer *w, const char *name, json_t *j, struct skiff_error *err)
{
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
	int k;
	if (!text)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	k = skiff_tar_write_buffer(w, name, text, strlen(text), 0644, 0);
	return k < 0 ? skiff_error_sys(err, SKIFF_EINTERNAL, -k, "writing %s", name) : 0;
}

static json_int_t blob_size(struct skiff_store *s, const char *digest)
{
	_cleanup_free_ char *p = store_blob_path(s, digest);
	struct stat st;
	return p && stat(p, &st) == 0 ? (json_int_t)st.st_size : 0;
}

int skiff_image_save(struct skiff_store *s, char *const *names, int out_fd, struct skiff_error *err)
{
	struct saved *imgs = NULL;
	size_t n = 0;
	struct skiff_tar_writer *w = NULL;
	_cleanup_json_ json_t *manifest = json_array(), *index_m = json_array(), *repos = json_object(),
			      *written = json_object();
	int k = 0;

	skiff_store_flush_events(s);
	for (char *const *p = names; p && *p; p++) {
		char id[72], norm[512];
		bool by_ref;
		size_t j;
		if ((k = skiff_image_resolve(s, *p, id, err)) < 0)
			goto out;
		by_ref = strncmp(*p, "sha256:", 7) && skiff_ref_normalize(*p, norm, sizeof(norm), NULL) == 0;
		if (by_ref) {
			char check[72];
			/* a short id that also parses as a name is still an id */
			pthread_mutex_lock(&s->lock);
			json_t *v = json_object_get(s->repos, norm);
			by_ref = v && !strcmp(json_string_value(v), id);
			pthread_mutex_unlock(&s->lock);
			(void)check;
		}
		for (j = 0; j < n && strcmp(imgs[j].id, id); j++)
			;
		if (j == n) {
			struct saved *ni = realloc(imgs, (n + 1) * sizeof(*ni));
			_cleanup_free_ char *cp = NULL;
			if (!ni) {
				k = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
				goto out;
			}
			imgs = ni;
			memset(&imgs[n], 0, sizeof(imgs[n]));
			memcpy(imgs[n].id, id, sizeof(imgs[n].id));
			imgs[n].tags = json_array();
			cp = store_blob_path(s, id);
			if (!cp || skiff_json_read_file(cp, &imgs[n].config) < 0) {
				n++;
				k = skiff_error_set(err, SKIFF_EINTERNAL, EIO, "reading config of %s", id);
				goto out;
			}
			imgs[n].diffs = json_object_get(json_object_get(imgs[n].config, "rootfs"), "diff_ids");
			n++;
		}
		if (by_ref)
			json_array_append_new(imgs[j].tags, json_string(norm));
	}
	if (!n) {
		k = skiff_error_set(err, SKIFF_EINVAL, EINVAL, "no images specified");
		goto out;
	}
	if ((k = skiff_tar_writer_new(out_fd, &w)) < 0) {
		k = skiff_error_set(err, SKIFF_EINTERNAL, -k, "out of memory");
		goto out;
	}
	struct skiff_tar_entry dir = { .path = "blobs", .linkname = "", .type = SKIFF_TAR_DIR, .mode = 0755 };
	if ((k = skiff_tar_write_header(w, &dir)) < 0)
		goto werr;
	dir.path = "blobs/sha256";
	if ((k = skiff_tar_write_header(w, &dir)) < 0)
		goto werr;
	for (size_t i = 0; i < n; i++) {
		json_t *d, *layers = json_array(), *oci_layers = json_array(), *om;
		_cleanup_free_ char *omtext = NULL, *cfgname = blob_name(imgs[i].id);
		char omd[SKIFF_DIGEST_LEN];
		size_t j;

		if (!json_object_get(written, imgs[i].id)) {
			if ((k = write_blob_file(w, s, imgs[i].id, err)) < 0)
				goto out;
			json_object_set_new(written, imgs[i].id, json_true());
		}
		json_array_foreach(imgs[i].diffs, j, d)
		{
			const char *dg = json_string_value(d);
			char *ln = blob_name(dg);
			json_array_append_new(layers, json_string(ln ? ln : ""));
			free(ln);
			json_array_append_new(oci_layers,
					      json_pack("{s:s, s:s, s:I}", "mediaType",
							"application/vnd.oci.image.layer.v1.tar", "digest", dg, "size",
							blob_size(s, dg)));
			if (json_object_get(written, dg))
				continue;
			if ((k = write_blob_file(w, s, dg, err)) < 0) {
				json_decref(layers);
				json_decref(oci_layers);
				goto out;
			}
			json_object_set_new(written, dg, json_true());
		}
		om = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
			       "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
			       "application/vnd.oci.image.config.v1+json", "digest", imgs[i].id, "size",
			       blob_size(s, imgs[i].id), "layers", oci_layers);
		omtext = json_dumps(om, JSON_COMPACT);
		json_decref(om);
		if (!omtext) {
			json_decref(layers);
			k = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
			goto out;
		}
		skiff_sha256_digest(omtext, strlen(omtext), omd);
		if (!json_object_get(written, omd)) {
			_cleanup_free_ char *on = blob_name(omd);
			if ((k = skiff_tar_write_buffer(w, on, omtext, strlen(omtext), 0644, 0)) < 0) {
				json_decref(layers);
				goto werr;
			}
			json_object_set_new(written, omd, json_true());
		}
		json_array_append_new(manifest, json_pack("{s:s, s:O, s:o}", "Config", cfgname, "RepoTags",
							  imgs[i].tags, "Layers", layers));
		json_t *t;
		size_t ti;
		json_array_foreach(imgs[i].tags, ti, t)
		{
			char repo[512], tag[160], fq[600];
			skiff_ref_split(json_string_value(t), repo, sizeof(repo), tag, sizeof(tag));
			skiff_ref_fully_qualified(json_string_value(t), fq, sizeof(fq));
			json_array_append_new(index_m,
					      json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType",
							"application/vnd.oci.image.manifest.v1+json", "digest", omd, "size",
							(json_int_t)strlen(omtext), "annotations", "io.containerd.image.name",
							fq, "org.opencontainers.image.ref.name", tag));
			json_t *rp = json_object_get(repos, repo);
			if (!rp)
				json_object_set_new(repos, repo, rp = json_object());
			json_object_set_new(rp, tag,
					    json_string(skiff_digest_hex(json_string_value(
						    json_array_get(imgs[i].diffs, json_array_size(imgs[i].diffs) - 1)))));
		}
		if (!json_array_size(imgs[i].tags))
			json_array_append_new(index_m, json_pack("{s:s, s:s, s:I}", "mediaType",
								 "application/vnd.oci.image.manifest.v1+json", "digest",
								 omd, "size", (json_int_t)strlen(omtext)));
	}
	json_t *index = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType",
				  "application/vnd.oci.image.index.v1+json", "manifests", index_m);
	json_t *layout = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
	k = write_json_member(w, "index.json", index, err);
	if (k == 0)
		k = write_json_member(w, "manifest.json", manifest, err);
	if (k == 0)
		k = write_json_member(w, "oci-layout", layout, err);
	if (k == 0 && json_object_size(repos))
		k = write_json_member(w, "repositories", repos, err);
	json_decref(index);
	json_decref(layout);
	if (k < 0)
		goto out;
	k = skiff_tar_writer_finish(w);
	w = NULL;
	if (k < 0)
		goto werr;
	for (size_t i = 0; i < n; i++)
		store_event(s, "save", imgs[i].id, NULL);
	goto out;
werr:
	k = skiff_error_sys(err, SKIFF_EINTERNAL, -k, "writing image archive");
out:
	skiff_tar_writer_free(w);
	for (size_t i = 0; i < n; i++) {
		json_decref(imgs[i].tags);
		json_decref(imgs[i].config);
	}
	free(imgs);
	return k;
}
