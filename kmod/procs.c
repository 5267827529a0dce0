// SPDX-License-Identifier: GPL-2.0
/*
 * Process tracking: one struct rc_mm per protected mm, holding its window (a FIFO
 * of the most recently faulted plaintext pages) and its statistics.
 *
 * Events and where they are handled:
 *  - user page fault (x86 tracepoints page_fault_user/page_fault_kernel, atomic
 *    context, mmap_lock maybe held): rc_probe_fault() only records the address in
 *    the mm's pending ring and queues task_work;
 *  - return to user space of the faulting task: rc_fault_work() moves pending
 *    addresses into the window and encrypts the pages that fell out of it;
 *  - fork (sched_process_fork): the child inherits protection through task_work
 *    that runs before its first user instruction; exec (mmu_notifier release of
 *    the old mm inside execve, then sched_process_exec) likewise when the process
 *    was protected with RAMCRYPT_PROTECT_INHERIT_EXEC;
 *  - mm teardown: the mmu_notifier release callback unhashes the rc_mm; the
 *    ciphertext goes with the page tables (dev_pagemap_ops.page_free);
 *  - a periodic scanner encrypts plaintext pages that appeared without a fault.
 *
 * Lock order: rc_procs_mutex -> rc_mm.lock -> mmap_lock -> rc_hash_lock /
 * rc_mm.pend_lock / rc_exec_lock. The spinlocks are leaves and are taken from the
 * fault probe with interrupts off, so everyone takes them irqsave.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/kprobes.h>
#include <linux/kref.h>
#include <linux/magic.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/ptrace.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/swap.h>
#include <linux/task_work.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "pages.h"
#include "procs.h"
#include "profile.h"

#define RC_PEND		64	/* faults recorded, not yet processed, all threads */

unsigned int rc_default_window = 6;
unsigned int rc_max_window = 1024;
unsigned int rc_scan_interval_ms = 1000;
unsigned int rc_allow_swap;
unsigned int rc_max_plain_age_ms = 1000;
/* Children or exec'ed programs that could not be protected (memory, module going). */
static atomic_long_t rc_inherit_failures = ATOMIC_LONG_INIT(0);

struct rc_mm {
	struct mmu_notifier mn;		/* mn.mm: the protected mm (mmgrab'ed) */
	struct hlist_node hnode;	/* rc_mm_hash, under rc_hash_lock + RCU */
	struct kref ref;		/* protection + queued works + scanner */
	struct rcu_head rcu;
	struct list_head scan_node;	/* the scanner's private list */
	struct delayed_work kick;	/* a full pass soon: rc_mm_kick() */
	struct pid *pid;		/* thread group, for list/stats */
	u64 flags;			/* RAMCRYPT_PROTECT_* */
	int saved_dumpable;
	bool dead;			/* unhashed; under rc_hash_lock */
	bool exec_handled;		/* INHERIT_EXEC passed on (xchg) */
	bool swap_exposed;		/* it could swap since protect: sticky */

	/* The window: under lock. Held across encryption so passes serialise. */
	struct mutex lock;
	unsigned int window;
	unsigned int fifo_head, fifo_count;
	unsigned long *fifo;		/* window entries, ring; one allocation with: */
	unsigned long *fifo_time;	/* jiffies each entry came in, same ring */
	unsigned long *sorted;		/* scratch: window sorted, for passes */
	unsigned long *set;		/* the window as a hash set (rc_set_*) */
	unsigned int set_bits;
	/* scratch for rc_mm_update(), under lock */
	unsigned long upd_pend[RC_PEND], upd_evicted[RC_PEND], upd_huge[RC_PEND];

	/*
	 * Faults not yet processed, in fault order, each with the task that took
	 * it: under pend_lock, written by the fault probe. A task folds in only
	 * its own faults (see rc_mm_update()); task is compared, never followed.
	 */
	spinlock_t pend_lock;
	unsigned int pend_count;
	bool pend_overflow;
	struct rc_pend {
		unsigned long addr;
		struct task_struct *task;
	} pend[RC_PEND];

	atomic_long_t faults;
	struct rc_pstats st;
};

struct rc_fault_work {
	struct callback_head cb;
	struct rc_mm *rc;
};

/* Protection to install in a new mm: fork child, or after execve. */
struct rc_inherit {
	struct callback_head cb;
	struct list_head node;		/* rc_exec_pending */
	struct task_struct *task;	/* exec: the task whose exec is pending */
	u64 flags;
	unsigned int window;
};

static DEFINE_MUTEX(rc_procs_mutex);	/* protect/unprotect against each other */
static DEFINE_SPINLOCK(rc_hash_lock);
static DEFINE_HASHTABLE(rc_mm_hash, 7);
static atomic_t rc_nr_protected;
static DEFINE_SPINLOCK(rc_exec_lock);
static LIST_HEAD(rc_exec_pending);
static atomic_long_t rc_scanner_passes;
static atomic_long_t rc_faults;
static bool rc_shutting_down;


static void rc_scan_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(rc_scan_work, rc_scan_fn);

/* ---- lookup and lifetime ---- */

/* Caller holds rcu_read_lock() or rc_hash_lock. */
static struct rc_mm *rc_mm_lookup(struct mm_struct *mm)
{
	struct rc_mm *rc;

	hash_for_each_possible_rcu(rc_mm_hash, rc, hnode, (unsigned long)mm)
		if (rc->mn.mm == mm)
			return rc;
	return NULL;
}

static struct rc_mm *rc_mm_get(struct mm_struct *mm)
{
	struct rc_mm *rc;

	rcu_read_lock();
	rc = rc_mm_lookup(mm);
	if (rc && !kref_get_unless_zero(&rc->ref))
		rc = NULL;
	rcu_read_unlock();
	return rc;
}

static void rc_mm_release_ref(struct kref *ref)
{
	struct rc_mm *rc = container_of(ref, struct rc_mm, ref);

	/* Atomic-safe; the free runs from an SRCU callback (rc_mn_free). */
	mmu_notifier_put(&rc->mn);
}

static void rc_mm_put(struct rc_mm *rc)
{
	kref_put(&rc->ref, rc_mm_release_ref);
}

/*
 * After a plain RCU grace period: the fault probe, LIST and status found rc in the
 * hash under rcu_read_lock() and may use it and its pid until then; the SRCU grace
 * period of mmu_notifier_put() does not wait for them. rc_procs_uninit()'s
 * rcu_barrier() keeps this code loaded until the last call.
 */
