/*
 * test_cli.c - the `barista` program's contract, on the sim provider:
 * exit codes, confirmation, saved plans and their staleness, failure
 * isolation, Ctrl-C, the state lock, JSON output, spec errors, and that
 * generated secrets reach the key store but nothing else.
 *
 * Usage: test_cli BARISTA_BINARY
 */
#include "error.h"
#include "testutil.h"
#include "state.h"
#include "util.h"

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *barista;
static char tmpdir[] = "/tmp/barista-cli-XXXXXX";
static char *dir, *state_path;


static void cleanup(void)
{
	char *cmd = bar_printf("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
}

/* Run barista ARGS with stdin from /dev/null; output (stdout+stderr) into
 * *out (caller frees); returns the exit status. */
static int run(char **out, const char *args)
{
	char *cmd = bar_printf("'%s' %s </dev/null 2>&1", barista, args);
	FILE *p = popen(cmd, "r");
	bar_buf b = BAR_BUF_INIT(8 << 20);
	char chunk[4096];
	size_t n;
	int st;

	while (p && (n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		bar_buf_add(&b, chunk, n);
	st = p ? pclose(p) : -1;
	free(cmd);
	*out = bar_buf_take(&b);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int run_q(const char *args)
{
	char *out;
	int rc = run(&out, args);

	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "+ barista %s -> %d\n%s", args, rc, out);
	free(out);
	return rc;
}

static void write_file(const char *name, const char *text)
{
	char *p = bar_printf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	if (!f || fputs(text, f) < 0)
		fprintf(stderr, "cannot write %s\n", p), exit(1);
	fclose(f);
	free(p);
}

static void write_config(const char *fail_on, int latency_ms, int count)
{
	char *conn = bar_printf(
	    "apiVersion: barista.dev/v1\nkind: Connection\nmetadata: {name: east}\nspec:\n"
	    "  driver: sim\n  region: us-east-1\n  maxConcurrency: 3\n"
	    "  config: {file: \"%s/sim.log\", failOn: \"%s\", createLatencyMs: \"%d\"}\n",
	    tmpdir, fail_on, latency_ms);
	char *mci = bar_printf(
	    "apiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: web}\nspec:\n  groups:\n"
	    "    - {name: a, connection: east, spec: small, image: os, vnet: net, sshKey: k1, "
	    "securityGroups: [ssh], count: %d}\n"
	    "    - {name: b, connection: east, spec: small, image: os, vnet: net, sshKey: k2, "
	    "count: 2}\n",
	    count);

	write_file("00-conn.yaml", conn);
	write_file("10-mcir.yaml",
	           "apiVersion: barista.dev/v1\nkind: VNet\nmetadata: {name: net}\nspec:\n"
	           "  connection: east\n  cidr: 10.0.0.0/16\n"
	           "  subnets: [{name: s1, cidr: 10.0.1.0/24}]\n---\n"
	           "apiVersion: barista.dev/v1\nkind: SecurityGroup\nmetadata: {name: ssh}\n"
	           "spec: {connection: east, vnet: net, ingress: [{protocol: tcp, ports: 22}]}\n"
	           "---\napiVersion: barista.dev/v1\nkind: SSHKey\nmetadata: {name: k1}\n"
	           "spec: {connection: east}\n---\n"
	           "apiVersion: barista.dev/v1\nkind: SSHKey\nmetadata: {name: k2}\n"
	           "spec: {connection: east}\n---\n"
	           "apiVersion: barista.dev/v1\nkind: Image\nmetadata: {name: os}\n"
	           "spec: {connection: east, imageId: ubuntu-22.04}\n---\n"
	           "apiVersion: barista.dev/v1\nkind: Spec\nmetadata: {name: small}\n"
	           "spec: {connection: east, vcpu: 1, memoryMiB: 1024}\n");
	write_file("20-mci.yaml", mci);
	free(conn);
	free(mci);
}

static size_t count_type(const char *type)
{
	bar_state *st = NULL;
	bar_records rs = {0};
	size_t n = 0;

	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) < 0)
		return 0;
	if (bar_state_load(st, &rs) == 0)
		for (size_t i = 0; i < rs.n; i++)
			n += !type || !strcmp(rs.items[i].type, type);
	bar_records_clear(&rs);
	bar_state_free(st);
	return n;
}

/* Records of a type in the state of directory d. */
static size_t count_type_in(const char *d, const char *type)
{
	char *path = bar_printf("%s/barista.db", d), *saved = state_path;
	size_t n;

	state_path = path;
	n = count_type(type);
	state_path = saved;
	free(path);
	return n;
}

static int has_vm(const char *name)
{
	bar_state *st = NULL;
	bar_record r = {0};
	char *addr = bar_printf("default/vm/%s", name);
	int found = 0;

	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) == 0)
		found = bar_state_get(st, addr, &r) == 0;
	bar_record_clear(&r);
	bar_state_free(st);
	free(addr);
	return found;
}

static void test_basics(void)
{
	char *out, *args;

	write_config("", 0, 3);
	args = bar_printf("validate '%s'", dir);
	CHECK(run_q(args) == 0);
	free(args);
	args = bar_printf("plan -detailed-exitcode '%s'", dir);
	CHECK(run_q(args) == 2);
	free(args);
	/* No confirmation possible: refused, nothing created. */
	args = bar_printf("apply '%s'", dir);
	CHECK(run(&out, args) == 1 && strstr(out, "not a terminal"));
	CHECK(count_type(NULL) == 0);
	free(out);
	free(args);
	/* -json plan. */
	args = bar_printf("plan -json '%s'", dir);
	CHECK(run(&out, args) == 0);
	{
		json_t *j = json_loads(out, 0, NULL);

		CHECK(j && json_integer_value(json_object_get(json_object_get(j, "summary"),
		                                              "add")) == 13);
		json_decref(j);
	}
	free(out);
	free(args);
	/* Saved plan: applies exactly; the second time it is stale. */
	args = bar_printf("plan -out '%s/p.plan' '%s'", tmpdir, dir);
	CHECK(run_q(args) == 0);
	free(args);
	args = bar_printf("apply -target default/mci/web '%s/p.plan'", tmpdir);
	CHECK(run(&out, args) == 1 && strstr(out, "-target cannot be used with a saved plan"));
	CHECK(count_type(NULL) == 0);
	free(out);
	free(args);
	args = bar_printf("apply '%s/p.plan'", tmpdir);
	CHECK(run_q(args) == 0);
	CHECK(count_type("vm") == 5);
	CHECK(run(&out, args) == 1 && strstr(out, "stale"));
	free(out);
	free(args);
	args = bar_printf("plan -detailed-exitcode '%s'", dir);
	CHECK(run_q(args) == 0);
	free(args);
	/* show -json aggregates the MCI. */
	args = bar_printf("show -json '%s'", dir);
	CHECK(run(&out, args) == 0);
	{
		json_t *j = json_loads(out, 0, NULL);
		json_t *m = json_array_get(json_object_get(j, "mcis"), 0);

		CHECK(m && !strcmp(json_string_value(json_object_get(m, "status")),
		                   "Running:5 (R:5/5)"));
		CHECK(json_array_size(json_object_get(m, "vms")) == 5);
		json_decref(j);
	}
	free(out);
	free(args);
}

