/*
 * collector_ingest.c - a collector against Debian's victoria-metrics and
 * influxdb on the same generated series (bench/agent_data.h: by default
 * 1,000 VMs x 20 metrics x 500 samples = 10 M points), side by side in one
 * run (issue 8):
 *
 *   - the very same remote-write bodies (one per 10 VMs, an MCI, and 50
 *     samples of each series) POSTed to `barista collector` (with the MCI's
 *     token) and to VictoriaMetrics' /api/v1/write; the same points as line
 *     protocol POSTed to InfluxDB's /write (precision ms), each by the same
 *     two sender threads over keep-alive connections;
 *   - then the same range queries: the average of a metric by MCI over the
 *     whole range at a 60 s step (PromQL `avg by (mci) (...)` on the
 *     collector and VictoriaMetrics, `mean(value) ... GROUP BY time(60s),
 *     mci` on InfluxDB), the median of 5;
 *   - then each is stopped (each flushes what it holds) and its data
 *     directory measured.
 *
 * The collector and VictoriaMetrics run as separate processes here, like
 * InfluxDB; a figure is what the clients saw, encoding excluded (bodies
 * are made before the clock starts).  The last line:
 *   ingest_pts_s=… vm_pts_s=… influx_pts_s=… ratio_vm=… ratio_influx=…
 *   bytes_per_point=… vm_bytes_per_point=… influx_bytes_per_point=…
 *   query_ms=… vm_query_ms=… influx_query_ms=…
 * Targets: ratio_vm >= 0.5, ratio_influx >= 2, bytes_per_point <= 2.
 * Options: -vms N -samples N -senders N -jitter MS (samples off the tick,
 * bench/agent_data.h) -skip-influx -skip-vm.
 */
#include "agent_data.h"
#include "bench_util.h"
#include "collector.h"
#include "wire.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "collector-ingest-benchmark-secret"
#define BATCH_VMS 10
#define BATCH_SAMPLES 50

typedef struct body {
	char *p;
	size_t len;
	char auth[256];
	size_t points;
} body;

typedef struct target {
	const char *name;
	char url[256];
	const char *type;          /* Content-Type */
	int rw;                    /* remote-write headers */
	body *bodies;
	size_t nbodies;
	atomic_size_t next;
	atomic_int failed;
	char why[512];
} target;

static pid_t children[8];
static int nchildren;

static void kill_children(void)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
}

