/*
 * fuzz_snappy.c - the snappy block format (monitor/snappy.c) on arbitrary
 * bytes: bar_snappy_uncompress decodes them or refuses with a reason,
 * never writing past what it declared nor reading past the input; and
 * bar_snappy_compress of the same bytes uncompresses back to them exactly.
 */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bar_mbuf out = {0}, packed = {0}, back = {0};
	char why[256];

	why[0] = '\0';
	if (bar_snappy_uncompress(&out, data, size, 1 << 22, why, sizeof(why)) < 0) {
		if (!why[0] || out.len != 0)
			abort();
	} else if (out.p[out.len] != '\0') {
		abort();
	}
	if (bar_snappy_compress(&packed, data, size) < 0 || packed.len > 32 + size + size / 6)
		abort();
	if (bar_snappy_uncompress(&back, packed.p, packed.len, size, why, sizeof(why)) < 0 ||
	    back.len != size || (size && memcmp(back.p, data, size) != 0))
		abort();
	bar_mbuf_free(&out);
	bar_mbuf_free(&packed);
	bar_mbuf_free(&back);
	return 0;
}
