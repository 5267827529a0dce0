// SPDX-License-Identifier: GPL-2.0
/*
 * The keystore: the key in DR0-DR3 survives what could take it away. Runs in the
 * test guest as root with ramcrypt.ko loaded (scripts/guest-run).
 *
 *  - ptrace and perf cannot claim a hardware breakpoint (the four slots are ours),
 *    and reading the debug registers through ptrace shows no key bits;
 *  - a CPU taken offline and back online holds the key again;
 *  - 10,000 page round trips on every CPU, with the key checked before each use;
 *  - suspend is refused with a random key, and allowed once allow_suspend is set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ramcrypt.h>

#include "kselftest_harness.h"
#include "ramcrypt_test.h"

#define ROUNDTRIP "/sys/kernel/debug/ramcrypt/selftest_roundtrip"
#define PARAM_ALLOW_SUSPEND "/sys/module/ramcrypt/parameters/allow_suspend"
#define KEY_BAD (RAMCRYPT_DEGRADED_KEY_LOST | RAMCRYPT_DEGRADED_KEY_HEALED | \
		 RAMCRYPT_DEGRADED_SLOTS)

static volatile long watched;

static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* 0 and *st filled, or -errno (-ENOTTY while the module has no STATUS yet). */
static int key_status(struct ramcrypt_status *st)
{
	int fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	ret = ioctl(fd, RAMCRYPT_IOC_STATUS, st) ? -errno : 0;
	close(fd);
	return ret;
}

/* Encrypt and decrypt n pages on @cpu through the module; 0 or -errno. */
static int roundtrips(int cpu, unsigned int n)
{
	char num[16];

	if (pin_to_cpu(cpu))
		return -errno;
	snprintf(num, sizeof(num), "%u", n);
	return write_file(ROUNDTRIP, num);
}

FIXTURE(tracee) {
	pid_t child;
};

FIXTURE_SETUP(tracee)
{
	int status;

	self->child = fork();
	ASSERT_GE(self->child, 0);
	if (self->child == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		_exit(0);
	}
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status));
}

FIXTURE_TEARDOWN(tracee)
{
	kill(self->child, SIGKILL);
	waitpid(self->child, NULL, 0);
}

#define DR_OFFSET(n) offsetof(struct user, u_debugreg[n])

TEST_F(tracee, pokeuser_debugregs_fail)
{
	/* A valid user watchpoint: it can only fail for want of a free slot. */
	for (int i = 0; i < 4; i++) {
		errno = 0;
		EXPECT_EQ(-1, ptrace(PTRACE_POKEUSER, self->child, DR_OFFSET(i),
				     (void *)&watched)) TH_LOG("DR%d took a breakpoint", i);
		EXPECT_EQ(ENOSPC, errno) TH_LOG("DR%d: %s", i, strerror(errno));
	}
	/* DR7: enable DR0 as a 4-byte write watchpoint (L0, RW0=01, LEN0=11). */
	errno = 0;
	EXPECT_EQ(-1, ptrace(PTRACE_POKEUSER, self->child, DR_OFFSET(7),
			     (void *)((1UL << 0) | (1UL << 16) | (3UL << 18))));
	EXPECT_EQ(ENOSPC, errno) TH_LOG("DR7: %s", strerror(errno));
}

TEST_F(tracee, peekuser_debugregs_read_zero)
{
	for (int i = 0; i < 8; i++) {
		long v;

		if (i == 4 || i == 5 || i == 6)
			continue;	/* DR4/5 do not exist; DR6 is the status */
		errno = 0;
		v = ptrace(PTRACE_PEEKUSER, self->child, DR_OFFSET(i), NULL);
		ASSERT_EQ(0, errno) TH_LOG("DR%d: %s", i, strerror(errno));
		EXPECT_EQ(0, v) TH_LOG("DR%d reads %#lx", i, v);
	}
}

static int bp_open(pid_t pid, int cpu, __u32 type)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_BREAKPOINT,
		.size = sizeof(attr),
		.bp_type = type,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	if (type == HW_BREAKPOINT_X) {
		attr.bp_addr = (unsigned long)&bp_open;
		attr.bp_len = sizeof(long);
	} else {
		attr.bp_addr = (unsigned long)&watched;
		attr.bp_len = HW_BREAKPOINT_LEN_4;
	}
	return syscall(__NR_perf_event_open, &attr, pid, cpu, -1, 0);
}

