/*
 * plan.c - diffing desired state against recorded (and, with refresh, live)
 * state into a plan.
 *
 * Refresh makes one list call per (connection, resource type) present in
 * state, never one read per resource, and matches live resources to records
 * by system id.  A record whose resource is gone is planned for re-create; a
 * difference between what was recorded and what is live is reported as
 * drift, and acted on when it contradicts the spec.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

const char *bar_action_name(bar_action a)
{
	static const char *names[] = {"no-op", "create", "update", "replace", "delete"};

	return names[a];
}

/* ---- changes ---- */

typedef struct plan_builder {
	bar_change *items;
	size_t n, cap;
} plan_builder;

static bar_change *change_new(plan_builder *b, bar_action a, const char *address,
                              const char *type, const char *ns, const char *name,
                              const char *connection)
{
	bar_change *c;

	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->items = bar_realloc(b->items, b->cap * sizeof(*b->items));
	}
	c = &b->items[b->n++];
	memset(c, 0, sizeof(*c));
	c->action = a;
	c->address = bar_strdup(address);
	c->type = bar_strdup(type);
	c->ns = bar_strdup(ns);
	c->name = bar_strdup(name);
	c->connection = bar_strdup(connection);
	return c;
}

static void change_set_desired(bar_change *c, const bar_desired *d)
{
	bar_desired_expand(d);
	c->attrs = json_incref(d->attrs);
	c->hash = bar_strdup(d->hash);
	c->refs = json_incref(d->refs);
	c->deps = json_incref(d->deps);
}

/* Remember what the recorded resource is and depends on: a replacement's
 * delete half must wait for what depended on the *old* resource. */
static void set_prior(bar_change *c, const bar_record *r)
{
	c->prior_system_id = bar_strdup(r->system_id);
	c->prior_deps = r->deps ? json_loads(r->deps, 0, NULL) : NULL;
}

static void set_reason(bar_change *c, char *reason)
{
	free(c->reason);
	c->reason = reason;
}

/* Compare recorded and desired attrs key by key; fill c->diff and report
 * whether any changed key forces replacement with provider `p` (first such
 * key in *forcing). */
static int diff_attrs(bar_change *c, const bar_provider *p, const json_t *old,
                      const json_t *new_, const char **forcing)
{
	json_t *keys = json_object();
	const char *k;
	json_t *v;
	int force = 0;

	json_object_foreach((json_t *)old, k, v) json_object_set(keys, k, json_true());
	json_object_foreach((json_t *)new_, k, v) json_object_set(keys, k, json_true());
	c->diff = json_array();
	json_object_foreach(keys, k, v) {
		json_t *a = json_object_get(old, k), *b = json_object_get(new_, k);
		int f;

		if (a && b && json_equal(a, b))
			continue;
		f = bar_type_forces_replacement(p, c->type, k);
		json_array_append_new(c->diff, json_pack("{s:s, s:O?, s:O?, s:b}", "attr", k,
		                                         "old", a, "new", b, "forces", f));
		if (f && !force) {
			force = 1;
			*forcing = json_string_value(json_object_get(
			    json_array_get(c->diff, json_array_size(c->diff) - 1), "attr"));
		}
	}
	json_decref(keys);
	return force;
}

/* Only state/labels of a VM changed: how to make it so. */
static const char *vm_action_for(const bar_change *c)
{
	size_t i;
	json_t *d;

	json_array_foreach(c->diff, i, d) {
		if (strcmp(json_string_value(json_object_get(d, "attr")), "state") == 0) {
			const char *want = json_string_value(json_object_get(d, "new"));

			return want && strcmp(want, "Suspended") == 0 ? "suspend" : "resume";
		}
	}
	return NULL;
}

static int status_is(const char *s, const char *want)
{
	return s && strcmp(s, want) == 0;
}

/* A VM update (its state or labels changed): replace it if it failed,
 * otherwise suspend/resume it when its live status differs from what the
 * spec now wants; labels alone only need recording. */
static void vm_update(bar_change *c, const char *live, const char *want)
{
	const char *a = vm_action_for(c);

	if (status_is(live, "Failed") || status_is(live, "Terminated")) {
		c->action = BAR_REPLACE;
		set_reason(c, bar_printf("status is %s", live));
		return;
	}
	if (!a && live && want && !status_is(live, want))
		a = strcmp(want, "Suspended") == 0 ? "suspend" : "resume";
	c->vm_action = a ? bar_strdup(a) : NULL;
}

