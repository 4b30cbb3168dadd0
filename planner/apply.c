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
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "scheduler.h"
#include "keystore.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_CREATE, OP_UPDATE, OP_DELETE };

typedef struct node {
	const bar_change *c;
	int op;
	int slot; /* a connection, or the last for logical records */
	char *done_id; /* the system id a successful create/update reported */
} node;

typedef struct engine {
	const bar_plan *plan;
	bar_state *st;
	const bar_apply_opts *o;
	node *nodes;
	size_t n;
	bar_sched *sched;
	bar_conn *conns; /* per slot: as the spec has it */
	bar_conn *live;  /* per slot: as existing resources need it */
	size_t n_slots;  /* connections + 1 */
	bar_apply_summary sum;
} engine;

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
static const bar_conn *node_conn(const engine *e, const node *nd, int for_existing)
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

static int slot_of(engine *e, const bar_change *c)
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
		int slot = slot_of(e, c);

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

/* ---- executing one node ---- */

/* {"system_id","name","attrs"} of a recorded resource, for provider input. */
static json_t *ref_value(bar_state *st, const char *addr)
{
	bar_record r = {0};
	json_t *v;

	if (bar_state_get(st, addr, &r) < 0)
		return NULL;
	v = json_pack("{s:s?, s:s, s:o}", "system_id", r.system_id, "name", r.name, "attrs",
	              r.observed ? json_loads(r.observed, 0, NULL) : json_object());
	if (!json_object_get(v, "attrs"))
		json_object_set_new(v, "attrs", json_object());
	bar_record_clear(&r);
	return v;
}

static int resolve_refs(bar_state *st, const json_t *refs, json_t **out)
{
	json_t *res = json_object();
	const char *role;
	json_t *v;

	json_object_foreach((json_t *)refs, role, v) {
		json_t *rv;

		if (json_is_string(v)) {
			rv = ref_value(st, json_string_value(v));
			if (!rv)
				goto missing;
		} else {
			size_t i;
			json_t *a;

			rv = json_array();
			json_array_foreach(v, i, a) {
				json_t *x = ref_value(st, json_string_value(a));

				if (!x) {
					json_decref(rv);
					goto missing;
				}
				json_array_append_new(rv, x);
			}
		}
		json_object_set_new(res, role, rv);
	}
	*out = res;
	return 0;
missing:
	json_decref(res);
	bar_error_prefix("resolving reference \"%s\"", role);
	return -1;
}

static char *provider_input(engine *e, const bar_change *c, const char *system_id,
                            int with_refs, const char *idem_key)
{
	json_t *attrs = c->attrs ? json_deep_copy(c->attrs) : json_object();
	json_t *refs = NULL, *in;
	char *s;

	if (with_refs && c->refs && resolve_refs(e->st, c->refs, &refs) < 0) {
		json_decref(attrs);
		return NULL;
	}
	if (strcmp(c->type, "vm") != 0)
		json_object_del(attrs, "connection");
	json_object_del(attrs, "postCommands"); /* the host's, not the provider's */
	in = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:s, s:s, s:s}}", "type", c->type, "name",
	               c->name, "namespace", c->ns, "attrs", attrs, "refs",
	               refs ? refs : json_object(), "tags", "barista:address", c->address,
	               "barista:lineage", e->plan->lineage, "barista:namespace", c->ns);
	if (system_id)
		json_object_set_new(in, "system_id", json_string(system_id));
	if (idem_key)
		json_object_set_new(json_object_get(in, "tags"), "barista:idempotency",
		                    json_string(idem_key));
	s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(in);
	return s;
}

static const char *driver_of(engine *e, const bar_change *c)
{
	int slot = slot_of(e, c);
	const bar_conn *x = e->conns[slot].provider ? &e->conns[slot] : &e->live[slot];

	return x->driver;
}

/* What a record holds beyond the change and the observation. */
typedef struct rec_extra {
	const char *idem_key;  /* the create's key */
	const char *operation; /* a long-running operation still to poll */
	const char *taint;     /* why it must be replaced */
	const char *post;      /* what its postCommands did (JSON) */
} rec_extra;

