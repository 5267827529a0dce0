// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own hmm-tests.c (tools/testing/selftests/vm/ in 6.1, mm/ in 6.12; the
 * Makefile passes HMM_TESTS_C), built unchanged, minus the
 * tests that cannot pass on this kernel under TCG: make_device_exclusive() returns
 * EBUSY there, and a failed ASSERT in those tests' teardown makes the 6.1 harness
 * loop until its timeout. The 6.1 harness has no -T filter, so this wrapper drops
 * them from the test list before running.
 */
#include "kselftest_harness.h"
#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN
#include HMM_TESTS_C

static const char *const excluded[] = { "exclusive", "exclusive_mprotect", "exclusive_cow" };

static void drop_excluded(void)
{
	for (struct __fixture_metadata *f = __fixture_list; f; f = f->next) {
		struct __test_metadata *t = f->tests, *next;

		for (; t; t = next) {
			size_t i;

			next = t->next;
			for (i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
				if (!strcmp(t->name, excluded[i]))
					break;
			if (i == sizeof(excluded) / sizeof(excluded[0]))
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
			ksft_print_msg("excluded %s.%s (see docs/TESTING.md)\n", f->name, t->name);
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
	drop_excluded();
	return test_harness_run(argc, argv);
}
