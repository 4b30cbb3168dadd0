/*
 * gcp.c - the gcp driver (Google Compute Engine v1): the plugin's table, the
 * per-connection session with its OAuth2 access token (a service account's
 * JWT bearer assertion exchanged at the token endpoint, cached and
 * refreshed under a mutex), the request helper every resource file uses,
 * Operations, and the dispatch of the callbacks by resource type.
 *
 * The resources themselves live in gcp_net.c (vnet, securitygroup) and
 * gcp_key.c (sshkey), gcp_lookup.c (image, spec) and gcp_vm.c (vm);
 * check() and catalog() in gcp_check.c.
 */
#include "gcp.h"
#include "kit_jwt.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const bar_host_api *gcp_host;

/* ---- names ---- */

int gcp_valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

void gcp_name(char *out, size_t size, const char *name, const char *key, size_t max)
{
	char hex[9] = "00000000";
	size_t o = 0, h = 0;

	for (const char *k = key; k && *k && h < 8; k++)
		if ((*k >= '0' && *k <= '9') || (*k >= 'a' && *k <= 'f') || (*k >= 'A' && *k <= 'F'))
			hex[h++] = (char)(*k | 0x20);
	if (max + 1 > size)
		max = size - 1;
	if (!name || !((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z'))
		out[o++] = 'b';
	for (const char *p = name; p && *p && o + 9 < max; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c | 0x20);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && o > 0 && out[o - 1] == '-')
			continue;
		out[o++] = c;
	}
	while (o > 0 && out[o - 1] == '-')
		o--;
	snprintf(out + o, size - o, "-%s", hex);
}

void gcp_subkey(char out[37], const char *key, const char *salt)
{
	unsigned char d[32];
	char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", key ? key : "", salt ? salt : "");
	bar_kit_sha256(d, buf, strlen(buf));
	d[6] = (unsigned char)((d[6] & 0x0f) | 0x50); /* version 5-like: name based */
	d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12],
	         d[13], d[14], d[15]);
}

const char *gcp_rel(const char *self_link)
{
	const char *p = self_link ? strstr(self_link, "/projects/") : NULL;

	if (!p)
		return NULL;
	p = strchr(p + 10, '/');
	return p ? p + 1 : NULL;
}

const char *gcp_key(gcp_ctx *x, json_t *in)
{
	const char *k = BAR_COVERS(x->call, idempotency_key) ? x->call->idempotency_key : NULL;
	if (!k || !*k)
		k = gcp_str(json_object_get(in, "tags"), "barista:idempotency");
	return k;
}

void gcp_forgive(gcp_ctx *x)
{
	memset(x->e, 0, sizeof(*x->e));
}

int gcp_emit(gcp_ctx *x, bar_sink *out, const char *id, const char *name, const char *status,
             json_t *attrs, json_t *tags)
{
	char *a = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	char *t = tags ? json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	bar_observed o = {sizeof(o), id, name, status, a ? a : "{}", t ? t : "{}"};
	int rc = BAR_OK;

	if (!a || !t)
		rc = bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");
	else if (x->host->emit(out, &o) != 0)
		rc = bar_kit_fail(x->e, BAR_EFAIL, "EmitRefused",
		                  "gcp: the host refused the observation of %s", id);
	free(a);
	free(t);
	return rc;
}

/* ---- config and credentials ---- */

static const char *cfg(json_t *c, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(c, k));
	return v && *v ? v : def;
}

static const char *cred(gcp_ctx *x, const char *field)
{
	const char *const names[] = {field, NULL};
	return bar_kit_credential(x->host, x->call, names);
}

