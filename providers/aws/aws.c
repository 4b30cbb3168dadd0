/*
 * aws.c - the `aws` provider: Amazon EC2 through its Query API (2016-11-15).
 *
 * This file holds the plugin's table, the per-connection session (the
 * kit's HTTP client and the endpoint: the config's `endpoint`, else
 * https://ec2.<region>.amazonaws.com), the request path every call takes
 * (form parameters, SigV4 with the kit's signer over the connection's
 * credential, the kit's HTTP client, EC2's XML answer or error) and the
 * dispatch of callbacks to the per-type files.  See docs/driver-aws.md.
 *
 * Like every plugin it sees only providers/barista_provider.h of the host.
 */
#include "aws.h"

#include "kit_sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const key_names[] = {"access_key_id", "aws_access_key_id", "AccessKeyId",
                                        NULL};
static const char *const secret_names[] = {"secret_access_key", "aws_secret_access_key",
                                           "SecretAccessKey", NULL};
static const char *const token_names[] = {"session_token", "aws_session_token",
                                          "SessionToken", NULL};

/* ---- error codes ---- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* EC2's error codes (the API reference's "Error codes" page) to the ABI's. */
static int code_rc(const char *code, long status)
{
	static const char *const retry[] = {"RequestLimitExceeded", "Throttling",
	                                    "ThrottlingException", "InternalError",
	                                    "ServiceUnavailable", "Unavailable",
	                                    "InsufficientInstanceCapacity", "RequestResourceCountExceeded",
	                                    NULL};
	static const char *const auth[] = {"UnauthorizedOperation", "AuthFailure", "Blocked",
	                                   "OptInRequired", "InvalidClientTokenId",
	                                   "SignatureDoesNotMatch", "MissingAuthenticationToken",
	                                   "RequestExpired", "PendingVerification", NULL};
	static const char *const conflict[] = {"IncorrectInstanceState", "IncorrectState",
	                                       "DependencyViolation", "IdempotentParameterMismatch",
	                                       "Resource.AlreadyAssociated", "InvalidGroup.InUse",
	                                       "RouteAlreadyExists", "CannotDelete", NULL};
	(void)status;
	if (!code || !*code)
		return 0;
	for (int i = 0; retry[i]; i++)
		if (strcmp(code, retry[i]) == 0)
			return BAR_ERETRY;
	for (int i = 0; auth[i]; i++)
		if (strcmp(code, auth[i]) == 0)
			return BAR_EAUTH;
	for (int i = 0; conflict[i]; i++)
		if (strcmp(code, conflict[i]) == 0)
			return BAR_ECONFLICT;
	if (ends_with(code, ".NotFound"))
		return BAR_ENOTFOUND;
	if (ends_with(code, ".Duplicate"))
		return BAR_ECONFLICT;
	if (strncmp(code, "Invalid", 7) == 0 || strncmp(code, "Missing", 7) == 0 ||
	    strcmp(code, "UnknownParameter") == 0 || ends_with(code, "LimitExceeded") ||
	    strcmp(code, "UnsupportedOperation") == 0 || strcmp(code, "VPCIdNotSpecified") == 0 ||
	    strcmp(code, "Unsupported") == 0)
		return BAR_EINVALID;
	return 0;
}

static void err_parse(const char *body, size_t len, long status, char *code, size_t csize,
                      char *msg, size_t msize)
{
	(void)status;
	aws_xml_error(body, len, code, csize, msg, msize);
}

/* ---- the session ---- */

static int config_str(char *out, size_t size, const char *config, const char *key)
{
	json_t *c = json_loads(config ? config : "{}", 0, NULL);
	const char *v = json_string_value(json_object_get(c, key));
	int found = v && *v;

	if (found)
		snprintf(out, size, "%s", v);
	json_decref(c);
	return found;
}

