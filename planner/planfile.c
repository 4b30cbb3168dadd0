/*
 * planfile.c - saved plans (JSON) and the human rendering of a plan.
 *
 * A saved plan holds everything apply needs without re-reading the specs:
 * every change with its desired attributes, references and dependencies, and
 * the attributes of every connection involved, plus the state lineage and
 * serial it was made against, so apply can refuse it once state has moved.
 */
#include "planner.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define PLAN_FORMAT 1

static json_t *change_to_json(const bar_change *c)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "address", c->address, "action",
	                      bar_action_name(c->action), "type", c->type, "namespace", c->ns,
	                      "name", c->name);

	if (c->connection)
		json_object_set_new(j, "connection", json_string(c->connection));
	if (c->reason)
		json_object_set_new(j, "reason", json_string(c->reason));
	if (c->vm_action)
		json_object_set_new(j, "vm_action", json_string(c->vm_action));
	if (c->gone)
		json_object_set_new(j, "gone", json_true());
	if (c->attrs)
		json_object_set(j, "attrs", c->attrs);
	if (c->hash)
		json_object_set_new(j, "hash", json_string(c->hash));
	if (c->refs)
		json_object_set(j, "refs", c->refs);
	if (c->deps)
		json_object_set(j, "deps", c->deps);
	if (c->diff)
		json_object_set(j, "diff", c->diff);
	if (c->prior_system_id)
		json_object_set_new(j, "prior_system_id", json_string(c->prior_system_id));
	if (c->prior_deps)
		json_object_set(j, "prior_deps", c->prior_deps);
	if (c->record_only)
		json_object_set_new(j, "record_only", json_true());
	if (c->live_status)
		json_object_set_new(j, "live_status", json_string(c->live_status));
	if (c->live_attrs)
		json_object_set_new(j, "live_attrs", json_string(c->live_attrs));
	if (c->pending_op)
		json_object_set_new(j, "pending_op", json_string(c->pending_op));
	if (c->prior_connection)
		json_object_set_new(j, "prior_connection", json_string(c->prior_connection));
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
	return j;
}

static char *jstr(const json_t *o, const char *k)
{
	return bar_strdup(json_string_value(json_object_get(o, k)));
}

static json_t *jref(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return v ? json_incref(v) : NULL;
}

static int parse_action(const char *s, bar_action *out)
{
	for (int a = BAR_NOOP; a <= BAR_DELETE; a++)
		if (s && strcmp(s, bar_action_name(a)) == 0) {
			*out = a;
			return 0;
		}
	return -1;
}

