/*
 * remote.h - commands and files on the VMs of an MCI: which VMs a request
 * targets (from the state records), and running a command on each of them,
 * or copying files to or from each, in parallel over SSH with the host keys
 * pinned in state and the private keys from the key store.
 *
 * bar_remote_run walks the targets with a bounded worker pool; each worker
 * takes a session (a new one, or one kept by a bar_ssh_pool), runs the job
 * and reports through callbacks: output lines (or raw chunks), transfer
 * progress, and one result per VM.  Callbacks are called one at a time,
 * from the worker threads.  A cancellation flag stops everything within
 * about 100 ms: commands still running are sent SIGTERM by the server.
 *
 * The session broker (core/sshmux.h) runs the same walk in its own process
 * with its pool, and streams the same events back to the CLI.
 */
#ifndef BAR_REMOTE_H
#define BAR_REMOTE_H

#include "ssh_pool.h"
#include "state.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

/* One VM to reach.  All strings are owned by the target. */
typedef struct bar_remote_target {
	char *name;      /* VM name, "web-seoul-1" */
	char *address;   /* state address, "default/vm/web-seoul-1" */
	char *group;
	char *status;    /* recorded status, "Running" */
	char *host;      /* IP address */
	int port;
	char *user;
	char *system_id;
	char *host_key;  /* pinned OpenSSH public key line */
	char *key_path;  /* private key in the key store */
	struct bar_remote_target *via; /* the bastion VM its group is reached
	                  * through (group field bastion), or NULL */
	char *via_error; /* why a bastion was wanted but none is usable */
} bar_remote_target;

typedef struct bar_remote_targets {
	char *mci;       /* the MCI's address, "default/mci/web" */
	bar_remote_target *items; /* in address order */
	size_t n;
} bar_remote_targets;

/* Which VMs: an MCI (by "name", "ns/name" or "ns/mci/name"), then only
 * those in `group`, named in `vms`, and carrying every "key=value" of
 * `labels` (a VM's labels are its MCI's merged with its group's). */
typedef struct bar_remote_select {
	unsigned version; /* BAR_REMOTE_SELECT_VERSION */
	const char *mci;
	const char *group;
	const char *const *vms;
	size_t n_vms;
	const char *const *labels;
	size_t n_labels;
} bar_remote_select;

#define BAR_REMOTE_SELECT_VERSION 1
#define BAR_REMOTE_SELECT_INIT { BAR_REMOTE_SELECT_VERSION, NULL, NULL, NULL, 0, NULL, 0 }

/*
 * The targets `sel` picks from the records.  keys_dir is the key store
 * beside the state.  BAR_ENOTFOUND when the MCI, a group or a VM does not
 * exist or nothing matches (the message lists what exists); BAR_EINVALID
 * for a malformed label.  A VM recorded without an address or host key is
 * still a target (its run fails and says why).  A VM of a group with a
 * bastion gets `via`: the first Running VM (in address order) of the
 * bastion group of the same MCI, or via_error when there is none.  *out is
 * the caller's (bar_remote_targets_clear).
 */
int bar_remote_targets_select(bar_remote_targets *out, const bar_records *rs,
                              const char *keys_dir, const bar_remote_select *sel);
void bar_remote_targets_clear(bar_remote_targets *t);
/* Free what one target holds (its bastion too) and zero it. */
void bar_remote_target_clear(bar_remote_target *x);

typedef enum bar_remote_kind {
	BAR_REMOTE_EXEC = 0, /* run `command` */
	BAR_REMOTE_PUT,      /* copy `local` to `remote` */
	BAR_REMOTE_GET,      /* copy `remote` into `local`/<vm name>/ */
} bar_remote_kind;

typedef struct bar_remote_job {
	unsigned version;        /* BAR_REMOTE_JOB_VERSION */
	bar_remote_kind kind;
	const char *command;     /* EXEC: run through the remote shell */
	const char *local;       /* PUT: file (or directory, recursive);
	                          * GET: directory that receives <vm>/<name> */
	const char *remote;      /* PUT: destination (an existing directory
	                          * receives <name>); GET: file or directory */
	int recursive;           /* directories too */
	int timeout_ms;          /* per VM, from connecting to done; 0: none */
	int connect_timeout_ms;  /* 0: 5 s */
} bar_remote_job;

