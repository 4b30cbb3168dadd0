/*
 * snappy.c - the snappy block format, which remote-write bodies use
 * (Content-Encoding: snappy).  The format is google/snappy's
 * format_description.txt: the uncompressed length as a little-endian
 * varint (at most 2^32 - 1), then elements, each a tag byte whose low two
 * bits say what follows:
 *
 *   00 literal: length-1 in the upper six bits when under 60, else 60..63
 *      there say that 1..4 little-endian bytes of length-1 follow; then the
 *      bytes themselves
 *   01 copy, length 4..11 (bits 2..4: length-4), offset 0..2047 (bits 5..7
 *      the high three bits, then one byte)
 *   10 copy, length 1..64 (upper six bits: length-1), 2-byte offset
 *   11 copy, length 1..64, 4-byte offset
 *
 * A copy repeats `length` bytes starting `offset` back in the output and
 * may overlap what it writes (a run).  Offset 0, or one beyond what was
 * written so far, is invalid.
 *
 * The compressor is an LZ77 of the usual kind for this format: the input
 * in 64 KiB blocks (offsets then fit in 16 bits, and the table in uint16),
 * a hash table from 4-byte sequences to their last position, a skip that
 * grows while nothing matches (so incompressible data passes quickly), and
 * matches extended 8 bytes at a time.  The uncompressor checks every tag,
 * length and offset against both the input and the declared output.
 */
#include "wire_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BLOCK_SIZE ((size_t)1 << 16)
#define MAX_TABLE_BITS 14
#define MIN_TABLE_BITS 8
/* Below this a block is one literal; the match loop keeps this much
 * margin before the block's end so that its 4-byte loads stay inside. */
#define INPUT_MARGIN 15

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t x;

	memcpy(&x, p, 4);
	return x;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return x;
}

/* Multiplicative (Fibonacci) hashing of 4 bytes into `bits` bits. */
static inline uint32_t hash4(uint32_t x, int shift)
{
	return (x * 0x9e3779b1u) >> shift;
}

/* How many bytes from a and b (a before b) agree, b not reaching end. */
static inline size_t match_extend(const uint8_t *a, const uint8_t *b, const uint8_t *end)
{
	const uint8_t *start = b;

	while ((size_t)(end - b) >= 8) {
		uint64_t x = load64(a) ^ load64(b);

		if (x) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
			return (size_t)(b - start) + (size_t)(__builtin_clzll(x) >> 3);
#else
			return (size_t)(b - start) + (size_t)(__builtin_ctzll(x) >> 3);
#endif
		}
		a += 8;
		b += 8;
	}
	while (b < end && *a == *b)
		a++, b++;
	return (size_t)(b - start);
}

static uint8_t *emit_literal(uint8_t *op, const uint8_t *src, size_t n)
{
	size_t m = n - 1;

	if (m < 60) {
		*op++ = (uint8_t)(m << 2);
	} else {
		int nb = m < (1u << 8) ? 1 : m < (1u << 16) ? 2 : m < (1u << 24) ? 3 : 4;

		*op++ = (uint8_t)((59 + nb) << 2);
		for (int i = 0; i < nb; i++)
			*op++ = (uint8_t)(m >> (8 * i));
	}
	memcpy(op, src, n);
	return op + n;
}

/* A copy of len >= 4 bytes from off (< 65536) back. */
static uint8_t *emit_copy(uint8_t *op, size_t off, size_t len)
{
	/* 2-byte-offset copies of 64; keep at least 4 for the last one */
	while (len >= 68) {
		op[0] = (uint8_t)(2 | (63 << 2));
		op[1] = (uint8_t)off;
		op[2] = (uint8_t)(off >> 8);
		op += 3;
		len -= 64;
	}
	if (len > 64) {
		op[0] = (uint8_t)(2 | (59 << 2));
		op[1] = (uint8_t)off;
		op[2] = (uint8_t)(off >> 8);
		op += 3;
		len -= 60;
	}
	if (len < 12 && off < 2048) {
		op[0] = (uint8_t)(1 | ((len - 4) << 2) | ((off >> 8) << 5));
		op[1] = (uint8_t)off;
		return op + 2;
	}
	op[0] = (uint8_t)(2 | ((len - 1) << 2));
	op[1] = (uint8_t)off;
	op[2] = (uint8_t)(off >> 8);
	return op + 3;
}

