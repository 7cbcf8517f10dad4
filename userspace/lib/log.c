/* Leveled logs with RFC3339 timestamps, one line per call. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static int log_level = SKIFF_LOG_INFO;
static FILE *log_out;
static const char *log_prog = "skiff";

int skiff_log_parse_level(const char *name)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(name, level_names[i]))
			return (int)i;
	if (!strcmp(name, "warning"))
		return SKIFF_LOG_WARN;
	return -EINVAL;
}

int skiff_log_init(const char *prog, int level, const char *path)
{
	log_prog = prog;
	log_level = level;
	if (path) {
		FILE *f = fopen(path, "ae");
		if (!f)
			return -errno;
		setvbuf(f, NULL, _IOLBF, 0);
		log_out = f;
	}
	return 0;
}

void skiff_log(int level, const char *fmt, ...)
{
	FILE *out = log_out ? log_out : stderr;
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;
	int saved = errno;

	if (level < log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(out, "%s.%06ldZ %s[%s] ", when, ts.tv_nsec / 1000, log_prog, level_names[level]);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	errno = saved;
}
