/*
 * plan_scale.c - how planning scales: configurations of 1k, 10k and 100k VMs
 * (every VM spelled out as a group of count 1, over 10 sim connections) with
 * matching state; `barista plan` with refresh on and nothing to change.
 *
 * Prints, last line:
 *   plan_1k_s=… plan_10k_s=… plan_100k_s=… ratio_100k_10k=… ratio_to_parse_10k=…
 * where ratio_to_parse is plan time over the bare cost of reading the same
 * data: libyaml's event parse of the specs plus reading every state record.
 * Targets (issue 3): plan_10k_s <= 0.5, ratio_100k_10k <= 12, ratio_to_parse <= 3.
 *
 * Usage: plan_scale [MAX_VMS]   (default 100000; 10000 for a quicker run)
 */
#include "bench_util.h"
#include "state.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define CONNS 10
#define GROUPS_PER_MCI 100

static void generate(const char *dir, int vms, const char *simfile)
{
	FILE *f = bench_open(dir, "config.yaml");
	char cfg[512];

	snprintf(cfg, sizeof(cfg), "    file: %s\n", simfile);
	for (int c = 0; c < CONNS; c++) {
		char name[32], region[32];

		snprintf(name, sizeof(name), "sim%d", c);
		snprintf(region, sizeof(region), "region-%d", c);
		bench_write_mcir(f, "sim", name, region, cfg, 0, 100 + c);
	}
	for (int m = 0; m < vms / GROUPS_PER_MCI; m++) {
		char name[32], conn[32];

		snprintf(name, sizeof(name), "app%d", m);
		snprintf(conn, sizeof(conn), "sim%d", m % CONNS);
		bench_write_mci(f, name, conn, GROUPS_PER_MCI, 1);
	}
	fclose(f);
}

/* The floor: parse the YAML with libyaml's event API and read all state. */
static double baseline(const char *dir)
{
	char path[4096];
	double t0 = bench_now();
	yaml_parser_t p;
	yaml_event_t ev;
	FILE *f;
	bar_state *st = NULL;
	bar_records rs = {0};
	int done = 0;
	size_t events = 0;

	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	f = fopen(path, "rb");
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			fprintf(stderr, "yaml error in %s\n", path);
			exit(1);
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		events++;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	fclose(f);
	snprintf(path, sizeof(path), "%s/barista.db", dir);
	if (bar_state_open(&st, path, BAR_STATE_READONLY) < 0 || bar_state_load(st, &rs) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	bar_records_clear(&rs);
	bar_state_free(st);
	return bench_now() - t0;
}

static double best_plan(const char *dir, int runs)
{
	char args[4200];
	double best = 1e9;

	snprintf(args, sizeof(args), "plan -detailed-exitcode '%s'", dir);
	for (int i = 0; i < runs; i++) {
		double t = bench_time_barista(args, 0);

		best = t < best ? t : best;
	}
	return best;
}

int main(int argc, char **argv)
{
	int max = argc > 1 ? atoi(argv[1]) : 100000;
	int sizes[] = {1000, 10000, 100000};
	double plan_s[3] = {0}, base_s[3] = {0};
	const char *tmp = bench_tmpdir();

	for (int i = 0; i < 3 && sizes[i] <= max; i++) {
		char dir[4096], sim[4096], args[8400];
		double t0;

		snprintf(dir, sizeof(dir), "%s/vms%d", tmp, sizes[i]);
		snprintf(sim, sizeof(sim), "%s/sim%d.log", tmp, sizes[i]);
		mkdir(dir, 0755);
		generate(dir, sizes[i], sim);
		snprintf(args, sizeof(args), "apply -auto-approve -parallelism 50 -refresh=false '%s'",
		         dir);
		t0 = bench_now();
		if (bench_barista(args, 0) != 0) {
			fprintf(stderr, "setup apply of %d VMs failed\n", sizes[i]);
			bench_barista(args, 1);
			return 1;
		}
		fprintf(stderr, "%d VMs: setup apply %.1fs\n", sizes[i], bench_now() - t0);
		plan_s[i] = best_plan(dir, sizes[i] >= 100000 ? 2 : 3);
		base_s[i] = 1e9;
		for (int r = 0; r < 3; r++) {
			double b = baseline(dir);

			base_s[i] = b < base_s[i] ? b : base_s[i];
		}
		fprintf(stderr, "%d VMs: plan %.3fs, parse+state read %.3fs\n", sizes[i], plan_s[i],
		        base_s[i]);
	}
	printf("plan_1k_s=%.3f plan_10k_s=%.3f plan_100k_s=%.3f ratio_100k_10k=%.2f "
	       "ratio_to_parse_10k=%.2f\n",
	       plan_s[0], plan_s[1], plan_s[2], plan_s[1] > 0 ? plan_s[2] / plan_s[1] : 0,
	       base_s[1] > 0 ? plan_s[1] / base_s[1] : 0);
	return 0;
}