/* Generated private keys: in the key store (0600), nowhere else. */
static void test_secrets(void)
{
	char *keys = bar_printf("%s.keys", state_path);
	char *kpath = bar_printf("%s/default.sshkey.k1.privateKey", keys);
	char *secret = test_read_file(kpath), *db, *plan, *out, *args;
	struct stat sb;

	CHECK(secret && strlen(secret) > 10);
	CHECK(stat(kpath, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	db = test_read_file(state_path);
	args = bar_printf("plan -json -out '%s/q.plan' '%s'", tmpdir, dir);
	run(&out, args);
	plan = bar_printf("%s/q.plan", tmpdir);
	{
		char *ptext = test_read_file(plan);

		CHECK(secret && db && !memmem(db, strlen(db), secret, strlen(secret)));
		CHECK(secret && ptext && !strstr(ptext, secret) && !strstr(out, secret));
		free(ptext);
	}
	free(args);
	free(out);
	free(plan);
	free(db);
	free(secret);
	free(kpath);
	free(keys);
}

/* One VM fails: the others finish; what depends on a failed key is skipped. */
static void test_failure_isolation(void)
{
	char *out, *args = bar_printf("apply -auto-approve '%s'", dir);

	/* a new key whose create fails, and an MCI that needs it */
	write_file("40-api.yaml",
	           "apiVersion: barista.dev/v1\nkind: SSHKey\nmetadata: {name: k3}\n"
	           "spec: {connection: east}\n---\n"
	           "apiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: api}\nspec:\n"
	           "  groups: [{name: x, connection: east, spec: small, image: os, vnet: net, "
	           "sshKey: k3, count: 2}]\n");
	write_config("create:web-a-5,create:k3", 0, 6);
	CHECK(run(&out, args) == 1);
	CHECK(strstr(out, "InjectedFault") && strstr(out, "2 failed, 2 not started"));
	CHECK(strstr(out, "\nApply failed! Resources: ") && !strstr(out, "complete!"));
	CHECK(strstr(out, "skipped (not started: default/sshkey/k3 failed)"));
	CHECK(has_vm("web-a-4") && has_vm("web-a-6") && !has_vm("web-a-5"));
	CHECK(!has_vm("api-x-1") && !has_vm("api-x-2"));
	free(out);
	{
		char *extra = bar_printf("%s/40-api.yaml", dir);

		unlink(extra);
		free(extra);
	}
	write_config("", 0, 6);
	{
		char *p = bar_printf("plan '%s'", dir);

		CHECK(run(&out, p) == 0 && strstr(out, "+ default/vm/web-a-5") &&
		      strstr(out, "1 to add, 1 to change, 1 to destroy")); /* api's MCI record */
		free(out);
		free(p);
	}
	CHECK(run_q(args) == 0 && has_vm("web-a-5"));
	free(args);
}

/* barista ARGS in the background, its output on a pipe, returned once `n`
 * output lines have contained both `what` and `verb`.  Returns the pid;
 * *f reads the rest of its output. */
static pid_t start_bg(FILE **f, const char *args_in, const char *what, const char *verb, int n)
{
	char *args = bar_printf("exec '%s' %s", barista, args_in);
	char line[512];
	int fds[2], started = 0;
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		execl("/bin/sh", "sh", "-c", args, (char *)NULL); /* sh execs barista */
		_exit(127);
	}
	close(fds[1]);
	free(args);
	*f = fdopen(fds[0], "r");
	while (*f && fgets(line, sizeof(line), *f))
		if (strstr(line, what) && strstr(line, verb) && ++started == n)
			break;
	return pid;
}

/* An apply in the background, stopped once two VM creates are in flight. */
static pid_t start_apply(FILE **f)
{
	char *args = bar_printf("apply -auto-approve -parallelism 2 '%s'", dir);
	pid_t pid = start_bg(f, args, "/vm/web-a-", "Creating...", 2);

	free(args);
	return pid;
}

/* Read the rest of the output (into *out when out is not NULL; the caller
 * frees it) and return the exit status. */
static int finish_apply(pid_t pid, FILE *f, char **out)
{
	bar_buf b = BAR_BUF_INIT(1 << 20);
	char line[512];
	int status = 0;

	while (f && fgets(line, sizeof(line), f))
		bar_buf_puts(&b, line);
	if (f)
		fclose(f);
	waitpid(pid, &status, 0);
	if (out)
		*out = bar_buf_take(&b);
	bar_buf_free(&b);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* Apply with the latency off again and expect `vms` VMs. */
static void finish_job(int count, size_t vms)
{
	char *again = bar_printf("apply -auto-approve '%s'", dir);

	write_config("", 0, count);
	CHECK(run_q(again) == 0 && count_type("vm") == vms);
	free(again);
}

/* The first Ctrl-C starts nothing new and waits for what runs; the state
 * then matches the provider exactly, so the next apply finishes the job. */
static void test_interrupt(void)
{
	char *plan = bar_printf("plan '%s'", dir), *out;
	char *second = bar_printf("apply -auto-approve '%s'", dir);
	FILE *f = NULL;
	pid_t pid;

	write_config("", 1000, 12); /* 6 more VMs, 1 s each, 2 at a time: 3 s to act in */
	pid = start_apply(&f);
	CHECK(pid > 0);
	/* a second apply meanwhile is refused by the lock */
	CHECK(run(&out, second) == 1 && strstr(out, "locked by apply"));
	free(out);
	kill(pid, SIGINT);
	CHECK(finish_apply(pid, f, &out) == 1);
	CHECK(strstr(out, "\nApply interrupted! Resources: ") && !strstr(out, "complete!"));
	CHECK(strstr(out, "run apply again to finish"));
	free(out);
	CHECK(count_type("vm") >= 10 && count_type("vm") < 14);
	/* nothing is lost: the plan only adds what never started */
	CHECK(run(&out, plan) == 0 && !strstr(out, "Drift") && !strstr(out, "deleted outside"));
	free(out);
	finish_job(12, 14);
	free(second);
	free(plan);
}

/* A second Ctrl-C cancels what is in flight: the apply ends at once, the
 * cancelled creates made nothing, and the next plan creates them. */
static void test_cancel(void)
{
	char *plan = bar_printf("plan '%s'", dir), *out;
	FILE *f = NULL;
	double t0;
	pid_t pid;

	write_config("", 20000, 14); /* 2 more VMs that would take 20 s each */
	pid = start_apply(&f);
	CHECK(pid > 0);
	t0 = bar_now_s();
	kill(pid, SIGINT);
	usleep(200000);
	kill(pid, SIGINT);
	CHECK(finish_apply(pid, f, &out) == 1);
	CHECK(bar_now_s() - t0 < 5);
	CHECK(strstr(out, "\nApply interrupted! ") && !strstr(out, "complete!"));
	free(out);
	CHECK(count_type("vm") == 14);
	CHECK(run(&out, plan) == 0 && strstr(out, "2 to add") && !strstr(out, "Drift"));
	free(out);
	finish_job(14, 16);
	free(plan);
}

static void test_bad_input(void)
{
	char *out, *args = bar_printf("plan '%s'", dir);

	write_file("30-bad.yaml", "apiVersion: barista.dev/v1\nkind: VNet\nmetadata: {name: x}\n"
	                          "spec:\n  connection: east\n  cidrr: 10.9.0.0/16\n");
	CHECK(run(&out, args) == 1 && strstr(out, "30-bad.yaml:6:3: ") && strstr(out, "cidrr"));
	free(out);
	free(args);
	args = bar_printf("%s/30-bad.yaml", dir);
	unlink(args);
	free(args);
	args = bar_printf("plan -replace default/vm/nope '%s'", dir);
	CHECK(run(&out, args) == 1 && strstr(out, "-replace default/vm/nope"));
	free(out);
	free(args);
	CHECK(run(&out, "plan -bogus") == 1 && strstr(out, "unknown option -bogus"));
	free(out);
	/* -target must name something; an MCI is something */
	args = bar_printf("plan -target default/mci/web -target default/vm/nope '%s'", dir);
	CHECK(run(&out, args) == 1 && strstr(out, "-target default/vm/nope: no such resource"));
	free(out);
	free(args);
	args = bar_printf("destroy -auto-approve -target default/vnet/nope '%s'", dir);
	CHECK(run(&out, args) == 1 && strstr(out, "-target default/vnet/nope: no such resource "
	                                         "in the state"));
	free(out);
	free(args);
	args = bar_printf("plan -target default/mci/web '%s'", dir);
	CHECK(run_q(args) == 0);
	free(args);
	/* numbers are whole numbers in range, nothing else */
	{
		static const char *bad[] = {"1.5", "10x", "0", "-3", "", "+5", " 5", "1001",
		                            "99999999999999999999"};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *want = bar_printf("-parallelism must be a whole number from 1 to 1000, "
			                        "not \"%s\"", bad[i]);

			args = bar_printf("apply -auto-approve -parallelism '%s' '%s'", bad[i], dir);
			CHECK(run(&out, args) == 1 && strstr(out, want));
			free(out);
			free(args);
			free(want);
		}
	}
}

/* A sim Connection named NAME in REGION whose config holds the store file
 * of directory D plus EXTRA ("" or `, key: "value"...`); a YAML document. */
static char *sim_connection(const char *name, const char *region, const char *d,
                            const char *extra)
{
	return bar_printf("apiVersion: barista.dev/v1\nkind: Connection\nmetadata: {name: %s}\n"
	                  "spec:\n  driver: sim\n  region: %s\n  maxConcurrency: 8\n"
	                  "  config: {file: \"%s/sim.log\"%s}\n",
	                  name, region, d, extra);
}

/* VNet n, SSHKey KEYS (space-separated names), Image i and Spec s on
 * connection CONN: YAML documents, each after a "---" line. */
static char *mcir_docs(const char *conn, const char *keys)
{
	bar_buf b = BAR_BUF_INIT(0);
	char key[64];
	int used;

	bar_buf_printf(&b, "---\napiVersion: barista.dev/v1\nkind: VNet\nmetadata: {name: n}\n"
	                   "spec: {connection: %s, cidr: 10.0.0.0/16, "
	                   "subnets: [{name: s, cidr: 10.0.1.0/24}]}\n", conn);
	for (const char *k = keys; sscanf(k, "%63s%n", key, &used) == 1; k += used)
		bar_buf_printf(&b, "---\napiVersion: barista.dev/v1\nkind: SSHKey\n"
		                   "metadata: {name: %s}\nspec: {connection: %s}\n", key, conn);
	bar_buf_printf(&b, "---\napiVersion: barista.dev/v1\nkind: Image\nmetadata: {name: i}\n"
	                   "spec: {connection: %s, imageId: x}\n---\n"
	                   "apiVersion: barista.dev/v1\nkind: Spec\nmetadata: {name: s}\n"
	                   "spec: {connection: %s, vcpu: 1, memoryMiB: 512}\n", conn, conn);
	return bar_buf_take(&b);
}

/* A configuration directory D holding all.yaml: the concatenated parts
 * (NULL-terminated; each is freed). */
static void write_dir(const char *d, ...)
{
	char *path = bar_printf("%s/all.yaml", d);
	FILE *f;
	va_list ap;

	mkdir(d, 0755);
	f = fopen(path, "w");
	CHECK(f != NULL);
	va_start(ap, d);
	for (char *part; (part = va_arg(ap, char *));) {
		CHECK(f && fputs(part, f) >= 0);
		free(part);
	}
	va_end(ap);
	if (f)
		fclose(f);
	free(path);
}

/* A provider throttling us (sim maxInFlight 2 under maxConcurrency 8):
 * retries with backoff and the adaptive concurrency get everything done. */
static void test_throttling(void)
{
	char *d = bar_printf("%s/throttle", tmpdir);
	char *apply = bar_printf("apply -auto-approve '%s'", d);
	char *destroy = bar_printf("destroy -auto-approve '%s'", d);
	char *out;

	write_dir(d, sim_connection("c", "r", d, ", latencyMs: \"100\", maxInFlight: \"2\""),
	          mcir_docs("c", "k"),
	          bar_strdup("---\napiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: m}\n"
	                     "spec:\n  groups: [{name: g, connection: c, spec: s, image: i, "
	                     "vnet: n, sshKey: k, count: 16}]\n"),
	          (char *)NULL);
	CHECK(run(&out, apply) == 0 && strstr(out, "22 added"));
	if (getenv("TEST_VERBOSE"))
		fputs(out, stderr);
	free(out);
	CHECK(run(&out, destroy) == 0 && strstr(out, "22 destroyed"));
	free(out);
	free(destroy);
	free(apply);
	free(d);
}

/* An interrupted destroy says so and advises destroy (not apply) again; a
 * failed one does not claim to be complete.  Deletes take 0.7 s each, one
 * at a time; k2 is deleted last (k1 depends on it) and its delete fails. */
static void test_destroy_stopped(void)
{
	char *d = bar_printf("%s/dstop", tmpdir);
	char *apply = bar_printf("apply -auto-approve '%s'", d);
	char *destroy = bar_printf("destroy -auto-approve -parallelism 1 '%s'", d);
	char *out = NULL;
	FILE *f = NULL;
	pid_t pid;

	write_dir(d, sim_connection("c", "r", d, ", latencyMs: \"700\", createLatencyMs: \"0\", "
	                                         "failOn: \"delete:k2\""),
	          bar_strdup("---\napiVersion: barista.dev/v1\nkind: VNet\nmetadata: {name: n}\n"
	                     "spec: {connection: c, cidr: 10.0.0.0/16, "
	                     "subnets: [{name: s, cidr: 10.0.1.0/24}]}\n---\n"
	                     "apiVersion: barista.dev/v1\nkind: SSHKey\nmetadata: {name: k2}\n"
	                     "spec: {connection: c}\n---\napiVersion: barista.dev/v1\n"
	                     "kind: SSHKey\nmetadata: {name: k1, dependsOn: [SSHKey/k2]}\n"
	                     "spec: {connection: c}\n"),
	          (char *)NULL);
	CHECK(run(&out, apply) == 0 && strstr(out, "Apply complete! Resources: 4 added"));
	free(out);
	pid = start_bg(&f, destroy, "default/", "Destroying...", 1);
	CHECK(pid > 0);
	kill(pid, SIGINT);
	CHECK(finish_apply(pid, f, &out) == 1);
	CHECK(strstr(out, "\nDestroy interrupted! Resources: 1 destroyed, 0 failed, 3 not started"));
	CHECK(strstr(out, "run destroy again to finish"));
	CHECK(!strstr(out, "apply") && !strstr(out, "Apply") && !strstr(out, "complete!"));
	if (getenv("TEST_VERBOSE"))
		fputs(out, stderr);
	free(out);
	CHECK(run(&out, destroy) == 1 && strstr(out, "InjectedFault"));
	CHECK(strstr(out, "\nDestroy failed! Resources: 1 destroyed, 1 failed, 1 not started"));
	CHECK(!strstr(out, "complete!"));
	if (getenv("TEST_VERBOSE"))
		fputs(out, stderr);
	free(out);
	free(destroy);
	free(apply);
	free(d);
}

/* The line of `text` that contains `what` (a copy; the caller frees it). */
static char *line_with(const char *text, const char *what)
{
	const char *p = text ? strstr(text, what) : NULL, *b, *e;

	if (!p)
		return bar_strdup("");
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	return bar_strndup(b, e ? (size_t)(e - b) : strlen(b));
}

/* In the table `out` (header: the line containing `head_key`), the row
 * containing c[0] holds c[2] in the column named c[1]: the cell starts,
 * after a space, exactly where the column's name does. */
static int cell_ok(const char *out, const char *head_key, const char *const c[3])
{
	char *head = line_with(out, head_key), *row = line_with(out, c[0]);
	const char *h = strstr(head, c[1]);
	size_t at = h ? (size_t)(h - head) : 0;
	int ok = h && at > 0 && strlen(row) > at && row[at - 1] == ' ' &&
	         !strncmp(row + at, c[2], strlen(c[2]));

	if (!ok)
		fprintf(stderr, "column %s of \"%s\" is not \"%s\":\n%s\n%s\n", c[1], c[0], c[2],
		        head, row);
	free(head);
	free(row);
	return ok;
}

/* show and state list: columns as wide as their content (names longer
 * than the old fixed widths), VMs in natural order. */
static void test_tables(void)
{
	static const char conn[] = "a-connection-with-a-long-name";
	static const char *const show_cells[][3] = {
		{"  m-a-group-with-a-long-name-1 ", "GROUP", "a-group-with-a-long-name "},
		{"  m-a-group-with-a-long-name-1 ", "CONNECTION", "a-connection-with-a-long-name "},
		{"  m-a-group-with-a-long-name-1 ", "REGION", "a-region-name-longer-than-sixteen "},
		{"  m-a-group-with-a-long-name-1 ", "STATUS", "Running"},
		{"  m-g-10 ", "GROUP", "g "}, {"  m-g-10 ", "STATUS", "Running"},
	};
	static const char *const list_cells[][3] = {
		{"default/vm/m-a-group-with-a-long-name-1 ", "STATUS", "Running "},
		{"default/vm/m-a-group-with-a-long-name-1 ", "SYSTEM ID", "sim-vm-"},
		{"default/vm/m-g-2 ", "STATUS", "Running "}, {"default/vm/m-g-2 ", "SYSTEM ID", "sim-vm-"},
		{"default/connection/a-connection-with-a-long-name ", "SYSTEM ID", "-"},
	};
	char *d = bar_printf("%s/tables", tmpdir);
	char *apply = bar_printf("apply -auto-approve '%s'", d);
	char *show = bar_printf("show '%s'", d), *list = bar_printf("state list '%s'", d);
	char *out;

	write_dir(d, sim_connection(conn, "a-region-name-longer-than-sixteen", d, ""),
	          mcir_docs(conn, "k"),
	          bar_printf("---\napiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: m}\n"
	                     "spec:\n  groups:\n    - {name: g, connection: %s, spec: s, image: i, "
	                     "vnet: n, sshKey: k, count: 11}\n    - {name: a-group-with-a-long-name, "
	                     "connection: %s, spec: s, image: i, vnet: n, sshKey: k, count: 1}\n",
	                     conn, conn),
	          (char *)NULL);
	CHECK(run_q(apply) == 0);
	CHECK(run(&out, show) == 0);
	for (size_t i = 0; i < sizeof(show_cells) / sizeof(show_cells[0]); i++)
		CHECK(cell_ok(out, "  VM ", show_cells[i]));
	CHECK(strstr(out, "  m-g-2 ") && strstr(out, "  m-g-2 ") < strstr(out, "  m-g-10 "));
	CHECK(strstr(out, "  m-g-9 ") < strstr(out, "  m-g-10 "));
	free(out);
	CHECK(run(&out, list) == 0);
	for (size_t i = 0; i < sizeof(list_cells) / sizeof(list_cells[0]); i++)
		CHECK(cell_ok(out, "ADDRESS", list_cells[i]));
	CHECK(strstr(out, "/vm/m-g-2 ") && strstr(out, "/vm/m-g-2 ") < strstr(out, "/vm/m-g-10 "));
	free(out);
	free(list);
	free(show);
	free(apply);
	free(d);
}

/* version -json is JSON; the top-level help lists every command, and every
 * command it lists exists. */
static void test_version_help(void)
{
	static const char *commands[] = {"validate", "plan", "apply", "destroy", "show",
	                                 "state list", "state show", "state rm", "state unlock",
	                                 "version", "help"};
	char *out, *help;
	json_t *j;

	CHECK(run(&out, "version -json") == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j && json_is_string(json_object_get(j, "version")) &&
	      json_is_integer(json_object_get(j, "abi")) && json_object_size(j) == 2);
	json_decref(j);
	free(out);
	CHECK(run(&out, "version -bogus") == 1);
	free(out);
	CHECK(run(&help, "help") == 0 && strstr(help, "Commands:"));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char *line = bar_printf("\n  %s ", commands[i]);
		char *args = bar_printf("%s -help", commands[i]);
		int rc = run(&out, args);

		if (!strstr(help, line) || rc != 0 || !strstr(out, "Usage: barista"))
			fprintf(stderr, "command \"%s\": in help %d, -help exits %d\n", commands[i],
			        strstr(help, line) != NULL, rc), test_failures++;
		free(out);
		free(args);
		free(line);
	}
	free(help);
	CHECK(run(&out, "bogus") == 1 && strstr(out, "unknown command"));
	free(out);
}

