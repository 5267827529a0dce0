/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page engine: moves private anonymous pages of a process between plaintext system
 * memory and ciphertext held behind device-private (HMM) pages. See
 * docs/PAGE_ENGINE.md.
 */
#ifndef RAMCRYPT_PAGES_H
#define RAMCRYPT_PAGES_H

#include <linux/atomic.h>
#include <linux/mm_types.h>
#include <linux/uidgid.h>
#include <uapi/linux/ramcrypt.h>

struct rc_user;

/* Event counters; one set per protected mm and one global set (rc_pages_global). */
struct rc_pstats {
	atomic_long_t encryptions;
	atomic_long_t decryptions;
	atomic_long_t scanner_pages;
	atomic_long_t skipped_pinned;
	atomic_long_t skipped_shared;
	atomic_long_t skipped_swapcache;
	atomic_long_t degraded_events;
	atomic_long_t wiped_at_exit;
	struct rc_user *user;	/* whose ciphertext pages these are; NULL: global */
};

extern struct rc_pstats rc_pages_global;

/* Global ciphertext cap in pages (sysctl ciphertext_cap_pages). */
extern unsigned long rc_pages_cap;
/* Cap per user, 0: none (sysctl ciphertext_cap_pages_per_user). */
extern unsigned long rc_pages_cap_user;
/*
 * The ciphertext account of a user (the real uid of a process when it is
 * protected): found or made, kept until the module unloads. NULL without memory.
 */
struct rc_user *rc_user_get(kuid_t uid);

int rc_pages_init(void);
void rc_pages_uninit(void);

/*
 * The mm of vma has no users left: zero the plaintext pages only it maps, before
 * they go back to the allocator. Adds to *wiped, and to *left those it must leave.
 */
void rc_pages_wipe(struct vm_area_struct *vma, unsigned long *wiped,
		   unsigned long *left);

/* May pages of this VMA be encrypted? (private, not special, not hugetlb) */
bool rc_pages_vma_eligible(struct vm_area_struct *vma);

/*
 * Is addr mapped by a transparent huge page? One fault then made 512 pages
 * present; the caller encrypts those outside the window. mmap lock held.
 */
bool rc_pages_is_huge(struct vm_area_struct *vma, unsigned long addr);

/*
 * Encrypt the present anonymous pages of [start, end) (inside vma). The caller holds
 * mmap_read_lock(vma->vm_mm) and may sleep. st (may be NULL) gets the per-mm events,
 * rc_pages_global always. Returns the number of pages encrypted. Plaintext pages
 * that could not be moved are added to *left by cause, or, with left NULL, counted
 * in st's skipped_* counters.
 */
struct rc_left {
	unsigned long pinned;		/* extra references (pins, pipes, DMA) or a lock */
	unsigned long shared;		/* another mm maps it too: the COW break failed */
	unsigned long swapcache;	/* in the swap cache: migrate_vma refuses it */
};

static inline unsigned long rc_left_total(const struct rc_left *l)
{
	return l->pinned + l->shared + l->swapcache;
}

/* Add l to st's skipped_* counters (and the global ones). */
void rc_pages_count_left(struct rc_pstats *st, const struct rc_left *l);

unsigned long rc_pages_encrypt(struct vm_area_struct *vma, unsigned long start,
			       unsigned long end, struct rc_pstats *st,
			       struct rc_left *left);
/* Decrypt every ramcrypt page of [start, end) back to plaintext; same rules. */
unsigned long rc_pages_decrypt(struct vm_area_struct *vma, unsigned long start,
			       unsigned long end, struct rc_pstats *st);
/* Add up plaintext anonymous and ciphertext pages of [start, end) (mmap lock held). */
void rc_pages_count(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end, unsigned long *plain, unsigned long *cipher);

/* Ciphertext pages in use, all processes. */
unsigned long rc_pages_in_use(void);
/* Device-private memory added so far, in pages. */
unsigned long rc_pages_device_pages(void);

#endif