static void rc_mm_free_rcu(struct rcu_head *head)
{
	struct rc_mm *rc = container_of(head, struct rc_mm, rcu);

	put_pid(rc->pid);
	kfree(rc);
}

static void rc_mn_free(struct mmu_notifier *mn)
{
	struct rc_mm *rc = container_of(mn, struct rc_mm, mn);

	kfree(rc->fifo);	/* no RCU reader looks at the window itself */
	call_rcu(&rc->rcu, rc_mm_free_rcu);
	module_put(THIS_MODULE);
}

/*
 * Take rc out of the hash: no new faults are recorded, the scanner and new
 * protect calls no longer see it. Returns true for the one caller that did it,
 * which then owns the hash's reference.
 */
static bool rc_mm_unhash(struct rc_mm *rc)
{
	unsigned long flags;
	bool done = false;

	spin_lock_irqsave(&rc_hash_lock, flags);
	if (!rc->dead) {
		rc->dead = true;
		hash_del_rcu(&rc->hnode);
		atomic_dec(&rc_nr_protected);
		done = true;
	}
	spin_unlock_irqrestore(&rc_hash_lock, flags);
	return done;
}

/* ---- the window ---- */

static void rc_mm_kick(struct rc_mm *rc);

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
static unsigned long *rc_window_alloc(unsigned int window)
{
	return kcalloc(3 * window + rc_set_size(window), sizeof(unsigned long),
		       GFP_KERNEL);
}

