/*
 * http.h - the provider kit's HTTP client and the helpers every cloud driver
 * shares: a bounded growable buffer, percent-encoding, hashes and HMACs,
 * base64, Retry-After, and the mapping of HTTP statuses to the ABI's codes.
 *
 * Like the rest of the kit it sees only the ABI header and is linked
 * statically into each cloud plugin (library bar_kit_http: libcurl and
 * OpenSSL's libcrypto).  One bar_kit_http serves a connection's session and
 * may be used from many threads at once: each request gets its own curl easy
 * handle, and the handles share connections, DNS and TLS sessions.
 *
 * Every request is recorded in the host's call log (operation, resource,
 * HTTP status, the cloud's error code, duration; never the URL, headers or
 * body, which may carry signatures or secrets) and honours the call's
 * deadline and cancellation while it is in flight.
 */
#ifndef BAR_KIT_HTTP_H
#define BAR_KIT_HTTP_H

#include "kit.h"

#include <stddef.h>
#include <stdint.h>

/* ---- a growable buffer with a ceiling (curl's dynbuf) ---- */

typedef struct bar_kit_buf {
	char *p;     /* NUL-terminated once anything was added; may be NULL */
	size_t len;
	size_t cap;
	size_t max;  /* 0: 64 MiB */
	int failed;  /* set once an append failed (no memory, over max) */
} bar_kit_buf;

/* Append; on failure set b->failed and return -1 (later appends fail too). */
int bar_kit_buf_add(bar_kit_buf *b, const void *data, size_t n);
int bar_kit_buf_str(bar_kit_buf *b, const char *s);
/* Make room for n bytes in all (a body whose Content-Length is known is
 * read without growing); more than the ceiling is not reserved.  0, or -1
 * (b->failed) without memory. */
