/* Loader of skiff's networking eBPF programs (bpf/ports, bpf/netacct) with
 * libbpf skeletons: open -> set rodata -> reuse pinned maps -> load -> attach
 * (bpf_link) -> pin. Implements bpf-net.h. Pin layout under pin_dir:
 *   maps/<map name>            every map, reused by the next skiffd (state survives)
 *   ports/<program name>       the four cgroup_sock_addr links at the v2 root
 *   ctr/<id>-ingress|-egress   each container's cgroup_skb links
 *   keep/ingress|egress        the same programs on an empty cgroup, <cgroup2
 *                              mount>/<pin dir name>.bpf-keep (see keep_install)
 * A re-open swaps freshly loaded programs into the pinned links
 * (BPF_LINK_UPDATE: atomic, no window without a program). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../bpf/netacct/netacct.h"
#include "../../bpf/ports/ports.h"
#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/log.h"
#include "../runtime/cgroup.h"
#include "bpf-net.h"
#include "netacct.skel.h"
#include "ports.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define BPFFS "/sys/fs/bpf"
#define CTR_BUCKETS 1024

/* id -> cgroup id, so a stats poll is one map lookup and no pin lookup. */
struct ctr_ent {
	struct ctr_ent *next;
	uint64_t cgid;
	char id[];
};

struct skiff_bpf_net {
	char pin_dir[PATH_MAX];
	struct ports_bpf *ports; /* NULL: the feature is off (ports_why says why) */
	struct netacct_bpf *acct;
	char ports_why[300], acct_why[300];
	int ncpus;
	struct ctr_ent *ctrs[CTR_BUCKETS];
};

static const char *const ctr_dirs[] = {"ingress", "egress"};

/* ---- libbpf's messages: kept for error texts, never printed ---- */

static __thread char libbpf_last[256];
static __thread bool libbpf_reuse_failed;

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, ap);
	libbpf_last[strcspn(libbpf_last, "\n")] = '\0';
	if (strstr(libbpf_last, "reuse pinned map"))
		libbpf_reuse_failed = true;
	return 0;
}

/* ---- small helpers ---- */

static int pin_path(char *out, size_t len, const char *pin_dir, const char *sub, const char *name, const char *suffix)
{
	int n = snprintf(out, len, "%s/%s/%s%s", pin_dir, sub, name, suffix ? suffix : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int ensure_bpffs(const char *pin_dir)
{
	_cleanup_free_ char *mi = NULL;
	if (strncmp(pin_dir, BPFFS "/", sizeof(BPFFS)) != 0)
		return 0;
	int r = skiff_read_file("/proc/self/mountinfo", &mi, NULL);
	if (r < 0)
		return r;
	for (char *line = mi; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char mnt[PATH_MAX], *dash = strstr(line, " - ");
		if (dash && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strcmp(mnt, BPFFS) == 0 &&
		    strncmp(dash, " - bpf ", 7) == 0)
			return 0;
		line = nl ? nl + 1 : NULL;
	}
	if (mount("bpffs", BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
		return -errno;
	log_info("mounted bpffs on " BPFFS);
	return 0;
}

static int host_netns_cookie(uint64_t *out)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(*out);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len) < 0)
		return -errno;
	return 0;
}

static uint64_t link_cgroup_id(int fd)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || info.type != BPF_LINK_TYPE_CGROUP)
		return 0;
	return info.cgroup.cgroup_id; /* 0 once the cgroup is gone */
}

