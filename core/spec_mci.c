/*
 * spec_mci.c - the schema of the MCI kind (groups of VMs built from MCIR
 * objects); MCApp is in spec_mcapp.c and MonitoringPolicy in spec_monitor.c.
 *
 * What can be checked inside one document is checked here (group names
 * unique, bastions).
 * What needs other objects (the MCIR a group names, the MCI's groups an app
 * is placed on, generated VM names) is checked in spec_check.c; the two
 * attributes that default from another object (a group's subnet, an app's
 * placement) are filled in there too.
 */
#include "spec_internal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define GROUP_COUNT_MAX 1000

static void set_str(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, spec_jstr(value));
}

/* ---- MCI --------------------------------------------------------------- */

typedef struct group_ctx {
	spec_obj *o;
	const bar_ynode *item;
	const char *role;  /* "groups[seoul]" (arena) */
	const char *scope; /* `group "seoul"` (arena) */
	json_t *json;
} group_ctx;

/* A required name field of a group that references an object. */
static void group_ref(spec_load *L, group_ctx *g, const bar_ynode *v,
                      const char *field, bar_kind kind)
{
	const char *s = "";

	if (spec_name(L, &s, g->item, v, field) == 0)
		spec_ref_add(L, g->o, bar_arena_cat(&L->cfg->arena, g->role, ".", field),
		             kind, s, v, g->scope);
	set_str(g->json, field, s);
}

static void group_security_groups(spec_load *L, group_ctx *g, const bar_ynode *v)
{
	json_t *arr = json_array();
	const bar_ynode *seq;
	const char *role;

	json_object_set_new(g->json, "securityGroups", arr);
	if (spec_seq(L, &seq, g->item, v, "securityGroups", 0) < 0 || !seq)
		return;
	role = bar_arena_cat(&L->cfg->arena, g->role, ".securityGroups", NULL);
	for (uint32_t i = 0; i < seq->n; i++) {
		const bar_ynode *item = &seq->u.items[i];
		const char *s;
		int dup = 0;

		if (i == SPEC_GROUP_SGS_MAX) {
			spec_diag(L, item, "a group has at most %d security groups",
			          SPEC_GROUP_SGS_MAX);
			break;
		}
		if (spec_name(L, &s, seq, item, "securityGroups") < 0)
			continue;
		for (uint32_t j = 0; j < i && !dup; j++)
			dup = seq->u.items[j].type == BAR_Y_SCALAR &&
			      strcmp(seq->u.items[j].u.str, s) == 0;
		if (dup) {
			spec_diag(L, item, "security group \"%s\" is listed twice", s);
			continue;
		}
		spec_ref_add(L, g->o, role, BAR_KIND_SECURITYGROUP, s, item, g->scope);
		json_array_append_new(arr, spec_jstr(s));
	}
}

/* bastion: {group: G}: the group's VMs are reached through a VM of G.
 * Absent when not set, so other groups normalise as before. */
static void group_bastion(spec_load *L, group_ctx *g, const bar_ynode *v)
{
	static const char *const known[] = { "group", NULL };
	const bar_ynode *map, *f[1];
	const char *via;

	if (spec_map(L, &map, g->item, v, "bastion", 0) < 0 || !map)
		return;
	if (spec_fields(L, map, "bastion", known, f) < 0)
		return;
	if (spec_name(L, &via, map, f[0], "group") == 0)
		set_str(g->json, "bastion", via);
}

/* postCommands: shell command lines run on each new VM, in order. */
static void group_post_commands(spec_load *L, group_ctx *g, const bar_ynode *v)
{
	json_t *arr;
	const bar_ynode *seq;

	/* absent when empty: groups without them normalise as before */
	if (spec_seq(L, &seq, g->item, v, "postCommands", 0) < 0 || !seq || seq->n == 0)
		return;
	arr = json_array();
	json_object_set_new(g->json, "postCommands", arr);
	for (uint32_t i = 0; i < seq->n; i++) {
		const bar_ynode *item = &seq->u.items[i];

		if (i == SPEC_POST_MAX) {
			spec_diag(L, item, "a group has at most %d postCommands", SPEC_POST_MAX);
			break;
		}
		if (item->type != BAR_Y_SCALAR) {
			spec_diag(L, item, "postCommands[%u] must be a string (a command line); "
			          "quote it when it contains \": \" or starts with a YAML symbol",
			          i + 1);
			continue;
		}
		if (item->n == 0 || item->n > SPEC_POST_LEN_MAX || memchr(item->u.str, '\0', item->n)) {
			spec_diag(L, item, "postCommands[%u] must be a command line of 1 to %d bytes",
			          i + 1, SPEC_POST_LEN_MAX);
			continue;
		}
		json_array_append_new(arr, spec_jstr(item->u.str));
	}
}

