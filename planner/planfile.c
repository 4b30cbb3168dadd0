/*
 * planfile.c - saved plans: the JSON format, and reading it back with every
 * field checked (the human rendering is in plan_render.c).
 *
 * A saved plan holds everything apply needs without re-reading the specs:
 * every change with its desired attributes, references and dependencies, and
 * the attributes of every connection involved, plus the state lineage and
 * serial it was made against, so apply can refuse it once state has moved.
 */
#include "planner.h"
#include "error.h"
#include "util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_FORMAT 1

/* ---- the saved-plan format, field by field ---- */

/* What a field must be in JSON. */
typedef enum jkind { J_STR, J_BOOL, J_INT, J_OBJ, J_ARR, J_ANY } jkind;

#define NO_OFF ((size_t)-1) /* a field that is checked but not stored as is */

/*
 * One field of a JSON object and where it is kept in the C struct: char *
 * for J_STR, int for J_BOOL, int64_t for J_INT, json_t * for J_OBJ, J_ARR
 * and J_ANY (any JSON value).  These lists are the one place the format's
 * fields are spelled out: writing changes, reading them and rejecting
 * unknown keys all follow them.
 */
typedef struct pfield {
	const char *key;
	jkind kind;
	size_t off;
	int required;
} pfield;

#define CF(key, kind, member, req) { key, kind, offsetof(bar_change, member), req }
static const pfield change_fields[] = {
	{"action", J_STR, NO_OFF, 1}, /* an enum: read by parse_action */
	CF("address", J_STR, address, 1), CF("type", J_STR, type, 1),
	CF("namespace", J_STR, ns, 1), CF("name", J_STR, name, 1),
	CF("connection", J_STR, connection, 0), CF("reason", J_STR, reason, 0),
	CF("vm_action", J_STR, vm_action, 0), CF("gone", J_BOOL, gone, 0),
	CF("attrs", J_OBJ, attrs, 0), CF("hash", J_STR, hash, 0), CF("refs", J_OBJ, refs, 0),
	CF("deps", J_ARR, deps, 0), CF("diff", J_ARR, diff, 0),
	CF("prior_system_id", J_STR, prior_system_id, 0), CF("prior_deps", J_ARR, prior_deps, 0),
	CF("record_only", J_BOOL, record_only, 0), CF("live_status", J_STR, live_status, 0),
	CF("live_attrs", J_STR, live_attrs, 0), CF("pending_op", J_STR, pending_op, 0),
	CF("prior_connection", J_STR, prior_connection, 0), CF("adopt_id", J_STR, adopt_id, 0),
	CF("orphan", J_BOOL, orphan, 0), CF("terminate", J_BOOL, terminate, 0),
	{NULL, J_STR, 0, 0},
};

#define PF(key, kind, member, req) { key, kind, offsetof(bar_plan, member), req }
static const pfield plan_fields[] = {
	{"format_version", J_INT, NO_OFF, 1}, PF("lineage", J_STR, lineage, 1),
	PF("serial", J_INT, serial, 1), PF("state", J_STR, state_path, 0),
	PF("destroy", J_BOOL, destroy, 0), PF("refreshed", J_BOOL, refreshed, 0),
	{"changes", J_ARR, NO_OFF, 1}, PF("drift", J_ARR, drift, 0),
	PF("connections", J_OBJ, connections, 0), PF("live_connections", J_OBJ, live_connections, 0),
	PF("cost", J_OBJ, cost, 0), {"summary", J_OBJ, NO_OFF, 0}, {NULL, J_STR, 0, 0},
};

static const pfield summary_fields[] = {
	{"add", J_INT, NO_OFF, 0}, {"change", J_INT, NO_OFF, 0}, {"destroy", J_INT, NO_OFF, 0},
	{"unchanged", J_INT, NO_OFF, 0}, {NULL, J_STR, 0, 0},
};

static const pfield diff_fields[] = {
	{"attr", J_STR, NO_OFF, 1}, {"old", J_ANY, NO_OFF, 0}, {"new", J_ANY, NO_OFF, 0},
	{"forces", J_BOOL, NO_OFF, 0}, {NULL, J_STR, 0, 0},
};

static const pfield drift_fields[] = {
	{"address", J_STR, NO_OFF, 1}, {"attr", J_STR, NO_OFF, 1},
	{"recorded", J_ANY, NO_OFF, 0}, {"live", J_ANY, NO_OFF, 0}, {NULL, J_STR, 0, 0},
};

