// SPDX-License-Identifier: GPL-2.0
/*
 * Random ioctls on /dev/ramcrypt: command numbers around the ramcrypt magic (known
 * numbers with wrong directions and sizes, unknown numbers) and elsewhere, NULL,
 * unmapped, read-only, page-straddling and kernel pointers, and random field values
 * in the real structures. They come from root and from an unprivileged process
 * (uid 65534: with a descriptor root opened and passed on, and opening the device
 * itself after a chmod), at least RAMCRYPT_FUZZ_CALLS (default 100000) in all.
 *
 * Every answer must be success or one of the errors the control plane documents;
 * unknown commands must get -ENOTTY; nothing an unprivileged process or a read-only
 * descriptor sends may change another process's protection. Afterwards the module
 * must still answer VERSION and STATUS with a healthy key and protect, list and
 * unprotect a child whose data survives. guest-run fails the run on any oops,
 * WARN, KASAN report or leak.
 *
 * What is kept out on purpose, so the run tests the module and not the guest:
 *  - PROTECT of the fuzzer itself (pid 0 or its own pid): a window of a few pages
 *    makes every later call fault; the target is a paused child instead;
 *  - a well-formed KEY_LOAD while no page is encrypted: it would replace the
 *    module's random key for the tests that run after this one (keystore expects
 *    the random key); with pages encrypted it must answer -EBUSY, which is checked;
 *  - more than a few SELFTESTs as root: each takes seconds under TCG;
 *  - the generic ioctls the VFS answers itself (FIOCLEX, FIONBIO, FIFREEZE, ...):
 *    they never reach the module.
 * The seed is printed; RAMCRYPT_FUZZ_SEED=N repeats a run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/ramcrypt.h>

#include "kselftest_harness.h"

#define NOBODY		65534
#define ROOT_SELFTESTS	3	/* SELFTEST calls root may make (seconds each under TCG) */
#define VICTIM_PAGES	32

/* ---- random numbers (xorshift64*, reproducible from the printed seed) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void seed_rng(const char *who)
{
	const char *env = getenv("RAMCRYPT_FUZZ_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	rng_state = seed ? seed : 1;
	printf("# %s: seed %" PRIu64 " (RAMCRYPT_FUZZ_SEED=%" PRIu64 " repeats it)\n", who, seed, seed);
	fflush(stdout);
}

static unsigned long fuzz_calls(void)
{
	const char *env = getenv("RAMCRYPT_FUZZ_CALLS");

	return env ? strtoul(env, NULL, 0) : 100000;
}

/* ---- the test's world ---- */

static const unsigned long known_cmds[] = {
	RAMCRYPT_IOC_VERSION, RAMCRYPT_IOC_PROTECT, RAMCRYPT_IOC_UNPROTECT,
	RAMCRYPT_IOC_SET_WINDOW, RAMCRYPT_IOC_PROC_STATS, RAMCRYPT_IOC_LIST,
	RAMCRYPT_IOC_STATUS, RAMCRYPT_IOC_KEY_LOAD, RAMCRYPT_IOC_SELFTEST,
#ifdef RAMCRYPT_IOC_SEAL
	RAMCRYPT_IOC_SEAL, RAMCRYPT_IOC_UNSEAL,
#endif
#ifdef RAMCRYPT_IOC_SECRET_REGION
	RAMCRYPT_IOC_SECRET_REGION,
#endif
};
#define NKNOWN (sizeof(known_cmds) / sizeof(known_cmds[0]))

/* Commands that change state: they need a writable descriptor (ramcrypt(8)). */
static int changes_state(unsigned long cmd)
{
#ifdef RAMCRYPT_IOC_SEAL
	if (cmd == RAMCRYPT_IOC_SEAL)
		return 1;
#endif
	return cmd == RAMCRYPT_IOC_PROTECT || cmd == RAMCRYPT_IOC_UNPROTECT ||
	       cmd == RAMCRYPT_IOC_SET_WINDOW || cmd == RAMCRYPT_IOC_KEY_LOAD ||
	       cmd == RAMCRYPT_IOC_SELFTEST;
}

