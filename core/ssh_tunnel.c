/*
 * ssh_tunnel.c - one SSH session carried inside another (a bastion hop,
 * see ssh.h's `via`): a direct-tcpip channel from the bastion's session to
 * target:port, and a socketpair whose one end the target's session uses as
 * its socket while a pump thread copies bytes between the other end and
 * the channel.
 *
 * The target's session code is thus unchanged: it polls its fd, shuts it
 * down when it gives up (bar_ssh_break) and closes it when freed; the pump
 * sees either as EOF, sends EOF on the channel and ends.  When the bastion
 * connection ends, the pump closes its end and the target's session sees
 * EOF at once.  Each direction has one fixed buffer, so memory is bounded
 * whatever the peers do.  The bastion session is used by the pump thread
 * only, from its start until it is joined.
 */
#include "ssh_int.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUNNEL_BUF 16384   /* each direction */
#define TUNNEL_SLICE_MS 100 /* how soon the pump notices it should stop */

/* Bytes read from one side, waiting to be written to the other. */
typedef struct tunnel_buf {
	char data[TUNNEL_BUF];
	size_t len, off;
} tunnel_buf;

struct bar_ssh_tunnel {
	bar_ssh *hop;          /* the bastion's session */
	LIBSSH2_CHANNEL *ch;   /* direct-tcpip to the target */
	int fd;                /* the pump's end of the socketpair */
	pthread_t thread;
	int started;
	atomic_int stop;
	tunnel_buf up;         /* target session -> channel */
	tunnel_buf down;       /* channel -> target session */
};

/* One round of copying without waiting.  Returns 1 when bytes moved, 0
 * when nothing could (with what to wait for on the socketpair in *want_fd),
 * -1 when either side has ended. */
static int tunnel_step(bar_ssh_tunnel *t, short *want_fd)
{
	ssize_t n;
	int moved = 0;

	*want_fd = 0;
	if (t->down.len == 0) {
		n = libssh2_channel_read(t->ch, t->down.data, sizeof(t->down.data));
		if (n > 0) {
			t->down.len = (size_t)n;
			t->down.off = 0;
		} else if ((n < 0 && n != LIBSSH2_ERROR_EAGAIN) || libssh2_channel_eof(t->ch)) {
			return -1;
		}
	}
	if (t->down.len > 0) {
		n = send(t->fd, t->down.data + t->down.off, t->down.len - t->down.off,
		         MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0) {
			moved = 1;
			if ((t->down.off += (size_t)n) == t->down.len)
				t->down.len = 0;
		}
		if (t->down.len > 0)
			*want_fd |= POLLOUT;
	}
	if (t->up.len == 0) {
		n = recv(t->fd, t->up.data, sizeof(t->up.data), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1; /* the target's session closed or shut its socket */
		if (n > 0) {
			t->up.len = (size_t)n;
			t->up.off = 0;
		} else {
			*want_fd |= POLLIN;
		}
	}
	if (t->up.len > 0) {
		n = libssh2_channel_write(t->ch, t->up.data + t->up.off, t->up.len - t->up.off);
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return -1;
		if (n > 0) {
			moved = 1;
			if ((t->up.off += (size_t)n) == t->up.len)
				t->up.len = 0;
		}
	}
	return moved;
}

static void *tunnel_pump(void *ud)
{
	bar_ssh_tunnel *t = ud;

	while (!atomic_load(&t->stop)) {
		struct pollfd pfd[2] = {
			{ .fd = t->fd, .events = 0 },
			{ .fd = t->hop->fd, .events = POLLIN },
		};
		int rc = tunnel_step(t, &pfd[0].events);

		if (rc < 0)
			break;
		if (rc > 0)
			continue;
		if (libssh2_session_block_directions(t->hop->session) &
		    LIBSSH2_SESSION_BLOCK_OUTBOUND)
			pfd[1].events |= POLLOUT;
		if (poll(pfd, 2, TUNNEL_SLICE_MS) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & (POLLERR | POLLNVAL))
			break;
	}
	/* Either side ended: the other sees EOF at once. */
	shutdown(t->fd, SHUT_RDWR);
	return NULL;
}

/* Open the direct-tcpip channel by the deadline. */
static int tunnel_channel(bar_ssh_tunnel *t, const char *host, int port, int64_t deadline,
                          int limit_ms)
{
	char step[360];
	int rc;

	snprintf(step, sizeof(step), "open a tunnel to %s:%d", host, port);
	while (!(t->ch = libssh2_channel_direct_tcpip_ex(t->hop->session, host, port,
	                                                 "127.0.0.1", 22))) {
		if (libssh2_session_last_errno(t->hop->session) != LIBSSH2_ERROR_EAGAIN)
			return bar_error_set("ssh %s: %s: %s", t->hop->where, step,
			                     bar_ssh_lib_error(t->hop));
		if ((rc = bar_ssh_wait_io(t->hop, deadline, step, limit_ms)) < 0)
			return rc;
	}
	return 0;
}

int bar_ssh_tunnel_open(bar_ssh_tunnel **out, int *fd, const bar_ssh_opts *via,
                        const char *host, int port, int64_t deadline, int limit_ms)
{
	bar_ssh_tunnel *t = bar_calloc(1, sizeof(*t));
	int sv[2] = { -1, -1 }, rc;

	t->fd = -1;
	if (via->via) {
		rc = bar_error_set("ssh %s:%d: a bastion cannot itself be reached through another "
		                   "bastion", via->host ? via->host : "?", via->port);
		goto fail;
	}
	if ((rc = bar_ssh_connect(&t->hop, via)) != 0)
		goto fail;
	if ((rc = tunnel_channel(t, host, port, deadline, limit_ms)) != 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = bar_error_set("ssh %s: socketpair: %s", t->hop->where, strerror(errno));
		goto fail;
	}
	t->fd = sv[1];
	if ((errno = pthread_create(&t->thread, NULL, tunnel_pump, t)) != 0) {
		rc = bar_error_set("ssh %s: tunnel thread: %s", t->hop->where, strerror(errno));
		close(sv[0]);
		goto fail;
	}
	t->started = 1;
	*fd = sv[0];
	*out = t;
	return 0;
fail:
	if (via->name)
		bar_error_prefix("bastion %s", via->name);
	bar_ssh_tunnel_free(t);
	return rc;
}

const char *bar_ssh_tunnel_where(const bar_ssh_tunnel *t)
{
	return t->hop->where;
}

void bar_ssh_tunnel_free(bar_ssh_tunnel *t)
{
	if (!t)
		return;
	if (t->started) {
		/* The caller closed its end first, so the pump is ending. */
		atomic_store(&t->stop, 1);
		pthread_join(t->thread, NULL);
	}
	if (t->ch) {
		libssh2_session_set_timeout(t->hop->session, 1000);
		libssh2_session_set_blocking(t->hop->session, 1);
		if (!t->hop->broken)
			libssh2_channel_close(t->ch);
		libssh2_channel_free(t->ch);
	}
	if (t->fd >= 0)
		close(t->fd);
	bar_ssh_free(t->hop);
	free(t);
}
