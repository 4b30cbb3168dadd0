/*
 * tsdb_store.c - the collector's store (monitor/tsdb*.c) on agent-like
 * data: 1,000 VMs x 20 metrics x 500 samples every 2 s (10 M points),
 * labels __name__/ns/mci/vm (+ device or interface), values as the agent
 * rounds them: CPU and other percents a random walk with 2 decimals, byte
 * and packet rates as whole numbers (noisy, disks mostly idle), memory
 * and filesystem bytes in pages, gauges mostly constant (CPUs, totals),
 * process counts, load averages.
 *
 * Appends in batches of 10,000 points (25 VMs x 20 series x 20 samples,
 * oldest first, as pushes arrive) with the log fdatasynced per call (the
 * default), then flushes, then forces the roll-ups.  The last line:
 *   append_pts_s   points appended per second (the appends alone)
 *   append_flush_pts_s  ... counting the flush that seals every chunk
 *   bytes_per_point      the SQLite file, its WAL and the log after flush
 *   raw_bytes_per_point  compressed chunk bytes alone
 *   label_bytes_per_point  label text (stored once per series)
 *   rollup_bytes_per_point the file's growth per raw point once the roll-up
 *                        and coarse tiers are materialised
 *   query_ms             1 h range, avg by 10 s step, one metric, all VMs
 *   push100_pts_s        points per second appended as agents push (one
 *                        VM's 20 series x 5 samples a call, 2 threads, the
 *                        log synced per call), 200 VMs on a store of its own
 *
 *   tsdb_store [-jitter MS] [-nosync] [-keep]
 *   -jitter: timestamps off the 2 s tick by up to MS ms, as an agent
 *   stamping its read time would; -keep: leave the store behind
 */
#include "agent_data.h"
#include "tsdb.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { VMS = 1000, METRICS = BENCH_AGENT_METRICS, SAMPLES = 500, BATCH_VMS = 25, BATCH_SAMPLES = 20 };
#define SERIES (VMS * METRICS)
#define BASE 1700000100000LL

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bench_agent_data D; /* bench/agent_data.h */

/* ---- pushes as agents make them: one VM's 20 series x 5 samples ---- */

enum { PUSH_THREADS = 2, PUSH_VMS = 200 };

typedef struct pusher {
	bar_tsdb *db;
	int first_vm, failed;
} pusher;

static void *push_main(void *arg)
{
	pusher *p = arg;
	bar_mseries se[METRICS];
	char why[300];

	for (int i0 = 0; i0 < SAMPLES && !p->failed; i0 += 5)
		for (int v = p->first_vm; v < p->first_vm + PUSH_VMS / PUSH_THREADS; v++) {
			for (int m = 0; m < METRICS; m++) {
				int s = v * METRICS + m;
				se[m] = D.series[s];
				se[m].samples += i0;
				se[m].nsamples = 5;
			}
			if (bar_tsdb_append(p->db, se, METRICS, NULL, why, sizeof(why)) < 0) {
				fprintf(stderr, "tsdb_store: push: %s\n", why);
				p->failed = 1;
				break;
			}
		}
	return NULL;
}

/* Points per second of 100-point appends from PUSH_THREADS threads on a
 * store of its own (the log synced per call, shared by group commit), or
 * -1. */
static double push_rate(const bar_tsdb_opts *base, const char *dir)
{
	bar_tsdb_opts o = *base;
	bar_tsdb *db = NULL;
	pthread_t th[PUSH_THREADS];
	pusher p[PUSH_THREADS];
	char path[200], why[300];
	double t0, dt;
	int failed = 0;

	snprintf(path, sizeof(path), "%s/push.db", dir);
	o.path = path;
	if (bar_tsdb_open(&db, &o, why, sizeof(why)) < 0) {
		fprintf(stderr, "tsdb_store: %s\n", why);
		return -1;
	}
	t0 = now();
	for (int i = 0; i < PUSH_THREADS; i++) {
		p[i] = (pusher){db, i * (PUSH_VMS / PUSH_THREADS), 0};
		pthread_create(&th[i], NULL, push_main, &p[i]);
	}
	for (int i = 0; i < PUSH_THREADS; i++) {
		pthread_join(th[i], NULL);
		failed |= p[i].failed;
	}
	dt = now() - t0;
	bar_tsdb_close(db);
	return failed ? -1 : (double)PUSH_VMS * METRICS * SAMPLES / dt;
}

