/*
 * azure.c - the `azure` provider: Barista's resources as Azure Resource
 * Manager resources (docs/driver-azure.md).
 *
 *   vnet           Microsoft.Network/virtualNetworks with its subnets
 *   securitygroup  Microsoft.Network/networkSecurityGroups (rules in place)
 *   sshkey         Microsoft.Compute/sshPublicKeys (generateKeyPair)
 *   image, spec    lookups: a platform image version, a VM size
 *   vm             Microsoft.Compute/virtualMachines with its own public IP
 *                  and NIC (made before it, deleted with it)
 *
 * Every resource lives in one resource group per connection (config
 * `resourceGroup`, default `barista-<connection>`), made on first use in the
 * connection's region and never deleted.  A create PUTs a name derived from
 * the Barista name and the idempotency key, so a retried create is the same
 * resource.  ARM's long-running operations (201/202 with
 * Azure-AsyncOperation) become the host's operation tokens, followed by
 * poll().  Requests go through the kit's HTTP client with a bearer token of
 * the client-credentials grant, cached per session; answers are read in
 * place with the kit's JSON reader (az.h), list pages included.
 */
#include "az.h"
#include "barista_provider.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AZ_VERSION "0.1.0"
#define AZ_DEFAULT_ENDPOINT "https://management.azure.com"
#define AZ_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define AZ_SCOPE "https://management.azure.com/.default"
#define AZ_DEFAULT_POLL_MS 5000
#define AZ_ADMIN "barista"

static const bar_host_api *g_host;

typedef struct az_sess {
	bar_kit_http *http;
	char endpoint[512];
	char authority[512];
	char sub[128];
	char rg[96];
	char region[64];
	int poll_ms;
	az_token tok;
	pthread_mutex_t mu; /* rg_ready */
	int rg_ready;
} az_sess;

typedef struct az_ctx {
	const bar_host_api *host;
	bar_call *call;
	az_sess *s;
	bar_kit_err err;
	json_t *in;
	const char *type;
	bar_sink *sink;
} az_ctx;

/* ---- small helpers ---- */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void config_str(char *out, size_t size, json_t *cfg, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(cfg, key));

	snprintf(out, size, "%s", v && *v ? v : dflt);
}

static void trim_slash(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '/')
		s[--n] = '\0';
}

/* ARM name of a Barista resource: the name (characters ARM allows in every
 * type's names, at most 50) and 8 hex digits of SHA-256 of the idempotency
 * key, so that the same key always names the same resource. */
static void arm_name(char *out, size_t size, const char *name, const char *key)
{
	unsigned char d[32];
	char hex[65], clean[51];
	size_t i, n = 0;

	for (i = 0; name[i] && n < 50; i++)
		clean[n++] = isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '_'
		                 ? name[i]
		                 : '-';
	clean[n] = '\0';
	bar_kit_sha256(d, key, strlen(key));
	bar_kit_hex(hex, d, 32);
	snprintf(out, size, "%s-%.8s", n ? clean : "r", hex);
}

/* A system id is an ARM resource id of this driver's kind for the type. */
static int id_ok(const char *id, const char *kind)
{
	if (strncmp(id, "/subscriptions/", 15) != 0 || strlen(id) > 900 ||
	    strpbrk(id, "?#% \t\r\n\\") || strstr(id, "/../") || strstr(id, "//"))
		return 0;
	return strstr(id, kind) != NULL && strchr(strstr(id, kind) + strlen(kind), '/') == NULL;
}

