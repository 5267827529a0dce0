// SPDX-License-Identifier: GPL-2.0
/*
 * The page engine at its limits: pages that become present without a fault of the
 * protected process (read(2), O_DIRECT, /proc/PID/mem, process_vm_*) are encrypted
 * within a few scanner periods; pinned pages stay intact and are encrypted once
 * released; the ciphertext cap degrades gracefully; a memcg OOM kill leaves
 * nothing behind and encrypted pages stay charged to their memcg.
 *
 * Each test runs a protected target process that the (unprotected) test drives
 * over pipes, and judges it from outside with RAMCRYPT_IOC_PROC_STATS. Sysctls,
 * printk levels, cgroups and zram are put back by a restorer process that acts when
 * the test process goes away, however it ends. Runs as root in the test guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/ramcrypt.h>

#include "kselftest_harness.h"
#include "ramcrypt_test.h"

#define W		RAMCRYPT_MIN_WINDOW
#define SCAN_MS		100
/* "Bounded time": a few scanner periods, with slack for a loaded TCG host. */
#define BOUND_MS	(20 * SCAN_MS)
#define SYS		"/proc/sys/ramcrypt/"
/* snprintf for paths: -ENAMETOOLONG rather than a cut-off path. */
static int __attribute__((format(printf, 3, 4)))
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* "key value" lines (memory.events): value of key, or -1. */
static long long read_key(const char *path, const char *key)
{
	char line[128], k[64];
	long long v, ret = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", k, &v) == 2 && !strcmp(k, key))
			ret = v;
	fclose(f);
	return ret;
}

/*
 * What the restorer puts back. Shared memory: the test fills it in as it changes
 * things, the restorer (a child in its own session, so the harness's timeout kill
 * of our process group spares it) reads it when our end of its pipe closes.
 */
struct restore {
	char interval[32];	/* scan_interval_ms */
	char cap[32];		/* ciphertext_cap_pages */
	char printk[64];	/* /proc/sys/kernel/printk, "" = untouched */
	char cgroup[256];	/* a cgroup of ours: killed and removed */
	char subtree[256];	/* cgroup.subtree_control we added +memory to */
	char mnt[256];		/* cgroup2 mount of ours: unmounted and removed */
	int zram;		/* zram0 set up by us: reset */
};

static void restore_all(struct restore *r)
{
	char path[512];
	int i;

	if (r->printk[0])
		write_file("/proc/sys/kernel/printk", r->printk);
	write_file(SYS "ciphertext_cap_pages", r->cap);
	write_file(SYS "scan_interval_ms", r->interval);
	if (r->cgroup[0]) {
		if (!pathf(path, sizeof(path), "%s/cgroup.kill", r->cgroup))
			write_file(path, "1");
		/* A killed task leaves its cgroup a moment after it is reaped. */
		for (i = 0; i < 100 && rmdir(r->cgroup) && errno == EBUSY; i++)
			usleep(50 * 1000);
	}
	if (r->subtree[0])
		write_file(r->subtree, "-memory");
	if (r->mnt[0]) {
		umount2(r->mnt, MNT_DETACH);
		rmdir(r->mnt);
	}
	if (r->zram)
		for (i = 0; i < 100 && write_file("/sys/block/zram0/reset", "1"); i++)
			usleep(50 * 1000);
}

/*
 * The values from before any test, read once in main(): a test killed midway may
 * leave its own values behind for a moment, which the next test must not take for
 * the originals.
 */
static char orig_interval[32], orig_cap[32], orig_printk[64];

#define MAX_KIDS 4

struct env {
	int fd;
	int guard;		/* write end of the restorer's pipe */
	pid_t restorer;
	struct restore *r;
	pid_t kids[MAX_KIDS];	/* killed by the teardown if still there */
};

