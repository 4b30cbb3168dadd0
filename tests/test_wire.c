/*
 * test_wire.c - monitor/wire.h: the bounded buffer, snappy, remote-write
 * and the text exposition format.
 *
 * Without arguments: the unit tests (round trips, every refusal with its
 * message, hand-made streams of every snappy element, the renderer's
 * escaping and number forms, two threads at once).  The other modes serve
 * tests/monitor_wire_check.py, which holds our output to reference
 * implementations (python-snappy, VictoriaMetrics, promtool):
 *
 *   test_wire snappy-compress      stdin, compressed, to stdout
 *   test_wire snappy-uncompress    stdin, uncompressed, to stdout (exit 1
 *                                  and the reason on stderr when refused)
 *   test_wire rw-fixture BASE BODY a remote-write body of test series with
 *                                  timestamps from BASE (Unix ms) into the
 *                                  file BODY; the series it holds on stdout,
 *                                  as VictoriaMetrics' /api/v1/export
 *                                  writes them (JSON lines)
 *   test_wire catalogue            the whole metric catalogue
 *                                  (monitor/metrics.c) in the text format
 */
#include "metrics.h"
#include "wire.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define CHECKF(c, ...)                                                                             \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #c);      \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* xorshift64: the same data on every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t bits_of(double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	return u;
}

/* ---- bar_mbuf ---- */

static void test_mbuf(void)
{
	bar_mbuf b = {0}, m = {.max = 8}, q = {.max = 8};
	char big[1000];

	CHECK(bar_mbuf_str(&b, "abc") == 0 && b.len == 3 && strcmp(b.p, "abc") == 0);
	CHECK(bar_mbuf_printf(&b, "%d-%s", 42, "x") == 0 && strcmp(b.p, "abc42-x") == 0);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(bar_mbuf_printf(&b, "<%s>", big) == 0 && b.len == 7 + 1001 && b.p[b.len] == '\0');
	CHECK(b.p[7] == '<' && b.p[8] == 'y' && b.p[b.len - 1] == '>');
	/* appending the buffer to itself, across a reallocation */
	for (int i = 0; i < 6; i++) {
		size_t len = b.len;

		CHECK(bar_mbuf_add(&b, b.p, len) == 0 && b.len == 2 * len);
		CHECK(memcmp(b.p, b.p + len, len) == 0);
	}
	CHECK(b.p[b.len] == '\0' && !b.failed);
	bar_mbuf_free(&b);
	CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
	bar_mbuf_free(NULL);

	/* the ceiling counts the NUL; a failure sticks */
	CHECK(bar_mbuf_str(&m, "1234567") == 0 && m.len == 7);
	CHECK(bar_mbuf_add(&m, "x", 1) == -1 && m.failed);
	CHECK(bar_mbuf_add(&m, "", 0) == -1 && bar_mbuf_printf(&m, "%s", "") == -1);
	CHECK(m.len == 7 && strcmp(m.p, "1234567") == 0);
	bar_mbuf_free(&m);
	CHECK(m.max == 8 && !m.failed);
	CHECK(bar_mbuf_printf(&q, "%s", "123") == 0);
	CHECK(bar_mbuf_printf(&q, "%s", "456789") == -1 && q.failed && strcmp(q.p, "123") == 0);
	bar_mbuf_free(&q);
}

/* ---- snappy ---- */

/* Compress and uncompress; returns the compressed size. */
static size_t snappy_rt(const uint8_t *data, size_t n, const char *what)
{
	bar_mbuf c = {0}, u = {0}, v = {0};
	char why[200] = "";
	int rc;

	CHECKF(bar_snappy_compress(&c, data, n) == 0, "%s", what);
	CHECKF(c.len <= 32 + n + n / 6, "%s: %zu bytes from %zu", what, c.len, n);
	/* into a buffer that holds something already */
	bar_mbuf_str(&u, "head");
	rc = bar_snappy_uncompress(&u, c.p, c.len, n, why, sizeof(why));
	CHECKF(rc == 0 && u.len == n + 4 && memcmp(u.p, "head", 4) == 0 &&
	               (n == 0 || memcmp(u.p + 4, data, n) == 0),
	       "%s: %s", what, why);
	if (n > 0) {
		rc = bar_snappy_uncompress(&v, c.p, c.len, n - 1, why, sizeof(why));
		CHECKF(rc == -1 && strstr(why, "over the limit"), "%s: %s", what, why);
	}
	n = c.len;
	bar_mbuf_free(&c);
	bar_mbuf_free(&u);
	bar_mbuf_free(&v);
	return n;
}

/* Words, as in a text: something a real compressor must do well on. */
static void fill_text(uint8_t *p, size_t n)
{
	static const char *const words[] = {"series", "sample", "label", "value", "collector",
	                                    "agent",  "the",    "of",    "a",     "timestamp",
	                                    "cpu",    "memory", "disk",  "bytes", "percent"};
	size_t o = 0;

	while (o < n) {
		const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];

		for (; *w && o < n; w++)
			p[o++] = (uint8_t)*w;
		if (o < n)
			p[o++] = rnd() % 8 ? ' ' : '\n';
	}
}

static void test_snappy_roundtrip(void)
{
	static const size_t sizes[] = {0,    1,     4,     15,    16,     17,     100,
	                               4095, 65535, 65536, 65537, 200000, 1 << 20};
	size_t big = 1 << 20, c;
	uint8_t *buf = malloc(big);
	char what[64];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)rnd();
		snprintf(what, sizeof(what), "random %zu", n);
		c = snappy_rt(buf, n, what);
		CHECKF(n < 1000 || c >= n, "%s: %zu", what, c); /* random data does not shrink */
		memset(buf, 0, n);
		snprintf(what, sizeof(what), "zeros %zu", n);
		c = snappy_rt(buf, n, what);
		CHECKF(n < 1000 || c < n / 15, "%s: %zu", what, c);
		for (size_t j = 0; j < n; j++)
			buf[j] = "abc"[j % 3];
		snprintf(what, sizeof(what), "abc %zu", n);
		c = snappy_rt(buf, n, what);
		CHECKF(n < 1000 || c < n / 15, "%s: %zu", what, c);
		fill_text(buf, n);
		snprintf(what, sizeof(what), "text %zu", n);
		c = snappy_rt(buf, n, what);
		CHECKF(n < 10000 || c < n / 2, "%s: %zu", what, c);
		/* runs of random length of random bytes */
		for (size_t j = 0; j < n;) {
			size_t run = 1 + rnd() % 40;
			uint8_t v = (uint8_t)rnd();

			for (; run-- && j < n; j++)
				buf[j] = v;
		}
		snprintf(what, sizeof(what), "runs %zu", n);
		snappy_rt(buf, n, what);
	}
	free(buf);
}

