/*
 * test_planner.c - data-driven planner cases (tests/data/plan/<case>/).
 *
 * A case is a directory with:
 *   prior/     specs that were applied before (optional; absent = empty state)
 *   spec/      the specs now (optional; absent = empty configuration)
 *   live.json  what the provider reports differently from what was recorded
 *              (optional): {"gone": [addr...], "attrs": {addr: {k: v}},
 *                           "status": {addr: "Suspended"},
 *                           "stale_hash": {addr: true}} (recorded with another
 *              hash of the same attributes)
 *   catalog/   the drivers' catalogues for one-line groups and MCApp
 *              requirements (`fixture.catalog.json`; optional: absent = the
 *              built ones)
 *   args       plan options, one per line: "refresh=false", "destroy", "refresh-only",
 *              "target ADDR", "replace ADDR" (optional)
 *   render     what `barista plan` shows of the plan: bar_plan_render without
 *              colour (optional)
 *   expect     the expected plan, one line per change:
 *              "<action> <address>[ (<vm action>)][ # <reason>]", then
 *              "drift <address> <attr>" lines, then
 *              "summary add=N change=N destroy=N unchanged=N lists=N" where
 *              lists counts the provider list calls refresh made
 *
 * The prior specs are "applied" by writing the records a successful apply
 * would write into a real SQLite state file; refresh goes through the real
 * host/registry code to an in-process fixture provider whose list reports
 * the recorded resources as modified by live.json.  The fixture stands in
 * for a cloud only to feed the planner; providers have tests of their own.
 *
 * Usage: test_planner CASES_DIR [CASE]
 */
#include "catalog.h"
#include "error.h"
#include "testutil.h"
#include "json.h"
#include "kit.h"
#include "planner.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bar_records g_recorded; /* what the fixture lists */
static json_t *g_live;          /* live.json */
static const bar_host_api *g_host;
static int g_lists; /* list calls made: one per (connection, type) */

static int fx_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	json_t *gone = json_object_get(g_live, "gone");

	g_lists++;

	for (size_t i = 0; i < g_recorded.n; i++) {
		const bar_record *r = &g_recorded.items[i];
		json_t *attrs, *mod;
		const char *status;
		char *text;
		size_t k;
		json_t *g;
		int skip = 0;

		if (!r->connection || strcmp(r->connection, call->connection) || strcmp(r->type, type))
			continue;
		json_array_foreach(gone, k, g)
			skip |= !strcmp(json_string_value(g), r->address);
		if (skip)
			continue;
		attrs = json_loads(r->observed ? r->observed : "{}", 0, NULL);
		mod = json_object_get(json_object_get(g_live, "attrs"), r->address);
		if (mod)
			json_object_update(attrs, mod);
		status = json_string_value(
		    json_object_get(json_object_get(g_live, "status"), r->address));
		text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
		g_host->emit(out, &(bar_observed){sizeof(bar_observed), r->system_id, r->name,
		                                  status ? status : r->status, text, "{}"});
		free(text);
		json_decref(attrs);
	}
	return BAR_OK;
}

static int fx_unused(bar_provider *p, bar_call *call, const char *type, const char *in,
                     bar_sink *out)
{
	g_host->set_error(call, "Fixture", "the planner must not call %s", type);
	return BAR_EFAIL;
}

static int fx_del(bar_provider *p, bar_call *call, const char *type, const char *in)
{
	return fx_unused(p, call, type, in, NULL);
}

/* The standard in-place rules (the kit's), and a driver that can neither
 * update in place nor suspend. */
#define FX_TYPE(t) \
	static const bar_type_info basic_##t = {.struct_size = sizeof(bar_type_info), .type = #t}
FX_TYPE(vnet);
FX_TYPE(securitygroup);
FX_TYPE(sshkey);
FX_TYPE(image);
FX_TYPE(spec);
FX_TYPE(vm);
static const bar_type_info *const basic_types[] = {&basic_vnet, &basic_securitygroup,
                                                   &basic_sshkey, &basic_image, &basic_spec,
                                                   &basic_vm, NULL};
