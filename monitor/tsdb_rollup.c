/*
 * tsdb_rollup.c - the store's roll-ups and retention (docs/monitoring.md,
 * "The store").
 *
 * Roll-ups are materialised late, the way Thanos' compactor and
 * VictoriaMetrics' downsampling treat data past an age: a range of a
 * series is rolled up (10 s buckets of sum, min, max, last, count) once
 * it is older than rollup_after_ms, in pieces of one roll-up chunk
 * (chunk_points buckets, at most a day), or earlier when the raw data of
 * the range is about to leave by retention.  Until then a query computes
 * the same answers from raw.  Coarse (5 min) buckets are made from
 * roll-up rows likewise.  A bucket (e - step, e] is stored at e.  NaN
 * samples (Prometheus' staleness markers) are left out of buckets.
 *
 * Retention deletes whole chunks whose newest row is past the tier's
 * retention, never raw chunks not yet rolled up.  Freed pages are reused
 * by later inserts; auto_vacuum=INCREMENTAL with incremental_vacuum once a
 * quarter of the file is free hands space back to the file system.
 */
#include "tsdb_store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double p10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

static int64_t floor_to(int64_t t, int64_t step)
{
	int64_t q = t / step;
	if (t % step && t < 0)
		q--;
	return q * step;
}

int tsdb_recs_add(tsdb_recs *out, int64_t t, const double c[TSDB_AGG_COLS])
{
	if (tsdb_grow(&out->r, &out->cap, out->n + 1, sizeof(*out->r)) < 0)
		return -1;
	out->r[out->n].t = t;
	memcpy(out->r[out->n].c, c, sizeof(out->r[out->n].c));
	out->n++;
	return 0;
}

int tsdb_recs_load(tsdb_recs *out, sqlite3 *c, sqlite3_stmt *st, const tsdb_series *s, int tier,
                   int64_t lo, int64_t hi, char *why, size_t wsize)
{
	int64_t *t = NULL;
	double *col[TSDB_AGG_COLS] = {0};
	size_t ncols = tier == BAR_TSDB_RAW ? 1 : TSDB_AGG_COLS;
	int rc = -1, step;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, s->id);
	sqlite3_bind_int(st, 2, tier);
	sqlite3_bind_int64(st, 3, lo);
	sqlite3_bind_int64(st, 4, hi);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const void *data = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0), n;
		long cnt = tsdb_chunk_count(data, len);
		if (cnt <= 0 || cnt > TSDB_CHUNK_MAX_POINTS) {
			snprintf(why, wsize, "tsdb: series %lld: a damaged chunk", (long long)s->id);
			goto done;
		}
		free(t);
		t = malloc((size_t)cnt * sizeof(*t));
		for (size_t k = 0; k < ncols; k++) {
			free(col[k]);
			col[k] = malloc((size_t)cnt * sizeof(double));
		}
		if (!t || !col[ncols - 1] || !col[0]) {
			snprintf(why, wsize, "tsdb: out of memory");
			goto done;
		}
		if (tsdb_chunk_decode(&n, t, col, ncols, (size_t)cnt, data, len, why, wsize) < 0)
			goto done;
		for (size_t i = 0; i < n; i++) {
			double cc[TSDB_AGG_COLS];
			if (t[i] <= lo || t[i] > hi)
				continue;
			if (out->n && t[i] <= out->r[out->n - 1].t)
				continue; /* overlap of a copy taken while a chunk was sealed */
			if (ncols == 1)
				cc[0] = cc[1] = cc[2] = cc[3] = col[0][i], cc[4] = 1;
			else
				for (size_t k = 0; k < TSDB_AGG_COLS; k++)
					cc[k] = col[k][i];
			if (tsdb_recs_add(out, t[i], cc) < 0) {
				snprintf(why, wsize, "tsdb: out of memory");
				goto done;
			}
		}
	}
	if (step != SQLITE_DONE) {
		tsdb_sql_fail(c, "select chunks", why, wsize);
		goto done;
	}
	rc = 0;
done:
	sqlite3_reset(st);
	free(t);
	for (size_t k = 0; k < TSDB_AGG_COLS; k++)
		free(col[k]);
	return rc;
}

double tsdb_sum_exact(const double *v, size_t n, size_t stride)
{
	int d = 0;
	double naive = 0;
	int64_t m = 0;

	for (size_t i = 0; i < n; i++) {
		int e = tsdb_decimals(v[i * stride]);
		naive += v[i * stride];
		if (e < 0)
			d = -1;
		if (d >= 0 && e > d)
			d = e;
	}
	if (d < 0)
		return naive;
	/* in scaled integers the sum is exact, and stays m / 10^d: the decimal
	 * codec keeps a column of such sums cheap */
	for (size_t i = 0; i < n; i++) {
		int64_t x = llround(v[i * stride] * p10[d]);
		if (__builtin_add_overflow(m, x, &m) || m > (1LL << 53) || m < -(1LL << 53))
			return naive;
	}
	return (double)m / p10[d];
}

