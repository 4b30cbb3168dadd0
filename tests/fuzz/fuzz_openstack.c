/*
 * fuzz_openstack.c - libFuzzer target: one body as every OpenStack service
 * might answer it, through each of the openstack driver's parsers
 * (providers/openstack/os_parse.c): the error parser, Keystone's token and
 * catalogue, a Nova server (read in place from the kit's document as a
 * show answer and as each item of a list page, and through the jansson
 * entry point, which must agree), Neutron tags and security-group rules,
 * and a key pair's public-key comment.  A server's attrs and tags must be
 * the text jansson prints with JSON_SORT_KEYS (the parser writes them
 * itself).  Seeds: tests/data/openstack.
 */
#include "os_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* t is compact JSON with sorted keys: what json_dumps prints of it again. */
static void canonical(const char *t)
{
	json_t *j = json_loads(t, 0, NULL);
	char *again = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (!again || strcmp(again, t) != 0)
		abort();
	free(again);
	json_decref(j);
}

/* Observe the server at node n of d; when j is that answer as jansson's
 * tree, the jansson entry point must see the same. */
static void server(const bar_kit_jdoc *d, int n, const json_t *j)
{
	os_server_obs o, oj;
	int rc = os_server_observe_doc(&o, d, n);

	if (rc == 0) {
		canonical(o.attrs);
		canonical(o.tags);
	}
	if (j) {
		if (os_server_observe(&oj, j) != rc)
			abort();
		if (rc == 0 && (strcmp(o.id, oj.id) || strcmp(o.name, oj.name) ||
		                strcmp(o.status, oj.status) || strcmp(o.attrs, oj.attrs) ||
		                strcmp(o.tags, oj.tags)))
			abort();
		os_server_obs_clear(&oj);
	}
	os_server_obs_clear(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char code[128], msg[768], why[128], tag[300], *text = malloc(size + 1);
	json_t *j = json_loadb(body, size, 0, NULL), *v;
	bar_kit_jdoc *d = NULL;
	os_catalog cat;
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
	if (bar_kit_jparse(&d, body, size, NULL, 0) == 0) {
		int list = bar_kit_jget(d, 0, "servers"), s;
		json_t *items = json_object_get(j, "servers");
		size_t i = 0;

		server(d, os_server_node(d, 0), j); /* a show answer */
		for (s = os_jelems(d, list); s >= 0; s = bar_kit_jnext(d, list, s), i++)
			server(d, os_server_node(d, s), json_array_get(items, i)); /* a list page */
		bar_kit_jfree(d);
	}
	if (j) {
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
