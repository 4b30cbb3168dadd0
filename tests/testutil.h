/*
 * testutil.h - what the C tests share: a CHECK macro that counts failures
 * and names the line, and reading a whole file.
 */
#ifndef BAR_TESTUTIL_H
#define BAR_TESTUTIL_H

#include "error.h"
#include "util.h"

#include <stdio.h>

static int test_failures;

/* Record a failed expectation with its line and the last Barista error. */
#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n",  \
			        __FILE__, __LINE__, #cond, bar_error_last());          \
			test_failures++;                                               \
		}                                                                      \
	} while (0)

/* A whole file (at most 64 MiB) as a malloc'd string, or NULL. */
static inline char *test_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	bar_buf b = BAR_BUF_INIT(64 << 20);
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (bar_buf_add(&b, chunk, n) < 0)
			break;
	fclose(f);
	return bar_buf_take(&b);
}

/* Print the verdict and return the exit status. */
static inline int test_verdict(const char *name)
{
	if (test_failures) {
		fprintf(stderr, "%s: %d checks failed\n", name, test_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}

#endif
