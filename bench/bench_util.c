/*
 * bench_util.c - shared benchmark helpers (see bench_util.h).
 */
#include "bench_util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/barista-bench-XXXXXX";
static char barista[PATH_MAX];

static void remove_tmp(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

const char *bench_tmpdir(void)
{
	if (tmpdir[strlen(tmpdir) - 1] == 'X') {
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(1);
		}
		if (getenv("BENCH_KEEP")) /* for profiling: keep the generated data */
			fprintf(stderr, "keeping %s\n", tmpdir);
		else
			atexit(remove_tmp);
	}
	return tmpdir;
}

FILE *bench_open(const char *dir, const char *name)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	return f;
}

void bench_write_mcir(FILE *f, const char *driver, const char *conn, const char *region,
                      const char *config, int max_concurrency, int octet)
{
	fprintf(f,
	        "apiVersion: barista.dev/v1\nkind: Connection\nmetadata: {name: %s}\nspec:\n"
	        "  driver: %s\n  region: %s\n  maxConcurrency: %d\n%s%s---\n",
	        conn, driver, region, max_concurrency, *config ? "  config:\n" : "", config);
	fprintf(f,
	        "apiVersion: barista.dev/v1\nkind: VNet\nmetadata: {name: %s-net}\nspec:\n"
	        "  connection: %s\n  cidr: 10.%d.0.0/16\n  subnets:\n"
	        "    - {name: sub, cidr: 10.%d.0.0/17}\n---\n",
	        conn, conn, octet, octet);
	fprintf(f,
	        "apiVersion: barista.dev/v1\nkind: SecurityGroup\nmetadata: {name: %s-sg}\n"
	        "spec:\n  connection: %s\n  vnet: %s-net\n  ingress:\n"
	        "    - {protocol: tcp, ports: \"22\"}\n---\n",
	        conn, conn, conn);
	fprintf(f,
	        "apiVersion: barista.dev/v1\nkind: SSHKey\nmetadata: {name: %s-key}\nspec:\n"
	        "  connection: %s\n---\n",
	        conn, conn);
	fprintf(f,
	        "apiVersion: barista.dev/v1\nkind: Image\nmetadata: {name: %s-img}\nspec:\n"
	        "  connection: %s\n  imageId: host\n---\n",
	        conn, conn);
	fprintf(f,
	        "apiVersion: barista.dev/v1\nkind: Spec\nmetadata: {name: %s-small}\nspec:\n"
	        "  connection: %s\n  vcpu: 1\n  memoryMiB: 256\n---\n",
	        conn, conn);
}

void bench_write_mci(FILE *f, const char *name, const char *conn, int groups, int count)
{
	fprintf(f, "apiVersion: barista.dev/v1\nkind: MCI\nmetadata: {name: %s}\nspec:\n"
	           "  groups:\n", name);
	for (int g = 1; g <= groups; g++)
		fprintf(f,
		        "    - name: g%d\n      connection: %s\n      spec: %s-small\n"
		        "      image: %s-img\n      vnet: %s-net\n      securityGroups: [%s-sg]\n"
		        "      sshKey: %s-key\n      count: %d\n",
		        g, conn, conn, conn, conn, conn, conn, count);
	fputs("---\n", f);
}

const char *bench_barista_path(void)
{
	if (!barista[0]) {
		ssize_t n = readlink("/proc/self/exe", barista, sizeof(barista) - 32);
		char *slash;

		if (n < 0) {
			perror("readlink");
			exit(1);
		}
		barista[n] = '\0';
		slash = strrchr(barista, '/');
		strcpy(slash, "/../barista");
	}
	return barista;
}

int bench_barista(const char *args, int verbose)
{
	size_t n = strlen(args) + PATH_MAX + 64;
	char *cmd = malloc(n);
	int rc;

	snprintf(cmd, n, "'%s' %s </dev/null %s", bench_barista_path(), args,
	         verbose ? "" : ">/dev/null");
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_time_barista(const char *args, int want)
{
	double t0 = bench_now();
	int rc = bench_barista(args, 0);
	double t = bench_now() - t0;

	if (rc != want) {
		fprintf(stderr, "barista %s: exit %d, expected %d\n", args, rc, want);
		bench_barista(args, 1);
		exit(1);
	}
	return t;
}
