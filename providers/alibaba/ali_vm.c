/*
 * ali_vm.c - VMs: ECS instances made with RunInstances in the VNet's
 * vSwitch with the security groups, key pair, image and instance type the
 * refs name, a public address (InternetMaxBandwidthOut), and the input's
 * tags plus its labels as Alibaba tags.  Instances start, stop and reboot
 * asynchronously: those calls emit the transitional status and an
 * operation token "<verb>/<instance id>" (verb run, stop, start, reboot)
 * that poll follows with DescribeInstances.
 */
#include "ali.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answer to DescribeInstances of id in *doc (the caller's, also when
 * there is no such instance) and the instance's node in *inst, -1 when it
 * does not exist. */
static int vm_fetch(ali_ctx *x, const char *id, bar_kit_jdoc **doc, int *inst)
{
	ali_params p = {0};
	char *ids = ali_json_list1(id);
	int rc, i;

	*doc = NULL;
	*inst = -1;
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "InstanceIds", ids ? ids : "[]");
	rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeInstances", &p, id, doc, &x->e);
	ali_params_free(&p);
	free(ids);
	if (rc)
		return rc;
	i = bar_kit_jat(*doc, ali_jlist(*doc, 0, "Instances.Instance"), 0);
	if (i >= 0 && strcmp(ali_jstr(*doc, i, "InstanceId"), id) == 0)
		*inst = i;
	return BAR_OK;
}

/* Emit the instance at node n of d; with an operation verb the status says
 * what that operation is doing, and while it runs the token is set.  With
 * only_ours (a list), an instance without Barista's address tag is passed
 * over. */
