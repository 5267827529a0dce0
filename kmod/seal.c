// SPDX-License-Identifier: GPL-2.0
/*
 * Sealed secrets (RAMCRYPT_IOC_SEAL / RAMCRYPT_IOC_UNSEAL): a SIV-style authenticated
 * encryption built only from single calls of the register-only AES-128-XTS, each in
 * a tweak domain no page encryption can reach. No derived key is ever computed: the
 * domains are separated by the XTS iv alone. The construction and its argument are
 * in docs/SEALING.md; the blob layout is:
 *
 *	 0  4  magic "RCSL"
 *	 4  1  version (1)
 *	 5  1  flags (0)
 *	 6  2  secret length, little-endian, 1..RAMCRYPT_SEAL_MAX
 *	 8  8  key id: first 8 bytes of Ẽ(KID domain, 0^16)
 *	16 16  nonce, random
 *	32 16  tag = Ẽ(FIN domain | blocks, XOR of XTS(MAC domain, header | padded secret))
 *	48  n  ciphertext = XTS(ENC domain | tag[0..11], padded secret), n = len rounded to 16
 *
 * The XTS iv is 16 bytes; page encryptions use (64-bit counter, 0) and the key check
 * value uses 0, so their bytes 8..15 are zero. Every iv here has bytes 12..15 =
 * "RCS" + domain number, never zero.
 */
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "compat.h"
#include <uapi/linux/ramcrypt.h>

#include "cipher.h"
#include "keystore.h"
#include "pages.h"
#include "procs.h"
#include "seal.h"

#define RC_SEAL_MAGIC		0x4c534352	/* "RCSL", little-endian */
#define RC_SEAL_VERSION		1
#define RC_SEAL_HDR		32		/* authenticated header */
#define RC_SEAL_TAG		RC_SEAL_HDR	/* tag offset */
#define RC_SEAL_CT		(RC_SEAL_HDR + 16) /* ciphertext offset */
#define RC_SEAL_KID		8		/* key id offset */
#define RC_SEAL_KID_LEN		8
#define RC_SEAL_NONCE		16

static_assert(RC_SEAL_CT == RAMCRYPT_SEAL_OVERHEAD);

/* Tweak domains: bytes 12..15 of the iv, little-endian. */
enum rc_seal_domain {
	RC_DOM_KID = 0x52435301,	/* iv = 0^12 | dom: the key id */
	RC_DOM_MAC = 0x52435302,	/* iv = 0^12 | dom, blocks j = 0.. of the MAC input */
	RC_DOM_FIN = 0x52435303,	/* iv = le64(blocks) | 0^4 | dom: the tag */
	RC_DOM_ENC = 0x52435304,	/* iv = tag[0..11] | dom: the ciphertext */
};

/* Kernel temporaries, wiped by kvfree_sensitive(). */
struct rc_seal_work {
	u8 blob[RAMCRYPT_SEAL_BLOB_MAX];
	/* MAC input: header | secret padded with zeros to whole blocks. */
	u8 in[RC_SEAL_HDR + RAMCRYPT_SEAL_MAX];
	u8 out[RC_SEAL_HDR + RAMCRYPT_SEAL_MAX];	/* MAC chain output */
	u8 tag[16];
	size_t padded;			/* secret length rounded up to 16 */
	bool decrypt;
	bool key_mismatch;
};

static void rc_seal_iv(u8 iv[16], enum rc_seal_domain dom, const u8 *lo12, u64 lo64)
{
	memset(iv, 0, 12);
	if (lo12)
		memcpy(iv, lo12, 12);
	else
		put_unaligned_le64(lo64, iv);
	put_unaligned_le32(dom, iv + 12);
}

/* Interrupts off, inside kernel_fpu_begin(). */
static void rc_seal_key_id(u8 kid[RC_SEAL_KID_LEN])
{
	u8 iv[16], blk[16] = { 0 };

	rc_seal_iv(iv, RC_DOM_KID, NULL, 0);
	rc_xts_crypt(blk, blk, 16, iv, 0);
	memcpy(kid, blk, RC_SEAL_KID_LEN);
	memzero_explicit(blk, sizeof(blk));
}

