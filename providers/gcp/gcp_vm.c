/*
 * gcp_vm.c - VM instances on Compute Engine.
 *
 * instances.insert with requestId = the idempotency key and a name derived
 * from it; the exact Barista tags and name are metadata items
 * (barista-tags, barista-name), the tags also as labels in GCP's label
 * syntax (gcp_label_value) so list can filter.  Creates and deletes are
 * long-running: the zone Operation's path is the operation token
 * ("gcp1:<c|d>:zones/Z/operations/NAME"), followed by poll.
 */
#include "gcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The string member k of object n of d, or "". */
static const char *jstr(const bar_kit_jdoc *d, int n, const char *k)
{
	return bar_kit_jsv(d, bar_kit_jget(d, n, k));
}

/* "zone/name" into its parts; -1 when it is not a VM id. */
static int vm_id(const char *id, char *zone, char *name)
{
	const char *s = strchr(id, '/');

	if (!s || (size_t)(s - id) > 63 || strchr(s + 1, '/'))
		return -1;
	memcpy(zone, id, (size_t)(s - id));
	zone[s - id] = 0;
	snprintf(name, 64, "%s", s + 1);
	return gcp_valid_name(zone) && gcp_valid_name(name) ? 0 : -1;
}

/* Emit the Instance at node n of d (only when it carries Barista's address
 * tag, with only_ours). */
static int vm_emit(gcp_ctx *x, const bar_kit_jdoc *d, int n, const char *force_status,
                   int only_ours, bar_sink *out)
{
	json_t *tags = NULL, *a = gcp_parse_instance(d, n, &tags);
	const char *name = gcp_meta_value(d, n, "barista-name");
	char id[160];
	int rc = BAR_OK;

	snprintf(id, sizeof(id), "%s/%s", gcp_last(jstr(d, n, "zone")), jstr(d, n, "name"));
	if (!only_ours || json_is_string(json_object_get(tags, "barista:address")))
		rc = gcp_emit(x, out, id, name ? name : jstr(d, n, "name"),
		              force_status ? force_status : gcp_vm_status(jstr(d, n, "status")), a,
		              tags);
	json_decref(a);
	json_decref(tags);
	return rc;
}

/* A VM whose insert was accepted but which the API does not show yet. */
static int vm_emit_pending(gcp_ctx *x, const char *id, const char *name, json_t *tags,
                           bar_sink *out)
{
	char zone[64], vm[64];
	json_t *a;
	int rc;

	vm_id(id, zone, vm);
	a = json_pack("{s:s,s:{},s:s,s:s,s:s,s:s,s:s,s:s}", "imageId", "", "labels", "nativeStatus",
	              "PENDING", "privateIp", "", "publicIp", "", "specId", "", "subnet", "", "zone",
	              zone);
	rc = gcp_emit(x, out, id, name, "Creating", a, tags);
	json_decref(a);
	return rc;
}

/* The Instance named by id, as a document (root 0). */
static int vm_get(gcp_ctx *x, const char *id, bar_kit_jdoc **inst)
{
	char zone[64], name[64], rel[192];

	if (vm_id(id, zone, name) < 0)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no instance %s", id);
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s", zone, name);
	return gcp_preq_doc(x, "GET", rel, NULL, NULL, "compute.instances.get", id, inst);
}

int gcp_vm_read(gcp_ctx *x, const char *id, bar_sink *out)
{
	bar_kit_jdoc *inst = NULL;
	int rc = vm_get(x, id, &inst);

	if (rc == BAR_OK)
		rc = vm_emit(x, inst, 0, NULL, 0, out);
	bar_kit_jfree(inst);
	return rc;
}

static json_t *vm_labels(json_t *tags, json_t *user)
{
	static const char *const keys[][2] = {
		{"barista:address", "barista-address"},
		{"barista:namespace", "barista-namespace"},
		{"barista:lineage", "barista-lineage"},
		{"barista:idempotency", "barista-idempotency"},
	};
	json_t *l = json_object(), *v;
	const char *k;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *t = gcp_str(tags, keys[i][0]);
		char enc[64];

		if (!json_is_string(json_object_get(tags, keys[i][0])))
			continue;
		gcp_label_value(enc, sizeof(enc), t);
		json_object_set_new(l, keys[i][1], json_string(enc));
	}
	json_object_foreach(user, k, v)
		if (json_is_string(v))
			json_object_set(l, k, v);
	return l;
}

/* Start the poll of operation `op` of kind k (c, d) or settle it now. */
static void vm_operation(gcp_ctx *x, json_t *op, char kind)
{
	const char *rel = gcp_rel(gcp_str(op, "selfLink"));
	char token[512];

	if (!rel || strcmp(gcp_str(op, "status"), "DONE") == 0)
		return;
	snprintf(token, sizeof(token), "gcp1:%c:%s", kind, rel);
	x->host->set_operation(x->call, token);
	x->call->retry_after_ms = 500;
}

