/*
 * barista-agent - the monitoring agent (docs/monitoring.md, "The agent").
 * This file parses flags, daemonises, owns the log file and the pidfile
 * and handles signals; the agent itself is monitor/agent*.c.
 *
 *   barista-agent [-config FILE] [-daemon]      run (foreground by default)
 *   barista-agent -once [-format prom|json] [-config FILE]
 *   barista-agent -version | -h
 *
 * Exit codes: 0 done, 1 a runtime failure, 2 bad usage or config.
 */
#include "agent.h"
#include "apps.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX (1 << 20) /* agent.log rotates to agent.log.1 beyond this */

static const char usage[] =
    "usage: barista-agent [-config FILE] [-daemon]\n"
    "       barista-agent -once [-format prom|json] [-config FILE]\n"
    "       barista-agent -wait-apps SOURCE -generation G [-timeout-ms T] -status FILE\n"
    "       barista-agent -version\n"
    "\n"
    "Collects the VM's metrics from /proc and /sys, pushes them to the\n"
    "collectors of its config (remote-write) and serves them for pull; runs\n"
    "the MCApp apps of the manifests its config names (apps=).\n"
    "  -config FILE   the config (default /etc/barista/agent.conf)\n"
    "  -daemon        detach; log to <state_dir>/agent.log, pid in\n"
    "                 <state_dir>/agent.pid\n"
    "  -once          print one sample (two reads 1 s apart) and exit\n"
    "  -format F      for -once: prom (text format 0.0.4, default) or json\n"
    "  -wait-apps S   wait until the apps of manifest S (apps.d/S.conf) at\n"
    "                 generation G are healthy, reading the running agent's\n"
    "                 status FILE; exit 0, or 1 (an app cannot start) or 3\n"
    "                 (timed out, default 120000 ms) with the reason\n"
    "  -version       print the version\n"
    "Signals: SIGTERM stops (unsent data kept in the spool), SIGHUP reloads.\n";

static volatile sig_atomic_t got_term, got_hup;

static void on_child(int sig)
{
	(void)sig;
}

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	errno = saved;
}

typedef struct logger {
	char path[700];
	int daemon;
} logger;

/* A line to stderr (agent.log when daemonised), rotated at LOG_MAX. */
static void log_line(void *ctx, const char *msg)
{
	logger *lg = ctx;
	struct stat st;
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;

	if (lg->daemon && fstat(2, &st) == 0 && st.st_size > LOG_MAX) {
		char old[720];
		int fd;
		snprintf(old, sizeof(old), "%s.1", lg->path);
		rename(lg->path, old);
		fd = open(lg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s barista-agent: %s\n", stamp, msg);
	fflush(stderr);
}

typedef struct ready_ctx {
	char pidfile[700];
	int written;
	int supervised; /* the pidfile names the supervisor, which removes it */
} ready_ctx;

/* Written once the agent listens and its spool is open: the installer
 * waits for a non-empty pidfile.  Written to a temporary name first so
 * nobody reads half a pid. */
static void write_pidfile(void *ctx)
{
	ready_ctx *r = ctx;
	char tmp[720], line[32];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", r->pidfile);
	n = snprintf(line, sizeof(line), "%ld\n", (long)(r->supervised ? getppid() : getpid()));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) == n && fsync(fd) == 0 && rename(tmp, r->pidfile) == 0)
		r->written = 1;
	close(fd);
}

/* Double fork, setsid, stdin from /dev/null, stdout and stderr to the log. */
static int daemonise(const char *logpath)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	umask(077);
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(fd, 0) < 0)
		return -1;
	close(fd);
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0 ||
	    dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return -1;
	close(fd);
	return 0;
}

/* ---- supervision (-daemon): the pidfile's process restarts its worker ---- */

static volatile sig_atomic_t sup_sig;

static void on_sup_signal(int sig)
{
	sup_sig = sig;
}

