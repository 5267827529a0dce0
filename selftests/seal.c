// SPDX-License-Identifier: GPL-2.0
/*
 * Sealed secrets (RAMCRYPT_IOC_SEAL / RAMCRYPT_IOC_UNSEAL, docs/SEALING.md): round
 * trips from a protected process, EPERM for an unprotected one, EBADMSG for a blob
 * changed in any field, EKEYREJECTED under another key, EINVAL for bad lengths and
 * reserved bits, and that nothing is written to the caller's buffer on failure.
 * Runs as root in the test guest. Leaves a passphrase-style key loaded (the wrong-key
 * tests need two keys; a random key cannot be brought back).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ramcrypt.h>

#include "kselftest_harness.h"

#define POISON 0xa5

static int seal(int fd, const void *secret, size_t len, void *blob, size_t cap, size_t *out)
{
	struct ramcrypt_seal s = {
		.secret = (uintptr_t)secret, .secret_len = len,
		.blob = (uintptr_t)blob, .blob_len = cap,
	};

	if (ioctl(fd, RAMCRYPT_IOC_SEAL, &s))
		return -errno;
	if (out)
		*out = s.blob_len;
	return 0;
}

static int unseal(int fd, const void *blob, size_t len, void *buf, size_t cap, size_t *out)
{
	struct ramcrypt_unseal u = {
		.blob = (uintptr_t)blob, .blob_len = len,
		.secret = (uintptr_t)buf, .secret_len = cap,
	};

	if (ioctl(fd, RAMCRYPT_IOC_UNSEAL, &u))
		return -errno;
	if (out)
		*out = u.secret_len;
	return 0;
}

static int protect_self(int fd)
{
	struct ramcrypt_protect p = { 0 };

	return ioctl(fd, RAMCRYPT_IOC_PROTECT, &p) ? -errno : 0;
}

/* Load a raw 32-byte key; EBUSY while ciphertext of exited tests is being freed. */
static int load_key(int fd, unsigned char fill)
{
	unsigned char key[RAMCRYPT_KEY_BYTES];
	struct ramcrypt_key k = { .key = (uintptr_t)key, .len = sizeof(key) };
	int i, ret = 0;

	memset(key, fill, sizeof(key));
	key[0] ^= 0x5a;		/* K1 != K2 */
	for (i = 0; i < 100; i++) {
		ret = ioctl(fd, RAMCRYPT_IOC_KEY_LOAD, &k) ? -errno : 0;
		if (ret != -EBUSY)
			break;
		usleep(20000);
	}
	return ret;
}

static int all_poison(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != POISON)
			return 0;
	return 1;
}

/*
 * Fork a child that protects itself (through pfd) and unseals (through ufd); its
 * result as -errno or 0.
 */
static int unseal_in_protected_child_via(int pfd, int ufd, const void *blob, size_t len, void *check,
				     size_t check_len)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		unsigned char buf[RAMCRYPT_SEAL_MAX];
		size_t n = 0;
		int ret;

		memset(buf, POISON, sizeof(buf));
		if (protect_self(pfd))
			_exit(200);
		ret = unseal(ufd, blob, len, buf, sizeof(buf), &n);
		if (ret)
			/* Nothing may have been written. */
			_exit(all_poison(buf, sizeof(buf)) ? -ret : 201);
		_exit(n == check_len && !memcmp(buf, check, n) ? 0 : 202);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1000;
	return -WEXITSTATUS(status);
}

static int unseal_in_protected_child(int fd, const void *blob, size_t len, void *check,
				     size_t check_len)
{
	return unseal_in_protected_child_via(fd, fd, blob, len, check, check_len);
}

FIXTURE(seal) {
	int fd;
	unsigned char secret[RAMCRYPT_SEAL_MAX + 16];
	unsigned char blob[RAMCRYPT_SEAL_BLOB_MAX + 16];
	unsigned char buf[RAMCRYPT_SEAL_MAX + 16];
};

FIXTURE_SETUP(seal)
{
	self->fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RAMCRYPT_DEVICE, strerror(errno));
	ASSERT_EQ((ssize_t)sizeof(self->secret),
		  getrandom(self->secret, sizeof(self->secret), 0));
	struct ramcrypt_version v = { 0 };
	ASSERT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_VERSION, &v));
	if (v.abi < 2)
		SKIP(return, "module ABI %llu has no sealing", (unsigned long long)v.abi);
}

FIXTURE_TEARDOWN(seal)
{
	close(self->fd);
}

TEST_F(seal, round_trip_from_protected_process)
{
	static const size_t sizes[] = { 1, 15, 16, 17, 32, 1000, RAMCRYPT_SEAL_MAX };
	size_t n = 0;

	ASSERT_EQ(0, protect_self(self->fd));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];

		ASSERT_EQ(0, seal(self->fd, self->secret, len, self->blob, sizeof(self->blob), &n));
		EXPECT_EQ(RAMCRYPT_SEAL_BLOB_LEN(len), n);
		/* The blob does not contain the secret. */
		if (len >= 16)
			EXPECT_EQ(NULL, memmem(self->blob, n, self->secret, 16));
		memset(self->buf, POISON, sizeof(self->buf));
		ASSERT_EQ(0, unseal(self->fd, self->blob, n, self->buf, len, &n)) TH_LOG("len %zu", len);
		EXPECT_EQ(len, n);
		EXPECT_EQ(0, memcmp(self->buf, self->secret, len));
		EXPECT_EQ(POISON, self->buf[len]);
	}
}

