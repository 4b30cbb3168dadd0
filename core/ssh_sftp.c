/*
 * ssh_sftp.c - file transfer over an SSH session with SFTP (see ssh.h):
 * stat, mkdir, listing a directory, and copying one regular file either
 * way, in non-blocking mode like the rest of the module, every wait bounded
 * by a deadline and noticing a cancellation flag.
 *
 * The SFTP subsystem is opened on a session's first file operation and kept
 * with the session (a broker that keeps sessions keeps it too).  Transfers
 * go in 256 KiB pieces: libssh2 splits each into SFTP packets and keeps
 * several in flight, which is what makes a transfer fast over a link with
 * latency.  Sizes are checked after every copy, since a file that changed
 * while it was read, or a full disk, must not pass silently.
 */
#include "ssh_int.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SFTP_CHUNK (256 * 1024)
#define SFTP_MAX_NAMES 100000
#define SFTP_NAME_MAX 4096

/* What the server said about the last failed SFTP call. */
static const char *sftp_reason(bar_ssh *s, int rc)
{
	if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL || !s->sftp)
		return bar_ssh_lib_error(s);
	switch (libssh2_sftp_last_error(s->sftp)) {
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		return "no such file or directory";
	case LIBSSH2_FX_PERMISSION_DENIED:
		return "permission denied";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:
		return "file exists";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
	case LIBSSH2_FX_QUOTA_EXCEEDED:
		return "no space left";
	case LIBSSH2_FX_NOT_A_DIRECTORY:
		return "not a directory";
	case LIBSSH2_FX_FAILURE:
		return "failure (is it a directory?)";
	default:
		return "SFTP error";
	}
}

static int sftp_not_found(bar_ssh *s, int rc)
{
	unsigned long e;

	if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL || !s->sftp)
		return 0;
	e = libssh2_sftp_last_error(s->sftp);
	return e == LIBSSH2_FX_NO_SUCH_FILE || e == LIBSSH2_FX_NO_SUCH_PATH;
}

/* The error code for a failed call: not-found, or -1 (message set). */
static int sftp_fail(bar_ssh *s, int rc, const char *what, const char *path)
{
	int nf = sftp_not_found(s, rc);

	bar_error_set("ssh %s: %s %s: %s", s->where, what, path, sftp_reason(s, rc));
	return nf ? BAR_ENOTFOUND : -1;
}

/* Start the SFTP subsystem once per session. */
static int sftp_ready(bar_ssh *s, int64_t deadline)
{
	int rc;

	if (s->broken)
		return bar_error_set("ssh %s: session unusable after an earlier timeout or "
		                     "transport error; reconnect", s->where);
	while (!s->sftp) {
		s->sftp = libssh2_sftp_init(s->session);
		if (s->sftp)
			break;
		if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_EAGAIN)
			return bar_error_set("ssh %s: start SFTP: %s", s->where,
			                     bar_ssh_lib_error(s));
		if ((rc = bar_ssh_wait_io(s, deadline, "start SFTP", s->timeout_ms)) < 0)
			return rc;
	}
	return 0;
}

static int64_t sftp_deadline(bar_ssh *s, const bar_ssh_xfer_opts *o)
{
	return o && o->deadline_ms ? o->deadline_ms : bar_now_ms() + s->timeout_ms;
}

/* Open a remote file or directory, waiting as needed. */
static int sftp_open(LIBSSH2_SFTP_HANDLE **out, bar_ssh *s, const char *path,
                     unsigned long flags, long mode, int type, int64_t deadline)
{
	LIBSSH2_SFTP_HANDLE *h;
	int rc;

	while (!(h = libssh2_sftp_open_ex(s->sftp, path, (unsigned)strlen(path), flags, mode,
	                                  type))) {
		rc = libssh2_session_last_errno(s->session);
		if (rc != LIBSSH2_ERROR_EAGAIN)
			return sftp_fail(s, rc, "open", path);
		if ((rc = bar_ssh_wait_io(s, deadline, "open", s->timeout_ms)) < 0)
			return rc;
	}
	*out = h;
	return 0;
}

