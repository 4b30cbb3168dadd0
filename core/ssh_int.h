/*
 * ssh_int.h - what the files of the SSH module share and nothing else sees:
 * the session struct and waiting on its socket.  ssh.c connects and runs
 * commands, ssh_sftp.c transfers files over the same sessions,
 * ssh_tunnel.c carries a session through a bastion's.
 */
#ifndef BAR_SSH_INT_H
#define BAR_SSH_INT_H

#include "ssh.h"

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <stdint.h>

typedef struct bar_ssh_tunnel bar_ssh_tunnel;

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
	bar_ssh_tunnel *tunnel;     /* the bastion hop fd runs through, or NULL */
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

/*
 * Connect to the bastion `via` (bar_ssh_connect), open a direct-tcpip
 * channel from it to host:port by the deadline and start the pump.  *fd is
 * a non-blocking socket that reads and writes the channel: the target's
 * session runs over it and closes it before bar_ssh_tunnel_free.  Returns
 * what bar_ssh_connect returns for the bastion (the message prefixed with
 * "bastion <via->name>" when named), or -1.
 */
int bar_ssh_tunnel_open(bar_ssh_tunnel **out, int *fd, const bar_ssh_opts *via,
                        const char *host, int port, int64_t deadline, int limit_ms);

/* "host:port" of the bastion (borrowed). */
const char *bar_ssh_tunnel_where(const bar_ssh_tunnel *t);

/* Stop the pump (its fd must be closed already), close the channel and
 * the bastion session.  Accepts NULL. */
void bar_ssh_tunnel_free(bar_ssh_tunnel *t);

#endif