static int session_new(gcp_session **out, bar_call *call, char *why, size_t size)
{
	json_t *c = json_loads(call->config ? call->config : "{}", 0, NULL);
	bar_kit_http_opts o = BAR_KIT_HTTP_OPTS_INIT;
	gcp_session *s = calloc(1, sizeof(*s));
	size_t n;

	if (!s || (c && !json_is_object(c))) {
		snprintf(why, size, s ? "the driver config is not a JSON object" : "out of memory");
		goto fail;
	}
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", cfg(c, "endpoint", GCP_DEFAULT_ENDPOINT));
	n = strlen(s->endpoint);
	while (n > 0 && s->endpoint[n - 1] == '/')
		s->endpoint[--n] = 0;
	snprintf(s->project, sizeof(s->project), "%s", cfg(c, "project", ""));
	snprintf(s->token_uri, sizeof(s->token_uri), "%s", cfg(c, "tokenUri", ""));
	snprintf(s->zone, sizeof(s->zone), "%s", cfg(c, "zone", ""));
	snprintf(s->ssh_user, sizeof(s->ssh_user), "%s", cfg(c, "sshUser", "barista"));
	o.user_agent = "barista-gcp/0.1";
	o.timeout_ms = 150000; /* operations.wait holds its answer up to ~2 minutes */
	o.errparse = gcp_parse_error;
	o.coderc = gcp_code_rc;
	if (bar_kit_http_new(&s->http, &o, why, size) < 0)
		goto fail;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->meta_mu, NULL);
	json_decref(c);
	*out = s;
	return 0;
fail:
	json_decref(c);
	free(s);
	return -1;
}

static void session_free(gcp_session *s)
{
	if (!s)
		return;
	bar_kit_http_free(s->http);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->meta_mu);
	bar_kit_wipe(s->token, sizeof(s->token));
	free(s);
}

/* ---- the access token ---- */

/* Fetch a new token into s->token; the caller holds s->mu. */
static int token_fetch(gcp_ctx *x)
{
	const char *email = cred(x, "client_email"), *pem = cred(x, "private_key");
	const char *kid = cred(x, "private_key_id"), *aud = cred(x, "token_uri");
	const char *uri = *x->s->token_uri ? x->s->token_uri : aud;
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	bar_kit_buf body = {0};
	bar_kit_http_resp r = {0};
	char *jwt = NULL, why[256];
	int expires = 0, rc;

	if (!email || !pem || !aud) {
		return bar_kit_fail(x->e, BAR_EAUTH, "NoCredential",
		                    "gcp: the connection's credential needs the service account "
		                    "key fields client_email, private_key and token_uri");
	}
	if (bar_kit_jwt_assertion(&jwt, email, kid, GCP_SCOPE, aud, (int64_t)time(NULL), 3600, pem,
	                          why, sizeof(why)) < 0)
		return bar_kit_fail(x->e, BAR_EAUTH, "BadCredential", "gcp: %s", why);
	bar_kit_buf_str(&body, "grant_type=");
	bar_kit_buf_urlencode(&body, "urn:ietf:params:oauth:grant-type:jwt-bearer", 0);
	bar_kit_buf_str(&body, "&assertion=");
	bar_kit_buf_str(&body, jwt);
	bar_kit_wipe(jwt, strlen(jwt));
	free(jwt);
	if (body.failed) {
		rc = bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");
		goto done;
	}
	{
		bar_kit_http_req q = {"POST", uri, hdrs, body.p, body.len, "oauth2.token", NULL};
		rc = bar_kit_http_do(x->s->http, x->host, x->call, &q, &r, x->e);
	}
	if (rc != BAR_OK)
		goto done;
	if (gcp_parse_token(r.body, r.body_len, x->s->token, sizeof(x->s->token), &expires) < 0) {
		rc = bar_kit_fail(x->e, BAR_EAUTH, "BadTokenAnswer",
		                  "gcp: the token endpoint's answer has no Bearer access_token");
		goto done;
	}
	/* refresh five minutes early (or halfway, for short tokens) */
	x->s->token_until = bar_kit_now_ms() +
	                    (int64_t)(expires > 600 ? expires - 300 : expires / 2) * 1000;
done:
	if (r.body)
		bar_kit_wipe(r.body, r.body_len);
	bar_kit_http_resp_clear(&r);
	bar_kit_buf_free(&body);
	return rc;
}