typedef struct stream_case {
	const char *what;
	const char *in;
	size_t n;
	size_t max;
	const char *want; /* refused with this in the reason; NULL: accepted */
	const char *out;
	size_t out_n;
} stream_case;

#define S(s) s, sizeof(s) - 1

static void test_snappy_streams(void)
{
	static const stream_case cases[] = {
	        {"empty stream", S("\x00"), 10, NULL, S("")},
	        {"literal", S("\x03\x08xyz"), 10, NULL, S("xyz")},
	        {"1-byte-offset copy overlapping (xababab)", S("\x07\x08xab\x01\x02"), 10, NULL,
	         S("xababab")},
	        {"2-byte-offset copy",
	         S("\x08\x0c"
	           "abcd"
	           "\x0e\x04\x00"),
	         10, NULL, S("abcdabcd")},
	        {"4-byte-offset copy",
	         S("\x08\x0c"
	           "abcd"
	           "\x0f\x04\x00\x00\x00"),
	         10, NULL, S("abcdabcd")},
	        {"run of one byte", S("\x0a\x00z\x15\x01"), 20, NULL, S("zzzzzzzzzz")},
	        {"empty input", S(""), 10, "byte 0: truncated length preamble", NULL, 0},
	        {"truncated preamble", S("\x80"), 10, "byte 1: truncated length preamble", NULL, 0},
	        {"preamble over 32 bits", S("\xff\xff\xff\xff\x7f"), 10,
	         "length preamble over 2^32-1", NULL, 0},
	        {"length over max", S("\x64\x00"), 50,
	         "uncompressed length 100 over the limit of 50", NULL, 0},
	        {"literal past the input",
	         S("\x05\x10"
	           "ab"),
	         10, "byte 1: literal of 5 bytes runs past the input (2 left)", NULL, 0},
	        {"literal over the declared length",
	         S("\x02\x10"
	           "abcde"),
	         10, "byte 1: literal of 5 bytes overruns the declared length 2", NULL, 0},
	        {"literal length truncated", S("\x05\xf0"), 10, "byte 1: literal length truncated",
	         NULL, 0},
	        {"copy offset 0",
	         S("\x08\x0c"
	           "abcd"
	           "\x01\x00"),
	         10, "byte 6: copy offset 0", NULL, 0},
	        {"copy beyond the output",
	         S("\x08\x0c"
	           "abcd"
	           "\x0e\x05\x00"),
	         10, "byte 6: copy offset 5 beyond the output (4 bytes)", NULL, 0},
	        {"copy first", S("\x04\x01\x01"), 10,
	         "byte 1: copy offset 1 beyond the output (0 bytes)", NULL, 0},
	        {"copy truncated",
	         S("\x08\x0c"
	           "abcd"
	           "\x0e\x01"),
	         10, "byte 6: copy truncated", NULL, 0},
	        {"4-byte copy truncated",
	         S("\x08\x0c"
	           "abcd"
	           "\x0f\x01\x00"),
	         10, "byte 6: copy truncated", NULL, 0},
	        {"copy over the declared length",
	         S("\x06\x0c"
	           "abcd"
	           "\x01\x04"),
	         10, "byte 6: copy of 4 bytes overruns the declared length 6", NULL, 0},
	        {"stream ends early",
	         S("\x0a\x0c"
	           "abcd"),
	         10, "byte 6: input ends after 4 of the 10 declared bytes", NULL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const stream_case *c = &cases[i];
		bar_mbuf out = {0};
		char why[200] = "";
		int rc = bar_snappy_uncompress(&out, c->in, c->n, c->max, why, sizeof(why));

		if (c->want) {
			CHECKF(rc == -1 && strstr(why, c->want), "%s: rc %d, \"%s\"", c->what, rc,
			       why);
			CHECKF(out.len == 0 && (!out.p || out.p[0] == '\0'), "%s", c->what);
		} else {
			CHECKF(rc == 0 && out.len == c->out_n &&
			               memcmp(out.p, c->out, c->out_n) == 0,
			       "%s: rc %d, \"%s\"", c->what, rc, why);
		}
		bar_mbuf_free(&out);
	}

	/* literals with 1, 2, 3 and 4 length bytes (tags 60..63) */
	static const size_t lens[] = {61, 256, 300, 65536, 70000, 1 << 24, (1 << 24) + 5};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i], m = n - 1, o = 0;
		int nb = m < 256 ? 1 : m < 65536 ? 2 : m < (1 << 24) ? 3 : 4;
		uint8_t *in = malloc(n + 16);
		bar_mbuf out = {.max = (size_t)64 << 20};
		char why[200] = "";

		for (size_t x = n;; x >>= 7) {
			in[o++] = (uint8_t)(x >= 0x80 ? x | 0x80 : x);
			if (x < 0x80)
				break;
		}
		in[o++] = (uint8_t)((59 + nb) << 2);
		for (int k = 0; k < nb; k++)
			in[o++] = (uint8_t)(m >> (8 * k));
		for (size_t k = 0; k < n; k++)
			in[o++] = (uint8_t)(k * 7);
		CHECKF(bar_snappy_uncompress(&out, in, o, n, why, sizeof(why)) == 0 &&
		               out.len == n && (uint8_t)out.p[n - 1] == (uint8_t)((n - 1) * 7),
		       "literal of %zu: %s", n, why);
		bar_mbuf_free(&out);
		free(in);
	}

	/* every truncation of a real stream is refused, never read past */
	{
		uint8_t data[3000];
		bar_mbuf c = {0};

		fill_text(data, sizeof(data));
		bar_snappy_compress(&c, data, sizeof(data));
		for (size_t n = 0; n < c.len; n++) {
			char *cut = malloc(n ? n : 1);
			bar_mbuf out = {0};
			char why[200] = "";

			memcpy(cut, c.p, n);
			CHECKF(bar_snappy_uncompress(&out, cut, n, sizeof(data), why,
			                             sizeof(why)) == -1 &&
			               why[0],
			       "cut at %zu", n);
			bar_mbuf_free(&out);
			free(cut);
		}
		bar_mbuf_free(&c);
	}
}

