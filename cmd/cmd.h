/*
 * cmd.h - what the subcommands of the `barista` program share: option
 * parsing, loading a configuration with printed diagnostics, opening state,
 * terminal detection, tables sized to their content and the plan/apply flow
 * that apply and destroy both use.
 * Everything here prints; the library under it does not.
 */
#ifndef BAR_CMD_H
#define BAR_CMD_H

#include "planner.h"

#include <stdio.h>

#define MAX_LIST_OPTS 64

/* Options every command understands, plus the positional argument. */
typedef struct cmd_opts {
	const char *state_path;   /* -state */
	const char *plugin_path;  /* -plugin-path */
	const char *plan_out;     /* plan -out */
	const char *positional;   /* DIR or PLANFILE */
	const char *targets[MAX_LIST_OPTS];
	size_t n_targets;
	const char *replace[MAX_LIST_OPTS];
	size_t n_replace;
	int json, no_color, auto_approve, detailed_exitcode, refresh, parallelism;
	int refresh_only;
	int delete_orphans; /* orphans -delete */
	int watch;          /* mci status -watch */
	int lock_timeout_ms; /* -lock-timeout: how long to wait for the state lock */
	int force;           /* state unlock -force */
	/* exec and cp (cmd/remote.c) */
	const char *group;        /* -group */
	const char *vms[MAX_LIST_OPTS];    /* -vm */
	size_t n_vms;
	const char *labels[MAX_LIST_OPTS]; /* -label k=v */
	size_t n_labels;
	const char *timeout;      /* -timeout DURATION */
	int jobs;                 /* -j N (0: the default) */
	int recursive;            /* -r */
	/* calls (cmd/calls.c) */
	const char *since;        /* -since DURATION */
	const char *connection;   /* -connection NAME */
	int errors_only;          /* -errors */
	int summary;              /* -summary */
	int limit;                /* -limit N; -1 when not given */
	const char *more[MAX_LIST_OPTS]; /* positionals after the first, when
	                                  * `allowed` has "ARGS" */
	size_t n_more;
} cmd_opts;

/* Parse argv (after the subcommand).  `allowed` is a space-separated list of
 * flag names this command accepts (the word ARGS: more than one positional
 * argument).  Prints usage errors; returns 0 or -1. */
int cmd_parse(cmd_opts *o, int argc, char **argv, const char *allowed, const char *usage);

/* The configuration directory: the positional argument or ".". */
const char *cmd_config_dir(const cmd_opts *o);

/* Default state path: -state, else <DIR>/barista.db. Caller frees. */
char *cmd_state_path(const cmd_opts *o, const char *dir);
/* The key store beside the state file. Caller frees. */
char *cmd_keys_dir(const char *state_path);

/* Print spec diagnostics (file:line:col lines, or JSON) and their count. */
void cmd_print_diags(const bar_diags *diags, const char *dir, int json);

/* Load and validate; prints every diagnostic (or JSON) on failure. */
int cmd_load_config(bar_config **out, const char *dir, int json);

/*
 * Everything a plan needs, read in parallel: one thread loads the specs in
 * `dir` (skipped when dir is NULL) and builds the desired set, another reads
 * the state and refreshes from providers.  Returns 0; -2 when the specs are
 * invalid (diagnostics printed); -1 otherwise (last error set).  On success
 * the caller owns *cfg, *ds and *snap.
 */
int cmd_load_all(bar_config **cfg, bar_desired_set *ds, bar_snapshot **snap,
                 const char *dir, int json, bar_state *st, bar_registry *reg,
                 int refresh, const bar_cancel *cancel);

/* Colour on stdout?  Honours NO_COLOR and -no-color. */
int cmd_color(const cmd_opts *o);

/* Print "Error: <last error>" to stderr (as JSON with -json) and return 1. */
int cmd_fail(const cmd_opts *o);

