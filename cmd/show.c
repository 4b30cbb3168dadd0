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

static json_t *parse(const char *s)
{
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;

	return j ? j : json_object();
}

static const char *jget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* One MCI with its VMs as JSON. */
static json_t *mci_json(const bar_records *rs, const bar_record *m)
{
	json_t *vms = json_array();
	const char **sts = bar_calloc(rs->n + 1, sizeof(*sts));
	size_t n = 0;
	char status[96];

	for (size_t i = 0; i < rs->n; i++) {
		const bar_record *r = &rs->items[i];
		json_t *d, *obs, *conn;
		char *caddr;

		if (strcmp(r->type, "vm") || strcmp(r->ns, m->ns))
			continue;
		d = parse(r->desired);
		if (strcmp(jget(d, "mci"), m->name)) {
			json_decref(d);
			continue;
		}
		obs = parse(r->observed);
		caddr = bar_printf("%s/connection/%s", r->ns, r->connection ? r->connection : "");
		{
			const bar_record *cr = bar_records_find(rs, caddr);

			conn = parse(cr ? cr->desired : NULL);
		}
		sts[n++] = r->status ? r->status : "Unknown";
		json_array_append_new(vms, json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "name", r->name, "address",
		    r->address, "group", jget(d, "group"), "connection",
		    r->connection ? r->connection : "", "region", jget(conn, "region"), "ip",
		    jget(obs, "privateIp"), "status", r->status ? r->status : "Unknown",
		    "system_id", r->system_id));
		free(caddr);
		json_decref(d);
		json_decref(obs);
		json_decref(conn);
	}
	bar_mci_status(sts, n, status, sizeof(status));
	free(sts);
	return json_pack("{s:s, s:s, s:s, s:o}", "namespace", m->ns, "name", m->name, "status",
	                 status, "vms", vms);
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
	json_t *mcis = json_array();
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
	for (i = 0; i < rs.n; i++)
		if (!strcmp(rs.items[i].type, "mci"))
			json_array_append_new(mcis, mci_json(&rs, &rs.items[i]));
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
