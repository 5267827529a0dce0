// SPDX-License-Identifier: GPL-2.0
/*
 * Page engine. An encrypted page is a device-private (HMM) page in the process's
 * page table: the CPU cannot map it, any touch faults into rc_migrate_to_ram().
 * The device page's zone_device_data points to a system page holding the
 * ciphertext; the tweak of that encryption is kept in the ciphertext page's
 * page_private. Encrypting migrates a plaintext page to such a device page
 * (migrate_vma_*, MIGRATE_VMA_SELECT_SYSTEM) and zeroes the plaintext page before
 * the migration code frees it; decrypting migrates back
 * (MIGRATE_VMA_SELECT_DEVICE_PRIVATE) into a fresh page. Device-private memory is
 * added in chunks on demand, as lib/test_hmm.c does. See docs/PAGE_ENGINE.md.
 */
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mmu_notifier.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swapops.h>

#include "cipher.h"
#include "compat.h"
#include "keystore.h"
#include "pages.h"
#include "procs.h"
#include "profile.h"

#define RC_CHUNK_BYTES	(64UL << 20)
#define RC_CHUNK_PAGES	(RC_CHUNK_BYTES >> PAGE_SHIFT)
#define RC_MAX_CHUNKS	256	/* 16 GiB of ciphertext */
#define RC_BATCH	32	/* pages per migrate_vma call (two arrays on the stack) */

struct rc_chunk {
	struct dev_pagemap pagemap;
};

static const struct dev_pagemap_ops rc_devmem_ops;

/* migrate_vma uses pgmap->owner to pick our device-private pages only. */
#define RC_OWNER	((void *)&rc_devmem_ops)

static DEFINE_MUTEX(rc_chunks_lock);	/* rc_chunks[], rc_nr_chunks: growth, teardown */
static struct rc_chunk *rc_chunks[RC_MAX_CHUNKS];
static unsigned int rc_nr_chunks;

/*
 * Free device pages, linked through zone_device_data. page_free can run wherever
 * the last reference of a page is dropped (under a page table lock, for one), so
 * this is an irq-safe spinlock and nothing else is done under it.
 */
static DEFINE_SPINLOCK(rc_free_lock);
static struct page *rc_free_pages;

static atomic_long_t rc_ct_pages;	/* ciphertext pages allocated */
struct rc_pstats rc_pages_global;
unsigned long rc_pages_cap;
unsigned long rc_pages_cap_user;

/*
 * Ciphertext pages per user, so that one user reaching the global cap cannot leave
 * every other user's pages plaintext. A ciphertext page names its account in its
 * struct page's index (free in a page that is in no page cache), for page_free.
 */
struct rc_user {
	struct hlist_node node;
	kuid_t uid;
	atomic_long_t pages;
};

static DEFINE_SPINLOCK(rc_users_lock);
static HLIST_HEAD(rc_users);

struct rc_user *rc_user_get(kuid_t uid)
{
	struct rc_user *u, *fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);

	spin_lock(&rc_users_lock);
	hlist_for_each_entry(u, &rc_users, node)
		if (uid_eq(u->uid, uid))
			goto out;
	u = fresh;
	fresh = NULL;
	if (u) {
		u->uid = uid;
		hlist_add_head(&u->node, &rc_users);
	}
out:
	spin_unlock(&rc_users_lock);
	kfree(fresh);
	return u;
}

static void rc_users_free(void)
{
	struct hlist_node *tmp;
	struct rc_user *u;

	hlist_for_each_entry_safe(u, tmp, &rc_users, node) {
		WARN_ON(atomic_long_read(&u->pages));
		hlist_del(&u->node);
		kfree(u);
	}
}

/* Charge one ciphertext page to user: false over the user's cap. */
static bool rc_user_charge(struct rc_user *u)
{
	unsigned long cap = READ_ONCE(rc_pages_cap_user);

	if (!u)
		return true;
	if (atomic_long_inc_return(&u->pages) > cap && cap) {
		atomic_long_dec(&u->pages);
		return false;
	}
	return true;
}

static inline void rc_stat_inc(struct rc_pstats *st, size_t off, long n)
{
	atomic_long_add(n, (atomic_long_t *)((char *)&rc_pages_global + off));
	if (st)
		atomic_long_add(n, (atomic_long_t *)((char *)st + off));
}

