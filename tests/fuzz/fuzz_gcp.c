/*
 * fuzz_gcp.c - libFuzzer target of the gcp driver's response parsers
 * (providers/gcp/gcp_parse.c): error bodies, token answers, Instances,
 * descriptions.  Seeds: tests/data/gcp/responses.
 */
#include "gcp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[128], msg[768], tok[2048], *s;
	int exp = 0;
	json_t *tags = NULL, *a;
	bar_kit_jdoc *d = NULL;

	code[0] = msg[0] = 0;
	gcp_parse_error((const char *)data, size, 400, code, sizeof(code), msg, sizeof(msg));
	(void)gcp_code_rc(code, 400);
	(void)gcp_op_code_rc(code);
	(void)gcp_parse_token((const char *)data, size, tok, sizeof(tok), &exp);
	if (bar_kit_jparse(&d, (const char *)data, size, NULL, 0) == 0) {
		a = gcp_parse_instance(d, 0, &tags);
		(void)gcp_vm_status(bar_kit_jstr(d, bar_kit_jget(d, 0, "status")));
		json_decref(a);
		json_decref(tags);
		bar_kit_jfree(d);
	}
	s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = 0;
		json_decref(gcp_parse_description(s));
		gcp_label_value(msg, sizeof(msg), s);
		free(s);
	}
	return 0;
}
