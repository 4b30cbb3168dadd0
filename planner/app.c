/*
 * app.c - what apply does for an MCApp's apps on one VM (type "app",
 * "<mcapp>.<vm>", made by desired.c's add_apps; docs/apps.md):
 *
 *   1. image apps: the image is pulled into the host's cache
 *      (<state>.images, an OCI image layout; runtime/oci.h), its tag pinned
 *      to the manifest digest, and the layers the VM lacks copied to its
 *      agent's <dir>/images/blobs/sha256/;
 *   2. the VM's manifest for this MCApp is written to
 *      <dir>/apps.d/<mcapp>.conf (the agent's format, runtime/agent/apps.h)
 *      with the next generation, the old one kept as .prev, and the agent
 *      told (SIGHUP);
 *   3. `barista-agent -wait-apps` waits on the VM until every app of the new
 *      generation is healthy and the old replicas are gone, up to the
 *      rollout's healthTimeout;
 *   4. when an app cannot start or does not get healthy, the previous
 *      manifest is put back (none, for a first deploy) and waited for, and
 *      the change fails with the app's own message: the previous version
 *      keeps running.
 *
 * The plan rolls changes of one MCApp out a few VMs at a time
 * (bar_plan_rollout): each VM's change waits for the one maxUnavailable
 * places before it, so a failure stops the rollout where it is.
 */
#include "planner.h"
#include "planner_int.h"
#include "error.h"
#include "json.h"
#include "oci.h"
#include "remote.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STEP_TIMEOUT_MS 60000
#define COPY_TIMEOUT_MS (10 * 60000)

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void sha_hex(char *out, size_t nbytes, const char *text, size_t len)
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
	for (size_t i = 0; i < nbytes && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The host's image cache: <state>.images beside <state>.keys. */
static char *cache_dir(const char *keys_dir)
{
	size_t n = keys_dir ? strlen(keys_dir) : 0;

	if (n > 5 && !strcmp(keys_dir + n - 5, ".keys"))
		return bar_printf("%.*s.images", (int)(n - 5), keys_dir);
	return bar_printf("%s/images", keys_dir ? keys_dir : ".");
}

/* ---- images ---- */

typedef struct pulled {
	const char *app;
	bar_oci_image *img;
} pulled;

static int pull_images(pulled **out, size_t *n, const json_t *apps, const char *cache)
{
	size_t i;
	json_t *app;
	pulled *p = bar_calloc(json_array_size(apps) + 1, sizeof(*p));

	*n = 0;
	json_array_foreach(apps, i, app) {
		const char *ref = jstr(app, "image");
		bar_oci_opts o = BAR_OCI_OPTS_INIT;
		int rc;

		if (!*ref)
			continue;
		o.cache_dir = cache;
		if ((rc = bar_oci_pull(&p[*n].img, ref, &o)) < 0) {
			bar_error_prefix("app %s: pulling", jstr(app, "name"));
			for (size_t k = 0; k < *n; k++)
				bar_oci_image_free(p[k].img);
			free(p);
			return rc;
		}
		p[(*n)++].app = jstr(app, "name");
	}
	*out = p;
	return 0;
}

static const bar_oci_image *image_of(const pulled *p, size_t n, const char *app)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].app, app))
			return p[i].img;
	return NULL;
}

static int gzip_layer(const char *media_type)
{
	return strstr(media_type, "gzip") != NULL;
}

/* Copy the layers the VM has not got (each to a temporary name, then
 * renamed: a cut copy is never taken for a layer). */
