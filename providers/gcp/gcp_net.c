/*
 * gcp_net.c - VNets and security groups on Compute Engine.
 *
 * A VNet is a custom-mode network (autoCreateSubnetworks false; global, like
 * every GCP network) with one regional subnetwork per Barista subnet.  A
 * network always has the default route to the internet gateway, so a VM with
 * an external address is reachable once a firewall rule lets traffic in.
 *
 * A security group is a set of firewall rules of one network that all
 * target one network tag, the group's system id; a VM of the group carries
 * the tag.  The group's own object is its "anchor" rule, named like the tag:
 * an EGRESS deny of everything at priority 65534, so that "egress: []"
 * allows nothing (Compute Engine otherwise allows all egress) while another
 * group's allow rules (priority 1000) still win.  Rule i of ingress is the
 * firewall "<tag>-i<i>", of egress "<tag>-e<i>".
 *
 * Networks and firewalls have no labels: the Barista tags, the name, the
 * region the VNet belongs to and its CIDR are kept as a JSON object in the
 * description (gcp_parse_description), and list keeps those of the call's
 * region only.
 */
#include "gcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gcp_list_each(gcp_ctx *x, const char *rel, const char *filter, const char *operation,
                  int aggregated, const char *field, gcp_each_fn each, void *ctx)
{
	char tok[1024] = "";
	size_t rlen = strlen(x->call->region);
	int rc = BAR_OK;

	for (int page = 0; page < 100000 && rc == BAR_OK; page++) {
		bar_kit_buf q = {0};
		bar_kit_jdoc *d = NULL;
		const char *next;
		int items, v, it;

		bar_kit_buf_str(&q, "maxResults=500");
		if (filter) {
			bar_kit_buf_str(&q, "&filter=");
			bar_kit_buf_urlencode(&q, filter, 0);
		}
		if (*tok) {
			bar_kit_buf_str(&q, "&pageToken=");
			bar_kit_buf_urlencode(&q, tok, 0);
		}
		rc = q.failed ? bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory")
		              : gcp_preq_doc(x, "GET", rel, q.p, NULL, operation, NULL, &d);
		bar_kit_buf_free(&q);
		if (rc != BAR_OK)
			break;
		items = bar_kit_jget(d, 0, "items");
		if (aggregated) {
			items = bar_kit_jobject(d, items);
			for (v = bar_kit_jfirst(d, items); v >= 0 && rc == BAR_OK;
			     v = bar_kit_jnext(d, items, v)) {
				const char *k = bar_kit_jkey(d, v);
				int arr = bar_kit_jarray(d, bar_kit_jget(d, v, field));
				if (!k || strncmp(k, "zones/", 6) != 0 ||
				    strncmp(k + 6, x->call->region, rlen) != 0 || k[6 + rlen] != '-')
					continue;
				for (it = bar_kit_jfirst(d, arr); it >= 0 && rc == BAR_OK;
				     it = bar_kit_jnext(d, arr, it))
					rc = each(x, d, it, ctx);
			}
		} else if (bar_kit_jtype(d, items) == BAR_KIT_JARRAY) {
			for (it = bar_kit_jfirst(d, items); it >= 0 && rc == BAR_OK;
			     it = bar_kit_jnext(d, items, it))
				rc = each(x, d, it, ctx);
		}
		next = bar_kit_jsv(d, bar_kit_jget(d, 0, "nextPageToken"));
		if (!*next || strlen(next) >= sizeof(tok))
			tok[0] = '\0';
		else
			snprintf(tok, sizeof(tok), "%s", next);
		bar_kit_jfree(d);
		if (!*tok)
			break;
	}
	return rc;
}

static int append(gcp_ctx *x, const bar_kit_jdoc *page, int item, void *ctx)
{
	if (json_array_append_new(ctx, bar_kit_jjson(page, item)) < 0)
		return bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");
	return BAR_OK;
}

