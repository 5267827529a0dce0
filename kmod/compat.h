/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The differences between the kernels ramcrypt builds for (Debian's 6.1 and 6.12),
 * in one place. Every other file codes against the newer interface or the helper
 * here; nothing else tests LINUX_VERSION_CODE.
 */
#ifndef RAMCRYPT_COMPAT_H
#define RAMCRYPT_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>
#include <linux/pagevec.h>
#include <linux/sysctl.h>

/* 6.12 moved the unaligned accessors out of asm/. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* 6.11: sysctl handlers take a const table. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define rc_ctl_table const struct ctl_table
#else
#define rc_ctl_table struct ctl_table
#endif

/*
 * register_sysctl() needs an empty last entry before 6.6 and refuses one from 6.11
 * ("procname is null"): it sizes the table with ARRAY_SIZE instead.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
#define RC_SYSCTL_SENTINEL {}
#else
#define RC_SYSCTL_SENTINEL
#endif

/*
 * Does another mm map this anonymous page (COW after fork) or is it a KSM page?
 * 6.12 has no page_mapcount(); folio_likely_mapped_shared() is exact for small
 * anonymous folios and errs towards "shared" for large ones, which only costs an
 * unneeded COW break.
 */
static inline bool rc_page_shared(struct page *page)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	return folio_likely_mapped_shared(page_folio(page)) || PageKsm(page);
#else
	return page_mapcount(page) > 1 || PageKsm(page);
#endif
}

/*
 * Can migrate_vma move a page that is in the swap cache (read back from swap, slot
 * kept) to device memory? 6.12's migrate_vma_pages() drops the swap slot first
 * (folio_free_swap()); 6.1's refuses the page. Kernels between are treated as
 * refusing: the page stays plaintext and is counted as skipped_swapcache.
 */
#define RC_MIGRATE_FREES_SWAPCACHE (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0))

/* Fault in one page of another mm (6.5 dropped the vmas argument). */
static inline long rc_get_user_page_remote(struct mm_struct *mm, unsigned long addr,
					   unsigned int gup_flags, struct page **page)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL);
#else
	return get_user_pages_remote(mm, addr, 1, gup_flags, page, NULL, NULL);
#endif
}

/*
 * Put this CPU's LRU add batches on the LRU. lru_add_drain() is not exported;
 * releasing an empty batch drains first, through an exported function.
 */
static inline void rc_lru_add_drain(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	struct folio_batch fb;

	folio_batch_init(&fb);
	__folio_batch_release(&fb);
#else
	struct pagevec pv;

	pagevec_init(&pv);
	__pagevec_release(&pv);
#endif
}

#endif /* RAMCRYPT_COMPAT_H */
