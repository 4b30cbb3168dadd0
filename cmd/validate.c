/*
 * validate.c - `barista validate [DIR]`: check specs without touching state
 * or providers.
 */
#include "cmd.h"
#include "util.h"

#include <stdlib.h>

static const char usage[] =
    "Usage: barista validate [-json] [DIR]\n"
    "  Parse and check every *.yaml/*.yml file in DIR (default .): fields, types,\n"
    "  references, CIDRs, cycles.  Touches neither state nor providers.\n"
    "  Exit 0 when valid, 1 otherwise (every problem is listed as file:line:col).\n"
    "  -json                the result, or every problem with its file, line and\n"
    "                       column, as JSON\n"
    "  -no-color            accepted for symmetry; validate prints no colours\n";

int cmd_validate(int argc, char **argv)
{
	cmd_opts o;
	bar_config *cfg = NULL;
	bar_desired_set ds = {0};
	size_t vms = 0;

	if (cmd_parse(&o, argc, argv, "json no-color", usage) < 0)
		return 1;
	if (cmd_load_config(&cfg, cmd_config_dir(&o), o.json) < 0)
		return 1;
	bar_desired_build(&ds, cfg);
	for (size_t i = 0; i < ds.n; i++)
		vms += ds.items[i].type[0] == 'v' && ds.items[i].type[1] == 'm';
	if (o.json)
		printf("{\"valid\": true, \"objects\": %zu, \"resources\": %zu, \"vms\": %zu}\n",
		       bar_config_count(cfg), ds.n, vms);
	else
		printf("The configuration is valid: %zu objects, %zu resources (%zu VMs).\n",
		       bar_config_count(cfg), ds.n, vms);
	bar_desired_set_clear(&ds);
	bar_config_free(cfg);
	return 0;
}
