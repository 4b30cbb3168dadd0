/*
 * recommend.c - ranking instance types across drivers and regions
 * (CB-Tumblebug's spec recommendation): from the drivers' catalogues
 * (core/catalog.h), filtered by the size asked for, scored by cost,
 * location (great-circle distance to given coordinates) and measured
 * performance (`barista mci benchmark`, bar_bench_*), with weights.
 *
 * The ranking itself is core/catalog_rank.c (the spec loader uses it too,
 * for MCApp requirements); this adds the measured CPU throughput as the
 * performance figure.
 */
#include "planner.h"
#include "catalog.h"
#include "error.h"
#include "util.h"


static double bench_cpu(const void *ctx, const char *driver, const char *region, const char *spec)
{
	return bar_bench_cpu(ctx, driver, region, spec);
}

int bar_recommend(json_t **out, const bar_recommend_opts *o)
{
	bar_catalog_rank_opts r = BAR_CATALOG_RANK_OPTS_INIT;

	r.min_vcpu = o->min_vcpu;
	r.max_vcpu = o->max_vcpu;
	r.min_memory_mib = o->min_memory_mib;
	r.arch = o->arch;
	r.gpu = o->gpu;
	r.max_price = o->max_price;
	r.drivers = o->drivers;
	r.n_drivers = o->n_drivers;
	r.regions = o->regions;
	r.n_regions = o->n_regions;
	r.has_near = o->has_near;
	r.near_lat = o->near_lat;
	r.near_lon = o->near_lon;
	r.w_cost = o->w_cost;
	r.w_location = o->w_location;
	r.w_performance = o->w_performance;
	if (o->bench) {
		r.perf = bench_cpu;
		r.perf_ctx = o->bench;
	}
	r.limit = o->limit;
	return bar_catalog_rank(out, &r);
}
