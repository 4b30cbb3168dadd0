/*
 * credential.h - resolving a connection's credential *reference* into the
 * values a provider asks for (host->credential), on the host's side.
 *
 * A reference (docs/spec-reference.md, "Connection") is one of:
 *   {"env": {field: VARIABLE, ...}}         each field from the environment
 *   {"file": PATH [, "profile": NAME]}      a file in the clouds' own formats:
 *       a JSON object (GCP service-account key, Azure SDK auth file or the
 *       `az ad sp create-for-rbac` output, any {field: value} object), or an
 *       INI file with [sections] (AWS shared credentials / config: the
 *       section `profile`, default "default", also "[profile NAME]")
 *   {"exec": [PROGRAM, ARG...]}             a program printing a JSON object,
 *       as AWS's credential_process (Version, AccessKeyId, SecretAccessKey,
 *       SessionToken, Expiration) and kubectl's exec plugins (an
 *       ExecCredential whose "status" holds the fields, with
 *       expirationTimestamp) do
 * A field is looked up at the top level of the resolved object, then under
 * "status" and "Credentials".
 *
 * Resolved values are cached per reference: a file until it changes on
 * disk, a program's output until 60 s before the expiry it states (forever
 * without one), environment variables not at all.  A program runs without a
 * shell, with stdin closed and stderr passed through to the user (where it
 * may ask to log in), for at most 30 s; its output is at most 64 KiB.
 * Values are wiped when the last holder releases them.  No error ever
 * quotes a value or a program's output.
 */
#ifndef BAR_CREDENTIAL_H
#define BAR_CREDENTIAL_H

#include <jansson.h>

typedef struct bar_cred bar_cred;

/*
 * Resolve `ref`.  Returns 0 with *out (release it with bar_cred_release),
 * or BAR_EAUTH with the last error saying which reference failed and how
 * (never a value).  Thread-safe; concurrent resolves of one program
 * reference run it once.
 */
int bar_cred_resolve(bar_cred **out, const json_t *ref);

/* The value of `field`, or NULL when the reference does not set it (or sets
 * it empty).  Borrowed from c. */
const char *bar_cred_get(const bar_cred *c, const char *field);

/* For env references: the variable behind `field` when it is mapped but
 * unset or empty (for the error a provider reports), else NULL. */
const char *bar_cred_unset_var(const bar_cred *c, const char *field);

void bar_cred_release(bar_cred *c);

/* Parse a credential file's text (a JSON object, or the INI section
 * `profile`, NULL for "default") into {field: value} (*out, a new
 * reference).  Returns 0, or BAR_EAUTH with the last error saying where,
 * never quoting the text.  For tests and the fuzzer; bar_cred_resolve reads
 * files with it. */
int bar_cred_parse_text(json_t **out, const char *data, size_t len, const char *profile);

/* Forget every cached value (wiped); for tests and long-lived processes
 * that are told credentials rotated. */
void bar_cred_cache_clear(void);

#endif
