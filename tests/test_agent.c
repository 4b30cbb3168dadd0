/*
 * test_agent.c - barista-agent held to real components: the binary run as
 * the installer runs it, pushing to Debian's victoria-metrics (the
 * remote-write receiver; read back through its /api/v1/export), scraped by
 * Debian's prometheus, its text output checked by promtool, its JSON by
 * jansson, its values against /proc and statvfs.  One test per run:
 *
 *   test_agent CASE AGENT     CASE: config version once_prom once_json values
 *                             push outage failover spool restart refused pull
 *                             daemon
 *
 * Every case works in its own temporary directory and kills what it started
 * (also when a check fails or its alarm fires); 77 = a component is missing.
 */
#include "agent.h"
#include "assign.h"
#include "metrics.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *agent_bin;
static char tmp[] = "/tmp/test-agent-XXXXXX";
static pid_t kids[16];
static int nkids;
static int made; /* tmp was made (its random part may hold an 'X' too) */


static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void cleanup(void)
{
	for (int i = 0; i < nkids; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	if (made)
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "test_agent: out of time\n");
	cleanup();
	_exit(1);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static char *path_of(const char *name)
{
	static char bufs[8][600];
	static int k;
	char *b = bufs[k++ % 8];
	snprintf(b, 600, "%s/%s", tmp, name);
	return b;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p = NULL;
	size_t n = 0;
	if (!f)
		return NULL;
	p = malloc(1 << 20);
	n = fread(p, 1, (1 << 20) - 1, f);
	p[n] = '\0';
	fclose(f);
	return p;
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Start argv with stdout+stderr to log (NULL: inherit); the pid is killed at cleanup. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		if (log) {
			fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0 && nkids < 16)
		kids[nkids++] = pid;
	return pid;
}

/* Signal pid and wait up to ms for it to exit; its status, or -1. */
static int stop(pid_t pid, int sig, int ms)
{
	int st;
	kill(pid, sig);
	for (int waited = 0; waited < ms; waited += 50) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			for (int i = 0; i < nkids; i++)
				if (kids[i] == pid)
					kids[i] = 0;
			return st;
		}
		sleep_ms(50);
	}
	return -1;
}

