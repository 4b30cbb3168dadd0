/*
 * apps.c - the supervisor of barista-agent's unit apps (apps.h): each
 * replica of each app is a small state machine (apps_int.h, rstate) driven
 * by the agent's loop: its turn comes (the apps it runs `after` are healthy
 * on this VM, the apps of a lower `order` have started), it is started in
 * its own process group and cgroup, checked until healthy, checked every
 * interval after that, restarted when it exits or fails its checks
 * `failures` times in a row, with a delay that doubles from 0.2 s to 30 s
 * while it keeps failing (none for the first restart, so a killed app is
 * back at once), and stopped with SIGTERM, then SIGKILL after the grace
 * time.  A changed app is stopped before its new definition starts (they
 * share the VM's ports).  docs/apps.md, "On a VM".
 */

#include "apps_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STARTING_PROBE_MS 100   /* checks while an app is starting */
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_MS 10000  /* healthy this long: the next exit restarts at once */

static const char *const state_names[] = {
	[R_WAITING] = "Waiting", [R_STARTING] = "Starting", [R_RUNNING] = "Running",
	[R_BACKOFF] = "BackOff", [R_STOPPING] = "Stopping", [R_EXITED] = "Exited",
	[R_FAILED] = "Failed",
};

const char *apps_state_name(rstate st)
{
	return state_names[st];
}

int64_t apps_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t apps_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void apps_log(bar_apps *a, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!a->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->o.log(a->o.log_ctx, msg);
}

