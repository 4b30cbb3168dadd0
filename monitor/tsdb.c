/*
 * tsdb.c - the collector's time-series store (tsdb.h; docs/monitoring.md,
 * "The store"): series interned in memory and in a series table, an open
 * chunk per series in memory, sealed chunks as SQLite rows, a write-ahead
 * log of appended samples (tsdb_log.c) so an acknowledged append survives
 * a kill, roll-ups materialised by maintain, retention by whole chunks.
 *
 * Locking: db->mu guards the series, their open chunks, the log and the
 * writing SQLite connection; queries read sealed chunks through a second
 * connection under db->rmu (WAL lets it read while the writer writes), so
 * a long query blocks appends only while it copies open chunks.
 */
#include "tsdb_store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEAL_BATCH 256     /* sealed chunks written per transaction at most */
#define CKPT_LOG_BYTES (64u << 20) /* checkpoint open chunks when the log is this big */
#define RETENTION_EVERY_MS 60000

/* ---- errors ---- */

int tsdb_sql_fail(sqlite3 *c, const char *what, char *why, size_t wsize)
{
	snprintf(why, wsize, "tsdb: %s: %s", what, c ? sqlite3_errmsg(c) : "no connection");
	return -1;
}

int tsdb_exec(sqlite3 *c, const char *sql, char *why, size_t wsize)
{
	char *err = NULL;

	if (sqlite3_exec(c, sql, NULL, NULL, &err) != SQLITE_OK) {
		snprintf(why, wsize, "tsdb: %.60s: %s", sql, err ? err : "failed");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int tsdb_grow(void *pptr, size_t *cap, size_t need, size_t elem)
{
	void *p, *np;
	size_t nc = *cap ? *cap : 16;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	memcpy(&p, pptr, sizeof(p));
	if (!(np = realloc(p, nc * elem)))
		return -1;
	memcpy(pptr, &np, sizeof(np));
	*cap = nc;
	return 0;
}

/* ---- series ---- */

static uint64_t labels_hash(const bar_mlabel *l, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)l[i].name; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
		for (const unsigned char *p = (const unsigned char *)l[i].value; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xfe) * 1099511628211ULL;
	}
	return h;
}

static int labels_equal(const tsdb_series *s, const bar_mlabel *l, size_t n)
{
	if (s->nlabels != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->labels[i].name, l[i].name) || strcmp(s->labels[i].value, l[i].value))
			return 0;
	return 1;
}

