/*
 * json.h - JSON helpers on top of jansson: a canonical serialisation used to
 * hash desired attributes (compact, keys sorted, written into a reusable
 * buffer without per-object allocations).
 */
#ifndef BAR_JSON_H
#define BAR_JSON_H

#include "util.h"

#include <jansson.h>
#include <stdint.h>

/* Append the canonical form of `j` to `b`: compact, object keys sorted by
 * byte value, strings escaped as JSON requires.  Returns 0, or -1 when `b`
 * would pass its maximum. */
int bar_json_canon(bar_buf *b, const json_t *j);

/* Append one JSON string (quoted and escaped) of n bytes. */
int bar_json_canon_string(bar_buf *b, const char *s, size_t n);

/* 64-bit hash of the canonical form, as 16 lower-case hex digits + NUL.
 * `scratch` (may be NULL) is a buffer to reuse across calls. */
void bar_json_hash(const json_t *j, bar_buf *scratch, char out[17]);

#endif
