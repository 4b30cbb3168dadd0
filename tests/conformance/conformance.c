/*
 * conformance.c - the provider conformance suite: one program that loads a
 * provider plugin and runs the same contract tests against it, each a
 * named case (see docs/conformance.md for what each checks and how a
 * driver uses it).
 *
 *   conformance [options] PLUGIN.so CONFIG_JSON REGION
 *   conformance -list
 *
 * Output is TAP-like: "ok N - case", "not ok N - case" with the reasons as
 * "#" lines below it, "ok N - case # SKIP why", and a closing line
 * "N passed, N failed"; the exit status is 1 when a case failed.
 *
 * The cases run in a child process under a time limit (tests/watch.h); the
 * parent, a child subreaper, then deletes through the plugin everything the
 * child's ledger says it made, lists every type for leftovers of this run's
 * lineage, kills any process left to it and removes the run's temporary
 * directory ("@TMPDIR@" in a config), however the child ended.
 */
#include "conformance.h"
#include "../watch.h"

#include <fnmatch.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct conf_case {
	const char *name;
	conf_case_fn fn;
	int type; /* per-type cases: the type; -1 */
	const char *doc;
} conf_case;

#define TYPE_CASES(prefix, fn, doc)                                                         \
	{ prefix ".vnet", fn, T_VNET, doc }, { prefix ".securitygroup", fn, T_SG, doc },    \
	{ prefix ".sshkey", fn, T_KEY, doc }, { prefix ".image", fn, T_IMAGE, doc },        \
	{ prefix ".spec", fn, T_SPEC, doc }, { prefix ".vm", fn, T_VM, doc }
#define TYPE_CASES_REVERSED(prefix, fn, doc)                                                \
	{ prefix ".vm", fn, T_VM, doc }, { prefix ".spec", fn, T_SPEC, doc },               \
	{ prefix ".image", fn, T_IMAGE, doc }, { prefix ".sshkey", fn, T_KEY, doc },        \
	{ prefix ".securitygroup", fn, T_SG, doc }, { prefix ".vnet", fn, T_VNET, doc }

static const conf_case cases[] = {
	{ "abi-refused", case_abi_refused, -1, "init refuses a host of an unknown ABI version" },
	{ "table", case_table, -1, "the provider table and its type descriptions" },
	{ "open-close", case_open_close, -1, "open() succeeds for the config; close() releases" },
	TYPE_CASES("create", case_create, "one observation: system id, name, status, attrs, tags"),
	TYPE_CASES("read", case_read, "read returns what create made; another type's id is not found"),
	TYPE_CASES("list", case_list, "list includes it with its tags; only tagged, only its region"),
	TYPE_CASES("update", case_update, "an in-place change succeeds"),
	{ "idempotency", case_idempotency, -1, "the same key makes nothing new, another key does" },
	{ "operations", case_operations, -1, "long-running create and delete reach their end" },
	{ "vm.suspend-resume", case_vm_suspend_resume, -1, "suspend -> Suspended, resume -> Running" },
	{ "vm.reboot", case_vm_reboot, -1, "reboot of a Running VM -> Running" },
	{ "vm.reboot-suspended", case_vm_reboot_suspended, -1, "reboot of a Suspended VM -> "
	  "BAR_ECONFLICT" },
	{ "vm.unknown-action", case_vm_unknown_action, -1, "an unknown VM action -> BAR_ENOTSUP" },
	{ "cancel", case_cancel, -1, "a waiting call ends promptly with BAR_ECANCELED" },
	{ "deadline", case_deadline, -1, "a call past its deadline fails promptly (BAR_ETIMEOUT)" },
	{ "concurrency", case_concurrency, -1, "N creates and deletes from N threads at once" },
	{ "errors.unknown-type", case_unknown_type, -1, "a type it does not declare -> BAR_ENOTSUP" },
	{ "errors.malformed-input", case_malformed_input, -1, "input that is not a JSON object -> "
	  "BAR_EINVALID" },
	{ "errors.emit-refused", case_emit_refused, -1, "a host refusing an observation -> "
	  "BAR_EFAIL" },
	{ "secrets.refused", case_secret_refused, -1, "a host refusing a generated key's secret: "
	  "the create fails, nothing is left" },
	TYPE_CASES_REVERSED("delete", case_delete, "delete; then delete and read give "
	                    "BAR_ENOTFOUND, list omits it"),
	{ "secrets", case_secrets, -1, "no secret in attrs, tags, errors, logs or tokens" },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

typedef struct tally {
	int n, passed, failed, skipped;
} tally;

static conf g;
static tally *tl; /* shared with the child */

/* ---- reporting ---- */

__attribute__((format(printf, 3, 0))) static void
out_add(conf *c, const char *prefix, const char *fmt, va_list ap)
{
	char line[4096];
	size_t len;

	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(prefix) + strlen(line) + 2;
	c->out = realloc(c->out, c->out_len + len + 1);
	if (!c->out)
		abort();
	c->out_len += (size_t)snprintf(c->out + c->out_len, len + 1, "%s%s\n", prefix, line);
}

/* A line under the running case; a failure counts against it. */
__attribute__((format(printf, 3, 0))) static void
report(conf *c, int failure, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&c->mu);
	c->case_failures += failure;
	out_add(c, failure ? "#   " : "# ", fmt, ap);
	pthread_mutex_unlock(&c->mu);
}

