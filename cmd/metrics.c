/*
 * metrics.c - `barista metrics list|query` and `barista alarms list`: the
 * agent's catalogue, a collector's series as a table, CSV or JSON, and the
 * alarm states and history a collector keeps.
 */
#include "cmd.h"
#include "client.h"
#include "metrics.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "Usage: barista metrics list [-json]\n"
    "       barista metrics query -metric NAME [-mci M] [-vm V] [options]\n"
    "       barista metrics now MCI[/VM] [-vm V]... [-metric M]... [-json]   (-help: more)\n"
    "The metrics barista-agent collects, and their series from a collector.\n"
    "  -metric NAME         a catalogue metric (barista metrics list): cpu.usage ...\n"
    "  -mci M, -vm V        only MCI M, only VM V (its name)\n"
    "  -ns NS               namespace (default \"default\")\n"
    "  -since D             how far back (default 1h)\n"
    "  -step D              one point per D (default 10s)\n"
    "  -fn F                within a step: avg (default), min, max, last, sum, count\n"
    "  -aggregate A         across the VMs of the MCI: sum, avg, min, max, count\n"
    "  -json, -csv          print as JSON or CSV (time, then one column per series)\n"
    "  -collector URL       the collector (default $BARISTA_COLLECTOR or\n"
    "                       http://127.0.0.1:9109)\n";

static const char alarms_usage[] =
    "Usage: barista alarms list [-json] [-collector URL]\n"
    "The alarms a collector evaluates: alerts pending, firing or just resolved, then\n"
    "the history of state changes (newest first).\n";

static const char *collector_url(const char *flag)
{
	const char *env = getenv("BARISTA_COLLECTOR");
	return flag ? flag : env && *env ? env : "http://127.0.0.1:9109";
}

static int metrics_list(int json)
{
	size_t n;
	const bar_metric_info *m = bar_metrics(&n);
	cmd_table t = CMD_TABLE_INIT(5);

	if (json) {
		json_t *arr = json_array();
		char *s;
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name",
			                                     m[i].name, "prom", m[i].prom, "group",
			                                     m[i].group, "unit", m[i].unit, "labels",
			                                     m[i].labels, "help", m[i].help));
		s = json_dumps(arr, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(arr);
		return 0;
	}
	cmd_table_add(&t, (const char *const[]){"METRIC", "GROUP", "UNIT", "LABELS", "MEANING"});
	for (size_t i = 0; i < n; i++)
		cmd_table_add(&t, (const char *const[]){m[i].name, m[i].group, m[i].unit,
		                                         m[i].labels, m[i].help});
	cmd_table_print(&t, "");
	cmd_table_free(&t);
	return 0;
}

/* A series' column title: its vm and the metric's own labels. */
static char *series_title(json_t *labels)
{
	static const char *const skip[] = {"__name__", "ns", "mci", NULL};
	bar_buf b = BAR_BUF_INIT(0);
	const char *k;
	json_t *v;

	bar_buf_puts(&b, json_string_value(json_object_get(labels, "vm")) ?
	                 json_string_value(json_object_get(labels, "vm")) :
	                 json_string_value(json_object_get(labels, "mci")) ?
	                 json_string_value(json_object_get(labels, "mci")) : "");
	json_object_foreach(labels, k, v) {
		int s = !strcmp(k, "vm");
		for (int i = 0; skip[i]; i++)
			s |= !strcmp(k, skip[i]);
		if (!s)
			bar_buf_printf(&b, "%s%s=%s", b.len ? " " : "", k, json_string_value(v));
	}
	return bar_buf_take(&b);
}

