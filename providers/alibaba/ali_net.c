/*
 * ali_net.c - VNets (a VPC and one vSwitch per subnet, VPC API) and
 * security groups (ECS security groups in the VPC, rules updated in place).
 */
#include "ali.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- VNet ---- */

static int collect(ali_ctx *x, json_t *item, void *ud)
{
	(void)x;
	return json_array_append(ud, item) ? BAR_EFAIL : BAR_OK;
}

/* The VPC (new reference in *vpc, NULL when it does not exist) and its
 * vSwitches (*vsw, an array). */
static int vnet_fetch(ali_ctx *x, const char *id, json_t **vpc, json_t **vsw)
{
	ali_params p = {0};
	json_t *r = NULL, *v;
	int rc;

	*vpc = NULL;
	*vsw = json_array();
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "VpcId", id);
	rc = ali_rpc(x->s, x->call, ALI_VPC, "DescribeVpcs", &p, id, &r, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	v = json_array_get(ali_jlist(r, "Vpcs.Vpc"), 0);
	if (v && strcmp(ali_jstr(v, "VpcId"), id) == 0)
		*vpc = json_incref(v);
	json_decref(r);
	if (!*vpc)
		return BAR_OK;
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "VpcId", id);
	rc = ali_pages(x, ALI_VPC, "DescribeVSwitches", &p, "VSwitches.VSwitch", ALI_PAGE_NUMBER,
	               50, collect, *vsw);
	ali_params_free(&p);
	return rc;
}

static int vnet_emit(ali_ctx *x, json_t *vpc, json_t *vsw)
{
	json_t *attrs = ali_vnet_attrs(vpc, vsw), *tags = NULL;
	const char *status = ali_res_status(ali_jstr(vpc, "Status"));
	json_t *s;
	size_t i;
	int rc;

	/* a VNet is Available once its vSwitches are too */
	json_array_foreach(vsw, i, s)
		if (strcmp(ali_jstr(s, "VpcId"), ali_jstr(vpc, "VpcId")) == 0 &&
		    strcmp(ali_res_status(ali_jstr(s, "Status")), "Available") != 0 &&
		    strcmp(status, "Available") == 0)
			status = ali_res_status(ali_jstr(s, "Status"));
	ali_tags(vpc, "Tags.Tag", &tags, NULL);
	rc = attrs ? ali_emit(x->sink, ali_jstr(vpc, "VpcId"), ali_jstr(vpc, "VpcName"), status,
	                      attrs, tags, &x->e)
	           : bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse",
	                          "DescribeVpcs: an item without VpcId");
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

/* Wait until the VPC and all its vSwitches are Available; emit it when
 * `emit`. */
static int vnet_settle(ali_ctx *x, const char *id, int emit)
{
	for (;;) {
		json_t *vpc = NULL, *vsw = NULL, *s;
		int rc = vnet_fetch(x, id, &vpc, &vsw), busy = 0;
		size_t i;

		if (!rc && !vpc)
			rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidVpcId.NotFound",
			                  "DescribeVpcs: VPC %s does not exist", id);
		if (!rc) {
			busy = strcmp(ali_jstr(vpc, "Status"), "Pending") == 0;
			json_array_foreach(vsw, i, s)
				busy |= strcmp(ali_jstr(s, "Status"), "Pending") == 0;
			if (!busy && emit)
				rc = vnet_emit(x, vpc, vsw);
		}
		json_decref(vpc);
		json_decref(vsw);
		if (rc || !busy)
			return rc;
		rc = ali_wait(x->call, x->s->poll_ms, "waiting for the VPC", &x->e);
		if (rc)
			return rc;
	}
}

