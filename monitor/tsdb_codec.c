/*
 * tsdb_codec.c - the store's chunk format (docs/monitoring.md, "The store"):
 * a time column and value columns, each a bit stream in the manner of
 * Gorilla (Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time
 * Series Database", VLDB 2015, section 4.1).
 *
 *   chunk   = kind (1 byte: 0xC0 | ncols, or 0xE5: roll-up rows relative
 *             to their last value, see agg_relative), count (LEB128
 *             varint), bits
 *   bits    = int column (timestamps), then ncols value columns (0xE5: d in
 *             3 bits and five int columns), MSB first, the last byte padded
 *             with zeros
 *   int col = see intcol_put: a common factor, a transform (the value,
 *             delta, delta of delta), zigzag codes in prefix buckets or
 *             Rice codes
 *   value col = mode (2 bits): 0 XOR, 1 decimal
 *     XOR:     Gorilla's: the first float64 in 64 bits, then per value its
 *              XOR with the previous: '0' (equal), '10' + the meaningful
 *              bits inside the previous window, or '11' + leading zeros
 *              (6 bits) + meaningful length - 1 (6 bits) + the bits
 *     decimal: d (3 bits, 0..6), then an int column of m, every value being
 *              exactly m / 10^d (what the agent's rounding produces)
 *
 * Gorilla fixes its buckets (7, 9, 12 bits); here the encoder picks, per
 * column, the transform, the coding (three bucket widths, or a Rice
 * parameter) and a common factor that make that column shortest: a random
 * walk (CPU %) is cheapest in Rice-coded deltas, a steady clock in
 * deltas of deltas, byte counts in pages divided by 4096.  A regular 2 s
 * clock costs 1 bit a point; a constant gauge 1 bit a point.
 */
#include "tsdb_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_tab[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

/* ---- bits ---- */

typedef struct bw {
	uint8_t *p;
	size_t cap, len; /* bytes */
	uint64_t acc;
	int nacc;        /* bits in acc */
	int over;        /* cap was too small (a bug): the chunk is refused */
} bw;

static void bw_put(bw *w, uint64_t v, int nbits)
{
	/* nbits 0..64: written MSB first */
	while (nbits > 0) {
		int take = nbits > 32 ? 32 : nbits;
		uint64_t part = (v >> (nbits - take)) & ((1ULL << take) - 1);
		w->acc = (w->acc << take) | part;
		w->nacc += take;
		nbits -= take;
		while (w->nacc >= 8) {
			w->nacc -= 8;
			if (w->len < w->cap)
				w->p[w->len++] = (uint8_t)(w->acc >> w->nacc);
			else
				w->over = 1;
		}
	}
}

static void bw_end(bw *w)
{
	if (w->nacc > 0 && w->len < w->cap)
		w->p[w->len++] = (uint8_t)(w->acc << (8 - w->nacc));
	else if (w->nacc > 0)
		w->over = 1;
	w->nacc = 0;
}

typedef struct br {
	const uint8_t *p;
	size_t len, pos; /* pos in bits */
	int bad;
} br;

static uint64_t br_get(br *r, int nbits)
{
	uint64_t v = 0;

	if (nbits == 0)
		return 0;
	if (r->pos + (size_t)nbits > r->len * 8) {
		r->bad = 1;
		return 0;
	}
	for (int left = nbits; left > 0;) {
		size_t byte = r->pos >> 3;
		int off = (int)(r->pos & 7), avail = 8 - off, take = left < avail ? left : avail;
		uint64_t bits = ((uint64_t)r->p[byte] >> (avail - take)) & ((1u << take) - 1);
		v = (v << take) | bits;
		r->pos += (size_t)take;
		left -= take;
	}
	return v;
}

static int br_bit(br *r)
{
	size_t byte = r->pos >> 3;

	if (byte >= r->len) {
		r->bad = 1;
		return 0;
	}
	int b = (r->p[byte] >> (7 - (r->pos & 7))) & 1;
	r->pos++;
	return b;
}