static int env_setup(struct env *e)
{
	char interval[16];
	int p[2];

	e->guard = -1;
	e->fd = rc_fd();
	if (e->fd < 0)
		return -errno;
	e->r = mmap(NULL, sizeof(*e->r), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (e->r == MAP_FAILED)
		return -errno;
	if (!orig_interval[0] || !orig_cap[0])
		return -ENOENT;
	strcpy(e->r->interval, orig_interval);
	strcpy(e->r->cap, orig_cap);
	if (pipe(p))
		return -errno;
	e->restorer = fork();
	if (e->restorer < 0)
		return -errno;
	if (e->restorer == 0) {
		char c;

		setsid();
		close(p[1]);
		while (read(p[0], &c, 1) > 0)
			;
		restore_all(e->r);
		_exit(0);
	}
	close(p[0]);
	e->guard = p[1];
	snprintf(interval, sizeof(interval), "%d", SCAN_MS);
	return write_file(SYS "scan_interval_ms", interval);
}

static void env_teardown(struct env *e)
{
	int i;

	for (i = 0; i < MAX_KIDS; i++)
		if (e->kids[i] > 0) {
			kill(e->kids[i], SIGKILL);
			waitpid(e->kids[i], NULL, 0);
		}
	if (e->guard >= 0) {
		close(e->guard);
		waitpid(e->restorer, NULL, 0);
	}
	if (e->fd >= 0)
		close(e->fd);
}

/* fork() for a child of a test: it must not keep the restorer waiting. */
static pid_t fork_kid(struct env *e)
{
	pid_t pid = fork();
	int i;

	if (pid == 0) {
		close(e->guard);
		return 0;
	}
	for (i = 0; pid > 0 && i < MAX_KIDS; i++)
		if (e->kids[i] <= 0) {
			e->kids[i] = pid;
			break;
		}
	return pid;
}

static int reap(struct env *e, pid_t pid, int *status)
{
	int i, ret = waitpid(pid, status, 0);

	for (i = 0; i < MAX_KIDS; i++)
		if (e->kids[i] == pid)
			e->kids[i] = 0;
	return ret;
}

/* ---- the target: a protected process we drive over pipes ---- */

enum { T_FILL = 1, T_CHECK, T_READ, T_PREAD, T_VMSPLICE };

struct tcmd {
	uint64_t op, arg;
};

struct target {
	pid_t pid;
	int cmd, rep;
	uint64_t *buf;		/* its buffer (the address is the same in both) */
	size_t npages;
};

static int64_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return n < 0 ? -errno : (int64_t)done;
		done += n;
	}
	return done;
}

static int64_t target_op(uint64_t *buf, size_t npages, struct tcmd *c)
{
	struct iovec iov = { buf, npages * PAGE };
	ssize_t n;

	switch (c->op) {
	case T_FILL:
		fill(buf, npages, c->arg);
		return 0;
	case T_CHECK:
		return check(buf, npages, c->arg);
	case T_READ:
		return read_full(c->arg, buf, npages * PAGE);
	case T_PREAD:
		n = pread(c->arg, buf, npages * PAGE, 0);
		return n < 0 ? -errno : n;
	case T_VMSPLICE:
		n = vmsplice(c->arg, &iov, 1, 0);
		return n < 0 ? -errno : n;
	}
	return -EINVAL;
}

