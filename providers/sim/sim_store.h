/*
 * sim_store.h - the sim provider's resource store: an append-only log file
 * with an in-memory index, shared by every connection (and every process)
 * that names the same file.  Internal to the sim plugin.
 *
 * The file holds one record per line, tab-separated, never JSON-parsed on
 * load (see docs/sim-provider.md):
 *   P <type> <region> <system_id> <name> <status> <attrs-json> <tags-json>
 *   D <type> <region> <system_id>
 *   S <sequence>          (high-water mark of the id counter, at compaction)
 * A later P for the same (region, system_id) replaces the earlier one; a D
 * removes it.  Writers append a whole line with one write() under
 * flock(LOCK_EX); readers notice other processes' appends by the file's size
 * and its replacement (by compaction) by the inode, and read only what is
 * new.
 *
 * Locking: a store has one mutex.  sim_store_begin() takes it (and for
 * writing, the file lock) and brings the index up to date with the file;
 * everything between begin and end sees a consistent index; sim_store_end()
 * compacts if due and lets go.  Records returned are valid until end.
 */
#ifndef SIM_STORE_H
#define SIM_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_store sim_store;
typedef struct sim_arena sim_arena;

/* One live resource.  All fields are NUL-terminated and point into the
 * text of its log line: in the arena it was loaded into, or in text[]. */
typedef struct sim_rec {
	struct sim_rec *hnext;       /* hash chain */
	struct sim_rec *prev, *next; /* file order */
	uint64_t hash;
	sim_arena *arena;            /* NULL: the line is in text[] */
	const char *type, *region, *system_id, *name, *status, *attrs, *tags;
	char text[];
} sim_rec;

/* A message for the caller to pass to host->set_error. */
typedef struct sim_err {
	char msg[512];
} sim_err;

/* Open (creating it if missing, mode 0600) and load the store at path.
 * Returns 0 and *out, or -1 with err set. */
int sim_store_open(sim_store **out, const char *path, sim_err *err);

/* Close the file and free the index.  Accepts NULL. */
void sim_store_free(sim_store *st);

/* The path the store was opened with (borrowed). */
const char *sim_store_path(const sim_store *st);

/* Start a transaction: lock the store and catch up with the file.  With
 * `write`, also hold the file lock until sim_store_end so that a lookup, a
 * decision and an append are atomic across processes.  Returns 0, or -1 with
 * err set and nothing held. */
int sim_store_begin(sim_store *st, int write, sim_err *err);

/* End the transaction; compacts the file first when dead lines outnumber
 * live ones (only in a write transaction). */
void sim_store_end(sim_store *st);

/* Look up a live record; NULL if there is none.  Inside a transaction. */
sim_rec *sim_store_find(sim_store *st, const char *region, const char *system_id);

/* Iterate live records in file order: first(st), then next(rec). */
sim_rec *sim_store_first(sim_store *st);
#define sim_store_next(rec) ((rec)->next)

/* Take the next number of the id counter (unique for the file's life).
 * Inside a write transaction. */
uint64_t sim_store_next_seq(sim_store *st);

/* Append a P line and index it.  Fields must not contain tabs or newlines.
 * Inside a write transaction.  Returns the new record (valid until end), or
 * NULL with err set. */
sim_rec *sim_store_put(sim_store *st, const char *type, const char *region,
                       const char *system_id, const char *name, const char *status,
                       const char *attrs, const char *tags, sim_err *err);

/* Append a D line for rec and drop it.  Inside a write transaction.
 * Returns 0, or -1 with err set (rec is then still live). */
int sim_store_delete(sim_store *st, sim_rec *rec, sim_err *err);

/* Count a call in flight for region against limit (0: no limit).  Returns 0
 * if admitted (pair it with sim_store_leave), -1 if the limit is reached. */
int sim_store_enter(sim_store *st, const char *region, int limit);
void sim_store_leave(sim_store *st, const char *region);

#endif
