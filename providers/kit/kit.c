/*
 * kit.c - the provider kit (see kit.h).
 */
#include "kit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const sg_in_place[] = {"ingress", "egress", NULL};
static const char *const vm_in_place[] = {"state", "labels", NULL};
static const char *const vm_restorable[] = {"firewall", NULL};

#define KIT_TYPE(t, list, restore) \
	static const bar_type_info type_##t = {sizeof(bar_type_info), #t, list, restore, 0}
KIT_TYPE(vnet, NULL, NULL);
KIT_TYPE(securitygroup, sg_in_place, NULL);
KIT_TYPE(sshkey, NULL, NULL);
KIT_TYPE(image, NULL, NULL);
KIT_TYPE(spec, NULL, NULL);
KIT_TYPE(vm, vm_in_place, vm_restorable);

const bar_type_info *const bar_kit_standard_types[] = {
	&type_vnet, &type_securitygroup, &type_sshkey, &type_image, &type_spec, &type_vm, NULL,
};

static const bar_type_info cloud_image = {sizeof(bar_type_info), "image", NULL, NULL,
                                          BAR_TYPE_LOOKUP};
static const bar_type_info cloud_spec = {sizeof(bar_type_info), "spec", NULL, NULL,
                                         BAR_TYPE_LOOKUP};

const bar_type_info *const bar_kit_cloud_types[] = {
	&type_vnet, &type_securitygroup, &type_sshkey, &cloud_image, &cloud_spec, &type_vm, NULL,
};

int bar_kit_type_lookup(const bar_type_info *const *types, const char *type)
{
	for (size_t i = 0; type && types && types[i]; i++)
		if (strcmp(type, types[i]->type) == 0)
			return BAR_COVERS(types[i], flags) && (types[i]->flags & BAR_TYPE_LOOKUP);
	return 0;
}

int bar_kit_type_known(const char *type)
{
	for (size_t i = 0; type && bar_kit_standard_types[i]; i++)
		if (strcmp(type, bar_kit_standard_types[i]->type) == 0)
			return 1;
	return 0;
}

int64_t bar_kit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bar_kit_sleep(const bar_host_api *host, bar_call *call, int ms, const char *what)
{
	int64_t end = bar_kit_now_ms() + ms;

	for (;;) {
		int64_t t = bar_kit_now_ms(), step = end - t;
		struct timespec ts;

		if (host->cancelled && host->cancelled(call)) {
			host->set_error(call, "Canceled", "%s canceled", what);
			return BAR_ECANCELED;
		}
		if (call->deadline_ms && t >= call->deadline_ms) {
			host->set_error(call, "DeadlineExceeded", "%s passed its deadline", what);
			return BAR_ETIMEOUT;
		}
		if (step <= 0)
			return BAR_OK;
		if (step > 20)
			step = 20;
		if (call->deadline_ms && call->deadline_ms - t < step)
			step = call->deadline_ms - t;
		ts.tv_sec = step / 1000;
		ts.tv_nsec = (long)(step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

int bar_kit_input(json_t **out, char *why, size_t size, const char *type, const char *input,
                  int need_id)
{
	json_error_t jerr;
	json_t *in = json_loads(input ? input : "", 0, &jerr), *t;
	const char *name, *id;

	if (!json_is_object(in)) {
		snprintf(why, size, "input is not a JSON object: %s", jerr.text);
		goto bad;
	}
	t = json_object_get(in, "type");
	if (t && (!json_is_string(t) || !type || strcmp(json_string_value(t), type) != 0)) {
		snprintf(why, size, "input type does not match %s", type ? type : "(none)");
		goto bad;
	}
	name = json_string_value(json_object_get(in, "name"));
	if (!name || !*name || strpbrk(name, "\t\n")) {
		snprintf(why, size, "input needs a \"name\" without tabs or newlines");
		goto bad;
	}
	id = json_string_value(json_object_get(in, "system_id"));
	if (need_id && (!id || !*id)) {
		snprintf(why, size, "input needs a \"system_id\"");
		goto bad;
	}
	*out = in;
	return BAR_OK;
bad:
	json_decref(in);
	return BAR_EINVALID;
}

int bar_kit_fail(bar_kit_err *e, int rc, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (e->rc)
		return rc;
	e->rc = rc;
	snprintf(e->code, sizeof(e->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return rc;
}

int bar_kit_report(const bar_host_api *host, bar_call *call, bar_kit_err *e, int rc,
                   const char *plugin)
{
	if (rc == 0)
		return 0;
	if (!e->rc)
		bar_kit_fail(e, rc, "SystemError", "%s provider failed (code %d)", plugin, rc);
	host->set_error(call, e->code, "%s", e->msg);
	return e->rc < 0 ? e->rc : rc;
}

int bar_kit_check_host(const bar_host_api *host, const char *plugin, char **errmsg)
{
	if (host && host->abi_version == BAR_PROVIDER_ABI_VERSION && BAR_HAS(host, set_operation))
		return 0;
	if (errmsg && asprintf(errmsg, "%s provider speaks ABI version %d; the host speaks "
	                       "version %u", plugin, BAR_PROVIDER_ABI_VERSION,
	                       host ? host->abi_version : 0) < 0)
		*errmsg = NULL;
	return -1;
}

void bar_kit_record_call(const bar_host_api *host, bar_call *call, const char *operation,
                         const char *resource, long status, const char *error_code,
                         int64_t duration_ms)
{
	bar_call_record rec = {
		.struct_size = sizeof(rec),
		.operation = operation ? operation : "",
		.resource = resource ? resource : "",
		.http_status = (int)status,
		.error_code = error_code ? error_code : "",
		.duration_ms = duration_ms,
	};

	if (BAR_HAS(host, record_call))
		host->record_call(call, &rec);
}

const char *bar_kit_rc_name(int rc)
{
	static const char *const names[] = {"OK", "EFAIL", "ENOTFOUND", "ECONFLICT", "EAUTH",
	                                    "ERETRY", "EINVALID", "ENOTSUP", "ECANCELED",
	                                    "ETIMEOUT", "ELOCKED", "ESTALE"};

	return rc <= 0 && rc >= BAR_ESTALE ? names[-rc] : "EFAIL";
}

int bar_kit_rc_status(int rc)
{
	switch (rc) {
	case BAR_OK: return 200;
	case BAR_ENOTFOUND: return 404;
	case BAR_ECONFLICT: return 409;
	case BAR_EAUTH: return 403;
	case BAR_ERETRY: return 429;
	case BAR_EINVALID: return 400;
	case BAR_ENOTSUP: return 501;
	case BAR_ECANCELED: case BAR_ETIMEOUT: return 0;
	default: return 500;
	}
}
