/*
 * test_k8s.c - the "kubernetes" MC-App runtime (runtime/kubernetes/k8s.h).
 *
 *   test_k8s unit DATA_DIR     manifests, dependency order, probes, the
 *                              control-plane choice, kubeconfig errors and
 *                              the embedded bootstrap scripts (ctest k8s_unit)
 *   test_k8s double DIR        apply/re-apply/rollout/failure/prune/drift/
 *                              delete and every kind of credential against
 *                              tests/k8s_double.js, with the kubeconfigs and
 *                              the plugin tests/k8s_runtime.sh wrote in DIR
 *   test_k8s real KUBECONFIG   the same lifecycle against a real cluster
 *                              (BARISTA_K8S_TESTS, docs/kubernetes.md)
 */
#include "k8s.h"
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *data_dir;

static json_t *sample(void)
{
	char *p = bar_printf("%s/mcapp.json", data_dir);
	json_error_t je;
	json_t *j = json_load_file(p, 0, &je);

	if (!j) {
		fprintf(stderr, "%s: %s\n", p, je.text);
		exit(1);
	}
	free(p);
	return j;
}

static json_t *find(const json_t *manifests, const char *kind, const char *name)
{
	size_t i;
	json_t *m;

	json_array_foreach(manifests, i, m)
		if (strcmp(json_string_value(json_object_get(m, "kind")), kind) == 0 &&
		    strcmp(json_string_value(json_object_get(json_object_get(m, "metadata"),
		                                             "name")), name) == 0)
			return m;
	return NULL;
}

/* Follow a path of keys ("a", "b", "#0" for an index) in j. */
static json_t *at(const json_t *j, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, j);
	while (j && (k = va_arg(ap, const char *)))
		j = k[0] == '#' ? json_array_get(j, (size_t)atoi(k + 1)) : json_object_get(j, k);
	va_end(ap);
	return (json_t *)j;
}

static const char *at_str(const json_t *j, const char *a, const char *b, const char *c)
{
	return json_string_value(at(j, a, b, c, NULL));
}

static json_t *app0(json_t *attrs)
{
	return json_array_get(json_object_get(attrs, "apps"), 0);
}

/* ---- unit ------------------------------------------------------------ */

static void unit_manifests(void)
{
	json_t *attrs = sample(), *m = NULL, *m2 = NULL, *d, *c;
	const char *h1, *h2;

	CHECK(bar_k8s_manifests(&m, "prod", "web", attrs) == 0);
	CHECK(json_array_size(m) == 4);
	CHECK(strcmp(at_str(json_array_get(m, 0), "kind", NULL, NULL), "ConfigMap") == 0);
	CHECK(strcmp(at_str(json_array_get(m, 3), "kind", NULL, NULL), "Service") == 0);
	d = find(m, "Deployment", "nginx");
	CHECK(d != NULL);
	c = at(d, "spec", "template", "spec", "containers", "#0", NULL);
	CHECK(strcmp(json_string_value(json_object_get(c, "image")),
	             "registry.example/nginx:1.25") == 0);
	CHECK(strcmp(at_str(d, "metadata", "labels", "barista.io/mcapp"), "prod.web") == 0);
	CHECK(strcmp(at_str(d, "metadata", "labels", "app.kubernetes.io/managed-by"),
	             "barista") == 0);
	CHECK(json_integer_value(at(d, "spec", "replicas", NULL)) == 3);
	CHECK(json_integer_value(at(d, "spec", "strategy", "rollingUpdate", "maxUnavailable",
	                            NULL)) == 1);
	CHECK(json_integer_value(at(d, "spec", "strategy", "rollingUpdate", "maxSurge", NULL)) == 0);
	CHECK(strcmp(json_string_value(at(c, "resources", "requests", "cpu", NULL)), "500m") == 0);
	CHECK(strcmp(json_string_value(at(c, "resources", "limits", "memory", NULL)), "128Mi") == 0);
	CHECK(strcmp(json_string_value(at(c, "readinessProbe", "httpGet", "path", NULL)), "/") == 0);
	CHECK(json_integer_value(at(c, "readinessProbe", "periodSeconds", NULL)) == 2);
	CHECK(strcmp(json_string_value(at(c, "envFrom", "#0", "configMapRef", "name", NULL)),
	             "nginx-env") == 0);
	CHECK(json_object_get(c, "command") == NULL);
	CHECK(strcmp(json_string_value(at(d, "spec", "template", "spec", "volumes", "#0",
	                                  "persistentVolumeClaim", "claimName", NULL)),
	             "nginx-data") == 0);
	CHECK(find(m, "PersistentVolumeClaim", "nginx-data") != NULL);
	CHECK(strcmp(at_str(find(m, "ConfigMap", "nginx-env"), "data", "MODE", NULL), "prod") == 0);
	CHECK(json_integer_value(at(find(m, "Service", "nginx"), "spec", "ports", "#0",
	                            "targetPort", NULL)) == 80);
	/* an env change changes the template's hash: it rolls the pods */
	json_object_set_new(json_object_get(app0(attrs), "env"), "MODE", json_string("dev"));
	json_object_set_new(app0(attrs), "command", json_string("nginx -g 'daemon off;'"));
	CHECK(bar_k8s_manifests(&m2, "prod", "web", attrs) == 0);
	h1 = json_string_value(at(find(m, "Deployment", "nginx"), "spec", "template", "metadata",
	                          "annotations", "barista.io/env-hash", NULL));
	h2 = json_string_value(at(find(m2, "Deployment", "nginx"), "spec", "template", "metadata",
	                          "annotations", "barista.io/env-hash", NULL));
	CHECK(h1 && h2 && strcmp(h1, h2) != 0);
	CHECK(strcmp(json_string_value(at(find(m2, "Deployment", "nginx"), "spec", "template",
	                                  "spec", "containers", "#0", "command", "#2", NULL)),
	             "exec nginx -g 'daemon off;' \"$@\"") == 0);
	json_decref(m);
	json_decref(m2);
	json_decref(attrs);
}

