/*
 * local_vm.c - VMs of the local provider: create, read status, update,
 * delete and the suspend/resume/reboot actions.
 *
 * A VM is <root>/vm/<id>/ (metadata, host key, sshd_config, home, logs),
 * network namespace <id> with a veth pair (host side <id> on the VNet's
 * bridge), cgroups barista/<id>, and a PID namespace whose PID 1 is
 * barista-local-init running sshd.  Create builds these in order and undoes
 * them all if any step fails; delete removes whatever of them is left, so it
 * also cleans up VMs that were half made or half destroyed.
 */
#include "local.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* What a create needs, parsed and checked from the input. */
typedef struct vm_plan {
	const char *hostname;
	const char *vnet;       /* system id */
	const char *bridge;
	const char *subnet;     /* name */
	bar_local_cidr cidr;
	char pubkey[8200];
	json_int_t vcpu, mem;
	int suspend;
	json_t *refs;      /* owned: ids of everything referenced */
	json_t *vnet_meta; /* owned */
} vm_plan;

static const char *ref_id(json_t *refs, const char *key)
{
	return json_string_value(json_object_get(json_object_get(refs, key), "system_id"));
}

/* {"image","spec","sshKey","vnet": ids, "securityGroups": [ids]} of the input. */
static json_t *refs_ids(json_t *in)
{
	json_t *refs = json_object_get(in, "refs"), *sgs = json_array(), *v;
	json_t *ids = json_object();
	static const char *const keys[] = { "image", "spec", "sshKey", "vnet" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *id = ref_id(refs, keys[i]);
		json_object_set_new(ids, keys[i], id ? json_string(id) : json_null());
	}
	json_array_foreach(json_object_get(refs, "securityGroups"), i, v) {
		const char *id = json_string_value(json_object_get(v, "system_id"));
		json_array_append_new(sgs, id ? json_string(id) : json_null());
	}
	json_object_set_new(ids, "securityGroups", sgs);
	return ids;
}

static int hostname_check(bar_local_ctx *c, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '.')
			n = 0;
	if (n == 0 || n > 63 || name[0] == '-' || name[0] == '.')
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vm name \"%s\" is not a valid hostname (letters, digits, '-', "
		                      "'.', at most 63)",
		                      name ? name : "");
	return 0;
}

static int plan_vnet(bar_local_ctx *c, vm_plan *p, json_t *in)
{
	json_t *subnets, *s;
	const char *want = json_string_value(json_object_get(json_object_get(in, "attrs"), "subnet"));
	char names[512] = "";
	size_t i, used = 0;

	p->vnet = ref_id(json_object_get(in, "refs"), "vnet");
	if (!bar_local_id_valid(p->vnet, "bnet") ||
	    bar_local_meta_load(c, &p->vnet_meta, "vnet", p->vnet)) {
		c->err.rc = 0;
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vm %s: its vnet reference (%s) is not a local vnet",
		                      p->hostname, p->vnet ? p->vnet : "none");
	}
	p->bridge = json_string_value(json_object_get(json_object_get(p->vnet_meta, "observed"), "bridge"));
	subnets = json_object_get(json_object_get(p->vnet_meta, "observed"), "subnets");
	json_array_foreach(subnets, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));

		if (name && (!want || strcmp(want, name) == 0)) {
			p->subnet = name;
			return bar_local_cidr_parse(c, &p->cidr,
			                            json_string_value(json_object_get(s, "cidr")), "subnet");
		}
		int n = snprintf(names + used, sizeof(names) - used, "%s\"%s\"", i ? ", " : "",
		                 name ? name : "");
		if (n > 0 && used + (size_t)n < sizeof(names))
			used += (size_t)n;
	}
	return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
	                      "vm %s: subnet \"%s\" is not in vnet %s (its subnets: %s)",
	                      p->hostname, want ? want : "", p->vnet, names);
}

static int plan_sgs(bar_local_ctx *c, vm_plan *p)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(p->refs, "securityGroups"), i, v) {
		const char *sg = json_string_value(v);
		json_t *meta = NULL;
		int ok;

		if (!bar_local_id_valid(sg, "bsg") ||
		    bar_local_meta_load(c, &meta, "securitygroup", sg)) {
			c->err.rc = 0;
			return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
			                      "vm %s: security group %s is not a local security group",
			                      p->hostname, sg ? sg : "(none)");
		}
		const char *vnet = json_string_value(json_object_get(json_object_get(meta, "observed"), "vnet"));
		ok = vnet && strcmp(vnet, p->vnet) == 0;
		json_decref(meta);
		if (!ok)
			return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
			                      "vm %s: security group %s belongs to another vnet than %s",
			                      p->hostname, sg, p->vnet);
	}
	return 0;
}

