/*
 * os_parse.h - the openstack driver's parsers of what the services answer:
 * error bodies of Nova, Neutron, Keystone and Glance, Keystone's token
 * (expiry and service catalogue), and the translation of Nova servers,
 * Neutron tags and security-group rules into Barista's observed attributes.
 *
 * They see only response text or jansson values and never a credential, so
 * that a fuzz target (tests/fuzz/fuzz_openstack.c) can drive them alone;
 * they live in the static library bar_os_parse.
 */
#ifndef BAR_OS_PARSE_H
#define BAR_OS_PARSE_H

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

/* What a Nova server body ({"server": {...}} or the bare object) says: its
 * Barista status, compact sorted attrs text (malloc'd) and tags (malloc'd:
 * metadata other than "label:*").  Returns 0, -1 when it is not a server. */
typedef struct os_server_obs {
	char id[64];
	char name[256];
	const char *status;
	char *attrs;
	char *tags;
} os_server_obs;
int os_server_observe(os_server_obs *out, const json_t *server);
void os_server_obs_clear(os_server_obs *o);

/* A security group's Neutron rules as Barista's {"egress": [...], "ingress":
 * [...]} (each {"cidr","fromPort","protocol","toPort"}, sorted), new
 * reference; rules Barista cannot express (remote groups) are left out. */
json_t *os_rules_observe(const json_t *rules);

/* The tags of an OpenSSH public key's comment ("... k=v,k=v"): new object. */
json_t *os_pubkey_tags(const char *public_key);

#endif
