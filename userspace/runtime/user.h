/* Resolving Config.User ("", "name", "uid", "uid:gid", "name:group",
 * "uid:groupname") against a container rootfs' /etc/passwd and /etc/group,
 * the way Docker (moby/sys/user) does. Files are opened relative to a dir fd
 * with RESOLVE_IN_ROOT, so symlinks never lead out of the rootfs. */
#ifndef SKIFF_USER_H
#define SKIFF_USER_H

#include <sys/types.h>

#include "../lib/error.h"

#define SKIFF_USER_MAX_GROUPS 64

struct skiff_user {
	uid_t uid;
	gid_t gid;
	int ngroups; /* supplementary groups from /etc/group membership */
	gid_t groups[SKIFF_USER_MAX_GROUPS];
	char home[256]; /* passwd home, "/" when unknown */
};

/* Unknown user name: 400 "unable to find user NAME: no matching entries in
 * passwd file"; unknown group name likewise with "group". A numeric uid not
 * in passwd is fine (gid 0 unless given, home "/"). */
int skiff_user_resolve(int rootfd, const char *spec, struct skiff_user *out, struct skiff_error *err);

#endif