static json_t *change_to_json(const bar_change *c)
{
	json_t *j = json_pack("{s:s}", "action", bar_action_name(c->action));

	for (const pfield *f = change_fields; f->key; f++) {
		const char *at;

		if (f->off == NO_OFF)
			continue;
		at = (const char *)c + f->off;
		if (f->kind == J_STR && *(char *const *)at)
			json_object_set_new(j, f->key, json_string(*(char *const *)at));
		else if (f->kind == J_BOOL && *(const int *)at)
			json_object_set_new(j, f->key, json_true());
		else if (f->kind >= J_OBJ && *(json_t *const *)at)
			json_object_set(j, f->key, *(json_t *const *)at);
	}
	return j;
}

json_t *bar_plan_to_json(const bar_plan *p)
{
	json_t *changes = json_array();
	size_t add, chg, del;
	json_t *j;

	bar_plan_counts(p, &add, &chg, &del);
	for (size_t i = 0; i < p->n; i++)
		json_array_append_new(changes, change_to_json(&p->changes[i]));
	j = json_pack("{s:i, s:s, s:I, s:b, s:b, s:o, s:O, s:O, s:O, s:{s:I, s:I, s:I, s:I}}",
	                 "format_version", PLAN_FORMAT, "lineage", p->lineage, "serial",
	                 (json_int_t)p->serial, "destroy", p->destroy, "refreshed",
	                 p->refreshed, "changes", changes, "drift", p->drift, "connections",
	                 p->connections, "live_connections", p->live_connections, "summary",
	                 "add", (json_int_t)add, "change", (json_int_t)chg, "destroy",
	                 (json_int_t)del, "unchanged", (json_int_t)p->n_noop);
	if (p->state_path)
		json_object_set_new(j, "state", json_string(p->state_path));
	if (p->cost)
		json_object_set(j, "cost", p->cost);
	return j;
}

/* ---- reading and validating a saved plan ---- */

/* A saved plan is outside input: apply trusts what it reads, so everything
 * is checked as strictly as a spec is (types, known values, consistency of
 * each change) before any of it is used. */

static const char *kind_name(jkind k)
{
	static const char *names[] = {"a string", "a boolean", "an integer", "an object",
	                              "an array", "a value"};

	return names[k];
}

static int kind_ok(const json_t *v, jkind k)
{
	switch (k) {
	case J_STR: return json_is_string(v);
	case J_BOOL: return json_is_boolean(v);
	case J_INT: return json_is_integer(v);
	case J_OBJ: return json_is_object(v);
	case J_ARR: return json_is_array(v);
	case J_ANY: return 1;
	}
	return 0;
}

/* Check object `o` against `fields` (unknown keys, required keys, JSON
 * types) and store what has a place in `dst`.  0 or -1 (error set). */
static int read_fields(void *dst, const json_t *o, const pfield *fields, const char *what)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return bar_error_set("%s must be an object", what);
	json_object_foreach((json_t *)o, key, v) {
		const pfield *f = fields;

		while (f->key && strcmp(f->key, key) != 0)
			f++;
		if (!f->key)
			return bar_error_set("unknown field \"%s\" in %s", key, what);
		if (!kind_ok(v, f->kind))
			return bar_error_set("\"%s\" must be %s", key, kind_name(f->kind));
	}
	for (const pfield *f = fields; f->key; f++) {
		char *at;

		v = json_object_get(o, f->key);
		if (!v && f->required)
			return bar_error_set("%s lacks \"%s\"", what, f->key);
		if (!v || f->off == NO_OFF)
			continue;
		at = (char *)dst + f->off;
		if (f->kind == J_STR)
			*(char **)at = bar_strdup(json_string_value(v));
		else if (f->kind == J_BOOL)
			*(int *)at = json_is_true(v);
		else if (f->kind == J_INT)
			*(int64_t *)at = json_integer_value(v);
		else
			*(json_t **)at = json_incref(v);
	}
	return 0;
}

static int parse_action(const char *s, bar_action *out)
{
	for (int a = BAR_CREATE; a <= BAR_DELETE; a++)
		if (s && strcmp(s, bar_action_name(a)) == 0) {
			*out = a;
			return 0;
		}
	return bar_error_set("unknown action \"%s\" (known: create, update, replace, delete)",
	                     s ? s : "");
}

/* Every kind's type, "vm" (an MCI's members), "agent" (barista-agent on
 * a VM), "app" (an MCApp's apps on one VM), "k8sapp" (an MCApp on a
 * Kubernetes cluster), "k8scluster" (one made with kubeadm on an MCI) and "overlay" (an MCI's overlay network). */
static int type_known(const char *t)
{
	if (!strcmp(t, "vm") || !strcmp(t, "agent") || !strcmp(t, "app") || !strcmp(t, "overlay") ||
	    !strcmp(t, "k8sapp") || !strcmp(t, "k8scluster"))
		return 1;
	for (int k = 0; k < BAR_KIND__COUNT; k++)
		if (!strcmp(t, bar_kind_type((bar_kind)k)))
			return 1;
	return 0;
}