/* Record drift between recorded and live observed attrs.  It contradicts
 * the spec when a desired attribute differs, or when the attribute is one
 * the provider restores (bar_type_info.restorable: a VM's firewall). */
static void note_drift(json_t *drift, const bar_record *r, const bar_obs *o,
                       const json_t *desired, const bar_provider *p, int *contradicts)
{
	json_t *rec = r->observed ? json_loads(r->observed, 0, NULL) : json_object();
	json_t *cur = json_loads(o->attrs, 0, NULL);
	const char *k;
	json_t *v;

	if (!rec)
		rec = json_object();
	if (!cur)
		cur = json_object();
	json_object_foreach(cur, k, v) {
		json_t *was = json_object_get(rec, k);
		json_t *want = desired ? json_object_get(desired, k) : NULL;

		if (was && json_equal(was, v))
			continue;
		json_array_append_new(drift, json_pack("{s:s, s:s, s:O?, s:O}", "address",
		                                       r->address, "attr", k, "recorded", was,
		                                       "live", v));
		if ((want && !json_equal(want, v)) || (p && was && bar_provider_restorable(p, r->type, k)))
			*contradicts = 1;
	}
	json_decref(rec);
	json_decref(cur);
}

static void change_clear(bar_change *c);

/* The provider that made a recorded resource; NULL for records, and with
 * an error set when its plugin cannot be loaded. */
static int record_provider(bar_registry *reg, const bar_record *r, const bar_provider **out)
{
	*out = NULL;
	if (!r->provider || !bar_type_is_provider(r->type))
		return 0;
	if (!reg || bar_registry_get(reg, r->provider, out) < 0) {
		if (reg)
			bar_error_prefix("%s", r->address);
		else
			bar_error_set("%s: no provider registry to plan with", r->address);
		return -1;
	}
	return 0;
}

/* Changes that state alone decides: a tainted resource is replaced; one
 * whose long-running operation an earlier run left under way is waited
 * for.  Returns the change, or NULL when neither applies. */
static bar_change *state_change(plan_builder *b, const bar_desired *d, const bar_record *r,
                                const snap_live *lv)
{
	bar_change *c;

	if (r->taint) {
		c = change_new(b, BAR_REPLACE, d->address, d->type, d->ns, d->name, d->connection);
		change_set_desired(c, d);
		set_prior(c, r);
		c->diff = json_array();
		set_reason(c, bar_printf("tainted: %s", r->taint));
		return c;
	}
	if ((!strcmp(d->type, "agent") || !strcmp(d->type, "app") || !strcmp(d->type, "k8sapp")) &&
	    lv && lv->checked) {
		char *why = !strcmp(d->type, "agent")    ? bar_agent_drift(d, r, lv->obs)
		            : !strcmp(d->type, "k8sapp") ? bar_k8sapp_drift(lv->obs)
		                                         : bar_app_drift(r, lv->obs);
		if (why) {
			c = change_new(b, BAR_UPDATE, d->address, d->type, d->ns, d->name, d->connection);
			change_set_desired(c, d);
			set_prior(c, r);
			c->diff = json_array();
			set_reason(c, why);
			return c;
		}
	}
	if (r->operation && lv && lv->obs && bar_status_transitional(lv->obs->status)) {
		c = change_new(b, BAR_UPDATE, d->address, d->type, d->ns, d->name, d->connection);
		change_set_desired(c, d);
		set_prior(c, r);
		c->diff = json_array();
		c->pending_op = bar_strdup(r->operation);
		set_reason(c, bar_printf("an earlier run left it %s; wait for that operation",
		                         lv->obs->status));
		return c;
	}
	return NULL;
}

/* A create for an address no record has; when an interrupted run's create
 * for it was found by its idempotency tag, the create adopts that. */
static void new_change(plan_builder *b, const bar_desired *d, const bar_snapshot *snap)
{
	bar_change *c = change_new(b, BAR_CREATE, d->address, d->type, d->ns, d->name,
	                           d->connection);
	const char *made = json_string_value(json_object_get(snap->adopt, d->address));

	const bar_obs *tagged = made || !d->connection ? NULL
	                        : bar_snapshot_tagged(snap, d->ns, d->connection, d->type,
	                                              d->address);

	change_set_desired(c, d);
	if (made) {
		c->adopt_id = bar_strdup(made);
		set_reason(c, bar_printf("an interrupted run made %s (its idempotency tag "
		                         "matches); adopt it", made));
	} else if (tagged) { /* a record of its id would have matched it by id */
		c->adopt_id = bar_strdup(tagged->system_id);
		set_reason(c, bar_printf("%s carries this address and this state's lineage but "
		                         "no record tracks it (a record was lost); adopt it",
		                         tagged->system_id));
	}
}

