// SPDX-License-Identifier: GPL-2.0
/*
 * The page engine against the memory-management features a distro kernel turns on
 * (config/kernel-distro.config): KSM merging a protected process's pages, the swap
 * policy and swap pressure on zram, userfaultfd-registered ranges, and transparent huge pages in
 * `always` and `madvise` mode with khugepaged collapsing a protected range. Each
 * test checks the data and the window bound; none is skipped for a missing option
 * (the lanes' kernels have them all, and a missing one fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ramcrypt_test.h"

#define W	RAMCRYPT_MIN_WINDOW
#define HPAGE	(2UL << 20)
#define KSM	"/sys/kernel/mm/ksm/"
#define THP	"/sys/kernel/mm/transparent_hugepage/"

/* A mapping aligned to a huge page, so THP can back it. */
static uint64_t *map_aligned(size_t len)
{
	char *p = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	return (uint64_t *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
}

/* Poll until the process is back to at most the window; -1 after limit_ms. */
static long wait_bound(int fd, pid_t pid, struct ramcrypt_proc_stats *st, long limit_ms)
{
	long t0 = now_ms();

	do {
		if (proc_stats(fd, pid, st))
			return -1;
		if (st->window_pages <= st->window)
			return now_ms() - t0;
		usleep(20 * 1000);
	} while (now_ms() - t0 < limit_ms);
	return -1;
}

/* kB of AnonHugePages over this process's mappings. */
static long anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Knobs a test changes, put back by the teardown (values read at setup). */
struct knob {
	const char *path;
	char saved[64];
};

static struct knob knobs[] = {
	{ THP "enabled" }, { THP "khugepaged/scan_sleep_millisecs" },
	{ THP "khugepaged/pages_to_scan" }, { THP "khugepaged/max_ptes_swap" },
	{ KSM "run" }, { KSM "sleep_millisecs" }, { KSM "pages_to_scan" },
	{ "/proc/sys/ramcrypt/scan_interval_ms" }, { "/proc/sys/ramcrypt/allow_swap" },
	{ "/proc/sys/ramcrypt/ciphertext_cap_pages" },
};

static void knobs_save(void)
{
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		char *b = knobs[i].saved;

		if (read_file(knobs[i].path, b, sizeof(knobs[i].saved)))
			b[0] = 0;
		/* "always [madvise] never": keep the chosen word. */
		if (strchr(b, '[')) {
			memmove(b, strchr(b, '[') + 1, strlen(strchr(b, '[')));
			*strchrnul(b, ']') = 0;
		}
	}
}

static void knobs_restore(void)
{
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (knobs[i].saved[0])
			write_file(knobs[i].path, knobs[i].saved);
}

FIXTURE(mm) {
	int fd;
};

/* Both fixtures: the device, the knobs saved, and a scanner that comes soon. */
static int fixture_open(void)
{
	knobs_save();
	if (write_file("/proc/sys/ramcrypt/scan_interval_ms", "100"))
		return -1;
	return rc_fd();
}

static void fixture_close(int fd)
{
	knobs_restore();
	if (fd >= 0)
		close(fd);
}

