// SPDX-License-Identifier: GPL-2.0
/*
 * Fault tracking: the probe on the x86 page-fault tracepoints records the
 * address in the mm's pending list and queues task_work; the work folds the
 * task's own faults into the window before it returns to user space. A kick
 * asks for a full pass of an mm soon, when faults were lost or no task will
 * fold them in.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "pages.h"
#include "procs.h"
#include "profile.h"
#include "rc_mm.h"

atomic_long_t rc_faults;

struct rc_fault_work {
	struct callback_head cb;
	struct rc_mm *rc;
};

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
unsigned int rc_pend_take(struct rc_mm *rc, unsigned long *pend,
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

/* Delay of a kick: the exiting task's fault completes in microseconds. */
#define RC_KICK_MS	10

void rc_kick_fn(struct work_struct *work)
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
void rc_mm_kick(struct rc_mm *rc)
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

void rc_probe_fault(void *data, unsigned long address,
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
