/*
 * fuzz_remote_write.c - bar_rw_decode on arbitrary POST bodies: each is
 * decoded or refused with a reason, never a crash or a read out of bounds.
 * What it accepts must survive a round trip: encoding the decoded series
 * and decoding that again gives the same series, label for label and
 * sample for sample (values compared as bits, so NaNs count too).
 *
 * The first byte says what the rest is: even, a snappy body as a client
 * POSTs it; odd, an uncompressed WriteRequest, compressed here first, so
 * that the protobuf decoder is reached without the fuzzer having to learn
 * snappy.
 */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same(const bar_rw_request *a, const bar_rw_request *b)
{
	if (a->nseries != b->nseries || a->nsamples != b->nsamples)
		return 0;
	for (size_t i = 0; i < a->nseries; i++) {
		const bar_mseries *x = &a->series[i], *y = &b->series[i];

		if (x->nlabels != y->nlabels || x->nsamples != y->nsamples)
			return 0;
		for (size_t j = 0; j < x->nlabels; j++)
			if (strcmp(x->labels[j].name, y->labels[j].name) ||
			    strcmp(x->labels[j].value, y->labels[j].value))
				return 0;
		for (size_t j = 0; j < x->nsamples; j++)
			if (x->samples[j].t_ms != y->samples[j].t_ms ||
			    memcmp(&x->samples[j].v, &y->samples[j].v, sizeof(double)))
				return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t max = 1 << 20;
	bar_mbuf packed = {0}, again = {0};
	bar_rw_request r, r2;
	const void *body = data + (size > 0);
	size_t len = size - (size > 0);
	char why[256];

	if (size > 0 && (data[0] & 1)) {
		if (bar_snappy_compress(&packed, data + 1, size - 1) < 0)
			abort();
		body = packed.p;
		len = packed.len;
	}
	why[0] = '\0';
	if (bar_rw_decode(&r, body, len, max, why, sizeof(why)) < 0) {
		if (!why[0])
			abort(); /* a refusal always says why */
		goto done;
	}
	if (bar_rw_encode(&again, r.series, r.nseries) < 0 ||
	    bar_rw_decode(&r2, again.p, again.len, max * 2, why, sizeof(why)) < 0)
		abort();
	if (!same(&r, &r2))
		abort();
	bar_rw_request_free(&r2);
	bar_rw_request_free(&r);
done:
	bar_mbuf_free(&packed);
	bar_mbuf_free(&again);
	return 0;
}
