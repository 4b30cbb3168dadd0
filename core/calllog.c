/*
 * calllog.c - the call log in SQLite (see calllog.h).
 *
 * Schema (version 1, in PRAGMA user_version):
 *   calls(id INTEGER PRIMARY KEY, at INTEGER, ns, connection, driver, region,
 *         address, operation, resource, status INTEGER, code, ms INTEGER)
 * with an index on (at) for -since.  One connection per handle behind a
 * mutex: provider calls record from many threads at once.
 */
#include "calllog.h"
#include "error.h"
#include "util.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct bar_calllog {
	sqlite3 *db;
	sqlite3_stmt *insert;
	char *path;
	size_t max_rows;
	size_t since_trim; /* records added since the size was last checked */
	long dropped;
	pthread_mutex_t mu;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS calls(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    " ns TEXT NOT NULL, connection TEXT NOT NULL, driver TEXT NOT NULL,"
    " region TEXT NOT NULL, address TEXT NOT NULL, operation TEXT NOT NULL,"
    " resource TEXT NOT NULL, status INTEGER NOT NULL, code TEXT NOT NULL,"
    " ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS calls_at ON calls(at);"
    "PRAGMA user_version=1;";

char *bar_calllog_path(const char *state_path)
{
	return bar_printf("%s.calls", state_path);
}

static int open_db(bar_calllog **out, const char *path, size_t max_rows, int flags)
{
	bar_calllog *l = bar_calloc(1, sizeof(*l));

	pthread_mutex_init(&l->mu, NULL);
	l->path = bar_strdup(path);
	l->max_rows = max_rows ? max_rows : BAR_CALLLOG_DEFAULT_MAX;
	if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK) {
		int missing = !(flags & SQLITE_OPEN_CREATE) &&
		              sqlite3_errcode(l->db) == SQLITE_CANTOPEN;

		if (missing)
			bar_error_setc(BAR_ENOTFOUND, "call log %s: no calls recorded yet", path);
		else
			bar_error_set("call log %s: %s", path, sqlite3_errmsg(l->db));
		bar_calllog_close(l);
		return missing ? BAR_ENOTFOUND : -1;
	}
	sqlite3_busy_timeout(l->db, 5000);
	if (flags & SQLITE_OPEN_CREATE) {
		char *err = NULL;

		if (sqlite3_exec(l->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
		                 NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(l->db, schema, NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_prepare_v2(l->db,
		                       "INSERT INTO calls(at, ns, connection, driver, region, address,"
		                       " operation, resource, status, code, ms)"
		                       " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
		                       -1, &l->insert, NULL) != SQLITE_OK) {
			bar_error_set("call log %s: %s", path, err ? err : sqlite3_errmsg(l->db));
			sqlite3_free(err);
			bar_calllog_close(l);
			return -1;
		}
	}
	*out = l;
	return 0;
}

int bar_calllog_open(bar_calllog **out, const char *path, size_t max_rows)
{
	return open_db(out, path, max_rows,
	               SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX);
}

int bar_calllog_open_ro(bar_calllog **out, const char *path)
{
	return open_db(out, path, 0, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX);
}

void bar_calllog_close(bar_calllog *l)
{
	if (!l)
		return;
	sqlite3_finalize(l->insert);
	sqlite3_close(l->db);
	pthread_mutex_destroy(&l->mu);
	free(l->path);
	free(l);
}

long bar_calllog_dropped(const bar_calllog *l)
{
	return l ? l->dropped : 0;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Keep the file bounded: past max_rows, drop the oldest tenth.  Checked
 * every 1,000 records (or at once for small limits), with the lock held. */
static void trim(bar_calllog *l)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 n = 0;

	if (++l->since_trim < (l->max_rows < 10000 ? l->max_rows / 10 + 1 : 1000))
		return;
	l->since_trim = 0;
	if (sqlite3_prepare_v2(l->db, "SELECT count(*) FROM calls", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((size_t)n <= l->max_rows)
		return;
	if (sqlite3_prepare_v2(l->db, "DELETE FROM calls WHERE id <= (SELECT id FROM calls "
	                       "ORDER BY id LIMIT 1 OFFSET ?)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, n - (sqlite3_int64)(l->max_rows * 9 / 10) - 1);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

void bar_calllog_add(bar_calllog *l, const bar_call_entry *e)
{
	sqlite3_stmt *st;

	if (!l || !l->insert)
		return;
	pthread_mutex_lock(&l->mu);
	st = l->insert;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, e->at_ms);
	sqlite3_bind_text(st, 2, nz(e->ns), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, nz(e->connection), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, nz(e->driver), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, nz(e->region), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, nz(e->address), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, nz(e->operation), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, nz(e->resource), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, e->http_status);
	sqlite3_bind_text(st, 10, nz(e->error_code), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, e->duration_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		l->dropped++;
	sqlite3_clear_bindings(st);
	trim(l);
	pthread_mutex_unlock(&l->mu);
}

static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return bar_strdup(t ? (const char *)t : "");
}

int bar_calllog_query(bar_calllog *l, const bar_calllog_filter *f, bar_calllog_rows *out)
{
	/* the newest `limit` matching, returned oldest first */
	static const char sql[] =
	    "SELECT at, ns, connection, driver, region, address, operation, resource, status,"
	    " code, ms FROM (SELECT * FROM calls WHERE at >= ?1"
	    " AND (?2 IS NULL OR connection = ?2 OR ns || '/' || connection = ?2)"
	    " AND (?3 = 0 OR code != '' OR status = 0 OR status >= 400)"
	    " ORDER BY id DESC LIMIT ?4) ORDER BY id";
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&l->mu);
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&l->mu);
		return bar_error_set("call log %s: %s", l->path, sqlite3_errmsg(l->db));
	}
	sqlite3_bind_int64(st, 1, f ? f->since_ms : 0);
	if (f && f->connection)
		sqlite3_bind_text(st, 2, f->connection, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, f ? f->errors_only : 0);
	sqlite3_bind_int64(st, 4, f && f->limit ? (sqlite3_int64)f->limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bar_call_entry *e;

		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			out->items = bar_realloc(out->items, cap * sizeof(*out->items));
		}
		e = &out->items[out->n++];
		e->at_ms = sqlite3_column_int64(st, 0);
		e->ns = col(st, 1);
		e->connection = col(st, 2);
		e->driver = col(st, 3);
		e->region = col(st, 4);
		e->address = col(st, 5);
		e->operation = col(st, 6);
		e->resource = col(st, 7);
		e->http_status = sqlite3_column_int(st, 8);
		e->error_code = col(st, 9);
		e->duration_ms = sqlite3_column_int64(st, 10);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		bar_error_set("call log %s: %s", l->path, sqlite3_errmsg(l->db));
		pthread_mutex_unlock(&l->mu);
		bar_calllog_rows_free(out);
		return -1;
	}
	pthread_mutex_unlock(&l->mu);
	return 0;
}

void bar_calllog_rows_free(bar_calllog_rows *r)
{
	for (size_t i = 0; r && i < r->n; i++) {
		bar_call_entry *e = &r->items[i];

		free((char *)e->ns);
		free((char *)e->connection);
		free((char *)e->driver);
		free((char *)e->region);
		free((char *)e->address);
		free((char *)e->operation);
		free((char *)e->resource);
		free((char *)e->error_code);
	}
	if (r) {
		free(r->items);
		r->items = NULL;
		r->n = 0;
	}
}

json_t *bar_call_entry_json(const bar_call_entry *e)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I}", "at_ms",
	                 (json_int_t)e->at_ms, "namespace", nz(e->ns), "connection",
	                 nz(e->connection), "driver", nz(e->driver), "region", nz(e->region),
	                 "address", nz(e->address), "operation", nz(e->operation), "resource",
	                 nz(e->resource), "http_status", e->http_status, "error_code",
	                 nz(e->error_code), "duration_ms", (json_int_t)e->duration_ms);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of n sorted values. */
