/*
 * yaml_tree.h - a compact YAML node tree built from libyaml's event API, and the
 * bump allocator (arena) that holds it.
 *
 * The spec loader needs only three shapes (mapping, sequence, scalar), each
 * with its 1-based line and column, and for scalars whether they were written
 * plain or quoted (a quoted `"3"` is a string, a plain `3` an integer).  The
 * tree is built straight from parser events into an arena, so a whole file
 * costs a handful of large allocations instead of one per node; it is freed
 * in one go.  Anchors, aliases, tags other than !!str, non-scalar keys and
 * duplicate keys are reported as errors: specs are plain data.
 *
 * Collections nest at most BAR_YAML_MAX_DEPTH deep; deeper input is reported
 * as an error at the collection that exceeds it, and the parse ends there.
 *
 * A file that does not parse is not a failure of bar_yaml_parse(): the result
 * carries the documents read completely before the problem and a list of
 * errors with their positions, so the caller can report them with the rest.
 */

#ifndef BAR_YAML_H
#define BAR_YAML_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---------------------------------------------------------- */

typedef struct bar_arena_block bar_arena_block;

/* A bump allocator: allocations live until bar_arena_free(). */
typedef struct bar_arena {
	bar_arena_block *head;
	char *cur;
	char *end;
	size_t next_size; /* size of the next block */
} bar_arena;
#define BAR_ARENA_INIT { NULL, NULL, NULL, 0 }

/* Allocate n bytes aligned for any scalar type.  Never fails (aborts on
 * out-of-memory like bar_malloc).  The memory is not zeroed. */
void *bar_arena_alloc(bar_arena *a, size_t n);

/* Copy s[0..n) into the arena and NUL-terminate it. */
char *bar_arena_strndup(bar_arena *a, const char *s, size_t n);
char *bar_arena_strdup(bar_arena *a, const char *s);

/* Concatenate s1, s2 and s3 (s2, s3 may be NULL) into the arena. */
char *bar_arena_cat(bar_arena *a, const char *s1, const char *s2, const char *s3);

/* printf into the arena. */
char *bar_arena_printf(bar_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Zero and unmap every block (spec files may hold secrets by mistake); the
 * arena is empty and reusable afterwards.  Accepts an empty arena. */
void bar_arena_free(bar_arena *a);

/* ---- node tree ------------------------------------------------------ */

/* How deeply mappings and sequences may nest (a spec needs about eight). */
#define BAR_YAML_MAX_DEPTH 64

typedef enum bar_ytype {
	BAR_Y_SCALAR = 0,
	BAR_Y_MAP,
	BAR_Y_SEQ,
} bar_ytype;

typedef struct bar_ynode bar_ynode;

/* One node.  A mapping's `kv` holds 2*n nodes: key, value, key, value...
 * in source order (keys are always scalars); a sequence's `items` holds n
 * nodes.  Children are stored by value, contiguously. */
struct bar_ynode {
	uint8_t type;   /* bar_ytype */
	uint8_t quoted; /* scalar written quoted or as a block (|, >) or with !!str */
	uint32_t n;     /* scalar: byte length; map: pairs; seq: items */
	int32_t line;   /* 1-based */
	int32_t col;    /* 1-based */
	union {
		const char *str; /* scalar text, NUL-terminated, no embedded NUL */
		const bar_ynode *kv;
		const bar_ynode *items;
	} u;
};

/* One document of a stream. */
typedef struct bar_ydoc {
	const bar_ynode *root;
	int line; /* where the document starts */
	int col;
	int bad;  /* an error was reported inside it: do not interpret it */
} bar_ydoc;

/* One problem found while parsing; message has no location prefix. */
typedef struct bar_yaml_error {
	int line;
	int col;
	const char *message;
} bar_yaml_error;

typedef struct bar_yaml bar_yaml;

/*
 * Parse `len` bytes of YAML (one or more documents).  Empty documents are
 * skipped.  Returns 0 and sets *out to the result (free with bar_yaml_free):
 * documents read, and errors found (syntax errors and nesting deeper than
 * BAR_YAML_MAX_DEPTH stop the parse; the documents completed before it are
 * kept).  Returns -1 (error set) only when libyaml cannot be initialised.
 * `data` need not be NUL-terminated and is not referenced after the call.
 */
int bar_yaml_parse(bar_yaml **out, const char *data, size_t len);

/* Free a parse result and zero its memory; accepts NULL. */
void bar_yaml_free(bar_yaml *y);

/* Documents and errors of a parse result (borrowed from it). */
size_t bar_yaml_doc_count(const bar_yaml *y);
const bar_ydoc *bar_yaml_doc(const bar_yaml *y, size_t i);
size_t bar_yaml_error_count(const bar_yaml *y);
const bar_yaml_error *bar_yaml_error_get(const bar_yaml *y, size_t i);

/* The value of `key` in mapping `map`, or NULL (also when map is NULL or not
 * a mapping).  Linear: mappings in specs are small. */
const bar_ynode *bar_ymap_get(const bar_ynode *map, const char *key);

/* Plain-scalar resolution (YAML 1.2 core schema; quoted scalars are always
 * strings, so these return false / -1 for them). */
int bar_ynode_is_null(const bar_ynode *n); /* absent, ~, null, empty */
int bar_ynode_is_bool(const bar_ynode *n, int *value);
/* A plain decimal integer (optional sign).  Returns 0 and sets *value, -1
 * if the node is not one, -2 if it is one but does not fit in int64. */
int bar_ynode_int(const bar_ynode *n, int64_t *value);
/* An integer or decimal floating-point number (no inf/nan).  0 or -1. */
int bar_ynode_number(const bar_ynode *n, double *value);

#endif
