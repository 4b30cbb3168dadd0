/*
 * az_parse_json.c - the azure parsers' entry points for jansson values
 * (az.h): each value is written out and read back with the kit's reader,
 * then handed to the one parser of az_parse.c, so a test holding documented
 * answers as jansson values checks the parser the plugin runs.  The plugin
 * does not use them (and a static library gives it only what it uses).
 */
#include "az.h"

#include <stdlib.h>
#include <string.h>

/* v as a document (root 0); NULL when v is NULL, not an object or array,
 * or memory ran out. */
static bar_kit_jdoc *doc_of(json_t *v)
{
	char *text = json_is_object(v) || json_is_array(v) ? json_dumps(v, JSON_COMPACT) : NULL;
	bar_kit_jdoc *d = NULL;

	if (text && bar_kit_jparse(&d, text, strlen(text), NULL, 0) < 0)
		d = NULL;
	free(text);
	return d;
}

int az_parse_page(const char *body, size_t len, json_t **items, char *next, size_t nsize)
{
	bar_kit_jdoc *d = NULL;
	int n;

	if (az_parse_page_doc(&d, &n, next, nsize, body, len) < 0)
		return -1;
	*items = bar_kit_jjson(d, n);
	bar_kit_jfree(d);
	return *items ? 0 : -1;
}

/* One of the az_obs_*_doc parsers on r. */
static int obs_one(az_obs *o, json_t *r, int (*parse)(az_obs *, az_jv))
{
	bar_kit_jdoc *d = doc_of(r);
	int rc = parse(o, az_root(d));

	bar_kit_jfree(d);
	return rc;
}

int az_obs_vnet(az_obs *o, json_t *r) { return obs_one(o, r, az_obs_vnet_doc); }

int az_obs_nsg(az_obs *o, json_t *r) { return obs_one(o, r, az_obs_nsg_doc); }

int az_obs_sshkey(az_obs *o, json_t *r) { return obs_one(o, r, az_obs_sshkey_doc); }

int az_obs_vm(az_obs *o, json_t *vm, json_t *nic, json_t *pip, const char *op)
{
	bar_kit_jdoc *dv = doc_of(vm), *dn = doc_of(nic), *dp = doc_of(pip);
	int rc = az_obs_vm_doc(o, az_root(dv), az_root(dn), az_root(dp), op);

	bar_kit_jfree(dv);
	bar_kit_jfree(dn);
	bar_kit_jfree(dp);
	return rc;
}

/* One of the tag parsers on ARM tags. */
static json_t *tags_one(json_t *arm_tags, json_t *(*parse)(az_jv))
{
	bar_kit_jdoc *d = doc_of(arm_tags);
	json_t *out = parse(az_root(d));

	bar_kit_jfree(d);
	return out;
}

json_t *az_tags_decode(json_t *arm_tags) { return tags_one(arm_tags, az_tags_decode_doc); }

json_t *az_labels_of(json_t *arm_tags) { return tags_one(arm_tags, az_labels_of_doc); }