/* Run argv to completion; stdout into *out (caller frees); exit status. */
static int run(char *const argv[], char **out)
{
	char *o = path_of("run.out");
	pid_t pid;
	int st = -1;
	unlink(o);
	pid = spawn(argv, o);
	if (waitpid(pid, &st, 0) == pid)
		for (int i = 0; i < nkids; i++)
			if (kids[i] == pid)
				kids[i] = 0;
	if (out)
		*out = read_file(o);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- HTTP through libcurl ---- */

typedef struct rbody {
	char *p;
	size_t n;
} rbody;

static size_t collect(char *d, size_t sz, size_t nm, void *ud)
{
	rbody *b = ud;
	size_t n = sz * nm;
	char *p = realloc(b->p, b->n + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, d, n);
	b->p = p, b->n += n, p[b->n] = '\0';
	return n;
}

/* GET url; the body (caller frees) or NULL; *status the HTTP status. */
static char *http_get(const char *url, long *status)
{
	CURL *c = curl_easy_init();
	rbody b = {0};
	long st = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(c) != CURLE_OK) {
		free(b.p);
		b.p = NULL;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(c);
	if (status)
		*status = st;
	return b.p;
}

/* ---- victoria-metrics ---- */

typedef struct vm {
	pid_t pid;
	int port;
	char dir[600];
} vm;

static int vm_start(vm *v, const char *name, int port)
{
	char listen[64], data[700], url[128], *argv[8];
	char *bin = "/usr/bin/victoria-metrics";
	if (access(bin, X_OK) != 0)
		return 77;
	v->port = port ? port : v->port ? v->port : free_port();
	snprintf(v->dir, sizeof(v->dir), "%s", path_of(name));
	snprintf(listen, sizeof(listen), "-httpListenAddr=127.0.0.1:%d", v->port);
	snprintf(data, sizeof(data), "-storageDataPath=%s", v->dir);
	argv[0] = bin, argv[1] = listen, argv[2] = data, argv[3] = "-retentionPeriod=100y",
	argv[4] = "-loggerLevel=ERROR", argv[5] = NULL;
	v->pid = spawn(argv, path_of("vm.log"));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", v->port);
	for (int i = 0; i < 100; i++) {
		char *b = http_get(url, NULL);
		if (b) {
			free(b);
			return 0;
		}
		sleep_ms(100);
	}
	fprintf(stderr, "victoria-metrics did not start\n");
	return 1;
}

static void vm_stop(vm *v)
{
	if (v->pid > 0 && stop(v->pid, SIGINT, 10000) < 0)
		stop(v->pid, SIGKILL, 5000);
	v->pid = 0;
}

/* The timestamps of every series named prom in v (one JSON object a line
 * from /api/v1/export); the decoded lines, caller's json_decref. */
static json_t *vm_export(vm *v, const char *match)
{
	char url[512], *b, *line, *save = NULL;
	json_t *all = json_array();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/internal/force_flush", v->port);
	free(http_get(url, NULL));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/export?match[]=%s", v->port, match);
	if (!(b = http_get(url, NULL)))
		return all;
	for (line = strtok_r(b, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		if (j)
			json_array_append_new(all, j);
	}
	free(b);
	return all;
}

/* The sorted, distinct timestamps of the series in export lines. */
static size_t timestamps(int64_t *out, size_t max, json_t *lines)
{
	size_t n = 0, i, k;
	json_t *l, *t;
	json_array_foreach(lines, i, l) json_array_foreach(json_object_get(l, "timestamps"), k, t)
	{
		if (n < max)
			out[n++] = json_integer_value(t);
	}
	for (size_t a = 1; a < n; a++) /* insertion sort: small */
		for (size_t b = a; b > 0 && out[b - 1] > out[b]; b--) {
			int64_t x = out[b];
			out[b] = out[b - 1], out[b - 1] = x;
		}
	k = 0;
	for (i = 0; i < n; i++)
		if (!k || out[k - 1] != out[i])
			out[k++] = out[i];
	return k;
}

/* ---- the agent ---- */

static void agent_conf(const char *path, const char *collectors, long collect, long push,
                       const char *extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
	         "# test config\nversion=1\nns=default\nmci=web\nvm=web-1\n"
	         "token=default/web.0123456789abcdef\ncollectors=%s\ncollect_interval_ms=%ld\n"
	         "push_interval_ms=%ld\nstate_dir=%s\n%s",
	         collectors, collect, push, path_of("state"), extra ? extra : "");
	write_file(path, text);
}

static pid_t agent_start(const char *conf)
{
	char *argv[] = {(char *)agent_bin, "-config", (char *)conf, NULL};
	return spawn(argv, path_of("agent.out"));
}

/* A metric's value on the agent's /metrics at port; NAN when absent. */
static double pulled(int port, const char *prom)
{
	char url[128], *b, *p;
	double v = -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	if (!(b = http_get(url, NULL)))
		return -1;
	for (p = b; (p = strstr(p, prom)); p++)
		if ((p == b || p[-1] == '\n') && (p[strlen(prom)] == '{' || p[strlen(prom)] == ' ')) {
			char *sp = strchr(p, '}');
			sp = sp ? sp + 1 : p + strlen(prom);
			v = strtod(sp, NULL);
			break;
		}
	free(b);
	return v;
}

/* ---- the cases ---- */

static int case_config(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"version=1\nfoo=bar\n", ":2: unknown key \"foo\""},
	    {"version=2\n", ":1: version must be 1"},
	    {"ns=a\n", ":1: no version=1 line"},
	    {"version=1\n# c\nnot a pair\n", ":3: expected key=value"},
	    {"version=1\ncollect_interval_ms=5\n", ":2: collect_interval_ms must be"},
	    {"version=1\ngroups=cpu,nosuch\n", ":2: unknown metric group \"nosuch\""},
	    {"version=1\ntoken=s3cr3t-token\ncollectors=ftp://x\n", ":3: collector \"ftp://x\""},
	    {"version=1\nns=a\nmci=b\nvm=c\ncollectors=http://127.0.0.1:1\n", "no token"},
	    {"version=1\ntoken=x\nns=a\ncollectors=http://127.0.0.1:1\n", "ns, mci or vm is missing"},
	    {"version=1\nlisten=nowhere\n", ":2: listen must be"},
	    {"version=1\nmemory_max_bytes=12\n", ":2: memory_max_bytes must be"},
	};
	char why[600], *out = NULL;
	bar_agent_config c;
	const char *conf = path_of("bad.conf");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = bar_agent_config_parse(&c, bad[i].text, strlen(bad[i].text), "a.conf", why,
		                                sizeof(why));
		CHECK(rc == -1);
		if (!strstr(why, bad[i].want) || strncmp(why, "a.conf:", 7)) {
			fprintf(stderr, "case %zu: got \"%s\", want \"%s\"\n", i, why, bad[i].want);
			failures++;
		}
		CHECK(!strstr(why, "s3cr3t"));
	}
	/* a good one, with the token kept and the groups read */
	const char *good = "version=1\nns=n\nmci=m\nvm=v\ntoken=t.1\n"
	                   "collectors=http://10.0.0.1:9000,http://[::1]:9000/\n"
	                   "groups=cpu,memory\nlisten=0.0.0.0:9101\nstate_dir=/tmp/x\n"
	                   "collect_interval_ms=1000\npush_interval_ms=5000\nspool_max_bytes=4096\n";
	CHECK(bar_agent_config_parse(&c, good, strlen(good), "g.conf", why, sizeof(why)) == 0);
	CHECK(c.ncollectors == 2 && !strcmp(c.collectors[1], "http://[::1]:9000"));
	CHECK(c.groups == 3 && c.collect_interval_ms == 1000 && c.push_interval_ms == 5000);
	CHECK(!strcmp(c.token, "t.1") && c.spool_max_bytes == 4096 &&
	      c.memory_max_bytes == 8u << 20);
	bar_agent_config_clear(&c);
	CHECK(c.token[0] == '\0');
	/* the binary: exit 2, FILE:LINE on stderr, never the token */
	write_file(conf, "version=1\ntoken=s3cr3t-token\ncollectors=http://127.0.0.1:1\nbogus=1\n");
	{
		char *argv[] = {(char *)agent_bin, "-config", (char *)conf, NULL};
		char want[700];
		CHECK(run(argv, &out) == 2);
		snprintf(want, sizeof(want), "%s:4: unknown key \"bogus\"", conf);
		CHECK(out && strstr(out, want));
		CHECK(out && !strstr(out, "s3cr3t"));
		free(out);
	}
	return 0;
}

