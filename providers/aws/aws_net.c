/*
 * aws_net.c - the aws driver's vnet: a VPC, its subnets, and what makes a
 * VM in it reachable from outside (an internet gateway attached to the VPC,
 * a default route to it in the VPC's main route table, subnets that map a
 * public IP on launch).
 *
 * EC2 has no idempotency token for CreateVpc, so a create first looks for
 * a VPC tagged with its barista:idempotency key, and every later step
 * (subnet, gateway, route) first looks for what an earlier attempt made:
 * a create that died halfway is completed, not duplicated.  Subnets carry
 * the vnet's tags plus barista:subnet (the subnet's name); the gateway the
 * vnet's tags.  Observed attrs: cidr, internetGatewayId, nativeStatus,
 * subnets [{cidr, id, name, zone}] sorted by name, vpcId.
 */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one VPC is made of, gathered from three describe calls. */
typedef struct net {
	char vpc[32], cidr[64], state[32], igw[32];
	json_t *tags;    /* the VPC's barista: tags */
	const char *name;
	char name_buf[256];
	json_t *subnets; /* [{cidr,id,name,zone}] */
} net;

typedef struct nets {
	net *v;
	size_t n, cap;
	int only_tagged;
} nets;

static void nets_free(nets *s)
{
	for (size_t i = 0; i < s->n; i++) {
		json_decref(s->v[i].tags);
		json_decref(s->v[i].subnets);
	}
	free(s->v);
}

static net *nets_find(nets *s, const char *vpc)
{
	for (size_t i = 0; vpc && i < s->n; i++)
		if (strcmp(s->v[i].vpc, vpc) == 0)
			return &s->v[i];
	return NULL;
}

static int on_vpcs(aws_x *x, const aws_xml *root, void *ctx)
{
	nets *s = ctx;
	const aws_xml *set = aws_xml_get(root, "vpcSet");

	for (const aws_xml *v = set ? set->child : NULL; v; v = v->next) {
		const aws_xml *tags = aws_xml_get(v, "tagSet");
		const char *id = aws_xml_text(v, "vpcId");
		net *n;

		if (!id || (s->only_tagged && !aws_tag(tags, "barista:address")))
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 8;
			net *nv = realloc(s->v, cap * sizeof(*nv));
			if (!nv)
				return bar_kit_fail(&x->err, BAR_EFAIL, "OutOfMemory", "aws: out of memory");
			s->v = nv;
			s->cap = cap;
		}
		n = &s->v[s->n++];
		memset(n, 0, sizeof(*n));
		snprintf(n->vpc, sizeof(n->vpc), "%s", id);
		snprintf(n->cidr, sizeof(n->cidr), "%s",
		         aws_xml_text(v, "cidrBlock") ? aws_xml_text(v, "cidrBlock") : "");
		snprintf(n->state, sizeof(n->state), "%s",
		         aws_xml_text(v, "state") ? aws_xml_text(v, "state") : "");
		snprintf(n->name_buf, sizeof(n->name_buf), "%s",
		         aws_tag(tags, "Name") ? aws_tag(tags, "Name") : "");
		n->tags = aws_tags_barista(tags);
		n->subnets = json_array();
	}
	return BAR_OK;
}

static int on_subnets(aws_x *x, const aws_xml *root, void *ctx)
{
	nets *s = ctx;
	const aws_xml *set = aws_xml_get(root, "subnetSet");

	(void)x;
	for (const aws_xml *v = set ? set->child : NULL; v; v = v->next) {
		net *n = nets_find(s, aws_xml_text(v, "vpcId"));
		const char *sub = aws_tag(aws_xml_get(v, "tagSet"), "barista:subnet");

		if (!n || !aws_xml_text(v, "subnetId"))
			continue;
		json_array_append_new(n->subnets, json_pack(
		    "{s:s,s:s,s:s,s:s}", "cidr",
		    aws_xml_text(v, "cidrBlock") ? aws_xml_text(v, "cidrBlock") : "", "id",
		    aws_xml_text(v, "subnetId"), "name", sub ? sub : "", "zone",
		    aws_xml_text(v, "availabilityZone") ? aws_xml_text(v, "availabilityZone") : ""));
	}
	return BAR_OK;
}

