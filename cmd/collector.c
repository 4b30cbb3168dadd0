/*
 * collector.c - `barista collector`: run a collector in the foreground
 * (monitor/collector.h) until SIGINT or SIGTERM, logging to stderr; and
 * `barista collector -gen-secret FILE` to make the shared secret.
 */
#include "cmd.h"
#include "collector.h"
#include "credential.h"
#include "error.h"
#include "spec.h" /* bar_spec_duration */

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "Usage: barista collector [options]\n"
    "Run a collector: agents push to it (remote-write with their MCI's token), it\n"
    "stores samples in three tiers, answers queries (Barista's and Prometheus'),\n"
    "evaluates the alarms apply gives it and notifies the receivers, and forwards\n"
    "to an existing TSDB when asked.  docs/monitoring.md has the design.\n"
    "  -listen ADDR:PORT     where to listen (default 0.0.0.0:9109)\n"
    "  -data FILE            the store (default ./barista-collector.db; FILE.alarms too)\n"
    "  -secret-file FILE     the shared secret: a JSON {\"secret\": ...} or INI file\n"
    "                        with the field secret (the policy's credential names it too)\n"
    "  -secret-env VAR       ... or the secret from the environment variable VAR\n"
    "  -self URL             this collector's URL as its peers list it (alarm duty)\n"
    "  -peer URL             another collector, for queries across them (repeat)\n"
    "  -forward URL          forward every push by remote-write to URL\n"
    "                        (e.g. http://127.0.0.1:8428/api/v1/write)\n"
    "  -raw-retention D      keep raw samples D (default 6h)\n"
    "  -retention D          keep the store-interval roll-ups D (default 7d)\n"
    "  -coarse-retention D   keep the 5-minute roll-ups D (default 90d)\n"
    "  -rollup-step D        the roll-up step (default 10s: the store interval)\n"
    "  -threads N            HTTP worker threads (default 2)\n"
    "  -max-body BYTES       the largest push body taken (default 16 MiB)\n"
    "  -gen-secret FILE      write a new random secret to FILE (mode 0600) and exit\n";

static volatile sig_atomic_t stop_now;

static void on_signal(int sig)
{
	(void)sig;
	stop_now = 1;
}

static void log_line(void *ud, int level, const char *msg)
{
	static const char *const names[] = {"info", "warning", "error"};
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	(void)ud;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s barista collector: %s: %s\n", when, names[level > 2 ? 2 : level], msg);
}

