/*
 * collector.c - the collector's HTTP server (libmicrohttpd, a thread pool),
 * its ingest of remote-write pushes, its own /metrics and /healthz, and the
 * store's maintenance thread.  Queries are in collector_query.c, forwarding
 * in collector_forward.c.
 *
 * An accepted push is acknowledged (204) only after bar_tsdb_append
 * returned, so an agent that got its 204 may forget the batch: the store's
 * write-ahead log keeps it.  A push is all or nothing: a body that does not
 * decode, a series of another MCI than the token's, is refused whole with a
 * 4xx naming the reason, and the agent keeps it.
 */
#include "collector_int.h"
#include "json.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_BODY_DEFAULT (16u << 20)
#define MAX_UNCOMPRESSED_DEFAULT (64u << 20)

void collector_log(bar_collector *c, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!c->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->o.log(c->o.log_ud, level, msg);
}

int64_t collector_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum MHD_Result collector_answer(struct MHD_Connection *conn, unsigned status, char *body,
                                 size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (char *)"",
	                                                         body ? MHD_RESPMEM_MUST_FREE
	                                                              : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result collector_error(struct MHD_Connection *conn, unsigned status, const char *type,
                                const char *fmt, ...)
{
	char msg[1024];
	bar_buf b = BAR_BUF_INIT(0);
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bar_buf_printf(&b, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":", type);
	bar_json_canon_string(&b, msg, strlen(msg));
	bar_buf_puts(&b, "}\n");
	len = b.len;
	return collector_answer(conn, status, bar_buf_take(&b), len, "application/json");
}

/* ---- authentication ---- */

/* The MCI a push token opens ("ns/mci"), checked against the secret: 0
 * with ns[], mci[], or -1. */
static int push_token(bar_collector *c, const char *auth, char *ns, char *mci)
{
	const char *tok, *slash, *dot;
	char want[200];
	size_t n;
	int ok;

	if (!auth || strncmp(auth, "Bearer ", 7) != 0)
		return -1;
	tok = auth + 7;
	slash = strchr(tok, '/');
	dot = slash ? strchr(slash, '.') : NULL;
	if (!slash || !dot || slash - tok > 63 || dot - slash - 1 > 63 || slash == tok ||
	    dot == slash + 1)
		return -1;
	memcpy(ns, tok, (size_t)(slash - tok));
	ns[slash - tok] = '\0';
	memcpy(mci, slash + 1, (size_t)(dot - slash - 1));
	mci[dot - slash - 1] = '\0';
	if (bar_monitor_token(want, sizeof(want), c->secret, c->secret_len, ns, mci) < 0)
		return -1;
	n = strlen(want);
	ok = strlen(tok) == n && CRYPTO_memcmp(want, tok, n) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok ? 0 : -1;
}

int collector_admin_ok(bar_collector *c, struct MHD_Connection *conn)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	size_t n = strlen(c->admin_token);

	return auth && strncmp(auth, "Bearer ", 7) == 0 && strlen(auth + 7) == n &&
	       CRYPTO_memcmp(auth + 7, c->admin_token, n) == 0;
}

/* ---- ingest ---- */

