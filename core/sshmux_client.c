/*
 * sshmux_client.c - the CLI's side of the session broker (see sshmux.h):
 * where its socket lives, starting it, and running a job through it with
 * the same callbacks and results as a direct run.
 */
#include "sshmux.h"
#include "sshmux_int.h"
#include "remote_int.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define READY_WAIT_MS 3000
#define CANCEL_GRACE_MS 10000 /* after "cancel", the broker's end must come */
#define QUIET_MARGIN_MS 30000 /* past the job's own timeout */

int bar_sshmux_persist_ms(int *ms, const char *env)
{
	if (!env || !*env) {
		*ms = BAR_SSHMUX_IDLE_MS;
		return 0;
	}
	if (!strcmp(env, "0") || !strcmp(env, "no") || !strcmp(env, "off")) {
		*ms = 0;
		return 0;
	}
	if (bar_duration_parse(ms, env) < 0) {
		bar_error_prefix("BARISTA_SSH_PERSIST");
		return BAR_EINVALID;
	}
	return 0;
}

/* The owner-only directory of this user's broker sockets. */
static int socket_dir(char **out)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *dir = xdg && xdg[0] == '/' ? bar_printf("%s/barista-ssh", xdg)
	                                 : bar_printf("/tmp/barista-ssh-%u", (unsigned)geteuid());
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		bar_error_set("session broker: mkdir %s: %s", dir, strerror(errno));
		goto bad;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		bar_error_set("session broker: refusing %s: not a directory of uid %u with "
		              "mode 0700", dir, (unsigned)geteuid());
		goto bad;
	}
	*out = dir;
	return 0;
bad:
	free(dir);
	return -1;
}

int bar_sshmux_path(char **out, const char *state_path)
{
	char real[PATH_MAX], *dir = NULL, *path;
	struct sockaddr_un a;

	if (!realpath(state_path, real))
		return bar_error_set("session broker: state %s: %s", state_path, strerror(errno));
	if (socket_dir(&dir) < 0)
		return -1;
	path = bar_printf("%s/mux-%016llx.sock", dir,
	                  (unsigned long long)bar_hash64(real, strlen(real), BAR_HASH64_SEED));
	free(dir);
	if (strlen(path) >= sizeof(a.sun_path)) {
		bar_error_set("session broker: socket path too long: %s", path);
		free(path);
		return -1;
	}
	*out = path;
	return 0;
}

int bar_sshmux_connect(int *fd, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(a.sun_path))
		return bar_error_set("session broker: socket path too long: %s", path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return bar_error_set("session broker: socket: %s", strerror(errno));
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(s);
		bar_error_set("session broker: connect %s: %s", path, strerror(e));
		return e == ENOENT || e == ECONNREFUSED ? BAR_ENOTFOUND : -1;
	}
	if (!bar_mux_peer_ok(s)) {
		close(s);
		return bar_error_set("session broker: %s is served by another user", path);
	}
	*fd = s;
	return 0;
}

static bar_cancel broker_stop = BAR_CANCEL_INIT;

static void on_term(int sig)
{
	(void)sig;
	atomic_store(&broker_stop.cancel, 1);
}

int bar_sshmux_broker_main(const char *path, const char *state_path, int idle_ms,
                           int ready_fd)
{
	bar_sshmux_serve_opts o = BAR_SSHMUX_SERVE_OPTS_INIT;
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	o.path = path;
	o.state_path = state_path;
	o.idle_ms = idle_ms;
	o.ready_fd = ready_fd;
	o.stop = &broker_stop;
	return bar_sshmux_serve(&o);
}

/* In the new process: stdio on /dev/null, the readiness pipe on fd 3,
 * nothing else of the caller's open, then the broker. */
static void broker_child(const char *const *argv, const char *path, const char *state_path,
                         int idle_ms, int ready)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (ready != 3) {
		dup2(ready, 3);
		close(ready);
	}
	fcntl(3, F_SETFD, 0);
	close_range(4, ~0U, 0);
	if (chdir("/") < 0)
		_exit(1);
	if (argv) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	exit(bar_sshmux_broker_main(path, state_path, idle_ms, 3) == 0 ? 0 : 1);
}

/* Wait for the broker's readiness byte; 0 when it came. */
static int broker_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c = 0;

	return poll(&pfd, 1, READY_WAIT_MS) > 0 && read(fd, &c, 1) == 1 && c == 'r' ? 0 : -1;
}

