/*
 * http.c - the kit's HTTP client on libcurl (see http.h).
 *
 * One client per connection session.  Requests from many threads each get
 * an easy handle of their own; a curl share object (locked per data kind)
 * lets them reuse connections, DNS answers and TLS sessions, which is what
 * makes a refresh of many pages cheap.  Redirects are not followed: a cloud
 * API that redirects is misconfigured, and following could send a signed
 * request elsewhere.
 */
#include "http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_MAX_BODY ((size_t)32 << 20)
#define MAX_HEADERS ((size_t)64 << 10)

struct bar_kit_http {
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	char *user_agent;
	char *ca_file;
	int timeout_ms;
	int connect_timeout_ms;
	size_t max_body;
	bar_kit_http_errparse errparse;
	bar_kit_http_coderc coderc;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *ud)
{
	bar_kit_http *h = ud;

	(void)c;
	(void)access;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *ud)
{
	bar_kit_http *h = ud;

	(void)c;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->locks[data]);
}

int bar_kit_http_new(bar_kit_http **out, const bar_kit_http_opts *opts, char *why, size_t size)
{
	bar_kit_http *h;

	pthread_once(&global_once, global_init);
	if (global_rc < 0) {
		snprintf(why, size, "libcurl could not be initialised");
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto nomem;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->locks[i], NULL);
	h->share = curl_share_init();
	h->user_agent = strdup(opts && opts->user_agent ? opts->user_agent : "barista");
	h->ca_file = opts && opts->ca_file ? strdup(opts->ca_file) : NULL;
	if (!h->share || !h->user_agent || (opts && opts->ca_file && !h->ca_file))
		goto nomem;
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	h->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	h->connect_timeout_ms =
	    opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_MS;
	h->max_body = opts && opts->max_body ? opts->max_body : DEFAULT_MAX_BODY;
	h->errparse = opts ? opts->errparse : NULL;
	h->coderc = opts ? opts->coderc : NULL;
	*out = h;
	return 0;
nomem:
	bar_kit_http_free(h);
	snprintf(why, size, "out of memory");
	return -1;
}

void bar_kit_http_free(bar_kit_http *h)
{
	if (!h)
		return;
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->locks[i]);
	free(h->user_agent);
	free(h->ca_file);
	free(h);
}

void bar_kit_http_resp_clear(bar_kit_http_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

/* What one transfer collects. */
typedef struct xfer {
	bar_kit_buf body;
	bar_kit_buf headers;
	const bar_host_api *host;
	bar_call *call;
	CURL *easy;
	int stopped; /* 1 cancelled, 2 deadline */
} xfer;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	xfer *x = ud;

	if (!x->body.cap) {
		/* a known length: one allocation instead of a dozen doublings */
		curl_off_t len = -1;
		if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK &&
		    len > 0 && (size_t)len < x->body.max)
			bar_kit_buf_reserve(&x->body, (size_t)len + 1);
	}
	return bar_kit_buf_add(&x->body, data, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	xfer *x = ud;

	/* a new status line (after "100 Continue") starts the block again */
	if (size * n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		x->headers.len = 0;
	return bar_kit_buf_add(&x->headers, data, size * n) < 0 ? 0 : size * n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	xfer *x = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (x->host->cancelled && x->host->cancelled(x->call)) {
		x->stopped = 1;
		return 1;
	}
	if (x->call->deadline_ms && bar_kit_now_ms() >= x->call->deadline_ms) {
		x->stopped = 2;
		return 1;
	}
	return 0;
}

int bar_kit_http_status_rc(long status)
{
	switch (status) {
	case 400: case 405: case 413: case 422:
		return BAR_EINVALID;
	case 401: case 403:
		return BAR_EAUTH;
	case 404: case 410:
		return BAR_ENOTFOUND;
	case 409: case 412:
		return BAR_ECONFLICT;
	case 408: case 425: case 429: case 500: case 502: case 503: case 504:
		return BAR_ERETRY;
	default:
		return status >= 200 && status < 400 ? BAR_OK : BAR_EFAIL;
	}
}

int bar_kit_retry_after_ms(const char *value)
{
	char *end;
	long secs;
	time_t when;

	if (!value || !*value)
		return -1;
	secs = strtol(value, &end, 10);
	if (end != value && *end == '\0')
		return secs < 0 ? -1 : secs > 3600 ? 3600 * 1000 : (int)(secs * 1000);
	when = curl_getdate(value, NULL);
	if (when == (time_t)-1)
		return -1;
	secs = (long)(when - time(NULL));
	return secs <= 0 ? 0 : secs > 3600 ? 3600 * 1000 : (int)(secs * 1000);
}

const char *bar_kit_http_header(const bar_kit_http_resp *r, const char *name, char *out,
                                size_t size)
{
	size_t nl = strlen(name);

	for (const char *line = r->headers; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			size_t vl = len - nl - 1;

			while (vl && (*v == ' ' || *v == '\t'))
				v++, vl--;
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= size)
				vl = size - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return out;
		}
		line = eol ? eol + 1 : line + len;
	}
	return NULL;
}

/* The easy handle for one request; NULL when libcurl has no memory. */
static CURL *make_handle(bar_kit_http *h, const bar_kit_http_req *req, bar_call *call,
                         xfer *x, struct curl_slist **hdrs)
{
	CURL *c = curl_easy_init();
	long timeout = h->timeout_ms;

	if (!c)
		return NULL;
	if (call->deadline_ms) {
		int64_t left = call->deadline_ms - bar_kit_now_ms();

		if (left < timeout)
			timeout = left < 1 ? 1 : (long)left;
	}
	*hdrs = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		*hdrs = curl_slist_append(*hdrs, req->headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
	}
	return c;
}