static json_t *app(const char *name, int order, const char *after)
{
	json_t *a = json_pack("{s:s, s:s, s:i, s:[], s:{s:s}, s:i}", "name", name, "image",
	                      "registry.example/x:1", "order", order, "after", "health", "kind",
	                      "none", "replicas", 1);

	if (after)
		json_array_append_new(json_object_get(a, "after"), json_string(after));
	return a;
}

static void unit_order(void)
{
	json_t *attrs = json_pack("{s:[o, o, o, o]}", "apps", app("web", 0, "api"),
	                          app("api", 5, "db"), app("db", 9, NULL), app("cache", 1, NULL));
	json_t *m = NULL, *d;
	const char *want[] = {"cache", "db", "api", "web"};
	size_t i, k = 0;

	CHECK(bar_k8s_manifests(&m, "ns", "app", attrs) == 0);
	json_array_foreach(m, i, d)
		if (strcmp(json_string_value(json_object_get(d, "kind")), "Deployment") == 0) {
			CHECK(k < 4 && strcmp(at_str(d, "metadata", "name", NULL), want[k]) == 0);
			k++;
		}
	CHECK(k == 4);
	CHECK(find(m, "Service", "web") == NULL); /* no ports: no Service */
	json_decref(m);
	m = NULL;
	json_array_append_new(json_object_get(json_array_get(json_object_get(attrs, "apps"), 2),
	                                      "after"), json_string("web"));
	CHECK(bar_k8s_manifests(&m, "ns", "app", attrs) == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "cycle") != NULL);
	CHECK(m == NULL);
	json_decref(attrs);

	/* probes of each kind; an unknown kind is refused */
	attrs = json_pack("{s:[{s:s, s:s, s:{s:s, s:i}}, {s:s, s:s, s:{s:s, s:s}}]}", "apps",
	                  "name", "a", "image", "x:1", "health", "kind", "tcp", "port", 5432,
	                  "name", "b", "image", "x:1", "health", "kind", "exec", "command",
	                  "pg_isready -q");
	CHECK(bar_k8s_manifests(&m, "ns", "app", attrs) == 0);
	CHECK(json_integer_value(at(find(m, "Deployment", "a"), "spec", "template", "spec",
	                            "containers", "#0", "readinessProbe", "tcpSocket", "port",
	                            NULL)) == 5432);
	CHECK(strcmp(json_string_value(at(find(m, "Deployment", "b"), "spec", "template", "spec",
	                                  "containers", "#0", "readinessProbe", "exec", "command",
	                                  "#2", NULL)), "pg_isready -q") == 0);
	json_decref(m);
	m = NULL;
	json_object_set_new(at(attrs, "apps", "#0", "health", NULL), "kind", json_string("grpc"));
	CHECK(bar_k8s_manifests(&m, "ns", "app", attrs) == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "grpc") != NULL);
	json_decref(attrs);
	attrs = json_pack("{s:[{s:s, s:s}]}", "apps", "name", "Bad_Name", "image", "x");
	CHECK(bar_k8s_manifests(&m, "ns", "app", attrs) == BAR_EINVALID);
	json_decref(attrs);
	attrs = json_pack("{s:[{s:s, s:s, s:[{s:s, s:s}]}]}", "apps", "name", "a", "image", "x",
	                  "volumes", "name", "Data", "path", "/data");
	CHECK(bar_k8s_manifests(&m, "ns", "app", attrs) == BAR_EINVALID);
	CHECK(strstr(bar_error_last(), "volume name \"Data\"") != NULL);
	json_decref(attrs);
}

