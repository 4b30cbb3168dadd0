/*
 * k8s.h - the "kubernetes" MC-App runtime: an MCApp with `runtime:
 * kubernetes` becomes ConfigMaps, Deployments, Services and
 * PersistentVolumeClaims that are server-side applied to a cluster, their
 * rollout watched, what the MCApp no longer has pruned and drift reported.
 * The cluster is reached as a kubeconfig describes it (CA, token, client
 * certificate or an exec credential plugin).  Also: choosing the VM group
 * that hosts the control plane when Barista bootstraps a cluster with
 * kubeadm, and the embedded bootstrap scripts for that.
 *
 * Errors follow core/error.h: 0, BAR_EAUTH (401/403), BAR_ENOTFOUND,
 * BAR_ETIMEOUT, or -1 with the message set; a Status answer from the API
 * becomes "<verb> <path>: <code> <reason>: <message>".  No secret (token,
 * key) ever appears in a message.
 */
#ifndef BAR_K8S_H
#define BAR_K8S_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bar_k8s_cluster bar_k8s_cluster; /* opaque: server, CA, auth */

/* Open the cluster a kubeconfig file names: `context` (NULL: the file's
 * current-context).  Reads server, certificate-authority(-data),
 * insecure-skip-tls-verify, and the user's token / tokenFile /
 * client-certificate(-data) + client-key(-data) / exec (an ExecCredential
 * plugin, run when a token is first needed and again after its
 * expirationTimestamp).  Relative paths are relative to the file.  *out is
 * the caller's (bar_k8s_cluster_free).  Errors name file:line:col of the
 * offending YAML node; -1 (or BAR_ENOTFOUND for a missing context). */
int bar_k8s_cluster_open(bar_k8s_cluster **out, const char *kubeconfig_path, const char *context);

/* Free a cluster, zeroing its credentials; accepts NULL. */
void bar_k8s_cluster_free(bar_k8s_cluster *c);

/* The namespace the kubeconfig's context names ("default" when none);
 * borrowed from c. */
const char *bar_k8s_cluster_namespace(const bar_k8s_cluster *c);

/* One raw request for tests and tools: method, path (with query), body
 * (NULL: none) of content type ctype.  *status and *out (the parsed JSON
 * answer, NULL when not JSON; caller's) are set when the request reached
 * the server.  0, or -1/BAR_EAUTH when it failed or was 401/403. */
int bar_k8s_request(json_t **out, long *status, const bar_k8s_cluster *c, const char *method,
                    const char *path, const char *body, const char *ctype);

/*
 * The manifests (a new JSON array, the caller's) for the MCApp `mcapp` of
 * Barista namespace `barista_ns` from its normalized attrs: per app, in
 * dependency order (`order`, then `after`), a ConfigMap (env), a
 * PersistentVolumeClaim per volume, a Deployment and, when it has ports, a
 * Service.  Every object carries app.kubernetes.io/name=<app>,
 * app.kubernetes.io/managed-by=barista and barista.io/mcapp=<ns>.<mcapp>.
 * Returns 0, or -1 (BAR_EINVALID for attrs that cannot be expressed: a
 * cycle in `after`, an unknown health kind) with the message set.
 */
int bar_k8s_manifests(json_t **out /* array */, const char *barista_ns, const char *mcapp,
                      const json_t *attrs);

/* The label value of barista.io/mcapp for an MCApp ("<ns>.<mcapp>") into a
 * new string. */
char *bar_k8s_mcapp_label(const char *barista_ns, const char *mcapp);

/*
 * Server-side apply every manifest in order (PATCH with
 * application/apply-patch+yaml, fieldManager=barista, force=true); after
 * each Deployment wait for its rollout (observedGeneration >= generation,
 * updated == available == replicas) until its healthTimeoutSeconds
 * annotation or timeout_ms, whichever is first; then delete the objects
 * labelled barista.io/mcapp=<mcapp_label> in the manifests' namespace that
 * are not in the set.  A failed rollout (ProgressDeadlineExceeded, a pod
 * waiting on ErrImagePull, ImagePullBackOff, CrashLoopBackOff...) returns -1
 * carrying the API's own message; a rollout still going at the deadline
 * BAR_ETIMEOUT.  progress(ctx, line) is told each step (may be NULL).
 */
int bar_k8s_apply(const bar_k8s_cluster *c, const json_t *manifests, const char *mcapp_label,
                  int64_t timeout_ms, void (*progress)(void *, const char *), void *ctx);

/* Drift: compare the live objects with the manifests on the fields Barista
 * sets (image, args, command, replicas, ports, env, resources, probe,
 * ConfigMap data) and note objects missing or labelled but unwanted.  *out
 * is a malloc'd text, one line per difference ("deployment nginx: image is
 * x, want y"), or NULL when there is none.  0, or -1 (*out untouched). */
int bar_k8s_drift(char **out, const bar_k8s_cluster *c, const json_t *manifests,
                  const char *mcapp_label);

/* Delete every Deployment, Service, ConfigMap and PersistentVolumeClaim of
 * k8s_namespace labelled barista.io/mcapp=<mcapp_label> (destroy).  Gone
 * already is fine.  0 or -1. */
int bar_k8s_delete_all(const bar_k8s_cluster *c, const char *k8s_namespace,
                       const char *mcapp_label);

/* Status per app: a new JSON object {app: {"desired","updated","ready",
 * "available","observedGeneration","generation","conditions":[...]}} for
 * each Deployment of the manifests (a missing one: {"missing":true}).
 * 0 or -1. */
int bar_k8s_status(json_t **out, const bar_k8s_cluster *c, const json_t *manifests);

/* The group (index into n groups) whose largest latency to the others is
 * smallest; ties go to the smallest mean, then the lowest index.
 * latency_ms is n*n, row i = from group i; the diagonal is ignored.
 * 0, or -1 when n is 0 or a latency is negative or not a number. */
int bar_k8s_pick_control_plane(size_t *out, const double *latency_ms /* n*n */, size_t n);

/* An embedded bootstrap script by name ("containerd", "control-plane",
 * "worker"), borrowed static text, or NULL for an unknown name. */
const char *bar_k8s_bootstrap_script(const char *name);

#endif