/* apply -json: the plan, one line per event, then the summary. */
static void test_json_lines(void)
{
	char *out, *args = bar_printf("apply -auto-approve -json '%s'", dir);
	size_t starts = 0, dones = 0, lines = 0;
	json_t *first = NULL, *last = NULL;

	write_config("", 0, 15); /* one more VM */
	CHECK(run(&out, args) == 0);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *j = json_loads(line, 0, NULL);
		const char *type = json_string_value(json_object_get(j, "type"));

		CHECK(j != NULL); /* every line is JSON */
		lines++;
		starts += type && !strcmp(type, "start");
		dones += type && !strcmp(type, "done");
		if (!first)
			first = json_incref(j);
		json_decref(last);
		last = j;
	}
	CHECK(lines >= 4 && starts == dones && dones >= 2); /* the VM and its MCI record */
	CHECK(first && !strcmp(json_string_value(json_object_get(first, "type")), "plan"));
	CHECK(last && !strcmp(json_string_value(json_object_get(last, "type")), "summary") &&
	      json_integer_value(json_object_get(last, "added")) == 1);
	json_decref(first);
	json_decref(last);
	free(out);
	free(args);
}

/* state rm forgets a resource without touching it; the next plan creates it. */
static void test_state_rm(void)
{
	char *out, *rm = bar_printf("state rm default/vm/web-b-2 -state '%s'", state_path);
	char *plan = bar_printf("plan '%s'", dir);

	CHECK(run(&out, rm) == 0 && strstr(out, "Removed default/vm/web-b-2") &&
	      strstr(out, "still exists at the provider"));
	free(out);
	CHECK(!has_vm("web-b-2"));
	CHECK(run(&out, plan) == 0 && strstr(out, "+ default/vm/web-b-2"));
	free(out);
	CHECK(run(&out, rm) == 1 && strstr(out, "no resource default/vm/web-b-2"));
	free(out);
	free(rm);
	rm = bar_printf("apply -auto-approve '%s'", dir); /* manage it again (a new VM) */
	CHECK(run_q(rm) == 0 && has_vm("web-b-2"));
	free(plan);
	free(rm);
}

