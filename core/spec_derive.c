/*
 * spec_derive.c - MCI groups written in one line (CB-Tumblebug's dynamic
 * MCI): `spec: aws+ap-northeast-2+t3.small` and `image: ubuntu-22.04`
 * instead of Connection, VNet, SecurityGroup, SSHKey, Image and Spec
 * objects.
 *
 * Between the kinds' checks and the cross-checks, every such group is
 * checked against its driver's catalogue (core/catalog.h) and the objects
 * it implies are added as documents of their own, written as JSON (which
 * YAML reads) and loaded through the same checks as any other, so they are
 * planned, shown and recorded like hand-written ones and disappear from the
 * configuration (and so are destroyed) with the last group that uses them.
 * Per connection they are one VNet `<conn>-net` with one subnet, one
 * security group `<conn>-sg` (SSH and ICMP in), one provider-made SSH key
 * `<conn>-key`; per image and type an Image `<conn>-<image>` and a Spec
 * `<conn>-<type>`.  The connection is an existing Connection of that driver
 * and region in the namespace when there is one; otherwise `<driver>-<region>`,
 * with the credential and config of the namespace's first Connection of that
 * driver (any region), or none for the local and sim drivers, which need
 * none.  Every derived object carries the label barista.dev/derived=true.
 *
 * An MCApp with `requirements` instead of `mci` derives that MCI first,
 * named after the MCApp: per app, the instance types that meet its size
 * are ranked by the catalogues (core/catalog_rank.c: cost, or distance to
 * `near`), the first whose connection, image and estimated latency to the
 * apps placed before it fit is taken per region, and the app's placement
 * names the groups made for it.  Apps with regions are placed first, then
 * the others, each in spec order, so the same spec and catalogues always
 * derive the same MCI.
 */
#include "catalog.h"
#include "spec_internal.h"
#include "error.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* A DNS-label name from parts: lower case, runs of other characters as one
 * '-', at most SPEC_NAME_MAX (the end kept unique by a short hash). */
static char *derived_name(spec_load *L, const char *a, const char *b)
{
	char buf[256], *o = buf;
	size_t n;

	snprintf(buf, sizeof(buf), "%s-%s", a, b);
	for (const char *p = buf; *p; p++) {
		char c = (char)tolower((unsigned char)*p);

		if (isalnum((unsigned char)c))
			*o++ = c;
		else if (o > buf && o[-1] != '-')
			*o++ = '-';
	}
	while (o > buf && o[-1] == '-')
		o--;
	*o = '\0';
	n = strlen(buf);
	if (n > SPEC_NAME_MAX) {
		char tail[10];

		snprintf(tail, sizeof(tail), "-%08x",
		         (unsigned)bar_hash64(buf, n, BAR_HASH64_SEED));
		memcpy(buf + SPEC_NAME_MAX - 9, tail, 10);
	}
	return bar_arena_strdup(&L->cfg->arena, buf);
}

/* An existing Connection of the namespace by driver (and region, when
 * given); with region NULL the first by name. */
static spec_obj *find_connection(spec_load *L, const char *ns, const char *driver,
                                 const char *region, size_t n_all)
{
	spec_obj *best = NULL;

	for (size_t i = 0; i < n_all; i++) {
		spec_obj *c = L->cfg->all[i];

		if (c->pub.kind != BAR_KIND_CONNECTION || !c->registered || c->broken ||
		    strcmp(c->pub.ns, ns) != 0 || strcmp(jstr(c->pub.attrs, "driver"), driver) != 0 ||
		    (region && strcmp(jstr(c->pub.attrs, "region"), region) != 0))
			continue;
		if (!best || strcmp(c->pub.name, best->pub.name) < 0)
			best = c;
	}
	return best;
}

/* The derived documents of one load, so that each is written once. */
typedef struct derived {
	json_t *docs;   /* "kind/ns/name" -> document */
	json_t *order;  /* keys in the order made */
} derived;

static void add_doc(derived *d, const char *kind, const char *ns, const char *name,
                    json_t *spec)
{
	char *key = bar_printf("%s/%s/%s", kind, ns, name);

	if (!json_object_get(d->docs, key)) {
		json_object_set_new(d->docs, key,
		                    json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:O}", "apiVersion",
		                              SPEC_API_VERSION, "kind", kind, "metadata", "name",
		                              name, "namespace", ns, "labels", "barista.dev/derived",
		                              "true", "spec", spec));
		json_array_append_new(d->order, json_string(key));
	}
	json_decref(spec);
	free(key);
}