/* Detaches a pinned link (even if another process holds it open) and unpins it. */
static void unpin_link(const char *path)
{
	int fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

/* Makes path a link of prog on the cgroup cgfd (id cgid). A pinned link on
 * the same cgroup gets prog swapped in; one on another (or a gone) cgroup is
 * stale and replaced. fd: the pinned link if the caller already got it (it
 * is closed here), -1 if there is none, -2 to look. *created tells the
 * caller what to undo. */
static int link_install(struct bpf_program *prog, int cgfd, uint64_t cgid, const char *path, int fd, bool *created,
			struct skiff_error *err)
{
	*created = false;
	if (fd == -2)
		fd = bpf_obj_get(path);
	if (fd >= 0) {
		uint64_t have = link_cgroup_id(fd);
		if (have == cgid) {
			int r = bpf_link_update(fd, bpf_program__fd(prog), NULL);
			close(fd);
			if (r < 0)
				return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "updating BPF link %s", path);
			return 0;
		}
		bpf_link_detach(fd);
		close(fd);
		unlink(path);
	}
	struct bpf_link *l = bpf_program__attach_cgroup(prog, cgfd);
	if (!l)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "attaching %s", bpf_program__name(prog));
	int r = bpf_link__pin(l, path);
	bpf_link__destroy(l); /* the pin keeps it attached; unpinned it goes */
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "pinning BPF link %s", path);
	*created = true;
	return 0;
}

static int set_pin(struct bpf_map *m, const char *pin_dir)
{
	char p[PATH_MAX];
	int r = pin_path(p, sizeof(p), pin_dir, "maps", bpf_map__name(m), NULL);
	return r < 0 ? r : bpf_map__set_pin_path(m, p);
}

/* A new skiff whose map layout changed cannot reuse the old pins: those maps
 * go (their state is lost: the daemon re-adds ports and policies of running
 * containers), the feature stays. Only after libbpf said "reuse". */
static bool unpin_stale_maps(struct bpf_object *obj)
{
	struct bpf_map *m;
	if (!libbpf_reuse_failed)
		return false;
	bpf_object__for_each_map(m, obj)
	{
		const char *p = bpf_map__pin_path(m);
		if (p)
			unlink(p);
	}
	return true;
}

