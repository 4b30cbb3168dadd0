/*
 * ssh.h - Barista's SSH client: log into a machine with a key, check the
 * server against a pinned host key, run one command at a time and collect its
 * exit status, stdout and stderr.
 *
 * It sits on libssh2 with a non-blocking socket and poll(), so every step
 * (TCP connect, handshake, authentication, each command) is bounded by the
 * timeouts in bar_ssh_opts, and every wait notices a cancellation flag
 * within 100 ms.  There is no trust-on-first-use: a connection
 * without a pinned host key is refused, because the providers that create a
 * VM report its host key and Barista records it in state.  Integration tests
 * use this to log into VMs; `barista exec` and `cp` (core/remote.h) run
 * commands with streamed output and copy files over SFTP with it.
 *
 * Separate sessions may be used from separate threads at the same time; one
 * session must not be used by two threads at once.
 */
#ifndef BAR_SSH_H
#define BAR_SSH_H

#include "util.h" /* bar_cancel */

#include <stddef.h>
#include <stdint.h>

typedef struct bar_ssh bar_ssh;

typedef struct bar_ssh_opts {
	unsigned version;             /* BAR_SSH_OPTS_VERSION */
	const char *host;             /* name or address */
	int port;
	const char *user;
	const char *private_key_path; /* OpenSSH-format private key (ed25519,
	                               * rsa, ecdsa), without passphrase */
	const char *host_key;         /* pinned server key, an OpenSSH public
	                               * key line "ssh-ed25519 AAAA... [comment]";
	                               * NULL: refuse to connect */
	int connect_timeout_ms;       /* TCP connect + handshake + auth */
	int timeout_ms;               /* each bar_ssh_exec, start to exit */
	size_t max_output;            /* cap on stdout and on stderr, each
	                               * (bar_ssh_exec) */
	const bar_cancel *cancel;   /* when it becomes non-zero, waits end
	                               * with BAR_ECANCELED; may be NULL */
	const struct bar_ssh_opts *via; /* a bastion: when set, host:port is
	                               * reached through a direct-tcpip channel
	                               * of a session to it (its own host key
	                               * pinned, its own key); one hop only */
	const char *name;             /* the machine's name in messages about a
	                               * bastion ("bastion <name>: ..."); may be
	                               * NULL */
} bar_ssh_opts;

#define BAR_SSH_OPTS_VERSION 1
#define BAR_SSH_OPTS_INIT { BAR_SSH_OPTS_VERSION, NULL, 22, "root", NULL, NULL, \
	                    5000, 30000, (size_t)1 << 20, NULL, NULL, NULL }

/* The SSH module's own return code: a step did not finish within its
 * timeout (the message says which).  The session is unusable afterwards. */
#define BAR_SSH_ETIMEOUT (-32)

/* What one command produced.  out and err are NUL-terminated (also when
 * empty) and owned by the result; free them with bar_ssh_result_clear. */
typedef struct bar_ssh_result {
	int exit_status; /* the command's exit status; 128+N if it was
	                  * killed by signal N (as a shell reports it) */
	char *out;
	size_t out_len;
	char *err;
	size_t err_len;
} bar_ssh_result;

/*
 * Connect to opts->host:opts->port, verify the server's host key against
 * opts->host_key and authenticate as opts->user with the private key file.
 * All of it must finish within opts->connect_timeout_ms.
 *
 * On success *out is a new session the caller frees with bar_ssh_free.
 * Returns BAR_EINVALID for unusable options (no host, no pinned key, a pinned
 * key line that does not parse), BAR_EAUTH when the host key does not match
 * the pinned one (the message names host:port and both SHA256 fingerprints)
 * or the server rejects the user key, and -1 for anything else (refused,
 * unreachable, timed out, protocol error); the message names host:port and
 * the step that failed.  *out is untouched on failure.
 *
 * With opts->via the TCP connection is replaced by a channel through a
 * session to the bastion (core/ssh_tunnel.c): the bastion only forwards
 * bytes; this end still checks the target's pinned key and authenticates
 * with its own key over the tunnel.  A failure to reach or log into the
 * bastion returns what bar_ssh_connect(via) would, with the message
 * prefixed "bastion <via->name>".  The bastion session lives as long as
 * this one and is closed by bar_ssh_free.
 */
int bar_ssh_connect(bar_ssh **out, const bar_ssh_opts *opts);

/*
 * Run `command` through the server's shell and wait for it to exit, within
 * the session's timeout_ms.  On success fills *out (which the caller clears
 * with bar_ssh_result_clear) and returns 0; a nonzero exit status is still
 * success.  Returns -1 when the command could not be started, timed out, or
 * wrote more than max_output bytes to stdout or to stderr; *out is untouched
 * then.  After a timeout or a transport error the session is unusable and
 * every later call fails: free it and connect again.
 */
int bar_ssh_exec(bar_ssh *s, const char *command, bar_ssh_result *out);

/* Output of a streamed command: stream 1 is stdout, 2 is stderr; data is
 * not NUL-terminated and at most 16 KiB.  Return 0, or <0 (with the error
 * set) to stop the command. */
typedef int (*bar_ssh_output_fn)(void *ud, int stream, const char *data, size_t n);

