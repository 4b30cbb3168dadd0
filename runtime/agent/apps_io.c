/*
 * apps_io.c - what the supervisor keeps outside itself: each replica's
 * output in <dir>/apps/<app>-<n>/log (rotated to log.1 at log_max bytes, so
 * two files at most), its cgroup under the agent's own (limits from the
 * manifest, CPU and memory for the metrics, and the way every process of
 * an app is found and stopped, even one an earlier agent left), and the
 * status file apply and `barista app status` read.
 *
 * cgroups: v2 (one unified group: cpu.max, memory.max, cpu.stat,
 * memory.current) or v1 (cpu: cfs quota; cpuacct: usage; memory:
 * limit_in_bytes, usage_in_bytes), as the kernel's cgroup-v1 and
 * cgroup-v2.rst describe them.  A replica's group is
 * barista-app-<app>-<n> beside nothing else of the agent's.
 */

#include "apps_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_PREFIX "barista-app-"

/* ---- logs ---- */

static void log_path(const bar_apps *a, const replica *r, char *buf, size_t n, int old)
{
	snprintf(buf, n, "%s/apps/%s-%d/log%s", a->dir, r->app->def.name, r->index,
	         old ? ".1" : "");
}

void apps_log_open(bar_apps *a, replica *r)
{
	char path[800];
	struct stat st;

	apps_log_close(r);
	log_path(a, r, path, sizeof(path), 0);
	r->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	r->log_size = r->log_fd >= 0 && fstat(r->log_fd, &st) == 0 ? (size_t)st.st_size : 0;
}

void apps_log_close(replica *r)
{
	if (r->log_fd >= 0)
		close(r->log_fd);
	r->log_fd = -1;
}

static void log_write(bar_apps *a, replica *r, const char *buf, size_t n)
{
	if (r->log_fd < 0)
		return;
	if (r->log_size + n > a->o.log_max) {
		char cur[800], old[800];

		log_path(a, r, cur, sizeof(cur), 0);
		log_path(a, r, old, sizeof(old), 1);
		close(r->log_fd);
		rename(cur, old);
		r->log_fd = open(cur, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		r->log_size = 0;
		if (r->log_fd < 0)
			return;
	}
	while (n) {
		ssize_t w = write(r->log_fd, buf, n);
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
		r->log_size += (size_t)w;
	}
}

/* Read what the app wrote (without blocking; 64 KiB at most a call so one
 * chatty app cannot hold the loop), closing the pipe at its end. */
void apps_log_drain(bar_apps *a, replica *r)
{
	char buf[8192];

	for (int i = 0; r->out_fd >= 0 && i < 8; i++) {
		ssize_t n = read(r->out_fd, buf, sizeof(buf));

		if (n > 0) {
			log_write(a, r, buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close(r->out_fd); /* EOF: every writer is gone */
		r->out_fd = -1;
	}
}

/* ---- cgroups ---- */

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[800];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

static int read_u64(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char path[800], buf[4096];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (key) {
		char *p = strstr(buf, key);
		if (!p)
			return -1;
		return sscanf(p + strlen(key), " %lu", out) == 1 ? 0 : -1;
	}
	return sscanf(buf, "%lu", out) == 1 ? 0 : -1;
}

/* The agent's groups: from /proc/self/cgroup, under /sys/fs/cgroup. */
void apps_cgroup_base(bar_apps *a)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];

	memset(a->cg_base, 0, sizeof(a->cg_base));
	a->cg_v2 = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *path;

		if (!c2)
			continue;
		*c2 = '\0';
		path = c2 + 1;
		path[strcspn(path, "\n")] = '\0';
		if (!strcmp(path, "/"))
			path = "";
		if (!strcmp(line, "0") && c1[1] == '\0') {
			/* the unified hierarchy: the only one on a v2 system */
			char dir[512];
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s", path);
			if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
				a->cg_v2 = 1;
				snprintf(a->cg_base[0], sizeof(a->cg_base[0]), "%s", dir);
				snprintf(a->cg_rel, sizeof(a->cg_rel), "%s", path);
			}
			continue;
		}
		{
			const char *ctl = c1 + 1;
			char list[256];
			snprintf(list, sizeof(list), ",%s,", ctl);
			if (strstr(list, ",cpu,"))
				snprintf(a->cg_base[0], sizeof(a->cg_base[0]), "/sys/fs/cgroup/%s%s", ctl,
				         path);
			if (strstr(list, ",cpuacct,"))
				snprintf(a->cg_base[1], sizeof(a->cg_base[1]), "/sys/fs/cgroup/%s%s", ctl,
				         path);
			if (strstr(list, ",memory,")) {
				snprintf(a->cg_base[2], sizeof(a->cg_base[2]), "/sys/fs/cgroup/%s%s", ctl,
				         path);
				snprintf(a->cg_rel, sizeof(a->cg_rel), "%s", path);
			}
		}
	}
	fclose(f);
	if (a->cg_v2)
		a->cg_base[1][0] = a->cg_base[2][0] = '\0';
	/* v1 mounts the pair as cpu,cpuacct: the directory may be named so */
	for (int i = 0; i < 3 && !a->cg_v2; i++)
		if (a->cg_base[i][0] && access(a->cg_base[i], F_OK) != 0)
			a->cg_base[i][0] = '\0';
}