/* A VM deleted out of band (a delete line appended to the sim's store, as
 * another client would): -refresh-only forgets it without changing
 * anything; the next plan creates it anew. */
static void test_refresh_only(void)
{
	char *log = bar_printf("%s/sim.log", tmpdir), *out;
	char *plan_ro = bar_printf("plan -refresh-only -detailed-exitcode '%s'", dir);
	char *apply_ro = bar_printf("apply -refresh-only -auto-approve '%s'", dir);
	char *plan = bar_printf("plan '%s'", dir);
	bar_state *st = NULL;
	bar_record r = {0};
	FILE *f;

	CHECK(bar_state_open(&st, state_path, BAR_STATE_READONLY) == 0 &&
	      bar_state_get(st, "default/vm/web-b-1", &r) == 0 && r.system_id);
	bar_state_free(st);
	f = fopen(log, "a");
	CHECK(f && r.system_id &&
	      fprintf(f, "D\tvm\tus-east-1\t%s\n", r.system_id ? r.system_id : "") > 0);
	if (f)
		fclose(f);
	CHECK(run(&out, plan_ro) == 2 && strstr(out, "- default/vm/web-b-1") &&
	      strstr(out, "forget it") && strstr(out, "0 to add"));
	free(out);
	CHECK(run(&out, apply_ro) == 0 && !has_vm("web-b-1"));
	free(out);
	CHECK(run(&out, plan) == 0 && strstr(out, "+ default/vm/web-b-1") &&
	      !strstr(out, "deleted outside"));
	free(out);
	bar_record_clear(&r);
	free(plan);
	free(apply_ro);
	free(plan_ro);
	free(log);
}