/* Close a handle; a failure to close a written file is a failure. */
static int sftp_close(bar_ssh *s, LIBSSH2_SFTP_HANDLE *h, int64_t deadline,
                      const char *path)
{
	int rc;

	while ((rc = libssh2_sftp_close_handle(h)) == LIBSSH2_ERROR_EAGAIN) {
		if (bar_ssh_wait_io(s, deadline, "close", s->timeout_ms) < 0)
			return -1; /* libssh2 frees the handle with the session */
	}
	return rc == 0 ? 0 : sftp_fail(s, rc, "close", path);
}

static void stat_from_attrs(bar_ssh_stat *out, const LIBSSH2_SFTP_ATTRIBUTES *a)
{
	memset(out, 0, sizeof(*out));
	out->is_dir = LIBSSH2_SFTP_S_ISDIR(a->permissions);
	out->is_file = LIBSSH2_SFTP_S_ISREG(a->permissions);
	out->size = a->filesize;
	out->mode = (unsigned)(a->permissions & 07777);
}

int bar_ssh_sftp_stat(bar_ssh *s, const char *path, bar_ssh_stat *out)
{
	int64_t deadline = bar_now_ms() + s->timeout_ms;
	LIBSSH2_SFTP_ATTRIBUTES a;
	int rc = sftp_ready(s, deadline);

	if (rc < 0)
		return rc;
	while ((rc = libssh2_sftp_stat_ex(s->sftp, path, (unsigned)strlen(path),
	                                  LIBSSH2_SFTP_STAT, &a)) == LIBSSH2_ERROR_EAGAIN) {
		if ((rc = bar_ssh_wait_io(s, deadline, "stat", s->timeout_ms)) < 0)
			return rc;
	}
	if (rc != 0)
		return sftp_fail(s, rc, "stat", path);
	stat_from_attrs(out, &a);
	return 0;
}

int bar_ssh_sftp_mkdir(bar_ssh *s, const char *path, unsigned mode)
{
	int64_t deadline = bar_now_ms() + s->timeout_ms;
	bar_ssh_stat st;
	int rc = sftp_ready(s, deadline);

	if (rc < 0)
		return rc;
	while ((rc = libssh2_sftp_mkdir_ex(s->sftp, path, (unsigned)strlen(path),
	                                   (long)(mode & 07777))) == LIBSSH2_ERROR_EAGAIN) {
		if ((rc = bar_ssh_wait_io(s, deadline, "mkdir", s->timeout_ms)) < 0)
			return rc;
	}
	if (rc == 0)
		return 0;
	/* Servers answer "failure" for an existing directory; look. */
	if (bar_ssh_sftp_stat(s, path, &st) == 0 && st.is_dir)
		return 0;
	return sftp_fail(s, rc, "mkdir", path);
}

void bar_ssh_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read every name of an open directory into a growing array. */
static int sftp_read_names(bar_ssh *s, LIBSSH2_SFTP_HANDLE *h, const char *path,
                           int64_t deadline, char ***names, size_t *n)
{
	char name[SFTP_NAME_MAX];
	size_t cap = 0;

	for (;;) {
		LIBSSH2_SFTP_ATTRIBUTES a;
		int rc = libssh2_sftp_readdir_ex(h, name, sizeof(name), NULL, 0, &a);

		if (rc == LIBSSH2_ERROR_EAGAIN) {
			if ((rc = bar_ssh_wait_io(s, deadline, "list", s->timeout_ms)) < 0)
				return rc;
			continue;
		}
		if (rc < 0)
			return sftp_fail(s, rc, "list", path);
		if (rc == 0)
			return 0;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (*n == SFTP_MAX_NAMES)
			return bar_error_set("ssh %s: list %s: more than %d entries", s->where,
			                     path, SFTP_MAX_NAMES);
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			*names = bar_realloc(*names, cap * sizeof(**names));
		}
		(*names)[(*n)++] = bar_strndup(name, (size_t)rc);
	}
}

