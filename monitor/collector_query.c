/*
 * collector_query.c - a collector's queries: gather a selection from this
 * collector's store and its peers (series split across collectors by a
 * failover merge into one), aggregate across series, and answer in
 * Prometheus' JSON (query_range, query, labels) or Barista's (/v1/query).
 *
 * Peers are asked through /v1/select with local=1, so a query fans out one
 * level only.  A peer that does not answer makes the result partial, not
 * failed: the answer carries a warning naming it (Prometheus' "warnings").
 */
#include "collector_int.h"
#include "json.h"
#include "metrics.h"
#include "promql.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_TIMEOUT_MS 5000
#define PEER_MAX_BODY (64u << 20)
#define MAX_POINTS 2000000   /* series x steps of one answer */

/* ---- series lists of our own (collector_gather's result) ---- */

static void series_clear(bar_tsdb_series *s)
{
	for (size_t j = 0; j < s->nlabels; j++) {
		free((char *)s->labels[j].name);
		free((char *)s->labels[j].value);
	}
	free(s->labels);
	free(s->points);
}

void collector_result_free(bar_tsdb_result *r)
{
	for (size_t i = 0; r && i < r->nseries; i++)
		series_clear(&r->series[i]);
	if (r) {
		free(r->series);
		memset(r, 0, sizeof(*r));
	}
}


static int series_sort_cmp(const void *a, const void *b)
{
	return bar_tsdb_series_cmp(a, b);
}

static int point_cmp(const void *a, const void *b)
{
	const bar_msample *x = a, *y = b;
	return x->t_ms < y->t_ms ? -1 : x->t_ms > y->t_ms;
}

/* Append a deep copy of s to list. */
static void list_add(bar_tsdb_result *list, size_t *cap, const bar_tsdb_series *s)
{
	bar_tsdb_series *d;

	if (list->nseries == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		list->series = bar_realloc(list->series, *cap * sizeof(*list->series));
	}
	d = &list->series[list->nseries++];
	d->nlabels = s->nlabels;
	d->labels = bar_calloc(s->nlabels ? s->nlabels : 1, sizeof(*d->labels));
	for (size_t j = 0; j < s->nlabels; j++) {
		d->labels[j].name = bar_strdup(s->labels[j].name);
		d->labels[j].value = bar_strdup(s->labels[j].value);
	}
	d->npoints = s->npoints;
	d->points = bar_malloc((s->npoints ? s->npoints : 1) * sizeof(*d->points));
	memcpy(d->points, s->points, s->npoints * sizeof(*d->points));
}

/* Sort by labels and merge series with equal labels (points by time, the
 * first of equal timestamps kept). */
static void list_merge(bar_tsdb_result *list)
{
	size_t w = 0;

	if (list->nseries > 1)
		qsort(list->series, list->nseries, sizeof(*list->series), series_sort_cmp);
	for (size_t i = 0; i < list->nseries; i++) {
		bar_tsdb_series *s = &list->series[i];

		if (w > 0 && bar_tsdb_series_cmp(&list->series[w - 1], s) == 0) {
			bar_tsdb_series *d = &list->series[w - 1];
			size_t k = 0;

			d->points = bar_realloc(d->points, (d->npoints + s->npoints + 1) *
			                                       sizeof(*d->points));
			memcpy(d->points + d->npoints, s->points, s->npoints * sizeof(*s->points));
			d->npoints += s->npoints;
			qsort(d->points, d->npoints, sizeof(*d->points), point_cmp);
			for (size_t j = 0; j < d->npoints; j++)
				if (k == 0 || d->points[j].t_ms != d->points[k - 1].t_ms)
					d->points[k++] = d->points[j];
			d->npoints = k;
			series_clear(s);
			continue;
		}
		list->series[w++] = *s;
	}
	list->nseries = w;
}