static int case_version(void)
{
	char *argv[] = {(char *)agent_bin, "-version", NULL}, *out = NULL;
	CHECK(run(argv, &out) == 0);
	CHECK(out && !strcmp(out, "barista-agent " BAR_VERSION "\n"));
	free(out);
	return 0;
}

static int case_once_prom(void)
{
	char *argv[] = {(char *)agent_bin, "-once", "-config", path_of("a.conf"), NULL}, *out = NULL;
	char cmd[1400];
	int rc;
	if (access("/usr/bin/promtool", X_OK) != 0)
		return 77;
	agent_conf(path_of("a.conf"), "", 2000, 10000, NULL);
	CHECK(run(argv, &out) == 0);
	CHECK(out && strstr(out, "# TYPE barista_cpu_usage_percent gauge\n"));
	CHECK(out && strstr(out, "barista_memory_total_bytes{mci=\"web\",ns=\"default\",vm=\"web-1\"} "));
	write_file(path_of("once.prom"), out ? out : "");
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s >%s 2>&1",
	         path_of("once.prom"), path_of("promtool.out"));
	rc = system(cmd);
	if (rc != 0) {
		char *p = read_file(path_of("promtool.out"));
		fprintf(stderr, "promtool: %s\n", p ? p : "?");
		free(p);
	}
	CHECK(rc == 0);
	free(out);
	return 0;
}

/* The value of the first sample named name (optionally with label k=v) in
 * -once JSON; -1 when absent. */
static double json_value(json_t *doc, const char *name, const char *k, const char *v)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(doc, "samples"), i, s)
	{
		if (strcmp(json_string_value(json_object_get(s, "name")), name))
			continue;
		if (k && (!json_string_value(json_object_get(json_object_get(s, "labels"), k)) ||
		          strcmp(json_string_value(json_object_get(json_object_get(s, "labels"), k)), v)))
			continue;
		return json_number_value(json_object_get(s, "value"));
	}
	return -1;
}