static void unit_pick(void)
{
	/* 0 is nearest on average, but 1's worst link (30) beats 0's (90) */
	const double l3[] = {0, 10, 90, 10, 0, 30, 90, 30, 0};
	/* 0 and 1 tie on the maximum (50); 1 has the smaller mean */
	const double tie[] = {0, 50, 50, 50, 0, 10, 50, 10, 0};
	const double bad[] = {0, -1, 1, 0};
	size_t out = 99;

	CHECK(bar_k8s_pick_control_plane(&out, l3, 3) == 0 && out == 1);
	CHECK(bar_k8s_pick_control_plane(&out, tie, 3) == 0 && out == 1);
	CHECK(bar_k8s_pick_control_plane(&out, l3, 1) == 0 && out == 0);
	out = 99;
	CHECK(bar_k8s_pick_control_plane(&out, bad, 2) == BAR_EINVALID && out == 99);
	CHECK(bar_k8s_pick_control_plane(&out, l3, 0) == BAR_EINVALID);
}

static char *write_tmp(const char *text)
{
	char *p = bar_strdup("/tmp/barista-k8s-kc.XXXXXX");
	int fd = mkstemp(p);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(1);
	close(fd);
	return p;
}

static void unit_kubeconfig(void)
{
	static const char good[] =
	    "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
	    "clusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443/\n"
	    "    insecure-skip-tls-verify: true\n"
	    "contexts:\n- name: a\n  context: {cluster: c, user: u}\n"
	    "- name: b\n  context: {cluster: c, user: u, namespace: apps}\n"
	    "users:\n- name: u\n  user:\n    token: s3cr3t-t0ken\n";
	static const char bad_server[] =
	    "current-context: a\nclusters:\n- name: c\n  cluster:\n    server: [x]\n"
	    "contexts:\n- name: a\n  context: {cluster: c}\n";
	static const char bad_b64[] =
	    "current-context: a\nclusters:\n- name: c\n  cluster:\n    server: https://h\n"
	    "contexts:\n- name: a\n  context: {cluster: c, user: u}\n"
	    "users:\n- name: u\n  user:\n    client-certificate-data: \"s3cr3t!!\"\n"
	    "    client-key-data: AAAA\n";
	static const char syntax[] = "clusters:\n- name: c\n  cluster: {server: \n";
	char *p = write_tmp(good), *q;
	bar_k8s_cluster *c = NULL;
	char want[512];

	CHECK(bar_k8s_cluster_open(&c, p, NULL) == 0);
	CHECK(c && strcmp(bar_k8s_cluster_namespace(c), "default") == 0);
	bar_k8s_cluster_free(c);
	c = NULL;
	CHECK(bar_k8s_cluster_open(&c, p, "b") == 0);
	CHECK(c && strcmp(bar_k8s_cluster_namespace(c), "apps") == 0);
	bar_k8s_cluster_free(c);
	c = NULL;
	CHECK(bar_k8s_cluster_open(&c, p, "nope") == BAR_ENOTFOUND && c == NULL);
	CHECK(strstr(bar_error_last(), "\"nope\"") != NULL);
	unlink(p);
	free(p);

	p = write_tmp(bad_server);
	CHECK(bar_k8s_cluster_open(&c, p, NULL) < 0);
	snprintf(want, sizeof(want), "%s:5:13: server must be a string", p);
	CHECK(strcmp(bar_error_last(), want) == 0);
	unlink(p);
	free(p);

	p = write_tmp(bad_b64);
	CHECK(bar_k8s_cluster_open(&c, p, NULL) < 0);
	snprintf(want, sizeof(want), "%s:12:30: client-certificate-data is not valid base64", p);
	CHECK(strcmp(bar_error_last(), want) == 0);
	CHECK(strstr(bar_error_last(), "s3cr3t") == NULL);
	unlink(p);
	free(p);

	p = write_tmp(syntax);
	CHECK(bar_k8s_cluster_open(&c, p, NULL) < 0);
	q = bar_printf("%s:", p);
	CHECK(strncmp(bar_error_last(), q, strlen(q)) == 0);
	free(q);
	unlink(p);
	free(p);
	CHECK(bar_k8s_cluster_open(&c, "/nonexistent/kubeconfig", NULL) < 0);
}