const char *tsdb_label(const tsdb_series *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

/* The retention that applies to s: the most specific policy (ns+mci, then
 * ns alone), else the store's. */
void tsdb_series_retention(bar_tsdb *db, tsdb_series *s)
{
	const char *ns = tsdb_label(s, "ns"), *mci = tsdb_label(s, "mci");
	const tsdb_policy *best = NULL;

	for (size_t i = 0; ns && i < db->npol; i++) {
		const tsdb_policy *p = &db->pol[i];
		if (strcmp(p->ns, ns) != 0)
			continue;
		if (p->mci[0] && (!mci || strcmp(p->mci, mci) != 0))
			continue;
		if (!best || (p->mci[0] && !best->mci[0]))
			best = p;
	}
	memcpy(s->ret, best ? best->ret : db->o.retention_ms, sizeof(s->ret));
}

static int index_grow(bar_tsdb *db)
{
	size_t cap = db->tabcap ? db->tabcap * 2 : 1024;
	tsdb_series **tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -1;
	for (size_t i = 0; i < db->tabcap; i++)
		for (tsdb_series *s = db->tab[i], *next; s; s = next) {
			next = s->next;
			s->next = tab[s->hash & (cap - 1)];
			tab[s->hash & (cap - 1)] = s;
		}
	free(db->tab);
	db->tab = tab;
	db->tabcap = cap;
	return 0;
}

/* A new series from its labels blob ("name\0value\0" pairs), with id; added
 * to the index.  NULL when out of memory or the blob is malformed. */
tsdb_series *tsdb_series_add(bar_tsdb *db, int64_t id, const void *blob, size_t len)
{
	tsdb_series *s = calloc(1, sizeof(*s));
	size_t n = 0;

	if (!s || len == 0 || len > TSDB_MAX_LABELS_BYTES || ((const char *)blob)[len - 1] != '\0')
		goto fail;
	s->blob = malloc(len);
	if (!s->blob)
		goto fail;
	memcpy(s->blob, blob, len);
	s->bloblen = len;
	for (size_t i = 0; i < len; i++)
		n += s->blob[i] == '\0';
	if (n % 2 || n == 0)
		goto fail;
	s->nlabels = n / 2;
	s->labels = malloc(s->nlabels * sizeof(*s->labels));
	if (!s->labels)
		goto fail;
	for (size_t i = 0, off = 0; i < s->nlabels; i++) {
		s->labels[i].name = s->blob + off;
		off += strlen(s->blob + off) + 1;
		s->labels[i].value = s->blob + off;
		off += strlen(s->blob + off) + 1;
	}
	s->id = id;
	s->hash = labels_hash(s->labels, s->nlabels);
	s->newest = INT64_MIN;
	for (int k = 0; k < BAR_TSDB_TIERS; k++) {
		s->first[k] = INT64_MAX;
		s->first_end[k] = INT64_MAX;
		s->rolled[k] = INT64_MIN;
	}
	tsdb_series_retention(db, s);
	if (db->nseries >= db->tabcap && index_grow(db) < 0)
		goto fail;
	if ((size_t)id > db->byidcap) {
		size_t cap = db->byidcap ? db->byidcap : 1024;
		while (cap < (size_t)id)
			cap *= 2;
		tsdb_series **b = realloc(db->byid, cap * sizeof(*b));
		if (!b)
			goto fail;
		memset(b + db->byidcap, 0, (cap - db->byidcap) * sizeof(*b));
		db->byid = b;
		db->byidcap = cap;
	}
	if (id <= 0 || db->byid[id - 1])
		goto fail;
	db->byid[id - 1] = s;
	if (id > db->maxid)
		db->maxid = id;
	s->next = db->tab[s->hash & (db->tabcap - 1)];
	db->tab[s->hash & (db->tabcap - 1)] = s;
	db->nseries++;
	return s;
fail:
	if (s) {
		free(s->blob);
		free(s->labels);
		free(s);
	}
	return NULL;
}

void tsdb_series_free(tsdb_series *s)
{
	free(s->blob);
	free(s->labels);
	free(s->t);
	free(s->v);
	free(s);
}

/* The series of these labels, created (logged and queued for the series
 * table) when new.  NULL when out of memory. */
static tsdb_series *series_intern(bar_tsdb *db, const bar_mlabel *l, size_t n, int *created)
{
	uint64_t h = labels_hash(l, n);
	size_t len = 0;
	char *blob, *p;
	tsdb_series *s;

	*created = 0;
	for (s = db->tabcap ? db->tab[h & (db->tabcap - 1)] : NULL; s; s = s->next)
		if (s->hash == h && labels_equal(s, l, n))
			return s;
	for (size_t i = 0; i < n; i++)
		len += strlen(l[i].name) + strlen(l[i].value) + 2;
	if (len == 0 || len > TSDB_MAX_LABELS_BYTES || !(blob = malloc(len)))
		return NULL;
	p = blob;
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
		memcpy(p, l[i].name, a);
		memcpy(p + a, l[i].value, b);
		p += a + b;
	}
	s = tsdb_series_add(db, db->maxid + 1, blob, len);
	free(blob);
	if (s)
		*created = 1;
	return s;
}

/* ---- chunks into SQLite ---- */

/* Encode s's open chunk and queue it for writing; the open chunk empties. */
static int seal(bar_tsdb *db, tsdb_series *s)
{
	const double *cols[1] = {s->v};
	bar_mbuf b = {0};

	if (s->n == 0)
		return 0;
	if (tsdb_chunk_encode(&b, s->t, cols, 1, s->n) < 0 ||
	    tsdb_pend(db, s, BAR_TSDB_RAW, s->t[0], s->t[s->n - 1], s->n, &b) < 0) {
		bar_mbuf_free(&b);
		return -1;
	}
	db->open_points -= s->n;
	s->n = 0;
	return 0;
}