static void test_destroy(void)
{
	char *out, *args = bar_printf("destroy -auto-approve '%s'", dir);
	char *keys = bar_printf("%s.keys", state_path);

	CHECK(run(&out, args) == 0 && strstr(out, "Destroy complete"));
	CHECK(count_type(NULL) == 0);
	CHECK(access(keys, F_OK) != 0);
	free(out);
	free(args);
	free(keys);
}

/* ---- ABI v2: idempotency, partial creates, long-running operations ---- */

/* A small configuration in its own directory: one sim connection with
 * `extra` config keys and an MCI of `count` VMs.  Returns the directory. */
static char *small_config_mci(const char *name, const char *extra, int count,
                              const char *mci_extra);

static char *small_config(const char *name, const char *extra, int count)
{
	return small_config_mci(name, extra, count, "");
}

/* The same, with `mci_extra` lines (indented two spaces) in the MCI's spec. */
static char *small_config_mci(const char *name, const char *extra, int count,
                              const char *mci_extra)
{
	char *d = bar_printf("%s/%s", tmpdir, name);
	char *path = bar_printf("%s/all.yaml", d);
	char *text = bar_printf(
	    "apiVersion: barista.dev/v1\nkind: Connection\nmetadata: {name: c}\nspec:\n"
	    "  driver: sim\n  region: r\n"
	    "  config: {file: \"%s/sim.log\"%s%s}\n---\n"
	    "apiVersion: barista.dev/v1\nkind: VNet\nmetadata: {name: n}\n"
	    "spec: {connection: c, cidr: 10.0.0.0/16, subnets: [{name: s, cidr: 10.0.1.0/24}]}\n"
	    "---\napiVersion: barista.dev/v1\nkind: SSHKey\nmetadata: {name: k}\n"
	    "spec: {connection: c, publicKey: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk t\"}\n"
	    "---\napiVersion: barista.dev/v1\nkind: Image\n"
	    "metadata: {name: i}\nspec: {connection: c, imageId: x}\n---\n"
	    "apiVersion: barista.dev/v1\nkind: Spec\nmetadata: {name: s}\n"
	    "spec: {connection: c, vcpu: 1, memoryMiB: 512}\n---\n"
	    "apiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: m}\nspec:\n%s  groups: "
	    "[{name: g, connection: c, spec: s, image: i, vnet: n, sshKey: k, count: %d}]\n",
	    d, *extra ? ", " : "", extra, mci_extra, count);
	FILE *f;

	mkdir(d, 0755);
	f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0);
	if (f)
		fclose(f);
	free(text);
	free(path);
	return d;
}

