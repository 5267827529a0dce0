// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libramcrypt: sealed secrets through /dev/ramcrypt, blobs kept in kernel keyrings
 * with libkeyutils. See include/ramcrypt.h and docs/SEALING.md.
 */
#define _GNU_SOURCE
#include "ramcrypt.h"
#include "ramcrypt-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define RC_KEY_TYPE	"user"
#define RC_KEY_PREFIX	"ramcrypt:"
#define RC_NAME_MAX	64

static int sys_open(const char *path, int flags)
{
	return open(path, flags);
}

static int sys_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

static const struct ramcrypt_lib_ops sys_ops = { sys_open, sys_ioctl, close };
static const struct ramcrypt_lib_ops *ops = &sys_ops;

void ramcrypt_lib_set_ops(const struct ramcrypt_lib_ops *o)
{
	ops = o ? o : &sys_ops;
}

/* One ioctl on a fresh descriptor: 0 or -errno. */
static int rc_call(int write, unsigned long request, void *arg)
{
	int fd = ops->open(RAMCRYPT_DEVICE, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	while (ops->ioctl(fd, request, arg) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			break;
		}
	}
	ops->close(fd);
	return ret;
}

ssize_t ramcrypt_seal_blob(const void *secret, size_t len, void *blob, size_t blob_cap)
{
	struct ramcrypt_seal s = {
		.secret = (__u64)(unsigned long)secret,
		.secret_len = len,
		.blob = (__u64)(unsigned long)blob,
		.blob_len = blob_cap,
	};
	int ret;

	if (!secret || !blob || !len || len > RAMCRYPT_SEAL_MAX)
		return -EINVAL;
	if (blob_cap < RAMCRYPT_SEAL_BLOB_LEN(len))
		return -ENOSPC;
	ret = rc_call(1, RAMCRYPT_IOC_SEAL, &s);
	return ret ? ret : (ssize_t)s.blob_len;
}

ssize_t ramcrypt_unseal_blob(const void *blob, size_t blob_len, void *buf, size_t cap)
{
	struct ramcrypt_unseal u = {
		.blob = (__u64)(unsigned long)blob,
		.blob_len = blob_len,
		.secret = (__u64)(unsigned long)buf,
		.secret_len = cap,
	};
	int ret;

	if (!blob || !buf || !blob_len || blob_len > RAMCRYPT_SEAL_BLOB_MAX || !cap)
		return -EINVAL;
	ret = rc_call(0, RAMCRYPT_IOC_UNSEAL, &u);
	return ret ? ret : (ssize_t)u.secret_len;
}

int ramcrypt_secret_region(const void *addr, size_t len)
{
	unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
	unsigned long start = (unsigned long)addr & ~(page - 1);
	struct ramcrypt_secret_region r = { .addr = start };

	if (!addr || !len || (unsigned long)addr + len < (unsigned long)addr)
		return -EINVAL;
	r.len = (unsigned long)addr + len - start;
	return rc_call(0, RAMCRYPT_IOC_SECRET_REGION, &r);
}

/* Names become key descriptions and environment variable names: keep them plain. */
static int rc_desc(const char *name, char desc[sizeof(RC_KEY_PREFIX) + RC_NAME_MAX])
{
	size_t n = name ? strlen(name) : 0, i;

	if (!n || n > RC_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return -EINVAL;
	}
	snprintf(desc, sizeof(RC_KEY_PREFIX) + RC_NAME_MAX, RC_KEY_PREFIX "%s", name);
	return 0;
}

int ramcrypt_name_valid(const char *name)
{
	char desc[sizeof(RC_KEY_PREFIX) + RC_NAME_MAX];

	return rc_desc(name, desc) == 0;
}

/*
 * The keyring's serial in *ring (KEY_SPEC_* values are negative): 0 or -errno.
 */