static void rc_window_install(struct rc_mm *rc, unsigned long *buf,
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

static unsigned long rc_fifo_pop(struct rc_mm *rc)
{
	unsigned long addr = rc->fifo[rc->fifo_head];

	if (++rc->fifo_head == rc->window)
		rc->fifo_head = 0;
	rc->fifo_count--;
	rc_set_del(rc, addr);
	return addr;
}

static void rc_fifo_push(struct rc_mm *rc, unsigned long addr)
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
static void rc_fifo_expire(struct rc_mm *rc)
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
static unsigned long rc_mm_pass(struct rc_mm *rc, struct mm_struct *mm,
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
 * Take the current task's recorded faults out of the pending list (in fault order)
 * into pend[]; return their number. *overflow: faults were lost, make a full pass.
 *
 * Only the current task's own faults: they have completed (we are on its way back
 * to user space, or in its ioctl after its copy_from_user), so their pages are
 * present now. Another thread's fault may still be in flight: folding it in now
 * would look at a page that is not there yet (a THP that is about to make 512 pages
 * present would go unnoticed, a page could be evicted and "encrypted" before it
 * even exists) and that thread's own pass would then find nothing to do, leaving
 * the pages plaintext outside the window until the scanner came by.
 */
static unsigned int rc_pend_take(struct rc_mm *rc, unsigned long *pend,
				 bool *overflow)
{
	unsigned int i, n = 0, kept = 0;
	unsigned long flags;

	spin_lock_irqsave(&rc->pend_lock, flags);
	for (i = 0; i < rc->pend_count; i++) {
		if (rc->pend[i].task == current) {
			if (pend)
				pend[n] = rc->pend[i].addr;
			n++;
		} else
			rc->pend[kept++] = rc->pend[i];
	}
	rc->pend_count = kept;
	*overflow = rc->pend_overflow;
	rc->pend_overflow = false;
	spin_unlock_irqrestore(&rc->pend_lock, flags);
	return n;
}

/*
 * Bring the window up to date with the current task's faults recorded since its
 * last call and encrypt what fell out of it. Process context; mm is alive (the caller is a task
 * of mm or holds mm_users).
 */
static void rc_mm_update(struct rc_mm *rc, struct mm_struct *mm, bool full)
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

/* ---- fault tracking ---- */

/* Delay of a kick: the exiting task's fault completes in microseconds. */
#define RC_KICK_MS	10

static void rc_kick_fn(struct work_struct *work)
{
	struct rc_mm *rc = container_of(to_delayed_work(work), struct rc_mm, kick);
	struct mm_struct *mm = rc->mn.mm;

	if (mmget_not_zero(mm)) {
		rc_mm_update(rc, mm, false);	/* pend_overflow: a full pass */
		mmput(mm);
	}
	rc_mm_put(rc);
}

/*
 * A task that is exiting (or has exec'd) made pages present that no task will fold
 * into the window: the write to clear_child_tid, a robust futex list, its own last
 * faults. Ask for a full pass of rc shortly, instead of leaving them plaintext until
 * the scanner. An exiting task's fault work runs in exit_task_work(), after
 * exit_mm() and so after those faults completed: the pass cannot come too early.
 * Any context; takes a reference for the work.
 */
static void rc_mm_kick(struct rc_mm *rc)
{
	unsigned long flags;

	spin_lock_irqsave(&rc->pend_lock, flags);
	rc->pend_overflow = true;
	spin_unlock_irqrestore(&rc->pend_lock, flags);
	kref_get(&rc->ref);
	if (!queue_delayed_work(system_unbound_wq, &rc->kick,
				msecs_to_jiffies(RC_KICK_MS)))
		rc_mm_put(rc);	/* already queued */
}

static void rc_fault_work(struct callback_head *cb)
{
	struct rc_fault_work *w = container_of(cb, struct rc_fault_work, cb);
	struct rc_mm *rc = w->rc;
	u64 t0 = rc_prof_now(), t1;

	kfree(w);
	/* Also run from exit_task_work(), after exit_mm(): nothing to do then. */
	if (current->mm == rc->mn.mm && !(current->flags & PF_EXITING)) {
		/*
		 * The page this fault made present (decrypted or new) sits in this
		 * CPU's LRU add batch. If another thread on another CPU evicts it,
		 * migrate_vma cannot isolate it without lru_add_drain_all(), which
		 * costs milliseconds per eviction (all CPUs, under a global mutex).
		 * Put it on the LRU now, here, where it is cheap. A process with
		 * one thread evicts on this CPU, where migrate_vma drains the
		 * batch itself: skip the drain then.
		 */
		t1 = rc_prof_now();
		if (atomic_read(&current->mm->mm_users) > 1)
			rc_lru_add_drain();
		rc_prof_add(RC_PROF_WORK_DRAIN, t1);
		rc_mm_update(rc, current->mm, false);
	} else {
		/*
		 * Exiting, or after execve: forget this task's faults in rc (its
		 * task_struct may be reused). Nobody folds them in now: if the mm
		 * lives on (another thread), a full pass soon.
		 */
		bool overflow;

		if (rc_pend_take(rc, NULL, &overflow) || overflow)
			rc_mm_kick(rc);
	}
	rc_mm_put(rc);
	rc_prof_add(RC_PROF_WORK, t0);
}

/*
 * Tracepoint probe for page_fault_user and page_fault_kernel. Runs at the very
 * start of the x86 fault handler: interrupts off, the mmap_lock possibly held (a
 * kernel fault in copy_to_user under it), so it records and defers, nothing else.
 */
/* Record a fault of current, or, without room or work, ask for a full pass. */
static void rc_pend_add_locked(struct rc_mm *rc, unsigned long address, bool room)
{
	lockdep_assert_held(&rc->pend_lock);
	if (!room || rc->pend_count == RC_PEND) {
		rc->pend_overflow = true;
		return;
	}
	rc->pend[rc->pend_count].addr = address & PAGE_MASK;
	rc->pend[rc->pend_count].task = current;
	rc->pend_count++;
}

static void rc_probe_fault(void *data, unsigned long address,
			   struct pt_regs *regs, unsigned long error_code)
{
	struct mm_struct *mm = current->mm;
	struct rc_fault_work *w;
	unsigned long flags;
	struct rc_mm *rc;
	u64 t0 = rc_prof_now();
	unsigned int i;

	if (!atomic_read(&rc_nr_protected) || !mm || address >= TASK_SIZE_MAX ||
	    (current->flags & (PF_KTHREAD | PF_IO_WORKER)))
		return;
	/*
	 * A kernel access with page faults disabled (copy_from_user_nmi() of perf and
	 * BPF call-chain sampling, futex's atomic reads) is refused by the fault
	 * handler: no page becomes present, so there is nothing to put in the window.
	 * In NMI context nothing below (allocation, spinlock, task_work) is allowed.
	 */
	if (in_nmi() || pagefault_disabled())
		return;
	rc = rc_mm_get(mm);
	if (!rc)
		return;
	atomic_long_inc(&rc->faults);
	atomic_long_inc(&rc_faults);

	/*
	 * A fault is recorded only with a work of its task queued, so that every
	 * entry is taken by its task (or dropped when it exits). An entry of this
	 * task still in the list means its work has not run yet: it takes this one
	 * too, and no second work is queued. So one syscall that faults a million
	 * times (read() into a large buffer) queues one work, not a million. A full
	 * list makes the next pass a full one: this task's queued work, or a kick.
	 */
	spin_lock_irqsave(&rc->pend_lock, flags);
	for (i = 0; i < rc->pend_count && rc->pend[i].task != current; i++)
		;
	if (i < rc->pend_count || rc->pend_count == RC_PEND) {
		bool queued = i < rc->pend_count;

		rc_pend_add_locked(rc, address, true);
		spin_unlock_irqrestore(&rc->pend_lock, flags);
		if (!queued)
			rc_mm_kick(rc);
		rc_mm_put(rc);
		rc_prof_add(RC_PROF_PROBE, t0);
		return;
	}
	spin_unlock_irqrestore(&rc->pend_lock, flags);

	w = kmalloc(sizeof(*w), GFP_ATOMIC | __GFP_NOWARN);
	if (w) {
		init_task_work(&w->cb, rc_fault_work);
		w->rc = rc;
		if (task_work_add(current, &w->cb, TWA_RESUME)) {
			kfree(w);
			w = NULL;
		}
	}
	spin_lock_irqsave(&rc->pend_lock, flags);
	rc_pend_add_locked(rc, address, w);
	spin_unlock_irqrestore(&rc->pend_lock, flags);
	if (!w) {
		/* Past exit_task_work(): nobody else will pass over this fault. */
		if (current->flags & PF_EXITING)
			rc_mm_kick(rc);
		rc_mm_put(rc);	/* else the work owns the reference now */
	}
	rc_prof_add(RC_PROF_PROBE, t0);
}

/* ---- protection ---- */

static void rc_mn_release(struct mmu_notifier *mn, struct mm_struct *mm);

static const struct mmu_notifier_ops rc_mn_ops = {
	.release = rc_mn_release,
	.free_notifier = rc_mn_free,
};

/*
 * Could reclaim write plaintext pages of mm (window, pinned, not yet encrypted)
 * to a swap device now? Ciphertext is device-private and never on an LRU; every
 * other page is ordinary anonymous memory. A swap slot is charged to the page's
 * memory cgroup and all its ancestors (cgroup v2), so memory.swap.max = 0 on any
 * of them refuses the slot, and with it zswap, which only stores pages that got
 * one. On cgroup v1 memory and swap share one limit: nothing can be told apart.
 * Pages stay charged where they were charged: a process moved into a no-swap
 * cgroup keeps its older pages' permission (docs/THREAT_MODEL.md).
 */
static bool rc_swap_possible(struct mm_struct *mm)
{
	bool possible = true;
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg, *m;
#endif

	if (get_nr_swap_pages() <= 0)
		return false;	/* no swap device, or none with a free slot */
#ifdef CONFIG_MEMCG
	if (mem_cgroup_disabled() || !cgroup_subsys_on_dfl(memory_cgrp_subsys))
		return true;
	memcg = get_mem_cgroup_from_mm(mm);
	for (m = memcg; m; m = parent_mem_cgroup(m))
		if (!READ_ONCE(m->swap.max))
			possible = false;
	mem_cgroup_put(memcg);
#endif
	return possible;
}

/* Note, once, that mm's plaintext may have reached swap. */
static void rc_note_swap(struct rc_mm *rc, struct mm_struct *mm)
{
	if (READ_ONCE(rc->swap_exposed) || !rc_swap_possible(mm))
		return;
	WRITE_ONCE(rc->swap_exposed, true);
	pr_warn("pid %d: its memory cgroup may swap: plaintext pages can reach a swap device\n",
		pid_nr(rc->pid));
}

static int rc_window_valid(u64 window)
{
	return window >= RAMCRYPT_MIN_WINDOW && window <= READ_ONCE(rc_max_window);
}

/*
 * Protect mm. The caller holds mm_users. tgid names the process in list/stats.
 */
static int rc_protect_mm(struct mm_struct *mm, struct pid *tgid, u64 flags,
			 unsigned int window)
{
	struct task_struct *task;
	unsigned long irqflags, *buf;
	struct rc_mm *rc;
	int ret;

	if (READ_ONCE(rc_shutting_down))
		return -ENODEV;
	/* A protected mm holds a module reference: rmmod waits for unprotect. */
	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	ret = -ENOMEM;
	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc)
		goto err_module;
	buf = rc_window_alloc(window);
	if (!buf)
		goto err_free;
	rc_window_install(rc, buf, window);
	kref_init(&rc->ref);
	mutex_init(&rc->lock);
	spin_lock_init(&rc->pend_lock);
	INIT_LIST_HEAD(&rc->scan_node);
	INIT_DELAYED_WORK(&rc->kick, rc_kick_fn);
	rc->flags = flags;
	rc->pid = get_pid(tgid);
	task = get_pid_task(tgid, PIDTYPE_PID);
	if (task) {
		/* Its ciphertext counts against its user's cap (NULL: only the global one). */
		rc->st.user = rc_user_get(task_uid(task));
		put_task_struct(task);
	}

	mutex_lock(&rc_procs_mutex);
	ret = -EEXIST;
	rcu_read_lock();
	if (rc_mm_lookup(mm)) {
		rcu_read_unlock();
		goto err_unlock;
	}
	rcu_read_unlock();
	rc->mn.ops = &rc_mn_ops;
	ret = mmu_notifier_register(&rc->mn, mm);
	if (ret)
		goto err_unlock;
	/*
	 * Not dumpable: a core dump would decrypt everything to disk, and same-uid
	 * ptrace could read it all. set_dumpable() is not exported; this is it.
	 */
	rc->saved_dumpable = get_dumpable(mm);
	set_mask_bits(&mm->flags, MMF_DUMPABLE_MASK, SUID_DUMP_DISABLE);

	spin_lock_irqsave(&rc_hash_lock, irqflags);
	hash_add_rcu(rc_mm_hash, &rc->hnode, (unsigned long)mm);
	atomic_inc(&rc_nr_protected);
	spin_unlock_irqrestore(&rc_hash_lock, irqflags);
	kref_get(&rc->ref);	/* an unprotect may race with the pass below */
	mutex_unlock(&rc_procs_mutex);

	rc_note_swap(rc, mm);
	/* Everything present now is outside the (empty) window. */
	rc_mm_update(rc, mm, true);
	rc_mm_put(rc);
	queue_delayed_work(system_unbound_wq, &rc_scan_work,
			   msecs_to_jiffies(READ_ONCE(rc_scan_interval_ms)));
	return 0;

err_unlock:
	mutex_unlock(&rc_procs_mutex);
	put_pid(rc->pid);
err_free:
	kfree(rc->fifo);
	kfree(rc);
err_module:
	module_put(THIS_MODULE);
	return ret;
}

