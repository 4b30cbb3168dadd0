/*
 * test_cloud.c - the host's side of reaching clouds (issue 7): credential
 * references (env, files in the clouds' formats, programs with expiry),
 * the call log (records, filters, summary, rotation), and the catalogue.
 * Runs in a temporary directory it removes; programs it runs are small
 * shell scripts it writes there.
 */
#include "calllog.h"
#include "catalog.h"
#include "planner.h"
#include "spec.h"
#include "state.h"
#include "credential.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[] = "/tmp/barista-cloud-XXXXXX";

static void write_file(const char *name, const char *text, int mode)
{
	char *path = bar_printf("%s/%s", tmp, name);
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, (mode_t)mode);
	free(path);
}

static json_t *ref_file(const char *name, const char *profile)
{
	char *path = bar_printf("%s/%s", tmp, name);
	json_t *r = profile ? json_pack("{s:s, s:s}", "file", path, "profile", profile)
	                    : json_pack("{s:s}", "file", path);

	free(path);
	return r;
}

static int count_runs(void)
{
	char *path = bar_printf("%s/runs", tmp), *text = test_read_file(path);
	int n = text ? (int)strlen(text) : 0;

	free(text);
	free(path);
	return n;
}

static void test_cred_env(void)
{
	json_t *ref = json_pack("{s:{s:s, s:s}}", "env", "access_key_id", "BAR_TEST_AK",
	                        "secret_access_key", "BAR_TEST_SK");
	bar_cred *c = NULL;

	setenv("BAR_TEST_AK", "AKIDEXAMPLE", 1);
	unsetenv("BAR_TEST_SK");
	CHECK(bar_cred_resolve(&c, ref) == 0);
	CHECK(c && strcmp(bar_cred_get(c, "access_key_id"), "AKIDEXAMPLE") == 0);
	CHECK(bar_cred_get(c, "secret_access_key") == NULL);
	CHECK(bar_cred_unset_var(c, "secret_access_key") &&
	      strcmp(bar_cred_unset_var(c, "secret_access_key"), "BAR_TEST_SK") == 0);
	CHECK(bar_cred_unset_var(c, "access_key_id") == NULL);
	CHECK(bar_cred_get(c, "unmapped") == NULL);
	/* env values are read at each lookup, never cached */
	setenv("BAR_TEST_AK", "AKIDROTATED", 1);
	CHECK(strcmp(bar_cred_get(c, "access_key_id"), "AKIDROTATED") == 0);
	bar_cred_release(c);
	json_decref(ref);
}

