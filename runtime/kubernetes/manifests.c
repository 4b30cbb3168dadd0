/*
 * manifests.c - an MCApp's normalized attrs as Kubernetes objects.
 *
 * Per app, in dependency order: a ConfigMap "<app>-env" with the app's env
 * (the Deployment takes it with envFrom, and the pod template carries a hash
 * of it, so an env change alone rolls the pods), a PersistentVolumeClaim
 * "<app>-<volume>" per volume, the Deployment "<app>", and a ClusterIP
 * Service "<app>" when the app has ports.
 *
 * Volumes are PersistentVolumeClaims, not emptyDir: an MCApp volume is data
 * the app keeps across restarts and rollouts (the process runtime keeps it
 * on the VM's disk), and an emptyDir dies with its pod.  The claims are
 * ReadWriteOnce of the volume's `size` (bytes; 1Gi when not given), so
 * several replicas share one only on one node; docs/kubernetes.md says so.
 *
 * A non-empty `command` (a shell string, like health.command) replaces the
 * image's entrypoint as `/bin/sh -c 'exec <command> "$@"' sh <args...>`, so
 * the args stay arguments.
 */
#include "k8s_int.h"
#include "error.h"
#include "json.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_VOLUME_BYTES (1024LL * 1024 * 1024)
#define ANN_TIMEOUT "barista.io/health-timeout-seconds"
#define ANN_ENV_HASH "barista.io/env-hash"

char *bar_k8s_mcapp_label(const char *barista_ns, const char *mcapp)
{
	return bar_printf("%s.%s", barista_ns, mcapp);
}

/* A DNS-1123 label (object names, and with '.' a label value). */
static int name_ok(const char *s, size_t max, int dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		            (dots && ch >= 'A' && ch <= 'Z');

		if (!alnum && !(ch == '-' || (dots && (ch == '.' || ch == '_'))))
			return 0;
		if ((i == 0 || i == n - 1) && !alnum)
			return 0;
	}
	return 1;
}

static json_t *labels(const char *app, const char *mcapp_label)
{
	return json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/name", app,
	                 "app.kubernetes.io/managed-by", "barista", "barista.io/mcapp",
	                 mcapp_label);
}

static json_t *metadata(const char *name, const char *ns, const char *app,
                        const char *mcapp_label)
{
	return json_pack("{s:s, s:s, s:o}", "name", name, "namespace", ns, "labels",
	                 labels(app, mcapp_label));
}

static const char *app_name(const json_t *app)
{
	return json_string_value(json_object_get(app, "name"));
}

/* The apps' indices in dependency order: Kahn's algorithm, taking among the
 * ready apps the one of lowest `order`, then earliest in the list. */
static int app_order(size_t *idx, const json_t *apps)
{
	size_t n = json_array_size(apps);
	int *done = bar_calloc(n ? n : 1, sizeof(int));
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		const json_t *after = json_object_get(json_array_get(apps, i), "after");
		size_t k;
		json_t *a;

		json_array_foreach(after, k, a) {
			size_t j;

			for (j = 0; j < n; j++)
				if (json_is_string(a) &&
				    strcmp(app_name(json_array_get(apps, j)), json_string_value(a)) == 0)
					break;
			if (j == n) {
				rc = bar_error_setc(BAR_EINVALID, "app \"%s\": after names no app \"%s\"",
				               app_name(json_array_get(apps, i)),
				               json_is_string(a) ? json_string_value(a) : "?");
				goto done;
			}
		}
	}
	for (size_t step = 0; step < n; step++) {
		size_t best = n;
		json_int_t best_order = 0;

		for (size_t i = 0; i < n; i++) {
			const json_t *app = json_array_get(apps, i);
			const json_t *after = json_object_get(app, "after");
			json_int_t ord = json_integer_value(json_object_get(app, "order"));
			int ready = !done[i];
			size_t k;
			json_t *a;

			json_array_foreach(after, k, a)
				for (size_t j = 0; ready && j < n; j++)
					if (!done[j] && strcmp(app_name(json_array_get(apps, j)),
					                       json_string_value(a)) == 0)
						ready = 0;
			if (ready && (best == n || ord < best_order)) {
				best = i;
				best_order = ord;
			}
		}
		if (best == n) {
			rc = bar_error_setc(BAR_EINVALID, "apps: `after` forms a cycle");
			goto done;
		}
		done[best] = 1;
		idx[step] = best;
	}
	rc = 0;