static int on_igws(aws_x *x, const aws_xml *root, void *ctx)
{
	nets *s = ctx;
	const aws_xml *set = aws_xml_get(root, "internetGatewaySet");

	(void)x;
	for (const aws_xml *g = set ? set->child : NULL; g; g = g->next) {
		const aws_xml *att = aws_xml_get(g, "attachmentSet");
		for (const aws_xml *a = att ? att->child : NULL; a; a = a->next) {
			net *n = nets_find(s, aws_xml_text(a, "vpcId"));
			if (n && aws_xml_text(g, "internetGatewayId"))
				snprintf(n->igw, sizeof(n->igw), "%s", aws_xml_text(g, "internetGatewayId"));
		}
	}
	return BAR_OK;
}

static int subnet_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
	              json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

static int net_emit(aws_x *x, bar_sink *out, net *n)
{
	size_t k = json_array_size(n->subnets);
	json_t **v = calloc(k ? k : 1, sizeof(*v)), *sorted = json_array(), *attrs;

	for (size_t i = 0; v && i < k; i++)
		v[i] = json_array_get(n->subnets, i);
	if (v)
		qsort(v, k, sizeof(*v), subnet_cmp);
	for (size_t i = 0; v && i < k; i++)
		json_array_append(sorted, v[i]);
	free(v);
	attrs = json_pack("{s:s,s:s,s:s,s:o,s:s}", "cidr", n->cidr, "internetGatewayId", n->igw,
	                  "nativeStatus", n->state, "subnets", sorted, "vpcId", n->vpc);
	return aws_emit(x, out, n->vpc, n->name_buf,
	                strcmp(n->state, "pending") == 0 ? "Creating" : "Available", attrs,
	                json_incref(n->tags));
}

/* The VPCs (one by id, or every tagged one) with their subnets and gateways. */
static int gather(aws_x *x, nets *s, const char *vpc)
{
	aws_q q = {{0}, 0};
	int rc;

	s->only_tagged = vpc == NULL;
	if (vpc) {
		aws_q_add(&q, "VpcId.1", vpc);
		rc = aws_ec2_pages(x, "DescribeVpcs", &q, 0, on_vpcs, s);
	} else {
		aws_q_filter1(&q, "tag-key", "barista:address");
		rc = aws_ec2_pages(x, "DescribeVpcs", &q, AWS_PAGE, on_vpcs, s);
	}
	aws_q_free(&q);
	if (rc != BAR_OK || s->n == 0)
		return rc;
	memset(&q, 0, sizeof(q));
	if (vpc)
		aws_q_filter1(&q, "vpc-id", vpc);
	else
		aws_q_filter1(&q, "tag-key", "barista:address");
	rc = aws_ec2_pages(x, "DescribeSubnets", &q, AWS_PAGE, on_subnets, s);
	aws_q_free(&q);
	if (rc != BAR_OK)
		return rc;
	memset(&q, 0, sizeof(q));
	if (vpc)
		aws_q_filter1(&q, "attachment.vpc-id", vpc);
	else
		aws_q_filter1(&q, "tag-key", "barista:address");
	rc = aws_ec2_pages(x, "DescribeInternetGateways", &q, AWS_PAGE, on_igws, s);
	aws_q_free(&q);
	return rc;
}

