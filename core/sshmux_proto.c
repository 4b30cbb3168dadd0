/*
 * sshmux_proto.c - the broker's wire format (see sshmux_int.h): bounded
 * line I/O on unix sockets, peer credentials, and the JSON of requests and
 * events.  Output travels base64-encoded, since a command may print bytes
 * that are not UTF-8.
 */
#include "sshmux_int.h"
#include "remote_int.h"
#include "error.h"
#include "ssh_b64.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLICE_MS 100

void bar_mux_reader_init(bar_mux_reader *r, int fd, size_t max)
{
	r->fd = fd;
	r->buf = (bar_buf)BAR_BUF_INIT(0);
	r->max = max;
	r->used = 0;
}

void bar_mux_reader_free(bar_mux_reader *r)
{
	bar_buf_free(&r->buf);
}

/* Drop the line last returned (and its newline) from the buffer. */
static void reader_consume(bar_mux_reader *r)
{
	if (!r->used)
		return;
	memmove(r->buf.data, r->buf.data + r->used, r->buf.len - r->used);
	r->buf.len -= r->used;
	r->buf.data[r->buf.len] = '\0';
	r->used = 0;
}

/* A complete line in the buffer? Terminate it there. */
static int reader_take(bar_mux_reader *r, const char **line)
{
	char *nl = r->buf.data ? memchr(r->buf.data, '\n', r->buf.len) : NULL;

	if (!nl)
		return 0;
	*nl = '\0';
	*line = r->buf.data;
	r->used = (size_t)(nl - r->buf.data) + 1;
	return 1;
}

int bar_mux_read_line(bar_mux_reader *r, const char **line, int timeout_ms,
                      const bar_cancel *cancel)
{
	int64_t deadline = bar_now_ms() + timeout_ms;
	char chunk[65536];

	reader_consume(r);
	while (!reader_take(r, line)) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int64_t left = deadline - bar_now_ms();
		ssize_t n;

		if (r->buf.len > r->max)
			return bar_error_set("session broker: line longer than %zu bytes", r->max);
		if (bar_cancel_cancelled(cancel))
			return BAR_ECANCELED;
		if (left <= 0)
			return BAR_SSH_ETIMEOUT;
		if (poll(&pfd, 1, (int)(left < SLICE_MS ? left : SLICE_MS)) <= 0)
			continue;
		n = recv(r->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return bar_error_set("session broker: read: %s", strerror(errno));
		if (n == 0)
			return 0;
		bar_buf_add(&r->buf, chunk, (size_t)n);
	}
	return 1;
}

static int send_all(int fd, const char *p, size_t n, int timeout_ms)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return bar_error_set("session broker: write: %s", strerror(errno));
		if (w < 0 && errno == EAGAIN && poll(&pfd, 1, timeout_ms) == 0)
			return bar_error_set("session broker: peer not reading for %d ms", timeout_ms);
	}
	return 0;
}

int bar_mux_send(int fd, const json_t *j, pthread_mutex_t *lock, int timeout_ms)
{
	char *text = json_dumps(j, JSON_COMPACT);
	size_t n;
	int rc;

	if (!text)
		return bar_error_set("session broker: cannot encode a message");
	n = strlen(text);
	text = bar_realloc(text, n + 2);
	text[n] = '\n';
	if (lock)
		pthread_mutex_lock(lock);
	rc = send_all(fd, text, n + 1, timeout_ms);
	if (lock)
		pthread_mutex_unlock(lock);
	free(text);
	return rc;
}

int bar_mux_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       cred.uid == geteuid();
}

/* ---- requests ---- */

static const char *const kinds[] = { "exec", "put", "get" };

