/*
 * remote_run.c - running a remote job on many VMs (see remote.h): a small
 * worker pool walks the targets, each worker takes a session, runs the job
 * and hands its output and result to the sink, which splits output into
 * lines, keeps the captured part, and calls the caller's callbacks one at
 * a time.
 *
 * The pool is one function (remote_parallel) so that it can later be
 * replaced by the library's shared scheduler without touching the rest.
 */
#include "remote_int.h"
#include "scheduler.h"
#include "error.h"
#include "ssh_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES (64 * 1024)   /* a longer line is passed on in pieces */
#define NO_TIMEOUT_MS (7 * 86400000) /* "no timeout": a week */
#define CONNECT_TIMEOUT_MS 5000

/* ---- the sink ---- */

typedef struct sink_stream {
	bar_buf line;    /* the unfinished line */
	bar_buf capture; /* what is kept for the result */
	int truncated;
} sink_stream;

typedef struct sink_target {
	sink_stream st[2]; /* stdout, stderr */
	int done;
} sink_target;

struct bar_remote_sink {
	pthread_mutex_t lock;
	bar_remote_opts o;
	bar_remote_results *res;
	sink_target *t;
	size_t n;
};

bar_remote_sink *bar_remote_sink_new(const bar_remote_targets *t, const bar_remote_opts *o,
                                     bar_remote_results *res)
{
	bar_remote_sink *k = bar_calloc(1, sizeof(*k));

	pthread_mutex_init(&k->lock, NULL);
	k->o = *o;
	k->res = res;
	k->n = t->n;
	k->t = bar_calloc(t->n, sizeof(*k->t));
	for (size_t i = 0; i < t->n; i++)
		for (int s = 0; s < 2; s++) {
			k->t[i].st[s].line = (bar_buf)BAR_BUF_INIT(0);
			k->t[i].st[s].capture = (bar_buf)BAR_BUF_INIT(0);
		}
	res->items = bar_calloc(t->n, sizeof(*res->items));
	res->n = t->n;
	return k;
}

void bar_remote_sink_free(bar_remote_sink *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		for (int s = 0; s < 2; s++) {
			bar_buf_free(&k->t[i].st[s].line);
			bar_buf_free(&k->t[i].st[s].capture);
		}
	free(k->t);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static void sink_capture(bar_remote_sink *k, sink_stream *st, const char *data, size_t n)
{
	size_t room = k->o.capture - st->capture.len;

	if (n > room) {
		st->truncated = 1;
		n = room;
	}
	if (n)
		bar_buf_add(&st->capture, data, n);
}

/* Pass every complete line of data on, keeping the unfinished rest. */
static void sink_lines(bar_remote_sink *k, size_t i, int stream, const char *data, size_t n)
{
	sink_stream *st = &k->t[i].st[stream - 1];

	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t len = nl ? (size_t)(nl - data) : n;

		if (!nl && st->line.len + len < LINE_MAX_BYTES) {
			bar_buf_add(&st->line, data, len);
			return;
		}
		if (st->line.len == 0) {
			k->o.on_line(k->o.ud, i, stream, data, len);
		} else {
			bar_buf_add(&st->line, data, len);
			k->o.on_line(k->o.ud, i, stream, st->line.data, st->line.len);
			st->line.len = 0;
		}
		data += len + (nl != NULL);
		n -= len + (nl != NULL);
	}
}

void bar_remote_sink_chunk(bar_remote_sink *k, size_t i, int stream, const char *data,
                           size_t n)
{
	if (i >= k->n || (stream != 1 && stream != 2))
		return;
	pthread_mutex_lock(&k->lock);
	if (k->o.on_chunk) {
		k->o.on_chunk(k->o.ud, i, stream, data, n);
	} else {
		if (k->o.capture)
			sink_capture(k, &k->t[i].st[stream - 1], data, n);
		if (k->o.on_line)
			sink_lines(k, i, stream, data, n);
	}
	pthread_mutex_unlock(&k->lock);
}

void bar_remote_sink_progress(bar_remote_sink *k, size_t i, uint64_t done, uint64_t total)
{
	if (i >= k->n || !k->o.on_progress)
		return;
	pthread_mutex_lock(&k->lock);
	k->o.on_progress(k->o.ud, i, done, total);
	pthread_mutex_unlock(&k->lock);
}

void bar_remote_sink_done(bar_remote_sink *k, size_t i, bar_remote_result *r)
{
	bar_remote_result *dst;

	if (i >= k->n)
		return;
	pthread_mutex_lock(&k->lock);
	dst = &k->res->items[i];
	if (k->t[i].done) {
		free(r->error);
		pthread_mutex_unlock(&k->lock);
		return;
	}
	*dst = *r;
	dst->out = dst->err = NULL;
	for (int s = 0; s < 2; s++) {
		sink_stream *st = &k->t[i].st[s];

		if (st->line.len && k->o.on_line)
			k->o.on_line(k->o.ud, i, s + 1, st->line.data, st->line.len);
		st->line.len = 0;
	}
	if (k->o.capture) {
		dst->out_len = k->t[i].st[0].capture.len;
		dst->out = bar_buf_take(&k->t[i].st[0].capture);
		dst->out_truncated = k->t[i].st[0].truncated;
		dst->err_len = k->t[i].st[1].capture.len;
		dst->err = bar_buf_take(&k->t[i].st[1].capture);
		dst->err_truncated = k->t[i].st[1].truncated;
	}
	k->t[i].done = 1;
	if (k->o.on_done)
		k->o.on_done(k->o.ud, i, dst);
	pthread_mutex_unlock(&k->lock);
}

