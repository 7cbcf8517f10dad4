/* Image commit for the builder: a build step's overlay upper dir becomes a
 * store layer by rename (no re-extraction), with its tar blob written from
 * the same tree (overlay whiteouts turned into .wh. entries, sorted) so save
 * and push see a normal layer; the new config is registered untagged. */
#include "store-internal.h"
#include "tar-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"

int skiff_store_scratch_dir(struct skiff_store *s, char **path, struct skiff_error *err)
{
	int r = store_tmpdir(s, path);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "creating a build directory");
	return 0;
}

static bool dir_empty(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	if (!d)
		return true;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

/* The top layer chain id of an image ("" for none), lock taken here. */
static int top_chain(struct skiff_store *s, const char *id, char chain[SKIFF_DIGEST_LEN], struct skiff_error *err)
{
	json_t *img, *layers;
	chain[0] = '\0';
	if (!id || !id[0])
		return 0;
	pthread_mutex_lock(&s->lock);
	img = json_object_get(s->images, id);
	layers = json_object_get(json_object_get(img, "meta"), "Layers");
	if (img && json_array_size(layers))
		snprintf(chain, SKIFF_DIGEST_LEN, "%s",
			 json_string_value(json_array_get(layers, json_array_size(layers) - 1)));
	pthread_mutex_unlock(&s->lock);
	if (!img)
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", id);
	return 0;
}

/* Writes the layer blob from upper, renames upper into layers/<chain>/diff. */
static int layer_from_upper(struct skiff_store *s, const char *parent_chain, const char *upper,
			    char diffid[SKIFF_DIGEST_LEN], struct skiff_error *err)
{
	_cleanup_free_ char *tmpdir = NULL, *tmpblob = NULL, *diff = NULL;
	_cleanup_close_ int bfd = -1, ufd = -1;
	struct skiff_tar_writer *w = NULL;
	int64_t size = 0;
	char chain[SKIFF_DIGEST_LEN];
	int k;

	if ((k = store_tmpdir(s, &tmpdir)) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -k, "creating layer directory");
	if ((bfd = store_tmpfile(s, &tmpblob)) < 0) {
		k = skiff_error_sys(err, SKIFF_EINTERNAL, -bfd, "creating layer blob");
		goto fail;
	}
	if ((ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		k = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening '%s'", upper);
		goto fail;
	}
	if ((k = skiff_tar_writer_new(bfd, &w)) < 0) {
		skiff_error_sys(err, SKIFF_EINTERNAL, -k, "writing layer");
		goto fail;
	}
	k = tar_write_tree_flags(w, ufd, "", TAR_TREE_OVERLAY_UPPER, &size, err);
	if (k < 0) {
		skiff_tar_writer_free(w);
		if (!err || !err->status)
			skiff_error_sys(err, SKIFF_EINTERNAL, -k, "writing layer");
		goto fail;
	}
	if ((k = skiff_tar_writer_finish(w)) < 0 || (lseek(bfd, 0, SEEK_SET) < 0 && (k = -errno)) ||
	    (k = skiff_sha256_fd(bfd, diffid)) < 0) {
		skiff_error_sys(err, SKIFF_EINTERNAL, -k, "writing layer");
		goto fail;
	}
	store_chain_id(parent_chain, diffid, chain);
	if (store_layer_exists(s, chain)) {
		/* the same change was committed before: keep the stored copy */
		unlink(tmpblob);
		skiff_rm_rf(tmpdir);
		skiff_rm_rf(upper);
		return 0;
	}
	if (!(diff = skiff_path_join(tmpdir, "diff"))) {
		k = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		goto fail;
	}
	if (rename(upper, diff) < 0) {
		k = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "moving layer into the store");
		goto fail;
	}
	if ((k = store_layer_install(s, tmpdir, &tmpblob, bfd, parent_chain, diffid, size, chain, err)) < 0)
		goto fail;
	return 0;
fail:
	if (tmpblob)
		unlink(tmpblob);
	if (tmpdir)
		skiff_rm_rf(tmpdir);
	skiff_rm_rf(upper);
	return k;
}

int skiff_image_commit(struct skiff_store *s, const char *parent_id, const char *upper_dir, json_t *config,
		       char id[72], struct skiff_error *err)
{
	char chain[SKIFF_DIGEST_LEN], diffid[SKIFF_DIGEST_LEN];
	json_t *rootfs, *diffs, *hist;
	_cleanup_free_ char *text = NULL;
	bool empty = !upper_dir || dir_empty(upper_dir);
	int r;

	if ((r = top_chain(s, parent_id, chain, err)) < 0) {
		if (upper_dir)
			skiff_rm_rf(upper_dir);
		return r;
	}
	rootfs = json_object_get(config, "rootfs");
	if (!json_is_object(rootfs)) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(config, "rootfs", rootfs);
	}
	diffs = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(diffs)) {
		diffs = json_array();
		json_object_set_new(rootfs, "diff_ids", diffs);
	}
	if (empty) {
		if (upper_dir)
			skiff_rm_rf(upper_dir);
	} else {
		if ((r = layer_from_upper(s, chain, upper_dir, diffid, err)) < 0)
			return r;
		json_array_append_new(diffs, json_string(diffid));
	}
	hist = json_object_get(config, "history");
	if (json_array_size(hist)) {
		json_t *last = json_array_get(hist, json_array_size(hist) - 1);
		if (empty)
			json_object_set_new(last, "empty_layer", json_true());
		else
			json_object_del(last, "empty_layer");
	}
	if (!(text = json_dumps(config, JSON_COMPACT)))
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if ((r = store_image_add(s, text, strlen(text), id, err)) < 0)
		return r;
	/* remember the parent (docker's image parent chain: intermediates are
	 * hidden from the list and found by the cache and prune) */
	pthread_mutex_lock(&s->lock);
	json_t *img = json_object_get(s->images, id), *meta = json_object_get(img, "meta");
	if (meta && !json_object_get(meta, "Parent")) {
		_cleanup_free_ char *p = store_path(s, "images/%s.json", skiff_digest_hex(id));
		json_object_set_new(meta, "Parent", json_string(parent_id ? parent_id : ""));
		if (p)
			skiff_json_write_file(p, meta);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int skiff_image_config(struct skiff_store *s, const char *ref, json_t **config, struct skiff_error *err)
{
	char id[72];
	int r = skiff_image_resolve(s, ref, id, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	json_t *c = json_object_get(json_object_get(s->images, id), "config");
	*config = c ? json_deep_copy(c) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (!*config)
		return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", ref);
	return 0;
}

json_t *skiff_image_parents(struct skiff_store *s)
{
	json_t *out = json_object(), *img;
	const char *id;
	pthread_mutex_lock(&s->lock);
	json_object_foreach(s->images, id, img)
	{
		json_t *p = json_object_get(json_object_get(img, "meta"), "Parent");
		if (json_is_string(p))
			json_object_set(out, id, p);
	}
	pthread_mutex_unlock(&s->lock);
	return out;
}

int skiff_image_remove_unused(struct skiff_store *s, const char *id, int64_t *freed)
{
	json_t *img, *v, *report = NULL;
	const char *k;
	bool busy = false;
	int64_t size;

	pthread_mutex_lock(&s->lock);
	img = json_object_get(s->images, id);
	if (!img) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	size = skiff_json_int(json_object_get(img, "meta"), "Size", 0);
	json_object_foreach(s->repos, k, v) busy = busy || !strcmp(json_string_value(v), id);
	json_object_foreach(s->images, k, v)
		busy = busy || !strcmp(skiff_json_str(json_object_get(v, "meta"), "Parent", ""), id);
	pthread_mutex_unlock(&s->lock);
	if (busy || (s->in_use && pthread_equal(pthread_self(), s->owner) && s->in_use(id, s->hook_data)))
		return -EBUSY;
	if (skiff_image_remove(s, id, false, false, &report, NULL) < 0)
		return -EBUSY;
	json_decref(report);
	if (freed)
		*freed += size;
	return 0;
}
