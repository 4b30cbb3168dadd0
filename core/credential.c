/*
 * credential.c - credential references resolved and cached (credential.h).
 *
 * The cache is a short list of resolved references keyed by the
 * reference's canonical JSON text, behind one mutex; a holder keeps its
 * bar_cred alive by reference count, so a refresh (a program's credential
 * expiring) never pulls values from under a call that is using them.
 */
#include "credential.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXEC_TIMEOUT_MS 30000
#define EXEC_MAX_OUTPUT (64 * 1024)
#define FILE_MAX (1024 * 1024)
#define REFRESH_BEFORE_S 60
#define CACHE_MAX 64

struct bar_cred {
	atomic_int refs;
	char *key;          /* canonical reference text */
	json_t *values;     /* {field: string} */
	json_t *env;        /* env references: {field: VARIABLE} */
	time_t expires;     /* exec: when the values stop being valid; 0 never */
	struct timespec mtime; /* file: the version read */
	off_t size;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t exec_mu = PTHREAD_MUTEX_INITIALIZER;
static bar_cred *cache[CACHE_MAX];
static size_t n_cache;

static void wipe_values(json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		if (json_is_string(v)) {
			char *s = (char *)json_string_value(v);

			bar_memzero(s, json_string_length(v));
		}
	}
	json_decref(o);
}

/* Wipe every string of a parsed document, then free it. */
static void wipe_tree(json_t *j)
{
	const char *k;
	size_t i;
	json_t *v;

	if (json_is_string(j))
		bar_memzero((char *)json_string_value(j), json_string_length(j));
	json_object_foreach(j, k, v) {
		wipe_tree(json_incref(v));
	}
	json_array_foreach(j, i, v) {
		wipe_tree(json_incref(v));
	}
	json_decref(j);
}

void bar_cred_release(bar_cred *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	wipe_values(c->values);
	json_decref(c->env);
	free(c->key);
	free(c);
}

const char *bar_cred_get(const bar_cred *c, const char *field)
{
	const char *v;

	if (!c || !field)
		return NULL;
	if (c->env) {
		const char *var = json_string_value(json_object_get(c->env, field));

		v = var ? getenv(var) : NULL;
		return v && *v ? v : NULL;
	}
	v = json_string_value(json_object_get(c->values, field));
	return v && *v ? v : NULL;
}

const char *bar_cred_unset_var(const bar_cred *c, const char *field)
{
	const char *var = c && c->env ? json_string_value(json_object_get(c->env, field)) : NULL;
	const char *v = var ? getenv(var) : NULL;

	return var && (!v || !*v) ? var : NULL;
}

/* Copy the string members of `from` that `into` lacks. */
static void take_strings(json_t *into, const json_t *from)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)from, k, v) {
		if (json_is_string(v) && !json_object_get(into, k))
			json_object_set_new(into, k, json_string(json_string_value(v)));
	}
}

/* The fields of a resolved JSON object: top level, then status, then
 * Credentials (ExecCredential, STS-shaped output). */
static json_t *flatten(const json_t *obj)
{
	json_t *out = json_object();

	take_strings(out, obj);
	take_strings(out, json_object_get(obj, "status"));
	take_strings(out, json_object_get(obj, "Credentials"));
	return out;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* The section `profile` of an INI text ("[NAME]" or "[profile NAME]"), as
 * {key: value}; NULL when the file has no such section. */
static json_t *ini_section(char *text, const char *profile)
{
	json_t *out = NULL;
	int in = 0;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *l = trim(line), *eq;

		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']'), *name;

			if (!end)
				continue;
			*end = '\0';
			name = trim(l + 1);
			if (strncmp(name, "profile ", 8) == 0)
				name = trim(name + 8);
			in = strcmp(name, profile) == 0;
			if (in && !out)
				out = json_object();
			continue;
		}
		if (in && (eq = strchr(l, '='))) {
			*eq = '\0';
			json_object_set_new(out, trim(l), json_string(trim(eq + 1)));
		}
	}
	return out;
}

