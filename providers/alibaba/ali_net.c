/*
 * ali_net.c - VNets (a VPC and one vSwitch per subnet, VPC API) and
 * security groups (ECS security groups in the VPC, rules updated in place).
 */
#include "ali.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- VNet ---- */

/* A VPC as read: the DescribeVpcs answer, the VPC's node in it (-1 when it
 * does not exist) and its vSwitches. */
typedef struct vnet {
	bar_kit_jdoc *doc;
	int vpc;
	ali_items vsw;
} vnet;

static void vnet_clear(vnet *v)
{
	bar_kit_jfree(v->doc);
	ali_items_free(&v->vsw);
	v->doc = NULL;
	v->vpc = -1;
}

/* The VPC id into *v (cleared first; the caller clears it after). */
static int vnet_fetch(ali_ctx *x, const char *id, vnet *v)
{
	ali_params p = {0};
	int rc, n;

	vnet_clear(v);
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "VpcId", id);
	rc = ali_rpc(x->s, x->call, ALI_VPC, "DescribeVpcs", &p, id, &v->doc, &x->e);
	ali_params_free(&p);
	if (rc)
		return rc;
	n = bar_kit_jat(v->doc, ali_jlist(v->doc, 0, "Vpcs.Vpc"), 0);
	if (n >= 0 && strcmp(ali_jstr(v->doc, n, "VpcId"), id) == 0)
		v->vpc = n;
	if (v->vpc < 0)
		return BAR_OK;
	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "VpcId", id);
	rc = ali_pages_keep(x, ALI_VPC, "DescribeVSwitches", &p, "VSwitches.VSwitch",
	                    ALI_PAGE_NUMBER, 50, &v->vsw);
	ali_params_free(&p);
	return rc;
}

/* Emit the VPC at node n of d with the vSwitches in vsw (those of other
 * VPCs passed over). */
static int vnet_emit(ali_ctx *x, const bar_kit_jdoc *d, int n, const ali_items *vsw)
{
	json_t *attrs = ali_vnet_attrs(d, n, vsw->v, vsw->n), *tags = NULL;
	const char *status = ali_res_status(ali_jstr(d, n, "Status"));
	int rc;

	/* a VNet is Available once its vSwitches are too */
	for (size_t i = 0; i < vsw->n; i++) {
		const char *st = ali_jstr(vsw->v[i].d, vsw->v[i].n, "Status");

		if (strcmp(ali_jstr(vsw->v[i].d, vsw->v[i].n, "VpcId"), ali_jstr(d, n, "VpcId")) == 0 &&
		    strcmp(ali_res_status(st), "Available") != 0 && strcmp(status, "Available") == 0)
			status = ali_res_status(st);
	}
	ali_tags(d, n, "Tags.Tag", &tags, NULL);
	rc = attrs ? ali_emit(x->sink, ali_jstr(d, n, "VpcId"), ali_jstr(d, n, "VpcName"), status,
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
		vnet v = {.vpc = -1};
		int rc = vnet_fetch(x, id, &v), busy = 0;

		if (!rc && v.vpc < 0)
			rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidVpcId.NotFound",
			                  "DescribeVpcs: VPC %s does not exist", id);
		if (!rc) {
			busy = strcmp(ali_jstr(v.doc, v.vpc, "Status"), "Pending") == 0;
			for (size_t i = 0; i < v.vsw.n; i++)
				busy |= strcmp(ali_jstr(v.vsw.v[i].d, v.vsw.v[i].n, "Status"), "Pending") == 0;
			if (!busy && emit)
				rc = vnet_emit(x, v.doc, v.vpc, &v.vsw);
		}
		vnet_clear(&v);
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
	json_t *subnets = json_object_get(x->attrs, "subnets"), *sub;
	bar_kit_jdoc *r = NULL;
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
	snprintf(vpc, sizeof(vpc), "%s", ali_jstr(r, 0, "VpcId"));
	bar_kit_jfree(r);
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
		rc = ali_rpc_patient(x, ALI_VPC, "CreateVSwitch", &p, vpc, NULL, 20);
		ali_params_free(&p);
	}
	if (!rc)
		return vnet_settle(x, vpc, 1);
	/* made, then failed: report what there is (the host records it failed) */
	{
		bar_kit_err keep = x->e;
		vnet v = {.vpc = -1};

		memset(&x->e, 0, sizeof(x->e));
		if (vnet_fetch(x, vpc, &v) == BAR_OK && v.vpc >= 0)
			vnet_emit(x, v.doc, v.vpc, &v.vsw);
		vnet_clear(&v);
		x->e = keep;
	}
	return rc;
}

