/*
 * spec_check.c - pass 3 of loading: the checks that need more than one
 * object.  References are resolved within their namespace; then an MCI
 * group's MCIR must share the group's connection, its subnet must be in its
 * VNet and its security groups must belong to that VNet; an MCApp's
 * placement must name groups of its MCI; generated VM names must be valid
 * and unique per namespace; and neither dependsOn nor references may form
 * a cycle.
 *
 * Checks that read another object's attrs skip targets that had errors of
 * their own: those are reported already and their attrs are incomplete.
 * Two attributes default from another object and are filled here: a group's
 * subnet (the VNet's only subnet) and an app's placement (every group).
 */
#include "spec_internal.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CYCLE_TEXT_MAX 1024

/* Point diagnostics at object o (its file and prefix), without scope. */
static void focus(spec_load *L, spec_obj *o)
{
	L->obj = o;
	L->file = o->pub.loc.file;
	spec_scope_clear(L);
}

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

/* ---- graph ------------------------------------------------------------- */

void spec_graph_cycles(const spec_graph *g, spec_cycle_fn report, void *ctx)
{
	size_t n = g->n ? g->n : 1;
	unsigned char *color = bar_calloc(n, 1); /* 0 new, 1 on stack, 2 done */
	size_t *stack = bar_malloc(n * sizeof(*stack));
	size_t *next = bar_malloc(n * sizeof(*next));
	size_t *depth = bar_malloc(n * sizeof(*depth));
	size_t *path = bar_malloc((n + 1) * sizeof(*path));

	for (size_t root = 0; root < g->n; root++) {
		size_t sp = 0;

		if (color[root])
			continue;
		color[root] = 1;
		depth[root] = 0;
		stack[sp] = root;
		next[sp++] = g->start[root];
		while (sp) {
			size_t u = stack[sp - 1], e, v;

			if (next[sp - 1] >= g->start[u + 1]) {
				color[u] = 2;
				sp--;
				continue;
			}
			e = next[sp - 1]++;
			v = g->edges[e];
			if (color[v] == 0) {
				color[v] = 1;
				depth[v] = sp;
				stack[sp] = v;
				next[sp++] = g->start[v];
			} else if (color[v] == 1) {
				size_t len = 0;

				path[len++] = u;
				for (size_t k = depth[v]; k < sp; k++)
					path[len++] = stack[k];
				report(ctx, path, len, e);
			}
		}
	}
	free(color);
	free(stack);
	free(next);
	free(depth);
	free(path);
}

/* ---- namespaces and references ----------------------------------------- */

static void check_namespaces(spec_load *L)
{
	bar_config *cfg = L->cfg;

	for (size_t i = 0; i < cfg->n_all; i++) {
		spec_obj *o = cfg->all[i];

		if (!o->ns_node || strcmp(o->pub.ns, "default") == 0 ||
		    spec_table_find(cfg, BAR_KIND_NAMESPACE, o->pub.ns, o->pub.ns))
			continue;
		focus(L, o);
		spec_diag(L, o->ns_node, "namespace \"%s\" is not declared; add a Namespace "
		          "document named \"%s\"", o->pub.ns, o->pub.ns);
	}
}

/* An unknown reference: say so, and point at another namespace that has an
 * object of that name, since that is the usual mistake. */
static void report_unknown(spec_load *L, spec_obj *o, const spec_refx *r,
                           spec_obj **namespaces, size_t n_ns)
{
	const char *other = NULL;

	if (strcmp(o->pub.ns, "default") != 0 &&
	    spec_table_find(L->cfg, r->ref.kind, "default", r->ref.name))
		other = "default";
	for (size_t i = 0; !other && i < n_ns; i++) {
		const char *ns = namespaces[i]->pub.name;

		if (strcmp(ns, o->pub.ns) != 0 &&
		    spec_table_find(L->cfg, r->ref.kind, ns, r->ref.name))
			other = ns;
	}
	focus(L, o);
	if (other)
		spec_diag_loc(L, r->ref.loc.file, r->ref.loc.line, r->ref.loc.col,
		              "%s references unknown %s \"%s\" in namespace \"%s\"; namespace "
		              "\"%s\" has one, but references never cross namespaces",
		              r->scope, bar_kind_type(r->ref.kind), r->ref.name, o->pub.ns,
		              other);
	else
		spec_diag_loc(L, r->ref.loc.file, r->ref.loc.line, r->ref.loc.col,
		              "%s references unknown %s \"%s\"", r->scope,
		              bar_kind_type(r->ref.kind), r->ref.name);
}