void conf_fail(conf *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, 1, fmt, ap);
	va_end(ap);
}

void conf_note(conf *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, 0, fmt, ap);
	va_end(ap);
}

void conf_skip(conf *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->skip, sizeof(c->skip), fmt, ap);
	va_end(ap);
}

void conf_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) < 0)
		;
}

json_t *conf_fx(conf *c, const char *key)
{
	return json_object_get(c->fx, key);
}

int64_t conf_fx_int(conf *c, const char *key)
{
	return json_integer_value(json_object_get(c->fx, key));
}

int conf_type_index(const char *name)
{
	for (int t = 0; name && t < CONF_NTYPES; t++)
		if (strcmp(conf_type_names[t], name) == 0)
			return t;
	return -1;
}

const bar_type_info *conf_declared(conf *c, int t)
{
	for (size_t i = 0; c->p && c->p->types && c->p->types[i] && i < 64; i++)
		if (c->p->types[i]->type && strcmp(c->p->types[i]->type, conf_type_names[t]) == 0)
			return c->p->types[i];
	return NULL;
}

int conf_lookup_type(conf *c, int t)
{
	const bar_type_info *ti = conf_declared(c, t);

	return ti && BAR_COVERS(ti, flags) && (ti->flags & BAR_TYPE_LOOKUP);
}

/* ---- options ---- */

static void usage(void)
{
	fprintf(stderr,
	        "usage: conformance [options] PLUGIN.so CONFIG_JSON REGION\n"
	        "       conformance -list\n"
	        "  -run GLOBS          only the cases matching one of these (comma-separated)\n"
	        "  -skip GLOBS[:WHY]   skip these cases, saying why (repeatable)\n"
	        "  -fixture FILE|JSON  the provider's resource attributes and limits\n"
	        "  -wait-config JSON   a connection config under which calls wait (cancel, "
	        "deadline)\n"
	        "  -credentials FILE   JSON object: what host->credential answers\n"
	        "  -timeout SECONDS    time limit of the whole run (default 600)\n"
	        "  -needs-root         exit 77 (skipped) unless run as root\n"
	        "  -live               exit 77 (skipped) unless BARISTA_LIVE_TESTS=1\n"
	        "  -v                  echo the plugin's log lines\n"
	        "In a config, @TMPDIR@ is a directory made for the run and removed after it.\n");
}

/* A flag option's field, or NULL. */
static int *flag_of(conf_opts *o, const char *a)
{
	return !strcmp(a, "-list")         ? &o->list
	       : !strcmp(a, "-needs-root") ? &o->needs_root
	       : !strcmp(a, "-live")       ? &o->live
	       : !strcmp(a, "-v")          ? &o->verbose
	                                   : NULL;
}

/* A string option's field, or NULL. */
static const char **string_of(conf_opts *o, const char *a)
{
	return !strcmp(a, "-run")           ? &o->run
	       : !strcmp(a, "-fixture")     ? &o->fixture
	       : !strcmp(a, "-wait-config") ? &o->wait_config
	       : !strcmp(a, "-credentials") ? &o->credentials
	                                    : NULL;
}

static int parse_opts(conf_opts *o, int argc, char **argv)
{
	int i;

	o->timeout_s = 600;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **str = string_of(o, a);
		int *flag = flag_of(o, a);

		if (str && v) {
			*str = argv[++i];
		} else if (!strcmp(a, "-skip") && v && o->n_skip < CONF_MAX_SKIPS) {
			o->skip[o->n_skip++] = argv[++i];
		} else if (!strcmp(a, "-timeout") && v && atoi(v) > 0) {
			o->timeout_s = atoi(argv[++i]);
		} else if (flag) {
			*flag = 1;
		} else {
			fprintf(stderr, "conformance: bad option %s\n", a);
			return -1;
		}
	}
	if (o->list && i == argc)
		return 0;
	if (argc - i != 3)
		return -1;
	o->plugin = argv[i];
	o->config = argv[i + 1];
	o->region = argv[i + 2];
	return 0;
}

