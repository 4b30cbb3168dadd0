/*
 * fuzz_promql.c - libFuzzer target of the collector's PromQL subset
 * (monitor/promql.c), which reads the query strings of /api/v1/query_range,
 * /api/v1/query and /v1/select.  Whatever the input, the parser answers 0
 * with a result whose matchers and labels are well-formed strings, or -1
 * with a message; it never reads outside the input.
 */
#include "promql.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), why[256];
	bar_promql q;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	why[0] = '\0';
	if (bar_promql_parse(&q, text, why, sizeof(why)) == 0) {
		if (q.nm > BAR_PROMQL_MAX_MATCHERS || q.nby > BAR_PROMQL_MAX_BY)
			abort();
		for (size_t i = 0; i < q.nm; i++)
			if (!q.m[i].name || !q.m[i].value || strlen(q.m[i].value) > size ||
			    (strcmp(q.m[i].name, "__name__") && strlen(q.m[i].name) > size) ||
			    q.m[i].op < BAR_TSDB_EQ || q.m[i].op > BAR_TSDB_NRE)
				abort();
		for (size_t i = 0; i < q.nby; i++)
			if (!q.by[i] || strlen(q.by[i]) > size)
				abort();
		bar_promql_free(&q);
	} else if (!why[0]) {
		abort(); /* a refusal always says why */
	}
	free(text);
	return 0;
}