static int case_once_json(int values)
{
	char *argv[] = {(char *)agent_bin, "-once", "-format", "json", "-config", path_of("a.conf"),
	                NULL},
	     *out = NULL;
	json_error_t err;
	json_t *doc, *s;
	size_t i, ncat;
	const bar_metric_info *cat = bar_metrics(&ncat);

	agent_conf(path_of("a.conf"), "", 2000, 10000, NULL);
	CHECK(run(argv, &out) == 0);
	doc = out ? json_loads(out, 0, &err) : NULL;
	if (!doc) {
		fprintf(stderr, "not JSON: %s: %s\n", err.text, out ? out : "(nothing)");
		failures++;
		free(out);
		return 0;
	}
	CHECK(json_integer_value(json_object_get(doc, "t_ms")) > wall_ms() - 10000);
	/* every name is the catalogue's, with its Prometheus name */
	json_array_foreach(json_object_get(doc, "samples"), i, s)
	{
		const bar_metric_info *m = bar_metric_find(json_string_value(json_object_get(s, "name")));
		CHECK(m && !strcmp(m->prom, json_string_value(json_object_get(s, "prom"))));
		CHECK(json_is_number(json_object_get(s, "value")));
		CHECK(!strcmp(json_string_value(json_object_get(json_object_get(s, "labels"), "vm")),
		              "web-1"));
	}
	/* and every metric of the catalogue is there (this VM has all sources),
	 * but the apps' (-once runs none; tests/test_apps.c checks those) */
	for (i = 0; i < ncat; i++)
		if (strncmp(cat[i].name, "app.", 4) != 0 && json_value(doc, cat[i].name, NULL, NULL) < 0) {
			fprintf(stderr, "-once json has no %s\n", cat[i].name);
			failures++;
		}
	if (values) {
		char *mi = read_file("/proc/meminfo"), *p = mi ? strstr(mi, "MemTotal:") : NULL;
		struct statvfs vf;
		double cpu = json_value(doc, "cpu.usage", NULL, NULL);
		CHECK(p && json_value(doc, "mem.total", NULL, NULL) == strtod(p + 9, NULL) * 1024);
		CHECK(json_value(doc, "cpu.count", NULL, NULL) == (double)sysconf(_SC_NPROCESSORS_ONLN));
		CHECK(statvfs("/", &vf) == 0);
		CHECK(json_value(doc, "fs.size", "mount", "/") == (double)vf.f_blocks * vf.f_frsize);
		CHECK(cpu >= 0 && cpu <= 100);
		CHECK(json_value(doc, "mem.usage", NULL, NULL) > 0 &&
		      json_value(doc, "mem.usage", NULL, NULL) < 100);
		CHECK(json_value(doc, "sys.uptime", NULL, NULL) > 0);
		CHECK(json_value(doc, "agent.info", "version", BAR_VERSION) == 1);
		free(mi);
	}
	json_decref(doc);
	free(out);
	return 0;
}

/* Count mem.total's points at v and check their labels. */
static size_t check_series(vm *v, int64_t *ts, size_t max)
{
	json_t *lines = vm_export(v, "barista_memory_total_bytes"), *l;
	size_t n = timestamps(ts, max, lines), i;
	json_array_foreach(lines, i, l)
	{
		json_t *m = json_object_get(l, "metric");
		CHECK(!strcmp(json_string_value(json_object_get(m, "ns")), "default"));
		CHECK(!strcmp(json_string_value(json_object_get(m, "mci")), "web"));
		CHECK(!strcmp(json_string_value(json_object_get(m, "vm")), "web-1"));
	}
	json_decref(lines);
	return n;
}

/* No gap: consecutive points step apart (within a quarter step). */
static int contiguous(const int64_t *ts, size_t n, int step)
{
	for (size_t i = 1; i < n; i++)
		if (ts[i] - ts[i - 1] > step + step / 4 || ts[i] - ts[i - 1] < step - step / 4) {
			fprintf(stderr, "gap between points %zu and %zu: %lld ms\n", i - 1, i,
			        (long long)(ts[i] - ts[i - 1]));
			return 0;
		}
	return 1;
}

static int case_push(void)
{
	vm v = {0};
	char coll[64];
	int64_t ts[1000];
	size_t n;
	pid_t a;
	int rc;
	json_t *lines, *l;
	size_t i, ncat;

	if ((rc = vm_start(&v, "vm", 0)))
		return rc;
	snprintf(coll, sizeof(coll), "http://127.0.0.1:%d", v.port);
	agent_conf(path_of("a.conf"), coll, 1000, 2000, NULL);
	a = agent_start(path_of("a.conf"));
	sleep_ms(7500);
	n = check_series(&v, ts, 1000);
	/* 7 or 8 collections; the last push (every 2 s) carries 6 or more */
	CHECK(n >= 5 && n <= 8);
	CHECK(contiguous(ts, n, 1000));
	/* every catalogue metric made it, each series with the full label set */
	lines = vm_export(&v, "{__name__=~\"barista_.*\"}");
	bar_metrics(&ncat);
	CHECK(json_array_size(lines) >= ncat);
	json_array_foreach(lines, i, l)
	{
		json_t *m = json_object_get(l, "metric");
		const char *name = json_string_value(json_object_get(m, "__name__"));
		CHECK(name && bar_metric_find_prom(name));
		CHECK(json_object_get(m, "ns") && json_object_get(m, "mci") && json_object_get(m, "vm"));
		CHECK(json_array_size(json_object_get(l, "values")) >= 4);
	}
	json_decref(lines);
	CHECK(stop(a, SIGTERM, 5000) == 0);
	vm_stop(&v);
	return 0;
}

