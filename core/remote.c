/*
 * remote.c - choosing the VMs of a remote request from the state records,
 * and the small things around a run: outcome names, the summary line,
 * durations.  The run itself is in remote_run.c, copying files in
 * remote_cp.c.
 */
#include "remote.h"
#include "error.h"
#include "host.h"
#include "keystore.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 2000 /* characters of "what exists" in a message */

static json_t *parse_obj(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j ? j : json_object();
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Is name an item of a ", a, b" list? */
static int list_has(const bar_buf *b, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = b->data ? b->data + 2 : NULL; p;) {
		const char *q = strstr(p, ", ");
		size_t len = q ? (size_t)(q - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return 1;
		p = q ? q + 2 : NULL;
	}
	return 0;
}

/* Append ", name" to a bounded list for messages (once per name). */
static void list_add(bar_buf *b, const char *name)
{
	if (list_has(b, name))
		return;
	if (b->len < LIST_MAX)
		bar_buf_printf(b, ", %s", name);
	else if (b->len < LIST_MAX + 5)
		bar_buf_puts(b, ", ...");
}

static const char *list_text(const bar_buf *b)
{
	return b->data ? b->data + 2 : "none";
}

/* Does the record name the MCI `want` ("name", "ns/name", "ns/mci/name")? */
static int mci_matches(const bar_record *r, const char *want)
{
	size_t nl = strlen(r->ns);

	if (!strcmp(want, r->name) || !strcmp(want, r->address))
		return 1;
	return !strncmp(want, r->ns, nl) && want[nl] == '/' && !strcmp(want + nl + 1, r->name);
}

/* The one MCI record `want` names; the error lists the MCIs there are. */
static int find_mci(const bar_record **out, const bar_records *rs, const char *want)
{
	const bar_record *found = NULL;
	bar_buf all = BAR_BUF_INIT(0), matching = BAR_BUF_INIT(0);
	int rc = 0;

	for (size_t i = 0; i < rs->n; i++) {
		const bar_record *r = &rs->items[i];

		if (strcmp(r->type, "mci"))
			continue;
		list_add(&all, r->address);
		if (mci_matches(r, want)) {
			list_add(&matching, r->address);
			if (found)
				rc = BAR_EINVALID;
			found = found ? found : r;
		}
	}
	if (!found) {
		bar_error_set("no MCI \"%s\" in the state; MCIs: %s", want, list_text(&all));
		rc = BAR_ENOTFOUND;
	} else if (rc)
		bar_error_set("MCI \"%s\" is ambiguous: %s; give its namespace", want,
		              list_text(&matching));
	else
		*out = found;
	bar_buf_free(&all);
	bar_buf_free(&matching);
	return rc;
}

/* Does the VM carry every "k=v" of sel->labels? */
static int labels_match(const json_t *labels, const bar_remote_select *sel)
{
	for (size_t i = 0; i < sel->n_labels; i++) {
		const char *kv = sel->labels[i], *eq = strchr(kv, '=');
		char *key = bar_strndup(kv, (size_t)(eq - kv));
		const char *have = jstr(labels, key);

		free(key);
		if (!have || strcmp(have, eq + 1))
			return 0;
	}
	return 1;
}

static int check_labels(const bar_remote_select *sel)
{
	for (size_t i = 0; i < sel->n_labels; i++) {
		const char *eq = strchr(sel->labels[i], '=');

		if (!eq || eq == sel->labels[i])
			return bar_error_set("label \"%s\": expected key=value", sel->labels[i]),
			       BAR_EINVALID;
	}
	return 0;
}

static void target_fill(bar_remote_target *t, const bar_record *r, const json_t *obs,
                        const json_t *desired, const json_t *refs, const char *keys_dir)
{
	const char *key_ref = jstr(refs, "sshKey");
	json_int_t port = json_integer_value(json_object_get(obs, "sshPort"));

	t->name = bar_strdup(r->name);
	t->address = bar_strdup(r->address);
	t->group = bar_strdup(jstr(desired, "group") ? jstr(desired, "group") : "");
	t->status = bar_strdup(r->status ? r->status : "Unknown");
	t->system_id = bar_strdup(r->system_id ? r->system_id : "");
	t->host = bar_strdup(jstr(obs, "privateIp") ? jstr(obs, "privateIp") : jstr(obs, "publicIp"));
	t->port = port > 0 && port < 65536 ? (int)port : 22;
	t->user = bar_strdup(jstr(obs, "sshUser") ? jstr(obs, "sshUser") : "root");
	t->host_key = bar_strdup(jstr(obs, "hostKey"));
	t->key_path = key_ref ? bar_keystore_path(keys_dir, key_ref, "privateKey") : NULL;
}

/* The first Running VM of `group` of the MCI, as a target to hop
 * through; NULL with t->via_error set when there is none. */
static void bastion_fill(bar_remote_target *t, const bar_records *rs, const bar_record *mci,
                         const char *group, const char *keys_dir)
{
	for (size_t i = 0; i < rs->n; i++) {
		const bar_record *r = &rs->items[i];
		json_t *d, *obs, *refs;
		int match;

		if (strcmp(r->type, "vm") || strcmp(r->ns, mci->ns) || !r->status ||
		    strcmp(r->status, "Running"))
			continue;
		d = parse_obj(r->desired);
		match = jstr(d, "mci") && !strcmp(jstr(d, "mci"), mci->name) && jstr(d, "group") &&
		        !strcmp(jstr(d, "group"), group);
		if (match) {
			obs = parse_obj(r->observed);
			refs = parse_obj(r->refs);
			t->via = bar_calloc(1, sizeof(*t->via));
			target_fill(t->via, r, obs, d, refs, keys_dir);
			json_decref(obs);
			json_decref(refs);
		}
		json_decref(d);
		if (match)
			return;
	}
	t->via_error = bar_printf("%s: bastion group \"%s\" of MCI %s has no Running VM "
	                          "recorded in state", t->name, group, mci->address);
}

/* Why a named VM or group matched nothing: the message lists what exists. */
static int explain_none(const bar_remote_select *sel, const char *mci, const bar_buf *groups,
                        const bar_buf *vms, const bar_buf *labels, const char *missing_vm)
{
	if (sel->group && !list_has(groups, sel->group))
		return bar_error_set("MCI %s has no group \"%s\"; groups: %s", mci, sel->group,
		                     list_text(groups)), BAR_ENOTFOUND;
	if (missing_vm)
		return bar_error_set("MCI %s has no VM \"%s\"%s%s; VMs: %s", mci, missing_vm,
		                     sel->group ? " in group " : "", sel->group ? sel->group : "",
		                     list_text(vms)), BAR_ENOTFOUND;
	return bar_error_set("no VM of MCI %s matches the selection; labels: %s", mci,
	                     list_text(labels)), BAR_ENOTFOUND;
}

/* Note each label of a VM as "k=v" for messages. */
static void note_labels(bar_buf *b, const json_t *labels)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)labels, k, v) {
		char *kv = bar_printf("%s=%s", k, json_string_value(v) ? json_string_value(v) : "");

		list_add(b, kv);
		free(kv);
	}
}

