/*
 * ali_parse.h - reading the answers of Alibaba Cloud's ECS and VPC RPC APIs
 * (JSON, the shapes of the SDK's *ResponseBody models): the error body,
 * the mapping of the cloud's error codes and statuses to the ABI's, and the
 * observed attributes of each resource type built from one item of a
 * Describe* answer.  Pure functions of their input (no HTTP, no host), so
 * that tests/fuzz/fuzz_alibaba.c can feed them anything.
 *
 * Answers are read with the kit's one-pass JSON reader (kit_json.h): an
 * item is a node of its answer's document, read in place, so a page of a
 * hundred instances costs two allocations rather than a jansson tree.
 * Every builder returns new references (or NULL when the item is not what
 * it should be) and never trusts a member to exist or to have its type.
 */
#ifndef BAR_ALI_PARSE_H
#define BAR_ALI_PARSE_H

#include "kit_json.h"

#include <jansson.h>
#include <stddef.h>

/* The error body {RequestId, HostId, Code, Message, Recommend}: code and
 * message into code[csize] / msg[msize] (empty when absent); the signature
 * of bar_kit_http_errparse. */
void ali_errparse(const char *body, size_t len, long status, char *code, size_t csize,
                  char *msg, size_t msize);

/* The ABI code an error code means (Throttling* ERETRY, InvalidAccessKeyId*
 * / SignatureDoesNotMatch / Forbidden* EAUTH, *.NotFound ENOTFOUND,
 * IncorrectInstanceStatus / DependencyViolation* ECONFLICT, InvalidParameter*
 * / MissingParameter EINVALID ...), or 0 to use the HTTP status. */
int ali_coderc(const char *code, long status);

/*
 * An answer body read with the kit's JSON reader: 0 with *out (root 0, an
 * object; free with bar_kit_jfree), or -1 when body is NULL, not JSON, not
 * an object, or has an object with a key twice (refused, as jansson's
 * JSON_REJECT_DUPLICATES did: which of two values the cloud meant is not
 * ours to guess).
 */
int ali_parse_doc(bar_kit_jdoc **out, const char *body, size_t len);

/* The node at a dotted path ("Instances.Instance") below node n of d, or
 * -1. */
int ali_jpath(const bar_kit_jdoc *d, int n, const char *path);

/* The string at a path, or "" (borrowed from d). */
const char *ali_jstr(const bar_kit_jdoc *d, int n, const char *path);

/* The array at a path, or -1 (callers iterate it as empty). */
int ali_jlist(const bar_kit_jdoc *d, int n, const char *path);

/* One item of an answer (borrowed: the answer outlives it). */
typedef struct ali_item {
	const bar_kit_jdoc *d;
	int n;
} ali_item;

/*
 * Tags of the item at node n ({"Tag": [{"Key","Value"}...]} at `path`):
 * the "barista:" ones into a new object *tags, the others (except the
 * cloud's own "acs:" / "aliyun" keys) into *labels when labels is not
 * NULL.
 */
void ali_tags(const bar_kit_jdoc *d, int n, const char *path, json_t **tags, json_t **labels);

/* ABI status of a VM from Alibaba's status, given the operation that is
 * running ("run", "stop", "start", "reboot", or "" for none). */
const char *ali_vm_status(const char *native, const char *op);

/* 1 when an ABI VM status is final (Running, Suspended, Terminated,
 * Failed). */
int ali_vm_final(const char *status);

/* ABI status of a VPC, vSwitch or image from Alibaba's. */
const char *ali_res_status(const char *native);

/* Observed attrs of the instance at node n (DescribeInstances
 * Instances.Instance[i]), a new object or NULL when it is not an object;
 * with tags, its Barista tags too (a new object, as ali_tags). */
json_t *ali_vm_attrs(const bar_kit_jdoc *d, int n, json_t **tags);

/* Observed attrs of the VPC at node n with its vSwitches (nvsw
 * DescribeVSwitches items, those of other VPCs skipped). */
json_t *ali_vnet_attrs(const bar_kit_jdoc *d, int n, const ali_item *vsw, size_t nvsw);

/*
 * A security group's rules from DescribeSecurityGroupAttribute's
 * Permissions.Permission (the answer at node n): {"ingress": [...],
 * "egress": [...]}, each rule {"cidr","fromPort","protocol","toPort"}
 * sorted, accept rules with a CIDR only.
 */
json_t *ali_sg_rules(const bar_kit_jdoc *d, int n);

/* One rule (a member of the spec's ingress/egress) normalised to the same
 * form, or NULL when it is not a rule. */
json_t *ali_rule_norm(json_t *rule);

/* Sort an array of JSON values by their compact text (stable attrs). */
void ali_sort_json(json_t *arr);

/* Observed attrs of the key pair, image or instance type at node n. */
json_t *ali_key_attrs(const bar_kit_jdoc *d, int n);
json_t *ali_image_attrs(const bar_kit_jdoc *d, int n);
json_t *ali_type_attrs(const bar_kit_jdoc *d, int n);

#endif
