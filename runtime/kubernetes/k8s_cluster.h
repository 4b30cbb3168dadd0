/*
 * k8s_cluster.h - the inside of a bar_k8s_cluster, shared by kubeconfig.c
 * (which fills it) and http.c (which uses it for requests).
 */
#ifndef BAR_K8S_CLUSTER_H
#define BAR_K8S_CLUSTER_H

#include "k8s_int.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* The exec plugin's token, cached until its expiry; behind a pointer so a
 * const cluster can refresh it. */
typedef struct k8s_exec_cache {
	pthread_mutex_t mu;
	char *token;
	int64_t expires_ms; /* wall clock; 0: no expiry given */
} k8s_exec_cache;

struct bar_k8s_cluster {
	char *server; /* without a trailing slash */
	char *ns;
	char *ca_file;
	unsigned char *ca;
	size_t ca_len;
	int insecure;
	char *token;
	char *token_file;
	char *cert_file;
	char *key_file;
	unsigned char *cert;
	size_t cert_len;
	unsigned char *key;
	size_t key_len;
	char *exec_cmd;   /* NULL: no exec plugin */
	char *exec_api;
	char **exec_argv; /* NULL-terminated */
	char **exec_env;  /* NAME=VALUE */
	size_t n_exec_env;
	k8s_exec_cache *exec_cache;
};

/* Give a zeroed cluster its exec token cache / zero and free the cache
 * (the rest is freed by bar_k8s_cluster_free). */
void k8s_cluster_init(bar_k8s_cluster *c);
void k8s_cluster_fini(bar_k8s_cluster *c);

#endif
