/*
 * fuzz_agent_config.c - barista-agent's config parser (monitor/agent_config.c)
 * on arbitrary bytes: it accepts them or refuses with "FILE:LINE: ..." and
 * never reads past the input; the token is never in a message; what it
 * accepts holds to the config's bounds (intervals, collectors, strings
 * NUL-terminated within their fields).
 */
#include "agent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bar_agent_config c;
	char why[600], *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size); /* exactly size bytes: ASan sees an over-read */
	why[0] = '\0';
	if (bar_agent_config_parse(&c, copy, size, "f.conf", why, sizeof(why)) < 0) {
		if (strncmp(why, "f.conf:", 7) != 0)
			abort();
	} else {
		if (c.version != 1 || c.ncollectors > BAR_AGENT_MAX_COLLECTORS ||
		    c.collect_interval_ms < 100 || c.push_interval_ms < 100 ||
		    memchr(c.token, '\0', sizeof(c.token)) == NULL ||
		    memchr(c.state_dir, '\0', sizeof(c.state_dir)) == NULL || !c.state_dir[0])
			abort();
		for (size_t i = 0; i < c.ncollectors; i++)
			if (strncmp(c.collectors[i], "http://", 7) != 0)
				abort();
		/* a parse error later in the same text is that line's fixed message,
		 * which carries nothing of the token */
		if (c.token[0]) {
			char *bad = malloc(size + 8);
			if (bad) {
				memcpy(bad, copy, size);
				memcpy(bad + size, "\nzzz=1\n", 7);
				if (bar_agent_config_parse(&c, bad, size + 7, "f.conf", why, sizeof(why)) ==
				        0 ||
				    !strstr(why, ": unknown key \"zzz\": use version"))
					abort();
				free(bad);
			}
		}
		bar_agent_config_clear(&c);
	}
	free(copy);
	return 0;
}