/* The bearer header line into hdr[size]. */
static int token_get(gcp_ctx *x, char *hdr, size_t size, int force)
{
	int rc = BAR_OK;

	pthread_mutex_lock(&x->s->mu);
	if (force || !x->s->token[0] || bar_kit_now_ms() >= x->s->token_until) {
		bar_kit_wipe(x->s->token, sizeof(x->s->token));
		rc = token_fetch(x);
	}
	if (rc == BAR_OK)
		snprintf(hdr, size, "Authorization: Bearer %s", x->s->token);
	pthread_mutex_unlock(&x->s->mu);
	return rc;
}

/* ---- requests ---- */

/* gcp_req's work: the answer parsed into *doc when doc is not NULL. */
static int request(gcp_ctx *x, const char *method, const char *path, const char *query,
                   json_t *body, const char *operation, const char *resource, bar_kit_jdoc **doc)
{
	char auth[2200];
	const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
	char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
	bar_kit_buf url = {0};
	bar_kit_http_resp r = {0};
	int rc, attempt;

	bar_kit_buf_printf(&url, "%s/compute/v1/%s%s%s", x->s->endpoint, path, query ? "?" : "",
	                   query ? query : "");
	if (url.failed || (body && !b)) {
		rc = bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");
		goto done;
	}
	for (attempt = 0;; attempt++) {
		bar_kit_err e1 = {0};
		bar_kit_http_req q = {method, url.p, hdrs, b, b ? strlen(b) : 0, operation, resource};

		rc = token_get(x, auth, sizeof(auth), attempt > 0);
		if (rc != BAR_OK)
			goto done;
		bar_kit_http_resp_clear(&r);
		memset(&r, 0, sizeof(r));
		rc = bar_kit_http_do(x->s->http, x->host, x->call, &q, &r, &e1);
		bar_kit_wipe(auth, sizeof(auth));
		/* an expired or revoked token: fetch a new one once */
		if (rc == BAR_EAUTH && r.status == 401 && attempt == 0)
			continue;
		if (rc != BAR_OK) {
			bar_kit_fail(x->e, rc, e1.code, "%s", e1.msg);
			goto done;
		}
		break;
	}
	if (doc) {
		char why[128];
		if (bar_kit_jparse(doc, r.body ? r.body : "", r.body_len, why, sizeof(why)) < 0)
			rc = bar_kit_fail(x->e, BAR_EFAIL, "BadAnswer", "%s: the answer is not JSON "
			                  "(HTTP %ld, %s)", operation, r.status, why);
		else if (bar_kit_jtype(*doc, 0) != BAR_KIT_JOBJECT) {
			bar_kit_jfree(*doc);
			*doc = NULL;
			rc = bar_kit_fail(x->e, BAR_EFAIL, "BadAnswer", "%s: the answer is not a JSON "
			                  "object (HTTP %ld)", operation, r.status);
		}
	}
done:
	bar_kit_http_resp_clear(&r);
	bar_kit_buf_free(&url);
	free(b);
	return rc;
}

int gcp_req(gcp_ctx *x, const char *method, const char *path, const char *query, json_t *body,
            const char *operation, const char *resource, json_t **out)
{
	bar_kit_jdoc *d = NULL;
	int rc = request(x, method, path, query, body, operation, resource, out ? &d : NULL);

	if (rc == BAR_OK && out && !(*out = bar_kit_jjson(d, 0)))
		rc = bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");
	bar_kit_jfree(d);
	return rc;
}

int gcp_preq(gcp_ctx *x, const char *method, const char *rel, const char *query, json_t *body,
             const char *operation, const char *resource, json_t **out)
{
	char path[1024];

	snprintf(path, sizeof(path), "projects/%s/%s", x->project, rel);
	return gcp_req(x, method, path, query, body, operation, resource, out);
}