/* 10.X.0.0/16 with X from the connection's name, away from the low
 * numbers people pick by hand. */
static void vnet_cidrs(const char *conn, char *cidr, char *subnet, size_t size)
{
	unsigned x = 160 + (unsigned)(bar_hash64(conn, strlen(conn), BAR_HASH64_SEED) % 64);

	snprintf(cidr, size, "10.%u.0.0/16", x);
	snprintf(subnet, size, "10.%u.1.0/24", x);
}

/* The connection a line names: an existing one, or a derived one (added to
 * d).  NULL after a diagnostic. */
static const char *line_connection(spec_load *L, derived *d, spec_obj *o, spec_group *g,
                                   size_t n_all)
{
	const char *drv = g->line_driver, *region = g->line_region;
	spec_obj *c = find_connection(L, o->pub.ns, drv, region, n_all), *tmpl;
	const char *name;
	json_t *spec;

	if (c)
		return c->pub.name;
	name = derived_name(L, drv, region);
	tmpl = find_connection(L, o->pub.ns, drv, NULL, n_all);
	if (!tmpl && strcmp(drv, "local") != 0 && strcmp(drv, "sim") != 0) {
		spec_diag(L, g->f[SPEC_G_SPEC], "no Connection of driver \"%s\" in namespace \"%s\" "
		          "to take the credential from: declare one (in any region), or a "
		          "Connection for %s", drv, o->pub.ns, region);
		return NULL;
	}
	spec = json_pack("{s:s, s:s}", "driver", drv, "region", region);
	if (tmpl) {
		const json_t *cred = json_object_get(tmpl->pub.attrs, "credential");
		const json_t *cfg = json_object_get(tmpl->pub.attrs, "config");

		if (json_is_object(cred))
			json_object_set(spec, "credential", (json_t *)cred);
		if (json_object_size(cfg))
			json_object_set(spec, "config", (json_t *)cfg);
		if (json_integer_value(json_object_get(tmpl->pub.attrs, "maxConcurrency")))
			json_object_set(spec, "maxConcurrency",
			                json_object_get(tmpl->pub.attrs, "maxConcurrency"));
	}
	add_doc(d, "Connection", o->pub.ns, name, spec);
	return name;
}

/* Check the line against the catalogue; 0, or -1 after a diagnostic. */
static int line_in_catalog(spec_load *L, spec_group *g, const json_t **type,
                           const json_t **image)
{
	const char *drv = g->line_driver, *near;
	const json_t *doc = bar_catalog_get(drv);
	double price;

	if (!doc) {
		spec_diag(L, g->f[SPEC_G_SPEC], "%s", bar_error_last());
		return -1;
	}
	if (!bar_catalog_region(drv, g->line_region)) {
		spec_diag(L, g->f[SPEC_G_SPEC], "driver \"%s\" has no region \"%s\" in its "
		          "catalogue (barista catalog list %s shows them)", drv, g->line_region, drv);
		return -1;
	}
	*type = bar_catalog_spec(drv, g->line_type);
	if (!*type) {
		near = bar_catalog_spec_near(drv, g->line_type);
		spec_diag(L, g->f[SPEC_G_SPEC], "driver \"%s\" has no instance type \"%s\" in its "
		          "catalogue%s%s%s", drv, g->line_type, near ? "; did you mean \"" : "",
		          near ? near : "", near ? "\"?" : "");
		return -1;
	}
	if (bar_catalog_price(drv, g->line_region, g->line_type, &price, NULL) < 0) {
		spec_diag(L, g->f[SPEC_G_SPEC], "instance type \"%s\" is not offered in %s region "
		          "\"%s\" (its catalogue has no price there)", g->line_type, drv,
		          g->line_region);
		return -1;
	}
	*image = g->line_image ? bar_catalog_image(drv, g->line_image) : NULL;
	return 0;
}

static void set_ref(spec_load *L, spec_obj *o, spec_group *g, const char *field,
                    bar_kind kind, const char *name)
{
	spec_ref_add(L, o, bar_arena_cat(&L->cfg->arena, g->role, ".", field), kind, name,
	             g->f[SPEC_G_SPEC], g->scope);
	json_object_set_new(g->json, field, json_string(name));
}

