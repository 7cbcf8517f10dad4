/* jansson helpers and the timestamp format Docker uses everywhere. */
#include "json.h"
#include "cleanup.h"
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *skiff_json_str(const json_t *obj, const char *key, const char *def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : def;
}

int64_t skiff_json_int(const json_t *obj, const char *key, int64_t def)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return def;
}

bool skiff_json_bool(const json_t *obj, const char *key, bool def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

char **skiff_json_strv(const json_t *arr)
{
	size_t i, n;
	char **v;
	json_t *e;

	if (!json_is_array(arr))
		return NULL;
	n = json_array_size(arr);
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return NULL;
	json_array_foreach(arr, i, e)
	{
		v[i] = strdup(json_is_string(e) ? json_string_value(e) : "");
		if (!v[i]) {
			skiff_strvfree(v);
			return NULL;
		}
	}
	return v;
}

json_t *skiff_json_from_strv(char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

int skiff_json_write_file(const char *path, const json_t *j)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	return skiff_write_atomic(path, s, strlen(s), 0600);
}

int skiff_json_read_file(const char *path, json_t **out)
{
	_cleanup_free_ char *buf = NULL;
	json_error_t jerr;
	size_t len;
	int r = skiff_read_file(path, &buf, &len);
	if (r < 0)
		return r;
	*out = json_loadb(buf, len, 0, &jerr);
	return *out ? 0 : -EBADMSG;
}

void skiff_time_format(const struct timespec *ts, char out[40])
{
	struct tm tm;
	char base[32];

	if (ts->tv_sec == 0 && ts->tv_nsec == 0) {
		strcpy(out, "0001-01-01T00:00:00Z");
		return;
	}
	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%09ldZ", base, ts->tv_nsec);
}

int skiff_time_parse(const char *s, struct timespec *out)
{
	struct tm tm = { 0 };
	char *end;

	if (!s || !*s)
		return -EINVAL;
	/* unix seconds with an optional fraction */
	errno = 0;
	long long secs = strtoll(s, &end, 10);
	if (!errno && end != s && (*end == '\0' || *end == '.')) {
		out->tv_sec = secs;
		out->tv_nsec = 0;
		if (*end == '.') {
			long frac = 0;
			int digits = 0;
			for (end++; *end >= '0' && *end <= '9'; end++)
				if (digits < 9) {
					frac = frac * 10 + (*end - '0');
					digits++;
				}
			if (*end)
				return -EINVAL;
			while (digits++ < 9)
				frac *= 10;
			out->tv_nsec = frac;
		}
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	long nsec = 0;
	if (*end == '.') {
		int digits = 0;
		for (end++; *end >= '0' && *end <= '9'; end++)
			if (digits < 9) {
				nsec = nsec * 10 + (*end - '0');
				digits++;
			}
		while (digits++ < 9)
			nsec *= 10;
	}
	time_t t = timegm(&tm);
	if (*end == 'Z' || *end == 'z') {
		end++;
	} else if (*end == '+' || *end == '-') {
		int sign = *end == '-' ? -1 : 1, hh = 0, mm = 0;
		if (sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		t -= sign * (hh * 3600 + mm * 60);
		end += 6;
	}
	if (*end)
		return -EINVAL;
	out->tv_sec = t;
	out->tv_nsec = nsec;
	return 0;
}

struct timespec skiff_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}
