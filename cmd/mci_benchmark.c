/*
 * mci_benchmark.c - `barista mci benchmark NAME [DIR]`: CPU, memory, disk
 * and the latency between every pair of VMs, measured on the VMs
 * (planner/benchmark.c), printed, and recorded beside the state for
 * `barista recommend`.
 */
#include "cmd.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *fig(const json_t *vm, const char *k, char *buf, size_t size)
{
	const json_t *v = json_object_get(json_object_get(vm, "figures"), k);

	if (!json_is_number(v))
		return "-";
	snprintf(buf, size, "%.0f", json_number_value(v));
	return buf;
}

static void print_run(const json_t *run)
{
	static const char *const head[] = {"VM", "RUNS AS", "CPU MB/S", "MEMORY MB/S",
	                                   "DISK MB/S", "OUTCOME"};
	const json_t *vms = json_object_get(run, "vms"), *lat = json_object_get(run, "latency_ms");
	size_t n = json_object_size(vms), i = 0;
	cmd_table t = CMD_TABLE_INIT(6);
	char (*cells)[3][32] = bar_calloc(n + 1, sizeof(*cells));
	const char *name, *pair;
	json_t *vm, *ms;
	double sum = 0, max = 0;
	size_t pairs = 0;

	cmd_table_add(&t, head);
	json_object_foreach((json_t *)vms, name, vm) {
		const char *kind = json_string_value(json_object_get(vm, "kind"));

		cmd_table_add(&t, (const char *const[]){
		                      name, kind ? kind : "?", fig(vm, "cpu_mbps", cells[i][0], 32),
		                      fig(vm, "mem_mbps", cells[i][1], 32),
		                      fig(vm, "disk_mbps", cells[i][2], 32),
		                      json_string_value(json_object_get(vm, "outcome"))});
		i++;
	}
	cmd_table_print(&t, "");
	cmd_table_free(&t);
	free(cells);
	json_object_foreach((json_t *)lat, pair, ms) {
		if (!json_is_number(ms))
			continue;
		sum += json_number_value(ms);
		if (json_number_value(ms) > max)
			max = json_number_value(ms);
		pairs++;
	}
	if (pairs)
		printf("\nLatency: %zu VM pairs measured, mean %.3f ms, max %.3f ms (-json lists "
		       "every pair).\n", pairs, sum / (double)pairs, max);
	else if (n > 1)
		printf("\nLatency: no pair could be measured (is ping installed on the VMs?).\n");
}

int cmd_mci_benchmark(const cmd_opts *o, const char *addr, const char *state_path)
{
	bar_bench_opts bo = BAR_BENCH_OPTS_INIT;
	bar_state *st = NULL;
	bar_records rs = {0};
	json_t *run = NULL;
	char *keys = cmd_keys_dir(state_path), *path = bar_bench_path(state_path);
	int rc = 1;
	size_t failed = 0;
	const char *name;
	json_t *vm;

	bo.parallel = o->parallelism > 10 ? o->parallelism : 0;
	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) < 0 ||
	    bar_state_load(st, &rs) < 0 ||
	    bar_mci_benchmark(&run, &rs, keys, addr, &bo) < 0 || bar_bench_record(path, run) < 0) {
		rc = cmd_fail(o);
		goto done;
	}
	json_object_foreach(json_object_get(run, "vms"), name, vm) {
		failed += strcmp(json_string_value(json_object_get(vm, "outcome")), "ok") != 0;
	}
	if (o->json) {
		char *s = json_dumps(run, JSON_INDENT(2) | JSON_SORT_KEYS);

		puts(s);
		free(s);
	} else {
		print_run(run);
		printf("Recorded in %s; barista recommend uses it.\n", path);
	}
	rc = failed ? 1 : 0;
done:
	json_decref(run);
	bar_records_clear(&rs);
	bar_state_free(st);
	free(keys);
	free(path);
	return rc;
}