/*
 * -daemon's supervisor, what systemd's Restart= is on a VM without systemd
 * (local VMs): fork the worker and wait; a worker that dies (a crash, a
 * kill -9, the OOM killer) is started again after 1 s, doubling to 30 s
 * while it keeps dying within a minute.  SIGTERM, SIGINT and SIGHUP are
 * passed to the worker; after SIGTERM or SIGINT the supervisor exits with
 * it and removes the pidfile, which holds the supervisor's pid (so the
 * installer's `kill $(cat agent.pid)` stops the agent for good).  A worker
 * that exits 2 (its config is wrong) is not restarted.  Returns 0 in the
 * worker; never returns in the supervisor.
 */
static int supervise(const char *pidfile, logger *lg)
{
	struct sigaction sa;
	int backoff = 1, stopping = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sup_signal; /* no SA_RESTART: waitpid returns on a signal */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	for (;;) {
		time_t began = time(NULL);
		pid_t pid = fork();
		int st = 0;
		char msg[200];

		if (pid == 0)
			return 0;
		if (pid < 0) {
			log_line(lg, "supervisor: cannot fork the worker; trying again in 5 s");
			sleep(5);
			continue;
		}
		while (waitpid(pid, &st, 0) < 0) {
			if (errno != EINTR)
				break;
			if (sup_sig) {
				if (sup_sig != SIGHUP)
					stopping = 1;
				kill(pid, sup_sig);
				sup_sig = 0;
			}
		}
		if (stopping || (WIFEXITED(st) && WEXITSTATUS(st) == 2)) {
			unlink(pidfile);
			_exit(stopping ? 0 : 2);
		}
		if (time(NULL) - began > 60)
			backoff = 1;
		if (WIFSIGNALED(st))
			snprintf(msg, sizeof(msg), "supervisor: the worker was killed by signal %d; "
			         "starting it again in %d s", WTERMSIG(st), backoff);
		else
			snprintf(msg, sizeof(msg), "supervisor: the worker exited %d; starting it "
			         "again in %d s", WEXITSTATUS(st), backoff);
		log_line(lg, msg);
		for (int i = 0; i < backoff * 10 && !sup_sig; i++)
			usleep(100000);
		if (sup_sig && sup_sig != SIGHUP) {
			unlink(pidfile);
			_exit(0);
		}
		sup_sig = 0;
		backoff = backoff * 2 > 30 ? 30 : backoff * 2;
	}
}

