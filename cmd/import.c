/*
 * import.c - `barista import ADDR SYSTEM_ID [DIR]`: adopt an existing
 * resource (an orphan, or one made outside Barista) for an address the specs
 * describe.  The resource is read at the address's connection and recorded
 * as if apply had created it; nothing is changed at the provider.
 */
#include "cmd.h"
#include "error.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista import ADDR SYSTEM_ID [options] [DIR]\n"
    "Adopt the provider's resource SYSTEM_ID for ADDR (e.g. default/vm/web-seoul-1),\n"
    "which the specs in DIR must describe.  See `barista orphans` for candidates.\n"
    "  -json                JSON lines, as apply -json\n"
    "  -state FILE          state file (default DIR/barista.db)\n"
    "  -lock-timeout D      wait up to D (30s, 2m) for the state lock (default: fail at once)\n"
    "  -plugin-path DIRS    where provider plugins are (colon-separated)\n"
    "  -no-color            no ANSI colours\n";

int cmd_import(int argc, char **argv)
{
	cmd_opts o;
	bar_config *cfg = NULL;
	bar_desired_set ds = {0};
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	bar_records rs = {NULL, 0};
	bar_plan *plan = NULL;
	char *state_path = NULL, *keys = NULL;
	int64_t serial = 0;
	int rc = 1;

	if (argc < 2 || argv[0][0] == '-' || argv[1][0] == '-') {
		if (argc >= 1 && (!strcmp(argv[0], "-help") || !strcmp(argv[0], "-h") ||
		                  !strcmp(argv[0], "--help")))
			return fputs(usage, stdout), 0;
		return fputs(usage, stderr), 1;
	}
	if (cmd_parse(&o, argc - 2, argv + 2, "json state plugin-path no-color lock-timeout", usage) < 0)
		return 1;
	state_path = cmd_state_path(&o, cmd_config_dir(&o));
	keys = cmd_keys_dir(state_path);
	bar_registry_new(&reg, o.plugin_path);
	if (cmd_load_config(&cfg, cmd_config_dir(&o), o.json) < 0)
		goto done;
	bar_desired_build(&ds, cfg);
	if (bar_state_open(&st, state_path, BAR_STATE_CREATE) < 0 ||
	    cmd_lock_state(&o, st, "import") < 0 || bar_state_load(st, &rs) < 0 ||
	    bar_state_serial(st, &serial) < 0 ||
	    bar_import_plan(&plan, &ds, &rs, argv[0], argv[1], bar_state_lineage(st), serial) < 0)
		goto fail;
	rc = cmd_run_plan(&o, plan, st, reg, keys, 0, 1);
	goto done;
fail:
	rc = cmd_fail(&o);
done:
	bar_plan_free(plan);
	bar_records_clear(&rs);
	bar_state_free(st);
	bar_desired_set_clear(&ds);
	bar_config_free(cfg);
	bar_registry_free(reg);
	free(state_path);
	free(keys);
	return rc;
}
