/*
 * openstack.c - the `openstack` provider: Keystone v3, Nova (compute API
 * 2.1), Neutron (v2.0) and Glance (v2) through the kit's HTTP client.
 *
 * A connection's session holds one Keystone token and the endpoints the
 * token's service catalogue gives for the connection's region and
 * interface; every call takes the token under the session's mutex and
 * fetches a new one two minutes before it expires (or when a service
 * answers 401).  The credential is read from the host at each token
 * request and never kept: only the token is, and it is wiped when replaced.
 *
 * This file holds the table, the session, Keystone, the request helper,
 * the dispatch of callbacks to the resource files (os_net.c, os_compute.c),
 * check() and catalog().  docs/driver-openstack.md describes the mapping.
 */
#include "os.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OS_VERSION "0.1.0"
#define OS_TOKEN_MARGIN_MS (120 * 1000)

const bar_host_api *os_host;

/* ---- small helpers ---- */

int os_is_uuid(const char *s)
{
	static const int dash[] = {8, 13, 18, 23};
	size_t n = s ? strlen(s) : 0;

	if (n == 32) { /* Keystone/Neutron sometimes print them without dashes */
		for (size_t i = 0; i < n; i++)
			if (!strchr("0123456789abcdefABCDEF", s[i]))
				return 0;
		return 1;
	}
	if (n != 36)
		return 0;
	for (size_t i = 0, d = 0; i < n; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-')
				return 0;
			d++;
		} else if (!strchr("0123456789abcdefABCDEF", s[i])) {
			return 0;
		}
	}
	return 1;
}

static json_t *empty_tags;
static pthread_once_t empty_once = PTHREAD_ONCE_INIT;

static void make_empty_tags(void)
{
	empty_tags = json_object(); /* never freed: one per process */
}

const json_t *os_in_tags(const json_t *in)
{
	const json_t *t = json_object_get(in, "tags");

	if (json_is_object(t))
		return t;
	pthread_once(&empty_once, make_empty_tags);
	return empty_tags;
}

int os_emit(os_ctx *x, bar_sink *sink, const char *id, const char *name, const char *status,
            const json_t *attrs, const json_t *tags)
{
	char *a = json_dumps(attrs, OS_JSON), *t = json_dumps(tags, OS_JSON);
	bar_observed o = {sizeof(o), id, name, status, a, t};
	int rc = BAR_OK;

	if (!a || !t)
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
	else if (x->host->emit(sink, &o) != 0)
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "EmitRefused",
		                  "openstack: the host refused the observation of %s", id);
	free(a);
	free(t);
	return rc;
}

/* ---- HTTP errors ---- */

/* Codes whose HTTP status does not say enough. */
static int os_coderc(const char *code, long status)
{
	if (status == 413 || strcmp(code, "overLimit") == 0 || strcmp(code, "rateLimit") == 0)
		return BAR_ERETRY; /* Nova's (and proxies') rate limits, with Retry-After */
	if (strcmp(code, "OverQuota") == 0 || strcmp(code, "IpAddressGenerationFailure") == 0)
		return BAR_EINVALID;
	if (status == 403 && strstr(code, "orbidden"))
		return BAR_EAUTH;
	return 0;
}

/* ---- the session ---- */