static uint64_t zigzag(int64_t x)
{
	return ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
}

static int64_t unzigzag(uint64_t z)
{
	return (int64_t)((z >> 1) ^ (~(z & 1) + 1));
}

static int bitlen(uint64_t z)
{
	return z ? 64 - __builtin_clzll(z) : 0;
}

/* ---- int columns ---- */

/* The cheapest widths for a histogram of code bit lengths; its cost. */
static uint64_t widths_pick(const uint64_t h[65], int w[3])
{
	uint64_t cum[65], best = UINT64_MAX;
	int maxb = 0;

	cum[0] = 0;
	for (int b = 1; b <= 64; b++) {
		cum[b] = cum[b - 1] + h[b];
		if (h[b])
			maxb = b;
	}
	w[0] = w[1] = w[2] = maxb;
	for (int a = 0; a <= maxb; a++)
		for (int b = a; b <= maxb; b++) {
			uint64_t c = h[0] + cum[a] * (uint64_t)(2 + a) +
			             (cum[b] - cum[a]) * (uint64_t)(3 + b) +
			             (cum[maxb] - cum[b]) * (uint64_t)(3 + maxb);
			if (c < best) {
				best = c;
				w[0] = a;
				w[1] = b;
				w[2] = maxb;
			}
		}
	return best;
}

/* The code of value i under a transform: 0 the value, 1 its delta less
 * base, 2 its delta of delta (the first delta taken from 0). */