static int copy_layers(bar_remote_target *t, const char *dir, const pulled *p, size_t n,
                       const char *cache, const bar_cancel *cancel)
{
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	char *list = NULL, *cmd;
	int rc;

	cmd = bar_printf("mkdir -p %s/images/blobs/sha256 && ls %s/images/blobs/sha256", dir, dir);
	job.command = cmd;
	job.timeout_ms = STEP_TIMEOUT_MS;
	rc = bar_agent_run_one(t, &job, cancel, &list, "listing the VM's image layers");
	free(cmd);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++)
		for (size_t k = 0; rc == 0 && k < p[i].img->nlayers; k++) {
			const char *hex = p[i].img->layers[k].digest + 7;
			char *local, *remote, *mv, line[80];

			snprintf(line, sizeof(line), "%s\n", hex);
			if (list && (strstr(list, line) || (!strncmp(list, hex, 64) &&
			                                    (list[64] == '\n' || !list[64]))))
				continue;
			local = bar_printf("%s/blobs/sha256/%s", cache, hex);
			remote = bar_printf("%s/images/blobs/sha256/%s.part", dir, hex);
			mv = bar_printf("mv -f %s %s/images/blobs/sha256/%s", remote, dir, hex);
			job = (bar_remote_job)BAR_REMOTE_JOB_INIT;
			job.kind = BAR_REMOTE_PUT;
			job.local = local;
			job.remote = remote;
			job.timeout_ms = COPY_TIMEOUT_MS;
			rc = bar_agent_run_one(t, &job, cancel, NULL, "copying an image layer");
			if (rc == 0) {
				job = (bar_remote_job)BAR_REMOTE_JOB_INIT;
				job.command = mv;
				job.timeout_ms = STEP_TIMEOUT_MS;
				rc = bar_agent_run_one(t, &job, cancel, NULL, "placing an image layer");
			}
			free(local);
			free(remote);
			free(mv);
		}
	free(list);
	return rc;
}

/* ---- the manifest ---- */

/* A health check in the manifest's words. */
static void manifest_health(bar_buf *b, const json_t *h)
{
	const char *kind = jstr(h, "kind");

	if (!strcmp(kind, "tcp"))
		bar_buf_printf(b, "health=tcp %lld\n",
		               (long long)json_integer_value(json_object_get(h, "port")));
	else if (!strcmp(kind, "http"))
		bar_buf_printf(b, "health=http %lld %s\n",
		               (long long)json_integer_value(json_object_get(h, "port")),
		               jstr(h, "path"));
	else if (!strcmp(kind, "exec"))
		bar_buf_printf(b, "health=exec %s\n", jstr(h, "command"));
	else
		return;
	bar_buf_printf(b, "health_interval_ms=%lld\nhealth_timeout_ms=%lld\nhealth_failures=%lld\n"
	               "health_delay_ms=%lld\n",
	               (long long)json_integer_value(json_object_get(h, "intervalSeconds")) * 1000,
	               (long long)json_integer_value(json_object_get(h, "timeoutSeconds")) * 1000,
	               (long long)json_integer_value(json_object_get(h, "failureThreshold")),
	               (long long)json_integer_value(json_object_get(h, "initialDelaySeconds")) *
	                   1000);
}

/* env: the image's, then the app's (which win). */
static void manifest_env(bar_buf *b, const json_t *env, const bar_oci_image *img)
{
	const char *k;
	json_t *v;

	for (size_t i = 0; img && i < img->nenv; i++) {
		size_t kl = strcspn(img->env[i], "=");
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int)kl, img->env[i]);
		if (!json_object_get(env, key))
			bar_buf_printf(b, "env=%s\n", img->env[i]);
	}
	json_object_foreach((json_t *)env, k, v)
		bar_buf_printf(b, "env=%s=%s\n", k, json_string_value(v));
}

/* One app's section; its hash covers its definition and its image's
 * digest, so a new image (a moved tag) restarts it. */
