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
#include <linux/kvm.h>
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

/*
 * What the guard is for, shown with a nested guest (QEMU's TCG emulates SVM): with
 * allow_kvm=1, a VMM that sets a hardware breakpoint for its guest
 * (KVM_SET_GUEST_DEBUG) makes KVM load the guest's DR0-DR3 on the CPU that runs
 * it, and the host's key is gone there. The key check must see the loss, and the
 * key must come back (healed from the other CPU) before it is used.
 */
static int run_vm_with_hw_breakpoint(void)
{
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP,
		.arch.debugreg = { 0x1000, 0x2000, 0x3000, 0x4000, 0, 0, 0, 0x55 },
	};
	struct kvm_userspace_memory_region mem = { .slot = 0, .memory_size = 4096 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	int kvm, vm, vcpu, size, ret;
	struct kvm_run *run;
	char *guest;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return -errno;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	guest = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || guest == MAP_FAILED)
		return -errno;
	guest[0] = (char)0xf4;	/* hlt */
	mem.userspace_addr = (uintptr_t)guest;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mem))
		return -errno;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || size <= 0)
		return -errno;
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs) ||
	    ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg))
		return -errno;
	ret = ioctl(vcpu, KVM_RUN, 0) ? -errno : (int)run->exit_reason;
	/* Every reference to the VM goes, so that kvm_amd/kvm_intel can unload. */
	munmap(run, size);
	close(vcpu);
	close(vm);
	close(kvm);
	munmap(guest, 4096);
	return ret;
}

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

TEST_F(kvm, nested_vm_wipes_the_key)
{
	int amd = sh("grep -qw svm /proc/cpuinfo") == 0, intel = sh("grep -qw vmx /proc/cpuinfo") == 0;
	const char *vendor = amd ? "amd" : intel ? "intel" : NULL;
	uint64_t with0, on0, heals0, with1, on1, heals1, with2, on2, heals2;
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
	exit_reason = run_vm_with_hw_breakpoint();
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

TEST_HARNESS_MAIN