static int plan_key_spec(bar_local_ctx *c, vm_plan *p, json_t *in)
{
	json_t *refs = json_object_get(in, "refs");
	json_t *spec = json_object_get(json_object_get(refs, "spec"), "attrs");
	const char *key = json_string_value(
	    json_object_get(json_object_get(json_object_get(refs, "sshKey"), "attrs"), "publicKey"));
	const char *state = json_string_value(json_object_get(json_object_get(in, "attrs"), "state"));

	if (!key || !*key)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vm %s: its SSH key reference carries no publicKey; a local VM "
		                      "admits logins only with the public key of an sshKey resource",
		                      p->hostname);
	if (strlen(key) >= sizeof(p->pubkey))
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vm %s: publicKey is too long", p->hostname);
	strcpy(p->pubkey, key);
	p->vcpu = json_is_integer(json_object_get(spec, "vcpu"))
	              ? json_integer_value(json_object_get(spec, "vcpu")) : 1;
	p->mem = json_is_integer(json_object_get(spec, "memoryMiB"))
	             ? json_integer_value(json_object_get(spec, "memoryMiB")) : 512;
	if (p->vcpu < 1 || p->vcpu > c->prov->ncpu || p->mem < 16)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vm %s: spec of %lld vcpu / %lld MiB does not fit this host "
		                      "(%d CPUs; at least 16 MiB)",
		                      p->hostname, (long long)p->vcpu, (long long)p->mem,
		                      c->prov->ncpu);
	if (state && strcmp(state, "Running") != 0 && strcmp(state, "Suspended") != 0)
		return bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                      "vm %s: state \"%s\" is not Running or Suspended", p->hostname,
		                      state);
	p->suspend = state && strcmp(state, "Suspended") == 0;
	return bar_local_pubkey_check(c, p->pubkey);
}

static int plan_parse(bar_local_ctx *c, vm_plan *p, json_t *in)
{
	int rc;

	p->hostname = json_string_value(json_object_get(in, "name"));
	p->refs = refs_ids(in);
	if ((rc = hostname_check(c, p->hostname)) || (rc = plan_key_spec(c, p, in)) ||
	    (rc = plan_vnet(c, p, in)) || (rc = plan_sgs(c, p)))
		return rc;
	if (!p->bridge)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                      "vnet %s has no bridge in its metadata", p->vnet);
	return 0;
}

/* Lock one VM against concurrent update/action/delete. */
static int vm_lock(bar_local_ctx *c, int *fd, const char *id)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = bar_local_path(c, path, "%s/vm/%s/lock", c->root, id)))
		return rc;
	return bar_local_lock(c, fd, path, LOCK_EX);
}

/* Re-read the metadata once locked: another call may have changed it. */
static int vm_refresh(bar_local_ctx *c, json_t *meta, const char *id)
{
	json_t *fresh = NULL;
	int rc = bar_local_meta_load(c, &fresh, "vm", id);

	if (rc == 0)
		json_object_update(meta, fresh);
	json_decref(fresh);
	return rc;
}

/* Undo a VM: processes, cgroups, veth + netns, lease, files. */
static void vm_teardown(bar_local_ctx *c, const char *id, json_t *local)
{
	char dir[PATH_MAX];
	const char *vnet = json_string_value(json_object_get(local, "vnet"));

	bar_local_vm_kill(c, id, local);
	bar_local_cgroup_remove(c, id);
	bar_local_netns_delete(c, id);
	if (vnet)
		bar_local_lease_drop(c, vnet, id);
	if (bar_local_res_dir(c, dir, "vm", id) == 0)
		bar_local_rmtree(c, dir);
}