static int64_t percentile(const int64_t *v, size_t n, int p)
{
	size_t rank = (n * (size_t)p + 99) / 100;

	return n ? v[rank ? rank - 1 : 0] : 0;
}

static int failed(const bar_call_entry *e)
{
	return (e->error_code && *e->error_code) || e->http_status == 0 || e->http_status >= 400;
}

/* Summarise rows[from, to), all of one connection. */
static json_t *summarise(const bar_calllog_rows *r, size_t from, size_t to)
{
	size_t n = to - from, errors = 0, best = 0;
	int64_t *ms = bar_calloc(n ? n : 1, sizeof(*ms));
	json_t *ops = json_object(), *o;
	const char *top = "";

	for (size_t i = from; i < to; i++) {
		const bar_call_entry *e = &r->items[i];
		json_int_t c = json_integer_value(json_object_get(ops, e->operation)) + 1;

		ms[i - from] = e->duration_ms;
		errors += failed(e);
		json_object_set_new(ops, e->operation, json_integer(c));
		if ((size_t)c > best) {
			best = (size_t)c;
			top = e->operation;
		}
	}
	qsort(ms, n, sizeof(*ms), cmp_i64);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:s, s:I}", "namespace",
	              r->items[from].ns, "connection", r->items[from].connection, "driver",
	              r->items[from].driver, "region", r->items[from].region, "calls",
	              (json_int_t)n, "errors", (json_int_t)errors, "error_rate",
	              n ? (double)errors / (double)n : 0.0, "p50_ms",
	              (json_int_t)percentile(ms, n, 50), "p99_ms",
	              (json_int_t)percentile(ms, n, 99), "max_ms",
	              (json_int_t)(n ? ms[n - 1] : 0), "top_operation", top, "last_at_ms",
	              (json_int_t)r->items[to - 1].at_ms);
	json_decref(ops);
	free(ms);
	return o;
}

static int cmp_conn(const void *a, const void *b)
{
	const bar_call_entry *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	if (!c)
		c = strcmp(x->connection, y->connection);
	if (!c)
		c = (x->at_ms > y->at_ms) - (x->at_ms < y->at_ms);
	return c;
}

json_t *bar_calllog_summary(bar_calllog *l, const bar_calllog_filter *f)
{
	bar_calllog_filter all = f ? *f : (bar_calllog_filter){0};
	bar_calllog_rows r;
	json_t *out;
	size_t from = 0;

	all.limit = 0;
	if (bar_calllog_query(l, &all, &r) < 0)
		return NULL;
	if (r.n)
		qsort(r.items, r.n, sizeof(*r.items), cmp_conn);
	out = json_array();
	for (size_t i = 1; i <= r.n; i++)
		if (i == r.n || strcmp(r.items[i].ns, r.items[from].ns) ||
		    strcmp(r.items[i].connection, r.items[from].connection)) {
			json_array_append_new(out, summarise(&r, from, i));
			from = i;
		}
	bar_calllog_rows_free(&r);
	return out;
}
