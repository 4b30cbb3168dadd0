/*
 * orphans.c - resources that carry this configuration's tags but that no
 * record tracks, and the plans that adopt or remove them.
 *
 * Every resource Barista creates is tagged with its address, the state's
 * lineage and its namespace.  A resource is an orphan when a provider lists
 * it with our lineage, or with an address the configuration has, while no
 * record holds its system id: a run died between the create and its record
 * on a provider without idempotency keys, someone restored an old state, or
 * the state was lost.  Listing covers every connection of the configuration
 * and of the state, once per resource type the connection's driver has.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void orphan_clear(bar_orphan *o)
{
	free(o->address);
	free(o->type);
	free(o->ns);
	free(o->connection);
	free(o->system_id);
	free(o->name);
	free(o->status);
}

void bar_orphans_clear(bar_orphans *l)
{
	for (size_t i = 0; i < l->n; i++)
		orphan_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Every connection address the configuration or the state knows, once. */
static json_t *all_connections(const bar_desired_set *ds, const bar_records *rs)
{
	json_t *set = json_object();

	for (size_t i = 0; ds && i < ds->n; i++)
		if (strcmp(ds->items[i].type, "connection") == 0)
			json_object_set_new(set, ds->items[i].address, json_true());
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->items[i].type, "connection") == 0)
			json_object_set_new(set, rs->items[i].address, json_true());
	return set;
}

/* Is this listed resource an orphan?  Its address tag, when it is. */
static const char *orphan_address(const bar_obs *o, json_t *tags, const bar_desired_set *ds,
                                  const bar_map *recorded, const char *lineage)
{
	const char *addr = json_string_value(json_object_get(tags, "barista:address"));
	const char *lin = json_string_value(json_object_get(tags, "barista:lineage"));

	if (!addr || bar_map_get(recorded, o->system_id))
		return NULL;
	if ((lin && lineage && *lineage && strcmp(lin, lineage) == 0) ||
	    (ds && bar_desired_find(ds, addr)))
		return addr;
	return NULL;
}

/* List one connection's resources of every type into *out's orphans. */
static int scan_connection(bar_orphans *out, const char *caddr, const json_t *attrs,
                           const bar_desired_set *ds, const bar_map *recorded,
                           const char *lineage, bar_registry *reg, const bar_cancel *cancel)
{
	const char *slash = strchr(caddr, '/');
	char *ns = bar_strndup(caddr, slash ? (size_t)(slash - caddr) : 0);
	bar_conn c = {0};
	int rc;

	if ((rc = bar_conn_init(&c, ns, strrchr(caddr, '/') + 1, attrs)) < 0 ||
	    (rc = bar_conn_bind(&c, reg)) < 0)
		goto done;
	for (size_t t = 0; c.provider->types[t]; t++) {
		const char *type = c.provider->types[t]->type;
		bar_op_ctx ctx = {.cancel = cancel, .deadline_ms = bar_now_ms() + 300000};
		bar_obs_list list = {0};

		if ((rc = bar_host_list(&c, type, &ctx, &list)) < 0) {
			bar_obs_list_clear(&list);
			goto done;
		}
		for (size_t i = 0; i < list.n; i++) {
			const bar_obs *o = &list.items[i];
			json_t *tags = json_loads(o->tags, 0, NULL);
			const char *addr = orphan_address(o, tags, ds, recorded, lineage);

			if (addr) {
				out->items = bar_realloc(out->items, (out->n + 1) * sizeof(*out->items));
				out->items[out->n++] = (bar_orphan){
					.address = bar_strdup(addr), .type = bar_strdup(type),
					.ns = bar_strdup(ns), .connection = bar_strdup(c.name),
					.system_id = bar_strdup(o->system_id), .name = bar_strdup(o->name),
					.status = bar_strdup(o->status),
					.in_config = ds && bar_desired_find(ds, addr) != NULL,
				};
			}
			json_decref(tags);
		}
		bar_obs_list_clear(&list);
	}
done:
	bar_conn_clear(&c);
	free(ns);
	return rc;
}

