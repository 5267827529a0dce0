// SPDX-License-Identifier: GPL-2.0
/*
 * Keystore: the 256-bit AES-128-XTS key in DR0-DR3 of every online CPU.
 *
 * The key is written into the debug registers once per load and then lives only
 * there; the cipher (cipher-asm.S) reads it from the registers on every call. What
 * the kernel keeps in RAM is a key check value (KCV: the XTS ciphertext of a zero
 * block under the key), which reveals nothing about the key but tells whether a
 * CPU's registers still hold it. docs/KEYSTORE.md lists every place and moment the
 * key passes through memory.
 *
 * Three things can take the key away from a CPU, and each has its answer here:
 *  - someone else using the debug registers: all four hardware breakpoint slots of
 *    every CPU are reserved with disabled breakpoints, so ptrace, perf and kgdb get
 *    -ENOSPC, while the arch code never writes DR0-DR3 for a disabled breakpoint;
 *  - CPU hot-plug and resume, which zero the registers (cpu_init()): the online
 *    callback reloads the key from a healthy CPU ("healing");
 *  - anything unforeseen (a hypervisor, a debugger): the KCV is checked before every
 *    use and periodically; a clobbered CPU is healed, and if no CPU holds the key any
 *    more the module goes loudly degraded: rc_keystore_usable() turns false and the
 *    cipher refuses to work rather than produce garbage.
 *
 * Locking: rc_key_lock (a spinlock, so it can be taken from the cipher path and with
 * preemption off) serialises every write to our debug registers and every change of
 * the key state. It is never taken with interrupts disabled, because its holders
 * send IPIs and wait for them.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/hw_breakpoint.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/percpu-rwsem.h>
#include <linux/perf_event.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/suspend.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <asm/archrandom.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/fpu/api.h>
#include <asm/kdebug.h>
#include "compat.h"

#include "cipher.h"
#include "keystore.h"
#include "xts-vectors.h"

bool rc_allow_suspend;
module_param_named(allow_suspend, rc_allow_suspend, bool, 0644);
MODULE_PARM_DESC(allow_suspend,
		 "Allow suspend/hibernation with a random key (the key is lost on resume and protected processes are killed)");

static unsigned int rc_check_interval = 10;
module_param_named(key_check_interval, rc_check_interval, uint, 0644);
MODULE_PARM_DESC(key_check_interval,
		 "Seconds between checks of the key on every CPU (0: only before each use)");

enum rc_key_state {
	RC_KEY_NONE,	/* module init, before the first key */
	RC_KEY_OK,	/* at least one CPU held the key at the last look */
	RC_KEY_LOST,	/* no CPU holds the key: nothing can be encrypted or decrypted */
};

static DEFINE_SPINLOCK(rc_key_lock);
static enum rc_key_state rc_key_state;	/* written under rc_key_lock */
static u64 rc_key_source = RAMCRYPT_KEY_NONE;
static u64 rc_key_generation;
/* Ciphertext of a zero block under the key. Public by construction. */
static u8 rc_kcv[16];
/* Set on resume with a passphrase key: only the same key may be loaded again. */
static bool rc_key_await_same;

static unsigned long rc_degraded;	/* RAMCRYPT_DEGRADED_* bits, atomic bitops */
static atomic64_t rc_key_heals = ATOMIC64_INIT(0);
static bool rc_lost_reported;

static enum cpuhp_state rc_cpuhp_state;
static bool rc_cpuhp_strict;	/* during init a CPU that cannot reserve its slots fails the load */
static DEFINE_PER_CPU(struct perf_event *, rc_bp[HBP_NUM]);
static DEFINE_MUTEX(rc_bp_lock);	/* rc_bp[] of every CPU */

static void rc_check_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(rc_check_work, rc_check_work_fn);
static void rc_check_schedule(void);

DEFINE_STATIC_PERCPU_RWSEM(rc_key_users);

void rc_keystore_use_begin(void)
{
	percpu_down_read(&rc_key_users);
}

void rc_keystore_use_end(void)
{
	percpu_up_read(&rc_key_users);
}

void rc_keystore_load_begin(void)
{
	percpu_down_write(&rc_key_users);
}

void rc_keystore_load_end(void)
{
	percpu_up_write(&rc_key_users);
}

static struct dentry *rc_debugfs_roundtrip, *rc_debugfs_load_delay;
static struct dentry *rc_debugfs_dir;	/* set only when the keystore made it */

/*
 * Debug register access. The key words pass through RAX only, which is cleared
 * right after; native_set_debugreg() would leave the choice of register, and any
 * spill, to the compiler.
 */
