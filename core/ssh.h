/*
 * ssh.h - Barista's SSH client: log into a machine with a key, check the
 * server against a pinned host key, run one command at a time and collect its
 * exit status, stdout and stderr.
 *
 * It sits on libssh2 with a non-blocking socket and poll(), so every step
 * (TCP connect, handshake, authentication, each command) is bounded by the
 * timeouts in bar_ssh_opts.  There is no trust-on-first-use: a connection
 * without a pinned host key is refused, because the providers that create a
 * VM report its host key and Barista records it in state.  Integration tests
 * use this to log into VMs; remote commands of later features build on it.
 *
 * Separate sessions may be used from separate threads at the same time; one
 * session must not be used by two threads at once.
 */
#ifndef BAR_SSH_H
#define BAR_SSH_H

#include <stddef.h>

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
	size_t max_output;            /* cap on stdout and on stderr, each */
} bar_ssh_opts;

#define BAR_SSH_OPTS_VERSION 1
#define BAR_SSH_OPTS_INIT { BAR_SSH_OPTS_VERSION, NULL, 22, "root", NULL, NULL, \
	                    5000, 30000, (size_t)1 << 20 }

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

/* Free what a result holds and zero it.  Accepts a zeroed result. */
void bar_ssh_result_clear(bar_ssh_result *r);

/* Disconnect (waiting at most a second for the server) and free the
 * session.  Accepts NULL. */
void bar_ssh_free(bar_ssh *s);

#endif
