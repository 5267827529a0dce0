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
#include <linux/sched/mm.h>
#include <linux/sort.h>
#include <linux/workqueue.h>

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

void rc_window_install(struct rc_win *win, unsigned long *buf, unsigned int window)
{
	win->fifo = buf;
	win->sorted = buf + window;
	win->fifo_time = buf + 2 * window;
	win->set = buf + 3 * window;
	win->set_bits = ilog2(rc_set_size(window));
	win->fifo_head = 0;
	win->fifo_count = 0;
	win->window = window;
}

static unsigned int rc_set_slot(struct rc_win *win, unsigned long key)
{
	return hash_long(key >> PAGE_SHIFT, win->set_bits);
}

static bool rc_fifo_contains(struct rc_win *win, unsigned long addr)
{
	unsigned int mask = (1U << win->set_bits) - 1, i;
	unsigned long key = addr | 1;

	for (i = rc_set_slot(win, key); win->set[i]; i = (i + 1) & mask)
		if (win->set[i] == key)
			return true;
	return false;
}

static void rc_set_add(struct rc_win *win, unsigned long addr)
{
	unsigned int mask = (1U << win->set_bits) - 1, i;

	for (i = rc_set_slot(win, addr | 1); win->set[i]; i = (i + 1) & mask)
		;
	win->set[i] = addr | 1;
}

