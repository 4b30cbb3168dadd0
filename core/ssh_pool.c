/*
 * ssh_pool.c - the session pool (see ssh_pool.h): a mutex-guarded array of
 * idle sessions, each tagged with its identity key.  Connecting happens
 * outside the lock, so a hundred first connections run in parallel.
 */
#include "ssh_pool.h"
#include "ssh_int.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

struct bar_ssh_pool {
	pthread_mutex_t lock;
	bar_ssh **idle;
	size_t n, cap, max_idle;
	int idle_ms;
	bar_ssh_pool_stats stats;
};

int bar_ssh_pool_new(bar_ssh_pool **out, int idle_ms, size_t max_idle)
{
	bar_ssh_pool *p = bar_calloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	p->idle_ms = idle_ms;
	p->max_idle = max_idle ? max_idle : 1;
	*out = p;
	return 0;
}

void bar_ssh_pool_free(bar_ssh_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		bar_ssh_free(p->idle[i]);
	free(p->idle);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Everything that must match for a session to be reused.  The key file is
 * named by path and identified by inode, size and mtime, so a key replaced
 * under the same name is not served an old session either. */
static char *pool_key_hop(const bar_ssh_opts *o, const char *identity)
{
	struct stat st;

	if (stat(o->private_key_path, &st) < 0)
		memset(&st, 0, sizeof(st));
	return bar_printf("%s\n%s\n%d\n%s\n%s\n%s\n%llu.%llu.%lld.%lld", identity, o->host,
	                  o->port, o->user, o->host_key, o->private_key_path,
	                  (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	                  (long long)st.st_size, (long long)st.st_mtim.tv_sec);
}

/* A session through a bastion is keyed by the bastion's identity too, so
 * one reached directly (or through another bastion) is never reused. */
static char *pool_key(const bar_ssh_opts *o, const char *identity)
{
	char *key = pool_key_hop(o, identity), *via, *both;

	if (!o->via)
		return key;
	via = pool_key_hop(o->via, "via");
	both = bar_printf("%s\n%s", key, via);
	free(key);
	free(via);
	return both;
}

/* An idle connection the server closed reads as EOF at once. */
static int pool_alive(const bar_ssh *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	char c;

	if (!bar_ssh_usable(s))
		return 0;
	if (poll(&pfd, 1, 0) == 0)
		return 1;
	if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
		return 0;
	return recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Take the idle session with this key out of the array (dead ones met on
 * the way are returned through *dead for freeing outside the lock). */
static bar_ssh *pool_take(bar_ssh_pool *p, const char *key, bar_ssh **dead)
{
	for (size_t i = 0; i < p->n; i++) {
		bar_ssh *s = p->idle[i];

		if (strcmp(s->pool_key, key) != 0)
			continue;
		p->idle[i] = p->idle[--p->n];
		if (pool_alive(s))
			return s;
		p->stats.dropped++;
		*dead = s;
		return NULL;
	}
	return NULL;
}

int bar_ssh_pool_get(bar_ssh_pool *p, bar_ssh **out, const bar_ssh_opts *opts,
                     const char *identity, int *reused)
{
	char *key = pool_key(opts, identity);
	bar_ssh *s = NULL, *dead = NULL;
	int rc;

	do {
		bar_ssh_free(dead);
		dead = NULL;
		pthread_mutex_lock(&p->lock);
		s = pool_take(p, key, &dead);
		if (s)
			p->stats.reuses++;
		pthread_mutex_unlock(&p->lock);
	} while (!s && dead);
	if (s) {
		s->timeout_ms = opts->timeout_ms;
		s->cancel = opts->cancel;
		s->max_output = opts->max_output;
		free(key);
		*reused = 1;
		*out = s;
		return 0;
	}
	rc = bar_ssh_connect(&s, opts);
	if (rc != 0) {
		free(key);
		return rc;
	}
	s->pool_key = key;
	pthread_mutex_lock(&p->lock);
	p->stats.connects++;
	pthread_mutex_unlock(&p->lock);
	*reused = 0;
	*out = s;
	return 0;
}

void bar_ssh_pool_put(bar_ssh_pool *p, bar_ssh *s)
{
	if (!s)
		return;
	if (s->pool_key && bar_ssh_usable(s)) {
		pthread_mutex_lock(&p->lock);
		if (p->n < p->max_idle) {
			if (p->n == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 64;
				p->idle = bar_realloc(p->idle, p->cap * sizeof(*p->idle));
			}
			s->cancel = NULL; /* the caller's flag may not outlive its call */
			s->idle_since = bar_now_ms();
			p->idle[p->n++] = s;
			s = NULL;
		}
		pthread_mutex_unlock(&p->lock);
	}
	bar_ssh_free(s);
}

void bar_ssh_pool_expire(bar_ssh_pool *p)
{
	int64_t now = bar_now_ms();
	bar_ssh **old = NULL;
	size_t n_old = 0;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n;) {
		bar_ssh *s = p->idle[i];

		if (now - s->idle_since <= p->idle_ms && pool_alive(s)) {
			i++;
			continue;
		}
		old = bar_realloc(old, (n_old + 1) * sizeof(*old));
		old[n_old++] = s;
		p->idle[i] = p->idle[--p->n];
		p->stats.dropped++;
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n_old; i++)
		bar_ssh_free(old[i]);
	free(old);
}

void bar_ssh_pool_stats_get(bar_ssh_pool *p, bar_ssh_pool_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	out->idle = p->n;
	pthread_mutex_unlock(&p->lock);
}
