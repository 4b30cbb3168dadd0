/*
 * ali_sign.h - the Alibaba Cloud RPC request: a list of query parameters,
 * the common parameters of ECS 2014-05-26 and VPC 2016-04-28 (Action,
 * Version, Format, AccessKeyId, SignatureMethod, SignatureVersion,
 * SignatureNonce, Timestamp, SecurityToken), and its HMAC-SHA1 signature
 * ("signature version 1.0": base64(HMAC-SHA1(secret + "&", METHOD + "&%2F&" +
 * percentEncode(sorted canonical query)))).  Only the alibaba driver signs
 * this way, so it lives here and not in the kit.  No state; nothing here
 * logs or keeps a secret beyond the call.
 */
#ifndef BAR_ALI_SIGN_H
#define BAR_ALI_SIGN_H

#include "http.h"

#include <stddef.h>

/* One request's parameters, in the order added (signing sorts a copy). */
typedef struct ali_params {
	size_t n, cap;
	char **k, **v;
	int failed; /* set once an add ran out of memory */
} ali_params;

/* Add a parameter (both strings copied); on failure set p->failed. */
void ali_params_add(ali_params *p, const char *key, const char *value);
void ali_params_addf(ali_params *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The value of `key`, or NULL (borrowed). */
const char *ali_params_get(const ali_params *p, const char *key);
/* Free everything, wiping the values (one may be a token). */
void ali_params_free(ali_params *p);

/* Append s percent-encoded the way Alibaba's RPC signature wants it
 * (RFC 3986: A-Z a-z 0-9 - _ . ~ kept, space %20, '*' %2A). */
int ali_percent_encode(bar_kit_buf *b, const char *s);

/*
 * The canonicalised query of p (every parameter, sorted by key in byte
 * order, "k=v" percent-encoded and joined with '&') into out, and the
 * string to sign ("METHOD&%2F&" + percent-encoded canonical query) into
 * sts when sts is not NULL.  Returns 0 or -1 (no memory, p->failed).
 */
int ali_canonical(bar_kit_buf *out, bar_kit_buf *sts, const ali_params *p, const char *method);

/*
 * The signature of p: base64(HMAC-SHA1(secret "&", string to sign)) into
 * sig[size] (28 characters and a NUL for SHA-1).  Returns 0 or -1.
 */
int ali_signature(char *sig, size_t size, const ali_params *p, const char *method,
                  const char *secret);

/*
 * The signed body of a request: the canonical query with "&Signature=..."
 * appended, into out (the caller frees it with bar_kit_buf_free, which
 * wipes it).  Returns 0 or -1.
 */
int ali_sign(bar_kit_buf *out, const ali_params *p, const char *method, const char *secret);

/* Timestamp (ISO 8601 UTC, "2016-02-23T12:46:24Z") of now into out[21]. */
void ali_timestamp(char *out, size_t size);

/* A fresh random nonce (UUID form) into out[37]. */
void ali_nonce(char *out, size_t size);

#endif