/* One block of at most BLOCK_SIZE bytes. */
static uint8_t *compress_block(uint8_t *op, const uint8_t *in, size_t n, uint16_t *table)
{
	const uint8_t *ip = in, *end = in + n, *lit = in, *limit;
	int bits = MIN_TABLE_BITS, shift;
	uint32_t h;

	if (n < INPUT_MARGIN + 1)
		goto tail;
	while (bits < MAX_TABLE_BITS && ((size_t)1 << bits) < n)
		bits++;
	shift = 32 - bits;
	memset(table, 0, sizeof(*table) << bits);
	limit = end - INPUT_MARGIN;

	ip++;
	h = hash4(load32(ip), shift);
	for (;;) {
		const uint8_t *cand, *next = ip;
		uint32_t skip = 32;

		/* look for a 4-byte match, stepping further the longer none is found */
		do {
			ip = next;
			next = ip + (skip++ >> 5);
			if (next > limit)
				goto tail;
			cand = in + table[h];
			table[h] = (uint16_t)(ip - in);
			h = hash4(load32(next), shift);
		} while (load32(ip) != load32(cand));

		op = emit_literal(op, lit, (size_t)(ip - lit));
		/* copies, as long as the next position matches at once */
		do {
			size_t len = 4 + match_extend(cand + 4, ip + 4, end);
			uint32_t hh;

			op = emit_copy(op, (size_t)(ip - cand), len);
			ip += len;
			lit = ip;
			if (ip >= limit)
				goto tail;
			table[hash4(load32(ip - 1), shift)] = (uint16_t)(ip - 1 - in);
			hh = hash4(load32(ip), shift);
			cand = in + table[hh];
			table[hh] = (uint16_t)(ip - in);
		} while (load32(ip) == load32(cand));
		ip++;
		h = hash4(load32(ip), shift);
	}
tail:
	if (lit < end)
		op = emit_literal(op, lit, (size_t)(end - lit));
	return op;
}

/*
 * Compress in 64 KiB blocks straight into out.  Room for the worst case
 * (32 + n + n/6, the bound of google/snappy's MaxCompressedLength, which
 * holds here too: a copy never takes more bytes than it replaces and a
 * literal adds at most 3 per block) is reserved first.
 */
int bar_snappy_compress(bar_mbuf *out, const void *in, size_t n)
{
	uint16_t table[1 << MAX_TABLE_BITS];
	const uint8_t *src = in;
	uint8_t *op0, *op;
	size_t x = n;

	if (out->failed)
		return -1;
	if (n > UINT32_MAX) {
		out->failed = 1;
		return -1;
	}
	if (!(op0 = (uint8_t *)bar_mbuf_reserve(out, 32 + n + n / 6)))
		return -1;
	op = op0;
	while (x >= 0x80) {
		*op++ = (uint8_t)(x | 0x80);
		x >>= 7;
	}
	*op++ = (uint8_t)x;
	for (size_t pos = 0; pos < n; pos += BLOCK_SIZE)
		op = compress_block(op, src + pos, n - pos < BLOCK_SIZE ? n - pos : BLOCK_SIZE,
		                    table);
	bar_mbuf_commit(out, (size_t)(op - op0));
	return 0;
}

