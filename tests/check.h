/*
 * check.h - the CHECK macro of the C tests that link no more than libc and
 * the library under test (test_wire, test_tsdb, test_kit_json, the agent's
 * tests); tests on barista_core use testutil.h, which also names the last
 * Barista error.  A failed check prints its line and counts in `failures`;
 * main returns non-zero when any failed.
 */
#ifndef BAR_TEST_CHECK_H
#define BAR_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                                       \
		}                                                                         \
	} while (0)

#endif