static __always_inline void rc_dr_load(const u64 *w)
{
	asm volatile("movq 0(%0), %%rax\n\t"
		     "movq %%rax, %%db0\n\t"
		     "movq 8(%0), %%rax\n\t"
		     "movq %%rax, %%db1\n\t"
		     "movq 16(%0), %%rax\n\t"
		     "movq %%rax, %%db2\n\t"
		     "movq 24(%0), %%rax\n\t"
		     "movq %%rax, %%db3\n\t"
		     "xorl %%eax, %%eax"
		     : : "r" (w) : "rax", "memory");
}

static __always_inline void rc_dr_store(u64 *w)
{
	asm volatile("movq %%db0, %%rax\n\t"
		     "movq %%rax, 0(%0)\n\t"
		     "movq %%db1, %%rax\n\t"
		     "movq %%rax, 8(%0)\n\t"
		     "movq %%db2, %%rax\n\t"
		     "movq %%rax, 16(%0)\n\t"
		     "movq %%db3, %%rax\n\t"
		     "movq %%rax, 24(%0)\n\t"
		     "xorl %%eax, %%eax"
		     : : "r" (w) : "rax", "memory");
}

static __always_inline void rc_dr_wipe(void)
{
	asm volatile("xorl %%eax, %%eax\n\t"
		     "movq %%rax, %%db0\n\t"
		     "movq %%rax, %%db1\n\t"
		     "movq %%rax, %%db2\n\t"
		     "movq %%rax, %%db3"
		     : : : "rax");
}

/* IPI handlers: interrupts are off, so nothing can run between the steps. */
static void rc_ipi_load(void *words)
{
	rc_dr_load(words);
}

static void rc_ipi_store(void *words)
{
	rc_dr_store(words);
}

static void rc_ipi_wipe(void *unused)
{
	rc_dr_wipe();
}

/* Key check value of whatever this CPU's DR0-DR3 hold. Preemption must be off. */
static void rc_kcv_local(u8 out[16])
{
	unsigned long flags;

	kernel_fpu_begin();
	local_irq_save(flags);
	rc_xts_kcv(out);
	local_irq_restore(flags);
	kernel_fpu_end();
}

bool rc_keystore_kcv_ok(const u8 kcv[16])
{
	/* The KCV is public: a plain comparison is fine. */
	return !memcmp(kcv, rc_kcv, sizeof(rc_kcv));
}

static bool rc_key_local_ok(void)
{
	u8 kcv[16];

	rc_kcv_local(kcv);
	return rc_keystore_kcv_ok(kcv);
}

bool rc_keystore_usable(void)
{
	return READ_ONCE(rc_key_state) == RC_KEY_OK;
}

/* Called with rc_key_lock held once no online CPU passes the key check. */
static void rc_key_lost_locked(const char *why)
{
	WRITE_ONCE(rc_key_state, RC_KEY_LOST);
	set_bit(ilog2(RAMCRYPT_DEGRADED_KEY_LOST), &rc_degraded);
	if (!rc_lost_reported) {
		rc_lost_reported = true;
		pr_crit("key lost on every CPU (%s): encryption stopped, encrypted pages cannot be decrypted; protected processes will be killed\n",
			why);
	}
}

/*
 * Restore this CPU's key from another online CPU. Called with rc_key_lock held
 * (so preemption is off and no other key write can interleave) and interrupts on.
 *
 * The key passes through memory here, and only here after load: an IPI copies the
 * donor's DR0-DR3 into words[] on this stack, this CPU loads them with interrupts
 * off, and words[] is wiped at once. The donor is not trusted blindly: its words are
 * accepted only if this CPU then passes the key check, else the next CPU is tried.
 *
 * Return the donor CPU, or -EKEYREJECTED (and the key is lost) if no CPU has it.
 */
static int rc_heal_local_locked(void)
{
	int self = smp_processor_id();
	unsigned long flags;
	u64 words[4];
	int cpu;

	lockdep_assert_held(&rc_key_lock);
	for_each_online_cpu(cpu) {
		if (cpu == self)
			continue;
		if (smp_call_function_single(cpu, rc_ipi_store, words, 1))
			continue;
		local_irq_save(flags);
		rc_dr_load(words);
		local_irq_restore(flags);
		memzero_explicit(words, sizeof(words));
		if (rc_key_local_ok()) {
			atomic64_inc(&rc_key_heals);
			return cpu;
		}
	}
	/* Nobody had it: leave no half-key (a donor's garbage) behind either. */
	rc_dr_wipe();
	rc_key_lost_locked("no CPU passes the key check");
	return -EKEYREJECTED;
}

/* This CPU was just healed from donor (rc_key_lock held): something clobbered it. */
static void rc_note_heal(int donor)
{
	set_bit(ilog2(RAMCRYPT_DEGRADED_KEY_HEALED), &rc_degraded);
	pr_warn_ratelimited("CPU%d: debug registers were clobbered; key restored from CPU%d\n",
			    smp_processor_id(), donor);
}

