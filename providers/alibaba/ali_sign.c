/*
 * ali_sign.c - Alibaba Cloud RPC parameters and their HMAC-SHA1 signature
 * (see ali_sign.h).  The signing rule is Alibaba's "signature version 1.0"
 * of the RPC APIs; tests/test_alibaba_sign.c checks it against the worked
 * DescribeRegions example of Alibaba's documentation.
 */
#include "ali_sign.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int grow(ali_params *p)
{
	size_t cap = p->cap ? p->cap * 2 : 32;
	char **k, **v;

	if (p->n < p->cap)
		return 0;
	k = realloc(p->k, cap * sizeof(*k));
	if (!k)
		return -1;
	p->k = k;
	v = realloc(p->v, cap * sizeof(*v));
	if (!v)
		return -1;
	p->v = v;
	p->cap = cap;
	return 0;
}

void ali_params_add(ali_params *p, const char *key, const char *value)
{
	char *k, *v;

	if (p->failed || grow(p) < 0) {
		p->failed = 1;
		return;
	}
	k = strdup(key);
	v = strdup(value ? value : "");
	if (!k || !v) {
		free(k);
		free(v);
		p->failed = 1;
		return;
	}
	p->k[p->n] = k;
	p->v[p->n] = v;
	p->n++;
}

void ali_params_addf(ali_params *p, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		p->failed = 1;
		return;
	}
	ali_params_add(p, key, s);
	free(s);
}

const char *ali_params_get(const ali_params *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->k[i], key) == 0)
			return p->v[i];
	return NULL;
}

void ali_params_free(ali_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->k[i]);
		bar_kit_wipe(p->v[i], strlen(p->v[i]));
		free(p->v[i]);
	}
	free(p->k);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

int ali_percent_encode(bar_kit_buf *b, const char *s)
{
	/* Alibaba's rule is exactly RFC 3986's unreserved set, which is what
	 * the kit encodes; spelled out here so that a change there is seen. */
	return bar_kit_buf_urlencode(b, s, 0);
}

static int cmp_idx(const ali_params *p, size_t a, size_t b)
{
	return strcmp(p->k[a], p->k[b]);
}

/* An insertion sort of the indexes: no global state, so threads may sign at
 * once; a request has at most a few hundred parameters. */
static void sort_idx(const ali_params *p, size_t *idx)
{
	for (size_t i = 1; i < p->n; i++) {
		size_t x = idx[i], j = i;

		while (j > 0 && cmp_idx(p, idx[j - 1], x) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = x;
	}
}

int ali_canonical(bar_kit_buf *out, bar_kit_buf *sts, const ali_params *p, const char *method)
{
	size_t *idx;

	if (p->failed)
		return -1;
	idx = malloc((p->n ? p->n : 1) * sizeof(*idx));
	if (!idx)
		return -1;
	for (size_t i = 0; i < p->n; i++)
		idx[i] = i;
	sort_idx(p, idx);
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			bar_kit_buf_str(out, "&");
		ali_percent_encode(out, p->k[idx[i]]);
		bar_kit_buf_str(out, "=");
		ali_percent_encode(out, p->v[idx[i]]);
	}
	bar_kit_buf_add(out, "", 0);
	free(idx);
	if (out->failed)
		return -1;
	if (sts) {
		bar_kit_buf_str(sts, method);
		bar_kit_buf_str(sts, "&");
		ali_percent_encode(sts, "/");
		bar_kit_buf_str(sts, "&");
		ali_percent_encode(sts, out->p);
		if (sts->failed)
			return -1;
	}
	return 0;
}

int ali_signature(char *sig, size_t size, const ali_params *p, const char *method,
                  const char *secret)
{
	bar_kit_buf q = {0}, sts = {0}, key = {0};
	unsigned char mac[20];
	char *b64 = NULL;
	int rc = -1;

	if (ali_canonical(&q, &sts, p, method) < 0)
		goto done;
	bar_kit_buf_str(&key, secret);
	bar_kit_buf_str(&key, "&");
	if (key.failed)
		goto done;
	bar_kit_hmac_sha1(mac, key.p, key.len, sts.p, sts.len);
	b64 = bar_kit_base64(mac, sizeof(mac), 0);
	if (!b64 || strlen(b64) >= size)
		goto done;
	memcpy(sig, b64, strlen(b64) + 1);
	rc = 0;
done:
	free(b64);
	bar_kit_wipe(mac, sizeof(mac));
	bar_kit_buf_free(&key);
	bar_kit_buf_free(&sts);
	bar_kit_buf_free(&q);
	return rc;
}

int ali_sign(bar_kit_buf *out, const ali_params *p, const char *method, const char *secret)
{
	char sig[64];

	if (ali_signature(sig, sizeof(sig), p, method, secret) < 0)
		return -1;
	if (ali_canonical(out, NULL, p, method) < 0)
		return -1;
	bar_kit_buf_str(out, "&Signature=");
	ali_percent_encode(out, sig);
	return out->failed ? -1 : 0;
}

void ali_timestamp(char *out, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ali_nonce(char *out, size_t size)
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (ts.tv_sec >> i) ^ i);
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, size,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
	         r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	         r[15]);
}
