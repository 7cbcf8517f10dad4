/* The route table: the per-resource tables of api/routes.h stitched into
 * one array (unsupported last, so real routes win), and the matcher the
 * HTTP server uses: literal segments, "{name}" for one segment and
 * "{name*}" for one or more segments (image names with slashes). */
#include "routes.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 64

struct seg {
	const char *s;
	size_t len;
};

static int split(const char *p, struct seg *segs)
{
	int n = 0;

	if (*p == '/')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (n == MAX_SEGS)
			return -1;
		segs[n++] = (struct seg){ p, len };
		if (!e)
			return n;
		p = e + 1;
	}
}

static bool is_param(const struct seg *s, bool *rest)
{
	if (s->len < 3 || s->s[0] != '{' || s->s[s->len - 1] != '}')
		return false;
	*rest = s->s[s->len - 2] == '*';
	return true;
}

struct capture {
	int first, last; /* path segment range, inclusive */
};

/* Backtracking only happens at "{name*}", which is rare and short. */
static bool match(const struct seg *pat, int np, int pi, const struct seg *path, int ns, int si, struct capture *caps,
		  int ncap)
{
	bool rest;

	if (pi == np)
		return si == ns;
	if (si == ns)
		return false;
	if (!is_param(&pat[pi], &rest)) {
		if (pat[pi].len != path[si].len || memcmp(pat[pi].s, path[si].s, path[si].len))
			return false;
		return match(pat, np, pi + 1, path, ns, si + 1, caps, ncap);
	}
	if (ncap >= SKIFF_HTTP_MAX_PARAMS || path[si].len == 0)
		return false;
	caps[ncap].first = si;
	if (!rest) {
		caps[ncap].last = si;
		return match(pat, np, pi + 1, path, ns, si + 1, caps, ncap + 1);
	}
	/* longest first: "/images/{name*}/json" must still leave "json" */
	for (int last = ns - 1; last >= si; last--) {
		caps[ncap].last = last;
		if (match(pat, np, pi + 1, path, ns, last + 1, caps, ncap + 1))
			return true;
	}
	return false;
}

static int count_params(const struct seg *pat, int np)
{
	int n = 0;
	bool rest;
	for (int i = 0; i < np; i++)
		n += is_param(&pat[i], &rest);
	return n;
}

const struct skiff_route *skiff_route_find(const struct skiff_route *routes, size_t n, int method, const char *path,
					   char **param_buf, const char *params[SKIFF_HTTP_MAX_PARAMS],
					   bool *method_mismatch)
{
	struct seg psegs[MAX_SEGS], rsegs[MAX_SEGS];
	struct capture caps[SKIFF_HTTP_MAX_PARAMS];
	int ns = split(path, psegs);

	*method_mismatch = false;
	*param_buf = NULL;
	for (int i = 0; i < SKIFF_HTTP_MAX_PARAMS; i++)
		params[i] = NULL;
	if (ns < 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct skiff_route *r = &routes[i];
		int np = split(r->pattern, rsegs);
		bool method_ok = (r->methods & method) || (method == HTTP_HEAD && (r->methods & HTTP_GET));
		int ncap;
		char *buf, *o;

		if (np < 0 || !match(rsegs, np, 0, psegs, ns, 0, caps, 0))
			continue;
		if (!method_ok) {
			*method_mismatch = true;
			continue;
		}
		ncap = count_params(rsegs, np);
		buf = malloc(strlen(path) + SKIFF_HTTP_MAX_PARAMS + 1);
		if (!buf)
			return NULL;
		o = buf;
		for (int c = 0; c < ncap; c++) {
			const char *start = psegs[caps[c].first].s;
			const char *end = psegs[caps[c].last].s + psegs[caps[c].last].len;
			memcpy(o, start, (size_t)(end - start));
			params[c] = o;
			o += end - start;
			*o++ = '\0';
		}
		*param_buf = buf;
		return r;
	}
	return NULL;
}

const struct skiff_route *skiff_api_routes(size_t *n)
{
	static struct skiff_route *all;
	static size_t nall;
	const struct {
		const struct skiff_route *rows;
		size_t n;
	} parts[] = {
		{ skiff_system_routes, skiff_system_nroutes },
		{ skiff_containers_routes, skiff_containers_nroutes },
		{ skiff_images_routes, skiff_images_nroutes },
		{ skiff_volumes_routes, skiff_volumes_nroutes },
		{ skiff_exec_routes, skiff_exec_nroutes },
		{ skiff_archive_routes, skiff_archive_nroutes },
		{ skiff_stats_routes, skiff_stats_nroutes },
		{ skiff_networks_routes, skiff_networks_nroutes },
		{ skiff_build_routes, skiff_build_nroutes },
		{ skiff_unsupported_routes, skiff_unsupported_nroutes },
	};

	if (!all) {
		size_t total = 0, k = 0;
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			total += parts[i].n;
		all = calloc(total ? total : 1, sizeof(*all));
		if (!all) {
			*n = 0;
			return NULL;
		}
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			for (size_t j = 0; j < parts[i].n; j++)
				all[k++] = parts[i].rows[j];
		nall = total;
	}
	*n = nall;
	return all;
}
