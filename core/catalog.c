/*
 * catalog.c - reading and answering from the drivers' catalogues
 * (catalog.h).  Each driver's file is read and checked once, on first use,
 * and kept for the process: a few hundred kilobytes at most.
 */
#include "catalog.h"
#include "error.h"
#include "util.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DRIVERS 32

typedef struct entry {
	char *driver;
	json_t *doc;      /* NULL when absent or malformed */
	bar_error error;  /* why doc is NULL */
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *search_path;
static entry entries[MAX_DRIVERS];
static size_t n_entries;

static char *default_path(void)
{
	const char *env = getenv("BARISTA_PLUGIN_PATH");

	if (env && *env)
		return bar_printf("%s:%s:%s", env, BAR_PLUGIN_BUILD_DIR, BAR_PLUGIN_INSTALL_DIR);
	return bar_printf("%s:%s", BAR_PLUGIN_BUILD_DIR, BAR_PLUGIN_INSTALL_DIR);
}

static void forget(void)
{
	for (size_t i = 0; i < n_entries; i++) {
		free(entries[i].driver);
		json_decref(entries[i].doc);
	}
	n_entries = 0;
}

void bar_catalog_set_path(const char *path)
{
	pthread_mutex_lock(&mu);
	free(search_path);
	search_path = path ? bar_strdup(path) : NULL;
	forget();
	pthread_mutex_unlock(&mu);
}

static const char *path_locked(void)
{
	if (!search_path)
		search_path = default_path();
	return search_path;
}

/* The checks a catalogue must pass to be used: the shapes later code reads
 * without looking twice. */
static int check_doc(const char *file, const json_t *doc, const char *driver)
{
	const json_t *regions = json_object_get(doc, "regions");
	const json_t *specs = json_object_get(doc, "specs");
	const json_t *images = json_object_get(doc, "images");
	const char *d = json_string_value(json_object_get(doc, "driver"));
	size_t i;
	json_t *x;

	if (!json_is_object(doc))
		return bar_error_set("catalogue %s is not a JSON object", file);
	if (!d || strcmp(d, driver) != 0)
		return bar_error_set("catalogue %s: \"driver\" must be \"%s\"", file, driver);
	if (!json_is_array(regions) || !json_is_array(specs) ||
	    (images && !json_is_array(images)))
		return bar_error_set("catalogue %s: \"regions\" and \"specs\" must be arrays "
		                     "(docs/catalog.md)", file);
	json_array_foreach(regions, i, x) {
		if (!json_string_value(json_object_get(x, "name")))
			return bar_error_set("catalogue %s: regions[%zu] has no name", file, i);
		if ((json_object_get(x, "lat") && !json_is_number(json_object_get(x, "lat"))) ||
		    (json_object_get(x, "lon") && !json_is_number(json_object_get(x, "lon"))))
			return bar_error_set("catalogue %s: regions[%zu]: lat and lon must be numbers",
			                     file, i);
	}
	json_array_foreach(specs, i, x) {
		const json_t *price = json_object_get(x, "price");
		const char *k;
		json_t *v;

		if (!json_string_value(json_object_get(x, "name")) ||
		    !json_is_integer(json_object_get(x, "vcpu")) ||
		    !json_is_integer(json_object_get(x, "memoryMiB")))
			return bar_error_set("catalogue %s: specs[%zu] needs name, vcpu and memoryMiB",
			                     file, i);
		if (price && !json_is_object(price))
			return bar_error_set("catalogue %s: specs[%zu].price must map regions to "
			                     "hourly prices", file, i);
		json_object_foreach((json_t *)price, k, v) {
			if (!json_is_number(v) || json_number_value(v) < 0)
				return bar_error_set("catalogue %s: specs[%zu].price.%s must be a "
				                     "number >= 0", file, i, k);
		}
	}
	json_array_foreach(images, i, x) {
		if (!json_string_value(json_object_get(x, "name")))
			return bar_error_set("catalogue %s: images[%zu] has no name", file, i);
	}
	return 0;
}

static entry *load_locked(const char *driver)
{
	char *dirs, *save = NULL;
	entry *e;

	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(entries[i].driver, driver) == 0)
			return &entries[i];
	if (n_entries == MAX_DRIVERS)
		return NULL;
	e = &entries[n_entries++];
	memset(e, 0, sizeof(*e));
	e->driver = bar_strdup(driver);
	dirs = bar_strdup(path_locked());
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *file = bar_printf("%s/%s.catalog.json", d, driver);
		json_error_t jerr;

		if (access(file, F_OK) == 0) {
			e->doc = json_load_file(file, 0, &jerr);
			if (!e->doc)
				bar_error_set("catalogue %s:%d:%d: %s", file, jerr.line, jerr.column,
				              jerr.text);
			else if (check_doc(file, e->doc, driver) < 0) {
				json_decref(e->doc);
				e->doc = NULL;
			}
			if (!e->doc)
				bar_error_save(&e->error);
			free(file);
			break;
		}
		free(file);
	}
	if (!e->doc && !e->error.code && !e->error.message[0]) {
		bar_error_setc(BAR_ENOTFOUND, "no catalogue for driver \"%s\" (looked for "
		               "%s.catalog.json in %s)", driver, driver, path_locked());
		bar_error_save(&e->error);
	}
	free(dirs);
	return e;
}

