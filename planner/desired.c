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
#include "json.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct builder {
	bar_desired *items;
	size_t n, cap;
} builder;

static char *address_of(const char *ns, const char *type, const char *name)
{
	size_t a = strlen(ns), b = strlen(type), c = strlen(name);
	char *s = bar_malloc(a + b + c + 3);

	memcpy(s, ns, a);
	s[a] = '/';
	memcpy(s + a + 1, type, b);
	s[a + 1 + b] = '/';
	memcpy(s + a + b + 2, name, c + 1);
	return s;
}

/* The same into a caller's buffer (hot path: no allocation); returns buf. */
static const char *address_in(char *buf, size_t size, const char *ns, const char *type,
                              const char *name)
{
	snprintf(buf, size, "%s/%s/%s", ns, type, name);
	return buf;
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

#define ADDR_MAX 512

static void dep_add(bar_desired *d, const char *ns, const char *type, const char *name)
{
	char buf[ADDR_MAX];

	json_array_append_new(d->deps, json_string_nocheck(address_in(buf, sizeof(buf), ns,
	                                                              type, name)));
}

/* Set refs[role] = address of (ns, type, name) and record the dependency. */
static void ref_add(bar_desired *d, const char *role, const char *type, const char *name)
{
	char buf[ADDR_MAX];
	json_t *a;

	if (!name || !*name)
		return;
	a = json_string_nocheck(address_in(buf, sizeof(buf), d->ns, type, name));
	json_object_set_nocheck(d->refs, role, a);
	json_array_append_new(d->deps, a);
}

static void ref_add_list(bar_desired *d, const char *role, const char *type,
                         const json_t *names)
{
	json_t *arr = json_array();
	char buf[ADDR_MAX];
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		json_t *a = json_string_nocheck(address_in(buf, sizeof(buf), d->ns, type,
		                                           json_string_value(v)));

		json_array_append(arr, a);
		json_array_append_new(d->deps, a);
	}
	json_object_set_new_nocheck(d->refs, role, arr);
}

static void set_str(json_t *o, const char *key, const char *val)
{
	json_object_set_new_nocheck(o, key, json_string_nocheck(val));
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

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	              json_string_value(*(json_t *const *)b));
}

/* Sort and de-duplicate an array of address strings in place. */
static void sort_unique(json_t *arr)
{
	json_t *stack[64], **v = stack;
	size_t n = json_array_size(arr), w = 0;

	if (n > 64)
		v = bar_malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp_json_str);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++) {
		if (w && strcmp(json_string_value(v[i]), json_string_value(v[w - 1])) == 0) {
			json_decref(v[i]);
			continue;
		}
		v[w++] = v[i];
		json_array_append_new(arr, v[i]);
	}
	if (v != stack)
		free(v);
}

/* Append `"key":` then a string value, canonically. */
static void canon_str(bar_buf *buf, const char *key, const char *val, int first)
{
	if (!first)
		bar_buf_add(buf, ",", 1);
	bar_json_canon_string(buf, key, strlen(key));
	bar_buf_add(buf, ":", 1);
	bar_json_canon_string(buf, val, strlen(val));
}

/*
 * Hash of a VM's attrs exactly as vm_expand() builds them, written straight
 * from the group in canonical form: keys in sorted order, as bar_json_canon
 * would emit them (test_planner checks that both hashes agree).
 */
