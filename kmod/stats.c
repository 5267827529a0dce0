// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics: RAMCRYPT_IOC_PROC_STATS, LIST and STATUS back-ends and the debugfs
 * procs file. Plaintext and ciphertext pages are measured in the page tables.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "compat.h"
#include "pages.h"
#include "procs.h"
#include "profile.h"
#include "rc_mm.h"

void rc_procs_note_decrypt(struct mm_struct *mm, unsigned long n)
{
	struct rc_mm *rc;

	rcu_read_lock();
	rc = rc_mm_lookup(mm);
	if (rc)
		atomic_long_add(n, &rc->st.decryptions);
	rcu_read_unlock();
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
	unsigned long plain = 0, cipher = 0, secret = 0;
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
	st->secret_regions = rc_secret_measure(rc, mm, &secret);
	st->window = rc->win[RC_TIER_ORD].window;
	st->secret_window = rc->win[RC_TIER_SECRET].window;
	mutex_unlock(&rc->lock);
	st->secret_window_pages = secret;
	st->max_plain_age_ms = rc_plain_age_ms(rc, RC_TIER_ORD);
	st->secret_plain_age_ms = rc_plain_age_ms(rc, RC_TIER_SECRET);

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
	unsigned long plain = 0, cipher = 0, secret = 0;
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
			mutex_lock(&refs[i]->lock);
			rc_secret_measure(refs[i], mm, &secret);
			mutex_unlock(&refs[i]->lock);
			mmput(mm);
		}
		rc_mm_put(refs[i]);
	}
	kvfree(refs);
	st->window_pages = plain;
	st->secret_window_pages = secret;
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

	seq_puts(m, "pid window window_used secret_window secret_used faults encryptions decryptions scanner_pages skipped_pinned skipped_shared skipped_swapcache degraded_events\n");
	rcu_read_lock();
	hash_for_each_rcu(rc_mm_hash, bkt, rc, hnode)
		seq_printf(m, "%d %u %u %u %u %ld %ld %ld %ld %ld %ld %ld %ld\n",
			   pid_vnr(rc->pid), READ_ONCE(rc->win[RC_TIER_ORD].window),
			   READ_ONCE(rc->win[RC_TIER_ORD].fifo_count),
			   READ_ONCE(rc->win[RC_TIER_SECRET].window),
			   READ_ONCE(rc->win[RC_TIER_SECRET].fifo_count),
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
