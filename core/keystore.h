/*
 * keystore.h - where secrets providers hand back (generated private keys)
 * are kept: never in state, plans or logs.  Each secret belongs to a resource
 * address and has a field name ("privateKey").
 *
 * The store sits behind a backend (bar_keystore_backend, the same shape as
 * the state's: a versioned table; docs/state.md).  A location picks it: a
 * directory now (files 0600 in a 0700 directory beside the state,
 * <state>.keys/), an encrypted etcd prefix later.  Callers use the
 * bar_keystore_* functions with that location and never see the backend.
 */
#ifndef BAR_KEYSTORE_H
#define BAR_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

/* One stored secret's name. */
typedef struct bar_keystore_entry {
	char *address;
	char *field;
} bar_keystore_entry;

typedef struct bar_keystore_entries {
	bar_keystore_entry *items;
	size_t n;
} bar_keystore_entries;

void bar_keystore_entries_clear(bar_keystore_entries *l);

#define BAR_KEYSTORE_BACKEND_VERSION 1
#define BAR_KEYSTORE_VALUE_MAX (64 * 1024) /* a longer secret is refused */

/*
 * A key store backend.  `ks` is what open() returned.  Every callback
 * returns 0 or a BAR_E* code with the last error set; *out is written only
 * on success.  A member added after version 1 is used only when BAR_HAS
 * (providers/barista_provider.h) says the table has it.
 */
typedef struct bar_keystore_backend {
	uint32_t struct_size;
	uint32_t version; /* BAR_KEYSTORE_BACKEND_VERSION */
	const char *name; /* "file" */
	int (*open)(void **ks, const char *location);
	void (*close)(void *ks);
	/* Store (replacing) a secret; durable when it returns. */
	int (*put)(void *ks, const char *address, const char *field, const char *value);
	/* The secret into *out (malloc'd; bar_keystore_value_free); BAR_ENOTFOUND. */
	int (*get)(void *ks, const char *address, const char *field, char **out);
	/* Remove every secret of `address` (none is fine), and no other's. */
	int (*remove)(void *ks, const char *address);
	/* Every stored secret's name, sorted by address then field. */
	int (*list)(void *ks, bar_keystore_entries *out);
} bar_keystore_backend;

/* The built-in backend: one file per secret under a directory. */
extern const bar_keystore_backend bar_keystore_file_backend;

/*
 * The secrets at `location` (a key store directory: created 0700 on the
 * first put; files 0600, written to a temporary file, synced and renamed).
 * Each returns 0 or a BAR_E* code with the last error set.
 */
int bar_keystore_put(const char *location, const char *address, const char *field,
                     const char *value);
/* *out is the caller's: free it with bar_keystore_value_free (zeroes it).
 * BAR_ENOTFOUND when there is no such secret. */
int bar_keystore_get(const char *location, const char *address, const char *field,
                     char **out);
/* Remove every secret of an address; an address that is a prefix of another
 * (k1, k10) removes only its own.  Missing secrets are fine; the directory
 * goes once empty. */
int bar_keystore_remove(const char *location, const char *address);
/* Every secret's name (bar_keystore_entries_clear). */
int bar_keystore_list(const char *location, bar_keystore_entries *out);

/* Zero and free a value bar_keystore_get returned (NULL is fine). */
void bar_keystore_value_free(char *value);

/*
 * File backend only: the path of one secret, for programs that hand a key
 * file to ssh (exec, cp): <dir>/<address with '/' as '.'>.<field>.  Malloc'd.
 */
char *bar_keystore_path(const char *dir, const char *address, const char *field);

#endif
