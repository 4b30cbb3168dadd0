/*
 * conf_cases.c - the cases about the plugin as a whole: init refusing an
 * unknown host, the provider table, sessions, errors for unknown types and
 * malformed input, secrets kept out of everything the plugin says; and the
 * cleanup the parent runs after the cases.
 */
#include "conformance.h"

#include <ctype.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KNOWN_CAPS                                                                          \
	(BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST | BAR_CAP_ASYNC |            \
	 BAR_CAP_IDEMPOTENT)
#define MAX_ENTRIES 64 /* a NULL-terminated list longer than this is taken as unterminated */
#define NO_TYPE "conformance-no-such-type"

/* ---- init and the table ---- */

void case_abi_refused(conf *c, int t)
{
	static const uint32_t versions[] = { BAR_PROVIDER_ABI_VERSION + 1, 0, 999 };
	static bar_provider sentinel;

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		bar_host_api h = ch_host;
		bar_provider *out = &sentinel;
		char *msg = NULL;
		int rc;

		h.abi_version = versions[i];
		rc = c->pl.init(&h, &out, &msg);
		if (rc == 0) {
			conf_fail(c, "init accepted a host of ABI version %u", versions[i]);
			if (out && out != &sentinel && out->destroy)
				out->destroy(out);
		} else if (!msg || !*msg) {
			conf_fail(c, "init refused ABI version %u without a message", versions[i]);
		} else if (out != &sentinel) {
			conf_fail(c, "init refused ABI version %u but wrote *out", versions[i]);
		} else if (i == 0) {
			conf_note(c, "refused: %s", msg);
		}
		free(msg);
	}
}

/* A NULL-terminated list of in-place attribute names. */
static void check_in_place(conf *c, const bar_type_info *ti)
{
	size_t n = 0;

	for (const char *const *a = ti->in_place; a && *a; a++, n++) {
		if (n == MAX_ENTRIES) {
			conf_fail(c, "type %s: in_place has more than %d entries (not "
			          "NULL-terminated?)", ti->type, MAX_ENTRIES);
			return;
		}
		if (!**a)
			conf_fail(c, "type %s: an empty in_place attribute name", ti->type);
		for (const char *const *b = ti->in_place; b < a; b++)
			if (strcmp(*a, *b) == 0)
				conf_fail(c, "type %s: in_place lists \"%s\" twice", ti->type, *a);
	}
}

static void check_types(conf *c, const bar_provider *p)
{
	size_t n = 0;

	if (!p->types || !p->types[0]) {
		conf_fail(c, "the provider declares no resource types");
		return;
	}
	for (; p->types[n]; n++) {
		const bar_type_info *ti = p->types[n];

		if (n == MAX_ENTRIES) {
			conf_fail(c, "types has more than %d entries (not NULL-terminated?)",
			          MAX_ENTRIES);
			return;
		}
		if (!BAR_COVERS(ti, in_place) || !ti->type || !ti->type[0]) {
			conf_fail(c, "type entry %zu is malformed (struct_size %u, want at least %zu, "
			          "and a type name)", n, ti->struct_size,
			          offsetof(bar_type_info, in_place) + sizeof(ti->in_place));
			continue;
		}
		for (size_t m = 0; m < n; m++)
			if (p->types[m]->type && strcmp(p->types[m]->type, ti->type) == 0)
				conf_fail(c, "type %s is declared twice", ti->type);
		check_in_place(c, ti);
		if (ti->in_place && ti->in_place[0] && !p->update)
			conf_fail(c, "type %s lists in-place attributes but there is no update",
			          ti->type);
	}
}

/* The plugin file is barista-provider-<name>.so. */
static void check_file_name(conf *c, const char *name)
{
	char path[4096], want[300];

	snprintf(path, sizeof(path), "%s", c->o.plugin);
	snprintf(want, sizeof(want), "barista-provider-%s.so", name);
	if (strcmp(basename(path), want) != 0)
		conf_fail(c, "the provider is named \"%s\" but its file is %s (want %s)", name,
		          basename(path), want);
}

