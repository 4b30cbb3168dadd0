/*
 * kit_sigv4.c - AWS Signature Version 4 (see kit_sigv4.h).
 *
 * Follows "Create a signed AWS API request" of the IAM user guide step by
 * step: canonical request, string to sign, signing key (an HMAC chain from
 * "AWS4"+secret over date, region, service and "aws4_request"), signature.
 * The secret and the derived keys live only on the stack and are wiped.
 */
#include "kit_sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_PARAMS 512

typedef struct kv {
	char *k, *v;
} kv;

static int kv_cmp(const void *a, const void *b)
{
	const kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) ('+' stays '+': SigV4 queries are RFC 3986). */
static char *decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* The canonical query string: every name=value decoded, sorted, and
 * encoded again the one way SigV4 wants. */
static int canonical_query(bar_kit_buf *b, const char *q)
{
	kv *p = NULL;
	size_t n = 0;
	int rc = -1;

	if (!q || !*q)
		return 0;
	p = calloc(SIGV4_MAX_PARAMS, sizeof(*p));
	if (!p)
		return -1;
	while (*q) {
		const char *end = strchr(q, '&'), *eq;
		size_t len;

		if (!end)
			end = q + strlen(q);
		len = (size_t)(end - q);
		if (len) {
			if (n == SIGV4_MAX_PARAMS)
				goto done;
			eq = memchr(q, '=', len);
			p[n].k = decode(q, eq ? (size_t)(eq - q) : len);
			p[n].v = eq ? decode(eq + 1, (size_t)(end - eq - 1)) : strdup("");
			if (!p[n].k || !p[n].v) {
				n++;
				goto done;
			}
			n++;
		}
		q = *end ? end + 1 : end;
	}
	qsort(p, n, sizeof(*p), kv_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			bar_kit_buf_str(b, "&");
		bar_kit_buf_urlencode(b, p[i].k, 0);
		bar_kit_buf_str(b, "=");
		bar_kit_buf_urlencode(b, p[i].v, 0);
	}
	rc = b->failed ? -1 : 0;
done:
	for (size_t i = 0; i < n; i++) {
		free(p[i].k);
		free(p[i].v);
	}
	free(p);
	return rc;
}

/* A header value as SigV4 signs it: trimmed, blank runs collapsed. */
static void add_trimmed(bar_kit_buf *b, const char *v)
{
	int blank = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			blank = 1;
			continue;
		}
		if (blank)
			bar_kit_buf_add(b, " ", 1);
		blank = 0;
		bar_kit_buf_add(b, v, 1);
	}
}

static int header_cmp(const void *a, const void *b)
{
	const bar_kit_sigv4_header *x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

static void add_lower(bar_kit_buf *b, const char *s)
{
	for (; *s; s++) {
		char c = (char)tolower((unsigned char)*s);

		bar_kit_buf_add(b, &c, 1);
	}
}

int bar_kit_sigv4_sign(bar_kit_sigv4_out *out, const bar_kit_sigv4_req *req)
{
	bar_kit_sigv4_header hs[SIGV4_MAX_HEADERS];
	unsigned char hash[32], k1[32], k2[32], k3[32], k4[32], sig[32];
	char hex[65], date8[9];
	bar_kit_buf signed_headers = {0}, scope = {0}, secret = {0};
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!req->method || !req->amz_date || strlen(req->amz_date) != 16 || !req->region ||
	    !req->service || !req->access_key_id || !req->secret_access_key ||
	    req->n_headers > SIGV4_MAX_HEADERS || (req->n_headers && !req->headers))
		return -1;
	memcpy(hs, req->headers, req->n_headers * sizeof(*hs));
	qsort(hs, req->n_headers, sizeof(*hs), header_cmp);
	memcpy(date8, req->amz_date, 8);
	date8[8] = '\0';

	/* 1. the canonical request */
	bar_kit_buf *c = &out->canonical;
	bar_kit_buf_printf(c, "%s\n%s\n", req->method, req->path && *req->path ? req->path : "/");
	if (canonical_query(c, req->query) < 0)
		goto done;
	bar_kit_buf_str(c, "\n");
	for (size_t i = 0; i < req->n_headers; i++) {
		add_lower(c, hs[i].name);
		bar_kit_buf_str(c, ":");
		add_trimmed(c, hs[i].value ? hs[i].value : "");
		bar_kit_buf_str(c, "\n");
		if (i)
			bar_kit_buf_str(&signed_headers, ";");
		add_lower(&signed_headers, hs[i].name);
	}
	bar_kit_sha256(hash, req->payload ? req->payload : "", req->payload ? req->payload_len : 0);
	bar_kit_hex(hex, hash, 32);
	bar_kit_buf_printf(c, "\n%s\n%s", signed_headers.p ? signed_headers.p : "", hex);

	/* 2. the string to sign */
	bar_kit_buf_printf(&scope, "%s/%s/%s/aws4_request", date8, req->region, req->service);
	if (c->failed || scope.failed || signed_headers.failed)
		goto done;
	bar_kit_sha256(hash, c->p, c->len);
	bar_kit_hex(hex, hash, 32);
	bar_kit_buf_printf(&out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", req->amz_date,
	                   scope.p, hex);
	if (out->string_to_sign.failed)
		goto done;

	/* 3. the signing key and 4. the signature */
	bar_kit_buf_printf(&secret, "AWS4%s", req->secret_access_key);
	if (secret.failed)
		goto done;
	bar_kit_hmac_sha256(k1, secret.p, secret.len, date8, 8);
	bar_kit_hmac_sha256(k2, k1, 32, req->region, strlen(req->region));
	bar_kit_hmac_sha256(k3, k2, 32, req->service, strlen(req->service));
	bar_kit_hmac_sha256(k4, k3, 32, "aws4_request", 12);
	bar_kit_hmac_sha256(sig, k4, 32, out->string_to_sign.p, out->string_to_sign.len);
	bar_kit_hex(out->signature, sig, 32);
	bar_kit_buf_printf(&out->authorization,
	                   "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
	                   req->access_key_id, scope.p, signed_headers.p ? signed_headers.p : "",
	                   out->signature);
	rc = out->authorization.failed ? -1 : 0;
done:
	bar_kit_wipe(k1, sizeof(k1));
	bar_kit_wipe(k2, sizeof(k2));
	bar_kit_wipe(k3, sizeof(k3));
	bar_kit_wipe(k4, sizeof(k4));
	bar_kit_buf_free(&secret);
	bar_kit_buf_free(&signed_headers);
	bar_kit_buf_free(&scope);
	return rc;
}

void bar_kit_sigv4_out_free(bar_kit_sigv4_out *out)
{
	if (!out)
		return;
	bar_kit_buf_free(&out->canonical);
	bar_kit_buf_free(&out->string_to_sign);
	bar_kit_buf_free(&out->authorization);
	bar_kit_wipe(out->signature, sizeof(out->signature));
}

void bar_kit_sigv4_date(char out[17], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
