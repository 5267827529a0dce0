// SPDX-License-Identifier: GPL-2.0
/*
 * rcbench: the guest side of `make bench` (scripts/bench). Static, no libraries.
 *
 *   rcbench fault minor N            first touch of N anonymous pages
 *   rcbench fault hit N              re-touch of N present pages (timer floor)
 *   rcbench fault zram N             swap-in from zram of N pages (needs swap on)
 *   rcbench fault zramout N          swap-out to zram of N pages, one MADV_PAGEOUT each
 *   rcbench fault miss N WINDOW CYCLE   window misses of a protected process
 *   rcbench cipher N                 N page round trips through debugfs selftest_roundtrip
 *   rcbench work NAME WINDOW SIZE_KB OPS [MIN_SECONDS]
 *                                    one workload run (WINDOW 0 = unprotected);
 *                                    NAME kv|scan|sort|ptr, or fit: scan with a small
 *                                    array, the working set that fits in a window;
 *                                    the timed body repeats until MIN_SECONDS of timed
 *                                    time have passed (default: once)
 *
 * Faults are timed one by one with rdtsc (no memory access inside the timed region
 * but the faulting store); samples go to a MAP_SHARED buffer, which ramcrypt never
 * encrypts, so recording a sample never faults. Output: CSV-ish lines, parsed by
 * scripts/bench:
 *   fault,KIND,N,MEDIAN_US,P99_US,MEAN_US,MIN_US,MAX_US
 *   pct,KIND,P,US                   (P = 1..99 and 99.9, for the CDF plot)
 *   work,NAME,WINDOW,SECONDS,CHECKSUM,RSSANON_KB,PTE_KB,ENC_PAGES,WIN_PAGES,
 *        FAULTS,ENCRYPTIONS,DECRYPTIONS,MEMFREE_DROP_KB,DEGRADED,REPS,FIRST_SECONDS
 *        (SECONDS per repetition; CHECKSUM and FIRST_SECONDS of the first one)
 *   prof,LABEL,PHASE,CALLS,CYCLES    miss runs, benchmark build only (kmod/profile.c)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <linux/ramcrypt.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define PG 4096UL

static double tsc_per_us;

static void die(const char *what)
{
	fprintf(stderr, "rcbench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static inline uint64_t tsc(void)
{
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
}

static void calibrate(void)
{
	double s0 = now_s(), s1;
	uint64_t t0 = tsc(), t1;

	do
		s1 = now_s();
	while (s1 - s0 < 0.05);
	t1 = tsc();
	tsc_per_us = (t1 - t0) / ((s1 - s0) * 1e6);
}

static void *map_anon(size_t bytes, int shared)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (!shared)
		madvise(p, bytes, MADV_NOHUGEPAGE);	/* one fault = one 4 KiB page */
	return p;
}

static void pin_cpu0(void)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(0, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static int rc_fd(void)
{
	int fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die(RAMCRYPT_DEVICE);
	return fd;
}

static void protect_self(unsigned long window)
{
	struct ramcrypt_protect p = { .pid = 0, .flags = 0, .window = window };
	int fd = rc_fd();

	if (ioctl(fd, RAMCRYPT_IOC_PROTECT, &p))
		die("RAMCRYPT_IOC_PROTECT");
	close(fd);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *kind, uint64_t *s, size_t n)
{
	double sum = 0;
	size_t i;

	qsort(s, n, sizeof(*s), cmp_u64);
	for (i = 0; i < n; i++)
		sum += s[i];
	printf("fault,%s,%zu,%.2f,%.2f,%.2f,%.2f,%.2f\n", kind, n, s[n / 2] / tsc_per_us,
	       s[n * 99 / 100] / tsc_per_us, sum / n / tsc_per_us, s[0] / tsc_per_us,
	       s[n - 1] / tsc_per_us);
	for (i = 1; i < 100; i++)
		printf("pct,%s,%zu,%.2f\n", kind, i, s[n * i / 100] / tsc_per_us);
	printf("pct,%s,99.9,%.2f\n", kind, s[n * 999 / 1000] / tsc_per_us);
	fflush(stdout);
}

/* Time one store per page; the loop touches nothing else but registers. */
static void time_touches(volatile char *base, const uint32_t *order, size_t n, uint64_t *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(base + order[i] * PG);
		uint64_t t0 = tsc();

		*p = i;
		out[i] = tsc() - t0;
	}
}

