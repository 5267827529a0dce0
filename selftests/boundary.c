// SPDX-License-Identifier: GPL-2.0
/*
 * Protection at the boundary with the rest of the kernel: what other kernel code
 * does to a protected process must not undo its protection. Each test has its
 * control in the same run: the same steps on an unprotected process show that the
 * kernel really does what the test guards against.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/kvm.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ramcrypt_test.h"

#define SUID_DUMPABLE	"/proc/sys/fs/suid_dumpable"
#define CORE_PATTERN	"/proc/sys/kernel/core_pattern"

FIXTURE(creds) {
	int fd;
	char suid_dumpable[16], core_pattern[256];
};

FIXTURE_SETUP(creds)
{
	self->fd = rc_fd();
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", RAMCRYPT_DEVICE, strerror(errno));
	ASSERT_EQ(0, read_file(SUID_DUMPABLE, self->suid_dumpable, sizeof(self->suid_dumpable)));
	ASSERT_EQ(0, read_file(CORE_PATTERN, self->core_pattern, sizeof(self->core_pattern)));
	ASSERT_EQ(0, write_file(CORE_PATTERN, "/tmp/rc-core.%p"));
}

FIXTURE_TEARDOWN(creds)
{
	write_file(SUID_DUMPABLE, self->suid_dumpable);
	write_file(CORE_PATTERN, self->core_pattern);
	if (self->fd >= 0)
		close(self->fd);
}

/* What a child saw, through a pipe: dumpable before and after dropping privileges. */
struct seen {
	int after_protect, after_setuid, after_unprotect;
};

/*
 * A child that (optionally) protects itself, drops root for nobody as a server
 * does, reports PR_GET_DUMPABLE, then crashes with core dumps allowed. Returns its
 * wait status; *seen what it reported; *core whether a core file appeared.
 */
static int drop_and_crash(int fd, int protected, int unprotect, struct seen *seen, int *core)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int p[2], status;
	char path[64];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct seen s = { -1, -1, -1 };

		setrlimit(RLIMIT_CORE, &unlimited);
		if (protected && protect(fd, 0, 0, RAMCRYPT_MIN_WINDOW))
			_exit(10);
		s.after_protect = prctl(PR_GET_DUMPABLE);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(11);
		s.after_setuid = prctl(PR_GET_DUMPABLE);
		if (unprotect) {
			/* Unprotect needs the device, opened before the drop (fd). */
			struct ramcrypt_pid self_pid = { .pid = 0 };

			if (ioctl(fd, RAMCRYPT_IOC_UNPROTECT, &self_pid))
				_exit(12);
			s.after_unprotect = prctl(PR_GET_DUMPABLE);
			_exit(write(p[1], &s, sizeof(s)) == sizeof(s) ? 0 : 14);
		}
		if (write(p[1], &s, sizeof(s)) != sizeof(s))
			_exit(15);
		close(p[1]);
		raise(SIGSEGV);
		_exit(13);
	}
	close(p[1]);
	memset(seen, -1, sizeof(*seen));
	if (read(p[0], seen, sizeof(*seen)) != sizeof(*seen))
		memset(seen, -1, sizeof(*seen));
	close(p[0]);
	waitpid(pid, &status, 0);
	snprintf(path, sizeof(path), "/tmp/rc-core.%d", pid);
	*core = access(path, F_OK) == 0;
	unlink(path);
	return status;
}

/*
 * commit_creds() resets dumpability to fs.suid_dumpable when a process changes its
 * uid: with suid_dumpable 2 (Ubuntu's setting) an unprotected server that drops
 * root is dumpable again and its crash writes a core (the control). A protected one
 * must stay non-dumpable and write none.
 */
TEST_F_TIMEOUT(creds, dumpable_after_privilege_drop, 120)
{
	struct seen seen;
	int status, core;

	ASSERT_EQ(0, write_file(SUID_DUMPABLE, "2"));

	status = drop_and_crash(self->fd, 0, 0, &seen, &core);
	TH_LOG("unprotected: dumpable %d after setuid, core %s (status %#x)", seen.after_setuid,
	       core ? "written" : "none", status);
	ASSERT_EQ(2, seen.after_setuid) TH_LOG("control: the kernel did not reset dumpability");
	ASSERT_TRUE(core) TH_LOG("control: no core dump even unprotected; the test cannot see one");

	status = drop_and_crash(self->fd, 1, 0, &seen, &core);
	TH_LOG("protected: dumpable %d after protect, %d after setuid, core %s (status %#x)",
	       seen.after_protect, seen.after_setuid, core ? "written" : "none", status);
	EXPECT_EQ(0, seen.after_protect);
	EXPECT_EQ(0, seen.after_setuid);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	EXPECT_FALSE(WCOREDUMP(status));
	EXPECT_FALSE(core);
}