done:
	free(done);
	return rc;
}

/* A JSON scalar as a ConfigMap string. */
static json_t *env_value(const json_t *v)
{
	char num[64];

	if (json_is_string(v))
		return json_string(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return json_string(num);
	}
	if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return json_string(num);
	}
	return json_string(json_is_true(v) ? "true" : json_is_false(v) ? "false" : "");
}

static json_t *config_map(const char *ns, const char *app, const char *label, const json_t *env)
{
	json_t *data = json_object(), *v;
	const char *k;
	char name[300];

	json_object_foreach((json_t *)env, k, v)
		json_object_set_new(data, k, env_value(v));
	snprintf(name, sizeof(name), "%s-env", app);
	return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "ConfigMap",
	                 "metadata", metadata(name, ns, app, label), "data", data);
}

/* A byte count as a Kubernetes quantity: Gi/Mi/Ki when exact, else bytes. */
static json_t *bytes_quantity(json_int_t n)
{
	static const char *const suffix[] = {"", "Ki", "Mi", "Gi", "Ti"};
	char q[64];
	int s = 0;

	while (s < 4 && n > 0 && n % 1024 == 0) {
		n /= 1024;
		s++;
	}
	snprintf(q, sizeof(q), "%" JSON_INTEGER_FORMAT "%s", n, suffix[s]);
	return json_string(q);
}

static json_t *pvc(const char *ns, const char *app, const char *label, const json_t *vol)
{
	char name[300];
	json_int_t size = json_integer_value(json_object_get(vol, "size"));

	snprintf(name, sizeof(name), "%s-%s", app, json_string_value(json_object_get(vol, "name")));
	return json_pack("{s:s, s:s, s:o, s:{s:[s], s:{s:{s:o}}}}", "apiVersion", "v1", "kind",
	                 "PersistentVolumeClaim", "metadata", metadata(name, ns, app, label),
	                 "spec", "accessModes", "ReadWriteOnce", "resources", "requests",
	                 "storage", bytes_quantity(size > 0 ? size : DEFAULT_VOLUME_BYTES));
}

static void port_name(char *out, size_t n, const json_t *p)
{
	const char *proto = json_string_value(json_object_get(p, "protocol"));

	snprintf(out, n, "%s-%" JSON_INTEGER_FORMAT, proto ? proto : "tcp",
	         json_integer_value(json_object_get(p, "port")));
}

static const char *proto_upper(const json_t *p)
{
	const char *proto = json_string_value(json_object_get(p, "protocol"));

	if (proto && strcmp(proto, "udp") == 0)
		return "UDP";
	if (proto && strcmp(proto, "sctp") == 0)
		return "SCTP";
	return "TCP";
}

static json_t *service(const char *ns, const char *app, const char *label, const json_t *ports)
{
	json_t *sp = json_array(), *p;
	size_t i;

	json_array_foreach(ports, i, p) {
		char nm[64];

		port_name(nm, sizeof(nm), p);
		json_array_append_new(sp, json_pack("{s:s, s:I, s:I, s:s}", "name", nm, "port",
		                      json_integer_value(json_object_get(p, "port")), "targetPort",
		                      json_integer_value(json_object_get(p, "port")), "protocol",
		                      proto_upper(p)));
	}
	return json_pack("{s:s, s:s, s:o, s:{s:s, s:{s:s, s:s}, s:o}}", "apiVersion", "v1", "kind",
	                 "Service", "metadata", metadata(app, ns, app, label), "spec", "type",
	                 "ClusterIP", "selector", "app.kubernetes.io/name", app, "barista.io/mcapp",
	                 label, "ports", sp);
}

