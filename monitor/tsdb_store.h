/*
 * tsdb_store.h - the store's private state, shared by tsdb.c (series,
 * appends, open), tsdb_log.c (the write-ahead log and checkpoints),
 * tsdb_rollup.c (roll-ups and retention) and tsdb_query.c (select).
 */
#ifndef BAR_MONITOR_TSDB_STORE_H
#define BAR_MONITOR_TSDB_STORE_H

#include "tsdb_int.h"

#define TSDB_MAX_LABELS_BYTES 65536

typedef struct tsdb_series {
	int64_t id;
	uint64_t hash;
	struct tsdb_series *next;       /* hash chain */
	char *blob;                     /* "name\0value\0"..., the text once */
	size_t bloblen;
	bar_mlabel *labels;             /* into blob */
	size_t nlabels;
	int64_t *t;                     /* the open raw chunk */
	double *v;
	size_t n, cap;
	int64_t newest;                 /* newest timestamp taken; INT64_MIN: none */
	int64_t first[BAR_TSDB_TIERS];  /* t_first of the oldest stored chunk per tier */
	int64_t first_end[BAR_TSDB_TIERS]; /* ... and its t_last; INT64_MAX: none */
	int64_t rolled[BAR_TSDB_TIERS]; /* tiers 1, 2: roll-ups exist up to here */
	int64_t ret[BAR_TSDB_TIERS];    /* the retention that applies */
} tsdb_series;

typedef struct tsdb_pending {
	tsdb_series *series;
	int tier;
	int64_t t_first, t_last;
	size_t count;
	bar_mbuf data;
} tsdb_pending;

typedef struct tsdb_policy {
	char ns[128], mci[128]; /* mci "": the whole namespace */
	int64_t ret[BAR_TSDB_TIERS];
} tsdb_policy;

struct bar_tsdb {
	bar_tsdb_opts o;
	char *path, *logdir;
	pthread_mutex_t mu;           /* everything below but r */
	sqlite3 *w;
	sqlite3_stmt *st_series, *st_chunk, *ld_w;
	pthread_mutex_t rmu;          /* the reading connection */
	sqlite3 *r;
	sqlite3_stmt *ld_r;

	tsdb_series **tab;            /* the label index */
	size_t tabcap, nseries;
	tsdb_series **byid;           /* id - 1 */
	size_t byidcap;
	int64_t maxid;
	uint64_t open_points;

	tsdb_pending *pend;           /* sealed, not yet written */
	size_t npend, pendcap;
	tsdb_series **newser;         /* created, row not yet written */
	size_t nnew, newcap;

	tsdb_policy *pol;
	size_t npol, polcap;
	int64_t last_retention;
	uint64_t gone;                /* series forgotten since open */
	int broken;                   /* samples taken but maybe not logged */

	/* the log: segments <path>-log/<16 hex>.log */
	bar_mbuf lbuf;                /* the frame being built (under mu) */
	int logfd;
	uint64_t logseg;
	uint64_t log_bytes;           /* in all live segments */
	uint64_t wseq;                /* frames written (under mu) */
	pthread_mutex_t syncmu;       /* group commit */
	uint64_t synced;              /* frames known on disk (under syncmu) */

	struct {
		uint64_t stored[BAR_TSDB_TIERS], chunks[BAR_TSDB_TIERS], chunk_bytes, dropped;
	} st;
};

/* tsdb.c */
/* Make room for need elements of elem bytes in the array *pptr (a pointer
 * to the array's pointer) of *cap; doubles.  0, or -1 out of memory. */
int tsdb_grow(void *pptr, size_t *cap, size_t need, size_t elem);
/* why = "tsdb: what: <SQLite's message>"; returns -1. */
int tsdb_sql_fail(sqlite3 *c, const char *what, char *why, size_t wsize);
/* Run SQL without rows; 0, or -1 with why. */
int tsdb_exec(sqlite3 *c, const char *sql, char *why, size_t wsize);
/* The value of label name of s (borrowed), or NULL. */
const char *tsdb_label(const tsdb_series *s, const char *name);
/* Set s->ret from the policies (most specific first) or the store's. */
void tsdb_series_retention(bar_tsdb *db, tsdb_series *s);
/* A new series of id from its labels blob, indexed; NULL when the blob is
 * malformed, the id taken or memory short. */
tsdb_series *tsdb_series_add(bar_tsdb *db, int64_t id, const void *blob, size_t len);
/* Free a series no longer indexed. */
void tsdb_series_free(tsdb_series *s);
/* Take samples newer than s's newest into its open chunk (sealing as it
 * fills), logging them into log unless NULL (replay); older ones counted in
 * *dropped.  0, or -1 out of memory. */