int rc_keystore_heal_this_cpu(void)
{
	int ret = 0;
	int donor;

	spin_lock(&rc_key_lock);
	if (rc_key_state != RC_KEY_OK) {
		ret = -EKEYREJECTED;
	} else if (!rc_key_local_ok()) {
		donor = rc_heal_local_locked();
		if (donor >= 0)
			rc_note_heal(donor);
		else {
			ret = donor;
		}
	}
	spin_unlock(&rc_key_lock);
	return ret;
}

/*
 * Load key words into DR0-DR3 of every online CPU and make them the key. The caller
 * holds cpus_read_lock() (no CPU comes or goes meanwhile) and wipes words[].
 * If must_match, the words are accepted only if they reproduce the stored KCV (the
 * same passphrase after resume); otherwise the registers are wiped again.
 */
static int rc_key_install(const u64 words[4], u64 source, bool must_match)
{
	u8 kcv[16];
	int ret = 0;

	spin_lock(&rc_key_lock);
	on_each_cpu(rc_ipi_load, (void *)words, 1);
	rc_kcv_local(kcv);
	if (must_match && !rc_keystore_kcv_ok(kcv)) {
		on_each_cpu(rc_ipi_wipe, NULL, 1);
		ret = -EKEYREJECTED;
	} else {
		memcpy(rc_kcv, kcv, sizeof(rc_kcv));
		rc_key_source = source;
		rc_key_generation++;
		rc_key_await_same = false;
		rc_lost_reported = false;
		clear_bit(ilog2(RAMCRYPT_DEGRADED_KEY_LOST), &rc_degraded);
		WRITE_ONCE(rc_key_state, RC_KEY_OK);
	}
	spin_unlock(&rc_key_lock);
	/* The periodic check stops when the key is lost: a new key starts it again. */
	if (!ret)
		rc_check_schedule();
	return ret;
}

/*
 * debugfs selftest_key_load_delay_ms: a load sleeps this long before it touches the
 * registers, so a test can put a protect inside the span between the caller's "no
 * ciphertext yet" check and the new key (selftests/keystore.c,
 * key_load_holds_off_encryption). 0 outside tests.
 */
static u32 rc_key_load_delay_ms;
#define RC_KEY_LOAD_DELAY_MAX_MS 10000

static int rc_key_load_words(const u8 key[RAMCRYPT_KEY_BYTES], bool reload)
{
	unsigned int delay = READ_ONCE(rc_key_load_delay_ms);
	bool must_match;
	u64 words[4];
	int ret, i;

	if (delay)
		msleep(delay);
	for (i = 0; i < 4; i++)
		words[i] = get_unaligned_le64(key + 8 * i);
	cpus_read_lock();
	if (reload && rc_keystore_usable()) {
		/* Testing a candidate would overwrite the working key on this CPU. */
		ret = -EBUSY;
	} else {
		must_match = reload || READ_ONCE(rc_key_await_same);
		ret = rc_key_install(words, RAMCRYPT_KEY_PASSPHRASE, must_match);
	}
	cpus_read_unlock();
	memzero_explicit(words, sizeof(words));
	if (ret == -EKEYREJECTED)
		pr_warn("key load refused: it is not the key the encrypted pages need\n");
	return ret;
}

int rc_keystore_load_key(const u8 key[RAMCRYPT_KEY_BYTES])
{
	return rc_key_load_words(key, false);
}

int rc_keystore_reload_key(const u8 key[RAMCRYPT_KEY_BYTES])
{
	return rc_key_load_words(key, true);
}

/*
 * A random key: the CPU's RDSEED (else RDRAND) XORed into the kernel RNG's output,
 * so the key is as good as the better of the two sources.
 */
static int rc_key_generate(u64 words[4])
{
	unsigned long hw;
	int ret, i;

	ret = get_random_bytes_wait(words, 4 * sizeof(u64));
	if (ret)
		return ret;
	for (i = 0; i < 4; i++) {
		if ((boot_cpu_has(X86_FEATURE_RDSEED) && rdseed_long(&hw)) ||
		    (boot_cpu_has(X86_FEATURE_RDRAND) && rdrand_long(&hw)))
			words[i] ^= hw;
	}
	memzero_explicit(&hw, sizeof(hw));
	return 0;
}

static int rc_key_load_random(void)
{
	u64 words[4];
	int ret;

	ret = rc_key_generate(words);
	if (ret)
		return ret;
	cpus_read_lock();
	ret = rc_key_install(words, RAMCRYPT_KEY_RANDOM, false);
	cpus_read_unlock();
	memzero_explicit(words, sizeof(words));
	return ret;
}

/* --- Known-answer tests ------------------------------------------------------ */

typedef void (*rc_xts_fn)(u8 *dst, const u8 *src, unsigned long nbytes,
			  const u8 iv[16], int decrypt);

/*
 * Run every vector of xts-vectors.h through @xts on this CPU, in both directions,
 * with the test key in this CPU's DR0-DR3. Called with rc_key_lock held: the real
 * key, if any, is gone from this CPU afterwards and the caller must restore it.
 */