/* ---- remote-write ---- */

static int series_equal(const bar_mseries *a, size_t na, const bar_mseries *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		if (a[i].nlabels != b[i].nlabels || a[i].nsamples != b[i].nsamples)
			return 0;
		for (size_t j = 0; j < a[i].nlabels; j++)
			if (strcmp(a[i].labels[j].name, b[i].labels[j].name) ||
			    strcmp(a[i].labels[j].value, b[i].labels[j].value))
				return 0;
		for (size_t j = 0; j < a[i].nsamples; j++)
			if (a[i].samples[j].t_ms != b[i].samples[j].t_ms ||
			    bits_of(a[i].samples[j].v) != bits_of(b[i].samples[j].v))
				return 0;
	}
	return 1;
}

static const bar_mlabel labels_a[] = {{"__name__", "barista_cpu_usage_percent"},
                                      {"mci", "web"},
                                      {"ns", "default"},
                                      {"vm", "web-1"}};
static const bar_mlabel labels_b[] = {
        {"__name__", "barista_filesystem_used_bytes"},
        {"device", "/dev/sda1"},
        {"fstype", "ext4"},
        {"mci", "web"},
        {"mount", "/mnt/d\xc3\xa9j\xc3\xa0 \"vu\"\\\n\xf0\x9f\x93\x88"},
        {"ns", "default"},
        {"vm", "web-1"}};
static const bar_mlabel labels_c[] = {{"A_b9", "x"}, {"__name__", "a:b_c"}, {"a_", "y"}};

static void test_rw_roundtrip(void)
{
	static const bar_msample sa[] = {
	        {1700000000000, 12.34},    {1700000002000, 0},
	        {1700000004000, -0.0},     {1700000006000, NAN},
	        {1700000008000, INFINITY}, {1700000010000, -INFINITY},
	        {1700000010000, 5e-324},   {1700000012000, 1.7976931348623157e308},
	        {1700000014000, 1},        {1700000016000, 0}};
	static const bar_msample sb[] = {{-5, 1e9}, {-5, 16663195648.0}, {INT64_MAX, 3}};
	static const bar_msample sc[] = {{INT64_MIN, 0.5}, {-1, 0.25}, {0, 0.125}, {1, 0.0625}};
	bar_mseries s[] = {{labels_a, 4, sa, 10},
	                   {labels_b, 7, sb, 3},
	                   {labels_c, 3, sc, 4},
	                   {labels_a, 4, NULL, 0}};
	bar_mbuf body = {0};
	bar_rw_request r = {0}, e = {0};
	char why[256] = "";
	int rc;

	CHECK(bar_rw_encode(&body, s, 4) == 0);
	rc = bar_rw_decode(&r, body.p, body.len, 1 << 20, why, sizeof(why));
	CHECKF(rc == 0, "%s", why);
	if (rc == 0) {
		CHECK(series_equal(r.series, r.nseries, s, 4));
		CHECK(r.nsamples == 17);
		/* NaN's payload survives: Prometheus's staleness marker is one */
		CHECK(bits_of(r.series[0].samples[3].v) == bits_of(NAN));
	}
	bar_rw_request_free(&r);
	bar_rw_request_free(NULL);

	/* an empty request */
	bar_mbuf_free(&body);
	CHECK(bar_rw_encode(&body, NULL, 0) == 0);
	rc = bar_rw_decode(&e, body.p, body.len, 1 << 20, why, sizeof(why));
	CHECKF(rc == 0 && e.nseries == 0 && e.nsamples == 0, "%s", why);
	bar_rw_request_free(&e);

	/* a ceiling too low for the body fails cleanly */
	{
		bar_mbuf small = {.max = 16};

		CHECK(bar_rw_encode(&small, s, 4) == -1 && small.failed);
		bar_mbuf_free(&small);
	}
	/* max_uncompressed is enforced */
	bar_mbuf_free(&body);
	bar_rw_encode(&body, s, 4);
	rc = bar_rw_decode(&e, body.p, body.len, 100, why, sizeof(why));
	CHECKF(rc == -1 && strstr(why, "snappy: byte 0: uncompressed length") &&
	               strstr(why, "over the limit of 100"),
	       "%s", why);
	bar_mbuf_free(&body);
}

/* A protobuf message under construction, for hand-made requests. */
typedef struct pb {
	uint8_t b[2048];
	size_t n;
} pb;

static void pb_byte(pb *p, unsigned v)
{
	p->b[p->n++] = (uint8_t)v;
}

static void pb_varint(pb *p, uint64_t v)
{
	while (v >= 0x80) {
		pb_byte(p, (unsigned)(v | 0x80));
		v >>= 7;
	}
	pb_byte(p, (unsigned)v);
}

