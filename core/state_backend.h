/*
 * state_backend.h - the interface a state store implements (SQLite now, in
 * core/state_sqlite.c; etcd later).  Callers never see it: they use the
 * bar_state_* functions of state.h, and core/state.c turns those into calls
 * on the backend that bar_state_open picked for the location.
 *
 * The shape is libgit2's refdb backend (include/git2/sys/refdb_backend.h):
 * a versioned table of callbacks whose writes are compare-and-swap.  Every
 * write carries a bar_state_cond: the serial the caller expects the store to
 * be at (BAR_STATE_ANY: no expectation) and the fencing token of the lock the
 * caller holds (0: none).  The backend checks both in the same transaction
 * as the write and changes nothing when either fails.  Policy (who may take
 * a lock over, leases, keepalive, waiting) lives in core/state.c; a backend
 * only provides atomic primitives, so an etcd backend is transactions with
 * compares and nothing more.  docs/state.md has the design.
 *
 * Compatibility: the table starts with struct_size and version; it only grows
 * at the end; a member added after version 1 is read only when BAR_HAS says
 * the table covers it and it is set (providers/barista_provider.h).
 */
#ifndef BAR_STATE_BACKEND_H
#define BAR_STATE_BACKEND_H

#include "barista_provider.h" /* BAR_HAS, BAR_COVERS, the BAR_E* codes */
#include "state.h"

#include <stdint.h>

#define BAR_STATE_BACKEND_VERSION 1

/* No expected serial: the write does not compare it. */
#define BAR_STATE_ANY (-1)

/* What a write requires of the store, checked atomically with it. */
typedef struct bar_state_cond {
	int64_t serial; /* the serial the store must be at; BAR_STATE_ANY: any */
	int64_t token;  /* the lock must carry this fencing token; 0: no check */
} bar_state_cond;

/* The store's identity and version. */
typedef struct bar_state_meta {
	char lineage[40]; /* random id made with the store */
	int64_t serial;   /* bumped by every write of records or intents (not by
	                   * the lock: taking it must not make a saved plan stale) */
} bar_state_meta;

/*
 * A backend.  `be` is what open() returned.  Every callback returns 0 or a
 * BAR_E* code with the last error set (messages name the location).  Reads
 * fill *out only on success.  Writes bump the serial and fail, changing
 * nothing, with BAR_ESTALE when cond->serial is not the store's serial and
 * BAR_ELOCKED ("lock was taken over by ...") when cond->token is set and the
 * lock does not carry it.  put and del also settle the open intent of the
 * address (the record is the create's result).  Callbacks may be called
 * from several threads at once.
 */
typedef struct bar_state_backend {
	uint32_t struct_size; /* sizeof(bar_state_backend) of the backend's build */
	uint32_t version;     /* BAR_STATE_BACKEND_VERSION */
	const char *name;     /* "sqlite", for messages */
	const char *scheme;   /* locations "<scheme>://..." it serves; NULL: plain
	                       * paths (the default backend) */

	/* Open or create (BAR_STATE_CREATE) the store; BAR_ENOTFOUND when it
	 * does not exist and may not be created.  Migrates an older schema
	 * unless BAR_STATE_READONLY. */
	int (*open)(void **be, const char *location, unsigned flags);
	void (*close)(void *be);
	int (*meta)(void *be, bar_state_meta *out);

	int (*load)(void *be, bar_records *out);                 /* sorted by address */
	int (*get)(void *be, const char *address, bar_record *out); /* BAR_ENOTFOUND */
	int (*put)(void *be, const bar_record *r, const bar_state_cond *cond);
	int (*del)(void *be, const char *address, const bar_state_cond *cond);

	int (*intent_put)(void *be, const bar_intent *in, const bar_state_cond *cond);
	int (*intent_get)(void *be, const char *address, bar_intent *out); /* BAR_ENOTFOUND */
	int (*intent_list)(void *be, bar_intents *out);          /* sorted by address */
	int (*intent_del)(void *be, const char *address, const bar_state_cond *cond);

	/* The lock as stored; BAR_ENOTFOUND when nobody holds it. */
	int (*lock_info)(void *be, bar_lock_info *out);
	/* Take the lock for `want` (pid, host, user, operation, since,
	 * expires_ms; its token is ignored) provided the lock now carries token
	 * `expect` (0: nobody holds it).  The new token is one more than any
	 * token the store ever gave out; it is stored with the lock and into
	 * *token.  BAR_ECONFLICT when the lock is not as expected. */
	int (*lock)(void *be, const bar_lock_info *want, int64_t expect, int64_t *token);
	/* Remove the lock if it carries `token`; BAR_ENOTFOUND when it does not
	 * (taken over or removed already).  Also `state unlock`: with the token
	 * lock_info showed, so a lock taken since is never removed by mistake. */
	int (*unlock)(void *be, int64_t token);
	/* Optional (NULL: leases never expire): move the lease of the lock
	 * carrying `token` to end at expires_ms; BAR_ELOCKED when it no longer
	 * carries it. */
	int (*refresh)(void *be, int64_t token, int64_t expires_ms);
} bar_state_backend;

/* The built-in SQLite backend (core/state_sqlite.c). */
extern const bar_state_backend bar_state_sqlite_backend;

/*
 * Make a backend available to bar_state_open for its scheme (process-wide;
 * the table is borrowed and must stay valid).  Refused, naming the backend:
 * an unknown version, a table too small for version 1, a required callback
 * missing, a scheme already served.  Returns 0 or BAR_EINVALID/BAR_ECONFLICT.
 */
int bar_state_backend_register(const bar_state_backend *b);

#endif
