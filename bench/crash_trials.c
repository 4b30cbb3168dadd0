/*
 * crash_trials.c - a kill at any instant orphans nothing and duplicates
 * nothing: `barista apply` and `barista destroy` are SIGKILLed at seeded
 * random instants on the sim provider (with latency, lost replies and
 * throttling), each followed by `barista apply`; after every trial the
 * provider's own store is read and compared with the state:
 *   converged   the follow-up apply succeeded and a plan finds nothing to do
 *   orphans     live resources no record holds
 *   duplicates  addresses with more than one live resource
 * With -local N it also runs N trials on real local VMs (root), checked
 * against the kernel's network namespaces and the provider's list.
 *
 * Usage: crash_trials [-trials N] [-seed S] [-local N] [-check]
 *   -check: exit 1 unless every trial converged with 0 orphans and 0
 *   duplicates (the test suite runs a small seeded set this way).
 * Prints, last line: trials=… converged=… orphans=… duplicates=…
 *   (target: converged = trials, orphans = duplicates = 0)
 */
#include "bench_util.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIM_VMS 16

typedef struct tally {
	int trials, converged, orphans, duplicates;
} tally;

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Start `barista ARGS`, SIGKILL it after `ms`, reap it. */
static void kill_after(const char *barista, const char *verb, const char *dir, int ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", 0);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(barista, barista, verb, "-auto-approve", dir, (char *)NULL);
		_exit(127);
	}
	usleep((useconds_t)ms * 1000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The recorded system ids, from `barista state list -json`. */
static json_t *recorded_ids(const char *dir)
{
	char args[4200];
	json_t *ids = json_object(), *list;
	size_t i;
	json_t *r;
	FILE *p;

	snprintf(args, sizeof(args), "'%s' state list -json -state '%s/barista.db'",
	         bench_barista_path(), dir);
	p = popen(args, "r");
	list = p ? json_loadf(p, 0, NULL) : NULL;
	if (p)
		pclose(p);
	json_array_foreach(list, i, r) {
		const char *id = json_string_value(json_object_get(r, "system_id"));

		if (id)
			json_object_set_new(ids, id, json_true());
	}
	json_decref(list);
	return ids;
}

/*
 * The sim store as the provider keeps it: P lines put, D lines delete;
 * "Deleting@T" statuses are gone once T has passed; alias records of
 * idempotency keys are not resources.  Counts orphans (live, unrecorded)
 * and duplicates (addresses live twice); returns live VMs.
 */
static int check_sim(const char *dir, const json_t *recorded, int *orphans, int *dups)
{
	char path[4200], line[65536];
	json_t *live = json_object(), *by_addr = json_object();
	const char *id;
	json_t *v;
	int vms = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/sim.log", dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *fld[9] = {0}, *save = NULL, *t = strtok_r(line, "\t\n", &save);
		int n = 0;

		for (; t && n < 9; t = strtok_r(NULL, "\t\n", &save))
			fld[n++] = t;
		if (n >= 8 && !strcmp(fld[0], "P") && strcmp(fld[1], "_idem") &&
		    strncmp(fld[5], "Deleting@", 9))
			json_object_set_new(live, fld[3], json_pack("{s:s, s:s}", "type", fld[1],
			                                            "tags", fld[7]));
		else if (n >= 4 && (!strcmp(fld[0], "D") || !strcmp(fld[0], "P")))
			json_object_del(live, fld[0][0] == 'D' ? fld[3] : fld[3]);
	}
	if (f)
		fclose(f);
	json_object_foreach(live, id, v) {
		json_t *tags = json_loads(json_string_value(json_object_get(v, "tags")), 0, NULL);
		const char *addr = json_string_value(json_object_get(tags, "barista:address"));
		json_t *seen = addr ? json_object_get(by_addr, addr) : NULL;

		if (!json_object_get(recorded, id))
			(*orphans)++;
		if (seen)
			(*dups)++;
		else if (addr)
			json_object_set_new(by_addr, addr, json_true());
		vms += !strcmp(json_string_value(json_object_get(v, "type")), "vm");
		json_decref(tags);
	}
	json_decref(live);
	json_decref(by_addr);
	return vms;
}

/* One trial: kill apply or destroy at a random instant, then converge. */
static void sim_trial(tally *t, const char *dir, int i)
{
	const char *verb = i % 3 == 2 ? "destroy" : "apply";
	int ms = (int)(rnd() % 900), orphans = 0, dups = 0, vms;
	char args[4200];
	json_t *rec;
	int ok;

	kill_after(bench_barista_path(), verb, dir, ms);
	snprintf(args, sizeof(args), "apply -auto-approve '%s'", dir);
	ok = bench_barista(args, 0) == 0;
	snprintf(args, sizeof(args), "plan -detailed-exitcode '%s'", dir);
	ok = ok && bench_barista(args, 0) == 0;
	rec = recorded_ids(dir);
	vms = check_sim(dir, rec, &orphans, &dups);
	json_decref(rec);
	ok = ok && vms == SIM_VMS && orphans == 0 && dups == 0;
	t->trials++;
	t->converged += ok;
	t->orphans += orphans;
	t->duplicates += dups;
	if (!ok)
		fprintf(stderr, "trial %d (%s killed after %d ms): vms=%d orphans=%d dups=%d\n", i,
		        verb, ms, vms, orphans, dups);
}