/*
 * `spec: DRIVER+REGION+TYPE` (CB-Tumblebug's dynamic MCI): the group names
 * an instance type of a driver's catalogue instead of Spec and Image
 * objects, and its connection, VNet, security group and SSH key are derived
 * (spec_derive.c).  Returns 1 when the group is written so (its parts
 * recorded in out, its explicit vnet checked here), else 0.
 */
static int group_line(spec_load *L, spec_group *out, group_ctx *g)
{
	const bar_ynode *v = out->f[SPEC_G_SPEC], *img = out->f[SPEC_G_IMAGE];
	const char *text, *p1, *p2;

	if (!v || v->type != BAR_Y_SCALAR || !strchr(v->u.str, '+'))
		return 0;
	text = v->u.str;
	p1 = strchr(text, '+');
	p2 = strchr(p1 + 1, '+');
	if (p1 == text || !p2 || p2 == p1 + 1 || !p2[1] || strchr(p2 + 1, '+')) {
		out->line_driver = ""; /* in one line, but not checkable */
		spec_diag(L, v, "field \"spec\" \"%.120s\" must be DRIVER+REGION+TYPE (e.g. "
		          "aws+ap-northeast-2+t3.small) or the name of a Spec", text);
		return 1;
	}
	out->line_driver = bar_arena_strndup(&L->cfg->arena, text, (size_t)(p1 - text));
	out->line_region = bar_arena_strndup(&L->cfg->arena, p1 + 1, (size_t)(p2 - p1 - 1));
	out->line_type = bar_arena_strdup(&L->cfg->arena, p2 + 1);
	if (!spec_absent(out->f[SPEC_G_CONNECTION]))
		spec_diag(L, out->f[SPEC_G_CONNECTION], "a group whose spec is DRIVER+REGION+TYPE "
		          "takes its connection from it; remove \"connection\"");
	if (spec_absent(img) || img->type != BAR_Y_SCALAR || !img->n)
		spec_diag(L, img ? img : g->item, "a group whose spec is DRIVER+REGION+TYPE needs "
		          "\"image\": an image of the driver's catalogue (such as ubuntu-22.04) "
		          "or the name of an Image");
	else
		out->line_image = bar_arena_strdup(&L->cfg->arena, img->u.str);
	set_str(g->json, "connection", "");
	set_str(g->json, "spec", "");
	set_str(g->json, "image", "");
	if (!spec_absent(out->f[SPEC_G_VNET]))
		group_ref(L, g, out->f[SPEC_G_VNET], "vnet", BAR_KIND_VNET);
	else
		set_str(g->json, "vnet", "");
	return 1;
}