static int case_outage(void)
{
	vm v = {0};
	char coll[64];
	int64_t ts[1000], t_start, t_kill, t_back;
	size_t n;
	pid_t a;
	int rc, lport = free_port();
	char extra[128];

	if ((rc = vm_start(&v, "vm", 0)))
		return rc;
	snprintf(coll, sizeof(coll), "http://127.0.0.1:%d", v.port);
	snprintf(extra, sizeof(extra), "groups=memory\nlisten=127.0.0.1:%d\n", lport);
	agent_conf(path_of("a.conf"), coll, 1000, 2000, extra);
	t_start = wall_ms();
	a = agent_start(path_of("a.conf"));
	sleep_ms(5000);
	t_kill = wall_ms();
	vm_stop(&v);
	fprintf(stderr, "collector stopped for 60 s\n");
	sleep_ms(60000);
	if ((rc = vm_start(&v, "vm", v.port)))
		return rc == 77 ? 1 : rc;
	t_back = wall_ms();
	sleep_ms(6000);
	n = check_series(&v, ts, 1000);
	fprintf(stderr, "%zu points from %lld to %lld ms after the start\n", n,
	        n ? (long long)(ts[0] - t_start) : 0, n ? (long long)(ts[n - 1] - t_start) : 0);
	CHECK(n > 0 && ts[0] < t_kill && ts[n - 1] > t_back);
	CHECK(contiguous(ts, n, 1000));
	/* every collection from the first to the last arrived */
	CHECK(n > 0 && (int64_t)n == (ts[n - 1] - ts[0] + 500) / 1000 + 1);
	CHECK(n >= 68);
	CHECK(pulled(lport, "barista_agent_dropped_samples") == 0);
	CHECK(stop(a, SIGTERM, 5000) == 0);
	vm_stop(&v);
	return 0;
}

static int case_failover(void)
{
	vm v[2] = {{0}, {0}};
	char coll[160], u0[64], u1[64];
	const char *urls[2] = {u0, u1};
	size_t order[2], n0, n1, n;
	int64_t ts0[1000], ts1[1000], all[2000], t_kill, moved = -1;
	pid_t a;
	int rc;

	if ((rc = vm_start(&v[0], "vm0", 0)) || (rc = vm_start(&v[1], "vm1", 0)))
		return rc;
	snprintf(u0, sizeof(u0), "http://127.0.0.1:%d", v[0].port);
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%d", v[1].port);
	snprintf(coll, sizeof(coll), "%s,%s", u0, u1);
	bar_assign_order(order, urls, 2, "default/web/web-1");
	agent_conf(path_of("a.conf"), coll, 1000, 2000, "groups=memory\n");
	a = agent_start(path_of("a.conf"));
	sleep_ms(5000);
	/* the preferred one has it all, the other nothing */
	CHECK(check_series(&v[order[0]], ts0, 1000) >= 3);
	CHECK(check_series(&v[order[1]], ts1, 1000) == 0);
	t_kill = wall_ms();
	vm_stop(&v[order[0]]);
	for (int i = 0; i < 30 && moved < 0; i++) {
		sleep_ms(1000);
		if (check_series(&v[order[1]], ts1, 1000) > 0)
			moved = wall_ms() - t_kill;
	}
	fprintf(stderr, "moved %lld ms after the kill\n", (long long)moved);
	CHECK(moved >= 0 && moved < 30000);
	sleep_ms(3000);
	CHECK(stop(a, SIGTERM, 5000) == 0);
	/* the union of both has every point, from before the kill on */
	if ((rc = vm_start(&v[order[0]], order[0] ? "vm1" : "vm0", v[order[0]].port)))
		return 1;
	n0 = check_series(&v[0], ts0, 1000);
	n1 = check_series(&v[1], ts1, 1000);
	memcpy(all, ts0, n0 * sizeof(*all));
	memcpy(all + n0, ts1, n1 * sizeof(*all));
	n = n0 + n1;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && all[j - 1] > all[j]; j--) {
			int64_t x = all[j];
			all[j] = all[j - 1], all[j - 1] = x;
		}
	fprintf(stderr, "%zu + %zu points\n", n0, n1);
	CHECK(n > 0 && all[0] < t_kill && all[n - 1] > t_kill + moved);
	CHECK(contiguous(all, n, 1000)); /* nothing lost, nothing twice */
	vm_stop(&v[0]);
	vm_stop(&v[1]);
	return 0;
}