FIXTURE_SETUP(mm)
{
	self->fd = fixture_open();
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", RAMCRYPT_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(mm)
{
	fixture_close(self->fd);
}

/*
 * KSM merges a process's pages with an unprotected process's identical pages
 * before it is protected. Protecting it must give it its own copies (the KSM branch
 * of the unsharing) and encrypt them, while the other process keeps its data.
 */
#define KSM_PAGES 256
TEST_F_TIMEOUT(mm, ksm_merged_then_protected, 300)
{
	struct ramcrypt_proc_stats st;
	int ready[2], go[2], status;
	long long sharing = 0;
	uint64_t *buf;
	long t0, ms;
	pid_t pid;
	char c;

	ASSERT_EQ(0, access(KSM "run", W_OK)) TH_LOG("no KSM (CONFIG_KSM)");
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	buf = map_aligned(KSM_PAGES * PAGE);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, madvise(buf, KSM_PAGES * PAGE, MADV_NOHUGEPAGE));
	fill(buf, KSM_PAGES, 31);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The child's own identical copy (written after fork: not COW-shared). */
		uint64_t *mine = map_aligned(KSM_PAGES * PAGE);

		if (!mine || madvise(mine, KSM_PAGES * PAGE, MADV_NOHUGEPAGE))
			_exit(1);
		fill(mine, KSM_PAGES, 31);
		if (madvise(mine, KSM_PAGES * PAGE, MADV_MERGEABLE))
			_exit(2);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(check(mine, KSM_PAGES, 31) ? 4 : 0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, madvise(buf, KSM_PAGES * PAGE, MADV_MERGEABLE));
	ASSERT_EQ(0, write_file(KSM "sleep_millisecs", "0"));
	ASSERT_EQ(0, write_file(KSM "pages_to_scan", "10000"));
	ASSERT_EQ(0, write_file(KSM "run", "1"));
	for (t0 = now_ms(); now_ms() - t0 < 120000; usleep(100 * 1000)) {
		sharing = read_ll(KSM "pages_sharing");
		if (sharing >= KSM_PAGES)
			break;
	}
	TH_LOG("KSM: %lld pages sharing after %ld ms", sharing, now_ms() - t0);
	ASSERT_GE(sharing, KSM_PAGES);
	ASSERT_EQ(0, write_file(KSM "run", "0"));

	/* The child is protected now; its merged pages must be unshared and encrypted. */
	ASSERT_EQ(0, protect(self->fd, pid, 0, W));
	ms = wait_bound(self->fd, pid, &st, 10000);
	ASSERT_EQ(0, proc_stats(self->fd, pid, &st));
	TH_LOG("protected child: plaintext %llu encrypted %llu after %ld ms; KSM sharing now %lld",
	       st.window_pages, st.encrypted_pages, ms, read_ll(KSM "pages_sharing"));
	EXPECT_LE(0, ms);
	EXPECT_GE(st.encrypted_pages, KSM_PAGES - W);
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("child status %#x", status);
	/* Our (unprotected) pages were left alone. */
	EXPECT_EQ(0, check(buf, KSM_PAGES, 31));
}

/*
 * Swap. Ciphertext is device-private and never reclaimed; a protected process's
 * plaintext pages (window, pinned, held back by the ciphertext cap) are ordinary
 * anonymous pages. PROTECT refuses (EBUSY) a process whose memory cgroup may swap,
 * unless sysctl allow_swap=1, which marks it RAMCRYPT_PROC_SWAP; a process that
 * could swap later (swapon after protect) is marked by the scanner.
 */
#define CG		"/sys/fs/cgroup/rc-swap"
#define SYSCTL		"/proc/sys/ramcrypt/"

/* zram swap of the given size on, cgroup2 with the memory controller for CG. */
static int swap_setup(const char *size)
{
	char buf[32];

	if (read_file("/sys/block/zram0/disksize", buf, sizeof(buf)) || strcmp(buf, "0"))
		return -1;	/* no zram, or zram0 in use */
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) &&
	    mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL))
		return -1;
	if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory"))
		return -1;
	rmdir(CG "/open"), rmdir(CG "/noswap"), rmdir(CG "/hog"), rmdir(CG);
	if (mkdir(CG, 0755) || write_file(CG "/cgroup.subtree_control", "+memory") ||
	    mkdir(CG "/open", 0755) || mkdir(CG "/noswap", 0755) || mkdir(CG "/hog", 0755) ||
	    write_file(CG "/noswap/memory.swap.max", "0"))
		return -1;
	if (write_file("/sys/block/zram0/disksize", size) ||
	    system("mkswap /dev/zram0 >/dev/null") || swapon("/dev/zram0", 0))
		return -1;
	return 0;
}

static void swap_teardown(void)
{
	swapoff("/dev/zram0");
	rmdir(CG "/open"), rmdir(CG "/noswap"), rmdir(CG "/hog"), rmdir(CG);
	for (int i = 0; i < 100 && write_file("/sys/block/zram0/reset", "1"); i++)
		usleep(50 * 1000);
}

/*
 * A process in cgroup cg holding npages of pattern seed, protected (window W) if
 * asked. It reports PROTECT's result (1: not asked), waits for holder_stop() and
 * exits 0 if its data is intact.
 */
struct holder {
	pid_t pid;
	int go, ready;
	int protect_ret;
};

