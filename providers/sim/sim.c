/*
 * sim.c - the `sim` provider: a cloud that lives in a file.
 *
 * Benchmarks (thousands to 100k resources) and fault tests need a provider
 * that behaves like a cloud - ids, statuses, tags, throttling, latency,
 * failures - without one.  This plugin supports every resource type, keeps
 * resources in an append-only log (sim_store.c) shared by every connection
 * and process naming the same file, and takes its behaviour from the
 * connection's config (all optional strings; see docs/sim-provider.md):
 *   file, latencyMs, createLatencyMs, failRate, errorRate, throttleRate, lostReplyRate,
 *   timeoutRate,
 *   seed, failOn, partialOn, asyncMs, maxInFlight.
 *
 * ABI v2: a create's idempotency key maps (through an alias record in the
 * store, so other processes see it too) to what it made, and the same key
 * returns that resource instead of a second one; with asyncMs, creates and
 * deletes are long-running operations the host polls with a token.
 *
 * Every call follows the same path (sim_begin): find the connection's
 * settings, parse the input, count the call against maxInFlight for its
 * region, sleep the latency (polling cancellation and the deadline, and
 * holding no lock), inject faults, and only then touch the store.
 *
 * Like every plugin it sees only providers/barista_provider.h of the host.
 */
#include "barista_provider.h"
#include "kit.h"
#include "sim_store.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define SIM_VERSION "0.2.0"
#define SIM_RETRY_AFTER_MS 100
#define SIM_SLEEP_SLICE_MS 20 /* how often a latency sleep polls cancellation */
#define SIM_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

#define SIM_IDEM_TYPE "_idem"  /* alias records: idempotency key -> system id */
#define SIM_IDEM_PREFIX "idem-"
#define SIM_IDEM_SUFFIX "-alias" /* not hex: the id counter ignores it */

/* One connection config, parsed once and kept (keyed by its text). */
typedef struct sim_conn {
	struct sim_conn *next;
	char *config;
	sim_store *store;      /* borrowed from sim_priv.files */
	int latency_ms;
	int create_latency_ms; /* -1: same as latency_ms */
	double fail_rate;
	double throttle_rate;  /* calls refused with ERETRY before doing anything */
	double lost_rate;      /* creates/deletes done, then their reply "lost" */
	double timeout_rate;   /* calls that time out (ETIMEOUT) doing nothing */
	double error_rate;     /* transient server errors (ERETRY, InternalError) */
	uint64_t rng;          /* for the rates; guarded by sim_priv.rng_mu */
	char **fail_on;        /* "<op>:<name>" */
	size_t n_fail_on;
	char **partial_on;     /* "create:<name>": made, then failed */
	size_t n_partial_on;
	int async_ms;          /* creates and deletes take this long; 0: at once */
	int max_in_flight;     /* 0: unlimited */
} sim_conn;

typedef struct sim_file {
	struct sim_file *next;
	sim_store *store;
} sim_file;

typedef struct sim_priv {
	const bar_host_api *host;
	pthread_mutex_t mu; /* conns, files */
	pthread_mutex_t rng_mu; /* every conn's rng; taken last, never held while
	                         * taking another lock (rolls happen inside store
	                         * transactions) */
	sim_conn *conns;
	sim_file *files;
} sim_priv;

/* One call in progress. */
typedef struct sim_ctx {
	sim_priv *priv;
	const bar_host_api *host;
	bar_call *call;
	sim_conn *conn;
	const char *op;
	const char *type;
	json_t *in;            /* parsed input, NULL for list */
	const char *name;      /* input name; the type for list */
	const char *system_id; /* input system_id, if any */
	int admitted;          /* counted against maxInFlight */
	int64_t started_ms;    /* for the call log; 0 before the call counts */
} sim_ctx;

/* ---- small helpers ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fresh_seed(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	return v;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A config value as text, whether given as a string or a number. */
static int config_text(char *out, size_t size, json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		snprintf(out, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, size, "%.17g", json_real_value(v));
	else
		return -1;
	return 1;
}

static int config_int(int *out, json_t *cfg, const char *key, int max)
{
	char buf[64], *end;
	long v;
	int rc = config_text(buf, sizeof(buf), cfg, key);

	if (rc <= 0)
		return rc;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || *end || v < 0 || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* ---- connections ---- */

static void conn_free(sim_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_fail_on; i++)
		free(c->fail_on[i]);
	free(c->fail_on);
	for (size_t i = 0; i < c->n_partial_on; i++)
		free(c->partial_on[i]);
	free(c->partial_on);
	free(c->config);
	free(c);
}

/* Split a comma list of "<op>:<name>" (failOn, partialOn) into *items. */
static int conn_parse_op_list(char ***items, size_t *n, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		const char *s = p, *e = p + len;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			if (!memchr(s, ':', (size_t)(e - s)))
				return -1;
			*items = realloc(*items, (*n + 1) * sizeof(char *));
			(*items)[(*n)++] = strndup(s, (size_t)(e - s));
		}
		p += len + (p[len] == ',');
	}
	return 0;
}