int ali_vnet_read(ali_ctx *x)
{
	vnet v = {.vpc = -1};
	int rc = vnet_fetch(x, x->id, &v);

	if (!rc && v.vpc < 0)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidVpcId.NotFound",
		                  "DescribeVpcs: VPC %s does not exist", x->id);
	if (!rc)
		rc = vnet_emit(x, v.doc, v.vpc, &v.vsw);
	vnet_clear(&v);
	return rc;
}

int ali_vnet_delete(ali_ctx *x)
{
	vnet v = {.vpc = -1};
	ali_params p = {0};
	int rc = vnet_fetch(x, x->id, &v);

	if (!rc && v.vpc < 0)
		rc = bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidVpcId.NotFound",
		                  "DescribeVpcs: VPC %s does not exist", x->id);
	for (size_t i = 0; i < v.vsw.n && !rc; i++) {
		const char *vsw = ali_jstr(v.vsw.v[i].d, v.vsw.v[i].n, "VSwitchId");

		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "VSwitchId", vsw);
		rc = ali_rpc_patient(x, ALI_VPC, "DeleteVSwitch", &p, vsw, NULL, 40);
		ali_params_free(&p);
		if (rc == BAR_ENOTFOUND) {
			memset(&x->e, 0, sizeof(x->e));
			rc = BAR_OK;
		}
	}
	if (!rc) {
		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "VpcId", x->id);
		rc = ali_rpc_patient(x, ALI_VPC, "DeleteVpc", &p, x->id, NULL, 40);
		ali_params_free(&p);
	}
	vnet_clear(&v);
	return rc;
}

int ali_vnet_list(ali_ctx *x)
{
	ali_items vpcs = {0}, vsws = {0};
	ali_params p = {0};
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "Tag.1.Key", "barista:address");
	rc = ali_pages_keep(x, ALI_VPC, "DescribeVpcs", &p, "Vpcs.Vpc", ALI_PAGE_NUMBER, 50, &vpcs);
	if (!rc && vpcs.n)
		rc = ali_pages_keep(x, ALI_VPC, "DescribeVSwitches", &p, "VSwitches.VSwitch",
		                    ALI_PAGE_NUMBER, 50, &vsws);
	ali_params_free(&p);
	for (size_t i = 0; i < vpcs.n && !rc; i++) {
		json_t *t = NULL;

		ali_tags(vpcs.v[i].d, vpcs.v[i].n, "Tags.Tag", &t, NULL);
		if (json_object_get(t, "barista:address"))
			rc = vnet_emit(x, vpcs.v[i].d, vpcs.v[i].n, &vsws);
		json_decref(t);
	}
	ali_items_free(&vpcs);
	ali_items_free(&vsws);
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
	const char *proto = ali_in_str(r, "protocol");
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
	ali_params_add(p, k, ali_in_str(r, "cidr"));
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
	json_t *r;
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
			rc = ali_rpc(x->s, x->call, ALI_ECS, action, &p, id, NULL, &x->e);
			ali_params_free(&p);
			n = 0;
			if (rc)
				return rc;
		}
	}
	if (n)
		rc = ali_rpc(x->s, x->call, ALI_ECS, action, &p, id, NULL, &x->e);
	ali_params_free(&p);
	return rc;
}

