/*
 * apps_manifest.c - reading apps.conf (apps.h), the manifest apply writes
 * for barista-agent (planner/app.c writes it; docs/apps.md, "The manifest").
 *
 *   generation=7
 *   [app web]
 *   kind=image
 *   hash=...
 *   arg=nginx
 *   env=MODE=prod
 *   health=http 80 /
 *
 * One `key=value` per line, the value verbatim to the end of the line
 * (MCApp values are one line by the spec's rules); repeated keys (arg,
 * env, layer, port, volume, after) append.  Unknown keys are refused so a
 * newer apply and an older agent do not silently disagree.  libc only.
 */
#include "apps.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_MAX 1024 /* items of one repeated key */

typedef struct parser {
	const char *prefix; /* "<source>." for a directory's file, else "" */
	const char *file;
	int line;
	char *why;
	size_t wsize;
	int failed;
} parser;

static void fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *p, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (p->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->why, p->wsize, "%s:%d: %s", p->file, p->line, msg);
	p->failed = 1;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static int push(parser *p, char ***list, size_t *n, const char *v)
{
	char **nl;

	if (*n >= LIST_MAX) {
		fail(p, "more than %d values for one key", LIST_MAX);
		return -1;
	}
	if (!(nl = realloc(*list, (*n + 1) * sizeof(*nl))) || !(nl[*n] = strdup(v))) {
		if (nl)
			*list = nl;
		fail(p, "out of memory");
		return -1;
	}
	*list = nl;
	(*n)++;
	return 0;
}

static int set_str(parser *p, char **dst, const char *v)
{
	free(*dst);
	if (!(*dst = strdup(v)))
		fail(p, "out of memory");
	return *dst ? 0 : -1;
}

static int parse_long(parser *p, long *out, const char *v, const char *key, long min,
                      long max)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max) {
		fail(p, "%s=%s: want an integer from %ld to %ld", key, v, min, max);
		return -1;
	}
	*out = x;
	return 0;
}

/* A DNS label (an app, a volume, a source file's name). */
static int label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return s[0] != '-' && s[n - 1] != '-';
}

static int digest_ok(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return 0;
	for (int i = 7; i < 71; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void parse_health(parser *p, bar_app_health *h, const char *v)
{
	char kind[8] = "";
	int port = 0, used = 0;

	if (!strcmp(v, "none")) {
		h->kind = BAR_HEALTH_NONE;
		return;
	}
	if (!strncmp(v, "exec ", 5) && v[5]) {
		h->kind = BAR_HEALTH_EXEC;
		set_str(p, &h->command, v + 5);
		return;
	}
	if (sscanf(v, "%7s %d%n", kind, &port, &used) < 2 || port < 1 || port > 65535) {
		fail(p, "health=%s: want none, tcp PORT, http PORT PATH or exec COMMAND", v);
		return;
	}
	h->port = port;
	if (!strcmp(kind, "tcp") && v[used] == '\0') {
		h->kind = BAR_HEALTH_TCP;
	} else if (!strcmp(kind, "http") && v[used] == ' ' && v[used + 1] == '/') {
		h->kind = BAR_HEALTH_HTTP;
		set_str(p, &h->path, v + used + 1);
	} else {
		fail(p, "health=%s: want none, tcp PORT, http PORT PATH or exec COMMAND", v);
	}
}

static void parse_layer(parser *p, bar_app_def *d, const char *v)
{
	bar_app_layer *nl;
	int gzip;

	if (!strncmp(v, "gzip ", 5))
		gzip = 1;
	else if (!strncmp(v, "tar ", 4))
		gzip = 0;
	else {
		fail(p, "layer=%s: want \"gzip DIGEST\" or \"tar DIGEST\"", v);
		return;
	}
	v += gzip ? 5 : 4;
	if (!digest_ok(v)) {
		fail(p, "layer %s: not a sha256 digest", v);
		return;
	}
	if (d->nlayers >= 256) {
		fail(p, "more than 256 layers");
		return;
	}
	if (!(nl = realloc(d->layers, (d->nlayers + 1) * sizeof(*nl)))) {
		fail(p, "out of memory");
		return;
	}
	d->layers = nl;
	snprintf(nl[d->nlayers].digest, sizeof(nl->digest), "%s", v);
	nl[d->nlayers++].gzip = gzip;
}

static void parse_volume(parser *p, bar_app_def *d, const char *v)
{
	const char *sp = strchr(v, ' ');
	char *name;

	if (!sp || sp[1] != '/') {
		fail(p, "volume=%s: want \"NAME /PATH\"", v);
		return;
	}
	if (!(name = dup_n(v, (size_t)(sp - v))) || !label_ok(name)) {
		fail(p, "volume=%s: the name must be a DNS label", v);
		free(name);
		return;
	}
	if (push(p, &d->vol_name, &d->nvol, name) == 0) {
		size_t n = d->nvol - 1;
		if (push(p, &d->vol_path, &n, sp + 1) < 0)
			d->nvol--; /* keep the two lists the same length */
	}
	free(name);
}

static void parse_port(parser *p, bar_app_def *d, const char *v)
{
	long port;
	int *np;
	const char *slash = strchr(v, '/');
	char num[16];

	snprintf(num, sizeof(num), "%.*s", slash ? (int)(slash - v) : (int)strlen(v), v);
	if (parse_long(p, &port, num, "port", 1, 65535) < 0)
		return;
	if (slash && strcmp(slash, "/tcp") && strcmp(slash, "/udp")) {
		fail(p, "port=%s: want PORT/tcp or PORT/udp", v);
		return;
	}
	if (d->nports >= LIST_MAX || !(np = realloc(d->ports, (d->nports + 1) * sizeof(*np)))) {
		fail(p, "too many ports");
		return;
	}
	d->ports = np;
	np[d->nports++] = (int)port;
}

static void parse_after(parser *p, bar_app_def *d, const char *v)
{
	char buf[4096], *save = NULL, *tok, full[BAR_APP_NAME_MAX * 2];

	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!label_ok(tok)) {
			fail(p, "after=%s: \"%s\" is not an app name", v, tok);
			return;
		}
		snprintf(full, sizeof(full), "%s%s", p->prefix, tok);
		if (push(p, &d->after, &d->nafter, full) < 0)
			return;
	}
}