/*
 * Unprotect gives the process the dumpability the kernel would have given it: after
 * a privilege drop under suid_dumpable 0 (Debian's default) that is 0, not the 1
 * the process had when it was protected.
 */
TEST_F_TIMEOUT(creds, unprotect_restores_current_value, 120)
{
	struct seen seen;
	int status, core;

	ASSERT_EQ(0, write_file(SUID_DUMPABLE, "0"));
	status = drop_and_crash(self->fd, 1, 1, &seen, &core);
	TH_LOG("protect -> %d, setuid -> %d, unprotect -> %d (status %#x)", seen.after_protect,
	       seen.after_setuid, seen.after_unprotect, status);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("child status %#x", status);
	EXPECT_EQ(0, seen.after_setuid);
	EXPECT_EQ(0, seen.after_unprotect);
}

/*
 * KVM loads a guest's DR0-DR3 and does not put the host's back: it must not share
 * a machine with the key unless the admin says so (allow_kvm=1), and status must
 * then say so. The control is the same module load with allow_kvm=1, which works.
 */
#define KO "/lib/modules/"

static int sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int status_degraded(uint64_t *degraded)
{
	struct ramcrypt_status st;
	int fd = rc_fd(), ret;

	if (fd < 0)
		return -errno;
	ret = get_status(fd, &st);
	close(fd);
	*degraded = st.degraded;
	return ret;
}

/*
 * Whatever a KVM test did or where it stopped: no KVM, and ramcrypt loaded as the
 * guest loaded it (without allow_kvm), so that the tests after it see a normal module.
 */
FIXTURE(kvm) {
	int unused;
};

FIXTURE_SETUP(kvm)
{
}

FIXTURE_TEARDOWN(kvm)
{
	sh("for m in kvm_amd kvm_intel kvm; do grep -q \"^$m \" /proc/modules && rmmod $m; done; "
	   "grep -q Y /sys/module/ramcrypt/parameters/allow_kvm 2>/dev/null && rmmod ramcrypt; "
	   "[ -e /sys/module/ramcrypt ] || insmod " KO "ramcrypt.ko");
}

TEST_F(kvm, guard)
{
	uint64_t degraded = 0;

	ASSERT_EQ(0, access(KO "kvm.ko", R_OK)) TH_LOG("no kvm.ko: the lane kernel has CONFIG_KVM=m");
	/* kvm.ko's own dependency, where it is a module. */
	sh("[ ! -f " KO "irqbypass.ko ] || grep -q '^irqbypass ' /proc/modules || insmod " KO "irqbypass.ko");
	/* 1. ramcrypt loaded (by the guest, allow_kvm=0): kvm.ko is refused. */
	EXPECT_NE(0, sh("insmod " KO "kvm.ko 2>/dev/null"));
	EXPECT_EQ(0, sh("dmesg | grep -q 'refusing to let kvm load'"));
	EXPECT_NE(0, sh("grep -q '^kvm ' /proc/modules"));

	/* 2. The control: with allow_kvm=1 KVM loads, and status says so. */
	ASSERT_EQ(0, sh("rmmod ramcrypt && insmod " KO "ramcrypt.ko allow_kvm=1"));
	ASSERT_EQ(0, status_degraded(&degraded));
	EXPECT_FALSE(degraded & RAMCRYPT_DEGRADED_KVM) TH_LOG("KVM bit set before KVM loaded");
	EXPECT_EQ(0, sh("insmod " KO "kvm.ko"));
	ASSERT_EQ(0, status_degraded(&degraded));
	EXPECT_TRUE(degraded & RAMCRYPT_DEGRADED_KVM) TH_LOG("degraded %#llx", (unsigned long long)degraded);

	/* 3. KVM present: ramcrypt itself refuses to load, unless allowed. */
	ASSERT_EQ(0, sh("rmmod ramcrypt"));
	EXPECT_NE(0, sh("insmod " KO "ramcrypt.ko 2>/dev/null"));
	EXPECT_EQ(0, sh("dmesg | grep -q 'KVM is loaded: it overwrites DR0-DR3'"));
	EXPECT_NE(0, access(RAMCRYPT_DEVICE, F_OK));

	/* And once KVM is gone, ramcrypt loads again (the teardown leaves it so). */
	EXPECT_EQ(0, sh("rmmod kvm"));
	ASSERT_EQ(0, sh("insmod " KO "ramcrypt.ko"));
	ASSERT_EQ(0, status_degraded(&degraded));
	EXPECT_FALSE(degraded & RAMCRYPT_DEGRADED_KVM);
}

/* A one-page real-mode guest at 0 runs CODE to its hlt. */
struct vm_result {
	int exit_reason;	/* or -errno of the ioctl that failed */
	int guest_debug_err;	/* KVM_SET_GUEST_DEBUG's -errno, 0 if it worked or was not asked */
	uint32_t data[2];	/* what the guest stored at 0x800 and 0x804 */
};