/* Queue an encoded chunk (of any tier). */
int tsdb_pend(bar_tsdb *db, tsdb_series *s, int tier, int64_t t_first, int64_t t_last,
              size_t count, bar_mbuf *data)
{
	if (tsdb_grow(&db->pend, &db->pendcap, db->npend + 1, sizeof(*db->pend)) < 0)
		return -1;
	db->pend[db->npend++] = (tsdb_pending){s, tier, t_first, t_last, count, *data};
	memset(data, 0, sizeof(*data));
	return 0;
}

/* Write the queued chunks and new series rows in one transaction (the
 * caller holds mu and may already be in one: in_tx). */
int tsdb_write_pending(bar_tsdb *db, int in_tx, char *why, size_t wsize)
{
	int rc = -1;

	if (db->npend == 0 && db->nnew == 0)
		return 0;
	if (!in_tx && tsdb_exec(db->w, "BEGIN", why, wsize) < 0)
		return -1;
	for (size_t i = 0; i < db->nnew; i++) {
		tsdb_series *s = db->newser[i];
		sqlite3_reset(db->st_series);
		sqlite3_bind_int64(db->st_series, 1, s->id);
		sqlite3_bind_blob(db->st_series, 2, s->blob, (int)s->bloblen, SQLITE_STATIC);
		if (sqlite3_step(db->st_series) != SQLITE_DONE) {
			tsdb_sql_fail(db->w, "insert series", why, wsize);
			goto done;
		}
	}
	for (size_t i = 0; i < db->npend; i++) {
		tsdb_pending *p = &db->pend[i];
		sqlite3_reset(db->st_chunk);
		sqlite3_bind_int64(db->st_chunk, 1, p->series->id);
		sqlite3_bind_int(db->st_chunk, 2, p->tier);
		sqlite3_bind_int64(db->st_chunk, 3, p->t_first);
		sqlite3_bind_int64(db->st_chunk, 4, p->t_last);
		sqlite3_bind_int64(db->st_chunk, 5, (sqlite3_int64)p->count);
		sqlite3_bind_blob(db->st_chunk, 6, p->data.p, (int)p->data.len, SQLITE_STATIC);
		if (sqlite3_step(db->st_chunk) != SQLITE_DONE) {
			tsdb_sql_fail(db->w, "insert chunk", why, wsize);
			goto done;
		}
	}
	if (!in_tx && tsdb_exec(db->w, "COMMIT", why, wsize) < 0)
		goto done;
	rc = 0;
done:
	if (rc < 0 && !in_tx)
		sqlite3_exec(db->w, "ROLLBACK", NULL, NULL, NULL);
	if (rc < 0)
		return -1; /* kept for the next try; the log still has them */
	if (rc == 0) {
		for (size_t i = 0; i < db->npend; i++) {
			tsdb_pending *p = &db->pend[i];
			tsdb_series *s = p->series;
			if (p->t_first < s->first[p->tier]) {
				s->first[p->tier] = p->t_first;
				s->first_end[p->tier] = p->t_last;
			}
			db->st.chunks[p->tier]++;
			db->st.stored[p->tier] += p->count;
			db->st.chunk_bytes += p->data.len;
		}
		db->nnew = 0;
	}
	for (size_t i = 0; i < db->npend; i++)
		bar_mbuf_free(&db->pend[i].data);
	db->npend = 0;
	return rc;
}

/* ---- appends ---- */

/* Take the accepted samples of one series into its open chunk, sealing
 * as the chunk fills.  On replay (log = NULL) nothing is logged nor
 * counted as dropped. */
