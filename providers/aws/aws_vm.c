/*
 * aws_vm.c - the aws driver's sshkey and vm.
 *
 * sshkey: ImportKeyPair of attrs.publicKey, or, when it is null,
 * CreateKeyPair (ed25519) whose KeyMaterial goes to host->emit_secret and
 * nowhere else.  KeyName is the name plus the start of the idempotency key
 * (unique per region across generations); a create first looks for a key
 * pair tagged with its key.
 *
 * vm: RunInstances in the vnet's subnet with the security groups, key
 * pair, image and instance type, ClientToken = the idempotency key (EC2's
 * own idempotency: the same token returns the same instance), the input's
 * tags plus Name and the labels as tags.  Instances start `pending`: create
 * emits Creating with an operation token ("ec2:run:<id>") and the host
 * polls; stop/start/terminate likewise ("ec2:stop:", "ec2:start:",
 * "ec2:terminate:").  A terminated instance reads as gone.
 */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sshkey ---- */

static int key_emit(aws_x *x, bar_sink *out, const aws_xml *k)
{
	const aws_xml *tags = aws_xml_get(k, "tagSet");
	const char *name = aws_tag(tags, "Name");

	return aws_emit(x, out, aws_xml_text(k, "keyPairId"), name ? name : "", "Available",
	                aws_key_attrs(k), aws_tags_barista(tags));
}

static int key_describe(aws_x *x, aws_q *q, aws_xml **root, const aws_xml **k)
{
	int rc = aws_ec2(x, "DescribeKeyPairs", q, NULL, root, NULL, 0);

	*k = rc == BAR_OK ? aws_xml_path(*root, "keySet/item") : NULL;
	return rc;
}

static int key_read_id(aws_x *x, bar_sink *out, const char *id)
{
	aws_q q = {{0}, 0};
	aws_xml *root = NULL;
	const aws_xml *k;
	int rc;

	aws_q_add(&q, "KeyPairId.1", id);
	rc = key_describe(x, &q, &root, &k);
	aws_q_free(&q);
	if (rc == BAR_OK && !k)
		rc = bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidKeyPair.NotFound",
		                  "aws: key pair %s does not exist", id);
	if (rc == BAR_OK)
		rc = key_emit(x, out, k);
	aws_xml_free(root);
	return rc;
}

