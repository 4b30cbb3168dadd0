/*
 * conf_res.c - the resources of a conformance run: the fixture (what
 * attributes a provider's resources take), names and tags, inputs shaped
 * as the apply engine shapes them (planner/apply.c provider_input), the
 * "world" (one resource of each type, parents first, refs built from the
 * created parents), create and delete with their checks, and the ledger of
 * everything made, which the cleanup reads.
 */
#include "conformance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

const char *const conf_type_names[CONF_NTYPES] = { "vnet", "securitygroup", "sshkey",
	                                           "image", "spec", "vm" };

/*
 * The defaults: attributes shaped as the spec compiler makes them
 * (docs/spec-reference.md), accepted by the sim provider and by the local
 * provider (whose VNet CIDRs must not overlap: "@N@" is the instance
 * number of the type plus counterBase).  A driver's -fixture overrides any
 * top-level key, and "types" per type.
 */
static const char fixture_defaults[] =
    "{\"counterBase\": 240, \"otherRegion\": \"conformance-elsewhere\","
    " \"callTimeoutMs\": 60000, \"operationTimeoutMs\": 120000, \"promptMs\": 2000,"
    " \"idempotencyType\": \"securitygroup\", \"operationType\": \"securitygroup\","
    " \"waitType\": \"vm\", \"concurrencyType\": \"vm\", \"concurrency\": 8,"
    " \"types\": {"
    "  \"vnet\": {\"attrs\": {\"cidr\": \"10.@N@.0.0/16\","
    "            \"subnets\": [{\"name\": \"sub1\", \"cidr\": \"10.@N@.1.0/24\"}]}},"
    "  \"securitygroup\": {\"attrs\": {\"ingress\": [{\"protocol\": \"tcp\", \"fromPort\": 22,"
    "            \"toPort\": 22, \"cidr\": \"0.0.0.0/0\"}], \"egress\": []},"
    "     \"update\": {\"ingress\": [{\"protocol\": \"tcp\", \"fromPort\": 22, \"toPort\": 22,"
    "            \"cidr\": \"0.0.0.0/0\"}, {\"protocol\": \"tcp\", \"fromPort\": 8080,"
    "            \"toPort\": 8080, \"cidr\": \"10.0.0.0/8\"}]}},"
    "  \"sshkey\": {\"attrs\": {\"publicKey\": null}},"
    "  \"image\": {\"attrs\": {\"imageId\": \"host\", \"os\": \"\"}},"
    "  \"spec\": {\"attrs\": {\"specId\": \"\", \"vcpu\": 1, \"memoryMiB\": 256, \"diskGiB\": 10}},"
    "  \"vm\": {\"attrs\": {\"subnet\": \"sub1\", \"state\": \"Running\", \"labels\": {}},"
    "     \"update\": {\"labels\": {\"conformance\": \"updated\"}}}}}";

/* What a type refers to: refs[role] (and attrs[role], the parent's name). */
static const struct dep {
	int type, parent;
	const char *role;
	int many;
} deps[] = {
	{ T_SG, T_VNET, "vnet", 0 },         { T_VM, T_VNET, "vnet", 0 },
	{ T_VM, T_SG, "securityGroups", 1 }, { T_VM, T_KEY, "sshKey", 0 },
	{ T_VM, T_IMAGE, "image", 0 },       { T_VM, T_SPEC, "spec", 0 },
};

int conf_fixture_load(conf *c, char **err)
{
	json_error_t jerr;
	json_t *file = NULL, *types;
	const char *k;
	json_t *v;

	c->fx = json_loads(fixture_defaults, 0, &jerr);
	if (!c->fx)
		abort(); /* the defaults are ours */
	if (!c->o.fixture)
		return 0;
	if (c->o.fixture[0] == '{')
		file = json_loads(c->o.fixture, 0, &jerr); /* given inline */
	else
		file = json_load_file(c->o.fixture, 0, &jerr);
	if (!json_is_object(file)) {
		if (asprintf(err, "%s:%d:%d: %s", c->o.fixture, jerr.line, jerr.column,
		             file ? "not a JSON object" : jerr.text) < 0)
			*err = NULL;
		json_decref(file);
		return -1;
	}
	types = json_object_get(c->fx, "types");
	json_object_foreach(file, k, v) {
		if (strcmp(k, "types") == 0 && json_is_object(v))
			json_object_update(types, v);
		else
			json_object_set(c->fx, k, v);
	}
	json_decref(file);
	return 0;
}

void conf_uuid(char *out)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		abort();
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

