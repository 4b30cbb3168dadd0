/*
 * remote_cp.c - copying files to and from one VM (the PUT and GET jobs of
 * remote.h) on top of the SFTP calls of core/ssh.h: single files, and
 * whole trees with `recursive`, in the layout scp uses (an existing remote
 * directory receives the source by its name; a download lands in
 * <local>/<vm name>/<name>).  Depth and path lengths are bounded; special
 * files (devices, sockets, fifos) are refused rather than skipped.
 */
#include "remote_int.h"
#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CP_MAX_DEPTH 64

/* The last component of a path ("a/b/" -> "b"); NULL for "/" or "". */
static char *base_name(const char *path)
{
	size_t n = strlen(path);
	const char *p;

	while (n > 0 && path[n - 1] == '/')
		n--;
	for (p = path + n; p > path && p[-1] != '/'; p--)
		;
	if (p == path + n)
		return NULL;
	return bar_strndup(p, (size_t)(path + n - p));
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	return bar_printf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

static void on_xfer(void *ud, uint64_t done, uint64_t total)
{
	bar_remote_cp_ctx *c = ud;

	bar_remote_sink_progress(c->sink, c->index, c->base + done, c->total ? c->total : 0);
}

static bar_ssh_xfer_opts xfer_opts(bar_remote_cp_ctx *c)
{
	bar_ssh_xfer_opts o = BAR_SSH_XFER_OPTS_INIT;

	o.on_progress = on_xfer;
	o.ud = c;
	o.cancel = c->cancel;
	o.deadline_ms = c->deadline_ms;
	return o;
}

static int too_deep(int depth, const char *path)
{
	if (depth <= CP_MAX_DEPTH && strlen(path) < PATH_MAX)
		return 0;
	return bar_error_set("%s: deeper than %d directories or longer than %d characters",
	                     path, CP_MAX_DEPTH, PATH_MAX);
}

/* Bytes under a local path (files only), for the progress total. */
static uint64_t local_size(const char *path, int depth)
{
	struct stat st;
	uint64_t sum = 0;
	DIR *d;
	struct dirent *e;

	if (stat(path, &st) < 0 || depth > CP_MAX_DEPTH)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		char *sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = join(path, e->d_name);
		sum += local_size(sub, depth + 1);
		free(sub);
	}
	closedir(d);
	return sum;
}

static int put_path(bar_ssh *s, const char *local, const char *remote,
                    bar_remote_cp_ctx *c, int depth);

/* Send each entry of a local directory into the remote one. */
static int put_dir(bar_ssh *s, const char *local, const char *remote, unsigned mode,
                   bar_remote_cp_ctx *c, int depth)
{
	DIR *d;
	struct dirent *e;
	int rc;

	if ((rc = bar_ssh_sftp_mkdir(s, remote, mode)) < 0)
		return rc;
	if (!(d = opendir(local)))
		return bar_error_set("%s: %s", local, strerror(errno));
	while (rc == 0 && (e = readdir(d))) {
		char *lsub, *rsub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		lsub = join(local, e->d_name);
		rsub = join(remote, e->d_name);
		rc = put_path(s, lsub, rsub, c, depth + 1);
		free(lsub);
		free(rsub);
	}
	closedir(d);
	return rc;
}