static bar_provider fixture = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_provider),
	.name = "fixture",
	.version = "1",
	.capabilities = BAR_CAP_LIST | BAR_CAP_VM_SUSPEND,
	.types = bar_kit_standard_types,
	.create = fx_unused,
	.read = fx_unused,
	.update = fx_unused,
	.del = fx_del,
	.list = fx_list,
};
static bar_provider fixture_basic = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_provider),
	.name = "fixture-basic",
	.version = "1",
	.capabilities = BAR_CAP_LIST,
	.types = basic_types,
	.create = fx_unused,
	.read = fx_unused,
	.update = fx_unused,
	.del = fx_del,
	.list = fx_list,
};

/* The driver of a provider resource's connection, as apply records it. */
static const char *driver_of(const bar_desired_set *ds, const bar_desired *d)
{
	char *addr = bar_printf("%s/connection/%s", d->ns, d->connection);
	const bar_desired *c = bar_desired_find(ds, addr);

	free(addr);
	return c ? json_string_value(json_object_get(c->attrs, "driver")) : "fixture";
}

/* Write the records a successful apply of `dir` would have written. */
static int seed_state(bar_state *st, const char *dir)
{
	bar_config *cfg = NULL;
	bar_desired_set ds = {0};

	if (bar_config_load(&cfg, dir, NULL) < 0)
		return fprintf(stderr, "prior specs: %s\n", bar_error_last()), -1;
	bar_desired_build(&ds, cfg);
	for (size_t i = 0; i < ds.n; i++) {
		const bar_desired *d = &ds.items[i];
		int prov = bar_type_is_provider(d->type);
		char lazy_hash[17];

		/* a lazily hashed VM must hash exactly as its expanded attrs do */
		memcpy(lazy_hash, d->hash, sizeof(lazy_hash));
		bar_desired_expand(d);
		bar_json_hash(d->attrs, NULL, (char *)d->hash);
		if (strcmp(lazy_hash, d->hash) != 0)
			return fprintf(stderr, "%s: lazy hash %s != %s\n", d->address, lazy_hash,
			               d->hash), -1;
		char *sysid = prov ? bar_printf("fx-%s", d->address) : NULL;
		char *deps = json_dumps(d->deps, JSON_COMPACT);
		char *refs = json_dumps(d->refs, JSON_COMPACT | JSON_SORT_KEYS);
		char *text = json_dumps(d->attrs, JSON_COMPACT | JSON_SORT_KEYS);
		bar_record r = {
			.address = d->address, .type = (char *)d->type, .ns = d->ns,
			.name = d->name, .provider = prov ? (char *)driver_of(&ds, d) : NULL,
			.connection = d->connection, .system_id = sysid,
			.status = prov ? (strcmp(d->type, "vm") ? "Available" : "Running")
			               : "Recorded",
			.hash = (char *)d->hash, .desired = text, .observed = prov ? text : NULL,
			.deps = deps, .refs = refs,
		};

		if (prov) { /* observed: what the spec asked for, as a provider would echo */
			r.status = !strcmp(d->type, "vm") &&
			                   !strcmp(json_string_value(json_object_get(d->attrs, "state")),
			                           "Suspended")
			               ? "Suspended"
			               : r.status;
		}
		if (json_object_get(json_object_get(g_live, "stale_hash"), d->address))
			r.hash = "0000000000000000"; /* recorded by another version */
		if (bar_state_put(st, &r) < 0)
			return fprintf(stderr, "%s\n", bar_error_last()), -1;
		free(sysid);
		free(deps);
		free(refs);
		free(text);
	}
	bar_desired_set_clear(&ds);
	bar_config_free(cfg);
	return 0;
}

