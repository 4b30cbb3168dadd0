/*
 * gcp.h - what the gcp driver's files share: the per-connection session
 * (HTTP client, OAuth2 access token cache), the per-call context, the
 * Compute Engine request helper and the operation helpers, and the
 * response parsers of gcp_parse.c (a static library of their own, so the
 * fuzz target links them without the plugin).
 *
 * docs/driver-gcp.md says how Barista's resources map onto Compute Engine.
 */
#ifndef BAR_GCP_H
#define BAR_GCP_H

#include "barista_provider.h"
#include "kit.h"
#include "http.h"
#include "kit_json.h"

#include <jansson.h>
#include <pthread.h>

#define GCP_PLUGIN "gcp"
#define GCP_DEFAULT_ENDPOINT "https://compute.googleapis.com"
#define GCP_SCOPE "https://www.googleapis.com/auth/compute"
#define GCP_NAME_MAX 64

typedef struct gcp_session {
	bar_kit_http *http;
	char endpoint[512];   /* base URL, no trailing slash */
	char project[128];    /* config "project", or "" for the credential's */
	char token_uri[512];  /* config "tokenUri", or "" for the credential's */
	char zone[64];        /* config "zone", or "" */
	char ssh_user[64];    /* config "sshUser" */
	pthread_mutex_t mu;   /* guards the token below */
	char token[2048];
	int64_t token_until;  /* CLOCK_MONOTONIC ms after which to refresh */
	pthread_mutex_t meta_mu; /* serialises project-metadata writes (sshkey) */
	char zone_region[64];    /* under mu: the region whose first zone is */
	char zone_auto[64];      /* ... this one (gcp_zone) */
} gcp_session;

typedef struct gcp_ctx {
	const bar_host_api *host;
	bar_call *call;
	gcp_session *s;
	bar_kit_err *e;
	char project[128];
	char zone[64];
} gcp_ctx;

extern const bar_host_api *gcp_host;

/* ---- gcp.c ---- */

/*
 * One Compute Engine request: `path` is relative to /compute/v1/ (a
 * "projects/..." path; gcp_preq prefixes the call's project), `query` is
 * appended as is (already encoded) or NULL, `body` (borrowed) sent as JSON.
 * Returns BAR_OK with *out (a new reference; NULL allowed for out when the
 * answer does not matter) or a BAR_E* code with x->e filled.
 */
int gcp_req(gcp_ctx *x, const char *method, const char *path, const char *query, json_t *body,
            const char *operation, const char *resource, json_t **out);
int gcp_preq(gcp_ctx *x, const char *method, const char *rel, const char *query, json_t *body,
             const char *operation, const char *resource, json_t **out);
/* The same with the answer as a kit document (root 0, an object). */
int gcp_preq_doc(gcp_ctx *x, const char *method, const char *rel, const char *query,
                 json_t *body, const char *operation, const char *resource, bar_kit_jdoc **out);

/* Wait until the Operation `op` is DONE (operations.wait), then
 * fail with the operation's own error if it has one.  BAR_OK or a code. */
int gcp_op_wait(gcp_ctx *x, json_t *op, const char *what);

/* Make sure x->zone is set: the config's or the connection's zone, else
 * the alphabetically first zone of the call's region (regions.get, cached
 * in the session).  BAR_OK or a code. */
int gcp_zone(gcp_ctx *x);

/* The part of a selfLink after ".../projects/<project>/", or NULL. */
const char *gcp_rel(const char *self_link);

/* A resource name for `name` made with idempotency key `key`: lower-case
 * [a-z0-9-], starting with a letter, at most `max` characters, ending in
 * "-" and the key's first 8 hex digits. */
void gcp_name(char *out, size_t size, const char *name, const char *key, size_t max);

/* A UUID (a requestId) derived from key and a salt. */
void gcp_subkey(char out[37], const char *key, const char *salt);

/* 1 when s is a plain resource name ([a-z][-a-z0-9]*, at most 63). */
int gcp_valid_name(const char *s);

/* The call's idempotency key (or the input's barista:idempotency tag). */
const char *gcp_key(gcp_ctx *x, json_t *in);

/* Forget the call's recorded failure, when it turned out to be fine (an
 * alreadyExists that is our own resource, a 404 of something gone). */
void gcp_forgive(gcp_ctx *x);

/* Emit an observation; BAR_EFAIL (with the error) when the host refuses. */
int gcp_emit(gcp_ctx *x, bar_sink *out, const char *id, const char *name, const char *status,
             json_t *attrs, json_t *tags);

/*
 * The resource functions below each do one callback for one type, as
 * barista_provider.h says (create emits exactly one observation, also what
 * it made before failing; read/update/poll emit one; delete and list as
 * there).  `in` is the parsed input (borrowed), `id` its system_id.  They
 * return BAR_OK or a BAR_E* code with x->e filled (first failure wins);
 * the callback in gcp.c hands x->e to the host.
 */

