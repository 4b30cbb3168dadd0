/*
 * catalog_rank.c - ranking the instance types of the drivers' catalogues
 * (catalog.h) by cost, location and a caller's performance figures: shared
 * by `barista recommend` (planner/recommend.c, which adds the measured
 * benchmarks) and by the spec loader, which chooses the instance types of
 * an MCApp's requirements (spec_derive.c) and cannot reach the planner.
 *
 * Each score is in [0, 1], 1 the best among the candidates: cost = the
 * cheapest price over this price; location = 1 - distance / 20,015 km
 * (half the Earth's circumference: the farthest two places can be);
 * performance = the caller's figure over the best one, or 0.5 (neutral)
 * for a type without one.  The total is the weighted mean; ties go to the
 * cheaper, then the smaller type, then names, so a ranking is always the
 * same for the same catalogues.
 */
#include "catalog.h"
#include "error.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EARTH_RADIUS_KM 6371.0
#define HALF_CIRCUMFERENCE_KM 20015.0

double bar_geo_distance_km(double lat1, double lon1, double lat2, double lon2)
{
	const double r = M_PI / 180.0;
	double dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
	double a = sin(dlat / 2) * sin(dlat / 2) +
	           cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2);

	return 2 * EARTH_RADIUS_KM * atan2(sqrt(a), sqrt(1 - a));
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* One candidate before scoring. */
typedef struct cand {
	const char *driver, *region, *spec;
	const json_t *entry; /* the catalogue's spec */
	double price;
	const char *currency;
	double dist_km;      /* -1: unknown */
	double perf;         /* measured CPU MB/s, -1: never measured */
	double score, s_cost, s_loc, s_perf;
} cand;

static int by_score(const void *pa, const void *pb)
{
	const cand *a = pa, *b = pb;
	int c;

	if (a->score != b->score)
		return a->score < b->score ? 1 : -1;
	if (a->price != b->price)
		return a->price < b->price ? -1 : 1;
	/* then the smallest that fits: nothing is gained by more */
	c = (int)(json_integer_value(json_object_get(a->entry, "vcpu")) -
	          json_integer_value(json_object_get(b->entry, "vcpu")));
	if (!c)
		c = (int)(json_integer_value(json_object_get(a->entry, "memoryMiB")) -
		          json_integer_value(json_object_get(b->entry, "memoryMiB")));
	if (c)
		return c;
	c = strcmp(a->driver, b->driver);
	if (!c)
		c = strcmp(a->region, b->region);
	return c ? c : strcmp(a->spec, b->spec);
}

static int fits(const bar_catalog_rank_opts *o, const json_t *s)
{
	const char *arch = jstr(s, "arch");

	return json_integer_value(json_object_get(s, "vcpu")) >= o->min_vcpu &&
	       json_integer_value(json_object_get(s, "memoryMiB")) >= o->min_memory_mib &&
	       (!o->max_vcpu || json_integer_value(json_object_get(s, "vcpu")) <= o->max_vcpu) &&
	       (!o->arch || !*arch || strcmp(o->arch, arch) == 0) &&
	       (!o->gpu || json_integer_value(json_object_get(s, "gpu")) > 0);
}

/* The candidates of one driver: every type that fits in every region of
 * its catalogue (or those of o->regions); a "*" entry (a driver that serves
 * any region name) stands for each region of o->regions, and for none when
 * no region is named. */
static void add_region(const bar_catalog_rank_opts *o, const char *driver, const char *region,
                       const json_t *doc, cand **v, size_t *n, size_t *cap)
{
	size_t j;
	json_t *s;

	json_array_foreach(json_object_get(doc, "specs"), j, s) {
		cand c = {driver, region, jstr(s, "name"), s, 0, NULL, -1, -1, 0, 0, 0, 0};
		double lat, lon;

		if (!fits(o, s) || bar_catalog_price(driver, region, c.spec, &c.price, &c.currency) < 0 ||
		    (o->max_price > 0 && c.price > o->max_price))
			continue;
		if (o->has_near && bar_catalog_coords(driver, region, &lat, &lon) == 0)
			c.dist_km = bar_geo_distance_km(o->near_lat, o->near_lon, lat, lon);
		if (o->perf)
			c.perf = o->perf(o->perf_ctx, driver, region, c.spec);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = bar_realloc(*v, *cap * sizeof(**v));
		}
		(*v)[(*n)++] = c;
	}
}