static const char *label_of(const bar_mseries *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

static enum MHD_Result do_write(bar_collector *c, struct MHD_Connection *conn, const char *body,
                                size_t len)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Encoding");
	char ns[64], mci[64], why[256];
	bar_rw_request rq;
	size_t dropped = 0;

	if (push_token(c, auth, ns, mci) < 0) {
		atomic_fetch_add(&c->st.writes_denied, 1);
		return collector_error(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		                       "a push needs \"Authorization: Bearer <ns>/<mci>.<token>\" "
		                       "with the token apply gave the agent");
	}
	if (enc && strcmp(enc, "snappy") != 0) {
		atomic_fetch_add(&c->st.writes_bad, 1);
		return collector_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "bad_data",
		                       "Content-Encoding %.40s: remote-write bodies are snappy", enc);
	}
	if (bar_rw_decode(&rq, body, len, c->o.max_uncompressed, why, sizeof(why)) < 0) {
		atomic_fetch_add(&c->st.writes_bad, 1);
		return collector_error(conn, MHD_HTTP_BAD_REQUEST, "bad_data",
		                       "not a remote-write 1.0 body: %s", why);
	}
	for (size_t i = 0; i < rq.nseries; i++) {
		const char *sns = label_of(&rq.series[i], "ns"), *smci = label_of(&rq.series[i], "mci");
		if (!sns || !smci || strcmp(sns, ns) != 0 || strcmp(smci, mci) != 0) {
			enum MHD_Result r;

			atomic_fetch_add(&c->st.writes_denied, 1);
			r = collector_error(conn, MHD_HTTP_FORBIDDEN, "forbidden",
			                    "series %zu has ns=\"%.63s\" mci=\"%.63s\"; the token "
			                    "opens %s/%s only", i, sns ? sns : "", smci ? smci : "", ns,
			                    mci);
			bar_rw_request_free(&rq);
			return r;
		}
	}
	if (bar_tsdb_append(c->db, rq.series, rq.nseries, &dropped, why, sizeof(why)) < 0) {
		bar_rw_request_free(&rq);
		collector_log(c, 2, "store: %s", why);
		return collector_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "internal",
		                       "the store refused the samples: %s", why);
	}
	atomic_fetch_add(&c->st.writes_ok, 1);
	atomic_fetch_add(&c->st.samples_in, rq.nsamples);
	atomic_fetch_add(&c->st.samples_dropped, dropped);
	if (c->fwd)
		forwarder_push(c->fwd, body, len, rq.nsamples);
	bar_rw_request_free(&rq);
	return collector_answer(conn, MHD_HTTP_NO_CONTENT, NULL, 0, NULL);
}

/* ---- own health ---- */

static void counter(bar_mbuf *b, const char *name, const char *help, uint64_t v)
{
	bar_promtext_family(b, name, help, "counter");
	bar_promtext_sample(b, name, NULL, 0, (double)v, 0);
}

static void gauge(bar_mbuf *b, const char *name, const char *help, double v)
{
	bar_promtext_family(b, name, help, "gauge");
	bar_promtext_sample(b, name, NULL, 0, v, 0);
}

static enum MHD_Result do_metrics(bar_collector *c, struct MHD_Connection *conn)
{
	static const char *const tiers[] = {"raw", "rollup", "coarse"};
	bar_mbuf b = {0};
	bar_tsdb_stats s;
	size_t len;

	bar_tsdb_stats_get(c->db, &s);
	counter(&b, "barista_collector_writes_total", "Pushes stored",
	        atomic_load(&c->st.writes_ok));
	counter(&b, "barista_collector_writes_rejected_total",
	        "Pushes refused as malformed (400)", atomic_load(&c->st.writes_bad));
	counter(&b, "barista_collector_writes_denied_total",
	        "Pushes refused for their token (401, 403)", atomic_load(&c->st.writes_denied));
	counter(&b, "barista_collector_samples_received_total", "Samples stored",
	        atomic_load(&c->st.samples_in));
	counter(&b, "barista_collector_samples_out_of_order_total",
	        "Samples older than their series' newest, dropped",
	        atomic_load(&c->st.samples_dropped));
	counter(&b, "barista_collector_queries_total", "Queries answered",
	        atomic_load(&c->st.queries));
	counter(&b, "barista_collector_query_errors_total", "Queries refused or failed",
	        atomic_load(&c->st.query_errors));
	counter(&b, "barista_collector_peer_errors_total", "Peer queries that failed",
	        atomic_load(&c->st.peer_errors));
	counter(&b, "barista_collector_forwarded_samples_total",
	        "Samples forwarded by remote-write", atomic_load(&c->st.forward_samples));
	counter(&b, "barista_collector_forward_failures_total",
	        "Forwarding attempts that failed (retried)", atomic_load(&c->st.forward_failed));
	counter(&b, "barista_collector_forward_dropped_total",
	        "Pushes given up for forwarding (queue full)", atomic_load(&c->st.forward_dropped));
	counter(&b, "barista_collector_notifications_total", "Alarm notifications delivered",
	        atomic_load(&c->st.notifications_sent));
	counter(&b, "barista_collector_notification_failures_total",
	        "Alarm notifications that failed", atomic_load(&c->st.notifications_failed));
	gauge(&b, "barista_collector_series", "Series in the store", (double)s.series);
	bar_promtext_family(&b, "barista_collector_points", "Points in the store, by tier",
	                    "gauge");
	for (int t = 0; t < BAR_TSDB_TIERS; t++) {
		bar_mlabel l = {"tier", tiers[t]};
		bar_promtext_sample(&b, "barista_collector_points", &l, 1, (double)s.points[t], 0);
	}
	gauge(&b, "barista_collector_store_bytes", "Bytes of the store's files on disk",
	      (double)s.file_bytes);
	gauge(&b, "barista_collector_forward_queue", "Pushes waiting to be forwarded",
	      c->fwd ? (double)forwarder_queued(c->fwd) : 0);
	gauge(&b, "barista_collector_start_time_seconds", "When the collector started",
	      (double)c->started_ms / 1000.0);
	if (b.failed) {
		bar_mbuf_free(&b);
		return collector_error(conn, 500, "internal", "out of memory");
	}
	len = b.len;
	return collector_answer(conn, MHD_HTTP_OK, b.p, len, "text/plain; version=0.0.4");
}