static int fail(az_ctx *x, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(az_ctx *x, int rc, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bar_kit_fail(&x->err, rc, code, "%s", msg);
}

/* ---- tokens ---- */

static int token_get(az_ctx *x, char *out, size_t size)
{
	static const char *const tenant_f[] = {"tenantId", "tenant", NULL};
	static const char *const client_f[] = {"clientId", "appId", NULL};
	static const char *const secret_f[] = {"clientSecret", "password", NULL};
	az_token *t = &x->s->tok;
	const char *tenant, *client, *secret;
	char url[800], *form = NULL;
	bar_kit_http_resp r;
	long expires = 0;
	int rc = BAR_OK;

	pthread_mutex_lock(&t->mu);
	if (t->value[0] && bar_kit_now_ms() < t->expires_ms) {
		snprintf(out, size, "%s", t->value);
		goto unlock;
	}
	tenant = bar_kit_credential(x->host, x->call, tenant_f);
	client = bar_kit_credential(x->host, x->call, client_f);
	secret = bar_kit_credential(x->host, x->call, secret_f);
	if (!tenant || !client || !secret) {
		rc = fail(x, BAR_EAUTH, "MissingCredential",
		          "the connection's credential needs tenantId, clientId and clientSecret "
		          "(or tenant, appId and password)");
		goto unlock;
	}
	if (strspn(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
	    strlen(tenant)) {
		rc = fail(x, BAR_EAUTH, "InvalidCredential", "the credential's tenant is not a tenant id "
		          "or domain name");
		goto unlock;
	}
	snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", x->s->authority, tenant);
	form = az_token_form(client, secret, AZ_SCOPE);
	if (!form) {
		rc = fail(x, BAR_EFAIL, "OutOfMemory", "token request: out of memory");
		goto unlock;
	}
	{
		static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
		                                   "Accept: application/json", NULL};
		bar_kit_http_req req = {.method = "POST", .url = url, .headers = hdrs, .body = form,
		                        .body_len = strlen(form), .operation = "oauth2.token"};

		rc = bar_kit_http_do(x->s->http, x->host, x->call, &req, &r, &x->err);
	}
	if (rc == BAR_OK && az_parse_token(r.body, r.body_len, t->value, sizeof(t->value),
	                                   &expires) < 0)
		rc = fail(x, BAR_EAUTH, "InvalidTokenResponse",
		          "the token endpoint answered without an access token");
	if (r.body)
		bar_kit_wipe(r.body, r.body_len);
	bar_kit_http_resp_clear(&r);
	if (rc == BAR_OK) {
		/* refresh a minute early (or at half-life for short tokens) */
		long margin = expires > 120 ? 60 : expires / 2;

		t->expires_ms = bar_kit_now_ms() + (expires - margin) * 1000;
		snprintf(out, size, "%s", t->value);
	}
unlock:
	pthread_mutex_unlock(&t->mu);
	if (form) {
		bar_kit_wipe(form, strlen(form));
		free(form);
	}
	return rc;
}

static void token_drop(az_sess *s)
{
	pthread_mutex_lock(&s->tok.mu);
	bar_kit_wipe(s->tok.value, sizeof(s->tok.value));
	s->tok.expires_ms = 0;
	pthread_mutex_unlock(&s->tok.mu);
}

/* ---- requests ---- */

/* One ARM request; `url` absolute.  The first failure goes to e. */
static int arm_do(az_ctx *x, const char *method, const char *url, json_t *body,
                  const char *operation, const char *resource, bar_kit_http_resp *out,
                  bar_kit_err *e)
{
	char tok[8192], auth[8300];
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *hdrs[] = {auth, "Accept: application/json",
	                      body ? "Content-Type: application/json" : NULL, NULL};
	int rc;

	for (int attempt = 0;; attempt++) {
		bar_kit_err scratch = {0};
		bar_kit_http_req req = {.method = method, .url = url, .headers = hdrs, .body = text,
		                        .body_len = text ? strlen(text) : 0, .operation = operation,
		                        .resource = resource};

		rc = token_get(x, tok, sizeof(tok));
		if (rc != BAR_OK) {
			if (e != &x->err)
				bar_kit_fail(e, x->err.rc, x->err.code, "%s", x->err.msg);
			memset(out, 0, sizeof(*out));
			break;
		}
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
		rc = bar_kit_http_do(x->s->http, x->host, x->call, &req, out, &scratch);
		bar_kit_wipe(auth, sizeof(auth));
		bar_kit_wipe(tok, sizeof(tok));
		/* a token revoked or expired early: get a new one, once */
		if (rc == BAR_EAUTH && attempt == 0 && out->status == 401) {
			bar_kit_http_resp_clear(out);
			token_drop(x->s);
			continue;
		}
		/* throttled (ARM's token buckets refill within seconds): wait as
		 * asked, twice at most, here, so that a throttled poll or a wait
		 * inside a create does not fail the whole call; then the host's
		 * own retry takes over with retry_after_ms */
		if (rc == BAR_ERETRY && out->status == 429 && attempt < 2 &&
		    x->call->retry_after_ms <= 5000) {
			int ms = x->call->retry_after_ms > 0 ? x->call->retry_after_ms : 1000;

			bar_kit_http_resp_clear(out);
			if (bar_kit_sleep(x->host, x->call, ms, operation) != BAR_OK) {
				rc = bar_kit_fail(e, BAR_ERETRY, scratch.code, "%s", scratch.msg);
				memset(out, 0, sizeof(*out));
				break;
			}
			continue;
		}
		if (rc != BAR_OK)
			bar_kit_fail(e, scratch.rc, scratch.code, "%s", scratch.msg);
		break;
	}
	free(text);
	return rc;
}

/* endpoint + path + ?api-version= (+ extra query, already encoded) */
static void url_of(char *out, size_t size, az_sess *s, const char *path, const char *api,
                   const char *extra)
{
	snprintf(out, size, "%s%s?api-version=%s%s%s", s->endpoint, path, api, extra ? "&" : "",
	         extra ? extra : "");
}

static void rg_path(char *out, size_t size, az_sess *s, const char *prov, const char *type,
                    const char *name)
{
	snprintf(out, size, "/subscriptions/%s/resourceGroups/%s/providers/%s/%s%s%s", s->sub, s->rg,
	         prov, type, name ? "/" : "", name ? name : "");
}

/* A URL the cloud handed back (an operation, a nextLink) is followed only
 * when it is under the connection's endpoint: the bearer token goes with it. */
static int url_ours(az_sess *s, const char *url)
{
	size_t n = strlen(s->endpoint);

	return strncmp(url, s->endpoint, n) == 0 && url[n] == '/' && !strpbrk(url, " \r\n");
}

/* The answer parsed by the kit's reader (kit_json.h): 0 with *out, -1 when
 * it is not JSON. */
static int doc_of(bar_kit_jdoc **out, const bar_kit_http_resp *r)
{
	return bar_kit_jparse(out, r->body ? r->body : "", r->body_len, NULL, 0);
}

/* GET a resource by path; *out its answer (bar_kit_jfree).  404 ->
 * BAR_ENOTFOUND. */
static int arm_get_doc(az_ctx *x, const char *path, const char *api, const char *extra,
                       const char *operation, bar_kit_jdoc **out, bar_kit_err *e)
{
	char url[1600];
	bar_kit_http_resp r;
	int rc;

	url_of(url, sizeof(url), x->s, path, api, extra);
	rc = arm_do(x, "GET", url, NULL, operation, path, &r, e);
	if (rc == BAR_OK && doc_of(out, &r) < 0)
		rc = bar_kit_fail(e, BAR_EFAIL, "InvalidResponse", "%s: the answer is not JSON",
		                  operation);
	bar_kit_http_resp_clear(&r);
	return rc;
}

/* The same as a jansson value (a new reference), for the small answers
 * read whole: lookups, check(), catalog(). */
static int arm_get(az_ctx *x, const char *path, const char *api, const char *extra,
                   const char *operation, json_t **out, bar_kit_err *e)
{
	bar_kit_jdoc *d = NULL;
	int rc = arm_get_doc(x, path, api, extra, operation, &d, e);

	if (rc == BAR_OK && !(*out = bar_kit_jjson(d, 0)))
		rc = bar_kit_fail(e, BAR_EFAIL, "OutOfMemory", "%s: out of memory", operation);
	bar_kit_jfree(d);
	return rc;
}

/* The operation URL of a long-running answer, or "" */
static void op_url(az_ctx *x, const bar_kit_http_resp *r, char *out, size_t size)
{
	char v[1100];

	out[0] = '\0';
	if ((r->status == 200 || r->status == 201 || r->status == 202) &&
	    (bar_kit_http_header(r, "Azure-AsyncOperation", v, sizeof(v)) ||
	     (r->status == 202 && bar_kit_http_header(r, "Location", v, sizeof(v)))) &&
	    url_ours(x->s, v) && strlen(v) < size)
		snprintf(out, size, "%s", v);
}

static int retry_after(const bar_kit_http_resp *r, int dflt)
{
	char v[64];
	int ms;

	if (bar_kit_http_header(r, "Retry-After", v, sizeof(v)) &&
	    (ms = bar_kit_retry_after_ms(v)) >= 0)
		return ms;
	return dflt;
}

/* One look at an operation: 1 done, 0 running (*after ms), <0 error. */
static int op_status(az_ctx *x, const char *url, int *after)
{
	char status[32], code[128], msg[600];
	bar_kit_http_resp r;
	int rc;

	rc = arm_do(x, "GET", url, NULL, "AzureAsyncOperation.Get", NULL, &r, &x->err);
	if (rc != BAR_OK)
		goto done;
	*after = retry_after(&r, x->s->poll_ms);
	if (r.status == 202) { /* a Location URL still running */
		rc = 0;
		goto done;
	}
	if (az_parse_operation(r.body, r.body_len, status, sizeof(status), code, sizeof(code), msg,
	                       sizeof(msg)) < 0) {
		rc = r.status == 200 || r.status == 204 ? 1 : fail(x, BAR_EFAIL, "InvalidResponse",
		                                                   "operation status without a status");
		goto done;
	}
	if (strcmp(status, "Succeeded") == 0)
		rc = 1;
	else if (strcmp(status, "Failed") == 0 || strcmp(status, "Canceled") == 0) {
		int m = az_code_rc(code, 400);

		rc = fail(x, m ? m : BAR_EFAIL, code[0] ? code : status, "operation %s: %s", status,
		          msg[0] ? msg : "no message");
	} else
		rc = 0;
done:
	bar_kit_http_resp_clear(&r);
	return rc;
}

/* Wait here for an operation to end (short ones: a NIC, a public IP, an
 * update), honouring cancellation and the deadline. */
static int op_wait(az_ctx *x, const char *url, const char *what)
{
	int after = 0, rc;

	for (;;) {
		rc = op_status(x, url, &after);
		if (rc != 0)
			return rc > 0 ? BAR_OK : rc;
		rc = bar_kit_sleep(x->host, x->call, after, what);
		if (rc != BAR_OK)
			return fail(x, rc, rc == BAR_ECANCELED ? "Canceled" : "DeadlineExceeded",
			            "%s: stopped waiting", what);
	}
}

/* PUT (or PATCH) a resource; *out its answer ({} when it is not JSON;
 * bar_kit_jfree) unless out is NULL, opurl the operation. */
static int arm_put(az_ctx *x, const char *method, const char *path, const char *api,
                   json_t *body, const char *operation, bar_kit_jdoc **out, char *opurl,
                   size_t osize)
{
	char url[1600];
	bar_kit_http_resp r;
	int rc;

	url_of(url, sizeof(url), x->s, path, api, NULL);
	rc = arm_do(x, method, url, body, operation, path, &r, &x->err);
	if (rc == BAR_OK) {
		op_url(x, &r, opurl, osize);
		if (out && doc_of(out, &r) < 0 && bar_kit_jparse(out, "{}", 2, NULL, 0) < 0)
			rc = fail(x, BAR_EFAIL, "OutOfMemory", "%s: out of memory", operation);
	}
	bar_kit_http_resp_clear(&r);
	return rc;
}

static int ensure_rg(az_ctx *x)
{
	char path[300];
	json_t *body;
	char opurl[1100];
	int ready, rc;

	pthread_mutex_lock(&x->s->mu);
	ready = x->s->rg_ready;
	pthread_mutex_unlock(&x->s->mu);
	if (ready)
		return BAR_OK;
	snprintf(path, sizeof(path), "/subscriptions/%s/resourcegroups/%s", x->s->sub, x->s->rg);
	body = json_pack("{s:s,s:{s:s}}", "location", x->call->region, "tags", "barista:managed",
	                 "true");
	rc = arm_put(x, "PUT", path, AZ_API_RESOURCES, body, "ResourceGroups_CreateOrUpdate", NULL,
	             opurl, sizeof(opurl));
	json_decref(body);
	if (rc == BAR_OK) {
		pthread_mutex_lock(&x->s->mu);
		x->s->rg_ready = 1;
		pthread_mutex_unlock(&x->s->mu);
	}
	return rc;
}

/* ---- observations ---- */

static int emit_obs(az_ctx *x, az_obs *o, const char *name)
{
	bar_observed obs = {sizeof(obs), o->system_id, name ? name : o->name, o->status, o->attrs,
	                    o->tags};

	if (x->host->emit(x->sink, &obs) < 0)
		return fail(x, BAR_EFAIL, "EmitRefused", "the host refused the observation of %s",
		            o->system_id);
	return BAR_OK;
}

/* What the resource r (nic and pip for a VM) looks like to the host. */
static int observe(az_ctx *x, const char *type, az_jv r, az_jv nic, az_jv pip, const char *op,
                   az_obs *o)
{
	int rc = strcmp(type, "vnet") == 0            ? az_obs_vnet_doc(o, r)
	         : strcmp(type, "securitygroup") == 0 ? az_obs_nsg_doc(o, r)
	         : strcmp(type, "sshkey") == 0        ? az_obs_sshkey_doc(o, r)
	                                              : az_obs_vm_doc(o, r, nic, pip, op);

	if (rc < 0)
		return fail(x, BAR_EFAIL, "InvalidResponse", "ARM answered a %s without id or name",
		            type);
	return BAR_OK;
}

static const char *kind_of(const char *type)
{
	return strcmp(type, "vnet") == 0            ? "/providers/Microsoft.Network/virtualNetworks/"
	       : strcmp(type, "securitygroup") == 0 ? "/providers/Microsoft.Network/networkSecurityGroups/"
	       : strcmp(type, "sshkey") == 0        ? "/providers/Microsoft.Compute/sshPublicKeys/"
	       : strcmp(type, "vm") == 0            ? "/providers/Microsoft.Compute/virtualMachines/"
	                                            : NULL;
}

static const char *api_of(const char *type)
{
	return strcmp(type, "vnet") == 0 || strcmp(type, "securitygroup") == 0 ? AZ_API_NETWORK
	                                                                       : AZ_API_COMPUTE;
}

static const char *opname(const char *type, const char *verb)
{
	static const char *const names[][4] = {
	    {"vnet", "VirtualNetworks_Get", "VirtualNetworks_CreateOrUpdate", "VirtualNetworks_Delete"},
	    {"securitygroup", "NetworkSecurityGroups_Get", "NetworkSecurityGroups_CreateOrUpdate",
	     "NetworkSecurityGroups_Delete"},
	    {"sshkey", "SshPublicKeys_Get", "SshPublicKeys_Create", "SshPublicKeys_Delete"},
	    {"vm", "VirtualMachines_Get", "VirtualMachines_CreateOrUpdate", "VirtualMachines_Delete"},
	};
	int v = strcmp(verb, "get") == 0 ? 1 : strcmp(verb, "put") == 0 ? 2 : 3;

	for (size_t i = 0; i < 4; i++)
		if (strcmp(type, names[i][0]) == 0)
			return names[i][v];
	return "?";
}

/* A VM's NIC and public IP, as far as they exist (documents, or NULL). */
static void vm_parts(az_ctx *x, az_jv vm, bar_kit_jdoc **nic, bar_kit_jdoc **pip)
{
	const char *nid = az_vm_nic_id(vm), *pid;
	bar_kit_err scratch = {0};

	*nic = *pip = NULL;
	if (!id_ok(nid, "/providers/Microsoft.Network/networkInterfaces/") ||
	    arm_get_doc(x, nid, AZ_API_NETWORK, NULL, "NetworkInterfaces_Get", nic, &scratch) !=
	        BAR_OK)
		return;
	pid = az_nic_pip_id(az_root(*nic));
	if (id_ok(pid, "/providers/Microsoft.Network/publicIPAddresses/"))
		arm_get_doc(x, pid, AZ_API_NETWORK, NULL, "PublicIPAddresses_Get", pip, &scratch);
}

/* GET and observe a resource by id. */
static int read_id(az_ctx *x, const char *type, const char *id, const char *op, az_obs *o)
{
	bar_kit_jdoc *r = NULL, *nic = NULL, *pip = NULL;
	int vm = strcmp(type, "vm") == 0, rc;

	if (!id_ok(id, kind_of(type)))
		return fail(x, BAR_ENOTFOUND, "ResourceNotFound", "%s is not a %s of this driver", id,
		            type);
	rc = arm_get_doc(x, id, api_of(type), vm ? "$expand=instanceView" : NULL,
	                 opname(type, "get"), &r, &x->err);
	if (rc == BAR_OK && vm)
		vm_parts(x, az_root(r), &nic, &pip);
	if (rc == BAR_OK)
		rc = observe(x, type, az_root(r), az_root(nic), az_root(pip), op, o);
	bar_kit_jfree(r);
	bar_kit_jfree(nic);
	bar_kit_jfree(pip);
	return rc;
}

/* ---- the plugin ---- */

static int begin(az_ctx *x, bar_provider *p, bar_call *call, const char *type,
                 const char *input, int need_id, bar_sink *sink)
{
	char why[256];
	int rc;

	(void)p;
	memset(x, 0, sizeof(*x));
	x->host = g_host;
	x->call = call;
	x->s = call->session;
	x->type = type;
	x->sink = sink;
	if (type && !bar_kit_type_known(type))
		return fail(x, BAR_ENOTSUP, "UnsupportedType", "azure has no resource type %s", type);
	if (input) {
		rc = bar_kit_input(&x->in, why, sizeof(why), type, input, need_id);
		if (rc != BAR_OK)
			return fail(x, rc, "InvalidInput", "%s", why);
	}
	if (!x->s)
		return fail(x, BAR_EFAIL, "NoSession", "the azure driver needs its session (open)");
	return BAR_OK;
}

static int finish(az_ctx *x, int rc)
{
	json_decref(x->in);
	return bar_kit_report(x->host, x->call, &x->err, rc, "azure");
}

static json_t *attrs_of(az_ctx *x) { return json_object_get(x->in, "attrs"); }

static json_t *tags_of(az_ctx *x, json_t *labels)
{
	json_t *t = json_object_get(x->in, "tags");

	return az_tags_encode(json_is_object(t) ? t : NULL, labels);
}

/* ---- vnet, security group, ssh key ---- */

static json_t *vnet_body(az_ctx *x, json_t *tags)
{
	json_t *a = attrs_of(x), *subs = json_array(), *s;
	size_t i;

	json_array_foreach(json_object_get(a, "subnets"), i, s)
		json_array_append_new(subs, json_pack("{s:s,s:{s:s}}", "name", jstr(s, "name"),
		                                      "properties", "addressPrefix", jstr(s, "cidr")));
	return json_pack("{s:s,s:O,s:{s:{s:[s]},s:o}}", "location", x->call->region, "tags", tags,
	                 "properties", "addressSpace", "addressPrefixes", jstr(a, "cidr"),
	                 "subnets", subs);
}

static int rule_add(json_t *rules, json_t *r, const char *dir, int prio, char *why, size_t wsize)
{
	const char *proto = jstr(r, "protocol"), *cidr = jstr(r, "cidr");
	json_int_t from = json_integer_value(json_object_get(r, "fromPort"));
	json_int_t to = json_integer_value(json_object_get(r, "toPort"));
	const char *ap = strcmp(proto, "tcp") == 0 ? "Tcp" : strcmp(proto, "udp") == 0 ? "Udp"
	                 : strcmp(proto, "icmp") == 0 ? "Icmp" : strcmp(proto, "all") == 0 ? "*" : NULL;
	char ports[32], name[32];
	int in = strcmp(dir, "Inbound") == 0;

	if (!ap) {
		snprintf(why, wsize, "rule protocol \"%s\" is not tcp, udp, icmp or all", proto);
		return -1;
	}
	if (from < 0 || strcmp(ap, "Icmp") == 0 || strcmp(ap, "*") == 0)
		snprintf(ports, sizeof(ports), "*");
	else if (from == to)
		snprintf(ports, sizeof(ports), "%lld", (long long)from);
	else
		snprintf(ports, sizeof(ports), "%lld-%lld", (long long)from, (long long)to);
	snprintf(name, sizeof(name), "barista-%s-%d", in ? "in" : "out", prio);
	json_array_append_new(
	    rules, json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}}", "name", name, "properties",
	                     "protocol", ap, "sourcePortRange", "*", "destinationPortRange", ports,
	                     "sourceAddressPrefix", in ? (*cidr ? cidr : "*") : "*",
	                     "destinationAddressPrefix", in ? "*" : (*cidr ? cidr : "*"), "access",
	                     "Allow", "direction", dir, "priority", prio));
	return 0;
}