/* Whether name matches one of the comma-separated globs (up to a ':'). */
static int matches(const char *globs, const char *name)
{
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(globs, ":"), globs);
	for (char *pat = strtok_r(buf, ",", &save); pat; pat = strtok_r(NULL, ",", &save))
		if (fnmatch(pat, name, 0) == 0)
			return 1;
	return 0;
}

static int selected(const conf_case *k)
{
	return !g.o.run || matches(g.o.run, k->name);
}

/* ---- the child: the cases ---- */

static void verdict(conf *c, const char *name, int64_t ms)
{
	tl->n++;
	if (c->case_failures) {
		tl->failed++;
		printf("not ok %d - %s\n", tl->n, name);
	} else if (c->skip[0]) {
		tl->skipped++;
		printf("ok %d - %s # SKIP %s\n", tl->n, name, c->skip);
	} else {
		tl->passed++;
		printf("ok %d - %s (%lld ms)\n", tl->n, name, (long long)ms);
	}
	if (c->out_len)
		fputs(c->out, stdout);
	fflush(stdout);
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
}

static void run_case(conf *c, const conf_case *k)
{
	int64_t t0 = bar_kit_now_ms();

	c->case_name = k->name;
	c->case_failures = 0;
	c->skip[0] = '\0';
	for (int i = 0; i < c->o.n_skip && !c->skip[0]; i++) {
		const char *why = strchr(c->o.skip[i], ':');

		if (matches(c->o.skip[i], k->name))
			conf_skip(c, "-skip: %s", why ? why + 1 : "excluded by the run");
	}
	if (!c->skip[0])
		k->fn(c, k->type);
	verdict(c, k->name, bar_kit_now_ms() - t0);
}

/* Init for real (after abi-refused had its go at init). */
static int init_plugin(conf *c)
{
	char *err = NULL;

	if (ch_plugin_init(&c->pl, NULL, &err) == 0) {
		c->p = c->pl.p;
		conf_open_sessions(c);
		return 0;
	}
	printf("Bail out! %s: %s\n", c->o.plugin, err);
	free(err);
	tl->failed++;
	return -1;
}

/* Delete what the cases left of the world (a case failed or was not run). */
static void teardown(conf *c)
{
	c->case_name = "teardown";
	c->case_failures = 0;
	for (int t = CONF_NTYPES - 1; t >= 0; t--) {
		if (c->world_state[t] == 1)
			conf_delete(c, &c->world[t], NULL);
		conf_res_free(&c->world[t]);
	}
	if (c->out_len) /* the cleanup case will count what is left */
		printf("# deleting what the cases left of the world:\n%s", c->out);
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
	for (int i = 0; i < 3; i++)
		if (c->opened[i] && BAR_HAS(c->p, close))
			c->p->close(c->p, c->session[i]);
}

static int body(void)
{
	conf *c = &g;
	char *err = NULL;

	if (ch_plugin_open(&c->pl, c->o.plugin, &err) < 0) {
		printf("Bail out! %s\n", err);
		free(err);
		tl->failed++;
		return 1;
	}
	for (size_t i = 0; i < N_CASES; i++) {
		if (!selected(&cases[i]))
			continue;
		if (cases[i].fn != case_abi_refused && !c->p && init_plugin(c) < 0)
			break;
		run_case(c, &cases[i]);
	}
	if (c->p)
		teardown(c);
	ch_plugin_close(&c->pl);
	ch_transcript_free();
	return tl->failed ? 1 : 0;
}

/* ---- the parent: setup and cleanup ---- */

