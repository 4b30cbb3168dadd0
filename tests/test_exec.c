/*
 * test_exec.c - `barista exec` and `barista cp` on real local VMs: an MCI
 * of three VMs (tests/data/exec) applied on the local provider, with the
 * provider's root, the state and the key store in a temporary directory.
 *
 *   exec hostname           every line "<vm>: <vm>", one per VM, exit 0
 *   -json                   one object per VM with its fields
 *   a failing VM            exit 1, the summary names it and its status
 *   -group / -vm / -label   only those VMs; unknown names list what exists
 *   a repeat exec           no new SSH session: the broker's counters say
 *                           so and each VM's sshd logged no new login
 *   a re-created VM         gets a new session (new login in its sshd log)
 *   cp up and down          content compared byte for byte, -r trees too
 *   Ctrl-C during sleep     exit 130 within seconds, no remote sleep left
 *   BARISTA_SSH_PERSIST=0   works without the broker
 *
 * The checks run in a watched child (tests/watch.h); the parent cleans up
 * whatever happened: destroy, the broker, the VMs by their ids, the files.
 *
 * Usage: test_exec BARISTA_BINARY SPEC_DIR
 */
#include "error.h"
#include "sshmux.h"
#include "state.h"
#include "testutil.h"
#include "util.h"
#include "watch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_LIMIT_S 170 /* below the ctest TIMEOUT */
#define MAX_VMS 8

static const char *barista, *specs;
static char tmpdir[] = "/tmp/barista-exec-XXXXXX";
static char *state_path, *root;

typedef struct vm {
	char *name, *system_id, *ip;
} vm;

static vm vms[MAX_VMS];
static size_t n_vms;

typedef test_out run_out;
#define run_out_clear test_out_clear

/* Run `barista CMD` with env prefix (may be ""), capturing its output. */
static run_out run_env(const char *env, const char *args)
{
	return test_barista_env(tmpdir, barista, env, args);
}

static run_out run(const char *args)
{
	return run_env("", args);
}

/* exec on the test's MCI: "exec web -state S ARGS". */
static run_out exec_web(const char *args)
{
	char *a = bar_printf("exec web -state '%s' %s", state_path, args);
	run_out r = run(a);

	free(a);
	return r;
}

static int sh(const char *cmd)
{
	return system(cmd);
}

static int apply(void)
{
	char *a = bar_printf("apply -auto-approve -state '%s' '%s'", state_path, specs);
	run_out r = run(a);
	int rc = r.rc;

	if (rc)
		fprintf(stderr, "%s%s", r.out, r.err);
	run_out_clear(&r);
	free(a);
	return rc;
}

static void vms_clear(void)
{
	for (size_t i = 0; i < n_vms; i++) {
		free(vms[i].name);
		free(vms[i].system_id);
		free(vms[i].ip);
	}
	n_vms = 0;
}

/* The VMs recorded in state. */
static size_t load_vms(void)
{
	bar_state *st = NULL;
	bar_records rs = { NULL, 0 };

	vms_clear();
	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) < 0 ||
	    bar_state_load(st, &rs) < 0) {
		fprintf(stderr, "state: %s\n", bar_error_last());
		bar_state_free(st);
		return 0;
	}
	for (size_t i = 0; i < rs.n && n_vms < MAX_VMS; i++) {
		json_t *obs;

		if (strcmp(rs.items[i].type, "vm"))
			continue;
		obs = json_loads(rs.items[i].observed ? rs.items[i].observed : "{}", 0, NULL);
		vms[n_vms].name = bar_strdup(rs.items[i].name);
		vms[n_vms].system_id = bar_strdup(rs.items[i].system_id);
		vms[n_vms].ip = bar_strdup(json_string_value(json_object_get(obs, "privateIp")));
		n_vms++;
		json_decref(obs);
	}
	bar_records_clear(&rs);
	bar_state_free(st);
	return n_vms;
}

static const vm *vm_named(const char *name)
{
	for (size_t i = 0; i < n_vms; i++)
		if (!strcmp(vms[i].name, name))
			return &vms[i];
	return NULL;
}

/* Logins sshd accepted on a VM, from its log. */
static int logins(const vm *v)
{
	char *path = bar_printf("%s/vm/%s/console.log", root, v->system_id);
	char *text = test_read_file(path);
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, "Accepted publickey")); p++)
		n++;
	free(text);
	free(path);
	return n;
}

