/* Container names and ids, following Docker's rules so that clients that
 * validate names or parse ids the way docker does are never surprised. */
#include "names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '.' || c == '-');
}

bool skiff_name_valid(const char *name)
{
	if (!name)
		return false;
	if (*name == '/')
		name++;
	if (!name_char(name[0], true) || name[1] == '\0')
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!name_char(*p, false))
			return false;
	return true;
}

/* Our own word lists: cheerful adjectives and people who shaped computing
 * and science, in the spirit of Docker's generator. */
static const char *const adjectives[] = {
	"admiring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring",
	"brave", "busy", "charming", "clever", "compassionate", "competent", "confident", "cool",
	"dazzling", "determined", "eager", "ecstatic", "elegant", "epic", "exciting", "festive",
	"focused", "friendly", "gallant", "gifted", "goofy", "gracious", "happy", "hopeful",
	"hungry", "inspiring", "jolly", "jovial", "keen", "kind", "laughing", "loving",
	"lucid", "magical", "modest", "musing", "mystifying", "nice", "nifty", "nostalgic",
	"objective", "optimistic", "peaceful", "pensive", "practical", "priceless", "quirky", "quizzical",
	"relaxed", "reverent", "romantic", "serene", "sharp", "silly", "sleepy", "stoic",
	"strange", "sweet", "tender", "trusting", "upbeat", "vibrant", "vigilant", "wizardly",
	"wonderful", "xenodochial", "youthful", "zealous", "zen",
};

static const char *const surnames[] = {
	"agnesi", "albattani", "allen", "archimedes", "babbage", "bardeen", "bell", "bohr",
	"boole", "borg", "brattain", "cerf", "curie", "darwin", "dijkstra", "einstein",
	"euclid", "euler", "faraday", "fermat", "fermi", "feynman", "franklin", "galileo",
	"gauss", "goldberg", "goodall", "hamilton", "hawking", "heisenberg", "hopper", "hypatia",
	"johnson", "kepler", "knuth", "lamarr", "lamport", "leakey", "lovelace", "lumiere",
	"maxwell", "mccarthy", "meitner", "mendel", "morse", "napier", "newton", "noether",
	"pascal", "pasteur", "perlman", "planck", "ritchie", "sammet", "shannon", "thompson",
	"tesla", "torvalds", "turing", "volhard", "wiles", "wilson", "wozniak", "wu",
};

static unsigned rnd(unsigned n)
{
	unsigned v = 0;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (unsigned)(size_t)&v ^ (unsigned)n;
	return v % n;
}

void skiff_name_generate(char *out, size_t outlen, int retry)
{
	const char *a, *s;
	do {
		a = adjectives[rnd(sizeof(adjectives) / sizeof(adjectives[0]))];
		s = surnames[rnd(sizeof(surnames) / sizeof(surnames[0]))];
	} while (!strcmp(a, "boring") && !strcmp(s, "wozniak")); /* Steve Wozniak is not boring */
	if (retry > 0)
		snprintf(out, outlen, "/%s_%s%u", a, s, rnd(10));
	else
		snprintf(out, outlen, "/%s_%s", a, s);
}

int skiff_id_generate(char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[32];

	for (;;) {
		size_t got = 0;
		while (got < sizeof(b)) {
			ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			got += (size_t)n;
		}
		for (size_t i = 0; i < 32; i++) {
			out[2 * i] = hex[b[i] >> 4];
			out[2 * i + 1] = hex[b[i] & 15];
		}
		out[64] = '\0';
		/* an all-digit short id would parse as a number (Docker regenerates too) */
		if (strspn(out, "0123456789") < 12)
			return 0;
	}
}

void skiff_id_short(const char *id, char out[13])
{
	snprintf(out, 13, "%s", id);
}

int skiff_ids_lookup(const char *key, const char *const *ids, const char *const *names, size_t n)
{
	size_t klen;
	int found = -ENOENT;

	if (!key || !*key)
		return -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ids[i], key))
			return (int)i;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		if (!nm)
			continue;
		if (!strcmp(nm, key) || (nm[0] == '/' && key[0] != '/' && !strcmp(nm + 1, key)))
			return (int)i;
	}
	klen = strlen(key);
	if (strspn(key, "0123456789abcdef") != klen)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(ids[i], key, klen))
			continue;
		if (found >= 0)
			return -ENOTUNIQ;
		found = (int)i;
	}
	return found;
}