static int run_once(const bar_agent_config *c, int json)
{
	bar_agent_probe *p = bar_agent_probe_new();
	bar_agent_sample s = {0};
	bar_mbuf out = {.max = 16u << 20};
	struct timespec ts, sl = {.tv_sec = 1};
	int rc = 1;

	if (!p)
		goto done;
	/* rates and CPU shares need two reads */
	clock_gettime(CLOCK_REALTIME, &ts);
	if (bar_agent_collect(&s, p, c, NULL, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) < 0)
		goto done;
	nanosleep(&sl, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (bar_agent_collect(&s, p, c, NULL, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) < 0)
		goto done;
	if ((json ? bar_agent_sample_json(&out, &s) : bar_agent_sample_prom(&out, &s, 0)) < 0)
		goto done;
	if (fwrite(out.p, 1, out.len, stdout) != out.len || fflush(stdout) != 0)
		goto done;
	rc = 0;
done:
	if (rc)
		fprintf(stderr, "barista-agent: -once: out of memory or cannot write\n");
	bar_mbuf_free(&out);
	bar_agent_sample_clear(&s);
	bar_agent_probe_free(p);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = "/etc/barista/agent.conf", *format = "prom";
	const char *wait_source = NULL, *wait_status = NULL;
	long wait_gen = -1, wait_ms = 120000;
	int daemon_mode = 0, once = 0, config_given = 0, rc = 1;
	bar_agent_config c;
	bar_agent_run_opts o = BAR_AGENT_RUN_OPTS_INIT;
	logger lg = {0};
	ready_ctx rd = {0};
	char why[600];
	struct sigaction sa;
	sigset_t block;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-')
			a++; /* --flag as -flag */
		if (!strcmp(a, "-config") && i + 1 < argc) {
			config = argv[++i];
			config_given = 1;
		} else if (!strcmp(a, "-format") && i + 1 < argc) {
			format = argv[++i];
		} else if (!strcmp(a, "-daemon")) {
			daemon_mode = 1;
		} else if (!strcmp(a, "-once")) {
			once = 1;
		} else if (!strcmp(a, "-wait-apps") && i + 1 < argc) {
			wait_source = argv[++i];
		} else if (!strcmp(a, "-generation") && i + 1 < argc) {
			wait_gen = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(a, "-timeout-ms") && i + 1 < argc) {
			wait_ms = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(a, "-status") && i + 1 < argc) {
			wait_status = argv[++i];
		} else if (!strcmp(a, "-version")) {
			printf("barista-agent %s\n", BAR_VERSION);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "-help")) {
			fputs(usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "barista-agent: unknown or incomplete flag %s\n%s", argv[i], usage);
			return 2;
		}
	}
	if (wait_source) {
		int w;
		if (!wait_status || wait_gen < 0 || wait_ms <= 0) {
			fprintf(stderr, "barista-agent: -wait-apps needs -generation G (0 or more), "
			        "-status FILE and a positive -timeout-ms\n");
			return 2;
		}
		w = bar_apps_wait(wait_status, wait_source, wait_gen, wait_ms, why, sizeof(why));
		if (w < 0)
			printf("%s\n", why);
		return w == 0 ? 0 : w == -1 ? 1 : 3;
	}
	if (strcmp(format, "prom") && strcmp(format, "json")) {
		fprintf(stderr, "barista-agent: -format %s: use prom or json\n", format);
		return 2;
	}
	if (once && daemon_mode) {
		fprintf(stderr, "barista-agent: -once and -daemon do not go together\n");
		return 2;
	}
	if (once && !config_given && access(config, R_OK) != 0) {
		/* -once without a config: no ns/mci/vm labels, every group */
		bar_agent_config_init(&c);
	} else if (bar_agent_config_load(&c, config, why, sizeof(why)) < 0) {
		fprintf(stderr, "barista-agent: %s\n", why);
		return 2;
	}
	if (once) {
		rc = run_once(&c, !strcmp(format, "json"));
		bar_agent_config_clear(&c);
		return rc;
	}
	if (mkdir(c.state_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "barista-agent: state_dir %s: %s\n", c.state_dir, strerror(errno));
		goto done;
	}
	snprintf(lg.path, sizeof(lg.path), "%s/agent.log", c.state_dir);
	snprintf(rd.pidfile, sizeof(rd.pidfile), "%s/agent.pid", c.state_dir);
	if (daemon_mode) {
		/* the config path must survive chdir("/") */
		static char abs[4096];
		if (config[0] != '/' && realpath(config, abs))
			config = abs;
		if (c.state_dir[0] != '/' && realpath(c.state_dir, abs + 2048))
			snprintf(c.state_dir, sizeof(c.state_dir), "%s", abs + 2048);
		snprintf(lg.path, sizeof(lg.path), "%s/agent.log", c.state_dir);
		snprintf(rd.pidfile, sizeof(rd.pidfile), "%s/agent.pid", c.state_dir);
		if (daemonise(lg.path) < 0) {
			fprintf(stderr, "barista-agent: cannot daemonise: %s\n", strerror(errno));
			goto done;
		}
		lg.daemon = 1;
		supervise(rd.pidfile, &lg);
		rd.supervised = 1;
	}
	/* signals only set flags; the loop sees them through ppoll's mask */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* an app that exits wakes the loop (it reaps in bar_apps_step) */
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	o.config_path = config;
	o.log = log_line;
	o.log_ctx = &lg;
	o.ready = write_pidfile;
	o.ready_ctx = &rd;
	o.stop = &got_term;
	o.reload = &got_hup;
	if (bar_agent_run(&c, &o, why, sizeof(why)) < 0) {
		log_line(&lg, why);
		goto done;
	}
	log_line(&lg, "stopped");
	rc = 0;
done:
	if (rd.written && !rd.supervised)
		unlink(rd.pidfile);
	bar_agent_config_clear(&c);
	return rc;
}
