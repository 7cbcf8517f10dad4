/* Docker's json-file log format: one JSON object per line,
 * {"log":"hi\n","stream":"stdout","time":"2026-11-27T22:41:50.123456789Z"}.
 * The writer (used by skiff-monitor) splits output at newlines and flushes
 * partial lines at 16 KiB or on EOF; the reader (used by skiffd's logs
 * endpoint) iterates entries with Docker's since/until/tail/stream filters. */
#ifndef SKIFF_LOGFILE_H
#define SKIFF_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../lib/error.h"

enum skiff_log_stream { SKIFF_LOG_STDOUT = 1, SKIFF_LOG_STDERR = 2 };

/* Docker cuts lines longer than this into entries without a trailing \n. */
#define SKIFF_LOG_LINE_MAX 16384

/* Formats one entry (with its trailing '\n') into a malloc'd buffer:
 * JSON-escaped like Go's encoding/json (invalid UTF-8 becomes U+FFFD,
 * <, >, & and U+2028/2029 as \u escapes). Returns its length or -ENOMEM. */
ssize_t skiff_logfile_format(int stream, const void *data, size_t len, const struct timespec *ts, char **out);

/* Per-container writer. Memory: a partial-line buffer per stream, allocated
 * only while a line is incomplete. Writes go straight to the fd (O_APPEND,
 * no stdio buffering) so nothing sits in our memory when a process dies. */
struct skiff_logwriter {
	int fd; /* -1: logging off, feed only tracks nothing */
	char *part[2];
	uint32_t partlen[2];
};
/* Opens path O_APPEND|O_CREAT (0640). path NULL or "" turns logging off. */
int skiff_logwriter_open(struct skiff_logwriter *w, const char *path, struct skiff_error *err);
/* Feeds output of one stream; whole lines are written at once with time ts. */
int skiff_logwriter_feed(struct skiff_logwriter *w, int stream, const void *buf, size_t len,
			 const struct timespec *ts);
/* EOF on a stream: writes its pending partial line (no trailing \n). */
int skiff_logwriter_flush(struct skiff_logwriter *w, int stream, const struct timespec *ts);
void skiff_logwriter_close(struct skiff_logwriter *w);

/* Reader. */
struct skiff_logread_opts {
	bool stdout_on, stderr_on;
	struct timespec since;  /* zero: from the start */
	struct timespec until;  /* zero: no bound */
	long tail;              /* < 0: all; N: the last N entries of the file */
	off_t offset;           /* start here (0 = start of file; a previous *next_off to follow) */
};
/* One entry; data is NOT NUL-terminated-safe (may contain NULs); return
 * non-zero to stop. */
typedef int (*skiff_logread_cb)(int stream, const char *data, size_t len, const struct timespec *ts, void *ud);
/* Calls cb for each matching entry. *next_off (may be NULL) gets the offset
 * after the last complete line read, for following (poll again from there).
 * A missing file is no entries (*next_off 0). Returns 0, cb's non-zero
 * value, or -errno. */
int skiff_logfile_read(const char *path, const struct skiff_logread_opts *o, skiff_logread_cb cb, void *ud,
		       off_t *next_off, struct skiff_error *err);
/* Parses one line; 0 or -EBADMSG. *data is malloc'd. */
int skiff_logfile_parse(const char *line, size_t len, int *stream, char **data, size_t *dlen,
			struct timespec *ts);

#endif
