/*
 * conf_crud.c - the per-type cases: create, read, list, update and delete
 * of one resource of each type the provider declares, in dependency order
 * (parents first; deletes in reverse), the way the apply engine drives
 * them.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The resource of type t this case works on; NULL (skipped or failed). */
static conf_res *subject(conf *c, int t)
{
	if (!conf_declared(c, t)) {
		conf_skip(c, "the provider does not declare the type %s", conf_type_names[t]);
		return NULL;
	}
	return conf_need(c, t);
}

void case_create(conf *c, int t)
{
	conf_res *r = subject(c, t);

	if (r)
		conf_note(c, "%s %s is %s", r->name, r->system_id, r->status);
}

/* Another declared type than t, or -1. */
static int other_type(conf *c, int t)
{
	for (int u = 0; u < CONF_NTYPES; u++)
		if (u != t && conf_declared(c, u))
			return u;
	return -1;
}

/* One observation of r: the same id, name, tags, status and attrs text. */
static void same_as_made(conf *c, const conf_op *x, const conf_res *r, const ch_obs *o)
{
	if (strcmp(o->system_id, r->system_id) != 0)
		conf_fail(c, "%s: emitted %s, want %s", x->what, o->system_id, r->system_id);
	if (strcmp(o->name, r->name) != 0)
		conf_fail(c, "%s: name \"%s\", want \"%s\"", x->what, o->name, r->name);
	if (!conf_json_same(o->tags, r->tags))
		conf_fail(c, "%s: tags %.300s, want the tags given at create %.300s", x->what,
		          o->tags, r->tags);
	if (strcmp(o->status, r->status) != 0)
		conf_fail(c, "%s: status \"%s\", want \"%s\"", x->what, o->status, r->status);
	if (strcmp(o->attrs, r->observed) != 0)
		conf_fail(c, "%s: observed attrs changed without a change (the host compares the "
		          "text): %.300s, before %.300s", x->what, o->attrs, r->observed);
}

void case_read(conf *c, int t)
{
	conf_res *r = subject(c, t);
	int u = other_type(c, t);
	conf_op x;

	if (!r)
		return;
	if (conf_read(c, &x, r, t) != BAR_OK)
		conf_fail(c, "%s of %s: %s", x.what, r->system_id, conf_op_result(&x));
	else if (x.sink.n == 1)
		same_as_made(c, &x, r, &x.sink.v[0]);
	conf_op_clear(&x);
	if (u < 0) {
		conf_note(c, "only one type declared: no read as another type");
		return;
	}
	if (conf_read(c, &x, r, u) != BAR_ENOTFOUND)
		conf_fail(c, "%s of %s (a %s's id): %s, want BAR_ENOTFOUND", x.what, r->system_id,
		          conf_type_names[t], conf_op_result(&x));
	conf_op_clear(&x);
}

/* Every listed resource carries barista:address. */
static void all_tagged(conf *c, const conf_op *x)
{
	for (size_t i = 0; i < x->sink.n; i++) {
		json_t *tags = json_loads(x->sink.v[i].tags, 0, NULL);

		if (!json_is_string(json_object_get(tags, "barista:address")))
			conf_fail(c, "%s: %s carries no barista:address tag: %.200s", x->what,
			          x->sink.v[i].system_id, x->sink.v[i].tags);
		json_decref(tags);
	}
}

/* An untagged resource of type t is made and is not listed. */
static void untagged_not_listed(conf *c, int t)
{
	conf_res u;
	conf_op x;

	if (conf_res_new(c, &u, t, 0, 0) == 0 && conf_make(c, &u) == BAR_OK) {
		if (conf_list(c, &x, t, NULL) == BAR_OK && conf_find(&x, u.system_id) >= 0)
			conf_fail(c, "%s includes %s, which has no barista:address tag", x.what,
			          u.system_id);
		conf_op_clear(&x);
		conf_delete(c, &u, NULL);
	}
	conf_res_free(&u);
}