static int is_dir(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void render(const bar_plan *p, bar_buf *b)
{
	size_t add, chg, del, i;
	json_t *d;

	for (i = 0; i < p->n; i++) {
		const bar_change *c = &p->changes[i];

		bar_buf_printf(b, "%s %s", bar_action_name(c->action), c->address);
		if (c->vm_action)
			bar_buf_printf(b, " (%s)", c->vm_action);
		if (c->reason)
			bar_buf_printf(b, " # %s", c->reason);
		bar_buf_puts(b, "\n");
	}
	json_array_foreach(p->drift, i, d)
		bar_buf_printf(b, "drift %s %s\n", json_string_value(json_object_get(d, "address")),
		               json_string_value(json_object_get(d, "attr")));
	bar_plan_counts(p, &add, &chg, &del);
	bar_buf_printf(b, "summary add=%zu change=%zu destroy=%zu unchanged=%zu lists=%d\n", add,
	               chg, del, p->n_noop, g_lists);
}

/* Every plan the planner makes passes the saved-plan checks and reads back
 * the same; a difference is added to the output (and fails the case). */
static void round_trip(const bar_plan *p, bar_buf *b)
{
	json_t *j = bar_plan_to_json(p), *again = NULL;
	bar_plan *q = NULL;

	if (bar_plan_from_json(&q, j) < 0)
		bar_buf_printf(b, "saved plan refused: %s\n", bar_error_last());
	else if (!json_equal(j, again = bar_plan_to_json(q)))
		bar_buf_puts(b, "saved plan reads back differently\n");
	json_decref(again);
	json_decref(j);
	bar_plan_free(q);
}

/* The human rendering matches DIR/render, when the case has one. */
static int rendered_ok(const bar_plan *p, const char *dir)
{
	char *path = bar_printf("%s/render", dir), *want = test_read_file(path);
	bar_buf got = BAR_BUF_INIT(0);
	int ok;

	bar_plan_render(p, 0, &got);
	ok = !want || (got.data && strcmp(got.data, want) == 0);
	if (!ok)
		fprintf(stderr, "FAIL %s (render)\n--- expected\n%s--- got\n%s", dir, want,
		        got.data ? got.data : "");
	bar_buf_free(&got);
	free(want);
	free(path);
	return ok;
}

/* Parse the args file into plan options (strings point into `text`). */
static void parse_args(char *text, bar_plan_opts *po, const char **targets,
                       const char **replace, int *refresh)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strcmp(line, "refresh=false"))
			*refresh = 0;
		else if (!strcmp(line, "destroy"))
			po->destroy = 1;
		else if (!strcmp(line, "refresh-only"))
			po->refresh_only = 1;
		else if (!strncmp(line, "target ", 7))
			targets[po->n_targets++] = line + 7;
		else if (!strncmp(line, "replace ", 8))
			replace[po->n_replace++] = line + 8;
	}
	po->targets = targets;
	po->replace = replace;
}

