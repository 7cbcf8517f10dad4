/* Capability names, Docker's default set, CapAdd/CapDrop arithmetic and the
 * raw capset/prctl calls a container init makes before exec. No libcap:
 * the child must stay small and allocation-free. */
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/cleanup.h"

static const char *const cap_names[] = {
	[0] = "CAP_CHOWN",
	[1] = "CAP_DAC_OVERRIDE",
	[2] = "CAP_DAC_READ_SEARCH",
	[3] = "CAP_FOWNER",
	[4] = "CAP_FSETID",
	[5] = "CAP_KILL",
	[6] = "CAP_SETGID",
	[7] = "CAP_SETUID",
	[8] = "CAP_SETPCAP",
	[9] = "CAP_LINUX_IMMUTABLE",
	[10] = "CAP_NET_BIND_SERVICE",
	[11] = "CAP_NET_BROADCAST",
	[12] = "CAP_NET_ADMIN",
	[13] = "CAP_NET_RAW",
	[14] = "CAP_IPC_LOCK",
	[15] = "CAP_IPC_OWNER",
	[16] = "CAP_SYS_MODULE",
	[17] = "CAP_SYS_RAWIO",
	[18] = "CAP_SYS_CHROOT",
	[19] = "CAP_SYS_PTRACE",
	[20] = "CAP_SYS_PACCT",
	[21] = "CAP_SYS_ADMIN",
	[22] = "CAP_SYS_BOOT",
	[23] = "CAP_SYS_NICE",
	[24] = "CAP_SYS_RESOURCE",
	[25] = "CAP_SYS_TIME",
	[26] = "CAP_SYS_TTY_CONFIG",
	[27] = "CAP_MKNOD",
	[28] = "CAP_LEASE",
	[29] = "CAP_AUDIT_WRITE",
	[30] = "CAP_AUDIT_CONTROL",
	[31] = "CAP_SETFCAP",
	[32] = "CAP_MAC_OVERRIDE",
	[33] = "CAP_MAC_ADMIN",
	[34] = "CAP_SYSLOG",
	[35] = "CAP_WAKE_ALARM",
	[36] = "CAP_BLOCK_SUSPEND",
	[37] = "CAP_AUDIT_READ",
	[38] = "CAP_PERFMON",
	[39] = "CAP_BPF",
	[40] = "CAP_CHECKPOINT_RESTORE",
};

static const int default_caps[] = { 0, 1, 4, 3, 27, 13, 6, 7, 31, 8, 10, 18, 5, 29 };

uint64_t skiff_caps_default(void)
{
	uint64_t m = 0;
	for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
		m |= 1ULL << default_caps[i];
	return m;
}

uint64_t skiff_caps_all(void)
{
	return (1ULL << ARRAY_SIZE(cap_names)) - 1;
}

int skiff_cap_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (!strcasecmp(cap_names[i] + 4, name))
			return (int)i;
	return -EINVAL;
}

const char *skiff_cap_name(int cap)
{
	return cap >= 0 && (size_t)cap < ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

static bool is_all(const char *name)
{
	return !strcasecmp(name, "ALL") || !strcasecmp(name, "CAP_ALL");
}

static bool has_all(const char *const *v)
{
	for (; v && *v; v++)
		if (is_all(*v))
			return true;
	return false;
}

static int to_mask(const char *const *names, uint64_t *out, struct skiff_error *err)
{
	uint64_t m = 0;
	for (; names && *names; names++) {
		if (is_all(*names)) {
			m |= skiff_caps_all();
			continue;
		}
		int c = skiff_cap_from_name(*names);
		if (c < 0) {
			char up[64];
			size_t i = 0;
			const char *n = *names;
			bool pre = !strncasecmp(n, "CAP_", 4);
			if (!pre)
				i = (size_t)snprintf(up, sizeof(up), "CAP_");
			for (; *n && i + 1 < sizeof(up); n++)
				up[i++] = (char)toupper((unsigned char)*n);
			up[i] = '\0';
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "unknown capability: \"%s\"", up);
		}
		m |= 1ULL << c;
	}
	*out = m;
	return 0;
}

int skiff_caps_from_names(const char *const *names, uint64_t *out, struct skiff_error *err)
{
	return to_mask(names, out, err);
}

int skiff_caps_compute(const char *const *add, const char *const *drop, bool privileged, uint64_t *out,
		       struct skiff_error *err)
{
	uint64_t a, d;
	int r = to_mask(add, &a, err);
	if (r == 0)
		r = to_mask(drop, &d, err);
	if (r < 0)
		return r;
	if (privileged)
		*out = skiff_caps_all();
	else if (has_all(add))
		*out = skiff_caps_all() & ~(has_all(drop) ? 0 : d);
	else if (has_all(drop))
		*out = a;
	else
		*out = (skiff_caps_default() & ~d) | a;
	return 0;
}

int skiff_caps_bound(uint64_t keep)
{
	for (int c = 0; c < 64; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the kernel's last cap */
			return -errno;
		}
	}
	return 0;
}

int skiff_caps_set(uint64_t eff)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = {
		{ .effective = (uint32_t)eff, .permitted = (uint32_t)eff, .inheritable = 0 },
		{ .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(eff >> 32), .inheritable = 0 },
	};
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

uint64_t skiff_caps_permitted(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
}

int skiff_caps_raise(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[0].effective = d[0].permitted;
	d[1].effective = d[1].permitted;
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}
