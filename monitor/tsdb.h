/*
 * tsdb.h - a collector's time-series store: series named by label sets,
 * samples compressed Gorilla-style in chunks, chunks kept in one SQLite file
 * in three tiers (raw, rollup, coarse) with a retention each
 * (docs/monitoring.md, "The store").
 *
 * One bar_tsdb may be used from many threads: appends and queries take its
 * lock briefly (chunk encoding happens outside SQLite transactions; sealed
 * chunks are written in batches).  Errors are returned as -1 with why[]
 * filled where a caller passes one.
 */
#ifndef BAR_MONITOR_TSDB_H
#define BAR_MONITOR_TSDB_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bar_tsdb bar_tsdb;

enum { BAR_TSDB_RAW = 0, BAR_TSDB_ROLLUP = 1, BAR_TSDB_COARSE = 2, BAR_TSDB_TIERS = 3 };

typedef struct bar_tsdb_opts {
	int version;                      /* 1 */
	const char *path;                 /* the SQLite file; created when missing */
	int64_t step_ms[BAR_TSDB_TIERS];  /* 0 for raw (as collected); 10000; 300000 */
	int64_t retention_ms[BAR_TSDB_TIERS]; /* 0: keep forever */
	size_t chunk_points;              /* seal a chunk at this many samples: 512 */
	int64_t chunk_span_ms;            /* ... or when it spans this long: 3600000 */
	/* version 2 (version 1: 3600000 and 1) */
	int64_t rollup_after_ms;          /* roll a range up once it is this old: 1 h
	                                   * (earlier when its raw data is about to leave) */
	int sync;                         /* fdatasync the log before append returns: 1 */
	uint64_t log_checkpoint_bytes;    /* maintain checkpoints open chunks and starts
	                                   * a new log past this: 0 (64 MiB) */
} bar_tsdb_opts;
#define BAR_TSDB_OPTS_INIT                                                                      \
	{ .version = 2, .path = NULL, .step_ms = {0, 10000, 300000},                               \
	  .retention_ms = {6LL * 3600000, 7LL * 86400000, 90LL * 86400000}, .chunk_points = 512,   \
	  .chunk_span_ms = 3600000, .rollup_after_ms = 3600000, .sync = 1,                       \
	  .log_checkpoint_bytes = 0 }

/* Open (or create) the store at o->path.  0 with *out, or -1 with why. */
int bar_tsdb_open(bar_tsdb **out, const bar_tsdb_opts *o, char *why, size_t wsize);

/* Write every open chunk out and close; accepts NULL. */
void bar_tsdb_close(bar_tsdb *db);

/*
 * Append samples (labels as wire.h requires: sorted, __name__ present).  A
 * sample older than its series' newest one already stored is dropped and
 * counted (*dropped, may be NULL), an equal timestamp replaces nothing (the
 * first write wins: a batch resent after a lost acknowledgement is
 * harmless).  Returns 0, or -1 with why.
 */
int bar_tsdb_append(bar_tsdb *db, const bar_mseries *series, size_t n, size_t *dropped,
                    char *why, size_t wsize);

/* Seal open chunks older than the chunk span, materialise roll-ups of
 * ranges past rollup_after_ms (or whose raw data is about to leave), and
 * (at most once a minute of now_ms) delete chunks past each tier's
 * retention (as of now_ms); checkpoint when the log has grown.
 * The collector calls it every few seconds; tests call it with a synthetic
 * clock.  0, or -1 with why. */
int bar_tsdb_maintain(bar_tsdb *db, int64_t now_ms, char *why, size_t wsize);

/* Seal and write every open chunk now (shutdown, tests), then empty the
 * log (checkpoint) and SQLite's WAL into the file. */
int bar_tsdb_flush(bar_tsdb *db, char *why, size_t wsize);

/* Materialise every roll-up and coarse bucket that ends by now_ms, whatever
 * its age (benchmarks, tests; maintain does it by age).  0, or -1 with why. */
int bar_tsdb_rollup_force(bar_tsdb *db, int64_t now_ms, char *why, size_t wsize);

/*
 * A retention of its own for the series whose ns label is ns and, unless
 * mci is NULL or "", whose mci label is mci (an ns+mci policy beats an ns
 * one); 0 in a tier keeps it forever.  NULL retention_ms removes the
 * override.  Persisted in the SQLite file; applied at the next maintain.
 * 0, or -1 with why.
 */
int bar_tsdb_retention_set(bar_tsdb *db, const char *ns, const char *mci,
                           const int64_t retention_ms[BAR_TSDB_TIERS], char *why, size_t wsize);

/* ---- queries ---- */

enum { BAR_TSDB_EQ, BAR_TSDB_NE, BAR_TSDB_RE, BAR_TSDB_NRE };

typedef struct bar_tsdb_matcher {
	const char *name;
	const char *value;
	int op; /* BAR_TSDB_EQ ... (regexes: POSIX extended, anchored, as PromQL's) */
} bar_tsdb_matcher;

/* What each output point of a step is: over the samples in (t - step, t]. */
enum { BAR_TSDB_AVG, BAR_TSDB_MIN, BAR_TSDB_MAX, BAR_TSDB_LAST, BAR_TSDB_SUM, BAR_TSDB_COUNT };

typedef struct bar_tsdb_query {
	const bar_tsdb_matcher *matchers;
	size_t nmatchers;
	int64_t start_ms, end_ms;  /* inclusive */
	int64_t step_ms;           /* 0: every sample as stored (raw tier) */
	int fn;                    /* BAR_TSDB_AVG ... */
	int64_t lookback_ms;       /* with BAR_TSDB_LAST: how far back a sample may
	                            * be (Prometheus: 5 min); 0: one step */
} bar_tsdb_query;

typedef struct bar_tsdb_series {
	bar_mlabel *labels;
	size_t nlabels;
	bar_msample *points;
	size_t npoints;
} bar_tsdb_series;

typedef struct bar_tsdb_result {
	bar_tsdb_series *series;   /* sorted by labels */
	size_t nseries;
	int tier;                  /* the tier the answer came from */
} bar_tsdb_result;

/* Run a query: every series matching all matchers that has points, with
 * its points (step 0: the raw samples in [start, end], NaN included; else
 * one point per t = start + k*step <= end over (t - step, t], or
 * (t - lookback, t] for LAST, steps without samples left out; NaN samples,
 * Prometheus' staleness markers, are not counted).  A series is answered
 * from raw where raw data remains and from the coarser tiers (those whose
 * step divides the query's) before that; tier says the coarsest used.  0 with *out (free with
 * bar_tsdb_result_free), or -1 with why. */
int bar_tsdb_select(bar_tsdb_result *out, bar_tsdb *db, const bar_tsdb_query *q, char *why,
                    size_t wsize);
void bar_tsdb_result_free(bar_tsdb_result *r);

/* The order of series in a result: label by label, name then value
 * (bytewise), a shorter list first on a tie.  <0, 0, >0 as strcmp. */
int bar_tsdb_series_cmp(const bar_tsdb_series *a, const bar_tsdb_series *b);

/* ---- health ---- */

typedef struct bar_tsdb_stats {
	uint64_t series;
	uint64_t points[BAR_TSDB_TIERS];   /* stored, sealed or open */
	uint64_t chunks[BAR_TSDB_TIERS];
	uint64_t chunk_bytes;              /* compressed bytes of sealed chunks */
	uint64_t file_bytes;               /* the SQLite file and its WAL */
	uint64_t dropped;                  /* out-of-order samples since open */
} bar_tsdb_stats;

void bar_tsdb_stats_get(bar_tsdb *db, bar_tsdb_stats *out);

#endif
