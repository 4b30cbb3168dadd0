/*
 * destroy.c - `barista destroy [DIR]`: delete everything the state records,
 * in reverse dependency order.
 */
#include "cmd.h"

static const char usage[] =
    "Usage: barista destroy [options] [DIR]\n"
    "  Delete every resource recorded in the state of DIR (default .), in reverse\n"
    "  dependency order.  The specs are not read.\n"
    "  -target ADDR         only ADDR and what depends on it (repeatable); ADDR must\n"
    "                       be recorded in the state\n"
    "  -auto-approve, -parallelism N, -state FILE, -plugin-path DIRS, -json,\n"
    "  -lock-timeout D, -no-color   as for apply\n";

int cmd_destroy(int argc, char **argv)
{
	cmd_opts o;

	if (cmd_parse(&o, argc, argv, "auto-approve parallelism target state plugin-path no-color json "
	              "lock-timeout",
	              usage) < 0)
		return 1;
	return cmd_plan_and_apply(&o, 1, NULL);
}
