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
 *   secret-holder (--seed HEX | --seed-file F | --unseal NAME) [--seconds N]
 *                 [--working-set MIB] [--idle] [--leak-key HEX] [--leak-key256 HEX]
 *                 [--name NAME]
 *   secret-holder (--seed HEX | --seed-file F) --seal NAME
 *   secret-holder --kat HEX
 *
 * --seed-file read the seed (16 hex digits) from F and overwrite F with zeros: on the
 *             guest's ramfs that overwrites the only page holding it, so the seed is
 *             not left in RAM by the harness (scripts/attack searches for it).
 * --idle      use the secret once, then only touch the working set: no copy of the
 *             secret may be in the window, so a dump must not contain it.
 * --leak-key, --leak-key256
 *             expand this AES-128 (32 hex digits) or AES-256 (64) key with OpenSSL
 *             and keep the key and its schedule in memory: unprotected, a control
 *             that the key search must detect; protected, a schedule it must not.
 * --name      the prefix of every output line (default secret-holder).
 * --seal      seal the derived secret into the user keyring as "ramcrypt:NAME"
 *             (libramcrypt), wipe it and exit: the admin's step of the KEK/DEK flow.
 * --unseal    take the secret from that sealed blob instead of deriving it: the
 *             server's step (only works in a process protected by ramcrypt).
 * --kat       seal these bytes (1 to 64) with RAMCRYPT_IOC_SEAL and print the blob:
 *             a known-answer test of the module's key (the host recomputes the blob
 *             from the key it expects, docs/SEALING.md), then exit.
 *
 * At the end of a run it proves it still held the secret: it re-derives the secret
 * from the seed (when it has one), compares both copies with it and with each other,
 * and prints HMAC-SHA256(copy, PROOF_MSG) of each copy, which the host checks. A
 * dump that finds no secret in a process that had lost it would prove nothing.
 */
#define _GNU_SOURCE
#include <openssl/aes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <fcntl.h>
#include <ramcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET_LEN 64
#define PAGE 4096
#define PROOF_MSG "ramcrypt attack: proof of the secret"

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
 * The seed from a file, which is then overwritten in place with zeros: on the guest's
 * ramfs the file's page is its only storage, so this removes the harness's copy.
 */
static int read_seed_file(const char *path, uint64_t *seed)
{
	char buf[17] = { 0 }, zeros[64] = { 0 };
	unsigned char b[8];
	int fd = open(path, O_RDWR), ok;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, 16);
	ok = n == 16 && !parse_hex(buf, b, 8);
	if (pwrite(fd, zeros, sizeof(zeros), 0) != sizeof(zeros) || fsync(fd))
		ok = 0;
	close(fd);
	explicit_bzero(buf, sizeof(buf));
	if (!ok)
		return -1;
	memcpy(seed, b, 8);
	explicit_bzero(b, sizeof(b));
	return 0;
}

