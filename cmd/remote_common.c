/*
 * remote_common.c - the part of `barista exec` and `barista cp` that is the
 * same for both (see remote_common.h).
 */
#include "remote_common.h"
#include "error.h"
#include "sshmux.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bar_cancel interrupted = BAR_CANCEL_INIT;

static void on_interrupt(int sig)
{
	(void)sig;
	atomic_store(&interrupted.cancel, 1);
}

/* A debug line (BARISTA_LOG=1): what, then detail if any. */
static void note(const char *what, const char *detail)
{
	const char *want = getenv("BARISTA_LOG");

	if (want && *want)
		fprintf(stderr, "barista: debug: %s%s%s\n", what, detail ? ": " : "",
		        detail ? detail : "");
}

int cmd_remote_load(cmd_remote *r, const char *mci)
{
	bar_remote_select sel = BAR_REMOTE_SELECT_INIT;
	bar_state *st = NULL;
	bar_records rs = { NULL, 0 };
	char *keys = NULL;
	int rc = -1;

	r->state_path = cmd_state_path(&r->o, ".");
	r->json = r->o.json;
	r->color = cmd_color(&r->o);
	if (r->o.timeout && bar_duration_parse(&r->job.timeout_ms, r->o.timeout) < 0)
		goto done;
	if (bar_state_open(&st, r->state_path, BAR_STATE_READONLY) < 0 ||
	    bar_state_load(st, &rs) < 0)
		goto done;
	keys = cmd_keys_dir(r->state_path);
	sel.mci = mci;
	sel.group = r->o.group;
	sel.vms = r->o.vms;
	sel.n_vms = r->o.n_vms;
	sel.labels = r->o.labels;
	sel.n_labels = r->o.n_labels;
	rc = bar_remote_targets_select(&r->targets, &rs, keys, &sel);
done:
	if (rc < 0)
		cmd_fail(&r->o);
	free(keys);
	bar_records_clear(&rs);
	bar_state_free(st);
	return rc < 0 ? -1 : 0;
}

/* Start `barista ssh-broker PATH STATE IDLE_MS` (this very program). */
static int broker_start(const char *path, const char *state_path, int persist_ms)
{
	char exe[PATH_MAX], real[PATH_MAX], idle[24];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *argv[] = { exe, "ssh-broker", path, real, idle, NULL };

	if (n <= 0 || !realpath(state_path, real))
		return bar_error_set("cannot find this program or the state file");
	exe[n] = '\0';
	snprintf(idle, sizeof(idle), "%d", persist_ms);
	note("starting a session broker", path);
	return bar_sshmux_spawn(path, state_path, persist_ms, argv);
}

/* A connection to this state's broker, starting one if there is none. */
static int broker_open(int *fd, const char *state_path, int persist_ms)
{
	char *path = NULL;
	int rc = bar_sshmux_path(&path, state_path);

	if (rc == 0 && (rc = bar_sshmux_connect(fd, path)) == BAR_ENOTFOUND &&
	    (rc = broker_start(path, state_path, persist_ms)) == 0)
		rc = bar_sshmux_connect(fd, path);
	if (rc < 0)
		note("no session broker, connecting directly", bar_error_last());
	free(path);
	return rc;
}

int cmd_remote_run(cmd_remote *r, bar_remote_opts *ro, bar_remote_results *res)
{
	struct sigaction sa = { .sa_handler = on_interrupt };
	int persist = 0, fd = -1, rc;

	if (bar_sshmux_persist_ms(&persist, getenv("BARISTA_SSH_PERSIST")) < 0)
		return cmd_fail(&r->o), -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ro->cancel = &interrupted;
	ro->parallel = r->o.jobs;
	if (persist > 0 && broker_open(&fd, r->state_path, persist) == 0) {
		rc = bar_sshmux_run(res, fd, &r->targets, &r->job, ro);
		close(fd);
		if (rc != BAR_ERETRY)
			return 0; /* a broker gone mid-run is reported per VM */
		note("the session broker did not take the request; connecting directly", NULL);
	}
	if (bar_remote_run(res, &r->targets, &r->job, ro) < 0)
		return cmd_fail(&r->o), -1;
	return 0;
}

int cmd_remote_interrupted(void)
{
	return bar_cancel_cancelled(&interrupted);
}

void cmd_remote_print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);

	if (text)
		puts(text);
	fflush(stdout);
	free(text);
	json_decref(j);
}

void cmd_remote_print_failure(const cmd_remote *r, size_t i, const bar_remote_result *res)
{
	if (res->outcome == BAR_REMOTE_OK || res->outcome == BAR_REMOTE_EXIT)
		return;
	fprintf(stderr, "barista: %s: %s: %s\n", r->targets.items[i].name,
	        bar_remote_outcome_name(res->outcome), res->error ? res->error : "");
}

int cmd_remote_finish(const cmd_remote *r, const bar_remote_results *res)
{
	bar_buf b = BAR_BUF_INIT(0);
	size_t failed = bar_remote_summary(&b, &r->targets, res);

	fflush(stdout); /* the results before the summary, also when both go to one pipe */
	fprintf(stderr, "%s%s\n", cmd_remote_interrupted() ? "interrupted: " : "", b.data);
	bar_buf_free(&b);
	return cmd_remote_interrupted() ? 130 : failed ? 1 : 0;
}

void cmd_remote_free(cmd_remote *r)
{
	bar_remote_targets_clear(&r->targets);
	free(r->state_path);
}