static int vm_named(const bar_remote_select *sel, const char *name)
{
	for (size_t i = 0; i < sel->n_vms; i++)
		if (!strcmp(sel->vms[i], name))
			return 1;
	return sel->n_vms == 0;
}

typedef struct select_notes {
	bar_buf groups, vms, labels;
} select_notes;

/* Walk the MCI's VMs, keeping those the selection picks. */
static void collect(bar_remote_targets *t, const bar_records *rs, const bar_record *mci,
                    const char *keys_dir, const bar_remote_select *sel, select_notes *notes)
{
	for (size_t i = 0; i < rs->n; i++) {
		const bar_record *r = &rs->items[i];
		const char *group;
		json_t *d, *obs, *refs;

		if (strcmp(r->type, "vm") || strcmp(r->ns, mci->ns))
			continue;
		d = parse_obj(r->desired);
		if (!jstr(d, "mci") || strcmp(jstr(d, "mci"), mci->name)) {
			json_decref(d);
			continue;
		}
		group = jstr(d, "group") ? jstr(d, "group") : "";
		list_add(&notes->groups, group);
		if (!sel->group || !strcmp(sel->group, group))
			list_add(&notes->vms, r->name);
		note_labels(&notes->labels, json_object_get(d, "labels"));
		if ((!sel->group || !strcmp(sel->group, group)) && vm_named(sel, r->name) &&
		    labels_match(json_object_get(d, "labels"), sel)) {
			obs = parse_obj(r->observed);
			refs = parse_obj(r->refs);
			t->items = bar_realloc(t->items, (t->n + 1) * sizeof(*t->items));
			memset(&t->items[t->n], 0, sizeof(*t->items));
			target_fill(&t->items[t->n++], r, obs, d, refs, keys_dir);
			if (jstr(d, "bastion"))
				bastion_fill(&t->items[t->n - 1], rs, mci, jstr(d, "bastion"),
				             keys_dir);
			json_decref(obs);
			json_decref(refs);
		}
		json_decref(d);
	}
}

