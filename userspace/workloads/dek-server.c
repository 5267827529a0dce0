// SPDX-License-Identifier: GPL-2.0
/*
 * dek-server: the protected "database server" of the seed-003 flow (docs/SEALING.md,
 * selftests/seal_flow.sh). It gets its DEK either by unsealing it itself with
 * libramcrypt, or from an environment variable set by `ramcrypt run --secret`, and
 * proves it holds the DEK without showing it: it prints
 * HMAC-SHA256(DEK, "ramcrypt seal_flow") in hex.
 *
 *   ramcrypt run -- dek-server --unseal NAME [--keyring K]
 *   ramcrypt run --secret NAME=DEK:hex -- dek-server --env DEK
 *
 * Exit status 0, or 1 with "dek-server: ..." on stderr and nothing on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ramcrypt.h"

static const char message[] = "ramcrypt seal_flow";

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int main(int argc, char **argv)
{
	unsigned char dek[RAMCRYPT_SEAL_MAX];	/* stack: protected memory */
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	const char *keyring = NULL;
	ssize_t n;

	if (argc == 5 && !strcmp(argv[3], "--keyring"))
		keyring = argv[4];
	if ((argc == 3 || (argc == 5 && keyring)) && !strcmp(argv[1], "--unseal")) {
		n = ramcrypt_unseal_into(argv[2], keyring, dek, sizeof(dek));
		if (n < 0) {
			fprintf(stderr, "dek-server: unseal %s: %s\n", argv[2], ramcrypt_strerror((int)n));
			return 1;
		}
	} else if (argc == 3 && !strcmp(argv[1], "--env")) {
		char *hex = getenv(argv[2]);
		size_t len = hex ? strlen(hex) : 0;

		if (!len || len % 2 || len / 2 > sizeof(dek)) {
			fprintf(stderr, "dek-server: $%s: missing or not hex\n", argv[2]);
			return 1;
		}
		for (n = 0; n < (ssize_t)len / 2; n++) {
			int hi = hexval(hex[2 * n]), lo = hexval(hex[2 * n + 1]);

			if (hi < 0 || lo < 0) {
				fprintf(stderr, "dek-server: $%s: not hex\n", argv[2]);
				return 1;
			}
			dek[n] = (unsigned char)(hi << 4 | lo);
		}
		/* The hex copy is not needed any more. */
		explicit_bzero(hex, len);
	} else {
		fprintf(stderr, "usage: dek-server --unseal NAME [--keyring K] | --env VAR\n");
		return 1;
	}

	if (!HMAC(EVP_sha256(), dek, (int)n, (const unsigned char *)message, sizeof(message) - 1,
		  mac, &maclen)) {
		explicit_bzero(dek, sizeof(dek));
		fprintf(stderr, "dek-server: HMAC failed\n");
		return 1;
	}
	explicit_bzero(dek, sizeof(dek));
	printf("dek-server: %zd-byte DEK, hmac=", n);
	for (unsigned int i = 0; i < maclen; i++)
		printf("%02x", mac[i]);
	printf("\n");
	return 0;
}