/* ---- peers ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	bar_buf *b = ud;
	return bar_buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

static void buf_matcher(bar_buf *b, const bar_tsdb_matcher *m, int first)
{
	static const char *const ops[] = {"=", "!=", "=~", "!~"};

	bar_buf_printf(b, "%s%s%s\"", first ? "" : ",", m->name, ops[m->op]);
	for (const char *v = m->value; *v; v++) {
		if (*v == '"' || *v == '\\')
			bar_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			bar_buf_puts(b, "\\n");
		else
			bar_buf_add(b, v, 1);
	}
	bar_buf_puts(b, "\"");
}

/* The peer's /v1/select answer into list; 0 or -1 with why. */
static int peer_select(bar_tsdb_result *list, size_t *cap, const char *peer,
                       const bar_tsdb_query *q, char *why, size_t wsize)
{
	bar_buf sel = BAR_BUF_INIT(0), url = BAR_BUF_INIT(0), body = BAR_BUF_INIT(PEER_MAX_BODY);
	CURL *h = curl_easy_init();
	json_t *j = NULL, *arr, *s;
	char *esc = NULL;
	long status = 0;
	size_t i;
	int rc = -1;

	bar_buf_puts(&sel, "{");
	for (size_t k = 0; k < q->nmatchers; k++)
		buf_matcher(&sel, &q->matchers[k], k == 0);
	bar_buf_puts(&sel, "}");
	if (!h || !(esc = curl_easy_escape(h, sel.data, (int)sel.len))) {
		snprintf(why, wsize, "out of memory");
		goto done;
	}
	bar_buf_printf(&url, "%s/v1/select?local=1&match=%s&start=%lld&end=%lld&step=%lld&fn=%d"
	               "&lookback=%lld", peer, esc, (long long)q->start_ms, (long long)q->end_ms,
	               (long long)q->step_ms, q->fn, (long long)q->lookback_ms);
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)PEER_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_easy_perform(h) != CURLE_OK) {
		snprintf(why, wsize, "peer %s did not answer", peer);
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || !(j = json_loadb(body.data ? body.data : "", body.len, 0, NULL))) {
		snprintf(why, wsize, "peer %s answered HTTP %ld", peer, status);
		goto done;
	}
	arr = json_object_get(j, "series");
	json_array_foreach(arr, i, s) {
		json_t *labels = json_object_get(s, "labels"), *pts = json_object_get(s, "points"), *v;
		bar_tsdb_series one = {0};
		const char *k;
		size_t n = 0, pi;

		one.labels = bar_calloc(json_object_size(labels) + 1, sizeof(*one.labels));
		json_object_foreach(labels, k, v)
			if (json_is_string(v)) {
				one.labels[n].name = k;
				one.labels[n++].value = json_string_value(v);
			}
		one.nlabels = n;
		one.points = bar_calloc(json_array_size(pts) + 1, sizeof(*one.points));
		json_array_foreach(pts, pi, v) {
			one.points[one.npoints].t_ms = json_integer_value(json_array_get(v, 0));
			one.points[one.npoints++].v = json_number_value(json_array_get(v, 1));
		}
		/* jansson keeps object keys in insertion order; ours come sorted */
		list_add(list, cap, &one);
		free(one.labels);
		free(one.points);
	}
	rc = 0;
done:
	json_decref(j);
	curl_free(esc);
	if (h)
		curl_easy_cleanup(h);
	bar_buf_free(&sel);
	bar_buf_free(&url);
	bar_buf_free(&body);
	return rc;
}

int collector_gather(bar_tsdb_result *out, bar_collector *c, const bar_tsdb_query *q, int local,
                     char *why, size_t wsize)
{
	bar_tsdb_result mine, list = {0};
	size_t cap = 0;

	if (bar_tsdb_select(&mine, c->db, q, why, wsize) < 0)
		return -1;
	for (size_t i = 0; i < mine.nseries; i++)
		list_add(&list, &cap, &mine.series[i]);
	list.tier = mine.tier;
	bar_tsdb_result_free(&mine);
	why[0] = '\0';
	for (size_t p = 0; !local && p < c->npeers; p++) {
		char pwhy[256];
		if (peer_select(&list, &cap, c->peers[p], q, pwhy, sizeof(pwhy)) < 0) {
			atomic_fetch_add(&c->st.peer_errors, 1);
			/* partial: say which peer was missing */
			snprintf(why + strlen(why), wsize - strlen(why), "%s%s", *why ? "; " : "", pwhy);
		}
	}
	list_merge(&list);
	*out = list;
	return 0;
}