int gcp_list(gcp_ctx *x, const char *rel, const char *filter, const char *operation,
             int aggregated, const char *field, json_t **items)
{
	json_t *all = json_array();
	int rc = all ? gcp_list_each(x, rel, filter, operation, aggregated, field, append, all)
	             : bar_kit_fail(x->e, BAR_EFAIL, "NoMemory", "gcp: out of memory");

	if (rc != BAR_OK) {
		json_decref(all);
		return rc;
	}
	*items = all;
	return BAR_OK;
}

/* A request whose answer is an Operation, waited for. */
static int mutate(gcp_ctx *x, const char *method, const char *rel, const char *request_id,
                  json_t *body, const char *operation, const char *resource)
{
	char q[64];
	json_t *op = NULL;
	int rc;

	if (request_id && *request_id)
		snprintf(q, sizeof(q), "requestId=%s", request_id);
	rc = gcp_preq(x, method, rel, request_id && *request_id ? q : NULL, body, operation,
	              resource, &op);
	if (rc == BAR_OK)
		rc = gcp_op_wait(x, op, operation);
	json_decref(op);
	return rc;
}

static json_t *describe(const char *kind, const char *name, const char *region, json_t *tags)
{
	return json_pack("{s:s,s:s,s:s,s:o}", "kind", kind, "name", name, "region", region, "tags",
	                 tags ? json_incref(tags) : json_object());
}

static char *dumps(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

/* When an insert said alreadyExists: is the thing there what this key made?
 * BAR_OK (adopted, error forgotten) or the conflict. */
static int adopt(gcp_ctx *x, const char *rel, const char *key, const char *operation, int rc)
{
	json_t *j = NULL, *d;
	const char *have;

	if (rc != BAR_ECONFLICT || strcmp(x->e->code, "alreadyExists") != 0)
		return rc;
	if (gcp_preq(x, "GET", rel, NULL, NULL, operation, NULL, &j) != BAR_OK)
		return rc;
	d = gcp_parse_description(gcp_str(j, "description"));
	have = gcp_str(json_object_get(d, "tags"), "barista:idempotency");
	if (key && *key && strcmp(have, key) == 0) {
		gcp_forgive(x);
		rc = BAR_OK;
	}
	json_decref(d);
	json_decref(j);
	return rc;
}

/* ---- vnet ---- */

static json_t *subnet_attr(json_t *sn)
{
	json_t *d = gcp_parse_description(gcp_str(sn, "description"));
	json_t *a = json_pack("{s:s,s:s,s:s}", "cidr", gcp_str(sn, "ipCidrRange"), "name",
	                      d ? gcp_str(d, "name") : gcp_str(sn, "name"), "subnetwork", gcp_str(sn, "name"));
	json_decref(d);
	return a;
}

static int by_name(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	return strcmp(gcp_str(*x, "name"), gcp_str(*y, "name"));
}

static void sort_by_name(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), by_name);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

static int vnet_emit(gcp_ctx *x, json_t *net, json_t *subnets, bar_sink *out)
{
	json_t *d = gcp_parse_description(gcp_str(net, "description"));
	json_t *a;
	int rc;

	sort_by_name(subnets);
	a = json_pack("{s:s,s:s,s:s,s:b,s:O}", "cidr", gcp_str(d, "cidr"), "nativeStatus", "READY",
	              "network", gcp_str(net, "name"), "private",
	              json_is_true(json_object_get(d, "private")), "subnets", subnets);
	rc = gcp_emit(x, out, gcp_str(net, "name"), d ? gcp_str(d, "name") : gcp_str(net, "name"), "Available",
	              a, d ? json_object_get(d, "tags") : NULL);
	json_decref(a);
	json_decref(d);
	return rc;
}

