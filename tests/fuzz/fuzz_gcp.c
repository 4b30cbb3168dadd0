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
	json_t *j, *tags = NULL, *a;

	code[0] = msg[0] = 0;
	gcp_parse_error((const char *)data, size, 400, code, sizeof(code), msg, sizeof(msg));
	(void)gcp_code_rc(code, 400);
	(void)gcp_op_code_rc(code);
	(void)gcp_parse_token((const char *)data, size, tok, sizeof(tok), &exp);
	j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		a = gcp_parse_instance(j, &tags);
		(void)gcp_vm_status(json_string_value(json_object_get(j, "status")));
		json_decref(a);
		json_decref(tags);
		json_decref(j);
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