/* Start argv with output to log; the pid. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0 && nchildren < 8)
		children[nchildren++] = pid;
	return pid;
}

static void stop_child(pid_t pid, int sig)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, sig);
	for (int i = 0; i < 600; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			goto gone;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
gone:
	for (int i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	bar_mbuf *b = ud;

	if (b)
		bar_mbuf_add(b, p, size * n);
	return size * n;
}

/* GET (or POST body) url; the status, the answer into out (may be NULL). */
static long request(CURL *h, const char *url, const char *post, size_t len,
                    struct curl_slist *hdr, bar_mbuf *out)
{
	long status = 0;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (post) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	if (curl_easy_perform(h) != CURLE_OK)
		return 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static long get(const char *url, bar_mbuf *out)
{
	CURL *h = curl_easy_init();
	long s = request(h, url, NULL, 0, NULL, out);

	curl_easy_cleanup(h);
	return s;
}

static int wait_up(const char *url, pid_t pid, double seconds)
{
	double end = bench_now() + seconds;
	int st;

	while (bench_now() < end) {
		long s = get(url, NULL);
		if (s >= 200 && s < 300)
			return 0;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(100000);
	}
	return -1;
}

static void *sender(void *arg)
{
	target *t = arg;
	CURL *h = curl_easy_init();
	size_t i;

	while (!atomic_load(&t->failed) && (i = atomic_fetch_add(&t->next, 1)) < t->nbodies) {
		struct curl_slist *hdr = NULL;
		bar_mbuf ans = {.max = 4096};
		char ct[128];
		long s;

		snprintf(ct, sizeof(ct), "Content-Type: %s", t->type);
		hdr = curl_slist_append(hdr, ct);
		if (t->rw) {
			hdr = curl_slist_append(hdr, "Content-Encoding: snappy");
			hdr = curl_slist_append(hdr, "X-Prometheus-Remote-Write-Version: 0.1.0");
		}
		if (t->bodies[i].auth[0])
			hdr = curl_slist_append(hdr, t->bodies[i].auth);
		s = request(h, t->url, t->bodies[i].p, t->bodies[i].len, hdr, &ans);
		curl_slist_free_all(hdr);
		if (s < 200 || s >= 300) {
			if (!atomic_exchange(&t->failed, 1))
				snprintf(t->why, sizeof(t->why), "%s: request %zu answered %ld: %.300s",
				         t->name, i, s, ans.p ? ans.p : "");
		}
		bar_mbuf_free(&ans);
	}
	curl_easy_cleanup(h);
	return NULL;
}

/* Points per second into t, with `senders` threads; -1 on a failure. */
static double send_all(target *t, int senders, size_t points)
{
	pthread_t th[16];
	double t0 = bench_now(), s;

	atomic_store(&t->next, 0);
	for (int i = 0; i < senders; i++)
		pthread_create(&th[i], NULL, sender, t);
	for (int i = 0; i < senders; i++)
		pthread_join(th[i], NULL);
	s = bench_now() - t0;
	if (atomic_load(&t->failed)) {
		fprintf(stderr, "collector_ingest: %s\n", t->why);
		return -1;
	}
	fprintf(stderr, "collector_ingest: %s took %zu points in %.2f s\n", t->name, points, s);
	return (double)points / s;
}

/* Median of 5 runs of GET url, in ms; -1 when it fails or has no answer. */
static double query_ms(const char *name, const char *url, const char *must)
{
	double t[5];

	for (int i = 0; i < 5; i++) {
		bar_mbuf ans = {.max = (size_t)64 << 20};
		double t0 = bench_now();
		long s = get(url, &ans);

		t[i] = (bench_now() - t0) * 1000;
		if (s != 200 || !ans.p || !strstr(ans.p, must)) {
			fprintf(stderr, "collector_ingest: %s query answered %ld: %.300s\n", name, s,
			        ans.p ? ans.p : "");
			bar_mbuf_free(&ans);
			return -1;
		}
		bar_mbuf_free(&ans);
	}
	for (int i = 1; i < 5; i++)
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			double x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[2];
}

static unsigned long long du(const char *path)
{
	struct stat st;
	unsigned long long n = 0;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (unsigned long long)st.st_blocks * 512 : 0;
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		char sub[4096];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		n += du(sub);
	}
	closedir(d);
	return n;
}

static int free_port(void)
{
	static int next;

	if (!next)
		next = 20000 + (int)(getpid() % 20000);
	return next++;
}