int tsdb_accept(bar_tsdb *db, tsdb_series *s, const bar_msample *in, size_t n, bar_mbuf *log,
                size_t *dropped)
{
	size_t mark = 0, nacc = 0;
	int64_t prev = 0;

	if (log) {
		if (tsdb_log_series_head(log, s->id, n, &mark) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t t = in[i].t_ms;
		if (t <= s->newest) {
			if (t < s->newest && dropped)
				(*dropped)++;
			continue;
		}
		if (s->n > 0 && (s->n >= db->o.chunk_points || t - s->t[0] >= db->o.chunk_span_ms) &&
		    seal(db, s) < 0)
			return -1;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			if (cap > db->o.chunk_points)
				cap = db->o.chunk_points;
			int64_t *nt = realloc(s->t, cap * sizeof(*nt));
			if (!nt)
				return -1;
			s->t = nt;
			double *nv = realloc(s->v, cap * sizeof(*nv));
			if (!nv)
				return -1;
			s->v = nv;
			s->cap = cap;
		}
		s->t[s->n] = t;
		s->v[s->n++] = in[i].v;
		s->newest = t;
		db->open_points++;
		if (log && tsdb_log_sample(log, t - prev, in[i].v) < 0)
			return -1;
		prev = t;
		nacc++;
	}
	if (log)
		tsdb_log_series_end(log, mark, nacc);
	return 0;
}

static int labels_ok(const bar_mseries *se, char *why, size_t wsize)
{
	int name = 0;

	for (size_t j = 0; j < se->nlabels; j++) {
		if (!se->labels[j].name || !se->labels[j].value || !se->labels[j].name[0]) {
			snprintf(why, wsize, "tsdb: a label without a name or value");
			return -1;
		}
		if (j && strcmp(se->labels[j - 1].name, se->labels[j].name) >= 0) {
			snprintf(why, wsize, "tsdb: labels not sorted or repeated (\"%.60s\")",
			         se->labels[j].name);
			return -1;
		}
		name |= !strcmp(se->labels[j].name, "__name__");
	}
	if (!name) {
		snprintf(why, wsize, "tsdb: a series without __name__");
		return -1;
	}
	return 0;
}

int bar_tsdb_append(bar_tsdb *db, const bar_mseries *series, size_t n, size_t *dropped,
                    char *why, size_t wsize)
{
	size_t drop = 0;
	uint64_t seq = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		if (labels_ok(&series[i], why, wsize) < 0)
			return -1;
	pthread_mutex_lock(&db->mu);
	/* an earlier call failed after taking samples it could not log: make
	 * the open chunks durable another way before acknowledging anything */
	if (db->broken) {
		if (tsdb_checkpoint(db, why, wsize) < 0) {
			pthread_mutex_unlock(&db->mu);
			return -1;
		}
		db->broken = 0;
	}
	db->lbuf.len = 0;
	db->lbuf.failed = 0;
	for (size_t i = 0; i < n; i++) {
		int created;
		tsdb_series *s = series_intern(db, series[i].labels, series[i].nlabels, &created);
		if (!s) {
			snprintf(why, wsize, "tsdb: out of memory (series)");
			goto done;
		}
		if (created) {
			if (tsdb_grow(&db->newser, &db->newcap, db->nnew + 1, sizeof(s)) < 0)
				goto oom;
			db->newser[db->nnew++] = s;
			if (tsdb_log_series_def(&db->lbuf, s) < 0)
				goto oom;
		}
		if (tsdb_accept(db, s, series[i].samples, series[i].nsamples, &db->lbuf, &drop) < 0)
			goto oom;
	}
	if (tsdb_log_write(db, &seq, why, wsize) < 0)
		goto done;
	db->st.dropped += drop;
	/* new series rows and chunks sealed on the way, one transaction (on
	 * failure they stay queued, and the log has their samples) */
	if (tsdb_write_pending(db, 0, why, wsize) < 0) {
		seq = 0;
		goto done;
	}
	rc = 0;
	goto done;
oom:
	snprintf(why, wsize, "tsdb: out of memory (log)");
done:
	if (rc < 0 && !seq)
		db->broken = 1; /* samples may have been taken and not logged */
	pthread_mutex_unlock(&db->mu);
	if (rc == 0 && db->o.sync && seq && tsdb_log_sync(db, seq, why, wsize) < 0) {
		pthread_mutex_lock(&db->mu);
		db->broken = 1;
		pthread_mutex_unlock(&db->mu);
		rc = -1;
	}
	if (rc == 0 && dropped)
		*dropped = drop;
	return rc;
}

/* ---- maintenance ---- */

