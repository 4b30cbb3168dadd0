/*
 * k8sapp.c - an MCApp of runtime "kubernetes" on an existing cluster
 * (docs/kubernetes.md): one "k8sapp" resource per MCApp, made by desired.c,
 * whose attrs are the MCApp's.  Apply turns them into manifests and
 * server-side applies them (runtime/kubernetes: bar_k8s_apply waits for
 * each Deployment's rollout and prunes what the MCApp no longer has);
 * delete removes every object carrying the MCApp's label; a refresh
 * compares the live objects with the manifests (bar_k8s_drift) so that the
 * plan repairs what was changed on the cluster.
 *
 * The kubeconfig stays where the user keeps it: the record holds its path
 * and context, never its credentials.
 */
#include "planner_int.h"

#include "error.h"
#include "k8s.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K8S_TIMEOUT_MARGIN_MS 60000

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* The cluster of an MCApp's attrs in namespace ns: its kubeconfig, or the
 * one of the cluster bootstrapped on its MCI (from the key store); 0 or an
 * error naming the MCApp. */
static int open_cluster(bar_k8s_cluster **out, const json_t *attrs, const char *ns,
                        const char *keys_dir, const char *address)
{
	const json_t *k = json_object_get(attrs, "kubernetes");
	const char *ctx = jstr(k, "context");
	char path[256] = "";
	int rc;

	if (!*jstr(k, "kubeconfig") && json_is_object(json_object_get(k, "bootstrap"))) {
		char *cluster = bar_printf("%s/k8scluster/%s", ns, jstr(attrs, "mci"));

		rc = bar_k8scluster_kubeconfig(path, sizeof(path), keys_dir, cluster);
		free(cluster);
		if (rc < 0) {
			bar_error_prefix("%s", address);
			return rc;
		}
	}
	rc = bar_k8s_cluster_open(out, *path ? path : jstr(k, "kubeconfig"), *ctx ? ctx : NULL);
	if (*path)
		unlink(path); /* it holds the cluster's admin credentials */
	if (rc < 0)
		bar_error_prefix("%s", address);
	return rc;
}

/* The manifests and label of the resource at ns/name with attrs. */
static int manifests_of(json_t **m, char **label, const char *ns, const json_t *attrs,
                        const char *address)
{
	const char *mcapp = jstr(attrs, "mcapp");

	if (bar_k8s_manifests(m, ns, mcapp, attrs) < 0) {
		bar_error_prefix("%s", address);
		return -1;
	}
	*label = bar_k8s_mcapp_label(ns, mcapp);
	return 0;
}

int bar_k8sapp_deploy(bar_obs *out, const bar_change *c, const char *keys_dir,
                      const bar_cancel *cancel)
{
	bar_k8s_cluster *k = NULL;
	json_t *m = NULL, *status = NULL, *apps = json_object_get(c->attrs, "apps");
	char *label = NULL;
	int64_t per = json_integer_value(json_object_get(json_object_get(c->attrs, "rollout"),
	                                                 "healthTimeoutSeconds"));
	int rc;

	(void)cancel; /* bar_k8s_apply is bounded by its timeout */
	if ((rc = open_cluster(&k, c->attrs, c->ns, keys_dir, c->address)) < 0 ||
	    (rc = manifests_of(&m, &label, c->ns, c->attrs, c->address)) < 0)
		goto done;
	rc = bar_k8s_apply(k, m, label,
	                   (per > 0 ? per : 120) * 1000 * (int64_t)(json_array_size(apps) + 1) +
	                       K8S_TIMEOUT_MARGIN_MS,
	                   NULL, NULL);
	if (rc < 0) {
		bar_error_prefix("%s", c->address);
		goto done;
	}
	if (bar_k8s_status(&status, k, m) < 0) {
		bar_error_clear(); /* applied; the status is only for show */
		status = json_object();
	}
	out->system_id = bar_printf("%s/%s", bar_k8s_cluster_namespace(k), label);
	out->status = bar_strdup("Running");
	{
		json_t *a = json_pack("{s:s,s:I,s:o}", "namespace",
		                      jstr(json_object_get(c->attrs, "kubernetes"), "namespace"),
		                      "objects", (json_int_t)json_array_size(m), "deployments",
		                      status);

		out->attrs = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(a);
	}
done:
	json_decref(m);
	free(label);
	bar_k8s_cluster_free(k);
	return rc;
}