/* The readiness probe of health, NULL for kind none; *bad on an unknown
 * kind. */
static json_t *probe(const char *app, const json_t *h, int *bad)
{
	const char *kind = json_string_value(json_object_get(h, "kind"));
	json_int_t port = json_integer_value(json_object_get(h, "port"));
	json_t *p;

	*bad = 0;
	if (!h || !kind || strcmp(kind, "none") == 0)
		return NULL;
	if (strcmp(kind, "http") == 0) {
		const char *path = json_string_value(json_object_get(h, "path"));

		p = json_pack("{s:{s:s, s:I}}", "httpGet", "path", path && *path ? path : "/",
		              "port", port);
	} else if (strcmp(kind, "tcp") == 0) {
		p = json_pack("{s:{s:I}}", "tcpSocket", "port", port);
	} else if (strcmp(kind, "exec") == 0) {
		const char *cmd = json_string_value(json_object_get(h, "command"));

		p = json_pack("{s:{s:[s, s, s]}}", "exec", "command", "/bin/sh", "-c",
		              cmd ? cmd : "true");
	} else {
		*bad = bar_error_setc(BAR_EINVALID, "app \"%s\": health kind \"%s\" is not http, tcp, "
		                      "exec or none", app, kind);
		return NULL;
	}
	if ((strcmp(kind, "http") == 0 || strcmp(kind, "tcp") == 0) && (port < 1 || port > 65535)) {
		json_decref(p);
		*bad = bar_error_setc(BAR_EINVALID, "app \"%s\": health port %" JSON_INTEGER_FORMAT
		                      " is not 1..65535", app, port);
		return NULL;
	}
	static const char *const keys[][2] = {
		{"intervalSeconds", "periodSeconds"},
		{"timeoutSeconds", "timeoutSeconds"},
		{"failureThreshold", "failureThreshold"},
		{"initialDelaySeconds", "initialDelaySeconds"},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_int_t v = json_integer_value(json_object_get(h, keys[i][0]));

		if (v > 0)
			json_object_set_new(p, keys[i][1], json_integer(v));
	}
	return p;
}

static json_t *resources(const json_t *r)
{
	json_t *q = json_object();
	double cpu = json_number_value(json_object_get(r, "cpu"));
	json_int_t mem = json_integer_value(json_object_get(r, "memory"));

	if (cpu > 0) {
		char m[32];

		snprintf(m, sizeof(m), "%lldm", (long long)llround(cpu * 1000));
		json_object_set_new(q, "cpu", json_string(m));
	}
	if (mem > 0)
		json_object_set_new(q, "memory", bytes_quantity(mem));
	return json_pack("{s:o, s:o}", "requests", json_deep_copy(q), "limits", q);
}

/* The pod's node placement: its groups (node label barista.io/group, which
 * the bootstrap scripts set) and labels. */
static void placement(json_t *pod, const json_t *pl)
{
	const json_t *groups = json_object_get(pl, "groups"), *lab = json_object_get(pl, "labels");

	if (json_object_size(lab) > 0)
		json_object_set_new(pod, "nodeSelector", json_deep_copy(lab));
	if (json_array_size(groups) > 0)
		json_object_set_new(pod, "affinity", json_pack(
			"{s:{s:{s:[{s:[{s:s, s:s, s:O}]}]}}}", "nodeAffinity",
			"requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms",
			"matchExpressions", "key", "barista.io/group", "operator", "In", "values",
			groups));
}

