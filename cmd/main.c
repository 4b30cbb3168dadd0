/*
 * main.c - the `barista` program: dispatches to one subcommand per file.
 */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista <command> [options] [DIR]\n"
    "\n"
    "Declarative multi-cloud infrastructure: describe Namespaces, Connections,\n"
    "VNets, SecurityGroups, SSHKeys, Images, Specs, MCIs, MCApps and\n"
    "MonitoringPolicies in YAML; barista plans and applies the difference.\n"
    "\n"
    "Commands:\n"
    "  validate [DIR]         check the specs in DIR (default .) without touching anything\n"
    "  plan [DIR]             show what apply would change\n"
    "  apply [DIR|PLANFILE]   make the infrastructure match the specs, or apply a saved plan\n"
    "  destroy [DIR]          delete everything recorded in the state\n"
    "  show [DIR]             show MCIs and their VMs from the state\n"
    "  state list             list the recorded resources\n"
    "  state show ADDR        show one recorded resource\n"
    "  state rm ADDR          forget a resource without touching it\n"
    "  state lock             show who holds the state's lock (its lease, its token)\n"
    "  state unlock           remove a lock left by a dead process (-force: any)\n"
    "  mci ACTION NAME        suspend|resume|reboot|terminate an MCI's VMs, or its status\n"
    "  orphans [DIR]          resources tagged for this configuration that no record tracks\n"
    "  import ADDR ID [DIR]   adopt an existing resource for an address of the specs\n"
    "  exec MCI -- CMD...     run a command on the VMs of an MCI\n"
    "  cp SRC DST             copy files to or from the VMs of an MCI (MCI:PATH)\n"
    "  connection list|test   the connections of the specs; test one against its cloud\n"
    "  calls [DIR]            the requests providers made to their clouds (the call log)\n"
    "  recommend [DIR]        instance types ranked by cost, distance and performance\n"
    "  catalog list|refresh   the drivers' catalogues; compare one with its cloud's API\n"
    "  collector              run a monitoring collector (agents push to it; alarms)\n"
    "  metrics list|query     barista-agent's metrics; their series from a collector\n"
    "  app status|logs MCAPP  an MCApp's apps on its VMs: state, health, restarts; output\n"
    "  alarms list            alarm states and history from a collector\n"
    "  version                print the version (-json: as JSON)\n"
    "  help                   print this help\n"
    "\n"
    "Options: -json (every command); -state FILE (default DIR/barista.db, or\n"
    "$BARISTA_STATE; all but validate and version); -plugin-path DIRS (the commands\n"
    "that reach providers); -no-color.  `barista <command> -help` lists a command's\n"
    "options.\n";

/* Providers' log lines: warnings and errors always, the rest with
 * BARISTA_LOG set. */
static void log_line(void *ud, int level, const char *connection, const char *msg)
{
	static const char *names[] = {"debug", "info", "warning", "error"};
	const char *want = getenv("BARISTA_LOG");

	(void)ud;
	if (level < BAR_LOG_WARN && !(want && *want))
		return;
	fprintf(stderr, "barista: %s: %s: %s\n", names[level], connection, msg);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	bar_host_set_log(log_line, NULL);

	if (!cmd || !strcmp(cmd, "help") || !strcmp(cmd, "-help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 1;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "-version") || !strcmp(cmd, "--version"))
		return cmd_version(argc - 2, argv + 2);
	if (!strcmp(cmd, "catalog"))
		return cmd_catalog(argc - 2, argv + 2);
	if (!strcmp(cmd, "recommend"))
		return cmd_recommend(argc - 2, argv + 2);
#ifdef BAR_HAVE_MONITOR
	if (!strcmp(cmd, "collector"))
		return cmd_collector(argc - 2, argv + 2);
	if (!strcmp(cmd, "metrics"))
		return cmd_metrics(argc - 2, argv + 2);
	if (!strcmp(cmd, "app"))
		return cmd_app(argc - 2, argv + 2);
	if (!strcmp(cmd, "alarms"))
		return cmd_alarms(argc - 2, argv + 2);
#endif
	if (!strcmp(cmd, "calls"))
		return cmd_calls(argc - 2, argv + 2);
	if (!strcmp(cmd, "connection"))
		return cmd_connection(argc - 2, argv + 2);
	if (!strcmp(cmd, "validate"))
		return cmd_validate(argc - 2, argv + 2);
	if (!strcmp(cmd, "plan"))
		return cmd_plan(argc - 2, argv + 2);
	if (!strcmp(cmd, "apply"))
		return cmd_apply(argc - 2, argv + 2);
	if (!strcmp(cmd, "destroy"))
		return cmd_destroy(argc - 2, argv + 2);
	if (!strcmp(cmd, "show"))
		return cmd_show(argc - 2, argv + 2);
	if (!strcmp(cmd, "state"))
		return cmd_state(argc - 2, argv + 2);
	if (!strcmp(cmd, "mci"))
		return cmd_mci(argc - 2, argv + 2);
	if (!strcmp(cmd, "orphans"))
		return cmd_orphans(argc - 2, argv + 2);
	if (!strcmp(cmd, "import"))
		return cmd_import(argc - 2, argv + 2);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc - 2, argv + 2);
	if (!strcmp(cmd, "cp"))
		return cmd_cp(argc - 2, argv + 2);
	if (!strcmp(cmd, "ssh-broker")) /* started by exec and cp */
		return cmd_ssh_broker(argc - 2, argv + 2);
	fprintf(stderr, "barista: unknown command \"%s\"\n\n%s", cmd, usage);
	return 1;
}
