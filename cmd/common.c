/*
 * common.c - option parsing, configuration loading, tables and the plan/apply
 * flow shared by the subcommands (see cmd.h).
 */
#include "cmd.h"
#include "calllog.h"
#include "catalog.h"
#include "error.h"
#include "remote.h" /* bar_duration_parse */
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int flag_allowed(const char *allowed, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = allowed; (p = strstr(p, name)); p += n)
		if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

static int needs_value(const char *name)
{
	static const char *with_value[] = {"state", "plugin-path", "out", "target", "replace",
	                                   "parallelism", "refresh", "group", "vm", "label",
	                                   "timeout", "j", "lock-timeout", "since", "connection",
	                                   "limit", NULL};

	for (int i = 0; with_value[i]; i++)
		if (!strcmp(name, with_value[i]))
			return 1;
	return 0;
}

/* A whole decimal number in [min, max], nothing before or after it (atoi
 * would take "1.5" as 1 and "10x" as 10).  Prints the problem; 0 or -1. */
static int parse_count(int *out, const char *name, const char *val, long min, long max)
{
	char *end;
	long v;

	if (val[0] >= '0' && val[0] <= '9') { /* no sign, no space */
		errno = 0;
		v = strtol(val, &end, 10);
		if (!*end && !errno && v >= min && v <= max) {
			*out = (int)v;
			return 0;
		}
	}
	fprintf(stderr, "barista: -%s must be a whole number from %ld to %ld, not \"%s\"\n",
	        name, min, max, val);
	return -1;
}

/* Append to one of the list options. */
static int add_list(const char **list, size_t *n, const char *name, const char *val)
{
	if (*n == MAX_LIST_OPTS)
		return fprintf(stderr, "barista: at most %d -%s options\n", MAX_LIST_OPTS, name), -1;
	list[(*n)++] = val;
	return 0;
}

/* The options of exec and cp. */
static int set_remote_flag(cmd_opts *o, const char *name, const char *val)
{
	if (!strcmp(name, "group"))
		o->group = val;
	else if (!strcmp(name, "vm"))
		return add_list(o->vms, &o->n_vms, name, val);
	else if (!strcmp(name, "label"))
		return add_list(o->labels, &o->n_labels, name, val);
	else if (!strcmp(name, "timeout"))
		o->timeout = val;
	else if (!strcmp(name, "r"))
		o->recursive = 1;
	else if (!strcmp(name, "j"))
		return parse_count(&o->jobs, name, val, 1, 10000);
	/* calls */
	else if (!strcmp(name, "since"))
		o->since = val;
	else if (!strcmp(name, "connection"))
		o->connection = val;
	else if (!strcmp(name, "errors"))
		o->errors_only = 1;
	else if (!strcmp(name, "summary"))
		o->summary = 1;
	else if (!strcmp(name, "limit"))
		return parse_count(&o->limit, name, val, 0, 100000000);
	return 0;
}


static int set_flag(cmd_opts *o, const char *name, const char *val)
{
	if (!strcmp(name, "state"))
		o->state_path = val;
	else if (!strcmp(name, "plugin-path")) {
		o->plugin_path = val;
		bar_catalog_set_path(val); /* the catalogues lie beside the plugins */
	}
	else if (!strcmp(name, "out"))
		o->plan_out = val;
	else if (!strcmp(name, "target"))
		return add_list(o->targets, &o->n_targets, name, val);
	else if (!strcmp(name, "replace"))
		return add_list(o->replace, &o->n_replace, name, val);
	else if (!strcmp(name, "parallelism")) {
		return parse_count(&o->parallelism, name, val, 1, 1000);
	} else if (!strcmp(name, "refresh")) {
		if (strcmp(val, "true") && strcmp(val, "false"))
			return fprintf(stderr, "barista: -refresh takes true or false\n"), -1;
		o->refresh = !strcmp(val, "true");
	} else if (!strcmp(name, "json"))
		o->json = 1;
	else if (!strcmp(name, "no-color"))
		o->no_color = 1;
	else if (!strcmp(name, "auto-approve"))
		o->auto_approve = 1;
	else if (!strcmp(name, "detailed-exitcode"))
		o->detailed_exitcode = 1;
	else if (!strcmp(name, "refresh-only"))
		o->refresh_only = 1;
	else if (!strcmp(name, "delete"))
		o->delete_orphans = 1;
	else if (!strcmp(name, "watch"))
		o->watch = 1;
	else if (!strcmp(name, "force"))
		o->force = 1;
	else if (!strcmp(name, "lock-timeout")) {
		if (bar_duration_parse(&o->lock_timeout_ms, val) < 0)
			return fprintf(stderr, "barista: -lock-timeout: %s\n", bar_error_last()), -1;
	} else
		return set_remote_flag(o, name, val);
	return 0;
}

