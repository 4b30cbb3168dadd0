/*
 * local_vmproc.c - the processes of a local VM: its files (sshd_config,
 * authorized_keys, minimal /etc, home), its host key, booting it through
 * barista-local-init and waiting for sshd, and stopping it.
 *
 * A VM's PID 1 is not our child (barista-local-init double-forks so the VM
 * outlives the barista process), so liveness is "a non-zombie process with
 * the recorded pid AND start time", which survives pid reuse.  Readiness is
 * reported by barista-local-init once sshd has signalled READY=1 (sd_notify,
 * sent right after it listens): probing with TCP connects from the host
 * would depend on the VM's security groups admitting the host, costs sshd a
 * fork+re-exec per probe, and reading /proc/<pid>/net/tcp walks the
 * host-wide TCP hash table on every poll.
 */
#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOOT_WAIT_MS 12000
#define STOP_GRACE_MS 2500
#define PROGRESS_MAX 2048

static const char SSHD_CONFIG[] =
    "# sshd of a Barista local VM, written by the local provider.\n"
    "Port 22\n"
    "ListenAddress 0.0.0.0\n"
    "HostKey /run/barista/ssh_host_ed25519_key\n"
    "AuthorizedKeysFile /run/barista/authorized_keys\n"
    "PermitRootLogin prohibit-password\n"
    "PasswordAuthentication no\n"
    "KbdInteractiveAuthentication no\n"
    "UsePAM no\n"
    "PrintMotd no\n"
    "PrintLastLog no\n"
    "StrictModes no\n"
    "UseDNS no\n"
    "Subsystem sftp internal-sftp\n";

static const char PROFILE[] =
    "# /etc/profile of a Barista local VM (the host's is hidden on purpose).\n"
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    "export PATH\n"
    "umask 022\n"
    "if [ -n \"$BASH_VERSION\" ] && [ -n \"$PS1\" ]; then PS1='\\u@\\h:\\w\\$ '; fi\n";

static const char BASHRC[] = "# /etc/bash.bashrc of a Barista local VM.\n"
                             "[ -z \"$PS1\" ] && return\n"
                             "PS1='\\u@\\h:\\w\\$ '\n";

static int put(bar_local_ctx *c, const char *dir, const char *rel, const char *text,
               unsigned mode)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = bar_local_path(c, path, "%s/%s", dir, rel)))
		return rc;
	return bar_local_file_write(c, path, text, strlen(text), mode);
}

/* The VM's own minimal /etc/profile, /etc/bash.bashrc and empty
 * /etc/profile.d, kept in its directory so deleting the VM removes them. */
static int vm_etc(bar_local_ctx *c, const char *vmdir)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int rc;

	if ((rc = bar_local_path(c, dir, "%s/etc", vmdir)) ||
	    (rc = bar_local_path(c, path, "%s/profile.d", dir)) ||
	    (rc = bar_local_mkdirs(c, path, 0755)) || (rc = put(c, dir, "profile", PROFILE, 0644)))
		return rc;
	return put(c, dir, "bash.bashrc", BASHRC, 0644);
}

int bar_local_vm_files(bar_local_ctx *c, const char *dir, const char *hostname,
                       const char *pubkey, const char *ip)
{
	char path[PATH_MAX], text[8400];
	int rc;

	if ((rc = vm_etc(c, dir)) || (rc = bar_local_path(c, path, "%s/home", dir)) ||
	    (rc = bar_local_mkdirs(c, path, 0700)))
		return rc;
	snprintf(text, sizeof(text), "%s\n", pubkey);
	if ((rc = put(c, dir, "authorized_keys", text, 0600)))
		return rc;
	/* Paths as the VM sees them: barista-local-init mounts dir on /run/barista. */
	if ((rc = put(c, dir, "sshd_config", SSHD_CONFIG, 0600)))
		return rc;
	snprintf(text, sizeof(text), "%s\n", hostname);
	if ((rc = put(c, dir, "hostname", text, 0644)))
		return rc;
	snprintf(text, sizeof(text),
	         "127.0.0.1\tlocalhost\n%s\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", ip,
	         hostname);
	return put(c, dir, "hosts", text, 0644);
}

int bar_local_vm_alive(json_t *local)
{
	json_int_t pid = json_integer_value(json_object_get(local, "pid"));
	json_int_t start = json_integer_value(json_object_get(local, "starttime"));

	return pid > 0 && start > 0 && bar_local_proc_starttime((int)pid) == (uint64_t)start;
}

/* Start barista-local-init; returns the child to reap, progress on *rfd. */
static int boot_spawn(bar_local_ctx *c, pid_t *out_pid, int *rfd, const char *id,
                      json_t *local)
{
	char dir[PATH_MAX], etc[PATH_MAX], ns[PATH_MAX], cg[BAR_LOCAL_CG_MAX][PATH_MAX];
	const char *mode = json_string_value(json_object_get(local, "cgroup"));
	const char *argv[10 + BAR_LOCAL_CG_MAX];
	static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int pfd[2], n = 0, ncg, rc;

	if ((rc = bar_local_res_dir(c, dir, "vm", id)) ||
	    (rc = bar_local_path(c, etc, "%s/etc", dir)) ||
	    (rc = bar_local_path(c, ns, "/run/netns/%s", id)))
		return rc;
	ncg = bar_local_cgroup_dirs(cg, mode ? mode : "none", id);
	argv[n++] = c->prov->init_path;
	argv[n++] = "vm";
	argv[n++] = dir;
	argv[n++] = etc;
	argv[n++] = ns;
	argv[n++] = json_string_value(json_object_get(local, "hostname"));
	argv[n++] = "3";
	for (int i = 0; i < ncg; i++)
		argv[n++] = cg[i];
	argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "pipe: %s", strerror(errno));
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	int err = posix_spawn(out_pid, argv[0], &fa, &at, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(pfd[1]);
	if (err) {
		close(pfd[0]);
		return bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM, "cannot start %s: %s",
		                      argv[0], strerror(err));
	}
	*rfd = pfd[0];
	return 0;
}

