/*
 * kit_json.h - a fast read-only JSON reader for the cloud drivers' big
 * answers (list pages of a thousand VMs, a few MB each).
 *
 * jansson builds a tree of separately allocated values through a
 * character-at-a-time lexer, about 30 MB/s here: parsing a page took longer
 * than the cloud double took to serve it.  This reader makes one pass over
 * a private copy of the text, unescapes strings in place and records every
 * value as a node in one array, so a page costs two allocations and the
 * parse runs at several hundred MB/s.  It accepts exactly what jansson's
 * json_loadb(..., 0, ...) accepts (RFC 8259; a top-level object or array;
 * valid UTF-8; no \u0000; integers that fit json_int_t; reals that do not
 * overflow; depth at most 2048) and yields the same values, duplicate keys
 * included (the last one wins): tests/fuzz/fuzz_kit_json.c holds the two
 * parsers to that on every input it finds.  One difference is deliberate:
 * any NUL byte in the text is refused (jansson drops one that follows a
 * number).
 *
 * Nodes are ints: the root is 0, -1 is "none", and every accessor takes -1
 * (and nodes of the wrong type) quietly, returning the "absent" answer, so
 * lookups chain: bar_kit_jstr(d, bar_kit_jget(d, bar_kit_jget(d, 0, "a"), "b")).
 * A document is immutable once parsed and may be read from many threads.
 */
#ifndef BAR_KIT_JSON_H
#define BAR_KIT_JSON_H

#include <jansson.h>
#include <stddef.h>

typedef struct bar_kit_jdoc bar_kit_jdoc;

enum {
	BAR_KIT_JNONE = 0, /* node -1 */
	BAR_KIT_JNULL,
	BAR_KIT_JFALSE,
	BAR_KIT_JTRUE,
	BAR_KIT_JINT,
	BAR_KIT_JREAL,
	BAR_KIT_JSTRING,
	BAR_KIT_JARRAY,
	BAR_KIT_JOBJECT,
};

/*
 * Parse len bytes of text.  Returns 0 with *out (free with bar_kit_jfree),
 * or -1 with why[size] saying what is wrong and at which byte offset
 * ("byte 1041: ',' or '}' expected").  The text is copied; the caller keeps
 * it.
 */
int bar_kit_jparse(bar_kit_jdoc **out, const char *text, size_t len, char *why, size_t size);

/* Free a document; accepts NULL. */
void bar_kit_jfree(bar_kit_jdoc *d);

/* The type of node n (BAR_KIT_JNONE for -1). */
int bar_kit_jtype(const bar_kit_jdoc *d, int n);

/* n when node n is an object (bar_kit_jobject) or an array
 * (bar_kit_jarray), else -1: what an answer should hold is iterated
 * through these, so a hostile answer's array where an object belongs
 * (whose values have no keys) iterates as nothing. */
int bar_kit_jobject(const bar_kit_jdoc *d, int n);
int bar_kit_jarray(const bar_kit_jdoc *d, int n);

/* The value of key in object n, or -1 (n not an object, key absent). */
int bar_kit_jget(const bar_kit_jdoc *d, int n, const char *key);

/* Element i of array n, or -1. */
int bar_kit_jat(const bar_kit_jdoc *d, int n, size_t i);

/*
 * Iteration over an array's elements or an object's values:
 *   for (v = bar_kit_jfirst(d, n); v >= 0; v = bar_kit_jnext(d, n, v))
 * bar_kit_jkey gives the key of an object's value v.
 */
int bar_kit_jfirst(const bar_kit_jdoc *d, int n);
int bar_kit_jnext(const bar_kit_jdoc *d, int n, int v);
const char *bar_kit_jkey(const bar_kit_jdoc *d, int v);

/* Elements of an array, members of an object, bytes of a string; 0 else. */
size_t bar_kit_jlen(const bar_kit_jdoc *d, int n);

/* The string at n (NUL-terminated, borrowed from d), or NULL when n is not
 * a string.  bar_kit_jsv gives "" instead of NULL. */
const char *bar_kit_jstr(const bar_kit_jdoc *d, int n);
const char *bar_kit_jsv(const bar_kit_jdoc *d, int n);

/* The number at n: an integer (0 when n is not one), a real (an integer
 * converted, or 0). */
json_int_t bar_kit_jint(const bar_kit_jdoc *d, int n);
double bar_kit_jreal(const bar_kit_jdoc *d, int n);

/* 1 for true, 0 else. */
int bar_kit_jtrue(const bar_kit_jdoc *d, int n);

/* The subtree at n as a new jansson value (NULL for -1 or no memory), for
 * what is kept or re-emitted whole. */
json_t *bar_kit_jjson(const bar_kit_jdoc *d, int n);

#endif
