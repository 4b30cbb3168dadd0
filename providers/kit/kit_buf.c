/*
 * kit_buf.c - the kit's bounded buffer, digests and base64 (see http.h).
 * Digests come from OpenSSL's libcrypto; nothing here keeps state.
 */
#include "http.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

int bar_kit_buf_add(bar_kit_buf *b, const void *data, size_t n)
{
	size_t max = b->max ? b->max : BUF_DEFAULT_MAX;

	if (b->failed)
		return -1;
	if (n > max || b->len > max - n) {
		b->failed = 1;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		/* grow by copying so that a buffer that held a secret is wiped */
		p = malloc(cap);
		if (!p) {
			b->failed = 1;
			return -1;
		}
		if (b->p) {
			memcpy(p, b->p, b->len);
			bar_kit_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int bar_kit_buf_str(bar_kit_buf *b, const char *s)
{
	return bar_kit_buf_add(b, s, strlen(s));
}

int bar_kit_buf_printf(bar_kit_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512], *big = NULL;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if ((size_t)n < sizeof(small)) {
		rc = bar_kit_buf_add(b, small, (size_t)n);
		bar_kit_wipe(small, sizeof(small));
		return rc;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		b->failed = 1;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = bar_kit_buf_add(b, big, (size_t)n);
	bar_kit_wipe(big, (size_t)n);
	free(big);
	return rc;
}

int bar_kit_buf_urlencode(bar_kit_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		char esc[3];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
			if (bar_kit_buf_add(b, p, 1) < 0)
				return -1;
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		if (bar_kit_buf_add(b, esc, 3) < 0)
			return -1;
	}
	return bar_kit_buf_add(b, "", 0);
}

void bar_kit_buf_free(bar_kit_buf *b)
{
	if (b->p) {
		bar_kit_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

void bar_kit_wipe(void *p, size_t n)
{
	/* glibc's: a memset the compiler may not drop, at memset's speed (a
	 * refresh wipes megabytes of grown buffers) */
	if (p && n)
		explicit_bzero(p, n);
}

int bar_kit_buf_reserve(bar_kit_buf *b, size_t n)
{
	size_t max = b->max ? b->max : BUF_DEFAULT_MAX;
	char *p;

	if (b->failed || n <= b->cap || n > max + 1)
		return b->failed ? -1 : 0;
	if (!(p = malloc(n))) {
		b->failed = 1;
		return -1;
	}
	if (b->p) {
		memcpy(p, b->p, b->len + 1);
		bar_kit_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = n;
	return 0;
}

void bar_kit_sha256(unsigned char *out, const void *data, size_t n)
{
	SHA256(data, n, out);
}

void bar_kit_hmac_sha256(unsigned char *out, const void *key, size_t klen, const void *data,
                         size_t n)
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len);
}

void bar_kit_hmac_sha1(unsigned char *out, const void *key, size_t klen, const void *data,
                       size_t n)
{
	unsigned int len = 20;

	HMAC(EVP_sha1(), key, (int)klen, data, n, out, &len);
}

void bar_kit_hex(char *out, const unsigned char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

char *bar_kit_base64(const unsigned char *in, size_t n, int url)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char safe[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *a = url ? safe : std;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = a[v >> 6 & 63];
		*o++ = a[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);

		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		if (i + 1 < n)
			*o++ = a[v >> 6 & 63];
		else if (!url)
			*o++ = '=';
		if (!url)
			*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

unsigned char *bar_kit_base64_decode(const char *in, size_t *n)
{
	size_t len = strlen(in), o = 0;
	unsigned char *out = malloc(len / 4 * 3 + 3);
	unsigned v = 0;
	int bits = 0, pad = 0;

	if (!out)
		return NULL;
	for (const char *p = in; *p; p++) {
		int d;

		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		d = b64_value((unsigned char)*p);
		if (d < 0 || pad)
			goto bad;
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	*n = o;
	return out;
bad:
	bar_kit_wipe(out, len / 4 * 3 + 3);
	free(out);
	return NULL;
}
