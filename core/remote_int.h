/*
 * remote_int.h - shared by the files of the remote module (remote_run.c,
 * remote_cp.c) and the session broker's client (sshmux_client.c): the sink
 * that turns output chunks into lines and captured text and serialises the
 * callbacks, and the copy job run on one session.
 */
#ifndef BAR_REMOTE_INT_H
#define BAR_REMOTE_INT_H

#include "remote.h"
#include "ssh.h"

typedef struct bar_remote_sink bar_remote_sink;

/* A sink for a run over t, reporting to o's callbacks and filling res,
 * which it sizes (one zeroed result per target).  Freed with
 * bar_remote_sink_free. */
bar_remote_sink *bar_remote_sink_new(const bar_remote_targets *t, const bar_remote_opts *o,
                                     bar_remote_results *res);
void bar_remote_sink_free(bar_remote_sink *k);

/* Output, progress and the end of one target; thread-safe.  done takes
 * r's error string; out/err of r are ignored (the sink's capture is used). */
void bar_remote_sink_chunk(bar_remote_sink *k, size_t i, int stream, const char *data,
                           size_t n);
void bar_remote_sink_progress(bar_remote_sink *k, size_t i, uint64_t done, uint64_t total);
void bar_remote_sink_done(bar_remote_sink *k, size_t i, bar_remote_result *r);
/* Whether target i has been reported done. */
int bar_remote_sink_finished(bar_remote_sink *k, size_t i);

/* Progress of one target's copy, handed down to the file transfers. */
typedef struct bar_remote_cp_ctx {
	bar_remote_sink *sink;
	size_t index;
	const bar_cancel *cancel;
	int64_t deadline_ms;
	uint64_t base;  /* bytes of the files already copied */
	uint64_t total; /* all bytes to copy, 0 when not known */
} bar_remote_cp_ctx;

/* Copy as the PUT or GET job says, on one session, for target t.
 * Returns 0 with *bytes set, or what the transfers return. */
int bar_remote_cp(bar_ssh *s, const bar_remote_target *t, const bar_remote_job *job,
                  bar_remote_cp_ctx *ctx, uint64_t *bytes);

#endif
