/*
 * os_net.c - the Neutron resources: vnet (a network, its subnets and, when
 * the cloud has an external network, a router with its gateway there and an
 * interface in each subnet) and securitygroup (a security group whose rules
 * are brought to the desired set in place).
 *
 * Neutron has no idempotency token.  A create therefore puts
 * "barista:idempotency=<key>" into the standard attribute `description` of
 * what it makes, in the same POST (atomic with the create), and looks for
 * that description first: a retried or resumed create finds what the key
 * made.  Tags ("key=value" strings, os_tag_encode) are set right after with
 * PUT .../tags; a crash between the two leaves a resource the next create
 * with the same key adopts and tags.
 */
#include "os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEUTRON_PAGE 1000

/* "barista:idempotency=<key>" for the call, or "" without a key. */
static void idem_desc(os_ctx *x, const json_t *in, char *out, size_t size)
{
	const char *key = x->call->idempotency_key;

	if (!key || !*key)
		key = json_string_value(json_object_get(os_in_tags(in), "barista:idempotency"));
	snprintf(out, size, "%s%s", key && *key ? "barista:idempotency=" : "",
	         key && *key ? key : "");
}

/* PUT /<coll>/<id>/tags with the input's tags. */
int os_net_tags(os_ctx *x, const char *coll, const char *id, const json_t *tags,
                    const char *op)
{
	json_t *arr = json_array(), *v, *body;
	char path[256], tag[512];
	const char *k;
	int rc = BAR_OK;

	json_object_foreach((json_t *)tags, k, v) {
		if (!json_is_string(v))
			continue;
		if (os_tag_encode(tag, sizeof(tag), k, json_string_value(v)) < 0) {
			rc = bar_kit_fail(&x->e, BAR_EINVALID, "TagTooLong", "openstack: tag %s is "
			                  "longer than Neutron's 255 characters once encoded", k);
			break;
		}
		json_array_append_new(arr, json_string(tag));
	}
	body = json_pack("{s:o}", "tags", arr);
	snprintf(path, sizeof(path), "/%s/%s/tags", coll, id);
	if (rc == BAR_OK)
		rc = os_req(x, "PUT", OS_NETWORK, path, body, op, id, NULL, NULL);
	json_decref(body);
	return rc;
}

/*
 * Every item of a Neutron collection matching `query` ("" or "a=b&c=d",
 * already encoded), page by page with the largest page, appended to *items
 * (a new array).
 */
int os_net_list(os_ctx *x, const char *coll, const char *key, const char *query,
                    const char *op, json_t **items)
{
	char marker[64] = "", links[80];
	int rc = BAR_OK;

	*items = json_array();
	snprintf(links, sizeof(links), "%s_links", key);
	for (int pages = 0; pages < 100000; pages++) {
		bar_kit_buf path = {0};
		json_t *j = NULL, *it, *l;
		size_t i, n;
		int next = 0;

		bar_kit_buf_printf(&path, "/%s?limit=%d%s%s", coll, NEUTRON_PAGE, *query ? "&" : "",
		                   query);
		if (*marker)
			bar_kit_buf_printf(&path, "&marker=%s", marker);
		if (path.failed) {
			bar_kit_buf_free(&path);
			return bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
		}
		rc = os_req(x, "GET", OS_NETWORK, path.p, NULL, op, NULL, &j, NULL);
		bar_kit_buf_free(&path);
		if (rc != BAR_OK)
			break;
		n = json_array_size(json_object_get(j, key));
		json_array_foreach(json_object_get(j, key), i, it) {
			json_array_append(*items, it);
			if (i + 1 == n && json_string_value(json_object_get(it, "id")))
				snprintf(marker, sizeof(marker), "%s",
				         json_string_value(json_object_get(it, "id")));
		}
		json_array_foreach(json_object_get(j, links), i, l) {
			const char *rel = json_string_value(json_object_get(l, "rel"));

			next |= rel && strcmp(rel, "next") == 0;
		}
		json_decref(j);
		if (!next || !n)
			break;
	}
	if (rc != BAR_OK) {
		json_decref(*items);
		*items = NULL;
	}
	return rc;
}

