/*
 * conf_call.c - every call the conformance suite makes to the plugin goes
 * through conf_call, which plays the host's part (a bar_call with a
 * deadline, the connection's session, BAR_ERETRY retried with backoff as
 * core/host.c does) and then checks what the ABI promises of every call:
 * a known result code, an error set with every failure, the number of
 * observations each callback emits, well-formed observations (system id,
 * a documented status, compact sorted JSON attrs, JSON tags), an operation
 * token at most 1 KiB with a transitional status.  conf_settle follows a
 * long-running operation to its end, as the apply engine does.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRIES 10
#define TOKEN_MAX 1024

const char *const conf_op_names[OP_N] = { "create", "read", "update", "delete",
	                                  "list", "vm_action", "poll" };

static const char *const vm_statuses[] = { "Creating", "Running", "Suspending", "Suspended",
	                                   "Resuming", "Rebooting", "Terminating",
	                                   "Terminated", "Failed", "Undefined", NULL };
static const char *const other_statuses[] = { "Creating", "Available", "Deleting", "Failed",
	                                      NULL };
static const char *const transitional[] = { "Creating", "Suspending", "Resuming", "Rebooting",
	                                    "Terminating", "Deleting", NULL };

const char *conf_rc_name(int rc)
{
	static const char *const names[] = { "BAR_OK", "BAR_EFAIL", "BAR_ENOTFOUND",
		                             "BAR_ECONFLICT", "BAR_EAUTH", "BAR_ERETRY",
		                             "BAR_EINVALID", "BAR_ENOTSUP", "BAR_ECANCELED",
		                             "BAR_ETIMEOUT", "BAR_ELOCKED", "BAR_ESTALE" };
	static _Thread_local char other[32];

	if (rc <= 0 && rc >= BAR_ESTALE)
		return names[-rc];
	snprintf(other, sizeof(other), "%d", rc);
	return other;
}

const char *conf_op_result(const conf_op *x)
{
	static _Thread_local char buf[2300];

	if (x->rc == BAR_OK || (!x->hc.code[0] && !x->hc.msg[0]))
		return conf_rc_name(x->rc);
	snprintf(buf, sizeof(buf), "%s (%s: %s)", conf_rc_name(x->rc), x->hc.code, x->hc.msg);
	return buf;
}

static int in_list(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

int conf_status_valid(const char *type, const char *status)
{
	return in_list(type && strcmp(type, "vm") == 0 ? vm_statuses : other_statuses, status);
}

int conf_status_transitional(const char *status)
{
	return in_list(transitional, status);
}

/* One attempt. */
static int call_once(conf *c, conf_op *x, int op, const char *type, const char *action,
                     const char *input, const conf_callopt *co)
{
	bar_provider *p = c->p;
	bar_call *call = &x->hc.call;
	/* a call in another region goes to that region's connection */
	int other = co->region && strcmp(co->region, c->o.region) != 0 && co->conn == 0;

	ch_call_clear(&x->hc);
	ch_sink_clear(&x->sink);
	ch_call_init(&x->hc, conf_op_names[op], other ? "conformance-other" : "conformance",
	             co->region ? co->region : c->o.region, c->config[co->conn],
	             c->session[other ? 2 : co->conn]);
	x->sink.op = conf_op_names[op];
	x->sink.refuse_emits = co->refuse_emits;
	x->sink.refuse_secrets = co->refuse_secrets;
	x->hc.cancel = co->cancel;
	call->deadline_ms = co->deadline_ms ? co->deadline_ms
	                                    : bar_kit_now_ms() + conf_fx_int(c, "callTimeoutMs");
	call->address = co->address ? co->address : "";
	if (op == OP_CREATE)
		call->idempotency_key = co->key ? co->key : "";
	switch (op) {
	case OP_CREATE: return p->create(p, call, type, input, &x->sink);
	case OP_READ: return p->read(p, call, type, input, &x->sink);
	case OP_UPDATE: return p->update ? p->update(p, call, type, input, &x->sink) : BAR_ENOTSUP;
	case OP_DELETE: return p->del(p, call, type, input);
	case OP_LIST: return p->list(p, call, type, &x->sink);
	case OP_ACTION:
		return p->vm_action ? p->vm_action(p, call, action, input, &x->sink) : BAR_ENOTSUP;
	case OP_POLL:
		call->operation = co->operation ? co->operation : "";
		if (BAR_HAS(p, poll))
			return p->poll(p, call, type, input, &x->sink);
		return p->read(p, call, type, input, &x->sink);
	}
	return BAR_EFAIL;
}

/* What a create emitted goes into the ledger at once, so the cleanup
 * finds it whatever happens next. */