/* Derive what one group needs and point its references there. */
/* A derived security group's ingress: SSH and ICMP, and on the MCI of an
 * MCApp's requirements every port its apps publish. */
static json_t *derived_ingress(spec_load *L, const spec_obj *mci)
{
	json_t *in = json_pack("[{s:s, s:s, s:s}, {s:s}]", "protocol", "tcp", "ports", "22",
	                       "cidr", "0.0.0.0/0", "protocol", "icmp");
	const char *owner = jstr(mci->pub.labels, "barista.dev/mcapp");
	const spec_obj *app = *owner ? spec_table_find(L->cfg, BAR_KIND_MCAPP, mci->pub.ns, owner)
	                             : NULL;
	const json_t *a, *p;
	size_t i, k;

	json_array_foreach(app ? json_object_get(app->pub.attrs, "apps") : NULL, i, a)
		json_array_foreach(json_object_get(a, "ports"), k, p) {
			char port[16];

			snprintf(port, sizeof(port), "%lld",
			         (long long)json_integer_value(json_object_get(p, "port")));
			json_array_append_new(in, json_pack("{s:s, s:s, s:s}", "protocol",
			                                    jstr(p, "protocol")[0] ? jstr(p, "protocol")
			                                                           : "tcp",
			                                    "ports", port, "cidr", "0.0.0.0/0"));
		}
	return in;
}

static void derive_group(spec_load *L, derived *d, spec_obj *o, spec_group *g, size_t n_all)
{
	const json_t *type = NULL, *image = NULL;
	const char *conn, *ns = o->pub.ns, *name;
	char cidr[32], subnet[32];
	json_t *sgs = json_object_get(g->json, "securityGroups");

	spec_scope_set(L, "%s", g->scope);
	if (line_in_catalog(L, g, &type, &image) < 0 ||
	    !(conn = line_connection(L, d, o, g, n_all)))
		return;
	set_ref(L, o, g, "connection", BAR_KIND_CONNECTION, conn);
	name = derived_name(L, conn, g->line_type);
	add_doc(d, "Spec", ns, name,
	        json_pack("{s:s, s:s, s:O, s:O}", "connection", conn, "specId", g->line_type,
	                  "vcpu", json_object_get(type, "vcpu"), "memoryMiB",
	                  json_object_get(type, "memoryMiB")));
	set_ref(L, o, g, "spec", BAR_KIND_SPEC, name);
	if (g->line_image && !image) {
		/* not a catalogue image: an Image object of that name */
		if (!spec_table_find(L->cfg, BAR_KIND_IMAGE, ns, g->line_image)) {
			char names[256] = "";
			size_t i, off = 0;
			json_t *x;

			json_array_foreach(json_object_get(bar_catalog_get(g->line_driver), "images"),
			                   i, x) {
				int n = snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
				                 jstr(x, "name"));

				if (n < 0 || (size_t)n >= sizeof(names) - off)
					break;
				off += (size_t)n;
			}
			spec_diag(L, g->f[SPEC_G_IMAGE], "driver \"%s\" has no image \"%s\" in its "
			          "catalogue (%s%s) and there is no Image of that name",
			          g->line_driver, g->line_image, off ? "its images: " : "none",
			          names);
			return;
		}
		set_ref(L, o, g, "image", BAR_KIND_IMAGE, g->line_image);
	} else if (g->line_image) {
		name = derived_name(L, conn, g->line_image);
		add_doc(d, "Image", ns, name,
		        json_pack("{s:s, s:s, s:s}", "connection", conn, "imageId",
		                  jstr(image, "imageId")[0] ? jstr(image, "imageId") : g->line_image,
		                  "os", jstr(image, "os")));
		set_ref(L, o, g, "image", BAR_KIND_IMAGE, name);
	}
	if (!jstr(g->json, "vnet")[0]) {
		name = derived_name(L, conn, "net");
		vnet_cidrs(conn, cidr, subnet, sizeof(cidr));
		add_doc(d, "VNet", ns, name,
		        json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "connection", conn, "cidr", cidr,
		                  "subnets", "name", "default", "cidr", subnet));
		set_ref(L, o, g, "vnet", BAR_KIND_VNET, name);
		if (!json_array_size(sgs)) {
			const char *sg = derived_name(L, conn, "sg");

			add_doc(d, "SecurityGroup", ns, sg,
			        json_pack("{s:s, s:s, s:o}", "connection", conn, "vnet", name, "ingress",
			                  derived_ingress(L, o)));
			spec_ref_add(L, o, bar_arena_cat(&L->cfg->arena, g->role, ".securityGroups",
			                                 NULL),
			             BAR_KIND_SECURITYGROUP, sg, g->f[SPEC_G_SPEC], g->scope);
			json_array_append_new(sgs, json_string(sg));
		}
	}
	if (spec_absent(g->f[SPEC_G_SSHKEY])) {
		name = derived_name(L, conn, "key");
		add_doc(d, "SSHKey", ns, name, json_pack("{s:s}", "connection", conn));
		set_ref(L, o, g, "sshKey", BAR_KIND_SSHKEY, name);
	}
}