static int gen_secret(const char *path)
{
	unsigned char raw[32];
	char hex[65], text[100];
	int fd, n;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fprintf(stderr, "barista collector: no randomness for a secret\n");
		return 1;
	}
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	n = snprintf(text, sizeof(text), "{\"secret\": \"%s\"}\n", hex);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "barista collector: cannot create %s: %s%s\n", path, strerror(errno),
		        errno == EEXIST ? " (it exists; a new secret would lock every agent out)" : "");
		return 1;
	}
	if (write(fd, text, (size_t)n) != n) {
		fprintf(stderr, "barista collector: cannot write %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	OPENSSL_cleanse(text, sizeof(text));
	printf("Wrote a new secret to %s.  Point collectors at it with -secret-file %s and\n"
	       "MonitoringPolicies with credential: {file: %s}.\n", path, path, path);
	return 0;
}

/* The secret from a file or a variable into *out (malloc'd); 0 or 1. */
static int load_secret(char **out, size_t *len, const char *file, const char *env)
{
	json_t *ref = file ? json_pack("{s:s}", "file", file)
	                   : json_pack("{s:{s:s}}", "env", "secret", env);
	bar_cred *c = NULL;
	const char *v;

	if (bar_cred_resolve(&c, ref) != 0 || !(v = bar_cred_get(c, "secret")) || strlen(v) < 16) {
		fprintf(stderr, "barista collector: %s\n",
		        c ? "the secret must have at least 16 characters (barista collector "
		            "-gen-secret FILE makes one)"
		          : bar_error_last());
		bar_cred_release(c);
		json_decref(ref);
		return 1;
	}
	*out = strdup(v);
	*len = strlen(v);
	bar_cred_release(c);
	json_decref(ref);
	return *out ? 0 : 1;
}

static int need(int i, int argc, char **argv)
{
	if (i + 1 >= argc) {
		fprintf(stderr, "barista collector: %s needs a value\n\n%s", argv[i], usage);
		return 0;
	}
	return 1;
}

static int span(int64_t *out, const char *flag, const char *text)
{
	int64_t s;

	if (bar_spec_duration(&s, text) < 0 || s <= 0) {
		fprintf(stderr, "barista collector: %s \"%s\": give a duration like 10s, 6h, 7d\n",
		        flag, text);
		return -1;
	}
	*out = s * 1000;
	return 0;
}

int cmd_collector(int argc, char **argv)
{
	bar_collector_opts o = BAR_COLLECTOR_OPTS_INIT;
	const char *secret_file = NULL, *secret_env = NULL, *peers[32];
	char *secret = NULL, why[512];
	size_t secret_len = 0, npeers = 0;
	bar_collector *c = NULL;
	struct sigaction sa;

	o.data = "barista-collector.db";
	o.log = log_line;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!need(i, argc, argv))
			return 1;
		if (!strcmp(a, "-gen-secret"))
			return gen_secret(argv[i + 1]);
		else if (!strcmp(a, "-listen"))
			o.listen = argv[++i];
		else if (!strcmp(a, "-data"))
			o.data = argv[++i];
		else if (!strcmp(a, "-secret-file"))
			secret_file = argv[++i];
		else if (!strcmp(a, "-secret-env"))
			secret_env = argv[++i];
		else if (!strcmp(a, "-self"))
			o.self_url = argv[++i];
		else if (!strcmp(a, "-peer") && npeers < 32)
			peers[npeers++] = argv[++i];
		else if (!strcmp(a, "-forward"))
			o.forward_url = argv[++i];
		else if (!strcmp(a, "-raw-retention")) {
			if (span(&o.tsdb.retention_ms[BAR_TSDB_RAW], a, argv[++i]) < 0)
				return 1;
		} else if (!strcmp(a, "-retention")) {
			if (span(&o.tsdb.retention_ms[BAR_TSDB_ROLLUP], a, argv[++i]) < 0)
				return 1;
		} else if (!strcmp(a, "-coarse-retention")) {
			if (span(&o.tsdb.retention_ms[BAR_TSDB_COARSE], a, argv[++i]) < 0)
				return 1;
		} else if (!strcmp(a, "-rollup-step")) {
			if (span(&o.tsdb.step_ms[BAR_TSDB_ROLLUP], a, argv[++i]) < 0)
				return 1;
		} else if (!strcmp(a, "-threads")) {
			if ((o.threads = atoi(argv[++i])) < 1 || o.threads > 256) {
				fprintf(stderr, "barista collector: -threads takes 1 to 256\n");
				return 1;
			}
		} else if (!strcmp(a, "-max-body")) {
			char *end;
			unsigned long long n = strtoull(argv[++i], &end, 10);
			if (*end || n < 1024 || n > (1ull << 30)) {
				fprintf(stderr, "barista collector: -max-body takes 1024 to 1073741824 "
				        "bytes\n");
				return 1;
			}
			o.max_body = (size_t)n;
		}
		else {
			fprintf(stderr, "barista collector: unknown option \"%s\"\n\n%s", a, usage);
			return 1;
		}
	}
	if (!secret_file == !secret_env) {
		fprintf(stderr, "barista collector: give the shared secret with -secret-file FILE "
		        "or -secret-env VAR (barista collector -gen-secret FILE makes one)\n");
		return 1;
	}
	if (load_secret(&secret, &secret_len, secret_file, secret_env))
		return 1;
	o.secret = (const unsigned char *)secret;
	o.secret_len = secret_len;
	o.peers = peers;
	o.npeers = npeers;
	if (bar_collector_start(&c, &o, why, sizeof(why)) < 0) {
		fprintf(stderr, "barista collector: %s\n", why);
		OPENSSL_cleanse(secret, secret_len);
		free(secret);
		return 1;
	}
	OPENSSL_cleanse(secret, secret_len);
	free(secret);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		char msg[300];
		snprintf(msg, sizeof(msg), "listening on port %d, store %s", bar_collector_port(c),
		         o.data);
		log_line(NULL, 0, msg);
	}
	while (!stop_now)
		pause();
	log_line(NULL, 0, "stopping: flushing the store");
	bar_collector_stop(c);
	return 0;
}
