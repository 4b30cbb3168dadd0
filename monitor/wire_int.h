/*
 * wire_int.h - what wire.c, snappy.c and promtext.c share and nobody else
 * sees: room at the end of a bar_mbuf that a codec writes straight into,
 * so encoding and (un)compressing copy nothing twice.
 */
#ifndef BAR_MONITOR_WIRE_INT_H
#define BAR_MONITOR_WIRE_INT_H

#include "wire.h"

/*
 * Make room for n more bytes (and the NUL after them) at b->p + b->len and
 * return that address; b->len is not moved: the caller writes at most n
 * bytes there, then calls bar_mbuf_commit with how many it wrote.  NULL
 * (and b->failed) when out of memory or over b->max.
 */
char *bar_mbuf_reserve(bar_mbuf *b, size_t n);

/* Take n bytes written after a bar_mbuf_reserve into the buffer. */
static inline void bar_mbuf_commit(bar_mbuf *b, size_t n)
{
	b->len += n;
	b->p[b->len] = '\0';
}

/* The ceiling of a buffer whose max is 0. */
#define BAR_MBUF_DEFAULT_MAX ((size_t)64 << 20)

#endif