/* Commands that act on a process or the key: root's only. */
static int privileged_only(unsigned long cmd)
{
	return cmd == RAMCRYPT_IOC_PROTECT || cmd == RAMCRYPT_IOC_UNPROTECT ||
	       cmd == RAMCRYPT_IOC_SET_WINDOW || cmd == RAMCRYPT_IOC_KEY_LOAD;
}

static int is_known(unsigned long cmd)
{
	for (size_t i = 0; i < NKNOWN; i++)
		if (known_cmds[i] == cmd)
			return 1;
	return 0;
}

/* Answered by the VFS before the driver sees them (fs/ioctl.c), or dangerous. */
static int vfs_generic(unsigned long cmd)
{
	switch (cmd) {
	case FIOCLEX: case FIONCLEX: case FIONBIO: case FIOASYNC: case FIOQSIZE:
	case FIFREEZE: case FITHAW: case FS_IOC_FIEMAP: case FIGETBSZ:
	case FICLONE: case FICLONERANGE: case FIDEDUPERANGE: case FIONREAD:
	case FS_IOC_GETFLAGS: case FS_IOC_SETFLAGS:
	case FS_IOC_FSGETXATTR: case FS_IOC_FSSETXATTR:
		return 1;
	}
	return _IOC_TYPE(cmd) == 'X';	/* FIFREEZE's family */
}

struct world {
	int fd;
	int privileged;		/* root: the victim may really be protected */
	int writable;		/* fd opened for writing */
	pid_t victim;		/* root's paused child: the protect target */
	pid_t dead;		/* a reaped child: ESRCH */
	char *buf;		/* VICTIM_PAGES pages, read-write, random contents */
	char *ro;		/* a read-only page */
	char *edge;		/* last bytes before a PROT_NONE page */
	char *unmapped;		/* a page that was unmapped */
	unsigned int selftests;
	unsigned long calls, successes, enotty, failures;
};

static pid_t start_victim(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Some data to encrypt; then wait to be killed. */
		char *p = mmap(NULL, VICTIM_PAGES * 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			for (int i = 0; i < VICTIM_PAGES * 4096; i += 64)
				p[i] = (char)(i * 7 + 1);
		for (;;)
			pause();
	}
	return pid;
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

static int world_init(struct world *w, int fd, int privileged, int writable, pid_t victim)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *guard;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->privileged = privileged;
	w->writable = writable;
	w->victim = victim;
	w->dead = dead_pid();
	w->buf = mmap(NULL, VICTIM_PAGES * pg, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->ro = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	guard = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->unmapped = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->buf == MAP_FAILED || w->ro == MAP_FAILED || guard == MAP_FAILED ||
	    w->unmapped == MAP_FAILED)
		return -1;
	/*
	 * What the kernel reads there is all ones (pid ~0: -EINVAL), never zeros:
	 * PROTECT {0} would protect the fuzzer itself.
	 */
	memset(w->ro, 0xff, pg);
	memset(guard, 0xff, pg);
	if (mprotect(w->ro, pg, PROT_READ) || mprotect(guard + pg, pg, PROT_NONE) ||
	    munmap(w->unmapped, pg))
		return -1;
	w->edge = guard + pg;
	for (long i = 0; i < VICTIM_PAGES * pg; i += 8) {
		uint64_t v = rnd();
		memcpy(w->buf + i, &v, 8);
	}
	return 0;
}

