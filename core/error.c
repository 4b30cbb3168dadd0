/*
 * error.c - thread-local last-error storage (see error.h).
 */
#include "error.h"

#include <stdio.h>
#include <string.h>

#define BAR_ERROR_MAX 4096

static _Thread_local char last_error[BAR_ERROR_MAX];

int bar_error_vset(const char *fmt, va_list ap)
{
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
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

void bar_error_prefix(const char *fmt, ...)
{
	char prefix[1024];
	char old[BAR_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, last_error, sizeof(old));
	snprintf(last_error, sizeof(last_error), "%s: %s", prefix,
	         old[0] ? old : "unknown error");
}

const char *bar_error_last(void)
{
	return last_error[0] ? last_error : "unknown error";
}

void bar_error_clear(void)
{
	last_error[0] = '\0';
}
