/*
 * apply_parallel.c - how close parallel apply comes to the ideal: 1,000 VMs
 * on the sim provider over 10 regions, each create taking 1 s, at most 20 in
 * flight per region (the connections' maxConcurrency), -parallelism 200.
 * The ideal is 1000 / (20 x 10) x 1 s = 5 s.
 *
 * The regions' VNets, security groups, keys, images and specs are applied
 * first and not timed; the timed apply creates the 10 MCIs and 1,000 VMs.
 *
 * Prints, last line: apply_s=… ideal_s=… ratio=…   (target: ratio <= 1.2)
 */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define REGIONS 10
#define PER_REGION 20
#define VMS 1000
#define LATENCY_MS 1000

int main(void)
{
	const char *tmp = bench_tmpdir();
	char dir[4096], cfg[4200], args[8400];
	FILE *f;
	double t, ideal = (double)VMS / (PER_REGION * REGIONS) * LATENCY_MS / 1000.0;

	snprintf(dir, sizeof(dir), "%s/config", tmp);
	mkdir(dir, 0755);
	snprintf(cfg, sizeof(cfg), "    file: %s/sim.log\n    createLatencyMs: \"%d\"\n", tmp,
	         LATENCY_MS);
	f = bench_open(dir, "mcir.yaml");
	for (int r = 0; r < REGIONS; r++) {
		char conn[32], region[32];

		snprintf(conn, sizeof(conn), "r%d", r);
		snprintf(region, sizeof(region), "region-%d", r);
		bench_write_mcir(f, "sim", conn, region, cfg, PER_REGION, 100 + r);
	}
	fclose(f);
	snprintf(args, sizeof(args), "apply -auto-approve -parallelism 200 '%s'", dir);
	bench_time_barista(args, 0);
	f = bench_open(dir, "mci.yaml");
	for (int r = 0; r < REGIONS; r++) {
		char name[32], conn[32];

		snprintf(name, sizeof(name), "app%d", r);
		snprintf(conn, sizeof(conn), "r%d", r);
		bench_write_mci(f, name, conn, 1, VMS / REGIONS);
	}
	fclose(f);
	t = bench_time_barista(args, 0);
	fprintf(stderr, "%d VMs, %d regions x %d in flight, %d ms per create\n", VMS, REGIONS,
	        PER_REGION, LATENCY_MS);
	printf("apply_s=%.2f ideal_s=%.2f ratio=%.3f\n", t, ideal, t / ideal);
	return 0;
}
