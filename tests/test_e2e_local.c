/*
 * test_e2e_local.c - the whole product on the local provider, end to end:
 *
 *   apply tests/data/e2e (the quickstart with its own CIDRs)
 *   -> log into every VM over SSH with its key through core/ssh (host key
 *      pinned from state) and check `hostname` equals the VM's name
 *   -> a port the security group allows is reachable, a blocked one refused
 *   -> plan -detailed-exitcode exits 0 (re-apply is a no-op)
 *   -> mci benchmark measures CPU, memory, disk and every pair's latency
 *   -> a VM deleted out of band (processes killed, netns removed) is planned
 *      for re-create, and apply brings it back (with a new host key)
 *   -> destroy leaves no namespace, bridge, veth, process or file behind.
 *
 * It runs the real `barista` binary as a user would, with the local
 * provider's root in a temporary directory, and cleans up (destroy, then by
 * hand from the recorded ids) on every exit path.
 *
 * Usage: test_e2e_local BARISTA_BINARY SPEC_DIR
 */
#include "error.h"
#include "testutil.h"
#include "host.h"
#include "keystore.h"
#include "ssh.h"
#include "state.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *barista, *specs;
static char tmpdir[] = "/tmp/barista-e2e-XXXXXX";
static char *state_path, *keys_dir;
static char *ids[64]; /* every system id seen, for the leftover checks */
static size_t n_ids;
static pid_t listener = -1;


/* Run barista with args; returns its exit code. */
static int run(const char *args)
{
	char *cmd = bar_printf("'%s' %s -state '%s' -no-color '%s' </dev/null", barista, args,
	                       state_path, specs);
	int rc;

	fprintf(stderr, "+ barista %s\n", args);
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
}

static void remember(const char *id)
{
	for (size_t i = 0; i < n_ids; i++)
		if (!strcmp(ids[i], id))
			return;
	if (n_ids < 64)
		ids[n_ids++] = bar_strdup(id);
}

/* Run a shell command, with every %s replaced by arg. */
static int sh(const char *tmpl, const char *arg)
{
	bar_buf b = BAR_BUF_INIT(0);
	const char *p;
	int rc;

	while ((p = strstr(tmpl, "%s"))) {
		bar_buf_add(&b, tmpl, (size_t)(p - tmpl));
		bar_buf_puts(&b, arg);
		tmpl = p + 2;
	}
	bar_buf_puts(&b, tmpl);
	rc = system(b.data);
	bar_buf_free(&b);
	return rc;
}

/* A pgrep pattern for id that does not match the shell running pgrep. */
static const char *pat(const char *id)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "[%c]%s", id[0], id + 1);
	return buf;
}

/* Anything of ours still on the host?  Prints what it finds. */
static int leftovers(void)
{
	int found = 0;

	for (size_t i = 0; i < n_ids; i++) {
		found += sh("ip netns list | grep -w '%s'", ids[i]) == 0;
		found += sh("ip -o link show | grep -w '%s'", ids[i]) == 0;
		found += sh("pgrep -af '%s'", pat(ids[i])) == 0;
		found += sh("find /sys/fs/cgroup -maxdepth 4 -name '%s' | grep .", ids[i]) == 0;
	}
	found += sh("find '%s/local' -mindepth 2 2>/dev/null | grep .", tmpdir) == 0;
	return found;
}

static void cleanup(void)
{
	if (listener > 0) {
		kill(listener, SIGKILL);
		waitpid(listener, NULL, 0);
	}
	if (state_path && access(state_path, F_OK) == 0)
		run("destroy -auto-approve");
	for (size_t i = 0; i < n_ids; i++) { /* by hand, in case destroy failed */
		sh("pkill -9 -f '%s' 2>/dev/null", pat(ids[i]));
		sh("ip netns delete '%s' 2>/dev/null", ids[i]);
		sh("ip link delete '%s' 2>/dev/null", ids[i]);
	}
	sh("rm -rf '%s'", tmpdir);
}

static void on_signal(int sig)
{
	exit(128 + sig); /* runs cleanup */
}

typedef struct vm {
	char *name, *system_id, *ip, *host_key, *key_path;
} vm;

static void vm_clear(vm *v)
{
	free(v->name);
	free(v->system_id);
	free(v->ip);
	free(v->host_key);
	free(v->key_path);
}

