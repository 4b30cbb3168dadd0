/*
 * local_create.c - creating 100 VMs on the local provider: real network
 * namespaces, veths, nftables rules and sshd, 10 at a time (the default
 * -parallelism).  The VNet, security group, key, image and spec are applied
 * first and not timed; then the MCI of 100 VMs is applied through the
 * library with per-VM timings, and everything is destroyed again.
 *
 * Prints, last line: per_vm_ms=… total_s=…
 *   per_vm_ms: mean time one VM create takes (provider call + state write)
 *   total_s:   wall time of the apply that creates the 100 VMs
 * Targets (issue 3): per_vm_ms <= 100, total_s <= 3.  Needs root.
 */
#include "bench_util.h"
#include "error.h"
#include "planner.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VMS 100

static double sum_ms;
static size_t n_vm;

static void on_event(void *ud, const bar_apply_event *ev)
{
	if (ev->kind == BAR_EV_DONE && !strcmp(ev->op, "create") && strstr(ev->address, "/vm/")) {
		sum_ms += ev->elapsed_s * 1000;
		n_vm++;
	}
	if (ev->kind == BAR_EV_FAIL)
		fprintf(stderr, "%s: %s\n", ev->address, ev->message);
}

static int apply_dir(const char *dir, const char *state_path, int destroy, double *secs)
{
	bar_config *cfg = NULL;
	bar_desired_set ds = {0};
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	bar_plan *plan = NULL;
	bar_snapshot *snap = NULL;
	bar_plan_opts po = BAR_PLAN_OPTS_INIT;
	bar_apply_opts ao = BAR_APPLY_OPTS_INIT;
	bar_apply_summary sum;
	char keys[4200];
	int rc = -1;
	double t0;

	snprintf(keys, sizeof(keys), "%s.keys", state_path);
	po.destroy = destroy;
	ao.keys_dir = keys;
	ao.on_event = on_event;
	bar_registry_new(&reg, NULL);
	if (bar_config_load(&cfg, dir, NULL) < 0 || bar_state_open(&st, state_path,
	                                                            BAR_STATE_CREATE) < 0)
		goto done;
	bar_desired_build(&ds, cfg);
	if (bar_snapshot_read(&snap, st, reg, 1, NULL) < 0 ||
	    bar_plan_make(&plan, &ds, snap, &po) < 0)
		goto done;
	t0 = bench_now();
	rc = bar_apply_run(plan, st, reg, &ao, &sum);
	*secs = bench_now() - t0;
done:
	if (rc < 0)
		fprintf(stderr, "apply %s: %s\n", dir, bar_error_last());
	bar_plan_free(plan);
	bar_snapshot_free(snap);
	bar_state_free(st);
	bar_registry_free(reg);
	bar_desired_set_clear(&ds);
	bar_config_free(cfg);
	return rc;
}

int main(void)
{
	const char *tmp = bench_tmpdir();
	char dir[4096], state[4200], root[4200];
	double t_mcir, t_vms = 0, t_destroy = 0;
	FILE *f;
	int rc;

	if (geteuid() != 0) {
		fprintf(stderr, "local_create: needs root\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/config", tmp);
	snprintf(state, sizeof(state), "%s/state.db", tmp);
	/* The provider's files on tmpfs, as its default /run/barista/local is on
	 * Debian (this sandbox's /run is not tmpfs, /dev/shm is). */
	snprintf(root, sizeof(root), "/dev/shm/barista-bench-%d", (int)getpid());
	setenv("BARISTA_LOCAL_ROOT", root, 1);
	mkdir(dir, 0755);
	f = bench_open(dir, "mcir.yaml");
	bench_write_mcir(f, "local", "bench", "bench-region", "", 0, 190);
	fclose(f);
	if (apply_dir(dir, state, 0, &t_mcir) < 0)
		return 1;
	f = bench_open(dir, "mci.yaml");
	bench_write_mci(f, "fleet", "bench", 1, VMS);
	fclose(f);
	rc = apply_dir(dir, state, 0, &t_vms);
	if (apply_dir(dir, state, 1, &t_destroy) < 0) {
		fprintf(stderr, "destroy failed: clean up by hand (docs/local-provider.md)\n");
		return 1;
	}
	{
		char cmd[4300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	}
	if (rc < 0 || n_vm != VMS) {
		fprintf(stderr, "created %zu of %d VMs\n", n_vm, VMS);
		return 1;
	}
	fprintf(stderr, "%d local VMs created in %.2fs, destroyed in %.2fs\n", VMS, t_vms,
	        t_destroy);
	printf("per_vm_ms=%.1f total_s=%.2f\n", sum_ms / (double)n_vm, t_vms);
	return 0;
}