int ali_vnet_create(ali_ctx *x)
{
	const char *cidr = json_string_value(json_object_get(x->attrs, "cidr"));
	json_t *subnets = json_object_get(x->attrs, "subnets"), *sub, *r = NULL;
	char token[80], zone[64], vpc[64] = "";
	ali_params p = {0};
	size_t i;
	int rc;

	if (!cidr || !*cidr)
		return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput", "a vnet needs attrs.cidr");
	rc = ali_zone(x->s, x->call, zone, sizeof(zone), &x->e);
	if (rc)
		return rc;
	ali_client_token(x, "", token, sizeof(token));
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "CidrBlock", cidr);
	ali_params_add(&p, "VpcName", x->name);
	if (*token)
		ali_params_add(&p, "ClientToken", token);
	ali_params_tags(&p, x->tags, NULL);
	rc = ali_rpc(x->s, x->call, ALI_VPC, "CreateVpc", &p, NULL, &r, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	snprintf(vpc, sizeof(vpc), "%s", ali_jstr(r, "VpcId"));
	json_decref(r);
	if (!*vpc)
		return bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse", "CreateVpc: no VpcId");
	rc = vnet_settle(x, vpc, 0);
	json_array_foreach(subnets, i, sub) {
		const char *sn = json_string_value(json_object_get(sub, "name"));
		const char *sc = json_string_value(json_object_get(sub, "cidr"));
		char suffix[16];

		if (rc)
			break;
		if (!sn || !sc) {
			rc = bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput",
			                  "subnet %zu needs a name and a cidr", i + 1);
			break;
		}
		snprintf(suffix, sizeof(suffix), "-s%zu", i + 1);
		ali_client_token(x, suffix, token, sizeof(token));
		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "VpcId", vpc);
		ali_params_add(&p, "ZoneId", zone);
		ali_params_add(&p, "CidrBlock", sc);
		ali_params_add(&p, "VSwitchName", sn);
		if (*token)
			ali_params_add(&p, "ClientToken", token);
		ali_params_tags(&p, x->tags, NULL);
		rc = ali_rpc_patient(x, ALI_VPC, "CreateVSwitch", &p, vpc, &r, 20);
		ali_params_free(&p);
		json_decref(r);
		r = NULL;
	}
	if (!rc)
		return vnet_settle(x, vpc, 1);
	/* made, then failed: report what there is (the host records it failed) */
	{
		bar_kit_err keep = x->e;
		json_t *v = NULL, *s = NULL;

		memset(&x->e, 0, sizeof(x->e));
		if (vnet_fetch(x, vpc, &v, &s) == BAR_OK && v)
			vnet_emit(x, v, s);
		json_decref(v);
		json_decref(s);
		x->e = keep;
	}
	return rc;
}

int ali_vnet_read(ali_ctx *x)
{
	json_t *vpc = NULL, *vsw = NULL;
	int rc = vnet_fetch(x, x->id, &vpc, &vsw);

	if (!rc && !vpc)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidVpcId.NotFound",
		                  "DescribeVpcs: VPC %s does not exist", x->id);
	if (!rc)
		rc = vnet_emit(x, vpc, vsw);
	json_decref(vpc);
	json_decref(vsw);
	return rc;
}

int ali_vnet_delete(ali_ctx *x)
{
	json_t *vpc = NULL, *vsw = NULL, *s, *r = NULL;
	ali_params p = {0};
	size_t i;
	int rc = vnet_fetch(x, x->id, &vpc, &vsw);

	if (!rc && !vpc)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidVpcId.NotFound",
		                  "DescribeVpcs: VPC %s does not exist", x->id);
	json_array_foreach(vsw, i, s) {
		if (rc)
			break;
		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "VSwitchId", ali_jstr(s, "VSwitchId"));
		rc = ali_rpc_patient(x, ALI_VPC, "DeleteVSwitch", &p, ali_jstr(s, "VSwitchId"), &r, 40);
		ali_params_free(&p);
		json_decref(r);
		r = NULL;
		if (rc == BAR_ENOTFOUND) {
			memset(&x->e, 0, sizeof(x->e));
			rc = BAR_OK;
		}
	}
	if (!rc) {
		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "VpcId", x->id);
		rc = ali_rpc_patient(x, ALI_VPC, "DeleteVpc", &p, x->id, &r, 40);
		ali_params_free(&p);
		json_decref(r);
	}
	json_decref(vpc);
	json_decref(vsw);
	return rc;
}

int ali_vnet_list(ali_ctx *x)
{
	json_t *vpcs = json_array(), *vsws = json_array(), *v;
	ali_params p = {0};
	size_t i;
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "Tag.1.Key", "barista:address");
	rc = ali_pages(x, ALI_VPC, "DescribeVpcs", &p, "Vpcs.Vpc", ALI_PAGE_NUMBER, 50, collect,
	               vpcs);
	if (!rc && json_array_size(vpcs))
		rc = ali_pages(x, ALI_VPC, "DescribeVSwitches", &p, "VSwitches.VSwitch",
		               ALI_PAGE_NUMBER, 50, collect, vsws);
	ali_params_free(&p);
	json_array_foreach(vpcs, i, v) {
		json_t *t = NULL;

		if (rc)
			break;
		ali_tags(v, "Tags.Tag", &t, NULL);
		if (json_object_get(t, "barista:address"))
			rc = vnet_emit(x, v, vsws);
		json_decref(t);
	}
	json_decref(vpcs);
	json_decref(vsws);
	return rc;
}

