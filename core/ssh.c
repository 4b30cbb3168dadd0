/*
 * ssh.c - the SSH client (see ssh.h): libssh2 in non-blocking mode over a
 * non-blocking socket, every wait a poll() bounded by the step's deadline.
 *
 * Each libssh2 call that would block returns LIBSSH2_ERROR_EAGAIN; the
 * session then says which direction it waits for and bar_ssh_wait_io() polls
 * the socket until the deadline, in short slices so that a cancellation flag
 * is noticed within SSH_CANCEL_SLICE_MS.  A command that times out or is
 * cancelled is sent SIGTERM (to its whole process group, through a second
 * channel) before its channel is closed, so it does not go on running on
 * the machine.  When a command times out or the transport
 * fails, the socket is shut down and the session marked broken: libssh2 then
 * fails fast instead of waiting for a server that may never answer, which
 * lets channels and the session be freed without blocking.
 */
#include "ssh_int.h"
#include "ssh_b64.h"
#include "ssh_sha256.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SSH_HOST_KEY_MAX 16384 /* longest pinned key line we accept */
#define SSH_FINGERPRINT_MAX 64 /* "SHA256:" + 43 base64 chars + NUL */
#define SSH_CLOSE_GRACE_MS 1000 /* waiting for the server when tidying up */
#define SSH_CANCEL_SLICE_MS 100 /* how soon a wait notices a cancellation */
#define SSH_PID_LINE_MAX 20     /* digits of the pid line a command starts with */

/* A pinned host key, decoded. */
typedef struct ssh_pin {
	char type[64];
	unsigned char *blob;
	size_t blob_len;
} ssh_pin;

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void ssh_global_init(void)
{
	ssh_init_rc = libssh2_init(0);
}

/* ---- fingerprints ---- */

/* "SHA256:<base64>" of a key blob, as ssh-keygen -l prints it. */
static void ssh_fingerprint(char out[SSH_FINGERPRINT_MAX], const void *blob, size_t len)
{
	uint8_t digest[BAR_SHA256_LEN];

	bar_sha256_digest(digest, blob, len);
	memcpy(out, "SHA256:", 7);
	bar_b64_encode(out + 7, digest, sizeof(digest), 0);
}

/* The key type a wire-format blob names (its first string), into out. */
static void ssh_blob_type(char *out, size_t size, const unsigned char *blob, size_t len)
{
	uint32_t n;

	snprintf(out, size, "unknown");
	if (len < 4)
		return;
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
	    (uint32_t)blob[2] << 8 | blob[3];
	if (n > 0 && n < size && n <= len - 4)
		snprintf(out, size, "%.*s", (int)n, (const char *)blob + 4);
}

/* Parse "type base64 [comment]" into pin.  Returns 0 or BAR_EINVALID. */
static int ssh_pin_parse(ssh_pin *pin, const char *line)
{
	const char *t, *b;
	size_t tlen, blen;
	char blob_type[64];

	memset(pin, 0, sizeof(*pin));
	if (strnlen(line, SSH_HOST_KEY_MAX + 1) > SSH_HOST_KEY_MAX)
		goto bad;
	t = line + strspn(line, " \t");
	tlen = strcspn(t, " \t\r\n");
	b = t + tlen + strspn(t + tlen, " \t");
	blen = strcspn(b, " \t\r\n");
	if (tlen == 0 || tlen >= sizeof(pin->type) || blen == 0)
		goto bad;
	memcpy(pin->type, t, tlen);
	pin->type[tlen] = '\0';
	if (bar_b64_decode(&pin->blob, &pin->blob_len, b, blen) < 0)
		goto bad;
	/* The blob names its own type; it must agree with the first word. */
	ssh_blob_type(blob_type, sizeof(blob_type), pin->blob, pin->blob_len);
	if (strcmp(blob_type, pin->type) != 0)
		goto bad;
	return 0;
bad:
	free(pin->blob);
	pin->blob = NULL;
	bar_error_set("pinned host key is not an OpenSSH public key line "
	              "(\"ssh-ed25519 AAAA... [comment]\")");
	return BAR_EINVALID;
}