static int record_ex(engine *e, const bar_change *c, const bar_obs *o, const rec_extra *x)
{
	char *desired = c->attrs ? json_dumps(c->attrs, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *deps = c->deps ? json_dumps(c->deps, JSON_COMPACT) : bar_strdup("[]");
	char *refs = c->refs ? json_dumps(c->refs, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int provider = bar_type_is_provider(c->type);
	bar_record r = {
		.address = c->address, .type = c->type, .ns = c->ns, .name = c->name,
		.provider = provider ? (char *)driver_of(e, c) : NULL,
		.connection = c->connection,
		.system_id = o ? o->system_id : NULL,
		.status = o ? o->status : "Recorded",
		.hash = c->hash, .desired = desired, .observed = o ? o->attrs : NULL,
		.deps = deps, .refs = refs,
		.idem_key = x ? (char *)x->idem_key : NULL,
		.operation = x ? (char *)x->operation : NULL,
		.taint = x ? (char *)x->taint : NULL,
		.post = x ? (char *)x->post : NULL,
	};
	int rc = bar_state_put(e->st, &r);

	free(desired);
	free(deps);
	free(refs);
	return rc;
}

static int record(engine *e, const bar_change *c, const bar_obs *o)
{
	return record_ex(e, c, o, NULL);
}

static int store_secrets(engine *e, const bar_change *c, const bar_secrets *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!e->o->keys_dir)
			return bar_error_set("provider returned a secret but no key store is set");
		if (bar_keystore_put(e->o->keys_dir, c->address, s->items[i].field,
		                     s->items[i].value) < 0)
			return -1;
	}
	return 0;
}

static int want_suspended(const bar_change *c)
{
	const char *s = json_string_value(json_object_get(c->attrs, "state"));

	return !strcmp(c->type, "vm") && s && !strcmp(s, "Suspended");
}

/*
 * Wait for a long-running operation (a token, or a transitional status of a
 * provider with BAR_CAP_ASYNC) to finish: poll with the provider's own
 * interval (retry_after_ms) or backoff, recording the resource with its
 * token as it goes so that a run that dies here resumes the same operation.
 * `deleting`: done once the resource is gone.  *o is updated on success.
 */
static int settle(engine *e, const bar_change *c, const bar_conn *conn,
                  const bar_op_ctx *ctx, const char *system_id, bar_obs *o, char *token,
                  const rec_extra *x, int deleting)
{
	int wait_ms = 250, after = 0, rc = 0;
	bar_op_ctx pc = *ctx;

	if (!token && !(conn->provider->capabilities & BAR_CAP_ASYNC))
		return 0;
	pc.operation = token;
	pc.retry_after_out = &after;
	pc.operation_out = NULL;
	while (deleting || bar_status_transitional(o->status)) {
		bar_obs next = {0};
		char *in;

		rc = bar_sleep_ms(after > 0 ? after : wait_ms, ctx->deadline_ms, ctx->cancel);
		if (rc == BAR_ECANCELED)
			return bar_error_setc(rc, "cancelled while waiting for %s", system_id);
		if (rc == BAR_ETIMEOUT)
			return bar_error_setc(rc, "%s is still %s at the operation's deadline",
			                      system_id, deleting ? "being deleted" : o->status);
		wait_ms = wait_ms * 2 > 5000 ? 5000 : wait_ms * 2;
		in = provider_input(e, c, system_id, 0, NULL);
		rc = bar_host_poll(conn, c->type, c->name, in, &pc, &next);
		free(in);
		if (deleting && (rc == BAR_ENOTFOUND ||
		                 (rc == 0 && next.status && !strcmp(next.status, "Terminated")))) {
			bar_obs_clear(&next);
			return 0;
		}
		if (rc < 0)
			return rc;
		if (deleting) {
			bar_obs_clear(&next);
			continue;
		}
		bar_obs_clear(o);
		*o = next;
		if (bar_status_transitional(o->status)) {
			rec_extra keep = {.idem_key = x ? x->idem_key : NULL, .operation = token,
			                 .post = x ? x->post : NULL};

			if ((rc = record_ex(e, c, o, &keep)) < 0)
				return rc;
		}
	}
	if (o->status && !strcmp(o->status, "Failed"))
		return bar_error_set("%s: the provider reports it Failed", system_id);
	return 0;
}

/* Delete a resource we just created but could not record, so nothing is
 * left untracked.  Keeps the original error and says whether the delete
 * worked; when it did not, the open intent (written before the create)
 * still names the resource's idempotency key for the next plan. */