/* Decide the change for one address present in both desired and state. */
static int diff_one(plan_builder *b, const bar_desired *d, const bar_record *r,
                    const snap_live *lv, json_t *drift, int force_replace,
                    bar_registry *reg)
{
	const bar_provider *prov = NULL;
	json_t *old = NULL; /* parsed only when something changed */
	const char *forcing = NULL;
	bar_change *c = NULL;
	int changed = !r->hash || strcmp(r->hash, d->hash) != 0;
	int contradicts = 0, rc = 0;

	if (lv && lv->checked && !lv->obs) {
		c = change_new(b, BAR_CREATE, d->address, d->type, d->ns, d->name, d->connection);
		change_set_desired(c, d);
		c->gone = 1;
		set_prior(c, r);
		set_reason(c, status_is(r->status, "Terminated")
		                  ? bar_printf("%s was terminated; the spec still has it, so it "
		                               "is created again", r->system_id)
		                  : bar_printf("%s no longer exists on the provider (deleted "
		                               "outside barista); it will be created again",
		                               r->system_id));
		goto done;
	}
	if ((c = state_change(b, d, r, lv)))
		goto done;
	if (lv && lv->by_tag) { /* its id changed: track the resource with its tags */
		c = change_new(b, BAR_UPDATE, d->address, d->type, d->ns, d->name, d->connection);
		change_set_desired(c, d);
		set_prior(c, r);
		c->diff = json_array();
		c->adopt_id = bar_strdup(lv->obs->system_id);
		set_reason(c, bar_printf("%s no longer exists, but %s carries its address and "
		                         "this state's lineage: track that", r->system_id,
		                         lv->obs->system_id));
		goto done;
	}
	if (lv && lv->obs && r->observed && strcmp(lv->obs->attrs, r->observed) != 0) {
		if ((rc = record_provider(reg, r, &prov)) < 0)
			goto done;
		bar_desired_expand(d);
		note_drift(drift, r, lv->obs, d->attrs, prov, &contradicts);
	}
	if (!changed && !contradicts && !force_replace) {
		const char *st = lv && lv->obs ? lv->obs->status : NULL;
		const char *want = bar_desired_vm_state(d);

		if (strcmp(d->type, "vm") != 0 || !st || !want || status_is(st, want))
			goto done; /* no-op */
		c = change_new(b, BAR_UPDATE, d->address, d->type, d->ns, d->name, d->connection);
		change_set_desired(c, d);
		set_prior(c, r);
		c->diff = json_array();
		if (status_is(st, "Failed") || status_is(st, "Terminated")) {
			c->action = BAR_REPLACE;
			set_reason(c, bar_printf("status is %s", st));
		} else {
			c->vm_action = bar_strdup(strcmp(want, "Suspended") == 0 ? "suspend" : "resume");
			set_reason(c, bar_printf("status is %s (by barista mci or outside barista), "
			                         "the spec wants %s", st, want));
		}
		goto done;
	}
	c = change_new(b, BAR_UPDATE, d->address, d->type, d->ns, d->name, d->connection);
	change_set_desired(c, d);
	set_prior(c, r);
	old = r->desired ? json_loads(r->desired, 0, NULL) : NULL;
	if (!old)
		old = json_object();
	if ((rc = record_provider(reg, r, &prov)) < 0)
		goto done;
	if (diff_attrs(c, prov, old, d->attrs, &forcing) || force_replace) {
		c->action = BAR_REPLACE;
		set_reason(c, force_replace ? bar_strdup("replacement requested with -replace")
		                            : bar_printf("%s forces replacement", forcing));
	} else if (contradicts && !changed) {
		set_reason(c, bar_strdup("drift: live attributes differ from the spec"));
	}
	if (c->action == BAR_UPDATE && strcmp(c->type, "vm") == 0)
		vm_update(c, lv && lv->obs ? lv->obs->status : NULL, bar_desired_vm_state(d));
	if (c->action == BAR_UPDATE && !contradicts && !c->vm_action &&
	    json_array_size(c->diff) == 0) {
		/* Only the hash differs (it was recorded by another version of
		 * barista): nothing to do. */
		change_clear(c);
		b->n--;
		c = NULL;
	}
done:
	if (rc == 0 && c && r->connection &&
	    d->connection && strcmp(r->connection, d->connection) != 0)
		c->prior_connection = bar_strdup(r->connection);
	json_decref(old);
	return rc;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const bar_change *)a)->address, ((const bar_change *)b)->address);
}

