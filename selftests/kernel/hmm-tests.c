// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own hmm-tests.c (tools/testing/selftests/vm/ in 6.1, mm/ in 6.12; the
 * Makefile passes HMM_TESTS_C), built unchanged, run in two parts:
 *  - by default every test but the three device-exclusive ones;
 *  - with HMM_EXCLUSIVE_ONLY=1 only those three (exclusive, exclusive_mprotect,
 *    exclusive_cow), which scripts/guest-selftests runs with transparent huge pages
 *    off: make_device_exclusive_range() cannot take a page of a large folio and
 *    returns EBUSY for THP-backed buffers (THP "always": with and without ramcrypt;
 *    with THP "never" they pass, ramcrypt loaded), and a failed ASSERT in their
 *    teardown makes the 6.1 harness loop until its timeout.
 * The 6.1 harness has no -t/-T filter, so the wrapper edits the test list itself.
 */
#include "kselftest_harness.h"
#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN
#include HMM_TESTS_C

static const char *const excluded[] = { "exclusive", "exclusive_mprotect", "exclusive_cow" };

/* Drop the exclusive tests, or (only_exclusive) every other test. */
static void drop_excluded(int only_exclusive)
{
	for (struct __fixture_metadata *f = __fixture_list; f; f = f->next) {
		struct __test_metadata *t = f->tests, *next;

		for (; t; t = next) {
			size_t i;

			next = t->next;
			for (i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
				if (!strcmp(t->name, excluded[i]))
					break;
			if ((i < sizeof(excluded) / sizeof(excluded[0])) == only_exclusive)
				continue;
			/* Unlink from a list whose head->prev points at the tail. */
			if (t == f->tests) {
				f->tests = next;
				if (next)
					next->prev = t->prev;
			} else {
				t->prev->next = next;
				if (next)
					next->prev = t->prev;
				else
					f->tests->prev = t->prev;
			}
			if (!only_exclusive)
				ksft_print_msg("%s.%s runs with THP off (hmm-tests-exclusive)\n",
					       f->name, t->name);
		}
	}
}

#ifdef _CONSTRUCTOR_ORDER_BACKWARD
/* 6.1's TEST_HARNESS_MAIN has this constructor: it tells the harness the order. */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}
#endif

int main(int argc, char **argv)
{
	const char *only = getenv("HMM_EXCLUSIVE_ONLY");

	drop_excluded(only && !strcmp(only, "1"));
	return test_harness_run(argc, argv);
}
