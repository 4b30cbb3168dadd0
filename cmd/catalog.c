/*
 * catalog.c - `barista catalog list [DRIVER]` shows what the drivers'
 * catalogues hold (core/catalog.h); `barista catalog refresh CONNECTION`
 * asks the connection's cloud what it offers today (the driver's catalog()
 * callback) and reports how the shipped catalogue differs, optionally
 * writing a refreshed one (-out) whose prices are kept from the shipped
 * file (clouds' instance APIs do not give prices).
 */
#include "cmd.h"
#include "catalog.h"
#include "error.h"
#include "host.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista catalog list [DRIVER] [-json]\n"
    "       barista catalog refresh CONNECTION [DIR] [-out FILE] [-json]\n"
    "list: the drivers' catalogues (regions with coordinates, instance types with\n"
    "size and on-demand price, images), or one driver's in full.  refresh: ask\n"
    "CONNECTION's cloud for its regions, instance types and images, and show where the\n"
    "shipped catalogue differs; -out FILE writes a catalogue with the cloud's lists\n"
    "and the shipped prices (install it beside the plugin as DRIVER.catalog.json).\n"
    "  -json                print as JSON\n"
    "  -plugin-path DIRS    where the plugins and their catalogues are\n";

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));

	puts(s);
	free(s);
}

static int list_all(int json)
{
	static const char *const head[] = {"DRIVER", "REGIONS", "TYPES", "IMAGES", "DATE",
	                                   "SOURCE"};
	json_t *drivers = bar_catalog_drivers(), *out = json_array(), *d;
	cmd_table t = CMD_TABLE_INIT(6);
	char (*cells)[3][16] = bar_calloc(json_array_size(drivers) + 1, sizeof(*cells));
	size_t i;

	cmd_table_add(&t, head);
	json_array_foreach(drivers, i, d) {
		const json_t *doc = bar_catalog_get(json_string_value(d));

		if (!doc) {
			fprintf(stderr, "barista: warning: %s\n", bar_error_last());
			continue;
		}
		json_array_append_new(out, json_pack("{s:O, s:I, s:I, s:I, s:s, s:s}", "driver", d,
		                                     "regions", (json_int_t)json_array_size(
		                                         json_object_get(doc, "regions")),
		                                     "specs", (json_int_t)json_array_size(
		                                         json_object_get(doc, "specs")),
		                                     "images", (json_int_t)json_array_size(
		                                         json_object_get(doc, "images")),
		                                     "date", jstr(doc, "date"), "source",
		                                     jstr(doc, "source")));
		snprintf(cells[i][0], 16, "%zu", json_array_size(json_object_get(doc, "regions")));
		snprintf(cells[i][1], 16, "%zu", json_array_size(json_object_get(doc, "specs")));
		snprintf(cells[i][2], 16, "%zu", json_array_size(json_object_get(doc, "images")));
		cmd_table_add(&t, (const char *const[]){json_string_value(d), cells[i][0],
		                                         cells[i][1], cells[i][2], jstr(doc, "date"),
		                                         jstr(doc, "source")});
	}
	if (json)
		print_json(out);
	else if (json_array_size(out))
		cmd_table_print(&t, "");
	else
		printf("No catalogues found (they lie beside the provider plugins).\n");
	cmd_table_free(&t);
	free(cells);
	json_decref(out);
	json_decref(drivers);
	return 0;
}

