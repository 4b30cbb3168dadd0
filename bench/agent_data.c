/*
 * agent_data.c - the monitoring benchmarks' generated agent data
 * (agent_data.h).
 */
#include "agent_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PCT, RATE, IDLE_RATE, PAGES, CONST, COUNT, LOAD };
static const struct {
	const char *name, *extra, *extra_value;
	int kind;
} metrics[BENCH_AGENT_METRICS] = {
        {"barista_cpu_usage_percent", NULL, NULL, PCT},
        {"barista_cpu_user_percent", NULL, NULL, PCT},
        {"barista_cpu_system_percent", NULL, NULL, PCT},
        {"barista_cpu_iowait_percent", NULL, NULL, PCT},
        {"barista_cpu_idle_percent", NULL, NULL, PCT},
        {"barista_cpus", NULL, NULL, CONST},
        {"barista_memory_total_bytes", NULL, NULL, CONST},
        {"barista_memory_used_bytes", NULL, NULL, PAGES},
        {"barista_memory_usage_percent", NULL, NULL, PCT},
        {"barista_filesystem_size_bytes", "device", "/dev/vda1", CONST},
        {"barista_filesystem_used_bytes", "device", "/dev/vda1", PAGES},
        {"barista_disk_read_bytes_per_second", "device", "vda", IDLE_RATE},
        {"barista_disk_written_bytes_per_second", "device", "vda", IDLE_RATE},
        {"barista_disk_busy_percent", "device", "vda", PCT},
        {"barista_network_receive_bytes_per_second", "interface", "eth0", RATE},
        {"barista_network_transmit_bytes_per_second", "interface", "eth0", RATE},
        {"barista_processes", NULL, NULL, COUNT},
        {"barista_processes_running", NULL, NULL, COUNT},
        {"barista_load1", NULL, NULL, LOAD},
        {"barista_swap_total_bytes", NULL, NULL, CONST},
};

typedef struct mem {
	bar_mlabel *labels;   /* 5 per series */
	bar_msample *samples; /* samples per series */
	char (*vm)[16], (*mci)[16];
} mem;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double uniform(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* Sample i of a series of metric m: level is the series' wandering state,
 * c its constant, x its previous value. */
static double value(int m, int i, double *level, double c, double x, uint64_t *s)
{
	switch (metrics[m].kind) {
	case PCT: /* a random walk, steps of up to 1 point */
		*level += (uniform(s) - 0.5) * 0.02;
		*level = *level < 0 ? 0 : *level > 1 ? 1 : *level;
		return round(*level * 10000) / 100;
	case RATE: /* noisy around a drifting level */
		*level += (uniform(s) - 0.5) * 0.02;
		*level = *level < 0.05 ? 0.05 : *level > 1 ? 1 : *level;
		return round(*level * 2e5 * (0.8 + 0.4 * uniform(s)));
	case IDLE_RATE: /* mostly idle, bursts of writes */
		return rnd(s) % 10 < 8 ? 0 : (double)(4096 * (rnd(s) % 256));
	case PAGES:
		if (rnd(s) % 4 == 0)
			*level += (uniform(s) - 0.5) * 0.001;
		return round(*level * 8e9 / 4096) * 4096;
	case CONST: /* CPUs, swap (none), totals in GiB */
		return metrics[m].name[8] == 'c' ? c : metrics[m].name[8] == 's' ? 0 : c * 1073741824.0;
	case COUNT:
		if (i == 0)
			return round(80 + *level * 100);
		return rnd(s) % 10 == 0 ? x + (double)(rnd(s) % 3) - 1 : x;
	default: /* load: 2 decimals, slow */
		*level += (uniform(s) - 0.5) * 0.004;
		*level = *level < 0 ? 0 : *level;
		return round(*level * 400) / 100;
	}
}

int bench_agent_data_make(bench_agent_data *out, int vms, int samples, int64_t base_ms,
                          int vms_per_mci, int jitter_ms, uint64_t seed)
{
	size_t n = (size_t)vms * BENCH_AGENT_METRICS;
	mem *m = calloc(1, sizeof(*m));
	uint64_t st = seed ? seed : 0x2545f4914f6cdd1dULL;

	memset(out, 0, sizeof(*out));
	if (!m || !(m->labels = calloc(n * 5, sizeof(bar_mlabel))) ||
	    !(m->samples = malloc(n * (size_t)samples * sizeof(bar_msample))) ||
	    !(m->vm = calloc((size_t)vms, sizeof(*m->vm))) ||
	    !(m->mci = calloc((size_t)vms, sizeof(*m->mci))) ||
	    !(out->series = calloc(n, sizeof(bar_mseries)))) {
		out->mem_ = m;
		bench_agent_data_free(out);
		return -1;
	}
	out->mem_ = m;
	out->nseries = n;
	out->points = n * (size_t)samples;
	out->vms = vms;
	out->samples = samples;
	for (int vmi = 0; vmi < vms; vmi++) {
		snprintf(m->vm[vmi], sizeof(m->vm[vmi]), "vm-%d", vmi + 1);
		snprintf(m->mci[vmi], sizeof(m->mci[vmi]), "mci-%d",
		         vmi / (vms_per_mci > 0 ? vms_per_mci : 1) + 1);
		for (int k = 0; k < BENCH_AGENT_METRICS; k++) {
			size_t s = (size_t)vmi * BENCH_AGENT_METRICS + (size_t)k, nl = 0;
			bar_mlabel *l = m->labels + s * 5;
			bar_msample *x = m->samples + s * (size_t)samples;
			double level = uniform(&st), c = (double)(1 + rnd(&st) % 16), v = 0;

			/* sorted by name: __name__, device|interface, mci, ns, vm */
			l[nl++] = (bar_mlabel){"__name__", metrics[k].name};
			if (metrics[k].extra)
				l[nl++] = (bar_mlabel){metrics[k].extra, metrics[k].extra_value};
			l[nl++] = (bar_mlabel){"mci", m->mci[vmi]};
			l[nl++] = (bar_mlabel){"ns", "bench"};
			l[nl++] = (bar_mlabel){"vm", m->vm[vmi]};
			for (size_t j = 0; j < nl; j++)
				out->label_bytes += strlen(l[j].name) + strlen(l[j].value) + 2;
			for (int i = 0; i < samples; i++) {
				int64_t off = jitter_ms > 0 ? (int64_t)(rnd(&st) % (uint64_t)(jitter_ms + 1)) : 0;
				v = value(k, i, &level, c, v, &st);
				x[i] = (bar_msample){base_ms + 2000 * (int64_t)i + off, v};
			}
			out->series[s] = (bar_mseries){l, nl, x, (size_t)samples};
		}
	}
	return 0;
}

void bench_agent_data_free(bench_agent_data *d)
{
	mem *m = d ? d->mem_ : NULL;

	if (m) {
		free(m->labels);
		free(m->samples);
		free(m->vm);
		free(m->mci);
		free(m);
	}
	if (d) {
		free(d->series);
		memset(d, 0, sizeof(*d));
	}
}

const char *bench_agent_data_mci(const bench_agent_data *d, int v)
{
	return ((mem *)d->mem_)->mci[v];
}

void bench_agent_data_slice(bar_mseries *out, const bench_agent_data *d, size_t first, size_t n,
                            int from, int count)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = d->series[first + i];
		out[i].samples += from;
		out[i].nsamples = (size_t)count;
	}
}
