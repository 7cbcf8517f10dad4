/* Leveled logging to stderr or a file. Only the edges (daemon, monitor, CLI)
 * log; library code returns errors instead. */
#ifndef SKIFF_LOG_H
#define SKIFF_LOG_H

enum skiff_log_level { SKIFF_LOG_DEBUG, SKIFF_LOG_INFO, SKIFF_LOG_WARN, SKIFF_LOG_ERROR };

/* level names: debug, info, warn, error. Returns -EINVAL for an unknown name. */
int skiff_log_parse_level(const char *name);
/* path NULL: stderr. Returns -errno if the file cannot be opened. */
int skiff_log_init(const char *prog, int level, const char *path);
void skiff_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) skiff_log(SKIFF_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) skiff_log(SKIFF_LOG_INFO, __VA_ARGS__)
#define log_warn(...) skiff_log(SKIFF_LOG_WARN, __VA_ARGS__)
#define log_error(...) skiff_log(SKIFF_LOG_ERROR, __VA_ARGS__)

#endif
