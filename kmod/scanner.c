// SPDX-License-Identifier: GPL-2.0
/*
 * The scanner: a delayed work that, every scan_interval_ms, walks every protected
 * mm, drops window entries older than max_plain_age_ms and encrypts every
 * plaintext page outside the window: pages that appeared without a fault (GUP,
 * MAP_POPULATE, /proc/PID/mem) and the expired ones.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "pages.h"
#include "procs.h"
#include "profile.h"
#include "rc_mm.h"

atomic_long_t rc_scanner_passes;

static void rc_scan_fn(struct work_struct *work);
DECLARE_DELAYED_WORK(rc_scan_work, rc_scan_fn);

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
