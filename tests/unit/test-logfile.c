/* Unit tests for the json-file log writer and reader: Docker-compatible
 * lines (escaping, partial lines, the 16 KiB cut) and the since/until/tail/
 * stream filters of the reader. */
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/lib/json.h"
#include "../../userspace/runtime/logfile.h"

static struct timespec T(long s)
{
	struct timespec t = { .tv_sec = 1795811435 + s, .tv_nsec = 123456789 };
	return t;
}

TEST(format_matches_docker)
{
	_cleanup_free_ char *line = NULL;
	struct timespec ts = T(0);
	ssize_t n = skiff_logfile_format(SKIFF_LOG_STDOUT, "hi\n", 3, &ts, &line);
	ASSERT_GT(n, 0);
	char when[40];
	skiff_time_format(&ts, when);
	char want[200];
	snprintf(want, sizeof(want), "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\"%s\"}\n", when);
	EXPECT_STREQ(want, line);
	EXPECT_EQ((ssize_t)strlen(want), n);
}

TEST(format_escapes_like_go)
{
	/* quote, backslash, control, <>&, valid UTF-8, invalid byte, U+2028 */
	static const char in[] = "\"\\\x01\t<>&\xc3\xa9\xff\xe2\x80\xa8";
	_cleanup_free_ char *line = NULL;
	struct timespec ts = T(0);
	ssize_t n = skiff_logfile_format(SKIFF_LOG_STDERR, in, sizeof(in) - 1, &ts, &line);
	ASSERT_GT(n, 0);
	EXPECT_EQ(0, strncmp(line, "{\"log\":\"\\\"\\\\\\u0001\\t\\u003c\\u003e\\u0026\xc3\xa9\\ufffd\\u2028\",", 53));
	/* and it is valid JSON that decodes back (invalid byte as U+FFFD) */
	_cleanup_json_ json_t *j = json_loadb(line, (size_t)n, 0, NULL);
	ASSERT_NE(NULL, j);
	EXPECT_STREQ("stderr", skiff_json_str(j, "stream", ""));
	EXPECT_STREQ("\"\\\x01\t<>&\xc3\xa9\xef\xbf\xbd\xe2\x80\xa8", skiff_json_str(j, "log", ""));
}

TEST(format_keeps_nul)
{
	_cleanup_free_ char *line = NULL, *data = NULL;
	struct timespec ts = T(0), got;
	size_t dlen;
	int stream;
	ssize_t n = skiff_logfile_format(SKIFF_LOG_STDOUT, "a\0b\n", 4, &ts, &line);
	ASSERT_GT(n, 0);
	ASSERT_EQ(0, skiff_logfile_parse(line, (size_t)n, &stream, &data, &dlen, &got));
	EXPECT_EQ(4, dlen);
	EXPECT_EQ(0, memcmp(data, "a\0b\n", 4));
	EXPECT_EQ(ts.tv_sec, got.tv_sec);
	EXPECT_EQ(ts.tv_nsec, got.tv_nsec);
}

FIXTURE(logdir)
{
	char dir[64];
	char path[128];
};

FIXTURE_SETUP(logdir)
{
	strcpy(self->dir, "/tmp/skiff-test-logfile.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/c-json.log", self->dir);
}

FIXTURE_TEARDOWN(logdir)
{
	skiff_rm_rf(self->dir);
}

struct collected {
	int n;
	int streams[64];
	char *data[64];
	size_t len[64];
	struct timespec ts[64];
};

static int collect(int stream, const char *data, size_t len, const struct timespec *ts, void *ud)
{
	struct collected *c = ud;
	if (c->n >= 64)
		return 1;
	c->streams[c->n] = stream;
	c->data[c->n] = malloc(len + 1);
	memcpy(c->data[c->n], data, len);
	c->data[c->n][len] = '\0';
	c->len[c->n] = len;
	c->ts[c->n] = *ts;
	c->n++;
	return 0;
}

