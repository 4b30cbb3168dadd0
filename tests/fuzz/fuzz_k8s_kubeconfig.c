/*
 * fuzz_k8s_kubeconfig.c - libFuzzer target: bytes as a kubeconfig through
 * the kubernetes runtime's reader (runtime/kubernetes/kubeconfig.c), which
 * sees files users and cluster installers write.
 */
#include "k8s_int.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bar_k8s_cluster *c = NULL;

	if (k8s_kubeconfig_parse(&c, (const char *)data, size, "/fuzz/kubeconfig", NULL) == 0)
		bar_k8s_cluster_free(c);
	return 0;
}