#define BAR_REMOTE_JOB_VERSION 1
#define BAR_REMOTE_JOB_INIT { BAR_REMOTE_JOB_VERSION, BAR_REMOTE_EXEC, NULL, NULL, NULL, 0, 0, 0 }

typedef enum bar_remote_outcome {
	BAR_REMOTE_OK = 0,      /* done; for EXEC: exit status 0 */
	BAR_REMOTE_EXIT,        /* EXEC: the command exited non-zero */
	BAR_REMOTE_UNREACHABLE, /* no session: connect, host key, auth */
	BAR_REMOTE_TIMEOUT,
	BAR_REMOTE_CANCELED,
	BAR_REMOTE_ERROR,       /* anything else (the error says what) */
} bar_remote_outcome;

/* "ok", "exit", "unreachable", "timeout", "canceled", "error". */
const char *bar_remote_outcome_name(bar_remote_outcome o);

typedef struct bar_remote_result {
	bar_remote_outcome outcome;
	int exit_code;      /* EXEC that ran to its exit; else -1 */
	char *error;        /* why, unless OK or EXIT; else NULL */
	double duration_s;
	uint64_t bytes;     /* PUT/GET: bytes copied */
	int reused;         /* the session was kept from an earlier run */
	char *out, *err;    /* captured output (NUL-terminated), when asked */
	size_t out_len, err_len;
	int out_truncated, err_truncated; /* more was written than captured */
} bar_remote_result;

typedef struct bar_remote_results {
	bar_remote_result *items; /* one per target, in target order */
	size_t n;
} bar_remote_results;

void bar_remote_results_clear(bar_remote_results *r);

/* A complete output line of one VM (without its newline; a last line
 * without one is passed at the end).  stream 1 stdout, 2 stderr. */
typedef void (*bar_remote_line_fn)(void *ud, size_t target, int stream, const char *line,
                                   size_t len);
/* Raw output as it arrives (for forwarding it elsewhere). */
typedef void (*bar_remote_chunk_fn)(void *ud, size_t target, int stream, const char *data,
                                    size_t len);
typedef void (*bar_remote_progress_fn)(void *ud, size_t target, uint64_t done,
                                       uint64_t total);
typedef void (*bar_remote_done_fn)(void *ud, size_t target, const bar_remote_result *r);

typedef struct bar_remote_opts {
	unsigned version;            /* BAR_REMOTE_OPTS_VERSION */
	int parallel;                /* VMs at once; 0: BAR_REMOTE_PARALLEL */
	const bar_cancel *cancel;  /* may be NULL */
	size_t capture;              /* keep up to this much of stdout and of
	                              * stderr per VM in the results; 0: none */
	bar_remote_line_fn on_line;  /* each may be NULL */
	bar_remote_chunk_fn on_chunk; /* when set, output goes here instead
	                               * of on_line and capture */
	bar_remote_progress_fn on_progress;
	bar_remote_done_fn on_done;
	void *ud;
	bar_ssh_pool *pool;          /* take and keep sessions here; NULL: a
	                              * new session per VM, closed after */
} bar_remote_opts;

#define BAR_REMOTE_PARALLEL 100
#define BAR_REMOTE_OPTS_VERSION 1
#define BAR_REMOTE_OPTS_INIT { BAR_REMOTE_OPTS_VERSION, 0, NULL, 0, NULL, NULL, NULL, NULL, \
	                       NULL, NULL }

/*
 * Run the job on every target, at most o->parallel at once, and wait for
 * all.  Fills *out (the caller clears it) with one result per target and
 * returns 0 however the VMs fared (see each result; a cancellation marks
 * the unfinished ones CANCELED); BAR_EINVALID for an unusable job.
 */
int bar_remote_run(bar_remote_results *out, const bar_remote_targets *t,
                   const bar_remote_job *job, const bar_remote_opts *o);

/*
 * The summary line of a run: "3 succeeded, 1 failed: web-tokyo-1 (exit 2)",
 * naming at most 10 failed VMs ("... and 5 more").  Appended to b.
 * Returns the number of VMs that did not succeed.
 */
size_t bar_remote_summary(bar_buf *b, const bar_remote_targets *t,
                          const bar_remote_results *r);

/* Parse a duration: "30s", "2m", "1h", "500ms", or plain seconds ("45").
 * Returns 0 with *ms set, or BAR_EINVALID (message names the text). */
int bar_duration_parse(int *ms, const char *text);

#endif