static int mkdirs(const char *pin_dir)
{
	static const char *const subs[] = {"maps", "ports", "ctr", "keep"};
	char p[PATH_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", pin_dir, subs[i]) >= (int)sizeof(p))
			return -ENAMETOOLONG;
		int r = skiff_mkdir_p(p, 0700);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the id -> cgroup id cache ---- */

static size_t ctr_hash(const char *id)
{
	size_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % CTR_BUCKETS;
}

static struct ctr_ent **ctr_find(struct skiff_bpf_net *b, const char *id)
{
	struct ctr_ent **pp = &b->ctrs[ctr_hash(id)];
	while (*pp && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int ctr_remember(struct skiff_bpf_net *b, const char *id, uint64_t cgid)
{
	struct ctr_ent **pp = ctr_find(b, id);
	if (*pp) {
		(*pp)->cgid = cgid;
		return 0;
	}
	struct ctr_ent *e = malloc(sizeof(*e) + strlen(id) + 1);
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->cgid = cgid;
	strcpy(e->id, id);
	*pp = e;
	return 0;
}

static void ctr_forget(struct skiff_bpf_net *b, const char *id)
{
	struct ctr_ent **pp = ctr_find(b, id), *e = *pp;
	if (e) {
		*pp = e->next;
		free(e);
	}
}

/* The container's cgroup id: cached, else from its pinned links (a restarted
 * skiffd asked for stats before re-attaching). 0 when unknown. */
static uint64_t ctr_cgid(struct skiff_bpf_net *b, const char *id)
{
	struct ctr_ent *e = *ctr_find(b, id);
	if (e)
		return e->cgid;
	char p[PATH_MAX];
	uint64_t cgid = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ctr_dirs) && !cgid; i++) {
		char suffix[16];
		snprintf(suffix, sizeof(suffix), "-%s", ctr_dirs[i]);
		if (pin_path(p, sizeof(p), b->pin_dir, "ctr", id, suffix) < 0)
			return 0;
		int fd = bpf_obj_get(p);
		if (fd >= 0) {
			cgid = link_cgroup_id(fd);
			close(fd);
		}
	}
	if (cgid)
		ctr_remember(b, id, cgid);
	return cgid;
}

/* ---- ports ---- */

static const char *const port_progs[] = {"skiff_connect4", "skiff_sendmsg4", "skiff_recvmsg4", "skiff_getpeername4"};

static void ports_unpin_links(const char *pin_dir)
{
	char p[PATH_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(port_progs); i++)
		if (pin_path(p, sizeof(p), pin_dir, "ports", port_progs[i], NULL) == 0)
			unpin_link(p);
}

static int ports_load(struct skiff_bpf_net *b, const char *v2_root, struct skiff_error *err)
{
	struct ports_bpf *s = NULL;
	bool created[ARRAY_SIZE(port_progs)] = {false};
	_cleanup_close_ int cgfd = -1;
	char p[PATH_MAX];
	uint64_t cookie = 0;
	int r;

	r = host_netns_cookie(&cookie);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "reading the host's netns cookie");
	for (int attempt = 0;; attempt++) {
		s = ports_bpf__open();
		if (!s)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening the ports programs");
		s->rodata->host_netns_cookie = cookie;
		if ((r = set_pin(s->maps.skiff_ports, b->pin_dir)) < 0 ||
		    (r = set_pin(s->maps.skiff_local_addrs, b->pin_dir)) < 0 ||
		    (r = set_pin(s->maps.skiff_orig_dst, b->pin_dir)) < 0) {
			skiff_error_sys(err, SKIFF_EINTERNAL, -r, "setting map pin paths");
			goto fail;
		}
		libbpf_reuse_failed = false;
		r = ports_bpf__load(s);
		if (r == 0)
			break;
		if (attempt > 0 || !unpin_stale_maps(s->obj)) {
			skiff_error_sys(err, SKIFF_EINTERNAL, -r, "loading the ports programs (%s)", libbpf_last);
			goto fail;
		}
		ports_bpf__destroy(s);
	}
	cgfd = open(v2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (cgfd < 0 || fstat(cgfd, &st) < 0) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening cgroup %s", v2_root);
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(port_progs); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(s->obj, port_progs[i]);
		r = pin_path(p, sizeof(p), b->pin_dir, "ports", port_progs[i], NULL);
		if (r < 0) {
			skiff_error_sys(err, SKIFF_EINTERNAL, -r, "pin path");
			goto fail;
		}
		r = link_install(prog, cgfd, st.st_ino, p, -2, &created[i], err);
		if (r < 0)
			goto fail;
	}
	b->ports = s;
	return 0;
fail:
	for (size_t i = 0; i < ARRAY_SIZE(port_progs); i++)
		if (created[i] && pin_path(p, sizeof(p), b->pin_dir, "ports", port_progs[i], NULL) == 0)
			unpin_link(p);
	ports_bpf__destroy(s);
	return r < 0 ? r : -EIO;
}

static void port_kv(const struct skiff_port *p, struct skiff_port_key *k, struct skiff_port_val *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->addr = htonl(p->host_ip);
	k->port = htons(p->host_port);
	k->proto = p->proto;
	v->addr = htonl(p->ctr_ip);
	v->port = htons(p->ctr_port);
}

int skiff_bpf_ports_add(struct skiff_bpf_net *b, const struct skiff_port *p, size_t np, struct skiff_error *err)
{
	if (!b || !b->ports)
		return skiff_error_set(err, SKIFF_EUNAVAIL, EOPNOTSUPP, "published ports: BPF programs are off");
	int fd = bpf_map__fd(b->ports->maps.skiff_ports);
	for (size_t i = 0; i < np; i++) {
		struct skiff_port_key k;
		struct skiff_port_val v;
		port_kv(&p[i], &k, &v);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) < 0) {
			int e = errno;
			skiff_bpf_ports_del(b, p, i);
			return skiff_error_sys(err, SKIFF_EINTERNAL, e, "adding published port %u/%s to the BPF map",
					       p[i].host_port, p[i].proto == IPPROTO_UDP ? "udp" : "tcp");
		}
	}
	return 0;
}