int gcp_preq_doc(gcp_ctx *x, const char *method, const char *rel, const char *query,
                 json_t *body, const char *operation, const char *resource, bar_kit_jdoc **out)
{
	char path[1024];

	snprintf(path, sizeof(path), "projects/%s/%s", x->project, rel);
	return request(x, method, path, query, body, operation, resource, out);
}

int gcp_op_wait(gcp_ctx *x, json_t *op, const char *what)
{
	json_t *cur = json_incref(op), *next = NULL, *errs;
	int rc = BAR_OK;

	/* operations.wait answers once the operation is DONE (or after about two
	 * minutes, then again): no polling interval to guess, and the kit's
	 * request honours the call's deadline and cancellation meanwhile */
	for (int round = 0; round < 100; round++) {
		const char *st = json_string_value(json_object_get(cur, "status"));
		const char *rel = gcp_rel(json_string_value(json_object_get(cur, "selfLink")));
		char op_name[64], path[512];

		if (st && strcmp(st, "DONE") == 0)
			break;
		if (!rel) {
			rc = bar_kit_fail(x->e, BAR_EFAIL, "BadAnswer",
			                  "%s: the Operation has no selfLink", what);
			goto done;
		}
		if (round > 0 && (rc = bar_kit_sleep(x->host, x->call, 200, what)) != BAR_OK)
			goto done;
		snprintf(op_name, sizeof(op_name), "compute.%sOperations.wait",
		         strncmp(rel, "zones/", 6) == 0     ? "zone"
		         : strncmp(rel, "regions/", 8) == 0 ? "region"
		                                           : "global");
		snprintf(path, sizeof(path), "%s/wait", rel);
		{
			/* the call log names the target by its name, never by URL */
			const char *t = json_string_value(json_object_get(cur, "targetLink"));
			const char *slash = t ? strrchr(t, '/') : NULL;
			rc = gcp_preq(x, "POST", path, NULL, NULL, op_name, slash ? slash + 1 : t, &next);
		}
		if (rc != BAR_OK)
			goto done;
		json_decref(cur);
		cur = next;
		next = NULL;
	}
	errs = json_object_get(json_object_get(cur, "error"), "errors");
	if (json_array_size(errs) > 0) {
		json_t *e0 = json_array_get(errs, 0);
		const char *code = json_string_value(json_object_get(e0, "code"));
		const char *msg = json_string_value(json_object_get(e0, "message"));

		rc = bar_kit_fail(x->e, gcp_op_code_rc(code), code ? code : "OperationFailed",
		                  "%s: %s", what, msg ? msg : "the operation failed");
	}
done:
	json_decref(cur);
	return rc;
}

/* ---- the callbacks ---- */

enum { T_VNET, T_SG, T_KEY, T_IMAGE, T_SPEC, T_VM, T_NONE };

static int type_of(const char *t)
{
	static const char *const names[] = {"vnet", "securitygroup", "sshkey", "image", "spec",
	                                    "vm"};
	for (int i = 0; t && i < T_NONE; i++)
		if (strcmp(t, names[i]) == 0)
			return i;
	return T_NONE;
}

/* Make the context: the session (open's, or one for this call only), the
 * project and the zone. */
static int ctx_begin(gcp_ctx *x, gcp_session **own, bar_call *call, bar_kit_err *e)
{
	const char *pid;
	char why[256];

	memset(x, 0, sizeof(*x));
	x->host = gcp_host;
	x->call = call;
	x->e = e;
	*own = NULL;
	x->s = BAR_COVERS(call, session) ? call->session : NULL;
	if (!x->s) {
		if (session_new(own, call, why, sizeof(why)) < 0)
			return bar_kit_fail(e, BAR_EINVALID, "BadConfig", "gcp: %s", why);
		x->s = *own;
	}
	pid = *x->s->project ? x->s->project : cred(x, "project_id");
	if (!pid || !*pid || strlen(pid) >= sizeof(x->project) || strchr(pid, '/'))
		return bar_kit_fail(e, BAR_EINVALID, "NoProject",
		                    "gcp: no project: set the config's \"project\" or use a service "
		                    "account key with project_id");
	snprintf(x->project, sizeof(x->project), "%s", pid);
	if (*x->s->zone)
		snprintf(x->zone, sizeof(x->zone), "%s", x->s->zone);
	else if (call->zone && *call->zone)
		snprintf(x->zone, sizeof(x->zone), "%s", call->zone);
	/* else: gcp_zone() asks the region once */
	return BAR_OK;
}

