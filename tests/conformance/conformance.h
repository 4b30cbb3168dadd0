/*
 * conformance.h - what the files of the provider conformance suite share
 * (see docs/conformance.md): the run's state, the call wrapper that checks
 * the ABI's invariants on every call, resources and the fixture, and the
 * cases.
 *
 *   conformance.c    options, the case table, the runner, cleanup
 *   conf_call.c      every call to the plugin, its invariants, settle
 *   conf_res.c       fixture, inputs, the world of resources, the ledger
 *   conf_crud.c      create/read/list/update/delete cases, per type
 *   conf_ops.c       idempotency, long operations, VM actions, cancellation,
 *                    deadlines, concurrency
 *   conf_cases.c     init, the table, sessions, errors, secrets; the cleanup
 */
#ifndef BAR_TEST_CONFORMANCE_H
#define BAR_TEST_CONFORMANCE_H

#include "host.h"
#include "kit.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>

/* The standard types in dependency order (parents first). */
enum { T_VNET, T_SG, T_KEY, T_IMAGE, T_SPEC, T_VM, CONF_NTYPES };
extern const char *const conf_type_names[CONF_NTYPES];

/* The suite's calls. */
enum { OP_CREATE, OP_READ, OP_UPDATE, OP_DELETE, OP_LIST, OP_ACTION, OP_POLL, OP_N };
extern const char *const conf_op_names[OP_N];

/* A resource the suite made (or tries to). */
typedef struct conf_res {
	int type;
	int conn;              /* 0: the main config, 1: the wait config */
	int tagged;            /* carries barista:address */
	char name[96];
	char address[192];
	char key[40];          /* its idempotency key */
	json_t *attrs;         /* desired attrs as last sent */
	json_t *refs;          /* refs as sent at create */
	char *tags;            /* the tags given at create (compact, sorted) */
	char *system_id;       /* NULL until made */
	char *observed;        /* attrs text last observed */
	char status[32];
	char why[700];         /* the last failed create: call and result */
} conf_res;

#define CONF_MAX_SKIPS 16

typedef struct conf_opts {
	const char *plugin, *config, *region;
	const char *wait_config, *fixture, *credentials, *run;
	const char *skip[CONF_MAX_SKIPS]; /* "GLOBS[:why]" */
	int n_skip;
	int list, needs_root, live, verbose, timeout_s;
} conf_opts;

/* How one long-running operation went (settle). */
typedef struct conf_opstats {
	int token;                /* the call set an operation token */
	int polls;
	int64_t ms;
	int min_after, max_after; /* retry_after_ms the provider asked for */
} conf_opstats;

typedef struct conf {
	conf_opts o;
	ch_plugin pl;
	bar_provider *p;
	json_t *fx;                 /* fixture, defaults merged */
	char *config[2];            /* main and wait config, placeholders resolved */
	void *session[3];           /* per config; [2]: the main config in otherRegion
	                             * (the host opens a session per connection, and
	                             * a connection has one region) */
	int opened[3];
	char run_id[8], lineage[40];
	char tmpdir[PATH_MAX], ledger[PATH_MAX + 16];
	conf_res world[CONF_NTYPES];
	int world_state[CONF_NTYPES]; /* 0 not made, 1 made, -1 failed, 2 deleted */
	int counter[CONF_NTYPES];
	pthread_mutex_t mu;         /* failures, counters, ledger */
	int open_rc[3];             /* what open() returned per session */
	char open_err[3][700];
	json_t *creds;              /* -credentials: field -> value */
	const char **cred_pairs;
	/* the case running: its verdict and the lines printed under it */
	const char *case_name;
	int case_failures;
	char skip[512];
	char *out;
	size_t out_len;
} conf;

/* ---- reporting (conformance.c) ---- */

