/*
 * cost.c - what a plan adds to and removes from the hourly bill, from the
 * drivers' catalogues (core/catalog.h): Terraform needs a separate tool for
 * this; here `barista plan` shows it.
 *
 * Only VMs are priced (the instance type's on-demand price in its region):
 * a create or the new side of a replacement adds, a delete or the old side
 * removes, a resume adds and a suspend removes (clouds do not bill stopped
 * compute).  Networks, keys and disks are not priced.  A VM whose driver's
 * catalogue has no price for its type in its region is listed as unpriced
 * instead of being guessed; a driver without a catalogue is left out.
 */
#include "planner.h"
#include "catalog.h"
#include "error.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOURS_PER_MONTH 730.0 /* 365 * 24 / 12, the clouds' own convention */

/* Where a VM runs and what it is: driver, region, instance type and size. */
typedef struct vm_kind {
	const char *driver, *region, *spec_id;
	json_int_t vcpu, mem;
} vm_kind;

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* The desired attrs of `address`, or NULL. */
static const json_t *desired_attrs(const bar_desired_set *ds, const char *address)
{
	const bar_desired *d = ds && address ? bar_desired_find(ds, address) : NULL;

	return d ? d->attrs : NULL;
}

/* The new side of a VM change, from the desired set. */
static int desired_kind(const bar_change *c, const bar_desired_set *ds, vm_kind *k,
                        char *conn_addr, size_t size)
{
	const json_t *spec = desired_attrs(ds, json_string_value(json_object_get(c->refs, "spec")));
	const json_t *conn;

	snprintf(conn_addr, size, "%s/connection/%s", c->ns, c->connection ? c->connection : "");
	conn = desired_attrs(ds, conn_addr);
	if (!spec || !conn)
		return -1;
	*k = (vm_kind){jstr(conn, "driver"), jstr(conn, "region"), jstr(spec, "specId"),
	               json_integer_value(json_object_get(spec, "vcpu")),
	               json_integer_value(json_object_get(spec, "memoryMiB"))};
	return 0;
}

/* The recorded side of a VM change, from the records.  `keep` holds the
 * parsed JSON the strings point into (the caller frees it). */
static int recorded_kind(const bar_change *c, const bar_records *rs, vm_kind *k, json_t *keep)
{
	const bar_record *vm = bar_records_find(rs, c->address), *spec, *conn;
	json_t *refs, *sattrs, *cattrs;
	char addr[512];

	if (!vm || !vm->refs)
		return -1;
	refs = json_loads(vm->refs, 0, NULL);
	json_array_append_new(keep, refs ? refs : json_null());
	spec = bar_records_find(rs, jstr(refs, "spec"));
	snprintf(addr, sizeof(addr), "%s/connection/%s", vm->ns, vm->connection ? vm->connection : "");
	conn = bar_records_find(rs, addr);
	if (!spec || !spec->desired || !conn || !conn->desired)
		return -1;
	sattrs = json_loads(spec->desired, 0, NULL);
	cattrs = json_loads(conn->desired, 0, NULL);
	json_array_append_new(keep, sattrs ? sattrs : json_null());
	json_array_append_new(keep, cattrs ? cattrs : json_null());
	*k = (vm_kind){jstr(cattrs, "driver"), jstr(cattrs, "region"), jstr(sattrs, "specId"),
	               json_integer_value(json_object_get(sattrs, "vcpu")),
	               json_integer_value(json_object_get(sattrs, "memoryMiB"))};
	return 0;
}

/* The hourly price of a VM of kind k: its instance type's, or, for a spec
 * given only by size (the local driver), the catalogue type of that size. */
static int price_of(const vm_kind *k, double *hourly, const char **currency)
{
	const json_t *doc;
	size_t i;
	json_t *s;

	if (k->spec_id[0])
		return bar_catalog_price(k->driver, k->region, k->spec_id, hourly, currency);
	doc = bar_catalog_get(k->driver);
	json_array_foreach(json_object_get(doc, "specs"), i, s) {
		if (json_integer_value(json_object_get(s, "vcpu")) == k->vcpu &&
		    json_integer_value(json_object_get(s, "memoryMiB")) == k->mem &&
		    bar_catalog_price(k->driver, k->region, jstr(s, "name"), hourly, currency) == 0)
			return 0;
	}
	return BAR_ENOTFOUND;
}

static void add_to(json_t *cost, const char *currency, const char *key, double v)
{
	json_t *by = json_object_get(cost, "by_currency"), *cur = json_object_get(by, currency);

	if (!cur) {
		cur = json_pack("{s:f, s:f}", "add_hourly", 0.0, "remove_hourly", 0.0);
		json_object_set_new(by, currency, cur);
	}
	json_object_set_new(cur, key, json_real(json_real_value(json_object_get(cur, key)) + v));
}

