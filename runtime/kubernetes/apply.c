/*
 * apply.c - putting an MCApp's manifests on a cluster and taking them off:
 * server-side apply in order with a rollout wait after each Deployment,
 * pruning what carries the MCApp's label but is no longer wanted, deleting
 * everything of an MCApp, and the status of its Deployments.  Drift is in
 * drift.c.
 */
#include "k8s_int.h"
#include "error.h"
#include "util.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 250
#define ANN_TIMEOUT "barista.io/health-timeout-seconds"

static const char *meta_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

static void say(void (*progress)(void *, const char *), void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(void (*progress)(void *, const char *), void *ctx, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	progress(ctx, line);
}

/* "k=v" label selector for a query string (new string). */
static char *selector_query(const char *mcapp_label)
{
	char *sel = bar_printf("barista.io/mcapp=%s", mcapp_label);
	char *esc = curl_easy_escape(NULL, sel, 0);
	char *q = bar_printf("?labelSelector=%s", esc ? esc : "");

	curl_free(esc);
	free(sel);
	return q;
}

/* The pods of a Deployment (its selector), for their waiting reasons. */
static int pod_problems(const bar_k8s_cluster *c, const char *ns, const json_t *dep,
                        bar_buf *why, int *fatal)
{
	const json_t *ml = json_object_get(json_object_get(json_object_get(dep, "spec"),
	                                                   "selector"), "matchLabels");
	bar_buf sel = BAR_BUF_INIT(4096);
	const char *k;
	json_t *v, *list = NULL, *pod;
	char *esc, *path;
	size_t i;
	int rc;

	json_object_foreach((json_t *)ml, k, v)
		bar_buf_printf(&sel, "%s%s=%s", sel.len ? "," : "", k, json_string_value(v));
	esc = curl_easy_escape(NULL, sel.data ? sel.data : "", 0);
	path = bar_printf("/api/v1/namespaces/%s/pods?labelSelector=%s", ns, esc ? esc : "");
	curl_free(esc);
	bar_buf_free(&sel);
	rc = k8s_call(&list, c, "GET", path, NULL, NULL);
	free(path);
	if (rc < 0) /* pods may not be listable with this account: not fatal */
		return 0;
	json_array_foreach(json_object_get(list, "items"), i, pod) {
		const json_t *cs = json_object_get(json_object_get(pod, "status"),
		                                   "containerStatuses"), *st;
		size_t j;

		json_array_foreach(cs, j, st) {
			const json_t *w = json_object_get(json_object_get(st, "state"), "waiting");
			const char *reason = json_string_value(json_object_get(w, "reason"));
			const char *msg = json_string_value(json_object_get(w, "message"));

			if (!reason || strcmp(reason, "ContainerCreating") == 0 ||
			    strcmp(reason, "PodInitializing") == 0)
				continue;
			if (why->len == 0)
				bar_buf_printf(why, "; pod %s: %s: %s", meta_str(pod, "name"), reason,
				               msg ? msg : "");
			/* a pull that failed once may still succeed; these do not
			 * mend themselves */
			if (strcmp(reason, "CrashLoopBackOff") == 0 ||
			    strcmp(reason, "ImagePullBackOff") == 0 ||
			    strcmp(reason, "InvalidImageName") == 0 ||
			    strcmp(reason, "CreateContainerConfigError") == 0)
				*fatal = 1;
		}
	}
	json_decref(list);
	return 0;
}

/* Wait until the Deployment's rollout is complete, failed or late. */
static int wait_rollout(const bar_k8s_cluster *c, const json_t *dep, int64_t deadline,
                        void (*progress)(void *, const char *), void *ctx)
{
	const char *ns = meta_str(dep, "namespace"), *name = meta_str(dep, "name");
	const k8s_kind *k = k8s_kind_of("Deployment");
	char *path = k8s_path(k, ns, name);
	bar_buf why = BAR_BUF_INIT(2048);
	int rc = -1, said = -1;

	for (;;) {
		json_t *live = NULL, *cond;
		const json_t *st, *spec;
		json_int_t want, gen, obs, upd, avail, total;
		int fatal = 0;
		size_t i;

		rc = k8s_call(&live, c, "GET", path, NULL, NULL);
		if (rc < 0)
			goto done;
		st = json_object_get(live, "status");
		spec = json_object_get(live, "spec");
		want = json_is_integer(json_object_get(spec, "replicas"))
		           ? json_integer_value(json_object_get(spec, "replicas")) : 1;
		gen = json_integer_value(json_object_get(json_object_get(live, "metadata"),
		                                         "generation"));
		obs = json_integer_value(json_object_get(st, "observedGeneration"));
		upd = json_integer_value(json_object_get(st, "updatedReplicas"));
		avail = json_integer_value(json_object_get(st, "availableReplicas"));
		total = json_integer_value(json_object_get(st, "replicas"));
		json_array_foreach(json_object_get(st, "conditions"), i, cond) {
			const char *type = json_string_value(json_object_get(cond, "type"));
			const char *reason = json_string_value(json_object_get(cond, "reason"));
			const char *msg = json_string_value(json_object_get(cond, "message"));

			if (obs >= gen && type && strcmp(type, "Progressing") == 0 && reason &&
			    strcmp(reason, "ProgressDeadlineExceeded") == 0) {
				bar_buf_free(&why);
				pod_problems(c, ns, live, &why, &fatal);
				rc = bar_error_set("deployment %s/%s: rollout failed: %s: %s%s", ns, name,
				                   reason, msg ? msg : "", why.data ? why.data : "");
				json_decref(live);
				goto done;
			}
		}
		if (obs >= gen && upd == want && avail == want && total == want) {
			say(progress, ctx, "deployment %s/%s: %lld/%lld available", ns, name,
			    (long long)avail, (long long)want);
			json_decref(live);
			rc = 0;
			goto done;
		}
		if (said != (int)avail) {
			say(progress, ctx, "deployment %s/%s: %lld updated, %lld/%lld available", ns,
			    name, (long long)upd, (long long)avail, (long long)want);
			said = (int)avail;
		}
		bar_buf_free(&why);
		pod_problems(c, ns, live, &why, &fatal);
		json_decref(live);
		if (fatal) {
			rc = bar_error_set("deployment %s/%s: rollout failed%s", ns, name, why.data);
			goto done;
		}
		if (bar_now_ms() >= deadline) {
			rc = bar_error_setc(BAR_ETIMEOUT, "deployment %s/%s: rollout not complete in "
			                    "time (%lld updated, %lld/%lld available)%s", ns, name,
			                    (long long)upd, (long long)avail, (long long)want,
			                    why.data ? why.data : "");
			goto done;
		}
		bar_sleep_ms(POLL_MS, deadline, NULL);
	}
done:
	bar_buf_free(&why);
	free(path);
	return rc;
}

static int apply_one(const bar_k8s_cluster *c, const json_t *m)
{
	const k8s_kind *k = k8s_kind_of(json_string_value(json_object_get(m, "kind")));
	const char *ns = meta_str(m, "namespace"), *name = meta_str(m, "name");
	char *base, *path, *body;
	int rc;

	if (!k || !ns || !name)
		return bar_error_set("a manifest without a known kind, namespace or name");
	base = k8s_path(k, ns, name);
	path = bar_printf("%s?fieldManager=barista&force=true", base);
	/* JSON is YAML: the API server takes it as an apply patch as is */
	body = json_dumps(m, JSON_COMPACT);
	rc = k8s_call(NULL, c, "PATCH", path, body, "application/apply-patch+yaml");
	free(body);
	free(path);
	free(base);
	return rc;
}

static int wanted(const json_t *manifests, const char *kind, const char *name)
{
	size_t i;
	json_t *m;

	json_array_foreach(manifests, i, m)
		if (strcmp(json_string_value(json_object_get(m, "kind")) ?: "", kind) == 0 &&
		    strcmp(meta_str(m, "name") ?: "", name) == 0)
			return 1;
	return 0;
}

/* Delete the labelled objects of ns that `keep` (may be NULL) does not
 * have. */
static int remove_labelled(const bar_k8s_cluster *c, const char *ns, const char *mcapp_label,
                           const json_t *keep, void (*progress)(void *, const char *), void *ctx)
{
	char *q = selector_query(mcapp_label);
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < k8s_n_kinds; i++) {
		const k8s_kind *k = &k8s_kinds[i];
		char *coll = k8s_path(k, ns, NULL), *lp = bar_printf("%s%s", coll, q);
		json_t *list = NULL, *it;
		size_t j;

		rc = k8s_call(&list, c, "GET", lp, NULL, NULL);
		json_array_foreach(json_object_get(list, "items"), j, it) {
			const char *name = meta_str(it, "name");
			char *dp;
			int drc;

			if (rc < 0 || !name || (keep && wanted(keep, k->kind, name)))
				continue;
			dp = bar_printf("%s/%s?propagationPolicy=Background", coll, name);
			drc = k8s_call(NULL, c, "DELETE", dp, NULL, NULL);
			free(dp);
			if (drc < 0 && drc != BAR_ENOTFOUND)
				rc = drc;
			else
				say(progress, ctx, "%s %s/%s: deleted", k->word, ns, name);
		}
		json_decref(list);
		free(lp);
		free(coll);
	}
	free(q);
	return rc;
}