static int rc_kat_one_locked(rc_xts_fn xts, const char *impl, u8 *buf)
{
	unsigned long flags;
	u64 words[4];
	size_t i, j;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(rc_xts_vectors) && !ret; i++) {
		const struct rc_xts_vector *v = &rc_xts_vectors[i];

		if (WARN_ON(v->len > PAGE_SIZE || v->len % 16))
			return -EINVAL;
		for (j = 0; j < 4; j++)
			words[j] = get_unaligned_le64(v->key + 8 * j);
		for (j = 0; j < 2 && !ret; j++) {
			kernel_fpu_begin();
			local_irq_save(flags);
			rc_dr_load(words);
			xts(buf, j ? v->ct : v->pt, v->len, v->iv, j);
			local_irq_restore(flags);
			kernel_fpu_end();
			if (memcmp(buf, j ? v->pt : v->ct, v->len)) {
				pr_err("known-answer test failed: %s, %s, %s\n", v->name,
				       impl, j ? "decrypt" : "encrypt");
				ret = -EINVAL;
			}
		}
	}
	/* Test keys are public, but leave no stale key in the registers either. */
	rc_dr_wipe();
	memzero_explicit(words, sizeof(words));
	return ret;
}

static int rc_kat_run_locked(void)
{
	u8 *buf;
	int ret;

	lockdep_assert_held(&rc_key_lock);
	buf = (u8 *)__get_free_page(GFP_ATOMIC);
	if (!buf)
		return -ENOMEM;
	ret = rc_kat_one_locked(rc_xts_crypt, "AES-NI", buf);
	if (!ret && rc_cipher_vaes())
		ret = rc_kat_one_locked(rc_xts_crypt_vaes, "VAES", buf);
	free_page((unsigned long)buf);
	return ret;
}

int rc_keystore_selftest(void)
{
	int ret;

	cpus_read_lock();
	if (num_online_cpus() < 2) {
		/* The key of this CPU would have no donor to come back from. */
		cpus_read_unlock();
		return -EBUSY;
	}
	spin_lock(&rc_key_lock);
	if (rc_key_state != RC_KEY_OK) {
		ret = -EKEYREJECTED;
	} else {
		ret = rc_kat_run_locked();
		if (rc_heal_local_locked() < 0)
			ret = -EKEYREJECTED;
	}
	spin_unlock(&rc_key_lock);
	cpus_read_unlock();
	return ret;
}

/* --- Checks over all CPUs ---------------------------------------------------- */

/* smp_call_on_cpu() callback: 1 if this CPU holds the key (after healing if asked). */
static int rc_check_cpu_fn(void *heal)
{
	int ret;

	spin_lock(&rc_key_lock);
	if (rc_key_state != RC_KEY_OK) {
		ret = 0;
	} else if (rc_key_local_ok()) {
		ret = 1;
	} else if (heal) {
		int donor = rc_heal_local_locked();

		ret = donor >= 0;
		if (ret)
			rc_note_heal(donor);
	} else {
		ret = 0;
	}
	/*
	 * Nobody may arm a breakpoint on our key words; the reserved slots promise
	 * it. Not WARN(): its register dump would print DR0-DR3.
	 */
	if (native_get_debugreg(7) & 0xff)
		pr_warn_once("DR7 arms a breakpoint on CPU%d\n", smp_processor_id());
	spin_unlock(&rc_key_lock);
	return ret;
}

/* Number of online CPUs that hold the key; with heal, clobbered CPUs are restored. */
static unsigned int rc_check_all(bool heal)
{
	unsigned int n = 0;
	int cpu;

	cpus_read_lock();
	for_each_online_cpu(cpu)
		if (smp_call_on_cpu(cpu, rc_check_cpu_fn, heal ? (void *)1 : NULL, false) == 1)
			n++;
	if (heal && n == 0) {
		spin_lock(&rc_key_lock);
		if (rc_key_state == RC_KEY_OK)
			rc_key_lost_locked("periodic check");
		spin_unlock(&rc_key_lock);
	}
	cpus_read_unlock();
	return n;
}

static void rc_check_schedule(void)
{
	unsigned int secs = READ_ONCE(rc_check_interval);

	if (secs)
		queue_delayed_work(system_freezable_wq, &rc_check_work, secs * HZ);
}

static void rc_check_work_fn(struct work_struct *work)
{
	if (!rc_keystore_usable())
		return;	/* nothing left to check until a key is loaded again */
	rc_check_all(true);
	rc_check_schedule();
}

static struct kprobe rc_show_regs_kp;	/* the register-dump guard, below */
static bool rc_show_regs_kp_on;

