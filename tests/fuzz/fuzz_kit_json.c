/*
 * fuzz_kit_json.c - the provider kit's JSON reader held to jansson on every
 * input: both accept or both refuse, and what both accept reads the same
 * (bar_kit_jjson of the root equals json_loadb's value).  The accessors are
 * walked over the whole tree too, so a wrong `end` shows as a crash or a
 * sanitizer report rather than a silent misread.
 *
 * One deliberate difference: jansson's lexer drops a NUL byte that follows
 * a number ("[1\0]" loads as [1]); the kit refuses every NUL byte, so for
 * an input holding one only the kit's refusal is checked.
 */
#include "kit_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t walk(const bar_kit_jdoc *d, int n, int depth)
{
	size_t seen = 1;

	if (depth > 2100)
		abort();
	(void)bar_kit_jsv(d, n);
	(void)bar_kit_jreal(d, n);
	for (int v = bar_kit_jfirst(d, n); v >= 0; v = bar_kit_jnext(d, n, v)) {
		if (bar_kit_jtype(d, n) == BAR_KIT_JOBJECT && !bar_kit_jkey(d, v))
			abort();
		seen += walk(d, v, depth + 1);
	}
	return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL), *k;
	bar_kit_jdoc *d = NULL;
	char why[128];
	int rc = bar_kit_jparse(&d, (const char *)data, size, why, sizeof(why));

	if (memchr(data, '\0', size)) {
		if (rc == 0)
			abort();
		json_decref(j);
		return 0;
	}
	if ((j != NULL) != (rc == 0))
		abort();
	if (j) {
		k = bar_kit_jjson(d, 0);
		if (!json_equal(j, k))
			abort();
		walk(d, 0, 0);
		json_decref(k);
		json_decref(j);
	}
	bar_kit_jfree(d);
	return 0;
}
