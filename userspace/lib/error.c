/* Error chaining in the style of crun's libcrun_error_t, kept in a fixed buffer
 * so an error can be raised without allocating. */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int ret_of(const struct skiff_error *err, int errnum)
{
	(void)err;
	return errnum > 0 ? -errnum : -EIO;
}

int skiff_error_set(struct skiff_error *err, int status, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->status = status;
		err->errnum = errnum;
	}
	return ret_of(err, errnum);
}

int skiff_error_sys(struct skiff_error *err, int status, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		size_t n;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
		err->status = status;
		err->errnum = errnum;
	}
	return ret_of(err, errnum);
}

int skiff_error_wrap(struct skiff_error *err, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	if (!err->status)
		err->status = SKIFF_EINTERNAL;
	return ret_of(err, err->errnum);
}

void skiff_error_clear(struct skiff_error *err)
{
	if (err) {
		err->status = 0;
		err->errnum = 0;
		err->msg[0] = '\0';
	}
}