static struct vm_result run_vm(const uint8_t *code, size_t len, bool hw_breakpoints)
{
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP,
		.arch.debugreg = { 0x1000, 0x2000, 0x3000, 0x4000, 0, 0, 0, 0x55 },
	};
	struct kvm_userspace_memory_region mem = { .slot = 0, .memory_size = 4096 };
	struct vm_result res = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	int kvm, vm = -1, vcpu = -1, size = 0;
	struct kvm_run *run = MAP_FAILED;
	uint8_t *guest;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return (struct vm_result){ .exit_reason = -errno };
	guest = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (guest == MAP_FAILED)
		goto fail;
	memcpy(guest, code, len);
	mem.userspace_addr = (uintptr_t)guest;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mem))
		goto fail;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || size <= 0)
		goto fail;
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs))
		goto fail;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs))
		goto fail;
	if (hw_breakpoints && ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg))
		res.guest_debug_err = -errno;
	res.exit_reason = ioctl(vcpu, KVM_RUN, 0) ? -errno : (int)run->exit_reason;
	memcpy(res.data, guest + 0x800, sizeof(res.data));
	goto out;
fail:
	res.exit_reason = -errno;
out:
	/* Every reference to the VM goes, so that kvm_amd/kvm_intel can unload. */
	if (run != MAP_FAILED)
		munmap(run, size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	close(kvm);
	if (guest != MAP_FAILED)
		munmap(guest, 4096);
	return res;
}

static const uint8_t guest_hlt[] = { 0xf4 };

/*
 * A guest that uses its debug registers, as any guest kernel may: it reads DR0,
 * writes DR0-DR3 and DR7 (four enabled breakpoints), reads DR0 back, and stops.
 * Its first DR access makes a stock KVM drop the DR exits and load the guest's
 * DR0-DR3 into hardware.
 */
static const uint8_t guest_uses_drs[] = {
	0x0f, 0x21, 0xc0,			/* mov %dr0,%eax */
	0x66, 0xa3, 0x00, 0x08,			/* mov %eax,0x800 */
	0x66, 0xb8, 0x34, 0x12, 0x00, 0x00,	/* mov $0x1234,%eax */
	0x0f, 0x23, 0xc0,			/* mov %eax,%dr0 */
	0x0f, 0x23, 0xc8,			/* mov %eax,%dr1 */
	0x0f, 0x23, 0xd0,			/* mov %eax,%dr2 */
	0x0f, 0x23, 0xd8,			/* mov %eax,%dr3 */
	0x66, 0xb8, 0x55, 0x04, 0x00, 0x00,	/* mov $0x455,%eax: L0-L3 */
	0x0f, 0x23, 0xf8,			/* mov %eax,%dr7 */
	0x0f, 0x21, 0xc0,			/* mov %dr0,%eax */
	0x66, 0xa3, 0x04, 0x08,			/* mov %eax,0x804 */
	0xf4,					/* hlt */
};

static int key_state(uint64_t *with_key, uint64_t *online, uint64_t *heals)
{
	struct ramcrypt_status st;
	int fd = rc_fd(), ret;

	if (fd < 0)
		return -errno;
	ret = get_status(fd, &st);
	close(fd);
	*with_key = st.cpus_with_key;
	*online = st.cpus_online;
	*heals = st.key_heals;
	return ret;
}

/*
 * What the guard is for, shown with a nested guest (QEMU's TCG emulates SVM): with
 * allow_kvm=1, a VMM that sets a hardware breakpoint for its guest
 * (KVM_SET_GUEST_DEBUG) makes KVM load the guest's DR0-DR3 on the CPU that runs
 * it, and the host's key is gone there. The key check must see the loss, and the
 * key must come back (healed from the other CPU) before it is used.
 */
