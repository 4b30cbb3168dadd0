/*
 * k8scluster.c - a Kubernetes cluster made with kubeadm on an MCI's VMs for
 * the MCApps of runtime "kubernetes" that ask for one
 * (kubernetes.bootstrap; docs/kubernetes.md): one "k8scluster" resource per
 * MCI, made by desired.c, depending on every VM of the MCI (and its overlay
 * when it has one).
 *
 * Apply: the latency between the groups is measured from the first VM of
 * each group (ping), the control plane goes on the group whose worst
 * latency to the others is smallest (bar_k8s_pick_control_plane); every VM
 * runs containerd.sh, the control-plane VM control-plane.sh (kubeadm init,
 * the CNI manifest the spec names, on the overlay interface when there is
 * one), which prints the join parameters and the admin kubeconfig, and the
 * other VMs worker.sh with those parameters.  The kubeconfig goes to the
 * key store (field "kubeconfig" of the resource's address), its server the
 * control plane's public address when it has one; the MCApps' k8sapp
 * resources open their cluster from there.
 *
 * The scripts are the embedded ones (runtime/kubernetes/bootstrap);
 * BARISTA_K8S_BOOTSTRAP_DIR names a directory of replacements, for tests
 * that cannot run kubeadm (tests/k8s_runtime.sh).
 */
#include "planner_int.h"

#include "error.h"
#include "k8s.h"
#include "keystore.h"
#include "remote.h"
#include "ssh_b64.h"
#include "util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOOT_TIMEOUT_MS (20 * 60000) /* packages, images, kubeadm init */
#define PING_TIMEOUT_MS 30000
#define KUBECONFIG_FIELD "kubeconfig"

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

typedef struct kvm {
	bar_record rec;
	json_t *obs;
	const char *group;
	char node_ip[64]; /* its overlay address, else its private one */
	bar_remote_target t;
} kvm;

static void kvms_free(kvm *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		bar_record_clear(&v[i].rec);
		json_decref(v[i].obs);
		bar_remote_target_clear(&v[i].t);
	}
	free(v);
}

/* The MCI's VMs of attrs "vms" [{name, group}], each reachable over SSH. */
static int load_vms(kvm **out, const bar_change *c, bar_state *st, const char *keys_dir)
{
	const json_t *vms = json_object_get(c->attrs, "vms"), *x;
	size_t n = json_array_size(vms), i;
	kvm *v = bar_calloc(n + 1, sizeof(*v));
	int rc = 0;

	json_array_foreach(vms, i, x) {
		char addr[400];

		snprintf(addr, sizeof(addr), "%s/vm/%s", c->ns, jstr(x, "name"));
		v[i].group = jstr(x, "group");
		if ((rc = bar_state_get(st, addr, &v[i].rec)) < 0 ||
		    (rc = bar_agent_target(&v[i].t, &v[i].rec, keys_dir)) < 0) {
			bar_error_prefix("%s: VM %s", c->address, addr);
			kvms_free(v, n);
			return rc;
		}
		v[i].obs = json_loads(v[i].rec.observed ? v[i].rec.observed : "{}", 0, NULL);
	}
	*out = v;
	return 0;
}

static const char *private_ip(const kvm *v)
{
	const char *ip = jstr(v->obs, "privateIp");
	return *ip ? ip : v->t.host;
}

/* Each VM's node address: on an MCI with an overlay its overlay address
 * (as the overlay resource recorded it), else its private address. */
static int node_addresses(kvm *v, size_t n, const bar_change *c, bar_state *st)
{
	bar_record ov = {0};
	json_t *obs = NULL, *vms;
	char addr[400];

	if (*jstr(c->attrs, "overlay")) {
		snprintf(addr, sizeof(addr), "%s/overlay/%s", c->ns, jstr(c->attrs, "mci"));
		if (bar_state_get(st, addr, &ov) < 0) {
			bar_error_prefix("%s: the MCI's overlay", c->address);
			return -1;
		}
		obs = json_loads(ov.observed ? ov.observed : "{}", 0, NULL);
	}
	vms = json_object_get(obs, "vms");
	for (size_t i = 0; i < n; i++) {
		const char *o = jstr(json_object_get(vms, v[i].t.name), "address");

		snprintf(v[i].node_ip, sizeof(v[i].node_ip), "%s", *o ? o : private_ip(&v[i]));
	}
	json_decref(obs);
	bar_record_clear(&ov);
	return 0;
}

