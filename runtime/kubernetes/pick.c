/*
 * pick.c - where the control plane of a bootstrapped cluster goes: the VM
 * group from which the farthest other group is nearest (the API server is
 * on every kubelet's path, so the worst link matters most), the mean as the
 * tie-break; and the embedded kubeadm bootstrap scripts
 * (runtime/kubernetes/bootstrap/, turned into C strings at build time).
 */
#include "k8s.h"
#include "error.h"

#include <math.h>
#include <string.h>

#include "k8s_bootstrap_scripts.h" /* generated: k8s_script_* */

int bar_k8s_pick_control_plane(size_t *out, const double *latency_ms, size_t n)
{
	size_t best = 0;
	double best_max = INFINITY, best_mean = INFINITY;

	if (n == 0)
		return bar_error_setc(BAR_EINVALID, "no VM group to host the control plane");
	for (size_t i = 0; i < n; i++) {
		double max = 0, sum = 0;

		for (size_t j = 0; j < n; j++) {
			double l = latency_ms[i * n + j];

			if (i == j)
				continue;
			if (!(l >= 0) || isinf(l))
				return bar_error_setc(BAR_EINVALID, "latency from group %zu to %zu is not "
				                      "a non-negative number", i, j);
			if (l > max)
				max = l;
			sum += l;
		}
		double mean = n > 1 ? sum / (double)(n - 1) : 0;

		if (max < best_max || (max == best_max && mean < best_mean)) {
			best = i;
			best_max = max;
			best_mean = mean;
		}
	}
	*out = best;
	return 0;
}

const char *bar_k8s_bootstrap_script(const char *name)
{
	static const struct { const char *name; const char *text; } scripts[] = {
		{"containerd", k8s_script_containerd},
		{"control-plane", k8s_script_control_plane},
		{"worker", k8s_script_worker},
	};

	for (size_t i = 0; name && i < sizeof(scripts) / sizeof(scripts[0]); i++)
		if (strcmp(scripts[i].name, name) == 0)
			return scripts[i].text;
	return NULL;
}