static int holder_start(struct holder *h, int fd, const char *cg, uint64_t seed,
			size_t npages, bool prot)
{
	int ready[2], go[2];

	if (pipe(ready) || pipe(go))
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		uint64_t *buf = map_aligned(npages * PAGE);
		char path[128], me[16], c;
		int r = 1;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		snprintf(me, sizeof(me), "%d", getpid());
		if (!buf || madvise(buf, npages * PAGE, MADV_NOHUGEPAGE) || write_file(path, me))
			_exit(1);
		fill(buf, npages, seed);
		if (prot)
			r = protect(fd, 0, 0, W);
		if (write(ready[1], &r, sizeof(r)) != sizeof(r) || read(go[0], &c, 1) != 1)
			_exit(3);
		if (c == 'w') {
			/*
			 * Read its swapped pages ahead into the swap cache, read
			 * them all, report, and wait to be let go: its stats
			 * can be read meanwhile.
			 */
			if (madvise(buf, npages * PAGE, MADV_WILLNEED))
				_exit(5);
			r = check(buf, npages, seed) ? 4 : 0;
			if (write(ready[1], &r, sizeof(r)) != sizeof(r) || read(go[0], &c, 1) != 1)
				_exit(3);
			_exit(r);
		}
		_exit(check(buf, npages, seed) ? 4 : 0);
	}
	close(ready[1]);
	close(go[0]);
	h->go = go[1];
	h->ready = ready[0];
	if (read(ready[0], &h->protect_ret, sizeof(int)) != sizeof(int))
		h->protect_ret = -1000;
	return 0;
}

/* Let it read its pages back through the swap cache: 0 if its data was intact. */
static int holder_read_back(struct holder *h)
{
	int r = -1;

	if (write(h->go, "w", 1) != 1 || read(h->ready, &r, sizeof(r)) != sizeof(r))
		return -1;
	return r;
}

/* Let it check its data and exit: its wait status. */
static int holder_stop(struct holder *h)
{
	int status = -1;

	if (write(h->go, "g", 1) != 1 || waitpid(h->pid, &status, 0) != h->pid)
		status = -1;
	close(h->go);
	close(h->ready);
	return status;
}

/* 6.12's migrate_vma moves a swap-cache page to device memory; 6.1's refuses it. */
static bool migrate_frees_swapcache(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	return !uname(&u) && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
	       (major > 6 || (major == 6 && minor >= 12));
}

static uint64_t proc_state(int fd, pid_t pid)
{
	struct ramcrypt_proc_stats st;

	return proc_stats(fd, pid, &st) ? ~0ULL : st.state;
}

static uint64_t degraded_bits(int fd)
{
	struct ramcrypt_status st;

	return get_status(fd, &st) ? ~0ULL : st.degraded;
}