int bar_remote_sink_finished(bar_remote_sink *k, size_t i)
{
	int done;

	pthread_mutex_lock(&k->lock);
	done = i < k->n && k->t[i].done;
	pthread_mutex_unlock(&k->lock);
	return done;
}

/* ---- the walk: the shared scheduler, one slot, no dependencies ---- */

typedef struct pool_walk {
	void (*fn)(void *ud, size_t i);
	void *ud;
} pool_walk;

static int pool_run(void *ud, size_t i, int *throttled)
{
	pool_walk *w = ud;

	(void)throttled;
	w->fn(w->ud, i); /* each target's outcome is in its result */
	return 0;
}

/* Call fn(ud, i) for every i < n, at most `width` at a time, and wait. */
static void remote_parallel(size_t n, int width, void (*fn)(void *ud, size_t i), void *ud)
{
	pool_walk w = { .fn = fn, .ud = ud };
	bar_sched_opts so = BAR_SCHED_OPTS_INIT;
	bar_sched_summary sum;
	bar_sched *s = NULL;

	so.workers = width;
	so.stack_size = 512 * 1024; /* a hundred workers, each a small SSH loop */
	so.run = pool_run;
	so.ud = &w;
	bar_sched_new(&s, n, 1);
	if (bar_sched_run(s, &so, &sum) < 0 && sum.done == 0)
		for (size_t i = 0; i < n; i++) /* no threads to be had: do it here */
			fn(ud, i);
	bar_sched_free(s);
}

/* ---- one target ---- */

typedef struct run_ctx {
	const bar_remote_targets *t;
	const bar_remote_job *job;
	const bar_remote_opts *o;
	bar_remote_sink *sink;
} run_ctx;

typedef struct out_ctx {
	bar_remote_sink *sink;
	size_t i;
} out_ctx;

static int on_output(void *ud, int stream, const char *data, size_t n)
{
	out_ctx *c = ud;

	bar_remote_sink_chunk(c->sink, c->i, stream, data, n);
	return 0;
}

static int canceled(const run_ctx *c)
{
	return bar_cancel_cancelled(c->o->cancel);
}

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - bar_now_ms();

	return left > 1 ? (int)left : 1;
}

/* A session to the target: from the pool, or a new one (fresh forces new). */
/* SSH options for one machine (the target or its bastion). */
static int session_opts(bar_ssh_opts *so, const run_ctx *c, const bar_remote_target *t,
                        int64_t deadline)
{
	int connect_ms = c->job->connect_timeout_ms > 0 ? c->job->connect_timeout_ms
	                                                : CONNECT_TIMEOUT_MS;

	if (!t->host || !*t->host || !t->host_key || !t->key_path)
		return bar_error_set("%s: no %s recorded in state (status %s)", t->name,
		                     !t->host || !*t->host ? "address" : !t->host_key ? "host key"
		                                                                       : "SSH key",
		                     t->status), BAR_EINVALID;
	so->host = t->host;
	so->port = t->port;
	so->user = t->user;
	so->private_key_path = t->key_path;
	so->host_key = t->host_key;
	so->connect_timeout_ms = connect_ms < remaining_ms(deadline) ? connect_ms
	                                                             : remaining_ms(deadline);
	so->timeout_ms = remaining_ms(deadline);
	so->cancel = c->o->cancel;
	so->name = t->name;
	return 0;
}

static int session_open(const run_ctx *c, const bar_remote_target *t, int64_t deadline,
                        int fresh, bar_ssh **s, int *reused)
{
	bar_ssh_opts so = BAR_SSH_OPTS_INIT, via = BAR_SSH_OPTS_INIT;
	char *identity;
	int rc;

	if (t->via_error)
		return bar_error_set("%s", t->via_error), BAR_EINVALID;
	if ((rc = session_opts(&so, c, t, deadline)) < 0)
		return rc;
	if (t->via) {
		if ((rc = session_opts(&via, c, t->via, deadline)) < 0) {
			bar_error_prefix("%s: bastion", t->name);
			return rc;
		}
		so.via = &via;
	}
	*reused = 0;
	if (!c->o->pool || fresh)
		return bar_ssh_connect(s, &so);
	identity = bar_printf("%s|%s", t->address, t->system_id);
	rc = bar_ssh_pool_get(c->o->pool, s, &so, identity, reused);
	free(identity);
	return rc;
}