int skiff_bpf_ports_del(struct skiff_bpf_net *b, const struct skiff_port *p, size_t np)
{
	if (!b || !b->ports)
		return 0;
	int fd = bpf_map__fd(b->ports->maps.skiff_ports), ret = 0;
	for (size_t i = 0; i < np; i++) {
		struct skiff_port_key k;
		struct skiff_port_val v;
		port_kv(&p[i], &k, &v);
		if (bpf_map_delete_elem(fd, &k) < 0 && errno != ENOENT)
			ret = -errno;
	}
	return ret;
}

/* Every key of a map (the LPM trie and the address set are small). */
static int map_keys(int fd, size_t ksize, void **out, size_t *n)
{
	size_t cap = 64, cnt = 0;
	char *keys = malloc(cap * ksize);
	if (!keys)
		return -ENOMEM;
	for (;;) {
		if (cnt == cap) {
			char *nk = realloc(keys, (cap *= 2) * ksize);
			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
		}
		if (bpf_map_get_next_key(fd, cnt ? keys + (cnt - 1) * ksize : NULL, keys + cnt * ksize) < 0)
			break;
		cnt++;
	}
	*out = keys;
	*n = cnt;
	return 0;
}

int skiff_bpf_local_addrs_set(struct skiff_bpf_net *b, const uint32_t *addrs, size_t n)
{
	if (!b || !b->ports)
		return 0;
	int fd = bpf_map__fd(b->ports->maps.skiff_local_addrs);
	_cleanup_free_ void *keys = NULL;
	size_t nk;
	int r = map_keys(fd, sizeof(uint32_t), &keys, &nk);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nk; i++) {
		uint32_t k = ((uint32_t *)keys)[i];
		bool keep = false;
		for (size_t j = 0; j < n && !keep; j++)
			keep = htonl(addrs[j]) == k;
		if (!keep)
			bpf_map_delete_elem(fd, &k);
	}
	for (size_t j = 0; j < n; j++) {
		uint32_t k = htonl(addrs[j]);
		uint8_t one = 1;
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

/* ---- accounting and policy ---- */

static void egress_key(uint64_t cgid, const struct skiff_cidr *c, struct skiff_egress_key *k)
{
	uint32_t mask = c->len ? ~0u << (32 - c->len) : 0;
	memset(k, 0, sizeof(*k));
	k->prefixlen = SKIFF_EGRESS_CGID_BITS + c->len;
	k->cgid_lo = (uint32_t)cgid;
	k->cgid_hi = (uint32_t)(cgid >> 32);
	k->addr = htonl(c->addr & mask);
}

/* Deletes the rules of cgid, except those in keep[]. */
static int egress_prune(struct skiff_bpf_net *b, uint64_t cgid, const struct skiff_egress_key *keep, size_t nkeep)
{
	int fd = bpf_map__fd(b->acct->maps.skiff_egress);
	_cleanup_free_ void *keys = NULL;
	size_t nk;
	int r = map_keys(fd, sizeof(struct skiff_egress_key), &keys, &nk);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nk; i++) {
		struct skiff_egress_key *k = &((struct skiff_egress_key *)keys)[i];
		if (k->cgid_lo != (uint32_t)cgid || k->cgid_hi != (uint32_t)(cgid >> 32))
			continue;
		bool kept = false;
		for (size_t j = 0; j < nkeep && !kept; j++)
			kept = memcmp(&keep[j], k, sizeof(*k)) == 0;
		if (!kept)
			bpf_map_delete_elem(fd, k);
	}
	return 0;
}

/* New rules first, then stale ones go, then the header that enables them:
 * a packet in between sees a mix of the old and the new policy, never none.
 * fresh: cgid is new to the maps (cgroup ids are not reused), nothing to
 * prune, and no header needed without rules (a missing one means allow). */