int gcp_vm_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *refs = json_object_get(in, "refs");
	json_t *tags = json_object_get(in, "tags"), *vnet = json_object_get(refs, "vnet");
	json_t *sgs = json_object_get(refs, "securityGroups"), *sg, *sub, *body = NULL;
	json_t *items, *nettags = json_array(), *op = NULL;
	bar_kit_jdoc *inst = NULL;
	const char *key = gcp_key(x, in), *name = gcp_str(in, "name");
	const char *image = gcp_str(json_object_get(refs, "image"), "system_id");
	const char *spec = gcp_str(json_object_get(refs, "spec"), "system_id");
	const char *pub = gcp_str(json_object_get(json_object_get(refs, "sshKey"), "attrs"), "publicKey");
	const char *want = gcp_str(attrs, "subnet"), *subnet = NULL, *net = gcp_str(vnet, "system_id");
	json_t *disk = json_object_get(json_object_get(json_object_get(refs, "spec"), "attrs"),
	                               "diskGiB");
	char vm[GCP_NAME_MAX], zone[64], type[64], q[64], rel[256], id[160], sshv[8192];
	char disk_gb[24], netlink[384], sublink[384];
	char *tagtext = NULL;
	size_t i;
	int rc;

	if (sscanf(spec, "zones/%63[^/]/machineTypes/%63s", zone, type) != 2 || !*image ||
	    !gcp_valid_name(net))
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput",
		                    "gcp: a VM needs its vnet, image and spec (refs)");
	json_array_foreach(json_object_get(json_object_get(vnet, "attrs"), "subnets"), i, sub)
		if (!subnet && (!*want || strcmp(gcp_str(sub, "name"), want) == 0))
			subnet = gcp_str(sub, "subnetwork");
	if (!subnet || !*subnet) {
		json_decref(nettags);
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput",
		                    "gcp: the VNet %s has no subnet \"%s\"", net, want);
	}
	json_array_foreach(sgs, i, sg)
		if (gcp_valid_name(gcp_str(sg, "system_id")))
			json_array_append_new(nettags, json_string(gcp_str(sg, "system_id")));
	gcp_name(vm, sizeof(vm), name, key, 63);
	snprintf(id, sizeof(id), "%s/%s", zone, vm);
	snprintf(disk_gb, sizeof(disk_gb), "%lld",
	         (long long)(json_is_integer(disk) && json_integer_value(disk) > 0
	                         ? json_integer_value(disk) : 10));
	snprintf(netlink, sizeof(netlink), "projects/%s/global/networks/%s", x->project, net);
	snprintf(sublink, sizeof(sublink), "projects/%s/regions/%s/subnetworks/%s", x->project,
	         x->call->region, subnet);
	tagtext = tags ? json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	items = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "key", "barista-tags", "value",
	                  tagtext ? tagtext : "{}", "key", "barista-name", "value", name, "key",
	                  "barista-image", "value", image);
	if (*pub) {
		snprintf(sshv, sizeof(sshv), "%s:%s", x->s->ssh_user, pub);
		json_array_append_new(items, json_pack("{s:s,s:s}", "key", "ssh-keys", "value", sshv));
	}
	{
		char mt[160];
		snprintf(mt, sizeof(mt), "zones/%s/machineTypes/%s", zone, type);
		body = json_pack(
		    "{s:s,s:s,s:s,s:[{s:b,s:b,s:{s:s,s:s}}],s:[{s:s,s:s,s:[{s:s,s:s}]}],s:{s:o},"
		    "s:o,s:{s:o}}",
		    "name", vm, "description", "made by Barista", "machineType", mt, "disks", "boot", 1,
		    "autoDelete", 1, "initializeParams", "sourceImage", image, "diskSizeGb", disk_gb,
		    "networkInterfaces", "network", netlink, "subnetwork", sublink, "accessConfigs",
		    "name", "External NAT", "type", "ONE_TO_ONE_NAT", "tags", "items", nettags, "labels",
		    vm_labels(tags, json_object_get(attrs, "labels")), "metadata", "items", items);
		nettags = NULL;
		/* a private VNet's VMs get no external address */
		if (body && json_is_true(json_object_get(json_object_get(vnet, "attrs"), "private")))
			json_object_del(json_array_get(json_object_get(body, "networkInterfaces"), 0),
			                "accessConfigs");
	}
	free(tagtext);
	if (!body) {
		rc = bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");
		goto done;
	}
	snprintf(q, sizeof(q), "requestId=%s", key);
	snprintf(rel, sizeof(rel), "zones/%s/instances", zone);
	rc = gcp_preq(x, "POST", rel, *key ? q : NULL, body, "compute.instances.insert", vm, &op);
	if (rc == BAR_ECONFLICT && strcmp(x->e->code, "alreadyExists") == 0) {
		/* the name comes from the key: is it the one this key made? */
		bar_kit_err keep = *x->e;
		gcp_forgive(x);
		if (vm_get(x, id, &inst) == BAR_OK) {
			json_t *t = NULL, *a = gcp_parse_instance(inst, 0, &t);
			int same = strcmp(gcp_str(t, "barista:idempotency"), key) == 0;
			json_decref(a);
			json_decref(t);
			if (same) {
				rc = vm_emit(x, inst, 0, NULL, 0, out);
				goto done;
			}
		}
		*x->e = keep;
		goto done;
	}
	if (rc != BAR_OK)
		goto done;
	{
		const char *err = gcp_str(json_array_get(
		    json_object_get(json_object_get(op, "error"), "errors"), 0), "code");
		if (*err) {
			rc = gcp_op_wait(x, op, "compute.instances.insert");
			goto done;
		}
	}
	rc = vm_get(x, id, &inst);
	if (rc == BAR_ENOTFOUND && strcmp(gcp_str(op, "status"), "DONE") != 0) {
		/* accepted, not visible yet: follow the operation */
		gcp_forgive(x);
		vm_operation(x, op, 'c');
		rc = vm_emit_pending(x, id, name, tags, out);
		goto done;
	}
	if (rc != BAR_OK)
		goto done;
	if (strcmp(gcp_str(op, "status"), "DONE") != 0) {
		vm_operation(x, op, 'c');
		rc = vm_emit(x, inst, 0, "Creating", 0, out);
	} else {
		rc = vm_emit(x, inst, 0, NULL, 0, out);
	}
