/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Register-only AES-128-XTS (IEEE 1619, whole 16-byte blocks, no ciphertext stealing).
 *
 *   void rc_xts_crypt(u8 *dst, const u8 *src, unsigned long nbytes, const u8 iv[16],
 *                     int decrypt);                   AES-NI + SSE4.1
 *   void rc_xts_crypt_vaes(...same...);               AVX2 + VAES + VPCLMULQDQ
 *   void rc_xts_kcv(u8 out[16]);                      XTS-encrypt(0^16, iv = 0^16)
 *   void rc_zero_page_avx2(void *page);               zero 4096 bytes (AVX2)
 *
 * The kernel build takes the 256-bit key from the debug registers: K1 (data key) =
 * DR0 | DR1 << 64, K2 (tweak key) = DR2 | DR3 << 64, little-endian, i.e. the byte
 * layout of key[0..31]. With -DRC_USERSPACE every function takes one more argument,
 * const u8 key[32], in the same layout (host tests and benchmark only).
 *
 * The caller checks the CPU features, runs with interrupts off between
 * kernel_fpu_begin() and kernel_fpu_end(), and passes nbytes as a non-zero multiple
 * of 16 (a trailing partial block would be left untouched); dst may equal src.
 *
 * Key material never reaches memory: the key goes from the debug registers (or the
 * caller's buffer) into a GPR and an XMM register, the round keys are expanded with
 * aeskeygenassist into XMM/YMM registers, and nothing is ever spilled (the only stack
 * use is saving the caller's r12-r15 before any key bit is loaded). The tweaks are
 * key-derived, so they too stay in registers. Before returning, every vector register
 * and every GPR that held a key bit or a tweak is cleared.
 *
 * Register budget (16 vector registers, measured choices; see docs/bench/crypto.md):
 *
 *   AES-NI path: 11 round keys + 4 blocks in flight; xmm13/xmm14 carry K2's schedule
 *   and the initial tweak during setup only (K2's schedule is expanded round by round
 *   beside K1's, used once for T0 and gone). The tweaks live in GPR pairs (lo, hi)
 *   r8-r15: multiplying by alpha is six integer ops there, off the vector pipes, and
 *   XTS whitening is done in GPRs too (data ^ tweak), so each block costs two
 *   GPR<->XMM moves each way and no vector register holds tweak state. The register
 *   count rules out more: 11 round keys + 6 blocks is 17 XMM registers (OpenSSL keeps
 *   6 blocks in flight by reading its round keys from memory, which we may not), and a
 *   tweak held in an XMM register costs a block in flight. Measured on AMD Zen 5 (see
 *   docs/bench/crypto.md): 5 blocks in flight (all 16 XMM registers, tweaks in 10 GPRs)
 *   was no faster than 4, since out-of-order execution overlaps consecutive groups,
 *   which share nothing but the tweak chain; building each tweak in a scratch XMM
 *   register instead was about 15% slower (earlier measurement on Zen 4).
 *
 *   VAES path: 11 round keys (broadcast to both 128-bit lanes) + 2 YMM blocks
 *   (4 AES blocks in flight) + 2 YMM tweak pairs (T0, T1), (T2, T3) + 1 scratch.
 *   The tweak pairs persist, each advanced by alpha^4 per group with VPCLMULQDQ
 *   doing the reduction, and feed the input and output whitening directly.
 *   8 blocks in flight with only the first tweak pair kept (the others recomputed
 *   twice per group) was 45% slower: recomputation cost more than the extra AES
 *   chains gained, and consecutive groups overlap out of order anyway, as they
 *   share nothing but the tweak registers. The output whitening is folded into the
 *   last round: aesenclast(x, T) ^ rk10 = aesenclast(x, rk10) ^ T (and aesdeclast).
 *
 *   Decryption uses the same 11 registers: rk1..rk9 are aesimc'd in place once per
 *   call and the schedule is walked backwards.
 */

#ifdef RC_USERSPACE
#define SYM_FUNC_START(name)	.globl name; .type name, @function; .p2align 4; name:
#define SYM_FUNC_END(name)	.size name, . - name
#define RET			ret
#else
#include <linux/linkage.h>
#endif

#define DST	%rdi
#define SRC	%rsi
#define LEN	%rdx
#define IV	%rcx
#define KEY	%r9		/* RC_USERSPACE only */

	.section .rodata
	.balign 32
/* Per-lane constant for VMUL_ALPHAN: x^7 + x^2 + x (x^128 reduces to this plus 1). */
.Lpoly86:
	.quad	0x86, 0, 0x86, 0
/* For VMUL_ALPHA: 0x87 into the low qword on carry-out, 1 into the high qword. */
.Lalpha_mask:
	.long	0x87, 0, 1, 0
.Lzero16:
	.quad	0, 0

	.text

/* ---------------------------------------------------------------- key loading */

#ifdef RC_USERSPACE
.macro LOAD_K1 x, v=
	\v\()movdqu	(KEY), \x
.endm
.macro LOAD_K2 x, v=
	\v\()movdqu	16(KEY), \x
.endm
#else
/* rax carries key bits only between the two moves; it is cleared at once. */
.macro LOAD_DR lo, hi, x, v
	mov		\lo, %rax
	\v\()movq	%rax, \x
	mov		\hi, %rax
.ifb \v
	pinsrq		$1, %rax, \x
.else
	vpinsrq		$1, %rax, \x, \x
.endif
	xor		%eax, %eax
.endm
.macro LOAD_K1 x, v=
	LOAD_DR	%db0, %db1, \x, \v
.endm
.macro LOAD_K2 x, v=
	LOAD_DR	%db2, %db3, \x, \v
.endm
#endif

/* ------------------------------------------------------- AES-NI (SSE) helpers */


/* k = next AES-128 round key after k; t1, t2 are clobbered. */
.macro EXPAND rcon, k, t1, t2
	aeskeygenassist	$\rcon, \k, \t1
	pshufd		$0xff, \t1, \t1		/* SubWord(RotWord(w3)) ^ rcon */
	movdqa		\k, \t2			/* k ^= k<<32 ^ k<<64 ^ k<<96 */
	pslldq		$4, \t2
	pxor		\t2, \k
	pslldq		$4, \t2
	pxor		\t2, \k
	pslldq		$4, \t2
	pxor		\t2, \k
	pxor		\t1, \k
.endm

/* next = round key after prev. */
.macro EXPAND_TO rcon, prev, next, t1, t2
	movdqa		\prev, \next
	EXPAND		\rcon, \next, \t1, \t2
.endm

/* K1's round key after prev into next, and K2's next in xmm13; xmm11, xmm12 clobbered. */
.macro EXPAND2 rcon, prev, next
	EXPAND_TO	\rcon, \prev, \next, %xmm11, %xmm12
	EXPAND		\rcon, %xmm13, %xmm11, %xmm12
.endm

/*
 * (lo, hi) *= alpha in GF(2^128); clobbers rax and the flags.
 * The reduction mask comes from bit 127 by sar, not from the carry by `sbb %rax, %rax`:
 * Intel CPUs do not treat sbb of a register with itself as independent of its old
 * value, and rax last held the previous group's output (WHITEN_OUT), so each group's
 * tweaks, and with them its AES rounds, waited for the previous group's last round.
 * Simulating that dependency here (AMD Zen 5) tripled the time per page.
 */
.macro MUL_ALPHA lo, hi
	mov		\hi, %rax
	sar		$63, %rax		/* all ones iff bit 127 is set */
	and		$0x87, %eax
	add		\lo, \lo
	adc		\hi, \hi
	xor		%rax, \lo
.endm

/* x = src[off] ^ tweak ^ key; rax and rcx see only data ^ tweak (cleared at exit). */
.macro WHITEN_IN off, lo, hi, x, key
	mov		\off(SRC), %rax
	mov		\off+8(SRC), %rcx
	xor		\lo, %rax
	xor		\hi, %rcx
	movq		%rax, \x
	pinsrq		$1, %rcx, \x
	pxor		\key, \x
.endm

/* dst[off] = x ^ tweak */
.macro WHITEN_OUT off, lo, hi, x
	movq		\x, %rax
	pextrq		$1, \x, %rcx
	xor		\lo, %rax
	xor		\hi, %rcx
	mov		%rax, \off(DST)
	mov		%rcx, \off+8(DST)
.endm

/*
 * One XTS pass over 4-block groups, then single blocks. op/oplast: aesenc/aesenclast
 * or aesdec/aesdeclast; first/last: whitening round keys; the rest: middle keys in
 * order. Tweak T0 in (r8, r9); T1..T3 in (r10, r11), (r12, r13), (r14, r15).
 */
.macro XTS_SSE op, oplast, first, last, mid:vararg
.L\op\()_4x:
	cmp		$64, LEN
	jb		.L\op\()_1x
	mov		%r8, %r10
	mov		%r9, %r11
	MUL_ALPHA	%r10, %r11
	mov		%r10, %r12
	mov		%r11, %r13
	MUL_ALPHA	%r12, %r13
	mov		%r12, %r14
	mov		%r13, %r15
	MUL_ALPHA	%r14, %r15

	WHITEN_IN	0x00, %r8, %r9, %xmm11, %xmm\first
	WHITEN_IN	0x10, %r10, %r11, %xmm12, %xmm\first
	WHITEN_IN	0x20, %r12, %r13, %xmm13, %xmm\first
	WHITEN_IN	0x30, %r14, %r15, %xmm14, %xmm\first

	.irp k, \mid
	\op		%xmm\k, %xmm11
	\op		%xmm\k, %xmm12
	\op		%xmm\k, %xmm13
	\op		%xmm\k, %xmm14
	.endr

	\oplast		%xmm\last, %xmm11
	\oplast		%xmm\last, %xmm12
	\oplast		%xmm\last, %xmm13
	\oplast		%xmm\last, %xmm14
	WHITEN_OUT	0x00, %r8, %r9, %xmm11
	WHITEN_OUT	0x10, %r10, %r11, %xmm12
	WHITEN_OUT	0x20, %r12, %r13, %xmm13
	WHITEN_OUT	0x30, %r14, %r15, %xmm14

	mov		%r14, %r8
	mov		%r15, %r9
	MUL_ALPHA	%r8, %r9
	add		$64, SRC
	add		$64, DST
	sub		$64, LEN
	jmp		.L\op\()_4x

.L\op\()_1x:
	cmp		$16, LEN
	jb		.Lsse_done
	WHITEN_IN	0, %r8, %r9, %xmm11, %xmm\first
	.irp k, \mid
	\op		%xmm\k, %xmm11
	.endr
	\oplast		%xmm\last, %xmm11
	WHITEN_OUT	0, %r8, %r9, %xmm11
	MUL_ALPHA	%r8, %r9
	add		$16, SRC
	add		$16, DST
	sub		$16, LEN
	jmp		.L\op\()_1x
.endm

/* -------------------------------------------------------------- AES-NI entry */

SYM_FUNC_START(rc_xts_crypt)
	/* Saved before any key bit is loaded: the stack never sees key material. */
	push		%r12
	push		%r13
	push		%r14
	push		%r15

	LOAD_K1		%xmm0

	/*
	 * T0 = AES(K2, iv), with K2's schedule one round key at a time in xmm13 and T0
	 * in xmm14, interleaved round by round with K1's schedule: the two expansion
	 * chains are independent, so each hides the other's latency. The temporaries
	 * xmm11 and xmm12 are shared (register renaming keeps the chains apart).
	 */
	LOAD_K2		%xmm13
	movdqu		(IV), %xmm14
	pxor		%xmm13, %xmm14
	mov		%r8d, %ecx		/* decrypt flag; iv pointer is done */
	EXPAND2		0x01, %xmm0, %xmm1
	aesenc		%xmm13, %xmm14
	EXPAND2		0x02, %xmm1, %xmm2
	aesenc		%xmm13, %xmm14
	EXPAND2		0x04, %xmm2, %xmm3
	aesenc		%xmm13, %xmm14
	EXPAND2		0x08, %xmm3, %xmm4
	aesenc		%xmm13, %xmm14
	EXPAND2		0x10, %xmm4, %xmm5
	aesenc		%xmm13, %xmm14
	EXPAND2		0x20, %xmm5, %xmm6
	aesenc		%xmm13, %xmm14
	EXPAND2		0x40, %xmm6, %xmm7
	aesenc		%xmm13, %xmm14
	EXPAND2		0x80, %xmm7, %xmm8
	aesenc		%xmm13, %xmm14
	EXPAND2		0x1b, %xmm8, %xmm9
	aesenc		%xmm13, %xmm14
	EXPAND2		0x36, %xmm9, %xmm10
	aesenclast	%xmm13, %xmm14
	movq		%xmm14, %r8
	pextrq		$1, %xmm14, %r9

	test		%ecx, %ecx
	jnz		.Lsse_decrypt
	XTS_SSE		aesenc, aesenclast, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9

.Lsse_decrypt:
	.irp k, 1, 2, 3, 4, 5, 6, 7, 8, 9
	aesimc		%xmm\k, %xmm\k
	.endr
	XTS_SSE		aesdec, aesdeclast, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1

.Lsse_done:
	.irp k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	pxor		%xmm\k, %xmm\k
	.endr
	xor		%eax, %eax
	xor		%ecx, %ecx
	xor		%r8d, %r8d
	xor		%r9d, %r9d
	xor		%r10d, %r10d
	xor		%r11d, %r11d
	/* The caller's values overwrite the tweaks left in r12-r15. */
	pop		%r15
	pop		%r14
	pop		%r13
	pop		%r12
	RET
SYM_FUNC_END(rc_xts_crypt)

/* ---------------------------------------------------------- VAES/AVX2 helpers */

.macro VEXPAND rcon, k, t1, t2
	vaeskeygenassist $\rcon, \k, \t1
	vpshufd		$0xff, \t1, \t1
	vpslldq		$4, \k, \t2
	vpxor		\t2, \k, \k
	vpslldq		$4, \t2, \t2
	vpxor		\t2, \k, \k
	vpslldq		$4, \t2, \t2
	vpxor		\t2, \k, \k
	vpxor		\t1, \k, \k
.endm

.macro VEXPAND_TO rcon, prev, next, t1, t2
	vmovdqa		\prev, \next
	VEXPAND		\rcon, \next, \t1, \t2
.endm

/* t *= alpha in each 128-bit lane; s is clobbered. */
.macro VMUL_ALPHA t, s
	vpshufd		$0x13, \t, \s		/* sign words: bit 127 -> low, bit 63 -> high */
	vpsrad		$31, \s, \s
	vpand		.Lalpha_mask(%rip), \s, \s
	vpaddq		\t, \t, \t
	vpxor		\s, \t, \t
.endm

/*
 * dst = src * alpha^m in each 128-bit lane (1 <= m <= 57; dst may be src); s is
 * clobbered.
 */
.macro VMUL_ALPHAN m, src, dst, s
	vpsrlq		$64 - \m, \src, \s		/* the bits leaving each qword */
	vpshufd		$0x4e, \s, \s		/* low's go up; high's wrap to bit 0 (x^128 = 1 + ...) */
	vpsllq		$\m, \src, \dst
	vpxor		\s, \dst, \dst
	vpclmulqdq	$0x00, .Lpoly86(%rip), \s, \s	/* ... + x + x^2 + x^7 */
	vpxor		\s, \dst, \dst
.endm

/*
 * One XTS pass over 4-block groups (2 YMM, 2 blocks each), then single blocks.
 * ymm13 = (T0, T1) and ymm14 = (T2, T3) hold the group's tweaks; each advances by
 * alpha^4 per group.
 */
.macro XTS_VAES op, oplast, first, last, mid:vararg
.Lv\op\()_4x:
	cmp		$64, LEN
	jb		.Lv\op\()_1x
	vpxor		0x00(SRC), %ymm13, %ymm11
	vpxor		0x20(SRC), %ymm14, %ymm12
	vpxor		%ymm\first, %ymm11, %ymm11
	vpxor		%ymm\first, %ymm12, %ymm12
	.irp k, \mid
	\op		%ymm\k, %ymm11, %ymm11
	\op		%ymm\k, %ymm12, %ymm12
	.endr
	\oplast		%ymm13, %ymm11, %ymm11
	\oplast		%ymm14, %ymm12, %ymm12
	vpxor		%ymm\last, %ymm11, %ymm11
	vpxor		%ymm\last, %ymm12, %ymm12
	vmovdqu		%ymm11, 0x00(DST)
	vmovdqu		%ymm12, 0x20(DST)
	VMUL_ALPHAN	4, %ymm13, %ymm13, %ymm15
	VMUL_ALPHAN	4, %ymm14, %ymm14, %ymm15
	add		$64, SRC
	add		$64, DST
	sub		$64, LEN
	jmp		.Lv\op\()_4x

	/* Only short units (test vectors) get here; xmm13 is the current tweak. */
.Lv\op\()_1x:
	cmp		$16, LEN
	jb		.Lvaes_done
	vpxor		(SRC), %xmm13, %xmm11
	vpxor		%xmm\first, %xmm11, %xmm11
	.irp k, \mid
	\op		%xmm\k, %xmm11, %xmm11
	.endr
	\oplast		%xmm13, %xmm11, %xmm11
	vpxor		%xmm\last, %xmm11, %xmm11
	vmovdqu		%xmm11, (DST)
	VMUL_ALPHA	%xmm13, %xmm12
	add		$16, SRC
	add		$16, DST
	sub		$16, LEN
	jmp		.Lv\op\()_1x
.endm

/* ----------------------------------------------------------- VAES/AVX2 entry */

SYM_FUNC_START(rc_xts_crypt_vaes)
	LOAD_K1		%xmm0, v

	LOAD_K2		%xmm12, v
	vpxor		(IV), %xmm12, %xmm15
	.irp rcon, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b
	VEXPAND		\rcon, %xmm12, %xmm13, %xmm14
	vaesenc		%xmm12, %xmm15, %xmm15
	.endr
	VEXPAND		0x36, %xmm12, %xmm13, %xmm14
	vaesenclast	%xmm12, %xmm15, %xmm15

	VEXPAND_TO	0x01, %xmm0, %xmm1, %xmm11, %xmm12
	VEXPAND_TO	0x02, %xmm1, %xmm2, %xmm11, %xmm12
	VEXPAND_TO	0x04, %xmm2, %xmm3, %xmm11, %xmm12
	VEXPAND_TO	0x08, %xmm3, %xmm4, %xmm11, %xmm12
	VEXPAND_TO	0x10, %xmm4, %xmm5, %xmm11, %xmm12
	VEXPAND_TO	0x20, %xmm5, %xmm6, %xmm11, %xmm12
	VEXPAND_TO	0x40, %xmm6, %xmm7, %xmm11, %xmm12
	VEXPAND_TO	0x80, %xmm7, %xmm8, %xmm11, %xmm12
	VEXPAND_TO	0x1b, %xmm8, %xmm9, %xmm11, %xmm12
	VEXPAND_TO	0x36, %xmm9, %xmm10, %xmm11, %xmm12

	test		%r8d, %r8d
	jz		1f
	.irp k, 1, 2, 3, 4, 5, 6, 7, 8, 9
	vaesimc		%xmm\k, %xmm\k
	.endr
1:
	/* Broadcast each round key to both lanes (VAES has no aesimc/keygen on YMM). */
	.irp k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
	vinserti128	$1, %xmm\k, %ymm\k, %ymm\k
	.endr
	vmovdqa		%xmm15, %xmm14
	VMUL_ALPHA	%xmm14, %xmm12
	vinserti128	$1, %xmm14, %ymm15, %ymm13	/* (T0, T1) */
	VMUL_ALPHAN	2, %ymm13, %ymm14, %ymm12	/* (T2, T3) */

	test		%r8d, %r8d
	jnz		.Lvaes_decrypt
	XTS_VAES	vaesenc, vaesenclast, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9

.Lvaes_decrypt:
	XTS_VAES	vaesdec, vaesdeclast, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1

.Lvaes_done:
	vzeroall				/* all of ymm0-15: keys, tweaks, data */
	RET
SYM_FUNC_END(rc_xts_crypt_vaes)

/* ------------------------------------------------------------ key check value */

SYM_FUNC_START(rc_xts_kcv)
#ifdef RC_USERSPACE
	mov		%rsi, KEY
#endif
	lea		.Lzero16(%rip), SRC
	mov		$16, %edx
	mov		SRC, IV
	xor		%r8d, %r8d
	jmp		rc_xts_crypt
SYM_FUNC_END(rc_xts_kcv)

/* ----------------------------------------------------------------- page wipe */

/*
 * Zero one 4 KiB page (32-byte aligned) with AVX2 stores, inside the caller's
 * kernel_fpu_begin() section. As fast as `rep stosb` natively for a page the
 * cipher has just read (docs/bench/profile-notes.md), and far cheaper under QEMU TCG,
 * which emulates `rep stosb` a byte at a time.
 */
SYM_FUNC_START(rc_zero_page_avx2)
	vpxor		%ymm0, %ymm0, %ymm0
	mov		$4096 / 128, %ecx
.Lzero_loop:
	vmovdqa		%ymm0, 0(%rdi)
	vmovdqa		%ymm0, 32(%rdi)
	vmovdqa		%ymm0, 64(%rdi)
	vmovdqa		%ymm0, 96(%rdi)
	add		$128, %rdi
	dec		%ecx
	jnz		.Lzero_loop
	vzeroupper
	RET
SYM_FUNC_END(rc_zero_page_avx2)

#ifdef RC_USERSPACE
	.section .note.GNU-stack, "", @progbits
#endif