/* The NSG's rules: Barista's allow rules from priority 100 up, and a deny
 * of everything else at 4096 in each direction, since Azure's default rules
 * would allow the VNet in and everything out. */
static json_t *nsg_body(az_ctx *x, json_t *tags, char *why, size_t wsize)
{
	json_t *a = attrs_of(x), *rules = json_array(), *r;
	static const char *const dirs[] = {"Inbound", "Outbound"};
	size_t i;

	for (int d = 0; d < 2; d++) {
		json_array_foreach(json_object_get(a, d ? "egress" : "ingress"), i, r) {
			if (i >= 3000 || rule_add(rules, r, dirs[d], 100 + (int)i, why, wsize) < 0) {
				json_decref(rules);
				return NULL;
			}
		}
		json_array_append_new(
		    rules, json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}}", "name",
		                     d ? "barista-deny-out" : "barista-deny-in", "properties", "protocol",
		                     "*", "sourcePortRange", "*", "destinationPortRange", "*",
		                     "sourceAddressPrefix", "*", "destinationAddressPrefix", "*", "access",
		                     "Deny", "direction", dirs[d], "priority", 4096));
	}
	return json_pack("{s:s,s:O,s:{s:o}}", "location", x->call->region, "tags", tags, "properties",
	                 "securityRules", rules);
}

/* Hand the host the key pair's private half; on refusal the key goes. */
static int key_generate(az_ctx *x, const char *path)
{
	char url[1600];
	bar_kit_http_resp r;
	json_t *b = NULL, *pk;
	int rc;

	url_of(url, sizeof(url), x->s, path, AZ_API_COMPUTE, NULL);
	url[strcspn(url, "?")] = '\0';
	snprintf(url + strlen(url), sizeof(url) - strlen(url), "/generateKeyPair?api-version=%s",
	         AZ_API_COMPUTE);
	rc = arm_do(x, "POST", url, NULL, "SshPublicKeys_GenerateKeyPair", path, &r, &x->err);
	if (rc == BAR_OK) {
		/* jansson, not the kit's reader: that one unescapes in place and
		 * would keep the escaped tail of the key past what the wipe covers */
		b = json_loadb(r.body ? r.body : "", r.body_len, 0, NULL);
		pk = json_object_get(b, "privateKey");
		if (!json_is_string(pk))
			rc = fail(x, BAR_EFAIL, "InvalidResponse", "generateKeyPair gave no private key");
		else if (x->host->emit_secret(x->sink, "privateKey", json_string_value(pk)) < 0)
			rc = fail(x, BAR_EFAIL, "SecretRefused",
			          "the host could not store the generated private key");
		if (json_is_string(pk))
			bar_kit_wipe((void *)json_string_value(pk), json_string_length(pk));
	}
	if (r.body)
		bar_kit_wipe(r.body, r.body_len);
	bar_kit_http_resp_clear(&r);
	json_decref(b);
	return rc;
}

static int del_path(az_ctx *x, const char *path, const char *api, const char *operation,
                    char *opurl, size_t osize, bar_kit_err *e);

/* create of vnet, securitygroup, sshkey: PUT the derived name. */
static int create_simple(az_ctx *x, az_obs *o)
{
	const char *type = x->type;
	char name[80], path[400], opurl[1100], why[200] = "";
	json_t *tags = tags_of(x, NULL), *body = NULL;
	bar_kit_jdoc *ans = NULL;
	int key = strcmp(type, "sshkey") == 0, rc;

	arm_name(name, sizeof(name), jstr(x->in, "name"), x->call->idempotency_key);
	if (!tags) {
		rc = fail(x, BAR_EINVALID, "InvalidTags", "tags must be strings");
		goto done;
	}
	rc = ensure_rg(x);
	if (rc != BAR_OK)
		goto done;
	if (strcmp(type, "vnet") == 0) {
		rg_path(path, sizeof(path), x->s, "Microsoft.Network", "virtualNetworks", name);
		body = vnet_body(x, tags);
	} else if (strcmp(type, "securitygroup") == 0) {
		rg_path(path, sizeof(path), x->s, "Microsoft.Network", "networkSecurityGroups", name);
		body = nsg_body(x, tags, why, sizeof(why));
	} else {
		json_t *pk = json_object_get(attrs_of(x), "publicKey");

		rg_path(path, sizeof(path), x->s, "Microsoft.Compute", "sshPublicKeys", name);
		body = json_is_string(pk) ? json_pack("{s:s,s:O,s:{s:O}}", "location", x->call->region,
		                                      "tags", tags, "properties", "publicKey", pk)
		                          : json_pack("{s:s,s:O}", "location", x->call->region, "tags",
		                                      tags);
	}
	if (!body) {
		rc = fail(x, BAR_EINVALID, "InvalidInput", "%s", why[0] ? why : "bad attributes");
		goto done;
	}
	rc = arm_put(x, "PUT", path, api_of(type), body, opname(type, "put"), &ans, opurl,
	             sizeof(opurl));
	if (rc != BAR_OK)
		goto done;
	if (key && !json_is_string(json_object_get(attrs_of(x), "publicKey"))) {
		rc = key_generate(x, path);
		if (rc != BAR_OK) { /* nothing of it may stay: the private half is lost */
			bar_kit_err scratch = {0};
			char u2[1100];

			del_path(x, path, AZ_API_COMPUTE, "SshPublicKeys_Delete", u2, sizeof(u2), &scratch);
			goto done;
		}
		bar_kit_jfree(ans);
		ans = NULL;
		rc = arm_get_doc(x, path, AZ_API_COMPUTE, NULL, "SshPublicKeys_Get", &ans, &x->err);
		if (rc != BAR_OK)
			goto done;
	}
	rc = observe(x, type, az_root(ans), AZ_JV_NONE, AZ_JV_NONE, NULL, o);
	if (rc == BAR_OK && opurl[0]) {
		char token[1200];

		snprintf(token, sizeof(token), "create %s", opurl);
		if (strlen(token) <= 1024) {
			snprintf(o->status, sizeof(o->status), "Creating");
			x->host->set_operation(x->call, token);
		} else {
			rc = op_wait(x, opurl, "create");
			az_obs_clear(o);
			if (rc == BAR_OK)
				rc = read_id(x, type, path, NULL, o);
		}
	}
done:
	json_decref(tags);
	json_decref(body);
	bar_kit_jfree(ans);
	return rc;
}