/* A value for a __u64 field: the edges more often than chance would give them. */
static uint64_t field(void)
{
	static const uint64_t edges[] = {
		0, 1, 2, 3, RAMCRYPT_MIN_WINDOW - 1, RAMCRYPT_MIN_WINDOW, 8, 64, 1024, 1025,
		4096, 65535, 65536, 65537, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		1ULL << 63, ~0ULL, ~0ULL - 1,
	};

	switch (below(4)) {
	case 0:
		return edges[below(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return below(2048);
	case 2:
		return 1ULL << below(64);
	default:
		return rnd();
	}
}

/* A user pointer: usually good, else NULL, unmapped, read-only, straddling, kernel. */
static uint64_t pointer(struct world *w, size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);

	switch (below(12)) {
	case 0: return 0;
	case 1: return (uint64_t)(uintptr_t)w->unmapped + below(pg);
	case 2: return (uint64_t)(uintptr_t)w->ro;
	case 3: return (uint64_t)(uintptr_t)(w->edge - (size ? below(size) + 1 : 1));
	case 4: return 0xffff888000000000ULL + below(1ULL << 30) * 8;	/* direct map */
	case 5: return 0xffffffff81000000ULL + below(1 << 20);		/* kernel text */
	case 6: return below(65536);					/* low, unmapped */
	case 7: return rnd();
	case 8: return 1ULL << 47;					/* non-canonical edge */
	default: return (uint64_t)(uintptr_t)(w->buf + below((VICTIM_PAGES - 1) * pg));
	}
}

/* A pid: never the caller (see the top of the file) and never another test's. */
static uint64_t pid_value(struct world *w, unsigned long cmd)
{
	switch (below(8)) {
	case 0: return cmd == RAMCRYPT_IOC_PROTECT ? (uint64_t)w->victim : 0;
	case 1: return w->dead;
	case 2: return 999999;
	case 3: return 0x80000000ULL + below(1000);
	case 4: return ~0ULL - below(3);
	default: return w->victim;
	}
}

static int within(uint64_t p, size_t size, const void *start, uint64_t len)
{
	uint64_t b = (uintptr_t)start;

	return p >= b && p + size >= p && p + size <= b + len;
}

/* Writable memory of ours: where fill() may write a structure. */
static int good_buffer(struct world *w, uint64_t p, size_t size)
{
	return within(p, size, w->buf, VICTIM_PAGES * (uint64_t)sysconf(_SC_PAGESIZE));
}

/* Could the kernel read size bytes at p? */
static int readable(struct world *w, uint64_t p, size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);

	return good_buffer(w, p, size) || within(p, size, w->ro, pg) ||
	       within(p, size, w->edge - pg, pg);
}

/* Fill a known command's structure at p (if it is writable memory of ours). */
static void fill(struct world *w, unsigned long cmd, uint64_t p)
{
	size_t size = _IOC_SIZE(cmd);
	uint64_t f[32];

	if (!good_buffer(w, p, size) || size > sizeof(f))
		return;
	for (size_t i = 0; i < size / 8; i++)
		f[i] = below(3) ? 0 : field();
	switch (cmd) {
	case RAMCRYPT_IOC_PROTECT:
	case RAMCRYPT_IOC_UNPROTECT:
	case RAMCRYPT_IOC_SET_WINDOW:
	case RAMCRYPT_IOC_PROC_STATS:
		f[0] = below(5) ? pid_value(w, cmd) : field();
		/*
		 * Root protects only the victim (or nobody): a random pid could be init
		 * or the test runner. Nobody may try any pid: they must all fail.
		 */
		if (cmd == RAMCRYPT_IOC_PROTECT && w->privileged && f[0] &&
		    f[0] <= 0x7fffffff && f[0] != (uint64_t)w->dead && f[0] != 999999)
			f[0] = w->victim;
		if (cmd == RAMCRYPT_IOC_PROTECT && (f[0] == 0 || f[0] == (uint64_t)getpid()))
			f[0] = w->victim;
		if (cmd == RAMCRYPT_IOC_PROTECT && below(2))
			f[1] &= RAMCRYPT_PROTECT_FLAGS;
		if ((cmd == RAMCRYPT_IOC_PROTECT || cmd == RAMCRYPT_IOC_SET_WINDOW) && below(2))
			f[cmd == RAMCRYPT_IOC_PROTECT ? 2 : 1] = RAMCRYPT_MIN_WINDOW + below(64);
		break;
	case RAMCRYPT_IOC_LIST:
		f[0] = below(2) ? pointer(w, 8) : 0;
		f[1] = below(2) ? below(8) : field();
		break;
	case RAMCRYPT_IOC_KEY_LOAD:
		f[0] = below(2) ? pointer(w, RAMCRYPT_KEY_BYTES) : field();
		f[1] = below(2) ? RAMCRYPT_KEY_BYTES : field();
		break;
	}
	memcpy((void *)(uintptr_t)p, f, size);
}

