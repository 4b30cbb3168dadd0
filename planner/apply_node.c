/*
 * apply_node.c - the apply engine's execution of one node: the provider
 * calls of a create (with its intent and idempotency key, a partial create
 * recorded tainted, a long-running operation polled to its end, the VM's
 * postCommands), an update or VM action, a delete, an adoption, and the
 * state writes that record each result the moment it is known.
 */
#include "apply_int.h"
#include "planner_int.h"
#include "error.h"
#include "keystore.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	int slot = apply_slot_of(e, c);
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

		bar_host_delete(apply_node_conn(e, nd, 1), c->type, c->name, old, ctx0);
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
	if (rc < 0 && rc != BAR_ERETRY && rc != BAR_ETIMEOUT && rc != BAR_ECANCELED) {
		/* a definite refusal made nothing: no intent to reconcile */
		bar_error err;

		bar_error_save(&err);
		bar_state_intent_delete(e->st, c->address);
		bar_error_restore(&err);
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
		if (rc == BAR_ENOTFOUND)
			rc = 0;
		/* an interrupted create's intent is settled with it */
		return rc == 0 ? bar_state_intent_delete(e->st, c->address) : rc;
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
		/* a lookup type's delete only forgets it: the cloud's object stays,
		 * so there is nothing to wait for */
		if (rc == 0 && !bar_provider_type_lookup(conn->provider, c->type))
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

/* A MonitoringPolicy: pushed to (or taken off) its collectors, then
 * recorded like any record. */
static int policy_node(engine *e, const node *nd)
{
	const bar_change *c = nd->c;
	bar_record prior = {0};
	int rc;

	if (nd->op == OP_DELETE) {
		if (bar_state_get(e->st, c->address, &prior) < 0)
			return 0;
		{
			json_t *a = json_loads(prior.desired ? prior.desired : "{}", 0, NULL);
			rc = bar_policy_push(c->ns, c->name, a, 1);
			json_decref(a);
		}
		bar_record_clear(&prior);
		return rc < 0 ? rc : bar_state_delete(e->st, c->address);
	}
	if ((rc = bar_policy_push(c->ns, c->name, c->attrs, 0)) < 0)
		return rc;
	return record(e, c, NULL);
}

/* Whether the VM that the recorded agent or app at `address` runs on is
 * deleted (or replaced) by this plan too: then taking the agent or apps off
 * it first is work for nothing, and would fail on a VM already stopped. */
static int vm_deleted_too(const engine *e, const char *address)
{
	bar_record me = {0};
	json_t *refs;
	const char *vm;
	int found = 0;

	if (bar_state_get(e->st, address, &me) < 0) {
		bar_error_clear();
		return 0;
	}
	refs = json_loads(me.refs ? me.refs : "{}", 0, NULL);
	vm = json_string_value(json_object_get(refs, "vm"));
	for (size_t i = 0; vm && i < e->plan->n && !found; i++) {
		const bar_change *c = &e->plan->changes[i];

		found = !strcmp(c->address, vm) &&
		        (c->action == BAR_DELETE || c->action == BAR_REPLACE);
	}
	json_decref(refs);
	bar_record_clear(&me);
	return found;
}

/* A VM's barista-agent: installed over SSH (planner/agent.c), recorded
 * with what was installed; removed before its record goes. */
static int agent_node(engine *e, const node *nd, bar_obs *o)
{
	const bar_change *c = nd->c;
	int rc;

	if (nd->op == OP_DELETE) {
		rc = vm_deleted_too(e, c->address)
		         ? 0 : bar_agent_remove(c->address, e->st, e->o->keys_dir, e->o->cancel);
		return rc < 0 ? rc : bar_state_delete(e->st, c->address);
	}
	if ((rc = bar_agent_install(o, c, e->st, e->o->keys_dir, e->o->cancel)) < 0)
		return rc;
	return record(e, c, o);
}

/* An MCApp's apps on one VM (planner/app.c), recorded with the generation
 * and images deployed; removed from the VM before the record goes. */
static int app_node(engine *e, const node *nd, bar_obs *o)
{
	const bar_change *c = nd->c;
	int rc;

	if (nd->op == OP_DELETE) {
		rc = vm_deleted_too(e, c->address)
		         ? 0 : bar_app_remove(c->address, e->st, e->o->keys_dir, e->o->cancel);
		return rc < 0 ? rc : bar_state_delete(e->st, c->address);
	}
	if ((rc = bar_app_deploy(o, c, e->st, e->o->keys_dir, e->o->cancel)) < 0)
		return rc;
	return record(e, c, o);
}

/* An MCApp on a Kubernetes cluster (planner/k8sapp.c). */
static int k8sapp_node(engine *e, const node *nd, bar_obs *o)
{
	const bar_change *c = nd->c;
	int rc;

	if (nd->op == OP_DELETE) {
		rc = bar_k8sapp_remove(c->address, e->st, e->o->keys_dir);
		return rc < 0 ? rc : bar_state_delete(e->st, c->address);
	}
	if ((rc = bar_k8sapp_deploy(o, c, e->o->keys_dir, e->o->cancel)) < 0)
		return rc;
	return record(e, c, o);
}

/* A Kubernetes cluster bootstrapped on an MCI (planner/k8scluster.c). */
static int k8scluster_node(engine *e, const node *nd, bar_obs *o)
{
	const bar_change *c = nd->c;
	int rc;

	if (nd->op == OP_DELETE) {
		rc = bar_k8scluster_remove(c->address, e->o->keys_dir);
		return rc < 0 ? rc : bar_state_delete(e->st, c->address);
	}
	if ((rc = bar_k8scluster_deploy(o, c, e->st, e->o->keys_dir, e->o->cancel)) < 0)
		return rc;
	return record(e, c, o);
}

/* An MCI's overlay network (planner/overlay_node.c). */
static int overlay_node(engine *e, const node *nd, bar_obs *o)
{
	const bar_change *c = nd->c;
	int rc;

	if (nd->op == OP_DELETE) {
		rc = bar_overlay_remove(c->address, e->st, e->o->keys_dir, e->o->cancel);
		return rc < 0 ? rc : bar_state_delete(e->st, c->address);
	}
	if ((rc = bar_overlay_deploy(o, c, e->st, e->o->keys_dir, e->o->cancel)) < 0)
		return rc;
	return record(e, c, o);
}

int apply_run_node(engine *e, node *nd, bar_obs *o, int *throttled)
{
	const bar_change *c = nd->c;
	int prov = bar_type_is_provider(c->type);
	const bar_conn *conn = prov ? apply_node_conn(e, nd, nd->op != OP_CREATE) : NULL;
	int64_t timeout = e->o->op_timeout_ms ? e->o->op_timeout_ms : 30 * 60 * 1000;
	int retries = 0, rc;
	bar_op_ctx ctx = {
		.cancel = e->o->cancel,
		.deadline_ms = bar_now_ms() + timeout,
		.throttled = throttled,
		.retries = &retries,
		.address = c->address,
	};

	if (c->record_only)
		return record_live(e, c);
	if (!prov && !strcmp(c->type, "agent"))
		rc = agent_node(e, nd, o);
	else if (!prov && !strcmp(c->type, "app"))
		rc = app_node(e, nd, o);
	else if (!prov && !strcmp(c->type, "k8sapp"))
		rc = k8sapp_node(e, nd, o);
	else if (!prov && !strcmp(c->type, "k8scluster"))
		rc = k8scluster_node(e, nd, o);
	else if (!prov && !strcmp(c->type, "overlay"))
		rc = overlay_node(e, nd, o);
	else if (!prov && !strcmp(c->type, "monitoringpolicy"))
		rc = policy_node(e, nd);
	else if (nd->op == OP_DELETE)
		rc = do_delete(e, nd, conn, &ctx);
	else if (!conn)
		rc = record(e, c, NULL);
	else if (nd->op == OP_CREATE)
		rc = do_create(e, nd, conn, &ctx, o);
	else
		rc = do_update(e, nd, conn, &ctx, o);
	__atomic_fetch_add(&e->sum.retries, (size_t)retries, __ATOMIC_RELAXED);
	return rc;
}