static int type_check(const char *t)
{
	bar_buf known = BAR_BUF_INIT(0);
	int rc;

	if (type_known(t))
		return 0;
	for (int k = 0; k < BAR_KIND__COUNT; k++)
		bar_buf_printf(&known, "%s, ", bar_kind_type((bar_kind)k));
	rc = bar_error_set("unknown type \"%s\" (known: %svm, agent, app, overlay)", t, known.data);
	bar_buf_free(&known);
	return rc;
}

/* A namespace or name: not empty, no '/'. */
static int part_ok(const char *s, size_t n)
{
	return n > 0 && !memchr(s, '/', n);
}

/* "<ns>/<type>/<name>" with a known type.  0 or -1 (error set). */
static int address_check(const char *a, const char *what)
{
	const char *t = strchr(a, '/'), *n = t ? strchr(t + 1, '/') : NULL;
	char type[64];

	if (!n || !part_ok(a, (size_t)(t - a)) || !part_ok(n + 1, strlen(n + 1)) ||
	    (size_t)(n - t - 1) >= sizeof(type))
		return bar_error_set("%s \"%s\" is not <namespace>/<type>/<name>", what, a);
	snprintf(type, sizeof(type), "%.*s", (int)(n - t - 1), t + 1);
	if (type_check(type) < 0) {
		bar_error_prefix("%s \"%s\"", what, a);
		return -1;
	}
	return 0;
}

/* An array of addresses (deps, prior_deps, a list reference). */
static int addresses_check(const json_t *arr, const char *what)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return bar_error_set("%s[%zu] must be a string", what, i);
		if (address_check(json_string_value(v), what) < 0)
			return -1;
	}
	return 0;
}

/* refs: role -> address or [addresses]. */
static int refs_check(const json_t *refs)
{
	const char *role;
	json_t *v;

	json_object_foreach((json_t *)refs, role, v) {
		if (json_is_string(v) && address_check(json_string_value(v), "refs") < 0)
			return -1;
		if (json_is_array(v) && addresses_check(v, "refs") < 0)
			return -1;
		if (!json_is_string(v) && !json_is_array(v))
			return bar_error_set("refs \"%s\" must be an address or an array of them",
			                     role);
	}
	return 0;
}

/* diff: [{"attr", "old"?, "new"?, "forces"?}] */
static int diff_check(const json_t *diff)
{
	size_t i;
	json_t *d;

	json_array_foreach(diff, i, d)
		if (read_fields(NULL, d, diff_fields, "a diff entry") < 0)
			return bar_error_prefix("diff[%zu]", i), -1;
	return 0;
}

/* What the action requires of the rest of the change. */
static int action_check(const bar_change *c)
{
	const char *act = bar_action_name(c->action);
	int desired = c->action == BAR_CREATE || c->action == BAR_REPLACE ||
	              (c->action == BAR_UPDATE && !c->record_only);

	if (desired && (!c->attrs || !c->hash))
		return bar_error_set("a %s needs \"attrs\" and \"hash\"", act);
	if (c->vm_action && (strcmp(c->type, "vm") || c->action != BAR_UPDATE ||
	                     (strcmp(c->vm_action, "suspend") && strcmp(c->vm_action, "resume"))))
		return bar_error_set("vm_action \"%s\": only a vm update may suspend or resume",
		                     c->vm_action);
	if (c->record_only && c->action != BAR_UPDATE && c->action != BAR_DELETE)
		return bar_error_set("record_only is for an update or a delete, not a %s", act);
	if (c->record_only && c->action == BAR_UPDATE) {
		json_t *live = c->live_attrs ? json_loads(c->live_attrs, 0, NULL) : NULL;
		int ok = c->live_status && json_is_object(live);

		json_decref(live);
		if (!ok)
			return bar_error_set("a record_only update needs \"live_status\" and "
			                     "\"live_attrs\" (an object as JSON text)");
	}
	return 0;
}

/* The change's fields agree with each other and name real things. */
static int change_check(const bar_change *c)
{
	char *want;
	int same;

	if (type_check(c->type) < 0)
		return -1;
	if (!part_ok(c->ns, strlen(c->ns)) || !part_ok(c->name, strlen(c->name)))
		return bar_error_set("namespace and name must be non-empty and without '/'");
	want = bar_printf("%s/%s/%s", c->ns, c->type, c->name);
	same = !strcmp(want, c->address);
	free(want);
	if (!same)
		return bar_error_set("address does not match namespace \"%s\", type \"%s\" and "
		                     "name \"%s\"", c->ns, c->type, c->name);
	if (bar_type_is_provider(c->type) && !(c->connection && *c->connection))
		return bar_error_set("a %s is made through a connection, and none is given",
		                     c->type);
	if (addresses_check(c->deps, "deps") < 0 ||
	    addresses_check(c->prior_deps, "prior_deps") < 0 || refs_check(c->refs) < 0 ||
	    diff_check(c->diff) < 0)
		return -1;
	return action_check(c);
}

