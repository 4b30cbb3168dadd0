/*
 * version.c - `barista version [-json]`: this program's version and the
 * provider ABI version its plugins must implement.
 */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "Usage: barista version [-json]\n"
    "  Print barista's version and the provider ABI version plugins must implement.\n"
    "  -json                as JSON: {\"version\": \"" BAR_VERSION "\", \"abi\": N}\n";

int cmd_version(int argc, char **argv)
{
	cmd_opts o;

	if (cmd_parse(&o, argc, argv, "json", usage) < 0)
		return 1;
	if (o.positional) {
		fprintf(stderr, "barista: unexpected argument \"%s\"\n%s", o.positional, usage);
		return 1;
	}
	if (o.json) {
		json_t *j = json_pack("{s:s, s:i}", "version", BAR_VERSION, "abi",
		                      BAR_PROVIDER_ABI_VERSION);
		char *s = json_dumps(j, JSON_COMPACT);

		puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("barista %s (provider ABI %d)\n", BAR_VERSION, BAR_PROVIDER_ABI_VERSION);
	}
	return 0;
}