static void test_cred_files(void)
{
	json_t *ref;
	bar_cred *c = NULL, *c2 = NULL;

	/* AWS shared credentials: [default], [prod]; ~/.aws/config's [profile x] */
	write_file("credentials", "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
	           "aws_secret_access_key=secret/default\n\n[prod]\n"
	           "aws_access_key_id=AKIDPROD\n aws_secret_access_key = secret/prod \n"
	           "[profile staging]\naws_access_key_id=AKIDSTAGING\n", 0600);
	ref = ref_file("credentials", NULL);
	CHECK(bar_cred_resolve(&c, ref) == 0);
	CHECK(c && strcmp(bar_cred_get(c, "aws_access_key_id"), "AKIDDEFAULT") == 0);
	bar_cred_release(c);
	json_decref(ref);
	ref = ref_file("credentials", "prod");
	CHECK(bar_cred_resolve(&c, ref) == 0);
	CHECK(c && strcmp(bar_cred_get(c, "aws_secret_access_key"), "secret/prod") == 0);
	bar_cred_release(c);
	json_decref(ref);
	ref = ref_file("credentials", "staging");
	CHECK(bar_cred_resolve(&c, ref) == 0);
	CHECK(c && strcmp(bar_cred_get(c, "aws_access_key_id"), "AKIDSTAGING") == 0);
	bar_cred_release(c);
	json_decref(ref);
	ref = ref_file("credentials", "missing");
	CHECK(bar_cred_resolve(&c, ref) == BAR_EAUTH);
	CHECK(strstr(bar_error_last(), "no [missing] section") != NULL);
	CHECK(strstr(bar_error_last(), "secret/") == NULL);
	json_decref(ref);

	/* GCP service-account JSON; a change on disk is seen */
	write_file("sa.json", "{\"type\": \"service_account\", \"client_email\": "
	           "\"b@p.iam.gserviceaccount.com\", \"private_key\": \"-----BEGIN\"}", 0600);
	ref = ref_file("sa.json", NULL);
	CHECK(bar_cred_resolve(&c, ref) == 0);
	CHECK(c && strcmp(bar_cred_get(c, "client_email"), "b@p.iam.gserviceaccount.com") == 0);
	CHECK(bar_cred_resolve(&c2, ref) == 0 && c2 == c); /* cached */
	bar_cred_release(c2);
	sleep(1); /* a different mtime even on coarse clocks */
	write_file("sa.json", "{\"client_email\": \"other@p.iam.gserviceaccount.com\"}", 0600);
	CHECK(bar_cred_resolve(&c2, ref) == 0 && c2 != c);
	CHECK(c2 && strcmp(bar_cred_get(c2, "client_email"), "other@p.iam.gserviceaccount.com") == 0);
	/* the old values stay valid for their holder */
	CHECK(strcmp(bar_cred_get(c, "client_email"), "b@p.iam.gserviceaccount.com") == 0);
	bar_cred_release(c);
	bar_cred_release(c2);
	json_decref(ref);

	/* malformed JSON: the position, never the content */
	write_file("bad.json", "{\"clientSecret\": \"s3cr3t-value\",,}", 0600);
	ref = ref_file("bad.json", NULL);
	CHECK(bar_cred_resolve(&c, ref) == BAR_EAUTH);
	CHECK(strstr(bar_error_last(), "line 1") != NULL);
	CHECK(strstr(bar_error_last(), "s3cr3t") == NULL);
	json_decref(ref);
	ref = ref_file("absent.json", NULL);
	CHECK(bar_cred_resolve(&c, ref) == BAR_EAUTH);
	CHECK(strstr(bar_error_last(), "No such file") != NULL);
	json_decref(ref);
}

static json_t *ref_exec(const char *script)
{
	char *path = bar_printf("%s/%s", tmp, script);
	json_t *r = json_pack("{s:[s]}", "exec", path);

	free(path);
	return r;
}

static void test_cred_exec(void)
{
	char *script;
	json_t *ref;
	bar_cred *c = NULL, *c2 = NULL;

	/* AWS credential_process output, valid for an hour: run once */
	script = bar_printf("#!/bin/sh\nprintf x >> %s/runs\n"
	                    "echo '{\"Version\": 1, \"AccessKeyId\": \"ASIAEXEC\", "
	                    "\"SecretAccessKey\": \"exec/secret\", \"SessionToken\": \"tok\", "
	                    "\"Expiration\": \"2099-01-01T00:00:00Z\"}'\n", tmp);
	write_file("process.sh", script, 0700);
	free(script);
	ref = ref_exec("process.sh");
	CHECK(bar_cred_resolve(&c, ref) == 0);
	CHECK(c && strcmp(bar_cred_get(c, "AccessKeyId"), "ASIAEXEC") == 0);
	CHECK(c && strcmp(bar_cred_get(c, "SessionToken"), "tok") == 0);
	CHECK(bar_cred_resolve(&c2, ref) == 0 && c2 == c);
	CHECK(count_runs() == 1);
	bar_cred_release(c);
	bar_cred_release(c2);
	json_decref(ref);

	/* kubectl ExecCredential that expires within the refresh margin: run
	 * again on every resolve */
	script = bar_printf("#!/bin/sh\nprintf x >> %s/runs\n"
	                    "echo '{\"kind\": \"ExecCredential\", \"status\": {\"token\": \"kt\", "
	                    "\"expirationTimestamp\": \"2000-01-01T00:00:00+09:00\"}}'\n", tmp);
	write_file("kube.sh", script, 0700);
	free(script);
	ref = ref_exec("kube.sh");
	CHECK(bar_cred_resolve(&c, ref) == 0);
	CHECK(c && strcmp(bar_cred_get(c, "token"), "kt") == 0);
	bar_cred_release(c);
	CHECK(bar_cred_resolve(&c, ref) == 0);
	bar_cred_release(c);
	CHECK(count_runs() == 3);
	json_decref(ref);

	/* failures name the program and the status, never its output */
	write_file("fails.sh", "#!/bin/sh\necho '{\"token\": \"leaked-value\"}'\nexit 3\n", 0700);
	ref = ref_exec("fails.sh");
	CHECK(bar_cred_resolve(&c, ref) == BAR_EAUTH);
	CHECK(strstr(bar_error_last(), "exited with status 3") != NULL);
	CHECK(strstr(bar_error_last(), "leaked-value") == NULL);
	json_decref(ref);
	write_file("garbage.sh", "#!/bin/sh\necho not-json-secret-value\n", 0700);
	ref = ref_exec("garbage.sh");
	CHECK(bar_cred_resolve(&c, ref) == BAR_EAUTH);
	CHECK(strstr(bar_error_last(), "did not print a JSON object") != NULL);
	CHECK(strstr(bar_error_last(), "not-json-secret-value") == NULL);
	json_decref(ref);
	ref = ref_exec("no-such-program");
	CHECK(bar_cred_resolve(&c, ref) == BAR_EAUTH);
	CHECK(strstr(bar_error_last(), "could not be run") != NULL);
	json_decref(ref);
	bar_cred_cache_clear();
}