int bar_orphans_find(bar_orphans *out, const bar_desired_set *ds, const bar_records *rs,
                     const char *lineage, bar_registry *reg, const bar_cancel *cancel)
{
	json_t *conns = all_connections(ds, rs);
	bar_orphans found = {NULL, 0};
	bar_map recorded;
	const char *addr;
	json_t *v;
	int rc = 0;

	bar_map_init(&recorded, rs->n);
	for (size_t i = 0; i < rs->n; i++)
		if (rs->items[i].system_id)
			bar_map_put(&recorded, rs->items[i].system_id, (void *)1);
	json_object_foreach(conns, addr, v) {
		json_t *attrs = bar_conn_live_attrs(ds, rs, addr);
		size_t before = found.n;

		rc = attrs ? scan_connection(&found, addr, attrs, ds, &recorded, lineage, reg,
		                             cancel)
		           : 0;
		json_decref(attrs);
		/* two connections to one place list the same resources: keep one */
		for (size_t i = before; rc == 0 && i < found.n; i++)
			for (size_t k = 0; k < before; k++)
				if (!strcmp(found.items[i].system_id, found.items[k].system_id)) {
					orphan_clear(&found.items[i]);
					found.items[i--] = found.items[--found.n];
					break;
				}
		if (rc < 0)
			break;
	}
	bar_map_free(&recorded);
	json_decref(conns);
	if (rc < 0) {
		bar_orphans_clear(&found);
		return rc;
	}
	*out = found;
	return 0;
}

/* A plan with room for n changes, against the given state. */
static bar_plan *plan_new(const char *lineage, int64_t serial, size_t n)
{
	bar_plan *p = bar_calloc(1, sizeof(*p));

	p->lineage = bar_strdup(lineage ? lineage : "");
	p->serial = serial;
	p->changes = bar_calloc(n ? n : 1, sizeof(*p->changes));
	p->drift = json_array();
	p->connections = json_object();
	p->live_connections = json_object();
	return p;
}

/* The connection's attrs in both of the plan's connection sets. */
static void plan_connection(bar_plan *p, const bar_desired_set *ds, const bar_records *rs,
                            const char *ns, const char *name)
{
	char *addr = bar_conn_address(ns, name);
	json_t *attrs = bar_conn_live_attrs(ds, rs, addr);

	if (attrs) {
		json_object_set(p->connections, addr, attrs);
		json_object_set_new(p->live_connections, addr, attrs);
	}
	free(addr);
}

int bar_orphans_plan(bar_plan **out, const bar_orphans *o, const bar_desired_set *ds,
                     const bar_records *rs, const char *lineage, int64_t serial)
{
	bar_plan *p = plan_new(lineage, serial, o->n);

	for (size_t i = 0; i < o->n; i++) {
		const bar_orphan *x = &o->items[i];
		bar_change *c = &p->changes[p->n++];
		const char *name = strrchr(x->address, '/');

		*c = (bar_change){
			.action = BAR_DELETE, .address = bar_strdup(x->address),
			.type = bar_strdup(x->type), .ns = bar_strdup(x->ns),
			.name = bar_strdup(name ? name + 1 : x->name), .connection = bar_strdup(x->connection),
			.reason = bar_printf("%s is tagged for this configuration but no record "
			                     "tracks it", x->system_id),
			.prior_system_id = bar_strdup(x->system_id), .deps = json_array(),
			.orphan = 1,
		};
		plan_connection(p, ds, rs, x->ns, x->connection);
	}
	*out = p;
	return 0;
}

int bar_import_plan(bar_plan **out, const bar_desired_set *ds, const bar_records *rs,
                    const char *address, const char *system_id, const char *lineage,
                    int64_t serial)
{
	const bar_desired *d = ds ? bar_desired_find(ds, address) : NULL;
	bar_plan *p;
	bar_change *c;

	if (!d || !bar_type_is_provider(d->type))
		return bar_error_setc(BAR_ENOTFOUND, "import %s: the configuration has no provider "
		                      "resource at that address; import adopts a resource for "
		                      "an address the specs describe", address);
	if (bar_records_find(rs, address))
		return bar_error_setc(BAR_ECONFLICT, "import %s: the state already records it; "
		                      "`barista state rm %s` first to adopt another resource",
		                      address, address);
	bar_desired_expand(d);
	p = plan_new(lineage, serial, 1);
	c = &p->changes[p->n++];
	*c = (bar_change){
		.action = BAR_CREATE, .address = bar_strdup(d->address), .type = bar_strdup(d->type),
		.ns = bar_strdup(d->ns), .name = bar_strdup(d->name),
		.connection = bar_strdup(d->connection),
		.reason = bar_printf("import %s", system_id),
		.attrs = json_incref(d->attrs), .hash = bar_strdup(d->hash),
		.refs = json_incref(d->refs), .deps = json_array(),
		.adopt_id = bar_strdup(system_id),
	};
	plan_connection(p, ds, rs, d->ns, d->connection);
	*out = p;
	return 0;
}
