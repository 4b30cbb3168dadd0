/*
 * sshmux.c - the session broker itself (see sshmux.h): a unix socket
 * listener, one thread per client connection, and a bar_ssh_pool shared by
 * all requests.  A run request is handed to bar_remote_run with the pool;
 * its events go back to the client as they happen, and a watcher thread
 * turns the client's "cancel" line, or its going away, into the run's
 * cancellation flag.
 *
 * The main loop wakes twice a second to close expired sessions and to
 * decide whether to exit: idle for idle_ms with no client connected, a stop
 * request or flag, or the state file gone.  A lock file beside the socket
 * keeps two brokers from serving one path.
 */
#include "sshmux.h"
#include "sshmux_int.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TICK_MS 500
#define REQUEST_WAIT_MS 10000 /* a client must send its request this soon */
#define SEND_WAIT_MS 30000    /* a client not reading this long is gone */

typedef struct mux_server {
	const bar_sshmux_serve_opts *o;
	bar_ssh_pool *pool;
	pthread_mutex_t lock;
	pthread_cond_t quiet; /* signalled when a connection ends */
	int active;           /* connections being served */
	int64_t last_activity;
	uint64_t requests;
	atomic_int stop;      /* a stop request came */
} mux_server;

typedef struct mux_conn {
	mux_server *srv;
	int fd;
	bar_mux_reader reader;
	bar_cancel cancel;     /* the run's cancellation token */
	bar_cancel finished;   /* cancelled once the run is over: the watcher ends */
	int gone;              /* a write failed: the client is gone */
} mux_conn;

/* ---- one run ---- */

static void conn_send(mux_conn *c, json_t *ev)
{
	if (!c->gone && bar_mux_send(c->fd, ev, NULL, SEND_WAIT_MS) < 0) {
		c->gone = 1;
		atomic_store(&c->cancel.cancel, 1); /* nobody reads the output: stop the commands */
	}
	json_decref(ev);
}

static void ev_chunk(void *ud, size_t i, int stream, const char *data, size_t n)
{
	conn_send(ud, bar_mux_event_chunk(i, stream, data, n));
}

static void ev_progress(void *ud, size_t i, uint64_t done, uint64_t total)
{
	conn_send(ud, bar_mux_event_progress(i, done, total));
}

static void ev_done(void *ud, size_t i, const bar_remote_result *r)
{
	conn_send(ud, bar_mux_event_done(i, r));
}

/* Reads what the client sends during a run: "cancel", or its end. */
static void *conn_watch(void *arg)
{
	mux_conn *c = arg;
	const char *line;

	for (;;) {
		int rc = bar_mux_read_line(&c->reader, &line, TICK_MS, &c->finished);

		if (rc == 1 && strstr(line, "\"cancel\""))
			atomic_store(&c->cancel.cancel, 1);
		else if (rc == BAR_SSH_ETIMEOUT && atomic_load(&c->srv->stop))
			atomic_store(&c->cancel.cancel, 1);
		else if (rc == BAR_ECANCELED)
			return NULL;
		else if (rc != 1 && rc != BAR_SSH_ETIMEOUT) {
			atomic_store(&c->cancel.cancel, 1); /* EOF or error: nobody waits for the output */
			return NULL;
		}
	}
}

static void conn_run(mux_conn *c, const json_t *req)
{
	bar_remote_targets t = { NULL, NULL, 0 };
	bar_remote_job job;
	bar_remote_opts o = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = { NULL, 0 };
	pthread_t watcher;
	int parallel = 0, watching;

	if (bar_mux_request_parse(req, &t, &job, &parallel) < 0) {
		conn_send(c, json_pack("{s:s, s:s}", "ev", "end", "error", bar_error_last()));
		return;
	}
	conn_send(c, json_pack("{s:s}", "ev", "start"));
	watching = pthread_create(&watcher, NULL, conn_watch, c) == 0;
	o.parallel = parallel;
	o.cancel = &c->cancel;
	o.on_chunk = ev_chunk;
	o.on_progress = ev_progress;
	o.on_done = ev_done;
	o.ud = c;
	o.pool = c->srv->pool;
	if (bar_remote_run(&res, &t, &job, &o) < 0)
		conn_send(c, json_pack("{s:s, s:s}", "ev", "end", "error", bar_error_last()));
	else
		conn_send(c, json_pack("{s:s}", "ev", "end"));
	atomic_store(&c->finished.cancel, 1);
	if (watching)
		pthread_join(watcher, NULL);
	bar_remote_results_clear(&res);
	bar_remote_targets_clear(&t);
}

static json_t *status_json(mux_server *srv)
{
	bar_ssh_pool_stats st;
	uint64_t requests;

	bar_ssh_pool_stats_get(srv->pool, &st);
	pthread_mutex_lock(&srv->lock);
	requests = srv->requests;
	pthread_mutex_unlock(&srv->lock);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "pid", (json_int_t)getpid(),
	                 "sessions_idle", (json_int_t)st.idle, "connects",
	                 (json_int_t)st.connects, "reuses", (json_int_t)st.reuses, "dropped",
	                 (json_int_t)st.dropped, "requests", (json_int_t)requests);
}