/* ---- aggregation across series ---- */

/* Keep the labels of s that group it (by: in the list; without: not in the
 * list and not __name__). */
static int keeps(const bar_promql *pq, const char *name)
{
	int in = 0;

	for (size_t i = 0; i < pq->nby; i++)
		in |= strcmp(pq->by[i], name) == 0;
	return pq->without ? !in && strcmp(name, "__name__") != 0 : in;
}

static double combine(int agg, double acc, double v, size_t n)
{
	switch (agg) {
	case BAR_PROMQL_SUM: case BAR_PROMQL_AVG: return n ? acc + v : v;
	case BAR_PROMQL_MIN: return n && acc < v ? acc : v;
	case BAR_PROMQL_MAX: return n && acc > v ? acc : v;
	default: return acc + 1; /* count */
	}
}

/* Aggregate list in place (series that group together become one). */
void collector_aggregate(bar_tsdb_result *list, const bar_promql *pq)
{
	bar_tsdb_result out = {0};
	size_t cap = 0;

	/* reduce each series to its grouping labels, then merge equal groups by
	 * combining points at equal timestamps */
	for (size_t i = 0; i < list->nseries; i++) {
		bar_tsdb_series *s = &list->series[i];
		size_t k = 0;
		for (size_t j = 0; j < s->nlabels; j++) {
			if (keeps(pq, s->labels[j].name)) {
				s->labels[k++] = s->labels[j];
			} else {
				free((char *)s->labels[j].name);
				free((char *)s->labels[j].value);
			}
		}
		s->nlabels = k;
	}
	if (list->nseries > 1)
		qsort(list->series, list->nseries, sizeof(*list->series), series_sort_cmp);
	for (size_t i = 0; i < list->nseries;) {
		size_t j = i, total = 0, w = 0;
		bar_msample *all;
		size_t *counts;
		bar_tsdb_series g;

		while (j < list->nseries &&
		       bar_tsdb_series_cmp(&list->series[i], &list->series[j]) == 0)
			total += list->series[j++].npoints;
		all = bar_malloc((total + 1) * sizeof(*all));
		for (size_t k = i, o = 0; k < j; k++) {
			memcpy(all + o, list->series[k].points,
			       list->series[k].npoints * sizeof(*all));
			o += list->series[k].npoints;
		}
		qsort(all, total, sizeof(*all), point_cmp);
		counts = bar_calloc(total + 1, sizeof(*counts));
		for (size_t k = 0; k < total; k++) {
			if (isnan(all[k].v))
				continue;
			if (w && all[w - 1].t_ms == all[k].t_ms) {
				all[w - 1].v = combine(pq->agg, all[w - 1].v, all[k].v, counts[w - 1]);
				counts[w - 1]++;
			} else {
				all[w].t_ms = all[k].t_ms;
				all[w].v = pq->agg == BAR_PROMQL_COUNT ? 1 : all[k].v;
				counts[w++] = 1;
			}
		}
		if (pq->agg == BAR_PROMQL_AVG)
			for (size_t k = 0; k < w; k++)
				all[k].v /= (double)counts[k];
		g = list->series[i];
		g.points = all;
		g.npoints = w;
		list_add(&out, &cap, &g);
		free(all);
		free(counts);
		for (size_t k = i; k < j; k++)
			series_clear(&list->series[k]);
		i = j;
	}
	free(list->series);
	out.tier = list->tier;
	*list = out;
}

/* ---- parameters ---- */

static const char *arg(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	if (!v)
		v = MHD_lookup_connection_value(conn, MHD_POSTDATA_KIND, name);
	return v;
}

