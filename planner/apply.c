/*
 * apply.c - the apply engine: walks a plan's dependency graph in parallel.
 *
 * Each change becomes one node (a replacement becomes two: delete the old
 * resource, then create the new one).  Creates and updates wait for the
 * creates/updates of what they depend on; deletes wait for the deletes of
 * what depends on them.  The nodes are tasks of the shared scheduler
 * (core/scheduler.h) with one slot per connection, so that a connection's
 * maxConcurrency is never exceeded while other connections keep going and
 * throttling slows only its own connection.  A failure skips only the
 * nodes that (transitively) wait for it.  Every result is written to state
 * the moment it completes.
 */
#include "apply_int.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void emit(engine *e, bar_event_kind kind, const node *nd, double elapsed,
                 const char *sysid, const char *msg, const bar_error *err)
{
	static const char *ops[] = {"create", "update", "delete"};
	bar_apply_event ev = {
		.kind = kind, .address = nd->c->address, .op = ops[nd->op],
		.elapsed_s = elapsed, .system_id = sysid, .message = msg, .error = err,
	};

	if (nd->op == OP_UPDATE && nd->c->vm_action)
		ev.op = nd->c->vm_action;
	if (e->o->on_event) /* the scheduler calls us one at a time */
		e->o->on_event(e->o->ud, &ev);
}

/* ---- building the graph ---- */

/* Set up one connection of a slot from "<ns>/connection/<name>" and attrs. */
static int slot_conn(bar_conn *c, const char *addr, const json_t *attrs, bar_registry *reg)
{
	const char *ns_end = strchr(addr, '/');
	const char *name = strrchr(addr, '/');
	char *ns = bar_strndup(addr, ns_end ? (size_t)(ns_end - addr) : 0);
	int rc = bar_conn_init(c, ns, name ? name + 1 : addr, attrs);

	free(ns);
	return rc < 0 ? rc : bar_conn_bind(c, reg);
}

/* One slot (ready queue) per connection; each holds the connection as the
 * spec has it (for creates) and as existing resources need it (recorded
 * location, current credential).  The last slot is for state-only records. */
static int build_slots(engine *e, bar_registry *reg)
{
	json_t *all = json_object();
	const char *addr;
	json_t *v;
	size_t i = 0;
	int rc = 0;

	json_object_update(all, e->plan->connections);
	json_object_update(all, e->plan->live_connections);
	e->n_slots = json_object_size(all) + 1;
	e->conns = bar_calloc(e->n_slots, sizeof(bar_conn));
	e->live = bar_calloc(e->n_slots, sizeof(bar_conn));
	json_object_foreach(all, addr, v) {
		const json_t *want = json_object_get(e->plan->connections, addr);
		const json_t *now = json_object_get(e->plan->live_connections, addr);

		if ((want && slot_conn(&e->conns[i], addr, want, reg) < 0) ||
		    (now && slot_conn(&e->live[i], addr, now, reg) < 0)) {
			rc = -1;
			break;
		}
		i++;
	}
	json_decref(all);
	return rc;
}

/* The connection a node uses: existing resources are reached where they
 * were made; new ones where the spec says. */
const bar_conn *apply_node_conn(const engine *e, const node *nd, int for_existing)
{
	const bar_conn *want = &e->conns[nd->slot], *now = &e->live[nd->slot];

	if (for_existing)
		return now->provider ? now : want;
	return want->provider ? want : now;
}

/* The slot of a connection by name; the last (logical) slot when NULL. */
static int slot_named(engine *e, const char *ns, const char *connection)
{
	if (!connection)
		return (int)e->n_slots - 1;
	for (size_t i = 0; i + 1 < e->n_slots; i++) {
		const bar_conn *x = e->conns[i].name ? &e->conns[i] : &e->live[i];

		if (strcmp(x->name, connection) == 0 && strcmp(x->ns, ns) == 0)
			return (int)i;
	}
	return -1;
}