int apps_cgroup_make(bar_apps *a, replica *r, char *why, size_t wsize)
{
	const bar_app_def *d = &r->app->def;
	char text[64];

	for (int i = 0; i < 3; i++)
		r->cg[i][0] = '\0';
	if (d->kind == BAR_APP_IMAGE)
		return 0; /* runc makes the container's groups and sets their limits */
	for (int i = 0; i < 3; i++) {
		if (!a->cg_base[i][0])
			continue;
		if (i == 1 && !strcmp(a->cg_base[1], a->cg_base[0]))
			continue; /* cpu and cpuacct in one directory */
		snprintf(r->cg[i], sizeof(r->cg[i]), "%s/" CG_PREFIX "%s-%d", a->cg_base[i], d->name,
		         r->index);
		if (mkdir(r->cg[i], 0755) < 0 && errno != EEXIST) {
			snprintf(why, wsize, "cannot make cgroup %s: %s", r->cg[i], strerror(errno));
			r->cg[i][0] = '\0';
			return -1;
		}
	}
	if (a->cg_v2 && r->cg[0][0]) {
		if (d->cpus > 0) {
			snprintf(text, sizeof(text), "%ld 100000", (long)(d->cpus * 100000));
			if (write_file(r->cg[0], "cpu.max", text) < 0)
				goto limit;
		}
		if (d->memory) {
			snprintf(text, sizeof(text), "%llu", (unsigned long long)d->memory);
			if (write_file(r->cg[0], "memory.max", text) < 0)
				goto limit;
		}
		return 0;
	}
	if (d->cpus > 0 && r->cg[0][0]) {
		snprintf(text, sizeof(text), "%ld", (long)(d->cpus * 100000));
		if (write_file(r->cg[0], "cpu.cfs_period_us", "100000") < 0 ||
		    write_file(r->cg[0], "cpu.cfs_quota_us", text) < 0)
			goto limit;
	}
	if (d->memory && r->cg[2][0]) {
		snprintf(text, sizeof(text), "%llu", (unsigned long long)d->memory);
		if (write_file(r->cg[2], "memory.limit_in_bytes", text) < 0)
			goto limit;
	}
	return 0;
limit:
	snprintf(why, wsize, "cannot set the resource limits of cgroup %s: %s",
	         r->cg[0][0] ? r->cg[0] : r->cg[2], strerror(errno));
	return -1;
}

void apps_cgroup_join(const replica *r)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (int i = 0; i < 3; i++)
		if (r->cg[i][0])
			write_file(r->cg[i], "cgroup.procs", pid);
}

/* SIGKILL every process of a group and remove it (bounded: 2 s). */
static void cg_kill_remove(const char *dir)
{
	char path[800], buf[8192];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	for (int tries = 0; tries < 100; tries++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC), any = 0;
		ssize_t n;

		if (fd < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			char *save = NULL;
			buf[n] = '\0';
			for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
				kill(atoi(t), SIGKILL);
				any = 1;
			}
		}
		if (!any && rmdir(dir) == 0)
			return;
		if (!any && errno != EBUSY)
			return;
		usleep(20000);
	}
}

