/*
 * spec_monitor.c - the schema of MonitoringPolicy: what the agents collect
 * and how often, where they push, how long each tier is kept, the alarm
 * rules and where their notifications go (docs/spec-reference.md,
 * docs/monitoring.md).
 *
 * Alarm metrics are checked against the agent's catalogue
 * (monitor/metrics.c): the one list of what exists.  Nothing secret is
 * accepted inline: the collectors' shared secret, a Slack webhook URL and
 * SMTP passwords are credential references, resolved when used.
 */
#include "spec_internal.h"
#include "util.h"
#include "metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLECTORS_MAX 16
#define RECEIVERS_MAX 32

static void set_str(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, spec_jstr(value));
}

/* The metric a group name stands for in an alarm (what policies written
 * before the catalogue said: `metric: cpu`). */
static const char *group_headline(const char *group)
{
	static const char *const map[][2] = {
		{"cpu", "cpu.usage"},      {"memory", "mem.usage"}, {"disk", "fs.usage"},
		{"network", "net.rx_bytes"}, {"process", "proc.count"}, {"system", "load.1"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], group) == 0)
			return map[i][1];
	return NULL;
}

static json_t *check_groups(spec_load *L, const bar_ynode *spec, const bar_ynode *v)
{
	json_t *arr = json_array();
	const bar_ynode *seq;

	if (spec_absent(v)) {
		for (int i = 0; bar_metric_groups[i]; i++)
			json_array_append_new(arr, json_string(bar_metric_groups[i]));
		return arr;
	}
	if (spec_seq(L, &seq, spec, v, "metrics", 0) < 0)
		return arr;
	if (seq->n == 0)
		spec_diag(L, seq, "field \"metrics\" must list at least one metric group");
	for (uint32_t i = 0; i < seq->n; i++) {
		const char *m;
		int dup = 0;

		if (spec_enum(L, &m, seq, &seq->u.items[i], "metrics", bar_metric_groups, NULL, 0) <
		    0)
			continue;
		for (size_t j = 0; j < json_array_size(arr); j++)
			dup |= strcmp(json_string_value(json_array_get(arr, j)), m) == 0;
		if (dup)
			spec_diag(L, &seq->u.items[i], "metric group \"%s\" is listed twice", m);
		else
			json_array_append_new(arr, json_string(m));
	}
	return arr;
}

static int listed(const json_t *arr, const char *s)
{
	for (size_t j = 0; j < json_array_size(arr); j++)
		if (strcmp(json_string_value(json_array_get(arr, j)), s) == 0)
			return 1;
	return 0;
}

/* A collector URL: http://HOST:PORT with an optional path prefix; HOST may
 * be `gateway` (the VM's default gateway: the host, for local VMs). */
static int collector_ok(const char *u, char *why, size_t size)
{
	const char *h = u + 7, *colon, *end;
	long port;
	char *e;

	if (strncmp(u, "http://", 7) != 0) {
		snprintf(why, size, "must be an http:// URL (barista-agent speaks plain HTTP with "
		         "a per-MCI token; put a TLS proxy in front if the path is untrusted)");
		return 0;
	}
	end = h + strcspn(h, "/?#");
	colon = memchr(h, ':', (size_t)(end - h));
	if (!colon || colon == h) {
		snprintf(why, size, "must name a host and a port, e.g. http://10.0.0.1:9109");
		return 0;
	}
	port = strtol(colon + 1, &e, 10);
	if (e != end || port < 1 || port > 65535) {
		snprintf(why, size, "has no valid port (1-65535)");
		return 0;
	}
	for (const char *p = h; p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') {
			snprintf(why, size, "has a bad host (letters, digits, '.', '-')");
			return 0;
		}
	if (*end && *end != '/') {
		snprintf(why, size, "must not carry a query or fragment");
		return 0;
	}
	return 1;
}