static void collected_free(struct collected *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->data[i]);
	c->n = 0;
}

static const struct skiff_logread_opts all_opts = { .stdout_on = true, .stderr_on = true, .tail = -1 };

TEST_F(logdir, writer_splits_lines_and_keeps_partials)
{
	struct skiff_logwriter w;
	struct collected c = { 0 };
	struct timespec ts = T(0);
	off_t next;

	ASSERT_EQ(0, skiff_logwriter_open(&w, self->path, NULL));
	ASSERT_EQ(0, skiff_logwriter_feed(&w, SKIFF_LOG_STDOUT, "one\ntw", 6, &ts));
	ASSERT_EQ(0, skiff_logwriter_feed(&w, SKIFF_LOG_STDERR, "err", 3, &ts));
	ASSERT_EQ(0, skiff_logwriter_feed(&w, SKIFF_LOG_STDOUT, "o\nthree", 7, &ts));
	/* EOF on stdout: the partial line goes out without \n */
	ASSERT_EQ(0, skiff_logwriter_flush(&w, SKIFF_LOG_STDOUT, &ts));
	ASSERT_EQ(0, skiff_logwriter_feed(&w, SKIFF_LOG_STDERR, "!\n", 2, &ts));
	skiff_logwriter_close(&w);

	ASSERT_EQ(0, skiff_logfile_read(self->path, &all_opts, collect, &c, &next, NULL));
	ASSERT_EQ(4, c.n);
	EXPECT_STREQ("one\n", c.data[0]);
	EXPECT_STREQ("two\n", c.data[1]);
	EXPECT_STREQ("three", c.data[2]);
	EXPECT_EQ(SKIFF_LOG_STDOUT, c.streams[2]);
	EXPECT_STREQ("err!\n", c.data[3]);
	EXPECT_EQ(SKIFF_LOG_STDERR, c.streams[3]);
	/* next is the end: following from there yields nothing new */
	_cleanup_free_ char *all = NULL;
	size_t len;
	ASSERT_EQ(0, skiff_read_file(self->path, &all, &len));
	EXPECT_EQ((off_t)len, next);
	collected_free(&c);
}

TEST_F(logdir, writer_cuts_long_lines_at_16k)
{
	struct skiff_logwriter w;
	struct collected c = { 0 };
	struct timespec ts = T(0);
	size_t n = SKIFF_LOG_LINE_MAX * 2 + 100;
	_cleanup_free_ char *big = malloc(n + 1);

	memset(big, 'x', n);
	big[n] = '\n';
	ASSERT_EQ(0, skiff_logwriter_open(&w, self->path, NULL));
	/* fed in odd pieces, as a pipe would deliver it */
	for (size_t off = 0; off < n + 1; off += 5000) {
		size_t k = n + 1 - off < 5000 ? n + 1 - off : 5000;
		ASSERT_EQ(0, skiff_logwriter_feed(&w, SKIFF_LOG_STDOUT, big + off, k, &ts));
	}
	EXPECT_EQ(NULL, w.part[0]); /* nothing held once the line is out */
	skiff_logwriter_close(&w);
	ASSERT_EQ(0, skiff_logfile_read(self->path, &all_opts, collect, &c, NULL, NULL));
	ASSERT_EQ(3, c.n);
	EXPECT_EQ(SKIFF_LOG_LINE_MAX, c.len[0]);
	EXPECT_EQ(SKIFF_LOG_LINE_MAX, c.len[1]);
	EXPECT_EQ(101, c.len[2]);
	EXPECT_EQ('\n', c.data[2][100]);
	EXPECT_EQ('x', c.data[0][SKIFF_LOG_LINE_MAX - 1]);
	collected_free(&c);
}

TEST_F(logdir, writer_off_writes_nothing)
{
	struct skiff_logwriter w;
	struct timespec ts = T(0);
	ASSERT_EQ(0, skiff_logwriter_open(&w, "", NULL));
	EXPECT_EQ(0, skiff_logwriter_feed(&w, SKIFF_LOG_STDOUT, "x\n", 2, &ts));
	skiff_logwriter_close(&w);
	EXPECT_EQ(-1, access(self->path, F_OK));
}