static int put_path(bar_ssh *s, const char *local, const char *remote,
                    bar_remote_cp_ctx *c, int depth)
{
	bar_ssh_xfer_opts o = xfer_opts(c);
	struct stat st;
	uint64_t n = 0;
	int rc;

	if (too_deep(depth, local))
		return -1;
	if (stat(local, &st) < 0)
		return bar_error_set("%s: %s", local, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return put_dir(s, local, remote, st.st_mode & 0777, c, depth);
	if (!S_ISREG(st.st_mode))
		return bar_error_set("%s: not a regular file or directory", local);
	rc = bar_ssh_put(s, local, remote, &o, &n);
	c->base += n;
	return rc;
}

static int get_path(bar_ssh *s, const char *remote, const char *local,
                    bar_remote_cp_ctx *c, int depth);

/* Receive each entry of a remote directory into a new local one. */
static int get_dir(bar_ssh *s, const char *remote, const char *local, unsigned mode,
                   bar_remote_cp_ctx *c, int depth)
{
	char **names = NULL;
	size_t n = 0;
	int rc;

	if (mkdir(local, mode | 0700) < 0 && errno != EEXIST)
		return bar_error_set("%s: %s", local, strerror(errno));
	if ((rc = bar_ssh_sftp_list(s, remote, &names, &n)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *rsub = join(remote, names[i]), *lsub = join(local, names[i]);

		rc = get_path(s, rsub, lsub, c, depth + 1);
		free(rsub);
		free(lsub);
	}
	bar_ssh_names_free(names, n);
	return rc;
}

static int get_path(bar_ssh *s, const char *remote, const char *local,
                    bar_remote_cp_ctx *c, int depth)
{
	bar_ssh_xfer_opts o = xfer_opts(c);
	bar_ssh_stat st;
	uint64_t n = 0;
	int rc;

	if (too_deep(depth, remote))
		return -1;
	if ((rc = bar_ssh_sftp_stat(s, remote, &st)) < 0)
		return rc;
	if (st.is_dir)
		return get_dir(s, remote, local, st.mode & 0777, c, depth);
	if (!st.is_file)
		return bar_error_set("ssh %s: %s: not a regular file or directory",
		                     bar_ssh_where(s), remote);
	if (depth == 0)
		c->total = st.size;
	rc = bar_ssh_get(s, remote, local, &o, &n);
	c->base += n;
	return rc;
}

/* PUT: where the source lands (inside an existing remote directory, by
 * its name, as scp does). */
static int put_job(bar_ssh *s, const bar_remote_job *job, bar_remote_cp_ctx *c)
{
	char *name = base_name(job->local), *dest = NULL;
	bar_ssh_stat st;
	struct stat lst;
	int rc;

	if (stat(job->local, &lst) < 0)
		rc = bar_error_set("%s: %s", job->local, strerror(errno));
	else if (S_ISDIR(lst.st_mode) && !job->recursive)
		rc = bar_error_set("%s is a directory (copy it with -r)", job->local);
	else if (!name)
		rc = bar_error_set("%s: cannot copy the root directory", job->local);
	else {
		rc = bar_ssh_sftp_stat(s, job->remote, &st);
		dest = rc == 0 && st.is_dir ? join(job->remote, name) : bar_strdup(job->remote);
		c->total = local_size(job->local, 0);
		rc = rc == 0 || rc == BAR_ENOTFOUND ? put_path(s, job->local, dest, c, 0) : rc;
	}
	free(name);
	free(dest);
	return rc;
}

/* GET: into <local>/<vm name>/<name of the remote path>. */
static int get_job(bar_ssh *s, const bar_remote_target *t, const bar_remote_job *job,
                   bar_remote_cp_ctx *c)
{
	char *name = base_name(job->remote), *dir = join(job->local, t->name), *dest = NULL;
	bar_ssh_stat st;
	int rc;

	if (!name)
		rc = bar_error_set("%s: cannot copy the root directory", job->remote);
	else if ((rc = bar_ssh_sftp_stat(s, job->remote, &st)) < 0)
		;
	else if (st.is_dir && !job->recursive)
		rc = bar_error_set("ssh %s: %s is a directory (copy it with -r)", bar_ssh_where(s),
		                   job->remote);
	else if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		rc = bar_error_set("%s: %s", dir, strerror(errno));
	else {
		dest = join(dir, name);
		rc = get_path(s, job->remote, dest, c, 0);
	}
	free(name);
	free(dir);
	free(dest);
	return rc;
}

int bar_remote_cp(bar_ssh *s, const bar_remote_target *t, const bar_remote_job *job,
                  bar_remote_cp_ctx *ctx, uint64_t *bytes)
{
	int rc = job->kind == BAR_REMOTE_PUT ? put_job(s, job, ctx) : get_job(s, t, job, ctx);

	if (rc == 0)
		*bytes = ctx->base;
	return rc;
}
