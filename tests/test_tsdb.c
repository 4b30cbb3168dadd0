/*
 * test_tsdb.c - monitor/tsdb.h, the collector's store, on real SQLite files
 * in a scratch directory (removed at exit, even after a failed check).
 *
 *   test_tsdb codec        chunk round trips (random, NaN, infinities, -0.0,
 *                          huge integers, irregular clocks, 1-row chunks),
 *                          sizes of regular data, refusal of damaged chunks
 *   test_tsdb select       avg/min/max/last/sum/count per step, lookback,
 *                          the four matchers, regex anchoring, raw queries,
 *                          out-of-order drops, first write wins, reopen
 *   test_tsdb rollup       values 1..N: the 10 s and 5 min answers known
 *                          exactly, from raw, then from roll-ups once raw
 *                          expired, then from coarse once roll-ups expired
 *   test_tsdb retention    a per-policy retention, persisted across reopen
 *   test_tsdb crash        a child appends and is SIGKILLed; every sample it
 *                          acknowledged is there after reopen
 *   test_tsdb concurrent   4 appending threads and 2 querying threads
 *   test_tsdb bounded      the file stays bounded over many retention cycles
 */
#include "tsdb.h"
#include "tsdb_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static char scratch[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup(void)
{
	if (scratch[0])
		nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- codec ---- */

/* Round trip of n rows; v is every column unless cols5 gives five. */
static void roundtrip5(const int64_t *t, const double *v, size_t n, size_t ncols,
                       const double *const *cols5)
{
	bar_mbuf b = {0};
	const double *cols[TSDB_AGG_COLS];
	double *out[TSDB_AGG_COLS];
	int64_t *tt = malloc(n * sizeof(*tt));
	size_t got = 0;
	char why[200];

	for (size_t c = 0; c < ncols; c++) {
		cols[c] = cols5 ? cols5[c] : v;
		out[c] = malloc(n * sizeof(double));
	}
	CHECK(tsdb_chunk_encode(&b, t, cols, ncols, n) == 0);
	CHECK(tsdb_chunk_count(b.p, b.len) == (long)n);
	CHECK(tsdb_chunk_decode(&got, tt, out, ncols, n, b.p, b.len, why, sizeof(why)) == 0);
	CHECK(got == n);
	for (size_t i = 0; i < n && got == n; i++) {
		CHECK(tt[i] == t[i]);
		for (size_t c = 0; c < ncols; c++)
			if (!same_bits(out[c][i], cols[c][i])) {
				fprintf(stderr, "row %zu col %zu: %.17g != %.17g\n", i, c, out[c][i],
				        cols[c][i]);
				failures++;
				break;
			}
	}
	/* every truncation is refused, none crashes */
	for (size_t cut = 0; cut < b.len; cut += 1 + b.len / 16)
		CHECK(tsdb_chunk_decode(&got, tt, out, ncols, n, b.p, cut, why, sizeof(why)) < 0 ||
		      cut == b.len);
	/* a wrong column count is refused */
	CHECK(tsdb_chunk_decode(&got, tt, out, ncols == 1 ? TSDB_AGG_COLS : 1, n, b.p, b.len, why,
	                        sizeof(why)) < 0);
	for (size_t c = 0; c < ncols; c++)
		free(out[c]);
	free(tt);
	bar_mbuf_free(&b);
}

static void roundtrip(const int64_t *t, const double *v, size_t n, size_t ncols)
{
	roundtrip5(t, v, n, ncols, NULL);
}

/* Roll-up rows as the store makes them (sum, min, max, last, count), in
 * decimals (stored relative to last) or not. */
static void rollup_rows(int decimals, int64_t big)
{
	enum { N = 300 };
	static int64_t t[N];
	static double c[TSDB_AGG_COLS][N];
	const double *cols[TSDB_AGG_COLS];

	for (int i = 0; i < N; i++) {
		double cnt = (double)(1 + rnd() % 5), last, mn, mx;
		t[i] = 1700000000000LL + 10000LL * i;
		last = (double)((int64_t)(rnd() % 20001) - 10000 + big) / 100;
		mn = last - (double)(rnd() % 300) / 100;
		mx = last + (double)(rnd() % 300) / 100;
		if (!decimals)
			last += 1.0 / 3.0, mn -= 1e-9;
		c[TSDB_COL_SUM][i] = round((mn + mx) / 2 * cnt * 100) / 100;
		c[TSDB_COL_MIN][i] = round(mn * 100) / 100;
		c[TSDB_COL_MAX][i] = round(mx * 100) / 100;
		c[TSDB_COL_LAST][i] = decimals ? round(last * 100) / 100 : last;
		c[TSDB_COL_COUNT][i] = cnt;
	}
	for (int k = 0; k < TSDB_AGG_COLS; k++)
		cols[k] = c[k];
	roundtrip5(t, NULL, N, TSDB_AGG_COLS, cols);
	roundtrip5(t, NULL, 1, TSDB_AGG_COLS, cols);
	if (big == 0) {
		bar_mbuf b = {0};
		CHECK(tsdb_chunk_encode(&b, t, cols, TSDB_AGG_COLS, N) == 0);
		CHECK(b.len > 0 && (uint8_t)b.p[0] == (decimals ? 0xE5 : 0xC5));
		bar_mbuf_free(&b);
	}
}

static size_t encoded_size(const int64_t *t, const double *v, size_t n)
{
	bar_mbuf b = {0};
	const double *cols[1] = {v};
	size_t len;

	CHECK(tsdb_chunk_encode(&b, t, cols, 1, n) == 0);
	len = b.len;
	bar_mbuf_free(&b);
	return len;
}

static void test_codec(void)
{
	enum { N = 512 };
	int64_t t[N];
	double v[N];
	union {
		uint64_t u;
		double d;
	} stale = {0x7ff0000000000002ULL}, qnan = {0xfff8000000000123ULL};
	const double edge[] = {0.0, -0.0, INFINITY, -INFINITY, stale.d, qnan.d, NAN, 1e308,
	                       -1e308, 5e-324, 9007199254740992.0, -9007199254740993.0,
	                       18446744073709551616.0, 0.1, 0.30000000000000004, 12.34, -12.345,
	                       1.0 / 3.0, 42.0};
	size_t ne = sizeof(edge) / sizeof(edge[0]);

	/* random walk with 2 decimals on a regular 2 s clock */
	for (int i = 0; i < N; i++) {
		t[i] = 1700000000000LL + 2000LL * i;
		v[i] = (i ? v[i - 1] * 100 : 5000) / 100;
		v[i] = round((v[i] + ((double)(rnd() % 201) - 100) / 100) * 100) / 100;
	}
	roundtrip(t, v, N, 1);
	roundtrip(t, v, N, TSDB_AGG_COLS);
	/* regular clock costs about a bit a point, a constant too */
	for (int i = 0; i < N; i++)
		v[i] = 8.0;
	CHECK(encoded_size(t, v, N) <= 2 * N / 8 + 40);
	/* random doubles, irregular clocks (negative times, huge gaps) */
	for (int i = 0; i < N; i++) {
		uint64_t u = rnd();
		memcpy(&v[i], &u, 8);
		t[i] = (i ? t[i - 1] : -5000000000000LL) + 1 + (int64_t)(rnd() % (i % 7 ? 3000 : 1ULL << 40));
	}
	roundtrip(t, v, N, 1);
	/* edge values, alone (XOR), among decimals, and in 1-row chunks */
	for (size_t e = 0; e < ne; e++) {
		int64_t t1 = -1 - (int64_t)e * 1000000007LL;
		roundtrip(&t1, &edge[e], 1, 1);
		roundtrip(&t1, &edge[e], 1, TSDB_AGG_COLS);
	}
	for (int i = 0; i < N; i++) {
		t[i] = 1000LL * i;
		v[i] = i % 5 ? (double)(i % 100) / 100 : edge[(size_t)i % ne];
	}
	roundtrip(t, v, N, 1);
	/* huge integers and extreme timestamps */
	for (int i = 0; i < 8; i++) {
		t[i] = i == 0 ? INT64_MIN + 1 : i == 7 ? INT64_MAX : (int64_t)(rnd() >> 2) * (i < 4 ? -1 : 1);
		v[i] = (double)((int64_t)(rnd() >> 11) - (1LL << 52));
	}
	for (int i = 1; i < 7; i++) /* sort the middle */
		for (int j = i + 1; j < 7; j++)
			if (t[j] < t[i]) {
				int64_t x = t[i];
				t[i] = t[j];
				t[j] = x;
			}
	if (t[1] > INT64_MIN + 1)
		roundtrip(t, v, 8, 1);
	/* roll-up rows: relative to last, plain, near 2^53 (overflow falls back) */
	rollup_rows(1, 0);
	rollup_rows(0, 0);
	rollup_rows(1, 9007199254000000LL);
	rollup_rows(1, -9007199254000000LL);
	/* decimal detection */
	CHECK(tsdb_decimals(12.34) == 2);
	CHECK(tsdb_decimals(7.0) == 0);
	CHECK(tsdb_decimals(-0.0) < 0);
	CHECK(tsdb_decimals(NAN) < 0);
	CHECK(tsdb_decimals(1.0 / 3.0) < 0);
	/* damaged bytes: refused, never a crash */
	{
		uint8_t junk[300];
		int64_t tt[TSDB_CHUNK_MAX_POINTS / 64];
		double vv[TSDB_CHUNK_MAX_POINTS / 64], *cols[1] = {vv};
		size_t got;
		char why[100];
		for (int round_ = 0; round_ < 2000; round_++) {
			size_t len = rnd() % sizeof(junk);
			for (size_t i = 0; i < len; i++)
				junk[i] = (uint8_t)rnd();
			if (len)
				junk[0] = 0xC1;
			(void)tsdb_chunk_decode(&got, tt, cols, 1, TSDB_CHUNK_MAX_POINTS / 64, junk, len,
			                        why, sizeof(why));
		}
	}
}

/* ---- helpers on a store ---- */

static bar_tsdb *open_db(const char *name, const bar_tsdb_opts *base)
{
	bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
	static char path[200];
	bar_tsdb *db = NULL;
	char why[300];

	if (base)
		o = *base;
	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	o.path = path;
	if (bar_tsdb_open(&db, &o, why, sizeof(why)) < 0) {
		fprintf(stderr, "open %s: %s\n", path, why);
		failures++;
		return NULL;
	}
	return db;
}

static int append1(bar_tsdb *db, const char *ns, const char *mci, const char *vm,
                   const bar_msample *s, size_t n, size_t *dropped)
{
	bar_mlabel l[4] = {{"__name__", "m"}, {"mci", mci}, {"ns", ns}, {"vm", vm}};
	bar_mseries se = {l, 4, s, n};
	char why[300];
	int rc = bar_tsdb_append(db, &se, 1, dropped, why, sizeof(why));

	if (rc < 0)
		fprintf(stderr, "append: %s\n", why);
	return rc;
}

static int query(bar_tsdb_result *r, bar_tsdb *db, const bar_tsdb_matcher *m, size_t nm,
                 int64_t start, int64_t end, int64_t step, int fn, int64_t lookback)
{
	bar_tsdb_query q = {m, nm, start, end, step, fn, lookback};
	char why[300];

	memset(r, 0, sizeof(*r));
	if (bar_tsdb_select(r, db, &q, why, sizeof(why)) < 0) {
		fprintf(stderr, "select: %s\n", why);
		failures++;
		return -1;
	}
	return 0;
}

static const char *lab(const bar_tsdb_series *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return "";
}

/* ---- select ---- */

static void test_select(void)
{
	bar_tsdb *db = open_db("select.db", NULL);
	bar_msample s[100];
	bar_tsdb_result r;
	bar_tsdb_matcher m[2];
	size_t dropped = 0;
	char why[300];

	if (!db)
		return;
	/* vm a: values 1..100 at t = 1000 * i; vm b: 2 * i; vm c in another mci */
	for (int i = 0; i < 100; i++)
		s[i] = (bar_msample){1000LL * (i + 1), i + 1};
	CHECK(append1(db, "ns1", "web", "a", s, 100, &dropped) == 0 && dropped == 0);
	for (int i = 0; i < 100; i++)
		s[i].v = 2.0 * (i + 1);
	CHECK(append1(db, "ns1", "web", "b", s, 100, NULL) == 0);
	CHECK(append1(db, "ns1", "web2", "c", s, 50, NULL) == 0);

	/* avg of (0, 10 s], (10, 20 s], ... for a: 5.5, 15.5, ... */
	m[0] = (bar_tsdb_matcher){"vm", "a", BAR_TSDB_EQ};
	if (query(&r, db, m, 1, 10000, 100000, 10000, BAR_TSDB_AVG, 0) == 0) {
		CHECK(r.nseries == 1 && r.series[0].npoints == 10);
		for (size_t i = 0; r.nseries == 1 && i < r.series[0].npoints; i++) {
			CHECK(r.series[0].points[i].t_ms == 10000LL * (int64_t)(i + 1));
			CHECK(r.series[0].points[i].v == 10.0 * (double)i + 5.5);
		}
		bar_tsdb_result_free(&r);
	}
	struct {
		int fn;
		double want; /* for t = 30 s: samples 21..30 */
	} fns[] = {{BAR_TSDB_MIN, 21}, {BAR_TSDB_MAX, 30}, {BAR_TSDB_LAST, 30},
	           {BAR_TSDB_SUM, 255}, {BAR_TSDB_COUNT, 10}, {BAR_TSDB_AVG, 25.5}};
	for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++)
		if (query(&r, db, m, 1, 30000, 30000, 10000, fns[k].fn, 0) == 0) {
			CHECK(r.nseries == 1 && r.series[0].npoints == 1 &&
			      r.series[0].points[0].v == fns[k].want);
			bar_tsdb_result_free(&r);
		}
	/* last with a lookback: at 150 s the newest sample (100 s) within 60 s */
	if (query(&r, db, m, 1, 150000, 150000, 1000, BAR_TSDB_LAST, 60000) == 0) {
		CHECK(r.nseries == 1 && r.series[0].npoints == 1 && r.series[0].points[0].v == 100 &&
		      r.series[0].points[0].t_ms == 150000);
		bar_tsdb_result_free(&r);
	}
	if (query(&r, db, m, 1, 170000, 170000, 1000, BAR_TSDB_LAST, 60000) == 0) {
		CHECK(r.nseries == 0);
		bar_tsdb_result_free(&r);
	}
	/* matchers: =, !=, =~ (anchored), !~; output sorted by labels */
	m[0] = (bar_tsdb_matcher){"mci", "web", BAR_TSDB_EQ};
	if (query(&r, db, m, 1, 0, 200000, 0, BAR_TSDB_AVG, 0) == 0) {
		CHECK(r.nseries == 2 && !strcmp(lab(&r.series[0], "vm"), "a") &&
		      !strcmp(lab(&r.series[1], "vm"), "b"));
		CHECK(r.nseries == 2 && r.series[0].npoints == 100 && r.series[1].npoints == 100 &&
		      r.series[1].points[99].v == 200 && r.series[0].points[0].t_ms == 1000);
		CHECK(r.tier == BAR_TSDB_RAW);
		bar_tsdb_result_free(&r);
	}
	m[0] = (bar_tsdb_matcher){"mci", "web", BAR_TSDB_RE};
	if (query(&r, db, m, 1, 0, 200000, 0, BAR_TSDB_AVG, 0) == 0) {
		CHECK(r.nseries == 2); /* not web2: anchored */
		bar_tsdb_result_free(&r);
	}
	m[0] = (bar_tsdb_matcher){"mci", "web.*", BAR_TSDB_RE};
	m[1] = (bar_tsdb_matcher){"vm", "a|b", BAR_TSDB_NRE};
	if (query(&r, db, m, 2, 0, 200000, 0, BAR_TSDB_AVG, 0) == 0) {
		CHECK(r.nseries == 1 && r.nseries && !strcmp(lab(&r.series[0], "vm"), "c") &&
		      r.series[0].npoints == 50);
		bar_tsdb_result_free(&r);
	}
	m[0] = (bar_tsdb_matcher){"vm", "a", BAR_TSDB_NE};
	m[1] = (bar_tsdb_matcher){"nosuch", "", BAR_TSDB_EQ}; /* missing label = "" */
	if (query(&r, db, m, 2, 0, 200000, 0, BAR_TSDB_AVG, 0) == 0) {
		CHECK(r.nseries == 2);
		bar_tsdb_result_free(&r);
	}
	m[0] = (bar_tsdb_matcher){"vm", "x)|(a", BAR_TSDB_RE}; /* no way around the anchors */
	{
		bar_tsdb_query q = {m, 1, 0, 1, 0, BAR_TSDB_AVG, 0};
		CHECK(bar_tsdb_select(&r, db, &q, why, sizeof(why)) < 0 && strstr(why, "regex"));
	}
	m[0] = (bar_tsdb_matcher){"vm", "(", BAR_TSDB_RE};
	{
		bar_tsdb_query q = {m, 1, 0, 1, 0, BAR_TSDB_AVG, 0};
		CHECK(bar_tsdb_select(&r, db, &q, why, sizeof(why)) < 0 && strstr(why, "regex"));
	}
	/* out of order: dropped and counted; equal timestamp: the first wins */
	{
		bar_msample late[3] = {{50000, -1}, {100000, -2}, {101000, 101}};
		m[0] = (bar_tsdb_matcher){"vm", "a", BAR_TSDB_EQ};
		CHECK(append1(db, "ns1", "web", "a", late, 3, &dropped) == 0 && dropped == 1);
		if (query(&r, db, m, 1, 0, 200000, 0, BAR_TSDB_AVG, 0) == 0) {
			CHECK(r.nseries == 1 && r.series[0].npoints == 101 &&
			      r.series[0].points[49].v == 50 && r.series[0].points[99].v == 100 &&
			      r.series[0].points[100].v == 101);
			bar_tsdb_result_free(&r);
		}
		bar_tsdb_stats st;
		bar_tsdb_stats_get(db, &st);
		CHECK(st.dropped == 1 && st.series == 3 && st.points[BAR_TSDB_RAW] == 251);
	}
	/* bad labels refused */
	{
		bar_mlabel l[2] = {{"b", "1"}, {"a", "2"}};
		bar_mseries se = {l, 2, s, 1};
		CHECK(bar_tsdb_append(db, &se, 1, NULL, why, sizeof(why)) < 0);
	}
	/* options refused with a reason; version 1 (no rollup_after_ms, sync) */
	{
		bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
		bar_tsdb *bad = NULL;
		char path[200];
		snprintf(path, sizeof(path), "%s/opts.db", scratch);
		o.path = path;
		o.chunk_points = 1;
		CHECK(bar_tsdb_open(&bad, &o, why, sizeof(why)) < 0 && bad == NULL &&
		      strstr(why, "chunk_points"));
		o.chunk_points = 512;
		o.step_ms[2] = 12345;
		CHECK(bar_tsdb_open(&bad, &o, why, sizeof(why)) < 0 && strstr(why, "multiple"));
		o.step_ms[2] = 300000;
		o.path = NULL;
		CHECK(bar_tsdb_open(&bad, &o, why, sizeof(why)) < 0);
		o.path = path;
		o.version = 1;
		o.sync = 0;
		CHECK(bar_tsdb_open(&bad, &o, why, sizeof(why)) == 0 && bad);
		bar_tsdb_close(bad);
		bar_tsdb_close(NULL);
	}
	/* query limits */
	{
		bar_tsdb_query q = {NULL, 0, 0, 10000000000LL, 1, BAR_TSDB_AVG, 0};
		CHECK(bar_tsdb_select(&r, db, &q, why, sizeof(why)) < 0 && strstr(why, "steps"));
		q = (bar_tsdb_query){NULL, 0, 10, 5, 0, BAR_TSDB_AVG, 0};
		CHECK(bar_tsdb_select(&r, db, &q, why, sizeof(why)) < 0);
		q = (bar_tsdb_query){NULL, 0, INT64_MIN, 0, 0, BAR_TSDB_AVG, 0};
		CHECK(bar_tsdb_select(&r, db, &q, why, sizeof(why)) < 0);
		q = (bar_tsdb_query){NULL, 0, 0, 200000, 0, BAR_TSDB_COUNT + 1, 0};
		CHECK(bar_tsdb_select(&r, db, &q, why, sizeof(why)) < 0);
	}
	/* close and reopen: the same answers */
	bar_tsdb_close(db);
	db = open_db("select.db", NULL);
	if (!db)
		return;
	m[0] = (bar_tsdb_matcher){"__name__", "m", BAR_TSDB_EQ};
	if (query(&r, db, m, 1, 0, 200000, 0, BAR_TSDB_AVG, 0) == 0) {
		CHECK(r.nseries == 3 && r.series[0].npoints == 101 && r.series[1].npoints == 100 &&
		      r.series[2].npoints == 50);
		bar_tsdb_result_free(&r);
	}
	bar_tsdb_close(db);
}