int main(int argc, char **argv)
{
	bar_tsdb_opts o = BAR_TSDB_OPTS_INIT;
	bar_tsdb *db = NULL;
	bar_tsdb_stats st;
	char dir[] = "/tmp/tsdb_store.XXXXXX", path[200], why[300];
	double points = (double)SERIES * SAMPLES, t_app = 0, t_flush, t0, q_ms[3];
	double file_after, file_rolled, chunk_raw;
	int jitter = 0, keep = 0, rc = 1;
	bar_mseries *batch = malloc(BATCH_VMS * METRICS * sizeof(*batch));

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-jitter") && i + 1 < argc)
			jitter = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-nosync"))
			o.sync = 0;
		else if (!strcmp(argv[i], "-keep"))
			keep = 1;
		else {
			fprintf(stderr, "usage: tsdb_store [-jitter MS] [-nosync]\n");
			return 2;
		}
	}
	if (!batch || bench_agent_data_make(&D, VMS, SAMPLES, BASE, VMS, jitter, 0) < 0 ||
	    !mkdtemp(dir)) {
		fprintf(stderr, "tsdb_store: out of memory or no scratch directory\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/store.db", dir);
	o.path = path;
	if (bar_tsdb_open(&db, &o, why, sizeof(why)) < 0) {
		fprintf(stderr, "tsdb_store: %s\n", why);
		goto done;
	}
	fprintf(stderr, "tsdb_store: %d series x %d samples, batches of %d points%s\n", SERIES,
	        SAMPLES, BATCH_VMS * METRICS * BATCH_SAMPLES, o.sync ? ", log synced" : "");
	for (int i0 = 0; i0 < SAMPLES; i0 += BATCH_SAMPLES)
		for (int v0 = 0; v0 < VMS; v0 += BATCH_VMS) {
			size_t n = 0;
			for (int v = v0; v < v0 + BATCH_VMS; v++)
				for (int m = 0; m < METRICS; m++) {
					bench_agent_data_slice(&batch[n++], &D, (size_t)(v * METRICS + m), 1, i0,
					                       BATCH_SAMPLES);
				}
			t0 = now();
			if (bar_tsdb_append(db, batch, n, NULL, why, sizeof(why)) < 0) {
				fprintf(stderr, "tsdb_store: append: %s\n", why);
				goto done;
			}
			t_app += now() - t0;
		}
	t0 = now();
	if (bar_tsdb_flush(db, why, sizeof(why)) < 0) {
		fprintf(stderr, "tsdb_store: flush: %s\n", why);
		goto done;
	}
	t_flush = now() - t0;
	bar_tsdb_stats_get(db, &st);
	file_after = (double)st.file_bytes;
	chunk_raw = (double)st.chunk_bytes;
	fprintf(stderr, "tsdb_store: append %.2f s, flush %.2f s; %llu chunks, %llu chunk bytes, "
	        "%.0f file bytes\n", t_app, t_flush, (unsigned long long)st.chunks[0],
	        (unsigned long long)st.chunk_bytes, file_after);
	if ((double)st.points[BAR_TSDB_RAW] != points) {
		fprintf(stderr, "tsdb_store: %llu points stored, not %.0f\n",
		        (unsigned long long)st.points[BAR_TSDB_RAW], points);
		goto done;
	}
	/* 1 h up to the newest sample, avg per 10 s, one metric on every VM */
	for (int k = 0; k < 3; k++) {
		bar_tsdb_matcher m = {"__name__", "barista_cpu_usage_percent", BAR_TSDB_EQ};
		int64_t end = (BASE + 2000LL * SAMPLES) / 10000 * 10000;
		bar_tsdb_query q = {&m, 1, end - 3600000, end, 10000, BAR_TSDB_AVG, 0};
		bar_tsdb_result r;
		t0 = now();
		if (bar_tsdb_select(&r, db, &q, why, sizeof(why)) < 0) {
			fprintf(stderr, "tsdb_store: select: %s\n", why);
			goto done;
		}
		q_ms[k] = (now() - t0) * 1000;
		if (r.nseries != VMS) {
			fprintf(stderr, "tsdb_store: the query found %zu series\n", r.nseries);
			goto done;
		}
		bar_tsdb_result_free(&r);
	}
	double push = push_rate(&o, dir);
	if (push < 0)
		goto done;
	/* materialise roll-up and coarse buckets of everything */
	t0 = now();
	if (bar_tsdb_rollup_force(db, BASE + 2000LL * SAMPLES + 600000, why, sizeof(why)) < 0 ||
	    bar_tsdb_flush(db, why, sizeof(why)) < 0) {
		fprintf(stderr, "tsdb_store: roll-up: %s\n", why);
		goto done;
	}
	bar_tsdb_stats_get(db, &st);
	file_rolled = (double)st.file_bytes;
	fprintf(stderr, "tsdb_store: roll-ups %.2f s: %llu rollup rows, %llu coarse rows, %.0f chunk "
	        "bytes\n", now() - t0, (unsigned long long)st.points[1],
	        (unsigned long long)st.points[2], (double)st.chunk_bytes - chunk_raw);
	for (int a = 0; a < 3; a++) /* the median */
		for (int b = a + 1; b < 3; b++)
			if (q_ms[b] < q_ms[a]) {
				double x = q_ms[a];
				q_ms[a] = q_ms[b];
				q_ms[b] = x;
			}
	printf("append_pts_s=%.0f append_flush_pts_s=%.0f bytes_per_point=%.3f "
	       "raw_bytes_per_point=%.3f label_bytes_per_point=%.3f rollup_bytes_per_point=%.3f "
	       "query_ms=%.1f push100_pts_s=%.0f\n",
	       points / t_app, points / (t_app + t_flush), file_after / points,
	       chunk_raw / points, (double)D.label_bytes / points,
	       (file_rolled - file_after) / points, q_ms[1], push);
	rc = 0;
done:
	bar_tsdb_close(db);
	if (keep)
		fprintf(stderr, "tsdb_store: kept %s\n", dir);
	else {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "tsdb_store: cannot remove %s\n", dir);
	}
	bench_agent_data_free(&D);
	free(batch);
	return rc;
}