int gcp_zone(gcp_ctx *x)
{
	char rel[192], best[64] = "";
	json_t *r = NULL, *z;
	size_t i;
	int rc;

	if (*x->zone)
		return BAR_OK;
	pthread_mutex_lock(&x->s->mu);
	if (strcmp(x->s->zone_region, x->call->region) == 0)
		snprintf(x->zone, sizeof(x->zone), "%s", x->s->zone_auto);
	pthread_mutex_unlock(&x->s->mu);
	if (*x->zone)
		return BAR_OK;
	snprintf(rel, sizeof(rel), "regions/%s", x->call->region);
	if ((rc = gcp_preq(x, "GET", rel, NULL, NULL, "compute.regions.get", x->call->region, &r)))
		return rc;
	/* the alphabetically first zone of the region: stable between runs */
	json_array_foreach(json_object_get(r, "zones"), i, z) {
		const char *n = json_string_value(z), *seg = n ? strrchr(n, '/') : NULL;
		seg = seg ? seg + 1 : n;
		if (seg && gcp_valid_name(seg) && (!*best || strcmp(seg, best) < 0))
			snprintf(best, sizeof(best), "%s", seg);
	}
	json_decref(r);
	if (!*best)
		return bar_kit_fail(x->e, BAR_EINVALID, "NoZone", "gcp: region %s has no zones",
		                    x->call->region);
	snprintf(x->zone, sizeof(x->zone), "%s", best);
	pthread_mutex_lock(&x->s->mu);
	snprintf(x->s->zone_region, sizeof(x->s->zone_region), "%s", x->call->region);
	snprintf(x->s->zone_auto, sizeof(x->s->zone_auto), "%s", best);
	pthread_mutex_unlock(&x->s->mu);
	return BAR_OK;
}

static int ctx_end(gcp_ctx *x, gcp_session *own, int rc)
{
	rc = bar_kit_report(x->host, x->call, x->e, rc, GCP_PLUGIN);
	session_free(own);
	return rc;
}

static int gcp_open(bar_provider *p, bar_call *call, void **session)
{
	gcp_session *s = NULL;
	char why[256];

	(void)p;
	if (session_new(&s, call, why, sizeof(why)) < 0) {
		gcp_host->set_error(call, "BadConfig", "gcp: %s", why);
		return BAR_EINVALID;
	}
	*session = s;
	return BAR_OK;
}

static void gcp_close(bar_provider *p, void *session)
{
	(void)p;
	session_free(session);
}

/* Parse the input; BAR_EINVALID on a malformed one. */
static int input(gcp_ctx *x, json_t **in, const char *type, const char *text, int need_id)
{
	char why[256];

	if (bar_kit_input(in, why, sizeof(why), type, text, need_id) != 0)
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput", "gcp: %s", why);
	return BAR_OK;
}

static int unknown_type(gcp_ctx *x, const char *type)
{
	return bar_kit_fail(x->e, BAR_ENOTSUP, "UnknownType", "gcp: no resource type \"%s\"",
	                    type ? type : "");
}