int bar_k8sapp_remove(const char *address, bar_state *st, const char *keys_dir)
{
	bar_record me = {0};
	bar_k8s_cluster *k = NULL;
	json_t *attrs;
	char *label;
	int rc;

	if (bar_state_get(st, address, &me) < 0) {
		bar_error_clear();
		return 0;
	}
	attrs = json_loads(me.desired ? me.desired : "{}", 0, NULL);
	label = bar_k8s_mcapp_label(me.ns, jstr(attrs, "mcapp"));
	if ((rc = open_cluster(&k, attrs, me.ns, keys_dir, address)) == 0 &&
	    (rc = bar_k8s_delete_all(k, jstr(json_object_get(attrs, "kubernetes"), "namespace"),
	                             label)) < 0)
		bar_error_prefix("%s", address);
	bar_k8s_cluster_free(k);
	free(label);
	json_decref(attrs);
	bar_record_clear(&me);
	return rc;
}

void bar_k8sapps_check(bar_snapshot *s, const char *keys_dir)
{
	for (size_t i = 0; i < s->rs.n; i++) {
		const bar_record *r = &s->rs.items[i];
		bar_k8s_cluster *k = NULL;
		json_t *attrs, *m = NULL, *a;
		char *label = NULL, *drift = NULL;
		bar_obs *o;

		if (strcmp(r->type, "k8sapp") != 0)
			continue;
		attrs = json_loads(r->desired ? r->desired : "{}", 0, NULL);
		/* a cluster that cannot be asked is left unchecked: nothing planned */
		if (open_cluster(&k, attrs, r->ns, keys_dir, r->address) < 0 ||
		    manifests_of(&m, &label, r->ns, attrs, r->address) < 0 ||
		    bar_k8s_drift(&drift, k, m, label) < 0) {
			bar_error_clear();
			goto next;
		}
		o = bar_calloc(1, sizeof(*o));
		o->system_id = bar_strdup(r->system_id ? r->system_id : "");
		o->status = bar_strdup("Running");
		a = json_pack("{s:s}", "drift", drift ? drift : "");
		o->attrs = json_dumps(a, JSON_COMPACT);
		json_decref(a);
		s->live[i].checked = 1;
		s->live[i].obs = o;
		s->agent_obs = bar_realloc(s->agent_obs, (s->n_agent_obs + 1) * sizeof(*s->agent_obs));
		s->agent_obs[s->n_agent_obs++] = o;
	next:
		free(drift);
		free(label);
		json_decref(m);
		json_decref(attrs);
		bar_k8s_cluster_free(k);
	}
}

char *bar_k8sapp_drift(const bar_obs *live)
{
	json_t *a = json_loads(live && live->attrs ? live->attrs : "{}", 0, NULL);
	const char *d = jstr(a, "drift");
	char *why = NULL;

	if (*d) {
		size_t n = strlen(d);

		/* one line per difference; the plan shows them all on one */
		why = bar_printf("changed on the cluster: %.*s", (int)(n && d[n - 1] == '\n' ? n - 1
		                                                                            : n), d);
		for (char *p = why; (p = strchr(p, '\n'));)
			*p = ';';
	}
	json_decref(a);
	return why;
}

int bar_k8sapp_status(json_t **out, bar_state *st, const char *keys_dir, const char *address)
{
	bar_record me = {0};
	bar_k8s_cluster *k = NULL;
	json_t *attrs, *m = NULL;
	char *label = NULL;
	int rc;

	*out = NULL;
	if ((rc = bar_state_get(st, address, &me)) < 0)
		return rc;
	attrs = json_loads(me.desired ? me.desired : "{}", 0, NULL);
	if ((rc = open_cluster(&k, attrs, me.ns, keys_dir, address)) == 0 &&
	    (rc = manifests_of(&m, &label, me.ns, attrs, address)) == 0 &&
	    (rc = bar_k8s_status(out, k, m)) < 0)
		bar_error_prefix("%s", address);
	json_decref(m);
	free(label);
	json_decref(attrs);
	bar_k8s_cluster_free(k);
	bar_record_clear(&me);
	return rc;
}
