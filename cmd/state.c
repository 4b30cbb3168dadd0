/*
 * state.c - `barista state list|show ADDR|rm ADDR|lock|unlock`: inspect the
 * recorded state and its lock, and the two repairs an operator needs.
 * Nothing shown here is secret: state holds no credentials or keys.
 */
#include "cmd.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista state <list | show ADDR | rm ADDR | lock | unlock> [options] [DIR]\n"
    "  list         every recorded address with its status and system id, in\n"
    "               natural order (web-a-2 before web-a-10)\n"
    "  show ADDR    one record in full\n"
    "  rm ADDR      forget a resource without touching it at its provider (it is\n"
    "               no longer managed; a later apply creates it anew if specs have it)\n"
    "  lock         who holds the state's lock: operation, pid, host, user, since,\n"
    "               when its lease ends, fencing token\n"
    "  unlock       remove a lock left by a process that no longer exists; refused\n"
    "               while its holder is alive on this host or its lease (renewed\n"
    "               while the holder runs) has not expired\n"
    "  -force       unlock: remove the lock anyway.  Only when you know its holder\n"
    "               is gone: two runs at once can duplicate resources.  A holder\n"
    "               that is still running stops at its next write\n"
    "  -lock-timeout D  rm: wait up to D (30s, 2m) for the lock (default 0: fail\n"
    "               at once, naming the holder)\n"
    "  -json        list, show and lock: as JSON (every field)\n"
    "  -state FILE  state file (default DIR/barista.db, or $BARISTA_STATE)\n"
    "  -no-color    accepted for symmetry; state prints no colours\n";

static json_t *record_json(const bar_record *r)
{
	json_t *d = r->desired ? json_loads(r->desired, 0, NULL) : NULL;
	json_t *o = r->observed ? json_loads(r->observed, 0, NULL) : NULL;
	json_t *deps = r->deps ? json_loads(r->deps, 0, NULL) : NULL;

	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:o?, s:o?, s:o?, "
	                 "s:I}",
	                 "address", r->address, "type", r->type, "namespace", r->ns, "name",
	                 r->name, "provider", r->provider, "connection", r->connection,
	                 "system_id", r->system_id, "status", r->status, "hash", r->hash,
	                 "desired", d, "observed", o, "deps", deps, "updated",
	                 (json_int_t)r->updated);
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	puts(s);
	free(s);
	json_decref(j);
}

static int addr_natcmp(const void *a, const void *b)
{
	return bar_strnatcmp((*(const bar_record *const *)a)->address,
	                     (*(const bar_record *const *)b)->address);
}

/* Every record, in natural address order (web-a-2 before web-a-10). */
static int do_list(const cmd_opts *o, bar_state *st)
{
	static const char *const head[] = {"ADDRESS", "STATUS", "SYSTEM ID"};
	bar_records rs = {NULL, 0};
	json_t *arr = o->json ? json_array() : NULL;
	cmd_table t = CMD_TABLE_INIT(3);
	const bar_record **sorted;

	if (bar_state_load(st, &rs) < 0) {
		json_decref(arr);
		return cmd_fail(o);
	}
	sorted = bar_calloc(rs.n + 1, sizeof(*sorted));
	for (size_t i = 0; i < rs.n; i++)
		sorted[i] = &rs.items[i];
	qsort(sorted, rs.n, sizeof(*sorted), addr_natcmp);
	if (rs.n)
		cmd_table_add(&t, head);
	for (size_t i = 0; i < rs.n; i++) {
		const bar_record *r = sorted[i];

		if (arr)
			json_array_append_new(arr, record_json(r));
		else
			cmd_table_add(&t, (const char *const[]){r->address, r->status,
			                                         r->system_id ? r->system_id : "-"});
	}
	if (arr)
		print_json(arr);
	else
		cmd_table_print(&t, "");
	cmd_table_free(&t);
	free(sorted);
	bar_records_clear(&rs);
	return 0;
}

