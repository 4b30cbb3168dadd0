/*
 * k8s_int.h - what the files of the kubernetes runtime share: the API call
 * that turns a Status answer into Barista's error, and the kinds Barista
 * manages with their API paths.
 */
#ifndef BAR_K8S_INT_H
#define BAR_K8S_INT_H

#include "k8s.h"

#include <jansson.h>

/* A kind Barista manages: its collection path under a namespace. */
typedef struct k8s_kind {
	const char *kind;     /* "Deployment" */
	const char *prefix;   /* "/apis/apps/v1" */
	const char *resource; /* "deployments" */
	const char *word;     /* "deployment", for messages */
} k8s_kind;

/* The kinds, in the order they are deleted when pruning (users first). */
extern const k8s_kind k8s_kinds[];
extern const size_t k8s_n_kinds;

/* The kind descriptor for a kind name, or NULL. */
const k8s_kind *k8s_kind_of(const char *kind);

/* The object path "<prefix>/namespaces/<ns>/<resource>[/<name>]" (new
 * string; name may be NULL for the collection). */
char *k8s_path(const k8s_kind *k, const char *ns, const char *name);

/* method path with body: 2xx is 0 with *out the parsed answer (may be NULL
 * when not wanted or not JSON); otherwise the error is set from the API's
 * Status as "<method> <path>: <code> <reason>: <message>" and the code is
 * BAR_EAUTH (401/403), BAR_ENOTFOUND (404), BAR_ECONFLICT (409),
 * BAR_EINVALID (422), BAR_ERETRY (429, 5xx) or -1. */
int k8s_call(json_t **out, const bar_k8s_cluster *c, const char *method, const char *path,
             const char *body, const char *ctype);

/* bar_k8s_cluster_open on a kubeconfig already read: len bytes of data,
 * `path` for messages and relative paths (also the fuzz target's entry). */
int k8s_kubeconfig_parse(bar_k8s_cluster **out, const char *data, size_t len,
                         const char *path, const char *context);

#endif