static void ledger_emitted(conf *c, const conf_op *x, const char *type, int conn)
{
	for (size_t i = 0; i < x->sink.n; i++)
		if (x->sink.v[i].system_id[0])
			conf_ledger_add(c, type, conn, x->sink.v[i].system_id, x->sink.v[i].name);
}

/* One observation against the ABI's description of bar_observed. */
static void check_obs(conf *c, const conf_op *x, const char *type, const ch_obs *o)
{
	json_t *j;
	char *canon;

	if (!o->system_id[0])
		conf_fail(c, "%s: emitted an observation without a system_id", x->what);
	if (!conf_status_valid(type, o->status))
		conf_fail(c, "%s: %s emitted status \"%s\", not one of the documented %s "
		          "statuses", x->what, o->system_id, o->status,
		          strcmp(type, "vm") == 0 ? "VM" : "non-VM");
	j = json_loads(o->attrs, 0, NULL);
	canon = json_is_object(j) ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!canon)
		conf_fail(c, "%s: %s's attrs are not a JSON object: %.200s", x->what, o->system_id,
		          o->attrs);
	else if (strcmp(canon, o->attrs) != 0)
		conf_fail(c, "%s: %s's attrs are not compact JSON with sorted keys: %.200s "
		          "(want %.200s)", x->what, o->system_id, o->attrs, canon);
	free(canon);
	json_decref(j);
	j = json_loads(o->tags, 0, NULL);
	if (!json_is_object(j))
		conf_fail(c, "%s: %s's tags are not a JSON object: %.200s", x->what, o->system_id,
		          o->tags);
	json_decref(j);
}

/* How many observations a callback emits: exactly one, none, any (-1). */
static int want_obs(int op, int rc)
{
	if (op == OP_LIST)
		return -1;
	if (op == OP_DELETE)
		return 0;
	if (rc == BAR_OK)
		return 1;
	return op == OP_CREATE ? -1 : 0; /* a failed create may emit what it made */
}

static void check_rc(conf *c, const conf_op *x)
{
	if (x->rc > 0 || x->rc < BAR_ETIMEOUT)
		conf_fail(c, "%s: returned %d, not a provider result code (BAR_OK, BAR_EFAIL.."
		          "BAR_ETIMEOUT)", x->what, x->rc);
	if (x->rc != BAR_OK && (!x->hc.n_errors || !x->hc.code[0] || !x->hc.msg[0]))
		conf_fail(c, "%s: returned %s without setting an error code and message "
		          "(code \"%s\", message \"%s\")", x->what, conf_rc_name(x->rc), x->hc.code,
		          x->hc.msg);
}

/* The ABI's promises about one call's result. */
static void check_call(conf *c, const conf_op *x, int op, const char *type)
{
	int want = want_obs(op, x->rc);
	const char *status = x->sink.n ? x->sink.v[0].status : NULL;

	check_rc(c, x);
	if (want >= 0 && x->sink.n != (size_t)want)
		conf_fail(c, "%s: returned %s and emitted %zu observations, want %d", x->what,
		          conf_rc_name(x->rc), x->sink.n, want);
	if (op == OP_CREATE && x->sink.n > 1)
		conf_fail(c, "%s: emitted %zu observations, want at most one", x->what, x->sink.n);
	for (size_t i = 0; i < x->sink.n; i++)
		check_obs(c, x, type, &x->sink.v[i]);
	if (x->hc.operation && strlen(x->hc.operation) > TOKEN_MAX)
		conf_fail(c, "%s: operation token longer than %d bytes", x->what, TOKEN_MAX);
	if (x->hc.operation && status && !conf_status_transitional(status))
		conf_fail(c, "%s: set an operation token but emitted the final status \"%s\" "
		          "(a long-running operation emits a transitional status)", x->what,
		          status);
	if (x->rc == BAR_OK && !x->hc.operation && conf_status_transitional(status) &&
	    op != OP_READ && op != OP_POLL && op != OP_LIST &&
	    !(c->p->capabilities & BAR_CAP_ASYNC))
		conf_fail(c, "%s: emitted the transitional status \"%s\" without an operation "
		          "token or BAR_CAP_ASYNC: the host would record it and never poll",
		          x->what, status);
	if (op != OP_CREATE && x->sink.n_secrets)
		conf_fail(c, "%s: handed the host a secret; only create produces secrets", x->what);
}