static void check_group(spec_load *L, spec_obj *o, spec_group *out,
                        const bar_ynode *item, uint32_t index, spec_index *ix,
                        const bar_ynode **names)
{
	static const char *const known[] = { "name", "connection", "spec", "image", "vnet",
	                                     "subnet", "securityGroups", "sshKey", "count",
	                                     "labels", "postCommands", "bastion", NULL };
	static const int64_t one = 1;
	const bar_ynode **f = out->f;
	const char *name = NULL, *subnet;
	json_t *labels = NULL;
	group_ctx g = { o, item, NULL, NULL, json_object() };

	out->json = g.json;
	out->count = 1;
	spec_scope_item(L, "group", item, index + 1);
	if (spec_fields(L, item, "group", known, f) < 0 && item->type != BAR_Y_MAP)
		return;
	if (spec_name(L, &name, item, f[SPEC_G_NAME], "name") == 0) {
		if (!spec_name_taken(L, ix, names, f[SPEC_G_NAME], index, "group"))
			names[index] = f[SPEC_G_NAME];
	}
	g.role = name ? bar_arena_cat(&L->cfg->arena, "groups[", name, "]")
	              : bar_arena_printf(&L->cfg->arena, "groups[%u]", index + 1);
	g.scope = bar_arena_strdup(&L->cfg->arena, L->scope);
	set_str(g.json, "name", name ? name : "");
	out->role = g.role;
	out->scope = g.scope;
	if (group_line(L, out, &g)) {
		/* spec_derive.c adds the references the line implies */
	} else {
		group_ref(L, &g, f[SPEC_G_CONNECTION], "connection", BAR_KIND_CONNECTION);
		group_ref(L, &g, f[SPEC_G_SPEC], "spec", BAR_KIND_SPEC);
		group_ref(L, &g, f[SPEC_G_IMAGE], "image", BAR_KIND_IMAGE);
		group_ref(L, &g, f[SPEC_G_VNET], "vnet", BAR_KIND_VNET);
	}
	if (!spec_absent(f[SPEC_G_SUBNET]) &&
	    spec_name(L, &subnet, item, f[SPEC_G_SUBNET], "subnet") == 0)
		set_str(g.json, "subnet", subnet);
	else
		json_object_set_new(g.json, "subnet", json_null()); /* spec_check.c fills it */
	group_security_groups(L, &g, f[SPEC_G_SGS]);
	if (!out->line_driver || !spec_absent(f[SPEC_G_SSHKEY]))
		group_ref(L, &g, f[SPEC_G_SSHKEY], "sshKey", BAR_KIND_SSHKEY);
	spec_int(L, &out->count, item, f[SPEC_G_COUNT], "count", &one, 1, GROUP_COUNT_MAX);
	json_object_set_new(g.json, "count", json_integer(out->count));
	if (spec_strmap(L, &labels, f[SPEC_G_LABELS], "labels", 0) < 0)
		labels = json_object();
	json_object_set_new(g.json, "labels", labels);
	group_post_commands(L, &g, f[SPEC_G_POST]);
	group_bastion(L, &g, f[SPEC_G_BASTION]);
}

/* Each bastion names another group of the MCI, one without a bastion of its
 * own (one hop: the bastion must be reachable from the host). */
static void check_bastions(spec_load *L, const spec_obj *o, const spec_index *ix)
{
	for (size_t i = 0; i < o->n_groups; i++) {
		const char *via = json_string_value(json_object_get(o->groups[i].json, "bastion"));
		const char *name = json_string_value(json_object_get(o->groups[i].json, "name"));
		const bar_ynode *at = o->groups[i].f[SPEC_G_BASTION];
		const size_t *j = via ? spec_index_get(ix, via) : NULL;

		if (!via)
			continue;
		if (!j)
			spec_diag(L, at, "group \"%s\": bastion group \"%s\" is not a group of "
			          "this MCI", name, via);
		else if (*j == i)
			spec_diag(L, at, "group \"%s\" cannot be its own bastion", name);
		else if (json_object_get(o->groups[*j].json, "bastion"))
			spec_diag(L, at, "group \"%s\": bastion group \"%s\" is itself reached "
			          "through a bastion; only one hop is supported", name, via);
	}
}

/* overlay: {cidr, port} or true (docs/overlay.md): a WireGuard overlay
 * over the MCI's VMs.  Normalised into attrs "overlay" as {"cidr","port"};
 * left out when not asked for (absent, null or false). */
#define OVERLAY_CIDR "10.250.0.0/16"
#define OVERLAY_PORT 51820