static int session_new(os_session **out, const char *config, const char *region, char *why,
                       size_t size)
{
	json_t *cfg = json_loads(config && *config ? config : "{}", 0, NULL);
	const char *url = json_string_value(json_object_get(cfg, "authUrl"));
	const char *iface = json_string_value(json_object_get(cfg, "interface"));
	bar_kit_http_opts o = BAR_KIT_HTTP_OPTS_INIT;
	os_session *s = NULL;

	if (!url || !*url)
		url = json_string_value(json_object_get(cfg, "endpoint"));
	if (!json_is_object(cfg) || !url || !*url || strlen(url) >= OS_URL_MAX) {
		snprintf(why, size, "the connection's config needs \"authUrl\" (Keystone's URL, "
		         "e.g. https://keystone.example.com:5000)");
		goto fail;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(why, size, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&s->mu, NULL);
	snprintf(s->auth_url, sizeof(s->auth_url), "%s", url);
	while (*s->auth_url && s->auth_url[strlen(s->auth_url) - 1] == '/')
		s->auth_url[strlen(s->auth_url) - 1] = '\0';
	if (strlen(s->auth_url) > 3 && strcmp(s->auth_url + strlen(s->auth_url) - 3, "/v3") == 0)
		s->auth_url[strlen(s->auth_url) - 3] = '\0'; /* clouds.yaml often says .../v3 */
	snprintf(s->iface, sizeof(s->iface), "%s", iface && *iface ? iface : "public");
	snprintf(s->region, sizeof(s->region), "%s", region ? region : "");
	o.user_agent = "barista-openstack/" OS_VERSION;
	o.errparse = os_parse_error;
	o.coderc = os_coderc;
	o.ca_file = json_string_value(json_object_get(cfg, "caFile"));
	if (bar_kit_http_new(&s->http, &o, why, size) < 0)
		goto fail;
	json_decref(cfg);
	*out = s;
	return 0;
fail:
	if (s)
		pthread_mutex_destroy(&s->mu);
	free(s);
	json_decref(cfg);
	return -1;
}

static void session_free(os_session *s)
{
	if (!s)
		return;
	if (s->token) {
		bar_kit_wipe(s->token, strlen(s->token));
		free(s->token);
	}
	free(s->token_body);
	bar_kit_http_free(s->http);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int os_open(bar_provider *p, bar_call *call, void **session)
{
	char why[256];
	os_session *s;

	(void)p;
	if (session_new(&s, call->config, call->region, why, sizeof(why)) < 0) {
		os_host->set_error(call, "InvalidConfig", "openstack: %s", why);
		return BAR_EINVALID;
	}
	*session = s;
	return BAR_OK;
}

static void os_close(bar_provider *p, void *session)
{
	(void)p;
	session_free(session);
}

/* ---- Keystone ---- */

static const char *cred(os_ctx *x, const char *name)
{
	const char *names[] = {name, NULL};

	return bar_kit_credential(x->host, x->call, names);
}

/* Wipe the strings of a JSON value that held a credential, then free it. */
static void wipe_json(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j))
		bar_kit_wipe((char *)json_string_value(j), json_string_length(j));
	else if (json_is_object(j))
		json_object_foreach(j, k, v) wipe_json(v);
	else if (json_is_array(j))
		json_array_foreach(j, i, v) wipe_json(v);
}

/* {"name"|"id": ..., "domain": {...}} from the credential's fields. */
static json_t *named(const char *id, const char *name, const char *dom_id, const char *dom_name)
{
	json_t *o = json_object();

	if (id)
		json_object_set_new(o, "id", json_string(id));
	else if (name) {
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "domain", dom_id ? json_pack("{s:s}", "id", dom_id)
		                                        : json_pack("{s:s}", "name",
		                                                    dom_name ? dom_name : "Default"));
	}
	return o;
}

/* The body of POST /v3/auth/tokens from the connection's credential. */
static json_t *auth_body(os_ctx *x)
{
	const char *acid = cred(x, "application_credential_id");
	const char *acsec = cred(x, "application_credential_secret");
	const char *user = cred(x, "username"), *uid = cred(x, "user_id");
	const char *pw = cred(x, "password");
	const char *pid = cred(x, "project_id"), *pname = cred(x, "project_name");
	json_t *user_o, *scope;

	if (acid && acsec)
		return json_pack("{s:{s:{s:[s],s:{s:s,s:s}}}}", "auth", "identity", "methods",
		                 "application_credential", "application_credential", "id", acid,
		                 "secret", acsec);
	if (!pw || (!user && !uid) || (!pid && !pname))
		return NULL;
	user_o = named(uid, user, cred(x, "user_domain_id"), cred(x, "user_domain_name"));
	json_object_set_new(user_o, "password", json_string(pw));
	scope = named(pid, pname, cred(x, "project_domain_id"), cred(x, "project_domain_name"));
	return json_pack("{s:{s:{s:[s],s:{s:o}},s:{s:o}}}", "auth", "identity", "methods",
	                 "password", "password", "user", user_o, "scope", "project", scope);
}