void case_table(conf *c, int t)
{
	const bar_provider *p = c->p;

	if (p->abi_version != BAR_PROVIDER_ABI_VERSION)
		conf_fail(c, "abi_version %u, want %d", p->abi_version, BAR_PROVIDER_ABI_VERSION);
	if (!BAR_COVERS(p, destroy)) {
		conf_fail(c, "struct_size %u does not cover every member of ABI version %d (%zu)",
		          p->struct_size, BAR_PROVIDER_ABI_VERSION,
		          offsetof(bar_provider, destroy) + sizeof(p->destroy));
		return;
	}
	if (!p->name || !p->name[0])
		conf_fail(c, "the provider has no name");
	else
		check_file_name(c, p->name);
	if (!p->version)
		conf_fail(c, "the provider has no version string");
	if (p->capabilities & ~(uint32_t)KNOWN_CAPS)
		conf_fail(c, "unknown capability bits 0x%x", p->capabilities & ~(uint32_t)KNOWN_CAPS);
	if (!p->create || !p->read || !p->del || !p->list)
		conf_fail(c, "create, read, del and list are required");
	if ((p->capabilities & (BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT)) && !p->vm_action)
		conf_fail(c, "VM action capabilities without vm_action");
	check_types(c, p);
	conf_note(c, "%s %s, capabilities 0x%x%s%s%s%s%s, poll %s, open %s",
	          p->name ? p->name : "?", p->version ? p->version : "?", p->capabilities,
	          p->capabilities & BAR_CAP_VM_SUSPEND ? " VM_SUSPEND" : "",
	          p->capabilities & BAR_CAP_VM_REBOOT ? " VM_REBOOT" : "",
	          p->capabilities & BAR_CAP_LIST ? " LIST" : "",
	          p->capabilities & BAR_CAP_ASYNC ? " ASYNC" : "",
	          p->capabilities & BAR_CAP_IDEMPOTENT ? " IDEMPOTENT" : "",
	          BAR_HAS(p, poll) ? "yes" : "no", BAR_HAS(p, open) ? "yes" : "no");
}

/* ---- sessions ---- */

void conf_open_sessions(conf *c)
{
	for (int i = 0; i < 2 && BAR_HAS(c->p, open); i++) {
		ch_call hc;

		if (i == 1 && strcmp(c->config[0], c->config[1]) == 0) {
			c->session[1] = c->session[0]; /* the same connection */
			c->open_rc[1] = c->open_rc[0];
			break;
		}
		ch_call_init(&hc, "open", "conformance", c->o.region, c->config[i], NULL);
		hc.call.deadline_ms = bar_kit_now_ms() + conf_fx_int(c, "callTimeoutMs");
		c->open_rc[i] = c->p->open(c->p, &hc.call, &c->session[i]);
		c->opened[i] = c->open_rc[i] == BAR_OK;
		if (c->open_rc[i] != BAR_OK)
			snprintf(c->open_err[i], sizeof(c->open_err[i]), "%s: %s%s", hc.code, hc.msg,
			         hc.n_errors ? "" : " (and it set no error)");
		ch_call_clear(&hc);
	}
	/* the main config in the other region: a connection of its own */
	{
		const char *other = json_string_value(conf_fx(c, "otherRegion"));
		ch_call hc;

		if (!BAR_HAS(c->p, open) || !other || !*other || !strcmp(other, c->o.region))
			return;
		ch_call_init(&hc, "open", "conformance-other", other, c->config[0], NULL);
		hc.call.deadline_ms = bar_kit_now_ms() + conf_fx_int(c, "callTimeoutMs");
		c->open_rc[2] = c->p->open(c->p, &hc.call, &c->session[2]);
		c->opened[2] = c->open_rc[2] == BAR_OK;
		if (c->open_rc[2] != BAR_OK)
			snprintf(c->open_err[2], sizeof(c->open_err[2]), "%s: %s%s", hc.code, hc.msg,
			         hc.n_errors ? "" : " (and it set no error)");
		ch_call_clear(&hc);
	}
}

void case_open_close(conf *c, int t)
{
	if (!BAR_HAS(c->p, open)) {
		conf_skip(c, "the provider has no open() (it is optional)");
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (c->open_rc[i] != BAR_OK)
			conf_fail(c, "open() for the %s failed: %s (%s)",
			          i == 2 ? "main config in otherRegion" : i ? "wait config" : "main config",
			          conf_rc_name(c->open_rc[i]), c->open_err[i]);
		else if (c->session[i] && !BAR_HAS(c->p, close))
			conf_fail(c, "open() made a session but there is no close() to release it");
	}
	conf_note(c, "session %s; every call carries it, close() runs at the end",
	          c->session[0] ? "set" : "NULL");
}

/* ---- errors ---- */