#define rc_count(st, field, n) \
	rc_stat_inc(st, offsetof(struct rc_pstats, field), n)

static bool rc_is_our_page(struct page *page)
{
	return is_device_private_page(page) && page->pgmap->ops == &rc_devmem_ops;
}

/* ---- device-private memory ---- */

static int rc_add_chunk(void)
{
	struct rc_chunk *chunk;
	struct resource *res;
	unsigned long pfn, first, last, flags;
	void *ptr;
	int ret = 0;

	mutex_lock(&rc_chunks_lock);
	if (READ_ONCE(rc_free_pages))
		goto out;	/* someone else added one meanwhile */
	ret = -ENOSPC;
	if (rc_nr_chunks == RC_MAX_CHUNKS)
		goto out;
	ret = -ENOMEM;
	chunk = kzalloc(sizeof(*chunk), GFP_KERNEL);
	if (!chunk)
		goto out;
	res = request_free_mem_region(&iomem_resource, RC_CHUNK_BYTES, "ramcrypt");
	if (IS_ERR(res)) {
		ret = PTR_ERR(res);
		goto err_free;
	}
	chunk->pagemap.type = MEMORY_DEVICE_PRIVATE;
	chunk->pagemap.range.start = res->start;
	chunk->pagemap.range.end = res->end;
	chunk->pagemap.nr_range = 1;
	chunk->pagemap.ops = &rc_devmem_ops;
	chunk->pagemap.owner = RC_OWNER;
	ptr = memremap_pages(&chunk->pagemap, numa_node_id());
	if (IS_ERR_OR_NULL(ptr)) {
		ret = ptr ? PTR_ERR(ptr) : -EFAULT;
		goto err_region;
	}
	rc_chunks[rc_nr_chunks++] = chunk;

	first = chunk->pagemap.range.start >> PAGE_SHIFT;
	last = first + RC_CHUNK_PAGES;
	spin_lock_irqsave(&rc_free_lock, flags);
	for (pfn = first; pfn < last; pfn++) {
		struct page *page = pfn_to_page(pfn);

		page->zone_device_data = rc_free_pages;
		rc_free_pages = page;
	}
	spin_unlock_irqrestore(&rc_free_lock, flags);
	ret = 0;
	goto out;

err_region:
	release_mem_region(res->start, resource_size(res));
err_free:
	kfree(chunk);
out:
	mutex_unlock(&rc_chunks_lock);
	return ret;
}

/* A locked device page with one reference (zone_device_page_init), or NULL. */
static struct page *rc_devpage_alloc(void)
{
	unsigned long flags;
	struct page *page;

	for (;;) {
		spin_lock_irqsave(&rc_free_lock, flags);
		page = rc_free_pages;
		if (page)
			rc_free_pages = page->zone_device_data;
		spin_unlock_irqrestore(&rc_free_lock, flags);
		if (page)
			break;
		if (rc_add_chunk())
			return NULL;
	}
	page->zone_device_data = NULL;
	zone_device_page_init(page);
	return page;
}

/* dev_pagemap_ops.page_free: the last reference to an encrypted page is gone. */
static void rc_page_free(struct page *page)
{
	struct page *ct = page->zone_device_data;
	unsigned long flags;

	if (ct) {
		struct rc_user *u = (struct rc_user *)ct->index;

		if (u)
			atomic_long_dec(&u->pages);
		ct->index = 0;
		set_page_private(ct, 0);
		__free_page(ct);
		atomic_long_dec(&rc_ct_pages);
	}
	spin_lock_irqsave(&rc_free_lock, flags);
	page->zone_device_data = rc_free_pages;
	rc_free_pages = page;
	spin_unlock_irqrestore(&rc_free_lock, flags);
}

/* ---- page table inspection (mmap_lock held) ---- */

enum rc_kind { RC_PLAIN, RC_CIPHER };
/*
 * Called for each plaintext anonymous or ramcrypt ciphertext entry; page is the
 * (head) page mapped at addr. true stops the walk.
 */
typedef bool (*rc_walk_fn)(enum rc_kind kind, unsigned long addr, unsigned long nr,
			   struct page *page, void *arg);