/* The bodies: per 50-sample window, per MCI (10 VMs), one request. */
static int make_bodies(body **out, size_t *n, const bench_agent_data *d, int influx)
{
	size_t windows = (size_t)(d->samples + BATCH_SAMPLES - 1) / BATCH_SAMPLES;
	size_t mcis = (size_t)(d->vms + BATCH_VMS - 1) / BATCH_VMS, k = 0;
	body *b = calloc(windows * mcis, sizeof(*b));
	bar_mseries view[BATCH_VMS * BENCH_AGENT_METRICS];

	if (!b)
		return -1;
	for (size_t w = 0; w < windows; w++)
		for (size_t m = 0; m < mcis; m++, k++) {
			int from = (int)(w * BATCH_SAMPLES), count = BATCH_SAMPLES;
			size_t first = m * BATCH_VMS * BENCH_AGENT_METRICS;
			size_t ns = BATCH_VMS * BENCH_AGENT_METRICS;
			bar_mbuf buf = {.max = (size_t)256 << 20};
			char tok[200];

			if (from + count > d->samples)
				count = d->samples - from;
			if (first + ns > d->nseries)
				ns = d->nseries - first;
			bench_agent_data_slice(view, d, first, ns, from, count);
			if (!influx) {
				if (bar_rw_encode(&buf, view, ns) < 0)
					return -1;
				bar_monitor_token(tok, sizeof(tok), (const unsigned char *)SECRET,
				                  strlen(SECRET), "bench",
				                  bench_agent_data_mci(d, (int)(m * BATCH_VMS)));
				snprintf(b[k].auth, sizeof(b[k].auth), "Authorization: Bearer %s", tok);
			} else {
				for (size_t s = 0; s < ns; s++) {
					const bar_mseries *x = &view[s];
					char key[512];
					int kl = snprintf(key, sizeof(key), "%s", x->labels[0].value);

					for (size_t l = 1; l < x->nlabels; l++) /* tags: sorted already */
						kl += snprintf(key + kl, sizeof(key) - (size_t)kl, ",%s=%s",
						               x->labels[l].name, x->labels[l].value);
					for (size_t i = 0; i < x->nsamples; i++)
						bar_mbuf_printf(&buf, "%s value=%.17g %lld\n", key, x->samples[i].v,
						                (long long)x->samples[i].t_ms);
				}
				if (buf.failed)
					return -1;
			}
			b[k].p = buf.p;
			b[k].len = buf.len;
			b[k].points = ns * (size_t)count;
		}
	*out = b;
	*n = k;
	return 0;
}

/* base_url + "/query?db=bench&epoch=ms&q=" + escaped query, malloc'd. */
static char *influx_query_url(const char *base_url, const char *q)
{
	size_t n = strlen(base_url) + strlen(q) + 64;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/query?db=bench&epoch=ms&q=%s", base_url, q);
	return s;
}

static void free_bodies(body *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b[i].p);
	free(b);
}

