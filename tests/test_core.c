/*
 * test_core.c - unit tests of the state store, the plugin loader, the key
 * store, MCI status aggregation and saved plans.
 *
 * Usage: test_core PLUGIN_DIR   (where the deliberately bad plugins are built)
 */
#include "error.h"
#include "keystore.h"
#include "testutil.h"
#include "planner.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/barista-core-XXXXXX";


static char *tmp(const char *name)
{
	return bar_printf("%s/%s", tmpdir, name);
}

static void cleanup(void)
{
	char *cmd = bar_printf("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
	free(cmd);
}

static bar_record rec(const char *addr, const char *sysid)
{
	return (bar_record){.address = (char *)addr, .type = "vm", .ns = "default", .name = "x",
	                    .provider = "sim", .connection = "c1", .system_id = (char *)sysid,
	                    .status = "Running", .hash = "h1", .desired = "{\"a\":1}",
	                    .observed = "{\"ip\":\"10.0.0.1\"}", .deps = "[]", .refs = "{}"};
}

static void test_state(void)
{
	char *path = tmp("state.db");
	bar_state *st = NULL, *st2 = NULL;
	bar_records rs = {0};
	bar_record r = {0}, a = rec("default/vm/a", "i-1"), b = rec("default/vm/b", "i-2");
	char lineage[64];
	int64_t s0 = -1, s1 = -1;

	CHECK(bar_state_open(&st, path, 0) == BAR_ENOTFOUND);
	CHECK(bar_state_open(&st, path, BAR_STATE_CREATE) == 0);
	snprintf(lineage, sizeof(lineage), "%s", bar_state_lineage(st));
	CHECK(strlen(lineage) == 36);
	CHECK(bar_state_serial(st, &s0) == 0 && s0 == 0);
	CHECK(bar_state_put(st, &b) == 0);
	CHECK(bar_state_put(st, &a) == 0);
	CHECK(bar_state_serial(st, &s1) == 0 && s1 == 2);
	CHECK(bar_state_load(st, &rs) == 0 && rs.n == 2);
	CHECK(rs.n == 2 && !strcmp(rs.items[0].address, "default/vm/a"));
	CHECK(bar_records_find(&rs, "default/vm/b") != NULL);
	CHECK(bar_records_find(&rs, "default/vm/c") == NULL);
	bar_records_clear(&rs);
	CHECK(bar_state_get(st, "default/vm/b", &r) == 0 && !strcmp(r.system_id, "i-2") &&
	      !strcmp(r.observed, "{\"ip\":\"10.0.0.1\"}"));
	bar_record_clear(&r);
	CHECK(bar_state_get(st, "default/vm/zz", &r) == BAR_ENOTFOUND);
	CHECK(bar_state_delete(st, "default/vm/b") == 0);
	CHECK(bar_state_get(st, "default/vm/b", &r) == BAR_ENOTFOUND);
	bar_state_free(st);
	/* Reopen: lineage and records persist; read-only refuses writes. */
	CHECK(bar_state_open(&st, path, BAR_STATE_READONLY) == 0);
	CHECK(st && !strcmp(bar_state_lineage(st), lineage));
	CHECK(bar_state_serial(st, &s1) == 0 && s1 == 3);
	CHECK(bar_state_put(st, &b) < 0);
	bar_state_free(st);
	/* Lock: a live process holding it blocks us; a dead one does not. */
	CHECK(bar_state_open(&st, path, 0) == 0);
	{
		int fds[2];
		pid_t child;
		char c;

		CHECK(pipe(fds) == 0);
		child = fork();
		if (child == 0) {
			bar_state *cs = NULL;

			if (bar_state_open(&cs, path, 0) == 0 && bar_state_lock(cs, "apply") == 0)
				(void)!write(fds[1], "k", 1);
			pause();
			_exit(0);
		}
		CHECK(read(fds[0], &c, 1) == 1);
		CHECK(bar_state_lock(st, "apply") == BAR_ELOCKED);
		CHECK(strstr(bar_error_last(), "locked by apply") != NULL);
		/* `state unlock` must not remove a live holder's lock on this host */
		CHECK(bar_state_force_unlock(st) == BAR_ELOCKED &&
		      strstr(bar_error_last(), "it is alive"));
		CHECK(bar_state_lock(st, "apply") == BAR_ELOCKED);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		close(fds[0]);
		close(fds[1]);
		CHECK(bar_state_lock(st, "apply") == 0); /* dead holder: taken over */
		CHECK(bar_state_open(&st2, path, 0) == 0);
		bar_state_unlock(st);
	}
	bar_state_free(st2);
	bar_state_free(st);
	/* A file that is not ours, and a newer schema, are refused. */
	{
		char *junk = tmp("junk.db"), *cmd;

		cmd = bar_printf("sqlite3 '%s' 'CREATE TABLE meta(key TEXT, value TEXT)' && "
		                 "sqlite3 '%s' \"UPDATE meta SET value='99' WHERE key="
		                 "'schema_version'\"", junk, path);
		CHECK(system(cmd) == 0);
		CHECK(bar_state_open(&st, junk, 0) < 0 && strstr(bar_error_last(), "not a Barista"));
		CHECK(bar_state_open(&st, path, 0) < 0 && strstr(bar_error_last(), "newer"));
		free(cmd);
		free(junk);
	}
	free(path);
}

/* Schema v2: a v1 file migrates; empty, directory and foreign files are
 * refused without being changed; intents are settled by the record. */
static void test_state_v2(void)
{
	char *v1 = tmp("v1.db"), *empty = tmp("empty.db"), *foreign = tmp("foreign.db");
	char *cmd;
	bar_state *st = NULL;
	bar_record r = {0}, a = rec("default/vm/a", "i-1");
	bar_intent in = {.address = "default/vm/a", .type = "vm", .connection = "c1",
	                 .idem_key = "k-1"}, got = {0};
	bar_intents all = {0};
	FILE *f;

	cmd = bar_printf("sqlite3 '%s' \"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT "
	                 "NULL); CREATE TABLE resources(address TEXT PRIMARY KEY, type TEXT NOT "
	                 "NULL, ns TEXT NOT NULL, name TEXT NOT NULL, provider TEXT, connection "
	                 "TEXT, system_id TEXT, status TEXT, hash TEXT, desired TEXT, observed "
	                 "TEXT, deps TEXT, refs TEXT, updated INTEGER NOT NULL); CREATE TABLE "
	                 "lock(id INTEGER PRIMARY KEY CHECK(id = 1), pid INTEGER NOT NULL, host "
	                 "TEXT NOT NULL, operation TEXT NOT NULL, since INTEGER NOT NULL); "
	                 "INSERT INTO meta VALUES('schema_version','1'),('lineage','lin-v1'),"
	                 "('serial','5'); INSERT INTO resources VALUES('default/vm/old','vm',"
	                 "'default','old','sim','c1','i-9','Running','h','{}','{}','[]','{}',0)\"",
	                 v1);
	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(bar_state_open(&st, v1, BAR_STATE_READONLY) < 0 &&
	      strstr(bar_error_last(), "needs migration"));
	CHECK(bar_state_open(&st, v1, 0) == 0 && !strcmp(bar_state_lineage(st), "lin-v1"));
	CHECK(bar_state_get(st, "default/vm/old", &r) == 0 && !strcmp(r.system_id, "i-9") &&
	      r.idem_key == NULL && r.taint == NULL);
	bar_record_clear(&r);
	/* intents: written before a create, settled when its record is written */
	CHECK(bar_state_intent_put(st, &in) == 0);
	CHECK(bar_state_intent_get(st, "default/vm/a", &got) == 0 && !strcmp(got.idem_key, "k-1"));
	bar_intent_clear(&got);
	CHECK(bar_state_intents(st, &all) == 0 && all.n == 1);
	bar_intents_clear(&all);
	a.idem_key = "k-1";
	a.taint = "create failed after making it";
	CHECK(bar_state_put(st, &a) == 0);
	CHECK(bar_state_intent_get(st, "default/vm/a", &got) == BAR_ENOTFOUND);
	CHECK(bar_state_get(st, "default/vm/a", &r) == 0 && r.idem_key &&
	      !strcmp(r.idem_key, "k-1") && r.taint && strstr(r.taint, "create failed"));
	bar_record_clear(&r);
	bar_state_free(st);
	/* An empty file is not a new state; a directory is said to be one. */
	f = fopen(empty, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(bar_state_open(&st, empty, BAR_STATE_CREATE) == BAR_EINVALID &&
	      strstr(bar_error_last(), "empty"));
	CHECK(bar_state_open(&st, tmpdir, BAR_STATE_CREATE) == BAR_EINVALID &&
	      strstr(bar_error_last(), "is a directory"));
	/* Another program's database stays exactly as it was. */
	cmd = bar_printf("sqlite3 '%s' 'CREATE TABLE songs(title TEXT)' && "
	                 "sqlite3 '%s' 'PRAGMA journal_mode' > '%s.before'", foreign, foreign,
	                 foreign);
	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(bar_state_open(&st, foreign, BAR_STATE_CREATE) < 0 &&
	      strstr(bar_error_last(), "not a Barista state"));
	cmd = bar_printf("test \"$(sqlite3 '%s' 'PRAGMA journal_mode')\" = \"$(cat '%s.before')\" "
	                 "&& test \"$(sqlite3 '%s' \"SELECT count(*) FROM sqlite_master\")\" = 1",
	                 foreign, foreign, foreign);
	CHECK(system(cmd) == 0);
	free(cmd);
	free(v1);
	free(empty);
	free(foreign);
}

static void test_loader(const char *plugdir)
{
	bar_registry *reg = NULL;
	const bar_provider *p = NULL;
	char *f0 = bar_printf("%s/bad-plugin-0.so", plugdir);
	char *f1 = bar_printf("%s/bad-plugin-1.so", plugdir);
	char *f2 = bar_printf("%s/bad-plugin-2.so", plugdir);
	char *f3 = bar_printf("%s/bad-plugin-3.so", plugdir);
	char *f4 = bar_printf("%s/bad-plugin-4.so", plugdir);
	char *f5 = bar_printf("%s/bad-plugin-5.so", plugdir);

	bar_registry_new(&reg, plugdir);
	CHECK(bar_registry_load_file(reg, "/nonexistent/x.so", &p) < 0 &&
	      strstr(bar_error_last(), "/nonexistent/x.so"));
	CHECK(bar_registry_load_file(reg, f0, &p) < 0 &&
	      strstr(bar_error_last(), "no barista_provider_init symbol") &&
	      strstr(bar_error_last(), f0));
	CHECK(bar_registry_load_file(reg, f1, &p) < 0 &&
	      strstr(bar_error_last(), "ABI version 99") && strstr(bar_error_last(), f1));
	/* A version-1 plugin: the message names the file and both versions. */
	CHECK(bar_registry_load_file(reg, f5, &p) == BAR_ENOTSUP &&
	      strstr(bar_error_last(), f5) && strstr(bar_error_last(), "ABI version 1,") &&
	      strstr(bar_error_last(), "speaks version 2"));
	CHECK(bar_registry_load_file(reg, f2, &p) < 0 &&
	      strstr(bar_error_last(), "cannot reach the fixture cloud"));
	CHECK(bar_registry_load_file(reg, f3, &p) == 0 && p && !strcmp(p->name, "twin"));
	CHECK(bar_registry_load_file(reg, f4, &p) < 0 &&
	      strstr(bar_error_last(), "already loaded from") && strstr(bar_error_last(), f3));
	CHECK(bar_registry_get(reg, "nosuchdriver", &p) == BAR_ENOTFOUND &&
	      strstr(bar_error_last(), "barista-provider-nosuchdriver.so") &&
	      strstr(bar_error_last(), "unknown driver"));
	bar_registry_free(reg);
	free(f0);
	free(f1);
	free(f2);
	free(f3);
	free(f4);
	free(f5);
}

static void test_keystore(void)
{
	char *dir = tmp("keys"), *path;
	struct stat sb;

	CHECK(bar_keystore_put(dir, "default/sshkey/k1", "privateKey", "SECRET") == 0);
	path = bar_keystore_path(dir, "default/sshkey/k1", "privateKey");
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(bar_keystore_put(dir, "default/sshkey/k10", "privateKey", "OTHER") == 0);
	CHECK(bar_keystore_remove(dir, "default/sshkey/k1") == 0);
	CHECK(access(path, F_OK) != 0);
	free(path);
	path = bar_keystore_path(dir, "default/sshkey/k10", "privateKey");
	CHECK(access(path, F_OK) == 0); /* a prefix of another name is not removed */
	CHECK(bar_keystore_remove(dir, "default/sshkey/k10") == 0);
	CHECK(access(dir, F_OK) != 0);   /* empty store removed */
	free(path);
	free(dir);
}

static void test_mci_status(void)
{
	const char *all[] = {"Running", "Running", "Running"};
	const char *part[] = {"Running", "Running", "Running", "Creating", "Failed"};
	const char *susp[] = {"Suspended", "Suspended", "Running"};
	char buf[64];

	bar_mci_status(all, 3, buf, sizeof(buf));
	CHECK(!strcmp(buf, "Running:3 (R:3/3)"));
	bar_mci_status(part, 5, buf, sizeof(buf));
	CHECK(!strcmp(buf, "Partial-Running:3 (R:3/5)"));
	bar_mci_status(susp, 3, buf, sizeof(buf));
	CHECK(!strcmp(buf, "Partial-Suspended:2 (R:1/3)"));
	bar_mci_status(NULL, 0, buf, sizeof(buf));
	CHECK(!strcmp(buf, "Empty:0 (R:0/0)"));
}

/* Natural order: digit runs by value. */
static void test_natcmp(void)
{
	CHECK(bar_strnatcmp("web-a-2", "web-a-10") < 0);
	CHECK(bar_strnatcmp("web-a-10", "web-a-2") > 0);
	CHECK(bar_strnatcmp("web-a-10", "web-a-10") == 0);
	CHECK(bar_strnatcmp("web-a-9", "web-b-1") < 0);
	CHECK(bar_strnatcmp("web-2-x", "web-10") < 0);
	CHECK(bar_strnatcmp("a01", "a1") > 0 && bar_strnatcmp("a1", "a01") < 0);
	CHECK(bar_strnatcmp("a007", "a8") < 0);
	CHECK(bar_strnatcmp("web", "web-1") < 0 && bar_strnatcmp("web-1", "web") > 0);
	CHECK(bar_strnatcmp("x99999999999999999999999", "x100000000000000000000000") < 0);
	CHECK(bar_strnatcmp("", "") == 0 && bar_strnatcmp("", "a") < 0);
}

static void test_plan_file(void)
{
	bar_change c = {.action = BAR_REPLACE, .address = "default/vnet/n", .type = "vnet",
	                .ns = "default", .name = "n", .connection = "c1",
	                .reason = "cidr forces replacement", .hash = "abc",
	                .prior_system_id = "x-1"};
	bar_plan p = {.lineage = "lin", .serial = 7, .refreshed = 1, .changes = &c, .n = 1,
	              .n_noop = 3};
	bar_plan *q = NULL;
	char *path = tmp("p.plan");
	size_t a, ch, d;

	c.attrs = json_pack("{s:s}", "cidr", "10.0.0.0/16");
	c.refs = json_object();
	c.deps = json_pack("[s]", "default/connection/c1");
	c.diff = json_array();
	p.drift = json_array();
	p.connections = json_object();
	p.live_connections = json_pack("{s:{s:s}}", "default/connection/c1", "region", "r1");
	CHECK(bar_plan_write(&p, path) == 0);
	CHECK(bar_plan_read(&q, path) == 0);
	CHECK(q && q->n == 1 && q->serial == 7 && !strcmp(q->lineage, "lin"));
	CHECK(q && q->changes[0].action == BAR_REPLACE &&
	      !strcmp(q->changes[0].reason, "cidr forces replacement") &&
	      json_equal(q->changes[0].attrs, c.attrs));
	bar_plan_counts(q, &a, &ch, &d);
	CHECK(a == 1 && ch == 0 && d == 1);
	CHECK(q && json_equal(q->live_connections, p.live_connections));
	bar_plan_free(q);
	{
		FILE *f = fopen(path, "w");

		fputs("{\"format_version\": 1, \"changes\": 3}", f);
		fclose(f);
	}
	CHECK(bar_plan_read(&q, path) < 0 && strstr(bar_error_last(), "not a Barista plan"));
	json_decref(c.attrs);
	json_decref(c.refs);
	json_decref(c.deps);
	json_decref(c.diff);
	json_decref(p.drift);
	json_decref(p.connections);
	json_decref(p.live_connections);
	free(path);
}

/* The rendering shows what changed inside objects and arrays, never two
 * identical (cut) values. */
static void test_plan_render(void)
{
	char long_a[301], long_b[301];
	bar_change c = {.action = BAR_UPDATE, .address = "default/mci/m", .type = "mci",
	                .ns = "default", .name = "m", .hash = "h"};
	bar_plan p = {.lineage = "lin", .serial = 1, .refreshed = 1, .changes = &c, .n = 1};
	bar_buf b = BAR_BUF_INIT(0);
	const char *want =
	    "        + labels[\"app.kubernetes.io/name\"]: \"shop\"\n"
	    "        - labels.old: \"x\"\n"
	    "        ~ labels.tier: \"web\" -> \"api\"\n"
	    "        ~ groups[seoul].count: 2 -> 3\n"
	    "        - groups[tokyo]: {\"count\":1,\"name\":\"tokyo\"}\n"
	    "        - ingress[0]: {\"ports\":\"22\"}\n"
	    "        + ingress[0]: {\"ports\":\"443\"}\n"
	    "        + ingress[2]: {\"ports\":\"8080\"}\n"
	    "        ~ tags[1]: \"b\" -> \"c\"  # forces replacement\n";

	memset(long_a, 'a', 300);
	memcpy(long_b, long_a, 300);
	long_a[300] = long_b[300] = '\0';
	long_b[250] = 'b';
	c.diff = json_pack("[{s:s, s:{s:s, s:s}, s:{s:s, s:s}},"
	                   " {s:s, s:[{s:s, s:i}, {s:s, s:i}], s:[{s:s, s:i}]},"
	                   " {s:s, s:[{s:s}, {s:s}], s:[{s:s}, {s:s}, {s:s}]},"
	                   " {s:s, s:[s, s], s:[s, s], s:b}, {s:s, s:s, s:s}]",
	                   "attr", "labels", "old", "tier", "web", "old", "x", "new", "tier", "api",
	                   "app.kubernetes.io/name", "shop",
	                   "attr", "groups", "old", "name", "seoul", "count", 2, "name", "tokyo",
	                   "count", 1, "new", "name", "seoul", "count", 3,
	                   "attr", "ingress", "old", "ports", "22", "ports", "8080", "new",
	                   "ports", "443", "ports", "8080", "ports", "8080",
	                   "attr", "tags", "old", "a", "b", "new", "a", "c", "forces", 1,
	                   "attr", "userData", "old", long_a, "new", long_b);
	p.drift = json_array();
	bar_plan_render(&p, 0, &b);
	CHECK(b.data && strstr(b.data, want));
	/* a long value changed late: both sides cut around the difference */
	{
		const char *line = b.data ? strstr(b.data, "~ userData: ") : NULL;
		const char *arrow = line ? strstr(line, " -> ") : NULL;
		const char *eol = arrow ? strchr(arrow, '\n') : NULL;
		size_t left = arrow ? (size_t)(arrow - line) - 12 : 0;

		CHECK(eol && (size_t)(eol - arrow) - 4 == left);
		CHECK(eol && strncmp(line + 12, arrow + 4, left) != 0);
		CHECK(eol && memchr(arrow, 'b', (size_t)(eol - arrow)) && left <= 120);
	}
	if (test_failures)
		fprintf(stderr, "rendered:\n%s", b.data ? b.data : "");
	bar_buf_free(&b);
	json_decref(c.diff);
	json_decref(p.drift);
}

/* A valid create of default/vm/vm1 with `extra` JSON members added or
 * replacing earlier ones (jansson keeps the last of duplicate keys). */
#define VM1(extra)                                                                        \
	"{\"address\":\"default/vm/vm1\",\"action\":\"create\",\"type\":\"vm\","        \
	"\"namespace\":\"default\",\"name\":\"vm1\",\"connection\":\"c1\",\"attrs\":{},"  \
	"\"hash\":\"h\",\"deps\":[\"default/connection/c1\"]" extra "}"
#define PLAN(top, changes)                                                                \
	"{\"format_version\":1,\"lineage\":\"x\",\"serial\":3" top ",\"changes\":["      \
	changes "],\"connections\":{\"default/connection/c1\":{\"driver\":\"sim\"}}}"

#define C0 "changes[0] (default/vm/vm1): "
#define KNOWN_TYPES "(known: namespace, connection, vnet, securitygroup, sshkey, image, " \
                    "spec, mci, mcapp, monitoringpolicy, vm)"

/* Saved plans are checked as strictly as specs: each bad file is refused
 * with a message naming the file and the change (index and address). */
static void test_plan_file_bad(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{PLAN("", VM1("") "," VM1("")), "changes[1] (default/vm/vm1): a second change of "
		                                "the same address (the first is changes[0])"},
		{PLAN("", VM1(",\"action\":\"destroy\"")),
		 C0 "unknown action \"destroy\" (known: create, update, replace, delete)"},
		{PLAN("", VM1(",\"action\":\"no-op\"")),
		 C0 "unknown action \"no-op\" (known: create, update, replace, delete)"},
		{PLAN("", VM1(",\"type\":\"vmm\",\"address\":\"default/vmm/vm1\"")),
		 "changes[0] (default/vmm/vm1): unknown type \"vmm\" " KNOWN_TYPES},
		{PLAN("", VM1(",\"address\":\"default/vm/vm2\"")), "changes[0] (default/vm/vm2): "
		 "address does not match namespace \"default\", type \"vm\" and name \"vm1\""},
		{PLAN("", VM1(",\"type\":\"vnet\"")),
		 C0 "address does not match namespace \"default\", type \"vnet\" and name \"vm1\""},
		{PLAN("", VM1(",\"connection\":\"\"")),
		 C0 "a vm is made through a connection, and none is given"},
		{PLAN("", VM1(",\"attrs\":[]")), C0 "\"attrs\" must be an object"},
		{PLAN("", VM1(",\"gone\":\"yes\"")), C0 "\"gone\" must be a boolean"},
		{PLAN("", VM1(",\"deps\":[7]")), C0 "deps[0] must be a string"},
		{PLAN("", VM1(",\"deps\":[\"c1\"]")), C0 "deps \"c1\" is not <namespace>/<type>/<name>"},
		{PLAN("", VM1(",\"refs\":{\"vnet\":\"default/vnets/n\"}")),
		 C0 "refs \"default/vnets/n\": unknown type \"vnets\" " KNOWN_TYPES},
		{PLAN("", VM1(",\"diff\":[{\"attr\":\"cidr\",\"forces\":1}]")),
		 C0 "diff[0]: \"forces\" must be a boolean"},
		{PLAN("", VM1(",\"colour\":1")), C0 "unknown field \"colour\" in a change"},
		{PLAN("", VM1(",\"vm_action\":\"reboot\"")),
		 C0 "vm_action \"reboot\": only a vm update may suspend or resume"},
		{PLAN("", VM1(",\"hash\":null")), C0 "\"hash\" must be a string"},
		{PLAN("", "{\"address\":\"default/vm/vm1\",\"action\":\"create\",\"type\":\"vm\","
		          "\"namespace\":\"default\",\"name\":\"vm1\",\"connection\":\"c1\"}"),
		 C0 "a create needs \"attrs\" and \"hash\""},
		{PLAN("", "{\"address\":\"default/vm/vm1\",\"action\":\"create\"}"),
		 C0 "a change lacks \"type\""},
		{PLAN("", VM1("") ",3"), "changes[1]: a change must be an object"},
		{PLAN(",\"serial\":\"3\"", VM1("")), "\"serial\" must be an integer"},
		{PLAN(",\"extra\":true", VM1("")), "unknown field \"extra\" in a plan"},
		{PLAN(",\"drift\":[{\"address\":\"default/vm/vm1\"}]", VM1("")),
		 "drift[0]: a drift entry lacks \"attr\""},
		{PLAN(",\"live_connections\":{\"default/vnet/c1\":{}}", VM1("")),
		 "live_connections: \"default/vnet/c1\" must map a connection's address to its "
		 "attributes"},
	};
	char *path = tmp("bad.plan");
	bar_plan *q = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(path, "w");
		char *want = bar_printf("%s: %s", path, cases[i].want);

		CHECK(f && fputs(cases[i].text, f) >= 0);
		if (f)
			fclose(f);
		q = NULL;
		CHECK(bar_plan_read(&q, path) < 0 && q == NULL);
		if (strcmp(bar_error_last(), want) != 0)
			fprintf(stderr, "bad plan %zu:\n   got: %s\n  want: %s\n", i, bar_error_last(),
			        want), test_failures++;
		free(want);
	}
	/* the same change, well formed, is accepted */
	{
		FILE *f = fopen(path, "w");

		CHECK(f && fputs(PLAN("", VM1("")), f) >= 0);
		if (f)
			fclose(f);
		CHECK(bar_plan_read(&q, path) == 0 && q && q->n == 1 && q->serial == 3);
		bar_plan_free(q);
	}
	unlink(path);
	free(path);
}