/* Serve one client connection: one request. */
static void *conn_main(void *arg)
{
	mux_conn *c = arg;
	mux_server *srv = c->srv;
	const char *line;
	json_t *req = NULL;
	const char *op;

	if (bar_mux_read_line(&c->reader, &line, REQUEST_WAIT_MS, NULL) == 1)
		req = json_loads(line, 0, NULL);
	op = json_string_value(json_object_get(req, "op"));
	pthread_mutex_lock(&srv->lock);
	srv->requests += op != NULL;
	pthread_mutex_unlock(&srv->lock);
	if (op && !strcmp(op, "run"))
		conn_run(c, req);
	else if (op && !strcmp(op, "status"))
		conn_send(c, status_json(srv));
	else if (op && !strcmp(op, "stop")) {
		atomic_store(&srv->stop, 1);
		conn_send(c, json_pack("{s:b}", "ok", 1));
	}
	json_decref(req);
	bar_mux_reader_free(&c->reader);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&srv->lock);
	srv->active--;
	srv->last_activity = bar_now_ms();
	pthread_cond_broadcast(&srv->quiet);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* ---- listening ---- */

static void accept_one(mux_server *srv, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	mux_conn *c;
	pthread_t th;
	pthread_attr_t attr;

	if (fd < 0)
		return;
	if (!bar_mux_peer_ok(fd)) { /* the directory is private; this is the second lock */
		close(fd);
		return;
	}
	c = bar_calloc(1, sizeof(*c));
	c->srv = srv;
	c->fd = fd;
	bar_mux_reader_init(&c->reader, fd, MUX_REQUEST_MAX);
	pthread_mutex_lock(&srv->lock);
	srv->active++;
	srv->last_activity = bar_now_ms();
	pthread_mutex_unlock(&srv->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, conn_main, c) != 0)
		conn_main(c);
	pthread_attr_destroy(&attr);
}

/* Take the lock file beside the socket; BAR_ELOCKED if a broker has it. */
static int take_lock(int *out, const char *path)
{
	char *lock = bar_printf("%s.lock", path);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	free(lock);
	if (fd < 0)
		return bar_error_set("session broker: lock %s.lock: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return bar_error_set("session broker: another broker serves %s", path),
		       BAR_ELOCKED;
	}
	*out = fd;
	return 0;
}

/* Listen on path, replacing a socket only if no broker answers on it. */
static int listen_on(int *out, ino_t *ino, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, probe, rc;

	if (strlen(path) >= sizeof(a.sun_path))
		return bar_error_set("session broker: socket path too long: %s", path);
	if (bar_sshmux_connect(&probe, path) == 0) {
		close(probe);
		return bar_error_set("session broker: another broker serves %s", path),
		       BAR_ELOCKED;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	old = umask(077); /* the socket is 0600 from the start */
	rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 128) < 0 || stat(path, &st) < 0) {
		rc = bar_error_set("session broker: listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*ino = st.st_ino;
	*out = fd;
	return 0;
}

/* Should the broker exit now? */
static int should_exit(mux_server *srv)
{
	const bar_sshmux_serve_opts *o = srv->o;
	int idle;

	if (atomic_load(&srv->stop) || bar_cancel_cancelled(o->stop))
		return 1;
	if (o->state_path && access(o->state_path, F_OK) != 0)
		return 1;
	pthread_mutex_lock(&srv->lock);
	idle = srv->active == 0 && bar_now_ms() - srv->last_activity >= o->idle_ms;
	pthread_mutex_unlock(&srv->lock);
	return idle;
}

static void serve_loop(mux_server *srv, int lfd)
{
	while (!should_exit(srv)) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };

		if (poll(&pfd, 1, TICK_MS) > 0)
			accept_one(srv, lfd);
		bar_ssh_pool_expire(srv->pool);
	}
}

/* Remove the socket if it is still ours, tell running clients to stop,
 * and wait for every connection to end. */
static void serve_finish(mux_server *srv, int lfd, ino_t ino)
{
	struct stat st;

	close(lfd);
	if (stat(srv->o->path, &st) == 0 && st.st_ino == ino)
		unlink(srv->o->path);
	atomic_store(&srv->stop, 1);
	pthread_mutex_lock(&srv->lock);
	while (srv->active > 0)
		pthread_cond_wait(&srv->quiet, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
}

int bar_sshmux_serve(const bar_sshmux_serve_opts *o)
{
	mux_server srv = { .o = o };
	int lock_fd = -1, lfd = -1, rc;
	ino_t ino = 0;
	char *lock_path;

	if (!o || o->version != BAR_SSHMUX_SERVE_OPTS_VERSION || !o->path || o->idle_ms <= 0)
		return bar_error_set("session broker: bad options"), BAR_EINVALID;
	if ((rc = take_lock(&lock_fd, o->path)) < 0)
		return rc;
	if ((rc = listen_on(&lfd, &ino, o->path)) < 0)
		goto done;
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.quiet, NULL);
	bar_ssh_pool_new(&srv.pool, o->idle_ms, 4096);
	srv.last_activity = bar_now_ms();
	if (o->ready_fd >= 0)
		(void)!write(o->ready_fd, "r", 1);
	serve_loop(&srv, lfd);
	serve_finish(&srv, lfd, ino);
	bar_ssh_pool_free(srv.pool);
	pthread_cond_destroy(&srv.quiet);
	pthread_mutex_destroy(&srv.lock);
done:
	lock_path = bar_printf("%s.lock", o->path);
	if (rc == 0)
		unlink(lock_path); /* still holding it: a waiting broker starts anew */
	free(lock_path);
	close(lock_fd);
	return rc;
}