static int allowed_errno(int e)
{
	switch (e) {
	case ENOTTY: case EINVAL: case EFAULT: case EPERM: case EBADF: case ESRCH:
	case EBUSY: case ENOMEM: case EEXIST: case ENOENT: case ENOSPC: case EKEYREJECTED:
	case ENOKEY: case EBADMSG:	/* SEAL, UNSEAL */
		return 1;
	}
	return 0;
}

/* Is the victim protected now? (root's descriptors only answer this reliably) */
static int encrypted_pages(int fd)
{
	struct ramcrypt_status st = { 0 };

	if (ioctl(fd, RAMCRYPT_IOC_STATUS, &st))
		return -1;
	return st.encrypted_pages > 0;
}

/*
 * A KEY_LOAD root may send: one that cannot reach the keystore (bad length, flags
 * or pointer), or a good one while pages are encrypted, which must get -EBUSY.
 * *must_busy is set for the latter.
 */
static int key_load_ok(struct world *w, uint64_t p, int *must_busy)
{
	struct ramcrypt_key k;

	*must_busy = 0;
	if (!w->privileged || !w->writable)
		return 1;
	if (!readable(w, p, sizeof(k)))
		return !good_buffer(w, p, 1) && (p < 65536 || p >= 1ULL << 47);
	memcpy(&k, (const void *)(uintptr_t)p, sizeof(k));
	if (k.len != RAMCRYPT_KEY_BYTES || k.flags || !k.key)
		return 1;
	if (!readable(w, k.key, RAMCRYPT_KEY_BYTES) && (k.key < 65536 || k.key >= 1ULL << 47))
		return 1;	/* the kernel cannot read it: -EFAULT */
	if (encrypted_pages(w->fd) == 1) {
		*must_busy = 1;
		return 1;
	}
	return 0;
}

static unsigned long random_cmd(void)
{
	unsigned long dir[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE };
	unsigned long nr, size, type;

	switch (below(10)) {
	case 0: case 1: case 2: case 3:	/* a real command */
		return known_cmds[below(NKNOWN)];
	case 4: case 5:			/* a real number, another direction or size */
		nr = below(NKNOWN);
		size = below(2) ? _IOC_SIZE(known_cmds[nr]) + (below(2) ? 8 : -8) : below(1 << 14);
		return _IOC(dir[below(4)], RAMCRYPT_IOC_MAGIC, nr, size & 0x3fff);
	case 6: case 7:			/* our magic, any number */
		return _IOC(dir[below(4)], RAMCRYPT_IOC_MAGIC, below(256), below(1 << 14));
	case 8:				/* a neighbour's magic */
		type = RAMCRYPT_IOC_MAGIC + (below(2) ? 1 : -1) * (1 + below(3));
		return _IOC(dir[below(4)], type, below(16), below(512));
	default:			/* anything */
		return (unsigned long)(uint32_t)rnd();
	}
}