TEST_F(kvm, nested_vm_wipes_the_key)
{
	int amd = sh("grep -qw svm /proc/cpuinfo") == 0, intel = sh("grep -qw vmx /proc/cpuinfo") == 0;
	const char *vendor = amd ? "amd" : intel ? "intel" : NULL;
	uint64_t with0, on0, heals0, with1, on1, heals1, with2, on2, heals2;
	struct vm_result vm;
	cpu_set_t cpu0;
	char cmd[128];
	int exit_reason, fd;

	if (!vendor)
		SKIP(return, "this (virtual) CPU offers neither SVM nor VMX: no nested guest here");
	ASSERT_EQ(0, sh("rmmod ramcrypt && insmod " KO "ramcrypt.ko allow_kvm=1"));
	sh("[ ! -f " KO "irqbypass.ko ] || grep -q '^irqbypass ' /proc/modules || insmod " KO "irqbypass.ko");
	snprintf(cmd, sizeof(cmd), "insmod " KO "kvm.ko && insmod " KO "kvm-%s.ko", vendor);
	ASSERT_EQ(0, sh(cmd)) TH_LOG("kvm-%s did not load", vendor);
	ASSERT_EQ(0, key_state(&with0, &on0, &heals0));

	/* The VM runs on CPU 0: that CPU's DR0-DR3 get the guest's breakpoints. */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0));
	vm = run_vm(guest_hlt, sizeof(guest_hlt), true);
	exit_reason = vm.exit_reason;
	EXPECT_EQ(0, vm.guest_debug_err);
	ASSERT_EQ(0, key_state(&with1, &on1, &heals1));
	TH_LOG("before the VM: key on %llu of %llu CPUs, %llu heals", (unsigned long long)with0,
	       (unsigned long long)on0, (unsigned long long)heals0);
	TH_LOG("after KVM_RUN (exit reason %d): key on %llu of %llu CPUs, %llu heals", exit_reason,
	       (unsigned long long)with1, (unsigned long long)on1, (unsigned long long)heals1);
	EXPECT_LE(0, exit_reason);
	EXPECT_EQ(on0, with0);
	/* The loss is seen: a CPU without the key now, or already healed. */
	EXPECT_TRUE(with1 < on1 || heals1 > heals0);

	/* The key is back before it is used: the runtime selftest encrypts with it. */
	fd = rc_fd();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, RAMCRYPT_IOC_SELFTEST));
	close(fd);
	ASSERT_EQ(0, key_state(&with2, &on2, &heals2));
	TH_LOG("after a use: key on %llu of %llu CPUs, %llu heals", (unsigned long long)with2,
	       (unsigned long long)on2, (unsigned long long)heals2);
	EXPECT_EQ(on2, with2);

	/* The VM is gone: its vendor module must unload (the teardown reloads ramcrypt). */
	snprintf(cmd, sizeof(cmd), "rmmod kvm_%s kvm", vendor);
	EXPECT_EQ(0, sh(cmd));
}

/*
 * patches/ (6.12, 6.1): a KVM with host_owns_debugregs=1 keeps guests off DR0-DR3, and
 * ramcrypt lets it in without allow_kvm. One boot, the same patched modules; the
 * control first: with the parameter off (and allow_kvm=1, or KVM would be refused),
 * a guest that merely uses its debug registers wipes the key on its CPU. With it on,
 * the same guest runs and sees its own debug registers, every CPU keeps the key, and
 * a VMM's hardware breakpoints are refused.
 */
#define PATCHED KO "patched/"

static void log_vm(struct __test_metadata *_metadata, const char *when, struct vm_result vm,
		   uint64_t with, uint64_t on, uint64_t heals)
{
	TH_LOG("%s: exit reason %d, guest read DR0 %#x before and %#x after writing 0x1234; "
	       "key on %llu of %llu CPUs, %llu heals", when, vm.exit_reason, vm.data[0], vm.data[1],
	       (unsigned long long)with, (unsigned long long)on, (unsigned long long)heals);
}

