/*
 * testutil.h - what the C tests share: a CHECK macro that counts failures
 * and names the line, reading a whole file, and the start of a test on
 * real local VMs.
 */
#ifndef BAR_TESTUTIL_H
#define BAR_TESTUTIL_H

#include "error.h"
#include "util.h"

#include <jansson.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
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

/*
 * Run `BARISTA ARGS -state STATE -no-color SPECS` with stdin from /dev/null;
 * its stdout and stderr into *out (caller frees, never NULL).  Returns the
 * exit status.  (For tests that run the program on a spec directory.)
 */
/* Run shell command cmd (freed here), shown as "+ barista <shown>": its
 * output into *out (caller frees, never NULL); the exit status. */
static inline int test_shell(char **out, char *cmd, const char *shown)
{
	FILE *p = popen(cmd, "r");
	bar_buf b = BAR_BUF_INIT(16 << 20);
	char chunk[4096];
	size_t n;
	int st;

	fprintf(stderr, "+ barista %s\n", shown);
	while (p && (n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		bar_buf_add(&b, chunk, n);
	st = p ? pclose(p) : -1;
	free(cmd);
	*out = b.data ? bar_buf_take(&b) : bar_strdup("");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static inline int test_barista(char **out, const char *barista, const char *state,
                               const char *specs, const char *args)
{
	return test_shell(out,
	                  bar_printf("'%s' %s -state '%s' -no-color '%s' </dev/null 2>&1", barista,
	                             args, state, specs),
	                  args);
}

/* Destroy what the state at `state` records (when it exists), then remove
 * the test's directory: the end of every local-VM test, also on failure. */
static inline void test_local_end(const char *barista, const char *state, const char *specs,
                                  const char *tmpdir)
{
	char *out, *cmd;

	if (state && access(state, F_OK) == 0) {
		test_barista(&out, barista, state, specs, "destroy -auto-approve");
		free(out);
	}
	cmd = bar_printf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
}

/*
 * The VM system ids recorded in the state at `state`, as a JSON array (new
 * reference), so that a test can check afterwards that exactly its own VMs'
 * namespaces are gone (other tests' VMs may exist meanwhile).
 */
static inline json_t *test_vm_ids(const char *barista, const char *state, const char *specs)
{
	char *out;
	json_t *list, *ids = json_array(), *r;
	size_t i;

	test_barista(&out, barista, state, specs, "state list -json");
	list = json_loads(strchr(out, '[') ? strchr(out, '[') : out, 0, NULL);
	json_array_foreach(list, i, r)
		if (!strcmp(json_string_value(json_object_get(r, "type")), "vm"))
			json_array_append(ids, json_object_get(r, "system_id"));
	json_decref(list);
	free(out);
	return ids;
}

/* How many of these VMs still have a network namespace. */
static inline size_t test_netns_left(const json_t *ids)
{
	size_t i, n = 0;
	json_t *id;

	json_array_foreach(ids, i, id) {
		char *path = bar_printf("/run/netns/%s", json_string_value(id));

		n += access(path, F_OK) == 0;
		free(path);
	}
	return n;
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

/* What one run of the barista binary printed. */
typedef struct test_out {
	int rc;
	char *out, *err;
} test_out;

static inline void test_out_clear(test_out *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Run `ENV BARISTA ARGS` with stdout and stderr captured through files in
 * dir; out and err are never NULL. */
static inline test_out test_barista_env(const char *dir, const char *barista,
                                        const char *env, const char *args)
{
	char *out = bar_printf("%s/out", dir), *err = bar_printf("%s/err", dir);
	char *cmd = bar_printf("%s '%s' %s >'%s' 2>'%s' </dev/null", env, barista, args, out, err);
	test_out r;
	int st;

	fprintf(stderr, "+ %s barista %s\n", env, args);
	st = system(cmd);
	r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	r.out = test_read_file(out);
	r.err = test_read_file(err);
	r.out = r.out ? r.out : bar_strdup("");
	r.err = r.err ? r.err : bar_strdup("");
	free(cmd);
	free(out);
	free(err);
	return r;
}

#endif