/* The VMs recorded in state. */
static size_t load_vms(vm *out, size_t max)
{
	bar_state *st = NULL;
	bar_records rs = {0};
	size_t n = 0;

	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) < 0 ||
	    bar_state_load(st, &rs) < 0) {
		fprintf(stderr, "state: %s\n", bar_error_last());
		bar_state_free(st);
		return 0;
	}
	for (size_t i = 0; i < rs.n; i++) {
		const bar_record *r = &rs.items[i];
		json_t *obs, *refs;

		if (r->system_id)
			remember(r->system_id);
		if (strcmp(r->type, "vm") || n == max)
			continue;
		obs = json_loads(r->observed ? r->observed : "{}", 0, NULL);
		refs = json_loads(r->refs ? r->refs : "{}", 0, NULL);
		out[n].name = bar_strdup(r->name);
		out[n].system_id = bar_strdup(r->system_id);
		out[n].ip = bar_strdup(json_string_value(json_object_get(obs, "privateIp")));
		out[n].host_key = bar_strdup(json_string_value(json_object_get(obs, "hostKey")));
		out[n].key_path = bar_keystore_path(
		    keys_dir, json_string_value(json_object_get(refs, "sshKey")), "privateKey");
		n++;
		json_decref(obs);
		json_decref(refs);
	}
	bar_records_clear(&rs);
	bar_state_free(st);
	return n;
}

static void check_ssh(const vm *v)
{
	bar_ssh_opts o = BAR_SSH_OPTS_INIT;
	bar_ssh *s = NULL;
	bar_ssh_result r = {0};
	double t0 = bar_now_s();

	o.host = v->ip;
	o.private_key_path = v->key_path;
	o.host_key = v->host_key;
	o.timeout_ms = 10000;
	CHECK(v->ip && v->host_key);
	if (bar_ssh_connect(&s, &o) < 0) {
		fprintf(stderr, "ssh %s (%s): %s\n", v->name, v->ip, bar_error_last());
		test_failures++;
		return;
	}
	CHECK(bar_ssh_exec(s, "hostname", &r) == 0);
	CHECK(r.out && r.exit_status == 0);
	if (r.out) {
		r.out[strcspn(r.out, "\n")] = '\0';
		fprintf(stderr, "  %s: ssh ok, hostname \"%s\" (%.0f ms)\n", v->name, r.out,
		        (bar_now_s() - t0) * 1000);
		CHECK(!strcmp(r.out, v->name));
	}
	bar_ssh_result_clear(&r);
	/* A login is like a fresh VM's: own /tmp and home, no host start-up files. */
	CHECK(bar_ssh_exec(s, "ls -A /tmp | wc -l; echo $HOME; test -e ~/.bashrc && echo rc",
	                   &r) == 0);
	CHECK(r.out && !strcmp(r.out, "0\n/root\n"));
	bar_ssh_result_clear(&r);
	bar_ssh_free(s);
}

/* The first line `cmd` prints on VM v, or NULL when it cannot be reached
 * within timeout_ms (caller frees). */
static char *ssh_line(const vm *v, const char *cmd, int timeout_ms)
{
	bar_ssh_opts o = BAR_SSH_OPTS_INIT;
	bar_ssh *s = NULL;
	bar_ssh_result r = {0};
	char *line = NULL;

	o.host = v->ip;
	o.private_key_path = v->key_path;
	o.host_key = v->host_key;
	o.connect_timeout_ms = timeout_ms;
	o.timeout_ms = timeout_ms;
	if (bar_ssh_connect(&s, &o) == 0 && bar_ssh_exec(s, cmd, &r) == 0 && r.out) {
		r.out[strcspn(r.out, "\n")] = '\0';
		line = bar_strdup(r.out);
	}
	bar_ssh_result_clear(&r);
	bar_ssh_free(s);
	return line;
}

/* The MCI as one object on real VMs: suspend freezes them (sshd does not
 * answer), resume thaws, reboot restarts them with a new boot id, and
 * terminate removes their namespaces until an apply re-creates them. */
