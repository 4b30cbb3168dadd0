/*
 * agent.c - what apply does for a MonitoringPolicy: push the policy to its
 * collectors (their alarm engines) and install, check and remove
 * barista-agent on every VM it watches, over SSH (core/remote.h).
 *
 * On a VM the agent lives in one directory: /run/barista/agent on a local
 * VM (which shares the host's filesystem but has /run/barista to itself),
 * /opt/barista-agent elsewhere.  It runs as `barista-agent -daemon` (a
 * supervisor restarting the worker), under a systemd unit where the VM has
 * systemd (Type=forking on the same pidfile), so both report through
 * <dir>/state/agent.pid.  Its config holds the MCI's token, derived from the
 * collectors' secret at install time and never written into plans, state or
 * logs; the config is copied from a 0600 file in a private temporary
 * directory that is removed at once.
 *
 * A refresh runs one short check on every recorded agent (in parallel, 32
 * at a time): missing, stopped, another version, or a config other than
 * the one apply wrote all make the plan re-install it.
 */
#include "planner.h"
#include "planner_int.h"
#include "client.h"
#include "collector.h"
#include "credential.h"
#include "error.h"
#include "remote.h"
#include "util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INSTALL_TIMEOUT_MS (3 * 60000)
#define CHECK_TIMEOUT_MS 20000

