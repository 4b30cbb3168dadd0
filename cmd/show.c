/*
 * show.c - `barista show [DIR]`: the MCIs recorded in state, each with its
 * aggregated status and its VMs (name, group, connection, region, IP,
 * status).
 */
#include "cmd.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: barista show [-json] [-state FILE] [DIR]\n"
    "  Show every MCI recorded in the state with its status and VMs.\n";

static const char *jget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void print_mci(const json_t *m)
{
	size_t i;
	json_t *v;

	printf("MCI %s/%s  %s\n", jget(m, "namespace"), jget(m, "name"), jget(m, "status"));
	printf("  %-24s %-10s %-16s %-16s %-15s %s\n", "VM", "GROUP", "CONNECTION", "REGION",
	       "IP", "STATUS");
	json_array_foreach(json_object_get(m, "vms"), i, v)
		printf("  %-24s %-10s %-16s %-16s %-15s %s\n", jget(v, "name"), jget(v, "group"),
		       jget(v, "connection"), jget(v, "region"), jget(v, "ip"), jget(v, "status"));
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
			print_mci(m);
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