/* Replace every @N@ and @NAME@ in a string. */
static json_t *subst_string(const char *s, int n, const char *name)
{
	char out[1024], num[16];
	size_t o = 0;

	snprintf(num, sizeof(num), "%d", n);
	while (*s && o < sizeof(out) - 1) {
		const char *with = strncmp(s, "@N@", 3) == 0      ? num
		                   : strncmp(s, "@NAME@", 6) == 0 ? name
		                                                  : NULL;
		if (!with) {
			out[o++] = *s++;
			continue;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", with);
		o = o < sizeof(out) ? o : sizeof(out) - 1;
		s += with == num ? 3 : 6;
	}
	out[o] = '\0';
	return json_string(out);
}

/* A deep copy of fixture attrs with the placeholders filled in. */
static json_t *subst(const json_t *v, int n, const char *name)
{
	const char *k;
	json_t *x, *out;
	size_t i;

	if (json_is_string(v))
		return subst_string(json_string_value(v), n, name);
	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach((json_t *)v, k, x)
			json_object_set_new(out, k, subst(x, n, name));
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x)
			json_array_append_new(out, subst(x, n, name));
		return out;
	}
	return json_deep_copy(v);
}

json_t *conf_ref_of(const conf_res *r)
{
	json_t *a = json_loads(r->observed ? r->observed : "{}", 0, NULL);

	return json_pack("{s:s,s:s,s:o}", "system_id", r->system_id ? r->system_id : "", "name",
	                 r->name, "attrs", a ? a : json_object());
}

/* refs and the parents' names in attrs, as the planner sets them. */
static int add_parents(conf *c, conf_res *r)
{
	for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
		const struct dep *d = &deps[i];
		conf_res *p;

		if (d->type != r->type || !conf_declared(c, d->parent))
			continue;
		if (!(p = conf_need(c, d->parent))) {
			conf_fail(c, "cannot make %s %s: its %s could not be made",
			          conf_type_names[r->type], r->name, d->role);
			return -1;
		}
		json_object_set_new(r->refs, d->role,
		                    d->many ? json_pack("[o]", conf_ref_of(p)) : conf_ref_of(p));
		json_object_set_new(r->attrs, d->role,
		                    d->many ? json_pack("[s]", p->name) : json_string(p->name));
	}
	return 0;
}

static void tags_of(conf *c, conf_res *r)
{
	json_t *t = json_pack("{s:s,s:s,s:s}", "barista:idempotency", r->key, "barista:lineage",
	                      c->lineage, "barista:namespace", "conformance");

	if (r->tagged)
		json_object_set_new(t, "barista:address", json_string(r->address));
	r->tags = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(t);
}

int conf_res_new(conf *c, conf_res *r, int t, int tagged, int conn)
{
	json_t *fx = json_object_get(json_object_get(conf_fx(c, "types"), conf_type_names[t]),
	                             "attrs");
	int n;

	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&c->mu);
	n = ++c->counter[t];
	pthread_mutex_unlock(&c->mu);
	r->type = t;
	r->conn = conn;
	r->tagged = tagged;
	snprintf(r->name, sizeof(r->name), "cf-%s-%s-%d", c->run_id, conf_type_names[t], n);
	snprintf(r->address, sizeof(r->address), "conformance/%s/%s", conf_type_names[t], r->name);
	conf_uuid(r->key);
	r->attrs = json_is_object(fx) ? subst(fx, (int)conf_fx_int(c, "counterBase") + n - 1,
	                                      r->name)
	                              : json_object();
	r->refs = json_object();
	if (t == T_VM) {
		json_object_set_new(r->attrs, "mci", json_string("conformance"));
		json_object_set_new(r->attrs, "group", json_string("g"));
		json_object_set_new(r->attrs, "index", json_integer(n));
		json_object_set_new(r->attrs, "connection", json_string("conformance"));
	}
	tags_of(c, r);
	return add_parents(c, r);
}

void conf_res_again(conf *c, conf_res *r, const conf_res *like)
{
	memset(r, 0, sizeof(*r));
	r->type = like->type;
	r->conn = like->conn;
	r->tagged = like->tagged;
	memcpy(r->name, like->name, sizeof(r->name));
	memcpy(r->address, like->address, sizeof(r->address));
	conf_uuid(r->key);
	r->attrs = json_deep_copy(like->attrs);
	r->refs = json_deep_copy(like->refs);
	tags_of(c, r);
}

void conf_res_free(conf_res *r)
{
	json_decref(r->attrs);
	json_decref(r->refs);
	free(r->tags);
	free(r->system_id);
	free(r->observed);
	memset(r, 0, sizeof(*r));
}