/*
 * A module cannot walk page tables itself on every kernel it builds for: 6.12 no
 * longer exports the PTE-level helpers (__pte_offset_map_lock). It reads them the
 * way device drivers do, with hmm_range_fault() asking for no faults: a snapshot
 * of what is present, our device-private entries reported by pfn (dev_private_owner).
 * hmm_range_fault() wants an mmu_interval_notifier for the mm and checks its
 * sequence for invalidations; a snapshot under the mmap_lock is all we need (every
 * user re-checks under migrate_vma), so a notifier that is never inserted, and so
 * never invalidated, serves.
 */
#define RC_WALK_CHUNK	64

static unsigned long rc_walk_hmm(struct vm_area_struct *vma, unsigned long addr,
				 unsigned long end, rc_walk_fn fn, void *arg)
{
	struct mmu_interval_notifier mni = { .mm = vma->vm_mm };
	unsigned long pfns[RC_WALK_CHUNK];
	struct hmm_range range = {
		.notifier = &mni,
		.hmm_pfns = pfns,
		.dev_private_owner = RC_OWNER,
	};

	while (addr < end) {
		unsigned long i, n;

		range.start = addr;
		range.end = min(end, addr + RC_WALK_CHUNK * PAGE_SIZE);
		n = (range.end - range.start) >> PAGE_SHIFT;
		if (hmm_range_fault(&range))
			return end;	/* nothing we could act on */
		for (i = 0; i < n; i++) {
			unsigned long a = range.start + (i << PAGE_SHIFT), nr = 1;
			struct page *page;

			if (!(pfns[i] & HMM_PFN_VALID))
				continue;
			page = hmm_pfn_to_page(pfns[i]);
			if (is_device_private_page(page)) {
				if (rc_is_our_page(page) && fn(RC_CIPHER, a, 1, page, arg))
					return a;
				continue;
			}
			if (is_zero_pfn(page_to_pfn(page)) || !PageAnon(page))
				continue;
			if (hmm_pfn_to_map_order(pfns[i])) {
				/* PMD-mapped THP: one call for the rest of it. */
				unsigned long size = PAGE_SIZE << hmm_pfn_to_map_order(pfns[i]);

				nr = min(ALIGN(a + 1, size), range.end) - a;
				nr >>= PAGE_SHIFT;
				page = compound_head(page);
			}
			if (fn(RC_PLAIN, a, nr, page, arg))
				return a;
			i += nr - 1;
		}
		addr = range.end;
	}
	return end;
}

/*
 * hmm_range_fault() skips a VMA without VM_READ (PROT_NONE, as after
 * sodium_mprotect_noaccess() on a key): look at its pages one at a time with GUP,
 * which FOLL_FORCE lets read there and FOLL_NOFAULT keeps from faulting anything in.
 * Encrypted pages are not seen this way; they are not what the callers look for.
 */
static unsigned long rc_walk_gup(struct vm_area_struct *vma, unsigned long addr,
				 unsigned long end, rc_walk_fn fn, void *arg)
{
	for (; addr < end; addr += PAGE_SIZE) {
		struct page *page;
		bool stop;

		if (rc_get_user_page_remote(vma->vm_mm, addr, FOLL_FORCE | FOLL_NOFAULT, &page) != 1)
			continue;
		stop = !is_zero_pfn(page_to_pfn(page)) && PageAnon(page) &&
		       fn(RC_PLAIN, addr, 1, page, arg);
		put_page(page);
		if (stop)
			return addr;
	}
	return end;
}

/*
 * Walk the present pages of vma over [addr, end), calling fn for each plaintext
 * anonymous page or run of a huge page, and each of our ciphertext pages. The
 * caller holds the mmap_lock. Returns the address where fn stopped the walk, or end.
 */
static unsigned long rc_walk(struct vm_area_struct *vma, unsigned long addr,
			     unsigned long end, rc_walk_fn fn, void *arg)
{
	if (!vma->anon_vma)
		return end;	/* no anonymous page was ever here */
	if (vma->vm_flags & VM_READ)
		return rc_walk_hmm(vma, addr, end, fn, arg);
	return rc_walk_gup(vma, addr, end, fn, arg);
}

struct rc_counts {
	unsigned long plain, cipher;
};

