// SPDX-License-Identifier: GPL-2.0
/*
 * A process that holds a secret the way a server holds a key, for the attack
 * evaluation (scripts/attack). The 64-byte secret is derived here from --seed, so
 * the only plaintext copies are the ones this process makes (bytes read from the
 * kernel could linger kernel-side and would spoil the evaluation); the host derives
 * the same bytes to look for them in RAM dumps.
 *
 * It keeps one copy on the heap and one on the stack, uses the secret in a loop
 * (HMAC-SHA256 over messages) and between uses touches a working set much larger than
 * any window, so the secret's pages are evicted between uses.
 *
 *   secret-holder --seed HEX [--seconds N] [--working-set MIB] [--idle] [--leak-key HEX]
 *   secret-holder --seed HEX --seal NAME
 *   secret-holder --unseal NAME [--seconds N] [--working-set MIB] [--idle] [--leak-key HEX]
 *
 * --idle      use the secret once, then only touch the working set: no copy of the
 *             secret may be in the window, so a dump must not contain it.
 * --leak-key  expand this AES-128 key (32 hex digits) with OpenSSL and keep the key
 *             and its schedule in memory: a control that aeskeyfind must detect.
 * --seal      seal the derived secret into the user keyring as "ramcrypt:NAME"
 *             (libramcrypt), wipe it and exit: the admin's step of the KEK/DEK flow.
 * --unseal    take the secret from that sealed blob instead of deriving it: the
 *             server's step (only works in a process protected by ramcrypt).
 */
#define _GNU_SOURCE
#include <openssl/aes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <ramcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET_LEN 64
#define PAGE 4096

/* splitmix64: the host (scripts/attack) derives the same secret from the seed. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void derive_secret(uint64_t seed, unsigned char out[SECRET_LEN])
{
	for (int i = 0; i < SECRET_LEN; i += 8) {
		uint64_t w = splitmix64(&seed);

		memcpy(out + i, &w, 8);
	}
}

static int parse_hex(const char *s, unsigned char *out, size_t len)
{
	if (strlen(s) != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct run {
	const unsigned char *heap_secret, *stack_secret;
	volatile unsigned char *ws;
	size_t pages, hmacs;
	uint64_t rng;
	double seconds;
	int idle;
	unsigned char digest[32];
};

/* Touch n random pages of the working set: the secret's pages fall out of the window. */
static void churn(volatile unsigned char *ws, size_t pages, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		ws[(splitmix64(rng) % pages) * PAGE] += 1;
}

static void run_loop(struct run *r)
{
	unsigned char msg[64];
	double end = now() + r->seconds;

	do {
		if (!r->idle || r->hmacs == 0) {
			snprintf((char *)msg, sizeof(msg), "message %zu", r->hmacs);
			HMAC(EVP_sha256(), r->heap_secret, SECRET_LEN, msg, strlen((char *)msg),
			     r->digest, NULL);
			/* The stack copy is used too, so both copies are live data. */
			for (int i = 0; i < SECRET_LEN; i++)
				r->digest[i % 32] ^= ((volatile const unsigned char *)r->stack_secret)[i];
			r->hmacs++;
		}
		churn(r->ws, r->pages, 64, &r->rng);
	} while (now() < end);
}

/*
 * The loop's own frames are touched all the time and so stay in the window. A gap of
 * two pages keeps them off the page of main()'s frame, where the stack copy of the
 * secret lives: that page is touched only when the secret is used.
 */
static void __attribute__((noinline)) run_below_gap(struct run *r)
{
	volatile unsigned char gap[2 * PAGE];

	gap[0] = 0;
	run_loop(r);
	gap[sizeof(gap) - 1] = 0;
}

int main(int argc, char **argv)
{
	unsigned char stack_secret[SECRET_LEN] __attribute__((aligned(64)));
	unsigned char leak[16];
	uint64_t seed = 0;
	double seconds = 30;
	size_t ws_mib = 32, pages;
	int idle = 0, have_seed = 0, have_leak = 0;
	const char *seal = NULL, *unseal = NULL;
	AES_KEY *leaked_schedule = NULL;
	unsigned char *heap_secret, *ws;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			unsigned char b[8];

			if (parse_hex(argv[++i], b, 8))
				goto usage;
			memcpy(&seed, b, 8);
			have_seed = 1;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--working-set") && i + 1 < argc) {
			ws_mib = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--seal") && i + 1 < argc) {
			seal = argv[++i];
		} else if (!strcmp(argv[i], "--unseal") && i + 1 < argc) {
			unseal = argv[++i];
		} else if (!strcmp(argv[i], "--idle")) {
			idle = 1;
		} else if (!strcmp(argv[i], "--leak-key") && i + 1 < argc) {
			if (parse_hex(argv[++i], leak, sizeof(leak)))
				goto usage;
			have_leak = 1;
		} else {
			goto usage;
		}
	}
	if ((!have_seed && !unseal) || (seal && !have_seed) || (seal && unseal) || ws_mib == 0)
		goto usage;

	if (unseal) {
		ssize_t n = ramcrypt_unseal_into(unseal, "@u", stack_secret, SECRET_LEN);

		if (n != SECRET_LEN) {
			fprintf(stderr, "secret-holder: unseal %s: %s\n", unseal,
				n < 0 ? ramcrypt_strerror((int)n) : "wrong length");
			return 1;
		}
		seed = 0x5eed;	/* only seeds the working-set walk */
	} else {
		derive_secret(seed, stack_secret);
	}
	if (seal) {
		int err = ramcrypt_seal(seal, "@u", stack_secret, SECRET_LEN);

		explicit_bzero(stack_secret, SECRET_LEN);
		if (err) {
			fprintf(stderr, "secret-holder: seal %s: %s\n", seal, ramcrypt_strerror(err));
			return 1;
		}
		printf("secret-holder: sealed %s\n", seal);
		return 0;
	}
	heap_secret = aligned_alloc(PAGE, PAGE);
	pages = ws_mib * 1024 * 1024 / PAGE;
	ws = aligned_alloc(PAGE, pages * PAGE);
	if (!heap_secret || !ws) {
		perror("secret-holder: allocating");
		return 1;
	}
	memset(ws, 0, pages * PAGE);
	memcpy(heap_secret + 1024, stack_secret, SECRET_LEN);
	if (have_leak) {
		leaked_schedule = aligned_alloc(PAGE, PAGE);
		AES_set_encrypt_key(leak, 128, leaked_schedule);
	}

	printf("secret-holder: ready pid=%d working_set=%zuMiB mode=%s\n", getpid(), ws_mib,
	       idle ? "idle" : "busy");
	fflush(stdout);
	/* The loop's state is hot: static, so it is not on the stack copy's page. */
	static struct run r;

	r = (struct run){
		.heap_secret = heap_secret + 1024, .stack_secret = stack_secret,
		.ws = ws, .pages = pages, .rng = seed ^ 0x5555,
		.seconds = seconds, .idle = idle,
	};
	run_below_gap(&r);
	printf("secret-holder: done hmacs=%zu digest0=%02x schedule=%p\n", r.hmacs,
	       r.digest[0], (void *)leaked_schedule);
	return 0;

usage:
	fprintf(stderr, "usage: secret-holder (--seed HEX16 [--seal NAME] | --unseal NAME) [--seconds N]"
			" [--working-set MIB] [--idle] [--leak-key HEX32]\n");
	return 2;
}
