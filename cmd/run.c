/*
 * run.c - the flow apply and destroy share: lock the state, make (or load)
 * a plan, show it, confirm, apply it with progress lines, print a summary.
 * First Ctrl-C (or SIGTERM): start nothing new, let in-flight operations
 * finish and save their results.  Second: ask providers to cancel in-flight
 * work.  The handler touches only the atomic cancellation token (and write).
 */
#include "cmd.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bar_cancel token = BAR_CANCEL_INIT;

static void on_signal(int sig)
{
	static const char m1[] = "\nInterrupt: starting nothing new; waiting for operations "
	                         "in flight (Ctrl-C again to cancel them)\n";
	static const char m2[] = "\nSecond interrupt: cancelling operations in flight\n";
	int saved = errno;

	(void)sig;
	if (!atomic_exchange(&token.stop, 1)) {
		(void)!write(STDERR_FILENO, m1, sizeof(m1) - 1);
	} else {
		atomic_store(&token.cancel, 1);
		(void)!write(STDERR_FILENO, m2, sizeof(m2) - 1);
	}
	errno = saved;
}

/* SIGINT and SIGTERM both stop the run gracefully; on == 0 restores them. */
static void catch_signals(int on)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on ? on_signal : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

typedef struct progress {
	int json; /* JSON lines instead of text */
	int color;
	double t0;
	size_t done, total, running;
	pthread_mutex_t mu;
	int quit;
} progress;

static const char *verb(const char *op, int done)
{
	if (!strcmp(op, "create"))
		return done ? "Creation complete" : "Creating...";
	if (!strcmp(op, "delete"))
		return done ? "Destruction complete" : "Destroying...";
	if (!strcmp(op, "suspend"))
		return done ? "Suspended" : "Suspending...";
	if (!strcmp(op, "resume"))
		return done ? "Resumed" : "Resuming...";
	return done ? "Modifications complete" : "Modifying...";
}

/* One event as a JSON line (apply -json). */
static void event_json(const bar_apply_event *ev)
{
	static const char *kinds[] = {"start", "done", "fail", "skip"};
	json_t *j = json_pack("{s:s, s:s, s:s}", "type", kinds[ev->kind], "address", ev->address,
	                      "op", ev->op);
	char *s;

	if (ev->kind == BAR_EV_DONE || ev->kind == BAR_EV_FAIL)
		json_object_set_new(j, "elapsed_s", json_real(ev->elapsed_s));
	if (ev->system_id)
		json_object_set_new(j, "system_id", json_string(ev->system_id));
	if (ev->message)
		json_object_set_new(j, "message", json_string(ev->message));
	if (ev->error)
		json_object_set_new(j, "error", bar_error_to_json(ev->error));
	s = json_dumps(j, JSON_COMPACT);
	puts(s);
	free(s);
	json_decref(j);
}

