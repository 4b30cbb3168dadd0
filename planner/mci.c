/*
 * mci.c - an MCI's status, aggregated from its VMs' statuses the way
 * Cloud-Barista shows it: the most common status, prefixed "Partial-" when
 * not every VM has it, then how many VMs run: "Partial-Running:3 (R:3/5)";
 * and the view of every recorded MCI with its VMs that `barista show` (and
 * later the REST API) presents.
 */
#include "planner.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const statuses[] = {
	"Running", "Creating", "Suspending", "Suspended", "Resuming", "Rebooting",
	"Terminating", "Terminated", "Failed", NULL,
};

void bar_mci_status(const char *const *vm_status, size_t n, char *buf, size_t size)
{
	size_t count[16] = {0}, other = 0, best = 0, running;
	int top = -1;

	for (size_t i = 0; i < n; i++) {
		int k;

		for (k = 0; statuses[k] && strcmp(statuses[k], vm_status[i]) != 0; k++)
			;
		if (statuses[k])
			count[k]++;
		else
			other++;
	}
	running = count[0];
	/* Ties go to the status earlier in the lifecycle list above. */
	for (int k = 0; statuses[k]; k++)
		if (count[k] > best) {
			best = count[k];
			top = k;
		}
	if (n == 0) {
		snprintf(buf, size, "Empty:0 (R:0/0)");
		return;
	}
	if (top < 0) {
		snprintf(buf, size, "Unknown:%zu (R:0/%zu)", other, n);
		return;
	}
	snprintf(buf, size, "%s%s:%zu (R:%zu/%zu)", best < n ? "Partial-" : "", statuses[top],
	         best, running, n);
}

static json_t *parse_obj(const char *s)
{
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;

	return j ? j : json_object();
}

static const char *jstr_or(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : dflt;
}

static int vm_name_cmp(const void *a, const void *b)
{
	return bar_strnatcmp(jstr_or(*(json_t *const *)a, "name", ""),
	                     jstr_or(*(json_t *const *)b, "name", ""));
}

/* VMs in natural name order: web-a-2 before web-a-10. */
static void sort_vms(json_t *vms)
{
	size_t n = json_array_size(vms);
	json_t **v = bar_calloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(vms, i));
	qsort(v, n, sizeof(*v), vm_name_cmp);
	json_array_clear(vms);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(vms, v[i]);
	free(v);
}

/* Sort each MCI's "vms" and aggregate their statuses into its "status". */
static void finish_mcis(json_t *mcis)
{
	size_t i, k;
	json_t *m, *v;

	json_array_foreach(mcis, i, m) {
		json_t *vms = json_object_get(m, "vms");
		const char **sts = bar_calloc(json_array_size(vms) + 1, sizeof(*sts));
		char status[96];

		sort_vms(vms);
		json_t *counts = json_object();

		json_array_foreach(vms, k, v) {
			json_t *c;

			sts[k] = jstr_or(v, "status", "Unknown");
			c = json_object_get(counts, sts[k]);
			json_object_set_new(counts, sts[k], json_integer(json_integer_value(c) + 1));
		}
		bar_mci_status(sts, json_array_size(vms), status, sizeof(status));
		json_object_set_new(m, "status", json_string(status));
		json_object_set_new(m, "counts", counts);
		free(sts);
	}
}

int bar_mci_view(json_t **out, const bar_records *rs)
{
	json_t *mcis = json_array(), *regions = json_object();
	bar_map by_addr;

	bar_map_init(&by_addr, 64);
	for (size_t i = 0; i < rs->n; i++) { /* MCIs and the regions of connections */
		const bar_record *r = &rs->items[i];

		if (!strcmp(r->type, "mci")) {
			json_t *m = json_pack("{s:s, s:s, s:s, s:[]}", "namespace", r->ns, "name",
			                      r->name, "address", r->address, "vms");

			json_array_append_new(mcis, m);
			bar_map_put(&by_addr, r->address, m);
		} else if (!strcmp(r->type, "connection")) {
			json_t *d = parse_obj(r->desired);

			json_object_set_new(regions, r->address,
			                    json_string(jstr_or(d, "region", "")));
			json_decref(d);
		}
	}
	for (size_t i = 0; i < rs->n; i++) { /* each VM into its MCI, in one pass */
		const bar_record *r = &rs->items[i];
		json_t *d, *obs, *m;
		char *maddr, *caddr;

		if (strcmp(r->type, "vm"))
			continue;
		d = parse_obj(r->desired);
		obs = parse_obj(r->observed);
		maddr = bar_printf("%s/mci/%s", r->ns, jstr_or(d, "mci", ""));
		caddr = bar_printf("%s/connection/%s", r->ns, r->connection ? r->connection : "");
		m = bar_map_get(&by_addr, maddr);
		if (m) {
			json_t *vm = json_pack(
			    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "name", r->name, "address",
			    r->address, "group", jstr_or(d, "group", ""), "connection",
			    r->connection ? r->connection : "", "region",
			    jstr_or(regions, caddr, ""), "ip", jstr_or(obs, "privateIp", ""),
			    "status", r->status ? r->status : "Unknown", "system_id", r->system_id);
			json_t *post = r->post ? json_loads(r->post, 0, NULL) : NULL;

			if (post) /* what its postCommands did */
				json_object_set_new(vm, "postCommands", post);
			json_array_append_new(json_object_get(m, "vms"), vm);
		}
		free(maddr);
		free(caddr);
		json_decref(d);
		json_decref(obs);
	}
	finish_mcis(mcis);
	bar_map_free(&by_addr);
	json_decref(regions);
	*out = mcis;
	return 0;
}