void apps_cgroup_remove(bar_apps *a, replica *r)
{
	(void)a;
	for (int i = 0; i < 3; i++)
		if (r->cg[i][0]) {
			cg_kill_remove(r->cg[i]);
			r->cg[i][0] = '\0';
		}
}

void apps_cgroup_sweep(bar_apps *a)
{
	for (int i = 0; i < 3; i++) {
		DIR *d;
		struct dirent *e;

		if (!a->cg_base[i][0] || !(d = opendir(a->cg_base[i])))
			continue;
		while ((e = readdir(d))) {
			char dir[800];
			if (strncmp(e->d_name, CG_PREFIX, strlen(CG_PREFIX)) != 0)
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", a->cg_base[i], e->d_name);
			apps_log(a, "apps: stopping what an earlier agent left in %s", dir);
			cg_kill_remove(dir);
		}
		closedir(d);
	}
}

int apps_cgroup_cpu_mem(const replica *r, uint64_t *cpu_ns, uint64_t *mem)
{
	const char *cpu_dir = r->cg[1][0] ? r->cg[1] : r->cg[0];
	uint64_t v;
	int got = 0;

	if (r->cg[0][0] && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
		if (read_u64(r->cg[0], "cpu.stat", "usage_usec", &v) == 0) {
			*cpu_ns = v * 1000;
			got = 1;
		}
		if (read_u64(r->cg[0], "memory.current", NULL, mem) == 0)
			got = 1;
		return got ? 0 : -1;
	}
	if (cpu_dir[0] && read_u64(cpu_dir, "cpuacct.usage", NULL, cpu_ns) == 0)
		got = 1;
	if (r->cg[2][0] && read_u64(r->cg[2], "memory.usage_in_bytes", NULL, mem) == 0)
		got = 1;
	return got ? 0 : -1;
}

/* ---- status ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The status as JSON, written to a temporary file and renamed over the
 * last one, so a reader never sees half of it:
 * {"generation":N,"error":"...","apps":[{"name","hash","replica","state",
 *  "healthy","pid","restarts","exitCode","message","sinceMs"}]} */
void apps_status_write(bar_apps *a)
{
	char tmp[800];
	FILE *f;
	int first = 1;

	snprintf(tmp, sizeof(tmp), "%s.tmp", a->status);
	if (!(f = fopen(tmp, "we")))
		return;
	fprintf(f, "{\"generation\":%ld,\"generations\":{", a->generation);
	for (size_t i = 0; i < a->nsources; i++) {
		fputs(i ? "," : "", f);
		json_str(f, a->sources[i]);
		fprintf(f, ":%ld", a->generations[i]);
	}
	fputs("},\"error\":", f);
	json_str(f, a->manifest_error);
	fputs(",\"apps\":[", f);
	for (size_t i = 0; i < a->n; i++) {
		const app *p = a->apps[i];
		for (int k = 0; k < p->nr; k++) {
			const replica *r = &p->r[k];
			fputs(first ? "\n" : ",\n", f);
			first = 0;
			fputs("{\"name\":", f);
			json_str(f, p->def.name);
			fputs(",\"hash\":", f);
			json_str(f, p->def.hash);
			fprintf(f, ",\"replica\":%d,\"state\":\"%s\",\"healthy\":%s,\"gone\":%s,"
			        "\"pid\":%d,\"restarts\":%d,\"exitCode\":%d,\"exitSignal\":%d,"
			        "\"sinceMs\":%lld,\"message\":",
			        r->index, apps_state_name(r->st), r->healthy ? "true" : "false",
			        p->gone ? "true" : "false", (int)r->pid, r->restarts, r->exit_code,
			        r->exit_signal, (long long)r->since_wall);
			json_str(f, r->msg);
			fputc('}', f);
		}
	}
	fputs("]}\n", f);
	{
		int ok = fflush(f) == 0;
		ok &= fclose(f) == 0;
		if (ok && rename(tmp, a->status) == 0)
			a->dirty = 0;
		else
			unlink(tmp);
	}
}
