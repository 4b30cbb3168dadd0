/*
 * apps_wait.c - `barista-agent -wait-apps`: wait on the VM, reading the
 * status file the running agent writes (apps_io.c), until one manifest's
 * apps (source "<mcapp>", generation G) are all healthy and nothing of an
 * earlier generation of it still runs; or until one of them cannot start,
 * or the time is up.  Apply runs it over SSH after writing a manifest, so
 * a rollout waits in one session instead of polling over the network.
 *
 * The status file is the agent's own format: one app replica per line,
 * fields in a fixed order, so a few string searches read it without a JSON
 * parser (the agent is libc only).
 */
#include "apps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATUS_MAX (4u << 20)

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (!(buf = malloc(STATUS_MAX + 1))) {
		close(fd);
		return NULL;
	}
	while (got < STATUS_MAX && (n = read(fd, buf + got, STATUS_MAX - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return buf;
}

/* The string value of "key":"..." in line (unescaping \" and \\), into out. */
static void field_str(const char *line, const char *key, char *out, size_t n)
{
	char pat[64];
	const char *p;
	size_t k = 0;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if (!(p = strstr(line, pat)))
		return;
	for (p += strlen(pat); *p && *p != '"' && k + 1 < n; p++) {
		if (*p == '\\' && p[1])
			p++;
		out[k++] = *p;
	}
	out[k] = '\0';
}

static int field_true(const char *line, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\":true", key);
	return strstr(line, pat) != NULL;
}

/* The generation of source in the status' "generations" (0: absent). */
static long generation_of(const char *status, const char *source)
{
	char pat[200];
	const char *g = strstr(status, "\"generations\":{"), *end, *p;

	if (!g)
		return 0;
	end = strchr(g, '}');
	snprintf(pat, sizeof(pat), "\"%s\":", source);
	p = strstr(g, pat);
	if (!p || (end && p > end))
		return 0;
	return strtol(p + strlen(pat), NULL, 10);
}

/* One look: 0 done, 1 not yet (why: what is awaited), -1 failed (why). */
static int look(const char *status, const char *source, long generation, char *why,
                size_t wsize)
{
	char prefix[160], err[400];
	const char *line;
	long have = generation_of(status, source);
	int apps = 0;

	field_str(status, "error", err, sizeof(err));
	if (err[0] && have != generation) {
		snprintf(why, wsize, "the agent refused the manifest: %s", err);
		return -1;
	}
	if (have != generation) {
		snprintf(why, wsize, "the agent has not loaded generation %ld of %s yet (it has %ld)",
		         generation, source, have);
		return 1;
	}
	snprintf(prefix, sizeof(prefix), "{\"name\":\"%s.", source);
	for (line = strstr(status, prefix); line; line = strstr(line + 1, prefix)) {
		char name[200], state[32], msg[400], rep[16] = "";
		const char *eol = strchr(line, '\n'), *r;
		char one[4096];
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		snprintf(one, sizeof(one), "%.*s", (int)(len < sizeof(one) ? len : sizeof(one) - 1),
		         line);
		field_str(one, "name", name, sizeof(name));
		field_str(one, "state", state, sizeof(state));
		field_str(one, "message", msg, sizeof(msg));
		if ((r = strstr(one, "\"replica\":")))
			snprintf(rep, sizeof(rep), "%d", atoi(r + 10));
		if (field_true(one, "gone")) {
			snprintf(why, wsize, "app %s/%s of the previous version is still %s", name, rep,
			         state);
			return 1;
		}
		apps++;
		if (!strcmp(state, "Failed")) {
			snprintf(why, wsize, "app %s/%s cannot start: %s", name, rep, msg);
			return -1;
		}
		if (!strcmp(state, "Exited")) {
			snprintf(why, wsize, "app %s/%s exited: %s", name, rep, msg);
			return -1;
		}
		if (!field_true(one, "healthy")) {
			snprintf(why, wsize, "app %s/%s is %s: %s", name, rep, state, msg);
			return 1;
		}
	}
	(void)apps;
	return 0;
}

int bar_apps_wait(const char *status_path, const char *source, long generation,
                  long timeout_ms, char *why, size_t wsize)
{
	int64_t end = mono_ms() + timeout_ms;
	char last[600] = "no status yet";

	for (;;) {
		char *s = slurp(status_path);
		int rc = 1;

		if (s) {
			rc = look(s, source, generation, last, sizeof(last));
			free(s);
		} else {
			snprintf(last, sizeof(last), "%s: %s (is barista-agent running?)", status_path,
			         strerror(errno));
		}
		if (rc <= 0) {
			snprintf(why, wsize, "%s", rc == 0 ? "" : last);
			return rc;
		}
		if (mono_ms() >= end) {
			snprintf(why, wsize, "not healthy after %ld s: %s", timeout_ms / 1000, last);
			return -2;
		}
		usleep(100000);
	}
}
