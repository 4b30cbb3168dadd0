/*
 * overlay_node.c - what apply does for an MCI's overlay network (type
 * "overlay", made by desired.c's add_overlay; docs/overlay.md): every VM's
 * key pair (the private half in the key store, never in state or plans),
 * its overlay address (its place in the MCI), and its overlay file built
 * from every other VM's recorded addresses and public key
 * (planner/overlay.c); the file goes to the VM's agent directory (0600) and
 * the agent is told (SIGHUP), which brings the WireGuard interface, its
 * peers and the same-net routes to what it says (runtime/agent/overlay.c).
 * Removing the overlay removes the files (the agents take the interfaces
 * down); a new overlay (made anew after a VM was re-created, which replaces
 * it) gives every VM a new key; the keys go with their VMs.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "remote.h"
#include "util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEP_TIMEOUT_MS 60000

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

typedef struct ovm {
	bar_record rec;
	json_t *obs, *desired, *refs;
	char pub[45];
	bar_remote_target t;
	int reachable;
} ovm;

static void ovms_free(ovm *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		bar_record_clear(&v[i].rec);
		json_decref(v[i].obs);
		json_decref(v[i].desired);
		json_decref(v[i].refs);
		bar_remote_target_clear(&v[i].t);
	}
	free(v);
}

/* The MCI's VMs (attrs "vms", in order) from the state. */
static int load_vms(ovm **out, const bar_change *c, bar_state *st, const char *keys_dir,
                    int need_all)
{
	const json_t *names = json_object_get(c->attrs, "vms");
	size_t n = json_array_size(names), i;
	ovm *v = bar_calloc(n + 1, sizeof(*v));
	json_t *name;
	int rc = 0;

	json_array_foreach(names, i, name) {
		char addr[400];

		snprintf(addr, sizeof(addr), "%s/vm/%s", c->ns, json_string_value(name));
		if ((rc = bar_state_get(st, addr, &v[i].rec)) < 0) {
			if (!need_all) {
				bar_error_clear();
				rc = 0;
				continue;
			}
			bar_error_setc(BAR_ENOTFOUND, "VM %s is not in the state", addr);
			break;
		}
		v[i].obs = json_loads(v[i].rec.observed ? v[i].rec.observed : "{}", 0, NULL);
		v[i].desired = json_loads(v[i].rec.desired ? v[i].rec.desired : "{}", 0, NULL);
		v[i].refs = json_loads(v[i].rec.refs ? v[i].rec.refs : "{}", 0, NULL);
		v[i].reachable = bar_agent_target(&v[i].t, &v[i].rec, keys_dir) == 0;
		if (!v[i].reachable) {
			if (need_all) {
				rc = -1;
				break;
			}
			bar_error_clear();
		}
	}
	if (rc < 0) {
		ovms_free(v, n);
		return rc;
	}
	*out = v;
	return 0;
}

static void sha16(char *out, const char *text)
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Put text at path on the VM (through a private temporary file). */
static int put_text(bar_remote_target *t, const char *text, const char *remote,
                    const bar_cancel *cancel)
{
	char tmpl[] = "/tmp/barista-overlay-XXXXXX", path[64];
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	FILE *f;
	int rc;

	if (!mkdtemp(tmpl))
		return bar_error_set("cannot make a temporary directory");
	snprintf(path, sizeof(path), "%s/overlay.conf", tmpl);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0) {
		rc = bar_error_set("cannot write the overlay file");
		goto done;
	}
	job.kind = BAR_REMOTE_PUT;
	job.local = path;
	job.remote = remote;
	job.timeout_ms = STEP_TIMEOUT_MS;
	rc = bar_agent_run_one(t, &job, cancel, NULL, "copying the overlay file");
done:
	/* the file holds the VM's private key */
	if ((f = fopen(path, "r+"))) {
		size_t len = strlen(text);
		char *zero = bar_calloc(len + 1, 1);
		fwrite(zero, 1, len, f);
		fclose(f);
		free(zero);
	}
	unlink(path);
	rmdir(tmpl);
	return rc;
}

