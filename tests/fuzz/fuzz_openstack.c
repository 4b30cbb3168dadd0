/*
 * fuzz_openstack.c - libFuzzer target: one body as every OpenStack service
 * might answer it, through each of the openstack driver's parsers
 * (providers/openstack/os_parse.c): the error parser, Keystone's token and
 * catalogue, a Nova server, Neutron tags and security-group rules, and a
 * key pair's public-key comment.  Seeds: tests/data/openstack.
 */
#include "os_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char code[128], msg[768], why[128], tag[300], *text = malloc(size + 1);
	json_t *j = json_loadb(body, size, 0, NULL), *v;
	os_catalog cat;
	os_server_obs o;
	const char *k;

	os_parse_error(body, size, 400, code, sizeof(code), msg, sizeof(msg));
	os_parse_token(&cat, body, size, "RegionOne", "public", why, sizeof(why));
	json_decref(os_parse_regions(body, size, "compute"));
	if (text) { /* the text parsers take NUL-terminated strings */
		memcpy(text, data, size);
		text[size] = '\0';
		os_parse_time(text);
		json_decref(os_pubkey_tags(text));
		os_tag_encode(tag, sizeof(tag), text, text);
		free(text);
	}
	if (j) {
		if (os_server_observe(&o, j) == 0)
			os_server_obs_clear(&o);
		json_decref(os_tags_decode(j));
		json_decref(os_rules_observe(j));
		json_object_foreach(j, k, v) { /* {"security_group": {...rules, tags}} */
			json_decref(os_rules_observe(json_object_get(v, "security_group_rules")));
			json_decref(os_tags_decode(json_object_get(v, "tags")));
		}
	}
	json_decref(j);
	return 0;
}
