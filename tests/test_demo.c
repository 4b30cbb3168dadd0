/*
 * test_demo.c - the paper's demonstration exactly as the README shows it,
 * on specs/examples/paper-demo: apply 18 VMs in 10 regions of 4 "CSPs"
 * (local driver), fetch every VM's NGINX page (started by postCommands) and
 * find its own name, then suspend, resume, reboot and terminate the whole
 * MCI checking the status line after each, and destroy, leaving nothing.
 *
 * Usage: test_demo BARISTA SPEC_DIR   (root; its own state and provider root)
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
#include <unistd.h>

static const char *barista, *specs;
static char tmpdir[] = "/tmp/barista-demo-XXXXXX";
static char *state_path;
static int destroyed;

static int run(char **out, const char *args)
{
	return test_barista(out, barista, state_path, specs, args);
}

/* The body of GET / from ip:80 (caller frees), or NULL. */
static char *http_get(const char *ip, int timeout_ms)
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
	snprintf(req, sizeof(req), "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", ip);
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

/* How many VMs answer with a page carrying their own name. */
static size_t check_pages(int timeout_ms)
{
	char *out;
	json_t *j, *vms, *v;
	size_t i, ok = 0;

	CHECK(run(&out, "show -json") == 0);
	j = json_loads(out, 0, NULL);
	free(out);
	vms = json_object_get(json_array_get(json_object_get(j, "mcis"), 0), "vms");
	json_array_foreach(vms, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		char *page = http_get(json_string_value(json_object_get(v, "ip")), timeout_ms);

		ok += page && name && !strcmp(page, name);
		if (timeout_ms > 1000 && (!page || !name || strcmp(page, name)))
			fprintf(stderr, "  %s: page \"%s\"\n", name, page ? page : "(none)");
		free(page);
	}
	json_decref(j);
	return ok;
}

/* `mci status -json` shows every VM's postCommands: exit code 0, recorded. */
static void check_post_results(void)
{
	char *out;
	json_t *j, *v;
	size_t i, ok = 0;

	CHECK(run(&out, "mci status paper -json") == 0);
	j = json_loads(out, 0, NULL);
	free(out);
	json_array_foreach(json_object_get(j, "vms"), i, v) {
		json_t *p = json_object_get(v, "postCommands");

		ok += json_is_object(p) && json_integer_value(json_object_get(p, "exit_code")) == 0 &&
		      json_is_string(json_object_get(p, "output"));
	}
	CHECK(ok == 18);
	json_decref(j);
}

/* `barista mci ACTION paper` prints the expected status line. */
static void action(const char *act, const char *want)
{
	char *args = bar_printf("mci %s paper -auto-approve", act), *out;
	char *line = bar_printf("MCI default/paper  %s", want);

	CHECK(run(&out, args) == 0 && strstr(out, line));
	if (!strstr(out, line))
		fprintf(stderr, "%s", out);
	free(out);
	free(line);
	free(args);
}

static void cleanup(void)
{
	test_local_end(barista, destroyed ? NULL : state_path, specs, tmpdir);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1); /* atexit cleanup */
}

int main(int argc, char **argv)
{
	char *root, *out;
	json_t *ids;
	int rc;

	if ((rc = test_local_begin("test_demo", argc, tmpdir, &state_path, &root)))
		return rc;
	barista = argv[1];
	specs = argv[2];
	atexit(cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	alarm(240);
	CHECK(run(&out, "apply -auto-approve") == 0 && strstr(out, "79 added"));
	free(out);
	CHECK(run(&out, "show") == 0 && strstr(out, "MCI default/paper  Running:18 (R:18/18)"));
	free(out);
	CHECK(check_pages(3000) == 18);
	check_post_results();
	action("suspend", "Suspended:18 (R:0/18)");
	CHECK(check_pages(300) == 0); /* frozen: nobody answers */
	action("resume", "Running:18 (R:18/18)");
	CHECK(check_pages(3000) == 18);
	action("reboot", "Running:18 (R:18/18)");
	action("terminate", "Terminated:18 (R:0/18)");
	ids = test_vm_ids(barista, state_path, specs);
	destroyed = run(&out, "destroy -auto-approve") == 0 && strstr(out, "79 destroyed");
	CHECK(destroyed);
	free(out);
	CHECK(json_array_size(ids) == 18 && test_netns_left(ids) == 0);
	json_decref(ids);
	free(root);
	return test_verdict("paper demo");
}
