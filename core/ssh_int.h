/*
 * ssh_int.h - what the files of the SSH module share and nothing else sees:
 * the session struct and waiting on its socket.  ssh.c connects and runs
 * commands, ssh_sftp.c transfers files over the same sessions.
 */
#ifndef BAR_SSH_INT_H
#define BAR_SSH_INT_H

#include "ssh.h"

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <stdint.h>

struct bar_ssh {
	LIBSSH2_SESSION *session;
	int fd;
	char where[300]; /* "host:port" for messages */
	int timeout_ms;
	size_t max_output;
	int broken; /* transport unusable: no more commands, no goodbye */
	const bar_cancel *cancel; /* checked while waiting; NULL: never */
	LIBSSH2_SFTP *sftp;         /* opened by the first file operation */
	char *pool_key;             /* identity in a bar_ssh_pool, or NULL */
	int64_t idle_since;         /* when it was put back into its pool */
};

/*
 * Wait until the socket is ready in the direction libssh2 is blocked on.
 * Returns 0 when it is; BAR_ECANCELED when *s->cancel became set (the
 * session stays usable); BAR_SSH_ETIMEOUT at the deadline and -1 when poll
 * fails, both leaving the session broken.  Unless step is NULL the error
 * names the step (and limit_ms for a timeout).
 */
int bar_ssh_wait_io(bar_ssh *s, int64_t deadline, const char *step, int limit_ms);

/* The transport cannot be trusted any more: make every later libssh2 call
 * fail at once rather than wait. */
void bar_ssh_break(bar_ssh *s);

/* libssh2's last message for the session (borrowed). */
const char *bar_ssh_lib_error(bar_ssh *s);

#endif
