/*
 * watch.h - run a test body in a child process under a time limit, so that
 * a hang or a crash still leaves the parent able to clean up after it
 * (servers, namespaces, temporary directories).  Header-only, no
 * dependencies: standalone provider tests include it too.
 */
#ifndef BAR_TEST_WATCH_H
#define BAR_TEST_WATCH_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Run body() in a child; kill it after limit_s seconds.  Returns 0 when it
 * exited with status 0, 1 otherwise (saying why on stderr). */
static inline int test_run_watched(int (*body)(void), int limit_s)
{
	struct timespec t0, now;
	int status = 0;
	pid_t child;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fflush(NULL);
	child = fork();
	if (child == 0)
		exit(body()); /* exit, not _exit: LeakSanitizer runs at exit */
	while (child > 0 && waitpid(child, &status, WNOHANG) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > limit_s) {
			fprintf(stderr, "FAIL: tests still running after %d s\n", limit_s);
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			return 1;
		}
		usleep(20000);
	}
	if (child < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (child > 0 && WIFSIGNALED(status))
			fprintf(stderr, "FAIL: test process killed by signal %d\n", WTERMSIG(status));
		return 1;
	}
	return 0;
}

#endif
