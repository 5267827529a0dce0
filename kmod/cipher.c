// SPDX-License-Identifier: GPL-2.0
/*
 * Cipher glue: one 4 KiB page through the register-only AES-128-XTS of
 * cipher-asm.S, with the key checked on this CPU in the same interrupts-off section
 * that uses it.
 */
#include <linux/atomic.h>
#include <linux/errno.h>
#include <linux/irqflags.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/string.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include "compat.h"

#include "cipher.h"
#include "keystore.h"

/*
 * The XTS tweak of every encryption: a 64-bit counter, never reused while the
 * module is loaded. It starts at a random value so that a passphrase key, which
 * outlives the module, does not meet the same tweaks again after a reload.
 */
static atomic64_t rc_tweak = ATOMIC64_INIT(0);
static bool rc_use_vaes __read_mostly;
static bool rc_use_avx2 __read_mostly;

#ifdef RAMCRYPT_BENCH
/*
 * Benchmark-only build (RAMCRYPT_BENCH=y, set by `make bench`): the cipher can be
 * replaced by a plain copy, so the fault path's own cost can be measured apart from
 * AES (which TCG inflates far more than other kernel code). Never in a normal build.
 */
static bool bench_copy_cipher;
module_param(bench_copy_cipher, bool, 0444);
MODULE_PARM_DESC(bench_copy_cipher, "BENCHMARK ONLY: store pages in plaintext (copy instead of AES)");
#endif

int rc_cipher_init(void)
{
	if (!boot_cpu_has(X86_FEATURE_AES) || !boot_cpu_has(X86_FEATURE_XMM4_1)) {
		pr_err("the CPU lacks AES-NI or SSE4.1\n");
		return -ENODEV;
	}
	rc_use_avx2 = boot_cpu_has(X86_FEATURE_AVX2) &&
		      cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM, NULL);
	rc_use_vaes = boot_cpu_has(X86_FEATURE_AVX2) && boot_cpu_has(X86_FEATURE_VAES) &&
		      boot_cpu_has(X86_FEATURE_VPCLMULQDQ) &&
		      cpu_has_xfeatures(XFEATURE_MASK_SSE | XFEATURE_MASK_YMM, NULL);
	atomic64_set(&rc_tweak, get_random_u64());
#ifdef RAMCRYPT_BENCH
	if (bench_copy_cipher)
		pr_warn("bench_copy_cipher: pages are NOT encrypted (benchmark build)\n");
#endif
	return 0;
}

bool rc_cipher_vaes(void)
{
	return rc_use_vaes;
}

void rc_cipher_wipe_page(void *page)
{
	/* After a cipher call the task's FPU state is saved already: cheap. */
	if (rc_use_avx2 && irq_fpu_usable()) {
		kernel_fpu_begin();
		rc_zero_page_avx2(page);
		kernel_fpu_end();
	} else {
		clear_page(page);
	}
}

u64 rc_cipher_next_tweak(void)
{
	return atomic64_inc_return(&rc_tweak);
}

/*
 * Check the key, run fn and check the key again, in one section with interrupts
 * off. The first check catches a CPU whose registers were clobbered while it was
 * not using them; the second an NMI that wiped them mid-operation (the __show_regs
 * guard in keystore.c), after which the output is not to be trusted. Each check
 * costs one block and one key expansion next to a page's 256 blocks. Shared by the
 * page cipher and sealing (seal.c).
 */
bool rc_cipher_run_checked(void (*fn)(void *arg), void *arg)
{
	unsigned long flags;
	u8 kcv[16];
	bool ok;

	kernel_fpu_begin();
	local_irq_save(flags);
	rc_xts_kcv(kcv);
	ok = rc_keystore_kcv_ok(kcv);
	if (ok) {
		fn(arg);
		rc_xts_kcv(kcv);
		ok = rc_keystore_kcv_ok(kcv);
	}
	local_irq_restore(flags);
	kernel_fpu_end();
	return ok;
}

struct rc_page_op {
	void *dst;
	const void *src;
	const u8 *iv;
	int decrypt;
};

static void rc_page_op(void *arg)
{
	struct rc_page_op *op = arg;

	if (rc_use_vaes)
		rc_xts_crypt_vaes(op->dst, op->src, PAGE_SIZE, op->iv, op->decrypt);
	else
		rc_xts_crypt(op->dst, op->src, PAGE_SIZE, op->iv, op->decrypt);
}

static bool rc_cipher_try(void *dst, const void *src, const u8 iv[16], int decrypt)
{
	struct rc_page_op op = { dst, src, iv, decrypt };

	return rc_cipher_run_checked(rc_page_op, &op);
}

static int rc_cipher_page(void *dst, const void *src, u64 tweak, int decrypt)
{
	u8 iv[16] = { 0 };

	put_unaligned_le64(tweak, iv);
#ifdef RAMCRYPT_BENCH
	if (bench_copy_cipher) {
		if (dst != src)
			memcpy(dst, src, PAGE_SIZE);
		return 0;
	}
#endif
	if (!rc_keystore_usable())
		return -EKEYREJECTED;
	if (likely(rc_cipher_try(dst, src, iv, decrypt)))
		return 0;
	/*
	 * This CPU lost the key (hot-plug, resume, a register dump, a debugger): heal
	 * it and retry once. In place, src is already overwritten: no retry.
	 */
	if (dst == src || rc_keystore_heal_this_cpu())
		return -EKEYREJECTED;
	return rc_cipher_try(dst, src, iv, decrypt) ? 0 : -EKEYREJECTED;
}

int rc_cipher_encrypt_page(void *dst, const void *src, u64 tweak)
{
	return rc_cipher_page(dst, src, tweak, 0);
}

int rc_cipher_decrypt_page(void *dst, const void *src, u64 tweak)
{
	return rc_cipher_page(dst, src, tweak, 1);
}
