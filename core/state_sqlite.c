/*
 * state_sqlite.c - the SQLite state backend (state_backend.h): one file in
 * WAL mode with synchronous=NORMAL, so a committed result survives a crash
 * of barista, which is what the apply engine needs.
 *
 * Schema v3:
 *   meta(key PRIMARY KEY, value)         schema_version, lineage, serial, fence
 *   resources(address PRIMARY KEY, ...)  one row per recorded resource (v3: post,
 *                                        what a VM's postCommands did)
 *   intents(address PRIMARY KEY, ...)    creates sent but not yet recorded
 *   lock(id = 1, pid, host, operation, since, user, expires_ms, token)
 * v1 files (no intents, no idem_key/operation/taint columns) and v2 files (a
 * lock without lease or token) are migrated in place on the first open that
 * may write.  `fence` counts every lock ever taken; the lock row carries the
 * count it was taken with (its fencing token).
 *
 * Every write is one IMMEDIATE transaction that first checks the caller's
 * condition (expected serial, fencing token), so a refused write leaves the
 * file exactly as it was.  One connection serves every thread of a handle;
 * a mutex keeps one transaction at a time on it.
 */
#include "state_backend.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SCHEMA_VERSION 3

typedef struct sq {
	sqlite3 *db;
	char *path;
	unsigned flags;
	pthread_mutex_t mu;
} sq;

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS resources("
    " address TEXT PRIMARY KEY, type TEXT NOT NULL, ns TEXT NOT NULL,"
    " name TEXT NOT NULL, provider TEXT, connection TEXT, system_id TEXT,"
    " status TEXT, hash TEXT, desired TEXT, observed TEXT, deps TEXT,"
    " refs TEXT, updated INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS lock(id INTEGER PRIMARY KEY CHECK(id = 1),"
    " pid INTEGER NOT NULL, host TEXT NOT NULL, operation TEXT NOT NULL,"
    " since INTEGER NOT NULL);"
    "INSERT INTO meta(key, value) VALUES('serial', '0');";

static const char schema_v2[] =
    "ALTER TABLE resources ADD COLUMN idem_key TEXT;"
    "ALTER TABLE resources ADD COLUMN operation TEXT;"
    "ALTER TABLE resources ADD COLUMN taint TEXT;"
    "CREATE TABLE IF NOT EXISTS intents(address TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " connection TEXT, idem_key TEXT NOT NULL, started INTEGER NOT NULL);";

static const char schema_v3[] =
    "ALTER TABLE resources ADD COLUMN post TEXT;"
    "ALTER TABLE lock ADD COLUMN user TEXT;"
    "ALTER TABLE lock ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE lock ADD COLUMN token INTEGER NOT NULL DEFAULT 0;"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('fence', '0');";

/* migrations[v] moves a file from version v - 1 to v. */
static const char *const migrations[SCHEMA_VERSION + 1] = {NULL, schema_v1, schema_v2,
                                                           schema_v3};