int bar_kit_buf_reserve(bar_kit_buf *b, size_t n);
int bar_kit_buf_printf(bar_kit_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s percent-encoded (RFC 3986: everything but A-Z a-z 0-9 - _ . ~),
 * keeping '/' when keep_slash. */
int bar_kit_buf_urlencode(bar_kit_buf *b, const char *s, int keep_slash);
/* Zero the bytes (it may have held a secret) and free. */
void bar_kit_buf_free(bar_kit_buf *b);

/* ---- digests (OpenSSL's libcrypto) ---- */

/* out: 32 bytes. */
void bar_kit_sha256(unsigned char *out, const void *data, size_t n);
/* out: 32 (sha256) or 20 (sha1) bytes. */
void bar_kit_hmac_sha256(unsigned char *out, const void *key, size_t klen, const void *data,
                         size_t n);
void bar_kit_hmac_sha1(unsigned char *out, const void *key, size_t klen, const void *data,
                       size_t n);
/* Lower-case hex of n bytes into out (2n+1). */
void bar_kit_hex(char *out, const unsigned char *in, size_t n);
/* Base64 of n bytes (url: the URL-safe alphabet without padding, as JWTs
 * use).  Returns a malloc'd string or NULL. */
char *bar_kit_base64(const unsigned char *in, size_t n, int url);
/* Decode standard base64 (padding and whitespace allowed) into a malloc'd
 * buffer with *n bytes; NULL when malformed. */
unsigned char *bar_kit_base64_decode(const char *in, size_t *n);
/* Wipe n bytes so that the compiler cannot skip it. */
void bar_kit_wipe(void *p, size_t n);

/* ---- HTTP ---- */

typedef struct bar_kit_http bar_kit_http;

/*
 * How a cloud reports an error in a response body.  Called for every
 * response with status >= 400 (and for 2xx bodies when the cloud reports
 * errors there, see parse_ok): fill code[csize] with the cloud's error code
 * and msg[msize] with its message, or leave them empty when the body says
 * nothing.  Must not copy anything secret (it sees only the response).
 */
typedef void (*bar_kit_http_errparse)(const char *body, size_t len, long status, char *code,
                                      size_t csize, char *msg, size_t msize);

/*
 * How a cloud's error maps to the ABI's codes when the status alone does not
 * say (AWS answers 400 for both "InvalidInstanceID.NotFound" and
 * "InvalidParameterValue").  Return a BAR_E* code, or 0 to use
 * bar_kit_http_status_rc(status).
 */
typedef int (*bar_kit_http_coderc)(const char *code, long status);

typedef struct bar_kit_http_opts {
	uint32_t version;          /* BAR_KIT_HTTP_OPTS_VERSION */
	const char *user_agent;    /* "barista-aws/0.1" */
	int timeout_ms;            /* per request; 0: 60 s (the call's deadline may cut it) */
	int connect_timeout_ms;    /* 0: 10 s */
	size_t max_body;           /* largest response body kept; 0: 32 MiB */
	const char *ca_file;       /* extra CA bundle, or NULL for the system's */
	bar_kit_http_errparse errparse;
	bar_kit_http_coderc coderc; /* may be NULL */
} bar_kit_http_opts;
#define BAR_KIT_HTTP_OPTS_VERSION 1
#define BAR_KIT_HTTP_OPTS_INIT {BAR_KIT_HTTP_OPTS_VERSION, NULL, 0, 0, 0, NULL, NULL, NULL}

typedef struct bar_kit_http_req {
	const char *method;          /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *url;
	const char *const *headers;  /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *body;            /* may be NULL */
	size_t body_len;
	const char *operation;       /* the API operation, for the call log and errors */
	const char *resource;        /* the cloud id the request is about; may be NULL */
} bar_kit_http_req;

typedef struct bar_kit_http_resp {
	long status;          /* 0 when no response arrived */
	char *body;           /* NUL-terminated; "" when empty; malloc'd */
	size_t body_len;
	char *headers;        /* the last response's header lines, NUL-terminated */
	int64_t duration_ms;
	char code[128];       /* the cloud's error code (errparse), "" if none */
	char msg[768];        /* its message */
} bar_kit_http_resp;

/* Make a client for one session.  Returns 0 with *out, or -1 (no memory,
 * libcurl could not start) with why[size]. */
int bar_kit_http_new(bar_kit_http **out, const bar_kit_http_opts *opts, char *why, size_t size);
void bar_kit_http_free(bar_kit_http *h);

/*
 * Send one request and wait for its answer, recording it in the host's call
 * log.  While in flight it gives up when the host cancels the call
 * (BAR_ECANCELED) or the call's deadline passes (BAR_ETIMEOUT).
 *
 * Returns BAR_OK with *out filled for a 2xx or 3xx answer.  Otherwise the
 * error is in e: a connection failure or timeout of the request itself is
 * BAR_ERETRY (the host retries; a create carries its idempotency key); an
 * error answer is the code the cloud's error (coderc) or its status maps to,
 * with e->code the cloud's code (or "HTTP<status>") and e->msg
 * "<operation>: <cloud's message> (HTTP <status>)"; 429 and 503 set
 * call->retry_after_ms from Retry-After.  *out is filled for error answers
 * too (status, body, code, msg), so a driver can look closer; free it with
 * bar_kit_http_resp_clear in every case.
 */
int bar_kit_http_do(bar_kit_http *h, const bar_host_api *host, bar_call *call,
                    const bar_kit_http_req *req, bar_kit_http_resp *out, bar_kit_err *e);
void bar_kit_http_resp_clear(bar_kit_http_resp *r);

/* The value of response header `name` (case-insensitive), copied into
 * out[size] without surrounding blanks; returns out, or NULL when absent. */
const char *bar_kit_http_header(const bar_kit_http_resp *r, const char *name, char *out,
                                size_t size);

/* The ABI code an HTTP error status means when the cloud's code says no
 * more: 400/405/413/422 EINVALID, 401/403 EAUTH, 404/410 ENOTFOUND, 409/412
 * ECONFLICT, 408/425/429/500/502/503/504 ERETRY, others EFAIL. */
int bar_kit_http_status_rc(long status);

/* A Retry-After value (delta seconds or an HTTP date) in milliseconds, or
 * -1 when it cannot be read. */
int bar_kit_retry_after_ms(const char *value);

/* The first of `names` (NULL-terminated) the connection's credential
 * answers, or NULL: clouds' own formats spell a field differently
 * ("aws_access_key_id" in a shared credentials file, "AccessKeyId" from a
 * credential_process). */
const char *bar_kit_credential(const bar_host_api *host, bar_call *call,
                               const char *const *names);

#endif