/* Fetch a token; the session's mutex is held. */
static int fetch_token(os_ctx *x)
{
	os_session *s = x->s;
	json_t *body = auth_body(x);
	char url[OS_URL_MAX + 32], tok[8192], why[256], *text;
	const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json", NULL};
	bar_kit_http_req req = {.method = "POST", .url = url, .headers = hdrs,
	                        .operation = "identity.tokens.create"};
	bar_kit_http_resp r;
	os_catalog cat;
	int rc;

	if (!body)
		return bar_kit_fail(&x->e, BAR_EAUTH, "MissingCredential",
		                    "openstack: the credential needs username (or user_id), password "
		                    "and project_name (or project_id), or application_credential_id "
		                    "and application_credential_secret");
	text = json_dumps(body, JSON_COMPACT);
	wipe_json(body);
	json_decref(body);
	if (!text)
		return bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
	snprintf(url, sizeof(url), "%s/v3/auth/tokens", s->auth_url);
	req.body = text;
	req.body_len = strlen(text);
	rc = bar_kit_http_do(s->http, x->host, x->call, &req, &r, &x->e);
	bar_kit_wipe(text, strlen(text));
	free(text);
	if (rc != BAR_OK)
		goto done;
	if (!bar_kit_http_header(&r, "X-Subject-Token", tok, sizeof(tok)) || !*tok) {
		rc = bar_kit_fail(&x->e, BAR_EAUTH, "NoToken",
		                  "identity.tokens.create: Keystone gave no X-Subject-Token");
		goto done;
	}
	if (os_parse_token(&cat, r.body, r.body_len, s->region, s->iface, why, sizeof(why)) < 0) {
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "BadToken", "identity.tokens.create: %s", why);
		goto done;
	}
	if (s->token) {
		bar_kit_wipe(s->token, strlen(s->token));
		free(s->token);
	}
	s->token = strdup(tok);
	free(s->token_body);
	s->token_body = strdup(r.body);
	s->cat = cat;
	{
		int64_t left = (cat.expires_unix - (int64_t)time(NULL)) * 1000;

		s->token_until = bar_kit_now_ms() + (left > 2 * OS_TOKEN_MARGIN_MS
		                                         ? left - OS_TOKEN_MARGIN_MS : left / 2);
	}
	if (!s->token || !s->token_body)
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
done:
	bar_kit_wipe(tok, sizeof(tok));
	bar_kit_http_resp_clear(&r);
	return rc;
}

int os_auth(os_ctx *x)
{
	int rc = BAR_OK;

	pthread_mutex_lock(&x->s->mu);
	if (!x->s->token || bar_kit_now_ms() >= x->s->token_until)
		rc = fetch_token(x);
	pthread_mutex_unlock(&x->s->mu);
	return rc;
}

/* ---- requests ---- */

static const char *const svc_prefix[OS_NSVC] = {"", "/v2.0", "/v2"};

/*
 * The URL of service svc for the call's region into out (the session's
 * mutex held): the session's catalogue, or for a call of another region
 * (one connection config serving several regions) the same token's
 * catalogue read for that region.
 */
