/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the guest selftests: the
 * ramcrypt ioctls, a page pattern that can be written, checked and searched for in
 * physical memory, and reading and writing small sysfs/procfs files.
 */
#ifndef RAMCRYPT_SELFTEST_H
#define RAMCRYPT_SELFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <linux/ramcrypt.h>

#define PAGE		4096UL
#define MAGIC		0x52414d4352595054ULL	/* "RAMCRYPT" */

/* npages of private anonymous memory, not yet touched; NULL on failure. */
static inline uint64_t *map_pages(size_t npages)
{
	void *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline int rc_fd(void)
{
	return open(RAMCRYPT_DEVICE, O_RDWR | O_CLOEXEC);
}

static inline int protect(int fd, pid_t pid, uint64_t flags, uint64_t window)
{
	struct ramcrypt_protect p = { .pid = pid, .flags = flags, .window = window };

	return ioctl(fd, RAMCRYPT_IOC_PROTECT, &p) ? -errno : 0;
}

static inline int proc_stats(int fd, pid_t pid, struct ramcrypt_proc_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->pid = pid;
	return ioctl(fd, RAMCRYPT_IOC_PROC_STATS, st) ? -errno : 0;
}

static inline int get_status(int fd, struct ramcrypt_status *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, RAMCRYPT_IOC_STATUS, st) ? -errno : 0;
}

/* Word w of page i: the first two words are the searchable marker. */
static inline uint64_t pattern(uint64_t seed, size_t i, size_t w)
{
	if (w == 0)
		return MAGIC ^ seed;
	if (w == 1)
		return i;
	return (seed * 0x9e3779b97f4a7c15ULL) ^ (i << 20) ^ w;
}

static inline void fill(volatile uint64_t *buf, size_t npages, uint64_t seed)
{
	size_t i, w;

	for (i = 0; i < npages; i++)
		for (w = 0; w < PAGE / 8; w++)
			buf[i * PAGE / 8 + w] = pattern(seed, i, w);
}

/* Number of words that differ. */
static inline long check(volatile uint64_t *buf, size_t npages, uint64_t seed)
{
	size_t i, w;
	long bad = 0;

	for (i = 0; i < npages; i++)
		for (w = 0; w < PAGE / 8; w++)
			bad += buf[i * PAGE / 8 + w] != pattern(seed, i, w);
	return bad;
}

/* Write all of s to path: 0 or -errno (a short write is -EIO). */
static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

/* The file's first line, without the newline. */
static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static inline long long read_ll(const char *path)
{
	char buf[64];

	return read_file(path, buf, sizeof(buf)) ? -1 : atoll(buf);
}

static inline long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* Untouched anonymous memory, no THP: for tests that count 4 KiB pages. */
static inline uint64_t *map_small_pages(size_t npages)
{
	void *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, npages * PAGE, MADV_NOHUGEPAGE);
	return p;
}

/*
 * In a TEST_F body: return if the fixture's setup skipped. The 6.1 harness runs
 * the body after a SKIP in the setup; 6.12's does not. Which harness it is shows
 * only once it is included.
 */
#ifdef __KSELFTEST_HARNESS_H
#ifdef KSELFTEST_PRIO_TEST
#define SETUP_SKIPPED()	do { } while (0)
#else
#define SETUP_SKIPPED()	do { if (_metadata->skip) return; } while (0)
#endif
#endif

#endif
