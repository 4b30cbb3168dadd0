/*
 * test_demo.c - the paper's demonstration exactly as the README shows it,
 * on specs/examples/paper-demo: a registry on 127.0.0.1:5000 with the NGINX
 * images (tests/oci_fixture.py, what `./dev registry` runs), apply 18 VMs in
 * 10 regions of 4 "CSPs" (local driver) with the MCApp running NGINX in a
 * container on each; fetch every VM's page and its name; kill one NGINX and
 * see its agent restart it; roll out nginx:2 VM by VM while this host asks
 * all 18 pages in rounds (at least 17 answer in every round); suspend (no
 * page answers), resume, reboot (the agents and NGINX come back with the
 * VMs) and terminate the whole MCI checking the status line after each, and
 * destroy, leaving nothing.
 *
 * Usage: test_demo BARISTA SPEC_DIR OCI_FIXTURE   (root; its own state,
 * provider root and a copy of SPEC_DIR, which the rollout edits)
 */
#include "error.h"
#include "testutil.h"
#include "planner.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REGISTRY_PORT 5000 /* as specs/examples/paper-demo/30-web.yaml says */

static const char *barista;
static char *specs;
static char tmpdir[] = "/tmp/barista-demo-XXXXXX";
static char *state_path;
static int destroyed;
static pid_t registry = -1;

static int run(char **out, const char *args)
{
	return test_barista(out, barista, state_path, specs, args);
}

/* `barista ARGS` with -state STATE (before a " -- " in ARGS) for the
 * commands that take no spec directory (exec, app); output into *out as
 * test_barista does. */
static int run_state(char **out, const char *args)
{
	const char *dash = strstr(args, " -- ");
	int head = dash ? (int)(dash - args) : (int)strlen(args);

	return test_shell(out,
	                  bar_printf("'%s' %.*s -state '%s'%s 2>&1 </dev/null", barista, head, args,
	                             state_path, dash ? dash : ""),
	                  args);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of the body of GET path from ip:80 (caller frees), or
 * NULL unless the answer is 200. */
static char *http_get(const char *ip, const char *path, int timeout_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	char req[256], buf[4096];
	bar_buf b = BAR_BUF_INIT(65536);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;
	char *body = NULL, *all;

	inet_pton(AF_INET, ip, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, ip);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    write(fd, req, strlen(req)) == (ssize_t)strlen(req))
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			bar_buf_add(&b, buf, (size_t)n);
	if (fd >= 0)
		close(fd);
	all = bar_buf_take(&b);
	if (all && strstr(all, " 200 ") && strstr(all, "\r\n\r\n")) {
		body = bar_strdup(strstr(all, "\r\n\r\n") + 4);
		body[strcspn(body, "\n")] = '\0';
	}
	free(all);
	return body;
}

/* The MCI's VMs as {name: ip}. */
static json_t *vm_ips(void)
{
	char *out;
	json_t *j, *v, *ips = json_object();
	size_t i;

	CHECK(run(&out, "show -json") == 0);
	j = json_loads(out, 0, NULL);
	free(out);
	json_array_foreach(json_object_get(json_array_get(json_object_get(j, "mcis"), 0), "vms"),
	                   i, v)
		json_object_set(ips, json_string_value(json_object_get(v, "name")),
		                json_object_get(v, "ip"));
	json_decref(j);
	return ips;
}

/* How many VMs serve `version`'s page on / and their own name on /vm. */
static size_t check_pages(const json_t *ips, const char *version, int timeout_ms)
{
	const char *name;
	json_t *ip;
	size_t ok = 0;

	json_object_foreach((json_t *)ips, name, ip) {
		char *page = http_get(json_string_value(ip), "/", timeout_ms);
		char *vm = http_get(json_string_value(ip), "/vm", timeout_ms);
		int good = page && vm && !strcmp(page, version) && !strcmp(vm, name);

		ok += good;
		if (timeout_ms > 1000 && !good)
			fprintf(stderr, "  %s: page \"%s\", /vm \"%s\"\n", name, page ? page : "(none)",
			        vm ? vm : "(none)");
		free(page);
		free(vm);
	}
	return ok;
}

/* Wait up to ms for all VMs to serve version's page; how many did. */
static size_t wait_pages(const json_t *ips, const char *version, int ms)
{
	int64_t end = now_ms() + ms;
	size_t ok;

	while ((ok = check_pages(ips, version, 300)) < json_object_size(ips) && now_ms() < end)
		usleep(200 * 1000);
	return ok < json_object_size(ips) ? check_pages(ips, version, 3000) : ok;
}

/* `barista mci ACTION paper` prints the expected status line. */
static void action(const char *act, const char *want)
{
	char *args = bar_printf("mci %s paper -auto-approve", act), *out;
	char *line = bar_printf("MCI default/paper  %s", want);

	int rc = run(&out, args);

	CHECK(rc == 0 && strstr(out, line));
	if (rc != 0 || !strstr(out, line))
		fprintf(stderr, "%s", out);
	free(out);
	free(line);
	free(args);
}

