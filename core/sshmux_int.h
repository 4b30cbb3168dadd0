/*
 * sshmux_int.h - what the broker (sshmux.c) and its client
 * (sshmux_client.c) share: the wire format (sshmux_proto.c).
 *
 * Every message is one JSON object on one line.  Client to broker:
 *   {"op":"run","parallel":N,"job":{...},"targets":[{...}]}   then maybe
 *   {"op":"cancel"}; or {"op":"status"}; or {"op":"stop"}.
 * Broker to client during a run:
 *   {"ev":"out","i":I,"s":1|2,"d":"<base64>"}
 *   {"ev":"progress","i":I,"done":N,"total":N}
 *   {"ev":"done","i":I,"outcome":"ok",...}
 *   {"ev":"end"}                   (or {"ev":"end","error":"..."})
 */
#ifndef BAR_SSHMUX_INT_H
#define BAR_SSHMUX_INT_H

#include "remote.h"

#include <jansson.h>
#include <pthread.h>

#define MUX_REQUEST_MAX (16u << 20) /* a request line: 100k targets fit */
#define MUX_EVENT_MAX (1u << 20)    /* an event line (chunks are <= 16 KiB) */
#define MUX_TARGETS_MAX 100000

/* Reads lines of at most `max` bytes from a socket. */
typedef struct bar_mux_reader {
	int fd;
	bar_buf buf;
	size_t max;
	size_t used; /* bytes of the line last returned, with its newline */
} bar_mux_reader;

void bar_mux_reader_init(bar_mux_reader *r, int fd, size_t max);
void bar_mux_reader_free(bar_mux_reader *r);

/*
 * The next line (without its newline, NUL-terminated, borrowed until the
 * next call) within timeout_ms, giving up early when *cancel is set (may
 * be NULL; checked every 100 ms).  Returns 1 with *line set; 0 at EOF;
 * BAR_ECANCELED; BAR_SSH_ETIMEOUT; -1 on an error or a line too long.
 */
int bar_mux_read_line(bar_mux_reader *r, const char **line, int timeout_ms,
                      const bar_cancel *cancel);

/* Send j as one line (lock, if not NULL, serialises writers), giving up
 * after timeout_ms without progress.  Returns 0 or -1. */
int bar_mux_send(int fd, const json_t *j, pthread_mutex_t *lock, int timeout_ms);

/* Whether the peer of a unix socket runs as this process's user. */
int bar_mux_peer_ok(int fd);

/* The run request, and back.  Parsing fills t (owned) and job, whose
 * strings are borrowed from j. */
json_t *bar_mux_request_json(const bar_remote_targets *t, const bar_remote_job *job,
                             int parallel);
int bar_mux_request_parse(const json_t *j, bar_remote_targets *t, bar_remote_job *job,
                          int *parallel);

/* Events. */
json_t *bar_mux_event_chunk(size_t i, int stream, const char *data, size_t n);
json_t *bar_mux_event_progress(size_t i, uint64_t done, uint64_t total);
json_t *bar_mux_event_done(size_t i, const bar_remote_result *r);

/* Apply one event line to the sink; sets *end at the "end" event (and
 * the error it carries, if any, as the last error: returns -1 then). */
struct bar_remote_sink;
int bar_mux_event_apply(struct bar_remote_sink *k, const json_t *ev, size_t n,
                        int *end);

#endif