static int vm_emit(ali_ctx *x, const bar_kit_jdoc *d, int n, const char *verb, int only_ours)
{
	json_t *tags = NULL, *attrs = ali_vm_attrs(d, n, &tags);
	const char *status = ali_vm_status(ali_jstr(d, n, "Status"), verb);
	const char *id = ali_jstr(d, n, "InstanceId");
	int rc;

	if (only_ours && !json_object_get(tags, "barista:address")) {
		json_decref(attrs);
		json_decref(tags);
		return BAR_OK;
	}
	if (!attrs)
		return bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse", "an instance without an id");
	rc = ali_emit(x->sink, id, ali_jstr(d, n, "InstanceName"), status, attrs, tags, &x->e);
	if (!rc && verb && *verb && !ali_vm_final(status)) {
		char token[128];

		snprintf(token, sizeof(token), "%s/%s", verb, id);
		ali_host->set_operation(x->call, token);
		x->call->retry_after_ms = x->s->poll_ms;
	} else if (!rc && verb && *verb)
		ali_host->set_operation(x->call, NULL);
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

/* After an action or a create: fetch and emit with the verb; an instance
 * not visible yet (eventual consistency) is emitted as just made. */
static int vm_after(ali_ctx *x, const char *id, const char *verb)
{
	bar_kit_jdoc *d = NULL;
	int inst, rc = vm_fetch(x, id, &d, &inst);

	if (rc == BAR_ERETRY && strcmp(verb, "run") == 0) {
		/* made, but the look at it failed for now: the operation's poll
		 * looks again (an error here would make the host replace it) */
		memset(&x->e, 0, sizeof(x->e));
		rc = BAR_OK;
	}
	if (rc && strcmp(verb, "run") == 0) {
		/* made, then failed: still say what was made */
		bar_kit_err keep = x->e;
		json_t *a = json_object(), *t = json_deep_copy(x->tags);

		memset(&x->e, 0, sizeof(x->e));
		ali_emit(x->sink, id, x->name ? x->name : "", "Creating", a, t, &x->e);
		json_decref(a);
		json_decref(t);
		x->e = keep;
		bar_kit_jfree(d);
		return rc;
	}
	if (!rc && inst < 0) {
		json_t *a = json_object(), *t = json_deep_copy(x->tags);

		rc = ali_emit(x->sink, id, x->name ? x->name : "", "Creating", a, t, &x->e);
		if (!rc) {
			char token[128];

			snprintf(token, sizeof(token), "%s/%s", verb, id);
			ali_host->set_operation(x->call, token);
			x->call->retry_after_ms = x->s->poll_ms;
		}
		json_decref(a);
		json_decref(t);
		bar_kit_jfree(d);
		return rc;
	}
	if (!rc)
		rc = vm_emit(x, d, inst, verb, 0);
	bar_kit_jfree(d);
	return rc;
}

static const char *ref_id(json_t *refs, const char *role)
{
	return ali_in_str(json_object_get(refs, role), "system_id");
}

/* The vSwitch of attrs.subnet (or the VNet's only subnet). */
static const char *vm_vswitch(ali_ctx *x)
{
	json_t *vnet_attrs = json_object_get(json_object_get(x->refs, "vnet"), "attrs");
	json_t *subs = json_object_get(vnet_attrs, "subnets"), *s;
	const char *want = json_string_value(json_object_get(x->attrs, "subnet"));
	size_t i;

	json_array_foreach(subs, i, s)
		if (!want || !*want ? json_array_size(subs) == 1
		                    : strcmp(ali_in_str(s, "name"), want) == 0)
			return ali_in_str(s, "id");
	return "";
}

int ali_vm_create(ali_ctx *x)
{
	const char *vsw = vm_vswitch(x), *image = ref_id(x->refs, "image");
	const char *spec = ref_id(x->refs, "spec"), *key = ref_id(x->refs, "sshKey");
	json_t *sgs = json_object_get(x->refs, "securityGroups"), *g;
	json_t *labels = json_object_get(x->attrs, "labels");
	json_t *disk = json_object_get(json_object_get(json_object_get(x->refs, "spec"), "attrs"),
	                               "diskGiB");
	bar_kit_jdoc *r = NULL;
	char token[80], id[64];
	ali_params p = {0};
	size_t i;
	int rc, n = 0;

	if (!*vsw || !*image || !*spec)
		return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput",
		                    "a vm needs refs.vnet with its subnet \"%s\", refs.image and "
		                    "refs.spec", ali_in_str(x->attrs, "subnet"));
	ali_client_token(x, "", token, sizeof(token));
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "ImageId", image);
	ali_params_add(&p, "InstanceType", spec);
	ali_params_add(&p, "VSwitchId", vsw);
	json_array_foreach(sgs, i, g) {
		char k[40];

		if (!*ali_in_str(g, "system_id"))
			continue;
		snprintf(k, sizeof(k), "SecurityGroupIds.%d", ++n);
		ali_params_add(&p, k, ali_in_str(g, "system_id"));
	}
	if (*key)
		ali_params_add(&p, "KeyPairName", key);
	ali_params_add(&p, "InstanceName", x->name);
	ali_params_add(&p, "InstanceChargeType", "PostPaid");
	if (x->s->bandwidth_out > 0) {
		ali_params_add(&p, "InternetChargeType", "PayByTraffic");
		ali_params_addf(&p, "InternetMaxBandwidthOut", "%d", x->s->bandwidth_out);
	}
	ali_params_addf(&p, "SystemDisk.Size", "%lld",
	                (long long)(json_integer_value(disk) > 20 ? json_integer_value(disk) : 20));
	if (*x->s->disk_category)
		ali_params_add(&p, "SystemDisk.Category", x->s->disk_category);
	ali_params_add(&p, "Amount", "1");
	if (*token)
		ali_params_add(&p, "ClientToken", token);
	ali_params_tags(&p, x->tags, json_is_object(labels) ? labels : NULL);
	rc = ali_rpc(x->s, x->call, ALI_ECS, "RunInstances", &p, NULL, &r, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	snprintf(id, sizeof(id), "%s",
	         bar_kit_jsv(r, bar_kit_jat(r, ali_jlist(r, 0, "InstanceIdSets.InstanceIdSet"), 0)));
	bar_kit_jfree(r);
	if (!*id)
		return bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse",
		                    "RunInstances: no instance id in the answer");
	return vm_after(x, id, "run");
}

int ali_vm_read(ali_ctx *x)
{
	bar_kit_jdoc *d = NULL;
	int inst, rc = vm_fetch(x, x->id, &d, &inst);

	if (!rc && inst < 0)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidInstanceId.NotFound",
		                  "DescribeInstances: instance %s does not exist", x->id);
	if (!rc)
		rc = vm_emit(x, d, inst, NULL, 0);
	bar_kit_jfree(d);
	return rc;
}

static int vm_simple(ali_ctx *x, const char *action, const char *extra_k, const char *extra_v)
{
	ali_params p = {0};
	int rc;

	ali_params_add(&p, "InstanceId", x->id);
	if (extra_k)
		ali_params_add(&p, extra_k, extra_v);
	rc = ali_rpc(x->s, x->call, ALI_ECS, action, &p, x->id, NULL, &x->e);
	ali_params_free(&p);
	return rc;
}

