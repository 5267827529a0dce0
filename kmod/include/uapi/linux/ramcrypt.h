/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ramcrypt user API: the /dev/ramcrypt ioctls.
 *
 * Every structure has fixed-size __u64 fields only, so it has one layout on every
 * ABI. Bits and fields marked reserved must be zero (-EINVAL otherwise), which keeps
 * them free for later versions. RAMCRYPT_IOC_VERSION tells which version a module
 * speaks; a new field or command bumps RAMCRYPT_ABI_VERSION.
 */
#ifndef _UAPI_LINUX_RAMCRYPT_H
#define _UAPI_LINUX_RAMCRYPT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RAMCRYPT_DEVICE		"/dev/ramcrypt"
#define RAMCRYPT_ABI_VERSION	5	/* 2: SEAL, UNSEAL; 3: swap state, wiped_at_exit, init_on_free, DUMP_GUARD, PERF, INHERIT; 4: skipped pages by cause, secret tier, SECRET_REGION, per-process plain age; 5: the secret tier's own age */
#define RAMCRYPT_IOC_MAGIC	0xE7

/*
 * Smallest window the page engine accepts: the pages one x86 instruction can need
 * at once (code 2 + source 2 + destination 2, docs/PAGE_ENGINE.md).
 */
#define RAMCRYPT_MIN_WINDOW	6

/*
 * Smallest window of the secret tier (ABI 4), and its default: the data pages one
 * x86 instruction can touch at once (movs: source 2 + destination 2; push/pop
 * [mem]: operand 2 + stack 2; xsave of an AMX area: 4). Executable pages are never
 * in the secret tier, so its pages are data only (docs/PAGE_ENGINE.md).
 */
#define RAMCRYPT_MIN_SECRET_WINDOW	4

/* Largest max_plain_age_ms, as for the sysctl (one hour). */
#define RAMCRYPT_PLAIN_AGE_MAX_MS	3600000

struct ramcrypt_version {
	__u64 abi;		/* out: RAMCRYPT_ABI_VERSION of the module */
	__u64 module;		/* out: (major << 32) | (minor << 16) | patch */
};

/* ramcrypt_protect.flags */
#define RAMCRYPT_PROTECT_INHERIT_EXEC	(1ULL << 0)	/* keep protection across execve */
#define RAMCRYPT_PROTECT_PLAIN_AGE	(1ULL << 1)	/* max_plain_age_ms is the process's own (ABI 4) */
#define RAMCRYPT_PROTECT_SECRET_AGE	(1ULL << 2)	/* secret_plain_age_ms is the process's own (ABI 5) */
#define RAMCRYPT_PROTECT_FLAGS		(RAMCRYPT_PROTECT_INHERIT_EXEC | RAMCRYPT_PROTECT_PLAIN_AGE | \
					 RAMCRYPT_PROTECT_SECRET_AGE)

/*
 * Two tiers (ABI 4): pages in the process's secret regions (RAMCRYPT_IOC_SECRET_REGION)
 * have a window of their own, secret_window pages; every other page is in the
 * ordinary window of window pages. A page is in one of them only. A secret page is
 * also re-encrypted secret_plain_age_ms after it came in (ABI 5), a short time, so a
 * key used once per request is not left plaintext until the next one.
 */
struct ramcrypt_protect {
	__u64 pid;		/* in: target process, 0 = caller */
	__u64 flags;		/* in: RAMCRYPT_PROTECT_* */
	__u64 window;		/* in: ordinary window in pages, 0 = the sysctl default */
	__u64 secret_window;	/* in: secret window in pages, 0 = RAMCRYPT_MIN_SECRET_WINDOW */
	__u64 max_plain_age_ms;	/* in: with RAMCRYPT_PROTECT_PLAIN_AGE: idle expiry of both
				 * windows, 0 = none; without it 0, and the sysctl applies */
	__u64 secret_plain_age_ms; /* in: with RAMCRYPT_PROTECT_SECRET_AGE: expiry of the
				    * secret window, 0 = as the ordinary one; without it 0, and
				    * the sysctl secret_plain_age_ms applies (ABI 5) */
	__u64 reserved[2];
};

struct ramcrypt_pid {
	__u64 pid;		/* in: target process, 0 = caller */
	__u64 flags;		/* in: reserved, 0 */
};

struct ramcrypt_window {
	__u64 pid;		/* in: target process, 0 = caller */
	__u64 window;		/* in: new window in pages */
};

/* ramcrypt_proc_stats.state bits */
#define RAMCRYPT_PROC_INHERIT_EXEC	(1ULL << 0)
#define RAMCRYPT_PROC_DEGRADED		(1ULL << 1)	/* a page had to stay plaintext */
#define RAMCRYPT_PROC_SWAP		(1ULL << 2)	/* could swap since protect: plaintext may be on a swap device */

