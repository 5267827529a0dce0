// SPDX-License-Identifier: GPL-2.0
/*
 * key-copies: where an RSA private key's values sit in the memory of a process that
 * loaded it with OpenSSL 3, the way a TLS server does (issue 15: "find out where else
 * the key's values end up"). Native, no module needed:
 *
 *   key-copies KEY.pem HEAP_BYTES SIGNATURES NEEDLES
 *
 * starts a secure heap of HEAP_BYTES (0: none), loads KEY.pem, makes SIGNATURES
 * RSA-SHA256 signatures, then searches its own writable mappings for each needle
 * (lines "NAME HEX", e.g. each private value little-endian as BIGNUM limbs hold it
 * and big-endian as DER does) and prints one line per needle and mapping:
 *   NAME xCOUNT in MAPS-LINE [secure]
 * [secure] marks OpenSSL's secure heap, the part `ramcrypt run --secure-heap` puts in
 * the secret tier; every other line is a copy in ordinary memory.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define MAX_MAPS 1024

static struct { unsigned long lo, hi; char line[512]; } maps[MAX_MAPS];

int main(int argc, char **argv)
{
	static unsigned char needle[4096];
	char line[512], name[64], hex[2 * sizeof(needle) + 1];
	unsigned long heap;
	int nsig, nm = 0;
	EVP_PKEY *key;
	FILE *f;

	if (argc != 5) {
		fprintf(stderr, "usage: key-copies KEY.pem HEAP_BYTES SIGNATURES NEEDLES\n");
		return 2;
	}
	heap = strtoul(argv[2], NULL, 0);
	nsig = atoi(argv[3]);
	if (heap && !CRYPTO_secure_malloc_init(heap, 16)) {
		fprintf(stderr, "key-copies: CRYPTO_secure_malloc_init(%lu) failed\n", heap);
		return 1;
	}
	f = fopen(argv[1], "r");
	key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (!key) {
		fprintf(stderr, "key-copies: %s: cannot load the key\n", argv[1]);
		return 1;
	}
	fclose(f);
	for (int i = 0; i < nsig; i++) {
		unsigned char sig[1024], md[32] = { (unsigned char)i };
		size_t siglen = sizeof(sig);
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

		if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
		    EVP_PKEY_sign(ctx, sig, &siglen, md, sizeof(md)) <= 0) {
			fprintf(stderr, "key-copies: signing failed\n");
			return 1;
		}
		EVP_PKEY_CTX_free(ctx);
	}
	/* The writable mappings now, before the needles are read into memory. */
	f = fopen("/proc/self/maps", "r");
	while (f && nm < MAX_MAPS && fgets(line, sizeof(line), f)) {
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &maps[nm].lo, &maps[nm].hi, perms) == 3 &&
		    perms[0] == 'r' && perms[1] == 'w') {
			line[strcspn(line, "\n")] = 0;
			strcpy(maps[nm++].line, line);
		}
	}
	if (f)
		fclose(f);
	f = fopen(argv[4], "r");
	if (!f) {
		perror(argv[4]);
		return 1;
	}
	while (fscanf(f, "%63s %8192s", name, hex) == 2) {
		size_t n = strlen(hex) / 2;

		/* Cleared first: the tail of a longer needle read before would match its pieces. */
		memset(needle, 0, sizeof(needle));
		for (size_t i = 0; i < n; i++)
			sscanf(hex + 2 * i, "%2hhx", &needle[i]);
		for (int m = 0; m < nm; m++) {
			unsigned char *p = (unsigned char *)maps[m].lo, *end = (unsigned char *)maps[m].hi;
			int count = 0;

			while (p < end && (p = memmem(p, end - p, needle, n))) {
				if (p != needle) /* the needle's own buffer */
					count++;
				p++;
			}
			if (count)
				printf("%s x%d in %s%s\n", name, count, maps[m].line,
				       heap && CRYPTO_secure_allocated((void *)(maps[m].lo + 16)) ? " [secure]" : "");
		}
	}
	fclose(f);
	return 0;
}