/* The app status of VM vm's nginx: its "restarts" and whether it is
 * Running and healthy; -1 when the status cannot be read. */
static int nginx_restarts(const char *vm, int *healthy)
{
	char *args = bar_printf("app status web -vm %s -json", vm), *out;
	json_t *j, *a;
	int n = -1;

	*healthy = 0;
	/* the JSON line on stdout; the summary on stderr may come before it */
	if (run_state(&out, args) == 0 && strchr(out, '{') &&
	    (j = json_loads(strchr(out, '{'), JSON_DISABLE_EOF_CHECK, NULL))) {
		a = json_array_get(json_object_get(j, "apps"), 0);
		n = (int)json_integer_value(json_object_get(a, "restarts"));
		const char *state = json_string_value(json_object_get(a, "state"));

		*healthy = json_is_true(json_object_get(a, "healthy")) && state &&
		           !strcmp(state, "Running");
		json_decref(j);
	}
	free(out);
	free(args);
	return n;
}

/* Kill the NGINX of one VM (inside the VM, as its operator would); the agent
 * restarts it: its page answers again and the status counts one restart. */
static void kill_and_restart(const json_t *ips)
{
	const char *vm = "paper-us-east-1-1", *ip = json_string_value(json_object_get(ips, vm));
	char *args = bar_printf("exec paper -vm %s -- pkill -KILL -x nginx", vm), *out, *page = NULL;
	int64_t t0, end;
	int before, after, healthy;

	CHECK(ip != NULL);
	before = nginx_restarts(vm, &healthy);
	CHECK(before >= 0 && healthy);
	if (run_state(&out, args) != 0) {
		CHECK(!"exec pkill");
		fprintf(stderr, "%s", out);
	}
	free(out);
	t0 = now_ms();
	end = t0 + 10000;
	/* first down (the kill has landed), then up again */
	while ((page = http_get(ip, "/", 200)) && now_ms() < end) {
		free(page);
		usleep(10 * 1000);
	}
	while (!(page = http_get(ip, "/", 200)) && now_ms() < end)
		usleep(20 * 1000);
	CHECK(page && !strcmp(page, "barista nginx v1"));
	fprintf(stderr, "  %s: page again %lld ms after the kill\n", vm, (long long)(now_ms() - t0));
	free(page);
	end = now_ms() + 10000;
	while (((after = nginx_restarts(vm, &healthy)) <= before || !healthy) && now_ms() < end)
		usleep(200 * 1000);
	CHECK(after == before + 1 && healthy);
	free(args);
}

/* The watcher of a rollout: a child asking every VM for / in rounds until
 * SIGTERM, then writing "<fewest answers in a round> <rounds>" to fd. */
static volatile sig_atomic_t watch_stop;

static void on_watch_stop(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static pid_t watch_start(const json_t *ips, int fd)
{
	pid_t pid = fork();
	size_t fewest = (size_t)-1, rounds = 0;

	if (pid != 0)
		return pid;
	signal(SIGTERM, on_watch_stop);
	alarm(600);
	while (!watch_stop) {
		const char *name;
		json_t *ip;
		size_t up = 0;

		json_object_foreach((json_t *)ips, name, ip) {
			char *page = http_get(json_string_value(ip), "/", 500);

			up += page && !strncmp(page, "barista nginx v", 15);
			free(page);
		}
		if (up < fewest)
			fewest = up;
		rounds++;
		usleep(50 * 1000);
	}
	dprintf(fd, "%zu %zu\n", fewest, rounds);
	_exit(0);
}

/* nginx:1 -> nginx:2 in the copy's 30-web.yaml, applied VM by VM while a
 * watcher asks every page: never fewer than 17 of 18 answer. */
static void rollout(const json_t *ips)
{
	char *path = bar_printf("%s/30-web.yaml", specs), *text = test_read_file(path), *at, *out;
	char line[64] = "";
	size_t fewest = 0, rounds = 0;
	int fds[2], st;
	pid_t w;
	FILE *f;

	CHECK(text && (at = strstr(text, "/nginx:1")));
	if (!text || !(at = strstr(text, "/nginx:1")))
		goto done;
	at[7] = '2';
	CHECK((f = fopen(path, "w")) && fputs(text, f) >= 0 && fclose(f) == 0);
	CHECK(pipe(fds) == 0);
	w = watch_start(ips, fds[1]);
	close(fds[1]);
	usleep(300 * 1000);
	/* the 18 VMs' apps and the MCApp's record */
	CHECK(run(&out, "apply -auto-approve") == 0 && strstr(out, " 0 added, 19 changed, "));
	if (!strstr(out, " 0 added, 19 changed, "))
		fprintf(stderr, "%s", out);
	free(out);
	kill(w, SIGTERM);
	waitpid(w, &st, 0);
	CHECK(read(fds[0], line, sizeof(line) - 1) > 0 &&
	      sscanf(line, "%zu %zu", &fewest, &rounds) == 2);
	close(fds[0]);
	fprintf(stderr, "  rollout: at least %zu of 18 pages answered in each of %zu rounds\n",
	        fewest, rounds);
	CHECK(rounds >= 5 && fewest >= 17);
	CHECK(check_pages(ips, "barista nginx v2", 3000) == 18);
done:
	free(text);
	free(path);
}

/* 5000 when 127.0.0.1:5000 is free, else a free port (a registry service
 * of the machine's own may hold 5000). */
static int registry_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(REGISTRY_PORT)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = REGISTRY_PORT;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		sa.sin_port = 0;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
			port = ntohs(sa.sin_port);
	}
	if (fd >= 0)
		close(fd);
	return port;
}