/* A probability 0..1 from the config; 0 when absent. */
static int config_rate(double *out, json_t *cfg, const char *key)
{
	char buf[64], *end;
	int rc = config_text(buf, sizeof(buf), cfg, key);

	if (rc <= 0)
		return rc;
	*out = strtod(buf, &end);
	return end == buf || *end || !(*out >= 0.0 && *out <= 1.0) ? -1 : 0;
}

/* Parse a connection config into c (file path into path).  Returns 0, or
 * -1 with the offending key in *bad. */
static int conn_parse(sim_conn *c, char *path, size_t path_size, json_t *cfg,
                      const char **bad)
{
	char buf[4096], *end;
	int rc;

	c->create_latency_ms = -1;
	c->rng = fresh_seed();
	if ((rc = config_text(path, path_size, cfg, "file")) < 0 || (rc == 1 && !*path))
		return *bad = "file", -1;
	if (rc == 0) {
		const char *env = getenv("BARISTA_SIM_FILE");

		if (env && *env)
			snprintf(path, path_size, "%s", env);
		else
			snprintf(path, path_size, "/tmp/barista-sim-%u.log", (unsigned)getuid());
	}
	if (config_int(&c->latency_ms, cfg, "latencyMs", 3600000) < 0)
		return *bad = "latencyMs", -1;
	if (config_int(&c->create_latency_ms, cfg, "createLatencyMs", 3600000) < 0)
		return *bad = "createLatencyMs", -1;
	if (config_int(&c->max_in_flight, cfg, "maxInFlight", 1000000) < 0)
		return *bad = "maxInFlight", -1;
	if (config_rate(&c->fail_rate, cfg, "failRate") < 0)
		return *bad = "failRate", -1;
	if (config_rate(&c->throttle_rate, cfg, "throttleRate") < 0)
		return *bad = "throttleRate", -1;
	if (config_rate(&c->lost_rate, cfg, "lostReplyRate") < 0)
		return *bad = "lostReplyRate", -1;
	if (config_rate(&c->timeout_rate, cfg, "timeoutRate") < 0)
		return *bad = "timeoutRate", -1;
	if (config_rate(&c->error_rate, cfg, "errorRate") < 0)
		return *bad = "errorRate", -1;
	if (config_int(&c->async_ms, cfg, "asyncMs", 3600000) < 0)
		return *bad = "asyncMs", -1;
	if ((rc = config_text(buf, sizeof(buf), cfg, "seed")) < 0)
		return *bad = "seed", -1;
	if (rc == 1) {
		errno = 0;
		c->rng = strtoull(buf, &end, 10);
		if (errno || end == buf || *end)
			return *bad = "seed", -1;
	}
	if ((rc = config_text(buf, sizeof(buf), cfg, "failOn")) < 0 ||
	    (rc == 1 && conn_parse_op_list(&c->fail_on, &c->n_fail_on, buf) < 0))
		return *bad = "failOn", -1;
	if ((rc = config_text(buf, sizeof(buf), cfg, "partialOn")) < 0 ||
	    (rc == 1 && conn_parse_op_list(&c->partial_on, &c->n_partial_on, buf) < 0))
		return *bad = "partialOn", -1;
	return 0;
}

/* The store for path, opened on first use.  Under priv->mu. */
static sim_store *file_get(sim_priv *priv, const char *path, sim_err *err)
{
	sim_file *f;

	for (f = priv->files; f; f = f->next) {
		if (strcmp(sim_store_path(f->store), path) == 0)
			return f->store;
	}
	f = calloc(1, sizeof(*f));
	if (!f || sim_store_open(&f->store, path, err) < 0) {
		if (!f)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		free(f);
		return NULL;
	}
	f->next = priv->files;
	priv->files = f;
	return f->store;
}

/* The settings for this call's config, parsed on first sight. */
static int conn_get(sim_ctx *x)
{
	const char *text = x->call->config ? x->call->config : "{}";
	sim_conn *c;
	json_t *cfg = NULL;
	json_error_t jerr;
	sim_err err = { "" };
	const char *bad = NULL;
	char path[4200];
	int rc = BAR_OK;

	pthread_mutex_lock(&x->priv->mu);
	for (c = x->priv->conns; c; c = c->next) {
		if (strcmp(c->config, text) == 0)
			goto done;
	}
	c = calloc(1, sizeof(*c));
	cfg = json_loads(text, 0, &jerr);
	if (!c || !json_is_object(cfg) || conn_parse(c, path, sizeof(path), cfg, &bad) < 0) {
		x->host->set_error(x->call, "InvalidConfig", "sim: connection config %s%s%s",
		                   bad ? "key \"" : "is not a JSON object", bad ? bad : "",
		                   bad ? "\" is not valid" : "");
		rc = BAR_EINVALID;
		goto done;
	}
	c->store = file_get(x->priv, path, &err);
	if (!c->store) {
		x->host->set_error(x->call, "StoreError", "sim: %s", err.msg);
		rc = BAR_EFAIL;
		goto done;
	}
	c->config = strdup(text);
	c->next = x->priv->conns;
	x->priv->conns = c;
done:
	if (rc != BAR_OK) {
		conn_free(c);
		c = NULL;
	}
	x->conn = c;
	pthread_mutex_unlock(&x->priv->mu);
	json_decref(cfg);
	return rc;
}

