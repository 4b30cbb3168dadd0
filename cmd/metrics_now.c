/*
 * metrics_now.c - `barista metrics now MCI[/VM] [-vm V]... [-group G] [-json]`:
 * a fresh sample from the agents themselves, not from a collector: runs
 * `barista-agent -once -format json` on each targeted VM over SSH (the
 * remote-command path of `barista exec`), so it works whatever the VMs'
 * security groups let in and whether or not a collector is up.
 */
#include "remote_common.h"
#include "metrics.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAPTURE_MAX ((size_t)4 << 20)

static const char usage[] =
    "Usage: barista metrics now MCI[/VM] [options]\n"
    "\n"
    "Collect one sample on the MCI's VMs now, with the barista-agent a\n"
    "MonitoringPolicy installed there, over SSH (as `barista exec`).\n"
    "\n"
    "Options:\n"
    "  -vm V            only VM V (repeatable; MCI/VM is the same as -vm VM)\n"
    "  -group G         only the VMs of group G\n"
    "  -metric M        only metric M (repeatable; barista metrics list)\n"
    "  -json            one JSON line per VM: vm, t_ms, metrics [{name, prom,\n"
    "                   labels, value}]\n"
    "  -timeout D       per VM (default 30s)\n"
    "  -state FILE      state file (default ./barista.db or $BARISTA_STATE)\n";

/* The agent lives in /run/barista/agent on local VMs, /opt/barista-agent
 * elsewhere (planner/agent.c). */
static const char once_cmd[] =
    "for d in /run/barista/agent /opt/barista-agent; do "
    "if [ -x \"$d/barista-agent\" ]; then "
    "exec \"$d/barista-agent\" -once -format json -config \"$d/agent.conf\"; fi; done; "
    "echo 'barista-agent is not installed here: a MonitoringPolicy that watches this "
    "MCI installs it (barista apply)' >&2; exit 127";

typedef struct now_ctx {
	cmd_remote *r;
	const char **metrics;
	size_t nmetrics;
	json_t **kept;     /* per target: its samples wanted, or NULL (failed) */
} now_ctx;

static int wanted(const now_ctx *x, const char *name)
{
	if (!x->nmetrics)
		return 1;
	for (size_t i = 0; i < x->nmetrics; i++)
		if (!strcmp(x->metrics[i], name))
			return 1;
	return 0;
}

/* A VM's answer: kept in its own slot (the runner may call from its
 * threads); -json prints it at once. */
static void on_done(void *ud, size_t i, const bar_remote_result *res)
{
	now_ctx *x = ud;
	const bar_remote_target *t = &x->r->targets.items[i];
	json_error_t je;
	json_t *doc, *s, *keep;
	size_t k;

	if (res->outcome != BAR_REMOTE_OK || res->exit_code != 0) {
		cmd_remote_print_failure(x->r, i, res);
		if (res->exit_code > 0 && res->err_len)
			fprintf(stderr, "%s: %.*s", t->name, (int)res->err_len, res->err);
		return;
	}
	doc = json_loadb(res->out ? res->out : "", res->out_len, 0, &je);
	if (!json_is_array(json_object_get(doc, "samples"))) {
		fprintf(stderr, "%s: the agent's answer is not a sample (%s)\n", t->name, je.text);
		json_decref(doc);
		return;
	}
	keep = json_array();
	json_array_foreach(json_object_get(doc, "samples"), k, s)
		if (wanted(x, json_string_value(json_object_get(s, "name"))))
			json_array_append(keep, s);
	if (x->r->json)
		cmd_remote_print_json(json_pack("{s:s,s:O,s:O}", "vm", t->name, "t_ms",
		                                json_object_get(doc, "t_ms"), "metrics", keep));
	x->kept[i] = keep;
	json_decref(doc);
}