void rc_keystore_status(struct ramcrypt_status *st)
{
	spin_lock(&rc_key_lock);
	st->key_source = rc_key_source;
	st->key_generation = rc_key_generation;
	spin_unlock(&rc_key_lock);
	st->cpus_online = num_online_cpus();
	/* What the registers hold now, not a cached guess; no healing from here. */
	st->cpus_with_key = rc_check_all(false);
	st->degraded |= READ_ONCE(rc_degraded);
	st->key_heals = atomic64_read(&rc_key_heals);
	if (!rc_show_regs_kp_on || READ_ONCE(rc_show_regs_kp.nmissed))
		st->degraded |= RAMCRYPT_DEGRADED_DUMP_GUARD;
}

/* --- Breakpoint slots and CPU hot-plug ---------------------------------------- */

static void rc_bp_release_all(void)
{
	int cpu, i;

	mutex_lock(&rc_bp_lock);
	for_each_possible_cpu(cpu) {
		for (i = 0; i < HBP_NUM; i++) {
			struct perf_event **bp = per_cpu_ptr(&rc_bp[i], cpu);

			if (*bp) {
				unregister_hw_breakpoint(*bp);
				*bp = NULL;
			}
		}
	}
	mutex_unlock(&rc_bp_lock);
}

/*
 * Take all HBP_NUM breakpoint slots of @cpu with disabled CPU-bound breakpoints.
 * The constraint code counts them (ptrace, perf and kgdb then get -ENOSPC), but a
 * disabled event is never scheduled, so arch_install_hw_breakpoint() never writes
 * them into DR0-DR3. They stay registered when the CPU goes offline, so this only
 * does work the first time a CPU comes online. This is register_wide_hw_breakpoint()
 * done one CPU at a time, so that CPUs that come online later are covered too.
 */
static int rc_bp_reserve(unsigned int cpu)
{
	struct perf_event_attr attr;
	struct perf_event *bp;
	int i, ret = 0;

	hw_breakpoint_init(&attr);
	/* A user address with exclude_kernel: it could never fire in the kernel. */
	attr.bp_addr = 0;
	attr.bp_len = HW_BREAKPOINT_LEN_1;
	attr.bp_type = HW_BREAKPOINT_W;
	attr.exclude_kernel = 1;
	attr.disabled = 1;

	mutex_lock(&rc_bp_lock);
	for (i = 0; i < HBP_NUM; i++) {
		struct perf_event **slot = per_cpu_ptr(&rc_bp[i], cpu);

		if (*slot)
			continue;
		bp = perf_event_create_kernel_counter(&attr, cpu, NULL, NULL, NULL);
		if (IS_ERR(bp)) {
			ret = PTR_ERR(bp);
			break;
		}
		*slot = bp;
	}
	mutex_unlock(&rc_bp_lock);
	return ret;
}

/* Runs on @cpu itself (an AP state), in process context. */
static int rc_cpu_online(unsigned int cpu)
{
	int ret;

	ret = rc_bp_reserve(cpu);
	if (ret) {
		if (rc_cpuhp_strict) {
			pr_err("CPU%u: cannot reserve the hardware breakpoint slots (%d); is a debugger using them?\n",
			       cpu, ret);
			return ret;
		}
		set_bit(ilog2(RAMCRYPT_DEGRADED_SLOTS), &rc_degraded);
		pr_warn("CPU%u: cannot reserve the hardware breakpoint slots (%d); the key on this CPU may be overwritten\n",
			cpu, ret);
	}

	spin_lock(&rc_key_lock);
	/* cpu_init() zeroed the registers: bring the key from a CPU that has it. */
	if (rc_key_state == RC_KEY_OK && !rc_key_local_ok())
		rc_heal_local_locked();
	spin_unlock(&rc_key_lock);
	return 0;
}

/* Runs on @cpu as it goes offline, and on every CPU at module unload. */
static int rc_cpu_offline(unsigned int cpu)
{
	spin_lock(&rc_key_lock);
	rc_dr_wipe();
	spin_unlock(&rc_key_lock);
	return 0;
}

/* --- Suspend and hibernation ------------------------------------------------- */