/* ---- MCIs from an MCApp's requirements -------------------------------- */

/* Estimated round trip between two regions: 2 ms, plus 1 ms per 100 km of
 * great-circle distance (docs/spec-reference.md, MCApp). */
#define RTT_BASE_MS 2.0
#define RTT_KM_PER_MS 100.0
#define REQ_DRIVERS_MAX 64 /* = the most names requirements.connections holds */

/* The instance type chosen for one (app, region). */
typedef struct pick {
	const char *driver, *region, *type, *group; /* scratch arena */
	double price;
	json_int_t count;
} pick;

typedef struct app_req {
	const char *name;
	const json_t *req;       /* its requirements (attrs) */
	const bar_ynode *item;   /* the app's YAML item */
	pick *picks;
	size_t n_picks;
} app_req;

/* What the choice of every app of one MCApp shares. */
typedef struct req_ctx {
	spec_load *L;
	spec_obj *o;
	const char *image;
	double max_cost;                        /* 0: none */
	const char *drivers[REQ_DRIVERS_MAX];   /* the candidate catalogues */
	size_t n_drivers;
	const char *pair_drv[REQ_DRIVERS_MAX];  /* requirements.connections as */
	const char *pair_rgn[REQ_DRIVERS_MAX];  /* (driver, region); n_pairs 0: any */
	size_t n_pairs;
	const char **known;                     /* every region name of the */
	size_t n_known;                         /* catalogues, for "*" drivers */
	app_req *apps;
	size_t n_apps;
} req_ctx;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int has_str(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* Estimated RTT in ms between two regions, or -1 when one has no
 * coordinates in any catalogue (the same region name: no distance). */
static double rtt_ms(const char *d1, const char *r1, const char *d2, const char *r2)
{
	double la1, lo1, la2, lo2;

	if (!strcmp(r1, r2))
		return RTT_BASE_MS;
	if (bar_catalog_coords(d1, r1, &la1, &lo1) < 0 || bar_catalog_coords(d2, r2, &la2, &lo2) < 0)
		return -1;
	return RTT_BASE_MS + bar_geo_distance_km(la1, lo1, la2, lo2) / RTT_KM_PER_MS;
}

/* The tighter of a's limit to b and b's to a; 0 when neither sets one. */
static double latency_limit(const app_req *a, const app_req *b)
{
	double x = json_number_value(json_object_get(json_object_get(a->req, "maxLatencyMs"),
	                                             b->name));
	double y = json_number_value(json_object_get(json_object_get(b->req, "maxLatencyMs"),
	                                             a->name));

	return !x ? y : !y ? x : x < y ? x : y;
}

/* Whether (driver, region) keeps the latency limits to the apps placed
 * already (those with picks); if not, why (into why). */
static int latency_ok(const req_ctx *c, size_t a, const char *drv, const char *rgn, char *why,
                      size_t size)
{
	for (size_t p = 0; p < c->n_apps; p++) {
		double lim = p == a ? 0 : latency_limit(&c->apps[a], &c->apps[p]);

		for (size_t k = 0; lim > 0 && k < c->apps[p].n_picks; k++) {
			const pick *q = &c->apps[p].picks[k];
			double ms = rtt_ms(drv, rgn, q->driver, q->region);

			if (ms < 0 || ms > lim) {
				if (ms < 0)
					snprintf(why, size, "no coordinates to estimate the latency between %s "
					         "and %s, where app \"%s\" is", rgn, q->region, c->apps[p].name);
				else
					snprintf(why, size, "app \"%s\" in %s is an estimated %.0f ms from %s, "
					         "over maxLatencyMs %g", c->apps[p].name, q->region, ms, rgn,
					         lim);
				return 0;
			}
		}
	}
	return 1;
}

/* Rank the candidates for app a (cost first, or distance to `near` first)
 * and pick the first that its connections, image and latency to the apps
 * placed already allow.
 * Returns 0 with *out set, or -1 with the reason for the last refusal in
 * why (empty when nothing fitted at all). */
static int choose(req_ctx *c, size_t a, const char *const *regions, size_t n_regions,
                  const json_t *near, pick *out, char *why, size_t size, double max_price)
{
	bar_catalog_rank_opts ro = BAR_CATALOG_RANK_OPTS_INIT;
	const json_t *req = c->apps[a].req;
	json_t *res = NULL, *e;
	size_t i;
	int rc = -1;

	why[0] = '\0';
	ro.min_vcpu = json_integer_value(json_object_get(req, "vcpu"));
	ro.min_memory_mib = json_integer_value(json_object_get(req, "memoryMiB"));
	ro.max_price = max_price;
	ro.drivers = c->drivers;
	ro.n_drivers = c->n_drivers;
	ro.regions = n_regions ? regions : c->n_pairs ? c->pair_rgn : c->known;
	ro.n_regions = n_regions ? n_regions : c->n_pairs ? c->n_pairs : c->n_known;
	ro.has_near = near != NULL;
	ro.near_lat = json_number_value(json_object_get(near, "lat"));
	ro.near_lon = json_number_value(json_object_get(near, "lon"));
	ro.w_cost = near ? 0 : 1;
	ro.w_location = near ? 1 : 0;
	ro.w_performance = 0;
	ro.limit = (size_t)-1;
	if (!c->n_drivers || bar_catalog_rank(&res, &ro) < 0)
		return -1;
	json_array_foreach(json_object_get(res, "ranked"), i, e) {
		const char *drv = jstr(e, "driver"), *rgn = jstr(e, "region");
		int paired = !c->n_pairs;

		for (size_t k = 0; !paired && k < c->n_pairs; k++)
			paired = !strcmp(c->pair_drv[k], drv) && !strcmp(c->pair_rgn[k], rgn);
		if (!paired)
			continue;
		if (!bar_catalog_image(drv, c->image)) {
			snprintf(why, size, "driver \"%s\" has no image \"%s\" in its catalogue", drv,
			         c->image);
			continue;
		}
		if (!latency_ok(c, a, drv, rgn, why, size))
			continue;
		out->driver = bar_arena_strdup(&c->L->scratch, drv);
		out->region = bar_arena_strdup(&c->L->scratch, rgn);
		out->type = bar_arena_strdup(&c->L->scratch, jstr(e, "spec"));
		out->price = json_number_value(json_object_get(e, "hourly"));
		rc = 0;
		break;
	}
	json_decref(res);
	return rc;
}

static void join(char *buf, size_t size, const char *const *v, size_t n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < size; i++) {
		int k = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", v[i]);

		if (k < 0)
			break;
		off += (size_t)k;
	}
}