int tsdb_seal_all(bar_tsdb *db, int64_t older_than, char *why, size_t wsize)
{
	for (int64_t id = 1; id <= db->maxid; id++) {
		tsdb_series *s = db->byid[id - 1];
		if (s && s->n && s->t[0] < older_than) {
			if (seal(db, s) < 0) {
				snprintf(why, wsize, "tsdb: out of memory (seal)");
				return -1;
			}
			if (db->npend >= SEAL_BATCH && tsdb_write_pending(db, 0, why, wsize) < 0)
				return -1;
		}
	}
	return tsdb_write_pending(db, 0, why, wsize);
}

int bar_tsdb_maintain(bar_tsdb *db, int64_t now_ms, char *why, size_t wsize)
{
	int rc = -1;

	pthread_mutex_lock(&db->mu);
	if (tsdb_seal_all(db, now_ms - db->o.chunk_span_ms, why, wsize) < 0)
		goto done;
	if (tsdb_rollup_run(db, now_ms, 0, why, wsize) < 0)
		goto done;
	if (db->last_retention == INT64_MIN || now_ms - db->last_retention >= RETENTION_EVERY_MS ||
	    now_ms < db->last_retention) {
		uint64_t gone = db->gone;
		if (tsdb_retention_run(db, now_ms, why, wsize) < 0)
			goto done;
		db->last_retention = now_ms;
		if (db->gone != gone && tsdb_checkpoint(db, why, wsize) < 0)
			goto done;
	}
	if (db->log_bytes >= (db->o.log_checkpoint_bytes ? db->o.log_checkpoint_bytes
	                                                 : CKPT_LOG_BYTES) &&
	    tsdb_checkpoint(db, why, wsize) < 0)
		goto done;
	rc = 0;
done:
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int bar_tsdb_flush(bar_tsdb *db, char *why, size_t wsize)
{
	int rc = -1;

	pthread_mutex_lock(&db->mu);
	if (tsdb_seal_all(db, INT64_MAX, why, wsize) < 0)
		goto done;
	if (tsdb_checkpoint(db, why, wsize) < 0)
		goto done;
	/* the SQLite WAL back into the file, and the WAL file truncated */
	if (tsdb_exec(db->w, "PRAGMA wal_checkpoint(TRUNCATE)", why, wsize) < 0)
		goto done;
	rc = 0;
done:
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int bar_tsdb_rollup_force(bar_tsdb *db, int64_t now_ms, char *why, size_t wsize)
{
	int rc;

	pthread_mutex_lock(&db->mu);
	rc = tsdb_rollup_run(db, now_ms, 1, why, wsize);
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* ---- retention policies ---- */

int bar_tsdb_retention_set(bar_tsdb *db, const char *ns, const char *mci,
                           const int64_t retention_ms[BAR_TSDB_TIERS], char *why, size_t wsize)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	size_t i;

	if (!ns || !*ns || strlen(ns) >= sizeof(db->pol[0].ns) ||
	    (mci && strlen(mci) >= sizeof(db->pol[0].mci))) {
		snprintf(why, wsize, "tsdb: retention: ns (1..%zu bytes) and mci (at most %zu)",
		         sizeof(db->pol[0].ns) - 1, sizeof(db->pol[0].mci) - 1);
		return -1;
	}
	if (!mci)
		mci = "";
	for (int k = 0; retention_ms && k < BAR_TSDB_TIERS; k++)
		if (retention_ms[k] < 0) {
			snprintf(why, wsize, "tsdb: retention: negative retention");
			return -1;
		}
	pthread_mutex_lock(&db->mu);
	if (sqlite3_prepare_v2(db->w,
	                       retention_ms ? "INSERT OR REPLACE INTO retention(ns, mci, raw, rollup, "
	                                      "coarse) VALUES (?1, ?2, ?3, ?4, ?5)"
	                                    : "DELETE FROM retention WHERE ns = ?1 AND mci = ?2",
	                       -1, &st, NULL) != SQLITE_OK) {
		tsdb_sql_fail(db->w, "retention", why, wsize);
		goto done;
	}
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, mci, -1, SQLITE_STATIC);
	for (int k = 0; retention_ms && k < BAR_TSDB_TIERS; k++)
		sqlite3_bind_int64(st, 3 + k, retention_ms[k]);
	if (sqlite3_step(st) != SQLITE_DONE) {
		tsdb_sql_fail(db->w, "retention", why, wsize);
		goto done;
	}
	for (i = 0; i < db->npol; i++)
		if (!strcmp(db->pol[i].ns, ns) && !strcmp(db->pol[i].mci, mci))
			break;
	if (!retention_ms) {
		if (i < db->npol)
			db->pol[i] = db->pol[--db->npol];
	} else {
		if (i == db->npol) {
			if (tsdb_grow(&db->pol, &db->polcap, db->npol + 1, sizeof(*db->pol)) < 0) {
				snprintf(why, wsize, "tsdb: out of memory");
				goto done;
			}
			db->npol++;
			memset(&db->pol[i], 0, sizeof(db->pol[i]));
			snprintf(db->pol[i].ns, sizeof(db->pol[i].ns), "%s", ns);
			snprintf(db->pol[i].mci, sizeof(db->pol[i].mci), "%s", mci);
		}
		memcpy(db->pol[i].ret, retention_ms, sizeof(db->pol[i].ret));
	}
	for (int64_t id = 1; id <= db->maxid; id++)
		if (db->byid[id - 1])
			tsdb_series_retention(db, db->byid[id - 1]);
	db->last_retention = INT64_MIN; /* apply at the next maintain */
	rc = 0;
done:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* ---- health ---- */

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void bar_tsdb_stats_get(bar_tsdb *db, bar_tsdb_stats *out)
{
	char p[4200];

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&db->mu);
	out->series = db->nseries;
	for (int k = 0; k < BAR_TSDB_TIERS; k++) {
		out->points[k] = db->st.stored[k];
		out->chunks[k] = db->st.chunks[k];
	}
	out->points[BAR_TSDB_RAW] += db->open_points;
	out->chunk_bytes = db->st.chunk_bytes;
	out->dropped = db->st.dropped;
	out->file_bytes = file_size(db->path) + db->log_bytes;
	snprintf(p, sizeof(p), "%s-wal", db->path);
	out->file_bytes += file_size(p);
	snprintf(p, sizeof(p), "%s-shm", db->path);
	out->file_bytes += file_size(p);
	pthread_mutex_unlock(&db->mu);
}

/* ---- open and close ---- */

void bar_tsdb_close(bar_tsdb *db)
{
	char why[256];

	if (!db)
		return;
	if (db->w)
		bar_tsdb_flush(db, why, sizeof(why));
	tsdb_log_close(db);
	sqlite3_finalize(db->st_series);
	sqlite3_finalize(db->st_chunk);
	sqlite3_finalize(db->ld_w);
	sqlite3_finalize(db->ld_r);
	sqlite3_close(db->w);
	sqlite3_close(db->r);
	for (int64_t id = 1; id <= db->maxid; id++)
		if (db->byid[id - 1])
			tsdb_series_free(db->byid[id - 1]);
	for (size_t i = 0; i < db->npend; i++)
		bar_mbuf_free(&db->pend[i].data);
	free(db->pend);
	free(db->newser);
	free(db->byid);
	free(db->tab);
	free(db->pol);
	bar_mbuf_free(&db->lbuf);
	free(db->path);
	free(db->logdir);
	pthread_mutex_destroy(&db->mu);
	pthread_mutex_destroy(&db->rmu);
	pthread_mutex_destroy(&db->syncmu);
	free(db);
}

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, labels BLOB NOT NULL,"
	" rolled1 INTEGER, rolled2 INTEGER);"
	"CREATE TABLE IF NOT EXISTS chunks(series INTEGER NOT NULL, tier INTEGER NOT NULL,"
	" t_first INTEGER NOT NULL, t_last INTEGER NOT NULL, count INTEGER NOT NULL,"
	" data BLOB NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS chunks_at ON chunks(series, tier, t_first);"
	"CREATE TABLE IF NOT EXISTS open_chunks(series INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS retention(ns TEXT NOT NULL, mci TEXT NOT NULL, raw INTEGER,"
	" rollup INTEGER, coarse INTEGER, PRIMARY KEY(ns, mci));";

static int load(bar_tsdb *db, char *why, size_t wsize)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db->w, "SELECT ns, mci, raw, rollup, coarse FROM retention", -1,
	                       &st, NULL) != SQLITE_OK)
		return tsdb_sql_fail(db->w, "load", why, wsize);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t r[BAR_TSDB_TIERS];
		for (int k = 0; k < BAR_TSDB_TIERS; k++)
			r[k] = sqlite3_column_int64(st, 2 + k);
		if (tsdb_grow(&db->pol, &db->polcap, db->npol + 1, sizeof(*db->pol)) < 0)
			goto oom;
		tsdb_policy *p = &db->pol[db->npol++];
		snprintf(p->ns, sizeof(p->ns), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(p->mci, sizeof(p->mci), "%s", (const char *)sqlite3_column_text(st, 1));
		memcpy(p->ret, r, sizeof(r));
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db->w, "SELECT id, labels, rolled1, rolled2 FROM series", -1, &st,
	                       NULL) != SQLITE_OK)
		return tsdb_sql_fail(db->w, "load", why, wsize);
	while (sqlite3_step(st) == SQLITE_ROW) {
		tsdb_series *s = tsdb_series_add(db, sqlite3_column_int64(st, 0),
		                                 sqlite3_column_blob(st, 1),
		                                 (size_t)sqlite3_column_bytes(st, 1));
		if (!s) {
			snprintf(why, wsize, "tsdb: series %lld: bad labels or out of memory",
			         (long long)sqlite3_column_int64(st, 0));
			goto done;
		}
		for (int k = 1; k < BAR_TSDB_TIERS; k++)
			if (sqlite3_column_type(st, 1 + k) != SQLITE_NULL)
				s->rolled[k] = sqlite3_column_int64(st, 1 + k);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db->w,
	                       "SELECT series, tier, min(t_first), min(t_last), max(t_last), count(*),"
	                       " sum(count), sum(length(data)) FROM chunks GROUP BY series, tier",
	                       -1, &st, NULL) != SQLITE_OK)
		return tsdb_sql_fail(db->w, "load", why, wsize);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		int k = sqlite3_column_int(st, 1);
		tsdb_series *s = id >= 1 && id <= db->maxid ? db->byid[id - 1] : NULL;
		if (!s || k < 0 || k >= BAR_TSDB_TIERS)
			continue;
		s->first[k] = sqlite3_column_int64(st, 2);
		s->first_end[k] = sqlite3_column_int64(st, 3);
		if (k == BAR_TSDB_RAW)
			s->newest = sqlite3_column_int64(st, 4);
		db->st.chunks[k] += (uint64_t)sqlite3_column_int64(st, 5);
		db->st.stored[k] += (uint64_t)sqlite3_column_int64(st, 6);
		db->st.chunk_bytes += (uint64_t)sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = tsdb_log_load_open(db, why, wsize);
	goto done;