/* Decrypt all of mm and drop its protection. */
static void rc_unprotect_mm(struct rc_mm *rc, struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	unsigned long addr = 0;

	/* Waits for a running window update or scanner pass on this mm. */
	mutex_lock(&rc->lock);
	mmap_read_lock(mm);
	while ((vma = find_vma(mm, addr))) {
		addr = vma->vm_end;
		rc_pages_decrypt(vma, vma->vm_start, vma->vm_end, &rc->st);
	}
	mmap_read_unlock(mm);
	mutex_unlock(&rc->lock);
	set_mask_bits(&mm->flags, MMF_DUMPABLE_MASK, READ_ONCE(rc->saved_dumpable));
}

/*
 * commit_creds() resets the mm's dumpability to fs.suid_dumpable on any change of
 * euid, egid, fsuid, fsgid or permitted capabilities: a protected server that drops
 * privileges would become dumpable again where suid_dumpable is 1 or 2 (Ubuntu: 2),
 * and a crash would write every page decrypted to disk. The entry handler notes
 * whether this commit is such a change (the test commit_creds makes; a change of
 * user namespace counts as one, erring towards non-dumpable), and the return
 * handler takes the value the kernel set as the one unprotect restores, then
 * disables dumping again. A kretprobe runs code at the function; it does not call
 * anything unexported (scripts/lint-kmod).
 */
static int rc_creds_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const struct cred *new = (const struct cred *)regs_get_kernel_argument(regs, 0);
	const struct cred *old = current->cred;
	bool *reset = (bool *)ri->data;

	*reset = current->mm && atomic_read(&rc_nr_protected) &&
		 (!uid_eq(old->euid, new->euid) || !gid_eq(old->egid, new->egid) ||
		  !uid_eq(old->fsuid, new->fsuid) || !gid_eq(old->fsgid, new->fsgid) ||
		  old->user_ns != new->user_ns ||
		  !cap_issubset(new->cap_permitted, old->cap_permitted));
	return *reset ? 0 : 1;	/* 1: no return handler needed */
}

static int rc_creds_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct mm_struct *mm = current->mm;
	struct rc_mm *rc = mm ? rc_mm_get(mm) : NULL;

	if (!rc)
		return 0;
	WRITE_ONCE(rc->saved_dumpable, get_dumpable(mm));
	set_mask_bits(&mm->flags, MMF_DUMPABLE_MASK, SUID_DUMP_DISABLE);
	rc_mm_put(rc);
	return 0;
}

static struct kretprobe rc_creds_krp = {
	.kp.symbol_name = "commit_creds",
	.entry_handler = rc_creds_entry,
	.handler = rc_creds_ret,
	.data_size = sizeof(bool),
	.maxactive = 64,
};

static void rc_inherit_work(struct callback_head *cb)
{
	struct rc_inherit *in = container_of(cb, struct rc_inherit, cb);
	int ret;

	if (current->mm && !(current->flags & PF_EXITING)) {
		ret = rc_protect_mm(current->mm, task_tgid(current), in->flags,
				    in->window);
		if (ret && ret != -EEXIST) {
			atomic_long_inc(&rc_inherit_failures);
			pr_warn_ratelimited("pid %d: protection not inherited: %d\n",
					    task_tgid_nr(current), ret);
		}
	}
	kfree(in);
	module_put(THIS_MODULE);
}

static struct rc_inherit *rc_inherit_alloc(struct rc_mm *rc, gfp_t gfp)
{
	struct rc_inherit *in;

	if (!try_module_get(THIS_MODULE))
		return NULL;
	in = kzalloc(sizeof(*in), gfp);
	if (!in) {
		module_put(THIS_MODULE);
		return NULL;
	}
	init_task_work(&in->cb, rc_inherit_work);
	INIT_LIST_HEAD(&in->node);
	in->flags = rc->flags;
	in->window = READ_ONCE(rc->window);
	return in;
}

static void rc_inherit_free(struct rc_inherit *in)
{
	kfree(in);
	module_put(THIS_MODULE);
}

