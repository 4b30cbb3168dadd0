/*
 * desired.c - turning validated spec objects into desired resources.
 *
 * Every object becomes one resource at "<ns>/<type>/<name>"; an MCI also
 * becomes one VM per member of each group, named "<mci>-<group>-<i>", which
 * is also the VM's hostname.  References become `refs` (what a provider
 * needs to see of other resources) and `deps` (what must exist first).
 */
#include "planner.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *provider_types[] = {"vnet", "securitygroup", "sshkey", "image",
                                       "spec", "vm", NULL};

int bar_type_is_provider(const char *type)
{
	for (int i = 0; provider_types[i]; i++)
		if (strcmp(type, provider_types[i]) == 0)
			return 1;
	return 0;
}

typedef struct builder {
	bar_desired *items;
	size_t n, cap;
} builder;

static char *address_of(const char *ns, const char *type, const char *name)
{
	return bar_printf("%s/%s/%s", ns, type, name);
}

static bar_desired *add(builder *b, const char *ns, const char *type, const char *name)
{
	bar_desired *d;

	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->items = bar_realloc(b->items, b->cap * sizeof(*b->items));
	}
	d = &b->items[b->n++];
	memset(d, 0, sizeof(*d));
	d->address = address_of(ns, type, name);
	d->type = type;
	d->ns = bar_strdup(ns);
	d->name = bar_strdup(name);
	d->refs = json_object();
	d->deps = json_array();
	return d;
}

static void dep_add(bar_desired *d, const char *ns, const char *type, const char *name)
{
	char *a = address_of(ns, type, name);

	json_array_append_new(d->deps, json_string(a));
	free(a);
}

/* Set refs[role] = address of (ns, type, name) and record the dependency. */
static void ref_add(bar_desired *d, const char *role, const char *type, const char *name)
{
	char *a;

	if (!name || !*name)
		return;
	a = address_of(d->ns, type, name);
	json_object_set_new(d->refs, role, json_string(a));
	json_array_append_new(d->deps, json_string(a));
	free(a);
}

static void ref_add_list(bar_desired *d, const char *role, const char *type,
                         const json_t *names)
{
	json_t *arr = json_array();
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		char *a = address_of(d->ns, type, json_string_value(v));

		json_array_append_new(arr, json_string(a));
		json_array_append_new(d->deps, json_string(a));
		free(a);
	}
	json_object_set_new(d->refs, role, arr);
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Dependencies every object has: a declared namespace, explicit dependsOn. */
static void common_deps(bar_desired *d, const bar_object *obj)
{
	if (strcmp(obj->ns, "default") != 0)
		dep_add(d, obj->ns, "namespace", obj->ns);
	for (size_t i = 0; i < obj->n_refs; i++)
		if (strcmp(obj->refs[i].role, "dependsOn") == 0)
			dep_add(d, obj->ns, bar_kind_type(obj->refs[i].kind), obj->refs[i].name);
}

static void add_vms(builder *b, const bar_object *mci)
{
	const json_t *groups = json_object_get(mci->attrs, "groups");
	size_t gi;
	json_t *g;

	json_array_foreach(groups, gi, g) {
		json_int_t count = json_integer_value(json_object_get(g, "count"));

		for (json_int_t i = 1; i <= count; i++) {
			char *name = bar_printf("%s-%s-%lld", mci->name, str(g, "name"),
			                        (long long)i);
			bar_desired *d = add(b, mci->ns, "vm", name);
			json_t *labels = json_deep_copy(mci->labels);

			json_object_update(labels, json_object_get(g, "labels"));
			d->connection = bar_strdup(str(g, "connection"));
			d->attrs = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:o}",
			                     "mci", mci->name, "group", str(g, "name"), "index",
			                     (json_int_t)i, "connection", d->connection, "spec",
			                     str(g, "spec"), "image", str(g, "image"), "vnet",
			                     str(g, "vnet"), "subnet", str(g, "subnet"),
			                     "securityGroups", json_object_get(g, "securityGroups"),
			                     "sshKey", str(g, "sshKey"), "state",
			                     str(mci->attrs, "state"), "labels", labels);
			dep_add(d, mci->ns, "connection", d->connection);
			dep_add(d, mci->ns, "mci", mci->name);
			ref_add(d, "spec", "spec", str(g, "spec"));
			ref_add(d, "image", "image", str(g, "image"));
			ref_add(d, "vnet", "vnet", str(g, "vnet"));
			ref_add(d, "sshKey", "sshkey", str(g, "sshKey"));
			ref_add_list(d, "securityGroups", "securitygroup",
			             json_object_get(g, "securityGroups"));
			common_deps(d, mci);
			free(name);
		}
	}
}

