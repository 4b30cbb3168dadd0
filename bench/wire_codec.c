/*
 * wire_codec.c - the remote-write codec (monitor/wire.c, snappy.c) on
 * 1,000 series x 500 samples of the data an agent sends: 50 VMs x 20
 * metrics, labels __name__/ns/mci/vm (+ device or interface), a sample
 * every 2 s with a few ms of jitter, values as the agent rounds them
 * (percents to 2 decimals wandering around a level, byte rates as whole
 * numbers, counts, load averages).
 *
 * Measures, each over at least a second: bar_rw_encode (protobuf and
 * snappy), bar_rw_decode (snappy and protobuf, with every check), and
 * snappy alone both ways on the uncompressed request (`-dump FILE` writes
 * that request, to hold other compressors to).  The last line:
 *   encode_mpts_s=... decode_mpts_s=... snappy_ratio=... compressed_bytes_per_point=...
 *   snappy_compress_mb_s=... snappy_uncompress_mb_s=...
 */
#include "agent_data.h"
#include "wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { VMS = 50, SAMPLES = 500 };
#define SERIES (VMS * BENCH_AGENT_METRICS)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const double points = (double)SERIES * SAMPLES;
	bar_mbuf body = {.max = (size_t)256 << 20}, raw = {.max = (size_t)256 << 20};
	double t0, enc_s = 0, dec_s = 0, comp_s = 0, unc_s = 0;
	int enc_n = 0, dec_n = 0, comp_n = 0, unc_n = 0;
	char why[256];
	size_t body_len;

	bench_agent_data d;
	const bar_mseries *series;

	if (bench_agent_data_make(&d, VMS, SAMPLES, 1700000000000, VMS, 0, 0) < 0) {
		fprintf(stderr, "wire_codec: out of memory\n");
		return 1;
	}
	series = d.series;
	if (bar_rw_encode(&body, series, SERIES) < 0 ||
	    bar_snappy_uncompress(&raw, body.p, body.len, (size_t)200 << 20, why, sizeof(why)) <
	            0) {
		fprintf(stderr, "wire_codec: cannot encode: %s\n", why);
		return 1;
	}
	body_len = body.len;
	/* -dump FILE: the uncompressed request, to hold other compressors to */
	if (argc == 3 && strcmp(argv[1], "-dump") == 0) {
		FILE *f = fopen(argv[2], "wb");

		if (!f || fwrite(raw.p, 1, raw.len, f) != raw.len || fclose(f) != 0) {
			fprintf(stderr, "wire_codec: cannot write %s\n", argv[2]);
			return 1;
		}
	}
	fprintf(stderr,
	        "wire_codec: %d series x %d samples: %zu bytes of protobuf, %zu compressed\n",
	        SERIES, SAMPLES, raw.len, body_len);

	while (enc_s < 1.0) {
		body.len = 0;
		t0 = now();
		bar_rw_encode(&body, series, SERIES);
		enc_s += now() - t0;
		enc_n++;
	}
	while (dec_s < 1.0) {
		bar_rw_request r;

		t0 = now();
		if (bar_rw_decode(&r, body.p, body.len, (size_t)200 << 20, why, sizeof(why)) < 0) {
			fprintf(stderr, "wire_codec: cannot decode: %s\n", why);
			return 1;
		}
		dec_s += now() - t0;
		dec_n++;
		if (r.nsamples != (size_t)points) {
			fprintf(stderr, "wire_codec: decoded %zu samples\n", r.nsamples);
			return 1;
		}
		bar_rw_request_free(&r);
	}
	while (comp_s < 1.0) {
		body.len = 0;
		t0 = now();
		bar_snappy_compress(&body, raw.p, raw.len);
		comp_s += now() - t0;
		comp_n++;
	}
	while (unc_s < 1.0) {
		bar_mbuf u = {.max = (size_t)256 << 20};

		t0 = now();
		bar_snappy_uncompress(&u, body.p, body.len, (size_t)200 << 20, why, sizeof(why));
		unc_s += now() - t0;
		unc_n++;
		bar_mbuf_free(&u);
	}
	fprintf(stderr, "wire_codec: encode %d x, decode %d x, compress %d x, uncompress %d x\n",
	        enc_n, dec_n, comp_n, unc_n);
	printf("encode_mpts_s=%.2f decode_mpts_s=%.2f snappy_ratio=%.2f "
	       "compressed_bytes_per_point=%.3f snappy_compress_mb_s=%.0f "
	       "snappy_uncompress_mb_s=%.0f\n",
	       points * enc_n / enc_s / 1e6, points * dec_n / dec_s / 1e6,
	       (double)raw.len / (double)body_len, (double)body_len / points,
	       raw.len * (double)comp_n / comp_s / 1e6, raw.len * (double)unc_n / unc_s / 1e6);
	bar_mbuf_free(&body);
	bar_mbuf_free(&raw);
	bench_agent_data_free(&d);
	return 0;
}