static void app_key(parser *p, bar_app_def *d, const char *k, const char *v)
{
	long x;

	if (!strcmp(k, "kind")) {
		if (!strcmp(v, "command"))
			d->kind = BAR_APP_COMMAND;
		else if (!strcmp(v, "image"))
			d->kind = BAR_APP_IMAGE;
		else
			fail(p, "kind=%s: want command or image", v);
	} else if (!strcmp(k, "hash")) {
		snprintf(d->hash, sizeof(d->hash), "%s", v);
	} else if (!strcmp(k, "replicas")) {
		if (parse_long(p, &x, v, k, 1, BAR_APPS_REPLICAS_MAX) == 0)
			d->replicas = (int)x;
	} else if (!strcmp(k, "order")) {
		parse_long(p, &d->order, v, k, -1000000, 1000000);
	} else if (!strcmp(k, "after")) {
		parse_after(p, d, v);
	} else if (!strcmp(k, "command")) {
		set_str(p, &d->command, v);
	} else if (!strcmp(k, "arg")) {
		push(p, &d->args, &d->nargs, v);
	} else if (!strcmp(k, "env")) {
		if (!strchr(v, '=') || v[0] == '=')
			fail(p, "env=%s: want KEY=VALUE", v);
		else
			push(p, &d->env, &d->nenv, v);
	} else if (!strcmp(k, "cwd")) {
		set_str(p, &d->cwd, v);
	} else if (!strcmp(k, "user")) {
		set_str(p, &d->user, v);
	} else if (!strcmp(k, "image")) {
		if (!digest_ok(v))
			fail(p, "image=%s: want the image's sha256 manifest digest", v);
		else
			snprintf(d->image, sizeof(d->image), "%s", v);
	} else if (!strcmp(k, "layer")) {
		parse_layer(p, d, v);
	} else if (!strcmp(k, "port")) {
		parse_port(p, d, v);
	} else if (!strcmp(k, "volume")) {
		parse_volume(p, d, v);
	} else if (!strcmp(k, "health")) {
		parse_health(p, &d->health, v);
	} else if (!strcmp(k, "health_interval_ms")) {
		parse_long(p, &d->health.interval_ms, v, k, 100, 3600000);
	} else if (!strcmp(k, "health_timeout_ms")) {
		parse_long(p, &d->health.timeout_ms, v, k, 50, 3600000);
	} else if (!strcmp(k, "health_delay_ms")) {
		parse_long(p, &d->health.delay_ms, v, k, 0, 3600000);
	} else if (!strcmp(k, "health_failures")) {
		if (parse_long(p, &x, v, k, 1, 100) == 0)
			d->health.failures = (int)x;
	} else if (!strcmp(k, "restart")) {
		if (!strcmp(v, "always"))
			d->restart = BAR_RESTART_ALWAYS;
		else if (!strcmp(v, "on-failure"))
			d->restart = BAR_RESTART_ON_FAILURE;
		else if (!strcmp(v, "never"))
			d->restart = BAR_RESTART_NEVER;
		else
			fail(p, "restart=%s: want always, on-failure or never", v);
	} else if (!strcmp(k, "cpus")) {
		char *end;
		double c = strtod(v, &end);
		if (end == v || *end || !(c >= 0 && c <= 1024))
			fail(p, "cpus=%s: want a number of CPUs from 0 to 1024", v);
		else
			d->cpus = c;
	} else if (!strcmp(k, "memory")) {
		char *end;
		unsigned long long m;
		errno = 0;
		m = strtoull(v, &end, 10);
		if (errno || end == v || *end)
			fail(p, "memory=%s: want bytes", v);
		else
			d->memory = m;
	} else {
		fail(p, "unknown key \"%s\" (is this agent older than the barista that wrote "
		     "the manifest? re-install it with apply)", k);
	}
}