int gcp_vnet_read(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	char rel[256], pre[128];
	json_t *net = NULL, *subs = json_array(), *link;
	size_t i;
	int rc;

	(void)in;
	if (!gcp_valid_name(id)) {
		rc = bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no network %s", id);
		goto done;
	}
	snprintf(rel, sizeof(rel), "global/networks/%s", id);
	if ((rc = gcp_preq(x, "GET", rel, NULL, NULL, "compute.networks.get", id, &net)) != BAR_OK)
		goto done;
	snprintf(pre, sizeof(pre), "regions/%s/", x->call->region);
	json_array_foreach(json_object_get(net, "subnetworks"), i, link) {
		const char *r = gcp_rel(json_string_value(link));
		json_t *sn = NULL;

		if (!r || strncmp(r, pre, strlen(pre)) != 0)
			continue;
		rc = gcp_preq(x, "GET", r, NULL, NULL, "compute.subnetworks.get", gcp_last(r), &sn);
		if (rc == BAR_ENOTFOUND) { /* deleted meanwhile */
			gcp_forgive(x);
			continue;
		}
		if (rc != BAR_OK)
			goto done;
		json_array_append_new(subs, subnet_attr(sn));
		json_decref(sn);
	}
	rc = vnet_emit(x, net, subs, out);
done:
	json_decref(subs);
	json_decref(net);
	return rc;
}

int gcp_vnet_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *tags = json_object_get(in, "tags");
	json_t *subnets = json_object_get(attrs, "subnets"), *sub, *desc, *body = NULL;
	const char *name = gcp_str(in, "name"), *key = gcp_key(x, in), *cidr = gcp_str(attrs, "cidr");
	char net[GCP_NAME_MAX], rel[256], netlink[384];
	size_t i;
	int rc;

	gcp_name(net, sizeof(net), name, key, 48);
	desc = describe("barista-vnet", name, x->call->region, tags);
	json_object_set_new(desc, "cidr", json_string(cidr));
	json_object_set_new(desc, "private", json_boolean(json_is_true(json_object_get(attrs,
	                                                                               "private"))));
	{
		char *d = dumps(desc);
		body = json_pack("{s:s,s:b,s:s,s:{s:s}}", "name", net, "autoCreateSubnetworks", 0,
		                 "description", d ? d : "", "routingConfig", "routingMode", "REGIONAL");
		free(d);
	}
	snprintf(rel, sizeof(rel), "global/networks/%s", net);
	rc = mutate(x, "POST", "global/networks", key, body, "compute.networks.insert", net);
	rc = adopt(x, rel, key, "compute.networks.get", rc);
	json_decref(body);
	body = NULL;
	if (rc != BAR_OK)
		return rc;
	snprintf(netlink, sizeof(netlink), "projects/%s/global/networks/%s", x->project, net);
	json_array_foreach(subnets, i, sub) {
		const char *sname = gcp_str(sub, "name");
		char sn[GCP_NAME_MAX + 16], label[16], rid[37], srel[256];

		gcp_label_value(label, sizeof(label), sname);
		for (char *p = label; *p; p++)
			if (*p == '_')
				*p = '-';
		snprintf(sn, sizeof(sn), "%s-%s", net, label);
		if (strlen(sn) > 63)
			sn[63] = 0;
		while (strlen(sn) && sn[strlen(sn) - 1] == '-')
			sn[strlen(sn) - 1] = 0;
		gcp_subkey(rid, key, sname);
		desc = describe("barista-subnet", sname, x->call->region, NULL);
		body = json_pack("{s:s,s:s,s:s,s:s}", "name", sn, "network", netlink, "ipCidrRange",
		                 gcp_str(sub, "cidr"), "description", "");
		{
			char *d = dumps(desc);
			json_object_set_new(body, "description", json_string(d ? d : ""));
			free(d);
		}
		snprintf(srel, sizeof(srel), "regions/%s/subnetworks", x->call->region);
		rc = mutate(x, "POST", srel, rid, body, "compute.subnetworks.insert", sn);
		json_decref(body);
		body = NULL;
		if (rc == BAR_ECONFLICT && strcmp(x->e->code, "alreadyExists") == 0) {
			gcp_forgive(x);
			rc = BAR_OK;
		}
		if (rc != BAR_OK)
			break;
	}
	{
		/* emit what exists, also after a failed subnet (the host then
		 * records the VNet as failed and replaces it) */
		bar_kit_err keep = *x->e;
		int rrc;

		gcp_forgive(x);
		rrc = gcp_vnet_read(x, net, in, out);
		if (rc != BAR_OK) {
			*x->e = keep;
			return rc;
		}
		return rrc;
	}
}