/* ---- dependency order and propagation ---- */

static int level_of(const bar_desired_set *ds, size_t i, int *level, int depth)
{
	const bar_desired *d = &ds->items[i];
	size_t k;
	json_t *a;
	int best = 0;

	if (level[i] >= 0)
		return level[i];
	if (depth > 256) /* validation rejects cycles; never loop forever */
		return 0;
	bar_desired_expand(d);
	json_array_foreach(d->deps, k, a) {
		const bar_desired *x = bar_desired_find(ds, json_string_value(a));

		if (x) {
			int l = level_of(ds, (size_t)(x - ds->items), level, depth + 1) + 1;

			if (l > best)
				best = l;
		}
	}
	level[i] = best;
	return best;
}

static int cmp_level(const void *a, const void *b, void *arg)
{
	const int *level = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (level[x] != level[y])
		return level[x] - level[y];
	return x < y ? -1 : x > y;
}

/* Indices of the desired set in dependency order (ties by address). */
static size_t *topo_order(const bar_desired_set *ds)
{
	int *level = bar_malloc((ds->n + 1) * sizeof(*level));
	size_t *order = bar_malloc((ds->n + 1) * sizeof(*order));

	for (size_t i = 0; i < ds->n; i++)
		level[i] = -1;
	for (size_t i = 0; i < ds->n; i++) {
		level_of(ds, i, level, 0);
		order[i] = i;
	}
	qsort_r(order, ds->n, sizeof(*order), cmp_level, level);
	free(level);
	return order;
}

static int replaces(const bar_change *c)
{
	return c && (c->action == BAR_REPLACE || (c->action == BAR_CREATE && c->gone));
}

/* A resource that depends on a replaced provider resource (or connection)
 * must be replaced too: what it references will have a new identity. */
static void propagate(plan_builder *b, const bar_desired_set *ds, const bar_records *rs)
{
	size_t *order;
	bar_map by_addr;
	int any = 0;

	for (size_t i = 0; i < b->n && !any; i++)
		any = replaces(&b->items[i]);
	if (!any)
		return; /* the common case: nothing is replaced */
	order = topo_order(ds);

	bar_map_init(&by_addr, b->n + ds->n);
	for (size_t i = 0; i < b->n; i++)
		bar_map_put(&by_addr, b->items[i].address, (void *)(i + 1));
	for (size_t oi = 0; oi < ds->n; oi++) {
		const bar_desired *d = &ds->items[order[oi]];
		const bar_record *r = bar_records_find(rs, d->address);
		size_t ci = (size_t)bar_map_get(&by_addr, d->address);
		size_t k;
		json_t *a;

		if (!r || (ci && b->items[ci - 1].action != BAR_UPDATE))
			continue;
		bar_desired_expand(d);
		json_array_foreach(d->deps, k, a) {
			const char *dep = json_string_value(a);
			size_t di = (size_t)bar_map_get(&by_addr, dep);
			const bar_change *dc = di ? &b->items[di - 1] : NULL;
			bar_change *c;

			if (!replaces(dc) || !(bar_type_is_provider(dc->type) ||
			                       strcmp(dc->type, "connection") == 0))
				continue;
			if (!ci) {
				c = change_new(b, BAR_REPLACE, d->address, d->type, d->ns, d->name,
				               d->connection);
				change_set_desired(c, d);
				set_prior(c, r);
				c->diff = json_array();
				ci = b->n;
				bar_map_put(&by_addr, c->address, (void *)ci);
			}
			c = &b->items[ci - 1];
			c->action = BAR_REPLACE;
			free(c->vm_action);
			c->vm_action = NULL;
			set_reason(c, bar_printf("%s is replaced", dep));
			break;
		}
	}
	bar_map_free(&by_addr);
	free(order);
}

/* ---- targets ---- */

