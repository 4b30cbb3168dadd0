/*
 * aws_sg.c - the aws driver's securitygroup: an EC2 security group in the
 * vnet's VPC whose rules are kept equal to the input's ingress and egress
 * (Barista's rules {protocol, fromPort, toPort, cidr}; "all" is EC2's
 * protocol -1), changed in place with Authorize/RevokeSecurityGroupIngress
 * and -Egress: a create and an update both revoke what is not wanted and
 * authorize what is missing, so a new group's default allow-all egress
 * goes when the input's egress is [].
 *
 * A group's name must be unique in its VPC, and a new generation of an
 * address is made before the old one is gone, so the GroupName is the
 * resource's name plus the start of its idempotency key; the Name tag holds
 * the plain name.  A create first looks for a group carrying its key.
 */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int sg_emit(aws_x *x, bar_sink *out, const aws_xml *g)
{
	const aws_xml *tags = aws_xml_get(g, "tagSet");
	const char *name = aws_tag(tags, "Name");
	json_t *attrs = json_pack(
	    "{s:o,s:s,s:o,s:s}", "egress", aws_rules(aws_xml_get(g, "ipPermissionsEgress")),
	    "groupName", aws_xml_text(g, "groupName") ? aws_xml_text(g, "groupName") : "",
	    "ingress", aws_rules(aws_xml_get(g, "ipPermissions")), "vpcId",
	    aws_xml_text(g, "vpcId") ? aws_xml_text(g, "vpcId") : "");

	return aws_emit(x, out, aws_xml_text(g, "groupId"), name ? name : "", "Available", attrs,
	                aws_tags_barista(tags));
}

/* The group's answer (root to free, *g inside it); ENOTFOUND when gone. */
static int sg_get(aws_x *x, const char *gid, aws_xml **root, const aws_xml **g)
{
	aws_q q = {{0}, 0};
	int rc;

	aws_q_add(&q, "GroupId.1", gid);
	rc = aws_ec2(x, "DescribeSecurityGroups", &q, gid, root, NULL, 0);
	aws_q_free(&q);
	if (rc != BAR_OK)
		return rc;
	*g = aws_xml_path(*root, "securityGroupInfo/item");
	if (!*g) {
		aws_xml_free(*root);
		*root = NULL;
		return bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidGroup.NotFound",
		                    "aws: security group %s does not exist", gid);
	}
	return BAR_OK;
}

/* Barista's rules in the shape aws_rules() gives EC2's. */
static int want_rules(aws_x *x, json_t *in, json_t **out)
{
	json_t *arr = json_array(), *r;
	size_t i;

	json_array_foreach(in, i, r) {
		const char *proto = json_string_value(json_object_get(r, "protocol"));
		const char *cidr = json_string_value(json_object_get(r, "cidr"));
		json_int_t from = json_integer_value(json_object_get(r, "fromPort"));
		json_int_t to = json_integer_value(json_object_get(r, "toPort"));
		char p[16];

		if (!proto || strlen(proto) >= sizeof(p)) {
			json_decref(arr);
			return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
			                    "aws: rule %zu has no protocol", i + 1);
		}
		for (size_t k = 0; k <= strlen(proto); k++)
			p[k] = (char)(proto[k] >= 'A' && proto[k] <= 'Z' ? proto[k] + 32 : proto[k]);
		if (strcmp(p, "-1") == 0 || strcmp(p, "any") == 0)
			snprintf(p, sizeof(p), "all");
		if (strcmp(p, "all") == 0 || (strcmp(p, "icmp") == 0 && !json_object_get(r, "fromPort")))
			from = to = -1;
		if (strcmp(p, "tcp") && strcmp(p, "udp") && strcmp(p, "icmp") && strcmp(p, "all")) {
			json_decref(arr);
			return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
			                    "aws: rule %zu: protocol \"%s\" is not tcp, udp, icmp or all",
			                    i + 1, proto);
		}
		json_array_append_new(arr, json_pack("{s:s,s:I,s:s,s:I}", "cidr",
		                                     cidr && *cidr ? cidr : "0.0.0.0/0", "fromPort",
		                                     from, "protocol", p, "toPort", to));
	}
	*out = arr;
	return BAR_OK;
}

static int contains(json_t *arr, json_t *r)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_equal(v, r))
			return 1;
	return 0;
}