/* ---- dispatch ---- */

typedef struct upload {
	bar_mbuf body;
	int too_big;
} upload;

static enum MHD_Result route(bar_collector *c, struct MHD_Connection *conn, const char *method,
                             const char *url, const char *body, size_t len)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (strcmp(url, "/api/v1/write") == 0) {
		if (strcmp(method, "POST") != 0)
			return collector_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "bad_data",
			                       "/api/v1/write takes POST");
		return do_write(c, conn, body, len);
	}
	if (!strcmp(url, "/api/v1/query_range") && (get || !strcmp(method, "POST")))
		return collector_query_range(c, conn, 0);
	if (!strcmp(url, "/api/v1/query") && (get || !strcmp(method, "POST")))
		return collector_query_range(c, conn, 1);
	if (!strcmp(url, "/api/v1/labels") && get)
		return collector_labels(c, conn, NULL);
	if (!strncmp(url, "/api/v1/label/", 14) && get) {
		const char *rest = url + 14, *slash = strchr(rest, '/');
		char name[128];
		if (slash && !strcmp(slash, "/values") && slash - rest < (long)sizeof(name)) {
			memcpy(name, rest, (size_t)(slash - rest));
			name[slash - rest] = '\0';
			return collector_labels(c, conn, name);
		}
	}
	if (!strcmp(url, "/v1/select") && get)
		return collector_select(c, conn);
	if (!strcmp(url, "/v1/query") && get)
		return collector_query_barista(c, conn);
	if (!strcmp(url, "/metrics") && get)
		return do_metrics(c, conn);
	if (!strcmp(url, "/healthz") && get)
		return collector_answer(conn, MHD_HTTP_OK, strdup("ok\n"), 3, "text/plain");
	if (!strncmp(url, "/v1/policies", 12))
		return collector_policies(c, conn, method, url, body, len);
	if (!strcmp(url, "/v1/alarms") && get)
		return collector_alarms_list(c, conn);
	return collector_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
	                       "no %s %s here; see docs/monitoring.md for the endpoints", method,
	                       url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	bar_collector *c = cls;
	upload *u = *con_cls;
	enum MHD_Result r;

	(void)version;
	if (!u) {
		if (!(u = calloc(1, sizeof(*u))))
			return MHD_NO;
		u->body.max = c->o.max_body ? c->o.max_body : MAX_BODY_DEFAULT;
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!u->too_big && bar_mbuf_add(&u->body, upload_data, *upload_data_size) < 0)
			u->too_big = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (u->too_big)
		return collector_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "bad_data",
		                       "the body is over %zu bytes; push smaller batches",
		                       u->body.max);
	r = route(c, conn, method, url, u->body.p ? u->body.p : "", u->body.len);
	return r;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	upload *u = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (u) {
		bar_mbuf_free(&u->body);
		free(u);
		*con_cls = NULL;
	}
}

static void *maintain_main(void *arg)
{
	bar_collector *c = arg;
	int every = c->o.maintain_ms > 0 ? c->o.maintain_ms : 5000;
	char why[256];

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += every / 1000;
		ts.tv_nsec += (long)(every % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&c->wake, &c->lock, &ts);
		if (c->stopping)
			break;
		pthread_mutex_unlock(&c->lock);
		if (bar_tsdb_maintain(c->db, collector_now_ms(), why, sizeof(why)) < 0)
			collector_log(c, 2, "store maintenance: %s", why);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int parse_listen(const char *listen, struct sockaddr_in *sa, char *why, size_t wsize)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	char *end;
	long port;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!colon || (size_t)(colon - listen) >= sizeof(host)) {
		snprintf(why, wsize, "listen address \"%s\" must be ADDR:PORT", listen);
		return -1;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535) {
		snprintf(why, wsize, "listen address \"%s\" has a bad port", listen);
		return -1;
	}
	if (!*host)
		strcpy(host, "0.0.0.0");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		snprintf(why, wsize, "listen address \"%s\": \"%s\" is not an IPv4 address", listen,
		         host);
		return -1;
	}
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