static int list_one(const char *driver, int json)
{
	const json_t *doc = bar_catalog_get(driver);
	cmd_table rt = CMD_TABLE_INIT(4), st = CMD_TABLE_INIT(5), it = CMD_TABLE_INIT(3);
	size_t i;
	json_t *x;
	char **owned;
	size_t n_owned = 0;

	if (!doc) {
		fprintf(stderr, "Error: %s\n", bar_error_last());
		return 1;
	}
	if (json) {
		print_json(doc);
		return 0;
	}
	owned = bar_calloc(4 * (json_array_size(json_object_get(doc, "regions")) +
	                        json_array_size(json_object_get(doc, "specs"))) + 1,
	                   sizeof(*owned));
	printf("%s catalogue (%s; %s)\n\n", driver, jstr(doc, "date"), jstr(doc, "source"));
	cmd_table_add(&rt, (const char *const[]){"REGION", "LOCATION", "LAT,LON", "ZONES"});
	json_array_foreach(json_object_get(doc, "regions"), i, x) {
		char *ll = json_is_number(json_object_get(x, "lat"))
		               ? bar_printf("%.2f,%.2f", json_number_value(json_object_get(x, "lat")),
		                            json_number_value(json_object_get(x, "lon")))
		               : bar_strdup("-");
		char *zones = bar_printf("%zu", json_array_size(json_object_get(x, "zones")));

		owned[n_owned++] = ll;
		owned[n_owned++] = zones;
		cmd_table_add(&rt, (const char *const[]){jstr(x, "name"), jstr(x, "location"), ll,
		                                          zones});
	}
	cmd_table_print(&rt, "  ");
	printf("\n");
	cmd_table_add(&st, (const char *const[]){"TYPE", "VCPU", "MEMORY", "ARCH",
	                                          "PRICE PER HOUR (REGIONS)"});
	json_array_foreach(json_object_get(doc, "specs"), i, x) {
		const json_t *price = json_object_get(x, "price");
		double lo = -1, hi = -1;
		const char *k;
		json_t *v;
		char *vcpu, *mem, *p;

		json_object_foreach((json_t *)price, k, v) {
			double d = json_number_value(v);

			lo = lo < 0 || d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		vcpu = bar_printf("%lld", json_integer_value(json_object_get(x, "vcpu")));
		mem = bar_printf("%lld MiB", json_integer_value(json_object_get(x, "memoryMiB")));
		p = lo < 0 ? bar_strdup("-")
		    : lo == hi ? bar_printf("%.4f (%zu)", lo, json_object_size(price))
		               : bar_printf("%.4f-%.4f (%zu)", lo, hi, json_object_size(price));
		owned[n_owned++] = vcpu;
		owned[n_owned++] = mem;
		owned[n_owned++] = p;
		cmd_table_add(&st, (const char *const[]){jstr(x, "name"), vcpu, mem, jstr(x, "arch"),
		                                          p});
	}
	cmd_table_print(&st, "  ");
	printf("\n");
	cmd_table_add(&it, (const char *const[]){"IMAGE", "OS", "IMAGE ID"});
	json_array_foreach(json_object_get(doc, "images"), i, x) {
		cmd_table_add(&it, (const char *const[]){jstr(x, "name"), jstr(x, "os"),
		                                          jstr(x, "imageId")});
	}
	cmd_table_print(&it, "  ");
	for (size_t k = 0; k < n_owned; k++)
		free(owned[k]);
	free(owned);
	cmd_table_free(&rt);
	cmd_table_free(&st);
	cmd_table_free(&it);
	return 0;
}

/* Names of the cloud's list missing from the shipped one, and back. */
static json_t *diff_names(const json_t *shipped, const bar_obs_list *live)
{
	json_t *out = json_pack("{s:[], s:[]}", "new", "gone"), *seen = json_object();
	size_t i;
	json_t *x;

	json_array_foreach((json_t *)shipped, i, x) {
		json_object_set_new(seen, jstr(x, "name"), json_false());
	}
	for (size_t k = 0; k < live->n; k++) {
		if (!json_object_get(seen, live->items[k].name))
			json_array_append_new(json_object_get(out, "new"),
			                      json_string(live->items[k].name));
		else
			json_object_set_new(seen, live->items[k].name, json_true());
	}
	json_array_foreach((json_t *)shipped, i, x) {
		if (json_is_false(json_object_get(seen, jstr(x, "name"))) &&
		    strcmp(jstr(x, "name"), "*") != 0)
			json_array_append_new(json_object_get(out, "gone"), json_string(jstr(x, "name")));
	}
	json_decref(seen);
	return out;
}

static int refresh(const cmd_opts *o, cmd_ctx *c, const char *name, const char *out_file)
{
	static const char *const what[] = {"regions", "specs", "images"};
	char *addr = strchr(name, '/') ? bar_strdup(name)
	                               : bar_printf("default/connection/%s", name);
	const bar_desired *d;
	bar_conn conn = {0};
	const json_t *doc;
	json_t *report = json_object(), *fresh = NULL;
	int rc = 1;

	if (strchr(name, '/')) {
		free(addr);
		addr = bar_printf("%.*s/connection/%s", (int)(strchr(name, '/') - name), name,
		                  strchr(name, '/') + 1);
	}
	d = bar_desired_find(&c->ds, addr);
	if (!d) {
		bar_error_setc(BAR_ENOTFOUND, "no connection \"%s\" in the specs (barista connection "
		               "list shows them)", name);
		goto fail;
	}
	if (bar_conn_init(&conn, d->ns, d->name, d->attrs) < 0 || bar_conn_bind(&conn, c->reg) < 0)
		goto fail;
	doc = bar_catalog_get(conn.driver);
	fresh = doc ? json_deep_copy(doc)
	            : json_pack("{s:s, s:s, s:[], s:[], s:[]}", "driver", conn.driver, "currency",
	                        "USD", "regions", "specs", "images");
	for (int w = 0; w < 3; w++) {
		bar_obs_list live = {0};
		bar_op_ctx ctx = {.deadline_ms = bar_now_ms() + 300000};

		if (bar_host_catalog(&conn, what[w], &ctx, &live) < 0) {
			json_object_set_new(report, what[w], json_pack("{s:s}", "error", bar_error_last()));
			continue;
		}
		json_object_set_new(report, what[w],
		                    diff_names(json_object_get(doc, what[w]), &live));
		json_object_set_new(json_object_get(report, what[w]), "count",
		                    json_integer((json_int_t)live.n));
		if (out_file && w == 1) { /* specs: the cloud's sizes, the shipped prices */
			json_t *specs = json_array();

			for (size_t k = 0; k < live.n; k++) {
				json_t *a = json_loads(live.items[k].attrs, 0, NULL);
				const json_t *old = bar_catalog_spec(conn.driver, live.items[k].name);

				if (!json_is_object(a))
					a = json_object();
				json_object_set_new(a, "name", json_string(live.items[k].name));
				if (json_object_get(old, "price"))
					json_object_set(a, "price", json_object_get(old, "price"));
				json_array_append_new(specs, a);
			}
			json_object_set_new(fresh, "specs", specs);
		}
		bar_obs_list_clear(&live);
	}
	if (out_file && json_dump_file(fresh, out_file, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) < 0) {
		bar_error_set("cannot write %s", out_file);
		goto fail;
	}
	if (o->json) {
		print_json(report);
	} else {
		for (int w = 0; w < 3; w++) {
			const json_t *r = json_object_get(report, what[w]);

			if (json_object_get(r, "error"))
				printf("%s: %s\n", what[w], jstr(r, "error"));
			else
				printf("%s: the cloud lists %lld; %zu not in the shipped catalogue, %zu "
				       "shipped but not listed\n", what[w],
				       json_integer_value(json_object_get(r, "count")),
				       json_array_size(json_object_get(r, "new")),
				       json_array_size(json_object_get(r, "gone")));
		}
		if (out_file)
			printf("Wrote %s.\n", out_file);
	}
	rc = 0;
	goto done;
fail:
	rc = cmd_fail(o);
done:
	json_decref(report);
	json_decref(fresh);
	bar_conn_clear(&conn);
	free(addr);
	return rc;
}

int cmd_catalog(int argc, char **argv)
{
	const char *action = argc > 0 ? argv[0] : "";
	const char *out_file = NULL, *arg = NULL;
	char *rest[64];
	int n_rest = 0, json = 0, rc;
	cmd_opts o;
	cmd_ctx c;

	if (strcmp(action, "list") && strcmp(action, "refresh")) {
		fputs(usage, !strcmp(action, "-help") || !strcmp(action, "-h") ? stdout : stderr);
		return !strcmp(action, "-help") || !strcmp(action, "-h") ? 0 : 1;
	}
	/* -out is this command's own; the rest goes to the common parser */
	for (int i = 1; i < argc && n_rest < 64; i++) {
		if (!strcmp(argv[i], "-out") && i + 1 < argc)
			out_file = argv[++i];
		else if (!arg && argv[i][0] != '-')
			arg = argv[i];
		else
			rest[n_rest++] = argv[i];
	}
	if (cmd_parse(&o, n_rest, rest, "json state plugin-path no-color", usage) < 0)
		return 1;
	json = o.json;
	if (!strcmp(action, "list"))
		return arg ? list_one(arg, json) : list_all(json);
	if (!arg) {
		fprintf(stderr, "barista: catalog refresh needs a connection name\n%s", usage);
		return 1;
	}
	if ((rc = cmd_ctx_open(&c, &o, NULL)) < 0) {
		if (rc != -2)
			cmd_fail(&o);
		cmd_ctx_close(&c);
		return 1;
	}
	rc = refresh(&o, &c, arg, out_file);
	cmd_ctx_close(&c);
	return rc;
}