static int endpoint(os_ctx *x, int svc, char *out, size_t size, const char *op)
{
	const char *region = x->call->region ? x->call->region : "";
	os_catalog other;
	char why[128];
	const char *url = x->s->cat.url[svc];

	if (strcmp(region, x->s->region) != 0) {
		if (os_parse_token(&other, x->s->token_body, strlen(x->s->token_body), region,
		                   x->s->iface, why, sizeof(why)) < 0)
			return bar_kit_fail(&x->e, BAR_EFAIL, "BadToken", "%s: %s", op, why);
		url = other.url[svc];
	}
	if (!*url)
		return bar_kit_fail(&x->e, BAR_EINVALID, "EndpointNotFound",
		                    "%s: the service catalogue has no %s endpoint for region %s, "
		                    "interface %s", op, os_service_types[svc], region, x->s->iface);
	snprintf(out, size, "%s", url);
	return BAR_OK;
}

int os_req_doc(os_ctx *x, const char *method, int svc, const char *path, const json_t *body,
               const char *op, const char *resource, bar_kit_jdoc **out, long *status)
{
	char url[OS_URL_MAX + 2048], auth[8300], base[OS_URL_MAX], *text = NULL;
	const char *hdrs[] = {auth, "Accept: application/json", "Content-Type: application/json",
	                      NULL};
	bar_kit_http_req req = {.method = method, .url = url, .headers = hdrs,
	                        .operation = op, .resource = resource};
	bar_kit_http_resp r;
	int rc, tries = 0;

	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
	req.body = text;
	req.body_len = text ? strlen(text) : 0;
again:
	if ((rc = os_auth(x)) != BAR_OK)
		goto done;
	pthread_mutex_lock(&x->s->mu);
	if ((rc = endpoint(x, svc, base, sizeof(base), op)) != BAR_OK) {
		pthread_mutex_unlock(&x->s->mu);
		goto done;
	}
	{
		size_t bl = strlen(base), pl = strlen(svc_prefix[svc]);
		int has = pl && bl >= pl && strcmp(base + bl - pl, svc_prefix[svc]) == 0;

		snprintf(url, sizeof(url), "%s%s%s", base, has ? "" : svc_prefix[svc], path);
	}
	snprintf(auth, sizeof(auth), "X-Auth-Token: %s", x->s->token);
	pthread_mutex_unlock(&x->s->mu);
	rc = bar_kit_http_do(x->s->http, x->host, x->call, &req, &r, &x->e);
	bar_kit_wipe(auth, sizeof(auth));
	if (rc == BAR_EAUTH && r.status == 401 && tries++ == 0) {
		/* the token was revoked or expired early: one more with a new one */
		pthread_mutex_lock(&x->s->mu);
		x->s->token_until = 0;
		pthread_mutex_unlock(&x->s->mu);
		bar_kit_http_resp_clear(&r);
		x->e = (bar_kit_err){0};
		goto again;
	}
	if (status)
		*status = r.status;
	if (rc == BAR_OK && out) {
		char why[128];

		*out = NULL;
		if (r.body_len && bar_kit_jparse(out, r.body, r.body_len, why, sizeof(why)) < 0) {
			/* jansson's words, as before the kit read answers (the one text
			 * they differ on, a NUL byte, keeps the kit's) */
			json_error_t jerr;
			json_t *j = json_loadb(r.body, r.body_len, 0, &jerr);

			rc = bar_kit_fail(&x->e, BAR_EFAIL, "BadResponse", "%s: the answer is not "
			                  "JSON: %s", op, j ? why : jerr.text);
			json_decref(j);
		}
	}
	bar_kit_http_resp_clear(&r);
done:
	free(text);
	return rc;
}

int os_req(os_ctx *x, const char *method, int svc, const char *path, const json_t *body,
           const char *op, const char *resource, json_t **out, long *status)
{
	bar_kit_jdoc *d = NULL;
	int rc = os_req_doc(x, method, svc, path, body, op, resource, out ? &d : NULL, status);

	if (rc == BAR_OK && out && !(*out = d ? bar_kit_jjson(d, 0) : json_null()))
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
	bar_kit_jfree(d);
	return rc;
}

/* ---- callbacks ---- */