/* A VM named with -vm that was not picked. */
static const char *vm_missing(const bar_remote_targets *t, const bar_remote_select *sel)
{
	for (size_t i = 0; i < sel->n_vms; i++) {
		size_t k;

		for (k = 0; k < t->n && strcmp(t->items[k].name, sel->vms[i]); k++)
			;
		if (k == t->n)
			return sel->vms[i];
	}
	return NULL;
}

int bar_remote_targets_select(bar_remote_targets *out, const bar_records *rs,
                              const char *keys_dir, const bar_remote_select *sel)
{
	bar_remote_targets t = { NULL, NULL, 0 };
	select_notes notes = { BAR_BUF_INIT(0), BAR_BUF_INIT(0), BAR_BUF_INIT(0) };
	const bar_record *mci = NULL;
	const char *missing;
	int rc;

	if (!sel || sel->version != BAR_REMOTE_SELECT_VERSION || !sel->mci)
		return bar_error_set("remote: no MCI given"), BAR_EINVALID;
	if ((rc = check_labels(sel)) < 0 || (rc = find_mci(&mci, rs, sel->mci)) < 0)
		return rc;
	collect(&t, rs, mci, keys_dir, sel, &notes);
	missing = vm_missing(&t, sel);
	if (t.n == 0 || missing) {
		rc = t.n == 0 && !notes.vms.data && !sel->group
		         ? (bar_error_set("MCI %s has no VMs recorded", mci->address), BAR_ENOTFOUND)
		         : explain_none(sel, mci->address, &notes.groups, &notes.vms,
		                        &notes.labels, missing);
		bar_remote_targets_clear(&t);
	} else {
		t.mci = bar_strdup(mci->address);
		*out = t;
	}
	bar_buf_free(&notes.groups);
	bar_buf_free(&notes.vms);
	bar_buf_free(&notes.labels);
	return rc;
}

void bar_remote_target_clear(bar_remote_target *x)
{
	if (!x)
		return;
	free(x->name);
	free(x->address);
	free(x->group);
	free(x->status);
	free(x->host);
	free(x->user);
	free(x->system_id);
	free(x->host_key);
	free(x->key_path);
	if (x->via) {
		bar_remote_target_clear(x->via);
		free(x->via);
	}
	free(x->via_error);
	memset(x, 0, sizeof(*x));
}

void bar_remote_targets_clear(bar_remote_targets *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		bar_remote_target_clear(&t->items[i]);
	free(t->items);
	free(t->mci);
	memset(t, 0, sizeof(*t));
}

const char *bar_remote_outcome_name(bar_remote_outcome o)
{
	static const char *const names[] = { "ok", "exit", "unreachable", "timeout",
		                             "canceled", "error" };

	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "error";
}

void bar_remote_results_clear(bar_remote_results *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].error);
		free(r->items[i].out);
		free(r->items[i].err);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

/* "(exit 2)", "(unreachable)", ... for the summary. */
static void why(bar_buf *b, const bar_remote_result *r)
{
	if (r->outcome == BAR_REMOTE_EXIT)
		bar_buf_printf(b, " (exit %d)", r->exit_code);
	else
		bar_buf_printf(b, " (%s)", bar_remote_outcome_name(r->outcome));
}

size_t bar_remote_summary(bar_buf *b, const bar_remote_targets *t,
                          const bar_remote_results *r)
{
	size_t failed = 0, named = 0;

	for (size_t i = 0; i < r->n; i++)
		failed += r->items[i].outcome != BAR_REMOTE_OK;
	bar_buf_printf(b, "%zu succeeded, %zu failed", r->n - failed, failed);
	for (size_t i = 0; i < r->n && named < 10; i++) {
		if (r->items[i].outcome == BAR_REMOTE_OK)
			continue;
		bar_buf_puts(b, named++ ? ", " : ": ");
		bar_buf_puts(b, t->items[i].name);
		why(b, &r->items[i]);
	}
	if (failed > named)
		bar_buf_printf(b, " and %zu more", failed - named);
	return failed;
}

int bar_duration_parse(int *ms, const char *text)
{
	char *end = NULL;
	double v = text ? strtod(text, &end) : -1, unit = 1000;

	if (end && !strcmp(end, "ms"))
		unit = 1;
	else if (end && !strcmp(end, "m"))
		unit = 60000;
	else if (end && !strcmp(end, "h"))
		unit = 3600000;
	else if (end && *end && strcmp(end, "s"))
		end = NULL;
	if (!end || end == text || !(v >= 0) || v * unit > 24.0 * 3600000 * 24)
		return bar_error_set("duration \"%s\": expected e.g. 30s, 2m, 1h, 500ms",
		                     text ? text : ""), BAR_EINVALID;
	*ms = (int)(v * unit + 0.5);
	return 0;
}
