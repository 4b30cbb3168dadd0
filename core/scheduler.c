/*
 * scheduler.c - the task scheduler (see scheduler.h).
 *
 * One mutex guards the graph and the queues; workers sleep on a condition
 * variable (with a 200 ms timeout, so a stop request is seen even when
 * nothing finishes) and run tasks without the lock.
 */
#include "scheduler.h"
#include "error.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct task {
	bar_sched_state state;
	int pending;      /* unfinished tasks this one waits for */
	size_t *next;     /* tasks waiting for this one */
	size_t n_next, cap_next;
	size_t slot;
} task;

typedef struct queue {
	size_t *items;
	size_t head, tail, cap;
	int limit;   /* 0 = none */
	int dyn;     /* a lower cap after throttling (AIMD); 0 = none */
	int streak;  /* unthrottled completions since dyn last changed */
	int running;
} queue;

struct bar_sched {
	task *tasks;
	size_t n;
	queue *queues;
	size_t n_slots;
	size_t finished, running, rr;
	bar_sched_summary sum;
	const bar_sched_opts *o;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t ev_mu; /* serialises the events */
};

int bar_sched_new(bar_sched **out, size_t n_tasks, size_t n_slots)
{
	bar_sched *s = bar_calloc(1, sizeof(*s));

	s->n = n_tasks;
	s->tasks = bar_calloc(n_tasks + 1, sizeof(*s->tasks));
	s->n_slots = n_slots ? n_slots : 1;
	s->queues = bar_calloc(s->n_slots, sizeof(*s->queues));
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->ev_mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	*out = s;
	return 0;
}

void bar_sched_free(bar_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->tasks[i].next);
	for (size_t i = 0; i < s->n_slots; i++)
		free(s->queues[i].items);
	free(s->tasks);
	free(s->queues);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->ev_mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

void bar_sched_place(bar_sched *s, size_t t, size_t slot)
{
	s->tasks[t].slot = slot < s->n_slots ? slot : 0;
}

void bar_sched_limit(bar_sched *s, size_t slot, int limit)
{
	if (slot < s->n_slots)
		s->queues[slot].limit = limit > 0 ? limit : 0;
}

void bar_sched_edge(bar_sched *s, size_t before, size_t after)
{
	task *f = &s->tasks[before];

	if (f->n_next == f->cap_next) {
		f->cap_next = f->cap_next ? f->cap_next * 2 : 4;
		f->next = bar_realloc(f->next, f->cap_next * sizeof(size_t));
	}
	f->next[f->n_next++] = after;
	s->tasks[after].pending++;
}

bar_sched_state bar_sched_task_state(const bar_sched *s, size_t t)
{
	return s->tasks[t].state;
}

static void q_push(queue *q, size_t v)
{
	if (q->tail == q->cap) {
		if (q->head > 0) {
			memmove(q->items, q->items + q->head, (q->tail - q->head) * sizeof(size_t));
			q->tail -= q->head;
			q->head = 0;
		} else {
			q->cap = q->cap ? q->cap * 2 : 16;
			q->items = bar_realloc(q->items, q->cap * sizeof(size_t));
		}
	}
	q->items[q->tail++] = v;
}

/* ---- events (serialised) ---- */

static void ev_start(bar_sched *s, size_t t)
{
	if (!s->o->on_start)
		return;
	pthread_mutex_lock(&s->ev_mu);
	s->o->on_start(s->o->ud, t);
	pthread_mutex_unlock(&s->ev_mu);
}

static void ev_done(bar_sched *s, size_t t, int ok, double elapsed)
{
	if (!s->o->on_done)
		return;
	pthread_mutex_lock(&s->ev_mu);
	s->o->on_done(s->o->ud, t, ok, elapsed);
	pthread_mutex_unlock(&s->ev_mu);
}

static void ev_skip(bar_sched *s, size_t t, bar_sched_skip why, size_t cause)
{
	if (!s->o->on_skip)
		return;
	pthread_mutex_lock(&s->ev_mu);
	s->o->on_skip(s->o->ud, t, why, cause);
	pthread_mutex_unlock(&s->ev_mu);
}

/* ---- the walk (under s->mu) ---- */

static void mark_skipped(bar_sched *s, size_t t, bar_sched_skip why, size_t cause)
{
	s->tasks[t].state = BAR_SCHED_SKIPPED;
	s->finished++;
	s->sum.skipped++;
	ev_skip(s, t, why, cause);
}

/* Skip everything waiting (transitively) on failed task `t`. */
static void skip_dependents(bar_sched *s, size_t t, size_t cause)
{
	task *k = &s->tasks[t];

	for (size_t i = 0; i < k->n_next; i++) {
		size_t x = k->next[i];

		if (s->tasks[x].state != BAR_SCHED_WAITING)
			continue;
		mark_skipped(s, x, BAR_SCHED_DEP_FAILED, cause);
		skip_dependents(s, x, cause);
	}
}

