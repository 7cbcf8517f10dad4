/* json-file logs as Docker writes and reads them. The writer is on the
 * monitor's hot path (every line of every container) so it formats by hand
 * into one buffer and issues one write() per flush; the reader is jansson. */
#include "logfile.h"
#include "../lib/fs.h"
#include "../lib/cleanup.h"
#include "../lib/json.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const stream_names[] = { [SKIFF_LOG_STDOUT] = "stdout", [SKIFF_LOG_STDERR] = "stderr" };

/* Length of a valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Worst case: every byte becomes \u00XX (6) or U+FFFD (6 as \ufffd). */
static char *escape_into(char *o, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c < 0x80) {
			*o++ = '\\';
			switch (c) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			default:
				*o++ = 'u', *o++ = '0', *o++ = '0';
				*o++ = hex[c >> 4], *o++ = hex[c & 15];
			}
			i++;
			continue;
		}
		size_t l = utf8_seq(p + i, n - i);
		if (!l) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (l == 3 && p[i] == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
			memcpy(o, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
			o += 6;
			i += 3;
		} else {
			memcpy(o, p + i, l);
			o += l;
			i += l;
		}
	}
	return o;
}

ssize_t skiff_logfile_format(int stream, const void *data, size_t len, const struct timespec *ts, char **out)
{
	char when[40];
	char *buf, *o;

	if (stream != SKIFF_LOG_STDOUT && stream != SKIFF_LOG_STDERR)
		return -EINVAL;
	skiff_time_format(ts, when);
	buf = malloc(len * 6 + 96);
	if (!buf)
		return -ENOMEM;
	o = buf;
	o = stpcpy(o, "{\"log\":\"");
	o = escape_into(o, data, len);
	o = stpcpy(o, "\",\"stream\":\"");
	o = stpcpy(o, stream_names[stream]);
	o = stpcpy(o, "\",\"time\":\"");
	o = stpcpy(o, when);
	o = stpcpy(o, "\"}\n");
	*out = buf;
	return o - buf;
}

static int write_entry(struct skiff_logwriter *w, int stream, const void *data, size_t len,
		       const struct timespec *ts)
{
	_cleanup_free_ char *line = NULL;
	ssize_t n;

	if (w->fd < 0 || !len)
		return 0;
	n = skiff_logfile_format(stream, data, len, ts, &line);
	if (n < 0)
		return (int)n;
	return skiff_write_all(w->fd, line, (size_t)n);
}

int skiff_logwriter_open(struct skiff_logwriter *w, const char *path, struct skiff_error *err)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (!path || !*path)
		return 0;
	w->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (w->fd < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening log file '%s'", path);
	return 0;
}

