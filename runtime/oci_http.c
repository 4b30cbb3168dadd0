/*
 * oci_http.c - requests to a registry (OCI distribution spec, "Pull"):
 * manifests by tag or digest, blobs by digest, with the bearer-token flow
 * of distribution's docs/spec/auth/token.md (a 401 carries
 * `WWW-Authenticate: Bearer realm=...,service=...,scope=...`; the client
 * GETs realm?service=&scope=, with basic credentials when it has them, and
 * retries with `Authorization: Bearer <token>`) or a Basic challenge.
 *
 * Every body is bounded: documents by BAR_OCI_DOC_MAX, blobs by the size
 * their descriptor states, error bodies by ERRBODY_MAX.  Tokens and
 * credentials live only in the Authorization header and are zeroed when
 * dropped; no message names them.
 */
#include "oci_int.h"

#include "error.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ERRBODY_MAX (64u << 10)
#define TOKEN_BODY_MAX (1u << 20)
#define DEFAULT_TIMEOUT_MS 30000L
#define ACCEPT_ALL                                                                       \
	"Accept: " BAR_OCI_MT_MANIFEST ", " BAR_OCI_MT_INDEX ", " BAR_OCI_MT_DOCKER_MANIFEST \
	", " BAR_OCI_MT_DOCKER_LIST

struct bar_oci_client {
	CURL *h;
	const bar_oci_opts *o;
	char text[BAR_OCI_REF_MAX]; /* the reference as given, for messages */
	char base[320];             /* "https://host[:port]" */
	char repo[256];
	char *auth;                 /* "Authorization: ..." or NULL; a secret */
	long timeout_ms;
	size_t requests, blobs;
};

/* One response: status, the headers we use, and where the body goes. */
typedef struct resp {
	long status;
	char digest[BAR_OCI_DIGEST_MAX]; /* Docker-Content-Digest */
	char ctype[128];
	char challenge[2048];            /* WWW-Authenticate */
	bar_buf *body;                   /* 2xx body into memory, or */
	FILE *file;                      /* into a file, hashed on the way */
	EVP_MD_CTX *md;
	uint64_t got, limit;             /* the body may not pass limit */
	int over;                        /* the body passed its limit */
	int write_errno;                 /* writing the blob file failed */
	bar_buf err;                     /* a non-2xx body */
	CURL *h;
} resp;

static void resp_init(resp *r, CURL *h)
{
	memset(r, 0, sizeof(*r));
	r->err = (bar_buf)BAR_BUF_INIT(ERRBODY_MAX);
	r->h = h;
}

static void resp_reset(resp *r)
{
	r->status = 0;
	r->digest[0] = r->ctype[0] = r->challenge[0] = '\0';
	r->got = 0;
	r->over = 0;
	r->write_errno = 0;
	bar_buf_free(&r->err);
	if (r->body)
		bar_buf_free(r->body);
}

static void copy_trimmed(char *dst, size_t n, const char *v, size_t vn)
{
	while (vn && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
		vn--;
	if (vn >= n)
		vn = n - 1;
	memcpy(dst, v, vn);
	dst[vn] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	size_t len = size * n;
	const char *colon = memchr(p, ':', len);
	size_t kn = colon ? (size_t)(colon - p) : 0;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (redirects) */
		r->digest[0] = r->ctype[0] = r->challenge[0] = '\0';
		return len;
	}
	if (!colon)
		return len;
	if (kn == 21 && strncasecmp(p, "Docker-Content-Digest", kn) == 0)
		copy_trimmed(r->digest, sizeof(r->digest), colon + 1, len - kn - 1);
	else if (kn == 12 && strncasecmp(p, "Content-Type", kn) == 0) {
		const char *semi = memchr(colon + 1, ';', len - kn - 1); /* "; charset=..." */

		copy_trimmed(r->ctype, sizeof(r->ctype), colon + 1,
		             semi ? (size_t)(semi - colon - 1) : len - kn - 1);
	}
	else if (kn == 16 && strncasecmp(p, "WWW-Authenticate", kn) == 0)
		copy_trimmed(r->challenge, sizeof(r->challenge), colon + 1, len - kn - 1);
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) { /* an error body: keep what fits */
		(void)bar_buf_add(&r->err, p, len);
		return len;
	}
	if (r->got + len > r->limit) { /* every body has a limit, 0 included */
		r->over = 1;
		return 0;
	}
	r->got += len;
	if (r->file) {
		EVP_DigestUpdate(r->md, p, len);
		if (fwrite(p, 1, len, r->file) != len) {
			r->write_errno = errno ? errno : EIO;
			return 0;
		}
		return len;
	}
	if (r->body && bar_buf_add(r->body, p, len) < 0) {
		r->over = 1;
		return 0;
	}
	return len;
}