/* ---- materialising ---- */

static int tier_below(const bar_tsdb *db, int k)
{
	for (int j = k - 1; j > 0; j--)
		if (db->o.step_ms[j] > 0)
			return j;
	return BAR_TSDB_RAW;
}

static int64_t span_of(const bar_tsdb *db, int k)
{
	int64_t s = (int64_t)db->o.chunk_points * db->o.step_ms[k];
	return s > 86400000 ? 86400000 : s;
}

/* Buckets of step over recs (sorted), appended to rows. */
static int bucketise(tsdb_recs *rows, const tsdb_recs *in, int64_t step, double **tmp,
                     size_t *tmpcap)
{
	size_t i = 0;

	while (i < in->n) {
		int64_t e = floor_to(in->r[i].t - 1, step) + step;
		double c[TSDB_AGG_COLS] = {0, INFINITY, -INFINITY, NAN, 0};
		size_t ns = 0;
		for (; i < in->n && in->r[i].t <= e; i++) {
			const tsdb_rec *r = &in->r[i];
			if (isnan(r->c[TSDB_COL_LAST]) || r->c[TSDB_COL_COUNT] <= 0)
				continue;
			if (tsdb_grow(tmp, tmpcap, ns + 1, sizeof(**tmp)) < 0)
				return -1;
			(*tmp)[ns++] = r->c[TSDB_COL_SUM];
			if (r->c[TSDB_COL_MIN] < c[TSDB_COL_MIN])
				c[TSDB_COL_MIN] = r->c[TSDB_COL_MIN];
			if (r->c[TSDB_COL_MAX] > c[TSDB_COL_MAX])
				c[TSDB_COL_MAX] = r->c[TSDB_COL_MAX];
			c[TSDB_COL_LAST] = r->c[TSDB_COL_LAST];
			c[TSDB_COL_COUNT] += r->c[TSDB_COL_COUNT];
		}
		if (ns == 0)
			continue;
		c[TSDB_COL_SUM] = tsdb_sum_exact(*tmp, ns, 1);
		if (tsdb_recs_add(rows, e, c) < 0)
			return -1;
	}
	return 0;
}

static int materialise(bar_tsdb *db, tsdb_series *s, int k, int64_t lo, int64_t cut, char *why,
                       size_t wsize)
{
	static const char *const upd[BAR_TSDB_TIERS] = {
		NULL, "UPDATE series SET rolled1 = ?1 WHERE id = ?2",
		"UPDATE series SET rolled2 = ?1 WHERE id = ?2"};
	int src = tier_below(db, k);
	tsdb_recs in = {0}, rows = {0};
	double *tmp = NULL, *cols[TSDB_AGG_COLS] = {0};
	int64_t *t = NULL;
	size_t tmpcap = 0;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (tsdb_recs_load(&in, db->w, db->ld_w, s, src, lo, cut, why, wsize) < 0)
		goto done;
	for (size_t i = 0; src == BAR_TSDB_RAW && i < s->n; i++) {
		double c[TSDB_AGG_COLS] = {s->v[i], s->v[i], s->v[i], s->v[i], 1};
		if (s->t[i] > lo && s->t[i] <= cut && (!in.n || s->t[i] > in.r[in.n - 1].t) &&
		    tsdb_recs_add(&in, s->t[i], c) < 0)
			goto oom;
	}
	if (bucketise(&rows, &in, db->o.step_ms[k], &tmp, &tmpcap) < 0)
		goto oom;
	t = malloc((rows.n ? rows.n : 1) * sizeof(*t));
	for (size_t c = 0; c < TSDB_AGG_COLS; c++)
		if (!(cols[c] = malloc((rows.n ? rows.n : 1) * sizeof(double))))
			goto oom;
	if (!t)
		goto oom;
	for (size_t i = 0; i < rows.n; i++) {
		t[i] = rows.r[i].t;
		for (size_t c = 0; c < TSDB_AGG_COLS; c++)
			cols[c][i] = rows.r[i].c[c];
	}
	for (size_t off = 0; off < rows.n; off += db->o.chunk_points) {
		size_t n = rows.n - off < db->o.chunk_points ? rows.n - off : db->o.chunk_points;
		const double *cc[TSDB_AGG_COLS];
		bar_mbuf b = {0};
		for (size_t c = 0; c < TSDB_AGG_COLS; c++)
			cc[c] = cols[c] + off;
		if (tsdb_chunk_encode(&b, t + off, cc, TSDB_AGG_COLS, n) < 0 ||
		    tsdb_pend(db, s, k, t[off], t[off + n - 1], n, &b) < 0) {
			bar_mbuf_free(&b);
			goto oom;
		}
	}
	if (tsdb_write_pending(db, 1, why, wsize) < 0)
		goto done;
	if (sqlite3_prepare_v2(db->w, upd[k], -1, &st, NULL) != SQLITE_OK) {
		tsdb_sql_fail(db->w, "roll-up", why, wsize);
		goto done;
	}
	sqlite3_bind_int64(st, 1, cut);
	sqlite3_bind_int64(st, 2, s->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		tsdb_sql_fail(db->w, "roll-up", why, wsize);
		goto done;
	}
	s->rolled[k] = cut;
	rc = 0;
	goto done;
oom:
	snprintf(why, wsize, "tsdb: out of memory (roll-up)");
done:
	sqlite3_finalize(st);
	free(in.r);
	free(rows.r);
	free(tmp);
	free(t);
	for (size_t c = 0; c < TSDB_AGG_COLS; c++)
		free(cols[c]);
	return rc;
}