/* Bit 62 of /proc/self/pagemap: the page is in swap. */
static size_t count_swapped(char *base, size_t n, uint8_t *swapped)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t *e = malloc(n * 8);
	size_t i, c = 0;

	if (fd < 0 || !e)
		die("pagemap");
	if (pread(fd, e, n * 8, (uintptr_t)base / PG * 8) != (ssize_t)(n * 8))
		die("pagemap read");
	for (i = 0; i < n; i++) {
		swapped[i] = (e[i] >> 62) & 1;
		c += swapped[i];
	}
	free(e);
	close(fd);
	return c;
}

static void fill_page(char *p, uint64_t seed)
{
	/* Roughly 2-3x compressible: a random quarter, the rest text-like repeats. */
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	size_t i;

	for (i = 0; i < PG / 4; i += 8) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < PG; i++)
		p[i] = "key=value; the quick brown fox "[(i + seed) % 31];
}

/*
 * The benchmark build's phase counters (kmod/profile.c): reset before a timed loop,
 * printed after it as "prof,LABEL,PHASE,CALLS,CYCLES". Absent in normal builds.
 */
#define PROFILE "/sys/kernel/debug/ramcrypt/profile"

static void prof_reset(void)
{
	int fd = open(PROFILE, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "0", 1) != 1)
			die("reset " PROFILE);
		close(fd);
	}
}

static void prof_dump(const char *label)
{
	FILE *f = fopen(PROFILE, "r");
	char name[64];
	unsigned long long calls, cycles;

	if (!f)
		return;
	while (fscanf(f, "%63s %llu %llu", name, &calls, &cycles) == 3)
		printf("prof,%s,%s,%llu,%llu\n", label, name, calls, cycles);
	fclose(f);
	fflush(stdout);
}

static int cmd_fault(int argc, char **argv)
{
	const char *kind = argv[0];
	size_t n = strtoul(argv[1], NULL, 0), i;
	uint64_t *samples = map_anon(n * 8 + PG, 1);
	uint32_t *order = map_anon(n * 4 + PG, 1);
	char *a;

	pin_cpu0();
	for (i = 0; i < n; i++)
		order[i] = i;
	if (!strcmp(kind, "minor")) {
		a = map_anon(n * PG, 0);
		time_touches(a, order, n, samples);
		report("minor", samples, n);
	} else if (!strcmp(kind, "hit")) {
		a = map_anon(n * PG, 0);
		memset(a, 1, n * PG);
		time_touches(a, order, n, samples);
		report("hit", samples, n);
	} else if (!strcmp(kind, "zram")) {
		uint8_t *sw = malloc(n);
		size_t got = 0, k = 0, tries;

		a = map_anon(n * PG, 0);
		for (i = 0; i < n; i++)
			fill_page(a + i * PG, i);
		for (tries = 0; tries < 8 && got < n; tries++) {
			if (madvise(a, n * PG, MADV_PAGEOUT))
				die("MADV_PAGEOUT");
			got = count_swapped(a, n, sw);
		}
		fprintf(stderr, "rcbench: zram: %zu of %zu pages swapped out\n", got, n);
		/* Time only the pages that really were in swap. */
		for (i = 0; i < n; i++)
			if (sw[i])
				order[k++] = i;
		if (k < n / 2) {
			fprintf(stderr, "rcbench: zram: too few pages swapped out\n");
			return 1;
		}
		time_touches(a, order, k, samples);
		report("zram", samples, k);
	} else if (!strcmp(kind, "zramout")) {
		/*
		 * The other half of a zram round trip: one page reclaimed to zram,
		 * synchronously, by MADV_PAGEOUT of that page alone (syscall included).
		 * Only pages that did go to swap are counted.
		 */
		uint8_t *sw = malloc(n);
		size_t k = 0;

		a = map_anon(n * PG, 0);
		for (i = 0; i < n; i++)
			fill_page(a + i * PG, i);
		for (i = 0; i < n; i++) {
			uint64_t t0 = tsc();

			if (madvise(a + i * PG, PG, MADV_PAGEOUT))
				die("MADV_PAGEOUT");
			samples[i] = tsc() - t0;
		}
		count_swapped(a, n, sw);
		for (i = 0; i < n; i++)
			if (sw[i])
				samples[k++] = samples[i];
		fprintf(stderr, "rcbench: zramout: %zu of %zu pages swapped out\n", k, n);
		if (k < n / 2) {
			fprintf(stderr, "rcbench: zramout: too few pages swapped out\n");
			return 1;
		}
		report("zram_out", samples, k);
	} else if (!strcmp(kind, "miss") && argc >= 4) {
		size_t window = strtoul(argv[2], NULL, 0), cycle = strtoul(argv[3], NULL, 0);
		pid_t pid;
		int st;

		if (cycle <= window) {
			fprintf(stderr, "rcbench: the cycle must be larger than the window\n");
			return 2;
		}
		for (i = 0; i < n; i++)
			order[i] = i % cycle;
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			a = map_anon(cycle * PG, 0);
			for (i = 0; i < cycle; i++)
				fill_page(a + i * PG, i);
			protect_self(window);
			/* One untimed round: every page has been in and out of the window. */
			for (i = 0; i < cycle; i++)
				((volatile char *)a)[i * PG] = 1;
			prof_reset();
			time_touches(a, order, n, samples);
			prof_dump(argc >= 5 ? argv[4] : "miss");
			_exit(0);
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			return 1;
		report(argc >= 5 ? argv[4] : "miss", samples, n);
	} else {
		fprintf(stderr, "rcbench: fault minor|hit|zram|zramout N | miss N WINDOW CYCLE [LABEL]\n");
		return 2;
	}
	return 0;
}

