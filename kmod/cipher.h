/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Register-only AES-128-XTS over one 4 KiB page (cipher-asm.S). The key is read from
 * DR0-DR3 of the running CPU; round keys exist only in XMM registers, with
 * interrupts off, and are cleared before interrupts come back.
 */
#ifndef RAMCRYPT_CIPHER_H
#define RAMCRYPT_CIPHER_H

#include <linux/types.h>

/*
 * dst and src: one page each (may be the same page). tweak: unique per encryption;
 * take it from rc_cipher_next_tweak() and store it with the ciphertext.
 * Return 0, or -EKEYREJECTED when no CPU holds the key any more (dst untouched).
 * Callable from process context; not from hard interrupt context.
 */
int rc_cipher_encrypt_page(void *dst, const void *src, u64 tweak);
int rc_cipher_decrypt_page(void *dst, const void *src, u64 tweak);
u64 rc_cipher_next_tweak(void);

#endif