static void add_call(bar_calllog *l, int64_t at, const char *conn, const char *op, int status,
                     const char *code, int64_t ms)
{
	bar_call_entry e = {at, "default", conn, "aws", "us-east-1", "default/vm/web-1", op,
	                    "i-0abc", status, code, ms};

	bar_calllog_add(l, &e);
}

static void test_calllog(void)
{
	char *path = bar_printf("%s/state.db", tmp), *cpath = bar_calllog_path(path);
	bar_calllog *l = NULL, *ro = NULL;
	bar_calllog_filter f = {0};
	bar_calllog_rows rows;
	json_t *sum;

	CHECK(strcmp(cpath + strlen(cpath) - 9, ".db.calls") == 0);
	CHECK(bar_calllog_open_ro(&ro, cpath) == BAR_ENOTFOUND);
	CHECK(bar_calllog_open(&l, cpath, 200) == 0);
	for (int i = 0; i < 100; i++)
		add_call(l, 1000 + i, i % 4 ? "aws-seoul" : "aws-tokyo", "DescribeInstances", 200, "",
		         i + 1);
	add_call(l, 2000, "aws-seoul", "RunInstances", 400, "InvalidParameterValue", 30);
	add_call(l, 2001, "aws-seoul", "RunInstances", 0, "ConnectionFailed", 10000);
	CHECK(bar_calllog_query(l, &f, &rows) == 0 && rows.n == 102);
	CHECK(rows.n == 102 && rows.items[0].at_ms == 1000 && rows.items[101].at_ms == 2001);
	bar_calllog_rows_free(&rows);
	f.connection = "aws-tokyo";
	CHECK(bar_calllog_query(l, &f, &rows) == 0 && rows.n == 25);
	bar_calllog_rows_free(&rows);
	f.connection = "default/aws-seoul";
	f.errors_only = 1;
	CHECK(bar_calllog_query(l, &f, &rows) == 0 && rows.n == 2);
	CHECK(rows.n == 2 && strcmp(rows.items[0].error_code, "InvalidParameterValue") == 0);
	bar_calllog_rows_free(&rows);
	f = (bar_calllog_filter){.since_ms = 1090, .limit = 5};
	CHECK(bar_calllog_query(l, &f, &rows) == 0 && rows.n == 5);
	CHECK(rows.n == 5 && rows.items[4].at_ms == 2001 && rows.items[0].at_ms == 1097);
	bar_calllog_rows_free(&rows);

	/* summary: seoul has 75 describes (1..100 ms, i % 4 != 0) + 2 failures */
	sum = bar_calllog_summary(l, NULL);
	CHECK(json_array_size(sum) == 2);
	if (json_array_size(sum) == 2) {
		json_t *s = json_array_get(sum, 0), *t = json_array_get(sum, 1);

		CHECK(strcmp(json_string_value(json_object_get(s, "connection")), "aws-seoul") == 0);
		CHECK(json_integer_value(json_object_get(s, "calls")) == 77);
		CHECK(json_integer_value(json_object_get(s, "errors")) == 2);
		CHECK(json_integer_value(json_object_get(s, "max_ms")) == 10000);
		CHECK(strcmp(json_string_value(json_object_get(s, "top_operation")),
		             "DescribeInstances") == 0);
		/* tokyo: 1, 5, 9, ... 97 ms: p50 the 13th of 25 = 49, p99 = 97 */
		CHECK(json_integer_value(json_object_get(t, "calls")) == 25);
		CHECK(json_integer_value(json_object_get(t, "p50_ms")) == 49);
		CHECK(json_integer_value(json_object_get(t, "p99_ms")) == 97);
		CHECK(json_real_value(json_object_get(t, "error_rate")) == 0.0);
	}
	json_decref(sum);

	/* rotation: at most 200 kept, the newest */
	for (int i = 0; i < 1000; i++)
		add_call(l, 3000 + i, "aws-seoul", "DescribeVpcs", 200, "", 1);
	f = (bar_calllog_filter){0};
	CHECK(bar_calllog_query(l, &f, &rows) == 0 && rows.n <= 200 && rows.n >= 150);
	CHECK(rows.n > 0 && rows.items[rows.n - 1].at_ms == 3999);
	bar_calllog_rows_free(&rows);
	CHECK(bar_calllog_dropped(l) == 0);
	bar_calllog_close(l);

	/* read-only, as `barista calls` opens it */
	CHECK(bar_calllog_open_ro(&ro, cpath) == 0);
	CHECK(ro && bar_calllog_query(ro, &f, &rows) == 0 && rows.n > 0);
	bar_calllog_rows_free(&rows);
	bar_calllog_close(ro);
	free(cpath);
	free(path);
}

