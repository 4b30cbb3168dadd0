/*
 * wire.c - the bounded buffer every monitor codec writes into, and
 * Prometheus remote-write 1.0: a WriteRequest encoded as protobuf, then
 * snappy block-compressed (snappy.c), and decoded back with Prometheus's
 * checks (see wire.h).
 *
 * The messages, from prometheus/prometheus prompb/remote.proto and
 * prompb/types.proto:
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; reserved 2;
 *                  repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                  (newer: exemplars = 3, histograms = 4) }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 *
 * On the wire (the protobuf encoding: a key varint (field << 3 | wire type),
 * then a varint (type 0), 8 little-endian bytes (type 1), a varint length and
 * that many bytes (type 2), or 4 bytes (type 5)), our typical sample is
 * `12 13 09 <8 bytes of the double> 10 <6-byte varint of the ms timestamp>`.
 *
 * The encoder sizes every series first (one pass, one array of sizes),
 * writes the whole request into one scratch block and compresses that
 * straight into the caller's buffer.  The decoder makes two passes over the
 * uncompressed request: the first checks its framing and counts series,
 * labels, samples and label bytes, so that the second fills one allocation
 * (series, labels, samples and strings) without growing anything.
 */
#include "wire_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bar_mbuf ---- */

char *bar_mbuf_reserve(bar_mbuf *b, size_t n)
{
	size_t max = b->max ? b->max : BAR_MBUF_DEFAULT_MAX, need, cap;
	char *p;

	if (b->failed)
		return NULL;
	/* len + n + 1 (the NUL) must fit under max */
	if (b->len >= max || n >= max - b->len) {
		b->failed = 1;
		return NULL;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap : 256;
		if (cap > max)
			cap = max;
		while (cap < need)
			cap = cap > max / 2 ? max : cap * 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

int bar_mbuf_add(bar_mbuf *b, const void *data, size_t n)
{
	/* data may lie in the buffer itself, which reserving may move */
	const char *d = data;
	int inside = b->p && d >= b->p && d < b->p + b->cap;
	size_t off = inside ? (size_t)(d - b->p) : 0;
	char *dst = bar_mbuf_reserve(b, n);

	if (!dst)
		return -1;
	if (n)
		memcpy(dst, inside ? b->p + off : d, n);
	bar_mbuf_commit(b, n);
	return 0;
}

int bar_mbuf_str(bar_mbuf *b, const char *s)
{
	return bar_mbuf_add(b, s, strlen(s));
}

int bar_mbuf_printf(bar_mbuf *b, const char *fmt, ...)
{
	size_t room = b->p && !b->failed ? b->cap - b->len : 0;
	va_list ap;
	char *dst;
	int n;

	if (b->failed)
		return -1;
	/* first into the room there is (cap never exceeds max), else reserve */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < room) {
		bar_mbuf_commit(b, (size_t)n);
		return 0;
	}
	if (room)
		b->p[b->len] = '\0';
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if (!(dst = bar_mbuf_reserve(b, (size_t)n)))
		return -1;
	va_start(ap, fmt);
	vsnprintf(dst, (size_t)n + 1, fmt, ap);
	va_end(ap);
	bar_mbuf_commit(b, (size_t)n);
	return 0;
}

void bar_mbuf_free(bar_mbuf *b)
{
	size_t max;

	if (!b)
		return;
	max = b->max;
	free(b->p);
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* ---- protobuf primitives ---- */

static inline size_t varint_len(uint64_t x)
{
	return x < 0x80 ? 1 : (size_t)(63 - __builtin_clzll(x)) / 7 + 1;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t x)
{
	while (x >= 0x80) {
		*p++ = (uint8_t)(x | 0x80);
		x >>= 7;
	}
	*p++ = (uint8_t)x;
	return p;
}

static inline void put_le64(uint8_t *p, uint64_t x)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &x, 8);
#else
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(x >> (8 * i));
#endif
}

static inline uint64_t get_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t x;

	memcpy(&x, p, 8);
	return x;
#else
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
#endif
}

static inline uint64_t double_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	return u;
}