static void unit_scripts(void)
{
	CHECK(strstr(bar_k8s_bootstrap_script("containerd") ?: "", "SystemdCgroup = true") != NULL);
	CHECK(strstr(bar_k8s_bootstrap_script("control-plane") ?: "", "kubeadm init") != NULL);
	CHECK(strstr(bar_k8s_bootstrap_script("worker") ?: "", "kubeadm join") != NULL);
	CHECK(bar_k8s_bootstrap_script("nope") == NULL);
}

/* ---- against an API server ------------------------------------------- */

typedef struct env {
	int real;
	const char *dir;
	bar_k8s_cluster *c;
	const char *ns;
	int steps;
} env;

static void on_progress(void *ctx, const char *line)
{
	env *e = ctx;

	e->steps++;
	if (getenv("BARISTA_K8S_VERBOSE"))
		fprintf(stderr, "  %s\n", line);
}

static json_t *get(const env *e, const char *path, long *status)
{
	json_t *j = NULL;
	long st = 0;

	bar_k8s_request(&j, &st, e->c, "GET", path, NULL, NULL);
	if (status)
		*status = st;
	return j;
}

static json_int_t deployment_field(const env *e, const char *name, const char *a,
                                   const char *b)
{
	char *p = bar_printf("/apis/apps/v1/namespaces/%s/deployments/%s", e->ns, name);
	json_t *j = get(e, p, NULL);
	json_int_t v = json_integer_value(at(j, a, b, NULL));

	json_decref(j);
	free(p);
	return v;
}

static json_int_t rollouts(const env *e, const char *name)
{
	char key[256];
	json_t *j;
	json_int_t v;

	if (e->real)
		return -1;
	j = get(e, "/_test/rollouts", NULL);
	snprintf(key, sizeof(key), "%s/%s", e->ns, name);
	v = json_integer_value(json_object_get(j, key));
	json_decref(j);
	return v;
}

static int apply(env *e, json_t *attrs, int64_t timeout_ms)
{
	json_t *m = NULL;
	int rc = bar_k8s_manifests(&m, "t", "web", attrs);

	if (rc == 0)
		rc = bar_k8s_apply(e->c, m, "t.web", timeout_ms, on_progress, e);
	json_decref(m);
	return rc;
}

static char *drift(const env *e, json_t *attrs)
{
	json_t *m = NULL;
	char *out = NULL;

	CHECK(bar_k8s_manifests(&m, "t", "web", attrs) == 0);
	CHECK(bar_k8s_drift(&out, e->c, m, "t.web") == 0);
	json_decref(m);
	return out;
}

static size_t labelled(const env *e)
{
	static const char *const colls[][2] = {{"/apis/apps/v1", "deployments"},
		{"/api/v1", "services"}, {"/api/v1", "configmaps"},
		{"/api/v1", "persistentvolumeclaims"}};
	size_t n = 0;

	for (size_t i = 0; i < 4; i++) {
		char *p = bar_printf("%s/namespaces/%s/%s", colls[i][0], e->ns, colls[i][1]);
		char *q = bar_printf("%s?labelSelector=barista.io%%2Fmcapp%%3Dt.web", p);
		json_t *j = get(e, q, NULL);

		n += json_array_size(json_object_get(j, "items"));
		json_decref(j);
		free(q);
		free(p);
	}
	return n;
}

/* The sample with a second app "api" after nginx (no ports; cpu 1, which
 * the API server writes back as "1", so drift must compare quantities). */
static json_t *two_apps(void)
{
	json_t *attrs = sample(), *api = json_deep_copy(app0(attrs));

	json_object_set_new(json_object_get(attrs, "kubernetes"), "namespace", json_string("default"));
	json_object_set_new(json_object_get(attrs, "rollout"), "healthTimeoutSeconds",
	                    json_integer(60));
	json_object_set_new(api, "name", json_string("api"));
	json_object_set_new(api, "after", json_pack("[s]", "nginx"));
	json_object_set_new(api, "ports", json_array());
	json_object_set_new(api, "volumes", json_array());
	json_object_set_new(api, "replicas", json_integer(2));
	json_object_set_new(json_object_get(api, "resources"), "cpu", json_real(1.0));
	json_object_set_new(api, "health", json_pack("{s:s}", "kind", "none"));
	json_array_append_new(json_object_get(attrs, "apps"), api);
	return attrs;
}

/* On a real cluster the images must be pullable: registry.example/nginx
 * becomes Docker Hub's nginx (same tags). */
static void real_image(const env *e, json_t *app, const char *image)
{
	const char *prefix = "registry.example/";

	if (e->real && strncmp(image, prefix, strlen(prefix)) == 0 &&
	    !strstr(image, "does-not-exist")) {
		char *i = bar_printf("docker.io/library/%s", image + strlen(prefix));

		json_object_set_new(app, "image", json_string(i));
		free(i);
		return;
	}
	json_object_set_new(app, "image", json_string(image));
}