/* The first item of a collection whose `attr` is `value`, or NULL. */
int os_net_find(os_ctx *x, const char *coll, const char *key, const char *attr,
                    const char *value, const char *op, json_t **out)
{
	bar_kit_buf q = {0};
	json_t *items = NULL;
	int rc;

	*out = NULL;
	bar_kit_buf_printf(&q, "%s=", attr);
	bar_kit_buf_urlencode(&q, value, 0);
	if (q.failed) {
		bar_kit_buf_free(&q);
		return bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory");
	}
	rc = os_net_list(x, coll, key, q.p, op, &items);
	bar_kit_buf_free(&q);
	if (rc == BAR_OK && json_array_size(items))
		*out = json_incref(json_array_get(items, 0));
	json_decref(items);
	return rc;
}

/* ---- vnet ---- */

static const char *net_status(const char *native)
{
	if (!native || strcmp(native, "ACTIVE") == 0 || strcmp(native, "DOWN") == 0)
		return "Available";
	if (strcmp(native, "BUILD") == 0)
		return "Creating";
	return "Failed";
}

static int cmp_subnet(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));

	return strcmp(x ? x : "", y ? y : "");
}

/* Emit a network with its subnets and router (both arrays borrowed). */
static int vnet_emit(os_ctx *x, bar_sink *out, const json_t *net, const json_t *subnets,
                     const json_t *routers)
{
	const char *id = json_string_value(json_object_get(net, "id"));
	const char *native = json_string_value(json_object_get(net, "status"));
	json_t *subs = json_array(), *s, *attrs, *tags, *list[256];
	const char *router = "";
	char want[128];
	size_t i, n = 0;
	int rc;

	snprintf(want, sizeof(want), "barista:network=%s", id ? id : "");
	json_array_foreach(routers, i, s) {
		const char *d = json_string_value(json_object_get(s, "description"));

		if (d && strcmp(d, want) == 0 && json_string_value(json_object_get(s, "id")))
			router = json_string_value(json_object_get(s, "id"));
	}
	json_array_foreach(subnets, i, s) {
		const char *nid = json_string_value(json_object_get(s, "network_id"));

		if (nid && id && strcmp(nid, id) == 0 && n < 256)
			list[n++] = s;
	}
	qsort(list, n, sizeof(list[0]), cmp_subnet);
	for (i = 0; i < n; i++) {
		const char *nm = json_string_value(json_object_get(list[i], "name"));
		const char *cidr = json_string_value(json_object_get(list[i], "cidr"));
		const char *sid = json_string_value(json_object_get(list[i], "id"));

		json_array_append_new(subs, json_pack("{s:s,s:s,s:s}", "cidr", cidr ? cidr : "",
		                                      "id", sid ? sid : "", "name", nm ? nm : ""));
	}
	attrs = json_pack("{s:s,s:s,s:o}", "nativeStatus", native ? native : "", "routerId",
	                  router, "subnets", subs);
	tags = os_tags_decode(json_object_get(net, "tags"));
	rc = os_emit(x, out, id ? id : "", json_string_value(json_object_get(net, "name")),
	             net_status(native), attrs, tags);
	json_decref(attrs);
	json_decref(tags);
	return rc;
}