/* Report that nothing fits app a, with the cheapest type of that size. */
static void report_unmet(req_ctx *c, size_t a, const char *const *regions, size_t n_regions,
                         const json_t *near, const char *why)
{
	const json_t *req = c->apps[a].req;
	char where[512], drivers[256], cost[64] = "", cheap[256] = "";
	pick p;
	char why2[256];
	const bar_ynode *at = bar_ymap_get(c->apps[a].item, "requirements");

	join(drivers, sizeof(drivers), c->drivers, c->n_drivers);
	if (n_regions)
		join(where, sizeof(where), regions, n_regions);
	else if (near)
		snprintf(where, sizeof(where), "any region (near %g, %g)",
		         json_number_value(json_object_get(near, "lat")),
		         json_number_value(json_object_get(near, "lon")));
	else
		snprintf(where, sizeof(where), "any region");
	if (c->max_cost > 0)
		snprintf(cost, sizeof(cost), " under %g/h", c->max_cost);
	if ((n_regions && choose(c, a, regions, n_regions, NULL, &p, why2, sizeof(why2), 0) == 0) ||
	    choose(c, a, NULL, 0, NULL, &p, why2, sizeof(why2), 0) == 0)
		snprintf(cheap, sizeof(cheap), "; cheapest is %s+%s+%s at %g/h", p.driver, p.region,
		         p.type, p.price);
	spec_diag(c->L, at, "no catalogue type of %s has %lld vCPU and %g GiB%s in %s%s%s%s%s",
	          c->n_drivers ? drivers : "(no candidate driver)",
	          (long long)json_integer_value(json_object_get(req, "vcpu")),
	          (double)json_integer_value(json_object_get(req, "memoryMiB")) / 1024, cost, where,
	          why[0] ? " (" : "", why[0] ? why : "", why[0] ? ")" : "", cheap);
}