/*
 * sched_process_fork, preemption off. The child has not run yet; its task_work
 * protects its mm before its first user instruction. Its pages are the parent's
 * ciphertext (shared device-private entries) plus the parent's window pages.
 */
static void rc_probe_fork(void *data, struct task_struct *parent,
			  struct task_struct *child)
{
	struct rc_inherit *in = NULL;
	struct rc_mm *rc;

	if (!atomic_read(&rc_nr_protected) || !child->mm || !parent->mm ||
	    (child->flags & PF_KTHREAD) || same_thread_group(child, parent))
		return;
	rc = rc_mm_get(parent->mm);
	if (!rc)
		return;
	if (child->mm == parent->mm) {
		/*
		 * CLONE_VM without CLONE_THREAD: vfork(), posix_spawn(), system(),
		 * Go's and Python's subprocesses. The child runs in our mm until its
		 * execve; the new mm then inherits as a fork child's would, with
		 * INHERIT_EXEC. rc_probe_exec() takes the entry, rc_probe_exit()
		 * drops it if the child never execs.
		 */
		if (rc->flags & RAMCRYPT_PROTECT_INHERIT_EXEC) {
			unsigned long flags;

			in = rc_inherit_alloc(rc, GFP_ATOMIC | __GFP_NOWARN);
			if (in) {
				in->task = child;
				spin_lock_irqsave(&rc_exec_lock, flags);
				list_add(&in->node, &rc_exec_pending);
				spin_unlock_irqrestore(&rc_exec_lock, flags);
			} else {
				atomic_long_inc(&rc_inherit_failures);
			}
		}
		rc_mm_put(rc);
		return;
	}
	in = rc_inherit_alloc(rc, GFP_ATOMIC | __GFP_NOWARN);
	rc_mm_put(rc);
	if (in && !task_work_add(child, &in->cb, TWA_RESUME))
		return;
	if (in)
		rc_inherit_free(in);
	atomic_long_inc(&rc_inherit_failures);
}

/* sched_process_exec: the new mm is in place; protect it if the old one asked. */
static void rc_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
			  struct linux_binprm *bprm)
{
	struct rc_inherit *in, *found = NULL;
	unsigned long flags;
	struct rc_mm *rc;
	int bkt;

	if (!list_empty_careful(&rc_exec_pending)) {
		spin_lock_irqsave(&rc_exec_lock, flags);
		list_for_each_entry(in, &rc_exec_pending, node) {
			if (in->task == p) {
				list_del_init(&in->node);
				found = in;
				break;
			}
		}
		spin_unlock_irqrestore(&rc_exec_lock, flags);
	}
	if (!found && atomic_read(&rc_nr_protected)) {
		/*
		 * The old mm is not released yet (someone else holds mm_users and
		 * will drop the last one later): it is still hashed, under our tgid.
		 */
		rcu_read_lock();
		hash_for_each_rcu(rc_mm_hash, bkt, rc, hnode) {
			if (rc->pid == task_tgid(p) && rc->mn.mm != p->mm &&
			    (rc->flags & RAMCRYPT_PROTECT_INHERIT_EXEC) &&
			    !READ_ONCE(rc->dead) && !xchg(&rc->exec_handled, true)) {
				found = rc_inherit_alloc(rc, GFP_ATOMIC | __GFP_NOWARN);
				if (!found)
					atomic_long_inc(&rc_inherit_failures);
				break;
			}
		}
		rcu_read_unlock();
	}
	if (found && task_work_add(p, &found->cb, TWA_RESUME))
		rc_inherit_free(found);
}

/* sched_process_exit: forget an exec that never completed. */
static void rc_probe_exit(void *data, struct task_struct *p)
{
	struct rc_inherit *in, *tmp;
	unsigned long flags;
	LIST_HEAD(dead);

	/*
	 * PF_EXITING was set (exit_signals()) before this runs; rc_mn_release() adds
	 * an entry and only then looks at PF_EXITING. With a full barrier on both
	 * sides, one of the two sees the other: no entry is left behind for a task
	 * that is gone.
	 */
	smp_mb();
	if (list_empty_careful(&rc_exec_pending))
		return;
	spin_lock_irqsave(&rc_exec_lock, flags);
	list_for_each_entry_safe(in, tmp, &rc_exec_pending, node)
		if (in->task == p)
			list_move(&in->node, &dead);
	spin_unlock_irqrestore(&rc_exec_lock, flags);
	list_for_each_entry_safe(in, tmp, &dead, node)
		rc_inherit_free(in);
}

/*
 * Zero the plaintext pages of a mm whose last user is gone (exit, or the old mm
 * of an execve): without init_on_free they would go back to the page allocator as
 * they are, readable in RAM until reused.
 */
static void rc_wipe_mm(struct mm_struct *mm)
{
	unsigned long addr = 0, wiped = 0, left = 0;
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	while ((vma = find_vma(mm, addr))) {
		addr = vma->vm_end;
		if (rc_pages_vma_eligible(vma))
			rc_pages_wipe(vma, &wiped, &left);
	}
	mmap_read_unlock(mm);
	atomic_long_add(wiped, &rc_pages_global.wiped_at_exit);
	if (left)
		pr_debug("exit: %lu plaintext pages wiped, %lu shared or pinned left\n",
			 wiped, left);
}

/*
 * The mm is being torn down (exit_mmap, before the page tables go). No mmap_lock
 * is held; we may sleep. If this is execve replacing a protected mm with inherit,
 * remember it for rc_probe_exec.
 */
