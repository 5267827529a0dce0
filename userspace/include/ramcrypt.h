/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libramcrypt: sealed secrets for programs that run under ramcrypt (docs/SEALING.md),
 * and secret regions, which ramcrypt keeps in a tier with a window of its own.
 *
 * A secret (1 to RAMCRYPT_SEAL_MAX bytes, e.g. a database DEK) is sealed by the
 * ramcrypt module under its register-held key into an opaque blob, which is kept as a
 * "user" key named "ramcrypt:NAME" in a kernel keyring. Unsealing is done by the
 * module straight into a buffer of the calling process, and only when that process
 * is protected by ramcrypt (`ramcrypt run -- program`); the buffer must be private
 * memory (heap, stack, anonymous mmap).
 *
 * Keyrings, as keyctl(1) names them: "@u" (the user keyring; NULL means "@u"), "@s"
 * (the session keyring), "@p" (the caller's persistent keyring, linked into its
 * session keyring), "@p:UID" (UID's persistent keyring; needs CAP_SETUID unless it is
 * the caller's), or a key serial number in decimal.
 *
 * Every function returns >= 0 on success and a negative errno value on failure:
 *   -EPERM        unseal, secret region: the caller is not protected by ramcrypt
 *   -EKEYREJECTED unseal: the blob was sealed under another ramcrypt key
 *   -EBADMSG      unseal: the blob is damaged or was tampered with
 *   -ENOKEY       no key "ramcrypt:NAME" in the keyring
 *   -EKEYREVOKED  the module's key is lost (after resume: `ramcrypt key load` again)
 *   -EINVAL       bad arguments (a name with ':' or '/', a length out of range), or
 *                 an unseal buffer or a secret region outside private memory
 *   -ENOMEM       secret region: part of the range is not mapped
 *   -ENOTTY       the module is too old: sealing needs ABI 2, secret regions ABI 4
 *   -ENOSPC       the output buffer is too small; secret region: RAMCRYPT_SECRET_REGIONS_MAX
 *                 regions are marked already
 *   -EBADF        seal: /dev/ramcrypt is not writable by the caller
 *   -ENOENT       /dev/ramcrypt is missing (module not loaded)
 * ramcrypt_strerror() gives a sentence for each.
 *
 * The library keeps no copy of a secret: ramcrypt_seal*() pass the caller's buffer to
 * the module, ramcrypt_unseal*() have the module write into it. Wiping it is the
 * caller's job (explicit_bzero()).
 */
#ifndef RAMCRYPT_LIB_H
#define RAMCRYPT_LIB_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/ramcrypt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Seal secret[0..len) and store the blob as "ramcrypt:NAME" in keyring (replacing
 * an older one). 0 or -errno. Needs /dev/ramcrypt open for writing (root by default). */
int ramcrypt_seal(const char *name, const char *keyring, const void *secret, size_t len);

/* Find "ramcrypt:NAME" in keyring (searched recursively) and unseal it into
 * buf[0..cap). The secret's length, or -errno. */
ssize_t ramcrypt_unseal_into(const char *name, const char *keyring, void *buf, size_t cap);

/* The same without keyrings. ramcrypt_seal_blob(): the blob's length
 * (RAMCRYPT_SEAL_BLOB_LEN(len)) or -errno; ramcrypt_unseal_blob(): the secret's length
 * or -errno. */
ssize_t ramcrypt_seal_blob(const void *secret, size_t len, void *blob, size_t blob_cap);
ssize_t ramcrypt_unseal_blob(const void *blob, size_t blob_len, void *buf, size_t cap);

/* Keep or fetch a blob as "ramcrypt:NAME" in keyring: 0 / the blob's length, or -errno. */
int ramcrypt_blob_store(const char *name, const char *keyring, const void *blob, size_t len);
ssize_t ramcrypt_blob_load(const char *name, const char *keyring, void *blob, size_t cap);

/*
 * Mark the pages holding [addr, addr + len) of the calling process as secret (the
 * range is widened to whole pages): ramcrypt keeps them in the secret tier, whose
 * window (`ramcrypt run --secret-window N`, default RAMCRYPT_MIN_SECRET_WINDOW pages)
 * is separate from the ordinary one, so a secret used now and then is not kept in
 * plaintext by a big window full of busy pages. The caller must be protected
 * (`ramcrypt run`); the range must be mapped private memory (heap, stack, anonymous
 * mmap). Marks are address ranges: they stay after munmap and do not follow mremap
 * (mark the new range again); a fork child inherits them, an exec drops them.
 * Overlapping and adjacent marks merge; at most RAMCRYPT_SECRET_REGIONS_MAX. 0 or -errno.
 * Opens /dev/ramcrypt read-only: no write access needed.
 */
int ramcrypt_secret_region(const void *addr, size_t len);

/* 1 if name is a valid secret name: 1 to 64 of A-Z a-z 0-9 _ - . ; else 0. */
int ramcrypt_name_valid(const char *name);

/* A sentence for a negative return value (sealing-specific where it matters). */
const char *ramcrypt_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* RAMCRYPT_LIB_H */