TEST_F(kvm, patched_kvm_keeps_the_key)
{
	int amd = sh("grep -qw svm /proc/cpuinfo") == 0, intel = sh("grep -qw vmx /proc/cpuinfo") == 0;
	const char *vendor = amd ? "amd" : intel ? "intel" : NULL;
	uint64_t with0, on0, heals0, with1, on1, heals1, degraded = ~0ULL;
	struct vm_result vm;
	cpu_set_t cpu0;
	char cmd[160];
	int fd;

	if (!vendor)
		SKIP(return, "this (virtual) CPU offers neither SVM nor VMX: no nested guest here");
	if (access(PATCHED "kvm.ko", R_OK))
		SKIP(return, "no KVM built with patches/ for this kernel (patches/ has 6.12 and 6.1)");
	sh("[ ! -f " KO "irqbypass.ko ] || grep -q '^irqbypass ' /proc/modules || insmod " KO "irqbypass.ko");
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0));

	/* 1. Control: host_owns_debugregs off. The guest's first DR access costs the key. */
	ASSERT_EQ(0, sh("rmmod ramcrypt && insmod " KO "ramcrypt.ko allow_kvm=1"));
	snprintf(cmd, sizeof(cmd), "insmod " PATCHED "kvm.ko && insmod " PATCHED "kvm-%s.ko", vendor);
	ASSERT_EQ(0, sh(cmd)) TH_LOG("patched kvm-%s did not load", vendor);
	ASSERT_EQ(0, key_state(&with0, &on0, &heals0));
	vm = run_vm(guest_uses_drs, sizeof(guest_uses_drs), false);
	ASSERT_EQ(0, key_state(&with1, &on1, &heals1));
	log_vm(_metadata, "host_owns_debugregs=0", vm, with1, on1, heals1);
	EXPECT_EQ(KVM_EXIT_HLT, vm.exit_reason);
	EXPECT_EQ(on0, with0);
	EXPECT_TRUE(with1 < on1 || heals1 > heals0) TH_LOG("the control lost no key: the test cannot see a loss");
	fd = rc_fd();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, RAMCRYPT_IOC_SELFTEST));	/* heals CPU 0 */
	close(fd);
	snprintf(cmd, sizeof(cmd), "rmmod kvm_%s kvm && rmmod ramcrypt && insmod " KO "ramcrypt.ko", vendor);
	ASSERT_EQ(0, sh(cmd));

	/* 2. ramcrypt (no allow_kvm) lets the patched kvm.ko in, but not a VM runner without the parameter. */
	snprintf(cmd, sizeof(cmd), "insmod " PATCHED "kvm-%s.ko 2>/dev/null", vendor);
	EXPECT_EQ(0, sh("insmod " PATCHED "kvm.ko"));
	EXPECT_NE(0, sh(cmd));
	snprintf(cmd, sizeof(cmd), "dmesg | grep -q 'refusing to let kvm_%s load'", vendor);
	EXPECT_EQ(0, sh(cmd));
	ASSERT_EQ(0, sh("rmmod kvm"));

	/* 3. host_owns_debugregs=1: KVM loads beside the key, and the same guest costs nothing. */
	snprintf(cmd, sizeof(cmd), "insmod " PATCHED "kvm.ko host_owns_debugregs=1 && insmod " PATCHED "kvm-%s.ko",
		 vendor);
	ASSERT_EQ(0, sh(cmd)) TH_LOG("ramcrypt refused the patched KVM with host_owns_debugregs=1");
	ASSERT_EQ(0, status_degraded(&degraded));
	EXPECT_FALSE(degraded & RAMCRYPT_DEGRADED_KVM) TH_LOG("degraded %#llx", (unsigned long long)degraded);
	ASSERT_EQ(0, key_state(&with0, &on0, &heals0));
	vm = run_vm(guest_uses_drs, sizeof(guest_uses_drs), false);
	ASSERT_EQ(0, key_state(&with1, &on1, &heals1));
	log_vm(_metadata, "host_owns_debugregs=1", vm, with1, on1, heals1);
	EXPECT_EQ(KVM_EXIT_HLT, vm.exit_reason);
	EXPECT_EQ(0, vm.data[0]);	/* its own DR0, not ours */
	EXPECT_EQ(0x1234, vm.data[1]);	/* and it keeps what it writes */
	EXPECT_EQ(on1, with1);
	EXPECT_EQ(heals0, heals1);
	vm = run_vm(guest_hlt, sizeof(guest_hlt), true);
	EXPECT_EQ(-EBUSY, vm.guest_debug_err);
	EXPECT_EQ(KVM_EXIT_HLT, vm.exit_reason);
	ASSERT_EQ(0, key_state(&with1, &on1, &heals1));
	EXPECT_EQ(on1, with1);
	EXPECT_EQ(heals0, heals1);

	/* 4. ramcrypt loads while such a KVM is there, and says why. */
	EXPECT_EQ(0, sh("rmmod ramcrypt && insmod " KO "ramcrypt.ko"));
	EXPECT_EQ(0, sh("dmesg | grep -q 'KVM is loaded with host_owns_debugregs=1'"));
	snprintf(cmd, sizeof(cmd), "rmmod kvm_%s kvm", vendor);
	EXPECT_EQ(0, sh(cmd));
}

/*
 * Register dumps. sysrq-l makes every CPU print its registers from an NMI (a busy
 * CPU only). CPU 1 runs a protected process that misses its window on every touch,
 * so the NMI often lands in kernel mode, and in ramcrypt's code. Such a dump must
 * print no debug register (the key), no general register trapped in ramcrypt (tweaks,
 * data, key words), and must not cost the key (no heal, every CPU keeps it).
 */
#define DUMP_PAGES 64

struct dump_seen {
	int kernel;	/* dumps of registers trapped in kernel mode */
	int ours;	/* ... in ramcrypt's code */
	int ours_unmasked;
	int debugregs;	/* DR0 lines */
};