static uint64_t code_of(const int64_t *x, size_t i, int tr, uint64_t base)
{
	uint64_t d;

	if (tr == 0)
		return zigzag(x[i]);
	d = (uint64_t)x[i] - (uint64_t)x[i - 1];
	if (tr == 1 || tr == 3)
		d -= base;
	else if (i >= 2)
		d -= (uint64_t)x[i - 1] - (uint64_t)x[i - 2];
	return zigzag((int64_t)d);
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The median of (up to 63 evenly picked) deltas: what a delta column is
 * centred on (a clock's interval; 0 for a random walk). */
static uint64_t delta_base(const int64_t *x, size_t n)
{
	int64_t d[63];
	size_t m = 0, stride = n > 64 ? (n - 1) / 63 : 1;

	for (size_t i = 1; i < n && m < 63; i += stride)
		d[m++] = (int64_t)((uint64_t)x[i] - (uint64_t)x[i - 1]);
	if (m == 0)
		return 0;
	qsort(d, m, sizeof(d[0]), i64_cmp);
	return (uint64_t)d[m / 2];
}

#define RICE_ESC 16 /* quotients from here on are escaped */

static uint64_t rice_cost(const uint64_t *z, size_t n, int k)
{
	uint64_t c = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t q = z[i] >> k;
		c += q < RICE_ESC ? q + 1 + (uint64_t)k : RICE_ESC + 7 + (uint64_t)bitlen(z[i]);
	}
	return c;
}

/* The cheapest Rice parameter near log2 of the mean code; its cost. */
static uint64_t rice_pick(const uint64_t *z, size_t n, int *k)
{
	double mean = 0;
	uint64_t best = UINT64_MAX;
	int k0;

	for (size_t i = 0; i < n; i++)
		mean += (double)z[i];
	mean = n ? mean / (double)n : 0;
	k0 = mean >= 1 ? (int)log2(mean) : 0;
	*k = 0;
	for (int c = k0 - 2; c <= k0 + 1; c++) {
		if (c < 0 || c > 63)
			continue;
		uint64_t cost = rice_cost(z, n, c);
		if (cost < best) {
			best = cost;
			*k = c;
		}
	}
	return best;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * int col = gcd g (7-bit length, bits; every value is a multiple: byte
 *           counts in pages or sectors), transform (2 bits: 0 the value,
 *           1 delta, 2 delta of delta, 3 delta less a base, the median
 *           delta, given next as 7-bit length and zigzag bits) of x / g,
 *           coding (1 bit), the first
 *           value (7-bit length, its zigzag), then per later value its code
 *   coding 0, buckets: widths w1 w2 w3 (7 bits each); '0' (zero), '10' +
 *           w1 bits, '110' + w2 bits, '111' + w3 bits
 *   coding 1, Rice (Golomb with a power of two): k (6 bits); the quotient
 *           z >> k in unary ('1' x q, '0') and k low bits, or for q >= 16
 *           sixteen '1's, a 7-bit length and the bits
 * The encoder tries every transform and both codings and keeps the
 * shortest: the prefix buckets win on runs of zeros, Rice on the evenly
 * spread steps of a random walk.
 */
static void intcol_put(bw *w, const int64_t *xin, size_t n, int64_t *x, uint64_t *z)
{
	uint64_t g = 0, best = UINT64_MAX, first, base = 0, median;
	int tr = 1, coding = 0, wd[3] = {0, 0, 0}, k = 0;

	for (size_t i = 0; i < n && g != 1; i++)
		g = gcd64(g, xin[i] < 0 ? 0 - (uint64_t)xin[i] : (uint64_t)xin[i]);
	if (g == 0 || g > (uint64_t)INT64_MAX)
		g = 1;
	for (size_t i = 0; i < n; i++)
		x[i] = g == 1 ? xin[i] : xin[i] / (int64_t)g;
	median = delta_base(x, n);
	/* candidates: the value, delta, delta less the median, delta of delta */
	for (int cand = 0; cand < 4; cand++) {
		uint64_t h[65] = {0}, c, b = cand == 2 ? median : 0, head;
		int wt[3], kt, t = cand == 2 ? 3 : cand == 3 ? 2 : cand;
		if (cand == 2 && median == 0)
			continue;
		head = t == 3 ? 7 + (uint64_t)bitlen(zigzag((int64_t)median)) : 0; /* header bits */
		for (size_t i = 1; i < n; i++) {
			z[i - 1] = code_of(x, i, t, b);
			h[bitlen(z[i - 1])]++;
		}
		if ((c = widths_pick(h, wt) + head + 21) < best) {
			best = c;
			tr = t;
			base = b;
			coding = 0;
			memcpy(wd, wt, sizeof(wd));
		}
		if ((c = rice_pick(z, n - 1, &kt) + head + 6) < best) {
			best = c;
			tr = t;
			base = b;
			coding = 1;
			k = kt;
		}
	}
	bw_put(w, (uint64_t)bitlen(g), 7);
	bw_put(w, g, bitlen(g));
	bw_put(w, (uint64_t)tr, 2);
	if (tr == 3) {
		uint64_t zb = zigzag((int64_t)base);
		bw_put(w, (uint64_t)bitlen(zb), 7);
		bw_put(w, zb, bitlen(zb));
	}
	bw_put(w, (uint64_t)coding, 1);
	if (coding == 0)
		for (int j = 0; j < 3; j++)
			bw_put(w, (uint64_t)wd[j], 7);
	else
		bw_put(w, (uint64_t)k, 6);
	first = zigzag(x[0]);
	bw_put(w, (uint64_t)bitlen(first), 7);
	bw_put(w, first, bitlen(first));
	for (size_t i = 1; i < n; i++) {
		uint64_t c = code_of(x, i, tr, base);
		int b = bitlen(c);
		if (coding == 1) {
			uint64_t q = c >> k;
			if (q < RICE_ESC) {
				bw_put(w, ((1ULL << q) - 1) << 1, (int)q + 1);
				bw_put(w, c & ((k < 64 ? (1ULL << k) : 0) - 1), k);
			} else {
				bw_put(w, (1ULL << RICE_ESC) - 1, RICE_ESC);
				bw_put(w, (uint64_t)b, 7);
				bw_put(w, c, b);
			}
		} else if (b == 0)
			bw_put(w, 0, 1);
		else if (b <= wd[0])
			bw_put(w, 2, 2), bw_put(w, c, wd[0]);
		else if (b <= wd[1])
			bw_put(w, 6, 3), bw_put(w, c, wd[1]);
		else
			bw_put(w, 7, 3), bw_put(w, c, wd[2]);
	}
}

static int intcol_get(br *r, int64_t *x, size_t n)
{
	int gl = (int)br_get(r, 7), tr, coding, wd[3] = {0, 0, 0}, k = 0, fl;
	uint64_t g, prev_d = 0, base = 0;

	if (gl > 64)
		return -1;
	g = br_get(r, gl);
	tr = (int)br_get(r, 2);
	if (tr == 3) {
		int bl = (int)br_get(r, 7);
		if (bl > 64)
			return -1;
		base = (uint64_t)unzigzag(br_get(r, bl));
	}
	coding = (int)br_get(r, 1);
	if (g == 0 || g > (uint64_t)INT64_MAX)
		return -1;
	if (coding == 0) {
		for (int j = 0; j < 3; j++)
			if ((wd[j] = (int)br_get(r, 7)) > 64)
				return -1;
	} else {
		k = (int)br_get(r, 6);
	}
	if ((fl = (int)br_get(r, 7)) > 64)
		return -1;
	x[0] = unzigzag(br_get(r, fl));
	for (size_t i = 1; i < n && !r->bad; i++) {
		uint64_t z, d;
		if (coding == 1) {
			int q = 0;
			while (q < RICE_ESC && br_bit(r))
				q++;
			if (q < RICE_ESC) {
				z = ((uint64_t)q << k) | br_get(r, k);
			} else {
				int b = (int)br_get(r, 7);
				if (b > 64)
					return -1;
				z = br_get(r, b);
			}
		} else if (!br_bit(r))
			z = 0;
		else if (!br_bit(r))
			z = br_get(r, wd[0]);
		else if (!br_bit(r))
			z = br_get(r, wd[1]);
		else
			z = br_get(r, wd[2]);
		d = (uint64_t)unzigzag(z);
		if (tr == 0) {
			x[i] = (int64_t)d;
			continue;
		}
		if (tr == 2)
			d += prev_d;
		else
			d += base;
		prev_d = d;
		x[i] = (int64_t)((uint64_t)x[i - 1] + d);
	}
	if (r->bad)
		return -1;
	for (size_t i = 0; g != 1 && i < n; i++)
		x[i] = (int64_t)((uint64_t)x[i] * g);
	return 0;
}

/* ---- value columns ---- */

int tsdb_decimals(double v)
{
	for (int d = 0; d <= 6; d++) {
		double s = v * pow10_tab[d];
		if (!(fabs(s) < 9007199254740992.0))
			return -1;
		double m = (double)llround(s), back = m / pow10_tab[d];
		if (memcmp(&back, &v, sizeof(v)) == 0)
			return d;
	}
	return -1;
}

/* The decimals that fit every value at once (0..6), or -1; scaled ints
 * into m. */
static int decimals_of(const double *v, size_t n, int64_t *m)
{
	int d = 0;

	for (size_t i = 0; i < n; i++) {
		double s = v[i] * pow10_tab[d];
		if (fabs(s) < 9007199254740992.0) {
			double back = (double)llround(s) / pow10_tab[d];
			if (memcmp(&back, &v[i], sizeof(back)) == 0)
				continue;
		}
		int e = tsdb_decimals(v[i]);
		if (e < 0)
			return -1;
		if (e > d)
			d = e;
	}
	/* a value exact at fewer decimals is exact at more (IEEE division is
	 * correctly rounded and m*10^k / 10^(d+k) is the same real), but check */
	for (size_t i = 0; i < n; i++) {
		double s = v[i] * pow10_tab[d];
		if (!(fabs(s) < 9007199254740992.0))
			return -1;
		m[i] = llround(s);
		double back = (double)m[i] / pow10_tab[d];
		if (memcmp(&back, &v[i], sizeof(back)) != 0)
			return -1;
	}
	return d;
}

static void xorcol_put(bw *w, const double *v, size_t n)
{
	uint64_t prev;
	int plead = -1, ptrail = 0;

	memcpy(&prev, &v[0], 8);
	bw_put(w, prev, 64);
	for (size_t i = 1; i < n; i++) {
		uint64_t cur, x;
		memcpy(&cur, &v[i], 8);
		x = cur ^ prev;
		prev = cur;
		if (!x) {
			bw_put(w, 0, 1);
			continue;
		}
		int lead = __builtin_clzll(x), trail = __builtin_ctzll(x);
		if (plead >= 0 && lead >= plead && trail >= ptrail) {
			bw_put(w, 2, 2);
			bw_put(w, x >> ptrail, 64 - plead - ptrail);
		} else {
			int sig = 64 - lead - trail;
			bw_put(w, 3, 2);
			bw_put(w, (uint64_t)lead, 6);
			bw_put(w, (uint64_t)(sig - 1), 6);
			bw_put(w, x >> trail, sig);
			plead = lead;
			ptrail = trail;
		}
	}
}

static int xorcol_get(br *r, double *v, size_t n)
{
	uint64_t prev = br_get(r, 64);
	int plead = -1, ptrail = 0;

	memcpy(&v[0], &prev, 8);
	for (size_t i = 1; i < n && !r->bad; i++) {
		if (br_bit(r)) {
			uint64_t x;
			if (!br_bit(r)) {
				if (plead < 0)
					return -1;
				x = br_get(r, 64 - plead - ptrail) << ptrail;
			} else {
				int lead = (int)br_get(r, 6), sig = (int)br_get(r, 6) + 1;
				if (lead + sig > 64)
					return -1;
				plead = lead;
				ptrail = 64 - lead - sig;
				x = br_get(r, sig) << ptrail;
			}
			prev ^= x;
		}
		memcpy(&v[i], &prev, 8);
	}
	return r->bad ? -1 : 0;
}

static void valcol_put(bw *w, const double *v, size_t n, int64_t *scratch, int64_t *x,
                       uint64_t *z)
{
	int d = decimals_of(v, n, scratch);

	if (d < 0) {
		bw_put(w, 0, 2);
		xorcol_put(w, v, n);
		return;
	}
	bw_put(w, 1, 2);
	bw_put(w, (uint64_t)d, 3);
	intcol_put(w, scratch, n, x, z);
}

static int valcol_get(br *r, double *v, size_t n, int64_t *scratch)
{
	int mode = (int)br_get(r, 2), d;

	if (mode == 0)
		return xorcol_get(r, v, n);
	if (mode != 1 || (d = (int)br_get(r, 3)) > 6 || intcol_get(r, scratch, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i] = (double)scratch[i] / pow10_tab[d];
	return 0;
}

/* ---- roll-up rows in relation to their last value ---- */

/* v[] as integers at exactly d decimals into m, or -1. */
static int scaled_at(const double *v, size_t n, int d, int64_t *m)
{
	for (size_t i = 0; i < n; i++) {
		double s = v[i] * pow10_tab[d], back;
		if (!(fabs(s) < 9007199254740992.0))
			return -1;
		m[i] = llround(s);
		back = (double)m[i] / pow10_tab[d];
		if (memcmp(&back, &v[i], sizeof(back)) != 0)
			return -1;
	}
	return 0;
}

/*
 * A roll-up chunk whose sum, min, max and last are all decimals (at one d)
 * and whose counts are whole is stored as last, last - min, max - last,
 * sum - count * last and count: within a bucket the four move together, so
 * the differences are small where the columns themselves wander.  The
 * caller gives 5 * n int64 of room in m (last, dmin, dmax, dsum, count).
 * The decimals, or -1 when the rows do not qualify.
 */
static int agg_relative(const double *const *cols, size_t n, int64_t *m, int64_t *scratch)
{
	int d = 0;
	int64_t *L = m, *dn = m + n, *dx = m + 2 * n, *ds = m + 3 * n, *C = m + 4 * n;

	for (int c = TSDB_COL_SUM; c <= TSDB_COL_LAST; c++) {
		int e = decimals_of(cols[c], n, scratch);
		if (e < 0)
			return -1;
		if (e > d)
			d = e;
	}
	if (scaled_at(cols[TSDB_COL_COUNT], n, 0, C) < 0 ||
	    scaled_at(cols[TSDB_COL_LAST], n, d, L) < 0 ||
	    scaled_at(cols[TSDB_COL_MIN], n, d, dn) < 0 ||
	    scaled_at(cols[TSDB_COL_MAX], n, d, dx) < 0 ||
	    scaled_at(cols[TSDB_COL_SUM], n, d, ds) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int64_t cl;
		/* all of magnitude < 2^53, so the differences cannot overflow */
		dn[i] = L[i] - dn[i];
		dx[i] = dx[i] - L[i];
		if (__builtin_mul_overflow(C[i], L[i], &cl) ||
		    __builtin_sub_overflow(ds[i], cl, &ds[i]))
			return -1;
	}
	return d;
}

static int agg_relative_get(br *r, double *const *cols, size_t n, int64_t *m)
{
	int d = (int)br_get(r, 3);
	int64_t *L = m, *dn = m + n, *dx = m + 2 * n, *ds = m + 3 * n, *C = m + 4 * n;

	if (d > 6)
		return -1;
	for (int k = 0; k < 5; k++)
		if (intcol_get(r, m + (size_t)k * n, n) < 0)
			return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = (uint64_t)ds[i] + (uint64_t)C[i] * (uint64_t)L[i];
		cols[TSDB_COL_LAST][i] = (double)L[i] / pow10_tab[d];
		cols[TSDB_COL_MIN][i] = (double)(int64_t)((uint64_t)L[i] - (uint64_t)dn[i]) / pow10_tab[d];
		cols[TSDB_COL_MAX][i] = (double)(int64_t)((uint64_t)L[i] + (uint64_t)dx[i]) / pow10_tab[d];
		cols[TSDB_COL_SUM][i] = (double)(int64_t)s / pow10_tab[d];
		cols[TSDB_COL_COUNT][i] = (double)C[i];
	}
	return 0;
}

/* ---- chunks ---- */

int tsdb_chunk_encode(bar_mbuf *out, const int64_t *t, const double *const *cols, size_t ncols,
                      size_t n)
{
	bw w = {0};
	int64_t *scratch = NULL, *x = NULL, *rel = NULL;
	uint64_t *z = NULL;
	uint8_t head[12];
	int d;
	size_t hl = 0, cnt = n;
	int rc = -1;

	if (n == 0 || n > TSDB_CHUNK_MAX_POINTS || (ncols != 1 && ncols != TSDB_AGG_COLS)) {
		out->failed = 1;
		return -1;
	}
	/* worst case per row: 87 bits of time, 87 per value column; per column
	 * at most 242 bits of header (bw_put checks anyway) */
	w.cap = (n * (90 + 90 * ncols) + 7) / 8 + 48 * (ncols + 1) + 64;
	w.p = malloc(w.cap);
	scratch = malloc(n * sizeof(*scratch));
	x = malloc(n * sizeof(*x));
	z = malloc(n * sizeof(*z));
	if (!w.p || !scratch || !x || !z) {
		out->failed = 1;
		goto done;
	}
	if (ncols == TSDB_AGG_COLS && !(rel = malloc(5 * n * sizeof(*rel)))) {
		out->failed = 1;
		goto done;
	}
	d = ncols == TSDB_AGG_COLS ? agg_relative(cols, n, rel, scratch) : -1;
	head[hl++] = (uint8_t)((d >= 0 ? 0xE0 : 0xC0) | ncols);
	do {
		head[hl++] = (uint8_t)((cnt & 0x7f) | (cnt > 0x7f ? 0x80 : 0));
		cnt >>= 7;
	} while (cnt);
	intcol_put(&w, t, n, x, z);
	if (d >= 0) {
		bw_put(&w, (uint64_t)d, 3);
		for (size_t k = 0; k < 5; k++)
			intcol_put(&w, rel + k * n, n, x, z);
	} else {
		for (size_t c = 0; c < ncols; c++)
			valcol_put(&w, cols[c], n, scratch, x, z);
	}
	bw_end(&w);
	if (w.over) {
		out->failed = 1;
		goto done;
	}
	if (bar_mbuf_add(out, head, hl) < 0 || bar_mbuf_add(out, w.p, w.len) < 0)
		goto done;
	rc = 0;
done:
	free(w.p);
	free(scratch);
	free(x);
	free(z);
	free(rel);
	return rc;
}

/* The header: column count and row count; the offset of the bits or -1. */
static long chunk_head(const uint8_t *p, size_t len, size_t *ncols, size_t *n)
{
	size_t pos = 1, v = 0;
	int shift = 0;

	/* 0xC0 | ncols, or 0xE0 | 5: roll-up rows relative to their last */
	if (len < 2 || ((p[0] & 0xF0) != 0xC0 && p[0] != (0xE0 | TSDB_AGG_COLS)))
		return -1;
	*ncols = p[0] & 0x0F;
	for (;;) {
		if (pos >= len || shift > 21)
			return -1;
		v |= (size_t)(p[pos] & 0x7f) << shift;
		shift += 7;
		if (!(p[pos++] & 0x80))
			break;
	}
	*n = v;
	return (long)pos;
}

long tsdb_chunk_count(const void *data, size_t len)
{
	size_t nc, n;
	return chunk_head(data, len, &nc, &n) < 0 ? -1 : (long)n;
}

int tsdb_chunk_decode(size_t *nout, int64_t *t, double *const *cols, size_t ncols, size_t max,
                      const void *data, size_t len, char *why, size_t wsize)
{
	size_t nc, n;
	long off = chunk_head(data, len, &nc, &n);
	int64_t *scratch = NULL;
	br r;
	int rc = -1, rel;

	if (off < 0) {
		snprintf(why, wsize, "chunk: bad header");
		return -1;
	}
	if (nc != ncols || n == 0 || n > max || n > TSDB_CHUNK_MAX_POINTS) {
		snprintf(why, wsize, "chunk: %zu columns of %zu rows (expected %zu, at most %zu)", nc,
		         n, ncols, max);
		return -1;
	}
	r = (br){(const uint8_t *)data + off, len - (size_t)off, 0, 0};
	rel = ((const uint8_t *)data)[0] & 0x20;
	scratch = malloc((rel ? 5 : 1) * n * sizeof(*scratch));
	if (!scratch) {
		snprintf(why, wsize, "chunk: out of memory");
		return -1;
	}
	if (intcol_get(&r, t, n) < 0)
		goto bad;
	for (size_t i = 1; i < n; i++)
		if (t[i] <= t[i - 1])
			goto bad;
	if (rel) {
		if (agg_relative_get(&r, cols, n, scratch) < 0)
			goto bad;
	} else {
		for (size_t c = 0; c < ncols; c++)
			if (valcol_get(&r, cols[c], n, scratch) < 0)
				goto bad;
	}
	*nout = n;
	rc = 0;
	goto done;
bad:
	snprintf(why, wsize, "chunk: malformed or truncated at bit %zu", r.pos);
done:
	free(scratch);
	return rc;
}