static void mark(bar_map *set, const char *addr)
{
	bar_map_put(set, addr, (void *)1);
}

/* Addresses selected by -target: each target, an MCI's VMs, and
 * (transitively) what they depend on or, for deletions, what depends on them. */
static void target_closure(bar_map *set, const bar_plan_opts *o, const bar_desired_set *ds,
                           const bar_records *rs)
{
	/* recorded deps of what is about to be deleted, parsed once */
	json_t **rdeps = bar_calloc(rs->n + 1, sizeof(*rdeps));
	int grew = 1;

	for (size_t i = 0; i < rs->n; i++)
		if (!(ds && bar_desired_find(ds, rs->items[i].address)))
			rdeps[i] = json_loads(rs->items[i].deps ? rs->items[i].deps : "[]", 0, NULL);
	for (size_t t = 0; t < o->n_targets; t++) {
		mark(set, o->targets[t]);
		for (size_t i = 0; ds && i < ds->n; i++) {
			const bar_object *mci = ds->items[i].mci;
			char *a = mci ? bar_printf("%s/mci/%s", mci->ns, mci->name) : NULL;

			if (a && strcmp(a, o->targets[t]) == 0)
				mark(set, ds->items[i].address);
			free(a);
		}
	}
	while (grew) { /* a fixpoint: as many rounds as the graph is deep */
		grew = 0;
		for (size_t i = 0; ds && i < ds->n; i++) {
			size_t k;
			json_t *a;

			if (!bar_map_get(set, ds->items[i].address))
				continue;
			bar_desired_expand(&ds->items[i]);
			json_array_foreach(ds->items[i].deps, k, a) {
				if (!bar_map_get(set, json_string_value(a))) {
					mark(set, json_string_value(a));
					grew = 1;
				}
			}
		}
		for (size_t i = 0; i < rs->n; i++) {
			size_t k;
			json_t *a;

			if (!rdeps[i] || bar_map_get(set, rs->items[i].address))
				continue;
			json_array_foreach(rdeps[i], k, a) {
				if (bar_map_get(set, json_string_value(a))) {
					mark(set, rs->items[i].address);
					grew = 1;
					break;
				}
			}
		}
	}
	for (size_t i = 0; i < rs->n; i++)
		json_decref(rdeps[i]);
	free(rdeps);
}

/* ---- the plan ---- */


static bar_change *delete_change(plan_builder *b, const bar_record *r)
{
	bar_change *c = change_new(b, BAR_DELETE, r->address, r->type, r->ns, r->name,
	                           r->connection);

	c->deps = r->deps ? json_loads(r->deps, 0, NULL) : NULL;
	if (!c->deps)
		c->deps = json_array();
	set_prior(c, r);
	return c;
}

static int check_replace_opts(const bar_plan_opts *o, const bar_desired_set *ds,
                              const bar_records *rs)
{
	for (size_t i = 0; i < o->n_replace; i++)
		if (!bar_records_find(rs, o->replace[i]) ||
		    !(ds && bar_desired_find(ds, o->replace[i])))
			return bar_error_set("-replace %s: no such resource in both the "
			                     "configuration and the state; see `barista state list`",
			                     o->replace[i]);
	return 0;
}

/* Every -target must name something: a resource of the configuration or of
 * the state (for destroy: of the state), an MCI included. */
static int check_target_opts(const bar_plan_opts *o, const bar_desired_set *ds,
                             const bar_records *rs)
{
	for (size_t i = 0; i < o->n_targets; i++)
		if (!bar_records_find(rs, o->targets[i]) &&
		    !(ds && !o->destroy && bar_desired_find(ds, o->targets[i])))
			return bar_error_set("-target %s: no such resource in the %s; see `barista "
			                     "state list`", o->targets[i],
			                     o->destroy ? "state" : "configuration or the state");
	return 0;
}

/* Every connection a change needs, for apply: the desired attributes for
 * creates, and the live ones (recorded location, current credential) for
 * everything that touches an existing resource. */