static void target_main(int cmd, int rep, uint64_t *buf, size_t npages)
{
	int fd = rc_fd();
	struct tcmd c;
	int64_t r;

	r = fd < 0 ? -errno : protect(fd, 0, 0, W);
	if (write(rep, &r, sizeof(r)) != sizeof(r) || r)
		_exit(1);
	/* The buffer is not touched unless a command says so. */
	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		r = target_op(buf, npages, &c);
		if (write(rep, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

/* Fork a protected target with a fresh npages buffer: 0 or -errno. */
static int target_start(struct env *e, struct target *t, size_t npages)
{
	int cmd[2], rep[2];
	int64_t r;

	t->npages = npages;
	t->buf = map_small_pages(npages);
	if (!t->buf || pipe(cmd) || pipe(rep))
		return -errno;
	t->pid = fork_kid(e);
	if (t->pid < 0)
		return -errno;
	if (t->pid == 0) {
		close(cmd[1]);
		close(rep[0]);
		target_main(cmd[0], rep[1], t->buf, npages);
	}
	close(cmd[0]);
	close(rep[1]);
	t->cmd = cmd[1];
	t->rep = rep[0];
	if (read(t->rep, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	return r;
}

static int64_t target_do(struct target *t, uint64_t op, uint64_t arg)
{
	struct tcmd c = { op, arg };
	int64_t r;

	if (write(t->cmd, &c, sizeof(c)) != sizeof(c) ||
	    read(t->rep, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	return r;
}

/* Let the target exit; its exit status (0: clean). */
static int target_stop(struct env *e, struct target *t)
{
	int status = -1;

	close(t->cmd);
	close(t->rep);
	if (reap(e, t->pid, &status) != t->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * Poll pid until at most `window` of its pages are plaintext: the milliseconds
 * that took, or -1 at BOUND_MS.
 */
static long wait_bound(int fd, pid_t pid, struct ramcrypt_proc_stats *st)
{
	long start = now_ms();

	for (;;) {
		if (proc_stats(fd, pid, st))
			return -1;
		if (st->window_pages <= st->window)
			return now_ms() - start;
		if (now_ms() - start > BOUND_MS)
			return -1;
		usleep(10 * 1000);
	}
}

/* Wait for n more scanner passes (false at the deadline). */
static bool wait_passes(int fd, unsigned int n)
{
	struct ramcrypt_status st;
	uint64_t first;
	long start = now_ms();

	if (get_status(fd, &st))
		return false;
	first = st.scanner_passes;
	while (now_ms() - start < BOUND_MS * (long)n) {
		usleep(20 * 1000);
		if (get_status(fd, &st))
			return false;
		if (st.scanner_passes >= first + n)
			return true;
	}
	return false;
}

#define LOG_ST(what, st)						\
	TH_LOG("%s: plaintext %llu encrypted %llu enc %llu dec %llu scan %llu pinned %llu degraded %llu", \
	       what, (st).window_pages, (st).encrypted_pages, (st).encryptions,	\
	       (st).decryptions, (st).scanner_pages, (st).skipped_pinned,	\
	       (st).degraded_events)

FIXTURE(limits) {
	struct env e;
	struct target t;
};

FIXTURE_SETUP(limits)
{
	int ret = env_setup(&self->e);

	if (self->e.fd < 0)
		SKIP(return, "%s: %s (ramcrypt.ko not loaded?)", RAMCRYPT_DEVICE,
		     strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("setup: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(limits)
{
	env_teardown(&self->e);
}

/* Time limits only catch hangs (TCG, KASAN in the debug lane). */

#define NP 64

/*
 * read(2) from a pipe into a fresh buffer: copy_to_user makes the pages present.
 * Those are kernel-mode faults, which page_fault_kernel records, so the bound is
 * usually back on the way out of read(); the scanner is the backstop.
 */
TEST_F_TIMEOUT(limits, read_pipe, 300)
{
	struct ramcrypt_proc_stats st0, st;
	uint64_t *src = map_small_pages(NP);
	int p[2];
	long ms;

	SETUP_SKIPPED();
	ASSERT_NE(NULL, src);
	ASSERT_EQ(0, pipe(p));
	ASSERT_LE((int)(NP * PAGE), fcntl(p[1], F_SETPIPE_SZ, NP * PAGE));
	ASSERT_EQ(0, target_start(&self->e, &self->t, NP));
	fill(src, NP, 21);
	ASSERT_EQ((ssize_t)(NP * PAGE), write(p[1], src, NP * PAGE));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st0));

	ASSERT_EQ((int64_t)(NP * PAGE), target_do(&self->t, T_READ, p[0]));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st));
	LOG_ST("right after read", st);
	ms = wait_bound(self->e.fd, self->t.pid, &st);
	LOG_ST("bound", st);
	TH_LOG("bound back after %ld ms", ms);
	ASSERT_LE(0, ms);
	EXPECT_GE(st.encrypted_pages, NP - W);
	EXPECT_GE(st.encryptions - st0.encryptions, NP - W);
	EXPECT_EQ(0, target_do(&self->t, T_CHECK, 21));
	EXPECT_EQ(0, target_stop(&self->e, &self->t));
}

/*
 * O_DIRECT read(2) from a block device (zram0) into a fresh buffer: the pages are
 * made present by GUP (bio_iov_iter_get_pages) and written by the driver, with no
 * fault at all. Only the scanner can find them.
 */
TEST_F_TIMEOUT(limits, read_direct, 300)
{
	struct ramcrypt_proc_stats st0, st;
	uint64_t *src = map_small_pages(NP);
	char size[32];
	long ms;
	int fd;

	SETUP_SKIPPED();
	ASSERT_NE(NULL, src);
	if (read_file("/sys/block/zram0/disksize", size, sizeof(size)))
		SKIP(return, "no /dev/zram0 (CONFIG_ZRAM)");
	if (strcmp(size, "0"))
		SKIP(return, "zram0 is in use (disksize %s)", size);
	self->e.r->zram = 1;
	ASSERT_EQ(0, write_file("/sys/block/zram0/disksize", "4M"));
	fd = open("/dev/zram0", O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, target_start(&self->e, &self->t, NP));
	fill(src, NP, 22);
	ASSERT_EQ((ssize_t)(NP * PAGE), pwrite(fd, src, NP * PAGE, 0));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st0));
	ASSERT_EQ((int64_t)(NP * PAGE), target_do(&self->t, T_PREAD, fd));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st));
	LOG_ST("right after read", st);
	ms = wait_bound(self->e.fd, self->t.pid, &st);
	LOG_ST("bound", st);
	TH_LOG("bound back after %ld ms", ms);
	ASSERT_LE(0, ms);
	/* Nothing but the scanner encrypts pages nobody faulted on. */
	EXPECT_GE(st.scanner_pages - st0.scanner_pages, NP - W);
	EXPECT_GE(st.encrypted_pages, NP - W);
	EXPECT_EQ(0, target_do(&self->t, T_CHECK, 22));
	EXPECT_EQ(0, target_stop(&self->e, &self->t));
	close(fd);
}

#define NPIN 32

/*
 * Pinned pages: vmsplice(2) without SPLICE_F_GIFT leaves the pipe holding a page
 * reference on each page, so migrate_vma cannot move them. They must stay
 * plaintext and intact (the pipe still reads the pattern: a page wiped under the
 * pipe's reference would read as zeros), stay in the stats, and be encrypted by the
 * scanner once the pipe lets go. *counted: skipped_pinned growth while pinned
 * (process, global), and the growth of the other causes (shared, swap cache).
 */
static void pinned_scenario(struct __test_metadata *_metadata, FIXTURE_DATA(limits) *self,
			    uint64_t counted[3])
{
	struct ramcrypt_proc_stats st0, st;
	struct ramcrypt_status gs0, gs;
	uint64_t *out = map_small_pages(NPIN);
	int p[2];
	long ms;

	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, pipe(p));
	ASSERT_LE((int)(NPIN * PAGE), fcntl(p[1], F_SETPIPE_SZ, NPIN * PAGE));
	ASSERT_EQ(0, target_start(&self->e, &self->t, NPIN));
	ASSERT_EQ(0, target_do(&self->t, T_FILL, 23));
	ASSERT_LE(0, wait_bound(self->e.fd, self->t.pid, &st));

	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st0));
	ASSERT_EQ(0, get_status(self->e.fd, &gs0));
	/* GUP decrypts the pages for the pipe: present, plaintext, outside the window. */
	ASSERT_EQ((int64_t)(NPIN * PAGE), target_do(&self->t, T_VMSPLICE, p[1]));
	ASSERT_TRUE(wait_passes(self->e.fd, 3));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st));
	ASSERT_EQ(0, get_status(self->e.fd, &gs));
	LOG_ST("pinned", st);
	/* Not encrypted under the pipe's feet, and not dropped from the stats. */
	EXPECT_GE(st.window_pages, NPIN);
	EXPECT_GE(st.decryptions - st0.decryptions, NPIN - W);
	counted[0] = st.skipped_pinned - st0.skipped_pinned;
	counted[1] = gs.skipped_pinned - gs0.skipped_pinned;
	counted[2] = st.skipped_shared + st.skipped_swapcache - st0.skipped_shared - st0.skipped_swapcache;

	ASSERT_EQ((int64_t)(NPIN * PAGE), read_full(p[0], out, NPIN * PAGE));
	EXPECT_EQ(0, check(out, NPIN, 23));
	close(p[0]);
	close(p[1]);
	ms = wait_bound(self->e.fd, self->t.pid, &st);
	LOG_ST("released", st);
	TH_LOG("bound back %ld ms after the pipe let go", ms);
	ASSERT_LE(0, ms);
	EXPECT_GE(st.scanner_pages - st0.scanner_pages, NPIN - W);
	EXPECT_EQ(0, target_do(&self->t, T_CHECK, 23));
	EXPECT_EQ(0, target_stop(&self->e, &self->t));
}

