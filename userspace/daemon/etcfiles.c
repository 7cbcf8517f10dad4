/* The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf that
 * spawn bind-mounts into the rootfs, written the way dockerd writes them. */
#include "container-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/fs.h"
#include "../lib/json.h"

static int write_str(const struct skiff_ctr *c, const char *name, const char *data, struct skiff_error *err)
{
	_cleanup_free_ char *p = skiff_path_join(c->dir, name);
	int r;
	if (!p)
		return -ENOMEM;
	r = skiff_write_replace(p, data, strlen(data), 0644); /* regenerated each start */
	if (r < 0)
		return skiff_error_sys(err, SKIFF_EINTERNAL, -r, "writing %s of container '%s'", name, c->name);
	return 0;
}

static void append(char **buf, size_t *len, FILE *f, const char *s)
{
	(void)buf;
	(void)len;
	fputs(s, f);
}

/* Dropping loopback nameservers: they mean nothing inside a new netns. */
static bool loopback_ns(const char *line)
{
	const char *p = line + strlen("nameserver");
	while (*p == ' ' || *p == '\t')
		p++;
	return !strncmp(p, "127.", 4) || !strncmp(p, "::1", 3);
}

char *skiff_resolv_conf_filter(const char *host)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	_cleanup_free_ char *copy = strdup(host ? host : "");
	char *save = NULL;
	bool have_ns = false;

	if (!f || !copy) {
		if (f)
			fclose(f);
		free(out);
		return NULL;
	}
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "nameserver", 10)) {
			if (loopback_ns(line))
				continue;
			have_ns = true;
		}
		append(&out, &len, f, line);
		append(&out, &len, f, "\n");
	}
	if (!have_ns)
		append(&out, &len, f, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	fclose(f);
	return out;
}

/* "search a b" / "options x y": one resolv.conf line, none for an empty list */
static void put_list(FILE *f, const char *key, const json_t *list)
{
	json_t *e;
	size_t i;
	if (!json_array_size(list))
		return;
	fputs(key, f);
	json_array_foreach(list, i, e) fprintf(f, " %s", json_string_value(e));
	fputs("\n", f);
}

static char *resolv_for(const struct skiff_ctr *c, bool host_net, const char *nameserver)
{
	_cleanup_free_ char *host = NULL;
	json_t *dns = json_object_get(c->host_config, "Dns");
	json_t *search = json_object_get(c->host_config, "DnsSearch");
	json_t *opts = json_object_get(c->host_config, "DnsOptions");
	json_t *e;
	size_t i;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	skiff_read_file("/etc/resolv.conf", &host, NULL);
	if (nameserver && *nameserver && !json_array_size(dns)) {
		/* user networks: skiffd's resolver on the gateway answers names
		 * and forwards the rest (Docker's 127.0.0.11) */
		f = open_memstream(&out, &len);
		if (!f)
			return NULL;
		put_list(f, "search", search);
		fprintf(f, "nameserver %s\n", nameserver);
		put_list(f, "options", opts);
		fclose(f);
		return out;
	}
	if (!json_array_size(dns) && !json_array_size(search) && !json_array_size(opts))
		return host_net ? strdup(host ? host : "") : skiff_resolv_conf_filter(host);
	/* explicit --dns* replace the host's values (Docker keeps the other lines) */
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	put_list(f, "search", search);
	if (json_array_size(dns)) {
		json_array_foreach(dns, i, e) fprintf(f, "nameserver %s\n", json_string_value(e));
	} else {
		_cleanup_free_ char *filtered = skiff_resolv_conf_filter(host);
		char *save = NULL;
		for (char *l = filtered ? strtok_r(filtered, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
			if (!strncmp(l, "nameserver", 10))
				fprintf(f, "%s\n", l);
	}
	put_list(f, "options", opts);
	fclose(f);
	return out;
}

int skiff_ctr_write_etc_files(const struct skiff_ctr *c, struct skiff_error *err)
{
	return skiff_ctr_write_etc_files_net(c, NULL, NULL, err);
}

int skiff_ctr_write_etc_files_net(const struct skiff_ctr *c, const char *ip, const char *nameserver,
				  struct skiff_error *err)
{
	bool host_net = skiff_ctr_netmode(c->host_config, NULL) == SKIFF_NET_HOST;
	char hbuf[13], hostname[300], name[256];
	_cleanup_free_ char *hosts = NULL, *resolv = NULL, *host_hosts = NULL;
	size_t len = 0;
	const char *dom = skiff_json_str(c->config, "Domainname", "");
	json_t *e;
	size_t i;
	FILE *f;
	int r;

	snprintf(name, sizeof(name), "%s", skiff_ctr_hostname(c, hbuf));
	if (host_net && !*skiff_json_str(c->config, "Hostname", ""))
		gethostname(name, sizeof(name) - 1);
	snprintf(hostname, sizeof(hostname), "%s\n", name);
	r = write_str(c, "hostname", hostname, err);
	if (r < 0)
		return r;

	f = open_memstream(&hosts, &len);
	if (!f)
		return -ENOMEM;
	if (host_net && skiff_read_file("/etc/hosts", &host_hosts, NULL) == 0) {
		fputs(host_hosts, f);
	} else {
		fputs("127.0.0.1\tlocalhost\n"
		      "::1\tlocalhost ip6-localhost ip6-loopback\n"
		      "fe00::\tip6-localnet\n"
		      "ff00::\tip6-mcastprefix\n"
		      "ff02::1\tip6-allnodes\n"
		      "ff02::2\tip6-allrouters\n",
		      f);
	}
	if (!host_net && ip && *ip)
		fprintf(f, "%s\t%s\n", ip, name);
	json_array_foreach(json_object_get(c->host_config, "ExtraHosts"), i, e)
	{
		/* "name:ip" (or "name=ip" in newer clients) */
		const char *s = json_string_value(e);
		const char *sep = strpbrk(s, ":=");
		if (sep)
			fprintf(f, "%s\t%.*s\n", sep + 1, (int)(sep - s), s);
	}
	(void)dom;
	fclose(f);
	r = write_str(c, "hosts", hosts ? hosts : "", err);
	if (r < 0)
		return r;

	resolv = resolv_for(c, host_net, nameserver);
	if (!resolv)
		return skiff_error_set(err, SKIFF_EINTERNAL, ENOMEM, "out of memory");
	return write_str(c, "resolv.conf", resolv, err);
}
