/*
 * conf_ops.c - the cases about how operations behave: idempotency keys,
 * long-running operations, VM actions, cancellation and deadlines, and
 * calls from several threads at once.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 64

/* The fixture's type for a case (key names it); -1 and skipped/failed. */
static int fixture_type(conf *c, const char *key)
{
	const char *name = json_string_value(conf_fx(c, key));
	int t = conf_type_index(name);

	if (t < 0)
		conf_fail(c, "fixture: %s \"%s\" is not a standard type", key, name ? name : "");
	else if (!conf_declared(c, t))
		conf_skip(c, "the provider does not declare %s (fixture %s)", name, key);
	return t >= 0 && conf_declared(c, t) ? t : -1;
}

/* ---- idempotency ---- */

/* Create `like` again with its own key: the same resource must come back. */
static void create_again(conf *c, const conf_res *like)
{
	conf_res again = *like;

	again.system_id = NULL;
	again.observed = NULL;
	if (conf_create(c, &again, NULL, NULL) != BAR_OK)
		conf_fail(c, "a second create with the same idempotency key failed");
	else if (strcmp(again.system_id, like->system_id) != 0)
		conf_fail(c, "a second create with the same idempotency key made %s; the first "
		          "made %s", again.system_id, like->system_id);
	free(again.system_id);
	free(again.observed);
}

void case_idempotency(conf *c, int t)
{
	conf_res a, b;
	int ty, n0;

	if (!(c->p->capabilities & BAR_CAP_IDEMPOTENT)) {
		conf_skip(c, "no BAR_CAP_IDEMPOTENT");
		return;
	}
	if ((ty = fixture_type(c, "idempotencyType")) < 0)
		return;
	n0 = conf_lineage_count(c, ty);
	if (conf_res_new(c, &a, ty, 1, 0) < 0 || conf_make(c, &a) != BAR_OK) {
		conf_res_free(&a);
		return;
	}
	conf_count_is(c, ty, n0 < 0 ? -1 : n0 + 1, "the first create");
	create_again(c, &a);
	conf_count_is(c, ty, n0 < 0 ? -1 : n0 + 1, "a second create with the same key");
	conf_res_again(c, &b, &a); /* a new generation: same name, new key */
	if (conf_make(c, &b) == BAR_OK && strcmp(a.system_id, b.system_id) == 0)
		conf_fail(c, "a create with another idempotency key returned %s again", a.system_id);
	else if (b.system_id)
		conf_count_is(c, ty, n0 < 0 ? -1 : n0 + 2, "a create with another key");
	if (b.system_id && strcmp(a.system_id, b.system_id) != 0)
		conf_delete(c, &b, NULL);
	conf_delete(c, &a, NULL);
	conf_res_free(&a);
	conf_res_free(&b);
}

/* ---- long-running operations ---- */

static void note_op(conf *c, const char *what, const conf_opstats *st)
{
	if (!st->token && !st->polls)
		conf_note(c, "%s finished within the call", what);
	else
		conf_note(c, "%s: %s, %d polls, %lld ms, retry_after_ms %d..%d", what,
		          st->token ? "operation token" : "transitional status", st->polls,
		          (long long)st->ms, st->min_after, st->max_after);
	if (st->min_after < 0)
		conf_fail(c, "%s: a negative retry_after_ms (%d)", what, st->min_after);
}

void case_operations(conf *c, int t)
{
	conf_opstats made = { 0 }, gone = { 0 };
	conf_res r;
	int ty = fixture_type(c, "operationType");

	if (ty < 0 || conf_res_new(c, &r, ty, 1, 0) < 0)
		return;
	if (conf_create(c, &r, NULL, &made) != BAR_OK) {
		conf_fail(c, "create %s %s failed", conf_type_names[ty], r.name);
		if (r.system_id)
			conf_delete(c, &r, NULL);
	} else if (conf_delete(c, &r, &gone) == BAR_OK) {
		if (!made.polls && !gone.polls)
			conf_skip(c, "create and delete of %s finished within the call (no "
			          "operation token, no transitional status): nothing long-running "
			          "under this config", conf_type_names[ty]);
		note_op(c, "create", &made);
		note_op(c, "delete", &gone);
	}
	conf_res_free(&r);
}