static void manifest_app(bar_buf *b, const json_t *app, const bar_oci_image *img)
{
	bar_buf body = BAR_BUF_INIT(0);
	char *def = json_dumps(app, JSON_COMPACT | JSON_SORT_KEYS), hash[33];
	const json_t *res = json_object_get(app, "resources"), *v;
	size_t i;

	if (img)
		bar_buf_printf(&body, "kind=image\nimage=%s\n", img->manifest_digest);
	else
		bar_buf_printf(&body, "kind=command\ncommand=%s\n", jstr(app, "command"));
	bar_buf_printf(&body, "replicas=%lld\norder=%lld\n",
	               (long long)json_integer_value(json_object_get(app, "replicas")),
	               (long long)json_integer_value(json_object_get(app, "order")));
	if (json_array_size(json_object_get(app, "after"))) {
		bar_buf_puts(&body, "after=");
		json_array_foreach(json_object_get(app, "after"), i, v)
			bar_buf_printf(&body, "%s%s", i ? "," : "", json_string_value(v));
		bar_buf_puts(&body, "\n");
	}
	if (img) {
		for (size_t k = 0; k < img->nlayers; k++)
			bar_buf_printf(&body, "layer=%s %s\n",
			               gzip_layer(img->layers[k].media_type) ? "gzip" : "tar",
			               img->layers[k].digest);
		if (json_array_size(json_object_get(app, "args"))) {
			json_array_foreach(json_object_get(app, "args"), i, v)
				bar_buf_printf(&body, "arg=%s\n", json_string_value(v));
		} else {
			for (size_t k = 0; k < img->nentrypoint; k++)
				bar_buf_printf(&body, "arg=%s\n", img->entrypoint[k]);
			for (size_t k = 0; k < img->ncmd; k++)
				bar_buf_printf(&body, "arg=%s\n", img->cmd[k]);
		}
		if (img->workdir[0])
			bar_buf_printf(&body, "cwd=%s\n", img->workdir);
		if (img->user[0])
			bar_buf_printf(&body, "user=%s\n", img->user);
		json_array_foreach(json_object_get(app, "volumes"), i, v)
			bar_buf_printf(&body, "volume=%s %s\n", jstr(v, "name"), jstr(v, "path"));
	}
	manifest_env(&body, json_object_get(app, "env"), img);
	json_array_foreach(json_object_get(app, "ports"), i, v)
		bar_buf_printf(&body, "port=%lld/%s\n",
		               (long long)json_integer_value(json_object_get(v, "port")),
		               jstr(v, "protocol"));
	manifest_health(&body, json_object_get(app, "health"));
	bar_buf_printf(&body, "restart=%s\n", jstr(app, "restart"));
	if (json_real_value(json_object_get(res, "cpu")) > 0)
		bar_buf_printf(&body, "cpus=%g\n", json_real_value(json_object_get(res, "cpu")));
	if (json_integer_value(json_object_get(res, "memory")) > 0)
		bar_buf_printf(&body, "memory=%lld\n",
		               (long long)json_integer_value(json_object_get(res, "memory")));
	{
		bar_buf h = BAR_BUF_INIT(0);
		bar_buf_printf(&h, "%s\n%s", def ? def : "", body.data ? body.data : "");
		sha_hex(hash, 16, h.data, h.len);
		bar_buf_free(&h);
	}
	bar_buf_printf(b, "[app %s]\nhash=%s\n%s", jstr(app, "name"), hash,
	               body.data ? body.data : "");
	bar_buf_free(&body);
	free(def);
}

static char *manifest_text(const bar_change *c, long generation, const pulled *p, size_t n)
{
	bar_buf b = BAR_BUF_INIT(0);
	size_t i;
	json_t *app;

	bar_buf_printf(&b, "# the apps of MCApp %s/%s on %s, written by barista apply\n"
	               "generation=%ld\n", c->ns, jstr(c->attrs, "mcapp"), jstr(c->attrs, "vm"),
	               generation);
	json_array_foreach(json_object_get(c->attrs, "apps"), i, app)
		manifest_app(&b, app, image_of(p, n, jstr(app, "name")));
	return bar_buf_take(&b);
}

/* ---- on the VM ---- */

/* Switch the VM's manifest of mcapp to <name>.new (or back to .prev with
 * restore) and wait for generation gen there. */
static char *switch_script(const char *dir, const char *mcapp, long gen, long timeout_ms,
                           int restore)
{
	return bar_printf(
	    "D=%s; M=%s\nset -e\ncd \"$D/apps.d\"\n"
	    "%s"
	    "p=$(cat \"$D/state/agent.pid\" 2>/dev/null) || { echo \"barista-agent is not running "
	    "on the VM (no $D/state/agent.pid)\"; exit 4; }\n"
	    "kill -HUP \"$p\" || { echo \"barista-agent (pid $p) is not running on the VM\"; exit 4; }\n"
	    "set +e\n\"$D/barista-agent\" -wait-apps \"$M\" -generation %ld -timeout-ms %ld "
	    "-status \"$D/state/apps.json\"\n",
	    dir, mcapp,
	    restore ? "if [ -f \"$M.conf.prev\" ]; then mv -f \"$M.conf.prev\" \"$M.conf\"; "
	              "else rm -f \"$M.conf\"; fi\n"
	            : "if [ -f \"$M.conf\" ]; then cp -f \"$M.conf\" \"$M.conf.prev\"; "
	              "else rm -f \"$M.conf.prev\"; fi\nmv -f \"$M.conf.new\" \"$M.conf\"\n",
	    gen, timeout_ms);
}

/* Run a switch; the agent's own answer (why an app is not healthy) as
 * the error on failure. */