struct ramcrypt_proc_stats {
	__u64 pid;		/* in: process, 0 = caller */
	__u64 state;		/* out: RAMCRYPT_PROC_* */
	__u64 window;		/* out: window in pages */
	__u64 window_pages;	/* out: plaintext pages in the window now */
	__u64 encrypted_pages;	/* out: pages held as ciphertext now */
	__u64 faults;		/* out: user faults seen */
	__u64 encryptions;	/* out: pages encrypted so far */
	__u64 decryptions;	/* out: pages decrypted so far */
	__u64 scanner_pages;	/* out: pages the background scanner found */
	/* Plaintext pages an encryption had to leave outside the window, by cause: */
	__u64 skipped_pinned;	/* out: held by references (pins, pipes, DMA) or locked */
	__u64 degraded_events;	/* out: pages left plaintext for lack of memory */
	__u64 swapped_pages;	/* out: pages on a swap device now (ABI 3) */
	__u64 skipped_shared;	/* out: mapped by another process too, COW break failed (ABI 4) */
	__u64 skipped_swapcache;	/* out: still in the swap cache after a swap-in (ABI 4) */
	__u64 secret_window;	/* out: secret window in pages (ABI 4) */
	__u64 secret_window_pages; /* out: plaintext pages in secret regions now, measured;
				    * counted in window_pages too (ABI 4) */
	__u64 secret_regions;	/* out: secret regions marked (ABI 4) */
	__u64 max_plain_age_ms;	/* out: idle expiry in force, 0 = none (ABI 4) */
	__u64 secret_plain_age_ms; /* out: the secret window's expiry in force, 0 = none (ABI 5) */
	__u64 reserved[3];
};

struct ramcrypt_list {
	__u64 pids;		/* in: user pointer to a __u64 array */
	__u64 count;		/* in: array capacity; out: protected processes */
};

/* ramcrypt_status.key_source */
#define RAMCRYPT_KEY_NONE	0
#define RAMCRYPT_KEY_RANDOM	1	/* random per module load, never stored */
#define RAMCRYPT_KEY_PASSPHRASE	2	/* loaded with RAMCRYPT_IOC_KEY_LOAD */

/* ramcrypt_status.degraded bits */
#define RAMCRYPT_DEGRADED_KEY_LOST	(1ULL << 0)	/* no CPU holds the key any more */
#define RAMCRYPT_DEGRADED_KEY_HEALED	(1ULL << 1)	/* a clobbered CPU was restored */
#define RAMCRYPT_DEGRADED_NOMEM		(1ULL << 2)	/* pages left plaintext (memory) */
#define RAMCRYPT_DEGRADED_SLOTS		(1ULL << 3)	/* breakpoint slots not all reserved */
#define RAMCRYPT_DEGRADED_KVM		(1ULL << 4)	/* KVM present (allow_kvm=1): a VM can wipe the key */
#define RAMCRYPT_DEGRADED_SWAP		(1ULL << 5)	/* a protected process could swap (RAMCRYPT_PROC_SWAP) */
#define RAMCRYPT_DEGRADED_DUMP_GUARD	(1ULL << 6)	/* a register dump ran unguarded: DR0-DR3 may be in the log */
#define RAMCRYPT_DEGRADED_PERF		(1ULL << 7)	/* perf_event_paranoid < 2: users may sample the cipher's registers */
#define RAMCRYPT_DEGRADED_INHERIT	(1ULL << 8)	/* a child or exec'ed program was left unprotected */

struct ramcrypt_status {
	__u64 key_source;	/* out: RAMCRYPT_KEY_* */
	__u64 key_generation;	/* out: bumped at every key load */
	__u64 cpus_online;	/* out */
	__u64 cpus_with_key;	/* out: CPUs whose DR0-DR3 pass the key check */
	__u64 degraded;		/* out: RAMCRYPT_DEGRADED_* */
	__u64 protected_procs;	/* out */
	__u64 encrypted_pages;	/* out: all processes */
	__u64 window_pages;	/* out: plaintext pages of all protected processes, measured */
	__u64 encryptions;	/* out */
	__u64 decryptions;	/* out */
	__u64 scanner_passes;	/* out */
	__u64 skipped_pinned;	/* out */
	__u64 degraded_events;	/* out */
	__u64 key_heals;	/* out: CPUs restored from a healthy one */
	__u64 wiped_at_exit;	/* out: plaintext pages zeroed as their process exited (ABI 3) */
	__u64 init_on_free;	/* out: 1 if the kernel zeroes every freed page (ABI 3) */
	__u64 inherit_failures;	/* out: children or exec'ed programs left unprotected (ABI 3) */
	__u64 skipped_shared;	/* out (ABI 4) */
	__u64 skipped_swapcache;	/* out (ABI 4) */
	/* ABI 4 takes the last reserved field: STATUS keeps the size and number of ABI 3. */
	__u64 secret_window_pages; /* out: of window_pages, those in secret regions (ABI 4) */
};

#define RAMCRYPT_KEY_BYTES	32	/* AES-128-XTS: data key + tweak key */

