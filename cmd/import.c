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
	cmd_ctx c;
	bar_plan *plan = NULL;
	int rc;

	if (argc < 2 || argv[0][0] == '-' || argv[1][0] == '-') {
		if (argc >= 1 && (!strcmp(argv[0], "-help") || !strcmp(argv[0], "-h") ||
		                  !strcmp(argv[0], "--help")))
			return fputs(usage, stdout), 0;
		return fputs(usage, stderr), 1;
	}
	if (cmd_parse(&o, argc - 2, argv + 2, "json state plugin-path no-color lock-timeout",
	              usage) < 0)
		return 1;
	rc = cmd_ctx_open(&c, &o, "import");
	if (rc == 0 && bar_import_plan(&plan, &c.ds, &c.rs, argv[0], argv[1],
	                               bar_state_lineage(c.st), c.serial) < 0)
		rc = -1;
	if (rc == 0)
		rc = cmd_run_plan(&o, plan, c.st, c.reg, c.keys, 0, 1);
	else
		rc = rc == -2 ? 1 : cmd_fail(&o);
	bar_plan_free(plan);
	cmd_ctx_close(&c);
	return rc;
}