/* Read the kernel log records written since fd was opened; tally the dumps. */
static void dump_tally(int kmsg, struct dump_seen *seen)
{
	char rec[2048], last_rip[512] = "";
	int gpr_lines = 0;
	ssize_t n;

	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0) {
		char *msg;

		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		if (strstr(msg, "DR0:"))
			seen->debugregs++;
		if (!strncmp(msg, "RIP: 0010:", 10)) {
			seen->kernel++;
			snprintf(last_rip, sizeof(last_rip), "%s", msg);
			gpr_lines = 0;
			if (strstr(msg, "[ramcrypt]"))
				seen->ours++;
			continue;
		}
		/* RAX, RDX, RBP, R10 and R13 lines: three registers each, all zero if masked. */
		if (strstr(last_rip, "[ramcrypt]") && gpr_lines < 5 &&
		    (!strncmp(msg, "RAX:", 4) || !strncmp(msg, "RDX:", 4) || !strncmp(msg, "RBP:", 4) ||
		     !strncmp(msg, "R10:", 4) || !strncmp(msg, "R13:", 4))) {
			unsigned long long a, b, c;
			char n1[8], n2[8], n3[8];

			gpr_lines++;
			if (sscanf(msg, "%7s %llx %7s %llx %7s %llx", n1, &a, n2, &b, n3, &c) != 6 ||
			    a || b || c) {
				seen->ours_unmasked++;
				fprintf(stderr, "# unmasked, after %s#   %s", last_rip, msg);
			}
		}
	}
}