/* ---- image and spec lookups ---- */

/* "publisher:offer:sku:version" into its parts (each at most 127). */
static int urn_split(const char *urn, char parts[4][128])
{
	const char *p = urn;

	for (int i = 0; i < 4; i++) {
		size_t n = i < 3 ? strcspn(p, ":") : strlen(p);

		if (n == 0 || n >= 128 || (i < 3 && p[n] != ':'))
			return -1;
		memcpy(parts[i], p, n);
		parts[i][n] = '\0';
		for (size_t k = 0; k < n; k++)
			if (!isalnum((unsigned char)parts[i][k]) && !strchr("-_.", parts[i][k]))
				return -1;
		p += n + (i < 3);
	}
	return 0;
}

static int image_lookup(az_ctx *x, const char *urn, az_obs *o, const char *name)
{
	char u[4][128], path[900], ver[128];
	json_t *v = NULL, *list = NULL, *props, *tags;
	int rc;

	if (urn_split(urn, u) < 0)
		return fail(x, BAR_ENOTFOUND, "ImageNotFound",
		            "\"%.300s\" is not an image URN publisher:offer:sku:version", urn);
	snprintf(path, sizeof(path),
	         "/subscriptions/%s/providers/Microsoft.Compute/locations/%s/publishers/%s/"
	         "artifacttypes/vmimage/offers/%s/skus/%s/versions",
	         x->s->sub, x->call->region, u[0], u[1], u[2]);
	snprintf(ver, sizeof(ver), "%s", u[3]);
	if (strcmp(ver, "latest") == 0) {
		rc = arm_get(x, path, AZ_API_COMPUTE, NULL, "VirtualMachineImages_List", &list, &x->err);
		if (rc != BAR_OK)
			goto done;
		/* the versions, oldest first; the newest is last (no $orderby: ARM
		 * sorts by name, which is not version order for every publisher) */
		{
			size_t i, n = json_array_size(list);
			const char *best = NULL;

			for (i = 0; i < n; i++) {
				const char *s = jstr(json_array_get(list, i), "name");

				if (!best || strverscmp(s, best) > 0)
					best = s;
			}
			if (!best || !*best) {
				rc = fail(x, BAR_EINVALID, "ImageNotFound", "no version of %s in %s", urn,
				          x->call->region);
				goto done;
			}
			snprintf(ver, sizeof(ver), "%s", best);
		}
	}
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", ver);
	rc = arm_get(x, path, AZ_API_COMPUTE, NULL, "VirtualMachineImages_Get", &v, &x->err);
	if (rc != BAR_OK)
		goto done;
	props = json_object_get(v, "properties");
	memset(o, 0, sizeof(*o));
	snprintf(o->system_id, sizeof(o->system_id), "%s:%s:%s:%s", u[0], u[1], u[2], ver);
	snprintf(o->name, sizeof(o->name), "%s", name);
	snprintf(o->status, sizeof(o->status), "Available");
	tags = json_object_get(x->in, "tags");
	o->tags = json_is_object(tags) ? json_dumps(tags, AZ_JSON_FLAGS) : strdup("{}");
	{
		/* the API says only "Linux" and "x64"/"Arm64": the distribution is
		 * the publisher's */
		const char *os = strcasecmp(u[0], "Canonical") == 0 ? "ubuntu"
		                 : strcasecmp(u[0], "Debian") == 0  ? "debian"
		                 : strcasecmp(u[0], "RedHat") == 0  ? "rhel"
		                 : strcasecmp(u[0], "SUSE") == 0    ? "sles"
		                                                    : "";
		const char *arch = jstr(props, "architecture");
		char oslow[64];

		snprintf(oslow, sizeof(oslow), "%s",
		         *os ? os : jstr(json_object_get(props, "osDiskImage"), "operatingSystem"));
		for (char *c = oslow; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		arch = strcasecmp(arch, "Arm64") == 0 ? "arm64" : "x86_64"; /* x64, or none: x64 */
		json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:s}", "imageId", o->system_id, "os", oslow,
		                      "version", ver, "arch", arch, "nativeStatus", "Available");

		o->attrs = json_dumps(a, AZ_JSON_FLAGS);
		json_decref(a);
	}
	if (!o->attrs || !o->tags)
		rc = fail(x, BAR_EFAIL, "OutOfMemory", "out of memory");
done:
	json_decref(v);
	json_decref(list);
	return rc;
}

static int spec_lookup(az_ctx *x, const char *want, json_t *a, az_obs *o, const char *name)
{
	char path[300];
	json_t *list = NULL, *s, *best = NULL, *tags, *attrs;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "/subscriptions/%s/providers/Microsoft.Compute/locations/%s/vmSizes",
	         x->s->sub, x->call->region);
	rc = arm_get(x, path, AZ_API_COMPUTE, NULL, "VirtualMachineSizes_List", &list, &x->err);
	if (rc != BAR_OK)
		return rc;
	json_array_foreach(json_object_get(list, "value"), i, s) {
		json_int_t c = json_integer_value(json_object_get(s, "numberOfCores"));
		json_int_t m = json_integer_value(json_object_get(s, "memoryInMB"));

		if (*want) {
			if (strcmp(jstr(s, "name"), want) == 0)
				best = s;
			continue;
		}
		if (c < json_integer_value(json_object_get(a, "vcpu")) ||
		    m < json_integer_value(json_object_get(a, "memoryMiB")))
			continue;
		if (!best || c < json_integer_value(json_object_get(best, "numberOfCores")) ||
		    (c == json_integer_value(json_object_get(best, "numberOfCores")) &&
		     m < json_integer_value(json_object_get(best, "memoryInMB"))))
			best = s;
	}
	if (!best) {
		rc = fail(x, *want ? BAR_ENOTFOUND : BAR_EINVALID, "SkuNotAvailable",
		          "no VM size %s in %s", *want ? want : "that large", x->call->region);
		goto done;
	}
	memset(o, 0, sizeof(*o));
	snprintf(o->system_id, sizeof(o->system_id), "%s", jstr(best, "name"));
	snprintf(o->name, sizeof(o->name), "%s", name);
	snprintf(o->status, sizeof(o->status), "Available");
	tags = json_object_get(x->in, "tags");
	o->tags = json_is_object(tags) ? json_dumps(tags, AZ_JSON_FLAGS) : strdup("{}");
	attrs = json_pack("{s:s,s:I,s:I,s:s}", "specId", jstr(best, "name"), "vcpu",
	                  json_integer_value(json_object_get(best, "numberOfCores")), "memoryMiB",
	                  json_integer_value(json_object_get(best, "memoryInMB")), "nativeStatus",
	                  "Available");
	o->attrs = json_dumps(attrs, AZ_JSON_FLAGS);
	json_decref(attrs);
	if (!o->attrs || !o->tags)
		rc = fail(x, BAR_EFAIL, "OutOfMemory", "out of memory");
done:
	json_decref(list);
	return rc;
}

static int lookup(az_ctx *x, const char *id, az_obs *o)
{
	json_t *a = attrs_of(x);
	const char *name = jstr(x->in, "name");

	if (strcmp(x->type, "image") == 0)
		return image_lookup(x, id ? id : jstr(a, "imageId"), o, name);
	return spec_lookup(x, id ? id : jstr(a, "specId"), a, o, name);
}

/* ---- vm ---- */

static const char *ref_id(json_t *refs, const char *role)
{
	json_t *r = json_object_get(refs, role);

	if (json_is_array(r))
		r = json_array_get(r, 0);
	return jstr(r, "system_id");
}

