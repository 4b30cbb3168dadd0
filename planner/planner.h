/*
 * planner.h - desired state, plans, refresh and apply.
 *
 * The flow of every command that changes infrastructure:
 *   bar_desired_build  (spec objects -> one desired resource per address,
 *                       MCIs expanded into one VM per group member)
 *   bar_plan_make      (recorded state + live state from providers ->
 *                       create / update / replace / delete / no-op)
 *   bar_apply_run      (walk the dependency graph in parallel, writing each
 *                       result to state the moment it completes)
 * Addresses are "<namespace>/<type>/<name>", e.g. "default/vm/web-seoul-1".
 */
#ifndef BAR_PLANNER_H
#define BAR_PLANNER_H

#include "error.h"
#include "host.h"
#include "spec.h"
#include "state.h"
#include "util.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- desired state ---- */

typedef struct bar_desired {
	char *address;
	const char *type;  /* static: "vnet", "vm", ... */
	char *ns;
	char *name;
	char *connection;  /* provider resources: connection name; else NULL */
	json_t *attrs;     /* normalised desired attributes (owned) */
	char hash[17];     /* hex digest of the canonical attrs (core/json.h) */
	json_t *refs;      /* role -> address or [addresses] (owned) */
	json_t *deps;      /* sorted array of addresses it depends on (owned) */
	/* A VM is expanded lazily: until bar_desired_expand() its attrs, refs
	 * and deps are NULL and only the hash is known, so that planning a large
	 * unchanged fleet builds no JSON per VM. */
	const bar_object *mci;
	const json_t *group;  /* the MCI group (borrowed from the configuration) */
	const json_t *labels; /* the group's merged labels (owned by the set) */
	int index;
} bar_desired;

typedef struct bar_desired_set {
	bar_desired *items; /* sorted by address */
	size_t n;
	bar_map index;      /* address -> bar_desired* */
	json_t *owned;      /* objects the lazily expanded VMs share */
} bar_desired_set;

/* Build the desired resources of a validated configuration.  *out is the
 * caller's (bar_desired_set_clear). */
int bar_desired_build(bar_desired_set *out, const bar_config *cfg);
void bar_desired_set_clear(bar_desired_set *s);

/* Build a lazily expanded resource's attrs, refs and deps (no-op for the
 * others).  The set is logically const: expansion only fills in a cache. */
void bar_desired_expand(const bar_desired *d);

/* The desired `state` of a VM ("Running"/"Suspended") without expanding it;
 * NULL for other types. */
const char *bar_desired_vm_state(const bar_desired *d);
const bar_desired *bar_desired_find(const bar_desired_set *s, const char *address);

/* ---- type knowledge (planner/types.c) ---- */

/* True for types a provider manages (vnet, securitygroup, sshkey, image,
 * spec, vm); false for records kept only in state (namespace, connection,
 * mci, mcapp, monitoringpolicy). */
int bar_type_is_provider(const char *type);

/* True for statuses an operation passes through (Creating, Suspending,
 * Resuming, Rebooting, Terminating, Deleting). */
int bar_status_transitional(const char *status);

/* True for attributes only the host acts on (a VM's postCommands): never
 * sent to providers, never a reason to replace. */
int bar_attr_host_only(const char *attr);

/* Whether changing `attr` of a `type` resource needs a replacement: for
 * provider types, every attribute the provider `p` does not list as
 * changeable in place (all of them when p is NULL); for a Connection, its
 * driver, region and zone; never for other records. */
int bar_type_forces_replacement(const bar_provider *p, const char *type, const char *attr);

/* ---- plans ---- */

typedef enum bar_action {
	BAR_NOOP = 0,
	BAR_CREATE,
	BAR_UPDATE,
	BAR_REPLACE,
	BAR_DELETE,
} bar_action;

const char *bar_action_name(bar_action a); /* "create", "update", ... */

