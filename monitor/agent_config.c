/*
 * agent_config.c - barista-agent's config file (agent.h): `key=value`
 * lines, `#` comments, written by `barista apply` (planner/agent.c,
 * agent_config).  Every error names FILE:LINE and says what to do; the
 * token's value never appears in one.  Fuzzed (tests/fuzz/fuzz_agent_config.c).
 */
#include "agent.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bar_agent_config_init(bar_agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->version = 1;
	c->collect_interval_ms = 2000;
	c->push_interval_ms = 10000;
	for (size_t i = 0; bar_metric_groups[i]; i++)
		c->groups |= 1u << i;
	strcpy(c->state_dir, ".");
	c->memory_max_bytes = 8u << 20;
	c->spool_max_bytes = (size_t)256 << 20;
}

void bar_agent_config_clear(bar_agent_config *c)
{
	volatile char *p = (volatile char *)c;

	for (size_t i = 0; i < sizeof(*c); i++)
		p[i] = 0;
}

/* Copy value (n bytes) into dst[dsize]; -1 when it does not fit. */
static int copy_to(char *dst, size_t dsize, const char *v, size_t n)
{
	if (n >= dsize)
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* A decimal number in [lo, hi]; -1 otherwise. */
static int number(long long *out, const char *v, size_t n, long long lo, long long hi)
{
	long long x = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	if (x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

/* A label value the wire can carry: printable ASCII (no spaces needed). */
static int name_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return 0;
	return 1;
}

/* "http://host:port" (a path prefix allowed), no spaces, bounded. */
static int url_ok(const char *v, size_t n)
{
	const char *h = v + 7, *end = v + n, *colon;

	if (n < 8 || strncmp(v, "http://", 7) != 0 || !name_ok(v, n))
		return 0;
	colon = memchr(h, ':', (size_t)(end - h));
	if (*h == '[') /* [v6]:port */
		colon = memchr(h, ']', (size_t)(end - h)) ? memchr(h, ']', (size_t)(end - h)) + 1 : NULL;
	if (!colon || colon == h || colon >= end || *colon != ':' || colon + 1 >= end)
		return 0;
	for (const char *p = colon + 1; p < end && *p != '/'; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static int parse_collectors(bar_agent_config *c, const char *v, size_t n, char *what,
                            size_t wsize)
{
	const char *end = v + n;

	c->ncollectors = 0;
	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		size_t len = (size_t)((comma ? comma : end) - v);

		while (len && v[len - 1] == '/')
			len--;
		if (len == 0) {
			snprintf(what, wsize, "an empty collector URL: separate URLs by single commas");
			return -1;
		}
		if (c->ncollectors == BAR_AGENT_MAX_COLLECTORS) {
			snprintf(what, wsize, "more than %d collectors: list at most that many",
			         BAR_AGENT_MAX_COLLECTORS);
			return -1;
		}
		if (!url_ok(v, len) ||
		    copy_to(c->collectors[c->ncollectors], sizeof(c->collectors[0]), v, len) < 0) {
			snprintf(what, wsize, "collector \"%.*s\" is not http://HOST:PORT: write it so",
			         len > 80 ? 80 : (int)len, v);
			return -1;
		}
		c->ncollectors++;
		v += len;
		while (v < end && *v == '/')
			v++;
		if (v < end)
			v++; /* the comma */
	}
	return 0;
}

static int parse_groups(bar_agent_config *c, const char *v, size_t n, char *what, size_t wsize)
{
	const char *end = v + n;

	c->groups = 0;
	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		size_t len = (size_t)((comma ? comma : end) - v), i;

		for (i = 0; bar_metric_groups[i]; i++)
			if (strlen(bar_metric_groups[i]) == len && !memcmp(bar_metric_groups[i], v, len))
				break;
		if (!bar_metric_groups[i] && !(len == 5 && !memcmp(v, "agent", 5))) {
			snprintf(what, wsize,
			         "unknown metric group \"%.*s\": use cpu, memory, disk, network, process, "
			         "system",
			         len > 40 ? 40 : (int)len, v);
			return -1;
		}
		if (bar_metric_groups[i])
			c->groups |= 1u << i;
		v += len + (comma ? 1 : 0);
		if (comma && v == end) {
			snprintf(what, wsize, "a trailing comma in groups: remove it");
			return -1;
		}
	}
	return 0;
}

/* "ADDR:PORT" with a port in 1..65535 (ADDR may be empty or [v6]). */
static int listen_ok(const char *v, size_t n)
{
	const char *colon = NULL;
	long long port;

	for (size_t i = 0; i < n; i++)
		if (v[i] == ':')
			colon = v + i;
	if (!colon || !name_ok(v, n))
		return 0;
	return number(&port, colon + 1, (size_t)(v + n - colon - 1), 1, 65535) == 0;
}

/* One key=value; -1 with what[wsize]. */
static int set_key(bar_agent_config *c, unsigned *seen, const char *k, size_t kn,
                   const char *v, size_t vn, char *what, size_t wsize)
{
	long long x;

#define IS(s) (kn == sizeof(s) - 1 && !memcmp(k, s, kn))
	if (IS("version")) {
		if (number(&x, v, vn, 1, 1) < 0) {
			snprintf(what, wsize, "version must be 1: this agent reads config version 1");
			return -1;
		}
		c->version = (int)x;
		*seen |= 1;
	} else if (IS("ns") || IS("mci") || IS("vm")) {
		char *dst = IS("ns") ? c->ns : IS("mci") ? c->mci : c->vm;
		if (!name_ok(v, vn) || copy_to(dst, sizeof(c->ns), v, vn) < 0) {
			snprintf(what, wsize, "%.*s must be printable, without spaces, under %zu bytes",
			         (int)kn, k, sizeof(c->ns));
			return -1;
		}
	} else if (IS("token")) {
		if (!name_ok(v, vn) || copy_to(c->token, sizeof(c->token), v, vn) < 0) {
			snprintf(what, wsize, "the token is not printable ASCII under %zu bytes: "
			         "write the token apply derived", sizeof(c->token));
			return -1;
		}
	} else if (IS("collectors")) {
		return parse_collectors(c, v, vn, what, wsize);
	} else if (IS("collect_interval_ms") || IS("push_interval_ms")) {
		if (number(&x, v, vn, 100, 3600000) < 0) {
			snprintf(what, wsize, "%.*s must be milliseconds between 100 and 3600000",
			         (int)kn, k);
			return -1;
		}
		if (IS("collect_interval_ms"))
			c->collect_interval_ms = (long)x;
		else
			c->push_interval_ms = (long)x;
	} else if (IS("groups")) {
		return parse_groups(c, v, vn, what, wsize);
	} else if (IS("listen")) {
		if (vn && (!listen_ok(v, vn) || copy_to(c->listen, sizeof(c->listen), v, vn) < 0)) {
			snprintf(what, wsize, "listen must be ADDR:PORT (0.0.0.0:9101) or empty for none");
			return -1;
		}
		if (!vn)
			c->listen[0] = '\0';
	} else if (IS("state_dir")) {
		if (vn == 0 || copy_to(c->state_dir, sizeof(c->state_dir), v, vn) < 0 ||
		    memchr(v, '\0', vn)) {
			snprintf(what, wsize, "state_dir must be a directory path under %zu bytes",
			         sizeof(c->state_dir));
			return -1;
		}
	} else if (IS("memory_max_bytes") || IS("spool_max_bytes")) {
		if (number(&x, v, vn, 1024, (long long)1 << 40) < 0) {
			snprintf(what, wsize, "%.*s must be bytes between 1024 and 2^40", (int)kn, k);
			return -1;
		}
		if (IS("memory_max_bytes"))
			c->memory_max_bytes = (size_t)x;
		else
			c->spool_max_bytes = (size_t)x;
	} else if (IS("overlay")) {
		if (copy_to(c->overlay, sizeof(c->overlay), v, vn) < 0 || memchr(v, '\0', vn) ||
		    (vn && v[0] != '/')) {
			snprintf(what, wsize, "overlay must be the absolute path of the overlay file "
			         "(under %zu bytes), or empty for none", sizeof(c->overlay));
			return -1;
		}
	} else if (IS("apps")) {
		if (copy_to(c->apps, sizeof(c->apps), v, vn) < 0 || memchr(v, '\0', vn) ||
		    (vn && v[0] != '/')) {
			snprintf(what, wsize, "apps must be the absolute path of the apps manifest "
			         "(under %zu bytes), or empty for none", sizeof(c->apps));
			return -1;
		}
	} else if (IS("scope")) {
		if (vn == 2 && !memcmp(v, "vm", 2)) {
			c->scope_cgroup = 0;
		} else if (vn == 6 && !memcmp(v, "cgroup", 6)) {
			c->scope_cgroup = 1;
		} else {
			snprintf(what, wsize, "scope must be vm (the kernel's figures: a VM of its own) "
			         "or cgroup (this cgroup's CPU and memory: a VM sharing its host's "
			         "kernel)");
			return -1;
		}
	} else {
		snprintf(what, wsize,
		         "unknown key \"%.*s\": use version, ns, mci, vm, token, collectors, "
		         "collect_interval_ms, push_interval_ms, groups, listen, state_dir, "
		         "memory_max_bytes, spool_max_bytes, scope, apps, overlay",
		         kn > 40 ? 40 : (int)kn, k);
		return -1;
	}
#undef IS
	return 0;
}

int bar_agent_config_parse(bar_agent_config *out, const char *text, size_t len,
                           const char *file, char *why, size_t wsize)
{
	bar_agent_config *c = malloc(sizeof(*c));
	const char *p = text, *end = text + len;
	unsigned seen = 0;
	int line = 0, rc = -1;
	char what[300];

	if (!c) {
		snprintf(why, wsize, "%s: out of memory", file);
		return -1;
	}
	bar_agent_config_init(c);
	if (len > BAR_AGENT_CONF_MAX) {
		snprintf(why, wsize, "%s: over %d bytes: is this the agent's config?", file,
		         BAR_AGENT_CONF_MAX);
		goto done;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *eq, *k, *v, *ke, *ve;

		line++;
		k = p;
		while (k < e && (*k == ' ' || *k == '\t'))
			k++;
		ve = e;
		while (ve > k && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		p = nl ? nl + 1 : end;
		if (k == ve || *k == '#')
			continue;
		eq = memchr(k, '=', (size_t)(ve - k));
		if (!eq) {
			snprintf(why, wsize, "%s:%d: expected key=value: write the line as key=value or "
			         "comment it out with #", file, line);
			goto done;
		}
		ke = eq;
		while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		v = eq + 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		if (ke == k) {
			snprintf(why, wsize, "%s:%d: a value without a key: write key=value", file, line);
			goto done;
		}
		if (set_key(c, &seen, k, (size_t)(ke - k), v, (size_t)(ve - v), what, sizeof(what)) <
		    0) {
			snprintf(why, wsize, "%s:%d: %s", file, line, what);
			goto done;
		}
	}
	if (!(seen & 1)) {
		snprintf(why, wsize, "%s:%d: no version=1 line: add version=1 at the top", file,
		         line ? line : 1);
		goto done;
	}
	if (c->ncollectors && (!c->ns[0] || !c->mci[0] || !c->vm[0])) {
		snprintf(why, wsize, "%s:%d: collectors are set but ns, mci or vm is missing: the "
		         "collector accepts only series labelled with all three; add them", file, line);
		goto done;
	}
	if (c->ncollectors && !c->token[0]) {
		snprintf(why, wsize, "%s:%d: collectors are set but no token: add the MCI's token=",
		         file, line);
		goto done;
	}
	*out = *c;
	rc = 0;
done:
	bar_agent_config_clear(c);
	free(c);
	return rc;
}

int bar_agent_config_load(bar_agent_config *out, const char *path, char *why, size_t wsize)
{
	char *text = malloc(BAR_AGENT_CONF_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd = -1, rc = -1;

	if (!text) {
		snprintf(why, wsize, "%s: out of memory", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, wsize, "%s:0: cannot open: %s: give -config FILE", path, strerror(errno));
		goto done;
	}
	while (len <= BAR_AGENT_CONF_MAX &&
	       (n = read(fd, text + len, BAR_AGENT_CONF_MAX + 1 - len)) > 0)
		len += (size_t)n;
	if (len > BAR_AGENT_CONF_MAX) {
		snprintf(why, wsize, "%s:0: over %d bytes: is this the agent's config?", path,
		         BAR_AGENT_CONF_MAX);
		goto done;
	}
	rc = bar_agent_config_parse(out, text, len, path, why, wsize);
done:
	if (fd >= 0)
		close(fd);
	memset(text, 0, len);
	free(text);
	return rc;
}
