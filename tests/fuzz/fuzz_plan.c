/*
 * fuzz_plan.c - libFuzzer target: a saved plan file (JSON) through
 * bar_plan_from_json, then rendering and re-serialising whatever it accepted.
 */
#include "planner.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	bar_plan *p = NULL;

	if (j && bar_plan_from_json(&p, j) == 0) {
		bar_buf b = BAR_BUF_INIT(0);
		json_t *again = bar_plan_to_json(p);

		bar_plan_render(p, 0, &b);
		bar_buf_free(&b);
		json_decref(again);
		bar_plan_free(p);
	}
	json_decref(j);
	return 0;
}
