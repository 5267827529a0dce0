// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark build only (see profile.h): per-phase cycle totals of the fault path.
 * Reading debugfs ramcrypt/profile prints "phase calls cycles" lines; writing
 * anything resets the counters. scripts/bench turns them into the breakdown table
 * of docs/bench/README.md.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>

#include "profile.h"

static const char *const rc_prof_names[RC_PROF_NR] = {
	[RC_PROF_PROBE] = "probe",
	[RC_PROF_M2R] = "m2r",
	[RC_PROF_M2R_SETUP] = "m2r_setup",
	[RC_PROF_M2R_ALLOC] = "m2r_alloc",
	[RC_PROF_M2R_CIPHER] = "m2r_cipher",
	[RC_PROF_M2R_PAGES] = "m2r_pages",
	[RC_PROF_M2R_FINAL] = "m2r_final",
	[RC_PROF_WORK] = "work",
	[RC_PROF_WORK_DRAIN] = "work_drain",
	[RC_PROF_WORK_BOOK] = "work_book",
	[RC_PROF_ENC_PREP] = "enc_prep",
	[RC_PROF_ENC_SETUP] = "enc_setup",
	[RC_PROF_ENC_ALLOC] = "enc_alloc",
	[RC_PROF_ENC_CIPHER] = "enc_cipher",
	[RC_PROF_ENC_PAGES] = "enc_pages",
	[RC_PROF_ENC_CLEAR] = "enc_clear",
	[RC_PROF_ENC_FINAL] = "enc_final",
};

static atomic64_t rc_prof_calls[RC_PROF_NR], rc_prof_cycles[RC_PROF_NR];

void rc_prof_add(enum rc_prof_phase phase, u64 start)
{
	atomic64_inc(&rc_prof_calls[phase]);
	atomic64_add(get_cycles() - start, &rc_prof_cycles[phase]);
}

static int rc_prof_show(struct seq_file *m, void *v)
{
	int i;

	for (i = 0; i < RC_PROF_NR; i++)
		seq_printf(m, "%s %lld %lld\n", rc_prof_names[i],
			   atomic64_read(&rc_prof_calls[i]),
			   atomic64_read(&rc_prof_cycles[i]));
	return 0;
}

static int rc_prof_open(struct inode *inode, struct file *file)
{
	return single_open(file, rc_prof_show, NULL);
}

static ssize_t rc_prof_write(struct file *file, const char __user *buf,
			     size_t len, loff_t *ppos)
{
	int i;

	for (i = 0; i < RC_PROF_NR; i++) {
		atomic64_set(&rc_prof_calls[i], 0);
		atomic64_set(&rc_prof_cycles[i], 0);
	}
	return len;
}

static const struct file_operations rc_prof_fops = {
	.owner = THIS_MODULE,
	.open = rc_prof_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.write = rc_prof_write,
	.release = single_release,
};

void rc_profile_debugfs(struct dentry *dir)
{
	debugfs_create_file("profile", 0600, dir, NULL, &rc_prof_fops);
}
