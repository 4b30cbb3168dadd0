/*
 * orphans.c - `barista orphans [DIR] [-json] [-delete]`: resources that carry
 * this configuration's tags but that no record tracks, listed from every
 * connection; with -delete, removed at their providers.  The finding is the
 * library's (planner/orphans.c); this file prints and confirms.
 */
#include "cmd.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista orphans [options] [DIR]\n"
    "Resources at the providers tagged for this configuration (its state's lineage, or\n"
    "an address its specs describe) that no record of the state tracks: left by a run\n"
    "that died at the wrong moment, or by a lost or replaced state.  Adopt one with\n"
    "`barista import ADDR SYSTEM_ID`, or remove them all with -delete.\n"
    "  -delete              delete them at their providers (asks first)\n"
    "  -auto-approve        with -delete: do not ask\n"
    "  -json                print them as JSON\n"
    "  -state FILE          state file (default DIR/barista.db)\n"
    "  -lock-timeout D      wait up to D (30s, 2m) for the state lock (default: fail at once)\n"
    "  -plugin-path DIRS    where provider plugins are (colon-separated)\n"
    "  -no-color            no ANSI colours\n";

static void print_orphans(const bar_orphans *l, int json)
{
	const char *head[] = {"ADDRESS", "TYPE", "CONNECTION", "SYSTEM ID", "STATUS", "IN SPECS"};
	size_t w[6];

	if (json) {
		json_t *arr = json_array();
		char *s;

		for (size_t i = 0; i < l->n; i++) {
			const bar_orphan *o = &l->items[i];

			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
			                                     "address", o->address, "type", o->type,
			                                     "namespace", o->ns, "connection",
			                                     o->connection, "system_id", o->system_id,
			                                     "status", o->status, "in_config",
			                                     o->in_config));
		}
		s = json_dumps(arr, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(arr);
		return;
	}
	if (l->n == 0) {
		printf("No orphans: every resource tagged for this configuration is recorded.\n");
		return;
	}
	for (int k = 0; k < 6; k++)
		w[k] = strlen(head[k]);
	for (size_t i = 0; i < l->n; i++) {
		const bar_orphan *o = &l->items[i];
		const char *cells[] = {o->address, o->type, o->connection, o->system_id, o->status};

		for (int k = 0; k < 5; k++)
			if (strlen(cells[k]) > w[k])
				w[k] = strlen(cells[k]);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1],
	       (int)w[2], head[2], (int)w[3], head[3], (int)w[4], head[4], head[5]);
	for (size_t i = 0; i < l->n; i++) {
		const bar_orphan *o = &l->items[i];

		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], o->address, (int)w[1],
		       o->type, (int)w[2], o->connection, (int)w[3], o->system_id, (int)w[4],
		       o->status, o->in_config ? "yes" : "no");
	}
}

int cmd_orphans(int argc, char **argv)
{
	cmd_opts o;
	bar_config *cfg = NULL;
	bar_desired_set ds = {0};
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	bar_records rs = {NULL, 0};
	bar_orphans found = {NULL, 0};
	bar_plan *plan = NULL;
	char *state_path = NULL, *keys = NULL;
	int64_t serial = 0;
	int rc = 1, fresh = 0;

	if (cmd_parse(&o, argc, argv, "json delete auto-approve state plugin-path no-color "
	              "lock-timeout",
	              usage) < 0)
		return 1;
	state_path = cmd_state_path(&o, cmd_config_dir(&o));
	keys = cmd_keys_dir(state_path);
	bar_registry_new(&reg, o.plugin_path);
	if (cmd_load_config(&cfg, cmd_config_dir(&o), o.json) < 0)
		goto done;
	bar_desired_build(&ds, cfg);
	if (o.delete_orphans ? bar_state_open(&st, state_path, BAR_STATE_CREATE) < 0 ||
	                           cmd_lock_state(&o, st, "orphans -delete") < 0
	                     : cmd_open_state_ro(&st, state_path, &fresh) < 0)
		goto fail;
	if (bar_state_load(st, &rs) < 0 || bar_state_serial(st, &serial) < 0 ||
	    bar_orphans_find(&found, &ds, &rs, fresh ? NULL : bar_state_lineage(st), reg,
	                     NULL) < 0)
		goto fail;
	if (!o.delete_orphans || found.n == 0) {
		print_orphans(&found, o.json);
		rc = 0;
		goto done;
	}
	bar_orphans_plan(&plan, &found, &ds, &rs, bar_state_lineage(st), serial);
	rc = cmd_run_plan(&o, plan, st, reg, keys, 1, o.auto_approve);
	goto done;
fail:
	rc = cmd_fail(&o);
done:
	bar_plan_free(plan);
	bar_orphans_clear(&found);
	bar_records_clear(&rs);
	bar_state_free(st);
	bar_desired_set_clear(&ds);
	bar_config_free(cfg);
	bar_registry_free(reg);
	free(state_path);
	free(keys);
	return rc;
}
