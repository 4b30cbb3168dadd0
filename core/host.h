/*
 * host.h - the host side of the provider plugin ABI: finding and loading
 * plugins, describing connections, and calling providers with retries,
 * deadlines, cancellation and errors that name the operation and region.
 *
 * Nothing here knows about plans; the planner and the apply engine call
 * these functions and get plain C data back.
 */
#ifndef BAR_HOST_H
#define BAR_HOST_H

#include "barista_provider.h"
#include "util.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bar_registry bar_registry;

/*
 * A registry of loaded provider plugins.  `search_path` is a colon-separated
 * list of directories; NULL means $BARISTA_PLUGIN_PATH if set, else the
 * build tree's providers/ and the installed lib/barista/providers.
 * *out is the caller's (bar_registry_free, which dlcloses everything).
 */
int bar_registry_new(bar_registry **out, const char *search_path);
void bar_registry_free(bar_registry *reg);

/*
 * Load one plugin file.  Errors name the file: cannot dlopen, no
 * barista_provider_init symbol, init failed (with the plugin's message),
 * unknown abi_version, struct too small, or a provider name already loaded
 * from another file.  On success *out is borrowed from the registry.
 */
int bar_registry_load_file(bar_registry *reg, const char *path,
                           const bar_provider **out);

/*
 * The provider for `driver`, loading barista-provider-<driver>.so from the
 * first directory of the search path that has it.  BAR_ENOTFOUND (message
 * lists the directories searched) when no directory has it.
 */
int bar_registry_get(bar_registry *reg, const char *driver, const bar_provider **out);

/*
 * Register a provider that lives in this process (tests, built-ins); `origin`
 * names it in messages.  The same checks as for a file apply.  The table is
 * borrowed and must outlive the registry; its destroy is called on free.
 */
int bar_registry_add(bar_registry *reg, bar_provider *prov, const char *origin);

/*
 * Where providers' log lines go (host->log): `fn` gets the level
 * (BAR_LOG_DEBUG..BAR_LOG_ERROR), the connection and the message.  The
 * library itself never prints; programs install a logger.  Without one, log
 * lines are dropped.  Set it before providers run; it is process-wide.
 */
typedef void (*bar_log_fn)(void *ud, int level, const char *connection, const char *msg);
void bar_host_set_log(bar_log_fn fn, void *ud);

typedef struct bar_calllog bar_calllog;
/* Where providers' record_call goes (core/calllog.h); NULL: nowhere.  The
 * log must outlive every provider call. */
void bar_host_set_calllog(bar_calllog *l);

/* The host services given to every provider (for in-process providers). */
const bar_host_api *bar_host_api_get(void);

/* What the host keeps per connection for its provider: the session open()
 * made (opaque; see host.c). */
typedef struct bar_session bar_session;

/* A connection (CB-Spider's connection config) as the host uses it. */
typedef struct bar_conn {
	char *ns;
	char *name;
	char *driver;
	char *region;
	char *zone;
	char *config;       /* JSON object text of the driver config */
	json_t *credential; /* the credential *reference* ({"env":{}} / {"file":""}) or NULL */
	int max_concurrency; /* 0: no per-connection limit */
	const bar_provider *provider; /* set by bar_conn_bind */
	bar_session *session; /* opened on first use, closed by bar_conn_clear */
} bar_conn;

/* Fill *out from a Connection's normalised attrs (see docs/spec-reference.md). */
int bar_conn_init(bar_conn *out, const char *ns, const char *name, const json_t *attrs);
/* Resolve the connection's provider through the registry. */
int bar_conn_bind(bar_conn *c, bar_registry *reg);
/* Close the provider's session (if one was opened) and free everything.
 * Accepts a zeroed struct. */
void bar_conn_clear(bar_conn *c);

/*
 * Check, before anything runs, what every call on this bound connection will
 * need: a non-blank region, each credential reference resolvable (variables
 * set and not empty, files readable and valid JSON), and the provider's
 * open() succeeding (the local provider refuses there when not root).
 * Returns 0 or the error's code with the last error naming the connection.
 */
int bar_conn_check(const bar_conn *c);

/* One observation returned by a provider; strings owned. */
typedef struct bar_obs {
	char *system_id;
	char *name;
	char *status;
	char *attrs; /* JSON object text */
	char *tags;  /* JSON object text */
} bar_obs;

typedef struct bar_obs_list {
	bar_obs *items;
	size_t n;
	size_t cap;
} bar_obs_list;

void bar_obs_clear(bar_obs *o);
void bar_obs_list_clear(bar_obs_list *l);

/* Secrets a create handed back (emit_secret); values are zeroed on clear. */
typedef struct bar_secret {
	char *field;
	char *value;
} bar_secret;

typedef struct bar_secrets {
	bar_secret *items;
	size_t n;
} bar_secrets;

void bar_secrets_clear(bar_secrets *s);