/* One random ioctl; count it and report anything wrong. */
static void one(struct world *w, int trace)
{
	unsigned long cmd;
	uint64_t arg;
	int must_busy = 0, ret, e;

	do {
		cmd = random_cmd();
	} while (vfs_generic(cmd));

	arg = pointer(w, _IOC_SIZE(cmd));
	if (is_known(cmd))
		fill(w, cmd, arg);
	if (cmd == RAMCRYPT_IOC_SELFTEST && w->privileged && w->writable) {
		if (w->selftests >= ROOT_SELFTESTS)
			return;
		w->selftests++;
	}
	if (cmd == RAMCRYPT_IOC_KEY_LOAD && !key_load_ok(w, arg, &must_busy))
		return;

	errno = 0;
	ret = ioctl(w->fd, cmd, (unsigned long)arg);
	e = errno;
	w->calls++;
	if (trace)
		printf("# ioctl(%#lx, %#" PRIx64 ") = %d %s\n", cmd, arg, ret, ret ? strerror(e) : "");

	if (ret == 0) {
		w->successes++;
		if (!is_known(cmd)) {
			printf("# unknown command %#lx succeeded\n", cmd);
			w->failures++;
		} else if (changes_state(cmd) && !w->writable) {
			printf("# %#lx changed state through a read-only descriptor\n", cmd);
			w->failures++;
		} else if (privileged_only(cmd) && !w->privileged &&
			   (cmd == RAMCRYPT_IOC_KEY_LOAD || !readable(w, arg, 8) ||
			    (*(uint64_t *)(uintptr_t)arg != 0 &&
			     *(uint64_t *)(uintptr_t)arg != (uint64_t)getpid()))) {
			/* Its own protection is the caller's business; nothing else is. */
			printf("# %#lx (pid field %" PRIu64 ") succeeded for uid %d\n", cmd,
			       readable(w, arg, 8) ? *(uint64_t *)(uintptr_t)arg : 0, getuid());
			w->failures++;
		} else if (must_busy) {
			printf("# KEY_LOAD replaced the key while pages were encrypted\n");
			w->failures++;
		}
		return;
	}
	if (ret != -1 || !allowed_errno(e)) {
		printf("# ioctl(%#lx, %#" PRIx64 ") = %d, errno %d (%s): not a documented answer\n",
		       cmd, arg, ret, e, strerror(e));
		w->failures++;
	} else if (!is_known(cmd) && e != ENOTTY) {
		printf("# unknown command %#lx: %s, want ENOTTY\n", cmd, strerror(e));
		w->failures++;
	} else if (is_known(cmd) && changes_state(cmd) && !w->writable && e != EBADF) {
		printf("# %#lx on a read-only descriptor: %s, want EBADF\n", cmd, strerror(e));
		w->failures++;
	} else if (must_busy && e != EBUSY && e != EFAULT) {
		printf("# KEY_LOAD with pages encrypted: %s, want EBUSY\n", strerror(e));
		w->failures++;
	}
	if (e == ENOTTY)
		w->enotty++;
}

static unsigned long fuzz(struct world *w, unsigned long n, const char *who)
{
	int trace = getenv("RAMCRYPT_FUZZ_TRACE") != NULL;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (w->calls < n)
		one(w, trace);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %s: %lu ioctls in %.1f s: %lu succeeded, %lu ENOTTY, %lu wrong answers\n",
	       who, w->calls, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       w->successes, w->enotty, w->failures);
	fflush(stdout);
	return w->failures;
}

static int drop_privileges(void)
{
	return setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ? -1 : 0;
}

/*
 * Fuzz as uid 65534 in a child: with fd (root's, passed on) when fd >= 0, else
 * opening the device itself with open_flags. Returns the child's wait status.
 */