/* ---- roll-ups ---- */

#define RN 3600 /* values 1..RN at t = T0 + 1000 * i */
#define T0 1700000100000LL /* a multiple of 15 min */

/* The expected fn over i in (a, b] of values i. */
static double expect(int fn, long a, long b)
{
	if (b > RN)
		b = RN;
	double cnt = (double)(b - a), sum = (double)(a + 1 + b) * cnt / 2;
	return fn == BAR_TSDB_AVG ? sum / cnt : fn == BAR_TSDB_MIN ? (double)a + 1
	     : fn == BAR_TSDB_MAX || fn == BAR_TSDB_LAST ? (double)b
	     : fn == BAR_TSDB_SUM ? sum : cnt;
}

static void check_steps(bar_tsdb *db, int64_t step, int want_tier, const char *what)
{
	bar_tsdb_matcher m = {"__name__", "m", BAR_TSDB_EQ};
	bar_tsdb_result r;
	int bad = 0;

	for (int fn = BAR_TSDB_AVG; fn <= BAR_TSDB_COUNT; fn++) {
		if (query(&r, db, &m, 1, T0 + step, T0 + RN * 1000LL, step, fn, 0) < 0)
			continue;
		size_t want = (size_t)(RN * 1000LL / step);
		CHECK(r.nseries == 1);
		if (r.tier != want_tier) {
			fprintf(stderr, "%s: fn %d: tier %d, want %d\n", what, fn, r.tier, want_tier);
			failures++;
		}
		if (r.nseries != 1 || r.series[0].npoints != want) {
			fprintf(stderr, "%s: fn %d: %zu series, %zu points (want %zu)\n", what, fn,
			        r.nseries, r.nseries ? r.series[0].npoints : 0, want);
			failures++;
		}
		for (size_t i = 0; r.nseries == 1 && i < r.series[0].npoints && bad < 5; i++) {
			long k = (long)(step / 1000);
			double w = expect(fn, k * (long)i, k * (long)(i + 1));
			if (r.series[0].points[i].v != w || r.series[0].points[i].t_ms != T0 + step * (int64_t)(i + 1)) {
				fprintf(stderr, "%s: fn %d point %zu: %.17g at %lld, want %.17g\n", what, fn,
				        i, r.series[0].points[i].v, (long long)r.series[0].points[i].t_ms, w);
				failures++;
				bad++;
			}
		}
		bar_tsdb_result_free(&r);
	}
}