static int sess_init(aws_sess *s, bar_call *call, char *why, size_t size)
{
	bar_kit_http_opts o = BAR_KIT_HTTP_OPTS_INIT;
	char ep[480];
	const char *auth, *slash;

	memset(s, 0, sizeof(*s));
	if (!config_str(ep, sizeof(ep), call->config, "endpoint"))
		snprintf(ep, sizeof(ep), "https://ec2.%s.amazonaws.com", call->region);
	while (*ep && ep[strlen(ep) - 1] == '/')
		ep[strlen(ep) - 1] = '\0';
	auth = strstr(ep, "://");
	if (!auth || strncmp(ep, "http", 4) != 0) {
		snprintf(why, size, "endpoint \"%s\" is not an http(s) URL", ep);
		return -1;
	}
	auth += 3;
	slash = strchr(auth, '/');
	snprintf(s->authority, sizeof(s->authority), "%.*s",
	         (int)(slash ? (size_t)(slash - auth) : strlen(auth)), auth);
	snprintf(s->path, sizeof(s->path), "%s/", slash ? slash : "");
	snprintf(s->url, sizeof(s->url), "%s/", ep);
	if (!s->authority[0]) {
		snprintf(why, size, "endpoint \"%s\" names no host", ep);
		return -1;
	}
	o.user_agent = "barista-aws/" AWS_VERSION;
	o.errparse = err_parse;
	o.coderc = code_rc;
	return bar_kit_http_new(&s->http, &o, why, size);
}

static int aws_open(bar_provider *p, bar_call *call, void **session)
{
	aws_priv *priv = p->priv;
	aws_sess *s = calloc(1, sizeof(*s));
	char why[256];

	if (!s) {
		priv->host->set_error(call, "OutOfMemory", "aws: out of memory");
		return BAR_EFAIL;
	}
	if (sess_init(s, call, why, sizeof(why)) < 0) {
		free(s);
		priv->host->set_error(call, "InvalidConfig", "aws: %s", why);
		return BAR_EINVALID;
	}
	*session = s;
	return BAR_OK;
}

static void aws_close(bar_provider *p, void *session)
{
	aws_sess *s = session;

	(void)p;
	if (s)
		bar_kit_http_free(s->http);
	free(s);
}

/* ---- a callback's context ---- */

int aws_begin(aws_x *x, bar_provider *p, bar_call *call, const char *type, const char *input,
              int need_id)
{
	aws_priv *priv = p->priv;
	char why[256];

	memset(x, 0, sizeof(*x));
	x->host = priv->host;
	x->call = call;
	x->type = type;
	if (type && !bar_kit_type_known(type))
		return bar_kit_fail(&x->err, BAR_ENOTSUP, "UnsupportedType",
		                    "aws: no resource type \"%s\"", type);
	if (input && bar_kit_input(&x->in, why, sizeof(why), type, input, need_id) != 0)
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput", "aws: %s", why);
	if (BAR_COVERS(call, session) && call->session) {
		x->sess = call->session;
	} else {
		if (sess_init(&x->own, call, why, sizeof(why)) < 0)
			return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidConfig", "aws: %s", why);
		x->sess = &x->own;
	}
	return BAR_OK;
}

int aws_end(aws_x *x, int rc)
{
	json_decref(x->in);
	if (x->own.http)
		bar_kit_http_free(x->own.http);
	return bar_kit_report(x->host, x->call, &x->err, rc, "aws");
}

json_t *aws_attrs(aws_x *x)
{
	json_t *a = json_object_get(x->in, "attrs");

	if (!json_is_object(a)) {
		a = json_object();
		json_object_set_new(x->in, "attrs", a);
	}
	return a;
}

json_t *aws_in_tags(aws_x *x)
{
	json_t *t = json_object_get(x->in, "tags");

	if (!json_is_object(t)) {
		t = json_object();
		json_object_set_new(x->in, "tags", t);
	}
	return t;
}

json_t *aws_tags_copy(aws_x *x)
{
	return json_deep_copy(aws_in_tags(x));
}

const char *aws_name(aws_x *x)
{
	const char *n = json_string_value(json_object_get(x->in, "name"));

	return n ? n : "";
}

const char *aws_id(aws_x *x)
{
	const char *n = json_string_value(json_object_get(x->in, "system_id"));

	return n ? n : "";
}

void aws_unique_name(aws_x *x, char *out, size_t size)
{
	const char *key = BAR_COVERS(x->call, idempotency_key) && x->call->idempotency_key
	                      ? x->call->idempotency_key
	                      : "";

	if (!*key)
		key = json_string_value(json_object_get(aws_in_tags(x), "barista:idempotency"));
	if (key && *key)
		snprintf(out, size, "%s-%.8s", aws_name(x), key);
	else
		snprintf(out, size, "%s", aws_name(x));
}

