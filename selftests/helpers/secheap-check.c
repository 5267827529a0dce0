// SPDX-License-Identifier: GPL-2.0
/*
 * secheap-check: what `ramcrypt run --secure-heap` and `run --secret` did to this
 * process (tool.sh, seal_flow.sh). Dynamically linked, as the programs those options
 * serve are: ramcrypt-preload.so can only reach a program through ld.so.
 *
 *   secheap-check genkey FILE   write a new RSA-2048 private key (PEM), unprotected
 *   secheap-check key FILE      load it as a server does (PEM_read_PrivateKey), sign
 *                               once, and print
 *     secure_heap=0|1 secure_used=BYTES secret_regions=N ordinary_pq=N
 *   secheap-check env VAR       print  var=0|1 secret_regions=N
 *
 * secure_used: bytes in use in the secure heap (0 without one: OpenSSL then falls back
 * to malloc); secret_regions: from the module (RAMCRYPT_IOC_PROC_STATS on itself);
 * ordinary_pq: copies of p or q (little-endian, as BIGNUMs hold them) in this
 * process's writable memory outside the secure heap, after the signature (RSA caches
 * Montgomery contexts of p and q then). Before that it asks OpenSSL nothing about the
 * key: EVP_PKEY_get0_RSA() would make a legacy copy of it, outside the secure heap.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ramcrypt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static unsigned long long secret_regions(void)
{
	struct ramcrypt_proc_stats ps = { 0 };
	int fd = open("/dev/ramcrypt", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, RAMCRYPT_IOC_PROC_STATS, &ps)) {
		perror("secheap-check: RAMCRYPT_IOC_PROC_STATS");
		exit(1);
	}
	close(fd);
	return ps.secret_regions;
}

/*
 * Copies of p and q outside the secure heap. They are read through a parameter copy,
 * turned into bytes in buf and that copy freed cleansed; buf itself is not counted.
 */
static int ordinary_pq(EVP_PKEY *k)
{
	static const char *names[] = { OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2 };
	unsigned char buf[2][256];
	int len[2], count = 0;
	char line[512];
	FILE *f;

	for (int i = 0; i < 2; i++) {
		BIGNUM *b = NULL;

		if (!EVP_PKEY_get_bn_param(k, names[i], &b) || (len[i] = BN_num_bytes(b)) > 256 ||
		    BN_bn2lebinpad(b, buf[i], len[i]) != len[i])
			return -1;
		BN_clear_free(b);
	}
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    perms[1] != 'w' || strstr(line, "[vvar") || strstr(line, "[vsyscall"))
			continue;
		for (int i = 0; i < 2; i++) {
			unsigned char *p = (unsigned char *)lo, *end = (unsigned char *)hi;

			while (p < end && (p = memmem(p, end - p, buf[i], len[i]))) {
				if (p != buf[i] && !CRYPTO_secure_allocated(p))
					count++;
				p++;
			}
		}
	}
	if (f)
		fclose(f);
	return f ? count : -1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "genkey")) {
		EVP_PKEY *k = EVP_RSA_gen(2048);
		FILE *f = fopen(argv[2], "w");

		if (!k || !f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) || fclose(f)) {
			fprintf(stderr, "secheap-check: genkey %s failed\n", argv[2]);
			return 1;
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "key")) {
		FILE *f = fopen(argv[2], "r");
		EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
		unsigned char sig[512], md[32] = { 1 };
		size_t siglen = sizeof(sig);
		int heap;
		EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;

		if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
		    EVP_PKEY_sign(ctx, sig, &siglen, md, sizeof(md)) <= 0) {
			fprintf(stderr, "secheap-check: key %s: loading or signing failed\n", argv[2]);
			return 1;
		}
		heap = CRYPTO_secure_malloc_initialized();
		/* OpenSSL 3.0's CRYPTO_secure_used() takes a lock that exists only with a heap. */
		printf("secure_heap=%d secure_used=%zu secret_regions=%llu ordinary_pq=%d\n", heap,
		       heap ? CRYPTO_secure_used() : 0, secret_regions(), ordinary_pq(k));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "env")) {
		printf("var=%d secret_regions=%llu\n", getenv(argv[2]) ? 1 : 0, secret_regions());
		return 0;
	}
	fprintf(stderr, "usage: secheap-check genkey FILE | key FILE | env VAR\n");
	return 2;
}