static void test_rollup(void)
{
	bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
	bar_msample *s = malloc(RN * sizeof(*s));
	bar_tsdb *db;
	bar_tsdb_stats st;
	char why[300];
	int64_t end = T0 + RN * 1000LL;

	o.chunk_points = 64;
	o.retention_ms[BAR_TSDB_RAW] = 3 * 3600000;    /* 3 h */
	o.retention_ms[BAR_TSDB_ROLLUP] = 86400000;    /* 1 d */
	o.retention_ms[BAR_TSDB_COARSE] = 0;           /* forever */
	o.rollup_after_ms = 2 * 3600000;
	if (!(db = open_db("rollup.db", &o)))
		goto done;
	for (int i = 0; i < RN; i++)
		s[i] = (bar_msample){T0 + 1000LL * (i + 1), i + 1};
	for (int i = 0; i < RN; i += 600) /* in pushes */
		CHECK(append1(db, "ns", "mci", "vm", s + i, 600, NULL) == 0);
	CHECK(bar_tsdb_maintain(db, end + 1000, why, sizeof(why)) == 0);
	bar_tsdb_stats_get(db, &st);
	CHECK(st.points[BAR_TSDB_ROLLUP] == 0); /* too young to roll up */
	check_steps(db, 10000, BAR_TSDB_RAW, "raw, 10 s");
	check_steps(db, 300000, BAR_TSDB_RAW, "raw, 5 min");
	/* 2.5 h later: rolled up, the older half of raw expired: answers
	 * stitched from roll-ups and raw, the same */
	CHECK(bar_tsdb_maintain(db, end + 9000000, why, sizeof(why)) == 0);
	bar_tsdb_stats_get(db, &st);
	CHECK(st.points[BAR_TSDB_ROLLUP] == RN / 10);
	CHECK(st.points[BAR_TSDB_RAW] > RN / 4 && st.points[BAR_TSDB_RAW] < RN * 3 / 4);
	check_steps(db, 10000, BAR_TSDB_ROLLUP, "roll-up and raw, 10 s");
	check_steps(db, 60000, BAR_TSDB_ROLLUP, "roll-up and raw, 1 min");
	/* 4 h later: rolled up, raw expired */
	CHECK(bar_tsdb_maintain(db, end + 4 * 3600000, why, sizeof(why)) == 0);
	bar_tsdb_stats_get(db, &st);
	CHECK(st.points[BAR_TSDB_RAW] == 0 && st.chunks[BAR_TSDB_RAW] == 0);
	CHECK(st.points[BAR_TSDB_ROLLUP] == RN / 10);
	CHECK(st.points[BAR_TSDB_COARSE] == 0);
	check_steps(db, 10000, BAR_TSDB_ROLLUP, "roll-up, 10 s");
	check_steps(db, 300000, BAR_TSDB_ROLLUP, "roll-up, 5 min");
	/* the raw query has nothing left */
	{
		bar_tsdb_matcher m = {"__name__", "m", BAR_TSDB_EQ};
		bar_tsdb_result r;
		if (query(&r, db, &m, 1, T0, end, 0, BAR_TSDB_AVG, 0) == 0) {
			CHECK(r.nseries == 0);
			bar_tsdb_result_free(&r);
		}
	}
	/* reopened, 2 days later: coarse made, roll-ups expired */
	bar_tsdb_close(db);
	if (!(db = open_db("rollup.db", &o)))
		goto done;
	CHECK(bar_tsdb_maintain(db, end + 2 * 86400000LL, why, sizeof(why)) == 0);
	bar_tsdb_stats_get(db, &st);
	CHECK(st.points[BAR_TSDB_ROLLUP] == 0);
	CHECK(st.points[BAR_TSDB_COARSE] == RN / 300);
	check_steps(db, 300000, BAR_TSDB_COARSE, "coarse, 5 min");
	check_steps(db, 900000, BAR_TSDB_COARSE, "coarse, 15 min");
	bar_tsdb_close(db);
done:
	free(s);
}