/* Read init's progress until EOF; the pid of PID 1 goes into *pid, also
 * when the wait ends early (timeout, cancel), so the VM can be stopped. */
static int boot_progress(bar_local_ctx *c, int *pid, int fd, pid_t *child, const char *id,
                         int64_t deadline)
{
	char buf[PROGRESS_MAX + 1];
	size_t len = 0;
	int ok = 0, rc = 0, st;

	*pid = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = deadline - bar_local_now_ms();

		if (left <= 0) {
			rc = bar_local_fail(c, BAR_ETIMEOUT, BAR_LOCAL_E_TIMEOUT,
			                    "vm %s: barista-local-init did not report in time", id);
			break;
		}
		int n = poll(&p, 1, left > 100 ? 100 : (int)left);
		if (n == 0 && c->prov->host->cancelled && c->prov->host->cancelled(c->call)) {
			rc = bar_local_fail(c, BAR_ECANCELED, BAR_LOCAL_E_CANCELED,
			                    "vm %s: boot cancelled", id);
			break;
		}
		if (n == 0 || (n < 0 && errno == EINTR))
			continue; /* the deadline is checked above */
		ssize_t r = n > 0 ? read(fd, buf + len, PROGRESS_MAX - len) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || len + (size_t)r >= PROGRESS_MAX)
			break;
		len += (size_t)r;
	}
	if (rc) {
		/* Cut short: once the first process is reaped, the pid of PID 1
		 * (if it got that far) is in the pipe; pick it up. */
		while (waitpid(*child, &st, 0) < 0 && errno == EINTR)
			;
		*child = -1;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		for (ssize_t r; len < PROGRESS_MAX && (r = read(fd, buf + len, PROGRESS_MAX - len)) > 0;)
			len += (size_t)r;
	}
	buf[len] = '\0';
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "pid ", 4) == 0)
			*pid = atoi(l + 4);
		else if (strcmp(l, "ok") == 0)
			ok = 1;
		else if (strncmp(l, "error ", 6) == 0)
			rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
			                    "vm %s failed to boot: %s (see %s/vm/%s/console.log)", id,
			                    l + 6, c->root, id);
	}
	if (rc == 0 && (!ok || *pid <= 0))
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "vm %s: barista-local-init exited before sshd started (see "
		                    "%s/vm/%s/console.log)",
		                    id, c->root, id);
	return rc;
}

int bar_local_vm_boot(bar_local_ctx *c, const char *id, json_t *local)
{
	/* barista-local-init bounds sshd's start itself (10 s); this is a backstop. */
	int64_t deadline = bar_local_deadline(c, BOOT_WAIT_MS);
	pid_t child = -1;
	int fd = -1, pid = 0, st, rc;

	if ((rc = boot_spawn(c, &child, &fd, id, local)))
		goto done;
	int64_t t0 = bar_local_now_ms();
	rc = boot_progress(c, &pid, fd, &child, id, deadline);
	c->prov->host->log(c->call, BAR_LOG_DEBUG, "vm %s: init reported in %lld ms", id,
	                   (long long)(bar_local_now_ms() - t0));
	if (pid > 0) {
		/* Recorded even on failure, so the caller's cleanup can stop it. */
		json_object_set_new(local, "pid", json_integer(pid));
		json_object_set_new(local, "starttime",
		                    json_integer((json_int_t)bar_local_proc_starttime(pid)));
	}
	if (rc == 0 && !bar_local_vm_alive(local))
		rc = bar_local_fail(c, BAR_EFAIL, BAR_LOCAL_E_SYSTEM,
		                    "vm %s stopped while booting (see %s/vm/%s/console.log)", id,
		                    c->root, id);
done:
	if (fd >= 0)
		close(fd);
	if (child > 0)
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
	return rc;
}

void bar_local_vm_kill(bar_local_ctx *c, const char *id, json_t *local)
{
	const char *mode = json_string_value(json_object_get(local, "cgroup"));
	int pid = (int)json_integer_value(json_object_get(local, "pid"));
	int saved = c->err.rc;

	if (mode && bar_local_cgroup_frozen(mode, id))
		bar_local_cgroup_freeze(c, mode, id, 0); /* a frozen VM cannot stop */
	c->err.rc = saved;
	if (bar_local_vm_alive(local)) {
		int64_t until = bar_local_now_ms() + STOP_GRACE_MS;

		kill(pid, SIGTERM);
		for (int ms = 1; bar_local_vm_alive(local) && bar_local_now_ms() < until;
		     ms = ms < 20 ? ms * 2 : 20)
			bar_local_sleep_ms(ms);
		if (bar_local_vm_alive(local))
			kill(pid, SIGKILL);
	}
	/* Whatever is left (or a VM we know only by id) goes by its cgroups. */
	bar_local_cgroup_killall(id);
	for (int ms = 1, waited = 0; bar_local_vm_alive(local) && waited < STOP_GRACE_MS;
	     waited += ms, ms = ms < 20 ? ms * 2 : 20)
		bar_local_sleep_ms(ms);
}
