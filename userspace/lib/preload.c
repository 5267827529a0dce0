// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ramcrypt-preload.so: what `ramcrypt run --secure-heap` and `ramcrypt run --secret`
 * load into a dynamically linked program (LD_PRELOAD), to run before its main():
 *
 * RAMCRYPT_SECURE_HEAP=BYTES  start OpenSSL's secure heap (CRYPTO_secure_malloc_init),
 *     where OpenSSL 3 keeps the private values of the keys it decodes, and mark that
 *     heap a secret region of this (protected) process: its pages get the small
 *     secret window (docs/PAGE_ENGINE.md, "Two tiers").
 * RAMCRYPT_SECRET_VARS=VAR,...  mark the pages holding these environment variables
 *     (the secrets `run --secret` unsealed; execve put them on the stack) secret.
 *
 * With a secure heap it also keeps OpenSSL's Montgomery contexts of secure moduli (RSA's
 * p and q) in that heap: see BN_MONT_CTX_set below.
 *
 * Either failure ends the program with status 125 and a message: the user asked for
 * the protection, and running without it would be silent. The variables are removed
 * from the environment once used, so a child that runs another program does not
 * start a second secure heap; LD_PRELOAD stays, as a shell expects.
 */
#define _GNU_SOURCE
#include "ramcrypt.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#define RC_MAX_MAPS 4096

static void rc_fail(const char *what, int err)
{
	if (err)
		fprintf(stderr, "ramcrypt-preload: %s: %s\n", what, ramcrypt_strerror(err));
	else
		fprintf(stderr, "ramcrypt-preload: %s\n", what);
	_exit(125);
}

struct rc_map {
	unsigned long start, end;
	char perms[5];
};

/* The process's mappings; returns how many (or -1). */
static int rc_maps(struct rc_map *m, int max)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %4s", &m[n].start, &m[n].end, m[n].perms) == 3)
			n++;
	fclose(f);
	return n;
}

static struct rc_map before[RC_MAX_MAPS], after[RC_MAX_MAPS];

static int rc_has_map(const struct rc_map *m, int n, unsigned long start, unsigned long end,
		      const char *perms)
{
	for (int i = 0; i < n; i++)
		if (m[i].start == start && m[i].end == end && (!perms || !strcmp(m[i].perms, perms)))
			return 1;
	return 0;
}

/*
 * OpenSSL maps its secure heap as one mapping of exactly the size asked between two
 * guard pages (PROT_NONE): the one new read-write mapping of that size with a guard
 * page on each side is the heap.
 */
static void rc_secure_heap(const char *spec)
{
	unsigned long pg = (unsigned long)sysconf(_SC_PAGESIZE), found = 0;
	char *end;
	unsigned long size = strtoul(spec, &end, 10);
	int nb, na, i, r;

	if (*end || size < 4096 || (size & (size - 1)))
		rc_fail("RAMCRYPT_SECURE_HEAP: not a power of two of at least 4096 bytes", 0);
	if (CRYPTO_secure_malloc_initialized())
		rc_fail("the program's secure heap is already started", 0);
	nb = rc_maps(before, RC_MAX_MAPS);
	if (CRYPTO_secure_malloc_init(size, 16) == 0)
		rc_fail("CRYPTO_secure_malloc_init failed", 0);
	na = rc_maps(after, RC_MAX_MAPS);
	if (nb < 0 || na < 0)
		rc_fail("reading /proc/self/maps", -errno);
	for (i = 0; i < na; i++) {
		const struct rc_map *m = &after[i];

		if (m->end - m->start != size || strcmp(m->perms, "rw-p") ||
		    rc_has_map(before, nb, m->start, m->end, NULL) ||
		    !rc_has_map(after, na, m->start - pg, m->start, "---p") ||
		    !rc_has_map(after, na, m->end, m->end + pg, "---p"))
			continue;
		if (found)
			rc_fail("the secure heap's mapping is not unique", 0);
		found = m->start;
	}
	if (!found)
		rc_fail("the secure heap's mapping was not found", 0);
	r = ramcrypt_secret_region((void *)found, size);
	if (r)
		rc_fail("marking the secure heap secret", r);
}

static void rc_secret_vars(const char *list)
{
	char *copy = strdup(list), *save = NULL, *name;

	if (!copy)
		rc_fail("RAMCRYPT_SECRET_VARS", -ENOMEM);
	for (name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const char *v = getenv(name);
		int r;

		if (!v)
			continue; /* the program's own environment handling removed it */
		/* The whole NAME=VALUE string: the name is no secret, but it is no harm. */
		r = ramcrypt_secret_region(v - strlen(name) - 1, strlen(name) + 1 + strlen(v) + 1);
		if (r)
			rc_fail("marking a --secret variable secret", r);
	}
	free(copy);
}

