// SPDX-License-Identifier: GPL-2.0
/*
 * The window of a protected mm: a FIFO of the most recently faulted plaintext
 * pages with a hash set beside it, its update on the way back to user space
 * (rc_mm_update), idle expiry, and the pass that encrypts every plaintext page
 * outside the window (docs/PAGE_ENGINE.md, "The window").
 */
#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "compat.h"
#include "pages.h"
#include "procs.h"
#include "profile.h"
#include "rc_mm.h"

/*
 * Every fault asks whether its page is already in the window, and every eviction
 * again: a hash set beside the FIFO keeps that O(1) where a scan of the FIFO costs
 * up to 2 x max_window (1024) compares per fault. Open addressing with linear
 * probing, at most half full; keys are addr | 1 (0: empty).
 */
static unsigned int rc_set_size(unsigned int window)
{
	return roundup_pow_of_two(2 * window);
}

/* fifo, fifo_time, sorted and set in one allocation; rc_mn_free() frees it through fifo. */
unsigned long *rc_window_alloc(unsigned int window)
{
	return kcalloc(3 * window + rc_set_size(window), sizeof(unsigned long),
		       GFP_KERNEL);
}

void rc_window_install(struct rc_mm *rc, unsigned long *buf,
			      unsigned int window)
{
	rc->fifo = buf;
	rc->sorted = buf + window;
	rc->fifo_time = buf + 2 * window;
	rc->set = buf + 3 * window;
	rc->set_bits = ilog2(rc_set_size(window));
	rc->fifo_head = 0;
	rc->window = window;
}

static unsigned int rc_set_slot(struct rc_mm *rc, unsigned long key)
{
	return hash_long(key >> PAGE_SHIFT, rc->set_bits);
}

static bool rc_fifo_contains(struct rc_mm *rc, unsigned long addr)
{
	unsigned int mask = (1U << rc->set_bits) - 1, i;
	unsigned long key = addr | 1;

	for (i = rc_set_slot(rc, key); rc->set[i]; i = (i + 1) & mask)
		if (rc->set[i] == key)
			return true;
	return false;
}

static void rc_set_add(struct rc_mm *rc, unsigned long addr)
{
	unsigned int mask = (1U << rc->set_bits) - 1, i;

	for (i = rc_set_slot(rc, addr | 1); rc->set[i]; i = (i + 1) & mask)
		;
	rc->set[i] = addr | 1;
}

