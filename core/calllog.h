/*
 * calllog.h - the call log: every request a provider made to its cloud
 * (CB-Spider's call history), kept in an SQLite file beside the state
 * (`<state>.calls`), so that `barista calls` can say what each connection
 * asked of its cloud, how long it took and what failed.
 *
 * Providers report calls through the ABI's host->record_call; the host
 * (core/host.c) adds the time, namespace, connection, driver, region and
 * address and hands them here.  Nothing secret is in a record: providers
 * name operations, never URLs, headers or bodies.
 *
 * The file is bounded: once it holds more than `max_rows` records the
 * oldest tenth is removed.  Writes are one short transaction per record
 * (WAL, synchronous=NORMAL), so a killed run keeps every call it made.
 */
#ifndef BAR_CALLLOG_H
#define BAR_CALLLOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bar_calllog bar_calllog;

/* One record, as written and as read (strings borrowed when writing, owned
 * by the bar_calllog_rows when read). */
typedef struct bar_call_entry {
	int64_t at_ms;          /* wall-clock ms since the epoch when it ended */
	const char *ns;
	const char *connection;
	const char *driver;
	const char *region;
	const char *address;    /* the Barista address the call was for, "" for list */
	const char *operation;  /* the API's own operation name */
	const char *resource;   /* the cloud id, "" when none */
	int http_status;        /* 0: no answer */
	const char *error_code; /* the cloud's code, "" on success */
	int64_t duration_ms;
} bar_call_entry;

#define BAR_CALLLOG_DEFAULT_MAX 100000

/*
 * Open (creating when missing) the call log at `path`, keeping at most
 * max_rows records (0: BAR_CALLLOG_DEFAULT_MAX).  Returns 0 with *out, or -1
 * with the last error set.  Thread-safe once open.
 */
int bar_calllog_open(bar_calllog **out, const char *path, size_t max_rows);

/* Open an existing call log for reading; BAR_ENOTFOUND when there is none. */
int bar_calllog_open_ro(bar_calllog **out, const char *path);
void bar_calllog_close(bar_calllog *l);

/* The call log's path beside a state file.  Caller frees. */
char *bar_calllog_path(const char *state_path);

/* Record one call; a failure to write is counted (bar_calllog_dropped) but
 * never fails the operation that made the call. */
void bar_calllog_add(bar_calllog *l, const bar_call_entry *e);
/* Records that could not be written since open. */
long bar_calllog_dropped(const bar_calllog *l);

/* What to read. */
typedef struct bar_calllog_filter {
	int64_t since_ms;       /* records at or after this wall-clock ms; 0: all */
	const char *connection; /* only this connection ("ns/name" or "name"); NULL: all */
	int errors_only;        /* only calls that failed (an error code or no answer) */
	size_t limit;           /* the newest `limit`; 0: all */
} bar_calllog_filter;

typedef struct bar_calllog_rows {
	bar_call_entry *items; /* oldest first */
	size_t n;
} bar_calllog_rows;

/* Read records matching f into *out (the caller frees it with
 * bar_calllog_rows_free).  Returns 0 or -1 with the last error set. */
int bar_calllog_query(bar_calllog *l, const bar_calllog_filter *f, bar_calllog_rows *out);
void bar_calllog_rows_free(bar_calllog_rows *r);

/* Per connection: calls, errors, error rate, p50/p99/max latency and the
 * most frequent operation, over the records f selects (its limit ignored).
 * Returns a new JSON array of objects sorted by connection, or NULL with
 * the last error set. */
json_t *bar_calllog_summary(bar_calllog *l, const bar_calllog_filter *f);

/* A record as a JSON object (new reference). */
json_t *bar_call_entry_json(const bar_call_entry *e);

#endif