int conf_call(conf *c, conf_op *x, int op, const char *type, const char *action,
              const char *input, const conf_callopt *co)
{
	static const conf_callopt none;
	const char *tname = type ? type : "vm";
	int backoff = 200;
	int64_t t0 = bar_kit_now_ms();

	co = co ? co : &none;
	memset(x, 0, sizeof(*x));
	snprintf(x->what, sizeof(x->what), "%s %s%s%s", conf_op_names[op],
	         action ? action : tname, co->address ? " " : "", co->address ? co->address : "");
	for (int attempt = 0;; attempt++) {
		x->rc = call_once(c, x, op, type, action, input, co);
		if (op == OP_CREATE)
			ledger_emitted(c, x, tname, co->conn);
		if (x->rc != BAR_ERETRY || co->no_retry || attempt == RETRIES)
			break;
		int wait = x->hc.call.retry_after_ms > backoff ? x->hc.call.retry_after_ms : backoff;
		if (bar_kit_now_ms() + wait >= x->hc.call.deadline_ms)
			break;
		conf_sleep_ms(wait);
		backoff = backoff * 2 > 8000 ? 8000 : backoff * 2;
	}
	x->ms = bar_kit_now_ms() - t0;
	check_call(c, x, op, tname);
	return x->rc;
}

void conf_op_clear(conf_op *x)
{
	ch_call_clear(&x->hc);
	ch_sink_clear(&x->sink);
}

/* Whether call x left something to wait for. */
static int has_operation(conf *c, const conf_op *x, int deleting)
{
	if (x->hc.operation)
		return 1;
	if (!(c->p->capabilities & BAR_CAP_ASYNC))
		return 0;
	return deleting || (x->sink.n == 1 && conf_status_transitional(x->sink.v[0].status));
}

static void stats_after(conf_opstats *st, int after)
{
	if (!st->polls || after < st->min_after)
		st->min_after = after;
	if (after > st->max_after)
		st->max_after = after;
}

/* One poll of the operation; 1 when it has ended (rc in *rc), 0 to go on. */
static int poll_once(conf *c, conf_op *x, const conf_res *r, const char *token, int deleting,
                     int *rc)
{
	conf_callopt co = { .conn = r->conn, .operation = token, .address = r->address };
	char *in = conf_input(r, 0, NULL);
	conf_op p;

	*rc = conf_call(c, &p, OP_POLL, conf_type_names[r->type], NULL, in, &co);
	free(in);
	x->hc.call.retry_after_ms = p.hc.call.retry_after_ms;
	if (deleting) {
		if (*rc == BAR_OK && p.sink.n && strcmp(p.sink.v[0].status, "Terminated") == 0)
			*rc = BAR_ENOTFOUND;
		conf_op_clear(&p);
		return *rc != BAR_OK;
	}
	if (*rc != BAR_OK || p.sink.n != 1) {
		conf_fail(c, "%s: polling the operation failed: %s", x->what, conf_op_result(&p));
		*rc = *rc ? *rc : BAR_EFAIL;
		conf_op_clear(&p);
		return 1;
	}
	ch_sink_clear(&x->sink);
	x->sink = p.sink; /* the latest observation stands for the call's */
	p.sink = (bar_sink){ 0 };
	conf_op_clear(&p);
	return !conf_status_transitional(x->sink.v[0].status);
}

int conf_settle(conf *c, conf_op *x, const conf_res *r, int deleting, conf_opstats *st)
{
	conf_opstats local = { 0 };
	char *token = x->hc.operation ? strdup(x->hc.operation) : NULL;
	int64_t t0 = bar_kit_now_ms(), end = t0 + conf_fx_int(c, "operationTimeoutMs");
	int backoff = 100, rc = BAR_OK;

	st = st ? st : &local;
	memset(st, 0, sizeof(*st));
	st->token = token != NULL;
	if (!has_operation(c, x, deleting))
		goto done;
	for (;;) {
		int after = x->hc.call.retry_after_ms;

		if (bar_kit_now_ms() + (after > 0 ? after : backoff) > end) {
			conf_fail(c, "%s: the operation did not end within operationTimeoutMs "
			          "(%lld ms, %d polls)", x->what, (long long)(end - t0), st->polls);
			rc = BAR_ETIMEOUT;
			break;
		}
		stats_after(st, after);
		conf_sleep_ms(after > 0 ? after : backoff); /* never sooner than asked */
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
		st->polls++;
		if (poll_once(c, x, r, token, deleting, &rc)) {
			if (deleting && rc == BAR_ENOTFOUND)
				rc = BAR_OK;
			else if (deleting)
				conf_fail(c, "%s: polling the delete ended with %s, not BAR_ENOTFOUND",
				          x->what, conf_rc_name(rc));
			break;
		}
	}
done:
	st->ms = bar_kit_now_ms() - t0;
	free(token);
	return rc;
}
