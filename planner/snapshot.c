/*
 * snapshot.c - what the planner diffs against: the recorded state and, with
 * refresh, what providers report live.
 *
 * Reading it needs no configuration, so commands read the snapshot in one
 * thread while they parse specs in another.  Live resources are listed with
 * each connection's *recorded* location (driver, region, zone, config):
 * that is where they were made, even if the spec now names another region.
 * Only the credential reference comes from the configuration when there is
 * one, so a rotated credential works; bar_snapshot_settle() re-lists any
 * group that failed or was listed with an outdated credential reference.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "json.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

char *bar_conn_address(const char *ns, const char *name)
{
	return bar_printf("%s/connection/%s", ns, name);
}

json_t *bar_conn_live_attrs(const bar_desired_set *ds, const bar_records *rs,
                            const char *addr)
{
	const bar_desired *d = ds ? bar_desired_find(ds, addr) : NULL;
	const bar_record *r = bar_records_find(rs, addr);
	json_t *attrs = r && r->desired ? json_loads(r->desired, 0, NULL) : NULL;

	if (!attrs)
		return d ? json_incref(d->attrs) : NULL;
	if (d) {
		json_t *cred = json_object_get(d->attrs, "credential");

		json_object_set(attrs, "credential", cred ? cred : json_null());
	}
	return attrs;
}

/* The canonical text of a connection's credential reference ("null" if none). */
static char *cred_text(const json_t *attrs)
{
	bar_buf b = BAR_BUF_INIT(0);
	json_t *c = json_object_get(attrs, "credential");

	bar_json_canon(&b, c ? c : json_null());
	return bar_buf_take(&b);
}

/* A tag's value in a listed resource's tags text, or NULL (new reference). */
static json_t *obs_tags(const bar_obs *o)
{
	return json_loads(o->tags ? o->tags : "{}", 0, NULL);
}

/* The listed resource that carries record r's address and this state's
 * lineage in its tags, when r's own id is gone: the resource the record
 * should track (its id changed out of band, or an older state was
 * restored).  Only when no record holds that resource's id. */
static bar_obs *by_address_tag(bar_snapshot *s, snap_group *g, const bar_record *r)
{
	for (size_t k = 0; k < g->list.n; k++) {
		bar_obs *o = &g->list.items[k];
		json_t *t = obs_tags(o);
		const char *a = json_string_value(json_object_get(t, "barista:address"));
		const char *l = json_string_value(json_object_get(t, "barista:lineage"));
		int match = a && l && !strcmp(a, r->address) && !strcmp(l, s->lineage);

		json_decref(t);
		if (!match)
			continue;
		for (size_t i = 0; i < s->rs.n; i++)
			if (s->rs.items[i].system_id && !strcmp(s->rs.items[i].system_id, o->system_id))
				match = 0; /* another record tracks it */
		if (match)
			return o;
	}
	return NULL;
}

/* A lookup type (an image, an instance type) is the cloud's own object and
 * is never listed: read each record of the group instead.  A record whose
 * object is gone (BAR_ENOTFOUND) has no observation. */
static int read_group(bar_snapshot *s, snap_group *g, const bar_conn *c, const bar_op_ctx *ctx)
{
	size_t *found = bar_calloc(g->n + 1, sizeof(*found));
	int rc = 0;

	for (size_t k = 0; k < g->n && rc == 0; k++) {
		const bar_record *r = &s->rs.items[g->idx[k]];
		json_t *attrs = r->desired ? json_loads(r->desired, 0, NULL) : NULL;
		json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{}, s:{s:s, s:s, s:s}}", "type",
		                       r->type, "name", r->name, "namespace", r->ns, "system_id",
		                       r->system_id ? r->system_id : "", "attrs",
		                       attrs ? attrs : json_object(), "refs", "tags",
		                       "barista:address", r->address, "barista:lineage",
		                       s->lineage ? s->lineage : "", "barista:namespace", r->ns);
		char *text = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
		bar_op_ctx one = *ctx;
		bar_obs o = {0};
		int prc;

		one.address = r->address;
		prc = bar_host_read(c, r->type, r->name, text, &one, &o);
		if (prc == 0) {
			if (g->list.n == g->list.cap) {
				g->list.cap = g->list.cap ? g->list.cap * 2 : 8;
				g->list.items = bar_realloc(g->list.items, g->list.cap * sizeof(bar_obs));
			}
			g->list.items[g->list.n] = o;
			found[k] = ++g->list.n; /* index + 1; 0: not found */
		} else if (prc != BAR_ENOTFOUND) {
			rc = -1;
		}
		free(text);
		json_decref(in);
	}
	for (size_t k = 0; k < g->n && rc == 0; k++) {
		snap_live *lv = &s->live[g->idx[k]];

		lv->checked = 1;
		lv->obs = found[k] ? &g->list.items[found[k] - 1] : NULL;
	}
	free(found);
	return rc;
}

