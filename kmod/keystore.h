/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Keystore: the 256-bit AES-128-XTS key lives in DR0-DR3 of every online CPU and
 * nowhere in RAM. DR0|DR1 = data key K1 (bytes 0-15, little-endian words),
 * DR2|DR3 = tweak key K2 (bytes 16-31).
 */
#ifndef RAMCRYPT_KEYSTORE_H
#define RAMCRYPT_KEYSTORE_H

#include <linux/types.h>
#include <uapi/linux/ramcrypt.h>

int rc_keystore_init(void);
void rc_keystore_uninit(void);

/* Replace the key on every CPU with a passphrase-derived one (RAMCRYPT_IOC_KEY_LOAD). */
int rc_keystore_load_key(const u8 key[RAMCRYPT_KEY_BYTES]);
/* Fill the key_* / cpus_* / degraded fields of a status reply. */
void rc_keystore_status(struct ramcrypt_status *st);
/* Run the known-answer tests again (RAMCRYPT_IOC_SELFTEST). */
int rc_keystore_selftest(void);
/* False once no CPU holds the key: encryption stops, decryption is impossible. */
bool rc_keystore_usable(void);

#endif
