/*
 * sshmux.h - the SSH session broker: a process that keeps authenticated
 * SSH sessions for one user and one state file, so that a command repeated
 * within its idle time does not pay for new sessions (OpenSSH's
 * ControlPersist, Ansible's mitogen).  docs/remote.md has the design and
 * its security properties.
 *
 * The CLI finds the broker's unix socket at bar_sshmux_path (an owner-only
 * directory), starts one with bar_sshmux_spawn when there is none, and
 * hands it the whole remote job with bar_sshmux_run: the broker runs it
 * with bar_remote_run on its bar_ssh_pool and streams output, progress and
 * results back, which bar_sshmux_run turns into the same callbacks and
 * results as a direct bar_remote_run.  Requests and events are JSON lines
 * of bounded length.  Both ends check the other's uid with SO_PEERCRED.
 *
 * bar_sshmux_serve is the broker itself: library code, so that a
 * long-running controller can embed it in a thread instead of a process.
 */
#ifndef BAR_SSHMUX_H
#define BAR_SSHMUX_H

#include "remote.h"

#include <jansson.h>

#define BAR_SSHMUX_IDLE_MS 60000 /* default idle time */

/*
 * The idle time sessions persist for, from BARISTA_SSH_PERSIST's value
 * `env` (may be NULL): unset or empty 60 s; "0", "no", "off" disable
 * (*ms = 0); otherwise a duration ("30s", "5m").  BAR_EINVALID for
 * anything else.
 */
int bar_sshmux_persist_ms(int *ms, const char *env);

/*
 * The broker's socket path for this user and state file, making its
 * directory ($XDG_RUNTIME_DIR/barista-ssh, else /tmp/barista-ssh-<uid>)
 * with mode 0700 when missing.  Refuses (-1) a directory that is a
 * symlink, not the user's own, or open to group or others.  The name is a
 * hash of the state file's real path.  *out is the caller's.
 */
int bar_sshmux_path(char **out, const char *state_path);

/*
 * Connect to the broker at path, checking that it runs as this user.
 * BAR_ENOTFOUND when no broker listens there.  *fd is the caller's.
 */
int bar_sshmux_connect(int *fd, const char *path);

/*
 * Start a broker for state_path listening on path, in a new process
 * detached from the caller (its own session, stdio on /dev/null, cwd /),
 * closing sessions idle for idle_ms and exiting once idle itself for as
 * long, or when the state file is gone.  With argv, the new process
 * executes that program (which must call bar_sshmux_broker_main with
 * ready_fd 3, as `barista ssh-broker` does), so that it shows as what it
 * is; without, it runs the broker in the forked process.  Returns once the
 * broker listens (0), or -1.  If another broker got there first, that one
 * is used and 0 returned too.  Call before starting threads: it forks.
 */
int bar_sshmux_spawn(const char *path, const char *state_path, int idle_ms,
                     const char *const *argv);

/*
 * The broker process's main: signals set up for a daemon (SIGTERM stops it
 * cleanly; SIGINT, SIGHUP, SIGPIPE ignored), then bar_sshmux_serve.
 * ready_fd gets one byte once it listens.  Returns what serve returns.
 */
int bar_sshmux_broker_main(const char *path, const char *state_path, int idle_ms,
                           int ready_fd);

/*
 * Run a job through the broker on fd, as bar_remote_run would (o->pool is
 * ignored: the broker's is used).  Returns 0 with *out filled; BAR_ERETRY
 * when the broker could not take the request (nothing was started: run it
 * directly instead); -1 when the broker went away during the run (the VMs
 * it had not reported are marked ERROR).  fd is left open.
 */
int bar_sshmux_run(bar_remote_results *out, int fd, const bar_remote_targets *t,
                   const bar_remote_job *job, const bar_remote_opts *o);

/* The broker's counters: {"pid", "sessions_idle", "connects", "reuses",
 * "dropped", "requests"}.  *out is the caller's (json_decref). */
int bar_sshmux_status(json_t **out, const char *path);

/* Ask the broker at path to exit (it closes its sessions first). */
int bar_sshmux_stop(const char *path);

typedef struct bar_sshmux_serve_opts {
	unsigned version;           /* BAR_SSHMUX_SERVE_OPTS_VERSION */
	const char *path;           /* socket to listen on */
	const char *state_path;     /* exit when this file is gone; may be NULL */
	int idle_ms;                /* session and broker idle time */
	int ready_fd;               /* written one byte once listening; -1 */
	const bar_cancel *stop;   /* exit once cancelled; may be NULL */
} bar_sshmux_serve_opts;

#define BAR_SSHMUX_SERVE_OPTS_VERSION 1
#define BAR_SSHMUX_SERVE_OPTS_INIT { BAR_SSHMUX_SERVE_OPTS_VERSION, NULL, NULL, \
	                             BAR_SSHMUX_IDLE_MS, -1, NULL }

/*
 * Be the broker: listen on o->path (taking it over only from a broker that
 * is gone), serve requests until idle, stopped, or the state file is gone,
 * then close every session and remove the socket.  BAR_ELOCKED when a live
 * broker holds the path already.
 */
int bar_sshmux_serve(const bar_sshmux_serve_opts *o);

#endif