static void rc_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct rc_mm *rc = container_of(mn, struct rc_mm, mn);
	unsigned long flags;

	struct task_struct *task;

	if (!rc_mm_unhash(rc))
		return;
	/* exit_mmap(), never mmu_notifier_unregister() (we use put): no users left. */
	if (!atomic_read(&mm->mm_users))
		rc_wipe_mm(mm);
	if (!(rc->flags & RAMCRYPT_PROTECT_INHERIT_EXEC))
		goto out;
	/*
	 * Is this the old mm of an execve? The release runs in the last mmput(),
	 * which is execve's own exec_mmap() only if nobody else held mm_users at
	 * that moment: the scanner, a stats ioctl or /proc may have, and then we
	 * run in their context, before or after the exec completes. So do not ask
	 * current: ask the process (after de_thread() the exec'ing thread is the
	 * leader), whether it is in execve with another mm. If the exec already
	 * completed, rc_probe_exec() found us still hashed and did the job.
	 */
	task = get_pid_task(rc->pid, PIDTYPE_TGID);
	if (!task)
		goto out;
	if (task->in_execve && READ_ONCE(task->mm) != mm &&
	    !xchg(&rc->exec_handled, true)) {
		struct rc_inherit *in = rc_inherit_alloc(rc, GFP_KERNEL);

		if (in) {
			in->task = task;
			spin_lock_irqsave(&rc_exec_lock, flags);
			list_add(&in->node, &rc_exec_pending);
			/*
			 * rc_probe_exit() frees no entry added after it ran: add first,
			 * then look (the barrier pairs with the one there).
			 */
			smp_mb();
			if (READ_ONCE(task->flags) & PF_EXITING)
				list_del(&in->node);
			else
				in = NULL;
			spin_unlock_irqrestore(&rc_exec_lock, flags);
			if (in)
				rc_inherit_free(in);
		} else {
			atomic_long_inc(&rc_inherit_failures);
		}
	}
	put_task_struct(task);
out:
	rc_mm_put(rc);
}

void rc_procs_note_decrypt(struct mm_struct *mm, unsigned long n)
{
	struct rc_mm *rc;

	rcu_read_lock();
	rc = rc_mm_lookup(mm);
	if (rc)
		atomic_long_add(n, &rc->st.decryptions);
	rcu_read_unlock();
}

/* ---- scanner ---- */

static void rc_scan_fn(struct work_struct *work)
{
	struct rc_mm *rc, *tmp;
	unsigned long flags;
	LIST_HEAD(list);
	int bkt;

	/* The work item never runs concurrently with itself: scan_node is ours. */
	spin_lock_irqsave(&rc_hash_lock, flags);
	hash_for_each(rc_mm_hash, bkt, rc, hnode)
		if (kref_get_unless_zero(&rc->ref))
			list_add_tail(&rc->scan_node, &list);
	spin_unlock_irqrestore(&rc_hash_lock, flags);

	list_for_each_entry_safe(rc, tmp, &list, scan_node) {
		struct mm_struct *mm = rc->mn.mm;

		list_del_init(&rc->scan_node);
		if (mmget_not_zero(mm)) {
			mutex_lock(&rc->lock);
			if (!READ_ONCE(rc->dead)) {
				unsigned long n;

				rc_note_swap(rc, mm);
				rc_fifo_expire(rc);
				mmap_read_lock(mm);
				n = rc_mm_pass(rc, mm, 0, TASK_SIZE_MAX);
				mmap_read_unlock(mm);
				if (n) {
					atomic_long_add(n, &rc->st.scanner_pages);
					atomic_long_add(n, &rc_pages_global.scanner_pages);
				}
			}
			mutex_unlock(&rc->lock);
			mmput(mm);
		}
		rc_mm_put(rc);
		cond_resched();
	}
	atomic_long_inc(&rc_scanner_passes);
	if (atomic_read(&rc_nr_protected) && !READ_ONCE(rc_shutting_down))
		queue_delayed_work(system_unbound_wq, &rc_scan_work,
				   msecs_to_jiffies(READ_ONCE(rc_scan_interval_ms)));
}

/*
 * scan_interval_ms changed: a pass queued with the old period comes at the new one.
 * Also while nothing is protected: protect only queues a pass if none is queued,
 * and one queued an hour away would otherwise stay (a pass with nothing to do does
 * not queue the next).
 */
void rc_procs_scanner_kick(void)
{
	if (!READ_ONCE(rc_shutting_down))
		mod_delayed_work(system_unbound_wq, &rc_scan_work,
				 msecs_to_jiffies(READ_ONCE(rc_scan_interval_ms)));
}

/* ---- the ioctl side ---- */

/*
 * May the caller ptrace-attach to the process with this pid (in the caller's pid
 * namespace)? ptrace_may_access() is not exported, and calling it through an
 * address found with a kprobe raises #CP on IBT kernels (the call target has no
 * ENDBR). Opening /proc/PID/mem makes the same check, LSMs (Yama) included:
 * mm_access(PTRACE_MODE_ATTACH_FSCREDS). Returns the mm the file was opened on,
 * a reference we hold only to compare (mmgrab); the caller drops it with mmdrop.
 */
static struct mm_struct *rc_attach_check(pid_t pid)
{
	struct mm_struct *mm;
	struct file *f;
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return ERR_PTR(PTR_ERR(f) == -ENOENT ? -ESRCH :
			       PTR_ERR(f) == -EACCES ? -EPERM : PTR_ERR(f));
	mm = file_inode(f)->i_sb->s_magic == PROC_SUPER_MAGIC ? f->private_data : NULL;
	if (mm)
		mmgrab(mm);
	filp_close(f, NULL);
	return mm ?: ERR_PTR(-ESRCH);
}

/* The target's mm, if the caller may ptrace-attach to it. */
static struct mm_struct *rc_target_mm(pid_t pid, struct pid **tgidp)
{
	struct mm_struct *mm, *checked = NULL;
	struct task_struct *task;
	int err;

	if (pid < 0)
		return ERR_PTR(-EINVAL);
	if (pid) {
		checked = rc_attach_check(pid);
		if (IS_ERR(checked))
			return ERR_CAST(checked);
		rcu_read_lock();
		task = pid_task(find_vpid(pid), PIDTYPE_PID);
		if (task)
			get_task_struct(task);
		rcu_read_unlock();
		if (!task) {
			mmdrop(checked);
			return ERR_PTR(-ESRCH);
		}
	} else {
		task = current;
		get_task_struct(task);
	}
	/* As mm_access(): no exec may switch credentials between check and use. */
	err = down_read_killable(&task->signal->exec_update_lock);
	if (err) {
		mm = ERR_PTR(err);
		goto out;
	}
	mm = get_task_mm(task);
	if (!mm) {
		mm = ERR_PTR(-EINVAL);	/* kernel thread or exited */
	} else if (checked && mm != checked) {
		/* An exec (or another /proc) came between the check and now. */
		mmput(mm);
		mm = ERR_PTR(-EAGAIN);
	}
	up_read(&task->signal->exec_update_lock);
	if (!IS_ERR(mm) && tgidp)
		*tgidp = get_pid(task_tgid(task));
out:
	if (checked)
		mmdrop(checked);
	put_task_struct(task);
	return mm;
}

