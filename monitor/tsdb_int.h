/*
 * tsdb_int.h - what the store's files share inside monitor/: the chunk
 * codec (tsdb_codec.c) and the store's private structures (tsdb.c, the
 * write-ahead log in tsdb_log.c, queries in tsdb_query.c).  Not installed,
 * not seen by the collector.
 */
#ifndef BAR_MONITOR_TSDB_INT_H
#define BAR_MONITOR_TSDB_INT_H

#include "tsdb.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the chunk codec (tsdb_codec.c) ---- */

/* A chunk is a time column and 1 (raw: the value) or 5 (roll-ups: sum,
 * min, max, last, count) value columns of n rows. */
enum { TSDB_COL_SUM, TSDB_COL_MIN, TSDB_COL_MAX, TSDB_COL_LAST, TSDB_COL_COUNT,
       TSDB_AGG_COLS };
#define TSDB_CHUNK_MAX_POINTS 65536  /* a decoder refuses a chunk claiming more */

/*
 * Encode n rows (n >= 1, t strictly increasing) of ncols columns (1 or
 * TSDB_AGG_COLS), appending to out.  Every double round-trips bit for bit
 * (NaN payloads, -0.0, infinities included).  0, or -1 (out->failed).
 */
int tsdb_chunk_encode(bar_mbuf *out, const int64_t *t, const double *const *cols, size_t ncols,
                      size_t n);

/*
 * Decode a chunk of ncols columns: *nout rows into t[] and cols[c][] that
 * the caller provides with room for max rows each (TSDB_CHUNK_MAX_POINTS is
 * always enough).  Any bytes may come in: a chunk that is malformed,
 * truncated, of another column count or longer than max is refused.  0, or
 * -1 with why.
 */
int tsdb_chunk_decode(size_t *nout, int64_t *t, double *const *cols, size_t ncols, size_t max,
                      const void *data, size_t len, char *why, size_t wsize);

/* The row count a chunk claims (its first bytes), or -1 when unreadable. */
long tsdb_chunk_count(const void *data, size_t len);

/* The smallest d in 0..6 with v == m / 10^d for an integer |m| < 2^53,
 * or -1: what makes a column of decimals cheap. */
int tsdb_decimals(double v);

#endif
