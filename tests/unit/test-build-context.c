/* Unit tests for userspace/build/context.c: a context tar in, the
 * extracted tree with .dockerignore applied, the size limit, COPY source
 * resolution (globs, `..` and symlink escapes), the cache checksum, and
 * COPY's rules into a rootfs whose symlinks must not redirect writes. */
#include "kselftest_harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../userspace/build/context.h"
#include "../../userspace/image/tar.h"
#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"

FIXTURE(ctx)
{
	char base[64], tmp[128], rootfs[128], tarpath[128], outside[128];
	struct skiff_build_context *c;
};

static void add_file(struct skiff_tar_writer *w, const char *path, const char *data, mode_t mode)
{
	skiff_tar_write_buffer(w, path, data, strlen(data), mode, 1000000000);
}

static void add_entry(struct skiff_tar_writer *w, const char *path, char type, const char *link)
{
	struct skiff_tar_entry e = { .path = (char *)path, .linkname = (char *)link, .type = type, .mode = 0755 };
	skiff_tar_write_header(w, &e);
}

/* The standard context of these tests, plus extra bytes of padding. */
static int make_tar(const char *path, size_t pad)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct skiff_tar_writer *w = NULL;
	char *big;

	if (fd < 0 || skiff_tar_writer_new(fd, &w) < 0)
		return -1;
	add_file(w, "Dockerfile", "FROM busybox\nCOPY . /app\n", 0644);
	add_file(w, ".dockerignore", "*.log\n!keep.log\nsecret\ndocs\n!docs/README.md\n", 0644);
	add_file(w, "app.py", "print('hi')\n", 0755);
	add_file(w, "util.py", "x = 1\n", 0644);
	add_file(w, "debug.log", "noise\n", 0644);
	add_file(w, "keep.log", "kept\n", 0644);
	add_entry(w, "sub/", SKIFF_TAR_DIR, "");
	add_file(w, "sub/a.txt", "a\n", 0600);
	add_file(w, "sub/deep/b.txt", "b\n", 0644);
	add_entry(w, "sub/link", SKIFF_TAR_SYMLINK, "a.txt");
	add_file(w, "secret/key", "k\n", 0600);
	add_file(w, "docs/README.md", "r\n", 0644);
	add_file(w, "docs/other.md", "o\n", 0644);
	add_entry(w, "escape", SKIFF_TAR_SYMLINK, "/etc");
	add_entry(w, "escape2", SKIFF_TAR_SYMLINK, "../../../../..");
	if (pad) {
		big = calloc(1, pad);
		skiff_tar_write_buffer(w, "big", big, pad, 0644, 0);
		free(big);
	}
	skiff_tar_writer_finish(w);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