void case_list(conf *c, int t)
{
	const char *other = json_string_value(conf_fx(c, "otherRegion"));
	conf_res *r;
	conf_op x;
	int i;

	if (!(c->p->capabilities & BAR_CAP_LIST)) {
		conf_skip(c, "no BAR_CAP_LIST");
		return;
	}
	if (conf_lookup_type(c, t)) {
		conf_skip(c, "a lookup type (BAR_TYPE_LOOKUP): the cloud's own object, not listed");
		return;
	}
	if (!(r = subject(c, t)))
		return;
	if (conf_list(c, &x, t, NULL) != BAR_OK)
		conf_fail(c, "%s: %s", x.what, conf_op_result(&x));
	else if ((i = conf_find(&x, r->system_id)) < 0)
		conf_fail(c, "%s: %zu listed, %s not among them", x.what, x.sink.n, r->system_id);
	else
		same_as_made(c, &x, r, &x.sink.v[i]);
	all_tagged(c, &x);
	conf_op_clear(&x);
	if (conf_list(c, &x, t, other) != BAR_OK)
		conf_fail(c, "%s in region %s: %s", x.what, other, conf_op_result(&x));
	else if (conf_find(&x, r->system_id) >= 0)
		conf_fail(c, "%s in region %s includes %s of region %s", x.what, other,
		          r->system_id, c->o.region);
	conf_op_clear(&x);
	untagged_not_listed(c, t);
}

/* The fixture's in-place change for t, checked against the type's
 * in_place list; NULL (skipped or failed). */
static json_t *in_place_change(conf *c, int t, const bar_type_info *ti)
{
	json_t *ch = json_object_get(json_object_get(conf_fx(c, "types"), conf_type_names[t]),
	                             "update");
	const char *k;
	json_t *v;

	if (!ti->in_place || !ti->in_place[0]) {
		conf_skip(c, "%s declares no in-place attributes", conf_type_names[t]);
		return NULL;
	}
	if (!json_is_object(ch)) {
		conf_skip(c, "the fixture has no \"update\" for %s (in place: %s...)",
		          conf_type_names[t], ti->in_place[0]);
		return NULL;
	}
	json_object_foreach(ch, k, v) {
		int listed = 0;

		for (const char *const *a = ti->in_place; *a && !listed; a++)
			listed = strcmp(*a, k) == 0;
		if (!listed) {
			conf_fail(c, "fixture: the update of %s changes \"%s\", which the type does "
			          "not list as in place", conf_type_names[t], k);
			return NULL;
		}
	}
	return ch;
}

/* Update r to attrs; on success r holds the new attrs and observation. */
static void update_to(conf *c, conf_res *r, json_t *attrs)
{
	conf_callopt co = { .conn = r->conn, .address = r->address };
	char *in = conf_input(r, 1, attrs);
	conf_op x;

	if (conf_call(c, &x, OP_UPDATE, conf_type_names[r->type], NULL, in, &co) != BAR_OK) {
		conf_fail(c, "%s of %s: %s", x.what, r->system_id, conf_op_result(&x));
	} else if (x.sink.n == 1 && conf_settle(c, &x, r, 0, NULL) == BAR_OK) {
		free(r->observed);
		r->observed = strdup(x.sink.v[0].attrs);
		json_decref(r->attrs);
		r->attrs = json_incref(attrs);
		same_as_made(c, &x, r, &x.sink.v[0]);
	}
	conf_op_clear(&x);
	free(in);
}

void case_update(conf *c, int t)
{
	const bar_type_info *ti = conf_declared(c, t);
	json_t *ch, *attrs;
	conf_res *r;
	conf_op x;

	if (!ti) {
		conf_skip(c, "the provider does not declare the type %s", conf_type_names[t]);
		return;
	}
	if (!(ch = in_place_change(c, t, ti)) || !(r = conf_need(c, t)))
		return;
	if (!c->p->update) {
		conf_fail(c, "%s lists in-place attributes but the table has no update",
		          conf_type_names[t]);
		return;
	}
	attrs = json_deep_copy(r->attrs);
	json_object_update(attrs, ch);
	update_to(c, r, attrs);
	json_decref(attrs);
	if (conf_read(c, &x, r, t) == BAR_OK && x.sink.n == 1)
		same_as_made(c, &x, r, &x.sink.v[0]);
	else
		conf_fail(c, "%s after the update: %s", x.what, conf_op_result(&x));
	conf_op_clear(&x);
}

void case_delete(conf *c, int t)
{
	conf_res *r = subject(c, t);

	if (r && conf_delete(c, r, NULL) == BAR_OK)
		c->world_state[t] = 2;
}
