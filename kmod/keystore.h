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

/*
 * Replace the key on every CPU with a passphrase-derived one (RAMCRYPT_IOC_KEY_LOAD).
 * The caller wipes key[] with memzero_explicit(). A different key makes every page
 * encrypted under the old one undecryptable: the caller refuses while ciphertext
 * exists. After resume with a passphrase key only the same key is accepted
 * (-EKEYREJECTED otherwise). Process context; may sleep.
 */
int rc_keystore_load_key(const u8 key[RAMCRYPT_KEY_BYTES]);
/*
 * Load the key in use again once it is lost (after resume with a passphrase key):
 * only a key that reproduces the stored key check value is taken (-EKEYREJECTED
 * otherwise), so it is safe while ciphertext exists. -EBUSY while the key is
 * usable. The caller wipes key[]. Process context; may sleep.
 */
int rc_keystore_reload_key(const u8 key[RAMCRYPT_KEY_BYTES]);
/*
 * Fill the key_* / cpus_* / key_heals fields and OR in the degraded bits of a status
 * reply. cpus_with_key is measured now, on every CPU. Process context; may sleep.
 */
void rc_keystore_status(struct ramcrypt_status *st);

/*
 * Pages are encrypted and decrypted between use_begin() and use_end() (sleepable
 * context, batch at a time); a key load waits for them and keeps new ones out
 * between load_begin() and load_end(), so no page is ever made under a key that is
 * being replaced, and the decision "load or only reload" sees a count of ciphertext
 * pages that cannot change under it. Loads are serialised by it too.
 */
void rc_keystore_use_begin(void);
void rc_keystore_use_end(void);
void rc_keystore_load_begin(void);
void rc_keystore_load_end(void);
/*
 * Run the known-answer tests again (RAMCRYPT_IOC_SELFTEST) on the calling CPU, then
 * restore its key from another CPU: -EBUSY with a single CPU online, -EINVAL if a
 * vector fails, -EKEYREJECTED without a key.
 */
int rc_keystore_selftest(void);
/* False once no CPU holds the key: encryption stops, decryption is impossible. */
bool rc_keystore_usable(void);

/* For cipher.c: does a key check value computed on this CPU match the key's? */
bool rc_keystore_kcv_ok(const u8 kcv[16]);
/*
 * For cipher.c: restore this CPU's key from a healthy CPU. 0 if this CPU holds the
 * key on return, -EKEYREJECTED if no CPU does any more. Process context, no locks
 * held that an IPI handler could need; does not sleep.
 */
int rc_keystore_heal_this_cpu(void);

/*
 * debugfs ramcrypt/selftest_roundtrip (write N: N page round trips on the writer's
 * CPU), in the directory rc_control_init() creates: call after it, undo before
 * rc_control_uninit().
 */
void rc_keystore_debugfs_init(void);
void rc_keystore_debugfs_uninit(void);

/* Module parameter allow_suspend; the control plane may mirror it in a sysctl. */
extern bool rc_allow_suspend;

#endif
