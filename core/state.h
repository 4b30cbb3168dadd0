/*
 * state.h - the recorded state: one SQLite file (WAL) holding, for every
 * resource Barista manages, its address, kind, namespace, provider, IID (name
 * and provider system id), the desired attributes it was applied with and
 * their hash, the attributes the provider last reported, its dependencies and
 * status.
 *
 * Every write is its own transaction and bumps `serial`, so a result is on
 * disk the moment a resource completes and a saved plan can tell that the
 * state moved since it was made (lineage + serial, as Terraform does).  The
 * schema carries a version; opening an older file migrates it in place.
 */
#ifndef BAR_STATE_H
#define BAR_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bar_state bar_state;

/* One recorded resource.  All strings are owned by the record. */
typedef struct bar_record {
	char *address;    /* "default/vm/web-seoul-1" */
	char *type;       /* "vm", "vnet", "mci", "connection", ... */
	char *ns;         /* namespace */
	char *name;       /* name id */
	char *provider;   /* driver ("local"); NULL for logical records */
	char *connection; /* connection name; NULL for logical records */
	char *system_id;  /* provider's id; NULL for logical records */
	char *status;     /* "Running", "Available", "Recorded", ... */
	char *hash;       /* hash of the desired attributes applied */
	char *desired;    /* JSON object text: desired attributes applied */
	char *observed;   /* JSON object text: attributes last observed, or NULL */
	char *deps;       /* JSON array text of addresses it depends on */
	char *refs;       /* JSON object text: role -> address(es) */
	char *idem_key;   /* idempotency key of the create that made it */
	char *operation;  /* token of a long-running operation still to poll */
	char *taint;      /* why the resource must be replaced (a create that
	                   * made something, then failed), or NULL */
	int64_t updated;  /* unix time of the last write */
} bar_record;

/*
 * An intent: written before a create is sent, removed (in the same
 * transaction as the record) once its result is recorded.  One left behind
 * means the run died between the two; the next plan looks for what the
 * idempotency key made (by tag) before creating anything.
 */
typedef struct bar_intent {
	char *address;
	char *type;
	char *connection;
	char *idem_key;
	int64_t started; /* unix time */
} bar_intent;

typedef struct bar_intents {
	bar_intent *items;
	size_t n;
} bar_intents;

typedef struct bar_records {
	bar_record *items;
	size_t n;
} bar_records;

#define BAR_STATE_CREATE 0x1   /* create the file when missing */
#define BAR_STATE_READONLY 0x2 /* never write (plan, show) */

/*
 * Open the state file at `path`.  Without BAR_STATE_CREATE a missing file is
 * BAR_ENOTFOUND.  A newer schema than this binary knows is refused.
 * On success *out is the caller's (bar_state_free).
 */
int bar_state_open(bar_state **out, const char *path, unsigned flags);
void bar_state_free(bar_state *st);

/* The file's lineage (a random id made when the file was created; borrowed,
 * never NULL) and its serial (read fresh from the file; every write bumps it). */
const char *bar_state_lineage(bar_state *st);
int bar_state_serial(bar_state *st, int64_t *out);

/* Read every record, sorted by address, into *out (bar_records_clear). */
int bar_state_load(bar_state *st, bar_records *out);

/* Read one record; BAR_ENOTFOUND when absent.  *out is the caller's
 * (bar_record_clear). */
int bar_state_get(bar_state *st, const char *address, bar_record *out);

/* Insert or replace a record, bumping serial, in one transaction.
 * Thread-safe. */
int bar_state_put(bar_state *st, const bar_record *r);

/* Remove a record (absent is fine), bumping serial.  Thread-safe. */
int bar_state_delete(bar_state *st, const char *address);

/* Write an intent (replacing one for the same address).  Thread-safe. */
int bar_state_intent_put(bar_state *st, const bar_intent *in);
/* Remove the intent of an address (absent is fine). */
int bar_state_intent_delete(bar_state *st, const char *address);
/* Every open intent, sorted by address (bar_intents_clear). */
int bar_state_intents(bar_state *st, bar_intents *out);
/* The open intent of one address: 0, or BAR_ENOTFOUND. */
int bar_state_intent_get(bar_state *st, const char *address, bar_intent *out);
void bar_intent_clear(bar_intent *in);
void bar_intents_clear(bar_intents *l);

/* Take the state's apply lock for this process; BAR_ELOCKED (message names
 * the holder: pid, host, since) when a live process holds it.  A lock left by
 * a dead process on this host is taken over. */
int bar_state_lock(bar_state *st, const char *operation);
void bar_state_unlock(bar_state *st);
/* Remove any lock, whoever holds it (`barista state unlock`). */
int bar_state_force_unlock(bar_state *st);

/* Free the members of one record; clear the whole list. */
void bar_record_clear(bar_record *r);
void bar_records_clear(bar_records *rs);

/* Binary search in a loaded (sorted) list; NULL when absent. */
const bar_record *bar_records_find(const bar_records *rs, const char *address);

#endif