int gcp_vnet_delete(gcp_ctx *x, const char *id)
{
	char rel[256];
	json_t *net = NULL, *link;
	size_t i;
	int rc;

	if (!gcp_valid_name(id))
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no network %s", id);
	snprintf(rel, sizeof(rel), "global/networks/%s", id);
	if ((rc = gcp_preq(x, "GET", rel, NULL, NULL, "compute.networks.get", id, &net)) != BAR_OK)
		return rc;
	json_array_foreach(json_object_get(net, "subnetworks"), i, link) {
		const char *r = gcp_rel(json_string_value(link));

		if (!r)
			continue;
		rc = mutate(x, "DELETE", r, NULL, NULL, "compute.subnetworks.delete", gcp_last(r));
		if (rc == BAR_ENOTFOUND) {
			gcp_forgive(x);
			rc = BAR_OK;
		}
		if (rc != BAR_OK)
			goto done;
	}
	rc = mutate(x, "DELETE", rel, NULL, NULL, "compute.networks.delete", id);
done:
	json_decref(net);
	return rc;
}

/* Ours, of this region, with barista:address: its parsed description. */
static json_t *listed(gcp_ctx *x, json_t *item, const char *kind)
{
	json_t *d = gcp_parse_description(gcp_str(item, "description"));

	if (d && strcmp(gcp_str(d, "kind"), kind) == 0 && strcmp(gcp_str(d, "region"), x->call->region) == 0 &&
	    json_is_string(json_object_get(json_object_get(d, "tags"), "barista:address")))
		return d;
	json_decref(d);
	return NULL;
}

int gcp_vnet_list(gcp_ctx *x, bar_sink *out)
{
	json_t *nets = NULL, *subs = NULL, *net, *sn;
	char rel[128];
	size_t i, j;
	int rc;

	if ((rc = gcp_list(x, "global/networks", NULL, "compute.networks.list", 0, NULL, &nets)))
		return rc;
	snprintf(rel, sizeof(rel), "regions/%s/subnetworks", x->call->region);
	if ((rc = gcp_list(x, rel, NULL, "compute.subnetworks.list", 0, NULL, &subs)))
		goto done;
	json_array_foreach(nets, i, net) {
		json_t *d = listed(x, net, "barista-vnet"), *mine;

		if (!d)
			continue;
		json_decref(d);
		mine = json_array();
		json_array_foreach(subs, j, sn)
			if (strcmp(gcp_last(gcp_str(sn, "network")), gcp_str(net, "name")) == 0)
				json_array_append_new(mine, subnet_attr(sn));
		rc = vnet_emit(x, net, mine, out);
		json_decref(mine);
		if (rc != BAR_OK)
			break;
	}
done:
	json_decref(nets);
	json_decref(subs);
	return rc;
}

/* ---- securitygroup ---- */

/* A Barista rule as a firewall's body. */
static json_t *rule_body(gcp_ctx *x, const char *fw, const char *tag, const char *net,
                         int ingress, json_t *rule)
{
	const char *proto = gcp_str(rule, "protocol"), *cidr = gcp_str(rule, "cidr");
	json_int_t from = json_integer_value(json_object_get(rule, "fromPort"));
	json_int_t to = json_integer_value(json_object_get(rule, "toPort"));
	json_t *allowed = json_object(), *b, *desc;
	char ports[32], netlink[384];
	char *d;

	if (!*proto || !strcmp(proto, "-1"))
		proto = "all";
	json_object_set_new(allowed, "IPProtocol", json_string(proto));
	if (json_is_integer(json_object_get(rule, "fromPort")) && from > 0 &&
	    (!strcmp(proto, "tcp") || !strcmp(proto, "udp"))) {
		if (to < from)
			to = from;
		if (to == from)
			snprintf(ports, sizeof(ports), "%lld", (long long)from);
		else
			snprintf(ports, sizeof(ports), "%lld-%lld", (long long)from, (long long)to);
		json_object_set_new(allowed, "ports", json_pack("[s]", ports));
	}
	snprintf(netlink, sizeof(netlink), "projects/%s/global/networks/%s", x->project, net);
	desc = json_pack("{s:s,s:s}", "kind", "barista-rule", "sg", tag);
	d = dumps(desc);
	b = json_pack("{s:s,s:s,s:s,s:i,s:[s],s:[s],s:[o],s:s}", "name", fw, "network", netlink,
	              "direction", ingress ? "INGRESS" : "EGRESS", "priority", 1000, "targetTags",
	              tag, ingress ? "sourceRanges" : "destinationRanges", *cidr ? cidr : "0.0.0.0/0",
	              "allowed", allowed, "description", d ? d : "");
	free(d);
	return b;
}

