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
			        json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}, {s:s}]}", "connection", conn,
			                  "vnet", name, "ingress", "protocol", "tcp", "ports", "22",
			                  "cidr", "0.0.0.0/0", "protocol", "icmp"));
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

void spec_derive(spec_load *L)
{
	size_t n_all = L->cfg->n_all, i;
	derived d = {json_object(), json_array()};
	json_t *key;

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
