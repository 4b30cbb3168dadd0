/*
 * ali_api.c - the session and the signed RPC call (see ali_api.h).
 *
 * Requests are POSTs of an application/x-www-form-urlencoded body to
 * "<base>/": the signature covers every parameter, so nothing secret sits
 * in a URL the kit could record (it records none anyway).  Credentials are
 * asked of the host for every call (the file may rotate) under the field
 * names of Alibaba's own formats and wiped once the request is signed.
 */
#include "ali_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const bar_host_api *ali_host;

static const char *const KEY_ID[] = {"access_key_id", "AccessKeyId", NULL};
static const char *const KEY_SECRET[] = {"access_key_secret", "AccessKeySecret", NULL};
static const char *const KEY_TOKEN[] = {"security_token", "SecurityToken", NULL};
static const char *const VERSION[] = {"2014-05-26", "2016-04-28"};
static const char *const HOST[] = {"ecs", "vpc"};

static void trim_slash(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '/')
		s[--n] = '\0';
}

static const char *cfg_str(json_t *cfg, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(cfg, key));

	return v && *v ? v : dflt;
}

static int cfg_int(json_t *cfg, const char *key, int dflt, int lo, int hi)
{
	json_t *v = json_object_get(cfg, key);
	long n;
	char *end;

	if (json_is_integer(v))
		n = (long)json_integer_value(v);
	else if (json_is_string(v) && *json_string_value(v)) {
		n = strtol(json_string_value(v), &end, 10);
		if (*end)
			return dflt;
	} else
		return dflt;
	return n < lo ? lo : n > hi ? hi : (int)n;
}

int ali_session_new(ali_session **out, bar_call *call, bar_kit_err *e)
{
	bar_kit_http_opts o = BAR_KIT_HTTP_OPTS_INIT;
	json_t *cfg = json_loads(call->config ? call->config : "{}", 0, NULL);
	ali_session *s = calloc(1, sizeof(*s));
	const char *endpoint, *region = call->region && *call->region ? call->region : "";
	char why[256];
	int rc = BAR_OK;

	if (!s) {
		rc = bar_kit_fail(e, BAR_EFAIL, "OutOfMemory", "alibaba: out of memory");
		goto done;
	}
	if (!json_is_object(cfg)) {
		rc = bar_kit_fail(e, BAR_EINVALID, "InvalidConfig",
		                  "alibaba: the connection's config is not a JSON object");
		goto done;
	}
	if (!*region || strlen(region) >= sizeof(s->region) || strpbrk(region, "/?#@: ")) {
		rc = bar_kit_fail(e, BAR_EINVALID, "InvalidConfig",
		                  "alibaba: the connection needs a region such as ap-southeast-1");
		goto done;
	}
	snprintf(s->region, sizeof(s->region), "%s", region);
	endpoint = cfg_str(cfg, "endpoint", NULL);
	for (int i = 0; i < 2; i++) {
		const char *own = cfg_str(cfg, i == ALI_ECS ? "ecsEndpoint" : "vpcEndpoint", NULL);

		s->fixed[i] = own || endpoint;
		if (own)
			snprintf(s->base[i], sizeof(s->base[i]), "%s", own);
		else if (endpoint)
			snprintf(s->base[i], sizeof(s->base[i]), "%s", endpoint);
		else
			snprintf(s->base[i], sizeof(s->base[i]), "https://%s.%s.aliyuncs.com", HOST[i],
			         region);
		trim_slash(s->base[i]);
		if (strncmp(s->base[i], "http://", 7) != 0 && strncmp(s->base[i], "https://", 8) != 0) {
			rc = bar_kit_fail(e, BAR_EINVALID, "InvalidConfig",
			                  "alibaba: endpoint %s is not an http(s) URL", s->base[i]);
			goto done;
		}
	}
	s->poll_ms = cfg_int(cfg, "pollMs", 1500, 10, 60000);
	s->bandwidth_out = cfg_int(cfg, "internetMaxBandwidthOut", 5, 0, 1000);
	snprintf(s->disk_category, sizeof(s->disk_category), "%s",
	         cfg_str(cfg, "systemDiskCategory", ""));
	snprintf(s->zone, sizeof(s->zone), "%s", cfg_str(cfg, "zone", ""));
	pthread_mutex_init(&s->lock, NULL);
	o.user_agent = "barista-alibaba/0.1";
	o.errparse = ali_errparse;
	o.coderc = ali_coderc;
	o.timeout_ms = cfg_int(cfg, "timeoutMs", 60000, 1000, 600000);
	if (bar_kit_http_new(&s->http, &o, why, sizeof(why)) < 0) {
		pthread_mutex_destroy(&s->lock);
		rc = bar_kit_fail(e, BAR_EFAIL, "HttpInit", "alibaba: %s", why);
		goto done;
	}
	*out = s;
	s = NULL;
done:
	free(s);
	json_decref(cfg);
	return rc;
}