/* Per-operation context.  Inputs: cancellation, deadline, retries, what to
 * name in errors, the create's idempotency key, the operation to poll.
 * Outputs (each may be NULL): throttle count, a started operation, the
 * provider's poll interval. */
typedef struct bar_op_ctx {
	const bar_cancel *cancel;   /* may be NULL */
	int64_t deadline_ms;        /* CLOCK_MONOTONIC ms; 0 = none */
	int max_attempts;           /* attempts with BAR_ERETRY; 0 = default (10),
	                             * with jittered exponential backoff from 0.2 s
	                             * to 8 s, never sooner than retry_after_ms,
	                             * never past the deadline, cut short by
	                             * cancellation */
	int *throttled;             /* out: incremented on every BAR_ERETRY, so
	                             * callers can slow down */
	int *retries;               /* out: incremented on every retry */
	const char *address;        /* the resource's address, for errors/plugins */
	const char *idempotency_key; /* create */
	const char *operation;      /* poll: the operation token */
	char **operation_out;       /* out: token of an operation the call started,
	                             * malloc'd, NULL when none (caller frees) */
	int *retry_after_out;       /* out: the provider's retry_after_ms */
	/* bar_conn_test: where the provider's report_check goes */
	void (*check_fn)(void *ud, const char *check, int ok, const char *detail);
	void *check_ud;
} bar_op_ctx;

/* One outcome of a connection test (the provider's report_check). */
typedef void (*bar_check_fn)(void *ud, const char *check, int ok, const char *detail);

/*
 * `barista connection test`: bar_conn_check, then the provider's check()
 * (reach the API, the credential, each right it needs), every outcome
 * handed to fn as it comes.  Returns 0 when all passed; BAR_ENOTSUP when
 * the driver has no check (after the checks bar_conn_check makes); else the
 * first failure's code with the last error set.
 */
int bar_conn_test(const bar_conn *c, const bar_op_ctx *ctx, bar_check_fn fn, void *ud);

/* The provider's catalogue for `what` ("regions", "specs", "images") as its
 * API tells it today (bar_provider.catalog); BAR_ENOTSUP when it has none. */
int bar_host_catalog(const bar_conn *c, const char *what, const bar_op_ctx *ctx,
                     bar_obs_list *out);


/*
 * Provider calls.  `input` is the JSON text described in barista_provider.h.
 * Each returns 0 or a BAR_* code with the last error set to
 * "<op> <type> \"<name>\" on <connection> (<driver>, region <region>): <code>: <message>"
 * and its fields (provider code and message, operation, address, connection,
 * driver, region) filled in.
 * create/read/update/vm_action/poll fill *out; create also fills *secrets
 * (may be NULL when the caller expects none: then a secret is an error).
 * A create that fails may still fill *out with what the provider made
 * (out->system_id set): the caller must record it, then clear it.
 */
int bar_host_create(const bar_conn *c, const char *type, const char *name,
                    const char *input, const bar_op_ctx *ctx, bar_obs *out,
                    bar_secrets *secrets);
int bar_host_read(const bar_conn *c, const char *type, const char *name,
                  const char *input, const bar_op_ctx *ctx, bar_obs *out);
int bar_host_update(const bar_conn *c, const char *type, const char *name,
                    const char *input, const bar_op_ctx *ctx, bar_obs *out);
int bar_host_delete(const bar_conn *c, const char *type, const char *name,
                    const char *input, const bar_op_ctx *ctx);
int bar_host_vm_action(const bar_conn *c, const char *action, const char *name,
                       const char *input, const bar_op_ctx *ctx, bar_obs *out);
/* Where ctx->operation has got to: the provider's poll, or read when it has
 * none.  BAR_ENOTFOUND once a deleted resource is gone. */
int bar_host_poll(const bar_conn *c, const char *type, const char *name,
                  const char *input, const bar_op_ctx *ctx, bar_obs *out);
/* list appends to *out (the caller clears it). */
int bar_host_list(const bar_conn *c, const char *type, const bar_op_ctx *ctx,
                  bar_obs_list *out);

/*
 * Whether a change of `attr` of a `type` resource can be made in place by
 * provider `p` (its bar_type_info.in_place); 0 for a type it does not
 * describe.  "connection" never can.
 */
int bar_provider_in_place(const bar_provider *p, const char *type, const char *attr);

/* Whether observed attribute `attr` of a `type` resource is one provider
 * `p` restores with update() when it drifts (bar_type_info.restorable). */
int bar_provider_restorable(const bar_provider *p, const char *type, const char *attr);

/* Whether the provider handles resources of `type`. */
int bar_provider_has_type(const bar_provider *p, const char *type);
/* 1 when `p` marks `type` BAR_TYPE_LOOKUP: the cloud's own object (an
 * image, an instance type) looked up, never listed, refreshed with read. */
int bar_provider_type_lookup(const bar_provider *p, const char *type);

#endif