static int db_error(sq *s, const char *what)
{
	return bar_error_set("state %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec_sql(sq *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		bar_error_set("state %s: %s", s->path, msg ? msg : "SQL error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int prepare(sq *s, sqlite3_stmt **q, const char *sql, const char *what)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
		return db_error(s, what);
	return 0;
}

/* Run a prepared statement that returns no rows, then finalize it. */
static int step_done(sq *s, sqlite3_stmt *q, const char *what)
{
	int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : db_error(s, what);

	sqlite3_finalize(q);
	return rc;
}

/* Run `fn` inside one IMMEDIATE transaction (the connection's only one):
 * committed when it returns 0, rolled back otherwise. */
static int in_tx(sq *s, int (*fn)(sq *, const void *), const void *arg)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = exec_sql(s, "BEGIN IMMEDIATE");
	if (rc == 0) {
		rc = fn(s, arg);
		if (rc == 0 && exec_sql(s, "COMMIT") < 0)
			rc = -1;
		if (rc < 0) {
			bar_error save;

			bar_error_save(&save);
			exec_sql(s, "ROLLBACK");
			bar_error_restore(&save);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int meta_get(sq *s, const char *key, char *buf, size_t size)
{
	sqlite3_stmt *q = NULL;
	int rc = BAR_ENOTFOUND;

	if (prepare(s, &q, "SELECT value FROM meta WHERE key = ?", "reading meta") < 0)
		return -1;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(q, 0));
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

static int meta_int(sq *s, const char *key, int64_t *out)
{
	char buf[32];

	if (meta_get(s, key, buf, sizeof(buf)) < 0)
		return bar_error_set("state %s: meta %s missing; the file is damaged", s->path, key);
	*out = strtoll(buf, NULL, 10);
	return 0;
}

static int meta_set(sq *s, const char *key, const char *value)
{
	sqlite3_stmt *q = NULL;

	if (prepare(s, &q, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
	            "writing meta") < 0)
		return -1;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	return step_done(s, q, "writing meta");
}

/* Number of tables in the file (a fresh file has none). */
static int table_count(sq *s)
{
	sqlite3_stmt *q = NULL;
	int n = -1;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
	                       -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* Run the migrations after version *(const int *)arg, in order. */
static int migrate_tx(sq *s, const void *arg)
{
	int from = *(const int *)arg;
	char buf[16];

	for (int v = from + 1; v <= SCHEMA_VERSION; v++) {
		if (exec_sql(s, migrations[v]) < 0)
			return -1;
		if (v == 1) {
			char lineage[37];

			bar_uuid(lineage);
			if (meta_set(s, "lineage", lineage) < 0)
				return -1;
		}
	}
	snprintf(buf, sizeof(buf), "%d", SCHEMA_VERSION);
	return meta_set(s, "schema_version", buf);
}

/* Create or migrate the schema.  Version 0 is a fresh file: one with no
 * table at all.  Anything else without our meta table is another program's
 * database and is left untouched. */
static int migrate(sq *s)
{
	char buf[64];
	int version = 0, tables = table_count(s);

	if (tables < 0)
		return bar_error_set("state %s: cannot read it: %s; it is damaged or not a "
		                     "Barista state file (restore it from a backup; barista "
		                     "will not start a new state over it)", s->path,
		                     sqlite3_errmsg(s->db));
	if (tables > 0 && meta_get(s, "schema_version", buf, sizeof(buf)) == 0)
		version = atoi(buf);
	else if (tables > 0)
		return bar_error_set("state %s: file has no schema version; it is not a "
		                     "Barista state file", s->path);
	if (version > SCHEMA_VERSION)
		return bar_error_set("state %s: schema version %d is newer than this barista "
		                     "understands (%d); upgrade barista", s->path, version,
		                     SCHEMA_VERSION);
	if (version == SCHEMA_VERSION)
		return 0;
	if (s->flags & BAR_STATE_READONLY)
		return bar_error_set("state %s: needs migration from schema %d to %d; run a "
		                     "command that writes state (apply)", s->path, version,
		                     SCHEMA_VERSION);
	return in_tx(s, migrate_tx, &version);
}

/* A path that exists must be a regular, non-empty file: an empty or lost
 * state must never be taken for a new one (that would duplicate every
 * resource on the next apply). */
static int check_path(const char *path, unsigned flags)
{
	struct stat sb;

	if (strcmp(path, ":memory:") == 0)
		return 0;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT && (flags & BAR_STATE_CREATE))
			return 0;
		return bar_error_setc(errno == ENOENT ? BAR_ENOTFOUND : -1, "state %s: %s", path,
		                      errno == ENOENT ? "does not exist" : strerror(errno));
	}
	if (S_ISDIR(sb.st_mode))
		return bar_error_setc(BAR_EINVALID, "state %s is a directory; -state takes the "
		                      "state file (e.g. %s/barista.db)", path, path);
	if (!S_ISREG(sb.st_mode))
		return bar_error_setc(BAR_EINVALID, "state %s is not a regular file", path);
	if (sb.st_size == 0)
		return bar_error_setc(BAR_EINVALID, "state %s is empty (0 bytes): it was truncated "
		                      "or is not a Barista state.  Restore it from a backup; if "
		                      "nothing was ever applied with it, delete it to start anew",
		                      path);
	return 0;
}

static void sq_close(void *be)
{
	sq *s = be;

	if (!s)
		return;
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}

static int sq_open(void **out, const char *path, unsigned flags)
{
	sq *s;
	int oflags, rc;

	if ((rc = check_path(path, flags)) < 0)
		return rc;
	s = bar_calloc(1, sizeof(*s));
	s->path = bar_strdup(path);
	s->flags = flags;
	pthread_mutex_init(&s->mu, NULL);
	oflags = SQLITE_OPEN_FULLMUTEX |
	         ((flags & BAR_STATE_READONLY) && !(flags & BAR_STATE_CREATE)
	              ? SQLITE_OPEN_READONLY
	              : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		db_error(s, "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	/* Recognise the file before changing anything about it (journal mode
	 * included): another program's database stays as it was. */
	if (migrate(s) < 0)
		goto fail;
	if (!(oflags & SQLITE_OPEN_READONLY) &&
	    (exec_sql(s, "PRAGMA journal_mode=WAL") < 0 ||
	     exec_sql(s, "PRAGMA synchronous=NORMAL") < 0))
		goto fail;
	*out = s;
	return 0;
fail:
	sq_close(s);
	return -1;
}

static int sq_meta(void *be, bar_state_meta *out)
{
	sq *s = be;
	bar_state_meta m;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = meta_get(s, "lineage", m.lineage, sizeof(m.lineage));
	if (rc == BAR_ENOTFOUND)
		rc = bar_error_set("state %s: lineage missing; the file is damaged", s->path);
	if (rc == 0)
		rc = meta_int(s, "serial", &m.serial);
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		*out = m;
	return rc;
}

/* ---- reading rows ---- */

static char *col_text(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	return t ? bar_strdup((const char *)t) : NULL;
}

/* The text columns of a record: column name and bar_record member are the
 * same word. */
#define RECORD_TEXT_FIELDS BAR_RECORD_TEXT_FIELDS
#define COL_NAME(f) #f ", "
#define COL_MARK(f) "?, "
#define RECORD_COLUMNS RECORD_TEXT_FIELDS(COL_NAME) "updated"
#define RECORD_MARKS RECORD_TEXT_FIELDS(COL_MARK) "?"
#define INTENT_COLUMNS "address, type, connection, idem_key, started"

static void row_to_record(sqlite3_stmt *q, void *item)
{
	bar_record *r = item;
	int i = 0;

#define COL_READ(f) r->f = col_text(q, i++);
	RECORD_TEXT_FIELDS(COL_READ)
#undef COL_READ
	r->updated = sqlite3_column_int64(q, i);
}

static void row_to_intent(sqlite3_stmt *q, void *item)
{
	bar_intent *in = item;

	in->address = col_text(q, 0);
	in->type = col_text(q, 1);
	in->connection = col_text(q, 2);
	in->idem_key = col_text(q, 3);
	in->started = sqlite3_column_int64(q, 4);
}

static void clear_record(void *item)
{
	bar_record_clear(item);
}

static void clear_intent(void *item)
{
	bar_intent_clear(item);
}

/* How to read one kind of row into an array of items. */
typedef struct row_kind {
	size_t size;
	void (*read)(sqlite3_stmt *q, void *item);
	void (*clear)(void *item);
	const char *what;
} row_kind;

static const row_kind record_rows = {sizeof(bar_record), row_to_record, clear_record,
                                     "reading resources"};
static const row_kind intent_rows = {sizeof(bar_intent), row_to_intent, clear_intent,
                                     "reading intents"};

/* Every row of `sql` (with one bound address when given) into a new array
 * *items of *n elements. */
static int query_rows(sq *s, const row_kind *k, const char *sql, const char *address,
                      void **items, size_t *n)
{
	sqlite3_stmt *q = NULL;
	char *arr = NULL;
	size_t len = 0, cap = 0;
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((rc = prepare(s, &q, sql, k->what)) < 0)
		goto done;
	if (address)
		sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			arr = bar_realloc(arr, cap * k->size);
		}
		k->read(q, arr + len++ * k->size);
	}
	rc = rc == SQLITE_DONE ? 0 : db_error(s, k->what);
done:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&s->mu);
	if (rc < 0) {
		for (size_t i = 0; i < len; i++)
			k->clear(arr + i * k->size);
		free(arr);
		return rc;
	}
	*items = arr;
	*n = len;
	return 0;
}

