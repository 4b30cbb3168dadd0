/*
 * alarm.c - a collector's alarm engine: the MonitoringPolicies apply pushed
 * (PUT /v1/policies/NS/NAME, kept in "<store>.alarms", an SQLite file of
 * its own), their rules evaluated every store interval on what the
 * collectors hold (this one and its peers), alert states, notification
 * groups, and the history `barista alarms list` shows.
 *
 * Duty: of a set of collectors only one evaluates, so receivers are not
 * told twice: the alive collector whose URL sorts first among this one's
 * -self URL and its peers (peers are asked GET /healthz every 5 s).  A
 * collector without a -self URL evaluates (the usual single collector).
 * When the duty moves, the new collector rebuilds states from the data: a
 * firing alarm fires (and is notified) again after its `for`.
 */
#include "alarm.h"
#include "collector_int.h"
#include "metrics.h"
#include "promql.h"

#include <curl/curl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HISTORY_KEEP 10000 /* events kept in the history table */

typedef struct policy {
	char *ns, *name;
	json_t *attrs;
	int64_t next_ms;
} policy;

struct alarm_engine {
	bar_collector *c;
	sqlite3 *db;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
	policy *pol;
	size_t npol;
	bar_alert **alerts;
	size_t nalerts;
	bar_alert_group **groups;
	size_t ngroups;
	int on_duty;
	int64_t duty_checked_ms;
};


/* ---- persistence ---- */