static int policy_set(struct skiff_bpf_net *b, uint64_t cgid, const struct skiff_bpf_policy *pol, bool fresh,
		      struct skiff_error *err)
{
	if (fresh && (!pol || (!pol->default_deny && !pol->nrules)))
		return 0;
	size_t n = pol ? pol->nrules : 0;
	_cleanup_free_ struct skiff_egress_key *keys = calloc(n ? n : 1, sizeof(*keys));
	int fd = bpf_map__fd(b->acct->maps.skiff_egress);
	if (!keys)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct skiff_egress_val v = {.allow = pol->rules[i].allow};
		egress_key(cgid, &pol->rules[i].cidr, &keys[i]);
		if (bpf_map_update_elem(fd, &keys[i], &v, BPF_ANY) < 0)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "adding an egress rule to the BPF map");
	}
	int r = fresh ? 0 : egress_prune(b, cgid, keys, n);
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "pruning egress rules");
	struct skiff_acct_cfg cfg = {.default_deny = pol && pol->default_deny, .nrules = n};
	if (bpf_map_update_elem(bpf_map__fd(b->acct->maps.skiff_acct_cfg), &cgid, &cfg, BPF_ANY) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "setting the egress policy");
	return 0;
}

static void acct_purge(struct skiff_bpf_net *b, uint64_t cgid)
{
	if (!b->acct || !cgid)
		return;
	bpf_map_delete_elem(bpf_map__fd(b->acct->maps.skiff_acct), &cgid);
	bpf_map_delete_elem(bpf_map__fd(b->acct->maps.skiff_acct_cfg), &cgid);
	egress_prune(b, cgid, NULL, 0);
}

static int ctr_link_path(const struct skiff_bpf_net *b, const char *id, size_t dir, char *p, size_t len)
{
	char suffix[16];
	snprintf(suffix, sizeof(suffix), "-%s", ctr_dirs[dir]);
	return pin_path(p, len, b->pin_dir, "ctr", id, suffix);
}

static struct bpf_program *acct_prog(struct skiff_bpf_net *b, size_t dir)
{
	return dir == 0 ? b->acct->progs.skiff_acct_ingress : b->acct->progs.skiff_acct_egress;
}

int skiff_bpf_ctr_attach(struct skiff_bpf_net *b, const char *id, const char *cgroup_dir,
			 const struct skiff_bpf_policy *pol, struct skiff_error *err)
{
	bool created[ARRAY_SIZE(ctr_dirs)] = {false}, fresh = false;
	int pinned[ARRAY_SIZE(ctr_dirs)] = {-1, -1};
	_cleanup_free_ void *zero = NULL;
	char p[PATH_MAX];
	struct stat st;
	int r;

	if (!b->acct) {
		if (pol && (pol->default_deny || pol->nrules))
			return skiff_error_set(err, SKIFF_EUNAVAIL, EOPNOTSUPP,
					       "egress policy of container %s: BPF accounting is off on this host", id);
		return 0;
	}
	if (strchr(id, '/') || !*id)
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL, "invalid container id '%s'", id);
	_cleanup_close_ int cgfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0 || fstat(cgfd, &st) < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening cgroup %s", cgroup_dir);
	/* The pinned links, if any (a re-attach, or a previous life of the
	 * container): looked up once, for the old cgroup id and for link_install. */
	uint64_t cgid = st.st_ino, old = 0;
	struct ctr_ent *known = *ctr_find(b, id);
	for (size_t i = 0; i < ARRAY_SIZE(ctr_dirs); i++) {
		r = ctr_link_path(b, id, i, p, sizeof(p));
		if (r < 0) {
			skiff_error_sys(err, SKIFF_EINVAL, -r, "pin path of container %s", id);
			goto fail;
		}
		pinned[i] = bpf_obj_get(p);
		if (pinned[i] >= 0 && !old)
			old = link_cgroup_id(pinned[i]);
	}
	if (known)
		old = known->cgid;
	if (old && old != cgid) /* a previous life of the container (its cgroup is gone) */
		acct_purge(b, old);

	/* Counters and policy before the links: the first packet is already counted and filtered. */
	zero = calloc(b->ncpus, (sizeof(struct skiff_acct_counters) + 7) / 8 * 8);
	if (!zero) {
		r = skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		goto fail;
	}
	if (bpf_map_update_elem(bpf_map__fd(b->acct->maps.skiff_acct), &cgid, zero, BPF_NOEXIST) == 0)
		fresh = true;
	else if (errno != EEXIST) {
		r = skiff_error_sys(err, SKIFF_EINTERNAL, errno, "adding container %s to the BPF counters", id);
		goto fail;
	}
	r = policy_set(b, cgid, pol, fresh, err);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(ctr_dirs); i++) {
		if (ctr_link_path(b, id, i, p, sizeof(p)) < 0) /* checked above */
			continue;
		r = link_install(acct_prog(b, i), cgfd, cgid, p, pinned[i], &created[i], err);
		pinned[i] = -1; /* closed by link_install */
		if (r < 0)
			goto fail;
	}
	r = ctr_remember(b, id, cgid);
	if (r < 0) {
		skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	for (size_t i = 0; i < ARRAY_SIZE(ctr_dirs); i++) {
		if (pinned[i] >= 0)
			close(pinned[i]);
		if (created[i] && ctr_link_path(b, id, i, p, sizeof(p)) == 0)
			unpin_link(p);
	}
	if (fresh)
		acct_purge(b, cgid);
	return skiff_error_wrap(err, "attaching the network programs to container %s", id);
}