static void vm_hash(bar_desired *d, bar_buf *buf)
{
	const json_t *g = d->group;
	const char *via = json_string_value(json_object_get(g, "bastion"));
	char num[32];

	buf->len = 0;
	bar_buf_add(buf, "{", 1);
	if (via) /* absent unless set: other VMs hash as before */
		canon_str(buf, "bastion", via, 1);
	canon_str(buf, "connection", str(g, "connection"), !via);
	canon_str(buf, "group", str(g, "name"), 0);
	canon_str(buf, "image", str(g, "image"), 0);
	snprintf(num, sizeof(num), ",\"index\":%d,\"labels\":", d->index);
	bar_buf_puts(buf, num);
	bar_json_canon(buf, d->labels);
	canon_str(buf, "mci", d->mci->name, 0);
	if (json_array_size(json_object_get(g, "postCommands"))) {
		bar_buf_puts(buf, ",\"postCommands\":");
		bar_json_canon(buf, json_object_get(g, "postCommands"));
	}
	bar_buf_puts(buf, ",\"securityGroups\":");
	bar_json_canon(buf, json_object_get(g, "securityGroups"));
	canon_str(buf, "spec", str(g, "spec"), 0);
	canon_str(buf, "sshKey", str(g, "sshKey"), 0);
	canon_str(buf, "state", str(d->mci->attrs, "state"), 0);
	canon_str(buf, "subnet", str(g, "subnet"), 0);
	canon_str(buf, "vnet", str(g, "vnet"), 0);
	bar_buf_add(buf, "}", 1);
	snprintf(d->hash, sizeof(d->hash), "%016llx",
	         (unsigned long long)bar_hash64(buf->data, buf->len, BAR_HASH64_SEED));
}

/* Expand a VM: build attrs, refs and deps from its group. */
static void vm_expand(bar_desired *d)
{
	const json_t *g = d->group;
	const bar_object *mci = d->mci;

	d->attrs = json_object();
	d->refs = json_object();
	d->deps = json_array();
	set_str(d->attrs, "mci", mci->name);
	set_str(d->attrs, "group", str(g, "name"));
	json_object_set_new_nocheck(d->attrs, "index", json_integer(d->index));
	set_str(d->attrs, "connection", d->connection);
	set_str(d->attrs, "spec", str(g, "spec"));
	set_str(d->attrs, "image", str(g, "image"));
	set_str(d->attrs, "vnet", str(g, "vnet"));
	set_str(d->attrs, "subnet", str(g, "subnet"));
	json_object_set_nocheck(d->attrs, "securityGroups", json_object_get(g, "securityGroups"));
	set_str(d->attrs, "sshKey", str(g, "sshKey"));
	set_str(d->attrs, "state", str(mci->attrs, "state"));
	json_object_set_nocheck(d->attrs, "labels", (json_t *)d->labels);
	/* run by the host after create, never sent to providers; absent when
	 * empty, so VMs without them hash as before */
	if (json_array_size(json_object_get(g, "postCommands")))
		json_object_set_nocheck(d->attrs, "postCommands", json_object_get(g, "postCommands"));
	/* how the host reaches the VM (core/remote.c); host-only as well */
	if (json_string_value(json_object_get(g, "bastion")))
		set_str(d->attrs, "bastion", str(g, "bastion"));
	dep_add(d, mci->ns, "connection", d->connection);
	dep_add(d, mci->ns, "mci", mci->name);
	ref_add(d, "spec", "spec", str(g, "spec"));
	ref_add(d, "image", "image", str(g, "image"));
	ref_add(d, "vnet", "vnet", str(g, "vnet"));
	ref_add(d, "sshKey", "sshkey", str(g, "sshKey"));
	ref_add_list(d, "securityGroups", "securitygroup", json_object_get(g, "securityGroups"));
	common_deps(d, mci);
	sort_unique(d->deps);
}

void bar_desired_expand(const bar_desired *d)
{
	if (d->attrs || !d->group)
		return;
	vm_expand((bar_desired *)d); /* fills a cache; see planner.h */
}

const char *bar_desired_vm_state(const bar_desired *d)
{
	if (d->mci)
		return str(d->mci->attrs, "state");
	return json_string_value(json_object_get(d->attrs, "state"));
}

/* A VM's name: "<mci>-<group>-<i>" (also its hostname). */
static const char *vm_name(char *buf, size_t size, const bar_object *mci, const json_t *g,
                           json_int_t i)
{
	snprintf(buf, size, "%s-%s-%lld", mci->name, str(g, "name"), (long long)i);
	return buf;
}