static void on_event(void *ud, const bar_apply_event *ev)
{
	progress *p = ud;
	const char *b = p->color ? "\033[1m" : "", *r = p->color ? "\033[0m" : "";

	pthread_mutex_lock(&p->mu);
	p->running += ev->kind == BAR_EV_START ? 1 : ev->kind == BAR_EV_SKIP ? 0 : -1;
	p->done += ev->kind != BAR_EV_START;
	if (p->json) {
		event_json(ev);
		fflush(stdout);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	switch (ev->kind) {
	case BAR_EV_START:
		printf("%s%s%s: %s\n", b, ev->address, r, verb(ev->op, 0));
		break;
	case BAR_EV_DONE:
		if (ev->elapsed_s < 1)
			printf("%s%s%s: %s after %.0fms", b, ev->address, r, verb(ev->op, 1),
			       ev->elapsed_s * 1000);
		else
			printf("%s%s%s: %s after %.1fs", b, ev->address, r, verb(ev->op, 1),
			       ev->elapsed_s);
		printf("%s%s%s\n", ev->system_id ? " [id=" : "", ev->system_id ? ev->system_id : "",
		       ev->system_id ? "]" : "");
		break;
	case BAR_EV_FAIL:
		fprintf(stderr, "%sError:%s %s: %s\n", p->color ? "\033[31m" : "", r, ev->address,
		        ev->message);
		break;
	case BAR_EV_SKIP:
		printf("%s: skipped (%s)\n", ev->address, ev->message);
		break;
	}
	fflush(stdout);
	pthread_mutex_unlock(&p->mu);
}

/* On a terminal, a line every 10 s while things run. */
static void *ticker(void *arg)
{
	progress *p = arg;

	for (;;) {
		for (int i = 0; i < 100; i++) {
			usleep(100000);
			if (p->quit)
				return NULL;
		}
		pthread_mutex_lock(&p->mu);
		printf("Still applying: %zu in progress, %zu of %zu done [%.0fs elapsed]\n",
		       p->running, p->done, p->total, bar_now_s() - p->t0);
		fflush(stdout);
		pthread_mutex_unlock(&p->mu);
	}
}

static int confirm(const cmd_opts *o, int destroy)
{
	char line[64];

	if (o->auto_approve)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "Error: refusing to %s without confirmation: standard input is not a "
		                "terminal. Review with `barista plan -out FILE` and apply FILE, or "
		                "pass -auto-approve.\n", destroy ? "destroy" : "apply");
		return -1;
	}
	printf("\n%s Only 'yes' will be accepted.\n  Enter a value: ",
	       destroy ? "Do you really want to destroy all these resources?"
	               : "Do you want to perform these actions?");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0) {
		fprintf(stderr, "%s cancelled.\n", destroy ? "Destroy" : "Apply");
		return -1;
	}
	return 0;
}

static int make_plan(const cmd_opts *o, const char *dir, int destroy, bar_state *st,
                     bar_registry *reg, const char *keys_dir, bar_plan **out)
{
	bar_plan_opts po = BAR_PLAN_OPTS_INIT;
	bar_diags diags = {NULL, 0};
	int rc;

	po.destroy = destroy;
	po.targets = o->targets;
	po.n_targets = o->n_targets;
	po.replace = o->replace;
	po.n_replace = o->n_replace;
	po.refresh_only = o->refresh_only;
	po.keys_dir = keys_dir;
	rc = bar_workflow_plan(out, &diags, dir, st, reg, o->refresh, &po, &token);
	if (rc == BAR_EINVALID && diags.n) {
		cmd_print_diags(&diags, dir, o->json);
		rc = -2; /* diagnostics printed */
	}
	bar_diags_clear(&diags);
	return rc;
}

/* The last line: "Apply complete!" only when everything ran and succeeded;
 * otherwise interrupted (Ctrl-C), failed, or incomplete (not started for
 * another reason, e.g. a dependency cycle).  The same for destroy. */
static void print_summary(const bar_apply_summary *s, int destroy, double secs, int json)
{
	int ok = !s->failed && !s->skipped;
	const char *result = ok ? "complete" : atomic_load(&token.stop) ? "interrupted"
	                                     : s->failed ? "failed" : "incomplete";

	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "type",
		                      "summary", "result", result, "added", (json_int_t)s->added,
		                      "changed", (json_int_t)s->changed, "destroyed",
		                      (json_int_t)s->destroyed, "failed", (json_int_t)s->failed,
		                      "not_started", (json_int_t)s->skipped, "retries",
		                      (json_int_t)s->retries, "seconds", secs);
		char *text = json_dumps(j, JSON_COMPACT);

		puts(text);
		free(text);
		json_decref(j);
		return;
	}
	printf("\n%s %s! Resources: ", destroy ? "Destroy" : "Apply", result);
	if (destroy)
		printf("%zu destroyed", s->destroyed);
	else
		printf("%zu added, %zu changed, %zu destroyed", s->added, s->changed, s->destroyed);
	if (s->failed || s->skipped)
		printf(", %zu failed, %zu not started", s->failed, s->skipped);
	printf(" (%.1fs).\n", secs);
}

