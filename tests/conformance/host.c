/*
 * host.c - the test host of host.h: bar_host_api for programs that load a
 * provider plugin themselves.
 */
#include "host.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CH_TOKEN_MAX 1024 /* bar_host_api.set_operation: at most 1 KiB */

/* ---- the transcript ---- */

typedef struct ch_text {
	const char *kind, *op; /* static strings */
	char *text;
	int secret;
} ch_text;

static pthread_mutex_t tr_mu = PTHREAD_MUTEX_INITIALIZER;
static ch_text *tr_v;
static size_t tr_n, tr_cap, tr_bytes, tr_max = 64u << 20;
static int tr_lost;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s ? s : "") + 1;

	return memcpy(xmalloc(n), s ? s : "", n);
}

static void tr_add(const char *kind, const char *op, const char *text, int secret)
{
	size_t len;

	if (!text)
		return;
	len = strlen(text);
	pthread_mutex_lock(&tr_mu);
	if (tr_bytes + len > tr_max) {
		tr_lost = 1;
	} else {
		if (tr_n == tr_cap) {
			tr_cap = tr_cap ? tr_cap * 2 : 256;
			tr_v = realloc(tr_v, tr_cap * sizeof(*tr_v));
			if (!tr_v)
				abort();
		}
		tr_v[tr_n++] = (ch_text){ kind, op ? op : "", xstrdup(text), secret };
		tr_bytes += len;
	}
	pthread_mutex_unlock(&tr_mu);
}

void ch_transcript_limit(size_t max)
{
	tr_max = max;
}