int bar_cred_parse_text(json_t **out, const char *data, size_t len, const char *profile)
{
	char *text = bar_calloc(1, len + 1);
	const char *p;
	int rc = 0;

	memcpy(text, data, len);
	p = text + strspn(text, " \t\r\n");
	if (*p == '{') {
		json_error_t jerr;
		json_t *obj = json_loadb(p, len - (size_t)(p - text), 0, &jerr);

		if (!json_is_object(obj))
			/* jansson's text never quotes the content */
			rc = bar_error_setc(BAR_EAUTH, "line %d, column %d: %s", jerr.line, jerr.column,
			                    json_is_object(obj) || obj ? "not a JSON object" : jerr.text);
		else
			*out = flatten(obj);
		wipe_tree(obj);
	} else {
		json_t *sec = ini_section(text, profile ? profile : "default");

		if (!sec)
			rc = bar_error_setc(BAR_EAUTH, "has no [%s] section (it is neither a JSON object "
			                    "nor an INI file with that profile)",
			                    profile ? profile : "default");
		else
			*out = sec;
	}
	bar_memzero(text, len);
	free(text);
	return rc;
}

static int load_file(bar_cred *c, const char *path, const char *profile, const struct stat *st)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f;
	int rc = 0;

	if (st->st_size > FILE_MAX)
		return bar_error_setc(BAR_EAUTH, "credential file %s is larger than 1 MiB", path);
	f = fopen(path, "r");
	if (!f)
		return bar_error_setc(BAR_EAUTH, "credential file %s: %s", path, strerror(errno));
	text = bar_calloc(1, (size_t)st->st_size + 1);
	n = fread(text, 1, (size_t)st->st_size, f);
	fclose(f);
	text[n] = '\0';
	if ((rc = bar_cred_parse_text(&c->values, text, n, profile)) < 0)
		bar_error_prefix("credential file %s", path);
	bar_memzero(text, n);
	free(text);
	c->mtime = st->st_mtim;
	c->size = st->st_size;
	return rc;
}

/* RFC 3339 ("2026-12-02T05:00:00Z", fractions and offsets allowed) as a
 * time_t; 0 when it cannot be read. */
static time_t parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	time_t t;

	if (!p)
		return 0;
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	t = timegm(&tm);
	if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) < 1)
			return 0;
		t -= (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
	}
	return t;
}

typedef struct exec_out {
	char *p;
	size_t len;
} exec_out;