/* Choose the groups of app a: one per region named (the replicas spread
 * over them, first regions first), or one in the best region.  0, or -1
 * after a diagnostic. */
static int place_app(req_ctx *c, size_t a)
{
	app_req *ar = &c->apps[a];
	const json_t *near = json_object_get(ar->req, "near");
	const json_t *rj = json_object_get(ar->req, "regions");
	const bar_ynode *at = bar_ymap_get(ar->item, "requirements");
	size_t nr = json_array_size(rj), ng = nr ? nr : 1;
	json_int_t replicas = json_integer_value(json_object_get(ar->req, "replicas"));
	const char **regions = bar_arena_alloc(&c->L->scratch, (nr + 1) * sizeof(*regions));
	char why[256];
	size_t vm_len;

	for (size_t i = 0; i < nr; i++) {
		regions[i] = json_string_value(json_array_get(rj, i));
		if (has_str(regions, i, regions[i])) {
			const bar_ynode *rn = bar_ymap_get(at, "regions");

			spec_diag(c->L, rn && rn->type == BAR_Y_SEQ && i < rn->n ? &rn->u.items[i] : at,
			          "field \"requirements.regions\" names \"%s\" twice",
			          regions[i]);
			return -1;
		}
	}
	ar->picks = bar_arena_alloc(&c->L->scratch, ng * sizeof(*ar->picks));
	ar->n_picks = 0;
	for (size_t i = 0; i < ng; i++) {
		json_int_t count = replicas / (json_int_t)ng + ((json_int_t)i < replicas % (json_int_t)ng);
		pick *p = &ar->picks[ar->n_picks];

		if (!count)
			continue;
		if (choose(c, a, nr ? &regions[i] : NULL, nr ? 1 : 0, near, p, why, sizeof(why),
		           c->max_cost) < 0) {
			report_unmet(c, a, nr ? regions : NULL, nr, near, why);
			return -1;
		}
		p->count = count;
		p->group = derived_name(c->L, ar->name, p->region);
		vm_len = strlen(c->o->pub.name) + strlen(p->group) +
		         (size_t)snprintf(NULL, 0, "--%lld", (long long)count);
		if (vm_len > SPEC_NAME_MAX) {
			spec_diag(c->L, at, "the VMs derived for this app in %s would be named "
			          "\"%s-%s-N\" (up to %zu characters); VM names are at most %d: "
			          "shorten the MCApp's or the app's name", p->region, c->o->pub.name,
			          p->group, vm_len, SPEC_NAME_MAX);
			return -1;
		}
		ar->n_picks++;
	}
	return 0;
}

/* The region names of every catalogue, sorted: where a driver that serves
 * any region name ("*": local, sim) may be placed when no region is named. */
static void known_regions(req_ctx *c)
{
	json_t *drivers = bar_catalog_drivers(), *d, *rg;
	json_t *set = json_object();
	size_t i, j, n = 0;
	const char *name;

	json_array_foreach(drivers, i, d) {
		json_array_foreach(json_object_get(bar_catalog_get(json_string_value(d)), "regions"),
		                   j, rg) {
			if (strcmp(jstr(rg, "name"), "*") != 0)
				json_object_set_new(set, jstr(rg, "name"), json_true());
		}
	}
	c->known = bar_arena_alloc(&c->L->scratch, (json_object_size(set) + 1) * sizeof(*c->known));
	json_object_foreach(set, name, d)
		c->known[n++] = bar_arena_strdup(&c->L->scratch, name);
	qsort(c->known, n, sizeof(*c->known), cmp_str);
	c->n_known = n;
	json_decref(set);
	json_decref(drivers);
}