static int read_vpc(aws_x *x, bar_sink *out, const char *vpc)
{
	nets s = {0};
	int rc = gather(x, &s, vpc);
	if (rc == BAR_ENOTFOUND || (rc == BAR_OK && s.n == 0)) {
		x->err = (bar_kit_err){0};
		rc = bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidVpcID.NotFound",
		                  "aws: vpc %s does not exist", vpc);
	} else if (rc == BAR_OK) {
		rc = net_emit(x, out, &s.v[0]);
	}
	nets_free(&s);
	return rc;
}

int aws_vnet_read(aws_x *x, bar_sink *out)
{
	if (!aws_id_is(aws_id(x), "vpc-"))
		return aws_notfound(x, "vpc");
	return read_vpc(x, out, aws_id(x));
}

int aws_vnet_list(aws_x *x, bar_sink *out)
{
	nets s = {0};
	int rc = gather(x, &s, NULL);

	for (size_t i = 0; rc == BAR_OK && i < s.n; i++)
		rc = net_emit(x, out, &s.v[i]);
	nets_free(&s);
	return rc;
}

/* The id of the first <tag> element under path in an answer, or "". */
static void first_id(char *out, size_t size, const aws_xml *root, const char *set,
                     const char *tag)
{
	const aws_xml *s = aws_xml_get(root, set);
	const char *v = s && s->child ? aws_xml_text(s->child, tag) : NULL;

	snprintf(out, size, "%s", v ? v : "");
}

static int find_by_key(aws_x *x, char *vpc, size_t size)
{
	const char *key = json_string_value(json_object_get(aws_in_tags(x), "barista:idempotency"));
	aws_q q = {{0}, 0};
	aws_xml *root = NULL;
	int rc;

	vpc[0] = '\0';
	if (!key || !*key)
		return BAR_OK;
	aws_q_filter1(&q, "tag:barista:idempotency", key);
	rc = aws_ec2(x, "DescribeVpcs", &q, NULL, &root, NULL, 0);
	if (rc == BAR_OK)
		first_id(vpc, size, root, "vpcSet", "vpcId");
	aws_xml_free(root);
	aws_q_free(&q);
	return rc;
}

static int make_subnets(aws_x *x, const char *vpc, json_t *want)
{
	nets s = {0};
	json_t *sub;
	size_t i;
	int rc = gather(x, &s, vpc);

	if (rc == BAR_OK && s.n == 0)
		rc = bar_kit_fail(&x->err, BAR_EFAIL, "InvalidVpcID.NotFound",
		                  "aws: the new vpc %s is gone", vpc);
	json_array_foreach(want, i, sub) {
		const char *name = json_string_value(json_object_get(sub, "name"));
		const char *cidr = json_string_value(json_object_get(sub, "cidr"));
		const char *zone = json_string_value(json_object_get(sub, "zone"));
		char tag_name[300], id[64] = "";
		aws_xml *root = NULL;
		json_t *have;
		size_t j;
		int found = 0;

		if (rc != BAR_OK)
			break;
		if (!name || !cidr) {
			rc = bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
			                  "aws: subnet %zu needs a name and a cidr", i + 1);
			break;
		}
		json_array_foreach(s.v[0].subnets, j, have)
			found |= strcmp(json_string_value(json_object_get(have, "name")), name) == 0;
		if (found)
			continue;
		aws_q q = {{0}, 0};
		json_t *extra = json_pack("{s:s}", "barista:subnet", name);
		snprintf(tag_name, sizeof(tag_name), "%s-%s", aws_name(x), name);
		aws_q_add(&q, "VpcId", vpc);
		aws_q_add(&q, "CidrBlock", cidr);
		if (!zone && x->call->zone && *x->call->zone)
			zone = x->call->zone;
		if (zone && *zone)
			aws_q_add(&q, "AvailabilityZone", zone);
		{
			/* the vnet's tags, barista:subnet and Name */
			json_t *t = aws_tags_copy(x);
			json_object_update(t, extra);
			aws_q_tagspec(&q, "subnet", t, tag_name, NULL);
			json_decref(t);
		}
		json_decref(extra);
		rc = aws_ec2(x, "CreateSubnet", &q, vpc, &root, NULL, 0);
		aws_q_free(&q);
		if (rc == BAR_OK) {
			const aws_xml *sn = aws_xml_get(root, "subnet");
			snprintf(id, sizeof(id), "%s",
			         aws_xml_text(sn, "subnetId") ? aws_xml_text(sn, "subnetId") : "");
		}
		aws_xml_free(root);
		if (rc == BAR_OK && id[0]) {
			aws_q m = {{0}, 0};
			aws_q_add(&m, "SubnetId", id);
			aws_q_add(&m, "MapPublicIpOnLaunch.Value", "true");
			rc = aws_ec2(x, "ModifySubnetAttribute", &m, id, NULL, NULL, 0);
			aws_q_free(&m);
		}
	}
	nets_free(&s);
	return rc;
}