void ali_session_free(ali_session *s)
{
	if (!s)
		return;
	bar_kit_http_free(s->http);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Alibaba throttles per API and minute: an API throttled in minute T is
 * refused until minute T+1 (docs/driver-alibaba.md), so wait for the next
 * minute rather than hammering it. */
static int until_next_minute_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int)(60000 - (ts.tv_sec % 60) * 1000 - ts.tv_nsec / 1000000) + 250;
}

int ali_rpc(ali_session *s, bar_call *call, int svc, const char *action, ali_params *p,
            const char *resource, bar_kit_jdoc **out, bar_kit_err *e)
{
	const char *id = bar_kit_credential(ali_host, call, KEY_ID);
	const char *secret = bar_kit_credential(ali_host, call, KEY_SECRET);
	const char *token = bar_kit_credential(ali_host, call, KEY_TOKEN);
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
	                      "Accept: application/json", NULL};
	bar_kit_http_req req = {0};
	bar_kit_http_resp resp;
	bar_kit_buf body = {0};
	bar_kit_jdoc *d = NULL;
	char ts[32], nonce[40], url[600];
	int rc;

	if (out)
		*out = NULL;
	if (!id || !secret)
		return bar_kit_fail(e, BAR_EAUTH, "MissingCredential",
		                    "%s: the connection's credential has no access_key_id and "
		                    "access_key_secret", action);
	ali_timestamp(ts, sizeof(ts));
	ali_nonce(nonce, sizeof(nonce));
	ali_params_add(p, "Action", action);
	ali_params_add(p, "Version", VERSION[svc]);
	ali_params_add(p, "Format", "JSON");
	ali_params_add(p, "AccessKeyId", id);
	ali_params_add(p, "SignatureMethod", "HMAC-SHA1");
	ali_params_add(p, "SignatureVersion", "1.0");
	ali_params_add(p, "SignatureNonce", nonce);
	ali_params_add(p, "Timestamp", ts);
	if (token)
		ali_params_add(p, "SecurityToken", token);
	if (ali_sign(&body, p, "POST", secret) < 0) {
		bar_kit_buf_free(&body);
		return bar_kit_fail(e, BAR_EFAIL, "OutOfMemory", "%s: out of memory", action);
	}
	if (!s->fixed[svc] && call->region && *call->region &&
	    strcmp(call->region, s->region) != 0 && !strpbrk(call->region, "/?#@: "))
		snprintf(url, sizeof(url), "https://%s.%s.aliyuncs.com/", HOST[svc], call->region);
	else
		snprintf(url, sizeof(url), "%s/", s->base[svc]);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = body.p;
	req.body_len = body.len;
	req.operation = action;
	req.resource = resource;
	rc = bar_kit_http_do(s->http, ali_host, call, &req, &resp, e);
	bar_kit_buf_free(&body);
	if (rc == BAR_ERETRY && strncmp(resp.code, "Throttling", 10) == 0 &&
	    call->retry_after_ms <= 0)
		call->retry_after_ms = until_next_minute_ms();
	if (rc == BAR_OK && ali_parse_doc(&d, resp.body, resp.body_len) < 0)
		rc = bar_kit_fail(e, BAR_ERETRY, "InvalidResponse",
		                  "%s: the answer (HTTP %ld) is not a JSON object", action, resp.status);
	if (rc == BAR_OK && out)
		*out = d;
	else
		bar_kit_jfree(d);
	bar_kit_http_resp_clear(&resp);
	return rc;
}