/* ---- gcp_net.c ---- */
int gcp_vnet_create(gcp_ctx *x, json_t *in, bar_sink *out);
int gcp_vnet_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out);
int gcp_vnet_delete(gcp_ctx *x, const char *id);
int gcp_vnet_list(gcp_ctx *x, bar_sink *out);
int gcp_sg_create(gcp_ctx *x, json_t *in, bar_sink *out);
int gcp_sg_read(gcp_ctx *x, const char *id, bar_sink *out);
int gcp_sg_update(gcp_ctx *x, const char *id, json_t *in, bar_sink *out);
int gcp_sg_delete(gcp_ctx *x, const char *id);
int gcp_sg_list(gcp_ctx *x, bar_sink *out);

/* ---- gcp_key.c, gcp_lookup.c, gcp_vm.c ---- */
int gcp_key_create(gcp_ctx *x, json_t *in, bar_sink *out);
int gcp_key_read(gcp_ctx *x, const char *id, bar_sink *out);
int gcp_key_delete(gcp_ctx *x, const char *id);
int gcp_key_list(gcp_ctx *x, bar_sink *out);
int gcp_image_create(gcp_ctx *x, json_t *in, bar_sink *out);
int gcp_image_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out);
int gcp_spec_create(gcp_ctx *x, json_t *in, bar_sink *out);
int gcp_spec_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out);
int gcp_vm_create(gcp_ctx *x, json_t *in, bar_sink *out);
int gcp_vm_read(gcp_ctx *x, const char *id, bar_sink *out);
int gcp_vm_update(gcp_ctx *x, const char *id, json_t *in, bar_sink *out);
int gcp_vm_delete(gcp_ctx *x, const char *id);
int gcp_vm_list(gcp_ctx *x, bar_sink *out);
int gcp_vm_action(gcp_ctx *x, const char *action, const char *id, bar_sink *out);
int gcp_vm_poll(gcp_ctx *x, const char *id, json_t *in, bar_sink *out);

/* ---- gcp_check.c ---- */
int gcp_check(gcp_ctx *x);
int gcp_catalog(gcp_ctx *x, const char *what, bar_sink *out);

/* ---- gcp_parse.c (library bar_gcp_parse) ---- */

/* The string member k of o, or "" (borrowed from o). */
const char *gcp_str(json_t *o, const char *k);
/* The last path segment of a URL or path ("" for NULL; borrowed). */
const char *gcp_last(const char *s);

/* bar_kit_http_errparse for Compute Engine's and the OAuth2 endpoint's
 * error bodies. */
void gcp_parse_error(const char *body, size_t len, long status, char *code, size_t csize,
                     char *msg, size_t msize);
/* bar_kit_http_coderc: GCP reasons to the ABI's codes. */
int gcp_code_rc(const char *code, long status);
/* An Operation's error code ("ALREADY_EXISTS"...) to the ABI's codes. */
int gcp_op_code_rc(const char *code);
/* A token answer: 0 with tok[size] and *expires_s, -1 when malformed. */
int gcp_parse_token(const char *body, size_t len, char *tok, size_t size, int *expires_s);
/* An Instance's status to the ABI's VM status. */
const char *gcp_vm_status(const char *native);
/* The observed attrs of the Instance at node n of d (a new object) and its
 * Barista tags (from the metadata item barista-tags; a new object, {} when
 * none). */
json_t *gcp_parse_instance(const bar_kit_jdoc *d, int n, json_t **tags);
/* The value of an Instance's metadata item `key`, or NULL (borrowed). */
const char *gcp_meta_value(const bar_kit_jdoc *d, int n, const char *key);
/* Tags and region out of a description written by the driver (a JSON object
 * {"kind","region","tags",...}); NULL when it is not one. New reference. */
json_t *gcp_parse_description(const char *desc);
/* A Barista tag value as a GCP label value ([a-z0-9_-], at most 63). */
void gcp_label_value(char *out, size_t size, const char *v);

#endif

/* Every item of a list (paged with maxResults 500 and pageToken) into
 * *items (a new array); `rel` relative to the project, `filter` unencoded
 * or NULL.  For an aggregatedList (aggregated=1) the items of every scope
 * whose name is "zones/<zone of the call's region>". */
int gcp_list(gcp_ctx *x, const char *rel, const char *filter, const char *operation,
             int aggregated, const char *field, json_t **items);
/* The same, handing each item to each(x, page, item node, ctx) as its page
 * arrives, without building a jansson tree of the page (a refresh of
 * thousands of VMs); each returns BAR_OK to go on or an error to stop with. */
typedef int (*gcp_each_fn)(gcp_ctx *x, const bar_kit_jdoc *page, int item, void *ctx);
int gcp_list_each(gcp_ctx *x, const char *rel, const char *filter, const char *operation,
                  int aggregated, const char *field, gcp_each_fn each, void *ctx);
