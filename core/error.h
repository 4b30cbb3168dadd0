/*
 * error.h - Barista's error codes and the thread-local last error.
 *
 * Library functions return 0 on success, one of the named negative codes
 * (shared with the provider ABI, providers/barista_provider.h) when the caller
 * is expected to act on the reason, and -1 otherwise.  The error is set once,
 * where the failure is detected, with bar_error_set(); callers may prepend
 * context with bar_error_prefix() but never replace it with something vaguer
 * (libgit2's git_error_set model).
 *
 * The error is a struct, not only a string (libgit2's git_error with its
 * klass): besides the message it carries the code and, for a provider call,
 * the provider's own code and message, the operation, the resource address,
 * the connection, driver and region.  The CLI prints the message; -json and
 * the REST API give the fields.  A worker thread hands its error to another
 * thread with bar_error_save / bar_error_restore.
 */
#ifndef BAR_ERROR_H
#define BAR_ERROR_H

#include "barista_provider.h" /* the BAR_E* codes */

#include <jansson.h>
#include <stdarg.h>

#define BAR_ERROR_MESSAGE_MAX 4096

typedef struct bar_error {
	int code;                   /* BAR_E*, -1 when unspecific */
	char message[BAR_ERROR_MESSAGE_MAX]; /* the whole human message */
	char provider_code[128];    /* the cloud's own code ("InvalidParameter") */
	char provider_message[1024];/* the cloud's own message */
	char operation[32];         /* "create", "list", "suspend", ... */
	char address[512];          /* "default/vm/web-1" */
	char connection[128];
	char driver[64];
	char region[128];
} bar_error;

/* Set the calling thread's last error (printf-style), clearing its fields;
 * code -1.  Returns -1 so a failure site can `return bar_error_set(...)`. */
int bar_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int bar_error_vset(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* The same with a code; returns the code. */
int bar_error_setc(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend "context: " to the current message; the fields stay. */
void bar_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's last message, or "unknown error" if none was set.
 * Borrowed; valid until the next bar_error_* call on this thread. */
const char *bar_error_last(void);

/* The calling thread's whole last error (borrowed, as above); writable so a
 * failure site can fill in the fields after bar_error_set. */
bar_error *bar_error_get(void);

/* Copy the last error out / make a saved one this thread's last error. */
void bar_error_save(bar_error *out);
void bar_error_restore(const bar_error *e);

/* Forget the last error. */
void bar_error_clear(void);

/* "not_found", "conflict", ... for a BAR_E* code ("error" for the rest). */
const char *bar_error_code_name(int code);

/*
 * The error as a new JSON object: {"code","message"} plus whichever of
 * "provider_code", "provider_message", "operation", "address",
 * "connection", "driver", "region" are set.
 */
json_t *bar_error_to_json(const bar_error *e);

#endif