/* The candidate catalogues: the drivers (and regions) of
 * requirements.connections, or else of every Connection of the namespace,
 * or else local and sim.  0, or -1 after a diagnostic. */
static int req_candidates(req_ctx *c, const json_t *conns, size_t n_all)
{
	const bar_ynode *rq = bar_ymap_get(c->o->spec, "requirements");
	const bar_ynode *cn = bar_ymap_get(rq, "connections");
	size_t i;
	json_t *x;

	json_array_foreach(conns, i, x) {
		spec_obj *k = spec_table_find(c->L->cfg, BAR_KIND_CONNECTION, c->o->pub.ns,
		                              json_string_value(x));

		if (!k || k->broken) {
			spec_diag(c->L, cn && cn->type == BAR_Y_SEQ && i < cn->n ? &cn->u.items[i] : rq,
			          "field \"requirements.connections\" names unknown Connection "
			          "\"%s\"", json_string_value(x));
			return -1;
		}
		if (c->n_pairs == REQ_DRIVERS_MAX)
			break;
		c->pair_drv[c->n_pairs] = jstr(k->pub.attrs, "driver");
		c->pair_rgn[c->n_pairs++] = jstr(k->pub.attrs, "region");
		if (!has_str(c->drivers, c->n_drivers, jstr(k->pub.attrs, "driver")) &&
		    bar_catalog_get(jstr(k->pub.attrs, "driver")))
			c->drivers[c->n_drivers++] = jstr(k->pub.attrs, "driver");
	}
	for (size_t k = 0; !json_array_size(conns) && k < n_all; k++) {
		spec_obj *o = c->L->cfg->all[k];
		const char *drv = jstr(o->pub.attrs, "driver");

		if (o->pub.kind == BAR_KIND_CONNECTION && o->registered && !o->broken &&
		    !strcmp(o->pub.ns, c->o->pub.ns) && !has_str(c->drivers, c->n_drivers, drv) &&
		    c->n_drivers < REQ_DRIVERS_MAX && bar_catalog_get(drv))
			c->drivers[c->n_drivers++] = drv;
	}
	if (!c->n_drivers && !json_array_size(conns)) {
		if (bar_catalog_get("local"))
			c->drivers[c->n_drivers++] = "local";
		if (bar_catalog_get("sim"))
			c->drivers[c->n_drivers++] = "sim";
	}
	known_regions(c);
	return 0;
}

/* The MCI document derived from an MCApp's requirements, or NULL after a
 * diagnostic.  Its groups are written in one line, so the derive pass
 * below adds their MCIR like for a hand-written one. */