/*
 * tag = Ẽ_FIN,m(XOR_j Ẽ_MAC,j(M_j)) over M = w->in, m blocks. Interrupts off, inside
 * kernel_fpu_begin().
 */
static void rc_seal_mac(struct rc_seal_work *w, u8 tag[16])
{
	size_t n = RC_SEAL_HDR + w->padded, i;
	u64 sigma[2] = { 0, 0 };
	u8 iv[16];

	rc_seal_iv(iv, RC_DOM_MAC, NULL, 0);
	rc_xts_crypt(w->out, w->in, n, iv, 0);
	for (i = 0; i < n; i += 16) {
		sigma[0] ^= get_unaligned((u64 *)(w->out + i));
		sigma[1] ^= get_unaligned((u64 *)(w->out + i + 8));
	}
	rc_seal_iv(iv, RC_DOM_FIN, NULL, n / 16);
	rc_xts_crypt(tag, (u8 *)sigma, 16, iv, 0);
	memzero_explicit(sigma, sizeof(sigma));
}

/* One seal or unseal, all under one key: interrupts off, inside kernel_fpu_begin(). */
static void rc_seal_crypt(struct rc_seal_work *w)
{
	u8 kid[RC_SEAL_KID_LEN], iv[16];

	rc_seal_key_id(kid);
	if (w->decrypt) {
		w->key_mismatch = memcmp(kid, w->blob + RC_SEAL_KID, sizeof(kid)) != 0;
		if (w->key_mismatch)
			return;
		rc_seal_iv(iv, RC_DOM_ENC, w->blob + RC_SEAL_TAG, 0);
		rc_xts_crypt(w->in + RC_SEAL_HDR, w->blob + RC_SEAL_CT, w->padded, iv, 1);
		rc_seal_mac(w, w->tag);
	} else {
		memcpy(w->in + RC_SEAL_KID, kid, sizeof(kid));
		rc_seal_mac(w, w->tag);
		rc_seal_iv(iv, RC_DOM_ENC, w->tag, 0);
		rc_xts_crypt(w->blob + RC_SEAL_CT, w->in + RC_SEAL_HDR, w->padded, iv, 0);
	}
}

static void rc_seal_crypt_cb(void *arg)
{
	rc_seal_crypt(arg);
}

/*
 * Run rc_seal_crypt() between two key checks on this CPU, in one interrupts-off
 * section (rc_cipher_run_checked): a clobbered CPU is healed and the work done
 * again (its inputs are intact: nothing is computed in place).
 */
static bool rc_seal_try(struct rc_seal_work *w)
{
	return rc_cipher_run_checked(rc_seal_crypt_cb, w);
}

static int rc_seal_run(struct rc_seal_work *w)
{
	if (!rc_keystore_usable())
		return -EKEYREVOKED;
	if (likely(rc_seal_try(w)))
		return 0;
	if (rc_keystore_heal_this_cpu())
		return -EKEYREVOKED;
	return rc_seal_try(w) ? 0 : -EKEYREVOKED;
}

