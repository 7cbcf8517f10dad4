/* Docker reference grammar (distribution/reference): parse, validate and
 * normalise to the familiar form the repositories index is keyed by. */
#include "ref.h"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_path_component(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		if (s[i] == '.')
			j = i + 1;
		else if (s[i] == '_')
			j = (i + 1 < n && s[i + 1] == '_') ? i + 2 : i + 1;
		else if (s[i] == '-')
			while (j < n && s[j] == '-')
				j++;
		else
			return false;
		if (j >= n || !is_lower_alnum(s[j]))
			return false;
		i = j;
	}
	return true;
}

/* host[:port]; host is dotted labels of [A-Za-z0-9-] or a bracketed IPv6. */
static bool valid_domain(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return false;
	if (s[0] == '[') {
		while (i < n && s[i] != ']')
			i++;
		if (i == n)
			return false;
		i++;
	} else {
		size_t lab = 0;
		for (; i < n && s[i] != ':'; i++) {
			if (s[i] == '.') {
				if (lab == 0 || s[i - 1] == '-')
					return false;
				lab = 0;
			} else if (isalnum((unsigned char)s[i]) || (s[i] == '-' && lab > 0))
				lab++;
			else
				return false;
		}
		if (lab == 0 || s[i - 1] == '-')
			return false;
	}
	if (i < n) {
		if (s[i] != ':' || i + 1 == n)
			return false;
		for (i++; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	return true;
}

static bool valid_tag(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	if (!(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static bool valid_digest(const char *s)
{
	const char *c = strchr(s, ':');
	size_t hex = 0;
	if (!c || c == s)
		return false;
	for (const char *p = s; p < c; p++)
		if (!(is_lower_alnum(*p) || *p == '+' || *p == '.' || *p == '_' || *p == '-'))
			return false;
	for (const char *p = c + 1; *p; p++, hex++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return hex >= 32;
}

static int bad(struct skiff_error *err, const char *ref)
{
	(void)ref;
	return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid reference format");
}

int skiff_ref_normalize(const char *ref, char *out, size_t outlen, struct skiff_error *err)
{
	char buf[512], name[512], domain[256] = "", tag[160] = "", digest[160] = "";
	char *at, *slash, *colon, *remote;
	size_t n;

	if (!ref || !ref[0] || strlen(ref) >= sizeof(buf))
		return bad(err, ref);
	strcpy(buf, ref);
	at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		if (strlen(at + 1) >= sizeof(digest) || !valid_digest(at + 1))
			return bad(err, ref);
		strcpy(digest, at + 1);
	}
	slash = strrchr(buf, '/');
	colon = strrchr(buf, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (strlen(colon + 1) >= sizeof(tag) || !valid_tag(colon + 1))
			return bad(err, ref);
		strcpy(tag, colon + 1);
	}
	strcpy(name, buf);
	if (!name[0] || strlen(name) > 255)
		return bad(err, ref);

	slash = strchr(name, '/');
	remote = name;
	if (slash) {
		n = (size_t)(slash - name);
		bool is_domain = memchr(name, '.', n) || memchr(name, ':', n) ||
				 (n == 9 && !strncmp(name, "localhost", 9));
		/* an upper-case first component that is no domain is simply invalid */
		if (is_domain) {
			if (!valid_domain(name, n) || n >= sizeof(domain))
				return bad(err, ref);
			memcpy(domain, name, n);
			domain[n] = '\0';
			remote = slash + 1;
		}
	}
	for (char *p = remote;;) {
		char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (!valid_path_component(p, len))
			return bad(err, ref);
		if (!e)
			break;
		p = e + 1;
	}
	if (!strcmp(domain, "index.docker.io"))
		strcpy(domain, "docker.io");
	if (!strcmp(domain, "docker.io")) {
		domain[0] = '\0';
		if (!strncmp(remote, "library/", 8) && !strchr(remote + 8, '/'))
			remote += 8;
	}
	if (!domain[0] && strlen(remote) == 64) {
		bool hex = true;
		for (const char *p = remote; *p && hex; p++)
			hex = isxdigit((unsigned char)*p);
		if (hex)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid repository name (%s), cannot specify 64-byte hexadecimal strings",
					       remote);
	}
	if (!tag[0] && !digest[0])
		strcpy(tag, "latest");
	if ((size_t)snprintf(out, outlen, "%s%s%s%s%s%s%s", domain, domain[0] ? "/" : "", remote, tag[0] ? ":" : "",
			     tag, digest[0] ? "@" : "", digest) >= outlen)
		return bad(err, ref);
	return 0;
}

void skiff_ref_split(const char *ref, char *repo, size_t repolen, char *tag, size_t taglen)
{
	char buf[512];
	char *at, *slash, *colon;
	snprintf(buf, sizeof(buf), "%s", ref);
	at = strchr(buf, '@');
	if (at)
		*at = '\0';
	slash = strrchr(buf, '/');
	colon = strrchr(buf, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		snprintf(tag, taglen, "%s", colon + 1);
	} else
		snprintf(tag, taglen, "%s", "");
	snprintf(repo, repolen, "%s", buf);
}

void skiff_ref_fully_qualified(const char *ref, char *out, size_t outlen)
{
	const char *slash = strchr(ref, '/');
	size_t n = slash ? (size_t)(slash - ref) : 0;
	bool has_domain = slash && (memchr(ref, '.', n) || memchr(ref, ':', n) || !strncmp(ref, "localhost/", 10));
	if (has_domain)
		snprintf(out, outlen, "%s", ref);
	else if (slash)
		snprintf(out, outlen, "docker.io/%s", ref);
	else
		snprintf(out, outlen, "docker.io/library/%s", ref);
}