/* ---- the common path of every call ---- */

static int parse_input(sim_ctx *x, const char *input, int need_id)
{
	char why[256];

	if (bar_kit_input(&x->in, why, sizeof(why), x->type, input, need_id) != BAR_OK) {
		x->host->set_error(x->call, "InvalidInput", "sim: %s", why);
		return BAR_EINVALID;
	}
	x->name = json_string_value(json_object_get(x->in, "name"));
	x->system_id = json_string_value(json_object_get(x->in, "system_id"));
	return BAR_OK;
}

/* The entry of an "<op>:<name>" list matching this call, or NULL. */
static const char *op_listed(sim_ctx *x, char *const *items, size_t n)
{
	size_t oplen = strlen(x->op);

	for (size_t i = 0; i < n; i++) {
		const char *f = items[i];

		if (strncmp(f, x->op, oplen) == 0 && f[oplen] == ':' &&
		    (strcmp(f + oplen + 1, x->name) == 0 || strcmp(f + oplen + 1, "*") == 0))
			return f;
	}
	return NULL;
}

/* 1 with probability `rate`, from the connection's seeded generator. */
static int roll(sim_ctx *x, double rate)
{
	int hit;

	if (rate <= 0)
		return 0;
	pthread_mutex_lock(&x->priv->rng_mu);
	hit = (double)(splitmix64(&x->conn->rng) >> 11) / 9007199254740992.0 < rate;
	pthread_mutex_unlock(&x->priv->rng_mu);
	return hit;
}

/* throttleRate, errorRate, timeoutRate, failOn and failRate. */
static int inject_faults(sim_ctx *x, int mutating)
{
	sim_conn *c = x->conn;
	const char *f = op_listed(x, c->fail_on, c->n_fail_on);

	if (mutating && roll(x, c->throttle_rate)) {
		x->call->retry_after_ms = SIM_RETRY_AFTER_MS;
		x->host->set_error(x->call, "Throttling", "sim: injected throttling "
		                   "(throttleRate %g)", c->throttle_rate);
		return BAR_ERETRY;
	}
	if (mutating && roll(x, c->error_rate)) { /* as EC2's InternalError: retry it */
		x->call->retry_after_ms = SIM_RETRY_AFTER_MS;
		x->host->set_error(x->call, "InternalError", "sim: injected transient error "
		                   "(errorRate %g): nothing was done", c->error_rate);
		return BAR_ERETRY;
	}
	if (mutating && roll(x, c->timeout_rate)) {
		x->host->set_error(x->call, "RequestTimeout", "sim: injected timeout (timeoutRate "
		                   "%g): nothing was done", c->timeout_rate);
		return BAR_ETIMEOUT;
	}
	if (f) {
		x->host->set_error(x->call, "InjectedFault", "sim: injected failure (failOn %s)", f);
		return BAR_EFAIL;
	}
	if (mutating && roll(x, c->fail_rate)) {
		x->host->set_error(x->call, "InjectedFault",
		                   "sim: injected failure (failRate %g)", c->fail_rate);
		return BAR_EFAIL;
	}
	return BAR_OK;
}

/* Everything before the store: settings, input, throttling, latency,
 * faults.  Pair with sim_end whatever it returns. */
static int sim_begin(sim_ctx *x, bar_provider *p, bar_call *call, const char *op,
                     const char *type, const char *input, int need_id)
{
	int mutating = strcmp(op, "read") != 0 && strcmp(op, "list") != 0;
	int rc, ms;

	memset(x, 0, sizeof(*x));
	x->priv = p->priv;
	x->host = x->priv->host;
	x->call = call;
	x->op = op;
	x->type = type;
	x->name = type;
	if (!bar_kit_type_known(type)) {
		x->host->set_error(call, "UnsupportedResourceType",
		                   "sim: unknown resource type \"%s\"", type ? type : "");
		return BAR_ENOTSUP;
	}
	if ((rc = conn_get(x)) != BAR_OK)
		return rc;
	x->started_ms = bar_kit_now_ms();
	if (input && (rc = parse_input(x, input, need_id)) != BAR_OK)
		return rc;
	if (sim_store_enter(x->conn->store, call->region, x->conn->max_in_flight) < 0) {
		call->retry_after_ms = SIM_RETRY_AFTER_MS;
		x->host->set_error(call, "RequestLimitExceeded",
		                   "sim: more than %d calls in flight in region %s",
		                   x->conn->max_in_flight, call->region);
		return BAR_ERETRY;
	}
	x->admitted = 1;
	ms = x->conn->latency_ms;
	if (strcmp(op, "create") == 0 && x->conn->create_latency_ms >= 0)
		ms = x->conn->create_latency_ms;
	if ((rc = bar_kit_sleep(x->host, call, ms, op)) != BAR_OK)
		return rc;
	return inject_faults(x, mutating);
}