/* Authorize or revoke the rules of `which` in a that are not in b. */
static int rules_call(aws_x *x, const char *action, const char *gid, json_t *a, json_t *b)
{
	aws_q q = {{0}, 0};
	json_t *r;
	size_t i;
	int n = 0, rc = BAR_OK;

	aws_q_add(&q, "GroupId", gid);
	json_array_foreach(a, i, r) {
		const char *proto = json_string_value(json_object_get(r, "protocol"));

		if (contains(b, r))
			continue;
		n++;
		aws_q_addf(&q, strcmp(proto, "all") == 0 ? "-1" : proto, "IpPermissions.%d.IpProtocol",
		           n);
		if (strcmp(proto, "all") != 0) {
			char num[24];
			snprintf(num, sizeof(num), "%lld",
			         (long long)json_integer_value(json_object_get(r, "fromPort")));
			aws_q_addf(&q, num, "IpPermissions.%d.FromPort", n);
			snprintf(num, sizeof(num), "%lld",
			         (long long)json_integer_value(json_object_get(r, "toPort")));
			aws_q_addf(&q, num, "IpPermissions.%d.ToPort", n);
		}
		aws_q_addf(&q, json_string_value(json_object_get(r, "cidr")),
		           "IpPermissions.%d.IpRanges.1.CidrIp", n);
	}
	if (n)
		rc = aws_ec2(x, action, &q, gid, NULL, NULL, 0);
	aws_q_free(&q);
	return rc;
}

/* Make the group's rules the input's (the members the input has). */
static int sg_sync(aws_x *x, const char *gid)
{
	json_t *a = aws_attrs(x), *in_want = NULL, *out_want = NULL, *in_have, *out_have;
	aws_xml *root = NULL;
	const aws_xml *g;
	int rc;

	if ((rc = want_rules(x, json_object_get(a, "ingress"), &in_want)) != BAR_OK)
		return rc;
	if ((rc = want_rules(x, json_object_get(a, "egress"), &out_want)) != BAR_OK) {
		json_decref(in_want);
		return rc;
	}
	rc = sg_get(x, gid, &root, &g);
	if (rc == BAR_OK) {
		int has_egress = json_object_get(a, "egress") != NULL;

		in_have = aws_rules(aws_xml_get(g, "ipPermissions"));
		out_have = aws_rules(aws_xml_get(g, "ipPermissionsEgress"));
		rc = rules_call(x, "RevokeSecurityGroupIngress", gid, in_have, in_want);
		if (rc == BAR_OK)
			rc = rules_call(x, "AuthorizeSecurityGroupIngress", gid, in_want, in_have);
		if (rc == BAR_OK && has_egress)
			rc = rules_call(x, "RevokeSecurityGroupEgress", gid, out_have, out_want);
		if (rc == BAR_OK && has_egress)
			rc = rules_call(x, "AuthorizeSecurityGroupEgress", gid, out_want, out_have);
		json_decref(in_have);
		json_decref(out_have);
	}
	aws_xml_free(root);
	json_decref(in_want);
	json_decref(out_want);
	return rc;
}

static int read_emit(aws_x *x, bar_sink *out, const char *gid)
{
	aws_xml *root = NULL;
	const aws_xml *g;
	int rc = sg_get(x, gid, &root, &g);

	if (rc == BAR_OK)
		rc = sg_emit(x, out, g);
	aws_xml_free(root);
	return rc;
}

/* The id of a group found by filters (in q), or "". */
static int sg_find(aws_x *x, aws_q *q, char *gid, size_t size)
{
	aws_xml *root = NULL;
	int rc = aws_ec2(x, "DescribeSecurityGroups", q, NULL, &root, NULL, 0);
	const char *id = rc == BAR_OK ? aws_xml_text(aws_xml_path(root, "securityGroupInfo/item"),
	                                             "groupId")
	                              : NULL;

	snprintf(gid, size, "%s", id ? id : "");
	aws_xml_free(root);
	return rc;
}

