/*
 * ctr_driver.c - a thin command line over runtime/agent/ctr.h for
 * tests/ctr_runc.sh, so the shell test drives the real API against real runc:
 *
 *   ctr_driver unpack BLOBS CACHE MANIFEST_DIGEST LAYER_DIGEST[+gz]...
 *   ctr_driver prepare OPTS... [-- ARGS...]    prints "overlay" or "copied"
 *   ctr_driver run OPTS...                     execs bar_ctr_run_argv's argv
 *   ctr_driver cleanup RUNC_ROOT ID DIR REMOVE_DATA
 *   ctr_driver cleanup-all RUNC_ROOT PREFIX APPS_DIR   prints the count
 *   ctr_driver gc CACHE KEEP...                prints the count
 *
 * OPTS are id= root= dir= rootfs= user= cwd= hostname= mem= cpus= cgroup=
 * env=K=V (repeated) vol=SRC:DST (repeated).  Failures print the API's why
 * and exit 1.
 */
#include "ctr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXV 64

static int spec_parse(bar_ctr_spec *s, int argc, char **argv, const char **env,
                      const char **vsrc, const char **vdst)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		char *a = argv[i], *v = strchr(a, '=');
		if (!v) {
			fprintf(stderr, "ctr_driver: %s: not key=value\n", a);
			return -1;
		}
		*v++ = '\0';
		if (!strcmp(a, "id"))
			s->id = v;
		else if (!strcmp(a, "root"))
			s->runc_root = v;
		else if (!strcmp(a, "dir"))
			s->dir = v;
		else if (!strcmp(a, "rootfs"))
			s->image_rootfs = v;
		else if (!strcmp(a, "user"))
			s->user = v;
		else if (!strcmp(a, "cwd"))
			s->cwd = v;
		else if (!strcmp(a, "hostname"))
			s->hostname = v;
		else if (!strcmp(a, "cgroup"))
			s->cgroup_parent = v;
		else if (!strcmp(a, "mem"))
			s->memory_bytes = strtoull(v, NULL, 10);
		else if (!strcmp(a, "cpus"))
			s->cpus = strtod(v, NULL);
		else if (!strcmp(a, "env") && s->nenv < MAXV)
			env[s->nenv++] = v;
		else if (!strcmp(a, "vol") && s->nvol < MAXV && strchr(v, ':')) {
			char *c = strchr(v, ':');
			*c = '\0';
			vsrc[s->nvol] = v, vdst[s->nvol++] = c + 1;
		} else {
			fprintf(stderr, "ctr_driver: unknown option %s\n", a);
			return -1;
		}
	}
	if (i < argc) {
		s->args = (const char *const *)argv + i + 1;
		s->nargs = (size_t)(argc - i - 1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char why[1024] = "";
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "unpack") && argc >= 5) {
		bar_ctr_layer layers[MAXV];
		char out[4096];
		size_t n = 0;

		for (int i = 5; i < argc && n < MAXV; i++, n++) {
			char *gz = strstr(argv[i], "+gz");
			layers[n].gzip = gz != NULL;
			if (gz)
				*gz = '\0';
			snprintf(layers[n].digest, sizeof(layers[n].digest), "%s", argv[i]);
		}
		if (bar_ctr_unpack(out, sizeof(out), argv[2], argv[3], argv[4], layers, n, why,
		                   sizeof(why)) != 0)
			goto fail;
		printf("%s\n", out);
		return 0;
	}
	if ((!strcmp(cmd, "prepare") || !strcmp(cmd, "run")) && argc >= 2) {
		bar_ctr_spec s = { 0 };
		const char *env[MAXV], *vsrc[MAXV], *vdst[MAXV];
		int rc;

		s.env = env, s.vol_src = vsrc, s.vol_dst = vdst;
		if (spec_parse(&s, argc - 2, argv + 2, env, vsrc, vdst) != 0)
			return 2;
		if (!strcmp(cmd, "run")) {
			char *av[16], buf[8192];
			if (bar_ctr_run_argv(av, 16, buf, sizeof(buf), &s) < 0) {
				fprintf(stderr, "ctr_driver: bar_ctr_run_argv failed\n");
				return 1;
			}
			execv(av[0], av);
			perror(av[0]);
			return 127;
		}
		rc = bar_ctr_prepare(&s, why, sizeof(why));
		if (rc < 0)
			goto fail;
		printf("%s\n", rc == BAR_CTR_COPIED ? "copied" : "overlay");
		return 0;
	}
	if (!strcmp(cmd, "cleanup") && argc == 6) {
		if (bar_ctr_cleanup(argv[2], argv[3], *argv[4] ? argv[4] : NULL, atoi(argv[5]), why,
		                    sizeof(why)) != 0)
			goto fail;
		return 0;
	}
	if (!strcmp(cmd, "cleanup-all") && argc == 5) {
		int n = bar_ctr_cleanup_all(argv[2], argv[3], argv[4], why, sizeof(why));
		if (n < 0)
			goto fail;
		printf("%d\n", n);
		return 0;
	}
	if (!strcmp(cmd, "gc") && argc >= 3) {
		int n = bar_ctr_gc(argv[2], (const char *const *)argv + 3, (size_t)(argc - 3));
		if (n < 0) {
			fprintf(stderr, "ctr_driver: gc failed\n");
			return 1;
		}
		printf("%d\n", n);
		return 0;
	}
	fprintf(stderr, "usage: ctr_driver unpack|prepare|run|cleanup|cleanup-all|gc ...\n");
	return 2;
fail:
	fprintf(stderr, "ctr_driver %s: %s\n", cmd, why);
	return 1;
}