char *conf_input_as(const conf_res *r, int t, int with_refs, const json_t *attrs)
{
	json_t *refs = with_refs ? json_incref(r->refs) : json_object();
	json_t *in = json_pack("{s:s,s:s,s:s,s:O,s:o,s:o}", "type", conf_type_names[t], "name",
	                       r->name, "namespace", "conformance", "attrs",
	                       attrs ? attrs : r->attrs, "refs", refs, "tags",
	                       json_loads(r->tags, 0, NULL));
	char *s;

	if (r->system_id)
		json_object_set_new(in, "system_id", json_string(r->system_id));
	s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(in);
	return s;
}

char *conf_input(const conf_res *r, int with_refs, const json_t *attrs)
{
	return conf_input_as(r, r->type, with_refs, attrs);
}

int conf_json_same(const char *a, const char *b)
{
	json_t *x = json_loads(a ? a : "", JSON_DECODE_ANY, NULL);
	json_t *y = json_loads(b ? b : "", JSON_DECODE_ANY, NULL);
	int same = x && y && json_equal(x, y);

	json_decref(x);
	json_decref(y);
	return same;
}

/* The status a new resource settles in. */
static const char *final_status(const conf_res *r)
{
	const char *state = json_string_value(json_object_get(r->attrs, "state"));

	if (r->type != T_VM)
		return "Available";
	return state && strcmp(state, "Suspended") == 0 ? "Suspended" : "Running";
}

/* The checks of a successful create, after settling; x holds the result. */
static void create_checks(conf *c, conf_res *r, conf_op *x)
{
	const ch_obs *o = &x->sink.v[0];

	if (strcmp(o->system_id, r->system_id) != 0)
		conf_fail(c, "%s: the operation reported %s, the create %s", x->what, o->system_id,
		          r->system_id);
	if (strcmp(o->name, r->name) != 0)
		conf_fail(c, "%s: emitted name \"%s\", want the name it was created with",
		          x->what, o->name);
	if (!conf_json_same(o->tags, r->tags))
		conf_fail(c, "%s: emitted tags %.300s, want the tags given %.300s", x->what, o->tags,
		          r->tags);
	if (strcmp(o->status, final_status(r)) != 0)
		conf_fail(c, "%s: ended with status \"%s\", want \"%s\"", x->what, o->status,
		          final_status(r));
	free(r->observed);
	r->observed = strdup(o->attrs);
	snprintf(r->status, sizeof(r->status), "%s", o->status);
}

int conf_create(conf *c, conf_res *r, const conf_callopt *co, conf_opstats *st)
{
	conf_callopt o = co ? *co : (conf_callopt){ 0 };
	char *in = conf_input(r, 1, NULL);
	conf_op x;
	int rc;

	o.conn = r->conn;
	o.key = r->key;
	o.address = r->address;
	rc = conf_call(c, &x, OP_CREATE, conf_type_names[r->type], NULL, in, &o);
	free(in);
	snprintf(r->why, sizeof(r->why), "%s", conf_op_result(&x));
	if (x.sink.n >= 1 && !r->system_id)
		r->system_id = strdup(x.sink.v[0].system_id); /* made, even if it then failed */
	if (rc == BAR_OK && x.sink.n == 1 && (rc = conf_settle(c, &x, r, 0, st)) == BAR_OK)
		create_checks(c, r, &x);
	else if (rc == BAR_OK)
		rc = BAR_EFAIL; /* the call's checks said why */
	conf_op_clear(&x);
	return rc;
}

int conf_make(conf *c, conf_res *r)
{
	int rc = conf_create(c, r, NULL, NULL);

	if (rc != BAR_OK)
		conf_fail(c, "create %s %s failed: %s", conf_type_names[r->type], r->name, r->why);
	return rc;
}

int conf_read(conf *c, conf_op *x, const conf_res *r, int t)
{
	conf_callopt co = { .conn = r->conn, .address = r->address };
	char *in = conf_input_as(r, t, 0, NULL);
	int rc = conf_call(c, x, OP_READ, conf_type_names[t], NULL, in, &co);

	free(in);
	return rc;
}

int conf_list(conf *c, conf_op *x, int t, const char *region)
{
	conf_callopt co = { .region = region };

	return conf_call(c, x, OP_LIST, conf_type_names[t], NULL, NULL, &co);
}

int conf_find(const conf_op *x, const char *system_id)
{
	for (size_t i = 0; system_id && i < x->sink.n; i++)
		if (strcmp(x->sink.v[i].system_id, system_id) == 0)
			return (int)i;
	return -1;
}