static void needed_connections(bar_plan *p, const bar_desired_set *ds, const bar_records *rs)
{
	p->connections = json_object();
	p->live_connections = json_object();
	for (size_t i = 0; i < p->n; i++) {
		const bar_change *c = &p->changes[i];
		char *addr;

		if (!c->connection || !bar_type_is_provider(c->type))
			continue;
		addr = bar_conn_address(c->ns, c->connection);
		if (c->action != BAR_DELETE && !json_object_get(p->connections, addr)) {
			const bar_desired *d = ds ? bar_desired_find(ds, addr) : NULL;

			if (d)
				json_object_set(p->connections, addr, d->attrs);
		}
		if ((c->action != BAR_CREATE || c->gone) &&
		    !json_object_get(p->live_connections, addr)) {
			json_t *attrs = bar_conn_live_attrs(ds, rs, addr);

			if (attrs)
				json_object_set_new(p->live_connections, addr, attrs);
		}
		free(addr);
		if (c->prior_connection) { /* the old resource is deleted where it is */
			json_t *attrs;

			addr = bar_conn_address(c->ns, c->prior_connection);
			if (!json_object_get(p->live_connections, addr) &&
			    (attrs = bar_conn_live_attrs(ds, rs, addr)))
				json_object_set_new(p->live_connections, addr, attrs);
			free(addr);
		}
	}
}

static int is_forced(const bar_plan_opts *o, const char *addr)
{
	for (size_t i = 0; i < o->n_replace; i++)
		if (strcmp(o->replace[i], addr) == 0)
			return 1;
	return 0;
}

/* What the connection's driver can do; all capabilities when the driver's
 * plugin cannot be loaded here (check_connections reports that). */
static uint32_t driver_caps(const bar_desired_set *ds, const bar_records *rs,
                            bar_registry *reg, const bar_change *c)
{
	char *addr = bar_conn_address(c->ns, c->connection);
	json_t *attrs = bar_conn_live_attrs(ds, rs, addr);
	const char *driver = json_string_value(json_object_get(attrs, "driver"));
	const bar_provider *prov;
	uint32_t caps = ~0u;

	if (reg && driver && bar_registry_get(reg, driver, &prov) == 0)
		caps = prov->capabilities;
	bar_error_clear();
	json_decref(attrs);
	free(addr);
	return caps;
}

/* A suspend or resume the driver cannot do fails the plan rather than the
 * apply.  (What cannot change in place was made a replacement by the diff,
 * from the provider's own type descriptions.) */
static int check_capabilities(plan_builder *b, const bar_desired_set *ds,
                              const bar_records *rs, bar_registry *reg)
{
	for (size_t i = 0; i < b->n; i++) {
		bar_change *c = &b->items[i];

		if (c->action != BAR_UPDATE || !c->vm_action || !c->connection)
			continue;
		if (!(driver_caps(ds, rs, reg, c) & BAR_CAP_VM_SUSPEND))
			return bar_error_set("%s: connection \"%s\" cannot %s VMs (its driver has no "
			                     "suspend/resume); change the MCI's state back",
			                     c->address, c->connection, c->vm_action);
	}
	return 0;
}

/* Check every connection the plan will use, as apply would meet it: its
 * driver's plugin loads, its region is not blank, its credential references
 * resolve and the provider opens a session (the local provider refuses
 * there when not root).  A plan that cannot be applied fails here. */
static int check_connections(const bar_plan *p, bar_registry *reg)
{
	const json_t *sets[2] = {p->connections, p->live_connections};
	int rc = 0;

	for (int k = 0; k < 2 && rc == 0; k++) {
		const char *addr;
		json_t *attrs;

		json_object_foreach((json_t *)sets[k], addr, attrs) {
			const char *slash = strchr(addr, '/');
			char *ns = bar_strndup(addr, slash ? (size_t)(slash - addr) : 0);
			bar_conn c = {0};

			if ((rc = bar_conn_init(&c, ns, strrchr(addr, '/') + 1, attrs)) == 0 &&
			    (rc = bar_conn_bind(&c, reg)) == 0)
				rc = bar_conn_check(&c);
			bar_conn_clear(&c);
			free(ns);
			if (rc < 0)
				break;
		}
	}
	return rc;
}

/*
 * A state with no record at all, for a configuration whose resources the
 * providers already hold (tagged with its addresses): the state was lost,
 * emptied or replaced.  Applying would make everything a second time, so
 * the plan fails and says how to adopt or remove them.
 */