int bar_sshmux_spawn(const char *path, const char *state_path, int idle_ms,
                     const char *const *argv)
{
	char real[PATH_MAX];
	int p[2], fd, ok;
	pid_t pid;

	if (!realpath(state_path, real))
		return bar_error_set("session broker: state %s: %s", state_path, strerror(errno));
	if (pipe2(p, O_CLOEXEC) < 0)
		return bar_error_set("session broker: pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		setsid();
		if (fork() == 0)
			broker_child(argv, path, real, idle_ms, p[1]);
		_exit(0);
	}
	close(p[1]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	ok = pid > 0 && broker_ready(p[0]) == 0;
	close(p[0]);
	if (ok)
		return 0;
	if (bar_sshmux_connect(&fd, path) == 0) { /* another one won the race */
		close(fd);
		return 0;
	}
	return bar_error_set("session broker for %s did not start", path);
}

/* ---- running through the broker ---- */

/* Mark what the broker did not report as failed. */
static void fail_unfinished(bar_remote_sink *k, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++) {
		bar_remote_result r = { .outcome = BAR_REMOTE_ERROR, .exit_code = -1 };

		if (bar_remote_sink_finished(k, i))
			continue;
		r.error = bar_strdup(why);
		bar_remote_sink_done(k, i, &r);
	}
}

typedef struct client_state {
	int started, end, cancel_sent;
	int64_t cancel_deadline, quiet_deadline;
} client_state;

/* One step of reading the broker's events.  Returns 1 to go on, 0 at the
 * end, -1 when the broker is gone or stuck. */
static int client_step(int fd, bar_mux_reader *r, bar_remote_sink *k, size_t n,
                       const bar_cancel *cancel, client_state *cs)
{
	const char *line, *kind;
	json_t *ev;
	int rc = bar_mux_read_line(r, &line, 1000, cs->cancel_sent ? NULL : cancel);

	if (rc == BAR_ECANCELED) {
		json_t *j = json_pack("{s:s}", "op", "cancel");

		bar_mux_send(fd, j, NULL, 1000);
		json_decref(j);
		cs->cancel_sent = 1;
		cs->cancel_deadline = bar_now_ms() + CANCEL_GRACE_MS;
		return 1;
	}
	if (rc == BAR_SSH_ETIMEOUT) {
		int64_t now = bar_now_ms();

		if ((cs->cancel_sent && now > cs->cancel_deadline) || now > cs->quiet_deadline)
			return bar_error_set("session broker stopped answering");
		return 1;
	}
	if (rc != 1)
		return rc == 0 ? bar_error_set("session broker went away") : -1;
	ev = json_loads(line, 0, NULL);
	kind = json_string_value(json_object_get(ev, "ev"));
	cs->started |= kind && !strcmp(kind, "start");
	rc = bar_mux_event_apply(k, ev, n, &cs->end);
	json_decref(ev);
	return rc < 0 ? -1 : !cs->end;
}

int bar_sshmux_run(bar_remote_results *out, int fd, const bar_remote_targets *t,
                   const bar_remote_job *job, const bar_remote_opts *o)
{
	bar_remote_results res = { NULL, 0 };
	json_t *req = bar_mux_request_json(t, job, o->parallel);
	client_state cs = { 0 };
	bar_remote_sink *k;
	bar_mux_reader r;
	int rc = bar_mux_send(fd, req, NULL, 5000);

	json_decref(req);
	if (rc < 0)
		return BAR_ERETRY;
	cs.quiet_deadline = job->timeout_ms > 0
	                        ? bar_now_ms() + job->timeout_ms + QUIET_MARGIN_MS
	                        : INT64_MAX;
	k = bar_remote_sink_new(t, o, &res);
	bar_mux_reader_init(&r, fd, MUX_EVENT_MAX);
	while ((rc = client_step(fd, &r, k, t->n, o->cancel, &cs)) == 1)
		;
	bar_mux_reader_free(&r);
	if (rc < 0 && !cs.started) {
		bar_remote_sink_free(k);
		bar_remote_results_clear(&res);
		return BAR_ERETRY;
	}
	if (rc < 0)
		fail_unfinished(k, t->n, bar_error_last());
	bar_remote_sink_free(k);
	*out = res;
	return rc < 0 ? -1 : 0;
}

/* Send one request and read the one-line answer. */
static int ask(json_t **out, const char *path, const char *op)
{
	json_t *req = json_pack("{s:s}", "op", op), *ans = NULL;
	const char *line;
	bar_mux_reader r;
	int fd = -1, rc = bar_sshmux_connect(&fd, path);

	if (rc == 0 && (rc = bar_mux_send(fd, req, NULL, 5000)) == 0) {
		bar_mux_reader_init(&r, fd, MUX_EVENT_MAX);
		rc = bar_mux_read_line(&r, &line, 5000, NULL);
		ans = rc == 1 ? json_loads(line, 0, NULL) : NULL;
		rc = ans ? 0 : bar_error_set("session broker %s: no answer to \"%s\"", path, op);
		bar_mux_reader_free(&r);
	}
	if (fd >= 0)
		close(fd);
	json_decref(req);
	if (rc == 0)
		*out = ans;
	return rc;
}

int bar_sshmux_status(json_t **out, const char *path)
{
	return ask(out, path, "status");
}

int bar_sshmux_stop(const char *path)
{
	json_t *ans = NULL;
	int rc = ask(&ans, path, "stop");

	json_decref(ans);
	return rc;
}
