/*
 * state.c - the SQLite state store (see state.h).
 *
 * Schema v1:
 *   meta(key PRIMARY KEY, value)         schema_version, lineage, serial
 *   resources(address PRIMARY KEY, ...)  one row per recorded resource
 *   lock(id = 1, pid, host, operation, since)
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
#include <time.h>
#include <unistd.h>

#define BAR_STATE_SCHEMA 1

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

/* Create or migrate the schema.  Version 0 is a fresh file. */
static int migrate(bar_state *st)
{
	char buf[64];
	int version = 0;

	if (meta_get(st, "schema_version", buf, sizeof(buf)) == 0)
		version = atoi(buf);
	else if (sqlite3_table_column_metadata(st->db, NULL, "meta", "key", NULL, NULL, NULL,
	                                       NULL, NULL) == SQLITE_OK)
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
	snprintf(buf, sizeof(buf), "%d", BAR_STATE_SCHEMA);
	if (meta_set(st, "schema_version", buf) < 0)
		goto fail;
	return exec_sql(st, "COMMIT");
fail:
	exec_sql(st, "ROLLBACK");
	return -1;
}

int bar_state_open(bar_state **out, const char *path, unsigned flags)
{
	bar_state *st;
	int oflags;

	if (!(flags & BAR_STATE_CREATE) && access(path, F_OK) != 0)
		return bar_error_set("state %s does not exist", path), BAR_ENOTFOUND;
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
	if (!(oflags & SQLITE_OPEN_READONLY) &&
	    (exec_sql(st, "PRAGMA journal_mode=WAL") < 0 ||
	     exec_sql(st, "PRAGMA synchronous=NORMAL") < 0))
		goto fail;
	if (migrate(st) < 0)
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

#define RECORD_COLUMNS                                                              \
	"address, type, ns, name, provider, connection, system_id, status, hash, "    \
	"desired, observed, deps, refs, updated"

static void row_to_record(sqlite3_stmt *q, bar_record *r)
{
	r->address = col_text(q, 0);
	r->type = col_text(q, 1);
	r->ns = col_text(q, 2);
	r->name = col_text(q, 3);
	r->provider = col_text(q, 4);
	r->connection = col_text(q, 5);
	r->system_id = col_text(q, 6);
	r->status = col_text(q, 7);
	r->hash = col_text(q, 8);
	r->desired = col_text(q, 9);
	r->observed = col_text(q, 10);
	r->deps = col_text(q, 11);
	r->refs = col_text(q, 12);
	r->updated = sqlite3_column_int64(q, 13);
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

/* Run `q` then bump serial, all inside one IMMEDIATE transaction. */
static int write_with_serial(bar_state *st, sqlite3_stmt *q, const char *what)
{
	int rc = -1;

	if (st->flags & BAR_STATE_READONLY)
		return bar_error_set("state %s is open read-only", st->path);
	pthread_mutex_lock(&st->mu);
	if (exec_sql(st, "BEGIN IMMEDIATE") < 0)
		goto done;
	if (sqlite3_step(q) != SQLITE_DONE) {
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
	const char *vals[13] = {r->address, r->type,   r->ns,   r->name,     r->provider,
	                        r->connection, r->system_id, r->status, r->hash, r->desired,
	                        r->observed, r->deps, r->refs};
	int rc;

	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO resources(" RECORD_COLUMNS
	                       ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, "writing resource");
	for (int i = 0; i < 13; i++)
		sqlite3_bind_text(q, i + 1, vals[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 14, (sqlite3_int64)time(NULL));
	rc = write_with_serial(st, q, "writing resource");
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
	rc = write_with_serial(st, q, "deleting resource");
	sqlite3_finalize(q);
	return rc;
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
	return exec_sql(st, "DELETE FROM lock");
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