static void resolve_refs(spec_load *L)
{
	bar_config *cfg = L->cfg;
	spec_obj **namespaces = bar_malloc((cfg->n_all + 1) * sizeof(*namespaces));
	size_t n_ns = 0;

	for (size_t i = 0; i < cfg->n_all; i++)
		if (cfg->all[i]->registered && cfg->all[i]->pub.kind == BAR_KIND_NAMESPACE)
			namespaces[n_ns++] = cfg->all[i];
	for (size_t i = 0; i < cfg->n_all; i++) {
		spec_obj *o = cfg->all[i];

		for (size_t r = 0; r < o->n_refx; r++) {
			spec_refx *x = &o->refx[r];

			x->target = spec_table_find(cfg, x->ref.kind, o->pub.ns, x->ref.name);
			if (!x->target)
				report_unknown(L, o, x, namespaces, n_ns);
		}
	}
	free(namespaces);
}

/* ---- per-kind checks ---------------------------------------------------- */

static spec_obj *find_in(spec_load *L, spec_obj *o, bar_kind kind, const char *name)
{
	return spec_table_find(L->cfg, kind, o->pub.ns, name);
}

static void check_sg_vnet(spec_load *L, spec_obj *o)
{
	const char *vnet = jstr(o->pub.attrs, "vnet");
	spec_obj *t = find_in(L, o, BAR_KIND_VNET, vnet);

	if (t && t->pub.connection && strcmp(t->pub.connection, o->pub.connection) != 0)
		spec_diag(L, bar_ymap_get(o->spec, "vnet"), "vnet \"%s\" is on connection "
		          "\"%s\", but the security group is on connection \"%s\"", vnet,
		          t->pub.connection, o->pub.connection);
}

/* The MCIR `field` of a group must be on the group's connection. */
static spec_obj *group_target(spec_load *L, spec_obj *o, const bar_ynode *at,
                              bar_kind kind, const char *name, const char *conn)
{
	spec_obj *t = find_in(L, o, kind, name);

	if (t && t->pub.connection && strcmp(t->pub.connection, conn) != 0) {
		spec_diag(L, at, "%s \"%s\" is on connection \"%s\", but the group is on "
		          "connection \"%s\"", bar_kind_type(kind), name, t->pub.connection,
		          conn);
		return NULL;
	}
	return t && !t->broken ? t : NULL;
}

static void subnet_names(const json_t *subnets, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_array_size(subnets) && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
		                 jstr(json_array_get(subnets, i), "name"));

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Where to point at a group's field: its own node, or for what a group in
 * one line derived (spec_derive.c), the line. */
static const bar_ynode *group_at(const spec_group *g, int field)
{
	return g->f[field] ? g->f[field] : g->f[SPEC_G_SPEC];
}

/* The group's subnet must be one of its VNet's; without one, the VNet must
 * have exactly one, which becomes the group's. */
static void group_subnet(spec_load *L, const spec_group *g, const spec_obj *vnet)
{
	const json_t *subnets = json_object_get(vnet->pub.attrs, "subnets");
	const bar_ynode *want = g->f[SPEC_G_SUBNET];
	char names[512];

	if (spec_absent(want) && json_array_size(subnets) == 1) {
		json_object_set_new(g->json, "subnet",
		                    spec_jstr(jstr(json_array_get(subnets, 0), "name")));
		return;
	}
	for (size_t i = 0; !spec_absent(want) && i < json_array_size(subnets); i++)
		if (strcmp(jstr(json_array_get(subnets, i), "name"), want->u.str) == 0)
			return;
	subnet_names(subnets, names, sizeof(names));
	if (spec_absent(want))
		spec_diag(L, group_at(g, SPEC_G_VNET), "vnet \"%s\" has several subnets (%s); "
		          "choose one with subnet", vnet->pub.name, names);
	else
		spec_diag(L, want, "subnet \"%s\" is not a subnet of vnet \"%s\" (its "
		          "subnets: %s)", want->u.str, vnet->pub.name, names);
}

