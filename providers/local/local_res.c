/*
 * local_res.c - the local provider's resources other than VMs: VNets
 * (bridges), security groups, SSH keys, images and specs, plus the metadata
 * helpers every type shares.
 *
 * Each resource is a directory <root>/<type>/<id>/ holding meta.json:
 *   {"type","name","namespace","region","tags","attrs" (desired, as given),
 *    "observed" (what read/list report), "local" (private bookkeeping)}.
 * Images and specs are catalog entries with nothing physical behind them;
 * an SSH key keeps only its public half.
 */
#include "local.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAX (16 * 1024)

int bar_local_res_dir(bar_local_ctx *c, char *buf, const char *type, const char *id)
{
	return bar_local_path(c, buf, "%s/%s/%s", c->root, type, id);
}

int bar_local_meta_load(bar_local_ctx *c, json_t **out, const char *type, const char *id)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = bar_local_path(c, path, "%s/%s/%s/meta.json", c->root, type, id)))
		return rc;
	rc = bar_local_json_load(c, out, path);
	if (rc == BAR_ENOTFOUND)
		bar_local_fail(c, rc, BAR_LOCAL_E_NOTFOUND, "%s %s does not exist", type, id);
	return rc;
}

int bar_local_meta_save(bar_local_ctx *c, const char *type, const char *id, json_t *meta)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = bar_local_path(c, path, "%s/%s/%s/meta.json", c->root, type, id)))
		return rc;
	return bar_local_json_save(c, path, meta);
}

int bar_local_res_begin(bar_local_ctx *c, char *out_id, json_t **out_meta, const char *type,
                        const char *prefix, json_t *in)
{
	char dir[PATH_MAX], id[BAR_LOCAL_ID_MAX];
	json_t *tags = json_object_get(in, "tags"), *attrs = json_object_get(in, "attrs");
	const char *name = json_string_value(json_object_get(in, "name"));
	const char *ns = json_string_value(json_object_get(in, "namespace"));
	int rc;

	if (!name || !*name)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "the input of a %s has no name", type);
	if ((rc = bar_local_path(c, dir, "%s/%s", c->root, type)) ||
	    (rc = bar_local_mkdirs(c, dir, 0700)))
		return rc;
	for (int tries = 0;; tries++) {
		if ((rc = bar_local_id_new(c, id, prefix)) ||
		    (rc = bar_local_res_dir(c, dir, type, id)))
			return rc;
		if (mkdir(dir, 0700) == 0)
			break;
		if (errno != EEXIST || tries > 8)
			return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "mkdir %s: %s", dir,
			                      strerror(errno));
	}
	*out_meta = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:{},s:{}}", "type", type, "name", name,
	                      "namespace", ns ? ns : "", "region",
	                      c->call->region ? c->call->region : "", "tags",
	                      json_is_object(tags) ? json_deep_copy(tags) : json_object(),
	                      "attrs", json_is_object(attrs) ? json_deep_copy(attrs) : json_object(),
	                      "observed", "local");
	if (!*out_meta) {
		rmdir(dir);
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "out of memory");
	}
	memcpy(out_id, id, sizeof(id));
	return 0;
}

/* Save the new resource and emit it; on failure remove its directory. */
static int res_finish(bar_local_ctx *c, const char *type, const char *id, json_t *meta,
                      bar_sink *out)
{
	char dir[PATH_MAX];
	int rc;

	if ((rc = bar_local_meta_save(c, type, id, meta)) == 0 &&
	    (rc = bar_local_emit(c, out, id, meta, "Available")) == 0)
		return 0;
	if (bar_local_res_dir(c, dir, type, id) == 0)
		bar_local_rmtree(c, dir);
	return rc;
}