/* Constant time: the tag must not be learned byte by byte. */
static bool rc_seal_tag_ok(const u8 a[16], const u8 b[16])
{
	u8 d = 0;
	int i;

	for (i = 0; i < 16; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

long rc_seal_ioctl(void __user *arg)
{
	struct ramcrypt_seal s;
	struct rc_seal_work *w;
	u64 need;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	if (s.flags || memchr_inv(s.reserved, 0, sizeof(s.reserved)) || !s.secret ||
	    !s.blob || !s.secret_len || s.secret_len > RAMCRYPT_SEAL_MAX)
		return -EINVAL;
	need = RAMCRYPT_SEAL_BLOB_LEN(s.secret_len);
	if (s.blob_len < need) {
		s.blob_len = need;
		return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : -ENOSPC;
	}

	w = kvzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	w->padded = round_up(s.secret_len, 16);
	if (copy_from_user(w->in + RC_SEAL_HDR, u64_to_user_ptr(s.secret), s.secret_len)) {
		ret = -EFAULT;
		goto out;
	}
	put_unaligned_le32(RC_SEAL_MAGIC, w->in);
	w->in[4] = RC_SEAL_VERSION;
	w->in[5] = 0;
	put_unaligned_le16(s.secret_len, w->in + 6);
	get_random_bytes(w->in + RC_SEAL_NONCE, 16);
	ret = rc_seal_run(w);
	if (ret)
		goto out;
	memcpy(w->blob, w->in, RC_SEAL_HDR);
	memcpy(w->blob + RC_SEAL_TAG, w->tag, 16);
	if (copy_to_user(u64_to_user_ptr(s.blob), w->blob, need)) {
		ret = -EFAULT;
		goto out;
	}
	s.blob_len = need;
	if (copy_to_user(arg, &s, sizeof(s)))
		ret = -EFAULT;
out:
	kvfree_sensitive(w, sizeof(*w));
	return ret;
}

/*
 * The secret goes only into private memory of the caller that ramcrypt protects: a
 * shared or special mapping would put it where the page engine never encrypts it.
 * Checked before the copy; a thread of the caller that remaps the buffer in between
 * only hurts the caller, whose secret it is.
 */
static int rc_unseal_dest_ok(unsigned long addr, unsigned long len)
{
	struct mm_struct *mm = current->mm;
	unsigned long end = addr + len;
	struct vm_area_struct *vma;
	int ret = 0;

	if (end < addr)
		return -EFAULT;
	mmap_read_lock(mm);
	while (addr < end) {
		vma = vma_lookup(mm, addr);
		if (!vma) {
			ret = -EFAULT;
			break;
		}
		if (!rc_pages_vma_eligible(vma)) {
			ret = -EINVAL;
			break;
		}
		addr = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

long rc_unseal_ioctl(void __user *arg)
{
	struct ramcrypt_unseal u;
	struct rc_seal_work *w;
	u64 len;
	int ret;

	if (copy_from_user(&u, arg, sizeof(u)))
		return -EFAULT;
	if (u.flags || memchr_inv(u.reserved, 0, sizeof(u.reserved)) || !u.blob ||
	    !u.secret || !u.blob_len || u.blob_len > RAMCRYPT_SEAL_BLOB_MAX)
		return -EINVAL;
	if (!current->mm || !rc_procs_mm_protected(current->mm))
		return -EPERM;

	w = kvzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	if (copy_from_user(w->blob, u64_to_user_ptr(u.blob), u.blob_len)) {
		ret = -EFAULT;
		goto out;
	}
	/* Anything that does not parse is not a blob of ours: -EBADMSG, as a bad tag. */
	len = u.blob_len >= RC_SEAL_CT ? get_unaligned_le16(w->blob + 6) : 0;
	if (u.blob_len < RC_SEAL_CT || get_unaligned_le32(w->blob) != RC_SEAL_MAGIC ||
	    w->blob[4] != RC_SEAL_VERSION || w->blob[5] || !len || len > RAMCRYPT_SEAL_MAX ||
	    u.blob_len != RAMCRYPT_SEAL_BLOB_LEN(len)) {
		ret = -EBADMSG;
		goto out;
	}
	if (u.secret_len < len) {
		u.secret_len = len;
		ret = copy_to_user(arg, &u, sizeof(u)) ? -EFAULT : -ENOSPC;
		goto out;
	}
	ret = rc_unseal_dest_ok(u.secret, len);
	if (ret)
		goto out;

	w->padded = round_up(len, 16);
	w->decrypt = true;
	memcpy(w->in, w->blob, RC_SEAL_HDR);
	ret = rc_seal_run(w);
	if (ret)
		goto out;
	if (w->key_mismatch) {
		ret = -EKEYREJECTED;
		goto out;
	}
	if (!rc_seal_tag_ok(w->tag, w->blob + RC_SEAL_TAG)) {
		ret = -EBADMSG;
		goto out;
	}
	if (copy_to_user(u64_to_user_ptr(u.secret), w->in + RC_SEAL_HDR, len)) {
		ret = -EFAULT;
		goto out;
	}
	u.secret_len = len;
	if (copy_to_user(arg, &u, sizeof(u)))
		ret = -EFAULT;
out:
	kvfree_sensitive(w, sizeof(*w));
	return ret;
}
