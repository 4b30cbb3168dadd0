/*
 * mci.c - `barista mci ACTION NAME [DIR]`: an MCI as one manageable object.
 *   suspend | resume | reboot | terminate   on all its VMs, or a group's, or
 *                                           the VMs named with -vm
 *   status                                  refreshed from the providers
 * The plan of an action is the library's (planner/lifecycle.c) and runs
 * through the same apply engine and flow as `barista apply`, each VM's
 * result recorded the moment it completes.
 */
#include "cmd.h"
#include "error.h"
#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "Usage: barista mci <suspend|resume|reboot|terminate|status|benchmark> NAME [options] [DIR]\n"
    "  suspend, resume, reboot, terminate   do it to the MCI's VMs, in parallel, each\n"
    "                       result recorded at once; a VM already there is left alone;\n"
    "                       a VM whose status does not allow it (reboot of a Suspended\n"
    "                       VM) stops the command before anything runs.  Terminate\n"
    "                       removes the VMs at their providers and keeps them recorded\n"
    "                       as Terminated until the specs drop them or an apply\n"
    "                       re-creates them (it asks first)\n"
    "  status               the MCI's status line and VMs, refreshed from the providers\n"
    "  benchmark            measure CPU, memory, disk and the latency between every pair\n"
    "                       of VMs on the VMs (over SSH), print it and record it beside\n"
    "                       the state (STATE.bench.json) for barista recommend\n"
    "  NAME                 the MCI's name, or NAMESPACE/NAME (default namespace: default)\n"
    "  -group G             only the VMs of group G\n"
    "  -vm V                only VM V (repeatable)\n"
    "  -auto-approve        terminate without asking\n"
    "  -watch               status: refresh every 2 s until Ctrl-C (on a terminal)\n"
    "  -parallelism N       at most N VMs at once (default 10)\n"
    "  -json                JSON (actions: JSON lines as apply -json; status: the MCI)\n"
    "  -state FILE          state file (default DIR/barista.db)\n"
    "  -lock-timeout D      wait up to D (30s, 2m) for the state lock (default: fail at once)\n"
    "  -plugin-path DIRS    where provider plugins are (colon-separated)\n"
    "  -no-color            no ANSI colours\n";

/* "<ns>/mci/<name>" from NAME or NS/NAME. */
static char *mci_address(const char *name)
{
	const char *slash = strchr(name, '/');

	if (slash && strstr(name, "/mci/"))
		return bar_strdup(name);
	if (slash)
		return bar_printf("%.*s/mci/%s", (int)(slash - name), name, slash + 1);
	return bar_printf("default/mci/%s", name);
}

/* Refresh the state from the providers: a snapshot carrying live statuses. */
static int live_snapshot(bar_snapshot **out, bar_state *st, bar_registry *reg)
{
	if (bar_snapshot_read(out, st, reg, 1, NULL) < 0)
		return -1;
	bar_snapshot_use_live(*out);
	return 0;
}

/* The view of one MCI from records, or NULL (new reference). */
static json_t *mci_view(const bar_records *rs, const char *addr)
{
	json_t *all = NULL, *m, *found = NULL;
	size_t i;

	bar_mci_view(&all, rs);
	json_array_foreach(all, i, m)
		if (!strcmp(json_string_value(json_object_get(m, "address")), addr))
			found = json_incref(m);
	json_decref(all);
	return found;
}

static int print_status(const cmd_opts *o, bar_state *st, bar_registry *reg, const char *addr)
{
	bar_snapshot *snap = NULL;
	json_t *m;

	if (live_snapshot(&snap, st, reg) < 0)
		return cmd_fail(o);
	m = mci_view(bar_snapshot_records(snap), addr);
	bar_snapshot_free(snap);
	if (!m) {
		bar_error_setc(BAR_ENOTFOUND, "no MCI %s in the state; `barista show` lists them",
		               addr);
		return cmd_fail(o);
	}
	if (o->json) {
		char *s = json_dumps(m, JSON_INDENT(2));

		puts(s);
		free(s);
	} else {
		cmd_print_mci(m);
	}
	fflush(stdout);
	json_decref(m);
	return 0;
}