static int fuzz_unprivileged(int fd, int open_flags, pid_t victim, unsigned long n,
			     const char *who)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct world w;

		if (drop_privileges()) {
			printf("# %s: cannot become uid %d: %s\n", who, NOBODY, strerror(errno));
			_exit(2);
		}
		if (fd < 0)
			fd = open(RAMCRYPT_DEVICE, open_flags | O_CLOEXEC);
		if (fd < 0) {
			printf("# %s: open %s: %s\n", who, RAMCRYPT_DEVICE, strerror(errno));
			_exit(2);
		}
		seed_rng(who);
		if (world_init(&w, fd, 0, (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY, victim))
			_exit(2);
		_exit(fuzz(&w, n, who) ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* ---- after the storm: the module still works ---- */

static void unprotect_all(int fd)
{
	__u64 pids[256];
	struct ramcrypt_list l = { .pids = (uintptr_t)pids, .count = 256 };

	if (ioctl(fd, RAMCRYPT_IOC_LIST, &l))
		return;
	for (__u64 i = 0; i < l.count && i < 256; i++) {
		struct ramcrypt_pid p = { .pid = pids[i] };

		ioctl(fd, RAMCRYPT_IOC_UNPROTECT, &p);
	}
}

static int listed(int fd, pid_t pid)
{
	__u64 pids[256];
	struct ramcrypt_list l = { .pids = (uintptr_t)pids, .count = 256 };

	if (ioctl(fd, RAMCRYPT_IOC_LIST, &l))
		return -1;
	for (__u64 i = 0; i < l.count && i < 256; i++)
		if (pids[i] == (__u64)pid)
			return 1;
	return 0;
}

FIXTURE(fuzz) {
	int fd;
	pid_t victim;
	mode_t mode;
};

FIXTURE_SETUP(fuzz)
{
	struct stat st;

	ASSERT_EQ(0u, getuid()) TH_LOG("run as root");
	ASSERT_EQ(0, stat(RAMCRYPT_DEVICE, &st)) TH_LOG("%s: %s", RAMCRYPT_DEVICE, strerror(errno));
	self->mode = st.st_mode & 07777;
	self->fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", RAMCRYPT_DEVICE, strerror(errno));
	self->victim = start_victim();
	ASSERT_GT(self->victim, 0);
}

FIXTURE_TEARDOWN(fuzz)
{
	chmod(RAMCRYPT_DEVICE, self->mode);
	if (self->victim > 0) {
		struct ramcrypt_pid p = { .pid = self->victim };

		ioctl(self->fd, RAMCRYPT_IOC_UNPROTECT, &p);
		kill(self->victim, SIGKILL);
		waitpid(self->victim, NULL, 0);
	}
	close(self->fd);
}

/* A read-only descriptor reports but changes nothing, even for root. */
TEST_F(fuzz, read_only_descriptor_cannot_change_state)
{
	struct ramcrypt_protect p = { .pid = self->victim };
	struct ramcrypt_window win = { .pid = self->victim, .window = RAMCRYPT_MIN_WINDOW };
	struct ramcrypt_pid up = { .pid = self->victim };
	struct ramcrypt_status st;
	struct ramcrypt_version v;
	__u8 key[RAMCRYPT_KEY_BYTES] = { 0 };
	struct ramcrypt_key k = { .key = (uintptr_t)key, .len = sizeof(key) };
	int ro = open(RAMCRYPT_DEVICE, O_RDONLY | O_CLOEXEC);

	ASSERT_GE(ro, 0);
	EXPECT_EQ(0, ioctl(ro, RAMCRYPT_IOC_VERSION, &v));
	EXPECT_EQ(0, ioctl(ro, RAMCRYPT_IOC_STATUS, &st));
	errno = 0;
	EXPECT_EQ(-1, ioctl(ro, RAMCRYPT_IOC_PROTECT, &p));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(0, listed(self->fd, self->victim));

	ASSERT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_PROTECT, &p)) TH_LOG("%s", strerror(errno));
	errno = 0;
	EXPECT_EQ(-1, ioctl(ro, RAMCRYPT_IOC_SET_WINDOW, &win));
	EXPECT_EQ(EBADF, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(ro, RAMCRYPT_IOC_UNPROTECT, &up));
	EXPECT_EQ(EBADF, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(ro, RAMCRYPT_IOC_KEY_LOAD, &k));
	EXPECT_EQ(EBADF, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(ro, RAMCRYPT_IOC_SELFTEST));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(1, listed(ro, self->victim));
	EXPECT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_UNPROTECT, &up));
	close(ro);
}

