/*
 * agent_run.c - barista-agent's loop (agent.h): one thread that waits in
 * ppoll() for the next collection, the next push or a pull request.
 * Collections are scheduled on the monotonic clock at fixed steps (no
 * drift) and stamped with the wall clock.  A push seals the open batch and
 * sends the buffer's batches oldest first to the collector in use, in the
 * order bar_assign_order gives for "<ns>/<mci>/<vm>"; a connect error, a
 * timeout, a 5xx or a 429 moves to the next at once (within the same push),
 * a 4xx refuses the batch (dropped, logged); the preferred collector is
 * tried again every 60 s.  Collections due while a push waits are taken
 * between two POSTs, so a slow collector delays none by more than one
 * timeout.  The pull endpoint serves GET /metrics (text format 0.0.4) and
 * GET /healthz; requests are bounded (2 KiB, 2 s) and answered whole.
 */
#include "agent.h"
#include "apps.h"
#include "overlay.h"
#include "assign.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 8
#define REQ_MAX 2048
#define REQ_MS 2000
#define POST_TIMEOUT_MS 5000
#define REPROBE_MS 60000

typedef struct client {
	int fd;
	size_t len;
	int64_t deadline;
	char req[REQ_MAX + 1];
} client;

typedef struct agent {
	bar_agent_config c;
	const bar_agent_run_opts *o;
	bar_agent_probe *probe;
	bar_agent_buffer *buf;
	bar_agent_sample last;
	size_t order[BAR_AGENT_MAX_COLLECTORS];
	size_t cur;
	int64_t next_collect, next_push, reprobe_at;
	int lfd;
	client cl[MAX_CLIENTS];
	bar_apps *apps;         /* the MCApp unit apps of this VM; NULL without a manifest */
} agent;

#define APP_FDS 256

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(agent *a, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!a->o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->o->log(a->o->log_ctx, msg);
}

static void order_collectors(agent *a)
{
	const char *urls[BAR_AGENT_MAX_COLLECTORS];
	char key[400];

	for (size_t i = 0; i < a->c.ncollectors; i++)
		urls[i] = a->c.collectors[i];
	snprintf(key, sizeof(key), "%s/%s/%s", a->c.ns, a->c.mci, a->c.vm);
	bar_assign_order(a->order, urls, a->c.ncollectors, key);
	a->cur = 0;
}

/* A collection's timestamp: the wall-clock tick of the collect interval
 * nearest to now (collections are scheduled on those ticks), as
 * Telegraf's round_interval and Prometheus' scrape offsets do: a regular
 * series costs its store a bit a timestamp instead of a few jittered ones
 * (docs/monitoring.md, "The store"). */
static int64_t tick_ms(const agent *a)
{
	int64_t iv = a->c.collect_interval_ms > 0 ? a->c.collect_interval_ms : 1;

	return (wall_ms() + iv / 2) / iv * iv;
}

/* One value of an app's metric into the collection being made. */
static void app_metric(void *ctx, const char *metric, const char *app, const char *replica,
                       double v)
{
	agent *a = ctx;
	const bar_metric_info *m = bar_metric_find(metric);
	const char *own[2] = {app, replica};

	if (m && bar_agent_sample_add(&a->last, &a->c, m, own, 2, v) < 0)
		logf_(a, "collection: out of memory");
}

/* The apps of the config's manifest: opened when the config names one,
 * reloaded when it names the same, closed (the apps stopped) when none. */