int aws_emit(aws_x *x, bar_sink *out, const char *id, const char *name, const char *status,
             json_t *attrs, json_t *tags)
{
	char *a = json_dumps(attrs, AWS_JSON), *t = json_dumps(tags, AWS_JSON);
	bar_observed o = {sizeof(o), id, name, status, a ? a : "{}", t ? t : "{}"};
	int rc = BAR_OK;

	if (!a || !t || x->host->emit(out, &o) != 0)
		rc = bar_kit_fail(&x->err, BAR_EFAIL, "EmitRefused",
		                  "aws: the host refused the observation of %s", id);
	free(a);
	free(t);
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

/* ---- form parameters ---- */

void aws_q_add(aws_q *q, const char *name, const char *value)
{
	bar_kit_buf_str(&q->b, "&");
	bar_kit_buf_urlencode(&q->b, name, 0);
	bar_kit_buf_str(&q->b, "=");
	bar_kit_buf_urlencode(&q->b, value ? value : "", 0);
}

void aws_q_addf(aws_q *q, const char *value, const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	aws_q_add(q, name, value);
}

void aws_q_int(aws_q *q, const char *name, long v)
{
	char num[32];

	snprintf(num, sizeof(num), "%ld", v);
	aws_q_add(q, name, num);
}

void aws_q_filter(aws_q *q, const char *name, const char *const *values)
{
	int n = ++q->n_filters;

	aws_q_addf(q, name, "Filter.%d.Name", n);
	for (int i = 0; values && values[i]; i++)
		aws_q_addf(q, values[i], "Filter.%d.Value.%d", n, i + 1);
}

void aws_q_filter1(aws_q *q, const char *name, const char *value)
{
	const char *v[] = {value, NULL};

	aws_q_filter(q, name, v);
}

void aws_q_tagspec(aws_q *q, const char *rtype, json_t *tags, const char *name, json_t *extra)
{
	const char *k;
	json_t *v;
	int n = 0;

	aws_q_add(q, "TagSpecification.1.ResourceType", rtype);
	if (name && *name) {
		n++;
		aws_q_addf(q, "Name", "TagSpecification.1.Tag.%d.Key", n);
		aws_q_addf(q, name, "TagSpecification.1.Tag.%d.Value", n);
	}
	json_object_foreach(tags, k, v) {
		if (!json_is_string(v) || strcmp(k, "Name") == 0)
			continue;
		n++;
		aws_q_addf(q, k, "TagSpecification.1.Tag.%d.Key", n);
		aws_q_addf(q, json_string_value(v), "TagSpecification.1.Tag.%d.Value", n);
	}
	json_object_foreach(extra, k, v) {
		if (!json_is_string(v) || strcmp(k, "Name") == 0 || strncmp(k, "barista:", 8) == 0)
			continue;
		n++;
		aws_q_addf(q, k, "TagSpecification.1.Tag.%d.Key", n);
		aws_q_addf(q, json_string_value(v), "TagSpecification.1.Tag.%d.Value", n);
	}
}

void aws_q_free(aws_q *q)
{
	bar_kit_buf_free(&q->b);
}

/* ---- one request ---- */

static int ec2_once(aws_x *x, const char *action, aws_q *q, const char *resource,
                    aws_xml **out, char *code_out, size_t code_size, long *status);

/* EC2's throttling and capacity answers did nothing: safe to send again. */
static int throttled(const char *code)
{
	return strcmp(code, "RequestLimitExceeded") == 0 || strcmp(code, "Throttling") == 0 ||
	       strcmp(code, "ThrottlingException") == 0 ||
	       strcmp(code, "RequestResourceCountExceeded") == 0;
}

/*
 * A throttled request is sent again here, up to AWS_RETRIES times with
 * jittered backoff (the AWS SDKs' "standard" retry mode does the same), so
 * that a create of several steps does not fail as a whole for one refused
 * step; what is still refused after that goes to the host as BAR_ERETRY.
 */
int aws_ec2(aws_x *x, const char *action, aws_q *q, const char *resource, aws_xml **out,
            char *code_out, size_t code_size)
{
	char code[128];
	int rc, delay = 200;

	for (int attempt = 0;; attempt++) {
		bar_kit_err saved = x->err;
		long status = 0;

		rc = ec2_once(x, action, q, resource, out, code, sizeof(code), &status);
		if (rc != BAR_ERETRY || !status || !throttled(code) || attempt + 1 >= AWS_RETRIES)
			break;
		x->err = saved;
		int ms = delay / 2 + (int)(((unsigned)bar_kit_now_ms() * 2654435761u) % (unsigned)delay);
		int src = bar_kit_sleep(x->host, x->call, ms, action);
		if (src != BAR_OK)
			return bar_kit_fail(&x->err, src, src == BAR_ECANCELED ? "Canceled" : "DeadlineExceeded",
			                    "%s: %s while throttled", action,
			                    src == BAR_ECANCELED ? "canceled" : "deadline passed");
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
	if (code_out && code_size)
		snprintf(code_out, code_size, "%s", code);
	return rc;
}

static int ec2_once(aws_x *x, const char *action, aws_q *q, const char *resource,
                    aws_xml **out, char *code_out, size_t code_size, long *status)
{
	const char *ak = bar_kit_credential(x->host, x->call, key_names);
	const char *sk = bar_kit_credential(x->host, x->call, secret_names);
	const char *tok = bar_kit_credential(x->host, x->call, token_names);
	bar_kit_buf body = {0}, date_h = {0}, tok_h = {0}, host_h = {0}, auth_h = {0};
	bar_kit_sigv4_out sig;
	bar_kit_http_resp resp;
	char date[17], why[128];
	int rc;

	if (out)
		*out = NULL;
	if (code_out && code_size)
		code_out[0] = '\0';
	memset(&sig, 0, sizeof(sig));
	memset(&resp, 0, sizeof(resp));
	if (!ak || !sk)
		return bar_kit_fail(&x->err, BAR_EAUTH, "MissingCredential",
		                    "%s: the connection's credential has no access key id and "
		                    "secret access key (aws_access_key_id, aws_secret_access_key)",
		                    action);
	bar_kit_buf_printf(&body, "Action=%s&Version=%s", action, AWS_API_VERSION);
	if (q && q->b.p)
		bar_kit_buf_add(&body, q->b.p, q->b.len);
	if (body.failed || (q && q->b.failed)) {
		rc = bar_kit_fail(&x->err, BAR_EFAIL, "OutOfMemory", "%s: out of memory", action);
		goto done;
	}
	bar_kit_sigv4_date(date, time(NULL));
	bar_kit_sigv4_header hs[] = {
		{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
		{"Host", x->sess->authority},
		{"X-Amz-Date", date},
		{"X-Amz-Security-Token", tok},
	};
	bar_kit_sigv4_req sr = {
		.method = "POST", .path = x->sess->path, .query = NULL, .headers = hs,
		.n_headers = tok ? 4 : 3, .payload = body.p, .payload_len = body.len,
		.amz_date = date, .region = x->call->region, .service = "ec2",
		.access_key_id = ak, .secret_access_key = sk,
	};
	if (bar_kit_sigv4_sign(&sig, &sr) < 0) {
		rc = bar_kit_fail(&x->err, BAR_EFAIL, "SigningFailed", "%s: could not sign", action);
		goto done;
	}
	bar_kit_buf_printf(&date_h, "X-Amz-Date: %s", date);
	bar_kit_buf_printf(&host_h, "Host: %s", x->sess->authority);
	bar_kit_buf_printf(&auth_h, "Authorization: %s", sig.authorization.p);
	if (tok)
		bar_kit_buf_printf(&tok_h, "X-Amz-Security-Token: %s", tok);
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
	                         host_h.p, date_h.p, auth_h.p, tok ? tok_h.p : NULL, NULL};
	if (date_h.failed || host_h.failed || auth_h.failed || tok_h.failed) {
		rc = bar_kit_fail(&x->err, BAR_EFAIL, "OutOfMemory", "%s: out of memory", action);
		goto done;
	}
	bar_kit_http_req req = {"POST", x->sess->url, headers, body.p, body.len, action, resource};
	rc = bar_kit_http_do(x->sess->http, x->host, x->call, &req, &resp, &x->err);
	*status = resp.status;
	if (code_out && code_size)
		snprintf(code_out, code_size, "%s", resp.code);
	if (rc == BAR_ERETRY && resp.status && x->call->retry_after_ms <= 0)
		x->call->retry_after_ms = 1000; /* EC2 sends no Retry-After; its buckets refill per second */
	if (rc != BAR_OK)
		goto done;
	if (out && aws_xml_parse(out, resp.body, resp.body_len, why, sizeof(why)) < 0) {
		*out = NULL;
		rc = bar_kit_fail(&x->err, BAR_EFAIL, "MalformedAnswer", "%s: %s", action, why);
	}
done:
	bar_kit_http_resp_clear(&resp);
	bar_kit_sigv4_out_free(&sig);
	bar_kit_buf_free(&body);
	bar_kit_buf_free(&date_h);
	bar_kit_buf_free(&host_h);
	bar_kit_buf_free(&auth_h);
	bar_kit_buf_free(&tok_h);
	return rc;
}

int aws_ec2_maybe(aws_x *x, const char *action, aws_q *q, const char *resource,
                  aws_xml **out, const char *tolerated)
{
	bar_kit_err saved = x->err;
	char code[128];
	int rc = aws_ec2(x, action, q, resource, out, code, sizeof(code));

	if (rc != BAR_OK && strcmp(code, tolerated) == 0) {
		x->err = saved;
		return 1;
	}
	return rc;
}

int aws_ec2_pages(aws_x *x, const char *action, const aws_q *base, int max, aws_page_fn each,
                  void *ctx)
{
	char token[2048] = "";
	int rc = BAR_OK;

	for (int page = 0; rc == BAR_OK; page++) {
		aws_q q = {{0}, base ? base->n_filters : 0};
		aws_xml *root = NULL;
		const char *next;

		if (base && base->b.p)
			bar_kit_buf_add(&q.b, base->b.p, base->b.len);
		if (max > 0)
			aws_q_int(&q, "MaxResults", max);
		if (token[0])
			aws_q_add(&q, "NextToken", token);
		rc = aws_ec2(x, action, &q, NULL, &root, NULL, 0);
		aws_q_free(&q);
		if (rc == BAR_OK)
			rc = each(x, root, ctx);
		next = rc == BAR_OK ? aws_xml_text(root, "nextToken") : NULL;
		if (next && *next && strlen(next) < sizeof(token) && strcmp(next, token) != 0)
			snprintf(token, sizeof(token), "%s", next);
		else
			token[0] = '\0';
		aws_xml_free(root);
		if (!token[0])
			break;
		if (page > 100000)
			rc = bar_kit_fail(&x->err, BAR_EFAIL, "TooManyPages", "%s: no end of pages",
			                  action);
	}
	return rc;
}

int aws_id_is(const char *id, const char *prefix)
{
	return id && strncmp(id, prefix, strlen(prefix)) == 0;
}

int aws_notfound(aws_x *x, const char *what)
{
	return bar_kit_fail(&x->err, BAR_ENOTFOUND, "NotFound", "aws: %s %s does not exist", what,
	                    aws_id(x));
}

/* ---- callbacks ---- */

static int aws_create(bar_provider *p, bar_call *call, const char *type, const char *input,
                      bar_sink *out)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, type, input, 0);

	if (rc == BAR_OK) {
		if (strcmp(type, "vnet") == 0)
			rc = aws_vnet_create(&x, out);
		else if (strcmp(type, "securitygroup") == 0)
			rc = aws_sg_create(&x, out);
		else if (strcmp(type, "sshkey") == 0)
			rc = aws_key_create(&x, out);
		else if (strcmp(type, "image") == 0)
			rc = aws_image_create(&x, out);
		else if (strcmp(type, "spec") == 0)
			rc = aws_spec_create(&x, out);
		else
			rc = aws_vm_create(&x, out);
	}
	return aws_end(&x, rc);
}

