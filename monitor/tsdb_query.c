/*
 * tsdb_query.c - bar_tsdb_select: the series matching a query's matchers,
 * each with its samples (step 0) or one point per step.
 *
 * A series' answer is stitched from its tiers, newest data finest: raw
 * where raw data still exists, roll-up buckets before that, coarse
 * buckets before those; a tier takes part only when its step divides the
 * query's.  So roll-up answers come from raw while raw covers the range
 * (roll-ups are materialised late, tsdb_rollup.c), and from the stored
 * buckets once raw is gone, with the same values.  A bucket (e - step, e]
 * counts toward the output point whose range holds e.
 *
 * Locking: the matching series, their open chunks and watermarks are
 * copied under the store's lock; sealed chunks are then read through the
 * reading connection under its own lock, so appends go on meanwhile.
 */
#include "tsdb_store.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MATCHERS 64
#define MAX_STEPS 1000000   /* output points per series */
#define TIME_LIMIT (1LL << 62)

typedef struct job {
	int64_t id;             /* the series itself may go once the lock is left */
	bar_mlabel *labels;     /* the caller's copy: one block */
	size_t nlabels;
	int64_t first[BAR_TSDB_TIERS], rolled[BAR_TSDB_TIERS];
	bar_msample *open;      /* the open chunk's samples in the window */
	size_t nopen;
	int64_t open_first;     /* the open chunk's first time (INT64_MAX: empty) */
} job;

static int64_t ceil_to(int64_t t, int64_t step)
{
	int64_t q = t / step;
	if (t % step && t > 0)
		q++;
	return q * step;
}

int bar_tsdb_series_cmp(const bar_tsdb_series *a, const bar_tsdb_series *b)
{
	size_t n = a->nlabels < b->nlabels ? a->nlabels : b->nlabels;

	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a->labels[i].name, b->labels[i].name);
		if (c || (c = strcmp(a->labels[i].value, b->labels[i].value)))
			return c;
	}
	return a->nlabels < b->nlabels ? -1 : a->nlabels > b->nlabels;
}

static int series_cmp(const void *a, const void *b)
{
	return bar_tsdb_series_cmp(a, b);
}

