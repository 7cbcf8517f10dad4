/* sha256 through OpenSSL's EVP interface (libcrypto), plus the string form
 * of digests used for image ids, diff ids, chain ids and blob names. */
#include "digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct skiff_sha256 {
	EVP_MD_CTX *ctx;
};

struct skiff_sha256 *skiff_sha256_new(void)
{
	struct skiff_sha256 *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ctx = EVP_MD_CTX_new();
	if (!c->ctx || EVP_DigestInit_ex(c->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c->ctx);
		free(c);
		return NULL;
	}
	return c;
}

void skiff_sha256_update(struct skiff_sha256 *c, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(c->ctx, data, len);
}

void skiff_sha256_final(struct skiff_sha256 *c, char out[SKIFF_DIGEST_LEN], char hex[SKIFF_DIGEST_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char h[SKIFF_DIGEST_HEX_LEN + 1];

	EVP_DigestFinal_ex(c->ctx, md, &n);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		h[2 * i] = digits[md[i] >> 4];
		h[2 * i + 1] = digits[md[i] & 15];
	}
	h[SKIFF_DIGEST_HEX_LEN] = '\0';
	if (out)
		snprintf(out, SKIFF_DIGEST_LEN, "sha256:%s", h);
	if (hex)
		memcpy(hex, h, sizeof(h));
}

void skiff_sha256_free(struct skiff_sha256 *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->ctx);
	free(c);
}

void skiff_sha256_digest(const void *data, size_t len, char out[SKIFF_DIGEST_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

int skiff_sha256_fd(int fd, char out[SKIFF_DIGEST_LEN])
{
	struct skiff_sha256 *c = skiff_sha256_new();
	char buf[65536];
	ssize_t n;

	if (!c)
		return -ENOMEM;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		skiff_sha256_update(c, buf, (size_t)n);
	}
	if (n < 0) {
		int r = -errno;
		skiff_sha256_free(c);
		return r;
	}
	skiff_sha256_final(c, out, NULL);
	skiff_sha256_free(c);
	return 0;
}

bool skiff_digest_hex_valid(const char *s)
{
	size_t i;
	if (!s)
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == SKIFF_DIGEST_HEX_LEN;
}

bool skiff_digest_valid(const char *s)
{
	return s && strncmp(s, "sha256:", 7) == 0 && skiff_digest_hex_valid(s + 7);
}

const char *skiff_digest_hex(const char *s)
{
	const char *c = strchr(s, ':');
	return c ? c + 1 : s;
}
