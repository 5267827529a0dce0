// SPDX-License-Identifier: GPL-2.0
/*
 * Control plane: the /dev/ramcrypt misc device and its ioctls
 * (include/uapi/linux/ramcrypt.h), the policy sysctls in /proc/sys/ramcrypt/,
 * load-time defaults as module parameters, and statistics in debugfs.
 */
#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysctl.h>
#include <linux/uaccess.h>
#include <uapi/linux/ramcrypt.h>

#include "compat.h"
#include "control.h"
#include "keystore.h"
#include "pages.h"
#include "profile.h"
#include "procs.h"
#include "ramcrypt.h"
#include "seal.h"

#define RC_SCAN_MIN_MS		10
#define RC_SCAN_MAX_MS		3600000
#define RC_LIST_MAX		65536

module_param_named(default_window, rc_default_window, uint, 0444);
MODULE_PARM_DESC(default_window, "Window in pages for a protect without one (sysctl ramcrypt.default_window)");
module_param_named(max_window, rc_max_window, uint, 0444);
MODULE_PARM_DESC(max_window, "Largest window a process may get (sysctl ramcrypt.max_window)");
module_param_named(scan_interval_ms, rc_scan_interval_ms, uint, 0444);
MODULE_PARM_DESC(scan_interval_ms, "Scanner period (sysctl ramcrypt.scan_interval_ms)");
module_param_named(ciphertext_cap_pages, rc_pages_cap, ulong, 0444);
MODULE_PARM_DESC(ciphertext_cap_pages, "Most ciphertext pages in use, 0 = half of RAM (sysctl ramcrypt.ciphertext_cap_pages)");

/* A pid from the uapi: 0 (the caller) or a positive pid_t. */
static int rc_pid(u64 v, pid_t *pid)
{
	if (v > INT_MAX)
		return -EINVAL;
	*pid = v;
	return 0;
}

