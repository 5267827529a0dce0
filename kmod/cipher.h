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
 * Return 0, or -EKEYREJECTED when no CPU holds the key any more, or, in place
 * (dst == src), when this CPU lost the key during the call; dst is then undefined
 * (callers keep dst != src so that only a lost key fails).
 * Callable from process context; not from hard interrupt context.
 */
int rc_cipher_encrypt_page(void *dst, const void *src, u64 tweak);
int rc_cipher_decrypt_page(void *dst, const void *src, u64 tweak);
u64 rc_cipher_next_tweak(void);
/* Zero a page that held plaintext (AVX2 stores where the CPU has them). */
void rc_cipher_wipe_page(void *page);
/* Run fn with this CPU's key checked before and after, interrupts off, FPU held. */
bool rc_cipher_run_checked(void (*fn)(void *arg), void *arg);
/*
 * Called once by rc_keystore_init(), before anything else: check the CPU has AES-NI
 * (-ENODEV otherwise), pick the VAES path where the CPU has it, seed the tweak.
 */
int rc_cipher_init(void);
/* True when rc_cipher_*() use rc_xts_crypt_vaes (the known-answer tests cover both). */
bool rc_cipher_vaes(void);

/*
 * cipher-asm.S, for cipher.c and the keystore only. Key from DR0-DR3 of the running
 * CPU (K1 = DR0|DR1, K2 = DR2|DR3); AES-NI + SSE4.1; call inside kernel_fpu_begin() with interrupts
 * off. nbytes: a multiple of 16. rc_xts_kcv(): the XTS ciphertext of a zero block
 * under a zero tweak, the key check value.
 */
void rc_xts_crypt(u8 *dst, const u8 *src, unsigned long nbytes, const u8 iv[16],
		  int decrypt);
/* Same, 4 blocks in flight in two YMM registers: AVX2 + VAES + VPCLMULQDQ. */
void rc_xts_crypt_vaes(u8 *dst, const u8 *src, unsigned long nbytes, const u8 iv[16],
		       int decrypt);
void rc_xts_kcv(u8 out[16]);
void rc_zero_page_avx2(void *page);

#endif
