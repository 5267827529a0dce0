// SPDX-License-Identifier: GPL-2.0
/*
 * Data integrity of a protected process under load: 64 MiB of random page reads and
 * writes with checksums, window at the minimum, single-threaded, with 4 threads, and
 * over a transparent-huge-page region (split before encryption). Every page carries
 * a generation number; each operation verifies a whole page against it, bumps it and
 * rewrites the page, so a lost, stale or misplaced page is caught on its next visit.
 * Each case runs in a child, which protects itself and exits with the error count.
 * (The debug lane runs a quarter of the size: see REGION below.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ramcrypt.h>

#include "kselftest_harness.h"

#define PAGE		4096UL
#define WORDS		(PAGE / sizeof(uint64_t))
/*
 * 64 MiB and 40,000 random page visits per case (all threads together). The debug
 * lane (KASAN, lockdep; scripts/guest-run --debug sets RAMCRYPT_DEBUG_LANE) runs a
 * quarter of both: it hunts memory and locking bugs on the same paths, and the full
 * size took longer than the test's limit there.
 */
static unsigned long REGION = 64UL << 20, NPAGES, OPS = 40000;

struct region {
	uint64_t *mem;
	uint32_t *gen;		/* per page; protected memory too */
	unsigned long errors;
};

static uint64_t word(unsigned long page, uint32_t gen, unsigned long w)
{
	uint64_t x = (page << 40) ^ ((uint64_t)gen << 20) ^ w ^ 0x9e3779b97f4a7c15ULL;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static void fill(struct region *r, unsigned long page)
{
	uint64_t *p = r->mem + page * WORDS;

	for (unsigned long w = 0; w < WORDS; w++)
		p[w] = word(page, r->gen[page], w);
}

static unsigned long verify(struct region *r, unsigned long page)
{
	uint64_t *p = r->mem + page * WORDS;
	unsigned long bad = 0;

	for (unsigned long w = 0; w < WORDS; w++)
		bad += p[w] != word(page, r->gen[page], w);
	return bad != 0;
}

struct worker {
	struct region *r;
	unsigned long first, stride, ops, errors;
	uint64_t rng;
};

static void *work(void *arg)
{
	struct worker *wk = arg;
	unsigned long mine = (NPAGES - wk->first + wk->stride - 1) / wk->stride;

	for (unsigned long i = 0; i < wk->ops; i++) {
		unsigned long page;

		wk->rng = wk->rng * 6364136223846793005ULL + 1442695040888963407ULL;
		/* Each thread owns the pages first, first + stride, ...: no data races. */
		page = wk->first + ((wk->rng >> 33) % mine) * wk->stride;
		wk->errors += verify(wk->r, page);
		wk->r->gen[page]++;
		fill(wk->r, page);
	}
	return NULL;
}

/* In a child: protect, fill, random visits with nthreads, final full check. */
static int run_case(int nthreads, int huge)
{
	struct ramcrypt_protect p = { .pid = 0, .window = RAMCRYPT_MIN_WINDOW };
	struct worker wk[4];
	pthread_t tid[4];
	struct region r = { 0 };
	int fd = open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, RAMCRYPT_IOC_PROTECT, &p))
		return 200;
	r.mem = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r.gen = calloc(NPAGES, sizeof(*r.gen));
	if (r.mem == MAP_FAILED || !r.gen)
		return 201;
	if (huge && madvise(r.mem, REGION, MADV_HUGEPAGE))
		return 202;
	for (unsigned long page = 0; page < NPAGES; page++)
		fill(&r, page);
	for (int t = 0; t < nthreads; t++) {
		wk[t] = (struct worker){ .r = &r, .first = t, .stride = nthreads,
					 .ops = OPS / nthreads, .rng = 12345 + t };
		if (pthread_create(&tid[t], NULL, work, &wk[t]))
			return 203;
	}
	for (int t = 0; t < nthreads; t++) {
		pthread_join(tid[t], NULL);
		r.errors += wk[t].errors;
	}
	for (unsigned long page = 0; page < NPAGES; page++)
		r.errors += verify(&r, page);
	/* The test proves nothing unless the pages really went through the cipher. */
	struct ramcrypt_proc_stats st = { .pid = 0 };

	if (ioctl(fd, RAMCRYPT_IOC_PROC_STATS, &st) || st.encryptions < NPAGES ||
	    st.decryptions < NPAGES || st.window_pages > st.window)
		return 204;
	return r.errors > 100 ? 100 : (int)r.errors;
}

static void check_case(struct __test_metadata *_metadata, int nthreads, int huge)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(run_case(nthreads, huge));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child died with signal %d", WTERMSIG(status));
	ASSERT_NE(204, WEXITSTATUS(status)) TH_LOG("too few encryptions/decryptions: not protected?");
	ASSERT_LT(WEXITSTATUS(status), 200) TH_LOG("set-up step %d failed", WEXITSTATUS(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("pages with wrong contents (capped at 100)");
}

/* A fixture only for TEST_F_TIMEOUT: the limit catches hangs, TCG is slow. */
FIXTURE(integrity) {};
FIXTURE_SETUP(integrity) {}
FIXTURE_TEARDOWN(integrity) {}

TEST_F_TIMEOUT(integrity, random_rw_64mib, 900)
{
	check_case(_metadata, 1, 0);
}

TEST_F_TIMEOUT(integrity, random_rw_64mib_4_threads, 900)
{
	check_case(_metadata, 4, 0);
}

TEST_F_TIMEOUT(integrity, random_rw_64mib_thp, 900)
{
	check_case(_metadata, 1, 1);
}

static void __attribute__((constructor)) size_for_lane(void)
{
	if (getenv("RAMCRYPT_DEBUG_LANE")) {
		REGION /= 4;
		OPS /= 4;
	}
	NPAGES = REGION / PAGE;
}

TEST_HARNESS_MAIN