/* The one row for `address` into *out (k->size bytes); BAR_ENOTFOUND. */
static int query_one(sq *s, const row_kind *k, const char *sql, const char *address,
                     void *out)
{
	void *items = NULL;
	size_t n = 0;

	if (query_rows(s, k, sql, address, &items, &n) < 0)
		return -1;
	if (n == 0) {
		free(items);
		return BAR_ENOTFOUND;
	}
	memcpy(out, items, k->size);
	free(items);
	return 0;
}

static int sq_load(void *be, bar_records *out)
{
	void *items = NULL;
	size_t n = 0;

	if (query_rows(be, &record_rows, "SELECT " RECORD_COLUMNS " FROM resources ORDER BY address",
	               NULL, &items, &n) < 0)
		return -1;
	*out = (bar_records){.items = items, .n = n};
	return 0;
}

static int sq_get(void *be, const char *address, bar_record *out)
{
	sq *s = be;
	int rc = query_one(s, &record_rows,
	                   "SELECT " RECORD_COLUMNS " FROM resources WHERE address = ?", address,
	                   out);

	if (rc == BAR_ENOTFOUND)
		bar_error_setc(rc, "no resource %s in state %s", address, s->path);
	return rc;
}

static int sq_intent_list(void *be, bar_intents *out)
{
	void *items = NULL;
	size_t n = 0;

	if (query_rows(be, &intent_rows, "SELECT " INTENT_COLUMNS " FROM intents ORDER BY address",
	               NULL, &items, &n) < 0)
		return -1;
	*out = (bar_intents){.items = items, .n = n};
	return 0;
}