/* Skip everything not started (a stop once nothing runs, or a cycle). */
static void skip_rest(bar_sched *s, bar_sched_skip why)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->tasks[i].state == BAR_SCHED_WAITING || s->tasks[i].state == BAR_SCHED_READY)
			mark_skipped(s, i, why, (size_t)-1);
	pthread_cond_broadcast(&s->cv);
}

/* Additive increase, multiplicative decrease of a slot's concurrency. */
static void adapt(queue *q, int throttled)
{
	if (throttled) {
		int half = (q->running + 1) / 2;

		q->dyn = half < 1 ? 1 : half;
		q->streak = 0;
	} else if (q->dyn && ++q->streak >= q->dyn) {
		q->dyn++;
		q->streak = 0;
		if (q->limit && q->dyn >= q->limit)
			q->dyn = 0;
	}
}

static void finish(bar_sched *s, size_t t, int ok, int throttled)
{
	task *k = &s->tasks[t];

	k->state = ok ? BAR_SCHED_DONE : BAR_SCHED_FAILED;
	s->finished++;
	adapt(&s->queues[k->slot], throttled);
	s->queues[k->slot].running--;
	s->running--;
	if (!ok) {
		s->sum.failed++;
		skip_dependents(s, t, t);
	} else {
		s->sum.done++;
		for (size_t i = 0; i < k->n_next; i++) {
			task *x = &s->tasks[k->next[i]];

			if (x->state == BAR_SCHED_WAITING && --x->pending == 0) {
				x->state = BAR_SCHED_READY;
				q_push(&s->queues[x->slot], k->next[i]);
			}
		}
	}
	pthread_cond_broadcast(&s->cv);
}

/* A ready task from a queue with spare capacity, round-robin over slots:
 * its index + 1, or 0. */
static size_t pick(bar_sched *s)
{
	for (size_t k = 0; k < s->n_slots; k++) {
		size_t slot = (s->rr + k) % s->n_slots;
		queue *q = &s->queues[slot];
		int cap = q->dyn ? q->dyn : q->limit;

		if (q->head == q->tail || (cap && q->running >= cap))
			continue;
		s->rr = slot + 1;
		q->running++;
		s->running++;
		return q->items[q->head++] + 1;
	}
	return 0;
}

static void wait_a_while(bar_sched *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void run_one(bar_sched *s, size_t t)
{
	double t0 = bar_now_s();
	int ok, throttled = 0;

	s->tasks[t].state = BAR_SCHED_RUNNING;
	pthread_mutex_unlock(&s->mu);
	ev_start(s, t);
	ok = s->o->run(s->o->ud, t, &throttled) == 0;
	ev_done(s, t, ok, bar_now_s() - t0);
	pthread_mutex_lock(&s->mu);
	finish(s, t, ok, throttled);
}

static void *worker(void *arg)
{
	bar_sched *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		size_t i = 0;
		int stop;

		while (s->finished < s->n && !bar_cancel_stopping(s->o->cancel) && !(i = pick(s))) {
			if (s->running == 0) { /* nothing runs, nothing is ready: a cycle */
				skip_rest(s, BAR_SCHED_CYCLE);
				continue;
			}
			wait_a_while(s);
		}
		if (s->finished >= s->n)
			break;
		stop = !i;
		if (stop && s->running == 0)
			skip_rest(s, BAR_SCHED_STOPPED);
		else if (stop)
			pthread_cond_wait(&s->cv, &s->mu);
		else
			run_one(s, i - 1);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int bar_sched_run(bar_sched *s, const bar_sched_opts *o, bar_sched_summary *sum)
{
	int workers = o->workers > 0 ? o->workers : 10, started, err = 0;
	pthread_attr_t attr;
	pthread_t *th;

	s->o = o;
	memset(&s->sum, 0, sizeof(s->sum));
	*sum = s->sum;
	for (size_t i = 0; i < s->n; i++)
		if (s->tasks[i].pending == 0) {
			s->tasks[i].state = BAR_SCHED_READY;
			q_push(&s->queues[s->tasks[i].slot], i);
		}
	if ((size_t)workers > s->n)
		workers = s->n ? (int)s->n : 1;
	th = bar_calloc((size_t)workers, sizeof(*th));
	pthread_attr_init(&attr);
	if (o->stack_size)
		pthread_attr_setstacksize(&attr, o->stack_size);
	for (started = 0; started < workers; started++)
		if ((err = pthread_create(&th[started], &attr, worker, s)) != 0)
			break;
	pthread_attr_destroy(&attr);
	if (started == 0) {
		free(th);
		return bar_error_set("cannot start scheduler workers: %s", strerror(err));
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	*sum = s->sum;
	return s->sum.failed || s->sum.skipped ? -1 : 0;
}
