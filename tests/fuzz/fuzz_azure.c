/*
 * fuzz_azure.c - libFuzzer target for the azure driver's parsers of what
 * ARM and the identity platform answer (providers/azure/az_parse.c): the
 * error and token answers, operation status, list pages, and the
 * observation of each resource type, read in place in the kit's JSON
 * document as the plugin reads them.  The input is also tried as a list
 * page whose items are observed and joined by id the way a VM list joins
 * NICs and public IPs.  Seeds: tests/data/azure/responses/.
 */
#include "az.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every observation of r, with nic and pip for the VM. */
static void observe(az_jv r, az_jv nic, az_jv pip, const char *op)
{
	az_obs o;

	if (az_obs_vnet_doc(&o, r) == 0)
		az_obs_clear(&o);
	if (az_obs_nsg_doc(&o, r) == 0)
		az_obs_clear(&o);
	if (az_obs_sshkey_doc(&o, r) == 0)
		az_obs_clear(&o);
	if (az_obs_vm_doc(&o, r, nic, pip, op) == 0)
		az_obs_clear(&o);
}

/* The first item of `items` whose id is `id` (case aside), or none. */
static az_jv find(const bar_kit_jdoc *d, int items, const char *id)
{
	for (int v = bar_kit_jfirst(d, items); v >= 0; v = bar_kit_jnext(d, items, v))
		if (strcasecmp(bar_kit_jsv(d, bar_kit_jget(d, v, "id")), id) == 0)
			return (az_jv){d, v};
	return AZ_JV_NONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	char code[128], msg[768], tok[4096], status[32], next[2048];
	long exp;
	bar_kit_jdoc *d = NULL;
	int items;

	az_parse_error(b, size, 400, code, sizeof(code), msg, sizeof(msg));
	(void)az_code_rc(code, 400);
	az_parse_token(b, size, tok, sizeof(tok), &exp);
	az_parse_operation(b, size, status, sizeof(status), code, sizeof(code), msg, sizeof(msg));
	if (az_parse_page_doc(&d, &items, next, sizeof(next), b, size) == 0) {
		int n = 0;

		for (int v = bar_kit_jfirst(d, items); v >= 0 && n < 64;
		     v = bar_kit_jnext(d, items, v), n++) {
			az_jv r = {d, v}, nic = find(d, items, az_vm_nic_id(r));

			observe(r, nic, find(d, items, az_nic_pip_id(nic)), NULL);
		}
		bar_kit_jfree(d);
		d = NULL;
	}
	if (bar_kit_jparse(&d, b, size, NULL, 0) == 0) {
		az_jv r = {d, 0};
		/* the document as ARM tags: each name decoded, and encoded again */
		json_t *t = az_tags_decode_doc(r), *l = az_labels_of_doc(r);
		json_t *enc = az_tags_encode(t, l);

		/* the document as a VM that is its own NIC and public IP, and as
		 * one without them */
		observe(r, r, r, size & 1 ? "reboot" : NULL);
		observe(r, AZ_JV_NONE, AZ_JV_NONE, size & 2 ? "resume" : "suspend");
		(void)az_vm_nic_id(r);
		(void)az_nic_pip_id(r);
		json_decref(enc);
		json_decref(t);
		json_decref(l);
		bar_kit_jfree(d);
	}
	return 0;
}
