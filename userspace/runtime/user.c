/* Config.User resolution inside a container rootfs (moby/sys/user
 * semantics). Runs in the container init after pivot_root, or in tests
 * against a made-up rootfs dir. */
#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/cleanup.h"

static FILE *open_in_root(int rootfd, const char *rel)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "re");
	if (!f)
		close(fd);
	return f;
}

static bool parse_num(const char *s, unsigned long *out)
{
	char *end;
	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*end && errno == 0 && *out <= 0xfffffffeUL;
}

/* Splits a colon-separated line into at most n fields in place. */
static int split(char *line, char **f, int n)
{
	int i = 0;
	line[strcspn(line, "\n")] = '\0';
	f[i++] = line;
	for (char *p = line; *p && i < n; p++)
		if (*p == ':') {
			*p = '\0';
			f[i++] = p + 1;
		}
	return i;
}

static bool member(char *list, const char *name)
{
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (!strcmp(t, name))
			return true;
	return false;
}

int skiff_user_resolve(int rootfd, const char *spec, struct skiff_user *out, struct skiff_error *err)
{
	char user[256], name[256] = "";
	const char *group = NULL;
	unsigned long num;
	bool found = false;

	memset(out, 0, sizeof(*out));
	snprintf(out->home, sizeof(out->home), "/");
	snprintf(user, sizeof(user), "%s", spec ? spec : "");
	char *colon = strchr(user, ':');
	if (colon) {
		*colon = '\0';
		group = colon + 1;
	}
	const char *u = user[0] ? user : "0";
	bool u_numeric = parse_num(u, &num);
	if (u_numeric)
		out->uid = (uid_t)num;

	_cleanup_fclose_ FILE *pw = open_in_root(rootfd, "etc/passwd");
	if (pw) {
		char line[1024];
		while (fgets(line, sizeof(line), pw)) {
			char *f[7];
			if (line[0] == '#' || split(line, f, 7) < 7)
				continue;
			unsigned long id;
			if (!parse_num(f[2], &id))
				continue;
			/* a name wins over a numeric match, like moby */
			if (u_numeric ? id != num : strcmp(f[0], u) != 0)
				continue;
			unsigned long gid = 0;
			parse_num(f[3], &gid);
			out->uid = (uid_t)id;
			out->gid = (gid_t)gid;
			snprintf(name, sizeof(name), "%s", f[0]);
			snprintf(out->home, sizeof(out->home), "%s", f[5][0] ? f[5] : "/");
			found = true;
			break;
		}
	}
	if (!found && !u_numeric)
		return skiff_error_set(err, SKIFF_EINVAL, ENOENT,
				       "unable to find user %s: no matching entries in passwd file", u);

	bool g_numeric = group && parse_num(group, &num);
	if (g_numeric)
		out->gid = (gid_t)num;
	if (group && !*group)
		group = NULL;

	_cleanup_fclose_ FILE *gr = (group && !g_numeric) || (!group && found) ? open_in_root(rootfd, "etc/group")
									     : NULL;
	bool gfound = false;
	if (gr) {
		char line[4096];
		while (fgets(line, sizeof(line), gr)) {
			char *f[4];
			unsigned long gid;
			if (line[0] == '#' || split(line, f, 4) < 4 || !parse_num(f[2], &gid))
				continue;
			if (group) {
				if (!strcmp(f[0], group)) {
					out->gid = (gid_t)gid;
					gfound = true;
					break;
				}
			} else if (member(f[3], name) && out->ngroups < SKIFF_USER_MAX_GROUPS) {
				out->groups[out->ngroups++] = (gid_t)gid;
			}
		}
	}
	if (group && !g_numeric && !gfound)
		return skiff_error_set(err, SKIFF_EINVAL, ENOENT,
				       "unable to find group %s: no matching entries in group file", group);
	return 0;
}
