/*
 * test_bastion.c - VMs reached through a bastion, on real local VMs: an
 * MCI (tests/data/bastion) with a bastion group on a routable VNet and a
 * group of two on a private VNet (`private: true`) that names it.
 *
 *   the host cannot reach a private VM: a TCP connect fails
 *   exec hostname        every VM answers with its name, the private ones
 *                        through the bastion (broker and direct)
 *   cp up and down       through the bastion, content compared
 *   the bastion down     exec fails and the message names the bastion VM
 *
 * The checks run in a watched child (tests/watch.h); the parent cleans up
 * whatever happened: destroy, the broker, VMs, bridges and host nftables
 * tables by the ids in state, the files.
 *
 * Usage: test_bastion BARISTA_BINARY SPEC_DIR
 */
#include "error.h"
#include "remote.h"
#include "sshmux.h"
#include "state.h"
#include "testutil.h"
#include "util.h"
#include "watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_LIMIT_S 150 /* below the ctest TIMEOUT */
#define MAX_IDS 16

static const char *barista, *specs;
static char tmpdir[] = "/tmp/barista-bastion-XXXXXX";
static char *state_path, *root;

/* System ids recorded in state, for cleaning up by hand. */
static char *ids[MAX_IDS];
static size_t n_ids;

typedef test_out run_out;
#define run_out_clear test_out_clear

/* Run `ENV barista ARGS`, capturing its output (shown when it failed). */
static run_out run(const char *env, const char *args)
{
	run_out r = test_barista_env(tmpdir, barista, env, args);

	if (r.rc)
		fprintf(stderr, "%s%s", r.out, r.err);
	return r;
}

/* Run a state-wide command ("apply", "destroy") on the specs. */
static int run_specs(const char *what)
{
	char *a = bar_printf("%s -auto-approve -state '%s' '%s'", what, state_path, specs);
	run_out r = run("", a);
	int rc = r.rc;

	run_out_clear(&r);
	free(a);
	return rc;
}

/* The targets of the MCI, from state. */
static int targets(bar_remote_targets *t)
{
	bar_remote_select sel = BAR_REMOTE_SELECT_INIT;
	char *keys = bar_printf("%s.keys", state_path);
	bar_state *st = NULL;
	bar_records rs = { NULL, 0 };
	int rc = -1;

	sel.mci = "bst";
	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) == 0 &&
	    bar_state_load(st, &rs) == 0) {
		rc = bar_remote_targets_select(t, &rs, keys, &sel);
		for (size_t i = 0; i < rs.n && n_ids < MAX_IDS; i++)
			if (rs.items[i].system_id && (!strcmp(rs.items[i].type, "vm") ||
			                              !strcmp(rs.items[i].type, "vnet")))
				ids[n_ids++] = bar_strdup(rs.items[i].system_id);
	}
	bar_records_clear(&rs);
	bar_state_free(st);
	free(keys);
	return rc;
}

/* A plain TCP connect from the host to ip:22; 0 or the errno. */
static int tcp_connect(const char *ip)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(22) };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), err = 0;

	inet_pton(AF_INET, ip, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err = errno;
	close(fd);
	return err;
}

/* The private VMs: the host cannot connect; SSH with the bastion hop
 * works and says which way it went. */
static void test_topology(const bar_remote_targets *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const bar_remote_target *x = &t->items[i];
		bar_ssh_opts o = BAR_SSH_OPTS_INIT, via = BAR_SSH_OPTS_INIT;
		bar_ssh_result r = { 0 };
		bar_ssh *s = NULL;
		int err = tcp_connect(x->host), rc;

		if (strcmp(x->group, "db")) {
			CHECK(!x->via && err == 0);
			continue;
		}
		fprintf(stderr, "direct connect to %s (%s): %s\n", x->name, x->host, strerror(err));
		CHECK(err != 0); /* refused by the host's own rule: no SYN leaves */
		CHECK(x->via && !strcmp(x->via->name, "bst-jump-1"));
		if (!x->via)
			continue;
		o.host = x->host, o.user = x->user, o.private_key_path = x->key_path;
		o.host_key = x->host_key;
		o.connect_timeout_ms = 2000;
		rc = bar_ssh_connect(&s, &o);
		CHECK(rc == -1 && strstr(bar_error_last(), "connect: "));
		via.host = x->via->host, via.user = x->via->user;
		via.private_key_path = x->via->key_path, via.host_key = x->via->host_key;
		via.name = x->via->name;
		o.via = &via;
		rc = bar_ssh_connect(&s, &o);
		CHECK(rc == 0 && strstr(bar_ssh_where(s), " via "));
		if (rc == 0 && bar_ssh_exec(s, "hostname", &r) == 0)
			CHECK(r.out && !strncmp(r.out, x->name, strlen(x->name)));
		bar_ssh_result_clear(&r);
		bar_ssh_free(s);
	}
}