static void lifecycle(env *e)
{
	json_t *attrs = two_apps(), *log, *status = NULL, *m = NULL, *entry;
	json_int_t gen, ro;
	const char *patched[8];
	size_t np = 0, i;
	char *d;
	int64_t t0;
	int rc;

	bar_k8s_delete_all(e->c, e->ns, "t.web"); /* a real cluster's leftovers */
	for (i = 0; i < 2; i++) {
		json_t *a = json_array_get(json_object_get(attrs, "apps"), i);

		real_image(e, a, json_string_value(json_object_get(a, "image")));
	}

	/* apply: every object, in order, each a server-side apply */
	CHECK(apply(e, attrs, 120000) == 0);
	CHECK(e->steps > 0);
	CHECK(labelled(e) == 6); /* 2 ConfigMaps, a claim, 2 Deployments, a Service */
	CHECK(deployment_field(e, "nginx", "status", "availableReplicas") == 3);
	CHECK(deployment_field(e, "api", "status", "availableReplicas") == 2);
	if (!e->real) {
		log = get(e, "/_test/log", NULL);
		json_array_foreach(log, i, entry)
			if (strcmp(json_string_value(json_object_get(entry, "method")), "PATCH") == 0) {
				CHECK(strcmp(json_string_value(json_object_get(entry, "contentType")),
				             "application/apply-patch+yaml") == 0);
				CHECK(strcmp(json_string_value(json_object_get(entry, "query")),
				             "fieldManager=barista&force=true") == 0);
				CHECK(json_integer_value(json_object_get(entry, "code")) == 201);
				if (np < 8)
					patched[np++] = json_string_value(json_object_get(entry, "path"));
			}
		CHECK(np == 6);
		if (np == 6) {
			CHECK(strcmp(patched[0], "/api/v1/namespaces/default/configmaps/nginx-env") == 0);
			CHECK(strcmp(patched[1],
			             "/api/v1/namespaces/default/persistentvolumeclaims/nginx-data") == 0);
			CHECK(strcmp(patched[2], "/apis/apps/v1/namespaces/default/deployments/nginx") == 0);
			CHECK(strcmp(patched[3], "/api/v1/namespaces/default/services/nginx") == 0);
			CHECK(strcmp(patched[4], "/api/v1/namespaces/default/configmaps/api-env") == 0);
			CHECK(strcmp(patched[5], "/apis/apps/v1/namespaces/default/deployments/api") == 0);
		}
		/* the api app was applied only after nginx was available: the
		 * last GET of nginx's Deployment before api's first PATCH saw it
		 * so (the double logs the answer's replicas) */
		{
			long patch_nginx = -1, get_nginx = -1, patch_api = -1;

			json_array_foreach(log, i, entry) {
				const char *meth = json_string_value(json_object_get(entry, "method"));
				const char *path = json_string_value(json_object_get(entry, "path"));
				int dep = strcmp(path, "/apis/apps/v1/namespaces/default/deployments/"
				                       "nginx") == 0;

				if (dep && strcmp(meth, "PATCH") == 0 && patch_nginx < 0)
					patch_nginx = (long)i;
				if (dep && strcmp(meth, "GET") == 0 && patch_api < 0 &&
				    json_integer_value(json_object_get(entry, "available")) == 3)
					get_nginx = (long)i;
				if (strcmp(path, "/api/v1/namespaces/default/configmaps/api-env") == 0 &&
				    patch_api < 0)
					patch_api = (long)i;
			}
			CHECK(patch_nginx >= 0 && patch_nginx < get_nginx && get_nginx < patch_api);
		}
		json_decref(log);
	}
	CHECK(bar_k8s_manifests(&m, "t", "web", attrs) == 0);
	CHECK(bar_k8s_status(&status, e->c, m) == 0);
	CHECK(json_integer_value(at(status, "nginx", "available", NULL)) == 3);
	CHECK(json_integer_value(at(status, "api", "desired", NULL)) == 2);
	json_decref(status);
	json_decref(m);
	m = NULL;
	d = drift(e, attrs);
	CHECK(d == NULL);
	if (d)
		fprintf(stderr, "unexpected drift:\n%s\n", d);
	free(d);

	/* re-apply: nothing changes */
	gen = deployment_field(e, "nginx", "metadata", "generation");
	ro = rollouts(e, "nginx");
	CHECK(apply(e, attrs, 120000) == 0);
	CHECK(deployment_field(e, "nginx", "metadata", "generation") == gen);
	CHECK(rollouts(e, "nginx") == ro);

	/* a new image: one rollout */
	real_image(e, app0(attrs), "registry.example/nginx:1.27");
	CHECK(apply(e, attrs, 120000) == 0);
	CHECK(deployment_field(e, "nginx", "metadata", "generation") == gen + 1);
	CHECK(e->real || rollouts(e, "nginx") == ro + 1);
	CHECK(deployment_field(e, "nginx", "status", "updatedReplicas") == 3);

	/* an env change alone: the ConfigMap changes and the pods roll once */
	ro = rollouts(e, "nginx");
	json_object_set_new(json_object_get(app0(attrs), "env"), "MODE", json_string("canary"));
	CHECK(apply(e, attrs, 120000) == 0);
	CHECK(e->real || rollouts(e, "nginx") == ro + 1);
	{
		char *p = bar_printf("/api/v1/namespaces/%s/configmaps/nginx-env", e->ns);
		json_t *j = get(e, p, NULL);

		CHECK(strcmp(at_str(j, "data", "MODE", NULL) ?: "", "canary") == 0);
		json_decref(j);
		free(p);
	}

	/* another actor scales nginx: drift names it, apply repairs it */
	if (e->real) {
		char *p = bar_printf("/apis/apps/v1/namespaces/%s/deployments/nginx", e->ns);
		json_t *j = NULL;
		long st = 0;

		bar_k8s_request(&j, &st, e->c, "PATCH", p, "{\"spec\":{\"replicas\":5}}",
		                "application/merge-patch+json");
		CHECK(st == 200);
		json_decref(j);
		free(p);
	} else {
		json_t *j = NULL;
		char *p = bar_printf("/_test/scale?namespace=%s&name=nginx&replicas=5", e->ns);
		long st = 0;

		bar_k8s_request(&j, &st, e->c, "POST", p, NULL, NULL);
		CHECK(st == 200);
		json_decref(j);
		free(p);
	}
	d = drift(e, attrs);
	CHECK(d && strstr(d, "deployment nginx: spec.replicas is 5, want 3") != NULL);
	free(d);
	CHECK(apply(e, attrs, 120000) == 0);
	CHECK(deployment_field(e, "nginx", "spec", "replicas") == 3);
	d = drift(e, attrs);
	CHECK(d == NULL);
	free(d);

	/* a bad image: the API's own ProgressDeadlineExceeded message */
	json_object_set_new(json_array_get(json_object_get(attrs, "apps"), 1), "image",
	                    json_string("registry.example/does-not-exist:1"));
	json_object_set_new(json_object_get(attrs, "rollout"), "healthTimeoutSeconds",
	                    json_integer(e->real ? 120 : 20));
	t0 = bar_now_ms();
	rc = apply(e, attrs, 180000);
	CHECK(rc < 0 && rc != BAR_ETIMEOUT);
	if (e->real) {
		CHECK(strstr(bar_error_last(), "does-not-exist") != NULL ||
		      strstr(bar_error_last(), "ProgressDeadlineExceeded") != NULL);
	} else {
		CHECK(strstr(bar_error_last(), "deployment default/api: rollout failed: "
		                               "ProgressDeadlineExceeded: ReplicaSet \"api-") != NULL);
		CHECK(strstr(bar_error_last(), "has timed out progressing.") != NULL);
		CHECK(strstr(bar_error_last(), "ErrImagePull") != NULL);
		CHECK(bar_now_ms() - t0 < 15000); /* the condition, not our deadline */
	}

	/* the app removed: drift names what apply will delete; its objects
	 * are pruned, nginx's stay */
	json_array_remove(json_object_get(attrs, "apps"), 1);
	d = drift(e, attrs);
	CHECK(d && strstr(d, "deployment api: not in the MCApp (apply deletes it)") != NULL);
	CHECK(d && strstr(d, "configmap api-env: not in the MCApp") != NULL);
	free(d);
	CHECK(apply(e, attrs, 120000) == 0);
	{
		long st = 0;
		char *p = bar_printf("/apis/apps/v1/namespaces/%s/deployments/api", e->ns);
		json_t *j = get(e, p, &st);

		CHECK(st == 404);
		CHECK(strcmp(json_string_value(json_object_get(j, "reason")) ?: "", "NotFound") == 0);
		json_decref(j);
		free(p);
		p = bar_printf("/api/v1/namespaces/%s/configmaps/api-env", e->ns);
		j = get(e, p, &st);
		CHECK(st == 404);
		json_decref(j);
		free(p);
	}
	CHECK(labelled(e) == 4);

	/* destroy */
	CHECK(bar_k8s_delete_all(e->c, e->ns, "t.web") == 0);
	CHECK(labelled(e) == 0);
	CHECK(bar_k8s_delete_all(e->c, e->ns, "t.web") == 0); /* nothing left: fine */
	json_decref(attrs);
}