/* ---- per-policy retention ---- */

static size_t raw_points(bar_tsdb *db, const char *ns)
{
	bar_tsdb_matcher m = {"ns", ns, BAR_TSDB_EQ};
	bar_tsdb_result r;
	size_t n = 0;

	if (query(&r, db, &m, 1, 0, INT64_MAX / 2, 0, BAR_TSDB_AVG, 0) == 0) {
		for (size_t i = 0; i < r.nseries; i++)
			n += r.series[i].npoints;
		bar_tsdb_result_free(&r);
	}
	return n;
}

static void test_retention(void)
{
	bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
	bar_msample s[200];
	int64_t short_ret[3] = {1800000, 86400000, 0};
	bar_tsdb *db;
	char why[300];

	o.chunk_points = 50;
	o.rollup_after_ms = 60000;
	if (!(db = open_db("ret.db", &o)))
		return;
	for (int i = 0; i < 200; i++)
		s[i] = (bar_msample){T0 + 10000LL * i, i % 7};
	CHECK(append1(db, "a", "x", "v1", s, 200, NULL) == 0);
	CHECK(append1(db, "a", "y", "v2", s, 200, NULL) == 0);
	CHECK(append1(db, "b", "x", "v3", s, 200, NULL) == 0);
	CHECK(bar_tsdb_retention_set(db, "a", "x", short_ret, why, sizeof(why)) == 0);
	CHECK(bar_tsdb_retention_set(db, "", NULL, short_ret, why, sizeof(why)) < 0);
	CHECK(bar_tsdb_flush(db, why, sizeof(why)) == 0);
	bar_tsdb_close(db);
	/* the policy survives a reopen; 3 h after the data only a/x's raw left */
	if (!(db = open_db("ret.db", &o)))
		return;
	CHECK(bar_tsdb_maintain(db, T0 + 2000000 + 3 * 3600000LL, why, sizeof(why)) == 0);
	CHECK(raw_points(db, "a") == 200); /* a/y keeps 6 h of raw */
	CHECK(raw_points(db, "b") == 200);
	{
		bar_tsdb_matcher m[2] = {{"ns", "a", BAR_TSDB_EQ}, {"mci", "x", BAR_TSDB_EQ}};
		bar_tsdb_result r;
		if (query(&r, db, m, 2, 0, INT64_MAX / 2, 0, BAR_TSDB_AVG, 0) == 0) {
			CHECK(r.nseries == 0);
			bar_tsdb_result_free(&r);
		}
		/* its roll-ups answer instead */
		if (query(&r, db, m, 2, T0, T0 + 2000000, 10000, BAR_TSDB_COUNT, 0) == 0) {
			CHECK(r.nseries == 1 && r.tier == BAR_TSDB_ROLLUP);
			bar_tsdb_result_free(&r);
		}
	}
	/* cleared: the store's retention again */
	CHECK(bar_tsdb_retention_set(db, "a", "x", NULL, why, sizeof(why)) == 0);
	bar_tsdb_close(db);
}