static int aws_read(bar_provider *p, bar_call *call, const char *type, const char *input,
                    bar_sink *out)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, type, input, 1);

	if (rc == BAR_OK) {
		if (strcmp(type, "vnet") == 0)
			rc = aws_vnet_read(&x, out);
		else if (strcmp(type, "securitygroup") == 0)
			rc = aws_sg_read(&x, out);
		else if (strcmp(type, "sshkey") == 0)
			rc = aws_key_read(&x, out);
		else if (strcmp(type, "image") == 0)
			rc = aws_image_read(&x, out);
		else if (strcmp(type, "spec") == 0)
			rc = aws_spec_read(&x, out);
		else
			rc = aws_vm_read(&x, out, NULL);
	}
	return aws_end(&x, rc);
}

static int aws_poll(bar_provider *p, bar_call *call, const char *type, const char *input,
                    bar_sink *out)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, type, input, 1);
	const char *op = BAR_COVERS(call, operation) && call->operation ? call->operation : "";

	if (rc == BAR_OK && strcmp(type, "vm") == 0)
		rc = aws_vm_read(&x, out, op);
	else if (rc == BAR_OK) {
		aws_end(&x, BAR_OK);
		return aws_read(p, call, type, input, out);
	}
	return aws_end(&x, rc);
}