/* The network's subnets and routers, for vnet_emit. */
static int vnet_parts(os_ctx *x, const char *id, json_t **subnets, json_t **routers)
{
	char q[128], desc[128];
	bar_kit_buf d = {0};
	int rc;

	*routers = NULL;
	snprintf(q, sizeof(q), "network_id=%s", id);
	if ((rc = os_net_list(x, "subnets", "subnets", q, "network.subnets.list", subnets)))
		return rc;
	snprintf(desc, sizeof(desc), "barista:network=%s", id);
	bar_kit_buf_str(&d, "description=");
	bar_kit_buf_urlencode(&d, desc, 0);
	rc = d.failed ? bar_kit_fail(&x->e, BAR_EFAIL, "OutOfMemory", "openstack: out of memory")
	              : os_net_list(x, "routers", "routers", d.p, "network.routers.list", routers);
	bar_kit_buf_free(&d);
	if (rc) {
		json_decref(*subnets);
		*subnets = NULL;
	}
	return rc;
}

int os_vnet_read(os_ctx *x, const char *id, bar_sink *out)
{
	json_t *j = NULL, *subs = NULL, *routers = NULL;
	char path[128];
	int rc;

	if (!os_is_uuid(id))
		return bar_kit_fail(&x->e, BAR_ENOTFOUND, "NetworkNotFound",
		                    "network.networks.show: no network %s", id);
	snprintf(path, sizeof(path), "/networks/%s", id);
	if ((rc = os_req(x, "GET", OS_NETWORK, path, NULL, "network.networks.show", id, &j, NULL)))
		return rc;
	if (!(rc = vnet_parts(x, id, &subs, &routers)))
		rc = vnet_emit(x, out, json_object_get(j, "network"), subs, routers);
	json_decref(j);
	json_decref(subs);
	json_decref(routers);
	return rc;
}

/* The id of the first external network, or "" (no router then). */
int os_net_external(os_ctx *x, char *out, size_t size)
{
	json_t *n = NULL;
	int rc = os_net_find(x, "networks", "networks", "router:external", "True",
	                  "network.networks.list", &n);

	snprintf(out, size, "%s", n && json_string_value(json_object_get(n, "id"))
	                              ? json_string_value(json_object_get(n, "id")) : "");
	json_decref(n);
	return rc;
}

/* The router for network id: found by its description, or made. */
static int vnet_router(os_ctx *x, const json_t *in, const char *id, const json_t *new_subnets)
{
	char ext[64], desc[128], path[160];
	json_t *r = NULL, *body, *ans = NULL, *s;
	const char *rid;
	size_t i;
	int rc;

	if ((rc = os_net_external(x, ext, sizeof(ext))) || !*ext)
		return rc;
	snprintf(desc, sizeof(desc), "barista:network=%s", id);
	if ((rc = os_net_find(x, "routers", "routers", "description", desc, "network.routers.list",
	                   &r)))
		return rc;
	if (!r) {
		body = json_pack("{s:{s:s,s:s,s:{s:s}}}", "router", "name",
		                 json_string_value(json_object_get(in, "name")), "description", desc,
		                 "external_gateway_info", "network_id", ext);
		rc = os_req(x, "POST", OS_NETWORK, "/routers", body, "network.routers.create", id,
		            &ans, NULL);
		json_decref(body);
		if (rc)
			return rc;
		r = json_incref(json_object_get(ans, "router"));
		json_decref(ans);
	}
	rid = json_string_value(json_object_get(r, "id"));
	if (!rid) {
		json_decref(r);
		return bar_kit_fail(&x->e, BAR_EFAIL, "BadResponse", "network.routers.create: no id");
	}
	rc = os_net_tags(x, "routers", rid, os_in_tags(in), "network.routers.tags.update_all");
	snprintf(path, sizeof(path), "/routers/%s/add_router_interface", rid);
	json_array_foreach(new_subnets, i, s) {
		json_t *b = json_pack("{s:s}", "subnet_id", json_string_value(s));

		if (rc == BAR_OK)
			rc = os_req(x, "PUT", OS_NETWORK, path, b, "network.routers.add_router_interface",
			            rid, NULL, NULL);
		json_decref(b);
	}
	json_decref(r);
	return rc;
}