int bar_ssh_sftp_list(bar_ssh *s, const char *path, char ***names, size_t *n)
{
	int64_t deadline = bar_now_ms() + s->timeout_ms;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	char **v = NULL;
	size_t count = 0;
	int rc = sftp_ready(s, deadline);

	if (rc == 0)
		rc = sftp_open(&h, s, path, 0, 0, LIBSSH2_SFTP_OPENDIR, deadline);
	if (rc == 0)
		rc = sftp_read_names(s, h, path, deadline, &v, &count);
	if (h && sftp_close(s, h, deadline, path) < 0 && rc == 0)
		rc = -1;
	if (rc < 0) {
		bar_ssh_names_free(v, count);
		return rc;
	}
	if (count)
		qsort(v, count, sizeof(*v), name_cmp);
	*names = v;
	*n = count;
	return 0;
}

/* Send len bytes through the handle; libssh2 wants the same buffer again
 * after EAGAIN, so the loop only ever moves forward by what it accepted. */
static int sftp_write_all(bar_ssh *s, LIBSSH2_SFTP_HANDLE *h, const char *buf, size_t len,
                          int64_t deadline, const char *path)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = libssh2_sftp_write(h, buf + off, len - off);
		int rc;

		if (n == LIBSSH2_ERROR_EAGAIN) {
			if ((rc = bar_ssh_wait_io(s, deadline, "write", s->timeout_ms)) < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return sftp_fail(s, (int)n, "write", path);
		off += (size_t)n;
	}
	return 0;
}

static void progress(const bar_ssh_xfer_opts *o, uint64_t done, uint64_t total)
{
	if (o && o->on_progress)
		o->on_progress(o->ud, done, total);
}

/* Copy the open local fd to the open remote handle. */
static int sftp_send(bar_ssh *s, int fd, LIBSSH2_SFTP_HANDLE *h, uint64_t size,
                     const bar_ssh_xfer_opts *o, int64_t deadline, const char *local,
                     const char *remote, uint64_t *sent)
{
	char *buf = bar_malloc(SFTP_CHUNK);
	int rc = 0;

	*sent = 0;
	for (;;) {
		ssize_t n = read(fd, buf, SFTP_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bar_error_set("read %s: %s", local, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = sftp_write_all(s, h, buf, (size_t)n, deadline, remote)) < 0)
			break;
		*sent += (uint64_t)n;
		progress(o, *sent, size);
	}
	free(buf);
	return rc;
}

int bar_ssh_put(bar_ssh *s, const char *local, const char *remote,
                const bar_ssh_xfer_opts *o, uint64_t *bytes)
{
	int64_t deadline = sftp_deadline(s, o);
	const bar_cancel *saved_cancel = s->cancel;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	bar_ssh_stat rst;
	struct stat st;
	uint64_t sent = 0;
	int fd = open(local, O_RDONLY | O_CLOEXEC), rc;

	if (o && o->cancel)
		s->cancel = o->cancel;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = bar_error_set("%s: %s", local, fd < 0 ? strerror(errno) : "not a regular file");
		goto done;
	}
	if ((rc = sftp_ready(s, deadline)) < 0 ||
	    (rc = sftp_open(&h, s, remote, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
	                    LIBSSH2_FXF_TRUNC, (long)(st.st_mode & 0777), LIBSSH2_SFTP_OPENFILE,
	                    deadline)) < 0)
		goto done;
	rc = sftp_send(s, fd, h, (uint64_t)st.st_size, o, deadline, local, remote, &sent);
	if (sftp_close(s, h, deadline, remote) < 0 && rc == 0)
		rc = -1;
	if (rc == 0 && (rc = bar_ssh_sftp_stat(s, remote, &rst)) == 0 && rst.size != sent)
		rc = bar_error_set("ssh %s: %s is %llu bytes after sending %llu", s->where, remote,
		                   (unsigned long long)rst.size, (unsigned long long)sent);
	if (rc == 0 && bytes)
		*bytes = sent;