/* Keys: (field << 3) | wire type. */
#define KEY_TIMESERIES 0x0a /* WriteRequest.timeseries, TimeSeries.labels, Label.name: 1, LEN */
#define KEY_LEN2 0x12       /* TimeSeries.samples, Label.value: 2, LEN */
#define KEY_VALUE 0x09      /* Sample.value: 1, I64 */
#define KEY_TIMESTAMP 0x10  /* Sample.timestamp: 2, VARINT */

/* ---- the encoder ---- */

/* The encoded size of a Sample: proto3 leaves out fields at their default
 * (0.0 as all-zero bits, so -0.0 and NaNs keep theirs; timestamp 0). */
static inline size_t sample_size(const bar_msample *s)
{
	uint64_t bits = double_bits(s->v);
	uint64_t t = (uint64_t)s->t_ms;

	return (bits ? 9 : 0) + (t ? 1 + varint_len(t) : 0);
}

static size_t series_size(const bar_mseries *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nlabels; i++) {
		size_t nl = strlen(s->labels[i].name), vl = strlen(s->labels[i].value);
		size_t body = 1 + varint_len(nl) + nl + 1 + varint_len(vl) + vl;

		n += 1 + varint_len(body) + body;
	}
	/* a Sample is at most 1 + 8 + 1 + 10 bytes: its length is one byte */
	for (size_t i = 0; i < s->nsamples; i++)
		n += 2 + sample_size(&s->samples[i]);
	return n;
}

static uint8_t *put_series(uint8_t *p, const bar_mseries *s)
{
	for (size_t i = 0; i < s->nlabels; i++) {
		const char *name = s->labels[i].name, *value = s->labels[i].value;
		size_t nl = strlen(name), vl = strlen(value);

		*p++ = KEY_TIMESERIES;
		p = put_varint(p, 1 + varint_len(nl) + nl + 1 + varint_len(vl) + vl);
		*p++ = KEY_TIMESERIES;
		p = put_varint(p, nl);
		memcpy(p, name, nl);
		p += nl;
		*p++ = KEY_LEN2;
		p = put_varint(p, vl);
		memcpy(p, value, vl);
		p += vl;
	}
	for (size_t i = 0; i < s->nsamples; i++) {
		const bar_msample *sm = &s->samples[i];
		uint64_t bits = double_bits(sm->v), t = (uint64_t)sm->t_ms;

		*p++ = KEY_LEN2;
		*p++ = (uint8_t)sample_size(sm);
		if (bits) {
			*p++ = KEY_VALUE;
			put_le64(p, bits);
			p += 8;
		}
		if (t) {
			*p++ = KEY_TIMESTAMP;
			p = put_varint(p, t);
		}
	}
	return p;
}

/*
 * Encode and compress.  The series must be as wire.h describes them
 * (labels non-NULL strings); the encoder does not check their order or
 * names: bar_rw_decode on the receiving side does.
 */
int bar_rw_encode(bar_mbuf *out, const bar_mseries *series, size_t n)
{
	size_t *sizes = NULL, total = 0;
	uint8_t *raw = NULL, *p;
	int rc = -1;

	if (out->failed)
		return -1;
	if (n > SIZE_MAX / sizeof(*sizes) || !(sizes = malloc((n ? n : 1) * sizeof(*sizes))))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		sizes[i] = series_size(&series[i]);
		total += 1 + varint_len(sizes[i]) + sizes[i];
	}
	/* snappy's preamble holds at most 2^32 - 1 */
	if (total > UINT32_MAX || !(raw = malloc(total ? total : 1)))
		goto fail;
	p = raw;
	for (size_t i = 0; i < n; i++) {
		*p++ = KEY_TIMESERIES;
		p = put_varint(p, sizes[i]);
		p = put_series(p, &series[i]);
	}
	rc = bar_snappy_compress(out, raw, (size_t)(p - raw));
	goto done;
fail:
	out->failed = 1;
done:
	free(raw);
	free(sizes);
	return rc;
}

/* ---- the decoder ---- */

typedef struct dec {
	const uint8_t *base; /* the uncompressed WriteRequest */
	char *why;
	size_t wsize;
} dec;

