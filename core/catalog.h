/*
 * catalog.h - the drivers' catalogues (docs/catalog.md): regions with
 * coordinates, instance types with size and price, common images, read from
 * the `<driver>.catalog.json` files that lie beside the provider plugins.
 *
 * Used by the spec loader (MCI groups written in one line:
 * `spec: aws+ap-northeast-2+t3.small`), by the planner (the cost a plan
 * adds and removes), by `barista recommend` and `barista catalog`, and later
 * by the dashboard's map.  The files are read once per process, when first
 * needed, from the search path set with bar_catalog_set_path (the plugin
 * search path); a file that is not valid is an error naming it.
 *
 * A catalogue may use "*" as a region name and as a price key: the local
 * and sim drivers serve any region name.
 */
#ifndef BAR_CATALOG_H
#define BAR_CATALOG_H

#include <jansson.h>

/* Where to look for `<driver>.catalog.json` (colon-separated directories);
 * NULL: BARISTA_PLUGIN_PATH, then the build and install plugin folders.
 * Forgets catalogues read before. */
void bar_catalog_set_path(const char *search_path);

/*
 * The catalogue of `driver`: the whole document (borrowed, valid for the
 * process), or NULL with the last error set (BAR_ENOTFOUND when there is
 * none; another code when the file is malformed).  Thread-safe.
 */
const json_t *bar_catalog_get(const char *driver);

/* Every driver with a catalogue, as a new JSON array of names (sorted). */
json_t *bar_catalog_drivers(void);

/* The region entry (name, location, lat, lon, zones) of `driver`; a "*"
 * entry matches any region.  NULL when unknown. */
const json_t *bar_catalog_region(const char *driver, const char *region);

/* Coordinates of a region: from its own driver's catalogue, or else from
 * any catalogue that names the region (the local and sim drivers borrow
 * real regions' names).  Returns 0 or BAR_ENOTFOUND. */
int bar_catalog_coords(const char *driver, const char *region, double *lat, double *lon);

/* The instance type entry `name` of `driver`, or NULL. */
const json_t *bar_catalog_spec(const char *driver, const char *name);

/* The hourly on-demand price of `spec` in `region` (the "*" key as a
 * fallback) and its currency (borrowed).  Returns 0, or BAR_ENOTFOUND when
 * the catalogue has no price there (the type is not offered). */
int bar_catalog_price(const char *driver, const char *region, const char *spec, double *hourly,
                      const char **currency);

/* The image entry `name` of `driver`, or NULL. */
const json_t *bar_catalog_image(const char *driver, const char *name);

/* The spec of `driver` whose name is nearest to `name` (edit distance at
 * most 3), for "did you mean"; NULL if none. */
const char *bar_catalog_spec_near(const char *driver, const char *name);

/* Great-circle distance in km (haversine, mean Earth radius 6,371 km). */
double bar_geo_distance_km(double lat1, double lon1, double lat2, double lon2);

/* A performance figure of a type (higher is better), or -1 when unknown. */
typedef double (*bar_catalog_perf_fn)(const void *ctx, const char *driver, const char *region,
                                      const char *spec);

typedef struct bar_catalog_rank_opts {
	unsigned version;
	json_int_t min_vcpu, max_vcpu, min_memory_mib; /* 0: any */
	const char *arch;        /* "x86_64", "arm64"; NULL: any */
	int gpu;                 /* only types with a GPU */
	double max_price;        /* hourly; 0: any */
	const char *const *drivers; /* only these; none: every catalogue */
	size_t n_drivers;
	const char *const *regions; /* only these region names; none: all */
	size_t n_regions;
	int has_near;            /* score by the distance to near_lat/near_lon */
	double near_lat, near_lon;
	double w_cost, w_location, w_performance; /* weights (normalised) */
	bar_catalog_perf_fn perf; /* performance figures, or NULL */
	const void *perf_ctx;
	size_t limit;            /* how many to return; 0: 10 */
} bar_catalog_rank_opts;
#define BAR_CATALOG_RANK_OPTS_INIT { .version = 1, .w_cost = 0.5, .w_location = 0.3, \
	                             .w_performance = 0.2 }

/*
 * Rank the instance types of the drivers' catalogues that fit o (a "*"
 * region stands for each of o->regions, and for none when none is named):
 * *out (the caller's) is {"candidates": N, "ranked": [{rank, driver,
 * region, spec, vcpu, memoryMiB, hourly, currency, distance_km, cpu_mbps,
 * score, scores: {cost, location, performance}, line:
 * "driver+region+spec"}]}, best first, ties broken by price, size and
 * names.  Returns 0, or the error of a named driver without a catalogue.
 */
int bar_catalog_rank(json_t **out, const bar_catalog_rank_opts *o);

#endif
