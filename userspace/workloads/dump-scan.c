// SPDX-License-Identifier: GPL-2.0
/*
 * Find many byte strings in one RAM image at once, for the attack evaluation
 * (scripts/attack): the secret and its pieces, the ramcrypt key as words, halves,
 * whole and key schedules, RSA private values, the harness's own leaks. One pass
 * over the image, however many needles: every offset's 8 bytes are looked up in a
 * table of the needles' first 8 bytes (a bitmap first), and a hit is compared in full.
 *
 *   dump-scan NEEDLES IMAGE
 *
 * NEEDLES: one needle a line, "LABEL HEX" (at least 8 bytes, labels without spaces).
 * Output: one line per needle found, "LABEL COUNT OFFSET...", at most MAX_OFFSETS
 * offsets (byte offsets in IMAGE, any alignment). Exit 0, or 2 on bad input.
 * A host program: it reads images, it never runs in the guest.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NEEDLES	4096
#define MAX_OFFSETS	64
#define TABLE_BITS	14	/* buckets for the first 8 bytes: > 2 * MAX_NEEDLES */
#define FILTER_BITS	20	/* a 128 KiB bitmap: few false hits on random data */

struct needle {
	char label[96];
	unsigned char *bytes;
	size_t len;
	uint64_t first;
	int next;		/* next needle with the same first 8 bytes' bucket */
	size_t count;
	size_t offsets[MAX_OFFSETS];
};

static struct needle needles[MAX_NEEDLES];
static int bucket[1 << TABLE_BITS];
static uint64_t filter[(1 << FILTER_BITS) / 64];

static inline uint64_t hash(uint64_t x)
{
	return x * 0x9e3779b97f4a7c15ULL;
}

static int load(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *hex;
	size_t cap = 0;
	int n = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		struct needle *nd = &needles[n];
		size_t hl;

		line[strcspn(line, "\n")] = 0;
		hex = strchr(line, ' ');
		if (!hex || n == MAX_NEEDLES || (size_t)(hex - line) >= sizeof(nd->label))
			goto bad;
		*hex++ = 0;
		hl = strlen(hex);
		if (hl % 2 || hl < 16)
			goto bad;
		strcpy(nd->label, line);
		nd->len = hl / 2;
		nd->bytes = malloc(nd->len);
		if (!nd->bytes)
			goto bad;
		for (size_t i = 0; i < nd->len; i++)
			if (sscanf(hex + 2 * i, "%2hhx", &nd->bytes[i]) != 1)
				goto bad;
		memcpy(&nd->first, nd->bytes, 8);
		n++;
	}
	free(line);
	fclose(f);
	return n;
bad:
	fprintf(stderr, "dump-scan: %s: bad needle line %d\n", path, n + 1);
	return -1;
}

int main(int argc, char **argv)
{
	const unsigned char *img;
	struct stat st;
	int n, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: dump-scan NEEDLES IMAGE\n");
		return 2;
	}
	n = load(argv[1]);
	if (n < 0)
		return 2;
	memset(bucket, -1, sizeof(bucket));
	for (int i = 0; i < n; i++) {
		uint64_t h = hash(needles[i].first);
		size_t b = h >> (64 - TABLE_BITS), fb = h >> (64 - FILTER_BITS);

		needles[i].next = bucket[b];
		bucket[b] = i;
		filter[fb / 64] |= 1ULL << (fb % 64);
	}
	fd = open(argv[2], O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		perror(argv[2]);
		return 2;
	}
	if (st.st_size < 8)
		return 0;
	img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED) {
		perror(argv[2]);
		return 2;
	}
	madvise((void *)img, st.st_size, MADV_SEQUENTIAL);
	for (size_t off = 0; off + 8 <= (size_t)st.st_size; off++) {
		uint64_t x, h;
		size_t fb;

		memcpy(&x, img + off, 8);
		h = hash(x);
		fb = h >> (64 - FILTER_BITS);
		if (!(filter[fb / 64] & (1ULL << (fb % 64))))
			continue;
		for (int i = bucket[h >> (64 - TABLE_BITS)]; i >= 0; i = needles[i].next) {
			struct needle *nd = &needles[i];

			if (nd->first != x || off + nd->len > (size_t)st.st_size ||
			    memcmp(img + off, nd->bytes, nd->len))
				continue;
			if (nd->count < MAX_OFFSETS)
				nd->offsets[nd->count] = off;
			nd->count++;
		}
	}
	for (int i = 0; i < n; i++) {
		if (!needles[i].count)
			continue;
		printf("%s %zu", needles[i].label, needles[i].count);
		for (size_t k = 0; k < needles[i].count && k < MAX_OFFSETS; k++)
			printf(" %zu", needles[i].offsets[k]);
		printf("\n");
	}
	return 0;
}