done:
	json_decref(nettags);
	json_decref(body);
	json_decref(op);
	bar_kit_jfree(inst);
	return rc;
}

int gcp_vm_delete(gcp_ctx *x, const char *id)
{
	char zone[64], name[64], rel[192];
	json_t *op = NULL;
	int rc;

	if (vm_id(id, zone, name) < 0)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no instance %s", id);
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s", zone, name);
	rc = gcp_preq(x, "DELETE", rel, NULL, NULL, "compute.instances.delete", id, &op);
	if (rc == BAR_OK)
		vm_operation(x, op, 'd');
	json_decref(op);
	return rc;
}

int gcp_vm_poll(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	const char *tok = BAR_COVERS(x->call, operation) && x->call->operation
	                      ? x->call->operation : "";
	json_t *op = NULL, *errs;
	bar_kit_jdoc *inst = NULL;
	char kind;
	int rc;

	if (strncmp(tok, "gcp1:", 5) != 0 || !tok[5] || tok[6] != ':' ||
	    strncmp(tok + 7, "zones/", 6) != 0)
		return gcp_vm_read(x, id, out);
	kind = tok[5];
	if ((rc = gcp_preq(x, "GET", tok + 7, NULL, NULL, "compute.zoneOperations.get", id, &op)))
		goto done;
	errs = json_object_get(json_object_get(op, "error"), "errors");
	if (strcmp(gcp_str(op, "status"), "DONE") == 0 && json_array_size(errs)) {
		rc = gcp_op_wait(x, op, kind == 'd' ? "compute.instances.delete"
		                                    : "compute.instances.insert");
		goto done;
	}
	rc = vm_get(x, id, &inst);
	if (rc == BAR_ENOTFOUND && kind == 'c' && strcmp(gcp_str(op, "status"), "DONE") != 0) {
		gcp_forgive(x); /* the insert runs; the instance is not shown yet */
		x->call->retry_after_ms = 500;
		rc = vm_emit_pending(x, id, gcp_str(in, "name"), json_object_get(in, "tags"), out);
		goto done;
	}
	if (rc != BAR_OK)
		goto done; /* a finished delete: ENOTFOUND */
	if (strcmp(gcp_str(op, "status"), "DONE") != 0 || kind == 'd') {
		x->call->retry_after_ms = 500;
		rc = vm_emit(x, inst, 0, kind == 'd' ? "Terminating" : "Creating", 0, out);
	} else {
		rc = vm_emit(x, inst, 0, NULL, 0, out);
		if (rc == BAR_OK && strcmp(gcp_vm_status(jstr(inst, 0, "status")), "Creating") == 0)
			x->call->retry_after_ms = 500;
	}
done:
	json_decref(op);
	bar_kit_jfree(inst);
	return rc;
}

