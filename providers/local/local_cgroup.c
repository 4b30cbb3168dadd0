/*
 * local_cgroup.c - a local VM's cgroups: spec limits, suspend/resume by
 * freezing, and killing whatever is left of a VM.
 *
 * cgroup v2 (when /sys/fs/cgroup/cgroup.controllers exists): one group
 * /sys/fs/cgroup/barista/<vm id> with memory.max, cpu.max, pids.max and
 * cgroup.freeze.  cgroup v1: /sys/fs/cgroup/<ctrl>/barista/<vm id> for the
 * memory, cpu, cpuacct (what the VM's agent reads its CPU time from), pids
 * and freezer hierarchies that are mounted.  When neither
 * can be written the VM runs without limits ("none") and cannot be
 * suspended.  Disk size is never enforced.
 */
#include "local.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"
#define CG_WAIT_MS 3000

static const char *const V1_CTRLS[] = { "memory", "cpu", "cpuacct", "pids", "freezer" };
#define V1_N (sizeof(V1_CTRLS) / sizeof(V1_CTRLS[0]))

const char *bar_local_cgroup_mode(void)
{
	if (access(CG_ROOT "/cgroup.controllers", F_OK) == 0)
		return access(CG_ROOT "/cgroup.procs", W_OK) == 0 ? "v2" : "none";
	if (access(CG_ROOT "/freezer/cgroup.procs", W_OK) == 0)
		return "v1";
	return "none";
}

int bar_local_cgroup_dirs(char dirs[][PATH_MAX], const char *mode, const char *id)
{
	int n = 0;

	if (strcmp(mode, "v2") == 0) {
		snprintf(dirs[n++], PATH_MAX, CG_ROOT "/barista/%s", id);
	} else if (strcmp(mode, "v1") == 0) {
		for (size_t i = 0; i < V1_N; i++) {
			char probe[PATH_MAX];

			snprintf(probe, sizeof(probe), CG_ROOT "/%s/cgroup.procs", V1_CTRLS[i]);
			if (access(probe, F_OK) == 0)
				snprintf(dirs[n++], PATH_MAX, CG_ROOT "/%s/barista/%s", V1_CTRLS[i], id);
		}
	}
	return n;
}

static int cg_write(bar_local_ctx *c, const char *dir, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int cg_write(bar_local_ctx *c, const char *dir, const char *file, const char *fmt, ...)
{
	char path[PATH_MAX], val[64];
	va_list ap;
	FILE *f;
	int ok;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "we")))
		return c ? bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "open %s: %s", path,
		                          strerror(errno))
		         : -1;
	ok = fputs(val, f) >= 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok && c)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "write %s to %s: %s", val,
		                      path, strerror(errno));
	return ok ? 0 : -1;
}

static int cg_has(const char *dir, const char *file)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* Apply the spec to one group directory (v1: by its controller). */
static int cg_limits(bar_local_ctx *c, const char *dir, const char *mode, int vcpu, int64_t mem)
{
	int64_t bytes = mem * 1024 * 1024;

	if (strcmp(mode, "v2") == 0) {
		/* A controller the host does not delegate has no file here: that
		 * limit is then simply not enforced (see docs/local-provider.md). */
		return (cg_has(dir, "memory.max") &&
		        cg_write(c, dir, "memory.max", "%lld", (long long)bytes)) ||
		       (cg_has(dir, "cpu.max") &&
		        cg_write(c, dir, "cpu.max", "%d 100000", vcpu * 100000)) ||
		       (cg_has(dir, "pids.max") && cg_write(c, dir, "pids.max", "4096"));
	}
	if (strstr(dir, "/memory/"))
		return cg_write(c, dir, "memory.limit_in_bytes", "%lld", (long long)bytes);
	if (strstr(dir, "/cpu/"))
		return cg_write(c, dir, "cpu.cfs_period_us", "100000") ||
		       cg_write(c, dir, "cpu.cfs_quota_us", "%d", vcpu * 100000);
	if (strstr(dir, "/pids/"))
		return cg_write(c, dir, "pids.max", "4096");
	return 0;
}