typedef struct bar_change {
	bar_action action;
	char *address;
	char *type;
	char *ns;
	char *name;
	char *connection;  /* provider resources */
	char *reason;      /* why, for updates/replacements/re-creates; may be NULL */
	char *vm_action;   /* an update done as a VM action ("suspend", "resume") */
	int gone;          /* recorded but no longer found on the provider */
	json_t *attrs;     /* desired attrs (not for delete) */
	char *hash;        /* desired hash (not for delete) */
	json_t *refs;      /* desired refs (not for delete) */
	json_t *deps;      /* desired deps; for delete: the recorded deps */
	json_t *diff;      /* [{"attr","old","new","forces"}] for update/replace */
	char *prior_system_id;
	json_t *prior_deps; /* what the recorded resource depends on (may be NULL) */
	int record_only;    /* -refresh-only: change only the record, never the
	                     * resource: an update records live_status/live_attrs,
	                     * a delete forgets a resource that is gone */
	char *live_status;
	char *live_attrs;   /* JSON object text */
	char *pending_op;   /* an earlier run's long-running operation on this
	                     * resource, to be polled to its end (update only) */
	char *prior_connection; /* where the recorded resource lives, when the
	                         * change moves it to another connection */
	char *adopt_id;     /* create: adopt this existing resource (read and
	                     * record it) instead of making one */
	int orphan;         /* delete: a resource no record tracks (by
	                     * prior_system_id); the state is not touched */
	int terminate;      /* delete at the provider, keep the record as
	                     * Terminated (barista mci terminate) */
} bar_change;

typedef struct bar_plan {
	char *lineage;
	int64_t serial;
	int destroy;        /* made by `barista destroy` */
	int refreshed;
	bar_change *changes; /* only actions other than no-op, sorted by address */
	size_t n;
	size_t n_noop;
	json_t *drift;       /* [{"address","attr","recorded","live"}] */
	json_t *connections; /* {"<ns>/connection/<name>": attrs} for creates */
	json_t *live_connections; /* the same for changes to existing resources:
	                           * recorded location, current credential */
	char *state_path;    /* the state file planned against, if known (saved
	                      * plans name it so apply finds it) */
	json_t *cost;        /* bar_plan_cost, or NULL */
} bar_plan;

/* What the planner diffs against (see bar_snapshot_read). */
typedef struct bar_snapshot bar_snapshot;

/*
 * Read every record of the state and, with `refresh`, what providers report
 * live: one list call per (connection, type) present in state, using each
 * connection's recorded location.  Needs no configuration, so callers run it
 * while they parse specs.  A list that fails here is retried, with the
 * configuration's credential reference, by bar_plan_make, and only then fails
 * the plan.  *out is the caller's (bar_snapshot_free).
 */
int bar_snapshot_read(bar_snapshot **out, bar_state *st, bar_registry *reg, int refresh,
                      const bar_cancel *cancel);
void bar_snapshot_free(bar_snapshot *s);

typedef struct bar_plan_opts {
	unsigned version;
	int destroy;                 /* plan deleting everything recorded */
	const char *const *targets;  /* limit to these addresses (+ deps) */
	size_t n_targets;
	const char *const *replace;  /* force replacement of these */
	size_t n_replace;
	int refresh_only;            /* plan only to record what is live: drifted
	                              * attributes and statuses, gone resources */
	const char *keys_dir;        /* the key store: with it a refresh also checks
	                              * every recorded barista-agent over SSH */
} bar_plan_opts;
#define BAR_PLAN_OPTS_INIT { .version = 1 }

/*
 * Diff the desired set (may be NULL with opts->destroy) against a snapshot.
 * The snapshot may be re-listed where its refresh was incomplete.  *out is
 * the caller's (bar_plan_free).
 */
int bar_plan_make(bar_plan **out, const bar_desired_set *desired, bar_snapshot *snap,
                  const bar_plan_opts *opts);
void bar_plan_free(bar_plan *p);

/*
 * What the plan adds to and removes from the hourly bill (planner/cost.c):
 * {"by_currency": {"USD": {"add_hourly", "remove_hourly", "net_hourly",
 * "net_monthly"}}, "priced": N, "unpriced": [addresses]}, from the drivers'
 * catalogues.  bar_plan_make sets plan->cost with it.  New reference.
 */
json_t *bar_plan_cost(const bar_plan *p, const bar_desired_set *ds, const bar_records *rs);
/* The cost lines under a rendered plan (nothing when nothing is priced). */
void bar_plan_cost_render(const json_t *cost, bar_buf *b);

/* Counts of what the plan will do. */
void bar_plan_counts(const bar_plan *p, size_t *add, size_t *change, size_t *destroy);