/* The double holds requests to the published API: it must catch these. */
static void double_rejects(env *e)
{
	json_t *j = NULL;
	long st = 0;
	const char *path = "/apis/apps/v1/namespaces/default/deployments/x"
	                   "?fieldManager=barista&force=true";

	bar_k8s_request(&j, &st, e->c, "PATCH", path,
	                "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
	                "{\"name\":\"x\"},\"spec\":{\"replicas\":\"three\",\"selector\":{},"
	                "\"template\":{\"spec\":{\"containers\":[{\"name\":\"x\"}]}}}}",
	                "application/apply-patch+yaml");
	CHECK(st == 422);
	CHECK(strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "Status") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "reason")) ?: "", "Invalid") == 0);
	CHECK(strcmp(json_string_value(at(j, "details", "causes", "#0", "field", NULL)) ?: "",
	             "spec.replicas") == 0);
	json_decref(j);
	j = NULL;
	/* the same through bar_k8s_apply: the Status as Barista's error */
	{
		json_t *bad = json_pack("[{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:{}, s:{s:{s:[{s:s}]}}}}]",
		                        "apiVersion", "apps/v1", "kind", "Deployment", "metadata",
		                        "name", "x", "namespace", "default", "spec", "replicas",
		                        "three", "selector", "template", "spec", "containers", "name",
		                        "x");

		CHECK(bar_k8s_apply(e->c, bad, "t.web", 10000, NULL, NULL) == BAR_EINVALID);
		CHECK(strcmp(bar_error_last(), "PATCH /apis/apps/v1/namespaces/default/deployments/x"
		                               "?fieldManager=barista&force=true: 422 Invalid: "
		                               "Deployment.apps \"x\" is invalid: spec.replicas: "
		                               "must be integer") == 0);
		CHECK(strcmp(bar_error_get()->provider_code, "Invalid") == 0);
		json_decref(bad);
	}
	bar_k8s_request(&j, &st, e->c, "PATCH", path, "{}", "application/merge-patch+json");
	CHECK(st == 415);
	json_decref(j);
	j = NULL;
	bar_k8s_request(&j, &st, e->c, "PATCH", "/apis/apps/v1/namespaces/default/deployments/x",
	                "{}", "application/apply-patch+yaml");
	CHECK(st == 422); /* no fieldManager */
	json_decref(j);
	j = NULL;
	bar_k8s_request(&j, &st, e->c, "GET", "/apis/apps/v2/namespaces/default/deployments", NULL,
	                NULL);
	CHECK(st == 404);
	json_decref(j);
}

