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
	static const char *const head[] = {"ADDRESS", "TYPE", "CONNECTION", "SYSTEM ID",
	                                   "STATUS", "IN SPECS"};
	cmd_table t = CMD_TABLE_INIT(6);

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
	cmd_table_add(&t, head);
	for (size_t i = 0; i < l->n; i++) {
		const bar_orphan *o = &l->items[i];

		cmd_table_add(&t, (const char *const[]){o->address, o->type, o->connection,
		                                         o->system_id, o->status,
		                                         o->in_config ? "yes" : "no"});
	}
	cmd_table_print(&t, "");
	cmd_table_free(&t);
}

int cmd_orphans(int argc, char **argv)
{
	cmd_opts o;
	cmd_ctx c;
	bar_orphans found = {NULL, 0};
	bar_plan *plan = NULL;
	int rc;

	if (cmd_parse(&o, argc, argv, "json delete auto-approve state plugin-path no-color "
	              "lock-timeout", usage) < 0)
		return 1;
	rc = cmd_ctx_open(&c, &o, o.delete_orphans ? "orphans -delete" : NULL);
	if (rc == 0 && bar_orphans_find(&found, &c.ds, &c.rs,
	                                c.fresh ? NULL : bar_state_lineage(c.st), c.reg, NULL) < 0)
		rc = -1;
	if (rc < 0) {
		rc = rc == -2 ? 1 : cmd_fail(&o);
	} else if (!o.delete_orphans || found.n == 0) {
		print_orphans(&found, o.json);
	} else {
		bar_orphans_plan(&plan, &found, &c.ds, &c.rs, bar_state_lineage(c.st), c.serial);
		rc = cmd_run_plan(&o, plan, c.st, c.reg, c.keys, 1, o.auto_approve);
	}
	bar_plan_free(plan);
	bar_orphans_clear(&found);
	cmd_ctx_close(&c);
	return rc;
}