TEST(perf_breakpoints_fail)
{
	const struct { pid_t pid; int cpu; __u32 type; } cases[] = {
		{ 0, -1, HW_BREAKPOINT_W },	/* this task, any CPU */
		{ 0, -1, HW_BREAKPOINT_RW },
		{ 0, -1, HW_BREAKPOINT_X },	/* instruction breakpoints share the slots */
		{ -1, 0, HW_BREAKPOINT_W },	/* CPU-wide */
		{ -1, 1, HW_BREAKPOINT_X },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd;

		if (cases[i].cpu >= sysconf(_SC_NPROCESSORS_ONLN))
			continue;
		errno = 0;
		fd = bp_open(cases[i].pid, cases[i].cpu, cases[i].type);
		EXPECT_EQ(-1, fd) TH_LOG("case %zu: perf breakpoint opened", i);
		EXPECT_EQ(ENOSPC, errno) TH_LOG("case %zu: %s", i, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

FIXTURE(cpu1) {
	int dummy;
};

FIXTURE_SETUP(cpu1)
{
	if (access("/sys/devices/system/cpu/cpu1/online", W_OK))
		SKIP(return, "cpu1 cannot be taken offline here (needs 2 CPUs)");
}

FIXTURE_TEARDOWN(cpu1)
{
	write_file("/sys/devices/system/cpu/cpu1/online", "1");
}

TEST_F_TIMEOUT(cpu1, offline_online_keeps_key, 120)
{
	struct ramcrypt_status before, st;
	int sret, ret;

	sret = key_status(&before);
	for (int round = 0; round < 3; round++) {
		ASSERT_EQ(0, write_file("/sys/devices/system/cpu/cpu1/online", "0"));
		ASSERT_EQ(0, write_file("/sys/devices/system/cpu/cpu1/online", "1"));
	}
	if (sret == 0) {
		ASSERT_EQ(0, key_status(&st));
		EXPECT_EQ(st.cpus_online, st.cpus_with_key);
		EXPECT_EQ(0ULL, st.degraded & KEY_BAD) TH_LOG("degraded %#llx",
						   (unsigned long long)st.degraded);
		EXPECT_EQ((__u64)RAMCRYPT_KEY_RANDOM, st.key_source);
		/* The online callback restored cpu1 each time, not the cipher's fallback. */
		EXPECT_LE(before.key_heals + 3, st.key_heals);
	}
	/* And the key works there. */
	ret = roundtrips(1, 100);
	ASSERT_EQ(0, ret) TH_LOG("round trips on cpu1: %s", strerror(-ret));
	if (sret == -ENOTTY)
		SKIP(return, "RAMCRYPT_IOC_STATUS: ENOTTY (not in this module yet); only the round trips were checked");
	ASSERT_EQ(0, sret) TH_LOG("STATUS: %s", strerror(-sret));
}

FIXTURE(cpus) {
	int dummy;
};

FIXTURE_SETUP(cpus)
{
}

FIXTURE_TEARDOWN(cpus)
{
	pin_to_cpu(0);
}

TEST_F_TIMEOUT(cpus, roundtrips_every_cpu, 600)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct ramcrypt_status st;
	int ret;

	for (int cpu = 0; cpu < ncpu; cpu++) {
		ret = roundtrips(cpu, 10000);
		ASSERT_EQ(0, ret) TH_LOG("cpu%d: %s", cpu, strerror(-ret));
	}
	ret = key_status(&st);
	if (ret == -ENOTTY)
		SKIP(return, "RAMCRYPT_IOC_STATUS: ENOTTY (not in this module yet); the round trips passed");
	ASSERT_EQ(0, ret);
	EXPECT_EQ(st.cpus_online, st.cpus_with_key);
	EXPECT_EQ(0ULL, st.degraded & KEY_BAD);
}

/* The runtime known-answer tests take this CPU's key away and heal it back. */
TEST_F_TIMEOUT(cpus, selftest_ioctl_restores_key, 120)
{
	struct ramcrypt_status before, st;
	int fd, ret;

	fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ret = key_status(&before);
	if (ret == -ENOTTY)
		SKIP(return, "RAMCRYPT_IOC_STATUS: ENOTTY (not in this module yet)");
	ASSERT_EQ(0, ret);
	for (int cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN); cpu++) {
		ASSERT_EQ(0, pin_to_cpu(cpu));
		ret = ioctl(fd, RAMCRYPT_IOC_SELFTEST) ? errno : 0;
		if (ret == ENOTTY)
			SKIP(return, "RAMCRYPT_IOC_SELFTEST: ENOTTY (not in this module yet)");
		ASSERT_EQ(0, ret) TH_LOG("cpu%d: %s", cpu, strerror(ret));
		ASSERT_EQ(0, roundtrips(cpu, 10));
	}
	close(fd);
	ASSERT_EQ(0, key_status(&st));
	EXPECT_EQ(st.cpus_online, st.cpus_with_key);
	EXPECT_EQ(0ULL, st.degraded & KEY_BAD);
	EXPECT_LE(before.key_heals + st.cpus_online, st.key_heals);
}

/*
 * /sys/power/pm_test=freezer makes a suspend that is not refused come back after
 * freezing tasks, instead of sleeping until a wake-up that never comes in the guest.
 */
FIXTURE(suspend) {
	char states[128];
};

FIXTURE_SETUP(suspend)
{
	if (read_file("/sys/power/state", self->states, sizeof(self->states)))
		SKIP(return, "no /sys/power/state");
	if (write_file("/sys/power/pm_test", "freezer"))
		SKIP(return, "no /sys/power/pm_test (CONFIG_PM_DEBUG); not risking a real suspend");
}

FIXTURE_TEARDOWN(suspend)
{
	write_file(PARAM_ALLOW_SUSPEND, "N");
	write_file("/sys/power/pm_test", "none");
}

TEST_F_TIMEOUT(suspend, refused_with_random_key, 60)
{
	const char *states[] = { "freeze", "mem" };
	int tried = 0;

	ASSERT_EQ(0, write_file(PARAM_ALLOW_SUSPEND, "N"));
	for (size_t i = 0; i < 2; i++) {
		int ret;

		if (!strstr(self->states, states[i]))
			continue;
		tried++;
		ret = write_file("/sys/power/state", states[i]);
		EXPECT_TRUE(ret == -EBUSY || ret == -EPERM)
			TH_LOG("%s: %s", states[i], ret ? strerror(-ret) : "suspend went ahead");
	}
	ASSERT_NE(0, tried) TH_LOG("no suspend state in '%s'", self->states);
}

/* The control run: the refusal above came from ramcrypt, and the key survives. */
TEST_F_TIMEOUT(suspend, allowed_with_allow_suspend, 60)
{
	ASSERT_EQ(0, write_file(PARAM_ALLOW_SUSPEND, "Y"));
	EXPECT_EQ(0, write_file("/sys/power/state", "freeze"));
	ASSERT_EQ(0, write_file(PARAM_ALLOW_SUSPEND, "N"));
	EXPECT_EQ(0, roundtrips(0, 10));
}

static int key_load(const unsigned char key[RAMCRYPT_KEY_BYTES])
{
	struct ramcrypt_key k = {
		.key = (unsigned long)key,
		.len = RAMCRYPT_KEY_BYTES,
	};
	int fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, RAMCRYPT_IOC_KEY_LOAD, &k) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Last, as it leaves a passphrase key behind: suspend is allowed with one, the key
 * is dropped at resume, and only the same key brings the module back.
 */
TEST_F_TIMEOUT(suspend, passphrase_key_asked_again_after_resume, 60)
{
	unsigned char key[RAMCRYPT_KEY_BYTES], wrong[RAMCRYPT_KEY_BYTES];
	struct ramcrypt_status st;
	int ret;

	for (int i = 0; i < RAMCRYPT_KEY_BYTES; i++) {
		key[i] = 0x5a ^ (i * 7);
		wrong[i] = key[i] ^ (i == 31);
	}
	ret = key_load(key);
	if (ret == -ENOTTY)
		SKIP(return, "RAMCRYPT_IOC_KEY_LOAD: ENOTTY (not in this module yet)");
	ASSERT_EQ(0, ret) TH_LOG("KEY_LOAD: %s", strerror(-ret));
	ASSERT_EQ(0, key_status(&st));
	EXPECT_EQ((__u64)RAMCRYPT_KEY_PASSPHRASE, st.key_source);
	ASSERT_EQ(0, roundtrips(0, 10));

	ASSERT_EQ(0, write_file(PARAM_ALLOW_SUSPEND, "N"));
	ASSERT_EQ(0, write_file("/sys/power/state", "freeze"));
	ASSERT_EQ(0, key_status(&st));
	EXPECT_NE(0ULL, st.degraded & RAMCRYPT_DEGRADED_KEY_LOST);
	EXPECT_EQ(0ULL, st.cpus_with_key);
	EXPECT_EQ(-EKEYREJECTED, roundtrips(0, 1));

	EXPECT_EQ(-EKEYREJECTED, key_load(wrong));
	EXPECT_EQ(-EKEYREJECTED, roundtrips(1, 1));
	ASSERT_EQ(0, key_load(key));
	ASSERT_EQ(0, key_status(&st));
	EXPECT_EQ(0ULL, st.degraded & KEY_BAD);
	EXPECT_EQ(st.cpus_online, st.cpus_with_key);
	EXPECT_EQ(0, roundtrips(0, 10));
	EXPECT_EQ(0, roundtrips(1, 10));
}

/*
 * A key load racing a protect: the load may win (no ciphertext yet: the new key
 * is taken) or lose (-EBUSY, -EKEYREJECTED: ciphertext exists), but no page may
 * be encrypted under a key that is being replaced, or the process reads garbage
 * (or dies of SIGBUS) when it touches its pages again. Two threads start together,
 * many times over, the protect delayed so that the two meet ever closer to where
 * the load's check and the first encrypted page cross; each time a child must get
 * its data back intact.
 */
#define RACE_ROUNDS	120
#define RACE_PAGES	64

struct race {
	pthread_barrier_t go;
	pid_t pid;
	int fd, protect_ret, load_ret;
	int delay_us;		/* > 0: the protect waits, < 0: the load waits */
	long load_start_ms, load_end_ms, protect_end_ms;	/* now_ms() */
	unsigned char key[RAMCRYPT_KEY_BYTES];
};

static void *race_protect(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(&r->go);
	if (r->delay_us > 0)
		usleep(r->delay_us);
	r->protect_ret = protect(r->fd, r->pid, 0, RAMCRYPT_MIN_WINDOW);
	r->protect_end_ms = now_ms();
	return NULL;
}

static void *race_load(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(&r->go);
	if (r->delay_us < 0)
		usleep(-r->delay_us);
	r->load_start_ms = now_ms();
	r->load_ret = key_load(r->key);
	r->load_end_ms = now_ms();
	return NULL;
}

/* Ciphertext is gone once its processes have exited: up to 2 s. 1: some is left. */
static int wait_no_ciphertext(struct ramcrypt_status *st)
{
	for (int tries = 0; tries < 100; tries++) {
		if (key_status(st))
			return -1;
		if (!st->encrypted_pages)
			return 0;
		usleep(20 * 1000);
	}
	return 1;
}

/*
 * One round: a child fills RACE_PAGES with data made from seed and waits; the
 * protect (another thread) and the load (this one) start together, r->delay_us
 * apart; then the child checks its data. Returns the child's wait status, -1 if the
 * round could not be set up or the two did not run.
 */
static int race_round(struct race *r, uint64_t seed)
{
	int ready[2], go[2], status = -1;
	bool raced = false;
	pthread_t a;
	char c;

	if (pipe(ready))
		return -1;
	if (pipe(go))
		goto out_ready;
	r->pid = fork();
	if (r->pid == 0) {
		uint64_t *buf = malloc(RACE_PAGES * PAGE + PAGE);

		buf = (uint64_t *)(((uintptr_t)buf + PAGE - 1) & ~(PAGE - 1));
		fill(buf, RACE_PAGES, seed);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(check(buf, RACE_PAGES, seed) ? 3 : 0);
	}
	if (r->pid < 0)
		goto out_go;
	if (read(ready[0], &c, 1) == 1 && !pthread_barrier_init(&r->go, NULL, 2)) {
		if (!pthread_create(&a, NULL, race_protect, r)) {
			race_load(r);
			pthread_join(a, NULL);
			raced = true;
		}
		pthread_barrier_destroy(&r->go);
	}
	if (write(go[1], "g", 1) != 1)
		kill(r->pid, SIGKILL);
	if (waitpid(r->pid, &status, 0) != r->pid || !raced)
		status = -1;
out_go:
	close(go[0]);
	close(go[1]);
out_ready:
	close(ready[0]);
	close(ready[1]);
	return status;
}

TEST_F_TIMEOUT(suspend, key_load_races_protect, 600)
{
	int loaded = 0, refused = 0, corrupted = 0, round;
	int delay = 20000, step;
	struct race r = {};

	r.fd = rc_fd();
	ASSERT_LE(0, r.fd);
	for (round = 0; round < RACE_ROUNDS; round++) {
		struct ramcrypt_status st;
		int status;

		for (int i = 0; i < RAMCRYPT_KEY_BYTES; i++)
			r.key[i] = rand();
		r.delay_us = delay + rand() % 200 - 100;
		status = race_round(&r, round);
		ASSERT_LE(0, status);
		ASSERT_EQ(0, r.protect_ret);
		ASSERT_TRUE(r.load_ret == 0 || r.load_ret == -EBUSY || r.load_ret == -EKEYREJECTED)
			TH_LOG("KEY_LOAD: %s", strerror(-r.load_ret));
		loaded += r.load_ret == 0;
		refused += r.load_ret != 0;
		/*
		 * Home in on the crossing point, where the load's "no ciphertext yet"
		 * and the protect's first page meet: the load won, so start the protect
		 * earlier (or the load later); it lost, so the other way. The steps
		 * shrink from 4 ms to 50 us.
		 */
		step = 4000 >> (round / 8);
		if (step < 50)
			step = 50;
		delay += r.load_ret == 0 ? -step : step;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			corrupted++;
			TH_LOG("round %d: child status %#x after a key load that %s", round, status,
			       r.load_ret ? "was refused" : "succeeded");
		}
		/* The next load needs the ciphertext gone. */
		ASSERT_LE(0, wait_no_ciphertext(&st));
	}
	close(r.fd);
	TH_LOG("%d rounds: key load took %d times, refused %d times; %d children lost data; "
	       "protect delay at the end %d us", RACE_ROUNDS, loaded, refused, corrupted, delay);
	EXPECT_EQ(0, corrupted);
	EXPECT_LT(0, loaded) TH_LOG("the load never won: nothing raced");
}