static int db_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int db_open(alarm_engine *e, const char *path, char *why, size_t wsize)
{
	if (sqlite3_open_v2(path, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                                       SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
	    db_exec(e->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	                   "CREATE TABLE IF NOT EXISTS policies(ns TEXT, name TEXT, attrs TEXT,"
	                   " PRIMARY KEY(ns, name));"
	                   "CREATE TABLE IF NOT EXISTS history(id INTEGER PRIMARY KEY, t INTEGER,"
	                   " ns TEXT, policy TEXT, alarm TEXT, labels TEXT, state TEXT,"
	                   " value REAL);") < 0) {
		snprintf(why, wsize, "alarm store %s: %s", path,
		         e->db ? sqlite3_errmsg(e->db) : "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(e->db, 5000);
	return 0;
}

static void policy_free(policy *p)
{
	free(p->ns);
	free(p->name);
	json_decref(p->attrs);
}

/* Set (attrs) or remove (NULL) a policy in memory. */
static void policy_put(alarm_engine *e, const char *ns, const char *name, json_t *attrs)
{
	for (size_t i = 0; i < e->npol; i++)
		if (!strcmp(e->pol[i].ns, ns) && !strcmp(e->pol[i].name, name)) {
			if (attrs) {
				json_decref(e->pol[i].attrs);
				e->pol[i].attrs = json_incref(attrs);
				e->pol[i].next_ms = 0;
			} else {
				policy_free(&e->pol[i]);
				e->pol[i] = e->pol[--e->npol];
			}
			return;
		}
	if (!attrs)
		return;
	e->pol = bar_realloc(e->pol, (e->npol + 1) * sizeof(*e->pol));
	e->pol[e->npol].ns = bar_strdup(ns);
	e->pol[e->npol].name = bar_strdup(name);
	e->pol[e->npol].attrs = json_incref(attrs);
	e->pol[e->npol].next_ms = 0;
	e->npol++;
}

static void policies_load(alarm_engine *e)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(e->db, "SELECT ns, name, attrs FROM policies", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *a = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
		if (json_is_object(a))
			policy_put(e, (const char *)sqlite3_column_text(st, 0),
			           (const char *)sqlite3_column_text(st, 1), a);
		json_decref(a);
	}
	sqlite3_finalize(st);
}

static void history_add(alarm_engine *e, const policy *p, const bar_alert *a, int64_t now)
{
	sqlite3_stmt *st;
	char *labels = json_dumps(a->labels, JSON_COMPACT | JSON_SORT_KEYS);

	if (sqlite3_prepare_v2(e->db, "INSERT INTO history(t, ns, policy, alarm, labels, state, "
	                              "value) VALUES(?,?,?,?,?,?,?)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_text(st, 2, p->ns, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, p->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, json_string_value(json_object_get(a->labels, "alarm")), -1,
		                  SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, labels ? labels : "{}", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, bar_alert_state_name(a->state), -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 7, isfinite(a->value) ? a->value : 0);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	free(labels);
	db_exec(e->db, "DELETE FROM history WHERE id <= (SELECT max(id) FROM history) - 10000");
}

/* ---- evaluation ---- */

static int compare(const char *op, double v, double t)
{
	if (isnan(v))
		return 0;
	if (!strcmp(op, ">"))
		return v > t;
	if (!strcmp(op, ">="))
		return v >= t;
	if (!strcmp(op, "<"))
		return v < t;
	if (!strcmp(op, "<="))
		return v <= t;
	if (!strcmp(op, "=="))
		return v == t;
	return v != t;
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static bar_alert *alert_find(alarm_engine *e, const char *key)
{
	for (size_t i = 0; i < e->nalerts; i++)
		if (!strcmp(e->alerts[i]->key, key))
			return e->alerts[i];
	return NULL;
}

static void alert_free(bar_alert *a)
{
	free(a->key);
	json_decref(a->labels);
	json_decref(a->annotations);
	free(a);
}

/* The alert of rule `alarm` of p for series s (created inactive). */
static bar_alert *alert_for(alarm_engine *e, const policy *p, const json_t *alarm,
                            const bar_tsdb_series *s)
{
	bar_buf key = BAR_BUF_INIT(0);
	bar_alert *a;
	json_t *labels;

	bar_buf_printf(&key, "%s/%s/%s|", p->ns, p->name, jstr(alarm, "name"));
	for (size_t j = 0; j < s->nlabels; j++)
		if (strcmp(s->labels[j].name, "__name__") != 0)
			bar_buf_printf(&key, "%s=%s,", s->labels[j].name, s->labels[j].value);
	if ((a = alert_find(e, key.data))) {
		bar_buf_free(&key);
		return a;
	}
	a = bar_calloc(1, sizeof(*a));
	a->key = bar_buf_take(&key);
	labels = json_object();
	for (size_t j = 0; j < s->nlabels; j++)
		if (strcmp(s->labels[j].name, "__name__") != 0)
			json_object_set_new(labels, s->labels[j].name, json_string(s->labels[j].value));
	json_object_set_new(labels, "alarm", json_string(jstr(alarm, "name")));
	json_object_set_new(labels, "severity", json_string(jstr(alarm, "severity")));
	json_object_set_new(labels, "policy", json_string(p->name));
	json_object_set_new(labels, "metric", json_string(jstr(alarm, "metric")));
	a->labels = labels;
	a->annotations = json_object();
	e->alerts = bar_realloc(e->alerts, (e->nalerts + 1) * sizeof(*e->alerts));
	e->alerts[e->nalerts++] = a;
	return a;
}

static void annotate(bar_alert *a, const json_t *alarm)
{
	char text[512];
	const char *agg = jstr(alarm, "aggregate");

	snprintf(text, sizeof(text), "%s%s%s%s %s %g (now %g)", strcmp(agg, "none") ? agg : "",
	         strcmp(agg, "none") ? "(" : "", jstr(alarm, "metric"), strcmp(agg, "none") ? ")" : "",
	         jstr(alarm, "op"), json_number_value(json_object_get(alarm, "threshold")),
	         a->value);
	json_object_set_new(a->annotations, "description", json_string(text));
	json_object_set_new(a->annotations, "summary",
	                    json_string(*jstr(alarm, "summary") ? jstr(alarm, "summary") : text));
}

/* The notification group of alert a in policy p. */
static void group_add(alarm_engine *e, const policy *p, bar_alert *a, int64_t now)
{
	json_t *by = json_object_get(json_object_get(p->attrs, "route"), "groupBy"), *v;
	bar_buf key = BAR_BUF_INIT(0);
	bar_alert_group *g = NULL;
	size_t i;

	bar_buf_printf(&key, "%s/%s|", p->ns, p->name);
	json_array_foreach(by, i, v)
		bar_buf_printf(&key, "%s%s=%s", i ? "," : "", json_string_value(v),
		               jstr(a->labels, json_string_value(v)));
	for (i = 0; i < e->ngroups && !g; i++)
		if (!strcmp(e->groups[i]->key, key.data))
			g = e->groups[i];
	if (!g) {
		g = bar_calloc(1, sizeof(*g));
		g->key = bar_buf_take(&key);
		g->group_labels = json_object();
		json_array_foreach(by, i, v)
			json_object_set_new(g->group_labels, json_string_value(v),
			                    json_string(jstr(a->labels, json_string_value(v))));
		g->created_ms = now;
		e->groups = bar_realloc(e->groups, (e->ngroups + 1) * sizeof(*e->groups));
		e->groups[e->ngroups++] = g;
	}
	bar_buf_free(&key);
	for (i = 0; i < g->nalerts; i++)
		if (g->alerts[i] == a)
			return;
	g->alerts = bar_realloc(g->alerts, (g->nalerts + 1) * sizeof(*g->alerts));
	g->alerts[g->nalerts++] = a;
}

static void eval_rule(alarm_engine *e, policy *p, const json_t *alarm, int64_t now,
                      int64_t store_ms)
{
	const bar_metric_info *mi = bar_metric_find(jstr(alarm, "metric"));
	const char *agg = jstr(alarm, "aggregate"), *mci = jstr(p->attrs, "mci");
	bar_tsdb_matcher m[3];
	bar_tsdb_query q = {0};
	bar_tsdb_result r;
	char why[512], prefix[300];
	size_t nm = 0, plen;

	if (!mi)
		return;
	m[nm++] = (bar_tsdb_matcher){"__name__", mi->prom, BAR_TSDB_EQ};
	m[nm++] = (bar_tsdb_matcher){"ns", p->ns, BAR_TSDB_EQ};
	if (*mci)
		m[nm++] = (bar_tsdb_matcher){"mci", mci, BAR_TSDB_EQ};
	q.matchers = m;
	q.nmatchers = nm;
	q.end_ms = now;
	q.start_ms = now;
	q.step_ms = store_ms;
	q.fn = BAR_TSDB_LAST;
	/* the newest sample pushed: agents push every store interval, so it may
	 * be up to two intervals old */
	q.lookback_ms = 3 * store_ms;
	pthread_mutex_unlock(&e->lock);
	if (collector_gather(&r, e->c, &q, 0, why, sizeof(why)) < 0) {
		pthread_mutex_lock(&e->lock);
		collector_log(e->c, 1, "alarm %s/%s/%s: %s", p->ns, p->name, jstr(alarm, "name"), why);
		return;
	}
	if (strcmp(agg, "none") != 0) {
		bar_promql pq = {.agg = !strcmp(agg, "sum") ? BAR_PROMQL_SUM
		                        : !strcmp(agg, "avg") ? BAR_PROMQL_AVG
		                        : !strcmp(agg, "min") ? BAR_PROMQL_MIN : BAR_PROMQL_MAX};
		pq.by[0] = (char *)"ns";
		pq.by[1] = (char *)"mci";
		pq.nby = 2;
		collector_aggregate(&r, &pq);
	}
	pthread_mutex_lock(&e->lock);
	/* step every series' alert, then every alert of the rule the query no
	 * longer returned (its series is gone: the condition is false) */
	snprintf(prefix, sizeof(prefix), "%s/%s/%s|", p->ns, p->name, jstr(alarm, "name"));
	plen = strlen(prefix);
	for (size_t i = 0; i < e->nalerts; i++)
		if (!strncmp(e->alerts[i]->key, prefix, plen))
			e->alerts[i]->dirty |= 2; /* not seen yet */
	for (size_t i = 0; i < r.nseries; i++) {
		bar_tsdb_series *s = &r.series[i];
		double v = s->npoints ? s->points[s->npoints - 1].v : NAN;
		int cond = s->npoints && compare(jstr(alarm, "op"), v,
		                                 json_number_value(json_object_get(alarm, "threshold")));
		bar_alert *a;

		if (!cond) {
			/* no alert object for a series that never met the condition */
			bar_buf key = BAR_BUF_INIT(0);
			bar_buf_puts(&key, prefix);
			for (size_t j = 0; j < s->nlabels; j++)
				if (strcmp(s->labels[j].name, "__name__") != 0)
					bar_buf_printf(&key, "%s=%s,", s->labels[j].name, s->labels[j].value);
			a = alert_find(e, key.data);
			bar_buf_free(&key);
			if (!a)
				continue;
		} else {
			a = alert_for(e, p, alarm, s);
		}
		a->dirty &= ~2;
		if (bar_alert_step(a, cond, v, json_integer_value(json_object_get(alarm, "forSeconds")) *
		                                   1000, now)) {
			annotate(a, alarm);
			history_add(e, p, a, now);
			group_add(e, p, a, now);
			collector_log(e->c, 0, "alarm %s %s", a->key, bar_alert_state_name(a->state));
		} else if (a->state == BAR_ALERT_PENDING && a->active_ms == now) {
			history_add(e, p, a, now);
		}
	}
	for (size_t i = 0; i < e->nalerts; i++) {
		bar_alert *a = e->alerts[i];
		if (!(a->dirty & 2))
			continue;
		a->dirty &= ~2;
		if (bar_alert_step(a, 0, a->value, 0, now)) {
			annotate(a, alarm);
			history_add(e, p, a, now);
			group_add(e, p, a, now);
		}
	}
	collector_result_free(&r);
}

/* ---- notifications ---- */

static char *iso(int64_t ms, char *buf, size_t size)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

/* The message of group g (Alertmanager's webhook payload, version 4). */
static json_t *group_message(const bar_alert_group *g, const char *receiver)
{
	json_t *alerts = json_array(), *msg;
	int firing = 0;
	char t1[40], t2[40];

	for (size_t i = 0; i < g->nalerts; i++) {
		const bar_alert *a = g->alerts[i];
		if (a->state != BAR_ALERT_FIRING && a->state != BAR_ALERT_RESOLVED)
			continue;
		firing |= a->state == BAR_ALERT_FIRING;
		json_array_append_new(
		    alerts, json_pack("{s:s,s:O,s:O,s:s,s:s,s:s,s:f}", "status",
		                      a->state == BAR_ALERT_FIRING ? "firing" : "resolved", "labels",
		                      a->labels, "annotations", a->annotations, "startsAt",
		                      iso(a->fired_ms, t1, sizeof(t1)), "endsAt",
		                      a->state == BAR_ALERT_RESOLVED ? iso(a->resolved_ms, t2, sizeof(t2))
		                                                     : "0001-01-01T00:00:00Z",
		                      "fingerprint", a->key, "value", isfinite(a->value) ? a->value : 0));
	}
	msg = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o}", "version", "4", "groupKey", g->key, "status",
	                firing ? "firing" : "resolved", "receiver", receiver, "groupLabels",
	                g->group_labels, "alerts", alerts);
	return msg;
}

static const json_t *receiver_named(const policy *p, const char *name)
{
	json_t *rs = json_object_get(p->attrs, "receivers"), *r;
	size_t i;

	json_array_foreach(rs, i, r)
		if (!strcmp(jstr(r, "name"), name))
			return r;
	return NULL;
}

static const policy *policy_of_group(alarm_engine *e, const bar_alert_group *g)
{
	for (size_t i = 0; i < e->npol; i++) {
		char prefix[300];
		snprintf(prefix, sizeof(prefix), "%s/%s|", e->pol[i].ns, e->pol[i].name);
		if (!strncmp(g->key, prefix, strlen(prefix)))
			return &e->pol[i];
	}
	return NULL;
}

static void notify_due(alarm_engine *e, int64_t now)
{
	for (size_t gi = 0; gi < e->ngroups; gi++) {
		bar_alert_group *g = e->groups[gi];
		const policy *p = policy_of_group(e, g);
		json_t *route = p ? json_object_get(p->attrs, "route") : NULL, *names, *n;
		bar_alert_route rt = {
		    json_integer_value(json_object_get(route, "groupWaitSeconds")) * 1000,
		    json_integer_value(json_object_get(route, "groupIntervalSeconds")) * 1000,
		    json_integer_value(json_object_get(route, "repeatIntervalSeconds")) * 1000};
		char digest[65];
		size_t i, k = 0;
		int any_firing = 0;

		if (!p || !bar_alert_group_due(g, &rt, now, digest))
			continue;
		for (i = 0; i < g->nalerts; i++)
			any_firing |= g->alerts[i]->state == BAR_ALERT_FIRING;
		names = json_object_get(route, "receivers");
		json_array_foreach(names, i, n) {
			const json_t *rcv = receiver_named(p, json_string_value(n));
			json_t *msg;
			char why[512];

			if (!rcv || (!any_firing && !json_is_true(json_object_get(rcv, "sendResolved"))))
				continue;
			msg = group_message(g, json_string_value(n));
			/* sending may take seconds (SMTP): not under the lock */
			pthread_mutex_unlock(&e->lock);
			if (alarm_send(e->c, rcv, msg, why, sizeof(why)) < 0) {
				atomic_fetch_add(&e->c->st.notifications_failed, 1);
				collector_log(e->c, 2, "notifying %s of %s: %s", json_string_value(n), g->key,
				              why);
			} else {
				atomic_fetch_add(&e->c->st.notifications_sent, 1);
			}
			pthread_mutex_lock(&e->lock);
			json_decref(msg);
		}
		g->last_sent_ms = now;
		memcpy(g->last_digest, digest, sizeof(g->last_digest));
		/* resolved alerts were told: they leave the group */
		for (i = 0; i < g->nalerts; i++)
			if (g->alerts[i]->state == BAR_ALERT_FIRING ||
			    g->alerts[i]->state == BAR_ALERT_PENDING)
				g->alerts[k++] = g->alerts[i];
		g->nalerts = k;
	}
}

/* Drop alerts that are inactive or told resolved and in no group. */
static void sweep(alarm_engine *e)
{
	size_t k = 0;

	for (size_t i = 0; i < e->nalerts; i++) {
		bar_alert *a = e->alerts[i];
		int grouped = 0;

		for (size_t g = 0; g < e->ngroups && !grouped; g++)
			for (size_t j = 0; j < e->groups[g]->nalerts && !grouped; j++)
				grouped = e->groups[g]->alerts[j] == a;
		if (!grouped && (a->state == BAR_ALERT_INACTIVE || a->state == BAR_ALERT_RESOLVED))
			alert_free(a);
		else
			e->alerts[k++] = a;
	}
	e->nalerts = k;
	k = 0;
	for (size_t g = 0; g < e->ngroups; g++) {
		bar_alert_group *gr = e->groups[g];
		if (gr->nalerts == 0) {
			free(gr->key);
			json_decref(gr->group_labels);
			free(gr->alerts);
			free(gr);
		} else {
			e->groups[k++] = gr;
		}
	}
	e->ngroups = k;
}

/* ---- duty ---- */

static int peer_alive(const char *url)
{
	CURL *h = curl_easy_init();
	char full[1024];
	long status = 0;

	if (!h)
		return 0;
	snprintf(full, sizeof(full), "%s/healthz", url);
	curl_easy_setopt(h, CURLOPT_URL, full);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status == 200;
}

static int decide_duty(bar_collector *c)
{
	if (!c->self_url)
		return 1;
	for (size_t i = 0; i < c->npeers; i++)
		if (strcmp(c->peers[i], c->self_url) < 0 && peer_alive(c->peers[i]))
			return 0;
	return 1;
}

static void *engine_main(void *arg)
{
	alarm_engine *e = arg;

	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		int64_t now = collector_now_ms();
		struct timespec ts;

		if (now - e->duty_checked_ms >= 5000) {
			int duty;
			pthread_mutex_unlock(&e->lock);
			duty = decide_duty(e->c);
			pthread_mutex_lock(&e->lock);
			if (duty != e->on_duty)
				collector_log(e->c, 0, "alarm duty %s", duty ? "taken" : "left to a peer");
			e->on_duty = duty;
			e->duty_checked_ms = now;
		}
		if (e->on_duty) {
			/* evaluate copies: a PUT may change the policy set while a rule's
			 * query runs without the lock */
			policy *due = bar_calloc(e->npol + 1, sizeof(*due));
			size_t ndue = 0;

			for (size_t i = 0; i < e->npol; i++) {
				policy *p = &e->pol[i];
				int64_t store_ms = json_integer_value(
				                       json_object_get(p->attrs, "storeIntervalSeconds")) * 1000;
				if (store_ms <= 0)
					store_ms = 10000;
				if (now < p->next_ms)
					continue;
				p->next_ms = now + store_ms;
				due[ndue].ns = bar_strdup(p->ns);
				due[ndue].name = bar_strdup(p->name);
				due[ndue].attrs = json_incref(p->attrs);
				due[ndue++].next_ms = store_ms;
			}
			for (size_t i = 0; i < ndue; i++) {
				json_t *al;
				size_t k;
				json_array_foreach(json_object_get(due[i].attrs, "alarms"), k, al)
					if (!e->stopping)
						eval_rule(e, &due[i], al, now, due[i].next_ms);
				policy_free(&due[i]);
			}
			free(due);
		}
		notify_due(e, collector_now_ms());
		sweep(e);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&e->cond, &e->lock, &ts);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int alarm_engine_start(alarm_engine **out, bar_collector *c, char *why, size_t wsize)
{
	alarm_engine *e = bar_calloc(1, sizeof(*e));
	char *path = bar_printf("%s.alarms", c->data);

	e->c = c;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	if (db_open(e, path, why, wsize) < 0) {
		free(path);
		sqlite3_close(e->db);
		free(e);
		return -1;
	}
	free(path);
	policies_load(e);
	if (pthread_create(&e->thread, NULL, engine_main, e) == 0)
		e->started = 1;
	c->alarms = e;
	*out = e;
	return 0;
}

void alarm_engine_stop(alarm_engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = 1;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (e->started)
		pthread_join(e->thread, NULL);
	for (size_t i = 0; i < e->npol; i++)
		policy_free(&e->pol[i]);
	free(e->pol);
	/* groups borrow alerts: free groups first */
	for (size_t g = 0; g < e->ngroups; g++) {
		free(e->groups[g]->key);
		json_decref(e->groups[g]->group_labels);
		free(e->groups[g]->alerts);
		free(e->groups[g]);
	}
	free(e->groups);
	for (size_t i = 0; i < e->nalerts; i++)
		alert_free(e->alerts[i]);
	free(e->alerts);
	sqlite3_close(e->db);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
}

/* ---- endpoints ---- */

static int path_parts(const char *url, char *ns, char *name)
{
	/* /v1/policies/NS/NAME */
	const char *p = url + strlen("/v1/policies/"), *slash = strchr(p, '/');

	if (strncmp(url, "/v1/policies/", 13) != 0 || !slash || slash == p || slash - p > 63 ||
	    !slash[1] || strlen(slash + 1) > 63 || strchr(slash + 1, '/'))
		return -1;
	/* names are DNS labels (the spec's rule); nothing else reaches JSON */
	for (const char *q = p; *q; q++)
		if (*q != '/' && !((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-'))
			return -1;
	memcpy(ns, p, (size_t)(slash - p));
	ns[slash - p] = '\0';
	strcpy(name, slash + 1);
	return 0;
}

/* The store keeps the series of the policy's MCI (ns-wide when it names
 * none) as long as the policy says; drop: back to the collector's own
 * retention.  0, or -1 (logged). */
static int policy_retention(bar_collector *c, const char *ns, const json_t *attrs, int drop)
{
	static const char *const keys[BAR_TSDB_TIERS] = {"rawRetentionSeconds", "retentionSeconds",
	                                                 "coarseRetentionSeconds"};
	int64_t ms[BAR_TSDB_TIERS];
	char why[256];

	for (int t = 0; t < BAR_TSDB_TIERS; t++) {
		json_int_t s = json_integer_value(json_object_get(attrs, keys[t]));
		ms[t] = s > 0 ? (int64_t)s * 1000 : c->o.tsdb.retention_ms[t];
	}
	if (bar_tsdb_retention_set(c->db, ns, jstr(attrs, "mci"), drop ? NULL : ms, why,
	                           sizeof(why)) < 0) {
		collector_log(c, 2, "policy of %s: retention: %s", ns, why);
		return -1;
	}
	return 0;
}

/* Before a policy is removed: its retention goes with it. */
static void policy_find_retention_drop(alarm_engine *e, bar_collector *c, const char *ns,
                                       const char *name)
{
	for (size_t i = 0; i < e->npol; i++)
		if (!strcmp(e->pol[i].ns, ns) && !strcmp(e->pol[i].name, name))
			policy_retention(c, ns, e->pol[i].attrs, 1);
}

enum MHD_Result collector_policies(bar_collector *c, struct MHD_Connection *conn,
                                   const char *method, const char *url, const char *body,
                                   size_t len)
{
	alarm_engine *e = c->alarms;
	char ns[64], name[64];
	bar_buf b = BAR_BUF_INIT(0);
	size_t blen;

	if (!collector_admin_ok(c, conn))
		return collector_error(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		                       "policies need \"Authorization: Bearer admin.<token>\"");
	if (!strcmp(url, "/v1/policies") && !strcmp(method, "GET")) {
		pthread_mutex_lock(&e->lock);
		bar_buf_puts(&b, "{\"policies\":[");
		for (size_t i = 0; i < e->npol; i++) {
			char *a = json_dumps(e->pol[i].attrs, JSON_COMPACT | JSON_SORT_KEYS);
			bar_buf_printf(&b, "%s{\"ns\":\"%s\",\"name\":\"%s\",\"attrs\":%s}", i ? "," : "",
			               e->pol[i].ns, e->pol[i].name, a ? a : "{}");
			free(a);
		}
		pthread_mutex_unlock(&e->lock);
		bar_buf_puts(&b, "]}\n");
		blen = b.len;
		return collector_answer(conn, MHD_HTTP_OK, bar_buf_take(&b), blen, "application/json");
	}
	if (path_parts(url, ns, name) < 0)
		return collector_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
		                       "use /v1/policies/NS/NAME");
	if (!strcmp(method, "PUT")) {
		json_error_t je;
		json_t *attrs = json_loadb(body, len, 0, &je);
		sqlite3_stmt *st;
		int ok = 0;

		if (!json_is_object(attrs) || !json_is_array(json_object_get(attrs, "alarms"))) {
			json_decref(attrs);
			return collector_error(conn, MHD_HTTP_BAD_REQUEST, "bad_data",
			                       "the body must be a MonitoringPolicy's normalised attrs "
			                       "(a JSON object with alarms)");
		}
		pthread_mutex_lock(&e->lock);
		if (sqlite3_prepare_v2(e->db, "INSERT OR REPLACE INTO policies VALUES(?,?,?)", -1, &st,
		                       NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, ns, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, body, (int)len, SQLITE_TRANSIENT);
			ok = sqlite3_step(st) == SQLITE_DONE;
			sqlite3_finalize(st);
		}
		if (ok)
			policy_put(e, ns, name, attrs);
		if (ok && policy_retention(c, ns, attrs, 0) < 0)
			ok = 0;
		/* the engine shares attrs by reference count, which jansson does not
		 * count atomically: every reference changes under the lock */
		json_decref(attrs);
		pthread_cond_broadcast(&e->cond);
		pthread_mutex_unlock(&e->lock);
		if (!ok)
			return collector_error(conn, 500, "internal", "cannot store the policy");
		return collector_answer(conn, MHD_HTTP_NO_CONTENT, NULL, 0, NULL);
	}
	if (!strcmp(method, "DELETE")) {
		sqlite3_stmt *st;
		pthread_mutex_lock(&e->lock);
		if (sqlite3_prepare_v2(e->db, "DELETE FROM policies WHERE ns=? AND name=?", -1, &st,
		                       NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, ns, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
			sqlite3_step(st);
			sqlite3_finalize(st);
		}
		policy_find_retention_drop(e, c, ns, name);
		policy_put(e, ns, name, NULL);
		pthread_mutex_unlock(&e->lock);
		return collector_answer(conn, MHD_HTTP_NO_CONTENT, NULL, 0, NULL);
	}
	if (!strcmp(method, "GET")) {
		pthread_mutex_lock(&e->lock);
		for (size_t i = 0; i < e->npol; i++)
			if (!strcmp(e->pol[i].ns, ns) && !strcmp(e->pol[i].name, name)) {
				char *a = json_dumps(e->pol[i].attrs, JSON_COMPACT | JSON_SORT_KEYS);
				pthread_mutex_unlock(&e->lock);
				return collector_answer(conn, MHD_HTTP_OK, a, a ? strlen(a) : 0,
				                        "application/json");
			}
		pthread_mutex_unlock(&e->lock);
		return collector_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no policy %s/%s", ns,
		                       name);
	}
	return collector_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "bad_data",
	                       "policies take GET, PUT and DELETE");
}

enum MHD_Result collector_alarms_list(bar_collector *c, struct MHD_Connection *conn)
{
	alarm_engine *e = c->alarms;
	bar_buf b = BAR_BUF_INIT(0);
	sqlite3_stmt *st;
	char t[40];
	size_t len;

	pthread_mutex_lock(&e->lock);
	bar_buf_printf(&b, "{\"onDuty\":%s,\"alerts\":[", e->on_duty ? "true" : "false");
	for (size_t i = 0, n = 0; i < e->nalerts; i++) {
		const bar_alert *a = e->alerts[i];
		char *labels = json_dumps(a->labels, JSON_COMPACT | JSON_SORT_KEYS);
		char *ann = json_dumps(a->annotations, JSON_COMPACT | JSON_SORT_KEYS);
		if (a->state == BAR_ALERT_INACTIVE) {
			free(labels);
			free(ann);
			continue;
		}
		bar_buf_printf(&b, "%s{\"state\":\"%s\",\"labels\":%s,\"annotations\":%s,"
		               "\"value\":%.17g,\"activeAt\":\"%s\"", n++ ? "," : "",
		               bar_alert_state_name(a->state), labels ? labels : "{}", ann ? ann : "{}",
		               isfinite(a->value) ? a->value : 0, iso(a->active_ms, t, sizeof(t)));
		if (a->fired_ms)
			bar_buf_printf(&b, ",\"firedAt\":\"%s\"", iso(a->fired_ms, t, sizeof(t)));
		if (a->state == BAR_ALERT_RESOLVED)
			bar_buf_printf(&b, ",\"resolvedAt\":\"%s\"", iso(a->resolved_ms, t, sizeof(t)));
		bar_buf_puts(&b, "}");
		free(labels);
		free(ann);
	}
	bar_buf_puts(&b, "],\"history\":[");
	if (sqlite3_prepare_v2(e->db, "SELECT t, ns, policy, alarm, labels, state, value FROM "
	                              "history ORDER BY id DESC LIMIT 200", -1, &st, NULL) ==
	    SQLITE_OK) {
		for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++)
			bar_buf_printf(&b, "%s{\"at\":\"%s\",\"ns\":\"%s\",\"policy\":\"%s\","
			               "\"alarm\":\"%s\",\"labels\":%s,\"state\":\"%s\",\"value\":%.17g}",
			               n ? "," : "", iso(sqlite3_column_int64(st, 0), t, sizeof(t)),
			               sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
			               sqlite3_column_text(st, 3), sqlite3_column_text(st, 4),
			               sqlite3_column_text(st, 5), sqlite3_column_double(st, 6));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&e->lock);
	bar_buf_puts(&b, "]}\n");
	len = b.len;
	return collector_answer(conn, MHD_HTTP_OK, bar_buf_take(&b), len, "application/json");
}