int ali_vm_poll(ali_ctx *x)
{
	const char *op = BAR_COVERS(x->call, operation) && x->call->operation
	                     ? x->call->operation
	                     : "";
	const char *slash = strchr(op, '/');
	char verb[16] = "";
	bar_kit_jdoc *d = NULL;
	int inst, rc;

	if (slash && (size_t)(slash - op) < sizeof(verb)) {
		memcpy(verb, op, (size_t)(slash - op));
		verb[slash - op] = '\0';
		if (strcmp(slash + 1, x->id) != 0)
			return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidOperation",
			                    "operation %s is not about %s", op, x->id);
	}
	rc = vm_fetch(x, x->id, &d, &inst);
	if (!rc && inst < 0)
		rc = strcmp(verb, "run") == 0
		         ? vm_after(x, x->id, "run") /* not visible yet */
		         : bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidInstanceId.NotFound",
		                        "DescribeInstances: instance %s does not exist", x->id);
	else if (!rc && strcmp(verb, "run") == 0 &&
	         strcmp(ali_jstr(d, inst, "Status"), "Running") == 0 &&
	         strcmp(ali_in_str(x->attrs, "state"), "Suspended") == 0) {
		/* made Suspended: stop it once it runs */
		rc = vm_simple(x, "StopInstance", NULL, NULL);
		if (!rc)
			rc = vm_after(x, x->id, "stop");
	} else if (!rc)
		rc = vm_emit(x, d, inst, verb, 0);
	bar_kit_jfree(d);
	return rc;
}

int ali_vm_action(ali_ctx *x)
{
	const char *action, *verb;
	int rc;

	if (strcmp(x->action, "suspend") == 0)
		action = "StopInstance", verb = "stop";
	else if (strcmp(x->action, "resume") == 0)
		action = "StartInstance", verb = "start";
	else if (strcmp(x->action, "reboot") == 0)
		action = "RebootInstance", verb = "reboot";
	else
		return bar_kit_fail(&x->e, BAR_ENOTSUP, "UnsupportedAction",
		                    "alibaba: no VM action \"%s\" (suspend, resume, reboot)", x->action);
	rc = vm_simple(x, action, NULL, NULL);
	return rc ? rc : vm_after(x, x->id, verb);
}

/* Labels are the instance's tags other than barista:*; update sets and
 * removes them with TagResources / UntagResources. */
int ali_vm_update(ali_ctx *x)
{
	json_t *want = json_object_get(x->attrs, "labels"), *tags = NULL, *have = NULL, *v;
	bar_kit_jdoc *d = NULL;
	ali_params p = {0};
	const char *k;
	int inst, rc = vm_fetch(x, x->id, &d, &inst), n = 0;

	if (!rc && inst < 0)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidInstanceId.NotFound",
		                  "DescribeInstances: instance %s does not exist", x->id);
	if (rc) {
		bar_kit_jfree(d);
		return rc;
	}
	ali_tags(d, inst, "Tags.Tag", &tags, &have);
	bar_kit_jfree(d);
	json_decref(tags);
	if (json_is_object(want)) {
		json_object_foreach(have, k, v) {
			char key[32];

			if (json_object_get(want, k))
				continue;
			if (!n) {
				ali_params_add(&p, "RegionId", x->region);
				ali_params_add(&p, "ResourceType", "instance");
				ali_params_add(&p, "ResourceId.1", x->id);
			}
			snprintf(key, sizeof(key), "TagKey.%d", ++n);
			ali_params_add(&p, key, k);
		}
		if (n)
			rc = ali_rpc(x->s, x->call, ALI_ECS, "UntagResources", &p, x->id, NULL, &x->e);
		ali_params_free(&p);
		n = 0;
		json_object_foreach(want, k, v) {
			char key[32];

			if (rc || json_equal(json_object_get(have, k), v) || !json_is_string(v))
				continue;
			if (!n) {
				ali_params_add(&p, "RegionId", x->region);
				ali_params_add(&p, "ResourceType", "instance");
				ali_params_add(&p, "ResourceId.1", x->id);
			}
			n++;
			snprintf(key, sizeof(key), "Tag.%d.Key", n);
			ali_params_add(&p, key, k);
			snprintf(key, sizeof(key), "Tag.%d.Value", n);
			ali_params_add(&p, key, json_string_value(v));
		}
		if (!rc && n)
			rc = ali_rpc(x->s, x->call, ALI_ECS, "TagResources", &p, x->id, NULL, &x->e);
		ali_params_free(&p);
	}
	json_decref(have);
	return rc ? rc : ali_vm_read(x);
}

int ali_vm_delete(ali_ctx *x)
{
	return vm_simple(x, "DeleteInstance", "Force", "true");
}

static int vm_list_one(ali_ctx *x, const bar_kit_jdoc *page, int item, void *ud)
{
	(void)ud;
	return vm_emit(x, page, item, NULL, 1);
}

int ali_vm_list(ali_ctx *x)
{
	ali_params p = {0};
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "Tag.1.Key", "barista:address");
	rc = ali_pages(x, ALI_ECS, "DescribeInstances", &p, "Instances.Instance", ALI_PAGE_TOKEN,
	               100, vm_list_one, NULL);
	ali_params_free(&p);
	return rc;
}
