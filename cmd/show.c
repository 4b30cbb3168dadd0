/*
 * show.c - `barista show [DIR]`: the MCIs recorded in state, each with its
 * aggregated status and a table of its VMs (name, group, connection, region,
 * IP, status) sized to its content.
 */
#include "cmd.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista show [options] [DIR]\n"
    "  Show every MCI recorded in the state of DIR (default .) with its aggregated\n"
    "  status and its VMs (name, group, connection, region, IP, status), VMs in\n"
    "  natural name order (web-a-2 before web-a-10).  Reads the state only; no\n"
    "  provider is asked.\n"
    "  -json                the MCIs and the number of recorded resources as JSON\n"
    "  -state FILE          state file (default DIR/barista.db, or $BARISTA_STATE)\n"
    "  -no-color            accepted for symmetry; show prints no colours\n";

static const char *jget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

void cmd_print_mci(const json_t *m)
{
	static const char *const head[] = {"VM", "GROUP", "CONNECTION", "REGION", "IP", "STATUS"};
	cmd_table t = CMD_TABLE_INIT(6);
	size_t i;
	json_t *v;

	printf("MCI %s/%s  %s\n", jget(m, "namespace"), jget(m, "name"), jget(m, "status"));
	cmd_table_add(&t, head);
	json_array_foreach(json_object_get(m, "vms"), i, v)
		cmd_table_add(&t, (const char *const[]){jget(v, "name"), jget(v, "group"),
		                                         jget(v, "connection"), jget(v, "region"),
		                                         jget(v, "ip"), jget(v, "status")});
	cmd_table_print(&t, "  ");
	cmd_table_free(&t);
}

int cmd_show(int argc, char **argv)
{
	cmd_opts o;
	bar_state *st = NULL;
	bar_records rs = {NULL, 0};
	json_t *mcis = NULL;
	char *path;
	int rc = 1, fresh = 0;
	size_t i;
	json_t *m;

	if (cmd_parse(&o, argc, argv, "json state no-color", usage) < 0)
		return 1;
	path = cmd_state_path(&o, cmd_config_dir(&o));
	if (cmd_open_state_ro(&st, path, &fresh) < 0 || bar_state_load(st, &rs) < 0) {
		rc = cmd_fail(&o);
		goto done;
	}
	bar_mci_view(&mcis, &rs);
	if (o.json) {
		json_t *j = json_pack("{s:O, s:I}", "mcis", mcis, "resources", (json_int_t)rs.n);
		char *s = json_dumps(j, JSON_INDENT(2));

		puts(s);
		free(s);
		json_decref(j);
	} else if (fresh) {
		printf("There is no state at %s yet: nothing has been applied.\n", path);
	} else if (!json_array_size(mcis)) {
		printf("No MCIs in %s.\n", path);
	} else {
		json_array_foreach(mcis, i, m) {
			if (i)
				printf("\n");
			cmd_print_mci(m);
		}
	}
	rc = 0;
done:
	json_decref(mcis);
	bar_records_clear(&rs);
	bar_state_free(st);
	free(path);
	return rc;
}