static int matches(const tsdb_series *s, const bar_tsdb_query *q, regex_t *re)
{
	for (size_t i = 0; i < q->nmatchers; i++) {
		const bar_tsdb_matcher *m = &q->matchers[i];
		const char *v = tsdb_label(s, m->name);
		int ok;
		if (!v)
			v = ""; /* as Prometheus: a missing label has the empty value */
		switch (m->op) {
		case BAR_TSDB_EQ: ok = strcmp(v, m->value) == 0; break;
		case BAR_TSDB_NE: ok = strcmp(v, m->value) != 0; break;
		case BAR_TSDB_RE: ok = regexec(&re[i], v, 0, NULL, 0) == 0; break;
		default: ok = regexec(&re[i], v, 0, NULL, 0) != 0; break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

/* A copy of s's labels in one block (labels first, then the text). */
static bar_mlabel *labels_copy(const tsdb_series *s)
{
	bar_mlabel *l = malloc(s->nlabels * sizeof(*l) + s->bloblen);
	char *text;

	if (!l)
		return NULL;
	text = (char *)(l + s->nlabels);
	memcpy(text, s->blob, s->bloblen);
	for (size_t i = 0; i < s->nlabels; i++) {
		l[i].name = text + (s->labels[i].name - s->blob);
		l[i].value = text + (s->labels[i].value - s->blob);
	}
	return l;
}

static void agg_point(bar_msample *out, size_t *np, int64_t t, const tsdb_rec *r, size_t n,
                      int fn)
{
	static const double p10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};
	double sum = 0, mn = INFINITY, mx = -INFINITY, last = NAN, cnt = 0;
	int64_t m = 0;
	int d = 0;

	for (size_t i = 0; i < n; i++) {
		if (isnan(r[i].c[TSDB_COL_LAST]) || r[i].c[TSDB_COL_COUNT] <= 0)
			continue;
		int e = d >= 0 ? tsdb_decimals(r[i].c[TSDB_COL_SUM]) : -1;
		d = e < 0 ? -1 : e > d ? e : d;
		sum += r[i].c[TSDB_COL_SUM];
		if (r[i].c[TSDB_COL_MIN] < mn)
			mn = r[i].c[TSDB_COL_MIN];
		if (r[i].c[TSDB_COL_MAX] > mx)
			mx = r[i].c[TSDB_COL_MAX];
		last = r[i].c[TSDB_COL_LAST];
		cnt += r[i].c[TSDB_COL_COUNT];
	}
	if (cnt <= 0)
		return;
	/* sums of decimals added in integers: the same answer from raw and
	 * from roll-ups (whose sums were made so), whatever the order */
	for (size_t i = 0; d >= 0 && i < n; i++) {
		if (isnan(r[i].c[TSDB_COL_LAST]) || r[i].c[TSDB_COL_COUNT] <= 0)
			continue;
		if (__builtin_add_overflow(m, llround(r[i].c[TSDB_COL_SUM] * p10[d]), &m) ||
		    m > (1LL << 53) || m < -(1LL << 53))
			d = -1;
	}
	if (d >= 0)
		sum = (double)m / p10[d];
	double v = fn == BAR_TSDB_AVG ? sum / cnt : fn == BAR_TSDB_MIN ? mn
	         : fn == BAR_TSDB_MAX ? mx : fn == BAR_TSDB_LAST ? last
	         : fn == BAR_TSDB_SUM ? sum : cnt;
	out[(*np)++] = (bar_msample){t, v};
}

/* The answer for one series into out (labels already there). */
static int run_job(bar_tsdb_series *out, int *tier_used, bar_tsdb *db, const job *j,
                   const bar_tsdb_query *q, char *why, size_t wsize)
{
	tsdb_recs recs = {0};
	int64_t w = q->fn == BAR_TSDB_LAST && q->lookback_ms > 0 ? q->lookback_ms : q->step_ms;
	int64_t wlo = q->step_ms ? q->start_ms - w : q->start_ms - 1, whi = q->end_ms;
	int use[BAR_TSDB_TIERS] = {1, 0, 0}, rc = -1;
	int64_t lo[BAR_TSDB_TIERS], hi[BAR_TSDB_TIERS];
	tsdb_series key = {0};

	key.id = j->id;
	for (int k = 1; q->step_ms && k < BAR_TSDB_TIERS; k++)
		use[k] = db->o.step_ms[k] > 0 && q->step_ms % db->o.step_ms[k] == 0;
	/* each used tier's range (lo, hi], finest newest */
	{
		int64_t bound = INT64_MAX, cov;
		int prev = BAR_TSDB_RAW;
		cov = j->first[0] < j->open_first ? j->first[0] : j->open_first;
		hi[0] = INT64_MAX;
		lo[0] = INT64_MIN;
		for (int k = 1; k < BAR_TSDB_TIERS; k++) {
			if (!use[k])
				continue;
			int64_t b = j->rolled[k];
			if (b != INT64_MIN && cov != INT64_MAX) {
				int64_t c = ceil_to(cov, db->o.step_ms[k]);
				if (c < b)
					b = c;
			}
			if (b > bound)
				b = bound;
			lo[prev] = b;
			hi[k] = b;
			lo[k] = INT64_MIN;
			bound = b;
			cov = j->first[k] == INT64_MAX ? INT64_MAX : j->first[k] - db->o.step_ms[k];
			prev = k;
		}
	}
	for (int k = BAR_TSDB_TIERS - 1; k >= 0; k--) {
		int64_t a, b;
		size_t before = recs.n;
		if (!use[k])
			continue;
		a = lo[k] > wlo ? lo[k] : wlo;
		b = hi[k] < whi ? hi[k] : whi;
		if (a >= b)
			continue;
		if (tsdb_recs_load(&recs, db->r, db->ld_r, &key, k, a, b, why, wsize) < 0)
			goto done;
		for (size_t i = 0; k == BAR_TSDB_RAW && i < j->nopen; i++) {
			double c[TSDB_AGG_COLS] = {j->open[i].v, j->open[i].v, j->open[i].v,
			                           j->open[i].v, 1};
			if (j->open[i].t_ms > a && j->open[i].t_ms <= b &&
			    (!recs.n || j->open[i].t_ms > recs.r[recs.n - 1].t) &&
			    tsdb_recs_add(&recs, j->open[i].t_ms, c) < 0)
				goto oom;
		}
		if (recs.n > before && k > *tier_used)
			*tier_used = k;
	}
	if (q->step_ms == 0) {
		out->points = malloc((recs.n ? recs.n : 1) * sizeof(*out->points));
		if (!out->points)
			goto oom;
		for (size_t i = 0; i < recs.n; i++)
			out->points[i] = (bar_msample){recs.r[i].t, recs.r[i].c[TSDB_COL_LAST]};
		out->npoints = recs.n;
	} else {
		size_t nsteps = (size_t)((q->end_ms - q->start_ms) / q->step_ms) + 1, a = 0, b = 0;
		out->points = malloc((recs.n < nsteps ? recs.n + 1 : nsteps) * sizeof(*out->points));
		if (!out->points)
			goto oom;
		for (size_t i = 0; i < nsteps; i++) {
			int64_t t = q->start_ms + (int64_t)i * q->step_ms;
			while (a < recs.n && recs.r[a].t <= t - w)
				a++;
			if (b < a)
				b = a;
			while (b < recs.n && recs.r[b].t <= t)
				b++;
			if (b > a)
				agg_point(out->points, &out->npoints, t, recs.r + a, b - a, q->fn);
		}
	}
	rc = 0;
	goto done;
oom:
	snprintf(why, wsize, "tsdb: out of memory (query)");
done:
	free(recs.r);
	return rc;
}

void bar_tsdb_result_free(bar_tsdb_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nseries; i++) {
		free(r->series[i].labels);
		free(r->series[i].points);
	}
	free(r->series);
	memset(r, 0, sizeof(*r));
}

int bar_tsdb_select(bar_tsdb_result *out, bar_tsdb *db, const bar_tsdb_query *q, char *why,
                    size_t wsize)
{
	regex_t re[MAX_MATCHERS];
	size_t nre = 0, njobs = 0, cap = 0;
	job *jobs = NULL;
	bar_tsdb_result r = {0};
	int rc = -1, tier = 0;

	/* times within +-2^62 ms (146 million years), so no sum below overflows */
	if (!q || q->nmatchers > MAX_MATCHERS || (q->nmatchers && !q->matchers) ||
	    q->end_ms < q->start_ms || q->start_ms < -TIME_LIMIT || q->end_ms > TIME_LIMIT ||
	    q->step_ms < 0 || q->step_ms > TIME_LIMIT || q->fn < BAR_TSDB_AVG ||
	    q->fn > BAR_TSDB_COUNT || q->lookback_ms < 0 || q->lookback_ms > TIME_LIMIT) {
		snprintf(why, wsize, "tsdb: query: bad matchers, range, step or fn");
		return -1;
	}
	if (q->step_ms && (uint64_t)(q->end_ms - q->start_ms) / (uint64_t)q->step_ms >= MAX_STEPS) {
		snprintf(why, wsize, "tsdb: query: more than %d steps", MAX_STEPS);
		return -1;
	}
	for (size_t i = 0; i < q->nmatchers; i++) {
		const bar_tsdb_matcher *m = &q->matchers[i];
		if (!m->name || !m->value || m->op < BAR_TSDB_EQ || m->op > BAR_TSDB_NRE) {
			snprintf(why, wsize, "tsdb: query: matcher %zu is incomplete", i);
			goto done;
		}
		if (m->op == BAR_TSDB_RE || m->op == BAR_TSDB_NRE) {
			char pat[4200];
			int e;
			if (strlen(m->value) > 4096) {
				snprintf(why, wsize, "tsdb: query: regex over 4096 bytes");
				goto done;
			}
			/* the pattern alone first: one that compiles has balanced
			 * parentheses, so the anchors wrap all of it */
			if ((e = regcomp(&re[i], m->value, REG_EXTENDED | REG_NOSUB)) == 0) {
				regfree(&re[i]);
				snprintf(pat, sizeof(pat), "^(%s)$", m->value);
				e = regcomp(&re[i], pat, REG_EXTENDED | REG_NOSUB);
			}
			if (e != 0) {
				char msg[128];
				regerror(e, &re[i], msg, sizeof(msg));
				snprintf(why, wsize, "tsdb: query: regex \"%.80s\": %s", m->value, msg);
				goto done;
			}
		}
		nre = i + 1;
	}
	pthread_mutex_lock(&db->mu);
	for (int64_t id = 1; id <= db->maxid; id++) {
		const tsdb_series *s = db->byid[id - 1];
		job *jb;
		if (!s || !matches(s, q, re))
			continue;
		if (tsdb_grow(&jobs, &cap, njobs + 1, sizeof(*jobs)) < 0)
			goto oom_locked;
		jb = &jobs[njobs];
		memset(jb, 0, sizeof(*jb));
		jb->id = s->id;
		jb->nlabels = s->nlabels;
		memcpy(jb->first, s->first, sizeof(jb->first));
		memcpy(jb->rolled, s->rolled, sizeof(jb->rolled));
		jb->open_first = s->n ? s->t[0] : INT64_MAX;
		if (!(jb->labels = labels_copy(s)))
			goto oom_locked;
		njobs++;
		if (s->n) {
			jb->open = malloc(s->n * sizeof(*jb->open));
			if (!jb->open)
				goto oom_locked;
			for (size_t i = 0; i < s->n; i++)
				if (s->t[i] <= q->end_ms)
					jb->open[jb->nopen++] = (bar_msample){s->t[i], s->v[i]};
		}
	}
	pthread_mutex_unlock(&db->mu);

	r.series = calloc(njobs ? njobs : 1, sizeof(*r.series));
	if (!r.series) {
		snprintf(why, wsize, "tsdb: out of memory (query)");
		goto done;
	}
	pthread_mutex_lock(&db->rmu);
	for (size_t i = 0; i < njobs; i++) {
		bar_tsdb_series *o = &r.series[r.nseries];
		o->labels = jobs[i].labels;
		o->nlabels = jobs[i].nlabels;
		jobs[i].labels = NULL;
		r.nseries++;
		if (run_job(o, &tier, db, &jobs[i], q, why, wsize) < 0) {
			pthread_mutex_unlock(&db->rmu);
			goto done;
		}
		if (o->npoints == 0) { /* nothing in range: not part of the answer */
			free(o->labels);
			free(o->points);
			memset(o, 0, sizeof(*o));
			r.nseries--;
		}
	}
	pthread_mutex_unlock(&db->rmu);
	if (r.nseries > 1)
		qsort(r.series, r.nseries, sizeof(*r.series), series_cmp);
	r.tier = tier;
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
	goto done;
oom_locked:
	pthread_mutex_unlock(&db->mu);
	snprintf(why, wsize, "tsdb: out of memory (query)");
done:
	bar_tsdb_result_free(&r);
	for (size_t i = 0; i < njobs; i++) {
		free(jobs[i].labels);
		free(jobs[i].open);
	}
	free(jobs);
	for (size_t i = 0; i < nre; i++)
		if (q->matchers[i].op == BAR_TSDB_RE || q->matchers[i].op == BAR_TSDB_NRE)
			regfree(&re[i]);
	return rc;
}
