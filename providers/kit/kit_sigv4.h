/*
 * kit_sigv4.h - AWS Signature Version 4 (the "AWS4-HMAC-SHA256" scheme) on
 * the kit's SHA-256 and HMAC, for the aws driver and anything else that
 * speaks to an AWS-style API.
 *
 * The signer builds the canonical request (method, URI, sorted and
 * re-encoded query, lower-cased sorted headers, the payload's SHA-256), the
 * string to sign over the credential scope date/region/service/aws4_request,
 * derives the signing key and writes the Authorization header value.  It
 * sends nothing itself; the caller adds the headers it signed.  Tested
 * against AWS's published test suite (tests/data/aws/sigv4/).
 */
#ifndef BAR_KIT_SIGV4_H
#define BAR_KIT_SIGV4_H

#include "http.h"

#include <stddef.h>
#include <time.h>

typedef struct bar_kit_sigv4_header {
	const char *name;  /* any case; signed lower-cased */
	const char *value; /* trimmed, inner runs of blanks collapsed */
} bar_kit_sigv4_header;

typedef struct bar_kit_sigv4_req {
	const char *method;                   /* "POST" */
	const char *path;                     /* already URI-encoded, "/" when empty */
	const char *query;                    /* raw query without '?', may be NULL */
	const bar_kit_sigv4_header *headers;  /* every header to sign, incl. host and
	                                       * x-amz-date (and x-amz-security-token) */
	size_t n_headers;
	const void *payload;
	size_t payload_len;
	const char *amz_date;                 /* "20150830T123600Z" */
	const char *region;
	const char *service;                  /* "ec2" */
	const char *access_key_id;
	const char *secret_access_key;        /* secret: only hashed, wiped after use */
} bar_kit_sigv4_req;

typedef struct bar_kit_sigv4_out {
	bar_kit_buf canonical;      /* the canonical request */
	bar_kit_buf string_to_sign;
	char signature[65];         /* lower-case hex */
	bar_kit_buf authorization;  /* the Authorization header's value */
} bar_kit_sigv4_out;

/*
 * Sign one request.  Returns 0 with *out filled (the caller releases it with
 * bar_kit_sigv4_out_free, even on failure), or -1 when an input is missing,
 * there are more than 64 headers, or memory ran out.
 */
int bar_kit_sigv4_sign(bar_kit_sigv4_out *out, const bar_kit_sigv4_req *req);
void bar_kit_sigv4_out_free(bar_kit_sigv4_out *out);

/* The ISO 8601 basic time SigV4 wants ("20150830T123600Z") of t, in UTC,
 * into out[17]. */
void bar_kit_sigv4_date(char out[17], time_t t);

#endif