/* ---- security groups ---- */

static const char *ali_proto(const char *p)
{
	return strcmp(p, "tcp") == 0 ? "TCP" : strcmp(p, "udp") == 0 ? "UDP"
	                                   : strcmp(p, "icmp") == 0  ? "ICMP"
	                                                             : "ALL";
}

/* The rule of a normalised {"cidr","fromPort","protocol","toPort"} as
 * Permissions.N parameters. */
static void add_perm(ali_params *p, int n, json_t *r, int ingress)
{
	const char *proto = ali_jstr(r, "protocol");
	char k[64];

	snprintf(k, sizeof(k), "Permissions.%d.IpProtocol", n);
	ali_params_add(p, k, ali_proto(proto));
	snprintf(k, sizeof(k), "Permissions.%d.PortRange", n);
	if (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0)
		ali_params_addf(p, k, "%lld/%lld",
		                (long long)json_integer_value(json_object_get(r, "fromPort")),
		                (long long)json_integer_value(json_object_get(r, "toPort")));
	else
		ali_params_add(p, k, "-1/-1");
	snprintf(k, sizeof(k), "Permissions.%d.%s", n, ingress ? "SourceCidrIp" : "DestCidrIp");
	ali_params_add(p, k, ali_jstr(r, "cidr"));
	snprintf(k, sizeof(k), "Permissions.%d.Policy", n);
	ali_params_add(p, k, "accept");
}

static int has_rule(json_t *list, json_t *r)
{
	json_t *y;
	size_t i;

	json_array_foreach(list, i, y)
		if (json_equal(y, r))
			return 1;
	return 0;
}

/* Send the rules of `list` that `other` lacks with action (in batches of
 * 100, the most Permissions.N one call takes). */
static int sg_send(ali_ctx *x, const char *id, const char *action, json_t *list, json_t *other,
                   int ingress)
{
	ali_params p = {0};
	json_t *r, *out = NULL;
	size_t i;
	int n = 0, rc = BAR_OK;

	json_array_foreach(list, i, r) {
		if (has_rule(other, r))
			continue;
		if (n == 0) {
			ali_params_add(&p, "RegionId", x->region);
			ali_params_add(&p, "SecurityGroupId", id);
		}
		add_perm(&p, ++n, r, ingress);
		if (n == 100 || i + 1 == json_array_size(list)) {
			rc = ali_rpc(x->s, x->call, ALI_ECS, action, &p, id, &out, &x->e);
			ali_params_free(&p);
			json_decref(out);
			out = NULL;
			n = 0;
			if (rc)
				return rc;
		}
	}
	if (n) {
		rc = ali_rpc(x->s, x->call, ALI_ECS, action, &p, id, &out, &x->e);
		json_decref(out);
	}
	ali_params_free(&p);
	return rc;
}

static int sg_attribute(ali_ctx *x, const char *id, json_t **out)
{
	ali_params p = {0};
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "SecurityGroupId", id);
	rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeSecurityGroupAttribute", &p, id, out, &x->e);
	ali_params_free(&p);
	return rc;
}

static json_t *desired_rules(json_t *list)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach(list, i, r) {
		json_t *n = ali_rule_norm(r);

		if (n && !has_rule(out, n))
			json_array_append(out, n);
		json_decref(n);
	}
	return out;
}

/* Make the group's rules those of attrs.ingress / attrs.egress (a
 * direction the attrs leave out is left alone). */
static int sg_apply(ali_ctx *x, const char *id)
{
	json_t *attr = NULL, *cur, *want;
	int rc = sg_attribute(x, id, &attr);

	if (rc)
		return rc;
	cur = ali_sg_rules(attr);
	json_decref(attr);
	for (int ingress = 1; ingress >= 0 && !rc; ingress--) {
		const char *dir = ingress ? "ingress" : "egress";
		json_t *in = json_object_get(x->attrs, dir), *have = json_object_get(cur, dir);

		if (!json_is_array(in))
			continue;
		want = desired_rules(in);
		rc = sg_send(x, id, ingress ? "RevokeSecurityGroup" : "RevokeSecurityGroupEgress", have,
		             want, ingress);
		if (!rc)
			rc = sg_send(x, id,
			             ingress ? "AuthorizeSecurityGroup" : "AuthorizeSecurityGroupEgress",
			             want, have, ingress);
		json_decref(want);
	}
	json_decref(cur);
	return rc;
}