/* Leave the region and record the call in the host's call log, as a
 * cloud's API call ("sim.create.vm") with the status its error would have. */
static void sim_end(sim_ctx *x, int rc)
{
	if (x->admitted)
		sim_store_leave(x->conn->store, x->call->region);
	if (x->started_ms) {
		char op[64];

		snprintf(op, sizeof(op), "sim.%s.%s", x->op, x->type);
		bar_kit_record_call(x->host, x->call, op, x->system_id, bar_kit_rc_status(rc),
		                    rc ? bar_kit_rc_name(rc) : "", bar_kit_now_ms() - x->started_ms);
	}
	json_decref(x->in);
}

/* Open a store transaction, reporting failure through the host. */
static int txn_begin(sim_ctx *x, int write)
{
	sim_err err = { "" };

	if (sim_store_begin(x->conn->store, write, &err) == 0)
		return BAR_OK;
	x->host->set_error(x->call, "StoreError", "sim: %s", err.msg);
	return BAR_EFAIL;
}

static int store_failed(sim_ctx *x, const sim_err *err)
{
	x->host->set_error(x->call, "StoreError", "sim: %s", err->msg);
	return BAR_EFAIL;
}

/*
 * A stored status may carry an operation still under way (asyncMs):
 * "Creating@<wall ms>@<final>" becomes <final> once that time has passed,
 * "Deleting@<wall ms>" becomes gone.  The effective status into buf, or
 * NULL when the resource is gone.
 */
static const char *live_status(const sim_rec *r, char *buf, size_t size)
{
	const char *at = strchr(r->status, '@');
	long long when;
	char *end;

	if (!at)
		return r->status;
	when = strtoll(at + 1, &end, 10);
	if (strncmp(r->status, "Deleting@", 9) == 0) /* the ABI's word for a VM's is Terminating */
		return wall_ms() >= when ? NULL : strcmp(r->type, "vm") == 0 ? "Terminating" : "Deleting";
	if (wall_ms() >= when && *end == '@')
		snprintf(buf, size, "%s", end + 1);
	else
		snprintf(buf, size, "%.*s", (int)(at - r->status), r->status);
	return buf;
}

static int emit_rec(sim_ctx *x, bar_sink *out, const sim_rec *r)
{
	char buf[64];
	bar_observed obs = { sizeof(obs), r->system_id, r->name, live_status(r, buf, sizeof(buf)),
		             r->attrs, r->tags };

	if (x->host->emit(out, &obs) == 0)
		return BAR_OK;
	x->host->set_error(x->call, "EmitRefused", "sim: the host took no more results");
	return BAR_EFAIL;
}

/* The live record the input names, of the call's type; or ENOTFOUND. */
static int find_rec(sim_rec **out, sim_ctx *x)
{
	sim_rec *r = sim_store_find(x->conn->store, x->call->region, x->system_id);
	char buf[64];

	if (!r || strcmp(r->type, x->type) != 0 || !live_status(r, buf, sizeof(buf))) {
		x->host->set_error(x->call, "ResourceNotFound",
		                   "sim: %s %s not found in region %s", x->type, x->system_id,
		                   x->call->region);
		return BAR_ENOTFOUND;
	}
	*out = r;
	return BAR_OK;
}

/* What an idempotency key already made in this region: the live record
 * its alias names, or NULL. */
static sim_rec *idem_find(sim_ctx *x, const char *key)
{
	char alias[200];
	sim_rec *a;

	snprintf(alias, sizeof(alias), SIM_IDEM_PREFIX "%.150s" SIM_IDEM_SUFFIX, key);
	a = sim_store_find(x->conn->store, x->call->region, alias);
	if (!a)
		return NULL;
	x->system_id = a->name;
	return find_rec(&a, x) == BAR_OK ? a : NULL;
}

static sim_rec *idem_put(sim_ctx *x, const char *key, const char *system_id, sim_err *err)
{
	char alias[200];

	snprintf(alias, sizeof(alias), SIM_IDEM_PREFIX "%.150s" SIM_IDEM_SUFFIX, key);
	return sim_store_put(x->conn->store, SIM_IDEM_TYPE, x->call->region, alias, system_id,
	                     "Available", "{}", "{}", err);
}

/* ---- attributes ---- */

/* Lowercase hex of 16 bytes derived from s and a salt. */
static void fake_hex(char out[33], const char *s, uint64_t salt)
{
	uint64_t st = salt;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		st = (st ^ *p) * 0x100000001b3ULL;
	snprintf(out, 33, "%016llx", (unsigned long long)splitmix64(&st));
	snprintf(out + 16, 17, "%016llx", (unsigned long long)splitmix64(&st));
}