int apply_slot_of(engine *e, const bar_change *c)
{
	return slot_named(e, c->ns, bar_type_is_provider(c->type) ? c->connection : NULL);
}

/* One task per node, placed in its connection's slot with that
 * connection's maxConcurrency as the slot's limit. */
static void make_tasks(engine *e)
{
	bar_sched_new(&e->sched, e->n, e->n_slots);
	for (size_t i = 0; i + 1 < e->n_slots; i++)
		bar_sched_limit(e->sched, i, e->conns[i].provider ? e->conns[i].max_concurrency
		                                                  : e->live[i].max_concurrency);
	for (size_t i = 0; i < e->n; i++)
		bar_sched_place(e->sched, i, (size_t)e->nodes[i].slot);
}

/* Creates and updates wait for those of what they depend on; a delete
 * waits for the deletes of what depends on it (following what the *old*
 * resource depended on); a replacement's create waits for its delete. */
static void make_edges(engine *e, bar_map *up, bar_map *del)
{
	for (size_t i = 0; i < e->n; i++) {
		node *nd = &e->nodes[i];
		const json_t *deps = nd->op == OP_DELETE && nd->c->prior_deps ? nd->c->prior_deps
		                                                               : nd->c->deps;
		size_t k;
		json_t *a;

		if (nd->op == OP_CREATE && nd->c->action == BAR_REPLACE && i > 0)
			bar_sched_edge(e->sched, i - 1, i);
		json_array_foreach(deps, k, a) {
			const char *d = json_string_value(a);
			size_t j;

			if (nd->op != OP_DELETE && (j = (size_t)bar_map_get(up, d)))
				bar_sched_edge(e->sched, j - 1, i);
			if (nd->op == OP_DELETE && (j = (size_t)bar_map_get(del, d)) && j - 1 != i)
				bar_sched_edge(e->sched, i, j - 1); /* the dependency's delete waits */
		}
	}
}

static int build_nodes(engine *e)
{
	bar_map up, del;
	const bar_plan *p = e->plan;

	e->nodes = bar_calloc(p->n * 2 + 1, sizeof(node));
	bar_map_init(&up, p->n);
	bar_map_init(&del, p->n);
	for (size_t i = 0; i < p->n; i++) {
		const bar_change *c = &p->changes[i];
		int slot = apply_slot_of(e, c);

		if (slot < 0)
			return bar_error_set("%s: connection \"%s\" is not in the plan; re-run "
			                     "barista plan", c->address, c->connection);
		if (c->action == BAR_DELETE || c->action == BAR_REPLACE) {
			/* a resource moved to another connection is deleted where it is */
			int dslot = c->prior_connection && bar_type_is_provider(c->type)
			                ? slot_named(e, c->ns, c->prior_connection) : slot;

			if (dslot < 0)
				return bar_error_set("%s: connection \"%s\" is not in the plan; re-run "
				                     "barista plan", c->address, c->prior_connection);
			e->nodes[e->n] = (node){.c = c, .op = OP_DELETE, .slot = dslot};
			bar_map_put(&del, c->address, (void *)(e->n + 1));
			e->n++;
		}
		if (c->action != BAR_DELETE) {
			int op = c->action == BAR_UPDATE ? OP_UPDATE : OP_CREATE;

			e->nodes[e->n] = (node){.c = c, .op = op, .slot = slot};
			bar_map_put(&up, c->address, (void *)(e->n + 1));
			e->n++;
		}
	}
	make_tasks(e);
	make_edges(e, &up, &del);
	bar_map_free(&up);
	bar_map_free(&del);
	return 0;
}

/* ---- the scheduler's callbacks ---- */

static int task_run(void *ud, size_t t, int *throttled)
{
	engine *e = ud;
	node *nd = &e->nodes[t];
	bar_obs o = {0};
	int rc = apply_run_node(e, nd, &o, throttled);

	free(nd->done_id); /* task_done reports it */
	nd->done_id = rc == 0 ? o.system_id : NULL;
	if (rc == 0)
		o.system_id = NULL;
	bar_obs_clear(&o);
	return rc;
}