static int aws_update(bar_provider *p, bar_call *call, const char *type, const char *input,
                      bar_sink *out)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, type, input, 1);

	if (rc == BAR_OK) {
		if (strcmp(type, "securitygroup") == 0)
			rc = aws_sg_update(&x, out);
		else if (strcmp(type, "vm") == 0)
			rc = aws_vm_update(&x, out);
		else
			rc = bar_kit_fail(&x.err, BAR_ENOTSUP, "ReplaceRequired",
			                  "aws: a %s is not changed in place", type);
	}
	return aws_end(&x, rc);
}

static int aws_del(bar_provider *p, bar_call *call, const char *type, const char *input)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, type, input, 1);

	if (rc == BAR_OK) {
		if (strcmp(type, "vnet") == 0)
			rc = aws_vnet_delete(&x);
		else if (strcmp(type, "securitygroup") == 0)
			rc = aws_sg_delete(&x);
		else if (strcmp(type, "sshkey") == 0)
			rc = aws_key_delete(&x);
		else if (strcmp(type, "vm") == 0)
			rc = aws_vm_delete(&x);
		/* image, spec: lookups, nothing to delete */
	}
	return aws_end(&x, rc);
}

static int aws_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, type, NULL, 0);

	if (rc == BAR_OK) {
		if (strcmp(type, "vnet") == 0)
			rc = aws_vnet_list(&x, out);
		else if (strcmp(type, "securitygroup") == 0)
			rc = aws_sg_list(&x, out);
		else if (strcmp(type, "sshkey") == 0)
			rc = aws_key_list(&x, out);
		else if (strcmp(type, "vm") == 0)
			rc = aws_vm_list(&x, out);
	}
	return aws_end(&x, rc);
}

