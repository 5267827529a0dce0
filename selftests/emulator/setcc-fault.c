// SPDX-License-Identifier: GPL-2.0
/*
 * Does this CPU store the right SETcc result when the store page-faults?
 *
 * QEMU 7.2 in TCG mode does not: when `setg (mem)` right after `test` takes a page
 * fault, the restarted instruction stores a value computed from stale flags (about a
 * quarter of first-touch faults here, with or without ramcrypt). Under ramcrypt nearly
 * every store to an encrypted page faults, so a protected program can then read back
 * a value it did not write -- an emulator bug, not a page-engine one. The guest tests
 * run this first and skip what depends on it (docs/TESTING.md). Exit 0 on a correct CPU.
 */
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
	const int n = 2000;
	int bad = 0;
	char *p = mmap(NULL, n * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("setcc-fault: mmap");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		char *q = p + i * 4096L + 0x818;	/* each store is the page's first touch */
		long v = 12345;

		asm volatile("test %1,%1\n\tsetg (%0)" : : "r"(q), "r"(v) : "memory", "cc");
		bad += *q != 1;
	}
	printf("setcc-fault: %d of %d SETcc stores that page-faulted stored a wrong value\n", bad, n);
	return bad != 0;
}
