/*
 * cp.c - `barista cp [options] SRC DST`: copy files to or from the VMs of
 * an MCI over SFTP, the MCI side written MCI:PATH.  An upload goes to
 * every targeted VM; a download puts each VM's copy in DST/<vm name>/.
 * On a terminal, a progress line shows bytes copied and the rate.
 */
#include "remote_common.h"
#include "error.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRESS_EVERY_S 0.2

static const char usage[] =
    "Usage: barista cp [options] SRC DST\n"
    "\n"
    "Copy files to or from every targeted VM of an MCI (SFTP, host keys pinned in\n"
    "state).  One side is MCI:PATH:\n"
    "  barista cp ./app.conf web:/etc/app/      upload to each VM\n"
    "  barista cp web:/var/log/syslog ./logs    download into ./logs/<vm>/syslog\n"
    "Sizes are checked after each copy.  Exits 1 when any VM failed.\n"
    "\n"
    "Options:\n"
    "  -r               copy directories recursively\n"
    "  -group G, -vm V (repeatable), -label k=v (repeatable): which VMs\n"
    "  -timeout D       per VM, e.g. 30s, 2m (default: none)\n"
    "  -j N             at most N VMs at once (default 100)\n"
    "  -json            one JSON object per VM: vm, address, bytes, duration_s (and error)\n"
    "  -state FILE      state file (default ./barista.db or $BARISTA_STATE)\n";

typedef struct cp_view {
	cmd_remote r;
	uint64_t *done, *total;
	int progress;       /* draw a progress line (stderr is a terminal) */
	double start, last; /* when copying started, last drawn */
	const char *what;   /* "uploaded" / "downloaded" */
} cp_view;

static void human(char *out, size_t size, double bytes)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void draw_progress(cp_view *v, int final)
{
	uint64_t done = 0, total = 0;
	double now = bar_now_s(), secs = now - v->start;
	char d[32], t[32], rate[32];

	if (!v->progress || (!final && now - v->last < PROGRESS_EVERY_S))
		return;
	v->last = now;
	for (size_t i = 0; i < v->r.targets.n; i++) {
		done += v->done[i];
		total += v->total[i];
	}
	human(d, sizeof(d), (double)done);
	human(t, sizeof(t), (double)total);
	human(rate, sizeof(rate), secs > 0 ? (double)done / secs : 0);
	if (final)
		fputs("\r\033[K", stderr);
	else if (total)
		fprintf(stderr, "\r\033[Kcopying: %s of %s, %s/s", d, t, rate);
	else
		fprintf(stderr, "\r\033[Kcopying: %s, %s/s", d, rate);
}

static void on_progress(void *ud, size_t i, uint64_t done, uint64_t total)
{
	cp_view *v = ud;

	v->done[i] = done;
	v->total[i] = total;
	draw_progress(v, 0);
}

static void on_done(void *ud, size_t i, const bar_remote_result *res)
{
	cp_view *v = ud;
	const bar_remote_target *t = &v->r.targets.items[i];
	char size[32];

	if (v->progress)
		fputs("\r\033[K", stderr);
	if (v->r.json) {
		json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:I, s:f}", "vm", t->name, "address",
		                      t->host, "resource", t->address, "outcome",
		                      bar_remote_outcome_name(res->outcome), "bytes",
		                      (json_int_t)res->bytes, "duration_s", res->duration_s);

		if (res->error)
			json_object_set_new(o, "error", json_string(res->error));
		cmd_remote_print_json(o);
	} else if (res->outcome == BAR_REMOTE_OK) {
		human(size, sizeof(size), (double)res->bytes);
		printf("%s: %s %s in %.2f s\n", t->name, v->what, size, res->duration_s);
	} else {
		cmd_remote_print_failure(&v->r, i, res);
	}
	fflush(stdout);
}

/* "MCI:PATH"?  A path starting with / or . is local even with a colon. */
static int split_remote(const char *arg, char **mci, const char **path)
{
	const char *colon = strchr(arg, ':');

	if (arg[0] == '/' || arg[0] == '.' || !colon || colon == arg)
		return 0;
	*mci = bar_strndup(arg, (size_t)(colon - arg));
	*path = colon + 1;
	return 1;
}

/* An absolute local path (the broker does the copy, from /). */
static char *local_abs(const char *path, int make_dir)
{
	char real[PATH_MAX];

	if (make_dir && mkdir(path, 0777) < 0 && errno != EEXIST) {
		bar_error_set("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!realpath(path, real)) {
		bar_error_set("%s: %s", path, strerror(errno));
		return NULL;
	}
	return bar_strdup(real);
}

/* Work out the job from SRC and DST; prints what is wrong. */
static int cp_job(cp_view *v, char **mci, char **local)
{
	const char *src = v->r.o.positional, *dst = v->r.o.more[0], *spath, *dpath;
	char *smci = NULL, *dmci = NULL;
	int src_remote = split_remote(src, &smci, &spath);
	int up = split_remote(dst, &dmci, &dpath);
	struct stat st;

	if (src_remote == up) {
		free(smci);
		free(dmci);
		fprintf(stderr, "barista cp: exactly one of SRC and DST is MCI:PATH\n%s", usage);
		return -1;
	}
	*mci = up ? dmci : smci;
	v->r.job.kind = up ? BAR_REMOTE_PUT : BAR_REMOTE_GET;
	v->r.job.recursive = v->r.o.recursive;
	v->r.job.remote = up ? dpath : spath;
	v->what = up ? "uploaded" : "downloaded";
	*local = local_abs(up ? src : dst, !up);
	if (*local && up && stat(*local, &st) == 0 && S_ISDIR(st.st_mode) && !v->r.o.recursive)
		bar_error_set("%s is a directory (copy it with -r)", src);
	else if (*local)
		return v->r.job.local = *local, 0;
	fprintf(stderr, "Error: %s\n", bar_error_last());
	return -1;
}

int cmd_cp(int argc, char **argv)
{
	cp_view v = { .r = { .job = BAR_REMOTE_JOB_INIT } };
	bar_remote_opts ro = BAR_REMOTE_OPTS_INIT;
	bar_remote_results res = { NULL, 0 };
	char *mci = NULL, *local = NULL;
	int rc = 1;

	if (cmd_parse(&v.r.o, argc, argv, "ARGS state group vm label timeout j json no-color r",
	              usage) < 0)
		return 1;
	if (!v.r.o.positional || v.r.o.n_more != 1) {
		fprintf(stderr, "barista cp: expected SRC and DST\n%s", usage);
		return 1;
	}
	if (cp_job(&v, &mci, &local) < 0 || cmd_remote_load(&v.r, mci) < 0)
		goto done;
	v.done = bar_calloc(v.r.targets.n, sizeof(*v.done));
	v.total = bar_calloc(v.r.targets.n, sizeof(*v.total));
	v.progress = !v.r.json && isatty(STDERR_FILENO);
	v.start = bar_now_s();
	ro.ud = &v;
	ro.on_progress = on_progress;
	ro.on_done = on_done;
	if (cmd_remote_run(&v.r, &ro, &res) == 0) {
		draw_progress(&v, 1);
		rc = cmd_remote_finish(&v.r, &res);
	}
done:
	bar_remote_results_clear(&res);
	cmd_remote_free(&v.r);
	free(v.done);
	free(v.total);
	free(mci);
	free(local);
	return rc;
}