/* Live VMs in a sim log, counted from its lines (P puts, D deletes), so
 * that a duplicate nothing tracks is seen. */
static int sim_vms(const char *d)
{
	char *cmd = bar_printf("awk -F'\t' '$1==\"P\" && $2==\"vm\" {live[$4]=1} "
	                       "$1==\"P\" && $6 ~ /^Deleting@/ {delete live[$4]} "
	                       "$1==\"D\" {delete live[$4]} END {n=0; for (k in live) n++; "
	                       "print n}' '%s/sim.log'", d);
	FILE *p = popen(cmd, "r");
	int n = -1;

	if (!p || fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	free(cmd);
	return n;
}

static const char *state_path_of(const char *d)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/barista.db", d);
	return path;
}

static int run_in(char **out, const char *verb, const char *d)
{
	char *args = bar_printf("%s '%s'", verb, d);
	int rc = run(out, args);

	free(args);
	return rc;
}

/* Every create's reply is lost once: the host retries with the same
 * idempotency key and the provider hands back what it made. */
static void test_lost_replies(void)
{
	char *d = small_config("lost", "lostReplyRate: \"1\"", 4), *out;

	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && strstr(out, "10 added"));
	free(out);
	CHECK(sim_vms(d) == 4);
	CHECK(run_in(&out, "plan -detailed-exitcode", d) == 0);
	free(out);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	free(d);
}

/* A create that made a VM and then failed: the VM is recorded tainted and
 * replaced by the next apply; nothing is left untracked. */
static void test_partial_create(void)
{
	char *d = small_config("partial", "partialOn: \"create:m-g-2\"", 3), *out;

	CHECK(run_in(&out, "apply -auto-approve", d) == 1 &&
	      strstr(out, "InjectedPartialFailure") && strstr(out, "next apply replaces it"));
	free(out);
	CHECK(sim_vms(d) == 3);
	free(small_config("partial", "", 3));
	CHECK(run_in(&out, "plan", d) == 0 && strstr(out, "-/+ default/vm/m-g-2") &&
	      strstr(out, "tainted"));
	free(out);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 3);
	free(out);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	free(d);
}

/* Long-running operations: a run killed while its creates are under way
 * leaves their tokens in state; the next apply polls the same operations
 * and makes nothing twice. */
static void test_resume_operation(void)
{
	char *d = small_config("async", "asyncMs: \"3000\"", 2), *out;
	char *args = bar_printf("exec '%s' apply -auto-approve '%s' >/dev/null 2>&1", barista, d);
	double t0 = bar_now_s();
	pid_t pid = fork();
	int waited = 0;

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", args, (char *)NULL);
		_exit(127);
	}
	/* wait until both VMs are recorded as Creating, then kill -9 */
	while (bar_now_s() - t0 < 20) {
		bar_state *st = NULL;
		bar_records rs = {0};
		int creating = 0;

		if (bar_state_open(&st, state_path_of(d), BAR_STATE_READONLY) == 0 &&
		    bar_state_load(st, &rs) == 0)
			for (size_t i = 0; i < rs.n; i++)
				creating += !strcmp(rs.items[i].type, "vm") && rs.items[i].operation;
		bar_records_clear(&rs);
		bar_state_free(st);
		if (creating == 2)
			break;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(run_in(&out, "plan", d) == 0 && strstr(out, "wait for that operation"));
	free(out);
	t0 = bar_now_s();
	CHECK(run_in(&out, "apply -auto-approve", d) == 0);
	waited = bar_now_s() - t0 < 10;
	free(out);
	CHECK(waited && sim_vms(d) == 2);
	CHECK(run_in(&out, "plan -detailed-exitcode", d) == 0);
	free(out);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	free(args);
	free(d);
}

/* SIGTERM is the first Ctrl-C: in-flight work finishes and is recorded,
 * the lock is released, and the next apply completes the job. */
static void test_sigterm(void)
{
	char *d = small_config("term", "createLatencyMs: \"1500\"", 6), *out;
	char *args = bar_printf("exec '%s' apply -auto-approve -parallelism 2 '%s' 2>&1", barista,
	                        d);
	FILE *f = popen(args, "r");
	char line[512];
	int started = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "Creating...") && ++started == 1)
			break;
	CHECK(started == 1);
	CHECK(system("pkill -TERM -f '[b]arista apply -auto-approve -parallelism 2'") == 0);
	while (f && fgets(line, sizeof(line), f))
		;
	CHECK(f && WEXITSTATUS(pclose(f)) == 1);
	CHECK(run_in(&out, "plan", d) == 0 && !strstr(out, "deleted outside"));
	free(out);
	free(small_config("term", "", 6));
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 6);
	free(out);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0);
	free(out);
	free(args);
	free(d);
}

/* A lost state: plan refuses to make everything twice; orphans lists what
 * the providers hold, import adopts one, orphans -delete removes the rest,
 * and apply then makes only what is missing. */
static void test_lost_state(void)
{
	char *d = small_config("lost-state", "", 3), *out, *cmd, *sysid = NULL;
	char *state = bar_printf("%s/barista.db", d);
	json_t *list, *o;
	size_t i;

	CHECK(run_in(&out, "apply -auto-approve", d) == 0);
	free(out);
	cmd = bar_printf("rm -f '%s' '%s-wal' '%s-shm'", state, state, state);
	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(run_in(&out, "plan", d) == 1 && strstr(out, "the state was lost") &&
	      strstr(out, "barista import"));
	free(out);
	CHECK(run_in(&out, "orphans -json", d) == 0);
	list = json_loads(out, 0, NULL);
	free(out);
	CHECK(json_array_size(list) == 7); /* vnet, key, image, spec, 3 VMs */
	json_array_foreach(list, i, o)
		if (!strcmp(json_string_value(json_object_get(o, "address")), "default/vm/m-g-2"))
			sysid = bar_strdup(json_string_value(json_object_get(o, "system_id")));
	json_decref(list);
	CHECK(sysid != NULL);
	cmd = bar_printf("import default/vm/m-g-2 %s", sysid ? sysid : "none");
	CHECK(run_in(&out, cmd, d) == 0 && strstr(out, "1 added"));
	free(out);
	free(cmd);
	CHECK(run_in(&out, "orphans -delete -auto-approve", d) == 0 && strstr(out, "6 destroyed"));
	free(out);
	CHECK(run_in(&out, "orphans", d) == 0 && strstr(out, "No orphans"));
	free(out);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 3);
	free(out);
	CHECK(run_in(&out, "plan -detailed-exitcode", d) == 0);
	free(out);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	free(sysid);
	free(state);
	free(d);
}

