// SPDX-License-Identifier: GPL-2.0
/*
 * Process tracking: one struct rc_mm per protected mm, holding its window (a FIFO
 * of the most recently faulted plaintext pages) and its statistics.
 *
 * This file: lookup and lifetime of an rc_mm, protect and unprotect, the
 * ioctl back-ends that change state, and the tracepoints. The rest, by event:
 *  - user page fault (x86 tracepoints page_fault_user/page_fault_kernel, atomic
 *    context, mmap_lock maybe held): rc_probe_fault() only records the address in
 *    the mm's pending ring and queues task_work (faults.c);
 *  - return to user space of the faulting task: rc_fault_work() moves pending
 *    addresses into the window and encrypts the pages that fell out of it
 *    (window.c: the FIFO, its hash set, rc_mm_update());
 *  - fork (sched_process_fork): the child inherits protection through task_work
 *    that runs before its first user instruction; exec (mmu_notifier release of
 *    the old mm inside execve, then sched_process_exec) likewise when the process
 *    was protected with RAMCRYPT_PROTECT_INHERIT_EXEC (inherit.c);
 *  - mm teardown: the mmu_notifier release callback unhashes the rc_mm; the
 *    ciphertext goes with the page tables (dev_pagemap_ops.page_free);
 *  - a periodic scanner encrypts plaintext pages that appeared without a fault
 *    (scanner.c);
 *  - statistics, LIST and STATUS measure the page tables (stats.c).
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
#include "rc_mm.h"

unsigned int rc_default_window = 6;
unsigned int rc_max_window = 1024;
unsigned int rc_scan_interval_ms = 1000;
unsigned int rc_allow_swap;
unsigned int rc_max_plain_age_ms = 1000;
unsigned int rc_secret_plain_age_ms = 20;

static DEFINE_MUTEX(rc_procs_mutex);	/* protect/unprotect against each other */
DEFINE_SPINLOCK(rc_hash_lock);
DEFINE_HASHTABLE(rc_mm_hash, RC_MM_HASH_BITS);
atomic_t rc_nr_protected;
bool rc_shutting_down;

/* ---- lookup and lifetime ---- */

/* Caller holds rcu_read_lock() or rc_hash_lock. */
struct rc_mm *rc_mm_lookup(struct mm_struct *mm)
{
	struct rc_mm *rc;

	hash_for_each_possible_rcu(rc_mm_hash, rc, hnode, (unsigned long)mm)
		if (rc->mn.mm == mm)
			return rc;
	return NULL;
}

struct rc_mm *rc_mm_get(struct mm_struct *mm)
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

void rc_mm_put(struct rc_mm *rc)
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

	/* No RCU reader looks at the windows; the regions' readers hold a reference. */
	kfree(rc->win[RC_TIER_ORD].fifo);
	kfree(rc->win[RC_TIER_SECRET].fifo);
	kfree(rcu_dereference_protected(rc->secret, true));
	call_rcu(&rc->rcu, rc_mm_free_rcu);
	module_put(THIS_MODULE);
}

/*
 * Take rc out of the hash: no new faults are recorded, the scanner and new
 * protect calls no longer see it. Returns true for the one caller that did it,
 * which then owns the hash's reference.
 */
bool rc_mm_unhash(struct rc_mm *rc)
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
void rc_note_swap(struct rc_mm *rc, struct mm_struct *mm)
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

static int rc_secret_window_valid(u64 window)
{
	return window >= RAMCRYPT_MIN_SECRET_WINDOW && window <= READ_ONCE(rc_max_window);
}

/*
 * Protect mm. The caller holds mm_users. tgid names the process in list/stats.
 * secret: its secret regions (a fork child's copy of its parent's), owned by the
 * call from here on.
 */
