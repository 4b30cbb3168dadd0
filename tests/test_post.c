/*
 * test_post.c - postCommands on real local VMs: a group whose commands
 * succeed records exit code 0 and their output; a group whose commands fail
 * makes its VM Failed with the exit code and the output's tail (stderr
 * included, later lines not run), the apply fails naming it, the next plan
 * replaces it, and everything is destroyed at the end.
 *
 * Usage: test_post BARISTA SPEC_DIR   (root; its own state and provider root)
 */
#include "error.h"
#include "testutil.h"
#include "util.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *barista, *specs;
static char tmpdir[] = "/tmp/barista-post-XXXXXX";
static char *state_path;

static int run(char **out, const char *args)
{
	return test_barista(out, barista, state_path, specs, args);
}

static void cleanup(void)
{
	test_local_end(barista, state_path, specs, tmpdir);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1);
}

/* The VM named `name` of the MCI's status, or NULL (borrowed from j). */
static json_t *vm_of(json_t *j, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(j, "vms"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")), name))
			return v;
	return NULL;
}

int main(int argc, char **argv)
{
	char *root, *out;
	json_t *j, *ok, *bad, *ids;
	const char *o;
	int rc;

	if ((rc = test_local_begin("test_post", argc, tmpdir, &state_path, &root)))
		return rc;
	barista = argv[1];
	specs = argv[2];
	atexit(cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	alarm(200);
	CHECK(run(&out, "apply -auto-approve") == 1 && strstr(out, "p-bad-1") &&
	      strstr(out, "postCommands failed (exit 3)") && strstr(out, "oops"));
	free(out);
	CHECK(run(&out, "mci status p -json") == 0);
	j = json_loads(out, 0, NULL);
	free(out);
	ok = vm_of(j, "p-ok-1");
	bad = vm_of(j, "p-bad-1");
	o = json_string_value(json_object_get(json_object_get(ok, "postCommands"), "output"));
	CHECK(ok && !strcmp(json_string_value(json_object_get(ok, "status")), "Running"));
	CHECK(json_integer_value(json_object_get(json_object_get(ok, "postCommands"),
	                                         "exit_code")) == 0 &&
	      o && strstr(o, "hello from p-ok-1"));
	o = json_string_value(json_object_get(json_object_get(bad, "postCommands"), "output"));
	CHECK(bad && !strcmp(json_string_value(json_object_get(bad, "status")), "Failed"));
	CHECK(json_integer_value(json_object_get(json_object_get(bad, "postCommands"),
	                                         "exit_code")) == 3 &&
	      o && strstr(o, "started") && strstr(o, "oops") && !strstr(o, "never reached"));
	json_decref(j);
	CHECK(run(&out, "plan") == 0 && strstr(out, "-/+ default/vm/p-bad-1") &&
	      strstr(out, "postCommands failed"));
	free(out);
	ids = test_vm_ids(barista, state_path, specs);
	CHECK(run(&out, "destroy -auto-approve") == 0);
	free(out);
	CHECK(json_array_size(ids) == 2 && test_netns_left(ids) == 0);
	json_decref(ids);
	free(root);
	return test_verdict("postCommands");
}