/* ---- the apply engine with an asynchronous provider ---- */

static const bar_host_api *g_host;
static int g_reads, g_exists;

static void emit_vm(bar_sink *out, const char *status)
{
	g_host->emit(out, &(bar_observed){sizeof(bar_observed), "as-1", "vm1", status,
	                                  "{\"privateIp\":\"10.0.0.5\"}", "{}"});
}

static int as_create(bar_provider *p, bar_call *call, const char *type, const char *in,
                     bar_sink *out)
{
	g_exists = 1;
	emit_vm(out, "Creating"); /* accepted; the VM comes up later */
	return BAR_OK;
}

static int as_read(bar_provider *p, bar_call *call, const char *type, const char *in,
                   bar_sink *out)
{
	g_reads++;
	if (g_exists == 0) {
		g_host->set_error(call, "NotFound", "no such vm");
		return BAR_ENOTFOUND;
	}
	if (g_exists < 0) { /* being deleted: gone on the second look */
		if (++g_exists == 0) {
			g_host->set_error(call, "NotFound", "no such vm");
			return BAR_ENOTFOUND;
		}
		emit_vm(out, "Terminating");
		return BAR_OK;
	}
	emit_vm(out, g_reads < 2 ? "Creating" : "Running");
	return BAR_OK;
}