static json_t *container(const char *app, const json_t *a, const char *cm, int *bad)
{
	const char *cmd = json_string_value(json_object_get(a, "command"));
	const json_t *ports = json_object_get(a, "ports"), *vols = json_object_get(a, "volumes");
	json_t *c = json_pack("{s:s, s:s, s:[{s:{s:s}}], s:o}", "name", app, "image",
	                      json_string_value(json_object_get(a, "image")), "envFrom",
	                      "configMapRef", "name", cm, "resources",
	                      resources(json_object_get(a, "resources")));
	json_t *args = json_object_get(a, "args"), *p, *cp, *vm, *rp;
	size_t i;

	if (cmd && *cmd) {
		char *sh = bar_printf("exec %s \"$@\"", cmd);

		json_object_set_new(c, "command", json_pack("[s, s, s, s]", "/bin/sh", "-c", sh, "sh"));
		free(sh);
	}
	if (json_array_size(args) > 0)
		json_object_set_new(c, "args", json_deep_copy(args));
	cp = json_array();
	json_array_foreach(ports, i, p) {
		char nm[64];

		port_name(nm, sizeof(nm), p);
		json_array_append_new(cp, json_pack("{s:s, s:I, s:s}", "name", nm, "containerPort",
		                      json_integer_value(json_object_get(p, "port")), "protocol",
		                      proto_upper(p)));
	}
	if (json_array_size(cp) > 0)
		json_object_set_new(c, "ports", cp);
	else
		json_decref(cp);
	vm = json_array();
	json_array_foreach(vols, i, p)
		json_array_append_new(vm, json_pack("{s:s, s:s}", "name", json_string_value(
		                      json_object_get(p, "name")), "mountPath", json_string_value(
		                      json_object_get(p, "path"))));
	if (json_array_size(vm) > 0)
		json_object_set_new(c, "volumeMounts", vm);
	else
		json_decref(vm);
	rp = probe(app, json_object_get(a, "health"), bad);
	if (*bad) {
		json_decref(c);
		return NULL;
	}
	if (rp)
		json_object_set_new(c, "readinessProbe", rp);
	return c;
}

static json_t *deployment(const char *ns, const char *app, const char *label, const json_t *a,
                          const json_t *cm, const json_t *rollout, int *bad)
{
	char cmname[300], hash[17], timeout[32];
	json_int_t unavail = json_integer_value(json_object_get(rollout, "maxUnavailable"));
	json_int_t hts = json_integer_value(json_object_get(rollout, "healthTimeoutSeconds"));
	json_t *replicas = json_object_get(a, "replicas"), *ctr, *pod, *vols, *v, *d;
	size_t i;

	snprintf(cmname, sizeof(cmname), "%s-env", app);
	bar_json_hash(json_object_get(cm, "data"), NULL, hash);
	if (hts <= 0)
		hts = 120;
	snprintf(timeout, sizeof(timeout), "%" JSON_INTEGER_FORMAT, hts);
	ctr = container(app, a, cmname, bad);
	if (!ctr)
		return NULL;
	pod = json_pack("{s:[o]}", "containers", ctr);
	vols = json_array();
	json_array_foreach(json_object_get(a, "volumes"), i, v) {
		const char *vn = json_string_value(json_object_get(v, "name"));
		char claim[300];

		snprintf(claim, sizeof(claim), "%s-%s", app, vn);
		json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", vn,
		                      "persistentVolumeClaim", "claimName", claim));
	}
	if (json_array_size(vols) > 0)
		json_object_set_new(pod, "volumes", vols);
	else
		json_decref(vols);
	placement(pod, json_object_get(a, "placement"));
	if (unavail < 0)
		unavail = 0;
	d = json_pack("{s:s, s:s, s:o, s:{s:I, s:{s:{s:s, s:s}}, s:{s:s, s:{s:I, s:I}}, s:I,"
	              " s:{s:{s:o, s:{s:s}}, s:o}}}",
	              "apiVersion", "apps/v1", "kind", "Deployment", "metadata",
	              metadata(app, ns, app, label), "spec", "replicas",
	              json_is_integer(replicas) ? json_integer_value(replicas) : (json_int_t)1,
	              "selector", "matchLabels", "app.kubernetes.io/name", app,
	              "barista.io/mcapp", label, "strategy", "type", "RollingUpdate",
	              "rollingUpdate", "maxUnavailable", unavail,
	              /* both 0 is invalid; surging only when nothing may be down
	               * keeps a ReadWriteOnce claim from being wanted twice */
	              "maxSurge", (json_int_t)(unavail > 0 ? 0 : 1), "progressDeadlineSeconds", hts,
	              "template", "metadata", "labels", labels(app, label), "annotations",
	              ANN_ENV_HASH, hash, "spec", pod);
	json_object_set_new(json_object_get(d, "metadata"), "annotations",
	                    json_pack("{s:s}", ANN_TIMEOUT, timeout));
	return d;
}

