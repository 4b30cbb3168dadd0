/*
 * collector.h - a collector: the HTTP server agents push to, with its store,
 * its queries (Barista's own and a Prometheus-compatible subset), its own
 * health metrics, forwarding to an existing TSDB, and the alarm evaluator
 * (docs/monitoring.md).  `barista collector` runs one; the controller will
 * embed one.
 *
 * Endpoints:
 *   POST /api/v1/write          remote-write 1.0 in; Bearer <ns>/<mci>.<hmac>
 *   GET  /api/v1/query_range    Prometheus API: a selector, or sum/avg/min/max
 *   GET  /api/v1/query          [by (labels)] of one; matrix / vector JSON
 *   GET  /api/v1/labels, /api/v1/label/NAME/values
 *   GET  /v1/query              ?mci=&vm=&metric=&since=&step=&fn=&aggregate=
 *   GET  /metrics               the collector's own health (text format)
 *   GET  /healthz
 *   GET  /v1/alarms             alarm states and history (JSON)
 *   PUT  /v1/policies/NS/NAME   a MonitoringPolicy's rules (apply pushes them;
 *   GET  /v1/policies           Bearer admin token)
 * Queries fan out to the peers (docs/monitoring.md, "Several collectors").
 */
#ifndef BAR_MONITOR_COLLECTOR_H
#define BAR_MONITOR_COLLECTOR_H

#include "tsdb.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bar_collector bar_collector;

/* A log line from a running collector (level 0 info, 1 warning, 2 error);
 * called from its threads, never with a secret in msg. */
typedef void (*bar_collector_log_fn)(void *ud, int level, const char *msg);

typedef struct bar_collector_opts {
	int version;                /* 1 */
	const char *listen;         /* "ADDR:PORT" ("0.0.0.0:9109"); port 0 picks one */
	const char *data;           /* the store's SQLite file */
	const unsigned char *secret; /* the shared secret the tokens derive from */
	size_t secret_len;
	const char *self_url;       /* how the others name this collector (alarm duty) */
	const char *const *peers;   /* the other collectors' URLs, for fan-out queries */
	size_t npeers;
	const char *forward_url;    /* remote-write target (VictoriaMetrics ...) or NULL */
	bar_tsdb_opts tsdb;         /* steps and retentions */
	size_t max_body;            /* compressed request body; 0: 16 MiB */
	size_t max_uncompressed;    /* 0: 64 MiB */
	int threads;                /* HTTP worker threads; 0: the CPUs */
	int maintain_ms;            /* between store maintenance runs; 0: 5000 */
	bar_collector_log_fn log;
	void *log_ud;
} bar_collector_opts;
#define BAR_COLLECTOR_OPTS_INIT                                                                \
	{ 1, "0.0.0.0:9109", NULL, NULL, 0, NULL, NULL, 0, NULL, BAR_TSDB_OPTS_INIT, 0, 0, 0, 0,   \
	  NULL, NULL }

/* Open the store, start serving.  0 with *out, or -1 with why (a port in
 * use, a store that will not open, no secret). */
int bar_collector_start(bar_collector **out, const bar_collector_opts *o, char *why,
                        size_t wsize);

/* The TCP port it listens on (the one picked for port 0). */
int bar_collector_port(const bar_collector *c);

/* Stop serving, flush the store and close; accepts NULL. */
void bar_collector_stop(bar_collector *c);

/* The push token of MCI ns/mci: "<ns>/<mci>.<64 hex>" (HMAC-SHA256 of
 * "push:<ns>/<mci>" with the secret) into out[size] (size >= 200).  The
 * admin token (policy pushes) is "admin.<hex of HMAC("admin")>".
 * Returns 0, or -1 when it does not fit. */
int bar_monitor_token(char *out, size_t size, const unsigned char *secret, size_t len,
                      const char *ns, const char *mci);
int bar_monitor_admin_token(char *out, size_t size, const unsigned char *secret, size_t len);

#endif