int rc_procs_protect(pid_t pid, u64 flags, u64 window)
{
	struct mm_struct *mm;
	struct pid *tgid;
	int ret;

	if (flags & ~RAMCRYPT_PROTECT_FLAGS)
		return -EINVAL;
	if (!window)
		window = READ_ONCE(rc_default_window);
	if (!rc_window_valid(window))
		return -EINVAL;
	mm = rc_target_mm(pid, &tgid);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	/*
	 * Refuse what could not be kept: plaintext pages headed for swap. Inherited
	 * protection (fork, exec) is never refused; the scanner flags it instead.
	 */
	ret = -EBUSY;
	if (READ_ONCE(rc_allow_swap) || !rc_swap_possible(mm))
		ret = rc_protect_mm(mm, tgid, flags, window);
	put_pid(tgid);
	mmput(mm);
	return ret;
}

int rc_procs_unprotect(pid_t pid)
{
	struct mm_struct *mm;
	struct rc_mm *rc;
	int ret = -ENOENT;

	mm = rc_target_mm(pid, NULL);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	mutex_lock(&rc_procs_mutex);
	rc = rc_mm_get(mm);
	if (rc) {
		if (rc_mm_unhash(rc)) {
			rc_unprotect_mm(rc, mm);
			rc_mm_put(rc);		/* the hash's reference */
			ret = 0;
		}
		rc_mm_put(rc);
	}
	mutex_unlock(&rc_procs_mutex);
	mmput(mm);
	return ret;
}

int rc_procs_set_window(pid_t pid, u64 window)
{
	unsigned long *buf, *old, *old_time;
	unsigned int i, n, old_head, old_window;
	struct mm_struct *mm;
	struct rc_mm *rc;
	int ret = -ENOENT;

	if (!rc_window_valid(window))
		return -EINVAL;
	mm = rc_target_mm(pid, NULL);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	rc = rc_mm_get(mm);
	if (!rc)
		goto out_mm;
	ret = -ENOMEM;
	buf = rc_window_alloc(window);
	if (!buf)
		goto out_rc;
	mutex_lock(&rc->lock);
	/* Keep the newest entries that fit; the pass below encrypts the rest. */
	while (rc->fifo_count > window)
		rc_fifo_pop(rc);
	/* Oldest first into the new ring, with their ages (sorted[] is scratch). */
	n = rc->fifo_count;
	for (i = 0; i < n; i++)
		buf[window + i] = rc->fifo[(rc->fifo_head + i) % rc->window];
	old = rc->fifo;
	old_time = rc->fifo_time;
	old_head = rc->fifo_head;
	old_window = rc->window;
	rc_window_install(rc, buf, window);
	rc->fifo_count = 0;
	for (i = 0; i < n; i++) {
		rc_fifo_push(rc, buf[window + i]);
		rc->fifo_time[i] = old_time[(old_head + i) % old_window];
	}
	WRITE_ONCE(rc->window, window);
	mutex_unlock(&rc->lock);
	kfree(old);
	rc_mm_update(rc, mm, true);
	ret = 0;
out_rc:
	rc_mm_put(rc);
out_mm:
	mmput(mm);
	return ret;
}

/* Plaintext and ciphertext pages of mm, counted in its page tables. */
static void rc_mm_measure(struct mm_struct *mm, unsigned long *plain,
			  unsigned long *cipher)
{
	struct vm_area_struct *vma;
	unsigned long addr = 0;

	mmap_read_lock(mm);
	while ((vma = find_vma(mm, addr))) {
		addr = vma->vm_end;
		if (rc_pages_vma_eligible(vma))
			rc_pages_count(vma, vma->vm_start, vma->vm_end, plain, cipher);
	}
	mmap_read_unlock(mm);
}

int rc_procs_stats(pid_t pid, struct ramcrypt_proc_stats *st)
{
	unsigned long plain = 0, cipher = 0;
	struct mm_struct *mm;
	struct rc_mm *rc;

	mm = rc_target_mm(pid, NULL);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	rc = rc_mm_get(mm);
	if (!rc) {
		mmput(mm);
		return -ENOENT;
	}
	/*
	 * The caller's own faults in this ioctl (copy_from_user of *st) are only
	 * folded into the window on return to user space: fold them in now, so the
	 * answer is the state the caller returns to.
	 */
	if (mm == current->mm)
		rc_mm_update(rc, mm, false);

	mutex_lock(&rc->lock);
	rc_mm_measure(mm, &plain, &cipher);
	st->window = rc->window;
	mutex_unlock(&rc->lock);

	st->state = 0;
	if (rc->flags & RAMCRYPT_PROTECT_INHERIT_EXEC)
		st->state |= RAMCRYPT_PROC_INHERIT_EXEC;
	if (atomic_long_read(&rc->st.degraded_events))
		st->state |= RAMCRYPT_PROC_DEGRADED;
	if (READ_ONCE(rc->swap_exposed))
		st->state |= RAMCRYPT_PROC_SWAP;
	st->swapped_pages = get_mm_counter(mm, MM_SWAPENTS);
	/* Measured in the page table, not taken from the FIFO's bookkeeping. */
	st->window_pages = plain;
	st->encrypted_pages = cipher;
	st->faults = atomic_long_read(&rc->faults);
	st->encryptions = atomic_long_read(&rc->st.encryptions);
	st->decryptions = atomic_long_read(&rc->st.decryptions);
	st->scanner_pages = atomic_long_read(&rc->st.scanner_pages);
	st->skipped_pinned = atomic_long_read(&rc->st.skipped_pinned);
	st->skipped_shared = atomic_long_read(&rc->st.skipped_shared);
	st->skipped_swapcache = atomic_long_read(&rc->st.skipped_swapcache);
	st->degraded_events = atomic_long_read(&rc->st.degraded_events);
	rc_mm_put(rc);
	mmput(mm);
	return 0;
}

long rc_procs_list(pid_t *pids, size_t cap)
{
	struct rc_mm *rc;
	long n = 0;
	int bkt;

	rcu_read_lock();
	hash_for_each_rcu(rc_mm_hash, bkt, rc, hnode) {
		pid_t nr = pid_vnr(rc->pid);

		if (!nr)
			continue;	/* not visible in the caller's namespace */
		if (n < cap)
			pids[n] = nr;
		n++;
	}
	rcu_read_unlock();
	return n;
}