int main(int argc, char **argv)
{
	int vms = 1000, samples = 500, senders = 2, skip_influx = 0, skip_vm = 0, jitter = 0;
	const char *tmp = bench_tmpdir();
	bench_agent_data d;
	body *rw = NULL, *lp = NULL;
	size_t nrw = 0, nlp = 0;
	double ingest = 0, vm_rate = 0, influx_rate = 0, q = -1, vq = -1, iq = -1;
	double bpp = 0, vbpp = 0, ibpp = 0;
	int64_t base;
	char url[512], q_prom[512];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-vms") && i + 1 < argc)
			vms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-samples") && i + 1 < argc)
			samples = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-senders") && i + 1 < argc)
			senders = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-jitter") && i + 1 < argc)
			jitter = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-skip-influx"))
			skip_influx = 1;
		else if (!strcmp(argv[i], "-skip-vm"))
			skip_vm = 1;
		else {
			fprintf(stderr, "usage: collector_ingest [-vms N] [-samples N] [-senders N] "
			        "[-jitter MS] [-skip-vm] [-skip-influx]\n");
			return 2;
		}
	}
	if (vms < BATCH_VMS || samples < 10 || senders < 1 || senders > 16)
		return fprintf(stderr, "collector_ingest: -vms >= 10, -samples >= 10, -senders 1-16\n"), 2;
	atexit(kill_children);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* recent data (inside every retention): the last sample a minute ago */
	base = ((int64_t)time(NULL) - 60 - 2LL * samples) * 1000;
	if (bench_agent_data_make(&d, vms, samples, base, BATCH_VMS, jitter, 0) < 0 ||
	    make_bodies(&rw, &nrw, &d, 0) < 0 || (!skip_influx && make_bodies(&lp, &nlp, &d, 1) < 0)) {
		fprintf(stderr, "collector_ingest: out of memory\n");
		return 1;
	}
	{
		size_t bytes = 0;
		for (size_t i = 0; i < nrw; i++)
			bytes += rw[i].len;
		fprintf(stderr, "collector_ingest: %zu points, %zu remote-write bodies, %.1f MB\n",
		        d.points, nrw, bytes / 1e6);
	}
	snprintf(q_prom, sizeof(q_prom),
	         "query=avg%%20by%%20(mci)%%20(barista_cpu_usage_percent)&start=%lld&end=%lld&step=60",
	         (long long)(base / 1000), (long long)(base / 1000 + 2LL * samples));

	/* ---- the collector ---- */
	{
		char listen[64], data[600], log[600], health[128];
		int port = free_port();
		char *av[] = {(char *)bench_barista_path(), "collector", "-listen", listen, "-data", data,
		              "-secret-env", "BENCH_SECRET", NULL};
		target t = {.name = "collector", .type = "application/x-protobuf", .rw = 1,
		            .bodies = rw, .nbodies = nrw};
		pid_t pid;

		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
		snprintf(data, sizeof(data), "%s/collector/store.db", tmp);
		snprintf(log, sizeof(log), "%s/collector.log", tmp);
		snprintf(health, sizeof(health), "http://%s/healthz", listen);
		snprintf(log, sizeof(log), "%s/collector", tmp);
		mkdir(log, 0755);
		snprintf(log, sizeof(log), "%s/collector.log", tmp);
		setenv("BENCH_SECRET", SECRET, 1);
		pid = spawn(av, log);
		if (wait_up(health, pid, 30) < 0) {
			fprintf(stderr, "collector_ingest: the collector did not start (%s)\n", log);
			return 1;
		}
		snprintf(t.url, sizeof(t.url), "http://%s/api/v1/write", listen);
		if ((ingest = send_all(&t, senders, d.points)) < 0)
			return 1;
		snprintf(url, sizeof(url), "http://%s/api/v1/query_range?%s", listen, q_prom);
		q = query_ms("collector", url, "\"mci\":\"mci-1\"");
		stop_child(pid, SIGTERM);
		snprintf(data, sizeof(data), "%s/collector", tmp);
		bpp = (double)du(data) / (double)d.points;
		{ /* where the bytes are */
			DIR *dh = opendir(data);
			struct dirent *e;
			while (dh && (e = readdir(dh))) {
				char sub[1200];
				if (e->d_name[0] == '.')
					continue;
				snprintf(sub, sizeof(sub), "%s/%s", data, e->d_name);
				fprintf(stderr, "collector_ingest: collector %s: %.3f bytes per point\n",
				        e->d_name, (double)du(sub) / (double)d.points);
			}
			if (dh)
				closedir(dh);
		}
	}
	/* ---- VictoriaMetrics ---- */
	if (!skip_vm) {
		char listen[80], data[600], log[600], health[128], ret[] = "-retentionPeriod=1y";
		int port = free_port();
		char *av[] = {"/usr/bin/victoria-metrics", listen, data, ret, "-loggerLevel=ERROR", NULL};
		target t = {.name = "victoria-metrics", .type = "application/x-protobuf", .rw = 1,
		            .bodies = rw, .nbodies = nrw};
		pid_t pid;

		for (size_t i = 0; i < nrw; i++)
			rw[i].auth[0] = '\0';
		snprintf(listen, sizeof(listen), "-httpListenAddr=127.0.0.1:%d", port);
		snprintf(data, sizeof(data), "-storageDataPath=%s/vm", tmp);
		snprintf(log, sizeof(log), "%s/vm.log", tmp);
		snprintf(health, sizeof(health), "http://127.0.0.1:%d/health", port);
		pid = spawn(av, log);
		if (wait_up(health, pid, 30) < 0) {
			fprintf(stderr, "collector_ingest: victoria-metrics did not start (%s)\n", log);
			return 1;
		}
		snprintf(t.url, sizeof(t.url), "http://127.0.0.1:%d/api/v1/write", port);
		if ((vm_rate = send_all(&t, senders, d.points)) < 0)
			return 1;
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/internal/force_flush", port);
		get(url, NULL);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query_range?%s", port, q_prom);
		vq = query_ms("victoria-metrics", url, "\"mci\":\"mci-1\"");
		stop_child(pid, SIGINT);
		snprintf(data, sizeof(data), "%s/vm", tmp);
		vbpp = (double)du(data) / (double)d.points;
	}
	/* ---- InfluxDB 1.x ---- */
	if (!skip_influx) {
		char conf[600], log[600], health[128], base_url[64], cfg[] = "-config";
		int port = free_port(), bport = free_port();
		char *av[] = {"/usr/bin/influxd", "run", cfg, conf, NULL};
		target t = {.name = "influxdb", .type = "text/plain", .rw = 0, .bodies = lp,
		            .nbodies = nlp};
		FILE *f;
		pid_t pid;
		char *qs;
		CURL *h = curl_easy_init();

		snprintf(conf, sizeof(conf), "%s/influxdb.conf", tmp);
		snprintf(log, sizeof(log), "%s/influxdb.log", tmp);
		if (!(f = fopen(conf, "w")))
			return 1;
		fprintf(f, "reporting-disabled = true\nbind-address = \"127.0.0.1:%d\"\n"
		        "[meta]\n  dir = \"%s/influx/meta\"\n"
		        "[data]\n  dir = \"%s/influx/data\"\n  wal-dir = \"%s/influx/wal\"\n"
		        "  query-log-enabled = false\n"
		        "[http]\n  bind-address = \"127.0.0.1:%d\"\n  log-enabled = false\n"
		        "  max-body-size = 0\n[monitor]\n  store-enabled = false\n"
		        "[continuous_queries]\n  enabled = false\n",
		        bport, tmp, tmp, tmp, port);
		fclose(f);
		snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", port);
		snprintf(health, sizeof(health), "%s/ping", base_url);
		pid = spawn(av, log);
		if (wait_up(health, pid, 60) < 0) {
			fprintf(stderr, "collector_ingest: influxd did not start (%s)\n", log);
			return 1;
		}
		snprintf(url, sizeof(url), "%s/query?q=CREATE%%20DATABASE%%20bench", base_url);
		request(h, url, "", 0, NULL, NULL);
		snprintf(t.url, sizeof(t.url), "%s/write?db=bench&precision=ms", base_url);
		if ((influx_rate = send_all(&t, senders, d.points)) < 0)
			return 1;
		{
			char text[300], *sq;

			/* the same range as the others: from the first sample on */
			snprintf(text, sizeof(text), "SELECT mean(value) FROM barista_cpu_usage_percent "
			         "WHERE time >= %lldms AND time <= %lldms GROUP BY time(60s), mci",
			         (long long)base, (long long)base + 2000LL * samples);
			qs = curl_easy_escape(h, text, 0);
			sq = influx_query_url(base_url, qs);
			iq = query_ms("influxdb", sq, "mci-1");
			free(sq);
		}
		curl_free(qs);
		curl_easy_cleanup(h);
		stop_child(pid, SIGTERM);
		snprintf(conf, sizeof(conf), "%s/influx", tmp);
		ibpp = (double)du(conf) / (double)d.points;
	}
	fprintf(stderr, "collector_ingest: stores: collector %.3f, victoria-metrics %.3f, "
	        "influxdb %.3f bytes per point\n", bpp, vbpp, ibpp);
	printf("ingest_pts_s=%.0f vm_pts_s=%.0f influx_pts_s=%.0f ratio_vm=%.2f ratio_influx=%.2f "
	       "bytes_per_point=%.3f vm_bytes_per_point=%.3f influx_bytes_per_point=%.3f "
	       "query_ms=%.1f vm_query_ms=%.1f influx_query_ms=%.1f\n",
	       ingest, vm_rate, influx_rate, vm_rate > 0 ? ingest / vm_rate : 0,
	       influx_rate > 0 ? ingest / influx_rate : 0, bpp, vbpp, ibpp, q, vq, iq);
	free_bodies(rw, nrw);
	free_bodies(lp, nlp);
	bench_agent_data_free(&d);
	curl_global_cleanup();
	return 0;
}