static int count_segments(void)
{
	char cmd[700], *out;
	int n = 0;
	snprintf(cmd, sizeof(cmd), "ls %s/state/spool | grep -c '\\.seg$' > %s", tmp,
	         path_of("ls.out"));
	if (system(cmd) < 0)
		return -1;
	out = read_file(path_of("ls.out"));
	n = out ? atoi(out) : -1;
	free(out);
	return n;
}

static int case_spool(void)
{
	vm v = {0};
	char coll[64], extra[200];
	int port = free_port(), lport = free_port(), rc;
	int64_t ts[2000], t_start, t_up;
	double dropped, buffered = -1;
	size_t n;
	pid_t a;

	if (access("/usr/bin/victoria-metrics", X_OK) != 0)
		return 77;
	/* nothing listens on port yet: every push fails */
	snprintf(coll, sizeof(coll), "http://127.0.0.1:%d", port);
	snprintf(extra, sizeof(extra),
	         "groups=memory\nlisten=127.0.0.1:%d\nmemory_max_bytes=1024\nspool_max_bytes=4096\n",
	         lport);
	agent_conf(path_of("a.conf"), coll, 200, 400, extra);
	t_start = wall_ms();
	a = agent_start(path_of("a.conf"));
	sleep_ms(8000);
	dropped = pulled(lport, "barista_agent_dropped_samples");
	buffered = pulled(lport, "barista_agent_buffered_samples");
	fprintf(stderr, "dropped %g, buffered %g, %d segments\n", dropped, buffered,
	        count_segments());
	CHECK(dropped > 0);
	CHECK(buffered > 0);
	CHECK(count_segments() >= 1);
	if ((rc = vm_start(&v, "vm", port)))
		return rc;
	t_up = wall_ms();
	for (int i = 0; i < 40; i++) {
		sleep_ms(250);
		if (pulled(lport, "barista_agent_buffered_samples") < 60)
			break;
	}
	sleep_ms(1000);
	n = check_series(&v, ts, 2000);
	fprintf(stderr, "%zu points, from %lld ms after the start\n", n,
	        n ? (long long)(ts[0] - t_start) : 0);
	/* the oldest were given up, the newest kept, and what was kept is
	 * every point from the oldest kept on */
	CHECK(n > 0 && ts[0] > t_start + 1000);
	CHECK(n > 0 && ts[n - 1] > t_up - 1000);
	CHECK(contiguous(ts, n, 200));
	CHECK(pulled(lport, "barista_agent_dropped_samples") >= dropped);
	CHECK(stop(a, SIGTERM, 5000) == 0);
	vm_stop(&v);
	return 0;
}

static int case_restart(void)
{
	vm v = {0};
	char coll[64];
	int port = free_port(), rc;
	int64_t ts[1000], t_start, t_stop;
	size_t n, before = 0;
	pid_t a;

	if (access("/usr/bin/victoria-metrics", X_OK) != 0)
		return 77;
	snprintf(coll, sizeof(coll), "http://127.0.0.1:%d", port);
	agent_conf(path_of("a.conf"), coll, 500, 1000, "groups=memory\n");
	t_start = wall_ms();
	a = agent_start(path_of("a.conf"));
	sleep_ms(4000);
	t_stop = wall_ms();
	CHECK(stop(a, SIGTERM, 5000) == 0);
	CHECK(count_segments() >= 1);
	/* a torn record at the end of the last segment (a crash mid-write) is
	 * skipped at replay */
	{
		char cmd[900];
		snprintf(cmd, sizeof(cmd),
		         "f=$(ls %s/state/spool/*.seg | tail -1) && printf 'BAS1\\020\\000\\000' >> \"$f\"",
		         tmp);
		CHECK(system(cmd) == 0);
	}
	if ((rc = vm_start(&v, "vm", port)))
		return rc;
	a = agent_start(path_of("a.conf"));
	sleep_ms(3000);
	n = check_series(&v, ts, 1000);
	for (size_t i = 0; i < n; i++)
		before += ts[i] < t_stop;
	fprintf(stderr, "%zu points, %zu of the first run\n", n, before);
	/* the first run collected every 500 ms for 4 s: 8 or 9, all delivered */
	CHECK(before >= 8);
	CHECK(n > 0 && ts[0] < t_start + 600);
	CHECK(contiguous(ts, before, 500));
	CHECK(stop(a, SIGTERM, 5000) == 0);
	vm_stop(&v);
	return 0;
}

/* A collector that answers 404 (Prometheus without its remote-write
 * receiver): batches refused, counted as dropped, logged without the token. */