static int sq_intent_get(void *be, const char *address, bar_intent *out)
{
	sq *s = be;
	int rc = query_one(s, &intent_rows, "SELECT " INTENT_COLUMNS " FROM intents WHERE address = ?",
	                   address, out);

	if (rc == BAR_ENOTFOUND)
		bar_error_setc(rc, "no open intent for %s in state %s", address, s->path);
	return rc;
}

/* ---- the lock row and write conditions ---- */

/* The lock row into *out; BAR_ENOTFOUND when there is none.  The caller
 * holds the mutex. */
static int read_lock(sq *s, bar_lock_info *out)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (prepare(s, &q, "SELECT pid, host, user, operation, since, expires_ms, token FROM lock",
	            "reading lock") < 0)
		return -1;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*out = (bar_lock_info){
		    .pid = sqlite3_column_int64(q, 0), .host = col_text(q, 1),
		    .user = col_text(q, 2), .operation = col_text(q, 3),
		    .since = sqlite3_column_int64(q, 4), .expires_ms = sqlite3_column_int64(q, 5),
		    .token = sqlite3_column_int64(q, 6)};
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? BAR_ENOTFOUND : db_error(s, "reading lock");
	}
	sqlite3_finalize(q);
	return rc;
}

/* The lock still carries `token`?  BAR_ELOCKED naming who has it if not. */
static int check_token(sq *s, int64_t token)
{
	bar_lock_info cur = {0};
	int rc = read_lock(s, &cur);

	if (rc == BAR_ENOTFOUND)
		return bar_error_setc(BAR_ELOCKED, "state %s: lock was removed (`barista state "
		                      "unlock`) while this process held it (token %lld); nothing "
		                      "more is written", s->path, (long long)token);
	if (rc < 0)
		return rc;
	if (cur.token != token)
		rc = bar_error_setc(BAR_ELOCKED, "state %s: lock was taken over by %s (pid %lld on "
		                    "%s, token %lld) while this process held it (token %lld); "
		                    "nothing more is written", s->path, cur.operation,
		                    (long long)cur.pid, cur.host, (long long)cur.token,
		                    (long long)token);
	bar_lock_info_clear(&cur);
	return rc;
}