static int create_vm(az_ctx *x, az_obs *o)
{
	json_t *a = attrs_of(x), *refs = json_object_get(x->in, "refs"), *labels, *tags = NULL;
	json_t *body = NULL;
	char name[80], host[80], vmpath[400], nicpath[400], pippath[400], subnet[900], opurl[1100];
	char img[4][128];
	const char *vnet = ref_id(refs, "vnet"), *sg = ref_id(refs, "securityGroups");
	const char *spec = ref_id(refs, "spec"), *image = ref_id(refs, "image");
	const char *key = jstr(json_object_get(json_object_get(refs, "sshKey"), "attrs"), "publicKey");
	const char *sub = jstr(a, "subnet");
	int made = 0, rc;

	labels = json_object_get(a, "labels");
	tags = tags_of(x, json_is_object(labels) ? labels : NULL);
	arm_name(name, sizeof(name), jstr(x->in, "name"), x->call->idempotency_key);
	if (!id_ok(vnet, kind_of("vnet")) || !*sub || strpbrk(sub, "/?# ") ||
	    (*sg && !id_ok(sg, kind_of("securitygroup"))) || !*spec || urn_split(image, img) < 0 ||
	    !tags) {
		rc = fail(x, BAR_EINVALID, "InvalidInput",
		          "a vm needs refs vnet, spec, image (publisher:offer:sku:version) and attrs "
		          "subnet; securityGroups are network security groups of this driver");
		goto done;
	}
	if (!*key) {
		rc = fail(x, BAR_EINVALID, "InvalidInput",
		          "an Azure Linux VM without password login needs an sshKey with a publicKey");
		goto done;
	}
	if (json_array_size(json_object_get(refs, "securityGroups")) > 1) {
		rc = fail(x, BAR_EINVALID, "TooManySecurityGroups",
		          "an Azure NIC has one network security group; give the vm one");
		goto done;
	}
	snprintf(subnet, sizeof(subnet), "%s/subnets/%s", vnet, sub);
	rg_path(vmpath, sizeof(vmpath), x->s, "Microsoft.Compute", "virtualMachines", name);
	snprintf(nicpath, sizeof(nicpath), "%.330s", vmpath);
	rg_path(nicpath, sizeof(nicpath), x->s, "Microsoft.Network", "networkInterfaces", name);
	snprintf(nicpath + strlen(nicpath), sizeof(nicpath) - strlen(nicpath), "-nic");
	rg_path(pippath, sizeof(pippath), x->s, "Microsoft.Network", "publicIPAddresses", name);
	snprintf(pippath + strlen(pippath), sizeof(pippath) - strlen(pippath), "-ip");
	/* a Linux computer name takes letters, digits and hyphens */
	snprintf(host, sizeof(host), "%s", name);
	for (char *c = host; *c; c++)
		if (*c == '_')
			*c = '-';
	rc = ensure_rg(x);
	if (rc != BAR_OK)
		goto done;

	/* the public IP, then the NIC, each waited for */
	body = json_pack("{s:s,s:O,s:{s:s},s:{s:s}}", "location", x->call->region, "tags", tags,
	                 "sku", "name", "Standard", "properties", "publicIPAllocationMethod", "Static");
	if (*x->call->zone)
		json_object_set_new(body, "zones", json_pack("[s]", x->call->zone));
	rc = arm_put(x, "PUT", pippath, AZ_API_NETWORK, body, "PublicIPAddresses_CreateOrUpdate",
	             NULL, opurl, sizeof(opurl));
	if (rc != BAR_OK)
		goto done;
	made = 1;
	if (opurl[0] && (rc = op_wait(x, opurl, "public IP create")) != BAR_OK)
		goto done;
	json_decref(body);
	body = json_pack("{s:s,s:O,s:{s:[{s:s,s:{s:{s:s},s:s,s:{s:s,s:{s:s}}}}]}}", "location",
	                 x->call->region, "tags", tags, "properties", "ipConfigurations", "name",
	                 "ipconfig1", "properties", "subnet", "id", subnet,
	                 "privateIPAllocationMethod", "Dynamic", "publicIPAddress", "id", pippath,
	                 "properties", "deleteOption", "Delete");
	if (*sg)
		json_object_set_new(json_object_get(body, "properties"), "networkSecurityGroup",
		                    json_pack("{s:s}", "id", sg));
	rc = arm_put(x, "PUT", nicpath, AZ_API_NETWORK, body, "NetworkInterfaces_CreateOrUpdate",
	             NULL, opurl, sizeof(opurl));
	if (rc != BAR_OK)
		goto done;
	if (opurl[0] && (rc = op_wait(x, opurl, "network interface create")) != BAR_OK)
		goto done;
	json_decref(body);

	/* the VM: its create is the long-running operation the host follows */
	body = json_pack(
	    "{s:s,s:O,s:{s:{s:s},s:{s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:{s:s}}},"
	    "s:{s:s,s:s,s:{s:b}},s:{s:[{s:s,s:{s:b,s:s}}]}}}",
	    "location", x->call->region, "tags", tags, "properties", "hardwareProfile", "vmSize", spec,
	    "storageProfile", "imageReference", "publisher", img[0], "offer", img[1], "sku", img[2],
	    "version", img[3], "osDisk", "createOption", "FromImage", "deleteOption", "Delete",
	    "managedDisk", "storageAccountType", "Standard_LRS", "osProfile", "computerName",
	    host, "adminUsername", AZ_ADMIN, "linuxConfiguration",
	    "disablePasswordAuthentication", 1, "networkProfile", "networkInterfaces", "id", nicpath,
	    "properties", "primary", 1, "deleteOption", "Delete");
	if (*key) {
		char kpath[80];

		snprintf(kpath, sizeof(kpath), "/home/%s/.ssh/authorized_keys", AZ_ADMIN);
		json_object_set_new(
		    json_object_get(json_object_get(json_object_get(body, "properties"), "osProfile"),
		                    "linuxConfiguration"),
		    "ssh", json_pack("{s:[{s:s,s:s}]}", "publicKeys", "path", kpath, "keyData", key));
	}
	if (*x->call->zone)
		json_object_set_new(body, "zones", json_pack("[s]", x->call->zone));
	rc = arm_put(x, "PUT", vmpath, AZ_API_COMPUTE, body, "VirtualMachines_CreateOrUpdate", NULL,
	             opurl, sizeof(opurl));
	if (rc != BAR_OK)
		goto done;
	if (opurl[0]) {
		char token[1200];

		snprintf(token, sizeof(token), "create %s", opurl);
		if (strlen(token) <= 1024) {
			rc = read_id(x, "vm", vmpath, "create", o);
			if (rc == BAR_OK) {
				snprintf(o->status, sizeof(o->status), "Creating");
				x->host->set_operation(x->call, token);
			}
			goto done;
		}
		if ((rc = op_wait(x, opurl, "vm create")) != BAR_OK)
			goto done;
	}
	rc = read_id(x, "vm", vmpath, NULL, o);
done:
	/* a retryable failure leaves the IP and NIC for the retry, which has
	 * the same key and so the same names; any other one is a partial create */
	if (rc != BAR_OK && made && !o->system_id[0] && rc != BAR_ERETRY && rc != BAR_ETIMEOUT &&
	    rc != BAR_ECANCELED) {
		/* made the IP (and perhaps the NIC): report the VM as made-and-failed,
		 * so the host deletes it, and with it what was made */
		memset(o, 0, sizeof(*o));
		snprintf(o->system_id, sizeof(o->system_id), "%s", vmpath);
		snprintf(o->name, sizeof(o->name), "%s", jstr(x->in, "name"));
		snprintf(o->status, sizeof(o->status), "Failed");
		o->attrs = strdup("{}");
		o->tags = json_dumps(json_object_get(x->in, "tags"), AZ_JSON_FLAGS);
	}
	json_decref(tags);
	json_decref(body);
	return rc;
}

/* ---- callbacks ---- */

static int az_create(bar_provider *p, bar_call *call, const char *type, const char *input,
                     bar_sink *out)
{
	az_ctx x;
	az_obs o = {0};
	int rc = begin(&x, p, call, type, input, 0, out);

	if (rc != BAR_OK)
		goto done;
	if (strcmp(type, "image") == 0 || strcmp(type, "spec") == 0)
		rc = lookup(&x, NULL, &o);
	else if (strcmp(type, "vm") == 0)
		rc = create_vm(&x, &o);
	else
		rc = create_simple(&x, &o);
	if (o.system_id[0] && o.attrs && o.tags) {
		int erc = emit_obs(&x, &o, jstr(x.in, "name"));

		rc = rc ? rc : erc;
	}
done:
	az_obs_clear(&o);
	return finish(&x, rc);
}

static int az_read(bar_provider *p, bar_call *call, const char *type, const char *input,
                   bar_sink *out)
{
	az_ctx x;
	az_obs o = {0};
	int rc = begin(&x, p, call, type, input, 1, out);
	const char *id;

	if (rc != BAR_OK)
		goto done;
	id = jstr(x.in, "system_id");
	rc = bar_kit_type_lookup(bar_kit_cloud_types, type) ? lookup(&x, id, &o)
	                                                     : read_id(&x, type, id, NULL, &o);
	if (rc == BAR_OK)
		rc = emit_obs(&x, &o, jstr(x.in, "name"));
done:
	az_obs_clear(&o);
	return finish(&x, rc);
}

static int az_update(bar_provider *p, bar_call *call, const char *type, const char *input,
                     bar_sink *out)
{
	az_ctx x;
	az_obs o = {0};
	json_t *body = NULL, *tags = NULL;
	char opurl[1100], why[200] = "";
	const char *id;
	int rc = begin(&x, p, call, type, input, 1, out);

	if (rc != BAR_OK)
		goto done;
	id = jstr(x.in, "system_id");
	if (strcmp(type, "securitygroup") == 0) {
		if (!id_ok(id, kind_of(type))) {
			rc = fail(&x, BAR_ENOTFOUND, "ResourceNotFound", "%s is not a security group", id);
			goto done;
		}
		tags = tags_of(&x, NULL);
		body = tags ? nsg_body(&x, tags, why, sizeof(why)) : NULL;
		if (!body) {
			rc = fail(&x, BAR_EINVALID, "InvalidInput", "%s", why[0] ? why : "bad tags");
			goto done;
		}
		rc = arm_put(&x, "PUT", id, AZ_API_NETWORK, body, opname(type, "put"), NULL, opurl,
		             sizeof(opurl));
	} else if (strcmp(type, "vm") == 0) {
		json_t *labels = json_object_get(attrs_of(&x), "labels");

		if (!id_ok(id, kind_of(type))) {
			rc = fail(&x, BAR_ENOTFOUND, "ResourceNotFound", "%s is not a vm", id);
			goto done;
		}
		tags = tags_of(&x, json_is_object(labels) ? labels : NULL);
		body = json_pack("{s:o}", "tags", tags ? json_incref(tags) : json_object());
		rc = arm_put(&x, "PATCH", id, AZ_API_COMPUTE, body, "VirtualMachines_Update", NULL,
		             opurl, sizeof(opurl));
	} else {
		rc = fail(&x, BAR_ENOTSUP, "NotUpdatable", "a %s changes only by replacement", type);
		goto done;
	}
	if (rc == BAR_OK && opurl[0])
		rc = op_wait(&x, opurl, "update");
	if (rc == BAR_OK)
		rc = read_id(&x, type, id, NULL, &o);
	if (rc == BAR_OK)
		rc = emit_obs(&x, &o, jstr(x.in, "name"));
done:
	json_decref(tags);
	json_decref(body);
	az_obs_clear(&o);
	return finish(&x, rc);
}