static int fail(char *why, size_t wsize, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t wsize, const char *fmt, ...)
{
	va_list ap;

	if (why && wsize) {
		va_start(ap, fmt);
		vsnprintf(why, wsize, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* In bar_snappy_uncompress, once the output has begun: fail, then mend
 * the NUL that ended what out held. */
#define BAD(...)                                                                                   \
	do {                                                                                       \
		fail(why, wsize, __VA_ARGS__);                                                     \
		goto bad;                                                                          \
	} while (0)

/*
 * Uncompress: the declared length is checked against max_out and reserved
 * in out at once; then each element is checked before it is copied.  On
 * failure out keeps what it held before (its length is not moved).
 */
int bar_snappy_uncompress(bar_mbuf *out, const void *in, size_t n, size_t max_out, char *why,
                          size_t wsize)
{
	const uint8_t *ip = in, *end = ip + n;
	uint8_t *op0, *op, *oend;
	uint64_t ulen = 0;
	unsigned shift;

	for (shift = 0;; shift += 7) {
		if (ip >= end)
			return fail(why, wsize, "byte %zu: truncated length preamble",
			            (size_t)(ip - (const uint8_t *)in));
		if (shift == 28 && *ip > 0x0f)
			return fail(why, wsize, "byte %zu: length preamble over 2^32-1",
			            (size_t)(ip - (const uint8_t *)in));
		ulen |= (uint64_t)(*ip & 0x7f) << shift;
		if (!(*ip++ & 0x80))
			break;
	}
	if (ulen > max_out)
		return fail(why, wsize, "byte 0: uncompressed length %llu over the limit of %zu",
		            (unsigned long long)ulen, max_out);
	if (!(op0 = (uint8_t *)bar_mbuf_reserve(out, (size_t)ulen)))
		return fail(why, wsize, "byte 0: no room for %llu uncompressed bytes",
		            (unsigned long long)ulen);
	op = op0;
	oend = op0 + ulen;

	while (ip < end) {
		size_t at = (size_t)(ip - (const uint8_t *)in), len, off;
		uint8_t tag = *ip++;

		if ((tag & 3) == 0) {
			len = tag >> 2;
			if (len >= 60) {
				size_t nb = len - 59;

				if ((size_t)(end - ip) < nb)
					BAD("byte %zu: literal length truncated", at);
				len = 0;
				for (size_t i = 0; i < nb; i++)
					len |= (size_t)ip[i] << (8 * i);
				ip += nb;
			}
			len += 1;
			if ((size_t)(end - ip) < len)
				BAD("byte %zu: literal of %zu bytes runs past the input (%zu left)",
				    at, len, (size_t)(end - ip));
			if ((size_t)(oend - op) < len)
				BAD("byte %zu: literal of %zu bytes overruns the declared length "
				    "%llu",
				    at, len, (unsigned long long)ulen);
			/* short literals: one fixed-size copy when both sides have room */
			if (len <= 16 && end - ip >= 16 && oend - op >= 16)
				memcpy(op, ip, 16);
			else
				memcpy(op, ip, len);
			op += len;
			ip += len;
			continue;
		}
		switch (tag & 3) {
		case 1:
			if (end - ip < 1)
				BAD("byte %zu: copy truncated", at);
			len = 4 + ((tag >> 2) & 7);
			off = (size_t)(tag >> 5) << 8 | ip[0];
			ip += 1;
			break;
		case 2:
			if (end - ip < 2)
				BAD("byte %zu: copy truncated", at);
			len = 1 + (tag >> 2);
			off = (size_t)ip[0] | (size_t)ip[1] << 8;
			ip += 2;
			break;
		default:
			if (end - ip < 4)
				BAD("byte %zu: copy truncated", at);
			len = 1 + (tag >> 2);
			off = (size_t)ip[0] | (size_t)ip[1] << 8 | (size_t)ip[2] << 16 |
			      (size_t)ip[3] << 24;
			ip += 4;
			break;
		}
		if (off == 0)
			BAD("byte %zu: copy offset 0", at);
		if (off > (size_t)(op - op0))
			BAD("byte %zu: copy offset %zu beyond the output (%zu bytes)", at, off,
			    (size_t)(op - op0));
		if ((size_t)(oend - op) < len)
			BAD("byte %zu: copy of %zu bytes overruns the declared length %llu", at,
			    len, (unsigned long long)ulen);
		if (off >= 16 && oend - op >= 16 && len <= 16) {
			memcpy(op, op - off, 16);
		} else if (off >= len) {
			memcpy(op, op - off, len);
		} else {
			/* overlapping: a run of the last off bytes */
			const uint8_t *src = op - off;

			for (size_t i = 0; i < len; i++)
				op[i] = src[i];
		}
		op += len;
	}
	if (op != oend)
		BAD("byte %zu: input ends after %zu of the %llu declared bytes", n,
		    (size_t)(op - op0), (unsigned long long)ulen);
	bar_mbuf_commit(out, (size_t)ulen);
	return 0;
bad:
	/* the output went over the NUL that ended what out held */
	out->p[out->len] = '\0';
	return -1;
}
