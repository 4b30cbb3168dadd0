/*
 * bench_util.h - what the benchmarks share: a scratch directory, generated
 * configurations on the sim or local provider, running the barista binary
 * and timing things.
 */
#ifndef BAR_BENCH_UTIL_H
#define BAR_BENCH_UTIL_H

#include <stddef.h>
#include <stdio.h>

/* Make a scratch directory (removed at exit) and return its path. */
const char *bench_tmpdir(void);

/* Open a file under dir for writing; exits on failure. */
FILE *bench_open(const char *dir, const char *name);

/* Write one Connection plus VNet, SecurityGroup, SSHKey, Image and Spec for
 * it.  `driver` is "sim" or "local"; `config` lines are indented YAML under
 * spec.config (may be ""); cidr_octet picks 10.<octet>.0.0/16. */
void bench_write_mcir(FILE *f, const char *driver, const char *conn, const char *region,
                      const char *config, int max_concurrency, int cidr_octet);

/* Write an MCI named `name` on connection `conn` with `groups` groups of
 * `count` VMs each (groups of count 1 spell every VM out). */
void bench_write_mci(FILE *f, const char *name, const char *conn, int groups, int count);

/* The barista binary beside this program (build/barista). */
const char *bench_barista_path(void);

/* Run `barista ARGS` (the binary found beside this program); returns its
 * exit status; output goes to /dev/null unless verbose. */
int bench_barista(const char *args, int verbose);

/* Seconds taken by `barista ARGS`, which must exit with `want`. */
double bench_time_barista(const char *args, int want);

double bench_now(void);

#endif