/* A group in one line derives its connection (with the template's
 * credential and config), one VNet, security group and key per connection,
 * and the image and spec from the catalogue. */
static void test_one_line(void)
{
	char *dir = bar_printf("%s/oneline", tmp), *file = bar_printf("%s/mci.yaml", dir);
	bar_config *cfg = NULL;
	bar_diags diags = {0};
	const bar_object *c, *v, *sp, *im, *mci;
	FILE *f;

	mkdir(dir, 0700);
	f = fopen(file, "w");
	CHECK(f != NULL);
	if (!f)
		goto done;
	fputs("apiVersion: barista.dev/v1\nkind: Connection\nmetadata: {name: sim-any}\n"
	      "spec:\n  driver: sim\n  region: elsewhere\n  config: {latencyMs: '5'}\n"
	      "  credential: {env: {token: SIM_TOKEN}}\n---\n"
	      "apiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: web}\nspec:\n  groups:\n"
	      "    - {name: a, spec: sim+r1+sim.small, image: ubuntu-22.04, count: 2}\n"
	      "    - {name: b, spec: sim+r1+sim.medium, image: ubuntu-22.04}\n"
	      "    - {name: c, spec: sim+elsewhere+sim.small, image: debian-12}\n", f);
	fclose(f);
	CHECK(bar_config_load(&cfg, dir, &diags) == 0);
	for (size_t i = 0; i < diags.n; i++)
		fprintf(stderr, "diag: %s\n", diags.items[i].message);
	if (!cfg)
		goto done;
	c = bar_config_find(cfg, BAR_KIND_CONNECTION, "default", "sim-r1");
	CHECK(c != NULL);
	CHECK(c && strcmp(json_string_value(json_object_get(json_object_get(
	                      json_object_get(c->attrs, "credential"), "env"), "token")),
	                  "SIM_TOKEN") == 0);
	CHECK(c && strcmp(json_string_value(json_object_get(json_object_get(c->attrs, "config"),
	                                                    "latencyMs")), "5") == 0);
	CHECK(c && json_is_string(json_object_get(c->labels, "barista.dev/derived")));
	/* group c's region has a Connection already: no second one */
	CHECK(!bar_config_find(cfg, BAR_KIND_CONNECTION, "default", "sim-elsewhere"));
	v = bar_config_find(cfg, BAR_KIND_VNET, "default", "sim-r1-net");
	CHECK(v && strncmp(json_string_value(json_object_get(v->attrs, "cidr")), "10.", 3) == 0);
	CHECK(bar_config_find(cfg, BAR_KIND_VNET, "default", "sim-any-net") != NULL);
	CHECK(bar_config_find(cfg, BAR_KIND_SECURITYGROUP, "default", "sim-r1-sg") != NULL);
	CHECK(bar_config_find(cfg, BAR_KIND_SSHKEY, "default", "sim-r1-key") != NULL);
	sp = bar_config_find(cfg, BAR_KIND_SPEC, "default", "sim-r1-sim-medium");
	CHECK(sp && json_integer_value(json_object_get(sp->attrs, "memoryMiB")) == 4096);
	CHECK(sp && strcmp(json_string_value(json_object_get(sp->attrs, "specId")),
	                   "sim.medium") == 0);
	im = bar_config_find(cfg, BAR_KIND_IMAGE, "default", "sim-any-debian-12");
	CHECK(im && strcmp(json_string_value(json_object_get(im->attrs, "imageId")),
	                   "sim-debian-12") == 0);
	mci = bar_config_find(cfg, BAR_KIND_MCI, "default", "web");
	if (mci) {
		const json_t *g = json_array_get(json_object_get(mci->attrs, "groups"), 1);

		CHECK(strcmp(json_string_value(json_object_get(g, "connection")), "sim-r1") == 0);
		CHECK(strcmp(json_string_value(json_object_get(g, "spec")), "sim-r1-sim-medium") == 0);
		CHECK(strcmp(json_string_value(json_object_get(g, "vnet")), "sim-r1-net") == 0);
		CHECK(strcmp(json_string_value(json_object_get(g, "subnet")), "default") == 0);
		CHECK(json_array_size(json_object_get(g, "securityGroups")) == 1);
	}
	{
		double price = 0;
		const char *cur = NULL;

		CHECK(bar_catalog_price("sim", "r1", "sim.medium", &price, &cur) == 0);
		CHECK(price == 0.04 && cur && strcmp(cur, "USD") == 0);
		CHECK(bar_catalog_price("sim", "expensive-region", "sim.medium", &price, NULL) == 0);
		CHECK(price == 0.08);
		CHECK(bar_catalog_price("sim", "r1", "sim.huge", &price, NULL) == BAR_ENOTFOUND);
	}
done:
	bar_config_free(cfg);
	bar_diags_clear(&diags);
	free(file);
	free(dir);
}

