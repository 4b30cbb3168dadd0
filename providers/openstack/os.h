/*
 * os.h - what the openstack driver's files share: the connection session
 * (Keystone token and service catalogue, HTTP client), the per-call context
 * and the request helper every resource file uses.
 *
 * openstack.c: the plugin table, session, Keystone, dispatch, check and
 * catalog; os_net.c: vnet and securitygroup (Neutron); os_compute.c: sshkey,
 * image, spec and vm (Nova, Glance); os_keygen.c: local Ed25519 key pairs.
 */
#ifndef BAR_OS_H
#define BAR_OS_H

#include "barista_provider.h"
#include "http.h"
#include "kit.h"
#include "os_parse.h"

#include <jansson.h>
#include <pthread.h>

#define OS_JSON (JSON_COMPACT | JSON_SORT_KEYS)
#define OS_POLL_MS 500 /* Nova's fake driver and real boots: poll every 0.5 s */

typedef struct os_session {
	pthread_mutex_t mu;    /* token, catalogue */
	bar_kit_http *http;
	char auth_url[OS_URL_MAX];
	char iface[32];
	char region[128];
	char *token;           /* X-Subject-Token, wiped when replaced */
	int64_t token_until;   /* monotonic ms after which it is refreshed */
	os_catalog cat;
	char *token_body;      /* the last token answer (catalogue for catalog()) */
} os_session;

typedef struct os_ctx {
	const bar_host_api *host;
	bar_call *call;
	os_session *s;
	int own;               /* s made for this call only (no open) */
	bar_kit_err e;
} os_ctx;

extern const bar_host_api *os_host;

/*
 * One request to a service: `path` is appended to the catalogue's URL for
 * `svc` (for OS_NETWORK the driver adds "/v2.0", for OS_IMAGE "/v2");
 * `body` (may be NULL) is sent as JSON.  On BAR_OK *out (may be NULL) is the
 * parsed answer (json null for an empty one), *status the HTTP status.  A
 * 401 makes it fetch a new token and try once more.  Errors go to x->e.
 */
int os_req(os_ctx *x, const char *method, int svc, const char *path, const json_t *body,
           const char *op, const char *resource, json_t **out, long *status);

/*
 * The same with the answer read in place by the kit's JSON reader, for big
 * answers (list pages) and Nova's servers: on BAR_OK *out (may be NULL) is
 * the document (root 0; free it with bar_kit_jfree), NULL for an empty
 * answer.  os_req is this with the document turned into jansson.
 */
int os_req_doc(os_ctx *x, const char *method, int svc, const char *path, const json_t *body,
               const char *op, const char *resource, bar_kit_jdoc **out, long *status);

/* Make sure the session has a valid token (fetching one if needed). */
int os_auth(os_ctx *x);

/* Emit one observation; BAR_EFAIL (recorded) when the host refuses it. */
int os_emit(os_ctx *x, bar_sink *sink, const char *id, const char *name, const char *status,
            const json_t *attrs, const json_t *tags);

/* The call's input tags as a JSON object (borrowed from in; never NULL
 * unless in has none, then a static empty object is returned). */
const json_t *os_in_tags(const json_t *in);

/* 1 when s is a UUID (8-4-4-4-12 hex). */
int os_is_uuid(const char *s);

/* Neutron helpers (os_net.c): PUT the input's tags on /<coll>/<id>/tags;
 * every item of a collection matching `query` ("a=b&c=d", encoded), all
 * pages, into *items (new array); the first whose `attr` is `value` into
 * *out (new reference or NULL); the first external network's id or "". */
int os_net_tags(os_ctx *x, const char *coll, const char *id, const json_t *tags,
                const char *op);
int os_net_list(os_ctx *x, const char *coll, const char *key, const char *query,
                const char *op, json_t **items);
int os_net_find(os_ctx *x, const char *coll, const char *key, const char *attr,
                const char *value, const char *op, json_t **out);
int os_net_external(os_ctx *x, char *out, size_t size);

/* Resource callbacks (type-specific), all: 0 or a BAR_E* code in x->e. */
int os_vnet_create(os_ctx *x, json_t *in, bar_sink *out);
int os_vnet_read(os_ctx *x, const char *id, bar_sink *out);
int os_vnet_delete(os_ctx *x, const char *id);
int os_vnet_list(os_ctx *x, bar_sink *out);
int os_sg_create(os_ctx *x, json_t *in, bar_sink *out);
int os_sg_read(os_ctx *x, const char *id, bar_sink *out);
int os_sg_update(os_ctx *x, json_t *in, bar_sink *out);
int os_sg_delete(os_ctx *x, const char *id);
int os_sg_list(os_ctx *x, bar_sink *out);
int os_key_create(os_ctx *x, json_t *in, bar_sink *out);
int os_key_read(os_ctx *x, const char *id, const char *name, bar_sink *out);
int os_key_delete(os_ctx *x, const char *id);
int os_key_list(os_ctx *x, bar_sink *out);
int os_image_create(os_ctx *x, json_t *in, bar_sink *out);
int os_image_read(os_ctx *x, json_t *in, bar_sink *out);
int os_spec_create(os_ctx *x, json_t *in, bar_sink *out);
int os_spec_read(os_ctx *x, json_t *in, bar_sink *out);
int os_vm_create(os_ctx *x, json_t *in, bar_sink *out);
int os_vm_read(os_ctx *x, const char *id, bar_sink *out, int poll);
int os_vm_update(os_ctx *x, json_t *in, bar_sink *out);
int os_vm_delete(os_ctx *x, json_t *in);
int os_vm_list(os_ctx *x, bar_sink *out);
int os_vm_action(os_ctx *x, const char *action, json_t *in, bar_sink *out);
int os_flavors(os_ctx *x, json_t **out);

/*
 * A new Ed25519 key pair: *pub "ssh-ed25519 AAAA..." and *priv the OpenSSH
 * private key file text, both malloc'd (wipe and free priv).  0 or -1.
 */
int os_keygen(char **pub, char **priv);

#endif