static void check_group_mcir(spec_load *L, spec_obj *o, const spec_group *g)
{
	static const struct { int field; bar_kind kind; const char *key; } single[] = {
		{ SPEC_G_SPEC, BAR_KIND_SPEC, "spec" }, { SPEC_G_IMAGE, BAR_KIND_IMAGE, "image" },
		{ SPEC_G_SSHKEY, BAR_KIND_SSHKEY, "sshKey" },
	};
	/* names from the normalised group, which has the derived ones too */
	const char *conn = jstr(g->json, "connection");
	const char *vnet_name = jstr(g->json, "vnet");
	const json_t *sg_names = json_object_get(g->json, "securityGroups");
	const bar_ynode *sgs = g->f[SPEC_G_SGS];
	spec_obj *vnet;

	/* an unknown connection or vnet is reported already: comparing the
	 * MCIR with it would only repeat that */
	if (!find_in(L, o, BAR_KIND_CONNECTION, conn))
		return;
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		group_target(L, o, group_at(g, single[i].field), single[i].kind,
		             jstr(g->json, single[i].key), conn);
	vnet = group_target(L, o, group_at(g, SPEC_G_VNET), BAR_KIND_VNET, vnet_name, conn);
	if (vnet)
		group_subnet(L, g, vnet);
	for (size_t i = 0; i < json_array_size(sg_names); i++) {
		const char *name = json_string_value(json_array_get(sg_names, i));
		const bar_ynode *at = !spec_absent(sgs) && i < sgs->n ? &sgs->u.items[i]
		                                                      : g->f[SPEC_G_SPEC];
		spec_obj *sg = group_target(L, o, at, BAR_KIND_SECURITYGROUP, name, conn);
		const char *sg_vnet = sg ? jstr(sg->pub.attrs, "vnet") : NULL;

		if (sg_vnet && strcmp(sg_vnet, vnet_name) != 0 &&
		    find_in(L, o, BAR_KIND_VNET, vnet_name))
			spec_diag(L, at, "security group \"%s\" belongs to vnet \"%s\", not to "
			          "the group's vnet \"%s\"", name, sg_vnet, vnet_name);
	}
}

static void check_mci(spec_load *L, spec_obj *o)
{
	for (size_t i = 0; i < o->n_groups; i++) {
		spec_scope_name(L, "group", o->groups[i].f[SPEC_G_NAME]->u.str);
		check_group_mcir(L, o, &o->groups[i]);
	}
	spec_scope_clear(L);
}

/* Does group g (its attrs) carry every label of want? */
static int labels_match(const json_t *g, const json_t *want)
{
	const json_t *have = json_object_get(g, "labels"), *v;
	const char *k;

	json_object_foreach((json_t *)want, k, v) {
		const char *h = json_string_value(json_object_get(have, k));
		if (!h || strcmp(h, json_string_value(v)) != 0)
			return 0;
	}
	return 1;
}

/* Placement names groups of the MCI (without it, every group), narrowed
 * to the groups carrying all of placement.labels; `groups` is replaced by
 * the groups the app runs on, and placement.count may not exceed their VMs. */
static void check_mcapp(spec_load *L, spec_obj *o)
{
	const char *mci_name = jstr(o->pub.attrs, "mci");
	spec_obj *mci = find_in(L, o, BAR_KIND_MCI, mci_name);
	const json_t *apps = json_object_get(o->pub.attrs, "apps");
	const json_t *mgroups;
	const bar_ynode *seq = bar_ymap_get(o->spec, "apps");
	spec_index ix;

	if (!mci || mci->broken)
		return;
	mgroups = json_object_get(mci->pub.attrs, "groups");
	spec_index_init(&ix, mci->n_groups);
	for (size_t g = 0; g < mci->n_groups; g++)
		spec_index_put(&ix, mci->groups[g].f[SPEC_G_NAME]->u.str, g);
	for (size_t i = 0; i < json_array_size(apps); i++) {
		json_t *app = json_array_get(apps, i);
		json_t *placement = json_object_get(app, "placement");
		const json_t *want = json_object_get(placement, "groups");
		const json_t *labels = json_object_get(placement, "labels");
		const bar_ynode *pnode = bar_ymap_get(&seq->u.items[i], "placement");
		const bar_ynode *nodes = bar_ymap_get(pnode, "groups");
		json_t *chosen = json_array();
		json_int_t vms = 0, count = json_integer_value(json_object_get(placement, "count"));
		int bad = 0;

		spec_scope_name(L, "app", jstr(app, "name"));
		for (size_t k = 0; k < json_array_size(want); k++) {
			const char *g = json_string_value(json_array_get(want, k));

			if (!spec_index_get(&ix, g)) {
				spec_diag(L, &nodes->u.items[k], "placement group \"%s\" is not a "
				          "group of mci \"%s\"", g, mci_name);
				bad = 1;
			}
		}
		for (size_t g = 0; !bad && g < json_array_size(mgroups); g++) {
			const json_t *grp = json_array_get(mgroups, g);
			const char *gname = jstr(grp, "name");
			int named = json_array_size(want) == 0;

			for (size_t k = 0; !named && k < json_array_size(want); k++)
				named = !strcmp(json_string_value(json_array_get(want, k)), gname);
			if (named && labels_match(grp, labels)) {
				json_array_append_new(chosen, spec_jstr(gname));
				vms += json_integer_value(json_object_get(grp, "count"));
			}
		}
		if (!bad && json_array_size(chosen) == 0)
			spec_diag(L, pnode ? pnode : &seq->u.items[i], "placement matches no group of mci "
			          "\"%s\"; check placement.groups and placement.labels against the "
			          "groups' labels", mci_name);
		else if (!bad && count > vms)
			spec_diag(L, bar_ymap_get(pnode, "count"), "placement.count is %lld but the "
			          "groups it places on have %lld VMs", (long long)count, (long long)vms);
		json_object_set_new(placement, "groups", chosen);
		spec_scope_clear(L);
	}
	spec_index_free(&ix);
}