/* DELETE: BAR_OK with opurl set (running) or "" (done); BAR_ENOTFOUND. */
static int del_path(az_ctx *x, const char *path, const char *api, const char *operation,
                    char *opurl, size_t osize, bar_kit_err *e)
{
	char url[1600];
	bar_kit_http_resp r;
	int rc;

	opurl[0] = '\0';
	url_of(url, sizeof(url), x->s, path, api, NULL);
	rc = arm_do(x, "DELETE", url, NULL, operation, path, &r, e);
	if (rc == BAR_OK && r.status == 204)
		rc = bar_kit_fail(e, BAR_ENOTFOUND, "ResourceNotFound", "%s is gone already", path);
	else if (rc == BAR_OK)
		op_url(x, &r, opurl, osize);
	bar_kit_http_resp_clear(&r);
	return rc;
}

static int az_del(bar_provider *p, bar_call *call, const char *type, const char *input)
{
	az_ctx x;
	char opurl[1100], token[1200];
	const char *id;
	int rc = begin(&x, p, call, type, input, 1, NULL);

	if (rc != BAR_OK)
		goto done;
	if (bar_kit_type_lookup(bar_kit_cloud_types, type))
		goto done; /* a lookup: nothing of the cloud's is deleted */
	id = jstr(x.in, "system_id");
	if (!id_ok(id, kind_of(type))) {
		rc = fail(&x, BAR_ENOTFOUND, "ResourceNotFound", "%s is not a %s", id, type);
		goto done;
	}
	rc = del_path(&x, id, api_of(type), opname(type, "delete"), opurl, sizeof(opurl), &x.err);
	if (rc == BAR_ENOTFOUND && strcmp(type, "vm") == 0) {
		/* the VM is gone (or was never made): its NIC and IP may be left */
		bar_kit_err scratch = {0};
		char path[1000], u[1100];
		const char *n = strrchr(id, '/') + 1;

		snprintf(path, sizeof(path), "%.*sMicrosoft.Network/networkInterfaces/%.100s-nic",
		         (int)(strstr(id, "Microsoft.Compute/") - id), id, n);
		if (del_path(&x, path, AZ_API_NETWORK, "NetworkInterfaces_Delete", u, sizeof(u),
		             &scratch) == BAR_OK && u[0])
			op_wait(&x, u, "network interface delete");
		snprintf(path, sizeof(path), "%.*sMicrosoft.Network/publicIPAddresses/%.100s-ip",
		         (int)(strstr(id, "Microsoft.Compute/") - id), id, n);
		memset(&scratch, 0, sizeof(scratch));
		if (del_path(&x, path, AZ_API_NETWORK, "PublicIPAddresses_Delete", u, sizeof(u),
		             &scratch) == BAR_OK && u[0])
			op_wait(&x, u, "public IP delete");
	}
	if (rc == BAR_OK && opurl[0]) {
		snprintf(token, sizeof(token), "delete %s", opurl);
		if (strlen(token) <= 1024)
			x.host->set_operation(call, token);
		else
			rc = op_wait(&x, opurl, "delete");
	}
done:
	return finish(&x, rc);
}

static int az_poll(bar_provider *p, bar_call *call, const char *type, const char *input,
                   bar_sink *out)
{
	az_ctx x;
	az_obs o = {0};
	char kind[16] = "", url[1100] = "";
	const char *op = call->operation ? call->operation : "", *sp;
	int rc = begin(&x, p, call, type, input, 1, out), after = 0, st;

	if (rc != BAR_OK)
		goto done;
	if (bar_kit_type_lookup(bar_kit_cloud_types, type)) {
		rc = lookup(&x, jstr(x.in, "system_id"), &o);
		goto emit;
	}
	sp = strchr(op, ' ');
	if (!sp || sp - op >= (long)sizeof(kind) || strlen(sp + 1) >= sizeof(url) ||
	    !url_ours(x.s, sp + 1)) {
		/* no token (or another endpoint's): what read says */
		rc = read_id(&x, type, jstr(x.in, "system_id"), NULL, &o);
		goto emit;
	}
	memcpy(kind, op, (size_t)(sp - op));
	snprintf(url, sizeof(url), "%s", sp + 1);
	st = op_status(&x, url, &after);
	if (st < 0) {
		rc = st;
		goto done;
	}
	call->retry_after_ms = after;
	rc = read_id(&x, type, jstr(x.in, "system_id"), st ? NULL : kind, &o);
	if (strcmp(kind, "delete") == 0) {
		if (st || rc == BAR_ENOTFOUND) {
			if (rc == BAR_OK)
				az_obs_clear(&o);
			bar_kit_fail(&x.err, BAR_ENOTFOUND, "ResourceNotFound", "deleted");
			rc = BAR_ENOTFOUND;
			goto done;
		}
		if (rc == BAR_OK)
			snprintf(o.status, sizeof(o.status), "%s",
			         strcmp(type, "vm") == 0 ? "Terminating" : "Deleting");
	} else if (!st && rc == BAR_OK && strcmp(type, "vm") != 0) {
		snprintf(o.status, sizeof(o.status), "Creating");
	}
emit:
	if (rc == BAR_OK)
		rc = emit_obs(&x, &o, jstr(x.in, "name"));
done:
	az_obs_clear(&o);
	return finish(&x, rc);
}

static int az_vm_action(bar_provider *p, bar_call *call, const char *action, const char *input,
                        bar_sink *out)
{
	az_ctx x;
	az_obs o = {0};
	const char *verb, *opn, *id;
	char url[1600], opurl[1100], token[1200];
	bar_kit_http_resp r;
	int rc = begin(&x, p, call, "vm", input, 1, out);

	if (rc != BAR_OK)
		goto done;
	if (strcmp(action, "suspend") == 0) {
		verb = "deallocate";
		opn = "VirtualMachines_Deallocate";
	} else if (strcmp(action, "resume") == 0) {
		verb = "start";
		opn = "VirtualMachines_Start";
	} else if (strcmp(action, "reboot") == 0) {
		verb = "restart";
		opn = "VirtualMachines_Restart";
	} else {
		rc = fail(&x, BAR_ENOTSUP, "UnsupportedAction", "azure has no vm action %s", action);
		goto done;
	}
	id = jstr(x.in, "system_id");
	if (!id_ok(id, kind_of("vm"))) {
		rc = fail(&x, BAR_ENOTFOUND, "ResourceNotFound", "%s is not a vm", id);
		goto done;
	}
	snprintf(url, sizeof(url), "%s%s/%s?api-version=%s", x.s->endpoint, id, verb,
	         AZ_API_COMPUTE);
	rc = arm_do(&x, "POST", url, NULL, opn, id, &r, &x.err);
	if (rc == BAR_OK)
		op_url(&x, &r, opurl, sizeof(opurl));
	bar_kit_http_resp_clear(&r);
	if (rc != BAR_OK)
		goto done;
	snprintf(token, sizeof(token), "%s %s", action, opurl);
	if (opurl[0] && strlen(token) <= 1024) {
		rc = read_id(&x, "vm", id, action, &o);
		if (rc == BAR_OK) {
			if (strcmp(o.status, "Running") == 0 || strcmp(o.status, "Suspended") == 0)
				snprintf(o.status, sizeof(o.status), "%s",
				         strcmp(action, "suspend") == 0   ? "Suspending"
				         : strcmp(action, "resume") == 0 ? "Resuming"
				                                          : "Rebooting");
			x.host->set_operation(call, token);
		}
	} else {
		if (opurl[0] && (rc = op_wait(&x, opurl, action)) != BAR_OK)
			goto done;
		rc = read_id(&x, "vm", id, NULL, &o);
	}
	if (rc == BAR_OK)
		rc = emit_obs(&x, &o, jstr(x.in, "name"));
done:
	az_obs_clear(&o);
	return finish(&x, rc);
}

/* The pages of one list, parsed and kept until their items are observed
 * (a VM's NIC and public IP come in lists of their own). */
typedef struct az_pages {
	bar_kit_jdoc **doc;
	int *items; /* each page's array of resources */
	size_t n;
} az_pages;

static void pages_free(az_pages *p)
{
	for (size_t i = 0; i < p->n; i++)
		bar_kit_jfree(p->doc[i]);
	free(p->doc);
	free(p->items);
	memset(p, 0, sizeof(*p));
}

/* Keep a page (its document is the list's from here on); -1 out of memory. */
static int pages_add(az_pages *p, bar_kit_jdoc *d, int items)
{
	bar_kit_jdoc **nd = realloc(p->doc, (p->n + 1) * sizeof(*nd));
	int *ni = nd ? realloc(p->items, (p->n + 1) * sizeof(*ni)) : NULL;

	if (nd)
		p->doc = nd;
	if (!ni) {
		bar_kit_jfree(d);
		return -1;
	}
	p->items = ni;
	p->doc[p->n] = d;
	p->items[p->n++] = items;
	return 0;
}

/* One list of the resource group: every page, following nextLink, into
 * *out (pages_free, also on failure).  A missing group is an empty list. */
static int list_all(az_ctx *x, const char *prov, const char *type, const char *api,
                    const char *extra, const char *operation, az_pages *out)
{
	char path[400], url[2100], next[2100];
	int rc = BAR_OK;

	rg_path(path, sizeof(path), x->s, prov, type, NULL);
	url_of(url, sizeof(url), x->s, path, api, extra);
	for (int pages = 0; url[0] && pages < 100000; pages++) {
		bar_kit_http_resp r;
		bar_kit_err scratch = {0};
		bar_kit_jdoc *d = NULL;
		int items;

		rc = arm_do(x, "GET", url, NULL, operation, NULL, &r, &scratch);
		if (rc == BAR_ENOTFOUND && pages == 0 &&
		    (strcmp(r.code, "ResourceGroupNotFound") == 0)) {
			bar_kit_http_resp_clear(&r);
			return BAR_OK; /* nothing made in this connection yet */
		}
		if (rc != BAR_OK) {
			bar_kit_fail(&x->err, scratch.rc, scratch.code, "%s", scratch.msg);
			bar_kit_http_resp_clear(&r);
			return rc;
		}
		if (az_parse_page_doc(&d, &items, next, sizeof(next), r.body, r.body_len) < 0) {
			bar_kit_http_resp_clear(&r);
			return fail(x, BAR_EFAIL, "InvalidResponse", "%s: not a list page", operation);
		}
		bar_kit_http_resp_clear(&r);
		if (pages_add(out, d, items) < 0)
			return fail(x, BAR_EFAIL, "OutOfMemory", "%s: out of memory", operation);
		if (next[0] && !url_ours(x->s, next))
			return fail(x, BAR_EFAIL, "InvalidResponse",
			            "%s: a nextLink outside the endpoint", operation);
		snprintf(url, sizeof(url), "%s", next);
	}
	return rc;
}