/* Make the subnets of attrs.subnets the network lacks; their ids in *made. */
static int vnet_subnets(os_ctx *x, const json_t *in, const char *id, const char *desc,
                        json_t *made)
{
	json_t *have = NULL, *want = json_object_get(json_object_get(in, "attrs"), "subnets"), *w,
	       *h;
	char q[128];
	size_t i, k;
	int rc;

	snprintf(q, sizeof(q), "network_id=%s", id);
	if ((rc = os_net_list(x, "subnets", "subnets", q, "network.subnets.list", &have)))
		return rc;
	json_array_foreach(want, i, w) {
		const char *name = json_string_value(json_object_get(w, "name"));
		const char *cidr = json_string_value(json_object_get(w, "cidr"));
		json_t *body, *ans = NULL;
		int found = 0;

		if (!name || !cidr) {
			rc = bar_kit_fail(&x->e, BAR_EINVALID, "InvalidInput", "openstack: each subnet "
			                  "needs a name and a cidr");
			break;
		}
		json_array_foreach(have, k, h) {
			const char *hn = json_string_value(json_object_get(h, "name"));

			found |= hn && strcmp(hn, name) == 0;
		}
		if (found)
			continue;
		body = json_pack("{s:{s:s,s:s,s:s,s:i,s:s}}", "subnet", "network_id", id, "name",
		                 name, "cidr", cidr, "ip_version", strchr(cidr, ':') ? 6 : 4,
		                 "description", desc);
		rc = os_req(x, "POST", OS_NETWORK, "/subnets", body, "network.subnets.create", id,
		            &ans, NULL);
		json_decref(body);
		if (rc == BAR_OK) {
			const char *sid = json_string_value(
			    json_object_get(json_object_get(ans, "subnet"), "id"));

			if (sid) {
				json_array_append_new(made, json_string(sid));
				rc = os_net_tags(x, "subnets", sid, os_in_tags(in),
				              "network.subnets.tags.update_all");
			}
		}
		json_decref(ans);
		if (rc)
			break;
	}
	json_decref(have);
	return rc;
}

int os_vnet_create(os_ctx *x, json_t *in, bar_sink *out)
{
	char desc[160];
	json_t *net = NULL, *ans = NULL, *made = json_array(), *body;
	const char *id;
	int rc;

	idem_desc(x, in, desc, sizeof(desc));
	if (*desc && (rc = os_net_find(x, "networks", "networks", "description", desc,
	                            "network.networks.list", &net)))
		goto done;
	if (!net) {
		body = json_pack("{s:{s:s,s:s,s:b}}", "network", "name",
		                 json_string_value(json_object_get(in, "name")), "description", desc,
		                 "admin_state_up", 1);
		rc = os_req(x, "POST", OS_NETWORK, "/networks", body, "network.networks.create", NULL,
		            &ans, NULL);
		json_decref(body);
		if (rc)
			goto done;
		net = json_incref(json_object_get(ans, "network"));
	}
	if (!(id = json_string_value(json_object_get(net, "id")))) {
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "BadResponse", "network.networks.create: no id");
		goto done;
	}
	rc = os_net_tags(x, "networks", id, os_in_tags(in), "network.networks.tags.update_all");
	if (rc == BAR_OK)
		rc = vnet_subnets(x, in, id, desc, made);
	if (rc == BAR_OK)
		rc = vnet_router(x, in, id, made);
	{
		bar_kit_err keep = x->e;
		int r2;

		/* emit what was made even when a later step failed (a partial create) */
		x->e = (bar_kit_err){0};
		r2 = os_vnet_read(x, id, out);
		if (rc)
			x->e = keep;
		else
			rc = r2;
	}
done:
	json_decref(net);
	json_decref(ans);
	json_decref(made);
	return rc;
}