static int check_lost_state(const bar_desired_set *ds, bar_snapshot *snap)
{
	bar_orphans found = {NULL, 0};
	size_t provider_resources = 0;
	int rc;

	for (size_t i = 0; i < ds->n && !provider_resources; i++)
		provider_resources += bar_type_is_provider(ds->items[i].type);
	if (snap->rs.n || !provider_resources || !snap->reg)
		return 0;
	if ((rc = bar_orphans_find(&found, ds, &snap->rs, NULL, snap->reg, snap->cancel)) < 0)
		return rc;
	if (found.n)
		rc = bar_error_setc(BAR_ECONFLICT, "the state has no records, but the providers "
		                    "already hold %zu resource%s tagged for this configuration "
		                    "(%s is %s on connection %s): the state was lost, emptied or "
		                    "replaced.  Restore it, or adopt them with `barista import "
		                    "ADDR SYSTEM_ID` (`barista orphans` lists them), or remove "
		                    "them with `barista orphans -delete`; applying now would "
		                    "create everything a second time", found.n,
		                    found.n == 1 ? "" : "s", found.items[0].address,
		                    found.items[0].system_id, found.items[0].connection);
	bar_orphans_clear(&found);
	return rc;
}

/*
 * Open intents of addresses the configuration no longer has (or all, for
 * destroy) and no record holds: what such an interrupted create made is
 * deleted (found by its idempotency tag), and the intent is forgotten.
 */
static void settle_dropped_intents(plan_builder *b, const bar_desired_set *ds,
                                   const bar_snapshot *snap, int destroy)
{
	for (size_t i = 0; i < snap->intents.n; i++) {
		const bar_intent *in = &snap->intents.items[i];
		const char *made = json_string_value(json_object_get(snap->adopt, in->address));
		const char *slash = strchr(in->address, '/'), *name = strrchr(in->address, '/');
		char *ns;
		bar_change *c;

		if (bar_records_find(&snap->rs, in->address) ||
		    (!destroy && ds && bar_desired_find(ds, in->address)) || !slash || !name)
			continue;
		ns = bar_strndup(in->address, (size_t)(slash - in->address));
		c = change_new(b, BAR_DELETE, in->address, in->type, ns, name + 1, in->connection);
		c->deps = json_array();
		if (made) {
			c->orphan = 1;
			c->prior_system_id = bar_strdup(made);
			set_reason(c, bar_printf("an interrupted create made %s, which the "
			                         "configuration no longer has", made));
		} else {
			c->record_only = 1;
			set_reason(c, bar_strdup("forget an unfinished create that made nothing"));
		}
		free(ns);
	}
}

/* -refresh-only: one record-only change per record whose resource is gone
 * or whose live attributes or status differ from what was recorded. */
static void refresh_only(plan_builder *b, const bar_snapshot *snap, json_t *drift)
{
	const bar_records *rs = &snap->rs;

	for (size_t i = 0; i < rs->n; i++) {
		const bar_record *r = &rs->items[i];
		const snap_live *lv = &snap->live[i];
		bar_change *c;
		int contradicts = 0;

		if (!lv->checked)
			continue;
		if (!lv->obs) {
			c = delete_change(b, r);
			c->record_only = 1;
			set_reason(c, bar_printf("%s no longer exists on the provider; forget it",
			                         r->system_id));
			continue;
		}
		if (r->observed && !strcmp(lv->obs->attrs, r->observed) &&
		    status_is(lv->obs->status, r->status ? r->status : ""))
			continue;
		if (r->observed && strcmp(lv->obs->attrs, r->observed))
			note_drift(drift, r, lv->obs, NULL, NULL, &contradicts);
		c = change_new(b, BAR_UPDATE, r->address, r->type, r->ns, r->name, r->connection);
		set_prior(c, r);
		c->record_only = 1;
		c->live_status = bar_strdup(lv->obs->status);
		c->live_attrs = bar_strdup(lv->obs->attrs);
		c->deps = r->deps ? json_loads(r->deps, 0, NULL) : json_array();
		set_reason(c, bar_printf("record what is live (status %s)", lv->obs->status));
	}
}