static json_t *derive_mcapp(spec_load *L, spec_obj *o, size_t n_all)
{
	const json_t *r = json_object_get(o->pub.attrs, "requirements");
	json_t *apps = json_object_get(o->pub.attrs, "apps"), *groups, *doc = NULL;
	const bar_ynode *seq = bar_ymap_get(o->spec, "apps");
	const bar_ynode *rq = bar_ymap_get(o->spec, "requirements");
	req_ctx c;
	double total = 0;

	memset(&c, 0, sizeof(c));
	c.L = L;
	c.o = o;
	c.image = jstr(r, "image");
	c.max_cost = json_number_value(json_object_get(r, "maxCostPerHour"));
	if (spec_table_find(L->cfg, BAR_KIND_MCI, o->pub.ns, o->pub.name)) {
		spec_diag(L, rq, "the requirements derive an MCI named after the MCApp, but MCI "
		          "\"%s\" exists already; rename one, or use \"mci\" instead", o->pub.name);
		return NULL;
	}
	if (req_candidates(&c, json_object_get(r, "connections"), n_all) < 0)
		return NULL;
	c.n_apps = json_array_size(apps);
	c.apps = bar_arena_alloc(&L->scratch, (c.n_apps + 1) * sizeof(*c.apps));
	for (size_t a = 0; a < c.n_apps; a++) {
		c.apps[a].name = jstr(json_array_get(apps, a), "name");
		c.apps[a].req = json_object_get(json_array_get(apps, a), "requirements");
		c.apps[a].item = &seq->u.items[a];
		c.apps[a].n_picks = 0;
	}
	/* apps bound to regions first, so that the others' latency is checked
	 * against where those must be; each pass in the apps' order */
	for (int pass = 0; pass < 2; pass++)
		for (size_t a = 0; a < c.n_apps; a++) {
			int fixed = json_array_size(json_object_get(c.apps[a].req, "regions")) > 0;

			if (fixed != !pass)
				continue;
			spec_scope_name(L, "app", c.apps[a].name);
			if (place_app(&c, a) < 0)
				return NULL;
		}
	spec_scope_clear(L);
	for (size_t a = 0; a < c.n_apps; a++)
		for (size_t k = 0; k < c.apps[a].n_picks; k++)
			total += c.apps[a].picks[k].price * (double)c.apps[a].picks[k].count;
	if (c.max_cost > 0 && total > c.max_cost + 1e-9) {
		spec_diag(L, bar_ymap_get(rq, "maxCostPerHour"), "the cheapest instance types that "
		          "meet the apps' requirements cost %g/h together, over maxCostPerHour %g",
		          total, c.max_cost);
		return NULL;
	}
	groups = json_array();
	for (size_t a = 0; a < c.n_apps; a++) {
		json_t *pg = json_object_get(json_object_get(json_array_get(apps, a), "placement"),
		                             "groups");

		for (size_t k = 0; k < c.apps[a].n_picks; k++) {
			const pick *p = &c.apps[a].picks[k];
			char *line = bar_printf("%s+%s+%s", p->driver, p->region, p->type);

			json_array_append_new(groups, json_pack("{s:s, s:s, s:s, s:I}", "name", p->group,
			                                        "spec", line, "image", c.image, "count",
			                                        p->count));
			json_array_append_new(pg, json_string(p->group));
			free(line);
		}
	}
	doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:o}}", "apiVersion",
	                SPEC_API_VERSION, "kind", "MCI", "metadata", "name", o->pub.name,
	                "namespace", o->pub.ns, "labels", "barista.dev/derived", "true",
	                "barista.dev/mcapp", o->pub.name, "spec", "groups", groups);
	spec_ref_add(L, o, "mci", BAR_KIND_MCI, o->pub.name, rq, "field \"requirements\"");
	return doc;
}

void spec_derive(spec_load *L)
{
	size_t n_all = L->cfg->n_all, i;
	derived d = {json_object(), json_array()};
	json_t *key;

	/* first the MCIs of MCApps' requirements, whose groups are lines */
	for (size_t k = 0; k < n_all; k++) {
		spec_obj *o = L->cfg->all[k];
		json_t *doc;
		char *text, *file;

		if (o->pub.kind != BAR_KIND_MCAPP || o->broken ||
		    !json_object_get(o->pub.attrs, "requirements"))
			continue;
		L->obj = o;
		L->file = o->pub.loc.file;
		spec_scope_clear(L);
		if (!(doc = derive_mcapp(L, o, n_all)))
			continue;
		text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		file = bar_printf("(derived MCI/%s/%s)", o->pub.ns, o->pub.name);
		spec_load_text(L, file, "/", text);
		free(text);
		free(file);
		json_decref(doc);
	}
	spec_scope_clear(L);
	n_all = L->cfg->n_all;
	for (size_t k = 0; k < n_all; k++) {
		spec_obj *o = L->cfg->all[k];

		if (o->pub.kind != BAR_KIND_MCI)
			continue;
		for (size_t j = 0; j < o->n_groups; j++) {
			if (!o->groups[j].line_driver || !o->groups[j].line_type)
				continue;
			L->obj = o;
			L->file = o->pub.loc.file;
			derive_group(L, &d, o, &o->groups[j], n_all);
		}
	}
	spec_scope_clear(L);
	json_array_foreach(d.order, i, key) {
		json_t *doc = json_object_get(d.docs, json_string_value(key));
		char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		char *file = bar_printf("(derived %s)", json_string_value(key));

		spec_load_text(L, file, "/", text);
		free(text);
		free(file);
	}
	L->obj = NULL;
	json_decref(d.docs);
	json_decref(d.order);
}