TEST(register_dumps_keep_key_and_cipher_state_out)
{
	uint64_t with0, on0, heals0, with1, on1, heals1, degraded = 0;
	struct dump_seen seen = {};
	int fd = rc_fd(), kmsg, i, status, con, def, min, defcon;
	char printk0[64], quiet[64];
	cpu_set_t cpu;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN)) TH_LOG("needs a second CPU to be busy");
	ASSERT_EQ(0, key_state(&with0, &on0, &heals0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint64_t *buf = mmap(NULL, DUMP_PAGES * PAGE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CPU_ZERO(&cpu);
		CPU_SET(1, &cpu);
		if (buf == MAP_FAILED || sched_setaffinity(0, sizeof(cpu), &cpu))
			_exit(1);
		fill(buf, DUMP_PAGES, 77);
		if (protect(fd, 0, 0, RAMCRYPT_MIN_WINDOW))
			_exit(2);
		for (;;)	/* every touch a window miss: decrypt one, encrypt one */
			for (size_t p = 0; p < DUMP_PAGES; p++)
				buf[p * PAGE / 8 + 1]++;
	}
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	/*
	 * Default-level messages (the dumps, their call traces) at the console's level
	 * stay off the console, where guest-run would take a call trace for a failure;
	 * they still reach the log, which is what is read here.
	 */
	ASSERT_EQ(0, read_file("/proc/sys/kernel/printk", printk0, sizeof(printk0)));
	ASSERT_EQ(4, sscanf(printk0, "%d %d %d %d", &con, &def, &min, &defcon));
	snprintf(quiet, sizeof(quiet), "%d %d %d %d", con, con, min, defcon);
	ASSERT_EQ(0, write_file("/proc/sys/kernel/printk", quiet));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, kmsg);
	ASSERT_LE(0, lseek(kmsg, 0, SEEK_END));
	usleep(300 * 1000);
	for (i = 0; i < 60 && !(seen.kernel >= 3 && seen.ours >= 1); i++) {
		ASSERT_EQ(0, write_file("/proc/sysrq-trigger", "l"));
		usleep(200 * 1000);
		dump_tally(kmsg, &seen);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(kmsg);
	write_file("/proc/sys/kernel/printk", printk0);
	ASSERT_EQ(0, key_state(&with1, &on1, &heals1));
	status_degraded(&degraded);
	TH_LOG("%d sysrq-l: %d kernel-mode register dumps, %d in ramcrypt (%d unmasked), %d with DR0; "
	       "key on %llu of %llu CPUs, heals %llu -> %llu",
	       i, seen.kernel, seen.ours, seen.ours_unmasked, seen.debugregs,
	       (unsigned long long)with1, (unsigned long long)on1,
	       (unsigned long long)heals0, (unsigned long long)heals1);
	EXPECT_LE(1, seen.kernel) TH_LOG("no dump of kernel-mode registers: nothing was tested");
	EXPECT_LE(1, seen.ours) TH_LOG("no dump landed in ramcrypt's code: the masking was not tested");
	EXPECT_EQ(0, seen.ours_unmasked);
	EXPECT_EQ(0, seen.debugregs);
	EXPECT_EQ(on1, with1);
	EXPECT_EQ(heals0, heals1);
	EXPECT_EQ(0, degraded & RAMCRYPT_DEGRADED_DUMP_GUARD);
	close(fd);
}

/*
 * perf_event_paranoid below 2 lets unprivileged users sample kernel registers: the
 * status says so while it is, and not once it is back.
 */
TEST(perf_paranoid_marks_status)
{
	const char *knob = "/proc/sys/kernel/perf_event_paranoid";
	uint64_t low = 0, high = ~0ULL;
	char orig[16];

	ASSERT_EQ(0, read_file(knob, orig, sizeof(orig))) TH_LOG("no perf in this kernel");
	ASSERT_EQ(0, write_file(knob, "2"));
	ASSERT_EQ(0, status_degraded(&high));
	ASSERT_EQ(0, write_file(knob, "1"));
	ASSERT_EQ(0, status_degraded(&low));
	write_file(knob, orig);
	EXPECT_EQ(0, high & RAMCRYPT_DEGRADED_PERF);
	EXPECT_EQ(RAMCRYPT_DEGRADED_PERF, low & RAMCRYPT_DEGRADED_PERF);
}

/*
 * The fault probe in NMI context. perf and BPF read user memory from NMIs
 * (copy_from_user_nmi(), bpf_probe_read_user()) with page faults disabled. A read
 * of an encrypted page then faults and the fault is refused; the probe must do
 * nothing there: no allocation, spinlock or task work in an NMI, and no window slot
 * for a page that never becomes present. The NMIs come from sysrq-l (a backtrace
 * NMI to the other CPU); a BPF program on show_regs(), which the backtrace calls in
 * NMI context, reads two pages of a protected process spinning on CPU 1: an
 * encrypted one, which must not be readable, and its control in the same NMI, one
 * in the window, which must read back its pattern. The process takes no fault of
 * its own meanwhile, so its fault count must not move.
 */
#define NMI_PAGES	8

enum { NMI_HITS, NMI_ENC_READ, NMI_WIN_READ, NMI_WIN_WORD, NMI_SLOTS };

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LD_IMM64(d, s, v)	INSN(BPF_LD | BPF_DW | BPF_IMM, d, s, 0, (__u32)(v)), \
				INSN(0, 0, 0, 0, (__u32)((__u64)(v) >> 32))
#define MOV_IMM(d, i)		INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV_REG(d, s)		INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_IMM(d, i)		INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define CALL(f)			INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define XADD(d, s, o)		INSN(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, BPF_ADD)

static int bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/*
 * if (tgid == pid) { slot[HITS]++; if (!read(enc)) slot[ENC_READ]++;
 *                    if (!read(win)) { slot[WIN_READ]++; slot[WIN_WORD] = word; } }
 * The map is one array element of NMI_SLOTS u64s.
 */
static int nmi_reader_prog(int map, pid_t pid, uint64_t enc, uint64_t win)
{
	struct bpf_insn insns[] = {
		CALL(BPF_FUNC_get_current_pid_tgid),
		INSN(BPF_ALU64 | BPF_RSH | BPF_K, 0, 0, 0, 32),
		INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 30, pid),		/* -> exit */
		INSN(BPF_ST | BPF_W | BPF_MEM, 10, 0, -4, 0),		/* key = 0 */
		LD_IMM64(1, BPF_PSEUDO_MAP_FD, map),
		MOV_REG(2, 10), ADD_IMM(2, -4),
		CALL(BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 23, 0),		/* -> exit */
		MOV_REG(6, 0),
		MOV_IMM(1, 1), XADD(6, 1, 8 * NMI_HITS),
		MOV_REG(1, 10), ADD_IMM(1, -16), MOV_IMM(2, 8), LD_IMM64(3, 0, enc),
		CALL(BPF_FUNC_probe_read_user),
		INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 2, 0),
		MOV_IMM(1, 1), XADD(6, 1, 8 * NMI_ENC_READ),
		MOV_REG(1, 10), ADD_IMM(1, -16), MOV_IMM(2, 8), LD_IMM64(3, 0, win),
		CALL(BPF_FUNC_probe_read_user),
		INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 4, 0),
		MOV_IMM(1, 1), XADD(6, 1, 8 * NMI_WIN_READ),
		INSN(BPF_LDX | BPF_DW | BPF_MEM, 1, 10, -16, 0),
		INSN(BPF_STX | BPF_DW | BPF_MEM, 6, 1, 8 * NMI_WIN_WORD, 0),
		MOV_IMM(0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	static char log[16384];
	union bpf_attr a = {
		.prog_type = BPF_PROG_TYPE_KPROBE,
		.insns = (uintptr_t)insns,
		.insn_cnt = sizeof(insns) / sizeof(insns[0]),
		.license = (uintptr_t)"GPL",
		.log_buf = (uintptr_t)log,
		.log_size = sizeof(log),
		.log_level = 1,
	};
	int fd = bpf(BPF_PROG_LOAD, &a);

	if (fd < 0)
		fprintf(stderr, "# BPF_PROG_LOAD: %s\n%s", strerror(errno), log);
	return fd;
}