/* The kernel side of a new VM, once its files and address exist. */
static int vm_build(bar_local_ctx *c, const char *id, json_t *meta, vm_plan *p,
                    const char *dir, uint32_t ip)
{
	json_t *local = json_object_get(meta, "local");
	char ipt[INET_ADDRSTRLEN], hostkey[1200];
	const char *mode = "none";
	int lock = -1, rc;
	int64_t t[5];

	t[0] = bar_local_now_ms();
	bar_local_ip_format(ipt, sizeof(ipt), ip);
	if ((rc = bar_local_vm_files(c, dir, p->hostname, p->pubkey, ipt)) ||
	    (rc = bar_local_hostkey_generate(c, hostkey, sizeof(hostkey), dir, p->hostname)))
		goto done;
	t[1] = bar_local_now_ms();
	if ((rc = bar_local_netns_create(c, id, p->bridge, ip, p->cidr.prefix, p->cidr.net + 1)))
		goto done;
	t[2] = bar_local_now_ms();
	if ((rc = bar_local_cgroup_create(c, &mode, id, (int)p->vcpu, p->mem)))
		goto done;
	json_object_set_new(local, "cgroup", json_string(mode));
	if ((rc = bar_local_firewall_lock(c, &lock, LOCK_SH)) == 0) {
		rc = bar_local_firewall_apply(c, id, json_object_get(p->refs, "securityGroups"), 1);
		bar_local_unlock(lock);
	}
	t[3] = bar_local_now_ms();
	if (rc || (rc = bar_local_vm_boot(c, id, local)))
		goto done;
	t[4] = bar_local_now_ms();
	c->prov->host->log(c->call, BAR_LOG_DEBUG,
	                   "vm %s: files+host key %lld ms, netns %lld, cgroups+firewall %lld, "
	                   "boot %lld",
	                   id, (long long)(t[1] - t[0]), (long long)(t[2] - t[1]),
	                   (long long)(t[3] - t[2]), (long long)(t[4] - t[3]));
	if (p->suspend && (rc = bar_local_cgroup_freeze(c, mode, id, 1)))
		goto done;
	json_object_set_new(local, "state", json_string(p->suspend ? "Suspended" : "Running"));
	json_object_set_new(meta, "observed",
	                    json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:O,s:i,s:s,s:I}", "firewall",
	                              "enforced", "hostKey", hostkey,
	                              "hostname", p->hostname, "limits", mode, "memoryMiB", p->mem,
	                              "privateIp", ipt, "publicIp", ipt, "securityGroups",
	                              json_object_get(p->refs, "securityGroups"), "sshPort", 22,
	                              "subnet", p->subnet, "vcpu", p->vcpu));
	rc = bar_local_meta_save(c, "vm", id, meta);
done:
	return rc;
}

int bar_local_vm_create(bar_local_ctx *c, json_t *in, bar_sink *out)
{
	vm_plan p;
	char id[BAR_LOCAL_ID_MAX] = "", dir[PATH_MAX], ipt[INET_ADDRSTRLEN];
	json_t *meta = NULL;
	uint32_t ip = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	if ((rc = plan_parse(c, &p, in)) || (rc = bar_local_res_begin(c, id, &meta, "vm", "bvm", in)) ||
	    (rc = bar_local_res_dir(c, dir, "vm", id)))
		goto done;
	if ((rc = bar_local_lease_take(c, &ip, p.vnet, id, &p.cidr)))
		goto done;
	bar_local_ip_format(ipt, sizeof(ipt), ip);
	/* Saved before any kernel object exists, so security-group updates and
	 * a delete by id always find what this VM is made of. */
	json_object_set_new(meta, "local",
	                    json_pack("{s:s,s:s,s:s,s:s,s:i,s:O,s:O,s:s,s:s}", "vnet", p.vnet,
	                              "bridge", p.bridge, "subnet", p.subnet, "ip", ipt, "prefix",
	                              p.cidr.prefix, "securityGroups",
	                              json_object_get(p.refs, "securityGroups"), "refs", p.refs,
	                              "hostname", p.hostname, "state", "Creating"));
	if ((rc = bar_local_meta_save(c, "vm", id, meta)) ||
	    (rc = vm_build(c, id, meta, &p, dir, ip)))
		goto done;
	rc = bar_local_emit(c, out, id, meta,
	                    p.suspend ? "Suspended" : "Running");
done:
	if (rc && id[0])
		vm_teardown(c, id, json_object_get(meta, "local"));
	json_decref(p.refs);
	json_decref(p.vnet_meta);
	json_decref(meta);
	return rc;
}

/*
 * Whether the VM's firewall (nftables table inet barista in its netns) is
 * still there, as observed attribute "firewall": "enforced" or "missing".
 * It is restorable (the kit's type description): a table flushed out of
 * band is drift the planner repairs with an update.  VMs made before this
 * attribute existed are left as they are.
 */
static void observe_firewall(bar_local_ctx *c, const char *id, json_t *meta)
{
	if (!c->batch_fw)
		bar_local_vm_observe_firewalls(c, &id, &meta, 1);
}