static void print_hex(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* --kat: seal known bytes under the module key and print the blob for the host. */
static int known_answer(const char *hex)
{
	unsigned char msg[64], blob[RAMCRYPT_SEAL_BLOB_LEN(64)];
	size_t len = strlen(hex) / 2;
	ssize_t n;

	if (len == 0 || len > sizeof(msg) || parse_hex(hex, msg, len)) {
		fprintf(stderr, "secret-holder: --kat: 2 to 128 hex digits\n");
		return 2;
	}
	n = ramcrypt_seal_blob(msg, len, blob, sizeof(blob));
	if (n < 0) {
		fprintf(stderr, "secret-holder: kat: %s\n", ramcrypt_strerror((int)n));
		return 1;
	}
	printf("secret-holder: kat blob=");
	print_hex(blob, (size_t)n);
	printf("\n");
	return 0;
}

/*
 * The proof that the process still held its secret at the end of the run: both copies
 * equal each other and, with a seed, a fresh derivation; and an HMAC of each under a
 * known message, which the host recomputes from the secret it expects.
 */
static void prove(const char *name, const unsigned char *heap, const unsigned char *stack,
		  const uint64_t *seed)
{
	unsigned char fresh[SECRET_LEN], mac_heap[32], mac_stack[32];
	const char *derived = "none";

	if (seed) {
		derive_secret(*seed, fresh);
		derived = memcmp(fresh, heap, SECRET_LEN) || memcmp(fresh, stack, SECRET_LEN) ?
			  "mismatch" : "match";
		explicit_bzero(fresh, sizeof(fresh));
	}
	HMAC(EVP_sha256(), heap, SECRET_LEN, (const unsigned char *)PROOF_MSG,
	     strlen(PROOF_MSG), mac_heap, NULL);
	HMAC(EVP_sha256(), stack, SECRET_LEN, (const unsigned char *)PROOF_MSG,
	     strlen(PROOF_MSG), mac_stack, NULL);
	printf("%s: proof copies=%s derived=%s mac_heap=", name,
	       memcmp(heap, stack, SECRET_LEN) ? "differ" : "equal", derived);
	print_hex(mac_heap, sizeof(mac_heap));
	printf(" mac_stack=");
	print_hex(mac_stack, sizeof(mac_stack));
	printf("\n");
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
	unsigned char leak[16], leak256[32];
	uint64_t seed = 0;
	double seconds = 30;
	size_t ws_mib = 32, pages;
	int idle = 0, have_seed = 0, have_leak = 0, have_leak256 = 0;
	const char *seal = NULL, *unseal = NULL, *name = "secret-holder";
	AES_KEY *leaked_schedule = NULL, *leaked_schedule256 = NULL;
	unsigned char *heap_secret, *ws;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			unsigned char b[8];

			if (parse_hex(argv[++i], b, 8))
				goto usage;
			memcpy(&seed, b, 8);
			have_seed = 1;
		} else if (!strcmp(argv[i], "--seed-file") && i + 1 < argc) {
			if (read_seed_file(argv[++i], &seed)) {
				fprintf(stderr, "secret-holder: %s: no seed of 16 hex digits\n", argv[i]);
				return 2;
			}
			have_seed = 1;
		} else if (!strcmp(argv[i], "--kat") && i + 1 < argc) {
			return known_answer(argv[i + 1]);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--working-set") && i + 1 < argc) {
			ws_mib = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--seal") && i + 1 < argc) {
			seal = argv[++i];
		} else if (!strcmp(argv[i], "--unseal") && i + 1 < argc) {
			unseal = argv[++i];
		} else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
			name = argv[++i];
		} else if (!strcmp(argv[i], "--idle")) {
			idle = 1;
		} else if (!strcmp(argv[i], "--leak-key") && i + 1 < argc) {
			if (parse_hex(argv[++i], leak, sizeof(leak)))
				goto usage;
			have_leak = 1;
		} else if (!strcmp(argv[i], "--leak-key256") && i + 1 < argc) {
			if (parse_hex(argv[++i], leak256, sizeof(leak256)))
				goto usage;
			have_leak256 = 1;
		} else {
			goto usage;
		}
	}
	if ((!have_seed && !unseal) || (seal && !have_seed) || (seal && unseal) || ws_mib == 0)
		goto usage;

	if (unseal) {
		ssize_t n = ramcrypt_unseal_into(unseal, "@u", stack_secret, SECRET_LEN);

		if (n != SECRET_LEN) {
			fprintf(stderr, "%s: unseal %s: %s\n", name, unseal,
				n < 0 ? ramcrypt_strerror((int)n) : "wrong length");
			return 1;
		}
	} else {
		derive_secret(seed, stack_secret);
	}
	if (seal) {
		int err = ramcrypt_seal(seal, "@u", stack_secret, SECRET_LEN);

		explicit_bzero(stack_secret, SECRET_LEN);
		if (err) {
			fprintf(stderr, "%s: seal %s: %s\n", name, seal, ramcrypt_strerror(err));
			return 1;
		}
		printf("%s: sealed %s\n", name, seal);
		return 0;
	}
	heap_secret = aligned_alloc(PAGE, PAGE);
	pages = ws_mib * 1024 * 1024 / PAGE;
	ws = aligned_alloc(PAGE, pages * PAGE);
	if (!heap_secret || !ws) {
		fprintf(stderr, "%s: allocating: out of memory\n", name);
		return 1;
	}
	memset(ws, 0, pages * PAGE);
	memcpy(heap_secret + 1024, stack_secret, SECRET_LEN);
	if (have_leak) {
		leaked_schedule = aligned_alloc(PAGE, PAGE);
		AES_set_encrypt_key(leak, 128, leaked_schedule);
	}
	if (have_leak256) {
		leaked_schedule256 = aligned_alloc(PAGE, PAGE);
		AES_set_encrypt_key(leak256, 256, leaked_schedule256);
	}
	/*
	 * The keys now live only in their schedules' own pages, which nothing touches
	 * again: left on this stack page they would share the stack copy's page and the
	 * window with the secret, and a busy run would expose them with it.
	 */
	explicit_bzero(leak, sizeof(leak));
	explicit_bzero(leak256, sizeof(leak256));

	printf("%s: ready pid=%d working_set=%zuMiB mode=%s\n", name, getpid(), ws_mib,
	       idle ? "idle" : "busy");
	fflush(stdout);
	/* The loop's state is hot: static, so it is not on the stack copy's page. */
	static struct run r;

	r = (struct run){
		.heap_secret = heap_secret + 1024, .stack_secret = stack_secret,
		.ws = ws, .pages = pages, .rng = (unseal ? 0x5eed : seed) ^ 0x5555,
		.seconds = seconds, .idle = idle,
	};
	run_below_gap(&r);
	printf("%s: done hmacs=%zu digest0=%02x schedules=%p,%p\n", name, r.hmacs,
	       r.digest[0], (void *)leaked_schedule, (void *)leaked_schedule256);
	prove(name, heap_secret + 1024, stack_secret, have_seed ? &seed : NULL);
	return 0;

usage:
	fprintf(stderr, "usage: secret-holder (--seed HEX16 | --seed-file F) [--seal NAME] |"
			" --unseal NAME | --kat HEX) [--seconds N] [--working-set MIB] [--idle]"
			" [--leak-key HEX32] [--leak-key256 HEX64] [--name NAME]\n");
	return 2;
}