TEST_F_TIMEOUT(fuzz, random_ioctls, 300)
{
	unsigned long n = fuzz_calls();
	unsigned long root_n = n / 2, nobody_n = n / 4;
	struct world w;
	int status;

	/* Root: everything, the victim really gets protected, unprotected, resized. */
	seed_rng("root");
	ASSERT_EQ(0, world_init(&w, self->fd, 1, 1, self->victim));
	EXPECT_EQ(0ul, fuzz(&w, root_n, "root"));
	unprotect_all(self->fd);

	/* Unprivileged, with root's read-write descriptor: ptrace rules must hold. */
	status = fuzz_unprivileged(self->fd, 0, self->victim, nobody_n, "uid 65534, root's fd");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);

	/* Unprivileged, opening the device itself: read-write after chmod 0666, ... */
	ASSERT_EQ(0, chmod(RAMCRYPT_DEVICE, 0666));
	status = fuzz_unprivileged(-1, O_RDWR, self->victim, (n - root_n - nobody_n) / 2,
				   "uid 65534, own read-write fd");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	/* ... read-only after chmod 0644: only the reporting commands work. */
	ASSERT_EQ(0, chmod(RAMCRYPT_DEVICE, 0644));
	status = fuzz_unprivileged(-1, O_RDONLY, self->victim,
				   n - root_n - nobody_n - (n - root_n - nobody_n) / 2,
				   "uid 65534, own read-only fd");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	ASSERT_EQ(0, chmod(RAMCRYPT_DEVICE, self->mode));
	/* The unprivileged ones protected nothing of root's. */
	EXPECT_EQ(0, listed(self->fd, self->victim));
	unprotect_all(self->fd);
}

/* Runs after random_ioctls (harness order): the module still does its job. */
TEST_F(fuzz, module_works_afterwards)
{
	struct ramcrypt_version v = { 0 };
	struct ramcrypt_status st = { 0 };
	struct ramcrypt_proc_stats ps = { 0 };
	int pipefd[2], go[2], status;
	char ok = 0;
	pid_t child;

	ASSERT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_VERSION, &v));
	EXPECT_EQ(RAMCRYPT_ABI_VERSION, v.abi);
	ASSERT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_STATUS, &st));
	EXPECT_NE(RAMCRYPT_KEY_NONE, st.key_source);
	EXPECT_EQ(st.cpus_online, st.cpus_with_key);
	EXPECT_EQ(0, st.degraded & (RAMCRYPT_DEGRADED_KEY_LOST | RAMCRYPT_DEGRADED_SLOTS));

	/* A child with known data, protected, then unprotected: the data is intact. */
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		size_t len = 64 * 4096;
		unsigned char *p = malloc(len);
		char c;
		int good = 1;

		for (size_t i = 0; p && i < len; i++)
			p[i] = (unsigned char)(i * 31 + 7);
		if (write(pipefd[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		for (size_t i = 0; p && i < len; i++)
			good &= p[i] == (unsigned char)(i * 31 + 7);
		c = good && p ? 'y' : 'n';
		_exit(write(pipefd[1], &c, 1) == 1 ? 0 : 2);
	}
	ASSERT_EQ(1, read(pipefd[0], &ok, 1));
	struct ramcrypt_protect p = { .pid = child, .window = RAMCRYPT_MIN_WINDOW };
	struct ramcrypt_pid up = { .pid = child };

	ASSERT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_PROTECT, &p)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(1, listed(self->fd, child));
	ps.pid = child;
	EXPECT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_PROC_STATS, &ps));
	EXPECT_EQ((__u64)RAMCRYPT_MIN_WINDOW, ps.window);
	EXPECT_GT(ps.encrypted_pages, 0) TH_LOG("nothing encrypted");
	EXPECT_EQ(0, ioctl(self->fd, RAMCRYPT_IOC_UNPROTECT, &up));
	EXPECT_EQ(0, listed(self->fd, child));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(pipefd[0], &ok, 1));
	EXPECT_EQ('y', ok) TH_LOG("the child's data changed");
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_HARNESS_MAIN