static void def_init(bar_app_def *d)
{
	memset(d, 0, sizeof(*d));
	d->replicas = 1;
	d->health.interval_ms = 2000;
	d->health.timeout_ms = 1000;
	d->health.failures = 3;
}

void bar_app_def_clear(bar_app_def *d)
{
	for (size_t i = 0; i < d->nafter; i++)
		free(d->after[i]);
	for (size_t i = 0; i < d->nargs; i++)
		free(d->args[i]);
	for (size_t i = 0; i < d->nenv; i++)
		free(d->env[i]);
	for (size_t i = 0; i < d->nvol; i++) {
		free(d->vol_name[i]);
		free(d->vol_path[i]);
	}
	free(d->after);
	free(d->args);
	free(d->env);
	free(d->vol_name);
	free(d->vol_path);
	free(d->command);
	free(d->cwd);
	free(d->user);
	free(d->layers);
	free(d->ports);
	free(d->health.path);
	free(d->health.command);
	memset(d, 0, sizeof(*d));
}

void bar_app_manifest_clear(bar_app_manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		bar_app_def_clear(&m->apps[i]);
	free(m->apps);
	memset(m, 0, sizeof(*m));
}

/* What one app must have once its section is read. */
static void finish_app(parser *p, const bar_app_manifest *m, const bar_app_def *d)
{
	if (!d->hash[0])
		fail(p, "app %s has no hash", d->name);
	else if (d->kind == BAR_APP_COMMAND && !d->command)
		fail(p, "app %s: a command app needs command=", d->name);
	else if (d->kind == BAR_APP_IMAGE && (!d->image[0] || !d->nlayers || !d->nargs))
		fail(p, "app %s: an image app needs image=, layer= and arg=", d->name);
	else if (d->health.timeout_ms > d->health.interval_ms)
		fail(p, "app %s: health_timeout_ms is longer than health_interval_ms", d->name);
}

static int parse_text(bar_app_manifest *out, const char *text, size_t len, const char *file,
                      const char *prefix, char *why, size_t wsize)
{
	parser p = {prefix, file, 0, why, wsize, 0};
	bar_app_manifest m = {0};
	bar_app_def *cur = NULL;
	size_t off = 0;
	int have_gen = 0;

	if (len > BAR_APPS_MANIFEST_MAX) {
		snprintf(why, wsize, "%s: larger than %d bytes", file, BAR_APPS_MANIFEST_MAX);
		return -1;
	}
	while (off < len && !p.failed) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char *line = dup_n(text + off, n), *eq;

		off += n + (nl ? 1 : 0);
		p.line++;
		if (!line) {
			fail(&p, "out of memory");
			break;
		}
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (memchr(line, '\0', n) && strlen(line) != n) {
			fail(&p, "a NUL byte in the line");
		} else if (!line[0] || line[0] == '#') {
			/* blank or comment */
		} else if (!strncmp(line, "[app ", 5) && n > 6 && line[n - 1] == ']') {
			bar_app_def *na;
			line[n - 1] = '\0';
			if (cur)
				finish_app(&p, &m, cur);
			if (!label_ok(line + 5))
				fail(&p, "\"%s\" is not an app name", line + 5);
			for (size_t i = 0; i < m.n && !p.failed; i++)
				if (!strcmp(m.apps[i].name + strlen(prefix), line + 5))
					fail(&p, "app %s is given twice", line + 5);
			if (p.failed)
				;
			else if (m.n >= BAR_APPS_MAX)
				fail(&p, "more than %d apps", BAR_APPS_MAX);
			else if (!(na = realloc(m.apps, (m.n + 1) * sizeof(*na))))
				fail(&p, "out of memory");
			else {
				m.apps = na;
				cur = &m.apps[m.n++];
				def_init(cur);
				snprintf(cur->name, sizeof(cur->name), "%s%s", prefix, line + 5);
			}
		} else if (!(eq = strchr(line, '='))) {
			fail(&p, "want KEY=VALUE or [app NAME]");
		} else {
			*eq = '\0';
			if (!cur) {
				long g;
				if (strcmp(line, "generation") != 0)
					fail(&p, "\"%s\" before the first [app NAME]; only generation= goes "
					     "there", line);
				else if (parse_long(&p, &g, eq + 1, "generation", 0, 1L << 62) == 0) {
					m.generation = g;
					have_gen = 1;
				}
			} else {
				app_key(&p, cur, line, eq + 1);
			}
		}
		free(line);
	}
	if (!p.failed && cur) {
		p.line++;
		finish_app(&p, &m, cur);
	}
	if (!p.failed && !have_gen && m.n)
		fail(&p, "no generation=");
	for (size_t i = 0; !p.failed && i < m.n; i++)
		for (size_t k = 0; k < m.apps[i].nafter; k++) {
			size_t j;
			for (j = 0; j < m.n && strcmp(m.apps[j].name, m.apps[i].after[k]); j++)
				;
			if (j == m.n) {
				/* an `after` app placed on other VMs only: not waited for here */
				free(m.apps[i].after[k]);
				m.apps[i].after[k--] = m.apps[i].after[--m.apps[i].nafter];
			}
		}
	if (p.failed) {
		bar_app_manifest_clear(&m);
		return -1;
	}
	*out = m;
	return 0;
}