/* Ids of the VMs whose metadata uses `id` as its VNet or a security group. */
static int vm_users(bar_local_ctx *c, json_t **out, const char *id)
{
	char dir[PATH_MAX];
	json_t *users = json_array();
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if ((rc = bar_local_path(c, dir, "%s/vm", c->root)))
		goto done;
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			json_t *meta = NULL, *local, *v;
			size_t i;
			int saved = c->err.rc;

			if (!bar_local_id_valid(e->d_name, "bvm") ||
			    bar_local_meta_load(c, &meta, "vm", e->d_name)) {
				c->err.rc = saved;
				continue;
			}
			local = json_object_get(meta, "local");
			const char *vnet = json_string_value(json_object_get(local, "vnet"));
			int uses = vnet && strcmp(vnet, id) == 0;
			json_array_foreach(json_object_get(local, "securityGroups"), i, v)
				uses |= json_is_string(v) && strcmp(json_string_value(v), id) == 0;
			if (uses)
				json_array_append_new(users, json_string(e->d_name));
			json_decref(meta);
		}
		closedir(d);
	}
	*out = users;
	users = NULL;
done:
	json_decref(users);
	return rc;
}

static int refuse_in_use(bar_local_ctx *c, const char *type, const char *id)
{
	json_t *users = NULL;
	char *list;
	int rc;

	if ((rc = vm_users(c, &users, id)))
		return rc;
	if (json_array_size(users) > 0) {
		list = bar_local_json_text(users);
		rc = bar_local_fail(c, BAR_ECONFLICT, BAR_LOCAL_E_INUSE,
		                    "%s %s is still used by VMs %s; delete them first", type, id,
		                    list ? list : "");
		free(list);
	}
	json_decref(users);
	return rc;
}

/* ---- vnet ---- */

/* Validate subnets: inside the VNet, /16../30, unique names, no overlap. */
static int vnet_subnets(bar_local_ctx *c, json_t **out, const bar_local_cidr *vnet, json_t *subnets)
{
	json_t *res = json_array(), *s;
	bar_local_cidr seen[256];
	char gw[INET_ADDRSTRLEN + 4];
	size_t i;
	int rc = 0;

	if (json_array_size(subnets) == 0 || json_array_size(subnets) > 256) {
		rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                    "a vnet needs 1 to 256 subnets");
		goto done;
	}
	json_array_foreach(subnets, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		const char *cidr = json_string_value(json_object_get(s, "cidr"));

		if (!name || !*name) {
			rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
			                    "subnet %zu has no name", i);
			goto done;
		}
		if ((rc = bar_local_cidr_parse(c, &seen[i], cidr, "subnet cidr")))
			goto done;
		if (seen[i].prefix < vnet->prefix || !bar_local_cidr_overlap(&seen[i], vnet) ||
		    seen[i].prefix < 16 || seen[i].prefix > 30) {
			rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
			                    "subnet \"%s\" (%s) must lie inside the vnet cidr and be "
			                    "a /16 to /30", name, cidr);
			goto done;
		}
		for (size_t k = 0; k < i; k++) {
			const char *other = json_string_value(json_object_get(json_array_get(subnets, k), "name"));
			if (bar_local_cidr_overlap(&seen[k], &seen[i]) || strcmp(other, name) == 0) {
				rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
				                    "subnet \"%s\" clashes with subnet \"%s\" (same name "
				                    "or overlapping cidr)", name, other);
				goto done;
			}
		}
		bar_local_ip_format(gw, sizeof(gw), seen[i].net + 1);
		json_array_append_new(res, json_pack("{s:s,s:s,s:s}", "cidr", cidr, "gateway", gw,
		                                     "name", name));
	}
	*out = res;
	res = NULL;
done:
	json_decref(res);
	return rc;
}

/* Refuse a CIDR overlapping another local VNet (any region, same host). */
static int vnet_overlap_check(bar_local_ctx *c, const bar_local_cidr *cidr, const char *text)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if ((rc = bar_local_path(c, dir, "%s/vnet", c->root)) || !(d = opendir(dir)))
		return rc;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		json_t *meta = NULL;
		bar_local_cidr other;
		int saved = c->err.rc;

		if (!bar_local_id_valid(e->d_name, "bnet") ||
		    bar_local_meta_load(c, &meta, "vnet", e->d_name)) {
			c->err.rc = saved;
			continue;
		}
		const char *ot = json_string_value(json_object_get(json_object_get(meta, "observed"), "cidr"));
		if (ot && bar_local_cidr_parse(c, &other, ot, "cidr") == 0 &&
		    bar_local_cidr_overlap(&other, cidr))
			rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
			                    "vnet cidr %s overlaps vnet \"%s\" (%s, %s) on this host; "
			                    "local vnets share the host's routing table, so their "
			                    "cidrs must not overlap",
			                    text, json_string_value(json_object_get(meta, "name")),
			                    e->d_name, ot);
		c->err.rc = rc ? c->err.rc : saved;
		json_decref(meta);
	}
	closedir(d);
	return rc;
}

