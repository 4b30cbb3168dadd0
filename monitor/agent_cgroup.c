/*
 * agent_cgroup.c - the agent's own cgroup counters (agent_cgroup.h).
 */
#include "agent_cgroup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first line of dir/file as text into buf; 0 or -1. */
static int read_line(char *buf, size_t size, const char *dir, const char *file)
{
	char path[700];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "re")))
		return -1;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	return ok ? 0 : -1;
}

static int read_u64(uint64_t *out, const char *dir, const char *file)
{
	char buf[64], *end;
	unsigned long long v;

	if (read_line(buf, sizeof(buf), dir, file) < 0)
		return -1;
	v = strtoull(buf, &end, 10);
	if (end == buf)
		return -1;
	*out = v;
	return 0;
}

/* The value of key in a "key value" file (cpu.stat, memory.stat, cpuacct.stat). */
static int read_key(uint64_t *out, const char *dir, const char *file, const char *key)
{
	char path[700], line[256];
	size_t kl = strlen(key);
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			*out = strtoull(line + kl + 1, NULL, 10);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

int bar_agent_cgroup_find(bar_agent_cgroup *out, const char *proc_cgroup, const char *root)
{
	FILE *f = fopen(proc_cgroup ? proc_cgroup : "/proc/self/cgroup", "re");
	char line[1024], unified[512] = "";
	const char *r = root ? root : "/sys/fs/cgroup";
	int found = 0;

	memset(out, 0, sizeof(*out));
	if (!f)
		return -1;
	/* "ID:CONTROLLERS:PATH"; v2's line is "0::PATH" */
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *path;
		char ctrls[256];
		size_t n;

		if (!c2)
			continue;
		path = c2 + 1;
		path[strcspn(path, "\n")] = '\0';
		n = (size_t)(c2 - c1 - 1);
		if (n >= sizeof(ctrls))
			continue;
		memcpy(ctrls, c1 + 1, n);
		ctrls[n] = '\0';
		if (!*ctrls) {
			snprintf(unified, sizeof(unified), "%s%s", r, path);
			continue;
		}
		for (char *tok = strtok(ctrls, ","); tok; tok = strtok(NULL, ",")) {
			char *dst = !strcmp(tok, "cpuacct") ? out->cpu
			          : !strcmp(tok, "cpu") ? out->quota
			          : !strcmp(tok, "memory") ? out->memory : NULL;
			if (dst)
				snprintf(dst, sizeof(out->cpu), "%s/%s%s", r, tok, path);
		}
	}
	fclose(f);
	/* v1 may co-mount cpu and cpuacct ("cpu,cpuacct"): the directory then
	 * carries the joint name */
	if (out->cpu[0] && access(out->cpu, R_OK) != 0 && out->quota[0]) {
		char joint[600];
		const char *p = strstr(out->quota, "/cpu/");
		if (p) {
			snprintf(joint, sizeof(joint), "%.*s/cpu,cpuacct/%s", (int)(p - out->quota),
			         out->quota, p + 5);
			if (access(joint, R_OK) == 0) {
				snprintf(out->cpu, sizeof(out->cpu), "%s", joint);
				snprintf(out->quota, sizeof(out->quota), "%s", joint);
			}
		}
	}
	if (out->cpu[0] && access(out->cpu, R_OK) == 0)
		found = 1;
	else
		out->cpu[0] = '\0';
	if (out->memory[0] && access(out->memory, R_OK) == 0)
		found = 1;
	else
		out->memory[0] = '\0';
	if (!found && unified[0] && access(unified, R_OK) == 0) {
		out->v2 = 1;
		snprintf(out->cpu, sizeof(out->cpu), "%s", unified);
		snprintf(out->memory, sizeof(out->memory), "%s", unified);
		found = 1;
	}
	return found ? 0 : -1;
}

/* "max" or a number, the quota over the period of cpu.max. */
static double v2_cpus(const char *dir)
{
	char buf[64];
	double quota, period;

	if (read_line(buf, sizeof(buf), dir, "cpu.max") < 0 || !strncmp(buf, "max", 3))
		return 0;
	if (sscanf(buf, "%lf %lf", &quota, &period) != 2 || period <= 0)
		return 0;
	return quota / period;
}

int bar_agent_cgroup_read(const bar_agent_cgroup *g, bar_agent_cgroup_stat *out)
{
	uint64_t a, b, inactive = 0;
	long hz = sysconf(_SC_CLK_TCK);

	memset(out, 0, sizeof(*out));
	if (g->v2) {
		if (read_key(&a, g->cpu, "cpu.stat", "usage_usec") == 0) {
			out->have_cpu = 1;
			out->usage_ns = a * 1000;
			if (read_key(&a, g->cpu, "cpu.stat", "user_usec") == 0)
				out->user_ns = a * 1000;
			if (read_key(&a, g->cpu, "cpu.stat", "system_usec") == 0)
				out->system_ns = a * 1000;
			out->cpus = v2_cpus(g->cpu);
		}
		if (read_u64(&a, g->memory, "memory.current") == 0) {
			out->have_mem = 1;
			read_key(&inactive, g->memory, "memory.stat", "inactive_file");
			out->mem_used = a > inactive ? a - inactive : a;
			if (read_u64(&b, g->memory, "memory.max") == 0)
				out->mem_limit = b;
		}
	} else {
		if (g->cpu[0] && read_u64(&a, g->cpu, "cpuacct.usage") == 0) {
			out->have_cpu = 1;
			out->usage_ns = a;
			if (hz > 0 && read_key(&a, g->cpu, "cpuacct.stat", "user") == 0)
				out->user_ns = a * (1000000000ULL / (uint64_t)hz);
			if (hz > 0 && read_key(&a, g->cpu, "cpuacct.stat", "system") == 0)
				out->system_ns = a * (1000000000ULL / (uint64_t)hz);
			if (g->quota[0]) {
				uint64_t period;
				char buf[64];
				long long q;
				if (read_line(buf, sizeof(buf), g->quota, "cpu.cfs_quota_us") == 0 &&
				    (q = strtoll(buf, NULL, 10)) > 0 &&
				    read_u64(&period, g->quota, "cpu.cfs_period_us") == 0 && period)
					out->cpus = (double)q / (double)period;
			}
		}
		if (g->memory[0] && read_u64(&a, g->memory, "memory.usage_in_bytes") == 0) {
			out->have_mem = 1;
			read_key(&inactive, g->memory, "memory.stat", "total_inactive_file");
			out->mem_used = a > inactive ? a - inactive : a;
			/* no limit reads as a huge page-rounded number */
			if (read_u64(&b, g->memory, "memory.limit_in_bytes") == 0 && b < (1ULL << 60))
				out->mem_limit = b;
		}
	}
	return out->have_cpu || out->have_mem ? 0 : -1;
}