/* Lines of text (each without its newline) equal to `want` as a set. */
static int same_lines(const char *text, const char *const *want, size_t n)
{
	size_t count = 0;

	for (const char *p = text; *p; count++) {
		size_t len = strcspn(p, "\n"), k;

		for (k = 0; k < n && (strlen(want[k]) != len || strncmp(p, want[k], len)); k++)
			;
		if (k == n) {
			fprintf(stderr, "unexpected line: %.*s\n", (int)len, p);
			return 0;
		}
		p += len + (p[len] == '\n');
	}
	if (count != n)
		fprintf(stderr, "%zu lines, expected %zu:\n%s", count, n, text);
	return count == n;
}

/* The broker's counters (connects, reuses, requests); -1 when none. */
static json_int_t broker_counter(const char *name)
{
	char *path = NULL;
	json_t *st = NULL;
	json_int_t v = -1;

	if (bar_sshmux_path(&path, state_path) == 0 && bar_sshmux_status(&st, path) == 0)
		v = json_integer_value(json_object_get(st, name));
	json_decref(st);
	free(path);
	return v;
}

/* exec hostname: each line "<vm>: <vm>", on every VM. */
static void test_hostname(void)
{
	const char *want[MAX_VMS];
	char *lines[MAX_VMS];
	run_out r = exec_web("-- hostname");

	for (size_t i = 0; i < n_vms; i++)
		want[i] = lines[i] = bar_printf("%s: %s", vms[i].name, vms[i].name);
	CHECK(r.rc == 0);
	CHECK(same_lines(r.out, want, n_vms));
	CHECK(strstr(r.err, "3 succeeded, 0 failed") != NULL);
	for (size_t i = 0; i < n_vms; i++)
		free(lines[i]);
	run_out_clear(&r);
}

/* A repeat within the idle time makes no new session: the broker reuses
 * its three and no VM's sshd accepts another login. */
static void test_reuse(void)
{
	int before[MAX_VMS];
	json_int_t connects = broker_counter("connects"), reuses = broker_counter("reuses");
	run_out r;

	CHECK(connects >= 3);
	for (size_t i = 0; i < n_vms; i++)
		before[i] = logins(&vms[i]);
	r = exec_web("-- hostname");
	CHECK(r.rc == 0);
	CHECK(broker_counter("connects") == connects);
	CHECK(broker_counter("reuses") == reuses + 3);
	for (size_t i = 0; i < n_vms; i++) {
		CHECK(before[i] >= 1);
		CHECK(logins(&vms[i]) == before[i]);
	}
	run_out_clear(&r);
}

static void check_json_line(json_t *o)
{
	const char *name = json_string_value(json_object_get(o, "vm"));
	const vm *v = name ? vm_named(name) : NULL;
	char *out = v ? bar_printf("%s\n", v->name) : NULL;

	CHECK(v != NULL);
	if (!v)
		return;
	CHECK(!strcmp(json_string_value(json_object_get(o, "address")), v->ip));
	CHECK(!strcmp(json_string_value(json_object_get(o, "stdout")), out));
	CHECK(!strcmp(json_string_value(json_object_get(o, "stderr")), "oops\n"));
	CHECK(json_integer_value(json_object_get(o, "exit_code")) == 0);
	CHECK(json_is_number(json_object_get(o, "duration_s")) &&
	      json_number_value(json_object_get(o, "duration_s")) >= 0);
	CHECK(!json_object_get(o, "error"));
	free(out);
}

static void test_json(void)
{
	run_out r = exec_web("-json -- 'hostname; echo oops >&2'");
	size_t objects = 0;

	CHECK(r.rc == 0);
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *o = json_loads(line, 0, NULL);

		CHECK(json_is_object(o));
		if (o)
			check_json_line(o);
		objects++;
		json_decref(o);
	}
	CHECK(objects == n_vms);
	run_out_clear(&r);
}

static int remote_sleeps(void)
{
	FILE *p = popen("pgrep -fc '^sleep 31$'", "r");
	int n = 0;

	if (p && fscanf(p, "%d", &n) != 1)
		n = 0;
	if (p)
		pclose(p);
	return n;
}

static void test_failure(void)
{
	run_out r = exec_web("-- 'test $(hostname) != web-tokyo-1 || exit 2'");

	CHECK(r.rc == 1);
	CHECK(strstr(r.err, "2 succeeded, 1 failed: web-tokyo-1 (exit 2)") != NULL);
	run_out_clear(&r);
	r = exec_web("-timeout 1s -vm web-seoul-1 -- sleep 31");
	CHECK(r.rc == 1);
	CHECK(strstr(r.err, "web-seoul-1 (timeout)") != NULL);
	CHECK(remote_sleeps() == 0); /* the timed-out command was stopped */
	run_out_clear(&r);
}