static void expect_rc(conf *c, int op, const char *type, const char *action, const char *in,
                      int want, const char *why)
{
	conf_op x;
	int rc = conf_call(c, &x, op, type, action, in, NULL);

	if (rc != want)
		conf_fail(c, "%s with %s: %s, want %s", x.what, why, conf_op_result(&x),
		          conf_rc_name(want));
	conf_op_clear(&x);
}

void case_unknown_type(conf *c, int t)
{
	char in[512];
	const char *why = "an undeclared type";

	snprintf(in, sizeof(in), "{\"attrs\":{},\"name\":\"cf-%s-nothing\",\"namespace\":"
	         "\"conformance\",\"refs\":{},\"system_id\":\"conformance-no-such-id\","
	         "\"tags\":{\"barista:lineage\":\"%s\"},\"type\":\"" NO_TYPE "\"}", c->run_id,
	         c->lineage);
	expect_rc(c, OP_CREATE, NO_TYPE, NULL, in, BAR_ENOTSUP, why);
	expect_rc(c, OP_READ, NO_TYPE, NULL, in, BAR_ENOTSUP, why);
	if (c->p->update)
		expect_rc(c, OP_UPDATE, NO_TYPE, NULL, in, BAR_ENOTSUP, why);
	expect_rc(c, OP_DELETE, NO_TYPE, NULL, in, BAR_ENOTSUP, why);
	expect_rc(c, OP_LIST, NO_TYPE, NULL, NULL, BAR_ENOTSUP, why);
	if (BAR_HAS(c->p, poll))
		expect_rc(c, OP_POLL, NO_TYPE, NULL, in, BAR_ENOTSUP, why);
}

void case_malformed_input(conf *c, int t)
{
	static const char *const bad[] = { "{\"type\":", "[]", "", "\"vm\"" };
	const char *type = NULL;

	for (int u = 0; u < CONF_NTYPES && !type; u++)
		type = conf_declared(c, u) ? conf_type_names[u] : NULL;
	if (!type) {
		conf_skip(c, "the provider declares none of the standard types");
		return;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char why[64];

		snprintf(why, sizeof(why), "input '%s'", bad[i]);
		expect_rc(c, OP_CREATE, type, NULL, bad[i], BAR_EINVALID, why);
		expect_rc(c, OP_READ, type, NULL, bad[i], BAR_EINVALID, why);
		if (c->p->update)
			expect_rc(c, OP_UPDATE, type, NULL, bad[i], BAR_EINVALID, why);
		expect_rc(c, OP_DELETE, type, NULL, bad[i], BAR_EINVALID, why);
		if (BAR_HAS(c->p, poll))
			expect_rc(c, OP_POLL, type, NULL, bad[i], BAR_EINVALID, why);
		if (c->p->vm_action && conf_declared(c, T_VM))
			expect_rc(c, OP_ACTION, NULL, "suspend", bad[i], BAR_EINVALID, why);
	}
}

/* A call whose observations the host refuses must fail with BAR_EFAIL. */
static void refused_call(conf *c, int op, const conf_res *r)
{
	conf_callopt co = { .conn = r->conn, .address = r->address, .refuse_emits = 1 };
	char *in = op == OP_LIST ? NULL : conf_input(r, 0, NULL);
	conf_op x;
	int rc = conf_call(c, &x, op, conf_type_names[r->type], NULL, in, &co);

	if (!x.sink.n_refused)
		conf_fail(c, "%s: emitted nothing for the host to refuse (%s)", x.what,
		          conf_op_result(&x));
	else if (rc != BAR_EFAIL)
		conf_fail(c, "%s: the host refused the observation, the call returned %s; want "
		          "BAR_EFAIL", x.what, conf_op_result(&x));
	conf_op_clear(&x);
	free(in);
}

void case_emit_refused(conf *c, int t)
{
	conf_res *r = NULL;

	for (int u = 0; u < CONF_NTYPES && !r; u++)
		if (conf_declared(c, u) && !(r = conf_need(c, u)))
			return;
	if (!r) {
		conf_skip(c, "the provider declares none of the standard types");
		return;
	}
	refused_call(c, OP_READ, r);
	if (c->p->capabilities & BAR_CAP_LIST)
		refused_call(c, OP_LIST, r);
}

/* ---- secrets ---- */

/* After a create that failed because its secret was refused: nothing of
 * it may be left ("fail the create and delete what was made"). */