/* The config with @TMPDIR@ replaced (malloc'd). */
static char *resolve(const char *config, const char *tmpdir)
{
	size_t n = strlen(config) + 1, tl_len = strlen(tmpdir);
	char *out = malloc(n * (tl_len + 1)), *o = out;

	if (!out)
		abort();
	for (const char *s = config; *s;) {
		if (strncmp(s, "@TMPDIR@", 8) == 0) {
			o += sprintf(o, "%s", tmpdir);
			s += 8;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* -credentials FILE: a JSON object of strings. */
static int load_credentials(conf *c)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	if (!c->o.credentials)
		return 0;
	c->creds = json_load_file(c->o.credentials, 0, NULL);
	if (!json_is_object(c->creds))
		return -1;
	c->cred_pairs = calloc(2 * json_object_size(c->creds) + 1, sizeof(char *));
	json_object_foreach(c->creds, k, v) {
		c->cred_pairs[i++] = k;
		c->cred_pairs[i++] = json_is_string(v) ? json_string_value(v) : "";
	}
	ch_credentials_set(c->cred_pairs);
	return 0;
}

static int setup(conf *c, char **err)
{
	snprintf(c->tmpdir, sizeof(c->tmpdir), "%s/barista-conformance-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(c->tmpdir))
		return *err = strdup("mkdtemp failed"), -1;
	snprintf(c->ledger, sizeof(c->ledger), "%s/ledger", c->tmpdir);
	c->config[0] = resolve(c->o.config, c->tmpdir);
	c->config[1] = resolve(c->o.wait_config ? c->o.wait_config : c->o.config, c->tmpdir);
	conf_uuid(c->lineage);
	snprintf(c->run_id, sizeof(c->run_id), "%.6s", c->lineage);
	pthread_mutex_init(&c->mu, NULL);
	if (load_credentials(c) < 0)
		return *err = strdup("-credentials: not a JSON object"), -1;
	if (c->o.verbose)
		ch_log_echo(BAR_LOG_DEBUG);
	return conf_fixture_load(c, err);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path) < 0 ? -1 : 0;
}

/* SIGKILL and reap every process left to us (VM processes reparented to
 * this subreaper), until none is left. */
static void kill_children(void)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	for (int round = 0; round < 50; round++) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		char *save = NULL;

		if (f)
			fclose(f);
		buf[n] = '\0';
		if (!n)
			break;
		for (char *p = strtok_r(buf, " \n", &save); p; p = strtok_r(NULL, " \n", &save))
			kill((pid_t)atoi(p), SIGKILL);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		conf_sleep_ms(20);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* The "cleanup" case, run by the parent. */
static void cleanup_case(conf *c, int body_rc)
{
	char *err = NULL;
	int left = 0, found;

	c->case_name = "cleanup";
	c->case_failures = 0;
	c->skip[0] = '\0';
	if (ch_plugin_open(&c->pl, c->o.plugin, &err) < 0 ||
	    ch_plugin_init(&c->pl, NULL, &err) < 0) {
		conf_fail(c, "cannot load the plugin to clean up: %s", err);
		free(err);
	} else {
		c->p = c->pl.p;
		found = conf_cleanup(c, &left);
		if (found && body_rc == 0)
			conf_fail(c, "the cases passed but left %d resources behind", found);
		else if (found)
			conf_note(c, "deleted %d resources the failed run left", found - left);
		if (left)
			conf_fail(c, "%d resources of this run are still listed after the cleanup",
			          left);
		for (int i = 0; i < 3; i++)
			if (c->opened[i] && BAR_HAS(c->p, close))
				c->p->close(c->p, c->session[i]);
		ch_plugin_close(&c->pl);
	}
	c->p = NULL;
	kill_children();
	verdict(c, "cleanup", 0);
}

static void list_cases(void)
{
	for (size_t i = 0; i < N_CASES; i++)
		printf("%-24s %s\n", cases[i].name, cases[i].doc);
	printf("%-24s %s\n", "cleanup", "nothing of the run is left (always runs)");
}

int main(int argc, char **argv)
{
	char *err = NULL;
	int rc, planned = 1;

	if (parse_opts(&g.o, argc, argv) < 0)
		return usage(), 2;
	if (g.o.list)
		return list_cases(), 0;
	if (g.o.needs_root && geteuid() != 0)
		return printf("1..0 # SKIP needs root\n"), 77;
	if (g.o.live && !(getenv("BARISTA_LIVE_TESTS") && !strcmp(getenv("BARISTA_LIVE_TESTS"), "1")))
		return printf("1..0 # SKIP a live test: set BARISTA_LIVE_TESTS=1\n"), 77;
	if (setup(&g, &err) < 0) {
		fprintf(stderr, "conformance: %s\n", err ? err : "setup failed");
		return 2;
	}
	tl = mmap(NULL, sizeof(*tl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tl == MAP_FAILED)
		return perror("mmap"), 2;
	memset(tl, 0, sizeof(*tl));
	for (size_t i = 0; i < N_CASES; i++)
		planned += selected(&cases[i]);
	printf("1..%d\n# %s, region %s, lineage %s\n", planned, g.o.plugin, g.o.region, g.lineage);
	fflush(stdout);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	rc = test_run_watched(body, g.o.timeout_s);
	if (rc && (tl->n < planned - 1 || !tl->failed)) {
		tl->failed++;
		printf("not ok %d - the cases' process failed: it crashed, ran out of time or a "
		       "sanitizer reported on stderr\n", ++tl->n);
	}
	cleanup_case(&g, rc);
	nftw(g.tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	printf("# %d skipped\n%d passed, %d failed\n", tl->skipped, tl->passed, tl->failed);
	rc = tl->failed ? 1 : 0;
	free(g.config[0]);
	free(g.config[1]);
	free(g.cred_pairs);
	json_decref(g.creds);
	json_decref(g.fx);
	ch_transcript_free();
	munmap(tl, sizeof(*tl));
	return rc;
}