int skiff_bpf_ctr_detach(struct skiff_bpf_net *b, const char *id)
{
	char p[PATH_MAX];
	if (!b || strchr(id, '/') || !*id)
		return 0;
	uint64_t cgid = ctr_cgid(b, id);
	for (size_t i = 0; i < ARRAY_SIZE(ctr_dirs); i++)
		if (ctr_link_path(b, id, i, p, sizeof(p)) == 0)
			unpin_link(p);
	acct_purge(b, cgid);
	ctr_forget(b, id);
	return 0;
}

int skiff_bpf_ctr_counters(struct skiff_bpf_net *b, const char *id, struct skiff_net_counters *out)
{
	if (!b || !b->acct)
		return -EOPNOTSUPP;
	uint64_t cgid = ctr_cgid(b, id);
	if (!cgid)
		return -ENOENT;
	struct skiff_acct_counters v[b->ncpus];
	if (bpf_map_lookup_elem(bpf_map__fd(b->acct->maps.skiff_acct), &cgid, v) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < b->ncpus; i++) {
		out->rx_bytes += v[i].rx_bytes;
		out->rx_packets += v[i].rx_packets;
		out->rx_dropped += v[i].rx_dropped;
		out->tx_bytes += v[i].tx_bytes;
		out->tx_packets += v[i].tx_packets;
		out->tx_dropped += v[i].tx_dropped;
	}
	return 0;
}

/* A restarted skiffd: pinned container links get the new programs; links of
 * containers whose cgroup is gone, and the map entries nobody links to any
 * more, go (a container that stopped while skiffd was down). */
static void acct_reconcile(struct skiff_bpf_net *b)
{
	char dir[PATH_MAX], p[PATH_MAX + 256];
	snprintf(dir, sizeof(dir), "%s/ctr", b->pin_dir);
	_cleanup_closedir_ DIR *d = opendir(dir);
	size_t nlive = 0, cap = 0;
	_cleanup_free_ uint64_t *live = NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		const char *dash = strrchr(de->d_name, '-');
		size_t which = dash && strcmp(dash + 1, "ingress") == 0 ? 0 : 1;
		int fd = bpf_obj_get(p);
		uint64_t cgid = fd >= 0 ? link_cgroup_id(fd) : 0;
		if (!cgid) {
			if (fd >= 0)
				bpf_link_detach(fd);
			unlink(p);
		} else {
			bpf_link_update(fd, bpf_program__fd(acct_prog(b, which)), NULL);
			if (nlive == cap) {
				uint64_t *nl = realloc(live, (cap = cap ? cap * 2 : 64) * sizeof(*live));
				if (!nl) {
					close(fd);
					return;
				}
				live = nl;
			}
			live[nlive++] = cgid;
		}
		if (fd >= 0)
			close(fd);
	}
	_cleanup_free_ void *keys = NULL;
	size_t nk;
	if (map_keys(bpf_map__fd(b->acct->maps.skiff_acct), sizeof(uint64_t), &keys, &nk) < 0)
		return;
	for (size_t i = 0; i < nk; i++) {
		uint64_t k = ((uint64_t *)keys)[i];
		bool used = false;
		for (size_t j = 0; j < nlive && !used; j++)
			used = live[j] == k;
		if (!used)
			acct_purge(b, k);
	}
}