TEST_F_TIMEOUT(limits, pinned_vmsplice, 300)
{
	uint64_t counted[3];

	SETUP_SKIPPED();
	pinned_scenario(_metadata, self, counted);
}

/*
 * The pinned pages above are counted in skipped_pinned, and under no other cause
 * (docs/PAGE_ENGINE.md), by
 * every scanner pass that meets them (6.1's migrate_vma_setup() drops such pages
 * from src[] silently; rc_pages_encrypt() counts the present plaintext pages it
 * did not get).
 */
TEST_F_TIMEOUT(limits, pinned_counted, 300)
{
	uint64_t counted[3];

	SETUP_SKIPPED();
	pinned_scenario(_metadata, self, counted);
	EXPECT_GE(counted[0], NPIN - W);
	EXPECT_GE(counted[1], NPIN - W);
	EXPECT_EQ(0, counted[2]) TH_LOG("pinned pages counted under another cause");
}

#define NCAP	128
#define CAP	32

/*
 * ciphertext_cap_pages reached: the pages beyond it stay plaintext, the data stays
 * intact, degraded events are counted (process and global) and the process reports
 * RAMCRYPT_PROC_DEGRADED (what `ramcrypt ps` shows). Raising the cap lets the
 * scanner encrypt them.
 */
TEST_F_TIMEOUT(limits, ciphertext_cap, 300)
{
	struct ramcrypt_proc_stats st0, st;
	struct ramcrypt_status gs0, gs;
	char cap[32];
	long ms;

	SETUP_SKIPPED();
	ASSERT_EQ(0, target_start(&self->e, &self->t, NCAP));
	ASSERT_LE(0, wait_bound(self->e.fd, self->t.pid, &st0));
	ASSERT_EQ(0, get_status(self->e.fd, &gs0));
	/* CAP more than what is in use now (the sysctl takes 0..totalram pages). */
	snprintf(cap, sizeof(cap), "%llu", gs0.encrypted_pages + CAP);
	ASSERT_EQ(0, write_file(SYS "ciphertext_cap_pages", cap));
	ASSERT_EQ(-EINVAL, write_file(SYS "ciphertext_cap_pages", "99999999999"));

	ASSERT_EQ(0, target_do(&self->t, T_FILL, 24));
	/*
	 * The global figure first: it is measured too, not the windows' bookkeeping
	 * (<= window), and while the target sits idle its plaintext can only shrink
	 * (a page the scanner gets under the cap after all), never grow.
	 */
	ASSERT_EQ(0, get_status(self->e.fd, &gs));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st));
	LOG_ST("at the cap", st);
	EXPECT_LE(gs.encrypted_pages, gs0.encrypted_pages + CAP);
	EXPECT_GE(st.window_pages, NCAP - CAP);
	EXPECT_GE(gs.window_pages, st.window_pages);
	EXPECT_GT(st.degraded_events, st0.degraded_events);
	EXPECT_TRUE(st.state & RAMCRYPT_PROC_DEGRADED);
	EXPECT_GT(gs.degraded_events, gs0.degraded_events);
	EXPECT_TRUE(gs.degraded & RAMCRYPT_DEGRADED_NOMEM);
	EXPECT_EQ(0, target_do(&self->t, T_CHECK, 24));

	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st0));
	ASSERT_EQ(0, write_file(SYS "ciphertext_cap_pages", self->e.r->cap));
	ms = wait_bound(self->e.fd, self->t.pid, &st);
	LOG_ST("cap raised", st);
	TH_LOG("bound back %ld ms after the cap was raised", ms);
	ASSERT_LE(0, ms);
	EXPECT_GE(st.encrypted_pages, NCAP - W);
	EXPECT_GE(st.scanner_pages - st0.scanner_pages, NCAP - CAP - W);
	EXPECT_EQ(0, target_do(&self->t, T_CHECK, 24));
	EXPECT_EQ(0, target_stop(&self->e, &self->t));
}