static int run_case(const char *dir)
{
	char *p_prior = bar_printf("%s/prior", dir), *p_spec = bar_printf("%s/spec", dir);
	char *p_live = bar_printf("%s/live.json", dir), *p_args = bar_printf("%s/args", dir);
	char *p_expect = bar_printf("%s/expect", dir), *p_cat = bar_printf("%s/catalog", dir);
	char tmpl[] = "/tmp/barista-plantest-XXXXXX";
	char *db = NULL, *args = test_read_file(p_args), *expect = test_read_file(p_expect);
	const char *targets[16], *replace[16];
	bar_plan_opts po = BAR_PLAN_OPTS_INIT;
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	bar_config *cfg = NULL;
	bar_desired_set ds = {0};
	bar_plan *plan = NULL;
	bar_snapshot *snap = NULL;
	bar_buf got = BAR_BUF_INIT(0);
	int refresh = 1;
	int ok = 0;

	if (!expect || !mkdtemp(tmpl)) {
		fprintf(stderr, "%s: no expect file\n", dir);
		goto done;
	}
	db = bar_printf("%s/state.db", tmpl);
	g_live = access(p_live, F_OK) == 0 ? json_load_file(p_live, 0, NULL) : json_object();
	if (!g_live) {
		fprintf(stderr, "%s: live.json does not parse\n", dir);
		goto done;
	}
	if (args)
		parse_args(args, &po, targets, replace, &refresh);
	g_lists = 0;
	bar_catalog_set_path(is_dir(p_cat) ? p_cat : NULL);
	bar_registry_new(&reg, "/nonexistent");
	bar_registry_add(reg, &fixture, "fixture (test_planner)");
	bar_registry_add(reg, &fixture_basic, "fixture-basic (test_planner)");
	if (bar_state_open(&st, db, BAR_STATE_CREATE) < 0 ||
	    (is_dir(p_prior) && seed_state(st, p_prior) < 0) ||
	    bar_state_load(st, &g_recorded) < 0)
		goto done;
	if (is_dir(p_spec)) {
		if (bar_config_load(&cfg, p_spec, NULL) < 0) {
			fprintf(stderr, "%s: spec: %s\n", dir, bar_error_last());
			goto done;
		}
		bar_desired_build(&ds, cfg);
	}
	if (bar_snapshot_read(&snap, st, reg, refresh, NULL) < 0 ||
	    bar_plan_make(&plan, is_dir(p_spec) ? &ds : NULL, snap, &po) < 0) {
		bar_buf_printf(&got, "error %s\n", bar_error_last());
	} else {
		render(plan, &got);
		round_trip(plan, &got);
	}
	ok = got.data && strcmp(got.data, expect) == 0;
	if (!ok)
		fprintf(stderr, "FAIL %s\n--- expected\n%s--- got\n%s", dir, expect,
		        got.data ? got.data : "");
	if (ok && plan && !rendered_ok(plan, dir))
		ok = 0;
done:
	bar_buf_free(&got);
	bar_plan_free(plan);
	bar_snapshot_free(snap);
	bar_desired_set_clear(&ds);
	bar_config_free(cfg);
	bar_records_clear(&g_recorded);
	bar_state_free(st);
	bar_registry_free(reg);
	json_decref(g_live);
	g_live = NULL;
	if (db) {
		char *wal = bar_printf("%s-wal", db), *shm = bar_printf("%s-shm", db);

		unlink(db);
		unlink(wal);
		unlink(shm);
		free(wal);
		free(shm);
		rmdir(tmpl);
	}
	free(db);
	free(args);
	free(expect);
	free(p_prior);
	free(p_spec);
	free(p_live);
	free(p_args);
	free(p_expect);
	free(p_cat);
	return ok;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	char *names[512];
	size_t n = 0, passed = 0;
	DIR *d;
	struct dirent *e;

	if (argc < 2) {
		fprintf(stderr, "usage: test_planner CASES_DIR [CASE]\n");
		return 2;
	}
	g_host = bar_host_api_get();
	/* The cases' connections take their credential from FIXTURE_TOKEN:
	 * planning checks that it resolves (case credential-unset: it must). */
	setenv("FIXTURE_TOKEN", "fixture-token-value", 1);
	unsetenv("FIXTURE_UNSET");
	d = opendir(argv[1]);
	if (!d)
		return perror(argv[1]), 2;
	while ((e = readdir(d)) && n < 512)
		if (e->d_name[0] != '.' && e->d_name[0] != '_' &&
		    (argc < 3 || !strcmp(e->d_name, argv[2])))
			names[n++] = bar_strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *dir = bar_printf("%s/%s", argv[1], names[i]);

		passed += run_case(dir);
		free(dir);
		free(names[i]);
	}
	printf("%zu of %zu planner cases passed\n", passed, n);
	return n > 0 && passed == n ? 0 : 1;
}