int bar_local_vnet_create(bar_local_ctx *c, json_t *in, bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *meta = NULL, *subnets = NULL;
	const char *text = json_string_value(json_object_get(attrs, "cidr"));
	char id[BAR_LOCAL_ID_MAX] = "", path[PATH_MAX];
	bar_local_cidr cidr;
	int priv = json_is_true(json_object_get(attrs, "private")), lock = -1, rc;

	if ((rc = bar_local_cidr_parse(c, &cidr, text, "vnet cidr")) ||
	    (rc = vnet_subnets(c, &subnets, &cidr, json_object_get(attrs, "subnets"))) ||
	    (rc = bar_local_path(c, path, "%s/vnet.lock", c->root)) ||
	    (rc = bar_local_lock(c, &lock, path, LOCK_EX)) ||
	    (rc = vnet_overlap_check(c, &cidr, text)) ||
	    (rc = bar_local_res_begin(c, id, &meta, "vnet", "bnet", in)))
		goto done;
	json_object_set_new(meta, "observed", json_pack("{s:s,s:s,s:O}", "bridge", id, "cidr", text,
	                                                "subnets", subnets));
	if (priv)
		json_object_set_new(json_object_get(meta, "observed"), "private", json_true());
	if ((rc = bar_local_meta_save(c, "vnet", id, meta)))
		goto done;
	bar_local_unlock(lock);
	lock = -1;
	if ((rc = bar_local_bridge_create(c, id, subnets)) ||
	    (priv && (rc = bar_local_private_add(c, id, text))))
		goto done;
	rc = bar_local_emit(c, out, id, meta, "Available");
done:
	bar_local_unlock(lock);
	if (rc && id[0]) {
		if (priv)
			bar_local_private_drop(c, id);
		bar_local_bridge_delete(c, id);
		if (bar_local_res_dir(c, path, "vnet", id) == 0)
			bar_local_rmtree(c, path);
	}
	json_decref(subnets);
	json_decref(meta);
	return rc;
}

int bar_local_vnet_status(bar_local_ctx *c, const char *id, json_t *meta, const char **status)
{
	(void)meta;
	if (!bar_local_link_exists(id))
		return bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		                      "vnet %s: its bridge %s is gone", id, id);
	*status = "Available";
	return 0;
}

int bar_local_vnet_delete(bar_local_ctx *c, const char *id)
{
	char dir[PATH_MAX];
	int existed, rc;

	if ((rc = bar_local_res_dir(c, dir, "vnet", id)))
		return rc;
	existed = access(dir, F_OK) == 0 || bar_local_link_exists(id);
	if (!existed)
		return bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		                      "vnet %s does not exist", id);
	if ((rc = refuse_in_use(c, "vnet", id)) || (rc = bar_local_bridge_delete(c, id)))
		return rc;
	bar_local_private_drop(c, id); /* cheap, and right for a half-made VNet too */
	return bar_local_rmtree(c, dir);
}

/* ---- security groups ---- */

static int sg_rules(bar_local_ctx *c, json_t **ingress, json_t **egress, json_t *attrs)
{
	int rc = bar_local_rules_normalise(c, ingress, json_object_get(attrs, "ingress"), "ingress");

	if (rc == 0 &&
	    (rc = bar_local_rules_normalise(c, egress, json_object_get(attrs, "egress"), "egress"))) {
		json_decref(*ingress);
		*ingress = NULL;
	}
	return rc;
}

