/*
 * driver_refresh.c - a refresh of 1,000 VMs on each cloud driver's API
 * double (issue 7): how many API calls it takes and how long, against the
 * fewest list pages the API allows and the double's own serving time.
 *
 * For each tests/doubles/<cloud>/bench.json (what it takes to run that
 * driver against its double: the double's command, the driver config, the
 * region, the credential file, the API's largest page), it starts the
 * double with 1,000 running VMs seeded in the region, loads the plugin
 * through the conformance suite's test host, opens a session (a token
 * fetch is not part of a refresh), and times list("vm") five times.  The
 * figures are those of the median run: the requests the driver recorded in
 * the call log and the double counted, and the wall time against the
 * double's summed serving time of the same run (GET /_double/stats).
 *
 *   build/bench/driver_refresh [-vms N] [-only CLOUD]
 * Last line: <cloud>_calls=… <cloud>_min_calls=… <cloud>_s=…
 * <cloud>_serve_s=… <cloud>_ratio=… for each; targets: calls = min_calls,
 * ratio ≤ 2.
 */
#include "host.h" /* tests/conformance/host.h: the test host */

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* s with every `from` replaced by `to` (malloc'd). */
static char *replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *out, *o;

	for (const char *p = s; (p = strstr(p, from)); p += fl)
		n++;
	out = o = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
	while (*s) {
		if (!strncmp(s, from, fl)) {
			memcpy(o, to, tl);
			o += tl;
			s += fl;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static size_t on_body(char *d, size_t sz, size_t n, void *ud)
{
	FILE *f = ud;

	return fwrite(d, sz, n, f);
}

/* GET or POST a path of the double; the answer body parsed (GET). */
static json_t *double_call(int port, const char *method, const char *path)
{
	char url[256], *body = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&body, &len);
	CURL *c = curl_easy_init();
	json_t *j = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
	if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	if (curl_easy_perform(c) == CURLE_OK) {
		fclose(mem);
		mem = NULL;
		j = json_loadb(body, len, 0, NULL);
	}
	if (mem)
		fclose(mem);
	curl_easy_cleanup(c);
	free(body);
	return j;
}

typedef struct run {
	double s, serve_s, http_s;
	long calls, requests;
	size_t listed;
} run;

static int by_time(const void *a, const void *b)
{
	const run *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

/* One driver; prints its figures into out (appended). Returns 0 or -1. */
static int bench_driver(const char *src, const char *cloud, int vms, char *out, size_t size)
{
	char *file = NULL, *tmp = NULL, *portfile = NULL, *plugin = NULL;
	char *errmsg = NULL, *config = NULL, port_s[64];
	json_t *b = NULL, *creds = NULL;
	const char **pairs = NULL, *region;
	ch_plugin pl = {0};
	void *session = NULL;
	run runs[RUNS];
	pid_t pid = -1;
	int port = 0, rc = -1, page;
	json_int_t seqs;
	size_t i, np = 0;
	json_t *a;

	if (asprintf(&file, "%s/tests/doubles/%s/bench.json", src, cloud) < 0 ||
	    !(b = json_load_file(file, 0, NULL))) {
		fprintf(stderr, "driver_refresh: %s: cannot read %s\n", cloud, file);
		goto done;
	}
	region = json_string_value(json_object_get(b, "region"));
	page = (int)json_integer_value(json_object_get(b, "maxPageSize"));
	/* list sequences one refresh of VMs needs on this API (ARM's VM list
	 * has no addresses: VMs, NICs and public IPs), 1 unless bench.json
	 * says otherwise */
	seqs = json_integer_value(json_object_get(b, "listSequences"));
	if (seqs < 1)
		seqs = 1;
	tmp = strdup("/tmp/barista-refresh-XXXXXX");
	if (!mkdtemp(tmp) || asprintf(&portfile, "%s/port", tmp) < 0)
		goto done;
	pid = fork();
	if (pid == 0) {
		const json_t *argv_j = json_object_get(b, "double");
		char **argv = calloc(json_array_size(argv_j) + 12, sizeof(*argv)), n_s[16];
		size_t k = 0;

		json_array_foreach(argv_j, i, a) {
			argv[k++] = replace(json_string_value(a), "@SRC@", src);
		}
		/* the doubles run on Debian's python, where the published models
		 * (python3-botocore, python3-nova ...) are installed */
		if (k && !strcmp(argv[0], "python3"))
			argv[0] = "/usr/bin/python3";
		snprintf(n_s, sizeof(n_s), "%d", vms);
		argv[k++] = "--port-file";
		argv[k++] = portfile;
		argv[k++] = "--seed-vms";
		argv[k++] = n_s;
		argv[k++] = "--region";
		argv[k++] = (char *)region;
		argv[k] = NULL;
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int t = 0; t < 600 && !port; t++) { /* up to 60 s */
		FILE *f = fopen(portfile, "r");

		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (!port) {
			int st;

			if (waitpid(pid, &st, WNOHANG) == pid) {
				fprintf(stderr, "driver_refresh: %s: the double exited (%d)\n", cloud,
				        WIFEXITED(st) ? WEXITSTATUS(st) : -1);
				pid = -1;
				goto done;
			}
			usleep(100000);
		}
	}
	if (!port)
		goto done;
	snprintf(port_s, sizeof(port_s), "http://127.0.0.1:%d", port);
	config = json_dumps(json_object_get(b, "config"), JSON_COMPACT | JSON_SORT_KEYS);
	{
		char *c2 = replace(config, "@ENDPOINT@", port_s);

		free(config);
		config = c2;
	}
	{
		char *cf = replace(json_string_value(json_object_get(b, "credentials")), "@SRC@", src);
		const char *k;
		json_t *v;

		creds = json_load_file(cf, 0, NULL);
		free(cf);
		pairs = calloc(2 * json_object_size(creds) + 1, sizeof(*pairs));
		json_object_foreach(creds, k, v) {
			pairs[np++] = k;
			pairs[np++] = json_string_value(v);
		}
		ch_credentials_set(pairs);
	}
	if (asprintf(&plugin, "%s/barista-provider-%s.so", BAR_PLUGIN_BUILD_DIR, cloud) < 0 ||
	    ch_plugin_open(&pl, plugin, &errmsg) < 0 || ch_plugin_init(&pl, NULL, &errmsg) < 0) {
		fprintf(stderr, "driver_refresh: %s: %s\n", cloud, errmsg ? errmsg : "no plugin");
		goto done;
	}
	if (BAR_HAS(pl.p, open)) {
		ch_call c;

		ch_call_init(&c, "open", "bench", region, config, NULL);
		if (pl.p->open(pl.p, &c.call, &session) != BAR_OK) {
			fprintf(stderr, "driver_refresh: %s: open: %s: %s\n", cloud, c.code, c.msg);
			ch_call_clear(&c);
			goto done;
		}
		ch_call_clear(&c);
	}
	/* run 0 warms the session up (a driver may fetch and cache something
	 * once per session: an endpoint catalogue, a zone list); runs 1.. count */
	for (int r = -1; r < RUNS; r++) {
		bar_sink sink = {0};
		ch_call c;
		long before = ch_calls_recorded(), before_ms = ch_calls_ms();
		json_t *stats;
		double t0;
		int prc;

		json_decref(double_call(port, "POST", "/_double/reset-stats"));
		ch_call_init(&c, "list", "bench", region, config, session);
		sink.op = "list";
		t0 = now_s();
		prc = pl.p->list(pl.p, &c.call, "vm", &sink);
		if (r < 0) {
			ch_sink_clear(&sink);
			ch_call_clear(&c);
			if (prc != BAR_OK)
				goto done;
			continue;
		}
		runs[r].s = now_s() - t0;
		runs[r].calls = ch_calls_recorded() - before;
		runs[r].http_s = (double)(ch_calls_ms() - before_ms) / 1000.0;
		runs[r].listed = sink.n;
		stats = double_call(port, "GET", "/_double/stats");
		runs[r].serve_s = json_number_value(json_object_get(stats, "serve_s"));
		runs[r].requests = (long)json_integer_value(json_object_get(stats, "requests"));
		json_decref(stats);
		if (prc != BAR_OK || sink.n != (size_t)vms)
			fprintf(stderr, "driver_refresh: %s: list gave %d with %zu VMs (%s: %s)\n", cloud,
			        prc, sink.n, c.code, c.msg);
		ch_sink_clear(&sink);
		ch_call_clear(&c);
		if (prc != BAR_OK)
			goto done;
	}
	qsort(runs, RUNS, sizeof(*runs), by_time);
	{
		const run *m = &runs[RUNS / 2];
		long min_calls = page > 0 ? (long)seqs * ((vms + page - 1) / page) : -1;

		snprintf(out + strlen(out), size - strlen(out),
		         "%s%s_calls=%ld %s_min_calls=%ld %s_requests=%ld %s_s=%.4f %s_serve_s=%.4f "
		         "%s_ratio=%.2f", out[0] ? " " : "", cloud, m->calls, cloud, min_calls, cloud,
		         m->requests, cloud, m->s, cloud, m->serve_s, cloud,
		         m->serve_s > 0 ? m->s / m->serve_s : 0);
		fprintf(stderr, "# %s: %zu VMs in %ld calls (fewest pages %ld), %.1f ms (%.1f ms of "
		        "them waiting for answers); the double served %ld requests in %.1f ms\n",
		        cloud, m->listed, m->calls, min_calls, m->s * 1000, m->http_s * 1000,
		        m->requests, m->serve_s * 1000);
	}
	rc = 0;
done:
	if (pl.p && BAR_HAS(pl.p, close) && session)
		pl.p->close(pl.p, session);
	ch_plugin_close(&pl);
	if (pid > 0) {
		kill(-pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	if (tmp) {
		char *cmd;

		if (asprintf(&cmd, "rm -rf '%s'", tmp) >= 0) {
			if (system(cmd) != 0)
				fprintf(stderr, "driver_refresh: could not remove %s\n", tmp);
			free(cmd);
		}
	}
	ch_credentials_set(NULL);
	free(pairs);
	json_decref(creds);
	json_decref(b);
	free(errmsg);
	free(plugin);
	free(config);
	free(portfile);
	free(tmp);
	free(file);
	return rc;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	char out[4096] = "";
	int vms = 1000, failed = 0;
	DIR *d;
	struct dirent *e;
	char *dir;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-vms") && i + 1 < argc)
			vms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: driver_refresh [-vms N] [-only CLOUD]\n");
			return 2;
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* the test host's transcript (kept for the conformance suite's secret
	 * scan) is not part of a refresh */
	ch_transcript_limit(0);
	if (asprintf(&dir, "%s/tests/doubles", BAR_SOURCE_DIR) < 0 || !(d = opendir(dir)))
		return fprintf(stderr, "driver_refresh: no tests/doubles\n"), 1;
	{
		char *names[16];
		size_t n = 0;

		while ((e = readdir(d)) && n < 16) {
			char *bj;
			struct stat st;

			if (e->d_name[0] == '.' || (only && strcmp(only, e->d_name)))
				continue;
			if (asprintf(&bj, "%s/%s/bench.json", dir, e->d_name) < 0)
				continue;
			if (stat(bj, &st) == 0)
				names[n++] = strdup(e->d_name);
			free(bj);
		}
		closedir(d);
		/* a fixed order */
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
				char *t = names[j];

				names[j] = names[j - 1];
				names[j - 1] = t;
			}
		for (size_t i = 0; i < n; i++) {
			failed |= bench_driver(BAR_SOURCE_DIR, names[i], vms, out, sizeof(out)) < 0;
			free(names[i]);
		}
		if (!n)
			fprintf(stderr, "driver_refresh: no driver has a bench.json yet\n");
	}
	free(dir);
	curl_global_cleanup();
	printf("%s\n", out);
	return failed;
}