static void add_vms(builder *b, const bar_object *mci, json_t *owned, bar_buf *buf)
{
	const json_t *groups = json_object_get(mci->attrs, "groups");
	size_t gi;
	json_t *g;

	json_array_foreach(groups, gi, g) {
		json_int_t count = json_integer_value(json_object_get(g, "count"));
		json_t *labels = json_deep_copy(mci->labels);

		/* one labels object, shared read-only by the group's VMs */
		json_object_update(labels, json_object_get(g, "labels"));
		json_array_append_new(owned, labels);
		for (json_int_t i = 1; i <= count; i++) {
			char name[256];
			bar_desired *d;

			d = add(b, mci->ns, "vm", vm_name(name, sizeof(name), mci, g, i));
			json_decref(d->refs); /* built on expansion */
			json_decref(d->deps);
			d->refs = d->deps = NULL;
			d->connection = bar_strdup(str(g, "connection"));
			d->mci = mci;
			d->group = g;
			d->labels = labels;
			d->index = (int)i;
			vm_hash(d, buf);
		}
	}
}

static void add_object(builder *b, const bar_object *obj, json_t *owned, bar_buf *buf)
{
	const char *type = bar_kind_type(obj->kind);
	const char *ns = obj->kind == BAR_KIND_NAMESPACE ? obj->name : obj->ns;
	bar_desired *d = add(b, ns, type, obj->name);

	d->attrs = json_copy(obj->attrs); /* shallow: children are shared read-only */
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
		add_vms(b, obj, owned, buf);
}

/*
 * The agents of a MonitoringPolicy: one "agent" resource per VM of the MCI
 * it names (of every MCI of its namespace without one), installed over SSH
 * by apply (planner/agent.c) and depending on the VM and the policy.  What
 * the agent is told (collectors, groups, intervals, the credential
 * reference its token derives from, the agent version) is its attrs, so a
 * change re-installs it; the token itself is never in them.  A VM watched by
 * two policies gets the first policy's agent (spec order).
 */
static void add_agents(builder *b, const bar_config *cfg, const bar_object *pol, bar_map *seen)
{
	static const char *const copied[] = {"collectors", "metrics", "intervalSeconds",
	                                     "storeIntervalSeconds", "pullPort", "credential",
	                                     NULL};
	const char *want = str(pol->attrs, "mci");
	size_t n = bar_config_count(cfg);

	for (size_t k = 0; k < n; k++) {
		const bar_object *mci = bar_config_get(cfg, k);
		const json_t *groups;
		size_t gi;
		json_t *g;

		if (mci->kind != BAR_KIND_MCI || strcmp(mci->ns, pol->ns) != 0 ||
		    (*want && strcmp(mci->name, want) != 0))
			continue;
		groups = json_object_get(mci->attrs, "groups");
		json_array_foreach(groups, gi, g) {
			json_int_t count = json_integer_value(json_object_get(g, "count"));
			for (json_int_t i = 1; i <= count; i++) {
				char name[256], addr[ADDR_MAX];
				bar_desired *d;

				vm_name(name, sizeof(name), mci, g, i);
				address_in(addr, sizeof(addr), mci->ns, "agent", name);
				if (bar_map_get(seen, addr))
					continue;
				d = add(b, mci->ns, "agent", name);
				bar_map_put(seen, d->address, (void *)1);
				d->attrs = json_object();
				set_str(d->attrs, "policy", pol->name);
				set_str(d->attrs, "mci", mci->name);
				set_str(d->attrs, "vm", name);
				set_str(d->attrs, "version", BAR_VERSION);
				for (int c = 0; copied[c]; c++)
					json_object_set(d->attrs, copied[c], json_object_get(pol->attrs, copied[c]));
				ref_add(d, "vm", "vm", name);
				ref_add(d, "policy", "monitoringpolicy", pol->name);
				common_deps(d, pol);
			}
		}
	}
}

/* A VM barista-agent must be on to run an MCApp's apps: the policy's agent
 * when a MonitoringPolicy watches the VM (added first), else one that
 * pushes nowhere (collectors empty) and only runs apps. */