static size_t check_lifecycle(vm *vms, size_t n)
{
	char *boot0 = ssh_line(&vms[0], "cat /proc/sys/kernel/random/boot_id", 5000), *boot1, *host;
	char *hostboot = NULL;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	char buf[64] = "";

	if (f && fgets(buf, sizeof(buf), f))
		hostboot = bar_strndup(buf, strcspn(buf, "\n"));
	if (f)
		fclose(f);
	CHECK(boot0 && hostboot && strcmp(boot0, hostboot) != 0); /* its own boot id */
	CHECK(run("mci suspend web") == 0);
	host = ssh_line(&vms[0], "hostname", 1500);
	CHECK(host == NULL); /* frozen: sshd cannot answer */
	free(host);
	CHECK(run("mci reboot web") == 1); /* refused: the VMs are Suspended */
	CHECK(run("mci resume web") == 0);
	host = ssh_line(&vms[0], "hostname", 5000);
	CHECK(host && !strcmp(host, vms[0].name));
	free(host);
	CHECK(run("mci reboot web") == 0);
	boot1 = ssh_line(&vms[0], "cat /proc/sys/kernel/random/boot_id", 5000);
	CHECK(boot0 && boot1 && strcmp(boot0, boot1) != 0);
	CHECK(run("mci status web") == 0);
	CHECK(run("mci terminate web -auto-approve") == 0);
	for (size_t i = 0; i < n; i++)
		CHECK(sh("test ! -e /run/netns/%s", vms[i].system_id) == 0);
	CHECK(run("plan -detailed-exitcode") == 2);
	CHECK(run("apply -auto-approve") == 0);
	for (size_t i = 0; i < n; i++)
		vm_clear(&vms[i]);
	n = load_vms(vms, 16);
	CHECK(n == 3);
	for (size_t i = 0; i < n; i++)
		check_ssh(&vms[i]);
	free(boot0);
	free(boot1);
	free(hostboot);
	return n;
}

/* The Spec (1 vCPU, 512 MiB) is enforced by the VM's cgroups. */
static void check_limits(const vm *v)
{
	char *mem1 = bar_printf("/sys/fs/cgroup/memory/barista/%s/memory.limit_in_bytes",
	                        v->system_id);
	char *cpu1 = bar_printf("/sys/fs/cgroup/cpu/barista/%s/cpu.cfs_quota_us", v->system_id);
	char *mem2 = bar_printf("/sys/fs/cgroup/barista/%s/memory.max", v->system_id);
	char *text;

	if (access(mem1, F_OK) == 0) { /* cgroup v1 */
		text = test_read_file(mem1);
		CHECK(text && strtoll(text, NULL, 10) == 512LL << 20);
		free(text);
		text = test_read_file(cpu1);
		CHECK(text && atoi(text) == 100000);
		free(text);
	} else {
		text = test_read_file(mem2);
		CHECK(text && strtoll(text, NULL, 10) == 512LL << 20);
		free(text);
	}
	free(mem1);
	free(cpu1);
	free(mem2);
}

/* Listen on ports 80 (allowed) and 8080 (not allowed) inside a VM's netns. */
static pid_t start_listeners(const char *system_id)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char *ns = bar_printf("/run/netns/%s", system_id);
		int fd = open(ns, O_RDONLY);
		int ports[2] = {80, 8080};

		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(1);
		for (int i = 0; i < 2; i++) {
			int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
			struct sockaddr_in a = {AF_INET, htons((uint16_t)ports[i]), {INADDR_ANY}, {0}};

			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 8) < 0)
				_exit(1);
		}
		(void)!write(ready[1], "r", 1);
		alarm(120);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

/* 0 connected, else the errno of the failed connect. */
static int try_connect(const char *ip, int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), rc = 0;
	struct sockaddr_in a = {AF_INET, htons((uint16_t)port), {0}, {0}};
	struct timeval tv = {3, 0};

	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		rc = errno;
	close(s);
	return rc;
}

static void kill_out_of_band(const vm *v)
{
	fprintf(stderr, "+ deleting %s (%s) out of band\n", v->name, v->system_id);
	sh("pkill -9 -f '%s'", pat(v->system_id));
	usleep(200000);
	sh("ip netns delete '%s'", v->system_id);
}

/* As an unprivileged user the local provider refuses clearly. */
static void check_not_root(void)
{
	char *dir = bar_printf("%s/nobody", tmpdir);
	char *cmd = bar_printf("chmod 755 '%s' && mkdir -m 777 '%s' && setpriv --reuid=65534 "
	                       "--regid=65534 --clear-groups env BARISTA_LOCAL_ROOT='%s/root' "
	                       "'%s' plan -state '%s/s.db' '%s' </dev/null 2>&1",
	                       tmpdir, dir, dir, barista, dir, specs);
	FILE *p = popen(cmd, "r");
	char line[1024];
	int said = 0, st;

	while (p && fgets(line, sizeof(line), p))
		said |= strstr(line, "must run as root") != NULL;
	st = p ? pclose(p) : -1;
	CHECK(said && WIFEXITED(st) && WEXITSTATUS(st) == 1);
	sh("rm -rf '%s'", dir);
	free(cmd);
	free(dir);
}