static int undo_create(engine *e, const bar_change *c, const bar_conn *conn,
                       const bar_op_ctx *ctx, const char *system_id)
{
	char *undo = provider_input(e, c, system_id, 0, NULL);
	bar_error first;
	int rc;

	bar_error_save(&first);
	rc = bar_host_delete(conn, c->type, c->name, undo, ctx);
	free(undo);
	if (rc == 0 || rc == BAR_ENOTFOUND) {
		bar_error_restore(&first);
		bar_error_prefix("recording the new %s failed, so it was deleted again", system_id);
		return first.code;
	}
	{
		char why[1024];

		snprintf(why, sizeof(why), "%s", bar_error_last());
		bar_error_restore(&first);
		bar_error_prefix("recording the new %s failed and deleting it failed too (%s); "
		                 "the next plan finds it by its idempotency tag", system_id, why);
	}
	return first.code;
}

/* An MCI whose state is Suspended: its VMs are created, recorded running
 * (so a failed suspend leaves them tracked), then suspended. */
static int suspend_new(engine *e, const bar_change *c, const bar_conn *conn,
                       const bar_op_ctx *ctx, bar_obs *o)
{
	bar_obs after = {0};
	char *in = provider_input(e, c, o->system_id, 1, NULL);
	int rc = in ? bar_host_vm_action(conn, "suspend", c->name, in, ctx, &after) : -1;

	free(in);
	if (rc < 0)
		return rc;
	bar_obs_clear(o);
	*o = after;
	return record(e, c, o);
}

/* The idempotency key of this create: the open intent's, if an earlier run
 * died after sending it (so the provider returns what that key made),
 * otherwise a new one, written to state before anything is sent. */
static int create_intent(engine *e, const bar_change *c, char **key)
{
	bar_intent in = {0};
	char uuid[40];
	int rc = bar_state_intent_get(e->st, c->address, &in);

	if (rc == 0) {
		*key = in.idem_key;
		in.idem_key = NULL;
		bar_intent_clear(&in);
		return 0;
	}
	if (rc != BAR_ENOTFOUND)
		return rc;
	bar_uuid(uuid);
	in = (bar_intent){.address = c->address, .type = c->type, .connection = c->connection,
	                  .idem_key = uuid};
	if ((rc = bar_state_intent_put(e->st, &in)) < 0)
		return rc;
	*key = bar_strdup(uuid);
	return 0;
}

/* A create failed after the provider made something: record it as tainted
 * (replaced by the next apply) rather than lose track of it. */
static int record_partial(engine *e, const bar_change *c, bar_obs *o, const char *key)
{
	bar_error err;
	rec_extra x = {.idem_key = key};
	char *why;

	bar_error_save(&err);
	why = bar_printf("create failed after making it: %s", err.message);
	x.taint = why;
	if (!o->status || !*o->status) {
		free(o->status);
		o->status = bar_strdup("Failed");
	}
	if (record_ex(e, c, o, &x) == 0) {
		bar_error_restore(&err);
		bar_error_prefix("%s was made but is not usable; it is recorded and the next "
		                 "apply replaces it", o->system_id);
	}
	free(why);
	return err.code;
}

/* A new VM's postCommands; when they fail, the VM is recorded Failed with
 * their output (the next apply replaces it, running them again). */
static int post_commands(engine *e, const bar_change *c, bar_obs *o, rec_extra *x)
{
	bar_post_result pr;
	int rc = bar_post_run(&pr, c, o, e->o->keys_dir, e->o->cancel);
	json_t *j = json_pack("{s:i, s:s, s:I}", "exit_code", pr.exit_code, "output",
	                      pr.output ? pr.output : "", "at", (json_int_t)time(NULL));
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	bar_error err;

	bar_error_save(&err);
	x->post = text;
	if (rc < 0) {
		free(o->status);
		o->status = bar_strdup("Failed");
		x->taint = err.message;
	}
	if (pr.ran && record_ex(e, c, o, x) < 0 && rc == 0)
		rc = -1;
	else
		bar_error_restore(&err);
	x->taint = NULL;
	x->post = NULL;
	free(text);
	json_decref(j);
	bar_post_result_clear(&pr);
	return rc;
}

/* Import: read the existing resource and record it as if we had made it. */
static int adopt(engine *e, const bar_change *c, const bar_conn *conn, const bar_op_ctx *ctx,
                 bar_obs *o)
{
	char *in = provider_input(e, c, c->adopt_id, 0, NULL);
	int rc = in ? bar_host_read(conn, c->type, c->name, in, ctx, o) : -1;

	free(in);
	if (rc == BAR_ENOTFOUND)
		bar_error_prefix("nothing to adopt");
	return rc < 0 ? rc : record(e, c, o);
}

