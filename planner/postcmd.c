/*
 * postcmd.c - a VM's postCommands: the group's command lines, run once over
 * SSH (with the host key the provider reported and the private key from the
 * key store) right after the VM is created, again after a re-create.  The
 * exit code and the last few KiB of output are kept; a failure makes the VM
 * Failed with that output.  Commands run in one shell with `set -e`, so the
 * first failing line ends them.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "keystore.h"
#include "remote.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define POST_TAIL 4096                /* bytes of output kept */
#define POST_TIMEOUT_MS (10 * 60000)  /* the whole run */
#define POST_REACH_MS (3 * 60000)     /* for sshd to answer after create */

typedef struct tail_buf {
	char data[POST_TAIL];
	size_t len;
	int cut; /* older output was dropped */
} tail_buf;

/* Keep the last POST_TAIL bytes of stdout and stderr, in arrival order. */
static void keep_tail(void *ud, size_t target, int stream, const char *data, size_t len)
{
	tail_buf *t = ud;

	(void)target;
	(void)stream;
	if (len >= POST_TAIL) {
		memcpy(t->data, data + len - POST_TAIL, POST_TAIL);
		t->len = POST_TAIL;
		t->cut = 1;
		return;
	}
	if (t->len + len > POST_TAIL) {
		size_t drop = t->len + len - POST_TAIL;

		memmove(t->data, t->data + drop, t->len - drop);
		t->len -= drop;
		t->cut = 1;
	}
	memcpy(t->data + t->len, data, len);
	t->len += len;
}

int bar_vm_remote_target(bar_remote_target *t, const char *address, const char *name,
                         const char *status, const char *system_id, const char *observed,
                         const char *ssh_key, const char *keys_dir, const char *what)
{
	json_t *obs = json_loads(observed ? observed : "{}", 0, NULL);
	const char *ip = json_string_value(json_object_get(obs, "privateIp"));
	const char *hk = json_string_value(json_object_get(obs, "hostKey"));
	int rc = 0;

	if (!ip || !hk || !ssh_key || !keys_dir)
		rc = bar_error_setc(BAR_EINVALID, "%s: %s need the VM's address, its host key and "
		                    "its SSH key's private half in the key store", address, what);
	else
		*t = (bar_remote_target){
			.name = bar_strdup(name), .address = bar_strdup(address),
			.status = bar_strdup(status ? status : ""), .host = bar_strdup(ip), .port = 22,
			.user = bar_strdup("root"), .system_id = bar_strdup(system_id ? system_id : ""),
			.host_key = bar_strdup(hk), .key_path = bar_keystore_path(keys_dir, ssh_key,
			                                                          "privateKey"),
		};
	json_decref(obs);
	return rc;
}

/* The one target: the new VM as the provider reported it. */
static int post_target(bar_remote_target *t, const bar_change *c, const bar_obs *o,
                       const char *keys_dir)
{
	return bar_vm_remote_target(t, c->address, c->name, o->status, o->system_id, o->attrs,
	                            json_string_value(json_object_get(c->refs, "sshKey")),
	                            keys_dir, "postCommands");
}

/* "set -e", then the commands, one per line. */
static char *post_script(const json_t *cmds)
{
	bar_buf b = BAR_BUF_INIT(0);
	size_t i;
	json_t *c;

	bar_buf_puts(&b, "set -e\n");
	json_array_foreach(cmds, i, c) {
		bar_buf_puts(&b, json_string_value(c));
		bar_buf_puts(&b, "\n");
	}
	return bar_buf_take(&b);
}

int bar_post_run(bar_post_result *out, const bar_change *c, const bar_obs *o,
                 const char *keys_dir, const bar_cancel *cancel)
{
	const json_t *cmds = json_object_get(c->attrs, "postCommands");
	bar_remote_targets ts = {NULL, NULL, 0};
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = {NULL, 0};
	bar_remote_target t;
	tail_buf *tail;
	char *script;
	int64_t reach_until = bar_now_ms() + POST_REACH_MS;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_array_size(cmds))
		return 0;
	if ((rc = post_target(&t, c, o, keys_dir)) < 0)
		return rc;
	ts.items = &t;
	ts.n = 1;
	script = post_script(cmds);
	tail = bar_calloc(1, sizeof(*tail));
	job.command = script;
	job.timeout_ms = POST_TIMEOUT_MS;
	ro.parallel = 1;
	ro.on_chunk = keep_tail;
	ro.ud = tail;
	ro.cancel = cancel;
	for (;;) { /* a new VM's sshd may take a moment to answer */
		bar_remote_results_clear(&res);
		tail->len = 0;
		rc = bar_remote_run(&res, &ts, &job, &ro);
		if (rc < 0 || res.items[0].outcome != BAR_REMOTE_UNREACHABLE ||
		    bar_now_ms() >= reach_until || bar_sleep_ms(2000, reach_until, cancel) < 0)
			break;
	}
	if (rc == 0) {
		const bar_remote_result *r = &res.items[0];

		out->ran = 1;
		out->exit_code = r->exit_code;
		out->output = bar_printf("%s%.*s", tail->cut ? "...\n" : "", (int)tail->len,
		                         tail->data);
		if (r->outcome == BAR_REMOTE_EXIT)
			rc = bar_error_setc(BAR_EFAIL, "%s: postCommands failed (exit %d): %s",
			                    c->address, r->exit_code, out->output);
		else if (r->outcome != BAR_REMOTE_OK)
			rc = bar_error_setc(BAR_EFAIL, "%s: postCommands could not run (%s): %s",
			                    c->address, bar_remote_outcome_name(r->outcome),
			                    r->error ? r->error : out->output);
	}
	bar_remote_results_clear(&res);
	ts.items = NULL;
	ts.n = 0;
	bar_remote_target_clear(&t);
	free(script);
	free(tail);
	return rc;
}

void bar_post_result_clear(bar_post_result *r)
{
	free(r->output);
	memset(r, 0, sizeof(*r));
}