/* A kprobe on fn, on one CPU, running prog: the perf event's fd. */
static int kprobe_on(const char *fn, int cpu, int prog)
{
	struct perf_event_attr attr = { .size = sizeof(attr), .sample_period = 1, .wakeup_events = 1 };
	char type[16];
	int fd;

	if (read_file("/sys/bus/event_source/devices/kprobe/type", type, sizeof(type)))
		return -1;
	attr.type = atoi(type);
	attr.config1 = (uintptr_t)fn;	/* kprobe_func */
	fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(nmi_user_read_takes_no_window_slot)
{
	const char *agef = "/proc/sys/ramcrypt/max_plain_age_ms";
	uint64_t seed = 0x4e4d49, slots[NMI_SLOTS] = {}, key0 = 0;
	int fd = rc_fd(), map, prog, ev, ready[2], status, i;
	struct ramcrypt_proc_stats st0, st1;
	char age0[32], printk0[64], quiet[64], c;
	int con, def, min, defcon;
	union bpf_attr a = {};
	uint64_t *buf;
	cpu_set_t cpu;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN)) TH_LOG("needs a second CPU to take the NMIs");
	/* Its window pages must stay in the window: no idle expiry while it spins. */
	ASSERT_EQ(0, read_file(agef, age0, sizeof(age0)));
	ASSERT_EQ(0, write_file(agef, "0"));
	buf = mmap(NULL, NMI_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CPU_ZERO(&cpu);
		CPU_SET(1, &cpu);
		if (sched_setaffinity(0, sizeof(cpu), &cpu))
			_exit(1);
		fill(buf, NMI_PAGES, seed);
		if (protect(fd, 0, 0, 16))
			_exit(2);
		/* Page 1 back into the window; page 0 stays ciphertext. */
		if (buf[PAGE / 8] != pattern(seed, 1, 0) || write(ready[1], "r", 1) != 1)
			_exit(3);
		for (;;)	/* registers only: no fault of its own from here */
			__asm__ volatile("pause");
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));

	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = sizeof(slots);
	a.max_entries = 1;
	map = bpf(BPF_MAP_CREATE, &a);
	ASSERT_LE(0, map) TH_LOG("BPF_MAP_CREATE: %s", strerror(errno));
	prog = nmi_reader_prog(map, pid, (uintptr_t)buf, (uintptr_t)buf + PAGE);
	ASSERT_LE(0, prog);
	ev = kprobe_on("show_regs", 1, prog);
	ASSERT_LE(0, ev) TH_LOG("kprobe on show_regs: %s", strerror(errno));

	/* The backtraces go to the log, not the console (see the register-dump test). */
	ASSERT_EQ(0, read_file("/proc/sys/kernel/printk", printk0, sizeof(printk0)));
	ASSERT_EQ(4, sscanf(printk0, "%d %d %d %d", &con, &def, &min, &defcon));
	snprintf(quiet, sizeof(quiet), "%d %d %d %d", con, con, min, defcon);
	ASSERT_EQ(0, write_file("/proc/sys/kernel/printk", quiet));
	usleep(100 * 1000);	/* the child's own last fault work has run */
	ASSERT_EQ(0, proc_stats(fd, pid, &st0));
	for (i = 0; i < 100 && slots[NMI_HITS] < 20; i++) {
		ASSERT_EQ(0, write_file("/proc/sysrq-trigger", "l"));
		usleep(100 * 1000);
		a = (union bpf_attr){ .map_fd = map, .key = (uintptr_t)&key0, .value = (uintptr_t)slots };
		ASSERT_EQ(0, bpf(BPF_MAP_LOOKUP_ELEM, &a));
	}
	usleep(200 * 1000);	/* a queued fault work would have run by now */
	ASSERT_EQ(0, proc_stats(fd, pid, &st1));
	write_file("/proc/sys/kernel/printk", printk0);
	close(ev);
	close(prog);
	close(map);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	write_file(agef, age0);
	close(fd);
	TH_LOG("%d sysrq-l: %llu NMI reads in the process; encrypted page read %llu times, "
	       "window page %llu times (word %s); faults %llu -> %llu, window %llu -> %llu pages",
	       i, (unsigned long long)slots[NMI_HITS], (unsigned long long)slots[NMI_ENC_READ],
	       (unsigned long long)slots[NMI_WIN_READ],
	       slots[NMI_WIN_WORD] == pattern(seed, 1, 0) ? "right" : "wrong",
	       (unsigned long long)st0.faults, (unsigned long long)st1.faults,
	       (unsigned long long)st0.window_pages, (unsigned long long)st1.window_pages);
	ASSERT_LE(1, slots[NMI_HITS]) TH_LOG("no NMI ran in the process: nothing was tested");
	EXPECT_EQ(0, slots[NMI_ENC_READ]);
	EXPECT_EQ(slots[NMI_HITS], slots[NMI_WIN_READ]);
	EXPECT_EQ(pattern(seed, 1, 0), slots[NMI_WIN_WORD]);
	EXPECT_EQ(st0.faults, st1.faults);
	EXPECT_EQ(st0.window_pages, st1.window_pages);
}

TEST_HARNESS_MAIN