/* A plan of one-line groups prices its VMs from the sim catalogue. */
static void test_plan_cost(void)
{
	char *dir = bar_printf("%s/oneline", tmp), *db = bar_printf("%s/cost.db", tmp);
	bar_plan_opts po = BAR_PLAN_OPTS_INIT;
	bar_registry *reg = NULL;
	bar_state *st = NULL;
	bar_plan *plan = NULL;
	bar_diags diags = {0};
	const json_t *usd;

	setenv("SIM_TOKEN", "not-a-secret", 1); /* the template's credential reference */
	bar_registry_new(&reg, NULL);
	CHECK(bar_state_open(&st, db, BAR_STATE_CREATE) == 0);
	CHECK(st && bar_workflow_plan(&plan, &diags, dir, st, reg, 0, &po, NULL) == 0);
	usd = plan ? json_object_get(json_object_get(plan->cost, "by_currency"), "USD") : NULL;
	/* test_one_line's groups: 2 x sim.small + sim.medium in r1, sim.small elsewhere */
	CHECK(usd && fabs(json_real_value(json_object_get(usd, "add_hourly")) - 0.07) < 1e-9);
	CHECK(usd && json_real_value(json_object_get(usd, "remove_hourly")) == 0.0);
	CHECK(plan && json_integer_value(json_object_get(plan->cost, "priced")) == 4);
	CHECK(plan && json_array_size(json_object_get(plan->cost, "unpriced")) == 0);
	if (plan) {
		bar_buf b = BAR_BUF_INIT(1 << 20);

		bar_plan_render(plan, 0, &b);
		CHECK(b.data && strstr(b.data, "Cost: adds $0.0700/h, removes $0.0000/h; net "
		                                "+$0.0700/h (+$51.10 a month)") != NULL);
		bar_buf_free(&b);
	}
	bar_plan_free(plan);
	bar_state_free(st);
	bar_registry_free(reg);
	bar_diags_clear(&diags);
	free(db);
	free(dir);
}