/* The caller's condition, inside the write's transaction. */
static int check_cond(sq *s, const bar_state_cond *c)
{
	int64_t serial = 0;
	int rc;

	if (c->token && (rc = check_token(s, c->token)) < 0)
		return rc;
	if (c->serial == BAR_STATE_ANY)
		return 0;
	if (meta_int(s, "serial", &serial) < 0)
		return -1;
	if (serial != c->serial)
		return bar_error_setc(BAR_ESTALE, "state %s moved: it is at serial %lld, the write "
		                      "expected %lld; read it again", s->path, (long long)serial,
		                      (long long)c->serial);
	return 0;
}

/* ---- writes ---- */

/* One write: a statement with its binding, the intent it settles. */
typedef struct write_op {
	const bar_state_cond *cond;
	const char *sql;
	void (*bind)(sqlite3_stmt *q, const void *arg);
	const void *arg;
	const char *settle; /* address whose open intent the write resolves */
	const char *what;
} write_op;

static int write_tx(sq *s, const void *arg)
{
	const write_op *w = arg;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = check_cond(s, w->cond)) < 0)
		return rc;
	if (prepare(s, &q, w->sql, w->what) < 0)
		return -1;
	w->bind(q, w->arg);
	if (step_done(s, q, w->what) < 0)
		return -1;
	if (w->settle) {
		if (prepare(s, &q, "DELETE FROM intents WHERE address = ?", w->what) < 0)
			return -1;
		sqlite3_bind_text(q, 1, w->settle, -1, SQLITE_STATIC);
		if (step_done(s, q, w->what) < 0)
			return -1;
	}
	return exec_sql(s, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
	                   "WHERE key = 'serial'");
}

static void bind_record(sqlite3_stmt *q, const void *arg)
{
	const bar_record *r = arg;
	int i = 1;

#define COL_BIND(f) sqlite3_bind_text(q, i++, r->f, -1, SQLITE_STATIC);
	RECORD_TEXT_FIELDS(COL_BIND)
#undef COL_BIND
	sqlite3_bind_int64(q, i, (sqlite3_int64)time(NULL));
}

static void bind_intent(sqlite3_stmt *q, const void *arg)
{
	const bar_intent *in = arg;

	sqlite3_bind_text(q, 1, in->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, in->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, in->connection, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, in->idem_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, in->started ? in->started : (sqlite3_int64)time(NULL));
}

static void bind_address(sqlite3_stmt *q, const void *arg)
{
	sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC);
}

static int sq_put(void *be, const bar_record *r, const bar_state_cond *cond)
{
	write_op w = {cond, "INSERT OR REPLACE INTO resources(" RECORD_COLUMNS ") VALUES("
	              RECORD_MARKS ")", bind_record, r, r->address, "writing resource"};

	return in_tx(be, write_tx, &w);
}

static int sq_del(void *be, const char *address, const bar_state_cond *cond)
{
	write_op w = {cond, "DELETE FROM resources WHERE address = ?", bind_address, address,
	              address, "deleting resource"};

	return in_tx(be, write_tx, &w);
}

static int sq_intent_put(void *be, const bar_intent *in, const bar_state_cond *cond)
{
	write_op w = {cond, "INSERT OR REPLACE INTO intents(" INTENT_COLUMNS ") VALUES(?, ?, ?, ?, ?)",
	              bind_intent, in, NULL, "writing intent"};

	return in_tx(be, write_tx, &w);
}

static int sq_intent_del(void *be, const char *address, const bar_state_cond *cond)
{
	write_op w = {cond, "DELETE FROM intents WHERE address = ?", bind_address, address, NULL,
	              "deleting intent"};

	return in_tx(be, write_tx, &w);
}