/* Run argv, its stdout into out (at most EXEC_MAX_OUTPUT). */
static int run_program(const json_t *argv_json, exec_out *out, const char *name)
{
	size_t argc = json_array_size(argv_json);
	char **argv = bar_calloc(argc + 1, sizeof(*argv));
	int fds[2], status = 0, rc = 0, timed_out = 0;
	int64_t end = bar_now_ms() + EXEC_TIMEOUT_MS;
	pid_t pid;

	for (size_t i = 0; i < argc; i++)
		argv[i] = (char *)json_string_value(json_array_get(argv_json, i));
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(argv);
		return bar_error_setc(BAR_EAUTH, "credential program %s: pipe: %s", name,
		                      strerror(errno));
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fds[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	free(argv);
	if (pid < 0) {
		close(fds[0]);
		return bar_error_setc(BAR_EAUTH, "credential program %s: fork: %s", name,
		                      strerror(errno));
	}
	out->p = bar_calloc(1, EXEC_MAX_OUTPUT + 1);
	for (;;) {
		struct pollfd pf = {fds[0], POLLIN, 0};
		int64_t left = end - bar_now_ms();
		ssize_t n;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		n = read(fds[0], out->p + out->len, EXEC_MAX_OUTPUT - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
		if (out->len == EXEC_MAX_OUTPUT) {
			rc = bar_error_setc(BAR_EAUTH, "credential program %s printed more than 64 KiB",
			                    name);
			break;
		}
	}
	close(fds[0]);
	if (timed_out || rc)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return bar_error_setc(BAR_EAUTH, "credential program %s did not finish within 30 s",
		                      name);
	if (rc)
		return rc;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return bar_error_setc(BAR_EAUTH, "credential program %s could not be run (not found "
		                      "or not executable)", name);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return bar_error_setc(BAR_EAUTH, "credential program %s %s %d (its own messages, if "
		                      "any, are above)", name,
		                      WIFEXITED(status) ? "exited with status" : "was killed by signal",
		                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

static int load_exec(bar_cred *c, const json_t *argv_json)
{
	const char *name = json_string_value(json_array_get(argv_json, 0));
	exec_out out = {0};
	json_t *obj;
	int rc;

	if (!name || !*name)
		return bar_error_setc(BAR_EAUTH, "credential.exec names no program");
	pthread_mutex_lock(&exec_mu);
	rc = run_program(argv_json, &out, name);
	pthread_mutex_unlock(&exec_mu);
	if (rc == 0) {
		obj = json_loadb(out.p, out.len, 0, NULL);
		if (!json_is_object(obj)) {
			rc = bar_error_setc(BAR_EAUTH, "credential program %s did not print a JSON "
			                    "object", name);
		} else {
			const char *exp = json_string_value(json_object_get(obj, "Expiration"));

			if (!exp)
				exp = json_string_value(json_object_get(json_object_get(obj, "status"),
				                                        "expirationTimestamp"));
			c->expires = exp ? parse_rfc3339(exp) : 0;
			c->values = flatten(obj);
		}
		wipe_tree(obj);
	}
	if (out.p) {
		bar_memzero(out.p, out.len);
		free(out.p);
	}
	return rc;
}

/* Is the cached c still what `ref` resolves to? */
static int fresh(const bar_cred *c, const json_t *ref)
{
	const char *path = json_string_value(json_object_get(ref, "file"));
	struct stat st;

	if (path)
		return stat(path, &st) == 0 && st.st_size == c->size &&
		       st.st_mtim.tv_sec == c->mtime.tv_sec && st.st_mtim.tv_nsec == c->mtime.tv_nsec;
	if (json_object_get(ref, "exec"))
		return !c->expires || time(NULL) < c->expires - REFRESH_BEFORE_S;
	return 1;
}

static int load(bar_cred *c, const json_t *ref)
{
	const json_t *env = json_object_get(ref, "env");
	const char *path = json_string_value(json_object_get(ref, "file"));
	const json_t *exec = json_object_get(ref, "exec");
	struct stat st;

	if (json_is_object(env)) {
		c->env = json_deep_copy(env);
		return 0;
	}
	if (path) {
		if (stat(path, &st) < 0)
			return bar_error_setc(BAR_EAUTH, "credential file %s: %s", path, strerror(errno));
		return load_file(c, path, json_string_value(json_object_get(ref, "profile")), &st);
	}
	if (json_is_array(exec))
		return load_exec(c, exec);
	return bar_error_setc(BAR_EAUTH, "credential reference sets none of env, file, exec");
}

int bar_cred_resolve(bar_cred **out, const json_t *ref)
{
	char *key = json_dumps(ref, JSON_COMPACT | JSON_SORT_KEYS);
	bar_cred *c = NULL;
	size_t i;
	int rc;

	if (!key)
		return bar_error_setc(BAR_EAUTH, "credential reference is not JSON");
	pthread_mutex_lock(&cache_mu);
	for (i = 0; i < n_cache; i++)
		if (strcmp(cache[i]->key, key) == 0)
			break;
	if (i < n_cache && fresh(cache[i], ref)) {
		c = cache[i];
		atomic_fetch_add(&c->refs, 1);
		pthread_mutex_unlock(&cache_mu);
		free(key);
		*out = c;
		return 0;
	}
	/* resolve under the lock: concurrent calls of one connection wait for
	 * one program run instead of starting their own */
	c = bar_calloc(1, sizeof(*c));
	atomic_init(&c->refs, 1);
	c->key = key;
	rc = load(c, ref);
	if (rc < 0) {
		pthread_mutex_unlock(&cache_mu);
		bar_cred_release(c);
		return rc;
	}
	atomic_fetch_add(&c->refs, 1); /* the cache's */
	if (i < n_cache) {
		bar_cred_release(cache[i]);
		cache[i] = c;
	} else if (n_cache < CACHE_MAX) {
		cache[n_cache++] = c;
	} else {
		bar_cred_release(cache[0]);
		memmove(cache, cache + 1, (CACHE_MAX - 1) * sizeof(*cache));
		cache[CACHE_MAX - 1] = c;
	}
	pthread_mutex_unlock(&cache_mu);
	*out = c;
	return 0;
}

void bar_cred_cache_clear(void)
{
	pthread_mutex_lock(&cache_mu);
	for (size_t i = 0; i < n_cache; i++)
		bar_cred_release(cache[i]);
	n_cache = 0;
	pthread_mutex_unlock(&cache_mu);
}
