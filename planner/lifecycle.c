/*
 * lifecycle.c - an MCI as one manageable object (CB-Tumblebug's MCI control,
 * the paper's Fig. 9): suspend, resume, reboot and terminate its VMs, as a
 * plan that the apply engine runs in parallel, per-connection limits and
 * all, recording each VM's result as it completes.
 *
 * The statuses come from the providers (a refreshed snapshot), so an illegal
 * transition (rebooting a Suspended VM) is refused before anything runs,
 * naming the VMs.  A VM already where the action leads is left alone.
 * The records keep the desired attributes they were applied with, so a
 * later plan sees the difference from the spec's `state` and proposes to
 * restore it; a terminated VM stays recorded as Terminated until the spec
 * drops it or an apply re-creates it.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* What an action needs and leads to. */
typedef struct transition {
	const char *action;
	const char *from;   /* the status it needs */
	const char *to;     /* where it leads: already there = nothing to do */
} transition;

static const transition transitions[] = {
	{"suspend", "Running", "Suspended"},
	{"resume", "Suspended", "Running"},
	{"reboot", "Running", NULL},
	{"terminate", NULL, "Terminated"}, /* from anything */
};

static const transition *find_transition(const char *action)
{
	for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
		if (strcmp(transitions[i].action, action) == 0)
			return &transitions[i];
	return NULL;
}

/* Does VM record r belong to the selection? */
static int selected(const bar_record *r, const json_t *d, const char *mci_name,
                    const bar_lifecycle_opts *lo)
{
	const char *mci = json_string_value(json_object_get(d, "mci"));
	const char *group = json_string_value(json_object_get(d, "group"));
	int any = lo->n_vms == 0;

	if (!mci || strcmp(mci, mci_name) || (lo->group && (!group || strcmp(group, lo->group))))
		return 0;
	for (size_t i = 0; i < lo->n_vms && !any; i++)
		any = !strcmp(lo->vms[i], r->name) || !strcmp(lo->vms[i], r->address);
	return any;
}

/* One change for VM record r: an update done as a VM action, or for
 * terminate a delete that keeps the record. */
static void lifecycle_change(bar_plan *p, const bar_record *r, const transition *t)
{
	bar_change *c = &p->changes[p->n++];
	int term = strcmp(t->action, "terminate") == 0;

	*c = (bar_change){
		.action = term ? BAR_DELETE : BAR_UPDATE, .address = bar_strdup(r->address),
		.type = bar_strdup(r->type), .ns = bar_strdup(r->ns), .name = bar_strdup(r->name),
		.connection = bar_strdup(r->connection),
		.reason = bar_printf("barista mci %s", t->action),
		.vm_action = term ? NULL : bar_strdup(t->action),
		.attrs = r->desired ? json_loads(r->desired, 0, NULL) : json_object(),
		.hash = bar_strdup(r->hash),
		.refs = r->refs ? json_loads(r->refs, 0, NULL) : json_object(),
		/* what it depends on stays recorded: a later destroy orders by it */
		.deps = r->deps ? json_loads(r->deps, 0, NULL) : json_array(),
		.diff = json_array(),
		.prior_system_id = bar_strdup(r->system_id),
		.terminate = term,
	};
}

/* "default/vm/a (Suspended), default/vm/b (Failed)" for the refusal
 * message: the first ten, then how many more. */
static void refuse(bar_buf *why, size_t *n, const bar_record *r)
{
	if (++*n <= 10)
		bar_buf_printf(why, "%s%s (%s)", why->len ? ", " : "", r->address,
		               r->status ? r->status : "Unknown");
}

int bar_lifecycle_plan(bar_plan **out, bar_snapshot *snap, const bar_lifecycle_opts *lo)
{
	const bar_records *rs = &snap->rs;
	const transition *t = find_transition(lo->action ? lo->action : "");
	const char *slash = lo->mci ? strrchr(lo->mci, '/') : NULL;
	const char *mci_name = slash ? slash + 1 : lo->mci;
	bar_buf why = BAR_BUF_INIT(8192);
	bar_plan *p;
	size_t matched = 0, refused = 0;

	if (!t)
		return bar_error_setc(BAR_EINVALID, "unknown MCI action \"%s\": use suspend, resume, "
		                      "reboot or terminate", lo->action ? lo->action : "");
	if (!lo->mci || !bar_records_find(rs, lo->mci))
		return bar_error_setc(BAR_ENOTFOUND, "no MCI %s in the state; `barista show` lists "
		                      "them", lo->mci ? lo->mci : "(none)");
	p = bar_calloc(1, sizeof(*p));
	p->lineage = bar_strdup(snap->lineage);
	p->serial = snap->serial;
	p->changes = bar_calloc(rs->n + 1, sizeof(*p->changes));
	p->drift = json_array();
	p->connections = json_object();
	p->live_connections = json_object();
	for (size_t i = 0; i < rs->n; i++) {
		const bar_record *r = &rs->items[i];
		json_t *d;
		int sel;

		if (strcmp(r->type, "vm") || !r->desired)
			continue;
		d = json_loads(r->desired, 0, NULL);
		sel = selected(r, d, mci_name, lo);
		json_decref(d);
		if (!sel)
			continue;
		matched++;
		if (t->to && r->status && !strcmp(r->status, t->to))
			continue; /* already there */
		if (t->from && (!r->status || strcmp(r->status, t->from))) {
			refuse(&why, &refused, r);
			continue;
		}
		lifecycle_change(p, r, t);
		{
			char *caddr = bar_conn_address(r->ns, r->connection);
			json_t *attrs = bar_conn_live_attrs(NULL, rs, caddr);

			if (attrs)
				json_object_set_new(p->live_connections, caddr, attrs);
			free(caddr);
		}
	}
	if (refused > 10)
		bar_buf_printf(&why, " and %zu more", refused - 10);
	if (!matched || why.len) {
		if (!matched)
			bar_error_setc(BAR_ENOTFOUND, "MCI %s has no VM%s%s%s", lo->mci,
			               lo->group ? " in group " : "", lo->group ? lo->group : "",
			               lo->n_vms ? " of those named" : "");
		else
			bar_error_setc(BAR_ECONFLICT, "cannot %s %s: %s needs %s VMs; nothing was done",
			               t->action, why.data, t->action, t->from);
		bar_buf_free(&why);
		bar_plan_free(p);
		return bar_error_get()->code;
	}
	*out = p;
	return 0;
}