/* ---- VM actions ---- */

/* The world's VM when the provider has the capabilities; NULL: skipped. */
static conf_res *vm_subject(conf *c, uint32_t caps, const char *what)
{
	if (!conf_declared(c, T_VM)) {
		conf_skip(c, "the provider does not declare vm");
		return NULL;
	}
	if ((c->p->capabilities & caps) != caps || !c->p->vm_action) {
		conf_skip(c, "no %s", what);
		return NULL;
	}
	return conf_need(c, T_VM);
}

/* Run an action; want_rc 0: it must end in `status` (read agrees). */
static int vm_act(conf *c, conf_res *r, const char *action, int want_rc, const char *status)
{
	conf_callopt co = { .conn = r->conn, .address = r->address };
	char *in = conf_input(r, 0, NULL);
	conf_op x;
	int rc = conf_call(c, &x, OP_ACTION, NULL, action, in, &co);

	free(in);
	if (rc != want_rc)
		conf_fail(c, "%s of %s (%s): %s, want %s", x.what, r->system_id, r->status,
		          conf_op_result(&x), conf_rc_name(want_rc));
	else if (rc == BAR_OK && x.sink.n == 1 && conf_settle(c, &x, r, 0, NULL) == BAR_OK)
		snprintf(r->status, sizeof(r->status), "%s", x.sink.v[0].status);
	conf_op_clear(&x);
	if (conf_read(c, &x, r, T_VM) == BAR_OK && x.sink.n == 1) {
		if (status && strcmp(x.sink.v[0].status, status) != 0)
			conf_fail(c, "after %s, read says %s, want %s", action, x.sink.v[0].status,
			          status);
		snprintf(r->status, sizeof(r->status), "%s", x.sink.v[0].status);
		free(r->observed);
		r->observed = strdup(x.sink.v[0].attrs);
	} else {
		conf_fail(c, "read after %s: %s", action, conf_op_result(&x));
	}
	conf_op_clear(&x);
	return rc;
}

void case_vm_suspend_resume(conf *c, int t)
{
	conf_res *vm = vm_subject(c, BAR_CAP_VM_SUSPEND, "BAR_CAP_VM_SUSPEND");

	if (vm && vm_act(c, vm, "suspend", BAR_OK, "Suspended") == BAR_OK)
		vm_act(c, vm, "resume", BAR_OK, "Running");
}

void case_vm_reboot(conf *c, int t)
{
	conf_res *vm = vm_subject(c, BAR_CAP_VM_REBOOT, "BAR_CAP_VM_REBOOT");

	if (vm)
		vm_act(c, vm, "reboot", BAR_OK, "Running");
}

void case_vm_reboot_suspended(conf *c, int t)
{
	conf_res *vm = vm_subject(c, BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT,
	                          "BAR_CAP_VM_SUSPEND and BAR_CAP_VM_REBOOT");

	if (!vm || vm_act(c, vm, "suspend", BAR_OK, "Suspended") != BAR_OK)
		return;
	vm_act(c, vm, "reboot", BAR_ECONFLICT, "Suspended");
	vm_act(c, vm, "resume", BAR_OK, "Running");
}

void case_vm_unknown_action(conf *c, int t)
{
	conf_res *vm = vm_subject(c, 0, "vm_action");

	if (vm)
		vm_act(c, vm, "conformance-no-such-action", BAR_ENOTSUP, "Running");
}

/* ---- cancellation and deadlines ---- */

/* A create under the wait config that must fail promptly with want (or,
 * with any_failure, any code); then nothing of it may be left. */