static int do_create(engine *e, const node *nd, const bar_conn *conn,
                     const bar_op_ctx *ctx0, bar_obs *o)
{
	const bar_change *c = nd->c;
	bar_secrets secrets = {NULL, 0};
	bar_op_ctx ctx = *ctx0;
	char *in = NULL, *key = NULL, *token = NULL;
	rec_extra x = {0};
	int rc;

	if (c->gone && c->prior_system_id) { /* clear whatever is left of it */
		char *old = provider_input(e, c, c->prior_system_id, 0, NULL);

		bar_host_delete(node_conn(e, nd, 1), c->type, c->name, old, ctx0);
		free(old);
	}
	if (c->adopt_id)
		return adopt(e, c, conn, ctx0, o);
	if ((rc = create_intent(e, c, &key)) < 0)
		goto done;
	x.idem_key = key;
	ctx.idempotency_key = key;
	ctx.operation_out = &token;
	if (!(in = provider_input(e, c, NULL, 1, key))) {
		rc = -1;
		goto done;
	}
	rc = bar_host_create(conn, c->type, c->name, in, &ctx, o, &secrets);
	if (rc < 0 && o->system_id) {
		rc = record_partial(e, c, o, key);
		goto done;
	}
	x.operation = token;
	if (rc == 0 && (store_secrets(e, c, &secrets) < 0 || record_ex(e, c, o, &x) < 0))
		rc = undo_create(e, c, conn, &ctx, o->system_id);
	if (rc == 0 && (token || bar_status_transitional(o->status))) {
		char *id = bar_strdup(o->system_id);

		rc = settle(e, c, conn, ctx0, id, o, token, &x, 0);
		x.operation = NULL;
		if (rc == 0)
			rc = record_ex(e, c, o, &x);
		free(id);
	}
	if (rc == 0 && json_array_size(json_object_get(c->attrs, "postCommands")))
		rc = post_commands(e, c, o, &x);
	if (rc == 0 && want_suspended(c) && o->status && strcmp(o->status, "Suspended"))
		rc = suspend_new(e, c, conn, ctx0, o);
done:
	bar_secrets_clear(&secrets);
	free(in);
	free(key);
	free(token);
	return rc;
}

/* An earlier run died while a long-running operation of this resource
 * was under way: poll the same operation to its end. */
static int do_resume(engine *e, const node *nd, const bar_conn *conn,
                     const bar_op_ctx *ctx, bar_obs *o)
{
	const bar_change *c = nd->c;
	bar_record prior = {0};
	rec_extra x = {0};
	int rc;

	if ((rc = bar_state_get(e->st, c->address, &prior)) < 0)
		return rc;
	o->system_id = bar_strdup(prior.system_id);
	o->status = bar_strdup(prior.status);
	o->attrs = bar_strdup(prior.observed ? prior.observed : "{}");
	x.idem_key = prior.idem_key;
	x.post = prior.post;
	rc = settle(e, c, conn, ctx, prior.system_id, o, prior.operation, &x, 0);
	if (rc == 0)
		rc = record_ex(e, c, o, &x);
	bar_record_clear(&prior);
	return rc;
}

static int do_update(engine *e, const node *nd, const bar_conn *conn,
                     const bar_op_ctx *ctx0, bar_obs *o)
{
	const bar_change *c = nd->c;
	bar_record prior = {0};
	bar_op_ctx ctx = *ctx0;
	char *in, *token = NULL;
	rec_extra x = {0};
	int rc;

	if (c->pending_op)
		return do_resume(e, nd, conn, ctx0, o);
	if (c->adopt_id) /* the resource the record should track */
		return adopt(e, c, conn, ctx0, o);
	if (bar_state_get(e->st, c->address, &prior) < 0)
		return -1;
	in = provider_input(e, c, prior.system_id, 1, NULL);
	if (!in) {
		bar_record_clear(&prior);
		return -1;
	}
	ctx.operation_out = &token;
	if (c->vm_action)
		rc = bar_host_vm_action(conn, c->vm_action, c->name, in, &ctx, o);
	else
		rc = bar_host_update(conn, c->type, c->name, in, &ctx, o);
	free(in);
	x.idem_key = prior.idem_key;
	x.post = prior.post;
	x.operation = token;
	if (rc == 0 && token)
		rc = record_ex(e, c, o, &x);
	if (rc == 0)
		rc = settle(e, c, conn, ctx0, prior.system_id, o, token, &x, 0);
	x.operation = NULL;
	if (rc == 0)
		rc = record_ex(e, c, o, &x);
	bar_record_clear(&prior);
	free(token);
	return rc;
}

