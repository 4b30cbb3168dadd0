/*
 * init.c - a minimal init for containers (ctr.h, bar_ctr_init_main): pid 1
 * of a container ignores every signal it has no handler for, so an app that
 * does not trap SIGTERM would never stop on runc's forwarded SIGTERM.  With
 * bar_ctr_spec.init_path set, bar_ctr_prepare binds that static binary (the
 * agent itself) at /.barista-init and runs the app under it; this is its
 * main: start the app, pass it every signal, reap every child (orphans
 * reparent to pid 1), and exit with the app's status.  Like Docker's
 * `--init` (tini), without the options.
 */
#include "ctr.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bar_ctr_init_main(int argc, char **argv)
{
	sigset_t all, old;
	pid_t child;
	char **cmd = argv + 1;
	int status = 0;

	if (argc > 1 && !strcmp(argv[1], "--"))
		cmd++;
	if (!*cmd) {
		/* a program's main: the one place in this library that prints */
		fprintf(stderr, "barista-init: no command\n");
		return 127;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "barista-init: fork: %s\n", strerror(errno));
		return 127;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "barista-init: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		for (;;) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG);
			if (w <= 0)
				break;
			if (w == child) {
				status = st;
				/* the pid namespace goes with us: the app's leftovers too */
				return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			}
		}
	}
}