/*
 * A memory cgroup of our own on a cgroup2 mount (ours if none is mounted), with
 * the memory controller; path in cg. Everything is undone by the restorer.
 * 0, or -ENOTSUP when the kernel has no memory controller.
 */
static int make_cgroup(struct env *e, const char *name, char *cg, size_t len)
{
	char line[512], mnt[200] = "", path[256], buf[256];
	FILE *f = fopen("/proc/mounts", "r");
	int ret;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char dev[64], dir[200], type[64];

		if (sscanf(line, "%63s %199s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			if (pathf(mnt, sizeof(mnt), "%s", dir))
				mnt[0] = 0;
			break;
		}
	}
	fclose(f);
	if (!mnt[0]) {
		strcpy(mnt, "/tmp/rc-cgroup.XXXXXX");
		if (!mkdtemp(mnt))
			return -errno;
		if (mount("cgroup2", mnt, "cgroup2", 0, NULL)) {
			int err = -errno;

			rmdir(mnt);
			return err;
		}
		strcpy(e->r->mnt, mnt);
	}
	if (pathf(path, sizeof(path), "%s/cgroup.controllers", mnt) ||
	    read_file(path, buf, sizeof(buf)) || !strstr(buf, "memory"))
		return -ENOTSUP;
	if (pathf(path, sizeof(path), "%s/cgroup.subtree_control", mnt) ||
	    read_file(path, buf, sizeof(buf)))
		return -EINVAL;
	if (!strstr(buf, "memory")) {
		ret = write_file(path, "+memory");
		if (ret || pathf(e->r->subtree, sizeof(e->r->subtree), "%s", path))
			return ret ?: -ENAMETOOLONG;
	}
	if (pathf(cg, len, "%s/ramcrypt-%s-%d", mnt, name, getpid()) ||
	    pathf(e->r->cgroup, sizeof(e->r->cgroup), "%s", cg))
		return -ENAMETOOLONG;
	if (mkdir(cg, 0755)) {
		e->r->cgroup[0] = 0;
		return -errno;
	}
	return 0;
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[512];

	return pathf(path, sizeof(path), "%s/%s", cg, file) ?: write_file(path, val);
}

static long long cg_read(const char *cg, const char *file)
{
	char path[512];

	return pathf(path, sizeof(path), "%s/%s", cg, file) ? -1 : read_ll(path);
}

/* Fork a child into cg that protects itself and writes npages: its pid. */
static pid_t memcg_child(struct env *e, const char *cg, size_t npages, int *go_fd, int ready)
{
	int go[2];
	char pid_s[32];
	pid_t pid;

	if (pipe(go))
		return -1;
	pid = fork_kid(e);
	if (pid == 0) {
		uint64_t *buf = map_small_pages(npages);
		int fd = rc_fd();
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1 || !buf || fd < 0 || protect(fd, 0, 0, W))
			_exit(1);
		fill(buf, npages, 25);
		if (check(buf, npages, 25))
			_exit(2);
		/* Then wait to be told to go (if there is someone to tell us). */
		if (ready >= 0 && (write(ready, "r", 1) != 1 || read(go[0], &c, 1) != 1))
			_exit(3);
		_exit(0);
	}
	close(go[0]);
	snprintf(pid_s, sizeof(pid_s), "%d", pid);
	if (pid < 0 || cg_write(cg, "cgroup.procs", pid_s) || write(go[1], "g", 1) != 1) {
		close(go[1]);
		return -1;
	}
	*go_fd = go[1];
	return pid;
}

/*
 * The OOM killer prints a stack dump ("Call Trace:", at the default message level)
 * that scripts/guest-run rightly takes for a kernel problem. For this test,
 * default-level messages get the console's level, which keeps them off the console;
 * warnings, errors and the OOM report itself still reach it.
 */