static json_t *check_collectors(spec_load *L, const bar_ynode *spec, const bar_ynode *v)
{
	json_t *arr = json_array();
	const bar_ynode *seq;

	if (spec_seq(L, &seq, spec, v, "collectors", 0) < 0 || !seq)
		return arr;
	if (seq->n > COLLECTORS_MAX)
		spec_diag(L, seq, "field \"collectors\" lists %u collectors; at most %d", seq->n,
		          COLLECTORS_MAX);
	for (uint32_t i = 0; i < seq->n && i < COLLECTORS_MAX; i++) {
		const bar_ynode *it = &seq->u.items[i];
		char why[160];
		const char *u;

		if (spec_str(L, &u, seq, it, "collectors", NULL) < 0)
			continue;
		if (!collector_ok(u, why, sizeof(why)))
			spec_diag(L, it, "collector \"%.120s\" %s", u, why);
		else if (listed(arr, u))
			spec_diag(L, it, "collector \"%.120s\" is listed twice", u);
		else
			json_array_append_new(arr, json_string(u));
	}
	return arr;
}

/* "[avg(]metric[)] OP NUMBER [for DURATION]" into its parts; 0 or -1 with
 * why. */
static int parse_rule(const char *r, char *agg, char *metric, char *op, double *threshold,
                      char *dur, char *why, size_t size)
{
	char a[24] = "", m[64] = "", o[4] = "", t[48] = "", f[8] = "", d[24] = "", extra[2];
	const char *paren = strchr(r, '(');
	int n;

	if (paren && strchr(paren, ')')) {
		n = sscanf(r, " %23[a-z] ( %63[a-z0-9._] ) %3[<>=!] %47s %7s %23s %1s", a, m, o, t,
		           f, d, extra);
		n -= 1;
	} else {
		n = sscanf(r, " %63[a-z0-9._] %3[<>=!] %47s %7s %23s %1s", m, o, t, f, d, extra);
	}
	if (n < 3 || n == 4 || n > 5 || (n == 5 && strcmp(f, "for") != 0)) {
		snprintf(why, size, "must read METRIC OP NUMBER [for DURATION], e.g. "
		         "\"cpu.usage > 80 for 30s\" or \"avg(cpu.usage) > 80 for 1m\"");
		return -1;
	}
	{
		char *e;
		*threshold = strtod(t, &e);
		if (*e || e == t || !isfinite(*threshold)) {
			snprintf(why, size, "has \"%s\" where a number should be", t);
			return -1;
		}
	}
	strcpy(agg, a);
	strcpy(metric, m);
	strcpy(op, o);
	strcpy(dur, n == 5 ? d : "");
	return 0;
}

typedef struct alarm_parts {
	const char *metric, *op, *agg;
	double threshold;
	int64_t for_s;
} alarm_parts;

static const char *const ops[] = {">", ">=", "<", "<=", "==", "!=", NULL};
static const char *const aggs[] = {"none", "avg", "min", "max", "sum", NULL};

/* The rule shorthand of an alarm into p (strings in the arena). */
static void alarm_rule(spec_load *L, alarm_parts *p, const bar_ynode *item, const bar_ynode *v)
{
	char agg[24], metric[64], op[4], dur[24], why[200];
	const char *r;
	int64_t secs;

	if (spec_str(L, &r, item, v, "rule", NULL) < 0)
		return;
	if (parse_rule(r, agg, metric, op, &p->threshold, dur, why, sizeof(why)) < 0) {
		spec_diag(L, v, "field \"rule\" %s", why);
		return;
	}
	p->metric = bar_arena_strdup(&L->cfg->arena, metric);
	p->agg = *agg ? bar_arena_strdup(&L->cfg->arena, agg) : "none";
	for (int i = 0; ops[i]; i++)
		if (strcmp(ops[i], op) == 0)
			p->op = ops[i];
	if (!p->op)
		spec_diag(L, v, "field \"rule\" has the operator \"%s\"; use one of >, >=, <, <=, "
		          "==, !=", op);
	if (*agg && strcmp(p->agg, "none") != 0) {
		int ok = 0;
		for (int i = 1; aggs[i]; i++)
			ok |= strcmp(aggs[i], agg) == 0;
		if (!ok)
			spec_diag(L, v, "field \"rule\" aggregates with \"%s\"; use avg, min, max or "
			          "sum", agg);
	}
	if (*dur) {
		if (spec_duration_text(dur, &secs) < 0)
			spec_diag(L, v, "field \"rule\" has the duration \"%s\"; write e.g. 30s, 5m, "
			          "1h30m", dur);
		else
			p->for_s = secs;
	}
}