static int cb_create(bar_provider *p, bar_call *call, const char *type, const char *text,
                     bar_sink *out)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	json_t *in = NULL;
	int t = type_of(type), rc;

	(void)p;
	if ((rc = ctx_begin(&x, &own, call, &e)) != BAR_OK)
		goto done;
	if (t == T_NONE) {
		rc = unknown_type(&x, type);
		goto done;
	}
	if ((rc = input(&x, &in, type, text, 0)) != BAR_OK)
		goto done;
	switch (t) {
	case T_VNET: rc = gcp_vnet_create(&x, in, out); break;
	case T_SG: rc = gcp_sg_create(&x, in, out); break;
	case T_KEY: rc = gcp_key_create(&x, in, out); break;
	case T_IMAGE: rc = gcp_image_create(&x, in, out); break;
	case T_SPEC: rc = gcp_spec_create(&x, in, out); break;
	default: rc = gcp_vm_create(&x, in, out); break;
	}
done:
	json_decref(in);
	return ctx_end(&x, own, rc);
}

/* read and poll differ only for a VM, whose poll follows its operation. */
static int read_or_poll(bar_call *call, const char *type, const char *text, bar_sink *out,
                        int poll)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	json_t *in = NULL;
	const char *id;
	int t = type_of(type), rc;

	if ((rc = ctx_begin(&x, &own, call, &e)) != BAR_OK)
		goto done;
	if (t == T_NONE) {
		rc = unknown_type(&x, type);
		goto done;
	}
	if ((rc = input(&x, &in, type, text, 1)) != BAR_OK)
		goto done;
	id = json_string_value(json_object_get(in, "system_id"));
	switch (t) {
	case T_VNET: rc = gcp_vnet_read(&x, id, in, out); break;
	case T_SG: rc = gcp_sg_read(&x, id, out); break;
	case T_KEY: rc = gcp_key_read(&x, id, out); break;
	case T_IMAGE: rc = gcp_image_read(&x, id, in, out); break;
	case T_SPEC: rc = gcp_spec_read(&x, id, in, out); break;
	default: rc = poll ? gcp_vm_poll(&x, id, in, out) : gcp_vm_read(&x, id, out); break;
	}
done:
	json_decref(in);
	return ctx_end(&x, own, rc);
}

static int cb_read(bar_provider *p, bar_call *call, const char *type, const char *text,
                   bar_sink *out)
{
	(void)p;
	return read_or_poll(call, type, text, out, 0);
}

static int cb_update(bar_provider *p, bar_call *call, const char *type, const char *text,
                     bar_sink *out)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	json_t *in = NULL;
	const char *id;
	int t = type_of(type), rc;

	(void)p;
	if ((rc = ctx_begin(&x, &own, call, &e)) != BAR_OK)
		goto done;
	if (t == T_NONE) {
		rc = unknown_type(&x, type);
		goto done;
	}
	if ((rc = input(&x, &in, type, text, 1)) != BAR_OK)
		goto done;
	id = json_string_value(json_object_get(in, "system_id"));
	if (t == T_SG)
		rc = gcp_sg_update(&x, id, in, out);
	else if (t == T_VM)
		rc = gcp_vm_update(&x, id, in, out);
	else
		rc = bar_kit_fail(&e, BAR_ENOTSUP, "NotUpdatable",
		                  "gcp: a %s changes only by replacement", type);
done:
	json_decref(in);
	return ctx_end(&x, own, rc);
}

static int cb_del(bar_provider *p, bar_call *call, const char *type, const char *text)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	json_t *in = NULL;
	const char *id;
	int t = type_of(type), rc;

	(void)p;
	if ((rc = ctx_begin(&x, &own, call, &e)) != BAR_OK)
		goto done;
	if (t == T_NONE) {
		rc = unknown_type(&x, type);
		goto done;
	}
	if ((rc = input(&x, &in, type, text, 1)) != BAR_OK)
		goto done;
	id = json_string_value(json_object_get(in, "system_id"));
	switch (t) {
	case T_VNET: rc = gcp_vnet_delete(&x, id); break;
	case T_SG: rc = gcp_sg_delete(&x, id); break;
	case T_KEY: rc = gcp_key_delete(&x, id); break;
	case T_VM: rc = gcp_vm_delete(&x, id); break;
	default: rc = BAR_OK; break; /* lookups: nothing of ours to delete */
	}