/* Serialise to / from the saved-plan JSON format (docs/plan-format.md).
 * The JSON never holds secrets: specs hold only credential references.
 * bar_plan_from_json checks a plan as strictly as a spec: unknown fields,
 * wrong JSON types, unknown actions and types, an address that is not
 * "<ns>/<type>/<name>" of the change's fields, a provider resource without
 * a connection, two changes of one address are errors naming the change
 * ("changes[3] (default/vm/x): ..."); bar_plan_read prefixes the file name.
 * Both return 0 and set *out (free with bar_plan_free), or -1. */
json_t *bar_plan_to_json(const bar_plan *p);
int bar_plan_from_json(bar_plan **out, const json_t *j);
int bar_plan_write(const bar_plan *p, const char *path);
int bar_plan_read(bar_plan **out, const char *path);

/* Human rendering of a plan (Terraform-like), appended to buf.  color: use
 * ANSI colours. */
void bar_plan_render(const bar_plan *p, int color, bar_buf *buf);

/* ---- apply ---- */

typedef enum bar_event_kind {
	BAR_EV_START,   /* an operation began */
	BAR_EV_DONE,    /* it completed */
	BAR_EV_FAIL,    /* it failed; message set */
	BAR_EV_SKIP,    /* not started: a dependency failed or Ctrl-C */
} bar_event_kind;

typedef struct bar_apply_event {
	bar_event_kind kind;
	const char *address;
	const char *op;        /* "create", "update", "delete", "suspend", ... */
	double elapsed_s;
	const char *system_id; /* DONE of create/update */
	const char *message;   /* FAIL/SKIP reason */
	const bar_error *error; /* FAIL: the whole error, with its fields */
} bar_apply_event;

typedef struct bar_apply_opts {
	unsigned version;
	int parallelism;        /* worker threads; default 10 */
	const char *keys_dir;   /* where provider secrets are stored */
	void (*on_event)(void *ud, const bar_apply_event *ev); /* from worker threads,
	                                                        * serialised */
	void *ud;
	const bar_cancel *cancel;   /* stop: start nothing new; cancel: give up
	                             * in-flight operations */
	int64_t op_timeout_ms;      /* per operation; default 30 min */
} bar_apply_opts;
#define BAR_APPLY_OPTS_INIT { .version = 1, .parallelism = 10 }

typedef struct bar_apply_summary {
	size_t added, changed, destroyed, failed, skipped;
	size_t retries; /* provider calls retried (throttled, transient, timed out) */
} bar_apply_summary;

/*
 * Apply a plan against the state (which the caller has locked).  Runs every
 * change whose dependencies succeeded; a failure skips only its dependents.
 * Returns 0 when everything succeeded, -1 otherwise (the summary says what).
 */
int bar_apply_run(const bar_plan *plan, bar_state *st, bar_registry *reg,
                  const bar_apply_opts *opts, bar_apply_summary *summary);

/* ---- the plan workflow (planner/workflow.c) ---- */

/*
 * Everything a plan needs, read in parallel: the specs in `dir` (skipped
 * when NULL) into *cfg and the desired set *ds, and in another thread the
 * state's snapshot (refreshed from providers with `refresh`).  Returns 0;
 * BAR_EINVALID when the specs are invalid (their problems in *diags, which
 * may be NULL); another code with the last error otherwise.  On success the
 * caller owns *cfg (bar_config_free), *ds and *snap.
 */
int bar_workflow_load(bar_config **cfg, bar_desired_set *ds, bar_snapshot **snap,
                      bar_diags *diags, const char *dir, bar_state *st, bar_registry *reg,
                      int refresh, const bar_cancel *cancel);

/* Check every agent record of the snapshot on its VM over SSH (keys from
 * keys_dir): live[] says checked and Running/Stopped with version and
 * config hash, or gone, so the plan re-installs what drifted.  An agent
 * whose VM does not answer is left unchecked.  Also what else a refresh
 * checks beyond the providers: MCApps' manifests on the VMs and MCApps'
 * objects on their Kubernetes clusters (drift).  A refresh's plan runs it
 * (bar_workflow_plan does).  0. */
int bar_agents_check(bar_snapshot *s, const char *keys_dir, bar_state *st);

/* The rollout status on its cluster of the MCApp of runtime "kubernetes"
 * recorded at address ("<ns>/k8sapp/<mcapp>"): a new object {app:
 * {"desired","updated","ready","available",...} or {"missing":true}}
 * (runtime/kubernetes bar_k8s_status).  0, BAR_ENOTFOUND, or an error. */
