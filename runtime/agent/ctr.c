/*
 * ctr.c - running containers with runc for barista-agent (ctr.h): the argv
 * the supervisor execs for `runc run`, and the bounded runc calls (state,
 * kill, delete) that stop and clean up containers, also the leftovers of an
 * agent that crashed.  Each call is a fork+exec whose stdout and stderr are
 * read into bounded buffers while waitpid is polled against a deadline, so a
 * stuck runc costs at most RUNC_TIMEOUT_MS and is then killed.  runc's own
 * message (its `msg="..."`) is what a failure reports.  The caller must not
 * reap children it did not start (waitpid(-1)) while these run.
 */
#include "ctr.h"
#include "ctr_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNC_TIMEOUT_MS 30000
#define RUNC_OUT_MAX 16384

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* runc's message from its stderr: the last msg="..." (unescaped), else
 * the last non-empty line. */
static void runc_message(char *out, size_t osz, const char *err)
{
	const char *m = NULL, *p = err;
	size_t o = 0;

	while ((p = strstr(p, "msg=\""))) {
		m = p + 5;
		p = m;
	}
	if (m) {
		for (; *m && *m != '"' && o + 1 < osz; m++) {
			if (*m == '\\' && m[1])
				m++;
			out[o++] = *m;
		}
		out[o] = '\0';
		return;
	}
	{
		size_t len = strlen(err);
		while (len && (err[len - 1] == '\n' || err[len - 1] == ' '))
			len--;
		size_t start = len;
		while (start && err[start - 1] != '\n')
			start--;
		snprintf(out, osz, "%.*s", (int)(len - start), err + start);
	}
}

/* Run runc with args (NULL-terminated, after "runc"); its stdout into
 * out[osz] when out, its message into msg[msz].  Returns its exit status,
 * or -1 when it could not run, was killed or timed out (msg says which). */