static int count_lines(const char *path)
{
	char *t = test_read_file(path);
	int n = 0;

	for (char *p = t; p && *p; p++)
		n += *p == '\n';
	free(t);
	return n;
}

static void credentials(const char *dir)
{
	char *p, *runs = bar_printf("%s/exec-runs", dir), *tok;
	bar_k8s_cluster *c = NULL;
	json_t *j = NULL, *attrs, *m = NULL;
	long st = 0;
	int before;

	/* client certificate and key, CA inline */
	p = bar_printf("%s/cert.kubeconfig", dir);
	CHECK(bar_k8s_cluster_open(&c, p, NULL) == 0);
	CHECK(c && bar_k8s_request(&j, &st, c, "GET", "/api/v1/namespaces/default/configmaps",
	                           NULL, NULL) == 0 && st == 200);
	json_decref(j);
	j = NULL;
	bar_k8s_cluster_free(c);
	c = NULL;
	free(p);

	/* tokenFile; no CA (the server's certificate is not trusted); no CA
	 * but insecure-skip-tls-verify */
	{
		static const char *const kcs[] = {"tokenfile", "noca", "insecure"};

		for (int i = 0; i < 3; i++) {
			int rc;

			p = bar_printf("%s/%s.kubeconfig", dir, kcs[i]);
			CHECK(bar_k8s_cluster_open(&c, p, NULL) == 0);
			st = 0;
			rc = c ? bar_k8s_request(&j, &st, c, "GET", "/api/v1/namespaces/default/pods",
			                         NULL, NULL) : -1;
			if (i == 1) {
				CHECK(rc < 0 && st == 0);
				CHECK(strstr(bar_error_last(), "certificate") != NULL);
			} else {
				CHECK(rc == 0 && st == 200);
			}
			json_decref(j);
			j = NULL;
			bar_k8s_cluster_free(c);
			c = NULL;
			free(p);
		}
	}

	/* exec plugin: run once, its token cached until it expires */
	p = bar_printf("%s/exec.kubeconfig", dir);
	before = count_lines(runs);
	CHECK(bar_k8s_cluster_open(&c, p, NULL) == 0);
	for (int i = 0; c && i < 3; i++) {
		CHECK(bar_k8s_request(&j, &st, c, "GET", "/api/v1/namespaces/default/services", NULL,
		                      NULL) == 0 && st == 200);
		json_decref(j);
		j = NULL;
	}
	CHECK(count_lines(runs) == before + 1);
	bar_k8s_cluster_free(c);
	c = NULL;
	free(p);
	/* an expired token is fetched again for each request */
	p = bar_printf("%s/expired.kubeconfig", dir);
	before = count_lines(runs);
	CHECK(bar_k8s_cluster_open(&c, p, NULL) == 0);
	for (int i = 0; c && i < 2; i++) {
		CHECK(bar_k8s_request(&j, &st, c, "GET", "/api/v1/namespaces/default/services", NULL,
		                      NULL) == 0 && st == 200);
		json_decref(j);
		j = NULL;
	}
	CHECK(count_lines(runs) == before + 2);
	bar_k8s_cluster_free(c);
	c = NULL;
	free(p);

	/* a wrong token: BAR_EAUTH with the API's message, never the token */
	p = bar_printf("%s/wrong.kubeconfig", dir);
	tok = test_read_file(p);
	CHECK(bar_k8s_cluster_open(&c, p, NULL) == 0);
	attrs = sample();
	CHECK(bar_k8s_manifests(&m, "t", "web", attrs) == 0);
	CHECK(c && bar_k8s_apply(c, m, "t.web", 10000, NULL, NULL) == BAR_EAUTH);
	CHECK(strcmp(bar_error_last(), "PATCH /api/v1/namespaces/default/configmaps/nginx-env"
	                               "?fieldManager=barista&force=true: 401 Unauthorized: "
	                               "Unauthorized") == 0);
	{
		char *line = tok ? strstr(tok, "token: ") : NULL;

		CHECK(line != NULL);
		if (line) {
			char secret[128];

			sscanf(line + 7, "%127s", secret);
			CHECK(strstr(bar_error_last(), secret) == NULL);
		}
	}
	CHECK(c && bar_k8s_delete_all(c, "default", "t.web") == BAR_EAUTH);
	json_decref(m);
	json_decref(attrs);
	free(tok);
	bar_k8s_cluster_free(c);
	free(p);
	free(runs);
}