static int sg_emit(ali_ctx *x, json_t *attr, json_t *item)
{
	json_t *attrs = ali_sg_rules(attr), *tags = NULL;
	int rc;

	json_object_set_new(attrs, "vpcId", json_string(ali_jstr(attr, "VpcId")));
	ali_tags(item, "Tags.Tag", &tags, NULL);
	rc = ali_emit(x->sink, ali_jstr(attr, "SecurityGroupId"), ali_jstr(attr, "SecurityGroupName"),
	              "Available", attrs, tags, &x->e);
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

static int sg_observe(ali_ctx *x, const char *id)
{
	ali_params p = {0};
	json_t *attr = NULL, *r = NULL, *item;
	char *ids = ali_json_list1(id);
	int rc = sg_attribute(x, id, &attr);

	if (!rc) {
		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "SecurityGroupIds", ids ? ids : "[]");
		rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeSecurityGroups", &p, id, &r, &x->e);
		ali_params_free(&p);
	}
	if (!rc) {
		item = json_array_get(ali_jlist(r, "SecurityGroups.SecurityGroup"), 0);
		rc = item ? sg_emit(x, attr, item)
		          : bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidSecurityGroupId.NotFound",
		                         "DescribeSecurityGroups: %s does not exist", id);
	}
	free(ids);
	json_decref(attr);
	json_decref(r);
	return rc;
}

int ali_sg_create(ali_ctx *x)
{
	const char *vpc = ali_jstr(json_object_get(x->refs, "vnet"), "system_id");
	char token[80], id[64];
	ali_params p = {0};
	json_t *r = NULL;
	int rc;

	if (!*vpc)
		return bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput",
		                    "a security group needs refs.vnet (its VPC)");
	ali_client_token(x, "", token, sizeof(token));
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "VpcId", vpc);
	ali_params_add(&p, "SecurityGroupName", x->name);
	ali_params_add(&p, "SecurityGroupType", "normal");
	if (*token)
		ali_params_add(&p, "ClientToken", token);
	ali_params_tags(&p, x->tags, NULL);
	rc = ali_rpc(x->s, x->call, ALI_ECS, "CreateSecurityGroup", &p, vpc, &r, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	snprintf(id, sizeof(id), "%s", ali_jstr(r, "SecurityGroupId"));
	json_decref(r);
	if (!*id)
		return bar_kit_fail(&x->e, BAR_EFAIL, "InvalidResponse",
		                    "CreateSecurityGroup: no SecurityGroupId");
	rc = sg_apply(x, id);
	if (rc) {
		bar_kit_err keep = x->e;

		memset(&x->e, 0, sizeof(x->e));
		sg_observe(x, id);
		x->e = keep;
		return rc;
	}
	return sg_observe(x, id);
}

int ali_sg_read(ali_ctx *x)
{
	return sg_observe(x, x->id);
}

int ali_sg_update(ali_ctx *x)
{
	int rc = sg_apply(x, x->id);

	return rc ? rc : sg_observe(x, x->id);
}

int ali_sg_delete(ali_ctx *x)
{
	ali_params p = {0};
	json_t *r = NULL;
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "SecurityGroupId", x->id);
	rc = ali_rpc_patient(x, ALI_ECS, "DeleteSecurityGroup", &p, x->id, &r, 40);
	ali_params_free(&p);
	json_decref(r);
	return rc;
}

static int sg_list_one(ali_ctx *x, json_t *item, void *ud)
{
	json_t *attr = NULL, *t = NULL;
	int rc = BAR_OK;

	(void)ud;
	ali_tags(item, "Tags.Tag", &t, NULL);
	if (json_object_get(t, "barista:address")) {
		rc = sg_attribute(x, ali_jstr(item, "SecurityGroupId"), &attr);
		if (rc == BAR_ENOTFOUND) { /* deleted since the page was read */
			memset(&x->e, 0, sizeof(x->e));
			rc = BAR_OK;
		} else if (!rc)
			rc = sg_emit(x, attr, item);
	}
	json_decref(t);
	json_decref(attr);
	return rc;
}

int ali_sg_list(ali_ctx *x)
{
	ali_params p = {0};
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "Tag.1.Key", "barista:address");
	rc = ali_pages(x, ALI_ECS, "DescribeSecurityGroups", &p, "SecurityGroups.SecurityGroup",
	               ALI_PAGE_TOKEN, 100, sg_list_one, NULL);
	ali_params_free(&p);
	return rc;
}