/* A VM action re-records the VM: what it depends on must stay recorded
 * (a destroy orders deletes by it). */
static int vm_deps_kept(const char *d, const char *vm)
{
	char *path = bar_printf("%s/barista.db", d), *addr = bar_printf("default/vm/%s", vm);
	bar_state *st = NULL;
	bar_record r = {0};
	int ok = 0;

	if (bar_state_open(&st, path, BAR_STATE_READONLY) == 0 && bar_state_get(st, addr, &r) == 0)
		ok = r.deps && strstr(r.deps, "default/vnet/") && strstr(r.deps, "default/spec/");
	bar_record_clear(&r);
	bar_state_free(st);
	free(addr);
	free(path);
	return ok;
}

/* The MCI as one object: suspend, an illegal reboot refused before anything
 * runs, resume of one VM, the plan proposing to restore the spec's state,
 * terminate kept as Terminated until apply re-creates, status counts. */
static void test_lifecycle(void)
{
	char *d = small_config("lifecycle", "", 4), *out;
	json_t *j;

	CHECK(run_in(&out, "apply -auto-approve", d) == 0);
	free(out);
	CHECK(run_in(&out, "mci suspend m", d) == 0 && strstr(out, "Suspended:4 (R:0/4)"));
	free(out);
	CHECK(vm_deps_kept(d, "m-g-1"));
	CHECK(run_in(&out, "mci reboot m", d) == 1 && strstr(out, "default/vm/m-g-1 (Suspended)") &&
	      strstr(out, "nothing was done"));
	free(out);
	CHECK(run_in(&out, "mci resume m -vm m-g-2", d) == 0 &&
	      strstr(out, "Partial-Suspended:3 (R:1/4)"));
	free(out);
	CHECK(run_in(&out, "plan", d) == 0 && strstr(out, "(resume)") &&
	      strstr(out, "3 to change"));
	free(out);
	CHECK(run_in(&out, "mci status m -json", d) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(json_integer_value(json_object_get(json_object_get(j, "counts"), "Suspended")) == 3 &&
	      json_integer_value(json_object_get(json_object_get(j, "counts"), "Running")) == 1);
	json_decref(j);
	free(out);
	CHECK(run_in(&out, "mci terminate m -group g", d) == 1 && strstr(out, "refusing"));
	free(out);
	CHECK(run_in(&out, "mci terminate m -auto-approve", d) == 0 &&
	      strstr(out, "Terminated:4 (R:0/4)") && sim_vms(d) == 0);
	free(out);
	CHECK(run_in(&out, "plan", d) == 0 && strstr(out, "was terminated") &&
	      strstr(out, "4 to add"));
	free(out);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 4);
	free(out);
	CHECK(run_in(&out, "mci status nope", d) == 1 && strstr(out, "no MCI default/mci/nope"));
	free(out);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	free(d);
}

/* policyOnPartialFailure with one VM failing before it was made and one
 * made and then failed: continue keeps the rest, rollback deletes every VM
 * of the MCI this apply made, refine only the failed one that was made. */
static void test_partial_policy(void)
{
	static const struct {
		const char *policy;
		int vms, destroyed;
	} cases[] = {{"continue", 3, 0}, {"rollback", 0, 3}, {"refine", 2, 1}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name = bar_printf("policy-%s", cases[i].policy);
		char *mci = bar_printf("  policyOnPartialFailure: %s\n", cases[i].policy);
		char *d = small_config_mci(name, "partialOn: \"create:m-g-2\", failOn: "
		                           "\"create:m-g-3\"", 4, mci);
		char *want = bar_printf("%d destroyed, 2 failed", cases[i].destroyed), *out;

		CHECK(run_in(&out, "apply -auto-approve", d) == 1 && strstr(out, want) &&
		      sim_vms(d) == cases[i].vms);
		free(out);
		free(small_config_mci(name, "", 4, mci));
		CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 4);
		free(out);
		CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
		free(out);
		free(want);
		free(d);
		free(mci);
		free(name);
	}
}

