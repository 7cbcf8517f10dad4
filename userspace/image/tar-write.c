/* Streaming tar writer behind image save, export and docker cp: ustar
 * headers with PAX records for what does not fit (long names and links,
 * big sizes, xattrs), buffered so small entries cost few writes. */
#include "tar-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"

struct skiff_tar_writer {
	int fd;
	unsigned char *buf;
	size_t len;
	int64_t remaining; /* data bytes the current entry still expects */
	int64_t padding;
	int err;
};

static int w_flush(struct skiff_tar_writer *w)
{
	size_t off = 0;
	while (off < w->len) {
		ssize_t n = write(w->fd, w->buf + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return w->err = -errno;
		off += (size_t)n;
	}
	w->len = 0;
	return 0;
}

static int w_put(struct skiff_tar_writer *w, const void *data, size_t n)
{
	const unsigned char *p = data;
	if (w->err)
		return w->err;
	while (n) {
		size_t k = TAR_IOBUF - w->len;
		if (k > n)
			k = n;
		if (p)
			memcpy(w->buf + w->len, p, k);
		else
			memset(w->buf + w->len, 0, k);
		w->len += k;
		if (p)
			p += k;
		n -= k;
		if (w->len == TAR_IOBUF && w_flush(w) < 0)
			return w->err;
	}
	return 0;
}

int skiff_tar_writer_new(int fd, struct skiff_tar_writer **out)
{
	struct skiff_tar_writer *w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = malloc(TAR_IOBUF))) {
		free(w);
		return -ENOMEM;
	}
	w->fd = fd;
	*out = w;
	return 0;
}

void skiff_tar_writer_free(struct skiff_tar_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

int skiff_tar_writer_finish(struct skiff_tar_writer *w)
{
	int r;
	if (!w)
		return 0;
	if (w->remaining)
		w->err = w->err ? w->err : -EINVAL;
	w_put(w, NULL, 2 * TAR_BLOCK);
	if (!w->err)
		w_flush(w);
	r = w->err;
	skiff_tar_writer_free(w);
	return r;
}

/* n-1 octal digits and a NUL as Go and GNU tar write them; base-256 (GNU)
 * when the value does not fit, returning false so sizes can go to PAX. */
static bool put_num(unsigned char *dst, size_t n, int64_t v)
{
	int bits = (int)(n - 1) * 3;
	if (v >= 0 && (bits >= 63 || v < ((int64_t)1 << bits))) {
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "%0*llo", (int)(n - 1), (unsigned long long)v);
		memcpy(dst, tmp, n - 1);
		dst[n - 1] = '\0';
		return true;
	}
	memset(dst, 0, n);
	for (size_t i = n - 1; i > 0; i--, v >>= 8)
		dst[i] = (unsigned char)(v & 0xff);
	dst[0] = 0x80;
	return false;
}

static int pax_append(char **buf, size_t *len, const char *key, const char *val, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, total = base, digits;
	char *nb;
	/* the length field counts its own digits */
	for (;;) {
		char tmp[24];
		digits = (size_t)snprintf(tmp, sizeof(tmp), "%zu", total);
		if (base + digits == total)
			break;
		total = base + digits;
	}
	nb = realloc(*buf, *len + total + 1);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	int k = sprintf(nb + *len, "%zu %s=", total, key);
	memcpy(nb + *len + k, val, vlen);
	nb[*len + total - 1] = '\n';
	*len += total;
	return 0;
}

static int write_block(struct skiff_tar_writer *w, const char *name, const char *link, char type, mode_t mode,
		       int64_t uid, int64_t gid, int64_t size, int64_t mtime, unsigned maj, unsigned min,
		       const char *prefix)
{
	unsigned char h[TAR_BLOCK] = { 0 };
	unsigned int sum = 0;

	strncpy((char *)h, name, 100);
	put_num(h + 100, 8, mode & 07777);
	put_num(h + 108, 8, uid);
	put_num(h + 116, 8, gid);
	put_num(h + 124, 12, size);
	put_num(h + 136, 12, mtime < 0 ? 0 : mtime);
	h[156] = (unsigned char)type;
	strncpy((char *)h + 157, link ? link : "", 100);
	memcpy(h + 257, "ustar\0" "00", 8);
	put_num(h + 329, 8, maj);
	put_num(h + 337, 8, min);
	if (prefix)
		strncpy((char *)h + 345, prefix, 155);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return w_put(w, h, TAR_BLOCK);
}

