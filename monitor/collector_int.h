/*
 * collector_int.h - what the collector's files share (not an interface).
 */
#ifndef BAR_MONITOR_COLLECTOR_INT_H
#define BAR_MONITOR_COLLECTOR_INT_H

#include "collector.h"
#include "util.h"

#include <jansson.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

/* The collector's own counters (its /metrics). */
typedef struct collector_stats {
	atomic_uint_fast64_t writes_ok, writes_bad, writes_denied, samples_in, samples_dropped;
	atomic_uint_fast64_t queries, query_errors, peer_errors;
	atomic_uint_fast64_t forward_sent, forward_failed, forward_dropped, forward_samples;
	atomic_uint_fast64_t notifications_sent, notifications_failed;
} collector_stats;

typedef struct forwarder forwarder;
typedef struct alarm_engine alarm_engine;

struct bar_collector {
	bar_collector_opts o;
	char *listen, *data, *self_url, *forward_url;
	char **peers;
	size_t npeers;
	unsigned char *secret;
	size_t secret_len;
	char admin_token[128];
	bar_tsdb *db;
	struct MHD_Daemon *http;
	int port;
	int64_t started_ms;
	collector_stats st;
	pthread_t maint;
	int maint_started;
	pthread_mutex_t lock;    /* stop flag and the condition */
	pthread_cond_t wake;
	int stopping;
	forwarder *fwd;
	alarm_engine *alarms;
};

/* Log through the caller's function, if any. */
void collector_log(bar_collector *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An answer: body (taken, malloc'd; may be NULL for none) with its type. */
enum MHD_Result collector_answer(struct MHD_Connection *conn, unsigned status, char *body,
                                 size_t len, const char *type);
/* {"status":"error","errorType":type,"error":msg} with status. */
enum MHD_Result collector_error(struct MHD_Connection *conn, unsigned status, const char *type,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Milliseconds of CLOCK_REALTIME. */
int64_t collector_now_ms(void);

/* The query endpoints (collector_query.c); each returns its MHD result. */
enum MHD_Result collector_query_range(bar_collector *c, struct MHD_Connection *conn,
                                      int instant);
enum MHD_Result collector_select(bar_collector *c, struct MHD_Connection *conn);
enum MHD_Result collector_query_barista(bar_collector *c, struct MHD_Connection *conn);
enum MHD_Result collector_labels(bar_collector *c, struct MHD_Connection *conn,
                                 const char *label);

/* A select over this collector and its peers, series merged by labels.
 * local: this collector only.  0 with *out, or -1 with why. */
int collector_gather(bar_tsdb_result *out, bar_collector *c, const bar_tsdb_query *q, int local,
                     char *why, size_t wsize);

/* Free a collector_gather result. */
void collector_result_free(bar_tsdb_result *r);

struct bar_promql;
/* Aggregate the series of r across series as q's aggregation says (its
 * by/without labels), in place. */
void collector_aggregate(bar_tsdb_result *r, const struct bar_promql *q);

/* Whether the request carries the admin token. */
int collector_admin_ok(bar_collector *c, struct MHD_Connection *conn);

/* Deliver an alert group's message (Alertmanager's webhook payload) to one
 * receiver of a policy (alarm_notify.c).  0, or -1 with why. */
int alarm_send(bar_collector *c, const json_t *receiver, const json_t *msg, char *why,
               size_t wsize);

/* The alarm engine (alarm.c). */
int alarm_engine_start(alarm_engine **out, bar_collector *c, char *why, size_t wsize);
void alarm_engine_stop(alarm_engine *e);
enum MHD_Result collector_policies(bar_collector *c, struct MHD_Connection *conn,
                                   const char *method, const char *url, const char *body,
                                   size_t len);
enum MHD_Result collector_alarms_list(bar_collector *c, struct MHD_Connection *conn);

/* Forwarding (collector_forward.c): start, queue a validated body, stop. */
int forwarder_start(forwarder **out, bar_collector *c, const char *url, char *why, size_t wsize);
void forwarder_push(forwarder *f, const void *body, size_t len, size_t samples);
size_t forwarder_queued(forwarder *f);
void forwarder_stop(forwarder *f);

#endif