static bool rc_count_fn(enum rc_kind kind, unsigned long addr, unsigned long nr,
			struct page *page, void *arg)
{
	struct rc_counts *c = arg;

	if (kind == RC_PLAIN)
		c->plain += nr;
	else
		c->cipher += nr;
	return false;
}

void rc_pages_count(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end, unsigned long *plain, unsigned long *cipher)
{
	struct rc_counts c = {};

	rc_walk(vma, max(start, vma->vm_start), min(end, vma->vm_end),
		rc_count_fn, &c);
	*plain += c.plain;
	*cipher += c.cipher;
}

static bool rc_plain_fn(enum rc_kind kind, unsigned long addr, unsigned long nr,
			struct page *page, void *arg)
{
	return kind == RC_PLAIN;
}

bool rc_pages_is_huge(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return false;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return false;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || !pud_present(*pud) || pud_bad(*pud))
		return false;
	return pmd_trans_huge(READ_ONCE(*pmd_offset(pud, addr)));
}

bool rc_pages_vma_eligible(struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE | VM_SPECIAL | VM_HUGETLB))
		return false;
	if (vma_is_dax(vma))
		return false;
	/*
	 * A private file mapping holds anonymous pages only where it was written
	 * (COW); without an anon_vma it has none, and we must not make migrate_vma
	 * unmap its page-cache pages for nothing.
	 */
	return vma_is_anonymous(vma) || vma->anon_vma;
}

/* ---- wiping at exit ---- */

/* Zero a plaintext page before it goes back to the allocator. */
static void rc_wipe_page(struct page *page)
{
	void *p = kmap_local_page(page);

	rc_cipher_wipe_page(p);
	kunmap_local(p);
}

struct rc_wipe {
	struct mm_struct *mm;
	unsigned long wiped, left;
};

/*
 * The walk hands out pfns without references: GUP takes the page mapped at addr
 * now, with one. Only a page this mm alone can see is zeroed: not a COW page shared
 * with a fork child, a KSM page, a page in the swap cache (another mm's swap entry
 * may still lead to it), a large folio (6.12 only estimates its sharing) or a
 * pinned page; those are counted as left.
 */
static bool rc_wipe_fn(enum rc_kind kind, unsigned long addr, unsigned long nr,
		       struct page *unused, void *arg)
{
	struct rc_wipe *w = arg;
	struct page *page;

	if (kind != RC_PLAIN)
		return false;
	for (; nr; nr--, addr += PAGE_SIZE) {
		struct folio *folio;

		if (rc_get_user_page_remote(w->mm, addr, FOLL_FORCE | FOLL_NOFAULT, &page) != 1)
			continue;
		folio = page_folio(page);
		if (!folio_test_anon(folio) || folio_test_large(folio) ||
		    folio_test_ksm(folio) || folio_test_swapcache(folio) ||
		    rc_page_shared(page) || folio_maybe_dma_pinned(folio)) {
			w->left++;
		} else {
			rc_wipe_page(page);
			w->wiped++;
		}
		put_page(page);
	}
	return false;
}

void rc_pages_wipe(struct vm_area_struct *vma, unsigned long *wiped,
		   unsigned long *left)
{
	struct rc_wipe w = { .mm = vma->vm_mm };

	rc_walk(vma, vma->vm_start, vma->vm_end, rc_wipe_fn, &w);
	*wiped += w.wiped;
	*left += w.left;
}

/* ---- encryption ---- */

/*
 * Plaintext pages of this batch that another mm maps too (COW after fork, KSM).
 * migrate_vma unmaps a page from every mm that maps it (try_to_migrate) and puts the
 * device page into all of them: encrypting a shared page would plant our device
 * pages in a process that is not protected at all (a fork parent that never asked
 * for it), where nothing ever encrypts or frees them again until it exits or
 * touches them, and the module's page count never gets back to zero.
 */
struct rc_shared {
	unsigned long start;
	unsigned long mask;	/* bit i: the page at start + i pages is shared */
	unsigned long plain;	/* bit i: ... is a present plaintext page */
	unsigned long swapcache; /* bit i: ... is in the swap cache (for the counters) */
};

