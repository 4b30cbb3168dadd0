/*
 * state.c - the generic layer of the state store (see state.h): picks the
 * backend for a location (state_backend.h), keeps the handle's lock, and
 * turns every bar_state_* call into a backend call carrying the handle's
 * write condition (its fencing token while it holds the lock).
 *
 * The lock policy lives here, once for every backend: who may take a held
 * lock over (an expired lease on another host, a dead process on this host;
 * never a live process on this host), waiting for a holder, the lease and the
 * keepalive thread that renews it every third of its length.  Backends only
 * supply atomic primitives: read the lock, take it if it still carries the
 * token we looked at, renew or remove the lock carrying a token.
 */
#include "state.h"
#include "state_backend.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LEASE_MS 30000
#define MAX_BACKENDS 8

struct bar_state {
	const bar_state_backend *be;
	void *data; /* the backend's */
	char *location;
	char lineage[40];
	unsigned flags;
	_Atomic int64_t token; /* fencing token of the lock held; 0: none */
	pthread_mutex_t mu;    /* the keepalive's fields */
	pthread_cond_t cv;
	pthread_t keeper;
	int keeping, stop;
	int64_t lease_ms;
};

/* ---- backends ---- */

static const bar_state_backend *backends[MAX_BACKENDS] = {&bar_state_sqlite_backend};
static size_t n_backends = 1;
static pthread_mutex_t backends_mu = PTHREAD_MUTEX_INITIALIZER;

/* Backends planned but not in this build, for a clear message. */
static const char *const planned[] = {"etcd", NULL};

