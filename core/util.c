/*
 * util.c - allocation, bounded buffers, time, hashing and natural string order
 * (see util.h).
 */
#include "util.h"
#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	fputs("barista: out of memory\n", stderr);
	abort();
}

void *bar_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *bar_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *bar_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom();
	return q;
}

char *bar_strdup(const char *s)
{
	return s ? bar_strndup(s, strlen(s)) : NULL;
}

char *bar_strndup(const char *s, size_t n)
{
	char *p;

	n = strnlen(s, n);
	p = bar_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *bar_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

int bar_buf_add(bar_buf *b, const void *data, size_t n)
{
	if (b->max && b->len + n > b->max)
		return bar_error_set("output larger than the %zu-byte limit", b->max);
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = bar_realloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int bar_buf_puts(bar_buf *b, const char *s)
{
	return bar_buf_add(b, s, strlen(s));
}

int bar_buf_printf(bar_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	rc = bar_buf_puts(b, s);
	free(s);
	return rc;
}

char *bar_buf_take(bar_buf *b)
{
	char *s = b->data ? b->data : bar_strdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void bar_buf_free(bar_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int64_t bar_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bar_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double bar_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The 64-bit finaliser of MurmurHash3: every input bit affects every
 * output bit. */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t bar_hash64(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	size_t i = 0;

	/* Eight bytes a step: planning hashes megabytes of canonical JSON. */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
	}
	if (i < n) {
		uint64_t w = 0;

		memcpy(&w, p + i, n - i);
		h = mix64(h ^ w ^ ((uint64_t)(n - i) << 56));
	}
	return mix64(h);
}

size_t bar_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

void bar_uuid(char out[37])
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* no entropy source: still unique within this process and time */
		static atomic_uint counter;
		uint64_t a = bar_hash64(&counter, sizeof(counter), (uint64_t)bar_now_ms());
		uint64_t b = bar_hash64(&a, sizeof(a), (uint64_t)getpid() ^ atomic_fetch_add(&counter, 1));

		memcpy(r, &a, 8);
		memcpy(r + 8, &b, 8);
	}
	r[6] = (r[6] & 0x0f) | 0x40; /* version 4 */
	r[8] = (r[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, 37,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
	         r[12], r[13], r[14], r[15]);
}

int bar_sleep_ms(int64_t ms, int64_t deadline_ms, const bar_cancel *c)
{
	int64_t end = bar_now_ms() + (ms > 0 ? ms : 0);

	if (deadline_ms && deadline_ms < end)
		end = deadline_ms;
	for (;;) {
		int64_t left = end - bar_now_ms();
		struct timespec ts;

		if (bar_cancel_cancelled(c))
			return BAR_ECANCELED;
		if (left <= 0)
			break;
		if (left > 20)
			left = 20;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
	return deadline_ms && end == deadline_ms && bar_now_ms() >= deadline_ms ? BAR_ETIMEOUT : 0;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int bar_strnatcmp(const char *a, const char *b)
{
	while (*a && *b) {
		const char *x = a, *y = b;
		size_t nx = 0, ny = 0;
		int c;

		if (!is_digit(*a) || !is_digit(*b)) {
			if (*a != *b)
				return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
			a++, b++;
			continue;
		}
		while (*x == '0') /* digit runs: by value, then the shorter run first */
			x++;
		while (*y == '0')
			y++;
		while (is_digit(x[nx]))
			nx++;
		while (is_digit(y[ny]))
			ny++;
		if (nx != ny)
			return nx < ny ? -1 : 1;
		if ((c = memcmp(x, y, nx)) != 0)
			return c < 0 ? -1 : 1;
		if (x - a != y - b)
			return x - a < y - b ? -1 : 1;
		a = x + nx;
		b = y + ny;
	}
	return *a ? 1 : *b ? -1 : 0;
}

void bar_memzero(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void bar_map_init(bar_map *m, size_t expected)
{
	size_t cap = 16;

	while (cap < expected * 2)
		cap *= 2;
	m->keys = bar_calloc(cap, sizeof(*m->keys));
	m->vals = bar_calloc(cap, sizeof(*m->vals));
	m->cap = cap;
	m->n = 0;
}

void bar_map_free(bar_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static size_t map_slot(const bar_map *m, const char *key)
{
	size_t i = (size_t)bar_hash64(key, strlen(key), BAR_HASH64_SEED) & (m->cap - 1);

	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

void bar_map_put(bar_map *m, const char *key, void *val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		bar_map old = *m;

		bar_map_init(m, old.cap);
		for (size_t j = 0; j < old.cap; j++)
			if (old.keys[j])
				bar_map_put(m, old.keys[j], old.vals[j]);
		bar_map_free(&old);
	}
	i = map_slot(m, key);
	if (!m->keys[i]) {
		m->keys[i] = key;
		m->n++;
	}
	m->vals[i] = val;
}

void *bar_map_get(const bar_map *m, const char *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = map_slot(m, key);
	return m->keys[i] ? m->vals[i] : NULL;
}