/* A firewall back as a Barista rule. */
static json_t *rule_attr(json_t *fw)
{
	int ingress = strcmp(gcp_str(fw, "direction"), "INGRESS") == 0;
	json_t *al = json_array_get(json_object_get(fw, "allowed"), 0);
	const char *ports = json_string_value(json_array_get(json_object_get(al, "ports"), 0));
	const char *cidr = json_string_value(
	    json_array_get(json_object_get(fw, ingress ? "sourceRanges" : "destinationRanges"), 0));
	long from = -1, to = -1;

	if (ports) {
		char *end;
		from = strtol(ports, &end, 10);
		to = *end == '-' ? strtol(end + 1, NULL, 10) : from;
	}
	return json_pack("{s:s,s:i,s:s,s:i}", "cidr", cidr ? cidr : "", "fromPort", (int)from,
	                 "protocol", gcp_str(al, "IPProtocol"), "toPort", (int)to);
}

/* The rule's direction and index from its name "<tag>-i<n>"/"-e<n>"; -1
 * when it is not one of the group's. */
static int rule_index(const char *tag, const char *name, int *ingress)
{
	size_t n = strlen(tag);
	char *end;
	long i;

	if (strncmp(name, tag, n) != 0 || name[n] != '-' || (name[n + 1] != 'i' && name[n + 1] != 'e'))
		return -1;
	i = strtol(name + n + 2, &end, 10);
	if (*end || end == name + n + 2 || i < 0 || i > 9999)
		return -1;
	*ingress = name[n + 1] == 'i';
	return (int)i;
}

static int sg_emit(gcp_ctx *x, json_t *anchor, json_t *fws, bar_sink *out)
{
	const char *tag = gcp_str(anchor, "name");
	json_t *d = gcp_parse_description(gcp_str(anchor, "description"));
	json_t *in[2] = {json_array(), json_array()}, *fw, *a;
	size_t i;
	int rc;

	/* in index order: the indices are dense (0..n-1) when the driver made them */
	for (int pass = 0; pass < 2; pass++) {
		for (int want = 0; want < 10000; want++) {
			int found = 0;
			json_array_foreach(fws, i, fw) {
				int ing = 0, idx = rule_index(tag, gcp_str(fw, "name"), &ing);
				if (idx == want && ing == (pass == 0)) {
					json_array_append_new(in[pass], rule_attr(fw));
					found = 1;
				}
			}
			if (!found)
				break;
		}
	}
	a = json_pack("{s:o,s:o,s:s,s:s,s:s}", "egress", in[1], "ingress", in[0], "nativeStatus",
	              json_is_true(json_object_get(anchor, "disabled")) ? "DISABLED" : "ENABLED",
	              "network", gcp_last(gcp_str(anchor, "network")), "targetTag", tag);
	rc = gcp_emit(x, out, tag, d ? gcp_str(d, "name") : tag, "Available", a,
	              d ? json_object_get(d, "tags") : NULL);
	json_decref(a);
	json_decref(d);
	return rc;
}

static int sg_rules(gcp_ctx *x, const char *tag, json_t **fws)
{
	char filter[128];

	snprintf(filter, sizeof(filter), "name eq \"%s-.*\"", tag);
	return gcp_list(x, "global/firewalls", filter, "compute.firewalls.list", 0, NULL, fws);
}