/* The shared flow of apply and destroy: plan (unless `saved` is given),
 * show it, confirm, apply with progress, print the summary.  Returns the
 * process exit code. */
int cmd_plan_and_apply(const cmd_opts *o, int destroy, const char *saved_plan);

/* Record providers' cloud calls in the call log beside `state_path` for the
 * rest of the process (a warning, not a failure, when it cannot be opened). */
void cmd_calllog_start(const char *state_path);

/* What a command that works on the specs and the state of DIR holds. */
typedef struct cmd_ctx {
	bar_config *cfg;
	bar_desired_set ds;
	bar_registry *reg;
	bar_state *st;
	bar_records rs;
	int64_t serial;
	int fresh;        /* no state file yet (read-only opens only) */
	char *state_path;
	char *keys;       /* the key store beside the state */
} cmd_ctx;

/*
 * Load the specs of the command's DIR (printing their diagnostics when
 * invalid: then -2), open the state (locked for `lock_op`, else read-only;
 * a missing file reads as empty) and read its records and serial.  Returns
 * 0, -2, or -1 with the last error set.  Close with cmd_ctx_close, also on
 * failure.
 */
int cmd_ctx_open(cmd_ctx *c, const cmd_opts *o, const char *lock_op);
void cmd_ctx_close(cmd_ctx *c);

/* Show a ready plan, confirm unless `confirmed`, apply it with progress and
 * print the summary (the caller holds the state's lock).  Returns the exit
 * code. */
int cmd_run_plan(const cmd_opts *o, const bar_plan *plan, bar_state *st, bar_registry *reg,
                 const char *keys, int destroy, int confirmed);

/* Take the state's lock for `operation`, waiting up to -lock-timeout for
 * its holder (the message names the holder when it does not go). */
int cmd_lock_state(const cmd_opts *o, bar_state *st, const char *operation);

/* Open the state for reading; a missing file gives an empty in-memory state
 * and *fresh = 1 (plans made against it carry an empty lineage). */
int cmd_open_state_ro(bar_state **out, const char *path, int *fresh);

/* A text table whose columns are as wide as their widest cell, so long
 * names never break the alignment.  Cells are borrowed and must outlive
 * cmd_table_print; NULL prints as "". */
typedef struct cmd_table {
	size_t cols;
	const char **cells; /* row after row */
	size_t n, cap;      /* cells */
} cmd_table;
#define CMD_TABLE_INIT(ncols) { (ncols), NULL, 0, 0 }

/* Append a row of t->cols cells. */
void cmd_table_add(cmd_table *t, const char *const *row);
/* Print every row to stdout after `indent`, columns two spaces apart (the
 * last one unpadded); widths count UTF-8 characters, not bytes. */
void cmd_table_print(const cmd_table *t, const char *indent);
void cmd_table_free(cmd_table *t);

/* Print one MCI of bar_mci_view: its status line and a table of its VMs. */
void cmd_print_mci(const json_t *mci);

/*
 * Whether to free large structures just before the process exits.  Only
 * sanitizer builds do, so LeakSanitizer can check that everything is owned;
 * otherwise exit returns the memory at once, and freeing the JSON of 100k
 * VMs one object at a time would cost a sixth of a plan (git's UNLEAK idea).
 */
#if defined(__SANITIZE_ADDRESS__)
#define CMD_FREE_AT_EXIT 1
#else
#define CMD_FREE_AT_EXIT 0
#endif

int cmd_validate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_orphans(int argc, char **argv);
int cmd_mci(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_ssh_broker(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_collector(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_app(int argc, char **argv);
int cmd_metrics_now(int argc, char **argv);
int cmd_alarms(int argc, char **argv);
int cmd_calls(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_catalog(int argc, char **argv);
/* `barista mci benchmark` (cmd/mci_benchmark.c): the exit code. */
int cmd_mci_benchmark(const cmd_opts *o, const char *addr, const char *state_path);
int cmd_connection(int argc, char **argv);

#endif
