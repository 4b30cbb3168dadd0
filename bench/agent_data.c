/*
 * agent_data.c - the monitoring benchmarks' generated agent data
 * (agent_data.h).
 */
#include "agent_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *extra, *extra_value;
	int kind; /* 0 percent, 1 byte rate, 2 count, 3 load, 4 bytes */
} metrics[BENCH_AGENT_METRICS] = {
        {"barista_cpu_usage_percent", NULL, NULL, 0},
        {"barista_cpu_user_percent", NULL, NULL, 0},
        {"barista_cpu_system_percent", NULL, NULL, 0},
        {"barista_cpu_iowait_percent", NULL, NULL, 0},
        {"barista_cpu_idle_percent", NULL, NULL, 0},
        {"barista_memory_used_bytes", NULL, NULL, 4},
        {"barista_memory_available_bytes", NULL, NULL, 4},
        {"barista_memory_usage_percent", NULL, NULL, 0},
        {"barista_filesystem_used_bytes", "device", "/dev/vda1", 4},
        {"barista_filesystem_usage_percent", "device", "/dev/vda1", 0},
        {"barista_disk_read_bytes_per_second", "device", "vda", 1},
        {"barista_disk_written_bytes_per_second", "device", "vda", 1},
        {"barista_disk_busy_percent", "device", "vda", 0},
        {"barista_network_receive_bytes_per_second", "interface", "eth0", 1},
        {"barista_network_transmit_bytes_per_second", "interface", "eth0", 1},
        {"barista_network_receive_packets_per_second", "interface", "eth0", 1},
        {"barista_processes", NULL, NULL, 2},
        {"barista_processes_running", NULL, NULL, 2},
        {"barista_load1", NULL, NULL, 3},
        {"barista_load5", NULL, NULL, 3},
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

static double value(int kind, double level, uint64_t *s)
{
	switch (kind) {
	case 0:
		return round(level * 10000) / 100;
	case 1:
		return round(level * 5e6 * uniform(s));
	case 2:
		return round(80 + level * 40);
	case 3:
		return round(level * 400) / 100;
	default:
		return round(level * 4e9 / 4096) * 4096;
	}
}

int bench_agent_data_make(bench_agent_data *out, int vms, int samples, int64_t base_ms,
                          int vms_per_mci, uint64_t seed)
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
	for (int v = 0; v < vms; v++) {
		snprintf(m->vm[v], sizeof(m->vm[v]), "vm-%d", v + 1);
		snprintf(m->mci[v], sizeof(m->mci[v]), "mci-%d", v / (vms_per_mci > 0 ? vms_per_mci : 1) + 1);
		for (int k = 0; k < BENCH_AGENT_METRICS; k++) {
			size_t s = (size_t)v * BENCH_AGENT_METRICS + (size_t)k, nl = 0;
			bar_mlabel *l = m->labels + s * 5;
			bar_msample *x = m->samples + s * (size_t)samples;
			double level = uniform(&st);

			/* sorted by name: __name__, device|interface, mci, ns, vm */
			l[nl++] = (bar_mlabel){"__name__", metrics[k].name};
			if (metrics[k].extra)
				l[nl++] = (bar_mlabel){metrics[k].extra, metrics[k].extra_value};
			l[nl++] = (bar_mlabel){"mci", m->mci[v]};
			l[nl++] = (bar_mlabel){"ns", "bench"};
			l[nl++] = (bar_mlabel){"vm", m->vm[v]};
			for (int i = 0; i < samples; i++) {
				level += (uniform(&st) - 0.5) * 0.05;
				level = level < 0 ? 0 : level > 1 ? 1 : level;
				x[i] = (bar_msample){base_ms + 2000 * (int64_t)i + (int64_t)(rnd(&st) % 7),
				                     value(metrics[k].kind, level, &st)};
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