/* Ranking by cost, then by measured performance; the size filters. */
static void test_recommend(void)
{
	const char *regions[] = {"r1", "expensive-region"}, *drivers[] = {"sim"};
	bar_recommend_opts o = BAR_RECOMMEND_OPTS_INIT;
	char *path = bar_printf("%s/bench.json", tmp);
	bar_bench *b = NULL;
	json_t *res = NULL, *first, *run;
	double d;

	/* Seoul to Tokyo is about 1,160 km */
	d = bar_geo_distance_km(37.5665, 126.978, 35.6762, 139.6503);
	CHECK(d > 1100 && d < 1200);
	CHECK(bar_geo_distance_km(0, 0, 0, 180) > 20000);
	o.drivers = drivers;
	o.n_drivers = 1;
	o.regions = regions;
	o.n_regions = 2;
	o.min_vcpu = 2;
	CHECK(bar_recommend(&res, &o) == 0);
	CHECK(json_integer_value(json_object_get(res, "candidates")) == 4);
	first = json_array_get(json_object_get(res, "ranked"), 0);
	CHECK(strcmp(json_string_value(json_object_get(first, "line")), "sim+r1+sim.medium") == 0);
	json_decref(res);

	/* sim.large measured fastest, sim.medium slow: with performance alone
	 * sim.large wins, and an unmeasured kind scores a neutral 0.5 */
	run = json_pack("{s:s, s:I, s:{s:{s:s, s:s, s:s, s:{s:f}}, s:{s:s, s:s, s:s, s:{s:f}}}, s:{}}",
	                "mci", "default/mci/x", "measured_at", (json_int_t)1, "vms", "v1", "address",
	                "default/vm/v1", "kind", "sim/r1/sim.large", "outcome", "ok", "figures",
	                "cpu_mbps", 800.0, "v2", "address", "default/vm/v2", "kind",
	                "sim/r1/sim.medium", "outcome", "ok", "figures", "cpu_mbps", 200.0,
	                "latency_ms");
	CHECK(bar_bench_record(path, run) == 0);
	CHECK(bar_bench_load(&b, path) == 0);
	CHECK(b && bar_bench_cpu(b, "sim", "r1", "sim.large") == 800.0);
	CHECK(b && bar_bench_cpu(b, "sim", "r2", "sim.large") == -1);
	o.bench = b;
	o.w_cost = 0;
	o.w_performance = 1;
	CHECK(bar_recommend(&res, &o) == 0);
	first = json_array_get(json_object_get(res, "ranked"), 0);
	CHECK(strcmp(json_string_value(json_object_get(first, "line")), "sim+r1+sim.large") == 0);
	CHECK(json_real_value(json_object_get(first, "score")) == 1.0);
	json_decref(res);
	/* nothing fits 64 vCPUs; an unknown driver is an error */
	o.min_vcpu = 64;
	CHECK(bar_recommend(&res, &o) == 0);
	CHECK(json_array_size(json_object_get(res, "ranked")) == 0);
	json_decref(res);
	drivers[0] = "no-such-driver";
	CHECK(bar_recommend(&res, &o) == BAR_ENOTFOUND);
	json_decref(run);
	bar_bench_free(b);
	free(path);
}

int main(void)
{
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	test_cred_env();
	test_cred_files();
	test_cred_exec();
	test_calllog();
	test_one_line();
	test_plan_cost();
	test_recommend();
	{
		char *cmd = bar_printf("rm -rf '%s'", tmp);

		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp);
		free(cmd);
	}
	return test_verdict("cloud");
}
