/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a window miss spends its time: cycle counters per phase, only in the
 * benchmark build (RAMCRYPT_BENCH=y, `make bench`), read and reset through
 * debugfs ramcrypt/profile. In a normal build every call compiles to nothing.
 */
#ifndef RAMCRYPT_PROFILE_H
#define RAMCRYPT_PROFILE_H

#include <linux/types.h>

struct dentry;

enum rc_prof_phase {
	RC_PROF_PROBE,		/* fault tracepoint probe: record + queue task_work */
	RC_PROF_M2R,		/* migrate_to_ram, whole (decrypt side) */
	RC_PROF_M2R_SETUP,	/*   migrate_vma_setup */
	RC_PROF_M2R_ALLOC,	/*   page allocation */
	RC_PROF_M2R_CIPHER,	/*   decrypt */
	RC_PROF_M2R_PAGES,	/*   migrate_vma_pages */
	RC_PROF_M2R_FINAL,	/*   migrate_vma_finalize */
	RC_PROF_WORK,		/* fault task_work, whole (evict side) */
	RC_PROF_WORK_DRAIN,	/*   lru_add_drain */
	RC_PROF_WORK_BOOK,	/*   window bookkeeping (locks, pending, FIFO) */
	RC_PROF_ENC_PREP,	/*   encrypt: page-table walk + COW-sharing check */
	RC_PROF_ENC_SETUP,	/*   encrypt: migrate_vma_setup (unmap, TLB flush) */
	RC_PROF_ENC_ALLOC,	/*   encrypt: ciphertext + device page allocation */
	RC_PROF_ENC_CIPHER,	/*   encrypt: AES */
	RC_PROF_ENC_PAGES,	/*   encrypt: migrate_vma_pages */
	RC_PROF_ENC_CLEAR,	/*   encrypt: zero the plaintext */
	RC_PROF_ENC_FINAL,	/*   encrypt: migrate_vma_finalize */
	RC_PROF_NR
};

#ifdef RAMCRYPT_BENCH
#include <asm/timex.h>
void rc_prof_add(enum rc_prof_phase phase, u64 start);
static inline u64 rc_prof_now(void) { return get_cycles(); }
void rc_profile_debugfs(struct dentry *dir);
#else
static inline void rc_prof_add(enum rc_prof_phase phase, u64 start) {}
static inline u64 rc_prof_now(void) { return 0; }
static inline void rc_profile_debugfs(struct dentry *dir) {}
#endif

#endif
