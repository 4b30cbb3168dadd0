/*
 * ssh_pool.h - authenticated SSH sessions kept for reuse, so a second
 * command to the same machine costs a channel instead of a TCP connection,
 * a key exchange and an authentication (OpenSSH's ControlPersist idea).
 *
 * A session is reused only for the same identity: the caller's name for
 * the machine (Barista passes "<state address>|<system id>"), host, port,
 * user, pinned host key and private key file (path, inode, size, mtime),
 * and the same of the bastion when the session goes through one.
 * A VM that is re-created gets a new system id and host key, so it is never
 * served a session to its predecessor.  Idle sessions are closed after the
 * pool's idle time.  The pool is thread-safe; each session taken from it is
 * used by one thread until it is put back.
 */
#ifndef BAR_SSH_POOL_H
#define BAR_SSH_POOL_H

#include "ssh.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bar_ssh_pool bar_ssh_pool;

typedef struct bar_ssh_pool_stats {
	uint64_t connects;  /* new sessions made */
	uint64_t reuses;    /* sessions handed out again */
	uint64_t dropped;   /* idle sessions found dead or expired */
	size_t idle;        /* sessions waiting now */
} bar_ssh_pool_stats;

/* A pool closing sessions idle for more than idle_ms and keeping at most
 * max_idle of them.  *out is the caller's (bar_ssh_pool_free). */
int bar_ssh_pool_new(bar_ssh_pool **out, int idle_ms, size_t max_idle);

/* Close every idle session and free the pool.  Sessions still taken must
 * have been put back or freed.  Accepts NULL. */
void bar_ssh_pool_free(bar_ssh_pool *p);

/*
 * A session for (identity, opts): an idle one with the same identity whose
 * connection is still open, or a new one from bar_ssh_connect(opts).  The
 * session gets opts' timeout_ms and cancel flag.  *reused says which.
 * Returns what bar_ssh_connect returns; *out is the caller's until handed
 * to bar_ssh_pool_put (or bar_ssh_free).
 */
int bar_ssh_pool_get(bar_ssh_pool *p, bar_ssh **out, const bar_ssh_opts *opts,
                     const char *identity, int *reused);

/* Give a session back: kept when still usable (bar_ssh_usable) and there
 * is room, freed otherwise.  Accepts NULL. */
void bar_ssh_pool_put(bar_ssh_pool *p, bar_ssh *s);

/* Close sessions idle for longer than the pool's idle time. */
void bar_ssh_pool_expire(bar_ssh_pool *p);

void bar_ssh_pool_stats_get(bar_ssh_pool *p, bar_ssh_pool_stats *out);

#endif