static int quiet_default_level(struct env *e)
{
	int con, def, min, defcon;
	char buf[64];

	if (sscanf(orig_printk, "%d %d %d %d", &con, &def, &min, &defcon) != 4)
		return -EINVAL;
	snprintf(e->r->printk, sizeof(e->r->printk), "%d %d %d %d", con, def, min, defcon);
	snprintf(buf, sizeof(buf), "%d %d %d %d", con, con, min, defcon);
	return write_file("/proc/sys/kernel/printk", buf);
}

/*
 * ciphertext_cap_pages_per_user: without it, one user's big process takes the whole
 * global cap and another user's process, protected after it, stays plaintext; with
 * it, the first stops at its user's cap (its pages stay plaintext, counted as
 * degraded, data intact) and the second is encrypted in full. Both in one run.
 */
#define UCAP 64
#define UPAGES_A 256
#define UPAGES_B 48
static int user_holder(int fd, uid_t uid, size_t npages, uint64_t seed, int ready, int go)
{
	uint64_t *buf = map_small_pages(npages);
	char c;

	if (!buf || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return 1;
	fill(buf, npages, seed);
	if (protect(fd, 0, 0, W))
		return 2;
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		return 3;
	return check(buf, npages, seed) ? 4 : 0;
}

TEST_F_TIMEOUT(limits, ciphertext_cap_per_user, 300)
{
	const char *capf = SYS "ciphertext_cap_pages_per_user";
	struct ramcrypt_proc_stats a[2], b[2];
	struct ramcrypt_status gs;
	char cap0[32], ucap0[32], cap[32], c;
	int status;

	SETUP_SKIPPED();
	ASSERT_EQ(0, read_file(capf, ucap0, sizeof(ucap0)));
	ASSERT_EQ(0, read_file(SYS "ciphertext_cap_pages", cap0, sizeof(cap0)));
	ASSERT_EQ(-EINVAL, write_file(capf, "99999999999"));
	for (int per_user = 0; per_user < 2; per_user++) {
		int ready[2], go[2];
		pid_t pa, pb;

		ASSERT_EQ(0, get_status(self->e.fd, &gs));
		snprintf(cap, sizeof(cap), "%llu", (unsigned long long)gs.encrypted_pages + 2 * UCAP);
		ASSERT_EQ(0, write_file(SYS "ciphertext_cap_pages", cap));
		ASSERT_EQ(0, write_file(capf, per_user ? "64" : "0"));
		ASSERT_EQ(0, pipe(ready));
		ASSERT_EQ(0, pipe(go));
		pa = fork();
		ASSERT_LE(0, pa);
		if (pa == 0)
			_exit(user_holder(self->e.fd, 4001, UPAGES_A, 90, ready[1], go[0]));
		ASSERT_EQ(1, read(ready[0], &c, 1));
		pb = fork();
		ASSERT_LE(0, pb);
		if (pb == 0)
			_exit(user_holder(self->e.fd, 4002, UPAGES_B, 91, ready[1], go[0]));
		ASSERT_EQ(1, read(ready[0], &c, 1));
		ASSERT_EQ(0, proc_stats(self->e.fd, pa, &a[per_user]));
		ASSERT_EQ(0, proc_stats(self->e.fd, pb, &b[per_user]));
		TH_LOG("global cap %s, per user %s: uid 4001 %llu encrypted of %d; uid 4002 %llu of %d",
		       cap, per_user ? "64" : "off", a[per_user].encrypted_pages, UPAGES_A,
		       b[per_user].encrypted_pages, UPAGES_B);
		ASSERT_EQ(0, write_file(SYS "ciphertext_cap_pages", cap0));
		ASSERT_EQ(1, write(go[1], "g", 1));
		ASSERT_EQ(1, write(go[1], "g", 1));
		ASSERT_EQ(pa, waitpid(pa, &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status));
		ASSERT_EQ(pb, waitpid(pb, &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status));
		close(ready[0]); close(ready[1]); close(go[0]); close(go[1]);
	}
	ASSERT_EQ(0, write_file(capf, ucap0));
	/* Off: the first user took what there was, the second got (next to) nothing. */
	EXPECT_LT(b[0].encrypted_pages, UPAGES_B / 2);
	EXPECT_TRUE(b[0].state & RAMCRYPT_PROC_DEGRADED);
	/* On: the first stopped at its cap, the second is whole. */
	EXPECT_LE(a[1].encrypted_pages, UCAP);
	EXPECT_TRUE(a[1].state & RAMCRYPT_PROC_DEGRADED);
	EXPECT_GE(b[1].encrypted_pages, UPAGES_B - W);
}

/*
 * A protected process that outgrows its memcg (24 MiB, no swap) writing 64 MiB is
 * killed by the OOM killer, and the module's global state is back where it was:
 * no protected process and no ciphertext page left over.
 */
TEST_F_TIMEOUT(limits, oom_kill, 300)
{
	struct ramcrypt_status before, st;
	char cg[256], path[512];
	int status, go = -1, ret;
	long start;
	pid_t pid;

	SETUP_SKIPPED();
	ret = make_cgroup(&self->e, "oom", cg, sizeof(cg));
	if (ret == -ENOTSUP)
		SKIP(return, "no memory controller in cgroup2 (CONFIG_MEMCG)");
	ASSERT_EQ(0, ret) TH_LOG("cgroup: %s", strerror(-ret));
	ASSERT_EQ(0, cg_write(cg, "memory.max", "24M"));
	ASSERT_EQ(0, pathf(path, sizeof(path), "%s/memory.swap.max", cg));
	if (!access(path, F_OK))
		ASSERT_EQ(0, write_file(path, "0"));
	ASSERT_EQ(0, quiet_default_level(&self->e));
	ASSERT_EQ(0, get_status(self->e.fd, &before));

	pid = memcg_child(&self->e, cg, 64 << 20 >> 12, &go, -1);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, reap(&self->e, pid, &status));
	close(go);
	ASSERT_TRUE(WIFSIGNALED(status)) TH_LOG("child exited with %d", WEXITSTATUS(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
	ASSERT_EQ(0, pathf(path, sizeof(path), "%s/memory.events", cg));
	EXPECT_LE(1, read_key(path, "oom_kill"));

	/* The mm goes after its last user; its state after an SRCU grace period. */
	start = now_ms();
	do {
		usleep(50 * 1000);
		ASSERT_EQ(0, get_status(self->e.fd, &st));
	} while ((st.protected_procs != before.protected_procs ||
		  st.encrypted_pages != before.encrypted_pages) && now_ms() - start < 10000);
	TH_LOG("before: %llu processes %llu ciphertext pages; after: %llu, %llu",
	       before.protected_procs, before.encrypted_pages, st.protected_procs,
	       st.encrypted_pages);
	EXPECT_EQ(before.protected_procs, st.protected_procs);
	EXPECT_EQ(before.encrypted_pages, st.encrypted_pages);
	/* And the memcg got its charges back. */
	EXPECT_GT(1LL << 20, cg_read(cg, "memory.current"));

	/*
	 * The OOM report's register dump leaves the key alone (the keystore's
	 * __show_regs guard changes the dump, not the registers: docs/KEYSTORE.md):
	 * every CPU holds it, nothing was healed, nothing marked.
	 */
	ASSERT_EQ(0, get_status(self->e.fd, &st));
	EXPECT_EQ(st.cpus_online, st.cpus_with_key);
	EXPECT_EQ(before.key_heals, st.key_heals);
	EXPECT_EQ(before.degraded & RAMCRYPT_DEGRADED_KEY_HEALED,
		  st.degraded & RAMCRYPT_DEGRADED_KEY_HEALED);
}

/*
 * Encrypted pages stay charged to the memcg of their process (migrate_vma moves
 * the charge to the device page, and the ciphertext page is not charged a second
 * time), and the charge goes when the process exits.
 */
TEST_F_TIMEOUT(limits, memcg_charge, 300)
{
	const size_t npages = 16 << 20 >> 12;
	struct ramcrypt_proc_stats st;
	int status, go = -1, ready[2], ret;
	long long cur;
	char cg[256], c;
	pid_t pid;

	SETUP_SKIPPED();
	ret = make_cgroup(&self->e, "charge", cg, sizeof(cg));
	if (ret == -ENOTSUP)
		SKIP(return, "no memory controller in cgroup2 (CONFIG_MEMCG)");
	ASSERT_EQ(0, ret) TH_LOG("cgroup: %s", strerror(-ret));
	ASSERT_EQ(0, pipe(ready));
	pid = memcg_child(&self->e, cg, npages, &go, ready[1]);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_LE(0, wait_bound(self->e.fd, pid, &st));
	LOG_ST("written", st);
	EXPECT_GE(st.encrypted_pages, npages - W);
	cur = cg_read(cg, "memory.current");
	TH_LOG("memory.current %lld KiB for %zu KiB written", cur >> 10, npages * 4);
	EXPECT_LE((long long)(npages * PAGE), cur);
	/* Charged once, not once more for the ciphertext. */
	EXPECT_GT((long long)(npages * PAGE + (4 << 20)), cur);

	ASSERT_EQ(1, write(go, "g", 1));
	ASSERT_EQ(pid, reap(&self->e, pid, &status));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The last mmput() may come a moment later, from a scanner pass or a kick. */
	for (int tries = 0; tries < 100; tries++) {
		cur = cg_read(cg, "memory.current");
		if (cur < 1LL << 20)
			break;
		usleep(20 * 1000);
	}
	TH_LOG("after the exit: memory.current %lld KiB", cur >> 10);
	EXPECT_GT(1LL << 20, cur);
	close(go);
}

/*
 * Another process reads or writes the target's memory: /proc/PID/mem, or
 * process_vm_readv/writev. Both go through GUP in the target's mm, with no fault
 * of the target.
 */
FIXTURE(remote) {
	struct env e;
	struct target t;
	int mem;
};

FIXTURE_VARIANT(remote) {
	bool pvm;
};

FIXTURE_VARIANT_ADD(remote, proc_mem) {
	.pvm = false,
};

FIXTURE_VARIANT_ADD(remote, pvm) {
	.pvm = true,
};

FIXTURE_SETUP(remote)
{
	int ret = env_setup(&self->e);

	self->mem = -1;
	if (self->e.fd < 0)
		SKIP(return, "%s: %s (ramcrypt.ko not loaded?)", RAMCRYPT_DEVICE,
		     strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("setup: %s", strerror(-ret));
	if (variant->pvm && process_vm_readv(getpid(), NULL, 0, NULL, 0, 0) &&
	    errno == ENOSYS)
		SKIP(return, "process_vm_readv: ENOSYS (test kernel without CONFIG_CROSS_MEMORY_ATTACH)");
}

FIXTURE_TEARDOWN(remote)
{
	if (self->mem >= 0)
		close(self->mem);
	env_teardown(&self->e);
}

static ssize_t remote_io(FIXTURE_DATA(remote) *self, const FIXTURE_VARIANT(remote) *variant,
			 void *local, bool wr)
{
	struct iovec l = { local, self->t.npages * PAGE };
	struct iovec r = { self->t.buf, self->t.npages * PAGE };
	char path[64];

	if (variant->pvm)
		return wr ? process_vm_writev(self->t.pid, &l, 1, &r, 1, 0) :
			    process_vm_readv(self->t.pid, &l, 1, &r, 1, 0);
	if (self->mem < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", self->t.pid);
		self->mem = open(path, O_RDWR | O_CLOEXEC);
		if (self->mem < 0)
			return -1;
	}
	return wr ? pwrite(self->mem, local, l.iov_len, (off_t)self->t.buf) :
		    pread(self->mem, local, l.iov_len, (off_t)self->t.buf);
}

/* Written into the target's fresh buffer: present without a fault, so the scanner's. */
TEST_F_TIMEOUT(remote, write, 300)
{
	struct ramcrypt_proc_stats st0, st;
	uint64_t *src = map_small_pages(NP);
	long ms;

	SETUP_SKIPPED();
	ASSERT_NE(NULL, src);
	ASSERT_EQ(0, target_start(&self->e, &self->t, NP));
	fill(src, NP, 26);
	ASSERT_LE(0, wait_bound(self->e.fd, self->t.pid, &st0));
	ASSERT_EQ((ssize_t)(NP * PAGE), remote_io(self, variant, src, true))
		TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st));
	LOG_ST("right after the write", st);
	ms = wait_bound(self->e.fd, self->t.pid, &st);
	LOG_ST("bound", st);
	TH_LOG("bound back after %ld ms", ms);
	ASSERT_LE(0, ms);
	EXPECT_GE(st.scanner_pages - st0.scanner_pages, NP - W);
	EXPECT_GE(st.encrypted_pages, NP - W);
	EXPECT_EQ(0, target_do(&self->t, T_CHECK, 26));
	EXPECT_EQ(0, target_stop(&self->e, &self->t));
}

/*
 * Read from the target's encrypted buffer: the right data (GUP decrypts), and the
 * pages it decrypted are encrypted again by the scanner.
 */
TEST_F_TIMEOUT(remote, read, 300)
{
	struct ramcrypt_proc_stats st0, st;
	uint64_t *dst = map_small_pages(NP);
	long ms;

	SETUP_SKIPPED();
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, target_start(&self->e, &self->t, NP));
	ASSERT_EQ(0, target_do(&self->t, T_FILL, 27));
	ASSERT_LE(0, wait_bound(self->e.fd, self->t.pid, &st0));
	ASSERT_GE(st0.encrypted_pages, NP - W);

	ASSERT_EQ((ssize_t)(NP * PAGE), remote_io(self, variant, dst, false))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, check(dst, NP, 27));
	ASSERT_EQ(0, proc_stats(self->e.fd, self->t.pid, &st));
	LOG_ST("right after the read", st);
	EXPECT_GE(st.decryptions - st0.decryptions, NP - W);
	ms = wait_bound(self->e.fd, self->t.pid, &st);
	LOG_ST("bound", st);
	TH_LOG("bound back after %ld ms", ms);
	ASSERT_LE(0, ms);
	EXPECT_GE(st.scanner_pages - st0.scanner_pages, NP - W);
	EXPECT_GE(st.encrypted_pages, NP - W);
	EXPECT_EQ(0, target_do(&self->t, T_CHECK, 27));
	EXPECT_EQ(0, target_stop(&self->e, &self->t));
}

int main(int argc, char **argv)
{
	read_file(SYS "scan_interval_ms", orig_interval, sizeof(orig_interval));
	read_file(SYS "ciphertext_cap_pages", orig_cap, sizeof(orig_cap));
	read_file("/proc/sys/kernel/printk", orig_printk, sizeof(orig_printk));
	return test_harness_run(argc, argv);
}