int aws_key_create(aws_x *x, bar_sink *out)
{
	json_t *pk = json_object_get(aws_attrs(x), "publicKey");
	const char *key = json_string_value(json_object_get(aws_in_tags(x), "barista:idempotency"));
	char kname[300], id[64] = "";
	aws_xml *root = NULL;
	aws_q q = {{0}, 0};
	int rc = BAR_OK;

	if (pk && !json_is_null(pk) && !json_is_string(pk))
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
		                    "aws: publicKey is a string or null");
	if (key && *key) {
		const aws_xml *k;

		aws_q_filter1(&q, "tag:barista:idempotency", key);
		rc = key_describe(x, &q, &root, &k);
		aws_q_free(&q);
		if (rc == BAR_OK && k) /* made before: a generated private half is not seen again */
			snprintf(id, sizeof(id), "%s", aws_xml_text(k, "keyPairId") ? aws_xml_text(k, "keyPairId") : "");
		aws_xml_free(root);
		root = NULL;
		if (rc != BAR_OK)
			return rc;
		if (id[0])
			return key_read_id(x, out, id);
	}
	aws_unique_name(x, kname, sizeof(kname));
	memset(&q, 0, sizeof(q));
	aws_q_add(&q, "KeyName", kname);
	if (json_is_string(pk)) {
		const char *text = json_string_value(pk);
		char *b64 = bar_kit_base64((const unsigned char *)text, strlen(text), 0);

		if (!b64) {
			aws_q_free(&q);
			return bar_kit_fail(&x->err, BAR_EFAIL, "OutOfMemory", "aws: out of memory");
		}
		aws_q_add(&q, "PublicKeyMaterial", b64);
		free(b64);
		aws_q_tagspec(&q, "key-pair", aws_in_tags(x), aws_name(x), NULL);
		rc = aws_ec2(x, "ImportKeyPair", &q, NULL, &root, NULL, 0);
	} else {
		aws_q_add(&q, "KeyType", "ed25519");
		aws_q_tagspec(&q, "key-pair", aws_in_tags(x), aws_name(x), NULL);
		rc = aws_ec2(x, "CreateKeyPair", &q, NULL, &root, NULL, 0);
	}
	aws_q_free(&q);
	if (rc == BAR_OK) {
		const char *kid = aws_xml_text(root, "keyPairId");
		snprintf(id, sizeof(id), "%s", kid ? kid : "");
		if (!id[0])
			rc = bar_kit_fail(&x->err, BAR_EFAIL, "MalformedAnswer", "no keyPairId in the answer");
	}
	if (rc == BAR_OK && !json_is_string(pk)) {
		aws_xml *mat = (aws_xml *)aws_xml_get(root, "keyMaterial");

		if (!mat || !mat->text[0] || x->host->emit_secret(out, "privateKey", mat->text) != 0) {
			/* the private half cannot be kept: the key pair is useless */
			aws_q d = {{0}, 0};
			bar_kit_err saved = x->err;

			aws_q_add(&d, "KeyPairId", id);
			aws_ec2(x, "DeleteKeyPair", &d, id, NULL, NULL, 0);
			aws_q_free(&d);
			x->err = saved;
			rc = bar_kit_fail(&x->err, BAR_EFAIL, "SecretRefused",
			                  "aws: the host could not store the private key of %s", id);
			id[0] = '\0';
		}
		if (mat)
			bar_kit_wipe(mat->text, strlen(mat->text));
	}
	aws_xml_free(root);
	if (rc != BAR_OK)
		return rc;
	return key_read_id(x, out, id);
}

int aws_key_read(aws_x *x, bar_sink *out)
{
	if (!aws_id_is(aws_id(x), "key-"))
		return aws_notfound(x, "key pair");
	return key_read_id(x, out, aws_id(x));
}

int aws_key_delete(aws_x *x)
{
	aws_q q = {{0}, 0};
	aws_xml *root = NULL;
	const aws_xml *k;
	int rc;

	if (!aws_id_is(aws_id(x), "key-"))
		return aws_notfound(x, "key pair");
	/* DeleteKeyPair answers true for a key that is not there: ask first */
	aws_q_add(&q, "KeyPairId.1", aws_id(x));
	rc = key_describe(x, &q, &root, &k);
	aws_q_free(&q);
	aws_xml_free(root);
	if (rc != BAR_OK)
		return rc;
	memset(&q, 0, sizeof(q));
	aws_q_add(&q, "KeyPairId", aws_id(x));
	rc = aws_ec2(x, "DeleteKeyPair", &q, aws_id(x), NULL, NULL, 0);
	aws_q_free(&q);
	return rc;
}

static int on_keys(aws_x *x, const aws_xml *root, void *ctx)
{
	const aws_xml *set = aws_xml_get(root, "keySet");
	int rc = BAR_OK;

	for (const aws_xml *k = set ? set->child : NULL; k && rc == BAR_OK; k = k->next)
		if (aws_tag(aws_xml_get(k, "tagSet"), "barista:address") && aws_xml_text(k, "keyPairId"))
			rc = key_emit(x, ctx, k);
	return rc;
}

int aws_key_list(aws_x *x, bar_sink *out)
{
	aws_q q = {{0}, 0};
	int rc;

	/* DescribeKeyPairs does not page: one answer holds every key pair */
	aws_q_filter1(&q, "tag-key", "barista:address");
	rc = aws_ec2_pages(x, "DescribeKeyPairs", &q, 0, on_keys, out);
	aws_q_free(&q);
	return rc;
}

/* ---- vm ---- */

