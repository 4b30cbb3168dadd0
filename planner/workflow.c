/*
 * workflow.c - the plan half of plan/apply that every front end shares (the
 * CLI today, the controller later): read the specs and the state's snapshot
 * in parallel, make the plan, and check that a saved plan still matches the
 * state it was made against.  Nothing here prints: diagnostics come back
 * for the caller to show.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct snap_job {
	bar_state *st;
	bar_registry *reg;
	int refresh;
	const bar_cancel *cancel;
	bar_snapshot *snap;
	bar_error error;
	int failed;
} snap_job;

static void *snap_thread(void *arg)
{
	snap_job *j = arg;

	if (bar_snapshot_read(&j->snap, j->st, j->reg, j->refresh, j->cancel) < 0) {
		j->failed = 1;
		bar_error_save(&j->error);
	}
	return NULL;
}

int bar_workflow_load(bar_config **cfg, bar_desired_set *ds, bar_snapshot **snap,
                      bar_diags *diags, const char *dir, bar_state *st, bar_registry *reg,
                      int refresh, const bar_cancel *cancel)
{
	snap_job job = {.st = st, .reg = reg, .refresh = refresh, .cancel = cancel};
	pthread_t th;
	int threaded = pthread_create(&th, NULL, snap_thread, &job) == 0;
	int rc = 0;

	if (!threaded)
		snap_thread(&job);
	*cfg = NULL;
	memset(ds, 0, sizeof(*ds));
	if (dir && bar_config_load(cfg, dir, diags) < 0)
		rc = diags && diags->n ? BAR_EINVALID : -1;
	else if (dir)
		bar_desired_build(ds, *cfg);
	if (threaded)
		pthread_join(th, NULL);
	if (rc == 0 && job.failed) {
		bar_error_restore(&job.error);
		rc = job.error.code;
	}
	if (rc < 0) {
		bar_snapshot_free(job.snap);
		bar_desired_set_clear(ds);
		bar_config_free(*cfg);
		*cfg = NULL;
		return rc;
	}
	*snap = job.snap;
	return 0;
}

int bar_workflow_plan(bar_plan **out, bar_diags *diags, const char *dir, bar_state *st,
                      bar_registry *reg, int refresh, const bar_plan_opts *po,
                      const bar_cancel *cancel)
{
	bar_desired_set ds = {0};
	bar_config *cfg = NULL;
	bar_snapshot *snap = NULL;
	int rc;

	rc = bar_workflow_load(&cfg, &ds, &snap, diags, po->destroy ? NULL : dir, st, reg,
	                       po->destroy ? 0 : refresh, cancel);
	if (rc < 0)
		return rc;
	if (refresh && !po->destroy && po->keys_dir)
		bar_agents_check(snap, po->keys_dir, st);
	rc = bar_plan_make(out, po->destroy ? NULL : &ds, snap, po);
	bar_snapshot_free(snap);
	bar_desired_set_clear(&ds);
	bar_config_free(cfg);
	return rc;
}

int bar_plan_check_fresh(const bar_plan *plan, bar_state *st)
{
	int64_t serial;

	if (bar_state_serial(st, &serial) < 0)
		return -1;
	if (plan->lineage[0] == '\0' && serial == 0)
		return 0; /* planned against no state; the state is still empty */
	if (strcmp(plan->lineage, bar_state_lineage(st)) != 0)
		return bar_error_setc(BAR_ESTALE, "saved plan was made for another state (lineage "
		                      "%s, this state is %s); run barista plan again",
		                      plan->lineage, bar_state_lineage(st));
	if (serial != plan->serial)
		return bar_error_setc(BAR_ESTALE, "saved plan is stale: the state changed since it "
		                      "was made (serial %lld then, %lld now); run barista plan again",
		                      (long long)plan->serial, (long long)serial);
	return 0;
}
