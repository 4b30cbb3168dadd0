/*
 * error.c - thread-local last-error storage (see error.h).
 */
#include "error.h"

#include <stdio.h>
#include <string.h>

static _Thread_local bar_error last;

int bar_error_vset(const char *fmt, va_list ap)
{
	memset(&last, 0, sizeof(last));
	last.code = -1;
	vsnprintf(last.message, sizeof(last.message), fmt, ap);
	return -1;
}

int bar_error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bar_error_vset(fmt, ap);
	va_end(ap);
	return -1;
}

int bar_error_setc(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bar_error_vset(fmt, ap);
	va_end(ap);
	last.code = code;
	return code;
}

void bar_error_prefix(const char *fmt, ...)
{
	char prefix[1024];
	char old[BAR_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, last.message, sizeof(old));
	snprintf(last.message, sizeof(last.message), "%s: %s", prefix,
	         old[0] ? old : "unknown error");
}

const char *bar_error_last(void)
{
	return last.message[0] ? last.message : "unknown error";
}

bar_error *bar_error_get(void)
{
	return &last;
}

void bar_error_save(bar_error *out)
{
	*out = last;
}

void bar_error_restore(const bar_error *e)
{
	if (e != &last)
		last = *e;
}

void bar_error_clear(void)
{
	memset(&last, 0, sizeof(last));
}

const char *bar_error_code_name(int code)
{
	switch (code) {
	case BAR_ENOTFOUND: return "not_found";
	case BAR_ECONFLICT: return "conflict";
	case BAR_EAUTH: return "auth";
	case BAR_ERETRY: return "retry";
	case BAR_EINVALID: return "invalid";
	case BAR_ENOTSUP: return "not_supported";
	case BAR_ECANCELED: return "canceled";
	case BAR_ETIMEOUT: return "timeout";
	case BAR_ELOCKED: return "locked";
	case BAR_ESTALE: return "stale";
	default: return "error";
	}
}

json_t *bar_error_to_json(const bar_error *e)
{
	json_t *j = json_pack("{s:s, s:s}", "code", bar_error_code_name(e->code), "message",
	                      e->message[0] ? e->message : "unknown error");
	const struct {
		const char *key;
		const char *val;
	} fields[] = {
		{"provider_code", e->provider_code}, {"provider_message", e->provider_message},
		{"operation", e->operation},         {"address", e->address},
		{"connection", e->connection},       {"driver", e->driver},
		{"region", e->region},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].val[0])
			json_object_set_new(j, fields[i].key, json_string(fields[i].val));
	return j;
}
