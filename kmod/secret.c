// SPDX-License-Identifier: GPL-2.0
/*
 * Secret regions: address ranges a protected process marks as holding its secrets
 * (RAMCRYPT_IOC_SECRET_REGION). Their pages have a window of their own, the secret
 * tier, a few pages, while every other page shares the ordinary window
 * (docs/PAGE_ENGINE.md, "Two tiers").
 *
 * The regions are address ranges, not properties of a VMA: a module cannot tag a
 * VMA, and the mmu_notifier that sees munmap and mremap does not say where a
 * mapping moved to. So a mark stays after munmap (a later mapping at that address
 * is secret too, which errs on the safe side) and does not follow mremap.
 */
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "pages.h"
#include "procs.h"
#include "rc_mm.h"

/*
 * Executable pages stay in the ordinary tier even inside a region: the secret
 * tier then holds data only, and its minimum (RAMCRYPT_MIN_SECRET_WINDOW) counts
 * the data pages of one instruction, not its code. Shadow-stack pages likewise:
 * a call would add one to the operand and stack pages of a secret stack.
 */
static bool rc_vma_secret_ok(struct vm_area_struct *vma)
{
#ifdef VM_SHADOW_STACK
	if (vma->vm_flags & VM_SHADOW_STACK)
		return false;
#endif
	return !(vma->vm_flags & VM_EXEC);
}

/* Does the page at addr of vma belong to the secret tier? rc->lock held. */
bool rc_secret_page(struct rc_mm *rc, struct vm_area_struct *vma, unsigned long addr)
{
	struct rc_regions *rs = rcu_dereference_protected(rc->secret,
							  lockdep_is_held(&rc->lock));
	unsigned int lo = 0, hi, mid;

	if (!rs || !rc_vma_secret_ok(vma))
		return false;
	hi = rs->nr;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (addr < rs->r[mid].start)
			hi = mid;
		else if (addr >= rs->r[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* A copy of *src for a fork child: NULL if there is none, ERR_PTR without memory. */
struct rc_regions *rc_regions_dup(struct rc_regions __rcu **src, gfp_t gfp)
{
	struct rc_regions *rs, *copy = NULL;

	rcu_read_lock();
	rs = rcu_dereference(*src);
	if (rs) {
		copy = kmemdup(rs, struct_size(rs, r, rs->nr), gfp);
		if (!copy)
			copy = ERR_PTR(-ENOMEM);
	}
	rcu_read_unlock();
	return copy;
}

/*
 * old with [start, end) added: ranges that overlap or touch it merge into one.
 * -ENOSPC beyond RAMCRYPT_SECRET_REGIONS_MAX.
 */
static struct rc_regions *rc_regions_add(struct rc_regions *old, unsigned long start,
					 unsigned long end)
{
	unsigned int n = old ? old->nr : 0, i, k = 0;
	struct rc_regions *rs;
	bool placed = false;

	rs = kmalloc(struct_size(rs, r, n + 1), GFP_KERNEL);
	if (!rs)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < n; i++) {
		struct rc_range r = old->r[i];

		if (r.end < start) {
			rs->r[k++] = r;
		} else if (r.start > end) {
			if (!placed) {
				rs->r[k++] = (struct rc_range){ start, end };
				placed = true;
			}
			rs->r[k++] = r;
		} else {
			start = min(start, r.start);
			end = max(end, r.end);
		}
	}
	if (!placed)
		rs->r[k++] = (struct rc_range){ start, end };
	rs->nr = k;
	if (k > RAMCRYPT_SECRET_REGIONS_MAX) {
		kfree(rs);
		return ERR_PTR(-ENOSPC);
	}
	return rs;
}

/*
 * Every page of [start, end) mapped, by VMAs ramcrypt encrypts? -ENOMEM for a hole
 * (as mprotect and madvise say), -EINVAL for memory that is never encrypted
 * (shared, special, a file mapping never written): marking it would promise what
 * the page engine cannot keep. mmap_lock held.
 */
static int rc_range_check(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma;

	while (start < end) {
		vma = find_vma(mm, start);
		if (!vma || vma->vm_start > start)
			return -ENOMEM;
		if (!rc_pages_vma_eligible(vma))
			return -EINVAL;
		start = vma->vm_end;
	}
	return 0;
}

int rc_procs_secret_region(u64 addr, u64 len)
{
	struct mm_struct *mm = current->mm;
	struct rc_regions *old, *rs;
	unsigned long start, end;
	struct rc_mm *rc;
	int ret;

	if (!len || offset_in_page(addr) || addr >= TASK_SIZE_MAX ||
	    len > TASK_SIZE_MAX - addr)
		return -EINVAL;
	start = addr;
	end = PAGE_ALIGN(addr + len);
	if (end > TASK_SIZE_MAX || !mm)
		return -EINVAL;
	/* Only a protected process: its secret tier is what the mark is for. */
	rc = rc_mm_get(mm);
	if (!rc)
		return -EPERM;
	mutex_lock(&rc->lock);
	ret = -EPERM;
	if (READ_ONCE(rc->dead))
		goto out;
	mmap_read_lock(mm);
	ret = rc_range_check(mm, start, end);
	if (ret)
		goto out_mm;
	old = rcu_dereference_protected(rc->secret, lockdep_is_held(&rc->lock));
	rs = rc_regions_add(old, start, end);
	ret = PTR_ERR_OR_ZERO(rs);
	if (ret)
		goto out_mm;
	rcu_assign_pointer(rc->secret, rs);
	if (old)
		kfree_rcu(old, rcu);
	/*
	 * A page is in one tier only: the range's pages leave the ordinary window and
	 * are encrypted now; the next touch brings each into the secret window.
	 */
	rc_fifo_drop_range(&rc->win[RC_TIER_ORD], start, end);
	rc_mm_pass(rc, mm, start, end);
out_mm:
	mmap_read_unlock(mm);
out:
	mutex_unlock(&rc->lock);
	rc_mm_put(rc);
	return ret;
}

/*
 * Add to *plain the plaintext pages of mm in the secret tier (in a region, not
 * executable), measured in the page tables. rc->lock held; takes the mmap_lock.
 * Returns the number of regions.
 */
unsigned int rc_secret_measure(struct rc_mm *rc, struct mm_struct *mm, unsigned long *plain)
{
	struct rc_regions *rs = rcu_dereference_protected(rc->secret,
							  lockdep_is_held(&rc->lock));
	unsigned long cipher = 0, addr;
	struct vm_area_struct *vma;
	unsigned int i;

	if (!rs)
		return 0;
	mmap_read_lock(mm);
	for (i = 0; i < rs->nr; i++) {
		addr = rs->r[i].start;
		while ((vma = find_vma(mm, addr)) && vma->vm_start < rs->r[i].end) {
			unsigned long s = max(addr, vma->vm_start);
			unsigned long e = min(rs->r[i].end, vma->vm_end);

			addr = vma->vm_end;
			if (rc_pages_vma_eligible(vma) && rc_vma_secret_ok(vma))
				rc_pages_count(vma, s, e, plain, &cipher);
		}
	}
	mmap_read_unlock(mm);
	return rs->nr;
}
