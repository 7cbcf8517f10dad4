/* The rootfs/spec fixture shared by the runtime unit tests (test-spawn,
 * test-exec): a busybox lower layer, passwd/group, a cgroup parent of our
 * own, and a runtime spec for it. Each test-*.c is built alone, so this is a
 * header of static functions; define RUNTIME_FIXTURE_TAG ("spawn") first. */
#ifndef SKIFF_TEST_RUNTIME_FIXTURE_H
#define SKIFF_TEST_RUNTIME_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../userspace/lib/cleanup.h"
#include "../../userspace/lib/fs.h"
#include "../../userspace/runtime/spawn.h"

#ifndef RUNTIME_FIXTURE_TAG
#error "define RUNTIME_FIXTURE_TAG before including runtime-fixture.h"
#endif

FIXTURE(ctr)
{
	char dir[64];
	char *mountinfo_before;
	struct skiff_cgroup_layout cg;
};

static void put(const char *dir, const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

FIXTURE_SETUP(ctr)
{
	char p[256], cmd[512];
	if (getuid() != 0)
		SKIP(return, "needs root");
	if (access("/bin/busybox", X_OK) < 0)
		SKIP(return, "needs busybox-static");
	ASSERT_EQ(0, skiff_read_file("/proc/self/mountinfo", &self->mountinfo_before, NULL));
	strcpy(self->dir, "/tmp/skiff-unit-" RUNTIME_FIXTURE_TAG "-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	static const char *const sub[] = { "lower/bin", "lower/etc", "upper", "work", "merged" };
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		snprintf(p, sizeof(p), "%s/%s", self->dir, sub[i]);
		ASSERT_EQ(0, skiff_mkdir_p(p, 0755));
	}
	snprintf(cmd, sizeof(cmd),
		 "cp /bin/busybox %s/lower/bin/ && for a in $(/bin/busybox --list | grep -vx busybox); do "
		 "ln -sf busybox %s/lower/bin/$a; done",
		 self->dir, self->dir);
	ASSERT_EQ(0, system(cmd));
	put(self->dir, "lower/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/home/nobody:/bin/false\n");
	put(self->dir, "lower/etc/group", "root:x:0:\nnogroup:x:65534:\n");
	put(self->dir, "hostname", "box\n");
	struct skiff_error err = { 0 };
	ASSERT_EQ(0, skiff_cgroup_detect(&self->cg, &err));
	snprintf(self->cg.parent, sizeof(self->cg.parent), "skiff-unit-" RUNTIME_FIXTURE_TAG "-%d", getpid());
}

FIXTURE_TEARDOWN(ctr)
{
	char p[600];
	if (!self->dir[0])
		return;
	for (int i = 0; i < self->cg.nv1; i++) {
		snprintf(p, sizeof(p), "%s/%s", self->cg.v1[i].root, self->cg.parent);
		rmdir(p);
	}
	if (self->cg.v2_root[0]) {
		snprintf(p, sizeof(p), "%s/%s", self->cg.v2_root, self->cg.parent);
		rmdir(p);
	}
	skiff_rm_rf(self->dir);
	free(self->mountinfo_before);
}

static json_t *make_spec(const char *dir, const char *script)
{
	char lower[128], upper[128], work[128], merged[128], hn[128];
	snprintf(lower, sizeof(lower), "%s/lower", dir);
	snprintf(upper, sizeof(upper), "%s/upper", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	snprintf(merged, sizeof(merged), "%s/merged", dir);
	snprintf(hn, sizeof(hn), "%s/hostname", dir);
	return json_pack("{s:s, s:[s,s,s], s:[s], s:s, s:{s:[s], s:s, s:s, s:s}, s:{s:s},"
			 " s:{s:I, s:I}}",
			 "id", "c0ffee", "args", "/bin/sh", "-c", script, "env", "PATH=/bin", "hostname", "box",
			 "rootfs", "lower", lower, "upper", upper, "work", work, "target", merged, "etc_files",
			 "hostname", hn, "cgroup", "Memory", (json_int_t)(64 << 20), "PidsLimit", (json_int_t)33);
}

#endif
