/*
 * app.c - `barista app status|logs MCAPP`: what barista-agent reports of an
 * MCApp's apps on each VM it runs on (docs/apps.md), read over SSH as
 * `barista exec` reads (the agent's status file; the apps' bounded logs).
 * The VMs are those the state records apps on; -vm narrows them.
 */
#include "remote_common.h"
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAPTURE_MAX ((size_t)4 << 20)

static const char usage[] =
    "Usage: barista app status MCAPP [options]\n"
    "       barista app logs MCAPP [-app A] [-lines N] [options]\n"
    "\n"
    "status: each replica of the MCApp's apps on each VM, as its barista-agent\n"
    "reports it (state, health, restarts, the last message).\n"
    "logs:   the end of each replica's output (stdout and stderr, kept by the\n"
    "agent in two files of 1 MiB at most).\n"
    "MCAPP is NAME or NS/NAME.\n"
    "\n"
    "Options:\n"
    "  -app A           only app A of the MCApp\n"
    "  -vm V            only VM V (repeatable)\n"
    "  -lines N         logs: the last N lines of each replica (default 50)\n"
    "  -json            status: one JSON line per VM {vm, apps: [...]}; logs:\n"
    "                   one per replica {vm, app, replica, log}\n"
    "  -timeout D       per VM (default 30s)\n"
    "  -state FILE      state file (default ./barista.db or $BARISTA_STATE)\n";

typedef struct app_ctx {
	cmd_remote *r;
	const char *mcapp, *app;
	int logs;
	json_t **got; /* per target */
} app_ctx;

static void on_done(void *ud, size_t i, const bar_remote_result *res)
{
	app_ctx *x = ud;
	const bar_remote_target *t = &x->r->targets.items[i];

	if (res->outcome != BAR_REMOTE_OK || res->exit_code != 0) {
		cmd_remote_print_failure(x->r, i, res);
		if (res->exit_code > 0 && res->err_len)
			fprintf(stderr, "%s: %.*s", t->name, (int)res->err_len, res->err);
		return;
	}
	if (x->logs) {
		x->got[i] = json_string(res->out ? res->out : "");
		if (!x->got[i])
			x->got[i] = json_string("(the log is not UTF-8)\n");
		return;
	}
	x->got[i] = bar_app_status_parse(res->out, res->out_len, x->mcapp, x->app);
	if (!x->got[i])
		fprintf(stderr, "%s: the agent's status is not readable: %.200s\n", t->name,
		        res->out ? res->out : "");
	else if (x->r->json)
		cmd_remote_print_json(json_pack("{s:s,s:O}", "vm", t->name, "apps", x->got[i]));
}

static void print_status(const app_ctx *x)
{
	cmd_table t = CMD_TABLE_INIT(7);
	char **own = NULL;
	size_t n = 0, k;
	json_t *r;

	cmd_table_add(&t, (const char *[]){"VM", "APP", "STATE", "HEALTHY", "RESTARTS", "PID",
	                                    "MESSAGE"});
	for (size_t i = 0; i < x->r->targets.n; i++)
		json_array_foreach(x->got[i], k, r) {
			own = bar_realloc(own, (n + 3) * sizeof(*own));
			own[n++] = bar_printf("%s/%lld", json_string_value(json_object_get(r, "app")),
			                      (long long)json_integer_value(json_object_get(r, "replica")));
			own[n++] = bar_printf("%lld",
			                      (long long)json_integer_value(json_object_get(r, "restarts")));
			own[n++] = bar_printf("%lld", (long long)json_integer_value(json_object_get(r, "pid")));
			cmd_table_add(&t, (const char *[]){
			    x->r->targets.items[i].name, own[n - 3],
			    json_string_value(json_object_get(r, "state")),
			    json_is_true(json_object_get(r, "healthy")) ? "yes" : "no", own[n - 2],
			    own[n - 1], json_string_value(json_object_get(r, "message"))});
		}
	cmd_table_print(&t, "");
	cmd_table_free(&t);
	for (size_t i = 0; i < n; i++)
		free(own[i]);
	free(own);
}

/* logs: the VM's output holds "==> app/replica <==" headers. */
static void print_logs(const app_ctx *x)
{
	for (size_t i = 0; i < x->r->targets.n; i++) {
		const char *text = json_string_value(x->got[i]), *line;
		char cur[200] = "";

		for (line = text; line && *line;) {
			const char *eol = strchr(line, '\n');
			size_t len = eol ? (size_t)(eol - line) : strlen(line);

			if (len > 8 && !strncmp(line, "==> ", 4) && !strncmp(line + len - 4, " <==", 4)) {
				snprintf(cur, sizeof(cur), "%.*s", (int)(len - 8), line + 4);
			} else if (x->r->json) {
				/* one object per replica would need buffering; per line is as useful */
				cmd_remote_print_json(json_pack("{s:s,s:s,s:s%}", "vm",
				                                x->r->targets.items[i].name, "app", cur,
				                                "line", line, len));
			} else {
				printf("%s %s | %.*s\n", x->r->targets.items[i].name, cur, (int)len, line);
			}
			line = eol ? eol + 1 : NULL;
		}
	}
}