int rc_protect_mm(struct mm_struct *mm, struct pid *tgid,
		  const struct rc_params *p, struct rc_regions *secret)
{
	struct task_struct *task;
	unsigned long irqflags, *buf;
	struct rc_mm *rc;
	int ret = -ENODEV;

	if (READ_ONCE(rc_shutting_down))
		goto err_regions;
	/* A protected mm holds a module reference: rmmod waits for unprotect. */
	if (!try_module_get(THIS_MODULE))
		goto err_regions;
	ret = -ENOMEM;
	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc)
		goto err_module;
	buf = rc_window_alloc(p->window);
	if (!buf)
		goto err_free;
	rc_window_install(&rc->win[RC_TIER_ORD], buf, p->window);
	buf = rc_window_alloc(p->secret_window);
	if (!buf)
		goto err_free;
	rc_window_install(&rc->win[RC_TIER_SECRET], buf, p->secret_window);
	RCU_INIT_POINTER(rc->secret, secret);
	secret = NULL;
	kref_init(&rc->ref);
	mutex_init(&rc->lock);
	spin_lock_init(&rc->pend_lock);
	INIT_LIST_HEAD(&rc->scan_node);
	INIT_DELAYED_WORK(&rc->kick, rc_kick_fn);
	INIT_DELAYED_WORK(&rc->secret_expiry, rc_secret_expiry_fn);
	rc->flags = p->flags;
	rc->max_plain_age_ms = p->max_plain_age_ms;
	rc->secret_plain_age_ms = p->secret_plain_age_ms;
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
	kfree(rc->win[RC_TIER_ORD].fifo);
	kfree(rc->win[RC_TIER_SECRET].fifo);
	secret = rcu_dereference_protected(rc->secret, true);
	kfree(rc);
err_module:
	module_put(THIS_MODULE);
err_regions:
	kfree(secret);
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
		struct rc_inherit *in = rc_inherit_alloc(rc, GFP_KERNEL, false);

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
struct mm_struct *rc_target_mm(pid_t pid, struct pid **tgidp)
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

int rc_procs_protect(pid_t pid, const struct ramcrypt_protect *req)
{
	struct rc_params p = {
		.flags = req->flags,
		.window = req->window ?: READ_ONCE(rc_default_window),
		.secret_window = req->secret_window ?: RAMCRYPT_MIN_SECRET_WINDOW,
		.max_plain_age_ms = req->max_plain_age_ms,
		.secret_plain_age_ms = req->secret_plain_age_ms,
	};
	struct mm_struct *mm;
	struct pid *tgid;
	int ret;

	if (req->flags & ~RAMCRYPT_PROTECT_FLAGS ||
	    memchr_inv(req->reserved, 0, sizeof(req->reserved)) ||
	    req->max_plain_age_ms > RAMCRYPT_PLAIN_AGE_MAX_MS ||
	    (req->max_plain_age_ms && !(req->flags & RAMCRYPT_PROTECT_PLAIN_AGE)) ||
	    req->secret_plain_age_ms > RAMCRYPT_PLAIN_AGE_MAX_MS ||
	    (req->secret_plain_age_ms && !(req->flags & RAMCRYPT_PROTECT_SECRET_AGE)))
		return -EINVAL;
	if (!rc_window_valid(p.window) || !rc_secret_window_valid(p.secret_window))
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
		ret = rc_protect_mm(mm, tgid, &p, NULL);
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
	struct rc_win *win;
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
	/* The ordinary window; the secret one keeps the size it was protected with. */
	win = &rc->win[RC_TIER_ORD];
	mutex_lock(&rc->lock);
	/* Keep the newest entries that fit; the pass below encrypts the rest. */
	while (win->fifo_count > window)
		rc_fifo_pop(win);
	/* Oldest first into the new ring, with their ages (sorted[] is scratch). */
	n = win->fifo_count;
	for (i = 0; i < n; i++)
		buf[window + i] = win->fifo[(win->fifo_head + i) % win->window];
	old = win->fifo;
	old_time = win->fifo_time;
	old_head = win->fifo_head;
	old_window = win->window;
	rc_window_install(win, buf, window);
	for (i = 0; i < n; i++) {
		rc_fifo_push(win, buf[window + i]);
		win->fifo_time[i] = old_time[(old_head + i) % old_window];
	}
	WRITE_ONCE(win->window, window);
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