/* A well-formed but fake ed25519 public key line for a VM's host key. */
static void fake_host_key(char *out, size_t size, const char *system_id)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char blob[51] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5',
		                   '5', '1', '9', 0, 0, 0, 32 };
	char hex[33], text[72];
	size_t o = 0;

	fake_hex(hex, system_id, 0x686f73746b6579ULL);
	for (int i = 0; i < 32; i++)
		blob[19 + i] = (unsigned char)(hex[i] * 7 + i);
	for (size_t i = 0; i < sizeof(blob); i += 3) {
		uint32_t v = (uint32_t)blob[i] << 16 | (uint32_t)blob[i + 1] << 8 | blob[i + 2];

		text[o++] = b64[v >> 18 & 63];
		text[o++] = b64[v >> 12 & 63];
		text[o++] = b64[v >> 6 & 63];
		text[o++] = b64[v & 63];
	}
	text[o] = '\0';
	snprintf(out, size, "ssh-ed25519 %s sim", text);
}

/* Deterministic private address from the id counter: 10.a.b.c, c in 2..251. */
static void fake_ip(char *out, size_t size, uint64_t seq)
{
	snprintf(out, size, "10.%u.%u.%u", (unsigned)(seq / 64000 % 256),
	         (unsigned)(seq / 250 % 256), (unsigned)(seq % 250 + 2));
}

/* The input's attrs object (a new reference; {} when absent). */
static json_t *input_attrs(sim_ctx *x)
{
	json_t *a = json_object_get(x->in, "attrs");

	if (!a || json_is_null(a))
		return json_object();
	return json_is_object(a) ? json_incref(a) : NULL;
}

/* The input's tags as compact sorted JSON text (malloc'd). */
static char *input_tags(sim_ctx *x, const char *fallback)
{
	json_t *t = json_object_get(x->in, "tags");

	if (!json_is_object(t))
		return strdup(fallback);
	return json_dumps(t, SIM_JSON_FLAGS);
}

static int bad_attrs(sim_ctx *x)
{
	x->host->set_error(x->call, "InvalidInput", "sim: \"attrs\" must be an object");
	return BAR_EINVALID;
}


/* ---- the callbacks ---- */

/* sshkey without a publicKey: the provider makes the pair. */
static int wants_keygen(const char *type, json_t *attrs)
{
	json_t *pk = json_object_get(attrs, "publicKey");

	return strcmp(type, "sshkey") == 0 && (!pk || json_is_null(pk));
}

/* Fill the attributes the provider decides at create. */
static void create_attrs(json_t *attrs, const char *type, const char *id,
                         const char *name, uint64_t seq, int keygen)
{
	char buf[200], hex[33];

	if (strcmp(type, "vm") == 0) {
		fake_ip(buf, sizeof(buf), seq);
		json_object_set_new(attrs, "privateIp", json_string(buf));
		fake_host_key(buf, sizeof(buf), id);
		json_object_set_new(attrs, "hostKey", json_string(buf));
	}
	if (keygen) {
		fake_hex(hex, id, 0x7075626b6579ULL);
		snprintf(buf, sizeof(buf), "ssh-ed25519 SIM%s %.100s", hex, name);
		json_object_set_new(attrs, "publicKey", json_string(buf));
	}
}

/* Hand the generated key's placeholder private half to the host; on
 * refusal take the resource back. */
