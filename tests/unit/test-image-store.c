/* Unit tests for the image store in a temp data root: import with changes,
 * inspect/list/history shapes, tag, remove (conflicts and reports), layer
 * sharing, and a save -> load round trip that keeps the image id. */
#include "kselftest_harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../userspace/image/store.h"
#include "../../userspace/image/tar.h"
#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/lib/json.h"

FIXTURE(store)
{
	char root[64];
	struct skiff_store *s;
	int events;
	bool busy;
};

static void on_event(const char *action, const char *id, const char *ref, void *data)
{
	(void)action, (void)id, (void)ref;
	((FIXTURE_DATA(store) *)data)->events++;
}

static bool in_use(const char *id, void *data)
{
	(void)id;
	return ((FIXTURE_DATA(store) *)data)->busy;
}

FIXTURE_SETUP(store)
{
	struct skiff_error err = { 0 };
	strcpy(self->root, "/tmp/skiff-unit-store-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->root));
	ASSERT_EQ(0, skiff_store_open(self->root, &self->s, &err)) TH_LOG("%s", err.msg);
	skiff_store_set_hooks(self->s, in_use, on_event, self);
}

FIXTURE_TEARDOWN(store)
{
	skiff_store_close(self->s);
	skiff_rm_rf(self->root);
}

/* A small rootfs tarball in an unlinked temp file, offset 0. */
static int rootfs_tar(const char *content)
{
	char path[] = "/tmp/skiff-unit-rootfs-XXXXXX";
	struct skiff_tar_writer *w;
	int fd = mkstemp(path);
	unlink(path);
	skiff_tar_writer_new(fd, &w);
	struct skiff_tar_entry d = { .path = "./", .linkname = "", .type = SKIFF_TAR_DIR, .mode = 0755 };
	skiff_tar_write_header(w, &d);
	d.path = "./bin";
	skiff_tar_write_header(w, &d);
	skiff_tar_write_buffer(w, "./bin/hello", content, strlen(content), 0755, 1700000000);
	skiff_tar_writer_finish(w);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

TEST_F(store, import_inspect_tag_remove)
{
	struct skiff_error err = { 0 };
	char *const changes[] = { "CMD echo hi", "ENV A=1 B=\"two words\"", "WORKDIR /srv", "EXPOSE 80 53/udp",
				  "LABEL x=y", "ENTRYPOINT [\"/bin/hello\"]", "VOLUME /data", NULL };
	_cleanup_free_ char *id = NULL;
	char rid[72];
	int fd = rootfs_tar("hello");

	ASSERT_EQ(0, skiff_image_import(self->s, fd, "imported", changes, NULL, &id, &err)) TH_LOG("%s", err.msg);
	close(fd);
	ASSERT_EQ(0, skiff_image_resolve(self->s, "imported:latest", rid, &err));
	EXPECT_STREQ(id, rid);
	ASSERT_EQ(0, skiff_image_resolve(self->s, id + 7, rid, &err)); /* bare hex */
	ASSERT_EQ(0, skiff_image_resolve(self->s, "docker.io/library/imported", rid, &err));
	EXPECT_EQ(-ENOENT, skiff_image_resolve(self->s, "nothere", rid, &err));
	EXPECT_EQ(404, err.status);
	EXPECT_STREQ("No such image: nothere", err.msg);

	json_t *j = skiff_image_inspect_json(self->s, "imported", &err);
	ASSERT_NE(NULL, j);
	json_t *cfg = json_object_get(j, "Config");
	EXPECT_STREQ("/bin/sh", json_string_value(json_array_get(json_object_get(cfg, "Cmd"), 0)));
	EXPECT_STREQ("echo hi", json_string_value(json_array_get(json_object_get(cfg, "Cmd"), 2)));
	EXPECT_STREQ("B=two words", json_string_value(json_array_get(json_object_get(cfg, "Env"), 1)));
	EXPECT_STREQ("/srv", skiff_json_str(cfg, "WorkingDir", ""));
	EXPECT_NE(NULL, json_object_get(json_object_get(cfg, "ExposedPorts"), "53/udp"));
	EXPECT_NE(NULL, json_object_get(json_object_get(cfg, "ExposedPorts"), "80/tcp"));
	EXPECT_NE(NULL, json_object_get(json_object_get(cfg, "Volumes"), "/data"));
	EXPECT_STREQ("y", skiff_json_str(json_object_get(cfg, "Labels"), "x", ""));
	EXPECT_STREQ("amd64", skiff_json_str(j, "Architecture", ""));
	EXPECT_STREQ("imported:latest", json_string_value(json_array_get(json_object_get(j, "RepoTags"), 0)));
	EXPECT_EQ(1, json_array_size(json_object_get(json_object_get(j, "RootFS"), "Layers")));
	EXPECT_EQ(5, skiff_json_int(j, "Size", 0));
	const char *upper = skiff_json_str(json_object_get(json_object_get(j, "GraphDriver"), "Data"), "UpperDir", "");
	char p[512];
	snprintf(p, sizeof(p), "%s/bin/hello", upper);
	EXPECT_EQ(0, access(p, X_OK));
	json_decref(j);

	/* a bad change is a 400 */
	fd = rootfs_tar("x");
	EXPECT_GT(0, skiff_image_import(self->s, fd, NULL, (char *const[]){ "FROM x", NULL }, NULL, NULL, &err));
	EXPECT_EQ(400, err.status);
	close(fd);

	j = skiff_image_history_json(self->s, "imported", &err);
	ASSERT_NE(NULL, j);
	EXPECT_EQ(1, json_array_size(j));
	EXPECT_STREQ(id, skiff_json_str(json_array_get(j, 0), "Id", ""));
	EXPECT_STREQ("Imported from -", skiff_json_str(json_array_get(j, 0), "Comment", ""));
	json_decref(j);

	ASSERT_EQ(0, skiff_image_tag(self->s, "imported", "other/repo", "v1", &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(-EINVAL, skiff_image_tag(self->s, "imported", "Bad", "v1", &err));

	j = skiff_image_list_json(self->s, false, NULL, &err);
	ASSERT_EQ(1, json_array_size(j));
	EXPECT_EQ(2, json_array_size(json_object_get(json_array_get(j, 0), "RepoTags")));
	json_decref(j);
	json_t *f = json_pack("{s:[s]}", "reference", "other/*");
	j = skiff_image_list_json(self->s, false, f, &err);
	ASSERT_EQ(1, json_array_size(j));
	EXPECT_EQ(1, json_array_size(json_object_get(json_array_get(j, 0), "RepoTags")));
	json_decref(j);
	json_decref(f);
	f = json_pack("{s:[s]}", "dangling", "true");
	j = skiff_image_list_json(self->s, false, f, &err);
	EXPECT_EQ(0, json_array_size(j));
	json_decref(j);
	json_decref(f);

	/* by id with tags in two repositories: 409 unless forced */
	json_t *rep = NULL;
	EXPECT_EQ(-EBUSY, skiff_image_remove(self->s, id + 7, false, false, &rep, &err));
	EXPECT_EQ(409, err.status);
	EXPECT_NE(NULL, strstr(err.msg, "image is referenced in multiple repositories"));
	/* untag one: only Untagged */
	ASSERT_EQ(0, skiff_image_remove(self->s, "other/repo:v1", false, false, &rep, &err));
	EXPECT_EQ(1, json_array_size(rep));
	EXPECT_STREQ("other/repo:v1", skiff_json_str(json_array_get(rep, 0), "Untagged", ""));
	json_decref(rep);
	/* in use: conflict */
	self->busy = true;
	EXPECT_EQ(-EBUSY, skiff_image_remove(self->s, "imported", false, false, &rep, &err));
	self->busy = false;
	ASSERT_EQ(0, skiff_image_remove(self->s, "imported", false, false, &rep, &err));
	EXPECT_EQ(2, json_array_size(rep));
	EXPECT_STREQ(id, skiff_json_str(json_array_get(rep, 1), "Deleted", ""));
	json_decref(rep);
	EXPECT_EQ(0, skiff_image_count(self->s));
	EXPECT_LT(3, self->events);
	/* the layer went with the last image using it */
	EXPECT_NE(0, access(upper, F_OK));
}

TEST_F(store, layers_shared_and_reopen)
{
	struct skiff_error err = { 0 };
	_cleanup_free_ char *a = NULL, *b = NULL;
	int fd = rootfs_tar("same");
	ASSERT_EQ(0, skiff_image_import(self->s, fd, "a", (char *const[]){ "CMD [\"a\"]", NULL }, NULL, &a, &err));
	lseek(fd, 0, SEEK_SET);
	ASSERT_EQ(0, skiff_image_import(self->s, fd, "b", (char *const[]){ "CMD [\"b\"]", NULL }, NULL, &b, &err));
	close(fd);
	EXPECT_STRNE(a, b);
	json_t *cfg;
	char **lowers;
	ASSERT_EQ(0, skiff_image_runtime(self->s, "a", &cfg, &lowers, &err));
	char **lb;
	json_t *cb;
	ASSERT_EQ(0, skiff_image_runtime(self->s, "b", &cb, &lb, &err));
	EXPECT_STREQ(lowers[0], lb[0]); /* one extracted layer for both */
	EXPECT_STREQ("a", json_string_value(json_array_get(json_object_get(cfg, "Cmd"), 0)));
	json_decref(cfg);
	json_decref(cb);
	skiff_strvfree(lb);

	/* state survives a reopen */
	skiff_store_close(self->s);
	ASSERT_EQ(0, skiff_store_open(self->root, &self->s, &err));
	EXPECT_EQ(2, skiff_image_count(self->s));
	char id[72];
	ASSERT_EQ(0, skiff_image_resolve(self->s, "b", id, &err));
	EXPECT_STREQ(b, id);

	json_t *rep;
	ASSERT_EQ(0, skiff_image_remove(self->s, "a", false, false, &rep, &err));
	json_decref(rep);
	EXPECT_EQ(0, access(lowers[0], F_OK)); /* b still uses it */
	skiff_strvfree(lowers);

	/* prune: untag b via tag move leaves it dangling */
	fd = rootfs_tar("other");
	ASSERT_EQ(0, skiff_image_import(self->s, fd, "b", NULL, NULL, NULL, &err));
	close(fd);
	ASSERT_EQ(0, skiff_image_prune(self->s, false, NULL, &rep, &err));
	json_t *del = json_object_get(rep, "ImagesDeleted");
	ASSERT_EQ(1, json_array_size(del));
	EXPECT_STREQ(b, skiff_json_str(json_array_get(del, 0), "Deleted", ""));
	json_decref(rep);
}

TEST_F(store, save_load_round_trip_keeps_id)
{
	struct skiff_error err = { 0 };
	_cleanup_free_ char *id = NULL;
	char path[128], id2[72];
	json_t *loaded = NULL, *rep;
	int fd = rootfs_tar("payload");

	ASSERT_EQ(0, skiff_image_import(self->s, fd, "rt:1", NULL, NULL, &id, &err));
	close(fd);
	snprintf(path, sizeof(path), "%s/save.tar", self->root);
	int out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_EQ(0, skiff_image_save(self->s, (char *const[]){ "rt:1", NULL }, out, &err)) TH_LOG("%s", err.msg);

	/* the archive carries both formats */
	struct skiff_tar_reader *r;
	const struct skiff_tar_entry *e;
	int seen = 0;
	lseek(out, 0, SEEK_SET);
	skiff_tar_reader_new(out, &r);
	while (skiff_tar_next(r, &e) > 0)
		seen |= (!strcmp(e->path, "manifest.json") ? 1 : 0) | (!strcmp(e->path, "index.json") ? 2 : 0) |
			(!strcmp(e->path, "oci-layout") ? 4 : 0) | (!strcmp(e->path, "repositories") ? 8 : 0);
	skiff_tar_reader_free(r);
	EXPECT_EQ(15, seen);

	ASSERT_EQ(0, skiff_image_remove(self->s, "rt:1", false, false, &rep, &err));
	json_decref(rep);
	ASSERT_EQ(0, skiff_image_count(self->s));

	lseek(out, 0, SEEK_SET);
	ASSERT_EQ(0, skiff_image_load(self->s, out, &loaded, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(1, json_array_size(loaded));
	EXPECT_STREQ("Loaded image: rt:1", json_string_value(json_array_get(loaded, 0)));
	json_decref(loaded);
	ASSERT_EQ(0, skiff_image_resolve(self->s, "rt:1", id2, &err));
	EXPECT_STREQ(id, id2);

	/* the OCI half alone loads too */
	char oci[160];
	snprintf(oci, sizeof(oci), "%s/oci", self->root);
	mkdir(oci, 0755);
	int ofd = open(oci, O_RDONLY | O_DIRECTORY);
	lseek(out, 0, SEEK_SET);
	skiff_tar_reader_new(out, &r);
	ASSERT_EQ(0, skiff_tar_extract(r, ofd, SKIFF_TAR_X_NO_CHOWN, NULL, &err));
	skiff_tar_reader_free(r);
	char mj[200];
	snprintf(mj, sizeof(mj), "%s/manifest.json", oci);
	unlink(mj);
	snprintf(mj, sizeof(mj), "%s/oci.tar", self->root);
	int ot = open(mj, O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct skiff_tar_writer *w;
	skiff_tar_writer_new(ot, &w);
	ASSERT_EQ(0, skiff_tar_write_tree(w, ofd, "", &err));
	skiff_tar_writer_finish(w);
	close(ofd);
	ASSERT_EQ(0, skiff_image_remove(self->s, "rt:1", false, false, &rep, &err));
	json_decref(rep);
	lseek(ot, 0, SEEK_SET);
	ASSERT_EQ(0, skiff_image_load(self->s, ot, &loaded, &err)) TH_LOG("%s", err.msg);
	EXPECT_STREQ("Loaded image: rt:1", json_string_value(json_array_get(loaded, 0)));
	json_decref(loaded);
	ASSERT_EQ(0, skiff_image_resolve(self->s, "rt:1", id2, &err));
	EXPECT_STREQ(id, id2);
	close(ot);
	close(out);

	/* garbage is a clean 400 */
	char junk[] = "/tmp/skiff-unit-junk-XXXXXX";
	int jf = mkstemp(junk);
	unlink(junk);
	write(jf, "not a tar at all", 16);
	lseek(jf, 0, SEEK_SET);
	EXPECT_GT(0, skiff_image_load(self->s, jf, &loaded, &err));
	EXPECT_EQ(400, err.status);
	close(jf);
}

TEST_HARNESS_MAIN
