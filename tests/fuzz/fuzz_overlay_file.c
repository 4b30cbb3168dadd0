/*
 * fuzz_overlay_file.c - libFuzzer target for the agent's overlay file parser
 * (runtime/agent/overlay.c, bar_overlay_check): any bytes must be parsed or
 * refused without a crash, a leak or an unterminated message.
 */
#include "overlay.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];

	why[0] = '\0';
	if (bar_overlay_check((const char *)data, size, why, sizeof(why)) < 0 &&
	    (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL))
		__builtin_trap();
	return 0;
}