TEST_F_TIMEOUT(mm, swap_refused_where_plaintext_could_swap, 300)
{
	struct holder open_, noswap, allowed, later;
	long t0;

	ASSERT_EQ(0, swap_setup("32M")) TH_LOG("zram swap or cgroup2 setup failed");
	/* The cgroup may swap: refused. */
	ASSERT_EQ(0, holder_start(&open_, self->fd, CG "/open", 51, 64, true));
	EXPECT_EQ(-EBUSY, open_.protect_ret);
	EXPECT_EQ(0, holder_stop(&open_));
	/* memory.swap.max = 0: protected, and not marked. */
	ASSERT_EQ(0, holder_start(&noswap, self->fd, CG "/noswap", 52, 64, true));
	EXPECT_EQ(0, noswap.protect_ret);
	EXPECT_EQ(0, proc_state(self->fd, noswap.pid) & RAMCRYPT_PROC_SWAP);
	EXPECT_EQ(0, degraded_bits(self->fd) & RAMCRYPT_DEGRADED_SWAP);
	/* allow_swap=1: protected, marked, and the module says so. */
	ASSERT_EQ(0, write_file(SYSCTL "allow_swap", "1"));
	ASSERT_EQ(0, holder_start(&allowed, self->fd, CG "/open", 53, 64, true));
	ASSERT_EQ(0, write_file(SYSCTL "allow_swap", "0"));
	EXPECT_EQ(0, allowed.protect_ret);
	EXPECT_EQ(RAMCRYPT_PROC_SWAP, proc_state(self->fd, allowed.pid) & RAMCRYPT_PROC_SWAP);
	EXPECT_EQ(RAMCRYPT_DEGRADED_SWAP, degraded_bits(self->fd) & RAMCRYPT_DEGRADED_SWAP);
	EXPECT_EQ(0, holder_stop(&allowed));
	t0 = now_ms();
	while ((degraded_bits(self->fd) & RAMCRYPT_DEGRADED_SWAP) && now_ms() - t0 < 2000)
		usleep(20 * 1000);
	EXPECT_EQ(0, degraded_bits(self->fd) & RAMCRYPT_DEGRADED_SWAP) TH_LOG("the mark outlived the process");
	/* No swap at protect, swap turned on after: the scanner marks it. */
	ASSERT_EQ(0, swapoff("/dev/zram0"));
	ASSERT_EQ(0, holder_start(&later, self->fd, CG "/open", 54, 64, true));
	EXPECT_EQ(0, later.protect_ret);
	EXPECT_EQ(0, proc_state(self->fd, later.pid) & RAMCRYPT_PROC_SWAP);
	ASSERT_EQ(0, swapon("/dev/zram0", 0));
	t0 = now_ms();
	while (!(proc_state(self->fd, later.pid) & RAMCRYPT_PROC_SWAP) && now_ms() - t0 < 5000)
		usleep(20 * 1000);
	TH_LOG("swapon after protect marked after %ld ms (scan_interval_ms 100)", now_ms() - t0);
	EXPECT_EQ(RAMCRYPT_PROC_SWAP, proc_state(self->fd, later.pid) & RAMCRYPT_PROC_SWAP);
	EXPECT_EQ(0, proc_state(self->fd, noswap.pid) & RAMCRYPT_PROC_SWAP);
	EXPECT_EQ(0, holder_stop(&later));
	EXPECT_EQ(0, holder_stop(&noswap));
	swap_teardown();
}

/* Pages of the swap device (read past the page cache) that hold each seed's pattern. */
static int swap_count(const uint64_t *seeds, long *found, int n)
{
	int fd = open("/dev/zram0", O_RDONLY | O_DIRECT | O_CLOEXEC);
	size_t chunk = 256 * PAGE;
	uint64_t *buf = NULL;
	ssize_t r;

	memset(found, 0, n * sizeof(*found));
	if (fd < 0 || posix_memalign((void **)&buf, PAGE, chunk))
		return -1;
	while ((r = read(fd, buf, chunk)) > 0)
		for (size_t p = 0; p < (size_t)r / PAGE; p++)
			for (int k = 0; k < n; k++)
				found[k] += buf[p * PAGE / 8] == pattern(seeds[k], 0, 0);
	free(buf);
	close(fd);
	return r < 0 ? -1 : 0;
}

/*
 * Under memory pressure with zram swap, nothing of a protected process reaches the
 * swap device, while in the same boot pages of an unprotected process and of a
 * process protected with allow_swap=1 do (so the search can find them, and it is
 * the cgroup rule, not chance, that keeps them out). Most pages of both protected
 * processes stay plaintext (the ciphertext cap is full), the most a swap device
 * could take. The siblings share CG's 24 MiB with a 48 MiB hog. Then the cap is
 * lifted, and the allow_swap process reads its pages back through the swap cache
 * (read ahead with MADV_WILLNEED, then read) while its window evicts: its data must
 * be intact, and its pages encrypted again where the kernel lets a swap-cache page
 * move (6.12 drops the swap slot), or else counted as skipped_swapcache (6.1).
 */