static int aws_vm_act(bar_provider *p, bar_call *call, const char *action, const char *input,
                      bar_sink *out)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, "vm", input, 1);

	if (rc == BAR_OK)
		rc = aws_vm_action(&x, action, out);
	return aws_end(&x, rc);
}

static int aws_check_cb(bar_provider *p, bar_call *call)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, NULL, NULL, 0);

	if (rc == BAR_OK)
		rc = aws_check(&x);
	return aws_end(&x, rc);
}

static int aws_catalog_cb(bar_provider *p, bar_call *call, const char *what, bar_sink *out)
{
	aws_x x;
	int rc = aws_begin(&x, p, call, NULL, NULL, 0);

	if (rc == BAR_OK)
		rc = aws_catalog(&x, what, out);
	return aws_end(&x, rc);
}

static void aws_destroy(bar_provider *p)
{
	if (!p)
		return;
	free(p->priv);
	free(p);
}

/*
 * The plugin's one export (see barista_provider.h).  Returns 0 with *out, a
 * provider the host releases through its destroy callback; or nonzero with
 * *errmsg (malloc'd) when the host's ABI is not one this plugin knows.
 */
__attribute__((visibility("default"))) int
barista_provider_init(const bar_host_api *host, bar_provider **out, char **errmsg)
{
	bar_provider *p;
	aws_priv *priv;

	if (bar_kit_check_host(host, "aws", errmsg) < 0)
		return -1;
	p = calloc(1, sizeof(*p));
	priv = calloc(1, sizeof(*priv));
	if (!p || !priv) {
		free(p);
		free(priv);
		if (errmsg)
			*errmsg = strdup("aws: out of memory");
		return -1;
	}
	priv->host = host;
	*p = (bar_provider){
		.abi_version = BAR_PROVIDER_ABI_VERSION,
		.struct_size = sizeof(*p),
		.name = "aws",
		.version = AWS_VERSION,
		.capabilities = BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST |
		                BAR_CAP_IDEMPOTENT | BAR_CAP_ASYNC,
		.types = bar_kit_cloud_types,
		.priv = priv,
		.open = aws_open,
		.close = aws_close,
		.create = aws_create,
		.read = aws_read,
		.update = aws_update,
		.del = aws_del,
		.list = aws_list,
		.vm_action = aws_vm_act,
		.poll = aws_poll,
		.destroy = aws_destroy,
		.check = aws_check_cb,
		.catalog = aws_catalog_cb,
		/* "Request throttling for the Amazon EC2 API" (EC2 developer guide):
		 * per account and region, token buckets per API; a non-mutating
		 * (Describe*) API holds 100 tokens refilled at 20 per second, and
		 * mutating APIs refill more slowly.  10 calls in flight (a call takes
		 * 100-300 ms) stay inside a Describe bucket's burst and near a mutating
		 * one's refill; beyond that RequestLimitExceeded comes back as
		 * BAR_ERETRY and the host slows the connection.  docs/driver-aws.md. */
		.default_concurrency = 10,
	};
	*out = p;
	return 0;
}