const char *bar_agent_dir(const char *driver)
{
	return driver && !strcmp(driver, "local") ? "/run/barista/agent" : "/opt/barista-agent";
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* The collectors' secret of a policy's attrs (its credential reference,
 * field "secret") into *out (malloc'd, wipe and free it). */
static int policy_secret(char **out, size_t *len, const json_t *attrs, const char *what)
{
	const json_t *ref = json_object_get(attrs, "credential");
	bar_cred *c = NULL;
	const char *v;

	if (!json_is_object(ref))
		return bar_error_setc(BAR_EINVALID, "%s: the policy has no credential for its "
		                      "collectors' secret", what);
	if (bar_cred_resolve(&c, ref) != 0) {
		bar_error_prefix("%s: the collectors' secret", what);
		return BAR_EAUTH;
	}
	if (!(v = bar_cred_get(c, "secret"))) {
		bar_cred_release(c);
		return bar_error_setc(BAR_EAUTH, "%s: the policy's credential has no field \"secret\"",
		                      what);
	}
	*out = bar_strdup(v);
	*len = strlen(v);
	bar_cred_release(c);
	return 0;
}

/* A collector URL as this host reaches it: `gateway` (what a VM calls the
 * host) is 127.0.0.1 here. */
static char *host_url(const char *u)
{
	if (!strncmp(u, "http://gateway:", 15) || !strncmp(u, "http://gateway/", 15))
		return bar_printf("http://127.0.0.1%s", u + 14);
	return bar_strdup(u);
}

/* ---- the policy on its collectors ---- */

int bar_policy_push(const char *ns, const char *name, const json_t *attrs, int remove)
{
	json_t *cols = json_object_get(attrs, "collectors"), *u;
	char *secret = NULL, token[200], path[300], why[1024];
	char *body = remove ? NULL : json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	size_t len = 0, i;
	int rc;

	if (!json_array_size(cols)) {
		free(body);
		return 0;
	}
	if ((rc = policy_secret(&secret, &len, attrs, name)) < 0) {
		free(body);
		return rc;
	}
	rc = bar_monitor_admin_token(token, sizeof(token), (unsigned char *)secret, len);
	OPENSSL_cleanse(secret, len);
	free(secret);
	if (rc < 0) {
		free(body);
		return bar_error_set("%s/%s: cannot derive the collectors' admin token", ns, name);
	}
	snprintf(path, sizeof(path), "/v1/policies/%s/%s", ns, name);
	json_array_foreach(cols, i, u) {
		char *base = host_url(json_string_value(u));
		int r = bar_monitor_send(remove ? "DELETE" : "PUT", base, path, body, token, why,
		                         sizeof(why));
		free(base);
		if (r < 0 && !remove) {
			rc = bar_error_setc(BAR_ERETRY, "%s/%s: pushing the policy to its collectors: %s",
			                    ns, name, why);
			break;
		}
		/* a removal from a collector that is gone is not an error: it
		 * forgets nothing anyone could be told about */
	}
	OPENSSL_cleanse(token, sizeof(token));
	free(body);
	return rc < 0 ? rc : 0;
}

/* ---- the agent's config ---- */

static void sha16(char *out, const char *text)
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The agent config of agent attrs (token included: wipe it).  NULL with
 * the error set when the secret cannot be had. */
static char *agent_config(const bar_change *c, const char *dir, const json_t *policy_attrs)
{
	const json_t *a = c->attrs, *v;
	bar_buf b = BAR_BUF_INIT(0);
	char *secret = NULL, token[200];
	size_t len = 0, i;
	json_int_t pull = json_integer_value(json_object_get(a, "pullPort"));

	if (json_array_size(json_object_get(a, "collectors"))) {
		if (policy_secret(&secret, &len, policy_attrs ? policy_attrs : a, c->address) < 0)
			return NULL;
		if (bar_monitor_token(token, sizeof(token), (unsigned char *)secret, len, c->ns,
		                      jstr(a, "mci")) < 0) {
			OPENSSL_cleanse(secret, len);
			free(secret);
			bar_error_set("%s: cannot derive the MCI's token", c->address);
			return NULL;
		}
		OPENSSL_cleanse(secret, len);
		free(secret);
	} else {
		token[0] = '\0';
	}
	bar_buf_printf(&b, "# barista-agent config, written by barista apply for %s\n"
	               "version=1\nns=%s\nmci=%s\nvm=%s\n", c->address, c->ns, jstr(a, "mci"),
	               jstr(a, "vm"));
	if (*token)
		bar_buf_printf(&b, "token=%s\n", token);
	OPENSSL_cleanse(token, sizeof(token));
	bar_buf_puts(&b, "collectors=");
	json_array_foreach(json_object_get(a, "collectors"), i, v)
		bar_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(v));
	bar_buf_printf(&b, "\ncollect_interval_ms=%lld\npush_interval_ms=%lld\ngroups=",
	               (long long)json_integer_value(json_object_get(a, "intervalSeconds")) * 1000,
	               (long long)json_integer_value(json_object_get(a, "storeIntervalSeconds")) *
	                   1000);
	json_array_foreach(json_object_get(a, "metrics"), i, v)
		bar_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(v));
	if (pull > 0)
		bar_buf_printf(&b, "\nlisten=0.0.0.0:%lld\n", (long long)pull);
	else
		bar_buf_puts(&b, "\nlisten=\n");
	bar_buf_printf(&b, "state_dir=%s/state\n", dir);
	/* the MCApp apps of this VM, when apply writes some (planner/app.c) */
	bar_buf_printf(&b, "apps=%s/apps.d\n", dir);
	/* the MCI's overlay network, when apply writes its file (overlay_node.c) */
	bar_buf_printf(&b, "overlay=%s/overlay.conf\n", dir);
	/* a local VM shares the host's kernel: its CPU and memory are its
	 * cgroup's, not /proc/stat's (monitor/agent_cgroup.h) */
	if (!strcmp(dir, "/run/barista/agent"))
		bar_buf_puts(&b, "scope=cgroup\n");
	return bar_buf_take(&b);
}

/* ---- remote steps ---- */

/* The VM a change's agent is on: its record (by the agent's refs.vm or, for
 * a delete, the recorded refs). */
