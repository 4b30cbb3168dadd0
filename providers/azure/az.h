/*
 * az.h - the azure driver's internals: the response parsers (az_parse.c,
 * a static library of their own so that fuzz_azure links them), the token
 * request and cache (az_auth.c) and what the plugin (azure.c) shares
 * between its files.
 *
 * Answers are read with the kit's JSON reader (kit_json.h): a list page of
 * a thousand VMs is one document, read in place, and each resource parser
 * takes a node of it.  jansson builds only what goes out (request bodies,
 * the attrs and tags handed to the host).
 *
 * Everything here sees only the ABI header and the provider kit.
 */
#ifndef BAR_AZ_H
#define BAR_AZ_H

#include "http.h"
#include "kit.h"
#include "kit_json.h"

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* api-versions, taken from the SDK packages the double validates against
 * (tests/doubles/azure/README.md): @azure/arm-compute 22.4.0,
 * @azure/arm-network 33.5.0, @azure/arm-resources 5.2.0,
 * @azure/arm-resources-subscriptions 2.1.0, @azure/arm-authorization 9.0.0. */
#define AZ_API_COMPUTE "2024-11-01"
#define AZ_API_NETWORK "2024-05-01"
#define AZ_API_RESOURCES "2021-04-01"
#define AZ_API_SUBSCRIPTIONS "2022-12-01"
#define AZ_API_AUTHORIZATION "2022-04-01"

#define AZ_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* ---- parsers (az_parse.c): outside input, fuzzed ---- */

/*
 * bar_kit_http_errparse for ARM ({"error":{"code","message"}}) and the
 * identity platform ({"error":"invalid_client","error_description"}).
 */
void az_parse_error(const char *body, size_t len, long status, char *code, size_t csize,
                    char *msg, size_t msize);

/* The ABI code of an ARM error code (0: let the HTTP status say). */
int az_code_rc(const char *code, long status);

/*
 * A token endpoint answer: the access token into tok[size] and its
 * lifetime in seconds into *expires_in.  Returns 0, or -1 when the body is
 * not a token answer (tok is wiped then).
 */
int az_parse_token(const char *body, size_t len, char *tok, size_t size, long *expires_in);

/*
 * An Azure-AsyncOperation answer: status ("InProgress", "Succeeded",
 * "Failed", "Canceled") into status[ssize], and for a failure the error's
 * code and message.  Returns 0, or -1 when the body says no status.
 */
int az_parse_operation(const char *body, size_t len, char *status, size_t ssize, char *code,
                       size_t csize, char *msg, size_t msize);

/* A node of a parsed answer: its document and its index there
 * (kit_json.h).  AZ_JV_NONE, a resource that is not there, is accepted
 * wherever one is. */
typedef struct az_jv {
	const bar_kit_jdoc *d;
	int n;
} az_jv;

#define AZ_JV_NONE ((az_jv){NULL, -1})

/* The root of document d, or AZ_JV_NONE when d is NULL. */
static inline az_jv az_root(const bar_kit_jdoc *d) { return d ? (az_jv){d, 0} : AZ_JV_NONE; }

/*
 * A list page parsed: *out the document (free with bar_kit_jfree), *items
 * the node of its array of resources ("value", or the page itself: image
 * versions come bare), and the nextLink into next[nsize] ("" when it is the
 * last page or does not fit).  Returns 0, or -1 when the body is not a list
 * page (*out untouched).
 */
int az_parse_page_doc(bar_kit_jdoc **out, int *items, char *next, size_t nsize,
                      const char *body, size_t len);

/* What a resource looks like to the host. */
typedef struct az_obs {
	char system_id[1024];
	char name[256];
	char status[24];
	char *attrs; /* malloc'd compact sorted JSON */
	char *tags;  /* malloc'd */
} az_obs;

void az_obs_clear(az_obs *o);

/* Tags as the host gave them, from ARM's tags object (names decoded, see
 * az_tags_encode; labels, "barista-label:" names, left out), and a VM's
 * labels from its ARM tags.  New references ({} when there are none). */
json_t *az_tags_decode_doc(az_jv arm_tags);
json_t *az_labels_of_doc(az_jv arm_tags);
/* The ARM tags of the host's tags plus labels. New reference or NULL. */
json_t *az_tags_encode(json_t *tags, json_t *labels);

/* ARM's provisioningState of a non-VM resource to the ABI's status. */
const char *az_status_of(const char *provisioning);

/*
 * Observations of an ARM resource: a virtual network, a network security
 * group, an SSH public key.  *o is the caller's (az_obs_clear).  Return 0,
 * or -1 when r is not an object with an id and a name (*o cleared then).
 */
int az_obs_vnet_doc(az_obs *o, az_jv r);
int az_obs_nsg_doc(az_obs *o, az_jv r);
int az_obs_sshkey_doc(az_obs *o, az_jv r);

/*
 * A VM: its resource (with instanceView when the GET asked for it), its
 * NIC and public IP (either may be AZ_JV_NONE).  `op` is the kind of
 * operation in flight ("reboot", "suspend", ...; NULL none), which says a
 * status the power state cannot.  Returns as az_obs_vnet_doc.
 */
int az_obs_vm_doc(az_obs *o, az_jv vm, az_jv nic, az_jv pip, const char *op);

/* The id of a VM's primary NIC, and of a NIC's public IP, as the resource
 * says them ("" when it says none; borrowed from its document). */
const char *az_vm_nic_id(az_jv vm);
const char *az_nic_pip_id(az_jv nic);

/*
 * The same parsers for jansson values (az_parse_json.c), which pass each
 * value through the reader to the parser above: for tests that hold
 * documented answers as jansson values.  The plugin does not use them.
 * az_parse_page's *items, az_tags_decode's and az_labels_of's answers are
 * new references.
 */
int az_parse_page(const char *body, size_t len, json_t **items, char *next, size_t nsize);
int az_obs_vnet(az_obs *o, json_t *r);
int az_obs_nsg(az_obs *o, json_t *r);
int az_obs_sshkey(az_obs *o, json_t *r);
int az_obs_vm(az_obs *o, json_t *vm, json_t *nic, json_t *pip, const char *op);
json_t *az_tags_decode(json_t *arm_tags);
json_t *az_labels_of(json_t *arm_tags);

/* ---- tokens (az_auth.c) ---- */

/*
 * The form body of a client-credentials token request (Microsoft identity
 * platform, OAuth 2.0 client credentials grant, shared secret), each value
 * percent-encoded: client_id, scope, client_secret, grant_type.  Returns a
 * malloc'd string (the caller wipes and frees it) or NULL.
 */
char *az_token_form(const char *client_id, const char *client_secret, const char *scope);

/* A cached token; refreshed under `mu` a minute before it expires. */
typedef struct az_token {
	pthread_mutex_t mu;
	char value[8192];
	int64_t expires_ms; /* CLOCK_MONOTONIC */
} az_token;

#endif