static json_t *check_alarm(spec_load *L, const bar_ynode *item, uint32_t index,
                           spec_index *ix, const bar_ynode **names, const json_t *groups)
{
	static const char *const known[] = {"name", "rule", "metric", "op", "threshold", "for",
	                                    "aggregate", "severity", "summary", NULL};
	enum { A_NAME, A_RULE, A_METRIC, A_OP, A_THRESHOLD, A_FOR, A_AGG, A_SEV, A_SUMMARY };
	static const char *const severities[] = {"info", "warning", "critical", NULL};
	const bar_ynode *f[9];
	const char *name = NULL, *sev = "warning", *summary = "";
	alarm_parts p = {"", "", "none", 0, 0};
	const bar_metric_info *mi;
	json_t *alarm = json_object();

	spec_scope_item(L, "alarm", item, index + 1);
	if (spec_fields(L, item, "alarm", known, f) < 0 && item->type != BAR_Y_MAP)
		return alarm;
	if (spec_name(L, &name, item, f[A_NAME], "name") == 0 &&
	    !spec_name_taken(L, ix, names, f[A_NAME], index, "alarm"))
		names[index] = f[A_NAME];
	if (!spec_absent(f[A_RULE])) {
		for (int i = A_METRIC; i <= A_AGG; i++)
			if (!spec_absent(f[i]))
				spec_diag(L, f[i], "field \"%s\" is part of \"rule\"; give one or the other",
				          known[i]);
		alarm_rule(L, &p, item, f[A_RULE]);
	} else {
		spec_str(L, &p.metric, item, f[A_METRIC], "metric", NULL);
		spec_enum(L, &p.op, item, f[A_OP], "op", ops, NULL, 0);
		spec_number(L, &p.threshold, item, f[A_THRESHOLD], "threshold");
		spec_duration(L, &p.for_s, item, f[A_FOR], "for", "0s", 0);
		spec_enum(L, &p.agg, item, f[A_AGG], "aggregate", aggs, "none", 1);
	}
	if (p.metric && *p.metric) {
		const bar_ynode *at = spec_absent(f[A_RULE]) ? f[A_METRIC] : f[A_RULE];
		const char *full = group_headline(p.metric), *written = p.metric;

		if (full)
			p.metric = full;
		mi = bar_metric_find(p.metric);
		if (!mi)
			spec_diag(L, at, "metric \"%s\" is not one barista-agent collects; `barista "
			          "metrics list` shows them (e.g. cpu.usage, mem.usage, fs.usage)",
			          p.metric);
		else if (strcmp(mi->group, "agent") != 0 && !listed(groups, mi->group))
			spec_diag(L, at, "metric \"%s\"%s%s%s is in the group \"%s\", which this policy "
			          "does not collect; add it to metrics", written, full ? " (" : "",
			          full ? full : "", full ? ")" : "", mi->group);
	}
	spec_enum(L, &sev, item, f[A_SEV], "severity", severities, "warning", 1);
	spec_str(L, &summary, item, f[A_SUMMARY], "summary", "");
	set_str(alarm, "name", name ? name : "");
	set_str(alarm, "metric", p.metric ? p.metric : "");
	set_str(alarm, "op", p.op ? p.op : "");
	json_object_set_new(alarm, "threshold", json_real(p.threshold));
	json_object_set_new(alarm, "forSeconds", json_integer(p.for_s));
	set_str(alarm, "aggregate", p.agg ? p.agg : "none");
	set_str(alarm, "severity", sev);
	set_str(alarm, "summary", summary);
	return alarm;
}

static int http_url_ok(const char *u)
{
	return (strncmp(u, "http://", 7) == 0 && u[7]) || (strncmp(u, "https://", 8) == 0 && u[8]);
}