done:
	if (fd >= 0)
		close(fd);
	s->cancel = saved_cancel;
	return rc;
}

/* Copy the open remote handle into the open local fd, expecting size. */
static int sftp_receive(bar_ssh *s, LIBSSH2_SFTP_HANDLE *h, int fd, uint64_t size,
                        const bar_ssh_xfer_opts *o, int64_t deadline, const char *local,
                        const char *remote, uint64_t *got)
{
	char *buf = bar_malloc(SFTP_CHUNK);
	int rc = 0;

	*got = 0;
	for (;;) {
		ssize_t n = libssh2_sftp_read(h, buf, SFTP_CHUNK);

		if (n == LIBSSH2_ERROR_EAGAIN) {
			if ((rc = bar_ssh_wait_io(s, deadline, "read", s->timeout_ms)) < 0)
				break;
			continue;
		}
		if (n < 0) {
			rc = sftp_fail(s, (int)n, "read", remote);
			break;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0, w; off < n; off += w) {
			w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0) {
				rc = bar_error_set("write %s: %s", local, strerror(errno));
				goto done;
			}
		}
		*got += (uint64_t)n;
		progress(o, *got, size);
	}
done:
	free(buf);
	return rc;
}

/* Open a remote file for reading and learn its size and mode. */
static int sftp_open_read(LIBSSH2_SFTP_HANDLE **h, bar_ssh *s, const char *remote,
                          int64_t deadline, LIBSSH2_SFTP_ATTRIBUTES *a)
{
	int rc = sftp_open(h, s, remote, LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE, deadline);

	if (rc < 0)
		return rc;
	while ((rc = libssh2_sftp_fstat_ex(*h, a, 0)) == LIBSSH2_ERROR_EAGAIN) {
		if ((rc = bar_ssh_wait_io(s, deadline, "stat", s->timeout_ms)) < 0)
			return rc;
	}
	if (rc != 0)
		return sftp_fail(s, rc, "stat", remote);
	if (!LIBSSH2_SFTP_S_ISREG(a->permissions))
		return bar_error_set("ssh %s: %s is not a regular file", s->where, remote);
	return 0;
}

int bar_ssh_get(bar_ssh *s, const char *remote, const char *local,
                const bar_ssh_xfer_opts *o, uint64_t *bytes)
{
	int64_t deadline = sftp_deadline(s, o);
	const bar_cancel *saved_cancel = s->cancel;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	LIBSSH2_SFTP_ATTRIBUTES a;
	uint64_t got = 0;
	int fd = -1, rc;

	if (o && o->cancel)
		s->cancel = o->cancel;
	if ((rc = sftp_ready(s, deadline)) < 0 ||
	    (rc = sftp_open_read(&h, s, remote, deadline, &a)) < 0)
		goto done;
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)(a.permissions & 0777));
	if (fd < 0) {
		rc = bar_error_set("%s: %s", local, strerror(errno));
		goto done;
	}
	rc = sftp_receive(s, h, fd, a.filesize, o, deadline, local, remote, &got);
	if (rc == 0 && got != a.filesize)
		rc = bar_error_set("ssh %s: %s: received %llu bytes of %llu", s->where, remote,
		                   (unsigned long long)got, (unsigned long long)a.filesize);
	if (close(fd) < 0 && rc == 0)
		rc = bar_error_set("write %s: %s", local, strerror(errno));
	if (rc != 0)
		unlink(local);
	else if (bytes)
		*bytes = got;
done:
	if (h && sftp_close(s, h, deadline, remote) < 0 && rc == 0)
		rc = -1;
	s->cancel = saved_cancel;
	return rc;
}