/* The copy's 30-web.yaml pointed at 127.0.0.1:port instead of :5000. */
static void registry_point(int port)
{
	char *path = bar_printf("%s/30-web.yaml", specs), *text = test_read_file(path), *at;
	char want[32];
	FILE *f;

	snprintf(want, sizeof(want), "127.0.0.1:%d/", REGISTRY_PORT);
	CHECK(text && (at = strstr(text, want)));
	if (text && (at = strstr(text, want)) && port != REGISTRY_PORT) {
		*at = '\0';
		CHECK((f = fopen(path, "w")) && fprintf(f, "%s127.0.0.1:%d/%s", text, port,
		                                        at + strlen(want)) > 0 && fclose(f) == 0);
		fprintf(stderr, "test_demo: 127.0.0.1:%d is taken; the registry is on %d\n",
		        REGISTRY_PORT, port);
	}
	free(text);
	free(path);
}

/* The registry of the demo's images on 127.0.0.1:5000 (as `./dev registry`
 * runs it) or, when that is taken, another port the copy of the spec is
 * pointed at; returns once it prints "ready". */
static void registry_start(const char *fixture)
{
	int fds[2], port = registry_port();
	char buf[4096], portarg[16], want[64];
	size_t len = 0;
	ssize_t n;

	registry_point(port);
	snprintf(portarg, sizeof(portarg), "%d", port);
	snprintf(want, sizeof(want), "127.0.0.1:%d/nginx:2 sha256:", port);

	CHECK(pipe(fds) == 0);
	registry = fork();
	if (registry == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", fixture, "serve", tmpdir, "--port", portarg,
		       (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "ready\n"))
			break;
	}
	buf[len] = '\0';
	close(fds[0]);
	CHECK(strstr(buf, "ready\n") && strstr(buf, want));
	if (!strstr(buf, "ready\n"))
		fprintf(stderr, "test_demo: the registry did not start on port %d\n", port);
}

static void cleanup(void)
{
	if (registry > 0) {
		kill(registry, SIGTERM);
		waitpid(registry, NULL, 0);
	}
	test_local_end(barista, destroyed ? NULL : state_path, specs, tmpdir);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1); /* atexit cleanup */
}

int main(int argc, char **argv)
{
	char *root, *out, *cmd;
	json_t *ids, *ips;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: test_demo BARISTA SPEC_DIR OCI_FIXTURE\n");
		return 2;
	}
	if ((rc = test_local_begin("test_demo", argc, tmpdir, &state_path, &root)))
		return rc;
	barista = argv[1];
	specs = bar_printf("%s/specs", tmpdir);
	atexit(cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	alarm(280);
	cmd = bar_printf("cp -r '%s' '%s'", argv[2], specs);
	CHECK(system(cmd) == 0);
	free(cmd);
	registry_start(argv[3]);
	CHECK(run(&out, "apply -auto-approve") == 0 && strstr(out, "116 added"));
	if (!strstr(out, "116 added"))
		fprintf(stderr, "%s", out);
	free(out);
	CHECK(run(&out, "show") == 0 && strstr(out, "MCI default/paper  Running:18 (R:18/18)"));
	free(out);
	ips = vm_ips();
	CHECK(json_object_size(ips) == 18);
	CHECK(check_pages(ips, "barista nginx v1", 3000) == 18);
	kill_and_restart(ips);
	rollout(ips);
	action("suspend", "Suspended:18 (R:0/18)");
	CHECK(check_pages(ips, "barista nginx v2", 300) == 0); /* frozen: nobody answers */
	action("resume", "Running:18 (R:18/18)");
	CHECK(wait_pages(ips, "barista nginx v2", 10000) == 18);
	action("reboot", "Running:18 (R:18/18)");
	/* each VM's init starts its agent again, which starts NGINX */
	CHECK(wait_pages(ips, "barista nginx v2", 30000) == 18);
	action("terminate", "Terminated:18 (R:0/18)");
	ids = test_vm_ids(barista, state_path, specs);
	destroyed = run(&out, "destroy -auto-approve") == 0 && strstr(out, "116 destroyed");
	CHECK(destroyed);
	if (!destroyed)
		fprintf(stderr, "%s", out);
	free(out);
	CHECK(json_array_size(ids) == 18 && test_netns_left(ids) == 0);
	json_decref(ids);
	json_decref(ips);
	free(root);
	return test_verdict("paper demo");
}