static int is_insecure(const char *reg, const char *const *list)
{
	if (strcmp(reg, "localhost") == 0 || strncmp(reg, "localhost:", 10) == 0 ||
	    strncmp(reg, "127.", 4) == 0 || strncmp(reg, "[::1]", 5) == 0)
		return 1;
	for (; list && *list; list++)
		if (strcmp(*list, reg) == 0)
			return 1;
	return 0;
}

static void drop_auth(bar_oci_client *c)
{
	if (c->auth) {
		bar_memzero(c->auth, strlen(c->auth));
		free(c->auth);
		c->auth = NULL;
	}
}

int bar_oci_client_new(bar_oci_client **out, const bar_oci_ref *ref, const char *text,
                       const bar_oci_opts *o)
{
	bar_oci_client *c = bar_calloc(1, sizeof(*c));
	const char *host = strcmp(ref->registry, "docker.io") == 0 ? "registry-1.docker.io"
	                                                           : ref->registry;

	c->h = curl_easy_init();
	if (!c->h) {
		free(c);
		return bar_error_set("%s: cannot start libcurl", text);
	}
	c->o = o;
	snprintf(c->text, sizeof(c->text), "%s", text);
	snprintf(c->base, sizeof(c->base), "%s://%s",
	         is_insecure(ref->registry, o->insecure) ? "http" : "https", host);
	snprintf(c->repo, sizeof(c->repo), "%s", ref->repository);
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	*out = c;
	return 0;
}

void bar_oci_client_free(bar_oci_client *c)
{
	if (!c)
		return;
	drop_auth(c);
	curl_easy_cleanup(c->h);
	free(c);
}

size_t bar_oci_client_requests(const bar_oci_client *c)
{
	return c->requests;
}

size_t bar_oci_client_blobs(const bar_oci_client *c)
{
	return c->blobs;
}

static void setup(bar_oci_client *c, const char *url, int head, int blob, resp *r,
                  struct curl_slist *hd, char *errbuf)
{
	CURL *h = c->h;

	curl_easy_reset(h); /* keeps the connection cache */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOBODY, head ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* blobs are often redirected to storage; curl drops our Authorization
	 * header when the redirect leaves the registry's host */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms
	                                                                     : 10000L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "barista-oci/1");
	if (blob) { /* a layer may take long; a stall may not */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
		                 c->timeout_ms >= 2000 ? c->timeout_ms / 1000 : 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	}
}

/* The value of key in a challenge's parameters (key="value", ...). */
static int challenge_param(char *out, size_t n, const char *params, const char *key)
{
	const char *p = params;
	size_t kl = strlen(key);

	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncasecmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1, *e;

			if (*v == '"') {
				e = strchr(++v, '"');
				if (!e)
					return -1;
			} else {
				e = v + strcspn(v, ", ");
			}
			if ((size_t)(e - v) >= n)
				return -1;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return 0;
		}
		/* skip this parameter, quoted commas included */
		while (*p && *p != ',') {
			if (*p == '"') {
				const char *e = strchr(p + 1, '"');

				p = e ? e + 1 : p + strlen(p);
			} else {
				p++;
			}
		}
	}
	return -1;
}

static int basic_header(bar_oci_client *c)
{
	char *plain = bar_printf("%s:%s", c->o->username, c->o->password ? c->o->password : "");
	size_t pn = strlen(plain);
	unsigned char *b64 = bar_malloc(4 * ((pn + 2) / 3) + 1);

	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)pn);
	drop_auth(c);
	c->auth = bar_printf("Authorization: Basic %s", b64);
	bar_memzero(plain, pn);
	bar_memzero(b64, strlen((char *)b64));
	free(plain);
	free(b64);
	return 0;
}

