/*
 * fuzz_credential.c - libFuzzer target for the parser of credential files
 * (core/credential.c: JSON objects and INI profiles), which reads files a
 * user points a Connection at.  The first byte picks the profile asked for.
 */
#include "credential.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const profiles[] = {NULL, "prod", "staging", "default"};
	json_t *out = NULL;

	if (size == 0)
		return 0;
	if (bar_cred_parse_text(&out, (const char *)data + 1, size - 1, profiles[data[0] % 4]) == 0)
		json_decref(out);
	return 0;
}