int bar_plan_from_json(bar_plan **out, const json_t *j)
{
	const json_t *changes = json_object_get(j, "changes");
	bar_plan *p;
	size_t i;
	json_t *cj;

	if (json_integer_value(json_object_get(j, "format_version")) != PLAN_FORMAT ||
	    !json_is_array(changes) || !json_string_value(json_object_get(j, "lineage")))
		return bar_error_set("not a Barista plan file of format %d", PLAN_FORMAT);
	p = bar_calloc(1, sizeof(*p));
	p->lineage = jstr(j, "lineage");
	p->state_path = jstr(j, "state");
	p->serial = json_integer_value(json_object_get(j, "serial"));
	p->destroy = json_is_true(json_object_get(j, "destroy"));
	p->refreshed = json_is_true(json_object_get(j, "refreshed"));
	p->drift = json_object_get(j, "drift") ? jref(j, "drift") : json_array();
	p->connections = json_object_get(j, "connections") ? jref(j, "connections")
	                                                    : json_object();
	p->live_connections = json_object_get(j, "live_connections")
	                          ? jref(j, "live_connections")
	                          : json_object();
	p->n_noop = (size_t)json_integer_value(
	    json_object_get(json_object_get(j, "summary"), "unchanged"));
	p->changes = bar_calloc(json_array_size(changes) + 1, sizeof(bar_change));
	json_array_foreach(changes, i, cj) {
		bar_change *c = &p->changes[p->n];

		if (parse_action(json_string_value(json_object_get(cj, "action")), &c->action) < 0 ||
		    !json_string_value(json_object_get(cj, "address"))) {
			bar_plan_free(p);
			return bar_error_set("plan file: change %zu is malformed", i);
		}
		p->n++;
		c->address = jstr(cj, "address");
		c->type = jstr(cj, "type");
		c->ns = jstr(cj, "namespace");
		c->name = jstr(cj, "name");
		c->connection = jstr(cj, "connection");
		c->reason = jstr(cj, "reason");
		c->vm_action = jstr(cj, "vm_action");
		c->gone = json_is_true(json_object_get(cj, "gone"));
		c->attrs = jref(cj, "attrs");
		c->hash = jstr(cj, "hash");
		c->refs = jref(cj, "refs");
		c->deps = jref(cj, "deps");
		c->diff = jref(cj, "diff");
		c->prior_system_id = jstr(cj, "prior_system_id");
		c->prior_deps = jref(cj, "prior_deps");
		c->record_only = json_is_true(json_object_get(cj, "record_only"));
		c->live_status = jstr(cj, "live_status");
		c->live_attrs = jstr(cj, "live_attrs");
		c->pending_op = jstr(cj, "pending_op");
		c->prior_connection = jstr(cj, "prior_connection");
		if (!c->type || !c->ns || !c->name) {
			bar_plan_free(p);
			return bar_error_set("plan file: change %s lacks type/namespace/name",
			                     json_string_value(json_object_get(cj, "address")));
		}
	}
	*out = p;
	return 0;
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

/* ---- rendering ---- */

#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED "\033[31m"
#define C_BOLD "\033[1m"

static void render_value(bar_buf *b, const json_t *v)
{
	char *s;

	if (!v) {
		bar_buf_puts(b, "(none)");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	if (strlen(s) > 120)
		strcpy(s + 117, "...");
	bar_buf_puts(b, s);
	free(s);
}

static void render_change(const bar_change *c, int color, bar_buf *b)
{
	static const char *sym[] = {" ", "+", "~", "-/+", "-"};
	static const char *col[] = {"", C_GREEN, C_YELLOW, C_YELLOW, C_RED};
	size_t i;
	json_t *d;

	bar_buf_printf(b, "  %s%3s%s %s", color ? col[c->action] : "", sym[c->action],
	               color ? C_RESET : "", c->address);
	if (c->action == BAR_REPLACE)
		bar_buf_puts(b, " (replace)");
	if (c->vm_action)
		bar_buf_printf(b, " (%s)", c->vm_action);
	if (c->connection)
		bar_buf_printf(b, "  [%s]", c->connection);
	bar_buf_puts(b, "\n");
	if (c->reason)
		bar_buf_printf(b, "        # %s\n", c->reason);
	json_array_foreach(c->diff, i, d) {
		bar_buf_printf(b, "        ~ %s: ", json_string_value(json_object_get(d, "attr")));
		render_value(b, json_object_get(d, "old"));
		bar_buf_puts(b, " -> ");
		render_value(b, json_object_get(d, "new"));
		if (json_is_true(json_object_get(d, "forces")))
			bar_buf_printf(b, "  %s# forces replacement%s", color ? C_RED : "",
			               color ? C_RESET : "");
		bar_buf_puts(b, "\n");
	}
}

void bar_plan_render(const bar_plan *p, int color, bar_buf *b)
{
	size_t add, chg, del, i;
	json_t *d;

	if (json_array_size(p->drift)) {
		bar_buf_puts(b, "Drift: objects changed outside barista:\n");
		json_array_foreach(p->drift, i, d) {
			bar_buf_printf(b, "  %s: %s: recorded ",
			               json_string_value(json_object_get(d, "address")),
			               json_string_value(json_object_get(d, "attr")));
			render_value(b, json_object_get(d, "recorded"));
			bar_buf_puts(b, ", live ");
			render_value(b, json_object_get(d, "live"));
			bar_buf_puts(b, "\n");
		}
		bar_buf_puts(b, "\n");
	}
	bar_plan_counts(p, &add, &chg, &del);
	if (p->n == 0 && p->destroy) {
		bar_buf_puts(b, "Nothing to destroy: the state records no resources.\n");
		return;
	}
	if (p->n == 0) {
		bar_buf_printf(b, "No changes. Infrastructure matches the configuration "
		                  "(%zu resources).\n", p->n_noop);
		return;
	}
	bar_buf_printf(b, "%sBarista will perform these actions:%s\n",
	               color ? C_BOLD : "", color ? C_RESET : "");
	for (i = 0; i < p->n; i++)
		render_change(&p->changes[i], color, b);
	bar_buf_printf(b, "\nPlan: %zu to add, %zu to change, %zu to destroy.\n", add, chg, del);
}
