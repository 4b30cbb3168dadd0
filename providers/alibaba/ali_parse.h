/*
 * ali_parse.h - reading the answers of Alibaba Cloud's ECS and VPC RPC APIs
 * (JSON, the shapes of the SDK's *ResponseBody models): the error body,
 * the mapping of the cloud's error codes and statuses to the ABI's, and the
 * observed attributes of each resource type built from one item of a
 * Describe* answer.  Pure functions of their input (no HTTP, no host), so
 * that tests/fuzz/fuzz_alibaba.c can feed them anything.
 *
 * Every builder returns new references (or NULL when the item is not what
 * it should be) and never trusts a member to exist or to have its type.
 */
#ifndef BAR_ALI_PARSE_H
#define BAR_ALI_PARSE_H

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

/* A JSON object body, or NULL. */
json_t *ali_parse_body(const char *body, size_t len);

/* The member at a dotted path ("Instances.Instance"), borrowed, or NULL. */
json_t *ali_jpath(json_t *o, const char *path);

/* The string at a path, or "" (borrowed). */
const char *ali_jstr(json_t *o, const char *path);

/* The items of a list at path: an array, borrowed, or an empty array
 * singleton-free: NULL when absent (callers treat NULL as empty). */
json_t *ali_jlist(json_t *o, const char *path);

/*
 * Tags of an item ({"Tag": [{"Key","Value"}...]} at `path`): the
 * "barista:" ones into a new object *tags, the others (except the cloud's
 * own "acs:" / "aliyun" keys) into *labels when labels is not NULL.
 */
void ali_tags(json_t *item, const char *path, json_t **tags, json_t **labels);

/* ABI status of a VM from Alibaba's status, given the operation that is
 * running ("run", "stop", "start", "reboot", or "" for none). */
const char *ali_vm_status(const char *native, const char *op);

/* 1 when an ABI VM status is final (Running, Suspended, Terminated,
 * Failed). */
int ali_vm_final(const char *status);

/* ABI status of a VPC, vSwitch or image from Alibaba's. */
const char *ali_res_status(const char *native);

/* Observed attrs of an instance (DescribeInstances Instances.Instance[i]). */
json_t *ali_vm_attrs(json_t *inst);

/* Observed attrs of a VPC with its vSwitches (an array of
 * DescribeVSwitches items, those of other VPCs skipped). */
json_t *ali_vnet_attrs(json_t *vpc, json_t *vswitches);

/*
 * A security group's rules from DescribeSecurityGroupAttribute's
 * Permissions.Permission: {"ingress": [...], "egress": [...]}, each rule
 * {"cidr","fromPort","protocol","toPort"} sorted, accept rules with a CIDR
 * only.
 */
json_t *ali_sg_rules(json_t *attribute);

/* One rule (a member of the spec's ingress/egress) normalised to the same
 * form, or NULL when it is not a rule. */
json_t *ali_rule_norm(json_t *rule);

/* Sort an array of JSON values by their compact text (stable attrs). */
void ali_sort_json(json_t *arr);

/* Observed attrs of a key pair, an image, an instance type. */
json_t *ali_key_attrs(json_t *kp);
json_t *ali_image_attrs(json_t *img);
json_t *ali_type_attrs(json_t *it);

#endif
