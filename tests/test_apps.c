/*
 * test_apps.c - barista-agent's app supervisor (runtime/agent/apps.h) with
 * real processes: the manifest's rules, start order and readiness, health
 * checks of each kind, restarts after a kill and their delays, restart
 * policies, reloads that touch only what changed, bounded logs, cgroup
 * limits, and a stop that leaves no process and no cgroup behind.
 *
 *   test_apps CASE WORKDIR
 *
 * Each case uses WORKDIR/<case> (made, and removed at the end) and ports
 * from 127.0.0.1:(20000 + pid % 20000) up; apps are /bin/sh commands and
 * Debian's busybox (httpd, for the http checks).  Every case bounds its
 * waits; the supervisor is closed even when a check fails, which stops
 * every process it started.
 */
#include "apps.h"
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[512], manifest[600], status[600], www[600];
static int port0;
static char logbuf[64 * 1024];
static size_t loglen;

static void logger(void *ctx, const char *msg)
{
	(void)ctx;
	if (getenv("TEST_APPS_VERBOSE"))
		fprintf(stderr, "  agent: %s\n", msg);
	loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);
	if (loglen >= sizeof(logbuf))
		loglen = sizeof(logbuf) - 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_manifest(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void write_manifest(const char *fmt, ...)
{
	char tmp[700];
	FILE *f;
	va_list ap;

	snprintf(tmp, sizeof(tmp), "%s.tmp", manifest);
	f = fopen(tmp, "w");
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	rename(tmp, manifest);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return strdup("");
	buf = calloc(1, 1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Whether the file at path holds text. */
static bool file_has(const char *path, const char *text)
{
	char *s = slurp(path);
	bool found = strstr(s, text) != NULL;

	free(s);
	return found;
}

/* The status entry of app/replica: its "state" and the whole object text. */
static int app_state(const char *app, int replica, char *state, size_t n, char *obj,
                     size_t on)
{
	char *s = slurp(status), key[200], *p, *end;
	int found = 0;

	snprintf(key, sizeof(key), "{\"name\":\"%s\",", app);
	for (p = strstr(s, key); p; p = strstr(p + 1, key)) {
		char rep[32];
		end = strchr(p, '\n');
		if (end)
			*end = '\0';
		snprintf(rep, sizeof(rep), "\"replica\":%d,", replica);
		if (strstr(p, rep) && !strstr(p, "\"gone\":true")) {
			char *st = strstr(p, "\"state\":\"");
			if (st && state)
				sscanf(st + 9, "%31[^\"]", state);
			if (obj)
				snprintf(obj, on, "%s", p);
			found = 1;
			break;
		}
		if (end)
			*end = '\n';
	}
	free(s);
	(void)n;
	return found;
}

static int app_pid(const char *app, int replica)
{
	char obj[2048] = "", *p;

	if (!app_state(app, replica, NULL, 0, obj, sizeof(obj)))
		return 0;
	p = strstr(obj, "\"pid\":");
	return p ? atoi(p + 6) : 0;
}

static int app_int(const char *app, int replica, const char *field)
{
	char obj[2048] = "", key[64], *p;

	if (!app_state(app, replica, NULL, 0, obj, sizeof(obj)))
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", field);
	p = strstr(obj, key);
	return p ? atoi(p + strlen(key)) : -1;
}

/* Run the supervisor until app/replica is in state want (or timeout_ms). */
static int run_until(bar_apps *a, const char *app, int replica, const char *want,
                     int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pf[64];
		size_t n = bar_apps_fds(a, pf, 64);
		char st[32] = "";
		int64_t next = bar_apps_next_ms(a), wait = 20;

		if (app && app_state(app, replica, st, sizeof(st), NULL, 0) && !strcmp(st, want))
			return 1;
		if (now_ms() >= end)
			return 0;
		if (next != INT64_MAX && next - now_ms() < wait)
			wait = next - now_ms() < 0 ? 0 : next - now_ms();
		poll(pf, n, (int)wait);
		bar_apps_step(a, pf, n);
	}
}

static void run_for(bar_apps *a, int64_t ms)
{
	run_until(a, NULL, 0, "", ms);
}

static bar_apps *open_apps(size_t log_max)
{
	bar_apps_opts o = BAR_APPS_OPTS_INIT;
	bar_apps *a = NULL;
	char why[400];

	o.manifest = manifest;
	o.dir = dir;
	o.status = status;
	o.vm = "test-vm";
	o.grace_ms = 2000;
	if (log_max)
		o.log_max = log_max;
	o.log = logger;
	if (bar_apps_open(&a, &o, why, sizeof(why)) < 0) {
		fprintf(stderr, "bar_apps_open: %s\n", why);
		return NULL;
	}
	return a;
}

static int alive(int pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/* ---- cases ---- */

static int parse_err(const char *text, const char *want)
{
	bar_app_manifest m;
	char why[400] = "";
	int rc = bar_app_manifest_parse(&m, text, strlen(text), "apps.conf", why, sizeof(why));

	if (rc == 0) {
		bar_app_manifest_clear(&m);
		fprintf(stderr, "parsed, want error \"%s\"\n", want);
		return 0;
	}
	if (!strstr(why, want)) {
		fprintf(stderr, "got \"%s\", want \"%s\"\n", why, want);
		return 0;
	}
	return 1;
}

static void case_manifest(void)
{
	static const char good[] =
	    "# written by apply\ngeneration=4\n"
	    "[app db]\nkind=command\nhash=aa\ncommand=sleep 100\nhealth=tcp 5432\n"
	    "health_interval_ms=500\nhealth_timeout_ms=200\nenv=A=b=c\nrestart=on-failure\n"
	    "[app web]\nkind=image\nhash=bb\nreplicas=2\norder=-3\nafter=db,elsewhere\n"
	    "image=sha256:0123456789012345678901234567890123456789012345678901234567890123\n"
	    "layer=gzip sha256:1123456789012345678901234567890123456789012345678901234567890123\n"
	    "layer=tar sha256:2123456789012345678901234567890123456789012345678901234567890123\n"
	    "arg=nginx\narg=-g\narg=daemon off;\nport=80/tcp\nvolume=data /var/lib/x\n"
	    "health=http 80 /healthz?x=1\ncpus=0.5\nmemory=134217728\nuser=101:101\ncwd=/\n";
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"[app a]\nkind=command\nhash=1\ncommand=x\n", "apps.conf:5: no generation="},
		{"generation=1\n[app A]\n", "apps.conf:2: \"A\" is not an app name"},
		{"generation=1\nkind=command\n", "apps.conf:2: \"kind\" before the first [app NAME]"},
		{"generation=1\n[app a]\nkind=vm\n", "apps.conf:3: kind=vm: want command or image"},
		{"generation=1\n[app a]\nkind=command\nhash=1\n", "a command app needs command="},
		{"generation=1\n[app a]\nkind=image\nhash=1\narg=x\n", "an image app needs image="},
		{"generation=1\n[app a]\nkind=command\ncommand=x\n", "app a has no hash"},
		{"generation=1\n[app a]\nfrobnicate=1\n", "unknown key \"frobnicate\""},
		{"generation=1\n[app a]\nhealth=udp 53\n", "want none, tcp PORT"},
		{"generation=1\n[app a]\nhealth=http 80 nopath\n", "want none, tcp PORT"},
		{"generation=1\n[app a]\nreplicas=0\n", "replicas=0: want an integer from 1"},
		{"generation=1\n[app a]\nlayer=gzip sha256:12\n", "not a sha256 digest"},
		{"generation=1\n[app a]\nenv=NOVALUE\n", "env=NOVALUE: want KEY=VALUE"},
		{"generation=1\n[app a]\nafter=b,B\n", "\"B\" is not an app name"},
		{"generation=1\n[app a]\nkind=command\nhash=1\ncommand=x\n[app a]\n",
		 "app a is given twice"},
		{"generation=1\n[app a]\nkind=command\nhash=1\ncommand=x\nhealth_interval_ms=100\n"
		 "health_timeout_ms=500\n", "health_timeout_ms is longer than health_interval_ms"},
		{"generation=1\njunk\n", "apps.conf:2: want KEY=VALUE or [app NAME]"},
	};
	bar_app_manifest m;
	char why[400];

	CHECK(bar_app_manifest_parse(&m, good, strlen(good), "apps.conf", why, sizeof(why)) == 0);
	CHECK(m.generation == 4 && m.n == 2);
	if (m.n == 2) {
		const bar_app_def *db = &m.apps[0], *web = &m.apps[1];
		CHECK(db->kind == BAR_APP_COMMAND && !strcmp(db->command, "sleep 100"));
		CHECK(db->health.kind == BAR_HEALTH_TCP && db->health.port == 5432);
		CHECK(db->health.interval_ms == 500 && db->health.timeout_ms == 200);
		CHECK(db->health.failures == 3 && db->replicas == 1);
		CHECK(db->nenv == 1 && !strcmp(db->env[0], "A=b=c"));
		CHECK(db->restart == BAR_RESTART_ON_FAILURE);
		CHECK(web->kind == BAR_APP_IMAGE && web->replicas == 2 && web->order == -3);
		/* "elsewhere" is not on this VM: not waited for */
		CHECK(web->nafter == 1 && !strcmp(web->after[0], "db"));
		CHECK(web->nlayers == 2 && web->layers[0].gzip == 1 && web->layers[1].gzip == 0);
		CHECK(web->nargs == 3 && !strcmp(web->args[2], "daemon off;"));
		CHECK(web->nports == 1 && web->ports[0] == 80);
		CHECK(web->nvol == 1 && !strcmp(web->vol_name[0], "data") &&
		      !strcmp(web->vol_path[0], "/var/lib/x"));
		CHECK(web->health.kind == BAR_HEALTH_HTTP && !strcmp(web->health.path, "/healthz?x=1"));
		CHECK(web->cpus == 0.5 && web->memory == 134217728ull);
		CHECK(!strcmp(web->user, "101:101") && !strcmp(web->cwd, "/"));
		bar_app_manifest_clear(&m);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (!parse_err(bad[i].text, bad[i].want)) {
			fprintf(stderr, "  bad case %zu\n", i);
			failures++;
		}
	/* a directory: one file per MCApp, names qualified by the file's */
	{
		char d[700], f1[800], f2[800];
		FILE *f;
		snprintf(d, sizeof(d), "%s/apps.d", dir);
		mkdir(d, 0700);
		snprintf(f1, sizeof(f1), "%s/shop.conf", d);
		snprintf(f2, sizeof(f2), "%s/blog.conf", d);
		f = fopen(f1, "w");
		fputs("generation=7\n[app db]\nkind=command\nhash=1\ncommand=x\n"
		      "[app web]\nkind=command\nhash=2\ncommand=y\nafter=db\n", f);
		fclose(f);
		f = fopen(f2, "w");
		fputs("generation=2\n[app web]\nkind=command\nhash=3\ncommand=z\n", f);
		fclose(f);
		CHECK(bar_app_manifest_load(&m, d, why, sizeof(why)) == 0);
		CHECK(m.n == 3 && m.nsources == 2 && m.generation == 7);
		if (m.n == 3 && m.nsources == 2) {
			CHECK(!strcmp(m.apps[0].name, "blog.web") && !strcmp(m.apps[1].name, "shop.db"));
			CHECK(m.apps[2].nafter == 1 && !strcmp(m.apps[2].after[0], "shop.db"));
			CHECK(!strcmp(m.sources[0], "blog") && m.generations[0] == 2);
			CHECK(!strcmp(m.sources[1], "shop") && m.generations[1] == 7);
		}
		bar_app_manifest_clear(&m);
		f = fopen(f2, "w");
		fputs("generation=2\n[app web]\nkind=bogus\n", f);
		fclose(f);
		CHECK(bar_app_manifest_load(&m, d, why, sizeof(why)) < 0 &&
		      strstr(why, "blog.conf:3: kind=bogus"));
	}
	/* no file: nothing to run */
	CHECK(bar_app_manifest_load(&m, "/nonexistent/apps.conf", why, sizeof(why)) == 0 &&
	      m.n == 0);
}

/* db must be healthy before web starts; the lower order first. */
static void case_order(void)
{
	bar_apps *a;
	char *db, *web;

	/* db becomes healthy 0.5 s after it starts: its port opens late */
	write_manifest("generation=1\n"
	               "[app web]\nkind=command\nhash=w1\nafter=db\n"
	               "command=exec busybox httpd -f -p 127.0.0.1:%d -h %s\n"
	               "health=http %d /\nhealth_interval_ms=500\nhealth_timeout_ms=400\n"
	               "[app db]\nkind=command\nhash=d1\n"
	               "command=sleep 0.5; exec busybox httpd -f -p 127.0.0.1:%d -h %s\n"
	               "health=tcp %d\nhealth_interval_ms=500\nhealth_timeout_ms=400\n"
	               "[app tool]\nkind=command\nhash=t1\norder=5\ncommand=exec sleep 100\n",
	               port0, www, port0, port0 + 1, www, port0 + 1);
	if (!(a = open_apps(0))) {
		failures++;
		return;
	}
	CHECK(run_until(a, "web", 1, "Running", 10000));
	CHECK(run_until(a, "tool", 1, "Running", 5000));
	db = strstr(logbuf, "app db/1: Starting -> Running");
	web = strstr(logbuf, "app web/1: Waiting -> Starting");
	CHECK(db && web && db < web);
	/* tool (order 5) started after db and web (order 0) had started */
	CHECK(strstr(logbuf, "app tool/1: Waiting -> Running") >
	      strstr(logbuf, "app web/1: Waiting -> Starting"));
	bar_apps_close(a);
}

/* A SIGKILLed app is started again at once and healthy within a second. */
static void case_restart(void)
{
	bar_apps *a;
	int pid, pid2;
	int64_t t0, took;

	write_manifest("generation=1\n[app web]\nkind=command\nhash=w1\n"
	               "command=exec busybox httpd -f -p 127.0.0.1:%d -h %s\n"
	               "health=http %d /\nhealth_interval_ms=1000\nhealth_timeout_ms=500\n",
	               port0, www, port0);
	if (!(a = open_apps(0))) {
		failures++;
		return;
	}
	CHECK(run_until(a, "web", 1, "Running", 5000));
	pid = app_pid("web", 1);
	CHECK(alive(pid));
	t0 = now_ms();
	if (pid > 0)
		kill(pid, SIGKILL);
	run_for(a, 50);
	CHECK(run_until(a, "web", 1, "Running", 3000));
	took = now_ms() - t0;
	pid2 = app_pid("web", 1);
	CHECK(pid2 != pid && alive(pid2));
	CHECK(app_int("web", 1, "restarts") == 1);
	fprintf(stderr, "killed to healthy again: %lld ms\n", (long long)took);
	CHECK(took < 1000);
	bar_apps_close(a);
	CHECK(!alive(pid2));
}

/* A crashing app is restarted with growing delays; policies are kept. */
static void case_backoff(void)
{
	bar_apps *a;
	char obj[2048] = "";
	int r;

	write_manifest("generation=1\n"
	               "[app crash]\nkind=command\nhash=c1\ncommand=echo dying; exit 3\n"
	               "[app once]\nkind=command\nhash=o1\nrestart=never\ncommand=exit 0\n"
	               "[app fine]\nkind=command\nhash=f1\nrestart=on-failure\ncommand=exit 0\n"
	               "[app bad]\nkind=command\nhash=b1\nrestart=on-failure\ncommand=exit 1\n");
	if (!(a = open_apps(0))) {
		failures++;
		return;
	}
	run_for(a, 3000);
	/* delays 0, 0.2, 0.4, 0.8, 1.6 s: 4 or 5 restarts in 3 s, not dozens */
	r = app_int("crash", 1, "restarts");
	fprintf(stderr, "restarts in 3 s: %d\n", r);
	CHECK(r >= 3 && r <= 6);
	app_state("crash", 1, NULL, 0, obj, sizeof(obj));
	CHECK(strstr(obj, "exited 3; starting again in") != NULL);
	CHECK(app_int("once", 1, "restarts") == 0);
	app_state("once", 1, NULL, 0, obj, sizeof(obj));
	CHECK(strstr(obj, "\"state\":\"Exited\"") && strstr(obj, "not restarted (restart: never)"));
	app_state("fine", 1, NULL, 0, obj, sizeof(obj));
	CHECK(strstr(obj, "\"state\":\"Exited\"") != NULL);
	CHECK(app_int("bad", 1, "restarts") >= 3);
	{
		char path[800], *log;
		snprintf(path, sizeof(path), "%s/apps/crash-1/log", dir);
		log = slurp(path);
		CHECK(strstr(log, "dying\ndying\ndying\n") != NULL);
		free(log);
	}
	bar_apps_close(a);
}

/* Checks: a port that never opens keeps the app Starting with the check's
 * own message; exec checks; a healthy app that stops answering is
 * restarted after failureThreshold checks. */
static void case_health(void)
{
	bar_apps *a;
	char obj[2048] = "";

	write_manifest("generation=1\n"
	               "[app deaf]\nkind=command\nhash=d1\ncommand=exec sleep 100\n"
	               "health=tcp %d\nhealth_interval_ms=300\nhealth_timeout_ms=200\n"
	               "[app probe]\nkind=command\nhash=p1\ncommand=exec sleep 100\n"
	               "health=exec test -e ready\nhealth_interval_ms=300\nhealth_timeout_ms=200\n"
	               "cwd=%s\n"
	               "[app flaky]\nkind=command\nhash=f1\n"
	               "command=busybox httpd -f -p 127.0.0.1:%d -h %s & p=$!; sleep 1; kill $p; "
	               "exec sleep 100\n"
	               "health=http %d /\nhealth_interval_ms=300\nhealth_timeout_ms=200\n"
	               "health_failures=2\n",
	               port0 + 2, dir, port0 + 3, www, port0 + 3);
	if (!(a = open_apps(0))) {
		failures++;
		return;
	}
	CHECK(run_until(a, "flaky", 1, "Running", 5000));
	run_for(a, 1000);
	app_state("deaf", 1, NULL, 0, obj, sizeof(obj));
	CHECK(strstr(obj, "\"state\":\"Starting\"") != NULL);
	CHECK(strstr(obj, "Connection refused") != NULL);
	app_state("probe", 1, NULL, 0, obj, sizeof(obj));
	CHECK(strstr(obj, "\"state\":\"Starting\"") && strstr(obj, "exited 1"));
	{
		char path[700];
		snprintf(path, sizeof(path), "%s/ready", dir);
		close(open(path, O_CREAT | O_WRONLY, 0600));
	}
	CHECK(run_until(a, "probe", 1, "Running", 3000));
	/* flaky's server went away after 1 s: two failed checks, then a restart */
	run_for(a, 2500);
	CHECK(app_int("flaky", 1, "restarts") >= 1);
	CHECK(strstr(logbuf, "unhealthy: 2 checks failed: connect 127.0.0.1") != NULL);
	bar_apps_close(a);
}

/* A reload restarts what changed, stops what went, keeps the rest. */
static void case_reload(void)
{
	bar_apps *a;
	int keep, change, gone;

	write_manifest("generation=1\n"
	               "[app keep]\nkind=command\nhash=k1\ncommand=exec sleep 100\n"
	               "[app change]\nkind=command\nhash=c1\ncommand=exec sleep 100\n"
	               "[app gone]\nkind=command\nhash=g1\ncommand=trap '' TERM; sleep 100\n");
	if (!(a = open_apps(0))) {
		failures++;
		return;
	}
	CHECK(run_until(a, "gone", 1, "Running", 3000));
	run_for(a, 300); /* gone's shell has set its trap */
	keep = app_pid("keep", 1);
	change = app_pid("change", 1);
	gone = app_pid("gone", 1);
	CHECK(alive(keep) && alive(change) && alive(gone));
	write_manifest("generation=2\n"
	               "[app keep]\nkind=command\nhash=k1\ncommand=exec sleep 100\n"
	               "[app change]\nkind=command\nhash=c2\nreplicas=2\ncommand=exec sleep 99\n");
	bar_apps_reload(a);
	CHECK(run_until(a, "change", 2, "Running", 3000));
	CHECK(app_pid("keep", 1) == keep);
	CHECK(!alive(change) && app_pid("change", 1) != change);
	/* gone ignores SIGTERM: SIGKILL after the 2 s grace */
	run_for(a, 2600);
	CHECK(!alive(gone));
	CHECK(strstr(logbuf, "app gone/1: still running 2000 ms after SIGTERM; SIGKILL") != NULL);
	CHECK(app_int("gone", 1, "pid") == -1); /* dropped from the status */
	CHECK(file_has(status, "\"generation\":2"));
	/* a manifest that does not parse changes nothing */
	write_manifest("generation=3\n[app keep]\nkind=nonsense\n");
	bar_apps_reload(a);
	run_for(a, 100);
	CHECK(app_pid("keep", 1) == keep && alive(keep));
	CHECK(file_has(status, "kind=nonsense: want command or image"));
	bar_apps_close(a);
	CHECK(!alive(keep));
}

/* Logs rotate at log_max: two files, each bounded. */
static void case_logs(void)
{
	bar_apps *a;
	char path[800];
	struct stat st, st1;

	write_manifest("generation=1\n[app chatty]\nkind=command\nhash=c1\n"
	               "command=i=0; while [ $i -lt 3000 ]; do echo line $i of the chatty app; "
	               "i=$((i+1)); done; exec sleep 100\n");
	if (!(a = open_apps(16384))) {
		failures++;
		return;
	}
	run_for(a, 1500);
	snprintf(path, sizeof(path), "%s/apps/chatty-1/log", dir);
	CHECK(stat(path, &st) == 0 && st.st_size <= 16384);
	snprintf(path, sizeof(path), "%s/apps/chatty-1/log.1", dir);
	CHECK(stat(path, &st1) == 0 && st1.st_size <= 16384 && st1.st_size > 8000);
	{
		char *log;
		snprintf(path, sizeof(path), "%s/apps/chatty-1/log", dir);
		log = slurp(path);
		CHECK(strstr(log, "line 2999 of the chatty app\n") != NULL);
		free(log);
	}
	bar_apps_close(a);
}

/* Limits reach the app's cgroup; a stop removes the group; a group an
 * earlier agent left (with a process in it) is emptied at open. */
static void case_cgroup(void)
{
	bar_apps *a;
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[1024], memdir[700] = "", leftover[800], path[900];
	int pid, stray;

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strstr(line, ":memory:");
		if (c) {
			c[strcspn(c, "\n")] = '\0';
			snprintf(memdir, sizeof(memdir), "/sys/fs/cgroup/memory%s",
			         strcmp(c + 8, "/") ? c + 8 : "");
		}
		if (!strncmp(line, "0::", 3) && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(memdir, sizeof(memdir), "/sys/fs/cgroup%s",
			         strcmp(line + 3, "/") ? line + 3 : "");
		}
	}
	if (f)
		fclose(f);
	if (!memdir[0] || getuid() != 0) {
		fprintf(stderr, "no memory cgroup to test in (root and cgroups needed)\n");
		failures++;
		return;
	}
	/* a leftover group with a process, as a killed agent leaves it */
	snprintf(leftover, sizeof(leftover), "%s/barista-app-old-1", memdir);
	mkdir(leftover, 0755);
	stray = fork();
	if (stray == 0) {
		execl("/bin/sleep", "sleep", "100", (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", leftover);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", stray);
		fclose(f);
	}
	write_manifest("generation=1\n[app lim]\nkind=command\nhash=l1\nmemory=67108864\n"
	               "cpus=0.5\ncommand=exec sleep 100\n");
	if (!(a = open_apps(0))) {
		failures++;
		kill(stray, SIGKILL);
		waitpid(stray, NULL, 0);
		return;
	}
	run_for(a, 300);
	/* killed by the sweep (and reaped by the supervisor, which reaps every child) */
	CHECK(!alive(stray));
	CHECK(access(leftover, F_OK) != 0);
	CHECK(run_until(a, "lim", 1, "Running", 3000));
	pid = app_pid("lim", 1);
	{
		char *limit, want[64];
		snprintf(path, sizeof(path), "%s/barista-app-lim-1/%s", memdir,
		         strstr(memdir, "/memory") ? "memory.limit_in_bytes" : "memory.max");
		limit = slurp(path);
		snprintf(want, sizeof(want), "67108864");
		CHECK(!strncmp(limit, want, strlen(want)));
		free(limit);
		snprintf(path, sizeof(path), "%s/barista-app-lim-1/cgroup.procs", memdir);
		limit = slurp(path);
		CHECK(atoi(limit) == pid);
		free(limit);
	}
	bar_apps_close(a);
	snprintf(path, sizeof(path), "%s/barista-app-lim-1", memdir);
	CHECK(access(path, F_OK) != 0);
	CHECK(!alive(pid));
}

/* Metrics per replica. */
typedef struct seen {
	int up, healthy, restarts, memory;
} seen;

static void metric(void *ctx, const char *m, const char *app, const char *replica, double v)
{
	seen *s = ctx;

	if (strcmp(app, "m") || strcmp(replica, "1"))
		return;
	if (!strcmp(m, "app.up"))
		s->up = (int)v;
	else if (!strcmp(m, "app.healthy"))
		s->healthy = (int)v;
	else if (!strcmp(m, "app.restarts"))
		s->restarts = (int)v;
	else if (!strcmp(m, "app.memory"))
		s->memory = v > 0;
}

static void case_metrics(void)
{
	bar_apps *a;
	seen s = {0};

	write_manifest("generation=1\n[app m]\nkind=command\nhash=m1\ncommand=exec sleep 100\n");
	if (!(a = open_apps(0))) {
		failures++;
		return;
	}
	CHECK(run_until(a, "m", 1, "Running", 3000));
	run_for(a, 200); /* the child has joined its cgroup and run */
	bar_apps_metrics(a, metric, &s);
	CHECK(s.up == 1 && s.healthy == 1 && s.restarts == 0);
	CHECK(s.memory == 1 || getuid() != 0);
	if (app_pid("m", 1) > 0)
		kill(app_pid("m", 1), SIGKILL);
	run_for(a, 300);
	CHECK(run_until(a, "m", 1, "Running", 3000));
	bar_apps_metrics(a, metric, &s);
	CHECK(s.restarts == 1);
	bar_apps_close(a);
}

/* bar_apps_wait, against a supervisor running in a child (as the agent
 * runs on the VM): healthy at the generation; a failed app's message; a
 * timeout naming what was awaited; generation 0 once the source is gone. */
static void case_wait(void)
{
	char d[700], f1[800], why[600];
	FILE *f;
	pid_t child;
	int rc;

	snprintf(d, sizeof(d), "%s/apps.d", dir);
	mkdir(d, 0700);
	snprintf(manifest, sizeof(manifest), "%s", d);
	snprintf(f1, sizeof(f1), "%s/shop.conf", d);
	f = fopen(f1, "w");
	fprintf(f, "generation=3\n[app web]\nkind=command\nhash=w1\nreplicas=2\n"
	        "command=sleep 0.3; exec busybox httpd -f -p 127.0.0.1:$((%d + BARISTA_REPLICA)) "
	        "-h %s\nhealth=exec busybox wget -q -O /dev/null http://127.0.0.1:$((%d + BARISTA_REPLICA))/\n"
	        "health_interval_ms=200\nhealth_timeout_ms=150\n",
	        port0, www, port0);
	fclose(f);
	child = fork();
	if (child == 0) {
		bar_apps *a = open_apps(0);
		if (!a)
			_exit(1);
		/* the agent reloads on SIGHUP; here: every 200 ms */
		for (int i = 0; i < 40; i++) {
			run_for(a, 200);
			bar_apps_reload(a);
		}
		bar_apps_close(a);
		_exit(0);
	}
	rc = bar_apps_wait(status, "shop", 3, 5000, why, sizeof(why));
	CHECK(rc == 0);
	if (rc)
		fprintf(stderr, "wait: %s\n", why);
	/* a generation never written: a timeout saying what was awaited */
	rc = bar_apps_wait(status, "shop", 4, 300, why, sizeof(why));
	CHECK(rc == -2 && strstr(why, "has not loaded generation 4 of shop yet (it has 3)"));
	CHECK(bar_apps_wait(status, "blog", 0, 300, why, sizeof(why)) == 0);
	/* generation 4 adds an app that exits for good: its own message */
	{
		char *text = slurp(f1), tmp[900];
		char *g = strstr(text, "generation=3");
		if (g)
			g[11] = '4';
		snprintf(tmp, sizeof(tmp), "%s.new", f1);
		f = fopen(tmp, "w");
		fputs(text, f);
		fputs("[app broken]\nkind=command\nhash=b1\nrestart=never\ncommand=exit 4\n", f);
		fclose(f);
		rename(tmp, f1); /* as apply does: the agent sees the whole file or none */
		free(text);
	}
	rc = bar_apps_wait(status, "shop", 4, 5000, why, sizeof(why));
	CHECK(rc == -1 && strstr(why, "app shop.broken/1 exited: exited 4"));
	if (rc != -1)
		fprintf(stderr, "wait: %d %s\n", rc, why);
	/* the source removed: generation 0 once its apps are stopped */
	unlink(f1);
	rc = bar_apps_wait(status, "shop", 0, 5000, why, sizeof(why));
	CHECK(rc == 0);
	kill(child, SIGTERM);
	waitpid(child, NULL, 0);
}

static void rm_rf(const char *path)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{"manifest", case_manifest}, {"order", case_order},     {"restart", case_restart},
		{"backoff", case_backoff},   {"health", case_health},   {"reload", case_reload},
		{"logs", case_logs},         {"cgroup", case_cgroup},   {"metrics", case_metrics},
		{"wait", case_wait},
	};
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: test_apps CASE WORKDIR\n");
		return 2;
	}
	for (i = 0; i < sizeof(cases) / sizeof(*cases) && strcmp(cases[i].name, argv[1]); i++)
		;
	if (i == sizeof(cases) / sizeof(*cases)) {
		fprintf(stderr, "test_apps: no case %s\n", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	mkdir(argv[2], 0700);
	snprintf(dir, sizeof(dir), "%s/%s", argv[2], argv[1]);
	rm_rf(dir);
	mkdir(dir, 0700);
	snprintf(manifest, sizeof(manifest), "%s/apps.conf", dir);
	snprintf(status, sizeof(status), "%s/apps.json", dir);
	snprintf(www, sizeof(www), "%s/www", dir);
	mkdir(www, 0700);
	{
		char index[700];
		FILE *f;
		snprintf(index, sizeof(index), "%s/index.html", www);
		if ((f = fopen(index, "w"))) {
			fputs("ok\n", f);
			fclose(f);
		}
	}
	port0 = 20000 + (int)(getpid() % 2000) * 10;
	alarm(60); /* every case ends well within this */
	cases[i].fn();
	rm_rf(dir);
	if (failures)
		fprintf(stderr, "%d checks failed; the supervisor's log:\n%s", failures, logbuf);
	return failures ? 1 : 0;
}
