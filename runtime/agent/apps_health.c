/*
 * apps_health.c - the health checks of the agent's apps, without blocking
 * the loop: tcp (a connect to 127.0.0.1:PORT, which is the VM's and its
 * containers' loopback), http (GET PATH over HTTP/1.0 on that connection;
 * 200-399 is healthy, as Kubernetes' httpGet probes), exec (a command run by
 * /bin/sh -c, inside the container for image apps; exit 0 is healthy).
 * Each check is bounded by the app's health timeout; its failure message
 * (the check's own: "connect 127.0.0.1:80: Connection refused", "HTTP 503")
 * is the replica's message, which the status and apply's rollout report.
 */

#include "apps_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void probe_close(probe *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->active = 0;
	p->len = 0;
}

void apps_probe_cancel(replica *r)
{
	if (r->pr.pid > 0 && r->pr.active) {
		kill(-r->pr.pid, SIGKILL);
		/* reaped by the loop's waitpid; nobody waits for its answer */
	}
	r->pr.pid = 0;
	if (r->pr.phase >= 100)
		r->pr.phase = 0;
	probe_close(&r->pr);
}

static void start_exec(bar_apps *a, replica *r)
{
	const bar_app_health *h = &r->app->def.health;
	char *argv[16], **env = NULL;
	pid_t pid;

	if (r->app->def.kind == BAR_APP_IMAGE &&
	    apps_image_exec_argv(a, r, h->command, argv, sizeof(argv) / sizeof(*argv)) < 0) {
		snprintf(r->msg, sizeof(r->msg), "exec check: cannot build the runc exec command");
		return;
	}
	if (r->app->def.kind == BAR_APP_COMMAND && !(env = apps_command_env(&r->app->def, r->index))) {
		snprintf(r->msg, sizeof(r->msg), "exec check: out of memory");
		return;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(r->msg, sizeof(r->msg), "exec check: fork: %s", strerror(errno));
		apps_free_strv(env);
		return;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		sigset_t none;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (r->app->def.kind == BAR_APP_IMAGE) {
			execvp(argv[0], argv);
		} else {
			char *sh[] = {"sh", "-c", h->command, NULL};
			if (chdir(r->app->def.cwd && r->app->def.cwd[0] ? r->app->def.cwd : "/") < 0)
				_exit(126);
			execve("/bin/sh", sh, env);
		}
		_exit(127);
	}
	apps_free_strv(env);
	(void)a;
	r->pr.active = 1;
	r->pr.pid = pid;
	r->pr.fd = -1;
	r->pr.deadline = apps_mono_ms() + h->timeout_ms;
}

void apps_probe_start(bar_apps *a, replica *r)
{
	const bar_app_health *h = &r->app->def.health;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
	probe *p = &r->pr;

	probe_close(p);
	p->phase = 0;
	p->pid = 0;
	if (h->kind == BAR_HEALTH_EXEC) {
		start_exec(a, r);
		return;
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		snprintf(r->msg, sizeof(r->msg), "check: socket: %s", strerror(errno));
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
		snprintf(r->msg, sizeof(r->msg), "connect 127.0.0.1:%d: %s", h->port, strerror(errno));
		probe_close(p);
		return;
	}
	p->active = 1;
	p->deadline = apps_mono_ms() + h->timeout_ms;
}

static int finish(replica *r, int ok, int *out)
{
	probe_close(&r->pr);
	*out = ok;
	return 1;
}

int apps_probe_step(bar_apps *a, replica *r, const struct pollfd *pf, size_t npf, int *ok)
{
	const bar_app_health *h = &r->app->def.health;
	probe *p = &r->pr;
	int ready = 0;

	(void)a;
	if (!p->active)
		return 0;
	if (h->kind == BAR_HEALTH_EXEC) {
		if (apps_mono_ms() < p->deadline)
			return 0;
		kill(-p->pid, SIGKILL);
		p->pid = 0;
		snprintf(r->msg, sizeof(r->msg), "exec check \"%.200s\": no answer in %ld ms",
		         h->command, h->timeout_ms);
		return finish(r, 0, ok);
	}
	for (size_t i = 0; pf && i < npf; i++)
		if (pf[i].fd == p->fd && pf[i].revents)
			ready = 1;
	if (!ready) {
		/* poll() may not have been asked about it yet: look without waiting */
		struct pollfd one = {.fd = p->fd, .events = p->phase == 2 ? POLLIN : POLLOUT};
		ready = poll(&one, 1, 0) > 0;
	}
	if (!ready) {
		if (apps_mono_ms() < p->deadline)
			return 0;
		snprintf(r->msg, sizeof(r->msg), "%s 127.0.0.1:%d: no answer in %ld ms",
		         h->kind == BAR_HEALTH_HTTP ? "http" : "tcp", h->port, h->timeout_ms);
		return finish(r, 0, ok);
	}
	if (p->phase == 0) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			snprintf(r->msg, sizeof(r->msg), "connect 127.0.0.1:%d: %s", h->port,
			         strerror(err));
			return finish(r, 0, ok);
		}
		if (h->kind == BAR_HEALTH_TCP)
			return finish(r, 1, ok);
		p->len = (size_t)snprintf(p->buf, sizeof(p->buf),
		                          "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
		                          "User-Agent: barista-agent\r\nConnection: close\r\n\r\n",
		                          h->path, h->port);
		if (p->len >= sizeof(p->buf))
			p->len = sizeof(p->buf) - 1;
		p->phase = 1;
	}
	if (p->phase == 1) {
		ssize_t w = send(p->fd, p->buf, p->len, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN) {
			snprintf(r->msg, sizeof(r->msg), "http 127.0.0.1:%d%s: %s", h->port, h->path,
			         strerror(errno));
			return finish(r, 0, ok);
		}
		if (w > 0) {
			memmove(p->buf, p->buf + w, p->len - (size_t)w);
			p->len -= (size_t)w;
		}
		if (p->len == 0)
			p->phase = 2;
		return 0;
	}
	{
		ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len, 0);
		char *eol;
		int code = 0;

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n > 0)
			p->len += (size_t)n;
		p->buf[p->len] = '\0';
		eol = strstr(p->buf, "\r\n");
		if (!eol && n > 0 && p->len < sizeof(p->buf) - 1)
			return 0; /* the status line is not whole yet */
		if (sscanf(p->buf, "HTTP/%*d.%*d %d", &code) != 1) {
			snprintf(r->msg, sizeof(r->msg), "http 127.0.0.1:%d%s: %s", h->port, h->path,
			         n < 0 ? strerror(errno) : "no HTTP status line in the answer");
			return finish(r, 0, ok);
		}
		if (code >= 200 && code < 400)
			return finish(r, 1, ok);
		if (eol)
			*eol = '\0';
		snprintf(r->msg, sizeof(r->msg), "http 127.0.0.1:%d%s: %.120s", h->port, h->path,
		         p->buf);
		return finish(r, 0, ok);
	}
}

void apps_probe_reaped(replica *r, int st, int *ok)
{
	const bar_app_health *h = &r->app->def.health;

	*ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!*ok) {
		if (WIFSIGNALED(st))
			snprintf(r->msg, sizeof(r->msg), "exec check \"%.200s\": killed by signal %d",
			         h->command, WTERMSIG(st));
		else
			snprintf(r->msg, sizeof(r->msg), "exec check \"%.200s\": exited %d", h->command,
			         WEXITSTATUS(st));
	}
	r->pr.pid = 0;
	probe_close(&r->pr);
}