static int vm_record(bar_record *out, bar_state *st, const char *vm_addr, const char *agent)
{
	int rc;

	if (!vm_addr || !*vm_addr)
		return bar_error_setc(BAR_EINVALID, "%s: no VM to install on", agent);
	rc = bar_state_get(st, vm_addr, out);
	if (rc == BAR_ENOTFOUND)
		bar_error_setc(BAR_ENOTFOUND, "%s: its VM %s is not in the state", agent, vm_addr);
	return rc;
}

int bar_agent_target(bar_remote_target *t, const bar_record *vm, const char *keys_dir)
{
	json_t *refs = json_loads(vm->refs ? vm->refs : "{}", 0, NULL);
	json_t *desired = json_loads(vm->desired ? vm->desired : "{}", 0, NULL);
	int rc;

	if (json_string_value(json_object_get(desired, "bastion")))
		rc = bar_error_setc(BAR_ENOTSUP, "%s: its group is reached through a bastion; "
		                    "barista-agent is not installed through bastions yet",
		                    vm->address);
	else
		rc = bar_vm_remote_target(t, vm->address, vm->name, vm->status, vm->system_id,
		                          vm->observed, jstr(refs, "sshKey"), keys_dir, "the agent");
	json_decref(refs);
	json_decref(desired);
	return rc;
}

int bar_agent_run_one(bar_remote_target *t, const bar_remote_job *job, const bar_cancel *cancel,
                      char **out, const char *what)
{
	bar_remote_targets ts = {NULL, t, 1};
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = {NULL, 0};
	int rc;

	ro.parallel = 1;
	ro.capture = 16384;
	ro.cancel = cancel;
	rc = bar_remote_run(&res, &ts, job, &ro);
	if (rc == 0 && res.items[0].outcome != BAR_REMOTE_OK) {
		const bar_remote_result *r = &res.items[0];
		rc = bar_error_setc(BAR_EFAIL, "%s: %s %s: %s%s", t->address, what,
		                    bar_remote_outcome_name(r->outcome),
		                    r->error ? r->error : "", r->err ? r->err : "");
	}
	if (rc == 0 && out)
		*out = bar_strdup(res.items[0].out ? res.items[0].out : "");
	bar_remote_results_clear(&res);
	return rc;
}

static char *install_script(const char *dir)
{
	return bar_printf(
	    "set -e\nD=%s\numask 077\nmkdir -p \"$D/state\"\n"
	    "stop() {\n"
	    "  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] &&\n"
	    "     [ -f /etc/systemd/system/barista-agent.service ]; then\n"
	    "    systemctl stop barista-agent 2>/dev/null || true\n"
	    "  fi\n"
	    "  if [ -f \"$D/state/agent.pid\" ]; then\n"
	    "    p=$(cat \"$D/state/agent.pid\")\n"
	    "    kill \"$p\" 2>/dev/null || true\n"
	    "    i=0; while kill -0 \"$p\" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n"
	    "    kill -9 \"$p\" 2>/dev/null || true\n"
	    "  fi\n"
	    "}\n"
	    "stop\n"
	    "rm -f \"$D/state/apps.json\"  # the old agent's: the wait below reads the new one's\n"
	    "mv -f \"$D/barista-agent.new\" \"$D/barista-agent\"\n"
	    "mv -f \"$D/agent.conf.new\" \"$D/agent.conf\"\n"
	    "chmod 700 \"$D/barista-agent\"; chmod 600 \"$D/agent.conf\"\n"
	    "if [ \"$D\" != /run/barista/agent ] && command -v systemctl >/dev/null 2>&1 &&\n"
	    "   [ -d /run/systemd/system ]; then\n"
	    "  cat > /etc/systemd/system/barista-agent.service <<EOF\n"
	    "[Unit]\nDescription=Barista monitoring agent\nAfter=network-online.target\n"
	    "[Service]\nType=forking\nPIDFile=$D/state/agent.pid\n"
	    "ExecStart=$D/barista-agent -daemon -config $D/agent.conf\nRestart=always\n"
	    "[Install]\nWantedBy=multi-user.target\nEOF\n"
	    "  systemctl daemon-reload && systemctl enable --now barista-agent >/dev/null\n"
	    "else\n"
	    "  \"$D/barista-agent\" -daemon -config \"$D/agent.conf\"\n"
	    "fi\n"
	    /* a local VM's init starts boot.d's files at boot (as systemd the unit) */
	    "if [ \"$D\" = /run/barista/agent ]; then\n"
	    "  mkdir -p /run/barista/boot.d\n"
	    "  printf 'exec %%s/barista-agent -daemon -config %%s/agent.conf\\n' \"$D\" \"$D\" \\\n"
	    "    > /run/barista/boot.d/50-barista-agent\n"
	    "  chmod 700 /run/barista/boot.d/50-barista-agent\n"
	    "fi\n"
	    "i=0; while [ ! -s \"$D/state/agent.pid\" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n"
	    "kill -0 \"$(cat \"$D/state/agent.pid\")\"\n"
	    /* the new agent starts the VM's apps again: done when they are
	     * healthy, so that a rollout of agents keeps the others serving */
	    "for f in \"$D\"/apps.d/*.conf; do\n"
	    "  [ -f \"$f\" ] || continue\n"
	    "  m=${f##*/}; m=${m%%.conf}\n"
	    "  g=$(sed -n 's/^generation=//p' \"$f\" | head -n 1)\n"
	    "  \"$D/barista-agent\" -wait-apps \"$m\" -generation \"${g:-0}\" -timeout-ms 120000 \\\n"
	    "    -status \"$D/state/apps.json\" >&2 ||\n"
	    "    { echo \"the apps of MCApp $m did not get healthy after the agent started\" >&2; exit 1; }\n"
	    "done\n"
	    "\"$D/barista-agent\" -version\n",
	    dir);
}