/* Volume names become claim names "<app>-<volume>" and pod volume names. */
static int volumes_ok(const char *app, const json_t *vols)
{
	size_t i;
	json_t *v;

	json_array_foreach(vols, i, v) {
		const char *vn = json_string_value(json_object_get(v, "name"));
		const char *vp = json_string_value(json_object_get(v, "path"));

		if (!vn || !name_ok(vn, 63 - strlen(app) - 1, 0))
			return bar_error_setc(BAR_EINVALID, "app \"%s\": volume name \"%s\" is not a "
			                      "DNS label that fits in \"%s-<volume>\" (63 characters)",
			                      app, vn ? vn : "", app);
		if (!vp || vp[0] != '/')
			return bar_error_setc(BAR_EINVALID, "app \"%s\": volume \"%s\" needs an "
			                      "absolute path", app, vn);
	}
	return 0;
}

int bar_k8s_manifests(json_t **out, const char *barista_ns, const char *mcapp,
                      const json_t *attrs)
{
	const json_t *apps = json_object_get(attrs, "apps"), *rollout = json_object_get(attrs,
	                                                                                "rollout");
	const char *ns = json_string_value(json_object_get(json_object_get(attrs, "kubernetes"),
	                                                   "namespace"));
	size_t n = json_array_size(apps), *idx = bar_calloc(n ? n : 1, sizeof(size_t));
	char *label = bar_k8s_mcapp_label(barista_ns, mcapp);
	json_t *arr = json_array();
	int rc = -1;

	if (!ns || !*ns)
		ns = "default";
	if (!name_ok(ns, 63, 0)) {
		rc = bar_error_setc(BAR_EINVALID, "mcapp \"%s\": kubernetes namespace \"%s\" is not a "
		                    "DNS label", mcapp, ns);
		goto done;
	}
	if (!name_ok(label, 63, 1)) {
		rc = bar_error_setc(BAR_EINVALID, "mcapp \"%s\": \"%s\" is not a valid label value "
		                    "(at most 63 letters, digits, '-', '_', '.')", mcapp, label);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *a = json_array_get(apps, i);
		const char *an = app_name(a), *img = json_string_value(json_object_get(a, "image"));

		if (!an || !name_ok(an, 58, 0)) { /* room for "-env" in the ConfigMap's name */
			rc = bar_error_setc(BAR_EINVALID, "mcapp \"%s\": app name \"%s\" is not a DNS "
			                    "label of at most 58 characters", mcapp, an ? an : "");
			goto done;
		}
		if (!img || !*img) {
			rc = bar_error_setc(BAR_EINVALID, "app \"%s\": no image", an);
			goto done;
		}
		rc = volumes_ok(an, json_object_get(a, "volumes"));
		if (rc < 0)
			goto done;
	}
	rc = app_order(idx, apps);
	if (rc < 0)
		goto done;
	for (size_t s = 0; s < n; s++) {
		const json_t *a = json_array_get(apps, idx[s]), *v;
		const char *an = app_name(a);
		json_t *cm = config_map(ns, an, label, json_object_get(a, "env")), *d;
		int bad = 0;
		size_t i;

		json_array_append_new(arr, cm);
		json_array_foreach(json_object_get(a, "volumes"), i, v)
			json_array_append_new(arr, pvc(ns, an, label, v));
		d = deployment(ns, an, label, a, cm, rollout, &bad);
		if (!d) {
			rc = bad ? bad : -1;
			goto done;
		}
		json_array_append_new(arr, d);
		if (json_array_size(json_object_get(a, "ports")) > 0)
			json_array_append_new(arr, service(ns, an, label, json_object_get(a, "ports")));
	}
	*out = arr;
	arr = NULL;
	rc = 0;
done:
	json_decref(arr);
	free(label);
	free(idx);
	return rc;
}