/* Get a token from the realm of a Bearer challenge. */
static int bearer_token(bar_oci_client *c, const char *params)
{
	char realm[1024], service[512] = "", scope[512] = "", errbuf[CURL_ERROR_SIZE] = "";
	char *url = NULL, *es = NULL, *esc = NULL;
	bar_buf body = BAR_BUF_INIT(TOKEN_BODY_MAX);
	json_t *j = NULL;
	const char *tok;
	CURLcode cc;
	resp r;
	int rc;

	resp_init(&r, c->h);
	r.body = &body;
	r.limit = TOKEN_BODY_MAX;
	if (challenge_param(realm, sizeof(realm), params, "realm") < 0 ||
	    (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)) {
		rc = bar_error_setc(BAR_EAUTH, "%s: the registry's Bearer challenge has no http(s) "
		                    "realm", c->text);
		goto done;
	}
	challenge_param(service, sizeof(service), params, "service");
	if (challenge_param(scope, sizeof(scope), params, "scope") < 0)
		snprintf(scope, sizeof(scope), "repository:%s:pull", c->repo);
	es = curl_easy_escape(c->h, service, 0);
	esc = curl_easy_escape(c->h, scope, 0);
	url = bar_printf("%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
	                 es ? es : "", esc ? esc : "");
	setup(c, url, 0, 0, &r, NULL, errbuf);
	if (c->o->username) {
		curl_easy_setopt(c->h, CURLOPT_USERNAME, c->o->username);
		curl_easy_setopt(c->h, CURLOPT_PASSWORD, c->o->password ? c->o->password : "");
	}
	cc = curl_easy_perform(c->h);
	c->requests++;
	if (cc != CURLE_OK) {
		rc = bar_error_setc(BAR_ERETRY, "%s: cannot reach the token service %s: %s", c->text,
		                    realm, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto done;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r.status);
	if (r.status == 401 || r.status == 403) {
		rc = bar_error_setc(BAR_EAUTH, "%s: the token service %s refused %s (%ld)", c->text,
		                    realm, c->o->username ? "the credentials" : "anonymous access",
		                    r.status);
		goto done;
	}
	if (r.status != 200) {
		rc = bar_error_setc(r.status >= 500 ? BAR_ERETRY : BAR_EAUTH,
		                    "%s: the token service %s answered %ld", c->text, realm, r.status);
		goto done;
	}
	j = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
	tok = json_string_value(json_object_get(j, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !*tok || strpbrk(tok, "\r\n")) {
		rc = bar_error_setc(BAR_EAUTH, "%s: the token service %s gave no token", c->text,
		                    realm);
		goto done;
	}
	drop_auth(c);
	c->auth = bar_printf("Authorization: Bearer %s", tok);
	rc = 0;
done:
	if (body.data)
		bar_memzero(body.data, body.len);
	if (j) {
		/* the token's copy inside the JSON value */
		json_t *t = json_object_get(j, "token");

		if (json_is_string(t))
			bar_memzero((char *)json_string_value(t), json_string_length(t));
		t = json_object_get(j, "access_token");
		if (json_is_string(t))
			bar_memzero((char *)json_string_value(t), json_string_length(t));
		json_decref(j);
	}
	curl_free(es);
	curl_free(esc);
	bar_buf_free(&body);
	bar_buf_free(&r.err);
	free(url);
	return rc;
}

static int authenticate(bar_oci_client *c, const char *challenge)
{
	if (strncasecmp(challenge, "Bearer ", 7) == 0)
		return bearer_token(c, challenge + 7);
	if (strncasecmp(challenge, "Basic", 5) == 0) {
		if (!c->o->username)
			return bar_error_setc(BAR_EAUTH, "%s: the registry asks for credentials "
			                      "(Basic) and none were given", c->text);
		return basic_header(c);
	}
	return bar_error_setc(BAR_EAUTH, "%s: the registry asks for an authentication scheme "
	                      "this client does not speak (%.40s)", c->text, challenge);
}

/* The registry's answer as an error: its own code and message from the
 * distribution error body when there is one. */
static int status_error(bar_oci_client *c, const resp *r)
{
	json_t *j = r->err.data ? json_loadb(r->err.data, r->err.len, 0, NULL) : NULL;
	json_t *e = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	int rc = r->status == 404                        ? BAR_ENOTFOUND
	         : r->status == 401 || r->status == 403 ? BAR_EAUTH
	         : r->status == 429 || r->status >= 500 ? BAR_ERETRY
	         : r->status == 400                     ? BAR_EINVALID /* NAME_INVALID ... */
	                                                 : -1;
	bar_error *be;

	if (code)
		bar_error_setc(rc, "%s: the registry answered %ld %.100s%s%.500s", c->text, r->status,
		               code, msg && *msg ? ": " : "", msg ? msg : "");
	else
		bar_error_setc(rc, "%s: the registry answered %ld", c->text, r->status);
	be = bar_error_get();
	snprintf(be->provider_code, sizeof(be->provider_code), "%s", code ? code : "");
	snprintf(be->provider_message, sizeof(be->provider_message), "%s", msg ? msg : "");
	json_decref(j);
	return rc;
}

/* Free a header list whose strings may hold a credential, zeroing them. */
static void slist_free_secret(struct curl_slist *l)
{
	struct curl_slist *n;

	for (n = l; n; n = n->next)
		bar_memzero(n->data, strlen(n->data));
	curl_slist_free_all(l);
}

/* GET/HEAD url into r, answering one 401 challenge.  0 with r->status set
 * (any status), or an error for a transport failure. */
static int perform(bar_oci_client *c, const char *url, int head, int blob, const char *accept,
                   resp *r)
{
	char errbuf[CURL_ERROR_SIZE];
	int attempt, rc = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		struct curl_slist *hd = NULL;
		CURLcode cc;

		if (accept)
			hd = curl_slist_append(hd, accept);
		if (c->auth)
			hd = curl_slist_append(hd, c->auth);
		errbuf[0] = '\0';
		setup(c, url, head, blob, r, hd, errbuf);
		cc = curl_easy_perform(c->h);
		c->requests++;
		slist_free_secret(hd); /* holds a copy of the Authorization line */
		if (cc != CURLE_OK && r->write_errno)
			return bar_error_setc(-1, "%s: cannot write %s: %s", c->text,
			                      url + strlen(c->base), strerror(r->write_errno));
		if (cc != CURLE_OK && r->over)
			return bar_error_setc(BAR_EINVALID, "%s: %s is larger than %llu bytes", c->text,
			                      url + strlen(c->base), (unsigned long long)r->limit);
		if (cc != CURLE_OK)
			return bar_error_setc(BAR_ERETRY, "%s: cannot reach the registry at %s: %s",
			                      c->text, c->base,
			                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->status != 401 || attempt > 0 || !r->challenge[0])
			break;
		if (c->auth && strncasecmp(c->auth, "Authorization: Basic", 20) == 0 &&
		    strncasecmp(r->challenge, "Basic", 5) == 0)
			break; /* our credentials were refused */
		rc = authenticate(c, r->challenge);
		if (rc < 0)
			return rc;
		resp_reset(r);
		if (r->file) {
			if (fflush(r->file) != 0 || ftruncate(fileno(r->file), 0) != 0 ||
			    fseek(r->file, 0, SEEK_SET) != 0)
				return bar_error_set("%s: cannot rewind a blob file", c->text);
			EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
		}
	}
	return 0;
}

static int digest_mismatch(bar_oci_client *c, const char *what, const char *want,
                           const char *got)
{
	return bar_error_setc(BAR_EINVALID, "%s: digest mismatch for %s: expected %s, the "
	                      "registry sent content with digest %s", c->text, what, want, got);
}

int bar_oci_client_manifest(bar_oci_client *c, int head, const char *reference, char *digest,
                            char *content_type, char **body, size_t *len)
{
	bar_buf b = BAR_BUF_INIT(BAR_OCI_DOC_MAX);
	char *url = bar_printf("%s/v2/%s/manifests/%s", c->base, c->repo, reference);
	char got[BAR_OCI_DIGEST_MAX];
	resp r;
	int rc;

	resp_init(&r, c->h);
	r.body = &b;
	r.limit = BAR_OCI_DOC_MAX;
	rc = perform(c, url, head, 0, ACCEPT_ALL, &r);
	if (rc < 0)
		goto done;
	if (r.status < 200 || r.status >= 300) {
		rc = status_error(c, &r);
		goto done;
	}
	snprintf(content_type, 128, "%s", r.ctype);
	if (head) {
		snprintf(digest, BAR_OCI_DIGEST_MAX, "%s", bar_oci_digest_ok(r.digest) ? r.digest : "");
		rc = 0;
		goto done;
	}
	bar_oci_sha256(got, b.data ? b.data : "", b.len);
	if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, got) != 0) {
		rc = digest_mismatch(c, "the manifest", reference, got);
		goto done;
	}
	if (r.digest[0] && strcmp(r.digest, got) != 0) {
		rc = digest_mismatch(c, "the manifest (Docker-Content-Digest)", r.digest, got);
		goto done;
	}
	snprintf(digest, BAR_OCI_DIGEST_MAX, "%s", got);
	*len = b.len;
	*body = b.data ? bar_buf_take(&b) : bar_strdup("");
	rc = 0;