static void nothing_left(conf *c, conf_res *r, const conf_op *x, int n0)
{
	conf_op y;

	if (x->sink.n == 1) {
		r->system_id = strdup(x->sink.v[0].system_id);
		if (conf_read(c, &y, r, r->type) != BAR_ENOTFOUND)
			conf_fail(c, "the create failed for its refused secret but %s is still there: "
			          "%s", r->system_id, conf_op_result(&y));
		conf_op_clear(&y);
	}
	conf_count_is(c, r->type, n0, "a create whose secret was refused");
}

void case_secret_refused(conf *c, int t)
{
	conf_callopt co = { .refuse_secrets = 1 };
	conf_res r;
	conf_op x;
	char *in;
	int n0;

	if (!conf_declared(c, T_KEY)) {
		conf_skip(c, "the provider does not declare sshkey");
		return;
	}
	if (conf_res_new(c, &r, T_KEY, 1, 0) < 0)
		return;
	n0 = conf_lineage_count(c, T_KEY);
	co.key = r.key;
	co.address = r.address;
	in = conf_input(&r, 1, NULL);
	if (conf_call(c, &x, OP_CREATE, "sshkey", NULL, in, &co) == BAR_OK) {
		if (x.sink.n_refused)
			conf_fail(c, "the host refused the private key, yet the create succeeded");
		else
			conf_skip(c, "the sshkey create (fixture attrs) handed over no secret");
		r.system_id = x.sink.n == 1 ? strdup(x.sink.v[0].system_id) : NULL;
		if (r.system_id && conf_settle(c, &x, &r, 0, NULL) == BAR_OK)
			conf_delete(c, &r, NULL);
	} else {
		conf_note(c, "the create failed: %s", conf_op_result(&x));
		nothing_left(c, &r, &x, n0);
	}
	conf_op_clear(&x);
	free(in);
	conf_res_free(&r);
}

typedef struct scan {
	conf *c;
	char **needles; /* secret values and their key-material fragments */
	const char **from;
	size_t n, texts;
	int leaks;
} scan;

static void needle_add(scan *s, const char *v, const char *from)
{
	s->needles = realloc(s->needles, (s->n + 1) * sizeof(*s->needles));
	s->from = realloc(s->from, (s->n + 1) * sizeof(*s->from));
	if (!s->needles || !s->from)
		abort();
	s->needles[s->n] = strdup(v);
	s->from[s->n++] = from;
}

/* A secret, and each run of 16 or more base64/hex characters in it (a
 * line of a PEM block, a hex key), so a partial leak is caught too. */
static int collect(void *ud, const char *kind, const char *op, const char *text, int secret)
{
	scan *s = ud;
	char frag[4096];

	if (!secret)
		return 0;
	needle_add(s, text, kind);
	for (const char *p = text; *p;) {
		size_t n = 0;

		while (p[n] && (isalnum((unsigned char)p[n]) || strchr("+/=", p[n])))
			n++;
		if (n >= 16 && n < sizeof(frag) && n < strlen(text)) {
			snprintf(frag, sizeof(frag), "%.*s", (int)n, p);
			needle_add(s, frag, kind);
		}
		p += n ? n : 1;
	}
	return 0;
}

static int look(void *ud, const char *kind, const char *op, const char *text, int secret)
{
	scan *s = ud;

	if (secret)
		return 0;
	s->texts++;
	for (size_t i = 0; i < s->n && s->leaks < 20; i++) {
		if (strstr(text, s->needles[i])) {
			conf_fail(s->c, "a secret (%s) appears in the %s of a %s call", s->from[i], kind,
			          op);
			s->leaks++;
			break;
		}
	}
	return 0;
}

void case_secrets(conf *c, int t)
{
	scan s = { .c = c };

	for (size_t i = 0; c->cred_pairs && c->cred_pairs[i]; i += 2)
		if (strlen(c->cred_pairs[i + 1]) >= 4)
			needle_add(&s, c->cred_pairs[i + 1], "a credential");
	if (ch_transcript_each(collect, &s) < 0 || ch_transcript_each(look, &s) < 0)
		conf_fail(c, "the transcript outgrew its limit: not everything was scanned");
	if (!s.n)
		conf_skip(c, "no secret was handed to the host and no -credentials were given");
	else
		conf_note(c, "%zu texts the plugin handed over scanned for %zu secret fragments",
		          s.texts, s.n);
	for (size_t i = 0; i < s.n; i++) {
		memset(s.needles[i], 0, strlen(s.needles[i]));
		free(s.needles[i]);
	}
	free(s.needles);
	free(s.from);
}

