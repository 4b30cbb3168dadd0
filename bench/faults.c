/*
 * faults.c - an apply of 200 VMs on the sim provider at 30 % injected
 * faults (10 % transient server errors, 10 % throttling, 5 % timeouts, 5 %
 * "created but the reply was lost") converges in one apply: the host retries
 * them all within the call's deadline, and the idempotency keys make the
 * lost replies harmless.  (Should an apply leave something undone, applies
 * are repeated until a plan finds nothing to do, at most 10 rounds, and
 * `rounds` says how many it took.)  Lost replies must not duplicate anything (idempotency
 * keys), throttling is absorbed by the host's backoff, and each error an
 * apply reports must name its resource and the provider's code.  The same
 * configuration without faults is the anchor.
 *
 * Prints, last line: converged=… retries=… rounds=… unnamed_errors=…
 *   apply_s=… clean_s=… ratio=…
 *   retries: provider calls the host retried (the -json summary's "retries"),
 *   plus operations a later round had to run again
 */
#include "bench_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define VMS 200
#define MAX_ROUNDS 10

typedef struct round_result {
	int exit_code;
	int failed;   /* fail events */
	int unnamed;  /* fail events without an address or a provider code */
	int retried;  /* calls the host retried (the summary's "retries") */
} round_result;

/* One `apply -json`, its fail events counted from the JSON lines. */
static round_result apply_round(const char *dir)
{
	char cmd[8400], line[1 << 16];
	round_result r = {0, 0, 0, 0};
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' apply -auto-approve -json -parallelism 50 '%s' 2>/dev/null",
	         bench_barista_path(), dir);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *type = json_string_value(json_object_get(j, "type"));

		if (type && !strcmp(type, "summary"))
			r.retried = (int)json_integer_value(json_object_get(j, "retries"));
		if (type && !strcmp(type, "fail")) {
			json_t *err = json_object_get(j, "error");

			r.failed++;
			r.unnamed += !json_string_value(json_object_get(j, "address")) ||
			             !json_string_value(json_object_get(err, "provider_code"));
		}
		json_decref(j);
	}
	st = p ? pclose(p) : -1;
	r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	return r;
}

static void write_config(const char *dir, const char *store, int faults)
{
	char cfg[8192];
	FILE *f = bench_open(dir, "all.yaml");

	snprintf(cfg, sizeof(cfg), "    file: %s\n    createLatencyMs: \"20\"\n    seed: \"11\"\n%s",
	         store, faults ? "    errorRate: \"0.1\"\n    throttleRate: \"0.1\"\n"
	                         "    timeoutRate: \"0.05\"\n    lostReplyRate: \"0.05\"\n" : "");
	bench_write_mcir(f, "sim", "c1", "r1", cfg, 20, 102);
	bench_write_mci(f, "fleet", "c1", 4, VMS / 4);
	fclose(f);
}

/* Live VMs in the store (P puts, D deletes), to see duplicates. */
static int live_vms(const char *store)
{
	char cmd[4400];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "awk -F'\\t' '$1==\"P\" && $2==\"vm\" {l[$4]=1} $1==\"D\" "
	         "{delete l[$4]} END {n=0; for (k in l) n++; print n}' '%s'", store);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

int main(void)
{
	const char *tmp = bench_tmpdir();
	char dir[4096], clean[4096], store[4200], cstore[4200], args[8400];
	int rounds = 0, retries = 0, unnamed = 0, converged = 0, vms;
	double t0, apply_s, clean_s;

	snprintf(dir, sizeof(dir), "%s/faults", tmp);
	snprintf(clean, sizeof(clean), "%s/clean", tmp);
	mkdir(dir, 0755);
	mkdir(clean, 0755);
	snprintf(store, sizeof(store), "%s/sim.log", dir);
	snprintf(cstore, sizeof(cstore), "%s/sim.log", clean);
	write_config(dir, store, 1);
	write_config(clean, cstore, 0);
	snprintf(args, sizeof(args), "apply -auto-approve -parallelism 50 '%s'", clean);
	clean_s = bench_time_barista(args, 0);
	t0 = bench_now();
	while (rounds < MAX_ROUNDS && !converged) {
		round_result r = apply_round(dir);

		rounds++;
		retries += r.failed + r.retried;
		unnamed += r.unnamed;
		snprintf(args, sizeof(args), "plan -detailed-exitcode -refresh=false '%s'", dir);
		converged = r.exit_code == 0 && bench_barista(args, 0) == 0;
	}
	apply_s = bench_now() - t0;
	vms = live_vms(store);
	converged = converged && vms == VMS;
	fprintf(stderr, "%d VMs at 30%% faults: %d rounds, %d operations re-run, %d live VMs\n",
	        VMS, rounds, retries, vms);
	printf("converged=%d retries=%d rounds=%d unnamed_errors=%d apply_s=%.2f clean_s=%.2f "
	       "ratio=%.2f\n", converged, retries, rounds, unnamed, apply_s, clean_s,
	       apply_s / clean_s);
	return 0;
}