int bar_overlay_deploy(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                       const bar_cancel *cancel)
{
	size_t n = json_array_size(json_object_get(c->attrs, "vms"));
	const char *cidr = jstr(c->attrs, "cidr");
	int port = (int)json_integer_value(json_object_get(c->attrs, "port"));
	bar_overlay_vm *list = bar_calloc(n + 1, sizeof(*list));
	json_t *seen = json_object();
	ovm *v = NULL;
	bar_record prior = {0};
	int rc, fresh;

	memset(out, 0, sizeof(*out));
	fresh = bar_state_get(st, c->address, &prior) != 0; /* a new overlay: new keys */
	bar_record_clear(&prior);
	bar_error_clear();
	if ((rc = load_vms(&v, c, st, keys_dir, 1)) < 0)
		goto done;
	/* every VM's key first: each file names every other VM's public half */
	for (size_t i = 0; i < n; i++) {
		if ((rc = bar_overlay_key_ensure(v[i].pub, NULL, keys_dir, v[i].rec.address,
		                                 fresh)) < 0)
			goto done;
		list[i] = (bar_overlay_vm){
			.name = v[i].rec.name,
			.connection = v[i].rec.connection,
			.vnet = *jstr(v[i].desired, "vnet") ? jstr(v[i].desired, "vnet")
			                                    : jstr(v[i].refs, "vnet"),
			.public_ip = jstr(v[i].obs, "publicIp"),
			.private_ip = jstr(v[i].obs, "privateIp"),
			.pubkey = v[i].pub,
		};
	}
	for (size_t i = 0; i < n; i++) {
		char priv[64], hash[17], ip[16];
		char *text, *remote, *hup;
		const char *dir = bar_agent_dir(v[i].rec.provider);
		bar_remote_job job = BAR_REMOTE_JOB_INIT;

		if ((rc = bar_overlay_key_ensure(v[i].pub, priv, keys_dir, v[i].rec.address, 0)) < 0)
			goto done;
		text = bar_overlay_config_for(list, n, i, priv, cidr, port);
		OPENSSL_cleanse(priv, sizeof(priv));
		if (!text) {
			rc = -1;
			goto done;
		}
		sha16(hash, text);
		remote = bar_printf("%s/overlay.conf", dir);
		rc = put_text(&v[i].t, text, remote, cancel);
		bar_overlay_config_free(text);
		free(remote);
		if (rc < 0) {
			bar_error_prefix("%s", v[i].rec.name);
			goto done;
		}
		bar_overlay_addr(ip, cidr, i);
		/* told, and done once the VM has its overlay address */
		hup = bar_printf(
		    "chmod 600 %s/overlay.conf && kill -HUP \"$(cat %s/state/agent.pid)\" || exit 1\n"
		    "i=0; while ! ip -4 -o addr show 2>/dev/null | grep -q ' %s/'; do\n"
		    "  if [ $i -ge 150 ]; then\n"
		    "    echo 'the agent did not bring the overlay up within 15 s (no address %s);'"
		    " $(grep overlay %s/state/agent.log 2>/dev/null | tail -n 1) >&2; exit 1\n"
		    "  fi\n"
		    "  sleep 0.1; i=$((i+1))\n"
		    "done\n",
		    dir, dir, ip, ip, dir);
		job.command = hup;
		job.timeout_ms = STEP_TIMEOUT_MS;
		rc = bar_agent_run_one(&v[i].t, &job, cancel, NULL, "bringing the overlay up");
		free(hup);
		if (rc < 0)
			goto done;
		json_object_set_new(seen, v[i].rec.name,
		                    json_pack("{s:s,s:s,s:s,s:s}", "address", ip, "publicKey", v[i].pub,
		                              "systemId", v[i].rec.system_id ? v[i].rec.system_id : "",
		                              "file", hash));
	}
	out->system_id = bar_printf("overlay:%s", jstr(c->attrs, "mci"));
	out->status = bar_strdup("Running");
	{
		json_t *obs = json_pack("{s:s,s:O}", "cidr", cidr, "vms", seen);
		out->attrs = json_dumps(obs, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(obs);
	}
done:
	json_decref(seen);
	ovms_free(v, n);
	free(list);
	return rc;
}

int bar_overlay_remove(const char *address, bar_state *st, const char *keys_dir,
                       const bar_cancel *cancel)
{
	bar_record me = {0};
	bar_change c = {0};
	ovm *v = NULL;
	size_t n;
	int rc;

	if (bar_state_get(st, address, &me) < 0)
		return 0;
	c.attrs = json_loads(me.desired ? me.desired : "{}", 0, NULL);
	c.ns = me.ns;
	n = json_array_size(json_object_get(c.attrs, "vms"));
	if ((rc = load_vms(&v, &c, st, keys_dir, 0)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		const char *dir;
		char *cmd;
		bar_remote_job job = BAR_REMOTE_JOB_INIT;

		if (!v[i].reachable || (v[i].rec.status && !strcmp(v[i].rec.status, "Terminated")))
			continue; /* gone, and its interface with it */
		dir = bar_agent_dir(v[i].rec.provider);
		cmd = bar_printf("rm -f %s/overlay.conf; p=$(cat %s/state/agent.pid 2>/dev/null) && "
		                 "kill -HUP \"$p\" 2>/dev/null; true", dir, dir);
		job.command = cmd;
		job.timeout_ms = STEP_TIMEOUT_MS;
		if (bar_agent_run_one(&v[i].t, &job, cancel, NULL, "removing the overlay file") < 0)
			bar_error_clear(); /* an unreachable VM: its overlay goes with it */
		free(cmd);
	}
done:
	ovms_free(v, n);
	json_decref(c.attrs);
	bar_record_clear(&me);
	return rc;
}
