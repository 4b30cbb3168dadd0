/*
 * fuzz_alibaba.c - libFuzzer on the alibaba driver's response parsers
 * (providers/alibaba/ali_parse.c): the error body, the Describe* answers
 * of every type turned into observed attributes, tags and statuses.
 * Seeds: tests/data/alibaba/responses/ (documented response examples).
 */
#include "ali_parse.h"

#include <stddef.h>
#include <stdint.h>

static void each(json_t *root, const char *path, json_t *(*fn)(json_t *))
{
	json_t *list = ali_jlist(root, path), *it;
	size_t i;

	json_array_foreach(list, i, it) {
		json_t *tags = NULL, *labels = NULL;

		json_decref(fn(it));
		ali_tags(it, "Tags.Tag", &tags, &labels);
		json_decref(tags);
		json_decref(labels);
		(void)ali_vm_status(ali_jstr(it, "Status"), "reboot");
		(void)ali_res_status(ali_jstr(it, "Status"));
	}
}

static json_t *vnet(json_t *it)
{
	return ali_vnet_attrs(it, it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[128], msg[768];
	json_t *o, *r;

	ali_errparse((const char *)data, size, 400, code, sizeof(code), msg, sizeof(msg));
	(void)ali_coderc(code, 400);
	o = ali_parse_body((const char *)data, size);
	if (!o)
		return 0;
	each(o, "Instances.Instance", ali_vm_attrs);
	each(o, "Vpcs.Vpc", vnet);
	each(o, "VSwitches.VSwitch", vnet);
	each(o, "KeyPairs.KeyPair", ali_key_attrs);
	each(o, "Images.Image", ali_image_attrs);
	each(o, "InstanceTypes.InstanceType", ali_type_attrs);
	each(o, "Permissions.Permission", ali_rule_norm);
	json_decref(ali_vnet_attrs(json_array_get(ali_jlist(o, "Vpcs.Vpc"), 0),
	                           ali_jlist(o, "VSwitches.VSwitch")));
	r = ali_sg_rules(o);
	json_decref(r);
	json_decref(o);
	return 0;
}