static int rc_pm_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	switch (action) {
	case PM_SUSPEND_PREPARE:
	case PM_HIBERNATION_PREPARE:
		if (READ_ONCE(rc_key_source) == RAMCRYPT_KEY_RANDOM &&
		    rc_keystore_usable() && !READ_ONCE(rc_allow_suspend)) {
			pr_warn("refusing %s: the random key lives only in CPU registers and would not survive it; set ramcrypt.allow_suspend=1 to allow it (protected processes will then be killed)\n",
				action == PM_SUSPEND_PREPARE ? "suspend" : "hibernation");
			return notifier_from_errno(-EBUSY);
		}
		return NOTIFY_OK;
	case PM_POST_SUSPEND:
	case PM_POST_HIBERNATION:
		if (READ_ONCE(rc_key_source) == RAMCRYPT_KEY_PASSPHRASE) {
			/*
			 * Whatever the registers hold now, require the admin to prove
			 * the passphrase again: only a key with the same KCV is taken.
			 */
			cpus_read_lock();
			spin_lock(&rc_key_lock);
			if (rc_key_state == RC_KEY_OK) {
				on_each_cpu(rc_ipi_wipe, NULL, 1);
				rc_key_await_same = true;
				WRITE_ONCE(rc_key_state, RC_KEY_LOST);
				set_bit(ilog2(RAMCRYPT_DEGRADED_KEY_LOST), &rc_degraded);
				pr_warn("key dropped at resume: load the same passphrase again (ramcrypt key load --passphrase)\n");
			}
			spin_unlock(&rc_key_lock);
			cpus_read_unlock();
		} else if (rc_keystore_usable()) {
			rc_check_all(true);
		}
		return NOTIFY_OK;
	default:
		return NOTIFY_DONE;
	}
}

static struct notifier_block rc_pm_nb = {
	.notifier_call = rc_pm_notify,
};

/* --- debugfs: page round trips for the selftests ----------------------------- */

/*
 * Writing N to selftest_roundtrip encrypts and decrypts N random pages on the
 * writer's CPU (pin the writer to choose it) and fails the write with -EIO if one
 * does not come back, or with the cipher's error.
 */
static ssize_t rc_roundtrip_write(struct file *file, const char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	unsigned int n, i;
	u8 *pt, *ct, *back;
	int ret;

	ret = kstrtouint_from_user(ubuf, len, 0, &n);
	if (ret)
		return ret;
	if (!n || n > 1000000)
		return -EINVAL;
	pt = (u8 *)__get_free_pages(GFP_KERNEL, 0);
	ct = (u8 *)__get_free_pages(GFP_KERNEL, 0);
	back = (u8 *)__get_free_pages(GFP_KERNEL, 0);
	if (!pt || !ct || !back) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		u64 tweak = rc_cipher_next_tweak();

		get_random_bytes(pt, PAGE_SIZE);
		ret = rc_cipher_encrypt_page(ct, pt, tweak);
		if (!ret)
			ret = rc_cipher_decrypt_page(back, ct, tweak);
		if (ret)
			goto out;
		if (memcmp(back, pt, PAGE_SIZE) || !memcmp(ct, pt, 64)) {
			ret = -EIO;
			goto out;
		}
		cond_resched();
	}
	ret = len;
out:
	free_page((unsigned long)back);
	free_page((unsigned long)ct);
	free_page((unsigned long)pt);
	return ret;
}

static const struct file_operations rc_roundtrip_fops = {
	.owner = THIS_MODULE,
	.write = rc_roundtrip_write,
	.llseek = noop_llseek,
};

static int rc_load_delay_get(void *data, u64 *val)
{
	*val = READ_ONCE(rc_key_load_delay_ms);
	return 0;
}

