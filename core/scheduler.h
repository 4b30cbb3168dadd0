/*
 * scheduler.h - the task scheduler every parallel walk of Barista shares: apply
 * (one task per change, dependencies between them, one slot per connection),
 * MCI lifecycle actions, and later agent installs, exec fan-out and the
 * controller's reconcile passes.
 *
 * Tasks wait for the tasks they depend on; a fixed pool of workers takes
 * ready tasks from one queue per slot, round-robin, never running more than
 * a slot's limit at once.  A slot's limit adapts to throttling (AIMD): a task
 * that reports it was throttled halves what runs at once in its slot, and
 * every `n` unthrottled completions allow one more again, up to the limit.
 * A failed task skips (transitively) the tasks that wait for it and nothing
 * else.  The cancellation token's `stop` starts nothing new; what runs
 * finishes.  A dependency cycle ends the run (its tasks are skipped) instead
 * of hanging.
 */
#ifndef BAR_SCHEDULER_H
#define BAR_SCHEDULER_H

#include "util.h"

#include <stddef.h>

typedef struct bar_sched bar_sched;

/* Why a task was skipped. */
typedef enum bar_sched_skip {
	BAR_SCHED_DEP_FAILED, /* a task it waits for failed (cause: that task) */
	BAR_SCHED_STOPPED,    /* the token said stop */
	BAR_SCHED_CYCLE,      /* its dependencies form a cycle */
} bar_sched_skip;

typedef enum bar_sched_state {
	BAR_SCHED_WAITING = 0,
	BAR_SCHED_READY,
	BAR_SCHED_RUNNING,
	BAR_SCHED_DONE,
	BAR_SCHED_FAILED,
	BAR_SCHED_SKIPPED,
} bar_sched_state;

typedef struct bar_sched_opts {
	unsigned version;
	int workers;              /* threads; default 10, never more than tasks */
	size_t stack_size;        /* of each worker thread; 0: the default */
	const bar_cancel *cancel; /* stop: start nothing new; may be NULL */
	/* Run one task from a worker thread: 0 on success; otherwise the error
	 * is the thread's last error.  Count BAR_ERETRY answers in *throttled. */
	int (*run)(void *ud, size_t task, int *throttled);
	/* Events, serialised (never two at once), from worker threads; each
	 * may be NULL.  on_done's `ok` says success; on failure the worker's
	 * last error is still set. */
	void (*on_start)(void *ud, size_t task);
	void (*on_done)(void *ud, size_t task, int ok, double elapsed_s);
	void (*on_skip)(void *ud, size_t task, bar_sched_skip why, size_t cause);
	void *ud;
} bar_sched_opts;
#define BAR_SCHED_OPTS_INIT { .version = 1, .workers = 10 }

typedef struct bar_sched_summary {
	size_t done, failed, skipped;
} bar_sched_summary;

/* A scheduler for n_tasks tasks over n_slots slots (every task in slot 0
 * until placed).  *out is the caller's (bar_sched_free). */
int bar_sched_new(bar_sched **out, size_t n_tasks, size_t n_slots);
void bar_sched_free(bar_sched *s);

/* Put a task in a slot; set a slot's limit of tasks at once (0: none). */
void bar_sched_place(bar_sched *s, size_t task, size_t slot);
void bar_sched_limit(bar_sched *s, size_t slot, int limit);

/* `after` waits for `before`. */
void bar_sched_edge(bar_sched *s, size_t before, size_t after);

/*
 * Run every task (once; a scheduler runs once).  Returns 0 when all
 * succeeded, -1 otherwise (the summary says how many failed or were
 * skipped), or an error when no worker could be started.
 */
int bar_sched_run(bar_sched *s, const bar_sched_opts *o, bar_sched_summary *sum);

/* A task's state (after run: DONE, FAILED or SKIPPED). */
bar_sched_state bar_sched_task_state(const bar_sched *s, size_t task);

#endif