static int do_delete(engine *e, const node *nd, const bar_conn *conn,
                     const bar_op_ctx *ctx0)
{
	const bar_change *c = nd->c;
	bar_record prior = {0};
	bar_op_ctx ctx = *ctx0;
	char *token = NULL;
	int rc = 0;

	if (c->orphan) { /* no record: delete it where it was listed */
		char *in = provider_input(e, c, c->prior_system_id, 0, NULL);

		rc = bar_host_delete(conn, c->type, c->name, in, ctx0);
		free(in);
		return rc == BAR_ENOTFOUND ? 0 : rc;
	}
	if (bar_state_get(e->st, c->address, &prior) == BAR_ENOTFOUND)
		return 0; /* already gone from state */
	if (conn && prior.system_id) {
		char *in = provider_input(e, c, prior.system_id, 0, NULL);

		ctx.operation_out = &token;
		rc = bar_host_delete(conn, c->type, c->name, in, &ctx);
		free(in);
		if (rc == 0 && token) { /* keep the token while the delete runs */
			free(prior.operation);
			prior.operation = token;
			token = NULL;
			rc = bar_state_put(e->st, &prior);
		}
		if (rc == 0)
			rc = settle(e, c, conn, ctx0, prior.system_id, &(bar_obs){0}, prior.operation,
			            NULL, 1);
		if (rc == BAR_ENOTFOUND)
			rc = 0;
	}
	if (rc == 0 && c->terminate) { /* keep the record: Terminated until re-created */
		free(prior.status);
		prior.status = bar_strdup("Terminated");
		free(prior.operation);
		prior.operation = NULL;
		rc = bar_state_put(e->st, &prior);
	} else if (rc == 0) {
		rc = bar_state_delete(e->st, c->address);
		if (rc == 0 && e->o->keys_dir)
			bar_keystore_remove(e->o->keys_dir, c->address);
	}
	bar_record_clear(&prior);
	free(token);
	return rc;
}

/* -refresh-only: bring a record in line with what is live, touching no
 * provider. */
static int record_live(engine *e, const bar_change *c)
{
	bar_record r = {0};
	int rc;

	if (c->action == BAR_DELETE) {
		rc = bar_state_delete(e->st, c->address);
		if (rc == 0 && e->o->keys_dir)
			bar_keystore_remove(e->o->keys_dir, c->address);
		return rc;
	}
	if ((rc = bar_state_get(e->st, c->address, &r)) < 0)
		return rc;
	free(r.status);
	free(r.observed);
	r.status = bar_strdup(c->live_status);
	r.observed = bar_strdup(c->live_attrs);
	rc = bar_state_put(e->st, &r);
	bar_record_clear(&r);
	return rc;
}

static int run_node(engine *e, node *nd, bar_obs *o, int *throttled)
{
	const bar_change *c = nd->c;
	int prov = bar_type_is_provider(c->type);
	const bar_conn *conn = prov ? node_conn(e, nd, nd->op != OP_CREATE) : NULL;
	int64_t timeout = e->o->op_timeout_ms ? e->o->op_timeout_ms : 30 * 60 * 1000;
	bar_op_ctx ctx = {
		.cancel = e->o->cancel,
		.deadline_ms = bar_now_ms() + timeout,
		.throttled = throttled,
		.address = c->address,
	};

	if (c->record_only)
		return record_live(e, c);
	if (nd->op == OP_DELETE)
		return do_delete(e, nd, conn, &ctx);
	if (!conn)
		return record(e, c, NULL);
	if (nd->op == OP_CREATE)
		return do_create(e, nd, conn, &ctx, o);
	return do_update(e, nd, conn, &ctx, o);
}

/* ---- the scheduler's callbacks ---- */

static int task_run(void *ud, size_t t, int *throttled)
{
	engine *e = ud;
	node *nd = &e->nodes[t];
	bar_obs o = {0};
	int rc = run_node(e, nd, &o, throttled);

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