int bar_k8sapp_status(json_t **out, bar_state *st, const char *keys_dir, const char *address);

/* Load (as above) and make the plan `po` asks for (destroy: no specs are
 * read and nothing is refreshed).  *out is the caller's. */
int bar_workflow_plan(bar_plan **out, bar_diags *diags, const char *dir, bar_state *st,
                      bar_registry *reg, int refresh, const bar_plan_opts *po,
                      const bar_cancel *cancel);

/* A saved plan still matches the state (lineage and serial): 0, or
 * BAR_ESTALE saying what moved. */
int bar_plan_check_fresh(const bar_plan *plan, bar_state *st);

/* ---- orphans (planner/orphans.c) ---- */

/* A resource tagged for this configuration that no record tracks. */
typedef struct bar_orphan {
	char *address;    /* its barista:address tag */
	char *type;
	char *ns;
	char *connection; /* where it was listed */
	char *system_id;
	char *name;
	char *status;
	int in_config;    /* the configuration has that address */
} bar_orphan;

typedef struct bar_orphans {
	bar_orphan *items;
	size_t n;
} bar_orphans;

/*
 * List every connection of the configuration (ds, may be NULL) and of the
 * records, once per type its driver has, and collect the resources that
 * carry `lineage` or an address of the configuration in their tags but
 * whose system id no record holds.  *out is the caller's
 * (bar_orphans_clear).  Returns 0, or the first list's error.
 */
int bar_orphans_find(bar_orphans *out, const bar_desired_set *ds, const bar_records *rs,
                     const char *lineage, bar_registry *reg, const bar_cancel *cancel);
void bar_orphans_clear(bar_orphans *l);

/* A plan deleting the orphans at their provider (no record is touched). */
int bar_orphans_plan(bar_plan **out, const bar_orphans *o, const bar_desired_set *ds,
                     const bar_records *rs, const char *lineage, int64_t serial);

/* A plan adopting resource `system_id` for `address` of the configuration:
 * apply reads it and records it as if it had created it.  BAR_ENOTFOUND when
 * the configuration has no provider resource there, BAR_ECONFLICT when the
 * state records the address already. */
int bar_import_plan(bar_plan **out, const bar_desired_set *ds, const bar_records *rs,
                    const char *address, const char *system_id, const char *lineage,
                    int64_t serial);

/* ---- MCI lifecycle (planner/lifecycle.c) ---- */

typedef struct bar_lifecycle_opts {
	unsigned version;
	const char *mci;             /* "<ns>/mci/<name>" */
	const char *action;          /* suspend, resume, reboot, terminate */
	const char *group;           /* only this group; NULL: all */
	const char *const *vms;      /* only these VMs (names or addresses) */
	size_t n_vms;
} bar_lifecycle_opts;
#define BAR_LIFECYCLE_OPTS_INIT { .version = 1 }

/*
 * A plan doing `action` on the selected VMs of an MCI, from a snapshot whose
 * live statuses were applied (bar_snapshot_use_live).  VMs already where the
 * action leads are left out; when any selected VM is in a status the action
 * cannot start from, nothing is planned and the error names them
 * (BAR_ECONFLICT).  BAR_ENOTFOUND for an unknown MCI or an empty selection.
 * *out is the caller's (bar_plan_free).
 */
int bar_lifecycle_plan(bar_plan **out, bar_snapshot *snap, const bar_lifecycle_opts *lo);

/*
 * Make the snapshot's records carry what the providers report: each
 * refreshed record's status and observed attributes become the live ones;
 * a VM no longer found is Terminated, a tainted one stays Failed.  For
 * status views.
 */
void bar_snapshot_use_live(bar_snapshot *s);

/* The snapshot's records (borrowed). */
const bar_records *bar_snapshot_records(const bar_snapshot *s);

/* ---- MCI status ---- */

/* Aggregate VM statuses into an MCI status like "Running:5 (R:5/5)" or
 * "Partial-Running:3 (R:3/5)"; writes into buf. */
void bar_mci_status(const char *const *statuses, size_t n, char *buf, size_t size);

