/*
 * ssh_broker.c - `barista ssh-broker SOCKET STATE IDLE_MS`: the session
 * broker process that `exec` and `cp` start on first use (not meant to be
 * run by hand; see docs/remote.md).  It only parses its arguments and runs
 * the library's broker, which reports readiness on fd 3.
 */
#include "cmd.h"
#include "sshmux.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_ssh_broker(int argc, char **argv)
{
	int idle_ms = argc == 3 ? atoi(argv[2]) : 0;

	if (argc != 3 || idle_ms <= 0) {
		fprintf(stderr, "usage: barista ssh-broker SOCKET STATE IDLE_MS (started by exec "
		                "and cp)\n");
		return 1;
	}
	return bar_sshmux_broker_main(argv[0], argv[1], idle_ms, 3) == 0 ? 0 : 1;
}