static int begin(os_ctx *x, bar_call *call)
{
	char why[256];

	memset(x, 0, sizeof(*x));
	x->host = os_host;
	x->call = call;
	x->s = BAR_COVERS(call, session) ? call->session : NULL;
	if (!x->s) {
		if (session_new(&x->s, call->config, call->region, why, sizeof(why)) < 0)
			return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidConfig", "openstack: %s", why);
		x->own = 1;
	}
	return BAR_OK;
}

static int end(os_ctx *x, int rc)
{
	if (x->own)
		session_free(x->s);
	return bar_kit_report(x->host, x->call, &x->e, rc, "openstack");
}

static int known(os_ctx *x, const char *type)
{
	if (bar_kit_type_known(type))
		return BAR_OK;
	return bar_kit_fail(&x->e, BAR_ENOTSUP, "UnsupportedType",
	                    "openstack: no resource type \"%s\"", type ? type : "");
}

static int input(os_ctx *x, json_t **in, const char *type, const char *text, int need_id)
{
	char why[256];

	if (bar_kit_input(in, why, sizeof(why), type, text, need_id) != BAR_OK)
		return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput", "openstack: %s", why);
	return BAR_OK;
}

static const char *sid(const json_t *in)
{
	return json_string_value(json_object_get(in, "system_id"));
}

static int os_create(bar_provider *p, bar_call *call, const char *type, const char *text,
                     bar_sink *out)
{
	os_ctx x;
	json_t *in = NULL;
	int rc;

	(void)p;
	if ((rc = begin(&x, call)) || (rc = known(&x, type)) ||
	    (rc = input(&x, &in, type, text, 0)))
		goto done;
	if (strcmp(type, "vnet") == 0)
		rc = os_vnet_create(&x, in, out);
	else if (strcmp(type, "securitygroup") == 0)
		rc = os_sg_create(&x, in, out);
	else if (strcmp(type, "sshkey") == 0)
		rc = os_key_create(&x, in, out);
	else if (strcmp(type, "image") == 0)
		rc = os_image_create(&x, in, out);
	else if (strcmp(type, "spec") == 0)
		rc = os_spec_create(&x, in, out);
	else
		rc = os_vm_create(&x, in, out);
done:
	json_decref(in);
	return end(&x, rc);
}

static int read_any(os_ctx *x, const char *type, json_t *in, bar_sink *out, int poll)
{
	if (strcmp(type, "vnet") == 0)
		return os_vnet_read(x, sid(in), out);
	if (strcmp(type, "securitygroup") == 0)
		return os_sg_read(x, sid(in), out);
	if (strcmp(type, "sshkey") == 0)
		return os_key_read(x, sid(in), json_string_value(json_object_get(in, "name")), out);
	if (strcmp(type, "image") == 0)
		return os_image_read(x, in, out);
	if (strcmp(type, "spec") == 0)
		return os_spec_read(x, in, out);
	return os_vm_read(x, sid(in), out, poll);
}

/* read and poll: the same but for a VM, whose poll follows its operation. */
static int read_call(bar_call *call, const char *type, const char *text, bar_sink *out,
                     int poll)
{
	os_ctx x;
	json_t *in = NULL;
	int rc;

	if (!(rc = begin(&x, call)) && !(rc = known(&x, type)) &&
	    !(rc = input(&x, &in, type, text, 1)))
		rc = read_any(&x, type, in, out, poll);
	json_decref(in);
	return end(&x, rc);
}

static int os_read(bar_provider *p, bar_call *call, const char *type, const char *text,
                   bar_sink *out)
{
	(void)p;
	return read_call(call, type, text, out, 0);
}

static int os_poll(bar_provider *p, bar_call *call, const char *type, const char *text,
                   bar_sink *out)
{
	(void)p;
	return read_call(call, type, text, out, 1);
}

