/*
 * test_aws_parse.c - the aws driver's readers of EC2's answers
 * (providers/aws/aws_xml.c) on AWS's documented examples
 * (tests/data/aws/responses/) and on malformed text.
 *
 *     test_aws_parse DIR
 */
#include "aws_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed;

static char *slurp(const char *dir, const char *name, size_t *n)
{
	char path[1024];
	FILE *f;
	char *buf;
	long len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*n = (size_t)len;
	return buf;
}

static void expect(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	failed += !ok;
}

static aws_xml *load(const char *dir, const char *name)
{
	size_t n = 0;
	char *text = slurp(dir, name, &n), why[128] = "";
	aws_xml *root = NULL;

	if (!text || aws_xml_parse(&root, text, n, why, sizeof(why)) < 0) {
		printf("not ok - %s: %s\n", name, text ? why : "missing");
		failed++;
		root = NULL;
	}
	free(text);
	return root;
}

static int has(json_t *o, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v && strcmp(v, want) == 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	aws_xml *root;
	char code[128], msg[768], why[128];
	size_t n;

	if ((root = load(dir, "describe-instances.xml"))) {
		const aws_xml *i = aws_xml_path(root, "reservationSet/item/instancesSet/item");
		json_t *a = aws_vm_attrs(i);
		expect(i && aws_xml_text(i, "instanceId") &&
		       strncmp(aws_xml_text(i, "instanceId"), "i-", 2) == 0,
		       "describe-instances: the instance and its id");
		expect(has(a, "nativeStatus", aws_xml_text(aws_xml_get(i, "instanceState"), "name")),
		       "describe-instances: nativeStatus is instanceState/name");
		expect(json_string_value(json_object_get(a, "zone"))[0] != '\0',
		       "describe-instances: the zone from placement");
		expect(strcmp(aws_vm_status("running", 0), "Running") == 0 &&
		       strcmp(aws_vm_status("pending", 1), "Resuming") == 0 &&
		       strcmp(aws_vm_status("shutting-down", 0), "Terminating") == 0 &&
		       strcmp(aws_vm_status("weird", 0), "Undefined") == 0,
		       "instance states map to the ABI's");
		json_decref(a);
		aws_xml_free(root);
	}
	if ((root = load(dir, "describe-security-groups.xml"))) {
		const aws_xml *g = aws_xml_path(root, "securityGroupInfo/item");
		json_t *r = aws_rules(aws_xml_get(g, "ipPermissions"));
		expect(g && json_is_array(r), "describe-security-groups: the rules are a list");
		/* the example allows tcp 22 from 0.0.0.0/0 (one rule per CIDR) */
		expect(json_array_size(r) >= 1 &&
		       has(json_array_get(r, 0), "protocol", "tcp"), "describe-security-groups: tcp rule");
		json_decref(r);
		aws_xml_free(root);
	}
	if ((root = load(dir, "describe-key-pairs.xml"))) {
		json_t *a = aws_key_attrs(aws_xml_path(root, "keySet/item"));
		expect(json_string_value(json_object_get(a, "keyName"))[0] != '\0' &&
		       json_string_value(json_object_get(a, "fingerprint"))[0] != '\0',
		       "describe-key-pairs: name and fingerprint");
		json_decref(a);
		aws_xml_free(root);
	}
	static const char *const others[] = {"create-key-pair.xml", "create-subnet.xml",
	                                     "create-vpc.xml", "describe-availability-zones.xml",
	                                     "describe-internet-gateways.xml", "describe-regions.xml",
	                                     "describe-route-tables.xml", "describe-subnets.xml",
	                                     "describe-vpcs.xml", "import-key-pair.xml",
	                                     "run-instances.xml", "stop-instances.xml", NULL};
	for (int k = 0; others[k]; k++)
		if ((root = load(dir, others[k]))) {
			expect(root->child != NULL, others[k]);
			aws_xml_free(root);
		}
	{
		char *text = slurp(dir, "error-describe-instances.xml", &n);
		aws_xml_error(text ? text : "", text ? n : 0, code, sizeof(code), msg, sizeof(msg));
		expect(strcmp(code, "InvalidInstanceID.Malformed") == 0 &&
		       strstr(msg, "foobar") != NULL, "the error answer's Code and Message");
		free(text);
	}
	/* entities, CDATA, namespaces, self-closing elements */
	{
		const char *t = "<?xml version=\"1.0\"?><a:R xmlns:a=\"x\"><v>1 &amp; &lt;2&gt; &#65;&#x42;"
		                "</v><c><![CDATA[<raw>&amp;]]></c><e/></a:R>";
		expect(aws_xml_parse(&root, t, strlen(t), why, sizeof(why)) == 0 &&
		       strcmp(root->name, "R") == 0 && strcmp(aws_xml_text(root, "v"), "1 & <2> AB") == 0 &&
		       strcmp(aws_xml_text(root, "c"), "<raw>&amp;") == 0 && aws_xml_get(root, "e"),
		       "entities, CDATA, prefixes, empty elements");
		aws_xml_free(root);
	}
	/* malformed: each must be refused, none may crash */
	static const char *const bad[] = {"", "<a>", "<a></b>", "</a>", "<a><b></a></b>", "<a/><b/>",
	                                  "text", "<a", "<!-- x", NULL};
	for (int k = 0; bad[k]; k++) {
		root = NULL;
		int rc = aws_xml_parse(&root, bad[k], strlen(bad[k]), why, sizeof(why));
		printf("%s - malformed %d refused (%s)\n", rc < 0 ? "ok" : "not ok", k, why);
		failed += rc == 0;
		if (rc == 0)
			aws_xml_free(root);
	}
	{
		/* deeper than the limit */
		char deep[4 * (AWS_XML_MAX_DEPTH + 2) + 8] = "";
		for (int k = 0; k < AWS_XML_MAX_DEPTH + 1; k++)
			strcat(deep, "<a>");
		expect(aws_xml_parse(&root, deep, strlen(deep), why, sizeof(why)) < 0 &&
		       strstr(why, "deep"), "nesting beyond the limit is refused");
	}
	printf("%d failed\n", failed);
	return failed ? 1 : 0;
}