/* Round trips through the module's debugfs file: its cost per page in this guest. */
static int cmd_cipher(char **argv)
{
	unsigned long n = strtoul(argv[0], NULL, 0), i;
	char buf[32], rnd[PG];
	int fd = open("/sys/kernel/debug/ramcrypt/selftest_roundtrip", O_WRONLY);
	double t0, t1, t2;
	int len;

	if (fd < 0)
		die("selftest_roundtrip");
	pin_cpu0();
	len = snprintf(buf, sizeof(buf), "%lu", n);
	t0 = now_s();
	if (write(fd, buf, len) != len)
		die("selftest_roundtrip write");
	t1 = now_s();
	/* The round trip also fills a page with get_random_bytes(): time that alone. */
	for (i = 0; i < n; i++)
		if (getrandom(rnd, PG, 0) != PG)
			die("getrandom");
	t2 = now_s();
	printf("cipher,roundtrip_us,%.2f\ncipher,getrandom_4k_us,%.2f\n",
	       (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6);
	close(fd);
	return 0;
}

/* ---- workloads ---- */

static uint64_t rng = 88172645463325252ULL;

static inline uint64_t rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

struct kv {
	uint64_t key;		/* 0 = empty */
	uint64_t val[7];
};

struct kvwork {
	struct kv *t;
	size_t slots;
	uint32_t *ops;		/* key ids; the top bit marks a PUT */
	size_t nops;
};

/* YCSB's Zipfian generator (theta 0.99) over n items. */
static void zipf_ops(uint32_t *ops, size_t nops, size_t n)
{
	const double theta = 0.99;
	double zetan = 0, zeta2 = 1 + pow(0.5, theta), alpha = 1 / (1 - theta), eta;
	size_t i;

	for (i = 1; i <= n; i++)
		zetan += pow((double)i, -theta);
	eta = (1 - pow(2.0 / n, 1 - theta)) / (1 - zeta2 / zetan);
	for (i = 0; i < nops; i++) {
		double u = (rnd64() >> 11) * (1.0 / 9007199254740992.0), uz = u * zetan;
		uint64_t rank;

		if (uz < 1)
			rank = 0;
		else if (uz < 1 + pow(0.5, theta))
			rank = 1;
		else
			rank = (uint64_t)(n * pow(eta * u - eta + 1, alpha));
		if (rank >= n)
			rank = n - 1;
		/* Spread popular keys over the table: a bijection on [0, n), n a power of 2. */
		ops[i] = (uint32_t)((rank * 0x9E3779B1ULL) & (n - 1));
		if (rnd64() % 100 < 5)
			ops[i] |= 1U << 31;
	}
}

static void kv_setup(struct kvwork *w, size_t bytes, size_t nops)
{
	size_t nkeys, i;

	w->slots = bytes / sizeof(struct kv);	/* a power of two for power-of-two sizes */
	nkeys = w->slots / 2;
	w->t = map_anon(bytes, 0);
	for (i = 0; i < nkeys; i++) {
		uint64_t k = i + 1, h = mix(k) & (w->slots - 1);

		while (w->t[h].key)
			h = (h + 1) & (w->slots - 1);
		w->t[h].key = k;
		w->t[h].val[0] = k * 3;
	}
	w->nops = nops;
	w->ops = map_anon(nops * 4 + PG, 0);
	zipf_ops(w->ops, nops, nkeys);
}

static uint64_t kv_run(struct kvwork *w)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < w->nops; i++) {
		uint32_t op = w->ops[i];
		uint64_t k = (op & 0x7fffffff) + 1, h = mix(k) & (w->slots - 1);

		while (w->t[h].key != k)
			h = (h + 1) & (w->slots - 1);
		if (op >> 31)
			w->t[h].val[0] += 1;
		else
			sum += w->t[h].val[0];
	}
	return sum;
}