static int same_region(const char *a, const char *b)
{
	for (;; a++, b++) {
		while (*a == ' ')
			a++;
		while (*b == ' ')
			b++;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
		if (!*a)
			return 1;
	}
}

/* The resources of a list by id, ARM's ids being case-insensitive: an
 * open-addressing hash of lower-cased FNV-1a; of equal ids the last one
 * listed counts. */
typedef struct az_index {
	struct az_slot {
		const char *id; /* NULL: free */
		az_jv r;
	} *slot;
	size_t mask;
} az_index;

static size_t id_hash(const char *id)
{
	size_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)tolower((unsigned char)*id)) * 16777619u;
	return h;
}

/* The slot of id: where it is, or the free one where it goes. */
static struct az_slot *index_slot(const az_index *m, const char *id)
{
	size_t i = id_hash(id) & m->mask;

	while (m->slot[i].id && strcasecmp(m->slot[i].id, id) != 0)
		i = (i + 1) & m->mask;
	return &m->slot[i];
}

/* Index every resource of the list's pages; -1 out of memory. */
static int index_build(az_index *m, const az_pages *p)
{
	size_t n = 0, cap = 16;

	for (size_t k = 0; k < p->n; k++)
		n += bar_kit_jlen(p->doc[k], p->items[k]);
	while (cap < 2 * n)
		cap *= 2;
	m->slot = calloc(cap, sizeof(*m->slot));
	m->mask = cap - 1;
	if (!m->slot)
		return -1;
	for (size_t k = 0; k < p->n; k++) {
		const bar_kit_jdoc *d = p->doc[k];

		for (int v = bar_kit_jfirst(d, p->items[k]); v >= 0;
		     v = bar_kit_jnext(d, p->items[k], v)) {
			const char *id = bar_kit_jsv(d, bar_kit_jget(d, v, "id"));
			struct az_slot *sl = index_slot(m, id);

			sl->id = id;
			sl->r = (az_jv){d, v};
		}
	}
	return 0;
}

/* The resource with that id, or AZ_JV_NONE. */
static az_jv index_get(const az_index *m, const char *id)
{
	const struct az_slot *sl = m->slot ? index_slot(m, id) : NULL;

	return sl && sl->id ? sl->r : AZ_JV_NONE;
}

static int az_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	az_ctx x;
	az_pages items = {0}, nics = {0}, pips = {0};
	az_index nmap = {0}, pmap = {0};
	int vm, rc = begin(&x, p, call, type, NULL, 0, out);

	if (rc != BAR_OK || bar_kit_type_lookup(bar_kit_cloud_types, type))
		goto done;
	vm = strcmp(type, "vm") == 0;
	if (strcmp(type, "vnet") == 0)
		rc = list_all(&x, "Microsoft.Network", "virtualNetworks", AZ_API_NETWORK, NULL,
		              "VirtualNetworks_List", &items);
	else if (strcmp(type, "securitygroup") == 0)
		rc = list_all(&x, "Microsoft.Network", "networkSecurityGroups", AZ_API_NETWORK, NULL,
		              "NetworkSecurityGroups_List", &items);
	else if (strcmp(type, "sshkey") == 0)
		rc = list_all(&x, "Microsoft.Compute", "sshPublicKeys", AZ_API_COMPUTE, NULL,
		              "SshPublicKeys_ListByResourceGroup", &items);
	else {
		rc = list_all(&x, "Microsoft.Compute", "virtualMachines", AZ_API_COMPUTE,
		              "$expand=instanceView", "VirtualMachines_List", &items);
		if (rc == BAR_OK)
			rc = list_all(&x, "Microsoft.Network", "networkInterfaces", AZ_API_NETWORK, NULL,
			              "NetworkInterfaces_List", &nics);
		if (rc == BAR_OK)
			rc = list_all(&x, "Microsoft.Network", "publicIPAddresses", AZ_API_NETWORK, NULL,
			              "PublicIPAddresses_List", &pips);
		if (rc == BAR_OK && (index_build(&nmap, &nics) < 0 || index_build(&pmap, &pips) < 0))
			rc = fail(&x, BAR_EFAIL, "OutOfMemory", "list: out of memory");
	}
	for (size_t k = 0; k < items.n && rc == BAR_OK; k++) {
		const bar_kit_jdoc *d = items.doc[k];
		int list = items.items[k];

		for (int v = bar_kit_jfirst(d, list); v >= 0 && rc == BAR_OK;
		     v = bar_kit_jnext(d, list, v)) {
			int tags = bar_kit_jget(d, v, "tags");
			az_jv nic = AZ_JV_NONE, pip = AZ_JV_NONE;
			az_obs o = {0};

			if (!bar_kit_jstr(d, bar_kit_jget(d, tags, "barista:address")) ||
			    !same_region(bar_kit_jsv(d, bar_kit_jget(d, v, "location")), call->region))
				continue;
			if (vm) {
				nic = index_get(&nmap, az_vm_nic_id((az_jv){d, v}));
				pip = index_get(&pmap, az_nic_pip_id(nic));
			}
			rc = observe(&x, type, (az_jv){d, v}, nic, pip, NULL, &o);
			if (rc == BAR_OK)
				rc = emit_obs(&x, &o, NULL);
			az_obs_clear(&o);
		}
	}
done:
	pages_free(&items);
	pages_free(&nics);
	pages_free(&pips);
	free(nmap.slot);
	free(pmap.slot);
	return finish(&x, rc);
}

/* ---- check and catalog ---- */

static const char *const az_rights[] = {
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Network/virtualNetworks/write", "Microsoft.Network/virtualNetworks/delete",
    "Microsoft.Network/virtualNetworks/subnets/join/action",
    "Microsoft.Network/networkSecurityGroups/write",
    "Microsoft.Network/networkSecurityGroups/delete",
    "Microsoft.Network/networkSecurityGroups/join/action",
    "Microsoft.Network/publicIPAddresses/write", "Microsoft.Network/publicIPAddresses/delete",
    "Microsoft.Network/publicIPAddresses/join/action",
    "Microsoft.Network/networkInterfaces/write", "Microsoft.Network/networkInterfaces/delete",
    "Microsoft.Network/networkInterfaces/join/action",
    "Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Compute/virtualMachines/deallocate/action",
    "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Compute/virtualMachines/restart/action", "Microsoft.Compute/sshPublicKeys/write",
    "Microsoft.Compute/sshPublicKeys/delete", "Microsoft.Compute/disks/delete", NULL};

/* ARM's action patterns: '*' matches any run of characters, case-insensitive. */
static int action_match(const char *pat, const char *s)
{
	if (!*pat)
		return !*s;
	if (*pat == '*')
		return action_match(pat + 1, s) || (*s && action_match(pat, s + 1));
	return *s && tolower((unsigned char)*pat) == tolower((unsigned char)*s) &&
	       action_match(pat + 1, s + 1);
}

static int allowed(json_t *perms, const char *action)
{
	json_t *pm, *a;
	size_t i, j;
	int yes = 0;

	json_array_foreach(json_object_get(perms, "value"), i, pm) {
		int in = 0, out = 0;

		json_array_foreach(json_object_get(pm, "actions"), j, a)
			in |= json_is_string(a) && action_match(json_string_value(a), action);
		json_array_foreach(json_object_get(pm, "notActions"), j, a)
			out |= json_is_string(a) && action_match(json_string_value(a), action);
		yes |= in && !out;
	}
	return yes;
}

static int az_check(bar_provider *p, bar_call *call)
{
	az_ctx x;
	char tok[8192], path[400], detail[700];
	json_t *sub = NULL, *perms = NULL;
	int64_t t0 = bar_kit_now_ms();
	int rc = begin(&x, p, call, NULL, NULL, 0, NULL), first = BAR_OK;

	if (rc != BAR_OK)
		goto done;
	rc = token_get(&x, tok, sizeof(tok));
	bar_kit_wipe(tok, sizeof(tok));
	if (rc == BAR_OK)
		snprintf(detail, sizeof(detail), "a token from %s in %lld ms", x.s->authority,
		         (long long)(bar_kit_now_ms() - t0));
	else
		snprintf(detail, sizeof(detail), "%s refused the client credentials (%s); check "
		         "tenantId, clientId and clientSecret (az ad sp create-for-rbac)",
		         x.s->authority, x.err.code);
	x.host->report_check(call, "credential", rc == BAR_OK, detail);
	if (rc != BAR_OK)
		goto done;
	snprintf(path, sizeof(path), "/subscriptions/%s", x.s->sub);
	t0 = bar_kit_now_ms();
	rc = arm_get(&x, path, AZ_API_SUBSCRIPTIONS, NULL, "Subscriptions_Get", &sub, &x.err);
	if (rc == BAR_OK && strcmp(jstr(sub, "state"), "Enabled") != 0)
		rc = fail(&x, BAR_EAUTH, "SubscriptionNotEnabled", "subscription %s is %s", x.s->sub,
		          jstr(sub, "state"));
	if (rc == BAR_OK)
		snprintf(detail, sizeof(detail), "ARM at %s: subscription %s (%s) in %lld ms",
		         x.s->endpoint, x.s->sub, jstr(sub, "displayName"),
		         (long long)(bar_kit_now_ms() - t0));
	else
		snprintf(detail, sizeof(detail), "%s: %s; check subscriptionId and that the service "
		         "principal has a role on it", x.err.code, x.err.msg);
	x.host->report_check(call, "subscription", rc == BAR_OK, detail);
	if (rc != BAR_OK)
		goto done;
	snprintf(path, sizeof(path),
	         "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.Authorization/permissions",
	         x.s->sub, x.s->rg);
	{
		bar_kit_err scratch = {0};

		rc = arm_get(&x, path, AZ_API_AUTHORIZATION, NULL, "Permissions_ListForResourceGroup",
		             &perms, &scratch);
		if (rc == BAR_ENOTFOUND) {
			snprintf(detail, sizeof(detail), "resource group %s does not exist yet: the first "
			         "create makes it (Microsoft.Resources/subscriptions/resourceGroups/write "
			         "on the subscription); rights are checked on it once it exists", x.s->rg);
			x.host->report_check(call, "resource group", 1, detail);
			rc = BAR_OK;
			goto done;
		}
		if (rc != BAR_OK) {
			bar_kit_fail(&x.err, scratch.rc, scratch.code, "%s", scratch.msg);
			snprintf(detail, sizeof(detail), "%s: %s; the principal needs "
			         "Microsoft.Authorization/permissions/read (any role has it)", scratch.code,
			         scratch.msg);
			x.host->report_check(call, "rights", 0, detail);
			goto done;
		}
	}
	for (size_t i = 0; az_rights[i]; i++) {
		char name[200];
		int ok = allowed(perms, az_rights[i]);

		snprintf(name, sizeof(name), "right %s", az_rights[i]);
		snprintf(detail, sizeof(detail), ok ? "granted on resource group %s"
		         : "not granted on resource group %s: give the principal a role with it "
		           "(Contributor, or Network Contributor plus Virtual Machine Contributor)",
		         x.s->rg);
		x.host->report_check(call, name, ok, detail);
		if (!ok && first == BAR_OK)
			first = fail(&x, BAR_EAUTH, "AuthorizationFailed", "%s is not granted",
			             az_rights[i]);
	}
	rc = first;
done:
	json_decref(sub);
	json_decref(perms);
	return finish(&x, rc);
}

