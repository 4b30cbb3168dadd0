/*
 * exec.c - `barista exec MCI [-group G] [-vm V]... [-label k=v]... [-timeout D]
 * [-j N] [-json] -- CMD...`: run a command on the VMs of an MCI, printing
 * each output line with the VM's name in front (stdout lines on stdout,
 * stderr lines on stderr), or with -json one object per VM, then a summary.
 */
#include "remote_common.h"
#include "error.h"
#include "ssh_b64.h"

#include <stdlib.h>
#include <string.h>

#define CAPTURE_MAX ((size_t)1 << 20) /* -json: per VM and stream */

static const char usage[] =
    "Usage: barista exec MCI [options] -- CMD...\n"
    "\n"
    "Run CMD on every targeted VM of the MCI in parallel over SSH (host keys pinned\n"
    "in state, private keys from the key store); each output line is printed with\n"
    "the VM's name in front.  Exits 1 when any VM failed (non-zero exit,\n"
    "unreachable, timeout), 130 when interrupted.\n"
    "\n"
    "Options:\n"
    "  -group G         only the VMs of group G\n"
    "  -vm V            only VM V (repeatable)\n"
    "  -label k=v       only VMs with this label (repeatable; all must match)\n"
    "  -timeout D       per VM, e.g. 30s, 2m (default: none)\n"
    "  -j N             at most N VMs at once (default 100)\n"
    "  -json            one JSON object per VM: vm, address, stdout, stderr,\n"
    "                   exit_code, duration_s (and error)\n"
    "  -state FILE      state file (default ./barista.db or $BARISTA_STATE)\n"
    "\n"
    "Sessions are kept for reuse by a session broker for 60 s\n"
    "(BARISTA_SSH_PERSIST=0 disables, =5m changes it; see docs/remote.md).\n";

static void print_line(void *ud, size_t i, int stream, const char *line, size_t len)
{
	const cmd_remote *r = ud;
	FILE *f = stream == 1 ? stdout : stderr;
	const char *name = r->targets.items[i].name;

	if (r->color && stream == 1)
		fprintf(f, "\033[36m%s\033[0m: %.*s\n", name, (int)len, line);
	else
		fprintf(f, "%s: %.*s\n", name, (int)len, line);
}

/* Output as a JSON string, or base64 under key_b64 when not UTF-8. */
static void set_text(json_t *o, const char *key, const char *text, size_t len)
{
	json_t *s = json_stringn(text ? text : "", text ? len : 0);

	if (s) {
		json_object_set_new(o, key, s);
	} else {
		char *b64 = bar_malloc(BAR_B64_LEN(len) + 1), *k = bar_printf("%s_base64", key);

		bar_b64_encode(b64, text, len, 1);
		json_object_set_new(o, k, json_string(b64));
		free(b64);
		free(k);
	}
}

static void print_json(void *ud, size_t i, const bar_remote_result *res)
{
	const cmd_remote *r = ud;
	const bar_remote_target *t = &r->targets.items[i];
	json_t *o = json_pack("{s:s, s:s?, s:s, s:s}", "vm", t->name, "address", t->host,
	                      "resource", t->address, "outcome",
	                      bar_remote_outcome_name(res->outcome));

	set_text(o, "stdout", res->out, res->out_len);
	set_text(o, "stderr", res->err, res->err_len);
	json_object_set_new(o, "exit_code", res->exit_code >= 0 ? json_integer(res->exit_code)
	                                                        : json_null());
	json_object_set_new(o, "duration_s", json_real(res->duration_s));
	if (res->out_truncated || res->err_truncated)
		json_object_set_new(o, "truncated", json_string(res->out_truncated ? "stdout"
		                                                                   : "stderr"));
	if (res->error)
		json_object_set_new(o, "error", json_string(res->error));
	cmd_remote_print_json(o);
}

static void print_done(void *ud, size_t i, const bar_remote_result *res)
{
	cmd_remote_print_failure(ud, i, res);
}

/* CMD: the words after "--", joined by spaces as ssh does. */
static char *command_of(int argc, char **argv)
{
	bar_buf b = BAR_BUF_INIT(0);

	for (int i = 0; i < argc; i++) {
		if (i)
			bar_buf_puts(&b, " ");
		bar_buf_puts(&b, argv[i]);
	}
	return bar_buf_take(&b);
}

int cmd_exec(int argc, char **argv)
{
	cmd_remote r = { .job = BAR_REMOTE_JOB_INIT };
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = { NULL, 0 };
	char *command = NULL;
	int dd = 0, rc = 1;

	while (dd < argc && strcmp(argv[dd], "--"))
		dd++;
	if (cmd_parse(&r.o, dd, argv, "state group vm label timeout j json no-color", usage) < 0)
		return 1;
	if (!r.o.positional || dd + 1 >= argc) {
		fprintf(stderr, "barista exec: %s\n%s", !r.o.positional ? "no MCI given"
		                                                        : "no command after --",
		        usage);
		return 1;
	}
	command = command_of(argc - dd - 1, argv + dd + 1);
	if (cmd_remote_load(&r, r.o.positional) < 0)
		goto done;
	r.job.kind = BAR_REMOTE_EXEC;
	r.job.command = command;
	ro.ud = &r;
	if (r.json) {
		ro.capture = CAPTURE_MAX;
		ro.on_done = print_json;
	} else {
		ro.on_line = print_line;
		ro.on_done = print_done;
	}
	if (cmd_remote_run(&r, &ro, &res) == 0)
		rc = cmd_remote_finish(&r, &res);
done:
	bar_remote_results_clear(&res);
	cmd_remote_free(&r);
	free(command);
	return rc;
}
