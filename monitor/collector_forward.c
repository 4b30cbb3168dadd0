/*
 * collector_forward.c - forwarding to an existing TSDB: every accepted push
 * is passed on, as the same remote-write body, to the forward URL
 * (VictoriaMetrics' /api/v1/write, Prometheus with its remote-write
 * receiver, Mimir, Thanos receive...).
 *
 * One thread sends in arrival order.  A failure (no answer, 5xx, 429) keeps
 * the body at the head of the queue and retries with a backoff from 1 s to
 * 30 s; a 4xx other than 429 drops that body (the receiver will never take
 * it) and counts it.  The queue is bounded (64 MiB of bodies); when full the
 * oldest body goes first, counted in barista_collector_forward_dropped_total.
 * Forwarding never slows ingest down: the store has the samples either way.
 */
#include "collector_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX_BYTES (64u << 20)

typedef struct item {
	struct item *next;
	size_t len, samples;
	char body[];
} item;

struct forwarder {
	bar_collector *c;
	char *url;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	item *head, *tail;
	size_t bytes, count;
	int stopping;
};

static void drop_head(forwarder *f)
{
	item *it = f->head;

	f->head = it->next;
	if (!f->head)
		f->tail = NULL;
	f->bytes -= it->len;
	f->count--;
	free(it);
}

void forwarder_push(forwarder *f, const void *body, size_t len, size_t samples)
{
	item *it = malloc(sizeof(*it) + len);

	if (!it) {
		atomic_fetch_add(&f->c->st.forward_dropped, 1);
		return;
	}
	memcpy(it->body, body, len);
	it->len = len;
	it->samples = samples;
	it->next = NULL;
	pthread_mutex_lock(&f->lock);
	while (f->head && f->bytes + len > QUEUE_MAX_BYTES) {
		drop_head(f);
		atomic_fetch_add(&f->c->st.forward_dropped, 1);
	}
	if (f->tail)
		f->tail->next = it;
	else
		f->head = it;
	f->tail = it;
	f->bytes += len;
	f->count++;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

size_t forwarder_queued(forwarder *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->count;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* POST one body: 0 sent, 1 retry later, 2 refused for good. */
static int send_one(forwarder *f, CURL *h, const item *it, long *status)
{
	struct curl_slist *hd = NULL;
	CURLcode cc;

	hd = curl_slist_append(hd, "Content-Encoding: snappy");
	hd = curl_slist_append(hd, "Content-Type: application/x-protobuf");
	hd = curl_slist_append(hd, "X-Prometheus-Remote-Write-Version: 0.1.0");
	hd = curl_slist_append(hd, "User-Agent: barista-collector/" BAR_VERSION);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, f->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const void *)&it->body[0]);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cc = curl_easy_perform(h);
	curl_slist_free_all(hd);
	*status = 0;
	if (cc != CURLE_OK)
		return 1;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300)
		return 0;
	if (*status == 429 || *status >= 500)
		return 1;
	return 2;
}

/* Wait for a push or ms, the lock held. */
static void wait_ms(forwarder *f, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&f->cond, &f->lock, &ts);
}

static void *forward_main(void *arg)
{
	forwarder *f = arg;
	CURL *h = curl_easy_init();
	int backoff_ms = 0;

	pthread_mutex_lock(&f->lock);
	while (!f->stopping) {
		item *it;
		long status;
		int r;

		if (!f->head) {
			wait_ms(f, 1000);
			continue;
		}
		if (backoff_ms) {
			/* after a failure: wait out the backoff (a new push does not
			 * cut it short), then try the head again */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += backoff_ms / 1000;
			while (!f->stopping &&
			       pthread_cond_timedwait(&f->cond, &f->lock, &until) != ETIMEDOUT)
				;
			if (f->stopping)
				break;
		}
		it = f->head;
		pthread_mutex_unlock(&f->lock);
		r = h ? send_one(f, h, it, &status) : 1;
		pthread_mutex_lock(&f->lock);
		if (r == 1) {
			atomic_fetch_add(&f->c->st.forward_failed, 1);
			backoff_ms = backoff_ms ? (backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2) : 1000;
			if (backoff_ms == 1000)
				collector_log(f->c, 1, "forwarding to %s failed (HTTP %ld); retrying", f->url,
				              status);
			continue;
		}
		backoff_ms = 0;
		if (r == 2) {
			atomic_fetch_add(&f->c->st.forward_dropped, 1);
			collector_log(f->c, 2, "forwarding: %s refused a push with HTTP %ld; dropped",
			              f->url, status);
		} else {
			atomic_fetch_add(&f->c->st.forward_sent, 1);
			atomic_fetch_add(&f->c->st.forward_samples, it->samples);
		}
		if (f->head == it)
			drop_head(f);
	}
	pthread_mutex_unlock(&f->lock);
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

int forwarder_start(forwarder **out, bar_collector *c, const char *url, char *why, size_t wsize)
{
	forwarder *f;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		snprintf(why, wsize, "the forward URL \"%s\" must be http:// or https://", url);
		return -1;
	}
	f = bar_calloc(1, sizeof(*f));
	f->c = c;
	f->url = bar_strdup(url);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	if (pthread_create(&f->thread, NULL, forward_main, f) != 0) {
		snprintf(why, wsize, "cannot start the forwarding thread");
		free(f->url);
		free(f);
		return -1;
	}
	*out = f;
	return 0;
}

void forwarder_stop(forwarder *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	while (f->head)
		drop_head(f);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f->url);
	free(f);
}