static int settled(const char *native)
{
	const char *s = gcp_vm_status(native);
	return !strcmp(s, "Running") || !strcmp(s, "Suspended") || !strcmp(s, "Failed");
}

int gcp_vm_action(gcp_ctx *x, const char *action, const char *id, bar_sink *out)
{
	const char *verb = !strcmp(action, "suspend") ? "stop"
	                   : !strcmp(action, "resume") ? "start"
	                   : !strcmp(action, "reboot") ? "reset" : NULL;
	char zone[64], name[64], rel[256], opname[64];
	bar_kit_jdoc *inst = NULL;
	json_t *op = NULL;
	const char *st;
	int rc;

	if (!verb)
		return bar_kit_fail(x->e, BAR_ENOTSUP, "UnknownAction", "gcp: no VM action \"%s\"",
		                    action ? action : "");
	if ((rc = vm_get(x, id, &inst)) != BAR_OK)
		return rc;
	vm_id(id, zone, name);
	st = gcp_vm_status(jstr(inst, 0, "status"));
	if (!strcmp(verb, "reset") && strcmp(st, "Running") != 0) {
		rc = bar_kit_fail(x->e, BAR_ECONFLICT, "InstanceNotRunning",
		                  "gcp: %s is %s; only a running instance can be reset", id,
		                  jstr(inst, 0, "status"));
		goto done;
	}
	if ((!strcmp(verb, "stop") && !strcmp(st, "Suspended")) ||
	    (!strcmp(verb, "start") && !strcmp(st, "Running"))) {
		rc = vm_emit(x, inst, 0, NULL, 0, out);
		goto done;
	}
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s/%s", zone, name, verb);
	snprintf(opname, sizeof(opname), "compute.instances.%s", verb);
	if ((rc = gcp_preq(x, "POST", rel, NULL, NULL, opname, id, &op)) != BAR_OK)
		goto done;
	if ((rc = gcp_op_wait(x, op, opname)) != BAR_OK)
		goto done;
	for (int i = 0;; i++) {
		bar_kit_jfree(inst);
		inst = NULL;
		if ((rc = vm_get(x, id, &inst)) != BAR_OK)
			goto done;
		if (settled(jstr(inst, 0, "status")) || i >= 120)
			break;
		if ((rc = bar_kit_sleep(x->host, x->call, 250, opname)) != BAR_OK)
			goto done;
	}
	rc = vm_emit(x, inst, 0, NULL, 0, out);
done:
	bar_kit_jfree(inst);
	json_decref(op);
	return rc;
}

int gcp_vm_update(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	bar_kit_jdoc *inst = NULL;
	json_t *labels, *body, *op = NULL, *v;
	json_t *user = json_object_get(json_object_get(in, "attrs"), "labels");
	char zone[64], name[64], rel[256];
	const char *k;
	int rc, have;

	if ((rc = vm_get(x, id, &inst)) != BAR_OK)
		return rc;
	vm_id(id, zone, name);
	labels = json_object();
	have = bar_kit_jobject(inst, bar_kit_jget(inst, 0, "labels"));
	for (int l = bar_kit_jfirst(inst, have); l >= 0; l = bar_kit_jnext(inst, have, l))
		if (strncmp(bar_kit_jkey(inst, l), "barista-", 8) == 0)
			json_object_set_new(labels, bar_kit_jkey(inst, l), bar_kit_jjson(inst, l));
	json_object_foreach(user, k, v)
		if (json_is_string(v))
			json_object_set(labels, k, v);
	body = json_pack("{s:o,s:s}", "labels", labels, "labelFingerprint",
	                 jstr(inst, 0, "labelFingerprint"));
	snprintf(rel, sizeof(rel), "zones/%s/instances/%s/setLabels", zone, name);
	rc = gcp_preq(x, "POST", rel, NULL, body, "compute.instances.setLabels", id, &op);
	if (rc == BAR_OK)
		rc = gcp_op_wait(x, op, "compute.instances.setLabels");
	json_decref(body);
	json_decref(op);
	bar_kit_jfree(inst);
	if (rc == BAR_OK)
		rc = gcp_vm_read(x, id, out);
	return rc;
}

static int list_one(gcp_ctx *x, const bar_kit_jdoc *page, int item, void *out)
{
	return vm_emit(x, page, item, NULL, 1, out);
}

int gcp_vm_list(gcp_ctx *x, bar_sink *out)
{
	/* each page's Instances are emitted as it arrives, read in place */
	return gcp_list_each(x, "aggregated/instances", "labels.barista-address eq \".+\"",
	                     "compute.instances.aggregatedList", 1, "instances", list_one, out);
}
