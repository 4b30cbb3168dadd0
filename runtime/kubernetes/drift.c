/*
 * drift.c - what differs between an MCApp's manifests and the cluster.
 *
 * Only the fields Barista sets are compared: every value in a manifest must
 * be in the live object (which also has the API server's defaults, status
 * and other managers' fields, all ignored).  Lists compare element by
 * element and must have the same length.  Resource quantities compare by
 * value ("0.5" and "500m" are the same CPU).  Labelled objects the
 * manifests do not have are reported too (apply prunes them).
 */
#include "k8s_int.h"
#include "error.h"
#include "util.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIFT_MAX (64u << 10)
#define VALUE_SHOWN 80

/* A Kubernetes quantity ("500m", "128Mi", "1e3", "2") as a number; 0 or -1. */
static int quantity(const char *s, double *out)
{
	static const struct { const char *suf; double mul; } sufs[] = {
		{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
		{"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
		{"Ei", 1152921504606846976.0}, {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3},
		{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18},
		{"", 1.0},
	};
	char *end;
	double v = strtod(s, &end);

	if (end == s)
		return -1;
	for (size_t i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++)
		if (strcmp(end, sufs[i].suf) == 0) {
			*out = v * sufs[i].mul;
			return 0;
		}
	return -1;
}

static int same_scalar(const json_t *want, const json_t *live, int is_quantity)
{
	double a, b;

	if (json_equal((json_t *)want, (json_t *)live))
		return 1;
	if (json_is_number(want) && json_is_number(live))
		return json_number_value(want) == json_number_value(live);
	if (is_quantity && json_is_string(want) && json_is_string(live) &&
	    quantity(json_string_value(want), &a) == 0 &&
	    quantity(json_string_value(live), &b) == 0)
		return fabs(a - b) <= 1e-9 * (fabs(a) > 1 ? fabs(a) : 1);
	return 0;
}

static void shown(char *out, size_t n, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	if (!s) {
		snprintf(out, n, "absent");
		return;
	}
	if (strlen(s) > VALUE_SHOWN)
		snprintf(out, n, "%.*s...", VALUE_SHOWN, s);
	else
		snprintf(out, n, "%s", s);
	free(s);
}

static void differs(bar_buf *out, const char *what, const char *path, const json_t *live,
                    const json_t *want)
{
	char l[VALUE_SHOWN + 8], w[VALUE_SHOWN + 8];

	shown(l, sizeof(l), live);
	shown(w, sizeof(w), want);
	if (bar_buf_printf(out, "%s: %s is %s, want %s\n", what, path, l, w) < 0)
		bar_error_clear(); /* full: the first DRIFT_MAX bytes say enough */
}

/* Report where live lacks or differs from what want sets. */
static void subset(bar_buf *out, const char *what, char *path, size_t plen, size_t pcap,
                   const json_t *want, const json_t *live, int is_quantity)
{
	if (json_is_object(want)) {
		const char *k;
		json_t *v;

		if (!live && json_object_size(want) == 0)
			return; /* the API server drops an empty map (a ConfigMap's data) */
		if (!json_is_object(live)) {
			differs(out, what, plen ? path : "(object)", live, want);
			return;
		}
		json_object_foreach((json_t *)want, k, v) {
			int n = snprintf(path + plen, pcap - plen, "%s%s", plen ? "." : "", k);

			if (n < 0 || (size_t)n >= pcap - plen)
				n = 0;
			subset(out, what, path, plen + (size_t)n, pcap, v, json_object_get(live, k),
			       is_quantity || strcmp(k, "requests") == 0 || strcmp(k, "limits") == 0);
			path[plen] = 0;
		}
		return;
	}
	if (json_is_array(want)) {
		size_t i;
		json_t *v;

		if (!json_is_array(live) || json_array_size(live) != json_array_size(want)) {
			differs(out, what, path, live, want);
			return;
		}
		json_array_foreach((json_t *)want, i, v) {
			int n = snprintf(path + plen, pcap - plen, "[%zu]", i);

			if (n < 0 || (size_t)n >= pcap - plen)
				n = 0;
			subset(out, what, path, plen + (size_t)n, pcap, v, json_array_get(live, i),
			       is_quantity);
			path[plen] = 0;
		}
		return;
	}
	if (!live || !same_scalar(want, live, is_quantity))
		differs(out, what, path, live, want);
}

static const char *meta_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

static int is_wanted(const json_t *manifests, const char *kind, const char *name)
{
	size_t i;
	json_t *m;

	json_array_foreach(manifests, i, m)
		if (strcmp(json_string_value(json_object_get(m, "kind")) ?: "", kind) == 0 &&
		    strcmp(meta_str(m, "name") ?: "", name) == 0)
			return 1;
	return 0;
}

static int unwanted(bar_buf *out, const bar_k8s_cluster *c, const char *ns,
                    const json_t *manifests, const char *mcapp_label)
{
	char *sel = bar_printf("barista.io/mcapp=%s", mcapp_label);
	char *esc = curl_easy_escape(NULL, sel, 0);
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < k8s_n_kinds; i++) {
		char *coll = k8s_path(&k8s_kinds[i], ns, NULL);
		char *lp = bar_printf("%s?labelSelector=%s", coll, esc ? esc : "");
		json_t *list = NULL, *it;
		size_t j;

		rc = k8s_call(&list, c, "GET", lp, NULL, NULL);
		json_array_foreach(json_object_get(list, "items"), j, it) {
			const char *name = meta_str(it, "name");

			if (name && !is_wanted(manifests, k8s_kinds[i].kind, name) &&
			    bar_buf_printf(out, "%s %s: not in the MCApp (apply deletes it)\n",
			                   k8s_kinds[i].word, name) < 0)
				bar_error_clear();
		}
		json_decref(list);
		free(lp);
		free(coll);
	}
	curl_free(esc);
	free(sel);
	return rc;
}

int bar_k8s_drift(char **out, const bar_k8s_cluster *c, const json_t *manifests,
                  const char *mcapp_label)
{
	bar_buf b = BAR_BUF_INIT(DRIFT_MAX);
	const char *ns = NULL;
	size_t i;
	json_t *m;
	int rc = 0;

	json_array_foreach(manifests, i, m) {
		const k8s_kind *k = k8s_kind_of(json_string_value(json_object_get(m, "kind")));
		const char *name = meta_str(m, "name");
		char what[384], path[1024] = "";
		json_t *live = NULL, *want;
		char *p;

		if (!k || !name)
			continue;
		if (!ns)
			ns = meta_str(m, "namespace");
		snprintf(what, sizeof(what), "%s %s", k->word, name);
		p = k8s_path(k, meta_str(m, "namespace"), name);
		rc = k8s_call(&live, c, "GET", p, NULL, NULL);
		free(p);
		if (rc == BAR_ENOTFOUND) {
			if (bar_buf_printf(&b, "%s: missing\n", what) < 0)
				bar_error_clear();
			rc = 0;
			continue;
		}
		if (rc < 0)
			goto done;
		want = json_deep_copy(m);
		json_object_del(want, "apiVersion");
		json_object_del(want, "kind");
		subset(&b, what, path, 0, sizeof(path), want, live, 0);
		json_decref(want);
		json_decref(live);
	}
	rc = unwanted(&b, c, ns ? ns : bar_k8s_cluster_namespace(c), manifests, mcapp_label);
	if (rc < 0)
		goto done;
	if (b.len > 0 && b.data[b.len - 1] == '\n')
		b.data[--b.len] = 0;
	*out = b.len ? bar_buf_take(&b) : NULL;
done:
	bar_buf_free(&b);
	return rc;
}
