/*
 * yaml_arena.c - the bump allocator behind the YAML node tree and the spec
 * configuration (see yaml_tree.h).
 *
 * Blocks start at 64 KiB and double up to 1 MiB, so a 2 MB spec costs a few
 * dozen mappings; a request larger than a block gets a block of its own.
 * Blocks come straight from mmap: glibc consolidates its fast bins whenever
 * a chunk of 64 KiB or more is malloc'd or freed, and with libyaml's and
 * jansson's many small allocations around, that made freeing a large spec's
 * arenas cost more than building them.  Strings are packed without padding;
 * other allocations are aligned for any type.  Freeing zeroes every block
 * first, because a spec file may carry a secret someone pasted by mistake
 * and the loader reports it without keeping it.
 */
#include "yaml_tree.h"
#include "util.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_FIRST_BLOCK (64u * 1024)
#define ARENA_MAX_BLOCK (1024u * 1024)
#define ARENA_ALIGN alignof(max_align_t)

struct bar_arena_block {
	bar_arena_block *next;
	size_t size;    /* bytes mapped, header included */
	char *used_end; /* how far it was filled (set when it is left) */
	alignas(max_align_t) char data[];
};

static void arena_grow(bar_arena *a, size_t need)
{
	size_t size = a->next_size ? a->next_size : ARENA_FIRST_BLOCK;
	bar_arena_block *b;

	if (size < ARENA_MAX_BLOCK)
		a->next_size = size * 2;
	else
		a->next_size = ARENA_MAX_BLOCK;
	if (need > size - sizeof(*b))
		size = (need + sizeof(*b) + 4095) & ~(size_t)4095;
	b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED) {
		fputs("barista: out of memory\n", stderr);
		abort();
	}
	if (a->head)
		a->head->used_end = a->cur;
	b->size = size;
	b->next = a->head;
	a->head = b;
	a->cur = b->data;
	a->end = (char *)b + size;
}

void *bar_arena_alloc(bar_arena *a, size_t n)
{
	uintptr_t at = ((uintptr_t)a->cur + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
	void *p;

	if (n == 0)
		n = 1;
	if (!a->cur || at > (uintptr_t)a->end || (size_t)((uintptr_t)a->end - at) < n) {
		arena_grow(a, n);
		at = (uintptr_t)a->cur; /* block data is aligned */
	}
	p = (void *)at;
	a->cur = (char *)at + n;
	return p;
}

/* n bytes for string data: packed, no alignment. */
static char *arena_bytes(bar_arena *a, size_t n)
{
	char *p;

	if (!a->cur || (size_t)(a->end - a->cur) < n)
		arena_grow(a, n);
	p = a->cur;
	a->cur += n;
	return p;
}

char *bar_arena_strndup(bar_arena *a, const char *s, size_t n)
{
	char *p = arena_bytes(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *bar_arena_cat(bar_arena *a, const char *s1, const char *s2, const char *s3)
{
	size_t n1 = strlen(s1), n2 = s2 ? strlen(s2) : 0, n3 = s3 ? strlen(s3) : 0;
	char *p = arena_bytes(a, n1 + n2 + n3 + 1);

	memcpy(p, s1, n1);
	memcpy(p + n1, s2 ? s2 : "", n2);
	memcpy(p + n1 + n2, s3 ? s3 : "", n3);
	p[n1 + n2 + n3] = '\0';
	return p;
}

char *bar_arena_strdup(bar_arena *a, const char *s)
{
	return bar_arena_strndup(a, s, strlen(s));
}

char *bar_arena_printf(bar_arena *a, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(small))
		return bar_arena_strndup(a, small, (size_t)n);
	p = bar_arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void bar_arena_free(bar_arena *a)
{
	bar_arena_block *b = a->head;

	if (b)
		b->used_end = a->cur;
	while (b) {
		bar_arena_block *next = b->next;

		/* only what was written: untouched pages would fault in */
		bar_memzero(b->data, (size_t)(b->used_end - b->data));
		munmap(b, b->size);
		b = next;
	}
	a->head = NULL;
	a->cur = a->end = NULL;
	a->next_size = 0;
}