static int as_del(bar_provider *p, bar_call *call, const char *type, const char *in)
{
	g_exists = -2;
	g_reads = 0;
	return BAR_OK;
}

static int as_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	return BAR_OK;
}

static const bar_type_info as_vm = {sizeof(bar_type_info), "vm", NULL};
static const bar_type_info *const as_types[] = {&as_vm, NULL};
static bar_provider async_prov = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_provider),
	.name = "async",
	.version = "1",
	.capabilities = BAR_CAP_ASYNC | BAR_CAP_LIST,
	.types = as_types,
	.create = as_create,
	.read = as_read,
	.del = as_del,
	.list = as_list,
};

static int apply_json(bar_state *st, bar_registry *reg, const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	bar_plan *p = NULL;
	bar_apply_opts ao = BAR_APPLY_OPTS_INIT;
	bar_apply_summary sum;
	int rc = -1;

	if (j && bar_plan_from_json(&p, j) == 0)
		rc = bar_apply_run(p, st, reg, &ao, &sum);
	bar_plan_free(p);
	json_decref(j);
	return rc;
}

static void test_async_apply(void)
{
	char *path = tmp("async.db");
	bar_state *st = NULL;
	bar_registry *reg = NULL;
	bar_record r = {0};
	static const char create[] =
	    "{\"format_version\":1,\"lineage\":\"x\",\"serial\":0,\"changes\":[{\"address\":"
	    "\"default/vm/vm1\",\"action\":\"create\",\"type\":\"vm\",\"namespace\":\"default\","
	    "\"name\":\"vm1\",\"connection\":\"c1\",\"attrs\":{},\"hash\":\"h\",\"deps\":[]}],"
	    "\"connections\":{\"default/connection/c1\":{\"driver\":\"async\",\"region\":\"r1\"}}}";
	static const char destroy[] =
	    "{\"format_version\":1,\"lineage\":\"x\",\"serial\":0,\"changes\":[{\"address\":"
	    "\"default/vm/vm1\",\"action\":\"delete\",\"type\":\"vm\",\"namespace\":\"default\","
	    "\"name\":\"vm1\",\"connection\":\"c1\",\"deps\":[]}],\"connections\":{},"
	    "\"live_connections\":{\"default/connection/c1\":{\"driver\":\"async\","
	    "\"region\":\"r1\"}}}";

	g_host = bar_host_api_get();
	bar_registry_new(&reg, "/nonexistent");
	CHECK(bar_registry_add(reg, &async_prov, "async (test_core)") == 0);
	CHECK(bar_state_open(&st, path, BAR_STATE_CREATE) == 0);
	CHECK(apply_json(st, reg, create) == 0);
	CHECK(g_reads >= 2); /* polled until it left Creating */
	CHECK(bar_state_get(st, "default/vm/vm1", &r) == 0 && r.status &&
	      !strcmp(r.status, "Running") && !strcmp(r.system_id, "as-1"));
	bar_record_clear(&r);
	CHECK(apply_json(st, reg, destroy) == 0);
	CHECK(g_exists == 0 && g_reads == 2); /* waited until read said gone */
	CHECK(bar_state_get(st, "default/vm/vm1", &r) == BAR_ENOTFOUND);
	/* A plan whose dependencies form a cycle ends (skipped), never hangs. */
	{
		static const char cyclic[] =
		    "{\"format_version\":1,\"lineage\":\"x\",\"serial\":0,\"changes\":["
		    "{\"address\":\"default/mci/a\",\"action\":\"create\",\"type\":\"mci\","
		    "\"namespace\":\"default\",\"name\":\"a\",\"attrs\":{},\"hash\":\"h\","
		    "\"deps\":[\"default/mci/b\"]},"
		    "{\"address\":\"default/mci/b\",\"action\":\"create\",\"type\":\"mci\","
		    "\"namespace\":\"default\",\"name\":\"b\",\"attrs\":{},\"hash\":\"h\","
		    "\"deps\":[\"default/mci/a\"]}]}";

		CHECK(apply_json(st, reg, cyclic) < 0 && strstr(bar_error_last(), "2 not started"));
		CHECK(bar_state_get(st, "default/mci/a", &r) == BAR_ENOTFOUND);
	}
	bar_state_free(st);
	bar_registry_free(reg);
	free(path);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_core PLUGIN_DIR\n");
		return 2;
	}
	if (!mkdtemp(tmpdir))
		return perror("mkdtemp"), 1;
	atexit(cleanup);
	test_state();
	test_state_v2();
	test_loader(argv[1]);
	test_keystore();
	test_mci_status();
	test_natcmp();
	test_plan_file();
	test_plan_file_bad();
	test_plan_render();
	test_async_apply();
	return test_verdict("core");
}