int bar_local_cgroup_create(bar_local_ctx *c, const char **out_mode, const char *id, int vcpu,
                            int64_t mem)
{
	char dirs[V1_N][PATH_MAX], parent[PATH_MAX];
	const char *mode = bar_local_cgroup_mode();
	int n, rc = 0;

	n = bar_local_cgroup_dirs(dirs, mode, id);
	if (strcmp(mode, "v2") == 0) {
		/* Delegate the controllers down to barista/<id>; missing ones are skipped. */
		mkdir(CG_ROOT "/barista", 0755);
		for (int k = 0; k < 2; k++) {
			const char *d = k ? CG_ROOT "/barista" : CG_ROOT;
			cg_write(NULL, d, "cgroup.subtree_control", "+memory");
			cg_write(NULL, d, "cgroup.subtree_control", "+cpu");
			cg_write(NULL, d, "cgroup.subtree_control", "+pids");
		}
	}
	for (int i = 0; i < n; i++) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(dirs[i], '/') - dirs[i]),
		         dirs[i]);
		if ((mkdir(parent, 0755) < 0 && errno != EEXIST) ||
		    (mkdir(dirs[i], 0755) < 0 && errno != EEXIST)) {
			if (errno == EACCES || errno == EPERM || errno == EROFS) {
				/* Not ours to write: run without limits. */
				bar_local_cgroup_remove(c, id);
				*out_mode = "none";
				return 0;
			}
			rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "mkdir %s: %s", dirs[i],
			                    strerror(errno));
			goto done;
		}
		if ((rc = cg_limits(c, dirs[i], mode, vcpu, mem)))
			goto done;
	}
	*out_mode = mode;
done:
	if (rc)
		bar_local_cgroup_remove(c, id);
	return rc;
}

/* The group whose state tells frozen or not: v1 freezer, v2 the group. */
static int freezer_dir(char *out, const char *mode, const char *id)
{
	if (strcmp(mode, "v2") == 0)
		snprintf(out, PATH_MAX, CG_ROOT "/barista/%s", id);
	else if (strcmp(mode, "v1") == 0)
		snprintf(out, PATH_MAX, CG_ROOT "/freezer/barista/%s", id);
	else
		return -1;
	return access(out, F_OK) == 0 ? 0 : -1;
}

int bar_local_cgroup_frozen(const char *mode, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], buf[256] = "";
	FILE *f;

	if (freezer_dir(dir, mode, id) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir,
	         strcmp(mode, "v2") == 0 ? "cgroup.events" : "freezer.state");
	if (!(f = fopen(path, "re")))
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (strcmp(mode, "v2") == 0)
		return strstr(buf, "frozen 1") ? 1 : 0;
	if (strncmp(buf, "FROZEN", 6) == 0)
		return 1;
	return strncmp(buf, "FREEZING", 8) == 0 ? 2 : 0;
}

int bar_local_cgroup_freeze(bar_local_ctx *c, const char *mode, const char *id, int freeze)
{
	char dir[PATH_MAX];
	int64_t until = bar_local_now_ms() + CG_WAIT_MS;
	int rc;

	if (freezer_dir(dir, mode, id) < 0)
		return bar_local_fail(c, BAR_ENOTSUP, BAR_LOCAL_E_NOTSUP,
		                      "vm %s has no freezer cgroup (cgroups: %s), so it cannot be "
		                      "suspended or resumed",
		                      id, mode);
	if (strcmp(mode, "v2") == 0)
		rc = cg_write(c, dir, "cgroup.freeze", "%d", freeze ? 1 : 0);
	else
		rc = cg_write(c, dir, "freezer.state", "%s", freeze ? "FROZEN" : "THAWED");
	if (rc)
		return rc;
	for (int ms = 1;; ms = ms < 20 ? ms * 2 : 20) {
		if ((bar_local_cgroup_frozen(mode, id) == 1) == (freeze != 0))
			return 0;
		if (bar_local_now_ms() > until)
			return bar_local_fail(c, BAR_ETIMEOUT, BAR_LOCAL_E_TIMEOUT,
			                      "vm %s did not %s within %d ms", id,
			                      freeze ? "freeze" : "thaw", CG_WAIT_MS);
		if (strcmp(mode, "v1") == 0 && freeze)
			cg_write(NULL, dir, "freezer.state", "FROZEN"); /* v1 may need a nudge */
		bar_local_sleep_ms(ms);
	}
}