static void add_app_agent(builder *b, const bar_object *app, const char *mci, const char *vm,
                          bar_map *seen)
{
	char addr[ADDR_MAX];
	bar_desired *d;

	address_in(addr, sizeof(addr), app->ns, "agent", vm);
	if (bar_map_get(seen, addr))
		return;
	d = add(b, app->ns, "agent", vm);
	bar_map_put(seen, d->address, (void *)1);
	d->attrs = json_object();
	set_str(d->attrs, "policy", "");
	set_str(d->attrs, "mci", mci);
	set_str(d->attrs, "vm", vm);
	set_str(d->attrs, "version", BAR_VERSION);
	json_object_set_new(d->attrs, "collectors", json_array());
	json_object_set_new(d->attrs, "metrics", json_array());
	json_object_set_new(d->attrs, "intervalSeconds", json_integer(10));
	json_object_set_new(d->attrs, "storeIntervalSeconds", json_integer(10));
	json_object_set_new(d->attrs, "pullPort", json_integer(0));
	json_object_set_new(d->attrs, "credential", json_null());
	ref_add(d, "vm", "vm", vm);
	common_deps(d, app);
}

/* The VMs an app runs on, in placement order: every VM of its groups, or
 * placement.count of them taken one group after the other in turn
 * (seoul-1, tokyo-1, seoul-2, ...), so a count spreads over the groups. */
static json_t *app_vms(const bar_object *mci, const json_t *app)
{
	const json_t *placement = json_object_get(app, "placement");
	const json_t *want = json_object_get(placement, "groups");
	json_int_t count = json_integer_value(json_object_get(placement, "count"));
	json_t *out = json_array();
	size_t gi, left = 1;
	json_t *g;

	for (json_int_t i = 1; left; i++) {
		left = 0;
		json_array_foreach(json_object_get(mci->attrs, "groups"), gi, g) {
			char name[256];
			size_t k;
			json_t *w;
			int on = 0;

			json_array_foreach(want, k, w)
				on |= !strcmp(json_string_value(w), str(g, "name"));
			if (!on || i > json_integer_value(json_object_get(g, "count")))
				continue;
			left = 1;
			if (count && (json_int_t)json_array_size(out) >= count)
				return out;
			json_array_append_new(out, json_string(vm_name(name, sizeof(name), mci, g, i)));
		}
	}
	return out;
}

/*
 * The Kubernetes cluster made with kubeadm on an MCI for an MCApp with
 * kubernetes.bootstrap (planner/k8scluster.c): "<ns>/k8scluster/<mci>",
 * once per MCI (the first MCApp's bootstrap settings), depending on every
 * VM of the MCI and on its overlay when it has one (the CNI runs on it).
 */
static void add_k8scluster(builder *b, const bar_config *cfg, const bar_object *mcapp,
                           const json_t *boot, bar_map *seen)
{
	const char *mci_name = str(mcapp->attrs, "mci");
	const bar_object *mci = NULL;
	char addr[ADDR_MAX];
	json_t *vms, *g;
	bar_desired *d;
	size_t n = bar_config_count(cfg), gi;

	address_in(addr, sizeof(addr), mcapp->ns, "k8scluster", mci_name);
	if (bar_map_get(seen, addr))
		return;
	for (size_t k = 0; k < n && !mci; k++) {
		const bar_object *o = bar_config_get(cfg, k);
		if (o->kind == BAR_KIND_MCI && !strcmp(o->ns, mcapp->ns) && !strcmp(o->name, mci_name))
			mci = o;
	}
	if (!mci)
		return;
	d = add(b, mcapp->ns, "k8scluster", mci_name);
	bar_map_put(seen, d->address, (void *)1);
	vms = json_array();
	json_array_foreach(json_object_get(mci->attrs, "groups"), gi, g) {
		json_int_t count = json_integer_value(json_object_get(g, "count"));
		for (json_int_t i = 1; i <= count; i++) {
			char name[256];
			vm_name(name, sizeof(name), mci, g, i);
			json_array_append_new(vms, json_pack("{s:s,s:s}", "name", name, "group",
			                                     str(g, "name")));
			dep_add(d, mci->ns, "vm", name);
		}
	}
	d->attrs = json_object();
	set_str(d->attrs, "mci", mci_name);
	json_object_set(d->attrs, "bootstrap", (json_t *)boot);
	json_object_set_new(d->attrs, "vms", vms);
	set_str(d->attrs, "overlay", json_is_object(json_object_get(mci->attrs, "overlay"))
	                                 ? "yes" : "");
	if (*str(d->attrs, "overlay"))
		dep_add(d, mci->ns, "overlay", mci_name);
	ref_add(d, "mci", "mci", mci_name);
	common_deps(d, mci);
}

