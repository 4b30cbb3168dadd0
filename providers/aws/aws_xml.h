/*
 * aws_xml.h - the aws driver's reader of EC2's XML answers: a small,
 * bounded, non-validating XML parser into a tree of elements with their
 * text, and the converters from EC2's answer elements (instances, VPCs,
 * subnets, security groups, key pairs, images, instance types, errors) to
 * the JSON the driver emits.  Everything here takes untrusted bytes and is
 * the target of tests/fuzz/fuzz_aws.c; nothing here does I/O.
 */
#ifndef BAR_AWS_XML_H
#define BAR_AWS_XML_H

#include <jansson.h>
#include <stddef.h>

typedef struct aws_xml {
	char *name;            /* local name: a namespace prefix is dropped */
	char *text;            /* character data of the element itself, decoded; "" if none */
	struct aws_xml *child; /* first child element */
	struct aws_xml *next;  /* next sibling */
} aws_xml;

#define AWS_XML_MAX_DEPTH 48
#define AWS_XML_MAX_NODES 2000000

/*
 * Parse s[0..n) (an optional <?xml ...?> declaration, comments, one root
 * element).  Attributes are skipped; entities &amp; &lt; &gt; &quot; &apos;
 * and &#N; / &#xN; are decoded (others kept as written); CDATA is text.
 * Returns 0 with *out (free with aws_xml_free), or -1 with why[size] when
 * the text is not well formed enough, deeper than AWS_XML_MAX_DEPTH or
 * larger than AWS_XML_MAX_NODES elements.
 */
int aws_xml_parse(aws_xml **out, const char *s, size_t n, char *why, size_t size);
void aws_xml_free(aws_xml *x);

/* The first child of x named name, or NULL (x may be NULL). */
const aws_xml *aws_xml_get(const aws_xml *x, const char *name);
/* The text of the first child named name, or NULL. */
const char *aws_xml_text(const aws_xml *x, const char *name);
/* The child at a path of names separated by '/', or NULL. */
const aws_xml *aws_xml_path(const aws_xml *x, const char *path);

/* An EC2 error answer's first <Code> and <Message>, copied into the
 * buffers ("" when absent). */
void aws_xml_error(const char *body, size_t len, char *code, size_t csize, char *msg,
                   size_t msize);

/* ---- EC2 elements to the driver's JSON (new references, never NULL) ---- */

/* The "barista:" tags of a <tagSet> as an object. */
json_t *aws_tags_barista(const aws_xml *tagset);
/* The tags that are neither "barista:" nor "Name" (a VM's labels). */
json_t *aws_tags_labels(const aws_xml *tagset);
/* The value of one tag, or NULL. */
const char *aws_tag(const aws_xml *tagset, const char *key);

/* Rules of an <ipPermissions>/<ipPermissionsEgress> list as Barista's
 * [{"cidr","fromPort","protocol","toPort"}], one per CIDR, sorted. */
json_t *aws_rules(const aws_xml *perms);

/* The ABI status of an EC2 instance state name ("pending" -> "Creating"). */
const char *aws_vm_status(const char *state, int resuming);

/* A VM's observed attrs from an <instancesSet>/<item> element. */
json_t *aws_vm_attrs(const aws_xml *inst);

/* A key pair's attrs from a <keySet>/<item>, an image's from <imagesSet>/<item>,
 * an instance type's from <instanceTypeSet>/<item>. */
json_t *aws_key_attrs(const aws_xml *key);
json_t *aws_image_attrs(const aws_xml *img);
json_t *aws_spec_attrs(const aws_xml *it);

#endif