static int case_refused(void)
{
	int lport = free_port(), pport = free_port();
	char coll[64], extra[100], a1[700], a2[700], a3[100], *argv[8], *out;
	double dropped = 0;
	pid_t a, prom;

	if (access("/usr/bin/prometheus", X_OK) != 0)
		return 77;
	write_file(path_of("prometheus.yml"), "global:\n  scrape_interval: 1m\n");
	snprintf(a1, sizeof(a1), "--config.file=%s", path_of("prometheus.yml"));
	snprintf(a2, sizeof(a2), "--storage.tsdb.path=%s", path_of("prom"));
	snprintf(a3, sizeof(a3), "--web.listen-address=127.0.0.1:%d", pport);
	argv[0] = "/usr/bin/prometheus", argv[1] = a1, argv[2] = a2, argv[3] = a3,
	argv[4] = "--log.level=error", argv[5] = NULL;
	prom = spawn(argv, path_of("prom.log"));
	snprintf(coll, sizeof(coll), "http://127.0.0.1:%d/-/ready", pport);
	for (int i = 0; i < 100; i++) {
		long st = 0;
		free(http_get(coll, &st));
		if (st == 200)
			break;
		sleep_ms(100);
	}
	snprintf(coll, sizeof(coll), "http://127.0.0.1:%d", pport);
	snprintf(extra, sizeof(extra), "groups=memory\nlisten=127.0.0.1:%d\n", lport);
	agent_conf(path_of("a.conf"), coll, 500, 1000, extra);
	a = agent_start(path_of("a.conf"));
	for (int i = 0; i < 40 && dropped <= 0; i++) {
		sleep_ms(250);
		dropped = pulled(lport, "barista_agent_dropped_samples");
	}
	fprintf(stderr, "dropped %g\n", dropped);
	CHECK(dropped > 0);
	/* refused batches are not kept */
	CHECK(pulled(lport, "barista_agent_buffered_samples") < 40);
	CHECK(stop(a, SIGTERM, 5000) == 0);
	out = read_file(path_of("agent.out"));
	CHECK(out && strstr(out, "refused a batch") && strstr(out, "HTTP 404"));
	CHECK(out && !strstr(out, "0123456789abcdef"));
	free(out);
	stop(prom, SIGTERM, 10000);
	return 0;
}

static int case_pull(void)
{
	int lport = free_port(), pport = free_port();
	char extra[100], yml[400], url[300], *body = NULL, *argv[8], a1[700], a2[700], a3[100];
	pid_t a, prom;
	int up = 0, have = 0;

	if (access("/usr/bin/prometheus", X_OK) != 0)
		return 77;
	snprintf(extra, sizeof(extra), "listen=127.0.0.1:%d\n", lport);
	agent_conf(path_of("a.conf"), "", 1000, 2000, extra);
	a = agent_start(path_of("a.conf"));
	snprintf(yml, sizeof(yml),
	         "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
	         "  - job_name: agent\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
	         lport);
	write_file(path_of("prometheus.yml"), yml);
	snprintf(a1, sizeof(a1), "--config.file=%s", path_of("prometheus.yml"));
	snprintf(a2, sizeof(a2), "--storage.tsdb.path=%s", path_of("prom"));
	snprintf(a3, sizeof(a3), "--web.listen-address=127.0.0.1:%d", pport);
	argv[0] = "/usr/bin/prometheus", argv[1] = a1, argv[2] = a2, argv[3] = a3,
	argv[4] = "--log.level=error", argv[5] = NULL;
	prom = spawn(argv, path_of("prom.log"));
	for (int i = 0; i < 40 && !(up && have); i++) {
		json_t *j;
		sleep_ms(500);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=up%%7Bjob%%3D%%22agent%%22%%7D",
		         pport);
		if ((body = http_get(url, NULL)) && (j = json_loads(body, 0, NULL))) {
			json_t *r = json_array_get(json_object_get(json_object_get(j, "data"), "result"), 0);
			const char *val = json_string_value(json_array_get(json_object_get(r, "value"), 1));
			up = val && !strcmp(val, "1");
			json_decref(j);
		}
		free(body);
		snprintf(url, sizeof(url),
		         "http://127.0.0.1:%d/api/v1/query?query=barista_memory_total_bytes", pport);
		if ((body = http_get(url, NULL)) && (j = json_loads(body, 0, NULL))) {
			json_t *r = json_array_get(json_object_get(json_object_get(j, "data"), "result"), 0);
			json_t *m = json_object_get(r, "metric");
			have = m && json_object_get(m, "vm") &&
			       !strcmp(json_string_value(json_object_get(m, "vm")), "web-1");
			json_decref(j);
		}
		free(body);
	}
	CHECK(up);
	CHECK(have);
	/* /healthz, a 404, and garbage that gets no answer and harms nothing */
	{
		long st = 0;
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", lport);
		body = http_get(url, &st);
		CHECK(st == 200 && body && !strcmp(body, "ok\n"));
		free(body);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", lport);
		free(http_get(url, &st));
		CHECK(st == 404);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(lport),
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		char junk[4096];
		memset(junk, 'x', sizeof(junk));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			(void)!write(fd, junk, sizeof(junk));
		close(fd);
		CHECK(pulled(lport, "barista_cpus") > 0);
	}
	stop(prom, SIGTERM, 10000);
	CHECK(stop(a, SIGTERM, 5000) == 0);
	return 0;
}