static int change_from_json(bar_change *c, const json_t *cj)
{
	if (read_fields(c, cj, change_fields, "a change") < 0 ||
	    parse_action(json_string_value(json_object_get(cj, "action")), &c->action) < 0)
		return -1;
	return change_check(c);
}

/* Read every change; addresses must be unique. */
static int changes_from_json(bar_plan *p, const json_t *changes)
{
	bar_map seen;
	size_t i;
	json_t *cj;
	int rc = 0;

	bar_map_init(&seen, json_array_size(changes));
	p->changes = bar_calloc(json_array_size(changes) + 1, sizeof(bar_change));
	json_array_foreach(changes, i, cj) {
		bar_change *c = &p->changes[p->n++];
		const char *addr = json_string_value(json_object_get(cj, "address"));
		size_t first;

		rc = change_from_json(c, cj);
		if (rc == 0 && (first = (size_t)bar_map_get(&seen, c->address)))
			rc = bar_error_set("a second change of the same address (the first is "
			                   "changes[%zu])", first - 1);
		if (rc < 0) {
			bar_error_prefix("changes[%zu]%s%s%s", i, addr ? " (" : "", addr ? addr : "",
			                 addr ? ")" : "");
			break;
		}
		bar_map_put(&seen, c->address, (void *)(i + 1));
	}
	bar_map_free(&seen);
	return rc;
}

/* drift entries, connections and the summary. */
static int extras_check(bar_plan *p, const json_t *j)
{
	const json_t *sum = json_object_get(j, "summary");
	const char *key;
	size_t i;
	json_t *v;

	json_array_foreach(p->drift, i, v)
		if (read_fields(NULL, v, drift_fields, "a drift entry") < 0 ||
		    address_check(json_string_value(json_object_get(v, "address")), "address") < 0)
			return bar_error_prefix("drift[%zu]", i), -1;
	for (int live = 0; live < 2; live++)
		json_object_foreach(live ? p->live_connections : p->connections, key, v)
			if (address_check(key, "connection") < 0 || !json_is_object(v) ||
			    strncmp(strchr(key, '/'), "/connection/", 12) != 0)
				return bar_error_set("%s: \"%s\" must map a connection's address to "
				                     "its attributes", live ? "live_connections"
				                     : "connections", key);
	if (sum && read_fields(NULL, sum, summary_fields, "summary") < 0)
		return -1;
	p->n_noop = (size_t)json_integer_value(json_object_get(sum, "unchanged"));
	if (p->serial < 0 || json_integer_value(json_object_get(sum, "unchanged")) < 0)
		return bar_error_set("serial and summary counts must not be negative");
	return 0;
}

int bar_plan_from_json(bar_plan **out, const json_t *j)
{
	bar_plan *p;

	if (json_integer_value(json_object_get(j, "format_version")) != PLAN_FORMAT ||
	    !json_is_array(json_object_get(j, "changes")) ||
	    !json_string_value(json_object_get(j, "lineage")))
		return bar_error_set("not a Barista plan file of format %d", PLAN_FORMAT);
	p = bar_calloc(1, sizeof(*p));
	if (read_fields(p, j, plan_fields, "a plan") < 0)
		goto fail;
	if (!p->drift)
		p->drift = json_array();
	if (!p->connections)
		p->connections = json_object();
	if (!p->live_connections)
		p->live_connections = json_object();
	if (extras_check(p, j) < 0 || changes_from_json(p, json_object_get(j, "changes")) < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	bar_plan_free(p);
	return -1;
}

int bar_plan_write(const bar_plan *p, const char *path)
{
	json_t *j = bar_plan_to_json(p);
	int rc = json_dump_file(j, path, JSON_INDENT(1) | JSON_SORT_KEYS);

	json_decref(j);
	if (rc < 0)
		return bar_error_set("cannot write plan file %s", path);
	return 0;
}

int bar_plan_read(bar_plan **out, const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	int rc;

	if (!j)
		return bar_error_set("%s:%d:%d: cannot read plan file: %s", path, err.line,
		                     err.column, err.text);
	rc = bar_plan_from_json(out, j);
	json_decref(j);
	if (rc < 0)
		bar_error_prefix("%s", path);
	return rc;
}