/* ---- the lock ---- */

static int sq_lock_info(void *be, bar_lock_info *out)
{
	sq *s = be;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = read_lock(s, out);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

typedef struct lock_arg {
	const bar_lock_info *want;
	int64_t expect;
	int64_t *token;
} lock_arg;

static int lock_tx(sq *s, const void *arg)
{
	const lock_arg *a = arg;
	bar_lock_info cur = {0};
	sqlite3_stmt *q = NULL;
	char buf[32];
	int64_t fence = 0;
	int rc = read_lock(s, &cur);

	if (rc < 0 && rc != BAR_ENOTFOUND)
		return rc;
	if ((rc == 0 ? cur.token : 0) != a->expect) {
		bar_lock_info_clear(&cur);
		return bar_error_setc(BAR_ECONFLICT, "state %s: the lock changed meanwhile", s->path);
	}
	bar_lock_info_clear(&cur);
	if (meta_int(s, "fence", &fence) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%lld", (long long)++fence);
	if (meta_set(s, "fence", buf) < 0 ||
	    prepare(s, &q, "INSERT OR REPLACE INTO lock(id, pid, host, user, operation, since, "
	            "expires_ms, token) VALUES(1, ?, ?, ?, ?, ?, ?, ?)", "writing lock") < 0)
		return -1;
	sqlite3_bind_int64(q, 1, a->want->pid);
	sqlite3_bind_text(q, 2, a->want->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, a->want->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, a->want->operation, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, a->want->since);
	sqlite3_bind_int64(q, 6, a->want->expires_ms);
	sqlite3_bind_int64(q, 7, fence);
	if (step_done(s, q, "writing lock") < 0)
		return -1;
	*a->token = fence;
	return 0;
}

static int sq_lock(void *be, const bar_lock_info *want, int64_t expect, int64_t *token)
{
	int64_t t = 0;
	lock_arg a = {want, expect, &t};
	int rc = in_tx(be, lock_tx, &a);

	if (rc == 0)
		*token = t;
	return rc;
}

typedef struct lease_arg {
	int64_t token;
	int64_t expires_ms; /* < 0: remove the lock */
} lease_arg;

/* Move the lease of, or remove, the lock carrying a token. */
static int lease_tx(sq *s, const void *arg)
{
	const lease_arg *a = arg;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = check_token(s, a->token)) < 0)
		return rc;
	if (prepare(s, &q, a->expires_ms < 0 ? "DELETE FROM lock WHERE token = ?2"
	                                     : "UPDATE lock SET expires_ms = ?1 WHERE token = ?2",
	            "writing lock") < 0)
		return -1;
	if (a->expires_ms >= 0)
		sqlite3_bind_int64(q, 1, a->expires_ms);
	sqlite3_bind_int64(q, 2, a->token);
	return step_done(s, q, "writing lock");
}

static int sq_refresh(void *be, int64_t token, int64_t expires_ms)
{
	lease_arg a = {token, expires_ms};

	return in_tx(be, lease_tx, &a);
}

static int sq_unlock(void *be, int64_t token)
{
	lease_arg a = {token, -1};
	int rc = in_tx(be, lease_tx, &a);

	return rc == BAR_ELOCKED ? BAR_ENOTFOUND : rc;
}

const bar_state_backend bar_state_sqlite_backend = {
    .struct_size = sizeof(bar_state_backend),
    .version = BAR_STATE_BACKEND_VERSION,
    .name = "sqlite",
    .scheme = NULL,
    .open = sq_open,
    .close = sq_close,
    .meta = sq_meta,
    .load = sq_load,
    .get = sq_get,
    .put = sq_put,
    .del = sq_del,
    .intent_put = sq_intent_put,
    .intent_get = sq_intent_get,
    .intent_list = sq_intent_list,
    .intent_del = sq_intent_del,
    .lock_info = sq_lock_info,
    .lock = sq_lock,
    .unlock = sq_unlock,
    .refresh = sq_refresh,
};