static long rc_ioctl_version(void __user *arg)
{
	struct ramcrypt_version v = {
		.abi = RAMCRYPT_ABI_VERSION,
		.module = ((u64)RAMCRYPT_VERSION_MAJOR << 32) |
			  (RAMCRYPT_VERSION_MINOR << 16) | RAMCRYPT_VERSION_PATCH,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long rc_ioctl_protect(void __user *arg)
{
	struct ramcrypt_protect p;
	pid_t pid;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if (rc_pid(p.pid, &pid) || (p.flags & ~RAMCRYPT_PROTECT_FLAGS) ||
	    p.window > RC_WINDOW_HARD_MAX || p.secret_window > RC_WINDOW_HARD_MAX)
		return -EINVAL;
	return rc_procs_protect(pid, &p);
}

static long rc_ioctl_secret_region(void __user *arg)
{
	struct ramcrypt_secret_region r;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (r.flags || r.reserved)
		return -EINVAL;
	return rc_procs_secret_region(r.addr, r.len);
}

static long rc_ioctl_unprotect(void __user *arg)
{
	struct ramcrypt_pid p;
	pid_t pid;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if (rc_pid(p.pid, &pid) || p.flags)
		return -EINVAL;
	return rc_procs_unprotect(pid);
}

static long rc_ioctl_set_window(void __user *arg)
{
	struct ramcrypt_window w;
	pid_t pid;

	if (copy_from_user(&w, arg, sizeof(w)))
		return -EFAULT;
	if (rc_pid(w.pid, &pid) || w.window > RC_WINDOW_HARD_MAX)
		return -EINVAL;
	return rc_procs_set_window(pid, w.window);
}

static long rc_ioctl_proc_stats(void __user *arg)
{
	struct ramcrypt_proc_stats st;
	pid_t pid;
	int ret;

	if (copy_from_user(&st, arg, sizeof(st)))
		return -EFAULT;
	if (rc_pid(st.pid, &pid) || memchr_inv(st.reserved, 0, sizeof(st.reserved)))
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	st.pid = pid;
	ret = rc_procs_stats(pid, &st);
	if (ret)
		return ret;
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long rc_ioctl_list(void __user *arg)
{
	struct ramcrypt_list l;
	size_t cap, i;
	pid_t *pids;
	long n;
	int ret = 0;

	if (copy_from_user(&l, arg, sizeof(l)))
		return -EFAULT;
	if (l.count && !l.pids)
		return -EINVAL;
	cap = min_t(u64, l.count, RC_LIST_MAX);
	pids = kvcalloc(max_t(size_t, cap, 1), sizeof(*pids), GFP_KERNEL);
	if (!pids)
		return -ENOMEM;
	n = rc_procs_list(pids, cap);
	for (i = 0; i < min_t(size_t, n, cap); i++) {
		u64 v = pids[i];

		if (put_user(v, (u64 __user *)u64_to_user_ptr(l.pids) + i)) {
			ret = -EFAULT;
			goto out;
		}
	}
	/* count: how many there are; more than the capacity means "call again". */
	l.count = n;
	if (copy_to_user(arg, &l, sizeof(l)))
		ret = -EFAULT;
out:
	kvfree(pids);
	return ret;
}

/*
 * perf_event_paranoid below 2 lets unprivileged users sample kernel state: CPU-wide
 * events with sample_regs_intr (at 0 and below) catch the cipher's general registers,
 * and with PEBS on Intel its XMM registers, the round keys. The module cannot stop a
 * PMU interrupt inside the cipher; it says so. sysctl_perf_event_paranoid is not
 * exported: read the sysctl as anyone would. INT_MAX: no perf in this kernel.
 */
static int rc_perf_paranoid(void)
{
	char buf[16] = {};
	loff_t pos = 0;
	struct file *f;
	int v = INT_MAX;

	f = filp_open("/proc/sys/kernel/perf_event_paranoid", O_RDONLY, 0);
	if (IS_ERR(f))
		return INT_MAX;
	if (kernel_read(f, buf, sizeof(buf) - 1, &pos) <= 0 || kstrtoint(strim(buf), 10, &v))
		v = INT_MAX;
	filp_close(f, NULL);
	return v;
}

static long rc_ioctl_status(void __user *arg)
{
	struct ramcrypt_status st = {};

	rc_keystore_status(&st);
	rc_procs_status(&st);
	if (rc_perf_paranoid() < 2)
		st.degraded |= RAMCRYPT_DEGRADED_PERF;
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long rc_ioctl_key_load(void __user *arg)
{
	u8 key[RAMCRYPT_KEY_BYTES];
	struct ramcrypt_key k;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&k, arg, sizeof(k)))
		return -EFAULT;
	if (k.len != RAMCRYPT_KEY_BYTES || k.flags || !k.key)
		return -EINVAL;
	if (copy_from_user(key, u64_to_user_ptr(k.key), sizeof(key))) {
		ret = -EFAULT;
		goto out;
	}
	/*
	 * A new key would make the pages encrypted under the old one unreadable. With
	 * ciphertext around, only the key it was made with may come back (after
	 * resume with a passphrase key): -EKEYREJECTED for any other key, -EBUSY while
	 * the key in use still works.
	 */
	rc_keystore_load_begin();	/* no page made or read meanwhile */
	if (rc_pages_in_use())
		ret = rc_keystore_reload_key(key);
	else
		ret = rc_keystore_load_key(key);
	rc_keystore_load_end();
out:
	memzero_explicit(key, sizeof(key));
	return ret;
}

/*
 * Commands that change state need a descriptor opened for writing, so read access
 * to the device node grants the reporting commands only (VERSION, PROC_STATS, LIST,
 * STATUS), and UNSEAL and SECRET_REGION, which need a protected caller instead. -EBADF as for write(2)
 * on a read-only descriptor (and BLKDISCARD).
 */
static bool rc_ioctl_needs_write(unsigned int cmd)
{
	switch (cmd) {
	case RAMCRYPT_IOC_PROTECT:
	case RAMCRYPT_IOC_UNPROTECT:
	case RAMCRYPT_IOC_SET_WINDOW:
	case RAMCRYPT_IOC_KEY_LOAD:
	case RAMCRYPT_IOC_SELFTEST:
	case RAMCRYPT_IOC_SEAL:
		return true;
	default:
		return false;
	}
}

static long rc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (rc_ioctl_needs_write(cmd) && !(file->f_mode & FMODE_WRITE))
		return -EBADF;

	switch (cmd) {
	case RAMCRYPT_IOC_VERSION:
		return rc_ioctl_version(uarg);
	case RAMCRYPT_IOC_PROTECT:
		return rc_ioctl_protect(uarg);
	case RAMCRYPT_IOC_UNPROTECT:
		return rc_ioctl_unprotect(uarg);
	case RAMCRYPT_IOC_SET_WINDOW:
		return rc_ioctl_set_window(uarg);
	case RAMCRYPT_IOC_PROC_STATS:
		return rc_ioctl_proc_stats(uarg);
	case RAMCRYPT_IOC_LIST:
		return rc_ioctl_list(uarg);
	case RAMCRYPT_IOC_STATUS:
		return rc_ioctl_status(uarg);
	case RAMCRYPT_IOC_KEY_LOAD:
		return rc_ioctl_key_load(uarg);
	case RAMCRYPT_IOC_SELFTEST:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		return rc_keystore_selftest();
	case RAMCRYPT_IOC_SEAL:
		return rc_seal_ioctl(uarg);
	case RAMCRYPT_IOC_UNSEAL:
		/* Any descriptor: rc_unseal_ioctl() checks that the caller is protected. */
		return rc_unseal_ioctl(uarg);
	case RAMCRYPT_IOC_SECRET_REGION:
		/* Any descriptor: a protected caller marks its own memory only. */
		return rc_ioctl_secret_region(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations rc_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = rc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Root-only by default (0600); ramcrypt(8), PERMISSIONS, grants a group. */
static struct miscdevice rc_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ramcrypt",
	.fops = &rc_fops,
	.mode = 0600,
};

/* ---- sysctl: values are checked, never clamped ---- */

static DEFINE_MUTEX(rc_sysctl_lock);	/* cross-field checks see a stable pair */
static unsigned int rc_allow_suspend_uint;	/* sysctl view of rc_allow_suspend */

static bool rc_sysctl_valid(void *data, unsigned long v)
{
	if (data == &rc_default_window)
		return v >= RAMCRYPT_MIN_WINDOW && v <= rc_max_window;
	if (data == &rc_max_window)
		return v >= RAMCRYPT_MIN_WINDOW && v >= rc_default_window &&
		       v <= RC_WINDOW_HARD_MAX;
	if (data == &rc_scan_interval_ms)
		return v >= RC_SCAN_MIN_MS && v <= RC_SCAN_MAX_MS;
	if (data == &rc_pages_cap || data == &rc_pages_cap_user)
		return v <= totalram_pages();
	if (data == &rc_allow_suspend_uint || data == &rc_allow_swap)
		return v <= 1;
	if (data == &rc_max_plain_age_ms || data == &rc_secret_plain_age_ms)
		return v <= RC_SCAN_MAX_MS;
	return false;
}

static int rc_sysctl_handler(rc_ctl_table *table, int write, void *buffer,
			     size_t *lenp, loff_t *ppos)
{
	struct ctl_table t = *table;
	unsigned long ul;
	unsigned int ui;
	bool is_ulong = table->data == &rc_pages_cap || table->data == &rc_pages_cap_user;
	int ret;

	mutex_lock(&rc_sysctl_lock);
	if (table->data == &rc_allow_suspend_uint)
		rc_allow_suspend_uint = READ_ONCE(rc_allow_suspend);
	if (is_ulong) {
		ul = READ_ONCE(*(unsigned long *)table->data);
		t.data = &ul;
		ret = proc_doulongvec_minmax(&t, write, buffer, lenp, ppos);
	} else {
		ui = READ_ONCE(*(unsigned int *)table->data);
		ul = ui;
		t.data = &ui;
		ret = proc_douintvec(&t, write, buffer, lenp, ppos);
		ul = ui;
	}
	if (ret || !write)
		goto out;
	if (!rc_sysctl_valid(table->data, ul)) {
		ret = -EINVAL;
		goto out;
	}
	if (is_ulong)
		WRITE_ONCE(*(unsigned long *)table->data, ul);
	else
		WRITE_ONCE(*(unsigned int *)table->data, ui);
	if (table->data == &rc_allow_suspend_uint)
		WRITE_ONCE(rc_allow_suspend, ui);
	if (table->data == &rc_scan_interval_ms)
		rc_procs_scanner_kick();
out:
	mutex_unlock(&rc_sysctl_lock);
	return ret;
}

#define RC_SYSCTL(n, var) {				\
	.procname = n,					\
	.data = &(var),					\
	.maxlen = sizeof(var),				\
	.mode = 0644,					\
	.proc_handler = rc_sysctl_handler,		\
}

static struct ctl_table rc_sysctl_table[] = {
	RC_SYSCTL("default_window", rc_default_window),
	RC_SYSCTL("max_window", rc_max_window),
	RC_SYSCTL("scan_interval_ms", rc_scan_interval_ms),
	RC_SYSCTL("ciphertext_cap_pages", rc_pages_cap),
	RC_SYSCTL("ciphertext_cap_pages_per_user", rc_pages_cap_user),
	RC_SYSCTL("allow_suspend", rc_allow_suspend_uint),
	RC_SYSCTL("allow_swap", rc_allow_swap),
	RC_SYSCTL("max_plain_age_ms", rc_max_plain_age_ms),
	RC_SYSCTL("secret_plain_age_ms", rc_secret_plain_age_ms),
	RC_SYSCTL_SENTINEL
};

static struct ctl_table_header *rc_sysctl_header;

/* ---- debugfs ---- */

static int rc_debugfs_status_show(struct seq_file *m, void *v)
{
	struct ramcrypt_status st = {};

	rc_keystore_status(&st);
	rc_procs_status(&st);
	seq_printf(m, "key_source %llu\nkey_generation %llu\ncpus_online %llu\n"
		   "cpus_with_key %llu\ndegraded %#llx\nprotected_procs %llu\n"
		   "encrypted_pages %llu\nwindow_pages %llu\nencryptions %llu\n"
		   "decryptions %llu\nscanner_passes %llu\nskipped_pinned %llu\n"
		   "skipped_shared %llu\nskipped_swapcache %llu\n"
		   "degraded_events %llu\nkey_heals %llu\ndevice_pages %lu\n",
		   st.key_source, st.key_generation, st.cpus_online,
		   st.cpus_with_key, st.degraded, st.protected_procs,
		   st.encrypted_pages, st.window_pages, st.encryptions,
		   st.decryptions, st.scanner_passes, st.skipped_pinned,
		   st.skipped_shared, st.skipped_swapcache,
		   st.degraded_events, st.key_heals, rc_pages_device_pages());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(rc_debugfs_status);

static int rc_debugfs_procs_show(struct seq_file *m, void *v)
{
	rc_procs_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(rc_debugfs_procs);

static struct dentry *rc_debugfs_dir;

int rc_control_init(void)
{
	unsigned long cap = rc_pages_cap;
	int ret;

	/* Load-time defaults obey the sysctl rules (cap 0: the default). */
	if (!rc_sysctl_valid(&rc_default_window, rc_default_window) ||
	    !rc_sysctl_valid(&rc_max_window, rc_max_window) ||
	    !rc_sysctl_valid(&rc_scan_interval_ms, rc_scan_interval_ms) ||
	    !rc_sysctl_valid(&rc_pages_cap, cap)) {
		pr_err("invalid module parameter (see modinfo ramcrypt)\n");
		return -EINVAL;
	}
	rc_sysctl_header = register_sysctl("ramcrypt", rc_sysctl_table);
	if (!rc_sysctl_header)
		return -ENOMEM;

	/* Statistics only: debugfs failures are not fatal, as everywhere. */
	rc_debugfs_dir = debugfs_create_dir("ramcrypt", NULL);
	debugfs_create_file("status", 0400, rc_debugfs_dir, NULL,
			    &rc_debugfs_status_fops);
	debugfs_create_file("procs", 0400, rc_debugfs_dir, NULL,
			    &rc_debugfs_procs_fops);
	rc_profile_debugfs(rc_debugfs_dir);

	/* Last: from here on userspace can reach everything. */
	ret = misc_register(&rc_miscdev);
	if (ret)
		goto err;
	return 0;
err:
	debugfs_remove_recursive(rc_debugfs_dir);
	unregister_sysctl_table(rc_sysctl_header);
	return ret;
}

void rc_control_uninit(void)
{
	misc_deregister(&rc_miscdev);
	debugfs_remove_recursive(rc_debugfs_dir);
	unregister_sysctl_table(rc_sysctl_header);
}