static void add_object(builder *b, const bar_object *obj)
{
	const char *type = bar_kind_type(obj->kind);
	const char *ns = obj->kind == BAR_KIND_NAMESPACE ? obj->name : obj->ns;
	bar_desired *d = add(b, ns, type, obj->name);

	d->attrs = json_deep_copy(obj->attrs);
	if (json_object_size(obj->labels))
		json_object_set(d->attrs, "labels", obj->labels);
	if (obj->connection) {
		d->connection = bar_strdup(obj->connection);
		dep_add(d, obj->ns, "connection", obj->connection);
	}
	if (obj->kind == BAR_KIND_SECURITYGROUP)
		ref_add(d, "vnet", "vnet", str(obj->attrs, "vnet"));
	if (obj->kind == BAR_KIND_MCAPP || obj->kind == BAR_KIND_MONITORINGPOLICY)
		ref_add(d, "mci", "mci", str(obj->attrs, "mci"));
	if (obj->kind != BAR_KIND_NAMESPACE)
		common_deps(d, obj);
	if (obj->kind == BAR_KIND_MCI)
		add_vms(b, obj);
}

static int cmp_desired(const void *a, const void *b)
{
	return strcmp(((const bar_desired *)a)->address, ((const bar_desired *)b)->address);
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	              json_string_value(*(json_t *const *)b));
}

/* Sort and de-duplicate an array of address strings in place. */
static void sort_unique(json_t *arr)
{
	size_t n = json_array_size(arr), w = 0;
	json_t **v = bar_malloc(n * sizeof(*v));
	json_t *out = json_array();

	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), cmp_json_str);
	for (size_t i = 0; i < n; i++) {
		if (w && strcmp(json_string_value(v[i]), json_string_value(v[w - 1])) == 0)
			continue;
		v[w++] = v[i];
		json_array_append(out, v[i]);
	}
	json_array_clear(arr);
	json_array_extend(arr, out);
	json_decref(out);
	free(v);
}

static void finish(bar_desired *d)
{
	d->text = json_dumps(d->attrs, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(d->hash, sizeof(d->hash), "%016llx",
	         (unsigned long long)bar_hash64(d->text, strlen(d->text), BAR_HASH64_SEED));
	sort_unique(d->deps);
}

int bar_desired_build(bar_desired_set *out, const bar_config *cfg)
{
	builder b = {NULL, 0, 0};
	size_t n = bar_config_count(cfg);

	for (size_t i = 0; i < n; i++) {
		const bar_object *obj = bar_config_get(cfg, i);

		/* The implicit "default" namespace is not recorded. */
		add_object(&b, obj);
	}
	for (size_t i = 0; i < b.n; i++)
		finish(&b.items[i]);
	if (b.n)
		qsort(b.items, b.n, sizeof(*b.items), cmp_desired);
	out->items = b.items;
	out->n = b.n;
	bar_map_init(&out->index, b.n);
	for (size_t i = 0; i < b.n; i++)
		bar_map_put(&out->index, b.items[i].address, &b.items[i]);
	return 0;
}

void bar_desired_set_clear(bar_desired_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		bar_desired *d = &s->items[i];

		free(d->address);
		free(d->ns);
		free(d->name);
		free(d->connection);
		free(d->text);
		json_decref(d->attrs);
		json_decref(d->refs);
		json_decref(d->deps);
	}
	free(s->items);
	bar_map_free(&s->index);
	memset(s, 0, sizeof(*s));
}

const bar_desired *bar_desired_find(const bar_desired_set *s, const char *address)
{
	return bar_map_get(&s->index, address);
}