static int do_show(const cmd_opts *o, bar_state *st, const char *addr)
{
	bar_record r = {0};
	json_t *j;

	if (bar_state_get(st, addr, &r) < 0)
		return cmd_fail(o);
	j = record_json(&r);
	if (o->json) {
		print_json(j);
	} else {
		char *d = json_dumps(json_object_get(j, "desired"), JSON_INDENT(2) | JSON_SORT_KEYS);
		char *ob = json_dumps(json_object_get(j, "observed"), JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("address:    %s\ntype:       %s\nnamespace:  %s\nname:       %s\n", r.address,
		       r.type, r.ns, r.name);
		if (r.provider)
			printf("provider:   %s\nconnection: %s\nsystem id:  %s\n", r.provider,
			       r.connection ? r.connection : "", r.system_id ? r.system_id : "");
		printf("status:     %s\ndepends on: %s\ndesired:    %s\nobserved:   %s\n",
		       r.status ? r.status : "", r.deps ? r.deps : "[]", d ? d : "{}",
		       ob ? ob : "(none)");
		free(d);
		free(ob);
		json_decref(j);
	}
	bar_record_clear(&r);
	return 0;
}

/* Forget one resource, under the apply lock so no apply races it. */
static int do_rm(const cmd_opts *o, bar_state *st, const char *addr)
{
	bar_record r = {0};
	int rc;

	if (cmd_lock_state(o, st, "state rm") < 0)
		return cmd_fail(o);
	rc = bar_state_get(st, addr, &r);
	if (rc == 0)
		rc = bar_state_delete(st, addr);
	bar_state_unlock(st);
	if (rc < 0) {
		bar_record_clear(&r);
		return cmd_fail(o);
	}
	printf("Removed %s from the state.\n", addr);
	if (r.system_id)
		printf("Its resource %s still exists at the provider and is no longer managed "
		       "by barista.\n", r.system_id);
	bar_record_clear(&r);
	return 0;
}

/* `state lock`: the holder, or that there is none. */
static int do_lock(const cmd_opts *o, bar_state *st)
{
	bar_lock_info l = {0};
	int rc = bar_state_lock_get(st, &l);
	char line[1024];

	if (rc < 0 && rc != BAR_ENOTFOUND)
		return cmd_fail(o);
	if (o->json) {
		print_json(rc == BAR_ENOTFOUND
		               ? json_pack("{s:b}", "locked", 0)
		               : json_pack("{s:b, s:I, s:s, s:s?, s:s, s:I, s:I, s:I}", "locked", 1,
		                           "pid", (json_int_t)l.pid, "host", l.host, "user", l.user,
		                           "operation", l.operation, "since", (json_int_t)l.since,
		                           "expires_ms", (json_int_t)l.expires_ms, "token",
		                           (json_int_t)l.token));
	} else if (rc == BAR_ENOTFOUND) {
		puts("The state is not locked.");
	} else {
		bar_lock_info_format(&l, line, sizeof(line));
		printf("Locked by %s\n", line);
	}
	bar_lock_info_clear(&l);
	return 0;
}

/* `state unlock [-force]`: remove the lock, saying whose it was. */
static int do_unlock(const cmd_opts *o, bar_state *st)
{
	bar_lock_info l = {0};
	char line[1024];
	int had = bar_state_lock_get(st, &l) == 0;

	if (had)
		bar_lock_info_format(&l, line, sizeof(line));
	bar_lock_info_clear(&l);
	if (bar_state_break_lock(st, o->force) < 0)
		return cmd_fail(o);
	if (had)
		printf("Unlocked: removed the lock of %s.\n", line);
	else
		puts("The state was not locked.");
	return 0;
}

int cmd_state(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : NULL;
	const char *addr = NULL;
	cmd_opts o;
	bar_state *st = NULL;
	char *path;
	int rc, fresh = 0;

	if (!sub || sub[0] == '-') {
		fputs(usage, sub ? stdout : stderr);
		return sub ? 0 : 1;
	}
	if ((!strcmp(sub, "show") || !strcmp(sub, "rm")) && argc > 1 && argv[1][0] != '-') {
		addr = argv[1];
		argc--;
		argv++;
	}
	if (cmd_parse(&o, argc - 1, argv + 1, "json state no-color force lock-timeout", usage) < 0)
		return 1;
	if ((!strcmp(sub, "show") || !strcmp(sub, "rm")) && !addr) {
		fprintf(stderr, "barista: state %s needs an address\n%s", sub, usage);
		return 1;
	}
	path = cmd_state_path(&o, cmd_config_dir(&o));
	if (!strcmp(sub, "unlock") || !strcmp(sub, "rm"))
		rc = bar_state_open(&st, path, 0);
	else
		rc = cmd_open_state_ro(&st, path, &fresh);
	if (rc == 0 && fresh && strcmp(sub, "list") != 0) {
		bar_error_set("there is no state at %s; apply a configuration first, or pass "
		              "-state FILE", path);
		rc = -1;
	}
	if (rc < 0) {
		bar_state_free(st);
		free(path);
		return cmd_fail(&o);
	}
	if (!strcmp(sub, "list"))
		rc = do_list(&o, st);
	else if (!strcmp(sub, "show"))
		rc = do_show(&o, st, addr);
	else if (!strcmp(sub, "rm"))
		rc = do_rm(&o, st, addr);
	else if (!strcmp(sub, "lock"))
		rc = do_lock(&o, st);
	else if (!strcmp(sub, "unlock"))
		rc = do_unlock(&o, st);
	else {
		fprintf(stderr, "barista: unknown state command \"%s\"\n%s", sub, usage);
		rc = 1;
	}
	bar_state_free(st);
	free(path);
	return rc;
}