/* A target, with its bastion as a nested target. */
static json_t *target_json(const bar_remote_target *x)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i, s:s, s:s, s:s?, s:s?, s:s?}",
	                      "name", x->name, "address", x->address, "group", x->group,
	                      "status", x->status, "host", x->host, "port", x->port, "user",
	                      x->user, "system_id", x->system_id, "host_key", x->host_key,
	                      "key_path", x->key_path, "via_error", x->via_error);

	if (x->via)
		json_object_set_new(o, "via", target_json(x->via));
	return o;
}

json_t *bar_mux_request_json(const bar_remote_targets *t, const bar_remote_job *job,
                             int parallel)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < t->n; i++)
		json_array_append_new(arr, target_json(&t->items[i]));
	return json_pack("{s:s, s:i, s:{s:s, s:s?, s:s?, s:s?, s:b, s:i, s:i}, s:o}", "op",
	                 "run", "parallel", parallel, "job", "kind", kinds[job->kind],
	                 "command", job->command, "local", job->local, "remote", job->remote,
	                 "recursive", job->recursive, "timeout_ms", job->timeout_ms,
	                 "connect_timeout_ms", job->connect_timeout_ms, "targets", arr);
}

static char *opt_str(const json_t *o, const char *key)
{
	return bar_strdup(json_string_value(json_object_get(o, key)));
}

/* A target; depth 0 may carry a bastion (one hop only). */
static int target_parse(bar_remote_target *x, const json_t *o, int depth)
{
	x->name = opt_str(o, "name");
	x->address = opt_str(o, "address");
	x->group = opt_str(o, "group");
	x->status = opt_str(o, "status");
	x->host = opt_str(o, "host");
	x->port = (int)json_integer_value(json_object_get(o, "port"));
	x->user = opt_str(o, "user");
	x->system_id = opt_str(o, "system_id");
	x->host_key = opt_str(o, "host_key");
	x->key_path = opt_str(o, "key_path");
	x->via_error = opt_str(o, "via_error");
	if (json_is_object(json_object_get(o, "via")) && depth == 0) {
		x->via = bar_calloc(1, sizeof(*x->via));
		if (target_parse(x->via, json_object_get(o, "via"), 1) < 0)
			return -1;
	}
	if (!x->name || !x->address || !x->group || !x->status || !x->user || !x->system_id ||
	    x->port <= 0 || x->port > 65535)
		return bar_error_set("session broker: malformed target");
	return 0;
}

int bar_mux_request_parse(const json_t *j, bar_remote_targets *t, bar_remote_job *job,
                          int *parallel)
{
	const json_t *jo = json_object_get(j, "job"), *arr = json_object_get(j, "targets");
	const char *kind = json_string_value(json_object_get(jo, "kind"));
	bar_remote_job jb = BAR_REMOTE_JOB_INIT;
	size_t i;
	json_t *x;

	if (!json_is_object(jo) || !json_is_array(arr) || !kind ||
	    json_array_size(arr) > MUX_TARGETS_MAX)
		return bar_error_set("session broker: malformed request");
	for (jb.kind = BAR_REMOTE_EXEC; jb.kind <= BAR_REMOTE_GET; jb.kind++)
		if (!strcmp(kind, kinds[jb.kind]))
			break;
	if (jb.kind > BAR_REMOTE_GET)
		return bar_error_set("session broker: unknown job kind \"%s\"", kind);
	jb.command = json_string_value(json_object_get(jo, "command"));
	jb.local = json_string_value(json_object_get(jo, "local"));
	jb.remote = json_string_value(json_object_get(jo, "remote"));
	jb.recursive = json_is_true(json_object_get(jo, "recursive"));
	jb.timeout_ms = (int)json_integer_value(json_object_get(jo, "timeout_ms"));
	jb.connect_timeout_ms = (int)json_integer_value(json_object_get(jo, "connect_timeout_ms"));
	memset(t, 0, sizeof(*t));
	t->items = bar_calloc(json_array_size(arr), sizeof(*t->items));
	json_array_foreach(arr, i, x) {
		t->n = i + 1;
		if (target_parse(&t->items[i], x, 0) < 0) {
			bar_remote_targets_clear(t);
			return -1;
		}
	}
	*job = jb;
	*parallel = (int)json_integer_value(json_object_get(j, "parallel"));
	return 0;
}