/* The text of the file at path (at most 1 MiB; malloc'd), or NULL. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	bar_buf b = BAR_BUF_INIT(1 << 20);
	char chunk[4096];
	size_t got;
	int bad = 0;

	if (!f)
		return NULL;
	while (!bad && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bad = bar_buf_add(&b, chunk, got) < 0;
	fclose(f);
	if (bad) {
		bar_buf_free(&b);
		return NULL;
	}
	return b.data ? bar_buf_take(&b) : bar_strdup("");
}

/* A bootstrap script: BARISTA_K8S_BOOTSTRAP_DIR/<name>.sh, else the
 * embedded one; malloc'd. */
static char *script_text(const char *name)
{
	const char *dir = getenv("BARISTA_K8S_BOOTSTRAP_DIR");
	char path[4096];
	char *text;

	if (!dir || !*dir)
		return bar_strdup(bar_k8s_bootstrap_script(name));
	snprintf(path, sizeof(path), "%s/%s.sh", dir, name);
	if (!(text = read_text(path)))
		bar_error_set("bootstrap script %s: cannot read it", path);
	return text;
}

/* Run `command` on the VMs of idx[0..n) at once; each one's stdout into
 * outs[k] (malloc'd) when outs.  0, or an error naming the first VM that
 * failed with its output's end. */
static int run_on(kvm *v, const size_t *idx, size_t n, const char *command, int64_t timeout_ms,
                  const bar_cancel *cancel, char **outs, const char *what)
{
	bar_remote_targets ts = {NULL, bar_calloc(n + 1, sizeof(bar_remote_target)), n};
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = {NULL, 0};
	int rc;

	for (size_t k = 0; k < n; k++)
		ts.items[k] = v[idx[k]].t;
	job.command = command;
	job.timeout_ms = timeout_ms;
	ro.parallel = 32;
	ro.capture = 1 << 20;
	ro.cancel = cancel;
	rc = bar_remote_run(&res, &ts, &job, &ro);
	for (size_t k = 0; rc == 0 && k < res.n; k++) {
		const bar_remote_result *r = &res.items[k];

		if (r->outcome != BAR_REMOTE_OK) {
			const char *err = r->err ? r->err : "";
			size_t len = strlen(err);

			rc = bar_error_setc(BAR_EFAIL, "%s on %s: %s %s%s", what, ts.items[k].name,
			                    bar_remote_outcome_name(r->outcome), r->error ? r->error : "",
			                    len > 600 ? err + len - 600 : err);
		} else if (outs) {
			outs[k] = bar_strdup(r->out ? r->out : "");
		}
	}
	bar_remote_results_clear(&res);
	free(ts.items); /* the targets belong to v */
	return rc;
}

/* The script `name` and the command running it with env (a shell
 * assignment list), from a private directory under /tmp. */
static char *script_command(const char *name, const char *env)
{
	char *text = script_text(name), *cmd;

	if (!text)
		return NULL;
	/* a here-document with a quoted delimiter: the text goes as it is */
	cmd = bar_printf("set -e\nd=/tmp/barista-k8s; mkdir -p $d; chmod 700 $d\n"
	                 "cat > $d/%s.sh <<'BARISTA_K8S_EOF'\n%s\nBARISTA_K8S_EOF\n"
	                 "%s sh $d/%s.sh\n",
	                 name, text, env, name);
	free(text);
	return cmd;
}

/* The groups' latency matrix (ms) from each group's first VM to the
 * others' (ping's average), and the control plane's VM index. */
static int pick_control_plane(size_t *cp, kvm *v, size_t n, const bar_cancel *cancel)
{
	size_t *leader = bar_calloc(n + 1, sizeof(*leader)), ng = 0, g;
	double *lat;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		for (g = 0; g < ng && strcmp(v[leader[g]].group, v[i].group); g++)
			;
		if (g == ng)
			leader[ng++] = i;
	}
	lat = bar_calloc(ng * ng + 1, sizeof(*lat));
	for (size_t a = 0; rc == 0 && a < ng && ng > 1; a++) {
		bar_buf cmd = BAR_BUF_INIT(0);
		char *out = NULL;

		for (size_t b = 0; b < ng; b++)
			if (b != a)
				bar_buf_printf(&cmd, "echo \"%zu $(ping -c 3 -i 0.2 -q -W 1 %s 2>/dev/null | "
				               "sed -n 's|.* = [0-9.]*/\\([0-9.]*\\)/.*|\\1|p')\"\n", b,
				               private_ip(&v[leader[b]]));
		rc = run_on(v, &leader[a], 1, cmd.data, PING_TIMEOUT_MS, cancel, &out,
		            "measuring the latency to the other groups");
		for (const char *line = out; rc == 0 && line && *line;) {
			size_t b;
			double ms = 1e6; /* no answer: as far as can be */

			if (sscanf(line, "%zu %lf", &b, &ms) >= 1 && b < ng)
				lat[a * ng + b] = ms;
			line = strchr(line, '\n');
			line = line ? line + 1 : NULL;
		}
		free(out);
		bar_buf_free(&cmd);
	}
	if (rc == 0) {
		if (ng > 1 && bar_k8s_pick_control_plane(&g, lat, ng) < 0)
			rc = -1;
		else
			*cp = leader[ng > 1 ? g : 0];
	}
	free(lat);
	free(leader);
	return rc;
}