TEST_F(seal, same_secret_seals_differently)
{
	unsigned char blob2[RAMCRYPT_SEAL_BLOB_MAX];
	size_t n1 = 0, n2 = 0;

	ASSERT_EQ(0, seal(self->fd, self->secret, 64, self->blob, sizeof(self->blob), &n1));
	ASSERT_EQ(0, seal(self->fd, self->secret, 64, blob2, sizeof(blob2), &n2));
	ASSERT_EQ(n1, n2);
	EXPECT_NE(0, memcmp(self->blob + 16, blob2 + 16, n1 - 16)) TH_LOG("nonce, tag and ciphertext must differ");
	EXPECT_EQ(0, memcmp(self->blob + 8, blob2 + 8, 8)) TH_LOG("same key, same key id");
}

TEST_F(seal, unprotected_caller_gets_eperm)
{
	size_t n = 0;

	ASSERT_EQ(0, seal(self->fd, self->secret, 32, self->blob, sizeof(self->blob), &n));
	memset(self->buf, POISON, sizeof(self->buf));
	EXPECT_EQ(-EPERM, unseal(self->fd, self->blob, n, self->buf, sizeof(self->buf), NULL));
	EXPECT_EQ(POISON, self->buf[0]);
	/* The same blob opens once the caller is protected. */
	EXPECT_EQ(0, unseal_in_protected_child(self->fd, self->blob, n, self->secret, 32));
}

TEST_F(seal, read_only_descriptor_unseals_but_cannot_seal)
{
	int ro = open(RAMCRYPT_DEVICE, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	ASSERT_GE(ro, 0);
	EXPECT_EQ(-EBADF, seal(ro, self->secret, 32, self->blob, sizeof(self->blob), NULL));
	ASSERT_EQ(0, seal(self->fd, self->secret, 32, self->blob, sizeof(self->blob), &n));
	EXPECT_EQ(0, unseal_in_protected_child_via(self->fd, ro, self->blob, n, self->secret, 32));
	close(ro);
}

TEST_F(seal, tampered_blob_gets_ebadmsg)
{
	/* One byte of every field: magic, version, flags, length, nonce, tag, ciphertext. */
	static const struct { size_t off; const char *what; } at[] = {
		{ 0, "magic" }, { 4, "version" }, { 5, "flags" }, { 6, "length" },
		{ 16, "nonce (first)" }, { 31, "nonce (last)" }, { 32, "tag (first)" },
		{ 47, "tag (last)" }, { 48, "ciphertext (first)" }, { 48 + 99, "ciphertext (last)" },
	};
	size_t n = 0;

	ASSERT_EQ(0, seal(self->fd, self->secret, 100, self->blob, sizeof(self->blob), &n));
	ASSERT_EQ(48u + 112u, n);
	ASSERT_EQ(0, protect_self(self->fd));
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		for (unsigned char bit = 1; bit; bit <<= 1) {
			self->blob[at[i].off] ^= bit;
			memset(self->buf, POISON, sizeof(self->buf));
			EXPECT_EQ(-EBADMSG, unseal(self->fd, self->blob, n, self->buf, sizeof(self->buf), NULL))
				TH_LOG("%s, bit %#x", at[i].what, bit);
			EXPECT_EQ(POISON, self->buf[0]) TH_LOG("%s: written on failure", at[i].what);
			self->blob[at[i].off] ^= bit;
		}
	}
	/* The padding after a 100-byte secret is authenticated too. */
	self->blob[n - 1] ^= 1;
	EXPECT_EQ(-EBADMSG, unseal(self->fd, self->blob, n, self->buf, sizeof(self->buf), NULL));
	self->blob[n - 1] ^= 1;
	/* A changed key id says "another key", not "tampered". */
	self->blob[8] ^= 1;
	EXPECT_EQ(-EKEYREJECTED, unseal(self->fd, self->blob, n, self->buf, sizeof(self->buf), NULL));
	self->blob[8] ^= 1;
	/* Truncated, extended, empty-looking. */
	EXPECT_EQ(-EBADMSG, unseal(self->fd, self->blob, n - 16, self->buf, sizeof(self->buf), NULL));
	EXPECT_EQ(-EBADMSG, unseal(self->fd, self->blob, n + 16, self->buf, sizeof(self->buf), NULL));
	EXPECT_EQ(-EBADMSG, unseal(self->fd, self->blob, 47, self->buf, sizeof(self->buf), NULL));
	/* And the intact blob still opens. */
	EXPECT_EQ(0, unseal(self->fd, self->blob, n, self->buf, sizeof(self->buf), NULL));
	EXPECT_EQ(0, memcmp(self->buf, self->secret, 100));
}