/* Delete with backward shift, so that no probe chain is ever broken. */
static void rc_set_del(struct rc_win *win, unsigned long addr)
{
	unsigned int mask = (1U << win->set_bits) - 1, i, j, home;
	unsigned long key = addr | 1;

	for (i = rc_set_slot(win, key); win->set[i] != key; i = (i + 1) & mask)
		if (WARN_ON_ONCE(!win->set[i]))
			return;
	for (j = (i + 1) & mask; win->set[j]; j = (j + 1) & mask) {
		home = rc_set_slot(win, win->set[j]);
		/* The entry at j may move to i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			win->set[i] = win->set[j];
			i = j;
		}
	}
	win->set[i] = 0;
}

unsigned long rc_fifo_pop(struct rc_win *win)
{
	unsigned long addr = win->fifo[win->fifo_head];

	if (++win->fifo_head == win->window)
		win->fifo_head = 0;
	win->fifo_count--;
	rc_set_del(win, addr);
	return addr;
}

void rc_fifo_push(struct rc_win *win, unsigned long addr)
{
	unsigned int i = win->fifo_head + win->fifo_count;

	if (i >= win->window)
		i -= win->window;
	win->fifo[i] = addr;
	win->fifo_time[i] = jiffies;
	win->fifo_count++;
	rc_set_add(win, addr);
}

/*
 * Keep only the entries of win outside [start, end), oldest first, with their ages:
 * a range just marked secret leaves the ordinary window (a page is in one tier).
 */
void rc_fifo_drop_range(struct rc_win *win, unsigned long start, unsigned long end)
{
	unsigned int n = win->fifo_count, i;
	unsigned long addr, time;

	for (i = 0; i < n; i++) {
		time = win->fifo_time[win->fifo_head];
		addr = rc_fifo_pop(win);
		if (addr >= start && addr < end)
			continue;
		rc_fifo_push(win, addr);
		win->fifo_time[(win->fifo_head + win->fifo_count - 1) % win->window] = time;
	}
}

/*
 * How long a page of a tier stays plaintext after its fault, in ms (0: no limit).
 * The ordinary tier: max_plain_age_ms, the process's own or the sysctl's. The
 * secret tier: secret_plain_age_ms (the process's or the sysctl's; 0: as the
 * ordinary tier), never longer than the ordinary tier's.
 */
unsigned int rc_plain_age_ms(struct rc_mm *rc, int tier)
{
	unsigned int ord = rc->flags & RAMCRYPT_PROTECT_PLAIN_AGE ? rc->max_plain_age_ms :
			   READ_ONCE(rc_max_plain_age_ms);
	unsigned int sec = rc->flags & RAMCRYPT_PROTECT_SECRET_AGE ? rc->secret_plain_age_ms :
			   READ_ONCE(rc_secret_plain_age_ms);

	if (tier == RC_TIER_ORD || !sec)
		return ord;
	return ord ? min(ord, sec) : sec;
}

/*
 * Drop from win the pages that came in ms ago or more: all of them, or with out,
 * at most RC_PEND, put in out[].
 */
static unsigned int rc_fifo_expire_tier(struct rc_win *win, unsigned int ms,
					unsigned long *out)
{
	unsigned long age = msecs_to_jiffies(ms);
	unsigned int n = 0;

	if (!ms)
		return 0;
	while (win->fifo_count && (!out || n < RC_PEND) &&
	       time_after_eq(jiffies, win->fifo_time[win->fifo_head] + age)) {
		unsigned long addr = rc_fifo_pop(win);

		if (out)
			out[n++] = addr;
	}
	return n;
}

/*
 * Idle expiry: drop from both windows the pages that came in their tier's age ago
 * or more (rc_plain_age_ms()); the caller's pass then encrypts them. A page in use
 * without faulting again is dropped too and costs one window miss per age: whether
 * a present page was touched cannot be seen without a fault. So an idle process
 * holds no plaintext after max_plain_age_ms plus one scanner interval (its secret
 * pages: rc_secret_expiry_fn()). rc->lock held.
 */
void rc_fifo_expire(struct rc_mm *rc)
{
	int tier;

	for (tier = 0; tier < RC_TIERS; tier++)
		rc_fifo_expire_tier(&rc->win[tier], rc_plain_age_ms(rc, tier), NULL);
}

/* Is addr in either window? */
static bool rc_in_window(struct rc_mm *rc, unsigned long addr)
{
	return rc_fifo_contains(&rc->win[RC_TIER_ORD], addr) ||
	       rc_fifo_contains(&rc->win[RC_TIER_SECRET], addr);
}

static int rc_cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The lowest window page of either tier not yet passed (w: cursors), ULONG_MAX if none. */
static unsigned long rc_pass_next(struct rc_mm *rc, unsigned int *w, unsigned int *tier)
{
	unsigned long next = ULONG_MAX;
	unsigned int t;

	for (t = 0; t < RC_TIERS; t++) {
		if (w[t] < rc->win[t].fifo_count && rc->win[t].sorted[w[t]] < next) {
			next = rc->win[t].sorted[w[t]];
			*tier = t;
		}
	}
	return next;
}

/*
 * Encrypt every plaintext page of mm outside both windows. rc->lock and the mmap
 * lock are held. The window pages are left out of the migrate_vma ranges, so they
 * are not even unmapped for a moment.
 */
unsigned long rc_mm_pass(struct rc_mm *rc, struct mm_struct *mm,
			 unsigned long addr, unsigned long end)
{
	unsigned int w[RC_TIERS] = {}, i, t, tier = 0;
	unsigned long done = 0, next;
	struct vm_area_struct *vma;

	for (t = 0; t < RC_TIERS; t++) {
		struct rc_win *win = &rc->win[t];

		for (i = 0; i < win->fifo_count; i++)
			win->sorted[i] = win->fifo[(win->fifo_head + i) % win->window];
		sort(win->sorted, win->fifo_count, sizeof(win->sorted[0]), rc_cmp_ulong, NULL);
	}

	while ((vma = find_vma(mm, addr)) && vma->vm_start < end) {
		unsigned long start = max(addr, vma->vm_start);
		unsigned long stop = min(end, vma->vm_end);

		addr = vma->vm_end;
		if (!rc_pages_vma_eligible(vma))
			continue;
		while ((next = rc_pass_next(rc, w, &tier)) < stop) {
			w[tier]++;
			if (next < start)
				continue;
			if (next > start)
				done += rc_pages_encrypt(vma, start, next, &rc->st, NULL);
			start = next + PAGE_SIZE;
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
 * counted once, by its cause, and left to a full pass of the mm 10 ms later. One left
 * plaintext for want of memory was counted as degraded.
 */
static void rc_encrypt_evicted(struct rc_mm *rc, struct vm_area_struct *vma,
			       unsigned long addr)
{
	struct rc_left left;
	int tries;

	for (tries = 0; tries < 5; tries++) {
		left = (struct rc_left){};
		if (rc_pages_encrypt(vma, addr, addr + PAGE_SIZE, &rc->st, &left) ||
		    !rc_left_total(&left))
			return;
		usleep_range(50 << tries, 100 << tries);
	}
	rc_pages_count_left(&rc->st, &left);
	rc_mm_kick(rc);
}

/*
 * Encrypt the pages at evicted[0..n), which left the windows. rc->lock and the
 * mmap lock are held.
 */
static void rc_encrypt_left_window(struct rc_mm *rc, struct mm_struct *mm,
				   const unsigned long *evicted, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct vm_area_struct *vma = find_vma(mm, evicted[i]);

		/* Faulted again within this batch: still in the window. */
		if (rc_in_window(rc, evicted[i]) || !vma || vma->vm_start > evicted[i])
			continue;
		/* Still a THP (another thread faulted it in meanwhile)? */
		if (rc_pages_is_huge(vma, evicted[i]))
			rc_mm_pass(rc, mm, evicted[i] & HPAGE_PMD_MASK,
				   (evicted[i] & HPAGE_PMD_MASK) + HPAGE_PMD_SIZE);
		else
			rc_encrypt_evicted(rc, vma, evicted[i]);
	}
}

/*
 * The secret window's age is short (20 ms by default): a key read once per request
 * is re-encrypted that long after its fault, not a scanner interval later. So the
 * oldest secret page has a timer of its own. rc->lock held; a queued work holds a
 * reference. One already queued fires no later than this one would (the oldest
 * entry only gets younger), unless the age was shortened since: then a scanner
 * pass expires the pages within scan_interval_ms.
 */
static void rc_secret_expiry_arm(struct rc_mm *rc)
{
	struct rc_win *win = &rc->win[RC_TIER_SECRET];
	unsigned int ms = rc_plain_age_ms(rc, RC_TIER_SECRET);
	unsigned long due;

	if (!ms || !win->fifo_count || READ_ONCE(rc->dead))
		return;
	due = win->fifo_time[win->fifo_head] + msecs_to_jiffies(ms);
	kref_get(&rc->ref);
	if (!queue_delayed_work(system_unbound_wq, &rc->secret_expiry,
				time_after(due, jiffies) ? due - jiffies : 0))
		rc_mm_put(rc);	/* already queued; the caller holds a reference */
}

void rc_secret_expiry_fn(struct work_struct *work)
{
	struct rc_mm *rc = container_of(to_delayed_work(work), struct rc_mm, secret_expiry);
	struct mm_struct *mm = rc->mn.mm;
	unsigned int n;

	if (mmget_not_zero(mm)) {
		mutex_lock(&rc->lock);
		if (!READ_ONCE(rc->dead)) {
			n = rc_fifo_expire_tier(&rc->win[RC_TIER_SECRET],
						rc_plain_age_ms(rc, RC_TIER_SECRET),
						rc->upd_evicted);
			if (n) {
				mmap_read_lock(mm);
				rc_encrypt_left_window(rc, mm, rc->upd_evicted, n);
				mmap_read_unlock(mm);
			}
			rc_secret_expiry_arm(rc);
		}
		mutex_unlock(&rc->lock);
		mmput(mm);
	}
	rc_mm_put(rc);
}

/*
 * Bring the windows up to date with the current task's faults recorded since its
 * last call and encrypt what fell out of them. Each page goes to its own tier's
 * window and evicts only from that one, so a busy ordinary tier never pushes a
 * secret page out early, and a secret page never waits in the big window. Process context; mm is alive (the caller is a task
 * of mm or holds mm_users).
 */
void rc_mm_update(struct rc_mm *rc, struct mm_struct *mm, bool full)
{
	unsigned long *pend = rc->upd_pend, *evicted = rc->upd_evicted;
	unsigned long *huge = rc->upd_huge;
	unsigned int n, i, nevict = 0, nhuge = 0;
	u64 t0 = rc_prof_now();
	struct rc_win *win;
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
		    rc_in_window(rc, pend[i]))
			continue;
		win = &rc->win[rc_secret_page(rc, vma, pend[i]) ? RC_TIER_SECRET : RC_TIER_ORD];
		if (rc_pages_is_huge(vma, pend[i]))
			huge[nhuge++] = pend[i] & HPAGE_PMD_MASK;
		if (win->fifo_count == win->window)
			evicted[nevict++] = rc_fifo_pop(win);
		rc_fifo_push(win, pend[i]);
	}
	if (overflow || full) {
		rc_mm_pass(rc, mm, 0, TASK_SIZE_MAX);
	} else {
		rc_prof_add(RC_PROF_WORK_BOOK, t0);
		/* A THP fault made 511 more pages present than it recorded. */
		for (i = 0; i < nhuge; i++)
			rc_mm_pass(rc, mm, huge[i], huge[i] + HPAGE_PMD_SIZE);
		rc_encrypt_left_window(rc, mm, evicted, nevict);
	}
	mmap_read_unlock(mm);
	rc_secret_expiry_arm(rc);
out:
	mutex_unlock(&rc->lock);
}
