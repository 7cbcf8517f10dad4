/* Unit tests for Config.User resolution against made-up passwd/group files,
 * including a symlink that tries to lead out of the rootfs. */
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../userspace/lib/fs.h"
#include "../../userspace/runtime/user.h"

FIXTURE(root)
{
	char dir[64];
	int fd;
};

FIXTURE_SETUP(root)
{
	char p[128];
	strcpy(self->dir, "/tmp/skiff-unit-user-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(p, sizeof(p), "%s/etc", self->dir);
	ASSERT_EQ(0, mkdir(p, 0755));
	snprintf(p, sizeof(p), "%s/etc/passwd", self->dir);
	FILE *f = fopen(p, "w");
	fputs("root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\n"
	      "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
	      "www:x:33:34:www:/var/www:/bin/sh\n",
	      f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/etc/group", self->dir);
	f = fopen(p, "w");
	fputs("root:x:0:\nwheel:x:10:root,www\nwww-data:x:34:\nstaff:x:50:www\n", f);
	fclose(f);
	self->fd = open(self->dir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(root)
{
	close(self->fd);
	skiff_rm_rf(self->dir);
}

TEST_F(root, empty_is_root_with_home)
{
	struct skiff_user u;
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "", &u, NULL));
	EXPECT_EQ(0U, u.uid);
	EXPECT_EQ(0U, u.gid);
	EXPECT_STREQ("/root", u.home);
	ASSERT_EQ(1, u.ngroups);
	EXPECT_EQ(10U, u.groups[0]);
}

TEST_F(root, name_gives_uid_gid_groups_home)
{
	struct skiff_user u;
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "www", &u, NULL));
	EXPECT_EQ(33U, u.uid);
	EXPECT_EQ(34U, u.gid);
	EXPECT_STREQ("/var/www", u.home);
	ASSERT_EQ(2, u.ngroups);
	EXPECT_EQ(10U, u.groups[0]);
	EXPECT_EQ(50U, u.groups[1]);
}

TEST_F(root, numeric_forms)
{
	struct skiff_user u;
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "33", &u, NULL));
	EXPECT_EQ(34U, u.gid);
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "1000", &u, NULL));
	EXPECT_EQ(1000U, u.uid);
	EXPECT_EQ(0U, u.gid);
	EXPECT_STREQ("/", u.home);
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "1000:1001", &u, NULL));
	EXPECT_EQ(1001U, u.gid);
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "1000:staff", &u, NULL));
	EXPECT_EQ(50U, u.gid);
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "www:wheel", &u, NULL));
	EXPECT_EQ(33U, u.uid);
	EXPECT_EQ(10U, u.gid);
}

TEST_F(root, unknown_names_are_docker_errors)
{
	struct skiff_user u;
	struct skiff_error err = { 0 };
	EXPECT_EQ(-ENOENT, skiff_user_resolve(self->fd, "nosuch", &u, &err));
	EXPECT_STREQ("unable to find user nosuch: no matching entries in passwd file", err.msg);
	EXPECT_EQ(400, err.status);
	EXPECT_EQ(-ENOENT, skiff_user_resolve(self->fd, "www:nogroup", &u, &err));
	EXPECT_STREQ("unable to find group nogroup: no matching entries in group file", err.msg);
}

TEST_F(root, symlink_does_not_escape_rootfs)
{
	struct skiff_user u;
	char p[128];
	/* etc/passwd -> /etc/passwd must resolve inside the rootfs */
	snprintf(p, sizeof(p), "%s/etc/passwd", self->dir);
	ASSERT_EQ(0, unlink(p));
	ASSERT_EQ(0, symlink("/etc/passwd.real", p));
	EXPECT_EQ(-ENOENT, skiff_user_resolve(self->fd, "root", &u, NULL));
	snprintf(p, sizeof(p), "%s/etc/passwd.real", self->dir);
	FILE *f = fopen(p, "w");
	fputs("root:x:0:0:root:/inside:/bin/sh\n", f);
	fclose(f);
	ASSERT_EQ(0, skiff_user_resolve(self->fd, "root", &u, NULL));
	EXPECT_STREQ("/inside", u.home);
}

TEST_HARNESS_MAIN