static bool rc_shared_fn(enum rc_kind kind, unsigned long addr, unsigned long nr,
			 struct page *page, void *arg)
{
	struct rc_shared *sh = arg;
	unsigned long i;

	if (kind != RC_PLAIN)
		return false;
	/* A PMD-mapped THP (nr > 1): one answer for the head and all its pages. */
	for (i = 0; i < nr; i++) {
		unsigned long bit = 1UL << (((addr - sh->start) >> PAGE_SHIFT) + i);

		sh->plain |= bit;
		if (rc_page_shared(page))
			sh->mask |= bit;
		/* No reference held: a snapshot, good enough to name a cause. */
		if (folio_test_swapcache(page_folio(page)))
			sh->swapcache |= bit;
	}
	return false;
}

/*
 * Give this mm its own copy of every shared page of [start, start + RC_BATCH
 * pages) (a write fault through GUP: the kernel's COW break, as ptrace's poke
 * does), so that only this mm's mapping is encrypted and the other mm keeps its
 * plaintext page, exactly as without ramcrypt. Returns the pages that are still
 * shared (the COW break failed); those are left alone. *plain: the present
 * plaintext pages of the range, *swapcache those in the swap cache. mmap_lock held
 * for read, which also keeps this mm
 * from forking and sharing a page again meanwhile.
 */
static unsigned long rc_unshare(struct vm_area_struct *vma, unsigned long start,
				unsigned long end, unsigned long *plain,
				unsigned long *swapcache)
{
	struct rc_shared sh = { .start = start };
	unsigned long left = 0, i;

	rc_walk(vma, start, end, rc_shared_fn, &sh);
	*plain = sh.plain;
	*swapcache = sh.swapcache;
	for (i = 0; sh.mask >> i; i++) {
		unsigned long addr = start + (i << PAGE_SHIFT);
		struct page *page;

		if (!(sh.mask & (1UL << i)))
			continue;
		if (rc_get_user_page_remote(vma->vm_mm, addr, FOLL_WRITE | FOLL_FORCE, &page) == 1) {
			bool still = rc_page_shared(page);

			put_page(page);
			if (!still)
				continue;
		}
		left |= 1UL << i;
	}
	return left;
}

/*
 * Fill args->dst with ciphertext device pages for the anonymous source pages,
 * except those whose bit is set in skip (still shared with another mm) and, where
 * migrate_vma_pages() would refuse them (RC_MIGRATE_FREES_SWAPCACHE), those in the
 * swap cache: both are added to *l, no ciphertext made for nothing.
 */
static void rc_encrypt_batch(struct migrate_vma *args, unsigned long skip,
			     struct rc_pstats *st, struct rc_left *l)
{
	unsigned long i;