/* The outcome of a transfer that got no complete answer. */
static int transport_error(const bar_kit_http_req *req, CURLcode res, const xfer *x,
                           bar_kit_err *e, const char **code)
{
	if (x->stopped == 1) {
		*code = "Canceled";
		return bar_kit_fail(e, BAR_ECANCELED, *code, "%s: canceled", req->operation);
	}
	if (x->stopped == 2) {
		*code = "DeadlineExceeded";
		return bar_kit_fail(e, BAR_ETIMEOUT, *code, "%s: the call's deadline passed",
		                    req->operation);
	}
	if (res == CURLE_WRITE_ERROR && x->body.failed) {
		*code = "ResponseTooLarge";
		return bar_kit_fail(e, BAR_EFAIL, *code, "%s: the answer is larger than %zu bytes",
		                    req->operation, x->body.max);
	}
	if (res == CURLE_OUT_OF_MEMORY) {
		*code = "OutOfMemory";
		return bar_kit_fail(e, BAR_EFAIL, *code, "%s: out of memory", req->operation);
	}
	if (res == CURLE_URL_MALFORMAT || res == CURLE_UNSUPPORTED_PROTOCOL) {
		*code = "BadEndpoint";
		return bar_kit_fail(e, BAR_EINVALID, *code, "%s: %s (check the connection's endpoint)",
		                    req->operation, curl_easy_strerror(res));
	}
	if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE) {
		*code = "TLSVerification";
		return bar_kit_fail(e, BAR_EFAIL, *code, "%s: %s", req->operation,
		                    curl_easy_strerror(res));
	}
	/* the request may or may not have reached the cloud: every call is safe
	 * to repeat (creates carry their idempotency key), so the host retries */
	*code = res == CURLE_OPERATION_TIMEDOUT ? "RequestTimeout" : "ConnectionFailed";
	return bar_kit_fail(e, BAR_ERETRY, *code, "%s: %s", req->operation,
	                    curl_easy_strerror(res));
}

int bar_kit_http_do(bar_kit_http *h, const bar_host_api *host, bar_call *call,
                    const bar_kit_http_req *req, bar_kit_http_resp *out, bar_kit_err *e)
{
	xfer x = {.host = host, .call = call};
	struct curl_slist *hdrs = NULL;
	int64_t t0 = bar_kit_now_ms();
	const char *code = "";
	CURLcode res;
	CURL *c;
	int rc = BAR_OK;

	memset(out, 0, sizeof(*out));
	x.body.max = h->max_body;
	x.headers.max = MAX_HEADERS;
	if (on_progress(&x, 0, 0, 0, 0)) {
		rc = transport_error(req, CURLE_ABORTED_BY_CALLBACK, &x, e, &code);
		goto done;
	}
	c = make_handle(h, req, call, &x, &hdrs);
	if (!c) {
		rc = bar_kit_fail(e, BAR_EFAIL, "OutOfMemory", "%s: out of memory", req->operation);
		goto done;
	}
	x.easy = c;
	res = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (res != CURLE_OK) {
		out->status = 0;
		rc = transport_error(req, res, &x, e, &code);
		goto done;
	}
	if (out->status >= 400 && h->errparse)
		h->errparse(x.body.p ? x.body.p : "", x.body.len, out->status, out->code,
		            sizeof(out->code), out->msg, sizeof(out->msg));
	if (out->status >= 400) {
		char ra[64];

		rc = h->coderc ? h->coderc(out->code, out->status) : 0;
		if (!rc)
			rc = bar_kit_http_status_rc(out->status);
		if (!out->code[0])
			snprintf(out->code, sizeof(out->code), "HTTP%ld", out->status);
		code = out->code;
		out->headers = x.headers.p;
		if (rc == BAR_ERETRY && bar_kit_http_header(out, "Retry-After", ra, sizeof(ra))) {
			int ms = bar_kit_retry_after_ms(ra);

			if (ms >= 0)
				call->retry_after_ms = ms;
		}
		out->headers = NULL;
		bar_kit_fail(e, rc, out->code, "%s: %s (HTTP %ld)", req->operation,
		             out->msg[0] ? out->msg : "the cloud gave no message", out->status);
	}
done:
	out->duration_ms = bar_kit_now_ms() - t0;
	bar_kit_record_call(host, call, req->operation, req->resource, out->status, code,
	                    out->duration_ms);
	if (x.body.failed || x.headers.failed) {
		bar_kit_buf_free(&x.body);
		bar_kit_buf_free(&x.headers);
	}
	out->body = x.body.p ? x.body.p : calloc(1, 1);
	out->body_len = x.body.len;
	out->headers = x.headers.p ? x.headers.p : calloc(1, 1);
	if (!out->body || !out->headers) {
		bar_kit_http_resp_clear(out);
		return bar_kit_fail(e, BAR_EFAIL, "OutOfMemory", "%s: out of memory", req->operation);
	}
	return rc;
}

const char *bar_kit_credential(const bar_host_api *host, bar_call *call,
                               const char *const *names)
{
	for (size_t i = 0; names && names[i]; i++) {
		const char *v = host->credential(call, names[i]);

		if (v && *v)
			return v;
	}
	return NULL;
}
