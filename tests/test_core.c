/*
 * test_core.c - unit tests of the state store (backends, CAS writes, the
 * lease lock with its fencing token, migrations), the plugin loader, the key
 * store, MCI status aggregation and saved plans.  Lock tests fork real
 * holder processes; one enters its own UTS namespace to be "another host".
 *
 * Usage: test_core PLUGIN_DIR BARISTA   (where the deliberately bad plugins
 * are built; the barista program, for the -lock-timeout and unlock tests)
 */
#include "error.h"
#include "keystore.h"
#include "testutil.h"
#include "planner.h"
#include "scheduler.h"
#include "state_backend.h"
#include "util.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/barista-core-XXXXXX";
static const char *barista; /* the program, argv[2] */


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

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A process holding a state's lock, driven over two pipes: it answers 'k'
 * once it holds the lock; then each 'w' makes it write a record and answer
 * 'O' (written), 'T' (refused: taken over), 'R' (refused: lock removed) or
 * 'F' (another failure); 'q' makes it release and exit.  With hold_ms it
 * instead releases and exits by itself that long after locking.  With
 * `host` it first enters a UTS namespace of that host name: a holder on
 * another host, whose pid we cannot check.
 */
typedef struct holder {
	pid_t pid;
	int cmd, reply; /* our ends */
} holder;

static void holder_main(const char *path, const char *host, int64_t lease_ms, int hold_ms,
                        int in, int out)
{
	bar_state_lock_opts lo = BAR_STATE_LOCK_OPTS_INIT;
	bar_record r = rec("default/vm/fenced", "i-f");
	bar_state *st = NULL;
	char c;

	alarm(30); /* never outlive the test */
	if (host && (unshare(CLONE_NEWUTS) < 0 || sethostname(host, strlen(host)) < 0))
		_exit(3);
	lo.operation = "apply";
	lo.lease_ms = lease_ms;
	if (bar_state_open(&st, path, 0) < 0 || bar_state_lock_ex(st, &lo) < 0)
		_exit(4);
	(void)!write(out, "k", 1);
	if (hold_ms)
		usleep((useconds_t)hold_ms * 1000);
	while (!hold_ms && read(in, &c, 1) == 1 && c == 'w') {
		int rc = bar_state_put(st, &r);
		const char *m = bar_error_last();

		c = rc == 0                 ? 'O'
		    : rc != BAR_ELOCKED     ? 'F'
		    : strstr(m, "taken over by") ? 'T'
		    : strstr(m, "was removed")   ? 'R'
		                                 : 'F';
		(void)!write(out, &c, 1);
	}
	bar_state_free(st);
	_exit(0);
}

/* The holder's next answer, or 0 after 5 s. */
static char holder_reply(holder *h)
{
	struct pollfd p = {.fd = h->reply, .events = POLLIN};
	char c = 0;

	if (poll(&p, 1, 5000) != 1 || read(h->reply, &c, 1) != 1)
		return 0;
	return c;
}