/* Delete with backward shift, so that no probe chain is ever broken. */
static void rc_set_del(struct rc_mm *rc, unsigned long addr)
{
	unsigned int mask = (1U << rc->set_bits) - 1, i, j, home;
	unsigned long key = addr | 1;

	for (i = rc_set_slot(rc, key); rc->set[i] != key; i = (i + 1) & mask)
		if (WARN_ON_ONCE(!rc->set[i]))
			return;
	for (j = (i + 1) & mask; rc->set[j]; j = (j + 1) & mask) {
		home = rc_set_slot(rc, rc->set[j]);
		/* The entry at j may move to i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			rc->set[i] = rc->set[j];
			i = j;
		}
	}
	rc->set[i] = 0;
}

unsigned long rc_fifo_pop(struct rc_mm *rc)
{
	unsigned long addr = rc->fifo[rc->fifo_head];

	if (++rc->fifo_head == rc->window)
		rc->fifo_head = 0;
	rc->fifo_count--;
	rc_set_del(rc, addr);
	return addr;
}

void rc_fifo_push(struct rc_mm *rc, unsigned long addr)
{
	unsigned int i = rc->fifo_head + rc->fifo_count;

	if (i >= rc->window)
		i -= rc->window;
	rc->fifo[i] = addr;
	rc->fifo_time[i] = jiffies;
	rc->fifo_count++;
	rc_set_add(rc, addr);
}

/*
 * Idle expiry: drop from the window the pages that came in max_plain_age_ms ago or
 * more; the caller's pass then encrypts them. A page in use without faulting again
 * is dropped too and costs one window miss per max_plain_age_ms: whether a present
 * page was touched cannot be seen without a fault. So an idle process holds no
 * plaintext after max_plain_age_ms plus one scanner interval. rc->lock held.
 */
void rc_fifo_expire(struct rc_mm *rc)
{
	unsigned long age = msecs_to_jiffies(READ_ONCE(rc_max_plain_age_ms));

	if (!age)
		return;
	while (rc->fifo_count &&
	       time_after_eq(jiffies, rc->fifo_time[rc->fifo_head] + age))
		rc_fifo_pop(rc);
}

static int rc_cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Encrypt every plaintext page of mm outside the window. rc->lock and the mmap
 * lock are held. The window pages are left out of the migrate_vma ranges, so they
 * are not even unmapped for a moment.
 */
unsigned long rc_mm_pass(struct rc_mm *rc, struct mm_struct *mm,
				unsigned long addr, unsigned long end)
{
	unsigned long done = 0;
	struct vm_area_struct *vma;
	unsigned int n = rc->fifo_count, i, w = 0;

	for (i = 0; i < n; i++)
		rc->sorted[i] = rc->fifo[(rc->fifo_head + i) % rc->window];
	sort(rc->sorted, n, sizeof(rc->sorted[0]), rc_cmp_ulong, NULL);

	while ((vma = find_vma(mm, addr)) && vma->vm_start < end) {
		unsigned long start = max(addr, vma->vm_start);
		unsigned long stop = min(end, vma->vm_end);

		addr = vma->vm_end;
		if (!rc_pages_vma_eligible(vma))
			continue;
		for (; w < n && rc->sorted[w] < stop; w++) {
			if (rc->sorted[w] < start)
				continue;
			if (rc->sorted[w] > start)
				done += rc_pages_encrypt(vma, start, rc->sorted[w],
							 &rc->st, NULL);
			start = rc->sorted[w] + PAGE_SIZE;
		}
		if (start < stop)
			done += rc_pages_encrypt(vma, start, stop, &rc->st, NULL);
	}
	return done;
}

/*
 * Encrypt one page that fell out of the window. migrate_vma gives up on a page
 * for passing reasons (its lock taken for a moment by khugepaged or compaction,
 * not yet on the LRU, a transient reference); a page left behind here would stay
 * plaintext outside the window. So try again, backing off from 50 us to ~1 ms in
 * all (each migrate_vma_setup drains the LRU batches anew). A page that stays is
 * counted once as pinned and left to a full pass of the mm 10 ms later. One left
 * plaintext for want of memory was counted as degraded.
 */
static void rc_encrypt_evicted(struct rc_mm *rc, struct vm_area_struct *vma,
			       unsigned long addr)
{
	unsigned long busy;
	int tries;

	for (tries = 0; tries < 5; tries++) {
		busy = 0;
		if (rc_pages_encrypt(vma, addr, addr + PAGE_SIZE, &rc->st, &busy) ||
		    !busy)
			return;
		usleep_range(50 << tries, 100 << tries);
	}
	atomic_long_inc(&rc->st.skipped_pinned);
	atomic_long_inc(&rc_pages_global.skipped_pinned);
	rc_mm_kick(rc);
}

/*
 * Bring the window up to date with the current task's faults recorded since its
 * last call and encrypt what fell out of it. Process context; mm is alive (the caller is a task
 * of mm or holds mm_users).
 */
void rc_mm_update(struct rc_mm *rc, struct mm_struct *mm, bool full)
{
	unsigned long *pend = rc->upd_pend, *evicted = rc->upd_evicted;
	unsigned long *huge = rc->upd_huge;
	unsigned int n, i, nevict = 0, nhuge = 0;
	u64 t0 = rc_prof_now();
	bool overflow;

	mutex_lock(&rc->lock);
	if (READ_ONCE(rc->dead))
		goto out;
	n = rc_pend_take(rc, pend, &overflow);
	if (!n && !overflow && !full)
		goto out;

	mmap_read_lock(mm);
	for (i = 0; i < n; i++) {
		struct vm_area_struct *vma = find_vma(mm, pend[i]);

		/*
		 * Only pages of VMAs we encrypt take a window slot. Whether the
		 * page is present is not checked: another thread's fault on it
		 * may still be in progress, and it must not then be left out.
		 */
		if (!vma || vma->vm_start > pend[i] || !rc_pages_vma_eligible(vma) ||
		    rc_fifo_contains(rc, pend[i]))
			continue;
		if (rc_pages_is_huge(vma, pend[i]))
			huge[nhuge++] = pend[i] & HPAGE_PMD_MASK;
		if (rc->fifo_count == rc->window)
			evicted[nevict++] = rc_fifo_pop(rc);
		rc_fifo_push(rc, pend[i]);
	}
	if (overflow || full) {
		rc_mm_pass(rc, mm, 0, TASK_SIZE_MAX);
	} else {
		rc_prof_add(RC_PROF_WORK_BOOK, t0);
		/* A THP fault made 511 more pages present than it recorded. */
		for (i = 0; i < nhuge; i++)
			rc_mm_pass(rc, mm, huge[i], huge[i] + HPAGE_PMD_SIZE);
		for (i = 0; i < nevict; i++) {
			struct vm_area_struct *vma = find_vma(mm, evicted[i]);

			/* Faulted again within this batch: still in the window. */
			if (rc_fifo_contains(rc, evicted[i]) || !vma ||
			    vma->vm_start > evicted[i])
				continue;
			/* Still a THP (another thread faulted it in meanwhile)? */
			if (rc_pages_is_huge(vma, evicted[i]))
				rc_mm_pass(rc, mm, evicted[i] & HPAGE_PMD_MASK,
					   (evicted[i] & HPAGE_PMD_MASK) + HPAGE_PMD_SIZE);
			else
				rc_encrypt_evicted(rc, vma, evicted[i]);
		}
	}
	mmap_read_unlock(mm);
out:
	mutex_unlock(&rc->lock);
}