int skiff_tar_write_header(struct skiff_tar_writer *w, const struct skiff_tar_entry *e)
{
	_cleanup_free_ char *pax = NULL, *path = NULL, *prefix = NULL;
	size_t paxlen = 0;
	const char *name;
	const char *link = e->linkname ? e->linkname : "";
	int64_t size = e->type == SKIFF_TAR_REG ? e->size : 0;
	unsigned char tmp[12];
	int r;

	if (w->remaining)
		return -EINVAL;
	if (e->type == SKIFF_TAR_DIR && e->path[0] && e->path[strlen(e->path) - 1] != '/') {
		if (asprintf(&path, "%s/", e->path) < 0)
			return -ENOMEM;
	} else if (!(path = strdup(e->path)))
		return -ENOMEM;

	name = path;
	if (strlen(path) > 100) {
		/* ustar prefix/name split when possible, PAX otherwise */
		char *slash = NULL;
		size_t len = strlen(path);
		for (char *s = path; *s; s++)
			if (*s == '/' && (size_t)(s - path) <= 155 && len - (size_t)(s - path) - 1 <= 100 &&
			    s[1] && (size_t)(s - path) > 0)
				if (!slash)
					slash = s;
		if (slash) {
			prefix = strndup(path, (size_t)(slash - path));
			name = slash + 1;
		} else {
			if ((r = pax_append(&pax, &paxlen, "path", path, strlen(path))) < 0)
				return r;
			name = path; /* truncated in the header, PAX wins */
		}
	}
	if (strlen(link) > 100 && (r = pax_append(&pax, &paxlen, "linkpath", link, strlen(link))) < 0)
		return r;
	if (!put_num(tmp, 12, size)) {
		char s[32];
		snprintf(s, sizeof(s), "%lld", (long long)size);
		if ((r = pax_append(&pax, &paxlen, "size", s, strlen(s))) < 0)
			return r;
	}
	for (size_t i = 0; i < e->nxattrs; i++) {
		_cleanup_free_ char *key = NULL;
		if (asprintf(&key, "SCHILY.xattr.%s", e->xattrs[i].name) < 0)
			return -ENOMEM;
		if ((r = pax_append(&pax, &paxlen, key, e->xattrs[i].value, e->xattrs[i].len)) < 0)
			return r;
	}
	if (pax) {
		char pname[100];
		const char *base = strrchr(e->path, '/');
		base = base && base[1] ? base + 1 : e->path;
		snprintf(pname, sizeof(pname), "PaxHeaders.0/%s", base);
		if ((r = write_block(w, pname, "", 'x', 0644, 0, 0, (int64_t)paxlen, e->mtime.tv_sec, 0, 0,
				     NULL)) < 0 ||
		    (r = w_put(w, pax, paxlen)) < 0 || (r = w_put(w, NULL, (TAR_BLOCK - paxlen % TAR_BLOCK) % TAR_BLOCK)) < 0)
			return r;
	}
	r = write_block(w, name, link, e->type, e->mode, e->uid, e->gid, put_num(tmp, 12, size) ? size : 0,
			e->mtime.tv_sec, e->devmajor, e->devminor, prefix);
	if (r < 0)
		return r;
	w->remaining = size;
	w->padding = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
	if (size == 0)
		w->padding = 0;
	return 0;
}

int skiff_tar_write_data(struct skiff_tar_writer *w, const void *data, size_t len)
{
	int r;
	if ((int64_t)len > w->remaining)
		return -EINVAL;
	if ((r = w_put(w, data, len)) < 0)
		return r;
	w->remaining -= (int64_t)len;
	if (w->remaining == 0 && w->padding) {
		r = w_put(w, NULL, (size_t)w->padding);
		w->padding = 0;
	}
	return r;
}

int skiff_tar_write_buffer(struct skiff_tar_writer *w, const char *path, const void *data, size_t len,
			   mode_t mode, time_t mtime)
{
	struct skiff_tar_entry e = {
		.path = (char *)path, .type = SKIFF_TAR_REG, .mode = mode, .size = (int64_t)len,
		.mtime = { .tv_sec = mtime },
	};
	int r = skiff_tar_write_header(w, &e);
	return r < 0 ? r : skiff_tar_write_data(w, data, len);
}

int skiff_tar_write_fd(struct skiff_tar_writer *w, const char *path, int fd, int64_t size, mode_t mode,
		       time_t mtime)
{
	struct skiff_tar_entry e = {
		.path = (char *)path, .type = SKIFF_TAR_REG, .mode = mode, .size = size,
		.mtime = { .tv_sec = mtime },
	};
	char buf[65536];
	int r = skiff_tar_write_header(w, &e);
	while (r == 0 && size > 0) {
		ssize_t n = read(fd, buf, size > (int64_t)sizeof(buf) ? sizeof(buf) : (size_t)size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE; /* file shrank under us */
		r = skiff_tar_write_data(w, buf, (size_t)n);
		size -= n;
	}
	return r;
}