/* ---- events ---- */

json_t *bar_mux_event_chunk(size_t i, int stream, const char *data, size_t n)
{
	char *b64 = bar_malloc(BAR_B64_LEN(n) + 1);
	json_t *j;

	bar_b64_encode(b64, data, n, 1);
	j = json_pack("{s:s, s:I, s:i, s:s}", "ev", "out", "i", (json_int_t)i, "s", stream, "d",
	              b64);
	free(b64);
	return j;
}

json_t *bar_mux_event_progress(size_t i, uint64_t done, uint64_t total)
{
	return json_pack("{s:s, s:I, s:I, s:I}", "ev", "progress", "i", (json_int_t)i, "done",
	                 (json_int_t)done, "total", (json_int_t)total);
}

json_t *bar_mux_event_done(size_t i, const bar_remote_result *r)
{
	return json_pack("{s:s, s:I, s:s, s:i, s:s?, s:f, s:I, s:b}", "ev", "done", "i",
	                 (json_int_t)i, "outcome", bar_remote_outcome_name(r->outcome), "exit",
	                 r->exit_code, "error", r->error, "duration_s", r->duration_s, "bytes",
	                 (json_int_t)r->bytes, "reused", r->reused);
}

static void apply_done(bar_remote_sink *k, size_t i, const json_t *ev)
{
	const char *name = json_string_value(json_object_get(ev, "outcome"));
	bar_remote_result r = { .exit_code = -1 };

	r.outcome = BAR_REMOTE_ERROR;
	for (int o = BAR_REMOTE_OK; o <= BAR_REMOTE_ERROR; o++)
		if (name && !strcmp(name, bar_remote_outcome_name((bar_remote_outcome)o)))
			r.outcome = (bar_remote_outcome)o;
	r.exit_code = (int)json_integer_value(json_object_get(ev, "exit"));
	r.error = bar_strdup(json_string_value(json_object_get(ev, "error")));
	r.duration_s = json_number_value(json_object_get(ev, "duration_s"));
	r.bytes = (uint64_t)json_integer_value(json_object_get(ev, "bytes"));
	r.reused = json_is_true(json_object_get(ev, "reused"));
	bar_remote_sink_done(k, i, &r);
}

int bar_mux_event_apply(bar_remote_sink *k, const json_t *ev, size_t n, int *end)
{
	const char *kind = json_string_value(json_object_get(ev, "ev"));
	json_int_t i = json_integer_value(json_object_get(ev, "i"));

	if (kind && !strcmp(kind, "end")) {
		*end = 1;
		if (json_object_get(ev, "error"))
			return bar_error_set("session broker: %s",
			                     json_string_value(json_object_get(ev, "error")));
		return 0;
	}
	if (!kind || i < 0 || (size_t)i >= n)
		return 0; /* not for us: ignore */
	if (!strcmp(kind, "out")) {
		const char *d = json_string_value(json_object_get(ev, "d"));
		unsigned char *bytes = NULL;
		size_t len = 0;

		if (d && bar_b64_decode(&bytes, &len, d, strlen(d)) == 0)
			bar_remote_sink_chunk(k, (size_t)i,
			                      (int)json_integer_value(json_object_get(ev, "s")),
			                      (const char *)bytes, len);
		free(bytes);
	} else if (!strcmp(kind, "progress")) {
		bar_remote_sink_progress(k, (size_t)i,
		                         (uint64_t)json_integer_value(json_object_get(ev, "done")),
		                         (uint64_t)json_integer_value(json_object_get(ev, "total")));
	} else if (!strcmp(kind, "done")) {
		apply_done(k, (size_t)i, ev);
	}
	return 0;
}