int bar_plan_make(bar_plan **out, const bar_desired_set *ds, bar_snapshot *snap,
                  const bar_plan_opts *o)
{
	const bar_records *rs = &snap->rs;
	plan_builder b = {NULL, 0, 0};
	bar_plan *p = bar_calloc(1, sizeof(*p));
	bar_map targets = {0};
	size_t kept = 0;
	int rc = -1;

	p->drift = json_array();
	p->lineage = bar_strdup(snap->lineage);
	p->serial = snap->serial;
	p->destroy = o->destroy;
	p->refreshed = snap->refreshed && !o->destroy;
	if (check_replace_opts(o, ds, rs) < 0 || check_target_opts(o, ds, rs) < 0)
		goto done;
	if (p->refreshed && bar_snapshot_settle(snap, ds) < 0)
		goto done;
	if (p->refreshed && ds && !o->destroy && check_lost_state(ds, snap) < 0)
		goto done;
	if (o->refresh_only && !p->refreshed) {
		bar_error_set("-refresh-only needs refresh: drop -refresh=false");
		goto done;
	}
	if (o->refresh_only)
		refresh_only(&b, snap, p->drift);
	for (size_t i = 0; ds && !o->destroy && !o->refresh_only && i < ds->n; i++) {
		const bar_desired *d = &ds->items[i];
		const bar_record *r = bar_records_find(rs, d->address);

		if (!r)
			new_change(&b, d, snap);
		else if (diff_one(&b, d, r, p->refreshed ? &snap->live[r - rs->items] : NULL,
		                  p->drift, is_forced(o, d->address), snap->reg) < 0)
			goto done;
	}
	for (size_t i = 0; !o->refresh_only && i < rs->n; i++)
		if (o->destroy || !ds || !bar_desired_find(ds, rs->items[i].address))
			delete_change(&b, &rs->items[i]);
	if (!o->refresh_only && p->refreshed)
		settle_dropped_intents(&b, ds, snap, o->destroy);
	if (ds && !o->destroy && !o->refresh_only && check_capabilities(&b, ds, rs, snap->reg) < 0)
		goto done;
	if (ds && !o->destroy && !o->refresh_only)
		propagate(&b, ds, rs);
	if (o->n_targets) {
		bar_map_init(&targets, 64);
		target_closure(&targets, o, o->destroy ? NULL : ds, rs);
	}
	for (size_t i = 0; i < b.n; i++) {
		if (o->n_targets && !bar_map_get(&targets, b.items[i].address)) {
			change_clear(&b.items[i]);
			continue;
		}
		b.items[kept++] = b.items[i];
	}
	b.n = kept;
	if (b.n)
		qsort(b.items, b.n, sizeof(*b.items), cmp_change);
	p->changes = b.items;
	p->n = b.n;
	b.items = NULL;
	bar_plan_rollout(p, o->destroy ? NULL : ds);
	if (ds && !o->destroy && !o->refresh_only) {
		size_t touched = 0;

		for (size_t i = 0; i < p->n; i++)
			touched += p->changes[i].action != BAR_DELETE;
		p->n_noop = ds->n - touched;
	}
	needed_connections(p, ds, rs);
	if (!o->refresh_only && snap->reg && check_connections(p, snap->reg) < 0)
		goto done;
	p->cost = bar_plan_cost(p, ds, rs);
	*out = p;
	p = NULL;
	rc = 0;
done:
	if (o->n_targets)
		bar_map_free(&targets);
	for (size_t i = 0; b.items && i < b.n; i++)
		change_clear(&b.items[i]);
	free(b.items);
	bar_plan_free(p);
	return rc;
}

static void change_clear(bar_change *c)
{
	free(c->address);
	free(c->type);
	free(c->ns);
	free(c->name);
	free(c->connection);
	free(c->reason);
	free(c->vm_action);
	free(c->hash);
	free(c->prior_system_id);
	json_decref(c->prior_deps);
	free(c->live_status);
	free(c->live_attrs);
	free(c->pending_op);
	free(c->prior_connection);
	free(c->adopt_id);
	json_decref(c->attrs);
	json_decref(c->refs);
	json_decref(c->deps);
	json_decref(c->diff);
}

void bar_plan_free(bar_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		change_clear(&p->changes[i]);
	free(p->changes);
	free(p->lineage);
	free(p->state_path);
	json_decref(p->drift);
	json_decref(p->connections);
	json_decref(p->live_connections);
	json_decref(p->cost);
	free(p);
}

void bar_plan_counts(const bar_plan *p, size_t *add, size_t *change, size_t *destroy)
{
	*add = *change = *destroy = 0;
	for (size_t i = 0; i < p->n; i++) {
		switch (p->changes[i].action) {
		case BAR_CREATE: (*add)++; break;
		case BAR_UPDATE: (*change)++; break;
		case BAR_REPLACE: (*add)++; (*destroy)++; break;
		case BAR_DELETE: (*destroy)++; break;
		default: break;
		}
	}
}
