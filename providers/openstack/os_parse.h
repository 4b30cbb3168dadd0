/*
 * os_parse.h - the openstack driver's parsers of what the services answer:
 * error bodies of Nova, Neutron, Keystone and Glance, Keystone's token
 * (expiry and service catalogue), and the translation of Nova servers,
 * Neutron tags and security-group rules into Barista's observed attributes.
 *
 * They see only response text, the provider kit's read-only documents
 * (kit_json.h: big answers such as a page of a thousand servers are read in
 * place, without a jansson tree) or jansson values, and never a credential,
 * so that a fuzz target (tests/fuzz/fuzz_openstack.c) can drive them alone;
 * they live in the static library bar_os_parse.
 */
#ifndef BAR_OS_PARSE_H
#define BAR_OS_PARSE_H

#include "kit_json.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define OS_URL_MAX 512

/* The services the driver calls. */
enum { OS_COMPUTE = 0, OS_NETWORK = 1, OS_IMAGE = 2, OS_NSVC = 3 };
extern const char *const os_service_types[OS_NSVC]; /* "compute", "network", "image" */

/*
 * An error answer of any of the four services into code[csize] (Nova's
 * top-level key "itemNotFound", Neutron's NeutronError.type, Keystone's
 * error.title, or "" for Glance's text answers) and msg[msize].  Matches
 * bar_kit_http_errparse.
 */
void os_parse_error(const char *body, size_t len, long status, char *code, size_t csize,
                    char *msg, size_t msize);

/* The endpoints of one region and interface from a token's catalogue. */
typedef struct os_catalog {
	char url[OS_NSVC][OS_URL_MAX]; /* "" where the catalogue has none */
	char project_id[128];
	int64_t expires_unix;          /* token.expires_at in seconds since 1970 */
} os_catalog;

/*
 * Parse a Keystone v3 token body ({"token": {...}}) for `region` and
 * `iface` ("public").  Returns 0, or -1 with why[size] when the body is not
 * a token or has no expires_at (a missing endpoint is not an error here:
 * its url stays "").
 */
int os_parse_token(os_catalog *out, const char *body, size_t len, const char *region,
                   const char *iface, char *why, size_t size);

/*
 * The regions the catalogue lists for a service type, as a new JSON array
 * of distinct names (empty when none), or NULL when the body is not a token.
 */
json_t *os_parse_regions(const char *body, size_t len, const char *type);

/* Parse "2026-12-02T04:10:00.000000Z" (or without fraction, or "+00:00")
 * into seconds since 1970; -1 when malformed. */
int64_t os_parse_time(const char *s);

/* Reading a document as jansson's tree was read: the first element of n
 * when n is an array (an object is none: json_array_foreach's view), else
 * -1, bar_kit_jnext going on; the string member key of object n, or NULL. */
int os_jelems(const bar_kit_jdoc *d, int n);
const char *os_jstr(const bar_kit_jdoc *d, int n, const char *key);

/* ---- tags ---- */

/* Neutron tag strings carry "key=value" with '%' and ',' percent-encoded
 * (',' separates tags in Neutron's filters).  Into out[size]; -1 when the
 * result is longer than Neutron's 255 characters or out. */
int os_tag_encode(char *out, size_t size, const char *key, const char *value);

/* A Neutron "tags" array into a new JSON object {key: value}; strings without
 * '=' are not Barista's and are skipped.  Never NULL. */
json_t *os_tags_decode(const json_t *tags);

/* ---- observations ---- */

/* Barista's status of a Nova server from status and OS-EXT-STS:task_state. */
const char *os_server_status(const char *status, const char *task);

/* What a Nova server says: its Barista status, compact sorted attrs text
 * (malloc'd) and tags (malloc'd: metadata other than "label:*"). */
typedef struct os_server_obs {
	char id[64];
	char name[256];
	const char *status;
	char *attrs;
	char *tags;
} os_server_obs;

/* The server of a Nova answer at node n of d: n's member "server" when it
 * has one ({"server": {...}}), else n itself (a list's item). */
int os_server_node(const bar_kit_jdoc *d, int n);

/*
 * Observe the Nova server object at node n of d (the one parser of servers:
 * show, poll, list pages, create, actions, update).  Duplicate keys read
 * as jansson reads them.  Returns 0 with *out (clear it with
 * os_server_obs_clear), or -1 with *out empty when n is not a server (no id
 * or status), when "status/task_state" cut to 127 bytes splits a character
 * (jansson refused that text), or when memory ran out.
 */
int os_server_observe_doc(os_server_obs *out, const bar_kit_jdoc *d, int n);

/* The same for a jansson value ({"server": {...}} or the bare object), for
 * a caller that holds one: it is read through os_server_observe_doc. */
int os_server_observe(os_server_obs *out, const json_t *server);
/* Free what an observation holds (it is left empty). */
void os_server_obs_clear(os_server_obs *o);

/* A security group's Neutron rules as Barista's {"egress": [...], "ingress":
 * [...]} (each {"cidr","fromPort","protocol","toPort"}, sorted), new
 * reference; rules Barista cannot express (remote groups) are left out. */
json_t *os_rules_observe(const json_t *rules);

/* The tags of an OpenSSH public key's comment ("... k=v,k=v"): new object. */
json_t *os_pubkey_tags(const char *public_key);

#endif