int os_vnet_delete(os_ctx *x, const char *id)
{
	json_t *subs = NULL, *routers = NULL, *r, *s;
	char path[160];
	size_t i, k;
	int rc;

	if (!os_is_uuid(id))
		return bar_kit_fail(&x->e, BAR_ENOTFOUND, "NetworkNotFound", "no network %s", id);
	if ((rc = vnet_parts(x, id, &subs, &routers)))
		return rc;
	json_array_foreach(routers, i, r) {
		const char *rid = json_string_value(json_object_get(r, "id"));

		if (!rid)
			continue;
		snprintf(path, sizeof(path), "/routers/%s/remove_router_interface", rid);
		json_array_foreach(subs, k, s) {
			json_t *b = json_pack("{s:s}", "subnet_id",
			                      json_string_value(json_object_get(s, "id")));

			rc = os_req(x, "PUT", OS_NETWORK, path, b,
			            "network.routers.remove_router_interface", rid, NULL, NULL);
			json_decref(b);
			if (rc == BAR_ENOTFOUND)
				x->e = (bar_kit_err){0}, rc = BAR_OK; /* never attached */
			if (rc)
				goto done;
		}
		snprintf(path, sizeof(path), "/routers/%s", rid);
		rc = os_req(x, "DELETE", OS_NETWORK, path, NULL, "network.routers.delete", rid, NULL,
		            NULL);
		if (rc == BAR_ENOTFOUND)
			x->e = (bar_kit_err){0}, rc = BAR_OK;
		if (rc)
			goto done;
	}
	/* deleting the network deletes its subnets */
	snprintf(path, sizeof(path), "/networks/%s", id);
	rc = os_req(x, "DELETE", OS_NETWORK, path, NULL, "network.networks.delete", id, NULL, NULL);
done:
	json_decref(subs);
	json_decref(routers);
	return rc;
}

int os_vnet_list(os_ctx *x, bar_sink *out)
{
	json_t *nets = NULL, *subs = NULL, *routers = NULL, *n;
	size_t i;
	int rc;

	if ((rc = os_net_list(x, "networks", "networks", "", "network.networks.list", &nets)) ||
	    (rc = os_net_list(x, "subnets", "subnets", "", "network.subnets.list", &subs)) ||
	    (rc = os_net_list(x, "routers", "routers", "", "network.routers.list", &routers)))
		goto done;
	json_array_foreach(nets, i, n) {
		json_t *tags = os_tags_decode(json_object_get(n, "tags"));
		int ours = json_object_get(tags, "barista:address") != NULL;

		json_decref(tags);
		if (ours && (rc = vnet_emit(x, out, n, subs, routers)))
			break;
	}
done:
	json_decref(nets);
	json_decref(subs);
	json_decref(routers);
	return rc;
}

/* ---- securitygroup ---- */

/* A Barista rule as the Neutron rule body that makes it (new reference). */
static json_t *rule_body(const json_t *r, const char *dir, const char *sg)
{
	const char *proto = json_string_value(json_object_get(r, "protocol"));
	const char *cidr = json_string_value(json_object_get(r, "cidr"));
	json_int_t from = json_integer_value(json_object_get(r, "fromPort"));
	json_int_t to = json_integer_value(json_object_get(r, "toPort"));
	json_t *b;

	if (!cidr || !*cidr)
		cidr = "0.0.0.0/0";
	b = json_pack("{s:s,s:s,s:s,s:s}", "security_group_id", sg, "direction", dir,
	              "ethertype", strchr(cidr, ':') ? "IPv6" : "IPv4", "remote_ip_prefix", cidr);
	if (proto && strcmp(proto, "all") != 0 && strcmp(proto, "-1") != 0) {
		json_object_set_new(b, "protocol", json_string(proto));
		if (strcmp(proto, "icmp") != 0 && from >= 0) {
			json_object_set_new(b, "port_range_min", json_integer(from));
			json_object_set_new(b, "port_range_max", json_integer(to >= from ? to : from));
		}
	}
	return b;
}

