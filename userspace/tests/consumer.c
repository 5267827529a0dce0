/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A program built against an installed libramcrypt with pkg-config
 * (scripts/test-install): the header, the uapi header and the shared library. */
#include <ramcrypt.h>

#include <stdio.h>

int main(void)
{
	char buf[RAMCRYPT_SEAL_MAX];

	if (!ramcrypt_name_valid("db-dek") || ramcrypt_name_valid("a/b"))
		return 1;
	/* Without the module (or unprotected), unsealing fails with a sentence. */
	ssize_t n = ramcrypt_unseal_into("consumer-test-no-such-name", "@s", buf, sizeof(buf));
	printf("consumer: unseal: %s\n", n < 0 ? ramcrypt_strerror((int)n) : "unexpected success");
	return n < 0 ? 0 : 1;
}