static int vm_emit(aws_x *x, bar_sink *out, const aws_xml *inst, int resuming)
{
	const aws_xml *tags = aws_xml_get(inst, "tagSet");
	const char *name = aws_tag(tags, "Name");
	const char *state = aws_xml_text(aws_xml_get(inst, "instanceState"), "name");

	return aws_emit(x, out, aws_xml_text(inst, "instanceId"), name ? name : "",
	                aws_vm_status(state, resuming), aws_vm_attrs(inst), aws_tags_barista(tags));
}

static const aws_xml *first_instance(const aws_xml *root)
{
	const aws_xml *r = aws_xml_path(root, "reservationSet/item");

	return r ? aws_xml_path(r, "instancesSet/item") : aws_xml_path(root, "instancesSet/item");
}

/* DescribeInstances of one id; ENOTFOUND when unknown or terminated. */
static int vm_get(aws_x *x, const char *id, aws_xml **root, const aws_xml **inst)
{
	aws_q q = {{0}, 0};
	const char *state;
	int rc;

	*root = NULL;
	if (!aws_id_is(id, "i-"))
		return aws_notfound(x, "instance");
	aws_q_add(&q, "InstanceId.1", id);
	rc = aws_ec2(x, "DescribeInstances", &q, id, root, NULL, 0);
	aws_q_free(&q);
	if (rc != BAR_OK)
		return rc;
	*inst = first_instance(*root);
	state = aws_xml_text(aws_xml_get(*inst, "instanceState"), "name");
	if (!*inst || !state || strcmp(state, "terminated") == 0) {
		aws_xml_free(*root);
		*root = NULL;
		return bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidInstanceID.NotFound",
		                    "aws: instance %s does not exist (any more)", id);
	}
	return BAR_OK;
}

/* What an operation token says, "ec2:<verb>:<instance id>". */
static void set_op(aws_x *x, const char *verb, const char *id)
{
	char tok[128];

	snprintf(tok, sizeof(tok), "ec2:%s:%s", verb, id);
	x->host->set_operation(x->call, tok);
	x->call->retry_after_ms = AWS_POLL_MS;
}

int aws_vm_read(aws_x *x, bar_sink *out, const char *op)
{
	aws_xml *root = NULL;
	const aws_xml *inst;
	int resuming = op && strncmp(op, "ec2:start:", 10) == 0;
	int rc = vm_get(x, aws_id(x), &root, &inst);

	if (rc == BAR_OK) {
		const char *st = aws_vm_status(aws_xml_text(aws_xml_get(inst, "instanceState"), "name"),
		                               resuming);

		rc = vm_emit(x, out, inst, resuming);
		if (strcmp(st, "Running") != 0 && strcmp(st, "Suspended") != 0)
			x->call->retry_after_ms = AWS_POLL_MS;
	}
	aws_xml_free(root);
	return rc;
}

/* The subnet id the VM goes into: attrs.subnet named in the vnet's subnets. */
static const char *vm_subnet(aws_x *x)
{
	json_t *a = aws_attrs(x), *refs = json_object_get(x->in, "refs");
	json_t *subs = json_object_get(json_object_get(json_object_get(refs, "vnet"), "attrs"),
	                               "subnets");
	const char *want = json_string_value(json_object_get(a, "subnet")), *only = NULL;
	json_t *s;
	size_t i;

	json_array_foreach(subs, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		if (want && name && strcmp(want, name) == 0)
			return json_string_value(json_object_get(s, "id"));
		if (!only)
			only = json_string_value(json_object_get(s, "id"));
	}
	return want && *want ? NULL : only;
}

static const char *ref_id(aws_x *x, const char *role)
{
	return json_string_value(json_object_get(
	    json_object_get(json_object_get(x->in, "refs"), role), "system_id"));
}