static void write_sim_config(const char *dir, const char *store)
{
	char cfg[8192];
	FILE *f = bench_open(dir, "all.yaml");

	snprintf(cfg, sizeof(cfg),
	         "    file: %s\n    latencyMs: \"15\"\n    createLatencyMs: \"60\"\n"
	         "    lostReplyRate: \"0.1\"\n    throttleRate: \"0.05\"\n",
	         store);
	bench_write_mcir(f, "sim", "c1", "r1", cfg, 4, 101);
	bench_write_mci(f, "web", "c1", 2, SIM_VMS / 2);
	fclose(f);
}

/* Local trials: the kernel's namespaces are the truth; `barista orphans`
 * lists what the provider has that no record holds. */
static void local_trials(tally *t, const char *tmp, int n)
{
	char dir[4096], args[8400];

	snprintf(dir, sizeof(dir), "%s/local", tmp);
	mkdir(dir, 0755);
	{
		FILE *f = bench_open(dir, "all.yaml");
		char cfg[4200];

		snprintf(cfg, sizeof(cfg), "    root: %s/root\n", tmp);
		bench_write_mcir(f, "local", "l1", "local-1", cfg, 4, 57);
		bench_write_mci(f, "lw", "l1", 1, 4);
		fclose(f);
	}
	for (int i = 0; i < n; i++) {
		const char *verb = i % 3 == 2 ? "destroy" : "apply";
		int ms = (int)(rnd() % 1500), ok, netns;
		FILE *p;
		json_t *orph;

		kill_after(bench_barista_path(), verb, dir, ms);
		snprintf(args, sizeof(args), "apply -auto-approve '%s'", dir);
		ok = bench_barista(args, 0) == 0;
		snprintf(args, sizeof(args), "plan -detailed-exitcode '%s'", dir);
		ok = ok && bench_barista(args, 0) == 0;
		p = popen("ip netns list | grep -c '^bvm-'", "r");
		netns = -1;
		if (!p || fscanf(p, "%d", &netns) != 1)
			netns = -1;
		if (p)
			pclose(p);
		snprintf(args, sizeof(args), "'%s' orphans -json '%s'", bench_barista_path(), dir);
		p = popen(args, "r");
		orph = p ? json_loadf(p, 0, NULL) : NULL;
		if (p)
			pclose(p);
		ok = ok && netns == 4 && json_is_array(orph) && json_array_size(orph) == 0;
		t->trials++;
		t->converged += ok;
		t->orphans += json_is_array(orph) ? (int)json_array_size(orph) : 0;
		t->duplicates += netns > 4 ? netns - 4 : 0;
		if (!ok)
			fprintf(stderr, "local trial %d (%s killed after %d ms): netns=%d\n", i, verb,
			        ms, netns);
		json_decref(orph);
	}
	snprintf(args, sizeof(args), "destroy -auto-approve '%s'", dir);
	bench_barista(args, 0);
}

int main(int argc, char **argv)
{
	int trials = 100, local = -1, check = 0;
	uint64_t seed = 42;
	const char *tmp = bench_tmpdir();
	char dir[4096], store[4200], args[8400];
	tally t = {0, 0, 0, 0};
	double t0 = bench_now();

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-trials") && i + 1 < argc)
			trials = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-local") && i + 1 < argc)
			local = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-check"))
			check = 1;
		else
			return fprintf(stderr, "usage: crash_trials [-trials N] [-seed S] [-local N] "
			                       "[-check]\n"), 2;
	}
	if (local < 0)
		local = geteuid() == 0 ? 10 : 0;
	rng_state = seed;
	snprintf(dir, sizeof(dir), "%s/sim", tmp);
	mkdir(dir, 0755);
	snprintf(store, sizeof(store), "%s/sim.log", dir);
	write_sim_config(dir, store);
	for (int i = 0; i < trials; i++)
		sim_trial(&t, dir, i);
	snprintf(args, sizeof(args), "destroy -auto-approve '%s'", dir);
	bench_barista(args, 0);
	if (local > 0)
		local_trials(&t, tmp, local);
	fprintf(stderr, "%d trials (%d on local VMs) in %.1f s, seed %llu\n", t.trials, local,
	        bench_now() - t0, (unsigned long long)seed);
	printf("trials=%d converged=%d orphans=%d duplicates=%d\n", t.trials, t.converged,
	       t.orphans, t.duplicates);
	return check && (t.converged != t.trials || t.orphans || t.duplicates) ? 1 : 0;
}
