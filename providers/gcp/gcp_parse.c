/*
 * gcp_parse.c - the gcp driver's parsers of what Compute Engine and Google's
 * OAuth2 token endpoint answer: error bodies, token answers, Instances and
 * the descriptions the driver writes into networks and firewalls.  Outside
 * input: each is fuzzed by tests/fuzz/fuzz_gcp.c.
 */
#include "gcp.h"

#include <stdio.h>
#include <string.h>

const char *gcp_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

const char *gcp_last(const char *s)
{
	const char *p = s ? strrchr(s, '/') : NULL;
	return p ? p + 1 : s ? s : "";
}

void gcp_parse_error(const char *body, size_t len, long status, char *code, size_t csize,
                     char *msg, size_t msize)
{
	json_t *j = json_loadb(body, len, 0, NULL), *err;

	(void)status;
	if (!j)
		return;
	err = json_object_get(j, "error");
	if (json_is_string(err)) {
		/* OAuth2: {"error":"invalid_grant","error_description":"..."} */
		snprintf(code, csize, "%s", json_string_value(err));
		snprintf(msg, msize, "%s", gcp_str(j, "error_description"));
	} else if (json_is_object(err)) {
		json_t *first = json_array_get(json_object_get(err, "errors"), 0);
		const char *reason = gcp_str(first, "reason");

		snprintf(code, csize, "%s", *reason ? reason : gcp_str(err, "status"));
		snprintf(msg, msize, "%s", gcp_str(err, "message"));
	}
	json_decref(j);
}

int gcp_code_rc(const char *code, long status)
{
	static const struct {
		const char *code;
		int rc;
	} map[] = {
		{"notFound", BAR_ENOTFOUND},
		{"alreadyExists", BAR_ECONFLICT},
		{"resourceInUseByAnotherResource", BAR_ECONFLICT},
		{"resourceNotReady", BAR_ERETRY},
		{"conditionNotMet", BAR_ERETRY},
		{"rateLimitExceeded", BAR_ERETRY},
		{"userRateLimitExceeded", BAR_ERETRY},
		{"backendError", BAR_ERETRY},
		{"forbidden", BAR_EAUTH},
		{"insufficientPermissions", BAR_EAUTH},
		{"authError", BAR_EAUTH},
		{"invalid_grant", BAR_EAUTH},
		{"invalid_client", BAR_EAUTH},
		{"unauthorized_client", BAR_EAUTH},
		{"quotaExceeded", BAR_EINVALID},
		{"invalid", BAR_EINVALID},
		{"badRequest", BAR_EINVALID},
		{"required", BAR_EINVALID},
	};

	(void)status;
	for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].rc;
	return 0;
}

int gcp_op_code_rc(const char *code)
{
	if (!code)
		return BAR_EFAIL;
	if (!strcmp(code, "ALREADY_EXISTS") || !strcmp(code, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE") ||
	    !strcmp(code, "RESOURCE_ALREADY_EXISTS"))
		return BAR_ECONFLICT;
	if (!strcmp(code, "RESOURCE_NOT_FOUND") || !strcmp(code, "NOT_FOUND"))
		return BAR_ENOTFOUND;
	if (!strcmp(code, "QUOTA_EXCEEDED") || !strcmp(code, "INVALID_ARGUMENT") ||
	    !strcmp(code, "ZONE_RESOURCE_POOL_EXHAUSTED"))
		return BAR_EINVALID;
	if (!strcmp(code, "RATE_LIMIT_EXCEEDED") || !strcmp(code, "RESOURCE_NOT_READY"))
		return BAR_ERETRY;
	if (!strcmp(code, "PERMISSION_DENIED"))
		return BAR_EAUTH;
	return BAR_EFAIL;
}

int gcp_parse_token(const char *body, size_t len, char *tok, size_t size, int *expires_s)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *t = gcp_str(j, "access_token");
	json_t *exp = json_object_get(j, "expires_in");
	int rc = -1;

	if (j && *t && strlen(t) < size && strcmp(gcp_str(j, "token_type"), "Bearer") == 0 &&
	    json_is_integer(exp) && json_integer_value(exp) > 0 &&
	    json_integer_value(exp) < 1000000) {
		memcpy(tok, t, strlen(t) + 1);
		*expires_s = (int)json_integer_value(exp);
		rc = 0;
	}
	if (j) {
		/* the token lived in the parsed tree too */
		json_t *at = json_object_get(j, "access_token");
		if (json_is_string(at) && json_string_length(at))
			bar_kit_wipe((char *)json_string_value(at), json_string_length(at));
		json_decref(j);
	}
	return rc;
}