int aws_vm_create(aws_x *x, bar_sink *out)
{
	json_t *refs = json_object_get(x->in, "refs"), *sgs = json_object_get(refs, "securityGroups");
	json_t *labels = json_object_get(aws_attrs(x), "labels"), *sg;
	const char *image = ref_id(x, "image"), *spec = ref_id(x, "spec"), *subnet = vm_subnet(x);
	const char *keyname = json_string_value(json_object_get(
	    json_object_get(json_object_get(refs, "sshKey"), "attrs"), "keyName"));
	const char *token = BAR_COVERS(x->call, idempotency_key) ? x->call->idempotency_key : NULL;
	aws_xml *root = NULL;
	aws_q q = {{0}, 0};
	size_t i;
	int rc;

	if (!image || !spec || !subnet)
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
		                    "aws: a vm needs its image, spec and a subnet of its vnet "
		                    "(refs.image, refs.spec, attrs.subnet in refs.vnet's subnets)");
	aws_q_add(&q, "ImageId", image);
	aws_q_add(&q, "InstanceType", spec);
	aws_q_add(&q, "MinCount", "1");
	aws_q_add(&q, "MaxCount", "1");
	aws_q_add(&q, "SubnetId", subnet);
	if (keyname && *keyname)
		aws_q_add(&q, "KeyName", keyname);
	json_array_foreach(sgs, i, sg) {
		const char *id = json_string_value(json_object_get(sg, "system_id"));
		if (id)
			aws_q_addf(&q, id, "SecurityGroupId.%zu", i + 1);
	}
	if (token && *token)
		aws_q_add(&q, "ClientToken", token);
	aws_q_tagspec(&q, "instance", aws_in_tags(x), aws_name(x),
	              json_is_object(labels) ? labels : NULL);
	rc = aws_ec2(x, "RunInstances", &q, NULL, &root, NULL, 0);
	aws_q_free(&q);
	if (rc == BAR_OK) {
		const aws_xml *inst = first_instance(root);
		const char *id = aws_xml_text(inst, "instanceId");

		if (!id) {
			rc = bar_kit_fail(&x->err, BAR_EFAIL, "MalformedAnswer",
			                  "RunInstances: no instance in the answer");
		} else {
			const char *st = aws_xml_text(aws_xml_get(inst, "instanceState"), "name");
			if (st && strcmp(st, "pending") == 0)
				set_op(x, "run", id);
			rc = vm_emit(x, out, inst, 0);
		}
	}
	aws_xml_free(root);
	return rc;
}

/* Labels are the tags that are neither barista: nor Name. */
int aws_vm_update(aws_x *x, bar_sink *out)
{
	json_t *want = json_object_get(aws_attrs(x), "labels"), *have, *v;
	aws_xml *root = NULL;
	const aws_xml *inst;
	const char *k, *id = aws_id(x);
	aws_q add = {{0}, 0}, del = {{0}, 0};
	int na = 0, nd = 0, rc = vm_get(x, id, &root, &inst);

	if (rc != BAR_OK)
		return rc;
	have = aws_tags_labels(aws_xml_get(inst, "tagSet"));
	aws_xml_free(root);
	aws_q_add(&add, "ResourceId.1", id);
	aws_q_add(&del, "ResourceId.1", id);
	json_object_foreach(want, k, v) {
		const char *hv = json_string_value(json_object_get(have, k));
		if (!json_is_string(v) || strncmp(k, "barista:", 8) == 0 || strcmp(k, "Name") == 0 ||
		    (hv && strcmp(hv, json_string_value(v)) == 0))
			continue;
		na++;
		aws_q_addf(&add, k, "Tag.%d.Key", na);
		aws_q_addf(&add, json_string_value(v), "Tag.%d.Value", na);
	}
	json_object_foreach(have, k, v) {
		if (json_is_object(want) && json_object_get(want, k))
			continue;
		nd++;
		aws_q_addf(&del, k, "Tag.%d.Key", nd);
	}
	if (na)
		rc = aws_ec2(x, "CreateTags", &add, id, NULL, NULL, 0);
	if (rc == BAR_OK && nd)
		rc = aws_ec2(x, "DeleteTags", &del, id, NULL, NULL, 0);
	aws_q_free(&add);
	aws_q_free(&del);
	json_decref(have);
	return rc == BAR_OK ? aws_vm_read(x, out, NULL) : rc;
}