	for (i = 0; i < args->npages; i++) {
		unsigned long src = args->src[i];
		struct page *spage, *dpage, *ct;
		void *s, *d;
		u64 tweak, t0;
		int err;

		if (!(src & MIGRATE_PFN_MIGRATE))
			continue;	/* counted by rc_pages_encrypt() */
		spage = migrate_pfn_to_page(src);
		/* Holes and the zero page hold no data; page cache is not ours. */
		if (!spage || !PageAnon(spage) || is_zone_device_page(spage))
			continue;
		/* Not ours alone: finalize maps it back everywhere, unchanged. */
		if ((skip & (1UL << i)) || PageKsm(spage)) {
			l->shared++;
			continue;
		}
		if (!RC_MIGRATE_FREES_SWAPCACHE && folio_test_swapcache(page_folio(spage))) {
			l->swapcache++;
			continue;
		}

		t0 = rc_prof_now();
		if (atomic_long_inc_return(&rc_ct_pages) > READ_ONCE(rc_pages_cap))
			goto degraded;
		if (!rc_user_charge(st ? st->user : NULL))
			goto degraded;
		/*
		 * Not __GFP_ACCOUNT: migrate_vma_pages() moves the source page's
		 * memcg charge to the device page (mem_cgroup_migrate), and that
		 * charge stands for this ciphertext page until page_free. Charging
		 * ct as well would count every encrypted page twice.
		 */
		ct = alloc_page(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
		if (!ct)
			goto uncharge;
		dpage = rc_devpage_alloc();
		if (!dpage) {
			__free_page(ct);
			goto uncharge;
		}
		/* From here on page_free owns ct and both counts. */
		ct->index = (unsigned long)(st ? st->user : NULL);
		dpage->zone_device_data = ct;
		rc_prof_add(RC_PROF_ENC_ALLOC, t0);

		t0 = rc_prof_now();
		tweak = rc_cipher_next_tweak();
		s = kmap_local_page(spage);
		d = kmap_local_page(ct);
		err = rc_cipher_encrypt_page(d, s, tweak);
		kunmap_local(d);
		kunmap_local(s);
		rc_prof_add(RC_PROF_ENC_CIPHER, t0);
		if (err) {
			unlock_page(dpage);
			put_page(dpage);
			rc_count(st, degraded_events, 1);
			continue;
		}
		set_page_private(ct, tweak);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			       (src & MIGRATE_PFN_WRITE);
		continue;
uncharge:
		if (st && st->user)
			atomic_long_dec(&st->user->pages);
degraded:
		atomic_long_dec(&rc_ct_pages);
		rc_count(st, degraded_events, 1);
	}
}

void rc_pages_count_left(struct rc_pstats *st, const struct rc_left *l)
{
	if (l->pinned)
		rc_count(st, skipped_pinned, l->pinned);
	if (l->shared)
		rc_count(st, skipped_shared, l->shared);
	if (l->swapcache)
		rc_count(st, skipped_swapcache, l->swapcache);
}

unsigned long rc_pages_encrypt(struct vm_area_struct *vma, unsigned long start,
			       unsigned long end, struct rc_pstats *st,
			       struct rc_left *left)
{
	unsigned long src[RC_BATCH], dst[RC_BATCH];
	unsigned long addr, next, skip, plain, swapcache, done = 0;
	struct rc_left l = {};
	u64 t0;

	lockdep_assert_held(&vma->vm_mm->mmap_lock);	/* mmap_assert_locked() needs dump_mm, not exported */
	if (!rc_pages_vma_eligible(vma))
		return 0;
	start = max(start, vma->vm_start);
	end = min(end, vma->vm_end);