/* ---- generated VM names -------------------------------------------------- */

typedef struct vm_entry {
	uint64_t hash;
	const char *ns;
	const char *name;
	const spec_obj *mci;
	const char *group;
	int line;
} vm_entry;

typedef struct vm_set {
	vm_entry **slots;
	size_t cap; /* power of two, at least twice the entries */
} vm_set;

/* Insert; returns the existing entry when the name is taken. */
static const vm_entry *vm_set_add(vm_set *s, vm_entry *e)
{
	size_t mask = s->cap - 1, i;

	for (i = e->hash & mask; s->slots[i]; i = (i + 1) & mask)
		if (s->slots[i]->hash == e->hash && strcmp(s->slots[i]->name, e->name) == 0 &&
		    strcmp(s->slots[i]->ns, e->ns) == 0)
			return s->slots[i];
	s->slots[i] = e;
	return NULL;
}

static size_t put_uint(char *buf, uint64_t v)
{
	char digits[24];
	size_t k = 0, n = 0;

	do
		digits[k++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (k)
		buf[n++] = digits[--k];
	return n;
}

static void group_vm_names(spec_load *L, vm_set *set, spec_obj *o, const spec_group *g)
{
	const bar_ynode *name_node = g->f[SPEC_G_NAME];
	const char *group = name_node->u.str;
	size_t mlen = strlen(o->pub.name), glen = strlen(group), len;
	char buf[SPEC_NAME_MAX * 2 + 32];
	uint64_t ns_hash = bar_hash64(o->pub.ns, strlen(o->pub.ns) + 1, BAR_HASH64_SEED);

	/* "<mci>-<group>-" then the index; the longest index is the count */
	memcpy(buf, o->pub.name, mlen);
	buf[mlen] = '-';
	memcpy(buf + mlen + 1, group, glen);
	buf[mlen + 1 + glen] = '-';
	len = mlen + glen + 2 + put_uint(buf + mlen + glen + 2, (uint64_t)g->count);
	if (len > SPEC_NAME_MAX) {
		buf[len] = '\0';
		spec_diag(L, name_node, "generates VM names up to \"%s\" (%zu characters); VM "
		          "names are at most %d characters: shorten the MCI or group name",
		          buf, len, SPEC_NAME_MAX);
		return;
	}
	for (int64_t i = 1; i <= g->count; i++) {
		vm_entry *e = bar_arena_alloc(&L->scratch, sizeof(*e));
		const vm_entry *old;

		len = mlen + glen + 2 + put_uint(buf + mlen + glen + 2, (uint64_t)i);
		e->name = bar_arena_strndup(&L->scratch, buf, len);
		e->ns = o->pub.ns;
		e->hash = bar_hash64(e->name, len, ns_hash);
		e->mci = o;
		e->group = group;
		e->line = name_node->line;
		old = vm_set_add(set, e);
		if (old) {
			spec_diag(L, name_node, "generates VM name \"%s\", which mci \"%s\" "
			          "group \"%s\" (%s:%d) also generates; rename one of the "
			          "groups", e->name, old->mci->pub.name, old->group,
			          old->mci->pub.loc.file, old->line);
			return;
		}
	}
}

static void check_vm_names(spec_load *L)
{
	bar_config *cfg = L->cfg;
	size_t total = 0;
	vm_set set;

	for (size_t i = 0; i < cfg->n_all; i++) {
		spec_obj *o = cfg->all[i];

		if (o->pub.kind == BAR_KIND_MCI && o->registered && !o->broken)
			for (size_t g = 0; g < o->n_groups; g++)
				total += (size_t)o->groups[g].count;
	}
	for (set.cap = 16; set.cap < total * 2; set.cap *= 2)
		;
	set.slots = bar_calloc(set.cap, sizeof(*set.slots));
	for (size_t i = 0; i < cfg->n_all; i++) {
		spec_obj *o = cfg->all[i];

		if (o->pub.kind != BAR_KIND_MCI || !o->registered || o->broken)
			continue;
		focus(L, o);
		for (size_t g = 0; g < o->n_groups; g++) {
			spec_scope_name(L, "group", o->groups[g].f[SPEC_G_NAME]->u.str);
			group_vm_names(L, &set, o, &o->groups[g]);
		}
		spec_scope_clear(L);
	}
	free(set.slots);
}

/* ---- dependency cycles --------------------------------------------------- */

typedef struct obj_graph {
	spec_load *L;
	spec_obj **nodes;
	const spec_refx **edge_ref;
} obj_graph;

static void obj_cycle(void *ctx, const size_t *path, size_t len, size_t edge)
{
	obj_graph *og = ctx;
	bar_buf text = BAR_BUF_INIT(CYCLE_TEXT_MAX);
	const spec_refx *r = og->edge_ref[edge];

	for (size_t i = 0; i < len; i++) {
		const spec_obj *o = og->nodes[path[i]];

		if (bar_buf_printf(&text, "%s%s/%s", i ? " -> " : "",
		                   bar_kind_name(o->pub.kind), o->pub.name) < 0) {
			bar_buf_puts(&text, " ...");
			break;
		}
	}
	focus(og->L, og->nodes[path[0]]);
	spec_diag_loc(og->L, r->ref.loc.file, r->ref.loc.line, r->ref.loc.col,
	              "dependency cycle: %s", text.data ? text.data : "");
	bar_buf_free(&text);
}

/* Every resolved reference and dependsOn entry is an ordering edge. */
static void check_cycles(spec_load *L)
{
	bar_config *cfg = L->cfg;
	spec_obj **nodes = bar_malloc((cfg->n_all + 1) * sizeof(*nodes));
	size_t n = 0, n_edges = 0, e = 0;
	size_t *start, *edges;
	const spec_refx **edge_ref;
	obj_graph og;
	spec_graph g;

	for (size_t i = 0; i < cfg->n_all; i++)
		if (cfg->all[i]->registered) {
			nodes[n++] = cfg->all[i];
			n_edges += cfg->all[i]->n_refx;
		}
	qsort(nodes, n, sizeof(*nodes), spec_obj_order_cmp);
	for (size_t i = 0; i < n; i++)
		nodes[i]->mark = (int)i;
	start = bar_malloc((n + 1) * sizeof(*start));
	edges = bar_malloc((n_edges + 1) * sizeof(*edges));
	edge_ref = bar_malloc((n_edges + 1) * sizeof(*edge_ref));
	for (size_t i = 0; i < n; i++) {
		start[i] = e;
		for (size_t r = 0; r < nodes[i]->n_refx; r++)
			if (nodes[i]->refx[r].target) {
				edge_ref[e] = &nodes[i]->refx[r];
				edges[e++] = (size_t)nodes[i]->refx[r].target->mark;
			}
	}
	start[n] = e;
	g.n = n;
	g.start = start;
	g.edges = edges;
	og.L = L;
	og.nodes = nodes;
	og.edge_ref = edge_ref;
	spec_graph_cycles(&g, obj_cycle, &og);
	free(nodes);
	free(start);
	free(edges);
	free(edge_ref);
}

void spec_cross_check(spec_load *L)
{
	bar_config *cfg = L->cfg;

	L->cross = 1; /* `broken` keeps meaning "its own schema had errors" */
	check_namespaces(L);
	resolve_refs(L);
	for (size_t i = 0; i < cfg->n_all; i++) {
		spec_obj *o = cfg->all[i];

		if (!o->registered || o->broken)
			continue;
		focus(L, o);
		if (o->pub.kind == BAR_KIND_SECURITYGROUP)
			check_sg_vnet(L, o);
		else if (o->pub.kind == BAR_KIND_MCI)
			check_mci(L, o);
		else if (o->pub.kind == BAR_KIND_MCAPP)
			check_mcapp(L, o);
	}
	check_vm_names(L);
	check_cycles(L);
	L->obj = NULL;
}