/*
 * Every MCI recorded in `rs` with its aggregated status and its VMs, as a new
 * JSON array: [{"namespace","name","address","status","counts" (VMs per status),"vms":[{"name",
 * "address","group","connection","region","ip","status","system_id",
 * "postCommands" (when they ran: {"exit_code","output","at"})}]}],
 * MCIs in address order, each one's VMs in natural name order (web-a-2
 * before web-a-10, bar_strnatcmp).  One pass over the records.  Returns 0.
 */
int bar_mci_view(json_t **out, const bar_records *rs);

/* ---- benchmarks and recommendation (planner/benchmark.c, recommend.c) ---- */

/* Benchmark results recorded beside a state (`<state>.bench.json`). */
typedef struct bar_bench bar_bench;
char *bar_bench_path(const char *state_path);
/* Load them (an empty set when the file does not exist yet); *out is the
 * caller's (bar_bench_free). */
int bar_bench_load(bar_bench **out, const char *path);
void bar_bench_free(bar_bench *b);
/* The whole document: {"kinds": {"driver/region/spec": {cpu_mbps, mem_mbps,
 * disk_mbps, measured_at}}, "regions": {"d/r|d/r": latency ms}, "runs": [...]}. */
const json_t *bar_bench_json(const bar_bench *b);
/* The measured CPU figure (MB/s of sha256) of a kind, or -1 when never
 * measured. */
double bar_bench_cpu(const bar_bench *b, const char *driver, const char *region,
                     const char *spec);

typedef struct bar_bench_opts {
	unsigned version;
	const bar_cancel *cancel;
	int parallel;    /* VMs at once; 0: the exec default */
	int timeout_ms;  /* per VM; 0: 5 minutes */
} bar_bench_opts;
#define BAR_BENCH_OPTS_INIT { .version = 1 }

/*
 * Measure CPU, memory, disk and the latency between every pair of VMs of
 * `mci` on the VMs themselves (over SSH, core/remote.h).  *out: {"mci",
 * "measured_at", "vms": {name: {address, kind, region, outcome, figures,
 * error?}}, "latency_ms": {"a|b": ms}}.  Returns 0 however the VMs fared
 * (see each outcome), or the error of selecting the MCI's VMs.
 */
int bar_mci_benchmark(json_t **out, const bar_records *rs, const char *keys_dir,
                      const char *mci, const bar_bench_opts *o);
/* Add a run to the results at `path` (written atomically); the newest
 * figures of a kind replace older ones. */
int bar_bench_record(const char *path, const json_t *run);

/* Great-circle distance in km (haversine, mean Earth radius 6,371 km). */
double bar_geo_distance_km(double lat1, double lon1, double lat2, double lon2);

typedef struct bar_recommend_opts {
	unsigned version;
	json_int_t min_vcpu, max_vcpu, min_memory_mib; /* 0: any */
	const char *arch;        /* "x86_64", "arm64"; NULL: any */
	int gpu;                 /* only types with a GPU */
	double max_price;        /* hourly; 0: any */
	const char *const *drivers; /* only these; none: every catalogue */
	size_t n_drivers;
	const char *const *regions; /* only these region names; none: all */
	size_t n_regions;
	int has_near;            /* score by the distance to near_lat/near_lon */
	double near_lat, near_lon;
	double w_cost, w_location, w_performance; /* weights (normalised) */
	const bar_bench *bench;  /* measured performance, or NULL */
	size_t limit;            /* how many to return; 0: 10 */
} bar_recommend_opts;
#define BAR_RECOMMEND_OPTS_INIT { .version = 1, .w_cost = 0.5, .w_location = 0.3, \
	                          .w_performance = 0.2 }

/*
 * Rank the instance types of the drivers' catalogues that fit o: *out is
 * {"candidates": N, "ranked": [{rank, driver, region, spec, vcpu,
 * memoryMiB, hourly, currency, distance_km, cpu_mbps, score, scores: {cost,
 * location, performance}, line: "driver+region+spec"}]}.  Returns 0, or the
 * error of a named driver without a catalogue.
 */
int bar_recommend(json_t **out, const bar_recommend_opts *o);

/*
 * The replicas of MCApp mcapp (only app `app`, when not NULL or empty) in
 * the text of a VM's agent status (<agent dir>/state/apps.json, which
 * `barista app status` reads over SSH): a new array of {app, replica,
 * state, healthy, restarts, pid, exitCode, message, sinceMs}, or NULL when
 * the text is not such a status.
 */
json_t *bar_app_status_parse(const char *text, size_t len, const char *mcapp, const char *app);

#endif