/* Shell-quote s into b ('...' with ' as '\''). */
static void quote(bar_buf *b, const char *s)
{
	bar_buf_add(b, "'", 1);
	for (; *s; s++)
		if (*s == '\'')
			bar_buf_add(b, "'\\''", 4);
		else
			bar_buf_add(b, s, 1);
	bar_buf_add(b, "'", 1);
}

static void env_reset(bar_buf *b)
{
	bar_buf_free(b);
	*b = (bar_buf)BAR_BUF_INIT(0);
}

static void env_add(bar_buf *b, const char *name, const char *value)
{
	bar_buf_printf(b, "%s=", name);
	quote(b, value);
	bar_buf_add(b, " ", 1);
}

/* The value after `key ` on a line of out, up to the line's end, into buf. */
static int line_value(char *buf, size_t size, const char *out, const char *key)
{
	size_t klen = strlen(key);

	for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, klen) && l[klen] == ' ') {
			size_t len = strcspn(l + klen + 1, "\r\n");

			if (len >= size)
				return -1;
			memcpy(buf, l + klen + 1, len);
			buf[len] = '\0';
			return 0;
		}
	return -1;
}

int bar_k8scluster_deploy(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                          const bar_cancel *cancel)
{
	const json_t *boot = json_object_get(c->attrs, "bootstrap");
	kvm *v = NULL;
	size_t n = json_array_size(json_object_get(c->attrs, "vms")), cp = 0, *idx = NULL, nw = 0;
	char *cmd = NULL, *cp_out = NULL, *cni = NULL, *kc = NULL, *server = NULL;
	char join[512], token[128], hash[128], addr[64], b64[65536];
	const char *adv, *iface, *host;
	bar_buf env = BAR_BUF_INIT(0);
	int rc;

	if ((rc = load_vms(&v, c, st, keys_dir)) < 0)
		goto done;
	if (n == 0) {
		rc = bar_error_setc(BAR_EINVALID, "%s: the MCI has no VMs", c->address);
		goto done;
	}
	if ((rc = node_addresses(v, n, c, st)) < 0 ||
	    (rc = pick_control_plane(&cp, v, n, cancel)) < 0)
		goto done;
	idx = bar_calloc(n + 1, sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	/* every VM: the container runtime and the Kubernetes packages */
	env_add(&env, "K8S_MINOR", jstr(boot, "version"));
	if (!(cmd = script_command("containerd", env.data))) {
		rc = -1;
		goto done;
	}
	if ((rc = run_on(v, idx, n, cmd, BOOT_TIMEOUT_MS, cancel, NULL, "containerd.sh")) < 0)
		goto done;
	free(cmd);
	/* the control plane, with the CNI manifest the spec names */
	if (!(cni = read_text(jstr(boot, "cni")))) {
		rc = bar_error_setc(BAR_EINVALID, "%s: cannot read the CNI manifest %s", c->address,
		                    jstr(boot, "cni"));
		goto done;
	}
	adv = v[cp].node_ip;
	iface = *jstr(c->attrs, "overlay") ? "bar0" : "";
	env_reset(&env);
	env_add(&env, "ADVERTISE_ADDRESS", adv);
	env_add(&env, "POD_CIDR", jstr(boot, "podCidr"));
	env_add(&env, "CNI_MANIFEST", "/tmp/barista-k8s/cni.yaml");
	env_add(&env, "CNI_IFACE", iface);
	env_add(&env, "NODE_GROUP", v[cp].group);
	/* the address this host reaches the API server at: in its certificate */
	host = *jstr(v[cp].obs, "publicIp") ? jstr(v[cp].obs, "publicIp") : v[cp].t.host;
	env_add(&env, "API_SANS", host);
	{
		char *script = script_command("control-plane", env.data);

		if (!script) {
			rc = -1;
			goto done;
		}
		cmd = bar_printf("mkdir -p /tmp/barista-k8s && chmod 700 /tmp/barista-k8s\n"
		                 "cat > /tmp/barista-k8s/cni.yaml <<'BARISTA_CNI_EOF'\n%s\n"
		                 "BARISTA_CNI_EOF\n%s",
		                 cni, script);
		free(script);
	}
	if ((rc = run_on(v, &cp, 1, cmd, BOOT_TIMEOUT_MS, cancel, &cp_out, "control-plane.sh")) < 0)
		goto done;
	if (line_value(join, sizeof(join), cp_out, "BARISTA_JOIN") < 0 ||
	    sscanf(join, "%63s %127s %127s", addr, token, hash) != 3 ||
	    line_value(b64, sizeof(b64), cp_out, "BARISTA_KUBECONFIG") < 0) {
		rc = bar_error_setc(BAR_EFAIL, "%s: control-plane.sh on %s printed no BARISTA_JOIN "
		                    "and BARISTA_KUBECONFIG lines", c->address, v[cp].t.name);
		goto done;
	}
	/* the workers */
	for (size_t i = 0; i < n; i++)
		if (i != cp)
			idx[nw++] = i;
	for (size_t k = 0; k < nw && rc == 0; k++) {
		env_reset(&env);
		env_add(&env, "CONTROL_PLANE", addr);
		env_add(&env, "JOIN_TOKEN", token);
		env_add(&env, "CA_CERT_HASH", hash);
		env_add(&env, "NODE_ADDRESS", v[idx[k]].node_ip);
		env_add(&env, "NODE_GROUP", v[idx[k]].group);
		free(cmd);
		if (!(cmd = script_command("worker", env.data)))
			rc = -1;
		else
			rc = run_on(v, &idx[k], 1, cmd, BOOT_TIMEOUT_MS, cancel, NULL, "worker.sh");
	}
	if (rc < 0)
		goto done;
	/* the admin kubeconfig into the key store, reachable from here */
	{
		size_t len = 0;
		unsigned char *raw = NULL;

		if (bar_b64_decode(&raw, &len, b64, strlen(b64)) < 0 || !raw) {
			rc = bar_error_setc(BAR_EFAIL, "%s: the kubeconfig control-plane.sh printed is "
			                    "not base64", c->address);
			goto done;
		}
		kc = bar_strndup((const char *)raw, len);
		OPENSSL_cleanse(raw, len);
		free(raw);
	}
	if (strcmp(host, adv) != 0) {
		char from[128], to[128];
		char *at;

		snprintf(from, sizeof(from), "https://%s:6443", adv);
		snprintf(to, sizeof(to), "https://%s:6443", host);
		if ((at = strstr(kc, from))) {
			char *nk = bar_printf("%.*s%s%s", (int)(at - kc), kc, to, at + strlen(from));

			OPENSSL_cleanse(kc, strlen(kc));
			free(kc);
			kc = nk;
		}
	}
	if ((rc = bar_keystore_put(keys_dir, c->address, KUBECONFIG_FIELD, kc)) < 0)
		goto done;
	server = bar_printf("https://%s:6443", host);
	out->system_id = bar_printf("kubeadm:%s", v[cp].t.name);
	out->status = bar_strdup("Running");
	{
		json_t *workers = json_array();
		json_t *o;

		for (size_t k = 0; k < nw; k++)
			json_array_append_new(workers, json_string(v[idx[k]].t.name));
		o = json_pack("{s:s,s:s,s:s,s:o}", "controlPlane", v[cp].t.name, "group", v[cp].group,
		              "server", server, "workers", workers);
		out->attrs = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
	}
done:
	if (kc) {
		OPENSSL_cleanse(kc, strlen(kc));
		free(kc);
	}
	if (cp_out) {
		OPENSSL_cleanse(cp_out, strlen(cp_out));
		free(cp_out);
	}
	OPENSSL_cleanse(b64, sizeof(b64));
	OPENSSL_cleanse(token, sizeof(token));
	bar_buf_free(&env);
	free(server);
	free(cni);
	free(cmd);
	free(idx);
	kvms_free(v, n);
	return rc;
}

int bar_k8scluster_remove(const char *address, const char *keys_dir)
{
	return bar_keystore_remove(keys_dir, address);
}

int bar_k8scluster_kubeconfig(char *path, size_t size, const char *keys_dir,
                              const char *address)
{
	char *kc = NULL;
	int fd, rc;
	size_t len;

	if ((rc = bar_keystore_get(keys_dir, address, KUBECONFIG_FIELD, &kc)) < 0) {
		bar_error_prefix("%s: its kubeconfig", address);
		return rc;
	}
	snprintf(path, size, "/tmp/barista-kubeconfig-XXXXXX");
	fd = mkstemp(path);
	len = strlen(kc);
	if (fd < 0 || write(fd, kc, len) != (ssize_t)len) {
		rc = bar_error_set("%s: cannot write a temporary kubeconfig", address);
		if (fd >= 0)
			unlink(path);
	}
	if (fd >= 0)
		close(fd);
	bar_keystore_value_free(kc);
	return rc;
}
