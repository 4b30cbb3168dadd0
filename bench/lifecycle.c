/*
 * lifecycle.c - the paper demo's 18 VMs (specs/examples/paper-demo, local
 * provider, so root): time `barista mci suspend|resume|reboot|terminate` of
 * the whole MCI, each from the state the previous one left.  The demo is
 * applied from a copy of its specs whose VNet CIDRs are moved (10.12x to
 * 10.16x) so a demo someone has applied keeps running, with its own state
 * and provider root; everything is destroyed at the end.
 *
 * Prints, last line: suspend_s=… resume_s=… reboot_s=… terminate_s=…
 */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	static const char *const acts[] = {"suspend", "resume", "reboot", "terminate"};
	const char *tmp = bench_tmpdir();
	char dir[4096], cmd[12288], args[8400];
	double t[4];

	if (geteuid() != 0)
		return fprintf(stderr, "lifecycle: needs root (local VMs)\n"), 1;
	snprintf(dir, sizeof(dir), "%s/demo", tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && for f in '%s'/*.yaml; do "
	         "sed -E 's/10\\.12([0-9])\\./10.16\\1./g; s/10\\.130\\./10.170./g' \"$f\" > "
	         "'%s'/$(basename \"$f\"); done", dir, BAR_DEMO_DIR, dir);
	if (system(cmd) != 0)
		return fprintf(stderr, "cannot copy the demo specs\n"), 1;
	snprintf(cmd, sizeof(cmd), "%s/root", tmp);
	setenv("BARISTA_LOCAL_ROOT", cmd, 1);
	snprintf(args, sizeof(args), "apply -auto-approve '%s'", dir);
	bench_time_barista(args, 0);
	for (int i = 0; i < 4; i++) {
		snprintf(args, sizeof(args), "mci %s paper -auto-approve '%s'", acts[i], dir);
		t[i] = bench_time_barista(args, 0);
		fprintf(stderr, "%s of 18 VMs: %.2f s\n", acts[i], t[i]);
	}
	snprintf(args, sizeof(args), "destroy -auto-approve '%s'", dir);
	bench_time_barista(args, 0);
	printf("suspend_s=%.2f resume_s=%.2f reboot_s=%.2f terminate_s=%.2f\n", t[0], t[1], t[2],
	       t[3]);
	return 0;
}