static void add_tags(ali_params *p, json_t *obj, int *n)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		char key[32];

		++*n;
		snprintf(key, sizeof(key), "Tag.%d.Key", *n);
		ali_params_add(p, key, k);
		snprintf(key, sizeof(key), "Tag.%d.Value", *n);
		ali_params_add(p, key, json_is_string(v) ? json_string_value(v) : "");
	}
}

void ali_params_tags(ali_params *p, json_t *tags, json_t *labels)
{
	int n = 0;

	add_tags(p, tags, &n);
	add_tags(p, labels, &n);
}

int ali_zone(ali_session *s, bar_call *call, char *out, size_t size, bar_kit_err *e)
{
	const char *region = call->region && *call->region ? call->region : s->region;
	int own = strcmp(region, s->region) == 0;
	ali_params p = {0};
	bar_kit_jdoc *r = NULL;
	const char *z;
	int rc;

	if (call->zone && *call->zone) {
		snprintf(out, size, "%s", call->zone);
		return BAR_OK;
	}
	out[0] = '\0';
	if (own) {
		pthread_mutex_lock(&s->lock);
		snprintf(out, size, "%s", s->zone);
		pthread_mutex_unlock(&s->lock);
	}
	if (*out)
		return BAR_OK;
	ali_params_add(&p, "RegionId", region);
	rc = ali_rpc(s, call, ALI_ECS, "DescribeZones", &p, NULL, &r, e);
	ali_params_free(&p);
	if (rc)
		return rc;
	z = ali_jstr(r, bar_kit_jat(r, ali_jlist(r, 0, "Zones.Zone"), 0), "ZoneId");
	if (!*z) {
		bar_kit_jfree(r);
		return bar_kit_fail(e, BAR_EINVALID, "NoZone", "DescribeZones: region %s has no zone",
		                    region);
	}
	snprintf(out, size, "%s", z);
	if (own) {
		pthread_mutex_lock(&s->lock);
		snprintf(s->zone, sizeof(s->zone), "%s", z);
		pthread_mutex_unlock(&s->lock);
	}
	bar_kit_jfree(r);
	return BAR_OK;
}

int ali_emit(bar_sink *sink, const char *id, const char *name, const char *status,
             json_t *attrs, json_t *tags, bar_kit_err *e)
{
	char *a = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	char *t = json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS);
	bar_observed o = {sizeof(o), id, name, status, a, t};
	int rc = BAR_OK;

	if (!a || !t)
		rc = bar_kit_fail(e, BAR_EFAIL, "OutOfMemory", "alibaba: out of memory");
	else if (ali_host->emit(sink, &o) < 0)
		rc = bar_kit_fail(e, BAR_EFAIL, "EmitRefused", "the host refused the observation of %s",
		                  id);
	free(a);
	free(t);
	return rc;
}

int ali_wait(bar_call *call, int ms, const char *what, bar_kit_err *e)
{
	int64_t end = bar_kit_now_ms() + ms;

	for (;;) {
		int64_t t = bar_kit_now_ms();
		struct timespec ts = {0, 20 * 1000000L};

		if (ali_host->cancelled && ali_host->cancelled(call))
			return bar_kit_fail(e, BAR_ECANCELED, "Canceled", "%s canceled", what);
		if (call->deadline_ms && t >= call->deadline_ms)
			return bar_kit_fail(e, BAR_ETIMEOUT, "DeadlineExceeded",
			                    "%s passed its deadline", what);
		if (t >= end)
			return BAR_OK;
		nanosleep(&ts, NULL);
	}
}

char *ali_json_list1(const char *id)
{
	json_t *a = json_pack("[s]", id);
	char *s = json_dumps(a, JSON_COMPACT);

	json_decref(a);
	return s;
}