/* The kernel runs cgroup_skb programs behind one static key per direction,
 * on while any cgroup has a program of that type; turning it on or off
 * patches kernel text (~0.3 ms per direction on a 2-core VM). Without a
 * keeper every start with no other container running paid that twice at
 * attach and twice more at detach. The keeper is an empty cgroup (no
 * process: its programs never run) holding both programs through pinned
 * links, so it outlives a killed skiffd and goes with --cleanup. Named
 * after the pin dir, one per daemon. */
static int keep_cgroup(const char *pin_dir, char *out, size_t len)
{
	struct skiff_cgroup_layout l;
	const char *base = strrchr(pin_dir, '/');
	if (skiff_cgroup_detect(&l, NULL) < 0 || !l.v2_root[0])
		return -ENOENT;
	int n = snprintf(out, len, "%s/%s.bpf-keep", l.v2_root, base ? base + 1 : pin_dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Best effort: without it attaching costs more, nothing else changes. */
static void keep_install(struct skiff_bpf_net *b)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct stat st;
	if (keep_cgroup(b->pin_dir, dir, sizeof(dir)) < 0 || (mkdir(dir, 0755) < 0 && errno != EEXIST))
		return;
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ctr_dirs); i++) {
		bool created;
		if (pin_path(p, sizeof(p), b->pin_dir, "keep", ctr_dirs[i], NULL) == 0)
			link_install(acct_prog(b, i), fd, st.st_ino, p, -2, &created, NULL);
	}
}

static int acct_load(struct skiff_bpf_net *b, struct skiff_error *err)
{
	struct netacct_bpf *s;
	int r;
	for (int attempt = 0;; attempt++) {
		s = netacct_bpf__open();
		if (!s)
			return skiff_error_sys(err, SKIFF_EINTERNAL, errno, "opening the accounting programs");
		if ((r = set_pin(s->maps.skiff_acct, b->pin_dir)) < 0 ||
		    (r = set_pin(s->maps.skiff_acct_cfg, b->pin_dir)) < 0 ||
		    (r = set_pin(s->maps.skiff_egress, b->pin_dir)) < 0) {
			netacct_bpf__destroy(s);
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "setting map pin paths");
		}
		libbpf_reuse_failed = false;
		r = netacct_bpf__load(s);
		if (r == 0)
			break;
		bool again = attempt == 0 && unpin_stale_maps(s->obj);
		netacct_bpf__destroy(s);
		if (!again)
			return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "loading the accounting programs (%s)",
					       libbpf_last);
	}
	b->acct = s;
	acct_reconcile(b);
	keep_install(b);
	return 0;
}

/* ---- open / close / destroy ---- */

