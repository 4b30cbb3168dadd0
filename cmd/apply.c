/*
 * apply.c - `barista apply [DIR|PLANFILE]`.
 */
#include "cmd.h"

#include <stdio.h>
#include <sys/stat.h>

static const char usage[] =
    "Usage: barista apply [options] [DIR | PLANFILE]\n"
    "  Make the infrastructure match the specs in DIR (default .), or apply exactly\n"
    "  a plan saved with `barista plan -out PLANFILE` (refused if the state changed).\n"
    "  -auto-approve        do not ask for confirmation (required when stdin is not a\n"
    "                       terminal, unless a saved plan is given)\n"
    "  -parallelism N       operations at once, 1..1000 (default 10; connections may\n"
    "                       limit further with maxConcurrency)\n"
    "  -json                JSON lines: the plan, one line per event (start, done,\n"
    "                       fail, skip), then a summary\n"
    "  -refresh-only        only record what is live; change no resource\n"
    "  -lock-timeout D      wait up to D (30s, 2m) for the state lock (default: fail\n"
    "                       at once, naming the holder)\n"
    "  -refresh=false, -target ADDR, -replace ADDR, -state FILE, -plugin-path DIRS,\n"
    "  -no-color            as for plan; a saved plan was planned already, so\n"
    "                       -refresh=false, -refresh-only, -target and -replace are\n"
    "                       refused with PLANFILE (-state overrides the state it\n"
    "                       names)\n";

/* An option that shapes a plan, which a saved plan already has; or NULL. */
static const char *planning_option(const cmd_opts *o)
{
	return o->n_targets      ? "-target"
	       : o->n_replace    ? "-replace"
	       : o->refresh_only ? "-refresh-only"
	       : !o->refresh     ? "-refresh=false"
	                         : NULL;
}

int cmd_apply(int argc, char **argv)
{
	cmd_opts o;
	struct stat sb;

	if (cmd_parse(&o, argc, argv,
	              "auto-approve parallelism refresh refresh-only target replace state "
	              "plugin-path no-color json lock-timeout", usage) < 0)
		return 1;
	if (!(o.positional && stat(o.positional, &sb) == 0 && S_ISREG(sb.st_mode)))
		return cmd_plan_and_apply(&o, 0, NULL);
	if (planning_option(&o)) {
		fprintf(stderr, "barista: %s cannot be used with a saved plan (%s): it was planned "
		        "already; plan again with the option instead\n", planning_option(&o),
		        o.positional);
		return 1;
	}
	return cmd_plan_and_apply(&o, 0, o.positional);
}