/*
 * The apps of an MCApp (runtime "agent") on each VM they are placed on:
 * one "app" resource per VM, "<mcapp>.<vm>", whose attrs are the apps that
 * VM runs (planner/app.c writes them to the VM's agent as its manifest),
 * depending on the VM's agent.  A change to an app changes the resources
 * of the VMs it runs on, and the plan rolls those out a few VMs at a time
 * (bar_plan_rollout).  runtime "kubernetes" is one resource for the MCApp.
 */
static void add_apps(builder *b, const bar_config *cfg, const bar_object *mcapp, bar_map *seen)
{
	const char *mci_name = str(mcapp->attrs, "mci");
	const bar_object *mci = NULL;
	json_t *per_vm = json_object(), *order = json_array();
	size_t n = bar_config_count(cfg), ai, vi;
	json_t *app, *vm;

	if (!strcmp(str(mcapp->attrs, "runtime"), "kubernetes")) {
		/* one resource: the MCApp on its cluster (planner/k8sapp.c) */
		bar_desired *d = add(b, mcapp->ns, "k8sapp", mcapp->name);
		const json_t *boot = json_object_get(json_object_get(mcapp->attrs, "kubernetes"),
		                                     "bootstrap");

		d->attrs = json_copy(mcapp->attrs);
		set_str(d->attrs, "mcapp", mcapp->name);
		ref_add(d, "mcapp", "mcapp", mcapp->name);
		if (json_is_object(boot) && *mci_name) {
			add_k8scluster(b, cfg, mcapp, boot, seen);
			ref_add(d, "cluster", "k8scluster", mci_name);
		}
		common_deps(d, mcapp);
		goto done;
	}
	if (strcmp(str(mcapp->attrs, "runtime"), "agent") != 0)
		goto done;
	for (size_t k = 0; k < n && !mci; k++) {
		const bar_object *o = bar_config_get(cfg, k);
		if (o->kind == BAR_KIND_MCI && !strcmp(o->ns, mcapp->ns) && !strcmp(o->name, mci_name))
			mci = o;
	}
	if (!mci)
		goto done;
	json_array_foreach(json_object_get(mcapp->attrs, "apps"), ai, app) {
		json_t *vms = app_vms(mci, app);

		json_array_foreach(vms, vi, vm) {
			const char *v = json_string_value(vm);
			json_t *list = json_object_get(per_vm, v);
			if (!list) {
				list = json_array();
				json_object_set_new(per_vm, v, list);
				json_array_append(order, vm);
			}
			json_array_append(list, app);
		}
		json_decref(vms);
	}
	json_array_foreach(order, vi, vm) {
		const char *v = json_string_value(vm);
		char name[600];
		bar_desired *d;

		add_app_agent(b, mcapp, mci_name, v, seen);
		snprintf(name, sizeof(name), "%s.%s", mcapp->name, v);
		d = add(b, mcapp->ns, "app", name);
		d->attrs = json_object();
		set_str(d->attrs, "mcapp", mcapp->name);
		set_str(d->attrs, "mci", mci_name);
		set_str(d->attrs, "vm", v);
		json_object_set(d->attrs, "apps", json_object_get(per_vm, v));
		json_object_set(d->attrs, "rollout", json_object_get(mcapp->attrs, "rollout"));
		ref_add(d, "vm", "vm", v);
		ref_add(d, "agent", "agent", v);
		ref_add(d, "mcapp", "mcapp", mcapp->name);
		common_deps(d, mcapp);
	}
done:
	json_decref(per_vm);
	json_decref(order);
}