static int fail(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(dec *d, const char *fmt, ...)
{
	va_list ap;

	if (d->why && d->wsize) {
		va_start(ap, fmt);
		vsnprintf(d->why, d->wsize, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#define AT(d, p) ((size_t)((p) - (d)->base))

/* A varint at *pp (before end): 0, or -1 with why. */
static inline int get_varint(dec *d, const uint8_t **pp, const uint8_t *end, uint64_t *out,
                             const char *what)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	if (p < end && *p < 0x80) {
		*out = *p;
		*pp = p + 1;
		return 0;
	}
	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (p >= end)
			return fail(d, "byte %zu: truncated varint (%s)", AT(d, *pp), what);
		b = *p++;
		if (shift == 63 && b > 1)
			return fail(d, "byte %zu: varint overflows 64 bits (%s)", AT(d, *pp), what);
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = x;
			*pp = p;
			return 0;
		}
	}
	return fail(d, "byte %zu: varint overflows 64 bits (%s)", AT(d, *pp), what);
}

/* A key: its field number and wire type; refuses field 0, numbers over
 * 2^29 - 1 and the wire types protobuf does not define (6, 7) or that
 * proto3 messages never carry (the deprecated groups, 3 and 4). */
static inline int get_key(dec *d, const uint8_t **pp, const uint8_t *end, const char *msg,
                          uint32_t *field, unsigned *wt)
{
	const uint8_t *at = *pp;
	uint64_t k = 0;

	*field = 0;
	*wt = 0;
	if (get_varint(d, pp, end, &k, msg) < 0)
		return -1;
	if (k >> 3 > 0x1fffffff)
		return fail(d, "byte %zu: %s field number %llu overflows 2^29-1", AT(d, at), msg,
		            (unsigned long long)(k >> 3));
	*field = (uint32_t)(k >> 3);
	*wt = (unsigned)(k & 7);
	if (*field == 0)
		return fail(d, "byte %zu: %s field number 0", AT(d, at), msg);
	if (*wt == 3 || *wt == 4 || *wt > 5)
		return fail(d, "byte %zu: %s field %u has bad wire type %u", AT(d, at), msg, *field,
		            *wt);
	return 0;
}

/* The length of a LEN field at *pp, checked against what is left. */
static inline int get_len(dec *d, const uint8_t **pp, const uint8_t *end, const char *msg,
                          uint32_t field, size_t *len)
{
	const uint8_t *at = *pp;
	uint64_t n = 0;

	if (get_varint(d, pp, end, &n, msg) < 0)
		return -1;
	if (n > (uint64_t)(end - *pp))
		return fail(d, "byte %zu: %s field %u is %llu bytes long, %zu are left", AT(d, at),
		            msg, field, (unsigned long long)n, (size_t)(end - *pp));
	*len = (size_t)n;
	return 0;
}

/* Skip a field of wire type wt (after its key). */
static int skip(dec *d, const uint8_t **pp, const uint8_t *end, const char *msg, uint32_t field,
                unsigned wt)
{
	uint64_t v = 0;
	size_t n = 0;

	switch (wt) {
	case 0:
		return get_varint(d, pp, end, &v, msg);
	case 1:
	case 5:
		n = wt == 1 ? 8 : 4;
		if ((size_t)(end - *pp) < n)
			return fail(d, "byte %zu: %s field %u truncated (%zu of %zu bytes)",
			            AT(d, *pp), msg, field, (size_t)(end - *pp), n);
		*pp += n;
		return 0;
	default: /* 2; get_key refused the others */
		if (get_len(d, pp, end, msg, field, &n) < 0)
			return -1;
		*pp += n;
		return 0;
	}
}

static int want_len(dec *d, const uint8_t *at, const char *msg, const char *name, uint32_t field,
                    unsigned wt)
{
	if (wt == 2)
		return 0;
	return fail(d, "byte %zu: %s field %u (%s) has wire type %u, not 2 (length-delimited)",
	            AT(d, at), msg, field, name, wt);
}

typedef struct counts {
	size_t series, labels, samples, label_bytes;
} counts;

/* Pass 1: the framing of WriteRequest and TimeSeries, and the counts. */
static int count(dec *d, const uint8_t *p, const uint8_t *end, counts *c)
{
	while (p < end) {
		const uint8_t *at = p, *send, *sstart;
		size_t labels;
		uint32_t f;
		unsigned wt;
		size_t n = 0;

		if (get_key(d, &p, end, "WriteRequest", &f, &wt) < 0)
			return -1;
		if (f != 1) {
			if (skip(d, &p, end, "WriteRequest", f, wt) < 0)
				return -1;
			continue;
		}
		if (want_len(d, at, "WriteRequest", "timeseries", f, wt) < 0 ||
		    get_len(d, &p, end, "WriteRequest", f, &n) < 0)
			return -1;
		labels = c->labels;
		sstart = p;
		for (send = p + n; p < send;) {
			const uint8_t *fat = p;

			if (get_key(d, &p, send, "TimeSeries", &f, &wt) < 0)
				return -1;
			if (f == 1 || f == 2) {
				if (want_len(d, fat, "TimeSeries", f == 1 ? "labels" : "samples", f,
				             wt) < 0 ||
				    get_len(d, &p, send, "TimeSeries", f, &n) < 0)
					return -1;
				p += n;
				if (f == 1) {
					c->labels++;
					c->label_bytes += n;
				} else {
					c->samples++;
				}
			} else if (skip(d, &p, send, "TimeSeries", f, wt) < 0) {
				return -1;
			}
		}
		/* refused here already, so that empty series cost no memory */
		if (c->labels == labels)
			return fail(d, "byte %zu: series %zu has no __name__ label", AT(d, sstart),
			            c->series);
		c->series++;
	}
	return 0;
}

/* A label name: [a-zA-Z_][a-zA-Z0-9_]*; with colon, a metric name:
 * [a-zA-Z_:][a-zA-Z0-9_:]* (the remote-write 1.0 spec, prometheus/docs
 * content/docs/specs/remote_write_spec.md, and Prometheus's data model). */
static int valid_name(const uint8_t *s, size_t n, int colon)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (colon && c == ':')))
			return 0;
	}
	return 1;
}