int bar_k8s_apply(const bar_k8s_cluster *c, const json_t *manifests, const char *mcapp_label,
                  int64_t timeout_ms, void (*progress)(void *, const char *), void *ctx)
{
	int64_t end = timeout_ms > 0 ? bar_now_ms() + timeout_ms : 0;
	const char *ns = NULL;
	size_t i;
	json_t *m;
	int rc;

	json_array_foreach(manifests, i, m) {
		const char *kind = json_string_value(json_object_get(m, "kind"));

		if (!ns)
			ns = meta_str(m, "namespace");
		rc = apply_one(c, m);
		if (rc < 0)
			return rc;
		say(progress, ctx, "%s %s/%s: applied", k8s_kind_of(kind)->word,
		    meta_str(m, "namespace"), meta_str(m, "name"));
		if (strcmp(kind, "Deployment") == 0) {
			const char *t = json_string_value(json_object_get(
				json_object_get(json_object_get(m, "metadata"), "annotations"),
				ANN_TIMEOUT));
			int64_t hts = t ? strtoll(t, NULL, 10) * 1000 : 0;
			int64_t deadline = hts > 0 ? bar_now_ms() + hts : 0;

			if (end && (!deadline || end < deadline))
				deadline = end;
			if (!deadline)
				deadline = bar_now_ms() + 120000;
			rc = wait_rollout(c, m, deadline, progress, ctx);
			if (rc < 0)
				return rc;
		}
	}
	return remove_labelled(c, ns ? ns : bar_k8s_cluster_namespace(c), mcapp_label, manifests,
	                       progress, ctx);
}

