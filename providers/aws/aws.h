/*
 * aws.h - what the aws driver's source files share: the per-connection
 * session, one call's context, the EC2 Query request (form parameters,
 * SigV4, the kit's HTTP client, the XML answer), and the per-type handlers
 * (aws_net.c, aws_sg.c, aws_vm.c, aws_lookup.c, aws_check.c).
 */
#ifndef BAR_AWS_H
#define BAR_AWS_H

#include "aws_xml.h"
#include "barista_provider.h"
#include "http.h"
#include "kit.h"

#include <jansson.h>
#include <pthread.h>

#define AWS_VERSION "0.1.0"
#define AWS_API_VERSION "2016-11-15"
#define AWS_JSON (JSON_COMPACT | JSON_SORT_KEYS)
#define AWS_PAGE 1000     /* the largest MaxResults of DescribeInstances & co */
#define AWS_POLL_MS 1000  /* how often the host polls a pending instance */
#define AWS_RETRIES 4     /* attempts of a throttled request before BAR_ERETRY */

typedef struct aws_priv {
	const bar_host_api *host;
} aws_priv;

/* One connection: its HTTP client and where EC2 is.  Read-only after open,
 * so calls share it without a lock; the HTTP client is itself thread-safe. */
typedef struct aws_sess {
	bar_kit_http *http;
	char url[512];       /* endpoint + "/" */
	char authority[256]; /* host[:port] as sent and signed */
	char path[256];      /* the URL's path, signed as the canonical URI */
} aws_sess;

/* One callback's context. */
typedef struct aws_x {
	const bar_host_api *host;
	bar_call *call;
	aws_sess *sess;
	aws_sess own;        /* when the host gave no session (open not called) */
	bar_kit_err err;
	json_t *in;          /* the parsed input, or NULL */
	const char *type;
} aws_x;

/* ---- aws.c ---- */

/* Start a callback: the session (call->session, or one made now), the
 * input parsed when given (need_id: a system_id is required).  Returns
 * BAR_OK or an error already in x->err. */
int aws_begin(aws_x *x, bar_provider *p, bar_call *call, const char *type, const char *input,
              int need_id);
/* End it: report x->err for rc, release what aws_begin made. */
int aws_end(aws_x *x, int rc);

