/*
 * testutil.h - what the C tests share: a CHECK macro that counts failures
 * and names the line, reading a whole file, and the start of a test on
 * real local VMs.
 */
#ifndef BAR_TESTUTIL_H
#define BAR_TESTUTIL_H

#include "error.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/*
 * The start of a test on real local VMs, run as NAME BARISTA SPEC_DIR:
 * checks the arguments and root, makes the directory of the mkdtemp
 * template `tmpdir`, and points the local provider at <tmpdir>/local.
 * *state_path (<tmpdir>/state.db) and *root are the caller's.  Returns 0,
 * or the exit status to return at once.
 */
static inline int test_local_begin(const char *name, int argc, char *tmpdir,
                                   char **state_path, char **root)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s BARISTA SPEC_DIR\n", name);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root (network namespaces)\n", name);
		return 1;
	}
	if (!mkdtemp(tmpdir))
		return perror("mkdtemp"), 1;
	*state_path = bar_printf("%s/state.db", tmpdir);
	*root = bar_printf("%s/local", tmpdir);
	setenv("BARISTA_LOCAL_ROOT", *root, 1);
	return 0;
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
