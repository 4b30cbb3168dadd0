/*
 * state.h - the recorded state: for every resource Barista manages, its
 * address, kind, namespace, provider, IID (name and provider system id), the
 * desired attributes it was applied with and their hash, the attributes the
 * provider last reported, its dependencies and status; the intents of
 * creates in flight; and the apply lock.
 *
 * A bar_state is a handle on a store behind a backend (state_backend.h):
 * a SQLite file (WAL) for a path, later etcd for an "etcd://" URL; callers
 * do not see which.  Every write is its own transaction and bumps `serial`,
 * so a result is stored the moment a resource completes and a saved plan can
 * tell that the state moved since it was made (lineage + serial, as
 * Terraform does).  The lock is a lease with a fencing token: while this
 * handle holds it, a background thread keeps the lease alive, and every write
 * through the handle fails (changing nothing) once another process has taken
 * the lock over.  The schema carries a version; opening an older file
 * migrates it in place.  docs/state.md has the design.
 */
#ifndef BAR_STATE_H
#define BAR_STATE_H

#include "util.h" /* bar_cancel */

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
	char *post;       /* JSON object: what a VM's postCommands did
	                   * ({"exit_code","output","at"}), or NULL */
	int64_t updated;  /* unix time of the last write */
} bar_record;

/* The text members of bar_record, written once (X-macro), for code that
 * treats them alike: freeing them, a backend's columns. */
#define BAR_RECORD_TEXT_FIELDS(X)                                                   \
	X(address) X(type) X(ns) X(name) X(provider) X(connection) X(system_id)     \
	X(status) X(hash) X(desired) X(observed) X(deps) X(refs) X(idem_key)        \
	X(operation) X(taint) X(post)

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
 * Open the state at `location`: a file path (SQLite), or "<scheme>://..."
 * for the backend registered for that scheme ("etcd://" is refused as not
 * built in yet).  Without BAR_STATE_CREATE a missing store is BAR_ENOTFOUND.
 * A newer schema than this binary knows is refused.  On success *out is the
 * caller's (bar_state_free).
 */
int bar_state_open(bar_state **out, const char *location, unsigned flags);
/* Release the lock if held, close the store, free the handle (NULL is fine). */
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
 * Thread-safe.  While this handle holds the lock, the write is fenced: it
 * fails with BAR_ELOCKED, changing nothing, when another process has taken
 * the lock over (so do every write below). */
int bar_state_put(bar_state *st, const bar_record *r);

/* The same, provided the state is still at `expected_serial` (compare and
 * swap): BAR_ESTALE, changing nothing, when it moved. */
int bar_state_put_cas(bar_state *st, const bar_record *r, int64_t expected_serial);

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

/* Who holds the lock, as stored.  Strings owned (bar_lock_info_clear). */
typedef struct bar_lock_info {
	int64_t pid;
	char *host;
	char *user;       /* NULL when the holder did not say (older files) */
	char *operation;  /* "apply", "destroy", "state rm", ... */
	int64_t since;    /* unix time it was taken */
	int64_t expires_ms; /* unix time in ms its lease ends; 0: no lease */
	int64_t token;    /* fencing token: bumped each time the lock is taken */
} bar_lock_info;

void bar_lock_info_clear(bar_lock_info *l);

/* One line naming the holder, for messages: "apply (pid 12 on host, user
 * root, since <UTC>, lease until <UTC>, token 7)", cut to fit `size`. */
void bar_lock_info_format(const bar_lock_info *l, char *buf, size_t size);

typedef struct bar_state_lock_opts {
	unsigned version;
	const char *operation;    /* what the holder does, for messages */
	int64_t timeout_ms;       /* wait this long for the holder to go (polling);
	                           * 0: fail at once */
	int64_t lease_ms;         /* 0: $BARISTA_LOCK_LEASE_MS, else 30 s */
	const bar_cancel *cancel; /* ends a wait early (BAR_ECANCELED); may be NULL */
} bar_state_lock_opts;
#define BAR_STATE_LOCK_OPTS_VERSION 1
#define BAR_STATE_LOCK_OPTS_INIT { .version = BAR_STATE_LOCK_OPTS_VERSION }

/*
 * Take the state's apply lock for this handle.  The lock is a lease of
 * opts->lease_ms, renewed by a background thread every third of it until
 * bar_state_unlock or bar_state_free.  A held lock is taken over when its
 * lease has expired and its holder is on another host, or at once when its
 * holder is a dead process on this host; a live process on this host is
 * never taken over.  Otherwise the call polls until opts->timeout_ms passes
 * and returns BAR_ELOCKED, the message naming the holder (operation, pid,
 * host, user, since, lease end).
 */
int bar_state_lock_ex(bar_state *st, const bar_state_lock_opts *opts);

/* bar_state_lock_ex for `operation` with the default options (no wait). */
int bar_state_lock(bar_state *st, const char *operation);

/* Release this handle's lock (nothing when it holds none, or when the lock
 * was taken over meanwhile) and stop its keepalive. */
void bar_state_unlock(bar_state *st);

/* The lock as stored into *out; BAR_ENOTFOUND when nobody holds it. */
int bar_state_lock_get(bar_state *st, bar_lock_info *out);

/*
 * Remove another process's lock (`barista state unlock`).  Without `force`,
 * refused with BAR_ELOCKED while its holder is alive on this host or its
 * lease has not expired (the message names the holder and when the lease
 * ends).  Removes exactly the lock it looked at: BAR_ECONFLICT when the lock
 * changed meanwhile.  0 also when there was no lock.
 */
int bar_state_break_lock(bar_state *st, int force);
/* bar_state_break_lock without force. */
int bar_state_force_unlock(bar_state *st);

/* The location the handle was opened with (borrowed). */
const char *bar_state_location(bar_state *st);

/* Free the members of one record; clear the whole list. */
void bar_record_clear(bar_record *r);
void bar_records_clear(bar_records *rs);

/* Binary search in a loaded (sorted) list; NULL when absent. */
const bar_record *bar_records_find(const bar_records *rs, const char *address);

#endif