static void price_side(json_t *cost, const bar_change *c, const vm_kind *k, int ok,
                       const char *key)
{
	const char *currency = NULL;
	double hourly = 0;

	/* a driver without a catalogue prices nothing: that is no news */
	if (ok && !bar_catalog_get(k->driver))
		return;
	if (ok && price_of(k, &hourly, &currency) == 0) {
		add_to(cost, currency, key, hourly);
		json_object_set_new(cost, "priced",
		                    json_integer(json_integer_value(json_object_get(cost, "priced")) + 1));
	} else {
		json_array_append_new(json_object_get(cost, "unpriced"), json_string(c->address));
	}
}

json_t *bar_plan_cost(const bar_plan *p, const bar_desired_set *ds, const bar_records *rs)
{
	json_t *cost = json_pack("{s:{}, s:i, s:[]}", "by_currency", "priced", 0, "unpriced");
	json_t *keep = json_array(), *cur;
	char conn_addr[512];
	const char *key;

	for (size_t i = 0; i < p->n; i++) {
		const bar_change *c = &p->changes[i];
		int adds = c->action == BAR_CREATE || c->action == BAR_REPLACE ||
		           (c->vm_action && strcmp(c->vm_action, "resume") == 0);
		int removes = c->action == BAR_DELETE || c->action == BAR_REPLACE ||
		              (c->vm_action && strcmp(c->vm_action, "suspend") == 0);
		vm_kind k;

		if (strcmp(c->type, "vm") != 0 || c->record_only || c->orphan || c->adopt_id)
			continue;
		if (adds && c->refs)
			price_side(cost, c, &k, desired_kind(c, ds, &k, conn_addr, sizeof(conn_addr)) == 0,
			           "add_hourly");
		else if (adds)
			price_side(cost, c, &k, recorded_kind(c, rs, &k, keep) == 0, "add_hourly");
		if (removes)
			price_side(cost, c, &k, recorded_kind(c, rs, &k, keep) == 0, "remove_hourly");
	}
	json_object_foreach(json_object_get(cost, "by_currency"), key, cur) {
		double a = json_real_value(json_object_get(cur, "add_hourly"));
		double r = json_real_value(json_object_get(cur, "remove_hourly"));

		json_object_set_new(cur, "net_hourly", json_real(a - r));
		json_object_set_new(cur, "net_monthly", json_real((a - r) * HOURS_PER_MONTH));
	}
	json_decref(keep);
	return cost;
}

/* "$0.0416" or "EUR 0.0416", with the sign when asked. */
static void money(char *out, size_t size, const char *currency, double v, int sign)
{
	const char *s = v < 0 ? "-" : sign ? "+" : "";

	if (strcmp(currency, "USD") == 0)
		snprintf(out, size, "%s$%.4f", s, fabs(v));
	else
		snprintf(out, size, "%s%s %.4f", s, currency, fabs(v));
}

void bar_plan_cost_render(const json_t *cost, bar_buf *b)
{
	size_t n_unpriced = json_array_size(json_object_get(cost, "unpriced"));
	const char *currency;
	json_t *cur;

	if (!cost || (!json_object_size(json_object_get(cost, "by_currency")) && !n_unpriced))
		return;
	json_object_foreach(json_object_get(cost, "by_currency"), currency, cur) {
		double a = json_real_value(json_object_get(cur, "add_hourly"));
		double r = json_real_value(json_object_get(cur, "remove_hourly"));
		double net = json_real_value(json_object_get(cur, "net_hourly"));
		char add[48], rem[48], nh[48], nm[48];

		money(add, sizeof(add), currency, a, 0);
		money(rem, sizeof(rem), currency, r, 0);
		money(nh, sizeof(nh), currency, net, 1);
		snprintf(nm, sizeof(nm), "%s%s%.2f", net < 0 ? "-" : "+",
		         strcmp(currency, "USD") == 0 ? "$" : currency, fabs(net) * HOURS_PER_MONTH);
		bar_buf_printf(b, "Cost: adds %s/h, removes %s/h; net %s/h (%s a month), at the "
		               "on-demand prices of the drivers' catalogues.\n", add, rem, nh, nm);
	}
	if (n_unpriced) {
		bar_buf_printf(b, "Not priced: %zu VM change%s (no catalogue price for its type "
		               "and region): %s%s\n", n_unpriced, n_unpriced == 1 ? "" : "s",
		               json_string_value(json_array_get(json_object_get(cost, "unpriced"), 0)),
		               n_unpriced > 1 ? ", ..." : "");
	}
}
