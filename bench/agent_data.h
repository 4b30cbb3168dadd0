/*
 * agent_data.h - generated data of the kind barista-agent sends, shared by
 * the monitoring benchmarks (wire_codec, tsdb_store, collector_ingest) so
 * each measures the same series: per VM 20 metrics with labels __name__,
 * ns, mci, vm (+ device or interface), a sample every 2 s on the agent's
 * collection tick (barista-agent stamps the tick; jitter_ms > 0 moves each
 * sample up to that many ms off it, as an agent stamping its read time
 * would), values as the agent rounds them: CPU and other percents a random
 * walk with 2 decimals, byte rates as whole numbers (network noisy around a
 * drifting level, disks mostly idle with bursts), memory and filesystem
 * bytes in pages, gauges mostly constant (CPUs, totals), process counts,
 * load averages.  Deterministic for a seed.
 */
#ifndef BAR_BENCH_AGENT_DATA_H
#define BAR_BENCH_AGENT_DATA_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

enum { BENCH_AGENT_METRICS = 20 };

typedef struct bench_agent_data {
	bar_mseries *series;  /* vms * BENCH_AGENT_METRICS, VM-major */
	size_t nseries;
	size_t points;        /* over all series */
	int vms, samples;
	size_t label_bytes;   /* the label text over all series (name=value) */
	void *mem_;           /* private */
} bench_agent_data;

/*
 * Make vms x 20 series of `samples` samples each, the first at base_ms.
 * VM v is named "vm-<v+1>" in MCI "mci-<v / vms_per_mci + 1>" of
 * namespace "bench".  0, or -1 without memory.
 */
int bench_agent_data_make(bench_agent_data *out, int vms, int samples, int64_t base_ms,
                          int vms_per_mci, int jitter_ms, uint64_t seed);
void bench_agent_data_free(bench_agent_data *d);

/* The MCI name of VM v ("mci-3"), borrowed from d. */
const char *bench_agent_data_mci(const bench_agent_data *d, int v);

/* Series [first, first + n) with samples [from, from + count) of each: a
 * view into d (nothing copied) into out[n]. */
void bench_agent_data_slice(bar_mseries *out, const bench_agent_data *d, size_t first, size_t n,
                            int from, int count);

#endif