/* Ten entries, 1 s apart, alternating stdout/stderr. */
static void write_ten(const char *path)
{
	struct skiff_logwriter w;
	skiff_logwriter_open(&w, path, NULL);
	for (int i = 0; i < 10; i++) {
		char b[16];
		struct timespec ts = T(i);
		int n = snprintf(b, sizeof(b), "line%d\n", i);
		skiff_logwriter_feed(&w, i % 2 ? SKIFF_LOG_STDERR : SKIFF_LOG_STDOUT, b, (size_t)n, &ts);
	}
	skiff_logwriter_close(&w);
}

TEST_F(logdir, reader_filters_stream_since_until)
{
	struct collected c = { 0 };
	struct skiff_logread_opts o = all_opts;

	write_ten(self->path);
	o.stderr_on = false;
	ASSERT_EQ(0, skiff_logfile_read(self->path, &o, collect, &c, NULL, NULL));
	ASSERT_EQ(5, c.n);
	EXPECT_STREQ("line8\n", c.data[4]);
	collected_free(&c);

	o = all_opts;
	o.since = T(3); /* inclusive, as Docker */
	o.until = T(6);
	ASSERT_EQ(0, skiff_logfile_read(self->path, &o, collect, &c, NULL, NULL));
	ASSERT_EQ(4, c.n);
	EXPECT_STREQ("line3\n", c.data[0]);
	EXPECT_STREQ("line6\n", c.data[3]);
	collected_free(&c);
}

TEST_F(logdir, reader_tail)
{
	struct collected c = { 0 };
	struct skiff_logread_opts o = all_opts;
	off_t next = -1;

	write_ten(self->path);
	o.tail = 3;
	ASSERT_EQ(0, skiff_logfile_read(self->path, &o, collect, &c, &next, NULL));
	ASSERT_EQ(3, c.n);
	EXPECT_STREQ("line7\n", c.data[0]);
	EXPECT_STREQ("line9\n", c.data[2]);
	collected_free(&c);

	o.tail = 100;
	ASSERT_EQ(0, skiff_logfile_read(self->path, &o, collect, &c, NULL, NULL));
	EXPECT_EQ(10, c.n);
	collected_free(&c);

	/* tail 0: nothing, but the offset to follow from is the end */
	o.tail = 0;
	off_t end = -1;
	ASSERT_EQ(0, skiff_logfile_read(self->path, &o, collect, &c, &end, NULL));
	EXPECT_EQ(0, c.n);
	EXPECT_EQ(next, end);
}

TEST_F(logdir, reader_follows_from_offset_and_skips_torn_line)
{
	struct collected c = { 0 };
	struct skiff_logread_opts o = all_opts;
	off_t next;
	int fd;

	write_ten(self->path);
	ASSERT_EQ(0, skiff_logfile_read(self->path, &o, collect, &c, &next, NULL));
	EXPECT_EQ(10, c.n);
	collected_free(&c);
	/* a half-written line (writer mid-write) is not consumed */
	fd = open(self->path, O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(10, write(fd, "{\"log\":\"ne", 10));
	close(fd);
	o.offset = next;
	ASSERT_EQ(0, skiff_logfile_read(self->path, &o, collect, &c, &next, NULL));
	EXPECT_EQ(0, c.n);
	EXPECT_EQ(o.offset, next);
}

TEST_F(logdir, reader_missing_file_is_empty)
{
	struct collected c = { 0 };
	off_t next = 5;
	char p[160];
	snprintf(p, sizeof(p), "%s/nope", self->dir);
	EXPECT_EQ(0, skiff_logfile_read(p, &all_opts, collect, &c, &next, NULL));
	EXPECT_EQ(0, c.n);
	EXPECT_EQ(0, next);
}

TEST_HARNESS_MAIN
