/*
 * agent.h - barista-agent as a library (docs/monitoring.md, "The agent"):
 * its config file, one collection from /proc and /sys turned into samples
 * of the catalogue (metrics.h), the push buffer (memory, then an fsync'd
 * spool on disk) and the loop that collects, pushes with failover and
 * serves the pull endpoint.  cmd/barista-agent parses flags, daemonises
 * and calls these.  libc only; no threads; nothing here prints except
 * through the log callback the caller gives.
 */
#ifndef BAR_MONITOR_AGENT_H
#define BAR_MONITOR_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* ---- config ---- */

#define BAR_AGENT_MAX_COLLECTORS 16
#define BAR_AGENT_CONF_MAX (64 * 1024) /* bytes of a config file */

typedef struct bar_agent_config {
	int version;                /* 1 */
	char ns[128], mci[128], vm[128];
	char token[512];            /* secret: wiped by bar_agent_config_clear */
	char collectors[BAR_AGENT_MAX_COLLECTORS][256]; /* base URLs, http://host:port */
	size_t ncollectors;
	long collect_interval_ms;   /* 2000 */
	long push_interval_ms;      /* 10000 */
	unsigned groups;            /* bit i: bar_metric_groups[i]; "agent" is always on */
	char listen[128];           /* ADDR:PORT, "" for none */
	char state_dir[512];
	size_t memory_max_bytes;    /* 8 MiB */
	size_t spool_max_bytes;     /* 256 MiB */
	int scope_cgroup;           /* scope=cgroup: CPU and memory of the agent's own
	                             * cgroup (agent_cgroup.h), for VMs sharing a kernel */
	char apps[512];             /* the apps manifest, a file or a directory of them
	                             * (runtime/agent/apps.h), "" for none;
	                             * its directory holds the apps' files */
	char overlay[512];          /* the MCI overlay's file (runtime/agent/overlay.h), ""
	                             * for none; a missing file takes the overlay down */
} bar_agent_config;

/* Defaults (every group on, nothing to push to, state_dir "."). */
void bar_agent_config_init(bar_agent_config *c);

/*
 * Parse a config's text (len bytes, at most BAR_AGENT_CONF_MAX) into *out
 * (initialised here; *out written only on success).  file names it in
 * messages.  0, or -1 with why[wsize] = "FILE:LINE: what is wrong and what
 * to do" (the token's value never appears in it).
 */
int bar_agent_config_parse(bar_agent_config *out, const char *text, size_t len,
                           const char *file, char *why, size_t wsize);

/* Read and parse the file at path; as bar_agent_config_parse. */
int bar_agent_config_load(bar_agent_config *out, const char *path, char *why, size_t wsize);

/* Wipe the token (and everything else). */
void bar_agent_config_clear(bar_agent_config *c);

/* ---- samples ---- */

/* A point: one value of one series at the sample's time.  labels are the
 * full sorted label set (__name__, ns, mci, vm and the metric's own, later
 * app), key the same set as one string (for matching series). */
typedef struct bar_agent_point {
	const struct bar_metric_info *metric;
	bar_mlabel *labels;
	size_t nlabels;
	char *key;
	double v;
} bar_agent_point;

typedef struct bar_agent_sample {
	int64_t t_ms;
	bar_agent_point *points;
	size_t n, cap;
} bar_agent_sample;

void bar_agent_sample_clear(bar_agent_sample *s);

/* Add a point of metric m (a catalogue entry) with the metric's own label
 * values own[0..nown) (in the order m->labels names them; NULL/empty ones
 * left out), rounded to m's decimals, labelled with ns/mci/vm of c.
 * 0, or -1 when out of memory. */
int bar_agent_sample_add(bar_agent_sample *s, const bar_agent_config *c,
                         const struct bar_metric_info *m, const char *const *own, size_t nown,
                         double v);

/* The collector's memory of the last counters (for rates). */
typedef struct bar_agent_probe bar_agent_probe;

/* A new probe; NULL when out of memory.  Free with bar_agent_probe_free. */
bar_agent_probe *bar_agent_probe_new(void);
void bar_agent_probe_free(bar_agent_probe *p);

/* Counters the agent reports about itself. */
typedef struct bar_agent_self {
	uint64_t buffered, dropped;
} bar_agent_self;

/*
 * One collection at t_ms into *out (cleared first): every metric of the
 * enabled groups of c from /proc and /sys; rates and CPU shares only when
 * the probe has an earlier collection (the first gives none).  Sources
 * that cannot be read are left out.  0, or -1 when out of memory.
 */