#define FW_BATCH 16 /* nft processes at once */

void bar_local_vm_observe_firewalls(bar_local_ctx *c, const char *const *ids, json_t **metas,
                                    size_t n)
{
	const char *argv[] = { "/usr/sbin/nft", "list", "table", "inet", "barista", NULL };

	for (size_t at = 0; at < n; at += FW_BATCH) {
		bar_local_proc procs[FW_BATCH];
		int started[FW_BATCH] = {0};
		size_t k, m = n - at < FW_BATCH ? n - at : FW_BATCH;

		for (k = 0; k < m; k++) {
			json_t *obs = json_object_get(metas[at + k], "observed");

			if (json_is_object(obs) && json_object_get(obs, "firewall"))
				started[k] = bar_local_proc_start(c, &procs[k], argv, NULL,
				                                  ids[at + k]) == 0;
			c->err.rc = 0; /* could not look: leave it as recorded */
		}
		for (k = 0; k < m; k++) {
			json_t *obs = json_object_get(metas[at + k], "observed");
			int present;

			if (!started[k])
				continue;
			present = bar_local_proc_finish(c, &procs[k], NULL, 1) == 0;
			json_object_set_new(obs, "firewall",
			                    json_string(present ? "enforced" : "missing"));
		}
	}
}

int bar_local_vm_status(bar_local_ctx *c, const char *id, json_t *meta, const char **status)
{
	json_t *local = json_object_get(meta, "local");
	const char *mode = json_string_value(json_object_get(local, "cgroup"));

	if (!bar_local_netns_exists(id))
		return bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		                      "vm %s is gone: its network namespace no longer exists", id);
	if (!bar_local_vm_alive(local))
		return bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		                      "vm %s is gone: its init process is not running", id);
	switch (mode ? bar_local_cgroup_frozen(mode, id) : 0) {
	case 1: *status = "Suspended"; break;
	case 2: *status = "Suspending"; break;
	default: *status = "Running"; break;
	}
	observe_firewall(c, id, meta);
	return 0;
}

/* Freeze or thaw to `want` ("Running"/"Suspended") and record it. */
static int vm_set_state(bar_local_ctx *c, const char *id, json_t *meta, const char *want)
{
	json_t *local = json_object_get(meta, "local");
	const char *mode = json_string_value(json_object_get(local, "cgroup"));
	int freeze = strcmp(want, "Suspended") == 0, rc;

	if ((bar_local_cgroup_frozen(mode ? mode : "none", id) == 1) != freeze &&
	    (rc = bar_local_cgroup_freeze(c, mode ? mode : "none", id, freeze)))
		return rc;
	json_object_set_new(local, "state", json_string(want));
	return 0;
}

static int vm_reboot(bar_local_ctx *c, const char *id, json_t *meta, const char *status)
{
	json_t *local = json_object_get(meta, "local");
	int rc;

	if (strcmp(status, "Running") != 0) /* as a cloud refuses to reboot a stopped VM */
		return bar_local_fail(c, BAR_ECONFLICT, BAR_LOCAL_E_INUSE,
		                      "vm %s is %s; only a Running VM can be rebooted (resume it "
		                      "first)", id, status);
	bar_local_vm_kill(c, id, local);
	if (bar_local_vm_alive(local))
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                      "vm %s did not stop for the reboot", id);
	if ((rc = bar_local_vm_boot(c, id, local)))
		return rc;
	json_object_set_new(local, "state", json_string("Running"));
	return 0;
}

int bar_local_vm_action(bar_local_ctx *c, const char *id, json_t *meta, const char *action,
                        bar_sink *out)
{
	const char *status;
	int lock = -1, rc;

	if ((rc = vm_lock(c, &lock, id)) || (rc = vm_refresh(c, meta, id)) ||
	    (rc = bar_local_vm_status(c, id, meta, &status)))
		goto done;
	if (strcmp(action, "suspend") == 0)
		rc = vm_set_state(c, id, meta, "Suspended");
	else if (strcmp(action, "resume") == 0)
		rc = vm_set_state(c, id, meta, "Running");
	else if (strcmp(action, "reboot") == 0)
		rc = vm_reboot(c, id, meta, status);
	else
		rc = bar_local_fail(c, BAR_ENOTSUP, BAR_LOCAL_E_NOTSUP,
		                    "the local provider has no VM action \"%s\" (suspend, resume, "
		                    "reboot)", action);
	if (rc || (rc = bar_local_meta_save(c, "vm", id, meta)) ||
	    (rc = bar_local_vm_status(c, id, meta, &status)))
		goto done;
	rc = bar_local_emit(c, out, id, meta, status);
done:
	bar_local_unlock(lock);
	return rc;
}

