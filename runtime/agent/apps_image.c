/*
 * apps_image.c - image apps: OCI containers run with runc (ctr.h).  Until
 * the container runtime is linked in, starting one fails with a message
 * saying so.
 */
#include "apps_int.h"

#include <stdio.h>

int apps_image_spawn(bar_apps *a, replica *r, int out_w, char *why, size_t wsize)
{
	(void)a;
	(void)r;
	(void)out_w;
	snprintf(why, wsize, "this barista-agent cannot run container images yet");
	return -1;
}

void apps_image_exited(bar_apps *a, replica *r)
{
	(void)a;
	(void)r;
}

void apps_image_sweep(bar_apps *a)
{
	(void)a;
}

int apps_image_exec_argv(const replica *r, const char *cmd, char **argv, size_t max)
{
	(void)r;
	(void)cmd;
	(void)argv;
	(void)max;
	return -1;
}
