/*
 * mci.c - an MCI's status, aggregated from its VMs' statuses the way
 * Cloud-Barista shows it: the most common status, prefixed "Partial-" when
 * not every VM has it, then how many VMs run: "Partial-Running:3 (R:3/5)".
 */
#include "planner.h"

#include <stdio.h>
#include <string.h>

static const char *const statuses[] = {
	"Running", "Creating", "Suspending", "Suspended", "Resuming", "Rebooting",
	"Terminating", "Terminated", "Failed", NULL,
};

void bar_mci_status(const char *const *vm_status, size_t n, char *buf, size_t size)
{
	size_t count[16] = {0}, other = 0, best = 0, running;
	int top = -1;

	for (size_t i = 0; i < n; i++) {
		int k;

		for (k = 0; statuses[k] && strcmp(statuses[k], vm_status[i]) != 0; k++)
			;
		if (statuses[k])
			count[k]++;
		else
			other++;
	}
	running = count[0];
	/* Ties go to the status earlier in the lifecycle list above. */
	for (int k = 0; statuses[k]; k++)
		if (count[k] > best) {
			best = count[k];
			top = k;
		}
	if (n == 0) {
		snprintf(buf, size, "Empty:0 (R:0/0)");
		return;
	}
	if (top < 0) {
		snprintf(buf, size, "Unknown:%zu (R:0/%zu)", other, n);
		return;
	}
	snprintf(buf, size, "%s%s:%zu (R:%zu/%zu)", best < n ? "Partial-" : "", statuses[top],
	         best, running, n);
}