static char *check_script(const char *dir)
{
	return bar_printf(
	    "D=%s\n"
	    "if [ ! -x \"$D/barista-agent\" ]; then echo missing; exit 0; fi\n"
	    "if [ -f \"$D/state/agent.pid\" ] && kill -0 \"$(cat \"$D/state/agent.pid\")\" 2>/dev/null;"
	    " then s=running; else s=stopped; fi\n"
	    "v=$(\"$D/barista-agent\" -version 2>/dev/null | cut -d' ' -f2)\n"
	    "h=$(sha256sum \"$D/agent.conf\" 2>/dev/null | cut -c1-16)\n"
	    "b=$(sha256sum \"$D/barista-agent\" 2>/dev/null | cut -c1-16)\n"
	    "echo \"$s ${v:-none} ${h:-none} ${b:-none}\"\n",
	    dir);
}

static char *remove_script(const char *dir)
{
	return bar_printf(
	    "D=%s\n"
	    "if command -v systemctl >/dev/null 2>&1 && [ -f /etc/systemd/system/barista-agent.service ];"
	    " then systemctl disable --now barista-agent >/dev/null 2>&1 || true;"
	    " rm -f /etc/systemd/system/barista-agent.service; systemctl daemon-reload || true; fi\n"
	    "if [ -f \"$D/state/agent.pid\" ]; then p=$(cat \"$D/state/agent.pid\");"
	    " kill \"$p\" 2>/dev/null || true;"
	    " i=0; while kill -0 \"$p\" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done;"
	    " kill -9 \"$p\" 2>/dev/null || true; fi\n"
	    "rm -rf \"$D\"\n"
	    "if [ \"$D\" = /run/barista/agent ]; then rm -f /run/barista/boot.d/50-barista-agent; fi\n",
	    dir);
}

static char *agent_binary(void);

/* The first 16 hex digits of the SHA-256 of the binary this barista
 * installs, as the check script's sha256sum prints them; "" when it cannot
 * be read.  Computed once per process. */
static pthread_once_t binary_once = PTHREAD_ONCE_INIT;
static char binary_hash[17];