/* Which VMs a selection ran on: exactly those named in want. */
static void check_targets(const char *args, const char *const *want, size_t n)
{
	char *a = bar_printf("%s -- hostname", args);
	char *lines[MAX_VMS];
	run_out r = exec_web(a);

	for (size_t i = 0; i < n; i++)
		lines[i] = bar_printf("%s: %s", want[i], want[i]);
	CHECK(r.rc == 0);
	CHECK(same_lines(r.out, (const char *const *)lines, n));
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	run_out_clear(&r);
	free(a);
}

/* A bad selection (on MCI mci) fails before anything runs and says what
 * exists. */
static void check_bad_target(const char *mci, const char *args, const char *mentions)
{
	char *a = bar_printf("exec %s -state '%s' %s -- hostname", mci, state_path, args);
	run_out r = run(a);

	CHECK(r.rc == 1 && r.out[0] == '\0');
	CHECK(strstr(r.err, mentions) != NULL);
	if (!strstr(r.err, mentions))
		fprintf(stderr, "expected \"%s\" in: %s", mentions, r.err);
	run_out_clear(&r);
	free(a);
}

static void test_targeting(void)
{
	const char *tokyo[] = { "web-tokyo-1" };
	const char *two[] = { "web-seoul-2", "web-tokyo-1" };
	const char *front[] = { "web-seoul-1", "web-seoul-2" };

	check_targets("-group tokyo", tokyo, 1);
	check_targets("-vm web-seoul-2 -vm web-tokyo-1", two, 2);
	check_targets("-label tier=front", front, 2);
	check_targets("-label tier=front -label app=web -group seoul", front, 2);
	check_bad_target("web", "-group nope", "groups: seoul, tokyo");
	check_bad_target("web", "-vm web-nope-1", "VMs: web-seoul-1, web-seoul-2, web-tokyo-1");
	check_bad_target("db", "", "MCIs: default/mci/web");
	check_bad_target("web", "-label tier=middle", "tier=front");
}

/* The first VM as the library sees it (core/remote.h). */
static int first_target(bar_remote_targets *t)
{
	bar_remote_select sel = BAR_REMOTE_SELECT_INIT;
	const char *one[] = { vms[0].name };
	char *keys = bar_printf("%s.keys", state_path);
	bar_state *st = NULL;
	bar_records rs = { NULL, 0 };
	int rc = -1;

	sel.mci = "default/web";
	sel.vms = one;
	sel.n_vms = 1;
	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) == 0 &&
	    bar_state_load(st, &rs) == 0)
		rc = bar_remote_targets_select(t, &rs, keys, &sel);
	bar_records_clear(&rs);
	bar_state_free(st);
	free(keys);
	return rc;
}

/* Take a session from the pool for (identity, host key), give it back. */
static int pool_round(bar_ssh_pool *p, const bar_remote_target *t, const char *identity,
                      const char *host_key)
{
	bar_ssh_opts o = BAR_SSH_OPTS_INIT;
	bar_ssh *s = NULL;
	int reused = -1;

	o.host = t->host;
	o.port = t->port;
	o.private_key_path = t->key_path;
	o.host_key = host_key;
	if (bar_ssh_pool_get(p, &s, &o, identity, &reused) < 0)
		fprintf(stderr, "pool: %s\n", bar_error_last());
	bar_ssh_pool_put(p, s);
	return reused;
}

/* The pool reuses a session only for the same identity (address and
 * system id) and the same pinned host key, even while the old one is
 * alive: what keeps a re-created VM from ever getting its predecessor's. */
static void test_pool_identity(void)
{
	bar_remote_targets t = { NULL, NULL, 0 };
	bar_ssh_pool *p = NULL;
	char *id, *other_id, *key2;

	CHECK(first_target(&t) == 0 && t.n == 1);
	if (t.n != 1)
		return;
	id = bar_printf("%s|%s", t.items[0].address, t.items[0].system_id);
	other_id = bar_printf("%s|bvm-00000000", t.items[0].address);
	key2 = bar_printf("%s same-key-other-line", t.items[0].host_key);
	bar_ssh_pool_new(&p, 60000, 16);
	CHECK(pool_round(p, &t.items[0], id, t.items[0].host_key) == 0);
	CHECK(pool_round(p, &t.items[0], id, t.items[0].host_key) == 1);
	CHECK(pool_round(p, &t.items[0], other_id, t.items[0].host_key) == 0);
	CHECK(pool_round(p, &t.items[0], id, key2) == 0);
	bar_ssh_pool_free(p);
	bar_remote_targets_clear(&t);
	free(id);
	free(other_id);
	free(key2);
}