int bar_agent_collect(bar_agent_sample *out, bar_agent_probe *p, const bar_agent_config *c,
                      const bar_agent_self *self, int64_t t_ms);

/* The sample in the text format 0.0.4 (with HELP/TYPE), appended to out. */
int bar_agent_sample_prom(bar_mbuf *out, const bar_agent_sample *s, int with_ts);

/* The sample as JSON: {"t_ms":N,"samples":[{"name":"cpu.usage","prom":...,
 * "labels":{...},"value":V},...]}, appended to out. */
int bar_agent_sample_json(bar_mbuf *out, const bar_agent_sample *s);

/* ---- the push buffer ---- */

typedef struct bar_agent_buffer bar_agent_buffer;

/*
 * Open the buffer: memory up to memory_max bytes of encoded batches, then
 * the spool directory spool_dir (created; its segments replayed, oldest
 * first) up to spool_max bytes.  0 with *out, or -1 with why.
 */
int bar_agent_buffer_open(bar_agent_buffer **out, const char *spool_dir, size_t memory_max,
                          size_t spool_max, char *why, size_t wsize);

/* Add one collection to the open batch. 0, or -1 (out of memory). */
int bar_agent_buffer_add(bar_agent_buffer *b, const bar_agent_sample *s);

/* Close the open batch (encode it) and queue it.  0, or -1 with why
 * (spool write failure: the batch stays in memory). */
int bar_agent_buffer_seal(bar_agent_buffer *b, char *why, size_t wsize);

/* The oldest queued batch (a remote-write body): 0 with *body, *len and
 * *nsamples borrowed until the next call, 1 when empty, -1 with why. */
int bar_agent_buffer_peek(bar_agent_buffer *b, const char **body, size_t *len,
                          size_t *nsamples, char *why, size_t wsize);

/* Remove the batch peek gave: acknowledged (dropped = 0) or refused
 * (dropped = 1: counted in dropped). */
int bar_agent_buffer_pop(bar_agent_buffer *b, int dropped, char *why, size_t wsize);

/* Samples not yet acknowledged (open batch included); samples given up. */
uint64_t bar_agent_buffer_pending(const bar_agent_buffer *b);
uint64_t bar_agent_buffer_dropped(const bar_agent_buffer *b);

/* Seal the open batch and write every batch in memory to the spool (on
 * SIGTERM).  0, or -1 with why. */
int bar_agent_buffer_persist(bar_agent_buffer *b, char *why, size_t wsize);

void bar_agent_buffer_free(bar_agent_buffer *b);

/* ---- HTTP ---- */

/* The answer to a POST. */
typedef struct bar_agent_http_result {
	int status;        /* HTTP status; 0 when there was no answer */
	char reason[256];  /* why there was none, or the start of the body */
} bar_agent_http_result;

/*
 * POST body to base_url (http://host:port[/prefix]) + path with the push
 * headers (Authorization: Bearer token when token is non-empty,
 * Content-Encoding: snappy, Content-Type: application/x-protobuf,
 * X-Prometheus-Remote-Write-Version: 0.1.0), timeout_ms for the connect
 * and for each read or write.  Fills *res; returns 0 when an answer came,
 * -1 otherwise (reason says why; the token is never in it).
 */
int bar_agent_http_post(bar_agent_http_result *res, const char *base_url, const char *path,
                        const char *token, const void *body, size_t len, int timeout_ms);

/* ---- the loop ---- */

typedef void (*bar_agent_log_fn)(void *ctx, const char *msg);

typedef struct bar_agent_run_opts {
	int version;                 /* 1 */
	const char *config_path;
	bar_agent_log_fn log;        /* may be NULL */
	void *log_ctx;
	void (*ready)(void *ctx);    /* called once listening and buffer open; may be NULL */
	void *ready_ctx;
	volatile int *stop;          /* set by SIGTERM: persist and return */
	volatile int *reload;        /* set by SIGHUP: read config_path again */
} bar_agent_run_opts;
#define BAR_AGENT_RUN_OPTS_INIT {.version = 1}

/*
 * Run the agent with config c (reloaded from opts->config_path on
 * *opts->reload) until *opts->stop: collect, push, serve.  The caller
 * blocks SIGTERM and SIGHUP; the loop waits in ppoll with them unblocked.
 * 0 after a graceful stop, or -1 with why (cannot listen, cannot open the
 * spool).
 */
int bar_agent_run(const bar_agent_config *c, const bar_agent_run_opts *opts, char *why,
                  size_t wsize);

#endif
