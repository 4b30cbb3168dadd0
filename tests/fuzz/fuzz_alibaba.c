/*
 * fuzz_alibaba.c - libFuzzer on the alibaba driver's response parsers
 * (providers/alibaba/ali_parse.c): the error body, the Describe* answers
 * of every type, read with the kit's JSON reader and turned into observed
 * attributes, tags and statuses.  The answer check itself is held to what
 * the driver accepted before it used the reader: jansson's json_loadb with
 * JSON_REJECT_DUPLICATES, an object (the one deliberate difference, a NUL
 * byte in the text, is left out; see kit_json.h).
 * Seeds: tests/data/alibaba/responses/ (documented response examples).
 */
#include "ali_parse.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void each(const bar_kit_jdoc *d, const char *path,
                 json_t *(*fn)(const bar_kit_jdoc *, int))
{
	int list = ali_jlist(d, 0, path);

	for (int it = bar_kit_jfirst(d, list); it >= 0; it = bar_kit_jnext(d, list, it)) {
		json_t *tags = NULL, *labels = NULL;

		json_decref(fn(d, it));
		ali_tags(d, it, "Tags.Tag", &tags, &labels);
		json_decref(tags);
		json_decref(labels);
		(void)ali_vm_status(ali_jstr(d, it, "Status"), "reboot");
		(void)ali_res_status(ali_jstr(d, it, "Status"));
	}
}

static json_t *vm(const bar_kit_jdoc *d, int n)
{
	json_t *tags = NULL, *a = ali_vm_attrs(d, n, &tags);

	json_decref(tags);
	return a;
}

static json_t *vnet(const bar_kit_jdoc *d, int n)
{
	ali_item self = {d, n};

	return ali_vnet_attrs(d, n, &self, 1);
}

static json_t *rule(const bar_kit_jdoc *d, int n)
{
	json_t *r = bar_kit_jjson(d, n), *norm = ali_rule_norm(r);

	json_decref(r);
	return norm;
}

/* The answer check agrees with jansson's. */
static void same_verdict(const uint8_t *data, size_t size, int ours)
{
	json_t *j;
	int theirs;

	if (memchr(data, '\0', size))
		return;
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	theirs = json_is_object(j);
	json_decref(j);
	if (ours != theirs)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[128], msg[768];
	bar_kit_jdoc *d = NULL;
	ali_item *vsw = NULL;
	size_t n = 0;
	int ok, list;

	ali_errparse((const char *)data, size, 400, code, sizeof(code), msg, sizeof(msg));
	(void)ali_coderc(code, 400);
	ok = ali_parse_doc(&d, (const char *)data, size) == 0;
	same_verdict(data, size, ok);
	if (!ok)
		return 0;
	each(d, "Instances.Instance", vm);
	each(d, "Vpcs.Vpc", vnet);
	each(d, "VSwitches.VSwitch", vnet);
	each(d, "KeyPairs.KeyPair", ali_key_attrs);
	each(d, "Images.Image", ali_image_attrs);
	each(d, "InstanceTypes.InstanceType", ali_type_attrs);
	each(d, "Permissions.Permission", rule);
	list = ali_jlist(d, 0, "VSwitches.VSwitch");
	vsw = calloc(bar_kit_jlen(d, list) + 1, sizeof(*vsw));
	if (vsw) {
		for (int it = bar_kit_jfirst(d, list); it >= 0; it = bar_kit_jnext(d, list, it))
			vsw[n++] = (ali_item){d, it};
		json_decref(ali_vnet_attrs(d, bar_kit_jat(d, ali_jlist(d, 0, "Vpcs.Vpc"), 0), vsw, n));
		free(vsw);
	}
	json_decref(ali_sg_rules(d, 0));
	bar_kit_jfree(d);
	return 0;
}
