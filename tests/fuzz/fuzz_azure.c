/*
 * fuzz_azure.c - libFuzzer target for the azure driver's parsers of what
 * ARM and the identity platform answer (providers/azure/az_parse.c): the
 * error and token answers, operation status, list pages, and the
 * observation of each resource type.  Seeds: tests/data/azure/responses/.
 */
#include "az.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	char code[128], msg[768], tok[4096], status[32], next[2048];
	long exp;
	json_t *j, *items = NULL;
	az_obs o;

	az_parse_error(b, size, 400, code, sizeof(code), msg, sizeof(msg));
	(void)az_code_rc(code, 400);
	az_parse_token(b, size, tok, sizeof(tok), &exp);
	az_parse_operation(b, size, status, sizeof(status), code, sizeof(code), msg, sizeof(msg));
	if (az_parse_page(b, size, &items, next, sizeof(next)) == 0)
		json_decref(items);
	j = json_loadb(b, size, 0, NULL);
	if (j) {
		if (az_obs_vnet(&o, j) == 0)
			az_obs_clear(&o);
		if (az_obs_nsg(&o, j) == 0)
			az_obs_clear(&o);
		if (az_obs_sshkey(&o, j) == 0)
			az_obs_clear(&o);
		if (az_obs_vm(&o, j, j, j, size & 1 ? "reboot" : NULL) == 0)
			az_obs_clear(&o);
		json_t *enc = az_tags_encode(json_object_get(j, "tags"), NULL);
		json_decref(enc);
		json_decref(j);
	}
	return 0;
}