/* Live VMs of one region in a sim log. */
static int sim_vms_in(const char *d, const char *region)
{
	char *cmd = bar_printf("awk -F'\t' '$1==\"P\" && $2==\"vm\" && $3==\"%s\" {live[$4]=1} "
	                       "$1==\"D\" {delete live[$4]} END {n=0; for (k in live) n++; "
	                       "print n}' '%s/sim.log'", region, d);
	FILE *p = popen(cmd, "r");
	int n = -1;

	if (!p || fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	free(cmd);
	return n;
}

/* Regressions of the spine: a label change reaches the provider; a group
 * moved to another connection is deleted where it was, not where it goes;
 * -json errors carry the provider's code and the operation as fields. */
static void test_moves_and_labels(void)
{
	char *d = small_config("moves", "", 2), *out, *cmd, *yaml, *extra, *path;
	FILE *f;

	path = bar_printf("%s/all.yaml", d);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0);
	free(out);
	cmd = bar_printf("sed -i 's/count: 2}]/count: 2, labels: {tier: gold}}]/' '%s'", path);
	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && strstr(out, "3 changed")); /* +MCI */
	free(out);
	cmd = bar_printf("grep -q 'sim-vm.*\"tier\":\"gold\"' '%s/sim.log'", d);
	CHECK(system(cmd) == 0); /* the provider has the new labels */
	free(cmd);
	/* a second connection in region r2 with its own resources; the group moves */
	extra = bar_printf("%s/more.yaml", d);
	yaml = bar_printf(
	    "apiVersion: barista.dev/v1\nkind: Connection\nmetadata: {name: c2}\n"
	    "spec: {driver: sim, region: r2, config: {file: \"%s/sim.log\"}}\n---\n"
	    "apiVersion: barista.dev/v1\nkind: VNet\nmetadata: {name: n2}\n"
	    "spec: {connection: c2, cidr: 10.1.0.0/16, subnets: [{name: s, cidr: 10.1.1.0/24}]}\n"
	    "---\napiVersion: barista.dev/v1\nkind: SSHKey\nmetadata: {name: k2}\n"
	    "spec: {connection: c2, publicKey: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk t\"}\n"
	    "---\napiVersion: barista.dev/v1\nkind: Image\nmetadata: {name: i2}\n"
	    "spec: {connection: c2, imageId: x}\n---\napiVersion: barista.dev/v1\nkind: Spec\n"
	    "metadata: {name: s2}\nspec: {connection: c2, vcpu: 1, memoryMiB: 512}\n", d);
	f = fopen(extra, "w");
	CHECK(f && fputs(yaml, f) >= 0);
	if (f)
		fclose(f);
	cmd = bar_printf("sed -i 's/connection: c, spec: s, image: i, vnet: n, sshKey: k,/"
	                 "connection: c2, spec: s2, image: i2, vnet: n2, sshKey: k2,/' '%s'", path);
	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(sim_vms_in(d, "r") == 2 && sim_vms_in(d, "r2") == 0);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0);
	free(out);
	CHECK(sim_vms_in(d, "r") == 0 && sim_vms_in(d, "r2") == 2); /* nothing left behind */
	/* an error as JSON fields */
	free(small_config("moves-json", "failOn: \"create:m-g-1\"", 1));
	{
		char *dj = bar_printf("%s/moves-json", tmpdir);

		CHECK(run_in(&out, "apply -auto-approve -json", dj) == 1 &&
		      strstr(out, "\"provider_code\":\"InjectedFault\"") &&
		      strstr(out, "\"operation\":\"create\"") &&
		      strstr(out, "\"address\":\"default/vm/m-g-1\""));
		free(out);
		CHECK(run_in(&out, "destroy -auto-approve", dj) == 0);
		free(out);
		free(dj);
	}
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	free(yaml);
	free(extra);
	free(path);
	free(d);
}

/* A one-VM configuration `name` whose VM create is made and its reply lost
 * (the sim's lostReplyRate 1), with the apply SIGKILLed before it retries:
 * an intent, a resource, no record.  Returns the configuration's dir. */
static char *kill_after_lost_reply(const char *name)
{
	char *d = small_config(name, "lostReplyRate: \"1\", createLatencyMs: \"400\"", 1);
	char *args = bar_printf("exec '%s' apply -auto-approve '%s' >/dev/null 2>&1", barista, d);
	char *log = bar_printf("grep -q '^P\tvm\t' '%s/sim.log' 2>/dev/null", d);
	double t0 = bar_now_s();
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", args, (char *)NULL);
		_exit(127);
	}
	while (bar_now_s() - t0 < 20 && system(log) != 0) /* the VM was made... */
		usleep(20000);
	kill(pid, SIGKILL); /* ...and its reply lost: killed before the retry */
	waitpid(pid, NULL, 0);
	free(log);
	free(args);
	return d;
}

/* Damage the state of d with `sql`; the plan must say `says`, and apply must
 * repair it with `vms` live VMs and nothing more to do. */
static void damage_and_repair(const char *d, const char *sql, const char *says, int vms)
{
	char *cmd = bar_printf("sqlite3 '%s/barista.db' \"%s\"", d, sql), *out;

	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(run_in(&out, "plan", d) == 0 && strstr(out, says));
	free(out);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == vms);
	free(out);
	CHECK(run_in(&out, "plan -detailed-exitcode", d) == 0);
	free(out);
}

/* The journal reconciled by listing: a create whose reply was lost when the
 * run was killed is found by its idempotency tag and adopted; a record whose
 * id vanished is matched to the resource carrying its address tag. */
static void test_reconcile(void)
{
	char *d = kill_after_lost_reply("reconcile"), *out;

	CHECK(count_type_in(d, "vm") == 0);
	CHECK(run_in(&out, "plan", d) == 0 && strstr(out, "an interrupted run made") &&
	      strstr(out, "adopt it"));
	free(out);
	free(small_config("reconcile", "", 1));
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 1);
	free(out);
	CHECK(run_in(&out, "plan -detailed-exitcode", d) == 0);
	free(out);
	/* a record whose system id no longer exists */
	damage_and_repair(d, "UPDATE resources SET system_id='sim-vm-gone' WHERE type='vm'",
	                  "carries its address", 1);
	/* a record lost (as with a deleted -wal): adopted by its tags, not made twice */
	free(small_config("reconcile", "", 2));
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 2);
	free(out);
	damage_and_repair(d, "DELETE FROM resources WHERE address='default/vm/m-g-2'",
	                  "a record was lost", 2);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	free(d);
}

/* An interrupted create whose address the configuration then drops: what
 * it made is deleted and its intent forgotten. */
static void test_dropped_intent(void)
{
	char *d = kill_after_lost_reply("dropped"), *out, *cmd;

	CHECK(sim_vms(d) == 1 && count_type_in(d, "vm") == 0);
	free(small_config("dropped", "", 1));
	cmd = bar_printf("sed -i '/^kind: MCI/,$d' '%s/all.yaml' && sed -i '$d' '%s/all.yaml'", d, d);
	CHECK(system(cmd) == 0); /* the MCI (and its last "apiVersion" line) gone */
	free(cmd);
	CHECK(run_in(&out, "plan", d) == 0 && strstr(out, "configuration no longer has"));
	free(out);
	CHECK(run_in(&out, "apply -auto-approve", d) == 0 && sim_vms(d) == 0);
	free(out);
	cmd = bar_printf("test \"$(sqlite3 '%s/barista.db' 'SELECT count(*) FROM intents')\" = 0", d);
	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(run_in(&out, "destroy -auto-approve", d) == 0);
	free(out);
	free(d);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_cli BARISTA\n");
		return 2;
	}
	barista = argv[1];
	if (!mkdtemp(tmpdir))
		return perror("mkdtemp"), 1;
	atexit(cleanup);
	alarm(170);
	dir = bar_printf("%s/config", tmpdir);
	mkdir(dir, 0755);
	state_path = bar_printf("%s/barista.db", dir);
	test_basics();
	test_secrets();
	test_failure_isolation();
	test_interrupt();
	test_cancel();
	test_bad_input();
	test_json_lines();
	test_throttling();
	test_destroy_stopped();
	test_tables();
	test_version_help();
	test_state_rm();
	test_refresh_only();
	test_destroy();
	test_lost_replies();
	test_partial_create();
	test_resume_operation();
	test_sigterm();
	test_lost_state();
	test_lifecycle();
	test_partial_policy();
	test_moves_and_labels();
	test_reconcile();
	test_dropped_intent();
	free(dir);
	free(state_path);
	return test_verdict("cli");
}
