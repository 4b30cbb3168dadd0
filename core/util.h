/*
 * util.h - small helpers shared by every part of Barista: checked
 * allocation, a bounded growable buffer, monotonic time, a string hash and
 * natural string order.
 */
#ifndef BAR_UTIL_H
#define BAR_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/realloc/strdup that abort on out-of-memory: a reconciler that
 * runs out of memory cannot keep its promises about state anyway. */
void *bar_malloc(size_t n);
void *bar_calloc(size_t n, size_t size);
void *bar_realloc(void *p, size_t n);
char *bar_strdup(const char *s);
char *bar_strndup(const char *s, size_t n);
/* printf into a new malloc'd string. */
char *bar_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer with a hard maximum (curl's dynbuf). */
typedef struct bar_buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max; /* 0: no limit */
} bar_buf;
#define BAR_BUF_INIT(maxsize) { NULL, 0, 0, (maxsize) }

/* Append; returns 0, or -1 (error set) when the maximum would be passed. */
int bar_buf_add(bar_buf *b, const void *data, size_t n);
int bar_buf_puts(bar_buf *b, const char *s);
int bar_buf_printf(bar_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take the contents (caller frees) and reset the buffer. */
char *bar_buf_take(bar_buf *b);
void bar_buf_free(bar_buf *b);

/* CLOCK_MONOTONIC in milliseconds / seconds. */
int64_t bar_now_ms(void);
double bar_now_s(void);

/* A fast 64-bit non-cryptographic hash (8 bytes per step, MurmurHash3's
 * finaliser as mixer), for change detection and hash tables. */
uint64_t bar_hash64(const void *data, size_t n, uint64_t seed);
#define BAR_HASH64_SEED 0xcbf29ce484222325ULL

/* strcmp, except that runs of digits compare by their value ("web-2" before
 * "web-10"; equal values: fewer leading zeros first).  <0, 0 or >0. */
int bar_strnatcmp(const char *a, const char *b);

/* Overwrite memory holding a secret before it is freed. */
void bar_memzero(void *p, size_t n);


/* Open-addressing hash map from string keys (borrowed, must outlive the map)
 * to pointers.  Grows as needed; no deletion. */
typedef struct bar_map {
	const char **keys;
	void **vals;
	size_t cap; /* power of two */
	size_t n;
} bar_map;

void bar_map_init(bar_map *m, size_t expected);
void bar_map_free(bar_map *m);
/* Insert or replace. */
void bar_map_put(bar_map *m, const char *key, void *val);
/* The value for key, or NULL. */
void *bar_map_get(const bar_map *m, const char *key);

#endif