/* List one group with the given connection attrs; fills g->list and the
 * live entries of its records.  Returns 0 or -1 (message in g->error). */
static int list_group(bar_snapshot *s, snap_group *g, const json_t *attrs)
{
	const bar_record *first = &s->rs.items[g->idx[0]];
	bar_op_ctx ctx = {.cancel = s->cancel, .deadline_ms = bar_now_ms() + 300000};
	bar_conn c = {0};
	bar_map by_id;
	int rc = -1;

	bar_obs_list_clear(&g->list);
	free(g->error);
	g->error = NULL;
	free(g->cred);
	g->cred = cred_text(attrs);
	if (bar_conn_init(&c, first->ns, first->connection, attrs) < 0 ||
	    bar_conn_bind(&c, s->reg) < 0 ||
	    (bar_provider_type_lookup(c.provider, first->type)
	         ? read_group(s, g, &c, &ctx) < 0
	         : bar_host_list(&c, first->type, &ctx, &g->list) < 0)) {
		bar_error_prefix("refreshing %s resources of connection %s", first->type,
		                 first->connection);
		g->error = bar_strdup(bar_error_last());
		goto done;
	}
	if (bar_provider_type_lookup(c.provider, first->type)) {
		rc = 0; /* read_group matched the records */
		goto done;
	}
	bar_map_init(&by_id, g->list.n);
	for (size_t k = 0; k < g->list.n; k++)
		bar_map_put(&by_id, g->list.items[k].system_id, &g->list.items[k]);
	for (size_t k = 0; k < g->n; k++) {
		snap_live *lv = &s->live[g->idx[k]];

		lv->checked = 1;
		lv->obs = bar_map_get(&by_id, s->rs.items[g->idx[k]].system_id);
		if (!lv->obs && (lv->obs = by_address_tag(s, g, &s->rs.items[g->idx[k]])))
			lv->by_tag = 1;
	}
	bar_map_free(&by_id);
	rc = 0;
done:
	bar_conn_clear(&c);
	return rc;
}

/* Group provider records by (namespace, connection, type), in one pass;
 * groups come out in order of first appearance (records are sorted by
 * address, so that is deterministic). */
static void make_groups(bar_snapshot *s)
{
	bar_map by_key;
	char **keys = NULL;

	bar_map_init(&by_key, 16);
	s->groups = bar_calloc(1, sizeof(*s->groups));
	for (size_t k = 0; k < s->rs.n; k++) {
		const bar_record *r = &s->rs.items[k];
		char key[512];
		snap_group *g;
		size_t gi;

		if (!r->connection || !r->system_id || !bar_type_is_provider(r->type))
			continue;
		snprintf(key, sizeof(key), "%s/%s/%s", r->ns, r->connection, r->type);
		gi = (size_t)bar_map_get(&by_key, key);
		if (!gi) {
			s->groups = bar_realloc(s->groups, (s->n_groups + 1) * sizeof(*s->groups));
			memset(&s->groups[s->n_groups], 0, sizeof(*s->groups));
			keys = bar_realloc(keys, (s->n_groups + 1) * sizeof(*keys));
			keys[s->n_groups] = bar_strdup(key);
			gi = ++s->n_groups;
			bar_map_put(&by_key, keys[gi - 1], (void *)gi);
		}
		g = &s->groups[gi - 1];
		if ((g->n & (g->n - 1)) == 0) /* 0, 1, 2, 4...: grow to the next power of two */
			g->idx = bar_realloc(g->idx, (g->n ? g->n * 2 : 1) * sizeof(size_t));
		g->idx[g->n++] = k;
	}
	for (size_t i = 0; i < s->n_groups; i++)
		free(keys[i]);
	free(keys);
	bar_map_free(&by_key);
}

