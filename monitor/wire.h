/*
 * wire.h - what agents, collectors and TSDBs exchange: Prometheus
 * remote-write 1.0 (a protobuf WriteRequest, snappy block-compressed, the
 * body of an HTTP POST with Content-Encoding: snappy and Content-Type:
 * application/x-protobuf) and the Prometheus text exposition format 0.0.4.
 *
 * libc only: barista-agent links it statically, without the rest of the
 * product.  Thread-safe (no global state).  docs/monitoring.md says why one
 * format serves the agent's push, a collector's ingest and forwarding.
 */
#ifndef BAR_MONITOR_WIRE_H
#define BAR_MONITOR_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* ---- a growable buffer with a ceiling ---- */

typedef struct bar_mbuf {
	char *p;    /* NUL-terminated once anything was added; may be NULL */
	size_t len;
	size_t cap;
	size_t max; /* 0: 64 MiB */
	int failed; /* set once an append failed; later appends fail too */
} bar_mbuf;

/* Append; -1 (and b->failed) when out of memory or over max. */
int bar_mbuf_add(bar_mbuf *b, const void *data, size_t n);
int bar_mbuf_str(bar_mbuf *b, const char *s);
int bar_mbuf_printf(bar_mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bar_mbuf_free(bar_mbuf *b);

/* ---- samples ---- */

typedef struct bar_mlabel {
	const char *name;
	const char *value;
} bar_mlabel;

typedef struct bar_msample {
	int64_t t_ms; /* Unix milliseconds */
	double v;
} bar_msample;

/* A series: its labels (sorted by name, "__name__" among them, no two
 * alike, no empty value) and samples (in time order). */
typedef struct bar_mseries {
	const bar_mlabel *labels;
	size_t nlabels;
	const bar_msample *samples;
	size_t nsamples;
} bar_mseries;

/* ---- snappy (the block format, github.com/google/snappy format_description.txt) ---- */

/* Compress n bytes, appending to out.  0, or -1 (out->failed). */
int bar_snappy_compress(bar_mbuf *out, const void *in, size_t n);

/* Uncompress, appending to out; refuses a claimed length over max_out.
 * 0, or -1 with why[wsize] ("byte 17: copy offset 900 beyond the output"). */
int bar_snappy_uncompress(bar_mbuf *out, const void *in, size_t n, size_t max_out, char *why,
                          size_t wsize);

/* ---- remote-write 1.0 (prometheus/prompb: remote.proto, types.proto) ---- */

/* The body of a POST: series encoded as a WriteRequest and snappy-compressed,
 * appended to out.  The series are taken as they are (the receiver checks
 * them).  0, or -1 (out->failed). */
int bar_rw_encode(bar_mbuf *out, const bar_mseries *series, size_t n);

/* A decoded WriteRequest: the series and everything they point to live in
 * the request's own memory. */
typedef struct bar_rw_request {
	bar_mseries *series;
	size_t nseries;
	size_t nsamples;  /* over all series */
	void *mem_;       /* private */
} bar_rw_request;

/*
 * Decode a POST body (snappy-compressed WriteRequest), uncompressed size
 * at most max_uncompressed.  Validates as Prometheus does: every series has
 * a "__name__" whose value is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*),
 * label names match [a-zA-Z_][a-zA-Z0-9_]* ("__name__" included) and
 * values are non-empty UTF-8 (without NUL bytes: they come back as C
 * strings), names are sorted (bytewise) and unique, timestamps do not go
 * back within a series (equal ones may follow; values are any float64: NaN
 * is Prometheus's staleness marker).  Fields this product does not use
 * (metadata, exemplars, histograms, anything unknown) are skipped by their
 * wire type; the deprecated group wire types are refused.  0 with *out
 * (free with bar_rw_request_free), or -1 with why[wsize] saying what is
 * wrong and where ("byte 120: series 3 label 2: name \"a-b\" is not
 * [a-zA-Z_][a-zA-Z0-9_]*", the byte counted in the uncompressed request;
 * "snappy: ..." for the body itself), for a 400 answer.  The decoded
 * request takes at most 13 times max_uncompressed in memory (a 4-byte
 * series is 50 bytes decoded, a 2-byte sample 16).
 */
int bar_rw_decode(bar_rw_request *out, const void *body, size_t len, size_t max_uncompressed,
                  char *why, size_t wsize);
void bar_rw_request_free(bar_rw_request *r);

/* ---- the text exposition format 0.0.4 ---- */

/* "# HELP name help\n# TYPE name type\n" (help escaped as the format says). */
int bar_promtext_family(bar_mbuf *out, const char *name, const char *help, const char *type);

/* v as Prometheus writes it (the shortest digits that read back as v;
 * +Inf, -Inf, NaN) into buf[32] (it takes at most 25); its length. */
size_t bar_promtext_value(char *buf, double v);

/* One sample line: name{labels} value [timestamp_ms] (t_ms 0: none).
 * Label values escaped (\\, \", \n); values as Prometheus writes them
 * (shortest round-trip form, +Inf, -Inf, NaN). */
int bar_promtext_sample(bar_mbuf *out, const char *name, const bar_mlabel *labels, size_t n,
                        double v, int64_t t_ms);

#endif