/* After a delete: gone for delete, read and list. */
static void gone_checks(conf *c, conf_res *r)
{
	conf_callopt co = { .conn = r->conn, .address = r->address };
	char *in = conf_input(r, 0, NULL);
	conf_op x;

	if (conf_call(c, &x, OP_DELETE, conf_type_names[r->type], NULL, in, &co) != BAR_ENOTFOUND)
		conf_fail(c, "%s of %s again: %s, want BAR_ENOTFOUND", x.what, r->system_id,
		          conf_op_result(&x));
	conf_op_clear(&x);
	free(in);
	if (conf_read(c, &x, r, r->type) != BAR_ENOTFOUND)
		conf_fail(c, "%s of deleted %s: %s, want BAR_ENOTFOUND", x.what, r->system_id,
		          conf_op_result(&x));
	conf_op_clear(&x);
	if ((c->p->capabilities & BAR_CAP_LIST) && conf_list(c, &x, r->type, NULL) == BAR_OK &&
	    conf_find(&x, r->system_id) >= 0)
		conf_fail(c, "list %s still includes deleted %s", conf_type_names[r->type],
		          r->system_id);
	conf_op_clear(&x);
}

int conf_delete(conf *c, conf_res *r, conf_opstats *st)
{
	conf_callopt co = { .conn = r->conn, .address = r->address };
	char *in = conf_input(r, 0, NULL);
	conf_op x;
	int rc = conf_call(c, &x, OP_DELETE, conf_type_names[r->type], NULL, in, &co);

	free(in);
	if (rc != BAR_OK)
		conf_fail(c, "%s of %s failed: %s", x.what, r->system_id, conf_op_result(&x));
	else if (conf_lookup_type(c, r->type))
		; /* forgotten: the cloud's own object stays, and read still finds it */
	else if ((rc = conf_settle(c, &x, r, 1, st)) == BAR_OK)
		gone_checks(c, r);
	conf_op_clear(&x);
	return rc;
}

conf_res *conf_need(conf *c, int t)
{
	conf_res *r = &c->world[t];

	if (c->world_state[t] == 1)
		return r;
	if (c->world_state[t] != 0) {
		conf_fail(c, "the %s this case needs %s", conf_type_names[t],
		          c->world_state[t] < 0 ? "could not be made" : "was deleted already");
		return NULL;
	}
	if (!conf_declared(c, t)) {
		conf_fail(c, "the provider does not declare the type %s", conf_type_names[t]);
		return NULL;
	}
	c->world_state[t] = -1;
	if (conf_res_new(c, r, t, 1, 0) == 0 && conf_make(c, r) == BAR_OK)
		c->world_state[t] = 1;
	return c->world_state[t] == 1 ? r : NULL;
}

/* How many resources of type t carry this run's lineage; -1 without
 * BAR_CAP_LIST or when list fails (the case failed). */
int conf_of_lineage(const conf *c, const ch_obs *o)
{
	json_t *tags = json_loads(o->tags, 0, NULL);
	const char *l = json_string_value(json_object_get(tags, "barista:lineage"));
	int ours = l && strcmp(l, c->lineage) == 0;

	json_decref(tags);
	return ours;
}

int conf_lineage_count(conf *c, int t)
{
	conf_op x;
	int n = 0;

	if (!(c->p->capabilities & BAR_CAP_LIST))
		return -1;
	if (conf_list(c, &x, t, NULL) != BAR_OK) {
		conf_fail(c, "%s: %s", x.what, conf_op_result(&x));
		n = -1;
	}
	for (size_t i = 0; n >= 0 && i < x.sink.n; i++)
		n += conf_of_lineage(c, &x.sink.v[i]);
	conf_op_clear(&x);
	return n;
}

void conf_count_is(conf *c, int t, int want, const char *after)
{
	int n = conf_lineage_count(c, t);

	if (n >= 0 && want >= 0 && n != want)
		conf_fail(c, "after %s, list %s shows %d of this run's resources, want %d", after,
		          conf_type_names[t], n, want);
}

void conf_ledger_add(conf *c, const char *type, int conn, const char *system_id,
                     const char *name)
{
	FILE *f;

	pthread_mutex_lock(&c->mu);
	if ((f = fopen(c->ledger, "a")) != NULL) {
		fprintf(f, "%s\t%d\t%s\t%s\n", type, conn, system_id, name);
		fclose(f);
	}
	pthread_mutex_unlock(&c->mu);
}