void apps_set_state(bar_apps *a, replica *r, rstate st, const char *fmt, ...)
{
	char msg[sizeof(r->msg)];
	va_list ap;

	msg[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (r->st != st || (fmt && strcmp(msg, r->msg) != 0)) {
		if (fmt)
			apps_log(a, "app %s/%d: %s -> %s: %s", r->app->def.name, r->index,
			         state_names[r->st], state_names[st], msg);
		else if (r->st != st)
			apps_log(a, "app %s/%d: %s -> %s", r->app->def.name, r->index,
			         state_names[r->st], state_names[st]);
		a->dirty = 1;
	}
	if (r->st != st)
		r->since_wall = apps_wall_ms();
	r->st = st;
	if (fmt)
		snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static int alive(const replica *r)
{
	return r->st == R_STARTING || r->st == R_RUNNING || r->st == R_STOPPING;
}

/* ---- starting ---- */

char **apps_command_env(const bar_app_def *d, int replica_index)
{
	size_t n = 0, cap = d->nenv + 8;
	char **env = calloc(cap, sizeof(*env)), buf[128];
	static const char *const base[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
		"LANG=C.UTF-8", NULL};

	if (!env)
		return NULL;
	for (int i = 0; base[i]; i++) {
		size_t k = strcspn(base[i], "=");
		int overridden = 0;
		for (size_t j = 0; j < d->nenv; j++)
			if (!strncmp(d->env[j], base[i], k + 1))
				overridden = 1;
		if (!overridden)
			env[n++] = strdup(base[i]);
	}
	snprintf(buf, sizeof(buf), "BARISTA_APP=%s", d->name);
	env[n++] = strdup(buf);
	snprintf(buf, sizeof(buf), "BARISTA_REPLICA=%d", replica_index);
	env[n++] = strdup(buf);
	for (size_t j = 0; j < d->nenv; j++)
		env[n++] = strdup(d->env[j]);
	env[n] = NULL;
	return env;
}

void apps_free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The child's side of a start: its own process group, its cgroups, output
 * to the pipe, default signals, killed with the agent's worker. */
static void child_setup(const replica *r, int out_w)
{
	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	apps_cgroup_join(r);
	if (null >= 0)
		dup2(null, 0);
	dup2(out_w, 1);
	dup2(out_w, 2);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int spawn_command(bar_apps *a, replica *r, int out_w, char *why, size_t wsize)
{
	const bar_app_def *d = &r->app->def;
	char **env = apps_command_env(d, r->index), appdir[700];
	pid_t pid;

	if (!env) {
		snprintf(why, wsize, "out of memory");
		return -1;
	}
	snprintf(appdir, sizeof(appdir), "%s/apps/%s-%d", a->dir, d->name, r->index);
	pid = fork();
	if (pid < 0) {
		snprintf(why, wsize, "fork: %s", strerror(errno));
		apps_free_strv(env);
		return -1;
	}
	if (pid == 0) {
		child_setup(r, out_w);
		if (chdir(d->cwd && d->cwd[0] ? d->cwd : appdir) < 0) {
			dprintf(2, "barista-agent: cannot enter %s: %s\n", d->cwd ? d->cwd : appdir,
			        strerror(errno));
			_exit(126);
		}
		{
			char *argv[] = {"sh", "-c", d->command, NULL};
			execve("/bin/sh", argv, env);
		}
		dprintf(2, "barista-agent: cannot run /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	apps_free_strv(env);
	setpgid(pid, pid); /* as the child does: a stop sent at once must reach its group */
	r->pid = pid;
	return 0;
}

static void start(bar_apps *a, replica *r)
{
	char why[400], appdir[700];
	int p[2];
	int64_t now = apps_mono_ms();

	snprintf(appdir, sizeof(appdir), "%s/apps", a->dir);
	mkdir(appdir, 0700);
	snprintf(appdir, sizeof(appdir), "%s/apps/%s-%d", a->dir, r->app->def.name, r->index);
	mkdir(appdir, 0700);
	if (apps_cgroup_make(a, r, why, sizeof(why)) < 0) {
		apps_set_state(a, r, R_FAILED, "%s", why);
		r->next_ms = now + BACKOFF_MAX_MS;
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		apps_set_state(a, r, R_FAILED, "pipe: %s", strerror(errno));
		r->next_ms = now + BACKOFF_FIRST_MS;
		return;
	}
	apps_log_open(a, r);
	if ((r->app->def.kind == BAR_APP_COMMAND ? spawn_command(a, r, p[1], why, sizeof(why))
	                                          : apps_image_spawn(a, r, p[1], why,
	                                                             sizeof(why))) < 0) {
		close(p[0]);
		close(p[1]);
		r->crashes++;
		r->next_ms = now + (r->crashes > 8 ? BACKOFF_MAX_MS : BACKOFF_FIRST_MS << r->crashes);
		apps_set_state(a, r, R_FAILED, "%s", why);
		return;
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	r->out_fd = p[0];
	r->started_ms = now;
	r->healthy = 0;
	r->fails = 0;
	r->kill_sent = 0;
	r->next_probe = now + r->app->def.health.delay_ms;
	if (r->app->def.health.kind == BAR_HEALTH_NONE) {
		r->healthy = 1;
		r->healthy_since = now;
		apps_set_state(a, r, R_RUNNING, "started, pid %d (no health check)", (int)r->pid);
	} else {
		apps_set_state(a, r, R_STARTING, "started, pid %d; waiting for its health check",
		               (int)r->pid);
	}
}

/* ---- stopping ---- */

static void signal_replica(bar_apps *a, replica *r, int sig)
{
	if (r->pid <= 0)
		return;
	if (r->app->def.kind == BAR_APP_COMMAND)
		kill(-r->pid, sig); /* the app's whole process group */
	else if (sig == SIGKILL)
		apps_image_kill(a, r); /* runc kill: its run process then exits */
	else
		kill(r->pid, sig);  /* runc run passes it to the container */
}

static void stop(bar_apps *a, replica *r, const char *why)
{
	apps_probe_cancel(r);
	if (!alive(r)) {
		if (r->st != R_EXITED)
			apps_set_state(a, r, R_EXITED, "%s", why);
		return;
	}
	if (r->st == R_STOPPING)
		return;
	signal_replica(a, r, SIGTERM);
	r->stop_deadline = apps_mono_ms() + a->o.grace_ms;
	r->kill_sent = 0;
	apps_set_state(a, r, R_STOPPING, "%s", why);
}

/* What an exit (status st) of r's process leads to. */
static void exited(bar_apps *a, replica *r, int st)
{
	int64_t now = apps_mono_ms();
	int failed;
	char how[64];

	r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r->exit_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	if (r->exit_signal)
		snprintf(how, sizeof(how), "killed by signal %d", r->exit_signal);
	else
		snprintf(how, sizeof(how), "exited %d", r->exit_code);
	failed = r->exit_signal || r->exit_code != 0;
	r->pid = 0;
	r->healthy = 0;
	apps_probe_cancel(r);
	apps_log_drain(a, r);
	apps_log_close(r);
	if (r->app->def.kind == BAR_APP_IMAGE)
		apps_image_exited(a, r);
	apps_cgroup_remove(a, r);
	if (r->st == R_STOPPING && !r->restart_after_stop) {
		apps_set_state(a, r, R_EXITED, "stopped (%s)", how);
		return;
	}
	if (r->app->gone) {
		apps_set_state(a, r, R_EXITED, "%s", how);
		return;
	}
	if (!r->restart_after_stop &&
	    (r->app->def.restart == BAR_RESTART_NEVER ||
	     (r->app->def.restart == BAR_RESTART_ON_FAILURE && !failed))) {
		apps_set_state(a, r, R_EXITED, "%s; not restarted (restart: %s)", how,
		               r->app->def.restart == BAR_RESTART_NEVER ? "never" : "on-failure");
		return;
	}
	if (r->healthy_since && now - r->healthy_since >= BACKOFF_RESET_MS)
		r->crashes = 0;
	r->healthy_since = 0;
	{
		int64_t delay = r->crashes == 0 ? 0 : (int64_t)BACKOFF_FIRST_MS << (r->crashes - 1);
		if (delay > BACKOFF_MAX_MS || r->crashes > 16)
			delay = BACKOFF_MAX_MS;
		r->crashes++;
		r->next_ms = now + delay;
		apps_set_state(a, r, R_BACKOFF, "%s%s; starting again in %lld ms", how,
		               r->restart_after_stop ? " after failing its health check" : "",
		               (long long)delay);
	}
	r->restart_after_stop = 0;
}

static replica *by_pid(bar_apps *a, pid_t pid, int *is_probe)
{
	for (size_t i = 0; i < a->n; i++)
		for (int k = 0; k < a->apps[i]->nr; k++) {
			replica *r = &a->apps[i]->r[k];
			if (r->pid == pid) {
				*is_probe = 0;
				return r;
			}
			if (r->pr.active && r->pr.pid == pid) {
				*is_probe = 1;
				return r;
			}
		}
	return NULL;
}

static void reap(bar_apps *a)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int is_probe = 0, ok = 0;
		replica *r = by_pid(a, pid, &is_probe);

		if (!r)
			continue;
		if (!is_probe) {
			exited(a, r, st);
			continue;
		}
		apps_probe_reaped(r, st, &ok);
		/* handled as a finished probe below, through step_probe's result */
		r->pr.active = 0;
		r->pr.phase = ok ? 100 : 101; /* a finished exec probe waiting to be counted */
	}
}

/* ---- health ---- */

static void probe_result(bar_apps *a, replica *r, int ok)
{
	const bar_app_health *h = &r->app->def.health;
	int64_t now = apps_mono_ms();

	if (r->st == R_STARTING) {
		r->next_probe = now + (h->interval_ms < STARTING_PROBE_MS ? h->interval_ms
		                                                          : STARTING_PROBE_MS);
		if (ok) {
			r->healthy = 1;
			r->fails = 0;
			r->healthy_since = now;
			r->next_probe = now + h->interval_ms;
			apps_set_state(a, r, R_RUNNING, "healthy after %lld ms",
			               (long long)(now - r->started_ms));
		} else {
			a->dirty = 1; /* the message changed */
		}
		return;
	}
	if (r->st != R_RUNNING)
		return;
	r->next_probe = now + h->interval_ms;
	if (ok) {
		if (r->fails)
			a->dirty = 1;
		r->fails = 0;
		return;
	}
	r->fails++;
	a->dirty = 1;
	if (r->fails >= h->failures) {
		char why[sizeof(r->msg) + 64];
		snprintf(why, sizeof(why), "unhealthy: %d checks failed: %s", r->fails, r->msg);
		r->healthy = 0;
		r->restart_after_stop = 1;
		stop(a, r, why);
	}
}

/* ---- the manifest ---- */

static void app_free(app *p)
{
	for (int k = 0; k < p->nr; k++) {
		apps_log_close(&p->r[k]);
		if (p->r[k].out_fd >= 0)
			close(p->r[k].out_fd);
	}
	free(p->r);
	bar_app_def_clear(&p->def);
	free(p);
}

static app *app_new(bar_app_def *d)
{
	app *p = calloc(1, sizeof(*p));

	if (!p || !(p->r = calloc((size_t)d->replicas, sizeof(*p->r)))) {
		free(p);
		return NULL;
	}
	p->def = *d;
	memset(d, 0, sizeof(*d)); /* moved */
	p->nr = p->def.replicas;
	for (int k = 0; k < p->nr; k++) {
		p->r[k].app = p;
		p->r[k].index = k + 1;
		p->r[k].out_fd = -1;
		p->r[k].log_fd = -1;
		p->r[k].pr.fd = -1;
		p->r[k].st = R_WAITING;
		p->r[k].since_wall = apps_wall_ms();
		snprintf(p->r[k].msg, sizeof(p->r[k].msg), "waiting for its turn");
	}
	return p;
}

void bar_apps_reload(bar_apps *a)
{
	bar_app_manifest m;
	char why[400];

	if (bar_app_manifest_load(&m, a->manifest, why, sizeof(why)) < 0) {
		apps_log(a, "apps: %s; keeping the apps as they are", why);
		snprintf(a->manifest_error, sizeof(a->manifest_error), "%s", why);
		a->dirty = 1;
		return;
	}
	a->manifest_error[0] = '\0';
	/* gone: apps no longer there, or there with another definition */
	for (size_t i = 0; i < a->n; i++) {
		app *p = a->apps[i];
		size_t j;

		if (p->gone)
			continue;
		for (j = 0; j < m.n; j++)
			if (!strcmp(m.apps[j].name, p->def.name) && !strcmp(m.apps[j].hash, p->def.hash))
				break;
		if (j < m.n) {
			m.apps[j].name[0] = '\0'; /* kept as it runs */
			continue;
		}
		p->gone = 1;
		for (int k = 0; k < p->nr; k++)
			stop(a, &p->r[k], "its app changed or was removed");
	}
	for (size_t j = 0; j < m.n; j++) {
		app *p, **na;

		if (!m.apps[j].name[0])
			continue;
		if (!(na = realloc(a->apps, (a->n + 1) * sizeof(*na))) || !(p = app_new(&m.apps[j]))) {
			if (na)
				a->apps = na;
			apps_log(a, "apps: out of memory loading %s", m.apps[j].name);
			continue;
		}
		a->apps = na;
		a->apps[a->n++] = p;
	}
	if (m.generation != a->generation)
		apps_log(a, "apps: generation %ld loaded: %zu apps", m.generation, m.n);
	a->generation = m.generation;
	memcpy(a->sources, m.sources, sizeof(a->sources));
	memcpy(a->generations, m.generations, sizeof(a->generations));
	a->nsources = m.nsources;
	bar_app_manifest_clear(&m);
	a->dirty = 1;
	bar_apps_step(a, NULL, 0); /* start what may start now, not at the next wake-up */
}

/* May r start now?  Its older definition is stopped, its `after` apps are
 * healthy on this VM, and apps of a lower order have started. */
static int turn(bar_apps *a, const replica *r)
{
	const app *me = r->app;

	for (size_t i = 0; i < a->n; i++) {
		const app *o = a->apps[i];

		if (o == me)
			continue;
		if (o->gone) {
			if (!strcmp(o->def.name, me->def.name))
				for (int k = 0; k < o->nr; k++)
					if (alive(&o->r[k]))
						return 0;
			continue;
		}
		for (size_t d = 0; d < me->def.nafter; d++)
			if (!strcmp(me->def.after[d], o->def.name))
				for (int k = 0; k < o->nr; k++)
					if (!o->r[k].healthy)
						return 0;
		if (o->def.order < me->def.order)
			for (int k = 0; k < o->nr; k++)
				if (o->r[k].st == R_WAITING)
					return 0;
	}
	return 1;
}

static int step_replica(bar_apps *a, replica *r, const struct pollfd *pf, size_t npf,
                        int64_t now)
{
	rstate before = r->st;
	int ok = 0;

	if (r->out_fd >= 0)
		apps_log_drain(a, r);
	switch (r->st) {
	case R_WAITING:
		if (!r->app->gone && turn(a, r))
			start(a, r);
		break;
	case R_BACKOFF:
	case R_FAILED:
		if (!r->app->gone && now >= r->next_ms) {
			r->restarts++;
			start(a, r);
		}
		break;
	case R_STARTING:
	case R_RUNNING:
		if (r->pr.phase >= 100) { /* an exec probe reaped in reap() */
			ok = r->pr.phase == 100;
			r->pr.phase = 0;
			probe_result(a, r, ok);
		} else if (r->pr.active) {
			if (apps_probe_step(a, r, pf, npf, &ok))
				probe_result(a, r, ok);
		} else if (now >= r->next_probe && r->app->def.health.kind != BAR_HEALTH_NONE) {
			apps_probe_start(a, r);
			if (!r->pr.active && r->pr.phase < 100) /* failed at once */
				probe_result(a, r, 0);
		}
		break;
	case R_STOPPING:
		if (!r->kill_sent && now >= r->stop_deadline) {
			apps_log(a, "app %s/%d: still running %ld ms after SIGTERM; SIGKILL",
			         r->app->def.name, r->index, a->o.grace_ms);
			signal_replica(a, r, SIGKILL);
			r->kill_sent = 1;
		}
		break;
	case R_EXITED:
		break;
	}
	return r->st != before;
}

/* Drop gone apps whose replicas have all stopped. */
static void sweep_gone(bar_apps *a)
{
	size_t w = 0;

	for (size_t i = 0; i < a->n; i++) {
		app *p = a->apps[i];
		int live = 0;

		for (int k = 0; k < p->nr; k++)
			live |= alive(&p->r[k]);
		if (p->gone && !live) {
			app_free(p);
			a->dirty = 1;
			continue;
		}
		a->apps[w++] = p;
	}
	a->n = w;
}

void bar_apps_step(bar_apps *a, const struct pollfd *pf, size_t npf)
{
	int changed, rounds = 0;

	reap(a);
	do {
		int64_t now = apps_mono_ms();
		changed = 0;
		for (size_t i = 0; i < a->n; i++)
			for (int k = 0; k < a->apps[i]->nr; k++)
				changed |= step_replica(a, &a->apps[i]->r[k], pf, npf, now);
		sweep_gone(a);
		reap(a);
		pf = NULL; /* descriptors were seen in the first round */
		npf = 0;
	} while (changed && ++rounds < 16);
	if (a->dirty)
		apps_status_write(a);
}

size_t bar_apps_fds(bar_apps *a, struct pollfd *pf, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		for (int k = 0; k < a->apps[i]->nr; k++) {
			replica *r = &a->apps[i]->r[k];
			if (r->out_fd >= 0 && n < max)
				pf[n++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN};
			if (r->pr.active && r->pr.fd >= 0 && n < max)
				pf[n++] = (struct pollfd){.fd = r->pr.fd,
				                          .events = r->pr.phase == 2 ? POLLIN : POLLOUT};
		}
	return n;
}

int64_t bar_apps_next_ms(const bar_apps *a)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < a->n; i++)
		for (int k = 0; k < a->apps[i]->nr; k++) {
			const replica *r = &a->apps[i]->r[k];
			int64_t t = INT64_MAX;

			if (r->st == R_BACKOFF || r->st == R_FAILED)
				t = r->next_ms;
			else if (r->st == R_STOPPING && !r->kill_sent)
				t = r->stop_deadline;
			else if ((r->st == R_STARTING || r->st == R_RUNNING) &&
			         r->app->def.health.kind != BAR_HEALTH_NONE)
				t = r->pr.active ? r->pr.deadline : r->next_probe;
			if (r->pr.phase >= 100)
				t = 0;
			if (t < next)
				next = t;
		}
	return next;
}

void bar_apps_metrics(bar_apps *a, bar_apps_metric_fn fn, void *ctx)
{
	int64_t now = apps_mono_ms();

	for (size_t i = 0; i < a->n; i++) {
		app *p = a->apps[i];
		if (p->gone)
			continue;
		for (int k = 0; k < p->nr; k++) {
			replica *r = &p->r[k];
			char idx[16];
			uint64_t cpu = 0, mem = 0;

			snprintf(idx, sizeof(idx), "%d", r->index);
			fn(ctx, "app.up", p->def.name, idx, r->pid > 0 ? 1 : 0);
			fn(ctx, "app.healthy", p->def.name, idx, r->healthy ? 1 : 0);
			fn(ctx, "app.restarts", p->def.name, idx, r->restarts);
			if (r->pid > 0 && apps_cgroup_cpu_mem(r, &cpu, &mem) == 0) {
				if (r->cpu_at_last && now > r->cpu_at_last && cpu >= r->cpu_ns_last)
					fn(ctx, "app.cpu", p->def.name, idx,
					   (double)(cpu - r->cpu_ns_last) / 1e6 / (double)(now - r->cpu_at_last) *
					       100.0);
				r->cpu_ns_last = cpu;
				r->cpu_at_last = now;
				fn(ctx, "app.memory", p->def.name, idx, (double)mem);
			}
		}
	}
}

int bar_apps_open(bar_apps **out, const bar_apps_opts *o, char *why, size_t wsize)
{
	bar_apps *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(why, wsize, "out of memory");
		return -1;
	}
	a->o = *o;
	a->manifest = strdup(o->manifest);
	a->dir = strdup(o->dir);
	a->status = strdup(o->status);
	a->vm = strdup(o->vm ? o->vm : "");
	if (!a->manifest || !a->dir || !a->status || !a->vm) {
		snprintf(why, wsize, "out of memory");
		bar_apps_close(a);
		return -1;
	}
	a->o.manifest = a->manifest;
	a->o.dir = a->dir;
	a->o.status = a->status;
	a->o.vm = a->vm;
	if (a->o.grace_ms <= 0)
		a->o.grace_ms = 10000;
	if (!a->o.log_max)
		a->o.log_max = 1u << 20;
	apps_cgroup_base(a);
	apps_image_sweep(a);
	apps_cgroup_sweep(a);
	bar_apps_reload(a);
	*out = a;
	return 0;
}

void bar_apps_close(bar_apps *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		a->apps[i]->gone = 1;
		for (int k = 0; k < a->apps[i]->nr; k++)
			stop(a, &a->apps[i]->r[k], "the agent is stopping");
	}
	/* wait for them, SIGKILL after the grace time */
	for (;;) {
		int live = 0;
		int64_t now = apps_mono_ms();

		reap(a);
		for (size_t i = 0; i < a->n; i++)
			for (int k = 0; k < a->apps[i]->nr; k++) {
				replica *r = &a->apps[i]->r[k];
				if (!alive(r))
					continue;
				live = 1;
				if (!r->kill_sent && now >= r->stop_deadline) {
					signal_replica(a, r, SIGKILL);
					r->kill_sent = 1;
				}
			}
		if (!live)
			break;
		usleep(20000);
	}
	sweep_gone(a);
	if (a->status)
		apps_status_write(a);
	free(a->apps);
	free(a->manifest);
	free(a->dir);
	free(a->status);
	free(a->vm);
	free(a);
}
