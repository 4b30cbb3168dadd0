/*
 * state.c - the SQLite state store (see state.h).
 *
 * Schema v2:
 *   meta(key PRIMARY KEY, value)         schema_version, lineage, serial
 *   resources(address PRIMARY KEY, ...)  one row per recorded resource
 *   intents(address PRIMARY KEY, ...)    creates sent but not yet recorded
 *   lock(id = 1, pid, host, operation, since)
 * v1 files (no intents, no idem_key/operation/taint columns) are migrated
 * in place on the first open that may write.
 * A connection is opened in WAL mode with synchronous=NORMAL: a committed
 * result survives a crash of barista, which is what the apply engine needs.
 */
#include "state.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BAR_STATE_SCHEMA 2

struct bar_state {
	sqlite3 *db;
	char *path;
	char lineage[40];
	unsigned flags;
	int locked;
	pthread_mutex_t mu;
};

static const char *schema_v1 =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS resources("
    " address TEXT PRIMARY KEY, type TEXT NOT NULL, ns TEXT NOT NULL,"
    " name TEXT NOT NULL, provider TEXT, connection TEXT, system_id TEXT,"
    " status TEXT, hash TEXT, desired TEXT, observed TEXT, deps TEXT,"
    " refs TEXT, updated INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS lock(id INTEGER PRIMARY KEY CHECK(id = 1),"
    " pid INTEGER NOT NULL, host TEXT NOT NULL, operation TEXT NOT NULL,"
    " since INTEGER NOT NULL);";

static const char *schema_v2 =
    "ALTER TABLE resources ADD COLUMN idem_key TEXT;"
    "ALTER TABLE resources ADD COLUMN operation TEXT;"
    "ALTER TABLE resources ADD COLUMN taint TEXT;"
    "CREATE TABLE IF NOT EXISTS intents(address TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " connection TEXT, idem_key TEXT NOT NULL, started INTEGER NOT NULL);";