static void feature_off(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void feature_off(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

int skiff_bpf_net_open(const struct skiff_bpf_net_opts *o, struct skiff_bpf_net **out, struct skiff_error *err)
{
	struct skiff_bpf_net *b = calloc(1, sizeof(*b));
	struct skiff_error e = {0};
	int r;

	if (!b)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	if (snprintf(b->pin_dir, sizeof(b->pin_dir), "%s", o->pin_dir) >= (int)sizeof(b->pin_dir)) {
		free(b);
		return skiff_error_set(err, SKIFF_EINVAL, ENAMETOOLONG, "BPF pin dir too long: %s", o->pin_dir);
	}
	libbpf_set_print(libbpf_quiet);
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0)
		b->ncpus = 1;

	r = ensure_bpffs(b->pin_dir);
	if (r >= 0)
		r = mkdirs(b->pin_dir);
	if (r < 0) {
		feature_off(b->ports_why, sizeof(b->ports_why), "BPF pin dir %s: %s", b->pin_dir, strerror(-r));
		memcpy(b->acct_why, b->ports_why, sizeof(b->acct_why));
		*out = b;
		return 0;
	}

	if (o->no_ports) {
		ports_unpin_links(b->pin_dir); /* the nftables fallback must be the only path */
		feature_off(b->ports_why, sizeof(b->ports_why), "BPF port programs disabled");
	} else if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, NULL) != 1) {
		feature_off(b->ports_why, sizeof(b->ports_why),
			    "cgroup_sock_addr programs not supported by this kernel");
	} else if (ports_load(b, o->v2_root, &e) < 0) {
		feature_off(b->ports_why, sizeof(b->ports_why), "cgroup_sock_addr refused: %s", e.msg);
	}

	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SKB, NULL) != 1) {
		feature_off(b->acct_why, sizeof(b->acct_why), "cgroup_skb programs not supported by this kernel");
	} else if (acct_load(b, &e) < 0) {
		feature_off(b->acct_why, sizeof(b->acct_why), "cgroup_skb refused: %s", e.msg);
	}
	*out = b;
	return 0;
}

void skiff_bpf_net_close(struct skiff_bpf_net *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < CTR_BUCKETS; i++)
		while (b->ctrs[i]) {
			struct ctr_ent *e = b->ctrs[i];
			b->ctrs[i] = e->next;
			free(e);
		}
	ports_bpf__destroy(b->ports);
	netacct_bpf__destroy(b->acct);
	free(b);
}

/* Every pinned object goes; links are detached first (BPF_LINK_DETACH: even
 * if another process still holds an fd on them). Maps just get unpinned. */
static int destroy_dir(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];
	int ret = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p)) {
			ret = -ENAMETOOLONG;
			continue;
		}
		if (de->d_type == DT_DIR) {
			int r = destroy_dir(p);
			if (r < 0)
				ret = r;
			continue;
		}
		int fd = bpf_obj_get(p);
		if (fd >= 0) {
			bpf_link_detach(fd); /* EINVAL on maps: harmless */
			close(fd);
		}
		if (unlink(p) < 0 && errno != ENOENT)
			ret = -errno;
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

int skiff_bpf_net_destroy(const char *pin_dir, struct skiff_error *err)
{
	char keep[PATH_MAX];
	int r = destroy_dir(pin_dir);
	if (keep_cgroup(pin_dir, keep, sizeof(keep)) == 0 && rmdir(keep) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "removing the BPF pins in %s", pin_dir);
	return 0;
}

bool skiff_bpf_net_has_ports(const struct skiff_bpf_net *b) { return b && b->ports; }

bool skiff_bpf_net_has_acct(const struct skiff_bpf_net *b) { return b && b->acct; }

const char *skiff_bpf_net_status(const struct skiff_bpf_net *b, char *out, size_t outlen)
{
	if (!b) {
		snprintf(out, outlen,
			 "published ports: nftables DNAT fallback: BPF not loaded\n"
			 "network accounting: off: BPF not loaded");
		return out;
	}
	snprintf(out, outlen, "published ports: %s%s\nnetwork accounting: %s%s",
		 b->ports ? "cgroup_sock_addr (no proxy)" : "nftables DNAT fallback: ", b->ports ? "" : b->ports_why,
		 b->acct ? "cgroup_skb (per-container counters, egress policy)" : "off: ", b->acct ? "" : b->acct_why);
	return out;
}