static void task_start(void *ud, size_t t)
{
	engine *e = ud;

	emit(e, BAR_EV_START, &e->nodes[t], 0, NULL, NULL, NULL);
}

static void task_done(void *ud, size_t t, int ok, double elapsed)
{
	engine *e = ud;
	node *nd = &e->nodes[t];

	if (ok && nd->op == OP_CREATE)
		e->sum.added++;
	else if (ok && nd->op == OP_UPDATE)
		e->sum.changed++;
	else if (ok)
		e->sum.destroyed++;
	else
		e->sum.failed++;
	emit(e, ok ? BAR_EV_DONE : BAR_EV_FAIL, nd, elapsed, ok ? nd->done_id : NULL,
	     ok ? NULL : bar_error_last(), ok ? NULL : bar_error_get());
}

static void task_skip(void *ud, size_t t, bar_sched_skip why, size_t cause)
{
	engine *e = ud;
	char msg[600];

	e->sum.skipped++;
	if (why == BAR_SCHED_DEP_FAILED)
		snprintf(msg, sizeof(msg), "not started: %s failed", e->nodes[cause].c->address);
	else
		snprintf(msg, sizeof(msg), "%s", why == BAR_SCHED_CYCLE
		         ? "not started: its dependencies form a cycle between the recorded and "
		           "the desired state"
		         : "not started: interrupted");
	emit(e, BAR_EV_SKIP, &e->nodes[t], 0, NULL, msg, NULL);
}

static int stopping(const engine *e)
{
	return bar_cancel_stopping(e->o->cancel);
}

/* ---- policyOnPartialFailure ---- */

/* The MCI's policy as recorded: "continue" (the default), "rollback" or
 * "refine". */
static char *mci_policy(bar_state *st, const char *mci_addr)
{
	bar_record r = {0};
	json_t *d;
	char *p;

	if (bar_state_get(st, mci_addr, &r) < 0)
		return bar_strdup("continue");
	d = r.desired ? json_loads(r.desired, 0, NULL) : NULL;
	p = bar_strdup(json_string_value(json_object_get(d, "policyOnPartialFailure"))
	                   ? json_string_value(json_object_get(d, "policyOnPartialFailure"))
	                   : "continue");
	json_decref(d);
	bar_record_clear(&r);
	return p;
}

/* A delete of recorded VM `c` for the second pass, or nothing when no
 * record holds it (a create that failed before making anything). */
static void add_undo(bar_plan *p, bar_state *st, const bar_change *c)
{
	bar_record r = {0};

	if (bar_state_get(st, c->address, &r) < 0) {
		bar_error_clear();
		return;
	}
	p->changes[p->n++] = (bar_change){
		.action = BAR_DELETE, .address = bar_strdup(c->address), .type = bar_strdup(c->type),
		.ns = bar_strdup(c->ns), .name = bar_strdup(c->name),
		.connection = bar_strdup(r.connection),
		.reason = bar_strdup("policyOnPartialFailure"), .deps = json_array(),
		.prior_system_id = bar_strdup(r.system_id),
	};
	bar_record_clear(&r);
}

/*
 * After the walk, for each MCI some of whose new VMs failed: with
 * policyOnPartialFailure "rollback" delete every VM this apply created for
 * it, with "refine" only the failed ones (that were recorded); "continue"
 * keeps what succeeded.  The deletes run as a second plan through the same
 * engine.  Adds what it destroyed to the summary.
 */