static int run_switch(bar_remote_target *t, const char *script, long timeout_ms,
                      const bar_cancel *cancel, char **why)
{
	bar_remote_targets ts = {NULL, t, 1};
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = {NULL, 0};
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	int rc;

	*why = NULL;
	job.command = script;
	job.timeout_ms = (int)(timeout_ms + STEP_TIMEOUT_MS);
	ro.parallel = 1;
	ro.capture = 16384;
	ro.cancel = cancel;
	if ((rc = bar_remote_run(&res, &ts, &job, &ro)) < 0)
		return rc;
	if (res.items[0].outcome != BAR_REMOTE_OK) {
		const bar_remote_result *r = &res.items[0];
		const char *out = r->out && *r->out ? r->out : r->err && *r->err ? r->err : "";
		size_t len = strlen(out);

		while (len && out[len - 1] == '\n')
			len--;
		if (r->outcome == BAR_REMOTE_EXIT && len)
			*why = bar_printf("%.*s", (int)len, out);
		else
			*why = bar_printf("%s%s%s", bar_remote_outcome_name(r->outcome),
			                  r->error ? ": " : "", r->error ? r->error : "");
		rc = BAR_EFAIL;
	}
	bar_remote_results_clear(&res);
	return rc;
}

static int put_manifest(bar_remote_target *t, const char *dir, const char *mcapp,
                        const char *text, const bar_cancel *cancel)
{
	char tmpl[] = "/tmp/barista-apps-XXXXXX", path[64];
	char *remote = bar_printf("%s/apps.d/%s.conf.new", dir, mcapp);
	char *mk = bar_printf("mkdir -p %s/apps.d && chmod 700 %s/apps.d", dir, dir);
	bar_remote_job job = BAR_REMOTE_JOB_INIT;
	FILE *f;
	int rc;

	if (!mkdtemp(tmpl)) {
		rc = bar_error_set("cannot make a temporary directory");
		goto done;
	}
	snprintf(path, sizeof(path), "%s/%s.conf", tmpl, mcapp);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0) {
		rc = bar_error_set("cannot write the apps' manifest");
		goto cleanup;
	}
	job.command = mk;
	job.timeout_ms = STEP_TIMEOUT_MS;
	if ((rc = bar_agent_run_one(t, &job, cancel, NULL, "preparing the apps' directory")) < 0)
		goto cleanup;
	job = (bar_remote_job)BAR_REMOTE_JOB_INIT;
	job.kind = BAR_REMOTE_PUT;
	job.local = path;
	job.remote = remote;
	job.timeout_ms = STEP_TIMEOUT_MS;
	rc = bar_agent_run_one(t, &job, cancel, NULL, "copying the apps' manifest");
cleanup:
	unlink(path);
	rmdir(tmpl);
done:
	free(remote);
	free(mk);
	return rc;
}

/* The VM of an app resource and a target for it. */
static int app_target(bar_remote_target *t, bar_record *vm, bar_state *st, const char *vm_addr,
                      const char *address, const char *keys_dir)
{
	int rc;

	if (!vm_addr || !*vm_addr)
		return bar_error_setc(BAR_EINVALID, "%s: no VM to run the apps on", address);
	if ((rc = bar_state_get(st, vm_addr, vm)) < 0) {
		if (rc == BAR_ENOTFOUND)
			bar_error_setc(BAR_ENOTFOUND, "%s: its VM %s is not in the state", address,
			               vm_addr);
		return rc;
	}
	return bar_agent_target(t, vm, keys_dir);
}

static long recorded_generation(bar_state *st, const char *address)
{
	bar_record r = {0};
	long g = 0;

	if (bar_state_get(st, address, &r) == 0) {
		json_t *o = json_loads(r.observed ? r.observed : "{}", 0, NULL);
		g = (long)json_integer_value(json_object_get(o, "generation"));
		json_decref(o);
	}
	bar_record_clear(&r);
	return g;
}