#define SW_PAGES 1024		/* each holder: 4 MiB */
#define HOG_PAGES (48 * 256)	/* the hog: 48 MiB */
TEST_F_TIMEOUT(mm, swap_pressure_keeps_plaintext_out, 600)
{
	uint64_t seeds[3] = { 61, 62, 63 };	/* protected, allow_swap, unprotected */
	struct ramcrypt_proc_stats st;
	struct ramcrypt_status gs;
	struct holder prot, allowed, plain;
	char cap[32], cap0[32];
	long found[3];
	int status;
	pid_t hog;

	ASSERT_EQ(0, swap_setup("128M")) TH_LOG("zram swap or cgroup2 setup failed");
	ASSERT_EQ(0, read_file(SYSCTL "ciphertext_cap_pages", cap0, sizeof(cap0)));
	ASSERT_EQ(0, get_status(self->fd, &gs));
	snprintf(cap, sizeof(cap), "%llu", (unsigned long long)gs.encrypted_pages + 64);
	ASSERT_EQ(0, write_file(SYSCTL "ciphertext_cap_pages", cap));
	ASSERT_EQ(0, write_file(CG "/memory.max", "24M"));

	ASSERT_EQ(0, holder_start(&prot, self->fd, CG "/noswap", seeds[0], SW_PAGES, true));
	ASSERT_EQ(0, prot.protect_ret);
	ASSERT_EQ(0, write_file(SYSCTL "allow_swap", "1"));
	ASSERT_EQ(0, holder_start(&allowed, self->fd, CG "/open", seeds[1], SW_PAGES, true));
	ASSERT_EQ(0, write_file(SYSCTL "allow_swap", "0"));
	ASSERT_EQ(0, allowed.protect_ret);
	ASSERT_EQ(0, holder_start(&plain, self->fd, CG "/open", seeds[2], SW_PAGES, false));

	hog = fork();
	ASSERT_LE(0, hog);
	if (hog == 0) {
		uint64_t *h = map_aligned(HOG_PAGES * PAGE);
		char me[16];

		snprintf(me, sizeof(me), "%d", getpid());
		if (!h || write_file(CG "/hog/cgroup.procs", me))
			_exit(1);
		for (int round = 0; round < 3; round++)
			fill(h, HOG_PAGES, 64);
		_exit(0);
	}
	ASSERT_EQ(hog, waitpid(hog, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("hog status %#x", status);

	ASSERT_EQ(0, swap_count(seeds, found, 3));
	TH_LOG("pages on the swap device: protected %ld, protected with allow_swap %ld, unprotected %ld; "
	       "swap in use: noswap %lld kB, open %lld kB",
	       found[0], found[1], found[2], read_ll(CG "/noswap/memory.swap.current") / 1024,
	       read_ll(CG "/open/memory.swap.current") / 1024);
	EXPECT_EQ(0, found[0]);
	EXPECT_LT(0, found[1]) TH_LOG("a protected process that may swap had no page swapped");
	EXPECT_LT(0, found[2]) TH_LOG("the unprotected process had no page swapped: no pressure?");
	EXPECT_EQ(0, proc_state(self->fd, prot.pid) & RAMCRYPT_PROC_SWAP);

	ASSERT_EQ(0, write_file(SYSCTL "ciphertext_cap_pages", cap0));
	EXPECT_EQ(0, holder_read_back(&allowed)) TH_LOG("the allow_swap process, reading back");
	usleep(300 * 1000);	/* three scanner passes */
	ASSERT_EQ(0, proc_stats(self->fd, allowed.pid, &st));
	TH_LOG("read back through the swap cache: %llu plaintext pages (window %d), skipped %llu in "
	       "swap cache, %llu pinned, %llu shared; %llu pages on swap",
	       st.window_pages, W, st.skipped_swapcache, st.skipped_pinned, st.skipped_shared,
	       st.swapped_pages);
	if (migrate_frees_swapcache()) {
		EXPECT_LE(st.window_pages, W);
	} else {
		EXPECT_LT(W, st.window_pages) TH_LOG("no page stayed in the swap cache: nothing tested");
		EXPECT_LE(st.window_pages - W, st.skipped_swapcache);
	}
	EXPECT_EQ(0, holder_stop(&allowed)) TH_LOG("the allow_swap process");
	EXPECT_EQ(0, holder_stop(&prot));
	EXPECT_EQ(0, holder_stop(&plain));
	swap_teardown();
}

/*
 * userfaultfd: a protected process registers a range in MISSING mode and a thread
 * of its own fills each first touch with UFFDIO_COPY. Filled pages are encrypted
 * like any other; touching them again decrypts them (no second userfault, since
 * the page is no longer missing).
 */
#define UFFD_PAGES 128
struct uffd_ctx {
	int uffd;
	long filled;
	uint64_t seed;
};

static void *uffd_handler(void *arg)
{
	struct uffd_ctx *c = arg;
	static uint64_t page[PAGE / 8] __attribute__((aligned(4096)));

	for (;;) {
		struct pollfd pfd = { .fd = c->uffd, .events = POLLIN };
		struct uffd_msg msg;
		struct uffdio_copy cp;
		struct uffdio_range wake;
		size_t idx;

		if (poll(&pfd, 1, -1) < 0 || read(c->uffd, &msg, sizeof(msg)) != sizeof(msg))
			return NULL;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		idx = (msg.arg.pagefault.address & ~(PAGE - 1)) / PAGE;
		/* The pattern of page idx, relative to the range start (set below). */
		for (size_t w = 0; w < PAGE / 8; w++)
			page[w] = pattern(c->seed, idx, w);
		/*
		 * Count the fill before the faulting thread wakes: counted after a
		 * waking copy, the main thread can read c->filled before it is counted.
		 */
		cp = (struct uffdio_copy){ .dst = msg.arg.pagefault.address & ~(PAGE - 1),
					   .src = (uintptr_t)page, .len = PAGE,
					   .mode = UFFDIO_COPY_MODE_DONTWAKE };
		if (ioctl(c->uffd, UFFDIO_COPY, &cp))
			return NULL;
		__atomic_add_fetch(&c->filled, 1, __ATOMIC_SEQ_CST);
		wake = (struct uffdio_range){ .start = cp.dst, .len = PAGE };
		if (ioctl(c->uffd, UFFDIO_WAKE, &wake))
			return NULL;
	}
}

TEST_F_TIMEOUT(mm, userfaultfd_range, 300)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct ramcrypt_proc_stats st;
	struct uffd_ctx c = { .seed = 51 };
	pthread_t th;
	uint64_t *buf;
	long ms;
	size_t i;

	c.uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	ASSERT_LE(0, c.uffd) TH_LOG("userfaultfd: %s (CONFIG_USERFAULTFD)", strerror(errno));
	ASSERT_EQ(0, ioctl(c.uffd, UFFDIO_API, &api));
	/* Page-aligned at address 0 of the pattern: index = address / PAGE - base. */
	buf = map_aligned(UFFD_PAGES * PAGE);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, madvise(buf, UFFD_PAGES * PAGE, MADV_NOHUGEPAGE));
	c.seed = 51;
	reg = (struct uffdio_register){ .range = { (uintptr_t)buf, UFFD_PAGES * PAGE },
					.mode = UFFDIO_REGISTER_MODE_MISSING };
	ASSERT_EQ(0, ioctl(c.uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, pthread_create(&th, NULL, uffd_handler, &c));
	ASSERT_EQ(0, protect(self->fd, 0, 0, W));

	/* First touches: each is a userfault filled by the handler with its index. */
	for (i = 0; i < UFFD_PAGES; i++)
		ASSERT_EQ((uintptr_t)buf / PAGE + i, buf[i * PAGE / 8 + 1]);
	EXPECT_EQ(UFFD_PAGES, __atomic_load_n(&c.filled, __ATOMIC_SEQ_CST));
	ms = wait_bound(self->fd, 0, &st, 10000);
	TH_LOG("after the fills: plaintext %llu encrypted %llu (%ld ms)", st.window_pages,
	       st.encrypted_pages, ms);
	EXPECT_LE(0, ms);
	EXPECT_GE(st.encrypted_pages, UFFD_PAGES - W);
	/* Second touches decrypt; no new userfault. */
	for (i = 0; i < UFFD_PAGES; i++)
		EXPECT_EQ((uintptr_t)buf / PAGE + i, buf[i * PAGE / 8 + 1]);
	EXPECT_EQ(UFFD_PAGES, __atomic_load_n(&c.filled, __ATOMIC_SEQ_CST));
	ASSERT_EQ(0, proc_stats(self->fd, 0, &st));
	EXPECT_GE(st.decryptions, UFFD_PAGES - W);
	EXPECT_LE(st.window_pages, st.window);
	pthread_cancel(th);
	pthread_join(th, NULL);
	close(c.uffd);
}

/*
 * Transparent huge pages, in both modes a distro may boot with: a protected
 * process's THP-backed range is split and encrypted; then khugepaged, scanning
 * hard, must not collapse the range back into a plaintext huge page (it would
 * swap in up to max_ptes_swap encrypted pages through migrate_to_ram).
 */
FIXTURE(thp) {
	int fd;
};
FIXTURE_VARIANT(thp) {
	const char *mode;
};
FIXTURE_VARIANT_ADD(thp, always) { .mode = "always" };
FIXTURE_VARIANT_ADD(thp, madvise) { .mode = "madvise" };

FIXTURE_SETUP(thp)
{
	self->fd = fixture_open();
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", RAMCRYPT_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(thp)
{
	fixture_close(self->fd);
}

#define THP_PAGES 2048	/* 8 MiB: four huge pages */
/* khugepaged at full speed until it has made n more full scans; the scans made. */
static long long khugepaged_scans(int n)
{
	long long scans0 = read_ll(THP "khugepaged/full_scans"), scans = scans0;
	long t0;

	write_file(THP "khugepaged/scan_sleep_millisecs", "10");
	write_file(THP "khugepaged/pages_to_scan", "8192");
	write_file(THP "khugepaged/max_ptes_swap", "511");
	for (t0 = now_ms(); now_ms() - t0 < 60000 && scans < scans0 + n; usleep(100 * 1000))
		scans = read_ll(THP "khugepaged/full_scans");
	return scans - scans0;
}

/* Split every huge page of buf: zap its first 4 KiB page. */
static int split_huge(uint64_t *buf, size_t npages)
{
	for (size_t off = 0; off < npages * PAGE; off += HPAGE)
		if (madvise((char *)buf + off, PAGE, MADV_DONTNEED))
			return -1;
	return 0;
}

TEST_F_TIMEOUT(thp, khugepaged_collapse, 300)
{
	struct ramcrypt_proc_stats st;
	long huge, split, ms;
	long long scans;
	uint64_t *buf;
	size_t i;

	ASSERT_EQ(0, write_file(THP "enabled", variant->mode)) TH_LOG("no THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	buf = map_aligned(THP_PAGES * PAGE);
	ASSERT_NE(NULL, buf);
	if (!strcmp(variant->mode, "madvise"))
		ASSERT_EQ(0, madvise(buf, THP_PAGES * PAGE, MADV_HUGEPAGE));
	fill(buf, THP_PAGES, 61);
	huge = anon_huge_kb();
	ASSERT_GE(huge, 2048L) TH_LOG("no huge page was made: the THP case did not happen");

	/* The control, unprotected: khugepaged collapses a split range back. */
	ASSERT_EQ(0, split_huge(buf, THP_PAGES));
	split = anon_huge_kb();
	scans = khugepaged_scans(2);
	TH_LOG("%s, unprotected: AnonHugePages %ld kB, %ld after a split, %ld after %lld khugepaged scans",
	       variant->mode, huge, split, anon_huge_kb(), scans);
	ASSERT_LT(split, huge);
	ASSERT_GE(anon_huge_kb(), 2048L) TH_LOG("control: khugepaged collapsed nothing in this time");

	/* Protected: the range is split and encrypted, and must stay so. */
	fill(buf, THP_PAGES, 61);
	ASSERT_EQ(0, protect(self->fd, 0, 0, W));
	ms = wait_bound(self->fd, 0, &st, 20000);
	TH_LOG("protected: plaintext %llu encrypted %llu (%ld ms), AnonHugePages %ld kB",
	       st.window_pages, st.encrypted_pages, ms, anon_huge_kb());
	EXPECT_LE(0, ms);
	EXPECT_GE(st.encrypted_pages, THP_PAGES - W);
	scans = khugepaged_scans(2);
	huge = anon_huge_kb();
	ASSERT_EQ(0, proc_stats(self->fd, 0, &st));
	TH_LOG("after %lld khugepaged scans: plaintext %llu encrypted %llu, AnonHugePages %ld kB",
	       scans, st.window_pages, st.encrypted_pages, huge);
	EXPECT_GE(scans, 2);
	EXPECT_LE(st.window_pages, st.window);
	EXPECT_LT(huge, 2048L) TH_LOG("a protected range was collapsed into a plaintext huge page");
	EXPECT_GE(st.encrypted_pages, THP_PAGES - W);
	/* And the data, through decryption. */
	for (i = 0; i < THP_PAGES; i++)
		ASSERT_EQ(i, buf[i * PAGE / 8 + 1]);
	EXPECT_EQ(0, check(buf, THP_PAGES, 61));
}

TEST_HARNESS_MAIN