static json_t *check_receiver(spec_load *L, const bar_ynode *item, uint32_t index,
                              spec_index *ix, const bar_ynode **names)
{
	static const char *const known[] = {"name", "type", "url", "smtp", "from", "to",
	                                    "credential", "sendResolved", NULL};
	enum { R_NAME, R_TYPE, R_URL, R_SMTP, R_FROM, R_TO, R_CRED, R_RESOLVED };
	static const char *const types[] = {"webhook", "slack", "email", "alertmanager", NULL};
	const bar_ynode *f[8], *to;
	const char *name = NULL, *type = "", *url = "", *smtp = "", *from = "";
	json_t *r = json_object(), *tos = json_array(), *cred;
	int resolved = 1, email;

	spec_scope_item(L, "receiver", item, index + 1);
	if (spec_fields(L, item, "receiver", known, f) < 0 && item->type != BAR_Y_MAP) {
		json_decref(tos);
		return r;
	}
	if (spec_name(L, &name, item, f[R_NAME], "name") == 0 &&
	    !spec_name_taken(L, ix, names, f[R_NAME], index, "receiver"))
		names[index] = f[R_NAME];
	spec_enum(L, &type, item, f[R_TYPE], "type", types, NULL, 0);
	email = strcmp(type, "email") == 0;
	cred = spec_credential(L, f[R_CRED]);
	if (!email) {
		if (!spec_absent(f[R_URL]) && spec_str(L, &url, item, f[R_URL], "url", NULL) == 0 &&
		    !http_url_ok(url))
			spec_diag(L, f[R_URL], "field \"url\" must be an http:// or https:// URL");
		if (!strcmp(type, "slack") && *url)
			spec_diag(L, f[R_URL], "a Slack webhook URL is a secret: give it as "
			          "credential (e.g. credential: {env: {url: SLACK_WEBHOOK_URL}})");
		else if (!*url && !json_is_object(cred) && *type)
			spec_diag(L, item, "receiver of type %s needs %s", type,
			          !strcmp(type, "slack") ? "credential (with its field url)" : "url");
		for (int i = R_SMTP; i <= R_TO; i++)
			if (!spec_absent(f[i]))
				spec_diag(L, f[i], "field \"%s\" is for type email", known[i]);
	} else {
		if (!spec_absent(f[R_URL]))
			spec_diag(L, f[R_URL], "an email receiver names its server in smtp, not url");
		if (spec_str(L, &smtp, item, f[R_SMTP], "smtp", NULL) == 0 &&
		    strncmp(smtp, "smtp://", 7) != 0 && strncmp(smtp, "smtps://", 8) != 0)
			spec_diag(L, f[R_SMTP], "field \"smtp\" must be smtp://HOST[:PORT] or "
			          "smtps://HOST[:PORT]");
		if (spec_str(L, &from, item, f[R_FROM], "from", NULL) == 0 && !strchr(from, '@'))
			spec_diag(L, f[R_FROM], "field \"from\" must be an e-mail address");
		if (spec_seq(L, &to, item, f[R_TO], "to", 1) == 0 && to) {
			if (to->n == 0)
				spec_diag(L, to, "field \"to\" must list at least one address");
			for (uint32_t i = 0; i < to->n; i++) {
				const char *a;
				if (spec_str(L, &a, to, &to->u.items[i], "to", NULL) == 0) {
					if (!strchr(a, '@') || strpbrk(a, "\r\n<>"))
						spec_diag(L, &to->u.items[i], "\"%.80s\" is not an e-mail address",
						          a);
					else
						json_array_append_new(tos, json_string(a));
				}
			}
		}
	}
	spec_bool(L, &resolved, f[R_RESOLVED], "sendResolved", 1);
	set_str(r, "name", name ? name : "");
	set_str(r, "type", type);
	set_str(r, "url", url);
	set_str(r, "smtp", smtp);
	set_str(r, "from", from);
	json_object_set_new(r, "to", tos);
	json_object_set_new(r, "credential", cred ? cred : json_null());
	json_object_set_new(r, "sendResolved", json_boolean(resolved));
	return r;
}

static json_t *name_list(spec_load *L, const bar_ynode *map, const bar_ynode *v,
                         const char *field, const char *const *def)
{
	json_t *arr = json_array();
	const bar_ynode *seq;

	if (spec_absent(v)) {
		for (int i = 0; def && def[i]; i++)
			json_array_append_new(arr, json_string(def[i]));
		return arr;
	}
	if (spec_seq(L, &seq, map, v, field, 0) < 0 || !seq)
		return arr;
	for (uint32_t i = 0; i < seq->n; i++) {
		const char *s;
		if (spec_str(L, &s, seq, &seq->u.items[i], field, NULL) < 0)
			continue;
		if (listed(arr, s))
			spec_diag(L, &seq->u.items[i], "\"%.80s\" is listed twice in %s", s, field);
		else
			json_array_append_new(arr, json_string(s));
	}
	return arr;
}