struct ramcrypt_key {
	__u64 key;		/* in: user pointer to RAMCRYPT_KEY_BYTES bytes */
	__u64 len;		/* in: RAMCRYPT_KEY_BYTES */
	__u64 flags;		/* in: reserved, 0 */
};

/*
 * Sealed secrets (ABI 2; docs/SEALING.md). SEAL encrypts and authenticates a secret
 * of 1 to RAMCRYPT_SEAL_MAX bytes under a key derived inside the registers from the
 * ramcrypt key; the blob is RAMCRYPT_SEAL_BLOB_LEN(secret_len) bytes, opaque, and may
 * be stored anywhere. UNSEAL writes the secret into the caller's buffer, only for a
 * caller whose memory ramcrypt protects, and only into private memory of the caller.
 */
#define RAMCRYPT_SEAL_MAX		4096
#define RAMCRYPT_SEAL_OVERHEAD		48	/* header 32 + tag 16 */
#define RAMCRYPT_SEAL_BLOB_LEN(n)	(RAMCRYPT_SEAL_OVERHEAD + (((n) + 15) & ~15ULL))
#define RAMCRYPT_SEAL_BLOB_MAX		RAMCRYPT_SEAL_BLOB_LEN(RAMCRYPT_SEAL_MAX)

struct ramcrypt_seal {
	__u64 secret;		/* in: user pointer to the secret */
	__u64 secret_len;	/* in: 1 to RAMCRYPT_SEAL_MAX */
	__u64 blob;		/* in: user pointer to the blob buffer */
	__u64 blob_len;		/* in: its capacity; out: the blob's length */
	__u64 flags;		/* in: reserved, 0 */
	__u64 reserved[3];
};

struct ramcrypt_unseal {
	__u64 blob;		/* in: user pointer to a blob from RAMCRYPT_IOC_SEAL */
	__u64 blob_len;		/* in: its length */
	__u64 secret;		/* in: user pointer to the caller's buffer */
	__u64 secret_len;	/* in: its capacity; out: the secret's length */
	__u64 flags;		/* in: reserved, 0 */
	__u64 reserved[3];
};

/*
 * Mark [addr, addr + len) of the caller's memory secret (ABI 4): its pages go to the
 * secret tier. addr is page-aligned, len > 0 is rounded up to whole pages, the range
 * is mapped private memory ramcrypt encrypts. The caller must be protected. Marks are
 * address ranges: they stay after munmap (what is mapped there later is secret too)
 * and do not follow mremap; overlapping and adjacent ones merge, at most
 * RAMCRYPT_SECRET_REGIONS_MAX are kept. A fork child inherits them, an exec drops them.
 */
#define RAMCRYPT_SECRET_REGIONS_MAX	64

struct ramcrypt_secret_region {
	__u64 addr;		/* in: page-aligned start */
	__u64 len;		/* in: length in bytes */
	__u64 flags;		/* in: reserved, 0 */
	__u64 reserved;		/* in: 0 */
};

#define RAMCRYPT_IOC_VERSION	_IOR(RAMCRYPT_IOC_MAGIC, 0x00, struct ramcrypt_version)
#define RAMCRYPT_IOC_PROTECT	_IOW(RAMCRYPT_IOC_MAGIC, 0x01, struct ramcrypt_protect)
#define RAMCRYPT_IOC_UNPROTECT	_IOW(RAMCRYPT_IOC_MAGIC, 0x02, struct ramcrypt_pid)
#define RAMCRYPT_IOC_SET_WINDOW	_IOW(RAMCRYPT_IOC_MAGIC, 0x03, struct ramcrypt_window)
#define RAMCRYPT_IOC_PROC_STATS	_IOWR(RAMCRYPT_IOC_MAGIC, 0x04, struct ramcrypt_proc_stats)
#define RAMCRYPT_IOC_LIST	_IOWR(RAMCRYPT_IOC_MAGIC, 0x05, struct ramcrypt_list)
#define RAMCRYPT_IOC_STATUS	_IOR(RAMCRYPT_IOC_MAGIC, 0x06, struct ramcrypt_status)
#define RAMCRYPT_IOC_KEY_LOAD	_IOW(RAMCRYPT_IOC_MAGIC, 0x07, struct ramcrypt_key)
#define RAMCRYPT_IOC_SELFTEST	_IO(RAMCRYPT_IOC_MAGIC, 0x08)
#define RAMCRYPT_IOC_SEAL	_IOWR(RAMCRYPT_IOC_MAGIC, 0x10, struct ramcrypt_seal)
#define RAMCRYPT_IOC_UNSEAL	_IOWR(RAMCRYPT_IOC_MAGIC, 0x11, struct ramcrypt_unseal)
#define RAMCRYPT_IOC_SECRET_REGION _IOW(RAMCRYPT_IOC_MAGIC, 0x12, struct ramcrypt_secret_region)

#endif /* _UAPI_LINUX_RAMCRYPT_H */