/*
 * The same race made certain, where the one above depends on timing: the module's
 * test hook (debugfs selftest_key_load_delay_ms) holds a key load for 300 ms
 * between its "no ciphertext yet" check and the new key, and a protect starts
 * 50 ms into it. The load must keep the protect's encryption waiting until the new
 * key is in; pages encrypted meanwhile under the key being replaced would come
 * back as garbage, and the child says so.
 */
#define LOAD_DELAY "/sys/kernel/debug/ramcrypt/selftest_key_load_delay_ms"

TEST_F_TIMEOUT(suspend, key_load_holds_off_encryption, 120)
{
	struct ramcrypt_status st;
	struct race r = {};
	int status;

	ASSERT_EQ(0, wait_no_ciphertext(&st))
		TH_LOG("%llu encrypted pages left from earlier tests", st.encrypted_pages);
	ASSERT_EQ(0, write_file(LOAD_DELAY, "300")) TH_LOG("no %s in this module", LOAD_DELAY);
	for (int i = 0; i < RAMCRYPT_KEY_BYTES; i++)
		r.key[i] = rand();
	r.delay_us = 50 * 1000;
	r.fd = rc_fd();
	ASSERT_LE(0, r.fd);
	status = race_round(&r, 7);
	EXPECT_EQ(0, write_file(LOAD_DELAY, "0"));
	close(r.fd);
	ASSERT_LE(0, status);
	EXPECT_EQ(0, r.protect_ret) TH_LOG("PROTECT: %s", strerror(-r.protect_ret));
	/* The load started first, with no ciphertext anywhere: it must have taken. */
	EXPECT_EQ(0, r.load_ret) TH_LOG("KEY_LOAD: %s", strerror(-r.load_ret));
	/*
	 * The hook held the load 300 ms, and the protect, started 50 ms into it, waited
	 * for the load to let go (the two threads' return times are too close to order).
	 */
	EXPECT_LE(250, r.load_end_ms - r.load_start_ms);
	EXPECT_LE(r.load_start_ms + 250, r.protect_end_ms)
		TH_LOG("the protect returned %ld ms into a 300 ms key load",
		       r.protect_end_ms - r.load_start_ms);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x: its pages were encrypted under the key being replaced",
		       status);
}

TEST_HARNESS_MAIN