done:
	json_decref(in);
	return ctx_end(&x, own, rc);
}

static int cb_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	int t = type_of(type), rc;

	(void)p;
	if ((rc = ctx_begin(&x, &own, call, &e)) != BAR_OK)
		goto done;
	switch (t) {
	case T_VNET: rc = gcp_vnet_list(&x, out); break;
	case T_SG: rc = gcp_sg_list(&x, out); break;
	case T_KEY: rc = gcp_key_list(&x, out); break;
	case T_VM: rc = gcp_vm_list(&x, out); break;
	case T_NONE: rc = unknown_type(&x, type); break;
	default: rc = BAR_OK; break; /* lookups are never listed */
	}
done:
	return ctx_end(&x, own, rc);
}

static int cb_vm_action(bar_provider *p, bar_call *call, const char *action, const char *text,
                        bar_sink *out)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	json_t *in = NULL;
	int rc;

	(void)p;
	if ((rc = ctx_begin(&x, &own, call, &e)) != BAR_OK)
		goto done;
	if ((rc = input(&x, &in, "vm", text, 1)) != BAR_OK)
		goto done;
	rc = gcp_vm_action(&x, action, json_string_value(json_object_get(in, "system_id")), out);
done:
	json_decref(in);
	return ctx_end(&x, own, rc);
}

static int cb_poll(bar_provider *p, bar_call *call, const char *type, const char *text,
                   bar_sink *out)
{
	(void)p;
	return read_or_poll(call, type, text, out, 1);
}

static int cb_check(bar_provider *p, bar_call *call)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	int rc;

	(void)p;
	if ((rc = ctx_begin(&x, &own, call, &e)) == BAR_OK)
		rc = gcp_check(&x);
	return ctx_end(&x, own, rc);
}

static int cb_catalog(bar_provider *p, bar_call *call, const char *what, bar_sink *out)
{
	bar_kit_err e = {0};
	gcp_session *own;
	gcp_ctx x;
	int rc;

	(void)p;
	if ((rc = ctx_begin(&x, &own, call, &e)) == BAR_OK)
		rc = gcp_catalog(&x, what, out);
	return ctx_end(&x, own, rc);
}

/*
 * Compute Engine's API rate limits (https://cloud.google.com/compute/api-quota)
 * are per project and per minute, by request group (read, list, operation
 * read, mutation, heavy-weight mutation such as instances.insert), with
 * defaults of the order of a thousand or more per minute for reads and
 * operation reads and fewer for heavy-weight mutations, i.e. a few to a
 * few dozen per second.  16 calls at once, each waiting on its Operation
 * (operations.wait, or a VM's poll every 0.5 s), stay under them while a
 * large reconcile still overlaps; a
 * throttled call is BAR_ERETRY and the host lowers the concurrency.
 */
static bar_provider gcp_provider = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_provider),
	.name = GCP_PLUGIN,
	.version = "0.1.0",
	.capabilities = BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST | BAR_CAP_ASYNC |
	                BAR_CAP_IDEMPOTENT,
	.types = bar_kit_cloud_types,
	.open = gcp_open,
	.close = gcp_close,
	.create = cb_create,
	.read = cb_read,
	.update = cb_update,
	.del = cb_del,
	.list = cb_list,
	.vm_action = cb_vm_action,
	.poll = cb_poll,
	.check = cb_check,
	.catalog = cb_catalog,
	.default_concurrency = 16,
};

__attribute__((visibility("default"))) int barista_provider_init(const bar_host_api *host,
                                                                 bar_provider **out,
                                                                 char **errmsg)
{
	if (bar_kit_check_host(host, GCP_PLUGIN, errmsg) != 0)
		return -1;
	gcp_host = host;
	*out = &gcp_provider;
	return 0;
}