const json_t *bar_catalog_get(const char *driver)
{
	const json_t *doc = NULL;
	entry *e;

	pthread_mutex_lock(&mu);
	e = load_locked(driver);
	if (e && e->doc)
		doc = e->doc;
	else if (e)
		bar_error_restore(&e->error);
	else
		bar_error_set("too many catalogues");
	pthread_mutex_unlock(&mu);
	return doc;
}

json_t *bar_catalog_drivers(void)
{
	json_t *out = json_array();
	char *dirs, *save = NULL;

	pthread_mutex_lock(&mu);
	dirs = bar_strdup(path_locked());
	pthread_mutex_unlock(&mu);
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		DIR *dir = opendir(d);
		struct dirent *de;

		while (dir && (de = readdir(dir))) {
			size_t n = strlen(de->d_name), k;
			char name[128];
			int seen = 0;
			json_t *x;

			if (n <= 13 || strcmp(de->d_name + n - 13, ".catalog.json") != 0 || n - 13 >= 128)
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(n - 13), de->d_name);
			json_array_foreach(out, k, x) {
				seen |= strcmp(json_string_value(x), name) == 0;
			}
			if (!seen)
				json_array_append_new(out, json_string(name));
		}
		if (dir)
			closedir(dir);
	}
	free(dirs);
	/* sorted, for stable output */
	for (size_t i = 1; i < json_array_size(out); i++)
		for (size_t j = i; j > 0 && strcmp(json_string_value(json_array_get(out, j - 1)),
		                                   json_string_value(json_array_get(out, j))) > 0;
		     j--) {
			json_t *a = json_incref(json_array_get(out, j - 1));

			json_array_set(out, j - 1, json_array_get(out, j));
			json_array_set_new(out, j, a);
		}
	return out;
}

/* The entry named `name` of the array `key`; with `star`, a "*" entry when
 * no exact one. */
static const json_t *find(const char *driver, const char *key, const char *name, int star)
{
	const json_t *doc = bar_catalog_get(driver), *any = NULL;
	size_t i;
	json_t *x;

	if (!doc || !name)
		return NULL;
	json_array_foreach(json_object_get(doc, key), i, x) {
		const char *n = json_string_value(json_object_get(x, "name"));

		if (strcmp(n, name) == 0)
			return x;
		if (star && strcmp(n, "*") == 0)
			any = x;
	}
	return any;
}

const json_t *bar_catalog_region(const char *driver, const char *region)
{
	return find(driver, "regions", region, 1);
}

const json_t *bar_catalog_spec(const char *driver, const char *name)
{
	return find(driver, "specs", name, 0);
}

const json_t *bar_catalog_image(const char *driver, const char *name)
{
	return find(driver, "images", name, 0);
}

static int coords_of(const json_t *r, double *lat, double *lon)
{
	if (!r || !json_is_number(json_object_get(r, "lat")) ||
	    !json_is_number(json_object_get(r, "lon")))
		return BAR_ENOTFOUND;
	*lat = json_number_value(json_object_get(r, "lat"));
	*lon = json_number_value(json_object_get(r, "lon"));
	return 0;
}

int bar_catalog_coords(const char *driver, const char *region, double *lat, double *lon)
{
	json_t *drivers;
	size_t i;
	json_t *d;
	int rc = BAR_ENOTFOUND;

	if (coords_of(find(driver, "regions", region, 0), lat, lon) == 0)
		return 0;
	drivers = bar_catalog_drivers();
	json_array_foreach(drivers, i, d) {
		if (rc != 0 && strcmp(json_string_value(d), driver) != 0)
			rc = coords_of(find(json_string_value(d), "regions", region, 0), lat, lon);
	}
	json_decref(drivers);
	return rc;
}

int bar_catalog_price(const char *driver, const char *region, const char *spec, double *hourly,
                      const char **currency)
{
	const json_t *s = bar_catalog_spec(driver, spec);
	const json_t *price = json_object_get(s, "price");
	const json_t *v = json_object_get(price, region);

	if (!v)
		v = json_object_get(price, "*");
	if (!json_is_number(v))
		return BAR_ENOTFOUND;
	*hourly = json_number_value(v);
	if (currency) {
		const char *c = json_string_value(json_object_get(bar_catalog_get(driver), "currency"));

		*currency = c ? c : "USD";
	}
	return 0;
}

const char *bar_catalog_spec_near(const char *driver, const char *name)
{
	const json_t *doc = bar_catalog_get(driver);
	const char *best = NULL;
	size_t dist = 4, i;
	json_t *x;

	json_array_foreach(json_object_get(doc, "specs"), i, x) {
		const char *n = json_string_value(json_object_get(x, "name"));
		size_t d = bar_edit_distance(n, name);

		if (d < dist) {
			dist = d;
			best = n;
		}
	}
	return best;
}