TEST_F(seal, other_key_gets_ekeyrejected_same_key_opens)
{
	size_t n = 0;

	ASSERT_EQ(0, load_key(self->fd, 0x11));
	ASSERT_EQ(0, seal(self->fd, self->secret, 48, self->blob, sizeof(self->blob), &n));
	ASSERT_EQ(0, load_key(self->fd, 0x22));
	EXPECT_EQ(-EKEYREJECTED, unseal_in_protected_child(self->fd, self->blob, n, self->secret, 48));
	/* The same key again (as after a reboot with the same passphrase) opens it. */
	ASSERT_EQ(0, load_key(self->fd, 0x11));
	EXPECT_EQ(0, unseal_in_protected_child(self->fd, self->blob, n, self->secret, 48));
}

TEST_F(seal, bad_lengths_get_einval)
{
	struct ramcrypt_seal s = {
		.secret = (uintptr_t)self->secret, .secret_len = 16,
		.blob = (uintptr_t)self->blob, .blob_len = 10,
	};
	struct ramcrypt_unseal u;
	size_t n = 0;

	EXPECT_EQ(-EINVAL, seal(self->fd, self->secret, 0, self->blob, sizeof(self->blob), NULL));
	EXPECT_EQ(-EINVAL, seal(self->fd, self->secret, RAMCRYPT_SEAL_MAX + 1, self->blob,
				sizeof(self->blob), NULL));
	EXPECT_EQ(-EINVAL, seal(self->fd, NULL, 16, self->blob, sizeof(self->blob), NULL));
	/* Too small a blob buffer: ENOSPC, and the size needed. */
	EXPECT_EQ(-1, ioctl(self->fd, RAMCRYPT_IOC_SEAL, &s));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(RAMCRYPT_SEAL_BLOB_LEN(16), s.blob_len);

	ASSERT_EQ(0, seal(self->fd, self->secret, 40, self->blob, sizeof(self->blob), &n));
	ASSERT_EQ(0, protect_self(self->fd));
	EXPECT_EQ(-EINVAL, unseal(self->fd, self->blob, 0, self->buf, sizeof(self->buf), NULL));
	EXPECT_EQ(-EINVAL, unseal(self->fd, self->blob, RAMCRYPT_SEAL_BLOB_MAX + 1, self->buf,
				  sizeof(self->buf), NULL));
	EXPECT_EQ(-EINVAL, unseal(self->fd, self->blob, n, NULL, sizeof(self->buf), NULL));
	/* Too small a secret buffer: ENOSPC, the secret's size, nothing written. */
	memset(self->buf, POISON, sizeof(self->buf));
	u = (struct ramcrypt_unseal){ .blob = (uintptr_t)self->blob, .blob_len = n,
				      .secret = (uintptr_t)self->buf, .secret_len = 39 };
	EXPECT_EQ(-1, ioctl(self->fd, RAMCRYPT_IOC_UNSEAL, &u));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(40u, u.secret_len);
	EXPECT_EQ(POISON, self->buf[0]);
	/* Bad user pointers. */
	EXPECT_EQ(-EFAULT, seal(self->fd, (void *)8, 16, self->blob, sizeof(self->blob), NULL));
	EXPECT_EQ(-EFAULT, unseal(self->fd, (void *)8, n, self->buf, sizeof(self->buf), NULL));
}

TEST_F(seal, reserved_bits_get_einval)
{
	size_t n = 0;

	ASSERT_EQ(0, seal(self->fd, self->secret, 16, self->blob, sizeof(self->blob), &n));
	ASSERT_EQ(0, protect_self(self->fd));
	for (int f = 0; f < 4; f++) {
		struct ramcrypt_seal s = {
			.secret = (uintptr_t)self->secret, .secret_len = 16,
			.blob = (uintptr_t)self->buf, .blob_len = sizeof(self->buf),
		};
		struct ramcrypt_unseal u = {
			.blob = (uintptr_t)self->blob, .blob_len = n,
			.secret = (uintptr_t)self->buf, .secret_len = sizeof(self->buf),
		};

		if (f == 0) {
			s.flags = u.flags = 1ULL << 63;
		} else {
			s.reserved[f - 1] = 1;
			u.reserved[f - 1] = 1;
		}
		EXPECT_EQ(-1, ioctl(self->fd, RAMCRYPT_IOC_SEAL, &s)) TH_LOG("field %d", f);
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(-1, ioctl(self->fd, RAMCRYPT_IOC_UNSEAL, &u)) TH_LOG("field %d", f);
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST_F(seal, only_into_private_memory)
{
	unsigned char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t n = 0;

	ASSERT_NE(MAP_FAILED, shared);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, seal(self->fd, self->secret, 32, self->blob, sizeof(self->blob), &n));
	ASSERT_EQ(0, protect_self(self->fd));
	memset(shared, POISON, 4096);
	EXPECT_EQ(-EINVAL, unseal(self->fd, self->blob, n, shared, 4096, NULL));
	EXPECT_EQ(POISON, shared[0]);
	EXPECT_EQ(-EFAULT, unseal(self->fd, self->blob, n, ro, 4096, NULL));
	munmap(shared, 4096);
	munmap(ro, 4096);
}

TEST_HARNESS_MAIN