int tsdb_accept(bar_tsdb *db, tsdb_series *s, const bar_msample *in, size_t n, bar_mbuf *log,
                size_t *dropped);
/* Queue an encoded chunk (taking data's memory).  0, or -1. */
int tsdb_pend(bar_tsdb *db, tsdb_series *s, int tier, int64_t t_first, int64_t t_last,
              size_t count, bar_mbuf *data);
/* Write queued chunks and new series rows (in a transaction of their own
 * unless in_tx); kept queued on failure.  0, or -1 with why. */
int tsdb_write_pending(bar_tsdb *db, int in_tx, char *why, size_t wsize);
/* Seal every open chunk whose first sample is older than older_than and
 * write them.  0, or -1 with why. */
int tsdb_seal_all(bar_tsdb *db, int64_t older_than, char *why, size_t wsize);

/* tsdb_log.c (all under mu but tsdb_log_sync; formats in the file) */
/* Add a series' definition, a series' sample header, one sample, and
 * close the series' record (nacc samples; none: the record is dropped)
 * to the frame in b.  0, or -1 (b->failed). */
int tsdb_log_series_def(bar_mbuf *b, const tsdb_series *s);
int tsdb_log_series_head(bar_mbuf *b, int64_t id, size_t n, size_t *mark);
int tsdb_log_sample(bar_mbuf *b, int64_t dt, double v);
void tsdb_log_series_end(bar_mbuf *b, size_t mark, size_t nacc);
/* Write the frame in db->lbuf to the log; *seq its number (0: nothing to
 * write).  0, or -1 with why. */
int tsdb_log_write(bar_tsdb *db, uint64_t *seq, char *why, size_t wsize);
/* Make frame seq durable (one fdatasync for all written so far; not under
 * mu).  0, or -1 with why. */
int tsdb_log_sync(bar_tsdb *db, uint64_t seq, char *why, size_t wsize);
/* Replay every segment into the open chunks (on open).  0, or -1 with why. */
int tsdb_log_replay(bar_tsdb *db, char *why, size_t wsize);
/* Load the checkpointed open chunks (on open).  0, or -1 with why. */
int tsdb_log_load_open(bar_tsdb *db, char *why, size_t wsize);
/* Checkpoint the open chunks, start a new segment, delete the older ones.
 * 0, or -1 with why. */
int tsdb_checkpoint(bar_tsdb *db, char *why, size_t wsize);
/* Close the current segment. */
void tsdb_log_close(bar_tsdb *db);

/* tsdb_rollup.c */
typedef struct tsdb_rec {
	int64_t t;                         /* a sample's time or a bucket's end */
	double c[TSDB_AGG_COLS];           /* sum, min, max, last, count */
} tsdb_rec;
typedef struct tsdb_recs {
	tsdb_rec *r;
	size_t n, cap;
} tsdb_recs;
/* Append to out the rows of s's stored chunks of tier in (lo, hi], in time
 * order, those not after out's last skipped; a raw sample v as
 * {v, v, v, v, 1}.  st is TSDB_SQL_LOAD prepared on c (db->ld_w under mu,
 * db->ld_r under rmu).  0, or -1 with why. */
#define TSDB_SQL_LOAD                                                                          \
	"SELECT data FROM chunks WHERE series = ?1 AND tier = ?2 AND t_first <= ?4 AND"       \
	" t_last > ?3 ORDER BY t_first"
int tsdb_recs_load(tsdb_recs *out, sqlite3 *c, sqlite3_stmt *st, const tsdb_series *s, int tier,
                   int64_t lo, int64_t hi, char *why, size_t wsize);
/* Append one row.  0, or -1 out of memory. */
int tsdb_recs_add(tsdb_recs *out, int64_t t, const double c[TSDB_AGG_COLS]);
/* Materialise the roll-up and coarse buckets due as of now_ms (all that end
 * by now_ms when force).  0, or -1 with why. */
int tsdb_rollup_run(bar_tsdb *db, int64_t now_ms, int force, char *why, size_t wsize);
/* Delete chunks past retention, forget emptied series, vacuum when a
 * quarter is free.  0, or -1 with why. */
int tsdb_retention_run(bar_tsdb *db, int64_t now_ms, char *why, size_t wsize);
/* The sum of n values (stride apart), in scaled integers when all are
 * decimals so the sum is exact and stays m / 10^d. */
double tsdb_sum_exact(const double *v, size_t n, size_t stride);

#endif