int bar_app_deploy(bar_obs *out, const bar_change *c, bar_state *st, const char *keys_dir,
                   const bar_cancel *cancel)
{
	bar_record vm = {0};
	bar_remote_target t = {0};
	const char *mcapp = jstr(c->attrs, "mcapp"), *dir;
	long gen = recorded_generation(st, c->address) + 1, prev = gen - 1;
	long timeout_ms = (long)json_integer_value(json_object_get(json_object_get(c->attrs,
	                                                                           "rollout"),
	                                                           "healthTimeoutSeconds")) * 1000;
	char *cache = cache_dir(keys_dir), *text = NULL, *script = NULL, *why = NULL, hash[17];
	pulled *p = NULL;
	size_t np = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (timeout_ms <= 0)
		timeout_ms = 120000;
	if ((rc = app_target(&t, &vm, st, jstr(c->refs, "vm"), c->address, keys_dir)) < 0)
		goto done;
	dir = bar_agent_dir(vm.provider);
	if ((rc = pull_images(&p, &np, json_object_get(c->attrs, "apps"), cache)) < 0)
		goto done;
	if (np && (rc = copy_layers(&t, dir, p, np, cache, cancel)) < 0)
		goto done;
	text = manifest_text(c, gen, p, np);
	sha_hex(hash, 8, text, strlen(text));
	if ((rc = put_manifest(&t, dir, mcapp, text, cancel)) < 0)
		goto done;
	script = switch_script(dir, mcapp, gen, timeout_ms, 0);
	if ((rc = run_switch(&t, script, timeout_ms, cancel, &why)) < 0) {
		char *back = NULL;

		if (!why) /* no answer from the VM: nothing to put back from here */
			goto done;
		free(script);
		/* the previous generation back (none: the apps stopped) */
		script = switch_script(dir, mcapp, prev, timeout_ms, 1);
		if (run_switch(&t, script, timeout_ms, cancel, &back) < 0)
			rc = bar_error_setc(BAR_EFAIL, "%s; putting the previous version back failed "
			                    "too: %s", why, back ? back : "no answer");
		else if (prev)
			rc = bar_error_setc(BAR_EFAIL, "%s; the previous version (generation %ld) runs "
			                    "again", why, prev);
		else
			rc = bar_error_setc(BAR_EFAIL, "%s; its apps were stopped", why);
		free(back);
		goto done;
	}
	out->system_id = bar_printf("%s:%s/apps.d/%s.conf", vm.system_id ? vm.system_id : "", dir,
	                            mcapp);
	out->status = bar_strdup("Running");
	{
		json_t *obs = json_pack("{s:s,s:s,s:I,s:s,s:{}}", "vm", vm.address, "dir", dir,
		                        "generation", (json_int_t)gen, "manifest", hash, "images");
		json_t *imgs = json_object_get(obs, "images");
		for (size_t i = 0; i < np; i++)
			json_object_set_new(imgs, p[i].app, json_string(p[i].img->manifest_digest));
		out->attrs = json_dumps(obs, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(obs);
	}
done:
	for (size_t i = 0; i < np; i++)
		bar_oci_image_free(p[i].img);
	free(p);
	bar_remote_target_clear(&t);
	bar_record_clear(&vm);
	free(cache);
	free(text);
	free(script);
	free(why);
	return rc;
}

int bar_app_remove(const char *address, bar_state *st, const char *keys_dir,
                   const bar_cancel *cancel)
{
	bar_record me = {0}, vm = {0};
	bar_remote_target t = {0};
	json_t *refs = NULL, *desired = NULL;
	char *script = NULL, *why = NULL;
	int rc;

	if (bar_state_get(st, address, &me) < 0)
		return 0;
	refs = json_loads(me.refs ? me.refs : "{}", 0, NULL);
	desired = json_loads(me.desired ? me.desired : "{}", 0, NULL);
	rc = bar_state_get(st, jstr(refs, "vm"), &vm);
	if (rc == BAR_ENOTFOUND || (vm.status && !strcmp(vm.status, "Terminated"))) {
		rc = 0; /* the VM is gone and its apps with it */
		goto done;
	}
	if (rc < 0 || (rc = bar_agent_target(&t, &vm, keys_dir)) < 0)
		goto done;
	script = bar_printf("D=%s; M=%s\nrm -f \"$D/apps.d/$M.conf\" \"$D/apps.d/$M.conf.prev\"\n"
	                    "p=$(cat \"$D/state/agent.pid\" 2>/dev/null) || exit 0\n"
	                    "kill -HUP \"$p\" 2>/dev/null || exit 0\n"
	                    "\"$D/barista-agent\" -wait-apps \"$M\" -generation 0 -timeout-ms 60000 "
	                    "-status \"$D/state/apps.json\"\n",
	                    bar_agent_dir(vm.provider), jstr(desired, "mcapp"));
	if ((rc = run_switch(&t, script, 60000, cancel, &why)) < 0)
		rc = bar_error_setc(BAR_EFAIL, "%s: stopping its apps: %s", address,
		                    why ? why : "no answer");
done:
	bar_remote_target_clear(&t);
	bar_record_clear(&me);
	bar_record_clear(&vm);
	json_decref(refs);
	json_decref(desired);
	free(script);
	free(why);
	return rc;
}

/* ---- rollout order ---- */

/* Add `dep` to the deps of change c. */
static void dep_on(bar_change *c, const char *dep)
{
	json_t *deps = c->deps ? json_deep_copy(c->deps) : json_array();

	json_array_append_new(deps, json_string(dep));
	json_decref(c->deps);
	c->deps = deps;
}

/* maxUnavailable of MCApp attrs for n VMs: at least 1, and below n so that
 * some VM keeps serving while the others change. */
static size_t max_unavailable(const json_t *attrs, size_t n)
{
	long mu = (long)json_integer_value(json_object_get(json_object_get(attrs, "rollout"),
	                                                   "maxUnavailable"));

	if (mu < 1)
		mu = 1;
	if (n > 1 && (size_t)mu >= n)
		mu = (long)n - 1;
	return (size_t)mu;
}

static int is_app_update(const bar_change *c, const char *ns, const char *mcapp)
{
	return !strcmp(c->type, "app") && c->action == BAR_UPDATE && c->attrs &&
	       (!ns || (!strcmp(c->ns, ns) && !strcmp(jstr(c->attrs, "mcapp"), mcapp)));
}

/* The app updates of each MCApp, VM by VM: the j-th waits for the
 * (j - maxUnavailable)-th. */
static void rollout_apps(bar_plan *p, size_t *idx)
{
	for (size_t i = 0; i < p->n; i++) {
		const bar_change *c = &p->changes[i];
		const char *mcapp;
		size_t n = 0, k, mu;

		if (!is_app_update(c, NULL, NULL))
			continue;
		mcapp = jstr(c->attrs, "mcapp");
		/* the first update of this MCApp: gather them all (changes are
		 * sorted by address, so its VMs come in a stable order) */
		for (k = 0; k < i && !is_app_update(&p->changes[k], c->ns, mcapp); k++)
			;
		if (k < i)
			continue;
		for (k = i; k < p->n; k++)
			if (is_app_update(&p->changes[k], c->ns, mcapp))
				idx[n++] = k;
		mu = max_unavailable(c->attrs, n);
		for (size_t j = mu; j < n; j++)
			dep_on(&p->changes[idx[j]], p->changes[idx[j - mu]].address);
	}
}

/* The update of change index `agent`'s VM's apps of MCApp ns/mcapp in the
 * plan, or (size_t)-1. */
static size_t app_change_of(const bar_plan *p, const char *ns, const char *mcapp,
                            const char *vm)
{
	for (size_t k = 0; k < p->n; k++)
		if (is_app_update(&p->changes[k], ns, mcapp) &&
		    !strcmp(jstr(p->changes[k].attrs, "vm"), vm))
			return k;
	return (size_t)-1;
}

/* Agents re-installed on VMs that run an MCApp's apps restart those apps,
 * so they too go VM by VM: per MCApp (an agent counts for the first MCApp
 * of its VM), the j-th agent waits for the (j - maxUnavailable)-th and for
 * that VM's app update when the plan has one.  The install waits for the
 * VM's apps to be healthy again (planner/agent.c). */
static void rollout_agents(bar_plan *p, const bar_desired_set *ds, size_t *idx)
{
	char *taken = bar_calloc(p->n + 1, 1);

	for (size_t a = 0; a < ds->n; a++) {
		const bar_desired *app = &ds->items[a];
		const char *mcapp;
		size_t n = 0, mu;

		if (strcmp(app->type, "app") || !app->attrs)
			continue;
		mcapp = jstr(app->attrs, "mcapp");
		/* the first of this MCApp's app resources: gather its VMs' agents */
		if (a > 0) {
			size_t k;
			for (k = 0; k < a; k++)
				if (!strcmp(ds->items[k].type, "app") && ds->items[k].attrs &&
				    !strcmp(ds->items[k].ns, app->ns) &&
				    !strcmp(jstr(ds->items[k].attrs, "mcapp"), mcapp))
					break;
			if (k < a)
				continue;
		}
		for (size_t k = a; k < ds->n; k++) {
			const bar_desired *d = &ds->items[k];

			if (strcmp(d->type, "app") || !d->attrs || strcmp(d->ns, app->ns) ||
			    strcmp(jstr(d->attrs, "mcapp"), mcapp))
				continue;
			for (size_t i = 0; i < p->n; i++) {
				const bar_change *c = &p->changes[i];

				if (!taken[i] && !strcmp(c->type, "agent") && c->action == BAR_UPDATE &&
				    c->attrs && !strcmp(c->ns, d->ns) &&
				    !strcmp(jstr(c->attrs, "vm"), jstr(d->attrs, "vm"))) {
					taken[i] = 1;
					idx[n++] = i;
				}
			}
		}
		mu = max_unavailable(app->attrs, n);
		for (size_t j = mu; j < n; j++) {
			const bar_change *before = &p->changes[idx[j - mu]];
			size_t ac = app_change_of(p, app->ns, mcapp, jstr(before->attrs, "vm"));

			dep_on(&p->changes[idx[j]], before->address);
			if (ac != (size_t)-1)
				dep_on(&p->changes[idx[j]], p->changes[ac].address);
		}
	}
	free(taken);
}

void bar_plan_rollout(bar_plan *p, const bar_desired_set *ds)
{
	size_t *idx = bar_calloc(p->n + 1, sizeof(*idx));

	rollout_apps(p, idx);
	if (ds)
		rollout_agents(p, ds, idx);
	free(idx);
}

/* ---- the refresh's check ---- */

/* An app record's VM, for the check. */
typedef struct check_vm {
	char *vm;            /* its address */
	bar_remote_target t;
	const char *dir;
	char *out;           /* "<mcapp> <hash>" lines; NULL: not reached */
} check_vm;

static void record_obs(bar_snapshot *s, size_t i, const char *hash)
{
	bar_obs *o = bar_calloc(1, sizeof(*o));
	json_t *a = json_pack("{s:s}", "manifest", hash);

	o->system_id = bar_strdup(s->rs.items[i].system_id ? s->rs.items[i].system_id : "");
	o->status = bar_strdup("Running");
	o->attrs = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	s->live[i].obs = o;
	s->agent_obs = bar_realloc(s->agent_obs, (s->n_agent_obs + 1) * sizeof(*s->agent_obs));
	s->agent_obs[s->n_agent_obs++] = o;
}

/* Check every recorded app resource's manifest on its VM: one short
 * command per VM listing its manifests' hashes, 32 VMs at a time.  live[]
 * gets Running with the manifest's hash, or checked and NULL when the VM
 * has no such manifest (an agent installed anew, a file removed by hand).
 * A VM that cannot be reached is left unchecked: no change is planned. */
void bar_apps_check(bar_snapshot *s, const char *keys_dir, bar_state *st)
{
	check_vm *vms = bar_calloc(s->rs.n + 1, sizeof(*vms));
	size_t nvm = 0;

	for (size_t i = 0; i < s->rs.n; i++) {
		json_t *refs;
		const char *v;
		size_t k;
		bar_record vm = {0};

		if (strcmp(s->rs.items[i].type, "app") != 0)
			continue;
		refs = json_loads(s->rs.items[i].refs ? s->rs.items[i].refs : "{}", 0, NULL);
		v = jstr(refs, "vm");
		for (k = 0; k < nvm && strcmp(vms[k].vm, v); k++)
			;
		if (k == nvm) {
			vms[nvm].vm = bar_strdup(v);
			if (bar_state_get(st, v, &vm) == 0 && bar_agent_target(&vms[nvm].t, &vm,
			                                                        keys_dir) == 0)
				vms[nvm].dir = bar_agent_dir(vm.provider);
			bar_error_clear();
			bar_record_clear(&vm);
			nvm++;
		}
		json_decref(refs);
	}
	for (int pass = 0; pass < 2 && nvm; pass++) {
		const char *dir = pass ? "/opt/barista-agent" : "/run/barista/agent";
		bar_remote_targets sel = {NULL, bar_calloc(nvm, sizeof(bar_remote_target)), 0};
		size_t *map = bar_calloc(nvm, sizeof(*map));
		bar_remote_job job = BAR_REMOTE_JOB_INIT;
		bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
		bar_remote_results res = {NULL, 0};
		char *cmd = bar_printf("for f in %s/apps.d/*.conf; do [ -f \"$f\" ] || continue; "
		                       "n=${f##*/}; echo \"${n%%.conf} $(sha256sum < \"$f\" | "
		                       "cut -c1-16)\"; done; echo end", dir);

		for (size_t k = 0; k < nvm; k++)
			if (vms[k].dir && !strcmp(vms[k].dir, dir)) {
				sel.items[sel.n] = vms[k].t;
				map[sel.n++] = k;
			}
		job.command = cmd;
		job.timeout_ms = 20000;
		ro.parallel = 32;
		ro.capture = 8192;
		ro.cancel = s->cancel;
		if (sel.n && bar_remote_run(&res, &sel, &job, &ro) == 0)
			for (size_t k = 0; k < res.n; k++)
				if (res.items[k].outcome == BAR_REMOTE_OK && res.items[k].out &&
				    strstr(res.items[k].out, "end"))
					vms[map[k]].out = bar_strdup(res.items[k].out);
		bar_remote_results_clear(&res);
		free(sel.items); /* the targets belong to vms */
		free(map);
		free(cmd);
	}
	for (size_t i = 0; i < s->rs.n; i++) {
		json_t *refs, *desired;
		char want[200];
		const char *line;
		size_t k;

		if (strcmp(s->rs.items[i].type, "app") != 0)
			continue;
		refs = json_loads(s->rs.items[i].refs ? s->rs.items[i].refs : "{}", 0, NULL);
		desired = json_loads(s->rs.items[i].desired ? s->rs.items[i].desired : "{}", 0, NULL);
		for (k = 0; k < nvm && strcmp(vms[k].vm, jstr(refs, "vm")); k++)
			;
		if (k < nvm && !vms[k].dir) {
			s->live[i].checked = 1; /* no VM to reach: the apps cannot be there */
		} else if (k < nvm && vms[k].out) {
			s->live[i].checked = 1;
			snprintf(want, sizeof(want), "%s ", jstr(desired, "mcapp"));
			for (line = vms[k].out; line && *line; line = strchr(line, '\n'),
			    line = line ? line + 1 : NULL)
				if (!strncmp(line, want, strlen(want))) {
					char hash[40] = "";
					sscanf(line + strlen(want), "%39s", hash);
					record_obs(s, i, hash);
					break;
				}
		}
		json_decref(refs);
		json_decref(desired);
	}
	for (size_t k = 0; k < nvm; k++) {
		free(vms[k].vm);
		free(vms[k].out);
		bar_remote_target_clear(&vms[k].t);
	}
	free(vms);
}

char *bar_app_drift(const bar_record *r, const bar_obs *live)
{
	json_t *rec, *now;
	char *why = NULL;

	if (!live)
		return bar_strdup("the VM has no manifest of these apps (its agent was installed "
		                  "anew, or the file was removed)");
	rec = json_loads(r->observed ? r->observed : "{}", 0, NULL);
	now = json_loads(live->attrs ? live->attrs : "{}", 0, NULL);
	if (*jstr(rec, "manifest") && strcmp(jstr(now, "manifest"), jstr(rec, "manifest")) != 0)
		why = bar_strdup("the apps' manifest on the VM is not the one apply wrote");
	json_decref(rec);
	json_decref(now);
	return why;
}

/* ---- status ---- */

json_t *bar_app_status_parse(const char *text, size_t len, const char *mcapp, const char *app)
{
	json_t *doc = json_loadb(text ? text : "", len, 0, NULL), *out, *r;
	char prefix[200];
	size_t i;

	if (!json_is_array(json_object_get(doc, "apps"))) {
		json_decref(doc);
		return NULL;
	}
	out = json_array();
	snprintf(prefix, sizeof(prefix), "%s.", mcapp);
	json_array_foreach(json_object_get(doc, "apps"), i, r) {
		const char *name = jstr(r, "name");

		if (strncmp(name, prefix, strlen(prefix)) != 0 ||
		    json_is_true(json_object_get(r, "gone")))
			continue;
		if (app && *app && strcmp(name + strlen(prefix), app) != 0)
			continue;
		json_array_append_new(out, json_pack(
		    "{s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "app", name + strlen(prefix), "replica",
		    json_object_get(r, "replica"), "state", json_object_get(r, "state"), "healthy",
		    json_object_get(r, "healthy"), "restarts", json_object_get(r, "restarts"), "pid",
		    json_object_get(r, "pid"), "exitCode", json_object_get(r, "exitCode"), "message",
		    json_object_get(r, "message"), "sinceMs", json_object_get(r, "sinceMs")));
	}
	json_decref(doc);
	return out;
}