static int db_error(bar_state *st, const char *what)
{
	return bar_error_set("state %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

static int exec_sql(bar_state *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		bar_error_set("state %s: %s", st->path, msg ? msg : "SQL error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int meta_get(bar_state *st, const char *key, char *buf, size_t size)
{
	sqlite3_stmt *q = NULL;
	int rc = BAR_ENOTFOUND;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &q,
	                       NULL) != SQLITE_OK)
		return db_error(st, "reading meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(q, 0));
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

static int meta_set(bar_state *st, const char *key, const char *value)
{
	sqlite3_stmt *q = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1,
	                       &q, NULL) != SQLITE_OK)
		return db_error(st, "writing meta");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = db_error(st, "writing meta");
	sqlite3_finalize(q);
	return rc;
}

static void new_lineage(char out[40])
{
	unsigned char r[16];
	FILE *f = fopen("/dev/urandom", "rb");

	if (!f || fread(r, 1, sizeof(r), f) != sizeof(r)) {
		uint64_t h = bar_hash64(&r, sizeof(r), (uint64_t)time(NULL) ^ (uint64_t)getpid());
		memcpy(r, &h, 8);
		memcpy(r + 8, &h, 8);
	}
	if (f)
		fclose(f);
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(out, 40,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
	         r[12], r[13], r[14], r[15]);
}

/* Number of tables in the file (a fresh file has none). */
static int table_count(bar_state *st)
{
	sqlite3_stmt *q = NULL;
	int n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
	                       -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* Create or migrate the schema.  Version 0 is a fresh file: one with no
 * table at all.  Anything else without our meta table is another program's
 * database and is left untouched. */
static int migrate(bar_state *st)
{
	char buf[64];
	int version = 0, tables = table_count(st);

	if (tables < 0)
		return bar_error_set("state %s: cannot read it: %s; it is damaged or not a "
		                     "Barista state file (restore it from a backup; barista "
		                     "will not start a new state over it)", st->path,
		                     sqlite3_errmsg(st->db));
	if (meta_get(st, "schema_version", buf, sizeof(buf)) == 0)
		version = atoi(buf);
	else if (tables > 0)
		return bar_error_set("state %s: file has no schema version; it is not a "
		                     "Barista state file", st->path);
	if (version > BAR_STATE_SCHEMA)
		return bar_error_set("state %s: schema version %d is newer than this barista "
		                     "understands (%d); upgrade barista", st->path, version,
		                     BAR_STATE_SCHEMA);
	if (version == BAR_STATE_SCHEMA)
		return 0;
	if (st->flags & BAR_STATE_READONLY)
		return bar_error_set("state %s: needs migration from schema %d to %d; run a "
		                     "command that writes state (apply)", st->path, version,
		                     BAR_STATE_SCHEMA);
	if (exec_sql(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	/* Migrations run in order; each step moves version by one. */
	if (version < 1) {
		char lineage[40];

		new_lineage(lineage);
		if (exec_sql(st, schema_v1) < 0 || meta_set(st, "lineage", lineage) < 0 ||
		    meta_set(st, "serial", "0") < 0)
			goto fail;
	}
	if (version < 2 && exec_sql(st, schema_v2) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "%d", BAR_STATE_SCHEMA);
	if (meta_set(st, "schema_version", buf) < 0)
		goto fail;
	return exec_sql(st, "COMMIT");
fail:
	exec_sql(st, "ROLLBACK");
	return -1;
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

int bar_state_open(bar_state **out, const char *path, unsigned flags)
{
	bar_state *st;
	int oflags, rc;

	if ((rc = check_path(path, flags)) < 0)
		return rc;
	st = bar_calloc(1, sizeof(*st));
	st->path = bar_strdup(path);
	st->flags = flags;
	pthread_mutex_init(&st->mu, NULL);
	oflags = SQLITE_OPEN_FULLMUTEX |
	         ((flags & BAR_STATE_READONLY) && !(flags & BAR_STATE_CREATE)
	              ? SQLITE_OPEN_READONLY
	              : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
		db_error(st, "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	/* Recognise the file before changing anything about it (journal mode
	 * included): another program's database stays as it was. */
	if (migrate(st) < 0)
		goto fail;
	if (!(oflags & SQLITE_OPEN_READONLY) &&
	    (exec_sql(st, "PRAGMA journal_mode=WAL") < 0 ||
	     exec_sql(st, "PRAGMA synchronous=NORMAL") < 0))
		goto fail;
	if (meta_get(st, "lineage", st->lineage, sizeof(st->lineage)) < 0) {
		bar_error_set("state %s: lineage missing; the file is damaged", path);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	bar_state_free(st);
	return -1;
}

void bar_state_free(bar_state *st)
{
	if (!st)
		return;
	if (st->locked)
		bar_state_unlock(st);
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st->path);
	free(st);
}

const char *bar_state_lineage(bar_state *st)
{
	return st->lineage;
}

int bar_state_serial(bar_state *st, int64_t *out)
{
	char buf[32];

	if (meta_get(st, "serial", buf, sizeof(buf)) < 0)
		return -1;
	*out = strtoll(buf, NULL, 10);
	return 0;
}

static char *col_text(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	return t ? bar_strdup((const char *)t) : NULL;
}

/* The text columns of a record, written once (X-macro): column name and
 * bar_record member are the same word. */
#define RECORD_TEXT_FIELDS(X)                                                       \
	X(address) X(type) X(ns) X(name) X(provider) X(connection) X(system_id)     \
	X(status) X(hash) X(desired) X(observed) X(deps) X(refs) X(idem_key)        \
	X(operation) X(taint)
#define COL_NAME(f) #f ", "
#define COL_MARK(f) "?, "
#define RECORD_COLUMNS RECORD_TEXT_FIELDS(COL_NAME) "updated"
#define RECORD_MARKS RECORD_TEXT_FIELDS(COL_MARK) "?"

static void row_to_record(sqlite3_stmt *q, bar_record *r)
{
	int i = 0;

#define COL_READ(f) r->f = col_text(q, i++);
	RECORD_TEXT_FIELDS(COL_READ)
#undef COL_READ
	r->updated = sqlite3_column_int64(q, i);
}

int bar_state_load(bar_state *st, bar_records *out)
{
	sqlite3_stmt *q = NULL;
	bar_records rs = {NULL, 0};
	size_t cap = 0;
	int rc;

	pthread_mutex_lock(&st->mu);
	if (sqlite3_prepare_v2(st->db,
	                       "SELECT " RECORD_COLUMNS " FROM resources ORDER BY address", -1,
	                       &q, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&st->mu);
		return db_error(st, "reading resources");
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (rs.n == cap) {
			cap = cap ? cap * 2 : 64;
			rs.items = bar_realloc(rs.items, cap * sizeof(*rs.items));
		}
		row_to_record(q, &rs.items[rs.n++]);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->mu);
	if (rc != SQLITE_DONE) {
		bar_records_clear(&rs);
		return db_error(st, "reading resources");
	}
	*out = rs;
	return 0;
}

int bar_state_get(bar_state *st, const char *address, bar_record *out)
{
	sqlite3_stmt *q = NULL;
	int rc;

	pthread_mutex_lock(&st->mu);
	if (sqlite3_prepare_v2(st->db,
	                       "SELECT " RECORD_COLUMNS " FROM resources WHERE address = ?",
	                       -1, &q, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&st->mu);
		return db_error(st, "reading resources");
	}
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		row_to_record(q, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		bar_error_set("no resource %s in state %s", address, st->path);
		rc = BAR_ENOTFOUND;
	} else {
		rc = db_error(st, "reading resources");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int settle_intent(bar_state *st, const char *address)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM intents WHERE address = ?", -1, &q,
	                       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	return rc;
}

/* Run `q`, resolve the open intent of `address` (when given: a resource
 * recorded or deleted there settles it), then bump serial, all inside one
 * IMMEDIATE transaction. */
static int write_with_serial(bar_state *st, sqlite3_stmt *q, const char *address,
                             const char *what)
{
	int rc = -1;

	if (st->flags & BAR_STATE_READONLY)
		return bar_error_set("state %s is open read-only", st->path);
	pthread_mutex_lock(&st->mu);
	if (exec_sql(st, "BEGIN IMMEDIATE") < 0)
		goto done;
	if (sqlite3_step(q) != SQLITE_DONE || (address && settle_intent(st, address) < 0)) {
		db_error(st, what);
		exec_sql(st, "ROLLBACK");
		goto done;
	}
	if (exec_sql(st, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
	                 "WHERE key = 'serial'") < 0 ||
	    exec_sql(st, "COMMIT") < 0) {
		exec_sql(st, "ROLLBACK");
		goto done;
	}
	rc = 0;
done:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int bar_state_put(bar_state *st, const bar_record *r)
{
	sqlite3_stmt *q = NULL;
	int rc, i = 1;

	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO resources(" RECORD_COLUMNS
	                       ") VALUES(" RECORD_MARKS ")",
	                       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, "writing resource");
#define COL_BIND(f) sqlite3_bind_text(q, i++, r->f, -1, SQLITE_STATIC);
	RECORD_TEXT_FIELDS(COL_BIND)
#undef COL_BIND
	sqlite3_bind_int64(q, i, (sqlite3_int64)time(NULL));
	rc = write_with_serial(st, q, r->address, "writing resource");
	sqlite3_finalize(q);
	if (rc < 0)
		bar_error_prefix("recording %s", r->address);
	return rc;
}

int bar_state_delete(bar_state *st, const char *address)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM resources WHERE address = ?", -1, &q,
	                       NULL) != SQLITE_OK)
		return db_error(st, "deleting resource");
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	rc = write_with_serial(st, q, address, "deleting resource");
	sqlite3_finalize(q);
	return rc;
}

int bar_state_intent_put(bar_state *st, const bar_intent *in)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO intents(address, type, connection, "
	                       "idem_key, started) VALUES(?, ?, ?, ?, ?)",
	                       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, "writing intent");
	sqlite3_bind_text(q, 1, in->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, in->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, in->connection, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, in->idem_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, in->started ? in->started : (sqlite3_int64)time(NULL));
	rc = write_with_serial(st, q, NULL, "writing intent");
	sqlite3_finalize(q);
	return rc;
}

int bar_state_intent_delete(bar_state *st, const char *address)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM intents WHERE address = ?", -1, &q,
	                       NULL) != SQLITE_OK)
		return db_error(st, "deleting intent");
	sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	rc = write_with_serial(st, q, NULL, "deleting intent");
	sqlite3_finalize(q);
	return rc;
}

static void row_to_intent(sqlite3_stmt *q, bar_intent *in)
{
	in->address = col_text(q, 0);
	in->type = col_text(q, 1);
	in->connection = col_text(q, 2);
	in->idem_key = col_text(q, 3);
	in->started = sqlite3_column_int64(q, 4);
}

/* Intents matching `where` (with one bound address, or none). */
static int intents_query(bar_state *st, const char *address, bar_intents *out)
{
	sqlite3_stmt *q = NULL;
	bar_intents l = {NULL, 0};
	int rc;

	pthread_mutex_lock(&st->mu);
	if (sqlite3_prepare_v2(st->db,
	                       address ? "SELECT address, type, connection, idem_key, started "
	                                 "FROM intents WHERE address = ?"
	                               : "SELECT address, type, connection, idem_key, started "
	                                 "FROM intents ORDER BY address",
	                       -1, &q, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&st->mu);
		return db_error(st, "reading intents");
	}
	if (address)
		sqlite3_bind_text(q, 1, address, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		l.items = bar_realloc(l.items, (l.n + 1) * sizeof(*l.items));
		row_to_intent(q, &l.items[l.n++]);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->mu);
	if (rc != SQLITE_DONE) {
		bar_intents_clear(&l);
		return db_error(st, "reading intents");
	}
	*out = l;
	return 0;
}

int bar_state_intents(bar_state *st, bar_intents *out)
{
	return intents_query(st, NULL, out);
}

int bar_state_intent_get(bar_state *st, const char *address, bar_intent *out)
{
	bar_intents l;

	if (intents_query(st, address, &l) < 0)
		return -1;
	if (l.n == 0) {
		bar_intents_clear(&l);
		return BAR_ENOTFOUND;
	}
	*out = l.items[0];
	free(l.items);
	return 0;
}

void bar_intent_clear(bar_intent *in)
{
	free(in->address);
	free(in->type);
	free(in->connection);
	free(in->idem_key);
	memset(in, 0, sizeof(*in));
}

void bar_intents_clear(bar_intents *l)
{
	for (size_t i = 0; i < l->n; i++)
		bar_intent_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static int pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int bar_state_lock(bar_state *st, const char *operation)
{
	sqlite3_stmt *q = NULL;
	char host[256] = "";
	int rc = -1;

	gethostname(host, sizeof(host) - 1);
	if (exec_sql(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, "SELECT pid, host, operation, since FROM lock", -1, &q,
	                       NULL) != SQLITE_OK) {
		db_error(st, "reading lock");
		goto done;
	}
	if (sqlite3_step(q) == SQLITE_ROW) {
		long pid = (long)sqlite3_column_int64(q, 0);
		const char *holder = (const char *)sqlite3_column_text(q, 1);
		int same_host = holder && strcmp(holder, host) == 0;

		if (!same_host || (pid != (long)getpid() && pid_alive(pid))) {
			time_t since = (time_t)sqlite3_column_int64(q, 3);
			char when[64];

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&since));
			bar_error_set("state %s is locked by %s (pid %ld on %s since %s); wait for "
			              "it to finish, or if that process is gone from another host, "
			              "run `barista state unlock`",
			              st->path, sqlite3_column_text(q, 2), pid, holder, when);
			rc = BAR_ELOCKED;
			goto done;
		}
	}
	sqlite3_finalize(q);
	q = NULL;
	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO lock(id, pid, host, operation, since) "
	                       "VALUES(1, ?, ?, ?, ?)",
	                       -1, &q, NULL) != SQLITE_OK) {
		db_error(st, "writing lock");
		goto done;
	}
	sqlite3_bind_int64(q, 1, getpid());
	sqlite3_bind_text(q, 2, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, operation, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)time(NULL));
	if (sqlite3_step(q) != SQLITE_DONE) {
		db_error(st, "writing lock");
		goto done;
	}
	rc = 0;