static void binary_hash_init(void)
{
	char *path = agent_binary();
	FILE *f = fopen(path, "rb");
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	unsigned char md[32], buf[65536];
	unsigned int n = 0;
	size_t got;

	if (f && x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) == 1) {
		while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
			EVP_DigestUpdate(x, buf, got);
		if (!ferror(f) && EVP_DigestFinal_ex(x, md, &n) == 1 && n == 32)
			for (int i = 0; i < 8; i++)
				snprintf(binary_hash + 2 * i, 3, "%02x", md[i]);
	}
	if (f)
		fclose(f);
	EVP_MD_CTX_free(x);
	free(path);
}

/* The binary to install: BARISTA_AGENT, else barista-agent beside this
 * program. */
static char *agent_binary(void)
{
	const char *env = getenv("BARISTA_AGENT");
	char self[4096];
	ssize_t n;
	char *slash;

	if (env && *env)
		return bar_strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return bar_strdup("barista-agent");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		slash[1] = '\0';
	return bar_printf("%sbarista-agent", self);
}

int bar_agent_install(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                      const bar_cancel *cancel)
{
	bar_record vm = {0}, pol = {0};
	bar_remote_target t = {0};
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	json_t *pattrs = NULL;
	char tmpl[] = "/tmp/barista-agent-XXXXXX", conf_path[64], hash[17], *config = NULL;
	char *bin = agent_binary(), *script = NULL, *remote = NULL, *version = NULL;
	const char *dir;
	int rc, have_tmp = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (access(bin, X_OK) != 0) {
		rc = bar_error_setc(BAR_EINVALID, "%s: no barista-agent to install at %s (build it, "
		                    "or set BARISTA_AGENT)", c->address, bin);
		goto done;
	}
	if ((rc = vm_record(&vm, st, jstr(c->refs, "vm"), c->address)) < 0)
		goto done;
	if (bar_state_get(st, jstr(c->refs, "policy"), &pol) == 0)
		pattrs = json_loads(pol.desired ? pol.desired : "{}", 0, NULL);
	dir = bar_agent_dir(vm.provider);
	if ((rc = bar_agent_target(&t, &vm, keys_dir)) < 0)
		goto done;
	if (!(config = agent_config(c, dir, pattrs ? pattrs : c->attrs))) {
		rc = -1;
		goto done;
	}
	sha16(hash, config);
	/* the config holds the token: a private directory, removed below */
	if (!mkdtemp(tmpl)) {
		rc = bar_error_set("%s: cannot make a temporary directory", c->address);
		goto done;
	}
	have_tmp = 1;
	snprintf(conf_path, sizeof(conf_path), "%s/agent.conf.new", tmpl);
	if (!(f = fopen(conf_path, "w")) || fputs(config, f) < 0 || fclose(f) != 0) {
		rc = bar_error_set("%s: cannot write the agent's config", c->address);
		goto done;
	}
	remote = bar_printf("mkdir -p %s && chmod 700 %s", dir, dir);
	job.command = remote;
	job.timeout_ms = CHECK_TIMEOUT_MS;
	if ((rc = bar_agent_run_one(&t, &job, cancel, NULL, "preparing the agent's directory")) < 0)
		goto done;
	free(remote);
	remote = bar_printf("%s/barista-agent.new", dir);
	job = (bar_remote_job)BAR_REMOTE_JOB_INIT;
	job.kind = BAR_REMOTE_PUT;
	job.local = bin;
	job.remote = remote;
	job.timeout_ms = INSTALL_TIMEOUT_MS;
	if ((rc = bar_agent_run_one(&t, &job, cancel, NULL, "copying barista-agent")) < 0)
		goto done;
	free(remote);
	remote = bar_printf("%s/agent.conf.new", dir);
	job.local = conf_path;
	job.remote = remote;
	if ((rc = bar_agent_run_one(&t, &job, cancel, NULL, "copying the agent's config")) < 0)
		goto done;
	script = install_script(dir);
	job = (bar_remote_job)BAR_REMOTE_JOB_INIT;
	job.command = script;
	job.timeout_ms = INSTALL_TIMEOUT_MS;
	if ((rc = bar_agent_run_one(&t, &job, cancel, &version, "starting barista-agent")) < 0)
		goto done;
	out->system_id = bar_printf("%s:%s", vm.system_id ? vm.system_id : "", dir);
	out->status = bar_strdup("Running");
	{
		json_t *obs = json_pack("{s:s,s:s,s:s,s:s}", "vm", vm.address, "dir", dir, "version",
		                        BAR_VERSION, "config", hash);
		out->attrs = json_dumps(obs, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(obs);
	}
done:
	if (have_tmp) {
		unlink(conf_path);
		rmdir(tmpl);
	}
	if (config) {
		OPENSSL_cleanse(config, strlen(config));
		free(config);
	}
	bar_remote_target_clear(&t);
	bar_record_clear(&vm);
	bar_record_clear(&pol);
	json_decref(pattrs);
	free(bin);
	free(script);
	free(remote);
	free(version);
	return rc;
}

int bar_agent_remove(const char *address, bar_state *st, const char *keys_dir,
                     const bar_cancel *cancel)
{
	bar_record me = {0}, vm = {0};
	bar_remote_target t = {0};
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	json_t *refs;
	char *script = NULL;
	int rc;

	if (bar_state_get(st, address, &me) < 0)
		return 0;
	refs = json_loads(me.refs ? me.refs : "{}", 0, NULL);
	rc = bar_state_get(st, jstr(refs, "vm"), &vm);
	json_decref(refs);
	if (rc == BAR_ENOTFOUND || (vm.status && !strcmp(vm.status, "Terminated"))) {
		rc = 0; /* the VM is gone and the agent with it */
		goto done;
	}
	if (rc < 0 || (rc = bar_agent_target(&t, &vm, keys_dir)) < 0)
		goto done;
	script = remove_script(bar_agent_dir(vm.provider));
	job.command = script;
	job.timeout_ms = INSTALL_TIMEOUT_MS;
	rc = bar_agent_run_one(&t, &job, cancel, NULL, "removing barista-agent");
done:
	bar_remote_target_clear(&t);
	bar_record_clear(&me);
	bar_record_clear(&vm);
	free(script);
	return rc;
}

/* ---- the refresh's check ---- */

char *bar_agent_drift(const bar_desired *d, const bar_record *r, const bar_obs *live)
{
	json_t *rec, *now;
	char *why = NULL;

	if (!live)
		return bar_strdup("barista-agent is not installed on the VM");
	if (strcmp(live->status, "Running") != 0)
		return bar_strdup("barista-agent is installed but not running");
	rec = json_loads(r->observed ? r->observed : "{}", 0, NULL);
	now = json_loads(live->attrs ? live->attrs : "{}", 0, NULL);
	if (strcmp(jstr(now, "version"), jstr(d->attrs, "version")) != 0)
		why = bar_printf("barista-agent is version %s; this barista installs %s",
		                 jstr(now, "version"), jstr(d->attrs, "version"));
	else if (*jstr(rec, "config") && strcmp(jstr(now, "config"), jstr(rec, "config")) != 0)
		why = bar_strdup("the agent's config on the VM is not the one apply wrote");
	else if ((pthread_once(&binary_once, binary_hash_init), *binary_hash) &&
	         *jstr(now, "binary") && strcmp(jstr(now, "binary"), "none") != 0 &&
	         strcmp(jstr(now, "binary"), binary_hash) != 0)
		why = bar_printf("barista-agent on the VM (sha256 %s…) is not the binary this barista "
		                 "installs (%s…), though both say version %s", jstr(now, "binary"),
		                 binary_hash, jstr(now, "version"));
	json_decref(rec);
	json_decref(now);
	return why;
}

int bar_agents_check(bar_snapshot *s, const char *keys_dir, bar_state *st)
{
	size_t n = 0, *which = bar_calloc(s->rs.n + 1, sizeof(*which));
	bar_remote_target *ts = bar_calloc(s->rs.n + 1, sizeof(*ts));
	char **scripts = bar_calloc(s->rs.n + 1, sizeof(*scripts));

	for (size_t i = 0; i < s->rs.n; i++) {
		const bar_record *r = &s->rs.items[i];
		json_t *refs;
		bar_record vm = {0};

		if (strcmp(r->type, "agent") != 0)
			continue;
		refs = json_loads(r->refs ? r->refs : "{}", 0, NULL);
		if (bar_state_get(st, jstr(refs, "vm"), &vm) == 0 &&
		    bar_agent_target(&ts[n], &vm, keys_dir) == 0) {
			scripts[n] = check_script(bar_agent_dir(vm.provider));
			which[n++] = i;
		} else {
			/* no VM to reach: the agent cannot be there */
			s->live[i].checked = 1;
			s->live[i].obs = NULL;
		}
		json_decref(refs);
		bar_record_clear(&vm);
	}
	/* one check per agent; each VM has its own script (its own directory),
	 * but they are two at most: run per directory */
	for (int pass = 0; pass < 2 && n; pass++) {
		const char *dir = pass ? "/opt/barista-agent" : "/run/barista/agent";
		bar_remote_targets sel = {NULL, bar_calloc(n, sizeof(bar_remote_target)), 0};
		size_t *map = bar_calloc(n, sizeof(*map));
		bar_remote_job job = BAR_REMOTE_JOB_INIT;
		bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
		bar_remote_results res = {NULL, 0};
		char *script = check_script(dir);

		for (size_t k = 0; k < n; k++)
			if (!strcmp(scripts[k], script)) {
				sel.items[sel.n] = ts[k];
				map[sel.n++] = k;
			}
		job.command = script;
		job.timeout_ms = CHECK_TIMEOUT_MS;
		ro.parallel = 32;
		ro.capture = 256;
		ro.cancel = s->cancel;
		if (sel.n && bar_remote_run(&res, &sel, &job, &ro) == 0) {
			for (size_t k = 0; k < res.n; k++) {
				size_t i = which[map[k]];
				const bar_remote_result *rr = &res.items[k];
				char state[16] = "", ver[64] = "", hash[32] = "", bin[32] = "";
				bar_obs *o;

				if (rr->outcome != BAR_REMOTE_OK || !rr->out ||
				    sscanf(rr->out, "%15s %63s %31s %31s", state, ver, hash, bin) < 1)
					continue; /* unreachable: not checked, no change planned */
				s->live[i].checked = 1;
				if (!strcmp(state, "missing"))
					continue; /* obs NULL: gone */
				o = bar_calloc(1, sizeof(*o));
				o->system_id = bar_strdup(s->rs.items[i].system_id ? s->rs.items[i].system_id
				                                                   : "");
				o->status = bar_strdup(!strcmp(state, "running") ? "Running" : "Stopped");
				{
					json_t *a = json_pack("{s:s,s:s,s:s}", "version", ver, "config", hash,
					                      "binary", bin);
					o->attrs = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
					json_decref(a);
				}
				s->live[i].obs = o;
				s->agent_obs = bar_realloc(s->agent_obs,
				                           (s->n_agent_obs + 1) * sizeof(*s->agent_obs));
				s->agent_obs[s->n_agent_obs++] = o;
			}
		}
		bar_remote_results_clear(&res);
		free(sel.items); /* the targets belong to ts */
		free(map);
		free(script);
	}
	for (size_t k = 0; k < n; k++) {
		bar_remote_target_clear(&ts[k]);
		free(scripts[k]);
	}
	free(ts);
	free(scripts);
	free(which);
	bar_apps_check(s, keys_dir, st);
	bar_k8sapps_check(s, keys_dir);
	return 0;
}