int cmd_parse(cmd_opts *o, int argc, char **argv, const char *allowed, const char *usage)
{
	memset(o, 0, sizeof(*o));
	o->refresh = 1;
	o->limit = -1;
	o->parallelism = 10;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		char name[64];
		const char *val = NULL, *eq;

		if ((a[0] != '-' || !a[1]) && o->positional && flag_allowed(allowed, "ARGS")) {
			if (add_list(o->more, &o->n_more, "argument", a) < 0)
				return -1;
			continue;
		}
		if (a[0] != '-' || !a[1]) {
			if (o->positional) {
				fprintf(stderr, "barista: unexpected argument \"%s\"\n%s", a, usage);
				return -1;
			}
			o->positional = a;
			continue;
		}
		a += a[1] == '-' ? 2 : 1;
		eq = strchr(a, '=');
		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
		if (!strcmp(name, "help") || !strcmp(name, "h")) {
			fputs(usage, stdout);
			exit(0);
		}
		if (!flag_allowed(allowed, name)) {
			fprintf(stderr, "barista: unknown option -%s\n%s", name, usage);
			return -1;
		}
		if (needs_value(name)) {
			val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val) {
				fprintf(stderr, "barista: option -%s needs a value\n", name);
				return -1;
			}
		}
		if (set_flag(o, name, val) < 0)
			return -1;
	}
	return 0;
}

void cmd_table_add(cmd_table *t, const char *const *row)
{
	if (t->n + t->cols > t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16 * t->cols;
		t->cells = bar_realloc(t->cells, t->cap * sizeof(*t->cells));
	}
	for (size_t i = 0; i < t->cols; i++)
		t->cells[t->n++] = row[i] ? row[i] : "";
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

void cmd_table_print(const cmd_table *t, const char *indent)
{
	size_t *width = bar_calloc(t->cols, sizeof(*width));

	for (size_t i = 0; i < t->n; i++) {
		size_t w = text_width(t->cells[i]);

		if (w > width[i % t->cols])
			width[i % t->cols] = w;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t col = i % t->cols;

		if (col == 0)
			fputs(indent, stdout);
		fputs(t->cells[i], stdout);
		if (col + 1 == t->cols)
			putchar('\n');
		else
			printf("%*s", (int)(width[col] - text_width(t->cells[i]) + 2), "");
	}
	free(width);
}

void cmd_table_free(cmd_table *t)
{
	free(t->cells);
	t->cells = NULL;
	t->n = t->cap = 0;
}

const char *cmd_config_dir(const cmd_opts *o)
{
	return o->positional ? o->positional : ".";
}

char *cmd_state_path(const cmd_opts *o, const char *dir)
{
	if (o->state_path)
		return bar_strdup(o->state_path);
	if (getenv("BARISTA_STATE"))
		return bar_strdup(getenv("BARISTA_STATE"));
	return bar_printf("%s/barista.db", dir);
}

/* Absolute: the session broker (core/sshmux_client.c) works from / and
 * opens the private keys by these paths. */
char *cmd_keys_dir(const char *state_path)
{
	char cwd[4096];

	if (state_path[0] != '/' && getcwd(cwd, sizeof(cwd)))
		return bar_printf("%s/%s.keys", cwd, state_path[0] == '.' && state_path[1] == '/'
		                                         ? state_path + 2 : state_path);
	return bar_printf("%s.keys", state_path);
}

int cmd_color(const cmd_opts *o)
{
	const char *nc = getenv("NO_COLOR");

	return !o->no_color && !(nc && *nc) && isatty(STDOUT_FILENO);
}

int cmd_fail(const cmd_opts *o)
{
	if (o && o->json) {
		json_t *j = json_pack("{s:b, s:s, s:o}", "ok", 0, "error", bar_error_last(),
		                      "details", bar_error_to_json(bar_error_get()));
		char *s = json_dumps(j, JSON_COMPACT);

		puts(s);
		free(s);
		json_decref(j);
	}
	fprintf(stderr, "Error: %s\n", bar_error_last());
	return 1;
}

void cmd_print_diags(const bar_diags *diags, const char *dir, int json)
{
	if (json) {
		json_t *arr = json_array();
		json_t *j;
		char *s;

		for (size_t i = 0; i < diags->n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:i, s:i, s:s}", "file",
			                                     diags->items[i].file, "line",
			                                     diags->items[i].line, "column",
			                                     diags->items[i].col, "message",
			                                     diags->items[i].message));
		j = json_pack("{s:b, s:o}", "valid", 0, "diagnostics", arr);
		s = json_dumps(j, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(j);
	}
	if (!diags->n) {
		fprintf(stderr, "Error: %s\n", bar_error_last());
		return;
	}
	for (size_t i = 0; i < diags->n; i++) {
		char *line = bar_diag_format(&diags->items[i]);

		fprintf(stderr, "%s\n", line);
		free(line);
	}
	fprintf(stderr, "%zu error%s in %s\n", diags->n, diags->n == 1 ? "" : "s", dir);
}