/* Delete a VM out of band and apply: the new VM (new system id and host
 * key) must get a session of its own, not the broker's old one. */
static void test_recreated(void)
{
	char *cmd, *old_id = bar_strdup(vms[0].system_id), *name = bar_strdup(vms[0].name);
	json_int_t connects, reuses;
	const vm *v;
	run_out r;

	fprintf(stderr, "+ deleting %s (%s) out of band\n", name, old_id);
	cmd = bar_printf("pkill -9 -f '[%c]%s'; sleep 0.2; ip netns delete '%s'", old_id[0],
	                 old_id + 1, old_id);
	sh(cmd);
	free(cmd);
	CHECK(apply() == 0);
	CHECK(load_vms() == 3);
	v = vm_named(name);
	CHECK(v && strcmp(v->system_id, old_id) != 0);
	connects = broker_counter("connects");
	reuses = broker_counter("reuses");
	cmd = bar_printf("-vm %s -- hostname", name);
	r = exec_web(cmd);
	free(cmd);
	cmd = bar_printf("%s: %s\n", name, name);
	CHECK(r.rc == 0 && !strcmp(r.out, cmd));
	CHECK(broker_counter("connects") == connects + 1);
	CHECK(broker_counter("reuses") == reuses); /* the old one was not even tried */
	CHECK(v && logins(v) == 1);
	run_out_clear(&r);
	free(cmd);
	free(old_id);
	free(name);
}

