/* libFuzzer harness for the embedded DNS server's query handling
 * (userspace/net/dns.c via dns-internal.h): any container on a user network
 * can send skiffd arbitrary datagrams. Checks memory safety and that an
 * answer with a question, sent back as a query, gets the same answer. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/net/dns-internal.h"

#define CAP 512 /* exactly what skiffd passes: ASan sees one byte too far */

/* Names starting with "c" or containing "web" are containers; how many
 * addresses depends on the name, up to more than fit one answer. */
static int stub_lookup(void *data, uint32_t client_ip, const char *name, uint32_t *addrs, int max)
{
	size_t len = strlen(name);
	(void)data;
	(void)client_ip;
	if (len == 0 || len > 253)
		abort(); /* the contract: a non-empty name of at most 253 bytes */
	for (size_t i = 0; i < len; i++)
		if (isupper((unsigned char)name[i]))
			abort(); /* the contract: lower-case */
	if (name[0] != 'c' && !strstr(name, "web"))
		return 0;
	int n = (int)(len % 24) + 1;
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		addrs[i] = 0x0a000002u + (uint32_t)i;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(CAP), *again = malloc(CAP), *re = NULL;
	size_t n = 0, n2 = 0;
	enum skiff_dns_verdict v;

	if (!buf || !again)
		abort();
	v = skiff_dns_answer(stub_lookup, NULL, 0x0a000005u, data, size, buf, CAP, &n);
	if (v == SKIFF_DNS_REPLY) {
		if (n < 12 || n > CAP)
			abort();
		if (memcmp(buf, data, 2) != 0 || !(buf[2] & 0x80))
			abort(); /* same ID, and a response */
		/* The reply's question section, sent as a query, is answered
		 * identically (its name was encoded from what we parsed). */
		if (buf[4] == 0 && buf[5] == 1 && (re = malloc(n))) {
			memcpy(re, buf, n);
			re[2] &= 0x01; /* QR off, opcode 0, RD kept */
			re[3] = 0;
			if (skiff_dns_answer(stub_lookup, NULL, 0x0a000005u, re, n, again, CAP, &n2) != SKIFF_DNS_REPLY ||
			    n2 != n || memcmp(again, buf, n) != 0)
				abort();
		}
	} else if (n != 0) {
		abort();
	}
	free(re);
	free(again);
	free(buf);
	return 0;
}