static void session_close(const run_ctx *c, bar_ssh *s)
{
	if (c->o->pool)
		bar_ssh_pool_put(c->o->pool, s);
	else
		bar_ssh_free(s);
}

/* Run the job on the session; *exit_code for a command. */
static int job_run(const run_ctx *c, size_t i, bar_ssh *s, int64_t deadline,
                   bar_remote_result *r)
{
	if (c->job->kind == BAR_REMOTE_EXEC) {
		bar_ssh_exec_opts eo = BAR_SSH_EXEC_OPTS_INIT;
		out_ctx oc = { c->sink, i };

		eo.on_output = on_output;
		eo.ud = &oc;
		eo.cancel = c->o->cancel;
		eo.timeout_ms = remaining_ms(deadline);
		return bar_ssh_exec_stream(s, c->job->command, &eo, &r->exit_code);
	} else {
		bar_remote_cp_ctx cc = { c->sink, i, c->o->cancel, deadline, 0, 0 };

		return bar_remote_cp(s, &c->t->items[i], c->job, &cc, &r->bytes);
	}
}

static bar_remote_outcome outcome_of(const run_ctx *c, int rc, int exit_code)
{
	if (rc == 0)
		return c->job->kind == BAR_REMOTE_EXEC && exit_code != 0 ? BAR_REMOTE_EXIT
		                                                        : BAR_REMOTE_OK;
	if (rc == BAR_ECANCELED || canceled(c))
		return BAR_REMOTE_CANCELED;
	return rc == BAR_SSH_ETIMEOUT ? BAR_REMOTE_TIMEOUT : BAR_REMOTE_ERROR;
}

static void run_one(void *ud, size_t i)
{
	run_ctx *c = ud;
	const bar_remote_target *t = &c->t->items[i];
	bar_remote_result r = { .exit_code = -1 };
	int timeout = c->job->timeout_ms > 0 ? c->job->timeout_ms : NO_TIMEOUT_MS;
	int64_t start = bar_now_ms(), deadline = start + timeout;
	bar_ssh *s = NULL;
	int rc = BAR_ECANCELED;

	if (canceled(c)) {
		bar_error_set("canceled before it started");
		goto done;
	}
	rc = session_open(c, t, deadline, 0, &s, &r.reused);
	if (rc != 0) {
		r.outcome = canceled(c) ? BAR_REMOTE_CANCELED : rc == BAR_EINVALID
		                              ? BAR_REMOTE_ERROR : BAR_REMOTE_UNREACHABLE;
		goto failed;
	}
	rc = job_run(c, i, s, deadline, &r);
	if (rc == BAR_ERETRY && r.reused) { /* a kept session the server dropped */
		bar_ssh_free(s);
		s = NULL;
		rc = session_open(c, t, deadline, 1, &s, &r.reused);
		if (rc != 0) {
			r.outcome = canceled(c) ? BAR_REMOTE_CANCELED : BAR_REMOTE_UNREACHABLE;
			goto failed;
		}
		rc = job_run(c, i, s, deadline, &r);
	}
done:
	r.outcome = outcome_of(c, rc, r.exit_code);
failed:
	if (r.outcome != BAR_REMOTE_OK && r.outcome != BAR_REMOTE_EXIT)
		r.error = bar_strdup(bar_error_last());
	session_close(c, s);
	r.duration_s = (double)(bar_now_ms() - start) / 1000.0;
	bar_remote_sink_done(c->sink, i, &r);
}

static int job_check(const bar_remote_job *job)
{
	if (!job || job->version != BAR_REMOTE_JOB_VERSION)
		return bar_error_set("remote: unknown job version"), BAR_EINVALID;
	if (job->kind == BAR_REMOTE_EXEC && (!job->command || !*job->command))
		return bar_error_set("remote: no command"), BAR_EINVALID;
	if (job->kind != BAR_REMOTE_EXEC && (!job->local || !job->remote || !*job->remote))
		return bar_error_set("remote: copy needs a local and a remote path"), BAR_EINVALID;
	if (job->kind > BAR_REMOTE_GET)
		return bar_error_set("remote: unknown job kind %d", (int)job->kind), BAR_EINVALID;
	return 0;
}

int bar_remote_run(bar_remote_results *out, const bar_remote_targets *t,
                   const bar_remote_job *job, const bar_remote_opts *o)
{
	bar_remote_results res = { NULL, 0 };
	run_ctx c = { t, job, o, NULL };
	int rc = job_check(job);

	if (rc < 0)
		return rc;
	if (!o || o->version != BAR_REMOTE_OPTS_VERSION)
		return bar_error_set("remote: unknown options version"), BAR_EINVALID;
	c.sink = bar_remote_sink_new(t, o, &res);
	remote_parallel(t->n, o->parallel > 0 ? o->parallel : BAR_REMOTE_PARALLEL, run_one, &c);
	bar_remote_sink_free(c.sink);
	*out = res;
	return 0;
}