FIXTURE_SETUP(ctx)
{
	strcpy(self->base, "/tmp/skiff-unit-bctx-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	snprintf(self->tmp, sizeof(self->tmp), "%s/tmp", self->base);
	snprintf(self->rootfs, sizeof(self->rootfs), "%s/rootfs", self->base);
	snprintf(self->tarpath, sizeof(self->tarpath), "%s/ctx.tar", self->base);
	snprintf(self->outside, sizeof(self->outside), "%s/outside", self->base);
	ASSERT_EQ(0, skiff_mkdir_p(self->tmp, 0755));
	ASSERT_EQ(0, skiff_mkdir_p(self->rootfs, 0755));
	ASSERT_EQ(0, skiff_mkdir_p(self->outside, 0755));
	self->c = NULL;
}

FIXTURE_TEARDOWN(ctx)
{
	skiff_build_context_free(self->c);
	skiff_rm_rf(self->base);
}

static bool exists_in(const char *dir, const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

static int open_ctx(FIXTURE_DATA(ctx) * self, size_t pad, int64_t max, const char *df, struct skiff_error *err)
{
	_cleanup_close_ int fd = make_tar(self->tarpath, pad);
	if (fd < 0)
		return -1;
	return skiff_build_context_open(fd, max, self->tmp, df, &self->c, err);
}

static bool tmp_empty(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

TEST_F(ctx, extract_and_ignore)
{
	struct skiff_error err = { 0 };

	ASSERT_EQ(0, open_ctx(self, 0, 1 << 20, NULL, &err)) TH_LOG("%s", err.msg);
	EXPECT_STREQ("FROM busybox\nCOPY . /app\n", self->c->dockerfile);
	EXPECT_STREQ("Dockerfile", self->c->dockerfile_path);
	EXPECT_TRUE(exists_in(self->c->dir, "app.py"));
	EXPECT_TRUE(exists_in(self->c->dir, "keep.log"));
	EXPECT_FALSE(exists_in(self->c->dir, "debug.log"));
	EXPECT_FALSE(exists_in(self->c->dir, "secret"));
	EXPECT_TRUE(exists_in(self->c->dir, "docs/README.md"));
	EXPECT_FALSE(exists_in(self->c->dir, "docs/other.md"));
	EXPECT_TRUE(exists_in(self->c->dir, "sub/deep/b.txt"));
	EXPECT_TRUE(exists_in(self->c->dir, "Dockerfile")); /* not ignored: COPY . takes it, as Docker does */
	EXPECT_EQ(0, strncmp(self->c->dir, self->tmp, strlen(self->tmp)));
	skiff_build_context_free(self->c);
	self->c = NULL;
	EXPECT_TRUE(tmp_empty(self->tmp));
}

TEST_F(ctx, size_limit)
{
	struct skiff_error err = { 0 };

	EXPECT_GT(0, open_ctx(self, 3 << 20, 2 << 20, NULL, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("build context is larger than the limit of 2 MiB", err.msg);
	EXPECT_TRUE(tmp_empty(self->tmp));
}

TEST_F(ctx, dockerfile_missing)
{
	struct skiff_error err = { 0 };

	EXPECT_GT(0, open_ctx(self, 0, 0, "sub/Dockerfile.dev", &err));
	EXPECT_EQ(400, err.status);
	EXPECT_STREQ("Cannot locate specified Dockerfile: sub/Dockerfile.dev", err.msg);
	EXPECT_TRUE(tmp_empty(self->tmp));
	EXPECT_GT(0, open_ctx(self, 0, 0, "../../etc/passwd", &err));
	EXPECT_EQ(400, err.status);
	EXPECT_GT(0, open_ctx(self, 0, 0, "escape/passwd", &err));
	EXPECT_EQ(400, err.status);
}

TEST_F(ctx, bad_archive)
{
	struct skiff_error err = { 0 };
	_cleanup_close_ int fd = open(self->tarpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char junk[1024];

	memset(junk, 'x', sizeof(junk));
	ASSERT_EQ((ssize_t)sizeof(junk), write(fd, junk, sizeof(junk)));
	lseek(fd, 0, SEEK_SET);
	EXPECT_GT(0, skiff_build_context_open(fd, 0, self->tmp, NULL, &self->c, &err));
	EXPECT_EQ(400, err.status);
	EXPECT_TRUE(tmp_empty(self->tmp));
}

static const char *const *V(const char *const *v)
{
	return v;
}

TEST_F(ctx, resolve)
{
	struct skiff_error err = { 0 };
	struct skiff_build_srcs s = { 0 };
	unsigned int fl = SKIFF_BUILD_SRC_WILDCARDS;

	ASSERT_EQ(0, open_ctx(self, 0, 0, NULL, &err));
	ASSERT_EQ(0, skiff_build_context_resolve(self->c->dirfd, V((const char *[]){ "*.py", "sub", "./sub/link", NULL }),
						 fl, "COPY", &s, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(4, s.n);
	EXPECT_STREQ("app.py", s.v[0].path);
	EXPECT_STREQ("util.py", s.v[1].path);
	EXPECT_STREQ("sub", s.v[2].path);
	EXPECT_TRUE(s.v[2].dir);
	EXPECT_STREQ("sub/a.txt", s.v[3].path); /* a top-level symlink is followed */
	EXPECT_STREQ("link", s.v[3].name);
	skiff_build_srcs_free(&s);

	ASSERT_EQ(0, skiff_build_context_resolve(self->c->dirfd, V((const char *[]){ "/", NULL }), fl, "COPY", &s, &err));
	EXPECT_STREQ("", s.v[0].path);
	EXPECT_TRUE(s.v[0].dir);
	skiff_build_srcs_free(&s);

	static const struct {
		const char *src;
		unsigned int flags;
		const char *msg;
	} bad[] = {
		{ "../x", 0, "forbidden path outside the build context: ../x ()" },
		{ "sub/../../x", 0, "forbidden path outside the build context: sub/../../x ()" },
		{ "escape", 0, "forbidden path outside the build context: escape ()" },
		{ "escape/passwd", 0, "forbidden path outside the build context: escape/passwd ()" },
		{ "escape2/etc", 0, "forbidden path outside the build context: escape2/etc ()" },
		{ "nope.txt", 0, "COPY failed: file not found in build context or excluded by .dockerignore: stat nope.txt: file does not exist" },
		{ "debug.log", 0, "COPY failed: file not found in build context or excluded by .dockerignore: stat debug.log: file does not exist" },
		{ "*.rb", SKIFF_BUILD_SRC_WILDCARDS, "COPY failed: no source files were specified" },
		{ "http://example.com/x", SKIFF_BUILD_SRC_ADD, "ADD from a URL is not supported: the host has no route to fetch http://example.com/x" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		EXPECT_GT(0, skiff_build_context_resolve(self->c->dirfd, V((const char *[]){ bad[i].src, NULL }),
							 bad[i].flags, "COPY", &s, &err));
		EXPECT_EQ(400, err.status);
		EXPECT_STREQ(bad[i].msg, err.msg);
		EXPECT_EQ(0, s.n);
	}
}

static void checksum(FIXTURE_DATA(ctx) * self, const char *const *srcs, int chmod, char out[SKIFF_DIGEST_LEN],
		     struct __test_metadata *_metadata)
{
	struct skiff_error err = { 0 };
	struct skiff_build_srcs s = { 0 };
	ASSERT_EQ(0, skiff_build_context_resolve(self->c->dirfd, srcs, SKIFF_BUILD_SRC_WILDCARDS, "COPY", &s, &err));
	ASSERT_EQ(0, skiff_build_context_checksum(self->c->dirfd, &s, 0, 0, 0, chmod, out, &err));
	skiff_build_srcs_free(&s);
}

TEST_F(ctx, checksum)
{
	struct skiff_error err = { 0 };
	char a[SKIFF_DIGEST_LEN], b[SKIFF_DIGEST_LEN];
	const char *const all[] = { ".", NULL }, *const one[] = { "app.py", NULL };
	char p[512];
	struct timespec ts[2] = { { 5, 0 }, { 5, 0 } };

	ASSERT_EQ(0, open_ctx(self, 0, 0, NULL, &err));
	checksum(self, all, -1, a, _metadata);
	/* a fresh extraction of the same tar, then an mtime change: same sum */
	skiff_build_context_free(self->c);
	self->c = NULL;
	ASSERT_EQ(0, open_ctx(self, 0, 0, NULL, &err));
	snprintf(p, sizeof(p), "%s/sub/a.txt", self->c->dir);
	ASSERT_EQ(0, utimensat(AT_FDCWD, p, ts, 0));
	checksum(self, all, -1, b, _metadata);
	EXPECT_STREQ(a, b);
	/* chmod of the copy, a mode, content and name change it */
	checksum(self, all, 0700, b, _metadata);
	EXPECT_STRNE(a, b);
	ASSERT_EQ(0, chmod(p, 0644));
	checksum(self, all, -1, b, _metadata);
	EXPECT_STRNE(a, b);
	checksum(self, one, -1, a, _metadata);
	snprintf(p, sizeof(p), "%s/app.py", self->c->dir);
	ASSERT_EQ(0, skiff_write_file(p, "print('ho')\n"));
	checksum(self, one, -1, b, _metadata);
	EXPECT_STRNE(a, b);
	char q[512];
	snprintf(q, sizeof(q), "%s/sub/c.txt", self->c->dir);
	checksum(self, all, -1, a, _metadata);
	snprintf(p, sizeof(p), "%s/sub/a.txt", self->c->dir);
	ASSERT_EQ(0, rename(p, q));
	checksum(self, all, -1, b, _metadata);
	EXPECT_STRNE(a, b);
}

static char *slurp(const char *dir, const char *rel)
{
	char p[512], *s = NULL;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (skiff_read_file(p, &s, NULL) < 0)
		return NULL;
	return s;
}

static int copy(FIXTURE_DATA(ctx) * self, const char *const *srcs, const char *dest, int uid, int gid, int chmod,
		struct skiff_error *err)
{
	struct skiff_build_srcs s = { 0 };
	int r = skiff_build_context_resolve(self->c->dirfd, srcs, SKIFF_BUILD_SRC_WILDCARDS | SKIFF_BUILD_SRC_ADD,
					    "COPY", &s, err);
	if (r >= 0)
		r = skiff_build_context_copy(self->c->dirfd, &s, 0, self->rootfs, dest, uid, gid, chmod, err);
	skiff_build_srcs_free(&s);
	return r;
}

static struct stat st_of(const char *dir, const char *rel)
{
	char p[512];
	struct stat st = { 0 };
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	lstat(p, &st);
	return st;
}

TEST_F(ctx, copy_rules)
{
	struct skiff_error err = { 0 };
	_cleanup_free_ char *s1 = NULL, *s2 = NULL;
	char target[64];
	ssize_t n;

	ASSERT_EQ(0, open_ctx(self, 0, 0, NULL, &err));
	/* a directory source copies its contents; parents are created */
	ASSERT_EQ(0, copy(self, V((const char *[]){ "sub", NULL }), "/opt/app", 0, 0, -1, &err)) TH_LOG("%s", err.msg);
	EXPECT_TRUE(exists_in(self->rootfs, "opt/app/a.txt"));
	EXPECT_TRUE(exists_in(self->rootfs, "opt/app/deep/b.txt"));
	EXPECT_FALSE(exists_in(self->rootfs, "opt/app/sub"));
	EXPECT_EQ(0600, st_of(self->rootfs, "opt/app/a.txt").st_mode & 07777);
	EXPECT_EQ(1000000000, st_of(self->rootfs, "opt/app/a.txt").st_mtim.tv_sec);
	EXPECT_TRUE(S_ISLNK(st_of(self->rootfs, "opt/app/link").st_mode));
	n = readlink(strcat(strcpy((char[256]){ 0 }, self->rootfs), "/opt/app/link"), target, sizeof(target) - 1);
	ASSERT_LT(0, n);
	target[n] = '\0';
	EXPECT_STREQ("a.txt", target);

	/* file to a file name, file into an existing dir, several into a dir/ */
	ASSERT_EQ(0, copy(self, V((const char *[]){ "app.py", NULL }), "/bin/main.py", 0, 0, -1, &err));
	EXPECT_NE(NULL, s1 = slurp(self->rootfs, "bin/main.py"));
	EXPECT_STREQ("print('hi')\n", s1);
	EXPECT_EQ(0755, st_of(self->rootfs, "bin/main.py").st_mode & 07777);
	ASSERT_EQ(0, copy(self, V((const char *[]){ "util.py", NULL }), "/opt/app", 0, 0, -1, &err));
	EXPECT_TRUE(exists_in(self->rootfs, "opt/app/util.py"));
	ASSERT_EQ(0, copy(self, V((const char *[]){ "*.py", NULL }), "/multi/", 0, 0, -1, &err));
	EXPECT_TRUE(exists_in(self->rootfs, "multi/app.py"));
	EXPECT_TRUE(exists_in(self->rootfs, "multi/util.py"));
	ASSERT_EQ(0, copy(self, V((const char *[]){ "app.py", "util.py", NULL }), "/two", 0, 0, -1, &err));
	EXPECT_TRUE(S_ISDIR(st_of(self->rootfs, "two").st_mode));
	/* overwrite an existing file */
	ASSERT_EQ(0, copy(self, V((const char *[]){ "util.py", NULL }), "/bin/main.py", 0, 0, -1, &err));
	EXPECT_NE(NULL, s2 = slurp(self->rootfs, "bin/main.py"));
	EXPECT_STREQ("x = 1\n", s2);

	/* --chown and --chmod: everything copied and the created dirs */
	ASSERT_EQ(0, copy(self, V((const char *[]){ "sub", NULL }), "/home/u/data/", 1000, 1001, 0750, &err));
	struct stat st = st_of(self->rootfs, "home/u/data/deep/b.txt");
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(1001, st.st_gid);
	EXPECT_EQ(0750, st.st_mode & 07777);
	EXPECT_EQ(1000, st_of(self->rootfs, "home/u/data").st_uid);
	EXPECT_EQ(1000, st_of(self->rootfs, "home/u/data/link").st_uid);
	EXPECT_EQ(0, st_of(self->rootfs, "opt/app/a.txt").st_uid);

	/* a directory cannot be replaced by a file */
	ASSERT_EQ(0, copy(self, V((const char *[]){ "app.py", NULL }), "/opt/app/deep/", 0, 0, -1, &err));
	EXPECT_TRUE(exists_in(self->rootfs, "opt/app/deep/app.py"));
	ASSERT_EQ(0, skiff_mkdir_p(strcat(strcpy((char[256]){ 0 }, self->rootfs), "/x/app.py"), 0755));
	EXPECT_GT(0, copy(self, V((const char *[]){ "app.py", NULL }), "/x/", 0, 0, -1, &err));
	EXPECT_EQ(400, err.status);
}

TEST_F(ctx, copy_cannot_escape_rootfs)
{
	struct skiff_error err = { 0 };
	char p[512];

	ASSERT_EQ(0, open_ctx(self, 0, 0, NULL, &err));
	/* symlinks in the image pointing at / and at a host dir */
	snprintf(p, sizeof(p), "%s/evil", self->rootfs);
	ASSERT_EQ(0, symlink("/", p));
	snprintf(p, sizeof(p), "%s/evil2", self->rootfs);
	ASSERT_EQ(0, symlink(self->outside, p));
	snprintf(p, sizeof(p), "%s/evil3", self->rootfs);
	ASSERT_EQ(0, symlink("../../../../../../..", p));

	ASSERT_EQ(0, copy(self, V((const char *[]){ "app.py", NULL }), "/evil/skiff-test-pwned", 0, 0, -1, &err))
		TH_LOG("%s", err.msg);
	EXPECT_FALSE(exists_in("/", "skiff-test-pwned"));
	EXPECT_TRUE(exists_in(self->rootfs, "skiff-test-pwned"));
	unlink("/skiff-test-pwned");

	/* the target does not exist inside the root: an error, but no write outside */
	copy(self, V((const char *[]){ "app.py", NULL }), "/evil2/", 0, 0, -1, &err);
	EXPECT_FALSE(exists_in(self->outside, "app.py"));
	snprintf(p, sizeof(p), "%s%s", self->rootfs, self->outside);
	ASSERT_EQ(0, skiff_mkdir_p(p, 0755));
	ASSERT_EQ(0, copy(self, V((const char *[]){ "app.py", NULL }), "/evil2/", 0, 0, -1, &err)) TH_LOG("%s", err.msg);
	EXPECT_FALSE(exists_in(self->outside, "app.py"));
	EXPECT_TRUE(exists_in(p, "app.py"));

	ASSERT_EQ(0, copy(self, V((const char *[]){ "sub", NULL }), "/evil3/tmp/", 0, 0, -1, &err)) TH_LOG("%s", err.msg);
	EXPECT_TRUE(exists_in(self->rootfs, "tmp/a.txt"));
	EXPECT_FALSE(exists_in("/tmp", "a.txt") && st_of("/tmp", "a.txt").st_mtim.tv_sec == 1000000000);

	/* a file dest that is a symlink to outside is replaced, not followed */
	snprintf(p, sizeof(p), "%s/target", self->outside);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/f", self->rootfs);
	char t[512];
	snprintf(t, sizeof(t), "%s/target", self->outside);
	ASSERT_EQ(0, symlink(t, p));
	ASSERT_EQ(0, copy(self, V((const char *[]){ "app.py", NULL }), "/f", 0, 0, -1, &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(0, st_of(self->outside, "target").st_size);
	EXPECT_TRUE(S_ISREG(st_of(self->rootfs, "f").st_mode));
}

TEST_F(ctx, add_archive_and_heredoc)
{
	struct skiff_error err = { 0 };
	struct skiff_build_srcs s = { 0 };
	char p[512];
	_cleanup_free_ char *data = NULL;

	ASSERT_EQ(0, open_ctx(self, 0, 0, NULL, &err));
	/* put a tar into the context */
	snprintf(p, sizeof(p), "%s/inner.tar", self->c->dir);
	{
		_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		struct skiff_tar_writer *w = NULL;
		ASSERT_EQ(0, skiff_tar_writer_new(fd, &w));
		add_file(w, "etc/conf", "c=1\n", 0644);
		add_file(w, "../../escape", "no\n", 0644);
		skiff_tar_writer_finish(w);
	}
	ASSERT_EQ(0, skiff_build_context_resolve(self->c->dirfd, V((const char *[]){ "inner.tar", NULL }),
						 SKIFF_BUILD_SRC_ADD, "ADD", &s, &err));
	ASSERT_EQ(1, s.n);
	EXPECT_TRUE(s.v[0].archive);
	/* extraction refuses the escaping member, but nothing leaves dest */
	skiff_build_context_copy(self->c->dirfd, &s, 0, self->rootfs, "/srv", 0, 0, -1, &err);
	EXPECT_FALSE(exists_in(self->base, "escape"));
	skiff_build_srcs_free(&s);
	/* without ADD it is a plain file */
	ASSERT_EQ(0, skiff_build_context_resolve(self->c->dirfd, V((const char *[]){ "inner.tar", NULL }), 0, "COPY",
						 &s, &err));
	EXPECT_FALSE(s.v[0].archive);
	skiff_build_srcs_free(&s);

	ASSERT_EQ(0, skiff_build_context_copy_data(self->rootfs, "/etc/motd", "EOF", "hello\n", 6, 0, 0, -1, &err));
	EXPECT_NE(NULL, data = slurp(self->rootfs, "etc/motd"));
	EXPECT_STREQ("hello\n", data);
	EXPECT_EQ(0644, st_of(self->rootfs, "etc/motd").st_mode & 07777);
	ASSERT_EQ(0, skiff_build_context_copy_data(self->rootfs, "/etc/", "EOF", "x", 1, 0, 0, 0600, &err));
	EXPECT_EQ(0600, st_of(self->rootfs, "etc/EOF").st_mode & 07777);
}

TEST_F(ctx, add_archive_good)
{
	struct skiff_error err = { 0 };
	struct skiff_build_srcs s = { 0 };
	char p[512];
	_cleanup_free_ char *data = NULL;

	ASSERT_EQ(0, open_ctx(self, 0, 0, NULL, &err));
	snprintf(p, sizeof(p), "%s/inner.tar", self->c->dir);
	{
		_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		struct skiff_tar_writer *w = NULL;
		ASSERT_EQ(0, skiff_tar_writer_new(fd, &w));
		add_file(w, "etc/conf", "c=1\n", 0644);
		skiff_tar_writer_finish(w);
	}
	ASSERT_EQ(0, skiff_build_context_resolve(self->c->dirfd, V((const char *[]){ "inner.tar", NULL }),
						 SKIFF_BUILD_SRC_ADD, "ADD", &s, &err));
	ASSERT_EQ(0, skiff_build_context_copy(self->c->dirfd, &s, 0, self->rootfs, "/srv", 0, 0, -1, &err))
		TH_LOG("%s", err.msg);
	EXPECT_NE(NULL, data = slurp(self->rootfs, "srv/etc/conf"));
	EXPECT_STREQ("c=1\n", data);
	skiff_build_srcs_free(&s);
}

TEST_HARNESS_MAIN