/* UTF-8 as RFC 3629 has it (what Go's utf8.ValidString accepts): no
 * overlong forms, no surrogates, nothing over U+10FFFF.  The offset of the
 * first bad byte, or n when all is well. */
static size_t utf8_check(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			/* ASCII runs, 8 bytes at a time */
			while (i + 8 <= n) {
				uint64_t w;

				memcpy(&w, s + i, 8);
				if (w & 0x8080808080808080ULL)
					break;
				i += 8;
			}
			if (i < n && s[i] < 0x80)
				i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return i;
		}
		if (n - i <= k)
			return i;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += k + 1;
	}
	return n;
}

/* Up to 40 bytes of s, quoted, with anything unprintable as \xNN. */
static const char *quote(char *dst, size_t size, const uint8_t *s, size_t n)
{
	size_t o = 0;

	dst[o++] = '"';
	for (size_t i = 0; i < n && o + 6 < size; i++) {
		if (i == 40) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			dst[o++] = (char)s[i];
		else
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", s[i]);
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

typedef struct fill {
	bar_mlabel *labels;   /* the next free label */
	bar_msample *samples; /* the next free sample */
	char *str;            /* the next free string byte */
} fill;

static char *put_str(fill *f, const uint8_t *s, size_t n)
{
	char *r = f->str;

	memcpy(r, s, n);
	r[n] = '\0';
	f->str += n + 1;
	return r;
}

/* One Label message [p, end) of series si, label li. */
static int parse_label(dec *d, const uint8_t *p, const uint8_t *end, size_t si, size_t li, fill *f,
                       bar_mlabel *out)
{
	const uint8_t *name = NULL, *value = NULL, *start = p, *nul;
	size_t nl = 0, vl = 0, bad;
	char q[200];

	while (p < end) {
		const uint8_t *at = p;
		uint32_t fl;
		unsigned wt;
		size_t n = 0;

		if (get_key(d, &p, end, "Label", &fl, &wt) < 0)
			return -1;
		if (fl != 1 && fl != 2) {
			if (skip(d, &p, end, "Label", fl, wt) < 0)
				return -1;
			continue;
		}
		if (want_len(d, at, "Label", fl == 1 ? "name" : "value", fl, wt) < 0 ||
		    get_len(d, &p, end, "Label", fl, &n) < 0)
			return -1;
		/* a repeated scalar field: the last one counts, as protobuf says */
		if (fl == 1)
			name = p, nl = n;
		else
			value = p, vl = n;
		p += n;
	}
	if (!valid_name(name, nl, 0))
		return fail(d,
		            "byte %zu: series %zu label %zu: name %s is not [a-zA-Z_][a-zA-Z0-9_]*",
		            AT(d, start), si, li, quote(q, sizeof(q), name, nl));
	if (vl == 0)
		return fail(d, "byte %zu: series %zu label %zu (%s): empty value", AT(d, start), si,
		            li, quote(q, sizeof(q), name, nl));
	/* valid UTF-8, but the strings handed out are C strings */
	if ((nul = memchr(value, 0, vl)))
		return fail(d,
		            "byte %zu: series %zu label %zu (%s): value holds a NUL byte (byte %zu "
		            "of it)",
		            AT(d, nul), si, li, quote(q, sizeof(q), name, nl),
		            (size_t)(nul - value));
	if ((bad = utf8_check(value, vl)) != vl)
		return fail(
		        d,
		        "byte %zu: series %zu label %zu (%s): value is not UTF-8 (byte %zu of it)",
		        AT(d, value + bad), si, li, quote(q, sizeof(q), name, nl), bad);
	if (nl == 8 && memcmp(name, "__name__", 8) == 0 && !valid_name(value, vl, 1))
		return fail(d,
		            "byte %zu: series %zu: metric name %s is not [a-zA-Z_:][a-zA-Z0-9_:]*",
		            AT(d, start), si, quote(q, sizeof(q), value, vl));
	out->name = put_str(f, name, nl);
	out->value = put_str(f, value, vl);
	return 0;
}

/* One Sample message [p, end). */
static int parse_sample(dec *d, const uint8_t *p, const uint8_t *end, bar_msample *out)
{
	uint64_t bits = 0, t = 0;

	/* the common form, `09 <8 bytes> 10 <varint>` in exactly its length */
	if (end - p >= 11 && p[0] == KEY_VALUE && p[9] == KEY_TIMESTAMP) {
		const uint8_t *q = p + 10;

		bits = get_le64(p + 1);
		if (get_varint(d, &q, end, &t, "Sample timestamp") < 0)
			return -1;
		if (q == end)
			goto done;
		bits = t = 0;
	}
	while (p < end) {
		const uint8_t *at = p;
		uint32_t f;
		unsigned wt;

		if (get_key(d, &p, end, "Sample", &f, &wt) < 0)
			return -1;
		if (f == 1) {
			if (wt != 1)
				return fail(
				        d,
				        "byte %zu: Sample field 1 (value) has wire type %u, not 1 "
				        "(64-bit)",
				        AT(d, at), wt);
			if (end - p < 8)
				return fail(d, "byte %zu: Sample value truncated (%zu of 8 bytes)",
				            AT(d, p), (size_t)(end - p));
			bits = get_le64(p);
			p += 8;
		} else if (f == 2) {
			if (wt != 0)
				return fail(d,
				            "byte %zu: Sample field 2 (timestamp) has wire type "
				            "%u, not 0 "
				            "(varint)",
				            AT(d, at), wt);
			if (get_varint(d, &p, end, &t, "Sample timestamp") < 0)
				return -1;
		} else if (skip(d, &p, end, "Sample", f, wt) < 0) {
			return -1;
		}
	}
done:
	memcpy(&out->v, &bits, 8);
	out->t_ms = (int64_t)t;
	return 0;
}

/* One TimeSeries message [p, end), the si-th; its framing was checked. */
static int parse_series(dec *d, const uint8_t *p, const uint8_t *end, size_t si, fill *f,
                        bar_mseries *out)
{
	const uint8_t *start = p;
	bar_mlabel *labels = f->labels;
	bar_msample *samples = f->samples;
	size_t nl = 0, ns = 0;
	int have_name = 0;

	while (p < end) {
		const uint8_t *at = p;
		uint32_t fl;
		unsigned wt;
		size_t n = 0;

		if (get_key(d, &p, end, "TimeSeries", &fl, &wt) < 0)
			return -1;
		if (fl != 1 && fl != 2) {
			if (skip(d, &p, end, "TimeSeries", fl, wt) < 0)
				return -1;
			continue;
		}
		if (get_len(d, &p, end, "TimeSeries", fl, &n) < 0)
			return -1;
		if (fl == 1) {
			bar_mlabel *l = &labels[nl];

			if (parse_label(d, p, p + n, si, nl, f, l) < 0)
				return -1;
			if (nl > 0 && strcmp(labels[nl - 1].name, l->name) >= 0)
				return fail(d,
				            "byte %zu: series %zu label %zu: name \"%s\" %s \"%s\"",
				            AT(d, at), si, nl, l->name,
				            strcmp(labels[nl - 1].name, l->name) == 0
				                    ? "repeats"
				                    : "is not sorted: it comes after",
				            labels[nl - 1].name);
			if (strcmp(l->name, "__name__") == 0)
				have_name = 1;
			nl++;
		} else {
			bar_msample *s = &samples[ns];

			if (parse_sample(d, p, p + n, s) < 0)
				return -1;
			if (ns > 0 && s->t_ms < samples[ns - 1].t_ms)
				return fail(
				        d,
				        "byte %zu: series %zu sample %zu: timestamp %lld goes back "
				        "(before %lld)",
				        AT(d, at), si, ns, (long long)s->t_ms,
				        (long long)samples[ns - 1].t_ms);
			ns++;
		}
		p += n;
	}
	if (!have_name)
		return fail(d, "byte %zu: series %zu has no __name__ label", AT(d, start), si);
	out->labels = labels;
	out->nlabels = nl;
	out->samples = samples;
	out->nsamples = ns;
	f->labels += nl;
	f->samples += ns;
	return 0;
}

/* Pass 2: every series into the arrays that pass 1 sized. */
static int parse_request(dec *d, const uint8_t *p, const uint8_t *end, fill *f, bar_mseries *series)
{
	size_t si = 0;

	while (p < end) {
		uint32_t fl;
		unsigned wt;
		size_t n = 0;

		if (get_key(d, &p, end, "WriteRequest", &fl, &wt) < 0)
			return -1;
		if (fl != 1) {
			if (skip(d, &p, end, "WriteRequest", fl, wt) < 0)
				return -1;
			continue;
		}
		if (get_len(d, &p, end, "WriteRequest", fl, &n) < 0 ||
		    parse_series(d, p, p + n, si, f, &series[si]) < 0)
			return -1;
		si++;
		p += n;
	}
	return 0;
}

/*
 * The request's memory is one block: series, labels, samples, then the
 * strings (each label's name and value, NUL-terminated; a Label message of
 * n bytes holds at most n bytes of them, plus the two NULs).
 */
int bar_rw_decode(bar_rw_request *out, const void *body, size_t len, size_t max_uncompressed,
                  char *why, size_t wsize)
{
	bar_mbuf raw = {0};
	dec d = {.why = why, .wsize = wsize};
	counts c = {0};
	char *mem = NULL, swhy[200];
	size_t size;
	bar_mseries *series;
	fill f;
	int rc = -1;

	raw.max = max_uncompressed < SIZE_MAX ? max_uncompressed + 1 : SIZE_MAX;
	if (bar_snappy_uncompress(&raw, body, len, max_uncompressed, swhy, sizeof(swhy)) < 0) {
		fail(&d, "snappy: %s", swhy);
		goto done;
	}
	d.base = (const uint8_t *)raw.p;
	if (raw.len > SIZE_MAX / 64) {
		fail(&d, "request of %zu bytes is too large", raw.len);
		goto done;
	}
	if (count(&d, d.base, d.base + raw.len, &c) < 0)
		goto done;
	size = c.series * sizeof(bar_mseries) + c.labels * sizeof(bar_mlabel) +
	       c.samples * sizeof(bar_msample) + c.label_bytes + 2 * c.labels;
	if (!(mem = malloc(size ? size : 1))) {
		fail(&d, "out of memory for %zu series, %zu samples", c.series, c.samples);
		goto done;
	}
	series = (bar_mseries *)(void *)mem;
	f.labels = (bar_mlabel *)(void *)(series + c.series);
	f.samples = (bar_msample *)(void *)(f.labels + c.labels);
	f.str = (char *)(f.samples + c.samples);
	if (parse_request(&d, d.base, d.base + raw.len, &f, series) < 0)
		goto done;
	out->series = series;
	out->nseries = c.series;
	out->nsamples = c.samples;
	out->mem_ = mem;
	mem = NULL;
	rc = 0;
done:
	free(mem);
	bar_mbuf_free(&raw);
	return rc;
}

void bar_rw_request_free(bar_rw_request *r)
{
	if (!r)
		return;
	free(r->mem_);
	memset(r, 0, sizeof(*r));
}