static int rc_load_delay_set(void *data, u64 val)
{
	if (val > RC_KEY_LOAD_DELAY_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(rc_key_load_delay_ms, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(rc_load_delay_fops, rc_load_delay_get, rc_load_delay_set, "%llu\n");

/*
 * The file goes into the control plane's debugfs directory, so main.c calls this
 * after rc_control_init() and the uninit before rc_control_uninit(). Without that
 * directory the keystore makes its own.
 */
void rc_keystore_debugfs_init(void)
{
	struct dentry *dir = debugfs_lookup("ramcrypt", NULL);

	if (!dir) {
		dir = debugfs_create_dir("ramcrypt", NULL);
		if (IS_ERR(dir))
			return;
		rc_debugfs_dir = dir;
	} else {
		dput(dir);
	}
	rc_debugfs_roundtrip = debugfs_create_file("selftest_roundtrip", 0200, dir, NULL,
						   &rc_roundtrip_fops);
	rc_debugfs_load_delay = debugfs_create_file_unsafe("selftest_key_load_delay_ms", 0600,
							   dir, NULL, &rc_load_delay_fops);
}

void rc_keystore_debugfs_uninit(void)
{
	debugfs_remove(rc_debugfs_roundtrip);
	rc_debugfs_roundtrip = NULL;
	debugfs_remove(rc_debugfs_load_delay);
	rc_debugfs_load_delay = NULL;
	debugfs_remove(rc_debugfs_dir);	/* only if it is ours */
	rc_debugfs_dir = NULL;
}

/* --- Register dumps --------------------------------------------------------- */

/*
 * __show_regs() prints DR0-DR3 whenever they are not in their reset state: every
 * oops, WARN(), sysrq-l/p and NMI backtrace of a CPU holding the key would write the
 * key to the kernel log, the console and pstore. A dump of registers trapped inside
 * ramcrypt's code would also print what its general registers held: XTS tweaks,
 * data words, a key word on its way from a debug register to an XMM register.
 * So the dump is changed, never the registers: SHOW_REGS_ALL becomes
 * SHOW_REGS_USER (the same, without segment, control and debug registers), and
 * registers trapped in this module are shown from a copy with the general registers
 * zeroed (ip, sp, flags kept). Runs in any context, NMI included: no locks, no
 * allocation; the copy is per CPU (a dump nested in a dump on one CPU would share it,
 * and both show zeros). A dump the kprobe misses (one already running on this CPU)
 * is counted and marks the status: RAMCRYPT_DEGRADED_DUMP_GUARD.
 */
static DEFINE_PER_CPU(struct pt_regs, rc_dump_regs);

static int rc_show_regs_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct pt_regs *shown = (struct pt_regs *)regs->di;

	if (regs->si == SHOW_REGS_ALL)
		regs->si = SHOW_REGS_USER;
	if (shown && within_module(shown->ip, THIS_MODULE)) {
		struct pt_regs *copy = this_cpu_ptr(&rc_dump_regs);

		memset(copy, 0, sizeof(*copy));
		copy->ip = shown->ip;
		copy->sp = shown->sp;
		copy->flags = shown->flags;
		copy->cs = shown->cs;
		copy->ss = shown->ss;
		copy->orig_ax = shown->orig_ax;
		regs->di = (unsigned long)copy;
	}
	return 0;
}

static struct kprobe rc_show_regs_kp = {
	.symbol_name = "__show_regs",
	.pre_handler = rc_show_regs_pre,
};

static void rc_show_regs_guard_init(void)
{
	int ret = register_kprobe(&rc_show_regs_kp);

	if (ret) {
		pr_warn("cannot hook __show_regs (%d): an oops or WARN on a CPU holding the key would print it\n",
			ret);
		return;
	}
	rc_show_regs_kp_on = true;
}

static void rc_show_regs_guard_uninit(void)
{
	if (rc_show_regs_kp_on)
		unregister_kprobe(&rc_show_regs_kp);
	rc_show_regs_kp_on = false;
}

/* --- KVM --------------------------------------------------------------------- */

static bool rc_allow_kvm;
module_param_named(allow_kvm, rc_allow_kvm, bool, 0444);
MODULE_PARM_DESC(allow_kvm,
		 "Load and run while KVM is present (a VM that uses debug registers wipes the key on the CPU it runs on; status reports it)");

/*
 * KVM loads a guest's DR0-DR3 before VM entry whenever the guest uses them (or its
 * VMM sets hardware breakpoints with KVM_SET_GUEST_DEBUG) and puts the host's back
 * only when hw_breakpoint_active(), which our disabled slots never make true: any
 * user who may open /dev/kvm can wipe the key on every CPU, and with a random key
 * every protected process's data is lost. So a stock KVM and the key do not share a
 * machine: the module refuses to load while KVM is there, and refuses KVM's modules
 * while it is loaded, unless allow_kvm=1, which sets RAMCRYPT_DEGRADED_KVM.
 *
 * A KVM with the change in patches/ and its parameter host_owns_debugregs=1 never
 * loads a guest's DR0-DR3 (nor lets an SEV-ES guest reach them): that one is welcome.
 * kvm.ko itself runs no VM, and its parameters are parsed only after the module
 * notifier has seen it, so kvm.ko is let in if it has the parameter at all, and its
 * value is checked when kvm_amd or kvm_intel, which run the VMs, come.
 */
static bool rc_is_kvm_module(const char *name)
{
	return !strcmp(name, "kvm") || !strcmp(name, "kvm_amd") || !strcmp(name, "kvm_intel");
}

/* Is a KVM loaded that keeps guests off DR0-DR3 (kvm.host_owns_debugregs=1)? */
static bool rc_kvm_keeps_off(void)
{
	bool *owns = __symbol_get("kvm_host_owns_debugregs");
	bool ret;

	if (!owns)
		return false;
	ret = READ_ONCE(*owns);
	__symbol_put("kvm_host_owns_debugregs");
	return ret;
}

static bool rc_module_has_param(const struct module *mod, const char *name)
{
	unsigned int i;

	for (i = 0; i < mod->num_kp; i++)
		if (!strcmp(mod->kp[i].name, name))
			return true;
	return false;
}

static int rc_module_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;

	if (action != MODULE_STATE_COMING || !rc_is_kvm_module(mod->name))
		return NOTIFY_DONE;
	if (!strcmp(mod->name, "kvm") && rc_module_has_param(mod, "host_owns_debugregs"))
		return NOTIFY_DONE;
	if (strcmp(mod->name, "kvm") && rc_kvm_keeps_off()) {
		pr_info("%s may load: kvm.host_owns_debugregs=1 keeps guests off DR0-DR3\n",
			mod->name);
		return NOTIFY_DONE;
	}
	if (rc_allow_kvm) {
		set_bit(ilog2(RAMCRYPT_DEGRADED_KVM), &rc_degraded);
		pr_warn("%s loaded with allow_kvm=1: a VM that uses debug registers wipes the key on its CPU\n",
			mod->name);
		return NOTIFY_DONE;
	}
	pr_err("refusing to let %s load: KVM overwrites DR0-DR3, which hold the key (unload ramcrypt first, load it with allow_kvm=1, or use a KVM with host_owns_debugregs=1)\n",
	       mod->name);
	return notifier_from_errno(-EPERM);
}

static struct notifier_block rc_module_nb = {
	.notifier_call = rc_module_notify,
};

/* KVM already here, built in or as a module? kvm_init is kvm.ko's (or vmlinux's). */
static int rc_kvm_guard_init(void)
{
	void *kvm = __symbol_get("kvm_init");

	if (kvm) {
		__symbol_put("kvm_init");
		if (rc_kvm_keeps_off()) {
			pr_info("KVM is loaded with host_owns_debugregs=1: guests cannot reach DR0-DR3\n");
		} else if (!rc_allow_kvm) {
			pr_err("KVM is loaded: it overwrites DR0-DR3, which would hold the key; unload kvm_amd, kvm_intel and kvm (or load ramcrypt with allow_kvm=1)\n");
			return -EBUSY;
		} else {
			set_bit(ilog2(RAMCRYPT_DEGRADED_KVM), &rc_degraded);
			pr_warn("KVM is loaded (allow_kvm=1): a VM that uses debug registers wipes the key on its CPU\n");
		}
	}
	return register_module_notifier(&rc_module_nb);
}

static void rc_kvm_guard_uninit(void)
{
	unregister_module_notifier(&rc_module_nb);
}

/* --- Init and exit ----------------------------------------------------------- */

int rc_keystore_init(void)
{
	unsigned int n;
	int ret;

	if (boot_cpu_has(X86_FEATURE_XENPV)) {
		/* The hypervisor owns the debug registers of a PV guest. */
		pr_err("Xen PV guests cannot hold a key in the debug registers\n");
		return -ENODEV;
	}
	ret = rc_cipher_init();
	if (ret)
		return ret;
	ret = rc_kvm_guard_init();
	if (ret)
		return ret;
	if (boot_cpu_has(X86_FEATURE_HYPERVISOR))
		pr_notice("running under a hypervisor: it may keep the guest's DR0-DR3, and so the key, in its own memory\n");

	/* 1. Take every breakpoint slot before writing anything into DR0-DR3. */
	rc_show_regs_guard_init();
	rc_cpuhp_strict = true;
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "ramcrypt/keystore:online",
				rc_cpu_online, rc_cpu_offline);
	rc_cpuhp_strict = false;
	if (ret < 0)
		goto err_bp;
	rc_cpuhp_state = ret;

	/* 2. Prove the cipher with public test keys before it ever sees the real one. */
	spin_lock(&rc_key_lock);
	ret = rc_kat_run_locked();
	spin_unlock(&rc_key_lock);
	if (ret)
		goto err_key;

	/* 3. The real key, on every CPU; CPUs that come online later get it from cpuhp. */
	ret = rc_key_load_random();
	if (ret)
		goto err_key;
	n = rc_check_all(false);
	if (n != num_online_cpus())
		pr_warn("the key reached %u of %u CPUs at load\n", n, num_online_cpus());
	else
		pr_info("random key in the debug registers of %u CPUs; %s cipher passed %zu known-answer tests\n",
			n, rc_cipher_vaes() ? "VAES and AES-NI" : "AES-NI",
			ARRAY_SIZE(rc_xts_vectors));

	ret = register_pm_notifier(&rc_pm_nb);
	if (ret)
		goto err_key;
	rc_check_schedule();
	return 0;

err_key:
	cpuhp_remove_state(rc_cpuhp_state);	/* wipes DR0-DR3 on every CPU */
err_bp:
	rc_bp_release_all();
	rc_show_regs_guard_uninit();
	rc_kvm_guard_uninit();
	WRITE_ONCE(rc_key_state, RC_KEY_NONE);
	return ret;
}

void rc_keystore_uninit(void)
{
	unregister_pm_notifier(&rc_pm_nb);
	/* rc_check_work_fn() re-arms itself: stop it for good. */
	WRITE_ONCE(rc_check_interval, 0);
	cancel_delayed_work_sync(&rc_check_work);
	spin_lock(&rc_key_lock);
	WRITE_ONCE(rc_key_state, RC_KEY_NONE);
	spin_unlock(&rc_key_lock);
	/* Wipe the key on every CPU before giving the slots back to ptrace and perf. */
	cpuhp_remove_state(rc_cpuhp_state);
	rc_bp_release_all();
	rc_show_regs_guard_uninit();
	rc_kvm_guard_uninit();
	memzero_explicit(rc_kcv, sizeof(rc_kcv));
}
