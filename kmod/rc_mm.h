/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process tracking, inside the module: struct rc_mm (one per protected mm) and what
 * its units share. procs.c: lookup, lifetime, protect/unprotect, the ioctl back-ends
 * that change state, the tracepoints; window.c: the window (FIFO + hash set) and
 * its update; faults.c: the fault probe and the pending list; inherit.c: fork, exec
 * and exit; scanner.c: the periodic pass; stats.c: statistics and listing.
 *
 * Lock order: rc_procs_mutex -> rc_mm.lock -> mmap_lock -> rc_hash_lock /
 * rc_mm.pend_lock / rc_exec_lock. The spinlocks are leaves and are taken from the
 * fault probe with interrupts off, so everyone takes them irqsave.
 */
#ifndef RAMCRYPT_RC_MM_H
#define RAMCRYPT_RC_MM_H

#include <linux/hashtable.h>
#include <linux/kref.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>

#include "pages.h"

struct linux_binprm;
struct pt_regs;

#define RC_PEND		64	/* faults recorded, not yet processed, all threads */

/*
 * One tier's window, under rc_mm.lock: a ring of the page addresses in it, oldest
 * first, with the time each came in, and a hash set of the same (window.c).
 */
struct rc_win {
	unsigned int window;
	unsigned int fifo_head, fifo_count;
	unsigned long *fifo;		/* window entries, ring; one allocation with: */
	unsigned long *fifo_time;	/* jiffies each entry came in, same ring */
	unsigned long *sorted;		/* scratch: window sorted, for passes */
	unsigned long *set;		/* the window as a hash set (rc_set_*) */
	unsigned int set_bits;
};

/* The tiers: a page in a secret region is in RC_TIER_SECRET, any other in RC_TIER_ORD. */
enum { RC_TIER_ORD, RC_TIER_SECRET, RC_TIERS };

/*
 * Secret regions of an mm (secret.c): sorted, disjoint, not adjacent. Never changed
 * once published: a new mark replaces the whole set (RCU, for the fork probe).
 */
struct rc_regions {
	struct rcu_head rcu;
	unsigned int nr;
	struct rc_range {
		unsigned long start, end;
	} r[];
};

/* What PROTECT asked for, and what a child or exec inherits. */
struct rc_params {
	u64 flags;			/* RAMCRYPT_PROTECT_* */
	unsigned int window;		/* ordinary tier */
	unsigned int secret_window;
	unsigned int max_plain_age_ms;	/* with RAMCRYPT_PROTECT_PLAIN_AGE */
	unsigned int secret_plain_age_ms; /* with RAMCRYPT_PROTECT_SECRET_AGE */
};


struct rc_mm {
	struct mmu_notifier mn;		/* mn.mm: the protected mm (mmgrab'ed) */
	struct hlist_node hnode;	/* rc_mm_hash, under rc_hash_lock + RCU */
	struct kref ref;		/* protection + queued works + scanner */
	struct rcu_head rcu;
	struct list_head scan_node;	/* the scanner's private list */
	struct delayed_work kick;	/* a full pass soon: rc_mm_kick() */
	struct delayed_work secret_expiry; /* the secret window's age: rc_secret_expiry_fn() */
	struct pid *pid;		/* thread group, for list/stats */
	u64 flags;			/* RAMCRYPT_PROTECT_* */
	unsigned int max_plain_age_ms;	/* with RAMCRYPT_PROTECT_PLAIN_AGE */
	unsigned int secret_plain_age_ms; /* with RAMCRYPT_PROTECT_SECRET_AGE */
	int saved_dumpable;
	bool dead;			/* unhashed; under rc_hash_lock */
	bool exec_handled;		/* INHERIT_EXEC passed on (xchg) */
	bool swap_exposed;		/* it could swap since protect: sticky */

	/* The windows: under lock. Held across encryption so passes serialise. */
	struct mutex lock;
	struct rc_win win[RC_TIERS];
	struct rc_regions __rcu *secret;	/* written under lock; NULL: none */
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


/* Protection to install in a new mm: fork child, or after execve. */
struct rc_inherit {
	struct callback_head cb;
	struct list_head node;		/* rc_exec_pending */
	struct task_struct *task;	/* exec: the task whose exec is pending */
	struct rc_params p;
	struct rc_regions *secret;	/* fork: the parent's secret regions, or NULL */
};

/* procs.c */
#define RC_MM_HASH_BITS	7
extern spinlock_t rc_hash_lock;
extern struct hlist_head rc_mm_hash[1 << RC_MM_HASH_BITS];
extern atomic_t rc_nr_protected;
extern bool rc_shutting_down;
struct rc_mm *rc_mm_lookup(struct mm_struct *mm);
struct rc_mm *rc_mm_get(struct mm_struct *mm);
void rc_mm_put(struct rc_mm *rc);
bool rc_mm_unhash(struct rc_mm *rc);
void rc_note_swap(struct rc_mm *rc, struct mm_struct *mm);
int rc_protect_mm(struct mm_struct *mm, struct pid *tgid,
		  const struct rc_params *p, struct rc_regions *secret);
struct mm_struct *rc_target_mm(pid_t pid, struct pid **tgidp);

/* window.c */
unsigned long *rc_window_alloc(unsigned int window);
void rc_window_install(struct rc_win *win, unsigned long *buf, unsigned int window);
unsigned long rc_fifo_pop(struct rc_win *win);
void rc_fifo_push(struct rc_win *win, unsigned long addr);
void rc_fifo_expire(struct rc_mm *rc);
unsigned int rc_plain_age_ms(struct rc_mm *rc, int tier);
void rc_secret_expiry_fn(struct work_struct *work);
void rc_fifo_drop_range(struct rc_win *win, unsigned long start, unsigned long end);
unsigned long rc_mm_pass(struct rc_mm *rc, struct mm_struct *mm,
			 unsigned long addr, unsigned long end);
void rc_mm_update(struct rc_mm *rc, struct mm_struct *mm, bool full);

/* secret.c */
bool rc_secret_page(struct rc_mm *rc, struct vm_area_struct *vma, unsigned long addr);
struct rc_regions *rc_regions_dup(struct rc_regions __rcu **src, gfp_t gfp);
unsigned int rc_secret_measure(struct rc_mm *rc, struct mm_struct *mm, unsigned long *plain);

/* faults.c */
extern atomic_long_t rc_faults;
unsigned int rc_pend_take(struct rc_mm *rc, unsigned long *pend, bool *overflow);
void rc_kick_fn(struct work_struct *work);
void rc_mm_kick(struct rc_mm *rc);
void rc_probe_fault(void *data, unsigned long address, struct pt_regs *regs,
		    unsigned long error_code);

/* inherit.c */
extern spinlock_t rc_exec_lock;
extern struct list_head rc_exec_pending;
extern atomic_long_t rc_inherit_failures;
struct rc_inherit *rc_inherit_alloc(struct rc_mm *rc, gfp_t gfp, bool with_regions);
void rc_inherit_free(struct rc_inherit *in);
void rc_probe_fork(void *data, struct task_struct *parent, struct task_struct *child);
void rc_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
		   struct linux_binprm *bprm);
void rc_probe_exit(void *data, struct task_struct *p);

/* scanner.c */
extern struct delayed_work rc_scan_work;
extern atomic_long_t rc_scanner_passes;

#endif