	for (addr = start; addr < end; addr = next) {
		struct migrate_vma args = {
			.vma = vma,
			.src = src,
			.dst = dst,
			.pgmap_owner = RC_OWNER,
			.flags = MIGRATE_VMA_SELECT_SYSTEM,
		};
		unsigned long i;

		/* Skip straight to the next plaintext page: cheap on sparse VMAs. */
		t0 = rc_prof_now();
		addr = rc_walk(vma, addr, end, rc_plain_fn, NULL);
		if (addr >= end)
			break;
		next = min(end, addr + RC_BATCH * PAGE_SIZE);
		skip = rc_unshare(vma, addr, next, &plain, &swapcache);
		args.start = addr;
		args.end = next;
		rc_prof_add(RC_PROF_ENC_PREP, t0);
		t0 = rc_prof_now();
		if (migrate_vma_setup(&args))
			break;
		rc_prof_add(RC_PROF_ENC_SETUP, t0);
		/*
		 * A present plaintext page that migrate_vma did not select could not
		 * be locked, isolated or unmapped, or holds extra references (a pin
		 * by vmsplice, O_DIRECT, io_uring, RDMA, or just a moment's lock; the
		 * swap cache's reference, after a swap-in that kept the swap slot):
		 * 6.1 clears its entry without a word.
		 */
		for (i = 0; i < args.npages; i++) {
			if (!(plain & (1UL << i)) || (src[i] & MIGRATE_PFN_MIGRATE))
				continue;
			if (swapcache & (1UL << i))
				l.swapcache++;
			else
				l.pinned++;
		}
		rc_keystore_use_begin();
		rc_encrypt_batch(&args, skip, st, &l);
		rc_keystore_use_end();
		t0 = rc_prof_now();
		migrate_vma_pages(&args);
		rc_prof_add(RC_PROF_ENC_PAGES, t0);
		t0 = rc_prof_now();
		for (i = 0; i < args.npages; i++) {
			if (!args.dst[i])
				continue;
			if (!(args.src[i] & MIGRATE_PFN_MIGRATE)) {
				/*
				 * Lost a race (a new pin), or the swap slot could
				 * not be dropped; finalize frees dpage.
				 */
				if (swapcache & (1UL << i))
					l.swapcache++;
				else
					l.pinned++;
				continue;
			}
			/*
			 * The source page is unmapped, locked, isolated and freed
			 * by finalize: wipe the plaintext before it returns to the
			 * allocator.
			 */
			rc_wipe_page(migrate_pfn_to_page(args.src[i]));
			done++;
		}
		rc_prof_add(RC_PROF_ENC_CLEAR, t0);
		t0 = rc_prof_now();
		migrate_vma_finalize(&args);
		rc_prof_add(RC_PROF_ENC_FINAL, t0);
	}
	if (done)
		rc_count(st, encryptions, done);
	if (left) {
		left->pinned += l.pinned;
		left->shared += l.shared;
		left->swapcache += l.swapcache;
	} else {
		rc_pages_count_left(st, &l);
	}
	return done;
}

/* ---- decryption ---- */

/* Fill args->dst with fresh pages holding the plaintext. 0 or -errno. */
static int rc_decrypt_batch(struct migrate_vma *args, bool nofail)
{
	unsigned long i;
	int ret = 0;

	for (i = 0; i < args->npages; i++) {
		unsigned long src = args->src[i];
		unsigned long addr = args->start + (i << PAGE_SHIFT);
		struct page *spage, *dpage, *ct;
		void *s, *d;
		int err;
		u64 t0;

		spage = migrate_pfn_to_page(src);
		if (!spage || !(src & MIGRATE_PFN_MIGRATE))
			continue;
		if (WARN_ON_ONCE(!rc_is_our_page(spage)))
			continue;
		ct = spage->zone_device_data;
		t0 = rc_prof_now();
		if (args->vma)
			dpage = alloc_page_vma(GFP_HIGHUSER_MOVABLE, args->vma, addr);
		else
			dpage = alloc_page(GFP_HIGHUSER_MOVABLE |
					   (nofail ? __GFP_NOFAIL : 0));
		if (!dpage) {
			ret = -ENOMEM;
			continue;
		}
		lock_page(dpage);
		rc_prof_add(RC_PROF_M2R_ALLOC, t0);
		t0 = rc_prof_now();
		s = kmap_local_page(ct);
		d = kmap_local_page(dpage);
		err = rc_cipher_decrypt_page(d, s, page_private(ct));
		kunmap_local(d);
		kunmap_local(s);
		rc_prof_add(RC_PROF_M2R_CIPHER, t0);
		if (err) {
			if (!nofail) {
				clear_highpage(dpage);	/* whatever the cipher left */
				unlock_page(dpage);
				put_page(dpage);
				ret = err;
				continue;
			}
			/* Module unload with the key gone: the data is lost. */
			clear_highpage(dpage);
			ret = err;
		}
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			       (src & MIGRATE_PFN_WRITE);
	}
	return ret;
}

static unsigned long rc_count_migrated(struct migrate_vma *args)
{
	unsigned long i, n = 0;

	for (i = 0; i < args->npages; i++)
		if (args->dst[i] && (args->src[i] & MIGRATE_PFN_MIGRATE))
			n++;
	return n;
}

unsigned long rc_pages_decrypt(struct vm_area_struct *vma, unsigned long start,
			       unsigned long end, struct rc_pstats *st)
{
	unsigned long src[RC_BATCH], dst[RC_BATCH];
	unsigned long addr, next, done = 0;

	lockdep_assert_held(&vma->vm_mm->mmap_lock);	/* mmap_assert_locked() needs dump_mm, not exported */
	start = max(start, vma->vm_start);
	end = min(end, vma->vm_end);
	for (addr = start; addr < end; addr = next) {
		struct migrate_vma args = {
			.vma = vma,
			.src = src,
			.dst = dst,
			.pgmap_owner = RC_OWNER,
			.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		};

		next = min(end, addr + RC_BATCH * PAGE_SIZE);
		args.start = addr;
		args.end = next;
		if (migrate_vma_setup(&args))
			break;
		rc_keystore_use_begin();
		rc_decrypt_batch(&args, false);
		rc_keystore_use_end();
		migrate_vma_pages(&args);
		done += rc_count_migrated(&args);
		migrate_vma_finalize(&args);
	}
	if (done)
		rc_count(st, decryptions, done);
	return done;
}

/*
 * dev_pagemap_ops.migrate_to_ram: the CPU (or GUP) touched an encrypted page.
 * Called from do_swap_page() with the mmap_lock held for read and a reference on
 * vmf->page; no ramcrypt lock may be taken here (they nest outside mmap_lock).
 */
static vm_fault_t rc_migrate_to_ram(struct vm_fault *vmf)
{
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = RC_OWNER,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};
	unsigned long n;
	u64 t0 = rc_prof_now(), t1;
	int err;

	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	rc_prof_add(RC_PROF_M2R_SETUP, t0);
	rc_keystore_use_begin();
	err = rc_decrypt_batch(&args, false);
	rc_keystore_use_end();
	t1 = rc_prof_now();
	migrate_vma_pages(&args);
	rc_prof_add(RC_PROF_M2R_PAGES, t1);
	n = rc_count_migrated(&args);
	t1 = rc_prof_now();
	migrate_vma_finalize(&args);
	rc_prof_add(RC_PROF_M2R_FINAL, t1);
	rc_prof_add(RC_PROF_M2R, t0);
	if (n) {
		rc_count(NULL, decryptions, n);
		rc_procs_note_decrypt(vmf->vma->vm_mm, n);
	}
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	if (err)
		return VM_FAULT_SIGBUS;
	/* Not migrated (a racing fault did it): the fault is simply retried. */
	return 0;
}