static void partial_failure_pass(engine *e, bar_registry *reg, bar_apply_summary *sum)
{
	bar_plan *p = bar_calloc(1, sizeof(*p));
	json_t *failed = json_object();
	const char *mci;
	json_t *v;

	for (size_t i = 0; i < e->n; i++) {
		const node *nd = &e->nodes[i];
		const char *m = json_string_value(json_object_get(nd->c->attrs, "mci"));

		if (nd->op == OP_CREATE && bar_sched_task_state(e->sched, i) == BAR_SCHED_FAILED && m &&
		    !strcmp(nd->c->type, "vm")) {
			char *addr = bar_printf("%s/mci/%s", nd->c->ns, m);

			json_object_set_new(failed, addr, json_true());
			free(addr);
		}
	}
	p->lineage = bar_strdup(e->plan->lineage);
	p->changes = bar_calloc(e->n + 1, sizeof(*p->changes));
	p->drift = json_array();
	p->connections = json_deep_copy(e->plan->connections);
	p->live_connections = json_deep_copy(e->plan->live_connections);
	json_object_update(p->live_connections, e->plan->connections);
	json_object_foreach(failed, mci, v) {
		char *policy = mci_policy(e->st, mci);
		int rollback = !strcmp(policy, "rollback"), refine = !strcmp(policy, "refine");

		for (size_t i = 0; (rollback || refine) && i < e->n; i++) {
			const node *nd = &e->nodes[i];
			const char *m = json_string_value(json_object_get(nd->c->attrs, "mci"));
			char *addr = m ? bar_printf("%s/mci/%s", nd->c->ns, m) : NULL;

			if (addr && !strcmp(addr, mci) && nd->op == OP_CREATE &&
			    (bar_sched_task_state(e->sched, i) == BAR_SCHED_FAILED ||
			     (rollback && bar_sched_task_state(e->sched, i) == BAR_SCHED_DONE)))
				add_undo(p, e->st, nd->c);
			free(addr);
		}
		free(policy);
	}
	if (p->n) {
		bar_apply_summary s2;

		bar_apply_run(p, e->st, reg, e->o, &s2);
		sum->destroyed += s2.destroyed;
		sum->failed += s2.failed;
		sum->retries += s2.retries;
	}
	json_decref(failed);
	bar_plan_free(p);
}

int bar_apply_run(const bar_plan *plan, bar_state *st, bar_registry *reg,
                  const bar_apply_opts *o, bar_apply_summary *summary)
{
	bar_sched_opts so = BAR_SCHED_OPTS_INIT;
	bar_sched_summary ss;
	engine e;
	int rc = -1;

	memset(&e, 0, sizeof(e));
	memset(summary, 0, sizeof(*summary));
	e.plan = plan;
	e.st = st;
	e.o = o;
	if (build_slots(&e, reg) < 0 || build_nodes(&e) < 0)
		goto done;
	so.workers = o->parallelism > 0 ? o->parallelism : 10;
	so.cancel = o->cancel;
	so.run = task_run;
	so.on_start = task_start;
	so.on_done = task_done;
	so.on_skip = task_skip;
	so.ud = &e;
	if (bar_sched_run(e.sched, &so, &ss) < 0 && ss.done + ss.failed + ss.skipped == 0 &&
	    e.n > 0)
		goto done; /* no worker started: the error says why */
	if (e.sum.failed && !stopping(&e))
		partial_failure_pass(&e, reg, &e.sum);
	*summary = e.sum;
	rc = e.sum.failed || e.sum.skipped ? -1 : 0;
	if (rc < 0 && stopping(&e) && !e.sum.failed)
		bar_error_set("interrupted: %zu operations not started; everything that ran is "
		              "recorded, run %s again to finish", e.sum.skipped,
		              plan->destroy ? "destroy" : "apply");
	else if (rc < 0)
		bar_error_set("%zu failed, %zu not started", e.sum.failed, e.sum.skipped);
done:
	for (size_t i = 0; i < e.n; i++)
		free(e.nodes[i].done_id);
	free(e.nodes);
	bar_sched_free(e.sched);
	for (size_t i = 0; i < e.n_slots; i++) {
		bar_conn_clear(&e.conns[i]);
		bar_conn_clear(&e.live[i]);
	}
	free(e.conns);
	free(e.live);
	return rc;
}