/*
 * An MCI's overlay network (docs/overlay.md): one "overlay" resource for the
 * MCI, "<ns>/overlay/<mci>", depending on every VM of the MCI and its agent
 * (planner/overlay_node.c makes every VM's key and overlay file from the
 * VMs' recorded addresses and hands the files to the agents).  A VM
 * replaced makes the plan replace it too (its peers' files change), which
 * gives every VM a new key.
 */
static void add_overlay(builder *b, const bar_object *mci, bar_map *seen)
{
	const json_t *ov = json_object_get(mci->attrs, "overlay");
	json_t *vms = json_array(), *g;
	bar_desired *d;
	size_t gi;

	if (!json_is_object(ov)) {
		json_decref(vms);
		return;
	}
	json_array_foreach(json_object_get(mci->attrs, "groups"), gi, g) {
		json_int_t count = json_integer_value(json_object_get(g, "count"));
		for (json_int_t i = 1; i <= count; i++) {
			char name[256];
			vm_name(name, sizeof(name), mci, g, i);
			json_array_append_new(vms, json_string(name));
			add_app_agent(b, mci, mci->name, name, seen);
		}
	}
	d = add(b, mci->ns, "overlay", mci->name);
	d->attrs = json_object();
	set_str(d->attrs, "mci", mci->name);
	json_object_set(d->attrs, "cidr", json_object_get(ov, "cidr"));
	json_object_set(d->attrs, "port", json_object_get(ov, "port"));
	json_object_set_new(d->attrs, "vms", vms);
	ref_add(d, "mci", "mci", mci->name);
	json_array_foreach(vms, gi, g) {
		dep_add(d, mci->ns, "vm", json_string_value(g));
		dep_add(d, mci->ns, "agent", json_string_value(g));
	}
	common_deps(d, mci);
}

static int cmp_desired(const void *a, const void *b)
{
	return strcmp(((const bar_desired *)a)->address, ((const bar_desired *)b)->address);
}

static void finish(bar_desired *d, bar_buf *scratch)
{
	bar_json_hash(d->attrs, scratch, d->hash);
	sort_unique(d->deps);
}

int bar_desired_build(bar_desired_set *out, const bar_config *cfg)
{
	builder b = {NULL, 0, 0};
	size_t n = bar_config_count(cfg);
	bar_buf buf = BAR_BUF_INIT(0);
	json_t *owned = json_array();

	for (size_t i = 0; i < n; i++)
		add_object(&b, bar_config_get(cfg, i), owned, &buf);
	{
		bar_map seen;
		bar_map_init(&seen, 64);
		for (size_t i = 0; i < n; i++)
			if (bar_config_get(cfg, i)->kind == BAR_KIND_MONITORINGPOLICY)
				add_agents(&b, cfg, bar_config_get(cfg, i), &seen);
		for (size_t i = 0; i < n; i++)
			if (bar_config_get(cfg, i)->kind == BAR_KIND_MCAPP)
				add_apps(&b, cfg, bar_config_get(cfg, i), &seen);
		for (size_t i = 0; i < n; i++)
			if (bar_config_get(cfg, i)->kind == BAR_KIND_MCI)
				add_overlay(&b, bar_config_get(cfg, i), &seen);
		bar_map_free(&seen);
	}
	for (size_t i = 0; i < b.n; i++)
		if (b.items[i].attrs)
			finish(&b.items[i], &buf);
	bar_buf_free(&buf);
	if (b.n)
		qsort(b.items, b.n, sizeof(*b.items), cmp_desired);
	out->items = b.items;
	out->n = b.n;
	out->owned = owned;
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
		json_decref(d->attrs);
		json_decref(d->refs);
		json_decref(d->deps);
	}
	free(s->items);
	json_decref(s->owned);
	bar_map_free(&s->index);
	memset(s, 0, sizeof(*s));
}

const bar_desired *bar_desired_find(const bar_desired_set *s, const char *address)
{
	return bar_map_get(&s->index, address);
}