int bar_collector_start(bar_collector **out, const bar_collector_opts *o, char *why,
                        size_t wsize)
{
	bar_collector *c;
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	unsigned threads;

	if (!o || o->version != 1 || !o->data || !o->secret || !o->secret_len) {
		snprintf(why, wsize, "a collector needs a store file and the shared secret");
		return -1;
	}
	if (parse_listen(o->listen ? o->listen : "0.0.0.0:9109", &sa, why, wsize) < 0)
		return -1;
	c = bar_calloc(1, sizeof(*c));
	c->o = *o;
	c->data = bar_strdup(o->data);
	c->self_url = o->self_url ? bar_strdup(o->self_url) : NULL;
	c->forward_url = o->forward_url ? bar_strdup(o->forward_url) : NULL;
	c->secret = bar_malloc(o->secret_len);
	memcpy(c->secret, o->secret, o->secret_len);
	c->secret_len = o->secret_len;
	c->npeers = o->npeers;
	c->peers = bar_calloc(o->npeers ? o->npeers : 1, sizeof(char *));
	for (size_t i = 0; i < o->npeers; i++)
		c->peers[i] = bar_strdup(o->peers[i]);
	c->o.max_uncompressed = o->max_uncompressed ? o->max_uncompressed : MAX_UNCOMPRESSED_DEFAULT;
	c->started_ms = collector_now_ms();
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (bar_monitor_admin_token(c->admin_token, sizeof(c->admin_token), c->secret,
	                            c->secret_len) < 0) {
		snprintf(why, wsize, "cannot derive the admin token");
		goto fail;
	}
	{
		bar_tsdb_opts to = o->tsdb;
		to.path = c->data;
		if (bar_tsdb_open(&c->db, &to, why, wsize) < 0)
			goto fail;
	}
	if (c->forward_url && forwarder_start(&c->fwd, c, c->forward_url, why, wsize) < 0)
		goto fail;
	if (alarm_engine_start(&c->alarms, c, why, wsize) < 0)
		goto fail;
	threads = o->threads > 0 ? (unsigned)o->threads : 2;
	c->http = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                               MHD_USE_ERROR_LOG,
	                           0, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR, &sa,
	                           MHD_OPTION_THREAD_POOL_SIZE, threads,
	                           MHD_OPTION_NOTIFY_COMPLETED, on_done, c,
	                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                           MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
	                           MHD_OPTION_END);
	if (!c->http) {
		snprintf(why, wsize, "cannot listen on %s: %s", o->listen ? o->listen : "0.0.0.0:9109",
		         strerror(errno));
		goto fail;
	}
	info = MHD_get_daemon_info(c->http, MHD_DAEMON_INFO_BIND_PORT);
	c->port = info ? info->port : ntohs(sa.sin_port);
	if (pthread_create(&c->maint, NULL, maintain_main, c) == 0)
		c->maint_started = 1;
	*out = c;
	return 0;
fail:
	bar_collector_stop(c);
	return -1;
}

int bar_collector_port(const bar_collector *c)
{
	return c ? c->port : 0;
}

void bar_collector_stop(bar_collector *c)
{
	char why[256];

	if (!c)
		return;
	if (c->http)
		MHD_stop_daemon(c->http);
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (c->maint_started)
		pthread_join(c->maint, NULL);
	alarm_engine_stop(c->alarms);
	forwarder_stop(c->fwd);
	if (c->db && bar_tsdb_flush(c->db, why, sizeof(why)) < 0)
		collector_log(c, 2, "store flush: %s", why);
	bar_tsdb_close(c->db);
	for (size_t i = 0; i < c->npeers; i++)
		free(c->peers[i]);
	free(c->peers);
	if (c->secret)
		OPENSSL_cleanse(c->secret, c->secret_len);
	OPENSSL_cleanse(c->admin_token, sizeof(c->admin_token));
	free(c->secret);
	free(c->data);
	free(c->self_url);
	free(c->forward_url);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	free(c);
}
