/*
 * kit.h - the provider kit: scaffolding every provider plugin shares, linked
 * statically into each plugin (it is not part of the host).  It sees only the
 * ABI header, like the plugins themselves.
 *
 * Today it holds the type descriptions of the standard resource types with
 * the in-place rules most clouds share, the check of the host's ABI, input
 * parsing, the first-error rule for a callback's error, and the cancellable
 * sleep; cloud drivers add HTTP, signing, Retry-After parsing and pagination
 * here.
 */
#ifndef BAR_KIT_H
#define BAR_KIT_H

#include "barista_provider.h"

/*
 * The six standard types with the usual in-place rules: a security group's
 * rules (ingress, egress) and a VM's state and labels change in place;
 * everything else of a VNet, SSH key, image, spec or VM forces a
 * replacement; a VM's observed "firewall" is restorable (a provider that
 * reports it restores it in update()).  NULL-terminated; for
 * bar_provider.types.
 */
extern const bar_type_info *const bar_kit_standard_types[];

/*
 * The same six for a cloud driver: images and specs are the cloud's own
 * objects, looked up rather than made (BAR_TYPE_LOOKUP).
 */
extern const bar_type_info *const bar_kit_cloud_types[];

/* 1 when the type named is one `types` marks BAR_TYPE_LOOKUP. */
int bar_kit_type_lookup(const bar_type_info *const *types, const char *type);

/* 1 when `type` is one of the standard six. */
int bar_kit_type_known(const char *type);

/* Milliseconds of CLOCK_MONOTONIC, the clock of bar_call.deadline_ms. */
int64_t bar_kit_now_ms(void);

/*
 * Sleep ms milliseconds in slices, giving up when the host cancels the call
 * or its deadline passes (both checked even when ms is 0).  Returns BAR_OK,
 * or BAR_ECANCELED / BAR_ETIMEOUT with the call's error set (the message
 * names `what`).
 */
int bar_kit_sleep(const bar_host_api *host, bar_call *call, int ms, const char *what);

#include <jansson.h>
#include <stddef.h>

/*
 * Parse a callback's input (see barista_provider.h): a JSON object whose
 * "type", when present, is `type`, with a non-empty "name" without tabs or
 * newlines, and with `need_id` a non-empty "system_id".  Returns 0 with *out
 * (a new reference), or BAR_EINVALID with why[size] saying what is wrong
 * (for the plugin to report as its error, code "InvalidInput").
 */
int bar_kit_input(json_t **out, char *why, size_t size, const char *type, const char *input,
                  int need_id);

/*
 * A callback's error, first failure wins: the precise error is the first
 * one; a cleanup that fails after it must not replace it.  Fill it with
 * bar_kit_fail as failures happen, hand it to the host once with
 * bar_kit_report when the callback returns.
 */
typedef struct bar_kit_err {
	int rc;          /* 0 until the first failure */
	char code[40];   /* the provider's own code */
	char msg[1024];
} bar_kit_err;

/* Record a failure unless one is recorded already; returns rc. */
int bar_kit_fail(bar_kit_err *e, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The callback's result: 0 for rc 0; otherwise the recorded error (or,
 * when none was, a generic one naming `plugin` and rc) goes to
 * host->set_error, and its code is returned. */
int bar_kit_report(const bar_host_api *host, bar_call *call, bar_kit_err *e, int rc,
                   const char *plugin);

/*
 * Check the host a plugin is given at init: same ABI version and a host
 * table covering every service of this version.  On failure returns -1 and
 * sets *errmsg (malloc'd) naming the plugin and both versions.
 */
int bar_kit_check_host(const bar_host_api *host, const char *plugin, char **errmsg);

/* Report one request in the host's call log (host->record_call, when the
 * host has it): the API operation, the cloud id it was about (or NULL), the
 * HTTP status (0: no answer), the cloud's error code ("" or NULL: none) and
 * how long it took.  bar_kit_http_do does this for every request it sends. */
void bar_kit_record_call(const bar_host_api *host, bar_call *call, const char *operation,
                         const char *resource, long status, const char *error_code,
                         int64_t duration_ms);

/* The name of a BAR_E* code ("ENOTFOUND"), and the HTTP status a cloud
 * would answer such an error with (0 for cancellation and deadlines: no
 * answer), for providers without HTTP (sim) to keep a call log too. */
const char *bar_kit_rc_name(int rc);
int bar_kit_rc_status(int rc);

#endif
