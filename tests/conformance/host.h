/*
 * host.h - a small bar_host_api for programs that drive a provider plugin
 * directly through the ABI (the conformance suite; later the per-plugin
 * tests): it loads the plugin, gives each call a context that collects what
 * the plugin says (observations, secrets, the error, an operation token),
 * and keeps a transcript of every text the plugin handed to the host, so a
 * test can look for secrets where none may be.
 *
 * Like the real host (core/host.c) it copies everything it is given before
 * returning.  It sees only the ABI header.  Thread-safe: calls may run from
 * several threads, each with its own ch_call and sink.
 */
#ifndef BAR_TEST_CONFORMANCE_HOST_H
#define BAR_TEST_CONFORMANCE_HOST_H

#include "barista_provider.h"

#include <stddef.h>

/* One observation as the plugin emitted it (copies). */
typedef struct ch_obs {
	char *system_id, *name, *status, *attrs, *tags;
} ch_obs;

/* A secret handed over with emit_secret (copies, zeroed when freed). */
typedef struct ch_secret {
	char *field, *value;
} ch_secret;

/* What one call emitted.  Zero it before use; ch_sink_clear empties it. */
struct bar_sink {
	ch_obs *v;
	size_t n, cap;
	ch_secret *secrets;
	size_t n_secrets;
	int refuse_secrets; /* emit_secret fails, as a host without a key store */
	int refuse_emits;   /* emit fails, as a host that wants no more */
	int n_refused;      /* emit and emit_secret calls refused */
	const char *op;     /* for the transcript: "create", "read", ... */
};

/* One call: the bar_call the plugin sees and what it set through the host.
 * Set it up with ch_call_init; ch_call_clear frees what it holds. */
typedef struct ch_call {
	bar_call call;
	const char *op;       /* for the transcript */
	char code[128];       /* set_error's code and message (the last one) */
	char msg[2048];
	int n_errors;         /* how many times set_error was called */
	char *operation;      /* set_operation's last token (malloc'd), NULL if none */
	int n_operations;     /* set_operation calls with a token */
	volatile int cancel;  /* what host->cancelled() answers */
} ch_call;

/* The host table handed to plugins. */
extern const bar_host_api ch_host;

/* How many requests plugins have recorded with host->record_call so far
 * (the call log), across all calls. */
long ch_calls_recorded(void);
/* Their durations summed (ms), as the plugins reported them. */
long ch_calls_ms(void);

/* Start a call: every string is borrowed and must outlive the call.  The
 * call has no deadline, no key and no operation until the caller sets them. */
void ch_call_init(ch_call *c, const char *op, const char *connection, const char *region,
                  const char *config, void *session);

/* Free what the call collected (the operation token); the call may be
 * initialised again. */
void ch_call_clear(ch_call *c);

/* Free what a sink holds (secrets zeroed) and empty it; keeps the refuse
 * flags and op. */
void ch_sink_clear(bar_sink *s);

/* A loaded plugin. */
typedef struct ch_plugin {
	void *dl;
	barista_provider_init_fn init;
	bar_provider *p; /* after ch_plugin_init */
} ch_plugin;

/* dlopen `path` and find its init symbol.  Returns 0, or -1 with a malloc'd
 * message in *err. */
int ch_plugin_open(ch_plugin *pl, const char *path, char **err);

/* Call the plugin's init with `host` (ch_host when NULL).  Returns 0 with
 * pl->p set, or -1 with a malloc'd message in *err. */
int ch_plugin_init(ch_plugin *pl, const bar_host_api *host, char **err);

/* destroy (if set) and dlclose; accepts a plugin never opened. */
void ch_plugin_close(ch_plugin *pl);

/* Credentials host->credential answers with: a NULL-terminated list of
 * field, value pairs, borrowed until replaced.  NULL: none. */
void ch_credentials_set(const char *const *pairs);

/* Echo the plugin's log lines of `level` and above to stderr (default: none). */
void ch_log_echo(int level);

/*
 * The transcript: every text the plugin handed to the host (observation
 * fields, error codes and messages, log lines, operation tokens), kept in
 * order with its kind ("attrs", "tags", "error", "log", "operation", ...)
 * and the call's op, and every secret.  At most `max` bytes are kept; past
 * that ch_transcript_each reports the overflow (a hard limit fails loudly).
 */
void ch_transcript_limit(size_t max);

/* Call fn for each text (secret 0) and each secret value (secret 1) until
 * it returns nonzero, which is returned.  Returns -1 when texts were lost
 * to the limit (after calling fn for those kept). */
typedef int (*ch_text_fn)(void *ud, const char *kind, const char *op, const char *text,
                          int secret);
int ch_transcript_each(ch_text_fn fn, void *ud);

/* Drop the transcript. */
void ch_transcript_free(void);

#endif