int aws_vm_delete(aws_x *x)
{
	aws_q q = {{0}, 0};
	aws_xml *root = NULL;
	const char *id = aws_id(x);
	int rc;

	if (!aws_id_is(id, "i-"))
		return aws_notfound(x, "instance");
	aws_q_add(&q, "InstanceId.1", id);
	rc = aws_ec2(x, "TerminateInstances", &q, id, &root, NULL, 0);
	aws_q_free(&q);
	if (rc == BAR_OK) {
		const aws_xml *ch = aws_xml_path(root, "instancesSet/item");
		const char *prev = aws_xml_text(aws_xml_get(ch, "previousState"), "name");
		const char *now = aws_xml_text(aws_xml_get(ch, "currentState"), "name");

		if (prev && strcmp(prev, "terminated") == 0)
			rc = bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidInstanceID.NotFound",
			                  "aws: instance %s is already terminated", id);
		else if (!now || strcmp(now, "terminated") != 0)
			set_op(x, "terminate", id);
	}
	aws_xml_free(root);
	return rc;
}

static int on_instances(aws_x *x, const aws_xml *root, void *ctx)
{
	const aws_xml *rs = aws_xml_get(root, "reservationSet");
	int rc = BAR_OK;

	for (const aws_xml *r = rs ? rs->child : NULL; r && rc == BAR_OK; r = r->next) {
		const aws_xml *is = aws_xml_get(r, "instancesSet");
		for (const aws_xml *i = is ? is->child : NULL; i && rc == BAR_OK; i = i->next)
			if (aws_xml_text(i, "instanceId") &&
			    aws_tag(aws_xml_get(i, "tagSet"), "barista:address"))
				rc = vm_emit(x, ctx, i, 0);
	}
	return rc;
}

int aws_vm_list(aws_x *x, bar_sink *out)
{
	static const char *const live[] = {"pending", "running", "stopping", "stopped",
	                                   "shutting-down", NULL};
	aws_q q = {{0}, 0};
	int rc;

	aws_q_filter1(&q, "tag-key", "barista:address");
	aws_q_filter(&q, "instance-state-name", live);
	rc = aws_ec2_pages(x, "DescribeInstances", &q, AWS_PAGE, on_instances, out);
	aws_q_free(&q);
	return rc;
}

int aws_vm_action(aws_x *x, const char *action, bar_sink *out)
{
	const char *id = aws_id(x), *op, *verb;
	aws_q q = {{0}, 0};
	int rc;

	if (strcmp(action, "suspend") == 0)
		op = "StopInstances", verb = "stop";
	else if (strcmp(action, "resume") == 0)
		op = "StartInstances", verb = "start";
	else if (strcmp(action, "reboot") == 0)
		op = "RebootInstances", verb = NULL;
	else
		return bar_kit_fail(&x->err, BAR_ENOTSUP, "UnsupportedAction",
		                    "aws: no vm action \"%s\" (suspend, resume, reboot)", action);
	if (!aws_id_is(id, "i-"))
		return aws_notfound(x, "instance");
	aws_q_add(&q, "InstanceId.1", id);
	rc = aws_ec2(x, op, &q, id, NULL, NULL, 0);
	aws_q_free(&q);
	if (rc != BAR_OK)
		return rc;
	{
		aws_xml *root = NULL;
		const aws_xml *inst;
		const char *st;

		rc = vm_get(x, id, &root, &inst);
		if (rc == BAR_OK) {
			st = aws_vm_status(aws_xml_text(aws_xml_get(inst, "instanceState"), "name"),
			                   verb && strcmp(verb, "start") == 0);
			if (verb && strcmp(st, "Running") != 0 && strcmp(st, "Suspended") != 0)
				set_op(x, verb, id);
			rc = vm_emit(x, out, inst, verb && strcmp(verb, "start") == 0);
		}
		aws_xml_free(root);
	}
	return rc;
}