static int make_gateway(aws_x *x, const char *vpc)
{
	nets s = {0};
	char igw[64] = "", rtb[64] = "";
	aws_xml *root = NULL;
	aws_q q = {{0}, 0};
	int rc = gather(x, &s, vpc);

	if (rc == BAR_OK && s.n)
		snprintf(igw, sizeof(igw), "%s", s.v[0].igw);
	nets_free(&s);
	if (rc == BAR_OK && !igw[0]) {
		aws_q_tagspec(&q, "internet-gateway", aws_in_tags(x), aws_name(x), NULL);
		rc = aws_ec2(x, "CreateInternetGateway", &q, vpc, &root, NULL, 0);
		aws_q_free(&q);
		if (rc == BAR_OK) {
			const aws_xml *g = aws_xml_get(root, "internetGateway");
			snprintf(igw, sizeof(igw), "%s",
			         aws_xml_text(g, "internetGatewayId") ? aws_xml_text(g, "internetGatewayId")
			                                              : "");
		}
		aws_xml_free(root);
		root = NULL;
		if (rc == BAR_OK) {
			memset(&q, 0, sizeof(q));
			aws_q_add(&q, "InternetGatewayId", igw);
			aws_q_add(&q, "VpcId", vpc);
			rc = aws_ec2(x, "AttachInternetGateway", &q, igw, NULL, NULL, 0);
			aws_q_free(&q);
		}
	}
	if (rc != BAR_OK)
		return rc;
	memset(&q, 0, sizeof(q));
	aws_q_filter1(&q, "vpc-id", vpc);
	aws_q_filter1(&q, "association.main", "true");
	rc = aws_ec2(x, "DescribeRouteTables", &q, vpc, &root, NULL, 0);
	aws_q_free(&q);
	if (rc == BAR_OK)
		first_id(rtb, sizeof(rtb), root, "routeTableSet", "routeTableId");
	aws_xml_free(root);
	if (rc != BAR_OK)
		return rc;
	if (!rtb[0])
		return bar_kit_fail(&x->err, BAR_EFAIL, "NoMainRouteTable",
		                    "aws: vpc %s has no main route table", vpc);
	memset(&q, 0, sizeof(q));
	aws_q_add(&q, "DestinationCidrBlock", "0.0.0.0/0");
	aws_q_add(&q, "GatewayId", igw);
	aws_q_add(&q, "RouteTableId", rtb);
	rc = aws_ec2_maybe(x, "CreateRoute", &q, rtb, NULL, "RouteAlreadyExists");
	aws_q_free(&q);
	return rc == 1 ? BAR_OK : rc;
}