/* SIGKILL every process in one group; returns how many were signalled. */
static int kill_procs(const char *dir)
{
	char path[PATH_MAX + 16];
	int pid, n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 1 && kill(pid, SIGKILL) == 0)
			n++;
	fclose(f);
	return n;
}

/* kill_procs on a group and every group under it (a VM's barista-agent
 * makes groups for its apps, runc for its containers); how many were
 * signalled. */
static int kill_tree(const char *dir)
{
	int n = kill_procs(dir);
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char sub[PATH_MAX];

		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) < sizeof(sub))
			n += kill_tree(sub);
	}
	if (d)
		closedir(d);
	return n;
}

/* rmdir a group after the groups under it, deepest first: -1 with errno
 * from the first that cannot go (ENOENT for the group itself is 0). */
static int rmdir_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	while (d && (e = readdir(d))) {
		char sub[PATH_MAX];

		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) < sizeof(sub) &&
		    rmdir_tree(sub) < 0 && rc == 0)
			rc = -1;
	}
	if (d)
		closedir(d);
	if (rc < 0)
		return -1;
	return rmdir(dir) < 0 && errno != ENOENT ? -1 : 0;
}

/* Candidate directories of a VM in every mode (for half-known VMs). */
static int all_dirs(char dirs[][PATH_MAX], const char *id)
{
	int n = bar_local_cgroup_dirs(dirs, "v1", id);

	snprintf(dirs[n++], PATH_MAX, CG_ROOT "/barista/%s", id);
	return n;
}

void bar_local_cgroup_killall(const char *id)
{
	char dirs[V1_N + 1][PATH_MAX];
	int n = all_dirs(dirs, id);
	int64_t until = bar_local_now_ms() + CG_WAIT_MS;

	/* Frozen tasks cannot die: thaw first. */
	for (int i = 0; i < n; i++) {
		if (access(dirs[i], F_OK) < 0)
			continue;
		if (strstr(dirs[i], "/freezer/"))
			cg_write(NULL, dirs[i], "freezer.state", "THAWED");
		else if (!strstr(dirs[i], "/memory/") && !strstr(dirs[i], "/cpu/") &&
		         !strstr(dirs[i], "/pids/"))
			cg_write(NULL, dirs[i], "cgroup.freeze", "0");
	}
	for (int ms = 1; bar_local_now_ms() < until; ms = ms < 20 ? ms * 2 : 20) {
		int left = 0;

		for (int i = 0; i < n; i++)
			left += kill_tree(dirs[i]);
		if (left == 0)
			return;
		bar_local_sleep_ms(ms);
	}
}

int bar_local_cgroup_remove(bar_local_ctx *c, const char *id)
{
	char dirs[V1_N + 1][PATH_MAX];
	int n = all_dirs(dirs, id), rc = 0;
	int64_t until = bar_local_now_ms() + CG_WAIT_MS;

	for (int i = 0; i < n; i++) {
		for (int ms = 1; rmdir_tree(dirs[i]) < 0; ms = ms < 20 ? ms * 2 : 20) {
			if (errno != EBUSY || bar_local_now_ms() > until) {
				rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
				                    "cannot remove cgroup %s: %s", dirs[i], strerror(errno));
				break;
			}
			kill_tree(dirs[i]);
			bar_local_sleep_ms(ms);
		}
	}
	return rc;
}