static void sort_u32(uint32_t *a, long n)
{
	while (n > 16) {
		uint32_t p = a[n / 2], t;
		long i = 0, j = n - 1;

		for (;;) {
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i >= j)
				break;
			t = a[i]; a[i] = a[j]; a[j] = t;
			i++; j--;
		}
		/* Recurse into the smaller part: O(log n) stack. */
		if (j + 1 < n - j - 1) {
			sort_u32(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			sort_u32(a + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (long i = 1; i < n; i++) {
		uint32_t v = a[i];
		long j = i - 1;

		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

/* An AST-like arena: 64-byte nodes, children allocated near their parent,
 * child lists, and references to recent (sometimes far) earlier nodes. */
struct node {
	struct node *child, *sibling, *ref;
	uint64_t val;
	uint64_t pad[4];
};

static struct node *ptr_setup(size_t bytes)
{
	size_t n = bytes / sizeof(struct node), i;
	struct node *a = map_anon(bytes, 0);

	for (i = 0; i < n; i++) {
		a[i].val = mix(i) & 0xffff;
		if (i) {
			size_t par = rnd64() % 10 ? i - 1 - rnd64() % (i < 64 ? i : 64) : rnd64() % i;

			a[i].sibling = a[par].child;
			a[par].child = &a[i];
			if (rnd64() % 4 == 0)
				a[i].ref = rnd64() % 16 ? &a[i - 1 - rnd64() % (i < 4096 ? i : 4096)]
							: &a[rnd64() % i];
		}
	}
	return a;
}

static uint64_t ptr_run(struct node *root, size_t bytes, int passes)
{
	struct node **stack = map_anon(bytes / sizeof(struct node) * sizeof(void *) + PG, 0);
	uint64_t sum = 0;

	while (passes--) {
		size_t sp = 0;

		stack[sp++] = root;
		while (sp) {
			struct node *x = stack[--sp], *c;

			sum += x->val;
			if (x->ref)
				sum += x->ref->val >> 1;
			for (c = x->child; c; c = c->sibling)
				stack[sp++] = c;
		}
	}
	munmap(stack, bytes / sizeof(struct node) * sizeof(void *) + PG);
	return sum;
}

static long status_kb(const char *field)
{
	char buf[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = 0;
	p = strstr(buf, field);
	return p ? strtol(p + strlen(field) + 1, NULL, 10) : -1;
}

static long memfree_kb(void)
{
	char buf[256];
	FILE *f = fopen("/proc/meminfo", "r");
	long v = -1;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "MemFree: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* One run of a workload's timed body; the checksum, or 0 with *bad set. */
static uint64_t work_once(const char *name, struct kvwork *kv, uint64_t *scan, uint32_t *arr,
			  struct node *root, size_t bytes, size_t ops, int *bad)
{
	uint64_t sum = 0;
	size_t i;

	if (!strcmp(name, "kv"))
		return kv_run(kv);
	if (!strcmp(name, "scan") || !strcmp(name, "fit")) {
		for (size_t pass = 0; pass < ops; pass++)
			for (i = 0; i < bytes / 8; i++)
				sum += scan[i] ^ pass;
		return sum;
	}
	if (!strcmp(name, "sort")) {
		sort_u32(arr, bytes / 4);
		for (i = 1; i < bytes / 4; i++)
			if (arr[i - 1] > arr[i]) {
				fprintf(stderr, "rcbench: sort: not sorted\n");
				*bad = 1;
				return 0;
			}
		return arr[0] ^ arr[bytes / 8] ^ arr[bytes / 4 - 1];
	}
	return ptr_run(root, bytes, ops);
}

static void sort_fill(uint32_t *arr, size_t bytes)
{
	for (size_t i = 0; i < bytes / 4; i++)
		arr[i] = (uint32_t)rnd64();
}

static int cmd_work(int argc, char **argv)
{
	const char *name = argv[0];
	unsigned long window = strtoul(argv[1], NULL, 0), reps = 0;
	size_t bytes = strtoul(argv[2], NULL, 0) * 1024, ops = strtoul(argv[3], NULL, 0);
	/* Repeat the timed body until this much timed time has passed: an unprotected
	 * run of a few ms would be mostly timer and scheduling noise. */
	double min_s = argc >= 5 ? strtod(argv[4], NULL) : 0, timed = 0, first_s = 0;
	struct ramcrypt_proc_stats ps = { 0 };
	long free0 = memfree_kb(), free1;
	struct kvwork kv;
	struct node *root = NULL;
	uint32_t *arr = NULL;
	uint64_t *scan = NULL, first = 0;
	size_t i;
	int bad = 0;

	pin_cpu0();
	if (!strcmp(name, "kv")) {
		kv_setup(&kv, bytes, ops);
	} else if (!strcmp(name, "scan") || !strcmp(name, "fit")) {
		scan = map_anon(bytes, 0);
		for (i = 0; i < bytes / 8; i++)
			scan[i] = mix(i);
	} else if (!strcmp(name, "sort")) {
		arr = map_anon(bytes, 0);
		sort_fill(arr, bytes);
	} else if (!strcmp(name, "ptr")) {
		root = ptr_setup(bytes);
	} else {
		fprintf(stderr, "rcbench: work kv|scan|fit|sort|ptr WINDOW SIZE_KB OPS [MIN_SECONDS]\n");
		return 2;
	}
	if (window)
		protect_self(window);

	do {
		double t0, t1;
		uint64_t sum;

		if (reps && arr)
			sort_fill(arr, bytes);	/* fresh random input, outside the timed part */
		t0 = now_s();
		sum = work_once(name, &kv, scan, arr, root, bytes, ops, &bad);
		t1 = now_s();
		if (bad)
			return 1;
		timed += t1 - t0;
		/* The first repetition's checksum: the one a protected run (one repetition,
		 * the same input) must reproduce. */
		if (!reps) {
			first = sum;
			first_s = t1 - t0;
		}
		reps++;
	} while (timed < min_s);

	if (window) {
		int fd = rc_fd();

		if (ioctl(fd, RAMCRYPT_IOC_PROC_STATS, &ps))
			die("RAMCRYPT_IOC_PROC_STATS");
		close(fd);
	}
	free1 = memfree_kb();
	printf("work,%s,%lu,%.6f,%016llx,%ld,%ld,%llu,%llu,%llu,%llu,%llu,%ld,%llu,%lu,%.6f\n", name, window,
	       timed / reps, (unsigned long long)first, status_kb("RssAnon:"), status_kb("VmPTE:"),
	       (unsigned long long)ps.encrypted_pages, (unsigned long long)ps.window_pages,
	       (unsigned long long)ps.faults, (unsigned long long)ps.encryptions,
	       (unsigned long long)ps.decryptions, free0 - free1,
	       (unsigned long long)ps.degraded_events, reps, first_s);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	calibrate();
	if (argc >= 3 && !strcmp(argv[1], "fault"))
		return cmd_fault(argc - 2, argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "cipher"))
		return cmd_cipher(argv + 2);
	if (argc >= 6 && !strcmp(argv[1], "work"))
		return cmd_work(argc - 2, argv + 2);
	if (argc == 2 && !strcmp(argv[1], "tsc")) {
		printf("tsc_mhz,%.1f\n", tsc_per_us);
		return 0;
	}
	fprintf(stderr, "usage: rcbench fault|cipher|work|tsc ... (see the source header)\n");
	return 2;
}
