/* libFuzzer harness for the tar reader (userspace/image/tar.c) that reads
 * `docker load` archives, imports and build contexts: all client-supplied.
 * Reads every entry and its data from a memfd (gzip is autodetected), cleans
 * each path as the extractor would, and finishes with the diffID. Nothing is
 * extracted to disk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../userspace/image/tar.h"

static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct skiff_tar_reader *r = NULL;
	const struct skiff_tar_entry *e;
	char clean[4096], digest[SKIFF_DIGEST_LEN];
	static char buf[65536];
	int rc, n = 0;

	/* One memfd for the whole run, rewritten per input: no fd churn. */
	if (memfd < 0 && (memfd = memfd_create("fuzz-tar", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size || lseek(memfd, 0, SEEK_SET) != 0)
		abort();
	if (skiff_tar_reader_new(memfd, &r) < 0)
		return 0;
	while ((rc = skiff_tar_next(r, &e)) == 1 && n++ < 10000) {
		if (!e->path || !e->linkname)
			abort();
		skiff_tar_clean_path(e->path, clean, sizeof(clean));
		skiff_tar_clean_path(e->linkname, clean, sizeof(clean));
		for (size_t i = 0; i < e->nxattrs; i++)
			if (!e->xattrs[i].name || (e->xattrs[i].len && !e->xattrs[i].value))
				abort();
		if (n % 2) { /* every other entry: read its data; the rest are skipped by next */
			ssize_t got;
			int64_t total = 0;
			while ((got = skiff_tar_read(r, buf, sizeof(buf))) > 0)
				total += got;
			if (got == 0 && e->type == SKIFF_TAR_REG && total != e->size)
				abort();
		}
	}
	if (rc == 0)
		skiff_tar_reader_finish(r, digest);
	skiff_tar_reader_free(r);
	return 0;
}