int bar_snapshot_read(bar_snapshot **out, bar_state *st, bar_registry *reg, int refresh,
                      const bar_cancel *cancel)
{
	bar_snapshot *s = bar_calloc(1, sizeof(*s));

	s->reg = reg;
	s->cancel = cancel;
	if (bar_state_load(st, &s->rs) < 0 || bar_state_serial(st, &s->serial) < 0) {
		bar_snapshot_free(s);
		return -1;
	}
	s->lineage = bar_strdup(bar_state_lineage(st));
	s->live = bar_calloc(s->rs.n + 1, sizeof(*s->live));
	s->adopt = json_object();
	if (bar_state_intents(st, &s->intents) < 0) {
		bar_snapshot_free(s);
		return -1;
	}
	s->refreshed = refresh;
	if (refresh) {
		make_groups(s);
		for (size_t i = 0; i < s->n_groups; i++) {
			snap_group *g = &s->groups[i];
			const bar_record *first = &s->rs.items[g->idx[0]];
			char *addr = bar_conn_address(first->ns, first->connection);
			json_t *attrs = bar_conn_live_attrs(NULL, &s->rs, addr);

			if (attrs)
				list_group(s, g, attrs); /* a failure is settled later */
			else
				g->error = bar_printf("connection %s is not recorded in state", addr);
			json_decref(attrs);
			free(addr);
		}
	}
	*out = s;
	return 0;
}

/* What an open intent's idempotency key made, found by its tag in one list
 * of the intent's connection and type; "" when nothing carries it. */
static char *intent_made(bar_snapshot *s, const bar_desired_set *ds, const bar_intent *in)
{
	const char *slash = strchr(in->address, '/');
	char *ns = bar_strndup(in->address, slash ? (size_t)(slash - in->address) : 0);
	char *caddr = bar_conn_address(ns, in->connection);
	json_t *attrs = bar_conn_live_attrs(ds, &s->rs, caddr);
	bar_op_ctx ctx = {.cancel = s->cancel, .deadline_ms = bar_now_ms() + 300000};
	bar_obs_list list = {0};
	bar_conn c = {0};
	char *found = NULL;

	if (attrs && bar_conn_init(&c, ns, in->connection, attrs) == 0 &&
	    bar_conn_bind(&c, s->reg) == 0 && bar_host_list(&c, in->type, &ctx, &list) == 0) {
		for (size_t k = 0; k < list.n && !found; k++) {
			json_t *t = obs_tags(&list.items[k]);
			const char *key = json_string_value(json_object_get(t, "barista:idempotency"));

			if (key && !strcmp(key, in->idem_key))
				found = bar_strdup(list.items[k].system_id);
			json_decref(t);
		}
	}
	bar_error_clear(); /* a failed look means: create it (with the same key) */
	bar_obs_list_clear(&list);
	bar_conn_clear(&c);
	json_decref(attrs);
	free(caddr);
	free(ns);
	return found ? found : bar_strdup("");
}

/* Reconcile open intents whose address has no record: a resource found by
 * the intent's idempotency tag is adopted rather than made again. */
static void settle_intents(bar_snapshot *s, const bar_desired_set *ds)
{
	for (size_t i = 0; ds && i < s->intents.n; i++) {
		const bar_intent *in = &s->intents.items[i];
		char *id;

		if (bar_records_find(&s->rs, in->address) || !in->connection)
			continue;
		id = intent_made(s, ds, in);
		if (*id)
			json_object_set_new(s->adopt, in->address, json_string(id));
		free(id);
	}
}

