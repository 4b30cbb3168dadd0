/*
 * fuzz_aws.c - libFuzzer target for the aws driver's readers of EC2's
 * answers (providers/aws/aws_xml.c): the XML parser, the error reader, and
 * every converter from an answer's elements to the driver's JSON, applied
 * to every element of whatever parsed.  Seeds: tests/data/aws/responses/.
 */
#include "aws_xml.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static void visit(const aws_xml *x, int depth)
{
	/* an explicit bound: the parser limits depth, and this walks at most that */
	for (; x && depth < AWS_XML_MAX_DEPTH + 1; x = x->next) {
		json_t *j[7] = {aws_vm_attrs(x), aws_key_attrs(x), aws_image_attrs(x),
		                aws_spec_attrs(x), aws_rules(x), aws_tags_barista(x), aws_tags_labels(x)};
		for (int i = 0; i < 7; i++)
			json_decref(j[i]);
		(void)aws_tag(x, "Name");
		(void)aws_vm_status(aws_xml_text(aws_xml_get(x, "instanceState"), "name"), depth & 1);
		(void)aws_xml_path(x, "instancesSet/item/placement");
		visit(x->child, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[128], msg[768], why[128];
	aws_xml *root = NULL;

	aws_xml_error((const char *)data, size, code, sizeof(code), msg, sizeof(msg));
	if (aws_xml_parse(&root, (const char *)data, size, why, sizeof(why)) == 0) {
		visit(root, 0);
		aws_xml_free(root);
	}
	return 0;
}