int aws_sg_create(aws_x *x, bar_sink *out)
{
	const char *vpc = json_string_value(
	    json_object_get(json_object_get(json_object_get(x->in, "refs"), "vnet"), "system_id"));
	const char *key = json_string_value(json_object_get(aws_in_tags(x), "barista:idempotency"));
	char gid[64] = "", gname[300], desc[400];
	aws_q q = {{0}, 0};
	int rc = BAR_OK;

	if (!vpc || !*vpc)
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
		                    "aws: a security group needs its vnet (refs.vnet)");
	if (key && *key) {
		aws_q_filter1(&q, "vpc-id", vpc);
		aws_q_filter1(&q, "tag:barista:idempotency", key);
		rc = sg_find(x, &q, gid, sizeof(gid));
		aws_q_free(&q);
	}
	aws_unique_name(x, gname, sizeof(gname));
	if (rc == BAR_OK && !gid[0]) {
		aws_xml *root = NULL;
		const char *addr = json_string_value(json_object_get(aws_in_tags(x), "barista:address"));

		snprintf(desc, sizeof(desc), "barista %s", addr ? addr : aws_name(x));
		memset(&q, 0, sizeof(q));
		aws_q_add(&q, "GroupName", gname);
		aws_q_add(&q, "GroupDescription", desc);
		aws_q_add(&q, "VpcId", vpc);
		aws_q_tagspec(&q, "security-group", aws_in_tags(x), aws_name(x), NULL);
		rc = aws_ec2_maybe(x, "CreateSecurityGroup", &q, vpc, &root, "InvalidGroup.Duplicate");
		aws_q_free(&q);
		if (rc == BAR_OK) {
			const char *id = aws_xml_text(root, "groupId");
			snprintf(gid, sizeof(gid), "%s", id ? id : "");
		} else if (rc == 1) { /* an earlier attempt of this generation made it */
			memset(&q, 0, sizeof(q));
			aws_q_filter1(&q, "vpc-id", vpc);
			aws_q_filter1(&q, "group-name", gname);
			rc = sg_find(x, &q, gid, sizeof(gid));
			aws_q_free(&q);
		}
		aws_xml_free(root);
	}
	if (rc != BAR_OK)
		return rc;
	if (!gid[0])
		return bar_kit_fail(&x->err, BAR_EFAIL, "MalformedAnswer",
		                    "CreateSecurityGroup: no groupId");
	rc = sg_sync(x, gid);
	{
		bar_kit_err saved = x->err;
		int rrc;

		x->err = (bar_kit_err){0};
		rrc = read_emit(x, out, gid);
		if (rc != BAR_OK)
			x->err = saved;
		else
			rc = rrc;
	}
	return rc;
}

int aws_sg_read(aws_x *x, bar_sink *out)
{
	if (!aws_id_is(aws_id(x), "sg-"))
		return aws_notfound(x, "security group");
	return read_emit(x, out, aws_id(x));
}

int aws_sg_update(aws_x *x, bar_sink *out)
{
	int rc;

	if (!aws_id_is(aws_id(x), "sg-"))
		return aws_notfound(x, "security group");
	rc = sg_sync(x, aws_id(x));
	return rc == BAR_OK ? read_emit(x, out, aws_id(x)) : rc;
}

int aws_sg_delete(aws_x *x)
{
	aws_q q = {{0}, 0};
	int rc;

	if (!aws_id_is(aws_id(x), "sg-"))
		return aws_notfound(x, "security group");
	aws_q_add(&q, "GroupId", aws_id(x));
	rc = aws_ec2(x, "DeleteSecurityGroup", &q, aws_id(x), NULL, NULL, 0);
	aws_q_free(&q);
	return rc;
}

static int on_page(aws_x *x, const aws_xml *root, void *ctx)
{
	const aws_xml *set = aws_xml_get(root, "securityGroupInfo");
	int rc = BAR_OK;

	for (const aws_xml *g = set ? set->child : NULL; g && rc == BAR_OK; g = g->next)
		if (aws_tag(aws_xml_get(g, "tagSet"), "barista:address") && aws_xml_text(g, "groupId"))
			rc = sg_emit(x, ctx, g);
	return rc;
}

int aws_sg_list(aws_x *x, bar_sink *out)
{
	aws_q q = {{0}, 0};
	int rc;

	aws_q_filter1(&q, "tag-key", "barista:address");
	rc = aws_ec2_pages(x, "DescribeSecurityGroups", &q, AWS_PAGE, on_page, out);
	aws_q_free(&q);
	return rc;
}
