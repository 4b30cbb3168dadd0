/*
 * promql.h - the part of PromQL a collector answers (so Grafana can use it
 * as a Prometheus data source): an instant-vector selector
 *     name{label="v", label!="v", label=~"re", label!~"re"}
 * optionally inside one aggregation
 *     sum|avg|min|max|count [by|without (l, ...)] ( selector ) [by|without (l, ...)]
 * Anything else is refused with a message saying what is supported.
 * Outside input (an HTTP query string): fuzzed by tests/fuzz/fuzz_promql.c.
 */
#ifndef BAR_MONITOR_PROMQL_H
#define BAR_MONITOR_PROMQL_H

#include "tsdb.h"

#include <stddef.h>

enum { BAR_PROMQL_NONE = -1, BAR_PROMQL_SUM, BAR_PROMQL_AVG, BAR_PROMQL_MIN, BAR_PROMQL_MAX,
       BAR_PROMQL_COUNT };

#define BAR_PROMQL_MAX_MATCHERS 32
#define BAR_PROMQL_MAX_BY 32

typedef struct bar_promql {
	int agg;                 /* BAR_PROMQL_NONE or an aggregation */
	int without;             /* the by-list is a without-list */
	char *by[BAR_PROMQL_MAX_BY];
	size_t nby;
	bar_tsdb_matcher m[BAR_PROMQL_MAX_MATCHERS]; /* the metric name is __name__ = */
	size_t nm;
	char *mem_;              /* private */
} bar_promql;

/* Parse text.  0 with *out (free with bar_promql_free), or -1 with
 * why[wsize] ("at 14: expected '}' or ','"). */
int bar_promql_parse(bar_promql *out, const char *text, char *why, size_t wsize);
void bar_promql_free(bar_promql *q);

#endif