/* exec hostname on all three: "<vm>: <vm>" each. */
static void test_exec(const char *env)
{
	char *a = bar_printf("exec bst -state '%s' -- hostname", state_path);
	run_out r = run(env, a);

	CHECK(r.rc == 0);
	CHECK(strstr(r.out, "bst-jump-1: bst-jump-1\n") && strstr(r.out, "bst-db-1: bst-db-1\n") &&
	      strstr(r.out, "bst-db-2: bst-db-2\n"));
	CHECK(strstr(r.err, "3 succeeded, 0 failed"));
	run_out_clear(&r);
	free(a);
}

static void cp_ok(const char *src, const char *dst)
{
	char *a = bar_printf("cp -state '%s' -group db '%s' '%s'", state_path, src, dst);
	run_out r = run("", a);

	CHECK(r.rc == 0 && strstr(r.err, "2 succeeded, 0 failed"));
	run_out_clear(&r);
	free(a);
}

/* A file up to both private VMs and back, compared byte for byte. */
static void test_cp(void)
{
	char *data = bar_printf("%s/data.bin", tmpdir), *down = bar_printf("%s/down", tmpdir);
	char *mk = bar_printf("head -c 2000000 /dev/urandom > '%s'", data);

	CHECK(system(mk) == 0);
	cp_ok(data, "bst:/tmp/");
	cp_ok("bst:/tmp/data.bin", down);
	for (int i = 1; i <= 2; i++) {
		char *cmp = bar_printf("cmp -s '%s' '%s/bst-db-%d/data.bin'", data, down, i);

		CHECK(system(cmp) == 0);
		free(cmp);
	}
	free(mk);
	free(data);
	free(down);
}

/* The bastion's link down: the private VMs are unreachable and the
 * message names the bastion VM.  Without the broker, so no kept session
 * is used. */
static void test_bastion_down(const bar_remote_targets *t)
{
	const bar_remote_target *jump = t->items[0].via ? t->items[0].via : t->items[1].via;
	char *down = bar_printf("ip -n '%s' link set eth0 down", jump->system_id);
	char *a = bar_printf("exec bst -state '%s' -group db -- true", state_path);
	run_out r;

	CHECK(system(down) == 0);
	r = run("BARISTA_SSH_PERSIST=0", a);
	CHECK(r.rc != 0 && strstr(r.err, "0 succeeded, 2 failed"));
	CHECK(strstr(r.out, "bastion bst-jump-1: ssh ") || strstr(r.err, "bastion bst-jump-1: ssh "));
	run_out_clear(&r);
	free(a);
	free(down);
}

static void stop_broker(void)
{
	char *path = NULL;

	if (bar_sshmux_path(&path, state_path) == 0)
		bar_sshmux_stop(path);
	free(path);
}

static int body(void)
{
	bar_remote_targets t = { NULL, NULL, 0 };

	CHECK(run_specs("apply") == 0);
	CHECK(targets(&t) == 0 && t.n == 3);
	if (t.n != 3)
		return test_verdict("bastion");
	test_topology(&t);
	test_exec("");
	test_exec("BARISTA_SSH_PERSIST=0");
	test_cp();
	stop_broker();
	test_bastion_down(&t);
	bar_remote_targets_clear(&t);
	CHECK(run_specs("destroy") == 0);
	return test_verdict("bastion");
}

/* Whatever the body left: the broker, destroy, then by hand the VMs,
 * bridges and nftables tables named by the ids in state, the files. */
static void cleanup(void)
{
	bar_remote_targets t = { NULL, NULL, 0 };
	char *cmd;

	if (access(state_path, F_OK) == 0) {
		targets(&t);
		bar_remote_targets_clear(&t);
		stop_broker();
		run_specs("destroy");
	}
	for (size_t i = 0; i < n_ids; i++) {
		const char *id = ids[i];

		cmd = bar_printf("pkill -9 -f '[%c]%s' 2>/dev/null; ip netns delete '%s' 2>/dev/null;"
		                 " ip link delete '%s' 2>/dev/null; nft delete table ip 'barista-%s'"
		                 " 2>/dev/null", id[0], id + 1, id, id, id);
		if (system(cmd) < 0)
			fprintf(stderr, "cleanup of %s failed\n", id);
		free(cmd);
		free(ids[i]);
	}
	n_ids = 0;
	cmd = bar_printf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(cmd);
}

int main(int argc, char **argv)
{
	int rc;

	if ((rc = test_local_begin("test_bastion", argc, tmpdir, &state_path, &root)))
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
