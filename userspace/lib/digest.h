/* sha256 digests as the image store and the registry speak them:
 * "sha256:<64 hex>". Streaming contexts for layers, one-shot helpers for
 * small blobs, and validation of digest strings that come from users. */
#ifndef SKIFF_DIGEST_H
#define SKIFF_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define SKIFF_DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define SKIFF_DIGEST_LEN 72

struct skiff_sha256;

/* NULL on ENOMEM. */
struct skiff_sha256 *skiff_sha256_new(void);
void skiff_sha256_update(struct skiff_sha256 *c, const void *data, size_t len);
/* Writes "sha256:<hex>" (out may be NULL) and the bare hex (hex may be NULL);
 * the context can not be updated afterwards. */
void skiff_sha256_final(struct skiff_sha256 *c, char out[SKIFF_DIGEST_LEN], char hex[SKIFF_DIGEST_HEX_LEN + 1]);
void skiff_sha256_free(struct skiff_sha256 *c);

/* One-shot: "sha256:<hex>" of data. */
void skiff_sha256_digest(const void *data, size_t len, char out[SKIFF_DIGEST_LEN]);
/* One-shot over a whole fd from its current offset; 0 or -errno. */
int skiff_sha256_fd(int fd, char out[SKIFF_DIGEST_LEN]);

/* "sha256:" followed by exactly 64 lower-case hex digits. */
bool skiff_digest_valid(const char *s);
/* 64 lower-case hex digits. */
bool skiff_digest_hex_valid(const char *s);
/* Pointer to the hex part of "sha256:<hex>" (or s itself when it has no
 * algorithm prefix). */
const char *skiff_digest_hex(const char *s);

#endif