static int holder_start(holder *h, const char *path, const char *host, int64_t lease_ms,
                        int hold_ms)
{
	int to[2], from[2];

	if (pipe(to) < 0)
		return -1;
	if (pipe(from) < 0) {
		close(to[0]);
		close(to[1]);
		return -1;
	}
	h->pid = fork();
	if (h->pid == 0) {
		close(to[1]);
		close(from[0]);
		holder_main(path, host, lease_ms, hold_ms, to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	h->cmd = to[1];
	h->reply = from[0];
	return h->pid > 0 && holder_reply(h) == 'k' ? 0 : -1;
}

static char holder_write(holder *h)
{
	(void)!write(h->cmd, "w", 1);
	return holder_reply(h);
}

/* Ask it to quit, wait up to 5 s, kill it otherwise; its exit status. */
static int holder_stop(holder *h)
{
	int status = -1;
	pid_t got = 0;

	(void)!write(h->cmd, "q", 1);
	for (int i = 0; i < 250 && (got = waitpid(h->pid, &status, WNOHANG)) == 0; i++)
		usleep(20000);
	if (got == 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
	}
	close(h->cmd);
	close(h->reply);
	return status;
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
		holder h;

		CHECK(holder_start(&h, path, NULL, 0, 0) == 0);
		CHECK(bar_state_lock(st, "apply") == BAR_ELOCKED);
		CHECK(strstr(bar_error_last(), "locked by apply") != NULL);
		/* `state unlock` must not remove a live holder's lock on this host */
		CHECK(bar_state_force_unlock(st) == BAR_ELOCKED &&
		      strstr(bar_error_last(), "it is alive"));
		CHECK(bar_state_lock(st, "apply") == BAR_ELOCKED);
		kill(h.pid, SIGKILL);
		holder_stop(&h);
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

/* The tables of a v1 state, and what v2 added, as older barista made them. */
#define V1_TABLES                                                                          \
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE "       \
	"resources(address TEXT PRIMARY KEY, type TEXT NOT NULL, ns TEXT NOT NULL, name "   \
	"TEXT NOT NULL, provider TEXT, connection TEXT, system_id TEXT, status TEXT, hash " \
	"TEXT, desired TEXT, observed TEXT, deps TEXT, refs TEXT, updated INTEGER NOT "     \
	"NULL); CREATE TABLE lock(id INTEGER PRIMARY KEY CHECK(id = 1), pid INTEGER NOT "   \
	"NULL, host TEXT NOT NULL, operation TEXT NOT NULL, since INTEGER NOT NULL);"
#define V2_ADDED                                                                           \
	"ALTER TABLE resources ADD COLUMN idem_key TEXT; ALTER TABLE resources ADD COLUMN " \
	"operation TEXT; ALTER TABLE resources ADD COLUMN taint TEXT; CREATE TABLE "        \
	"intents(address TEXT PRIMARY KEY, type TEXT NOT NULL, connection TEXT, idem_key "  \
	"TEXT NOT NULL, started INTEGER NOT NULL);"

/* Run SQL on a file with the sqlite3 program (not through barista). */
static int sql_run(const char *db, const char *sql)
{
	char *cmd = bar_printf("sqlite3 '%s' \"%s\"", db, sql);
	int rc = system(cmd);

	free(cmd);
	return rc;
}

/* The first line sqlite3 prints for a query, without its newline, into buf. */
static const char *sql_value(const char *db, const char *query, char *buf, size_t size)
{
	char *cmd = bar_printf("sqlite3 '%s' \"%s\"", db, query);
	FILE *f = popen(cmd, "r");

	buf[0] = '\0';
	if (f && fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		pclose(f);
	free(cmd);
	return buf;
}

/* Schema v3 from v2: the lock gains user, lease and token; a v2 lock left by
 * another host (no lease: we cannot tell whether it is alive) is not taken
 * over, `state unlock` may remove it, and the next lock gets token 1. */
static void test_state_v3(void)
{
	char *v2 = tmp("v2.db");
	bar_state *st = NULL;
	bar_intents all = {0};
	bar_lock_info l = {0};
	char buf[64];

	CHECK(sql_run(v2, V1_TABLES V2_ADDED "INSERT INTO meta VALUES('schema_version','2'),"
	              "('lineage','lin-v2'),('serial','7'); INSERT INTO lock VALUES(1, 4242, "
	              "'old-host', 'apply', 1700000000); INSERT INTO intents VALUES("
	              "'default/vm/i1', 'vm', 'c1', 'k-9', 1700000000)") == 0);
	CHECK(bar_state_open(&st, v2, BAR_STATE_READONLY) < 0 &&
	      strstr(bar_error_last(), "needs migration from schema 2 to 3"));
	CHECK(bar_state_open(&st, v2, 0) == 0 && !strcmp(bar_state_lineage(st), "lin-v2"));
	CHECK(!strcmp(sql_value(v2, "SELECT value FROM meta WHERE key='schema_version'", buf,
	                        sizeof(buf)), "3"));
	CHECK(bar_state_intents(st, &all) == 0 && all.n == 1 && !strcmp(all.items[0].idem_key, "k-9"));
	bar_intents_clear(&all);
	CHECK(bar_state_lock_get(st, &l) == 0 && !strcmp(l.host, "old-host") && l.pid == 4242 &&
	      l.token == 0 && l.expires_ms == 0 && l.user == NULL);
	bar_lock_info_clear(&l);
	CHECK(bar_state_lock(st, "apply") == BAR_ELOCKED &&
	      strstr(bar_error_last(), "run `barista state unlock`"));
	CHECK(bar_state_force_unlock(st) == 0 && bar_state_lock_get(st, &l) == BAR_ENOTFOUND);
	CHECK(bar_state_lock(st, "apply") == 0 && bar_state_lock_get(st, &l) == 0 &&
	      l.token == 1 && l.user && l.expires_ms > wall_ms());
	bar_lock_info_clear(&l);
	CHECK(!strcmp(sql_value(v2, "SELECT value FROM meta WHERE key='fence'", buf,
	                        sizeof(buf)), "1"));
	bar_state_free(st);
	/* released on free */
	CHECK(!strcmp(sql_value(v2, "SELECT count(*) FROM lock", buf, sizeof(buf)), "0"));
	free(v2);
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
	int64_t serial = -1;
	char buf[64];
	FILE *f;

	CHECK(sql_run(v1, V1_TABLES "INSERT INTO meta VALUES('schema_version','1'),"
	              "('lineage','lin-v1'),('serial','5'); INSERT INTO resources VALUES("
	              "'default/vm/old','vm','default','old','sim','c1','i-9','Running','h',"
	              "'{}','{}','[]','{}',0)") == 0);
	CHECK(bar_state_open(&st, v1, BAR_STATE_READONLY) < 0 &&
	      strstr(bar_error_last(), "needs migration"));
	CHECK(bar_state_open(&st, v1, 0) == 0 && !strcmp(bar_state_lineage(st), "lin-v1"));
	CHECK(bar_state_serial(st, &serial) == 0 && serial == 5);
	CHECK(!strcmp(sql_value(v1, "SELECT value FROM meta WHERE key='schema_version'", buf,
	                        sizeof(buf)), "3"));
	CHECK(bar_state_lock(st, "apply") == 0); /* the v3 lock columns exist */
	bar_state_unlock(st);
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

/* Compare-and-swap: a write with a stale serial fails and changes nothing. */
static void test_state_cas(void)
{
	char *path = tmp("cas.db");
	bar_state *st = NULL, *other = NULL;
	bar_record a = rec("default/vm/a", "i-1"), b = rec("default/vm/b", "i-2"), r = {0};
	int64_t s0 = -1, s1 = -1;

	CHECK(bar_state_open(&st, path, BAR_STATE_CREATE) == 0);
	CHECK(bar_state_open(&other, path, 0) == 0);
	CHECK(bar_state_serial(st, &s0) == 0 && bar_state_put_cas(st, &a, s0) == 0);
	CHECK(bar_state_serial(st, &s1) == 0 && s1 == s0 + 1);
	/* another handle (its own connection) moves the state meanwhile */
	CHECK(bar_state_delete(other, "default/vm/zz") == 0);
	CHECK(bar_state_put_cas(st, &b, s1) == BAR_ESTALE &&
	      strstr(bar_error_last(), "expected") && strstr(bar_error_last(), "default/vm/b"));
	CHECK(bar_state_get(st, "default/vm/b", &r) == BAR_ENOTFOUND);
	CHECK(bar_state_serial(st, &s0) == 0 && s0 == s1 + 1); /* only the other write */
	CHECK(bar_state_put_cas(st, &b, s0) == 0 && bar_state_get(other, "default/vm/b", &r) == 0);
	bar_record_clear(&r);
	bar_state_free(other);
	bar_state_free(st);
	free(path);
}

/* A backend without refresh: its locks have no lease (BAR_HAS gates it). */
static int nolease_open(void **be, const char *location, unsigned flags)
{
	return bar_state_sqlite_backend.open(be, location + strlen("nolease://"), flags);
}

/* Backend selection and registration checks. */
static void test_state_backends(void)
{
	static bar_state_backend bad, nolease;
	char *path = tmp("nolease.db"), *loc = bar_printf("nolease://%s", path);
	bar_state *st = NULL;
	bar_lock_info l = {0};

	CHECK(bar_state_open(&st, "etcd://10.0.0.1:2379/barista", BAR_STATE_CREATE) ==
	          BAR_ENOTSUP && strstr(bar_error_last(), "not built in yet"));
	CHECK(bar_state_open(&st, "s3://bucket/x", BAR_STATE_CREATE) == BAR_EINVALID &&
	      strstr(bar_error_last(), "no state backend for \"s3://\""));
	bad = bar_state_sqlite_backend;
	bad.version = 99;
	CHECK(bar_state_backend_register(&bad) == BAR_EINVALID && strstr(bar_error_last(), "99"));
	bad.version = BAR_STATE_BACKEND_VERSION;
	bad.struct_size = offsetof(bar_state_backend, unlock);
	CHECK(bar_state_backend_register(&bad) == BAR_EINVALID);
	bad.struct_size = sizeof(bad);
	CHECK(bar_state_backend_register(&bad) == BAR_ECONFLICT); /* paths: sqlite's */
	nolease = bar_state_sqlite_backend;
	nolease.name = "nolease";
	nolease.scheme = "nolease";
	nolease.open = nolease_open;
	nolease.refresh = NULL;
	CHECK(bar_state_backend_register(&nolease) == 0);
	CHECK(bar_state_backend_register(&nolease) == BAR_ECONFLICT);
	CHECK(bar_state_open(&st, loc, BAR_STATE_CREATE) == 0 &&
	      !strcmp(bar_state_location(st), loc));
	CHECK(bar_state_lock(st, "apply") == 0 && bar_state_lock_get(st, &l) == 0 &&
	      l.expires_ms == 0 && l.token == 1);
	bar_lock_info_clear(&l);
	bar_state_free(st);
	CHECK(access(path, F_OK) == 0);
	free(loc);
	free(path);
}

/* Wait (at most 5 s) until the stored lease has expired. */
static int lease_expired(bar_state *st)
{
	for (int i = 0; i < 250; i++) {
		bar_lock_info l = {0};
		int done = bar_state_lock_get(st, &l) == 0 && l.expires_ms <= wall_ms();

		bar_lock_info_clear(&l);
		if (done)
			return 1;
		usleep(20000);
	}
	return 0;
}

/*
 * The lease across hosts: a holder on "another host" (its own UTS
 * namespace) keeps its lease alive while it runs; frozen (SIGSTOP), its lease
 * expires and we take the lock over; thawed, its next write is fenced off
 * and changes nothing, and its exit does not remove our lock.
 */
static void test_state_lease(void)
{
	char *path = tmp("lease.db");
	bar_state *st = NULL;
	bar_lock_info l = {0};
	bar_record r = {0};
	holder h;
	int64_t t0;

	if (geteuid() != 0) {
		fprintf(stderr, "test_state_lease: skipped (needs root for a UTS namespace)\n");
		free(path);
		return;
	}
	CHECK(bar_state_open(&st, path, BAR_STATE_CREATE) == 0);
	CHECK(holder_start(&h, path, "elsewhere", 600, 0) == 0);
	/* two lease lengths: only its keepalive keeps the lock from us */
	for (t0 = bar_now_ms(); bar_now_ms() - t0 < 1200; usleep(100000))
		CHECK(bar_state_lock(st, "apply") == BAR_ELOCKED &&
		      strstr(bar_error_last(), "on elsewhere") &&
		      strstr(bar_error_last(), "renews the lease"));
	CHECK(bar_state_force_unlock(st) == BAR_ELOCKED && strstr(bar_error_last(), "lease until") &&
	      strstr(bar_error_last(), "-force"));
	kill(h.pid, SIGSTOP);
	CHECK(lease_expired(st));
	CHECK(bar_state_lock(st, "import") == 0);
	kill(h.pid, SIGCONT);
	CHECK(holder_write(&h) == 'T');
	CHECK(bar_state_get(st, "default/vm/fenced", &r) == BAR_ENOTFOUND);
	CHECK(WIFEXITED(holder_stop(&h)));
	CHECK(bar_state_lock_get(st, &l) == 0 && l.pid == getpid() && !strcmp(l.operation, "import"));
	bar_lock_info_clear(&l);
	bar_state_free(st);
	free(path);
}

/* `state unlock -force` of a live holder, then a new holder: the old one's
 * writes are fenced off; removed without a new holder, they stop too. */
static void test_state_fence(void)
{
	char *path = tmp("fence.db");
	bar_state *st = NULL;
	bar_record r = {0};
	holder h;

	CHECK(bar_state_open(&st, path, BAR_STATE_CREATE) == 0);
	CHECK(holder_start(&h, path, NULL, 0, 0) == 0);
	CHECK(holder_write(&h) == 'O'); /* the holder's own writes go through */
	CHECK(bar_state_break_lock(st, 0) == BAR_ELOCKED && strstr(bar_error_last(), "alive"));
	CHECK(bar_state_break_lock(st, 1) == 0);
	CHECK(holder_write(&h) == 'R');
	CHECK(bar_state_lock(st, "apply") == 0);
	CHECK(bar_state_delete(st, "default/vm/fenced") == 0); /* ours do */
	CHECK(holder_write(&h) == 'T');
	CHECK(bar_state_get(st, "default/vm/fenced", &r) == BAR_ENOTFOUND);
	holder_stop(&h);
	bar_state_free(st);
	free(path);
}

typedef struct writer {
	bar_state *st;
	int failures;
	char addr[32];
} writer;

static void *write_many(void *arg)
{
	writer *w = arg;

	for (int i = 0; i < 100; i++) {
		bar_record r = rec(w->addr, "i-w");

		w->failures += bar_state_put(w->st, &r) != 0;
	}
	return NULL;
}

/* Keepalive in this process: the lease is renewed (it never runs out and
 * its end moves on) while two threads write through the fenced handle. */
static void test_state_keepalive(void)
{
	char *path = tmp("keep.db");
	bar_state *st = NULL;
	bar_state_lock_opts lo = BAR_STATE_LOCK_OPTS_INIT;
	writer w[2] = {{.addr = "default/vm/w0"}, {.addr = "default/vm/w1"}};
	pthread_t th[2];
	int64_t first = 0, last = 0, t0;
	int lapses = 0;

	CHECK(bar_state_open(&st, path, BAR_STATE_CREATE) == 0);
	lo.operation = "apply";
	lo.lease_ms = 600;
	CHECK(bar_state_lock_ex(st, &lo) == 0);
	for (int i = 0; i < 2; i++) {
		w[i].st = st;
		pthread_create(&th[i], NULL, write_many, &w[i]);
	}
	for (t0 = bar_now_ms(); bar_now_ms() - t0 < 1500; usleep(50000)) {
		bar_lock_info l = {0};

		if (bar_state_lock_get(st, &l) == 0) {
			lapses += l.expires_ms <= wall_ms();
			first = first ? first : l.expires_ms;
			last = l.expires_ms;
		}
		bar_lock_info_clear(&l);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(lapses == 0 && last >= first + 600);
	CHECK(w[0].failures == 0 && w[1].failures == 0);
	bar_state_unlock(st);
	{
		bar_lock_info l = {0};

		CHECK(bar_state_lock_get(st, &l) == BAR_ENOTFOUND);
	}
	bar_state_free(st);
	free(path);
}

/* Run the barista program; its exit status, its output (stdout and stderr)
 * into *out and how long it took into *secs. */
static int run_barista(const char *args, char **out, double *secs)
{
	char *cmd = bar_printf("timeout 30 '%s' %s 2>&1", barista, args);
	double t0 = bar_now_s();
	FILE *f = popen(cmd, "r");
	bar_buf b = BAR_BUF_INIT(1 << 20);
	char chunk[512];
	size_t n;
	int status = -1;

	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bar_buf_add(&b, chunk, n);
	if (f)
		status = pclose(f);
	*secs = bar_now_s() - t0;
	*out = b.data ? bar_buf_take(&b) : bar_strdup("");
	free(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* -lock-timeout: a command waits for a holder that goes within the
 * timeout, and otherwise gives up naming the holder; without it, it fails at
 * once.  `state lock` shows the holder; `state unlock` refuses a live one
 * unless -force. */
static void test_lock_cli(void)
{
	char *path = tmp("cli.db"), *args, *out = NULL, pid[32];
	bar_state *st = NULL;
	holder h;
	double secs;
	json_t *j;

	CHECK(bar_state_open(&st, path, BAR_STATE_CREATE) == 0);
	bar_state_free(st);
	/* a holder that exits after 1 s: destroy waits for it, then runs */
	CHECK(holder_start(&h, path, NULL, 0, 1000) == 0);
	args = bar_printf("destroy -auto-approve -lock-timeout 10s -state '%s' '%s'", path, tmpdir);
	CHECK(run_barista(args, &out, &secs) == 0 && secs >= 0.5 && secs < 8);
	free(out);
	holder_stop(&h);
	/* a holder that stays: destroy gives up after the timeout, naming it */
	CHECK(holder_start(&h, path, NULL, 0, 0) == 0);
	snprintf(pid, sizeof(pid), "pid %d ", (int)h.pid);
	free(args);
	args = bar_printf("destroy -auto-approve -lock-timeout 700ms -state '%s' '%s'", path, tmpdir);
	CHECK(run_barista(args, &out, &secs) == 1 && secs >= 0.6 &&
	      strstr(out, "gave up waiting for the lock after 0.7s") &&
	      strstr(out, "locked by apply") && strstr(out, pid));
	free(out);
	free(args);
	args = bar_printf("destroy -auto-approve -state '%s' '%s'", path, tmpdir);
	CHECK(run_barista(args, &out, &secs) == 1 && secs < 5 && strstr(out, "locked by apply") &&
	      !strstr(out, "gave up"));
	free(out);
	free(args);
	args = bar_printf("state lock -json -state '%s'", path);
	CHECK(run_barista(args, &out, &secs) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j && json_is_true(json_object_get(j, "locked")) &&
	      json_integer_value(json_object_get(j, "pid")) == h.pid &&
	      json_integer_value(json_object_get(j, "expires_ms")) > 0);
	json_decref(j);
	free(out);
	free(args);
	args = bar_printf("state unlock -state '%s'", path);
	CHECK(run_barista(args, &out, &secs) == 1 && strstr(out, "it is alive") &&
	      strstr(out, "-force"));
	free(out);
	free(args);
	args = bar_printf("state unlock -force -state '%s'", path);
	CHECK(run_barista(args, &out, &secs) == 0 && strstr(out, "removed the lock of apply") &&
	      strstr(out, pid));
	free(out);
	CHECK(run_barista(args, &out, &secs) == 0 && strstr(out, "was not locked"));
	free(out);
	free(args);
	CHECK(holder_write(&h) == 'R');
	holder_stop(&h);
	free(path);
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

/* The key store's get and list, and its limits. */
static void test_keystore_get_list(void)
{
	char *dir = tmp("keys2"), *v = NULL, *big, *stray;
	bar_keystore_entries l = {0};

	CHECK(bar_keystore_list(dir, &l) == 0 && l.n == 0); /* no store yet: empty */
	CHECK(bar_keystore_put(dir, "default/sshkey/k2", "privateKey", "TWO\n") == 0);
	CHECK(bar_keystore_put(dir, "default/sshkey/k1", "privateKey", "ONE") == 0);
	CHECK(bar_keystore_put(dir, "default/sshkey/k1", "privateKey", "ONE again") == 0);
	CHECK(bar_keystore_put(dir, "prod/sshkey/k1", "passphrase", "P") == 0);
	stray = bar_printf("%s/default.sshkey.k3.privateKey.tmp", dir); /* a crash's leftover */
	{
		FILE *f = fopen(stray, "w");

		CHECK(f != NULL);
		if (f)
			fclose(f);
	}
	CHECK(bar_keystore_get(dir, "default/sshkey/k1", "privateKey", &v) == 0 &&
	      !strcmp(v, "ONE again"));
	bar_keystore_value_free(v);
	CHECK(bar_keystore_get(dir, "default/sshkey/k2", "privateKey", &v) == 0 &&
	      !strcmp(v, "TWO\n"));
	bar_keystore_value_free(v);
	v = NULL;
	CHECK(bar_keystore_get(dir, "default/sshkey/k9", "privateKey", &v) == BAR_ENOTFOUND &&
	      v == NULL);
	CHECK(bar_keystore_list(dir, &l) == 0 && l.n == 3);
	CHECK(l.n == 3 && !strcmp(l.items[0].address, "default/sshkey/k1") &&
	      !strcmp(l.items[1].address, "default/sshkey/k2") &&
	      !strcmp(l.items[2].address, "prod/sshkey/k1") &&
	      !strcmp(l.items[2].field, "passphrase"));
	bar_keystore_entries_clear(&l);
	big = bar_calloc(1, BAR_KEYSTORE_VALUE_MAX + 2);
	memset(big, 'x', BAR_KEYSTORE_VALUE_MAX + 1);
	CHECK(bar_keystore_put(dir, "default/sshkey/big", "privateKey", big) == BAR_EINVALID);
	free(big);
	CHECK(bar_keystore_put("etcd://h:2379/keys", "default/sshkey/k1", "privateKey", "S") ==
	      BAR_ENOTSUP);
	CHECK(bar_keystore_remove(dir, "default/sshkey/k1") == 0 &&
	      bar_keystore_list(dir, &l) == 0 && l.n == 2);
	bar_keystore_entries_clear(&l);
	free(stray);
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
                    "spec, mci, mcapp, monitoringpolicy, vm, agent, app, overlay)"

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

static const bar_type_info as_vm = {.struct_size = sizeof(bar_type_info), .type = "vm"};
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

/* ---- host calls: sessions, bounded backoff, credential errors ---- */

static atomic_int h_opens, h_closes;
static int h_session_seen;

static int h_open(bar_provider *p, bar_call *call, void **session)
{
	atomic_fetch_add(&h_opens, 1);
	*session = &h_opens; /* any non-NULL token */
	return BAR_OK;
}

static void h_close(bar_provider *p, void *session)
{
	atomic_fetch_add(&h_closes, session == &h_opens);
}

/* Always throttled, asking to be called again in 5 s. */
static int h_throttled(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	h_session_seen |= call->session == &h_opens;
	call->retry_after_ms = 5000;
	g_host->set_error(call, "Throttling", "slow down");
	return BAR_ERETRY;
}

/* Reads a credential field: its reference is a file. */
static int h_read(bar_provider *p, bar_call *call, const char *type, const char *in,
                  bar_sink *out)
{
	if (!g_host->credential(call, "token")) {
		g_host->set_error(call, "NoCredential", "no token");
		return BAR_EAUTH;
	}
	g_host->emit(out, &(bar_observed){sizeof(bar_observed), "h-1", "x", "Available", "{}",
	                                  "{}"});
	return BAR_OK;
}

static const bar_type_info h_vm = {.struct_size = sizeof(bar_type_info), .type = "vm"};
static const bar_type_info *const h_types[] = {&h_vm, NULL};
static bar_provider h_prov = {
	.abi_version = BAR_PROVIDER_ABI_VERSION, .struct_size = sizeof(bar_provider),
	.name = "hostcalls", .version = "1", .capabilities = BAR_CAP_LIST, .types = h_types,
	.open = h_open, .close = h_close, .create = as_create, .read = h_read, .del = as_del,
	.list = h_throttled,
};

static void *cancel_later(void *arg)
{
	usleep(150000);
	atomic_store(&((bar_cancel *)arg)->cancel, 1);
	return NULL;
}

static void test_host_calls(void)
{
	bar_registry *reg = NULL;
	bar_conn c = {0};
	bar_obs_list l = {0};
	bar_obs o = {0};
	bar_cancel tok = BAR_CANCEL_INIT;
	char *bad = tmp("cred.json");
	json_t *attrs = json_pack("{s:s, s:s, s:{s:s}}", "driver", "hostcalls", "region", "r1",
	                          "credential", "file", bad);
	bar_op_ctx ctx = {.deadline_ms = bar_now_ms() + 300};
	pthread_t th;
	FILE *f = fopen(bad, "w");
	double t0;

	g_host = bar_host_api_get();
	if (f) {
		fputs("{\"token\": \"abc\",,}", f); /* not JSON */
		fclose(f);
	}
	bar_registry_new(&reg, "/nonexistent");
	CHECK(bar_registry_add(reg, &h_prov, "hostcalls (test_core)") == 0);
	CHECK(bar_conn_init(&c, "default", "c1", attrs) == 0 && bar_conn_bind(&c, reg) == 0);
	/* the backoff ends at the deadline, not after the 5 s the provider asked for */
	t0 = bar_now_s();
	CHECK(bar_host_list(&c, "vm", &ctx, &l) == BAR_ETIMEOUT &&
	      strstr(bar_error_last(), "deadline passed while waiting to retry"));
	CHECK(bar_now_s() - t0 < 1.5);
	CHECK(!strcmp(bar_error_get()->provider_code, "Throttling") &&
	      !strcmp(bar_error_get()->operation, "list"));
	/* and a cancellation cuts it short */
	ctx = (bar_op_ctx){.cancel = &tok, .deadline_ms = bar_now_ms() + 60000};
	t0 = bar_now_s();
	CHECK(pthread_create(&th, NULL, cancel_later, &tok) == 0);
	CHECK(bar_host_list(&c, "vm", &ctx, &l) == BAR_ECANCELED);
	CHECK(bar_now_s() - t0 < 1.5);
	pthread_join(th, NULL);
	/* one session for the connection, seen by every call, closed with it */
	CHECK(atomic_load(&h_opens) == 1 && h_session_seen);
	/* a credential file that is not JSON: its parse error, not a vague one */
	CHECK(bar_host_read(&c, "vm", "x", "{}", NULL, &o) == BAR_EAUTH &&
	      strstr(bar_error_last(), "credential file") && strstr(bar_error_last(), "line 1"));
	CHECK(bar_conn_check(&c) == BAR_EAUTH && strstr(bar_error_last(), "credential file"));
	bar_obs_clear(&o);
	bar_conn_clear(&c);
	CHECK(atomic_load(&h_closes) == 1);
	bar_obs_list_clear(&l);
	json_decref(attrs);
	bar_registry_free(reg);
	free(bad);
}

/* ---- the shared scheduler ---- */

typedef struct sched_probe {
	atomic_int running[2], peak[2];
	int order[16];
	atomic_int n_order;
	int fail;   /* this task fails */
	size_t skipped_cause[16];
	int skipped[16];
} sched_probe;

static int probe_run(void *ud, size_t t, int *throttled)
{
	sched_probe *p = ud;
	int slot = t % 2, now = atomic_fetch_add(&p->running[slot], 1) + 1;

	if (now > atomic_load(&p->peak[slot]))
		atomic_store(&p->peak[slot], now);
	usleep(20000);
	atomic_fetch_sub(&p->running[slot], 1);
	p->order[atomic_fetch_add(&p->n_order, 1)] = (int)t;
	return (int)t == p->fail ? bar_error_set("task %zu fails", t) : 0;
}

static void probe_skip(void *ud, size_t t, bar_sched_skip why, size_t cause)
{
	sched_probe *p = ud;

	p->skipped[t] = why == BAR_SCHED_DEP_FAILED ? 1 : why == BAR_SCHED_CYCLE ? 2 : 3;
	p->skipped_cause[t] = cause;
}

static void test_scheduler(void)
{
	sched_probe p;
	bar_sched_opts so = BAR_SCHED_OPTS_INIT;
	bar_sched_summary sum;
	bar_sched *s = NULL;
	int pos[16];

	/* 12 tasks over 2 slots limited to 2 and 3; 0 -> 2 -> 4 -> 6 a chain; 5 fails
	 * and skips 7 and 9 (7 waits for 5, 9 for 7); a cycle 10 <-> 11 */
	memset(&p, 0, sizeof(p));
	p.fail = 5;
	so.workers = 8;
	so.run = probe_run;
	so.on_skip = probe_skip;
	so.ud = &p;
	bar_sched_new(&s, 12, 2);
	bar_sched_limit(s, 0, 2);
	bar_sched_limit(s, 1, 3);
	for (size_t i = 0; i < 12; i++)
		bar_sched_place(s, i, i % 2);
	bar_sched_edge(s, 0, 2);
	bar_sched_edge(s, 2, 4);
	bar_sched_edge(s, 4, 6);
	bar_sched_edge(s, 5, 7);
	bar_sched_edge(s, 7, 9);
	bar_sched_edge(s, 10, 11);
	bar_sched_edge(s, 11, 10);
	CHECK(bar_sched_run(s, &so, &sum) < 0);
	CHECK(sum.done == 7 && sum.failed == 1 && sum.skipped == 4);
	for (int i = 0; i < p.n_order; i++)
		pos[p.order[i]] = i;
	CHECK(pos[0] < pos[2] && pos[2] < pos[4] && pos[4] < pos[6]);
	CHECK(p.skipped[7] == 1 && p.skipped_cause[7] == 5 && p.skipped[9] == 1);
	CHECK(p.skipped[10] == 2 && p.skipped[11] == 2);
	CHECK(p.peak[0] <= 2 && p.peak[1] <= 3 && p.peak[1] >= 2);
	CHECK(bar_sched_task_state(s, 5) == BAR_SCHED_FAILED &&
	      bar_sched_task_state(s, 6) == BAR_SCHED_DONE);
	bar_sched_free(s);
	/* a stop before the start: nothing runs, everything is skipped as stopped */
	{
		bar_cancel stop = BAR_CANCEL_INIT;

		memset(&p, 0, sizeof(p));
		p.fail = -1;
		atomic_store(&stop.stop, 1);
		so.cancel = &stop;
		bar_sched_new(&s, 4, 1);
		CHECK(bar_sched_run(s, &so, &sum) < 0 && sum.done == 0 && sum.skipped == 4 &&
		      p.skipped[0] == 3);
		bar_sched_free(s);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: test_core PLUGIN_DIR BARISTA\n");
		return 2;
	}
	barista = argv[2];
	signal(SIGPIPE, SIG_IGN); /* a holder that died must not kill us */
	if (!mkdtemp(tmpdir))
		return perror("mkdtemp"), 1;
	atexit(cleanup);
	test_state();
	test_state_v2();
	test_state_v3();
	test_state_cas();
	test_state_backends();
	test_state_lease();
	test_state_fence();
	test_state_keepalive();
	test_lock_cli();
	test_loader(argv[1]);
	test_keystore();
	test_keystore_get_list();
	test_mci_status();
	test_natcmp();
	test_plan_file();
	test_plan_file_bad();
	test_plan_render();
	test_async_apply();
	test_scheduler();
	test_host_calls();
	return test_verdict("core");
}