done:
	bar_buf_free(&b);
	bar_buf_free(&r.err);
	free(url);
	return rc;
}

/* GET a blob into r (memory or file) and check its size and digest. */
static int blob_get(bar_oci_client *c, const char *digest, uint64_t size, resp *r)
{
	char *url = bar_printf("%s/v2/%s/blobs/%s", c->base, c->repo, digest);
	int rc;

	r->limit = size;
	rc = perform(c, url, 0, 1, NULL, r);
	free(url);
	if (rc < 0)
		return rc;
	if (r->status < 200 || r->status >= 300)
		return status_error(c, r);
	c->blobs++;
	if (r->got != size)
		return bar_error_setc(BAR_EINVALID, "%s: blob %s is %llu bytes, the manifest says "
		                      "%llu", c->text, digest, (unsigned long long)r->got,
		                      (unsigned long long)size);
	return 0;
}

int bar_oci_client_blob_mem(bar_oci_client *c, const char *digest, uint64_t size, char **body)
{
	bar_buf b = BAR_BUF_INIT(BAR_OCI_DOC_MAX);
	char got[BAR_OCI_DIGEST_MAX];
	resp r;
	int rc;

	if (size > BAR_OCI_DOC_MAX)
		return bar_error_setc(BAR_EINVALID, "%s: blob %s is %llu bytes (at most %u)",
		                      c->text, digest, (unsigned long long)size, BAR_OCI_DOC_MAX);
	resp_init(&r, c->h);
	r.body = &b;
	rc = blob_get(c, digest, size, &r);
	if (rc < 0)
		goto done;
	bar_oci_sha256(got, b.data ? b.data : "", b.len);
	if (strcmp(got, digest) != 0) {
		rc = digest_mismatch(c, "a blob", digest, got);
		goto done;
	}
	*body = b.data ? bar_buf_take(&b) : bar_strdup("");
	rc = 0;
done:
	bar_buf_free(&b);
	bar_buf_free(&r.err);
	return rc;
}

