/*
 * calls.c - `barista calls [DIR]`: the call log beside the state (every
 * request the providers made to their clouds, core/calllog.h), as a table,
 * JSON, or a summary per connection.
 */
#include "cmd.h"
#include "calllog.h"
#include "error.h"
#include "remote.h" /* bar_duration_parse */
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "Usage: barista calls [options] [DIR]\n"
    "Every request the providers made to their clouds, from the call log beside the\n"
    "state (DIR/barista.db.calls): when, connection, region, API operation, the cloud\n"
    "id, HTTP status, the cloud's error code and how long it took.  Nothing secret is\n"
    "recorded.  The log keeps the newest 100,000 calls.\n"
    "  -since D             only calls of the last D (30s, 10m, 2h, 7d)\n"
    "  -connection C        only connection C (NAME or NAMESPACE/NAME)\n"
    "  -errors              only calls that failed (an error code, no answer, HTTP >= 400)\n"
    "  -limit N             the newest N calls (default 50; 0: all)\n"
    "  -summary             per connection: calls, errors, error rate, p50/p99/max latency\n"
    "  -json                print as JSON\n"
    "  -state FILE          state file (default DIR/barista.db); the log is FILE.calls\n"
    "  -no-color            no ANSI colours\n";

static void format_time(char *out, size_t size, int64_t at_ms)
{
	time_t t = (time_t)(at_ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void print_rows(const bar_calllog_rows *r, int json)
{
	static const char *const head[] = {"TIME", "CONNECTION", "REGION", "OPERATION",
	                                   "RESOURCE", "STATUS", "ERROR", "MS"};
	cmd_table t = CMD_TABLE_INIT(8);
	char (*cells)[3][32] = bar_calloc(r->n + 1, sizeof(*cells));

	if (json) {
		json_t *arr = json_array();
		char *s;

		for (size_t i = 0; i < r->n; i++)
			json_array_append_new(arr, bar_call_entry_json(&r->items[i]));
		s = json_dumps(arr, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(arr);
		free(cells);
		return;
	}
	if (r->n == 0) {
		printf("No calls recorded (cloud drivers and sim record theirs; the local provider "
		       "makes no API calls).\n");
		free(cells);
		return;
	}
	cmd_table_add(&t, head);
	for (size_t i = 0; i < r->n; i++) {
		const bar_call_entry *e = &r->items[i];

		format_time(cells[i][0], sizeof(cells[i][0]), e->at_ms);
		if (e->http_status)
			snprintf(cells[i][1], sizeof(cells[i][1]), "%d", e->http_status);
		else
			snprintf(cells[i][1], sizeof(cells[i][1]), "-");
		snprintf(cells[i][2], sizeof(cells[i][2]), "%lld", (long long)e->duration_ms);
		cmd_table_add(&t, (const char *const[]){cells[i][0], e->connection, e->region,
		                                         e->operation, e->resource, cells[i][1],
		                                         e->error_code, cells[i][2]});
	}
	cmd_table_print(&t, "");
	cmd_table_free(&t);
	free(cells);
}

static void print_summary(json_t *sum, int json)
{
	static const char *const head[] = {"CONNECTION", "DRIVER", "REGION", "CALLS", "ERRORS",
	                                   "ERROR RATE", "P50 MS", "P99 MS", "MAX MS",
	                                   "MOST CALLED"};
	size_t n = json_array_size(sum), i;
	cmd_table t = CMD_TABLE_INIT(10);
	char (*cells)[6][32] = bar_calloc(n + 1, sizeof(*cells));
	json_t *o;

	if (json) {
		char *s = json_dumps(sum, JSON_INDENT(2));

		puts(s);
		free(s);
		free(cells);
		return;
	}
	if (n == 0) {
		printf("No calls recorded.\n");
		free(cells);
		return;
	}
	cmd_table_add(&t, head);
	json_array_foreach(sum, i, o) {
		snprintf(cells[i][0], 32, "%lld", json_integer_value(json_object_get(o, "calls")));
		snprintf(cells[i][1], 32, "%lld", json_integer_value(json_object_get(o, "errors")));
		snprintf(cells[i][2], 32, "%.1f%%",
		         100.0 * json_real_value(json_object_get(o, "error_rate")));
		snprintf(cells[i][3], 32, "%lld", json_integer_value(json_object_get(o, "p50_ms")));
		snprintf(cells[i][4], 32, "%lld", json_integer_value(json_object_get(o, "p99_ms")));
		snprintf(cells[i][5], 32, "%lld", json_integer_value(json_object_get(o, "max_ms")));
		cmd_table_add(&t, (const char *const[]){
		                      json_string_value(json_object_get(o, "connection")),
		                      json_string_value(json_object_get(o, "driver")),
		                      json_string_value(json_object_get(o, "region")), cells[i][0],
		                      cells[i][1], cells[i][2], cells[i][3], cells[i][4], cells[i][5],
		                      json_string_value(json_object_get(o, "top_operation"))});
	}
	cmd_table_print(&t, "");
	cmd_table_free(&t);
	free(cells);
}

int cmd_calls(int argc, char **argv)
{
	cmd_opts o;
	bar_calllog *log = NULL;
	bar_calllog_filter f = {0};
	char *state = NULL, *path = NULL;
	int rc = 1, since_ms = 0, orc;

	if (cmd_parse(&o, argc, argv, "since connection errors limit summary json state no-color",
	              usage) < 0)
		return 1;
	if (o.since && bar_duration_parse(&since_ms, o.since) < 0) {
		fprintf(stderr, "barista: -since: %s\n", bar_error_last());
		return 1;
	}
	state = cmd_state_path(&o, cmd_config_dir(&o));
	path = bar_calllog_path(state);
	orc = bar_calllog_open_ro(&log, path);
	if (orc == BAR_ENOTFOUND) {
		/* nothing called a cloud yet: an empty answer, not an error */
		bar_calllog_rows none = {0};
		json_t *empty = json_array();

		if (o.summary)
			print_summary(empty, o.json);
		else
			print_rows(&none, o.json);
		json_decref(empty);
		rc = 0;
		goto done;
	}
	if (orc < 0)
		goto fail;
	f.since_ms = o.since ? bar_wall_ms() - since_ms : 0;
	f.connection = o.connection;
	f.errors_only = o.errors_only;
	f.limit = o.limit < 0 ? 50 : (size_t)o.limit;
	if (o.summary) {
		json_t *sum = bar_calllog_summary(log, &f);

		if (!sum)
			goto fail;
		print_summary(sum, o.json);
		json_decref(sum);
	} else {
		bar_calllog_rows rows;

		if (bar_calllog_query(log, &f, &rows) < 0)
			goto fail;
		print_rows(&rows, o.json);
		bar_calllog_rows_free(&rows);
	}
	rc = 0;
	goto done;
fail:
	rc = cmd_fail(&o);
done:
	bar_calllog_close(log);
	free(path);
	free(state);
	return rc;
}