static int sg_anchor(gcp_ctx *x, const char *id, json_t **anchor)
{
	char rel[256];
	json_t *j = NULL, *d;
	int rc;

	if (!gcp_valid_name(id) || strlen(id) > 58)
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound", "gcp: no security group %s", id);
	snprintf(rel, sizeof(rel), "global/firewalls/%s", id);
	if ((rc = gcp_preq(x, "GET", rel, NULL, NULL, "compute.firewalls.get", id, &j)) != BAR_OK)
		return rc;
	d = gcp_parse_description(gcp_str(j, "description"));
	if (!d || strcmp(gcp_str(d, "kind"), "barista-sg") != 0) {
		json_decref(d);
		json_decref(j);
		return bar_kit_fail(x->e, BAR_ENOTFOUND, "notFound",
		                    "gcp: firewall %s is not a Barista security group", id);
	}
	json_decref(d);
	*anchor = j;
	return BAR_OK;
}

/* Make the group's rules what attrs say: update the rules that exist,
 * insert the missing ones, delete the extra ones. */
static int sg_sync(gcp_ctx *x, const char *tag, const char *net, json_t *attrs, const char *key)
{
	json_t *fws = NULL, *fw, *rule;
	const char *dirs[2] = {"ingress", "egress"};
	size_t i, j;
	int rc;

	if ((rc = sg_rules(x, tag, &fws)) != BAR_OK)
		return rc;
	for (int d = 0; d < 2; d++) {
		json_array_foreach(json_object_get(attrs, dirs[d]), i, rule) {
			char name[GCP_NAME_MAX + 16], rel[256], rid[37];
			json_t *body;
			int exists = 0;

			snprintf(name, sizeof(name), "%s-%c%zu", tag, d == 0 ? 'i' : 'e', i);
			json_array_foreach(fws, j, fw)
				if (strcmp(gcp_str(fw, "name"), name) == 0)
					exists = 1;
			body = rule_body(x, name, tag, net, d == 0, rule);
			snprintf(rel, sizeof(rel), "global/firewalls/%s", name);
			if (exists) {
				rc = mutate(x, "PUT", rel, NULL, body, "compute.firewalls.update", name);
			} else {
				gcp_subkey(rid, key, name);
				rc = mutate(x, "POST", "global/firewalls", key && *key ? rid : NULL, body,
				            "compute.firewalls.insert", name);
				if (rc == BAR_ECONFLICT && strcmp(x->e->code, "alreadyExists") == 0) {
					gcp_forgive(x);
					rc = mutate(x, "PUT", rel, NULL, body, "compute.firewalls.update", name);
				}
			}
			json_decref(body);
			if (rc != BAR_OK)
				goto done;
		}
	}
	json_array_foreach(fws, j, fw) {
		int ing = 0, idx = rule_index(tag, gcp_str(fw, "name"), &ing);
		char rel[256];

		if (idx < 0 || (size_t)idx < json_array_size(json_object_get(attrs, ing ? "ingress"
		                                                                       : "egress")))
			continue;
		snprintf(rel, sizeof(rel), "global/firewalls/%s", gcp_str(fw, "name"));
		rc = mutate(x, "DELETE", rel, NULL, NULL, "compute.firewalls.delete", gcp_str(fw, "name"));
		if (rc == BAR_ENOTFOUND) {
			gcp_forgive(x);
			rc = BAR_OK;
		}
		if (rc != BAR_OK)
			goto done;
	}
done:
	json_decref(fws);
	return rc;
}

int gcp_sg_read(gcp_ctx *x, const char *id, bar_sink *out)
{
	json_t *anchor = NULL, *fws = NULL;
	int rc;

	if ((rc = sg_anchor(x, id, &anchor)) != BAR_OK)
		return rc;
	if ((rc = sg_rules(x, id, &fws)) == BAR_OK)
		rc = sg_emit(x, anchor, fws, out);
	json_decref(anchor);
	json_decref(fws);
	return rc;
}