static void check_overlay(spec_load *L, spec_obj *o, json_t *attrs, const bar_ynode *v)
{
	static const char *const known[] = { "cidr", "port", NULL };
	static const int64_t defport = OVERLAY_PORT;
	const bar_ynode *f[2] = { NULL, NULL }, *at;
	const char *cidr = OVERLAY_CIDR;
	int64_t port = OVERLAY_PORT, vms = 0;
	uint32_t addr;
	int prefix, on;
	char fixed[32];

	if (spec_absent(v))
		return;
	if (v->type == BAR_Y_SCALAR && bar_ynode_is_bool(v, &on)) {
		if (!on)
			return;
	} else if (v->type != BAR_Y_MAP) {
		spec_diag(L, v, "field \"overlay\" must be true or a mapping {cidr, port}");
		return;
	} else {
		if (spec_fields(L, v, "overlay", known, f) < 0)
			return;
		if (spec_str(L, &cidr, v, f[0], "overlay.cidr", OVERLAY_CIDR) < 0 ||
		    spec_int(L, &port, v, f[1], "overlay.port", &defport, 1, 65535) < 0)
			return;
	}
	at = f[0] ? f[0] : v;
	if (spec_cidr_parse(cidr, &addr, &prefix) < 0) {
		spec_diag(L, at,
		          "field \"overlay.cidr\" must be an IPv4 CIDR like \"%s\", got \"%.80s\"",
		          OVERLAY_CIDR, cidr);
		return;
	}
	if (prefix < 8 || prefix > 28) {
		spec_diag(L, at, "field \"overlay.cidr\": the prefix must be between /8 and "
		          "/28, got \"%s\"", cidr);
		return;
	}
	if (addr & ~spec_cidr_mask(prefix)) {
		spec_diag(L, at, "field \"overlay.cidr\": \"%s\" has host bits set; did you "
		          "mean \"%s\"?", cidr,
		          spec_cidr_format(fixed, sizeof(fixed), addr & spec_cidr_mask(prefix),
		                           prefix));
		return;
	}
	for (size_t i = 0; i < o->n_groups; i++)
		vms += o->groups[i].count;
	if (vms > ((int64_t)1 << (32 - prefix)) - 2) {
		spec_diag(L, at, "field \"overlay.cidr\": \"%s\" has room for %lld VMs, the MCI has %lld",
		          cidr, (long long)(((int64_t)1 << (32 - prefix)) - 2), (long long)vms);
		return;
	}
	{
		json_t *ov = json_object();

		json_object_set_new(ov, "cidr", spec_jstr(cidr));
		json_object_set_new(ov, "port", json_integer(port));
		json_object_set_new(attrs, "overlay", ov);
	}
}

void spec_check_mci(spec_load *L, spec_obj *o)
{
	static const char *const known[] = { "description", "state", "groups",
	                                     "policyOnPartialFailure", "overlay", NULL };
	static const char *const states[] = { "Running", "Suspended", NULL };
	static const char *const policies[] = { "continue", "rollback", "refine", NULL };
	const bar_ynode *f[5], *spec = o->spec, *seq, **names;
	const char *desc = "", *state = "Running", *policy = "continue";
	json_t *attrs = json_object(), *groups = json_array();
	spec_index ix;

	o->pub.attrs = attrs;
	spec_fields(L, spec, "MCI spec", known, f);
	spec_str(L, &desc, spec, f[0], "description", "");
	spec_enum(L, &state, spec, f[1], "state", states, "Running", 1);
	spec_enum(L, &policy, spec, f[3], "policyOnPartialFailure", policies, "continue", 1);
	set_str(attrs, "description", desc);
	set_str(attrs, "state", state);
	if (strcmp(policy, "continue") != 0) /* the default is left out of the normal form */
		set_str(attrs, "policyOnPartialFailure", policy);
	json_object_set_new(attrs, "groups", groups);
	if (spec_seq(L, &seq, spec, f[2], "groups", 1) < 0)
		return;
	if (seq->n == 0) {
		spec_diag(L, seq, "field \"groups\" must list at least one group");
		return;
	}
	names = bar_calloc(seq->n, sizeof(*names));
	spec_index_init(&ix, seq->n);
	o->groups = bar_arena_alloc(&L->scratch, seq->n * sizeof(*o->groups));
	memset(o->groups, 0, seq->n * sizeof(*o->groups));
	o->n_groups = seq->n;
	for (uint32_t i = 0; i < seq->n; i++) {
		check_group(L, o, &o->groups[i], &seq->u.items[i], i, &ix, names);
		json_array_append_new(groups, o->groups[i].json);
	}
	spec_scope_clear(L);
	check_bastions(L, o, &ix);
	check_overlay(L, o, attrs, f[4]);
	spec_index_free(&ix);
	free(names);
}