static void apps_sync(agent *a)
{
	bar_apps_opts ao = BAR_APPS_OPTS_INIT;
	char dir[512], status[700], why[300], *slash;

	if (a->apps && !a->c.apps[0]) {
		bar_apps_close(a->apps);
		a->apps = NULL;
	}
	if (!a->c.apps[0])
		return;
	if (a->apps) {
		bar_apps_reload(a->apps);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", a->c.apps);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	snprintf(status, sizeof(status), "%s/apps.json", a->c.state_dir);
	ao.manifest = a->c.apps;
	ao.dir = dir;
	ao.status = status;
	ao.vm = a->c.vm;
	ao.log = a->o->log;
	ao.log_ctx = a->o->log_ctx;
	if (bar_apps_open(&a->apps, &ao, why, sizeof(why)) < 0)
		logf_(a, "apps: %s", why);
}

/* The overlay network to what its file says: up (idempotent) when there is
 * one, down when it went (and was up: its state file is in state_dir). */
static void overlay_sync(agent *a)
{
	char why[400], st[700];

	if (!a->c.overlay[0])
		return;
	if (access(a->c.overlay, R_OK) == 0) {
		if (bar_overlay_apply(a->c.overlay, a->c.state_dir, why, sizeof(why)) < 0)
			logf_(a, "overlay: %s", why);
		else
			logf_(a, "overlay: up as %s says", a->c.overlay);
		return;
	}
	snprintf(st, sizeof(st), "%s/overlay-bar0.state", a->c.state_dir);
	if (access(st, F_OK) == 0) {
		if (bar_overlay_down(a->c.overlay, a->c.state_dir, why, sizeof(why)) < 0)
			logf_(a, "overlay: taking it down: %s", why);
		else
			logf_(a, "overlay: down (its file is gone)");
	}
}

/* Collect if due (catching up on at most one missed step). */
static void tick_collect(agent *a)
{
	int64_t now = mono_ms();
	bar_agent_self self;

	if (now < a->next_collect)
		return;
	self.buffered = bar_agent_buffer_pending(a->buf);
	self.dropped = bar_agent_buffer_dropped(a->buf);
	if (bar_agent_collect(&a->last, a->probe, &a->c, &self, tick_ms(a)) < 0) {
		logf_(a, "collection: out of memory");
	} else {
		if (a->apps) /* the apps' own metrics, in the same collection */
			bar_apps_metrics(a->apps, app_metric, a);
		if (a->c.ncollectors && bar_agent_buffer_add(a->buf, &a->last) < 0)
			logf_(a, "buffer: out of memory; this collection is lost");
	}
	a->next_collect += a->c.collect_interval_ms;
	if (a->next_collect <= now) /* far behind (suspended?): restart the steps */
		a->next_collect = now + a->c.collect_interval_ms;
}

static void push(agent *a)
{
	char why[300];
	size_t fails = 0;
	int64_t now = mono_ms();

	if (bar_agent_buffer_seal(a->buf, why, sizeof(why)) < 0)
		logf_(a, "buffer: %s", why);
	if (!a->c.ncollectors)
		return;
	if (a->cur != 0 && now >= a->reprobe_at) {
		a->cur = 0; /* the preferred one again */
		a->reprobe_at = now + REPROBE_MS;
	}
	while (fails < a->c.ncollectors) {
		const char *body, *url = a->c.collectors[a->order[a->cur]];
		size_t len, ns;
		bar_agent_http_result r;
		int rc = bar_agent_buffer_peek(a->buf, &body, &len, &ns, why, sizeof(why));

		if (rc != 0) {
			if (rc < 0)
				logf_(a, "spool: %s", why);
			return;
		}
		if (bar_agent_http_post(&r, url, "/api/v1/write", a->c.token, body, len,
		                        POST_TIMEOUT_MS) == 0 &&
		    r.status >= 200 && r.status < 300) {
			if (bar_agent_buffer_pop(a->buf, 0, why, sizeof(why)) < 0)
				logf_(a, "spool: %s", why);
			fails = 0;
		} else if (r.status >= 400 && r.status < 500 && r.status != 429) {
			logf_(a, "%s refused a batch of %zu samples: HTTP %d %.200s; dropped", url, ns,
			      r.status, r.reason);
			if (bar_agent_buffer_pop(a->buf, 1, why, sizeof(why)) < 0)
				logf_(a, "spool: %s", why);
		} else {
			if (r.status)
				logf_(a, "%s: HTTP %d %.200s", url, r.status, r.reason);
			else
				logf_(a, "%s: %s", url, r.reason);
			fails++;
			if (a->cur == 0)
				a->reprobe_at = mono_ms() + REPROBE_MS;
			a->cur = (a->cur + 1) % a->c.ncollectors;
			if (fails < a->c.ncollectors)
				logf_(a, "moving to %s", a->c.collectors[a->order[a->cur]]);
		}
		tick_collect(a);
		if (*a->o->stop)
			return;
	}
}

/* ---- the pull endpoint ---- */

static int listen_on(agent *a, char *why, size_t wsize)
{
	char host[128], *colon;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int one = 1, g;

	a->lfd = -1;
	if (!a->c.listen[0])
		return 0;
	snprintf(host, sizeof(host), "%s", a->c.listen);
	colon = strrchr(host, ':');
	*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if ((g = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res)) != 0) {
		snprintf(why, wsize, "listen=%s: %s: give a numeric ADDR:PORT", a->c.listen,
		         gai_strerror(g));
		return -1;
	}
	a->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->lfd < 0 || setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(a->lfd, res->ai_addr, res->ai_addrlen) < 0 || listen(a->lfd, 16) < 0) {
		snprintf(why, wsize, "listen=%s: %s", a->c.listen, strerror(errno));
		if (a->lfd >= 0)
			close(a->lfd);
		a->lfd = -1;
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

static void answer(agent *a, client *cl)
{
	bar_mbuf body = {.max = 16u << 20}, out = {.max = 17u << 20};
	const char *status = "200 OK", *type = "text/plain; version=0.0.4; charset=utf-8";
	struct timeval tv = {.tv_sec = 1};
	int flags = fcntl(cl->fd, F_GETFL);
	size_t off = 0;

	if (!strncmp(cl->req, "GET /metrics ", 13) || !strncmp(cl->req, "GET /metrics?", 13)) {
		bar_agent_sample_prom(&body, &a->last, 0);
	} else if (!strncmp(cl->req, "GET /healthz ", 13)) {
		bar_mbuf_str(&body, "ok\n");
		type = "text/plain";
	} else if (!strncmp(cl->req, "GET ", 4) || !strncmp(cl->req, "HEAD ", 5)) {
		status = "404 Not Found";
		bar_mbuf_str(&body, "GET /metrics or /healthz\n");
	} else {
		status = "405 Method Not Allowed";
		bar_mbuf_str(&body, "GET /metrics or /healthz\n");
	}
	bar_mbuf_printf(&out, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                "Connection: close\r\n\r\n", status, type, body.len);
	if (body.len && strncmp(cl->req, "HEAD ", 5))
		bar_mbuf_add(&out, body.p, body.len);
	/* the answer is small: send it whole, each send bounded by 1 s */
	fcntl(cl->fd, F_SETFL, flags & ~O_NONBLOCK);
	setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (!out.failed && off < out.len) {
		ssize_t w = send(cl->fd, out.p + off, out.len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	bar_mbuf_free(&body);
	bar_mbuf_free(&out);
}

static void drop_client(client *cl)
{
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

static void serve(agent *a, const struct pollfd *pf, size_t npf)
{
	int64_t now = mono_ms();

	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		client *cl = &a->cl[i];
		int ready = 0;
		if (cl->fd < 0)
			continue;
		for (size_t k = 1; k < npf; k++)
			if (pf[k].fd == cl->fd && pf[k].revents)
				ready = 1;
		if (ready) {
			ssize_t r = recv(cl->fd, cl->req + cl->len, REQ_MAX - cl->len, 0);
			if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
				drop_client(cl);
				continue;
			}
			if (r > 0)
				cl->len += (size_t)r;
			cl->req[cl->len] = '\0';
			if (strstr(cl->req, "\r\n\r\n") || strstr(cl->req, "\n\n")) {
				answer(a, cl);
				drop_client(cl);
				continue;
			}
			if (cl->len == REQ_MAX) { /* garbage or too big: no answer */
				drop_client(cl);
				continue;
			}
		}
		if (now > cl->deadline)
			drop_client(cl);
	}
	if (a->lfd >= 0 && pf[0].revents) {
		for (int k = 0; k < 16; k++) {
			int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			size_t i;
			if (fd < 0)
				break;
			for (i = 0; i < MAX_CLIENTS && a->cl[i].fd >= 0; i++)
				;
			if (i == MAX_CLIENTS) {
				close(fd); /* busy: the scraper tries again */
				continue;
			}
			a->cl[i].fd = fd;
			a->cl[i].len = 0;
			a->cl[i].deadline = now + REQ_MS;
		}
	}
}

static void reload(agent *a)
{
	bar_agent_config nc;
	char why[400];

	if (bar_agent_config_load(&nc, a->o->config_path, why, sizeof(why)) < 0) {
		logf_(a, "reload: %s; keeping the config in use", why);
		return;
	}
	if (strcmp(nc.listen, a->c.listen) || strcmp(nc.state_dir, a->c.state_dir))
		logf_(a, "reload: listen and state_dir change at the next start");
	snprintf(nc.listen, sizeof(nc.listen), "%s", a->c.listen);
	snprintf(nc.state_dir, sizeof(nc.state_dir), "%s", a->c.state_dir);
	bar_agent_config_clear(&a->c);
	a->c = nc;
	bar_agent_config_clear(&nc);
	order_collectors(a);
	apps_sync(a);
	overlay_sync(a);
	logf_(a, "reloaded %s: %zu collectors", a->o->config_path, a->c.ncollectors);
}

int bar_agent_run(const bar_agent_config *c, const bar_agent_run_opts *o, char *why,
                  size_t wsize)
{
	agent *a = calloc(1, sizeof(*a));
	char spool[700];
	sigset_t waitmask;
	int rc = -1;

	if (!a) {
		snprintf(why, wsize, "out of memory");
		return -1;
	}
	a->c = *c;
	a->o = o;
	a->lfd = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		a->cl[i].fd = -1;
	sigprocmask(SIG_BLOCK, NULL, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);
	sigdelset(&waitmask, SIGCHLD); /* an app exited: the caller handles it (a no-op) */
	snprintf(spool, sizeof(spool), "%s/spool", c->state_dir);
	if (!(a->probe = bar_agent_probe_new())) {
		snprintf(why, wsize, "out of memory");
		goto done;
	}
	if (bar_agent_buffer_open(&a->buf, spool, c->memory_max_bytes, c->spool_max_bytes, why,
	                          wsize) < 0 ||
	    listen_on(a, why, wsize) < 0)
		goto done;
	order_collectors(a);
	apps_sync(a);
	overlay_sync(a);
	if (bar_agent_buffer_pending(a->buf))
		logf_(a, "spool: %llu samples to send from the last run",
		      (unsigned long long)bar_agent_buffer_pending(a->buf));
	a->next_collect = mono_ms();
	a->next_push = a->next_collect + c->push_interval_ms;
	/* the first collection at once (for /metrics), the next on the wall tick */
	a->reprobe_at = a->next_collect + REPROBE_MS;
	tick_collect(a); /* /metrics has something from the start */
	{
		int64_t iv = a->c.collect_interval_ms, w = wall_ms() % iv;
		a->next_collect = mono_ms() + (iv - w) % iv;
	}
	if (o->ready)
		o->ready(o->ready_ctx);
	logf_(a, "started: %zu collectors, collect every %ld ms, push every %ld ms%s%s",
	      a->c.ncollectors, a->c.collect_interval_ms, a->c.push_interval_ms,
	      a->c.listen[0] ? ", pull on " : "", a->c.listen);
	while (!*o->stop) {
		struct pollfd pf[1 + MAX_CLIENTS + APP_FDS];
		size_t npf = 1, first_app;
		int64_t now, next;
		struct timespec ts;

		if (o->reload && *o->reload) {
			*o->reload = 0;
			reload(a);
		}
		tick_collect(a);
		if (mono_ms() >= a->next_push) {
			push(a);
			a->next_push += a->c.push_interval_ms;
			if (a->next_push <= mono_ms())
				a->next_push = mono_ms() + a->c.push_interval_ms;
			continue;
		}
		pf[0] = (struct pollfd){.fd = a->lfd, .events = POLLIN};
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (a->cl[i].fd >= 0)
				pf[npf++] = (struct pollfd){.fd = a->cl[i].fd, .events = POLLIN};
		first_app = npf;
		if (a->apps)
			npf += bar_apps_fds(a->apps, pf + npf, APP_FDS);
		now = mono_ms();
		next = a->next_collect < a->next_push ? a->next_collect : a->next_push;
		if (a->apps && bar_apps_next_ms(a->apps) < next)
			next = bar_apps_next_ms(a->apps);
		if (first_app > 1 && next > now + REQ_MS)
			next = now + REQ_MS; /* to time clients out */
		if (next < now)
			next = now;
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = ((next - now) % 1000) * 1000000;
		if (ppoll(pf, npf, &ts, &waitmask) < 0) {
			if (errno != EINTR) {
				snprintf(why, wsize, "poll: %s", strerror(errno));
				goto done;
			}
			for (size_t i = 0; i < npf; i++)
				pf[i].revents = 0;
		}
		if (a->apps)
			bar_apps_step(a->apps, pf + first_app, npf - first_app);
		serve(a, pf, first_app);
	}
	if (bar_agent_buffer_persist(a->buf, why, wsize) < 0) {
		logf_(a, "stopping: %s", why);
		goto done;
	}
	if (bar_agent_buffer_pending(a->buf))
		logf_(a, "stopping: %llu samples kept in the spool",
		      (unsigned long long)bar_agent_buffer_pending(a->buf));
	rc = 0;
done:
	bar_apps_close(a->apps); /* stops the apps: they are the agent's children */
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (a->cl[i].fd >= 0)
			close(a->cl[i].fd);
	if (a->lfd >= 0)
		close(a->lfd);
	bar_agent_buffer_free(a->buf);
	bar_agent_probe_free(a->probe);
	bar_agent_sample_clear(&a->last);
	bar_agent_config_clear(&a->c);
	free(a);
	return rc;
}