/* Form parameters of one request: "&Name=value" pairs. */
typedef struct aws_q {
	bar_kit_buf b;
	int n_filters;
} aws_q;
void aws_q_add(aws_q *q, const char *name, const char *value);
void aws_q_addf(aws_q *q, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void aws_q_int(aws_q *q, const char *name, long v);
/* Filter.N.Name=name, Filter.N.Value.M=each of the NULL-terminated values. */
void aws_q_filter(aws_q *q, const char *name, const char *const *values);
void aws_q_filter1(aws_q *q, const char *name, const char *value);
/* TagSpecification.1 for rtype with the input's tags, Name=name, and the
 * extra object's pairs (labels; may be NULL). */
void aws_q_tagspec(aws_q *q, const char *rtype, json_t *tags, const char *name, json_t *extra);
void aws_q_free(aws_q *q);

/*
 * Send one EC2 action with q's parameters (q may be NULL), signed for the
 * call's region.  Returns BAR_OK with *out the answer's root (free with
 * aws_xml_free), or the error code with x->err set (the cloud's code and
 * message).  `resource` names the cloud id for the call log (may be NULL).
 * When code_out is given, the cloud's error code is copied there too.
 */
int aws_ec2(aws_x *x, const char *action, aws_q *q, const char *resource, aws_xml **out,
            char *code_out, size_t code_size);

/* Like aws_ec2 but a failure whose code is `tolerated` is returned as
 * BAR_ENOTFOUND-free success with *out NULL and x->err untouched; returns
 * 1 in that case. */
int aws_ec2_maybe(aws_x *x, const char *action, aws_q *q, const char *resource,
                  aws_xml **out, const char *tolerated);

/*
 * Every page of a describe action: base's parameters plus MaxResults (max,
 * 0: none) and NextToken, calling each(x, root, ctx) per answer until there
 * is no nextToken.  Returns BAR_OK or the first error (each's included).
 */
typedef int (*aws_page_fn)(aws_x *x, const aws_xml *root, void *ctx);
int aws_ec2_pages(aws_x *x, const char *action, const aws_q *base, int max, aws_page_fn each,
                  void *ctx);

/* 1 when id starts with prefix (an id of another type is ENOTFOUND at once). */
int aws_id_is(const char *id, const char *prefix);
/* Report ENOTFOUND for the input's id. */
int aws_notfound(aws_x *x, const char *what);

/* Emit one observation; attrs is consumed. */
int aws_emit(aws_x *x, bar_sink *out, const char *id, const char *name, const char *status,
             json_t *attrs, json_t *tags);

/* The input's attrs / tags / refs members (borrowed; never NULL objects). */
json_t *aws_attrs(aws_x *x);
json_t *aws_in_tags(aws_x *x);
const char *aws_name(aws_x *x);
const char *aws_id(aws_x *x);
/* A JSON object with the input's tags (a new reference). */
json_t *aws_tags_copy(aws_x *x);
/* The unique cloud name of a made resource: name, or name + "-" + the first
 * 8 characters of the idempotency key (names EC2 wants unique per VPC or
 * region, so that a new generation does not collide with the old). */
void aws_unique_name(aws_x *x, char *out, size_t size);

/*
 * ---- per type ----
 * The callbacks' bodies, called by aws.c after aws_begin with x->in parsed
 * (read/update/delete/poll: with a system_id).  Each returns BAR_OK or the
 * code of x->err, which it set; create/read/update/poll/action emit exactly
 * one observation on success (a create that made something and then failed
 * emits it too), delete none, list one per resource tagged
 * barista:address.  An id of another type's shape is BAR_ENOTFOUND without
 * a request.  aws_vm_read's op is the operation token being polled (NULL
 * for a read).
 */
int aws_vnet_create(aws_x *x, bar_sink *out);
int aws_vnet_read(aws_x *x, bar_sink *out);
int aws_vnet_delete(aws_x *x);
int aws_vnet_list(aws_x *x, bar_sink *out);

int aws_sg_create(aws_x *x, bar_sink *out);
int aws_sg_read(aws_x *x, bar_sink *out);
int aws_sg_update(aws_x *x, bar_sink *out);
int aws_sg_delete(aws_x *x);
int aws_sg_list(aws_x *x, bar_sink *out);

int aws_key_create(aws_x *x, bar_sink *out);
int aws_key_read(aws_x *x, bar_sink *out);
int aws_key_delete(aws_x *x);
int aws_key_list(aws_x *x, bar_sink *out);

int aws_image_create(aws_x *x, bar_sink *out);
int aws_image_read(aws_x *x, bar_sink *out);
int aws_spec_create(aws_x *x, bar_sink *out);
int aws_spec_read(aws_x *x, bar_sink *out);

int aws_vm_create(aws_x *x, bar_sink *out);
int aws_vm_read(aws_x *x, bar_sink *out, const char *op);
int aws_vm_update(aws_x *x, bar_sink *out);
int aws_vm_delete(aws_x *x);
int aws_vm_list(aws_x *x, bar_sink *out);
int aws_vm_action(aws_x *x, const char *action, bar_sink *out);

/* The catalogue's images: name -> OWNER/NAME-PATTERN (aws_lookup.c). */
typedef struct aws_cat_image {
	const char *name, *pattern, *os, *version;
} aws_cat_image;
extern const aws_cat_image aws_catalogue_images[]; /* ends with a NULL name */
/* The newest available image OWNER/NAME-PATTERN names: *best inside *root
 * (free it), or an error. */
int aws_image_newest(aws_x *x, const char *want, aws_xml **root, const aws_xml **best);

int aws_check(aws_x *x);
int aws_catalog(aws_x *x, const char *what, bar_sink *out);

#endif
