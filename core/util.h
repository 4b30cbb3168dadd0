/*
 * util.h - small helpers shared by every part of Barista: checked
 * allocation, a bounded growable buffer, monotonic time, a string hash and
 * natural string order.
 */
#ifndef BAR_UTIL_H
#define BAR_UTIL_H

#include <stdatomic.h>
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
/* CLOCK_REALTIME in milliseconds since the epoch (for records people read). */
int64_t bar_wall_ms(void);
double bar_now_s(void);

/* A fast 64-bit non-cryptographic hash (8 bytes per step, MurmurHash3's
 * finaliser as mixer), for change detection and hash tables. */
uint64_t bar_hash64(const void *data, size_t n, uint64_t seed);
#define BAR_HASH64_SEED 0xcbf29ce484222325ULL

/*
 * A cancellation token (the only thing a signal handler touches): `stop`
 * asks that nothing new be started, `cancel` that in-flight work be given up.
 * Both are atomics, so a handler may set them and any thread may read them
 * (a `volatile int` shared with a handler is a data race).  A NULL token is
 * never set.
 */
typedef struct bar_cancel {
	atomic_int stop;
	atomic_int cancel;
} bar_cancel;
#define BAR_CANCEL_INIT { 0, 0 }

static inline int bar_cancel_stopping(const bar_cancel *c)
{
	return c && (atomic_load(&c->stop) || atomic_load(&c->cancel));
}
static inline int bar_cancel_cancelled(const bar_cancel *c)
{
	return c && atomic_load(&c->cancel);
}

/*
 * Sleep `ms` milliseconds, but no later than `deadline_ms` (CLOCK_MONOTONIC,
 * 0: none), waking within 20 ms of the token being cancelled.  Returns 0
 * after a full sleep, BAR_ECANCELED when cancelled, BAR_ETIMEOUT when the
 * deadline cut it short.
 */
int bar_sleep_ms(int64_t ms, int64_t deadline_ms, const bar_cancel *c);

/* A random RFC 4122 version-4 UUID, lowercase, into out (37 bytes). */
void bar_uuid(char out[37]);

/* Levenshtein distance of two strings of at most 64 bytes (SIZE_MAX for
 * longer ones), for "did you mean" hints. */
size_t bar_edit_distance(const char *a, const char *b);

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