static int rc_keyring(const char *spec, key_serial_t *ring)
{
	char *end;
	long v;

	if (!spec || !strcmp(spec, "@u")) {
		*ring = KEY_SPEC_USER_KEYRING;
		return 0;
	}
	if (!strcmp(spec, "@s")) {
		*ring = KEY_SPEC_SESSION_KEYRING;
		return 0;
	}
	if (!strcmp(spec, "@p") || !strncmp(spec, "@p:", 3)) {
		uid_t uid = (uid_t)-1;
		key_serial_t k;

		if (spec[2]) {
			errno = 0;
			v = strtol(spec + 3, &end, 10);
			if (errno || end == spec + 3 || *end || v < 0 || v >= INT_MAX)
				return -EINVAL;
			uid = (uid_t)v;
		}
		k = keyctl_get_persistent(uid, KEY_SPEC_SESSION_KEYRING);
		if (k < 0)
			return -errno;
		*ring = k;
		return 0;
	}
	errno = 0;
	v = strtol(spec, &end, 10);
	if (errno || end == spec || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*ring = (key_serial_t)v;
	return 0;
}

int ramcrypt_blob_store(const char *name, const char *keyring, const void *blob, size_t len)
{
	char desc[sizeof(RC_KEY_PREFIX) + RC_NAME_MAX];
	key_serial_t ring, k;
	int ret = rc_desc(name, desc);

	if (ret)
		return ret;
	if (!blob || !len || len > RAMCRYPT_SEAL_BLOB_MAX)
		return -EINVAL;
	ret = rc_keyring(keyring, &ring);
	if (ret)
		return ret;
	k = add_key(RC_KEY_TYPE, desc, blob, len, ring);
	return k < 0 ? -errno : 0;
}

ssize_t ramcrypt_blob_load(const char *name, const char *keyring, void *blob, size_t cap)
{
	char desc[sizeof(RC_KEY_PREFIX) + RC_NAME_MAX];
	key_serial_t ring, k;
	long n;
	int ret = rc_desc(name, desc);

	if (ret)
		return ret;
	if (!blob || !cap)
		return -EINVAL;
	ret = rc_keyring(keyring, &ring);
	if (ret)
		return ret;
	k = keyctl_search(ring, RC_KEY_TYPE, desc, 0);
	if (k < 0)
		return errno == ENOKEY ? -ENOKEY : -errno;
	n = keyctl_read(k, blob, cap);
	if (n < 0)
		return -errno;
	if ((size_t)n > cap)
		return -ENOSPC;
	return n;
}

int ramcrypt_seal(const char *name, const char *keyring, const void *secret, size_t len)
{
	unsigned char blob[RAMCRYPT_SEAL_BLOB_MAX];
	char desc[sizeof(RC_KEY_PREFIX) + RC_NAME_MAX];
	ssize_t n;

	/* A bad name fails before the module does any work. */
	if (rc_desc(name, desc))
		return -EINVAL;
	n = ramcrypt_seal_blob(secret, len, blob, sizeof(blob));
	if (n < 0)
		return (int)n;
	return ramcrypt_blob_store(name, keyring, blob, (size_t)n);
}

ssize_t ramcrypt_unseal_into(const char *name, const char *keyring, void *buf, size_t cap)
{
	unsigned char blob[RAMCRYPT_SEAL_BLOB_MAX];
	ssize_t n;

	if (!buf || !cap)
		return -EINVAL;
	n = ramcrypt_blob_load(name, keyring, blob, sizeof(blob));
	if (n < 0)
		return n;
	return ramcrypt_unseal_blob(blob, (size_t)n, buf, cap);
}

const char *ramcrypt_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case EPERM:
		return "not allowed: unsealing and secret regions need a process protected by ramcrypt "
		       "(ramcrypt run)";
	case EKEYREJECTED:
		return "sealed under another ramcrypt key (load the passphrase key it was sealed with)";
	case EBADMSG:
		return "the sealed blob is damaged or was tampered with";
	case ENOKEY:
		return "no such sealed secret in the keyring";
	case EKEYREVOKED:
		return "the ramcrypt key is lost (after resume: ramcrypt key load)";
	case ENOSPC:
		return "buffer too small for the secret, or too many secret regions";
	case EBADF:
		return "sealing needs write access to " RAMCRYPT_DEVICE;
	case ENOENT:
		return RAMCRYPT_DEVICE " is missing (is the ramcrypt module loaded?)";
	case ENOTTY:
		return "the ramcrypt module does not support sealing (ABI < 2)";
	default:
		return strerror(err < 0 ? -err : err);
	}
}