static int create_secret(sim_ctx *x, bar_sink *out, sim_rec *r)
{
	char secret[128], hex[33];
	sim_err err = { "" };
	int rc = BAR_OK;

	fake_hex(hex, r->system_id, fresh_seed());
	snprintf(secret, sizeof(secret), "sim placeholder private key for %s: %s",
	         r->system_id, hex);
	if (x->host->emit_secret(out, "privateKey", secret) != 0) {
		if (sim_store_delete(x->conn->store, r, &err) < 0)
			x->host->set_error(x->call, "SecretRefused", "sim: the host could not "
			                   "store the private key, and deleting the key "
			                   "failed: %s", err.msg);
		else
			x->host->set_error(x->call, "SecretRefused",
			                   "sim: the host could not store the private key");
		rc = BAR_EFAIL;
	}
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* The status a new resource is stored with: its final one, or with
 * asyncMs the operation still under way. */
static void create_status(sim_ctx *x, char *buf, size_t size)
{
	const char *final = strcmp(x->type, "vm") == 0 ? "Running" : "Available";

	if (x->conn->async_ms > 0)
		snprintf(buf, size, "Creating@%lld@%s", (long long)(wall_ms() + x->conn->async_ms),
		         final);
	else
		snprintf(buf, size, "%s", final);
}

/* Make the resource (inside the write transaction); *made is it. */
static int create_rec(sim_ctx *x, bar_sink *out, json_t *attrs, int keygen, const char *key,
                      sim_rec **made)
{
	char *attrs_text = NULL, *tags = input_tags(x, "{}"), id[80], status[80];
	sim_err err = { "" };
	uint64_t seq = sim_store_next_seq(x->conn->store);
	sim_rec *r;
	int rc = BAR_OK;

	snprintf(id, sizeof(id), "sim-%s-%08llx", x->type, (unsigned long long)seq);
	create_attrs(attrs, x->type, id, x->name, seq, keygen);
	attrs_text = json_dumps(attrs, SIM_JSON_FLAGS);
	create_status(x, status, sizeof(status));
	r = sim_store_put(x->conn->store, x->type, x->call->region, id, x->name, status,
	                  attrs_text, tags, &err);
	if (!r || (*key && !idem_put(x, key, id, &err)))
		rc = store_failed(x, &err);
	else if (keygen)
		rc = create_secret(x, out, r);
	*made = rc == BAR_OK ? r : NULL;
	free(attrs_text);
	free(tags);
	return rc;
}

/* After the create: a started operation, a failure after making it
 * (partialOn), or a reply that never arrives (lostReplyRate). */
static int create_outcome(sim_ctx *x, bar_sink *out, sim_rec *r)
{
	const char *partial = op_listed(x, x->conn->partial_on, x->conn->n_partial_on);
	char buf[64];
	int rc;

	if (roll(x, x->conn->lost_rate)) {
		x->call->retry_after_ms = SIM_RETRY_AFTER_MS;
		x->host->set_error(x->call, "RequestTimeout", "sim: injected lost reply "
		                   "(lostReplyRate %g): %s was made", x->conn->lost_rate,
		                   r->system_id);
		return BAR_ERETRY;
	}
	if ((rc = emit_rec(x, out, r)) != BAR_OK)
		return rc;
	if (partial) {
		x->host->set_error(x->call, "InjectedPartialFailure", "sim: %s was made, then "
		                   "failed (partialOn %s)", r->system_id, partial);
		return BAR_EFAIL;
	}
	if (strcmp(live_status(r, buf, sizeof(buf)), "Creating") == 0) {
		snprintf(buf, sizeof(buf), "op-create-%s", r->system_id);
		x->host->set_operation(x->call, buf);
	}
	return BAR_OK;
}

static int sim_create(bar_provider *p, bar_call *call, const char *type,
                      const char *input, bar_sink *out)
{
	const char *key = BAR_COVERS(call, idempotency_key) && call->idempotency_key
	                      ? call->idempotency_key : "";
	sim_ctx x;
	json_t *attrs = NULL;
	sim_rec *r = NULL;
	int rc, keygen;

	rc = sim_begin(&x, p, call, "create", type, input, 0);
	if (rc != BAR_OK)
		goto done;
	if (!(attrs = input_attrs(&x))) {
		rc = bad_attrs(&x);
		goto done;
	}
	keygen = wants_keygen(type, attrs);
	if ((rc = txn_begin(&x, 1)) != BAR_OK)
		goto done;
	/* The same key again returns what it made (as EC2's ClientToken does). */
	if (*key && (r = idem_find(&x, key)))
		rc = emit_rec(&x, out, r);
	else if ((rc = create_rec(&x, out, attrs, keygen, key, &r)) == BAR_OK)
		rc = create_outcome(&x, out, r);
	sim_store_end(x.conn->store);
done:
	json_decref(attrs);
	sim_end(&x, rc);
	return rc;
}

/* Carry over what update cannot change: a VM's address and host key, a
 * generated public key the input leaves null. */
static void keep_attrs(json_t *attrs, const char *type, const char *old_text)
{
	json_t *old;

	if (strcmp(type, "vm") != 0 && !wants_keygen(type, attrs))
		return;
	old = json_loads(old_text, 0, NULL);
	if (strcmp(type, "vm") == 0) {
		json_object_set(attrs, "privateIp", json_object_get(old, "privateIp"));
		json_object_set(attrs, "hostKey", json_object_get(old, "hostKey"));
	} else if (json_object_get(old, "publicKey")) {
		json_object_set(attrs, "publicKey", json_object_get(old, "publicKey"));
	}
	json_decref(old);
}

static int sim_update(bar_provider *p, bar_call *call, const char *type,
                      const char *input, bar_sink *out)
{
	sim_ctx x;
	json_t *attrs = NULL;
	char *attrs_text = NULL, *tags = NULL;
	sim_err err = { "" };
	sim_rec *r = NULL;
	int rc;

	rc = sim_begin(&x, p, call, "update", type, input, 1);
	if (rc != BAR_OK)
		goto done;
	if (!(attrs = input_attrs(&x))) {
		rc = bad_attrs(&x);
		goto done;
	}
	if (json_is_object(json_object_get(x.in, "tags")))
		tags = input_tags(&x, "{}");
	if ((rc = txn_begin(&x, 1)) != BAR_OK)
		goto done;
	if ((rc = find_rec(&r, &x)) == BAR_OK) {
		keep_attrs(attrs, type, r->attrs);
		attrs_text = json_dumps(attrs, SIM_JSON_FLAGS);
		/* put replaces r: its fields stay valid until then. */
		r = sim_store_put(x.conn->store, type, call->region, r->system_id, x.name,
		                  r->status, attrs_text, tags ? tags : r->tags, &err);
		rc = r ? emit_rec(&x, out, r) : store_failed(&x, &err);
	}
	sim_store_end(x.conn->store);
done:
	json_decref(attrs);
	free(attrs_text);
	free(tags);
	sim_end(&x, rc);
	return rc;
}

static int sim_read(bar_provider *p, bar_call *call, const char *type, const char *input,
                    bar_sink *out)
{
	sim_ctx x;
	sim_rec *r = NULL;
	int rc;

	rc = sim_begin(&x, p, call, "read", type, input, 1);
	if (rc == BAR_OK && (rc = txn_begin(&x, 0)) == BAR_OK) {
		if ((rc = find_rec(&r, &x)) == BAR_OK)
			rc = emit_rec(&x, out, r);
		sim_store_end(x.conn->store);
	}
	sim_end(&x, rc);
	return rc;
}

/* Delete r (inside the write transaction): at once, or with asyncMs as an
 * operation that ends when the resource is gone. */
static int delete_rec(sim_ctx *x, sim_rec *r)
{
	sim_err err = { "" };
	char status[64], token[120];

	if (x->conn->async_ms <= 0)
		return sim_store_delete(x->conn->store, r, &err) < 0 ? store_failed(x, &err) : BAR_OK;
	snprintf(status, sizeof(status), "Deleting@%lld",
	         (long long)(wall_ms() + x->conn->async_ms));
	if (!sim_store_put(x->conn->store, r->type, r->region, r->system_id, r->name, status,
	                   r->attrs, r->tags, &err))
		return store_failed(x, &err);
	snprintf(token, sizeof(token), "op-delete-%s", x->system_id);
	x->host->set_operation(x->call, token);
	return BAR_OK;
}

static int sim_del(bar_provider *p, bar_call *call, const char *type, const char *input)
{
	sim_ctx x;
	sim_rec *r = NULL;
	int rc;

	rc = sim_begin(&x, p, call, "delete", type, input, 1);
	if (rc == BAR_OK && (rc = txn_begin(&x, 1)) == BAR_OK) {
		if ((rc = find_rec(&r, &x)) == BAR_OK)
			rc = delete_rec(&x, r);
		sim_store_end(x.conn->store);
		if (rc == BAR_OK && roll(&x, x.conn->lost_rate)) {
			call->retry_after_ms = SIM_RETRY_AFTER_MS;
			x.host->set_error(call, "RequestTimeout", "sim: injected lost reply "
			                  "(lostReplyRate %g): the delete was done",
			                  x.conn->lost_rate);
			rc = BAR_ERETRY;
		}
	}
	sim_end(&x, rc);
	return rc;
}

/* Where an operation has got to: the resource as it is now (transitional
 * while the operation runs), ENOTFOUND once a delete completed.  The token
 * must be one this provider handed out for this resource. */
static int sim_poll(bar_provider *p, bar_call *call, const char *type, const char *input,
                    bar_sink *out)
{
	const char *op = BAR_COVERS(call, operation) && call->operation ? call->operation : "";
	sim_ctx x;
	sim_rec *r = NULL;
	int rc;

	rc = sim_begin(&x, p, call, "read", type, input, 1);
	if (rc == BAR_OK && *op && (strncmp(op, "op-", 3) || !strstr(op, x.system_id))) {
		x.host->set_error(call, "InvalidOperation", "sim: operation \"%s\" is not one of "
		                  "%s's", op, x.system_id);
		rc = BAR_EINVALID;
	}
	if (rc == BAR_OK && (rc = txn_begin(&x, 0)) == BAR_OK) {
		if ((rc = find_rec(&r, &x)) == BAR_OK) {
			rc = emit_rec(&x, out, r);
			call->retry_after_ms = x.conn->async_ms > 0 ? x.conn->async_ms / 4 + 1 : 0;
		}
		sim_store_end(x.conn->store);
	}
	sim_end(&x, rc);
	return rc;
}

/* Whether compact JSON tags hold the "barista:address" key.  In compact
 * JSON a key follows '{' or ','; inside a string a quote is escaped, so
 * the match cannot come from a value. */
static int has_address_tag(const char *tags)
{
	static const char key[] = "\"barista:address\":";

	for (const char *p = strstr(tags, key); p; p = strstr(p + 1, key)) {
		if (p > tags && (p[-1] == '{' || p[-1] == ','))
			return 1;
	}
	return 0;
}

static int sim_list(bar_provider *p, bar_call *call, const char *type, bar_sink *out)
{
	sim_ctx x;
	int rc;

	rc = sim_begin(&x, p, call, "list", type, NULL, 0);
	if (rc == BAR_OK && (rc = txn_begin(&x, 0)) == BAR_OK) {
		/* Records hold their stored text: emit it as is. */
		for (sim_rec *r = sim_store_first(x.conn->store); r && rc == BAR_OK;
		     r = sim_store_next(r)) {
			char buf[64];

			if (strcmp(r->type, type) == 0 && strcmp(r->region, call->region) == 0 &&
			    has_address_tag(r->tags) && live_status(r, buf, sizeof(buf)))
				rc = emit_rec(&x, out, r);
		}
		sim_store_end(x.conn->store);
	}
	sim_end(&x, rc);
	return rc;
}

/* The status a VM action leads to from `from`, or NULL if not allowed. */
static const char *action_status(const char *action, const char *from)
{
	int running = strcmp(from, "Running") == 0, suspended = strcmp(from, "Suspended") == 0;

	if (strcmp(action, "suspend") == 0 && (running || suspended))
		return "Suspended";
	if (strcmp(action, "resume") == 0 && (running || suspended))
		return "Running";
	if (strcmp(action, "reboot") == 0 && running)
		return "Running";
	return NULL;
}

static int sim_vm_action(bar_provider *p, bar_call *call, const char *action,
                         const char *input, bar_sink *out)
{
	sim_priv *priv = p->priv;
	const char *to;
	sim_ctx x;
	sim_rec *r = NULL;
	sim_err err = { "" };
	int rc;

	if (!action || (strcmp(action, "suspend") && strcmp(action, "resume") &&
	                strcmp(action, "reboot"))) {
		priv->host->set_error(call, "UnsupportedOperation", "sim: no VM action \"%s\"",
		                      action ? action : "");
		return BAR_ENOTSUP;
	}
	rc = sim_begin(&x, p, call, action, "vm", input, 1);
	if (rc == BAR_OK && (rc = txn_begin(&x, 1)) == BAR_OK) {
		if ((rc = find_rec(&r, &x)) == BAR_OK) {
			char buf[64];
			const char *now = live_status(r, buf, sizeof(buf));

			if (!(to = action_status(action, now))) {
				x.host->set_error(call, "IncorrectState", "sim: cannot %s vm %s "
				                  "while it is %s", action, r->system_id, now);
				rc = BAR_ECONFLICT;
			} else if (strcmp(to, r->status) != 0) {
				r = sim_store_put(x.conn->store, "vm", call->region, r->system_id,
				                  r->name, to, r->attrs, r->tags, &err);
				if (!r)
					rc = store_failed(&x, &err);
			}
			if (rc == BAR_OK)
				rc = emit_rec(&x, out, r);
		}
		sim_store_end(x.conn->store);
	}
	sim_end(&x, rc);
	return rc;
}

/* ---- life cycle ---- */

static void sim_destroy(bar_provider *p)
{
	sim_priv *priv;

	if (!p)
		return;
	priv = p->priv;
	while (priv && priv->conns) {
		sim_conn *c = priv->conns;

		priv->conns = c->next;
		conn_free(c);
	}
	while (priv && priv->files) {
		sim_file *f = priv->files;

		priv->files = f->next;
		sim_store_free(f->store);
		free(f);
	}
	if (priv) {
		pthread_mutex_destroy(&priv->mu);
		pthread_mutex_destroy(&priv->rng_mu);
	}
	free(priv);
	free(p);
}

/*
 * The plugin's one export (see barista_provider.h).  Returns 0 with *out, a
 * provider the host releases through its destroy callback; or nonzero with
 * *errmsg (malloc'd) when the host's ABI is not one this plugin knows.
 */
__attribute__((visibility("default"))) int
barista_provider_init(const bar_host_api *host, bar_provider **out, char **errmsg)
{
	bar_provider *p;
	sim_priv *priv;

	if (bar_kit_check_host(host, "sim", errmsg) < 0)
		return -1;
	p = calloc(1, sizeof(*p));
	priv = calloc(1, sizeof(*priv));
	if (!p || !priv) {
		free(p);
		free(priv);
		if (errmsg)
			*errmsg = strdup("sim: out of memory");
		return -1;
	}
	priv->host = host;
	pthread_mutex_init(&priv->mu, NULL);
	pthread_mutex_init(&priv->rng_mu, NULL);
	*p = (bar_provider){
		.abi_version = BAR_PROVIDER_ABI_VERSION,
		.struct_size = sizeof(*p),
		.name = "sim",
		.version = SIM_VERSION,
		/* no BAR_CAP_ASYNC: its long operations always come with a token */
		.capabilities = BAR_CAP_VM_SUSPEND | BAR_CAP_VM_REBOOT | BAR_CAP_LIST |
		                BAR_CAP_IDEMPOTENT,
		.types = bar_kit_standard_types,
		.priv = priv,
		.create = sim_create,
		.read = sim_read,
		.update = sim_update,
		.del = sim_del,
		.list = sim_list,
		.vm_action = sim_vm_action,
		.poll = sim_poll,
		.destroy = sim_destroy,
	};
	*out = p;
	return 0;
}