static volatile sig_atomic_t watching = 1;

static void stop_watch(int sig)
{
	(void)sig;
	watching = 0;
}

/* status -watch: redraw every 2 s until Ctrl-C. */
static int watch_status(const cmd_opts *o, bar_state *st, bar_registry *reg, const char *addr)
{
	int rc = 0;

	signal(SIGINT, stop_watch);
	while (watching && rc == 0) {
		printf("\033[H\033[2J");
		rc = print_status(o, st, reg, addr);
		for (int i = 0; i < 20 && watching; i++)
			usleep(100000);
	}
	signal(SIGINT, SIG_DFL);
	return rc;
}

/* An action: lock, refresh, plan, confirm (terminate), apply, status. */
static int run_action(const cmd_opts *o, const char *action, const char *addr,
                      const char *state_path, bar_registry *reg)
{
	bar_lifecycle_opts lo = BAR_LIFECYCLE_OPTS_INIT;
	bar_snapshot *snap = NULL;
	bar_state *st = NULL;
	bar_plan *plan = NULL;
	char *keys = cmd_keys_dir(state_path);
	int term = !strcmp(action, "terminate"), rc;

	lo.mci = addr;
	lo.action = action;
	lo.group = o->group;
	lo.vms = o->vms;
	lo.n_vms = o->n_vms;
	if (bar_state_open(&st, state_path, 0) < 0 || cmd_lock_state(o, st, action) < 0 ||
	    live_snapshot(&snap, st, reg) < 0 || bar_lifecycle_plan(&plan, snap, &lo) < 0) {
		rc = cmd_fail(o);
		goto done;
	}
	rc = cmd_run_plan(o, plan, st, reg, keys, term, !term || o->auto_approve);
	if (!o->json && plan->n) {
		printf("\n");
		print_status(o, st, reg, addr);
	}
done:
	bar_snapshot_free(snap);
	bar_plan_free(plan);
	bar_state_free(st);
	free(keys);
	return rc;
}

int cmd_mci(int argc, char **argv)
{
	static const char *const actions[] = {"suspend", "resume", "reboot", "terminate",
	                                      "status", "benchmark", NULL};
	const char *action = argc > 0 ? argv[0] : "";
	cmd_opts o;
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	char *addr, *state_path;
	int rc, known = 0;

	if (!strcmp(action, "-help") || !strcmp(action, "-h") || !strcmp(action, "--help"))
		return fputs(usage, stdout), 0;
	for (int i = 0; actions[i]; i++)
		known |= !strcmp(action, actions[i]);
	if (!known || argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "barista mci: %s\n%s", !known ? "unknown or missing action"
		                                              : "the MCI's NAME is missing", usage);
		return 1;
	}
	if (cmd_parse(&o, argc - 2, argv + 2,
	              "group vm auto-approve watch parallelism json state plugin-path no-color "
	              "lock-timeout",
	              usage) < 0)
		return 1;
	addr = mci_address(argv[1]);
	state_path = cmd_state_path(&o, cmd_config_dir(&o));
	bar_registry_new(&reg, o.plugin_path);
	cmd_calllog_start(state_path);
	if (strcmp(action, "benchmark") == 0) {
		rc = cmd_mci_benchmark(&o, addr, state_path);
	} else if (strcmp(action, "status") != 0) {
		rc = run_action(&o, action, addr, state_path, reg);
	} else if (bar_state_open(&st, state_path, BAR_STATE_READONLY) < 0) {
		rc = cmd_fail(&o);
	} else {
		rc = o.watch && isatty(STDOUT_FILENO) && !o.json ? watch_status(&o, st, reg, addr)
		                                                 : print_status(&o, st, reg, addr);
	}
	bar_state_free(st);
	bar_registry_free(reg);
	free(state_path);
	free(addr);
	return rc;
}
