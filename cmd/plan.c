/*
 * plan.c - `barista plan`: show what apply would change.
 */
#include "cmd.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista plan [options] [DIR]\n"
    "  -out FILE            save the plan; `barista apply FILE` applies exactly it\n"
    "  -json                print the plan as JSON\n"
    "  -detailed-exitcode   exit 0 = no changes, 1 = error, 2 = changes\n"
    "  -refresh=false       do not read live state from providers first\n"
    "  -refresh-only        plan only to record what is live (drifted attributes and\n"
    "                       statuses, resources gone) without changing anything\n"
    "  -target ADDR         only ADDR and what it depends on (repeatable); ADDR is a\n"
    "                       resource of the configuration or the state (an MCI takes\n"
    "                       its VMs along); one that names nothing is an error\n"
    "  -replace ADDR        force replacing ADDR, which must be in both the\n"
    "                       configuration and the state (repeatable)\n"
    "  -parallelism N       accepted as apply takes it (1..1000); planning does not\n"
    "                       use it\n"
    "  -state FILE          state file (default DIR/barista.db, or $BARISTA_STATE)\n"
    "  -plugin-path DIRS    where provider plugins are (colon-separated; default\n"
    "                       $BARISTA_PLUGIN_PATH, then the built-in directories)\n"
    "  -no-color            no ANSI colours (NO_COLOR is honoured too)\n";

int cmd_plan(int argc, char **argv)
{
	cmd_opts o;
	bar_config *cfg = NULL;
	bar_desired_set ds = {0};
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	bar_plan *plan = NULL;
	bar_plan_opts po = BAR_PLAN_OPTS_INIT;
	bar_snapshot *snap = NULL;
	char *state_path = NULL, *keys = NULL;
	int rc = 1, fresh = 0, prc;

	if (cmd_parse(&o, argc, argv,
	              "out json detailed-exitcode refresh refresh-only target replace state plugin-path "
	              "no-color parallelism", usage) < 0)
		return 1;
	state_path = cmd_state_path(&o, cmd_config_dir(&o));
	bar_registry_new(&reg, o.plugin_path);
	if (o.refresh)
		cmd_calllog_start(state_path);
	if (cmd_open_state_ro(&st, state_path, &fresh) < 0)
		goto fail;
	if ((prc = cmd_load_all(&cfg, &ds, &snap, cmd_config_dir(&o), o.json, st, reg,
	                        o.refresh, NULL)) < 0) {
		if (prc == -2)
			goto done;
		goto fail;
	}
	/* what a refresh checks on the VMs besides the providers: the agents
	 * (as apply's plan does, planner/workflow.c) */
	if (o.refresh) {
		keys = cmd_keys_dir(state_path);
		bar_agents_check(snap, keys, st);
		po.keys_dir = keys;
	}
	po.targets = o.targets;
	po.n_targets = o.n_targets;
	po.replace = o.replace;
	po.n_replace = o.n_replace;
	po.refresh_only = o.refresh_only;
	if (bar_plan_make(&plan, &ds, snap, &po) < 0)
		goto fail;
	if (fresh) {
		free(plan->lineage);
		plan->lineage = bar_strdup("");
		plan->serial = 0;
	}
	if (o.json) {
		json_t *j = bar_plan_to_json(plan);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

		puts(s);
		free(s);
		json_decref(j);
	} else {
		bar_buf b = BAR_BUF_INIT(0);

		bar_plan_render(plan, cmd_color(&o), &b);
		fputs(b.data ? b.data : "", stdout);
		bar_buf_free(&b);
	}
	if (o.plan_out) {
		plan->state_path = realpath(state_path, NULL);
		if (!plan->state_path)
			plan->state_path = bar_strdup(state_path);
		if (bar_plan_write(plan, o.plan_out) < 0)
			goto fail;
		if (!o.json)
			printf("\nSaved the plan to %s; apply it with: barista apply %s\n", o.plan_out,
			       o.plan_out);
	}
	rc = o.detailed_exitcode && plan->n ? 2 : 0;
	goto done;
fail:
	rc = cmd_fail(&o);
done:
	fflush(stdout);
	bar_state_free(st); /* closes the database cleanly */
	bar_registry_free(reg);
	free(state_path);
	free(keys);
	if (CMD_FREE_AT_EXIT) {
		bar_plan_free(plan);
		bar_snapshot_free(snap);
		bar_desired_set_clear(&ds);
		bar_config_free(cfg);
	}
	return rc;
}