/* The VMs the state records the MCApp's apps on, into r->o.vms (unless -vm
 * chose), and the MCApp's MCI into mci. */
/* `app status` of an MCApp of runtime "kubernetes": its Deployments'
 * rollout status from the cluster, one row (or JSON line) per app. */
static int k8s_status(cmd_remote *r, bar_state *st, const char *state_path, const char *ns,
                      const char *mcapp, const char *app, int logs)
{
	char addr[400];
	json_t *s = NULL, *v;
	const char *name;

	if (logs) {
		fprintf(stderr, "barista app logs: %s/%s runs on Kubernetes; its logs are the pods': "
		        "kubectl logs -l barista.io/mcapp=%s.%s\n", ns, mcapp, ns, mcapp);
		return -1;
	}
	snprintf(addr, sizeof(addr), "%s/k8sapp/%s", ns, mcapp);
	{
		char *keys = cmd_keys_dir(state_path);
		int rc = bar_k8sapp_status(&s, st, keys, addr);

		free(keys);
		if (rc < 0) {
			cmd_fail(&r->o);
			return -1;
		}
	}
	if (!r->o.json)
		printf("%-24s %8s %8s %8s %10s\n", "APP", "DESIRED", "UPDATED", "READY", "AVAILABLE");
	json_object_foreach(s, name, v) {
		if (app && *app && strcmp(app, name) != 0)
			continue;
		if (r->o.json) {
			cmd_remote_print_json(json_pack("{s:s,s:O}", "app", name, "status", v));
			continue;
		}
		if (json_is_true(json_object_get(v, "missing"))) {
			printf("%-24s %8s\n", name, "missing");
			continue;
		}
		printf("%-24s %8lld %8lld %8lld %10lld\n", name,
		       (long long)json_integer_value(json_object_get(v, "desired")),
		       (long long)json_integer_value(json_object_get(v, "updated")),
		       (long long)json_integer_value(json_object_get(v, "ready")),
		       (long long)json_integer_value(json_object_get(v, "available")));
	}
	json_decref(s);
	return 0;
}

/* The VMs the MCApp's apps run on into r's -vm list (unless given) and its
 * MCI; 1 when the MCApp runs on Kubernetes (then k8s_status has been run:
 * *rc is its result). */
static int mcapp_vms(cmd_remote *r, const char *state_path, int vms_given,
                     const char *mcapp_arg, char *mci, size_t mci_size, char *mcapp,
                     size_t mcapp_size, const char *app, int logs, int *k8s_rc)
{
	bar_state *st = NULL;
	bar_records rs = {0};
	bar_record rec = {0};
	char ns[128] = "default", addr[400];
	const char *slash = strchr(mcapp_arg, '/');
	json_t *d;
	int rc = -1, any = 0;
	static char names[MAX_LIST_OPTS][256];

	if (slash) {
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - mcapp_arg), mcapp_arg);
		snprintf(mcapp, mcapp_size, "%s", slash + 1);
	} else {
		snprintf(mcapp, mcapp_size, "%s", mcapp_arg);
	}
	if (bar_state_open(&st, state_path, BAR_STATE_READONLY) < 0) {
		cmd_fail(&r->o);
		return -1;
	}
	snprintf(addr, sizeof(addr), "%s/mcapp/%s", ns, mcapp);
	if (bar_state_get(st, addr, &rec) < 0) {
		fprintf(stderr, "barista app: no MCApp %s in %s (barista apply records it)\n", addr,
		        state_path);
		goto done;
	}
	d = json_loads(rec.desired ? rec.desired : "{}", 0, NULL);
	if (!strcmp(json_string_value(json_object_get(d, "runtime")) ?: "", "kubernetes")) {
		json_decref(d);
		*k8s_rc = k8s_status(r, st, state_path, ns, mcapp, app, logs) < 0 ? 1 : 0;
		rc = 1;
		goto done;
	}
	snprintf(mci, mci_size, "%s/%s", ns, json_string_value(json_object_get(d, "mci"))
	                                         ? json_string_value(json_object_get(d, "mci"))
	                                         : "");
	json_decref(d);
	if (bar_state_load(st, &rs) < 0) {
		cmd_fail(&r->o);
		goto done;
	}
	for (size_t i = 0; i < rs.n; i++) {
		json_t *a;
		const char *vm;

		if (strcmp(rs.items[i].type, "app") || strcmp(rs.items[i].ns, ns))
			continue;
		a = json_loads(rs.items[i].desired ? rs.items[i].desired : "{}", 0, NULL);
		vm = json_string_value(json_object_get(a, "vm"));
		if (vm && !strcmp(json_string_value(json_object_get(a, "mcapp")) ?: "", mcapp)) {
			any = 1;
			if (!vms_given && r->o.n_vms < MAX_LIST_OPTS) {
				snprintf(names[r->o.n_vms], sizeof(names[0]), "%s", vm);
				r->o.vms[r->o.n_vms] = names[r->o.n_vms];
				r->o.n_vms++;
			}
		}
		json_decref(a);
	}
	if (!any) {
		fprintf(stderr, "barista app: MCApp %s has no apps deployed on any VM yet\n", addr);
		goto done;
	}
	rc = 0;