const char *gcp_vm_status(const char *s)
{
	if (!s || !*s)
		return "Undefined";
	if (!strcmp(s, "PROVISIONING") || !strcmp(s, "STAGING") || !strcmp(s, "PENDING"))
		return "Creating";
	if (!strcmp(s, "RUNNING"))
		return "Running";
	if (!strcmp(s, "STOPPING") || !strcmp(s, "SUSPENDING") || !strcmp(s, "PENDING_STOP"))
		return "Suspending";
	/* Compute Engine's TERMINATED is a stopped VM, which can be started */
	if (!strcmp(s, "TERMINATED") || !strcmp(s, "STOPPED") || !strcmp(s, "SUSPENDED"))
		return "Suspended";
	if (!strcmp(s, "REPAIRING"))
		return "Rebooting";
	if (!strcmp(s, "DEPROVISIONING"))
		return "Terminating";
	return "Undefined";
}

const char *gcp_meta_value(const bar_kit_jdoc *d, int n, const char *key)
{
	int items = bar_kit_jarray(d, bar_kit_jget(d, bar_kit_jget(d, n, "metadata"), "items"));

	for (int it = bar_kit_jfirst(d, items); it >= 0; it = bar_kit_jnext(d, items, it))
		if (strcmp(bar_kit_jsv(d, bar_kit_jget(d, it, "key")), key) == 0)
			return bar_kit_jstr(d, bar_kit_jget(d, it, "value"));
	return NULL;
}

/* The string member k of object n, or "". */
static const char *str(const bar_kit_jdoc *d, int n, const char *k)
{
	return bar_kit_jsv(d, bar_kit_jget(d, n, k));
}

json_t *gcp_parse_instance(const bar_kit_jdoc *d, int inst, json_t **tags)
{
	int nic = bar_kit_jat(d, bar_kit_jget(d, inst, "networkInterfaces"), 0);
	int ac = bar_kit_jat(d, bar_kit_jget(d, nic, "accessConfigs"), 0);
	int lab = bar_kit_jobject(d, bar_kit_jget(d, inst, "labels"));
	json_t *labels = json_object(), *t = NULL, *a;
	const char *img = gcp_meta_value(d, inst, "barista-image");
	const char *tj = gcp_meta_value(d, inst, "barista-tags");

	for (int v = bar_kit_jfirst(d, lab); v >= 0; v = bar_kit_jnext(d, lab, v)) {
		const char *k = bar_kit_jkey(d, v);
		if (strncmp(k, "barista-", 8) != 0 && bar_kit_jstr(d, v))
			json_object_set_new(labels, k, json_string(bar_kit_jstr(d, v)));
	}
	a = json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s}", "imageId", img ? img : "", "labels",
	              labels, "nativeStatus", str(d, inst, "status"), "privateIp",
	              str(d, nic, "networkIP"), "publicIp", str(d, ac, "natIP"), "specId",
	              gcp_last(str(d, inst, "machineType")), "subnet",
	              gcp_last(str(d, nic, "subnetwork")), "zone", gcp_last(str(d, inst, "zone")));
	if (tags) {
		if (tj)
			t = json_loads(tj, 0, NULL);
		if (!json_is_object(t)) {
			json_decref(t);
			t = json_object();
		}
		*tags = t;
	}
	return a;
}

json_t *gcp_parse_description(const char *desc)
{
	json_t *j;

	if (!desc || desc[0] != '{')
		return NULL;
	j = json_loads(desc, 0, NULL);
	if (!json_is_object(j) || !json_is_object(json_object_get(j, "tags")) ||
	    !json_is_string(json_object_get(j, "kind"))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

void gcp_label_value(char *out, size_t size, const char *v)
{
	size_t o = 0;

	for (; v && *v && o + 1 < size && o < 63; v++) {
		char c = *v;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			c = '_';
		out[o++] = c;
	}
	if (size)
		out[o] = 0;
}