static json_t *check_route(spec_load *L, const bar_ynode *spec, const bar_ynode *v,
                           const json_t *receivers)
{
	static const char *const known[] = {"receivers", "groupBy", "groupWait", "groupInterval",
	                                    "repeatInterval", NULL};
	static const char *const group_by[] = {"alarm", "ns", "mci", NULL};
	const bar_ynode *f[5], *map = NULL;
	int64_t wait = 10, interval = 60, repeat = 4 * 3600;
	json_t *route = json_object(), *names;

	if (!spec_absent(v) && spec_map(L, &map, spec, v, "route", 0) < 0)
		map = NULL;
	spec_fields(L, map, "route", known, f);
	names = name_list(L, map, f[0], "receivers", NULL);
	if (spec_absent(f[0]))
		for (size_t i = 0; i < json_array_size(receivers); i++)
			json_array_append(names, json_object_get(json_array_get(receivers, i), "name"));
	else
		for (size_t i = 0; i < json_array_size(names); i++) {
			const char *n = json_string_value(json_array_get(names, i));
			int found = 0;
			for (size_t j = 0; j < json_array_size(receivers); j++)
				found |= strcmp(json_string_value(json_object_get(
				                    json_array_get(receivers, j), "name")), n) == 0;
			if (!found)
				spec_diag(L, f[0], "route names the receiver \"%s\", which receivers does "
				          "not define", n);
		}
	json_object_set_new(route, "receivers", names);
	json_object_set_new(route, "groupBy", name_list(L, map, f[1], "groupBy", group_by));
	spec_duration(L, &wait, map, f[2], "groupWait", "10s", 0);
	spec_duration(L, &interval, map, f[3], "groupInterval", "1m", 1);
	spec_duration(L, &repeat, map, f[4], "repeatInterval", "4h", 1);
	json_object_set_new(route, "groupWaitSeconds", json_integer(wait));
	json_object_set_new(route, "groupIntervalSeconds", json_integer(interval));
	json_object_set_new(route, "repeatIntervalSeconds", json_integer(repeat));
	return route;
}

/* A list of items each checked by fn, names unique. */
static json_t *check_list(spec_load *L, const bar_ynode *spec, const bar_ynode *v,
                          const char *field, uint32_t max,
                          json_t *(*fn)(spec_load *, const bar_ynode *, uint32_t, spec_index *,
                                        const bar_ynode **, const json_t *),
                          const json_t *ctx)
{
	json_t *arr = json_array();
	const bar_ynode *seq, **names;
	spec_index ix;

	if (spec_seq(L, &seq, spec, v, field, 0) < 0 || !seq)
		return arr;
	if (max && seq->n > max) {
		spec_diag(L, seq, "field \"%s\" lists %u items; at most %u", field, seq->n, max);
		return arr;
	}
	names = bar_calloc(seq->n ? seq->n : 1, sizeof(*names));
	spec_index_init(&ix, seq->n);
	for (uint32_t i = 0; i < seq->n; i++)
		json_array_append_new(arr, fn(L, &seq->u.items[i], i, &ix, names, ctx));
	spec_scope_clear(L);
	spec_index_free(&ix);
	free(names);
	return arr;
}

static json_t *receiver_item(spec_load *L, const bar_ynode *item, uint32_t i, spec_index *ix,
                             const bar_ynode **names, const json_t *ctx)
{
	(void)ctx;
	return check_receiver(L, item, i, ix, names);
}

static json_t *alarm_item(spec_load *L, const bar_ynode *item, uint32_t i, spec_index *ix,
                          const bar_ynode **names, const json_t *groups)
{
	return check_alarm(L, item, i, ix, names, groups);
}