/* The table or CSV: a row per step, a column per series. */
static void print_grid(json_t *ans, int csv)
{
	json_t *series = json_object_get(ans, "series"), *s;
	int64_t start = json_integer_value(json_object_get(ans, "start"));
	int64_t end = json_integer_value(json_object_get(ans, "end"));
	int64_t step = json_integer_value(json_object_get(ans, "step"));
	size_t ns = json_array_size(series), i, rows;
	char **titles, (*cells)[24], when[32];
	size_t *pos;
	cmd_table t;

	if (!ns) {
		if (!csv)
			printf("No data for %s in this range.\n",
			       json_string_value(json_object_get(ans, "metric")));
		return;
	}
	rows = step > 0 ? (size_t)((end - start) / step) + 1 : 0;
	titles = bar_calloc(ns + 1, sizeof(*titles));
	pos = bar_calloc(ns + 1, sizeof(*pos));
	cells = bar_calloc((rows + 1) * (ns + 1), sizeof(*cells));
	t = (cmd_table)CMD_TABLE_INIT(ns + 1);
	json_array_foreach(series, i, s)
		titles[i] = series_title(json_object_get(s, "labels"));
	if (csv) {
		printf("time");
		for (i = 0; i < ns; i++)
			printf(",\"%s\"", titles[i]);
		printf("\n");
	} else {
		const char **row = bar_calloc(ns + 1, sizeof(*row));
		row[0] = "TIME";
		for (i = 0; i < ns; i++)
			row[i + 1] = titles[i];
		cmd_table_add(&t, row);
		free(row);
	}
	for (size_t r = 0; r < rows; r++) {
		int64_t at = start + (int64_t)r * step;
		const char **row = bar_calloc(ns + 1, sizeof(*row));
		time_t tt = (time_t)(at / 1000);
		struct tm tm;
		int any = 0;

		localtime_r(&tt, &tm);
		strftime(when, sizeof(when), csv ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm);
		json_array_foreach(series, i, s) {
			json_t *pts = json_object_get(s, "points"), *p;
			char *c = cells[r * (ns + 1) + i];

			c[0] = '\0';
			while ((p = json_array_get(pts, pos[i])) &&
			       json_integer_value(json_array_get(p, 0)) < at)
				pos[i]++;
			p = json_array_get(pts, pos[i]);
			if (p && json_integer_value(json_array_get(p, 0)) == at &&
			    json_is_number(json_array_get(p, 1))) {
				snprintf(c, 24, "%.6g", json_number_value(json_array_get(p, 1)));
				any = 1;
			}
			row[i + 1] = c;
		}
		if (any) {
			if (csv) {
				printf("%s", when);
				for (i = 0; i < ns; i++)
					printf(",%s", row[i + 1]);
				printf("\n");
			} else {
				char *w = cells[r * (ns + 1) + ns];
				snprintf(w, 24, "%s", when);
				row[0] = w;
				cmd_table_add(&t, row);
			}
		}
		free(row);
	}
	if (!csv) {
		printf("%s (%s), %s per %llds, %s\n", json_string_value(json_object_get(ans, "metric")),
		       json_string_value(json_object_get(ans, "unit")),
		       json_string_value(json_object_get(ans, "fn")), (long long)(step / 1000),
		       strcmp(json_string_value(json_object_get(ans, "aggregate")), "none")
		           ? json_string_value(json_object_get(ans, "aggregate")) : "per series");
		cmd_table_print(&t, "");
	}
	cmd_table_free(&t);
	for (i = 0; i < ns; i++)
		free(titles[i]);
	free(titles);
	free(pos);
	free(cells);
}

static int metrics_query(int argc, char **argv)
{
	const char *metric = NULL, *mci = NULL, *vm = NULL, *ns = NULL, *since = "1h",
	           *step = "10s", *fn = NULL, *agg = NULL, *url = NULL;
	int json = 0, csv = 0;
	bar_buf path = BAR_BUF_INIT(0);
	json_t *ans = NULL;
	char why[1024];
	struct {
		const char *flag;
		const char **to;
	} vals[] = {{"-metric", &metric}, {"-mci", &mci}, {"-vm", &vm}, {"-ns", &ns},
	            {"-since", &since}, {"-step", &step}, {"-fn", &fn}, {"-aggregate", &agg},
	            {"-collector", &url}};

	for (int i = 0; i < argc; i++) {
		int done = 0;
		if (!strcmp(argv[i], "-json")) {
			json = 1;
			continue;
		}
		if (!strcmp(argv[i], "-csv")) {
			csv = 1;
			continue;
		}
		for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]) && !done; k++)
			if (!strcmp(argv[i], vals[k].flag)) {
				if (i + 1 >= argc) {
					fprintf(stderr, "barista metrics: %s needs a value\n", argv[i]);
					return 1;
				}
				*vals[k].to = argv[++i];
				done = 1;
			}
		if (!done) {
			fprintf(stderr, "barista metrics: unknown option \"%s\"\n\n%s", argv[i], usage);
			return 1;
		}
	}
	if (!metric) {
		fprintf(stderr, "barista metrics query: -metric NAME is required (barista metrics "
		        "list shows them)\n");
		return 1;
	}
	if (!bar_metric_find(metric)) {
		fprintf(stderr, "barista metrics query: no metric \"%s\" (barista metrics list shows "
		        "them)\n", metric);
		return 1;
	}
	bar_buf_puts(&path, "/v1/query?");
	for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]) - 1; k++)
		if (*vals[k].to) {
			char *e = bar_monitor_escape(*vals[k].to);
			bar_buf_printf(&path, "%s%s=%s", path.data[path.len - 1] == '?' ? "" : "&",
			               vals[k].flag + 1, e);
			free(e);
		}
	if (bar_monitor_get(&ans, collector_url(url), path.data, NULL, why, sizeof(why)) < 0) {
		fprintf(stderr, "barista metrics query: %s\n", why);
		bar_buf_free(&path);
		return 1;
	}
	bar_buf_free(&path);
	if (json) {
		char *s = json_dumps(ans, JSON_INDENT(2));
		puts(s);
		free(s);
	} else {
		print_grid(ans, csv);
	}
	if (json_string_value(json_array_get(json_object_get(ans, "warnings"), 0)))
		fprintf(stderr, "barista metrics query: partial answer: %s\n",
		        json_string_value(json_array_get(json_object_get(ans, "warnings"), 0)));
	json_decref(ans);
	return 0;
}