static void pb_raw(pb *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void pb_len(pb *p, unsigned field, const void *d, size_t n)
{
	pb_varint(p, field << 3 | 2);
	pb_varint(p, n);
	pb_raw(p, d, n);
}

static void pb_msg(pb *p, unsigned field, const pb *m)
{
	pb_len(p, field, m->b, m->n);
}

static void pb_label(pb *series, const char *name, const char *value)
{
	pb l = {.n = 0};

	pb_len(&l, 1, name, strlen(name));
	pb_len(&l, 2, value, strlen(value));
	pb_msg(series, 1, &l);
}

static void pb_sample(pb *series, double v, int64_t t)
{
	pb s = {.n = 0};
	uint64_t bits = bits_of(v);

	pb_byte(&s, 0x09);
	for (int i = 0; i < 8; i++)
		pb_byte(&s, (unsigned)(bits >> (8 * i)) & 0xff);
	pb_byte(&s, 0x10);
	pb_varint(&s, (uint64_t)t);
	pb_msg(series, 2, &s);
}

/* A series of the labels "name=value" ... and n samples at t = 1000 * i. */
static pb pb_series(const char *const *kv, size_t nkv, size_t n)
{
	pb s = {.n = 0};

	for (size_t i = 0; i + 1 < nkv; i += 2)
		pb_label(&s, kv[i], kv[i + 1]);
	for (size_t i = 0; i < n; i++)
		pb_sample(&s, (double)i / 4, (int64_t)(1000 * i));
	return s;
}

static int decode_raw(bar_rw_request *r, const pb *raw, char *why, size_t wsize)
{
	bar_mbuf body = {0};
	int rc;

	bar_snappy_compress(&body, raw->b, raw->n);
	rc = bar_rw_decode(r, body.p, body.len, 1 << 20, why, wsize);
	bar_mbuf_free(&body);
	return rc;
}

static void refused(const pb *raw, const char *want, const char *what)
{
	bar_rw_request r = {0};
	char why[256] = "";
	int rc = decode_raw(&r, raw, why, sizeof(why));

	CHECKF(rc == -1 && strstr(why, want), "%s: rc %d, \"%s\" (wanted \"%s\")", what, rc, why,
	       want);
	CHECK(r.series == NULL && r.mem_ == NULL);
	if (rc == 0)
		bar_rw_request_free(&r);
}

static void refused_series(const char *const *kv, size_t nkv, const char *want, const char *what)
{
	pb s = pb_series(kv, nkv, 2), req = {.n = 0};

	pb_msg(&req, 1, &s);
	refused(&req, want, what);
}

#define KV(...)                                                                                    \
	((const char *const[]){__VA_ARGS__}),                                                      \
	        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

static void test_rw_refusals(void)
{
	pb r;

	/* framing */
	r = (pb){.n = 0};
	pb_byte(&r, 0x0a);
	pb_byte(&r, 0x80);
	refused(&r, "byte 1: truncated varint", "truncated length varint");
	r = (pb){.n = 0};
	pb_byte(&r, 0x80);
	refused(&r, "byte 0: truncated varint", "truncated key varint");
	r = (pb){.n = 0};
	pb_byte(&r, 0x0a);
	for (int i = 0; i < 10; i++)
		pb_byte(&r, 0xff);
	pb_byte(&r, 0x01);
	refused(&r, "byte 1: varint overflows 64 bits", "11-byte varint");
	r = (pb){.n = 0};
	pb_byte(&r, 0x0a);
	pb_byte(&r, 0x05);
	pb_byte(&r, 0x00);
	refused(&r, "byte 1: WriteRequest field 1 is 5 bytes long, 1 are left", "length beyond");
	r = (pb){.n = 0};
	pb_byte(&r, 0x02);
	pb_byte(&r, 0x00);
	refused(&r, "byte 0: WriteRequest field number 0", "field 0");
	r = (pb){.n = 0};
	pb_varint(&r, (uint64_t)1 << 32 | 2);
	pb_byte(&r, 0x00);
	refused(&r, "field number 536870912 overflows 2^29-1", "field overflow");
	r = (pb){.n = 0};
	pb_byte(&r, 0x0e);
	refused(&r, "byte 0: WriteRequest field 1 has bad wire type 6", "wire type 6");
	r = (pb){.n = 0};
	pb_byte(&r, 0x1f);
	refused(&r, "WriteRequest field 3 has bad wire type 7", "wire type 7");
	r = (pb){.n = 0};
	pb_byte(&r, 0x0b);
	pb_byte(&r, 0x0c);
	refused(&r, "WriteRequest field 1 has bad wire type 3", "start group");
	r = (pb){.n = 0};
	pb_byte(&r, 0x08);
	pb_byte(&r, 0x01);
	refused(&r, "byte 0: WriteRequest field 1 (timeseries) has wire type 0, not 2",
	        "timeseries as a varint");
	r = (pb){.n = 0};
	pb_byte(&r, 0x29); /* field 5, 64-bit, 3 bytes */
	pb_raw(&r, "abc", 3);
	refused(&r, "byte 1: WriteRequest field 5 truncated (3 of 8 bytes)", "fixed64 truncated");
	{
		pb s = {.n = 0}, q = {.n = 0};

		pb_label(&s, "__name__", "m");
		pb_byte(&s, 0x10); /* samples as a varint */
		pb_byte(&s, 0x01);
		pb_msg(&q, 1, &s);
		refused(&q, "TimeSeries field 2 (samples) has wire type 0, not 2",
		        "samples as varint");
	}
	{
		pb s = {.n = 0}, q = {.n = 0}, l = {.n = 0};

		pb_byte(&l, 0x0d); /* name as fixed32 */
		pb_raw(&l, "abcd", 4);
		pb_msg(&s, 1, &l);
		pb_msg(&q, 1, &s);
		refused(&q, "Label field 1 (name) has wire type 5, not 2", "name as fixed32");
	}
	{
		pb s = {.n = 0}, q = {.n = 0}, m = {.n = 0};

		pb_label(&s, "__name__", "m");
		pb_byte(&m, 0x08); /* value as varint */
		pb_byte(&m, 0x01);
		pb_msg(&s, 2, &m);
		pb_msg(&q, 1, &s);
		refused(&q, "Sample field 1 (value) has wire type 0, not 1", "value as varint");
		s = (pb){.n = 0}, q = (pb){.n = 0}, m = (pb){.n = 0};
		pb_label(&s, "__name__", "m");
		pb_byte(&m, 0x09);
		pb_raw(&m, "abc", 3);
		pb_msg(&s, 2, &m);
		pb_msg(&q, 1, &s);
		refused(&q, "Sample value truncated (3 of 8 bytes)", "value truncated");
		s = (pb){.n = 0}, q = (pb){.n = 0}, m = (pb){.n = 0};
		pb_label(&s, "__name__", "m");
		pb_byte(&m, 0x11); /* timestamp as fixed64 */
		pb_raw(&m, "abcdefgh", 8);
		pb_msg(&s, 2, &m);
		pb_msg(&q, 1, &s);
		refused(&q, "Sample field 2 (timestamp) has wire type 1, not 0",
		        "timestamp as fixed64");
		s = (pb){.n = 0}, q = (pb){.n = 0}, m = (pb){.n = 0};
		pb_label(&s, "__name__", "m");
		pb_byte(&m, 0x10);
		pb_byte(&m, 0xff);
		pb_msg(&s, 2, &m);
		pb_msg(&q, 1, &s);
		refused(&q, "truncated varint (Sample timestamp)", "timestamp truncated");
	}

	/* what Prometheus checks */
	refused_series(KV("job", "a", "__name__", "m"),
	               "series 0 label 1: name \"__name__\" is not sorted: it comes after \"job\"",
	               "unsorted labels");
	refused_series(KV("__name__", "m", "a", "1", "a", "2"),
	               "series 0 label 2: name \"a\" repeats \"a\"", "duplicate label");
	refused_series(KV("job", "a"), "series 0 has no __name__ label", "missing __name__");
	{
		pb s1 = pb_series(KV("__name__", "m"), 1), s2 = {.n = 0}, q = {.n = 0};

		pb_sample(&s2, 1, 1000); /* no labels at all */
		pb_msg(&q, 1, &s1);
		pb_msg(&q, 1, &s2);
		refused(&q, "series 1 has no __name__ label", "series without labels");
	}
	refused_series(KV("__name__", "m", "a-b", "x"),
	               "series 0 label 1: name \"a-b\" is not [a-zA-Z_][a-zA-Z0-9_]*", "bad name");
	refused_series(KV("1a", "x", "__name__", "m"), "name \"1a\" is not", "digit first");
	refused_series(KV("__name__", "m", "", "x"), "label 1: name \"\" is not", "empty name");
	refused_series(KV("__name__", "m", "a\xc3", "x"), "name \"a\\xc3\" is not",
	               "non-ASCII name");
	refused_series(KV("__name__", "m", "a", ""), "series 0 label 1 (\"a\"): empty value",
	               "empty value");
	refused_series(KV("__name__", "m", "a", "x\xc3\x28"), "value is not UTF-8 (byte 1 of it)",
	               "bad UTF-8");
	refused_series(KV("__name__", "m", "a", "\xc0\xaf"), "value is not UTF-8 (byte 0 of it)",
	               "overlong UTF-8");
	refused_series(KV("__name__", "m", "a", "\xed\xa0\x80"), "value is not UTF-8",
	               "UTF-16 surrogate");
	refused_series(KV("__name__", "m", "a", "\xf4\x90\x80\x80"), "value is not UTF-8",
	               "over U+10FFFF");
	refused_series(KV("__name__", "m", "a", "ab\xe2\x82"), "value is not UTF-8 (byte 2 of it)",
	               "truncated UTF-8");
	{
		pb s = {.n = 0}, q = {.n = 0};

		pb_label(&s, "__name__", "m");
		pb_len(&s, 1,
		       "\x0a\x01"
		       "a"
		       "\x12\x03"
		       "b\0c",
		       8);
		pb_msg(&q, 1, &s);
		refused(&q, "series 0 label 1 (\"a\"): value holds a NUL byte (byte 1 of it)",
		        "NUL in a value");
	}
	refused_series(KV("__name__", "m-x"), "metric name \"m-x\" is not [a-zA-Z_:][a-zA-Z0-9_:]*",
	               "bad metric name");
	{
		pb s = {.n = 0}, q = {.n = 0};

		pb_label(&s, "__name__", "m");
		pb_sample(&s, 1, 2000);
		pb_sample(&s, 2, 2000); /* equal: allowed */
		pb_sample(&s, 3, 1999);
		pb_msg(&q, 1, &s);
		refused(&q, "series 0 sample 2: timestamp 1999 goes back (before 2000)",
		        "time going back");
	}
	{
		/* the series index and byte position are the bad one's */
		pb s1 = pb_series(KV("__name__", "m"), 1),
		   s2 = pb_series(KV("__name__", "n", "b", ""), 1);
		pb q = {.n = 0};
		char want[64];

		pb_msg(&q, 1, &s1);
		snprintf(want, sizeof(want), "byte %zu: series 1 label 1", q.n + 2 + 17);
		pb_msg(&q, 1, &s2);
		refused(&q, want, "position of the second series");
	}
	{
		bar_rw_request rq;
		char why[200] = "";

		CHECK(bar_rw_decode(&rq,
		                    "\x05\x10"
		                    "ab",
		                    4, 100, why, sizeof(why)) == -1 &&
		      strstr(why, "snappy: byte 1: literal of 5 bytes runs past the input"));
		CHECK(bar_rw_decode(&rq, "", 0, 100, why, sizeof(why)) == -1 &&
		      strstr(why, "snappy: byte 0: truncated length preamble"));
		/* why may be NULL */
		CHECK(bar_rw_decode(&rq, "", 0, 100, NULL, 0) == -1);
	}
}

/* Fields we skip and orders protobuf allows are accepted. */
static void test_rw_lenient(void)
{
	pb s = {.n = 0}, q = {.n = 0}, l = {.n = 0}, m = {.n = 0};
	bar_rw_request r = {0};
	char why[200] = "";
	int rc;

	pb_len(&q, 3, "\x08\x01\x12\x01m", 5); /* metadata */
	pb_byte(&q, 0x28);                     /* field 5, varint */
	pb_varint(&q, 300);
	pb_byte(&q, 0x3d); /* field 7, fixed32 */
	pb_raw(&q, "abcd", 4);
	pb_byte(&q, 0x49); /* field 9, fixed64 */
	pb_raw(&q, "abcdefgh", 8);
	/* a series: a sample before its labels, value after timestamp, unknown
	 * fields in each message, a name given twice (the last counts) */
	pb_byte(&m, 0x10);
	pb_varint(&m, 5000);
	pb_byte(&m, 0x18); /* Sample field 3 */
	pb_byte(&m, 0x07);
	pb_byte(&m, 0x09);
	pb_raw(&m, "\x00\x00\x00\x00\x00\x00\xf8\x3f", 8); /* 1.5 */
	pb_msg(&s, 2, &m);
	pb_len(&l, 1, "zzz", 3);
	pb_len(&l, 2, "v", 1);
	pb_len(&l, 3, "ignored", 7);
	pb_len(&l, 1, "__name__", 8);
	pb_msg(&s, 1, &l);
	pb_len(&s, 3, "\x0a\x00", 2); /* exemplars */
	pb_byte(&s, 0x78);            /* field 15, varint */
	pb_byte(&s, 0x01);
	pb_label(&s, "job", "x");
	pb_msg(&q, 1, &s);
	rc = decode_raw(&r, &q, why, sizeof(why));
	CHECKF(rc == 0, "%s", why);
	if (rc == 0) {
		CHECK(r.nseries == 1 && r.nsamples == 1 && r.series[0].nlabels == 2);
		CHECK(strcmp(r.series[0].labels[0].name, "__name__") == 0 &&
		      strcmp(r.series[0].labels[0].value, "v") == 0);
		CHECK(r.series[0].samples[0].t_ms == 5000 && r.series[0].samples[0].v == 1.5);
	}
	bar_rw_request_free(&r);

	/* a sample with no fields is (0, 0); a series with no samples is kept */
	s = (pb){.n = 0}, q = (pb){.n = 0};
	pb_label(&s, "__name__", "m");
	pb_len(&s, 2, "", 0);
	pb_msg(&q, 1, &s);
	s = (pb){.n = 0};
	pb_label(&s, "__name__", "n");
	pb_msg(&q, 1, &s);
	rc = decode_raw(&r, &q, why, sizeof(why));
	CHECKF(rc == 0 && r.nseries == 2 && r.series[0].nsamples == 1 &&
	               r.series[0].samples[0].t_ms == 0 && r.series[0].samples[0].v == 0 &&
	               r.series[1].nsamples == 0,
	       "%s", why);
	bar_rw_request_free(&r);
}

/* Random damage to valid bodies: decoded or refused with a reason, never
 * read out of bounds (the sanitizer builds watch). */
static void test_rw_damage(void)
{
	static const bar_msample sm[] = {{1000, 1}, {2000, 2.5}, {3000, 1e6}};
	bar_mseries s[] = {{labels_a, 4, sm, 3}, {labels_b, 7, sm, 3}};
	bar_mbuf body = {0}, raw = {0};
	char why[200];

	bar_rw_encode(&body, s, 2);
	bar_snappy_uncompress(&raw, body.p, body.len, 1 << 20, why, sizeof(why));
	for (int i = 0; i < 4000; i++) {
		pb q = {.n = raw.len};
		bar_rw_request r;
		int rc;

		memcpy(q.b, raw.p, raw.len);
		for (int k = 1 + (int)(rnd() % 3); k > 0; k--)
			q.b[rnd() % q.n] ^= (uint8_t)(1 + rnd() % 255);
		if (i % 4 == 0)
			q.n = rnd() % q.n;
		why[0] = '\0';
		rc = decode_raw(&r, &q, why, sizeof(why));
		CHECK(rc == 0 || why[0] != '\0');
		if (rc == 0)
			bar_rw_request_free(&r);
	}
	for (int i = 0; i < 4000; i++) {
		char *b = malloc(body.len);
		bar_rw_request r;
		int rc;

		memcpy(b, body.p, body.len);
		b[rnd() % body.len] ^= (char)(1 + rnd() % 255);
		why[0] = '\0';
		rc = bar_rw_decode(&r, b, body.len - (i % 3 ? 0 : rnd() % body.len), 1 << 20, why,
		                   sizeof(why));
		CHECK(rc == 0 || why[0] != '\0');
		if (rc == 0)
			bar_rw_request_free(&r);
		free(b);
	}
	bar_mbuf_free(&body);
	bar_mbuf_free(&raw);
}

/* ---- two threads at once (the library keeps no global state) ---- */

static void *thread_main(void *arg)
{
	static const bar_msample sm[] = {{1000, 1}, {2000, 2.5}, {3000, 1e6}};
	bar_mseries s[] = {{labels_a, 4, sm, 3}, {labels_b, 7, sm, 3}};
	int *bad = arg;

	for (int i = 0; i < 300; i++) {
		bar_mbuf body = {0}, text = {0};
		bar_rw_request r;
		char why[200];

		if (bar_rw_encode(&body, s, 2) < 0 ||
		    bar_rw_decode(&r, body.p, body.len, 1 << 20, why, sizeof(why)) < 0) {
			(*bad)++;
		} else {
			*bad += !series_equal(r.series, r.nseries, s, 2);
			bar_rw_request_free(&r);
		}
		bar_promtext_sample(&text, "m", labels_b, 7, 0.1 * i, 0);
		bar_mbuf_free(&body);
		bar_mbuf_free(&text);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[2];
	int bad[2] = {0, 0};

	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, thread_main, &bad[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(bad[0] == 0 && bad[1] == 0);
}

/* ---- the text exposition format ---- */

static void value_is(double v, const char *want)
{
	bar_mbuf b = {0};
	char line[64];

	bar_promtext_sample(&b, "m", NULL, 0, v, 0);
	snprintf(line, sizeof(line), "m %s\n", want);
	CHECKF(b.p && strcmp(b.p, line) == 0, "%.17g: \"%s\", wanted \"%s\"", v, b.p ? b.p : "",
	       line);
	bar_mbuf_free(&b);
}

static void test_promtext(void)
{
	/* Go's strconv.FormatFloat(v, 'g', -1, 64), which client_golang uses */
	static const struct {
		double v;
		const char *s;
	} values[] = {
	        {0, "0"},
	        {-0.0, "0"},
	        {1, "1"},
	        {-1, "-1"},
	        {0.1, "0.1"},
	        {12.34, "12.34"},
	        {-2.5, "-2.5"},
	        {100, "100"},
	        {123456, "123456"},
	        {999999, "999999"},
	        {999999.5, "999999.5"},
	        {1e6, "1e+06"},
	        {1234567, "1.234567e+06"},
	        {16663195648.0, "1.6663195648e+10"},
	        {0.0001, "0.0001"},
	        {0.00012, "0.00012"},
	        {0.00001, "1e-05"},
	        {1.5e-7, "1.5e-07"},
	        {1e100, "1e+100"},
	        {1e21, "1e+21"},
	        {5e-324, "5e-324"},
	        {1.7976931348623157e308, "1.7976931348623157e+308"},
	        {0.30000000000000004, "0.30000000000000004"},
	        {608863452348.1149, "6.088634523481149e+11"},
	        {1458255915, "1.458255915e+09"},
	        {NAN, "NaN"},
	        {INFINITY, "+Inf"},
	        {-INFINITY, "-Inf"},
	};
	bar_mbuf b = {0};
	const bar_mlabel lab[] = {{"path", "C:\\DIR\\FILE.TXT"},
	                          {"error", "Cannot find file:\n\"FILE.TXT\""}};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		value_is(values[i].v, values[i].s);
	/* any double reads back as itself */
	for (int i = 0; i < 20000; i++) {
		uint64_t u = rnd();
		double v, back;
		char *sp;

		memcpy(&v, &u, 8);
		if (!isfinite(v))
			continue;
		bar_mbuf_free(&b);
		bar_promtext_sample(&b, "m", NULL, 0, v, 0);
		back = strtod(b.p + 2, &sp);
		CHECKF(back == v && *sp == '\n', "%.17g: %s", v, b.p);
	}
	bar_mbuf_free(&b);

	/* the exposition format document's escaping example */
	bar_promtext_sample(&b, "msdos_file_access_time_seconds", lab, 2, 1.458255915e9, 0);
	CHECK(strcmp(b.p,
	             "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\","
	             "error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e+09\n") == 0);
	bar_mbuf_free(&b);
	bar_promtext_sample(&b, "http_requests_total", (const bar_mlabel[]){{"code", "200"}}, 1,
	                    1027, 1395066363000);
	CHECK(strcmp(b.p, "http_requests_total{code=\"200\"} 1027 1395066363000\n") == 0);
	bar_mbuf_free(&b);
	bar_promtext_sample(&b, "something_weird", NULL, 0, INFINITY, -3982045);
	CHECK(strcmp(b.p, "something_weird +Inf -3982045\n") == 0);
	bar_mbuf_free(&b);
	CHECK(bar_promtext_family(&b, "m", "a \\ b\nc \"q\"", "gauge") == 0);
	CHECK(strcmp(b.p, "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\n") == 0);
	bar_mbuf_free(&b);
	CHECK(bar_promtext_family(&b, "m", NULL, "counter") == 0 &&
	      strcmp(b.p, "# TYPE m counter\n") == 0);
	bar_mbuf_free(&b);
	{
		bar_mbuf small = {.max = 10};

		CHECK(bar_promtext_sample(&small, "a_long_metric_name", NULL, 0, 1, 0) == -1);
		CHECK(bar_promtext_family(&small, "m", "help", "gauge") == -1);
		bar_mbuf_free(&small);
	}
}

/* ---- helper modes ---- */

static int read_all(bar_mbuf *b, FILE *f)
{
	char chunk[65536];
	size_t n;

	b->max = (size_t)256 << 20;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (bar_mbuf_add(b, chunk, n) < 0)
			return -1;
	return ferror(f) ? -1 : 0;
}

static int mode_snappy(int compress)
{
	bar_mbuf in = {0}, out = {.max = (size_t)256 << 20};
	char why[200] = "";
	int rc;

	if (read_all(&in, stdin) < 0)
		return fprintf(stderr, "test_wire: cannot read stdin\n"), 2;
	rc = compress ? bar_snappy_compress(&out, in.p ? in.p : "", in.len)
	              : bar_snappy_uncompress(&out, in.p ? in.p : "", in.len, (size_t)200 << 20,
	                                      why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "test_wire: %s\n", compress ? "cannot compress" : why);
		rc = 1;
	} else {
		rc = fwrite(out.p, 1, out.len, stdout) == out.len ? 0 : 2;
	}
	bar_mbuf_free(&in);
	bar_mbuf_free(&out);
	return rc;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Test series as the agent makes them: rounded percents, byte rates, a
 * few awkward values; labels with UTF-8, quotes and backslashes. */
static int mode_fixture(const char *base_s, const char *path)
{
	enum { NSERIES = 24, NSAMPLES = 40 };
	/* VictoriaMetrics keeps a block of a series' values at one decimal
	 * exponent (its compression), so a series mixing 1e23 and 1e-300 would
	 * come back rounded there; the unit tests hold such values bit-exact */
	static const double odd[] = {-273.15, 1.5e-7, 0, 123456.789, -1, 2.5e-5, 1e9, 0.125};
	static bar_mlabel labels[NSERIES][6];
	static bar_msample samples[NSERIES][NSAMPLES];
	static char names[NSERIES][3][64];
	bar_mseries series[NSERIES];
	int64_t base = strtoll(base_s, NULL, 10);
	bar_mbuf body = {0};
	FILE *f;

	for (int i = 0; i < NSERIES; i++) {
		int kind = i % 3;
		size_t k = 0;

		snprintf(names[i][0], 64, "%s",
		         kind == 0   ? "barista_wiretest_cpu_usage_percent"
		         : kind == 1 ? "barista_wiretest_network_receive_bytes_per_second"
		                     : "barista_wiretest_odd_values");
		snprintf(names[i][1], 64, "vm-%02d", i / 3);
		snprintf(names[i][2], 64, "eth%d \"%s\" \\ \xeb\x94\x94\xec\x8a\xa4\xed\x81\xac",
		         i % 3, kind ? "q" : "");
		labels[i][k++] = (bar_mlabel){"__name__", names[i][0]};
		labels[i][k++] = (bar_mlabel){"interface", names[i][2]};
		labels[i][k++] = (bar_mlabel){"mci", "wire-test"};
		labels[i][k++] = (bar_mlabel){"ns", "default"};
		labels[i][k++] = (bar_mlabel){"vm", names[i][1]};
		for (int j = 0; j < NSAMPLES; j++) {
			double v = kind == 0   ? (double)(rnd() % 10001) / 100
			           : kind == 1 ? (double)(rnd() % 1000000000)
			                       : odd[j % (sizeof(odd) / sizeof(odd[0]))];

			samples[i][j] = (bar_msample){base + 2000 * j, v};
		}
		series[i] = (bar_mseries){labels[i], k, samples[i], NSAMPLES};
	}
	if (bar_rw_encode(&body, series, NSERIES) < 0 || !(f = fopen(path, "wb")))
		return fprintf(stderr, "test_wire: cannot make %s\n", path), 2;
	if (fwrite(body.p, 1, body.len, f) != body.len || fclose(f) != 0)
		return fprintf(stderr, "test_wire: cannot write %s\n", path), 2;
	bar_mbuf_free(&body);
	for (int i = 0; i < NSERIES; i++) {
		printf("{\"metric\":{");
		for (size_t k = 0; k < series[i].nlabels; k++) {
			fputs(k ? "," : "", stdout);
			json_str(stdout, labels[i][k].name);
			putchar(':');
			json_str(stdout, labels[i][k].value);
		}
		printf("},\"values\":[");
		for (int j = 0; j < NSAMPLES; j++)
			printf("%s%.17g", j ? "," : "", samples[i][j].v);
		printf("],\"timestamps\":[");
		for (int j = 0; j < NSAMPLES; j++)
			printf("%s%lld", j ? "," : "", (long long)samples[i][j].t_ms);
		printf("]}\n");
	}
	return 0;
}

/* The label value tests/monitor_wire_check.py looks for after parsing. */
#define TRICKY_MOUNT "/mnt/a \"quoted\" dir\\with\nnewline \xc3\xa9"

/* The whole catalogue, as the agent's /metrics would show it on a VM with
 * two of each device, plus a family of special values. */
static int mode_catalogue(void)
{
	size_t n;
	const bar_metric_info *m = bar_metrics(&n);
	bar_mbuf out = {.max = (size_t)16 << 20};

	for (size_t i = 0; i < n; i++) {
		int copies = m[i].labels[0] ? 2 : 1;

		bar_promtext_family(&out, m[i].prom, m[i].help, "gauge");
		for (int c = 0; c < copies; c++) {
			bar_mlabel l[8];
			size_t k = 0;
			double v;

			/* sorted by name, as the agent sends them */
			if (strstr(m[i].labels, "boot_id"))
				l[k++] = (bar_mlabel){"boot_id",
				                      "0f6c1f4e-8a8b-4d5e-9a43-3f1b2c9d7e10"};
			if (strstr(m[i].labels, "device"))
				l[k++] = (bar_mlabel){"device", c ? "/dev/nvme0n1p2" : "sda"};
			if (strstr(m[i].labels, "fstype"))
				l[k++] = (bar_mlabel){"fstype", c ? "xfs" : "ext4"};
			if (strstr(m[i].labels, "interface"))
				l[k++] = (bar_mlabel){"interface", c ? "ens5" : "eth0"};
			l[k++] = (bar_mlabel){"mci", "web"};
			if (strstr(m[i].labels, "mount"))
				l[k++] = (bar_mlabel){"mount", c ? TRICKY_MOUNT : "/"};
			l[k++] = (bar_mlabel){"ns", "default"};
			if (strstr(m[i].labels, "version"))
				l[k++] = (bar_mlabel){"version", "0.1.0"};
			l[k++] = (bar_mlabel){"vm", "web-1"};
			if (strcmp(m[i].unit, "percent") == 0)
				v = c ? 99.99 : 12.34;
			else if (strcmp(m[i].unit, "bytes") == 0)
				v = c ? 16663195648.0 : 4096;
			else if (strcmp(m[i].unit, "bytes/s") == 0)
				v = c ? 1234567 : 0;
			else if (strcmp(m[i].unit, "1/s") == 0)
				v = c ? 0.5 : 1500.25;
			else
				v = m[i].decimals ? 0.07 : 42;
			bar_promtext_sample(&out, m[i].prom, l, k, v, c ? 1700000000123 : 0);
		}
	}
	bar_promtext_family(&out, "barista_wiretest_special", "Special values: \\ and\nlines",
	                    "gauge");
	{
		static const double sv[] = {NAN, INFINITY, -INFINITY, 1e6, 1.5e-7, -0.0};
		char idx[8];

		for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++) {
			bar_mlabel l = {"case", idx};

			snprintf(idx, sizeof(idx), "%zu", i);
			bar_promtext_sample(&out, "barista_wiretest_special", &l, 1, sv[i], 0);
		}
	}
	if (out.failed)
		return fprintf(stderr, "test_wire: rendering failed\n"), 2;
	fwrite(out.p, 1, out.len, stdout);
	bar_mbuf_free(&out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "snappy-compress") == 0)
		return mode_snappy(1);
	if (argc >= 2 && strcmp(argv[1], "snappy-uncompress") == 0)
		return mode_snappy(0);
	if (argc >= 4 && strcmp(argv[1], "rw-fixture") == 0)
		return mode_fixture(argv[2], argv[3]);
	if (argc >= 2 && strcmp(argv[1], "catalogue") == 0)
		return mode_catalogue();
	if (argc >= 2) {
		fprintf(stderr, "usage: test_wire [snappy-compress | snappy-uncompress | "
		                "rw-fixture BASE_MS BODY | catalogue]\n");
		return 2;
	}
	test_mbuf();
	test_snappy_roundtrip();
	test_snappy_streams();
	test_rw_roundtrip();
	test_rw_refusals();
	test_rw_lenient();
	test_rw_damage();
	test_threads();
	test_promtext();
	if (failures) {
		fprintf(stderr, "test_wire: %d checks failed\n", failures);
		return 1;
	}
	printf("test_wire: all checks passed\n");
	return 0;
}