/* The libssh2 host key algorithms that yield a key of the pinned type, so
 * a server with several host keys presents the one we know. */
static const char *ssh_pin_methods(const ssh_pin *pin)
{
	if (strcmp(pin->type, "ssh-rsa") == 0)
		return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
	if (strcmp(pin->type, "ssh-ed25519") == 0 ||
	    strcmp(pin->type, "ecdsa-sha2-nistp256") == 0 ||
	    strcmp(pin->type, "ecdsa-sha2-nistp384") == 0 ||
	    strcmp(pin->type, "ecdsa-sha2-nistp521") == 0)
		return pin->type;
	return NULL;
}

/* ---- waiting ---- */

const char *bar_ssh_lib_error(bar_ssh *s)
{
	char *msg = NULL;

	libssh2_session_last_error(s->session, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown libssh2 error";
}

void bar_ssh_break(bar_ssh *s)
{
	if (!s->broken && s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
	s->broken = 1;
}

/* Poll the socket in the direction libssh2 is blocked on until the
 * deadline, in slices short enough to notice a cancellation soon.  Returns
 * 0 ready, 1 at the deadline, BAR_ECANCELED (only when cancelable), -1 when
 * poll fails (errno set).  Sets no error and breaks nothing. */
static int ssh_poll(bar_ssh *s, int64_t deadline, int cancelable)
{
	int dir = libssh2_session_block_directions(s->session);
	struct pollfd pfd = { .fd = s->fd, .events = 0 };

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	if (!pfd.events)
		pfd.events = POLLIN;
	for (;;) {
		int64_t left = deadline - bar_now_ms();
		int rc;

		if (cancelable && bar_cancel_cancelled(s->cancel))
			return BAR_ECANCELED;
		if (left <= 0)
			return 1;
		rc = poll(&pfd, 1, (int)(left < SSH_CANCEL_SLICE_MS ? left : SSH_CANCEL_SLICE_MS));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

int bar_ssh_wait_io(bar_ssh *s, int64_t deadline, const char *step, int limit_ms)
{
	int rc = ssh_poll(s, deadline, 1);

	if (rc == 0)
		return 0;
	if (rc == BAR_ECANCELED) {
		if (step)
			bar_error_set("ssh %s: %s: canceled", s->where, step);
		return BAR_ECANCELED;
	}
	if (step && rc < 0)
		bar_error_set("ssh %s: %s: poll: %s", s->where, step, strerror(errno));
	else if (step)
		bar_error_set("ssh %s: %s: timed out after %d ms", s->where, step, limit_ms);
	bar_ssh_break(s);
	return rc < 0 ? -1 : BAR_SSH_ETIMEOUT;
}

/* Waiting while tidying up (after an error already reported, or after a
 * cancellation): not cancelable; at the deadline the session is broken. */
static int ssh_wait_grace(bar_ssh *s, int64_t deadline)
{
	if (ssh_poll(s, deadline, 0) == 0)
		return 0;
	bar_ssh_break(s);
	return -1;
}

/* ---- connecting ---- */

/* Finish a non-blocking connect on fd by the deadline: 0, or an errno. */
static int ssh_tcp_finish(int fd, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	for (;;) {
		int64_t left = deadline - bar_now_ms();
		int rc;

		if (left <= 0)
			return ETIMEDOUT;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			break;
		if (rc < 0 && errno != EINTR)
			return errno;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/* Open a non-blocking TCP connection to host:port, trying each address. */
static int ssh_tcp_connect(int *out, const char *host, int port, int64_t deadline,
                           const char *where, int limit_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char portstr[16];
	int fd = -1, err = 0, rc;

	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
		return bar_error_set("ssh %s: resolve: %s", where, gai_strerror(rc));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		err = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
		if (err == EINPROGRESS)
			err = ssh_tcp_finish(fd, deadline);
		if (err == 0)
			break;
		close(fd);
		fd = -1;
		if (err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (err == ETIMEDOUT)
			return bar_error_set("ssh %s: connect: timed out after %d ms", where,
			                     limit_ms);
		return bar_error_set("ssh %s: connect: %s", where, strerror(err));
	}
	*out = fd;
	return 0;
}

/* Compare the server's host key with the pinned one, byte for byte. */
static int ssh_check_host_key(bar_ssh *s, const ssh_pin *pin)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->session, &len, &type);
	char got_fp[SSH_FINGERPRINT_MAX], want_fp[SSH_FINGERPRINT_MAX], got_type[64];

	if (!key || len == 0) {
		bar_error_set("ssh %s: host key check: server sent no host key", s->where);
		return BAR_EAUTH;
	}
	if (len == pin->blob_len && memcmp(key, pin->blob, len) == 0)
		return 0;
	ssh_fingerprint(got_fp, key, len);
	ssh_fingerprint(want_fp, pin->blob, pin->blob_len);
	ssh_blob_type(got_type, sizeof(got_type), (const unsigned char *)key, len);
	bar_error_set("ssh %s: host key check: server's %s key %s does not match the "
	              "pinned %s key %s", s->where, got_type, got_fp, pin->type, want_fp);
	return BAR_EAUTH;
}

/* Authenticate with the private key file (the public half is derived). */
static int ssh_auth(bar_ssh *s, const bar_ssh_opts *opts, int64_t deadline)
{
	int rc;

	while ((rc = libssh2_userauth_publickey_fromfile_ex(
	            s->session, opts->user, (unsigned)strlen(opts->user), NULL,
	            opts->private_key_path, NULL)) == LIBSSH2_ERROR_EAGAIN) {
		if (bar_ssh_wait_io(s, deadline, "authentication", opts->connect_timeout_ms) < 0)
			return -1;
	}
	if (rc == 0)
		return 0;
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
	    rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
		bar_error_set("ssh %s: authentication: server rejected key %s for user "
		              "\"%s\": %s", s->where, opts->private_key_path, opts->user,
		              bar_ssh_lib_error(s));
		return BAR_EAUTH;
	}
	return bar_error_set("ssh %s: authentication with key %s: %s", s->where,
	                     opts->private_key_path, bar_ssh_lib_error(s));
}

static int ssh_opts_check(const bar_ssh_opts *opts)
{
	const char *bad = NULL;

	if (!opts || opts->version != BAR_SSH_OPTS_VERSION)
		bad = "unknown bar_ssh_opts version";
	else if (!opts->host || !*opts->host)
		bad = "no host";
	else if (opts->port <= 0 || opts->port > 65535)
		bad = "port out of range";
	else if (!opts->user || !*opts->user)
		bad = "no user";
	else if (!opts->private_key_path || !*opts->private_key_path)
		bad = "no private key file";
	else if (!opts->host_key)
		bad = "no pinned host key; refusing to connect to an unverified server";
	else if (opts->connect_timeout_ms <= 0 || opts->timeout_ms <= 0)
		bad = "timeouts must be positive";
	else if (opts->max_output == 0)
		bad = "max_output must be positive";
	if (!bad)
		return 0;
	if (opts && opts->host)
		bar_error_set("ssh %s:%d: %s", opts->host, opts->port, bad);
	else
		bar_error_set("ssh: %s", bad);
	return BAR_EINVALID;
}

/* Start the SSH session on s->fd: handshake, host key, authentication. */
static int ssh_session_start(bar_ssh *s, const bar_ssh_opts *opts, const ssh_pin *pin,
                             int64_t deadline)
{
	int rc;

	s->session = libssh2_session_init();
	if (!s->session)
		return bar_error_set("ssh %s: cannot create a libssh2 session", s->where);
	libssh2_session_set_blocking(s->session, 0);
	if (libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY,
	                                ssh_pin_methods(pin)) != 0)
		return bar_error_set("ssh %s: pinned %s key: %s", s->where, pin->type,
		                     bar_ssh_lib_error(s));
	while ((rc = libssh2_session_handshake(s->session, s->fd)) == LIBSSH2_ERROR_EAGAIN) {
		if (bar_ssh_wait_io(s, deadline, "handshake", opts->connect_timeout_ms) < 0)
			return -1;
	}
	if (rc != 0)
		return bar_error_set("ssh %s: handshake: %s%s", s->where, bar_ssh_lib_error(s),
		                     rc == LIBSSH2_ERROR_KEX_FAILURE
		                         ? " (does the server have a host key of the pinned type?)"
		                         : "");
	rc = ssh_check_host_key(s, pin);
	if (rc != 0)
		return rc;
	return ssh_auth(s, opts, deadline);
}

int bar_ssh_connect(bar_ssh **out, const bar_ssh_opts *opts)
{
	bar_ssh *s = NULL;
	ssh_pin pin = { .blob = NULL };
	int64_t deadline;
	int rc;

	rc = ssh_opts_check(opts);
	if (rc != 0)
		goto done;
	rc = ssh_pin_parse(&pin, opts->host_key);
	if (rc != 0) {
		bar_error_prefix("ssh %s:%d", opts->host, opts->port);
		goto done;
	}
	if (!ssh_pin_methods(&pin)) {
		bar_error_set("ssh %s:%d: pinned host key type %s is not supported",
		              opts->host, opts->port, pin.type);
		rc = BAR_EINVALID;
		goto done;
	}
	pthread_once(&ssh_once, ssh_global_init);
	if (ssh_init_rc != 0) {
		rc = bar_error_set("ssh: libssh2_init failed (%d)", ssh_init_rc);
		goto done;
	}
	deadline = bar_now_ms() + opts->connect_timeout_ms;
	s = bar_calloc(1, sizeof(*s));
	s->fd = -1;
	s->timeout_ms = opts->timeout_ms;
	s->max_output = opts->max_output;
	s->cancel = opts->cancel;
	snprintf(s->where, sizeof(s->where), strchr(opts->host, ':') ? "[%s]:%d" : "%s:%d",
	         opts->host, opts->port);
	if (opts->via)
		rc = bar_ssh_tunnel_open(&s->tunnel, &s->fd, opts->via, opts->host, opts->port,
		                         deadline, opts->connect_timeout_ms);
	else
		rc = ssh_tcp_connect(&s->fd, opts->host, opts->port, deadline, s->where,
		                     opts->connect_timeout_ms);
	if (rc != 0)
		goto done;
	if (s->tunnel) /* messages say which way the session went */
		snprintf(s->where + strlen(s->where), sizeof(s->where) - strlen(s->where),
		         " via %s", bar_ssh_tunnel_where(s->tunnel));
	rc = ssh_session_start(s, opts, &pin, deadline);
	if (rc != 0)
		goto done;
	*out = s;
	s = NULL;
done:
	if (s) {
		bar_ssh_break(s); /* no goodbye to a server we gave up on */
		bar_ssh_free(s);
	}
	free(pin.blob);
	return rc;
}

/* ---- running commands ---- */

/* Shell-style status: the exit code, or 128+N for a death by signal N. */
static int ssh_exit_status(bar_ssh *s, LIBSSH2_CHANNEL *ch)
{
	char *sig = NULL;
	size_t sig_len = 0;
	int status = libssh2_channel_get_exit_status(ch);

	libssh2_channel_get_exit_signal(ch, &sig, &sig_len, NULL, NULL, NULL, NULL);
	if (sig) {
		status = 128;
		for (int n = 1; n < NSIG; n++) {
			const char *abbrev = sigabbrev_np(n);

			if (abbrev && strlen(abbrev) == sig_len && memcmp(abbrev, sig, sig_len) == 0) {
				status = 128 + n;
				break;
			}
		}
		libssh2_free(s->session, sig);
	}
	return status;
}

/* Close and free a channel whose result no longer matters, giving the
 * server a short grace to answer; errors are not reported (the caller's
 * message stands) but leave the session broken. */
static void ssh_channel_discard(bar_ssh *s, LIBSSH2_CHANNEL *ch)
{
	int64_t deadline = bar_now_ms() + SSH_CLOSE_GRACE_MS;
	int rc = 0;

	while (!s->broken && (rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		ssh_wait_grace(s, deadline);
	if (rc != 0)
		bar_ssh_break(s);
	/* Once broken, libssh2 fails fast instead of returning EAGAIN.  Should
	 * it still not let go, libssh2_session_free frees the channel later. */
	while (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN) {
		if (ssh_wait_grace(s, deadline) < 0)
			break;
	}
}

/* Open a session channel and start the command on it. */
static int ssh_channel_start(LIBSSH2_CHANNEL **out, bar_ssh *s, const char *command,
                             int64_t deadline, int limit_ms)
{
	LIBSSH2_CHANNEL *ch;
	int rc;

	while (!(ch = libssh2_channel_open_session(s->session))) {
		if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_EAGAIN) {
			bar_error_set("ssh %s: open channel: %s", s->where, bar_ssh_lib_error(s));
			bar_ssh_break(s);
			return -1;
		}
		if ((rc = bar_ssh_wait_io(s, deadline, "open channel", limit_ms)) < 0)
			return rc;
	}
	while ((rc = libssh2_channel_exec(ch, command)) == LIBSSH2_ERROR_EAGAIN) {
		if ((rc = bar_ssh_wait_io(s, deadline, "start command", limit_ms)) < 0)
			break;
	}
	if (rc != 0) {
		if (rc != BAR_ECANCELED && rc != BAR_SSH_ETIMEOUT && rc != -1)
			bar_error_set("ssh %s: start command: %s", s->where, bar_ssh_lib_error(s));
		ssh_channel_discard(s, ch);
		return rc == BAR_ECANCELED || rc == BAR_SSH_ETIMEOUT ? rc : -1;
	}
	*out = ch;
	return 0;
}

/* The first line of a command's stdout is its shell's pid (see
 * bar_ssh_exec_stream); the rest is the command's own output. */
typedef struct ssh_head {
	char text[SSH_PID_LINE_MAX + 1];
	size_t len;
	int done;
	long pid; /* 0 until known */
} ssh_head;

/* Take the pid line from the start of stdout; returns how many bytes of
 * data it consumed.  Anything unexpected is passed on as output. */
static size_t ssh_head_take(ssh_head *h, const bar_ssh_exec_opts *o, const char *data,
                            size_t n, int *refused)
{
	size_t used = 0;

	while (!h->done && used < n) {
		char c = data[used++];

		if (c == '\n' && h->len > 0) {
			h->text[h->len] = '\0';
			h->pid = strtol(h->text, NULL, 10);
			h->done = 1;
		} else if (c >= '0' && c <= '9' && h->len < SSH_PID_LINE_MAX) {
			h->text[h->len++] = c;
		} else { /* not ours after all: hand it all over */
			h->done = 1;
			*refused = o->on_output(o->ud, 1, h->text, h->len) < 0 ||
			           o->on_output(o->ud, 1, &c, 1) < 0;
		}
	}
	return used;
}

/* Hand stdout and stderr to the callback until the server sends EOF.
 * A timeout or a cancellation returns without breaking anything, so the
 * caller can still ask the server to stop the command. */
static int ssh_stream_output(bar_ssh *s, LIBSSH2_CHANNEL *ch, const bar_ssh_exec_opts *o,
                             int64_t deadline, int limit_ms, ssh_head *head)
{
	char buf[16384];

	for (;;) {
		ssize_t n = libssh2_channel_read(ch, buf, sizeof(buf)), m = 0;
		int rc, refused = 0;

		if (n > 0) {
			size_t used = ssh_head_take(head, o, buf, (size_t)n, &refused);

			if (refused || (used < (size_t)n &&
			                o->on_output(o->ud, 1, buf + used, (size_t)n - used) < 0))
				return -1;
			continue;
		}
		m = libssh2_channel_read_stderr(ch, buf, sizeof(buf));
		if (m > 0) {
			if (o->on_output(o->ud, 2, buf, (size_t)m) < 0)
				return -1;
			continue;
		}
		if ((n < 0 && n != LIBSSH2_ERROR_EAGAIN) || (m < 0 && m != LIBSSH2_ERROR_EAGAIN)) {
			bar_error_set("ssh %s: read output: %s", s->where, bar_ssh_lib_error(s));
			bar_ssh_break(s);
			return -1;
		}
		if (libssh2_channel_eof(ch))
			return 0;
		rc = ssh_poll(s, deadline, 1);
		if (rc == BAR_ECANCELED)
			return bar_error_set("ssh %s: command canceled", s->where), BAR_ECANCELED;
		if (rc == 1)
			return bar_error_set("ssh %s: command: timed out after %d ms", s->where,
			                     limit_ms), BAR_SSH_ETIMEOUT;
		if (rc < 0) {
			bar_error_set("ssh %s: command: poll: %s", s->where, strerror(errno));
			bar_ssh_break(s);
			return -1;
		}
	}
}

/* After EOF: wait for the server's close, which comes after the exit
 * status, and take the status. */
static int ssh_channel_finish(int *status, bar_ssh *s, LIBSSH2_CHANNEL *ch,
                              int64_t deadline, int limit_ms)
{
	int rc;

	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN) {
		if ((rc = bar_ssh_wait_io(s, deadline, "command", limit_ms)) < 0)
			return rc;
	}
	if (rc != 0) {
		bar_error_set("ssh %s: close channel: %s", s->where, bar_ssh_lib_error(s));
		bar_ssh_break(s);
		return -1;
	}
	*status = ssh_exit_status(s, ch);
	return 0;
}

/* Stop a command still running: a second channel sends SIGTERM to the
 * process group of its shell (sshd makes each command a session leader, so
 * the group is the command with all it started).  The SSH "signal" request
 * would be the protocol's way, but OpenSSH refuses it for root logins,
 * which is what VMs have.  Best effort within the close grace. */
static void ssh_stop_remote(bar_ssh *s, long pid)
{
	int64_t deadline = bar_now_ms() + SSH_CLOSE_GRACE_MS;
	const bar_cancel *saved_cancel = s->cancel;
	LIBSSH2_CHANNEL *ch = NULL;
	char cmd[96];
	int status;

	if (pid <= 1 || s->broken)
		return;
	s->cancel = NULL; /* already cancelled: this must still happen */
	snprintf(cmd, sizeof(cmd), "kill -TERM -- -%ld 2>/dev/null || kill -TERM %ld", pid, pid);
	if (ssh_channel_start(&ch, s, cmd, deadline, SSH_CLOSE_GRACE_MS) == 0) {
		while (!libssh2_channel_eof(ch) && libssh2_channel_read(ch, cmd, sizeof(cmd)) ==
		                                       LIBSSH2_ERROR_EAGAIN)
			if (ssh_wait_grace(s, deadline) < 0)
				break;
		ssh_channel_finish(&status, s, ch, deadline, SSH_CLOSE_GRACE_MS);
		ssh_channel_discard(s, ch);
	}
	s->cancel = saved_cancel;
}

int bar_ssh_exec_stream(bar_ssh *s, const char *command, const bar_ssh_exec_opts *o,
                        int *exit_status)
{
	LIBSSH2_CHANNEL *ch = NULL;
	int limit = o->timeout_ms > 0 ? o->timeout_ms : s->timeout_ms;
	int64_t deadline = bar_now_ms() + limit;
	const bar_cancel *saved_cancel = s->cancel;
	ssh_head head = { .len = 0 };
	char *wrapped = NULL;
	int status = 0, rc;

	if (!command || !o->on_output)
		return bar_error_set("ssh %s: no command or no output callback", s->where);
	if (s->broken)
		return bar_error_set("ssh %s: session unusable after an earlier timeout or "
		                     "transport error; reconnect", s->where);
	if (o->cancel)
		s->cancel = o->cancel;
	/* The shell says its pid first, so the command can be stopped. */
	wrapped = bar_printf("echo $$; %s", command);
	rc = ssh_channel_start(&ch, s, wrapped, deadline, limit);
	if (rc != 0) {
		if (rc == -1)
			rc = BAR_ERETRY; /* not started: a new session may do */
		goto done;
	}
	rc = ssh_stream_output(s, ch, o, deadline, limit, &head);
	if (rc == 0)
		rc = ssh_channel_finish(&status, s, ch, deadline, limit);
	if (rc == 0)
		*exit_status = status;
	else
		ssh_stop_remote(s, head.pid);
	if (rc == BAR_SSH_ETIMEOUT)
		bar_ssh_break(s); /* a server that took too long may be stuck */
done:
	if (ch)
		ssh_channel_discard(s, ch);
	s->cancel = saved_cancel;
	free(wrapped);
	return rc;
}

/* bar_ssh_exec's output callback: both streams into capped buffers. */
typedef struct ssh_collect {
	bar_ssh *s;
	bar_buf out, err;
} ssh_collect;

static int ssh_collect_output(void *ud, int stream, const char *data, size_t n)
{
	ssh_collect *c = ud;

	if (bar_buf_add(stream == 1 ? &c->out : &c->err, data, n) == 0)
		return 0;
	return bar_error_set("ssh %s: command wrote more than %zu bytes to %s", c->s->where,
	                     c->s->max_output, stream == 1 ? "stdout" : "stderr");
}

int bar_ssh_exec(bar_ssh *s, const char *command, bar_ssh_result *out)
{
	ssh_collect c = { s, BAR_BUF_INIT(s->max_output), BAR_BUF_INIT(s->max_output) };
	bar_ssh_exec_opts o = BAR_SSH_EXEC_OPTS_INIT;
	int status = 0, rc;

	o.on_output = ssh_collect_output;
	o.ud = &c;
	rc = bar_ssh_exec_stream(s, command, &o, &status);
	if (rc == 0) {
		out->exit_status = status;
		out->out_len = c.out.len;
		out->out = bar_buf_take(&c.out);
		out->err_len = c.err.len;
		out->err = bar_buf_take(&c.err);
	}
	bar_buf_free(&c.out);
	bar_buf_free(&c.err);
	return rc == 0 ? 0 : -1;
}

int bar_ssh_usable(const bar_ssh *s)
{
	return s && !s->broken;
}

const char *bar_ssh_where(const bar_ssh *s)
{
	return s->where;
}

void bar_ssh_result_clear(bar_ssh_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

void bar_ssh_free(bar_ssh *s)
{
	if (!s)
		return;
	if (s->session) {
		/* Blocking with libssh2's own timeout, so a silent server costs
		 * at most SSH_CLOSE_GRACE_MS; a broken one fails at once. */
		libssh2_session_set_timeout(s->session, SSH_CLOSE_GRACE_MS);
		libssh2_session_set_blocking(s->session, 1);
		if (s->sftp)
			libssh2_sftp_shutdown(s->sftp);
		if (!s->broken)
			libssh2_session_disconnect(s->session, "bye");
		if (libssh2_session_free(s->session) != 0) {
			bar_ssh_break(s);
			libssh2_session_free(s->session);
		}
	}
	if (s->fd >= 0)
		close(s->fd);
	bar_ssh_tunnel_free(s->tunnel); /* after the close: its pump sees EOF */
	free(s->pool_key);
	free(s);
}