int bar_k8s_delete_all(const bar_k8s_cluster *c, const char *k8s_namespace,
                       const char *mcapp_label)
{
	return remove_labelled(c, k8s_namespace, mcapp_label, NULL, NULL, NULL);
}

int bar_k8s_status(json_t **out, const bar_k8s_cluster *c, const json_t *manifests)
{
	json_t *res = json_object(), *m;
	size_t i;
	int rc = 0;

	json_array_foreach(manifests, i, m) {
		const char *name = meta_str(m, "name");
		json_t *live = NULL, *conds;
		const json_t *st;
		char *path;

		if (strcmp(json_string_value(json_object_get(m, "kind")) ?: "", "Deployment") != 0)
			continue;
		path = k8s_path(k8s_kind_of("Deployment"), meta_str(m, "namespace"), name);
		rc = k8s_call(&live, c, "GET", path, NULL, NULL);
		free(path);
		if (rc == BAR_ENOTFOUND) {
			json_object_set_new(res, name, json_pack("{s:b}", "missing", 1));
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		st = json_object_get(live, "status");
		conds = json_object_get(st, "conditions");
		conds = conds ? json_incref(conds) : json_array();
		json_object_set_new(res, name, json_pack(
			"{s:O?, s:I, s:I, s:I, s:I, s:I, s:o}",
			"desired", json_object_get(json_object_get(live, "spec"), "replicas"),
			"updated", json_integer_value(json_object_get(st, "updatedReplicas")),
			"ready", json_integer_value(json_object_get(st, "readyReplicas")),
			"available", json_integer_value(json_object_get(st, "availableReplicas")),
			"generation", json_integer_value(json_object_get(json_object_get(live,
			                                 "metadata"), "generation")),
			"observedGeneration", json_integer_value(json_object_get(st,
			                                         "observedGeneration")),
			"conditions", conds));
		json_decref(live);
	}
	if (rc < 0) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}