/* ---- crash safety ---- */

static void crash_child(int wfd)
{
	bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
	bar_tsdb *db = NULL;
	char why[300], path[200];

	snprintf(path, sizeof(path), "%s/crash.db", scratch);
	o.path = path;
	o.chunk_points = 128;
	o.log_checkpoint_bytes = 16384; /* checkpoints often: a kill may land in one */
	if (bar_tsdb_open(&db, &o, why, sizeof(why)) < 0)
		_exit(3);
	for (int32_t b = 0;; b++) {
		bar_msample s[40];
		bar_mlabel l[2][2] = {{{"__name__", "m"}, {"vm", "a"}}, {{"__name__", "m"}, {"vm", "b"}}};
		bar_mseries se[2];
		for (int i = 0; i < 40; i++)
			s[i] = (bar_msample){1000LL * (b * 40 + i + 1), b * 40 + i + 1};
		se[0] = (bar_mseries){l[0], 2, s, 40};
		se[1] = (bar_mseries){l[1], 2, s, 40};
		if (bar_tsdb_append(db, se, 2, NULL, why, sizeof(why)) < 0)
			_exit(4);
		if (b % 5 == 0 && bar_tsdb_maintain(db, 1000LL * (b * 40), why, sizeof(why)) < 0)
			_exit(6);
		/* acknowledged: tell the parent */
		if (write(wfd, &b, sizeof(b)) != (ssize_t)sizeof(b))
			_exit(5);
	}
}

