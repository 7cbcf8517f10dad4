/* skiff_error: a status plus a message that can reach an API client.
 * Functions that can fail return 0 (or a value) on success and a negative
 * errno on failure; if they take a struct skiff_error * they also fill it. */
#ifndef SKIFF_ERROR_H
#define SKIFF_ERROR_H

#include <stdarg.h>

/* HTTP-like statuses: they map 1:1 onto the API's response codes. */
enum skiff_status {
	SKIFF_OK = 0,
	SKIFF_EINVAL = 400,    /* bad input from the user */
	SKIFF_ENOTFOUND = 404, /* no such object */
	SKIFF_ECONFLICT = 409, /* name in use, object busy, wrong state */
	SKIFF_EINTERNAL = 500, /* engine fault */
	SKIFF_ENOTIMPL = 501,  /* not built yet */
	SKIFF_EUNAVAIL = 503,  /* feature off on this host */
};

struct skiff_error {
	int status;    /* enum skiff_status, 0 when no error */
	int errnum;    /* errno at the root cause, 0 if none */
	char msg[1024];
};

/* Fill err (may be NULL) and return -errnum (or -EIO when errnum is 0).
 * Usage: return skiff_error_set(err, SKIFF_ENOTFOUND, ENOENT, "No such image: %s", name); */
int skiff_error_set(struct skiff_error *err, int status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Like skiff_error_set, appending ": strerror(errnum)". */
int skiff_error_sys(struct skiff_error *err, int status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prepend context: "creating container 'web': <old message>". Returns -errnum. */
int skiff_error_wrap(struct skiff_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void skiff_error_clear(struct skiff_error *err);

#endif