done:
	sqlite3_finalize(q);
	exec_sql(st, rc == 0 ? "COMMIT" : "ROLLBACK");
	if (rc == 0)
		st->locked = 1;
	return rc;
}

void bar_state_unlock(bar_state *st)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "DELETE FROM lock WHERE pid = %ld", (long)getpid());
	exec_sql(st, sql);
	st->locked = 0;
}

int bar_state_force_unlock(bar_state *st)
{
	sqlite3_stmt *q = NULL;
	char host[256] = "";
	int rc = 0;

	gethostname(host, sizeof(host) - 1);
	if (sqlite3_prepare_v2(st->db, "SELECT pid, host, operation FROM lock", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_error(st, "reading lock");
	if (sqlite3_step(q) == SQLITE_ROW) {
		long pid = (long)sqlite3_column_int64(q, 0);
		const char *holder = (const char *)sqlite3_column_text(q, 1);

		/* On this host we can tell a live holder from a dead one: removing a
		 * live apply's lock would let two applies run at once. */
		if (holder && strcmp(holder, host) == 0 && pid != (long)getpid() && pid_alive(pid))
			rc = bar_error_setc(BAR_ELOCKED, "state %s is locked by a running %s (pid %ld "
			                    "on this host); it is alive, so the lock stays: wait for "
			                    "it or stop it (its lock is released when it exits)",
			                    st->path, sqlite3_column_text(q, 2), pid);
	}
	sqlite3_finalize(q);
	return rc < 0 ? rc : exec_sql(st, "DELETE FROM lock");
}

void bar_record_clear(bar_record *r)
{
	if (!r)
		return;
	free(r->address);
	free(r->type);
	free(r->ns);
	free(r->name);
	free(r->provider);
	free(r->connection);
	free(r->system_id);
	free(r->status);
	free(r->hash);
	free(r->desired);
	free(r->observed);
	free(r->deps);
	free(r->refs);
	free(r->idem_key);
	free(r->operation);
	free(r->taint);
	memset(r, 0, sizeof(*r));
}

void bar_records_clear(bar_records *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		bar_record_clear(&rs->items[i]);
	free(rs->items);
	rs->items = NULL;
	rs->n = 0;
}

const bar_record *bar_records_find(const bar_records *rs, const char *address)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rs->items[mid].address, address);

		if (c == 0)
			return &rs->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