static int same_scheme(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int bar_state_backend_register(const bar_state_backend *b)
{
	int rc = 0;

	if (b->version != BAR_STATE_BACKEND_VERSION)
		return bar_error_setc(BAR_EINVALID, "state backend %s: version %u; this barista "
		                      "speaks version %d", b->name ? b->name : "?", b->version,
		                      BAR_STATE_BACKEND_VERSION);
	if (!BAR_COVERS(b, refresh) || !b->name || !b->open || !b->close || !b->meta ||
	    !b->load || !b->get || !b->put || !b->del || !b->intent_put || !b->intent_get ||
	    !b->intent_list || !b->intent_del || !b->lock_info || !b->lock || !b->unlock)
		return bar_error_setc(BAR_EINVALID, "state backend %s: table too small or a "
		                      "required callback missing", b->name ? b->name : "?");
	pthread_mutex_lock(&backends_mu);
	for (size_t i = 0; i < n_backends && rc == 0; i++)
		if (same_scheme(backends[i]->scheme, b->scheme))
			rc = bar_error_setc(BAR_ECONFLICT, "state backend %s: scheme \"%s\" is "
			                    "served by %s already", b->name,
			                    b->scheme ? b->scheme : "(paths)", backends[i]->name);
	if (rc == 0 && n_backends == MAX_BACKENDS)
		rc = bar_error_set("state backend %s: too many backends", b->name);
	if (rc == 0)
		backends[n_backends++] = b;
	pthread_mutex_unlock(&backends_mu);
	return rc;
}

/* The scheme of "<scheme>://rest" into buf; 0 for a plain path. */
static int location_scheme(const char *loc, char *buf, size_t size)
{
	size_t n = strspn(loc, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

	if (n == 0 || n >= size || strncmp(loc + n, "://", 3) != 0)
		return 0;
	memcpy(buf, loc, n);
	buf[n] = '\0';
	return 1;
}

static int find_backend(const bar_state_backend **out, const char *location)
{
	char scheme[32];
	int has = location_scheme(location, scheme, sizeof(scheme));
	const bar_state_backend *found = NULL;

	pthread_mutex_lock(&backends_mu);
	for (size_t i = 0; i < n_backends && !found; i++)
		if (same_scheme(backends[i]->scheme, has ? scheme : NULL))
			found = backends[i];
	pthread_mutex_unlock(&backends_mu);
	if (found) {
		*out = found;
		return 0;
	}
	for (size_t i = 0; planned[i]; i++)
		if (!strcmp(planned[i], scheme))
			return bar_error_setc(BAR_ENOTSUP, "state %s: the %s backend is not built in "
			                      "yet (this barista has sqlite: give -state a file path)",
			                      location, scheme);
	return bar_error_setc(BAR_EINVALID, "state %s: no state backend for \"%s://\" (this "
	                      "barista has sqlite: give -state a file path)", location, scheme);
}

/* ---- the handle ---- */

int bar_state_open(bar_state **out, const char *location, unsigned flags)
{
	const bar_state_backend *be = NULL;
	bar_state_meta m;
	bar_state *st;
	int rc;

	if ((rc = find_backend(&be, location)) < 0)
		return rc;
	st = bar_calloc(1, sizeof(*st));
	st->be = be;
	st->location = bar_strdup(location);
	st->flags = flags;
	pthread_mutex_init(&st->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&st->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if ((rc = be->open(&st->data, location, flags)) < 0 || (rc = be->meta(st->data, &m)) < 0) {
		bar_state_free(st);
		return rc;
	}
	snprintf(st->lineage, sizeof(st->lineage), "%s", m.lineage);
	*out = st;
	return 0;
}

void bar_state_free(bar_state *st)
{
	if (!st)
		return;
	bar_state_unlock(st);
	if (st->data)
		st->be->close(st->data);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st->location);
	free(st);
}

const char *bar_state_lineage(bar_state *st)
{
	return st->lineage;
}

const char *bar_state_location(bar_state *st)
{
	return st->location;
}

int bar_state_serial(bar_state *st, int64_t *out)
{
	bar_state_meta m;
	int rc = st->be->meta(st->data, &m);

	if (rc == 0)
		*out = m.serial;
	return rc;
}

int bar_state_load(bar_state *st, bar_records *out)
{
	return st->be->load(st->data, out);
}

int bar_state_get(bar_state *st, const char *address, bar_record *out)
{
	return st->be->get(st->data, address, out);
}

int bar_state_intents(bar_state *st, bar_intents *out)
{
	return st->be->intent_list(st->data, out);
}

int bar_state_intent_get(bar_state *st, const char *address, bar_intent *out)
{
	return st->be->intent_get(st->data, address, out);
}

/* The condition of a write through this handle; -1 when it may not write. */
static int write_cond(bar_state *st, int64_t serial, bar_state_cond *out)
{
	if (st->flags & BAR_STATE_READONLY)
		return bar_error_set("state %s is open read-only", st->location);
	*out = (bar_state_cond){.serial = serial, .token = atomic_load(&st->token)};
	return 0;
}

int bar_state_put_cas(bar_state *st, const bar_record *r, int64_t expected_serial)
{
	bar_state_cond c;
	int rc = write_cond(st, expected_serial, &c);

	if (rc == 0)
		rc = st->be->put(st->data, r, &c);
	if (rc < 0)
		bar_error_prefix("recording %s", r->address);
	return rc;
}

int bar_state_put(bar_state *st, const bar_record *r)
{
	return bar_state_put_cas(st, r, BAR_STATE_ANY);
}

int bar_state_delete(bar_state *st, const char *address)
{
	bar_state_cond c;
	int rc = write_cond(st, BAR_STATE_ANY, &c);

	return rc < 0 ? rc : st->be->del(st->data, address, &c);
}

int bar_state_intent_put(bar_state *st, const bar_intent *in)
{
	bar_state_cond c;
	int rc = write_cond(st, BAR_STATE_ANY, &c);

	return rc < 0 ? rc : st->be->intent_put(st->data, in, &c);
}

int bar_state_intent_delete(bar_state *st, const char *address)
{
	bar_state_cond c;
	int rc = write_cond(st, BAR_STATE_ANY, &c);

	return rc < 0 ? rc : st->be->intent_del(st->data, address, &c);
}

/* ---- the lock ---- */

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pid_alive(int64_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void host_name(char *buf, size_t size)
{
	buf[0] = '\0';
	gethostname(buf, size - 1);
	buf[size - 1] = '\0';
}

/* What a stored lock is to us. */
enum { LOCK_STALE, LOCK_ALIVE_HERE, LOCK_LEASED, LOCK_UNKNOWN };

static int lock_status(const bar_lock_info *l)
{
	char host[256];

	host_name(host, sizeof(host));
	if (l->host && !strcmp(l->host, host))
		return l->pid == getpid() || !pid_alive(l->pid) ? LOCK_STALE : LOCK_ALIVE_HERE;
	if (l->expires_ms == 0)
		return LOCK_UNKNOWN; /* no lease (an older barista took it) */
	return l->expires_ms > wall_ms() ? LOCK_LEASED : LOCK_STALE;
}

static void format_time(char *buf, size_t size, int64_t unix_s)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
}

void bar_lock_info_format(const bar_lock_info *l, char *buf, size_t size)
{
	char since[40], until[40] = "";

	format_time(since, sizeof(since), l->since);
	if (l->expires_ms)
		format_time(until, sizeof(until), l->expires_ms / 1000);
	snprintf(buf, size, "%s (pid %lld on %s, user %s, since %s, %s%s, token %lld)",
	         l->operation ? l->operation : "?", (long long)l->pid, l->host ? l->host : "?",
	         l->user ? l->user : "unknown", since, l->expires_ms ? "lease until " : "no lease",
	         until, (long long)l->token);
}

/* BAR_ELOCKED: `l` is held, with what to do about it.  `prefix` leads. */
static int locked_error(bar_state *st, const bar_lock_info *l, int status, const char *prefix,
                        int unlocking)
{
	char who[1024];
	const char *hint =
	    status == LOCK_ALIVE_HERE
	        ? "it is alive on this host, so the lock stays: wait for it to finish or stop "
	          "it (its lock goes when it exits)"
	    : status == LOCK_LEASED
	        ? "its holder renews the lease while it runs: wait for it to finish; if it is "
	          "gone, the lock can be taken once the lease has expired"
	        : "if that process is gone, run `barista state unlock`";

	bar_lock_info_format(l, who, sizeof(who));
	return bar_error_setc(BAR_ELOCKED, "%sstate %s is locked by %s; %s%s", prefix, st->location,
	                      who, hint,
	                      unlocking ? " (`barista state unlock -force` removes it anyway: "
	                                  "only when you know it is gone, as two runs at once "
	                                  "can duplicate resources)" : "");
}

void bar_lock_info_clear(bar_lock_info *l)
{
	if (!l)
		return;
	free(l->host);
	free(l->user);
	free(l->operation);
	memset(l, 0, sizeof(*l));
}

int bar_state_lock_get(bar_state *st, bar_lock_info *out)
{
	int rc = st->be->lock_info(st->data, out);

	if (rc == BAR_ENOTFOUND)
		bar_error_setc(rc, "state %s is not locked", st->location);
	return rc;
}

static int64_t lease_of(const bar_state_lock_opts *o)
{
	const char *env = getenv("BARISTA_LOCK_LEASE_MS");
	int64_t ms = o->lease_ms;

	if (ms <= 0 && env)
		ms = strtoll(env, NULL, 10);
	return ms > 0 ? (ms < 30 ? 30 : ms) : DEFAULT_LEASE_MS;
}

/* Renew the lease every third of it until told to stop, or until the lock
 * turns out to be taken over (the next write then fails, fenced). */
static void *keeper_main(void *arg)
{
	bar_state *st = arg;
	struct timespec ts;

	pthread_mutex_lock(&st->mu);
	while (!st->stop) {
		int64_t at = bar_now_ms() + st->lease_ms / 3;

		ts.tv_sec = at / 1000;
		ts.tv_nsec = (long)(at % 1000) * 1000000L;
		if (pthread_cond_timedwait(&st->cv, &st->mu, &ts) == ETIMEDOUT && !st->stop) {
			int64_t token = atomic_load(&st->token), lease = st->lease_ms;
			int rc;

			pthread_mutex_unlock(&st->mu);
			rc = st->be->refresh(st->data, token, wall_ms() + lease);
			pthread_mutex_lock(&st->mu);
			if (rc == BAR_ELOCKED)
				break;
		}
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* One attempt: take the lock unless someone may keep it.  BAR_ELOCKED with
 * the holder in *held (the caller's) when it is held. */
static int try_lock(bar_state *st, const bar_lock_info *want, bar_lock_info *held,
                    int *status)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		bar_lock_info cur = {0};
		int64_t expect = 0, token = 0;
		int rc = st->be->lock_info(st->data, &cur);

		if (rc == 0) {
			if ((*status = lock_status(&cur)) != LOCK_STALE) {
				*held = cur;
				return BAR_ELOCKED;
			}
			expect = cur.token;
			bar_lock_info_clear(&cur);
		} else if (rc != BAR_ENOTFOUND) {
			return rc;
		}
		rc = st->be->lock(st->data, want, expect, &token);
		if (rc == 0) {
			atomic_store(&st->token, token);
			return 0;
		}
		if (rc != BAR_ECONFLICT)
			return rc;
		/* another process moved between our look and our write: look again */
	}
	return bar_error_setc(BAR_ECONFLICT, "state %s: the lock keeps changing hands; try "
	                      "again", st->location);
}

/* Start renewing the lease this handle now holds. */
static void start_keeper(bar_state *st)
{
	pthread_mutex_lock(&st->mu);
	st->stop = 0;
	st->keeping = pthread_create(&st->keeper, NULL, keeper_main, st) == 0;
	pthread_mutex_unlock(&st->mu);
}

/* Poll for the lock until it is taken, the deadline passes or the wait is
 * cancelled. */
static int wait_lock(bar_state *st, const bar_lock_info *want, const bar_state_lock_opts *o)
{
	int64_t start = bar_now_ms();
	bar_lock_info held = {0};
	int status = 0, rc;

	for (;;) {
		rc = try_lock(st, want, &held, &status);
		if (rc != BAR_ELOCKED)
			return rc;
		if (bar_now_ms() - start >= o->timeout_ms)
			break;
		bar_lock_info_clear(&held);
		if (bar_cancel_stopping(o->cancel))
			return bar_error_setc(BAR_ECANCELED, "state %s: stopped waiting for the lock",
			                      st->location);
		bar_sleep_ms(200, start + o->timeout_ms, o->cancel);
	}
	if (o->timeout_ms > 0) {
		char prefix[96];

		snprintf(prefix, sizeof(prefix), "gave up waiting for the lock after %.1fs: ",
		         (double)o->timeout_ms / 1000);
		rc = locked_error(st, &held, status, prefix, 0);
	} else {
		rc = locked_error(st, &held, status, "", 0);
	}
	bar_lock_info_clear(&held);
	return rc;
}

int bar_state_lock_ex(bar_state *st, const bar_state_lock_opts *o)
{
	char host[256], user[64];
	struct passwd pw, *pwp = NULL;
	char pwbuf[1024];
	int has_lease = BAR_HAS(st->be, refresh), rc;
	bar_lock_info want;

	if (st->flags & BAR_STATE_READONLY)
		return bar_error_set("state %s is open read-only; it cannot be locked", st->location);
	if (atomic_load(&st->token))
		return 0; /* held already */
	host_name(host, sizeof(host));
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp)
		snprintf(user, sizeof(user), "%s", pw.pw_name);
	else
		snprintf(user, sizeof(user), "uid %u", (unsigned)geteuid());
	st->lease_ms = lease_of(o);
	want = (bar_lock_info){.pid = getpid(), .host = host, .user = user,
	                       .operation = (char *)(o->operation ? o->operation : "?"),
	                       .since = time(NULL),
	                       .expires_ms = has_lease ? wall_ms() + st->lease_ms : 0};
	if ((rc = wait_lock(st, &want, o)) == 0 && has_lease)
		start_keeper(st);
	return rc;
}

int bar_state_lock(bar_state *st, const char *operation)
{
	bar_state_lock_opts o = BAR_STATE_LOCK_OPTS_INIT;

	o.operation = operation;
	return bar_state_lock_ex(st, &o);
}

/* Stop renewing the lease (before the lock is released or forgotten). */
static void stop_keeper(bar_state *st)
{
	pthread_mutex_lock(&st->mu);
	st->stop = 1;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	if (st->keeping)
		pthread_join(st->keeper, NULL);
	st->keeping = 0;
}

void bar_state_unlock(bar_state *st)
{
	int64_t token = atomic_load(&st->token);

	if (!token)
		return;
	stop_keeper(st);
	st->be->unlock(st->data, token); /* taken over meanwhile: not ours to remove */
	atomic_store(&st->token, 0);
}

int bar_state_break_lock(bar_state *st, int force)
{
	bar_lock_info cur = {0};
	int rc = st->be->lock_info(st->data, &cur), status;

	if (rc == BAR_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	status = lock_status(&cur);
	if (!force && (status == LOCK_ALIVE_HERE || status == LOCK_LEASED)) {
		rc = locked_error(st, &cur, status, "", 1);
		goto done;
	}
	if (cur.token && cur.token == atomic_load(&st->token)) {
		bar_state_unlock(st); /* our own */
		goto done;
	}
	rc = st->be->unlock(st->data, cur.token);
	if (rc == BAR_ENOTFOUND)
		rc = bar_error_setc(BAR_ECONFLICT, "state %s: the lock changed while it was being "
		                    "removed (another process took it); look again with `barista "
		                    "state lock`", st->location);
done:
	bar_lock_info_clear(&cur);
	return rc;
}

int bar_state_force_unlock(bar_state *st)
{
	return bar_state_break_lock(st, 0);
}

/* ---- records and intents ---- */

void bar_intent_clear(bar_intent *in)
{
	free(in->address);
	free(in->type);
	free(in->connection);
	free(in->idem_key);
	memset(in, 0, sizeof(*in));
}

void bar_intents_clear(bar_intents *l)
{
	for (size_t i = 0; i < l->n; i++)
		bar_intent_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void bar_record_clear(bar_record *r)
{
	if (!r)
		return;
#define FREE_FIELD(f) free(r->f);
	BAR_RECORD_TEXT_FIELDS(FREE_FIELD)
#undef FREE_FIELD
	memset(r, 0, sizeof(*r));
}

void bar_records_clear(bar_records *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		bar_record_clear(&rs->items[i]);
	free(rs->items);
	rs->items = NULL;
	rs->n = 0;
}

const bar_record *bar_records_find(const bar_records *rs, const char *address)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rs->items[mid].address, address);

		if (c == 0)
			return &rs->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