void rc_procs_status(struct ramcrypt_status *st)
{
	unsigned long plain = 0, cipher = 0;
	struct rc_mm *rc, **refs;
	int bkt, n = 0, cap, i;

	st->protected_procs = atomic_read(&rc_nr_protected);
	st->encrypted_pages = rc_pages_in_use();
	/*
	 * Plaintext pages, measured in every protected mm's page tables rather than
	 * summed from the windows' bookkeeping: pinned pages, pages the cap held back
	 * and faults not yet folded in are plaintext too. Walking sleeps: take
	 * references under RCU first (a process protected meanwhile is not counted).
	 */
	cap = atomic_read(&rc_nr_protected) + 8;
	refs = kvmalloc_array(cap, sizeof(*refs), GFP_KERNEL);
	rcu_read_lock();
	hash_for_each_rcu(rc_mm_hash, bkt, rc, hnode) {
		if (READ_ONCE(rc->swap_exposed))
			st->degraded |= RAMCRYPT_DEGRADED_SWAP;
		if (refs && n < cap && kref_get_unless_zero(&rc->ref))
			refs[n++] = rc;
	}
	rcu_read_unlock();
	for (i = 0; i < n; i++) {
		struct mm_struct *mm = refs[i]->mn.mm;

		if (mmget_not_zero(mm)) {
			rc_mm_measure(mm, &plain, &cipher);
			mmput(mm);
		}
		rc_mm_put(refs[i]);
	}
	kvfree(refs);
	st->window_pages = plain;
	st->encryptions = atomic_long_read(&rc_pages_global.encryptions);
	st->decryptions = atomic_long_read(&rc_pages_global.decryptions);
	st->scanner_passes = atomic_long_read(&rc_scanner_passes);
	st->skipped_pinned = atomic_long_read(&rc_pages_global.skipped_pinned);
	st->skipped_shared = atomic_long_read(&rc_pages_global.skipped_shared);
	st->skipped_swapcache = atomic_long_read(&rc_pages_global.skipped_swapcache);
	st->degraded_events = atomic_long_read(&rc_pages_global.degraded_events);
	st->wiped_at_exit = atomic_long_read(&rc_pages_global.wiped_at_exit);
	st->inherit_failures = atomic_long_read(&rc_inherit_failures);
	if (st->inherit_failures)
		st->degraded |= RAMCRYPT_DEGRADED_INHERIT;
	st->init_on_free = want_init_on_free();
	if (st->degraded_events)
		st->degraded |= RAMCRYPT_DEGRADED_NOMEM;
}

void rc_procs_show(struct seq_file *m)
{
	struct rc_mm *rc;
	int bkt;

	seq_puts(m, "pid window window_used faults encryptions decryptions scanner_pages skipped_pinned skipped_shared skipped_swapcache degraded_events\n");
	rcu_read_lock();
	hash_for_each_rcu(rc_mm_hash, bkt, rc, hnode)
		seq_printf(m, "%d %u %u %ld %ld %ld %ld %ld %ld %ld %ld\n",
			   pid_vnr(rc->pid), READ_ONCE(rc->window),
			   READ_ONCE(rc->fifo_count),
			   atomic_long_read(&rc->faults),
			   atomic_long_read(&rc->st.encryptions),
			   atomic_long_read(&rc->st.decryptions),
			   atomic_long_read(&rc->st.scanner_pages),
			   atomic_long_read(&rc->st.skipped_pinned),
			   atomic_long_read(&rc->st.skipped_shared),
			   atomic_long_read(&rc->st.skipped_swapcache),
			   atomic_long_read(&rc->st.degraded_events));
	rcu_read_unlock();
	seq_printf(m, "# faults %ld scanner_passes %ld ciphertext_pages %lu device_pages %lu\n",
		   atomic_long_read(&rc_faults), atomic_long_read(&rc_scanner_passes),
		   rc_pages_in_use(), rc_pages_device_pages());
}

/* ---- tracepoints ---- */

struct rc_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;
};

static struct rc_tp rc_tps[] = {
	{ "page_fault_user", rc_probe_fault },
	{ "page_fault_kernel", rc_probe_fault },
	{ "sched_process_fork", rc_probe_fork },
	{ "sched_process_exec", rc_probe_exec },
	{ "sched_process_exit", rc_probe_exit },
};

static void rc_tp_find(struct tracepoint *tp, void *priv)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rc_tps); i++)
		if (!strcmp(tp->name, rc_tps[i].name))
			rc_tps[i].tp = tp;
}

static void rc_tp_unregister(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rc_tps); i++) {
		if (rc_tps[i].tp)
			tracepoint_probe_unregister(rc_tps[i].tp, rc_tps[i].probe, NULL);
	}
	/* No probe runs any more, nor will it see our code again. */
	tracepoint_synchronize_unregister();
}

int rc_procs_init(void)
{
	unsigned int i;
	int ret;

	ret = register_kretprobe(&rc_creds_krp);
	if (ret) {
		pr_err("kretprobe on commit_creds: %d\n", ret);
		return ret;
	}
	for_each_kernel_tracepoint(rc_tp_find, NULL);
	for (i = 0; i < ARRAY_SIZE(rc_tps); i++) {
		if (!rc_tps[i].tp) {
			pr_err("tracepoint %s not found\n", rc_tps[i].name);
			ret = -ENOENT;
			goto err;
		}
		ret = tracepoint_probe_register(rc_tps[i].tp, rc_tps[i].probe, NULL);
		if (ret) {
			pr_err("tracepoint %s: %d\n", rc_tps[i].name, ret);
			rc_tps[i].tp = NULL;
			goto err;
		}
	}
	return 0;
err:
	rc_tp_unregister();
	for (i = 0; i < ARRAY_SIZE(rc_tps); i++)
		rc_tps[i].tp = NULL;
	unregister_kretprobe(&rc_creds_krp);
	return ret;
}

void rc_procs_uninit(void)
{
	struct rc_inherit *in, *tmp;

	/* Every protected mm holds a module reference: none is left here. */
	WRITE_ONCE(rc_shutting_down, true);
	rc_tp_unregister();
	unregister_kretprobe(&rc_creds_krp);
	cancel_delayed_work_sync(&rc_scan_work);
	list_for_each_entry_safe(in, tmp, &rc_exec_pending, node) {
		list_del(&in->node);
		kfree(in);	/* its module reference cannot exist at unload */
	}
	/* rc_mn_free() of the last unprotected mms. */
	mmu_notifier_synchronize();
	rcu_barrier();
}

/* For the seal code: secrets are unsealed only into a protected mm. */
bool rc_procs_mm_protected(struct mm_struct *mm)
{
	bool ret;

	rcu_read_lock();
	ret = rc_mm_lookup(mm) != NULL;
	rcu_read_unlock();
	return ret;
}