static const struct dev_pagemap_ops rc_devmem_ops = {
	.page_free = rc_page_free,
	.migrate_to_ram = rc_migrate_to_ram,
};

/*
 * Migrate every page still allocated in a chunk back to system memory, whatever
 * process it belongs to (one whose protection was lost, say): memunmap_pages()
 * waits for all of them.
 */
static void rc_chunk_evict(struct rc_chunk *chunk)
{
	unsigned long first = chunk->pagemap.range.start >> PAGE_SHIFT;
	unsigned long *src, *dst;
	struct migrate_vma args = {};
	int err;

	src = kvcalloc(RC_CHUNK_PAGES, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(RC_CHUNK_PAGES, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	migrate_device_range(src, first, RC_CHUNK_PAGES);
	args.src = src;
	args.dst = dst;
	args.npages = RC_CHUNK_PAGES;
	err = rc_decrypt_batch(&args, true);	/* the caller holds the key's read side */
	if (err)
		pr_err("pages lost at unload: no CPU holds the key\n");
	migrate_device_pages(src, dst, RC_CHUNK_PAGES);
	migrate_device_finalize(src, dst, RC_CHUNK_PAGES);
	kvfree(src);
	kvfree(dst);
}

unsigned long rc_pages_in_use(void)
{
	return atomic_long_read(&rc_ct_pages);
}

unsigned long rc_pages_device_pages(void)
{
	return READ_ONCE(rc_nr_chunks) * RC_CHUNK_PAGES;
}

int rc_pages_init(void)
{
	/* Default cap: half of RAM; the sysctl changes it. */
	if (!rc_pages_cap)
		rc_pages_cap = totalram_pages() / 2;
	return 0;
}

void rc_pages_uninit(void)
{
	unsigned long flags;
	unsigned int i;

	/* Key first, then rc_chunks_lock: the order of rc_pages_encrypt() (lockdep). */
	rc_keystore_use_begin();
	mutex_lock(&rc_chunks_lock);
	for (i = 0; i < rc_nr_chunks; i++)
		rc_chunk_evict(rc_chunks[i]);
	spin_lock_irqsave(&rc_free_lock, flags);
	rc_free_pages = NULL;
	spin_unlock_irqrestore(&rc_free_lock, flags);
	for (i = 0; i < rc_nr_chunks; i++) {
		struct rc_chunk *chunk = rc_chunks[i];

		memunmap_pages(&chunk->pagemap);
		release_mem_region(chunk->pagemap.range.start,
				   range_len(&chunk->pagemap.range));
		kfree(chunk);
	}
	rc_nr_chunks = 0;
	mutex_unlock(&rc_chunks_lock);
	rc_keystore_use_end();
	WARN_ON(atomic_long_read(&rc_ct_pages));
	rc_users_free();
}