int aws_vnet_create(aws_x *x, bar_sink *out)
{
	json_t *a = aws_attrs(x), *subnets = json_object_get(a, "subnets");
	const char *cidr = json_string_value(json_object_get(a, "cidr"));
	char vpc[64];
	int rc;

	if (!cidr)
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput", "aws: a vnet needs a cidr");
	if (subnets && !json_is_array(subnets))
		return bar_kit_fail(&x->err, BAR_EINVALID, "InvalidInput",
		                    "aws: a vnet's subnets are a list");
	rc = find_by_key(x, vpc, sizeof(vpc));
	if (rc == BAR_OK && !vpc[0]) {
		aws_q q = {{0}, 0};
		aws_xml *root = NULL;

		aws_q_add(&q, "CidrBlock", cidr);
		aws_q_tagspec(&q, "vpc", aws_in_tags(x), aws_name(x), NULL);
		rc = aws_ec2(x, "CreateVpc", &q, NULL, &root, NULL, 0);
		aws_q_free(&q);
		if (rc == BAR_OK) {
			const char *id = aws_xml_text(aws_xml_get(root, "vpc"), "vpcId");
			snprintf(vpc, sizeof(vpc), "%s", id ? id : "");
			if (!vpc[0])
				rc = bar_kit_fail(&x->err, BAR_EFAIL, "MalformedAnswer",
				                  "CreateVpc: the answer names no vpcId");
		}
		aws_xml_free(root);
	}
	if (rc != BAR_OK)
		return rc;
	rc = make_subnets(x, vpc, subnets);
	if (rc == BAR_OK)
		rc = make_gateway(x, vpc);
	/* emit what there is, also after a failure: the host records it */
	{
		bar_kit_err saved = x->err;
		int rrc;

		x->err = (bar_kit_err){0};
		rrc = read_vpc(x, out, vpc);
		if (rc != BAR_OK)
			x->err = saved;
		else
			rc = rrc;
	}
	return rc;
}

int aws_vnet_delete(aws_x *x)
{
	const char *vpc = aws_id(x);
	nets s = {0};
	json_t *sub;
	size_t i;
	int rc;

	if (!aws_id_is(vpc, "vpc-"))
		return aws_notfound(x, "vpc");
	rc = gather(x, &s, vpc);
	if (rc == BAR_OK && s.n == 0)
		rc = bar_kit_fail(&x->err, BAR_ENOTFOUND, "InvalidVpcID.NotFound",
		                  "aws: vpc %s does not exist", vpc);
	if (rc != BAR_OK)
		goto done;
	json_array_foreach(s.v[0].subnets, i, sub) {
		aws_q q = {{0}, 0};
		const char *id = json_string_value(json_object_get(sub, "id"));

		aws_q_add(&q, "SubnetId", id);
		rc = aws_ec2_maybe(x, "DeleteSubnet", &q, id, NULL, "InvalidSubnetID.NotFound");
		aws_q_free(&q);
		rc = rc == 1 ? BAR_OK : rc;
		if (rc != BAR_OK)
			goto done;
	}
	if (s.v[0].igw[0]) {
		aws_q q = {{0}, 0};

		aws_q_add(&q, "InternetGatewayId", s.v[0].igw);
		aws_q_add(&q, "VpcId", vpc);
		rc = aws_ec2_maybe(x, "DetachInternetGateway", &q, s.v[0].igw, NULL,
		                   "Gateway.NotAttached");
		aws_q_free(&q);
		rc = rc == 1 ? BAR_OK : rc;
		if (rc == BAR_OK) {
			memset(&q, 0, sizeof(q));
			aws_q_add(&q, "InternetGatewayId", s.v[0].igw);
			rc = aws_ec2_maybe(x, "DeleteInternetGateway", &q, s.v[0].igw, NULL,
			                   "InvalidInternetGatewayID.NotFound");
			aws_q_free(&q);
			rc = rc == 1 ? BAR_OK : rc;
		}
		if (rc != BAR_OK)
			goto done;
	}
	{
		aws_q q = {{0}, 0};

		aws_q_add(&q, "VpcId", vpc);
		rc = aws_ec2(x, "DeleteVpc", &q, vpc, NULL, NULL, 0);
		aws_q_free(&q);
	}
done:
	nets_free(&s);
	return rc;
}