static int os_update(bar_provider *p, bar_call *call, const char *type, const char *text,
                     bar_sink *out)
{
	os_ctx x;
	json_t *in = NULL;
	int rc;

	(void)p;
	if ((rc = begin(&x, call)) || (rc = known(&x, type)) ||
	    (rc = input(&x, &in, type, text, 1)))
		goto done;
	if (strcmp(type, "securitygroup") == 0)
		rc = os_sg_update(&x, in, out);
	else if (strcmp(type, "vm") == 0)
		rc = os_vm_update(&x, in, out);
	else
		rc = bar_kit_fail(&x.e, BAR_ENOTSUP, "NotUpdatable", "openstack: a %s changes only "
		                  "by replacement", type);
done:
	json_decref(in);
	return end(&x, rc);
}

static int os_del(bar_provider *p, bar_call *call, const char *type, const char *text)
{
	os_ctx x;
	json_t *in = NULL;
	int rc;

	(void)p;
	if ((rc = begin(&x, call)) || (rc = known(&x, type)) ||
	    (rc = input(&x, &in, type, text, 1)))
		goto done;
	if (strcmp(type, "vnet") == 0)
		rc = os_vnet_delete(&x, sid(in));
	else if (strcmp(type, "securitygroup") == 0)
		rc = os_sg_delete(&x, sid(in));
	else if (strcmp(type, "sshkey") == 0)
		rc = os_key_delete(&x, sid(in));
	else if (strcmp(type, "vm") == 0)
		rc = os_vm_delete(&x, in);
	/* image, spec: lookups; nothing of the cloud's is deleted */
done:
	json_decref(in);
	return end(&x, rc);
}

static int os_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	os_ctx x;
	int rc;

	(void)p;
	if ((rc = begin(&x, call)) || (rc = known(&x, type)))
		goto done;
	if (strcmp(type, "vnet") == 0)
		rc = os_vnet_list(&x, out);
	else if (strcmp(type, "securitygroup") == 0)
		rc = os_sg_list(&x, out);
	else if (strcmp(type, "sshkey") == 0)
		rc = os_key_list(&x, out);
	else if (strcmp(type, "vm") == 0)
		rc = os_vm_list(&x, out);
done:
	return end(&x, rc);
}

static int os_action(bar_provider *p, bar_call *call, const char *action, const char *text,
                     bar_sink *out)
{
	os_ctx x;
	json_t *in = NULL;
	int rc;

	(void)p;
	if (!(rc = begin(&x, call)) && !(rc = input(&x, &in, "vm", text, 1)))
		rc = os_vm_action(&x, action ? action : "", in, out);
	json_decref(in);
	return end(&x, rc);
}

/* ---- check and catalog ---- */