/* The plan before applying it: rendered text, or one JSON line. */
static void show_plan(const bar_plan *plan, const progress *pg)
{
	if (pg->json) {
		json_t *j = json_pack("{s:s, s:o}", "type", "plan", "plan", bar_plan_to_json(plan));
		char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

		puts(s);
		free(s);
		json_decref(j);
	} else {
		bar_buf b = BAR_BUF_INIT(0);

		bar_plan_render(plan, pg->color, &b);
		fputs(b.data ? b.data : "", stdout);
		bar_buf_free(&b);
	}
	fflush(stdout);
}

/*
 * Show the plan, confirm (unless `confirmed`), apply it with progress lines
 * and print the summary.  The state is locked by the caller.  Returns the
 * process exit code.
 */
int cmd_run_plan(const cmd_opts *o, const bar_plan *plan, bar_state *st, bar_registry *reg,
                 const char *keys, int destroy, int confirmed)
{
	bar_apply_summary sum;
	bar_apply_opts ao = BAR_APPLY_OPTS_INIT;
	progress pg = {o->json, cmd_color(o), bar_now_s(), 0, 0, 0, PTHREAD_MUTEX_INITIALIZER, 0};
	bar_apply_summary none = {0};
	pthread_t tick;
	int ticking = 0, prc;

	show_plan(plan, &pg);
	if (plan->n == 0) {
		if (o->json)
			print_summary(&none, destroy, bar_now_s() - pg.t0, 1);
		return 0;
	}
	if (!confirmed && confirm(o, destroy) < 0)
		return 1;
	pg.total = plan->n;
	catch_signals(1);
	ao.parallelism = o->parallelism;
	ao.keys_dir = keys;
	ao.on_event = on_event;
	ao.ud = &pg;
	ao.cancel = &token;
	if (!o->json)
		printf("\n");
	if (!o->json && isatty(STDOUT_FILENO))
		ticking = pthread_create(&tick, NULL, ticker, &pg) == 0;
	prc = bar_apply_run(plan, st, reg, &ao, &sum);
	pg.quit = 1;
	if (ticking)
		pthread_join(tick, NULL);
	catch_signals(0);
	print_summary(&sum, destroy, bar_now_s() - pg.t0, o->json);
	return prc < 0 ? cmd_fail(o) : 0;
}

int cmd_plan_and_apply(const cmd_opts *o, int destroy, const char *saved)
{
	const char *dir = saved ? "." : cmd_config_dir(o);
	char *state_path = NULL, *keys = NULL;
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	bar_plan *plan = NULL;
	bar_apply_summary none = {0};
	int rc = 1, prc;

	bar_registry_new(&reg, o->plugin_path);
	if (saved && bar_plan_read(&plan, saved) < 0)
		goto fail;
	if (saved && plan->state_path)
		state_path = bar_strdup(plan->state_path);
	if (!state_path || o->state_path) {
		free(state_path);
		state_path = cmd_state_path(o, dir);
	}
	keys = cmd_keys_dir(state_path);
	cmd_calllog_start(state_path);
	if (destroy && access(state_path, F_OK) != 0) {
		if (o->json)
			print_summary(&none, destroy, 0, 1);
		else
			printf("Nothing to destroy: there is no state at %s.\n", state_path);
		rc = 0;
		goto done;
	}
	if (bar_state_open(&st, state_path, BAR_STATE_CREATE) < 0 ||
	    cmd_lock_state(o, st, destroy ? "destroy" : "apply") < 0)
		goto fail;
	if (saved) {
		if (bar_plan_check_fresh(plan, st) < 0)
			goto fail;
	} else if ((prc = make_plan(o, dir, destroy, st, reg, keys, &plan)) < 0) {
		if (prc == -2)
			goto done;
		goto fail;
	}
	rc = cmd_run_plan(o, plan, st, reg, keys, destroy, saved != NULL);
	goto done;
fail:
	cmd_fail(o);
	rc = 1;
done:
	bar_plan_free(plan);
	bar_state_free(st);
	bar_registry_free(reg);
	free(state_path);
	free(keys);
	return rc;
}
