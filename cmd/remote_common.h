/*
 * remote_common.h - what `barista exec` and `barista cp` share: loading the
 * targets from the state, Ctrl-C, going through the session broker when
 * one can be had (else directly), printing per-VM failures and the
 * summary.  The work itself is library code (core/remote.h, core/sshmux.h).
 */
#ifndef BAR_CMD_REMOTE_COMMON_H
#define BAR_CMD_REMOTE_COMMON_H

#include "cmd.h"
#include "remote.h"

typedef struct cmd_remote {
	cmd_opts o;
	char *state_path;
	bar_remote_targets targets;
	bar_remote_job job;
	int json, color;
} cmd_remote;

/* Read the state and pick the MCI's targets from -group/-vm/-label;
 * parse -timeout into r->job.  Prints what went wrong; returns 0 or -1. */
int cmd_remote_load(cmd_remote *r, const char *mci);

/* Run r->job with the callbacks of ro (parallel, cancel filled in here),
 * through the broker unless BARISTA_SSH_PERSIST=0.  Returns 0 or -1
 * (printed). */
int cmd_remote_run(cmd_remote *r, bar_remote_opts *ro, bar_remote_results *res);

/* Whether Ctrl-C (or SIGTERM) was pressed during the run. */
int cmd_remote_interrupted(void);

/* Print j as one line on stdout and flush; takes the reference. */
void cmd_remote_print_json(json_t *j);

/* Print why target i failed (unless it merely exited non-zero). */
void cmd_remote_print_failure(const cmd_remote *r, size_t i, const bar_remote_result *res);

/* Print the summary on stderr; return the exit code (0 all ok, 1 some
 * failed, 130 interrupted). */
int cmd_remote_finish(const cmd_remote *r, const bar_remote_results *res);

void cmd_remote_free(cmd_remote *r);

#endif