int main(int argc, char **argv)
{
	env e = {0};

	if (argc != 3) {
		fprintf(stderr, "usage: test_k8s unit DATA_DIR | double DIR | real KUBECONFIG\n");
		return 2;
	}
	if (strcmp(argv[1], "unit") == 0) {
		data_dir = argv[2];
		unit_manifests();
		unit_order();
		unit_pick();
		unit_kubeconfig();
		unit_scripts();
	} else if (strcmp(argv[1], "double") == 0 || strcmp(argv[1], "real") == 0) {
		char *kc;

		data_dir = getenv("BARISTA_K8S_DATA") ? getenv("BARISTA_K8S_DATA")
		                                      : (char *)BAR_K8S_DATA_DIR;
		e.real = strcmp(argv[1], "real") == 0;
		e.dir = argv[2];
		kc = e.real ? bar_strdup(argv[2]) : bar_printf("%s/token.kubeconfig", argv[2]);
		if (bar_k8s_cluster_open(&e.c, kc, NULL) < 0) {
			fprintf(stderr, "test_k8s: %s\n", bar_error_last());
			return 1;
		}
		free(kc);
		e.ns = bar_k8s_cluster_namespace(e.c);
		if (e.real && strcmp(e.ns, "default") != 0) {
			/* the sample's manifests name "default" */
			fprintf(stderr, "test_k8s: the kubeconfig's context must use namespace "
			                "default\n");
			return 1;
		}
		lifecycle(&e);
		if (!e.real) {
			json_t *v = get(&e, "/_test/violations", NULL);

			/* Barista's own requests all fit the published API */
			CHECK(json_is_array(v) && json_array_size(v) == 0);
			if (json_array_size(v) > 0) {
				char *t = json_dumps(v, JSON_INDENT(1));

				fprintf(stderr, "requests the double rejected:\n%s\n", t);
				free(t);
			}
			json_decref(v);
			double_rejects(&e);
			/* and the five wrong ones were caught */
			v = get(&e, "/_test/violations", NULL);
			CHECK(json_array_size(v) == 5);
			json_decref(v);
			credentials(e.dir);
		}
		bar_k8s_cluster_free(e.c);
	} else {
		fprintf(stderr, "test_k8s: unknown mode %s\n", argv[1]);
		return 2;
	}
	if (test_failures)
		fprintf(stderr, "test_k8s %s: %d check(s) failed\n", argv[1], test_failures);
	return test_failures ? 1 : 0;
}