/* Where tier src's data of s begins (a bucket's start for roll-ups), or
 * INT64_MAX when it has none. */
static int64_t data_start(const bar_tsdb *db, const tsdb_series *s, int src)
{
	int64_t a = s->first[src];

	if (src == BAR_TSDB_RAW)
		return s->n && s->t[0] < a ? s->t[0] : a;
	return a == INT64_MAX ? a : a - db->o.step_ms[src];
}

int tsdb_rollup_run(bar_tsdb *db, int64_t now_ms, int force, char *why, size_t wsize)
{
	int rc = -1;

	if (tsdb_write_pending(db, 0, why, wsize) < 0 || tsdb_exec(db->w, "BEGIN", why, wsize) < 0)
		return -1;
	for (int k = 1; k < BAR_TSDB_TIERS; k++) {
		int64_t step = db->o.step_ms[k], span;
		int src = tier_below(db, k);
		if (step <= 0)
			continue;
		span = span_of(db, k);
		for (int64_t id = 1; id <= db->maxid; id++) {
			tsdb_series *s = db->byid[id - 1];
			int64_t lo, cut, cut_ret = INT64_MIN, start;
			if (!s)
				continue;
			lo = s->rolled[k];
			if (lo == INT64_MIN) {
				if ((start = data_start(db, s, src)) == INT64_MAX)
					continue;
				lo = floor_to(start - 1, step);
			}
			cut = floor_to(now_ms - db->o.rollup_after_ms, step);
			if (s->ret[src] > 0)
				cut_ret = floor_to(now_ms - s->ret[src] + 2 * span, step);
			if (cut_ret > cut)
				cut = cut_ret;
			if (force || cut > floor_to(now_ms, step))
				cut = floor_to(now_ms, step);
			if (src != BAR_TSDB_RAW) {
				if (s->rolled[src] == INT64_MIN)
					continue;
				if (cut > floor_to(s->rolled[src], step))
					cut = floor_to(s->rolled[src], step);
			}
			if (cut <= lo || (!force && cut - lo < span && cut_ret <= lo))
				continue;
			if (materialise(db, s, k, lo, cut, why, wsize) < 0)
				goto done;
		}
	}
	if (tsdb_exec(db->w, "COMMIT", why, wsize) < 0)
		goto done;
	return 0;
done:
	sqlite3_exec(db->w, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- retention ---- */

static int expire(bar_tsdb *db, tsdb_series *s, int k, int64_t cutoff, sqlite3_stmt *const st[3],
                  char *why, size_t wsize)
{
	for (int i = 0; i < 3; i++) {
		sqlite3_reset(st[i]);
		sqlite3_bind_int64(st[i], 1, s->id);
		sqlite3_bind_int(st[i], 2, k);
		if (i < 2)
			sqlite3_bind_int64(st[i], 3, cutoff);
	}
	if (sqlite3_step(st[0]) == SQLITE_ROW) {
		db->st.chunks[k] -= (uint64_t)sqlite3_column_int64(st[0], 0);
		db->st.stored[k] -= (uint64_t)sqlite3_column_int64(st[0], 1);
		db->st.chunk_bytes -= (uint64_t)sqlite3_column_int64(st[0], 2);
	}
	if (sqlite3_step(st[1]) != SQLITE_DONE)
		return tsdb_sql_fail(db->w, "retention", why, wsize);
	s->first[k] = s->first_end[k] = INT64_MAX;
	if (sqlite3_step(st[2]) == SQLITE_ROW) {
		s->first[k] = sqlite3_column_int64(st[2], 0);
		s->first_end[k] = sqlite3_column_int64(st[2], 1);
	}
	return 0;
}

/* Forget the series that have nothing left in any tier and nothing new for
 * a raw retention (VMs gone): their rows, index entries and memory, so a
 * store whose VMs come and go stays bounded.  Within retention_run's
 * transaction; db->gone counts them (maintain then checkpoints, so the log
 * cannot bring them back). */
static int gc(bar_tsdb *db, int64_t now_ms, char *why, size_t wsize)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	for (int64_t id = 1; id <= db->maxid; id++) {
		tsdb_series *s = db->byid[id - 1], **pp;
		int empty = s && s->n == 0 && s->newest != INT64_MIN && s->ret[BAR_TSDB_RAW] > 0 &&
		            s->newest < now_ms - s->ret[BAR_TSDB_RAW];
		for (int k = 0; empty && k < BAR_TSDB_TIERS; k++)
			empty = s->first[k] == INT64_MAX;
		if (!empty)
			continue;
		if (!st && sqlite3_prepare_v2(db->w, "DELETE FROM series WHERE id = ?1", -1, &st,
		                              NULL) != SQLITE_OK) {
			tsdb_sql_fail(db->w, "forget series", why, wsize);
			goto done;
		}
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) != SQLITE_DONE) {
			tsdb_sql_fail(db->w, "forget series", why, wsize);
			goto done;
		}
		for (pp = &db->tab[s->hash & (db->tabcap - 1)]; *pp != s; pp = &(*pp)->next)
			;
		*pp = s->next;
		db->byid[id - 1] = NULL;
		db->nseries--;
		db->gone++;
		tsdb_series_free(s);
	}
	rc = 0;