int cmd_load_config(bar_config **out, const char *dir, int json)
{
	bar_diags diags = {NULL, 0};
	int rc = bar_config_load(out, dir, &diags);

	if (rc < 0)
		cmd_print_diags(&diags, dir, json);
	bar_diags_clear(&diags);
	return rc < 0 ? -1 : 0;
}

int cmd_lock_state(const cmd_opts *o, bar_state *st, const char *operation)
{
	bar_state_lock_opts lo = BAR_STATE_LOCK_OPTS_INIT;

	lo.operation = operation;
	lo.timeout_ms = o->lock_timeout_ms;
	return bar_state_lock_ex(st, &lo);
}

static bar_calllog *calllog;

static void calllog_stop(void)
{
	bar_host_set_calllog(NULL);
	bar_calllog_close(calllog);
	calllog = NULL;
}

void cmd_calllog_start(const char *state_path)
{
	char *path;

	if (calllog || !state_path)
		return;
	path = bar_calllog_path(state_path);
	if (bar_calllog_open(&calllog, path, 0) < 0) {
		/* the call log is for looking back: a run goes on without it */
		fprintf(stderr, "barista: warning: no call log this run: %s\n", bar_error_last());
	} else {
		bar_host_set_calllog(calllog);
		atexit(calllog_stop);
	}
	free(path);
}

int cmd_ctx_open(cmd_ctx *c, const cmd_opts *o, const char *lock_op)
{
	memset(c, 0, sizeof(*c));
	c->state_path = cmd_state_path(o, cmd_config_dir(o));
	c->keys = cmd_keys_dir(c->state_path);
	cmd_calllog_start(c->state_path);
	bar_registry_new(&c->reg, o->plugin_path);
	if (cmd_load_config(&c->cfg, cmd_config_dir(o), o->json) < 0)
		return -2;
	bar_desired_build(&c->ds, c->cfg);
	if (lock_op ? bar_state_open(&c->st, c->state_path, BAR_STATE_CREATE) < 0 ||
	                  cmd_lock_state(o, c->st, lock_op) < 0
	            : cmd_open_state_ro(&c->st, c->state_path, &c->fresh) < 0)
		return -1;
	if (bar_state_load(c->st, &c->rs) < 0 || bar_state_serial(c->st, &c->serial) < 0)
		return -1;
	return 0;
}

void cmd_ctx_close(cmd_ctx *c)
{
	bar_records_clear(&c->rs);
	bar_state_free(c->st);
	bar_desired_set_clear(&c->ds);
	bar_config_free(c->cfg);
	bar_registry_free(c->reg);
	free(c->state_path);
	free(c->keys);
	memset(c, 0, sizeof(*c));
}

int cmd_open_state_ro(bar_state **out, const char *path, int *fresh)
{
	*fresh = access(path, F_OK) != 0;
	if (*fresh)
		return bar_state_open(out, ":memory:", BAR_STATE_CREATE);
	return bar_state_open(out, path, BAR_STATE_READONLY);
}

int cmd_load_all(bar_config **cfg, bar_desired_set *ds, bar_snapshot **snap,
                 const char *dir, int json, bar_state *st, bar_registry *reg,
                 int refresh, const bar_cancel *cancel)
{
	bar_diags diags = {NULL, 0};
	int rc = bar_workflow_load(cfg, ds, snap, &diags, dir, st, reg, refresh, cancel);

	if (rc == BAR_EINVALID || (rc < 0 && diags.n)) {
		cmd_print_diags(&diags, dir, json);
		rc = -2;
	}
	bar_diags_clear(&diags);
	return rc;
}