/* `mci benchmark` measures every VM and every pair, and records it. */
static void check_benchmark(size_t n)
{
	char *path = bar_printf("%s.bench.json", state_path);
	json_t *doc, *last, *v;
	const char *k;
	size_t pairs = 0, measured = 0;

	CHECK(run("mci benchmark web") == 0);
	doc = json_load_file(path, 0, NULL);
	last = json_array_get(json_object_get(doc, "runs"), 0);
	CHECK(json_object_size(json_object_get(last, "vms")) == n);
	json_object_foreach(json_object_get(last, "vms"), k, v) {
		const json_t *f = json_object_get(v, "figures");

		measured += json_number_value(json_object_get(f, "cpu_mbps")) > 0 &&
		            json_number_value(json_object_get(f, "mem_mbps")) > 0 &&
		            json_number_value(json_object_get(f, "disk_mbps")) > 0;
	}
	CHECK(measured == n);
	json_object_foreach(json_object_get(last, "latency_ms"), k, v) {
		pairs += json_number_value(v) > 0;
	}
	CHECK(pairs == n * (n - 1));
	CHECK(json_object_size(json_object_get(doc, "kinds")) >= 1);
	json_decref(doc);
	unlink(path);
	free(path);
}

int main(int argc, char **argv)
{
	vm vms[16] = {{0}};
	size_t n;
	char *root;

	if ((n = (size_t)test_local_begin("test_e2e_local", argc, tmpdir, &state_path, &root)))
		return (int)n;
	barista = argv[1];
	specs = argv[2];
	keys_dir = bar_printf("%s.keys", state_path);
	atexit(cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	alarm(280);
	signal(SIGALRM, on_signal);

	check_not_root();
	CHECK(run("apply -auto-approve") == 0);
	n = load_vms(vms, 16);
	CHECK(n == 3);
	for (size_t i = 0; i < n; i++) {
		check_ssh(&vms[i]);
		check_limits(&vms[i]);
	}
	if (n > 0) {
		listener = start_listeners(vms[0].system_id);
		CHECK(listener > 0);
		CHECK(try_connect(vms[0].ip, 80) == 0);
		CHECK(try_connect(vms[0].ip, 8080) == ECONNREFUSED);
		kill(listener, SIGKILL);
		waitpid(listener, NULL, 0);
		listener = -1;
	}
	CHECK(run("plan -detailed-exitcode") == 0);
	CHECK(run("show") == 0);
	check_benchmark(n);
	if (n > 0) { /* a firewall flushed out of band is drift, and apply restores it */
		CHECK(sh("ip netns exec %s nft flush ruleset", vms[0].system_id) == 0);
		CHECK(run("plan -detailed-exitcode") == 2);
		CHECK(run("apply -auto-approve") == 0);
		CHECK(sh("ip netns exec %s nft list table inet barista >/dev/null",
		         vms[0].system_id) == 0);
		CHECK(run("plan -detailed-exitcode") == 0);
	}
	if (n > 1) {
		kill_out_of_band(&vms[1]);
		CHECK(run("plan -detailed-exitcode") == 2);
		CHECK(run("apply -auto-approve") == 0);
		for (size_t i = 0; i < n; i++)
			vm_clear(&vms[i]);
		n = load_vms(vms, 16);
		CHECK(n == 3);
		for (size_t i = 0; i < n; i++)
			check_ssh(&vms[i]);
		CHECK(run("plan -detailed-exitcode") == 0);
	}
	if (n > 0)
		n = check_lifecycle(vms, n);
	CHECK(run("destroy -auto-approve") == 0);
	{
		bar_state *st = NULL;
		bar_records rs = {0};

		CHECK(bar_state_open(&st, state_path, BAR_STATE_READONLY) == 0 &&
		      bar_state_load(st, &rs) == 0 && rs.n == 0);
		bar_records_clear(&rs);
		bar_state_free(st);
	}
	CHECK(access(keys_dir, F_OK) != 0);
	CHECK(n_ids >= 13);
	CHECK(leftovers() == 0);
	for (size_t i = 0; i < n; i++)
		vm_clear(&vms[i]);
	free(root);
	return test_verdict("e2e local");
}