static int emit_cat(az_ctx *x, const char *name, json_t *attrs)
{
	char *a = json_dumps(attrs, AZ_JSON_FLAGS);
	bar_observed obs = {sizeof(obs), name, name, "Available", a ? a : "{}", "{}"};
	int rc = x->host->emit(x->sink, &obs) < 0
	             ? fail(x, BAR_EFAIL, "EmitRefused", "the host refused %s", name)
	             : BAR_OK;

	free(a);
	json_decref(attrs);
	return rc;
}

static const char *const az_cat_images[] = {
    "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    "Canonical:ubuntu-24_04-lts:server:latest", "Debian:debian-12:12-gen2:latest",
    "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-arm64:latest", NULL};

static int az_catalog(bar_provider *p, bar_call *call, const char *what, bar_sink *out)
{
	az_ctx x;
	char path[300];
	json_t *list = NULL, *v;
	size_t i;
	int rc = begin(&x, p, call, NULL, NULL, 0, out);

	if (rc != BAR_OK)
		goto done;
	if (strcmp(what, "regions") == 0) {
		snprintf(path, sizeof(path), "/subscriptions/%s/locations", x.s->sub);
		rc = arm_get(&x, path, AZ_API_SUBSCRIPTIONS, NULL, "Subscriptions_ListLocations", &list,
		             &x.err);
		json_array_foreach(json_object_get(list, "value"), i, v) {
			if (rc != BAR_OK)
				break;
			if (strcmp(jstr(json_object_get(v, "metadata"), "regionType"), "Logical") == 0)
				continue;
			{
				json_t *zones = json_array(), *m;
				size_t k;

				json_array_foreach(json_object_get(v, "availabilityZoneMappings"), k, m)
					if (json_is_string(json_object_get(m, "logicalZone")))
						json_array_append(zones, json_object_get(m, "logicalZone"));
				rc = emit_cat(&x, jstr(v, "name"),
				              json_pack("{s:o,s:s}", "zones", zones, "displayName",
				                        jstr(v, "displayName")));
			}
		}
	} else if (strcmp(what, "specs") == 0) {
		snprintf(path, sizeof(path),
		         "/subscriptions/%s/providers/Microsoft.Compute/locations/%s/vmSizes", x.s->sub,
		         call->region);
		rc = arm_get(&x, path, AZ_API_COMPUTE, NULL, "VirtualMachineSizes_List", &list, &x.err);
		json_array_foreach(json_object_get(list, "value"), i, v) {
			if (rc != BAR_OK)
				break;
			rc = emit_cat(&x, jstr(v, "name"),
			              json_pack("{s:I,s:I}", "vcpu",
			                        json_integer_value(json_object_get(v, "numberOfCores")),
			                        "memoryMiB",
			                        json_integer_value(json_object_get(v, "memoryInMB"))));
		}
	} else if (strcmp(what, "images") == 0) {
		for (i = 0; az_cat_images[i] && rc == BAR_OK; i++) {
			az_obs o = {0};
			json_t *a;

			rc = image_lookup(&x, az_cat_images[i], &o, az_cat_images[i]);
			if (rc == BAR_OK && (a = json_loads(o.attrs, 0, NULL)) != NULL) {
				json_object_del(a, "nativeStatus");
				json_object_del(a, "imageId");
				json_object_set_new(a, "description", json_string(az_cat_images[i]));
				rc = emit_cat(&x, o.system_id, a);
			}
			az_obs_clear(&o);
		}
	} else {
		rc = fail(&x, BAR_ENOTSUP, "UnsupportedCatalog", "no catalogue of %s", what);
	}
done:
	json_decref(list);
	return finish(&x, rc);
}

/* ---- sessions ---- */

static int az_open(bar_provider *p, bar_call *call, void **session)
{
	static const char *const sub_f[] = {"subscriptionId", NULL};
	json_t *cfg = json_loads(call->config ? call->config : "{}", 0, NULL);
	bar_kit_http_opts ho = BAR_KIT_HTTP_OPTS_INIT;
	az_sess *s = calloc(1, sizeof(*s));
	char why[256], poll[32], dflt_rg[96];
	const char *sub;
	int rc = BAR_OK;

	(void)p;
	if (!s || !json_is_object(cfg)) {
		g_host->set_error(call, "InvalidConfig", "the connection's config is not a JSON object");
		rc = BAR_EINVALID;
		goto done;
	}
	config_str(s->endpoint, sizeof(s->endpoint), cfg, "endpoint", AZ_DEFAULT_ENDPOINT);
	config_str(s->authority, sizeof(s->authority), cfg, "authorityHost", AZ_DEFAULT_AUTHORITY);
	trim_slash(s->endpoint);
	trim_slash(s->authority);
	snprintf(dflt_rg, sizeof(dflt_rg), "barista-%.80s", call->connection ? call->connection : "");
	config_str(s->rg, sizeof(s->rg), cfg, "resourceGroup", dflt_rg);
	for (char *c = s->rg; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-_.()", *c))
			*c = '-';
	config_str(poll, sizeof(poll), cfg, "pollIntervalMs", "");
	s->poll_ms = poll[0] ? atoi(poll) : AZ_DEFAULT_POLL_MS;
	if (s->poll_ms < 10 || s->poll_ms > 600000)
		s->poll_ms = AZ_DEFAULT_POLL_MS;
	snprintf(s->region, sizeof(s->region), "%s", call->region);
	sub = json_string_value(json_object_get(cfg, "subscriptionId"));
	if (!sub || !*sub)
		sub = bar_kit_credential(g_host, call, sub_f);
	if (!sub || !*sub || strlen(sub) >= sizeof(s->sub) || strpbrk(sub, "/?#% ")) {
		g_host->set_error(call, "MissingSubscription",
		                  "set the connection's subscriptionId (config or credential)");
		rc = BAR_EINVALID;
		goto done;
	}
	snprintf(s->sub, sizeof(s->sub), "%s", sub);
	ho.user_agent = "barista-azure/" AZ_VERSION;
	ho.errparse = az_parse_error;
	ho.coderc = az_code_rc;
	if (bar_kit_http_new(&s->http, &ho, why, sizeof(why)) < 0) {
		g_host->set_error(call, "HttpClient", "%s", why);
		rc = BAR_EFAIL;
		goto done;
	}
	pthread_mutex_init(&s->tok.mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	*session = s;
	s = NULL;
done:
	free(s);
	json_decref(cfg);
	return rc;
}

static void az_close(bar_provider *p, void *session)
{
	az_sess *s = session;

	(void)p;
	if (!s)
		return;
	bar_kit_http_free(s->http);
	bar_kit_wipe(s->tok.value, sizeof(s->tok.value));
	pthread_mutex_destroy(&s->tok.mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void az_destroy(bar_provider *p) { free(p); }

/*
 * The plugin's one symbol: checks the host's ABI, returns the provider
 * table in *out (the host releases it with destroy), or -1 with *errmsg
 * (malloc'd) naming the plugin.
 */
__attribute__((visibility("default"))) int barista_provider_init(const bar_host_api *host,
                                                                 bar_provider **out,
                                                                 char **errmsg)
{
	bar_provider *p;

	if (bar_kit_check_host(host, "azure", errmsg) < 0)
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p) {
		*errmsg = strdup("azure: out of memory");
		return -1;
	}
	g_host = host;
	p->abi_version = BAR_PROVIDER_ABI_VERSION;
	p->struct_size = sizeof(*p);
	p->name = "azure";
	p->version = AZ_VERSION;
	p->capabilities = BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST |
	                  BAR_CAP_IDEMPOTENT;
	p->types = bar_kit_cloud_types;
	p->open = az_open;
	p->close = az_close;
	p->create = az_create;
	p->read = az_read;
	p->update = az_update;
	p->del = az_del;
	p->list = az_list;
	p->vm_action = az_vm_action;
	p->poll = az_poll;
	p->destroy = az_destroy;
	p->check = az_check;
	p->catalog = az_catalog;
	/* ARM's token buckets (per subscription, region and principal): 250
	 * reads refilled at 25/s, 200 writes and 200 deletes at 10/s each.  A
	 * VM create is three writes plus operation polls; 10 calls at once stay
	 * inside the write refill rate. */
	p->default_concurrency = 10;
	*out = p;
	return 0;
}