static void report(os_ctx *x, const char *check, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(os_ctx *x, const char *check, int ok, const char *fmt, ...)
{
	char detail[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (BAR_HAS(x->host, report_check))
		x->host->report_check(x->call, check, ok, detail);
}

static int os_check(bar_provider *p, bar_call *call)
{
	static const char *const what[OS_NSVC] = {"Nova", "Neutron", "Glance"};
	static const struct {
		int svc;
		const char *check, *path, *op, *fix;
	} probes[] = {
		{OS_COMPUTE, "right compute:limits", "/limits", "compute.limits.index",
		 "the project's role must allow os_compute_api:limits (the member role does)"},
		{OS_NETWORK, "right network:get_security_group", "/security-groups?limit=1",
		 "network.security_groups.list", "the role must allow get_security_group"},
		{OS_IMAGE, "right image:get_images", "/images?limit=1", "image.images.index",
		 "the role must allow get_images"},
	};
	os_ctx x;
	int rc, first = BAR_OK;
	int64_t t0;

	(void)p;
	if ((rc = begin(&x, call)) != BAR_OK)
		return end(&x, rc);
	t0 = bar_kit_now_ms();
	if ((rc = os_auth(&x)) != BAR_OK) {
		report(&x, "credential", 0, "Keystone at %s refused a token: %s. Check the "
		       "credential's username, password, user_domain_name, project_name and "
		       "project_domain_name (or the application credential) and authUrl",
		       x.s->auth_url, x.e.msg);
		return end(&x, rc);
	}
	report(&x, "credential", 1, "Keystone at %s issued a project-scoped token in %lld ms",
	       x.s->auth_url, (long long)(bar_kit_now_ms() - t0));
	for (int s = 0; s < OS_NSVC; s++) {
		int ok = x.s->cat.url[s][0] != 0;
		char name[64];

		snprintf(name, sizeof(name), "catalog %s", os_service_types[s]);
		report(&x, name, ok, ok ? "%s (%s) in region %s: %s" :
		       "the service catalogue has no %s (%s) endpoint in region %s%s: check the "
		       "connection's region and interface (config \"interface\")",
		       what[s], os_service_types[s], x.s->region, ok ? x.s->cat.url[s] : "");
		if (!ok && !first)
			first = bar_kit_fail(&x.e, BAR_EINVALID, "EndpointNotFound", "openstack: no %s "
			                     "endpoint in region %s", os_service_types[s], x.s->region);
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		json_t *j = NULL;
		bar_kit_err keep = x.e;

		if (!x.s->cat.url[probes[i].svc][0])
			continue;
		x.e = (bar_kit_err){0};
		rc = os_req(&x, "GET", probes[i].svc, probes[i].path, NULL, probes[i].op, NULL, &j,
		            NULL);
		if (rc == BAR_OK && probes[i].svc == OS_COMPUTE) {
			json_t *abs = json_object_get(json_object_get(j, "limits"), "absolute");
			json_int_t max = json_integer_value(json_object_get(abs, "maxTotalInstances"));
			json_int_t used = json_integer_value(json_object_get(abs, "totalInstancesUsed"));

			report(&x, "quota compute", max < 0 || used < max,
			       "instances %lld of %lld used%s", (long long)used, (long long)max,
			       max >= 0 && used >= max ? ": ask for a larger instances quota" : "");
		}
		report(&x, probes[i].check, rc == BAR_OK, rc == BAR_OK ? "%s answered" : "%s: %s",
		       probes[i].op, rc == BAR_OK ? probes[i].fix : x.e.msg);
		if (rc != BAR_OK && !first)
			first = rc, keep = x.e;
		if (rc == BAR_OK)
			x.e = keep;
		else if (keep.rc)
			x.e = keep;
		json_decref(j);
	}
	return end(&x, first);
}

static int catalog_regions(os_ctx *x, bar_sink *out)
{
	json_t *regions, *r, *attrs = json_pack("{s:[]}", "zones"), *tags = json_object();
	size_t i;
	int rc;

	if ((rc = os_auth(x)) != BAR_OK)
		goto done;
	pthread_mutex_lock(&x->s->mu);
	regions = os_parse_regions(x->s->token_body, strlen(x->s->token_body), "compute");
	pthread_mutex_unlock(&x->s->mu);
	json_array_foreach(regions, i, r) {
		if ((rc = os_emit(x, out, json_string_value(r), json_string_value(r), "Available",
		                  attrs, tags)) != BAR_OK)
			break;
	}
	json_decref(regions);
done:
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

static int catalog_specs(os_ctx *x, bar_sink *out)
{
	json_t *fl = NULL, *f, *tags = json_object();
	size_t i;
	int rc = os_flavors(x, &fl);

	json_array_foreach(fl, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		json_t *a = json_pack("{s:I,s:I,s:I}", "vcpu",
		                      json_integer_value(json_object_get(f, "vcpus")), "memoryMiB",
		                      json_integer_value(json_object_get(f, "ram")), "diskGiB",
		                      json_integer_value(json_object_get(f, "disk")));

		if (rc == BAR_OK && name)
			rc = os_emit(x, out, name, name, "Available", a, tags);
		json_decref(a);
	}
	json_decref(fl);
	json_decref(tags);
	return rc;
}

static int catalog_images(os_ctx *x, bar_sink *out)
{
	char path[256] = "/images?limit=1000", marker[64] = "";
	json_t *tags = json_object();
	int rc = BAR_OK;

	for (int pages = 0; rc == BAR_OK && pages < 1000; pages++) {
		bar_kit_jdoc *d = NULL;
		int list, img;

		if (*marker)
			snprintf(path, sizeof(path), "/images?limit=1000&marker=%s", marker);
		if ((rc = os_req_doc(x, "GET", OS_IMAGE, path, NULL, "image.images.index", NULL, &d,
		                     NULL)) != BAR_OK)
			break;
		/* a page of up to a thousand images, read in place */
		list = bar_kit_jget(d, 0, "images");
		for (img = os_jelems(d, list); img >= 0; img = bar_kit_jnext(d, list, img)) {
			const char *id = os_jstr(d, img, "id"), *os = os_jstr(d, img, "os_distro");
			const char *ver = os_jstr(d, img, "os_version");
			const char *arch = os_jstr(d, img, "architecture");
			const char *name = os_jstr(d, img, "name");
			json_t *a = json_pack("{s:s,s:s,s:s,s:s}", "os", os ? os : "", "version",
			                      ver ? ver : "", "arch", arch ? arch : "", "description",
			                      name ? name : "");

			if (rc == BAR_OK && id)
				rc = os_emit(x, out, id, id, "Available", a, tags);
			if (id)
				snprintf(marker, sizeof(marker), "%s", id);
			json_decref(a);
		}
		if (bar_kit_jget(d, 0, "next") < 0)
			pages = 1000;
		bar_kit_jfree(d);
	}
	json_decref(tags);
	return rc;
}

static int os_catalog_cb(bar_provider *p, bar_call *call, const char *what, bar_sink *out)
{
	os_ctx x;
	int rc;

	(void)p;
	if ((rc = begin(&x, call)) != BAR_OK)
		return end(&x, rc);
	if (what && strcmp(what, "regions") == 0)
		rc = catalog_regions(&x, out);
	else if (what && strcmp(what, "specs") == 0)
		rc = catalog_specs(&x, out);
	else if (what && strcmp(what, "images") == 0)
		rc = catalog_images(&x, out);
	else
		rc = bar_kit_fail(&x.e, BAR_ENOTSUP, "UnsupportedCatalog", "openstack: no catalogue "
		                  "of \"%s\"", what ? what : "");
	return end(&x, rc);
}

static void os_destroy(bar_provider *p)
{
	free(p);
}

__attribute__((visibility("default"))) int
barista_provider_init(const bar_host_api *host, bar_provider **out, char **errmsg)
{
	bar_provider *p;

	if (bar_kit_check_host(host, "openstack", errmsg) < 0)
		return -1;
	if (!(p = calloc(1, sizeof(*p)))) {
		if (errmsg)
			*errmsg = strdup("openstack: out of memory");
		return -1;
	}
	os_host = host;
	*p = (bar_provider){
		.abi_version = BAR_PROVIDER_ABI_VERSION,
		.struct_size = sizeof(*p),
		.name = "openstack",
		.version = OS_VERSION,
		/* long operations always come with a token: no BAR_CAP_ASYNC */
		.capabilities = BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST |
		                BAR_CAP_IDEMPOTENT,
		.types = bar_kit_cloud_types,
		.open = os_open,
		.close = os_close,
		.create = os_create,
		.read = os_read,
		.update = os_update,
		.del = os_del,
		.list = os_list,
		.vm_action = os_action,
		.poll = os_poll,
		.destroy = os_destroy,
		.check = os_check,
		.catalog = os_catalog_cb,
		/* OpenStack publishes no API rate limit (each deployment sets its
		 * own, docs/driver-openstack.md): a conservative 8 at once */
		.default_concurrency = 8,
	};
	*out = p;
	return 0;
}
