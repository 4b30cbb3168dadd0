/*
 * connection.c - `barista connection list|test`: the connections of DIR's
 * specs, and a test of one: its credential reference resolves, the driver
 * opens its session, reaches the cloud's API, the credential is accepted
 * and holds each right the driver needs (core/host.c bar_conn_test; the
 * checks themselves are the driver's).
 */
#include "cmd.h"
#include "error.h"
#include "host.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista connection list [options] [DIR]\n"
    "       barista connection test NAME [options] [DIR]\n"
    "list: the connections the specs in DIR declare (driver, region, zone, credential\n"
    "kind).  test: check that connection NAME (or NAMESPACE/NAME) works: its credential\n"
    "resolves, the driver reaches the cloud's API, the credential is accepted and has\n"
    "every right the driver needs; each check is printed with what to do when it\n"
    "fails.  Exit status 0 when every check passed, 1 otherwise.\n"
    "  -json                print as JSON\n"
    "  -state FILE          the state whose call log records the test's calls (default\n"
    "                       DIR/barista.db)\n"
    "  -plugin-path DIRS    where provider plugins are (colon-separated)\n"
    "  -no-color            no ANSI colours\n";

typedef struct checks {
	json_t *list;
	int json, color, failed;
} checks;

static void on_check(void *ud, const char *check, int ok, const char *detail)
{
	checks *c = ud;

	json_array_append_new(c->list, json_pack("{s:s, s:b, s:s}", "check", check, "ok", ok,
	                                         "detail", detail));
	c->failed += !ok;
	if (c->json)
		return;
	if (c->color)
		printf("  %s %s: %s\n", ok ? "\033[32m✓\033[0m" : "\033[31m✗\033[0m", check, detail);
	else
		printf("  %s %s: %s\n", ok ? "ok  " : "FAIL", check, detail);
	fflush(stdout);
}

static const char *cred_kind(const json_t *attrs)
{
	const json_t *cred = json_object_get(attrs, "credential");

	return json_object_get(cred, "env")    ? "env"
	       : json_object_get(cred, "file") ? "file"
	       : json_object_get(cred, "exec") ? "exec"
	                                       : "none";
}

static int list_connections(const cmd_opts *o, const cmd_ctx *c)
{
	static const char *const head[] = {"CONNECTION", "DRIVER", "REGION", "ZONE",
	                                   "CREDENTIAL"};
	cmd_table t = CMD_TABLE_INIT(5);
	json_t *arr = json_array();

	cmd_table_add(&t, head);
	for (size_t i = 0; i < c->ds.n; i++) {
		const bar_desired *d = &c->ds.items[i];
		const json_t *a = d->attrs;

		if (strcmp(d->type, "connection") != 0)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:O, s:O, s:O, s:s}", "namespace",
		                                     d->ns, "name", d->name, "driver",
		                                     json_object_get(a, "driver"), "region",
		                                     json_object_get(a, "region"), "zone",
		                                     json_object_get(a, "zone"), "credential",
		                                     cred_kind(a)));
	}
	if (o->json) {
		char *s = json_dumps(arr, JSON_INDENT(2));

		puts(s);
		free(s);
	} else {
		size_t i;
		json_t *x;

		json_array_foreach(arr, i, x) {
			cmd_table_add(&t, (const char *const[]){
			                      json_string_value(json_object_get(x, "name")),
			                      json_string_value(json_object_get(x, "driver")),
			                      json_string_value(json_object_get(x, "region")),
			                      json_string_value(json_object_get(x, "zone")),
			                      json_string_value(json_object_get(x, "credential"))});
		}
		if (json_array_size(arr))
			cmd_table_print(&t, "");
		else
			printf("No connections in %s.\n", cmd_config_dir(o));
	}
	cmd_table_free(&t);
	json_decref(arr);
	return 0;
}