static void add_driver(const bar_catalog_rank_opts *o, const char *driver, cand **v, size_t *n,
                       size_t *cap)
{
	const json_t *doc = bar_catalog_get(driver);
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(doc, "regions"), i, r) {
		const char *name = jstr(r, "name");
		int star = strcmp(name, "*") == 0;
		size_t n_names = star ? o->n_regions : 1;

		for (size_t q = 0; q < n_names; q++) {
			const char *region = star ? o->regions[q] : name;
			int listed = star || !o->n_regions;

			for (size_t k = 0; !listed && k < o->n_regions; k++)
				listed = strcmp(o->regions[k], region) == 0;
			if (listed)
				add_region(o, driver, region, doc, v, n, cap);
		}
	}
}

static void score(const bar_catalog_rank_opts *o, cand *v, size_t n)
{
	double wc = o->w_cost, wl = o->has_near ? o->w_location : 0, wp = o->w_performance;
	double sum = wc + wl + wp, cheapest = -1, best_perf = 0;

	if (sum <= 0)
		wc = sum = 1;
	for (size_t i = 0; i < n; i++) {
		if (cheapest < 0 || v[i].price < cheapest)
			cheapest = v[i].price;
		if (v[i].perf > best_perf)
			best_perf = v[i].perf;
	}
	for (size_t i = 0; i < n; i++) {
		cand *c = &v[i];

		c->s_cost = c->price > 0 ? cheapest / c->price : 1.0;
		c->s_loc = c->dist_km < 0 ? 0 : 1.0 - c->dist_km / HALF_CIRCUMFERENCE_KM;
		c->s_perf = c->perf < 0 || best_perf <= 0 ? 0.5 : c->perf / best_perf;
		c->score = (wc * c->s_cost + wl * c->s_loc + wp * c->s_perf) / sum;
	}
}

int bar_catalog_rank(json_t **out, const bar_catalog_rank_opts *o)
{
	cand *v = NULL;
	size_t n = 0, cap = 0, limit;
	json_t *drivers = NULL, *list;
	size_t i;
	json_t *d;

	if (o->n_drivers) {
		for (size_t k = 0; k < o->n_drivers; k++) {
			if (!bar_catalog_get(o->drivers[k]))
				return bar_error_get()->code ? bar_error_get()->code : -1;
			add_driver(o, o->drivers[k], &v, &n, &cap);
		}
	} else {
		drivers = bar_catalog_drivers();
		json_array_foreach(drivers, i, d) {
			add_driver(o, json_string_value(d), &v, &n, &cap);
		}
	}
	score(o, v, n);
	if (n)
		qsort(v, n, sizeof(*v), by_score);
	limit = o->limit ? o->limit : 10;
	list = json_array();
	for (size_t k = 0; k < n && k < limit; k++) {
		const cand *c = &v[k];
		json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:O, s:O, s:f, s:s, s:f, s:{s:f, s:f, s:f}}",
		                      "rank", (int)k + 1, "driver", c->driver, "region", c->region,
		                      "spec", c->spec, "vcpu", json_object_get(c->entry, "vcpu"),
		                      "memoryMiB", json_object_get(c->entry, "memoryMiB"),
		                      "hourly", c->price, "currency", c->currency, "score",
		                      round(c->score * 1e4) / 1e4, "scores", "cost",
		                      round(c->s_cost * 1e4) / 1e4, "location",
		                      round(c->s_loc * 1e4) / 1e4, "performance",
		                      round(c->s_perf * 1e4) / 1e4);
		char *line = bar_printf("%s+%s+%s", c->driver, c->region, c->spec);

		json_object_set_new(e, "line", json_string(line));
		free(line);
		json_object_set_new(e, "distance_km",
		                    c->dist_km < 0 ? json_null() : json_real(round(c->dist_km)));
		json_object_set_new(e, "cpu_mbps", c->perf < 0 ? json_null() : json_real(c->perf));
		json_array_append_new(list, e);
	}
	*out = json_pack("{s:I, s:o}", "candidates", (json_int_t)n, "ranked", list);
	free(v);
	json_decref(drivers);
	return 0;
}