static int case_daemon(void)
{
	char *argv[] = {(char *)agent_bin, "-daemon", "-config", path_of("a.conf"), NULL};
	char *pidtext = NULL;
	pid_t pid = 0;
	int i;

	agent_conf(path_of("a.conf"), "", 1000, 2000, NULL);
	CHECK(run(argv, NULL) == 0);
	for (i = 0; i < 50; i++) {
		free(pidtext);
		pidtext = read_file(path_of("state/agent.pid"));
		if (pidtext && *pidtext)
			break;
		sleep_ms(100);
	}
	CHECK(pidtext && *pidtext);
	if (pidtext)
		pid = (pid_t)atoi(pidtext);
	free(pidtext);
	CHECK(pid > 1 && kill(pid, 0) == 0);
	if (pid <= 1)
		return 0;
	/* SIGHUP re-reads the config; a broken one is refused and the old kept */
	write_file(path_of("a.conf"), "version=1\nbogus=1\n");
	kill(pid, SIGHUP);
	sleep_ms(300);
	agent_conf(path_of("a.conf"), "", 1000, 3000, NULL);
	kill(pid, SIGHUP);
	sleep_ms(300);
	CHECK(kill(pid, 0) == 0);
	{
		char *log = read_file(path_of("state/agent.log"));
		CHECK(log && strstr(log, ":2: unknown key \"bogus\"") && strstr(log, "keeping"));
		CHECK(log && strstr(log, "reloaded"));
		free(log);
	}
	kill(pid, SIGTERM);
	for (i = 0; i < 50 && access(path_of("state/agent.pid"), F_OK) == 0; i++)
		sleep_ms(100);
	CHECK(access(path_of("state/agent.pid"), F_OK) != 0);
	for (i = 0; i < 50 && kill(pid, 0) == 0; i++)
		sleep_ms(100);
	if (kill(pid, 0) == 0) { /* a zombie of a non-reaping init counts as gone */
		char st[64], *p;
		snprintf(st, sizeof(st), "/proc/%d/stat", (int)pid);
		int zombie;
		p = read_file(st);
		zombie = p && strstr(p, ") Z ") != NULL;
		free(p);
		CHECK(zombie);
		if (!zombie)
			kill(pid, SIGKILL);
	}
	char *log = read_file(path_of("state/agent.log"));
	CHECK(log && strstr(log, "started") && strstr(log, "stopped"));
	free(log);
	return 0;
}

static int case_json(void)
{
	return case_once_json(0);
}

static int case_values(void)
{
	return case_once_json(1);
}

/* The cases by the name ctest passes (tests/monitor_agent.cmake). */
static const struct {
	const char *name;
	int (*run)(void);
} cases[] = {
	{"config", case_config},     {"version", case_version},   {"once_prom", case_once_prom},
	{"once_json", case_json},    {"values", case_values},     {"push", case_push},
	{"outage", case_outage},     {"failover", case_failover}, {"spool", case_spool},
	{"restart", case_restart},   {"pull", case_pull},         {"refused", case_refused},
	{"daemon", case_daemon},     {NULL, NULL},
};

int main(int argc, char **argv)
{
	const char *c;
	int rc = 2;
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: test_agent CASE AGENT\n");
		return 2;
	}
	c = argv[1];
	agent_bin = argv[2];
	if (!mkdtemp(tmp))
		return perror("mkdtemp"), 1;
	made = 1;
	signal(SIGALRM, on_alarm);
	alarm(!strcmp(c, "outage") ? 150 : 60);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; cases[i].name && strcmp(cases[i].name, c); i++)
		;
	if (cases[i].name)
		rc = cases[i].run();
	else
		fprintf(stderr, "test_agent: unknown case %s\n", c);
	cleanup();
	curl_global_cleanup();
	if (rc)
		return rc;
	if (failures)
		fprintf(stderr, "test_agent %s: %d checks failed\n", c, failures);
	return failures ? 1 : 0;
}