static void test_crash(void)
{
	int p[2];
	pid_t pid;
	int32_t acked = -1, b;
	struct timespec t0, t1;

	if (pipe(p) < 0) {
		failures++;
		return;
	}
	if ((pid = fork()) == 0) {
		close(p[0]);
		crash_child(p[1]);
	}
	close(p[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = read(p[0], &b, sizeof(b));
		if (n != (ssize_t)sizeof(b))
			break;
		acked = b;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* kill at some instant after 300 acknowledged batches (or 20 s) */
		if (acked >= 300 + (int32_t)(rnd() % 200) || t1.tv_sec - t0.tv_sec > 20)
			break;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	CHECK(acked >= 100);
	bar_tsdb *db = open_db("crash.db", NULL);
	if (!db)
		return;
	{
		bar_tsdb_matcher m = {"__name__", "m", BAR_TSDB_EQ};
		bar_tsdb_result r;
		int64_t want = (int64_t)(acked + 1) * 40;
		if (query(&r, db, &m, 1, 0, INT64_MAX / 2, 0, BAR_TSDB_AVG, 0) == 0) {
			CHECK(r.nseries == 2);
			for (size_t i = 0; i < r.nseries; i++) {
				/* every acknowledged sample, in order, maybe one batch more */
				CHECK((int64_t)r.series[i].npoints >= want);
				for (size_t j = 0; j < r.series[i].npoints && j < (size_t)want; j++)
					if (r.series[i].points[j].t_ms != 1000LL * (int64_t)(j + 1) ||
					    r.series[i].points[j].v != (double)(j + 1)) {
						fprintf(stderr, "crash: series %zu sample %zu wrong\n", i, j);
						failures++;
						break;
					}
			}
			fprintf(stderr, "crash: %d batches acknowledged, %zu samples back\n", acked + 1,
			        r.nseries ? r.series[0].npoints : 0);
			bar_tsdb_result_free(&r);
		}
	}
	bar_tsdb_close(db);
}

/* ---- concurrency ---- */

typedef struct worker {
	bar_tsdb *db;
	int id, failed;
} worker;

static void *appender(void *arg)
{
	worker *w = arg;
	char vm[16], why[300];

	snprintf(vm, sizeof(vm), "vm%d", w->id);
	for (int b = 0; b < 200; b++) {
		bar_msample s[50];
		bar_mlabel l[3][2] = {{{"__name__", "m1"}, {"vm", vm}}, {{"__name__", "m2"}, {"vm", vm}},
		                      {{"__name__", "m3"}, {"vm", vm}}};
		bar_mseries se[3];
		for (int i = 0; i < 50; i++)
			s[i] = (bar_msample){T0 + 1000LL * (b * 50 + i), (double)(b * 50 + i) / 100};
		for (int k = 0; k < 3; k++)
			se[k] = (bar_mseries){l[k], 2, s, 50};
		if (bar_tsdb_append(w->db, se, 3, NULL, why, sizeof(why)) < 0)
			w->failed = 1;
		if (w->id == 0 && b % 10 == 0 &&
		    bar_tsdb_maintain(w->db, T0 + 1000LL * b * 50, why, sizeof(why)) < 0)
			w->failed = 1;
	}
	return NULL;
}

static void *querier(void *arg)
{
	worker *w = arg;
	bar_tsdb_matcher m = {"__name__", "m.", BAR_TSDB_RE};

	for (int i = 0; i < 60; i++) {
		bar_tsdb_query q = {&m, 1, T0, T0 + 10000000, i % 2 ? 10000 : 0, BAR_TSDB_AVG, 0};
		bar_tsdb_result r;
		char why[300];
		if (bar_tsdb_select(&r, w->db, &q, why, sizeof(why)) < 0) {
			w->failed = 1;
			continue;
		}
		for (size_t s = 0; s < r.nseries; s++)
			for (size_t j = 1; j < r.series[s].npoints; j++)
				if (r.series[s].points[j].t_ms <= r.series[s].points[j - 1].t_ms)
					w->failed = 1;
		bar_tsdb_stats st;
		bar_tsdb_stats_get(w->db, &st);
		bar_tsdb_result_free(&r);
	}
	return NULL;
}

static void test_concurrent(void)
{
	bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
	bar_tsdb *db;
	pthread_t th[6];
	worker w[6];

	o.chunk_points = 100;
	o.log_checkpoint_bytes = 65536; /* checkpoints among the appends and syncs */
	if (!(db = open_db("conc.db", &o)))
		return;
	for (int i = 0; i < 6; i++) {
		w[i] = (worker){db, i, 0};
		CHECK(pthread_create(&th[i], NULL, i < 4 ? appender : querier, &w[i]) == 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		CHECK(!w[i].failed);
	}
	bar_tsdb_stats st;
	bar_tsdb_stats_get(db, &st);
	if (st.series != 12 || st.points[BAR_TSDB_RAW] != 12 * 200 * 50) {
		fprintf(stderr, "concurrent: %llu series, %llu raw points\n",
		        (unsigned long long)st.series, (unsigned long long)st.points[BAR_TSDB_RAW]);
		failures++;
	}
	{
		bar_tsdb_matcher m = {"vm", "vm2", BAR_TSDB_EQ};
		bar_tsdb_result r;
		if (query(&r, db, &m, 1, 0, INT64_MAX / 2, 0, BAR_TSDB_AVG, 0) == 0) {
			CHECK(r.nseries == 3);
			for (size_t i = 0; i < r.nseries; i++) {
				CHECK(r.series[i].npoints == 10000);
				for (size_t j = 0; j < r.series[i].npoints; j++)
					if (r.series[i].points[j].v != (double)j / 100) {
						failures++;
						break;
					}
			}
			bar_tsdb_result_free(&r);
		}
	}
	bar_tsdb_close(db);
}

/* ---- a bounded file ---- */

static uint64_t file_bytes(bar_tsdb *db)
{
	bar_tsdb_stats st;
	bar_tsdb_stats_get(db, &st);
	return st.file_bytes;
}

static void test_bounded(void)
{
	bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
	bar_tsdb *db;
	char why[300];
	uint64_t at10 = 0, at40 = 0;
	enum { SERIES = 40, PER_HOUR = 360 };

	o.sync = 0; /* this test is about space; the log is tested above */
	o.retention_ms[BAR_TSDB_RAW] = 2 * 3600000LL;
	o.retention_ms[BAR_TSDB_ROLLUP] = 4 * 3600000LL;
	o.retention_ms[BAR_TSDB_COARSE] = 8 * 3600000LL;
	o.rollup_after_ms = 1800000;
	if (!(db = open_db("bounded.db", &o)))
		return;
	for (int h = 0; h < 40; h++) {
		for (int sidx = 0; sidx < SERIES; sidx++) {
			bar_msample s[PER_HOUR];
			char vm[16];
			/* half the VMs stay, half are new every hour */
			snprintf(vm, sizeof(vm), "vm%d-%d", sidx, sidx < SERIES / 2 ? 0 : h);
			for (int i = 0; i < PER_HOUR; i++)
				s[i] = (bar_msample){T0 + 3600000LL * h + 10000LL * i,
				                     (double)(rnd() % 10000) / 100};
			CHECK(append1(db, "ns", "mci", vm, s, PER_HOUR, NULL) == 0);
		}
		for (int k = 1; k <= 6; k++)
			CHECK(bar_tsdb_maintain(db, T0 + 3600000LL * h + 600000LL * k, why,
			                        sizeof(why)) == 0);
		CHECK(bar_tsdb_flush(db, why, sizeof(why)) == 0);
		if (h == 10)
			at10 = file_bytes(db);
		if (h == 39)
			at40 = file_bytes(db);
	}
	fprintf(stderr, "bounded: %llu bytes after 10 h, %llu after 40 h\n",
	        (unsigned long long)at10, (unsigned long long)at40);
	CHECK(at10 > 0 && at40 <= at10 + at10 / 5);
	bar_tsdb_stats st;
	bar_tsdb_stats_get(db, &st);
	fprintf(stderr, "bounded: points %llu %llu %llu chunks %llu %llu %llu\n",
	        (unsigned long long)st.points[0], (unsigned long long)st.points[1],
	        (unsigned long long)st.points[2], (unsigned long long)st.chunks[0],
	        (unsigned long long)st.chunks[1], (unsigned long long)st.chunks[2]);
	CHECK(st.points[BAR_TSDB_RAW] <= (uint64_t)SERIES * PER_HOUR * 4);
	/* the VMs gone were forgotten once their data expired: 20 stay, 20 a
	 * hour for the 8 h of coarse retention and the hours around it */
	fprintf(stderr, "bounded: %llu series\n", (unsigned long long)st.series);
	CHECK(st.series <= SERIES / 2 + SERIES / 2 * 12);
	bar_tsdb_close(db);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	int all = !strcmp(what, "all");

	snprintf(scratch, sizeof(scratch), "/tmp/test_tsdb.XXXXXX");
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	rng ^= (uint64_t)getpid();
	if (all || !strcmp(what, "codec"))
		test_codec();
	if (all || !strcmp(what, "select"))
		test_select();
	if (all || !strcmp(what, "rollup"))
		test_rollup();
	if (all || !strcmp(what, "retention"))
		test_retention();
	if (all || !strcmp(what, "crash"))
		test_crash();
	if (all || !strcmp(what, "concurrent"))
		test_concurrent();
	if (all || !strcmp(what, "bounded"))
		test_bounded();
	if (failures)
		fprintf(stderr, "test_tsdb %s: %d failures\n", what, failures);
	return failures ? 1 : 0;
}