/*
 * RSA caches a Montgomery context for p and for q, and BN_MONT_CTX_set allocates its
 * copy of the modulus (N), R^2 mod N (RR) and Ni with ordinary malloc even when the
 * modulus is secure: a copy of p is the key, and RR or Ni give p away as well
 * (measured with key-copies: p and q in the ordinary heap after one signature).
 * libcrypto calls BN_MONT_CTX_set through its PLT, so this definition is the one it
 * gets: for a secure modulus it marks the context's three numbers BN_FLG_SECURE before
 * they are allocated, and OpenSSL puts them in the secure heap (and frees them from
 * it, cleansed). BN_MONT_CTX is opaque: its layout (crypto/bn/bn_local.h, the same
 * from 1.1.0 to 3.x) is checked once on a context made by the real function, and if
 * it does not match, contexts are left as they are and the program is told so.
 */
struct rc_bignum {
	BN_ULONG *d;
	int top, dmax, neg, flags;
};
struct rc_mont {
	int ri;
	struct rc_bignum RR, N, Ni;
};
typedef int (*rc_mont_set_fn)(BN_MONT_CTX *, const BIGNUM *, BN_CTX *);
static rc_mont_set_fn rc_real_mont_set;
static int rc_mont_secure;	/* 1: the layout is checked */

static rc_mont_set_fn rc_mont_set_real(void)
{
	if (!rc_real_mont_set)
		rc_real_mont_set = (rc_mont_set_fn)dlsym(RTLD_NEXT, "BN_MONT_CTX_set");
	return rc_real_mont_set;
}

int BN_MONT_CTX_set(BN_MONT_CTX *mont, const BIGNUM *mod, BN_CTX *ctx)
{
	rc_mont_set_fn real = rc_mont_set_real();

	if (!real)
		return 0;
	if (__atomic_load_n(&rc_mont_secure, __ATOMIC_ACQUIRE) && BN_get_flags(mod, BN_FLG_SECURE)) {
		struct rc_mont *m = (struct rc_mont *)mont;
		struct rc_bignum *b[] = { &m->RR, &m->N, &m->Ni };

		/* Only numbers not yet allocated: a secure free of a malloc'd d would crash. */
		for (unsigned int i = 0; i < sizeof(b) / sizeof(b[0]); i++)
			if (!b[i]->d)
				BN_set_flags((BIGNUM *)b[i], BN_FLG_SECURE);
	}
	return real(mont, mod, ctx);
}

/* Does a context the real function set up look like struct rc_mont? */
static int rc_mont_layout_ok(void)
{
	static const BN_ULONG lo = 0x0123456789abcdefULL, hi = 0x7edcba9876543210ULL;
	BN_MONT_CTX *mont = BN_MONT_CTX_new();
	BIGNUM *mod = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	struct rc_mont *m = (struct rc_mont *)mont;
	int ok = 0;

	if (mont && mod && ctx && BN_set_word(mod, hi) && BN_lshift(mod, mod, 64) &&
	    BN_add_word(mod, lo) && rc_mont_set_real() && rc_mont_set_real()(mont, mod, ctx))
		ok = m->ri == 128 && m->N.top == 2 && m->N.d && m->N.d[0] == lo &&
		     m->N.d[1] == hi && m->RR.d && m->RR.top >= 1 && m->RR.top <= 2 &&
		     !BN_get_flags((BIGNUM *)&m->N, BN_FLG_SECURE);
	BN_MONT_CTX_free(mont);
	BN_free(mod);
	BN_CTX_free(ctx);
	return ok;
}

__attribute__((constructor)) static void rc_preload(void)
{
	const char *heap = getenv("RAMCRYPT_SECURE_HEAP");
	const char *vars = getenv("RAMCRYPT_SECRET_VARS");

	if (vars)
		rc_secret_vars(vars);
	if (heap)
		rc_secure_heap(heap);
	/* Whatever started the secure heap (this library or the program itself). */
	if (rc_mont_layout_ok())
		__atomic_store_n(&rc_mont_secure, 1, __ATOMIC_RELEASE);
	else if (heap)
		fprintf(stderr, "ramcrypt-preload: this OpenSSL's BN_MONT_CTX is not the one known:"
			" Montgomery copies of RSA's p and q stay in ordinary memory\n");
	unsetenv("RAMCRYPT_SECURE_HEAP");
	unsetenv("RAMCRYPT_SECRET_VARS");
}
