/*
 * apps_image.c - image apps: OCI containers run with runc (ctr.h).  A
 * replica's container is "barista-app-<app>-<n>", which is also its cgroup
 * under the agent's (so the metrics, the limits and the start-up sweep treat
 * it as a command app's group); its files are <dir>/apps/<app>-<n>/ctr
 * (upper/, work/, merged/, config.json), its volumes
 * <dir>/volumes/<app>/<volume>-<n>, runc's state <dir>/runc, the image's
 * layers <dir>/images/blobs (copied by apply) unpacked once per manifest
 * digest into <dir>/images/rootfs.  The supervisor runs `runc run` in the
 * foreground as the replica's process: runc passes SIGTERM on, and a
 * SIGKILL is done with `runc kill` (killing runc would leave the
 * container).
 */
#include "apps_int.h"
#include "ctr.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTR_PREFIX "barista-app-"

static void paths(const bar_apps *a, const replica *r, char *runc_root, size_t rn, char *dir,
                  size_t dn)
{
	snprintf(runc_root, rn, "%s/runc", a->dir);
	snprintf(dir, dn, "%s/apps/%s-%d/ctr", a->dir, r->app->def.name, r->index);
}

static void mkdirs(const char *path)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0700);
			*p = '/';
		}
	mkdir(buf, 0700);
}

/* The container's groups: runc makes <cg_rel>/<id> in each hierarchy. */
static void ctr_cgroups(const bar_apps *a, replica *r)
{
	static const char *const v1[3] = {"cpu", "cpuacct", "memory"};

	for (int i = 0; i < 3; i++)
		r->cg[i][0] = '\0';
	if (a->cg_v2) {
		snprintf(r->cg[0], sizeof(r->cg[0]), "/sys/fs/cgroup%s/%s", a->cg_rel, r->ctr_id);
		return;
	}
	for (int i = 0; i < 3; i++)
		if (a->cg_base[i][0])
			snprintf(r->cg[i], sizeof(r->cg[i]), "/sys/fs/cgroup/%s%s/%s", v1[i], a->cg_rel,
			         r->ctr_id);
	if (!strcmp(a->cg_base[0], a->cg_base[1]))
		r->cg[1][0] = '\0';
}