int ch_transcript_each(ch_text_fn fn, void *ud)
{
	int rc = 0;

	pthread_mutex_lock(&tr_mu);
	for (size_t i = 0; i < tr_n && rc == 0; i++)
		rc = fn(ud, tr_v[i].kind, tr_v[i].op, tr_v[i].text, tr_v[i].secret);
	if (rc == 0 && tr_lost)
		rc = -1;
	pthread_mutex_unlock(&tr_mu);
	return rc;
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void ch_transcript_free(void)
{
	pthread_mutex_lock(&tr_mu);
	for (size_t i = 0; i < tr_n; i++)
		wipe_free(tr_v[i].text);
	free(tr_v);
	tr_v = NULL;
	tr_n = tr_cap = tr_bytes = 0;
	tr_lost = 0;
	pthread_mutex_unlock(&tr_mu);
}

/* ---- the host API ---- */

static const char *const *creds;
static int log_echo = BAR_LOG_ERROR + 1;

void ch_credentials_set(const char *const *pairs)
{
	creds = pairs;
}

void ch_log_echo(int level)
{
	log_echo = level;
}

static int h_emit(bar_sink *s, const bar_observed *o)
{
	if (!s || !o)
		return -1;
	if (s->refuse_emits) {
		s->n_refused++;
		return -1;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = (ch_obs){ xstrdup(o->system_id), xstrdup(o->name), xstrdup(o->status),
		                 xstrdup(o->attrs), xstrdup(o->tags) };
	tr_add("system_id", s->op, o->system_id, 0);
	tr_add("name", s->op, o->name, 0);
	tr_add("status", s->op, o->status, 0);
	tr_add("attrs", s->op, o->attrs, 0);
	tr_add("tags", s->op, o->tags, 0);
	return 0;
}

__attribute__((format(printf, 3, 4))) static void
h_set_error(bar_call *call, const char *code, const char *fmt, ...)
{
	ch_call *c = call->host_data;
	va_list ap;

	snprintf(c->code, sizeof(c->code), "%s", code ? code : "");
	c->msg[0] = '\0';
	if (fmt) { /* a provider may pass NULL: the ABI does not forbid it */
		va_start(ap, fmt);
		vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
		va_end(ap);
	}
	c->n_errors++;
	tr_add("error code", c->op, c->code, 0);
	tr_add("error message", c->op, c->msg, 0);
}

__attribute__((format(printf, 3, 4))) static void
h_log(bar_call *call, int level, const char *fmt, ...)
{
	ch_call *c = call ? call->host_data : NULL;
	char line[4096];
	va_list ap;

	line[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
	}
	tr_add("log line", c ? c->op : "", line, 0);
	if (level >= log_echo)
		fprintf(stderr, "# log %d: %s\n", level, line);
}

static int h_cancelled(bar_call *call)
{
	return ((ch_call *)call->host_data)->cancel;
}

static const char *h_credential(bar_call *call, const char *field)
{
	for (size_t i = 0; creds && field && creds[i] && creds[i + 1]; i += 2)
		if (strcmp(creds[i], field) == 0)
			return creds[i + 1];
	return NULL;
}

static int h_emit_secret(bar_sink *s, const char *field, const char *value)
{
	if (!s || !field || !value)
		return -1;
	if (s->refuse_secrets) {
		s->n_refused++;
		return -1;
	}
	s->secrets = realloc(s->secrets, (s->n_secrets + 1) * sizeof(*s->secrets));
	if (!s->secrets)
		abort();
	s->secrets[s->n_secrets++] = (ch_secret){ xstrdup(field), xstrdup(value) };
	tr_add(field, s->op, value, 1);
	return 0;
}

static void h_set_operation(bar_call *call, const char *token)
{
	ch_call *c = call->host_data;

	free(c->operation);
	c->operation = NULL;
	if (!token)
		return;
	c->operation = strndup(token, CH_TOKEN_MAX + 1);
	c->n_operations++;
	tr_add("operation token", c->op, token, 0);
}

static atomic_long n_records, records_ms;

static void h_record_call(bar_call *call, const bar_call_record *r)
{
	ch_call *c = call->host_data;

	atomic_fetch_add(&n_records, 1);
	atomic_fetch_add(&records_ms, (long)r->duration_ms);
	/* the call log is output too: nothing in it may be secret */
	tr_add("call log operation", c->op, r->operation ? r->operation : "", 0);
	tr_add("call log resource", c->op, r->resource ? r->resource : "", 0);
	tr_add("call log error code", c->op, r->error_code ? r->error_code : "", 0);
}

long ch_calls_recorded(void)
{
	return atomic_load(&n_records);
}

long ch_calls_ms(void)
{
	return atomic_load(&records_ms);
}

static void h_report_check(bar_call *call, const char *check, int ok, const char *detail)
{
	ch_call *c = call->host_data;

	tr_add("check", c->op, check ? check : "", 0);
	tr_add("check detail", c->op, detail ? detail : "", 0);
	if (log_echo <= BAR_LOG_INFO)
		fprintf(stderr, "# check %s: %s: %s\n", ok ? "ok" : "FAILED", check ? check : "",
		        detail ? detail : "");
}

const bar_host_api ch_host = {
	.abi_version = BAR_PROVIDER_ABI_VERSION,
	.struct_size = sizeof(bar_host_api),
	.emit = h_emit,
	.set_error = h_set_error,
	.log = h_log,
	.cancelled = h_cancelled,
	.credential = h_credential,
	.emit_secret = h_emit_secret,
	.set_operation = h_set_operation,
	.record_call = h_record_call,
	.report_check = h_report_check,
};

/* ---- calls and sinks ---- */

void ch_call_init(ch_call *c, const char *op, const char *connection, const char *region,
                  const char *config, void *session)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->call = (bar_call){
		.struct_size = sizeof(bar_call),
		.connection = connection,
		.region = region,
		.zone = "",
		.config = config,
		.host_data = c,
		.session = session,
		.address = "",
		.idempotency_key = "",
		.operation = "",
	};
}

void ch_call_clear(ch_call *c)
{
	free(c->operation);
	c->operation = NULL;
}

void ch_sink_clear(bar_sink *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].system_id);
		free(s->v[i].name);
		free(s->v[i].status);
		free(s->v[i].attrs);
		free(s->v[i].tags);
	}
	for (size_t i = 0; i < s->n_secrets; i++) {
		free(s->secrets[i].field);
		wipe_free(s->secrets[i].value);
	}
	free(s->v);
	free(s->secrets);
	*s = (bar_sink){ .refuse_secrets = s->refuse_secrets, .refuse_emits = s->refuse_emits,
		         .op = s->op };
}

/* ---- plugins ---- */

__attribute__((format(printf, 1, 2))) static char *msgf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

int ch_plugin_open(ch_plugin *pl, const char *path, char **err)
{
	memset(pl, 0, sizeof(*pl));
	pl->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!pl->dl) {
		*err = msgf("dlopen: %s", dlerror());
		return -1;
	}
	pl->init = (barista_provider_init_fn)dlsym(pl->dl, BAR_PROVIDER_INIT_SYMBOL);
	if (!pl->init) {
		*err = msgf("%s exports no %s", path, BAR_PROVIDER_INIT_SYMBOL);
		dlclose(pl->dl);
		pl->dl = NULL;
		return -1;
	}
	return 0;
}

int ch_plugin_init(ch_plugin *pl, const bar_host_api *host, char **err)
{
	char *msg = NULL;

	if (pl->init(host ? host : &ch_host, &pl->p, &msg) == 0 && pl->p)
		return 0;
	*err = msgf("init failed: %s", msg ? msg : "(no message)");
	free(msg);
	pl->p = NULL;
	return -1;
}

void ch_plugin_close(ch_plugin *pl)
{
	if (pl->p && pl->p->destroy)
		pl->p->destroy(pl->p);
	if (pl->dl)
		dlclose(pl->dl);
	memset(pl, 0, sizeof(*pl));
}
