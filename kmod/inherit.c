// SPDX-License-Identifier: GPL-2.0
/*
 * Protection passed on: a fork child gets task_work that protects its mm before
 * its first user instruction; with RAMCRYPT_PROTECT_INHERIT_EXEC, an exec (and a
 * CLONE_VM child's exec) protects the new mm at sched_process_exec. Entries for
 * execs to come wait on rc_exec_pending; sched_process_exit drops those of a task
 * that never execs. The exec side of the old mm's release is in procs.c.
 */
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>

#include "compat.h"
#include "pages.h"
#include "procs.h"
#include "profile.h"
#include "rc_mm.h"

/* Children or exec'ed programs that could not be protected (memory, module going). */
atomic_long_t rc_inherit_failures = ATOMIC_LONG_INIT(0);
DEFINE_SPINLOCK(rc_exec_lock);
LIST_HEAD(rc_exec_pending);

static void rc_inherit_work(struct callback_head *cb)
{
	struct rc_inherit *in = container_of(cb, struct rc_inherit, cb);
	int ret;

	if (current->mm && !(current->flags & PF_EXITING)) {
		ret = rc_protect_mm(current->mm, task_tgid(current), &in->p,
				    in->secret);
		in->secret = NULL;
		if (ret && ret != -EEXIST) {
			atomic_long_inc(&rc_inherit_failures);
			pr_warn_ratelimited("pid %d: protection not inherited: %d\n",
					    task_tgid_nr(current), ret);
		}
	}
	kfree(in->secret);
	kfree(in);
	module_put(THIS_MODULE);
}

struct rc_inherit *rc_inherit_alloc(struct rc_mm *rc, gfp_t gfp, bool with_regions)
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
	in->p.flags = rc->flags;
	in->p.window = READ_ONCE(rc->win[RC_TIER_ORD].window);
	in->p.secret_window = rc->win[RC_TIER_SECRET].window;
	in->p.max_plain_age_ms = rc->max_plain_age_ms;
	in->p.secret_plain_age_ms = rc->secret_plain_age_ms;
	/* A fork child has the same memory, so the same secrets; an exec has neither. */
	if (with_regions) {
		in->secret = rc_regions_dup(&rc->secret, gfp);
		if (IS_ERR(in->secret)) {
			kfree(in);
			module_put(THIS_MODULE);
			return NULL;
		}
	}
	return in;
}

void rc_inherit_free(struct rc_inherit *in)
{
	kfree(in->secret);
	kfree(in);
	module_put(THIS_MODULE);
}

/*
 * sched_process_fork, preemption off. The child has not run yet; its task_work
 * protects its mm before its first user instruction. Its pages are the parent's
 * ciphertext (shared device-private entries) plus the parent's window pages.
 */
void rc_probe_fork(void *data, struct task_struct *parent,
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

			in = rc_inherit_alloc(rc, GFP_ATOMIC | __GFP_NOWARN, false);
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
	in = rc_inherit_alloc(rc, GFP_ATOMIC | __GFP_NOWARN, true);
	rc_mm_put(rc);
	if (in && !task_work_add(child, &in->cb, TWA_RESUME))
		return;
	if (in)
		rc_inherit_free(in);
	atomic_long_inc(&rc_inherit_failures);
}

/* sched_process_exec: the new mm is in place; protect it if the old one asked. */
void rc_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
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
				found = rc_inherit_alloc(rc, GFP_ATOMIC | __GFP_NOWARN, false);
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
void rc_probe_exit(void *data, struct task_struct *p)
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