int bar_snapshot_settle(bar_snapshot *s, const bar_desired_set *ds)
{
	settle_intents(s, ds);
	for (size_t i = 0; s->refreshed && i < s->n_groups; i++) {
		snap_group *g = &s->groups[i];
		const bar_record *first = &s->rs.items[g->idx[0]];
		char *addr = bar_conn_address(first->ns, first->connection);
		json_t *attrs = bar_conn_live_attrs(ds, &s->rs, addr);
		char *cred = attrs ? cred_text(attrs) : NULL;
		int rc = 0;

		if (!attrs)
			rc = bar_error_set("connection %s is neither in the configuration nor in "
			                   "state", addr);
		else if (g->error || strcmp(cred, g->cred ? g->cred : "") != 0)
			rc = list_group(s, g, attrs);
		free(cred);
		json_decref(attrs);
		free(addr);
		if (rc < 0)
			return bar_error_set("%s", g->error ? g->error : bar_error_last());
	}
	return 0;
}

/* Index a group's listed resources of this lineage by their address tag
 * (once; a cache inside the logically const snapshot). */
static void index_group(const bar_snapshot *s, snap_group *g)
{
	g->indexed = 1;
	bar_map_init(&g->by_addr, g->list.n);
	g->addr_keys = bar_calloc(g->list.n + 1, sizeof(*g->addr_keys));
	for (size_t k = 0; k < g->list.n; k++) {
		json_t *t = obs_tags(&g->list.items[k]);
		const char *a = json_string_value(json_object_get(t, "barista:address"));
		const char *l = json_string_value(json_object_get(t, "barista:lineage"));

		if (a && l && !strcmp(l, s->lineage)) {
			g->addr_keys[g->n_keys] = bar_strdup(a);
			bar_map_put(&g->by_addr, g->addr_keys[g->n_keys++], &g->list.items[k]);
		}
		json_decref(t);
	}
}

const bar_obs *bar_snapshot_tagged(const bar_snapshot *s, const char *ns,
                                   const char *connection, const char *type,
                                   const char *address)
{
	for (size_t i = 0; connection && i < s->n_groups; i++) {
		snap_group *g = &s->groups[i];
		const bar_record *first = &s->rs.items[g->idx[0]];

		if (g->error || strcmp(first->ns, ns) || strcmp(first->connection, connection) ||
		    strcmp(first->type, type))
			continue;
		if (!g->indexed)
			index_group(s, g);
		return bar_map_get(&g->by_addr, address);
	}
	return NULL;
}

void bar_snapshot_use_live(bar_snapshot *s)
{
	for (size_t i = 0; s->refreshed && i < s->rs.n; i++) {
		bar_record *r = &s->rs.items[i];
		const snap_live *lv = &s->live[i];

		if (!lv->checked)
			continue;
		free(r->status);
		/* a tainted resource (its create, or its postCommands, failed) stays
		 * Failed whatever it runs like: the next apply replaces it */
		r->status = bar_strdup(!lv->obs ? "Terminated" : r->taint ? "Failed"
		                                                  : lv->obs->status);
		if (lv->obs) {
			free(r->observed);
			r->observed = bar_strdup(lv->obs->attrs);
		}
	}
}

const bar_records *bar_snapshot_records(const bar_snapshot *s)
{
	return &s->rs;
}

void bar_snapshot_free(bar_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_groups; i++) {
		for (size_t k = 0; k < s->groups[i].n_keys; k++)
			free(s->groups[i].addr_keys[k]);
		free(s->groups[i].addr_keys);
		if (s->groups[i].indexed)
			bar_map_free(&s->groups[i].by_addr);
		free(s->groups[i].idx);
		free(s->groups[i].error);
		free(s->groups[i].cred);
		bar_obs_list_clear(&s->groups[i].list);
	}
	free(s->groups);
	for (size_t i = 0; i < s->n_agent_obs; i++) {
		bar_obs_clear(s->agent_obs[i]);
		free(s->agent_obs[i]);
	}
	free(s->agent_obs);
	free(s->live);
	free(s->lineage);
	bar_records_clear(&s->rs);
	bar_intents_clear(&s->intents);
	json_decref(s->adopt);
	free(s);
}