/* A Prometheus time: Unix seconds (fractions allowed) or RFC 3339. */
static int parse_time(const char *s, int64_t *out)
{
	char *end;
	double v;
	struct tm tm = {0};
	const char *rest;

	if (!s || !*s)
		return -1;
	v = strtod(s, &end);
	if (!*end && isfinite(v)) {
		*out = (int64_t)llround(v * 1000.0);
		return 0;
	}
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	*out = (int64_t)timegm(&tm) * 1000;
	if (*rest == '.') {
		double frac = strtod(rest, &end);
		*out += (int64_t)llround(frac * 1000.0);
		rest = end;
	}
	if (*rest == 'Z' && !rest[1])
		return 0;
	if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
		int sign = *rest == '-' ? -1 : 1, hh = atoi(rest + 1), mm = atoi(rest + 4);
		*out -= (int64_t)sign * (hh * 3600 + mm * 60) * 1000;
		return 0;
	}
	return -1;
}

/* A Prometheus duration: float seconds or 30s, 5m, 1h, 1d, 250ms, 1h30m. */
static int parse_span(const char *s, int64_t *out)
{
	char *end;
	double v;
	int64_t total = 0;

	if (!s || !*s)
		return -1;
	v = strtod(s, &end);
	if (!*end && isfinite(v) && v >= 0) {
		*out = (int64_t)llround(v * 1000.0);
		return 0;
	}
	while (*s) {
		long long n = strtoll(s, &end, 10);
		if (end == s || n < 0)
			return -1;
		s = end;
		if (!strncmp(s, "ms", 2))
			total += n, s += 2;
		else if (*s == 's')
			total += n * 1000, s++;
		else if (*s == 'm')
			total += n * 60000, s++;
		else if (*s == 'h')
			total += n * 3600000, s++;
		else if (*s == 'd')
			total += n * 86400000, s++;
		else if (*s == 'w')
			total += n * 7 * 86400000, s++;
		else
			return -1;
	}
	*out = total;
	return 0;
}

/* ---- answers ---- */