static int write_random(const char *path, size_t n)
{
	FILE *in = fopen("/dev/urandom", "rb"), *out = fopen(path, "wb");
	char buf[65536];
	int rc = in && out ? 0 : -1;

	while (rc == 0 && n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		rc = fread(buf, 1, k, in) == k && fwrite(buf, 1, k, out) == k ? 0 : -1;
		n -= k;
	}
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static int same_file(const char *a, const char *b)
{
	char *cmd = bar_printf("cmp -s '%s' '%s'", a, b);
	int rc = sh(cmd);

	if (rc)
		fprintf(stderr, "%s and %s differ\n", a, b);
	free(cmd);
	return rc == 0;
}

static void cp_ok(const char *src, const char *dst, const char *flags)
{
	char *a = bar_printf("cp -state '%s' %s '%s' '%s'", state_path, flags, src, dst);
	run_out r = run(a);

	CHECK(r.rc == 0);
	CHECK(strstr(r.err, "3 succeeded, 0 failed") != NULL);
	if (r.rc)
		fprintf(stderr, "%s%s", r.out, r.err);
	run_out_clear(&r);
	free(a);
}

/* Up to every VM and back down into <dir>/<vm>/, content compared. */
static void test_cp(void)
{
	char *data = bar_printf("%s/data.bin", tmpdir), *down = bar_printf("%s/down", tmpdir);
	char *tree = bar_printf("%s/tree", tmpdir);
	char *mk = bar_printf("mkdir -p '%s/sub' && echo one > '%s/sub/one'", tree, tree);

	CHECK(write_random(data, 3 << 20) == 0);
	CHECK(sh(mk) == 0);
	cp_ok(data, "web:/tmp/", "");
	cp_ok("web:/tmp/data.bin", down, "");
	cp_ok(tree, "web:/tmp/", "-r");
	cp_ok("web:/tmp/tree", down, "-r");
	for (size_t i = 0; i < n_vms; i++) {
		char *got = bar_printf("%s/%s/data.bin", down, vms[i].name);
		char *one = bar_printf("%s/%s/tree/sub/one", down, vms[i].name);
		char *want = bar_printf("%s/sub/one", tree);

		CHECK(same_file(data, got));
		CHECK(same_file(want, one));
		free(got);
		free(one);
		free(want);
	}
	free(mk);
	free(tree);
	free(data);
	free(down);
}

/* Ctrl-C while every VM sleeps: barista ends at once, exit 130, and the
 * remote sleeps are gone. */
static void test_interrupt(const char *env)
{
	char *err = bar_printf("%s/int.err", tmpdir);
	char *cmd = bar_printf("exec env %s '%s' exec web -state '%s' -- sleep 31 >/dev/null 2>'%s'",
	                       env, barista, state_path, err);
	double t0;
	int status = 0, i;
	pid_t pid = fork();
	char *text;

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100 && remote_sleeps() < 3; i++)
		usleep(50000);
	CHECK(remote_sleeps() == 3);
	t0 = bar_now_s();
	kill(pid, SIGINT);
	while (waitpid(pid, &status, WNOHANG) == 0 && bar_now_s() - t0 < 10)
		usleep(20000);
	fprintf(stderr, "  interrupted after %.2f s\n", bar_now_s() - t0);
	CHECK(bar_now_s() - t0 < 3);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 130);
	for (i = 0; i < 40 && remote_sleeps() > 0; i++)
		usleep(50000);
	CHECK(remote_sleeps() == 0);
	text = test_read_file(err);
	CHECK(text && strstr(text, "interrupted: 0 succeeded, 3 failed"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(text);
	free(cmd);
	free(err);
}

/* Without the broker: the same result, and the broker sees nothing. */
static void test_direct(void)
{
	json_int_t requests = broker_counter("requests");
	char *a = bar_printf("exec web -state '%s' -vm web-tokyo-1 -- hostname", state_path);
	run_out r = run_env("BARISTA_SSH_PERSIST=0", a);

	CHECK(r.rc == 0 && !strcmp(r.out, "web-tokyo-1: web-tokyo-1\n"));
	CHECK(broker_counter("requests") == requests + 1); /* our status asks only */
	run_out_clear(&r);
	free(a);
}

/* The broker stops on request, closing its sessions and its socket. */
static void stop_broker(void)
{
	char *path = NULL;
	int fd = -1, i;

	if (bar_sshmux_path(&path, state_path) < 0)
		return;
	bar_sshmux_stop(path);
	for (i = 0; i < 50 && access(path, F_OK) == 0; i++)
		usleep(50000);
	CHECK(access(path, F_OK) != 0);
	CHECK(bar_sshmux_connect(&fd, path) == BAR_ENOTFOUND);
	free(path);
}

static int body(void)
{
	char *destroy;
	run_out r;

	CHECK(apply() == 0);
	CHECK(load_vms() == 3);
	if (n_vms != 3)
		return test_verdict("exec");
	test_hostname();
	test_reuse();
	test_json();
	test_failure();
	test_targeting();
	test_cp();
	test_interrupt("");
	test_interrupt("BARISTA_SSH_PERSIST=0");
	test_direct();
	test_pool_identity();
	test_recreated();
	stop_broker();
	destroy = bar_printf("destroy -auto-approve -state '%s' '%s'", state_path, specs);
	r = run(destroy);
	CHECK(r.rc == 0);
	run_out_clear(&r);
	free(destroy);
	vms_clear();
	return test_verdict("exec");
}

/* Whatever the body left: the broker, the VMs (destroy, then by hand from
 * the ids in state), the files. */
static void cleanup(void)
{
	char *path = NULL, *cmd;
	run_out r;

	if (access(state_path, F_OK) == 0) {
		load_vms();
		if (bar_sshmux_path(&path, state_path) == 0) {
			bar_sshmux_stop(path);
			cmd = bar_printf("pkill -9 -f 'ssh-broker %s' 2>/dev/null", path);
			sh(cmd);
			free(cmd);
		}
		cmd = bar_printf("destroy -auto-approve -state '%s' '%s'", state_path, specs);
		r = run(cmd);
		run_out_clear(&r);
		free(cmd);
	}
	for (size_t i = 0; i < n_vms; i++) {
		const char *id = vms[i].system_id;

		cmd = bar_printf("pkill -9 -f '[%c]%s' 2>/dev/null; ip netns delete '%s' 2>/dev/null;"
		                 " ip link delete '%s' 2>/dev/null", id[0], id + 1, id, id);
		sh(cmd);
		free(cmd);
	}
	sh("pkill -9 -f '^sleep 31$' 2>/dev/null");
	cmd = bar_printf("rm -rf '%s'", tmpdir);
	sh(cmd);
	free(cmd);
	vms_clear();
	free(path);
}

int main(int argc, char **argv)
{
	int rc;

	if ((rc = test_local_begin("test_exec", argc, tmpdir, &state_path, &root)))
		return rc;
	barista = argv[1];
	specs = argv[2];
	unsetenv("BARISTA_SSH_PERSIST");
	rc = test_run_watched(body, TEST_LIMIT_S);
	cleanup();
	free(state_path);
	free(root);
	return rc;
}