typedef struct bar_ssh_exec_opts {
	unsigned version;           /* BAR_SSH_EXEC_OPTS_VERSION */
	bar_ssh_output_fn on_output;
	void *ud;
	const bar_cancel *cancel; /* overrides the session's for this call */
	int timeout_ms;             /* start to exit; 0: the session's */
} bar_ssh_exec_opts;

#define BAR_SSH_EXEC_OPTS_VERSION 1
#define BAR_SSH_EXEC_OPTS_INIT { BAR_SSH_EXEC_OPTS_VERSION, NULL, NULL, NULL, 0 }

/*
 * Run `command` through the server's shell, handing its output to
 * o->on_output as it arrives (nothing is buffered here), and wait for it to
 * exit.  The shell runs "echo $$; <command>" and the pid line is taken off
 * stdout again: it is what lets a timed-out or cancelled command be sent
 * SIGTERM (its process group, through a second channel) before its channel
 * is closed.  bar_ssh_exec runs commands this way too.  Returns 0 with *exit_status set (as in bar_ssh_result); a nonzero
 * exit status is still success.  On failure *exit_status is untouched and:
 *   BAR_ERETRY        the command was not started (channel refused, or the
 *                     transport was gone, e.g. on a session idle too long);
 *                     the session is unusable, a new one may succeed;
 *   BAR_ECANCELED     the cancel flag was set; the command was sent SIGTERM
 *                     and the channel closed; the session stays usable
 *                     unless tidying up failed;
 *   BAR_SSH_ETIMEOUT  the timeout passed; the command is sent SIGTERM and
 *                     the session is unusable afterwards;
 *   -1                a transport error, or on_output refused (the command
 *                     is sent SIGTERM; the session stays usable then).
 * Check bar_ssh_usable before using the session again.
 */
int bar_ssh_exec_stream(bar_ssh *s, const char *command, const bar_ssh_exec_opts *o,
                        int *exit_status);

/* Whether the session can still run commands (not NULL, no transport
 * error or timeout seen). */
int bar_ssh_usable(const bar_ssh *s);

/* "host:port" the session is connected to (borrowed). */
const char *bar_ssh_where(const bar_ssh *s);

/* ---- files (SFTP, core/ssh_sftp.c) ---- */

/* Bytes done so far of `total` (0 when unknown). */
typedef void (*bar_ssh_progress_fn)(void *ud, uint64_t done, uint64_t total);

typedef struct bar_ssh_xfer_opts {
	unsigned version;           /* BAR_SSH_XFER_OPTS_VERSION */
	bar_ssh_progress_fn on_progress; /* may be NULL */
	void *ud;
	const bar_cancel *cancel; /* overrides the session's for this call */
	int64_t deadline_ms;        /* bar_now_ms() by which the transfer must
	                             * be done; 0: now + the session's timeout */
} bar_ssh_xfer_opts;

#define BAR_SSH_XFER_OPTS_VERSION 1
#define BAR_SSH_XFER_OPTS_INIT { BAR_SSH_XFER_OPTS_VERSION, NULL, NULL, NULL, 0 }

typedef struct bar_ssh_stat {
	int is_dir;
	int is_file;
	uint64_t size;
	unsigned mode; /* permission bits */
} bar_ssh_stat;

/* Stat a remote path (following symlinks).  BAR_ENOTFOUND when absent;
 * -1 (message names host and path) otherwise. */
int bar_ssh_sftp_stat(bar_ssh *s, const char *path, bar_ssh_stat *out);

/* Create a remote directory with mode; one that exists already is fine. */
int bar_ssh_sftp_mkdir(bar_ssh *s, const char *path, unsigned mode);

/* The names in a remote directory, without "." and "..", sorted.  *names
 * (an array of *n strings) is the caller's: bar_ssh_names_free.  At most
 * 100,000 entries; more is an error. */
int bar_ssh_sftp_list(bar_ssh *s, const char *path, char ***names, size_t *n);
void bar_ssh_names_free(char **names, size_t n);

/*
 * Copy the local regular file `local` to `remote` (created or truncated,
 * with the local file's permission bits), then check the remote size equals
 * the bytes sent.  *bytes (may be NULL) gets the size.  Returns 0,
 * BAR_ECANCELED, BAR_SSH_ETIMEOUT or -1; the message names both paths.
 */
int bar_ssh_put(bar_ssh *s, const char *local, const char *remote,
                const bar_ssh_xfer_opts *o, uint64_t *bytes);

/*
 * Copy the remote regular file `remote` to `local` (created or truncated,
 * with the remote permission bits less the umask), checking the bytes
 * received against the size the server reported when it was opened.
 * Returns as bar_ssh_put; a partial local file is removed on failure.
 */
int bar_ssh_get(bar_ssh *s, const char *remote, const char *local,
                const bar_ssh_xfer_opts *o, uint64_t *bytes);

/* Free what a result holds and zero it.  Accepts a zeroed result. */
void bar_ssh_result_clear(bar_ssh_result *r);

/* Disconnect (waiting at most a second for the server) and free the
 * session.  Accepts NULL. */
void bar_ssh_free(bar_ssh *s);

#endif