/* The table of every VM's samples, in the targets' order. */
static void print_table(const now_ctx *x)
{
	cmd_table t = CMD_TABLE_INIT(5);
	char **own = NULL;
	size_t nown = 0, cap = 0, k;
	json_t *s;

	cmd_table_add(&t, (const char *[]){"VM", "METRIC", "LABELS", "VALUE", "UNIT"});
	for (size_t i = 0; i < x->r->targets.n; i++)
		json_array_foreach(x->kept[i], k, s) {
			const char *name = json_string_value(json_object_get(s, "name")), *lk;
			const bar_metric_info *mi = bar_metric_find(name);
			bar_buf labels = BAR_BUF_INIT(0);
			json_t *lv;

			json_object_foreach(json_object_get(s, "labels"), lk, lv)
				if (strcmp(lk, "ns") && strcmp(lk, "mci") && strcmp(lk, "vm"))
					bar_buf_printf(&labels, "%s%s=%s", labels.len ? "," : "", lk,
					               json_string_value(lv));
			if (nown + 2 > cap) {
				cap = cap ? cap * 2 : 256;
				own = bar_realloc(own, cap * sizeof(*own));
			}
			own[nown++] = bar_buf_take(&labels);
			own[nown] = bar_malloc(32);
			bar_promtext_value(own[nown++], json_number_value(json_object_get(s, "value")));
			cmd_table_add(&t, (const char *[]){x->r->targets.items[i].name, name,
			                                    own[nown - 2], own[nown - 1],
			                                    mi ? mi->unit : ""});
		}
	cmd_table_print(&t, "");
	cmd_table_free(&t);
	for (size_t i = 0; i < nown; i++)
		free(own[i]);
	free(own);
}

int cmd_metrics_now(int argc, char **argv)
{
	cmd_remote r = { .job = BAR_REMOTE_JOB_INIT };
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = { NULL, 0 };
	now_ctx x = { .r = &r };
	const char *metrics[64], *args[64];
	char mci[128];
	int n = 0, rc = 1;

	/* -metric is ours; the rest is exec's option set */
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-metric") && i + 1 < argc && x.nmetrics < 64) {
			if (!bar_metric_find(argv[i + 1])) {
				fprintf(stderr, "barista metrics now: metric \"%s\" is not in the catalogue "
				        "(barista metrics list)\n", argv[i + 1]);
				return 1;
			}
			metrics[x.nmetrics++] = argv[++i];
		} else if (n < 63) {
			args[n++] = argv[i];
		}
	}
	x.metrics = metrics;
	if (cmd_parse(&r.o, n, (char **)args, "state group vm timeout json no-color", usage) < 0)
		return 1;
	if (!r.o.positional) {
		fprintf(stderr, "barista metrics now: no MCI given\n%s", usage);
		return 1;
	}
	snprintf(mci, sizeof(mci), "%s", r.o.positional);
	if (strchr(mci, '/')) { /* MCI/VM */
		*strchr(mci, '/') = '\0';
		if (r.o.n_vms < MAX_LIST_OPTS)
			r.o.vms[r.o.n_vms++] = strchr(r.o.positional, '/') + 1;
	}
	if (!r.o.timeout)
		r.o.timeout = "30s";
	if (cmd_remote_load(&r, mci) < 0)
		goto done;
	x.kept = bar_calloc(r.targets.n + 1, sizeof(*x.kept));
	r.job.kind = BAR_REMOTE_EXEC;
	r.job.command = once_cmd;
	ro.ud = &x;
	ro.capture = CAPTURE_MAX;
	ro.on_done = on_done;
	if (cmd_remote_run(&r, &ro, &res) < 0)
		goto done;
	if (!r.json)
		print_table(&x);
	rc = cmd_remote_finish(&r, &res);
	for (size_t i = 0; i < r.targets.n; i++)
		if (!x.kept[i] && rc == 0)
			rc = 1;
done:
	for (size_t i = 0; x.kept && i < r.targets.n; i++)
		json_decref(x.kept[i]);
	free(x.kept);
	bar_remote_results_clear(&res);
	cmd_remote_free(&r);
	return rc;
}