int bar_local_sg_create(bar_local_ctx *c, json_t *in, bar_sink *out)
{
	json_t *ingress = NULL, *egress = NULL, *meta = NULL, *vmeta = NULL;
	const char *vnet = json_string_value(
	    json_object_get(json_object_get(json_object_get(in, "refs"), "vnet"), "system_id"));
	char id[BAR_LOCAL_ID_MAX];
	int rc;

	if (!bar_local_id_valid(vnet, "bnet"))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "a security group needs a reference to a local vnet "
		                      "(refs.vnet.system_id bnet-...)");
	if ((rc = bar_local_meta_load(c, &vmeta, "vnet", vnet))) {
		c->err.rc = 0;
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vnet %s of the security group does not exist", vnet);
	}
	if ((rc = sg_rules(c, &ingress, &egress, json_object_get(in, "attrs"))) ||
	    (rc = bar_local_res_begin(c, id, &meta, "securitygroup", "bsg", in)))
		goto done;
	json_object_set_new(meta, "observed", json_pack("{s:O,s:O,s:s}", "egress", egress,
	                                                "ingress", ingress, "vnet", vnet));
	rc = res_finish(c, "securitygroup", id, meta, out);
done:
	json_decref(vmeta);
	json_decref(meta);
	json_decref(ingress);
	json_decref(egress);
	return rc;
}

/* Re-apply the firewall of every live VM using security group `id`. */
static int sg_reapply(bar_local_ctx *c, const char *id)
{
	json_t *users = NULL, *v;
	size_t i;
	int rc;

	if ((rc = vm_users(c, &users, id)))
		return rc;
	json_array_foreach(users, i, v) {
		const char *vm = json_string_value(v);
		json_t *meta = NULL;

		if (!bar_local_netns_exists(vm) || bar_local_meta_load(c, &meta, "vm", vm)) {
			c->err.rc = 0; /* not built yet or gone: it reads the rules itself */
			json_decref(meta);
			continue;
		}
		rc = bar_local_firewall_apply(
		    c, vm, json_object_get(json_object_get(meta, "local"), "securityGroups"), 0);
		json_decref(meta);
		if (rc)
			break;
	}
	json_decref(users);
	return rc;
}

int bar_local_sg_update(bar_local_ctx *c, const char *id, json_t *meta, json_t *in,
                        bar_sink *out)
{
	json_t *ingress = NULL, *egress = NULL, *obs = json_object_get(meta, "observed");
	json_t *tags = json_object_get(in, "tags");
	const char *vnet = json_string_value(
	    json_object_get(json_object_get(json_object_get(in, "refs"), "vnet"), "system_id"));
	int lock = -1, rc;

	const char *was = json_string_value(json_object_get(obs, "vnet"));

	if (vnet && (!was || strcmp(vnet, was) != 0))
		return bar_local_fail(c, BAR_ENOTSUP, BAR_LOCAL_E_NOTSUP,
		                      "moving a security group to another vnet needs a replacement");
	if ((rc = sg_rules(c, &ingress, &egress, json_object_get(in, "attrs"))) ||
	    (rc = bar_local_firewall_lock(c, &lock, LOCK_EX)))
		goto done;
	json_object_set(meta, "attrs", json_object_get(in, "attrs"));
	json_object_set(obs, "ingress", ingress);
	json_object_set(obs, "egress", egress);
	if (json_is_object(tags))
		json_object_set(meta, "tags", tags);
	if ((rc = bar_local_meta_save(c, "securitygroup", id, meta)) || (rc = sg_reapply(c, id)))
		goto done;
	rc = bar_local_emit(c, out, id, meta, "Available");
done:
	bar_local_unlock(lock);
	json_decref(ingress);
	json_decref(egress);
	return rc;
}

int bar_local_sg_delete(bar_local_ctx *c, const char *id)
{
	char dir[PATH_MAX];
	int rc;

	if ((rc = bar_local_res_dir(c, dir, "securitygroup", id)))
		return rc;
	if (access(dir, F_OK) < 0)
		return bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		                      "security group %s does not exist", id);
	if ((rc = refuse_in_use(c, "security group", id)))
		return rc;
	return bar_local_rmtree(c, dir);
}