done:
	sqlite3_finalize(st);
	return rc;
}

int tsdb_retention_run(bar_tsdb *db, int64_t now_ms, char *why, size_t wsize)
{
	static const char *const sql[3] = {
		"SELECT count(*), coalesce(sum(count), 0), coalesce(sum(length(data)), 0) FROM chunks"
		" WHERE series = ?1 AND tier = ?2 AND t_last < ?3",
		"DELETE FROM chunks WHERE series = ?1 AND tier = ?2 AND t_last < ?3",
		"SELECT t_first, t_last FROM chunks WHERE series = ?1 AND tier = ?2"
		" ORDER BY t_first LIMIT 1"};
	sqlite3_stmt *st[3] = {0};
	int rc = -1;

	if (tsdb_write_pending(db, 0, why, wsize) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (sqlite3_prepare_v2(db->w, sql[i], -1, &st[i], NULL) != SQLITE_OK) {
			tsdb_sql_fail(db->w, "retention", why, wsize);
			goto fin;
		}
	if (tsdb_exec(db->w, "BEGIN", why, wsize) < 0)
		goto fin;
	for (int k = 0; k < BAR_TSDB_TIERS; k++) {
		int above = 0;
		if (k > 0 && db->o.step_ms[k] <= 0)
			continue;
		for (int j = k + 1; j < BAR_TSDB_TIERS && !above; j++)
			if (db->o.step_ms[j] > 0)
				above = j;
		for (int64_t id = 1; id <= db->maxid; id++) {
			tsdb_series *s = db->byid[id - 1];
			int64_t cutoff;
			if (!s || s->ret[k] <= 0 || s->first_end[k] == INT64_MAX)
				continue;
			cutoff = now_ms - s->ret[k];
			/* never raw rows not yet rolled up: the roll-up ran first and
			 * was forced for data this close to leaving */
			if (above && s->rolled[above] != INT64_MIN && s->rolled[above] + 1 < cutoff)
				cutoff = s->rolled[above] + 1;
			else if (above && s->rolled[above] == INT64_MIN)
				continue;
			if (s->first_end[k] >= cutoff)
				continue;
			if (expire(db, s, k, cutoff, st, why, wsize) < 0)
				goto done;
		}
	}
	if (gc(db, now_ms, why, wsize) < 0)
		goto done;
	if (tsdb_exec(db->w, "COMMIT", why, wsize) < 0)
		goto done;
	rc = 0;
	{
		sqlite3_stmt *q = NULL;
		int64_t freel = 0, pages = 0;
		if (sqlite3_prepare_v2(db->w, "SELECT * FROM pragma_freelist_count, pragma_page_count",
		                       -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW) {
			freel = sqlite3_column_int64(q, 0);
			pages = sqlite3_column_int64(q, 1);
		}
		sqlite3_finalize(q);
		if (pages > 0 && freel * 4 > pages)
			rc = tsdb_exec(db->w, "PRAGMA incremental_vacuum", why, wsize);
	}
	goto fin;
done:
	sqlite3_exec(db->w, "ROLLBACK", NULL, NULL, NULL);
fin:
	for (int i = 0; i < 3; i++)
		sqlite3_finalize(st[i]);
	return rc;
}