/* The desired connection named NAME or NS/NAME, or NULL (error set). */
static const bar_desired *find_connection(const cmd_ctx *c, const char *name)
{
	const char *slash = strchr(name, '/');
	char *addr = slash ? bar_printf("%.*s/connection/%s", (int)(slash - name), name, slash + 1)
	                   : bar_printf("default/connection/%s", name);
	const bar_desired *d = bar_desired_find(&c->ds, addr);

	if (!d && !slash) /* a unique name in another namespace will do */
		for (size_t i = 0; i < c->ds.n; i++)
			if (!strcmp(c->ds.items[i].type, "connection") &&
			    !strcmp(c->ds.items[i].name, name)) {
				if (d) {
					bar_error_set("connection \"%s\" is in several namespaces; name "
					              "it as NAMESPACE/%s", name, name);
					free(addr);
					return NULL;
				}
				d = &c->ds.items[i];
			}
	if (!d)
		bar_error_setc(BAR_ENOTFOUND, "no connection \"%s\" in the specs (barista "
		               "connection list shows them)", name);
	free(addr);
	return d;
}

static int test_connection(const cmd_opts *o, cmd_ctx *c, const char *name)
{
	checks ck = {json_array(), o->json, cmd_color(o), 0};
	const bar_desired *d = find_connection(c, name);
	bar_conn conn = {0};
	int rc;

	if (!d) {
		json_decref(ck.list);
		return cmd_fail(o);
	}
	if (bar_conn_init(&conn, d->ns, d->name, d->attrs) < 0 ||
	    bar_conn_bind(&conn, c->reg) < 0) {
		bar_conn_clear(&conn);
		json_decref(ck.list);
		return cmd_fail(o);
	}
	if (!o->json)
		printf("Testing connection %s/%s (%s, region %s):\n", d->ns, d->name, conn.driver,
		       conn.region);
	rc = bar_conn_test(&conn, NULL, on_check, &ck);
	if (rc == BAR_ENOTSUP && !ck.failed) {
		on_check(&ck, "driver checks", 1, bar_error_last());
		rc = 0;
	} else if (rc < 0 && !ck.failed) {
		/* the driver failed without reporting a check: say what it said */
		on_check(&ck, "driver checks", 0, bar_error_last());
	}
	if (o->json) {
		char *s;
		json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O}", "namespace", d->ns,
		                        "connection", d->name, "driver", conn.driver, "region",
		                        conn.region, "ok", rc == 0 && !ck.failed, "checks", ck.list);

		s = json_dumps(out, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(out);
	} else {
		printf("%s\n", rc == 0 && !ck.failed ? "Every check passed."
		                                     : "Some checks failed: see above.");
	}
	bar_conn_clear(&conn);
	json_decref(ck.list);
	return rc == 0 && !ck.failed ? 0 : 1;
}

int cmd_connection(int argc, char **argv)
{
	const char *action = argc > 0 ? argv[0] : NULL;
	cmd_opts o;
	cmd_ctx c;
	int rc, prc;

	if (!action || (strcmp(action, "list") && strcmp(action, "test"))) {
		fprintf(stderr, "%s", usage);
		return action && (!strcmp(action, "-help") || !strcmp(action, "-h")) ? 0 : 1;
	}
	if (!strcmp(action, "test") && (argc < 2 || argv[1][0] == '-')) {
		fprintf(stderr, "barista: connection test needs a connection name\n%s", usage);
		return 1;
	}
	argc -= !strcmp(action, "test") ? 2 : 1;
	argv += !strcmp(action, "test") ? 2 : 1;
	if (cmd_parse(&o, argc, argv, "json state plugin-path no-color", usage) < 0)
		return 1;
	prc = cmd_ctx_open(&c, &o, NULL);
	if (prc == -2) {
		cmd_ctx_close(&c);
		return 1;
	}
	if (prc < 0) {
		rc = cmd_fail(&o);
	} else if (!strcmp(action, "list")) {
		rc = list_connections(&o, &c);
	} else {
		rc = test_connection(&o, &c, argv[-1]);
	}
	cmd_ctx_close(&c);
	return rc;
}