/* ---- cleanup (in the parent) ---- */

/* Delete one resource by id; 1 when it was still there. */
static int cleanup_one(conf *c, const char *type, int conn, const char *id, const char *name)
{
	conf_res r = { .conn = conn, .attrs = json_object(), .refs = json_object() };
	char *in;
	conf_op x;
	int t = conf_type_index(type), rc;
	/* a lookup type's delete only forgets it: nothing goes, nothing to wait for
	 * (settling would poll it until operationTimeoutMs with BAR_CAP_ASYNC) */
	int lookup = t >= 0 && conf_lookup_type(c, t);

	r.type = t < 0 ? T_VNET : t;
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.tags = strdup("{}");
	r.system_id = strdup(id);
	in = conf_input(&r, 0, NULL);
	rc = conf_call(c, &x, OP_DELETE, type, NULL, in, &(conf_callopt){ .conn = conn });
	if (rc == BAR_OK && !lookup)
		conf_settle(c, &x, &r, 1, NULL);
	conf_op_clear(&x);
	free(in);
	conf_res_free(&r);
	return rc == BAR_OK && !lookup; /* nothing was left of a lookup */
}

/* Delete every ledger entry of type t (or of no standard type, t -1). */
static int cleanup_ledger(conf *c, int t)
{
	char line[1024], type[64], id[512], name[256];
	int conn, found = 0;
	FILE *f = fopen(c->ledger, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^\t]\t%d\t%511[^\t]\t%255[^\t\n]", type, &conn, id, name) < 3)
			continue;
		/* a lookup's delete forgets it and answers BAR_OK every time: it
		 * is never "left behind", and waiting for it to go never ends */
		if (conf_type_index(type) == t && (t < 0 || !conf_lookup_type(c, t)))
			found += cleanup_one(c, type, conn & 1, id, name);
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * Delete the ids named by the fixture's leftoverGlobs for type t (paths
 * whose last component is a system id, with @TMPDIR@): what a create that
 * died midway made but never reported, for a provider that does not list
 * half-made resources (the local provider's metadata directories).
 */
static int cleanup_globbed(conf *c, int t)
{
	const char *pattern = json_string_value(
	    json_object_get(conf_fx(c, "leftoverGlobs"), conf_type_names[t]));
	char path[PATH_MAX], *slash;
	int found = 0;
	glob_t g;

	if (!pattern || strncmp(pattern, "@TMPDIR@", 8) != 0)
		return 0; /* only under the run's own directory */
	snprintf(path, sizeof(path), "%s%s", c->tmpdir, pattern + 8);
	if (glob(path, 0, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++)
		if ((slash = strrchr(g.gl_pathv[i], '/')) != NULL)
			found += cleanup_one(c, conf_type_names[t], 0, slash + 1, "cleanup");
	globfree(&g);
	return found;
}

/* Resources of type t listed with this run's lineage; deleted when del. */
static int lineage_left(conf *c, int t, int del)
{
	conf_op x;
	int n = 0;

	if (conf_list(c, &x, t, NULL) == BAR_OK) {
		for (size_t i = 0; i < x.sink.n; i++) {
			if (!conf_of_lineage(c, &x.sink.v[i]))
				continue;
			n++;
			if (del)
				cleanup_one(c, conf_type_names[t], 0, x.sink.v[i].system_id,
				            x.sink.v[i].name);
			else
				conf_note(c, "still there: %s %s (%s)", conf_type_names[t],
				          x.sink.v[i].system_id, x.sink.v[i].name);
		}
	}
	conf_op_clear(&x);
	return n;
}

int conf_cleanup(conf *c, int *left)
{
	int found = 0;

	conf_open_sessions(c);
	for (int t = CONF_NTYPES - 1; t >= 0; t--)
		found += cleanup_ledger(c, t) + cleanup_globbed(c, t);
	found += cleanup_ledger(c, -1);
	*left = 0;
	for (int t = CONF_NTYPES - 1; t >= 0; t--) {
		if (!conf_declared(c, t) || !(c->p->capabilities & BAR_CAP_LIST))
			continue;
		found += lineage_left(c, t, 1);
		*left += lineage_left(c, t, 0);
	}
	return found;
}