int bar_oci_client_blob_file(bar_oci_client *c, const char *digest, uint64_t size,
                             const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn = 0, i;
	char got[BAR_OCI_DIGEST_MAX];
	int fd, rc;
	resp r;

	resp_init(&r, c->h);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return bar_error_set("%s: cannot create %s: %m", c->text, path);
	r.file = fdopen(fd, "wb");
	r.md = EVP_MD_CTX_new();
	if (!r.file || !r.md) {
		rc = bar_error_set("%s: out of memory", c->text);
		goto done;
	}
	EVP_DigestInit_ex(r.md, EVP_sha256(), NULL);
	rc = blob_get(c, digest, size, &r);
	if (rc < 0)
		goto done;
	EVP_DigestFinal_ex(r.md, md, &mdn);
	memcpy(got, "sha256:", 8);
	for (i = 0; i < mdn && i < 32; i++)
		snprintf(got + 7 + 2 * i, 3, "%02x", md[i]);
	if (strcmp(got, digest) != 0) {
		rc = digest_mismatch(c, "a blob", digest, got);
		goto done;
	}
	if (fflush(r.file) != 0 || fsync(fileno(r.file)) != 0) {
		rc = bar_error_set("%s: cannot write %s: %m", c->text, path);
		goto done;
	}
	rc = 0;
done:
	if (r.file) {
		if (fclose(r.file) != 0 && rc == 0)
			rc = bar_error_set("%s: cannot write %s: %m", c->text, path);
	} else {
		close(fd);
	}
	EVP_MD_CTX_free(r.md);
	bar_buf_free(&r.err);
	return rc;
}