static int runc_call(const char *const *args, char *out, size_t osz, char *msg, size_t msz)
{
	const char *runc = bar_ctr_runc_path();
	const char *argv[16];
	char err[RUNC_OUT_MAX], junk[4096];
	size_t elen = 0, olen = 0, n = 0;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, status = 0, rc = -1;
	long long deadline = now_ms() + RUNC_TIMEOUT_MS;
	pid_t pid = -1;

	err[0] = '\0';
	if (out && osz)
		out[0] = '\0';
	if (!runc)
		return bar_ctr_fail(msg, msz, "runc is not installed (not on PATH, /usr/sbin, /usr/bin)");
	argv[n++] = runc;
	while (*args && n + 1 < sizeof(argv) / sizeof(argv[0]))
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		bar_ctr_fail(msg, msz, "pipe: %s", strerror(errno));
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		bar_ctr_fail(msg, msz, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(runc, (char *const *)argv);
		_exit(127);
	}
	close(po[1]), close(pe[1]);
	po[1] = pe[1] = -1;
	/* read both pipes until they close, then reap; all against the deadline */
	while (po[0] >= 0 || pe[0] >= 0) {
		struct pollfd pf[2] = { { .fd = po[0], .events = POLLIN },
		                        { .fd = pe[0], .events = POLLIN } };
		long long left = deadline - now_ms();
		if (left <= 0)
			break;
		if (poll(pf, 2, (int)(left > 100 ? 100 : left)) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			int *fd = i ? &pe[0] : &po[0];
			char *buf = i ? err : (out ? out : junk);
			size_t *len = i ? &elen : &olen;
			size_t cap = i ? sizeof(err) : (out ? osz : sizeof(junk));
			ssize_t got;

			if (*fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (*len + 1 >= cap)
				got = read(*fd, junk, sizeof(junk)); /* over the bound: dropped */
			else
				got = read(*fd, buf + *len, cap - 1 - *len);
			if (got > 0 && *len + 1 < cap && buf != junk) {
				*len += (size_t)got;
				buf[*len] = '\0';
			} else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			bar_ctr_fail(msg, msz, "waitpid: %s", strerror(errno));
			pid = -1;
			goto done;
		}
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			pid = -1;
			bar_ctr_fail(msg, msz, "runc %s: timed out after %d s", argv[3] ? argv[3] : "",
			             RUNC_TIMEOUT_MS / 1000);
			goto done;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	pid = -1;
	if (WIFEXITED(status)) {
		rc = WEXITSTATUS(status);
		if (rc == 127 && !err[0])
			bar_ctr_fail(msg, msz, "cannot exec %s", runc);
		else if (msg && msz)
			runc_message(msg, msz, err);
	} else {
		bar_ctr_fail(msg, msz, "runc killed by signal %d", WTERMSIG(status));
	}
done:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return rc;
}

int bar_ctr_run_argv(char **argv, size_t max, char *buf, size_t bufsz, const bar_ctr_spec *s)
{
	const char *runc = bar_ctr_runc_path();
	const char *parts[] = { runc, "--root", s->runc_root, "run", "--bundle", s->dir,
	                        "--no-new-keyring", s->id };
	const size_t np = sizeof(parts) / sizeof(parts[0]);
	size_t off = 0;

	if (!runc || !s->runc_root || !s->dir || !s->id || max < np + 1)
		return -1;
	for (size_t i = 0; i < np; i++) {
		size_t len = strlen(parts[i]) + 1;
		if (off + len > bufsz)
			return -1;
		memcpy(buf + off, parts[i], len);
		argv[i] = buf + off;
		off += len;
	}
	argv[np] = NULL;
	return (int)np;
}

/* Unmount dir/merged while it is a mount point (lazily when busy). */
static int unmount_merged(const char *merged, char *why, size_t wsize)
{
	for (int tries = 0; tries < 8; tries++) {
		if (umount2(merged, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			return 0; /* not (or no longer) a mount point */
		if (errno == EBUSY && umount2(merged, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
			continue;
		return bar_ctr_fail(why, wsize, "unmounting %s: %s", merged, strerror(errno));
	}
	return 0;
}

/* The "status" of `runc state` output, or "" when there is none. */
static void state_status(char *out, size_t osz, const char *json)
{
	const char *p = strstr(json, "\"status\"");
	out[0] = '\0';
	if (!p || !(p = strchr(p + 8, '"')))
		return;
	p++;
	snprintf(out, osz, "%.*s", (int)strcspn(p, "\""), p);
}

int bar_ctr_cleanup(const char *runc_root, const char *id, const char *dir, int remove_data,
                    char *why, size_t wsize)
{
	char path[4200], msg[1024], out[RUNC_OUT_MAX], status[32];
	struct stat st;

	if (!runc_root || !id || !*id || strchr(id, '/'))
		return bar_ctr_fail(why, wsize, "cleanup needs runc root and a container id");
	snprintf(path, sizeof(path), "%s/%s", runc_root, id);
	if (stat(path, &st) == 0) {
		const char *st_args[] = { "--root", runc_root, "state", id, NULL };
		const char *kill_args[] = { "--root", runc_root, "kill", id, "KILL", NULL };
		const char *del_args[] = { "--root", runc_root, "delete", "-f", id, NULL };
		int rc;

		status[0] = '\0';
		if (runc_call(st_args, out, sizeof(out), msg, sizeof(msg)) == 0)
			state_status(status, sizeof(status), out);
		if (!strcmp(status, "running") || !strcmp(status, "created") ||
		    !strcmp(status, "paused"))
			(void)runc_call(kill_args, NULL, 0, msg, sizeof(msg)); /* delete -f follows */
		rc = runc_call(del_args, NULL, 0, msg, sizeof(msg));
		if (rc != 0 && !(rc > 0 && strstr(msg, "does not exist")))
			return bar_ctr_fail(why, wsize, "runc delete %s: %s", id, msg);
	}
	if (!dir)
		return 0;
	snprintf(path, sizeof(path), "%s/merged", dir);
	if (unmount_merged(path, why, wsize) != 0)
		return -1;
	if (remove_data && bar_ctr_rmtree(dir) != 0)
		return bar_ctr_fail(why, wsize, "removing %s: %s", dir, strerror(errno));
	return 0;
}

/* Undo the octal escapes (\040) of a /proc/self/mountinfo field in place. */
static void unescape_mountinfo(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Unmount every <apps_dir>/.../<prefix...>/merged; returns 0 or -1. */
static int unmount_leftovers(const char *apps_dir, const char *prefix, char *why, size_t wsize)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], *hits[256];
	size_t nhits = 0, alen = strlen(apps_dir), plen = strlen(prefix);
	int rc = 0;

	while (alen > 1 && apps_dir[alen - 1] == '/')
		alen--;
	if (!f)
		return bar_ctr_fail(why, wsize, "/proc/self/mountinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) && nhits < sizeof(hits) / sizeof(hits[0])) {
		char *fld = line, *mp = NULL, *slash;
		/* fields: id parent major:minor root mountpoint ... */
		for (int i = 0; i < 4 && fld; i++)
			fld = strchr(fld, ' ') ? strchr(fld, ' ') + 1 : NULL;
		if (!fld)
			continue;
		fld[strcspn(fld, " ")] = '\0';
		unescape_mountinfo(fld);
		mp = fld;
		if (strncmp(mp, apps_dir, alen) != 0 || mp[alen] != '/')
			continue;
		slash = strrchr(mp, '/');
		if (!slash || strcmp(slash, "/merged") != 0)
			continue;
		*slash = '\0';
		{
			const char *parent = strrchr(mp, '/');
			int ours = parent && !strncmp(parent + 1, prefix, plen);
			*slash = '/';
			if (ours && !(hits[nhits] = strdup(mp)))
				rc = -1;
			else if (ours)
				nhits++;
		}
	}
	fclose(f);
	/* the last mounted first, so stacked mounts come off in order */
	while (nhits--) {
		if (unmount_merged(hits[nhits], why, wsize) != 0)
			rc = -1;
		free(hits[nhits]);
	}
	return rc;
}

int bar_ctr_cleanup_all(const char *runc_root, const char *prefix, const char *apps_dir,
                        char *why, size_t wsize)
{
	DIR *d = runc_root ? opendir(runc_root) : NULL;
	struct dirent *de;
	size_t plen = prefix ? strlen(prefix) : 0;
	int count = 0, failed = 0;

	if (!prefix)
		return bar_ctr_fail(why, wsize, "cleanup_all needs a prefix");
	if (!d && errno != ENOENT)
		return bar_ctr_fail(why, wsize, "%s: %s", runc_root ? runc_root : "", strerror(errno));
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, plen) != 0)
			continue;
		if (bar_ctr_cleanup(runc_root, de->d_name, NULL, 0, why, wsize) == 0)
			count++;
		else
			failed = 1;
	}
	if (d)
		closedir(d);
	if (apps_dir && unmount_leftovers(apps_dir, prefix, why, wsize) != 0)
		failed = 1;
	return failed ? -1 : count;
}