int bar_app_manifest_parse(bar_app_manifest *out, const char *text, size_t len,
                           const char *file, char *why, size_t wsize)
{
	return parse_text(out, text, len, file, "", why, wsize);
}

static int load_file(bar_app_manifest *out, const char *path, const char *prefix, char *why,
                     size_t wsize)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text;
	ssize_t r;
	size_t got = 0;
	int rc;

	if (fd < 0) {
		snprintf(why, wsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_size > BAR_APPS_MANIFEST_MAX) {
		snprintf(why, wsize, "%s: %s", path, st.st_size > BAR_APPS_MANIFEST_MAX ?
		         "larger than 1 MiB" : strerror(errno));
		close(fd);
		return -1;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		snprintf(why, wsize, "%s: out of memory", path);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	       (r = read(fd, text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	rc = parse_text(out, text, got, path, prefix, why, wsize);
	free(text);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every <source>.conf of dir, each parsed with its apps named
 * "<source>.<app>", into one manifest. */
static int load_dir(bar_app_manifest *out, const char *dir, char *why, size_t wsize)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[BAR_APPS_SOURCES_MAX + 1];
	size_t nn = 0;
	bar_app_manifest m = {0};
	int rc = 0;

	if (!d) {
		snprintf(why, wsize, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
			continue;
		if (nn == BAR_APPS_SOURCES_MAX) {
			snprintf(why, wsize, "%s: more than %d manifests", dir, BAR_APPS_SOURCES_MAX);
			rc = -1;
			break;
		}
		names[nn++] = strdup(e->d_name);
	}
	closedir(d);
	if (nn)
		qsort(names, nn, sizeof(*names), cmp_name);
	for (size_t i = 0; rc == 0 && i < nn; i++) {
		char path[1024], prefix[80], src[64];
		bar_app_manifest one;
		bar_app_def *na;

		snprintf(src, sizeof(src), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
		if (!names[i] || !label_ok(src)) {
			snprintf(why, wsize, "%s/%s: the name must be a DNS label and .conf", dir,
			         names[i] ? names[i] : "?");
			rc = -1;
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(prefix, sizeof(prefix), "%s.", src);
		if ((rc = load_file(&one, path, prefix, why, wsize)) < 0)
			break;
		if (m.n + one.n > BAR_APPS_MAX ||
		    !(na = realloc(m.apps, (m.n + one.n + 1) * sizeof(*na)))) {
			snprintf(why, wsize, "%s: more than %d apps in all", dir, BAR_APPS_MAX);
			bar_app_manifest_clear(&one);
			rc = -1;
			break;
		}
		m.apps = na;
		memcpy(m.apps + m.n, one.apps, one.n * sizeof(*one.apps));
		m.n += one.n;
		snprintf(m.sources[m.nsources], sizeof(m.sources[0]), "%s", src);
		m.generations[m.nsources++] = one.generation;
		if (one.generation > m.generation)
			m.generation = one.generation;
		free(one.apps);
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	if (rc < 0) {
		bar_app_manifest_clear(&m);
		return -1;
	}
	*out = m;
	return 0;
}

int bar_app_manifest_load(bar_app_manifest *out, const char *path, char *why, size_t wsize)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT) {
			memset(out, 0, sizeof(*out));
			return 0;
		}
		snprintf(why, wsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return load_dir(out, path, why, wsize);
	return load_file(out, path, "", why, wsize);
}