/* Desired attrs without the keys an in-place update may change. */
static json_t *fixed_attrs(json_t *attrs)
{
	json_t *a = json_is_object(attrs) ? json_deep_copy(attrs) : json_object();

	json_object_del(a, "state");
	json_object_del(a, "labels");
	return a;
}

/* Re-apply the VM's security groups when its firewall went missing. */
static int restore_firewall(bar_local_ctx *c, const char *id, json_t *meta, json_t *sg_ids)
{
	json_t *obs = json_object_get(meta, "observed");
	const char *fw = json_string_value(json_object_get(obs, "firewall"));
	int lock = -1, rc;

	if (!fw || strcmp(fw, "missing") != 0)
		return 0;
	if ((rc = bar_local_firewall_lock(c, &lock, LOCK_SH)) == 0)
		rc = bar_local_firewall_apply(c, id, sg_ids, 1);
	bar_local_unlock(lock);
	if (rc == 0)
		json_object_set_new(obs, "firewall", json_string("enforced"));
	return rc;
}

int bar_local_vm_update(bar_local_ctx *c, const char *id, json_t *meta, json_t *in,
                        bar_sink *out)
{
	json_t *attrs = json_object_get(in, "attrs"), *tags = json_object_get(in, "tags");
	json_t *was = fixed_attrs(json_object_get(meta, "attrs")), *now = fixed_attrs(attrs);
	json_t *ids = refs_ids(in);
	const char *state = json_string_value(json_object_get(attrs, "state"));
	const char *status;
	int lock = -1, rc;

	if ((rc = vm_lock(c, &lock, id)) || (rc = vm_refresh(c, meta, id)) ||
	    (rc = bar_local_vm_status(c, id, meta, &status)))
		goto done;
	if (!json_equal(was, now) ||
	    !json_equal(ids, json_object_get(json_object_get(meta, "local"), "refs"))) {
		rc = bar_local_fail(c, BAR_ENOTSUP, BAR_LOCAL_E_NOTSUP,
		                    "a local VM can change only its state (Running/Suspended), "
		                    "labels and tags in place; replace vm %s for other changes", id);
		goto done;
	}
	if (state && strcmp(state, "Running") != 0 && strcmp(state, "Suspended") != 0) {
		rc = bar_local_fail(c, BAR_EINVALID, BAR_LOCAL_E_INVALID,
		                    "vm %s: state \"%s\" is not Running or Suspended", id, state);
		goto done;
	}
	if (state && (rc = vm_set_state(c, id, meta, state)))
		goto done;
	if ((rc = restore_firewall(c, id, meta, json_object_get(ids, "securityGroups"))))
		goto done;
	json_object_set(meta, "attrs", attrs);
	if (json_is_object(tags))
		json_object_set(meta, "tags", tags);
	if ((rc = bar_local_meta_save(c, "vm", id, meta)) ||
	    (rc = bar_local_vm_status(c, id, meta, &status)))
		goto done;
	rc = bar_local_emit(c, out, id, meta, status);
done:
	bar_local_unlock(lock);
	json_decref(was);
	json_decref(now);
	json_decref(ids);
	return rc;
}

int bar_local_vm_delete(bar_local_ctx *c, const char *id)
{
	char dir[PATH_MAX];
	json_t *meta = NULL;
	int lock = -1, existed, rc;

	if ((rc = bar_local_res_dir(c, dir, "vm", id)))
		return rc;
	existed = access(dir, F_OK) == 0 || bar_local_netns_exists(id) || bar_local_link_exists(id);
	if (access(dir, F_OK) == 0) {
		if ((rc = vm_lock(c, &lock, id)))
			return rc;
		bar_local_meta_load(c, &meta, "vm", id);
		c->err.rc = 0; /* a half-made VM may have no metadata: clean up anyway */
	}
	vm_teardown(c, id, json_object_get(meta, "local"));
	bar_local_unlock(lock);
	json_decref(meta);
	if (c->err.rc)
		return c->err.rc;
	if (!existed)
		return bar_local_fail(c, BAR_ENOTFOUND, BAR_LOCAL_E_NOTFOUND,
		                      "vm %s does not exist", id);
	return 0;
}