oom:
	snprintf(why, wsize, "tsdb: out of memory");
done:
	sqlite3_finalize(st);
	return rc;
}

static int conn_open(sqlite3 **out, const char *path, char *why, size_t wsize)
{
	sqlite3 *c = NULL;

	if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                                  SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		tsdb_sql_fail(c, path, why, wsize);
		sqlite3_close(c);
		return -1;
	}
	sqlite3_busy_timeout(c, 10000);
	*out = c;
	return 0;
}

int bar_tsdb_open(bar_tsdb **out, const bar_tsdb_opts *o, char *why, size_t wsize)
{
	bar_tsdb *db;

	if (!o || o->version < 1 || o->version > 2 || !o->path || !*o->path ||
	    strlen(o->path) > 4000) {
		snprintf(why, wsize, "tsdb: options: version 1 or 2 and a path are required");
		return -1;
	}
	if (o->chunk_points < 2 || o->chunk_points > TSDB_CHUNK_MAX_POINTS ||
	    o->chunk_span_ms <= 0) {
		snprintf(why, wsize, "tsdb: chunk_points 2..%d and a positive chunk_span_ms",
		         TSDB_CHUNK_MAX_POINTS);
		return -1;
	}
	for (int k = 1; k < BAR_TSDB_TIERS; k++)
		if (o->step_ms[k] < 0 || (o->step_ms[k] && k > 1 && o->step_ms[k - 1] &&
		                          o->step_ms[k] % o->step_ms[k - 1])) {
			snprintf(why, wsize, "tsdb: step_ms[%d] must be a multiple of step_ms[%d]", k,
			         k - 1);
			return -1;
		}
	if (!(db = calloc(1, sizeof(*db)))) {
		snprintf(why, wsize, "tsdb: out of memory");
		return -1;
	}
	db->o = *o;
	if (o->version < 2) {
		db->o.rollup_after_ms = 3600000;
		db->o.sync = 1;
		db->o.log_checkpoint_bytes = 0;
	}
	if (db->o.rollup_after_ms < 0)
		db->o.rollup_after_ms = 0;
	db->o.step_ms[0] = 0;
	db->path = strdup(o->path);
	db->o.path = db->path;
	db->lbuf.max = 1u << 30;
	db->last_retention = INT64_MIN;
	db->logfd = -1;
	pthread_mutex_init(&db->mu, NULL);
	pthread_mutex_init(&db->rmu, NULL);
	pthread_mutex_init(&db->syncmu, NULL);
	if (!db->path || asprintf(&db->logdir, "%s-log", o->path) < 0) {
		db->logdir = NULL;
		snprintf(why, wsize, "tsdb: out of memory");
		goto fail;
	}
	if (conn_open(&db->w, db->path, why, wsize) < 0)
		goto fail;
	/* auto_vacuum must be set before the first table: pages freed by
	 * retention are reused, and incremental_vacuum can hand them back */
	if (tsdb_exec(db->w, "PRAGMA auto_vacuum=INCREMENTAL", why, wsize) < 0 ||
	    tsdb_exec(db->w, "PRAGMA journal_mode=WAL", why, wsize) < 0 ||
	    tsdb_exec(db->w, "PRAGMA synchronous=NORMAL", why, wsize) < 0 ||
	    tsdb_exec(db->w, "PRAGMA journal_size_limit=8388608", why, wsize) < 0 ||
	    tsdb_exec(db->w, schema, why, wsize) < 0)
		goto fail;
	if (sqlite3_prepare_v2(db->w, "INSERT INTO series(id, labels) VALUES (?1, ?2)", -1,
	                       &db->st_series, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->w,
	                       "INSERT INTO chunks(series, tier, t_first, t_last, count, data)"
	                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                       -1, &db->st_chunk, NULL) != SQLITE_OK) {
		tsdb_sql_fail(db->w, "prepare", why, wsize);
		goto fail;
	}
	if (conn_open(&db->r, db->path, why, wsize) < 0)
		goto fail;
	if (sqlite3_prepare_v3(db->w, TSDB_SQL_LOAD, -1, SQLITE_PREPARE_PERSISTENT, &db->ld_w,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db->r, TSDB_SQL_LOAD, -1, SQLITE_PREPARE_PERSISTENT, &db->ld_r,
	                       NULL) != SQLITE_OK) {
		tsdb_sql_fail(db->ld_w ? db->r : db->w, "prepare", why, wsize);
		goto fail;
	}
	if (mkdir(db->logdir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, wsize, "tsdb: %s: %s", db->logdir, strerror(errno));
		goto fail;
	}
	if (load(db, why, wsize) < 0)
		goto fail;
	/* replay the log, then make what it held durable elsewhere and start a
	 * new one */
	if (tsdb_log_replay(db, why, wsize) < 0 || tsdb_write_pending(db, 0, why, wsize) < 0 ||
	    tsdb_checkpoint(db, why, wsize) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	db->o.sync = 0;
	tsdb_log_close(db);
	sqlite3_finalize(db->st_series);
	sqlite3_finalize(db->st_chunk);
	sqlite3_finalize(db->ld_w);
	db->st_series = db->st_chunk = db->ld_w = NULL;
	sqlite3_close(db->w);
	db->w = NULL;
	bar_tsdb_close(db);
	return -1;
}