/* A rule's Barista form, compared by text (new string). */
static char *rule_key(const json_t *neutron_rule)
{
	json_t *one = json_pack("[O]", neutron_rule), *obs = os_rules_observe(one), *r;
	const char *dir = json_string_value(json_object_get(neutron_rule, "direction"));
	char *text = NULL, *out = NULL;

	r = json_array_get(json_object_get(obs, dir && strcmp(dir, "ingress") == 0 ? "ingress"
	                                                                           : "egress"), 0);
	if (r && (text = json_dumps(r, OS_JSON)) &&
	    asprintf(&out, "%s %s", dir ? dir : "", text) < 0)
		out = NULL;
	free(text);
	json_decref(one);
	json_decref(obs);
	return out;
}

/* Bring the group's rules to attrs.ingress/egress: delete the others, add
 * the missing ones. */
static int sg_sync(os_ctx *x, const char *sg, const json_t *attrs)
{
	static const char *const dirs[] = {"ingress", "egress"};
	json_t *have = NULL, *want = json_array(), *w, *h;
	char q[128], path[128];
	size_t i, k;
	int rc;

	snprintf(q, sizeof(q), "security_group_id=%s", sg);
	if ((rc = os_net_list(x, "security-group-rules", "security_group_rules", q,
	                   "network.security_group_rules.list", &have)))
		goto done;
	for (int d = 0; d < 2; d++)
		json_array_foreach(json_object_get(attrs, dirs[d]), i, w)
			json_array_append_new(want, rule_body(w, dirs[d], sg));
	json_array_foreach(have, i, h) { /* delete what is not wanted */
		char *hk = rule_key(h);
		int keep = 0;

		json_array_foreach(want, k, w) {
			char *wk = rule_key(w);

			keep |= hk && wk && strcmp(hk, wk) == 0;
			free(wk);
		}
		free(hk);
		if (keep || json_is_string(json_object_get(h, "remote_group_id")))
			continue;
		snprintf(path, sizeof(path), "/security-group-rules/%s",
		         json_string_value(json_object_get(h, "id")));
		rc = os_req(x, "DELETE", OS_NETWORK, path, NULL, "network.security_group_rules.delete",
		            sg, NULL, NULL);
		if (rc == BAR_ENOTFOUND)
			x->e = (bar_kit_err){0}, rc = BAR_OK;
		if (rc)
			goto done;
	}
	json_array_foreach(want, i, w) { /* add what is missing */
		char *wk = rule_key(w);
		int found = 0;
		json_t *body;

		json_array_foreach(have, k, h) {
			char *hk = rule_key(h);

			found |= hk && wk && strcmp(hk, wk) == 0;
			free(hk);
		}
		for (size_t j = 0; j < i && !found; j++) { /* a duplicate in the input */
			char *jk = rule_key(json_array_get(want, j));

			found |= jk && wk && strcmp(jk, wk) == 0;
			free(jk);
		}
		free(wk);
		if (found)
			continue;
		body = json_pack("{s:O}", "security_group_rule", w);
		rc = os_req(x, "POST", OS_NETWORK, "/security-group-rules", body,
		            "network.security_group_rules.create", sg, NULL, NULL);
		json_decref(body);
		if (rc == BAR_ECONFLICT && strcmp(x->e.code, "SecurityGroupRuleExists") == 0)
			x->e = (bar_kit_err){0}, rc = BAR_OK;
		if (rc)
			goto done;
	}
done:
	json_decref(have);
	json_decref(want);
	return rc;
}

static int sg_emit(os_ctx *x, bar_sink *out, const json_t *sg)
{
	json_t *attrs = os_rules_observe(json_object_get(sg, "security_group_rules"));
	json_t *tags = os_tags_decode(json_object_get(sg, "tags"));
	int rc = os_emit(x, out, json_string_value(json_object_get(sg, "id")),
	                 json_string_value(json_object_get(sg, "name")), "Available", attrs, tags);

	json_decref(attrs);
	json_decref(tags);
	return rc;
}

