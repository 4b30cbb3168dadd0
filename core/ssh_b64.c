/*
 * ssh_b64.c - base64 encoding and decoding (see ssh_b64.h).
 */
#include "ssh_b64.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_chars, c) : NULL;

	return p ? (int)(p - b64_chars) : -1;
}

int bar_b64_decode(unsigned char **out, size_t *out_len, const char *s, size_t len)
{
	unsigned char *buf = bar_malloc(len / 4 * 3 + 4);
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (len > 0 && s[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);

		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

size_t bar_b64_encode(char *out, const void *data, size_t n, int pad)
{
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64_chars[(v >> 18) & 63];
		out[o++] = b64_chars[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64_chars[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = b64_chars[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}