int cmd_metrics(int argc, char **argv)
{
	if (argc < 1 || !strcmp(argv[0], "-help") || !strcmp(argv[0], "--help")) {
		fputs(usage, argc < 1 ? stderr : stdout);
		return argc < 1;
	}
	if (!strcmp(argv[0], "list"))
		return metrics_list(argc > 1 && !strcmp(argv[1], "-json"));
	if (!strcmp(argv[0], "query"))
		return metrics_query(argc - 1, argv + 1);
	if (!strcmp(argv[0], "now"))
		return cmd_metrics_now(argc - 1, argv + 1);
	fprintf(stderr, "barista metrics: unknown subcommand \"%s\"\n\n%s", argv[0], usage);
	return 1;
}

int cmd_alarms(int argc, char **argv)
{
	const char *url = NULL;
	int json = 0;
	json_t *ans, *a;
	char why[1024];
	size_t i;
	cmd_table t = CMD_TABLE_INIT(5);

	if (argc < 1 || strcmp(argv[0], "list") != 0) {
		fputs(alarms_usage, argc < 1 ? stderr : stdout);
		return argc < 1 || strcmp(argv[0], "-help") != 0;
	}
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "-json"))
			json = 1;
		else if (!strcmp(argv[k], "-collector") && k + 1 < argc)
			url = argv[++k];
		else {
			fprintf(stderr, "barista alarms: unknown option \"%s\"\n\n%s", argv[k],
			        alarms_usage);
			return 1;
		}
	}
	if (bar_monitor_get(&ans, collector_url(url), "/v1/alarms", NULL, why, sizeof(why)) < 0) {
		fprintf(stderr, "barista alarms: %s\n", why);
		return 1;
	}
	if (json) {
		char *s = json_dumps(ans, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(ans);
		return 0;
	}
	if (!json_is_true(json_object_get(ans, "onDuty")))
		printf("(this collector is not on alarm duty: a peer evaluates the rules)\n");
	if (!json_array_size(json_object_get(ans, "alerts")))
		printf("No alarm is pending or firing.\n");
	else {
		char **vals = bar_calloc(json_array_size(json_object_get(ans, "alerts")) * 2 + 1,
		                         sizeof(*vals));
		size_t nv = 0;
		cmd_table_add(&t, (const char *const[]){"STATE", "ALARM", "WHERE", "VALUE", "SINCE"});
		json_array_foreach(json_object_get(ans, "alerts"), i, a) {
			json_t *l = json_object_get(a, "labels");
			const char *vm = json_string_value(json_object_get(l, "vm"));
			vals[nv] = bar_printf("%s/%s%s%s", json_string_value(json_object_get(l, "ns")),
			                      json_string_value(json_object_get(l, "mci")), vm ? "/" : "",
			                      vm ? vm : "");
			vals[nv + 1] = bar_printf("%.6g", json_number_value(json_object_get(a, "value")));
			cmd_table_add(&t, (const char *const[]){
			                      json_string_value(json_object_get(a, "state")),
			                      json_string_value(json_object_get(l, "alarm")), vals[nv],
			                      vals[nv + 1],
			                      json_string_value(json_object_get(a, "firedAt"))
			                          ? json_string_value(json_object_get(a, "firedAt"))
			                          : json_string_value(json_object_get(a, "activeAt"))});
			nv += 2;
		}
		cmd_table_print(&t, "");
		cmd_table_free(&t);
		for (size_t k = 0; k < nv; k++)
			free(vals[k]);
		free(vals);
	}
	if (json_array_size(json_object_get(ans, "history"))) {
		cmd_table h = CMD_TABLE_INIT(4);
		printf("\nHistory:\n");
		cmd_table_add(&h, (const char *const[]){"AT", "STATE", "ALARM", "LABELS"});
		json_array_foreach(json_object_get(ans, "history"), i, a) {
			json_t *l = json_object_get(a, "labels");
			cmd_table_add(&h, (const char *const[]){
			                      json_string_value(json_object_get(a, "at")),
			                      json_string_value(json_object_get(a, "state")),
			                      json_string_value(json_object_get(a, "alarm")),
			                      json_string_value(json_object_get(l, "vm"))
			                          ? json_string_value(json_object_get(l, "vm"))
			                          : json_string_value(json_object_get(l, "mci"))});
			if (i >= 19)
				break;
		}
		cmd_table_print(&h, "  ");
		cmd_table_free(&h);
	}
	json_decref(ans);
	return 0;
}