/* Appends to the stream's partial buffer; emits it when it reaches the cap. */
static int part_append(struct skiff_logwriter *w, int s, const char *p, size_t n, const struct timespec *ts)
{
	while (n) {
		size_t room = SKIFF_LOG_LINE_MAX - w->partlen[s];
		size_t take = n < room ? n : room;
		if (!w->part[s]) {
			w->part[s] = malloc(SKIFF_LOG_LINE_MAX);
			if (!w->part[s])
				return -ENOMEM;
		}
		memcpy(w->part[s] + w->partlen[s], p, take);
		w->partlen[s] += (uint32_t)take;
		p += take;
		n -= take;
		if (w->partlen[s] == SKIFF_LOG_LINE_MAX) {
			int r = skiff_logwriter_flush(w, s + 1, ts);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int skiff_logwriter_feed(struct skiff_logwriter *w, int stream, const void *buf, size_t len,
			 const struct timespec *ts)
{
	const char *p = buf, *end = p + len;
	int s = stream - 1, r;

	if (s < 0 || s > 1)
		return -EINVAL;
	if (w->fd < 0)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return part_append(w, s, p, (size_t)(end - p), ts);
		size_t n = (size_t)(nl + 1 - p);
		if (w->partlen[s] || n > SKIFF_LOG_LINE_MAX) {
			/* complete a pending line or cut a long one at the cap */
			r = part_append(w, s, p, n, ts);
			if (r == 0 && w->partlen[s])
				r = skiff_logwriter_flush(w, stream, ts);
		} else {
			r = write_entry(w, stream, p, n, ts);
		}
		if (r < 0)
			return r;
		p = nl + 1;
	}
	return 0;
}

int skiff_logwriter_flush(struct skiff_logwriter *w, int stream, const struct timespec *ts)
{
	int s = stream - 1, r;

	if (s < 0 || s > 1)
		return -EINVAL;
	if (!w->partlen[s])
		return 0;
	r = write_entry(w, stream, w->part[s], w->partlen[s], ts);
	w->partlen[s] = 0;
	/* give the 16 KiB back: a quiet container should cost nothing */
	free(w->part[s]);
	w->part[s] = NULL;
	return r;
}

void skiff_logwriter_close(struct skiff_logwriter *w)
{
	for (int s = 0; s < 2; s++) {
		free(w->part[s]);
		w->part[s] = NULL;
		w->partlen[s] = 0;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

int skiff_logfile_parse(const char *line, size_t len, int *stream, char **data, size_t *dlen, struct timespec *ts)
{
	_cleanup_json_ json_t *j = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
	json_t *log;
	const char *st, *t;

	if (!json_is_object(j))
		return -EBADMSG;
	log = json_object_get(j, "log");
	st = skiff_json_str(j, "stream", "");
	t = skiff_json_str(j, "time", NULL);
	if (!json_is_string(log) || !t)
		return -EBADMSG;
	if (!strcmp(st, "stdout"))
		*stream = SKIFF_LOG_STDOUT;
	else if (!strcmp(st, "stderr"))
		*stream = SKIFF_LOG_STDERR;
	else
		return -EBADMSG;
	if (skiff_time_parse(t, ts) < 0)
		return -EBADMSG;
	*dlen = json_string_length(log);
	*data = malloc(*dlen + 1);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, json_string_value(log), *dlen);
	(*data)[*dlen] = '\0';
	return 0;
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

static bool ts_zero(const struct timespec *t)
{
	return !t->tv_sec && !t->tv_nsec;
}

/* Offset of the first of the last n complete lines at or after from. Reads
 * backwards in blocks so a huge log costs only what is asked for. */
static int tail_offset(int fd, off_t from, off_t size, long n, off_t *out)
{
	char buf[65536];
	off_t pos = size;
	long seen = 0;
	bool first = true;

	while (pos > from) {
		off_t start = pos - (off_t)sizeof(buf) > from ? pos - (off_t)sizeof(buf) : from;
		ssize_t got = pread(fd, buf, (size_t)(pos - start), start);
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		for (ssize_t i = got - 1; i >= 0; i--) {
			if (buf[i] != '\n')
				continue;
			if (first && start + i == size - 1) {
				/* the newline ending the last line */
				first = false;
				continue;
			}
			first = false;
			if (++seen == n) {
				*out = start + i + 1;
				return 0;
			}
		}
		pos = start;
	}
	*out = from;
	return 0;
}

int skiff_logfile_read(const char *path, const struct skiff_logread_opts *o, skiff_logread_cb cb, void *ud,
		       off_t *next_off, struct skiff_error *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	off_t pos = o->offset;
	struct stat st;
	ssize_t n;
	int r = 0;

	if (next_off)
		*next_off = o->offset;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening log file '%s'", path);
	}
	if (fstat(fileno(f), &st) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "reading log file '%s'", path);
	if (o->tail == 0) {
		/* nothing now; a follower goes on from the end */
		if (next_off)
			*next_off = st.st_size;
		return 0;
	}
	if (o->tail > 0) {
		r = tail_offset(fileno(f), pos, st.st_size, o->tail, &pos);
		if (r < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "reading log file '%s'", path);
	}
	if (fseeko(f, pos, SEEK_SET) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "reading log file '%s'", path);
	while ((n = getline(&line, &cap, f)) > 0) {
		_cleanup_free_ char *data = NULL;
		struct timespec ts;
		size_t dlen;
		int stream;

		if (line[n - 1] != '\n')
			break; /* a line being written right now: next time */
		pos += n;
		if (skiff_logfile_parse(line, (size_t)n, &stream, &data, &dlen, &ts) < 0)
			continue; /* Docker skips what it cannot decode too */
		if ((stream == SKIFF_LOG_STDOUT && !o->stdout_on) || (stream == SKIFF_LOG_STDERR && !o->stderr_on))
			continue;
		if (!ts_zero(&o->since) && ts_cmp(&ts, &o->since) < 0)
			continue;
		if (!ts_zero(&o->until) && ts_cmp(&ts, &o->until) > 0)
			continue;
		r = cb(stream, data, dlen, &ts, ud);
		if (r)
			break;
	}
	if (next_off)
		*next_off = pos;
	return r;
}