done:
	bar_records_clear(&rs);
	bar_record_clear(&rec);
	bar_state_free(st);
	return rc;
}

int cmd_app(int argc, char **argv)
{
	cmd_remote r = {.job = BAR_REMOTE_JOB_INIT};
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = {NULL, 0};
	app_ctx x = {.r = &r};
	const char *args[64];
	char mci[300], mcapp[200], *cmd = NULL;
	long lines = 50;
	int n = 0, rc = 1;

	if (argc < 1 || (strcmp(argv[0], "status") && strcmp(argv[0], "logs"))) {
		fputs(argc >= 1 && (!strcmp(argv[0], "-help") || !strcmp(argv[0], "-h")) ? usage : "",
		      stdout);
		if (argc < 1 || (strcmp(argv[0], "-help") && strcmp(argv[0], "-h"))) {
			fprintf(stderr, "barista app: want status or logs\n%s", usage);
			return 1;
		}
		return 0;
	}
	x.logs = !strcmp(argv[0], "logs");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-app") && i + 1 < argc)
			x.app = argv[++i];
		else if (!strcmp(argv[i], "-lines") && i + 1 < argc) {
			char *end;
			lines = strtol(argv[++i], &end, 10);
			if (*end || lines < 1 || lines > 100000) {
				fprintf(stderr, "barista app logs: -lines %s: want 1 to 100000\n", argv[i]);
				return 1;
			}
		} else if (n < 63)
			args[n++] = argv[i];
	}
	if (cmd_parse(&r.o, n, (char **)args, "state vm timeout json no-color", usage) < 0)
		return 1;
	if (!r.o.positional) {
		fprintf(stderr, "barista app %s: no MCApp given\n%s", argv[0], usage);
		return 1;
	}
	if (!r.o.timeout)
		r.o.timeout = "30s";
	{
		char *sp = cmd_state_path(&r.o, ".");
		int k8s_rc = 1;
		int m = mcapp_vms(&r, sp, r.o.n_vms > 0, r.o.positional, mci, sizeof(mci), mcapp,
		                  sizeof(mcapp), x.app, x.logs, &k8s_rc);
		free(sp);
		if (m > 0)
			rc = k8s_rc;
		if (m != 0)
			goto done;
	}
	x.mcapp = mcapp;
	if (cmd_remote_load(&r, mci) < 0)
		goto done;
	x.got = bar_calloc(r.targets.n + 1, sizeof(*x.got));
	if (x.logs)
		cmd = bar_printf(
		    "for d in /run/barista/agent /opt/barista-agent; do [ -d \"$d/apps\" ] || continue; "
		    "for l in \"$d\"/apps/%s.%s%s*/log; do [ -f \"$l\" ] || continue; "
		    "r=${l%%/log}; r=${r##*/}; r=${r#%s.}; echo \"==> ${r%%-*}/${r##*-} <==\"; "
		    "{ cat \"$l.1\" 2>/dev/null; cat \"$l\"; } | tail -n %ld; done; done",
		    mcapp, x.app ? x.app : "", x.app ? "-" : "", mcapp, lines);
	else
		cmd = bar_strdup("for d in /run/barista/agent /opt/barista-agent; do "
		                 "if [ -f \"$d/state/apps.json\" ]; then exec cat \"$d/state/apps.json\"; "
		                 "fi; done; echo 'barista-agent runs no apps here' >&2; exit 1");
	r.job.kind = BAR_REMOTE_EXEC;
	r.job.command = cmd;
	ro.ud = &x;
	ro.capture = CAPTURE_MAX;
	ro.on_done = on_done;
	if (cmd_remote_run(&r, &ro, &res) < 0)
		goto done;
	if (x.logs)
		print_logs(&x);
	else if (!r.json)
		print_status(&x);
	rc = cmd_remote_finish(&r, &res);
	for (size_t i = 0; i < r.targets.n; i++)
		if (!x.got[i] && rc == 0)
			rc = 1;
done:
	for (size_t i = 0; x.got && i < r.targets.n; i++)
		json_decref(x.got[i]);
	free(x.got);
	free(cmd);
	bar_remote_results_clear(&res);
	cmd_remote_free(&r);
	return rc;
}