int os_sg_read(os_ctx *x, const char *id, bar_sink *out)
{
	json_t *j = NULL;
	char path[128];
	int rc;

	if (!os_is_uuid(id))
		return bar_kit_fail(&x->e, BAR_ENOTFOUND, "SecurityGroupNotFound",
		                    "network.security_groups.show: no security group %s", id);
	snprintf(path, sizeof(path), "/security-groups/%s", id);
	if (!(rc = os_req(x, "GET", OS_NETWORK, path, NULL, "network.security_groups.show", id, &j,
	                  NULL)))
		rc = sg_emit(x, out, json_object_get(j, "security_group"));
	json_decref(j);
	return rc;
}

int os_sg_create(os_ctx *x, json_t *in, bar_sink *out)
{
	char desc[160];
	json_t *sg = NULL, *ans = NULL, *body;
	const char *id;
	int rc;

	idem_desc(x, in, desc, sizeof(desc));
	if (*desc && (rc = os_net_find(x, "security-groups", "security_groups", "description", desc,
	                            "network.security_groups.list", &sg)))
		goto done;
	if (!sg) {
		body = json_pack("{s:{s:s,s:s}}", "security_group", "name",
		                 json_string_value(json_object_get(in, "name")), "description", desc);
		rc = os_req(x, "POST", OS_NETWORK, "/security-groups", body,
		            "network.security_groups.create", NULL, &ans, NULL);
		json_decref(body);
		if (rc)
			goto done;
		sg = json_incref(json_object_get(ans, "security_group"));
	}
	if (!(id = json_string_value(json_object_get(sg, "id")))) {
		rc = bar_kit_fail(&x->e, BAR_EFAIL, "BadResponse", "security group without an id");
		goto done;
	}
	rc = os_net_tags(x, "security-groups", id, os_in_tags(in),
	              "network.security_groups.tags.update_all");
	if (rc == BAR_OK)
		rc = sg_sync(x, id, json_object_get(in, "attrs"));
	{
		bar_kit_err keep = x->e;
		int r2;

		x->e = (bar_kit_err){0};
		r2 = os_sg_read(x, id, out);
		if (rc)
			x->e = keep;
		else
			rc = r2;
	}
done:
	json_decref(sg);
	json_decref(ans);
	return rc;
}

int os_sg_update(os_ctx *x, json_t *in, bar_sink *out)
{
	const char *id = json_string_value(json_object_get(in, "system_id"));
	int rc;

	if (!os_is_uuid(id))
		return bar_kit_fail(&x->e, BAR_ENOTFOUND, "SecurityGroupNotFound",
		                    "no security group %s", id);
	if ((rc = sg_sync(x, id, json_object_get(in, "attrs"))))
		return rc;
	return os_sg_read(x, id, out);
}

int os_sg_delete(os_ctx *x, const char *id)
{
	char path[128];

	if (!os_is_uuid(id))
		return bar_kit_fail(&x->e, BAR_ENOTFOUND, "SecurityGroupNotFound",
		                    "no security group %s", id);
	snprintf(path, sizeof(path), "/security-groups/%s", id);
	return os_req(x, "DELETE", OS_NETWORK, path, NULL, "network.security_groups.delete", id,
	              NULL, NULL);
}

int os_sg_list(os_ctx *x, bar_sink *out)
{
	json_t *all = NULL, *sg;
	size_t i;
	int rc;

	if ((rc = os_net_list(x, "security-groups", "security_groups", "",
	                   "network.security_groups.list", &all)))
		return rc;
	json_array_foreach(all, i, sg) {
		json_t *tags = os_tags_decode(json_object_get(sg, "tags"));
		int ours = json_object_get(tags, "barista:address") != NULL;

		json_decref(tags);
		if (ours && (rc = sg_emit(x, out, sg)))
			break;
	}
	json_decref(all);
	return rc;
}
