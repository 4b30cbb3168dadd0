/*
 * fuzz_tsdb_chunk.c - the store's chunk codec (monitor/tsdb_codec.c) on
 * arbitrary bytes: the decoder, asked for 1 and for 5 columns, decodes or
 * refuses with a reason, never reading past the input nor writing past
 * what it was given; what it decodes encodes back to a chunk that decodes
 * to the same rows bit for bit.  And a differential: rows derived from the
 * bytes (clock steps, then float64 bits or decimals) survive encode and
 * decode exactly.
 */
#include "tsdb_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 4096

static int64_t t[MAXN], t2[MAXN];
static double col[TSDB_AGG_COLS][MAXN], col2[TSDB_AGG_COLS][MAXN];

static void same_or_abort(size_t n, size_t ncols)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i] != t2[i])
			abort();
		for (size_t c = 0; c < ncols; c++)
			if (memcmp(&col[c][i], &col2[c][i], sizeof(double)) != 0)
				abort();
	}
}

static void roundtrip(size_t n, size_t ncols)
{
	const double *in[TSDB_AGG_COLS];
	double *out[TSDB_AGG_COLS];
	bar_mbuf b = {0};
	size_t got = 0;
	char why[160];

	for (size_t c = 0; c < TSDB_AGG_COLS; c++) {
		in[c] = col[c];
		out[c] = col2[c];
	}
	if (tsdb_chunk_encode(&b, t, in, ncols, n) < 0)
		abort();
	if (tsdb_chunk_decode(&got, t2, out, ncols, MAXN, b.p, b.len, why, sizeof(why)) < 0 ||
	    got != n)
		abort();
	same_or_abort(n, ncols);
	bar_mbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	double *out[TSDB_AGG_COLS];
	size_t n;
	char why[160];

	for (size_t c = 0; c < TSDB_AGG_COLS; c++)
		out[c] = col[c];
	/* arbitrary bytes as a chunk */
	for (size_t ncols = 1; ncols <= TSDB_AGG_COLS; ncols += TSDB_AGG_COLS - 1) {
		why[0] = '\0';
		if (tsdb_chunk_decode(&n, t, out, ncols, MAXN, data, size, why, sizeof(why)) < 0) {
			if (!why[0])
				abort();
			continue;
		}
		if (n == 0 || n > MAXN)
			abort();
		for (size_t i = 1; i < n; i++)
			if (t[i] <= t[i - 1])
				abort();
		roundtrip(n, ncols);
	}
	/* rows from the bytes: 2 bytes of clock step, 1 of kind, 8 of value */
	if (size < 1)
		return 0;
	{
		uint8_t mode = data[0];
		size_t ncols = mode & 1 ? TSDB_AGG_COLS : 1, rows = 0;
		int64_t now = (int64_t)(mode >> 1) * -1000000007LL;
		for (size_t off = 1; off + 11 <= size && rows < MAXN; off += 11, rows++) {
			uint64_t bits;
			int64_t step = (int64_t)(data[off] | data[off + 1] << 8);
			now += step ? step : 2000; /* a zero step: the regular clock */
			t[rows] = now;
			memcpy(&bits, data + off + 3, 8);
			for (size_t c = 0; c < ncols; c++) {
				double v;
				switch (data[off + 2] % 4) {
				case 0: memcpy(&v, &bits, 8); break;                  /* any float64 */
				case 1: v = (double)(int32_t)bits / 100; break;        /* 2 decimals */
				case 2: v = (double)(int64_t)(bits >> 11) * 4096; break; /* pages */
				default: v = rows ? col[c][rows - 1] : 0; break;        /* constant */
				}
				col[c][rows] = c ? v * (double)c : v;
			}
			if (ncols == TSDB_AGG_COLS && data[off + 2] % 4 == 1) {
				/* a roll-up row in decimals: stored relative to last */
				double v = col[0][rows], cnt = (double)(1 + (bits >> 40) % 6);
				col[TSDB_COL_LAST][rows] = v;
				col[TSDB_COL_MIN][rows] = v - (double)((bits >> 32) & 0xff) / 100;
				col[TSDB_COL_MAX][rows] = v + (double)((bits >> 48) & 0xff) / 100;
				col[TSDB_COL_SUM][rows] = round(v * cnt * 100) / 100;
				col[TSDB_COL_COUNT][rows] = cnt;
			}
		}
		if (rows)
			roundtrip(rows, ncols);
	}
	return 0;
}