static void waiting_create(conf *c, const conf_callopt *co, int want, int any_failure,
                           const char *how)
{
	int64_t prompt = conf_fx_int(c, "promptMs"), t0;
	int ty, rc, n0;
	conf_res r;

	if (!c->o.wait_config) {
		conf_skip(c, "no -wait-config: say under which config calls wait (the sim's "
		          "latencyMs) to check that a waiting call %s", how);
		return;
	}
	if ((ty = fixture_type(c, "waitType")) < 0 || conf_res_new(c, &r, ty, 1, 1) < 0)
		return;
	n0 = conf_lineage_count(c, ty);
	t0 = bar_kit_now_ms();
	rc = conf_create(c, &r, co, NULL);
	t0 = bar_kit_now_ms() - t0;
	if (rc == BAR_OK)
		conf_fail(c, "a create %s succeeded after %lld ms", how, (long long)t0);
	else if (t0 > prompt || (rc != want && !any_failure))
		conf_fail(c, "a create %s ended with %s after %lld ms, want %s within promptMs "
		          "(%lld)", how, conf_rc_name(rc), (long long)t0, conf_rc_name(want),
		          (long long)prompt);
	else
		conf_note(c, "ended with %s after %lld ms", conf_rc_name(rc), (long long)t0);
	r.conn = 0; /* clean up without the waits */
	if (r.system_id)
		conf_delete(c, &r, NULL); /* it said what it made: fine */
	else
		conf_count_is(c, ty, n0, "a failed create that emitted nothing");
	conf_res_free(&r);
}

void case_cancel(conf *c, int t)
{
	conf_callopt co = { .cancel = 1, .no_retry = 1 };

	waiting_create(c, &co, BAR_ECANCELED, 0, "with host->cancelled() true");
}

void case_deadline(conf *c, int t)
{
	conf_callopt co = { .deadline_ms = bar_kit_now_ms() - 1, .no_retry = 1 };

	waiting_create(c, &co, BAR_ETIMEOUT, 1, "past its deadline");
}

/* ---- concurrency ---- */

typedef struct worker {
	conf *c;
	conf_res *r;
	pthread_barrier_t *start;
	int del;
} worker;

static void *work(void *arg)
{
	worker *w = arg;

	pthread_barrier_wait(w->start);
	if (w->del && w->r->system_id)
		conf_delete(w->c, w->r, NULL);
	else
		conf_make(w->c, w->r);
	return NULL;
}

/* Create (del 0) or delete all n at once; the wall time in ms. */
static int64_t all_at_once(conf *c, conf_res *rs, int n, int del)
{
	pthread_t th[MAX_THREADS];
	worker w[MAX_THREADS];
	pthread_barrier_t start;
	int64_t t0 = bar_kit_now_ms();

	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		w[i] = (worker){ c, &rs[i], &start, del };
		if (pthread_create(&th[i], NULL, work, &w[i]) != 0)
			abort();
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	return bar_kit_now_ms() - t0;
}

void case_concurrency(conf *c, int t)
{
	static conf_res rs[MAX_THREADS];
	int ty = fixture_type(c, "concurrencyType"), n = (int)conf_fx_int(c, "concurrency");
	int made = 0, n0;
	int64_t ms[2];

	if (ty < 0)
		return;
	if (n < 2 || n > MAX_THREADS) {
		conf_fail(c, "fixture: concurrency %d is not 2..%d", n, MAX_THREADS);
		return;
	}
	for (int i = 0; i < n; i++)
		if (conf_res_new(c, &rs[i], ty, 1, 0) < 0) /* makes the parents first */
			goto done;
	n0 = conf_lineage_count(c, ty);
	ms[0] = all_at_once(c, rs, n, 0);
	for (int i = 0; i < n; i++) {
		made += rs[i].system_id != NULL;
		for (int k = 0; k < i && rs[i].system_id; k++)
			if (rs[k].system_id && strcmp(rs[i].system_id, rs[k].system_id) == 0)
				conf_fail(c, "two concurrent creates got the same id %s", rs[i].system_id);
	}
	conf_count_is(c, ty, n0 < 0 ? -1 : n0 + made, "the concurrent creates");
	ms[1] = all_at_once(c, rs, n, 1);
	conf_note(c, "%d %s creates at once in %lld ms, deletes in %lld ms", n,
	          conf_type_names[ty], (long long)ms[0], (long long)ms[1]);
done:
	for (int i = 0; i < n; i++)
		conf_res_free(&rs[i]);
}