void spec_check_monitoringpolicy(spec_load *L, spec_obj *o)
{
	static const char *const known[] = {"mci", "metrics", "interval", "storeInterval",
	                                    "retention", "rawRetention", "coarseRetention",
	                                    "collectors", "credential", "pullPort", "alarms",
	                                    "receivers", "route", NULL};
	enum { P_MCI, P_METRICS, P_INTERVAL, P_STORE, P_RET, P_RAWRET, P_COARSERET, P_COLL,
	       P_CRED, P_PULL, P_ALARMS, P_RECV, P_ROUTE, P_N };
	const bar_ynode *f[P_N], *spec = o->spec;
	const char *mci = "";
	int64_t interval = 2, store = 10, ret = 7 * 86400, rawret = 6 * 3600,
	        coarseret = 90 * 86400, pull = 9108;
	const int64_t pull_def = 9108;
	json_t *attrs = json_object(), *groups, *collectors, *alarms, *receivers, *cred;

	o->pub.attrs = attrs;
	spec_fields(L, spec, "MonitoringPolicy spec", known, f);
	if (!spec_absent(f[P_MCI]) && spec_name(L, &mci, spec, f[P_MCI], "mci") == 0)
		spec_ref_add(L, o, "mci", BAR_KIND_MCI, mci, f[P_MCI], "field \"mci\"");
	groups = check_groups(L, spec, f[P_METRICS]);
	spec_duration(L, &interval, spec, f[P_INTERVAL], "interval", "2s", 1);
	/* by default samples are stored every 10 s, or at the smallest multiple
	 * of a longer or odd interval */
	store = interval >= 10 ? interval : (10 + interval - 1) / interval * interval;
	if (!spec_absent(f[P_STORE]) &&
	    spec_duration(L, &store, spec, f[P_STORE], "storeInterval", "10s", 1) == 0 &&
	    (store < interval || store % interval != 0))
		spec_diag(L, f[P_STORE], "field \"storeInterval\" (%llds) must be a multiple of "
		          "interval (%llds)", (long long)store, (long long)interval);
	spec_duration(L, &ret, spec, f[P_RET], "retention", "7d", 1);
	if (ret < store)
		spec_diag(L, f[P_RET], "field \"retention\" (%llds) must not be shorter than "
		          "storeInterval (%llds)", (long long)ret, (long long)store);
	rawret = ret < rawret ? ret : rawret;
	if (!spec_absent(f[P_RAWRET]) &&
	    spec_duration(L, &rawret, spec, f[P_RAWRET], "rawRetention", "6h", 1) == 0 &&
	    (rawret < store || rawret > ret))
		spec_diag(L, f[P_RAWRET], "field \"rawRetention\" (%llds) must lie between "
		          "storeInterval (%llds) and retention (%llds)", (long long)rawret,
		          (long long)store, (long long)ret);
	coarseret = ret > coarseret ? ret : coarseret;
	if (!spec_absent(f[P_COARSERET]) &&
	    spec_duration(L, &coarseret, spec, f[P_COARSERET], "coarseRetention", "90d", 1) == 0 &&
	    coarseret < ret)
		spec_diag(L, f[P_COARSERET], "field \"coarseRetention\" (%llds) must not be "
		          "shorter than retention (%llds)", (long long)coarseret, (long long)ret);
	collectors = check_collectors(L, spec, f[P_COLL]);
	cred = spec_credential(L, f[P_CRED]);
	if (json_array_size(collectors) && !json_is_object(cred))
		spec_diag(L, f[P_COLL], "agents authenticate to collectors with a token derived "
		          "from the collectors' secret: set credential (e.g. credential: {file: "
		          "/etc/barista/monitor.secret})");
	spec_int(L, &pull, spec, f[P_PULL], "pullPort", &pull_def, 0, 65535);
	alarms = check_list(L, spec, f[P_ALARMS], "alarms", 0, alarm_item, groups);
	receivers = check_list(L, spec, f[P_RECV], "receivers", RECEIVERS_MAX, receiver_item,
	                       NULL);
	if (json_array_size(alarms) && !json_array_size(collectors))
		spec_diag(L, f[P_ALARMS], "alarms are evaluated by a collector: list one in "
		          "collectors");
	set_str(attrs, "mci", mci);
	json_object_set_new(attrs, "metrics", groups);
	json_object_set_new(attrs, "intervalSeconds", json_integer(interval));
	json_object_set_new(attrs, "storeIntervalSeconds", json_integer(store));
	json_object_set_new(attrs, "rawRetentionSeconds", json_integer(rawret));
	json_object_set_new(attrs, "retentionSeconds", json_integer(ret));
	json_object_set_new(attrs, "coarseRetentionSeconds", json_integer(coarseret));
	json_object_set_new(attrs, "collectors", collectors);
	json_object_set_new(attrs, "credential", cred ? cred : json_null());
	json_object_set_new(attrs, "pullPort", json_integer(pull));
	json_object_set_new(attrs, "alarms", alarms);
	json_object_set_new(attrs, "receivers", receivers);
	json_object_set_new(attrs, "route", check_route(L, spec, f[P_ROUTE], receivers));
}