/* Record a failed expectation of the running case (thread-safe). */
void conf_fail(conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Say why the running case is skipped. */
void conf_skip(conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A comment line under the running case. */
void conf_note(conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conf_sleep_ms(int ms);
/* A fixture number / object. */
int64_t conf_fx_int(conf *c, const char *key);
json_t *conf_fx(conf *c, const char *key);
/* The type index of a fixture string (e.g. "concurrency.type"), or -1. */
int conf_type_index(const char *name);
/* Whether the provider declares type t; its bar_type_info or NULL. */
const bar_type_info *conf_declared(conf *c, int t);
/* 1 when the provider marks type t BAR_TYPE_LOOKUP (looked up, not made). */
int conf_lookup_type(conf *c, int t);

/* ---- calls (conf_call.c) ---- */

typedef struct conf_callopt {
	int conn;              /* which config */
	const char *key;       /* create: idempotency key */
	const char *operation; /* poll: the token */
	const char *address;
	const char *region;    /* NULL: the suite's region */
	int64_t deadline_ms;   /* 0: now + callTimeoutMs */
	int cancel;            /* host->cancelled() says yes */
	int no_retry;          /* do not retry BAR_ERETRY */
	int refuse_emits;      /* the host refuses observations */
	int refuse_secrets;    /* the host refuses secrets */
} conf_callopt;

typedef struct conf_op {
	ch_call hc;
	bar_sink sink;
	int rc;
	int64_t ms;
	char what[256];        /* "create vnet cf-1a2b3c-vnet-1" */
} conf_op;

/*
 * One call to the plugin (retrying BAR_ERETRY as the host does), then the
 * ABI's invariants on what it returned and emitted; a violation fails the
 * running case.  `type` is the type name (NULL for vm_action, whose action
 * is `action`).  Returns x->rc.  Release with conf_op_clear.
 */
int conf_call(conf *c, conf_op *x, int op, const char *type, const char *action,
              const char *input, const conf_callopt *co);
void conf_op_clear(conf_op *x);

/* "BAR_ENOTFOUND" for BAR_ENOTFOUND (a number for others; thread-local). */
const char *conf_rc_name(int rc);

/* "BAR_ENOTFOUND (ResourceNotFound: message)" of a call (thread-local). */
const char *conf_op_result(const conf_op *x);

/* Statuses (bar_observed.status). */
int conf_status_valid(const char *type, const char *status);
int conf_status_transitional(const char *status);

/*
 * Follow the long-running operation call x started (a token, or a
 * transitional status with BAR_CAP_ASYNC) to its end, as the host does:
 * poll (or read) at the provider's retry_after_ms, within
 * operationTimeoutMs.  When it ends, x->sink holds the final observation;
 * `deleting`: until BAR_ENOTFOUND.  Returns 0 or the failing code (the case
 * failed).  st (may be NULL) says how it went; st->polls 0: nothing to wait.
 */
int conf_settle(conf *c, conf_op *x, const conf_res *r, int deleting, conf_opstats *st);

/* ---- resources (conf_res.c) ---- */

/* Merge the fixture file (if any) over the defaults into c->fx. */
int conf_fixture_load(conf *c, char **err);
/* A random v4 UUID into out (37 bytes). */
void conf_uuid(char *out);

/* A new resource of type t (name, address, key, attrs from the fixture,
 * refs to the world's parents, which it makes when needed).  Returns 0, or
 * -1 when a parent could not be made (the case failed). */
int conf_res_new(conf *c, conf_res *r, int t, int tagged, int conn);
/* A new generation of `like` (same type, name, address, attrs and refs)
 * with a new idempotency key. */
void conf_res_again(conf *c, conf_res *r, const conf_res *like);
void conf_res_free(conf_res *r);
/* The input JSON of r (malloc'd): with refs (create/update) or not, with
 * its system_id when it has one.  `attrs` NULL: r->attrs. */
char *conf_input(const conf_res *r, int with_refs, const json_t *attrs);
/* The same as the input of type t (to read an id as another type). */
char *conf_input_as(const conf_res *r, int t, int with_refs, const json_t *attrs);

/*
 * Create r and check the result (one observation, name, tags as given,
 * settled to its final status); records what was made in the ledger.
 * Returns the call's code; 0 with r->system_id set.  co may be NULL.
 */
int conf_create(conf *c, conf_res *r, const conf_callopt *co, conf_opstats *st);
/* conf_create that fails the case when the create fails. */
int conf_make(conf *c, conf_res *r);
/* Delete r and check it is gone (settled, delete again and read give
 * BAR_ENOTFOUND).  Returns 0 or the failing code.  st (may be NULL): how
 * the operation went. */
int conf_delete(conf *c, conf_res *r, conf_opstats *st);
/* Read r into x (caller clears); checks nothing. */
int conf_read(conf *c, conf_op *x, const conf_res *r, int type);
/* The world's resource of type t, made on first use (with its parents);
 * NULL when it could not be made (the case failed). */
conf_res *conf_need(conf *c, int t);
/* List type t in region (NULL: the suite's) into x; rc. */
int conf_list(conf *c, conf_op *x, int t, const char *region);
/* How many resources of type t carry this run's lineage; -1 without
 * BAR_CAP_LIST or when list fails (the case failed). */
int conf_lineage_count(conf *c, int t);
/* Whether an observation carries this run's barista:lineage tag. */
int conf_of_lineage(const conf *c, const ch_obs *o);
/* Fail unless that count is want (want -1: no check). */
void conf_count_is(conf *c, int t, int want, const char *after);
/* Index of system_id in x's observations, or -1. */
int conf_find(const conf_op *x, const char *system_id);
/* Append a made resource to the ledger the cleanup reads. */
void conf_ledger_add(conf *c, const char *type, int conn, const char *system_id,
                     const char *name);
/* The ref value of a made resource: {"system_id","name","attrs"}. */
json_t *conf_ref_of(const conf_res *r);
/* Whether two JSON texts hold equal values. */
int conf_json_same(const char *a, const char *b);

/* Open the provider's session for each config (when it has open), as the
 * host does before a connection's first call; the outcome is in open_rc. */
void conf_open_sessions(conf *c);

/* ---- cases ---- */

typedef void (*conf_case_fn)(conf *c, int t);

void case_create(conf *c, int t);
void case_read(conf *c, int t);
void case_list(conf *c, int t);
void case_update(conf *c, int t);
void case_delete(conf *c, int t);

void case_abi_refused(conf *c, int t);
void case_table(conf *c, int t);
void case_open_close(conf *c, int t);
void case_idempotency(conf *c, int t);
void case_operations(conf *c, int t);
void case_vm_suspend_resume(conf *c, int t);
void case_vm_reboot(conf *c, int t);
void case_vm_reboot_suspended(conf *c, int t);
void case_vm_unknown_action(conf *c, int t);
void case_cancel(conf *c, int t);
void case_deadline(conf *c, int t);
void case_concurrency(conf *c, int t);
void case_unknown_type(conf *c, int t);
void case_malformed_input(conf *c, int t);
void case_emit_refused(conf *c, int t);
void case_secret_refused(conf *c, int t);
void case_secrets(conf *c, int t);

/* Cleanup after the body, in the parent: delete everything the ledger
 * names, then list for anything of this run's lineage.  Returns how many
 * resources had to be deleted or are left; *left how many are left. */
int conf_cleanup(conf *c, int *left);

#endif