static void put_value(bar_buf *b, double v)
{
	if (isnan(v))
		bar_buf_puts(b, "\"NaN\"");
	else if (isinf(v))
		bar_buf_puts(b, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
	else
		bar_buf_printf(b, "\"%.17g\"", v);
}

static void put_labels(bar_buf *b, const bar_tsdb_series *s)
{
	bar_buf_puts(b, "{");
	for (size_t j = 0; j < s->nlabels; j++) {
		if (j)
			bar_buf_puts(b, ",");
		bar_json_canon_string(b, s->labels[j].name, strlen(s->labels[j].name));
		bar_buf_puts(b, ":");
		bar_json_canon_string(b, s->labels[j].value, strlen(s->labels[j].value));
	}
	bar_buf_puts(b, "}");
}

/* [{"labels":{...},"points":[[t_ms,v|null],...]},...] without the brackets. */
static void put_series_list(bar_buf *b, const bar_tsdb_result *r)
{
	for (size_t i = 0; i < r->nseries; i++) {
		bar_buf_puts(b, i ? ",{\"labels\":" : "{\"labels\":");
		put_labels(b, &r->series[i]);
		bar_buf_puts(b, ",\"points\":[");
		for (size_t k = 0; k < r->series[i].npoints; k++) {
			double v = r->series[i].points[k].v;
			bar_buf_printf(b, "%s[%lld,", k ? "," : "", (long long)r->series[i].points[k].t_ms);
			if (isfinite(v))
				bar_buf_printf(b, "%.17g]", v);
			else
				bar_buf_puts(b, "null]");
		}
		bar_buf_puts(b, "]}");
	}
}

static void put_warning(bar_buf *b, const char *warn)
{
	if (!warn || !*warn)
		return;
	bar_buf_puts(b, ",\"warnings\":[");
	bar_json_canon_string(b, warn, strlen(warn));
	bar_buf_puts(b, "]");
}

static enum MHD_Result answer_buf(struct MHD_Connection *conn, bar_buf *b)
{
	size_t len = b->len;
	return collector_answer(conn, MHD_HTTP_OK, bar_buf_take(b), len, "application/json");
}

static enum MHD_Result bad(bar_collector *c, struct MHD_Connection *conn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result bad(bar_collector *c, struct MHD_Connection *conn, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&c->st.query_errors, 1);
	return collector_error(conn, MHD_HTTP_BAD_REQUEST, "bad_data", "%s", msg);
}

enum MHD_Result collector_query_range(bar_collector *c, struct MHD_Connection *conn,
                                      int instant)
{
	const char *query = arg(conn, "query");
	bar_promql pq;
	bar_tsdb_query q = {0};
	bar_tsdb_result r;
	char why[512];
	int64_t start, end, step, now = collector_now_ms();
	bar_buf b = BAR_BUF_INIT(0);

	if (bar_promql_parse(&pq, query, why, sizeof(why)) < 0)
		return bad(c, conn, "query: %s", query ? why : "missing the query parameter");
	if (instant) {
		if (!arg(conn, "time"))
			start = now;
		else if (parse_time(arg(conn, "time"), &start) < 0) {
			bar_promql_free(&pq);
			return bad(c, conn, "time: \"%.60s\" is neither Unix seconds nor RFC 3339",
			           arg(conn, "time"));
		}
		end = start;
		step = 1000;
	} else if (parse_time(arg(conn, "start"), &start) < 0 || parse_time(arg(conn, "end"), &end) < 0 ||
	           parse_span(arg(conn, "step"), &step) < 0 || step <= 0 || end < start) {
		bar_promql_free(&pq);
		return bad(c, conn, "%s", "start, end (Unix seconds or RFC 3339, start <= end) and "
		           "step (a positive duration) are required");
	}
	if (!instant && (end - start) / step > 11000) {
		bar_promql_free(&pq);
		return bad(c, conn, "%s", "exceeded maximum resolution of 11,000 points per "
		           "timeseries; use a larger step");
	}
	q.matchers = pq.m;
	q.nmatchers = pq.nm;
	q.start_ms = start;
	q.end_ms = end;
	q.step_ms = step;
	q.fn = BAR_TSDB_LAST;
	q.lookback_ms = 5 * 60000; /* Prometheus' lookback delta */
	atomic_fetch_add(&c->st.queries, 1);
	if (collector_gather(&r, c, &q, arg(conn, "local") != NULL, why, sizeof(why)) < 0) {
		bar_promql_free(&pq);
		atomic_fetch_add(&c->st.query_errors, 1);
		return collector_error(conn, 500, "internal", "%s", why);
	}
	if (pq.agg != BAR_PROMQL_NONE)
		collector_aggregate(&r, &pq);
	bar_buf_printf(&b, "{\"status\":\"success\",\"data\":{\"resultType\":\"%s\",\"result\":[",
	               instant ? "vector" : "matrix");
	for (size_t i = 0, first = 1; i < r.nseries; i++) {
		bar_tsdb_series *s = &r.series[i];
		if (!s->npoints)
			continue;
		bar_buf_puts(&b, first ? "{\"metric\":" : ",{\"metric\":");
		first = 0;
		put_labels(&b, s);
		if (instant) {
			bar_buf_printf(&b, ",\"value\":[%.3f,", (double)s->points[s->npoints - 1].t_ms / 1e3);
			put_value(&b, s->points[s->npoints - 1].v);
			bar_buf_puts(&b, "]}");
			continue;
		}
		bar_buf_puts(&b, ",\"values\":[");
		for (size_t k = 0; k < s->npoints; k++) {
			bar_buf_printf(&b, "%s[%.3f,", k ? "," : "", (double)s->points[k].t_ms / 1e3);
			put_value(&b, s->points[k].v);
			bar_buf_puts(&b, "]");
		}
		bar_buf_puts(&b, "]}");
	}
	bar_buf_puts(&b, "]}");
	put_warning(&b, why);
	bar_buf_puts(&b, "}\n");
	collector_result_free(&r);
	bar_promql_free(&pq);
	return answer_buf(conn, &b);
}

/* /v1/select: a peer's plain selection (never fans out further). */
enum MHD_Result collector_select(bar_collector *c, struct MHD_Connection *conn)
{
	bar_promql pq;
	bar_tsdb_query q = {0};
	bar_tsdb_result r;
	bar_buf b = BAR_BUF_INIT(0);
	char why[512], *end;
	const char *fn = arg(conn, "fn");

	if (bar_promql_parse(&pq, arg(conn, "match"), why, sizeof(why)) < 0)
		return bad(c, conn, "match: %s", why);
	if (pq.agg != BAR_PROMQL_NONE) {
		bar_promql_free(&pq);
		return bad(c, conn, "match: %s", "a plain selector is required");
	}
	q.matchers = pq.m;
	q.nmatchers = pq.nm;
	q.start_ms = strtoll(arg(conn, "start") ? arg(conn, "start") : "0", &end, 10);
	q.end_ms = strtoll(arg(conn, "end") ? arg(conn, "end") : "0", &end, 10);
	q.step_ms = strtoll(arg(conn, "step") ? arg(conn, "step") : "0", &end, 10);
	q.lookback_ms = strtoll(arg(conn, "lookback") ? arg(conn, "lookback") : "0", &end, 10);
	q.fn = fn ? atoi(fn) : BAR_TSDB_AVG;
	if (q.fn < BAR_TSDB_AVG || q.fn > BAR_TSDB_COUNT || q.end_ms < q.start_ms || q.step_ms < 0) {
		bar_promql_free(&pq);
		return bad(c, conn, "%s", "bad start/end/step/fn");
	}
	if (bar_tsdb_select(&r, c->db, &q, why, sizeof(why)) < 0) {
		bar_promql_free(&pq);
		return collector_error(conn, 500, "internal", "%s", why);
	}
	bar_buf_puts(&b, "{\"series\":[");
	put_series_list(&b, &r);
	bar_buf_puts(&b, "]}\n");
	bar_tsdb_result_free(&r);
	bar_promql_free(&pq);
	return answer_buf(conn, &b);
}

/* /v1/query: Barista's own (the CLI's `metrics query` over HTTP). */
enum MHD_Result collector_query_barista(bar_collector *c, struct MHD_Connection *conn)
{
	static const char *const fns[] = {"avg", "min", "max", "last", "sum", "count", NULL};
	static const char *const aggs[] = {"sum", "avg", "min", "max", "count", NULL};
	const char *metric = arg(conn, "metric"), *ns = arg(conn, "ns"), *mci = arg(conn, "mci");
	const char *vm = arg(conn, "vm"), *fn = arg(conn, "fn"), *agg = arg(conn, "aggregate");
	const bar_metric_info *mi = bar_metric_find(metric);
	bar_tsdb_matcher m[4];
	bar_tsdb_query q = {0};
	bar_tsdb_result r;
	bar_promql pq = {.agg = BAR_PROMQL_NONE};
	bar_buf b = BAR_BUF_INIT(0);
	int64_t since = 3600000, step = 10000, now = collector_now_ms();
	char why[512];
	size_t nm = 0;

	if (!mi)
		return bad(c, conn, "metric \"%.80s\" is not in the catalogue (barista metrics list)",
		           metric ? metric : "");
	if ((arg(conn, "since") && parse_span(arg(conn, "since"), &since) < 0) ||
	    (arg(conn, "step") && (parse_span(arg(conn, "step"), &step) < 0 || step <= 0)))
		return bad(c, conn, "%s", "since and step are durations (30s, 5m, 1h)");
	if (since / step > 11000)
		return bad(c, conn, "%s", "more than 11,000 steps; use a larger step");
	m[nm++] = (bar_tsdb_matcher){"__name__", mi->prom, BAR_TSDB_EQ};
	m[nm++] = (bar_tsdb_matcher){"ns", ns && *ns ? ns : "default", BAR_TSDB_EQ};
	if (mci && *mci)
		m[nm++] = (bar_tsdb_matcher){"mci", mci, BAR_TSDB_EQ};
	if (vm && *vm)
		m[nm++] = (bar_tsdb_matcher){"vm", vm, BAR_TSDB_EQ};
	q.matchers = m;
	q.nmatchers = nm;
	q.end_ms = now / step * step;
	q.start_ms = q.end_ms - since;
	q.step_ms = step;
	q.fn = BAR_TSDB_AVG;
	for (int i = 0; fn && fns[i]; i++)
		if (!strcmp(fn, fns[i]))
			q.fn = i;
	if (fn && strcmp(fn, fns[q.fn]) != 0)
		return bad(c, conn, "fn \"%.20s\": use avg, min, max, last, sum or count", fn);
	if (agg && *agg && strcmp(agg, "none") != 0) {
		for (int i = 0; aggs[i]; i++)
			if (!strcmp(agg, aggs[i]))
				pq.agg = i;
		if (pq.agg == BAR_PROMQL_NONE)
			return bad(c, conn, "aggregate \"%.20s\": use none, sum, avg, min, max or count",
			           agg);
		pq.by[0] = (char *)"ns";
		pq.by[1] = (char *)"mci";
		pq.nby = 2;
	}
	atomic_fetch_add(&c->st.queries, 1);
	if (collector_gather(&r, c, &q, arg(conn, "local") != NULL, why, sizeof(why)) < 0) {
		atomic_fetch_add(&c->st.query_errors, 1);
		return collector_error(conn, 500, "internal", "%s", why);
	}
	if (pq.agg != BAR_PROMQL_NONE)
		collector_aggregate(&r, &pq);
	bar_buf_printf(&b, "{\"metric\":\"%s\",\"prom\":\"%s\",\"unit\":\"%s\",\"fn\":\"%s\","
	               "\"aggregate\":\"%s\",\"start\":%lld,\"end\":%lld,\"step\":%lld,\"tier\":%d,"
	               "\"series\":[", mi->name, mi->prom, mi->unit, fns[q.fn],
	               pq.agg == BAR_PROMQL_NONE ? "none" : aggs[pq.agg], (long long)q.start_ms,
	               (long long)q.end_ms, (long long)step, r.tier);
	put_series_list(&b, &r);
	bar_buf_puts(&b, "]");
	put_warning(&b, why);
	bar_buf_puts(&b, "}\n");
	collector_result_free(&r);
	return answer_buf(conn, &b);
}

/* /api/v1/labels and /api/v1/label/NAME/values over the last 6 h. */
enum MHD_Result collector_labels(bar_collector *c, struct MHD_Connection *conn,
                                 const char *label)
{
	bar_tsdb_matcher any = {"__name__", ".+", BAR_TSDB_RE};
	bar_tsdb_query q = {&any, 1, 0, 0, 0, BAR_TSDB_LAST, 0};
	bar_tsdb_result r;
	bar_buf b = BAR_BUF_INIT(0);
	char why[512];
	const char **seen = NULL;
	size_t nseen = 0, cap = 0;

	q.end_ms = collector_now_ms();
	q.start_ms = q.end_ms - 6 * 3600000LL;
	q.step_ms = q.end_ms - q.start_ms;
	if (collector_gather(&r, c, &q, arg(conn, "local") != NULL, why, sizeof(why)) < 0)
		return collector_error(conn, 500, "internal", "%s", why);
	for (size_t i = 0; i < r.nseries; i++)
		for (size_t j = 0; j < r.series[i].nlabels; j++) {
			const char *v = label ? (strcmp(r.series[i].labels[j].name, label) == 0
			                             ? r.series[i].labels[j].value : NULL)
			                      : r.series[i].labels[j].name;
			int dup = 0;
			for (size_t k = 0; v && k < nseen && !dup; k++)
				dup = strcmp(seen[k], v) == 0;
			if (!v || dup)
				continue;
			if (nseen == cap) {
				cap = cap ? cap * 2 : 32;
				seen = bar_realloc(seen, cap * sizeof(*seen));
			}
			seen[nseen++] = v;
		}
	bar_buf_puts(&b, "{\"status\":\"success\",\"data\":[");
	for (size_t k = 0; k < nseen; k++) {
		if (k)
			bar_buf_puts(&b, ",");
		bar_json_canon_string(&b, seen[k], strlen(seen[k]));
	}
	bar_buf_puts(&b, "]}\n");
	free(seen);
	collector_result_free(&r);
	return answer_buf(conn, &b);
}
