/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process tracking: which mms are protected, their windows and statistics.
 * pid 0 means the caller. Every call checks that the caller may ptrace-attach
 * the target (PTRACE_MODE_ATTACH_REALCREDS) and returns -errno.
 */
#ifndef RAMCRYPT_PROCS_H
#define RAMCRYPT_PROCS_H

#include <linux/types.h>
#include <uapi/linux/ramcrypt.h>

struct mm_struct;
struct seq_file;

int rc_procs_init(void);
void rc_procs_uninit(void);

int rc_procs_protect(pid_t pid, const struct ramcrypt_protect *p);
int rc_procs_unprotect(pid_t pid);
int rc_procs_set_window(pid_t pid, u64 window);
int rc_procs_stats(pid_t pid, struct ramcrypt_proc_stats *st);
/* Mark a range of the caller's memory secret (RAMCRYPT_IOC_SECRET_REGION; secret.c). */
int rc_procs_secret_region(u64 addr, u64 len);
/* Store up to cap pids; return the number of protected processes (>= 0) or -errno. */
long rc_procs_list(pid_t *pids, size_t cap);
/* Fill the page-engine fields of a status reply. */
void rc_procs_status(struct ramcrypt_status *st);

/* Tunables (sysctl /proc/sys/ramcrypt, module parameters); see control.c. */
#define RC_WINDOW_HARD_MAX	4096
extern unsigned int rc_default_window;
extern unsigned int rc_max_window;
extern unsigned int rc_scan_interval_ms;
extern unsigned int rc_allow_swap;	/* protect even where plaintext can swap */
extern unsigned int rc_max_plain_age_ms;	/* idle expiry of window pages, 0: off */
extern unsigned int rc_secret_plain_age_ms;	/* expiry of the secret window, 0: as above */
/* Re-arm the scanner after scan_interval_ms changed. */
void rc_procs_scanner_kick(void);

/* debugfs: one line per protected process. */
void rc_procs_show(struct seq_file *m);
/* The page engine decrypted n pages of mm on a fault (any context with mm alive). */
void rc_procs_note_decrypt(struct mm_struct *mm, unsigned long n);
/* Is mm protected right now? (RAMCRYPT_IOC_UNSEAL) */
bool rc_procs_mm_protected(struct mm_struct *mm);

#endif
