/*
 * error.h - Barista's error codes and the thread-local last error.
 *
 * Library functions return 0 on success, one of the named negative codes below
 * when the caller is expected to act on the reason, and -1 otherwise.  The
 * human-readable message is set once, where the failure is detected, with
 * bar_error_set(); callers may prepend context with bar_error_prefix() but
 * never replace it with something vaguer (libgit2's git_error_set model).
 */
#ifndef BAR_ERROR_H
#define BAR_ERROR_H

#include <stdarg.h>

enum {
	BAR_OK = 0,
	BAR_EFAIL = -1,
	BAR_ENOTFOUND = -2,
	BAR_ECONFLICT = -3,
	BAR_ELOCKED = -4,
	BAR_EAUTH = -5,
	BAR_ERETRY = -6,
	BAR_EINVALID = -7,
	BAR_ECANCELED = -8,
	BAR_ESTALE = -9, /* a saved plan no longer matches the state */
};

/* Set the calling thread's last error (printf-style).  Returns -1 so a
 * failure site can `return bar_error_set(...)`. */
int bar_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int bar_error_vset(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Prepend "context: " to the current message. */
void bar_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's last message, or "unknown error" if none was set.
 * Borrowed; valid until the next bar_error_* call on this thread. */
const char *bar_error_last(void);

/* Forget the last error. */
void bar_error_clear(void);

#endif