/* DescribeSecurityGroupAttribute of id: the answer in *out. */
static int sg_attribute(ali_ctx *x, const char *id, bar_kit_jdoc **out)
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
	bar_kit_jdoc *attr = NULL;
	json_t *cur, *want;
	int rc = sg_attribute(x, id, &attr);

	if (rc)
		return rc;
	cur = ali_sg_rules(attr, 0);
	bar_kit_jfree(attr);
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

/* Emit the group: its rules from the DescribeSecurityGroupAttribute answer
 * attr, its tags from the DescribeSecurityGroups item at node n of d. */
static int sg_emit(ali_ctx *x, const bar_kit_jdoc *attr, const bar_kit_jdoc *d, int n)
{
	json_t *attrs = ali_sg_rules(attr, 0), *tags = NULL;
	int rc;

	json_object_set_new(attrs, "vpcId", json_string(ali_jstr(attr, 0, "VpcId")));
	ali_tags(d, n, "Tags.Tag", &tags, NULL);
	rc = ali_emit(x->sink, ali_jstr(attr, 0, "SecurityGroupId"),
	              ali_jstr(attr, 0, "SecurityGroupName"), "Available", attrs, tags, &x->e);
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

static int sg_observe(ali_ctx *x, const char *id)
{
	ali_params p = {0};
	bar_kit_jdoc *attr = NULL, *r = NULL;
	char *ids = ali_json_list1(id);
	int item, rc = sg_attribute(x, id, &attr);

	if (!rc) {
		ali_params_add(&p, "RegionId", x->region);
		ali_params_add(&p, "SecurityGroupIds", ids ? ids : "[]");
		rc = ali_rpc(x->s, x->call, ALI_ECS, "DescribeSecurityGroups", &p, id, &r, &x->e);
		ali_params_free(&p);
	}
	if (!rc) {
		item = bar_kit_jat(r, ali_jlist(r, 0, "SecurityGroups.SecurityGroup"), 0);
		rc = item >= 0 ? sg_emit(x, attr, r, item)
		               : bar_kit_fail(&x->e, BAR_ENOTFOUND, "InvalidSecurityGroupId.NotFound",
		                              "DescribeSecurityGroups: %s does not exist", id);
	}
	free(ids);
	bar_kit_jfree(attr);
	bar_kit_jfree(r);
	return rc;
}

int ali_sg_create(ali_ctx *x)
{
	const char *vpc = ali_in_str(json_object_get(x->refs, "vnet"), "system_id");
	char token[80], id[64];
	ali_params p = {0};
	bar_kit_jdoc *r = NULL;
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
	snprintf(id, sizeof(id), "%s", ali_jstr(r, 0, "SecurityGroupId"));
	bar_kit_jfree(r);
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
	int rc;

	ali_params_add(&p, "RegionId", x->region);
	ali_params_add(&p, "SecurityGroupId", x->id);
	rc = ali_rpc_patient(x, ALI_ECS, "DeleteSecurityGroup", &p, x->id, NULL, 40);
	ali_params_free(&p);
	return rc;
}

static int sg_list_one(ali_ctx *x, const bar_kit_jdoc *page, int item, void *ud)
{
	bar_kit_jdoc *attr = NULL;
	json_t *t = NULL;
	int rc = BAR_OK;

	(void)ud;
	ali_tags(page, item, "Tags.Tag", &t, NULL);
	if (json_object_get(t, "barista:address")) {
		rc = sg_attribute(x, ali_jstr(page, item, "SecurityGroupId"), &attr);
		if (rc == BAR_ENOTFOUND) { /* deleted since the page was read */
			memset(&x->e, 0, sizeof(x->e));
			rc = BAR_OK;
		} else if (!rc)
			rc = sg_emit(x, attr, page, item);
	}
	json_decref(t);
	bar_kit_jfree(attr);
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