int gcp_sg_create(gcp_ctx *x, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *tags = json_object_get(in, "tags");
	const char *name = gcp_str(in, "name"), *key = gcp_key(x, in);
	const char *net = gcp_str(json_object_get(json_object_get(in, "refs"), "vnet"), "system_id");
	char tag[GCP_NAME_MAX], rel[256], netlink[384];
	json_t *body;
	char *d;
	int rc;

	if (!gcp_valid_name(net))
		return bar_kit_fail(x->e, BAR_EINVALID, "InvalidInput",
		                    "gcp: a security group needs its vnet (refs.vnet.system_id)");
	gcp_name(tag, sizeof(tag), name, key, 56);
	snprintf(netlink, sizeof(netlink), "projects/%s/global/networks/%s", x->project, net);
	d = dumps(describe("barista-sg", name, x->call->region, tags));
	body = json_pack("{s:s,s:s,s:s,s:i,s:[s],s:[s],s:[{s:s}],s:s}", "name", tag, "network",
	                 netlink, "direction", "EGRESS", "priority", 65534, "targetTags", tag,
	                 "destinationRanges", "0.0.0.0/0", "denied", "IPProtocol", "all",
	                 "description", d ? d : "");
	free(d);
	snprintf(rel, sizeof(rel), "global/firewalls/%s", tag);
	rc = mutate(x, "POST", "global/firewalls", key, body, "compute.firewalls.insert", tag);
	rc = adopt(x, rel, key, "compute.firewalls.get", rc);
	json_decref(body);
	if (rc != BAR_OK)
		return rc;
	rc = sg_sync(x, tag, net, attrs, key);
	{
		bar_kit_err keep = *x->e;
		int rrc;

		gcp_forgive(x);
		rrc = gcp_sg_read(x, tag, out);
		if (rc != BAR_OK) {
			*x->e = keep;
			return rc;
		}
		return rrc;
	}
}

int gcp_sg_update(gcp_ctx *x, const char *id, json_t *in, bar_sink *out)
{
	json_t *anchor = NULL;
	int rc;

	if ((rc = sg_anchor(x, id, &anchor)) != BAR_OK)
		return rc;
	rc = sg_sync(x, id, gcp_last(gcp_str(anchor, "network")), json_object_get(in, "attrs"), NULL);
	json_decref(anchor);
	if (rc == BAR_OK)
		rc = gcp_sg_read(x, id, out);
	return rc;
}

int gcp_sg_delete(gcp_ctx *x, const char *id)
{
	json_t *anchor = NULL, *fws = NULL, *fw;
	char rel[256];
	size_t i;
	int rc;

	if ((rc = sg_anchor(x, id, &anchor)) != BAR_OK)
		return rc;
	if ((rc = sg_rules(x, id, &fws)) != BAR_OK)
		goto done;
	json_array_foreach(fws, i, fw) {
		int ing;
		if (rule_index(id, gcp_str(fw, "name"), &ing) < 0)
			continue;
		snprintf(rel, sizeof(rel), "global/firewalls/%s", gcp_str(fw, "name"));
		rc = mutate(x, "DELETE", rel, NULL, NULL, "compute.firewalls.delete", gcp_str(fw, "name"));
		if (rc == BAR_ENOTFOUND) {
			gcp_forgive(x);
			rc = BAR_OK;
		}
		if (rc != BAR_OK)
			goto done;
	}
	snprintf(rel, sizeof(rel), "global/firewalls/%s", id);
	rc = mutate(x, "DELETE", rel, NULL, NULL, "compute.firewalls.delete", id);
done:
	json_decref(anchor);
	json_decref(fws);
	return rc;
}

int gcp_sg_list(gcp_ctx *x, bar_sink *out)
{
	json_t *fws = NULL, *fw;
	size_t i;
	int rc;

	if ((rc = gcp_list(x, "global/firewalls", NULL, "compute.firewalls.list", 0, NULL, &fws)))
		return rc;
	json_array_foreach(fws, i, fw) {
		json_t *d = listed(x, fw, "barista-sg");
		if (!d)
			continue;
		json_decref(d);
		if ((rc = sg_emit(x, fw, fws, out)) != BAR_OK)
			break;
	}
	json_decref(fws);
	return rc;
}