int apps_image_spawn(bar_apps *a, replica *r, int out_w, char *why, size_t wsize)
{
	const bar_app_def *d = &r->app->def;
	char blobs[700], cache[700], rootfs[900], runc_root[700], dir[800], buf[4096];
	char *argv[32], **env = NULL, **vsrc = NULL;
	bar_ctr_layer *layers = calloc(d->nlayers + 1, sizeof(*layers));
	bar_ctr_spec s = {0};
	pid_t pid;
	int rc = -1, prep;

	if (!layers || !(vsrc = calloc(d->nvol + 1, sizeof(*vsrc)))) {
		snprintf(why, wsize, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < d->nlayers; i++) {
		snprintf(layers[i].digest, sizeof(layers[i].digest), "%s", d->layers[i].digest);
		layers[i].gzip = d->layers[i].gzip;
	}
	snprintf(blobs, sizeof(blobs), "%s/images/blobs", a->dir);
	snprintf(cache, sizeof(cache), "%s/images/rootfs", a->dir);
	mkdirs(cache);
	if (bar_ctr_unpack(rootfs, sizeof(rootfs), blobs, cache, d->image, layers, d->nlayers, why,
	                   wsize) < 0)
		goto done;
	snprintf(r->ctr_id, sizeof(r->ctr_id), CTR_PREFIX "%s-%d", d->name, r->index);
	paths(a, r, runc_root, sizeof(runc_root), dir, sizeof(dir));
	mkdirs(runc_root);
	mkdirs(dir);
	/* what an earlier run of this replica left (a killed agent) */
	bar_ctr_cleanup(runc_root, r->ctr_id, dir, 0, buf, sizeof(buf));
	for (size_t i = 0; i < d->nvol; i++) {
		char v[900];
		snprintf(v, sizeof(v), "%s/volumes/%s/%s-%d", a->dir, d->name, d->vol_name[i],
		         r->index);
		mkdirs(v);
		vsrc[i] = strdup(v);
	}
	{
		size_t ne = 0;
		char rep[64], appenv[BAR_APP_NAME_MAX + 16];
		env = calloc(d->nenv + 3, sizeof(*env));
		if (!env) {
			snprintf(why, wsize, "out of memory");
			goto done;
		}
		snprintf(appenv, sizeof(appenv), "BARISTA_APP=%s", d->name);
		snprintf(rep, sizeof(rep), "BARISTA_REPLICA=%d", r->index);
		env[ne++] = strdup(appenv);
		env[ne++] = strdup(rep);
		for (size_t i = 0; i < d->nenv; i++)
			env[ne++] = strdup(d->env[i]);
		s.env = (const char *const *)env;
		s.nenv = ne;
	}
	s.id = r->ctr_id;
	s.runc_root = runc_root;
	s.dir = dir;
	s.image_rootfs = rootfs;
	s.args = (const char *const *)d->args;
	s.nargs = d->nargs;
	s.cwd = d->cwd;
	s.user = d->user ? d->user : "";
	s.hostname = a->vm[0] ? a->vm : NULL;
	s.cpus = d->cpus;
	s.memory_bytes = d->memory;
	s.cgroup_parent = a->cg_rel[0] ? a->cg_rel : "/";
	s.vol_src = (const char *const *)vsrc;
	s.vol_dst = (const char *const *)d->vol_path;
	s.nvol = d->nvol;
	if ((prep = bar_ctr_prepare(&s, why, wsize)) < 0)
		goto done;
	if (prep == BAR_CTR_COPIED)
		apps_log(a, "app %s/%d: overlayfs is not available; the container writes to a "
		         "copy of its image", d->name, r->index);
	if (bar_ctr_run_argv(argv, sizeof(argv) / sizeof(*argv), buf, sizeof(buf), &s) < 0) {
		snprintf(why, wsize, "no runc to run the container with (install runc)");
		goto done;
	}
	ctr_cgroups(a, r);
	pid = fork();
	if (pid < 0) {
		snprintf(why, wsize, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0)
			dup2(null, 0);
		dup2(out_w, 1);
		dup2(out_w, 2);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], argv);
		dprintf(2, "barista-agent: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	r->pid = pid;
	rc = 0;
done:
	if (rc < 0)
		r->ctr_id[0] = '\0';
	free(layers);
	for (size_t i = 0; vsrc && i < d->nvol; i++)
		free(vsrc[i]);
	free(vsrc);
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
	return rc;
}

void apps_image_kill(bar_apps *a, replica *r)
{
	char runc_root[700], dir[800], why[400];

	if (!r->ctr_id[0])
		return;
	paths(a, r, runc_root, sizeof(runc_root), dir, sizeof(dir));
	/* runc kill + delete: the container's processes end, then runc run */
	if (bar_ctr_cleanup(runc_root, r->ctr_id, NULL, 0, why, sizeof(why)) < 0)
		apps_log(a, "app %s/%d: %s", r->app->def.name, r->index, why);
}

void apps_image_exited(bar_apps *a, replica *r)
{
	char runc_root[700], dir[800], why[400];

	if (!r->ctr_id[0])
		return;
	paths(a, r, runc_root, sizeof(runc_root), dir, sizeof(dir));
	if (bar_ctr_cleanup(runc_root, r->ctr_id, dir, 0, why, sizeof(why)) < 0)
		apps_log(a, "app %s/%d: cleaning up its container: %s", r->app->def.name, r->index,
		         why);
	r->ctr_id[0] = '\0';
}

void apps_image_sweep(bar_apps *a)
{
	char runc_root[700], apps_dir[700], why[400];
	int n;

	snprintf(runc_root, sizeof(runc_root), "%s/runc", a->dir);
	snprintf(apps_dir, sizeof(apps_dir), "%s/apps", a->dir);
	if (access(runc_root, F_OK) != 0)
		return;
	n = bar_ctr_cleanup_all(runc_root, CTR_PREFIX, apps_dir, why, sizeof(why));
	if (n < 0)
		apps_log(a, "apps: cleaning up containers an earlier agent left: %s", why);
	else if (n > 0)
		apps_log(a, "apps: removed %d containers an earlier agent left", n);
}

int apps_image_exec_argv(const bar_apps *a, const replica *r, const char *cmd, char **argv,
                         size_t max)
{
	static char root[700], id[160], command[4096];
	const char *runc = access("/usr/sbin/runc", X_OK) == 0 ? "/usr/sbin/runc"
	                   : access("/usr/bin/runc", X_OK) == 0 ? "/usr/bin/runc" : "runc";

	if (max < 9 || !r->ctr_id[0])
		return -1;
	/* static: built in the parent just before the fork that execs them */
	snprintf(root, sizeof(root), "%s/runc", a->dir);
	snprintf(id, sizeof(id), "%s", r->ctr_id);
	snprintf(command, sizeof(command), "%s", cmd);
	argv[0] = (char *)runc;
	argv[1] = "--root";
	argv[2] = root;
	argv[3] = "exec";
	argv[4] = id;
	argv[5] = "/bin/sh";
	argv[6] = "-c";
	argv[7] = command;
	argv[8] = NULL;
	return 0;
}
